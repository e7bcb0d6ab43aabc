"""The create of a new lake table: values checked, counted and written in one pass, every check and count kept."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader
from exportkit import TableData, col, write_export

ORDERS = [col("id", "bigint"), col("amount", "numeric(8,2)"), col("at", "timestamptz"), col("day", "date"),
          col("note", "text")]
GOOD = [
    (1, "10.50", "2024-01-01 10:00:00+00", "2024-01-01", "a"),
    (2, "-0.01", "infinity", "-infinity", None),
    (3, None, "2024-07-01 12:00:00.5+05:30", "infinity", "c"),
    (4, "999999.99", "-infinity", "2024-02-29", "d"),
]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> str:
    root: Path = tmp_path_factory.mktemp("create-path")
    tables = [
        TableData("shop", "public", "orders", ORDERS, GOOD, batches=2, parts_per_batch=2),
        TableData("shop", "public", "bad_amount", ORDERS, [*GOOD, (5, "1234567.89", None, None, "e")], batches=2),
        TableData("shop", "public", "dup_keys", ORDERS, [*GOOD, (4, "1.00", None, None, "x"), (None, "2.00", None, None, "y")]),
        # Both a repeated key and a bad value: the value is reported, as by every other load.
        TableData("shop", "public", "dup_and_bad", ORDERS, [*GOOD, (4, "1.00", None, None, "x"), (6, "1e3", None, None, "z")]),
        # A key value that does not cast becomes no NULL key: it is a CastError.
        TableData("shop", "public", "bad_key", [col("code", "numeric(4,0)"), col("note", "text")],
                  [("1", "a"), ("x1", "b"), ("x2", "c")]),
    ]
    return write_export(root, tables, "create-path-export").path


def test_a_create_casts_and_counts_exactly_without_caching_the_export(
    load: Loader, spark: Any, exports: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import DataFrame

    cached: list[str] = []
    original_persist = DataFrame.persist
    monkeypatch.setattr(DataFrame, "persist", lambda self, *a, **k: (cached.append("persist"), original_persist(self, *a, **k))[1])
    monkeypatch.setattr(DataFrame, "cache", lambda self: (cached.append("cache"), original_persist(self))[1])
    result = load(exports, "shop.public.orders", "cp_orders", action="create", primary_key="id")
    assert result.status == "succeeded", result.error
    assert cached == [], "a create reads the export without caching it"
    assert (result.action, result.rowsRead, result.inserted, result.rowCountAfter) == ("create", 4, 4, 4)
    assert result.clampedValues == {"at": 2, "day": 2}
    rows = spark.sql("SELECT id, CAST(amount AS STRING) AS amount, CAST(at AS STRING) AS at, CAST(day AS STRING) AS day "
                     "FROM lake.tests.cp_orders ORDER BY id").collect()
    assert [tuple(r) for r in rows] == [
        (1, "10.50", "2024-01-01 10:00:00", "2024-01-01"),
        (2, "-0.01", "9999-12-31 23:59:59.999999", "0001-01-01"),
        (3, None, "2024-07-01 06:30:00.5", "9999-12-31"),
        (4, "999999.99", "0001-01-01 00:00:00", "2024-02-29"),
    ]


def test_a_bad_value_stops_the_create_with_the_full_cast_error_and_commits_no_table(
    load: Loader, spark: Any, exports: str
) -> None:
    result = load(exports, "shop.public.bad_amount", "bad_amount", action="create", primary_key="id",
                  namespace="fresh_ns", show_values="true")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "CastError", result.error
    assert ("column 'amount' (numeric) has 1 value(s) that cannot become decimal(8,2), e.g. '1234567.89'"
            in result.error["message"])
    assert not spark.catalog.tableExists("lake.fresh_ns.bad_amount")
    assert spark.sql("SHOW TABLES IN lake.fresh_ns").collect() == [], "a create stopped by a bad value commits no table"
    # The files the stopped write left behind belong to no table: the next create of that table is exact.
    again = load(exports, "shop.public.bad_amount", "bad_amount", action="create", primary_key="id",
                 namespace="fresh_ns", column_policies=json.dumps({"amount": {"onInvalid": "null"}}))
    assert again.status == "succeeded", again.error
    assert (again.action, again.rowsRead, again.inserted, again.rowCountAfter) == ("create", 5, 5, 5)
    assert spark.sql("SELECT count(*) FROM lake.fresh_ns.bad_amount").collect()[0][0] == 5


def test_repeated_and_null_keys_fail_a_create_before_any_write(load: Loader, spark: Any, exports: str) -> None:
    result = load(exports, "shop.public.dup_keys", "dup_keys", action="create", primary_key="id", namespace="dup_ns")
    assert result.error is not None and result.error["class"] == "DuplicateKeys", result.error
    message = result.error["message"]
    assert "1 key value(s) appear in more than one row and 1 row(s) have a NULL key column" in message
    assert not spark.catalog.databaseExists("lake.dup_ns"), "nothing is written for a rejected key"


def test_a_bad_value_is_reported_before_a_repeated_key_and_a_bad_key_value_is_a_cast_error(
    load: Loader, spark: Any, exports: str
) -> None:
    both = load(exports, "shop.public.dup_and_bad", "dup_and_bad", action="create", primary_key="id")
    assert both.error is not None and both.error["class"] == "CastError", both.error
    assert "column 'amount' (numeric) has 1 value(s)" in both.error["message"]
    bad_key = load(exports, "shop.public.bad_key", "bad_key", action="create", primary_key="code")
    assert bad_key.error is not None and bad_key.error["class"] == "CastError", bad_key.error
    assert "column 'code' (numeric) has 2 value(s)" in bad_key.error["message"]
    assert not spark.catalog.tableExists("lake.tests.bad_key")


def test_values_set_null_by_policy_are_counted_on_create(load: Loader, spark: Any, exports: str) -> None:
    result = load(exports, "shop.public.bad_amount", "nulled_amount", action="create", primary_key="id",
                  column_policies=json.dumps({"amount": {"onInvalid": "null"}}))
    assert result.status == "succeeded", result.error
    assert (result.rowsRead, result.rowCountAfter, result.nulledValues) == (5, 5, {"amount": 1})
    assert spark.sql("SELECT amount FROM lake.tests.nulled_amount WHERE id = 5").collect()[0][0] is None


NUMBERS = ["0", "-0", "007", "-007.500", "1.0", "10", "100.000", "0.000001", "-0.10", "123456789012345678901234567890.5",
           "5.", "1e5", "NaN", "", "--1", "1.2.3"]
TIMES = ["2024-01-01 10:00:00", "2024-01-01T10:00:00.5", "2024-01-01 10:00:00+00", "2024-01-01 10:00:00-08",
         "2024-01-01 10:00:00.123456+05:30", "2024-01-01 10:00:00-03:30:15", "2024-01-01 10:00:00Z",
         "10000-01-01 00:00:00", "1234567-01-01 00:00:00-01", "2024-01-01 10:00:00+0530", "yesterday", "2024-01-01"]


def test_the_string_scans_decide_exactly_as_the_regular_expressions_they_replace(spark: Any) -> None:
    """Digits of numbers and the offset of timestamps: same answer as the regular expressions on every well-formed value."""
    from lakesync_glue import pgtypes

    scale = pgtypes.infer_scale_expr("v").replace("max(", "(", 1)
    numbers = spark.createDataFrame([(n,) for n in NUMBERS], "v string").selectExpr(
        "v", f"v RLIKE '{pgtypes._NUMBER_RE}' AS ok",
        f"{scale} AS s", "CASE WHEN v RLIKE '^-?[0-9]+([.][0-9]+)?$' THEN length(regexp_extract(v, '[.]([0-9]*)$', 1)) END AS s_re",
    ).collect()
    well_formed = [r for r in numbers if r["ok"]]
    assert len(well_formed) == 10
    assert [(r["v"], r["s"]) for r in well_formed] == [(r["v"], r["s_re"]) for r in well_formed]
    plan = pgtypes.plan_column(pgtypes.ColumnMapping("v", "timestamptz", "binary (UTF8)"), "v", "string")
    offsets = spark.createDataFrame([(t,) for t in TIMES], "v string").selectExpr(
        "v", f"v RLIKE '{pgtypes._TSTZ_RE}' AS ok",
        "(v LIKE '%Z' OR instr(v, '+') > 0 OR locate('-', v, instr(v, ':')) > 0) AS has",
        "v RLIKE '([+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2})?)?|Z)$' AS has_re",
    ).collect()
    assert "locate('-', `v`, instr(`v`, ':')) > 0" in plan.expr, "the plan uses the scan tested here"
    matched = [r for r in offsets if r["ok"]]
    assert len(matched) == 10
    assert [(r["v"], r["has"]) for r in matched] == [(r["v"], r["has_re"]) for r in matched]


# Beyond NUMBERS: values at the edges of decimal(5,2) and decimal(12,2), trailing zeros, forms PostgreSQL never prints.
MORE_NUMBERS = ["999.99", "1000.00", "-999.995", "999.990", "1.230", "0.001", "12345.67", "9999999999.99",
                "10000000000.00", "00000000001.50", "+1", " 1", "1.", ".5", "1,5", "١٢.٥", None]


def test_the_numeric_check_decides_exactly_as_counting_digits_by_regular_expressions(spark: Any) -> None:
    """A bad value is one not printed as a plain number, with more significant integer or fraction digits
    than decimal(p,s) holds, or one the cast cannot read: the check's string scans decide each value the same."""
    from lakesync_glue import pgtypes

    frame = spark.createDataFrame([(n,) for n in [*NUMBERS, *MORE_NUMBERS]], "v string")
    for precision, scale in [(5, 2), (12, 2), (3, 3), (5, 0), (38, 0), (38, 6), (38, 37)]:
        plan = pgtypes.numeric_plan(pgtypes.ColumnMapping("v", "numeric", "binary (UTF8)"), "v", "string", precision, scale)
        reference = (
            f"(v IS NOT NULL AND (NOT v RLIKE '{pgtypes._NUMBER_RE}'"
            f" OR length(regexp_extract(v, '^-?0*([0-9]*)', 1)) > {precision - scale}"
            f" OR length(regexp_extract(v, '[.]([0-9]*?)0*$', 1)) > {scale}"
            f" OR try_cast(v AS decimal({precision},{scale})) IS NULL))"
        )
        rows = frame.selectExpr("v", f"{plan.bad} AS bad", f"{reference} AS bad_re").collect()
        assert [(r["v"], r["bad"]) for r in rows] == [(r["v"], r["bad_re"]) for r in rows], (precision, scale)
        assert any(r["bad"] for r in rows) and not all(r["bad"] for r in rows if r["v"] is not None), (precision, scale)


