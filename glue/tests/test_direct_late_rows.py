"""Direct windows on a real PostgreSQL: rows committed below the window's lower bound after the
previous window read their range (a transaction longer than the lookback) are loaded once, with a
warning, instead of being skipped for good."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Loader, PgServer
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions


def lake_ids(spark: Any, table: str) -> list[int]:
    return [r["id"] for r in run_query(spark, f"SELECT id FROM lake.tests.{table} ORDER BY id")]


def source_ids(postgres: PgServer, table: str) -> list[int]:
    return [int(r[0]) for r in postgres.sql(f"SELECT id FROM {table} ORDER BY id")]


def test_a_row_committed_below_the_window_after_its_range_was_read_is_loaded_once(direct_load: Loader,
                                                                               postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TABLE d_late (id bigint, kind text)")
    postgres.sql("INSERT INTO d_late SELECT g, 'a' FROM generate_series(1, 20) g")
    assert direct_load("d_late", "d_late", action="create", cursor_column="id").succeeded
    # 24 is taken by a transaction that commits after the next window read 20..30.
    postgres.sql("INSERT INTO d_late SELECT g, 'b' FROM generate_series(21, 30) g WHERE g <> 24")
    second = direct_load("d_late", "d_late", cursor_column="id")
    assert (second.status, second.inserted, second.window and second.window["from"]) == ("succeeded", 9, "20")
    postgres.sql("INSERT INTO d_late VALUES (24, 'late'), (31, 'c')")
    third = direct_load("d_late", "d_late", cursor_column="id")
    assert third.status == "succeeded", third.error
    assert (third.inserted, third.cursorValueAfter) == (2, "31")
    assert third.window is not None and third.window["from"] == "20"
    assert any("1 row(s) with a cursor value from 20 to below 30" in w and "lookback" in w for w in third.warnings), third.warnings
    assert lake_ids(spark, "d_late") == source_ids(postgres, "d_late")
    replay = direct_load("d_late", "d_late", cursor_column="id")
    assert (replay.status, replay.inserted) == ("succeeded", 0), replay.error
    assert replay.window is not None and replay.window["from"] == "31" and replay.warnings == []
    assert lake_ids(spark, "d_late") == source_ids(postgres, "d_late")


def test_a_timestamp_row_committed_later_than_the_lookback_is_loaded_once(direct_load: Loader, postgres: PgServer,
                                                                         spark: Any) -> None:
    postgres.sql("CREATE TABLE d_late_ts (id int, at timestamptz)")
    postgres.sql("INSERT INTO d_late_ts SELECT g, timestamptz '2024-05-01 00:00+00' + g * interval '1 hour' FROM generate_series(1, 5) g")
    options = {"cursor_column": "at", "cursor_lookback": "1h"}
    assert direct_load("d_late_ts", "d_late_ts", action="create", **options).succeeded
    postgres.sql("INSERT INTO d_late_ts SELECT g, timestamptz '2024-05-01 00:00+00' + g * interval '1 hour' FROM generate_series(6, 10) g WHERE g <> 7")
    assert direct_load("d_late_ts", "d_late_ts", **options).inserted == 4
    postgres.sql("INSERT INTO d_late_ts VALUES (7, '2024-05-01 07:00+00'), (11, '2024-05-01 11:00+00')")
    third = direct_load("d_late_ts", "d_late_ts", **options)
    assert (third.status, third.inserted) == ("succeeded", 2), third.error
    assert any("committed after an earlier window" in w for w in third.warnings), third.warnings
    assert lake_ids(spark, "d_late_ts") == source_ids(postgres, "d_late_ts")


def test_a_cursor_column_whose_type_changed_fails_saying_how_to_rebuild(direct_load: Loader, postgres: PgServer,
                                                                       spark: Any) -> None:
    postgres.sql("CREATE TABLE d_retyped (id int, kind text)")
    postgres.sql("INSERT INTO d_retyped SELECT g, 'a' FROM generate_series(1, 20) g")
    assert direct_load("d_retyped", "d_retyped", action="create", cursor_column="id").succeeded
    postgres.sql("ALTER TABLE d_retyped ALTER COLUMN id TYPE text")
    postgres.sql("INSERT INTO d_retyped VALUES ('3', 'x'), ('100', 'n')")
    result = direct_load("d_retyped", "d_retyped", cursor_column="id")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "SchemaConflict"
    message = result.error["message"]
    assert "column 'id' is int in the lake but string (text) in the source" in message, message
    assert ('set tables."public.d_retyped".extract: export, run lakesync rerun shop --rebuild public.d_retyped, '
            "then set extract: direct again") in message, message
    assert lake_ids(spark, "d_retyped") == list(range(1, 21))


def test_a_row_committed_late_during_the_create_is_loaded_by_the_next_load(direct_load: Loader, postgres: PgServer,
                                                                           spark: Any) -> None:
    postgres.sql("CREATE TABLE d_late_create (id bigint, kind text)")
    # 15 is taken by a transaction that commits after the create read 1..20.
    postgres.sql("INSERT INTO d_late_create SELECT g, 'a' FROM generate_series(1, 20) g WHERE g <> 15")
    create = direct_load("d_late_create", "d_late_create", action="create", cursor_column="id")
    assert (create.status, create.inserted) == ("succeeded", 19), create.error
    postgres.sql("INSERT INTO d_late_create VALUES (15, 'late'), (21, 'b')")
    second = direct_load("d_late_create", "d_late_create", cursor_column="id")
    assert (second.status, second.inserted) == ("succeeded", 2), second.error
    assert any("1 row(s) with a cursor value from 1 to below 20" in w for w in second.warnings), second.warnings
    assert lake_ids(spark, "d_late_create") == source_ids(postgres, "d_late_create")
    third = direct_load("d_late_create", "d_late_create", cursor_column="id")
    assert (third.status, third.inserted, third.warnings) == ("succeeded", 0, []), third.error


def test_a_table_truncated_and_refilled_fails_saying_how_to_rebuild(direct_load: Loader, postgres: PgServer,
                                                                    spark: Any) -> None:
    postgres.sql("CREATE TABLE d_refilled (id bigint, kind text)")
    postgres.sql("INSERT INTO d_refilled SELECT g, 'a' FROM generate_series(1, 20) g")
    assert direct_load("d_refilled", "d_refilled", action="create", cursor_column="id").succeeded
    postgres.sql("INSERT INTO d_refilled SELECT g, 'b' FROM generate_series(21, 30) g")
    assert direct_load("d_refilled", "d_refilled", cursor_column="id").inserted == 10
    # Truncated and refilled with higher ids: the rows 20..29 the last window read are gone.
    postgres.sql("TRUNCATE d_refilled")
    postgres.sql("INSERT INTO d_refilled SELECT g, 'new' FROM generate_series(25, 40) g")
    result = direct_load("d_refilled", "d_refilled", cursor_column="id")
    assert result.status == "failed" and result.error is not None, result
    assert result.error["class"] == "SourceRewritten"
    message = result.error["message"]
    assert "cursor column 'id'" in message and "5 row(s) with a cursor value from 20 to below 30" in message, message
    assert "holds 10" in message and "truncated" in message, message
    assert ('set tables."public.d_refilled".extract: export, run lakesync rerun shop --rebuild public.d_refilled, '
            "then set extract: direct again") in message, message
    assert lake_ids(spark, "d_refilled") == list(range(1, 31))


def test_a_create_that_reads_rows_without_a_cursor_value_warns(direct_load: Loader, postgres: PgServer,
                                                               spark: Any) -> None:
    postgres.sql("CREATE TABLE d_null_cursor (id int, seq bigint)")
    postgres.sql("INSERT INTO d_null_cursor SELECT g, CASE WHEN g <= 3 THEN NULL ELSE g END FROM generate_series(1, 10) g")
    create = direct_load("d_null_cursor", "d_null_cursor", action="create", cursor_column="seq")
    assert (create.status, create.inserted) == ("succeeded", 10), create.error
    warned = [w for w in create.warnings if "cursor column 'seq'" in w and "3 row(s)" in w]
    assert warned and "NOT NULL" in warned[0] and "never read" in warned[0], create.warnings


def test_a_row_committed_after_two_windows_read_past_it_is_loaded_once(direct_load: Loader, postgres: PgServer,
                                                                       spark: Any) -> None:
    postgres.sql("CREATE TABLE d_later (id bigint, kind text)")
    postgres.sql("INSERT INTO d_later SELECT g, 'a' FROM generate_series(1, 20) g")
    assert direct_load("d_later", "d_later", action="create", cursor_column="id").succeeded
    # 24 is taken by a transaction that commits after two windows (20..30, 30..40) read past it.
    postgres.sql("INSERT INTO d_later SELECT g, 'b' FROM generate_series(21, 30) g WHERE g <> 24")
    assert direct_load("d_later", "d_later", cursor_column="id").inserted == 9
    postgres.sql("INSERT INTO d_later SELECT g, 'c' FROM generate_series(31, 40) g")
    assert direct_load("d_later", "d_later", cursor_column="id").inserted == 10
    postgres.sql("INSERT INTO d_later VALUES (24, 'late'), (41, 'd')")
    fourth = direct_load("d_later", "d_later", cursor_column="id")
    assert (fourth.status, fourth.inserted) == ("succeeded", 2), fourth.error
    assert fourth.window is not None and fourth.window["from"] == "20"
    assert any("1 row(s) with a cursor value from 20 to below 40" in w for w in fourth.warnings), fourth.warnings
    assert lake_ids(spark, "d_later") == source_ids(postgres, "d_later")


def test_old_rows_pruned_in_the_source_after_the_create_leave_the_next_load_going(direct_load: Loader,
                                                                                  postgres: PgServer, spark: Any) -> None:
    """An append-only table whose oldest rows a retention job deletes: the first load after the create counts the
    create's whole range, where the source now holds fewer rows than the lake. That is no refill of recent rows:
    the load goes on, warning, and the lake keeps the pruned rows (nothing the lake holds is deleted)."""
    postgres.sql("CREATE TABLE d_pruned (id bigint, kind text)")
    postgres.sql("INSERT INTO d_pruned SELECT g, 'a' FROM generate_series(1, 20) g")
    assert direct_load("d_pruned", "d_pruned", action="create", cursor_column="id").succeeded
    postgres.sql("DELETE FROM d_pruned WHERE id <= 5")
    postgres.sql("INSERT INTO d_pruned SELECT g, 'b' FROM generate_series(21, 30) g")
    result = direct_load("d_pruned", "d_pruned", cursor_column="id")
    assert (result.status, result.inserted) == ("succeeded", 10), result.error
    warned = [w for w in result.warnings if "cursor column 'id'" in w and "fewer" in w]
    assert warned and "truncated and refilled" in warned[0] and "--rebuild" in warned[0], result.warnings
    assert lake_ids(spark, "d_pruned") == list(range(1, 31))


def test_a_table_truncated_and_refilled_below_the_lake_max_right_after_the_create_fails(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """Refilled with ids restarted below the lake's max: no retention job deletes the newest rows, so this is no
    pruning; the new rows would never be read (every window starts at the lake's max), so the load fails."""
    postgres.sql("CREATE TABLE d_refilled_create (id bigint, kind text)")
    postgres.sql("INSERT INTO d_refilled_create SELECT g, 'old' FROM generate_series(1, 100) g")
    assert direct_load("d_refilled_create", "d_refilled_create", action="create", cursor_column="id").succeeded
    postgres.sql("TRUNCATE d_refilled_create")
    postgres.sql("INSERT INTO d_refilled_create SELECT g, 'new' FROM generate_series(1, 20) g")
    result = direct_load("d_refilled_create", "d_refilled_create", cursor_column="id")
    assert result.status == "failed" and result.error is not None, (result.status, result.warnings)
    assert result.error["class"] == "SourceRewritten"
    message = result.error["message"]
    assert "cursor column 'id'" in message and "20 row(s) with a cursor value from 1 to below 100" in message, message
    assert "largest value is 20" in message and "truncated" in message, message
    assert ('set tables."public.d_refilled_create".extract: export, run lakesync rerun shop --rebuild '
            "public.d_refilled_create, then set extract: direct again") in message, message
    assert lake_ids(spark, "d_refilled_create") == list(range(1, 101))


UPSERT = {"cursor_column": "ver", "primary_key": "id"}  # upsert: the default cursor mode with a key


def versioned_table(postgres: PgServer, direct_load: Loader, table: str, skipped: tuple[int, ...] = ()) -> None:
    """ids 1-10 created, then two windows (ids 11-20, 21-30), each row's ver its id; `skipped` ids left out."""
    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, ver bigint NOT NULL, kind text)")
    left_out = ", ".join(str(i) for i in (*skipped, 0))
    postgres.sql(f"INSERT INTO {table} SELECT g, g, 'a' FROM generate_series(1, 10) g")
    assert direct_load(table, table, action="create", **UPSERT).succeeded
    for first in (11, 21):
        postgres.sql(f"INSERT INTO {table} SELECT g, g, 'b' FROM generate_series({first}, {first + 9}) g "
                     f"WHERE g NOT IN ({left_out})")
        window = direct_load(table, table, **UPSERT)
        assert (window.status, window.window and window.window["from"]) == ("succeeded", str(first - 1)), window.error


