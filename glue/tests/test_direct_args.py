"""Direct extract arguments: what a direct load needs, and every combination it refuses (no Spark)."""
from __future__ import annotations

import pytest

from lakesync_glue.args import parse_job_args
from lakesync_glue.errors import InvalidArgument

DIRECT = {
    "extract": "direct",
    "jdbc_url": "jdbc:postgresql://db.internal:5432/shop?sslmode=require",
    "jdbc_user": "loader",
    "jdbc_secret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-db-AbCdEf",
    "source_database": "shop",
    "source_schema": "public",
    "source_table": "events",
    "namespace": "shop",
    "lake_table": "events",
    "action": "incremental",
    "cursor_column": "id",
    "cycle_id": "c-1",
    "run_token": "t-1",
    "result_path": "s3://results/c-1/events.json",
    "source": "shop",
    "table_bucket_arn": "arn:aws:s3tables:eu-west-1:123456789012:bucket/lake-bucket",
}


def parse(**changes: str | None) -> object:
    return parse_job_args({k: v for k, v in {**DIRECT, **changes}.items() if v is not None}, "glue")


def refused(**changes: str | None) -> str:
    with pytest.raises(InvalidArgument) as caught:
        parse(**changes)
    return caught.value.message


def test_a_direct_load_needs_no_export_arguments() -> None:
    args = parse()
    assert args.direct and args.export_path == "" and args.export_id == "" and args.snapshot_time == ""  # type: ignore[attr-defined]
    jdbc = args.jdbc  # type: ignore[attr-defined]
    assert (jdbc.host, jdbc.port, jdbc.database, jdbc.user) == ("db.internal", 5432, "shop", "loader")
    assert jdbc.secret == DIRECT["jdbc_secret"] and jdbc.partitions is None
    assert parse(partitions="256", partition_column="grp").jdbc.partitions == 256  # type: ignore[attr-defined]
    assert parse(action="create").action == "create"  # type: ignore[attr-defined]
    # An export load still requires them.
    assert "--export_path" in refused(extract=None, jdbc_url=None, jdbc_user=None, jdbc_secret=None)


@pytest.mark.parametrize("url", [
    "jdbc:postgresql://loader:pg-Secret-7f3a9@db.internal:5432/shop",
    "jdbc:postgresql://db.internal:5432/shop?password=pg-Secret-7f3a9",
    "jdbc:postgresql://db.internal:5432/shop?sslmode=require&PASSWORD=pg-Secret-7f3a9",
    "jdbc:postgresql://db.internal:5432/shop?user=loader",
])
def test_a_url_with_credentials_is_refused_without_repeating_it(url: str) -> None:
    message = refused(jdbc_url=url)
    assert "carries credentials" in message and "shop.public.events" in message
    assert "pg-Secret-7f3a9" not in message and url not in message


@pytest.mark.parametrize("url", ["postgres://db/shop", "jdbc:mysql://db:3306/shop", "jdbc:postgresql://db:5432/"])
def test_a_url_that_is_not_a_postgresql_jdbc_url_is_refused(url: str) -> None:
    assert "--jdbc_url" in refused(jdbc_url=url)


@pytest.mark.parametrize("param", ["readOnly=false", "readonlymode=transaction"])
def test_a_url_cannot_turn_the_read_only_session_off(param: str) -> None:
    message = refused(jdbc_url=f"jdbc:postgresql://db.internal:5432/shop?sslmode=require&{param}")
    name = param.split("=")[0]
    assert f"sets {name}: a direct load opens read-only sessions, and the URL would override that" in message
    assert f"remove {name} from the URL" in message


def test_exactly_one_password_source() -> None:
    two = refused(jdbc_password_env="PGPASSWORD")
    assert "--jdbc_password_env and --jdbc_secret" in two and "exactly one" in two
    assert "exactly one" in refused(jdbc_iam_auth="true")
    none = refused(jdbc_secret=None)
    assert "no password source" in none and "shop.public.events" in none
    assert "environment variable name" in refused(jdbc_secret=None, jdbc_password_env="not a name")
    assert parse(jdbc_secret=None, jdbc_iam_auth="true").jdbc.iam_auth is True  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["0", "257", "-1", "four", "1.5"])
def test_partitions_out_of_range_are_refused(value: str) -> None:
    message = refused(partitions=value)
    assert message.startswith(f"--partitions {value!r}") and "1 to 256" in message


def test_direct_needs_a_cursor_and_reads_only_create_or_incremental() -> None:
    message = refused(cursor_column=None)
    assert "--extract direct" in message and "--cursor_column" in message and "shop.public.events" in message
    for action in ("replace", "merge"):
        message = refused(action=action, primary_key="id")
        assert f"--action '{action}'" in message and "create or incremental" in message
    assert "--rebuild" in refused(rebuild="true")
    # Without a secret there is no username to fall back on.
    assert "--jdbc_user" in refused(jdbc_user=None, jdbc_secret=None, jdbc_password_env="PGPASSWORD")


def test_jdbc_arguments_without_direct_are_refused() -> None:
    export = {"extract": None, "export_path": "s3://exports/e1", "export_id": "e1",
              "snapshot_time": "2025-01-01T00:00:00Z", "jdbc_user": None, "jdbc_secret": None}
    message = refused(**export)
    assert message.startswith("--jdbc_url '(not shown)'") and "--extract direct" in message
    assert "--partitions" in refused(**{**export, "jdbc_url": None, "partitions": "4"})
    assert "is not an extract" in refused(extract="jdbc")


def test_the_local_entry_accepts_the_direct_arguments() -> None:
    options = {k: v for k, v in DIRECT.items() if k != "table_bucket_arn"}
    args = parse_job_args({**options, "jdbc_secret": "", "jdbc_password_env": "LAKESYNC_JDBC_PASSWORD_1",
                           "warehouse": "/tmp/wh"}, "local")
    assert args.jdbc is not None and args.jdbc.password_env == "LAKESYNC_JDBC_PASSWORD_1"


def test_the_glue_entry_does_not_require_export_arguments_for_a_direct_load() -> None:
    from glue_entry import parse_glue_args

    argv = ["script.py"] + [x for k, v in DIRECT.items() for x in (f"--{k}", v)]

    def resolver(argv_: list[str], names: list[str]) -> dict[str, str]:
        assert "export_path" not in names and "jdbc_url" in names and "jdbc_secret" in names
        return {n: argv_[argv_.index(f"--{n}") + 1] for n in names}

    args, _ = parse_glue_args(argv, resolver)
    assert args.direct
    with pytest.raises(InvalidArgument, match="--export_path"):
        parse_glue_args([a for a in argv if a not in ("--extract", "direct")], resolver)


def test_a_direct_cursor_keeps_its_source_type() -> None:
    """PostgreSQL compares the window in the cursor's own type, the lake's max(cursor) is in the lake type."""
    message = refused(cursor_column="seq", column_policies='{"SEQ": {"type": "bigint"}}')
    assert message.startswith("--column_policies 'seq: type bigint': a direct load (table shop.public.events) compares its cursor")
    assert "remove type from the cursor column's policy, or load the table from an export" in message
    assert parse(column_policies='{"other": {"type": "bigint"}}')  # other columns may be retyped
    assert parse(extract="export", export_path="s3://exports/e-1", export_id="e-1", snapshot_time="2024-05-01T00:00:00Z",
                 jdbc_url=None, jdbc_user=None, jdbc_secret=None, cursor_column="seq",
                 column_policies='{"seq": {"type": "bigint"}}')  # an export load compares typed values
