"""DynamoDB exports for tests, in the DYNAMODB_JSON layout: manifests plus gzipped JSON lines."""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import make_args
from lakesync_glue.args import JobArgs
from lakesync_glue.result import LoadResult


def S(v: str) -> dict[str, Any]:
    return {"S": v}


def N(v: str | int) -> dict[str, Any]:
    return {"N": str(v)}


def B(raw: bytes) -> dict[str, Any]:
    return {"B": base64.b64encode(raw).decode("ascii")}


def item(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"Item": dict(attrs)}


def change(keys: Mapping[str, Any], new: Mapping[str, Any] | None, micros: int,
           old: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One INCREMENTAL record; new None: the item was deleted."""
    record: dict[str, Any] = {"Metadata": {"WriteTimestampMicros": {"N": str(micros)}}, "Keys": dict(keys)}
    if old is not None:
        record["OldImage"] = dict(old)
    if new is not None:
        record["NewImage"] = dict(new)
    return record


def ddb_export_id(export_id: str) -> str:
    """DynamoDB's own id of an export (the folder of its manifests), in DynamoDB's shape."""
    return f"01768386924000-{hashlib.md5(export_id.encode()).hexdigest()[:8]}"


def write_export(root: Path, export_id: str, records: Sequence[Mapping[str, Any]], *, manifest: bool = True,
                 files: int = 2, suffix: str = ".json.gz", incremental: bool | None = None,
                 prefix: str | None = None) -> str:
    """An export as DynamoDB writes it to bucket `root` under S3Prefix `prefix` (default: the export
    id, as lakesync asks); returns its `location`, the manifest folder `<prefix>/AWSDynamoDB/<its id>`.
    The records are split in `files` files (an empty one included when there are fewer records, as
    DynamoDB writes one per partition). A FULL export's data files are in `<location>/data/`, an
    INCREMENTAL one's (change records: `incremental` None tells by `Keys`) in the folder
    `<prefix>/AWSDynamoDB/data/` that every export to the prefix shares; manifest-files.json names
    each by its key from the bucket. Without manifests (moto) the files are in `<location>/data/`."""
    if incremental is None:
        incremental = any("Keys" in r for r in records)
    s3_prefix = export_id if prefix is None else prefix.strip("/")
    aws = f"{s3_prefix}/AWSDynamoDB" if s3_prefix else "AWSDynamoDB"
    manifests = f"{aws}/{ddb_export_id(export_id)}"
    data_key = f"{aws}/data" if incremental and manifest else f"{manifests}/data"
    location = root / manifests
    location.mkdir(parents=True, exist_ok=True)
    data = root / data_key
    data.mkdir(parents=True, exist_ok=True)
    entries = []
    for part in range(files):
        chunk = [r for i, r in enumerate(records) if i % files == part]
        name = f"{uuid.uuid4().hex}{suffix}"
        body = "".join(json.dumps(r) + "\n" for r in chunk).encode("utf-8")
        (data / name).write_bytes(gzip.compress(body))
        entries.append({"itemCount": len(chunk), "md5Checksum": base64.b64encode(hashlib.md5(body).digest()).decode(),
                        "etag": hashlib.md5(body).hexdigest(), "dataFileS3Key": f"{data_key}/{name}"})
    if manifest:
        (location / "manifest-files.json").write_text("".join(json.dumps(e) + "\n" for e in entries))
        (location / "manifest-summary.json").write_text(json.dumps(
            {"version": "2023-08-01" if incremental else "2020-06-30",
             "exportArn": f"arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/{ddb_export_id(export_id)}",
             "s3Bucket": "lakesync-tests", "s3Prefix": s3_prefix or None, "itemCount": len(records), "outputFormat": "DYNAMODB_JSON",
             "exportType": "INCREMENTAL_EXPORT" if incremental else "FULL_EXPORT",
             "manifestFilesS3Key": f"{manifests}/manifest-files.json"}))
    return str(location)


def data_file(root: Path, location: str, line: int = 0) -> Path:
    """The data file that line `line` of the export's manifest-files.json names (its key is from the bucket `root`)."""
    key = json.loads((Path(location) / "manifest-files.json").read_text().splitlines()[line])["dataFileS3Key"]
    return root / key


def export_entry(export_id: str, location: str, to: str, type_: str = "FULL", from_: str | None = None,
                 item_count: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"exportId": export_id, "type": type_, "to": to, "location": location}
    if from_ is not None:
        entry["from"] = from_
    if item_count is not None:
        entry["itemCount"] = item_count
    return entry


def ddb_options(exports: Sequence[Mapping[str, Any]], key: Sequence[tuple[str, str]], attributes: Mapping[str, str],
                **options: str) -> dict[str, str]:
    last = exports[-1]
    return {
        "source_format": "dynamodb",
        "dynamodb_exports": json.dumps(list(exports)),
        "dynamodb_key": json.dumps([{"name": n, "type": t} for n, t in key]),
        "dynamodb_attributes": json.dumps(dict(attributes)),
        "primary_key": ",".join(n for n, _ in key),
        "export_id": str(last["exportId"]),
        "snapshot_time": str(last["to"]),
        **options,
    }


def ddb_args(table: str, lake_table: str, result_path: str, warehouse: str, action: str,
             options: Mapping[str, str]) -> JobArgs:
    """JobArgs of a DynamoDB load through the real parser (no --export_path)."""
    return make_args("", f"dynamodb.dynamodb.{table}", lake_table, result_path, warehouse, action, **options)


def result_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


DdbLoad = Callable[..., LoadResult]


@pytest.fixture
def ddb_load(spark: Any, warehouse: str, tmp_path: Path) -> DdbLoad:
    from lakesync_glue.loader import run_load

    counter = {"n": 0}

    def _load(table: str, lake_table: str, exports: list[dict[str, Any]], key: list[tuple[str, str]],
              attributes: Mapping[str, str], action: str = "create", **options: str) -> LoadResult:
        counter["n"] += 1
        result_path = str(tmp_path / "results" / f"{lake_table}-{counter['n']}.json")
        args = ddb_args(table, lake_table, result_path, warehouse, action, ddb_options(exports, key, attributes, **options))
        result = run_load(spark, args)
        assert result_json(result_path)["status"] == result.status
        return result

    return _load
