"""The load of a DynamoDB table: its exports into the lake table (create, replace or merge).

Lake columns: the key attributes, the declared attributes (column policies applied as for
PostgreSQL columns), then `_attributes` (the rest of the item as DynamoDB JSON). A FULL export
creates the table or replaces it under the delete guard; INCREMENTAL windows are merged, oldest
first, the latest record of each key winning (later window, then WriteTimestampMicros). Every
check runs before the first write; writes go through the loader's commit (lineage, retries).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import lake, lineage
from .changes import change_set, count_ops
from .dynamodb import BROKEN, DELETED, REST, WINDOW, WRITTEN, ExportFiles, export_files, read_records
from .args import parse_time
from .dynamodb_args import ATTRIBUTES_COLUMN, DEFAULT_KEY_TYPES, DynamoExport
from .dynamodb_json import AttributeColumn, plan_attribute
from .errors import AttributeTypeMismatch, DeclaredAttributeMissing, EmptyExport, ExportNotFound, InvalidArgument
from .hashing import hash_columns, resolve_hash_key
from .names import lake_column_names, quote
from .pgtypes import ColumnPlan
from .schema import SchemaPlan, plan_rebuild, plan_schema
from .source import HIDDEN_VALUES, MAX_FAILED_COLUMNS, check_keys
from .sqltext import OP_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

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
    names = lake_column_names([w[0] for w in wanted] + [ATTRIBUTES_COLUMN], args.target, renames)
    columns = []
    for index, ((attribute, declared_type, is_key), name) in enumerate(zip(wanted, names)):
        policy = policies.get(attribute)
        lake_type = "string" if policy and policy.hash else (policy.type if policy and policy.type else declared_type)
        columns.append(AttributeColumn(index, attribute, name, lake_type, is_key, bool(policy and policy.hash),
                                       (policy.on_invalid if policy and policy.on_invalid else "fail")))
    return columns, excluded, names[-1]


def _config_line(table: str, attribute: str, setting: str) -> str:
    schema_table = table.split(".", 1)[1] if table.count(".") >= 2 else table
    return f"tables: {{ {schema_table}: {{ columns: {{ {attribute}: {{ {setting} }} }} }} }}"


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
               else f"to load them as NULL set {_config_line(table, c.attribute, 'onInvalid: null')}, "
               "or declare another type for it")
        failures.append(
            f"attribute {c.attribute!r} has {count} value(s) that cannot become {p.lake_type}"
            + (f", e.g. {examples[f'ex{i}']}" if examples is not None else "")
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
    exprs = ["count(1) AS n", f"count_if({BROKEN}) AS broken"]
    exprs += [f"count_if({WINDOW} = {i}) AS w{i}" for i in range(len(found))]
    exprs += [f"count_if({quote(c.tag_col)} IS NOT NULL) AS p{i}" for i, c in enumerate(declared)]
    row = records.selectExpr(*exprs).collect()[0]
    if row["broken"]:
        raise ExportNotFound(
            f"table {table}: {row['broken']} line(s) of the export are neither an Item nor a change record "
            "(DynamoDB JSON); the export looks damaged: run a new sync to export the table again"
        )
    for i, f in enumerate(found):
        if f.manifest_items is not None and int(row[f"w{i}"]) != f.manifest_items:
            raise ExportNotFound(
                f"table {table}: export {f.export.export_id} has {row[f'w{i}']} record(s) in its data files but "
                f"{f.manifest_items} in manifest-files.json; the export is incomplete: run a new sync to export it again"
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
    return records.withColumn("__rank", F.row_number().over(order)).where("__rank = 1").drop("__rank")


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
        refusal = lineage.older_export(a, held) or (None if d.full else window_gap(a, d.exports[0], held))
        if refusal is not None:
            state.count_before = lake.row_count(spark, job.ident)
            raise refusal
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
    state.rows_read = _check_export(records, found, declared, d.full, a.target)
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
        schema = plan_schema(source_cols, lake_cols, a.target, a.lake_table_id, labels)
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
        return job.replace(typed, schema, lake_types), schema, None
    if action == "rebuild":
        return job.rebuild(typed, schema, lake_types), schema, None
    return merge(job, typed_all, schema, key, lake_types, Outcome), schema, None


def merge(job: "_Load", typed_all: "DataFrame", schema: SchemaPlan, key: list[str], lake_types: dict[str, str],
          outcome: Any) -> "Outcome":
    """Upserts (records with a NewImage) and deletes (without), each key's latest record; only what changes
    is MERGEd: an upsert equal to the lake row and a delete of a key the lake lacks touch nothing."""
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
    changes = inserts_updates.unionByName(deletes).localCheckpoint(eager=True)
    counts = count_ops(changes)
    job.guard_deletes(counts["D"], job.state.count_before or 0)
    result = outcome("merge", counts["I"], counts["U"], counts["D"])
    job.apply_schema(schema)
    if sum(counts.values()):
        job.merge_changes("merge", changes, schema, key)
    return result
