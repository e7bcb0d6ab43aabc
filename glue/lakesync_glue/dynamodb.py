"""Reading a DynamoDB table's exports (DYNAMODB_JSON) into one frame of records.

An export's `location` is its manifest folder `<S3Prefix>/AWSDynamoDB/<ExportId>`, holding
`manifest-summary.json` and `manifest-files.json` (JSON lines, each with `dataFileS3Key` and
`itemCount`). DynamoDB writes a FULL export's data files to `<location>/data/` but an INCREMENTAL
export's to the folder `<S3Prefix>/AWSDynamoDB/data/` that all exports to that prefix share, so
exactly the listed files are read, each found from its `dataFileS3Key`: relative to the bucket (as
DynamoDB writes it), else relative to the S3Prefix. Without manifest-files.json (moto) every file
under `<location>/data/` is read. Lines are `{"Item": {...}}` (FULL) or
`{"Metadata": {"WriteTimestampMicros": {"N": ...}}, "Keys": {...}, "OldImage": ..., "NewImage": ...}`
(INCREMENTAL; no NewImage: the item was deleted). OldImage is never read.

Each record keeps, per typed attribute (keys, then declared attributes), the value's DynamoDB JSON,
type tag and text, plus `_attributes` (everything else but excluded attributes), the window index,
the write time and whether it is a delete.
"""
from __future__ import annotations

import json
import os
import posixpath
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import storage
from .dynamodb_args import DynamoExport
from .dynamodb_json import AttributeColumn, canonical_text_expr, rest_expr, tag_expr, text_expr
from .errors import ExportNotFound
from .names import quote, sql_string

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MANIFEST_FILES = "manifest-files.json"
AWS_FOLDER = "AWSDynamoDB"
LINE_SCHEMA = (
    "struct<Item: map<string,string>, Keys: map<string,string>, NewImage: map<string,string>, "
    "Metadata: struct<WriteTimestampMicros: struct<N: string>>>"
)
# The reader's own columns carry the reserved prefix, which no lake column may have (names.RESERVED_PREFIX):
# a declared attribute named like one (DynamoDB names may be anything) keeps its own column.
WINDOW, WRITTEN, DELETED, BROKEN, REST = (f"__lakesync_{n}" for n in ("w", "ts", "del", "broken", "rest"))
IMAGE, KEYS = "__lakesync_image", "__lakesync_keys"


@dataclass(frozen=True)
class ExportFiles:
    export: DynamoExport
    files: tuple[str, ...]
    manifest_items: int | None  # the items manifest-files.json counts, None without one


def _is_data_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not name.startswith((".", "_")) and not name.endswith((".md5", ".checksum"))


