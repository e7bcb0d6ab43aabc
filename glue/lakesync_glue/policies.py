"""Column policies (`--column_policies`): what the lake gets of each source column. Pure.

A JSON object keyed by the source column name as the export lists it:
`{"email": {"hash": true}, "notes": {"exclude": true}, "amount": {"type": "double", "onInvalid": "null"}}`.
Everything here is checked before any Spark work; checks that need the export (does the column
exist, what type is it) run at load time, still before anything is written.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgument

ON_INVALID: tuple[str, ...] = ("fail", "null", "clamp")
POLICY_KEYS: tuple[str, ...] = ("exclude", "hash", "rename", "type", "onInvalid")
SCALAR_TYPES: tuple[str, ...] = ("double", "float", "string", "bigint", "int", "date", "timestamp", "boolean")
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
# Lake types onInvalid 'clamp' applies to: PostgreSQL's +-infinity have sentinels there.
CLAMP_TYPES: tuple[str, ...] = ("date", "timestamp", "timestamp_ntz")
MAX_NAME = 255


@dataclass(frozen=True)
class ColumnPolicy:
    column: str  # the source column name, as the export lists it
    exclude: bool = False
    hash: bool = False
    rename: str | None = None  # the lake column name (lowercase)
    type: str | None = None  # Spark SQL type of the lake column
    on_invalid: str | None = None  # fail | null | clamp; None: the default for the column's type


def _fail(column: str, problem: str, fix: str) -> InvalidArgument:
    return InvalidArgument(f"--column_policies: column {column!r}: {problem}; {fix}")


def normalize_type(raw: str) -> str | None:
    """The Spark SQL type a policy's `type` names, or None when it is not one lakesync writes."""
    text = raw.strip().lower()
    if text in SCALAR_TYPES:
        return text
    m = _DECIMAL.fullmatch(text)
    if m:
        precision, scale = int(m.group(1)), int(m.group(2))
        if 1 <= precision <= 38 and 0 <= scale <= precision:
            return f"decimal({precision},{scale})"
    return None


def _parse_one(column: str, entry: object) -> ColumnPolicy:
    if not isinstance(entry, dict):
        raise _fail(column, f"the policy must be an object, got {json.dumps(entry)}", 'pass e.g. {"hash": true}')
    unknown = sorted(k for k in entry if k not in POLICY_KEYS)
    if unknown:
        raise _fail(column, f"unknown key(s) {', '.join(repr(k) for k in unknown)}", f"use only {', '.join(POLICY_KEYS)}")
    for flag in ("exclude", "hash"):
        if flag in entry and entry[flag] is not True:
            raise _fail(column, f"{flag} must be true, got {json.dumps(entry[flag])}", f"write {flag}: true or leave it out")
    exclude, hashed = bool(entry.get("exclude")), bool(entry.get("hash"))
    if exclude and len(entry) > 1:
        others = ", ".join(k for k in entry if k != "exclude")
        raise _fail(column, f"exclude drops the column, so {others} cannot apply", "keep only exclude: true")
    rename: str | None = None
    if "rename" in entry:
        value = entry["rename"]
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME:
            raise _fail(column, f"rename must be a column name of 1-{MAX_NAME} characters, got {json.dumps(value)}",
                        'pass e.g. rename: "customer_email"')
        rename = value.strip().lower()  # lake column names are lowercase (S3 Tables, Athena, Lake Formation)
    type_: str | None = None
    if "type" in entry:
        value = entry["type"]
        type_ = normalize_type(value) if isinstance(value, str) else None
        if type_ is None:
            raise _fail(column, f"type {json.dumps(value)} is not a lake type",
                        f"use decimal(p,s) (p 1-38, s 0-p) or one of {', '.join(SCALAR_TYPES)}")
    on_invalid: str | None = None
    if "onInvalid" in entry:
        value = entry["onInvalid"]
        if value not in ON_INVALID:
            raise _fail(column, f"onInvalid {json.dumps(value)} is not a choice", f"use one of {', '.join(ON_INVALID)}")
        on_invalid = str(value)
    if hashed and type_ not in (None, "string"):
        raise _fail(column, f"hash makes a text column, so type {type_} cannot apply", "remove type (or use type: string)")
    if hashed and on_invalid is not None:
        raise _fail(column, "hash keeps every value (as its hash), so onInvalid cannot apply", "remove onInvalid")
    if on_invalid == "clamp" and type_ is not None and type_ not in CLAMP_TYPES:
        raise _fail(column, f"onInvalid clamp applies only to date and timestamp columns, not {type_}", "use fail or null")
    return ColumnPolicy(column, exclude, hashed, rename, type_, on_invalid)


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all distinct (json.loads would keep the last of two equal keys)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _RepeatedKey(key)
        document[key] = value
    return document


