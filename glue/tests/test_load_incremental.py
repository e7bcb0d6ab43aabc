"""Incremental loads by cursor: only rows past the lake's max(cursor); append or upsert; never deletes."""
from __future__ import annotations

from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot

EVENTS = [col("id", "bigint"), col("kind", "text"), col("at", "timestamp")]
E1 = [(1, "a", "2024-01-01 00:00:00"), (2, "b", "2024-01-02 00:00:00"), (3, "c", None)]
# An old row changed without moving its cursor is not picked up; rows past the cursor are.
E2 = [(1, "a", "2024-01-01 00:00:00"), (2, "b-changed", "2024-01-02 00:00:00"), (3, "c", None),
      (4, "d", "2024-01-02 00:00:00.000001"), (5, "e", "2024-03-01 12:30:00")]

ACCOUNTS = [col("id", "bigint"), col("balance", "numeric(10,2)"), col("version", "bigint")]
A1 = [(1, "10.00", 1), (2, "20.00", 1), (3, "30.00", 1)]
A2 = [(1, "10.00", 1), (2, "25.00", 2), (4, "40.00", 1)]  # 3 is gone from the source: kept in the lake


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Versions]:
    root = tmp_path_factory.mktemp("incremental")
    return {"events": Versions(root, "shop", "public", "events"), "accounts": Versions(root, "shop", "public", "accounts")}


def test_append_only_rows_past_the_cursor_and_replays_add_nothing(load: Loader, spark: Any,
                                                                  versions: dict[str, Versions]) -> None:
    events = versions["events"]
    first = load(events.export(EVENTS, E1), events.target, "events", action="incremental", cursor_column="at")
    assert (first.status, first.action, first.inserted) == ("succeeded", "create", 3)
    assert (first.cursorColumn, first.cursorValueAfter) == ("at", "2024-01-02T00:00:00.000000")

    v2 = events.export(EVENTS, E2)
    second = load(v2, events.target, "events", action="incremental", cursor_column="at")
    assert second.status == "succeeded", second.error
    assert (second.action, second.rowsRead, second.inserted, second.updated, second.deleted) == ("incremental", 5, 2, 0, 0)
    assert second.cursorValueAfter == "2024-03-01T12:30:00.000000"
    assert [(r["id"], r["kind"]) for r in run_query(spark, "SELECT * FROM lake.tests.events ORDER BY id")] == [
        (1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]

    replay = load(v2, events.target, "events", action="incremental", cursor_column="at")
    assert (replay.action, replay.inserted, replay.committed, replay.rowCountAfter) == ("none", 0, False, 5)
    assert replay.snapshotId == second.snapshotId == current_snapshot(spark, "events")


def test_upsert_by_key_updates_and_inserts_but_never_deletes(load: Loader, spark: Any,
                                                             versions: dict[str, Versions]) -> None:
    accounts = versions["accounts"]
    options = {"primary_key": "id", "cursor_column": "version"}
    first = load(accounts.export(ACCOUNTS, A1), accounts.target, "accounts", action="incremental", **options)
    assert (first.status, first.action, first.cursorValueAfter) == ("succeeded", "create", "1")
    second = load(accounts.export(ACCOUNTS, A2), accounts.target, "accounts", action="incremental", **options)
    assert second.status == "succeeded", second.error
    assert (second.action, second.inserted, second.updated, second.deleted) == ("incremental", 0, 1, 0)
    assert second.cursorValueAfter == "2"
    assert run_query(spark, "SELECT * FROM lake.tests.accounts ORDER BY id") == [
        {"id": 1, "balance": "10.00", "version": 1}, {"id": 2, "balance": "25.00", "version": 2},
        {"id": 3, "balance": "30.00", "version": 1}]
