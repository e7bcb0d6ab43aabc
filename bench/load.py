"""Load benchmark: the job's CREATE of a table from an RDS export vs a bare Spark copy of the same files.

    <venv python> bench/load.py [--rows 10000000] [--rounds 3] [--keep] [--verbose]
    (or LAKESYNC_BENCH_ROWS=1000000 npm run bench:load)

One export of --rows `orders` rows (RDS layout and encodings: bench/rds_export.py) is loaded two ways
in one Spark session, side by side:

  job   run_load(action=create, primary_key=id): read, cast the text encodings back (numeric,
        timestamps), value checks, key uniqueness check, exact counts, commit with lineage, result JSON
  bare  spark.read.parquet(<the same files>).writeTo(<table>).create(): no casts, no checks, the
        ceiling of this engine for these files

Both run once on a small export first (JVM warm-up, not measured). That warm-up does not reach
the JIT's steady state: the first large run pays ~2 s more, whichever of the two it is. So each
runs --rounds times (3 by default), the order alternating, and the fastest round of each counts.
Writes bench/results/load.json with the rows, the seconds and rows/s of each, the throughput
ratio job/bare (= bare seconds / job seconds) and whether it reaches 0.8, plus the job's time
per phase.

Then (unless --no-profile) where the create's extra time goes: the same files read into Spark's
no-op sink (no Parquet write, no commit), once as read, once per column with only that column
converted, once with every conversion, and once through the create's own projection (conversions,
value checks, counts and the guard). The fastest of --profile-rounds runs of each, interleaved.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "glue"))
sys.path.insert(0, str(ROOT / "bench"))

from lakesync_glue import columns, create_path, source  # noqa: E402
from lakesync_glue.args import JobArgs, parse_job_args  # noqa: E402
from lakesync_glue.export import find_table_export  # noqa: E402
from lakesync_glue.names import quote  # noqa: E402
from lakesync_glue.loader import run_load  # noqa: E402
from lakesync_glue.session import build_local_spark  # noqa: E402
from lakesync_glue.storage import spark_path  # noqa: E402
from bench_run import setup_logging, work_folder  # noqa: E402
from rds_export import DATABASE, SCHEMA, TABLE, write_orders_export  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "load.json"
NAMESPACE = "bench"
TARGET_RATIO = 0.8
WARMUP_ROWS = 20_000


class PhaseLog(logging.Handler):
    """Collects the job's `phase <name> took <s>s` log lines (loader.RunState.phase)."""

    PATTERN = re.compile(r"^phase (.+) took ([0-9.]+)s$")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.phases: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.match(record.getMessage())
        if match:
            self.phases.append((match.group(1), float(match.group(2))))


def job_args(export: str, lake_table: str, work: Path, warehouse: Path) -> JobArgs:
    return parse_job_args({
        "export_path": export, "source_database": DATABASE, "source_schema": SCHEMA, "source_table": TABLE,
        "namespace": NAMESPACE, "lake_table": lake_table, "action": "create", "primary_key": "id",
        "cycle_id": "bench", "run_token": lake_table, "result_path": str(work / "results" / f"{lake_table}.json"),
        "warehouse": str(warehouse), "source": "bench", "export_id": Path(export).name,
        "snapshot_time": "2026-01-01T00:00:00Z",
    }, "local")


def run_job(spark: Any, args: JobArgs, phases: PhaseLog) -> tuple[float, dict[str, Any]]:
    phases.phases.clear()
    started = time.monotonic()
    result = run_load(spark, args)
    seconds = time.monotonic() - started
    if not result.succeeded:
        raise SystemExit(f"the job's create of {args.lake_table} failed: {result.error}")
    profile = {name: round(s, 2) for name, s in phases.phases}
    return seconds, {"rowsRead": result.rowsRead, "inserted": result.inserted, "rowCountAfter": result.rowCountAfter,
                     "snapshotId": result.snapshotId, "phases": profile}