def export_files(export: DynamoExport, table: str) -> ExportFiles:
    """The data files of one export; ExportNotFound when the export or a listed file is missing."""
    location = export.location
    if not storage.root_exists(location):
        raise ExportNotFound(
            f"table {table}: export {export.export_id} has nothing at {export.location}; the export is missing or "
            "was removed: run a new sync to export the table again"
        )
    if MANIFEST_FILES not in storage.list_names(location):
        data = storage.join(location, "data")
        return ExportFiles(export, tuple(f.path for f in storage.list_files(data) if _is_data_file(f.path)), None)
    files: list[str] = []
    missing: list[str] = []
    items = 0
    listed: dict[str, set[str]] = {}  # folder -> names in it, each folder listed once
    for number, line in enumerate(storage.read_text(storage.join(location, MANIFEST_FILES)).splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = str(entry["dataFileS3Key"])
            items += int(entry.get("itemCount") or 0)
        except (ValueError, KeyError, TypeError):
            raise ExportNotFound(
                f"table {table}: line {number} of {MANIFEST_FILES} of export {export.export_id} is not a manifest "
                "entry with dataFileS3Key; the export looks damaged, run a new sync to export it again"
            ) from None
        candidates = data_file_candidates(location, key)
        found = next((c for c in candidates if _present(c, listed)), None)
        if found is None:
            missing.append(candidates[0])
        else:
            files.append(found)
    if missing:
        raise ExportNotFound(
            f"table {table}: export {export.export_id} lists {len(missing)} data file(s) of {MANIFEST_FILES} "
            f"that are missing (e.g. {missing[0]}); the files were removed or moved, so nothing was loaded: "
            "run a new sync to export the table again"
        )
    return ExportFiles(export, tuple(files), items)


def data_file_candidates(location: str, key: str) -> list[str]:
    """Where a manifest's `dataFileS3Key` may be, most likely first: relative to the bucket, then to
    the S3Prefix (the part of `location` before `/AWSDynamoDB/`), then `<location>/data/<name>` (a
    FULL export's folder moved whole). DynamoDB writes nothing outside the S3Prefix, so a place
    outside it is never tried (nor listed, which the job's role may not be allowed to)."""
    key = key.lstrip("/")
    cut = location.rstrip("/").rfind(f"/{AWS_FOLDER}/")
    prefix_root = location[:cut] if cut >= 0 else None
    from_bucket: str | None = None
    if storage.is_s3(location):
        from_bucket = f"s3://{storage.split_s3(location)[0]}/{key}"
    elif prefix_root is not None and f"{AWS_FOLDER}/" in key:
        # A local folder stands for the bucket: the S3Prefix root less the prefix the key names.
        named = key[: key.rfind(f"{AWS_FOLDER}/")].strip("/")
        if not named or prefix_root.endswith(f"/{named}"):
            from_bucket = storage.join(prefix_root[: len(prefix_root) - len(named)], key)
    out: list[str] = []
    if from_bucket is not None and (prefix_root is None or from_bucket.startswith(prefix_root.rstrip("/") + "/")):
        out.append(from_bucket)
    if prefix_root is not None:
        out.append(storage.join(prefix_root, key))
    out.append(storage.join(location, "data", posixpath.basename(key)))
    return list(dict.fromkeys(out))


def _present(path: str, listed: dict[str, set[str]]) -> bool:
    folder, name = path.rsplit("/", 1) if storage.is_s3(path) else os.path.split(path)
    if folder not in listed:
        listed[folder] = set(storage.list_names(folder))
    return name in listed[folder]


# What a failed read of a .gz data file says (Hadoop's GzipCodec, Spark's file reader): only such a failure is
# worth reading the files again to find a damaged one; any other (a lost executor) is raised as it is.
_READ_FAILURES = ("EOFException", "not a gzip file", "Not in GZIP format", "ZipException", "incorrect header check",
                  "invalid block type", "invalid distance", "invalid stored block", "DataFormatException",
                  "Encountered error while reading file")
_CHUNK = 1 << 20
MAX_NAMED_FILES = 5


def _gzip_damage(path: str) -> str | None:
    """Why a .gz data file cannot be read whole (not gzip, cut short, bytes after its end), None when it can.
    An empty file is an empty partition's (DynamoDB writes one), read as no lines; concatenated gzip members
    are one gzip stream, as Hadoop reads them."""
    try:
        stream = storage.open_binary(path)
    except FileNotFoundError:
        return "it is gone: removed after the export listed it"
    try:
        inflate: "zlib._Decompress | None" = None
        offset = 0  # the bytes of the file the members before `inflate` took
        while chunk := stream.read(_CHUNK):
            while chunk:
                if inflate is None:
                    inflate = zlib.decompressobj(31)
                try:
                    inflate.decompress(chunk, _CHUNK)
                    while inflate.unconsumed_tail and not inflate.eof:
                        inflate.decompress(inflate.unconsumed_tail, _CHUNK)
                except zlib.error as exc:
                    if offset == 0 and not inflate.eof:
                        return f"it is not gzip data, or its gzip data is invalid ({exc})"
                    return f"what follows its first {offset} byte(s) is not gzip data ({exc})"
                if not inflate.eof:
                    break
                offset += len(chunk) - len(inflate.unused_data)
                chunk, inflate = inflate.unused_data, None
        return None if inflate is None or inflate.eof else "its gzip data ends early: cut short"
    finally:
        stream.close()


def damaged_files(exports: Sequence[ExportFiles], table: str, failure: BaseException) -> ExportNotFound | None:
    """The refusal of exports some of whose .gz data files cannot be read whole, naming them; None when `failure`
    is no read failure or every file reads whole. Only called once the read has failed: a retry reads the same bytes."""
    if not any(marker in str(failure) for marker in _READ_FAILURES):
        return None
    found: list[str] = []
    for export in exports:
        for path in export.files:
            if not path.endswith(".gz"):
                continue
            try:
                why = _gzip_damage(path)
            except Exception:  # noqa: BLE001 - a file that cannot be fetched now is left to the read's own error
                why = None
            if why is not None:
                found.append(f"{path} of export {export.export.export_id} ({why})")
            if len(found) > MAX_NAMED_FILES:
                break
    if not found:
        return None
    more = " and more" if len(found) > MAX_NAMED_FILES else ""
    return ExportNotFound(
        f"table {table}: data file(s) of the export cannot be read whole: {'; '.join(found[:MAX_NAMED_FILES])}{more}; "
        "the export is damaged or was changed after it completed, so nothing was written (the items of those files "
        "would be missing): run a new sync to export the table again"
    )


def read_records(spark: "SparkSession", exports: Sequence[ExportFiles], columns: Sequence[AttributeColumn],
                 excluded: Sequence[str]) -> "DataFrame":
    """Every record of every export, oldest window first (window index `__w`), parsed once."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    frames = []
    for index, found in enumerate(exports):
        if found.files:
            lines = spark.read.text([storage.spark_path(p) for p in found.files])
        else:
            lines = spark.createDataFrame([], StructType([StructField("value", StringType())]))
        frames.append(lines.where("trim(value) <> ''").select(F.lit(index).alias(WINDOW), F.col("value")))
    lines = frames[0]
    for frame in frames[1:]:
        lines = lines.unionByName(frame)
    parsed = lines.select(WINDOW, F.from_json("value", LINE_SCHEMA).alias("r")).selectExpr(
        WINDOW,
        f"coalesce(r.Item, r.NewImage) AS {IMAGE}",
        f"coalesce(r.Keys, r.Item) AS {KEYS}",
        "try_cast(r.Metadata.WriteTimestampMicros.N AS bigint) AS " + WRITTEN,
        f"(r.Item IS NULL AND r.NewImage IS NULL) AS {DELETED}",
        f"(r IS NULL OR (r.Item IS NULL AND r.Keys IS NULL)) AS {BROKEN}",
    )
    typed_names = [c.attribute for c in columns]
    select = [WINDOW, WRITTEN, DELETED, BROKEN]
    for c in columns:
        source = KEYS if c.is_key else IMAGE
        select.append(f"try_element_at({source}, {sql_string(c.attribute)}) AS {quote(c.json_col)}")
    select.append(f"{rest_expr(IMAGE, [*typed_names, *excluded])} AS {REST}")
    return with_value_views(parsed.selectExpr(*select), columns)


def with_value_views(frame: "DataFrame", columns: Sequence[AttributeColumn]) -> "DataFrame":
    """`frame` (each column's DynamoDB JSON in its json_col) with each column's tag and text, and the
    canonical text a hashed one is hashed from: what the typed columns and the checks are computed from."""
    extra = []
    for c in columns:
        extra += [f"{tag_expr(c.json_col)} AS {quote(c.tag_col)}", f"{text_expr(c.json_col)} AS {quote(c.text_col)}"]
    frame = frame.selectExpr("*", *extra)
    hashed = [c for c in columns if c.hashed]
    if hashed:
        frame = frame.selectExpr("*", *[f"{canonical_text_expr(c)} AS {quote(c.hash_col)}" for c in hashed])
    return frame
