"""Direct extract against awkward sources: quoted column names."""
from __future__ import annotations

from typing import Any

from conftest import Loader, PgServer
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

