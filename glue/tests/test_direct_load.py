"""Direct extract on a real PostgreSQL: windows, partitions, late commits, replays, fixed upper bounds."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import PG_PASSWORD, Loader, PgServer
from lakesync_glue.direct import DirectRows, default_partitions
from lakesync_glue.query import run_query
from scenario import snapshots


def lake_ids(spark: Any, table: str) -> list[int]:
    return [r["id"] for r in run_query(spark, f"SELECT id FROM lake.tests.{table} ORDER BY id")]


def source_ids(postgres: PgServer, table: str) -> list[int]:
    return [int(r[0]) for r in postgres.sql(f"SELECT id FROM {table} ORDER BY id")]


def insert_events(postgres: PgServer, table: str, ids: range, kind: str = "a") -> None:
    postgres.sql(f"INSERT INTO {table} (id, kind, amount) SELECT g, '{kind}' || g, g * 1.25 FROM generate_series({ids.start}, {ids.stop - 1}) g")


def test_create_then_windows_with_inserts_and_late_commits(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TABLE d_events (id bigint PRIMARY KEY, kind text, amount numeric(12,2))")
    insert_events(postgres, "d_events", range(1, 1001))
    options = {"primary_key": "id", "cursor_column": "id", "cursor_lookback": "100", "partitions": "4"}
    first = direct_load("d_events", "d_events", action="create", **options)
    assert first.status == "succeeded", first.error
    assert (first.action, first.inserted, first.rowsRead) == ("create", 1000, 1000)
    assert first.extract == "direct" and first.cursorValueAfter == "1000"
    assert first.window == {"from": None, "to": "1000", "partitions": 4, "estimatedRows": 1000}
    assert lake_ids(spark, "d_events") == source_ids(postgres, "d_events")

    # New rows, plus a row committed late with an older cursor (950, within the lookback of 100).
    postgres.sql("DELETE FROM d_events WHERE id = 950")
    direct_load("d_events", "d_events", **options)  # a window without 950: nothing is deleted
    postgres.sql("INSERT INTO d_events VALUES (950, 'late', 9.50)")
    insert_events(postgres, "d_events", range(1001, 1201), kind="b")
    second = direct_load("d_events", "d_events", **options)
    assert second.status == "succeeded", second.error
    assert (second.action, second.inserted, second.updated) == ("incremental", 200, 1)
    # The window starts at the lake's max minus the lookback and is read in 4 ranges of the cursor.
    assert second.window == {"from": "900", "to": "1200", "partitions": 4, "estimatedRows": 301}
    assert second.rowsRead == 301 and second.cursorValueAfter == "1200"
    assert lake_ids(spark, "d_events") == source_ids(postgres, "d_events")
    late = run_query(spark, "SELECT kind, amount FROM lake.tests.d_events WHERE id = 950")
    assert late == [{"kind": "late", "amount": "9.50"}]

    summary = snapshots(spark, "d_events")[-1]["summary"]
    assert summary["lakesync.extract"] == "direct"
    assert (summary["lakesync.window-from"], summary["lakesync.window-to"]) == ("900", "1200")
    assert summary["lakesync.cycle-id"] == "cycle-d" and "lakesync.export-id" not in summary


def test_rows_beyond_the_fixed_upper_bound_wait_for_the_next_window(direct_load: Loader, postgres: PgServer,
                                                                   spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    postgres.sql("CREATE TABLE d_growing (id bigint, kind text, amount numeric(12,2))")
    insert_events(postgres, "d_growing", range(1, 301))
    fix_window = DirectRows.fix_window

    def insert_after_fixing(self: DirectRows, *args: Any, **kwargs: Any) -> Any:
        window = fix_window(self, *args, **kwargs)
        insert_events(postgres, "d_growing", range(301, 351), kind="during")  # committed while the load runs
        return window

    monkeypatch.setattr(DirectRows, "fix_window", insert_after_fixing)
    first = direct_load("d_growing", "d_growing", action="create", cursor_column="id", partitions="3")
    monkeypatch.undo()
    assert first.status == "succeeded", first.error
    assert first.cursorValueAfter == "300" and first.inserted == 300
    assert lake_ids(spark, "d_growing") == list(range(1, 301))
    second = direct_load("d_growing", "d_growing", cursor_column="id")
    assert (second.status, second.inserted, second.cursorValueAfter) == ("succeeded", 50, "350"), second.error
    assert lake_ids(spark, "d_growing") == source_ids(postgres, "d_growing")


@pytest.mark.parametrize("keyed", [True, False], ids=["by key", "without a key"])
def test_replaying_a_window_adds_nothing(direct_load: Loader, postgres: PgServer, spark: Any, keyed: bool) -> None:
    table = f"d_replay_{'key' if keyed else 'nokey'}"
    postgres.sql(f"CREATE TABLE {table} (id bigint, kind text, amount numeric(12,2))")
    insert_events(postgres, table, range(1, 201))
    # Two identical rows: without a key both arrive, once.
    postgres.sql(f"INSERT INTO {table} VALUES (200, 'twin', 1.00), (200, 'twin', 1.00)")
    options = {"cursor_column": "id", "cursor_lookback": "50", "partitions": "2"}
    if keyed:
        postgres.sql(f"DELETE FROM {table} WHERE kind = 'twin'")
        options["primary_key"] = "id"
    direct_load(table, table, action="create", **options)
    insert_events(postgres, table, range(201, 231))
    second = direct_load(table, table, **options)
    assert (second.status, second.inserted) == ("succeeded", 30), second.error
    history = snapshots(spark, table)
    replay = direct_load(table, table, **options)
    assert replay.status == "succeeded", replay.error
    assert (replay.action, replay.inserted, replay.updated, replay.committed) == ("none", 0, 0, False)
    assert snapshots(spark, table) == history
    assert lake_ids(spark, table) == source_ids(postgres, table)


def test_a_timestamp_cursor_with_late_commits_inside_the_lookback(direct_load: Loader, postgres: PgServer,
                                                                 spark: Any) -> None:
    postgres.sql("CREATE TABLE d_log (id int, kind text, at timestamptz)")
    postgres.sql("INSERT INTO d_log SELECT g, 'k' || g, timestamptz '2024-05-01 00:00:00+00' + g * interval '1 minute' "
                 "FROM generate_series(1, 600) g")
    postgres.sql("INSERT INTO d_log VALUES (0, 'no cursor', NULL)")  # a create loads rows without a cursor too
    options = {"cursor_column": "at", "cursor_lookback": "1h", "partitions": "3"}
    first = direct_load("d_log", "d_log", action="create", **options)
    assert first.status == "succeeded", first.error
    assert first.cursorValueAfter == "2024-05-01T10:00:00.000000Z"
    assert first.window is not None and first.window["partitions"] == 3
    # 601 is new; 602 was committed late, 30 minutes before the lake's max; 603 is older than the lookback:
    # the count over the create's range finds it, so this window reads from the create's start.
    postgres.sql("INSERT INTO d_log VALUES (601, 'new', '2024-05-01 10:05:00+00'), "
                 "(602, 'late', '2024-05-01 09:30:00+00'), (603, 'too late', '2024-05-01 08:30:00+00'), "
                 "(604, 'no cursor', NULL)")
    second = direct_load("d_log", "d_log", **options)
    assert (second.status, second.inserted) == ("succeeded", 3), second.error
    assert second.window is not None
    assert (second.window["from"], second.window["to"]) == ("2024-05-01T00:01:00.000000Z", "2024-05-01T10:05:00.000000Z")
    assert lake_ids(spark, "d_log") == [i for i in range(0, 604)]
    assert len(second.warnings) == 1 and "1 row(s) with a cursor value from" in second.warnings[0], second.warnings


def test_an_infinity_cursor_pins_the_window_and_every_load_says_so(direct_load: Loader, postgres: PgServer,
                                                                    spark: Any) -> None:
    """'infinity' loads as the largest timestamp: windows start there, so later rows are not read (inherent
    to a max-based cursor); each load after that warns, naming the column and the way out."""
    postgres.sql("CREATE TABLE d_inf (id int, at timestamptz)")
    postgres.sql("INSERT INTO d_inf VALUES (1, '2024-05-01 00:00:00+00'), (2, 'infinity')")
    first = direct_load("d_inf", "d_inf", action="create", cursor_column="at")
    assert first.status == "succeeded", first.error
    postgres.sql("INSERT INTO d_inf VALUES (3, now())")
    second = direct_load("d_inf", "d_inf", cursor_column="at")
    assert second.status == "succeeded", second.error
    # Row 3 lies below the pinned window, but within the create's range, which the first load counts.
    assert lake_ids(spark, "d_inf") == [1, 2, 3]
    assert any("cursor column 'at'" in w and "after today" in w for w in second.warnings), second.warnings
    postgres.sql("INSERT INTO d_inf VALUES (4, now())")
    third = direct_load("d_inf", "d_inf", cursor_column="at")
    assert third.status == "succeeded", third.error
    # Row 4 lies below the pinned window too, within the range the last window read (from the create's start).
    assert lake_ids(spark, "d_inf") == [1, 2, 3, 4]
    assert any("cursor column 'at'" in w and "after today" in w for w in third.warnings), third.warnings


def test_a_cursor_that_went_back_below_the_lake_max_fails_the_table(direct_load: Loader, postgres: PgServer,
                                                                    spark: Any) -> None:
    """The source was truncated and its ids restarted below the lake's max: windows start at the lake's max,
    so the new rows would not be read (inherent to a max-based cursor); the rows the last window read are gone
    from the source, so the load fails saying how to rebuild instead of loading the table wrong."""
    postgres.sql("CREATE TABLE d_back (id bigint, kind text)")
    postgres.sql("INSERT INTO d_back SELECT g, 'old' FROM generate_series(1, 100) g")
    first = direct_load("d_back", "d_back", action="create", cursor_column="id")
    assert (first.status, first.inserted) == ("succeeded", 100), first.error
    postgres.sql("INSERT INTO d_back SELECT g, 'more' FROM generate_series(101, 110) g")
    second = direct_load("d_back", "d_back", cursor_column="id")
    assert (second.status, second.inserted, second.warnings) == ("succeeded", 10, []), second.error
    postgres.sql("TRUNCATE d_back")
    postgres.sql("INSERT INTO d_back SELECT g, 'new' FROM generate_series(1, 20) g")
    third = direct_load("d_back", "d_back", cursor_column="id")
    assert third.status == "failed" and third.error is not None and third.error["class"] == "SourceRewritten", third
    assert "cursor column 'id'" in third.error["message"] and "extract: export" in third.error["message"]


@pytest.mark.parametrize("cursor_type,bottom", [("smallint", -2**15), ("integer", -2**31), ("bigint", -2**63)])
def test_a_lookback_reaching_below_the_cursor_types_range_reads_from_its_bottom(
        direct_load: Loader, postgres: PgServer, spark: Any, cursor_type: str, bottom: int) -> None:
    """The window's lower bound (the lake's max less the lookback) lies below what the source column can hold:
    PostgreSQL would refuse the bound as out of range, so the window has no lower bound."""
    table = f"d_bottom_{cursor_type}"
    postgres.sql(f"CREATE TABLE {table} (id int, seq {cursor_type})")
    postgres.sql(f"INSERT INTO {table} SELECT g, {bottom} + g FROM generate_series(0, 9) g")
    options = {"cursor_column": "seq", "cursor_lookback": "100"}
    first = direct_load(table, table, action="create", **options)
    assert (first.status, first.inserted) == ("succeeded", 10), first.error
    postgres.sql(f"INSERT INTO {table} SELECT g, {bottom} + g FROM generate_series(5, 14) g")  # 5..9 late twins
    second = direct_load(table, table, **options)
    assert (second.status, second.inserted) == ("succeeded", 10), second.error
    assert second.window is not None and second.window["from"] is None
    assert len(lake_ids(spark, table)) == 20


@pytest.mark.parametrize("cursor_type,first,late,new", [
    ("date", "0001-01-01", "0001-01-01", "0001-01-02"),
    ("timestamptz", "0001-01-01 00:10:00+00", "0001-01-01 00:05:00+00", "0001-01-01 00:20:00+00"),
])
def test_a_lookback_reaching_before_the_year_1_reads_from_its_start(
        direct_load: Loader, postgres: PgServer, spark: Any, cursor_type: str, first: str, late: str, new: str) -> None:
    """The lake's max lies in the year 1 (a placeholder, or a clamped -infinity) and the lookback reaches before it:
    PostgreSQL reads no year 0, so the window has no lower bound."""
    table = f"d_year_one_{cursor_type}"
    postgres.sql(f"CREATE TABLE {table} (id int, at {cursor_type})")
    postgres.sql(f"INSERT INTO {table} VALUES (1, '{first}')")
    created = direct_load(table, table, action="create", cursor_column="at")
    assert (created.status, created.inserted) == ("succeeded", 1), created.error
    postgres.sql(f"INSERT INTO {table} VALUES (2, '{late}'), (3, '{new}')")
    second = direct_load(table, table, cursor_column="at")
    assert (second.status, second.inserted) == ("succeeded", 2), second.error
    assert second.window is not None and second.window["from"] is None
    assert lake_ids(spark, table) == [1, 2, 3]


def test_a_text_cursor_is_read_in_hashed_partitions(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TABLE d_codes (id int, code text, grp text)")
    postgres.sql("INSERT INTO d_codes SELECT g, 'c' || lpad(g::text, 5, '0'), CASE WHEN g % 7 = 0 THEN NULL ELSE 'g' || (g % 5) END "
                 "FROM generate_series(1, 500) g")
    first = direct_load("d_codes", "d_codes", action="create", cursor_column="code", partitions="5")
    assert first.status == "succeeded", first.error
    assert first.window is not None and first.window["partitions"] == 5
    assert lake_ids(spark, "d_codes") == list(range(1, 501))
    assert first.cursorValueAfter == "c00500"
    # Hashed on another column (NULLs land in the first partition, none is lost), with a text window.
    postgres.sql("INSERT INTO d_codes SELECT g, 'c' || lpad(g::text, 5, '0'), NULL FROM generate_series(501, 540) g")
    second = direct_load("d_codes", "d_codes", cursor_column="code", partitions="4", partition_column="grp")
    assert (second.status, second.inserted) == ("succeeded", 40), second.error
    assert second.window is not None and second.window["partitions"] == 4 and second.window["from"] == "c00500"
    assert lake_ids(spark, "d_codes") == list(range(1, 541))
    assert "hashtext" in postgres.server_log()


def test_a_char_cursor_keeps_the_late_rows_equal_to_the_lake_max(direct_load: Loader, postgres: PgServer,
                                                                 spark: Any) -> None:
    """char(n) values keep their padding in the lake ('ab  '): the window compares that same text."""
    postgres.sql("CREATE TABLE d_char (id int, code char(4))")
    postgres.sql("INSERT INTO d_char VALUES (1, 'aa'), (2, 'ab')")
    first = direct_load("d_char", "d_char", action="create", cursor_column="code")
    assert first.status == "succeeded", first.error
    assert first.cursorValueAfter == "ab  "
    postgres.sql("INSERT INTO d_char VALUES (3, 'ab'), (4, 'b')")  # 3 commits late, equal to the lake's max
    second = direct_load("d_char", "d_char", cursor_column="code")
    assert second.status == "succeeded", second.error
    assert second.window is not None and second.window["from"] == "ab  "
    assert lake_ids(spark, "d_char") == [1, 2, 3, 4]


def test_types_arrive_as_the_source_holds_them_and_excluded_columns_are_never_selected(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TYPE d_mood AS ENUM ('sad', 'happy')")
    postgres.sql(
        "CREATE TABLE d_types (id smallint, n numeric, n2 numeric(10,2), r real, d double precision, b boolean, "
        "j json, jb jsonb, u uuid, ia int[], ta text[], iv interval, m money, tt timetz, t time, by bytea, "
        "dt date, ts timestamp, tz timestamptz, c char(4), mood d_mood, ip inet, secret_col text)"
    )
    postgres.sql(
        "INSERT INTO d_types VALUES (1, 12345678901234567890.123456789, 12.50, 1.5, 0.1, true, '{\"a\": 1}', "
        "'{\"b\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,NULL}', '{\"x y\",z}', '1 day 02:00:00', "
        "12.34, '10:00:00+02', '23:59:59.5', '\\x00ff', '2024-02-29', '2024-05-01 10:00:00.123456', "
        "'2024-05-01 12:00:00+02', 'ab', 'happy', '10.0.0.1', 'never leaves'), "
        "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', "
        "NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    policies = json.dumps({"secret_col": {"exclude": True}})
    result = direct_load("d_types", "d_types", action="create", cursor_column="id", column_policies=policies)
    assert result.status == "succeeded", result.error
    rows = run_query(spark, "SELECT * FROM lake.tests.d_types ORDER BY id")
    assert rows[0] == {
        "id": 1, "n": "12345678901234567890.123456789000000000", "n2": "12.50", "r": 1.5, "d": 0.1, "b": True,
        "j": '{"a": 1}', "jb": '{"b": [1, 2]}', "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "ia": "[1,2,null]",
        "ta": '["x y","z"]', "iv": "1 day 02:00:00", "m": "12.34", "tt": "10:00:00+02", "t": "23:59:59.5",
        "by": "AP8=", "dt": "2024-02-29", "ts": "2024-05-01T10:00:00.123456", "tz": "2024-05-01T10:00:00.000000Z",
        "c": "ab  ", "mood": "happy", "ip": "10.0.0.1",
    }
    assert rows[1]["dt"] == "9999-12-31" and result.clampedValues == {"dt": 1}
    assert "secret_col" not in rows[0]
    # Only the catalog query names the excluded column (as a value): no statement selects it.
    statements = [line for line in postgres.server_log().splitlines() if "d_types" in line and ("statement:" in line or "execute" in line)]
    assert statements and not [s for s in statements if '"secret_col"' in s]


def test_a_cursor_named_by_its_lake_name_reads_its_source_column(direct_load: Loader, postgres: PgServer,
                                                                  spark: Any) -> None:
    """A renamed cursor may be named as the lake calls it, as in export loads: the window reads the source column."""
    postgres.sql("CREATE TABLE d_renamed (id int, created_at timestamptz)")
    postgres.sql("INSERT INTO d_renamed SELECT g, timestamptz '2024-05-01 00:00:00+00' + g * interval '1 minute' "
                 "FROM generate_series(1, 20) g")
    options = {"cursor_column": "created", "column_policies": json.dumps({"created_at": {"rename": "created"}})}
    first = direct_load("d_renamed", "d_renamed", action="create", **options)
    assert (first.status, first.inserted, first.cursorColumn) == ("succeeded", 20, "created"), first.error
    postgres.sql("INSERT INTO d_renamed VALUES (21, '2024-05-01 00:30:00+00')")
    second = direct_load("d_renamed", "d_renamed", **options)
    assert (second.status, second.inserted) == ("succeeded", 1), second.error
    assert second.cursorValueAfter == "2024-05-01T00:30:00.000000Z"
    assert lake_ids(spark, "d_renamed") == list(range(1, 22))
    # Retyped too, the cursor's windows would compare another order: refused by its lake name as by its source name
    # (test_direct_args.py), before anything is written.
    retyped = json.dumps({"created_at": {"rename": "created", "type": "string"}})
    refused = direct_load("d_renamed", "d_renamed_text", action="create", cursor_column="created",
                          column_policies=retyped)
    assert refused.status == "failed" and refused.error is not None
    assert refused.error["message"].startswith("--column_policies 'created_at: type string': a direct load"), refused.error
    assert not spark.catalog.tableExists("lake.tests.d_renamed_text")


def test_a_partition_column_named_by_its_lake_name_hashes_its_source_column(direct_load: Loader, postgres: PgServer,
                                                                           spark: Any) -> None:
    """As the cursor, a renamed partition column may be named as the lake calls it."""
    postgres.sql("CREATE TABLE d_renamed_part (id int, grp text)")
    postgres.sql("INSERT INTO d_renamed_part SELECT g, 'g' || (g % 3) FROM generate_series(1, 30) g")
    result = direct_load("d_renamed_part", "d_renamed_part", action="create", cursor_column="id", partitions="3",
                         partition_column="group_name", column_policies=json.dumps({"grp": {"rename": "group_name"}}))
    assert (result.status, result.inserted) == ("succeeded", 30), result.error
    assert lake_ids(spark, "d_renamed_part") == list(range(1, 31))
    names = run_query(spark, "SELECT count(DISTINCT group_name) AS n FROM lake.tests.d_renamed_part")
    assert names == [{"n": 3}]


def test_partitions_are_never_hashed_on_an_excluded_column(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TABLE d_excluded_part (id int, ssn text)")
    postgres.sql("INSERT INTO d_excluded_part SELECT g, 'ssn' || g FROM generate_series(1, 10) g")
    result = direct_load("d_excluded_part", "d_excluded_part", action="create", cursor_column="id", partitions="2",
                         partition_column="ssn", column_policies=json.dumps({"ssn": {"exclude": True}}))
    assert result.status == "failed" and result.error is not None
    assert result.error["message"].startswith("--partition_column 'ssn': table shop.public.d_excluded_part's column is "
                                              "excluded"), result.error
    assert not spark.catalog.tableExists("lake.tests.d_excluded_part")
    statements = [line for line in postgres.server_log().splitlines() if "d_excluded_part" in line and ("statement:" in line or "execute" in line)]
    assert statements and not [s for s in statements if '"ssn"' in s]


def test_the_default_partition_count_follows_the_row_estimate() -> None:
    assert [default_partitions(n) for n in (0, 1, 500_000, 500_001, 3_000_000, 10**10)] == [1, 1, 1, 2, 6, 32]


def test_a_cursor_column_missing_in_the_source_fails_before_anything_is_written(direct_load: Loader,
                                                                                 postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TABLE d_nocursor (id int, kind text)")
    result = direct_load("d_nocursor", "d_nocursor", action="create", cursor_column="updated_at")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument" and not result.error["retryable"]
    assert "'updated_at'" in result.error["message"] and "shop.public.d_nocursor" in result.error["message"]
    assert not spark.catalog.tableExists("lake.tests.d_nocursor")


@pytest.mark.parametrize("cursor_type", ["bytea", "boolean", "int[]"])
def test_a_cursor_the_window_cannot_bound_is_refused_before_anything_is_written(
        direct_load: Loader, postgres: PgServer, spark: Any, cursor_type: str) -> None:
    """PostgreSQL would compare these as text ('\\x0a', 'true'), the lake as bytes, booleans or lists:
    windows would skip new rows (a boolean cursor's later false rows, most bytea values)."""
    table = f"d_unordered_{cursor_type.strip('[]')}"
    postgres.sql(f"CREATE TABLE {table} (id int, tag {cursor_type})")
    postgres.sql(f"INSERT INTO {table} VALUES (1, NULL)")
    result = direct_load(table, table, action="create", cursor_column="tag")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument" and not result.error["retryable"]
    message = result.error["message"]
    assert "--cursor_column 'tag'" in message and f"shop.public.{table}" in message, message
    assert "which a window cannot follow" in message and "extract: export" in message, message
    assert not spark.catalog.tableExists(f"lake.tests.{table}")


@pytest.mark.parametrize("cursor_type,old,new,why", [
    ("pg_lsn", ["0/9000000", "0/9FFFFFF"], "0/10000000", "'0/10000000' sorts below '0/9FFFFFF' as text"),
    ("inet", ["9.0.0.1", "9.0.0.2"], "10.0.0.1", "'10.0.0.1' sorts below '9.0.0.1' as text"),
    ("interval", ["8 days", "9 days"], "10 days", "'10 days' sorts below '9 days' as text"),
    ("timetz", ["09:00:00+00", "09:30:00+00"], "10:00:00-02", "'10:00:00+02' sorts above '09:30:00+00'"),
    ("d_level", ["low", "mid"], "high", "an enum orders by the order its labels were declared in"),
    ("d_address", ["9.0.0.1", "9.0.0.2"], "10.0.0.1", "'10.0.0.1' sorts below '9.0.0.1' as text"),
    ("jsonb", ['{"a": 8}', '{"a": 9}'], '{"a": 10}', "'10' sorts below '9' as text"),
])
def test_a_cursor_whose_text_orders_otherwise_is_refused_before_anything_is_written(
        direct_load: Loader, postgres: PgServer, spark: Any, cursor_type: str, old: list[str], new: str,
        why: str) -> None:
    """A window compares such a cursor as text, from the lake's max up: a new value larger in PostgreSQL's order
    but smaller as text than the lake's max (0/10000000 after 0/9FFFFFF) would never be read. Refused instead."""
    if cursor_type == "d_level":
        postgres.sql("CREATE TYPE d_level AS ENUM ('low', 'mid', 'high')")
    if cursor_type == "d_address":
        postgres.sql("CREATE DOMAIN d_address AS inet")  # a domain is a cursor of its base type
    table = f"d_textorder_{cursor_type}"
    postgres.sql(f"CREATE TABLE {table} (id int, tag {cursor_type})")
    postgres.sql(f"INSERT INTO {table} VALUES " + ", ".join(f"({i}, '{v}')" for i, v in enumerate([*old, new], 1)))
    result = direct_load(table, table, action="create", cursor_column="tag")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument" and not result.error["retryable"]
    message = result.error["message"]
    assert "--cursor_column 'tag'" in message and f"shop.public.{table}" in message, message
    assert "its text form does not order as PostgreSQL orders it, e.g. " in message and why in message, message
    assert "pick a cursor column that is a number, a date or timestamp, or text" in message, message
    assert not spark.catalog.tableExists(f"lake.tests.{table}")


@pytest.mark.parametrize("cursor_type,old,new", [
    ("uuid", ["00000000-0000-0000-0000-00000000000a", "9fffffff-0000-0000-0000-000000000000"],
     "a0000000-0000-0000-0000-000000000000"),
    ("time", ["09:59:59.5", "9:59:59.75"], "10:00:00"),
    ("varchar(8)", ["b", "b9"], "ba"),
])
def test_a_cursor_whose_text_orders_as_its_type_reads_every_new_row(
        direct_load: Loader, postgres: PgServer, spark: Any, cursor_type: str, old: list[str], new: str) -> None:
    table = f"d_textorder_ok_{cursor_type.split('(')[0]}"
    postgres.sql(f"CREATE TABLE {table} (id int, tag {cursor_type})")
    postgres.sql(f"INSERT INTO {table} VALUES " + ", ".join(f"({i}, '{v}')" for i, v in enumerate(old, 1)))
    first = direct_load(table, table, action="create", cursor_column="tag")
    assert first.status == "succeeded", first.error
    postgres.sql(f"INSERT INTO {table} VALUES ({len(old) + 1}, '{new}')")
    second = direct_load(table, table, cursor_column="tag")
    assert (second.status, second.inserted) == ("succeeded", 1), second.error
    assert lake_ids(spark, table) == source_ids(postgres, table)


def test_a_missing_source_table_is_named(direct_load: Loader) -> None:
    result = direct_load("d_absent", "d_absent", action="create", cursor_column="id")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument"
    assert "public.d_absent was not found in database shop" in result.error["message"]


def test_an_unreachable_database_is_a_retryable_error_naming_the_table_and_host(
        direct_load: Loader, postgres: PgServer) -> None:
    from conftest import _free_port

    port = _free_port()  # nothing listens there
    result = direct_load("d_events", "d_unreachable", action="create", cursor_column="id",
                         jdbc_url=f"jdbc:postgresql://127.0.0.1:{port}/shop")
    assert result.status == "failed" and result.error is not None
    message = result.error["message"]
    assert result.error["class"] == "InternalError" and result.error["retryable"] is True
    assert "shop.public.d_events" in message and f"127.0.0.1:{port}" in message and "08001" in message
    assert PG_PASSWORD not in message


def test_a_wrong_password_is_not_retried_and_never_shown(direct_load: Loader, postgres: PgServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    postgres.sql("CREATE TABLE IF NOT EXISTS d_auth (id int)")
    monkeypatch.setenv("LAKESYNC_TEST_WRONG_PW", PG_PASSWORD + "-wrong")
    result = direct_load("d_auth", "d_auth", action="create", cursor_column="id",
                         jdbc_password_env="LAKESYNC_TEST_WRONG_PW")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument" and not result.error["retryable"]
    assert "28P01" in result.error["message"] and "'postgres'" in result.error["message"]
    assert PG_PASSWORD not in result.error["message"]


def test_an_unset_password_variable_is_named(direct_load: Loader) -> None:
    result = direct_load("d_auth", "d_auth", action="create", cursor_column="id", jdbc_password_env="LAKESYNC_TEST_UNSET")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "InvalidArgument"
    assert "--jdbc_password_env 'LAKESYNC_TEST_UNSET'" in result.error["message"]


def test_a_load_that_fails_before_its_commit_keeps_the_watermark_and_a_replay_catches_up(
        direct_load: Loader, postgres: PgServer, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakesync_glue import loader

    # A decimal cursor (e.g. a sequence with sub-steps), read in ranges between floor(min) and ceil(max).
    postgres.sql("CREATE TABLE d_crash (id int, seq numeric(14,3), kind text)")
    postgres.sql("INSERT INTO d_crash SELECT g, g * 0.5, 'k' FROM generate_series(1, 400) g")
    options = {"cursor_column": "seq", "cursor_lookback": "10", "partitions": "3"}
    first = direct_load("d_crash", "d_crash", action="create", **options)
    assert first.status == "succeeded", first.error
    assert (first.cursorValueAfter, first.window and first.window["partitions"]) == ("200.000", 3)
    postgres.sql("INSERT INTO d_crash SELECT g, g * 0.5, 'k' FROM generate_series(401, 450) g")
    before = snapshots(spark, "d_crash")

    def crash(self: Any, what: str, statement: str) -> None:
        raise RuntimeError("the executor was lost")

    monkeypatch.setattr(loader._Load, "commit", crash)
    failed = direct_load("d_crash", "d_crash", **options)
    monkeypatch.undo()
    assert failed.status == "failed" and failed.error is not None and failed.error["retryable"] is True
    assert failed.cursorValueAfter is None and failed.committed is False
    assert snapshots(spark, "d_crash") == before and len(lake_ids(spark, "d_crash")) == 400
    replay = direct_load("d_crash", "d_crash", **options)
    assert (replay.status, replay.inserted, replay.cursorValueAfter) == ("succeeded", 50, "225.000"), replay.error
    assert replay.window is not None and replay.window["from"] == "190.000"
    assert lake_ids(spark, "d_crash") == source_ids(postgres, "d_crash")


def test_a_parent_table_is_read_without_the_tables_inheriting_from_it_and_a_partitioned_one_whole(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    # As the export reads it: a child's rows are the child's (synced as itself, or excluded), never the parent's.
    postgres.sql("CREATE TABLE d_parent (id bigint, kind text, amount numeric(12,2))")
    postgres.sql("CREATE TABLE d_child_pii (secret text) INHERITS (d_parent)")
    insert_events(postgres, "d_parent", range(1, 11))
    postgres.sql("INSERT INTO d_child_pii (id, kind, amount, secret) SELECT g, 'child', 1, 'x' FROM generate_series(101, 105) g")
    options = {"primary_key": "id", "cursor_column": "id"}
    parent = direct_load("d_parent", "d_parent", action="create", **options)
    assert parent.status == "succeeded", parent.error
    assert (parent.inserted, parent.rowsRead) == (10, 10)
    assert lake_ids(spark, "d_parent") == list(range(1, 11))
    postgres.sql("INSERT INTO d_child_pii (id, kind, amount, secret) VALUES (200, 'child', 1, 'y')")
    insert_events(postgres, "d_parent", range(11, 13))
    later = direct_load("d_parent", "d_parent", **options)
    assert later.status == "succeeded", later.error
    assert lake_ids(spark, "d_parent") == list(range(1, 13))

    postgres.sql("CREATE TABLE d_parted (id bigint, kind text, amount numeric(12,2)) PARTITION BY RANGE (id)")
    postgres.sql("CREATE TABLE d_parted_low PARTITION OF d_parted FOR VALUES FROM (0) TO (100)")
    postgres.sql("CREATE TABLE d_parted_high PARTITION OF d_parted FOR VALUES FROM (100) TO (1000)")
    insert_events(postgres, "d_parted", range(95, 105))
    parted = direct_load("d_parted", "d_parted", action="create", **options)
    assert parted.status == "succeeded", parted.error
    assert lake_ids(spark, "d_parted") == list(range(95, 105))


def test_values_read_as_text_do_not_depend_on_the_source_databases_output_settings(direct_load: Loader,
                                                                                  postgres: PgServer,
                                                                                  spark: Any) -> None:
    """A database (or role) may set IntervalStyle or bytea_output: the window reads what an export writes all the same."""
    postgres.sql("CREATE TABLE d_styles (id int, span interval, blobs bytea[])")
    postgres.sql("INSERT INTO d_styles VALUES (1, interval '1 day 2 hours', ARRAY['\\x00ff'::bytea])")
    expected = direct_load("d_styles", "d_styles_default", action="create", cursor_column="id")
    assert expected.status == "succeeded", expected.error
    postgres.sql("ALTER DATABASE shop SET IntervalStyle = 'iso_8601'")
    postgres.sql("ALTER DATABASE shop SET bytea_output = 'escape'")
    try:
        styled = direct_load("d_styles", "d_styles_styled", action="create", cursor_column="id")
    finally:
        postgres.sql("ALTER DATABASE shop RESET IntervalStyle")
        postgres.sql("ALTER DATABASE shop RESET bytea_output")
    assert styled.status == "succeeded", styled.error
    rows = [run_query(spark, f"SELECT CAST(span AS STRING) AS span, CAST(blobs AS STRING) AS blobs FROM lake.tests.{t}")
            for t in ("d_styles_default", "d_styles_styled")]
    assert rows[0] == rows[1], rows


def test_floats_and_dates_read_as_text_do_not_depend_on_the_sources_float_digits_or_datestyle(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """A database (or role) may set extra_float_digits 0 (15 digits: 0.30000000000000004 prints as 0.3) or DateStyle
    (SQL, DMY: 03/02/2024): dates, timestamps and the elements of float lists arrive as the source holds them all the same."""
    postgres.sql("CREATE TABLE d_datestyle (id int, f double precision, dt date, ts timestamp, tz timestamptz, fs float8[], rs real[])")
    postgres.sql("INSERT INTO d_datestyle VALUES (1, 0.1::float8 + 0.2::float8, '2024-02-03', '2024-02-03 10:00:00.5', '2024-02-03 12:00:00+02', "
                 "ARRAY[0.1::float8 + 0.2::float8, 1e-320], ARRAY[0.1::real + 0.2::real])")
    postgres.sql("ALTER DATABASE shop SET DateStyle = 'SQL, DMY'")
    postgres.sql("ALTER DATABASE shop SET extra_float_digits = 0")
    try:
        result = direct_load("d_datestyle", "d_datestyle", action="create", cursor_column="dt")
    finally:
        postgres.sql("ALTER DATABASE shop RESET DateStyle")
        postgres.sql("ALTER DATABASE shop RESET extra_float_digits")
    assert result.status == "succeeded", result.error
    assert result.cursorValueAfter == "2024-02-03"
    rows = run_query(spark, "SELECT f, dt, ts, tz, CAST(fs AS STRING) AS fs, CAST(rs AS STRING) AS rs FROM lake.tests.d_datestyle")
    assert rows == [{"f": 0.30000000000000004, "dt": "2024-02-03", "ts": "2024-02-03T10:00:00.500000", "tz": "2024-02-03T10:00:00.000000Z",
                     "fs": "[0.30000000000000004, 1.0E-320]", "rs": "[0.3]"}], rows


@pytest.mark.parametrize("pg_type, far", [("date", "20240-05-01"), ("timestamptz", "20240-05-01 10:00:00+00"),
                                          ("timestamp", "20240-05-01 10:00:00")])
def test_a_cursor_in_a_year_past_9999_pins_the_window_and_every_load_says_so(direct_load: Loader, postgres: PgServer,
                                                                             spark: Any, pg_type: str, far: str) -> None:
    """A typo such as 20240-05-01 (PostgreSQL takes years up to 294276) becomes the lake's max: windows start there,
    as after an 'infinity', and each load says so; a row at or after it still arrives."""
    table = f"d_far_{pg_type}"
    postgres.sql(f"CREATE TABLE {table} (id int, at {pg_type})")
    postgres.sql(f"INSERT INTO {table} VALUES (1, '2024-05-01'), (2, '{far}')")
    first = direct_load(table, table, action="create", cursor_column="at")
    assert first.status == "succeeded", first.error
    postgres.sql(f"INSERT INTO {table} VALUES (3, '2024-05-02'), (4, '{far}')")
    second = direct_load(table, table, cursor_column="at")
    assert second.status == "succeeded", second.error
    # Row 3 lies below the pinned window, but within the create's range, which the first load counts.
    assert lake_ids(spark, table) == [1, 2, 3, 4]
    assert any("cursor column 'at'" in w and "after today" in w for w in second.warnings), second.warnings
    postgres.sql(f"INSERT INTO {table} VALUES (5, '2024-05-03'), (6, '{far}')")
    third = direct_load(table, table, cursor_column="at")
    assert third.status == "succeeded", third.error
    # Row 5 lies below the pinned window too, within the range the last window read (from the create's start).
    assert lake_ids(spark, table) == [1, 2, 3, 4, 5, 6]
    assert any("cursor column 'at'" in w and "after today" in w for w in third.warnings), third.warnings


def test_a_create_that_reads_rows_without_a_cursor_value_warns_with_sql_that_fixes_the_column(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """No later window reads a row whose cursor is NULL: the create that loads such rows says how many, and the
    ALTER TABLE it offers names the table and the column as PostgreSQL knows them (quoted: unquoted, PostgreSQL
    would fold them to lower case)."""
    postgres.sql('CREATE TABLE "D_Nulls" (id int, "Seq" bigint)')
    postgres.sql('INSERT INTO "D_Nulls" VALUES (1, 1), (2, NULL), (3, NULL)')
    created = direct_load("D_Nulls", "d_nulls", action="create", cursor_column="Seq", cursor_mode="append")
    assert (created.status, created.inserted) == ("succeeded", 3), created.error
    warning = next((w for w in created.warnings if "no cursor value" in w), "")
    assert "2 row(s) have no cursor value (NULL)" in warning, created.warnings
    assert 'ALTER TABLE "public"."D_Nulls" ALTER COLUMN "Seq" SET NOT NULL' in warning, warning


def test_a_partition_column_the_table_lacks_is_refused_even_when_the_window_is_read_in_one_partition(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """A misspelled --partition_column is refused on the first load, not only once a window grows past one
    partition (months later, on the load of the largest window)."""
    postgres.sql("CREATE TABLE d_small_part (id int, grp text)")
    postgres.sql("INSERT INTO d_small_part SELECT g, 'g' || (g % 3) FROM generate_series(1, 10) g")
    result = direct_load("d_small_part", "d_small_part", action="create", cursor_column="id", partition_column="gpr")
    assert result.status == "failed" and result.error is not None, result
    assert result.error["class"] == "InvalidArgument"
    assert result.error["message"].startswith("--partition_column 'gpr': table shop.public.d_small_part has no such "
                                              "column"), result.error
    assert not spark.catalog.tableExists("lake.tests.d_small_part")
    excluded = direct_load("d_small_part", "d_small_part", action="create", cursor_column="id", partition_column="grp",
                           column_policies=json.dumps({"grp": {"exclude": True}}))
    assert excluded.error is not None and "is excluded" in excluded.error["message"], excluded.error


def test_a_numeric_with_a_negative_scale_holds_its_integers(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """numeric(5,-2) (PostgreSQL 15+) holds integers of up to 7 digits, rounded to hundreds."""
    postgres.sql("CREATE TABLE d_hundreds (id bigint PRIMARY KEY, amount numeric(5,-2))")
    postgres.sql("INSERT INTO d_hundreds VALUES (1, 9999900), (2, -1234), (3, NULL)")
    result = direct_load("d_hundreds", "d_hundreds", action="create", cursor_column="id")
    assert result.status == "succeeded", result.error
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.d_hundreds").schema.fields}
    assert types["amount"] == "decimal(7,0)"
    assert run_query(spark, "SELECT id, CAST(amount AS string) AS a FROM lake.tests.d_hundreds ORDER BY id") == [
        {"id": 1, "a": "9999900"}, {"id": 2, "a": "-1200"}, {"id": 3, "a": None}]


def test_a_domain_over_a_domain_arrives_as_its_base_type(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE DOMAIN d_posint AS integer CHECK (VALUE > 0)")
    postgres.sql("CREATE DOMAIN d_small_posint AS d_posint CHECK (VALUE < 1000)")
    postgres.sql("CREATE DOMAIN d_amount AS numeric(10,2)")
    postgres.sql("CREATE DOMAIN d_safe_amount AS d_amount")
    postgres.sql("CREATE TABLE d_nested (id bigint PRIMARY KEY, qty d_small_posint, price d_safe_amount)")
    postgres.sql("INSERT INTO d_nested VALUES (1, 5, 12.50), (2, NULL, NULL)")
    result = direct_load("d_nested", "d_nested", action="create", cursor_column="id")
    assert result.status == "succeeded", result.error
    types = {f.name: f.dataType.simpleString() for f in spark.table("lake.tests.d_nested").schema.fields}
    assert types == {"id": "bigint", "qty": "int", "price": "decimal(10,2)"}
    assert run_query(spark, "SELECT id, qty, CAST(price AS string) AS price FROM lake.tests.d_nested ORDER BY id") == [
        {"id": 1, "qty": 5, "price": "12.50"}, {"id": 2, "qty": None, "price": None}]
