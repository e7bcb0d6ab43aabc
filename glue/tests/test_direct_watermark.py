"""The watermark a direct load reports on a real PostgreSQL: never below the one reported before, even
when the source's newest rows are gone (the reads start at the lake's max, which keeps them)."""
from __future__ import annotations

from typing import Any

from conftest import Loader, PgServer


def test_the_watermark_stays_when_the_newest_source_rows_are_deleted(direct_load: Loader, postgres: PgServer,
                                                                     spark: Any) -> None:
    postgres.sql("CREATE TABLE d_wm_back (id bigint, kind text)")
    postgres.sql("INSERT INTO d_wm_back SELECT g, 'a' FROM generate_series(1, 30) g")
    create = direct_load("d_wm_back", "d_wm_back", action="create", cursor_column="id", cursor_lookback="5")
    assert (create.status, create.cursorValueAfter) == ("succeeded", "30"), create.error
    # The newest rows are deleted: the source's max (28) falls below the lake's (30), within the lookback.
    postgres.sql("DELETE FROM d_wm_back WHERE id > 28")
    back = direct_load("d_wm_back", "d_wm_back", cursor_column="id", cursor_lookback="5")
    assert (back.status, back.inserted) == ("succeeded", 0), back.error
    assert any("cursor went back" in w for w in back.warnings), back.warnings
    assert back.cursorValueAfter == "30"
    # Rows past the lake's max move it on as before.
    postgres.sql("INSERT INTO d_wm_back VALUES (31, 'b')")
    on = direct_load("d_wm_back", "d_wm_back", cursor_column="id", cursor_lookback="5")
    assert (on.status, on.inserted, on.cursorValueAfter) == ("succeeded", 1, "31"), on.error


def test_a_timestamp_watermark_stays_when_the_newest_source_rows_are_deleted(direct_load: Loader,
                                                                            postgres: PgServer, spark: Any) -> None:
    postgres.sql("CREATE TABLE d_wm_ts (id int, at timestamptz)")
    postgres.sql("INSERT INTO d_wm_ts SELECT g, timestamptz '2024-05-01 00:00+00' + g * interval '10 minutes' "
                 "FROM generate_series(1, 12) g")
    create = direct_load("d_wm_ts", "d_wm_ts", action="create", cursor_column="at")
    assert create.status == "succeeded", create.error
    before = create.cursorValueAfter
    assert before is not None and before.startswith("2024-05-01T02:00:00"), before
    postgres.sql("DELETE FROM d_wm_ts WHERE id > 10")
    back = direct_load("d_wm_ts", "d_wm_ts", cursor_column="at")
    assert (back.status, back.inserted) == ("succeeded", 0), back.error
    assert back.cursorValueAfter == before


def test_values_compare_in_the_column_type(spark: Any) -> None:
    from lakesync_glue.lake import later

    assert later(spark, "bigint", "10", "9") and not later(spark, "bigint", "9", "10")
    assert later(spark, "decimal(10,3)", "10.000", "9.500")
    assert later(spark, "timestamp", "2024-05-01T10:00:00.000000Z", "2024-05-01T09:30:00.000000Z")
    assert not later(spark, "string", "ab  ", "ab  ") and later(spark, "string", "b", "ab")
    # A value that does not read as the type, or none: the window's own bound stands.
    assert not later(spark, "date", "not a date", "2024-05-01") and not later(spark, "date", None, "2024-05-01")
