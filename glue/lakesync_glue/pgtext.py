"""What the job's Python UDFs run on the executors: standard library only, shipped by value.

Executors need not import lakesync_glue (local Spark starts plain Python workers): the
functions used in UDFs live in modules registered with cloudpickle to travel by value.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import struct


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
    """PostgreSQL's float output (12+): shortest round-trip digits; exponent form below 1e-4 and from 1e<digits>."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    shortest = _shortest_float4(value) if digits == 6 else _shortest_float8(value)
    mantissa, _, exp_text = shortest.partition("e")
    exponent = int(exp_text)
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "")
    if -4 <= exponent < digits:  # the thresholds of PostgreSQL's float4out / float8out
        if exponent >= len(figures) - 1:
            return sign + figures + "0" * (exponent - len(figures) + 1)
        if exponent >= 0:
            return f"{sign}{figures[:exponent + 1]}.{figures[exponent + 1:]}"
        return f"{sign}0.{'0' * (-exponent - 1)}{figures}"
    head = figures[0] + (f".{figures[1:]}" if len(figures) > 1 else "")
    return f"{sign}{head}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _as_float4(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _shortest_float4(value: float) -> str:
    """The fewest significant digits that read back as the same 32-bit float, as d.ddde+X."""
    for precision in range(1, 10):
        text = f"{value:.{precision - 1}e}"
        if _as_float4(float(text)) == value:
            return text
    return f"{value:.8e}"


def _shortest_float8(value: float) -> str:
    """The fewest significant digits that read back as the same double, as d.ddde+X."""
    for precision in range(1, 18):
        text = f"{value:.{precision - 1}e}"
        if float(text) == value:
            return text
    return f"{value:.16e}"
