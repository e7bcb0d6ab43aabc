"""The arguments of a DynamoDB load (`--source_format dynamodb`): parsing and validation. Pure.

`--dynamodb_exports` lists the table's exports oldest first (one FULL, or INCREMENTAL windows
that follow each other), `--dynamodb_key` the key schema and `--dynamodb_attributes` the declared
attributes with their lake types. Everything is checked before any Spark work.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .errors import InvalidArgument
from .policies import ColumnPolicy

KEY_TYPES: tuple[str, ...] = ("S", "N", "B")
EXPORT_TYPES: tuple[str, ...] = ("FULL", "INCREMENTAL")
ATTRIBUTE_TYPES: tuple[str, ...] = ("string", "bigint", "int", "double", "boolean", "binary", "json")
# Lake types a policy `type` may set on a key or declared attribute.
POLICY_TYPES: tuple[str, ...] = ("string", "bigint", "int", "double", "boolean")
# Lake type of a key attribute nobody declared.
DEFAULT_KEY_TYPES: dict[str, str] = {"S": "string", "N": "decimal(38,0)", "B": "binary"}
ATTRIBUTES_COLUMN = "_attributes"
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")


@dataclass(frozen=True)
class DynamoExport:
    export_id: str
    type: str  # FULL | INCREMENTAL
    from_time: str | None
    to_time: str
    location: str
    item_count: int | None


@dataclass(frozen=True)
class DynamoKey:
    name: str
    type: str  # S | N | B


@dataclass(frozen=True)
class DynamoArgs:
    exports: tuple[DynamoExport, ...]
    key: tuple[DynamoKey, ...]
    attributes: tuple[tuple[str, str], ...]  # declared attribute -> lake type, in the order given

    @property
    def full(self) -> bool:
        return self.exports[0].type == "FULL"

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.key)


def _fail(name: str, problem: str, fix: str) -> InvalidArgument:
    return InvalidArgument(f"--{name}: {problem}; {fix}")


def _json(name: str, raw: str, example: str) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _fail(name, f"is not valid JSON ({exc.msg} at character {exc.pos})", f"pass e.g. {example}") from None


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def normalize_attribute_type(raw: object) -> str | None:
    """The lake type a declaration names (`decimal(p,s)` with p 1-38, s 0-p, or one of ATTRIBUTE_TYPES)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    if text in ATTRIBUTE_TYPES:
        return text
    m = _DECIMAL.fullmatch(text)
    if m and 1 <= int(m.group(1)) <= 38 and 0 <= int(m.group(2)) <= int(m.group(1)):
        return f"decimal({int(m.group(1))},{int(m.group(2))})"
    return None


def key_type_problem(key_type: str, lake_type: str) -> str | None:
    """Why a key attribute of `key_type` cannot be written as `lake_type` (None when it can)."""
    allowed = {"S": ("string",), "N": ("bigint", "int", "string"), "B": ("binary",)}[key_type]
    if lake_type in allowed or (key_type == "N" and lake_type.startswith("decimal(")):
        return None
    return f"a key of type {key_type} cannot be {lake_type} (use {' or '.join(allowed + (('decimal(p,s)',) if key_type == 'N' else ()))})"


_NUMBER_TYPES = ("bigint", "int", "double")


def is_number_type(lake_type: str) -> bool:
    return lake_type in _NUMBER_TYPES or lake_type.startswith("decimal(")


def declared_cast_problem(declared: str, type_: str) -> str | None:
    """Why a policy's `type_` cannot read a declared (non-key) attribute of lake type `declared` (None when it
    can: a number or a string as a number or text, a boolean as text; dynamodb_json.declared_tags)."""
    if type_ == declared:
        return None
    if (is_number_type(declared) or declared == "string") and (is_number_type(type_) or type_ == "string"):
        return None
    if declared == "boolean" and type_ == "string":
        return None
    if declared == "binary":
        return "binary has no one text (base64, hex or UTF-8) and no number"
    if declared == "json":
        return "a json attribute is already stored as text, its DynamoDB JSON"
    if declared == "boolean":
        return "a boolean is no number"
    return f"which {declared} values would be true is a guess"


