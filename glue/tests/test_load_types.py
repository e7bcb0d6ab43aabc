"""Casts back to PostgreSQL meaning, the export layouts, and cast failures (local Spark + Iceberg)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import Loader
from dataclasses import replace

from exportkit import Col, TableData, col, write_export
from lakesync_glue.query import run_query

ALL_TYPES: list[Col] = [
    col("id", "bigint"),
    col("small", "smallint"),
    col("qty", "integer"),
    col("ratio", "real"),
    col("score", "double precision"),
    col("flag", "boolean"),
    col("blob", "bytea"),
    col("amount", "numeric(12,2)"),  # RDS maps carry the precision only; the scale comes from the data
    col("big", "numeric"),
    col("empty_num", "numeric(5)"),
    col("price", "money"),
    col("day", "date"),
    col("at", "timestamp"),
    col("at_tz", "timestamptz"),
    col("t", "time"),
    col("ttz", "timetz"),
    col("span", "interval"),
    col("doc", "jsonb"),
    col("uid", "uuid"),
    col("tags", "text[]"),
    col("mood", "enum"),
    col("name", "varchar(20)"),
]
ALL_ROWS: list[tuple[Any, ...]] = [
    (1, 7, 100, 1.5, 2.25, True, b"\x00\x01\xff", "1234.50", "12345678901234567890.123456789012345678", None,
     "$1,234.56", "2024-02-29", "2024-02-29 23:59:59.999999", "2024-02-29 23:59:59.999999+00", "13:45:00",
     "13:45:00+02", "1 year 2 mons 3 days 04:05:06.5", '{"a": [1, 2]}', "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     '{a,b,"c d"}', "happy", "Zoë"),
    (2, -32768, None, None, float("nan"), False, b"", "-0.01", "-1", None,
     "-$0.50", "infinity", "2024-01-01 00:00:00", "2024-07-01 12:00:00.5+05:30", "24:00:00",
     None, "-00:00:01", "null", None, "{}", "sad", ""),
    (3, None, -2147483648, -0.25, None, None, None, None, "0.000000000000000001", None,
     "$0.00", "-infinity", "infinity", "2024-01-01 00:00:00-08", None,
     None, None, None, None, None, None, None),
]
EXPECTED: list[dict[str, Any]] = [
    {"id": 1, "small": 7, "qty": 100, "ratio": 1.5, "score": 2.25, "flag": True, "blob": "AAH/",
     "amount": "1234.50", "big": "12345678901234567890.123456789012345678", "empty_num": None,
     "price": "1234.56", "day": "2024-02-29", "at": "2024-02-29T23:59:59.999999",
     "at_tz": "2024-02-29T23:59:59.999999Z", "t": "13:45:00", "ttz": "13:45:00+02",
     "span": "1 year 2 mons 3 days 04:05:06.5", "doc": '{"a": [1, 2]}', "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "tags": '["a","b","c d"]', "mood": "happy", "name": "Zoë"},
    {"id": 2, "small": -32768, "qty": None, "ratio": None, "score": {"$float": "NaN"}, "flag": False, "blob": "",
     "amount": "-0.01", "big": "-1.000000000000000000", "empty_num": None,
     "price": "-0.50", "day": "9999-12-31", "at": "2024-01-01T00:00:00.000000",
     "at_tz": "2024-07-01T06:30:00.500000Z", "t": "24:00:00", "ttz": None,
     "span": "-00:00:01", "doc": "null", "uid": None, "tags": "[]", "mood": "sad", "name": ""},
    {"id": 3, "small": None, "qty": -2147483648, "ratio": -0.25, "score": None, "flag": None, "blob": None,
     "amount": None, "big": "0.000000000000000001", "empty_num": None,
     "price": "0.00", "day": "0001-01-01", "at": "9999-12-31T23:59:59.999999",
     "at_tz": "2024-01-01T08:00:00.000000Z", "t": None, "ttz": None,
     "span": None, "doc": None, "uid": None, "tags": None, "mood": None, "name": None},
]
LAKE_TYPES = {
    "id": "bigint", "small": "int", "qty": "int", "ratio": "float", "score": "double", "flag": "boolean",
    "blob": "binary", "amount": "decimal(12,2)", "big": "decimal(38,18)", "empty_num": "decimal(10,5)",
    "price": "decimal(19,2)", "day": "date", "at": "timestamp_ntz", "at_tz": "timestamp", "t": "string",
    "ttz": "string", "span": "string", "doc": "string", "uid": "string", "tags": "array<string>", "mood": "string",
    "name": "string",
}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("types")
    layout_cols = [col("id", "integer"), col("label", "text")]
    layout_rows = [(i, f"row {i}") for i in range(1, 6)]
    export = write_export(root, [
        TableData("shop", "public", "all_types", ALL_TYPES, ALL_ROWS, batches=2),
        # 5 rows over 2 batch folders x 3 parts with gaps in part numbers (one part holds no rows)
        TableData("shop", "public", "batched", layout_cols, layout_rows, batches=2, parts_per_batch=3, part_gaps=True),
        TableData("shop", "public", "flat", layout_cols, layout_rows, batches=0, parts_per_batch=2),
        TableData("shop", "public", "empty", layout_cols, []),
        TableData("shop", "public", "bad_values", [col("id", "bigint"), col("amount", "numeric(6,2)"),
                                                    col("day", "date"), col("big", "numeric"),
                                                    replace(col("exact", "numeric(6,2)"), num_scale=2)],
                  [(1, "1.50", "2024-01-01", "1", "1.00"), (2, "12345.67", "2024-13-01", "NaN", "2.00"),
                   (3, "-2.25", None, "2", "1.234")]),
        TableData("shop", "public", "bad_times", [col("id", "bigint"), col("at_tz", "timestamptz"), col("price", "money")],
                  [(1, "yesterday", "1.234,56 €"), (2, "2024-01-01 00:00:00+00", "$1.00")]),
    ], info_files=2)
    return export.path


def test_every_type_casts_back_to_its_postgresql_meaning(load: Loader, spark: Any, export_dir: str) -> None:
    result = load(export_dir, "shop.public.all_types", "all_types", action="create", primary_key="id")
    assert result.status == "succeeded", result.error
    assert (result.action, result.rowsRead, result.inserted, result.rowCountAfter) == ("create", 3, 3, 3)
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.all_types").schema.fields}
    assert types == LAKE_TYPES
    assert run_query(spark, "SELECT * FROM lake.tests.all_types ORDER BY id") == EXPECTED
    # Row comparison is exact for every type (NaN, binary, decimals, timestamps): nothing changed.
    again = load(export_dir, "shop.public.all_types", "all_types", action="merge", primary_key="id")
    assert (again.status, again.action, again.committed, again.updated) == ("succeeded", "none", False, 0)
    assert again.snapshotId == result.snapshotId


@pytest.mark.parametrize("table, files", [("batched", 6), ("flat", 2)])
def test_reads_every_part_of_every_batch_and_the_older_layout(load: Loader, spark: Any, export_dir: str,
                                                              table: str, files: int) -> None:
    data = Path(export_dir) / "shop" / f"public.{table}"
    assert len(list(data.rglob("*.parquet"))) == files
    result = load(export_dir, f"shop.public.{table}", table, action="replace")
    assert (result.status, result.rowsRead, result.inserted) == ("succeeded", 5, 5)
    assert run_query(spark, f"SELECT id, label FROM lake.tests.{table} ORDER BY id") == [
        {"id": i, "label": f"row {i}"} for i in range(1, 6)]


def test_an_empty_table_creates_an_empty_lake_table(load: Loader, spark: Any, export_dir: str) -> None:
    result = load(export_dir, "shop.public.empty", "empty", action="replace")
    assert (result.status, result.action, result.rowsRead, result.rowCountAfter) == ("succeeded", "create", 0, 0)
    assert [f.name for f in spark.table("lake.tests.empty").schema.fields] == ["id", "label"]


def test_a_bad_value_fails_the_table_with_column_and_example(load: Loader, spark: Any, export_dir: str) -> None:
    result = load(export_dir, "shop.public.bad_values", "bad_values", action="create", primary_key="id", show_values="true")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "CastError"
    message = result.error["message"]
    assert "shop.public.bad_values" in message
    assert "column 'amount' (numeric) has 1 value(s) that cannot become decimal(6,2), e.g. '12345.67'" in message
    assert "column 'exact' (numeric) has 1 value(s) that cannot become decimal(6,2), e.g. '1.234'" in message
    assert "column 'day' (date) has 1 value(s) that cannot become date, e.g. '2024-13-01'" in message
    assert "column 'big' (numeric) has 1 value(s) that cannot become decimal(38,18), e.g. 'NaN'" in message
    assert "into NULL only under onInvalid: null" in message
    assert "to load them set tables: { public.bad_values: { columns: { big: { onInvalid: \"null\" } } } } or type: double" in message
    assert not spark.catalog.tableExists("lake.tests.bad_values")
    result = load(export_dir, "shop.public.bad_times", "bad_times", action="create", show_values="true")
    assert result.error is not None and result.error["class"] == "CastError"
    assert "'at_tz'" in result.error["message"] and "'yesterday'" in result.error["message"]
    assert "'price'" in result.error["message"] and "'1.234,56 €'" in result.error["message"]
    assert not spark.catalog.tableExists("lake.tests.bad_times")


def test_a_date_before_1_ad_fails_naming_the_policy_that_keeps_it(load: Loader, spark: Any, tmp_path: Path) -> None:
    """PostgreSQL prints years before 1 AD with ' BC', which no lake date or timestamp holds; dates before the
    Gregorian reform (1582) are proleptic in PostgreSQL and Spark alike and load as they are."""
    cols = [col("id", "bigint"), col("day", "date"), col("at", "timestamptz")]
    rows = [(1, "1500-02-28", "1000-01-01 12:00:00+00"), (2, "0044-03-15 BC", "0044-03-15 12:00:00+00 BC")]
    export = write_export(tmp_path, [TableData("shop", "public", "ancient", cols, rows)]).path
    result = load(export, "shop.public.ancient", "ancient", action="create", primary_key="id")
    assert result.error is not None and result.error["class"] == "CastError", result.error
    message = result.error["message"]
    assert "column 'day' (date) has 1 value(s)" in message and "column 'at' (timestamp with time zone)" in message
    assert 'columns: { day: { onInvalid: "null" } } } } or type: string (keeps the text as exported, years BC too)' in message
    kept = load(export, "shop.public.ancient", "ancient", action="create", primary_key="id",
                column_policies='{"day": {"type": "string"}, "at": {"type": "string"}}')
    assert kept.status == "succeeded", kept.error
    assert run_query(spark, "SELECT day, at FROM lake.tests.ancient ORDER BY id") == [
        {"day": "1500-02-28", "at": "1000-01-01 12:00:00+00"}, {"day": "0044-03-15 BC", "at": "0044-03-15 12:00:00+00 BC"}]
