"""The export-first merge (fast_merge.py): rows are compared before casting, yet counts and rows stay exact.

Every merge here is checked against a table created from the same export (the reference):
the merged lake table must hold exactly the same rows, and the counts must be the true ones.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader
from exportkit import col
from lakesync_glue import loader
from scenario import Versions, current_snapshot, lake_rows, snapshots

# The scale is given (as the embedded exporter does), so the reference table's numeric matches the merged one.
COLS = [col("id", "bigint"), col("name", "text"), replace(col("price", "numeric(10,2)"), num_scale=2), col("at", "timestamptz"),
        col("local", "timestamp"), col("day", "date"), col("score", "double precision"), col("flag", "boolean")]
TABLE, TARGET = "fm", "shop.public.fm"


def base(i: int) -> list[Any]:
    return [i, f"item {i}", None if i == 10 else f"{i}.50", f"2024-05-0{1 + i % 9} 10:00:00+00",
            f"2024-06-0{1 + i % 9} 08:30:00.5", f"2024-07-{10 + i % 20}", 0.0 if i == 14 else i * 1.25, i % 2 == 0]


V1 = [base(i) for i in range(1, 31)]


def edit(i: int, index: int, value: Any) -> list[Any]:
    out = base(i)
    out[index] = value
    return out


EDITS = {
    2: edit(2, 1, "renamed"),                              # text
    3: edit(3, 2, "3.51"),                                 # numeric
    4: edit(4, 3, "2024-05-05 10:00:00.000001+00"),       # timestamptz, one microsecond later
    5: edit(5, 4, "2024-06-06 08:30:00.6"),               # timestamp
    6: edit(6, 5, "2024-07-17"),                           # date
    7: edit(7, 6, 8.76),                                   # double
    8: edit(8, 7, False),                                  # boolean
    9: edit(9, 1, None),                                   # value -> NULL
    10: edit(10, 2, "10.00"),                              # NULL -> value
    # Same values written differently: not changes.
    11: edit(11, 2, "11.5"),
    12: edit(12, 3, "2024-05-04 12:00:00+02"),
    13: edit(13, 4, "2024-06-05 08:30:00.500000"),
    14: edit(14, 6, -0.0),
    15: edit(15, 2, "15.500"),
}
V2 = [EDITS.get(r[0], r) for r in V1 if r[0] not in (20, 21)] + [base(31), base(32)]


class State:
    snapshot: str | None = None


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return Versions(tmp_path_factory.mktemp("fast-merge"), "shop", "public", TABLE)


def reference(load: Loader, spark: Any, export: str, name: str, **options: str) -> list[dict[str, Any]]:
    """The rows a fresh table created from `export` holds."""
    spark.sql(f"DROP TABLE IF EXISTS lake.tests.{name}").collect()
    result = load(export, TARGET, name, action="create", primary_key="id", **options)
    assert result.status == "succeeded", result.error
    return lake_rows(spark, name)


def merged(load: Loader, export: str, caplog: pytest.LogCaptureFixture, **options: str) -> Any:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lakesync_glue"):
        result = load(export, TARGET, TABLE, action="merge", primary_key="id", **options)
    assert result.status == "succeeded", result.error
    assert "to compare typed" in caplog.text, "the merge took the export-first path"
    return result


def table_count(spark: Any) -> int:
    return int(spark.sql(f"SELECT count(*) FROM lake.tests.{TABLE}").collect()[0][0])


def test_every_kind_of_change_is_found_and_equal_values_are_not(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    created = load(versions.export(COLS, V1), TARGET, TABLE, action="merge", primary_key="id")
    assert (created.action, created.inserted) == ("create", 30), created.error
    v2 = versions.export(COLS, V2, batches=2)
    result = merged(load, v2, caplog)
    # 9 rows changed in one column each (ids 2..10); 11..15 only differ in how the export writes them.
    assert (result.action, result.rowsRead, result.inserted, result.updated, result.deleted) == ("merge", 30, 2, 9, 2)
    assert result.committed and result.rowCountAfter == 30 == table_count(spark)
    assert lake_rows(spark, TABLE) == reference(load, spark, v2, "fm_ref")
    State.snapshot = result.snapshotId


def test_the_same_export_again_commits_nothing(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshots(spark, TABLE)
    result = merged(load, versions.export(COLS, V2), caplog)
    assert (result.action, result.committed, result.inserted, result.updated, result.deleted) == ("none", False, 0, 0, 0)
    assert (result.rowsRead, result.rowCountAfter, result.snapshotId) == (30, 30, State.snapshot)
    assert snapshots(spark, TABLE) == before


def test_rows_changed_in_the_lake_outside_lakesync_are_put_back(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    spark.sql(f"UPDATE lake.tests.{TABLE} SET score = 1.0 WHERE id = 16").collect()
    spark.sql(f"UPDATE lake.tests.{TABLE} SET at = NULL WHERE id = 17").collect()
    spark.sql(f"DELETE FROM lake.tests.{TABLE} WHERE id = 18").collect()
    spark.sql(f"INSERT INTO lake.tests.{TABLE} VALUES (99, 'only in the lake', NULL, NULL, NULL, NULL, NULL, NULL)").collect()
    v2 = versions.export(COLS, V2)
    result = merged(load, v2, caplog)
    assert (result.inserted, result.updated, result.deleted) == (1, 2, 1)
    assert result.rowCountAfter == 30 == table_count(spark)
    assert lake_rows(spark, TABLE) == reference(load, spark, v2, "fm_ref")


def test_a_key_deleted_then_exported_again_is_inserted(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    without = merged(load, versions.export(COLS, [r for r in V2 if r[0] != 5]), caplog)
    assert (without.inserted, without.updated, without.deleted, without.rowCountAfter) == (0, 0, 1, 29)
    back = [edit(5, 1, "back again") if r[0] == 5 else r for r in V2]
    v = versions.export(COLS, back)
    result = merged(load, v, caplog)
    assert (result.inserted, result.updated, result.deleted, result.rowCountAfter) == (1, 0, 0, 30)
    assert lake_rows(spark, TABLE) == reference(load, spark, v, "fm_ref")


def test_a_bad_value_in_a_changed_row_fails_before_any_write(
    load: Loader, spark: Any, versions: Versions
) -> None:
    before = current_snapshot(spark, TABLE)
    bad = [edit(3, 2, "not a number") if r[0] == 3 else r for r in V2]
    result = load(versions.export(COLS, bad), TARGET, TABLE, action="merge", primary_key="id")
    assert result.status == "failed" and result.error is not None
    assert result.error["class"] == "CastError" and "'price'" in result.error["message"]
    assert current_snapshot(spark, TABLE) == before


def test_nulled_values_are_counted_as_under_a_full_check(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    # onInvalid null: the bad value becomes NULL (an update), and every such value is counted,
    # including the one in a row whose lake value is already NULL (no change).
    rows = [edit(3, 2, "not a number") if r[0] == 3 else edit(10, 2, "n/a") if r[0] == 10 else r for r in V2]
    policies = '{"price": {"onInvalid": "null"}}'
    first = merged(load, versions.export(COLS, rows), caplog, column_policies=policies)
    assert first.nulledValues == {"price": 2}
    # id 3: 3.51 -> NULL; id 10: 10.00 -> NULL; id 5: its name back from the previous load.
    assert (first.inserted, first.updated, first.deleted) == (0, 3, 0)
    again = merged(load, versions.export(COLS, rows), caplog, column_policies=policies)
    assert again.nulledValues == {"price": 2} and (again.updated, again.committed) == (0, False)


def test_a_new_column_updates_the_rows_that_have_a_value(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    cols = COLS + [col("note", "text")]
    rows = [r + ([f"note {r[0]}"] if r[0] % 3 == 0 else [None]) for r in V2]
    v = versions.export(cols, rows)
    result = merged(load, v, caplog)
    assert result.schemaChanges == ["added column note string"]
    changed = {r[0] for r in rows if r[-1] is not None} | {3, 10}  # ids 3 and 10: prices NULLed by the last load
    assert (result.inserted, result.updated, result.deleted) == (0, len(changed), 0)
    assert lake_rows(spark, TABLE) == reference(load, spark, v, "fm_ref")


def test_a_run_that_failed_between_its_commits_is_completed_by_the_rerun(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cols = COLS + [col("note", "text"), col("extra", "integer")]
    rows = [r + ([f"note {r[0]}"] if r[0] % 3 == 0 else [None]) + [r[0] * 7] for r in V2]
    v = versions.export(cols, rows)
    before = current_snapshot(spark, TABLE)

    def lost(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("the worker lost its connection")

    monkeypatch.setattr(loader._Load, "merge_changes", lost)
    failed = load(v, TARGET, TABLE, action="merge", primary_key="id")
    assert failed.status == "failed" and current_snapshot(spark, TABLE) == before
    assert "extra" in [f.name for f in spark.table(f"lake.tests.{TABLE}").schema.fields]  # the first commit landed
    monkeypatch.undo()

    result = merged(load, v, caplog)
    assert (result.inserted, result.updated, result.deleted) == (0, 30, 0)
    assert result.committed and result.rowCountAfter == 30 == table_count(spark)
    assert lake_rows(spark, TABLE) == reference(load, spark, v, "fm_ref")
    replay = merged(load, v, caplog)
    assert (replay.committed, replay.updated) == (False, 0)


def test_a_commit_by_another_writer_during_the_load_makes_the_job_count_the_table(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakesync_glue import fast_merge

    real = fast_merge.FastMerge.key_filter

    def meanwhile(self: Any, changes: Any, total: int) -> Any:
        spark.sql(f"INSERT INTO lake.tests.{TABLE} SELECT 500 AS id, 'written meanwhile' AS name, price, at, local, "
                  f"day, score, flag, note, extra FROM lake.tests.{TABLE} WHERE id = 1").collect()
        return real(self, changes, total)

    monkeypatch.setattr(fast_merge.FastMerge, "key_filter", meanwhile)
    cols = COLS + [col("note", "text"), col("extra", "integer")]
    rows = [r + ([f"note {r[0]}"] if r[0] % 3 == 0 else [None]) + [r[0] * 7] for r in V2 if r[0] != 30]
    result = merged(load, versions.export(cols, rows), caplog)
    assert (result.inserted, result.updated, result.deleted) == (0, 0, 1)
    # Not 29 (the count before plus inserts minus deletes): the table is counted, with the row written meanwhile.
    assert result.rowCountAfter == 30 == table_count(spark)


def test_an_unchanged_export_skips_the_typed_comparison_and_a_moved_row_does_not(
    load: Loader, spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing new, gone or to compare typed: the second stage is skipped, yet a new column is added and the
    counts are exact. With a row new and one gone (still nothing to compare typed) it runs and applies both."""
    table = "fm_unchanged"
    own = Versions(tmp_path, "shop", "public", table)
    assert load(own.export(COLS, V1), own.target, table, action="merge", primary_key="id").status == "succeeded"
    before = current_snapshot(spark, table)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lakesync_glue"):
        v = own.export(COLS + [col("note", "text")], [r + [None] for r in V1])
        result = load(v, own.target, table, action="merge", primary_key="id")
    assert "0 new, 0 gone, 0 to compare typed" in caplog.text
    assert "check and compare the rows" not in caplog.text, "no row was left to cast"
    assert (result.status, result.action, result.committed) == ("succeeded", "merge", False), result.error
    assert (result.rowsRead, result.inserted, result.updated, result.deleted, result.rowCountAfter) == (30, 0, 0, 0, 30)
    assert result.schemaChanges == ["added column note string"]
    assert current_snapshot(spark, table) == before
    fresh = load(v, own.target, "fm_unchanged_ref", action="create", primary_key="id")
    assert fresh.status == "succeeded", fresh.error
    assert lake_rows(spark, table) == lake_rows(spark, "fm_unchanged_ref")

    # A row gone and a row new, every other row unchanged: no candidate, yet the second stage runs.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lakesync_glue"):
        moved = own.export(COLS + [col("note", "text")], [r + [None] for r in [*V1[1:], base(31)]])
        result = load(moved, own.target, table, action="merge", primary_key="id")
    assert "1 new, 1 gone, 0 to compare typed" in caplog.text
    assert (result.status, result.committed) == ("succeeded", True), result.error
    assert (result.inserted, result.updated, result.deleted, result.rowCountAfter) == (1, 0, 1, 30)
    assert {r["id"] for r in lake_rows(spark, table)} == set(range(2, 32))


