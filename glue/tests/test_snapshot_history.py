"""The lake table's snapshot history as the job reads it (lake.Snapshots), and what it decides.

The history is read from Iceberg's table object through the JVM, without a Spark job; the
`snapshots` metadata table is the fallback. Both must read every snapshot alike. A load trusts
its own figure for the rows after its commit only when its commit is the table's current
snapshot, right on top of where it started; a commit by anyone else in between makes it count.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue import lake, lineage, loader
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot, snapshots

COLS = [col("id", "bigint"), col("name", "text")]
V1 = [(i, f"row {i}") for i in range(1, 9)]
V2 = [(i, f"row {i}" if i % 3 else f"changed {i}") for i in range(1, 11)]
EARLY = "2024-05-01T10:00:00.000Z"
LATE = "2024-05-02T10:00:00.000Z"


def lineage_of(export: str, snapshot_time: str, cycle: str) -> dict[str, str]:
    return {"source": "shop", "export_id": os.path.basename(export), "snapshot_time": snapshot_time, "cycle_id": cycle}


def row_count(spark: Any, table: str) -> int:
    return int(run_query(spark, f"SELECT count(*) AS n FROM lake.tests.{table}")[0]["n"])


def history(spark: Any, table: str) -> lake.Snapshots:
    return lake.Snapshots(spark, f"lake.tests.{table}", "lake", "tests", table, lineage.KEYS)


def loaded_then_changed_outside(load: Loader, spark: Any, versions: Versions,
                                loads: list[tuple[str, str, str]]) -> None:
    """Loads each (export, snapshot time, cycle) in turn, then commits a row as a writer other than lakesync."""
    for export, snapshot_time, cycle in loads:
        result = load(export, versions.target, versions.table, primary_key="id", **lineage_of(export, snapshot_time, cycle))
        assert result.status == "succeeded", result.error
    # A commit lakesync did not make: no lineage in its summary.
    spark.sql(f"INSERT INTO lake.tests.{versions.table} VALUES (99, 'outside')").collect()


def no_jvm_table(*_args: Any) -> Any:
    raise RuntimeError("the Iceberg table object is not reachable")


def test_the_jvm_and_the_metadata_table_read_every_snapshot_alike(
    load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = "history_both"
    versions = Versions(tmp_path, "shop", "public", table)
    e1, e2 = versions.export(COLS, V1), versions.export(COLS, V2)
    loaded_then_changed_outside(load, spark, versions, [(e1, EARLY, "c1"), (e2, LATE, "c2")])
    ids = [s["id"] for s in snapshots(spark, table)]
    assert len(ids) == 3

    from_jvm = history(spark, table)
    with monkeypatch.context() as patched:
        patched.setattr(lake, "_iceberg_table", no_jvm_table)
        from_query = history(spark, table)
        read_by_query = [from_query.get(i) for i in [*ids, "12345"]]
    assert [from_jvm.get(i) for i in [*ids, "12345"]] == read_by_query

    first, second, outside, missing = read_by_query
    assert first is not None and second is not None and outside is not None and missing is None
    assert (first.parent, second.parent, outside.parent) == (None, ids[0], ids[1])
    assert first.summary == {"lakesync.source": "shop", "lakesync.export-id": os.path.basename(e1),
                             "lakesync.snapshot-time": EARLY, "lakesync.cycle-id": "c1",
                             "lakesync.source-table": "public.history_both"}
    assert second.summary["lakesync.cycle-id"] == "c2"
    assert set(outside.summary.values()) == {None}


def test_the_older_export_guard_reads_the_history_without_the_jvm_too(
    load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = "history_guard"
    versions = Versions(tmp_path, "shop", "public", table)
    newer, older = versions.export(COLS, V2), versions.export(COLS, V1)
    loaded_then_changed_outside(load, spark, versions, [(newer, LATE, "c1")])
    before = current_snapshot(spark, table)
    monkeypatch.setattr(lake, "_iceberg_table", no_jvm_table)

    refused = load(older, versions.target, table, primary_key="id", **lineage_of(older, EARLY, "c2"))
    assert refused.error is not None and refused.error["class"] == "OlderExport", refused.error
    assert os.path.basename(newer) in refused.error["message"]
    assert current_snapshot(spark, table) == before


def test_a_create_reports_the_rows_it_wrote_without_counting_the_table(
    load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def counted(*_args: Any) -> int:
        raise AssertionError("a create's own commit needs no count of the table")

    table = "history_create"
    versions = Versions(tmp_path, "shop", "public", table)
    monkeypatch.setattr(lake, "row_count", counted)
    result = load(versions.export(COLS, V1), versions.target, table, primary_key="id")
    assert (result.status, result.action, result.inserted, result.rowCountAfter) == ("succeeded", "create", 8, 8), result.error
    monkeypatch.undo()
    assert row_count(spark, table) == 8


def another_writer(spark: Any, table: str) -> None:
    spark.sql(f"INSERT INTO lake.tests.{table} VALUES (500, 'another writer'), (501, 'another writer')").collect()


@pytest.mark.parametrize("action, when", [("create", "after"), ("merge", "after"), ("merge", "before")])
def test_a_commit_by_another_writer_makes_the_load_count_the_table(
    load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str, when: str
) -> None:
    """Another writer commits just before the load's commit or just after it: the load's own figure is not the table's."""
    table = f"history_{action}_{when}"
    versions = Versions(tmp_path, "shop", "public", table)
    if action == "merge":
        assert load(versions.export(COLS, V1), versions.target, table, primary_key="id").status == "succeeded"

    if when == "after":
        original = getattr(loader._Load, action)

        def then_another_writer(self: Any, *args: Any) -> Any:
            outcome = original(self, *args)
            assert outcome.rows_after is not None, "the load knows the rows its commit leaves"
            another_writer(spark, table)
            return outcome

        monkeypatch.setattr(loader._Load, action, then_another_writer)
    else:
        original_changes = loader._Load.merge_changes

        def another_writer_first(self: Any, *args: Any, **kwargs: Any) -> None:
            another_writer(spark, table)
            original_changes(self, *args, **kwargs)

        monkeypatch.setattr(loader._Load, "merge_changes", another_writer_first)
    result = load(versions.export(COLS, V2), versions.target, table, primary_key="id")
    assert (result.status, result.action) == ("succeeded", action), result.error
    assert result.rowCountAfter == len(V2) + 2 == row_count(spark, table)
