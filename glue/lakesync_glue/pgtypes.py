"""PostgreSQL types back from the RDS export encoding: pure planning, no Spark.

RDS writes integers, floats, booleans and bytea as native Parquet types and nearly
everything else (numeric, money, date, time, timestamp, interval, json, uuid, arrays,
enums) as UTF-8 strings. For each column this module decides the lake type and the
Spark SQL that turns the exported value into it, plus a predicate that is true for a
value the cast cannot represent exactly, so a bad value fails the table instead of
silently becoming NULL. README.md ("Casts") documents the choices.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .names import quote, sql_string
from .pgfloat import float_text

MAX_DECIMAL_PRECISION = 38
# Unbounded numeric: PostgreSQL allows any precision; the lake gets a fixed, wide decimal.
UNBOUNDED_NUMERIC = (38, 18)
MONEY_TYPE = "decimal(19,2)"  # money is a 64-bit count of cents

# Sentinels for PostgreSQL's +-infinity dates and timestamps (documented in README.md).
DATE_POS_INF, DATE_NEG_INF = "9999-12-31", "0001-01-01"
TS_POS_INF, TS_NEG_INF = "9999-12-31 23:59:59.999999", "0001-01-01 00:00:00"
DATE_POS_SQL, DATE_NEG_SQL = f"DATE'{DATE_POS_INF}'", f"DATE'{DATE_NEG_INF}'"
TS_POS_SQL, TS_NEG_SQL = f"TIMESTAMP_NTZ'{TS_POS_INF}'", f"TIMESTAMP_NTZ'{TS_NEG_INF}'"
TSTZ_POS_SQL, TSTZ_NEG_SQL = f"try_cast('{TS_POS_INF}Z' AS TIMESTAMP)", f"try_cast('{TS_NEG_INF}Z' AS TIMESTAMP)"

_NUMBER_RE = "^-?[0-9]+([.][0-9]+)?$"
_DATE_RE = "^[0-9]{4,}-[0-9]{2}-[0-9]{2}$"
_TS_BODY = "[0-9]{4,}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?"
_OFFSET = "([+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2})?)?|Z)"
_TS_RE = f"^{_TS_BODY}$"
_TSTZ_RE = f"^{_TS_BODY}{_OFFSET}?$"
_MONEY_RE = (
    "^[(]?-?[(]?[^0-9.,()-]{0,8}-?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)([.][0-9]{1,2})?[^0-9.,()-]{0,8}[)]?$"
)
_BYTEA_HEX_RE = "^[\\\\]x([0-9a-fA-F]{2})*$"

# A check written over the cast value: SQL of the value (the plan's expr, or a column holding it) -> predicate.
ValueCheck = Callable[[str], str]


def declared_scale(scale: int | None) -> int | None:
    """The scale numeric(p,s) declares, from information_schema's `numeric_scale`.

    PostgreSQL 15+ allows negative scales (numeric(5,-2)), which information_schema reports as the
    scale's 11 bits of the type modifier (2046 for -2); declared scales lie within -1000..1000.
    """
    if scale is None or -1000 <= scale <= 1000:
        return scale
    return ((scale & 2047) ^ 1024) - 1024


@dataclass(frozen=True)
class ColumnMapping:
    """One `originalTypeMappings[]` entry of export_tables_info."""

    column_name: str
    original_type: str
    expected_exported_type: str
    char_max_length: int | None = None
    num_precision: int | None = None
    datetime_precision: int | None = None
    # Not written by RDS; honoured when an exporter adds it (e.g. the embedded one).
    num_scale: int | None = None
    # Not written by RDS either: the type's udt name (`_int4` for integer[]), the element type of arrays.
    udt_name: str | None = None
    # Not written by RDS either: the domain a column is declared with (its base type is original_type).
    domain_name: str | None = None

    @staticmethod
    def from_json(entry: dict[str, Any]) -> "ColumnMapping":
        def as_int(key: str) -> int | None:
            value = entry.get(key)
            if value is None or value == "":
                return None
            try:
                return int(value)
            except (TypeError, ValueError):
                return None

        return ColumnMapping(
            column_name=str(entry["columnName"]),
            original_type=str(entry.get("originalType", "")),
            expected_exported_type=str(entry.get("expectedExportedType", "")),
            char_max_length=as_int("originalCharMaxLength"),
            num_precision=as_int("originalNumPrecision"),
            datetime_precision=as_int("originalDateTimePrecision"),
            num_scale=declared_scale(as_int("originalNumScale")),
            udt_name=str(entry.get("originalUdtName") or "") or None,
            domain_name=str(entry.get("originalDomainName") or "") or None,
        )


@dataclass(frozen=True)
class ColumnPlan:
    """How one exported column becomes a lake column."""

    source_name: str  # as the export names it
    name: str  # the lake's (lowercase) name
    pg_type: str
    kind: str
    raw_type: str  # Spark type of the exported Parquet column
    lake_type: str  # Spark SQL type of the lake column
    expr: str  # SQL turning the raw column into the lake value
    bad: str | None  # SQL predicate: the value cannot be represented (fails the table)
    expectation: str  # what a valid value looks like, for error messages
    scale_unknown: bool = False  # bounded numeric whose scale must come from the lake or the data
    # The lake column's decimal type was a guess (created while it held no value) and it still holds
    # none: the column is replaced by one of the type its values need (schema.plan_schema).
    replaces_empty: bool = False
    precision: int | None = None
    nulled: str | None = None  # SQL predicate: a value onInvalid 'null' sets NULL (counted in the result)
    clamped: str | None = None  # SQL predicate: a +-infinity the plan clamps to a sentinel (counted)
    on_invalid: str = "fail"  # what a value the lake type cannot hold becomes: fail | null | clamp
    # `bad` as a function of the cast value (bad == bad_of_value(expr)), for callers that hold the value already.
    bad_of_value: ValueCheck | None = field(default=None, compare=False, repr=False)

    def bad_given(self, value: str) -> str | None:
        """`bad` over `value`, SQL that already holds this plan's cast value, so the check casts nothing again.

        A plan without such a check, or one derived from another by replace() whose check no
        longer gives `bad`, keeps `bad` whole (correct, only slower).
        """
        check = self.bad_of_value
        if self.bad is None or check is None or check(self.expr) != self.bad:
            return self.bad
        return check(value)


def type_base(original_type: str) -> str:
    """A PostgreSQL type name without its type modifiers, lower case: 'character varying(20)' -> 'character varying'."""
    base = re.sub(r"\([^)]*\)", "", original_type.strip().lower())
    return re.sub(r"\s+", " ", base).strip()


def pg_kind(original_type: str) -> tuple[str, int | None, int | None]:
    """(kind, first type parameter, second type parameter) of a PostgreSQL type name."""
    text = original_type.strip().lower()
    params = re.search(r"\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?\)", text)
    p1 = int(params.group(1)) if params else None
    p2 = int(params.group(2)) if params and params.group(2) is not None else None
    base = type_base(text)
    if base.endswith("[]") or base == "array" or (base.startswith("_") and len(base) > 1):
        return "array", p1, p2
    table = {
        ("smallint", "int2", "smallserial", "serial2"): "int16",
        ("integer", "int", "int4", "serial", "serial4"): "int32",
        ("bigint", "int8", "bigserial", "serial8"): "int64",
        ("real", "float4"): "float32",
        ("double precision", "float8", "float"): "float64",
        ("boolean", "bool"): "bool",
        ("bytea",): "bytes",
        ("numeric", "decimal"): "numeric",
        ("money",): "money",
        ("date",): "date",
        ("timestamp", "timestamp without time zone"): "timestamp",
        ("timestamptz", "timestamp with time zone"): "timestamptz",
        ("time", "time without time zone"): "time",
        ("timetz", "time with time zone"): "timetz",
        ("json", "jsonb"): "json",
        ("uuid",): "uuid",
        ("user-defined",): "user-defined",
    }
    for names, kind in table.items():
        if base in names:
            return kind, p1, p2
    if base.startswith("interval"):
        return "interval", p1, p2
    return "text", p1, p2


def exported_spark_type(expected_exported_type: str) -> str:
    """Spark type RDS's `expectedExportedType` reads as (for exports without data files)."""
    text = expected_exported_type.strip().lower()
    if "utf8" in text or "string" in text:
        return "string"
    return {
        "int32": "int",
        "int64": "bigint",
        "double": "double",
        "float": "float",
        "boolean": "boolean",
        "binary": "binary",
        "int96": "timestamp",
    }.get(text, "string")


