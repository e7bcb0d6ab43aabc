"""Lineage: every commit records the export it came from, and an older export never overwrites a newer one."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import Loader, PgServer
from exportkit import col
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot, lake_rows, snapshots

COLS = [col("id", "bigint"), col("name", "text"), col("version", "bigint")]
V1 = [(1, "a", 1), (2, "b", 1), (3, "c", 1), (4, "d", 1)]
# 2 updated, 4 deleted, 5 inserted (within every delete guard); the cursor (version) moves for changed rows only.
V2 = [(1, "a", 1), (2, "b2", 2), (3, "c", 1), (5, "e", 2)]

EARLY = "2024-05-01T10:00:00.000Z"
LATE = "2024-05-02T10:00:00.000Z"
KEYS = ("lakesync.source", "lakesync.export-id", "lakesync.snapshot-time", "lakesync.cycle-id")
SOURCE_TABLE = "lakesync.source-table"


def lineage(export: str, snapshot_time: str, cycle: str) -> dict[str, str]:
    return {"source": "shop", "export_id": os.path.basename(export), "snapshot_time": snapshot_time, "cycle_id": cycle}


def summary_lineage(summary: dict[str, str]) -> tuple[str | None, ...]:
    return tuple(summary.get(k) for k in KEYS)


def rows_of(data: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{"id": r[0], "name": r[1], "version": r[2]} for r in data]


def row_count(spark: Any, table: str) -> int:
    return int(run_query(spark, f"SELECT count(*) AS n FROM lake.tests.{table}")[0]["n"])


def _newer_load_then_compaction(load: Loader, spark: Any, tmp_path: Path, table: str,
                                cycle: str) -> tuple[Versions, str, str, Any]:
    """The newer export (V2, LATE) merged by `cycle`, then a compaction; also returns an older export (V1)."""
    versions = Versions(tmp_path, "shop", "public", table)
    newer, older = versions.export(COLS, V2), versions.export(COLS, V1)
    first = load(newer, versions.target, table, action="merge", primary_key="id", **lineage(newer, LATE, cycle))
    assert first.status == "succeeded", first.error
    spark.sql(f"CALL lake.system.rewrite_data_files(table => 'tests.{table}', options => map('rewrite-all', 'true'))").collect()
    return versions, newer, older, first


@pytest.mark.parametrize(
    "action, options",
    [("merge", {"primary_key": "id"}), ("replace", {}), ("incremental", {"cursor_column": "version"})],
)
def test_every_commit_records_its_lineage(load: Loader, spark: Any, tmp_path: Path, action: str,
                                          options: dict[str, str]) -> None:
    table = f"lineage_{action}"
    versions = Versions(tmp_path, "shop", "public", table)
    e1, e2 = versions.export(COLS, V1), versions.export(COLS, V2)

    first = load(e1, versions.target, table, action=action, **options, **lineage(e1, EARLY, "c1"))
    assert (first.status, first.action) == ("succeeded", "create"), first.error
    second = load(e2, versions.target, table, action=action, **options, **lineage(e2, LATE, "c2"))
    assert (second.status, second.action, second.committed) == ("succeeded", action, True), second.error

    by_id = {s["id"]: summary_lineage(s["summary"]) for s in snapshots(spark, table)}
    assert by_id[first.snapshotId] == ("shop", os.path.basename(e1), EARLY, "c1")
    assert by_id[second.snapshotId] == ("shop", os.path.basename(e2), LATE, "c2")
    # Every snapshot of the table is a lakesync commit here: each one names its export and its source table.
    assert all(None not in values for values in by_id.values()), by_id
    assert {s["summary"].get(SOURCE_TABLE) for s in snapshots(spark, table)} == {f"public.{table}"}


def test_an_older_export_is_refused_and_changes_nothing_unless_allowed(load: Loader, spark: Any, tmp_path: Path) -> None:
    table = "lineage_guard"
    # A compaction commit (as S3 Tables makes) carries no lineage: the guard looks past it.
    versions, newer, older, first = _newer_load_then_compaction(load, spark, tmp_path, table, "c7")
    snapshot, count = current_snapshot(spark, table), row_count(spark, table)
    assert snapshot != first.snapshotId, "the compaction made a snapshot of its own"

    refused = load(older, versions.target, table, action="merge", primary_key="id", **lineage(older, EARLY, "c8"))
    assert refused.status == "failed"
    assert refused.error is not None and refused.error["class"] == "OlderExport", refused.error
    assert refused.error["retryable"] is False
    message = refused.error["message"]
    for part in ("tests.lineage_guard", os.path.basename(newer), LATE, os.path.basename(older), EARLY,
                 "lakesync rerun shop --tables public.lineage_guard --allow-older-export"):
        assert part in message, f"{part!r} missing from: {message}"
    assert (current_snapshot(spark, table), row_count(spark, table)) == (snapshot, count)
    assert lake_rows(spark, table) == rows_of(V2)
    assert (refused.snapshotId, refused.rowCountAfter, refused.committed) == (snapshot, count, False)

    forced = load(older, versions.target, table, action="merge", primary_key="id", allow_older_export="true",
                  **lineage(older, EARLY, "c9"))
    assert (forced.status, forced.action, forced.committed) == ("succeeded", "merge", True), forced.error
    assert lake_rows(spark, table) == rows_of(V1)
    newest = snapshots(spark, table)[-1]
    assert newest["id"] == forced.snapshotId
    assert summary_lineage(newest["summary"]) == ("shop", os.path.basename(older), EARLY, "c9")


def test_the_guard_holds_after_maintenance_expires_the_last_load(load: Loader, spark: Any, tmp_path: Path) -> None:
    """S3 Tables maintenance compacts (a commit without lineage), then expires every snapshot but the newest.

    The load's own snapshot is gone from the history; the table's properties still say which export it holds.
    """
    table = "lineage_expired"
    versions, newer, older, first = _newer_load_then_compaction(load, spark, tmp_path, table, "c1")
    spark.sql(f"CALL lake.system.expire_snapshots(table => 'tests.{table}', older_than => TIMESTAMP '9999-01-01 00:00:00', "
              "retain_last => 1)").collect()
    left = snapshots(spark, table)
    assert [s["id"] for s in left] == [current_snapshot(spark, table)] and first.snapshotId not in [s["id"] for s in left]
    assert summary_lineage(left[0]["summary"]) == (None, None, None, None), "the compaction's snapshot has no lineage"
    snapshot = current_snapshot(spark, table)

    refused = load(older, versions.target, table, action="merge", primary_key="id", **lineage(older, EARLY, "c2"))
    assert refused.error is not None and refused.error["class"] == "OlderExport", (refused.status, refused.error)
    assert f"holds export {os.path.basename(newer)} (snapshot time {LATE}, cycle c1)" in refused.error["message"], refused.error
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows_of(V2))

    # A newer export still loads, and the table then says it holds that one.
    newest = versions.export(COLS, V1)
    later = "2024-05-03T10:00:00.000Z"
    third = load(newest, versions.target, table, action="merge", primary_key="id", **lineage(newest, later, "c3"))
    assert (third.status, third.committed) == ("succeeded", True), third.error
    assert table_lineage(spark, table) == ("shop", os.path.basename(newest), later, "c3")


LATER = "2024-05-03T10:00:00.000Z"


@pytest.mark.parametrize("action, options", [("merge", {"primary_key": "id"}), ("replace", {})])
def test_an_older_export_is_refused_after_a_newer_load_that_changed_nothing(
        load: Loader, spark: Any, tmp_path: Path, action: str, options: dict[str, str]) -> None:
    """A load with nothing to change makes no snapshot: the history still names the export before it.

    Export V1 at EARLY commits; export V1 again at LATER changes nothing; export V2 at LATE, older than
    LATER, must then be refused: the table holds LATER's rows, and V2 would move it back in time.
    """
    table = f"lineage_noop_{action}"
    versions = Versions(tmp_path, "shop", "public", table)
    first, newest, older = versions.export(COLS, V1), versions.export(COLS, V1), versions.export(COLS, V2)
    assert load(first, versions.target, table, action=action, **options, **lineage(first, EARLY, "c1")).committed
    unchanged = load(newest, versions.target, table, action=action, **options, **lineage(newest, LATER, "c3"))
    assert (unchanged.status, unchanged.committed) == ("succeeded", False), unchanged.error
    snapshot = current_snapshot(spark, table)

    refused = load(older, versions.target, table, action=action, **options, **lineage(older, LATE, "c2"))
    assert refused.error is not None and refused.error["class"] == "OlderExport", (refused.status, refused.error)
    assert f"holds export {os.path.basename(newest)} (snapshot time {LATER}, cycle c3)" in refused.error["message"]
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows_of(V1))


def test_a_rollback_past_the_snapshot_a_no_change_load_recorded_still_counts(load: Loader, spark: Any,
                                                                              tmp_path: Path) -> None:
    """The properties name a no-change load's export only while the snapshot it saw is on the current ancestry."""
    table = "lineage_noop_rollback"
    versions = Versions(tmp_path, "shop", "public", table)
    first, second, again, between = (versions.export(COLS, V1), versions.export(COLS, V2),
                                     versions.export(COLS, V2), versions.export(COLS, V1))
    assert load(first, versions.target, table, action="merge", primary_key="id", **lineage(first, EARLY, "c1")).committed
    before = current_snapshot(spark, table)
    assert load(second, versions.target, table, action="merge", primary_key="id",
                **lineage(second, "2024-05-01T12:00:00.000Z", "c2")).committed
    unchanged = load(again, versions.target, table, action="merge", primary_key="id", **lineage(again, LATER, "c3"))
    assert unchanged.committed is False, unchanged.error
    # Undo c2 (and with it what c3 confirmed): the table holds EARLY's rows again.
    spark.sql(f"CALL lake.system.rollback_to_snapshot('tests.{table}', {before})").collect()
    loaded = load(between, versions.target, table, action="merge", primary_key="id", **lineage(between, LATE, "c4"))
    assert loaded.status == "succeeded", loaded.error


