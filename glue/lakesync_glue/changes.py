"""Change sets: which source rows are inserts, updates or deletes against the lake table.

The change set is computed by joining on the key and comparing rows column by column
(null-safe), so a MERGE only touches rows that really changed and an unchanged table
commits nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

from .names import quote
from .pgtypes import DATE_NEG_SQL, DATE_POS_SQL, TS_NEG_SQL, TS_POS_SQL, TSTZ_NEG_SQL, TSTZ_POS_SQL, decimal_params
from .source import integer_key_counts
from .sqltext import OP_COLUMN
from .threads import run_at_once

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from .pgtypes import ColumnPlan


def change_set(source: "DataFrame", lake: "DataFrame", key: Sequence[str], deletes: bool,
               not_older: str | None = None) -> "DataFrame":
    """Rows of `source` with OP_COLUMN 'I' or 'U', plus 'D' rows (key only) when `deletes`.

    `source` and `lake` have the same column names and types; keys are never NULL. The result
    is materialized (local checkpoint): its counts and the MERGE that applies it see the same
    rows, whatever the lake table does meanwhile. With `not_older` (a cursor column) a row is
    updated only when its cursor is not older than the lake row's: an older export never moves
    a row back (equal cursors: the source wins).
    """
    from pyspark.sql import functions as F

    names = list(source.columns)
    key_idx = [names.index(k) for k in key]
    other_idx = [i for i in range(len(names)) if i not in key_idx]
    # Positional aliases keep arbitrary column names (dots, backticks) out of expressions.
    s = source.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"s{i}") for i, n in enumerate(names)],
                      F.lit(True).alias("__s"))
    l = lake.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"l{i}") for i, n in enumerate(names)],
                    F.lit(True).alias("__l"))
    on = reduce(lambda a, b: a & b, [F.col(f"s{i}") == F.col(f"l{i}") for i in key_idx])
    joined = s.join(l, on, "full_outer" if deletes else "left_outer")
    differs: "Column" = reduce(
        lambda a, b: a | b,
        [~F.col(f"s{i}").eqNullSafe(F.col(f"l{i}")) for i in other_idx],
        F.lit(False),
    )
    if not_older is not None:
        c = names.index(not_older)
        differs = differs & (F.col(f"l{c}").isNull() | (F.col(f"s{c}") >= F.col(f"l{c}")))
    op = (
        F.when(F.col("__l").isNull(), F.lit("I"))
        .when(F.col("__s").isNull(), F.lit("D"))
        .when(differs, F.lit("U"))
    )
    marked = joined.withColumn("__op", op).where(F.col("__op").isNotNull())
    positional = marked.select(
        *[F.coalesce(F.col(f"s{i}"), F.col(f"l{i}")).alias(f"k{i}") if i in key_idx else F.col(f"s{i}")
          for i in range(len(names))],
        F.col("__op"),
    )
    # Materialized before the columns get their names back: renaming the joined plan's columns
    # makes Catalyst's constraint propagation blow up (exponential in the number of columns).
    return positional.localCheckpoint(eager=True).toDF(*names, OP_COLUMN)


def unseen_rows(source: "DataFrame", lake: "DataFrame", compare: Sequence[str],
                added: Sequence[str] = (), rederived: Sequence[str] = ()) -> "DataFrame":
    """Rows of `source` the lake does not hold yet, compared on `compare` (null-safe), as multisets.

    Identical rows are numbered on each side and matched one to one: a row the source has twice
    and the lake once is returned once. `lake` has exactly the `compare` columns, with the source's
    types. Materialized like a change set.

    `added`: columns of `compare` added to the lake table after some of its rows were written;
    those rows read NULL there though the source row has a value: a row loaded before its column
    existed is not new. Source rows left unmatched are matched again, one to one, with lake rows
    left unmatched that equal them on the other columns and hold, in each added column, NULL or
    the same value. That is done in rounds, one per NULL pattern P (the added columns in which a
    lake row is NULL), fewest NULLs first: a round matches, within equal values outside P, as many
    of the pattern's lake rows with remaining source rows as both sides hold.

    The rounds find as many matches as can be when the patterns are nested (columns added one
    after another: a row older than a column is older than every later one). Two source rows that
    agree outside P agree outside every larger pattern, so which of them a round takes changes
    nothing for later rounds. And a matching that leaves a round's lake row unmatched while a
    source row it fits stays unmatched or goes to a lake row of a later round loses nothing when
    that source row takes the round's lake row instead (the later one is freed). So a largest
    matching can be made to agree with each round in turn. Patterns that are not nested (a row's
    own NULL in a column added before another) still match only rows they fit, maybe fewer.

    `rederived`: columns of `compare` whose values some lake rows hold derived otherwise (a hash turned on
    or off, another hash key, type or onInvalid; derivations.py). Which rows is not known, so after the
    first pass every lake row's value there matches any source value, as a NULL in an added column does
    (the column counts as NULL in every pattern). The first pass still matches rows exactly, so rows
    written the load's way pair with their own source rows before any other.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = list(source.columns)
    idx = [names.index(n) for n in compare]
    s = source.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"s{i}") for i, n in enumerate(names)])
    l = lake.select(*[F.col(f"`{n.replace('`', '``')}`").alias(f"l{j}") for j, n in enumerate(compare)])
    s = s.withColumn("__n", F.row_number().over(Window.partitionBy(*[f"s{i}" for i in idx]).orderBy(F.lit(0))))
    l = l.withColumn("__n_l", F.row_number().over(Window.partitionBy(*[f"l{j}" for j in range(len(idx))]).orderBy(F.lit(0))))
    on = reduce(lambda a, b: a & b, [F.col(f"s{i}").eqNullSafe(F.col(f"l{j}")) for j, i in enumerate(idx)],
                F.col("__n") == F.col("__n_l"))
    untrusted = set(rederived)
    relaxed = [j for j, n in enumerate(compare) if n in untrusted or n in set(added)]
    if not relaxed:
        unseen = s.join(l, on, "left_anti").select(*[f"s{i}" for i in range(len(names))])
        return unseen.localCheckpoint(eager=True).toDF(*names)
    # Both sides' unmatched rows, materialized once: the rounds and the patterns read them. A lake
    # row's pattern is one character per relaxed column, '1' where it reads NULL (always, when rederived).
    pattern = F.concat(*[F.lit("1") if compare[j] in untrusted
                         else F.when(F.col(f"l{j}").isNull(), F.lit("1")).otherwise(F.lit("0")) for j in relaxed])
    left_over = s.join(l, on, "full_outer").where(F.col("__n").isNull() | F.col("__n_l").isNull()).select(
        *[F.col(f"s{i}") for i in range(len(names))], *[F.col(f"l{j}") for j in range(len(idx))],
        F.when(F.col("__n").isNull(), pattern).alias("__p"),
    ).localCheckpoint(eager=True)
    unseen = left_over.where(F.col("__p").isNull()).select(*[f"s{i}" for i in range(len(names))])
    left = left_over.where(F.col("__p").isNotNull()).select(*[f"l{j}" for j in range(len(idx))], "__p")
    # One small aggregate: the lake's patterns (a few), and whether any source row is left at all.
    counts = {r["__p"]: int(r["count"]) for r in left_over.groupBy("__p").count().collect()}
    # The pattern without NULLs matches nothing more: the first pass left none of its equals.
    patterns = sorted((p for p in counts if p is not None and "1" in p), key=lambda p: (p.count("1"), p))
    if not patterns or not counts.get(None):
        return unseen.toDF(*names)  # read from the materialized rows
    for p in patterns:
        equal = [j for j in range(len(idx)) if j not in relaxed or p[relaxed.index(j)] == "0"]
        src = unseen.withColumn("__m", F.row_number().over(
            Window.partitionBy(*[f"s{idx[j]}" for j in equal]).orderBy(F.lit(0))))
        lak = left.where(F.col("__p") == F.lit(p)).withColumn("__m_l", F.row_number().over(
            Window.partitionBy(*[f"l{j}" for j in equal]).orderBy(F.lit(0))))
        fits = reduce(lambda a, b: a & b, [F.col(f"s{idx[j]}").eqNullSafe(F.col(f"l{j}")) for j in equal],
                      F.col("__m") == F.col("__m_l"))
        unseen = src.join(lak, fits, "left_anti").drop("__m")
    return unseen.localCheckpoint(eager=True).toDF(*names)


