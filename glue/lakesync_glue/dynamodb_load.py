"""The load of a DynamoDB table: its exports into the lake table (create, replace or merge).

Lake columns: the key attributes, the declared attributes (column policies applied as for
PostgreSQL columns), then `_attributes` (the rest of the item as DynamoDB JSON). A FULL export
creates the table or replaces it under the delete guard; INCREMENTAL windows are merged, oldest
first, the latest record of each key winning (later window, then WriteTimestampMicros); the same
commit brings the other rows to the current settings (settled_rows). Every check runs before the
first write; writes go through the loader's commit (lineage, retries).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import lake, lineage
from .changes import change_set, count_ops
from .columns import config_line
from .dynamodb import (BROKEN, DELETED, REST, WINDOW, WRITTEN, ExportFiles, damaged_files, export_files, read_records,
                       with_value_views)
from .args import parse_time
from .dynamodb_args import ATTRIBUTES_COLUMN, DEFAULT_KEY_TYPES, DynamoExport
from .dynamodb_json import AttributeColumn, plan_attribute, rest_expr
from .errors import (AttributeTypeMismatch, DeclaredAttributeMissing, EmptyExport, ExportNotFound, InvalidArgument,
                     LoadError, NameCollision, clipped)
from .hashing import hash_columns, resolve_hash_key
from .names import check_mergeable_names, lake_column_names, quote, sql_string
from .pgtypes import ColumnPlan
from .schema import SchemaPlan, plan_rebuild, plan_schema
from .source import HIDDEN_VALUES, MAX_EXAMPLE_CHARS, MAX_FAILED_COLUMNS, check_keys
from .sqltext import OP_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from .args import JobArgs
    from .loader import Outcome, _Load


def attribute_columns(args: "JobArgs") -> tuple[list[AttributeColumn], list[str], str]:
    """The typed columns (keys, then declared attributes), the excluded attributes and `_attributes`' lake name."""
    d = args.dynamodb
    assert d is not None, "a DynamoDB load has its arguments"
    policies = args.column_policies
    declared = dict(d.attributes)
    excluded = [name for name, p in policies.items() if p.exclude]
    wanted: list[tuple[str, str, bool]] = [(k.name, declared.get(k.name, DEFAULT_KEY_TYPES[k.type]), True) for k in d.key]
    wanted += [(name, type_, False) for name, type_ in d.attributes if name not in d.key_names and name not in excluded]
    renames = {c: p.rename for c, p in policies.items() if p.rename}
    # A rename is an attribute's: the column of the other attributes keeps its name.
    # An attribute's own name is only a key of the item's map, never a column: only its lake name is checked.
    names = lake_column_names([w[0] for w in wanted], args.target, renames, what="attributes", fix=_RENAME_FIX,
                              source_is_column=False)
    # Every DynamoDB table is merged into by its key (incremental exports), so none may take a name of Spark's MERGE.
    check_mergeable_names([w[0] for w in wanted], names, args.target, what="attribute",
                          fix=_RENAME_FIX.replace("one of them", "it"))
    taken = next((attribute for (attribute, _, _), name in zip(wanted, names) if name == ATTRIBUTES_COLUMN), None)
    if taken is not None:
        raise NameCollision(
            f"table {args.target}: attribute {taken!r} becomes lake column {ATTRIBUTES_COLUMN!r}, which holds the "
            f"item's other attributes, so nothing is loaded; {_RENAME_FIX.replace('one of them', 'it')}"
        )
    columns = []
    for index, ((attribute, declared_type, is_key), name) in enumerate(zip(wanted, names)):
        policy = policies.get(attribute)
        lake_type = "string" if policy and policy.hash else (policy.type if policy and policy.type else declared_type)
        # A key's type is read from the key's own value (its DynamoDB type holds it: dynamodb_args); a
        # declared attribute's `type` also reads the DynamoDB type its declaration names (declared_tags).
        declared = declared_type if not is_key and lake_type != declared_type else None
        columns.append(AttributeColumn(index, attribute, name, lake_type, is_key, bool(policy and policy.hash),
                                       (policy.on_invalid if policy and policy.on_invalid else "fail"), declared))
    return columns, excluded, ATTRIBUTES_COLUMN


_RENAME_FIX = "rename one of them with a column policy (columns: {<attribute>: {rename: <lake name>}})"