def table_lineage(spark: Any, table: str) -> tuple[str | None, ...]:
    rows = spark.sql(f"SHOW TBLPROPERTIES lake.tests.{table}").collect()
    properties = {row[0]: row[1] for row in rows}
    return tuple(properties.get(k) for k in KEYS)


def test_a_create_and_a_replace_record_the_lineage_in_their_own_commit(load: Loader, spark: Any, tmp_path: Path) -> None:
    """No table version exists with the rows and without their lineage, and no ALTER follows."""
    table = "lineage_in_commit"
    versions = Versions(tmp_path, "shop", "public", table)
    e1, e2 = versions.export(COLS, V1), versions.export(COLS, V2)
    created = load(e1, versions.target, table, action="create", primary_key="id", **lineage(e1, EARLY, "c1"))
    assert created.status == "succeeded", created.error
    assert table_lineage(spark, table) == ("shop", os.path.basename(e1), EARLY, "c1")
    versions_after = lambda: int(run_query(spark, f"SELECT count(*) AS n FROM lake.tests.{table}.metadata_log_entries")[0]["n"])  # noqa: E731
    assert versions_after() == 1, "the create's lineage was recorded by a commit of its own"

    replaced = load(e2, versions.target, table, action="replace", **lineage(e2, LATE, "c2"))
    assert (replaced.status, replaced.committed) == ("succeeded", True), replaced.error
    assert table_lineage(spark, table) == ("shop", os.path.basename(e2), LATE, "c2")
    assert versions_after() == 2, "the replace's lineage was recorded by a commit of its own"


