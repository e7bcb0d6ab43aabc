"""AWS Glue 5.0 entry of the lakesync load job; the only file that imports awsglue.

Glue passes the job arguments as `--name value`. The Iceberg catalog for the S3 Tables
bucket is configured on the SparkConf before the SparkContext starts (Iceberg's Spark
settings are static), then the plain-PySpark core does the load. Deploy the
`lakesync_glue` package zipped in --extra-py-files next to this script.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from lakesync_glue.args import COMMON_OPTIONAL, COMMON_REQUIRED, MODE_REQUIRED, JobArgs, parse_job_args
from lakesync_glue.cli import report_early_failure, setup_logging
from lakesync_glue.errors import InternalError, InvalidArgument, LoadError
from lakesync_glue.result import utc_now
from lakesync_glue.session import glue_spark_conf

REQUIRED: tuple[str, ...] = COMMON_REQUIRED + MODE_REQUIRED["glue"]
OPTIONAL: tuple[str, ...] = COMMON_OPTIONAL + ("JOB_NAME",)

Resolver = Callable[[Sequence[str], list[str]], dict[str, Any]]


def _given(argv: Sequence[str], name: str) -> bool:
    flag = f"--{name}"
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def resolve_options(argv: Sequence[str], resolver: Resolver) -> dict[str, str]:
    """Job arguments through Glue's getResolvedOptions; optional ones only when given.

    getResolvedOptions fails on any listed name that is absent, so missing required
    arguments are reported here first, with the names, instead of its usage text.
    """
    missing = [n for n in REQUIRED if not _given(argv, n)]
    if missing:
        raise InvalidArgument(
            f"missing argument(s): {', '.join('--' + n for n in missing)}; set them in the job run's Arguments"
        )
    names = list(REQUIRED) + [n for n in OPTIONAL if _given(argv, n)]
    try:
        resolved = resolver(argv, names)
    except SystemExit as exc:  # argparse inside getResolvedOptions exits on bad input
        raise InvalidArgument(f"the job arguments could not be parsed ({exc}); pass each as '--name value'") from None
    return {k: "" if v is None else str(v) for k, v in resolved.items()}


def parse_glue_args(argv: Sequence[str], resolver: Resolver) -> tuple[JobArgs, dict[str, str]]:
    options = resolve_options(argv, resolver)
    return parse_job_args({k: v for k, v in options.items() if k != "JOB_NAME"}, "glue"), options


def spark_conf(args: JobArgs) -> dict[str, str]:
    """The Spark conf the job starts with: Iceberg over the S3 Tables bucket via the Glue catalog."""
    return glue_spark_conf(args.catalog, args.table_bucket_arn or "")


def raw_options(argv: Sequence[str]) -> dict[str, str]:
    """Best-effort `--name value` pairs, to report a failure when parsing itself failed."""
    out: dict[str, str] = {}
    for i, token in enumerate(argv):
        if token.startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            out[token[2:]] = argv[i + 1]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    started = utc_now()
    argv = list(sys.argv if argv is None else argv)
    from awsglue.utils import getResolvedOptions  # Glue runtime only

    try:
        args, options = parse_glue_args(argv, getResolvedOptions)
    except LoadError as exc:
        report_early_failure(raw_options(argv), exc, started)
        return 2

    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.conf import SparkConf
    from pyspark.context import SparkContext

    from lakesync_glue.loader import run_load

    try:
        conf = SparkConf().setAll(list(spark_conf(args).items()))
        glue_context = GlueContext(SparkContext.getOrCreate(conf=conf))
        job = Job(glue_context)
        job.init(options.get("JOB_NAME") or "lakesync-load", options)
    except Exception as exc:  # noqa: BLE001 - no Spark, no load: still report it
        error = InternalError(f"table {args.target}: could not start Spark: {exc}")
        report_early_failure(options, error, started)
        return 1
    result = run_load(glue_context.spark_session, args)
    if result.succeeded:
        job.commit()
        return 0
    return 1


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)
