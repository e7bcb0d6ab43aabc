"""Direct reads of a partitioned table whose partitions the cycle's plan checked against the exclude
rules (--known_partitions), on a real PostgreSQL: a partition attached after the plan (before the
load, or while it reads) is never read, and the load fails saying which partition and what to do."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Loader, PgServer
from lakesync_glue.direct import DirectRows
from lakesync_glue.errors import InvalidArgument
from lakesync_glue.query import run_query


def make_events(postgres: PgServer, table: str) -> None:
    postgres.sql(f"CREATE TABLE {table} (id bigint, region text NOT NULL, secret text) PARTITION BY LIST (region)")
    postgres.sql(f"CREATE TABLE {table}_us PARTITION OF {table} FOR VALUES IN ('us') PARTITION BY RANGE (id)")
    postgres.sql(f"CREATE TABLE {table}_us_1 PARTITION OF {table}_us FOR VALUES FROM (0) TO (1000)")
    # Columns in another order than the parent's: a partition attached with its own column order.
    postgres.sql(f"CREATE TABLE {table}_us_2 (secret text, region text NOT NULL, id bigint)")
    postgres.sql(f"ALTER TABLE {table}_us ATTACH PARTITION {table}_us_2 FOR VALUES FROM (1000) TO (2000)")
    postgres.sql(f"INSERT INTO {table} VALUES (1, 'us', 'ok 1'), (2, 'us', 'ok 2'), (1500, 'us', 'ok 1500')")


def known(table: str) -> str:
    return json.dumps([f"public.{table}_us", f"public.{table}_us_1", f"public.{table}_us_2"])


def attach_eu(postgres: PgServer, table: str) -> None:
    """The excluded partition, attached after the plan, with rows inside every window."""
    postgres.sql(f"CREATE TABLE {table}_eu (id bigint, region text NOT NULL, secret text)")
    postgres.sql(f"INSERT INTO {table}_eu VALUES (3, 'eu', 'PII of eu'), (1600, 'eu', 'PII of eu')")
    postgres.sql(f"ALTER TABLE {table} ATTACH PARTITION {table}_eu FOR VALUES IN ('eu')")


def lake_secrets(spark: Any, table: str) -> list[str]:
    return [r["secret"] for r in run_query(spark, f"SELECT secret FROM lake.tests.{table} ORDER BY id")]


def test_the_checked_partitions_are_read_at_every_level(direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    make_events(postgres, "dp_read")
    first = direct_load("dp_read", "dp_read", action="create", cursor_column="id", partitions="2",
                        known_partitions=known("dp_read"))
    assert first.status == "succeeded", first.error
    assert (first.inserted, first.cursorValueAfter) == (3, "1500")
    assert lake_secrets(spark, "dp_read") == ["ok 1", "ok 2", "ok 1500"]
    postgres.sql("INSERT INTO dp_read VALUES (1700, 'us', 'ok 1700')")
    second = direct_load("dp_read", "dp_read", cursor_column="id", known_partitions=known("dp_read"))
    assert (second.status, second.inserted) == ("succeeded", 1), second.error


@pytest.mark.parametrize("action", ["create", "incremental"])
def test_a_partition_attached_after_the_plan_is_not_read(direct_load: Loader, postgres: PgServer, spark: Any,
                                                        action: str) -> None:
    table = f"dp_before_{action}"
    make_events(postgres, table)
    if action == "incremental":
        assert direct_load(table, table, action="create", cursor_column="id", known_partitions=known(table)).succeeded
    attach_eu(postgres, table)  # after the plan listed the partitions, before the load starts
    postgres.sql(f"INSERT INTO {table} VALUES (1800, 'us', 'ok 1800')")
    result = direct_load(table, table, action=action, cursor_column="id", partitions="2",
                         known_partitions=known(table))
    assert result.status == "failed"
    assert result.error is not None and result.error["class"] == "InvalidArgument"
    assert f"partition public.{table}_eu was attached to it after this cycle's plan" in result.error["message"]
    assert "run the sync again" in result.error["message"]
    if action == "incremental":
        assert lake_secrets(spark, table) == ["ok 1", "ok 2", "ok 1500"]
    assert "PII of eu" not in str(result)


def test_a_partition_attached_while_the_window_is_read_is_not_read(direct_load: Loader, postgres: PgServer,
                                                                  spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_events(postgres, "dp_during")
    assert direct_load("dp_during", "dp_during", action="create", cursor_column="id", known_partitions=known("dp_during")).succeeded
    postgres.sql("INSERT INTO dp_during VALUES (1800, 'us', 'ok 1800')")
    fix_window = DirectRows.fix_window
    read_rows: list[Any] = []

    def attach_after_fixing(self: DirectRows, *args: Any, **kwargs: Any) -> Any:
        window = fix_window(self, *args, **kwargs)
        attach_eu(postgres, "dp_during")  # the window's upper bound (1800) is above the partition's rows
        return window

    kept = DirectRows.kept

    def keep(self: DirectRows, frame: Any) -> Any:
        out = kept(self, frame)
        read_rows.extend(r["secret"] for r in out.collect())
        return out

    monkeypatch.setattr(DirectRows, "fix_window", attach_after_fixing)
    monkeypatch.setattr(DirectRows, "kept", keep)
    result = direct_load("dp_during", "dp_during", cursor_column="id", cursor_lookback="5000",
                         known_partitions=known("dp_during"))
    monkeypatch.undo()
    assert "PII of eu" not in read_rows, "the excluded partition's rows left the database"
    assert sorted(read_rows) == ["ok 1", "ok 1500", "ok 1800", "ok 2"]
    assert result.status == "failed" and result.error is not None
    assert "was attached to it while the window was read" in result.error["message"]
    assert lake_secrets(spark, "dp_during") == ["ok 1", "ok 2", "ok 1500"]


def test_known_partitions_must_be_a_list_of_names(direct_load: Loader, postgres: PgServer) -> None:
    make_events(postgres, "dp_bad")
    with pytest.raises(InvalidArgument, match="--known_partitions 'dp_bad_us': .* is not a JSON list of schema.table names"):
        direct_load("dp_bad", "dp_bad", action="create", cursor_column="id", known_partitions="dp_bad_us")



def test_an_excluded_column_of_a_partitioned_table_is_never_named_to_the_source(direct_load: Loader, postgres: PgServer,
                                                                               spark: Any) -> None:
    """Read by its checked partitions, a table's excluded column is in no statement the load sends."""
    make_events(postgres, "dp_cols")
    options = {"cursor_column": "id", "known_partitions": known("dp_cols"),
               "column_policies": json.dumps({"secret": {"exclude": True}})}
    first = direct_load("dp_cols", "dp_cols", action="create", partitions="2", **options)
    assert (first.status, first.inserted) == ("succeeded", 3), first.error
    postgres.sql("INSERT INTO dp_cols VALUES (1700, 'us', 'later')")
    second = direct_load("dp_cols", "dp_cols", **options)
    assert (second.status, second.inserted) == ("succeeded", 1), second.error
    assert [r["id"] for r in run_query(spark, "SELECT * FROM lake.tests.dp_cols ORDER BY id")] == [1, 2, 1500, 1700]
    assert "secret" not in run_query(spark, "SELECT * FROM lake.tests.dp_cols ORDER BY id")[0]
    statements = [line for line in postgres.server_log().splitlines() if "dp_cols" in line and "LOG:" in line]
    named = [s for s in statements if '"secret"' in s]
    assert statements and not named, named[0][:400]