def test_another_export_of_the_same_snapshot_loads(load: Loader, spark: Any, tmp_path: Path) -> None:
    """Two exports of one snapshot hold the same point in time (e.g. latest-automated picked it twice)."""
    table = "lineage_same_time"
    versions = Versions(tmp_path, "shop", "public", table)
    e1, e2 = versions.export(COLS, V1), versions.export(COLS, V2)
    assert load(e1, versions.target, table, action="replace", **lineage(e1, LATE, "c1")).status == "succeeded"
    second = load(e2, versions.target, table, action="replace", **lineage(e2, "2024-05-02T12:00:00+02:00", "c2"))
    assert (second.status, second.committed) == ("succeeded", True), second.error
    assert lake_rows(spark, table) == rows_of(V2)


def test_the_refusal_compares_instants_and_names_both_exports() -> None:
    from conftest import make_args
    from lakesync_glue.lineage import Lineage, older_export

    args = make_args("/exports/e2", "shop.public.Odd Name", "odd_name", "/tmp/r.json", "/tmp/wh",
                     action="replace", snapshot_time="2024-05-02T00:00:00+02:00", export_id="e2")  # 22:00Z
    lake = Lineage("11", "shop", "e1", "2024-05-01T23:00:00Z", "c1")
    refusal = older_export(args, lake)
    assert refusal is not None and refusal.error_class == "OlderExport" and refusal.retryable is False
    assert "export e1 (snapshot time 2024-05-01T23:00:00Z, cycle c1)" in refusal.message
    assert "export e2 (snapshot time 2024-05-02T00:00:00+02:00)" in refusal.message
    assert refusal.message.endswith("lakesync rerun shop --tables 'public.Odd Name' --allow-older-export")
    assert older_export(args, Lineage("11", "shop", "e0", "2024-05-01T22:00:00Z", None)) is None  # same instant
    assert older_export(args, Lineage("11", "shop", "e0", "2024-05-01T21:00:00Z", None)) is None
    assert older_export(args, None) is None
    assert older_export(args.with_changes(allow_older_export=True), lake) is None