def test_duplicate_keys_in_the_lake_take_the_full_path(
    load: Loader, spark: Any, versions: Versions, caplog: pytest.LogCaptureFixture
) -> None:
    spark.sql(f"INSERT INTO lake.tests.{TABLE} SELECT 31 AS id, 'a second row 31' AS name, price, at, local, day, score, flag, note, extra FROM lake.tests.{TABLE} WHERE id = 31").collect()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lakesync_glue"):
        result = load(versions.export(COLS, V2), TARGET, TABLE, action="merge", primary_key="id")
    assert "every row checked" in caplog.text
    # The lake does not hold one row per key: the merge is refused with the cause, before any write.
    assert result.status == "failed" and result.error is not None
    assert (result.error["class"], result.error["retryable"]) == ("DuplicateKeys", False), result.error
    assert "1 key value(s) appear in more than one row" in result.error["message"]


def test_a_rendered_lake_value_casts_back_to_itself_unflagged(spark: Any) -> None:
    """The invariant the export-first comparison rests on, over edge values of each rendered type."""
    from lakesync_glue.changes import raw_compare
    from lakesync_glue.names import quote
    from lakesync_glue.pgtypes import ColumnMapping, numeric_plan, plan_column, with_on_invalid_null

    cases = [
        (numeric_plan(ColumnMapping("c", "numeric", "binary (UTF8)", num_precision=12), "c", "string", 12, 2),
         "decimal(12,2)", ["0.00", "-0.01", "0.10", "99999999.99", "-99999999.99", "1.50", "100"]),
        (numeric_plan(ColumnMapping("c", "numeric", "binary (UTF8)", num_precision=30), "c", "string", 30, 12),
         "decimal(30,12)", ["0.000000000001", "0.000001", "123456789012345678.123456789012", "-1E-12"]),
        (numeric_plan(ColumnMapping("c", "numeric", "binary (UTF8)", num_precision=12), "c", "string", 12, 6),
         "decimal(12,6)", ["0.000001", "-0.000001", "0.000000", "0.00001", "123456.123456", "-0.1"]),
        (plan_column(ColumnMapping("c", "timestamp with time zone", "binary (UTF8)", datetime_precision=6), "c", "string"),
         "timestamp", ["2024-05-05 10:00:00Z", "2024-05-05 10:00:00.000001Z", "2024-05-05 10:00:00.1Z",
                       "0001-01-01 00:00:00Z", "9999-12-31 23:59:59.999999Z", "1969-12-31 23:59:59.999Z"]),
        (plan_column(ColumnMapping("c", "timestamp without time zone", "binary (UTF8)", datetime_precision=6), "c", "string"),
         "timestamp_ntz", ["2024-05-05 10:00:00", "2024-05-05 10:00:00.5", "0999-01-01 00:00:00.000010"]),
        (plan_column(ColumnMapping("c", "date", "binary (UTF8)"), "c", "string"), "date",
         ["2024-02-29", "0001-01-01", "9999-12-31", "0099-06-01"]),
    ]
    for plan, write_type, literals in cases:
        for variant in (plan, with_on_invalid_null(plan)):
            compare = raw_compare(variant, write_type, session_utc=True)
            assert compare.source == quote("c") and compare.forced is None, "the column is compared as exported"
            lake = spark.createDataFrame([(x,) for x in literals], "x string").selectExpr(f"CAST(x AS {write_type}) AS v")
            forced = (compare.lake_forced or "false").replace("{v}", "v")
            rendered = lake.selectExpr("v", f"{compare.lake.replace('{v}', 'v')} AS c", f"coalesce({forced}, false) AS forced")
            flags = [f for f in (variant.bad, variant.nulled, variant.clamped) if f]
            checks = rendered.selectExpr(
                "CAST(v AS STRING) AS v", "c", "forced", f"(CAST(({variant.expr}) AS {write_type}) <=> v) AS same",
                f"({' OR '.join(f'coalesce(({f}), false)' for f in flags) or 'false'}) AS flagged",
            ).collect()  # compared in Spark: Python cannot hold every timestamp in its local time zone
            assert len(checks) == len(literals)
            if compare.lake_forced is None:  # nothing forced: every rendering is trusted
                assert not any(row["forced"] for row in checks) and not any("E" in row["c"] for row in checks)
            for row in checks:
                if row["forced"]:
                    continue  # a rendering not trusted: the row is compared typed
                assert row["same"] and not row["flagged"], (write_type, row)


