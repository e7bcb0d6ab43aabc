"""The scale of numeric(p,s) columns, which RDS's mappings leave open, read from the first values.

PostgreSQL prints every value of such a column with exactly s fractional digits, so the first
rows holding a value tell s; only a column with no value among them is read in full.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Loader
from exportkit import TableData, col, write_export
from lakesync_glue import source
from lakesync_glue.pgtypes import infer_scale_expr
from lakesync_glue.query import run_query


def test_the_first_values_tell_the_scale_and_a_column_without_any_is_read_in_full(spark: Any) -> None:
    rows = 3 * source.SCALE_SAMPLE_ROWS
    data = [(f"{i}.25", None if i < rows - 1 else "7.125", None) for i in range(rows)]
    frame = spark.createDataFrame(data, "amount string, late string, never string").repartition(1)
    # `late` has no value among the first rows: its scale comes from the full read, as `never`'s absence does.
    assert source.infer_scales(frame, ["amount", "late", "never"]) == {"amount": 2, "late": 3, "never": None}
    full = frame.selectExpr(*[f"{infer_scale_expr(n)} AS {n}" for n in ("amount", "late", "never")]).collect()[0]
    assert full.asDict() == {"amount": 2, "late": 3, "never": None}


def test_a_value_with_more_digits_than_the_first_ones_fails_the_create_instead_of_being_rounded(
        load: Loader, spark: Any, tmp_path: Path) -> None:
    """Never printed by PostgreSQL, so never seen in an export of it; a hand-made file could hold it."""
    rows = [(i, "1.25") for i in range(1, 2 * source.SCALE_SAMPLE_ROWS)] + [(10_000, "1.125")]
    export = write_export(tmp_path, [TableData("shop", "public", "odd_scale",
                                               [col("id", "bigint"), col("amount", "numeric(12)")], rows)])
    result = load(export.path, "shop.public.odd_scale", "odd_scale", action="create", primary_key="id",
                  show_values="true")
    assert result.status == "failed" and result.error is not None, "the load took a value it cannot hold exactly"
    assert result.error["class"] == "CastError"
    assert "column 'amount' (numeric) has 1 value(s) that cannot become decimal(12,2), e.g. '1.125'" in \
        result.error["message"]
    assert not spark.catalog.tableExists("lake.tests.odd_scale")


def test_a_column_that_is_null_at_first_still_gets_the_scale_of_its_values(
        load: Loader, spark: Any, tmp_path: Path) -> None:
    rows = [(i, None) for i in range(1, 2 * source.SCALE_SAMPLE_ROWS)] + [(10_000, "-0.125")]
    export = write_export(tmp_path, [TableData("shop", "public", "late_values",
                                               [col("id", "bigint"), col("amount", "numeric(9)")], rows)])
    result = load(export.path, "shop.public.late_values", "late_values", action="create", primary_key="id")
    assert result.status == "succeeded", result.error
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.late_values").schema.fields}
    assert types["amount"] == "decimal(9,3)"
    assert run_query(spark, "SELECT CAST(amount AS string) AS a FROM lake.tests.late_values WHERE id = 10000") == [
        {"a": "-0.125"}]


def test_a_wide_column_created_without_values_takes_the_scale_of_its_first_values_later(
        load: Loader, spark: Any, tmp_path: Path) -> None:
    """numeric(30) with a scale the mappings do not tell: created empty, its lake scale was a guess, not PostgreSQL's."""
    from scenario import Versions

    versions = Versions(tmp_path, "shop", "public", "wide_late")
    cols = [col("id", "bigint"), col("amount", "numeric(30)"), col("note", "text")]
    first = load(versions.export(cols, [(1, None, "a"), (2, None, "b")]), versions.target, "wide_late",
                 action="merge", primary_key="id")
    assert first.status == "succeeded", first.error
    value = "12345678901234567890.0123456789"  # numeric(30,10): 20 integer and 10 fraction digits
    second = load(versions.export(cols, [(1, value, "a"), (2, None, "b"), (3, "-0.0000000001", "c")]), versions.target,
                  "wide_late", action="merge", primary_key="id")
    assert second.status == "succeeded", second.error
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.wide_late").schema.fields}
    assert types["amount"] == "decimal(30,10)" and list(types) == ["id", "amount", "note"], types
    assert run_query(spark, "SELECT id, CAST(amount AS string) AS a, note FROM lake.tests.wide_late ORDER BY id") == [
        {"id": 1, "a": value, "note": "a"}, {"id": 2, "a": None, "note": "b"}, {"id": 3, "a": "-1E-10", "note": "c"}]


def test_a_column_whose_values_have_more_integer_digits_than_its_precision_has_a_negative_scale(
        load: Loader, spark: Any, tmp_path: Path) -> None:
    """numeric(5,-2) (PostgreSQL 15+) holds integers of up to 7 digits, rounded to hundreds; RDS's mapping says numeric(5)."""
    rows = [(i, "100") for i in range(1, 2 * source.SCALE_SAMPLE_ROWS)] + [(10_000, "9999900"), (10_001, "-1200"),
                                                                          (10_002, "0"), (10_003, None)]
    export = write_export(tmp_path, [TableData("shop", "public", "hundreds",
                                               [col("id", "bigint"), col("amount", "numeric(5)")], rows)])
    result = load(export.path, "shop.public.hundreds", "hundreds", action="create", primary_key="id")
    assert result.status == "succeeded", result.error
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.hundreds").schema.fields}
    assert types["amount"] == "decimal(7,0)"
    assert run_query(spark, "SELECT id, CAST(amount AS string) AS a FROM lake.tests.hundreds WHERE id >= 10000 "
                            "ORDER BY id") == [{"id": 10_000, "a": "9999900"}, {"id": 10_001, "a": "-1200"},
                                               {"id": 10_002, "a": "0"}, {"id": 10_003, "a": None}]
