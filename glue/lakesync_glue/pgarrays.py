"""PostgreSQL array literals as the export writes them (`{a,"b c",NULL}`): pure parsing.

PostgreSQL prints a one-dimensional array as `{e1,e2,...}`; an element is double-quoted when
it is empty, is the word NULL, or holds braces, commas, quotes, backslashes or white space,
with `"` and `\\` escaped by a backslash inside the quotes; an unquoted NULL is SQL NULL (a
quoted "NULL" is the text). Multi-dimensional arrays print nested braces (`{{1,2},{3,4}}`) and
arrays with a lower bound other than 1 a dimension prefix (`[0:1]={1,2}`): neither is a list.
Elements are delimited by the element type's `typdelim`: ',' for every built-in type but box,
whose ';' lets its elements keep their commas unquoted (`{(1,1),(0,0);(2,2),(1,1)}`).
"""
from __future__ import annotations

import re

# A value that is not a plain list: nested braces, or a dimension prefix.
NOT_A_LIST_REGEX = r"^\s*(\[|\{\s*\{)"


# Element types whose arrays PostgreSQL delimits with ';' (pg_type.typdelim), as the mappings name them.
_SEMICOLON_TYPES = ("box",)


def delimiter(element_pg: str | None) -> str:
    """The element delimiter of arrays of `element_pg` (element_type's answer; None: unknown, ',')."""
    return ";" if (element_pg or "").strip().lower() in _SEMICOLON_TYPES else ","


def parse_array(text: str | None, delim: str = ",") -> list[str | None] | None:
    """The elements of a one-dimensional array literal (None for SQL NULL elements); None when not one.

    `delim`: the element type's delimiter (delimiter()).
    """
    if text is None:
        return None
    s = text.strip()
    if len(s) < 2 or s[0] != "{" or s[-1] != "}":
        return None
    body = s[1:-1]
    if body.strip() == "":
        return []
    out: list[str | None] = []
    i, n = 0, len(body)
    while True:
        while i < n and body[i].isspace():
            i += 1
        if i < n and body[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and body[i] != '"':
                if body[i] == "\\":
                    i += 1
                    if i >= n:
                        return None
                chars.append(body[i])
                i += 1
            if i >= n:
                return None  # unterminated quote
            i += 1
            while i < n and body[i].isspace():
                i += 1
            out.append("".join(chars))
        else:
            chars = []
            escaped = False
            while i < n and body[i] != delim:
                c = body[i]
                if c in '{}"':
                    return None  # a nested array or a stray quote
                if c == "\\":
                    i += 1
                    if i >= n:
                        return None
                    escaped = True
                    c = body[i]
                chars.append(c)
                i += 1
            value = "".join(chars).strip()
            if value == "" and not escaped:
                return None  # `{a,,b}`: PostgreSQL never writes an empty unquoted element
            out.append(None if value.upper() == "NULL" and not escaped else value)
        if i >= n:
            return out
        if body[i] != delim:
            return None
        i += 1


def element_type(original_type: str, udt_name: str | None = None) -> str | None:
    """The element type an array mapping names: `_int4`, `integer[]`; None for a bare `ARRAY`.

    RDS (and information_schema's data_type) writes `ARRAY` without the element type; an
    exporter may add the type's udt name (`_int4`) as `originalUdtName`.
    """
    for text in (udt_name or "", original_type):
        t = text.strip()
        m = re.fullmatch(r"(.+?)\s*((\[\s*\d*\s*\])+)", t)
        if m:  # declared dimensions are not enforced by PostgreSQL: the data decides (see NOT_A_LIST_REGEX)
            return m.group(1)
        if t.startswith("_") and len(t) > 1:
            return t[1:]
    return None