def test_a_rendering_outside_the_years_1_to_9999_is_not_trusted(spark: Any) -> None:
    """Spark prints such values in forms PostgreSQL does not (a sign, five-digit years): the row is compared typed."""
    from lakesync_glue.changes import raw_compare
    from lakesync_glue.pgtypes import ColumnMapping, plan_column

    first, after_last = -62135596800000000, 253402300800000000  # 0001-01-01 and 10000-01-01 at 00:00 UTC, in µs
    cases = [
        ("timestamp with time zone", "timestamp", "timestamp_micros({})"),
        ("timestamp without time zone", "timestamp_ntz", "CAST(timestamp_micros({}) AS TIMESTAMP_NTZ)"),
        ("date", "date", "CAST(timestamp_micros({}) AS DATE)"),
    ]
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    for pg_type, write_type, value in cases:
        compare = raw_compare(plan_column(ColumnMapping("c", pg_type, "binary (UTF8)"), "c", "string"), write_type, True)
        assert compare.lake_forced is not None, write_type
        micros = [first - 1, first, after_last - 1, after_last]
        day = 86_400_000_000
        if write_type == "date":  # a day on each side of each bound
            micros = [first - day, first, after_last - day, after_last]
        rows = spark.range(1).selectExpr(*[f"{value.format(m)} AS v{i}" for i, m in enumerate(micros)]).selectExpr(
            *[f"({compare.lake_forced.replace('{v}', f'v{i}')}) AS f{i}" for i in range(len(micros))]).collect()[0]
        assert [rows[f"f{i}"] for i in range(len(micros))] == [True, False, False, True], write_type