def lake_rows(spark: Any, table: str) -> list[tuple[int, int, str]]:
    return [(r["id"], r["ver"], r["kind"]) for r in run_query(spark, f"SELECT id, ver, kind FROM lake.tests.{table} ORDER BY id")]


def source_rows(postgres: PgServer, table: str) -> list[tuple[int, int, str]]:
    return [(int(r[0]), int(r[1]), r[2]) for r in postgres.sql(f"SELECT id, ver, kind FROM {table} ORDER BY id")]


def test_an_upsert_whose_update_moved_a_row_out_of_the_read_range_reads_only_its_window(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    versioned_table(postgres, direct_load, "d_up_moved")
    # The update moves id 12's cursor out of 10..30: the source holds one row fewer there than the lake.
    postgres.sql("UPDATE d_up_moved SET ver = 31, kind = 'updated' WHERE id = 12")
    result = direct_load("d_up_moved", "d_up_moved", **UPSERT)
    assert (result.status, result.inserted, result.updated) == ("succeeded", 0, 1), result.error
    assert result.window is not None and result.window["from"] == "30", result.window
    assert result.rowsRead == 2 and result.warnings == [], (result.rowsRead, result.warnings)
    assert lake_rows(spark, "d_up_moved") == source_rows(postgres, "d_up_moved")


def test_an_upsert_row_committed_late_is_loaded_also_after_an_update_in_its_range(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    # 24 and 25 are taken by transactions that commit after the window 20..30 read past them.
    versioned_table(postgres, direct_load, "d_up_late", skipped=(24, 25))
    postgres.sql("INSERT INTO d_up_late VALUES (24, 24, 'late'), (31, 31, 'c')")
    late = direct_load("d_up_late", "d_up_late", **UPSERT)
    assert (late.status, late.inserted, late.updated) == ("succeeded", 2, 0), late.error
    assert late.window is not None and late.window["from"] == "10", late.window
    assert any("at least 1 row(s) with a cursor value from 10 to below 30" in w for w in late.warnings), late.warnings
    assert lake_rows(spark, "d_up_late") == source_rows(postgres, "d_up_late")
    # Since: an update moves id 13 out of the range the last windows read (10..31), while 25 and a new id
    # with a cursor value in that range commit late: the source holds one row more there than the lake, so
    # the range is read again and both late rows are loaded. (One update and one late row alone would net
    # out: a count can prove late rows in upsert mode, not rule them out.)
    postgres.sql("UPDATE d_up_late SET ver = 32, kind = 'updated' WHERE id = 13")
    postgres.sql("INSERT INTO d_up_late VALUES (25, 25, 'late'), (40, 27, 'late')")
    mixed = direct_load("d_up_late", "d_up_late", **UPSERT)
    assert (mixed.status, mixed.inserted, mixed.updated) == ("succeeded", 2, 1), mixed.error
    assert mixed.window is not None and mixed.window["from"] == "10", mixed.window
    assert any("at least 1 row(s) with a cursor value from 10 to below 31" in w for w in mixed.warnings), mixed.warnings
    assert lake_rows(spark, "d_up_late") == source_rows(postgres, "d_up_late")


def test_a_row_committed_late_into_the_range_an_export_created_read_is_loaded_by_the_first_direct_load(
        load: Loader, direct_load: Loader, postgres: PgServer, spark: Any, tmp_path: Path) -> None:
    """direct.firstLoad: export (or a table switched from extract: export to direct): the lake table is created from
    a snapshot export, which records no direct window. 15 is taken by a transaction that commits after the snapshot:
    the export has 1..20 without it, and the first direct window starts at the lake's max (lookback 0)."""
    table = "d_late_export"
    postgres.sql(f"CREATE TABLE {table} (id bigint, kind text)")
    postgres.sql(f"INSERT INTO {table} SELECT g, 'a' FROM generate_series(1, 20) g WHERE g <> 15")
    versions = Versions(tmp_path, "shop", "public", table)
    export = versions.export([col("id", "bigint"), col("kind", "text")], [(i, "a") for i in range(1, 21) if i != 15])
    created = load(export, versions.target, table, action="create")
    assert (created.status, created.inserted) == ("succeeded", 19), created.error
    postgres.sql(f"INSERT INTO {table} VALUES (15, 'late'), (21, 'b')")
    first = direct_load(table, table, cursor_column="id")
    assert first.status == "succeeded", first.error
    assert lake_ids(spark, table) == source_ids(postgres, table)
    assert first.inserted == 2, first.inserted
    assert any("1 row(s) with a cursor value from 1 to below 20" in w for w in first.warnings), first.warnings
    # The export's range is counted once: the next load reads its own window only.
    postgres.sql(f"INSERT INTO {table} VALUES (22, 'c')")
    second = direct_load(table, table, cursor_column="id")
    assert (second.status, second.inserted, second.warnings) == ("succeeded", 1, []), second.error
    assert second.window is not None and second.window["from"] == "21", second.window
    assert lake_ids(spark, table) == source_ids(postgres, table)


def test_a_row_committed_late_into_the_last_exports_range_is_loaded_when_the_table_switches_to_direct(
        load: Loader, direct_load: Loader, postgres: PgServer, spark: Any, tmp_path: Path) -> None:
    """A table synced with extract: export (created, then merged by key), then switched to extract: direct: the last
    export read the whole table, so the first direct window counts that whole range once (upsert mode)."""
    table = "d_late_switched"
    options = {"cursor_column": "ver", "primary_key": "id"}
    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, ver bigint NOT NULL, kind text)")
    versions = Versions(tmp_path, "shop", "public", table)
    columns = [col("id", "bigint"), col("ver", "bigint"), col("kind", "text")]
    # The second export's snapshot is without 25 (its transaction commits after the snapshot).
    for action, last in (("create", 10), ("merge", 30)):
        postgres.sql(f"INSERT INTO {table} SELECT g, g, 'a' FROM generate_series(1, {last}) g WHERE g <> 25 "
                     "ON CONFLICT (id) DO NOTHING")
        rows = [(int(r[0]), int(r[1]), r[2]) for r in postgres.sql(f"SELECT id, ver, kind FROM {table} ORDER BY id")]
        loaded = load(versions.export(columns, rows), versions.target, table, action=action, primary_key="id")
        assert loaded.status == "succeeded", loaded.error
    postgres.sql(f"INSERT INTO {table} VALUES (25, 25, 'late'), (31, 31, 'b')")
    first = direct_load(table, table, **options)
    assert first.status == "succeeded", first.error
    assert lake_ids(spark, table) == source_ids(postgres, table)
    assert (first.inserted, first.updated) == (2, 0), (first.inserted, first.updated)
    assert any("at least 1 row(s) with a cursor value from 1 to below 30" in w for w in first.warnings), first.warnings
    again = direct_load(table, table, **options)
    assert (again.status, again.inserted, again.updated, again.warnings) == ("succeeded", 0, 0, []), again.error