def test_commits_without_pinned_threads_are_refused_before_writing() -> None:
    from lakesync_glue.errors import InternalError
    from lakesync_glue.lineage import with_commit_properties

    class Context:
        _gateway = object()  # a JavaGateway, not PySpark's pinned-thread ClientServer

    class Session:
        sparkContext = Context()

    wrote: list[bool] = []
    with pytest.raises(InternalError) as info:
        with_commit_properties(Session(), {"lakesync.source": "shop"}, lambda: wrote.append(True))  # type: ignore[arg-type]
    assert "PYSPARK_PIN_THREAD" in info.value.message and wrote == []


class _PropertiesSession:
    """A session whose SHOW TBLPROPERTIES answers `properties` and whose ALTER TABLE fails with `alter_error`."""

    def __init__(self, properties: dict[str, str], alter_error: Exception | None = None) -> None:
        self.properties, self.alter_error = properties, alter_error
        self.statements: list[str] = []

    def sql(self, statement: str) -> Any:
        self.statements.append(statement)
        if statement.startswith("ALTER") and self.alter_error is not None:
            raise self.alter_error
        rows = list(self.properties.items()) if statement.startswith("SHOW") else []
        return type("Frame", (), {"collect": lambda _self: rows})()


def test_a_table_lineage_that_cannot_be_recorded_is_a_warning_and_the_load_stands() -> None:
    from conftest import make_args
    from lakesync_glue.lineage import Lineage, record_table_lineage, table_lineage

    args = make_args("/exports/e2", "shop.public.orders", "orders", "/tmp/r.json", "/tmp/wh",
                     action="merge", primary_key="id", snapshot_time=LATE, export_id="e2", cycle_id="c2")
    denied = _PropertiesSession({}, RuntimeError("AccessDeniedException: no ALTER on orders\n\tat java..."))
    warning = record_table_lineage(denied, "lake.tests.orders", args)  # type: ignore[arg-type]
    assert warning is not None
    for part in ("export e2", "lake table tests.orders", "AccessDeniedException: no ALTER on orders", "alter the table"):
        assert part in warning, f"{part!r} missing from: {warning}"
    assert "at java" not in warning, "only the error's first line is quoted"

    # Properties that already name this export: nothing is altered.
    recorded = {**dict(zip(KEYS, ("shop", "e2", LATE, "c2"))), "lakesync.source-table": "public.orders"}
    same = _PropertiesSession(recorded, RuntimeError("must not alter"))
    assert record_table_lineage(same, "lake.tests.orders", args) is None  # type: ignore[arg-type]
    assert [s.split()[0] for s in same.statements] == ["SHOW"]
    # A direct load records its source and table only (no export lineage): already there, nothing is altered.
    direct = args.with_changes(extract="direct")
    assert record_table_lineage(same, "t", direct, "123") is None  # type: ignore[arg-type]
    assert [s.split()[0] for s in same.statements] == ["SHOW", "SHOW"]
    denied_direct = _PropertiesSession({}, RuntimeError("AccessDeniedException: no ALTER on orders"))
    warning = record_table_lineage(denied_direct, "t", direct, "123")  # type: ignore[arg-type]
    assert warning is not None and "source shop was not recorded as the owner" in warning, warning
    assert denied_direct.statements[-1] == ("ALTER TABLE t SET TBLPROPERTIES ('lakesync.source' = 'shop', "
                                            "'lakesync.source-table' = 'public.orders')")
    # An unreadable time is not used by the guard.
    unreadable = _PropertiesSession({**recorded, "lakesync.snapshot-time": "yesterday"})
    assert table_lineage(unreadable, "t") is None  # type: ignore[arg-type]
    assert table_lineage(same, "t") == Lineage(None, "shop", "e2", LATE, "c2")  # type: ignore[arg-type]


def test_a_table_another_source_loaded_is_refused_and_changes_nothing_unless_rebuilt(load: Loader, spark: Any,
                                                                                    tmp_path: Path) -> None:
    """Two sources with one target (namespace and table name): the second must not overwrite or delete the first's rows."""
    table = "lineage_other_source"
    versions = Versions(tmp_path, "shop", "public", table)
    first_export, other_export = versions.export(COLS, V1), versions.export(COLS, V2)
    first = load(first_export, versions.target, table, action="merge", primary_key="id", **lineage(first_export, EARLY, "c1"))
    assert first.status == "succeeded", first.error
    snapshot = current_snapshot(spark, table)

    staging = {**lineage(other_export, LATE, "s1"), "source": "staging"}
    refused = load(other_export, versions.target, table, action="merge", primary_key="id", **staging)
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    assert refused.error["retryable"] is False
    message = refused.error["message"]
    for part in ("holds the rows of source shop", f"export {os.path.basename(first_export)}, cycle c1", "not of source staging",
                 "another target", "lakesync rerun staging --rebuild public.lineage_other_source"):
        assert part in message, f"{part!r} missing from: {message}"
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows_of(V1))
    assert (refused.committed, refused.deleted) == (False, 0)

    # A rebuild takes the table over (the source was renamed): its rows, then its lineage.
    taken = load(other_export, versions.target, table, action="merge", primary_key="id", rebuild="true", **staging)
    assert (taken.status, taken.committed) == ("succeeded", True), taken.error
    assert lake_rows(spark, table) == rows_of(V2)
    assert table_lineage(spark, table)[0] == "staging"
    again = load(other_export, versions.target, table, action="merge", primary_key="id", **{**staging, "cycle_id": "s2"})
    assert again.status == "succeeded", again.error


