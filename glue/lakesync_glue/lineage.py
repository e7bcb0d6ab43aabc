"""Lineage: where each commit's data came from, so a lake table never moves back in time.

Every commit the job makes records the source, the source table, export id, snapshot time and
cycle id in its Iceberg snapshot summary. Before writing, the job reads the newest lineage along the table's
current snapshot history and refuses an export taken from an older snapshot.

Snapshot expiry (S3 Tables maintenance keeps only recent snapshots) can remove every commit that
carries lineage, after a compaction commit that carries none. So each successful export load also
records its lineage in the table's properties, which expiry keeps; the guard reads them when the
history has no lineage left.

An export of the same snapshot time is not older, whatever its export id: two exports of one
snapshot hold the same point in time (e.g. `latest-automated` picking the same snapshot twice),
so loading either one never moves the table back.
"""
from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import lake
from .args import JobArgs, parse_time
from .errors import InternalError, OlderExport, OtherSource
from .names import sql_string
from .sqltext import table_ident

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")
log = logging.getLogger("lakesync_glue")

SOURCE = "lakesync.source"
EXPORT_ID = "lakesync.export-id"
SNAPSHOT_TIME = "lakesync.snapshot-time"
CYCLE_ID = "lakesync.cycle-id"
# schema.table as the source lists it (dynamodb.<Name> for a DynamoDB table): two tables of one source
# whose lake names meet (public.users and public."Users") must not load one lake table.
SOURCE_TABLE = "lakesync.source-table"
# Direct loads: no export, the window instead.
EXTRACT = "lakesync.extract"
WINDOW_FROM = "lakesync.window-from"
WINDOW_TO = "lakesync.window-to"
WINDOW_CREATE = "lakesync.window-create"  # "true": the window was a create's (every row up to window-to)
KEYS: tuple[str, ...] = (SOURCE, EXPORT_ID, SNAPSHOT_TIME, CYCLE_ID, SOURCE_TABLE)
# The table's current snapshot when a load recorded its lineage in the properties: a load that
# changed nothing made no snapshot, so only the properties say the table holds its export.
TABLE_SNAPSHOT = "lakesync.table-snapshot"
# The lake columns loads left unwritten (excluded, or gone from the source): rows they wrote read NULL there,
# whatever the source holds. A JSON list, accumulated over the loads (a replace starts it again); in the
# summary of each commit that changes or carries it (atomic with its rows) and in the table's properties
# (which snapshot expiry keeps).
UNWRITTEN = "lakesync.unwritten-columns"
# How the written lake columns' values were derived (derivations.py): a JSON object of lake column -> the
# derivations its rows were written with, accumulated like UNWRITTEN, kept the same two ways.
DERIVATIONS = "lakesync.column-derivations"


@dataclass(frozen=True)
class Lineage:
    """The lineage of one lake commit (an Iceberg snapshot)."""

    snapshot_id: str | None  # None: read from the table's properties, not from a snapshot
    source: str | None
    export_id: str | None
    snapshot_time: str
    cycle_id: str | None
    table_snapshot: str | None = None  # properties only: the current snapshot when they were recorded


def source_table(args: JobArgs) -> str:
    """The load's table as its source names it in the config and the commands: schema.table (no quoting)."""
    return f"{args.source_schema}.{args.source_table}"


