"""A merge into a lake table that does not hold one row per key (rows written by other means).

The MERGE matches lake rows by key: a lake row with a NULL key matches no change and a repeated
key matches one change more than once. Such a table is refused before any write, with the cause,
instead of reporting deletes that never happen (on every run) or failing inside the MERGE.
"""
from __future__ import annotations

from typing import Any

from conftest import Loader
from exportkit import col
from scenario import Versions, current_snapshot, lake_rows

COLS = [col("id", "bigint"), col("name", "text")]
ROWS = [(i, f"item {i}") for i in range(1, 5)]


def created(load: Loader, tmp_path: Any, table: str) -> Versions:
    versions = Versions(tmp_path, "shop", "public", table)
    result = load(versions.export(COLS, ROWS), f"shop.public.{table}", table, action="merge", primary_key="id")
    assert (result.status, result.action, result.inserted) == ("succeeded", "create", 4), result.error
    return versions


def test_a_lake_row_with_a_null_key_is_refused_not_reported_as_deleted(
    load: Loader, spark: Any, tmp_path: Any
) -> None:
    versions = created(load, tmp_path, "lk_null")
    spark.sql("INSERT INTO lake.tests.lk_null VALUES (NULL, 'written by another tool')").collect()
    before, rows = current_snapshot(spark, "lk_null"), lake_rows(spark, "lk_null")
    result = load(versions.export(COLS, ROWS), "shop.public.lk_null", "lk_null", action="merge", primary_key="id",
                  approve_deletes="true")
    # Not "deleted 1" with the row still there (and the same again on every replay).
    assert result.status == "failed" and result.error is not None, (result.deleted, result.committed)
    assert (result.error["class"], result.error["retryable"]) == ("DuplicateKeys", False)
    assert "lake table tests.lk_null" in result.error["message"]
    assert "1 row(s) have a NULL key column" in result.error["message"]
    assert "--rebuild public.lk_null" in result.error["message"], "the message gives the command that fixes it"
    assert current_snapshot(spark, "lk_null") == before and lake_rows(spark, "lk_null") == rows


def test_a_repeated_lake_key_is_refused_with_its_cause(load: Loader, spark: Any, tmp_path: Any) -> None:
    versions = created(load, tmp_path, "lk_dup")
    spark.sql("INSERT INTO lake.tests.lk_dup VALUES (2, 'item 2')").collect()
    before = current_snapshot(spark, "lk_dup")
    changed = [(i, "renamed" if i == 2 else name) for i, name in ROWS]
    result = load(versions.export(COLS, changed), "shop.public.lk_dup", "lk_dup", action="merge", primary_key="id",
                  show_values="true")
    # Not a retryable InternalError from inside the MERGE (which would fail the same way on every retry).
    assert result.status == "failed" and result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("DuplicateKeys", False), result.error
    assert "1 key value(s) appear in more than one row" in result.error["message"]
    assert "(id=2) x2" in result.error["message"]
    assert current_snapshot(spark, "lk_dup") == before


def test_an_upsert_onto_a_repeated_lake_key_fails_with_its_cause(load: Loader, spark: Any, tmp_path: Any) -> None:
    # An incremental upsert does not count the lake's keys: the MERGE itself finds the repeated key.
    cols = [*COLS, col("version", "bigint")]
    versions = Versions(tmp_path, "shop", "public", "lk_upsert")
    options = {"primary_key": "id", "cursor_column": "version", "cursor_mode": "upsert"}
    first = load(versions.export(cols, [(i, name, 1) for i, name in ROWS]), "shop.public.lk_upsert", "lk_upsert",
                 action="incremental", **options)
    assert first.status == "succeeded", first.error
    spark.sql("INSERT INTO lake.tests.lk_upsert VALUES (2, 'item 2', 1)").collect()
    before = current_snapshot(spark, "lk_upsert")
    changed = [(i, "renamed" if i == 2 else name, 2 if i == 2 else 1) for i, name in ROWS]
    result = load(versions.export(cols, changed), "shop.public.lk_upsert", "lk_upsert", action="incremental", **options)
    assert result.status == "failed" and result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("DuplicateKeys", False), result.error
    assert "lake table tests.lk_upsert" in result.error["message"]
    assert "--rebuild public.lk_upsert" in result.error["message"], "the message gives the command that fixes it"
    assert current_snapshot(spark, "lk_upsert") == before