def test_a_direct_load_into_another_sources_table_is_refused_and_changes_nothing(load: Loader, direct_load: Loader,
                                                                                 postgres: PgServer, spark: Any,
                                                                                 tmp_path: Path) -> None:
    """A direct load of source staging into the lake table source shop's export loads fill."""
    table = "lineage_direct_other"
    versions = Versions(tmp_path, "shop", "public", table)
    first_export = versions.export(COLS, V1)
    first = load(first_export, versions.target, table, action="merge", primary_key="id", **lineage(first_export, EARLY, "c1"))
    assert first.status == "succeeded", first.error
    snapshot = current_snapshot(spark, table)

    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, name text, version bigint)")
    postgres.sql(f"INSERT INTO {table} VALUES (1, 'staging', 9), (7, 'only-staging', 9)")
    refused = direct_load(table, table, primary_key="id", cursor_column="version", source="staging")
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    for part in ("holds the rows of source shop", f"export {os.path.basename(first_export)}, cycle c1", "not of source staging"):
        assert part in refused.error["message"], f"{part!r} missing from: {refused.error['message']}"
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows_of(V1))


def test_an_export_load_into_a_table_another_source_loads_directly_is_refused_and_deletes_nothing(
        load: Loader, direct_load: Loader, postgres: PgServer, spark: Any, tmp_path: Path) -> None:
    """Source shop's export MERGE would delete every row of source staging's direct loads that its export lacks."""
    table = "lineage_direct_owned"
    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, name text, version bigint)")
    postgres.sql(f"INSERT INTO {table} VALUES (10, 'staging', 1), (11, 'staging', 1)")
    owned = direct_load(table, table, action="create", primary_key="id", cursor_column="version", source="staging")
    assert owned.status == "succeeded", owned.error
    snapshot, rows = current_snapshot(spark, table), lake_rows(spark, table)

    versions = Versions(tmp_path, "shop", "public", table)
    export = versions.export(COLS, V1)
    refused = load(export, versions.target, table, action="merge", primary_key="id", **lineage(export, LATE, "c2"))
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    assert "holds the rows of source staging (a direct load, cycle cycle-d)" in refused.error["message"], refused.error["message"]
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows)
    assert (refused.committed, refused.deleted) == (False, 0)


def test_a_table_another_source_loads_directly_stays_its_own_after_maintenance_expires_its_loads(
        load: Loader, direct_load: Loader, postgres: PgServer, spark: Any, tmp_path: Path) -> None:
    """Compaction then expiry leave no direct load's commit in the history: the table's properties still name its source."""
    table = "lineage_direct_expired"
    postgres.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, name text, version bigint)")
    postgres.sql(f"INSERT INTO {table} VALUES (10, 'staging', 1), (11, 'staging', 1)")
    owned = direct_load(table, table, action="create", primary_key="id", cursor_column="version", source="staging")
    assert owned.status == "succeeded", owned.error
    spark.sql(f"CALL lake.system.rewrite_data_files(table => 'tests.{table}', options => map('rewrite-all', 'true'))").collect()
    spark.sql(f"CALL lake.system.expire_snapshots(table => 'tests.{table}', older_than => TIMESTAMP '9999-01-01 00:00:00', "
              "retain_last => 1)").collect()
    assert [summary_lineage(s["summary"]) for s in snapshots(spark, table)] == [(None, None, None, None)]
    snapshot, rows = current_snapshot(spark, table), lake_rows(spark, table)

    versions = Versions(tmp_path, "shop", "public", table)
    export = versions.export(COLS, V1)
    refused = load(export, versions.target, table, action="merge", primary_key="id", approve_deletes="true",
                   **lineage(export, LATE, "c2"))
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    assert "holds the rows of source staging" in refused.error["message"], refused.error["message"]
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows)

    # Its own source still loads it.
    postgres.sql(f"UPDATE {table} SET name = 'staging2', version = 2 WHERE id = 10")
    again = direct_load(table, table, primary_key="id", cursor_column="version", source="staging")
    assert again.status == "succeeded", again.error