def _strictly(raw: str, valid_regex: str | None = None) -> ValueCheck:
    """Predicate over the converted value: a non-null raw value that fails the format or converts to NULL."""
    form = f"NOT {raw} RLIKE {sql_string(valid_regex)} OR " if valid_regex is not None else ""
    return lambda converted: f"({raw} IS NOT NULL AND ({form}({converted}) IS NULL))"


def decimal_params(lake_type: str) -> tuple[int, int]:
    """(precision, scale) of a Spark type written decimal(p,s)."""
    precision, scale = (int(x) for x in lake_type[len("decimal("):-1].split(","))
    return precision, scale


def numeric_plan(mapping: ColumnMapping, name: str, raw_type: str, precision: int, scale: int) -> ColumnPlan:
    """numeric(p,s) as decimal(p,s); the value must fit exactly (no rounding, no overflow)."""
    if scale < 0:  # PostgreSQL 15+: numeric(5,-2) holds integers of up to 7 digits
        precision, scale = precision - scale, 0
    precision = max(1, min(max(precision, scale), MAX_DECIMAL_PRECISION))  # numeric(2,5): decimal(5,5)
    scale = min(scale, precision)
    lake_type = f"decimal({precision},{scale})"
    raw = quote(mapping.column_name)
    if raw_type != "string":
        converted = f"try_cast({raw} AS {lake_type})"
        strictly = _strictly(raw)
        return ColumnPlan(mapping.column_name, name, mapping.original_type, "numeric", raw_type, lake_type,
                          converted, strictly(converted), f"a number that fits {lake_type}", precision=precision,
                          bad_of_value=strictly)
    converted = f"try_cast({raw} AS {lake_type})"
    rounds = rounds_fraction(raw, scale)

    # Too many integer digits need no test of their own: with no fraction digit lost, the cast
    # of a value beyond decimal(p,s) is NULL.
    def check(value: str) -> str:
        return f"({raw} IS NOT NULL AND (NOT {raw} RLIKE {sql_string(_NUMBER_RE)} OR {value} IS NULL OR {rounds}))"

    expectation = (
        f"a number with at most {precision - scale} integer and {scale} fractional digits ({lake_type}); "
        "NaN and Infinity have no decimal form"
    )
    return ColumnPlan(mapping.column_name, name, mapping.original_type, "numeric", raw_type, lake_type,
                      converted, check(converted), expectation, precision=precision, bad_of_value=check)


