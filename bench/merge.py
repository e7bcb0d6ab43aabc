"""Merge benchmark: bytes and time of the job's change-set MERGE vs a naive MERGE vs a full replace.

    <venv python> bench/merge.py [--rows 1000000] [--change-fraction 0.01] [--keep]

A table of --rows rows (RDS export layout and encodings) is loaded, then an export with
--change-fraction of the rows changed (updates, inserts, deletes) is applied four ways,
each starting from the same table state (Iceberg rollback between runs):

  (a) jobMerge      this job's merge: computed change set, MERGE of the changes only (merge-on-read)
  (b) naiveMerge    MERGE ... WHEN MATCHED UPDATE / NOT MATCHED INSERT / NOT MATCHED BY SOURCE DELETE
                    on Iceberg's default copy-on-write table
  (c) fullReplace   this job's replace: CREATE OR REPLACE TABLE with every row
  (d) unchanged     this job's merge of the same export again

Bytes written are the sizes of the files each run added under the table's data folder
(data and delete files), cross-checked with the snapshot summary's added-files-size.
Writes bench/results/merge.json and prints the figures. Targets: (a) <= 5% of (c)'s
bytes and <= half of (c)'s wall time; (d) writes 0 bytes and commits no snapshot. (a) and (c) run
--rounds times each (5 by default), alternating, from the same table state; their seconds are the
fastest round (the machine may be shared), every round is listed. The first round of each runs
on a JVM not yet warm for it (the first merge takes ~1.8 times the later ones), so only the later
rounds compete.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "glue"))
sys.path.insert(0, str(ROOT / "bench"))

from lakesync_glue.args import JobArgs, parse_job_args  # noqa: E402
from lakesync_glue.export import find_table_export  # noqa: E402
from lakesync_glue.loader import run_load  # noqa: E402
from lakesync_glue.names import lake_column_names  # noqa: E402
from lakesync_glue.pgtypes import plan_column  # noqa: E402
from lakesync_glue.result import LoadResult  # noqa: E402
from lakesync_glue.session import build_local_spark  # noqa: E402
from lakesync_glue import source, sqltext  # noqa: E402
from bench_run import setup_logging, work_folder  # noqa: E402
from rds_export import DATABASE, SCHEMA, TABLE, order_rows, orders_table, write_export  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "merge.json"
NAMESPACE, LAKE_TABLE = "bench", "orders"


# -- the exports -------------------------------------------------------------------------------
def write_rows_export(root: Path, export_id: str, columns: dict[str, Any]) -> str:
    """One export of exactly these `orders` rows, in the layout and encodings of bench/rds_export.py."""
    return write_export(root, export_id, [orders_table(columns)], len(columns["id"]), every_part=True)[0]


@dataclass
class Change:
    updated: int
    inserted: int
    deleted: int


def make_exports(root: Path, rows: int, fraction: float) -> tuple[str, str, Change]:
    rng = np.random.default_rng(20240501)
    ids = np.arange(1, rows + 1, dtype=np.int64)
    base = order_rows(rng, ids, version=0)
    changed = int(round(rows * fraction))
    n_update, n_insert = int(changed * 0.4), int(changed * 0.3)
    n_delete = changed - n_update - n_insert
    picked = rng.choice(rows, size=n_update + n_delete, replace=False)
    update_idx, delete_idx = picked[:n_update], picked[n_update:]
    keep = np.ones(rows, dtype=bool)
    keep[delete_idx] = False
    second = {k: (np.asarray(v) if not isinstance(v, list) else np.array(v, dtype=object)) for k, v in base.items()}
    fresh = order_rows(rng, ids[update_idx], version=1)
    for name in ("status", "amount", "updated_at"):
        second[name] = second[name].astype(object)
        second[name][update_idx] = np.asarray(fresh[name], dtype=object)
    second = {k: v[keep] for k, v in second.items()}
    new_ids = np.arange(rows + 1, rows + 1 + n_insert, dtype=np.int64)
    inserts = order_rows(rng, new_ids, version=0)
    merged = {k: np.concatenate([np.asarray(second[k], dtype=object), np.asarray(inserts[k], dtype=object)])
              for k in second}
    merged = {k: (v.astype(np.int64) if k in ("id", "customer_id") else v.tolist()) for k, v in merged.items()}
    v1 = write_rows_export(root, "bench-export-1", base)
    v2 = write_rows_export(root, "bench-export-2", merged)
    return v1, v2, Change(n_update, n_insert, n_delete)


# -- measuring ---------------------------------------------------------------------------------
def table_files(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".crc")}


@dataclass
class Measure:
    seconds: float
    data_bytes: int
    data_files: int
    metadata_bytes: int
    summary_bytes: int | None
    snapshot_before: str | None
    snapshot_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "bytesWritten": self.data_bytes,
            "filesWritten": self.data_files,
            "metadataBytesWritten": self.metadata_bytes,
            "snapshotAddedFilesSize": self.summary_bytes,
            "snapshotCommitted": self.snapshot_after != self.snapshot_before,
        }


class Bench:
    def __init__(self, spark: Any, warehouse: Path, work: Path) -> None:
        self.spark = spark
        self.table_dir = warehouse / NAMESPACE / LAKE_TABLE
        self.work = work
        self.ident = sqltext.table_ident("lake", NAMESPACE, LAKE_TABLE)

    def snapshot(self) -> str | None:
        if not self.spark.catalog.tableExists(f"lake.{NAMESPACE}.{LAKE_TABLE}"):
            return None
        rows = self.spark.sql(sqltext.current_snapshot(self.ident)).collect()
        return str(rows[0][0]) if rows else None

    def summary_bytes(self, snapshot: str | None) -> int | None:
        if snapshot is None:
            return None
        rows = self.spark.sql(f"SELECT summary FROM {self.ident}.`snapshots` WHERE snapshot_id = {snapshot}").collect()
        value = rows[0][0].get("added-files-size") if rows else None
        return int(value) if value is not None else 0

    def measure(self, run: Any) -> tuple[Measure, Any]:
        before_files = table_files(self.table_dir)
        before = self.snapshot()
        started = time.monotonic()
        outcome = run()
        seconds = time.monotonic() - started
        after = self.snapshot()
        new = {p: s for p, s in table_files(self.table_dir).items() if p not in before_files}
        data = {p: s for p, s in new.items() if f"{os.sep}data{os.sep}" in p}
        meta = {p: s for p, s in new.items() if p not in data}
        summary = self.summary_bytes(after) if after != before else 0
        return Measure(seconds, sum(data.values()), len(data), sum(meta.values()), summary, before, after), outcome

    def args(self, export: str, action: str, name: str) -> JobArgs:
        return parse_job_args({
            "export_path": export, "source_database": DATABASE, "source_schema": SCHEMA, "source_table": TABLE,
            "namespace": NAMESPACE, "lake_table": LAKE_TABLE, "action": action, "primary_key": "id",
            "cycle_id": "bench", "run_token": name, "result_path": str(self.work / "results" / f"{name}.json"),
            "warehouse": str(self.table_dir.parent.parent), "max_delete_fraction": "0.5",
            # Every export of the benchmark stands for the same source snapshot: equal times load.
            "source": "bench", "export_id": Path(export).name, "snapshot_time": "2026-01-01T00:00:00Z",
        }, "local")

    def load(self, export: str, action: str, name: str) -> LoadResult:
        result = run_load(self.spark, self.args(export, action, name))
        if not result.succeeded:
            raise SystemExit(f"{name} failed: {result.error}")
        return result

    def rollback(self, snapshot: str) -> None:
        # set_current_snapshot, not rollback_to_snapshot: after a replace the base is no longer an ancestor.
        self.spark.sql(f"CALL lake.system.set_current_snapshot('{NAMESPACE}.{LAKE_TABLE}', {snapshot})").collect()

    def set_write_mode(self, mode: str) -> None:
        props = ", ".join(f"'write.{op}.mode' = '{mode}'" for op in ("delete", "update", "merge"))
        self.spark.sql(f"ALTER TABLE {self.ident} SET TBLPROPERTIES ({props})").collect()

    def naive_merge(self, export: str) -> int:
        """The usual full-sync MERGE over the same typed source the job reads."""
        args = self.args(export, "merge", "naive")
        found = find_table_export(args)
        raw = source.read_raw(self.spark, found)
        types = source.raw_types(raw)
        names = lake_column_names([m.column_name for m in found.mappings], args.target)
        plans = [plan_column(m, n, types[m.column_name]) for m, n in zip(found.mappings, names)]
        plans = source.resolve_scales(raw, plans, dict(
            (f.name, f.dataType.simpleString()) for f in self.spark.table(self.ident).schema.fields))
        source.typed_frame(raw, plans).createOrReplaceTempView("bench_source")
        self.spark.sql(sqltext.naive_merge(self.ident, "bench_source", ["id"], names)).collect()
        return len(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--change-fraction", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=5, help="runs of (a) and (c) each, alternating")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (exports, warehouse)")
    parser.add_argument("--verbose", action="store_true", help="log the job's phases and statements")
    options = parser.parse_args()
    setup_logging(options.verbose)

    started = time.monotonic()
    with work_folder("merge", options.keep) as work:
        t0 = time.monotonic()
        v1, v2, change = make_exports(work / "exports", options.rows, options.change_fraction)
        export_seconds = time.monotonic() - t0
        warehouse = work / "warehouse"
        spark = build_local_spark(str(warehouse), "lake")
        bench = Bench(spark, warehouse, work)

        create, created = bench.measure(lambda: bench.load(v1, "create", "create"))
        base = create.snapshot_after
        assert base is not None
        print(f"created {created.rowCountAfter:,} rows in {create.seconds:.1f}s ({create.data_bytes:,} bytes)", flush=True)

        job, job_result = bench.measure(lambda: bench.load(v2, "merge", "job-merge"))
        print(f"(a) job merge: {job.seconds:.1f}s, {job.data_bytes:,} bytes", flush=True)
        unchanged, unchanged_result = bench.measure(lambda: bench.load(v2, "merge", "unchanged"))
        print(f"(d) unchanged: {unchanged.seconds:.1f}s, {unchanged.data_bytes:,} bytes", flush=True)
        expected_after = created.rowCountAfter + change.inserted - change.deleted

        bench.rollback(base)
        bench.set_write_mode("copy-on-write")  # Iceberg's default write mode
        naive, _ = bench.measure(lambda: bench.naive_merge(v2))
        print(f"(b) naive merge: {naive.seconds:.1f}s, {naive.data_bytes:,} bytes", flush=True)
        naive_count = spark.table(bench.ident).count()

        bench.rollback(base)
        bench.set_write_mode("merge-on-read")
        replace, replace_result = bench.measure(lambda: bench.load(v2, "replace", "replace"))
        print(f"(c) full replace: {replace.seconds:.1f}s, {replace.data_bytes:,} bytes", flush=True)
        job_rounds, replace_rounds = [job.seconds], [replace.seconds]
        for n in range(2, options.rounds + 1):
            bench.rollback(base)
            again, again_result = bench.measure(lambda: bench.load(v2, "merge", f"job-merge-{n}"))
            assert (again_result.inserted, again_result.updated, again_result.deleted) == (
                job_result.inserted, job_result.updated, job_result.deleted), "a merge round counted differently"
            job_rounds.append(again.seconds)
            bench.rollback(base)
            replaced, _ = bench.measure(lambda: bench.load(v2, "replace", f"replace-{n}"))
            replace_rounds.append(replaced.seconds)
            print(f"round {n}: (a) {again.seconds:.1f}s, (c) {replaced.seconds:.1f}s", flush=True)
        job.seconds, replace.seconds = min(job_rounds), min(replace_rounds)

        ratio = job.data_bytes / replace.data_bytes if replace.data_bytes else None
        time_ratio = job.seconds / replace.seconds
        report = {
            "benchmark": "merge",
            "rows": options.rows,
            "changedRows": {"fraction": options.change_fraction, "updated": change.updated,
                            "inserted": change.inserted, "deleted": change.deleted},
            "environment": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "spark": spark.version, "iceberg": "1.7.1", "master": spark.sparkContext.master},
            "tableWriteMode": "merge-on-read (format-version 2), unpartitioned",
            "exportSeconds": round(export_seconds, 2),
            "measures": {
                "seconds": "wall time of the run: for job runs end to end (read and cast the export, check "
                           "values and keys, change set, commit, exact counts); for naiveMerge the MERGE "
                           "statement alone over the typed export; for jobMerge and fullReplace the fastest "
                           "of secondsPerRound",
                "bytesWritten": "sizes of the files the run added under the table's data folder "
                                "(data and delete files)",
                "snapshotAddedFilesSize": "added-files-size of the snapshot the run committed",
            },
            "initialCreate": {**create.as_dict(), "rowCountAfter": created.rowCountAfter},
            "jobMerge": {**job.as_dict(), "secondsPerRound": [round(x, 2) for x in job_rounds], "inserted": job_result.inserted, "updated": job_result.updated,
                         "deleted": job_result.deleted, "rowCountAfter": job_result.rowCountAfter},
            "naiveMerge": {**naive.as_dict(), "writeMode": "copy-on-write", "rowCountAfter": naive_count},
            "fullReplace": {**replace.as_dict(), "secondsPerRound": [round(x, 2) for x in replace_rounds],
                            "rowCountAfter": replace_result.rowCountAfter},
            "unchanged": {**unchanged.as_dict(), "action": unchanged_result.action,
                          "committed": unchanged_result.committed},
            "targets": {
                "jobMergeBytesOverReplaceBytes": round(ratio, 5) if ratio is not None else None,
                "jobMergeAtMost5PercentOfReplace": ratio is not None and ratio <= 0.05,
                "jobMergeSecondsOverReplaceSeconds": round(time_ratio, 3),
                "jobMergeAtMostHalfOfReplaceSeconds": time_ratio <= 0.5,
                "unchangedWritesNothing": unchanged.data_bytes == 0 and unchanged.metadata_bytes == 0
                and not unchanged_result.committed and unchanged.snapshot_after == unchanged.snapshot_before,
                "countsExact": (job_result.inserted, job_result.updated, job_result.deleted)
                == (change.inserted, change.updated, change.deleted)
                and job_result.rowCountAfter == expected_after == naive_count == replace_result.rowCountAfter,
            },
            "totalSeconds": round(time.monotonic() - started, 1),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        met = all(report["targets"][k] for k in ("jobMergeAtMost5PercentOfReplace", "jobMergeAtMostHalfOfReplaceSeconds",
                                                  "unchangedWritesNothing", "countsExact"))
        print(f"targets {'met' if met else 'NOT met'}: (a)/(c) bytes = {ratio:.2%}, seconds = {time_ratio:.2f}; unchanged wrote "
              f"{unchanged.data_bytes} bytes, snapshot committed: {unchanged_result.committed}; wrote {RESULTS}")
        spark.stop()
        return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