# --- Two tables of one source with one lake table (public.users and public."Users" are both users) ---------
ACTIONS = [("merge", {"primary_key": "id"}), ("replace", {}), ("incremental", {"cursor_column": "version"})]


def two_tables(tmp_path: Path) -> tuple[Versions, Versions]:
    """public.users and public."Users" of source shop (their exports in folders of their own)."""
    return Versions(tmp_path / "lower", "shop", "public", "users"), Versions(tmp_path / "upper", "shop", "public", "Users")


def recorded_table(spark: Any, table: str) -> tuple[str | None, str | None]:
    """The source table the current snapshot's summary names, and the one the table's properties name."""
    current = current_snapshot(spark, table)
    summary = next(s["summary"] for s in snapshots(spark, table) if s["id"] == current)
    properties = {row[0]: row[1] for row in spark.sql(f"SHOW TBLPROPERTIES lake.tests.{table}").collect()}
    return summary.get(SOURCE_TABLE), properties.get(SOURCE_TABLE)


def as_before_source_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads as the job did before it recorded the source table: no lakesync.source-table in commits or properties."""
    from lakesync_glue import lineage as recorded

    for name in ("commit_properties", "table_properties"):
        real = getattr(recorded, name)
        monkeypatch.setattr(recorded, name, lambda *a, _real=real, **k: {
            key: value for key, value in _real(*a, **k).items() if key != SOURCE_TABLE})


def test_another_table_of_the_source_is_refused_and_changes_nothing_unless_rebuilt(load: Loader, spark: Any,
                                                                                    tmp_path: Path) -> None:
    """public."Users" into the lake table public.users fills: its merge (overlapping keys) would pass every other guard."""
    table = "lineage_other_table"
    users, upper = two_tables(tmp_path)
    first_export = users.export(COLS, V1)
    first = load(first_export, users.target, table, action="merge", primary_key="id", **lineage(first_export, EARLY, "c1"))
    assert first.status == "succeeded", first.error
    assert recorded_table(spark, table) == ("public.users", "public.users")
    snapshot = current_snapshot(spark, table)

    other_export = upper.export(COLS, V2)
    for action, options in ACTIONS:
        refused = load(other_export, upper.target, table, action=action, **options, **lineage(other_export, LATE, "c2"))
        assert refused.error is not None and refused.error["class"] == "OtherSource", (action, refused.status, refused.error)
        assert refused.error["retryable"] is False
        message = refused.error["message"]
        for part in ("table shop.public.Users:", "holds the rows of table public.users of source shop",
                     f"export {os.path.basename(first_export)}, cycle c1", "not of table public.Users", "lakeName",
                     "lakesync rerun shop --rebuild public.Users"):
            assert part in message, f"{part!r} missing from: {message}"
        assert (current_snapshot(spark, table), row_count(spark, table)) == (snapshot, len(V1)), action
        assert (refused.committed, refused.deleted) == (False, 0)
    assert lake_rows(spark, table) == rows_of(V1)

    # A rebuild takes the lake table over (the source table was renamed): its rows, then its lineage.
    taken = load(other_export, upper.target, table, action="merge", primary_key="id", rebuild="true",
                 **lineage(other_export, LATE, "c3"))
    assert (taken.status, taken.committed) == ("succeeded", True), taken.error
    assert lake_rows(spark, table) == rows_of(V2)
    assert recorded_table(spark, table) == ("public.Users", "public.Users")
    back = users.export(COLS, V1)
    refused = load(back, users.target, table, action="merge", primary_key="id", **lineage(back, LATER, "c4"))
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    assert "holds the rows of table public.Users of source shop" in refused.error["message"], refused.error["message"]


def test_the_same_source_table_loads_again_and_a_retried_load_of_its_cycle_too(load: Loader, spark: Any,
                                                                               tmp_path: Path) -> None:
    table = "lineage_same_table"
    users, _ = two_tables(tmp_path)
    e1, e2 = users.export(COLS, V1), users.export(COLS, V2)
    assert load(e1, users.target, table, action="merge", primary_key="id", **lineage(e1, EARLY, "c1")).status == "succeeded"
    second = load(e2, users.target, table, action="merge", primary_key="id", **lineage(e2, LATE, "c2"))
    assert (second.status, second.committed) == ("succeeded", True), second.error
    # The same load again (the cycle's load retried after its commit): nothing to change, and no refusal.
    retried = load(e2, users.target, table, action="merge", primary_key="id", **lineage(e2, LATE, "c2"))
    assert (retried.status, retried.committed, retried.snapshotId) == ("succeeded", False, second.snapshotId), retried.error
    assert lake_rows(spark, table) == rows_of(V2)
    assert recorded_table(spark, table) == ("public.users", "public.users")


def test_a_table_loaded_before_source_tables_were_recorded_still_loads(load: Loader, spark: Any, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Its commits name no source table: unknown, so not refused; the next load records its own."""
    table = "lineage_before_source_table"
    users, upper = two_tables(tmp_path)
    e1, e2 = users.export(COLS, V1), users.export(COLS, V2)
    with monkeypatch.context() as before:
        as_before_source_tables(before)
        first = load(e1, users.target, table, action="merge", primary_key="id", **lineage(e1, EARLY, "c1"))
    assert first.status == "succeeded", first.error
    assert recorded_table(spark, table) == (None, None)

    second = load(e2, users.target, table, action="merge", primary_key="id", **lineage(e2, LATE, "c2"))
    assert (second.status, second.committed) == ("succeeded", True), second.error
    assert recorded_table(spark, table) == ("public.users", "public.users")
    other = upper.export(COLS, V2)
    refused = load(other, upper.target, table, action="merge", primary_key="id", **lineage(other, LATER, "c3"))
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)