def rounds_fraction(raw: str, scale: int) -> str:
    """SQL predicate: a value matching _NUMBER_RE has more significant fraction digits than scale.

    The cast to decimal(p,s) would round them away. The usual value (PostgreSQL prints exactly
    the column's scale) is settled by its length alone; only a longer fraction has its trailing
    zeros trimmed and counted, a string copy per value.
    """
    point = f"instr({raw}, '.')"
    significant = f"length(TRIM(TRAILING '0' FROM substring_index({raw}, '.', -1)))"
    return f"({point} > 0 AND octet_length({raw}) - {point} > {scale} AND {significant} > {scale})"


def is_number_expr(raw_name: str) -> str:
    """SQL predicate: the value is a plain decimal number, as PostgreSQL prints numeric values."""
    return f"{quote(raw_name)} RLIKE {sql_string(_NUMBER_RE)}"


def fraction_digits_expr(raw_name: str) -> str:
    """SQL: the number of fractional digits of a value for which is_number_expr holds."""
    raw = quote(raw_name)
    return f"CASE WHEN instr({raw}, '.') > 0 THEN length({raw}) - instr({raw}, '.') ELSE 0 END"


def infer_scale_expr(raw_name: str) -> str:
    """SQL aggregate: the largest number of fractional digits among well-formed values.

    PostgreSQL prints a numeric(p,s) value with exactly s fractional digits, so this is s
    for any column with at least one value.
    """
    return f"max(CASE WHEN {is_number_expr(raw_name)} THEN {fraction_digits_expr(raw_name)} END)"


