"""FULL exports of a DynamoDB table: create, replace under the delete guard, replay, older exports, layouts."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dynamodbkit import N, S, DdbLoad, data_file, ddb_load, export_entry, item, result_json, write_export  # noqa: F401 - the fixture
from lakesync_glue.query import run_query
from scenario import current_snapshot, snapshots

KEY = [("id", "S")]
ATTRS = {"price": "decimal(10,2)"}
T1, T2, T3 = "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"


def items(ids: range, price: str = "1.5") -> list[dict[str, Any]]:
    return [item({"id": S(f"i{n:02d}"), "price": N(price), "n": N(n)}) for n in ids]


def lake(spark: Any, table: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r["id"], r["price"], json.loads(r["_attributes"]))
            for r in run_query(spark, f"SELECT * FROM lake.tests.{table} ORDER BY id")]


def test_create_replace_guard_replay_and_older_export(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    e1 = export_entry("e1", write_export(tmp_path, "e1", items(range(10))), T1, item_count=10)
    created = ddb_load("Products", "ddb_full", [e1], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    assert (created.action, created.rowsRead, created.inserted, created.rowCountAfter, created.committed) == ("create", 10, 10, 10, True)
    assert lake(spark, "ddb_full")[0] == ("i00", "1.50", {"n": {"N": "0"}})
    summary = snapshots(spark, "ddb_full")[-1]["summary"]
    assert (summary["lakesync.export-id"], summary["lakesync.snapshot-time"]) == ("e1", T1)

    # Replaying the same export commits nothing.
    replay = ddb_load("Products", "ddb_full", [e1], KEY, ATTRS, action="replace")
    assert replay.status == "succeeded", replay.error
    assert (replay.action, replay.committed, replay.inserted, replay.deleted) == ("none", False, 0, 0)
    assert replay.snapshotId == created.snapshotId

    # A replace deleting 6 of 10 rows (> 0.5) fails and writes nothing; approved, it loads with exact counts.
    e2 = export_entry("e2", write_export(tmp_path, "e2", items(range(6, 12), price="2")), T2)
    guarded = ddb_load("Products", "ddb_full", [e2], KEY, ATTRS, action="replace")
    assert guarded.status == "failed" and guarded.error is not None and guarded.error["class"] == "DeleteGuard"
    assert current_snapshot(spark, "ddb_full") == created.snapshotId
    approved = ddb_load("Products", "ddb_full", [e2], KEY, ATTRS, action="replace", approve_deletes="true")
    assert approved.status == "succeeded", approved.error
    # replace counts rows as multisets: 6 new rows (4 changed ids + 2 new), 10 gone.
    assert (approved.action, approved.inserted, approved.deleted, approved.rowCountAfter) == ("replace", 6, 10, 6)
    assert [r[:2] for r in lake(spark, "ddb_full")] == [(f"i{n:02d}", "2.00") for n in range(6, 12)]

    # The lake now holds T2: an export of T1 is refused, nothing written.
    older = ddb_load("Products", "ddb_full", [export_entry("e1", e1["location"], T1)], KEY, ATTRS, action="replace",
                     approve_deletes="true")
    assert older.status == "failed" and older.error is not None and older.error["class"] == "OlderExport"
    assert "--allow-older-export" in older.error["message"]
    assert current_snapshot(spark, "ddb_full") == approved.snapshotId


def test_declared_attribute_in_no_item_fails_the_table(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    e1 = export_entry("m1", write_export(tmp_path, "m1", items(range(3))), T1)
    result = ddb_load("Products", "ddb_missing", [e1], KEY, {"Price": "decimal(10,2)"})
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "DeclaredAttributeMissing" and result.error["retryable"] is False
    assert "'Price'" in result.error["message"] and "case-sensitive" in result.error["message"]
    assert not run_query(spark, "SHOW TABLES IN lake.tests LIKE 'ddb_missing'")


def test_a_data_folder_without_manifests_is_read_whole(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    # moto writes data/<uuid>.gz and no manifest-files.json.
    location = write_export(tmp_path, "moto1", items(range(5)), manifest=False, files=3, suffix=".gz")
    result = ddb_load("Products", "ddb_moto", [export_entry("moto1", location, T1)], KEY, ATTRS)
    assert result.status == "succeeded", result.error
    assert (result.rowsRead, result.rowCountAfter) == (5, 5)


def test_manifest_lists_the_data_files_and_their_counts(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    location = write_export(tmp_path, "man1", items(range(4)))
    # A stray file in data/ that the manifest does not list is not this export's.
    stray_location = write_export(tmp_path / "stray", "man1", items(range(100, 103)), manifest=False, files=1)
    stray = next((Path(stray_location) / "data").iterdir())
    stray.rename(Path(location) / "data" / stray.name)
    result = ddb_load("Products", "ddb_manifest", [export_entry("man1", location, T1)], KEY, ATTRS)
    assert result.status == "succeeded", result.error
    assert (result.rowsRead, result.rowCountAfter) == (4, 4)
    # A listed file gone: the table fails instead of loading a part.
    listed = data_file(tmp_path, location)
    assert listed.parent == Path(location) / "data", "a FULL export's data files are in its own data/ folder"
    listed.unlink()
    gone = ddb_load("Products", "ddb_manifest", [export_entry("man1", location, T1)], KEY, ATTRS, action="replace")
    assert gone.status == "failed" and gone.error is not None and gone.error["class"] == "ExportNotFound"
    assert "export man1" in gone.error["message"] and str(listed) in gone.error["message"]
    assert "run a new sync" in gone.error["message"]


def test_result_json_of_a_dynamodb_load(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    e1 = export_entry("r1", write_export(tmp_path, "r1", items(range(3))), T3)
    result = ddb_load("Products", "ddb_result", [e1], KEY, ATTRS)
    written = result_json(str(tmp_path / "results" / "ddb_result-1.json"))
    assert written["extract"] == "dynamodb" and written["status"] == "succeeded"
    assert (written["rowsRead"], written["inserted"], written["updated"], written["deleted"]) == (3, 3, 0, 0)
    assert written["committed"] is True and written["snapshotId"] == current_snapshot(spark, "ddb_result")
    assert len(written["schemaHash"]) == 64 and written["table"] == "dynamodb.Products"
    assert "window" not in written and result.extract == "dynamodb"


def test_a_declared_type_change_needs_a_rebuild(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    e1 = export_entry("t1", write_export(tmp_path, "t1", items(range(3))), T1)
    assert ddb_load("Products", "ddb_retype", [e1], KEY, ATTRS).status == "succeeded"
    e2 = export_entry("t2", write_export(tmp_path, "t2", items(range(3))), T2)
    # price declared json (its DynamoDB JSON as text): a string column where the lake has decimal(10,2).
    conflict = ddb_load("Products", "ddb_retype", [e2], KEY, {"price": "json"}, action="replace")
    assert conflict.status == "failed" and conflict.error is not None and conflict.error["class"] == "SchemaConflict"
    assert "'price'" in conflict.error["message"]
    assert "(lakesync rerun shop --rebuild dynamodb.Products)" in conflict.error["message"]
    rebuilt = ddb_load("Products", "ddb_retype", [e2], KEY, {"price": "json"}, action="replace", rebuild="true")
    assert rebuilt.status == "succeeded", rebuilt.error
    assert rebuilt.schemaChanges == ["rebuilt column price from decimal(10,2) to string"]
    assert [r[1] for r in lake(spark, "ddb_retype")] == ['{"N":"1.5"}'] * 3


def test_a_full_export_of_another_source_never_replaces_its_table(ddb_load: DdbLoad, spark: Any, tmp_path: Path) -> None:
    """Two DynamoDB sources with one lake table: the second's FULL export must not delete the first's rows."""
    e1 = export_entry("e1", write_export(tmp_path, "e1", items(range(4))), T1, item_count=4)
    created = ddb_load("Products", "ddb_two_sources", [e1], KEY, ATTRS, source="shop")
    assert created.status == "succeeded", created.error
    before = lake(spark, "ddb_two_sources")
    e2 = export_entry("e2", write_export(tmp_path, "e2", items(range(10, 12))), T2, item_count=2)
    refused = ddb_load("Products", "ddb_two_sources", [e2], KEY, ATTRS, action="replace", approve_deletes="true",
                       source="staging")
    assert refused.status == "failed" and refused.error is not None and refused.error["class"] == "OtherSource", refused.error
    assert "holds the rows of source shop" in refused.error["message"]
    assert current_snapshot(spark, "ddb_two_sources") == created.snapshotId
    assert lake(spark, "ddb_two_sources") == before
    inc = export_entry("e3", write_export(tmp_path, "e3", items(range(20, 21))), T3, type_="INCREMENTAL", from_=T1)
    merged = ddb_load("Products", "ddb_two_sources", [inc], KEY, ATTRS, action="merge", source="staging")
    assert merged.status == "failed" and merged.error is not None and merged.error["class"] == "OtherSource", merged.error
    assert lake(spark, "ddb_two_sources") == before


def test_a_full_export_of_another_table_of_the_source_never_replaces_its_table(ddb_load: DdbLoad, spark: Any,
                                                                                tmp_path: Path) -> None:
    """Two DynamoDB tables of one source (Products and products) with one lake table: neither replaces the other's rows."""
    e1 = export_entry("e1", write_export(tmp_path, "e1", items(range(4))), T1, item_count=4)
    created = ddb_load("Products", "ddb_two_tables", [e1], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    assert snapshots(spark, "ddb_two_tables")[-1]["summary"]["lakesync.source-table"] == "dynamodb.Products"
    before = lake(spark, "ddb_two_tables")
    e2 = export_entry("e2", write_export(tmp_path, "e2", items(range(2, 5))), T2, item_count=3)
    refused = ddb_load("products", "ddb_two_tables", [e2], KEY, ATTRS, action="replace", approve_deletes="true")
    assert refused.status == "failed" and refused.error is not None and refused.error["class"] == "OtherSource", refused.error
    for part in ("holds the rows of table dynamodb.Products of source shop (export e1", "not of table dynamodb.products",
                 "lakeName", "lakesync rerun shop --rebuild dynamodb.products"):
        assert part in refused.error["message"], f"{part!r} missing from: {refused.error['message']}"
    inc = export_entry("e3", write_export(tmp_path, "e3", items(range(3, 5))), T3, type_="INCREMENTAL", from_=T1)
    merged = ddb_load("products", "ddb_two_tables", [inc], KEY, ATTRS, action="merge")
    assert merged.status == "failed" and merged.error is not None and merged.error["class"] == "OtherSource", merged.error
    assert current_snapshot(spark, "ddb_two_tables") == created.snapshotId
    assert lake(spark, "ddb_two_tables") == before

    # A rebuild takes the lake table over (the table was renamed), and its own table then loads it.
    taken = ddb_load("products", "ddb_two_tables", [e2], KEY, ATTRS, action="replace", rebuild="true",
                     approve_deletes="true")
    assert (taken.status, taken.committed) == ("succeeded", True), taken.error
    assert [r[0] for r in lake(spark, "ddb_two_tables")] == ["i02", "i03", "i04"]
    assert snapshots(spark, "ddb_two_tables")[-1]["summary"]["lakesync.source-table"] == "dynamodb.products"
    again = ddb_load("products", "ddb_two_tables", [inc], KEY, ATTRS, action="merge")
    assert again.status == "succeeded", again.error


def test_a_newer_export_committed_while_a_full_export_loads_is_not_overwritten(ddb_load: DdbLoad, spark: Any,
                                                                                tmp_path: Path, monkeypatch: Any) -> None:
    """The FULL export of T2 passed the guards when its load began; the table reached T3 before its replace."""
    from lakesync_glue import dynamodb_load, lineage

    e1 = export_entry("e1", write_export(tmp_path, "e1", items(range(4))), T1, item_count=4)
    assert ddb_load("Products", "ddb_overtaken", [e1], KEY, ATTRS).status == "succeeded"
    real = dynamodb_load._check_export

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        newer = {lineage.SOURCE: "shop", lineage.EXPORT_ID: "e3", lineage.SNAPSHOT_TIME: T3, lineage.CYCLE_ID: "c3"}
        lineage.with_commit_properties(spark, newer, lambda: spark.sql(
            "UPDATE lake.tests.ddb_overtaken SET price = 9 WHERE id = 'i01'").collect())
        return real(*args, **kwargs)

    monkeypatch.setattr(dynamodb_load, "_check_export", meanwhile)
    e2 = export_entry("e2", write_export(tmp_path, "e2", items(range(10, 12))), T2, item_count=2)
    older = ddb_load("Products", "ddb_overtaken", [e2], KEY, ATTRS, action="replace", approve_deletes="true", source="shop")
    monkeypatch.undo()
    assert older.error is not None and older.error["class"] == "OlderExport", (older.status, older.error)
    assert [r[:2] for r in lake(spark, "ddb_overtaken")] == [("i00", "1.50"), ("i01", "9.00"), ("i02", "1.50"), ("i03", "1.50")]


def test_a_full_export_that_changes_no_row_still_records_the_export_time_it_reached(ddb_load: DdbLoad, spark: Any,
                                                                                       tmp_path: Path) -> None:
    """A quiet table replaced from a FULL export (a gap too long for incremental windows, recovery that no longer
    reaches the lake's time): the next cycle must plan its windows from this export's time, not from the old one,
    or every cycle takes a FULL export again for as long as the table stays unchanged."""
    e1 = export_entry("q1", write_export(tmp_path, "q1", items(range(5))), T1, item_count=5)
    created = ddb_load("Products", "ddb_quiet_full", [e1], KEY, ATTRS)
    assert created.status == "succeeded", created.error
    e2 = export_entry("q2", write_export(tmp_path, "q2", items(range(5))), T2, item_count=5)
    replaced = ddb_load("Products", "ddb_quiet_full", [e2], KEY, ATTRS, action="replace")
    assert replaced.status == "succeeded", replaced.error
    assert (replaced.inserted, replaced.updated, replaced.deleted) == (0, 0, 0)
    summary = snapshots(spark, "ddb_quiet_full")[-1]["summary"]
    assert (summary["lakesync.export-id"], summary["lakesync.snapshot-time"]) == ("q2", T2)
    assert [r[0] for r in lake(spark, "ddb_quiet_full")] == [f"i{n:02d}" for n in range(5)]
    # The same export again: its time is already recorded, nothing more is committed.
    again = ddb_load("Products", "ddb_quiet_full", [e2], KEY, ATTRS, action="replace")
    assert (again.status, again.committed) == ("succeeded", False), again.error
    assert again.snapshotId == current_snapshot(spark, "ddb_quiet_full")
    # So is a rebuild whose FULL export changes no row.
    e3 = export_entry("q3", write_export(tmp_path, "q3", items(range(5))), T3, item_count=5)
    rebuilt = ddb_load("Products", "ddb_quiet_full", [e3], KEY, ATTRS, action="replace", rebuild="true")
    assert rebuilt.status == "succeeded", rebuilt.error
    summary = snapshots(spark, "ddb_quiet_full")[-1]["summary"]
    assert (summary["lakesync.export-id"], summary["lakesync.snapshot-time"]) == ("q3", T3)