def parse_column_policies(raw: str, key: Sequence[str], cursor: str | None) -> dict[str, ColumnPolicy]:
    """`--column_policies` JSON into policies by source column; InvalidArgument names the column and the fix."""
    if raw.strip() == "":
        return {}
    try:
        document = json.loads(raw, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        raise InvalidArgument(
            f"--column_policies: {exc.key!r} is given twice in one object; give each column one policy and each "
            "setting once (a JSON reader keeps only the last, so the earlier one, an exclude too, would be dropped)"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"--column_policies is not valid JSON ({exc.msg} at character {exc.pos}); "
            'pass an object keyed by column, e.g. {"email": {"hash": true}}'
        ) from None
    if not isinstance(document, dict):
        raise InvalidArgument(
            f"--column_policies must be a JSON object keyed by column, got {type(document).__name__}; "
            'pass e.g. {"email": {"hash": true}}'
        )
    policies = {str(column): _parse_one(str(column), entry) for column, entry in document.items()}
    # Exact names only: "ID" and "id" may be two PostgreSQL columns, and a policy on the key's twin is none on
    # the key. A key or cursor given by its lake name meets these rules once the export's columns are known
    # (check_resolved_roles, and roles_of_excluded for a column left out).
    for policy in policies.values():
        _check_role(policy, policy.column in key, cursor is not None and policy.column == cursor)
    return policies


def _check_role(policy: ColumnPolicy, is_key: bool, is_cursor: bool) -> None:
    """A primary key column is never excluded, hashed or set NULL; the cursor column never excluded or hashed."""
    role = "a primary key column" if is_key else "the cursor column" if is_cursor else None
    if role is None:
        return
    if policy.exclude:
        raise _fail(policy.column, f"is {role} and cannot be excluded", f"remove exclude, or choose another {role.split(' ', 1)[1]}")
    if policy.hash and is_cursor:
        raise _fail(policy.column, "is the cursor column: a hash has no order", "remove hash, or choose another cursor column")
    if policy.hash and is_key:
        raise _fail(policy.column, "is a primary key column: lakesync does not hash key columns (a new secret "
                    "would change every key, so no row would match the lake's any more)",
                    "remove hash, or choose another primary key")
    if policy.on_invalid == "null" and is_key:
        raise _fail(policy.column, "is a primary key column and cannot be set NULL", "use onInvalid: fail (the default)")


def check_resolved_roles(policies: Mapping[str, ColumnPolicy], key: Sequence[str], cursor: str | None) -> None:
    """The rules of parse_column_policies for the key and cursor columns as the export names them.

    A key or cursor given by its lake name (a column's rename) is found only once the export's
    columns are known: its policy meets the same rules here, before anything is read.
    """
    for column, policy in policies.items():
        _check_role(policy, column in key, column == cursor)


def roles_of_excluded(policies: Mapping[str, ColumnPolicy], key: Sequence[str], cursor: str | None) -> None:
    """A key or cursor the export lacks once its excluded columns are left out, named by the lake name of an
    excluded column ("id" for "ID"), fails with the rule it breaks rather than as an unknown column."""
    for column, policy in policies.items():
        if policy.exclude:
            _check_role(policy, any(k.lower() == column.lower() for k in key),
                        cursor is not None and cursor.lower() == column.lower())


def check_direct_cursor_type(policies: Mapping[str, ColumnPolicy], cursor: str, target: str) -> None:
    """A direct load's cursor keeps its source type: its windows are compared in PostgreSQL, the lake's max in the lake."""
    retyped = [p for c, p in policies.items() if c.lower() == cursor.lower() and p.type]
    if retyped:
        raise InvalidArgument(
            f"--column_policies {cursor + ': type ' + str(retyped[0].type)!r}: a direct load (table {target}) compares "
            "its cursor in PostgreSQL, in the column's own type, with the lake's max(cursor), held in the lake type: the "
            "two orders differ (text '999' > '1000'), so rows would be skipped; remove type from the cursor column's "
            "policy, or load the table from an export"
        )


def check_policy_columns(policies: Mapping[str, ColumnPolicy], columns: Sequence[str], table: str) -> None:
    """Every policy names a column of the table's export (names are case-sensitive)."""
    present = set(columns)
    missing = [c for c in policies if c not in present]
    if not missing:
        return
    listed = ", ".join(columns[:40]) + (", ..." if len(columns) > 40 else "")
    hints = []
    for column in missing:
        near = [c for c in columns if c.lower() == column.lower()]
        if near:
            hints.append(f"{column!r} is spelled {near[0]!r} in the export")
    hint = f" ({'; '.join(hints)})" if hints else ""
    raise InvalidArgument(
        f"--column_policies: table {table} has no column(s) {', '.join(repr(c) for c in missing)}{hint}; "
        f"its columns are: {listed}. Name columns exactly as the export lists them"
    )
