"""What the job reads from the lake table itself (the lake is the truth)."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from . import sqltext
from .query import format_value
from .schema import Column

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def exists(spark: "SparkSession", catalog: str, namespace: str, table: str) -> bool:
    # Names are validated (lowercase letters, digits, underscores), so the dotted form parses.
    return bool(spark.catalog.tableExists(f"{catalog}.{namespace}.{table}"))


def columns(spark: "SparkSession", ident: str) -> list[Column]:
    return [(f.name, f.dataType.simpleString()) for f in spark.table(ident).schema.fields]


def snapshot_id(spark: "SparkSession", ident: str, catalog: str, namespace: str, table: str) -> str | None:
    """The table's current snapshot id as a string (None before its first snapshot).

    Asked from the Iceberg table object through the JVM (no Spark job); the `refs`
    metadata table answers the same when that API is not reachable.
    """
    try:
        jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
        gateway = spark.sparkContext._gateway  # type: ignore[attr-defined]
        names = gateway.new_array(jvm.java.lang.String, 1)
        names[0] = namespace
        identifier = jvm.org.apache.spark.sql.connector.catalog.Identifier.of(names, table)
        spark_catalog = spark._jsparkSession.sessionState().catalogManager().catalog(catalog)  # type: ignore[attr-defined]
        snapshot = spark_catalog.loadTable(identifier).table().currentSnapshot()
        return None if snapshot is None else str(snapshot.snapshotId())
    except Exception:  # noqa: BLE001 - fall back to SQL on any JVM access problem
        rows = spark.sql(sqltext.current_snapshot(ident)).collect()
        return str(rows[0][0]) if rows and rows[0][0] is not None else None


def properties(spark: "SparkSession", ident: str) -> dict[str, str]:
    """The table's properties (metadata only, no Spark job)."""
    return {str(row[0]): str(row[1]) for row in spark.sql(f"SHOW TBLPROPERTIES {ident}").collect()}


def row_count(spark: "SparkSession", ident: str) -> int:
    return int(spark.sql(sqltext.count_rows(ident)).collect()[0][0])


def max_value(spark: "SparkSession", ident: str, column: str) -> str | None:
    """max(column) as a string (ISO-8601 for timestamps), None for an empty table."""
    return format_value(spark, spark.sql(sqltext.max_value(ident, column)))


def schema_hash(cols: list[Column]) -> str:
    """sha256 of the lake table's column names and types, in order."""
    text = json.dumps([[n, t] for n, t in cols], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
