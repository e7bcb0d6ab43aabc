"""Writes test exports in the exact RDS snapshot export layout and encodings.

Layout: <root>/<exportId>/export_info_<exportId>.json, export_tables_info_<exportId>_from_<i>_to_<j>.json,
and <db>/<schema>.<table>/<batch>/part-<n>-<uuid>.gz.parquet (or without the batch folder, the older layout).
Encodings: integers, double, real, boolean and bytea as native Parquet types; numeric, money,
date, time, timestamp(tz), interval, json, uuid, arrays, enums and text as UTF-8 strings.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_NATIVE = {
    "smallint": ("int32", 16),
    "integer": ("int32", 32),
    "bigint": ("int64", 64),
    "real": ("float", 24),
    "double precision": ("double", 53),
    "boolean": ("boolean", None),
    "bytea": ("binary", None),
}
_ARROW = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "binary": pa.binary(),
    "binary (UTF8)": pa.string(),
}


@dataclass(frozen=True)
class Col:
    """One column: its PostgreSQL type as information_schema names it, plus RDS's mapping fields."""

    name: str
    original_type: str
    exported: str
    num_precision: int | None = None
    datetime_precision: int | None = None
    char_max_length: int | None = None
    num_scale: int | None = None  # not written by RDS; the embedded exporter may add it
    domain_name: str | None = None  # not written by RDS either; the embedded exporter adds it

    def mapping(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "columnName": self.name,
            "originalType": self.original_type,
            "expectedExportedType": self.exported,
            "originalCharMaxLength": self.char_max_length or 0,
            "originalNumPrecision": self.num_precision or 0,
            "originalDateTimePrecision": self.datetime_precision or 0,
        }
        if self.num_scale is not None:
            entry["originalNumScale"] = self.num_scale
        if self.domain_name is not None:
            entry["originalDomainName"] = self.domain_name
        return entry


def col(name: str, pg_type: str) -> Col:
    """A column from a PostgreSQL type as written in DDL: 'numeric(12,2)', 'varchar(20)', 'timestamptz'."""
    text = pg_type.strip().lower()
    params = [int(x) for x in re.findall(r"\d+", text.split("(", 1)[1])] if "(" in text else []
    base = re.sub(r"\(.*?\)", "", text).strip()
    aliases = {
        "int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint", "float8": "double precision",
        "float4": "real", "bool": "boolean", "varchar": "character varying", "char": "character",
        "timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
        "time": "time without time zone", "timetz": "time with time zone", "decimal": "numeric",
    }
    if base.endswith("[]"):
        return Col(name, "ARRAY", "binary (UTF8)")
    base = aliases.get(base, base)
    if base in _NATIVE:
        exported, precision = _NATIVE[base]
        return Col(name, base, exported, num_precision=precision)
    if base == "numeric":
        return Col(name, "numeric", "binary (UTF8)", num_precision=params[0] if params else None)
    if base in ("character varying", "character"):
        return Col(name, base, "binary (UTF8)", char_max_length=params[0] if params else None)
    if base.startswith(("timestamp", "time")):
        return Col(name, base, "binary (UTF8)", datetime_precision=params[0] if params else 6)
    if base in ("enum", "user-defined"):
        return Col(name, "USER-DEFINED", "binary (UTF8)")
    return Col(name, base, "binary (UTF8)")


@dataclass
class TableData:
    database: str
    schema: str
    table: str
    columns: Sequence[Col]
    rows: Sequence[Sequence[Any]]
    batches: int = 1  # batch folders 1/, 2/, ...; 0 = the older layout without batch folders
    parts_per_batch: int = 1
    part_gaps: bool = False  # part numbers 0, 2, 5, ... instead of 0, 1, 2
    status: str = "COMPLETE"
    write_empty_part: bool = False  # an empty table: one part with no rows (default: no file at all)

    @property
    def target(self) -> str:
        return f"{self.database}.{self.schema}.{self.table}"


@dataclass
class Export:
    path: str
    export_id: str
    data_files: dict[str, list[str]] = field(default_factory=dict)


