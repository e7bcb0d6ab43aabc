"""run_load: one table of one export into its Iceberg table.

Order of work: everything that can reject the load (arguments, export, names, casts,
keys, schema, guards) runs before the first write, so a rejected load has no side
effect. The one exception is the create of a new table: its values are checked as they
are written, and a bad value stops the CREATE TABLE AS SELECT before it commits
(create_path.py). Writes happen through `with_commit_retry`.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import columns, create_path, derivations, fast_merge, lake, lineage, maintenance, source, sqltext
from .args import JobArgs
from .changes import change_set, count_ops, unseen_rows
from .commit import first_line, is_merge_cardinality_violation, with_commit_retry
from .direct import DirectRows
from .errors import CommitConflict, DeleteGuard, DuplicateKeys, EmptyExport, InternalError, InvalidArgument, LoadError, SchemaConflict
from .export import TableExport, find_table_export
from .hashing import resolve_hash_key
from .names import check_mergeable_names, lake_name, quote
from .pgtypes import ColumnMapping, ColumnPlan
from .policies import check_direct_cursor_type, check_resolved_roles, roles_of_excluded
from .result import LoadResult, utc_now, write_result
from .schema import SchemaPlan, plan_rebuild, plan_schema
from .window import EXPORT_REMEDY, Lookback, check_lookback, default_lookback, lower_bound, pinned_warning

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from .dynamodb_load import ExportRefusals

log = logging.getLogger("lakesync_glue")


@dataclass
class Outcome:
    action: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    # The row count the commit leaves, when the load knows it exactly (checked against the snapshot chain).
    rows_after: int | None = None


@dataclass
class RunState:
    """What the run learned so far; reported in a failed result and cleaned up at the end."""

    rows_read: int = 0
    count_before: int | None = None
    snapshot_before: str | None = None
    table_exists: bool = False
    views: list[str] = field(default_factory=list)
    cached: list[Any] = field(default_factory=list)
    phase_name: str = ""
    phase_started: float = 0.0
    nulled: dict[str, int] = field(default_factory=dict)
    clamped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Direct loads: the window read (result JSON `window`) and its fixed upper bound in the lake's format.
    window: dict[str, Any] | None = None
    cursor_high: str | None = None
    # The lake columns the load's commits recorded as left unwritten (lineage.UNWRITTEN); None: they recorded none.
    unwritten: set[str] | None = None
    # How the load's commits recorded the lake columns' derivations (lineage.DERIVATIONS); None: they recorded none.
    column_derivations: derivations.Record | None = None

    def phase(self, name: str) -> None:
        """Logs how long the previous phase took (job logs show where a slow load spends its time)."""
        now = time.monotonic()
        if self.phase_name:
            log.info("phase %s took %.2fs", self.phase_name, now - self.phase_started)
        self.phase_name, self.phase_started = name, now

    def cleanup(self, spark: "SparkSession") -> None:
        for name in self.views:
            try:
                spark.catalog.dropTempView(name)
            except Exception:  # noqa: BLE001 - cleanup must not hide the load's own outcome
                pass
        for df in self.cached:
            try:
                df.unpersist()
            except Exception:  # noqa: BLE001
                pass
        self.views.clear()
        self.cached.clear()


def decide_action(asked: str, exists: bool, key: Sequence[str], cursor: str | None, direct: bool = False,
                  next_action: str | None = None) -> str:
    """The action actually taken: a missing table is created whatever was asked."""
    if not exists:
        return "create"
    if direct:
        return "incremental"  # a direct window is not the whole table: never a merge or a replace
    if asked != "create":
        return asked
    # `create` asked for an existing table (e.g. a rerun after the create committed): the loads' own action once
    # the table exists (--next_action), where the caller tells it.
    if next_action:
        return next_action
    if key:
        return "merge"
    if cursor:
        return "incremental"
    return "replace"


def resolve_key(wanted: Sequence[str], mappings: Sequence[ColumnMapping], names: Sequence[str], table: str) -> list[str]:
    """The lake names of the key columns; a key that names one column twice (id, and ID when the table has no
    column ID) is refused: it would merge on that column alone."""
    key = [resolve_column("primary_key", k, mappings, names, table) for k in wanted]
    for i, name in enumerate(key):
        if name in key[:i]:
            first = wanted[key.index(name)]
            raise InvalidArgument(
                f"--primary_key {','.join(wanted)!r} names column {name!r} twice ({first!r} and {wanted[i]!r}: table "
                f"{table} has one column of that name, so the load would match rows by it alone); list each key column "
                "once, as the export lists it"
            )
    return key


def resolve_column(arg: str, wanted: str, mappings: Sequence[ColumnMapping], names: Sequence[str], table: str) -> str:
    """The lake name of a column given by its export name (or its lowercase lake name)."""
    for mapping, name in zip(mappings, names):
        if mapping.column_name == wanted:
            return name
    for name in names:
        if name == wanted.lower():
            return name
    listed = ", ".join(m.column_name for m in mappings[:20])
    raise InvalidArgument(
        f"--{arg} {wanted!r}: table {table} has no such column (columns: {listed}); "
        "pass column names as the export lists them"
    )


class ExportRows:
    """The rows of an export load: the table's Parquet files in the snapshot export."""

    name = "export"

    def __init__(self, args: JobArgs) -> None:
        self.args = args
        self.export: TableExport | None = None

    def mappings(self) -> Sequence[ColumnMapping]:
        self.export = find_table_export(self.args)
        return self.export.mappings

    def refusal(self, spark: "SparkSession", snapshot: str | None) -> LoadError | None:
        """Before reading the export: another source's table, or an older export, is refused without any work."""
        owner = lineage.lake_owner(spark, self.args, snapshot)
        return lineage.other_source(self.args, owner) or lineage.older_export(self.args, lineage.lake_lineage(spark, self.args, snapshot))

    def read(self, spark: "SparkSession", mappings: Sequence[ColumnMapping]) -> "DataFrame":
        assert self.export is not None, "mappings() runs first"
        return source.read_raw(spark, self.export, mappings)

    def export_bytes(self) -> int | None:
        """The size of the table's Parquet files (known once mappings() has found them)."""
        return None if self.export is None else self.export.data_bytes