def test_both_sides_keys_are_counted_at_once_and_the_exports_error_is_raised(spark: Any) -> None:
    from lakesync_glue.changes import key_counts, key_counts_of_both

    export = spark.range(10).selectExpr("id")
    lake = spark.range(10).union(spark.range(3)).selectExpr("id")  # three keys twice
    for integer in (True, False):
        both = key_counts_of_both(export, ["id"], lake, ["id"], integer)
        assert both == (key_counts(export, ["id"], integer), key_counts(lake, ["id"], integer))
        assert both[0] == (10, 0) and both[1][0] == 13 and both[1][1] > 0
    broken = "CASE WHEN id = 5 THEN raise_error('export key broken') ELSE id END"
    with pytest.raises(Exception, match="export key broken"):
        key_counts_of_both(export, [broken], lake, ["id"], True)
    with pytest.raises(Exception, match="lake key broken"):
        key_counts_of_both(export, ["id"], lake, [broken.replace("export", "lake")], True)


def test_the_merge_names_changed_text_keys_only_while_their_text_is_modest(spark: Any) -> None:
    from types import SimpleNamespace

    from lakesync_glue.fast_merge import KEY_LIST_CHARACTERS, FastMerge

    merge = FastMerge.__new__(FastMerge)
    merge.key = ["k"]
    merge.schema = SimpleNamespace(write_types={"k": "string"})  # type: ignore[assignment]
    few = spark.createDataFrame([("it's",), ("b",)], "k string")
    named = merge.key_filter(few, 2)
    assert named is not None and named.startswith("t.`k` IN (") and "'b'" in named
    # 600 keys of 2,000 characters: 1.2 million characters of SQL for Spark's parser; the MERGE scans the table instead.
    long_keys = spark.createDataFrame([(f"{i:04d}" + "x" * 2_000,) for i in range(600)], "k string")
    assert 600 * 2_004 > KEY_LIST_CHARACTERS
    assert merge.key_filter(long_keys, 600) is None
