"""Hashed floats hash PostgreSQL's own text of them: the job's text against the server's, value by value."""
from __future__ import annotations

import math
import random
import struct

import pytest

from conftest import PgServer
from lakesync_glue.pgtext import pg_float_text


def _sample(single: bool, count: int) -> list[float]:
    """Random bit patterns, whole numbers (where shortest digits often fall on a rounding bound) and powers of two."""
    rng = random.Random(20261204)
    width = "f" if single else "d"
    out: list[float] = []
    while len(out) < count:
        kind = len(out) % 3
        if kind == 0:
            bits = rng.getrandbits(32 if single else 64)
            value = struct.unpack(width, struct.pack("I" if single else "Q", bits))[0]
        elif kind == 1:
            value = float(rng.randrange(10 ** (9 if single else 17)))
        else:
            value = math.ldexp(1.0, rng.randrange(-149, 128) if single else rng.randrange(-1074, 1024))
        if single:
            value = struct.unpack("f", struct.pack("f", value))[0] if abs(value) < 3.5e38 else math.nan
        if math.isfinite(value):
            out.append(value)
    return out


@pytest.mark.parametrize("type_name, digits", [("float8", 15), ("float4", 6)])
def test_the_text_of_every_float_is_postgresqls(postgres: PgServer, type_name: str, digits: int) -> None:
    values = _sample(type_name == "float4", 2_500)
    literal = ",".join(repr(v) for v in values)  # repr reads back as the same double, so as the same float4
    rows = postgres.sql(f"SELECT (x::{type_name})::text FROM unnest('{{{literal}}}'::float8[]) WITH ORDINALITY u(x, n) ORDER BY n")
    server = [r[0] for r in rows]
    assert len(server) == len(values)
    wrong = [(v, s, pg_float_text(v, digits)) for v, s in zip(values, server) if pg_float_text(v, digits) != s]
    assert not wrong, f"{len(wrong)} of {len(values)} differ (value, PostgreSQL, job): {wrong[:5]}"
