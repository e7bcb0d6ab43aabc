"""Column derivations: how a load derives each written lake column's values from the source's.

A column's policy (columns.<c> in lakesync.yaml: hash and its key, type, onInvalid) decides the values its
rows get; changing it changes the values of the rows loaded from then on, while the column stays written.
An append (a table without a key) matches source rows with the lake's by their values, so lake rows in the
lookback window written the old way would look new and be appended again. Every commit therefore records,
per lake column, the derivations its rows were written with (lineage.DERIVATIONS, accumulated over the loads
like lineage.UNWRITTEN; a create, replace or rebuild starts it again), and an append compares a column
whose rows hold another derivation than the load's relaxed (changes.unseen_rows).

A derivation is a short text: "plain" (no hash, no type, the column's default onInvalid), "hash:<key
fingerprint>" (never the key itself), or "type:<type>;onInvalid:<setting>". A table without a record (loaded
before loads recorded one) is taken to hold the load's own derivations.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from . import lineage
from .args import JobArgs
from .columns import default_on_invalid
from .pgarrays import element_type
from .pgtext import hmac_hex
from .pgtypes import ColumnMapping, pg_kind
from .policies import ColumnPolicy

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("lakesync_glue")

PLAIN = "plain"
# Lake column -> the derivations its rows were written with, sorted; columns only ever written plain left out.
Record = dict[str, list[str]]
_KEY_LABEL = "lakesync column derivation"


def key_fingerprint(key: bytes) -> str:
    """Tells hash keys apart without revealing one: 16 hex digits of HMAC-SHA256(key, a fixed text)."""
    return hmac_hex(key, _KEY_LABEL)[:16]


def derivation(policy: ColumnPolicy, kind: str, key: bytes | None) -> str:
    """The derivation of a written column of PostgreSQL kind `kind` under `policy` (key: the hash key)."""
    if policy.hash:
        assert key is not None, "the key is resolved whenever a column is hashed"
        return f"hash:{key_fingerprint(key)}"
    on_invalid = policy.on_invalid or default_on_invalid(kind, policy.type)
    if policy.type is None and on_invalid == default_on_invalid(kind, None):
        return PLAIN
    return f"type:{policy.type or 'default'};onInvalid:{on_invalid}"


def current(mappings: Sequence[ColumnMapping], names: Sequence[str], policies: Mapping[str, ColumnPolicy],
            key: bytes | None) -> dict[str, str]:
    """The derivation of each column the load writes, by lake name (`names` as `mappings`)."""
    none = ColumnPolicy("")
    return {name: derivation(policies.get(m.column_name, none), _policy_kind(m), key) for m, name in zip(mappings, names)}


def _policy_kind(mapping: ColumnMapping) -> str:
    """The kind whose default onInvalid applies to the column: an array's element's (columns.prepare)."""
    kind = pg_kind(mapping.original_type)[0]
    return pg_kind(element_type(mapping.original_type, mapping.udt_name) or "text")[0] if kind == "array" else kind


def held(before: Record | None, column: str) -> set[str]:
    """The derivations the rows of a lake column were written with; none known without a record."""
    if before is None:
        return set()
    return set(before.get(column, [PLAIN]))


def rederived(before: Record | None, now: Mapping[str, str], compare: Collection[str]) -> set[str]:
    """The columns of `compare` some of whose rows hold another derivation than the load writes."""
    return {c for c in compare if c in now and held(before, c) - {now[c]}}


def after_load(before: Record | None, now: Mapping[str, str], lake_columns: Collection[str], rewrites: bool) -> Record:
    """The record once the load's rows are written: its derivations added to the earlier rows' (only its own
    when it rewrites every row). A column new to the lake holds nothing older; one it leaves unwritten keeps
    its record."""
    kept = {} if rewrites or before is None else {c: set(v) for c, v in before.items()}
    for column, derived in now.items():
        older = held(before, column) if column in lake_columns and not rewrites else set()
        kept[column] = older | {derived}
    return {c: sorted(v) for c, v in sorted(kept.items()) if v != {PLAIN}}


def record_text(record: Record) -> str:
    return json.dumps(record, sort_keys=True)


def parse(text: str | None, ident: str) -> Record | None:
    """A record's text; None when absent or unreadable (with a warning)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        log.warning("table %s has an unreadable %s %r; it is not used", ident, lineage.DERIVATIONS, text)
        return None
    return {str(c): [str(d) for d in v] for c, v in value.items()}


def union(a: Record | None, b: Record | None) -> Record | None:
    """Both records' derivations, column by column (None when neither is known)."""
    if a is None or b is None:
        return a if b is None else b
    return {c: sorted(set(a.get(c, [PLAIN])) | set(b.get(c, [PLAIN]))) for c in sorted(set(a) | set(b))}


def recorded(texts: lineage.RecordTexts, ident: str) -> Record | None:
    """The derivations the lake's rows were written with, from the record's texts (lineage.recorded_texts): the
    newest lakesync commit's with the table property's; None when neither records any."""
    summary, prop = texts
    return union(parse(summary, ident), parse(prop, ident))


def record(spark: "SparkSession", ident: str, args: JobArgs, derived: Record) -> str | None:
    """Sets the table property to `derived`, what the load's commits recorded; a warning when that failed."""
    message = lineage.record_property(spark, ident, lineage.DERIVATIONS, record_text(derived))
    if message is None:
        return None
    return (f"how this load derived its columns was not recorded in the properties of lake table "
            f"{args.lake_table_id} ({message}); its commits record it until snapshot expiry removes them. Check "
            "that the job's role may alter the table")