def run_bare(spark: Any, files: list[str], table: str) -> float:
    started = time.monotonic()
    spark.read.parquet(*[spark_path(f) for f in files]).writeTo(f"lake.{NAMESPACE}.{table}").create()
    return time.monotonic() - started


def job_projection(spark: Any, args: JobArgs) -> tuple[Any, list[Any]]:
    """The export as the job reads it and the job's cast plans for a new table (as run_load makes them)."""
    export = find_table_export(args)
    mappings, names = columns.select_columns(export.mappings, args.column_policies, args.target)
    raw = source.read_raw(spark, export, mappings)
    prepared = columns.prepare(raw, mappings, names, args.column_policies, {}, None, args.target)
    return prepared.raw, prepared.plans


def noop_seconds(frame: Any) -> float:
    started = time.monotonic()
    frame.write.format("noop").mode("overwrite").save()
    return time.monotonic() - started


def profile_create(spark: Any, args: JobArgs, rounds: int) -> dict[str, Any]:
    """Seconds of each projection into the no-op sink (fastest of `rounds`), and each over the bare read."""
    raw, plans = job_projection(spark, args)
    converted = [p.name for p in plans if p.expr != quote(p.source_name)]

    def with_converted(chosen: list[str]) -> Any:
        return raw.selectExpr(*[f"{p.expr} AS {quote(p.name)}" if p.name in chosen else quote(p.source_name)
                                for p in plans])

    passes: dict[str, Any] = {"read": lambda: raw.select(*[quote(p.source_name) for p in plans])}
    passes.update({f"convert {name}": (lambda name=name: with_converted([name])) for name in converted})
    passes["convert all"] = lambda: with_converted(converted)
    passes["create projection"] = lambda: create_path.guarded_write(raw, plans).frame
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(rounds):
        for name, make in passes.items():
            times[name].append(noop_seconds(make()))
    fastest = {name: min(all_) for name, all_ in times.items()}
    read = fastest["read"]
    for name, seconds in fastest.items():
        print(f"profile: {name}: {seconds:.2f}s ({seconds / read:.2f} x read)", flush=True)
    return {
        "sink": "Spark's noop format: the projection is computed for every row, nothing is written",
        "rounds": rounds,
        "seconds": {name: round(s, 2) for name, s in fastest.items()},
        "overRead": {name: round(s / read, 2) for name, s in fastest.items()},
        "allSeconds": {name: [round(s, 2) for s in all_] for name, all_ in times.items()},
        "columns": {p.name: p.expr for p in plans if p.name in converted},
    }


