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
from typing import TYPE_CHECKING

from . import lake
from .args import JobArgs
from .names import sql_string

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
        return None
    except Exception as exc:  # noqa: BLE001 - reported as a warning, the load stands
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"lake table {args.lake_table_id} keeps all its old metadata files: setting {DELETE_AFTER_COMMIT} "
                f"failed ({message}); the next load tries again")
