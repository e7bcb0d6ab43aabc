"""Direct extract against awkward sources: quoted column names, canceled queries, strings without
standard_conforming_strings, and sessions that must not write."""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PG_PASSWORD, Loader, PgServer, make_direct_args
from lakesync_glue.errors import LoadError
from lakesync_glue.jdbc import resolve
from lakesync_glue.query import run_query


def lake_rows(spark: Any, table: str, columns: str) -> list[dict[str, Any]]:
    return run_query(spark, f"SELECT {columns} FROM lake.tests.{table} ORDER BY id")


def test_column_names_with_double_quotes_load_in_range_and_hashed_partitions(direct_load: Loader,
                                                                             postgres: PgServer, spark: Any) -> None:
    postgres.sql('CREATE TABLE d_quoted (id bigint, "we""ird" text, "p""q" int, "c0" text)')
    postgres.sql("INSERT INTO d_quoted SELECT g, 'w' || g, g % 3, 'z' || g FROM generate_series(1, 300) g")
    # Ranges of the cursor, then hashes on a quoted column.
    first = direct_load("d_quoted", "d_quoted", action="create", cursor_column="id", partitions="3")
    assert first.status == "succeeded", first.error
    assert (first.inserted, first.window and first.window["partitions"]) == (300, 3)
    postgres.sql("INSERT INTO d_quoted SELECT g, 'w' || g, NULL, 'z' || g FROM generate_series(301, 320) g")
    second = direct_load("d_quoted", "d_quoted", cursor_column="id", partitions="2", partition_column='p"q')
    assert (second.status, second.inserted) == ("succeeded", 20), second.error
    rows = lake_rows(spark, "d_quoted", "id, `we\"ird`, `p\"q`, c0")
    assert len(rows) == 320
    assert rows[0] == {"id": 1, 'we"ird': "w1", 'p"q': 1, "c0": "z1"}
    assert rows[-1] == {"id": 320, 'we"ird': "w320", 'p"q': None, "c0": "z320"}


