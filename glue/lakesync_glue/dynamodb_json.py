"""DynamoDB JSON into lake values: the SQL of each typed column and of `_attributes`. Pure.

An item's attribute value is DynamoDB JSON such as `{"N": "12.50"}`, `{"S": "x"}`, `{"BOOL": true}`,
`{"NULL": true}`, `{"SS": [...]}` or `{"M": {...}}`. The reader keeps, per typed attribute, the
value's JSON text, its type tag and its text (the string of S, N and B; the JSON of the others).
Each plan turns those into the lake type, with a predicate that is true for a value the type
cannot hold exactly (another DynamoDB type, a number with too many digits): such a value is never
rounded or guessed. `{"NULL": true}` and a missing attribute are NULL in the lake.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .names import quote, sql_string
from .pgtypes import ColumnPlan, decimal_params, rounds_fraction, with_on_invalid_null

_PLAIN_NUMBER = "^-?[0-9]+([.][0-9]+)?$"
_INTEGER = "^-?[0-9]+$"
_NUMBER_TEXT = "^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$"
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
    # The declared lake type a column policy's `type` (lake_type) casts from; None: the value is read as lake_type.
    declared_type: str | None = None

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
    """The cast plan of one key or declared attribute (onInvalid null applied).

    A declared attribute with a `type` policy is read as its declared type, then cast to the policy's
    type (cast_plan): a value the declared type refuses, or one the cast would lose, is bad.
    """
    if column.declared_type is None or column.hashed:
        result = _read_plan(column, column.lake_type, table)
    elif column.declared_type == "string" and column.lake_type != "string":
        # A number held in a string: its text read by the rules of a DynamoDB number's text, from an S.
        result = _read_plan(column, column.lake_type, table, number_tag="S")
    else:
        result = cast_plan(_read_plan(column, column.declared_type, table), column.lake_type)
    # A hashed or JSON value is never invalid: nothing to set NULL.
    return with_on_invalid_null(result) if column.on_invalid == "null" and result.bad else result


def _read_plan(column: AttributeColumn, lake_type: str, table: str, number_tag: str = "N") -> ColumnPlan:
    """The DynamoDB value read as `lake_type`; `number_tag`: the tag whose text a number is read from (S: a
    number held in a string)."""
    t, x, a = quote(column.tag_col), quote(column.text_col), quote(column.json_col)
    present = f"({t} IS NOT NULL AND {t} <> 'NULL')"
    tag = sql_string(number_tag)
    number = "a number (N)" if number_tag == "N" else "a string (S) holding a number"

    def plan(expr: str, bad: str | None, expectation: str, kind: str = "dynamodb") -> ColumnPlan:
        return ColumnPlan(column.json_col, column.name, "DynamoDB attribute", kind, "string", lake_type, expr, bad,
                          expectation, on_invalid=column.on_invalid)

    if column.hashed:
        return plan(quote(column.hash_col), None, "an HMAC-SHA256 hex digest", "hashed")
    if lake_type == "json":
        return ColumnPlan(column.json_col, column.name, "DynamoDB attribute", "json", "string", "string",
                          f"CASE WHEN {present} THEN {a} END", None, "any DynamoDB value")
    if lake_type == "string" and column.is_key:
        # A number key may be kept as its text (DynamoDB gives every value of a key attribute the key's type).
        return plan(f"CASE WHEN {t} IN ('S', 'N') THEN {x} END", f"({present} AND {t} NOT IN ('S', 'N'))",
                    "a string (S), or a number key's text (N)")
    if lake_type == "string":
        return plan(f"CASE WHEN {t} = 'S' THEN {x} END", f"({present} AND {t} <> 'S')", "a string (S)")
    if lake_type.startswith("decimal("):
        precision, scale = decimal_params(lake_type)
        converted = f"try_cast({x} AS {lake_type})"
        # As numeric_plan: too many integer digits make the cast NULL.
        bad = (f"({present} AND ({t} <> {tag} OR NOT {x} RLIKE {sql_string(_PLAIN_NUMBER)} "
               f"OR {converted} IS NULL OR {rounds_fraction(x, scale)}))")
        return plan(f"CASE WHEN {t} = {tag} THEN {converted} END", bad,
                    f"{number} with at most {precision - scale} integer and {scale} fractional digits")
    if lake_type in ("bigint", "int"):
        converted = f"try_cast({x} AS {lake_type})"
        bad = f"({present} AND ({t} <> {tag} OR NOT {x} RLIKE {sql_string(_INTEGER)} OR {converted} IS NULL))"
        whole = number.replace("a number", "a whole number")
        return plan(f"CASE WHEN {t} = {tag} THEN {converted} END", bad, f"{whole} within {lake_type}")
    if lake_type == "double":
        converted = f"try_cast({x} AS double)"
        # A string's text is a number only as DynamoDB writes one (no NaN, Infinity, hex or suffixes Java reads).
        unlike = "" if number_tag == "N" else f" OR NOT {x} RLIKE {sql_string(_NUMBER_TEXT)}"
        bad = f"({present} AND ({t} <> {tag}{unlike} OR {converted} IS NULL OR abs({converted}) = CAST('Infinity' AS double)))"
        return plan(f"CASE WHEN {t} = {tag} THEN {converted} END", bad, f"{number} within the range of double")
    if lake_type == "boolean":
        return plan(f"CASE WHEN {t} = 'BOOL' THEN CAST({x} AS boolean) END", f"({present} AND {t} <> 'BOOL')",
                    "a boolean (BOOL)")
    if lake_type == "binary":
        converted = f"try_to_binary({x}, 'base64')"
        return plan(f"CASE WHEN {t} = 'B' THEN {converted} END",
                    f"({present} AND ({t} <> 'B' OR {converted} IS NULL))", "binary (B, base64)")
    # args.py admits no other type
    raise ValueError(f"table {table}: attribute {column.attribute!r} has no lake type {lake_type!r}")


def cast_plan(base: ColumnPlan, lake_type: str) -> ColumnPlan:
    """A declared attribute's plan cast to a policy's `type`, as pgtypes.retype_plan casts a PostgreSQL column:
    text of the value (JSON stays its text); a number into another number type only when it comes back equal
    (a fraction into an integer, an overflow are bad), but a decimal into a double rounds to the nearest double
    as a number read as double does. Only the pairs dynamodb_args.declared_cast_problem admits reach here."""
    if lake_type == base.lake_type:
        return base
    value = f"({base.expr})"
    if lake_type == "string":
        text = _decimal_text(value) if base.lake_type.startswith("decimal(") else f"CAST({value} AS STRING)"
        return replace(base, lake_type="string", expr=text, bad_of_value=None, expectation=f"{base.expectation}, as text")
    if base.lake_type.startswith("decimal(") and lake_type == "double":
        return replace(base, lake_type=lake_type, expr=f"CAST({value} AS double)", bad_of_value=None,
                       expectation=f"{base.expectation}, as the nearest double")
    converted = f"try_cast({value} AS {lake_type})"
    lossy = f"({value} IS NOT NULL AND ({converted} IS NULL OR NOT (CAST({converted} AS {base.lake_type}) <=> {value})))"
    return replace(base, lake_type=lake_type, expr=converted, bad=f"({base.bad} OR {lossy})" if base.bad else lossy,
                   bad_of_value=None, expectation=f"{base.expectation}, and one that {lake_type} holds without loss")


def _decimal_text(value: str) -> str:
    """SQL: a decimal's text with all its digits and no exponent (12.50, 0.0000000100). Spark writes a value
    below 1E-6 (and a zero of scale above 6) with one (1.00E-8, 0E-10): its digits then follow `0.` and
    -exponent - 1 zeros."""
    text = f"CAST({value} AS STRING)"
    exponent = f"CAST(regexp_extract({text}, 'E(-[0-9]+)$', 1) AS int)"
    digits = f"regexp_replace(regexp_extract({text}, '^-?([0-9.]+)E', 1), '[.]', '')"
    sign = f"CASE WHEN {text} LIKE '-%' THEN '-' ELSE '' END"
    return f"CASE WHEN {text} LIKE '%E%' THEN concat({sign}, '0.', repeat('0', -{exponent} - 1), {digits}) ELSE {text} END"


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
