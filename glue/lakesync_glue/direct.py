"""Direct extract: one table read from PostgreSQL over JDBC by a cursor window, without an export.

The columns come from the source's catalog in the export's ColumnMapping shape, and every column
is selected in the form the export writes it (integers, floats, booleans and bytea native,
everything else as PostgreSQL's text), so the casts, checks and column policies of export loads
apply unchanged. At the start, one query fixes the window's upper bound (`max(cursor)`) and a row
estimate; the window's rows are read in partitions, the predicate evaluated by PostgreSQL.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import lake, lineage
from .args import JobArgs
from .errors import InvalidArgument, LoadError, SchemaConflict, SourceRewritten
from .jdbc import Connection, resolve
from .pgtypes import ColumnMapping, ColumnPlan, declared_scale, exported_spark_type, pg_kind, type_base
from .names import sql_string
from .query import format_value
from .window import check_lookback, default_lookback, lower_bound, pinned_warning

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("lakesync_glue")

# Default partition count: one per ROWS_PER_PARTITION estimated rows, at most MAX_DEFAULT_PARTITIONS
# (each partition is one connection to the source; --partitions goes up to 256).
ROWS_PER_PARTITION = 500_000
MAX_DEFAULT_PARTITIONS = 32
# How many of the last windows the late-row count reaches back over (a create's whole range only when
# it is the last window): the count's cost stays a few windows' rows.
LATE_ROWS_WINDOWS = 3
PART = "__lakesync_part"
_LONG = 2**63 - 1
# Types the export writes natively (exporter: src/local/export/types.ts); the rest is text.
_NATIVE = {"int2": "int32", "int4": "int32", "int8": "int64", "float4": "float", "float8": "double",
           "bool": "boolean", "bytea": "binary"}
_TEXT = "binary (UTF8)"
_RANGE_NUMERIC = ("int16", "int32", "int64", "float32", "float64", "numeric")
_RANGE_TEMPORAL = ("date", "timestamp", "timestamptz")
_INTEGRAL = ("int16", "int32", "int64")
# The smallest value of each integer cursor kind: a lower bound below it is no bound (PostgreSQL refuses it).
_INTEGRAL_MIN = {"int16": -2**15, "int32": -2**31, "int64": -2**63}
# Types a window follows as text (compared() in byte order, as Spark's max() on the lake's string):
# their text forms order as PostgreSQL orders the values. Every other type but numbers, dates and
# timestamps (compared natively) is refused as a cursor (src/lookback.ts refuses the same in the plan).
_TEXT_ORDERED_CURSORS = frozenset({
    "text", "character varying", "varchar", "character", "char", "bpchar", "name", "uuid", "time",
    "time without time zone", "macaddr", "macaddr8", "bit", "bit varying", "varbit",
})
CURSOR_TYPES_FIX = (
    "pick a cursor column that is a number, a date or timestamp, or text (text, character varying, character, "
    "name, uuid, time without time zone, macaddr, bit), e.g. an id or an updated-at column, or leave the cursor out "
    "and load the table whole from exports (extract: export)"
)


def _unordered_reason(type_: str) -> str:
    """Why a window cannot follow a cursor of this (base) type: an example of its order."""
    def text_order(example: str) -> str:
        return f"its text form does not order as PostgreSQL orders it, e.g. {example}"

    if type_ in ("boolean", "bool"):
        return "it holds two values, and a new row holding false lies below the lake's max (true)"
    if type_ == "bytea":
        return "the lake holds its bytes, while PostgreSQL would compare its text ('\\x0a1b')"
    if type_ == "array" or type_.endswith("[]"):
        return text_order("'{10}' sorts below '{9}' as text")
    if type_ == "pg_lsn":
        return text_order("'0/10000000' sorts below '0/9FFFFFF' as text")
    if type_ in ("inet", "cidr"):
        return text_order("'10.0.0.1' sorts below '9.0.0.1' as text")
    if type_.startswith("interval"):
        return text_order("'10 days' sorts below '9 days' as text")
    if type_ in ("time with time zone", "timetz"):
        return text_order("'10:00:00+02' sorts above '09:30:00+00' as text, though it is earlier")
    if type_ == "user-defined":
        return text_order("an enum orders by the order its labels were declared in, not alphabetically")
    return text_order("'10' sorts below '9' as text")


def cursor_order_problem(original_type: str) -> str | None:
    """Why a column of this PostgreSQL type (information_schema's name, 'USER-DEFINED', 'ARRAY', a domain by
    its base type) cannot be a cursor, or None: a window reads from the lake's max up, so it must compare in
    PostgreSQL's order, and a new row that sorts below the lake's max as text though it is larger is never read."""
    kind = pg_kind(original_type)[0]
    type_ = type_base(original_type)
    if kind in _RANGE_NUMERIC or kind in _RANGE_TEMPORAL or kind == "money" or (
            kind != "array" and type_ in _TEXT_ORDERED_CURSORS):
        return None
    shown = "array" if kind == "array" else type_
    return f"is of type {shown}, which a window cannot follow: {_unordered_reason(type_)}, so new rows would never be read"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string constant read alike whatever standard_conforming_strings says: in '...' a backslash escapes
    when it is off, so a bound taken from row data could end the literal early; E'...' always escapes."""
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def default_partitions(estimated_rows: int) -> int:
    """One partition per 500,000 estimated rows, clamped to 1..32."""
    return max(1, min(MAX_DEFAULT_PARTITIONS, math.ceil(max(0, estimated_rows) / ROWS_PER_PARTITION)))


