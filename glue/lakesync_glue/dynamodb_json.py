"""DynamoDB JSON into lake values: the SQL of each typed column and of `_attributes`. Pure.

An item's attribute value is DynamoDB JSON such as `{"N": "12.50"}`, `{"S": "x"}`, `{"BOOL": true}`,
`{"NULL": true}`, `{"SS": [...]}` or `{"M": {...}}`. The reader keeps, per typed attribute, the
value's JSON text, its type tag and its text (the string of S, N and B; the JSON of the others).
Each plan turns those into the lake type, with a predicate that is true for a value the type
cannot hold exactly (another DynamoDB type, a number with too many digits): such a value is never
rounded or guessed. `{"NULL": true}` and a missing attribute are NULL in the lake.
"""
from __future__ import annotations

from dataclasses import dataclass

from .names import quote, sql_string
from .pgtypes import ColumnPlan, decimal_params, rounds_fraction, with_on_invalid_null

_PLAIN_NUMBER = "^-?[0-9]+([.][0-9]+)?$"
_INTEGER = "^-?[0-9]+$"
TAGS_AS_TEXT = ("S", "N", "B", "BOOL")


@dataclass(frozen=True)
class AttributeColumn:
    """One typed lake column of a DynamoDB table: a key or declared attribute. Its working columns (json_col,
    tag_col, text_col, hash_col) carry the reserved prefix, so no lake column name can be one of them."""

    index: int
    attribute: str  # the DynamoDB attribute name (case-sensitive)
    name: str  # the lake column name
    lake_type: str
    is_key: bool
    hashed: bool = False
    on_invalid: str = "fail"

    @property
    def json_col(self) -> str:
        return f"__lakesync_a{self.index}"

    @property
    def tag_col(self) -> str:
        return f"__lakesync_t{self.index}"

    @property
    def text_col(self) -> str:
        return f"__lakesync_x{self.index}"

    @property
    def hash_col(self) -> str:
        return f"__lakesync_h{self.index}"


def tag_expr(json_col: str) -> str:
    """The value's DynamoDB type tag (S, N, B, BOOL, NULL, M, L, SS, NS, BS), NULL when absent."""
    return f"get(map_keys(from_json({quote(json_col)}, 'map<string,string>')), 0)"


def text_expr(json_col: str) -> str:
    """The value under its tag: the string of S, N and B, `true`/`false` of BOOL, JSON text otherwise."""
    parsed = f"from_json({quote(json_col)}, 'map<string,string>')"
    return f"{parsed}[get(map_keys({parsed}), 0)]"


def canonical_text_expr(column: AttributeColumn) -> str:
    """What a hashed attribute's HMAC is taken of: S, N and B as their text (B in base64), BOOL as
    true/false, other types as their DynamoDB JSON; NULL stays NULL."""
    t, x, a = quote(column.tag_col), quote(column.text_col), quote(column.json_col)
    tags = ", ".join(sql_string(tag) for tag in TAGS_AS_TEXT)
    return f"CASE WHEN {t} IS NULL OR {t} = 'NULL' THEN NULL WHEN {t} IN ({tags}) THEN {x} ELSE {a} END"


def plan_attribute(column: AttributeColumn, table: str) -> ColumnPlan:
    """The cast plan of one key or declared attribute (onInvalid null applied)."""
    t, x, a = quote(column.tag_col), quote(column.text_col), quote(column.json_col)
    lake_type = column.lake_type
    present = f"({t} IS NOT NULL AND {t} <> 'NULL')"

    def plan(expr: str, bad: str | None, expectation: str, kind: str = "dynamodb") -> ColumnPlan:
        return ColumnPlan(column.json_col, column.name, "DynamoDB attribute", kind, "string", lake_type, expr, bad,
                          expectation, on_invalid=column.on_invalid)

    if column.hashed:
        return plan(quote(column.hash_col), None, "an HMAC-SHA256 hex digest", "hashed")
    if lake_type == "json":
        out = ColumnPlan(column.json_col, column.name, "DynamoDB attribute", "json", "string", "string",
                         f"CASE WHEN {present} THEN {a} END", None, "any DynamoDB value")
        return out
    if lake_type == "string" and column.is_key:
        # A number key may be kept as its text (DynamoDB gives every value of a key attribute the key's type).
        result = plan(f"CASE WHEN {t} IN ('S', 'N') THEN {x} END", f"({present} AND {t} NOT IN ('S', 'N'))",
                      "a string (S), or a number key's text (N)")
    elif lake_type == "string":
        result = plan(f"CASE WHEN {t} = 'S' THEN {x} END", f"({present} AND {t} <> 'S')", "a string (S)")
    elif lake_type.startswith("decimal("):
        precision, scale = decimal_params(lake_type)
        converted = f"try_cast({x} AS {lake_type})"
        # As numeric_plan: too many integer digits make the cast NULL.
        bad = (f"({present} AND ({t} <> 'N' OR NOT {x} RLIKE {sql_string(_PLAIN_NUMBER)} "
               f"OR {converted} IS NULL OR {rounds_fraction(x, scale)}))")
        result = plan(f"CASE WHEN {t} = 'N' THEN {converted} END", bad,
                      f"a number (N) with at most {precision - scale} integer and {scale} fractional digits")
    elif lake_type in ("bigint", "int"):
        converted = f"try_cast({x} AS {lake_type})"
        bad = f"({present} AND ({t} <> 'N' OR NOT {x} RLIKE {sql_string(_INTEGER)} OR {converted} IS NULL))"
        result = plan(f"CASE WHEN {t} = 'N' THEN {converted} END", bad, f"a whole number (N) within {lake_type}")
    elif lake_type == "double":
        converted = f"try_cast({x} AS double)"
        bad = f"({present} AND ({t} <> 'N' OR {converted} IS NULL OR abs({converted}) = CAST('Infinity' AS double)))"
        result = plan(f"CASE WHEN {t} = 'N' THEN {converted} END", bad, "a number (N) within the range of double")
    elif lake_type == "boolean":
        result = plan(f"CASE WHEN {t} = 'BOOL' THEN CAST({x} AS boolean) END", f"({present} AND {t} <> 'BOOL')",
                      "a boolean (BOOL)")
    elif lake_type == "binary":
        converted = f"try_to_binary({x}, 'base64')"
        result = plan(f"CASE WHEN {t} = 'B' THEN {converted} END",
                      f"({present} AND ({t} <> 'B' OR {converted} IS NULL))", "binary (B, base64)")
    else:  # args.py admits no other type
        raise ValueError(f"table {table}: attribute {column.attribute!r} has no lake type {lake_type!r}")
    return with_on_invalid_null(result) if column.on_invalid == "null" else result


def rest_expr(image_col: str, left_out: list[str]) -> str:
    """`_attributes`: every attribute of the image but `left_out` (typed and excluded ones) as one
    DynamoDB JSON object, keys sorted, each value's JSON kept as exported (lossless); `{}` when none."""
    names = ", ".join(sql_string(n) for n in left_out) or "''"
    kept = f"map_filter({quote(image_col)}, (k, v) -> NOT array_contains(array({names}), k))"
    key_json = "to_json(array(e.key))"
    pair = f"concat(substr({key_json}, 2, length({key_json}) - 2), ':', e.value)"
    entries = f"array_sort(map_entries({kept}))"
    return (f"CASE WHEN {quote(image_col)} IS NULL THEN NULL "
            f"ELSE concat('{{', array_join(transform({entries}, e -> {pair}), ','), '}}') END")