@dataclass(frozen=True)
class WritePlan:
    """What the load's rows hold, once planned: each of its commits records it."""

    unwritten: set[str]  # lake columns it writes no value into (excluded, or gone from the source)
    derived: dict[str, str]  # the derivation of each lake column it writes (derivations.current)
    lake_columns: set[str]  # the lake table's columns before the load
    rewrites: bool  # it writes every row (create, replace, rebuild)


class _Load:
    def __init__(self, spark: "SparkSession", args: JobArgs, state: RunState) -> None:
        self.spark = spark
        self.args = args
        self.state = state
        self.ident = sqltext.table_ident(args.catalog, args.namespace, args.lake_table)
        # A merge of an export checks its values in its own passes (fast_merge.py): raw rows and plans.
        self.deferred: tuple["DataFrame", list[ColumnPlan]] | None = None
        # A new table's values are checked and counted by its write (create_path.py): raw rows, plans, key.
        self.one_pass: tuple["DataFrame", list[ColumnPlan], list[str]] | None = None
        # Where the rows come from, once known: its refusals are checked again before each commit.
        self.rows: "ExportRows | DirectRows | ExportRefusals | None" = None
        self._unwritten_before: set[str] | None = None
        # What the load's rows hold (set once planned).
        self.write_plan: WritePlan | None = None

    # -- helpers -------------------------------------------------------------------------
    def view(self, df: "DataFrame") -> str:
        name = f"lakesync_{uuid.uuid4().hex[:12]}"
        df.createOrReplaceTempView(name)
        self.state.views.append(name)
        return name

    def commit(self, what: str, statement: str) -> None:
        """Runs a write; every Iceberg snapshot it makes records this load's lineage."""
        log.info("%s: %s", self.args.lake_table_id, statement[:500])
        window = self.rows.lineage_window() if isinstance(self.rows, DirectRows) else self.state.window
        properties = {**lineage.commit_properties(self.args, window), **self.record_properties()}

        def attempt() -> object:
            self.refuse_if_overtaken()
            return lineage.with_commit_properties(self.spark, properties, lambda: self.spark.sql(statement).collect())

        with_commit_retry(
            attempt,
            what=f"{what} of {self.args.lake_table_id}",
            attempts=self.args.commit_attempts,
            wait_seconds=self.args.commit_retry_wait_seconds,
        )

    @cached_property
    def records_before(self) -> dict[str, lineage.RecordTexts]:
        """The records of the lake's rows (unwritten columns, derivations), read once, as the table was when the
        load started."""
        return lineage.recorded_texts(self.spark, self.args, self.state.snapshot_before,
                                      (lineage.UNWRITTEN, lineage.DERIVATIONS))

    def unwritten_before(self) -> set[str]:
        """The lake columns earlier loads left unwritten."""
        if self._unwritten_before is None:
            self._unwritten_before = (lineage.unwritten_recorded(self.records_before[lineage.UNWRITTEN], self.ident)
                                      if self.state.table_exists else set())
        return self._unwritten_before

    @cached_property
    def derivations_before(self) -> derivations.Record | None:
        """The derivations the lake's rows were written with."""
        if not self.state.table_exists:
            return None
        return derivations.recorded(self.records_before[lineage.DERIVATIONS], self.ident)

    def record_properties(self) -> dict[str, str]:
        """The records each commit of the load carries about the rows the table holds once it is made."""
        return {**self.unwritten_properties(), **self.derivation_properties()}

    def unwritten_properties(self) -> dict[str, str]:
        """The record of unwritten columns each commit of the load carries: this load's added to the earlier
        loads' (only its own when it rewrites every row); none while there is nothing to record and nothing
        recorded before (an empty list when a replace clears an earlier record)."""
        if self.write_plan is None:
            return {}
        left, rewrites = self.write_plan.unwritten, self.write_plan.rewrites
        columns = left if rewrites else self.unwritten_before() | left
        if not (columns or self.unwritten_before()):
            return {}
        self.state.unwritten = columns
        return {lineage.UNWRITTEN: lineage.unwritten_text(columns)}

    def derivation_properties(self) -> dict[str, str]:
        """The record of derivations each commit of the load carries: this load's added to the earlier rows'
        (only its own when it rewrites every row); always one, so a later change of a policy is seen."""
        plan = self.write_plan
        if plan is None:
            return {}
        record = derivations.after_load(self.derivations_before, plan.derived, plan.lake_columns, plan.rewrites)
        self.state.column_derivations = record
        return {lineage.DERIVATIONS: derivations.record_text(record)}

    def refuse_if_overtaken(self) -> None:
        """Right before a commit: when another commit came since the load read the lake (e.g. a newer export's
        load), the refusals checked at the start are checked again, so an older export never overwrites it."""
        a, state = self.args, self.state
        if self.rows is None or not state.table_exists:
            return
        current = lake.snapshot_id(self.spark, self.ident, a.catalog, a.namespace, a.lake_table)
        if current == state.snapshot_before:
            return
        refusal = self.rows.refusal(self.spark, current)
        if refusal is not None:
            raise refusal
        other = lineage.other_load_since(self.spark, a, current, state.snapshot_before)
        if other is not None:
            # This load's changes were found against the table before that commit: applied now, they would leave
            # the other load's rows and values that this load's source does not hold, under this load's lineage.
            what = f"export {other.export_id}" if other.export_id else "a direct load"
            raise CommitConflict(
                f"table {a.target}: another load ({what}, cycle {other.cycle_id or '(unknown)'}) committed to "
                f"{a.lake_table_id} while this load ran, so the changes this load found are out of date and nothing "
                "was written; rerun the load"
            )

    def lake_frame(self, columns: Sequence[tuple[str, str]], lake_names: set[str],
                   at: str | None = None) -> "DataFrame":
        """The lake table as `columns` (name, type): cast to the write types, NULL for missing ones.

        `at`: a snapshot id to read (the snapshot the load started from), else the current one.
        """
        version = f" VERSION AS OF {int(at)}" if at is not None else ""
        if at is not None:
            # That snapshot's schema: a column added since (e.g. by a run that failed later) reads as NULL.
            lake_names = lake_names & set(self.spark.sql(f"SELECT * FROM {self.ident}{version}").columns)
        select = [(n, n if n in lake_names else None, t) for n, t in columns]
        return self.spark.sql(f"SELECT {sqltext.select_list(select)} FROM {self.ident}{version}")

    def guard_deletes(self, deleted: int, count_before: int) -> None:
        a = self.args
        if a.approve_deletes or count_before == 0 or deleted == 0:
            return
        if deleted > a.max_delete_fraction * count_before:
            raise DeleteGuard(
                f"table {a.target}: this load would delete {deleted} of {count_before} rows "
                f"({deleted / count_before:.1%}) of {a.lake_table_id}, more than the allowed "
                f"{a.max_delete_fraction:.0%}; check the export, then approve the deletes if they are intended"
            )

    def merge_changes(self, what: str, changes: "DataFrame", schema: SchemaPlan, key: list[str],
                      target_filter: str | None = None) -> None:
        """MERGEs a change set: only its rows are touched (never WHEN NOT MATCHED BY SOURCE)."""
        source_names = list(schema.write_types)
        updates = [n for n in source_names if n not in key]
        statement = sqltext.merge_changes(
            self.ident, self.view(changes), key, updates, schema.table_columns, source_names, target_filter
        )
        try:
            self.commit(what, statement)
        except Exception as exc:
            if not is_merge_cardinality_violation(exc):
                raise
            # The MERGE wrote nothing; a retry would fail the same way until the lake's rows are fixed.
            raise self.repeated_lake_key(key) from exc

    def repeated_lake_key(self, key: Sequence[str]) -> DuplicateKeys:
        return DuplicateKeys(
            f"table {self.args.target}: the lake table {self.args.lake_table_id} holds a key of this load's "
            f"changes on more than one row (primary key ({', '.join(key)})), so the MERGE cannot tell which "
            f"row to change and wrote nothing; rebuild the table from the export ({lineage.rebuild_command(self.args)}) "
            "or remove the repeated rows from the lake table"
        )

    def refuse_repeated_lake_keys(self, changes: "DataFrame", lake_df: "DataFrame", key: list[str]) -> None:
        """Before any schema change: an update to a key the lake holds on more than one row fails the MERGE,
        so the load is refused while the table is still as it was (lake_df: the lake with the key columns)."""
        from pyspark.sql import functions as F

        # Positional names: any key column name (dots, backticks) stays out of the join.
        keys = [F.col(quote(k)).alias(f"k{i}") for i, k in enumerate(key)]
        updated = changes.where(F.col(quote(sqltext.OP_COLUMN)) == "U").select(*keys)
        positions = [f"k{i}" for i in range(len(key))]
        repeated = (lake_df.select(*keys).join(updated, on=positions, how="left_semi")
                    .groupBy(*positions).count().where(F.col("count") > 1))
        if not repeated.isEmpty():
            raise self.repeated_lake_key(key)

    def apply_schema(self, schema: SchemaPlan) -> None:
        if schema.add_columns:
            self.commit("adding columns", sqltext.add_columns(self.ident, schema.add_columns))
        for name, _old, new in schema.widen_columns:
            self.commit("widening a column", sqltext.widen_column(self.ident, name, new))
        order = [name for name, _ in schema.table_columns]
        for name, _old, new in schema.replaced_columns:
            # The column holds no value (checked before): dropped and added again with the type its values need.
            position = order.index(name)
            self.commit("replacing an empty column", sqltext.drop_column(self.ident, name))
            self.commit("replacing an empty column", sqltext.add_column_after(
                self.ident, name, new, order[position - 1] if position > 0 else None))

    # -- the load ------------------------------------------------------------------------
    def origin(self) -> "ExportRows | DirectRows":
        """Where the rows come from: the snapshot export, or the source table over JDBC (--extract direct)."""
        if self.args.direct:
            return DirectRows(self.spark, self.args)
        return ExportRows(self.args)

    def read_rows(self, rows: "ExportRows | DirectRows", mappings: Sequence[ColumnMapping], cursor: str | None,
                  cursor_source: str | None, lake_types: dict[str, str]) -> "DataFrame":
        """The raw rows: the export's files, or the direct window (read once and kept for the load).
        `cursor` is the cursor's lake name, `cursor_source` its source name (they differ under a rename)."""
        if isinstance(rows, ExportRows):
            return rows.read(self.spark, mappings)
        assert cursor is not None and cursor_source is not None, "a direct load has a cursor (args.py)"
        raw = rows.read(mappings, cursor_source, cursor, lake_types, self.state.table_exists, self.ident)
        self.state.cached.append(raw)
        self.state.window = rows.window_result()
        return raw

    def run(self) -> tuple[Outcome, SchemaPlan, str | None]:
        a, spark, state = self.args, self.spark, self.state
        if a.is_dynamodb:
            from . import dynamodb_load  # the DynamoDB reader writes through this load's helpers

            return dynamodb_load.run(self)
        state.phase("source columns")
        rows = self.rows = self.origin()
        # Excluded columns leave here: they are never read, cast or named in a message.
        mappings, names = columns.select_columns(rows.mappings(), a.column_policies, a.target)
        try:
            key = resolve_key(a.primary_key, mappings, names, a.target)
            cursor = (
                resolve_column("cursor_column", a.cursor_column, mappings, names, a.target)
                if a.cursor_column
                else None
            )
        except InvalidArgument:
            # A key or cursor that names an excluded column by its lake name ("id" for "ID") is refused for that.
            roles_of_excluded(a.column_policies, a.primary_key, a.cursor_column)
            raise
        # A key or cursor named by its lake name (a rename) meets the policy rules by its export name too.
        export_name = {name: m.column_name for m, name in zip(mappings, names)}
        check_resolved_roles(a.column_policies, [export_name[k] for k in key], export_name[cursor] if cursor else None)
        if self.merges_by_key(key, cursor):
            check_mergeable_names([m.column_name for m in mappings], names, a.target)
        if a.direct and cursor:
            # Named by its lake name (a rename), the cursor's policy is found only now.
            check_direct_cursor_type(a.column_policies, export_name[cursor], a.target)
        hash_key = resolve_hash_key(a)
        derived = derivations.current(mappings, names, a.column_policies, hash_key)

        state.phase("lake table state")
        state.table_exists = lake.exists(spark, a.catalog, a.namespace, a.lake_table)
        lake_cols = lake.columns(spark, self.ident) if state.table_exists else None
        lake_types = dict(lake_cols or [])
        if state.table_exists:
            state.snapshot_before = lake.snapshot_id(spark, self.ident, a.catalog, a.namespace, a.lake_table)
            refusal = rows.refusal(spark, state.snapshot_before)
            if refusal is not None:
                state.count_before = lake.row_count(spark, self.ident)
                raise refusal
            self.check_key_in_lake(key, cursor, lake_types)

        state.phase(f"read {rows.name}")
        raw = self.read_rows(rows, mappings, cursor, export_name[cursor] if cursor else None, lake_types)
        # A rebuild plans the table anew from the export; otherwise existing lake columns keep their types.
        prepared = columns.prepare(raw, mappings, names, a.column_policies, {} if a.rebuild else lake_types,
                                   hash_key, a.target, None if a.direct else lineage.rebuild_command(a),
                                   lambda name: lake.holds_no_value(spark, self.ident, name))
        raw, plans, state.warnings = prepared.raw, prepared.plans, prepared.warnings
        if isinstance(rows, DirectRows):
            state.warnings += rows.warnings
        state.phase("check casts")
        new_table = not state.table_exists and isinstance(rows, ExportRows)
        if new_table:
            # Nothing to compare with: the key is checked now; values are checked and counted as they are
            # written (create_path.py), so the rows read are known after the write.
            state.phase("check keys")
            create_path.check_new_keys(raw, plans, key, a.target, a.show_values, rows.export_bytes())
            self.one_pass = (raw, plans, key)
            counts, typed = source.CastCounts(0), source.typed_frame(raw, plans)
        elif (isinstance(rows, ExportRows) and key and not a.rebuild
              and decide_action(a.action, state.table_exists, key, cursor, a.direct, a.next_action) == "merge"):
            # Compared with the lake before casting: only rows that may differ are cast (fast_merge.py).
            self.deferred = (raw, plans)
            counts, typed = source.CastCounts(0), source.typed_frame(raw, plans)
        else:
            checked = source.typed_frame(raw, plans, with_checks=True).persist()
            state.cached.append(checked)
            counts = source.check_casts(checked, raw, plans, a.target, a.show_values)
            typed = checked.select(*[quote(p.name) for p in plans])
        state.rows_read, state.nulled, state.clamped = counts.rows, counts.nulled, counts.clamped
        if key and not new_table and self.deferred is None:
            state.phase("check keys")
            source.check_keys(typed, key, a.target, a.show_values)

        if isinstance(rows, DirectRows) and cursor:
            # The new watermark: the window's fixed upper bound, in the lake's format.
            state.cursor_high = rows.upper_bound(next(p for p in plans if p.name == cursor))
            state.window = rows.window_result()
        action = decide_action(a.action, state.table_exists, key, cursor, a.direct, a.next_action)
        if a.rebuild and action != "create":
            action = "rebuild"
            schema = plan_rebuild([(p.name, p.lake_type) for p in plans], lake_cols or [])
        else:
            schema = plan_schema(
                [(p.name, p.lake_type) for p in plans],
                lake_cols,
                a.target,
                a.lake_table_id,
                {p.name: p.pg_type for p in plans},
                (f"set tables.\"{a.source_schema}.{a.source_table}\".extract: export, run {lineage.rebuild_command(a)}, "
                 "then set extract: direct again") if a.direct else lineage.rebuild_command(a),
                [p.name for p in plans if p.replaces_empty],
                "the source" if a.direct else "the export",
            )
        if action == "incremental" and cursor not in lake_types:
            raise SchemaConflict(
                f"table {a.target}: cursor column {cursor!r} is not in the lake table {a.lake_table_id}; "
                + ("load into a new lake table (the table's lakeName)" if a.direct else
                   f"rebuild the table from the export ({lineage.rebuild_command(a)})")
                + " so the lake has the column, then load incrementally"
            )
        if cursor and a.cursor_lookback:
            check_lookback(a.cursor_lookback, cursor, schema.write_types[cursor], a.target)
        if self.deferred is None:
            self.count_lake()
        if state.table_exists:
            state.warnings += self.excluded_still_held(names, lake_types, rewrites=action in ("replace", "rebuild"))
        # Lake columns the load writes no value into (excluded, or gone from the source) read NULL in its rows;
        # the others hold the values their policies derive.
        self.write_plan = WritePlan(set(schema.dropped_columns), derived, set(lake_types),
                                    action in ("create", "replace", "rebuild"))
        if state.table_exists:
            # What the rows hold, for the table properties even when the load commits nothing (a retry of a
            # load whose commit landed, a property write that failed): its commits replace it with theirs.
            state.unwritten = self.unwritten_before() or None
            state.column_derivations = (self.derivations_before if self.derivations_before is not None
                                        else derivations.after_load(None, derived, set(lake_types), rewrites=False))

        runner: dict[str, Callable[[], Outcome]] = {
            "create": lambda: self.create(typed, plans),
            "merge": lambda: self.merge(typed, schema, key, lake_types),
            "replace": lambda: self.replace(typed, schema, lake_types),
            "rebuild": lambda: self.rebuild(typed, schema, lake_types),
            "incremental": lambda: self.incremental(typed, schema, key, cursor or "", lake_types),
        }
        state.phase(action)
        return runner[action](), schema, cursor

    def excluded_still_held(self, names: Sequence[str], lake_types: dict[str, str], rewrites: bool = False) -> list[str]:
        """Warnings for excluded columns whose values the lake table holds from loads before the exclude: the load
        writes none of them, but leaves what is there (a column gone from the export stays), so the user is told.
        A load that rewrites every row (`rewrites`: replace, rebuild) leaves the column NULL in all of them: only
        earlier snapshots keep the values, and the warning says so."""
        a, found = self.args, []
        for column, policy in a.column_policies.items():
            lake_column = lake_name(column)
            if not policy.exclude or lake_column not in lake_types or lake_column in names:
                continue
            if lake.holds_no_value(self.spark, self.ident, lake_column):
                continue
            if rewrites:
                found.append(
                    f"column {column!r} is excluded: this load rewrites every row of lake table {a.lake_table_id} and "
                    "leaves the column NULL in all of them; the values loaded before it was excluded stay readable in "
                    "earlier snapshots until they expire (to remove the column itself: ALTER TABLE "
                    f"{self.ident} DROP COLUMN {quote(lake_column)})"
                )
                continue
            found.append(
                f"column {column!r} is excluded, but lake table {a.lake_table_id} still holds its values loaded before "
                f"it was excluded (this load writes none); to remove them drop the column from the lake table "
                f"(ALTER TABLE {self.ident} DROP COLUMN {quote(lake_column)}; earlier snapshots keep them until they expire)"
            )
        return found

    def merges_by_key(self, key: list[str], cursor: str | None) -> bool:
        """Whether the load, or the next one once a create has made the table, MERGEs by key (merge, incremental upsert).
        A create's next loads take --next_action where given: a keyed table that is replaced is never merged into."""
        a = self.args
        action = decide_action(a.action, True, key, cursor, a.direct, a.next_action)
        return bool(key) and (action == "merge" or (action == "incremental" and a.cursor_mode == "upsert"))

    def check_key_in_lake(self, key: list[str], cursor: str | None, lake_types: dict[str, str]) -> None:
        """A load that matches rows by key (merge, incremental upsert) needs every key column in the lake table."""
        if not self.args.rebuild and self.merges_by_key(key, cursor):
            self.refuse_key_missing_from_lake(key, lake_types)

    def refuse_key_missing_from_lake(self, key: Sequence[str], lake_types: dict[str, str]) -> None:
        """A key column new to the lake table (a rename added to it, or a key naming a new column) is NULL in
        every lake row: no row could be matched, and an upsert would insert each row a second time."""
        a = self.args
        missing = [k for k in key if k not in lake_types]
        if not missing:
            return
        fix = ("load into a new lake table (the table's lakeName), or keep the key's lake name (remove the rename)"
               if a.direct else f"rebuild the table from the export ({lineage.rebuild_command(a)}), or keep the key's "
               "lake name (remove the rename)")
        which = (f"column {missing[0]!r} is" if len(missing) == 1
                 else f"columns {', '.join(repr(k) for k in missing)} are")
        listed = ", ".join(list(lake_types)[:20]) + (", ..." if len(lake_types) > 20 else "")
        raise SchemaConflict(
            f"table {a.target}: primary key {which} not in the lake table {a.lake_table_id} (its columns: {listed}), "
            f"so no lake row can be matched by the key and nothing is loaded; {fix}"
        )

    def count_lake(self) -> None:
        """The lake's row count before the load; an empty export of a non-empty table is refused."""
        a, state = self.args, self.state
        state.phase("lake row count")
        state.count_before = lake.row_count(self.spark, self.ident) if state.table_exists else 0
        if state.rows_read == 0 and state.count_before > 0 and not a.approve_deletes and not a.direct:
            raise EmptyExport(
                f"table {a.target}: the export has no rows but {a.lake_table_id} has {state.count_before}; "
                "an empty export usually means a failed or partial export. Check it, then approve the "
                "deletes if the table really is empty"
            )

    def check_all_rows(self, raw: "DataFrame", plans: list[ColumnPlan], key: list[str]) -> "DataFrame":
        """Casts and checks every row (values, then keys), as a load without fast_merge does."""
        a, state = self.args, self.state
        checked = source.typed_frame(raw, plans, with_checks=True).persist()
        state.cached.append(checked)
        counts = source.check_casts(checked, raw, plans, a.target, a.show_values)
        state.rows_read, state.nulled, state.clamped = counts.rows, counts.nulled, counts.clamped
        typed = checked.select(*[quote(p.name) for p in plans])
        source.check_keys(typed, key, a.target, a.show_values)
        return typed

    def create_table_as(self, view: str, columns: Sequence[tuple[str, str | None, str]], replace: bool = False) -> str:
        """The table (re)created from the view, its lineage properties set in the same commit (no ALTER after).

        A new local table also bounds its metadata files from its first commit; a replaced table keeps
        the properties it has (Iceberg's replace keeps them), the missing ones are set after the load.
        """
        properties = {**lineage.table_properties(self.args), **self.record_properties()}
        if not replace:
            properties = {**maintenance.local_properties(self.args), **properties}
        return sqltext.create_table_as(self.ident, view, columns, replace, properties)

    def aligned(self, typed: "DataFrame", schema: SchemaPlan) -> "DataFrame":
        """The source with each column cast to the type it is written as."""
        view = self.view(typed)
        select = [(n, n, t) for n, t in schema.write_types.items()]
        return self.spark.sql(f"SELECT {sqltext.select_list(select)} FROM {quote(view)}")

    def create(self, typed: "DataFrame", plans: list[ColumnPlan]) -> Outcome:
        a, state = self.args, self.state
        self.spark.sql(sqltext.create_namespace(a.catalog, a.namespace)).collect()
        columns = [(p.name, p.name, p.lake_type) for p in plans]
        if self.one_pass is None:
            self.commit("create", self.create_table_as(self.view(typed), columns))
            return Outcome("create", inserted=state.rows_read)
        raw, plans, key = self.one_pass
        write = create_path.guarded_write(raw, plans)
        try:
            self.commit("create", self.create_table_as(self.view(write.frame), columns))
        except Exception as exc:
            if create_path.is_value_check_failure(exc):
                create_path.explain_failed_checks(raw, plans, key, a.target, a.show_values)
            raise
        counts = write.counts()
        if counts is None:
            log.warning("%s: the counts observed during the create did not arrive; counting the export again",
                        a.target)
            counts = create_path.count_values(raw, plans)
        state.rows_read, state.nulled, state.clamped = counts.rows, counts.nulled, counts.clamped
        # The new table holds exactly the rows written (checked against its history before it is reported).
        return Outcome("create", inserted=counts.rows, rows_after=counts.rows)

    def merge(self, typed: "DataFrame", schema: SchemaPlan, key: list[str], lake_types: dict[str, str]) -> Outcome:
        if self.deferred is not None:
            raw, plans = self.deferred
            done = fast_merge.FastMerge(self, raw, plans, schema, key, lake_types).run()
            if done is not None:
                return done
            # Repeated or NULL keys, an empty export: every row is checked; the exact error or outcome follows.
            self.state.phase("merge (every row checked)")
            typed = self.check_all_rows(raw, plans, key)
            self.count_lake()
        src = self.aligned(typed, schema)
        lake_df = self.lake_frame(list(schema.write_types.items()), set(lake_types))
        # Lake rows the key cannot single out would be counted as changes the MERGE never applies (a NULL
        # key) or fail the MERGE itself (a repeated key): refused, with the cause, before any write.
        source.check_lake_keys(lake_df, key, self.args.target, self.args.lake_table_id,
                               lineage.rebuild_command(self.args), self.args.show_values)
        changes = change_set(src, lake_df, key, deletes=True)
        counts = count_ops(changes)
        self.guard_deletes(counts["D"], self.state.count_before or 0)
        outcome = Outcome("merge", counts["I"], counts["U"], counts["D"])
        self.apply_schema(schema)
        if sum(counts.values()):
            self.merge_changes("merge", changes, schema, key)
        return outcome

    def replace(self, typed: "DataFrame", schema: SchemaPlan, lake_types: dict[str, str]) -> Outcome:
        present = set(schema.write_types)
        columns = [(n, n if n in present else None, t) for n, t in schema.table_columns]
        view = self.view(typed)
        # Rows are compared on the columns both the export and the lake hold: a column added (NULL in
        # every lake row) or dropped (NULL in every new row) would otherwise make every row look
        # deleted and inserted, and trip the delete guard though no row went away.
        shared = [(n, t) for n, t in schema.write_types.items() if n in lake_types]
        # So would a lake column that holds no value (one a replace emptied while the export lacked it):
        # left out of the comparison like an added column, and written whenever the export has values in it.
        empty = self.empty_lake_columns([n for n, _ in shared])
        # And so would a column whose lake rows hold values derived otherwise (hash turned on or off, another hash
        # key): left out of the comparison too, and rewritten.
        rederived = self.rederived_columns([n for n, _ in shared])
        shared = [(n, t) for n, t in shared if n not in empty and n not in rederived]
        inserted, deleted = self.row_changes(view, shared, lake_types)
        self.guard_deletes(deleted, self.state.count_before or 0)
        outcome = Outcome("replace", inserted=inserted, deleted=deleted)
        if (inserted == 0 and deleted == 0 and not schema.alters_table and not rederived
                and not self.holds_gone_values(schema) and not self.export_fills(view, empty)):
            return outcome
        self.commit("replace", self.create_table_as(view, columns, replace=True))
        return outcome

    def row_changes(self, view: str, columns: list[tuple[str, str]], lake_types: dict[str, str]) -> tuple[int, int]:
        """The rows of `view` not in the lake table and the lake rows not in `view` (inserted, deleted),
        compared on `columns` (name, write type)."""
        if not columns:
            # No column keeps its type, so no row can be matched: the counts (and the delete guard) take
            # the change in the number of rows, not every lake row as deleted.
            before = self.state.count_before or 0
            return max(0, self.state.rows_read - before), max(0, before - self.state.rows_read)
        new_rows = self.spark.sql(f"SELECT {sqltext.select_list([(n, n, t) for n, t in columns])} FROM {quote(view)}")
        old_rows = self.lake_frame(columns, set(lake_types))
        return new_rows.exceptAll(old_rows).count(), old_rows.exceptAll(new_rows).count()

    def rederived_columns(self, names: Sequence[str]) -> set[str]:
        """The columns among `names` some of whose lake rows hold values derived otherwise than this load derives
        them (hash turned on or off, another hash key, type or onInvalid: derivations.py): compared as they are,
        those rows would look deleted and inserted though no row went away. None without a write plan (a DynamoDB
        load records no derivations)."""
        if self.write_plan is None:
            return set()
        return derivations.rederived(self.derivations_before, self.write_plan.derived, names)

    def empty_lake_columns(self, names: Sequence[str]) -> set[str]:
        """The columns among `names` in which the lake table holds no value (none when it has no row)."""
        if not names or not self.state.count_before:
            return set()
        row = self.spark.sql(
            f"SELECT {', '.join(f'count({quote(n)}) AS c{i}' for i, n in enumerate(names))} FROM {self.ident}").collect()[0]
        return {n for i, n in enumerate(names) if row[f"c{i}"] == 0}

    def export_fills(self, view: str, columns: set[str]) -> bool:
        """Whether the export holds a value in one of `columns`."""
        if not columns:
            return False
        held = " OR ".join(f"{quote(n)} IS NOT NULL" for n in sorted(columns))
        return bool(self.spark.sql(f"SELECT 1 FROM {quote(view)} WHERE {held} LIMIT 1").collect())

    def holds_gone_values(self, schema: SchemaPlan) -> bool:
        """Whether a lake column the export lacks still holds a value. A replace rewrites every row, leaving such
        a column NULL: with no row changed it must still commit, or the column keeps values the source no longer
        has (and whether it does would depend on whether some other row happened to change)."""
        return any(not lake.holds_no_value(self.spark, self.ident, n) for n in schema.dropped_columns)

    def rebuild(self, typed: "DataFrame", schema: SchemaPlan, lake_types: dict[str, str]) -> Outcome:
        """An atomic replace from the export with the types this load derives (e.g. a text column as a list).

        Counts and the delete guard compare rows on the columns whose type stays (when none does, the
        numbers of rows); lake columns the export lacks stay, NULL (as under replace). Nothing changed:
        nothing committed.
        """
        present = set(schema.write_types)
        kept = [n for n, t in schema.write_types.items() if lake_types.get(n) == t]
        rederived = self.rederived_columns(kept)
        kept = [n for n in kept if n not in rederived]
        view = self.view(typed)
        inserted, deleted = self.row_changes(view, [(n, schema.write_types[n]) for n in kept], lake_types)
        self.guard_deletes(deleted, self.state.count_before or 0)
        outcome = Outcome("replace", inserted=inserted, deleted=deleted)
        if (inserted == 0 and deleted == 0 and not schema.alters_table and not rederived
                and not self.holds_gone_values(schema)):
            return outcome
        columns_out = [(n, n if n in present else None, t) for n, t in schema.table_columns]
        self.commit("rebuild", self.create_table_as(view, columns_out, replace=True))
        return outcome

    def incremental(
        self, typed: "DataFrame", schema: SchemaPlan, key: list[str], cursor: str, lake_types: dict[str, str]
    ) -> Outcome:
        a = self.args
        src = self.aligned(typed, schema)
        # The lake is the truth: the window starts `lookback` below the lake's own max(cursor), and
        # rows the lake already holds are dropped, so ties and late commits arrive and a replay adds nothing.
        cursor_type = schema.write_types[cursor]
        lookback = a.cursor_lookback or default_lookback(cursor_type)
        cursor_before = lake.max_value(self.spark, self.ident, cursor)
        window: str | None = None
        if cursor_before is not None:
            # A max after tomorrow (an 'infinity') pins every window there: rows arriving later are not read.
            pinned = pinned_warning(cursor_type, cursor, cursor_before, datetime.now(timezone.utc).date(), EXPORT_REMEDY)
            if pinned:
                log.warning("%s: %s", a.lake_table_id, pinned)
                self.state.warnings.append(pinned)
            bound = lower_bound(cursor_type, cursor_before, lookback)
            direct = self.rows.window if isinstance(self.rows, DirectRows) else None
            if bound and direct is not None and direct.widened and direct.low is not None:
                # The direct read went below the lookback to load rows committed late: so does the window here.
                bound = lower_bound(cursor_type, direct.low, Lookback("0", units=Decimal(0)))
            window = f"{quote(cursor)} >= {bound}" if bound else f"{quote(cursor)} IS NOT NULL"
            log.info("%s: incremental window %s (max %s, lookback %s)", a.lake_table_id, window, cursor_before, lookback.text)
        elif self.state.count_before:
            # Lake rows all have a NULL cursor: rows without a cursor were loaded when the table was created.
            window = f"{quote(cursor)} IS NOT NULL"
        if window:
            src = src.where(window)
        if a.cursor_mode == "upsert":
            lake_df = self.lake_frame(list(schema.write_types.items()), set(lake_types))
            changes = change_set(src, lake_df, key, deletes=False, not_older=cursor)
            counts = count_ops(changes)
            outcome = Outcome("incremental", counts["I"], counts["U"], 0)
            if counts["U"]:
                self.refuse_repeated_lake_keys(changes, lake_df, key)
            self.apply_schema(schema)
            if counts["I"] + counts["U"]:
                self.merge_changes("incremental upsert", changes, schema, key)
            return outcome
        # Append: rows are compared on the columns the lake already has (a column new in the export
        # does not make a loaded row new), identical rows counted, so the lake keeps as many copies
        # of a row as the source has.
        compare = [n for n in schema.write_types if n in lake_types]
        lake_df = self.lake_frame([(n, schema.write_types[n]) for n in compare], set(lake_types))
        # Rows loaded before a column was added, or while loads left it unwritten (an exclude since removed),
        # read NULL in it: such a column does not make them new.
        added = (lake.added_columns(self.spark, a.catalog, a.namespace, a.lake_table) | self.unwritten_before()) - {cursor}
        # Rows written while a column's policy derived its values otherwise (hash, its key, type, onInvalid)
        # hold other values there: such a column does not make them new either.
        assert self.write_plan is not None, "planned before the load runs"
        # Not the cursor, as not for added columns: the window is chosen by it, and rows must match on it.
        rederived = self.rederived_columns(compare) - {cursor}
        new_rows = unseen_rows(src, lake_df.where(window) if window else lake_df, compare, sorted(added),
                               sorted(rederived))
        inserted = new_rows.count()
        outcome = Outcome("incremental", inserted=inserted)
        self.apply_schema(schema)
        if inserted == 0:
            return outcome
        present = set(schema.write_types)
        view = self.view(new_rows)
        columns = [(n, n if n in present else None, t) for n, t in schema.table_columns]
        self.commit("incremental append", sqltext.insert_select(self.ident, view, columns))
        return outcome