@dataclass(frozen=True)
class SourceColumn:
    mapping: ColumnMapping
    udt_name: str
    domain: bool

    @property
    def name(self) -> str:
        return self.mapping.column_name

    @property
    def kind(self) -> str:
        return pg_kind(self.mapping.original_type)[0]

    def select(self) -> str:
        """The column in the form the export writes it."""
        c = ident(self.name)
        if self.domain or self.udt_name in ("bpchar", "inet"):
            # The type's own output form: a cast drops char(n)'s padding and adds inet's /32.
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE format('%s', {c}) END"
        if self.udt_name in _NATIVE:
            return c
        return f"{c}::text"

    def compared(self) -> str:
        """The column as the window compares it: natively for numbers and times, else as text in byte
        order, the order Spark's max() on the lake column uses."""
        if self.kind in _RANGE_NUMERIC or self.kind in _RANGE_TEMPORAL or self.kind == "money":
            return ident(self.name)
        if self.domain or self.udt_name in ("bpchar", "inet"):
            # The text the lake holds (select()): a cast would drop char(n)'s padding, so a late row
            # equal to the lake's max would compare below it and never be read.
            return f"({self.select()}) COLLATE \"C\""
        return f"({ident(self.name)})::text COLLATE \"C\""


# The type under every domain level of a domain column, with the type modifier that applies to it
# (the innermost domain's declared one): information_schema looks through one domain only.
_DOMAIN_BASE = (
    "WITH RECURSIVE d(oid, typmod, typtype, basetype) AS ("
    "SELECT t.oid, a.atttypmod, t.typtype, t.typbasetype FROM pg_type t WHERE t.oid = a.atttypid AND t.typtype = 'd' "
    "UNION ALL SELECT t.oid, CASE WHEN d.typmod <> -1 THEN d.typmod ELSE d_t.typtypmod END, t.typtype, t.typbasetype "
    "FROM d JOIN pg_type d_t ON d_t.oid = d.oid JOIN pg_type t ON t.oid = d.basetype WHERE d.typtype = 'd') "
    "SELECT d.oid AS base, d.typmod FROM d WHERE d.typtype <> 'd' LIMIT 1"
)


def catalog_sql(schema: str, table: str) -> str:
    """The columns as the embedded export maps them: a domain column (a domain over a domain too) by its base type."""
    def base(info: str, function: str) -> str:
        return f"CASE WHEN b.base IS NULL THEN c.{info} ELSE information_schema.{function}(b.base, b.typmod) END"

    return (
        "SELECT c.column_name::text AS name, "
        "(CASE WHEN b.base IS NULL THEN c.data_type WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY' "
        "WHEN bn.nspname = 'pg_catalog' THEN format_type(b.base, NULL) ELSE 'USER-DEFINED' END)::text AS data_type, "
        "(CASE WHEN b.base IS NULL THEN c.udt_name ELSE bt.typname END)::text AS udt_name, "
        f"({base('character_maximum_length', '_pg_char_max_length')})::int AS char_len, "
        f"({base('numeric_precision', '_pg_numeric_precision')})::int AS num_precision, "
        f"({base('numeric_scale', '_pg_numeric_scale')})::int AS num_scale, "
        f"({base('datetime_precision', '_pg_datetime_precision')})::int AS dt_precision, "
        "c.domain_name::text AS domain_name "
        "FROM information_schema.columns c "
        "JOIN pg_namespace n ON n.nspname = c.table_schema "
        "JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = c.table_name "
        "JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = c.column_name "
        f"LEFT JOIN LATERAL ({_DOMAIN_BASE}) b ON c.domain_name IS NOT NULL "
        "LEFT JOIN pg_type bt ON bt.oid = b.base LEFT JOIN pg_namespace bn ON bn.oid = bt.typnamespace "
        f"WHERE c.table_schema = {literal(schema)} "
        f"AND c.table_name = {literal(table)} ORDER BY c.ordinal_position"
    )


def relkind_sql(schema: str, table: str) -> str:
    return (
        "SELECT c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = {literal(schema)} AND c.relname = {literal(table)}"
    )


def partitions_sql(schema: str, table: str) -> str:
    """Every partition below a partitioned table, at any level: schema, name and relkind."""
    return (
        "WITH RECURSIVE tree(oid) AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = {literal(schema)} AND c.relname = {literal(table)} "
        "UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid) "
        "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind, c.oid::bigint AS oid "
        "FROM tree t JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE NOT (n.nspname = {literal(schema)} AND c.relname = {literal(table)}) ORDER BY 1, 2"
    )


