"""Schema evolution: added columns, dropped columns kept and reported, promotions, conflicts."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot

V1_COLS = [col("id", "bigint"), col("name", "text"), col("qty", "integer"), col("price", "numeric(8,2)"),
           col("legacy", "text")]
V1 = [(1, "a", 1, "1.00", "old-1"), (2, "b", 2, "2.00", "old-2")]
V2_COLS = [col("id", "bigint"), col("name", "text"), col("qty", "bigint"), col("price", "numeric(10,2)"),
           col("Color", "text")]
V2 = [(1, "a", 1, "1.00", "red"), (2, "b", 5_000_000_000, "12345678.00", None), (3, "c", 3, "3.00", "blue")]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return Versions(tmp_path_factory.mktemp("schema"), "shop", "public", "stock")


def test_columns_are_added_promoted_and_dropped_ones_kept(load: Loader, spark: Any, versions: Versions) -> None:
    first = load(versions.export(V1_COLS, V1), versions.target, "stock", action="merge", primary_key="id")
    assert first.status == "succeeded", first.error
    second = load(versions.export(V2_COLS, V2), versions.target, "stock", action="merge", primary_key="id")
    assert second.status == "succeeded", second.error
    assert second.schemaChanges == [
        "added column color string",
        "widened column qty from int to bigint",
        "widened column price from decimal(8,2) to decimal(10,2)",
    ]
    assert second.droppedColumns == ["legacy"]
    assert second.schemaHash != first.schemaHash
    assert (second.inserted, second.updated, second.deleted) == (1, 2, 0)
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.stock").schema.fields}
    assert types == {"id": "bigint", "name": "string", "qty": "bigint", "price": "decimal(10,2)",
                     "legacy": "string", "color": "string"}
    assert run_query(spark, "SELECT * FROM lake.tests.stock ORDER BY id") == [
        {"id": 1, "name": "a", "qty": 1, "price": "1.00", "legacy": "old-1", "color": "red"},
        {"id": 2, "name": "b", "qty": 5_000_000_000, "price": "12345678.00", "legacy": "old-2", "color": None},
        {"id": 3, "name": "c", "qty": 3, "price": "3.00", "legacy": None, "color": "blue"},
    ]


def test_incompatible_type_change_fails_clearly(load: Loader, spark: Any, versions: Versions) -> None:
    cols = [col("id", "bigint"), col("name", "integer"), col("qty", "bigint"), col("price", "numeric(10,2)")]
    before = current_snapshot(spark, "stock")
    result = load(versions.export(cols, [(1, 7, 1, "1.00")]), versions.target, "stock", action="merge", primary_key="id")
    assert result.error is not None and result.error["class"] == "SchemaConflict"
    assert "'name' is string in the lake but int (integer) in the export" in result.error["message"]
    # The fix is a command the user can run, not a job argument.
    assert "rebuild the table from the export with the new types (lakesync rerun shop --rebuild public.stock)" in result.error["message"]
    assert "new lake table (the table's lakeName)" in result.error["message"]
    assert "--rebuild true" not in result.error["message"] and "--lake_table" not in result.error["message"]
    assert current_snapshot(spark, "stock") == before
    assert [f.name for f in spark.table("lake.tests.stock").schema.fields] == ["id", "name", "qty", "price", "legacy", "color"]


KEYED = [col("id", "bigint"), col("name", "text"), col("ts", "bigint")]
KEYED_ROWS = [(1, "a", 10), (2, "b", 20)]
RENAMED_KEY = json.dumps({"id": {"rename": "order_id"}})


@pytest.mark.parametrize("action", ["merge", "incremental"])
def test_a_key_column_the_lake_lacks_is_refused_before_any_write(load: Loader, spark: Any, tmp_path: Any,
                                                                 action: str) -> None:
    # A rename added to the key column (or a key naming a new column): the lake's rows have no value for it,
    # so no row could be matched; an upsert would insert every row of the window a second time.
    versions = Versions(tmp_path, "shop", "public", "keyed")
    options = {"primary_key": "id", **({"cursor_column": "ts", "cursor_mode": "upsert"} if action == "incremental" else {})}
    first = load(versions.export(KEYED, KEYED_ROWS), versions.target, "keyed", action=action, **options)
    assert first.status == "succeeded", first.error
    before = current_snapshot(spark, "keyed")
    result = load(versions.export(KEYED, KEYED_ROWS), versions.target, "keyed", action=action,
                  column_policies=RENAMED_KEY, **options)
    assert result.error is not None and result.error["class"] == "SchemaConflict", result.error
    message = result.error["message"]
    assert "shop.public.keyed" in message and "primary key column 'order_id' is not in the lake table tests.keyed" in message
    assert "lakesync rerun shop --rebuild public.keyed" in message
    assert current_snapshot(spark, "keyed") == before
    assert [f.name for f in spark.table("lake.tests.keyed").schema.fields] == ["id", "name", "ts"]
    assert run_query(spark, "SELECT * FROM lake.tests.keyed ORDER BY id") == [
        {"id": 1, "name": "a", "ts": 10}, {"id": 2, "name": "b", "ts": 20}]
    spark.sql("DROP TABLE lake.tests.keyed").collect()


def test_a_cursor_column_the_lake_lacks_names_the_rebuild_that_adds_it(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = Versions(tmp_path, "shop", "public", "cursored")
    first = load(versions.export(KEYED[:2], [r[:2] for r in KEYED_ROWS]), versions.target, "cursored", action="merge",
                 primary_key="id")
    assert first.status == "succeeded", first.error
    export = versions.export(KEYED, KEYED_ROWS)
    options = {"primary_key": "id", "cursor_column": "ts", "cursor_mode": "upsert"}
    refused = load(export, versions.target, "cursored", action="incremental", **options)
    assert refused.error is not None and refused.error["class"] == "SchemaConflict", refused.error
    message = refused.error["message"]
    assert "cursor column 'ts' is not in the lake table tests.cursored" in message, message
    assert "rebuild the table from the export (lakesync rerun shop --rebuild public.cursored)" in message, message
    rebuilt = load(export, versions.target, "cursored", action="incremental", rebuild="true", **options)
    assert rebuilt.status == "succeeded", rebuilt.error
    again = load(versions.export(KEYED, [*KEYED_ROWS, (3, "c", 30)]), versions.target, "cursored", action="incremental",
                 **options)
    assert (again.status, again.inserted, again.updated) == ("succeeded", 1, 0), again.error
    spark.sql("DROP TABLE lake.tests.cursored").collect()


@pytest.mark.parametrize("action", ["merge", "replace", "incremental"])
def test_a_scale_raised_in_postgresql_fails_naming_the_rebuild_command_of_the_table(
        load: Loader, spark: Any, tmp_path: Any, action: str) -> None:
    # RDS's mappings carry numeric's precision, not its scale: the lake column's scale is used, and values with more
    # fractional digits fail (never rounded), with the command that rebuilds this very table.
    table = f"scaled_{action}"
    versions = Versions(tmp_path, "shop", "public", table)
    options = {"primary_key": "id"} if action == "merge" else {"cursor_column": "id"} if action == "incremental" else {}
    first = load(versions.export([col("id", "bigint"), col("p", "numeric(10,2)")], [(1, "1.25")]), versions.target,
                 table, action=action, **options)
    assert first.status == "succeeded", first.error
    before = current_snapshot(spark, table)
    result = load(versions.export([col("id", "bigint"), col("p", "numeric(12,4)")], [(1, "1.2500"), (2, "2.1234")]),
                  versions.target, table, action=action, **options)
    assert result.error is not None and result.error["class"] == "CastError", result.error
    message = result.error["message"]
    assert f"table shop.public.{table}: column 'p' (numeric) has 1 value(s) that cannot become decimal(12,2)" in message
    assert f"needs a rebuild of the table from the export (lakesync rerun shop --rebuild public.{table})" in message, message
    assert "<source>" not in message and "<schema.table>" not in message, message
    assert current_snapshot(spark, table) == before
    assert run_query(spark, f"SELECT * FROM lake.tests.{table}") == [{"id": 1, "p": "1.25"}]
    spark.sql(f"DROP TABLE lake.tests.{table}").collect()