def test_another_table_of_the_source_stays_refused_after_maintenance_expires_the_loads(load: Loader, spark: Any,
                                                                                       tmp_path: Path) -> None:
    """Compaction then expiry leave no load's commit in the history: the table's properties still name its source table."""
    table = "lineage_other_table_expired"
    users, upper = two_tables(tmp_path)
    e1 = users.export(COLS, V1)
    assert load(e1, users.target, table, action="merge", primary_key="id", **lineage(e1, EARLY, "c1")).status == "succeeded"
    spark.sql(f"CALL lake.system.rewrite_data_files(table => 'tests.{table}', options => map('rewrite-all', 'true'))").collect()
    spark.sql(f"CALL lake.system.expire_snapshots(table => 'tests.{table}', older_than => TIMESTAMP '9999-01-01 00:00:00', "
              "retain_last => 1)").collect()
    assert recorded_table(spark, table) == (None, "public.users")
    snapshot = current_snapshot(spark, table)

    other = upper.export(COLS, V2)
    refused = load(other, upper.target, table, action="merge", primary_key="id", **lineage(other, LATE, "c2"))
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    assert "holds the rows of table public.users of source shop (export" in refused.error["message"], refused.error["message"]
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows_of(V1))
    again = users.export(COLS, V2)
    reloaded = load(again, users.target, table, action="merge", primary_key="id", **lineage(again, LATE, "c3"))
    assert (reloaded.status, reloaded.committed) == ("succeeded", True), reloaded.error


def test_a_direct_load_of_another_table_of_the_source_is_refused_and_changes_nothing(
        direct_load: Loader, postgres: PgServer, spark: Any) -> None:
    table = "lineage_direct_other_table"
    for name in (f"{table}_a", f"{table}_b"):
        postgres.sql(f"CREATE TABLE {name} (id bigint PRIMARY KEY, name text, version bigint)")
        postgres.sql(f"INSERT INTO {name} VALUES (1, '{name}', 1), (2, '{name}', 1)")
    owned = direct_load(f"{table}_a", table, action="create", primary_key="id", cursor_column="version")
    assert owned.status == "succeeded", owned.error
    assert recorded_table(spark, table) == (f"public.{table}_a", f"public.{table}_a")
    snapshot, rows = current_snapshot(spark, table), lake_rows(spark, table)

    refused = direct_load(f"{table}_b", table, primary_key="id", cursor_column="version")
    assert refused.error is not None and refused.error["class"] == "OtherSource", (refused.status, refused.error)
    for part in (f"holds the rows of table public.{table}_a of source shop (a direct load, cycle cycle-d)",
                 f"not of table public.{table}_b"):
        assert part in refused.error["message"], f"{part!r} missing from: {refused.error['message']}"
    assert (current_snapshot(spark, table), lake_rows(spark, table)) == (snapshot, rows)

    # Its own table still loads it.
    postgres.sql(f"UPDATE {table}_a SET name = 'changed', version = 2 WHERE id = 1")
    again = direct_load(f"{table}_a", table, primary_key="id", cursor_column="version")
    assert (again.status, again.committed) == ("succeeded", True), again.error