def source_column(row: Any) -> SourceColumn | None:
    """One catalog row as the export would map it; None for oid columns, which RDS does not export."""
    udt = str(row["udt_name"] or "")
    if udt == "oid":
        return None
    domain = row["domain_name"] is not None
    expected = _TEXT if domain else _NATIVE.get(udt, _TEXT)
    mapping = ColumnMapping(
        column_name=str(row["name"]),
        original_type=str(row["data_type"]),
        expected_exported_type=expected,
        char_max_length=row["char_len"],
        num_precision=row["num_precision"],
        datetime_precision=row["dt_precision"],
        num_scale=declared_scale(row["num_scale"]) if udt == "numeric" else None,
        udt_name=udt or None,
        domain_name=str(row["domain_name"]) if domain else None,
    )
    return SourceColumn(mapping, udt, domain)


@dataclass
class Window:
    """The rows a direct load reads: `cursor >= low` (None: no lower bound) and `cursor <= high`."""

    create: bool
    low: str | None  # the lower bound as text (lake format), inclusive
    high: str | None  # max(cursor) as PostgreSQL prints it, fixed when the load starts
    estimated_rows: int = 0
    partitions: int = 1
    to_text: str | None = None  # high in the lake's format (set once the cursor's cast is planned)
    # The window's min and max as Spark's range partitioning reads them (None: ranges do not apply).
    range_low: str | None = None
    range_high: str | None = None
    # The lower bound was taken below the lake's max minus the lookback, to rows committed late.
    widened: bool = False
    # A create's smallest cursor value read, as PostgreSQL prints it and in the lake's format: recorded
    # as the create's window start, so the next load can count the rows committed late during the read.
    first: str | None = None
    first_text: str | None = None

    def predicate(self, column: SourceColumn) -> str:
        cmp = column.compared()
        if self.high is None:
            # No cursor value yet: a create reads the rows without one; rows that get one wait.
            return f"{ident(column.name)} IS NULL" if self.create else "FALSE"
        upper = f"{cmp} <= {literal(self.high)}"
        if self.create:
            return f"({upper} OR {ident(column.name)} IS NULL)"
        if self.low is None:
            return f"({ident(column.name)} IS NOT NULL AND {upper})"
        return f"({cmp} >= {literal(source_text(column, self.low))} AND {upper})"

    def result(self) -> dict[str, Any]:
        return {"from": None if self.create else self.low, "to": self.to_text, "partitions": self.partitions,
                "estimatedRows": self.estimated_rows}

    def lineage(self) -> dict[str, Any]:
        """The window a commit records: a create's starts at the smallest cursor value it read."""
        return {"from": self.first_text if self.create else self.low, "to": self.to_text, "create": self.create}


