"""What the job's Python UDFs run on the executors: standard library only, shipped by value.

Executors need not import lakesync_glue (local Spark starts plain Python workers): the
functions used in UDFs live in modules registered with cloudpickle to travel by value.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import struct
from fractions import Fraction


def shipped_by_value() -> None:
    """Makes the UDF modules travel inside the pickled functions (idempotent)."""
    from pyspark import cloudpickle

    from . import pgarrays, pgtext

    for module in (pgarrays, pgtext):
        cloudpickle.register_pickle_by_value(module)


def hmac_hex(key: bytes, text: str) -> str:
    """Lowercase hex HMAC-SHA256 of the UTF-8 text."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def pg_float_text(value: float, digits: int) -> str:
    """PostgreSQL's float output (12+): its shortest digits (see _shortest); exponent form below 1e-4 and from 1e<digits>."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    figures, exponent = _shortest(abs(value), single=digits == 6)
    if -4 <= exponent < digits:  # the thresholds of PostgreSQL's float4out / float8out
        if exponent >= len(figures) - 1:
            return sign + figures + "0" * (exponent - len(figures) + 1)
        if exponent >= 0:
            return f"{sign}{figures[:exponent + 1]}.{figures[exponent + 1:]}"
        return f"{sign}0.{'0' * (-exponent - 1)}{figures}"
    head = figures[0] + (f".{figures[1:]}" if len(figures) > 1 else "")
    return f"{sign}{head}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _neighbours(value: float, single: bool) -> tuple[float, float | None]:
    """The floats just below and above a positive finite `value`, in its own width (None above the largest)."""
    if single:
        bits = struct.unpack("<I", struct.pack("<f", value))[0]
        below = struct.unpack("<f", struct.pack("<I", bits - 1))[0]
        above = struct.unpack("<f", struct.pack("<I", bits + 1))[0] if bits + 1 < 0x7F800000 else math.inf
    else:
        below, above = math.nextafter(value, 0.0), math.nextafter(value, math.inf)
    return below, (above if math.isfinite(above) else None)


def _shortest(value: float, single: bool) -> tuple[str, int]:
    """The significant figures and decimal exponent PostgreSQL prints for a positive finite float.

    Its Ryu takes the fewest digits that lie strictly inside the float's rounding interval, bounds
    excluded (4.1689008e+07, not 4.168901e+07, although that reads back the same), the one nearest
    the float among them. Tested in exact integers, so no double rounding enters a float4's test.
    """
    below, above = _neighbours(value, single)
    # Every number as an integer over one power of two: 2 * candidate must lie strictly between v + below and v + above.
    (n, d), (nb, db) = value.as_integer_ratio(), below.as_integer_ratio()
    (na, da) = above.as_integer_ratio() if above is not None else (2 * n * db - nb * d, d * db)  # the largest: its mirror
    den = max(d, db, da)
    v = n * (den // d)
    low, high = v + nb * (den // db), v + na * (den // da)

    def inside(figures: int, exponent: int) -> bool:
        twice = 2 * figures * den
        if exponent >= 0:
            twice *= 10**exponent
            return low < twice < high
        scale = 10**-exponent
        return low * scale < twice < high * scale

    # Python's repr is the shortest that reads back, bounds included: none shorter lies inside.
    first = 1 if single else len(repr(value).split("e")[0].replace(".", "").strip("0"))
    for precision in range(max(1, first), 18):
        mantissa, _, exp = f"{value:.{precision - 1}e}".partition("e")
        nearest = int(mantissa.replace(".", ""))
        exponent = int(exp) - precision + 1
        if inside(nearest, exponent):
            best = nearest
        else:
            # Rounded onto a bound: one unit the other way may still lie inside (a power of two's wider side).
            found = [c for c in (nearest - 1, nearest + 1) if inside(c, exponent)]
            if not found:
                continue
            best = min(found, key=lambda c: abs(Fraction(c) * Fraction(10) ** exponent - Fraction(value)))
        figures = str(best)
        return figures.rstrip("0"), exponent + len(figures) - 1
    raise ValueError(f"no decimal inside the rounding interval of {value!r}")