def rows_per_second(rows: int, seconds: float) -> int:
    return int(rows / seconds) if seconds > 0 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("LAKESYNC_BENCH_ROWS", "10000000")))
    parser.add_argument("--rounds", type=int, default=3, help="runs of each; the order alternates, the fastest counts")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (export, warehouse)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the no-op sink profile of the create's projection")
    parser.add_argument("--profile-rounds", type=int, default=3, help="runs of each profiled projection")
    parser.add_argument("--verbose", action="store_true", help="log the job's phases and statements")
    options = parser.parse_args()
    setup_logging(options.verbose)
    phases = PhaseLog()
    job_log = logging.getLogger("lakesync_glue")
    job_log.addHandler(phases)
    job_log.setLevel(logging.INFO)

    started = time.monotonic()
    with work_folder("load", options.keep) as work:
        t0 = time.monotonic()
        export, files = write_orders_export(work / "exports", "bench-load-export", options.rows)
        export_seconds = time.monotonic() - t0
        export_bytes = sum(os.path.getsize(f) for f in files)
        print(f"export: {options.rows:,} rows, {len(files)} files, {export_bytes:,} bytes in {export_seconds:.1f}s",
              flush=True)
        warmup, warmup_files = write_orders_export(work / "exports", "bench-load-warmup", WARMUP_ROWS)
        warehouse = work / "warehouse"
        spark = build_local_spark(str(warehouse), "lake")
        run_job(spark, job_args(warmup, "warmup_job", work, warehouse), phases)
        run_bare(spark, warmup_files, "warmup_bare")

        job_times: list[float] = []
        bare_times: list[float] = []
        job_detail: dict[str, Any] = {}
        for round_ in range(1, options.rounds + 1):
            order = ["job", "bare"] if round_ % 2 else ["bare", "job"]
            for which in order:
                if which == "job":
                    seconds, detail = run_job(spark, job_args(export, f"job_{round_}", work, warehouse), phases)
                    if not job_times or seconds < min(job_times):
                        job_detail = detail
                    job_times.append(seconds)
                else:
                    seconds = run_bare(spark, files, f"bare_{round_}")
                    bare_times.append(seconds)
                print(f"round {round_} {which}: {seconds:.1f}s", flush=True)

        job_s, bare_s = min(job_times), min(bare_times)
        bare_count = spark.table(f"lake.{NAMESPACE}.bare_1").count()
        # Exactness, outside the timing: the job's decimals add up to the bare copy's text amounts.
        job_sum = spark.sql(f"SELECT sum(amount) FROM lake.{NAMESPACE}.job_1").collect()[0][0]
        bare_sum = spark.sql(f"SELECT sum(CAST(amount AS decimal(12,2))) FROM lake.{NAMESPACE}.bare_1").collect()[0][0]
        ratio = bare_s / job_s
        profile = profile_create(spark, job_args(export, "profile", work, warehouse), options.profile_rounds) \
            if options.profile else None
        report = {
            "benchmark": "load",
            "rows": options.rows,
            "environment": {"cpus": os.cpu_count(), "python": platform.python_version(), "spark": spark.version,
                            "iceberg": "1.7.1", "master": spark.sparkContext.master,
                            "driverMemory": spark.conf.get("spark.driver.memory", None)},
            "export": {"files": len(files), "bytes": export_bytes, "seconds": round(export_seconds, 2),
                       "layout": "RDS export: 2 batch folders, gzip Parquet, numerics and timestamps as text"},
            "measures": {
                "job": "run_load action=create, primary key id: read, casts, value and key checks, counts, "
                       "commit with lineage, result JSON (wall time)",
                "bare": "spark.read.parquet(same files).writeTo(table).create() (wall time)",
                "ratio": "throughput ratio job/bare = bare seconds / job seconds",
            },
            "rounds": options.rounds,
            "job": {"seconds": round(job_s, 2), "rowsPerSecond": rows_per_second(options.rows, job_s),
                    "allSeconds": [round(s, 2) for s in job_times], **job_detail},
            "bare": {"seconds": round(bare_s, 2), "rowsPerSecond": rows_per_second(options.rows, bare_s),
                     "allSeconds": [round(s, 2) for s in bare_times], "rowCountAfter": bare_count},
            "ratio": round(ratio, 3),
            **({"profile": profile} if profile else {}),
            "targets": {
                "ratioAtLeast0.8": ratio >= TARGET_RATIO,
                "countsExact": job_detail.get("rowsRead") == job_detail.get("rowCountAfter") == bare_count
                == options.rows,
                "amountsExact": job_sum is not None and job_sum == bare_sum,
            },
            "totalSeconds": round(time.monotonic() - started, 1),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(json.dumps(report, indent=2, default=str))
        print(f"{options.rows:,} rows: job {job_s:.1f}s ({rows_per_second(options.rows, job_s):,} rows/s), "
              f"bare {bare_s:.1f}s ({rows_per_second(options.rows, bare_s):,} rows/s), ratio {ratio:.2f} "
              f"({'>=' if ratio >= TARGET_RATIO else '<'} {TARGET_RATIO}); wrote {RESULTS}")
        spark.stop()
        return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