def _parse_exports(raw: str) -> tuple[DynamoExport, ...]:
    name, example = "dynamodb_exports", '[{"exportId": "e1", "type": "FULL", "to": "2025-01-01T00:00:00Z", "location": "s3://bucket/prefix/e1"}]'
    document = _json(name, raw, example)
    if not isinstance(document, list) or not document:
        raise _fail(name, "must be a non-empty JSON array of exports, oldest first", f"pass e.g. {example}")
    exports: list[DynamoExport] = []
    for i, entry in enumerate(document):
        where = f"export {i + 1} of {len(document)}"
        if not isinstance(entry, dict):
            raise _fail(name, f"{where} is not an object", f"pass e.g. {example}")
        export_id, type_, location = entry.get("exportId"), entry.get("type"), entry.get("location")
        if not isinstance(export_id, str) or not export_id.strip():
            raise _fail(name, f"{where} has no exportId", "give every export its id")
        if type_ not in EXPORT_TYPES:
            raise _fail(name, f"export {export_id!r} has type {json.dumps(type_)}", f"use one of {', '.join(EXPORT_TYPES)}")
        if not isinstance(location, str) or not location.strip():
            raise _fail(name, f"export {export_id!r} has no location", "pass the folder holding manifest-summary.json and data/")
        if re.match(r"^[a-z][a-z0-9+.-]*://", location) and not location.startswith("s3://"):
            raise _fail(name, f"export {export_id!r} has location {location!r} with an unsupported scheme",
                        "pass an s3:// location or a local path")
        to_time = entry.get("to")
        if _time(to_time) is None:
            raise _fail(name, f"export {export_id!r} has no 'to' time with a zone ({json.dumps(to_time)})",
                        "pass ISO-8601 such as 2025-01-01T00:00:00Z")
        from_time = entry.get("from")
        if type_ == "INCREMENTAL" and _time(from_time) is None:
            raise _fail(name, f"incremental export {export_id!r} has no 'from' time with a zone ({json.dumps(from_time)})",
                        "pass ISO-8601 such as 2025-01-01T00:00:00Z")
        count = entry.get("itemCount")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise _fail(name, f"export {export_id!r} has itemCount {json.dumps(count)}", "pass a count >= 0 or leave it out")
        exports.append(DynamoExport(export_id.strip(), str(type_), str(from_time) if from_time is not None else None,
                                    str(to_time), location.strip().rstrip("/") or "/", count))
    if exports[0].type == "FULL" and len(exports) > 1:
        raise _fail(name, f"a FULL export ({exports[0].export_id}) comes alone, {len(exports)} exports were given",
                    "pass one FULL export, or INCREMENTAL windows only")
    if any(e.type == "FULL" for e in exports[1:]):
        raise _fail(name, "a FULL export follows incremental ones", "pass one FULL export, or INCREMENTAL windows only")
    for before, after in zip(exports, exports[1:]):
        # Windows must follow each other: a gap would lose the changes made in it.
        if _time(after.from_time) != _time(before.to_time):
            raise _fail(name, f"incremental export {after.export_id} starts at {after.from_time}, not where "
                        f"{before.export_id} ends ({before.to_time})", "pass windows oldest first, each starting where the previous ends")
    return tuple(exports)


def _parse_key(raw: str) -> tuple[DynamoKey, ...]:
    name, example = "dynamodb_key", '[{"name": "pk", "type": "S"}, {"name": "sk", "type": "N"}]'
    document = _json(name, raw, example)
    if not isinstance(document, list) or not 1 <= len(document) <= 2:
        raise _fail(name, "must be a JSON array of the partition key and the optional sort key", f"pass e.g. {example}")
    keys: list[DynamoKey] = []
    for entry in document:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise _fail(name, f"{json.dumps(entry)} has no attribute name", f"pass e.g. {example}")
        if entry.get("type") not in KEY_TYPES:
            raise _fail(name, f"key attribute {entry['name']!r} has type {json.dumps(entry.get('type'))}",
                        f"use one of {', '.join(KEY_TYPES)} (DynamoDB key types)")
        keys.append(DynamoKey(entry["name"], entry["type"]))
    if len({k.name for k in keys}) != len(keys):
        raise _fail(name, f"names attribute {keys[0].name!r} twice", "list the partition key, then the sort key")
    return tuple(keys)


def _parse_attributes(raw: str, keys: Sequence[DynamoKey]) -> tuple[tuple[str, str], ...]:
    name, example = "dynamodb_attributes", '{"total": "decimal(12,2)", "status": "string"}'
    if raw.strip() == "":
        return ()
    document = _json(name, raw, example)
    if not isinstance(document, dict):
        raise _fail(name, "must be a JSON object of attribute -> lake type", f"pass e.g. {example} (or {{}})")
    key_types = {k.name: k.type for k in keys}
    out: list[tuple[str, str]] = []
    for attribute, declared in document.items():
        if not attribute:
            raise _fail(name, "declares an attribute with an empty name", "name attributes exactly as DynamoDB does")
        lake_type = normalize_attribute_type(declared)
        if lake_type is None:
            raise _fail(name, f"attribute {attribute!r} has type {json.dumps(declared)}",
                        f"use decimal(p,s) (p 1-38, s 0-p) or one of {', '.join(ATTRIBUTE_TYPES)}")
        if attribute in key_types:
            problem = key_type_problem(key_types[attribute], lake_type)
            if problem:
                raise _fail(name, f"key attribute {attribute!r}: {problem}", "declare a type its key type holds")
        out.append((attribute, lake_type))
    return tuple(out)