def count_ops(changes: "DataFrame") -> dict[str, int]:
    counts = {"I": 0, "U": 0, "D": 0}
    for row in changes.groupBy(OP_COLUMN).count().collect():
        counts[row[0]] = int(row[1])
    return counts


# -- the export-first change set (merge of an export load) ------------------------------------
# Casting and checking every exported value costs more than the rest of a merge. The export is
# therefore compared with the lake first in the export's own terms: a value equal to the lake
# value's rendering in the export's text (or equal as is) casts to exactly that lake value, so
# only the other rows ("candidates") are cast, checked and compared exactly afterwards.

CANDIDATE = "C"  # stage one: the row differs, or might; decided exactly in stage two
# Renderings outside the years 1-9999 are not trusted: the row is a candidate. The bounds are the
# first and last values of those years (the ones ±infinity clamp to), compared rather than year(),
# which splits every value into calendar fields.
TRUSTED_RANGE = {
    "timestamp": f"{TSTZ_NEG_SQL} AND {TSTZ_POS_SQL}",
    "timestamp_ntz": f"{TS_NEG_SQL} AND {TS_POS_SQL}",
    "date": f"{DATE_NEG_SQL} AND {DATE_POS_SQL}",
}
# Java prints a decimal with more fraction digits than this in E notation (BigDecimal.toString) when
# it is small enough; with at most this many it always prints it plainly.
PLAIN_DECIMAL_SCALE = 6


