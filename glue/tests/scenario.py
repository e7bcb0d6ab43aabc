"""Helpers for load scenarios: successive exports of one table, and lake table inspection."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exportkit import Col, TableData, write_export
from lakesync_glue.query import run_query


class Versions:
    """Writes export after export of one table (each its own export id, as RDS does)."""

    def __init__(self, root: Path, database: str, schema: str, table: str) -> None:
        self.root, self.database, self.schema, self.table = root, database, schema, table
        self.count = 0

    @property
    def target(self) -> str:
        return f"{self.database}.{self.schema}.{self.table}"

    def export(self, columns: Sequence[Col], rows: Sequence[Sequence[Any]], **options: Any) -> str:
        self.count += 1
        data = TableData(self.database, self.schema, self.table, columns, rows, **options)
        return write_export(self.root, [data], export_id=f"export-{self.table.lower()}-{self.count}").path


def lake_rows(spark: Any, table: str, order: str = "id") -> list[dict[str, Any]]:
    return run_query(spark, f"SELECT * FROM lake.tests.{table} ORDER BY {order}")


def snapshots(spark: Any, table: str) -> list[dict[str, Any]]:
    """The table's snapshots, oldest first, with the summary map decoded."""
    rows = run_query(
        spark,
        f"SELECT CAST(snapshot_id AS STRING) AS id, operation, summary FROM lake.tests.{table}.snapshots ORDER BY committed_at",
    )
    return [{**r, "summary": json.loads(r["summary"])} for r in rows]


def current_snapshot(spark: Any, table: str) -> str | None:
    rows = run_query(spark, f"SELECT CAST(snapshot_id AS STRING) AS id FROM lake.tests.{table}.refs WHERE name = 'main'")
    return rows[0]["id"] if rows else None