def fallback_numeric_type(precision: int) -> tuple[int, int]:
    """decimal for a bounded numeric with no scale information and no values yet.

    Wide enough for every scale 0..p when p <= 19, so a later load always fits.
    """
    p = max(1, min(precision, MAX_DECIMAL_PRECISION))
    if 2 * p <= MAX_DECIMAL_PRECISION:
        return 2 * p, p
    return MAX_DECIMAL_PRECISION, MAX_DECIMAL_PRECISION - p


def plan_column(mapping: ColumnMapping, name: str, raw_type: str, clamp_infinity: bool = True,
                utc_session: bool = False) -> ColumnPlan:
    """The cast plan of one column, from its mapping and the Spark type the export reads as.

    clamp_infinity: PostgreSQL's +-infinity dates and timestamps become the sentinels (the
    default, onInvalid 'clamp'); without it they are values the lake type cannot hold.
    utc_session: the plan runs in a session whose time zone is UTC (session.common_conf sets
    it), where a timestamptz at offset +00 takes a cheaper, equally exact cast.
    """
    kind, p1, p2 = pg_kind(mapping.original_type)
    raw = quote(mapping.column_name)
    pg = mapping.original_type
    infinities = f"{raw} IN ('infinity', '-infinity')"

    def plan(lake_type: str, expr: str, check: ValueCheck | None, expectation: str) -> ColumnPlan:
        clamps = clamp_infinity and raw_type == "string" and kind in ("date", "timestamp", "timestamptz")
        return ColumnPlan(mapping.column_name, name, pg, kind, raw_type, lake_type, expr,
                          check(expr) if check else None, expectation, clamped=infinities if clamps else None,
                          on_invalid="clamp" if clamps else "fail", bad_of_value=check)

    def infinity_branches(positive: str, negative: str) -> str:
        """Without clamping, 'infinity' matches no branch: it converts to NULL, i.e. a bad value."""
        if not clamp_infinity:
            return ""
        return f"WHEN {raw} = 'infinity' THEN {positive} WHEN {raw} = '-infinity' THEN {negative} "

    def native(lake_type: str) -> ColumnPlan:
        if raw_type == lake_type:
            return plan(lake_type, raw, None, f"a {lake_type}")
        converted = f"try_cast({raw} AS {lake_type})"
        return plan(lake_type, converted, _strictly(raw), f"a {lake_type}")

    if kind in ("int16", "int32"):
        return native("int")
    if kind == "int64":
        return native("bigint")
    if kind == "float32":
        return native("float")
    if kind == "float64":
        return native("double")
    if kind == "bool":
        return native("boolean")
    if kind == "bytes":
        if raw_type == "string":  # bytea as text: PostgreSQL's hex format \x0a1b...
            converted = f"unhex(substring({raw}, 3))"
            return plan("binary", converted, _strictly(raw, _BYTEA_HEX_RE), "bytea hex text (\\x...)")
        return native("binary")
    if kind == "numeric":
        if raw_type.startswith("decimal"):
            m = re.match(r"decimal\((\d+),(\d+)\)", raw_type)
            if m:
                return numeric_plan(mapping, name, raw_type, int(m.group(1)), int(m.group(2)))
        precision = p1 if p1 is not None else mapping.num_precision
        scale = p2 if p2 is not None else mapping.num_scale
        if precision is None or precision <= 0:
            return numeric_plan(mapping, name, raw_type, *UNBOUNDED_NUMERIC)
        if scale is None:
            base = numeric_plan(mapping, name, raw_type, precision, 0)
            return replace(base, scale_unknown=True)
        if precision > MAX_DECIMAL_PRECISION:
            # Keep the declared scale; only values with few enough integer digits fit.
            return numeric_plan(mapping, name, raw_type, MAX_DECIMAL_PRECISION, min(scale, MAX_DECIMAL_PRECISION))
        return numeric_plan(mapping, name, raw_type, precision, scale)
    if kind == "money":
        if raw_type != "string":
            return native(MONEY_TYPE)
        digits = f"try_cast({money_digits(raw)} AS {MONEY_TYPE})"
        converted = f"CASE WHEN {money_negative(raw)} THEN -{digits} ELSE {digits} END"
        return plan(MONEY_TYPE, converted, _strictly(raw, _MONEY_RE),
                    "money text such as $1,234.56 or -$0.50 (2 fractional digits)")
    if kind == "date":
        if raw_type != "string":
            return native("date")
        converted = (
            f"CASE {infinity_branches(DATE_POS_SQL, DATE_NEG_SQL)}"
            f"WHEN {raw} RLIKE {sql_string(_DATE_RE)} THEN try_cast({raw} AS DATE) END"
        )
        return plan("date", converted, _strictly(raw),
                    "a date YYYY-MM-DD (years before 1 AD have no lake form)")
    if kind == "timestamp":
        if raw_type != "string":
            return native("timestamp_ntz")
        converted = (
            f"CASE {infinity_branches(TS_POS_SQL, TS_NEG_SQL)}"
            f"WHEN {raw} RLIKE {sql_string(_TS_RE)} THEN try_cast({raw} AS TIMESTAMP_NTZ) END"
        )
        return plan("timestamp_ntz", converted, _strictly(raw),
                    "a timestamp YYYY-MM-DD HH:MM:SS[.ffffff] without offset")
    if kind == "timestamptz":
        if raw_type != "string":
            return native("timestamp")
        # A value without an offset is read as UTC, independent of the session time zone.
        # Within a _TSTZ_RE match an offset is a trailing Z, a '+', or a '-' after the time's first ':'
        # (the date's '-' come before it): string searches instead of a second regular expression.
        has_offset = f"({raw} LIKE '%Z' OR instr({raw}, '+') > 0 OR locate('-', {raw}, instr({raw}, ':')) > 0)"
        with_offset = f"CASE WHEN {has_offset} THEN {raw} ELSE concat({raw}, 'Z') END"
        parsed = f"try_cast({with_offset} AS TIMESTAMP)"
        if utc_session:
            # The usual offset, +00 (RDS prints timestamptz in UTC unless the database's time zone
            # says otherwise), skips Spark's per-value zone handling: in a UTC session the text
            # before it, read without an offset, is the instant. Within a _TSTZ_RE match a trailing
            # +00 is always the offset and its '+' the only one, so substring_index cuts the text
            # before it (substring would count characters, several times the cost).
            utc_wall = f"try_cast(substring_index({raw}, '+', 1) AS TIMESTAMP)"
            parsed = f"CASE WHEN {raw} LIKE '%+00' THEN {utc_wall} ELSE {parsed} END"
        converted = (
            f"CASE {infinity_branches(TSTZ_POS_SQL, TSTZ_NEG_SQL)}"
            f"WHEN {raw} RLIKE {sql_string(_TSTZ_RE)} THEN {parsed} END"
        )
        return plan("timestamp", converted, _strictly(raw),
                    "a timestamp YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]")
    # time, timetz, interval, json/jsonb, uuid, arrays, enums and everything else: text, verbatim.
    if raw_type == "string":
        return plan("string", raw, None, "text")
    if raw_type == "binary":
        converted = f"CAST({raw} AS STRING)"
        return plan("string", converted, None, "UTF-8 text")
    converted = f"CAST({raw} AS STRING)"
    return plan("string", converted, None, "text")


