"""Incremental loads by cursor: rows from lookback below the lake's max(cursor) that the lake lacks; append or upsert; never deletes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot, lake_rows, snapshots

EVENTS = [col("id", "bigint"), col("kind", "text"), col("at", "timestamp")]
E1 = [(1, "a", "2024-01-01 00:00:00"), (2, "b", "2024-01-02 00:00:00"), (3, "c", None)]
# A row changed without moving its cursor, a day below the lake's max (outside the default
# lookback of 1 hour), is not picked up; the tie with the max is already in the lake; rows past it are new.
E2 = [(1, "a-changed", "2024-01-01 00:00:00"), (2, "b", "2024-01-02 00:00:00"), (3, "c", None),
      (4, "d", "2024-01-02 00:00:00.000001"), (5, "e", "2024-03-01 12:30:00")]

ACCOUNTS = [col("id", "bigint"), col("balance", "numeric(10,2)"), col("version", "bigint")]
A1 = [(1, "10.00", 1), (2, "20.00", 1), (3, "30.00", 1)]
A2 = [(1, "10.00", 1), (2, "25.00", 2), (4, "40.00", 1)]  # 3 is gone from the source: kept in the lake; 4 ties with the max


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
    assert (second.action, second.inserted, second.updated, second.deleted) == ("incremental", 1, 1, 0)
    assert second.cursorValueAfter == "2"
    assert run_query(spark, "SELECT * FROM lake.tests.accounts ORDER BY id") == [
        {"id": 1, "balance": "10.00", "version": 1}, {"id": 2, "balance": "25.00", "version": 2},
        {"id": 3, "balance": "30.00", "version": 1}, {"id": 4, "balance": "40.00", "version": 1}]


# Rows the strict `cursor > max` filter used to lose: ties with the lake's max, rows committed
# late with an older cursor (within the lookback), and no duplicates when they are read again.
LOG = [col("id", "bigint"), col("kind", "text"), col("at", "timestamptz")]
BALANCES = [col("id", "bigint"), col("balance", "numeric(10,2)"), col("at", "timestamp")]
VERSIONED = [col("id", "bigint"), col("name", "text"), col("version", "bigint")]


def lake_ids(spark: Any, table: str) -> list[int]:
    return [r["id"] for r in run_query(spark, f"SELECT id FROM lake.tests.{table} ORDER BY id")]


def test_rows_that_tie_with_the_lake_max_arrive(load: Loader, spark: Any, tmp_path: Path) -> None:
    log = Versions(tmp_path, "shop", "public", "inc_tie_log")
    first = load(log.export(LOG, [(1, "a", "2024-05-01 10:00:00+00")]), log.target, "inc_tie_log",
                 action="incremental", cursor_column="at")
    assert first.action == "create"
    # Row 2 was committed after the first export, with the same cursor as the lake's max.
    second = load(log.export(LOG, [(1, "a", "2024-05-01 10:00:00+00"), (2, "b", "2024-05-01 10:00:00+00")]),
                  log.target, "inc_tie_log", action="incremental", cursor_column="at")
    assert (second.status, second.action, second.inserted) == ("succeeded", "incremental", 1), second.error
    assert lake_ids(spark, "inc_tie_log") == [1, 2]

    # A numeric cursor (default lookback 0) keys its window on the max itself: ties arrive too.
    people = Versions(tmp_path, "shop", "public", "inc_tie_people")
    options = {"primary_key": "id", "cursor_column": "version"}
    load(people.export(VERSIONED, [(1, "ann", 1), (2, "bob", 2)]), people.target, "inc_tie_people",
         action="incremental", **options)
    tied = load(people.export(VERSIONED, [(1, "ann", 1), (2, "bob", 2), (3, "cyd", 2)]), people.target,
                "inc_tie_people", action="incremental", **options)
    assert (tied.status, tied.inserted, tied.updated) == ("succeeded", 1, 0), tied.error
    assert lake_ids(spark, "inc_tie_people") == [1, 2, 3]


def test_rows_committed_late_with_an_older_cursor_arrive_within_the_lookback(load: Loader, spark: Any,
                                                                            tmp_path: Path) -> None:
    log = Versions(tmp_path, "shop", "public", "inc_late_log")
    rows = [(1, "a", "2024-05-01 09:00:00+00"), (2, "b", "2024-05-01 10:00:00+00")]
    load(log.export(LOG, rows), log.target, "inc_late_log", action="incremental", cursor_column="at")
    # 3 and 4 were committed after the first export by transactions that started earlier:
    # 3 is within the default lookback of timestamps (1 hour before the lake's max), 4 is not.
    late = rows + [(3, "c", "2024-05-01 09:30:00+00"), (4, "d", "2024-05-01 08:30:00+00"),
                   (5, "e", "2024-05-01 10:05:00+00")]
    second = load(log.export(LOG, late), log.target, "inc_late_log", action="incremental", cursor_column="at")
    assert (second.status, second.action, second.inserted) == ("succeeded", "incremental", 2), second.error
    assert lake_ids(spark, "inc_late_log") == [1, 2, 3, 5]


def test_a_numeric_lookback_counts_cursor_units(load: Loader, spark: Any, tmp_path: Path) -> None:
    seq = Versions(tmp_path, "shop", "public", "inc_seq")
    options = {"cursor_column": "version", "cursor_lookback": "10"}
    load(seq.export(VERSIONED, [(i, f"n{i}", i) for i in range(1, 21) if i not in (5, 12)]), seq.target,
         "inc_seq", action="incremental", **options)
    # Sequence values 5 and 12 were taken by transactions that committed late: 12 is within 10 of
    # the lake's max (20), 5 is not.
    rows = [(i, f"n{i}", i) for i in range(1, 22)]
    second = load(seq.export(VERSIONED, rows), seq.target, "inc_seq", action="incremental", **options)
    assert (second.status, second.inserted) == ("succeeded", 2), second.error
    assert lake_ids(spark, "inc_seq") == [i for i in range(1, 22) if i != 5]


def test_replaying_the_same_export_adds_no_row_and_commits_no_snapshot(load: Loader, spark: Any,
                                                                        tmp_path: Path) -> None:
    # Each second export adds one row within the window and one tie with the lake's max.
    for table, columns, options, rows, grown in (
        ("inc_replay_append", LOG, {"cursor_column": "at"},
         [(1, "a", "2024-05-01 09:00:00+00"), (2, "b", "2024-05-01 10:00:00+00")],
         [(3, "c", "2024-05-01 09:45:00+00"), (4, "d", "2024-05-01 10:00:00+00")]),
        ("inc_replay_upsert", BALANCES, {"primary_key": "id", "cursor_column": "at"},
         [(1, "1.00", "2024-05-01 09:00:00"), (2, "2.00", "2024-05-01 10:00:00")],
         [(3, "3.00", "2024-05-01 09:45:00"), (4, "4.00", "2024-05-01 10:00:00")]),
    ):
        versions = Versions(tmp_path, "shop", "public", table)
        load(versions.export(columns, rows), versions.target, table, action="incremental", **options)
        export = versions.export(columns, rows + grown)
        second = load(export, versions.target, table, action="incremental", **options)
        assert (second.status, second.inserted, second.updated) == ("succeeded", 2, 0), (table, second.error)
        history = snapshots(spark, table)
        replay = load(export, versions.target, table, action="incremental", **options)
        assert replay.status == "succeeded", replay.error
        assert (replay.action, replay.inserted, replay.updated, replay.committed) == ("none", 0, 0, False), table
        assert replay.rowCountAfter == 4 and lake_ids(spark, table) == [1, 2, 3, 4]
        assert replay.snapshotId == second.snapshotId and snapshots(spark, table) == history


def test_with_a_key_a_row_updated_within_the_window_is_updated_not_duplicated(load: Loader, spark: Any,
                                                                             tmp_path: Path) -> None:
    balances = Versions(tmp_path, "shop", "public", "inc_upsert_window")
    options = {"primary_key": "id", "cursor_column": "at"}
    v1 = [(1, "10.00", "2024-05-01 09:00:00"), (2, "20.00", "2024-05-01 10:00:00"), (5, "50.00", "2024-05-01 09:50:00")]
    load(balances.export(BALANCES, v1), balances.target, "inc_upsert_window", action="incremental", **options)
    v2 = [
        (1, "11.00", "2024-05-01 09:40:00"),  # updated by a transaction that committed late
        (2, "21.00", "2024-05-01 10:00:00"),  # updated again within the same cursor value
        (5, "50.00", "2024-05-01 09:50:00"),  # unchanged, within the window
        (3, "30.00", "2024-05-01 10:00:00"),  # new, tie with the lake's max
    ]
    export = balances.export(BALANCES, v2)
    second = load(export, balances.target, "inc_upsert_window", action="incremental", **options)
    assert (second.status, second.inserted, second.updated, second.deleted) == ("succeeded", 1, 2, 0), second.error
    assert lake_rows(spark, "inc_upsert_window") == [
        {"id": 1, "balance": "11.00", "at": "2024-05-01T09:40:00.000000"},
        {"id": 2, "balance": "21.00", "at": "2024-05-01T10:00:00.000000"},
        {"id": 3, "balance": "30.00", "at": "2024-05-01T10:00:00.000000"},
        {"id": 5, "balance": "50.00", "at": "2024-05-01T09:50:00.000000"},
    ]
    # An older export loaded again never moves a row back to an older cursor (row 1); on equal
    # cursors the export's values win (row 2), as they must for a row updated twice within one value.
    older = load(balances.export(BALANCES, v1), balances.target, "inc_upsert_window", action="incremental", **options)
    assert (older.status, older.inserted, older.updated) == ("succeeded", 0, 1), older.error
    assert [r["balance"] for r in lake_rows(spark, "inc_upsert_window")] == ["11.00", "20.00", "30.00", "50.00"]


def test_without_a_key_no_duplicate_is_appended(load: Loader, spark: Any, tmp_path: Path) -> None:
    log = Versions(tmp_path, "shop", "public", "inc_append_dups")
    v1 = [(1, "a", "2024-05-01 09:00:00+00"), (2, "b", "2024-05-01 10:00:00+00")]
    load(log.export(LOG, v1), log.target, "inc_append_dups", action="incremental", cursor_column="at")
    v2 = v1 + [
        (2, "b", "2024-05-01 10:00:00+00"),  # a second identical row in the source: the lake gets it too
        (3, "c", "2024-05-01 09:30:00+00"),  # committed late, within the window
        (4, "d", "2024-05-01 10:30:00+00"),
        (4, "d", "2024-05-01 10:30:00+00"),  # new, twice in the source: both arrive
    ]
    export = log.export(LOG, v2)
    second = load(export, log.target, "inc_append_dups", action="incremental", cursor_column="at")
    assert (second.status, second.inserted) == ("succeeded", 4), second.error
    assert lake_ids(spark, "inc_append_dups") == [1, 2, 2, 3, 4, 4]
    replay = load(export, log.target, "inc_append_dups", action="incremental", cursor_column="at")
    assert (replay.action, replay.inserted, replay.committed, replay.rowCountAfter) == ("none", 0, False, 6)


def test_a_lookback_that_does_not_fit_the_cursor_type_fails_before_anything_is_written(load: Loader, spark: Any,
                                                                                       tmp_path: Path) -> None:
    seq = Versions(tmp_path, "shop", "public", "inc_misfit")
    result = load(seq.export(VERSIONED, [(1, "a", 1)]), seq.target, "inc_misfit", action="incremental",
                  cursor_column="version", cursor_lookback="1h")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument"
    assert "'version' is bigint, so its lookback is a number of cursor units" in result.error["message"]
    assert not spark.catalog.tableExists("lake.tests.inc_misfit")


def test_an_infinity_cursor_pins_the_window_and_the_load_says_so(load: Loader, spark: Any, tmp_path: Path) -> None:
    """'infinity' loads as the largest timestamp: every later window starts there, so rows that arrive with
    a real cursor value are not read; each such load warns, naming the column and the way out."""
    log = Versions(tmp_path, "shop", "public", "inc_inf_log")
    first = load(log.export(LOG, [(1, "a", "2024-05-01 10:00:00+00"), (2, "b", "infinity")]), log.target,
                 "inc_inf_log", action="incremental", cursor_column="at")
    assert first.status == "succeeded", first.error
    second = load(log.export(LOG, [(1, "a", "2024-05-01 10:00:00+00"), (2, "b", "infinity"),
                                   (3, "c", "2024-05-02 10:00:00+00")]),
                  log.target, "inc_inf_log", action="incremental", cursor_column="at")
    assert second.status == "succeeded", second.error
    assert lake_ids(spark, "inc_inf_log") == [1, 2]  # row 3 lies below the pinned window
    assert any("cursor column 'at'" in w and "after today" in w and "merge or replace" in w
               for w in second.warnings), second.warnings


def test_an_upsert_to_a_key_the_lake_repeats_fails_without_changing_the_schema(load: Loader, spark: Any,
                                                                               tmp_path: Path) -> None:
    """The lake holds key 2 twice (written by other means): the refused load leaves the table as it was."""
    counters = Versions(tmp_path, "shop", "public", "inc_repeated_key")
    options = {"primary_key": "id", "cursor_column": "ts", "cursor_mode": "upsert"}
    v1 = [col("id", "bigint"), col("n", "integer"), col("ts", "bigint")]
    first = load(counters.export(v1, [(1, 1, 10), (2, 2, 20)]), counters.target, "inc_repeated_key",
                 action="incremental", **options)
    assert first.status == "succeeded", first.error
    spark.sql("INSERT INTO lake.tests.inc_repeated_key VALUES (2, 3, 20)").collect()
    before = current_snapshot(spark, "inc_repeated_key")
    # The export widens n and adds a column, and changes key 2.
    v2 = [col("id", "bigint"), col("n", "bigint"), col("ts", "bigint"), col("extra", "text")]
    refused = load(counters.export(v2, [(1, 1, 10, None), (2, 3, 20, "x")]), counters.target, "inc_repeated_key",
                   action="incremental", **options)
    assert refused.error is not None and refused.error["class"] == "DuplicateKeys", refused.error
    assert "holds a key of this load's changes on more than one row" in refused.error["message"]
    assert current_snapshot(spark, "inc_repeated_key") == before
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.inc_repeated_key").schema.fields}
    assert types == {"id": "bigint", "n": "int", "ts": "bigint"}


def test_rows_loaded_before_a_column_was_added_are_not_appended_again(load: Loader, spark: Any,
                                                                       tmp_path: Path) -> None:
    # Rows loaded before a column existed hold NULL in it; the export has their values. Rows still inside
    # the window must not look new on any later run just because the lake lacks the new column's values.
    log = Versions(tmp_path, "shop", "public", "inc_added_column")
    narrow = [col("id", "bigint"), col("at", "timestamp")]
    wide = [*narrow, col("note", "text")]
    v1 = [(1, "2024-01-01 10:00:00"), (2, "2024-01-01 10:30:00")]
    v2 = [(1, "2024-01-01 10:00:00", "a"), (2, "2024-01-01 10:30:00", "b"), (3, "2024-01-01 10:40:00", "c")]
    first = load(log.export(narrow, v1), log.target, "inc_added_column", action="incremental", cursor_column="at")
    assert (first.status, first.inserted) == ("succeeded", 2), first.error
    second = load(log.export(wide, v2), log.target, "inc_added_column", action="incremental", cursor_column="at")
    assert (second.status, second.inserted, second.rowCountAfter) == ("succeeded", 1, 3), second.error
    third = load(log.export(wide, v2), log.target, "inc_added_column", action="incremental", cursor_column="at")
    assert third.status == "succeeded", third.error
    ids = [r["id"] for r in lake_rows(spark, "inc_added_column")]
    assert (third.inserted, third.rowCountAfter, ids) == (0, 3, [1, 2, 3])


def test_rows_loaded_before_either_of_two_added_columns_are_not_appended_again(load: Loader, spark: Any,
                                                                                tmp_path: Path) -> None:
    # No column tells these rows apart but the two added later: the lake ends up holding a row older than
    # both columns (NULL, NULL) and one older than b only (a, NULL); each must be matched with the source
    # row it fits, not with another one that merely sorts in its place.
    log = Versions(tmp_path, "shop", "public", "inc_two_added")
    at = "2024-01-01 10:00:00"
    base = [col("kind", "text"), col("at", "timestamp")]
    with_a = [*base, col("a", "bigint")]
    with_b = [*with_a, col("b", "bigint")]

    def step(columns: list[Any], rows: list[tuple[Any, ...]]) -> Any:
        result = load(log.export(columns, rows), log.target, "inc_two_added", action="incremental", cursor_column="at")
        assert result.status == "succeeded", result.error
        return result

    assert step(base, [("x", at)]).inserted == 1
    assert step(with_a, [("x", at, 5), ("x", at, 9)]).inserted == 1  # compared on kind and at only
    # a is compared now (b is new): one row is exactly in the lake, the older one fits another.
    assert (step(with_b, [("x", at, 5, 50), ("x", at, 9, 90), ("x", at, 1, 10)]).inserted,
            spark.table("lake.tests.inc_two_added").count()) == (1, 3)
    v4 = [("x", at, 5, 50), ("x", at, 9, 90), ("x", at, 1, 10), ("x", at, 7, 70)]
    fourth = step(with_b, v4)
    assert (fourth.inserted, fourth.rowCountAfter) == (1, 4)
    replay = step(with_b, v4)
    assert (replay.inserted, replay.committed, replay.rowCountAfter) == (0, False, 4)
    rows = run_query(spark, "SELECT a, b FROM lake.tests.inc_two_added")
    patterns = sorted((r["a"] is None, r["b"] is None) for r in rows)
    assert patterns == [(False, False), (False, False), (False, True), (True, True)]


def test_an_append_that_failed_after_adding_a_column_is_completed_by_the_rerun(
        load: Loader, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakesync_glue import loader

    log = Versions(tmp_path, "shop", "public", "inc_failed_between")
    narrow = [col("id", "bigint"), col("at", "timestamp")]
    wide = [*narrow, col("note", "text")]
    v1 = [(1, "2024-01-01 10:00:00"), (2, "2024-01-01 10:30:00")]
    v2 = [(1, "2024-01-01 10:00:00", "a"), (2, "2024-01-01 10:30:00", "b"), (3, "2024-01-01 10:40:00", "c")]
    load(log.export(narrow, v1), log.target, "inc_failed_between", action="incremental", cursor_column="at")
    real = loader._Load.commit

    def lost(self: Any, what: str, statement: str) -> None:
        if what == "incremental append":
            raise RuntimeError("the worker lost its connection")
        real(self, what, statement)

    monkeypatch.setattr(loader._Load, "commit", lost)
    export = log.export(wide, v2)
    failed = load(export, log.target, "inc_failed_between", action="incremental", cursor_column="at")
    assert failed.status == "failed"
    assert "note" in [f.name for f in spark.table("lake.tests.inc_failed_between").schema.fields]  # the ALTER landed
    monkeypatch.undo()
    rerun = load(export, log.target, "inc_failed_between", action="incremental", cursor_column="at")
    assert rerun.status == "succeeded", rerun.error
    ids = [r["id"] for r in lake_rows(spark, "inc_failed_between")]
    assert (rerun.inserted, rerun.rowCountAfter, ids) == (1, 3, [1, 2, 3])