class DirectRows:
    """The rows of a direct load: the source's columns, then the window's rows over JDBC."""

    name = "source over JDBC"

    def __init__(self, spark: "SparkSession", args: JobArgs) -> None:
        self.spark, self.args = spark, args
        self.conn: Connection = resolve(args, spark)
        self.columns: list[SourceColumn] = []
        # What the window reads: an ordinary table's own rows (ONLY, as the export reads it: rows of a
        # table inheriting from it are that table's, exported or excluded as itself); a partitioned
        # table's rows are its partitions'.
        self.source_rows = f"{ident(args.source_schema)}.{ident(args.source_table)}"
        self.window: Window | None = None
        self.warnings: list[str] = []

    # -- columns ------------------------------------------------------------------------------
    def mappings(self) -> list[ColumnMapping]:
        a = self.args
        rows = self.conn.collect(self.spark, catalog_sql(a.source_schema, a.source_table), "reading the table's columns")
        self.columns = [c for c in (source_column(r) for r in rows) if c is not None]
        if not self.columns:
            raise InvalidArgument(
                f"{self.conn.where}: table {a.source_schema}.{a.source_table} was not found in database "
                f"{a.source_database} (or user {self.conn.credentials.user!r} may not see its columns); check "
                "--source_schema/--source_table (names are case-sensitive) and the user's privileges"
            )
        kinds = self.conn.collect(self.spark, relkind_sql(a.source_schema, a.source_table), "reading the table's kind")
        if kinds and kinds[0]["kind"] == "r":
            self.source_rows = f"ONLY {self.source_rows}"
        elif kinds and kinds[0]["kind"] == "p" and self.conn.jdbc.known_partitions is not None:
            self.source_rows = self.checked_partitions()
        return [c.mapping for c in self.columns]

    def partition_tree(self) -> list[Any]:
        a = self.args
        return self.conn.collect(self.spark, partitions_sql(a.source_schema, a.source_table), "reading the table's partitions")

    def unchecked_partitions(self, tree: Sequence[Any]) -> list[str]:
        """The partitions of the table that the plan did not check against the exclude rules."""
        known = set(self.conn.jdbc.known_partitions or ())
        return [f"{r['schema']}.{r['name']}" for r in tree if f"{r['schema']}.{r['name']}" not in known]

    def refuse_unchecked(self, unchecked: Sequence[str], when: str) -> InvalidArgument:
        a = self.args
        named = ", ".join(unchecked[:10]) + (f" and {len(unchecked) - 10} more" if len(unchecked) > 10 else "")
        which = "partition" if len(unchecked) == 1 else "partitions"
        return InvalidArgument(
            f"table {a.target}: {which} {named} {when} after this cycle's plan checked the table's partitions against "
            "the exclude rules, so the table is not loaded (an excluded partition's rows never leave the database, "
            "and a partition's rows are never skipped silently); run the sync again: its plan checks the partitions "
            "as they are now"
        )

    def checked_partitions(self) -> str:
        """A partitioned table whose partitions the plan checked: its rows are read through the table, from
        those partitions alone (by their tableoid), so a partition attached since is never read, and SELECT on
        the table suffices, as for any read of it (a partition read by its own name needs its own grant); a
        table that has a partition the plan did not check is refused before anything is read."""
        tree = self.partition_tree()
        unchecked = self.unchecked_partitions(tree)
        if unchecked:
            raise self.refuse_unchecked(unchecked, "was attached to it" if len(unchecked) == 1 else "were attached to it")
        # An excluded column is never named to the source, not even inside the query the window reads from.
        policies = self.args.column_policies
        columns = ", ".join(ident(c.name) for c in self.columns
                            if not (c.name in policies and policies[c.name].exclude)) or "NULL AS lakesync_none"
        leaves = ",".join(str(int(r["oid"])) for r in tree if r["kind"] != "p")
        table = f"{ident(self.args.source_schema)}.{ident(self.args.source_table)}"
        return f"(SELECT {columns} FROM {table} WHERE tableoid = ANY ('{{{leaves}}}'::oid[])) AS lakesync_rows"

    def check_partitions_unchanged(self) -> None:
        """After the read: a partition attached while the window was read holds rows the read left out."""
        if self.conn.jdbc.known_partitions is None or self.source_rows.startswith("ONLY "):
            return
        unchecked = self.unchecked_partitions(self.partition_tree())
        if unchecked:
            raise self.refuse_unchecked(unchecked, "was attached to it while the window was read" if len(unchecked) == 1
                                        else "were attached to it while the window was read")

    def refusal(self, spark: "SparkSession", snapshot: str | None) -> LoadError | None:
        """Another source's table is refused; a direct load has no export lineage, so the older-export guard does not apply."""
        return lineage.other_source(self.args, lineage.lake_owner(spark, self.args, snapshot))

    def window_result(self) -> dict[str, Any] | None:
        return self.window.result() if self.window else None

    def upper_bound(self, plan: ColumnPlan) -> str | None:
        """The window's fixed upper bound in the lake's format (the watermark a commit reaches)."""
        if self.window is None:
            return None
        self.window.to_text = lake_value(self.spark, plan, self.window.high)
        if self.window.create:
            self.window.first_text = lake_value(self.spark, plan, self.window.first)
        return self.window.to_text

    def lineage_window(self) -> dict[str, Any] | None:
        return self.window.lineage() if self.window else None

    def column(self, name: str, arg: str) -> SourceColumn:
        for c in self.columns:
            if c.name == name:
                return c
        for c in self.columns:
            if c.name.lower() == name.lower():
                return c
        listed = ", ".join(c.name for c in self.columns[:20])
        raise InvalidArgument(f"--{arg} {name!r}: table {self.args.target} has no such column (columns: {listed}); "
                              "pass a column of the source table")

    def partition_column(self, name: str) -> SourceColumn:
        """The column to hash partitions on: by its source name, or by the lake name a rename gives it (as the cursor)."""
        if not any(c.name.lower() == name.lower() for c in self.columns):
            renamed = [p.column for p in self.args.column_policies.values() if p.rename and p.rename.lower() == name.lower()]
            if len(renamed) == 1:
                name = renamed[0]
        return self.column(name, "partition_column")

    def hash_column(self) -> SourceColumn | None:
        """The column of --partition_column, checked before anything is read whatever the partition count (a window
        read in one partition does not hash): one the table has, and not excluded. None without the argument."""
        name = self.conn.jdbc.partition_column
        if not name:
            return None
        column = self.partition_column(name)
        policy = self.args.column_policies.get(column.name)
        if policy is not None and policy.exclude:
            raise InvalidArgument(
                f"--partition_column {column.name!r}: table {self.args.target}'s column is excluded by its column "
                "policy, and excluded columns are never read, not even to hash partitions on; partition on another "
                "column, or leave --partition_column out"
            )
        return column

    def check_cursor(self, cursor: SourceColumn) -> None:
        """A cursor whose window PostgreSQL and the lake bound alike: refused before anything is read."""
        problem = cursor_order_problem(cursor.mapping.original_type)
        if problem is None:
            return
        raise InvalidArgument(
            f"--cursor_column {cursor.name!r}: table {self.args.target}'s column ({cursor.mapping.original_type}) "
            f"{problem}; {CURSOR_TYPES_FIX}"
        )

    # -- the window ---------------------------------------------------------------------------
    def fix_window(self, cursor: SourceColumn, cursor_lake: str, lake_types: dict[str, str], exists: bool,
                   ident_: str) -> Window:
        """The lower bound from the lake, the upper bound and the estimate from the source (one query)."""
        a, spark = self.args, self.spark
        low: str | None = None
        lake_max: str | None = None
        create = not exists
        widened = False
        if exists:
            lake_type = lake_types.get(cursor_lake)
            if lake_type is None:
                raise SchemaConflict(
                    f"table {a.target}: cursor column {cursor_lake!r} is not in the lake table {a.lake_table_id}; "
                    "load the table once from an export (or as a new lake table) so the lake has the column"
                )
            if a.cursor_lookback:
                check_lookback(a.cursor_lookback, cursor_lake, lake_type, a.target)
            lake_max = lake.max_value(spark, ident_, cursor_lake)
            if lake_max is not None:
                pinned = pinned_warning(lake_type, cursor_lake, lake_max, datetime.now(timezone.utc).date())
                if pinned:
                    log.warning("%s: %s", a.lake_table_id, pinned)
                    self.warnings.append(pinned)
                bound = lower_bound(lake_type, lake_max, a.cursor_lookback or default_lookback(lake_type))
                low = format_value(spark, spark.sql(f"SELECT {bound} AS v")) if bound else None
                if low is not None and below_range(cursor, low):
                    low = None  # the lookback reaches below every value the column can hold (or PostgreSQL reads)
            elif lake.row_count(spark, ident_) == 0:
                create = True  # an empty lake table: read as a create would
            if low is not None and not create:
                widened_low = self.late_rows_low(cursor, cursor_lake, lake_type, ident_, low, lake_max)
                widened, low = widened_low != low, widened_low
        cmp = cursor.compared()
        table = f"{ident(a.source_schema)}.{ident(a.source_table)}"
        window = Window(create, low, None, widened=widened)
        where = "" if create or low is None else f" WHERE {cmp} >= {literal(source_text(cursor, low))}"
        if create:
            estimate = (f"(SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE (SELECT count(*) FROM {self.source_rows}) "
                        f"END FROM pg_class c WHERE c.oid = to_regclass({literal(table)}))")
        else:
            estimate = "count(*)"
        lo, hi = _bound_text(cursor, f"min({cmp})", "floor"), _bound_text(cursor, f"max({cmp})", "ceil")
        # Whether the source's max lies below the lake's (no row at or above the lower bound counts so too).
        behind = ("FALSE" if lake_max is None or low is None
                  else f"coalesce(max({cmp}) < {literal(source_text(cursor, lake_max))}, TRUE)")
        sql = (f"SELECT max({cmp})::text AS high, min({cmp})::text AS first, {lo} AS lo, {hi} AS hi, {estimate}::bigint AS n, {behind} AS behind "
               f"FROM {self.source_rows}{where}")
        row = self.conn.collect(spark, sql, "fixing the window's upper bound")[0]
        if row["behind"] and lake_max is not None and low is not None:
            went_back = cursor_went_back(cursor_lake, lake_max, row["high"], low)
            log.warning("%s: %s", a.lake_table_id, went_back)
            self.warnings.append(went_back)
        window.high = row["high"]
        window.first = row["first"]
        window.estimated_rows = int(row["n"] or 0)
        window.range_low, window.range_high = row["lo"], row["hi"]
        self.window = window
        log.info("%s: direct window from %s to %s (%s), about %d rows", a.lake_table_id, window.low, window.high,
                 "create" if create else "incremental", window.estimated_rows)
        return window

    def late_rows_low(self, cursor: SourceColumn, cursor_lake: str, lake_type: str, ident_: str, low: str,
                      lake_max: str | None = None) -> str:
        """The lower bound, taken down to the start of the oldest of the last windows (horizon()) when rows
        were committed into their range after they read it, below this window's bound (a transaction longer than the lookback): the source
        holds more rows there than the lake, so that part is read again (rows the lake holds are not added
        twice) and the late rows are loaded, with a warning to lengthen the lookback."""
        from .window import kind as cursor_kind

        a, spark = self.args, self.spark
        if cursor_kind(lake_type) == "other" or not (cursor.kind in _RANGE_NUMERIC or cursor.kind in _RANGE_TEMPORAL):
            return low
        previous, from_create = self.horizon(ident_, cursor_lake)
        if previous is None or below_range(cursor, previous):
            return low
        lake_col = ident_spark(cursor_lake)
        typed = lambda v: f"CAST({sql_string(v)} AS {lake_type})"  # noqa: E731 - one expression
        in_lake = int(spark.sql(f"SELECT count(*) AS n FROM {ident_} WHERE {lake_col} >= {typed(previous)} "
                                f"AND {lake_col} < {typed(low)}").collect()[0]["n"])
        cmp = cursor.compared()
        sql = (f"SELECT count(*) AS n FROM {self.source_rows} WHERE {cmp} >= {literal(source_text(cursor, previous))} "
               f"AND {cmp} < {literal(source_text(cursor, low))}")
        in_source = int(self.conn.collect(spark, sql, "counting the rows below the window")[0]["n"] or 0)
        rebuild = (f"set tables.\"{a.source_schema}.{a.source_table}\".extract: export, run {lineage.rebuild_command(a)}, "
                   "then set extract: direct again")
        if in_source < in_lake and a.cursor_mode != "upsert" and from_create:
            # The create's whole range holds the oldest rows, which a retention job deletes; it keeps the newest,
            # so a source whose max fell below the lake's was truncated and refilled (its new rows below the lake's
            # max would never be read).
            source_max = self.source_below(cursor, lake_max)
            if source_max is not False:
                raise SourceRewritten(
                    f"table {a.target}: cursor column {cursor_lake!r}: the source holds {in_source} row(s) with a cursor "
                    f"value from {previous} to below {low}, the range the create read, where the lake table "
                    f"{a.lake_table_id} holds {in_lake}, and its largest value is {source_max or 'none'}, below the "
                    f"lake's max {lake_max}: the table was truncated and refilled (or its newest rows deleted), so "
                    "rows below the lake's max would never be read; the table is not loaded. If the source's rows "
                    f"were replaced, rebuild the lake table: {rebuild}")
            pruned = (f"cursor column {cursor_lake!r}: the source holds {in_source} row(s) with a cursor value from "
                      f"{previous} to below {low}, the range the create read, {in_lake - in_source} fewer than the lake "
                      f"table {a.lake_table_id}: rows deleted from the source since (a retention job) stay in the lake; "
                      f"if the table was truncated and refilled, rebuild the lake table: {rebuild}")
            log.warning("%s: %s", a.lake_table_id, pruned)
            self.warnings.append(pruned)
            return low
        if in_source < in_lake and a.cursor_mode != "upsert":
            # Appended rows keep their cursor value, so fewer of them in the last windows' range means recent
            # rows were removed (an upserted row updated since has a newer cursor value: it left this range,
            # which tells nothing).
            raise SourceRewritten(
                f"table {a.target}: cursor column {cursor_lake!r}: the source holds {in_source} row(s) with a cursor "
                f"value from {previous} to below {low}, the range the last windows read, where the lake table "
                f"{a.lake_table_id} holds {in_lake}: rows the lake loaded were deleted from the source, or the table "
                "was truncated and refilled, so later windows would load it wrong (rows lost, or loaded twice); the "
                f"table is not loaded. If the source's rows were replaced, rebuild the lake table: {rebuild}")
        if in_source == in_lake:
            return low
        upsert = a.cursor_mode == "upsert"
        if upsert and in_source < in_lake:
            # An update moves a row out of this range (its new cursor value is at or past this window's bound; a
            # late update that lands in the range is a late row), as a delete does: in upsert mode the counts prove
            # late rows only when the source holds more, and then at least the difference (an update and a late
            # row in the range net out). Exact would mean comparing keys: every key of the last windows (after a
            # create, the whole table) read over JDBC on every load.
            return low
        counted = f"at least {in_source - in_lake}" if upsert else str(in_source - in_lake)
        late = (f"cursor column {cursor_lake!r}: {counted} row(s) with a cursor value from {previous} to "
                f"below {low} were committed after an earlier window read that range (their transactions took "
                f"longer than the lookback), so this window reads from {previous} again to load them; lengthen "
                "tables.<table>.cursor.lookback to the longest transaction that writes the table")
        log.warning("%s: %s", a.lake_table_id, late)
        self.warnings.append(late)
        return previous

    def source_below(self, cursor: SourceColumn, lake_max: str | None) -> str | None | bool:
        """The source's max(cursor) when it lies below the lake's max (None: the source has no cursor value),
        else False."""
        if lake_max is None:
            return False
        cmp = cursor.compared()
        sql = (f"SELECT max({cmp})::text AS high, coalesce(max({cmp}) < {literal(source_text(cursor, lake_max))}, TRUE) "
               f"AS behind FROM {self.source_rows}")
        row = self.conn.collect(self.spark, sql, "reading the source's largest cursor value")[0]
        return row["high"] if row["behind"] else False

    def horizon(self, ident_: str, cursor_lake: str) -> tuple[str | None, bool]:
        """The start of the oldest of the last LATE_ROWS_WINDOWS windows the lake recorded (a create's only
        when it is the last one, so its whole range is counted once): the late-row count starts there; and
        whether it is the create's. An export load read the whole table as its snapshot held it, like a
        create: when it is the last load, the count starts at the lake's smallest cursor value."""
        rows = self.spark.sql(
            f"SELECT summary['{lineage.WINDOW_FROM}'] AS f, summary['{lineage.WINDOW_CREATE}'] AS c, "
            f"summary['{lineage.EXTRACT}'] IS NULL AS export "
            f"FROM {ident_}.snapshots WHERE (summary['{lineage.EXTRACT}'] = 'direct' "
            f"AND summary['{lineage.WINDOW_TO}'] IS NOT NULL) OR (summary['{lineage.EXTRACT}'] IS NULL "
            f"AND summary['{lineage.EXPORT_ID}'] IS NOT NULL) ORDER BY committed_at DESC LIMIT 100").collect()
        starts: list[str] = []
        for number, row in enumerate(rows):
            if row["export"]:
                if starts:
                    break  # an export load before the last windows: its whole range is not counted again
                return lake.min_value(self.spark, ident_, cursor_lake), True
            if number and (row["f"], row["c"]) == (rows[number - 1]["f"], rows[number - 1]["c"]):
                continue  # another commit of the same load
            if row["f"] is None or (row["c"] == "true" and starts):
                break  # a window without a start, or an earlier create: its whole range is not counted again
            starts.append(row["f"])
            if row["c"] == "true":
                return row["f"], True
            if len(starts) == LATE_ROWS_WINDOWS:
                break
        return (starts[-1] if starts else None), False

    # -- the read -----------------------------------------------------------------------------
    def read(self, kept: Sequence[ColumnMapping], cursor_name: str, cursor_lake: str, lake_types: dict[str, str],
             exists: bool, ident_: str) -> "DataFrame":
        a, spark = self.args, self.spark
        jdbc = self.conn.jdbc
        cursor = self.column(cursor_name, "cursor_column")
        self.check_cursor(cursor)
        self.hash_column()
        window = self.fix_window(cursor, cursor_lake, lake_types, exists, ident_)
        wanted = [self.column(m.column_name, "column_policies") for m in kept]
        n = jdbc.partitions or default_partitions(window.estimated_rows)
        part, spec = self.partitioning(cursor, window, n)
        # Positional aliases: Spark's PostgreSQL dialect quotes the names it selects from the subquery
        # without doubling an embedded `"`, so real names go back on in Spark, not in SQL.
        selects = [f"{c.select()} AS c{i}" for i, c in enumerate(wanted)]
        if part:
            selects.append(f"{part} AS {PART}")
        sql = f"(SELECT {', '.join(selects)} FROM {self.source_rows} WHERE {window.predicate(cursor)}) AS lakesync_window"
        try:
            if "predicates" in spec:
                props = {k: v for k, v in self.conn.options().items() if k != "url"}
                frame = spark.read.jdbc(jdbc.url, sql, predicates=spec["predicates"], properties=props)
            else:
                frame = spark.read.format("jdbc").options(**self.conn.options(), dbtable=sql, **spec).load()
            window.partitions = frame.rdd.getNumPartitions()
        except Exception as exc:  # noqa: BLE001 - a clear, password-free error
            raise self.conn.failure(exc, "reading the window") from None
        if part:
            frame = frame.drop(PART)
        # The export's Spark types exactly (e.g. smallint as the export's int), so the casts see the same input.
        frame = frame.select(*[frame[f"c{i}"].cast(exported_spark_type(c.mapping.expected_exported_type))
                               .alias(c.name) for i, c in enumerate(wanted)])
        kept = self.kept(frame)
        try:
            self.check_partitions_unchanged()
        except Exception:
            kept.unpersist()
            raise
        if window.create and cursor in wanted:
            self.warn_null_cursors(cursor, kept)
        return kept

    def warn_null_cursors(self, cursor: SourceColumn, kept: "DataFrame") -> None:
        """A create reads the rows without a cursor value; no later window does (counted on the kept copy)."""
        nulls = kept.where(kept[cursor.name].isNull()).count()
        if not nulls:
            return
        a = self.args
        warning = (f"cursor column {cursor.name!r}: {nulls} row(s) have no cursor value (NULL); this create loaded them, "
                   "but an incremental window never reads a row whose cursor is NULL, so rows inserted later without "
                   "one are never read (and a row whose cursor is set after this create is read again as a new row); "
                   f"give every row a cursor value and make the column NOT NULL (ALTER TABLE "
                   f"{ident(a.source_schema)}.{ident(a.source_table)} ALTER COLUMN {ident(cursor.name)} SET NOT NULL), "
                   "or pick another cursor column")
        log.warning("%s: %s", a.lake_table_id, warning)
        self.warnings.append(warning)

    def kept(self, frame: "DataFrame") -> "DataFrame":
        """The window read once and kept (memory, spilling to disk): every later pass (scale inference,
        casts, keys, the write) reads this copy, not the source again."""
        from pyspark import StorageLevel

        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            frame.count()
        except Exception as exc:  # noqa: BLE001 - a clear, password-free error
            frame.unpersist()
            raise self.conn.failure(exc, "reading the window") from None
        return frame

    def partitioning(self, cursor: SourceColumn, window: Window, n: int) -> tuple[str | None, dict[str, Any]]:
        """The extra column and Spark JDBC options that split the window into n partitions.

        Ranges of the cursor (Spark's partitionColumn/lowerBound/upperBound) for numeric and temporal
        cursors; otherwise, or with --partition_column, hashes (`predicates`, as Glue's
        hashfield/hashpartitions): each row in exactly one partition, NULLs in the first.
        """
        if n <= 1:
            return None, {}
        jdbc = self.conn.jdbc
        if not jdbc.partition_column:
            ranges = range_bounds(cursor, window)
            if ranges is not None:
                low, high = ranges
                return ident(cursor.name), {"partitionColumn": PART, "lowerBound": low, "upperBound": high,
                                            "numPartitions": str(n)}
        column = self.hash_column() or cursor
        hashed = f"coalesce(mod(abs(hashtext(({ident(column.name)})::text)::bigint), {n}), 0)"
        return hashed, {"predicates": [f"{PART} = {i}" for i in range(n)]}