# The lambda variable of element-wise array expressions (never a column name: names.RESERVED_PREFIX).
ELEMENT_VAR = "__lakesync_e"


def array_plan(mapping: ColumnMapping, name: str, parsed: str, element_pg: str | None, on_invalid: str) -> ColumnPlan:
    """A one-dimensional array as array<element type>, from `parsed` (the literal's elements as text).

    NULL elements stay NULL. A value that is not a one-dimensional literal, or an element its
    type cannot hold, is a bad value; onInvalid 'null' sets such an element (or such a whole
    value) NULL. An unknown element type keeps the elements' text (array<string>).
    """
    element_mapping = ColumnMapping(ELEMENT_VAR, element_pg or "text", "binary (UTF8)")
    element = plan_column(element_mapping, ELEMENT_VAR, "string", clamp_infinity=on_invalid == "clamp")
    if element.kind == "array":  # PostgreSQL has no arrays of arrays, only more dimensions
        element = plan_column(ColumnMapping(ELEMENT_VAR, "text", "binary (UTF8)"), ELEMENT_VAR, "string")
    var, p, raw = quote(ELEMENT_VAR), quote(parsed), quote(mapping.column_name)
    not_a_list = f"({raw} IS NOT NULL AND {p} IS NULL)"
    bad_element = f"exists({p}, {var} -> {element.bad})" if element.bad else "false"
    bad = f"({not_a_list} OR coalesce({bad_element}, false))"
    if on_invalid == "null":
        value = f"CASE WHEN {element.bad} THEN NULL ELSE {element.expr} END" if element.bad else element.expr
        expr, nulled, bad_out = f"transform({p}, {var} -> {value})", bad, None
    else:
        expr, nulled, bad_out = f"transform({p}, {var} -> {element.expr})", None, bad
    clamped = f"coalesce(exists({p}, {var} -> {element.clamped}), false)" if element.clamped else None
    lake_type = f"array<{element.lake_type}>"
    expectation = f"a one-dimensional array whose elements are {element.expectation}"
    return ColumnPlan(mapping.column_name, name, mapping.original_type, "array", "string", lake_type, expr, bad_out,
                      expectation, nulled=nulled, clamped=clamped, on_invalid=on_invalid)


