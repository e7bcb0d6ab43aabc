"""Column policies applied to one table's export: which columns, under which names, as which types.

Excluded columns are dropped from the column list before the export is read, so no cast, check
or message ever sees them. Hashed columns are replaced by their HMAC right after the read.
Arrays become lists, unless the lake table already holds the column as text (a load never
changes a column's type; `--rebuild true` does, by replacing the table).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .errors import InvalidArgument
from .hashing import hash_columns
from .names import lake_column_names, quote, sql_string
from .pgarrays import NOT_A_LIST_REGEX, delimiter, element_type, parse_array
from .pgtypes import (
    MONEY_TYPE,
    ColumnMapping,
    ColumnPlan,
    array_plan,
    pg_kind,
    plan_column,
    retype_plan,
    text_plan,
    with_on_invalid_null,
)
from .pgtext import shipped_by_value
from .policies import CLAMP_TYPES, ColumnPolicy, check_policy_columns
from .source import resolve_scales

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DATE_KINDS = ("date", "timestamp", "timestamptz")
PARSED_PREFIX = "__lakesync_list_"


@dataclass
class Prepared:
    raw: "DataFrame"  # the export with hashed columns replaced and array literals parsed alongside
    plans: list[ColumnPlan]
    warnings: list[str] = field(default_factory=list)


def select_columns(
    mappings: Sequence[ColumnMapping], policies: Mapping[str, ColumnPolicy], table: str
) -> tuple[list[ColumnMapping], list[str]]:
    """The exported columns the lake gets (excluded ones left out) and their lake names."""
    check_policy_columns(policies, [m.column_name for m in mappings], table)
    kept = [m for m in mappings if not (m.column_name in policies and policies[m.column_name].exclude)]
    renames = {c: p.rename for c, p in policies.items() if p.rename}
    names = lake_column_names([m.column_name for m in kept], table, renames)
    return kept, names


# The PostgreSQL type whose text a lake list's elements are read from, by the list's element type.
_LAKE_ELEMENT_PG = {
    "int": "integer", "bigint": "bigint", "double": "double precision", "float": "real", "boolean": "boolean",
    "date": "date", "timestamp": "timestamp with time zone", "timestamp_ntz": "timestamp without time zone",
    "binary": "bytea",
}


def lake_element_pg_type(lake_type: str) -> str | None:
    """The element type of a lake list (array<int>) as a PostgreSQL type (integer); None for text or no list."""
    if not (lake_type.startswith("array<") and lake_type.endswith(">")):
        return None
    inner = lake_type[len("array<"):-1]
    if inner == MONEY_TYPE:
        # Only money[] becomes a list of decimal(19,2) (numeric[] elements are decimal(38,18)): its elements
        # are money text ($1,234.56), which the money reading also takes in plain digits.
        return "money"
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", inner)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    return _LAKE_ELEMENT_PG.get(inner)


def default_on_invalid(kind: str, type_: str | None) -> str:
    """fail for numbers; clamp (PostgreSQL's +-infinity to sentinels) for dates and timestamps."""
    return "clamp" if kind in DATE_KINDS and (type_ is None or type_ in CLAMP_TYPES) else "fail"


# A name YAML reads as itself when written bare: a letter or _ first, then word characters, '.', '$' or '-'.
_PLAIN_YAML_KEY = re.compile(r"[^\W\d][\w.$-]*")
# Bare words YAML reads as null or a boolean (YAML 1.1 and 1.2 alike), not as the name.
_YAML_WORDS = ("null", "true", "false", "yes", "no", "on", "off", "y", "n")


def yaml_key(name: str) -> str:
    """`name` as a key of a YAML flow mapping: bare when YAML reads it back as the same text, else double-quoted."""
    if _PLAIN_YAML_KEY.fullmatch(name) and name.lower() not in _YAML_WORDS:
        return name
    return json.dumps(name, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def config_line(table: str, column: str, setting: str) -> str:
    """The lakesync.yaml line that gives one column of the table `setting`, its names quoted where YAML needs it."""
    schema_table = table.split(".", 1)[1] if table.count(".") >= 2 else table
    return f"tables: {{ {yaml_key(schema_table)}: {{ columns: {{ {yaml_key(column)}: {{ {setting} }} }} }} }}"


def fix_hint(plan: ColumnPlan, table: str) -> str:
    """The config line that lets the values load (shown in CastError messages)."""
    # Quoted: a bare null in YAML is no value at all, and the config refuses it.
    options = [config_line(table, plan.source_name, 'onInvalid: "null"')]
    if plan.kind == "numeric":
        options.append("type: double (keeps NaN and Infinity)")
        # PostgreSQL's numeric holds far more digits than any lake decimal (38): only text keeps them all.
        options.append("type: string (keeps every digit exactly, as the text PostgreSQL prints, NaN and Infinity too)")
    if plan.kind == "array" and plan.lake_type.startswith("array<decimal"):
        options.append("type: string (keeps every digit exactly, the array as the text PostgreSQL prints)")
    if plan.kind == "money":
        # Money text that is no amount (another locale's) is no number under any type but string.
        options.append("type: string (keeps the text as exported)")
    if plan.kind in DATE_KINDS:
        # PostgreSQL's years before 1 AD (' BC') and past the lake's range are no lake date or timestamp: text keeps them.
        options.append("type: string (keeps the text as exported, years BC too)")
    dated = plan.kind in DATE_KINDS or (plan.kind == "array" and plan.lake_type.startswith(("array<date", "array<timestamp")))
    if dated and plan.on_invalid != "clamp":
        options.append("onInvalid: clamp (infinity and -infinity become 9999-12-31 / 0001-01-01)")
    return " or ".join(options)


def utc_session(spark: "SparkSession") -> bool:
    """Whether the session reads and prints timestamps in UTC (session.common_conf sets it)."""
    return (spark.conf.get("spark.sql.session.timeZone", "") or "").upper() in ("UTC", "Z", "ETC/UTC")


def prepare(
    raw: "DataFrame",
    mappings: Sequence[ColumnMapping],
    names: Sequence[str],
    policies: Mapping[str, ColumnPolicy],
    lake_types: Mapping[str, str],
    hash_key: bytes | None,
    table: str,
    rebuild: str | None = None,
    lake_empty: Callable[[str], bool] | None = None,
) -> Prepared:
    """The cast plan of every column under its policy; lake_types: the existing lake columns ({} when rebuilding).

    `rebuild`: the command that replaces the table from the export (None when the load cannot be rebuilt).
    `lake_empty`: whether a lake column (by name) holds no value (source.resolve_scales).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, StringType

    raw_types = {f.name: f.dataType.simpleString() for f in raw.schema.fields}
    none = ColumnPolicy("")
    hashed = {m.column_name: raw_types[m.column_name] for m in mappings if policies.get(m.column_name, none).hash}
    if hashed:
        assert hash_key is not None, "the key is resolved whenever a column is hashed"
        raw = hash_columns(raw, hashed, hash_key)
    shipped_by_value()
    parse = F.udf(parse_array, ArrayType(StringType(), containsNull=True))
    warnings: list[str] = []
    plans: list[ColumnPlan] = []
    in_utc = utc_session(raw.sparkSession)
    new_arrays: list[ColumnPlan] = []
    for i, (mapping, name) in enumerate(zip(mappings, names)):
        policy = policies.get(mapping.column_name, none)
        raw_type = raw_types[mapping.column_name]
        kind = pg_kind(mapping.original_type)[0]
        if policy.hash:
            plan = text_plan(plan_column(mapping, name, "string"))
            plans.append(replace(plan, kind="hashed", expectation="an HMAC-SHA256 hex digest"))
            continue
        if kind == "array" and raw_type == "string" and policy.type != "string":
            if policy.type is not None:
                raise InvalidArgument(
                    f"--column_policies: column {mapping.column_name!r} of {table} is an array ({mapping.original_type}); "
                    f"type {policy.type} cannot hold it. Leave type out (a list of its elements) or use type: string"
                )
            in_lake = lake_types.get(name)
            if in_lake == "string":
                plans.append(text_plan(plan_column(mapping, name, raw_type)))
                how = (f"rebuild the table from the export ({rebuild})" if rebuild
                       else "load into a new lake table (the table's lakeName)")
                warnings.append(
                    f"column {name!r} stays text (string) in the lake table, as it was loaded before arrays became "
                    f"lists; {how} to load it as a list"
                )
                continue
            element = element_type(mapping.original_type, mapping.udt_name)
            if in_lake == "array<string>":
                element = None  # a list of texts stays one
            elif element is None and in_lake is not None:
                # RDS names no element type (a bare ARRAY): the lake's list, typed by an export that named it
                # (or a direct load), says what the elements are.
                element = lake_element_pg_type(in_lake)
            element_kind = pg_kind(element or "text")[0]
            on_invalid = policy.on_invalid or default_on_invalid(element_kind, None)
            delim = delimiter(element)
            parsed = f"{PARSED_PREFIX}{i}"
            raw = raw.withColumn(parsed, parse(F.col(quote(mapping.column_name)), F.lit(delim)))
            plan = array_plan(mapping, name, parsed, element, on_invalid)
            _check_clamp(policy, plan, element_kind, table)
            plans.append(plan)
            if in_lake is None:
                new_arrays.append(plan)
            continue
        on_invalid = policy.on_invalid or default_on_invalid(kind, policy.type)
        plan = plan_column(mapping, name, raw_type, clamp_infinity=on_invalid == "clamp", utc_session=in_utc)
        if (mapping.domain_name and policy.type is None and lake_types.get(name) == "string"
                and plan.lake_type != "string"):
            # A domain over a domain was exported as an opaque type, loaded as text: its lake column keeps it.
            plans.append(replace(text_plan(plan), kind="text"))
            how = (f"rebuild the table from the export ({rebuild})" if rebuild
                   else "load into a new lake table (the table's lakeName)")
            warnings.append(
                f"column {name!r} (domain {mapping.domain_name} over {mapping.original_type}) stays text (string) in "
                f"the lake table, as it was loaded before; {how} to load it as {plan.lake_type}"
            )
            continue
        plans.append(plan)
    plans = resolve_scales(raw, plans, dict(lake_types), lake_empty, rebuild)
    plans = _lists_or_text(raw, plans, new_arrays, warnings)
    out: list[ColumnPlan] = []
    for mapping, plan in zip(mappings, plans):
        policy = policies.get(mapping.column_name, none)
        if plan.kind in ("hashed", "array"):
            out.append(plan)
            continue
        if policy.type is not None:
            plan = retype_plan(plan, mapping, policy.type)
        on_invalid = policy.on_invalid or default_on_invalid(plan.kind, policy.type)
        _check_clamp(policy, plan, plan.kind, table)
        if on_invalid == "null":
            plan = with_on_invalid_null(plan)
        out.append(plan)
    return Prepared(raw, out, warnings)


def _check_clamp(policy: ColumnPolicy, plan: ColumnPlan, kind: str, table: str) -> None:
    if policy.on_invalid != "clamp":
        return
    lake_type = plan.lake_type[len("array<"):-1] if plan.lake_type.startswith("array<") else plan.lake_type
    if kind not in DATE_KINDS or lake_type not in CLAMP_TYPES:
        raise InvalidArgument(
            f"--column_policies: column {policy.column!r} of {table} ({plan.pg_type}, {plan.lake_type} in the lake): "
            "onInvalid clamp applies only to date and timestamp columns; use fail or null"
        )


def _lists_or_text(raw: "DataFrame", plans: list[ColumnPlan], new_arrays: list[ColumnPlan],
                   warnings: list[str]) -> list[ColumnPlan]:
    """New array columns holding a multi-dimensional value (or explicit bounds) stay text, with a warning."""
    if not new_arrays:
        return plans
    pattern = sql_string(NOT_A_LIST_REGEX)
    row = raw.selectExpr(
        *[f"count_if({quote(p.source_name)} RLIKE {pattern}) AS n{i}" for i, p in enumerate(new_arrays)]
    ).collect()[0]
    as_text = {p.name: int(row[f"n{i}"]) for i, p in enumerate(new_arrays) if row[f"n{i}"]}
    if not as_text:
        return plans
    out = []
    for plan in plans:
        if plan.name in as_text:
            warnings.append(
                f"column {plan.name!r} ({plan.pg_type}) stays text (string): {as_text[plan.name]} value(s) are "
                "multi-dimensional arrays or arrays with explicit bounds, which have no list form"
            )
            out.append(replace(text_plan(plan), kind="text"))
        else:
            out.append(plan)
    return out