@dataclass(frozen=True)
class Layout:
    """Where a load puts each attribute: typed columns, excluded names, `_attributes`' lake name."""

    columns: Sequence[AttributeColumn]
    excluded: tuple[str, ...]
    rest_name: str
    hash_key: bytes | None


# Quoted: a bare null in YAML is no value at all, and the config refuses it.
NULL_ON_INVALID = 'onInvalid: "null"'


def check_values(records: "DataFrame", columns: Sequence[AttributeColumn], plans: Sequence[ColumnPlan],
                 table: str, show_values: bool) -> dict[str, int]:
    """Fails with AttributeTypeMismatch on a value its lake type cannot hold; returns the values set NULL."""
    exprs = ["count(1) AS n"]
    exprs += [f"count_if({p.bad}) AS bad{i}" for i, p in enumerate(plans) if p.bad]
    exprs += [f"count_if({p.nulled}) AS nulled{i}" for i, p in enumerate(plans) if p.nulled]
    row = records.selectExpr(*exprs).collect()[0]
    failing = [(i, p, int(row[f"bad{i}"])) for i, p in enumerate(plans) if p.bad and row[f"bad{i}"]]
    nulled = {columns[i].attribute: int(row[f"nulled{i}"]) for i, p in enumerate(plans) if p.nulled and row[f"nulled{i}"]}
    if not failing:
        return nulled
    examples = (
        records.selectExpr(*[f"min(CASE WHEN {p.bad} THEN {quote(p.source_name)} END) AS ex{i}" for i, p, _ in failing])
        .collect()[0] if show_values else None
    )
    failures = []
    for i, p, count in failing:
        c = columns[i]
        fix = ("declare a type that holds every key (a key is never set NULL)" if c.is_key
               else f"to load them as NULL set {config_line(table, c.attribute, NULL_ON_INVALID)}, "
               "or declare another type for it")
        failures.append(
            f"attribute {c.attribute!r} has {count} value(s) that cannot become {p.lake_type}"
            + (f", e.g. {clipped(str(examples[f'ex{i}']), MAX_EXAMPLE_CHARS)}" if examples is not None else "")
            + f"; expected {p.expectation}; {fix}"
        )
    hidden = "" if show_values else f" ({HIDDEN_VALUES})"
    raise AttributeTypeMismatch(
        f"table {table}: {'; '.join(failures[:MAX_FAILED_COLUMNS])}{hidden}. No value was rounded and nothing was written"
    )


def _check_export(records: "DataFrame", found: Sequence[ExportFiles], declared: Sequence[AttributeColumn],
                  full: bool, table: str) -> int:
    """Reads the records' counts once: damaged lines, items against the manifests, declared attributes
    present in no item of a FULL export. Returns the records read."""
    # A FULL export's lines are all `{"Item": ...}`: one without an image (a change record's keys alone) is no item.
    broken = f"{BROKEN} OR {DELETED}" if full else BROKEN
    exprs = ["count(1) AS n", f"count_if({broken}) AS broken"]
    exprs += [f"count_if({WINDOW} = {i}) AS w{i}" for i in range(len(found))]
    exprs += [f"count_if({quote(c.tag_col)} IS NOT NULL) AS p{i}" for i, c in enumerate(declared)]
    row = records.selectExpr(*exprs).collect()[0]
    if row["broken"]:
        raise ExportNotFound(
            f"table {table}: {row['broken']} line(s) of the export are neither an Item nor a change record "
            f"(DynamoDB JSON{', a FULL export holds Items only' if full else ''}); the export looks damaged: run a new "
            "sync to export the table again"
        )
    for i, f in enumerate(found):
        if f.manifest_items is not None and int(row[f"w{i}"]) != f.manifest_items:
            raise ExportNotFound(
                f"table {table}: export {f.export.export_id} has {row[f'w{i}']} record(s) in its data files but "
                f"{f.manifest_items} in manifest-files.json; the export is incomplete: run a new sync to export it again"
            )
        # DynamoDB's own count (--dynamodb_exports itemCount): a file missing from manifest-files.json, or
        # manifest-files.json missing, would otherwise pass unseen and its records be lost (or its items deleted).
        if f.export.item_count is not None and int(row[f"w{i}"]) != f.export.item_count:
            raise ExportNotFound(
                f"table {table}: export {f.export.export_id} has {row[f'w{i}']} record(s) in the data files read "
                f"({len(f.files)} file(s){'' if f.manifest_items is not None else ', found without manifest-files.json'}) "
                f"but DynamoDB counted {f.export.item_count}; the export is incomplete, so nothing was written: run a "
                "new sync to export it again"
            )
    if full and row["n"]:
        missing = [c.attribute for i, c in enumerate(declared) if not row[f"p{i}"]]
        if missing:
            raise DeclaredAttributeMissing(
                f"table {table}: declared attribute(s) {', '.join(repr(m) for m in missing)} are in none of the "
                f"{row['n']} item(s) of the export; check the name under attributes (attribute names are case-sensitive)"
            )
    return int(row["n"])


