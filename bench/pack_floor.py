"""The floor under bench:pack: bare Iceberg creates of tiny tables in one warm Spark session.

    <venv python> bench/pack_floor.py [--tables 200] [--rows 10] [--threads 4]

Run by bench/pack.ts after its two cycles, with the same table count and rows. Each table is a
Parquet file of --rows rows shaped like an RDS export of the bench tables (id bigint, name text,
amount numeric as text). Each is created in Iceberg with `spark.read.parquet(file).writeTo(t).create()`:
no casts, no checks, no result file, no lineage, none of a cycle's other steps. That is less work
than any load can do for a table, so its time is the least a packed load of these tables can take
in this engine, however the tables are grouped.

Measured twice after a warm-up: one table at a time, and --threads tables at a time (as the
runner's packs load them). Prints one JSON object, the last line of stdout: the wall seconds of
each way and the CPU seconds per table (this process and its JVM).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "glue"))
sys.path.insert(0, str(ROOT / "bench"))

from lakesync_glue.session import build_local_spark  # noqa: E402
from bench_run import setup_logging, work_folder  # noqa: E402

WARMUP_TABLES = 20


def process_cpu_seconds(jvm_pid: int) -> float:
    """User + system CPU seconds of this Python process and the Spark JVM (Linux /proc)."""
    with open(f"/proc/{jvm_pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    jvm = (int(fields[11]) + int(fields[12])) / ticks
    own = resource.getrusage(resource.RUSAGE_SELF)
    return jvm + own.ru_utime + own.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()
    if options.tables <= 0 or options.rows <= 0 or options.threads <= 0:
        parser.error("--tables, --rows and --threads must be positive whole numbers")
    setup_logging(False)

    with work_folder("pack-floor", keep=False) as work:
        spark = build_local_spark(str(work / "warehouse"))
        jvm_pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())  # type: ignore[union-attr]
        rows = [(i, f"row {i}", f"{i * 1.5:.2f}") for i in range(1, options.rows + 1)]
        frame = spark.createDataFrame(rows, "id long, name string, amount string").coalesce(1)
        export = str(work / "export")
        frame.write.parquet(export)
        spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.floor")

        def create(name: str) -> None:
            spark.read.parquet(export).writeTo(f"lake.floor.{name}").create()

        def measure(prefix: str, count: int, threads: int) -> dict[str, float]:
            names = [f"{prefix}{i:04d}" for i in range(count)]
            cpu, started = process_cpu_seconds(jvm_pid), time.monotonic()
            if threads == 1:
                for name in names:
                    create(name)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(create, names))
            wall = time.monotonic() - started
            used = process_cpu_seconds(jvm_pid) - cpu
            return {"wallSeconds": round(wall, 2), "cpuSecondsPerTable": round(used / count, 3)}

        measure("warm", WARMUP_TABLES, options.threads)
        sequential = measure("seq", options.tables, 1)
        threaded = measure("thr", options.tables, options.threads)
        spark.stop()
    print(json.dumps({"tables": options.tables, "rows": options.rows, "threads": options.threads,
                      "oneAtATime": sequential, "threaded": threaded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
