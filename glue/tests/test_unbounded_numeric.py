"""An unbounded PostgreSQL numeric whose values the lake's default decimal(38,18) cannot hold.

PostgreSQL's numeric without a precision holds up to 131072 integer and 16383 fractional digits;
the lake's decimal holds 38 digits at most. A value with more than 18 fractional digits (or more
than 20 integer ones) fails the load with a CastError that names the table and the column and
offers the exact way to load it: the column as text (type: string) keeps every digit.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import Col, TableData, col, write_export
from lakesync_glue.query import run_query

LONG_FRACTION = "0.12345678901234567890123"  # 23 fractional digits
LONG_NUMBER = "1234567890123456789012345678901234567890.5"  # 41 digits


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("unbounded-numeric")
    export = write_export(root, [
        TableData("shop", "public", "measures", [col("id", "bigint"), col("v", "numeric")],
                  [(1, "1.5"), (2, LONG_FRACTION), (3, LONG_NUMBER), (4, None)]),
        TableData("shop", "public", "series", [col("id", "bigint"), Col("vs", "_numeric", "binary (UTF8)")],
                  [(1, "{1.5}"), (2, "{" + LONG_FRACTION + ",2}")]),
    ])
    return export.path


def _message(result: Any) -> str:
    assert result.status == "failed" and result.error is not None, result
    assert result.error["class"] == "CastError", result.error
    return str(result.error["message"])


def test_values_beyond_decimal_38_18_fail_naming_table_column_and_the_exact_way_to_load_them(load: Loader, export_dir: str) -> None:
    message = _message(load(export_dir, "shop.public.measures", "measures_default", action="create", primary_key="id"))
    assert "shop.public.measures" in message
    assert "column 'v' (numeric) has 2 value(s) that cannot become decimal(38,18)" in message
    # Besides the lossy fixes (NULL, double), the one that keeps every digit.
    assert 'tables: { public.measures: { columns: { v: { onInvalid: "null" } } } }' in message, message
    assert "or type: string (keeps every digit exactly" in message, message
    assert LONG_FRACTION not in message


def test_the_suggested_type_string_loads_every_digit_exactly(load: Loader, export_dir: str, spark: Any) -> None:
    result = load(export_dir, "shop.public.measures", "measures_text", action="create", primary_key="id",
                  column_policies=json.dumps({"v": {"type": "string"}}))
    assert result.status == "succeeded", result.error
    rows = run_query(spark, "SELECT id, v FROM lake.tests.measures_text ORDER BY id")
    assert [(r["id"], r["v"]) for r in rows] == [(1, "1.5"), (2, LONG_FRACTION), (3, LONG_NUMBER), (4, None)]


def test_an_array_of_such_values_fails_the_same_way_and_type_string_keeps_it_exactly(load: Loader, export_dir: str, spark: Any) -> None:
    message = _message(load(export_dir, "shop.public.series", "series_default", action="create", primary_key="id"))
    assert "column 'vs' (_numeric) has 1 value(s) that cannot become array<decimal(38,18)>" in message
    assert "or type: string (keeps every digit exactly" in message, message
    result = load(export_dir, "shop.public.series", "series_text", action="create", primary_key="id",
                  column_policies=json.dumps({"vs": {"type": "string"}}))
    assert result.status == "succeeded", result.error
    rows = run_query(spark, "SELECT id, vs FROM lake.tests.series_text ORDER BY id")
    assert [(r["id"], r["vs"]) for r in rows] == [(1, "{1.5}"), (2, "{" + LONG_FRACTION + ",2}")]