def commit_properties(args: JobArgs, window: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The snapshot summary properties of every commit of this load.

    A direct load has no export id or snapshot time (so the older-export guard passes its commits
    over); it records the window it read instead (a bound is left out when there is none).
    """
    if args.direct:
        props = {SOURCE: args.source, SOURCE_TABLE: source_table(args), CYCLE_ID: args.cycle_id, EXTRACT: "direct"}
        for key, name in ((WINDOW_FROM, "from"), (WINDOW_TO, "to")):
            value = (window or {}).get(name)
            if value is not None:
                props[key] = str(value)
        if (window or {}).get("create"):
            props[WINDOW_CREATE] = "true"
        return props
    return {
        SOURCE: args.source,
        SOURCE_TABLE: source_table(args),
        EXPORT_ID: args.export_id,
        SNAPSHOT_TIME: args.snapshot_time,
        CYCLE_ID: args.cycle_id,
    }


class _Action:
    """A java.util.concurrent.Callable implemented in Python (a py4j callback)."""

    def __init__(self, action: Callable[[], object]) -> None:
        self.action = action
        self.value: object = None
        self.error: BaseException | None = None

    def call(self) -> None:
        try:
            self.value = self.action()
        except BaseException as exc:  # kept so the caller re-raises the original error
            self.error = exc
            raise

    class Java:
        implements = ["java.util.concurrent.Callable"]


def with_commit_properties(spark: "SparkSession", properties: dict[str, str], action: Callable[[], T]) -> T:
    """Runs `action` (Spark SQL writes) so that every Iceberg commit it makes carries `properties`.

    Iceberg's CommitMetadata.withCommitProperties keeps the properties in a thread-local of the
    JVM thread that runs the statement; SQL MERGE has no write options to carry them instead.
    The statement runs in a py4j callback on that same JVM thread, which needs PySpark's pinned
    thread mode (PYSPARK_PIN_THREAD, on by default since Spark 3.2).
    """
    from py4j.clientserver import ClientServer

    gateway = spark.sparkContext._gateway  # type: ignore[attr-defined]
    if not isinstance(gateway, ClientServer):
        raise InternalError(
            "PySpark runs without pinned threads (PYSPARK_PIN_THREAD=false), so the job cannot record "
            "lineage in its Iceberg commits; unset PYSPARK_PIN_THREAD (or set it to true) for the job"
        )
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    jmap = jvm.java.util.HashMap()
    for key, value in properties.items():
        jmap.put(key, value)
    callback = _Action(action)
    try:
        jvm.org.apache.iceberg.spark.CommitMetadata.withCommitProperties(
            jmap, callback, jvm.java.lang.RuntimeException._java_lang_class
        )
    except Exception:
        # The statement's own error (e.g. a commit conflict) is the one to classify and report.
        if callback.error is not None:
            raise callback.error from None
        raise
    return callback.value  # type: ignore[return-value]


def lake_snapshots(spark: "SparkSession", args: JobArgs) -> lake.Snapshots:
    """The load's lake table's snapshots, with their lineage keys."""
    ident = table_ident(args.catalog, args.namespace, args.lake_table)
    return lake.Snapshots(spark, ident, args.catalog, args.namespace, args.lake_table, KEYS)


def newest_lineage(snapshots: lake.Snapshots, ident: str, current_snapshot: str | None) -> Lineage | None:
    """The newest lakesync lineage along the current snapshot's ancestry (None when there is none).

    Commits lakesync did not make (S3 Tables compaction, other writers) carry no lineage and are
    passed over; the ancestry, not commit time, so that a rolled-back snapshot does not count.
    """
    for snapshot, entry in ancestry(snapshots, current_snapshot):
        if entry is None:
            return None
        summary = entry.summary
        snapshot_time = summary[SNAPSHOT_TIME]
        if snapshot_time is not None:
            if parse_time(snapshot_time) is not None:
                return Lineage(snapshot, summary[SOURCE], summary[EXPORT_ID], snapshot_time, summary[CYCLE_ID])
            log.warning("snapshot %s of %s has an unreadable %s %r; looking further back",
                        snapshot, ident, SNAPSHOT_TIME, snapshot_time)
    return None


def ancestry(snapshots: lake.Snapshots, current: str | None) -> Iterator[tuple[str, lake.SnapshotEntry | None]]:
    """`current` and its ancestors, newest first, with their entries; the walk ends after one the table no
    longer has (expired: entry None) and never loops."""
    seen: set[str] = set()
    snapshot = current
    while snapshot is not None and snapshot not in seen:
        seen.add(snapshot)
        entry = snapshots.get(snapshot)
        yield snapshot, entry
        snapshot = entry.parent if entry is not None else None


def table_lineage(spark: "SparkSession", ident: str) -> Lineage | None:
    """The lineage the last successful export load recorded in the table's properties (None when none did)."""
    properties = lake.properties(spark, ident)
    snapshot_time = properties.get(SNAPSHOT_TIME)
    if snapshot_time is None:
        return None
    if parse_time(snapshot_time) is None:
        log.warning("table %s has an unreadable %s property %r; it is not used", ident, SNAPSHOT_TIME, snapshot_time)
        return None
    return Lineage(None, properties.get(SOURCE), properties.get(EXPORT_ID), snapshot_time, properties.get(CYCLE_ID),
                   properties.get(TABLE_SNAPSHOT))


def lake_lineage(spark: "SparkSession", args: JobArgs, current_snapshot: str | None) -> Lineage | None:
    """What the load's lake table holds: the newer of the history's newest lineage and the properties'.

    The history follows the current snapshot's ancestry, so a rollback counts. The properties also
    name the export of a later load that changed nothing (and made no snapshot); they count when the
    snapshot they were recorded at is still on that ancestry, or when the history has no lineage (expired).
    """
    ident = table_ident(args.catalog, args.namespace, args.lake_table)
    history = snapshots = None
    if current_snapshot is not None:
        snapshots = lake_snapshots(spark, args)
        history = newest_lineage(snapshots, ident, current_snapshot)
    recorded = table_lineage(spark, ident)
    if history is None or recorded is None or snapshots is None or recorded.table_snapshot is None:
        return history or recorded
    recorded_time, history_time = parse_time(recorded.snapshot_time), parse_time(history.snapshot_time)
    newer = recorded_time is not None and history_time is not None and recorded_time > history_time
    if newer and on_ancestry(snapshots, current_snapshot, recorded.table_snapshot, history.snapshot_id):
        return recorded
    return history


def on_ancestry(snapshots: lake.Snapshots, current: str | None, wanted: str, stop: str | None) -> bool:
    """True when `wanted` is `current` or one of its ancestors, looking no further back than `stop`."""
    for snapshot, _ in ancestry(snapshots, current):
        if snapshot == wanted:
            return True
        if snapshot == stop:
            return False
    return False


def table_properties(args: JobArgs) -> dict[str, str]:
    """The lineage a table holding this export's rows keeps in its properties; a direct load's source and table only.

    A create or replace sets them in its own commit; other loads record them after (record_table_lineage).
    A direct load has no export lineage to keep, but its source and table are kept: once maintenance has
    expired every direct commit the properties alone say whose rows the table holds (lake_owner), so that
    another source's (or table's) load is still refused.
    """
    if args.direct:
        return {SOURCE: args.source, SOURCE_TABLE: source_table(args)}
    return commit_properties(args)


def record_table_lineage(spark: "SparkSession", ident: str, args: JobArgs, snapshot: str | None = None) -> str | None:
    """Records this export load's lineage (a direct load's source) in the table's properties; a warning when that failed.

    Called once the load succeeded, whether or not it committed: the table then holds this export's
    rows. A property change makes no snapshot. Skipped when the properties already say so. A
    failure does not fail the load: its data is committed and the history still names its export.
    """
    wanted = table_properties(args)
    if not wanted:
        return None
    try:
        current = lake.properties(spark, ident)
        if all(current.get(k) == v for k, v in wanted.items()):
            return None
        if snapshot is not None and not args.direct:
            wanted = {**wanted, TABLE_SNAPSHOT: snapshot}  # the table's snapshot now, `snapshot`
        pairs = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in wanted.items())
        spark.sql(f"ALTER TABLE {ident} SET TBLPROPERTIES ({pairs})").collect()
        return None
    except Exception as exc:  # noqa: BLE001 - reported as a warning, the load stands
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if args.direct:
            return (f"source {args.source} was not recorded as the owner in the properties of lake table "
                    f"{args.lake_table_id} ({message}); once maintenance expires its commits, another source's "
                    "load into it would not be refused until a later load records it. Check that the job's role "
                    "may alter the table")
        return (f"the lineage of export {args.export_id} was not recorded in the properties of lake table "
                f"{args.lake_table_id} ({message}); the older-export guard relies on the snapshot history "
                "alone until a later load records it. Check that the job's role may alter the table")