def test_a_cursor_column_with_a_double_quote(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    postgres.sql('CREATE TABLE d_quoted_cursor ("se""q" bigint, id int)')
    postgres.sql("INSERT INTO d_quoted_cursor SELECT g, g FROM generate_series(1, 100) g")
    first = direct_load("d_quoted_cursor", "d_quoted_cursor", action="create", cursor_column='se"q', partitions="4")
    assert (first.status, first.inserted, first.cursorValueAfter) == ("succeeded", 100, "100"), first.error


@pytest.fixture
def locked(postgres: PgServer) -> Iterator[str]:
    """The table d_locked, held ACCESS EXCLUSIVE by another session (as an ALTER TABLE would) for the test."""
    postgres.sql("DROP TABLE IF EXISTS d_locked; CREATE TABLE d_locked (id bigint, kind text)")
    postgres.sql("INSERT INTO d_locked VALUES (1, 'a')")
    holder = subprocess.Popen(
        [os.path.join(postgres.bin_dir, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(postgres.port), "-U",
         "postgres", "-d", "shop", "-c", "BEGIN; LOCK TABLE d_locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)"],
        env={**os.environ, "PGPASSWORD": PG_PASSWORD, "PGAPPNAME": "lakesync-test-lock"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        held = "SELECT count(*) FROM pg_locks WHERE relation = 'd_locked'::regclass AND mode = 'AccessExclusiveLock'"
        for _ in range(100):
            if postgres.sql(held) == [["1"]]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the lock was not taken")
        yield "d_locked"
    finally:
        postgres.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lakesync-test-lock'")
        holder.wait(timeout=30)


@pytest.mark.parametrize(
    "setting, state, hint",
    [("statement_timeout", "57014", "statement_timeout"), ("lock_timeout", "55P03", "lock_timeout")],
)
def test_a_canceled_query_and_a_lock_timeout_are_retried_and_say_what_to_change(
        direct_load: Loader, postgres: PgServer, locked: str, setting: str, state: str, hint: str) -> None:
    url = f"{postgres.url()}?options=-c%20{setting}%3D300"
    result = direct_load(locked, "d_locked", action="create", cursor_column="id", jdbc_url=url)
    assert result.status == "failed" and result.error is not None
    message = result.error["message"]
    assert (result.error["class"], result.error["retryable"]) == ("InternalError", True), message
    assert state in message and hint in message and "shop.public.d_locked" in message
    assert "privileges" not in message and PG_PASSWORD not in message


def test_backslashes_and_quotes_in_cursor_values_without_standard_conforming_strings(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """Window bounds are row data: under standard_conforming_strings = off a backslash in '...' escapes,
    so a bound ending in \\ broke the SQL and \\' ended the literal early (the rest read as SQL)."""
    postgres.sql("CREATE DATABASE legacy")
    postgres.sql("ALTER DATABASE legacy SET standard_conforming_strings = off")
    postgres.sql("CREATE TABLE d_bs (id int, code text)", database="legacy")
    postgres.sql("INSERT INTO d_bs VALUES (1, E'a'), (2, E'b\\\\'), (3, E'b\\\\'' OR TRUE --')", database="legacy")
    assert postgres.sql("SELECT code FROM d_bs WHERE id = 3", database="legacy") == [["b\\' OR TRUE --"]]
    options = {"cursor_column": "code", "jdbc_url": postgres.url("legacy"), "source_database": "legacy"}
    first = direct_load("d_bs", "d_bs", action="create", partitions="2", **options)
    assert first.status == "succeeded", first.error
    assert (first.inserted, first.cursorValueAfter) == (3, "b\\' OR TRUE --")
    postgres.sql("INSERT INTO d_bs VALUES (4, E'c'), (5, E'b\\\\')", database="legacy")  # 5 lies below the window
    second = direct_load("d_bs", "d_bs", **options)
    assert (second.status, second.inserted) == ("succeeded", 1), second.error
    assert second.window is not None and second.window["from"] == "b\\' OR TRUE --"
    assert [r["id"] for r in lake_rows(spark, "d_bs", "id")] == [1, 2, 3, 4]


def test_the_direct_read_session_cannot_write(postgres: PgServer, spark: Any, warehouse: str, tmp_path: Path) -> None:
    """Whatever text reached the source, a connection of a direct load refuses writes: the driver's
    queries (catalog, window bound) and the partitioned reads alike."""
    postgres.sql("CREATE TABLE d_written (n int)")
    postgres.sql("CREATE FUNCTION d_write() RETURNS int LANGUAGE sql AS 'INSERT INTO d_written VALUES (1) RETURNING n'")
    args = make_direct_args(postgres, "d_written", "d_written", str(tmp_path / "r.json"), warehouse,
                            cursor_column="n")
    conn = resolve(args, spark)
    with pytest.raises(LoadError) as refused:
        conn.collect(spark, "SELECT d_write() AS n", "writing")
    assert "25006" in str(refused.value)  # read_only_sql_transaction
    frame = spark.read.format("jdbc").options(**conn.options(), dbtable="(SELECT d_write() AS n) AS w").load()
    with pytest.raises(Exception, match="read-only transaction"):
        frame.collect()
    assert postgres.sql("SELECT count(*) FROM d_written") == [["0"]]


class _SqlException:
    """What py4j hands over for a PostgreSQL SQLException: its SQLSTATE and message."""

    def __init__(self, state: str, message: str) -> None:
        self.state, self.message = state, message

    def getSQLState(self) -> str:  # noqa: N802 - Java's name
        return self.state

    def getMessage(self) -> str:  # noqa: N802 - Java's name
        return self.message

    def getCause(self) -> None:  # noqa: N802 - Java's name
        return None


@pytest.mark.parametrize(("state", "text", "cls", "hint"), [
    ("22008", "ERROR: date/time field value out of range", "InvalidArgument", "value"),
    ("22P02", "ERROR: invalid input syntax for type integer", "InvalidArgument", "value"),
    ("42703", "ERROR: column \"kind\" does not exist", "InvalidArgument", "column"),
    ("42P01", "ERROR: relation \"public.gone\" does not exist", "InvalidArgument", "exists"),
    ("42501", "ERROR: permission denied for table d_x", "InvalidArgument", "GRANT SELECT"),
])
def test_a_failed_query_gets_a_hint_that_fits_its_sqlstate_class(state: str, text: str, cls: str, hint: str) -> None:
    from lakesync_glue.jdbc import Connection, Credentials, classify
    from lakesync_glue.jdbcurl import JdbcArgs

    conn = Connection(JdbcArgs(url="jdbc:postgresql://db:5432/shop", user="reader", host="db", port=5432,
                               database="shop"), Credentials("reader", "pw"), "shop.public.d_x")
    failure = Exception("py4j wrapper")
    failure.java_exception = _SqlException(state, text)  # type: ignore[attr-defined]
    error = classify(failure, conn, "the window query")
    assert error.error_class == cls and state in error.message and hint in error.message, error.message
    if not state.startswith("42"):  # a data error is no matter of privileges
        assert "privileges" not in error.message, error.message


def test_the_test_server_is_in_the_process_group_of_pytest(postgres: PgServer) -> None:
    """A test lane stopped at its time limit stops its process group: the server must be in it, not in
    a session of its own (as pg_ctl starts one), where it would outlive the run."""
    assert postgres.pid > 0
    assert os.getpgid(postgres.pid) == os.getpgid(0)
    assert os.getsid(postgres.pid) == os.getsid(0)
