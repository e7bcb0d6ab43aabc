"""Argument parsing and validation: every rejection names the argument, the value and the fix (no Spark)."""
from __future__ import annotations

import pytest

from lakesync_glue.args import parse_job_args, parse_table_bucket_arn, split_argv
from lakesync_glue.errors import InvalidArgument

BASE = {
    "export_path": "s3://exports/rds/exp-1/",
    "source_database": "shop",
    "source_schema": "public",
    "source_table": "Orders",
    "namespace": "shop",
    "lake_table": "orders",
    "action": "merge",
    "primary_key": "id, region",
    "cycle_id": "c-1",
    "run_token": "t-1",
    "result_path": "s3://results/c-1/orders.json",
    "source": "shop",
    "export_id": "exp-1",
    "snapshot_time": "2025-01-01T00:00:00.000Z",
    "table_bucket_arn": "arn:aws:s3tables:eu-west-1:123456789012:bucket/lake-bucket",
}


def parse(mode: str = "glue", **changes: str | None) -> object:
    options = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    if mode == "local":
        options.pop("table_bucket_arn", None)
        options.setdefault("warehouse", "/tmp/wh")
    return parse_job_args(options, mode)  # type: ignore[arg-type]


def test_defaults_and_normalisation() -> None:
    args = parse()
    assert args.target == "shop.public.Orders"
    assert args.lake_table_id == "shop.orders"
    assert args.export_path == "s3://exports/rds/exp-1"
    assert args.primary_key == ("id", "region")
    # PostgreSQL may have columns id and "ID": a key of both is two columns (resolved against the export's columns).
    assert parse(primary_key="id,ID").primary_key == ("id", "ID")
    assert args.catalog == "lake"
    assert args.max_delete_fraction == 0.5
    assert args.approve_deletes is False
    assert args.cursor_column is None and args.cursor_mode is None
    assert args.table_bucket_arn == BASE["table_bucket_arn"]
    assert args.warehouse is None


def test_only_local_tables_get_the_metadata_bounds() -> None:
    """S3 Tables maintains its tables itself: the Glue job sets no metadata or retention property there."""
    from lakesync_glue import maintenance

    assert maintenance.local_properties(parse()) == {}  # type: ignore[arg-type]
    assert maintenance.local_properties(parse("local")) == {  # type: ignore[arg-type]
        "write.metadata.delete-after-commit.enabled": "true",
        "write.metadata.previous-versions-max": str(maintenance.METADATA_VERSIONS_KEPT),
    }


def test_cursor_mode_resolution() -> None:
    assert parse(cursor_column="updated_at").cursor_mode == "upsert"
    assert parse(primary_key="", action="incremental", cursor_column="updated_at").cursor_mode == "append"
    assert parse(cursor_column="v", cursor_mode="append").cursor_mode == "append"
    assert parse(cursor_mode="append").cursor_mode is None  # no cursor: the mode does not apply


def test_local_mode_takes_warehouse_not_bucket() -> None:
    args = parse("local", approve_deletes="TRUE", max_delete_fraction="0.25", result_path="/tmp/r/orders.json")
    assert args.warehouse == "/tmp/wh"
    assert args.table_bucket_arn is None
    assert args.approve_deletes is True
    assert args.max_delete_fraction == 0.25