def rerun_command(args: JobArgs) -> str:
    table = shlex.quote(source_table(args))
    return f"lakesync rerun {shlex.quote(args.source)} --tables {table} --allow-older-export"


def rebuild_command(args: JobArgs) -> str:
    """The command that replaces the lake table from the export (what a table the job cannot load into needs)."""
    table = shlex.quote(source_table(args))
    return f"lakesync rerun {shlex.quote(args.source)} --rebuild {table}"


def older_export(args: JobArgs, found: Lineage | None) -> OlderExport | None:
    """The refusal of this load when the lake already holds a newer export, else None."""
    if found is None:
        return None
    lake_time = parse_time(found.snapshot_time)
    if lake_time is None or lake_time <= args.snapshot_instant:
        return None
    origin = f"export {found.export_id or '(unknown)'} (snapshot time {found.snapshot_time}"
    if found.source and found.source != args.source:
        origin += f", source {found.source}"
    origin += f", cycle {found.cycle_id})" if found.cycle_id else ")"
    problem = OlderExport(
        f"table {args.target}: lake table {args.lake_table_id} holds {origin}, newer than this load's "
        f"export {args.export_id} (snapshot time {args.snapshot_time}); loading it would move the table "
        f"back in time, so nothing was written. If that is intended (e.g. to undo a bad load), run: "
        f"{rerun_command(args)}"
    )
    if args.allow_older_export:
        log.warning("%s: allowed by --allow_older_export: %s", args.lake_table_id, problem.message)
        return None
    return problem