def _latest(records: "DataFrame", keys: Sequence[AttributeColumn]) -> "DataFrame":
    """Per key, the latest record: the later window, then the later WriteTimestampMicros."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(*[F.col(quote(k.json_col)) for k in keys]).orderBy(
        F.col(WINDOW).desc(), F.col(WRITTEN).desc_nulls_last())
    rank = "__lakesync_rank"
    return records.withColumn(rank, F.row_number().over(order)).where(f"{rank} = 1").drop(rank)


def window_gap(a: "JobArgs", first: DynamoExport, held: lineage.Lineage | None) -> InvalidArgument | None:
    """The refusal of INCREMENTAL windows that start after the export time the lake table reached.

    The changes between are in none of them: merged, the table would miss them for good. A window
    starting earlier overlaps what the table holds, which replays changes it already has.
    """
    if held is None or first.from_time is None:
        return None
    reached, start = parse_time(held.snapshot_time), parse_time(first.from_time)
    if reached is None or start is None or start <= reached:
        return None
    return InvalidArgument(
        f"table {a.target}: lake table {a.lake_table_id} holds the changes up to {held.snapshot_time} (export "
        f"{held.export_id or '(unknown)'}), but this load's first INCREMENTAL window starts at {first.from_time}: "
        f"the changes between are in no export, so nothing was written; load the table again from a FULL "
        f"export: {lineage.rebuild_command(a)}"
    )


class ExportRefusals:
    """The refusals of a DynamoDB load, checked again right before each commit (the loader's refuse_if_overtaken):
    another source's table, or an export older than the one the table reached since the load began."""

    name = "dynamodb export"

    def __init__(self, args: "JobArgs") -> None:
        self.args = args

    def refusal(self, spark: "SparkSession", snapshot: str | None) -> LoadError | None:
        a = self.args
        return lineage.other_source(a, lineage.lake_owner(spark, a, snapshot)) or lineage.older_export(
            a, lineage.lake_lineage(spark, a, snapshot))


def run(job: "_Load") -> "tuple[Outcome, SchemaPlan, None]":
    """The DynamoDB load on the loader's run state and write helpers."""
    from .loader import Outcome

    a, spark, state = job.args, job.spark, job.state
    d = a.dynamodb
    assert d is not None, "dispatched for DynamoDB loads only"
    state.phase("dynamodb exports")
    columns, excluded, rest_name = attribute_columns(a)
    hash_key = resolve_hash_key(a)
    found = [export_files(e, a.target) for e in d.exports]

    state.phase("lake table state")
    state.table_exists = lake.exists(spark, a.catalog, a.namespace, a.lake_table)
    lake_cols = lake.columns(spark, job.ident) if state.table_exists else None
    lake_types = dict(lake_cols or [])
    if state.table_exists:
        state.snapshot_before = lake.snapshot_id(spark, job.ident, a.catalog, a.namespace, a.lake_table)
        held = lineage.lake_lineage(spark, a, state.snapshot_before)
        owner = lineage.lake_owner(spark, a, state.snapshot_before)
        refusal = lineage.other_source(a, owner) or lineage.older_export(a, held) or (None if d.full else window_gap(a, d.exports[0], held))
        if refusal is not None:
            state.count_before = lake.row_count(spark, job.ident)
            raise refusal
        job.rows = ExportRefusals(a)  # checked again before each commit, as a commit may come meanwhile
        if not d.full:  # a merge matches the lake's rows by the key
            job.refuse_key_missing_from_lake([c.name for c in columns if c.is_key], lake_types)
    elif not d.full:
        raise InvalidArgument(
            f"table {a.target}: lake table {a.lake_table_id} does not exist, and INCREMENTAL exports hold changes "
            f"only; load it from a FULL export: {lineage.rebuild_command(a)}"
        )

    state.phase("read dynamodb export")
    records = read_records(spark, found, columns, excluded)
    hashed = {c.hash_col: "string" for c in columns if c.hashed}
    if hashed:
        assert hash_key is not None, "the key is resolved whenever an attribute is hashed"
        records = hash_columns(records, hashed, hash_key)
    records = records.persist()
    state.cached.append(records)
    declared = [c for c in columns if not c.is_key]
    try:  # the first read of the data files: a damaged one fails it here, before any write
        state.rows_read = _check_export(records, found, declared, d.full, a.target)
    except LoadError:
        raise
    except Exception as exc:
        refusal = damaged_files(found, a.target, exc)
        if refusal is not None:
            raise refusal from None
        raise
    keys = [c for c in columns if c.is_key]
    latest = records if d.full else _latest(records, keys)

    state.phase("check values")
    plans = [plan_attribute(c, a.target) for c in columns]
    plans.append(ColumnPlan(REST, rest_name, "DynamoDB attributes", "json", "string", "string", quote(REST), None,
                            "DynamoDB JSON"))
    state.nulled = check_values(latest, columns, plans, a.target, a.show_values)
    typed_all = latest.selectExpr(*[f"{p.expr} AS {quote(p.name)}" for p in plans], DELETED).persist()
    state.cached.append(typed_all)
    key = [c.name for c in keys]
    check_keys(typed_all.select(*[quote(k) for k in key]), key, a.target, a.show_values)
    typed = typed_all.drop(DELETED)

    source_cols = [(p.name, p.lake_type) for p in plans]
    action = "create" if not state.table_exists else ("merge" if not d.full else ("rebuild" if a.rebuild else "replace"))
    if action == "rebuild":
        schema = plan_rebuild(source_cols, lake_cols or [])
    else:
        labels = {p.name: f"DynamoDB {c.lake_type}" for p, c in zip(plans, columns)}
        schema = plan_schema(source_cols, lake_cols, a.target, a.lake_table_id, labels, lineage.rebuild_command(a))
    state.phase("lake row count")
    state.count_before = lake.row_count(spark, job.ident) if state.table_exists else 0
    if d.full and state.rows_read == 0 and state.count_before > 0 and not a.approve_deletes:
        raise EmptyExport(
            f"table {a.target}: the FULL export has no items but {a.lake_table_id} has {state.count_before} rows; an "
            "empty export usually means a failed or partial export. Check it, then approve the deletes if the table "
            "really is empty"
        )
    state.phase(action)
    if action == "create":
        return job.create(typed, plans), schema, None
    if action == "replace":
        return _reaching(job, job.replace(typed, schema, lake_types)), schema, None
    if action == "rebuild":
        return _reaching(job, job.rebuild(typed, schema, lake_types)), schema, None
    layout = Layout(columns, tuple(excluded), rest_name, hash_key)
    return merge(job, typed_all, schema, key, lake_types, Outcome, layout), schema, None


def merge(job: "_Load", typed_all: "DataFrame", schema: SchemaPlan, key: list[str], lake_types: dict[str, str],
          outcome: Any, layout: Layout) -> "Outcome":
    """Upserts (records with a NewImage) and deletes (without), each key's latest record; only what changes
    is MERGEd: an upsert equal to the lake row and a delete of a key the lake lacks touch nothing. Rows the
    windows leave alone are updated in the same MERGE when `_attributes` holds an attribute now declared
    or excluded (see settled_rows)."""
    from pyspark.sql import functions as F

    upserts = job.aligned(typed_all.where(f"NOT {DELETED}").drop(DELETED), schema)
    lake_df = job.lake_frame(list(schema.write_types.items()), set(lake_types))
    inserts_updates = change_set(upserts, lake_df, key, deletes=False)
    gone = typed_all.where(DELETED).select(*[F.col(quote(k)).cast(schema.write_types[k]).alias(k) for k in key])
    gone = gone.join(lake_df.select(*[quote(k) for k in key]), on=key, how="left_semi")
    deletes = gone.select(
        *[F.col(quote(n)) if n in key else F.lit(None).cast(t).alias(n) for n, t in schema.write_types.items()],
        F.lit("D").alias(OP_COLUMN),
    )
    changes = inserts_updates.unionByName(deletes)
    window_keys = typed_all.select(*[F.col(quote(k)).cast(schema.write_types[k]).alias(k) for k in key])
    settled = settled_rows(job, lake_df, window_keys, schema, key, lake_types, layout)
    if settled is not None:
        changes = changes.unionByName(settled)
    changes = changes.localCheckpoint(eager=True)
    counts = count_ops(changes)
    job.guard_deletes(counts["D"], job.state.count_before or 0)
    result = outcome("merge", counts["I"], counts["U"], counts["D"])
    if counts["U"]:
        job.refuse_repeated_lake_keys(changes, lake_df, key)
    job.apply_schema(schema)
    if sum(counts.values()):
        job.merge_changes("merge", changes, schema, key)
    elif not _history_reached(job):
        record_reached(job)
    return result


def _reaching(job: "_Load", outcome: "Outcome") -> "Outcome":
    """A FULL export that changed no row (a replace or rebuild that committed nothing) still records the export
    time it reached, as a merge does: the next cycle plans its windows from there, not from the lake's old time,
    which would take a FULL export again every cycle for as long as the table stays unchanged."""
    a = job.args
    current = lake.snapshot_id(job.spark, job.ident, a.catalog, a.namespace, a.lake_table)
    if current == job.state.snapshot_before and not _history_reached(job):
        record_reached(job)
    return outcome


def _history_reached(job: "_Load") -> bool:
    """Whether the lake table's snapshot history already holds this load's export time."""
    a = job.args
    held = lineage.newest_lineage(lineage.lake_snapshots(job.spark, a), job.ident, job.state.snapshot_before)
    reached = parse_time(held.snapshot_time) if held is not None else None
    return reached is not None and reached >= a.snapshot_instant


def record_reached(job: "_Load") -> None:
    """Commits a snapshot without rows that records this load's lineage: windows that changed nothing.

    The next cycle plans its windows from the export time the newest lakesync snapshot records
    (the table properties are not readable everywhere, e.g. Athena hides them): without this commit
    a quiet table's windows would start again at its last change, every cycle, until a FULL export
    replaced it.
    """
    job.commit("record of the export time reached", f"INSERT INTO {job.ident} SELECT * FROM {job.ident} WHERE false")


# Helper columns of settled_rows. Lake columns never start with the reserved prefix (planning refuses them).
_HELD = "__lakesync_held"


def _lake_col(index: int) -> str:
    return f"__lakesync_c{index}"


def settled_rows(job: "_Load", lake_df: "DataFrame", window_keys: "DataFrame", schema: SchemaPlan, key: list[str],
                 lake_types: dict[str, str], layout: Layout) -> "DataFrame | None":
    """'U' changes for the lake rows the windows leave alone whose `_attributes` holds an attribute now
    declared (moved into its column, typed and checked exactly as a load types it) or excluded (removed).

    A merge rewrites only the keys its windows hold: without these, an attribute excluded later (e.g. PII)
    would stay in `_attributes` of every other row for good, and a column declared later would stay NULL
    there. None when no row holds one (one scan of `_attributes`, filtered on the names' text first).
    """
    a = job.args
    declared = [c for c in layout.columns if not c.is_key]
    names = [c.attribute for c in declared] + list(layout.excluded)
    if not names or layout.rest_name not in lake_types:
        return None
    held = _held_rows(job.spark, lake_df, window_keys, key, layout.rest_name, names)
    if held.isEmpty():
        return None
    values = _attribute_values(held, declared, layout.hash_key)
    plans = [plan_attribute(c, a.target) for c in declared]
    try:
        nulled = check_values(values, declared, plans, a.target, a.show_values)
    except AttributeTypeMismatch as exc:
        raise AttributeTypeMismatch(
            f"{exc} (the values are in {layout.rest_name} of rows {a.lake_table_id} already holds, which this "
            "load moves into the declared columns)"
        ) from None
    for attribute, count in nulled.items():
        job.state.nulled[attribute] = job.state.nulled.get(attribute, 0) + count
    job.state.warnings.append(_settled_warning(held, declared, layout, a.target, a.lake_table_id))
    return _settled_frame(values, declared, plans, schema, names, layout.rest_name)


def _held_rows(spark: "SparkSession", lake_df: "DataFrame", window_keys: "DataFrame", key: list[str], rest_name: str,
               names: Sequence[str]) -> "DataFrame":
    """The lake rows outside the windows whose `_attributes` has one of `names` as a key, materialized; the
    lake's columns renamed by position (_lake_col), `_attributes` parsed into _HELD."""
    from pyspark.sql import functions as F

    rest = quote(rest_name)
    # `"name":` exactly as rest_expr writes a key (Spark's JSON escaping): a cheap test on the text that
    # every row holding the name passes, so only those rows are parsed.
    rendered = spark.range(1).selectExpr(
        *[f"concat(substr(to_json(array({sql_string(n)})), 2, length(to_json(array({sql_string(n)}))) - 2), ':') AS r{i}"
          for i, n in enumerate(names)]
    ).collect()[0]
    text_filter = " OR ".join(f"instr({rest}, {sql_string(str(rendered[f'r{i}']))}) > 0" for i in range(len(names)))
    candidates = lake_df.where(f"{rest} IS NOT NULL AND ({text_filter})").join(window_keys, on=key, how="left_anti")
    positional = candidates.select(
        *[F.col(quote(n)).alias(_lake_col(i)) for i, n in enumerate(lake_df.columns)],
        F.expr(f"from_json({rest}, 'map<string,string>')").alias(_HELD),
    )
    listed = ", ".join(sql_string(n) for n in names)
    return positional.where(f"arrays_overlap(map_keys({_HELD}), array({listed}))").localCheckpoint(eager=True)


def _attribute_values(held: "DataFrame", declared: Sequence[AttributeColumn], hash_key: bytes | None) -> "DataFrame":
    """The held rows with each declared attribute's JSON, tag, text (and HMAC) as read_records gives them."""
    held_json = held.selectExpr("*", *[f"try_element_at({_HELD}, {sql_string(c.attribute)}) AS {quote(c.json_col)}"
                                       for c in declared])
    frame = with_value_views(held_json, declared)
    hashed = [c for c in declared if c.hashed]
    if hashed:
        assert hash_key is not None, "the key is resolved whenever an attribute is hashed"
        frame = hash_columns(frame, {c.hash_col: "string" for c in hashed}, hash_key)
    return frame


def _settled_frame(values: "DataFrame", declared: Sequence[AttributeColumn], plans: Sequence[ColumnPlan],
                   schema: SchemaPlan, names: Sequence[str], rest_name: str) -> "DataFrame":
    """The held rows as written: `_attributes` without `names`, a declared column set from `_attributes`
    where it held the attribute (its lake value kept otherwise), every other column as the lake has it."""
    moved = {c.name: (c, p) for c, p in zip(declared, plans)}
    select = []
    for i, (name, type_) in enumerate(schema.write_types.items()):
        if name == rest_name:
            expr = rest_expr(_HELD, list(names))
        elif name in moved:
            c, p = moved[name]
            expr = (f"CASE WHEN array_contains(map_keys({_HELD}), {sql_string(c.attribute)}) "
                    f"THEN CAST(({p.expr}) AS {type_}) ELSE {quote(_lake_col(i))} END")
        else:
            expr = quote(_lake_col(i))
        select.append(f"{expr} AS {quote(name)}")
    return values.selectExpr(*select, f"'U' AS {quote(OP_COLUMN)}")


def _settled_warning(held: "DataFrame", declared: Sequence[AttributeColumn], layout: Layout, target: str,
                     lake_table_id: str) -> str:
    """Which attributes the held rows had in `_attributes`, and what the load did with them."""
    names = [c.attribute for c in declared] + list(layout.excluded)
    row = held.selectExpr("count(1) AS n", *[f"count_if(array_contains(map_keys({_HELD}), {sql_string(n)})) AS h{i}"
                                             for i, n in enumerate(names)]).collect()[0]
    found = {n for i, n in enumerate(names) if row[f"h{i}"]}
    parts = []
    moved = [repr(c.attribute) for c in declared if c.attribute in found]
    removed = [repr(n) for n in layout.excluded if n in found]
    if moved:
        parts.append(f"declared attribute(s) {', '.join(moved)} moved into their columns")
    if removed:
        parts.append(f"excluded attribute(s) {', '.join(removed)} removed")
    return (f"table {target}: {row['n']} row(s) of {lake_table_id} that this load's exports did not change held "
            f"attributes in {layout.rest_name} that the settings now declare or exclude: {'; '.join(parts)} "
            "(counted as updated, in this load's commit)")
