"""Bounded table metadata on the local engine (Hadoop catalog over a folder).

Every Iceberg commit writes a new `vN.metadata.json`; nothing deletes the older ones unless the
table asks it to. A source synced every few minutes would fill the warehouse folder with them. Iceberg's
own table properties bound them: with `write.metadata.delete-after-commit.enabled`, each commit
deletes the metadata files that fall out of the table's metadata log, which keeps the newest
`write.metadata.previous-versions-max` (https://iceberg.apache.org/docs/latest/maintenance/#remove-old-metadata-files).
They touch no data file, no manifest and no snapshot: the current table, its snapshot history
and time travel (`VERSION AS OF <snapshot>`) are intact; only the older metadata files go, which
nothing lakesync runs reads (the table and its history live in the current metadata file).

Snapshots are not expired here: lakesync's guards (older export, other source) read the snapshot
history, and time travel to earlier loads is part of what the lake keeps.

On AWS (S3 Tables) the job sets none of this: S3 Tables maintains its tables itself (snapshot
management, unreferenced file removal), and its snapshot management does not honour retention
set as table properties (some of them turn it off). See README, "Table maintenance".
"""
from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

from . import lake
from .args import JobArgs
from .names import quote, sql_string

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("lakesync_glue")

DELETE_AFTER_COMMIT = "write.metadata.delete-after-commit.enabled"
PREVIOUS_VERSIONS_MAX = "write.metadata.previous-versions-max"
# How many earlier metadata files a local table keeps (a load makes about two: its commit and its lineage).
METADATA_VERSIONS_KEPT = 10


def local_properties(args: JobArgs) -> dict[str, str]:
    """The properties that bound a table's metadata files: on the local engine only (none on S3 Tables)."""
    if not args.warehouse:
        return {}
    return {DELETE_AFTER_COMMIT: "true", PREVIOUS_VERSIONS_MAX: str(METADATA_VERSIONS_KEPT)}


def ensure_bounded_metadata(spark: "SparkSession", ident: str, args: JobArgs) -> str | None:
    """Sets the bounding properties on a local table that lacks them (one made by an earlier version).

    A property the table already has, whatever its value (e.g. set by its owner), is left as it is.
    A failure does not fail the load (its data is committed): a warning, tried again by the next load.
    """
    wanted = local_properties(args)
    if not wanted:
        return None
    try:
        current = lake.properties(spark, ident)
        missing = {k: v for k, v in wanted.items() if k not in current}
        if not missing:
            return None
        pairs = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in missing.items())
        spark.sql(f"ALTER TABLE {ident} SET TBLPROPERTIES ({pairs})").collect()
        log.info("%s: old metadata files now deleted after each commit (%s)", args.lake_table_id, pairs)
        if DELETE_AFTER_COMMIT in missing:
            _delete_untracked_metadata(spark, ident, args)
        return None
    except Exception as exc:  # noqa: BLE001 - reported as a warning, the load stands
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"lake table {args.lake_table_id} keeps all its old metadata files: setting {DELETE_AFTER_COMMIT} "
                f"failed ({message}); the next load tries again")


# The metadata files of a Hadoop-catalog table: v<N>.metadata.json (v<N>.gz.metadata.json compressed).
_VERSION_FILE = re.compile(r"^v(\d+)(?:\.[a-z0-9]+)?\.metadata\.json$")


def _version(name: str) -> int | None:
    match = _VERSION_FILE.match(name)
    return int(match.group(1)) if match else None


def _local_path(location: str) -> str | None:
    """A metadata file's location as a local path; None for any other file system."""
    if location.startswith("file:"):
        location = "/" + location[len("file:"):].lstrip("/")
    return location if location.startswith("/") else None


def _delete_untracked_metadata(spark: "SparkSession", ident: str, args: JobArgs) -> None:
    """Once, when a local table starts bounding its metadata: the older files it no longer tracks.

    A table keeps its newest metadata files in its metadata log (100 unless set otherwise); Iceberg
    deletes only the files that fall out of that log after the property is on, so a table with a
    longer past would keep the older ones forever. Only `v<N>.metadata.json` files older than every
    file of the current metadata log go (the current file and the log's stay, as do manifests and
    data files): nothing reads them, the table and its snapshots live in the current file.
    Best effort: a failure leaves them and is logged.
    """
    try:
        rows = spark.sql(f"SELECT file FROM {ident}.{quote('metadata_log_entries')}").collect()
        paths = [_local_path(str(r[0])) for r in rows]
        if not paths or any(p is None for p in paths):
            return
        folders = {os.path.dirname(p) for p in paths if p}
        versions = [_version(os.path.basename(p)) for p in paths if p]
        if len(folders) != 1 or any(v is None for v in versions):
            return
        folder, oldest = folders.pop(), min(v for v in versions if v is not None)
        gone = 0
        for name in sorted(os.listdir(folder)):
            version = _version(name)
            if version is not None and version < oldest:
                os.remove(os.path.join(folder, name))
                gone += 1
        if gone:
            log.info("%s: %d metadata files older than the table's metadata log deleted", args.lake_table_id, gone)
    except Exception as exc:  # noqa: BLE001 - the load stands; the files stay
        log.warning("%s: the metadata files older than the table's metadata log were not deleted: %s",
                    args.lake_table_id, exc)