@dataclass(frozen=True)
class Owner:
    """The source (and source table) whose rows a lake table holds: that of its newest lakesync commit, export or direct."""

    source: str
    export_id: str | None
    cycle_id: str | None
    source_table: str | None = None  # None: committed before the job recorded it (unknown)

    @property
    def origin(self) -> str:
        """The commit that made it the owner, as messages name it."""
        load = f"export {self.export_id}" if self.export_id else "a direct load"
        return f"{load}, cycle {self.cycle_id or '(unknown)'}"


def newest_owner(snapshots: lake.Snapshots, current_snapshot: str | None) -> Owner | None:
    """The source of the newest commit along the current snapshot's ancestry that names one (None: none does).

    Direct loads' commits count too: they name their source but no snapshot time, so the export
    lineage (newest_lineage) passes them over.
    """
    for _, entry in ancestry(snapshots, current_snapshot):
        if entry is None:
            return None
        summary = entry.summary
        if summary.get(SOURCE):
            return Owner(str(summary[SOURCE]), summary.get(EXPORT_ID), summary.get(CYCLE_ID), summary.get(SOURCE_TABLE))
    return None


def lake_owner(spark: "SparkSession", args: JobArgs, current_snapshot: str | None) -> Owner | None:
    """Whose rows the load's lake table holds: the history's newest owner, else the properties' (a history expired)."""
    if current_snapshot is not None:
        owner = newest_owner(lake_snapshots(spark, args), current_snapshot)
        if owner is not None:
            return owner
    properties = lake.properties(spark, table_ident(args.catalog, args.namespace, args.lake_table))
    source = properties.get(SOURCE)
    if not source:
        return None
    return Owner(source, properties.get(EXPORT_ID), properties.get(CYCLE_ID), properties.get(SOURCE_TABLE))


def other_source(args: JobArgs, found: Owner | None) -> OtherSource | None:
    """The refusal of this load when the lake table holds another source's rows, or another table's of
    this source, else None.

    Two sources loading one lake table (one target namespace and table name) would each overwrite
    the other's rows and delete those its own export lacks; so would two tables of one source whose
    lake names meet. A rebuild takes the table over (a renamed source or source table).
    """
    if found is None or args.rebuild:
        return None
    if found.source == args.source:
        return other_table(args, found)
    return OtherSource(
        f"table {args.target}: lake table {args.lake_table_id} holds the rows of source {found.source} "
        f"({found.origin}), not of source {args.source}: "
        f"loading it would overwrite or delete that source's rows, so nothing was written. Give one of the two "
        f"sources another target (target.namespace or target.tableName, or the table's lakeName); if source "
        f"{found.source} was renamed {args.source}, take the table over with: {rebuild_command(args)}"
    )


def other_table(args: JobArgs, found: Owner) -> OtherSource | None:
    """The refusal of this load when the lake table holds the rows of another table of the same source, else None.

    An owner committed before source tables were recorded names none: unknown, so not refused (the
    next load of the table records its own).
    """
    mine = source_table(args)
    if found.source_table is None or found.source_table == mine:
        return None
    return OtherSource(
        f"table {args.target}: lake table {args.lake_table_id} holds the rows of table {found.source_table} of "
        f"source {found.source} ({found.origin}), not of table {mine}: loading it would overwrite or delete that "
        f"table's rows, so nothing was written. Give one of the two tables another lake table name (the table's "
        f"lakeName); if table {found.source_table} was renamed {mine}, take the lake table over with: "
        f"{rebuild_command(args)}"
    )


def unwritten_text(columns: Iterable[str]) -> str:
    return json.dumps(sorted(set(columns)))


def _unwritten_set(text: str | None, ident: str) -> set[str]:
    if not text:
        return set()
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list):
        log.warning("table %s has an unreadable %s %r; it is not used", ident, UNWRITTEN, text)
        return set()
    return {str(v) for v in value}


# A record's text in the newest lakesync commit that carries it, and in the table's properties.
RecordTexts = tuple[str | None, str | None]