def text_plan(base: ColumnPlan) -> ColumnPlan:
    """The exported value's text, verbatim (type: string, hashed columns, string array columns)."""
    raw = quote(base.source_name)
    if base.raw_type == "string":
        expr = raw
    elif base.kind == "bytes" and base.raw_type == "binary":
        # PostgreSQL's text of bytea (\x and hex): the bytes read as UTF-8 would lose every byte that is no UTF-8.
        prefix = sql_string("\\x")
        expr = f"concat({prefix}, lower(hex({raw})))"
    else:
        expr = f"CAST({raw} AS STRING)"
    return replace(base, lake_type="string", expr=expr, bad=None, nulled=None, clamped=None, scale_unknown=False,
                   expectation="text", on_invalid="fail")


def money_digits(raw: str) -> str:
    """SQL: the digits and the point of money text ($1,234.56 -> 1234.56), its sign left out."""
    return f"regexp_replace({raw}, '[^0-9.]', '')"


def money_negative(raw: str) -> str:
    """SQL predicate: money text of a negative amount (-$0.50, or ($0.50) in some locales)."""
    return f"({raw} LIKE '%-%' OR {raw} LIKE '(%')"


def _float_words(raw: str, lake_type: str) -> str:
    """NaN and the infinities as PostgreSQL prints them, then the number."""
    return (
        f"CASE WHEN {raw} = 'NaN' THEN CAST('NaN' AS {lake_type}) WHEN {raw} = 'Infinity' THEN CAST('Infinity' AS {lake_type}) "
        f"WHEN {raw} = '-Infinity' THEN CAST('-Infinity' AS {lake_type}) "
        f"WHEN {raw} RLIKE {sql_string('^-?[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?$')} THEN try_cast({raw} AS {lake_type}) END"
    )


