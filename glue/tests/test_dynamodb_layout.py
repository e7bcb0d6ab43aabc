"""Where an export's data files are: a FULL export's in `<S3Prefix>/AWSDynamoDB/<ExportId>/data/`, an
INCREMENTAL export's in the folder `<S3Prefix>/AWSDynamoDB/data/` shared by every export to the prefix,
each named by `dataFileS3Key` in manifest-files.json (the layout of real exports, e.g. the public
github.com/gurre/ddb-pitr s3exportdata/)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dynamodbkit import N, S, DdbLoad, change, data_file, ddb_load, export_entry, item, write_export  # noqa: F401 - the fixture
from lakesync_glue import storage
from lakesync_glue.dynamodb import data_file_candidates, export_files
from lakesync_glue.dynamodb_args import DynamoExport
from lakesync_glue.errors import ExportNotFound
from lakesync_glue.query import run_query

KEY = [("pk", "S")]
ATTRS = {"qty": "bigint"}
T0, T1, T2 = "2026-01-14T10:20:00Z", "2026-01-14T10:35:00Z", "2026-01-14T10:50:00Z"


def img(pk: str, qty: int) -> dict[str, Any]:
    return {"pk": S(pk), "qty": N(qty)}


def incremental(location: str, export_id: str = "i1") -> DynamoExport:
    return DynamoExport(export_id, "INCREMENTAL", T0, T1, location, None)


def test_incremental_exports_sharing_a_data_folder_each_read_only_their_files(ddb_load: DdbLoad, spark: Any,
                                                                             tmp_path: Path) -> None:
    full = write_export(tmp_path, "f0", [item(img(p, 1)) for p in ("a", "b", "c")])
    assert ddb_load("Orders", "ddb_layout", [export_entry("f0", full, T0, item_count=3)], KEY, ATTRS).status == "succeeded"
    w1 = [change({"pk": S("a")}, img("a", 2), 1000), change({"pk": S("b")}, None, 1100), change({"pk": S("d")}, img("d", 4), 1200)]
    w2 = [change({"pk": S("a")}, img("a", 3), 2000)]
    # Both exports to one S3Prefix, as DynamoDB allows: their data files land in one folder.
    i1 = write_export(tmp_path, "i1", w1, files=3, prefix="shared")
    i2 = write_export(tmp_path, "i2", w2, files=2, prefix="shared")
    shared = tmp_path / "shared" / "AWSDynamoDB" / "data"
    assert len(list(shared.iterdir())) == 5 and not (Path(i1) / "data").exists() and not (Path(i2) / "data").exists()
    assert data_file(tmp_path, i1).parent == shared

    exports = [export_entry("i1", i1, T1, "INCREMENTAL", T0, len(w1)), export_entry("i2", i2, T2, "INCREMENTAL", T1, len(w2))]
    merged = ddb_load("Orders", "ddb_layout", exports, KEY, ATTRS, action="merge", approve_deletes="true")
    assert merged.status == "succeeded", merged.error
    # Four records: the other export's files in the folder were not read (nor counted against itemCount).
    assert (merged.rowsRead, merged.inserted, merged.updated, merged.deleted) == (4, 1, 1, 1)
    rows = run_query(spark, "SELECT pk, qty FROM lake.tests.ddb_layout ORDER BY pk")
    assert [(r["pk"], r["qty"]) for r in rows] == [("a", 3), ("c", 1), ("d", 4)]


def test_a_listed_file_missing_from_the_shared_folder_fails_naming_it(tmp_path: Path) -> None:
    location = write_export(tmp_path, "i1", [change({"pk": S("a")}, img("a", 1), 1)], files=2, prefix="p")
    gone = data_file(tmp_path, location, 1)
    gone.unlink()
    with pytest.raises(ExportNotFound) as info:
        export_files(incremental(location), "dynamodb.Orders")
    message = info.value.message
    assert "table dynamodb.Orders" in message and "export i1" in message and "1 data file(s)" in message
    assert str(gone) in message and "run a new sync" in message


def test_a_key_relative_to_the_s3_prefix_is_found_too(tmp_path: Path) -> None:
    location = write_export(tmp_path, "i1", [change({"pk": S("a")}, img("a", 1), 1)], files=2, prefix="lake/src/i1")
    manifest = Path(location) / "manifest-files.json"
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    for e in entries:
        e["dataFileS3Key"] = e["dataFileS3Key"].removeprefix("lake/src/i1/")
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    found = export_files(incremental(location), "dynamodb.Orders")
    assert found.files == tuple(str(tmp_path / "lake/src/i1" / e["dataFileS3Key"]) for e in entries)
    assert found.manifest_items == 1


def test_where_a_key_is_looked_for_on_s3() -> None:
    root = "s3://bkt/lakesync/dynamodb/shop-ddb/lse-0123456789abcdef"
    location = f"{root}/AWSDynamoDB/01768386924000-d339e52d"
    # From the bucket, as DynamoDB writes it; the prefix-relative place next.
    key = "lakesync/dynamodb/shop-ddb/lse-0123456789abcdef/AWSDynamoDB/data/u2wov2dg246wzitouzsnk6jbd4.json.gz"
    assert data_file_candidates(location, key)[:2] == [f"s3://bkt/{key}", f"{root}/{key}"]
    # A key without the prefix: never looked for outside the prefix.
    assert data_file_candidates(location, "AWSDynamoDB/data/u2.json.gz")[0] == f"{root}/AWSDynamoDB/data/u2.json.gz"
    assert all(c.startswith(root) for c in data_file_candidates(location, "AWSDynamoDB/data/u2.json.gz"))
    # No S3Prefix (the gurre/ddb-pitr export): both readings are the same place.
    bare = "s3://bkt/AWSDynamoDB/01768386924000-d339e52d"
    assert data_file_candidates(bare, "AWSDynamoDB/data/z2.json.gz")[0] == "s3://bkt/AWSDynamoDB/data/z2.json.gz"
    assert data_file_candidates(f"{root}/AWSDynamoDB/01768385930622-efd1a093",
                                f"{root[len('s3://bkt/'):]}/AWSDynamoDB/01768385930622-efd1a093/data/5m.json.gz")[0] == \
        f"{root}/AWSDynamoDB/01768385930622-efd1a093/data/5m.json.gz"


@pytest.mark.parametrize("prefix", ["", "lakesync/dynamodb/shop-ddb/lse-0123456789abcdef"])
def test_an_incremental_export_on_s3_is_read_from_the_shared_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   prefix: str) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    records = [change({"pk": S(p)}, img(p, 1), 1) for p in ("a", "b", "c")]
    location = write_export(tmp_path, "i1", records, files=4, prefix=prefix)
    write_export(tmp_path, "i2", records[:1], files=2, prefix=prefix)  # another export's files in the same folder
    with moto.mock_aws():
        storage.reset_clients()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bkt")
        for path in tmp_path.rglob("*"):
            if path.is_file():
                s3.upload_file(str(path), "bkt", path.relative_to(tmp_path).as_posix())
        s3_location = f"s3://bkt/{Path(location).relative_to(tmp_path).as_posix()}"
        found = export_files(incremental(s3_location), "dynamodb.Orders")
        listed = [json.loads(line)["dataFileS3Key"] for line in (Path(location) / "manifest-files.json").read_text().splitlines()]
        assert found.files == tuple(f"s3://bkt/{k}" for k in listed) and found.manifest_items == 3
        assert all("/AWSDynamoDB/data/" in f or f.startswith("s3://bkt/AWSDynamoDB/data/") for f in found.files)
        s3.delete_object(Bucket="bkt", Key=listed[2])
        with pytest.raises(ExportNotFound) as info:
            export_files(incremental(s3_location), "dynamodb.Orders")
        assert f"s3://bkt/{listed[2]}" in info.value.message
    storage.reset_clients()