@dataclass(frozen=True)
class RawCompare:
    """How one non-key column is compared before casting.

    `source`: SQL over the raw export; `lake`: SQL over the lake value (`{v}`); they are compared
    null-safe. `forced` (raw) / `lake_forced` (`{v}`): SQL predicates that make the row a candidate
    whatever the comparison says (a value the cast flags, a rendering that is not trusted).
    Invariant: when neither is forced and the two are equal, the plan casts the raw value to the
    lake value exactly and flags nothing.
    """

    source: str
    lake: str
    forced: str | None = None
    lake_forced: str | None = None


def raw_compare(plan: "ColumnPlan", write_type: str, session_utc: bool) -> RawCompare:
    raw = quote(plan.source_name)
    flags = [f for f in (plan.bad, plan.nulled, plan.clamped) if f]
    if not flags and plan.expr.strip() == raw and plan.raw_type == write_type:
        return RawCompare(raw, "{v}")  # verbatim: the value is the lake value
    if plan.raw_type == "string" and plan.lake_type == write_type:
        # PostgreSQL's text of these types is Spark's cast to string (UTC, trailing zeros trimmed).
        # The plain numeric cast into the write type itself (not a retyped one whose first type is narrower).
        if plan.kind == "numeric" and write_type.startswith("decimal(") and f"try_cast({raw} AS {write_type})" in plan.expr:
            e_notation = "instr(CAST({v} AS STRING), 'E') > 0" if decimal_params(write_type)[1] > PLAIN_DECIMAL_SCALE else None
            return RawCompare(raw, "CAST({v} AS STRING)", lake_forced=e_notation)
        if write_type in TRUSTED_RANGE:
            untrusted = f"NOT ({{v}} BETWEEN {TRUSTED_RANGE[write_type]})"
            if plan.kind == "timestamptz" and write_type == "timestamp" and session_utc:
                return RawCompare(raw, "concat(CAST({v} AS STRING), '+00')", lake_forced=untrusted)
            if (plan.kind, write_type) in (("timestamp", "timestamp_ntz"), ("date", "date")):
                return RawCompare(raw, "CAST({v} AS STRING)", lake_forced=untrusted)
    forced = " OR ".join(f"coalesce(({f}), false)" for f in flags) or None
    return RawCompare(f"CAST(({plan.expr}) AS {write_type})", "{v}", forced=forced)


LAKE_PREFIX = "__lakesync_lake_"
# Stage one's own columns: prefixed so that no exported column name can clash with them.
S_OP, S_SRC, S_LAKE, S_NULLKEY = (f"__lakesync_stage_{n}" for n in ("op", "s", "l", "nullkey"))


def stage_key(i: int) -> str:
    return f"__lakesync_stage_k{i}"


