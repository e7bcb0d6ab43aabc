"""The window of an incremental load: which source rows are read again, by cursor.

An incremental load reads the rows whose cursor is at or above `max(cursor) - lookback` of the
lake table, then drops the ones the lake already holds. The lookback is a duration for date and
timestamp cursors (`15m`, `2h`, `1d`) and a number of cursor units for numeric ones (`1000`);
`0` suits every type and still reads the rows that tie with the lake's max. Pure: no Spark.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext

from .errors import InvalidArgument
from .names import sql_string

DURATION = re.compile(r"(\d{1,7})([smhd])")
NUMBER = re.compile(r"\d{1,18}(\.\d{1,18})?")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SECONDS = 3650 * 86400  # ten years: far beyond any late commit, far from overflowing a timestamp

TEMPORAL_TYPES = ("timestamp", "timestamp_ntz", "date")
INTEGRAL_TYPES = ("tinyint", "smallint", "int", "bigint")
FLOAT_TYPES = ("float", "double")
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")

FIX = "pass a duration such as 15m, 2h or 1d for a date or timestamp cursor, or a number of cursor units such as 1000 for a numeric one"


@dataclass(frozen=True)
class Lookback:
    """How far below the lake's max(cursor) a load reads again: a duration or a number of units."""

    text: str
    seconds: int | None = None
    units: Decimal | None = None

    @property
    def is_zero(self) -> bool:
        return (self.seconds or 0) == 0 and (self.units or Decimal(0)) == 0


def parse_lookback(raw: str, name: str = "cursor_lookback") -> Lookback:
    """`15m` / `2h` / `1d` / `90s`, or a non-negative number such as `1000` or `0.5`."""
    text = raw.strip()
    duration = DURATION.fullmatch(text)
    if duration:
        seconds = int(duration.group(1)) * UNIT_SECONDS[duration.group(2)]
        if seconds > MAX_SECONDS:
            raise InvalidArgument(f"--{name} {raw!r}: is longer than 3650d; {FIX}")
        return Lookback(text, seconds=seconds)
    if NUMBER.fullmatch(text):
        return Lookback(text, units=Decimal(text))
    raise InvalidArgument(f"--{name} {raw!r}: is not a lookback; {FIX}")


def kind(cursor_type: str) -> str:
    """'temporal', 'numeric' or 'other' for a Spark SQL type name."""
    if cursor_type in TEMPORAL_TYPES:
        return "temporal"
    if cursor_type in INTEGRAL_TYPES or cursor_type in FLOAT_TYPES or _DECIMAL.fullmatch(cursor_type):
        return "numeric"
    return "other"


def default_lookback(cursor_type: str) -> Lookback:
    """1 hour for date and timestamp cursors (transactions that commit up to an hour after
    taking their cursor value are caught), 0 otherwise (ties and replays; no unit is safe to guess)."""
    return Lookback("1h", seconds=3600) if kind(cursor_type) == "temporal" else Lookback("0", units=Decimal(0))


def check_lookback(lookback: Lookback, cursor: str, cursor_type: str, table: str) -> None:
    """A duration needs a date or timestamp cursor, a positive number a numeric one; 0 fits every type."""
    if lookback.is_zero:
        return
    k = kind(cursor_type)
    if k == "temporal" and lookback.seconds is None:
        raise InvalidArgument(
            f"--cursor_lookback {lookback.text!r}: table {table}'s cursor column {cursor!r} is {cursor_type}, "
            "so its lookback is a duration; pass e.g. 1h, 15m or 1d"
        )
    if k == "numeric" and lookback.units is None:
        raise InvalidArgument(
            f"--cursor_lookback {lookback.text!r}: table {table}'s cursor column {cursor!r} is {cursor_type}, "
            "so its lookback is a number of cursor units; pass e.g. 1000, or 0"
        )
    if k == "other":
        raise InvalidArgument(
            f"--cursor_lookback {lookback.text!r}: table {table}'s cursor column {cursor!r} is {cursor_type}, "
            "which has no distance to look back by; pass 0 (rows that tie with the lake's max are still read)"
        )


def _interval(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{secs:02d}' DAY TO SECOND"


def lower_bound(cursor_type: str, lake_max: str, lookback: Lookback) -> str | None:
    """SQL of the lowest cursor value the load reads (inclusive), from the lake's max as text.

    None means no bound: every row with a cursor is read (the bound would leave the type's range,
    or the max is not a number). Rounding always goes down, so a row is never left out by it.
    """
    k = kind(cursor_type)
    if k == "temporal":
        seconds = lookback.seconds or 0
        top = f"CAST({sql_string(lake_max)} AS {cursor_type})"
        if cursor_type == "date":
            # A date is read from the day the lookback reaches into (1h before a day is the day before).
            return f"date_sub({top}, {math.ceil(seconds / 86400)})" if seconds else top
        return f"{top} - {_interval(seconds)}" if seconds else top
    if k == "numeric":
        units = lookback.units or Decimal(0)
        if cursor_type in FLOAT_TYPES:
            top_float = float(lake_max)
            if not math.isfinite(top_float):
                return None
            # The max as Python reads it is the exact double of the lake value, so 0 keeps the ties.
            return f"CAST({sql_string(repr(top_float - float(units)))} AS DOUBLE)"
        with localcontext() as ctx:
            ctx.prec = 80
            try:
                bound = Decimal(lake_max) - units
            except InvalidOperation:
                return None
            decimal = _DECIMAL.fullmatch(cursor_type)
            precision, scale = (int(decimal.group(1)), int(decimal.group(2))) if decimal else (38, 0)
            bound = bound.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_FLOOR)
            limit = Decimal(10) ** (precision - scale)
            if bound <= -limit:
                return None
            if cursor_type in INTEGRAL_TYPES:
                return f"CAST({sql_string(format(bound, 'f'))} AS DECIMAL(38,0))"
            return f"CAST({sql_string(format(bound, 'f'))} AS {cursor_type})"
    if cursor_type == "binary":
        return f"unbase64({sql_string(lake_max)})"  # the lake's max of a binary column is given as base64
    return f"CAST({sql_string(lake_max)} AS {cursor_type})"


DIRECT_REMEDY = "load the table once from an export (extract: export)"
EXPORT_REMEDY = "load the table once with merge or replace (action: merge, or replace without a key)"


def pinned_warning(cursor_type: str, cursor: str, lake_max: str, today: date,
                   remedy: str = DIRECT_REMEDY) -> str | None:
    """A warning when a date or timestamp cursor's lake max lies after tomorrow (an 'infinity' loads as
    the type's largest value): every window then starts there, so rows that arrive later with a real
    cursor value are never read. A day's margin leaves every time zone's today alone. `remedy`: the
    load that brings the lake back to the source (its words end the warning)."""
    if kind(cursor_type) != "temporal":
        return None
    found = re.match(r"\+?(\d{4,})-(\d{2})-(\d{2})", lake_max)
    if found is None:
        return None
    # A year past 9999 (Spark prints it with its sign, +20240-05-01) is after tomorrow, though Python has no date for it.
    if int(found.group(1)) <= 9999:
        try:
            day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError:
            return None
        if day <= today + timedelta(days=1):
            return None
    return (f"cursor column {cursor!r}: the lake's max is {lake_max}, after today, so every window starts "
            "there and rows added or changed later with an earlier cursor value are not read; correct those "
            "source rows' cursor values (an 'infinity' loads as the type's largest value), then "
            f"{remedy} so the lake follows the source")