def _base_result(args: JobArgs, state: RunState) -> LoadResult:
    return LoadResult(
        table=args.target,
        lakeTable=args.lake_table_id,
        status="failed",
        action="none",
        cursorColumn=args.cursor_column.lower() if args.cursor_column else None,
        cycleId=args.cycle_id,
        runToken=args.run_token,
        extract="dynamodb" if args.is_dynamodb else "direct" if args.direct else None,
        window=state.window,
    )


def _finish(spark: "SparkSession", args: JobArgs, state: RunState, outcome: Outcome, schema: SchemaPlan,
            cursor: str | None) -> LoadResult:
    ident = sqltext.table_ident(args.catalog, args.namespace, args.lake_table)
    snapshot_after = lake.snapshot_id(spark, ident, args.catalog, args.namespace, args.lake_table)
    committed = snapshot_after is not None and snapshot_after != state.snapshot_before
    cols_after = lake.columns(spark, ident)
    changed = committed or schema.alters_table or outcome.action == "create"
    result = _base_result(args, state)
    result.status = "succeeded"
    result.action = outcome.action if changed else "none"
    result.rowsRead = state.rows_read
    result.inserted, result.updated, result.deleted = outcome.inserted, outcome.updated, outcome.deleted
    rows_after = outcome.rows_after
    if rows_after is not None and committed and not lineage.made_by_load(spark, snapshot_after, state.snapshot_before,
                                                                          args):
        rows_after = None  # another commit came between: count the table itself
    result.rowCountAfter = rows_after if rows_after is not None else lake.row_count(spark, ident)
    result.cursorColumn = cursor
    result.cursorValueAfter = lake.max_value(spark, ident, cursor) if cursor else None
    if args.direct and cursor and state.cursor_high is not None:
        # The window's fixed upper bound, unless the lake's max is past it (the source's newest rows deleted,
        # a sequence restarted): the watermark never goes back.
        if not lake.later(spark, dict(cols_after).get(cursor, ""), result.cursorValueAfter, state.cursor_high):
            result.cursorValueAfter = state.cursor_high
    result.snapshotId = snapshot_after
    result.committed = committed
    result.schemaChanges = schema.changes
    result.droppedColumns = schema.dropped_columns
    result.schemaHash = lake.schema_hash(cols_after)
    lineage_warning = lineage.record_table_lineage(spark, ident, args, snapshot_after)
    if lineage_warning:
        state.warnings.append(lineage_warning)
    if state.unwritten is not None:
        unwritten_warning = lineage.record_unwritten(spark, ident, args, state.unwritten)
        if unwritten_warning:
            state.warnings.append(unwritten_warning)
    if state.column_derivations is not None:
        derivations_warning = derivations.record(spark, ident, args, state.column_derivations)
        if derivations_warning:
            state.warnings.append(derivations_warning)
    maintenance_warning = maintenance.ensure_bounded_metadata(spark, ident, args)
    if maintenance_warning:
        state.warnings.append(maintenance_warning)
    result.nulledValues, result.clampedValues, result.warnings = state.nulled, state.clamped, state.warnings
    return result