def candidate_rows(raw: "DataFrame", lake: "DataFrame", key: Sequence[str], key_exprs: Sequence[str],
                   compares: Sequence[tuple[str, RawCompare]], key_forced: str | None = None) -> "DataFrame":
    """Stage one: the raw export joined with the lake on the key, one row per key.

    Columns (names: stage_key(i), S_*): the key, the op ('I' export only, 'D' lake only, 'C'
    candidate, NULL unchanged), which sides hold the key, whether the key has a NULL (either side); the raw
    export columns, kept on 'I' and 'C' rows only (NULL elsewhere), so stage two casts them without
    reading the export again; and for candidates the lake values (LAKE_PREFIX + v0.., of `compares`
    in order). `lake` has the key and the compared columns, cast to the write types; `key_exprs`
    give the export's key the same way; `key_forced` flags key values the cast checks. Both sides
    travel as they are read (raw text, typed lake values); comparing happens after the join.
    """
    from pyspark.sql import functions as F

    nk = len(key)
    raw_names = list(raw.columns)
    sk = [f"{LAKE_PREFIX}s{i}" for i in range(nk)]
    lk = [f"{LAKE_PREFIX}k{i}" for i in range(nk)]
    lv = [f"{LAKE_PREFIX}v{j}" for j in range(len(compares))]
    s = raw.selectExpr(*[quote(n) for n in raw_names], *[f"{e} AS {quote(sk[i])}" for i, e in enumerate(key_exprs)])
    s = s.withColumn(S_SRC, F.lit(True))
    l = lake.selectExpr(*[f"{quote(k)} AS {quote(lk[i])}" for i, k in enumerate(key)],
                        *[f"{quote(name)} AS {quote(lv[j])}" for j, (name, _c) in enumerate(compares)])
    l = l.withColumn(S_LAKE, F.lit(True))
    on = reduce(lambda a, b: a & b, [F.col(sk[i]) == F.col(lk[i]) for i in range(nk)])
    joined = s.join(l, on, "full_outer")
    forced = [f"({c.forced})" for _n, c in compares if c.forced] + ([f"({key_forced})"] if key_forced else [])
    forced += [f"coalesce(({c.lake_forced.replace('{v}', quote(lv[j]))}), false)"
               for j, (_n, c) in enumerate(compares) if c.lake_forced]
    differs = [f"NOT (({c.source}) <=> ({c.lake.replace('{v}', quote(lv[j]))}))" for j, (_n, c) in enumerate(compares)]
    candidate_sql = " OR ".join(forced + differs) or "false"
    op = (
        F.when(F.col(S_LAKE).isNull(), F.lit("I"))
        .when(F.col(S_SRC).isNull(), F.lit("D"))
        .when(F.expr(candidate_sql), F.lit(CANDIDATE))
    )
    marked = joined.withColumn(S_OP, op)
    candidate = F.col(S_OP) == F.lit(CANDIDATE)
    keep_raw = F.col(S_OP).isin("I", CANDIDATE)
    return marked.select(
        *[F.coalesce(F.col(sk[i]), F.col(lk[i])).alias(stage_key(i)) for i in range(nk)],
        F.col(S_OP),
        F.coalesce(F.col(S_SRC), F.lit(False)).alias(S_SRC),
        F.coalesce(F.col(S_LAKE), F.lit(False)).alias(S_LAKE),
        reduce(lambda a, b: a | b, [F.coalesce(F.col(sk[i]), F.col(lk[i])).isNull() for i in range(nk)]).alias(S_NULLKEY),
        *[F.when(keep_raw, F.col(quote(n))).alias(n) for n in raw_names],
        *[F.when(candidate, F.col(c)).alias(c) for c in lv],
    )


@dataclass
class StageCounts:
    source_rows: int
    lake_rows: int
    inserts: int
    deletes: int
    candidates: int
    anomalies: int  # repeated or NULL keys on either side: the exact path decides (and reports)


def key_counts(frame: "DataFrame", key_exprs: Sequence[str], integer: bool = False) -> tuple[int, int]:
    """(rows, problems) of `frame`, only its key columns read: problems is 0 unless a key is held
    more than once or is NULL. One integer key is counted as a bitmap of its values (a sixty-fourth
    of the shuffle for keys of a sequence), any other key by a grouping of its columns.
    """
    if integer and len(key_exprs) == 1:
        return integer_key_counts(frame, key_exprs[0])
    keys = frame.selectExpr(*[f"{e} AS k{i}" for i, e in enumerate(key_exprs)])
    null_any = " OR ".join(f"k{i} IS NULL" for i in range(len(key_exprs)))
    row = keys.groupBy(*keys.columns).count().selectExpr(
        "coalesce(sum(count), 0) AS n", f"count_if(count > 1 OR {null_any}) AS bad").collect()[0]
    return int(row["n"]), int(row["bad"])


def key_counts_of_both(source: "DataFrame", source_keys: Sequence[str], lake: "DataFrame", lake_keys: Sequence[str],
                       integer: bool = False) -> tuple[tuple[int, int], tuple[int, int]]:
    """key_counts of the export and of the lake, run at once: each is a small job that leaves cores idle."""
    source_counts, lake_counts = run_at_once(
        [lambda: key_counts(source, source_keys, integer), lambda: key_counts(lake, lake_keys, integer)], "lakesync-keys")
    return source_counts, lake_counts


def stage_counts(changed: "DataFrame", source: tuple[int, int], lake: tuple[int, int]) -> StageCounts:
    """Counts of stage one: its rows that may change (materialized) and both sides' key counts."""
    row = changed.selectExpr(
        f"count_if({S_OP} = 'I') AS i", f"count_if({S_OP} = 'D') AS d", f"count_if({S_OP} = '{CANDIDATE}') AS c",
        f"count_if({S_NULLKEY}) AS n",
    ).collect()[0]
    return StageCounts(source[0], lake[0], int(row["i"]), int(row["d"]), int(row["c"]),
                       source[1] + lake[1] + int(row["n"]))