UTC_TIMES = ["2024-01-01 10:00:00+00", "2024-03-10 02:30:00+00", "2024-11-03 01:30:00.123456+00", "1900-01-01 00:00:00+00",
             "0001-01-01 00:00:00+00", "10000-01-01 00:00:00+00", "2024-02-29T23:59:59.5+00", "1969-12-31 23:59:59.999999+00",
             "2024-01-01 10:00:00+05:30", "2024-01-01 10:00:00-08", "2024-01-01 10:00:00"]


def test_a_utc_offset_reads_as_the_instant_the_general_cast_reads(spark: Any) -> None:
    """In a UTC session a +00 value skips the per-value zone handling; other sessions keep the general cast."""
    from lakesync_glue import columns, pgtypes

    mapping = pgtypes.ColumnMapping("v", "timestamptz", "binary (UTF8)")
    frame = spark.createDataFrame([(t,) for t in UTC_TIMES], "v string")
    general = "CASE WHEN instr(v, '+') > 0 OR locate('-', v, instr(v, ':')) > 0 THEN v ELSE concat(v, 'Z') END"
    zone = spark.conf.get("spark.sql.session.timeZone")
    try:
        for session_zone in ["America/New_York", "Asia/Kolkata", "UTC"]:
            spark.conf.set("spark.sql.session.timeZone", session_zone)
            plan = pgtypes.plan_column(mapping, "v", "string", utc_session=columns.utc_session(spark))
            assert ("LIKE '%+00'" in plan.expr) == (session_zone == "UTC"), "only a UTC session takes the +00 path"
            rows = frame.selectExpr("v", f"unix_micros({plan.expr}) AS fast",
                                    f"unix_micros(try_cast({general} AS TIMESTAMP)) AS general").collect()
            assert [(r["v"], r["fast"]) for r in rows] == [(r["v"], r["general"]) for r in rows], session_zone
            assert all(r["fast"] is not None for r in rows), session_zone
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)