def source_text(cursor: SourceColumn, value: str) -> str:
    """A lake value of the cursor as PostgreSQL reads it: Spark writes a year past 9999 with its sign
    (+20240-05-01), which PostgreSQL takes for a time zone; without the sign it is that year."""
    if cursor.kind in _RANGE_TEMPORAL and re.match(r"\+\d{5,}-", value):
        return value[1:]
    return value


def below_range(cursor: SourceColumn, low: str) -> bool:
    """Whether the cursor's lower bound lies below the smallest value of the column's type: an integer
    type's minimum, or for dates and times the year 1 (the lake writes the years before it as 0000, -0001, ...,
    which PostgreSQL does not read)."""
    if cursor.kind in _RANGE_TEMPORAL:
        return low.startswith(("-", "0000"))
    smallest = _INTEGRAL_MIN.get(cursor.kind)
    return smallest is not None and re.fullmatch(r"-?\d+", low) is not None and int(low) < smallest


def cursor_went_back(cursor: str, lake_max: str, source_max: str | None, low: str) -> str:
    """The warning of a window whose source max lies below the lake's: rows below the window are never read."""
    source = f"is {source_max}" if source_max is not None else f"lies below {low}"
    return (f"cursor column {cursor!r}: the source's largest value {source}, below the lake's max {lake_max}: the "
            "cursor went back (rows were deleted, or a sequence or clock restarted), so every window starts at the "
            "lake's max and source rows with a smaller cursor value are not read; if the source's rows were replaced, "
            "load the table once from an export (extract: export) so the lake follows the source")