def test_a_newer_export_committed_while_an_older_one_loads_is_not_overwritten(
        load: Any, spark: Any, tmp_path: Any, monkeypatch: Any) -> None:
    # The older export passed the snapshot-time guard when its load began; a newer export committed
    # before its MERGE. The MERGE must not move the table back: the guard holds at the commit too.
    from exportkit import col
    from lakesync_glue import fast_merge, lineage
    from scenario import Versions, lake_rows

    cols = [col("id", "bigint"), col("name", "text")]
    versions = Versions(tmp_path, "shop", "public", "overtaken")
    first = load(versions.export(cols, [(1, "a"), (2, "b")]), versions.target, "overtaken", action="merge",
                 primary_key="id", snapshot_time="2024-05-01T00:00:00Z")
    assert first.status == "succeeded", first.error
    real = fast_merge.FastMerge.key_filter

    def meanwhile(self: Any, changes: Any, total: int) -> Any:
        newer = {lineage.SOURCE: "shop", lineage.EXPORT_ID: "export-newer", lineage.SNAPSHOT_TIME: "2024-07-01T00:00:00Z",
                 lineage.CYCLE_ID: "cycle-newer"}
        lineage.with_commit_properties(spark, newer, lambda: spark.sql(
            "UPDATE lake.tests.overtaken SET name = 'newer' WHERE id = 2").collect())
        return real(self, changes, total)

    monkeypatch.setattr(fast_merge.FastMerge, "key_filter", meanwhile)
    older = load(versions.export(cols, [(1, "a"), (2, "older")]), versions.target, "overtaken", action="merge",
                 primary_key="id", snapshot_time="2024-06-01T00:00:00Z")
    monkeypatch.undo()
    assert older.error is not None and older.error["class"] == "OlderExport", older.error
    assert [r["name"] for r in lake_rows(spark, "overtaken")] == ["a", "newer"]


def test_a_load_another_load_committed_under_is_refused_and_its_rerun_holds_its_export(
        load: Any, spark: Any, tmp_path: Any, monkeypatch: Any) -> None:
    # An older export's load committed while a newer one loaded (it passes the snapshot-time guard): the newer
    # load's changes were found against the table before that commit. Applied, they would leave the older
    # load's values and rows that the newer export lacks, under the newer export's lineage.
    from exportkit import col
    from lakesync_glue import fast_merge, lineage
    from scenario import Versions, lake_rows

    cols = [col("id", "bigint"), col("name", "text")]
    versions = Versions(tmp_path, "shop", "public", "under")
    first = load(versions.export(cols, [(1, "a"), (2, "b")]), versions.target, "under", action="merge",
                 primary_key="id", snapshot_time="2024-05-01T00:00:00Z")
    assert first.status == "succeeded", first.error
    real = fast_merge.FastMerge.key_filter

    def meanwhile(self: Any, changes: Any, total: int) -> Any:
        older = {lineage.SOURCE: "shop", lineage.SOURCE_TABLE: "public.under", lineage.EXPORT_ID: "export-older",
                 lineage.SNAPSHOT_TIME: "2024-06-01T00:00:00Z", lineage.CYCLE_ID: "cycle-older"}
        lineage.with_commit_properties(spark, older, lambda: spark.sql(
            "MERGE INTO lake.tests.under t USING (SELECT 2L AS id, 'older' AS name UNION ALL SELECT 4L, 'd') c "
            "ON t.id = c.id WHEN MATCHED THEN UPDATE SET name = c.name "
            "WHEN NOT MATCHED THEN INSERT (id, name) VALUES (c.id, c.name)").collect())
        return real(self, changes, total)

    monkeypatch.setattr(fast_merge.FastMerge, "key_filter", meanwhile)
    newer_rows = [(1, "a"), (2, "b"), (3, "c")]
    export = versions.export(cols, newer_rows)
    newer = load(export, versions.target, "under", action="merge", primary_key="id", snapshot_time="2024-07-01T00:00:00Z")
    monkeypatch.undo()
    rows = [(int(r["id"]), r["name"]) for r in lake_rows(spark, "under")]
    assert newer.error is not None and newer.error["class"] == "CommitConflict", (newer, rows)
    assert "export-older" in newer.error["message"]
    assert rows == [(1, "a"), (2, "older"), (4, "d")]

    rerun = load(export, versions.target, "under", action="merge", primary_key="id", snapshot_time="2024-07-01T00:00:00Z")
    assert rerun.status == "succeeded", rerun.error
    assert (rerun.inserted, rerun.updated, rerun.deleted, rerun.rowCountAfter) == (1, 1, 1, 3)
    assert [(int(r["id"]), r["name"]) for r in lake_rows(spark, "under")] == newer_rows