def retype_plan(base: ColumnPlan, mapping: ColumnMapping, lake_type: str) -> ColumnPlan:
    """The column written as an explicit lake type, checked for loss like the default casts.

    Numbers written as text (numeric, money) become double/float from their text, NaN and the
    infinities included (rounded to the nearest binary value, as PostgreSQL's own cast does;
    a finite value beyond the type's range, or one not 0 that becomes 0, is bad), and decimal(p,s) with the exact-digits
    check; money's amount ($1,234.56 is 1234.56) becomes double/float the same way. Every other
    change (money into a decimal too) goes from the default lake value (a float into a decimal through
    the text PostgreSQL prints for it) and back: a value that does not come back equal (a
    fraction into an integer, a time into a date, an overflow) is bad.
    """
    if lake_type == base.lake_type:
        return base
    if lake_type == "string":
        return text_plan(base)
    raw = quote(base.source_name)
    if base.raw_type == "string" and base.kind == "money" and lake_type in ("double", "float"):
        # The amount's text (sign and digits), read as a double/float like a numeric's text; only text
        # that is no money amount is bad (money's range and its cents are far inside both types).
        number = f"CASE WHEN {money_negative(raw)} THEN concat('-', {money_digits(raw)}) ELSE {money_digits(raw)} END"
        converted = f"try_cast({number} AS {lake_type})"
        strictly = _strictly(raw, _MONEY_RE)
        return replace(base, lake_type=lake_type, expr=converted, bad=strictly(converted), bad_of_value=strictly,
                       scale_unknown=False, expectation=f"{base.expectation}, as a {lake_type}")
    if base.raw_type == "string" and base.kind in ("numeric", "text"):
        if lake_type in ("double", "float"):
            converted = _float_words(raw, lake_type)

            def check(value: str) -> str:
                finite_became_infinite = f"({raw} NOT IN ('Infinity', '-Infinity') AND abs({value}) = CAST('Infinity' AS {lake_type}))"
                # Below the type's range: a digit other than 0 before any exponent, yet 0 (PostgreSQL refuses it too).
                nonzero_became_zero = f"(({value}) = 0 AND {raw} RLIKE {sql_string('^-?[0-9]*[.]?[0-9]*[1-9]')})"
                return f"({raw} IS NOT NULL AND (({value}) IS NULL OR {finite_became_infinite} OR {nonzero_became_zero}))"

            return replace(base, lake_type=lake_type, expr=converted, bad=check(converted), bad_of_value=check, scale_unknown=False,
                           expectation=f"a number (NaN and Infinity included) within the range of {lake_type}, and not so close to 0 that it becomes 0")
        if lake_type.startswith("decimal("):
            precision, scale = decimal_params(lake_type)
            plan = numeric_plan(mapping, base.name, base.raw_type, precision, scale)
            return replace(plan, pg_type=base.pg_type, kind=base.kind, precision=base.precision)
    value = f"({base.expr})"
    # A float becomes the decimal of the text PostgreSQL prints (0.1): Spark's own cast takes the float
    # widened to a double (0.100000001490...). Doubles keep Spark's cast, which goes by their text.
    as_printed = base.lake_type == "float" and lake_type.startswith("decimal(")
    converted = f"try_cast({float_text(value) if as_printed else value} AS {lake_type})"

    def check(retyped: str) -> str:
        lossy = f"({value} IS NOT NULL AND ({retyped} IS NULL OR NOT (CAST({retyped} AS {base.lake_type}) <=> {value})))"
        return f"({base.bad} OR {lossy})" if base.bad else lossy

    return replace(base, lake_type=lake_type, expr=converted, bad=check(converted), bad_of_value=check, scale_unknown=False,
                   expectation=f"{base.expectation}, and one that {lake_type} holds without loss")


def with_on_invalid_null(plan: ColumnPlan) -> ColumnPlan:
    """onInvalid 'null': a value the lake type cannot hold becomes NULL (and is counted), not a failure."""
    if plan.kind == "array" or not plan.bad:
        return replace(plan, on_invalid="null")
    return replace(plan, expr=f"CASE WHEN {plan.bad} THEN NULL ELSE {plan.expr} END", nulled=plan.bad, bad=None,
                   on_invalid="null")
