"""The Glue entry script: argument resolution and Spark conf, without Spark or awsglue."""
from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import glue_entry
from lakesync_glue.errors import InvalidArgument


def fake_get_resolved_options(argv: Sequence[str], names: list[str]) -> dict[str, Any]:
    """Glue's getResolvedOptions: every listed name must be present; other flags are ignored."""
    values: dict[str, Any] = {}
    for name in names:
        flag = f"--{name}"
        if flag not in argv:
            raise SystemExit(f"error: the following arguments are required: {flag}")
        i = list(argv).index(flag)
        values[name] = argv[i + 1] if i + 1 < len(argv) else ""
    return values


ARGV = [
    "glue_entry.py",
    "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "lakesync-load",
    "--job-bookmark-option", "job-bookmark-disable", "--datalake-formats", "iceberg",
    "--export_path", "s3://exports/rds/exp-1",
    "--source_database", "shop", "--source_schema", "public", "--source_table", "orders",
    "--namespace", "shop", "--lake_table", "orders", "--action", "merge", "--primary_key", "id",
    "--cycle_id", "c-1", "--run_token", "t-1", "--result_path", "s3://results/c-1/orders.json",
    "--source", "shop", "--export_id", "exp-1", "--snapshot_time", "2025-01-01T00:00:00.000Z",
    "--table_bucket_arn", "arn:aws:s3tables:eu-west-1:123456789012:bucket/lake-bucket",
    "--catalog", "s3lake",
]


def test_resolves_required_and_given_optional_arguments() -> None:
    args, options = glue_entry.parse_glue_args(ARGV, fake_get_resolved_options)
    assert options["JOB_NAME"] == "lakesync-load"
    assert args.target == "shop.public.orders"
    assert args.primary_key == ("id",)
    assert args.catalog == "s3lake"
    assert args.cursor_column is None  # optional and absent: not asked from getResolvedOptions
    assert args.max_delete_fraction == 0.5


def test_missing_required_arguments_are_named_before_glue_parses() -> None:
    argv = [a for a in ARGV if a not in ("--run_token", "t-1", "--table_bucket_arn")]
    with pytest.raises(InvalidArgument) as info:
        glue_entry.parse_glue_args(argv, fake_get_resolved_options)
    assert "--run_token" in info.value.message and "--table_bucket_arn" in info.value.message


def test_spark_conf_for_s3_tables_through_the_glue_catalog() -> None:
    args, _ = glue_entry.parse_glue_args(ARGV, fake_get_resolved_options)
    conf = glue_entry.spark_conf(args)
    assert conf == {
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.s3lake": "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.s3lake.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        "spark.sql.catalog.s3lake.glue.id": "123456789012:s3tablescatalog/lake-bucket",
        "spark.sql.catalog.s3lake.warehouse": "s3://lake-bucket/warehouse/",
        "spark.sql.catalog.s3lake.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "spark.sql.catalog.s3lake.client.region": "eu-west-1",
        "spark.sql.catalog.s3lake.cache-enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.iceberg.vectorization.enabled": "false",
    }


def test_entry_imports_no_awsglue_at_module_level() -> None:
    assert "awsglue" not in sys.modules
    source = Path(glue_entry.__file__).read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("awsglue" in line or "pyspark" in line for line in top_level)


def test_invalid_arguments_write_a_failed_result_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = fake_get_resolved_options  # type: ignore[attr-defined]
    package = types.ModuleType("awsglue")
    package.utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", package)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    result_path = tmp_path / "out" / "orders.json"
    argv = list(ARGV)
    argv[argv.index("--result_path") + 1] = str(result_path)
    argv[argv.index("--lake_table") + 1] = "Orders"
    assert glue_entry.main(argv) == 2
    result = json.loads(result_path.read_text())
    assert result["status"] == "failed"
    assert (result["error"]["class"], result["error"]["retryable"]) == ("InvalidArgument", False)
    assert "--lake_table 'Orders'" in result["error"]["message"]
    assert result["table"] == "shop.public.orders" and result["runToken"] == "t-1" and result["cycleId"] == "c-1"
    assert result["snapshotId"] is None and result["committed"] is False
