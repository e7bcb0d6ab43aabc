"""What the job reads from the lake table itself (the lake is the truth)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import sqltext
from .names import quote, sql_string
from .query import format_value
from .schema import Column

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def exists(spark: "SparkSession", catalog: str, namespace: str, table: str) -> bool:
    # Names are validated (lowercase letters, digits, underscores), so the dotted form parses.
    return bool(spark.catalog.tableExists(f"{catalog}.{namespace}.{table}"))


def columns(spark: "SparkSession", ident: str) -> list[Column]:
    return [(f.name, f.dataType.simpleString()) for f in spark.table(ident).schema.fields]


def holds_no_value(spark: "SparkSession", ident: str, column: str) -> bool:
    """Whether every row of the lake table has NULL in `column` (or the table has no row)."""
    return not spark.sql(f"SELECT 1 FROM {ident} WHERE {quote(column)} IS NOT NULL LIMIT 1").collect()


def _iceberg_table(spark: "SparkSession", catalog: str, namespace: str, table: str) -> Any:
    """The Iceberg table object through the JVM, freshly loaded (the catalog caches nothing): metadata, no Spark job."""
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    gateway = spark.sparkContext._gateway  # type: ignore[attr-defined]
    names = gateway.new_array(jvm.java.lang.String, 1)
    names[0] = namespace
    identifier = jvm.org.apache.spark.sql.connector.catalog.Identifier.of(names, table)
    spark_catalog = spark._jsparkSession.sessionState().catalogManager().catalog(catalog)  # type: ignore[attr-defined]
    return spark_catalog.loadTable(identifier).table()


def snapshot_id(spark: "SparkSession", ident: str, catalog: str, namespace: str, table: str) -> str | None:
    """The table's current snapshot id as a string (None before its first snapshot).

    Asked from the Iceberg table object through the JVM (no Spark job); the `refs`
    metadata table answers the same when that API is not reachable.
    """
    try:
        snapshot = _iceberg_table(spark, catalog, namespace, table).currentSnapshot()
        return None if snapshot is None else str(snapshot.snapshotId())
    except Exception:  # noqa: BLE001 - fall back to SQL on any JVM access problem
        rows = spark.sql(sqltext.current_snapshot(ident)).collect()
        return str(rows[0][0]) if rows and rows[0][0] is not None else None


def added_columns(spark: "SparkSession", catalog: str, namespace: str, table: str) -> set[str]:
    """The current top-level columns the table's first schema did not have (added by a later load).

    Rows written before such a column was added read NULL in it, whatever the source held. Read
    from the table's schema history (Iceberg field ids, so a column dropped and added again counts
    as added); empty when that history cannot be read.
    """
    try:
        iceberg = _iceberg_table(spark, catalog, namespace, table)
        schemas = iceberg.schemas()
        first = schemas.get(min(int(i) for i in schemas.keySet()))
        first_ids = {int(f.fieldId()) for f in first.columns()}
        return {str(f.name()) for f in iceberg.schema().columns() if int(f.fieldId()) not in first_ids}
    except Exception:  # noqa: BLE001 - without the history every column is compared as it reads
        return set()


@dataclass(frozen=True)
class SnapshotEntry:
    """One snapshot of a lake table: its parent's id and the asked keys of its summary (None: absent)."""

    parent: str | None
    summary: dict[str, str | None]


class Snapshots:
    """A lake table's snapshots by id, with the given summary keys.

    Read from the Iceberg table object through the JVM, which takes no Spark job (a small table's
    load is mostly such fixed work); the `snapshots` metadata table answers the same, in one query,
    when that API is not reachable.
    """

    def __init__(self, spark: "SparkSession", ident: str, catalog: str, namespace: str, table: str,
                 keys: Sequence[str]) -> None:
        self._spark, self._ident, self._keys = spark, ident, tuple(keys)
        self._rows: dict[str, SnapshotEntry] | None = None
        try:
            self._table: Any = _iceberg_table(spark, catalog, namespace, table)
        except Exception:  # noqa: BLE001 - fall back to SQL on any JVM access problem
            self._table = None

    def get(self, snapshot_id: str) -> SnapshotEntry | None:
        """The snapshot `snapshot_id` (a decimal id), None when the table has no such snapshot."""
        if self._table is not None:
            try:
                snapshot = self._table.snapshot(int(snapshot_id))
                if snapshot is None:
                    return None
                parent, summary = snapshot.parentId(), snapshot.summary()
                return SnapshotEntry(None if parent is None else str(parent),
                                     {k: _text_or_none(summary.get(k)) for k in self._keys})
            except Exception:  # noqa: BLE001 - the metadata table answers instead
                self._table = None
        return self._queried().get(snapshot_id)

    def _queried(self) -> dict[str, SnapshotEntry]:
        if self._rows is None:
            columns = "".join(f", summary[{sql_string(k)}]" for k in self._keys)
            rows = self._spark.sql(
                f"SELECT CAST(snapshot_id AS STRING), CAST(parent_id AS STRING){columns} FROM {self._ident}.{quote('snapshots')}"
            ).collect()
            self._rows = {row[0]: SnapshotEntry(row[1], dict(zip(self._keys, row[2:]))) for row in rows}
        return self._rows


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def properties(spark: "SparkSession", ident: str) -> dict[str, str]:
    """The table's properties (metadata only, no Spark job)."""
    return {str(row[0]): str(row[1]) for row in spark.sql(f"SHOW TBLPROPERTIES {ident}").collect()}


def row_count(spark: "SparkSession", ident: str) -> int:
    return int(spark.sql(sqltext.count_rows(ident)).collect()[0][0])


def max_value(spark: "SparkSession", ident: str, column: str) -> str | None:
    """max(column) as a string (ISO-8601 for timestamps), None for an empty table."""
    return format_value(spark, spark.sql(sqltext.max_value(ident, column)))


def min_value(spark: "SparkSession", ident: str, column: str) -> str | None:
    """min(column) as max_value gives a value, None for an empty table."""
    return format_value(spark, spark.sql(sqltext.min_value(ident, column)))


def later(spark: "SparkSession", type_name: str, value: str | None, than: str) -> bool:
    """Whether a value of a column (as max_value gives it) lies past another, compared in the column's
    type (9 before 10, times by instant); False when either does not read as that type."""
    if value is None or value == than or not type_name:
        return False
    typed = lambda v: f"TRY_CAST({sql_string(v)} AS {type_name})"  # noqa: E731 - one expression
    return bool(spark.sql(f"SELECT coalesce({typed(value)} > {typed(than)}, FALSE) AS v").collect()[0]["v"])


def schema_hash(cols: list[Column]) -> str:
    """sha256 of the lake table's column names and types, in order."""
    text = json.dumps([[n, t] for n, t in cols], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
