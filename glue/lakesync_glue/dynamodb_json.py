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

from .dynamodb_args import is_number_type
from .names import quote, sql_string
from .pgtypes import ColumnPlan, decimal_params, rounds_fraction, with_on_invalid_null

# \z, not $: in Java regexes $ also matches before a final line break (a string "42\n" is no number).
_PLAIN_NUMBER = "^-?[0-9]+([.][0-9]+)?\\z"
_INTEGER = "^-?[0-9]+\\z"
_NUMBER_TEXT = "^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?\\z"
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
    # The declared lake type of an attribute whose `type` policy sets lake_type (declared_tags); None: no such policy.
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

    A declared attribute with a `type` policy is read as the policy's type, as it always was (every value
    that loaded before still loads the same), and also from the DynamoDB type its declaration names where
    that has one exact reading (declared_tags): a number's or a boolean's text as a string, a string's
    number text as a number.
    """
    extra = () if column.declared_type is None or column.hashed else declared_tags(column.declared_type, column.lake_type)
    result = _read_plan(column, table, extra)
    # A hashed or JSON value is never invalid: nothing to set NULL.
    return with_on_invalid_null(result) if column.on_invalid == "null" and result.bad else result


def declared_tags(declared: str, lake_type: str) -> tuple[str, ...]:
    """The DynamoDB types, besides lake_type's own, whose values a `type` policy reads from an attribute
    declared `declared`: N or BOOL as its text into a string; S holding a number into a number type."""
    if lake_type == "string":
        return ("N",) if is_number_type(declared) else ("BOOL",) if declared == "boolean" else ()
    return ("S",) if is_number_type(lake_type) and declared == "string" else ()


def _read_plan(column: AttributeColumn, table: str, extra: tuple[str, ...]) -> ColumnPlan:
    """The DynamoDB value read as the column's lake type; `extra`: other tags whose text it also reads."""
    t, x, a = quote(column.tag_col), quote(column.text_col), quote(column.json_col)
    lake_type = column.lake_type
    present = f"({t} IS NOT NULL AND {t} <> 'NULL')"

    def plan(expr: str, bad: str | None, expectation: str, kind: str = "dynamodb") -> ColumnPlan:
        return ColumnPlan(column.json_col, column.name, "DynamoDB attribute", kind, "string", lake_type, expr, bad,
                          expectation, on_invalid=column.on_invalid)

    def read(tags: tuple[str, ...], converted: str, unfit: str, expectation: str) -> ColumnPlan:
        """`converted` for a value of one of `tags`; bad when present of another tag, or `unfit`."""
        among = f"{t} IN ({', '.join(sql_string(tag) for tag in tags)})"
        return plan(f"CASE WHEN {among} THEN {converted} END", f"({present} AND (NOT {among}{unfit}))", expectation)

    number_tags = ("N", *extra)
    number = "a number (N)" + (", or a string (S) holding a number" if extra else "")
    if column.hashed:
        return plan(quote(column.hash_col), None, "an HMAC-SHA256 hex digest", "hashed")
    if lake_type == "json":
        return ColumnPlan(column.json_col, column.name, "DynamoDB attribute", "json", "string", "string",
                          f"CASE WHEN {present} THEN {a} END", None, "any DynamoDB value")
    if lake_type == "string" and column.is_key:
        # A number key may be kept as its text (DynamoDB gives every value of a key attribute the key's type).
        return read(("S", "N"), x, "", "a string (S), or a number key's text (N)")
    if lake_type == "string":
        besides = {"N": ", or a number's text (N)", "BOOL": ", or a boolean's text (BOOL)"}
        return read(("S", *extra), x, "", "a string (S)" + "".join(besides[tag] for tag in extra))
    if lake_type.startswith("decimal("):
        precision, scale = decimal_params(lake_type)
        converted = f"try_cast({x} AS {lake_type})"
        # As numeric_plan: too many integer digits make the cast NULL.
        unfit = f" OR NOT {x} RLIKE {sql_string(_PLAIN_NUMBER)} OR {converted} IS NULL OR {rounds_fraction(x, scale)}"
        return read(number_tags, converted, unfit,
                    f"{number} with at most {precision - scale} integer and {scale} fractional digits")
    if lake_type in ("bigint", "int"):
        converted = f"try_cast({x} AS {lake_type})"
        unfit = f" OR NOT {x} RLIKE {sql_string(_INTEGER)} OR {converted} IS NULL"
        return read(number_tags, converted, unfit, f"{number.replace('a number', 'a whole number')} within {lake_type}")
    if lake_type == "double":
        converted = f"try_cast({x} AS double)"
        # A string's text is a number only as DynamoDB writes one (no NaN, Infinity, hex or suffixes Java reads).
        unlike = f" OR ({t} = 'S' AND NOT {x} RLIKE {sql_string(_NUMBER_TEXT)})" if extra else ""
        unfit = f"{unlike} OR {converted} IS NULL OR abs({converted}) = CAST('Infinity' AS double)"
        return read(number_tags, converted, unfit, f"{number} within the range of double")
    if lake_type == "boolean":
        return read(("BOOL",), f"CAST({x} AS boolean)", "", "a boolean (BOOL)")
    if lake_type == "binary":
        converted = f"try_to_binary({x}, 'base64')"
        return read(("B",), converted, f" OR {converted} IS NULL", "binary (B, base64)")
    # args.py admits no other type
    raise ValueError(f"table {table}: attribute {column.attribute!r} has no lake type {lake_type!r}")


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