def _failed(spark: "SparkSession", args: JobArgs, state: RunState, error: LoadError) -> LoadResult:
    result = _base_result(args, state)
    result.error = error.to_result_error()
    result.rowsRead = state.rows_read
    result.rowCountAfter = state.count_before or 0
    result.snapshotId = state.snapshot_before
    if state.table_exists:
        try:  # best effort: report the lake as it is now
            ident = sqltext.table_ident(args.catalog, args.namespace, args.lake_table)
            result.snapshotId = lake.snapshot_id(spark, ident, args.catalog, args.namespace, args.lake_table)
            result.schemaHash = lake.schema_hash(lake.columns(spark, ident))
        except Exception:  # noqa: BLE001
            pass
    return result


def run_load(spark: "SparkSession", args: JobArgs) -> LoadResult:
    """Loads one table; always writes the result JSON to args.result_path and returns it.

    Safe to call repeatedly on one SparkSession (the embedded mode keeps one alive).
    A failed load returns a result with status "failed" and an error class instead of raising.
    """
    started = utc_now()
    state = RunState()
    try:
        job = _Load(spark, args, state)
        outcome, schema, cursor = job.run()
        state.phase("result")
        result = _finish(spark, args, state, outcome, schema, cursor)
        state.phase("")
    except LoadError as exc:
        log.error("%s: %s: %s", args.target, exc.error_class, exc.message)
        result = _failed(spark, args, state, exc)
    except Exception as exc:  # noqa: BLE001 - every failure must still produce a result
        log.exception("%s: unexpected failure", args.target)
        message = f"table {args.target}: {type(exc).__name__}: {first_line(exc, 1000)}; see the job log for details"
        result = _failed(spark, args, state, InternalError(message))
    finally:
        state.cleanup(spark)
    result.startedAt = started
    result.finishedAt = utc_now()
    write_result(args.result_path, result)
    return result
