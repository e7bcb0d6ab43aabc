"""Direct extract credentials: a Secrets Manager secret (moto server over HTTP) and IAM auth tokens."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import PG_PASSWORD, Loader, PgServer, _free_port
from lakesync_glue.query import run_query

REGION = "eu-west-1"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto server; boto3 in this process reaches it through AWS_ENDPOINT_URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in (("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    # moto keeps its state per process, shared by every server it starts: start from an empty account.
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")).read()
    try:
        yield boto3.client("secretsmanager", region_name=REGION)
    finally:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")).read()
        server.stop()


def test_the_password_and_username_come_from_a_secret(direct_load: Loader, postgres: PgServer, spark: Any,
                                                      secrets: Any) -> None:
    postgres.sql("CREATE TABLE d_secret (id int, kind text)")
    postgres.sql("INSERT INTO d_secret SELECT g, 'k' FROM generate_series(1, 20) g")
    arn = secrets.create_secret(Name="shop-db", SecretString=json.dumps({"username": "postgres", "password": PG_PASSWORD}))["ARN"]
    # The secret's username wins over --jdbc_user.
    result = direct_load("d_secret", "d_secret", action="create", cursor_column="id", jdbc_password_env="",
                         jdbc_secret=arn, jdbc_user="someone_else")
    assert result.status == "succeeded", result.error
    assert run_query(spark, "SELECT count(*) AS n FROM lake.tests.d_secret") == [{"n": 20}]


def test_a_secret_that_is_missing_or_not_credentials_is_refused_without_its_content(direct_load: Loader,
                                                                                   postgres: PgServer,
                                                                                   secrets: Any) -> None:
    postgres.sql("CREATE TABLE IF NOT EXISTS d_secret_bad (id int)")
    missing = direct_load("d_secret_bad", "d_secret_bad", action="create", cursor_column="id", jdbc_password_env="",
                          jdbc_secret="no-such-secret")
    assert missing.error is not None and missing.error["class"] == "InvalidArgument"
    assert "ResourceNotFoundException" in missing.error["message"] and "'no-such-secret'" in missing.error["message"]
    secrets.create_secret(Name="plain", SecretString=PG_PASSWORD)
    plain = direct_load("d_secret_bad", "d_secret_bad", action="create", cursor_column="id", jdbc_password_env="",
                        jdbc_secret="plain")
    assert plain.error is not None and plain.error["class"] == "InvalidArgument"
    assert "not a JSON object" in plain.error["message"] and PG_PASSWORD not in plain.error["message"]


def test_iam_auth_signs_a_token_for_the_user_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from lakesync_glue.args import parse_job_args
    from lakesync_glue.jdbc import resolve

    for name, value in (("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret"),
                        ("AWS_DEFAULT_REGION", "eu-west-1")):
        monkeypatch.setenv(name, value)
    options = {
        "extract": "direct", "jdbc_url": "jdbc:postgresql://db.abc.eu-west-1.rds.amazonaws.com:5432/shop",
        "jdbc_user": "loader", "jdbc_iam_auth": "true", "region": "eu-central-1", "source_database": "shop",
        "source_schema": "public", "source_table": "events", "namespace": "shop", "lake_table": "events",
        "action": "incremental", "cursor_column": "id", "cycle_id": "c", "run_token": "t",
        "result_path": "/tmp/r.json", "source": "shop", "warehouse": "/tmp/wh",
    }
    conn = resolve(parse_job_args(options, "local"))
    token = conn.credentials.password
    assert token.startswith("db.abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=loader")
    assert "eu-central-1" in token  # --region wins over the environment's
    assert conn.options()["sslmode"] == "require" and token not in repr(conn)