def recorded_texts(spark: "SparkSession", args: JobArgs, current_snapshot: str | None,
                   keys: Sequence[str]) -> dict[str, RecordTexts]:
    """Each record's text in the newest lakesync commit along the current snapshot's ancestry that carries it,
    and in the table's properties (all that is left once expiry removed those commits); None where there is
    none. One walk of the history and one read of the properties for all of `keys`.

    A lakesync commit without a record ends the walk for it: it was made before loads recorded it, or had
    nothing to record. Commits of other writers (compaction) are passed over.
    """
    ident = table_ident(args.catalog, args.namespace, args.lake_table)
    summaries: dict[str, str | None] = {}
    if current_snapshot is not None:
        snapshots = lake.Snapshots(spark, ident, args.catalog, args.namespace, args.lake_table, (SOURCE, *keys))
        for _, entry in ancestry(snapshots, current_snapshot):
            if entry is None:
                break
            for key in keys:
                if key not in summaries and (entry.summary[key] is not None or entry.summary[SOURCE] is not None):
                    summaries[key] = entry.summary[key]
            if len(summaries) == len(keys):
                break
    properties = lake.properties(spark, ident)
    return {key: (summaries.get(key), properties.get(key)) for key in keys}


def unwritten_recorded(texts: RecordTexts, ident: str) -> set[str]:
    """The lake columns earlier loads left unwritten, from the record's texts (recorded_texts): the newest
    lakesync commit's with the table property's (none where neither records any)."""
    summary, prop = texts
    return _unwritten_set(summary, ident) | _unwritten_set(prop, ident)


def record_property(spark: "SparkSession", ident: str, key: str, wanted: str, skip_absent: bool = False) -> str | None:
    """Sets the table property `key` to `wanted`; the error's first line when that failed, else None.

    Skipped when the property already says so, or is absent and `skip_absent`.
    """
    try:
        current = lake.properties(spark, ident).get(key)
        if current == wanted or (current is None and skip_absent):
            return None
        spark.sql(f"ALTER TABLE {ident} SET TBLPROPERTIES ({sql_string(key)} = {sql_string(wanted)})").collect()
        return None
    except Exception as exc:  # noqa: BLE001 - reported by the caller as a warning, the load stands
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def record_unwritten(spark: "SparkSession", ident: str, args: JobArgs, columns: set[str]) -> str | None:
    """Sets the table property to `columns`, what the load's commits recorded; a warning when that failed.

    After the commits, as a property change cannot join a commit of rows; their summaries hold it
    meanwhile. Skipped when the property already says so, or is absent and `columns` empty.
    """
    message = record_property(spark, ident, UNWRITTEN, unwritten_text(columns), skip_absent=not columns)
    if message is None:
        return None
    return (f"the columns this load left unwritten ({', '.join(sorted(columns)) or 'none'}) were not recorded in "
            f"the properties of lake table {args.lake_table_id} ({message}); its commits record them until "
            "snapshot expiry removes them. Check that the job's role may alter the table")


# The lineage keys that tell one load's commits from another's.
OWN_KEYS: tuple[str, ...] = (EXPORT_ID, CYCLE_ID, SOURCE, SOURCE_TABLE)


def made_by_load(spark: "SparkSession", snapshot: str | None, parent: str | None, args: JobArgs) -> bool:
    """True when `snapshot` is this load's own commit right on top of `parent` (None: the table's first commit)."""
    if snapshot is None:
        return False
    entry = lake_snapshots(spark, args).get(snapshot)
    expected = commit_properties(args)
    return entry is not None and entry.parent == parent and all(
        entry.summary[k] == expected.get(k) for k in OWN_KEYS)


def other_load_since(spark: "SparkSession", args: JobArgs, current: str | None, since: str | None) -> Lineage | None:
    """The newest commit of another lakesync load made after `since`, along the ancestry of `current` (None:
    there is none). Commits carrying no lineage (compaction, other writers) and this load's own are passed over."""
    if current is None or current == since:
        return None
    snapshots = lake_snapshots(spark, args)
    own = commit_properties(args)
    for snapshot, entry in ancestry(snapshots, current):
        if snapshot == since or entry is None:
            return None
        summary = entry.summary
        if not any(summary.get(k) is not None for k in KEYS):
            continue
        if all(summary.get(k) == own.get(k) for k in OWN_KEYS):
            continue
        return Lineage(snapshot, summary.get(SOURCE), summary.get(EXPORT_ID), summary.get(SNAPSHOT_TIME) or "",
                       summary.get(CYCLE_ID))
    return None
