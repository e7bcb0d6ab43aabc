"""Synthetic RDS snapshot exports for the benchmarks: one `orders` table in the exact RDS layout.

The layout and encodings are those of an RDS export: `export_info_<id>.json`,
`export_tables_info_<id>_from_1_to_1.json`, data under `<db>/<schema>.<table>/<batch>/` in two batch
folders with gapped part numbers, gzip Parquet, integers native and numerics, enums and
timestamps as UTF-8 text. Rows are generated and written one chunk at a time, so an export of
tens of millions of rows needs the memory of one chunk only.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATABASE, SCHEMA, TABLE = "shop", "public", "orders"
# (column, PostgreSQL type, RDS expectedExportedType, originalNumPrecision)
MAPPINGS = [
    ("id", "bigint", "int64", 64),
    ("customer_id", "bigint", "int64", 64),
    ("status", "USER-DEFINED", "binary (UTF8)", 0),
    ("amount", "numeric", "binary (UTF8)", 12),
    ("created_at", "timestamp with time zone", "binary (UTF8)", 0),
    ("updated_at", "timestamp without time zone", "binary (UTF8)", 0),
    ("note", "text", "binary (UTF8)", 0),
]
STATUSES = np.array(["new", "paid", "shipped", "cancelled", "returned"])
CHUNK_ROWS = 500_000


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    return np.char.replace(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), "T", " ")


def _amounts(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def order_rows(rng: np.random.Generator, ids: np.ndarray, version: int = 0) -> dict[str, Any]:
    """Rows of `orders` as PostgreSQL prints them: numeric(12,2) amounts, timestamps as text."""
    n = len(ids)
    created = 1_700_000_000 + ids * 7
    return {
        "id": ids,
        "customer_id": rng.integers(1, 50_000, n),
        "status": STATUSES[rng.integers(0, len(STATUSES), n)],
        "amount": _amounts(rng.integers(0, 10_000_000, n)),
        "created_at": np.char.add(_timestamps(created), "+00"),
        "updated_at": _timestamps(created + version * 3600),
        "note": np.char.add("order note ", ids.astype(str)),
    }


def arrow_schema() -> pa.Schema:
    types = {"int64": pa.int64(), "binary (UTF8)": pa.string()}
    return pa.schema([pa.field(name, types[exported]) for name, _t, exported, _p in MAPPINGS])


def orders_table(columns: dict[str, Any]) -> pa.Table:
    """Rows of `orders` (as `order_rows` makes them) as an Arrow table in the export's column order and types."""
    return pa.Table.from_pydict({name: columns[name] for name, *_ in MAPPINGS}, schema=arrow_schema())


def _chunks(rows: int, seed: int) -> Iterator[pa.Table]:
    rng = np.random.default_rng(seed)
    for start in range(1, rows + 1, CHUNK_ROWS):
        ids = np.arange(start, min(rows, start + CHUNK_ROWS - 1) + 1, dtype=np.int64)
        yield orders_table(order_rows(rng, ids))


def write_info(export: Path, export_id: str) -> None:
    """The export's JSON files, as RDS writes them for one COMPLETE table."""
    mappings = [
        {"columnName": n, "originalType": t, "expectedExportedType": e, "originalCharMaxLength": 0,
         "originalNumPrecision": p, "originalDateTimePrecision": 6 if "time" in t else 0}
        for n, t, e, p in MAPPINGS
    ]
    info = {"perTableStatus": [{"target": f"{DATABASE}.{SCHEMA}.{TABLE}", "status": "COMPLETE", "sizeGB": 0.1,
                                "schemaMetadata": {"originalTypeMappings": mappings}}]}
    (export / f"export_tables_info_{export_id}_from_1_to_1.json").write_text(json.dumps(info))
    (export / f"export_info_{export_id}.json").write_text(json.dumps({"exportTaskIdentifier": export_id, "status": "COMPLETE"}))


def write_orders_export(root: Path, export_id: str, rows: int, parts: int = 4, seed: int = 20240501) -> tuple[str, list[str]]:
    """An export of `rows` generated orders (ids 1..rows) in `parts` part files over 2 batch folders.

    Returns the export folder and its data files (in id order).
    """
    return write_export(root, export_id, _chunks(rows, seed), rows, parts)


def write_export(root: Path, export_id: str, chunks: Iterable[pa.Table], rows: int, parts: int = 4,
                 every_part: bool = False) -> tuple[str, list[str]]:
    """An export of the `rows` rows of `chunks` (`orders_table`s, in order) in `parts` part files over 2 batch folders.

    With `every_part`, all `parts` files are written even when a tiny export leaves the last ones empty.
    Returns the export folder and its data files (in row order).
    """
    export = root / export_id
    per_part = max(1, -(-rows // parts))
    files: list[str] = []
    writer: pq.ParquetWriter | None = None
    in_part = 0
    part = 0

    def open_part(index: int) -> pq.ParquetWriter:
        folder = export / DATABASE / f"{SCHEMA}.{TABLE}" / str(1 + index * 2 // parts)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{index * 3:05d}-{uuid.uuid4()}.gz.parquet"
        files.append(str(path))
        return pq.ParquetWriter(path, arrow_schema(), compression="gzip")

    try:
        for chunk in chunks:
            offset = 0
            while offset < chunk.num_rows:
                if writer is None:
                    writer, in_part = open_part(part), 0
                take = min(per_part - in_part, chunk.num_rows - offset)
                writer.write_table(chunk.slice(offset, take))
                offset += take
                in_part += take
                if in_part >= per_part:
                    writer.close()
                    writer, part = None, part + 1
        if writer is not None:
            writer.close()
            writer, part = None, part + 1
        while every_part and part < parts:
            writer = open_part(part)
            writer.write_table(arrow_schema().empty_table())
            writer.close()
            writer, part = None, part + 1
    finally:
        if writer is not None:
            writer.close()
    write_info(export, export_id)
    return str(export), files
