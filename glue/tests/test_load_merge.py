"""Full-mode merge by primary key: change sets, idempotence, duplicate keys and the delete guards."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue.result import LoadResult
from scenario import Versions, current_snapshot, lake_rows, snapshots

COLS = [col("id", "bigint"), col("name", "text"), col("price", "numeric(10,2)"), col("updated", "timestamptz")]


def row(i: int, name: str | None = None, price: str | None = None) -> tuple[Any, ...]:
    return (i, name if name is not None else f"item {i}", price if price is not None else f"{i}.50",
            f"2024-05-0{1 + i % 9} 10:00:00+00")


def expected(r: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": r[0], "name": r[1], "price": r[2], "updated": r[3].replace(" ", "T").replace(":00+00", ":00.000000Z")}


V1 = [row(i) for i in range(1, 21)]
# v2: ids 3, 4, 5 updated (one to NULL), 19 and 20 deleted, 21..24 inserted
V2 = [r for r in V1 if r[0] not in (3, 4, 5, 19, 20)] + [
    row(3, name="renamed"), row(4, price="99.99"), (5, None, "5.50", row(5)[3]),
] + [row(i) for i in range(21, 25)]


class State:
    results: dict[str, LoadResult] = {}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return Versions(tmp_path_factory.mktemp("merge"), "shop", "public", "products")


@pytest.fixture(scope="module")
def v1(versions: Versions) -> str:
    return versions.export(COLS, V1, batches=2)


@pytest.fixture(scope="module")
def v2(versions: Versions) -> str:
    return versions.export(COLS, V2, batches=3)


def test_merge_on_a_missing_table_creates_it(load: Loader, spark: Any, v1: str) -> None:
    result = load(v1, "shop.public.products", "products", action="merge", primary_key="id")
    assert result.status == "succeeded", result.error
    assert (result.action, result.rowsRead, result.inserted, result.updated, result.deleted) == ("create", 20, 20, 0, 0)
    assert result.committed and result.rowCountAfter == 20
    assert result.snapshotId == current_snapshot(spark, "products")
    assert lake_rows(spark, "products") == [expected(r) for r in V1]
    State.results["v1"] = result


def test_merge_writes_exactly_the_changes(load: Loader, spark: Any, v2: str) -> None:
    # `create` asked for a table that exists: the job merges and reports what it did.
    result = load(v2, "shop.public.products", "products", action="create", primary_key="id")
    assert result.status == "succeeded", result.error
    assert (result.action, result.rowsRead) == ("merge", len(V2))
    assert (result.inserted, result.updated, result.deleted) == (4, 3, 2)
    assert result.rowCountAfter == 22 and result.committed
    assert result.snapshotId == current_snapshot(spark, "products") != State.results["v1"].snapshotId
    assert lake_rows(spark, "products") == sorted((expected(r) for r in V2), key=lambda r: r["id"])
    last = snapshots(spark, "products")[-1]["summary"]
    # Merge-on-read: 7 rows written (4 inserts + 3 updated versions), 5 position deletes, no data file rewritten.
    assert last["added-records"] == "7"
    assert last["added-position-deletes"] == "5"
    assert "deleted-data-files" not in last
    State.results["v2"] = result


def test_the_same_load_again_commits_nothing(load: Loader, spark: Any, v2: str) -> None:
    before = snapshots(spark, "products")
    result = load(v2, "shop.public.products", "products", action="merge", primary_key="id")
    assert result.status == "succeeded", result.error
    assert (result.action, result.inserted, result.updated, result.deleted, result.committed) == ("none", 0, 0, 0, False)
    assert result.snapshotId == State.results["v2"].snapshotId
    assert result.schemaHash == State.results["v2"].schemaHash
    assert snapshots(spark, "products") == before
    assert lake_rows(spark, "products") == sorted((expected(r) for r in V2), key=lambda r: r["id"])


def test_compaction_between_loads_changes_nothing_logically(load: Loader, spark: Any, v2: str) -> None:
    # What S3 Tables maintenance does: rewrite the files and apply the position deletes.
    spark.sql("CALL lake.system.rewrite_data_files(table => 'tests.products', options => map('min-input-files', '1'))").collect()
    compacted = current_snapshot(spark, "products")
    assert compacted != State.results["v2"].snapshotId
    result = load(v2, "shop.public.products", "products", action="merge", primary_key="id")
    assert (result.action, result.committed, result.rowCountAfter) == ("none", False, 22)
    assert result.snapshotId == compacted  # the current snapshot, even though this run committed nothing


def test_duplicate_and_null_keys_fail_with_examples(load: Loader, spark: Any, versions: Versions) -> None:
    bad = versions.export(COLS, V2 + [row(7, name="again"), row(7, name="and again"), (None, "no key", "1.00", row(1)[3])])
    before = current_snapshot(spark, "products")
    result = load(bad, "shop.public.products", "products", action="merge", primary_key="id", show_values="true")
    assert result.status == "failed" and result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("DuplicateKeys", False)
    message = result.error["message"]
    assert "shop.public.products" in message and "primary key (id)" in message
    assert "1 key value(s) appear in more than one row" in message and "(id=7) x3" in message
    assert "1 row(s) have a NULL key column" in message and "(id=None) x1" in message
    assert current_snapshot(spark, "products") == before


def test_delete_guard_refuses_then_approval_applies(load: Loader, spark: Any, versions: Versions) -> None:
    few = versions.export(COLS, V2[:5])
    before = current_snapshot(spark, "products")
    refused = load(few, "shop.public.products", "products", action="merge", primary_key="id")
    assert refused.status == "failed" and refused.error is not None
    assert (refused.error["class"], refused.error["retryable"]) == ("DeleteGuard", False)
    assert "would delete 17 of 22 rows" in refused.error["message"]
    assert "approve the deletes" in refused.error["message"]
    assert refused.snapshotId == before and refused.rowCountAfter == 22
    assert current_snapshot(spark, "products") == before

    allowed = load(few, "shop.public.products", "products", action="merge", primary_key="id", max_delete_fraction="0.8")
    assert allowed.status == "succeeded", allowed.error
    assert (allowed.deleted, allowed.rowCountAfter) == (17, 5)


def test_empty_export_is_refused_unless_approved(load: Loader, spark: Any, versions: Versions, tmp_path: Any) -> None:
    empty = versions.export(COLS, [])
    before = current_snapshot(spark, "products")
    refused = load(empty, "shop.public.products", "products", action="merge", primary_key="id")
    assert refused.error is not None and refused.error["class"] == "EmptyExport"
    assert "has no rows" in refused.error["message"] and "approve the deletes" in refused.error["message"]
    assert current_snapshot(spark, "products") == before

    approved = load(empty, "shop.public.products", "products", action="merge", primary_key="id", approve_deletes="true")
    assert approved.status == "succeeded", approved.error
    assert (approved.rowsRead, approved.deleted, approved.rowCountAfter) == (0, 5, 0)
    assert lake_rows(spark, "products") == []


def test_result_json_on_disk_matches_the_contract(load: Loader, tmp_path: Any, v1: str) -> None:
    result = load(v1, "shop.public.products", "products", action="merge", primary_key="id")
    files = sorted((tmp_path / "results").glob("products-*.json"))
    document = json.loads(files[-1].read_text())
    assert list(document) == [
        "table", "lakeTable", "status", "action", "rowsRead", "inserted", "updated", "deleted", "rowCountAfter",
        "cursorColumn", "cursorValueAfter", "snapshotId", "committed", "schemaChanges", "droppedColumns",
        "schemaHash", "cycleId", "runToken", "startedAt", "finishedAt", "error",
    ]
    assert document == result.to_dict()
    assert document["table"] == "shop.public.products" and document["lakeTable"] == "tests.products"
    assert (document["action"], document["inserted"], document["rowCountAfter"]) == ("merge", 20, 20)
    assert isinstance(document["snapshotId"], str) and document["snapshotId"].isdigit()
    assert document["cycleId"] == "cycle-1" and document["runToken"] == "token-1"
    assert document["startedAt"].endswith("Z") and document["startedAt"] <= document["finishedAt"]
    assert len(document["schemaHash"]) == 64 and document["error"] is None


def test_a_local_table_keeps_a_bounded_number_of_metadata_files(load: Loader, spark: Any, warehouse: str,
                                                                 tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each commit writes a metadata file; a local table deletes those past its newest few (Iceberg's
    write.metadata.* properties), also one made before lakesync set them. Rows, snapshots and time travel stay."""
    from pathlib import Path

    from lakesync_glue import maintenance

    monkeypatch.setattr(maintenance, "METADATA_VERSIONS_KEPT", 2)  # a small bound: few commits show it
    table = "bounded_metadata"
    versions = Versions(tmp_path, "shop", "public", table)
    exports = [versions.export(COLS, rows) for rows in (V1, V2, V1)]
    folder = Path(warehouse) / "tests" / table / "metadata"
    files = lambda: sorted(int(p.name[1:].split(".")[0]) for p in folder.glob("v*.metadata.json"))  # noqa: E731
    props = lambda: {r[0]: r[1] for r in spark.sql(f"SHOW TBLPROPERTIES lake.tests.{table}").collect()}  # noqa: E731
    bounded = {"write.metadata.delete-after-commit.enabled": "true", "write.metadata.previous-versions-max": "2"}

    created = load(exports[0], versions.target, table, action="merge", primary_key="id")
    assert created.status == "succeeded", created.error
    assert bounded.items() <= props().items(), "a new table bounds its metadata files from its first commit"
    # A table made by an earlier version, without them, whose metadata log no longer lists its oldest
    # file (a log holds the newest 100 unless set otherwise; here 1 for a while): v1 is untracked.
    alter = lambda sql: spark.sql(f"ALTER TABLE lake.tests.{table} {sql}").collect()  # noqa: E731
    alter("UNSET TBLPROPERTIES ('write.metadata.delete-after-commit.enabled')")
    alter("SET TBLPROPERTIES ('write.metadata.previous-versions-max' = '1')")
    alter("UNSET TBLPROPERTIES ('write.metadata.previous-versions-max')")
    assert files() == [1, 2, 3, 4]
    assert not ({"write.metadata.delete-after-commit.enabled", "write.metadata.previous-versions-max"} & props().keys())

    results = [load(e, versions.target, table, action="merge", primary_key="id") for e in exports[1:]]
    assert [r.status for r in results] == ["succeeded"] * 2, [r.error for r in results]
    assert bounded.items() <= props().items(), "the existing table got them with its next load"
    kept = files()
    assert len(kept) == 3 and kept[0] > 4, f"the current metadata file and the 2 before it, no more: {kept}"
    # Nothing but metadata files went: the rows, every snapshot, and time travel to the first load.
    assert results[-1].committed and current_snapshot(spark, table) == results[-1].snapshotId
    assert lake_rows(spark, table) == [expected(r) for r in V1]
    assert [s["id"] for s in snapshots(spark, table)] == [created.snapshotId, results[0].snapshotId, results[-1].snapshotId]
    first = spark.sql(f"SELECT count(*) FROM lake.tests.{table} VERSION AS OF {created.snapshotId}").collect()[0][0]
    assert first == len(V1)