@pytest.mark.parametrize(
    "changes, fragments",
    [
        ({"lake_table": "Orders"}, ["--lake_table 'Orders'", "lowercase", "'orders'"]),
        ({"lake_table": "_orders"}, ["--lake_table '_orders'", "starting with a letter or digit"]),
        ({"lake_table": "x" * 256}, ["--lake_table", "1-255"]),
        ({"namespace": "shop-eu"}, ["--namespace 'shop-eu'", "'shop_eu'"]),
        ({"namespace": "aws_shop"}, ["--namespace 'aws_shop'", "reserved prefix 'aws'"]),
        ({"catalog": "my-lake"}, ["--catalog 'my-lake'", "--catalog lake"]),
        ({"action": "upsert"}, ["--action 'upsert'", "create, merge, replace, incremental"]),
        ({"primary_key": ""}, ["--action 'merge'", "needs a primary key", "--primary_key"]),
        ({"primary_key": "id,,region"}, ["--primary_key 'id,,region'", "empty column name"]),
        ({"primary_key": "id,id"}, ["--primary_key 'id,id'", "twice"]),
        ({"action": "incremental"}, ["--action 'incremental'", "--cursor_column"]),
        ({"cursor_column": "v", "cursor_mode": "sometimes"}, ["--cursor_mode 'sometimes'", "upsert or append"]),
        ({"primary_key": "", "action": "replace", "cursor_column": "v", "cursor_mode": "upsert"},
         ["--cursor_mode 'upsert'", "needs a primary key"]),
        ({"max_delete_fraction": "half"}, ["--max_delete_fraction 'half'", "not a number"]),
        ({"max_delete_fraction": "1.5"}, ["--max_delete_fraction '1.5'", "between 0 and 1"]),
        ({"approve_deletes": "yes"}, ["--approve_deletes 'yes'", "true or false"]),
        ({"table_bucket_arn": "arn:aws:s3:::lake-bucket"}, ["--table_bucket_arn", "arn:aws:s3tables:<region>"]),
        ({"result_path": "s3://results/"}, ["--result_path", "object key"]),
        ({"export_path": "gs://bucket/x"}, ["--export_path 'gs://bucket/x'", "s3://"]),
        ({"source_table": "a/b"}, ["--source_table 'a/b'", "contains '/'"]),
        ({"snapshot_time": "yesterday"}, ["--snapshot_time 'yesterday'", "ISO-8601", "2025-01-01T00:00:00.000Z"]),
        ({"snapshot_time": "2025-01-01T00:00:00"}, ["--snapshot_time '2025-01-01T00:00:00'", "time zone"]),
        ({"allow_older_export": "maybe"}, ["--allow_older_export 'maybe'", "true or false"]),
    ],
)
def test_rejections_name_argument_value_and_fix(changes: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(**changes)
    for fragment in fragments:
        assert fragment in info.value.message
    assert info.value.error_class == "InvalidArgument"


def test_missing_arguments_are_listed() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(run_token=None, namespace="  ", table_bucket_arn=None)
    assert "--namespace" in info.value.message
    assert "--run_token" in info.value.message
    assert "--table_bucket_arn" in info.value.message


def test_lineage_arguments_are_required_and_kept_as_given() -> None:
    args = parse(snapshot_time=" 2025-01-01T02:00:00+02:00 ")
    assert (args.source, args.export_id, args.snapshot_time) == ("shop", "exp-1", "2025-01-01T02:00:00+02:00")
    assert args.snapshot_instant.isoformat() == "2025-01-01T02:00:00+02:00"
    assert args.allow_older_export is False
    assert parse("local", allow_older_export="true").allow_older_export is True
    with pytest.raises(InvalidArgument) as info:
        parse(source=None, export_id="", snapshot_time=None)
    for name in ("--source", "--export_id", "--snapshot_time"):
        assert name in info.value.message


def test_local_mode_rejects_unknown_flags() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse("local", primary_keys="id")
    assert "--primary_keys 'id'" in info.value.message
    assert "primary_key" in info.value.message


def test_split_argv_pairs_equals_and_empty_values() -> None:
    argv = ["--action", "merge", "--primary_key", "--cursor_column=", "--lake_table=orders", "--max_delete_fraction", "-0"]
    assert split_argv(argv) == {
        "action": "merge",
        "primary_key": "",
        "cursor_column": "",
        "lake_table": "orders",
        "max_delete_fraction": "-0",
    }
    with pytest.raises(InvalidArgument):
        split_argv(["merge"])


def test_split_argv_keeps_values_that_start_with_two_dashes() -> None:
    # A table or column may be named "--orders"; only one of the job's own arguments after a flag is a flag.
    argv = ["--source_table", "--orders", "--source_schema", "--", "--primary_key", "--cycle_id", "c-1"]
    assert split_argv(argv) == {"source_table": "--orders", "source_schema": "--", "primary_key": "", "cycle_id": "c-1"}


def test_table_bucket_arn_parts() -> None:
    assert parse_table_bucket_arn("arn:aws:s3tables:us-east-1:111122223333:bucket/my-tables") == (
        "us-east-1",
        "111122223333",
        "my-tables",
    )


def test_source_names_are_kept_as_given_not_trimmed() -> None:
    # " orders" and "orders" are two PostgreSQL tables: trimmed, the load would read the other one's rows.
    args = parse(source_schema=" public", source_table="orders ")
    assert (args.source_schema, args.source_table) == (" public", "orders ")
    assert args.target == "shop. public.orders "


def test_an_early_failure_and_a_pack_name_the_table_as_given() -> None:
    from lakesync_glue.cli import early_failure
    from lakesync_glue.errors import InvalidArgument as Bad
    from lakesync_glue.pack import table_of

    options = {**BASE, "source_table": " orders"}
    assert table_of(options) == "public. orders"
    assert early_failure(options, Bad("x"), "2025-01-01T00:00:00Z").table == "shop.public. orders"


def test_next_action_is_the_action_of_the_loads_after_a_create() -> None:
    assert parse(action="create", next_action="Replace").next_action == "replace"  # type: ignore[attr-defined]
    assert parse(action="create").next_action is None  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match=r"--next_action 'replace'.*applies only with --action create"):
        parse(action="merge", next_action="replace")
    with pytest.raises(InvalidArgument, match=r"--next_action 'rebuild'.*is not the action of a load after a create"):
        parse(action="create", next_action="rebuild")
    with pytest.raises(InvalidArgument, match=r"--next_action 'merge'.*merge needs a primary key"):
        parse(action="create", primary_key=None, next_action="merge")
    with pytest.raises(InvalidArgument, match=r"--next_action 'incremental'.*needs a cursor column"):
        parse(action="create", next_action="incremental")