def range_bounds(cursor: SourceColumn, window: Window) -> tuple[str, str] | None:
    """Spark's bounds for range partitions over the window, or None when ranges do not apply."""
    lo, hi = window.range_low, window.range_high
    if not lo or not hi:
        return None
    if cursor.kind in _RANGE_NUMERIC:
        if not (re.fullmatch(r"-?\d+", lo) and re.fullmatch(r"-?\d+", hi)):
            return None  # NaN or infinity: hashes instead
        return (lo, hi) if -_LONG <= int(lo) <= int(hi) <= _LONG else None
    if cursor.kind in _RANGE_TEMPORAL:
        try:
            low, high = datetime.fromisoformat(lo), datetime.fromisoformat(hi)
        except ValueError:
            return None  # a year Spark cannot hold
        return (lo, hi) if low <= high else None
    return None


def ident_spark(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _bound_text(cursor: SourceColumn, aggregate: str, rounding: str) -> str:
    """SQL of a partition bound as Spark reads it (integers; `YYYY-MM-DD[ HH:MM:SS.ffffff]`), else NULL."""
    if cursor.kind in _INTEGRAL:
        return f"({aggregate})::text"
    if cursor.kind in ("float32", "float64", "numeric"):
        return (f"CASE WHEN {aggregate} IN ('NaN', 'Infinity', '-Infinity') THEN NULL "
                f"ELSE {rounding}({aggregate}::numeric)::text END")
    if cursor.kind == "date":
        return f"CASE WHEN isfinite({aggregate}) THEN to_char({aggregate}, 'YYYY-MM-DD') END"
    if cursor.kind in ("timestamp", "timestamptz"):
        return f"CASE WHEN isfinite({aggregate}) THEN to_char({aggregate}, 'YYYY-MM-DD HH24:MI:SS.US') END"
    return "NULL::text"


def lake_value(spark: "SparkSession", plan: ColumnPlan, pg_text: str | None) -> str | None:
    """A cursor value as PostgreSQL prints it, in the lake's format (as lake.max_value gives it)."""
    if pg_text is None:
        return None
    from pyspark.sql.types import StringType, StructField, StructType

    one = spark.createDataFrame([(pg_text,)], StructType([StructField("v", StringType(), True)]))
    raw = one.selectExpr(f"CAST(v AS {plan.raw_type}) AS {ident_spark(plan.source_name)}")
    return format_value(spark, raw.selectExpr(f"{plan.expr} AS v"))