def _check_policies(policies: Mapping[str, ColumnPolicy], keys: Sequence[DynamoKey],
                    attributes: Sequence[tuple[str, str]], target: str) -> None:
    key_names = {k.name for k in keys}
    typed = key_names | {a for a, _ in attributes}
    for column, policy in policies.items():
        if policy.exclude:
            if column in key_names:
                raise InvalidArgument(f"--column_policies: attribute {column!r} of {target} is a key attribute and "
                                      "cannot be excluded; remove exclude")
            continue
        if column not in typed:
            raise InvalidArgument(
                f"--column_policies: attribute {column!r} of {target} is neither a key nor a declared attribute, so "
                "hash, rename, type and onInvalid cannot apply (it stays in _attributes); declare it under "
                "attributes, or use exclude"
            )
        if column in key_names and (policy.hash or policy.on_invalid == "null"):
            raise InvalidArgument(f"--column_policies: attribute {column!r} of {target} is a key attribute: it "
                                  "cannot be hashed or set NULL; remove hash/onInvalid")
        if policy.on_invalid == "clamp":
            raise InvalidArgument(f"--column_policies: attribute {column!r} of {target}: onInvalid clamp applies "
                                  "to dates and timestamps, which DynamoDB has not; use fail or null")
        if policy.type is not None and policy.type not in POLICY_TYPES and not policy.type.startswith("decimal("):
            raise InvalidArgument(f"--column_policies: attribute {column!r} of {target}: type {policy.type} does not "
                                  f"apply to DynamoDB values; use decimal(p,s) or one of {', '.join(POLICY_TYPES)}")
        if column in key_names and policy.type is not None:
            key_type = next(k.type for k in keys if k.name == column)
            problem = key_type_problem(key_type, policy.type)
            if problem:
                raise InvalidArgument(f"--column_policies: key attribute {column!r} of {target}: {problem}")
        elif policy.type is not None and not policy.hash:
            declared = dict(attributes)[column]
            problem = declared_cast_problem(declared, policy.type)
            if problem:
                raise InvalidArgument(
                    f"--column_policies: attribute {column!r} of {target} is declared {declared}, and type "
                    f"{policy.type} cannot be cast from it ({problem}); declare it {policy.type} under attributes "
                    "if its DynamoDB values are of that type, or remove type"
                )


def _primary_key_refusal(primary_key: Sequence[str], keys: Sequence[DynamoKey], target: str) -> InvalidArgument:
    """--primary_key that is not the key of --dynamodb_key. It is split at commas, which a DynamoDB
    attribute name may hold: such a key is passed in --dynamodb_key only."""
    comma = [k.name for k in keys if "," in k.name]
    if comma:
        return InvalidArgument(
            f"--primary_key {','.join(primary_key)!r} is split at commas, and key attribute {comma[0]!r} of {target} "
            "has one in its name; leave --primary_key out: a DynamoDB load takes its key from --dynamodb_key"
        )
    return InvalidArgument(f"--primary_key {','.join(primary_key)!r} is not the key of {target} "
                           f"({', '.join(k.name for k in keys)} in --dynamodb_key); pass the table's key attributes, "
                           "or leave --primary_key out (the key is taken from --dynamodb_key)")


def parse_dynamodb_args(options: Mapping[str, str], action: str, primary_key: Sequence[str],
                        policies: Mapping[str, ColumnPolicy], export_id: str, snapshot_time: str,
                        target: str) -> DynamoArgs:
    """The DynamoDB arguments of a load, checked against each other and the common ones."""

    def get(name: str) -> str:
        return str(options.get(name, "") or "").strip()

    for name in ("extract", "cursor_column", "cursor_mode", "cursor_lookback", "export_path"):
        if get(name) and not (name == "extract" and get(name).lower() == "export"):
            raise InvalidArgument(f"--{name} {get(name)!r} does not apply to DynamoDB loads (table {target}); "
                                  "a DynamoDB table loads from its exports (--dynamodb_exports): leave it out")
    exports = _parse_exports(get("dynamodb_exports"))
    keys = _parse_key(get("dynamodb_key"))
    attributes = _parse_attributes(get("dynamodb_attributes"), keys)
    if primary_key and sorted(primary_key) != sorted(k.name for k in keys):
        raise _primary_key_refusal(primary_key, keys, target)
    full = exports[0].type == "FULL"
    if full and action not in ("create", "replace"):
        raise InvalidArgument(f"--action {action}: a FULL export of {target} creates or replaces the table; pass "
                              "--action create or replace (merge applies INCREMENTAL exports)")
    if not full and action != "merge":
        raise InvalidArgument(f"--action {action}: INCREMENTAL exports of {target} hold changes only, so they are "
                              "merged; pass --action merge (a FULL export creates or replaces the table)")
    last = exports[-1]
    if last.export_id != export_id or _time(last.to_time) != _time(snapshot_time):
        raise InvalidArgument(
            f"--export_id {export_id!r} / --snapshot_time {snapshot_time!r} are not the last export of "
            f"--dynamodb_exports ({last.export_id!r} to {last.to_time}); the lineage records the last export: pass its id and 'to'"
        )
    _check_policies(policies, keys, attributes, target)
    return DynamoArgs(exports, keys, attributes)