@pytest.mark.parametrize("damage", ["empty", "truncated", "not parquet"])
@pytest.mark.parametrize("action", ["merge", "replace"])
def test_a_damaged_part_file_is_refused_naming_it_and_not_retried(load: Loader, spark: Any, tmp_path: Any,
                                                                   damage: str, action: str) -> None:
    """A part file of the export that is empty, cut short or no Parquet at all holds rows no load can read:
    the load writes nothing and says which file is damaged and what to do, without retrying a load that would
    fail the same way each time."""
    from pathlib import Path

    table = f"damaged_{action}_{damage.replace(' ', '_')}"
    versions = Versions(tmp_path, "shop", "public", table)
    key = {"primary_key": "id"} if action == "merge" else {}
    first = load(versions.export(COLS, V1, batches=2, parts_per_batch=2), versions.target, table, action=action, **key)
    assert first.status == "succeeded", first.error
    before = current_snapshot(spark, table)

    export = versions.export(COLS, V1, batches=2, parts_per_batch=2)
    victim = sorted(Path(export).rglob("*.gz.parquet"))[1]
    content = victim.read_bytes()
    victim.write_bytes({"empty": b"", "truncated": content[: len(content) // 2],
                        "not parquet": b"PAR1" + b"x" * 64}[damage])
    refused = load(export, versions.target, table, action=action, **key)
    assert refused.status == "failed" and refused.error is not None
    assert (refused.error["class"], refused.error["retryable"]) == ("ExportNotFound", False), refused.error
    message = refused.error["message"]
    assert victim.name in message and "not a readable Parquet file" in message and "run a new sync" in message, message
    assert current_snapshot(spark, table) == before
    assert lake_rows(spark, table) == [expected(r) for r in V1]
