"""Local entry: the Glue job's arguments (plus --warehouse) on local Spark with a Hadoop Iceberg catalog.

    python glue/local_entry.py --export_path /data/exports/e1 --source_database shop \
        --source_schema public --source_table orders --namespace shop --lake_table orders \
        --action merge --primary_key id --cycle_id c1 --run_token t1 \
        --source shop --export_id e1 --snapshot_time 2025-01-01T00:00:00.000Z \
        --result_path /tmp/results/orders.json --warehouse /data/warehouse

A direct load reads the table over JDBC instead of an export (no --export_path, --export_id,
--snapshot_time; the password only by the name of the variable holding it):

    LAKESYNC_JDBC_PASSWORD_1=... python glue/local_entry.py --extract direct \
        --jdbc_url jdbc:postgresql://127.0.0.1:5432/shop --jdbc_user loader \
        --jdbc_password_env LAKESYNC_JDBC_PASSWORD_1 --source_database shop --source_schema public \
        --source_table events --namespace shop --lake_table events --action incremental \
        --cursor_column id --primary_key id --cycle_id c1 --run_token t1 --source shop \
        --result_path /tmp/results/events.json --warehouse /data/warehouse

Prints the result JSON on stdout; exits 0 when the load succeeded, 1 when it failed,
2 when the arguments were rejected.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lakesync_glue.args import parse_job_args, split_argv  # noqa: E402
from lakesync_glue.cli import report_early_failure, setup_logging  # noqa: E402
from lakesync_glue.errors import InternalError, LoadError  # noqa: E402
from lakesync_glue.loader import run_load  # noqa: E402
from lakesync_glue.result import utc_now  # noqa: E402
from lakesync_glue.session import build_local_spark  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    started = utc_now()
    raw = sys.argv[1:] if argv is None else argv
    options: dict[str, str] = {}
    try:
        options = split_argv(raw)
        args = parse_job_args(options, "local")
    except LoadError as exc:
        print(report_early_failure(options, exc, started).to_json())
        return 2
    try:
        spark = build_local_spark(args.warehouse or "", args.catalog)
    except Exception as exc:  # noqa: BLE001 - no Spark, no load: still report it
        error = InternalError(f"table {args.target}: could not start local Spark: {exc}")
        print(report_early_failure(options, error, started).to_json())
        return 1
    result = run_load(spark, args)
    print(result.to_json())
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
