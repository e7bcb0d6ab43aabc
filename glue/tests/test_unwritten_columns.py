"""A column the loads left unwritten for a while (excluded, or gone from the source) and then written again:
the rows loaded meanwhile hold NULL in it, so an append must not take them for new rows once it is written."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Loader, PgServer
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions, snapshots

EXCLUDED = json.dumps({"note": {"exclude": True}})


def lake_ids(spark: Any, table: str) -> list[int]:
    return [r["id"] for r in run_query(spark, f"SELECT id FROM lake.tests.{table} ORDER BY id")]


def unwritten_property(spark: Any, table: str) -> str | None:
    found = [r for r in spark.sql(f"SHOW TBLPROPERTIES lake.tests.{table}").collect()
             if r[0] == "lakesync.unwritten-columns"]
    return str(found[0][1]) if found else None


def test_a_direct_append_after_an_exclude_is_removed_loads_each_row_once(direct_load: Loader, postgres: PgServer,
                                                                        spark: Any) -> None:
    postgres.sql("CREATE TABLE d_reinclude (id bigint, note text)")
    postgres.sql("INSERT INTO d_reinclude SELECT g, 'n' || g FROM generate_series(1, 10) g")
    options = {"cursor_column": "id", "cursor_lookback": "5"}
    assert direct_load("d_reinclude", "d_reinclude", action="create", **options).succeeded
    postgres.sql("INSERT INTO d_reinclude SELECT g, 'n' || g FROM generate_series(11, 20) g")
    excluded = direct_load("d_reinclude", "d_reinclude", column_policies=EXCLUDED, **options)
    assert (excluded.status, excluded.inserted) == ("succeeded", 10), excluded.error
    postgres.sql("INSERT INTO d_reinclude SELECT g, 'n' || g FROM generate_series(21, 30) g")
    included = direct_load("d_reinclude", "d_reinclude", **options)
    assert (included.status, included.inserted) == ("succeeded", 10), included.error
    assert lake_ids(spark, "d_reinclude") == list(range(1, 31))
    # Before the fix the rows 15..20 were appended again, and every later load failed with SourceRewritten.
    after = direct_load("d_reinclude", "d_reinclude", **options)
    assert (after.status, after.inserted) == ("succeeded", 0), after.error
    assert lake_ids(spark, "d_reinclude") == list(range(1, 31))
    assert unwritten_property(spark, "d_reinclude") == '["note"]'


EVENTS = [col("id", "bigint"), col("note", "text"), col("tag", "text")]


def events(first: int, last: int) -> list[tuple[Any, ...]]:
    return [(i, f"n{i}", f"t{i}") for i in range(first, last + 1)]


def recorded(spark: Any, table: str) -> list[str | None]:
    """The record of unwritten columns in each snapshot's summary, oldest first."""
    return [s["summary"].get("lakesync.unwritten-columns") for s in snapshots(spark, table)]


def test_an_export_append_after_an_exclude_is_removed_loads_each_row_once_and_the_record_accumulates(
        load: Loader, spark: Any, tmp_path: Path) -> None:
    log = Versions(tmp_path, "shop", "public", "inc_reinclude")

    def step(rows: list[tuple[Any, ...]], action: str = "incremental", **policies: Any) -> Any:
        result = load(log.export(EVENTS, rows), log.target, "inc_reinclude", action=action, cursor_column="id",
                      cursor_lookback="5", column_policies=json.dumps(policies))
        assert result.status == "succeeded", result.error
        return result

    assert step(events(1, 10)).inserted == 10
    assert (unwritten_property(spark, "inc_reinclude"), recorded(spark, "inc_reinclude")) == (None, [None])
    assert step(events(1, 20), note={"exclude": True}).inserted == 10
    assert unwritten_property(spark, "inc_reinclude") == '["note"]'
    assert recorded(spark, "inc_reinclude")[-1] == '["note"]', "recorded in the commit that wrote the rows"
    assert step(events(1, 30)).inserted == 10  # ids 15..20 hold NULL in note: not new
    assert step(events(1, 30)).inserted == 0
    assert lake_ids(spark, "inc_reinclude") == list(range(1, 31))
    # Another column left unwritten adds to the record; the first one stays in it.
    assert step(events(1, 35), tag={"exclude": True}).inserted == 5
    assert (unwritten_property(spark, "inc_reinclude"), recorded(spark, "inc_reinclude")[-1]) == ('["note", "tag"]',) * 2
    assert step(events(1, 40)).inserted == 5
    assert lake_ids(spark, "inc_reinclude") == list(range(1, 41))
    # A replace writes every row: the record starts again, in the replace's own commit.
    replaced = step(events(1, 41), action="replace")  # rows 11..20 and 31..35 gain their values, 41 is new
    assert (replaced.action, replaced.inserted, replaced.deleted) == ("replace", 16, 15)
    assert (unwritten_property(spark, "inc_reinclude"), recorded(spark, "inc_reinclude")[-1]) == ("[]", "[]")
    assert step(events(1, 42)).inserted == 1


def test_the_record_in_the_properties_outlives_the_commits_that_made_it(load: Loader, spark: Any,
                                                                      tmp_path: Path) -> None:
    """S3 Tables maintenance compacts the table (a commit without lakesync's records) and expires the rest."""
    log = Versions(tmp_path, "shop", "public", "inc_reinclude_expired")

    def step(rows: list[tuple[Any, ...]], **policies: Any) -> Any:
        result = load(log.export(EVENTS, rows), log.target, "inc_reinclude_expired", action="incremental",
                      cursor_column="id", cursor_lookback="5", column_policies=json.dumps(policies))
        assert result.status == "succeeded", result.error
        return result

    step(events(1, 10))
    step(events(1, 20), note={"exclude": True})
    table = "tests.inc_reinclude_expired"
    spark.sql(f"CALL lake.system.rewrite_data_files(table => '{table}', options => map('rewrite-all', 'true'))").collect()
    spark.sql(f"CALL lake.system.expire_snapshots(table => '{table}', older_than => TIMESTAMP '9999-01-01 00:00:00', "
              "retain_last => 1)").collect()
    assert recorded(spark, "inc_reinclude_expired") == [None]
    assert step(events(1, 30)).inserted == 10
    assert lake_ids(spark, "inc_reinclude_expired") == list(range(1, 31))