def test_counts_that_do_not_arrive_from_the_write_are_counted_again_exactly(
    load: Loader, spark: Any, exports: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost report of the observed counts neither hangs the load nor changes its figures."""
    from pyspark.sql import Observation

    from lakesync_glue import create_path

    waited: list[str] = []

    def never(self: Any) -> dict[str, Any]:
        waited.append("get")
        threading.Event().wait(60)
        return {}

    monkeypatch.setattr(Observation, "get", property(never))
    monkeypatch.setattr(create_path, "OBSERVATION_WAIT_SECONDS", 0.5)
    result = load(exports, "shop.public.orders", "cp_orders_recounted", action="create", primary_key="id")
    assert waited == ["get"], "the load waited for the observed counts"
    assert result.status == "succeeded", result.error
    assert (result.rowsRead, result.inserted, result.rowCountAfter) == (4, 4, 4)
    assert result.clampedValues == {"at": 2, "day": 2}


# (PostgreSQL type, exported text values, lake type the column is written as or None): each has good and bad values.
CHECKED_COLUMNS = [
    ("integer", ["1", "x", None, "2147483648", "-7"], None),
    ("numeric(5,2)", ["1.50", "1234.50", "NaN", None, "1e3", "-0.01"], None),
    ("numeric", ["1.5", "1e400", "NaN", "-Infinity", None, "x"], "double"),
    ("numeric(8,2)", ["1.00", "1.50", None, "x", "-3.00"], "bigint"),
    ("money", ["$1.00", "-$0.50", "x", None], None),
    ("date", ["2024-01-01", "2024-02-30", "infinity", "x", None], None),
    ("timestamptz", ["2024-01-01 10:00:00+00", "2024-01-01 10:00:00+05:30", "yesterday", "-infinity", None], None),
    ("bytea", ["\\x0a1b", "\\xzz", None], None),
]


@pytest.mark.parametrize(("pg_type", "values", "lake_type"), CHECKED_COLUMNS, ids=[c[0] for c in CHECKED_COLUMNS])
def test_a_check_over_the_cast_value_decides_as_the_check_over_the_export(
    spark: Any, pg_type: str, values: list[str | None], lake_type: str | None
) -> None:
    """The create flags a value from its cast value (no second cast) and must flag exactly what `bad` flags."""
    from lakesync_glue import pgtypes

    mapping = pgtypes.ColumnMapping("v", pg_type, "binary (UTF8)")
    plan = pgtypes.plan_column(mapping, "v", "string", clamp_infinity=True, utc_session=True)
    if lake_type is not None:
        plan = pgtypes.retype_plan(plan, mapping, lake_type)
    assert plan.bad is not None
    given = plan.bad_given("`__value`")
    assert given is not None and plan.expr not in given, "the check reads the cast value, not a second cast"
    rows = spark.createDataFrame([(v,) for v in values], "v string").selectExpr("v", f"{plan.expr} AS __value").selectExpr(
        "v", f"({plan.bad}) AS whole", f"({given}) AS given").collect()
    assert [(r["v"], r["given"]) for r in rows] == [(r["v"], r["whole"]) for r in rows]
    assert {r["whole"] for r in rows} == {True, False}, "the values include good and bad ones"


def test_a_plan_changed_without_its_value_check_keeps_its_check_whole() -> None:
    from dataclasses import replace

    from lakesync_glue import pgtypes

    mapping = pgtypes.ColumnMapping("v", "date", "binary (UTF8)")
    plan = pgtypes.plan_column(mapping, "v", "string")
    assert plan.bad_given("`x`") != plan.bad
    assert replace(plan, expr="try_cast(`v` AS DATE)").bad_given("`x`") == plan.bad, "a stale check is not used"
    assert replace(plan, bad="(`v` = 'x')").bad_given("`x`") == "(`v` = 'x')"
    assert pgtypes.with_on_invalid_null(plan).bad_given("`x`") is None
    assert pgtypes.text_plan(plan).bad_given("`x`") is None
