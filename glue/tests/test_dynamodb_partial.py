"""Exports whose data files hold fewer records than DynamoDB counted (--dynamodb_exports itemCount): never loaded."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dynamodbkit import N, S, DdbLoad, change, ddb_load, export_entry, item, write_export  # noqa: F401 - the fixture
from lakesync_glue.query import run_query
from scenario import current_snapshot

KEY = [("id", "S")]
ATTRS = {"price": "decimal(10,2)"}
T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"


def items(ids: range, price: str = "1.5") -> list[dict[str, Any]]:
    return [item({"id": S(f"i{n:02d}"), "price": N(price)}) for n in ids]


def lake(spark: Any, table: str) -> list[tuple[str, str]]:
    return [(r["id"], r["price"]) for r in run_query(spark, f"SELECT id, price FROM lake.tests.{table} ORDER BY id")]


def drop_manifest_line(location: str, line: int) -> None:
    """manifest-files.json without one of its entries (that file's records then are in no listed file)."""
    path = Path(location) / "manifest-files.json"
    lines = path.read_text().splitlines()
    path.write_text("".join(f"{entry}\n" for i, entry in enumerate(lines) if i != line and json.loads(entry)["itemCount"]))


def test_a_full_export_whose_files_hold_fewer_items_than_it_counted_replaces_nothing(
        ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    created = ddb_load("Products", "ddb_partial_full", [export_entry("p0", write_export(tmp_path, "p0", items(range(10))), T0,
                                                                     item_count=10)], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    # The same 10 items, which DynamoDB counted; the manifest lists 2 of its 3 files (their counts agree with them):
    # loaded, the 4 items of the third file would be deleted (40%, under the delete guard).
    location = write_export(tmp_path, "p1", items(range(10)), files=3)
    drop_manifest_line(location, 0)
    result = ddb_load("Products", "ddb_partial_full", [export_entry("p1", location, T1, item_count=10)], KEY, ATTRS,
                      action="replace")
    assert result.status == "failed", (result.action, result.deleted, result.rowCountAfter)
    assert result.error is not None and result.error["class"] == "ExportNotFound", result.error
    assert current_snapshot(spark, "ddb_partial_full") == created.snapshotId
    assert len(lake(spark, "ddb_partial_full")) == 10


def test_an_incremental_window_whose_records_are_not_all_read_merges_nothing(
        ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    created = ddb_load("Products", "ddb_partial_incr", [export_entry("q0", write_export(tmp_path, "q0", items(range(4))), T0,
                                                                     item_count=4)], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    window = [change({"id": S(f"i{n:02d}")}, {"id": S(f"i{n:02d}"), "price": N("9")}, 100 + n) for n in range(4)]
    # manifest-files.json lists one of the two files; DynamoDB counted the 4 change records.
    location = write_export(tmp_path, "q1", window, files=2)
    drop_manifest_line(location, 1)
    result = ddb_load("Products", "ddb_partial_incr", [export_entry("q1", location, T1, "INCREMENTAL", T0, 4)], KEY, ATTRS,
                      action="merge")
    assert result.status == "failed", (result.action, result.updated, result.rowCountAfter)
    assert result.error is not None and result.error["class"] == "ExportNotFound", result.error
    assert current_snapshot(spark, "ddb_partial_incr") == created.snapshotId


def test_an_incremental_window_without_its_manifest_of_files_merges_nothing(
        ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    created = ddb_load("Products", "ddb_partial_nomf", [export_entry("r0", write_export(tmp_path, "r0", items(range(4))), T0,
                                                                     item_count=4)], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    window = [change({"id": S("i01")}, None, 100), change({"id": S("i02")}, {"id": S("i02"), "price": N("9")}, 101)]
    # DynamoDB writes an incremental export's files to the prefix's shared data folder; manifest-files.json is gone.
    location = write_export(tmp_path, "r1", window)
    (Path(location) / "manifest-files.json").unlink()
    result = ddb_load("Products", "ddb_partial_nomf", [export_entry("r1", location, T1, "INCREMENTAL", T0, 2)], KEY, ATTRS,
                      action="merge")
    assert result.status == "failed", (result.action, result.committed, result.rowCountAfter)
    assert result.error is not None and result.error["class"] == "ExportNotFound", result.error
    assert current_snapshot(spark, "ddb_partial_nomf") == created.snapshotId
    assert lake(spark, "ddb_partial_nomf") == [(f"i{n:02d}", "1.50") for n in range(4)]
