"""The incremental window: lookback syntax, its fit to the cursor's type, and the lower bound it gives."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from conftest import make_args
from lakesync_glue.errors import InvalidArgument
from lakesync_glue.window import Lookback, check_lookback, default_lookback, lower_bound, parse_lookback, pinned_warning


def test_lookback_syntax() -> None:
    assert parse_lookback("15m") == Lookback("15m", seconds=900)
    assert parse_lookback(" 2h ") == Lookback("2h", seconds=7200)
    assert parse_lookback("1d").seconds == 86400
    assert parse_lookback("90s").seconds == 90
    assert parse_lookback("1000") == Lookback("1000", units=Decimal(1000))
    assert parse_lookback("0.5").units == Decimal("0.5")
    assert parse_lookback("0").is_zero and parse_lookback("0m").is_zero
    for bad in ("1 h", "1H", "-5", "1w", "h", "1e3", "3651d", ""):
        with pytest.raises(InvalidArgument, match=r"--cursor_lookback .*duration such as 15m"):
            parse_lookback(bad)


def test_the_job_parses_the_lookback_only_with_a_cursor(tmp_path: Any) -> None:
    def args(**options: str) -> Any:
        return make_args("/exports/e1", "shop.public.events", "events", str(tmp_path / "r.json"), str(tmp_path),
                         "incremental", **options)

    assert args(cursor_column="at", cursor_lookback="15m").cursor_lookback == Lookback("15m", seconds=900)
    assert args(cursor_column="at").cursor_lookback is None  # the default for the cursor's type
    assert make_args("/exports/e1", "shop.public.events", "events", str(tmp_path / "r.json"), str(tmp_path),
                     "replace", cursor_lookback="15m").cursor_lookback is None
    with pytest.raises(InvalidArgument, match=r"--cursor_lookback '15 minutes': is not a lookback"):
        args(cursor_column="at", cursor_lookback="15 minutes")


def test_defaults_and_type_checks() -> None:
    assert default_lookback("timestamp") == Lookback("1h", seconds=3600)
    assert default_lookback("date").seconds == 3600
    assert default_lookback("bigint").is_zero and default_lookback("string").is_zero
    check_lookback(parse_lookback("2h"), "at", "timestamp_ntz", "shop.public.t")
    check_lookback(parse_lookback("500"), "seq", "bigint", "shop.public.t")
    check_lookback(parse_lookback("0"), "code", "string", "shop.public.t")
    with pytest.raises(InvalidArgument, match=r"'seq' is bigint, so its lookback is a number of cursor units; pass e\.g\. 1000"):
        check_lookback(parse_lookback("1h"), "seq", "bigint", "shop.public.t")
    with pytest.raises(InvalidArgument, match=r"'at' is timestamp, so its lookback is a duration; pass e\.g\. 1h"):
        check_lookback(parse_lookback("60"), "at", "timestamp", "shop.public.t")
    with pytest.raises(InvalidArgument, match=r"'code' is string, which has no distance to look back by; pass 0"):
        check_lookback(parse_lookback("5"), "code", "string", "shop.public.t")


def test_lower_bounds_round_down_and_keep_ties() -> None:
    assert lower_bound("bigint", "20", parse_lookback("0")) == "CAST('20' AS DECIMAL(38,0))"
    assert lower_bound("bigint", "20", parse_lookback("2.5")) == "CAST('17' AS DECIMAL(38,0))"
    assert lower_bound("decimal(10,2)", "5.00", parse_lookback("0.125")) == "CAST('4.87' AS decimal(10,2))"
    assert lower_bound("decimal(4,2)", "-99.00", parse_lookback("5")) is None  # below the type: no bound
    assert lower_bound("double", "NaN", parse_lookback("0")) is None
    assert lower_bound("timestamp", "2024-05-01T10:00:00.000000Z", parse_lookback("90m")) == (
        "CAST('2024-05-01T10:00:00.000000Z' AS timestamp) - INTERVAL '0 01:30:00' DAY TO SECOND")
    assert lower_bound("date", "2024-05-01", parse_lookback("1h")) == "date_sub(CAST('2024-05-01' AS date), 1)"
    assert lower_bound("string", "it's", parse_lookback("0")) == "CAST('it\\'s' AS string)"


def test_lower_bounds_evaluate_in_spark(spark: Any) -> None:
    cases = [
        ("timestamp", "2024-05-01T10:00:00.000000Z", "1h", "2024-05-01 09:00:00"),
        ("timestamp_ntz", "2024-05-01T10:00:00.000000", "1d", "2024-04-30 10:00:00"),
        ("timestamp_ntz", "2024-05-01T10:00:00.000000", "0", "2024-05-01 10:00:00"),
        ("date", "2024-05-01", "25h", "2024-04-29"),
        ("bigint", "9223372036854775807", "10", "9223372036854775797"),
        ("decimal(38,10)", "1.5000000000", "0.25", "1.2500000000"),
        ("float", "1.100000023841858", "0", "1.100000023841858"),
    ]
    for type_, lake_max, lookback, expected in cases:
        bound = lower_bound(type_, lake_max, parse_lookback(lookback))
        assert bound is not None
        value = spark.sql(f"SELECT CAST({bound} AS STRING) AS v").collect()[0][0]
        assert value == expected, (type_, lookback, bound)
    # The float max keeps its tie: the lake value itself is not below the bound.
    bound = lower_bound("float", repr(float(spark.sql("SELECT CAST(1.1 AS FLOAT) AS f").collect()[0][0])), parse_lookback("0"))
    assert spark.sql(f"SELECT CAST(1.1 AS FLOAT) >= {bound} AS ok").collect()[0][0] is True


def test_a_binary_cursor_bound_is_the_lake_max_itself(spark: Any) -> None:
    """The lake's max of a binary (bytea) column arrives as base64: the bound is those bytes, not the base64 text's."""
    bound = lower_bound("binary", "AP8=", parse_lookback("0"))  # bytes 00 ff
    assert bound is not None
    row = spark.sql(f"SELECT hex({bound}) AS h, X'00FF' >= {bound} AS tie, X'0100' >= {bound} AS above").collect()[0]
    assert (row["h"], row["tie"], row["above"]) == ("00FF", True, True)


def test_a_date_or_timestamp_max_after_tomorrow_is_a_pinned_window() -> None:
    today = date(2026, 12, 3)
    for lake_type, lake_max in (("timestamp", "9999-12-31T23:59:59.999999Z"), ("timestamp_ntz", "2026-12-05T00:00:00"),
                                ("date", "2030-01-01")):
        warning = pinned_warning(lake_type, "at", lake_max, today)
        assert warning is not None and lake_max in warning and "extract: export" in warning, lake_type
    # A year past 9999 (a typo such as 20240-05-01, which PostgreSQL accepts) pins the window just the same:
    # the lake's max is then written with the year's sign, as Spark prints it.
    for lake_type, lake_max in (("date", "+20240-05-01"), ("timestamp_ntz", "+10000-01-01T00:00:00.000000"),
                                ("timestamp", "+10000-01-01T00:00:00.000000Z")):
        warning = pinned_warning(lake_type, "at", lake_max, today)
        assert warning is not None and lake_max in warning, lake_type
    # Today and tomorrow (a time zone ahead of UTC) are not pinned; neither is any numeric or text cursor.
    for lake_type, lake_max in (("timestamp", "2026-12-04T23:59:59.000000Z"), ("date", "2026-12-03"),
                                ("bigint", "99999999999"), ("string", "9999-12-31"), ("timestamp", "not a time")):
        assert pinned_warning(lake_type, "at", lake_max, today) is None, (lake_type, lake_max)
