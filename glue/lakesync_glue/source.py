"""Reading one table's export into a typed DataFrame, failing loudly on values that do not cast."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import CastError, DuplicateKeys, ExportNotFound, clipped
from .export import TableExport, damaged_parts
from .names import quote
from .pgtypes import (MAX_DECIMAL_PRECISION, ColumnMapping, ColumnPlan, decimal_params, exported_spark_type,
                      fallback_numeric_type, fraction_digits_expr, infer_scale_expr, is_number_expr, numeric_plan)
from .query import json_safe_frame
from .storage import spark_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MAX_EXAMPLES = 3
MAX_FAILED_COLUMNS = 6
# Row values reach the result JSON, the workflow history and the CLI: only when the source opts in.
HIDDEN_VALUES = "example values are not shown: set errors.showValues to true on the source to include them"
# An example tells which value is wrong; its first characters do that.
MAX_EXAMPLE_CHARS = 200


def example_text(value: object) -> str:
    """A value as an error quotes it: its repr, cut after MAX_EXAMPLE_CHARS characters."""
    return clipped(repr(value), MAX_EXAMPLE_CHARS)


def read_raw(spark: "SparkSession", export: TableExport,
             columns: Sequence[ColumnMapping] | None = None) -> "DataFrame":
    """Every Parquet file of the table, only the given columns (default: all), in the order of the type mappings.

    Columns left out (excluded by a policy) are never selected, so nothing downstream reads them.
    """
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    wanted = list(export.mappings if columns is None else columns)
    if not export.data_files:
        # RDS writes no file for an empty table: an empty frame with the exported types.
        fields = [
            StructField(m.column_name, _parse_datatype_string(exported_spark_type(m.expected_exported_type)), True)
            for m in wanted
        ]
        return spark.createDataFrame([], StructType(fields))
    try:
        # mergeSchema reads every part's footer here: a damaged part fails the read now, before any write.
        raw = spark.read.option("mergeSchema", "true").parquet(*[spark_path(p) for p in export.data_files])
    except Exception:
        refusal = damaged_parts(export)
        if refusal is not None:
            raise refusal from None
        raise
    present = set(raw.columns)
    missing = [m.column_name for m in wanted if m.column_name not in present]
    if missing:
        raise ExportNotFound(
            f"the Parquet files of {export.target} under {export.folder} lack column(s) "
            f"{', '.join(repr(m) for m in missing)} listed in export_tables_info; the export looks incomplete, "
            "export the snapshot again"
        )
    return raw.select(*[quote(m.column_name) for m in wanted])


def raw_types(raw: "DataFrame") -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in raw.schema.fields}


# Rows read to find a value of each column whose scale is open, before reading the whole export.
SCALE_SAMPLE_ROWS = 100


def infer_scales(raw: "DataFrame", names: list[str]) -> dict[str, int | None]:
    """The scale the values of each column show (None: no well-formed value at all).

    PostgreSQL prints every value of a numeric(p,s) column with exactly s fractional digits,
    so a few values are enough: the first rows holding one are read, and only a column that has
    no value among them (mostly NULL) is read in full. A value with more digits than the scale
    found (never printed by PostgreSQL) does not cast exactly later, which fails the load.
    """
    matches = [is_number_expr(n) for n in names]
    sample = raw.where(" OR ".join(matches)).selectExpr(
        *[f"CASE WHEN {m} THEN {fraction_digits_expr(n)} END AS s{i}" for i, (n, m) in enumerate(zip(names, matches))]
    ).limit(SCALE_SAMPLE_ROWS).collect()
    found: dict[str, int | None] = {}
    for i, name in enumerate(names):
        found[name] = max((row[i] for row in sample if row[i] is not None), default=None)
    unseen = [n for n in names if found[n] is None]
    if unseen:
        row = raw.selectExpr(*[f"{infer_scale_expr(n)} AS s{i}" for i, n in enumerate(unseen)]).collect()[0]
        found.update({n: row[i] for i, n in enumerate(unseen)})
    return found


def integer_widths(raw: "DataFrame", names: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """Per column: the most integer digits among its integer values, and the fewest trailing zeros
    among those that are not 0 (None: no such value).

    A numeric(p,s) with a negative scale (PostgreSQL 15+: numeric(5,-2)) holds integers of up to
    p - s digits, each a multiple of 10^-s: every value but 0 ends in at least -s zeros.
    """
    exprs = []
    for i, n in enumerate(names):
        r = quote(n)
        digits = f"regexp_extract({r}, '^-?0*([0-9]+)$', 1)"
        significant = f"TRIM(TRAILING '0' FROM {digits})"
        exprs.append(f"max(CASE WHEN {digits} <> '' THEN length({digits}) END) AS d{i}")
        exprs.append(f"min(CASE WHEN {significant} <> '' THEN length({digits}) - length({significant}) END) AS z{i}")
    row = raw.selectExpr(*exprs).collect()[0]
    return {n: (row[f"d{i}"], row[f"z{i}"]) for i, n in enumerate(names)}


def _scale_zero_type(precision: int, digits: int | None, zeros: int | None) -> tuple[int, int]:
    """decimal (precision, scale) of a bounded numeric(p) whose values show no fraction.

    Values with more than p integer digits prove a negative scale s: the column holds p - s digits, and
    -s is at most the trailing zeros every value but 0 has, so p plus the fewest of them holds every value
    the column can take (numeric(5,-2): 9999900 and 100 give decimal(7,0)).
    """
    if digits is None or digits <= precision:
        return precision, 0
    return min(MAX_DECIMAL_PRECISION, max(digits, precision + (zeros or 0))), 0


def _guessed_scale(plan: ColumnPlan, lake_type: str) -> bool:
    """Whether the lake column's decimal is the one a column created without values gets, whose scale is a guess.

    Up to numeric(19) that decimal holds every scale; above, decimal(38, 38-p) holds p integer digits only.
    """
    p = max(1, min(plan.precision or 1, MAX_DECIMAL_PRECISION))
    return 2 * p > MAX_DECIMAL_PRECISION and decimal_params(lake_type) == fallback_numeric_type(p)


def resolve_scales(raw: "DataFrame", plans: list[ColumnPlan], lake_types: dict[str, str],
                   lake_empty: Callable[[str], bool] | None = None, rebuild: str | None = None) -> list[ColumnPlan]:
    """Scale of bounded numerics the mappings leave open: the lake's column, else the data.

    RDS's mappings carry the precision of numeric(p,s) but not the scale. An existing lake
    column keeps its type; otherwise PostgreSQL prints every value with exactly s digits
    after the point, so the data tells s. With no values at all a decimal wide enough for
    any scale is used: from numeric(20) on none holds them all, so when such a column's values
    arrive with a larger scale while the lake column still holds none (`lake_empty`, by lake
    name), the column takes the scale of its values (replaced, as nothing in it can be lost).
    `rebuild`: the command that rebuilds the table from the export, named where the lake's scale is used.
    """
    open_plans = [p for p in plans if p.scale_unknown]
    if not open_plans:
        return plans
    decided: dict[str, tuple[int, int]] = {}
    from_lake: set[str] = set()
    to_infer: list[ColumnPlan] = []
    guessed: list[ColumnPlan] = []
    for plan in open_plans:
        lake_type = lake_types.get(plan.name)
        if lake_type and lake_type.startswith("decimal("):
            precision, scale = decimal_params(lake_type)
            decided[plan.name] = (max(plan.precision or 1, precision), scale)
            from_lake.add(plan.name)
            if lake_empty is not None and _guessed_scale(plan, lake_type):
                guessed.append(plan)
            continue
        to_infer.append(plan)
    replaced: set[str] = set()
    if guessed:
        scales = infer_scales(raw, [p.source_name for p in guessed])
        for plan in guessed:
            scale = scales[plan.source_name]
            if scale is not None and scale > decided[plan.name][1] and lake_empty is not None and lake_empty(plan.name):
                decided[plan.name] = (max(plan.precision or 1, scale), scale)
                from_lake.discard(plan.name)
                replaced.add(plan.name)
    if to_infer:
        scales = infer_scales(raw, [p.source_name for p in to_infer])
        integers = [p.source_name for p in to_infer if scales[p.source_name] == 0]
        widths = integer_widths(raw, integers) if integers else {}
        for plan in to_infer:
            scale = scales[plan.source_name]
            precision = plan.precision or 1
            if scale == 0:
                decided[plan.name] = _scale_zero_type(precision, *widths[plan.source_name])
            else:
                decided[plan.name] = fallback_numeric_type(precision) if scale is None else (max(precision, scale), scale)
    out: list[ColumnPlan] = []
    for plan in plans:
        if plan.name in decided:
            precision, scale = decided[plan.name]
            mapping = ColumnMapping(plan.source_name, plan.pg_type, "binary (UTF8)")
            new = numeric_plan(mapping, plan.name, plan.raw_type, precision, scale)
            if plan.name in from_lake:
                command = rebuild or "lakesync rerun <source> --rebuild <schema.table>"
                new = replace(new, expectation=new.expectation + "; the scale is the lake column's, and a scale "
                              f"changed in PostgreSQL needs a rebuild of the table from the export ({command}) "
                              "or a new lake table (the table's lakeName)")
            out.append(replace(new, precision=plan.precision, replaces_empty=plan.name in replaced))
        else:
            out.append(plan)
    return out


BAD_PREFIX = "__lakesync_bad_"
NULLED_PREFIX = "__lakesync_nulled_"
CLAMPED_PREFIX = "__lakesync_clamped_"


@dataclass
class CastCounts:
    rows: int
    nulled: dict[str, int] = field(default_factory=dict)  # source column -> values onInvalid 'null' set NULL
    clamped: dict[str, int] = field(default_factory=dict)  # source column -> +-infinity values clamped


def typed_frame(raw: "DataFrame", plans: list[ColumnPlan], with_checks: bool = False) -> "DataFrame":
    """The export cast to lake types; with_checks adds one boolean per checked column (value failed),
    and per column that sets values NULL or clamps them (counted in the result)."""
    exprs = [f"{p.expr} AS {quote(p.name)}" for p in plans]
    if with_checks:
        exprs += [f"({p.bad}) AS {quote(BAD_PREFIX + str(i))}" for i, p in enumerate(plans) if p.bad]
        exprs += [f"({p.nulled}) AS {quote(NULLED_PREFIX + str(i))}" for i, p in enumerate(plans) if p.nulled]
        exprs += [f"({p.clamped}) AS {quote(CLAMPED_PREFIX + str(i))}" for i, p in enumerate(plans) if p.clamped]
    return raw.selectExpr(*exprs)


def count_checked(checked: "DataFrame", plans: list[ColumnPlan]) -> tuple[CastCounts, list[tuple[int, ColumnPlan, int]]]:
    """One pass over `checked` (typed_frame with_checks): the rows and the values set NULL or clamped
    per column, and each column with values that do not cast as (position, plan, count)."""
    flagged = [(i, p) for i, p in enumerate(plans) if p.bad]
    exprs = ["count(1) AS n"] + [f"count_if({quote(BAD_PREFIX + str(i))}) AS bad{i}" for i, _ in flagged]
    exprs += [f"count_if({quote(NULLED_PREFIX + str(i))}) AS nulled{i}" for i, p in enumerate(plans) if p.nulled]
    exprs += [f"count_if({quote(CLAMPED_PREFIX + str(i))}) AS clamped{i}" for i, p in enumerate(plans) if p.clamped]
    row = checked.selectExpr(*exprs).collect()[0]
    counts = CastCounts(
        int(row["n"]),
        {p.source_name: int(row[f"nulled{i}"]) for i, p in enumerate(plans) if p.nulled and row[f"nulled{i}"]},
        {p.source_name: int(row[f"clamped{i}"]) for i, p in enumerate(plans) if p.clamped and row[f"clamped{i}"]},
    )
    return counts, [(i, p, int(row[f"bad{i}"])) for i, p in flagged if row[f"bad{i}"]]


def check_casts(checked: "DataFrame", raw: "DataFrame", plans: list[ColumnPlan], table: str,
                show_values: bool = False) -> CastCounts:
    """Counts the rows of `checked` (typed_frame with_checks) and fails with CastError on any bad value.

    The error names each failing column, its count, what a valid value looks like and the
    column policy that loads such values. The flags ride along with the cast values, so the
    export is parsed once; with show_values the raw export is read again to quote an example
    value per column. Returns the row count and the values set NULL or clamped, per column.
    """
    from .columns import fix_hint

    counts, failing = count_checked(checked, plans)
    if not failing:
        return counts
    examples = (
        raw.selectExpr(
            *[f"min(CASE WHEN {p.bad} THEN CAST({quote(p.source_name)} AS STRING) END) AS ex{i}" for i, p, _ in failing]
        ).collect()[0]
        if show_values
        else None
    )
    failures = [
        f"column {p.source_name!r} ({p.pg_type}) has {count} value(s) that cannot become {p.lake_type}"
        + (f", e.g. {example_text(examples[f'ex{i}'])}" if examples is not None else "")
        + f"; expected {p.expectation}; to load them set {fix_hint(p, table)}"
        for i, p, count in failing
    ]
    hidden = "" if show_values else f" ({HIDDEN_VALUES})"
    raise CastError(
        f"table {table}: {'; '.join(failures[:MAX_FAILED_COLUMNS])}{hidden}. Fix the values in PostgreSQL (or exclude the "
        "column or table) and export again, or set the column's policy; lakesync turns a bad value into NULL only "
        "under onInvalid: null"
    )


def key_problems(typed: "DataFrame", key: Sequence[str]) -> "DataFrame":
    """The key values that repeat or have a NULL column, each with its row count (`__lakesync_n`).

    A grouping of the key columns only: Spark reads and casts no other column for it.
    """
    from pyspark.sql import functions as F

    null_any = " OR ".join(f"{quote(k)} IS NULL" for k in key)
    grouped = typed.groupBy(*[F.col(quote(k)) for k in key]).agg(F.count(F.lit(1)).alias("__lakesync_n"))
    return grouped.where(f"__lakesync_n > 1 OR {null_any}")


INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")


# An export up to this size has its one integer key checked in the driver: reading the key column
# is one small Spark job, where the bitmap's grouping runs three (a tiny table's load is mostly such
# fixed work). At most FEW_KEYS values are read; an export holding more takes the bitmap after all.
SMALL_EXPORT_BYTES = 1 << 20
FEW_KEYS = 100_000


def duplicate_keys_exist(typed: "DataFrame", key: Sequence[str], small: bool = False) -> bool:
    """Whether a key value repeats or a key column is NULL (check_keys says which and how many).

    One integer key column is checked as a bitmap of its values (_integer_key_problem), or with
    `small` (an export of at most SMALL_EXPORT_BYTES) from its values read into the driver;
    any other key by a grouping of the key columns.
    """
    if len(key) == 1 and typed.select(quote(key[0])).schema[0].dataType.simpleString() in INTEGER_TYPES:
        if small:
            values = [row[0] for row in typed.select(quote(key[0])).limit(FEW_KEYS + 1).collect()]
            if len(values) <= FEW_KEYS:
                return None in values or len(set(values)) != len(values)
        return _integer_key_problem(typed, key[0])
    return key_problems(typed, key).count() > 0


def _integer_key_problem(typed: "DataFrame", key: str) -> bool:
    """Whether an integer key value repeats or is NULL (integer_key_counts)."""
    return integer_key_counts(typed, quote(key))[1] > 0


def integer_key_counts(frame: "DataFrame", key_expr: str) -> tuple[int, int]:
    """(rows, words with a repeated or NULL value) of one integer key, exactly, values grouped 64 to a word.

    A value v is bit (v & 63) of word (v >> 6), one pair per bigint. Each word ORs the bits of its
    rows: a word with more rows than set bits holds a repeated value. Keys of a sequence group
    64 rows to a word, so the shuffle carries a sixty-fourth of a grouping by key; sparse keys
    make one word per value, as that grouping does.
    """
    from pyspark.sql import functions as F

    value = frame.selectExpr(f"CAST(({key_expr}) AS bigint) AS v")
    words = value.groupBy(F.expr("shiftright(v, 6)").alias("word")).agg(
        F.count(F.lit(1)).alias("n"),
        F.expr("bit_or(shiftleft(CAST(1 AS BIGINT), CAST(v & 63 AS INT)))").alias("bits"),
    )
    # The NULL key's group has no word (NULL): a NULL key is a problem, as in check_keys.
    row = words.selectExpr("coalesce(sum(n), 0) AS n", "count_if(word IS NULL OR n > bit_count(bits)) AS problems").collect()[0]
    return int(row["n"]), int(row["problems"])


def check_keys(typed: "DataFrame", key: list[str], table: str, show_values: bool = False) -> None:
    """Fails with DuplicateKeys when a key value repeats or a key column is NULL.

    The error gives the counts; the repeated key values only with show_values.
    """
    problem = key_problem_text(typed, key, show_values)
    if problem is not None:
        raise DuplicateKeys(f"table {table}: {problem}. A key must identify one row: fix --primary_key or the source data")


def check_lake_keys(lake: "DataFrame", key: list[str], table: str, lake_table: str, rebuild: str,
                    show_values: bool = False) -> None:
    """Fails with DuplicateKeys when a lake row's key repeats or has a NULL column (before any write).

    A merge matches lake rows by key: a NULL key matches no change, so its delete would be
    counted on every run and never applied, and a repeated key matches a change more than once.
    """
    problem = key_problem_text(lake, key, show_values)
    if problem is not None:
        raise DuplicateKeys(
            f"table {table}: the lake table {lake_table} does not hold one row per key: {problem}. A merge matches "
            f"the lake's rows by key and cannot apply changes to these; rebuild the table from the export ({rebuild}) "
            "or remove those rows from the lake table"
        )


def key_problem_text(typed: "DataFrame", key: list[str], show_values: bool) -> str | None:
    """What is wrong with the key of `typed` (repeated values, NULL columns), None when nothing is."""
    null_any = " OR ".join(f"{quote(k)} IS NULL" for k in key)
    problems = key_problems(typed, key)
    sample = problems.limit(MAX_EXAMPLES).collect()
    if not sample:
        return None
    totals = problems.selectExpr(
        # NULL keys group together but are no repeated value: they are counted as rows with a NULL key.
        f"sum(CASE WHEN __lakesync_n > 1 AND NOT ({null_any}) THEN 1 ELSE 0 END) AS dup_keys",
        f"sum(CASE WHEN {null_any} THEN __lakesync_n ELSE 0 END) AS null_rows",
    ).collect()[0]
    examples = []
    if show_values:
        for row in json_safe_frame(problems.limit(MAX_EXAMPLES)).collect():
            values = ", ".join(f"{k}={example_text(row[i])}" for i, k in enumerate(key))
            examples.append(f"({values}) x{row[len(key)]}")
    shown = f"e.g. {'; '.join(examples)}" if show_values else HIDDEN_VALUES
    parts = []
    if totals["dup_keys"]:
        parts.append(f"{totals['dup_keys']} key value(s) appear in more than one row")
    if totals["null_rows"]:
        parts.append(f"{totals['null_rows']} row(s) have a NULL key column")
    clamped = _clamped_in_repeats(typed, problems, key) if totals["dup_keys"] else ""
    return f"primary key ({', '.join(key)}): {' and '.join(parts)}; {shown}{clamped}"


def _clamped_in_repeats(typed: "DataFrame", problems: "DataFrame", key: Sequence[str]) -> str:
    """Why key values repeat when a date or timestamp key column holds an infinity's sentinel in them.

    PostgreSQL's 'infinity' and the real value 9999-12-31 (or '-infinity' and 0001-01-01) are two
    keys there, but one in the lake: the repeat is the clamp's, not the source's.
    """
    from .pgtypes import DATE_NEG_INF, DATE_POS_INF, TS_NEG_INF, TS_POS_INF

    sentinels = {"date": (DATE_POS_INF, DATE_NEG_INF), "timestamp": (TS_POS_INF, TS_NEG_INF),
                 "timestamp_ntz": (TS_POS_INF, TS_NEG_INF)}
    types = dict(typed.dtypes)
    columns = [k for k in key if types.get(k) in sentinels]
    if not columns:
        return ""
    counts = problems.where("__lakesync_n > 1").selectExpr(*[
        f"count_if(CAST({quote(k)} AS STRING) IN ('{sentinels[types[k]][0]}', '{sentinels[types[k]][1]}')) AS c{i}"
        for i, k in enumerate(columns)]).collect()[0]
    hit = [(k, int(counts[f"c{i}"])) for i, k in enumerate(columns) if counts[f"c{i}"]]
    if not hit:
        return ""
    said = ", ".join(f"{k} in {n} of them" for k, n in hit)
    return (f". The repeated key values hold the value PostgreSQL 'infinity' or '-infinity' is clamped to in the lake "
            f"(9999-12-31 / 0001-01-01, 23:59:59.999999 for timestamps) in key column(s) {said}: the source most likely "
            "holds both 'infinity' and that real date in the key, two keys in PostgreSQL but one in the lake. Change one "
            "of those rows in the source, or choose a primary key without that column")
