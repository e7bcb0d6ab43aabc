"""Direct extract over verified TLS: the CA bundle comes from S3 (moto server over HTTP), and a
secret's username stands in for --jdbc_user. No Spark: the connection is resolved, not opened."""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import _free_port
from lakesync_glue import jdbc as jdbc_module
from lakesync_glue.args import parse_job_args
from lakesync_glue.errors import InvalidArgument
from lakesync_glue.jdbc import resolve

REGION = "eu-west-1"
BUNDLE = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
CERT_URI = "s3://certs-bucket/rds/global-bundle.pem"
OPTIONS = {
    "extract": "direct", "jdbc_url": "jdbc:postgresql://db.abc.eu-west-1.rds.amazonaws.com:5432/shop?sslmode=verify-full",
    "jdbc_user": "loader", "jdbc_password_env": "LAKESYNC_TEST_PW", "source_database": "shop",
    "source_schema": "public", "source_table": "events", "namespace": "shop", "lake_table": "events",
    "action": "incremental", "cursor_column": "id", "cycle_id": "c", "run_token": "t",
    "result_path": "s3://results/r.json", "source": "shop",
    "table_bucket_arn": "arn:aws:s3tables:eu-west-1:123456789012:bucket/lake-bucket",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """A moto server with a bucket; boto3 in this process reaches it through AWS_ENDPOINT_URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in (("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", REGION),
                        ("LAKESYNC_TEST_PW", "pw")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(jdbc_module, "_ROOT_CERTS", {})
    # moto keeps its state per process: start each test from an empty account.
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")).read()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="certs-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        yield s3, boto3.client("secretsmanager", region_name=REGION)
    finally:
        # Leave no secret or bucket to a later test of this process (moto's state outlives the server).
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")).read()
        server.stop()


def args(**changes: str | None) -> Any:
    return parse_job_args({k: v for k, v in {**OPTIONS, **changes}.items() if v is not None}, "glue")


def test_verify_full_reads_the_bundle_from_s3_into_a_private_file_once_per_run(aws: tuple[Any, Any]) -> None:
    s3, _ = aws
    s3.put_object(Bucket="certs-bucket", Key="rds/global-bundle.pem", Body=BUNDLE)
    conn = resolve(args(jdbc_ssl_root_cert=CERT_URI))
    path = conn.options()["sslrootcert"]
    with open(path, "rb") as f:
        assert f.read() == BUNDLE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    # The second table of the run reuses the file, even after the object is gone.
    s3.delete_object(Bucket="certs-bucket", Key="rds/global-bundle.pem")
    assert resolve(args(jdbc_ssl_root_cert=CERT_URI, source_table="orders")).options()["sslrootcert"] == path
    verify_ca = resolve(args(jdbc_ssl_root_cert=CERT_URI,
                             jdbc_url="jdbc:postgresql://db.abc.eu-west-1.rds.amazonaws.com:5432/shop?sslmode=verify-ca"))
    assert verify_ca.options()["sslrootcert"] == path


def test_require_and_disable_never_fetch_or_set_a_root_certificate(aws: tuple[Any, Any]) -> None:
    # No object in the bucket: a fetch would fail.
    for mode in ("require", "disable"):
        url = f"jdbc:postgresql://db.abc.eu-west-1.rds.amazonaws.com:5432/shop?sslmode={mode}"
        assert "sslrootcert" not in resolve(args(jdbc_ssl_root_cert=CERT_URI, jdbc_url=url)).options()
    assert jdbc_module._ROOT_CERTS == {}


def test_a_missing_bundle_is_a_clear_error_naming_the_uri_and_the_table(aws: tuple[Any, Any]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        resolve(args(jdbc_ssl_root_cert="s3://certs-bucket/rds/nope.pem"))
    message = caught.value.message
    assert "s3://certs-bucket/rds/nope.pem" in message and "shop.public.events" in message
    assert "NoSuchKey" in message and "global-bundle.pem" in message and "s3:GetObject" in message


def test_an_object_that_is_not_pem_is_refused(aws: tuple[Any, Any]) -> None:
    s3, _ = aws
    s3.put_object(Bucket="certs-bucket", Key="rds/global-bundle.pem", Body=b"<html>not a bundle</html>")
    with pytest.raises(InvalidArgument) as caught:
        resolve(args(jdbc_ssl_root_cert=CERT_URI))
    assert "not a PEM certificate bundle" in caught.value.message and CERT_URI in caught.value.message


def test_the_root_certificate_argument_must_be_an_s3_object() -> None:
    for bad in ("/etc/ssl/rds.pem", "s3://certs-bucket", "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"):
        with pytest.raises(InvalidArgument) as caught:
            args(jdbc_ssl_root_cert=bad)
        assert caught.value.message.startswith(f"--jdbc_ssl_root_cert {bad!r}") and "s3://<bucket>/<key>" in caught.value.message
    with pytest.raises(InvalidArgument) as caught:
        args(extract=None, jdbc_url=None, jdbc_user=None, jdbc_password_env=None, jdbc_ssl_root_cert=CERT_URI,
             export_path="s3://exports/e1", export_id="e1", snapshot_time="2025-01-01T00:00:00Z")
    assert "--jdbc_ssl_root_cert" in caught.value.message and "direct loads" in caught.value.message


def test_with_a_secret_the_user_may_come_from_the_secret_alone(aws: tuple[Any, Any]) -> None:
    _, secrets = aws
    arn = secrets.create_secret(Name="shop-db", SecretString=json.dumps({"username": "rds_admin", "password": "pw"}))["ARN"]
    conn = resolve(args(jdbc_user=None, jdbc_password_env=None, jdbc_secret=arn, jdbc_url=OPTIONS["jdbc_url"].replace("verify-full", "require")))
    assert conn.credentials.user == "rds_admin" and conn.options()["user"] == "rds_admin"
    bare = secrets.create_secret(Name="no-user", SecretString=json.dumps({"password": "pw"}))["ARN"]
    with pytest.raises(InvalidArgument) as caught:
        resolve(args(jdbc_user=None, jdbc_password_env=None, jdbc_secret=bare))
    assert "no \"username\"" in caught.value.message and "source.catalog.user" in caught.value.message
    assert "pw" not in caught.value.message.replace("password", "")
    # Without a secret there is nothing to take the user from.
    with pytest.raises(InvalidArgument) as caught:
        args(jdbc_user=None)
    assert "--jdbc_user" in caught.value.message


class _FakeContext:
    """What share_root_cert uses of a SparkContext: the master, addFile and the driver JVM's cwd."""

    def __init__(self, master: str, cwd: str) -> None:
        self.master, self.added = master, []
        system = type("System", (), {"getProperty": staticmethod(lambda name: cwd if name == "user.dir" else None)})
        self._jvm = type("Jvm", (), {"java": type("Java", (), {"lang": type("Lang", (), {"System": system})})})

    def addFile(self, path: str) -> None:  # noqa: N802 - Spark's name
        self.added.append(path)


def test_on_a_cluster_the_bundle_is_shipped_to_the_executors_and_named_relatively(tmp_path: Any) -> None:
    from lakesync_glue.jdbc import share_root_cert

    bundle = tmp_path / "private" / "root-abc.pem"
    bundle.parent.mkdir()
    bundle.write_bytes(BUNDLE)
    driver_cwd = tmp_path / "driver"
    driver_cwd.mkdir()
    local = type("Spark", (), {"sparkContext": _FakeContext("local[2]", str(driver_cwd))})()
    assert share_root_cert(local, str(bundle)) == str(bundle)  # one JVM: the private path serves
    assert local.sparkContext.added == []
    cluster = type("Spark", (), {"sparkContext": _FakeContext("yarn", str(driver_cwd))})()
    # Executors find SparkContext.addFile's files in their working directory; the driver in its JVM's.
    assert share_root_cert(cluster, str(bundle)) == "root-abc.pem"
    assert cluster.sparkContext.added == [str(bundle)]
    assert (driver_cwd / "root-abc.pem").read_bytes() == BUNDLE


def test_the_bundle_s_private_folder_goes_when_the_process_exits(aws: tuple[Any, Any]) -> None:
    import subprocess
    import sys

    s3, _ = aws
    s3.put_object(Bucket="certs-bucket", Key="rds/global-bundle.pem", Body=BUNDLE)
    script = (
        "import json, os, sys\n"
        "from lakesync_glue.args import parse_job_args\n"
        "from lakesync_glue.jdbc import resolve\n"
        "path = resolve(parse_job_args(json.loads(sys.argv[1]), 'glue')).options()['sslrootcert']\n"
        "assert os.path.isfile(path)\n"
        "print(path)\n"
    )
    options = json.dumps({**OPTIONS, "jdbc_ssl_root_cert": CERT_URI})
    glue_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, "-c", script, options], cwd=glue_dir, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    path = run.stdout.strip()
    assert path.endswith(".pem") and not os.path.exists(os.path.dirname(path)), path
