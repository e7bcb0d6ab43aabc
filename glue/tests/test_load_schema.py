"""Schema evolution: added columns, dropped columns kept and reported, promotions, conflicts."""
from __future__ import annotations

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
    assert current_snapshot(spark, "stock") == before
    assert [f.name for f in spark.table("lake.tests.stock").schema.fields] == ["id", "name", "qty", "price", "legacy", "color"]