def _arrow_table(columns: Sequence[Col], rows: Sequence[Sequence[Any]]) -> pa.Table:
    arrays = []
    for i, c in enumerate(columns):
        arrays.append(pa.array([r[i] for r in rows], type=_ARROW[c.exported]))
    schema = pa.schema([pa.field(c.name, _ARROW[c.exported], nullable=True) for c in columns])
    return pa.Table.from_arrays(arrays, schema=schema)


def _chunks(rows: Sequence[Sequence[Any]], n: int) -> list[Sequence[Sequence[Any]]]:
    size = max(1, -(-len(rows) // n)) if rows else 1
    return [rows[i * size:(i + 1) * size] for i in range(n)]


def rds_path_name(name: str) -> str:
    """RDS writes backslash, backtick, double quote and space in names as "_" in the export's paths."""
    return re.sub(r'[\\`" ]', "_", name)


def write_table_data(export_root: Path, t: TableData) -> list[str]:
    folder = export_root / rds_path_name(t.database) / rds_path_name(f"{t.schema}.{t.table}")
    written: list[str] = []
    if not t.rows and not t.write_empty_part:
        folder.mkdir(parents=True, exist_ok=True)
        return written
    batch_names = [str(b + 1) for b in range(t.batches)] if t.batches else [""]
    per_batch = _chunks(list(t.rows), len(batch_names))
    for batch, batch_rows in zip(batch_names, per_batch):
        target = folder / batch if batch else folder
        target.mkdir(parents=True, exist_ok=True)
        for part_index, part_rows in enumerate(_chunks(list(batch_rows), t.parts_per_batch)):
            number = part_index * (part_index + 1) // 2 + part_index if t.part_gaps else part_index
            path = target / f"part-{number:05d}-{uuid.uuid4()}.gz.parquet"
            pq.write_table(_arrow_table(t.columns, part_rows), path, compression="gzip")
            written.append(str(path))
    return written


def write_export(root: Path, tables: Sequence[TableData], export_id: str = "lakesync-test-export",
                 info_files: int = 1) -> Export:
    """Writes a whole export under root/<export_id>; the tables' entries are split over `info_files` files."""
    export_root = root / export_id
    export_root.mkdir(parents=True, exist_ok=True)
    databases = sorted({t.database for t in tables})
    (export_root / f"export_info_{export_id}.json").write_text(json.dumps({
        "exportTaskIdentifier": export_id,
        "sourceArn": "arn:aws:rds:us-east-1:123456789012:snapshot:lakesync-test",
        "exportOnly": [],
        "snapshotTime": "2024-05-01T10:00:00.000Z",
        "taskStartTime": "2024-05-01T10:05:00.000Z",
        "taskEndTime": "2024-05-01T10:20:00.000Z",
        "s3Bucket": "exports",
        "s3Prefix": "rds",
        "exportedFilesPath": f"rds/{export_id}",
        "iamRoleArn": "arn:aws:iam::123456789012:role/export",
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "status": "COMPLETE",
        "percentProgress": 100,
        "totalExportedDataInGB": 0.001,
    }))
    result = Export(str(export_root), export_id)
    entries: list[dict[str, Any]] = [{"target": db, "warningMessage": "None"} for db in databases]
    for t in tables:
        files = write_table_data(export_root, t)
        result.data_files[t.target] = files
        entries.append({
            "tableStatistics": {
                "extractionStartTime": "2024-05-01T10:06:00.000Z",
                "extractionEndTime": "2024-05-01T10:07:00.000Z",
                "partitioningInfo": {"numberOfPartitions": max(1, len(files)), "numberOfCompletedPartitions": max(1, len(files))},
            },
            "schemaMetadata": {"originalTypeMappings": [c.mapping() for c in t.columns]},
            "status": t.status,
            # RDS writes no file for an empty table, and reports no data for it.
            "sizeGB": 0.0001 if files else 0.0,
            "target": t.target,
        })
    per_file = -(-len(entries) // info_files)
    for i in range(info_files):
        chunk = entries[i * per_file:(i + 1) * per_file]
        first, last = i * per_file + 1, i * per_file + len(chunk)
        name = f"export_tables_info_{export_id}_from_{first}_to_{last}.json"
        (export_root / name).write_text(json.dumps({"perTableStatus": chunk}))
    return result
