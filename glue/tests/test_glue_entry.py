"""The Glue entry script: argument resolution through the real awsglue utilities, Spark conf.

`awsglue.utils.getResolvedOptions` (PyPI awsglue-dev) parses with GlueArgumentParser, whose
errors raise GlueArgumentError rather than SystemExit: every argument error must still end
in a failed result JSON at --result_path and a non-zero exit.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from awsglue.utils import GlueArgumentError, getResolvedOptions

import glue_entry
from lakesync_glue.errors import InvalidArgument

GLUE = Path(glue_entry.__file__).resolve().parent

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


def with_value(argv: list[str], flag: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


def without(argv: list[str], flag: str) -> list[str]:
    out = list(argv)
    i = out.index(flag)
    del out[i:i + 2]
    return out


def run_main(argv: list[str], tmp_path: Path) -> tuple[int, Path]:
    result_path = tmp_path / "out" / "orders.json"
    code = glue_entry.main(with_value(argv, "--result_path", str(result_path)))
    return code, result_path


def failed_result(path: Path) -> dict:
    result = json.loads(path.read_text())
    assert result["status"] == "failed" and result["committed"] is False and result["snapshotId"] is None
    assert (result["error"]["class"], result["error"]["retryable"]) == ("InvalidArgument", False)
    assert result["table"] == "shop.public.orders" and result["runToken"] == "t-1" and result["cycleId"] == "c-1"
    return result


def test_resolves_required_and_given_optional_arguments() -> None:
    args, options = glue_entry.parse_glue_args(ARGV, getResolvedOptions, (GlueArgumentError,))
    assert options["JOB_NAME"] == "lakesync-load"
    assert args.target == "shop.public.orders"
    assert args.primary_key == ("id",)
    assert args.catalog == "s3lake"
    assert args.cursor_column is None  # optional and absent: not asked from getResolvedOptions
    assert args.max_delete_fraction == 0.5


def test_name_value_pairs_with_equals_resolve_too() -> None:
    argv = without(ARGV, "--primary_key") + ["--primary_key=id,region"]
    args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert args.primary_key == ("id", "region")


def test_missing_required_arguments_are_named_before_glue_parses() -> None:
    argv = [a for a in ARGV if a not in ("--run_token", "t-1", "--table_bucket_arn")]
    with pytest.raises(InvalidArgument) as info:
        glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert "--run_token" in info.value.message and "--table_bucket_arn" in info.value.message


def test_glue_parser_errors_become_invalid_arguments_naming_the_argument() -> None:
    # The real parser's own messages, turned into ones that name the argument and the fix.
    with pytest.raises(GlueArgumentError) as missing:
        getResolvedOptions(["x"], ["result_path", "run_token"])
    problem = glue_entry.parser_problem(str(missing.value))
    assert problem.message == "missing argument(s): --result_path, --run_token; set them in the job run's Arguments"
    with pytest.raises(GlueArgumentError) as choice:
        getResolvedOptions(["x", "--job-bookmark-option", "sometimes"], [])
    problem = glue_entry.parser_problem(str(choice.value))
    assert problem.message.startswith("--job-bookmark-option: invalid choice: 'sometimes'")
    assert problem.message.endswith("fix --job-bookmark-option in the job run's Arguments")


def test_a_flag_without_its_value_is_a_glue_argument_error_turned_invalid_argument() -> None:
    i = ARGV.index("--primary_key")
    argv = ARGV[: i + 1] + ARGV[i + 2:]  # `--primary_key --cycle_id c-1`: Glue dropped the empty value
    with pytest.raises(GlueArgumentError):
        getResolvedOptions(argv, ["primary_key"])
    with pytest.raises(InvalidArgument) as info:
        glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert info.value.message == (
        "--primary_key was given without a value; pass '--primary_key <value>', or leave --primary_key out when it has none"
    )


def test_values_that_start_with_a_dash_are_values_not_flags() -> None:
    # A table or column may be named "-orders": Glue passes `--source_table -orders`, which argparse takes for a flag.
    argv = with_value(with_value(ARGV, "--source_table", "-orders"), "--primary_key", "-id,region")
    argv = argv + ["--cursor_column", "-updated"]
    args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert args.target == "shop.public.-orders"
    assert args.primary_key == ("-id", "region")
    assert args.cursor_column == "-updated"


def test_values_that_start_with_two_dashes_reach_the_job_unchanged() -> None:
    # PostgreSQL names may begin with "--" ("--orders"): Glue passes `--source_table --orders`, which argparse
    # takes for a flag of its own and fails the run with "expected one argument".
    argv = with_value(with_value(ARGV, "--source_table", "--orders"), "--primary_key", "--id,region")
    argv = with_value(argv, "--source_schema", "--")
    argv = argv + ["--cursor_column", "--updated", "--cursor_mode", "upsert"]
    args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert args.target == "shop.--.--orders"
    assert args.primary_key == ("--id", "region")
    assert (args.cursor_column, args.cursor_mode) == ("--updated", "upsert")
    # The failure report reads the same values: a table named --orders is reported as itself.
    assert glue_entry.raw_options(argv)["source_table"] == "--orders"


def test_a_two_dash_value_named_like_an_argument_is_still_a_missing_value() -> None:
    # Glue drops an empty value: `--primary_key --cycle_id c-1` is a flag without its value, not a key named --cycle_id.
    i = ARGV.index("--primary_key")
    with pytest.raises(InvalidArgument) as info:
        glue_entry.parse_glue_args(ARGV[: i + 1] + ARGV[i + 2:], getResolvedOptions, (GlueArgumentError,))
    assert info.value.message.startswith("--primary_key was given without a value")


def test_spark_conf_for_s3_tables_through_the_glue_catalog() -> None:
    args, _ = glue_entry.parse_glue_args(ARGV, getResolvedOptions, (GlueArgumentError,))
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
        "spark.sql.variable.substitute": "false",
        "spark.sql.caseSensitive": "true",
    }


def test_entry_imports_no_awsglue_at_module_level() -> None:
    source = Path(glue_entry.__file__).read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("awsglue" in line or "pyspark" in line for line in top_level)
    probe = "import sys, glue_entry; print('awsglue' in sys.modules, 'pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=GLUE, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# main(): every argument error writes the failed result and exits non-zero (2).


def test_missing_argument_writes_a_failed_result_and_exits_2(tmp_path: Path) -> None:
    code, path = run_main(without(ARGV, "--cycle_id"), tmp_path)
    assert code == 2
    result = json.loads(path.read_text())
    assert result["status"] == "failed" and result["error"]["class"] == "InvalidArgument"
    assert result["error"]["message"] == "missing argument(s): --cycle_id; set them in the job run's Arguments"


def test_unknown_value_writes_a_failed_result_and_exits_2(tmp_path: Path) -> None:
    code, path = run_main(with_value(ARGV, "--action", "upsert"), tmp_path)
    assert code == 2
    message = failed_result(path)["error"]["message"]
    assert message.startswith("--action 'upsert': is not an action; pass one of create, merge, replace, incremental")


def test_invalid_lake_name_writes_a_failed_result_and_exits_2(tmp_path: Path) -> None:
    code, path = run_main(with_value(ARGV, "--lake_table", "Orders"), tmp_path)
    assert code == 2
    assert "--lake_table 'Orders'" in failed_result(path)["error"]["message"]


def test_empty_required_value_writes_a_failed_result_and_exits_2(tmp_path: Path) -> None:
    code, path = run_main(with_value(ARGV, "--action", ""), tmp_path)
    assert code == 2
    message = failed_result(path)["error"]["message"]
    assert message == "empty argument(s): --action; give each a value in the job run's Arguments"


def test_optional_flag_without_value_writes_a_failed_result_and_exits_2(tmp_path: Path) -> None:
    # GlueArgumentError from the real parser, which used to escape main with no result at all.
    i = ARGV.index("--primary_key")
    code, path = run_main(ARGV[: i + 1] + ARGV[i + 2:], tmp_path)
    assert code == 2
    assert failed_result(path)["error"]["message"].startswith("--primary_key was given without a value")


def test_result_path_given_with_equals_is_used_for_the_failure(tmp_path: Path) -> None:
    result_path = tmp_path / "eq" / "orders.json"
    argv = without(with_value(ARGV, "--action", "upsert"), "--result_path") + [f"--result_path={result_path}"]
    assert glue_entry.main(argv) == 2
    assert failed_result(result_path)["error"]["message"].startswith("--action 'upsert'")


def test_no_usable_result_location_still_exits_2_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert glue_entry.main(without(ARGV, "--result_path")) == 2
    assert glue_entry.main(with_value(ARGV, "--result_path", "ftp://host/orders.json")) == 2
    assert glue_entry.main(with_value(ARGV, "--result_path", str(tmp_path) + "/")) == 2
    assert list(tmp_path.iterdir()) == []


def test_the_script_exits_non_zero_with_the_result_written(tmp_path: Path) -> None:
    # The script as Glue runs it: `python glue_entry.py --name value ...` with the real awsglue.
    result_path = tmp_path / "orders.json"
    argv = with_value(with_value(ARGV, "--result_path", str(result_path)), "--action", "upsert")
    proc = subprocess.run([sys.executable, "glue_entry.py", *argv[1:]], cwd=GLUE, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "InvalidArgument: --action 'upsert'" in proc.stderr
    assert failed_result(result_path)["error"]["message"].startswith("--action 'upsert'")


def test_any_other_failure_of_the_parsing_still_writes_the_result_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # getResolvedOptions raises RuntimeError on reserved names; any such failure is reported too.
    import awsglue.utils

    def reserved(argv: list[str], names: list[str]) -> dict[str, str]:
        raise RuntimeError("Using reserved arguments --JOB_ID")

    monkeypatch.setattr(awsglue.utils, "getResolvedOptions", reserved)
    code, path = run_main(ARGV, tmp_path)
    assert code == 1
    result = json.loads(path.read_text())
    assert result["status"] == "failed" and result["error"]["class"] == "InternalError"
    assert result["error"]["message"] == "the job arguments could not be resolved: Using reserved arguments --JOB_ID"


def test_arguments_too_long_for_the_run_are_read_from_its_arguments_file(tmp_path: Path) -> None:
    # A wide table's column policies travel in a JSON file (--arguments_path) rather than in the run's arguments.
    policies = {f"--col_{i}": {"rename": f"lake_col_{i}"} for i in range(3000)}
    path = tmp_path / "arguments" / "public.orders.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"column_policies": json.dumps(policies), "source_schema": "--"}))
    argv = without(ARGV, "--source_schema") + ["--arguments_path", str(path)]
    args, options = glue_entry.parse_glue_args(glue_entry.with_arguments_file(argv), getResolvedOptions, (GlueArgumentError,))
    assert args.source_schema == "--"
    assert set(args.column_policies) == set(policies)
    assert args.column_policies["--col_7"].rename == "lake_col_7"
    assert "arguments_path" not in options


def test_an_unreadable_arguments_file_fails_the_run_with_a_result_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.json"
    code, path = run_main(ARGV + ["--arguments_path", str(missing)], tmp_path)
    assert code == 2
    message = failed_result(path)["error"]["message"]
    assert str(missing) in message and "arguments file" in message
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"action": "replace"}))
    code, path = run_main(ARGV + ["--arguments_path", str(both)], tmp_path)
    assert code == 2
    assert "--action" in failed_result(path)["error"]["message"]


def test_a_value_named_exactly_like_one_of_the_jobs_arguments_is_read_as_a_value() -> None:
    # PostgreSQL names may be any text: a table named "--cycle_id" reaches the job as `--source_table --cycle_id`,
    # beside the run's own `--cycle_id c-1`. Each argument is given once, so the one after --source_table is its value.
    argv = with_value(ARGV, "--source_table", "--cycle_id")
    args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert (args.source_table, args.cycle_id) == ("--cycle_id", "c-1")
    assert glue_entry.raw_options(argv)["source_table"] == "--cycle_id"
    # Also when the run's own argument comes first, and for a key column named like the argument it follows.
    i = ARGV.index("--cycle_id")
    argv = ARGV[:i] + ARGV[i + 2:] + ["--cycle_id", "c-1"]
    argv = with_value(argv, "--source_table", "--run_token")
    argv = with_value(argv, "--primary_key", "--primary_key")
    args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert (args.source_table, args.run_token, args.cycle_id, args.primary_key) == ("--run_token", "t-1", "c-1", ("--primary_key",))


def test_a_value_named_like_an_argument_the_run_does_not_give_is_a_value() -> None:
    # A column named "--cursor_column" in a run without a cursor: not an argument of the run, but a value.
    argv = with_value(ARGV, "--primary_key", "--cursor_column")
    args, options = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert args.primary_key == ("--cursor_column",)
    assert args.cursor_column is None and "cursor_column" not in options


def test_a_table_named_like_the_pack_argument_does_not_make_a_pack_run(tmp_path: Path) -> None:
    argv = with_value(ARGV, "--source_table", "--pack_path")
    assert not glue_entry.is_pack_run(argv)
    args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
    assert args.source_table == "--pack_path"


def test_a_table_named_like_the_arguments_file_argument_keeps_its_name(tmp_path: Path) -> None:
    path = tmp_path / "arguments.json"
    path.write_text(json.dumps({"source_schema": "public"}))
    argv = with_value(without(ARGV, "--source_schema"), "--source_table", "--arguments_path") + ["--arguments_path", str(path)]
    args, _ = glue_entry.parse_glue_args(glue_entry.with_arguments_file(argv), getResolvedOptions, (GlueArgumentError,))
    assert (args.source_schema, args.source_table) == ("public", "--arguments_path")