def test_a_role_granted_select_on_the_partitioned_table_alone_reads_its_checked_partitions(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    """SELECT on a partitioned table lets a role read every partition through it (PostgreSQL checks the
    table's privileges then, not the partitions'): a read of the checked partitions needs no more."""
    from conftest import PG_PASSWORD

    make_events(postgres, "dp_grant")
    postgres.sql(f"CREATE ROLE dp_reader LOGIN PASSWORD '{PG_PASSWORD}'")
    postgres.sql("GRANT SELECT ON dp_grant TO dp_reader")
    assert postgres.sql("SET ROLE dp_reader; SELECT count(*) FROM dp_grant") == [["3"]]
    options = {"cursor_column": "id", "known_partitions": known("dp_grant"), "jdbc_user": "dp_reader"}
    first = direct_load("dp_grant", "dp_grant", action="create", partitions="2", **options)
    assert (first.status, first.inserted) == ("succeeded", 3), first.error
    postgres.sql("INSERT INTO dp_grant VALUES (1700, 'us', 'ok 1700')")
    second = direct_load("dp_grant", "dp_grant", **options)
    assert (second.status, second.inserted) == ("succeeded", 1), second.error
    assert lake_secrets(spark, "dp_grant") == ["ok 1", "ok 2", "ok 1500", "ok 1700"]
