"""Shared fixtures: ONE local SparkSession (Iceberg catalog `lake`) for the whole test run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
GLUE = TESTS.parent
for path in (GLUE, TESTS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from lakesync_glue.args import JobArgs, parse_job_args  # noqa: E402
from lakesync_glue.result import LoadResult  # noqa: E402


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("warehouse"))


@pytest.fixture(scope="session")
def spark(warehouse: str) -> Iterator[Any]:
    # The jar comes from $LAKESYNC_ICEBERG_JAR or .lakesync/toolchain.json (scripts/bootstrap.sh).
    from lakesync_glue.session import build_local_spark

    session = build_local_spark(warehouse, "lake", os.environ.get("LAKESYNC_ICEBERG_JAR"))
    yield session
    session.stop()


def make_args(export_path: str, target: str, lake_table: str, result_path: str, warehouse: str,
              action: str = "merge", namespace: str = "tests", **options: str) -> JobArgs:
    """JobArgs through the real parser, as the local entry would build them."""
    database, schema, table = target.split(".", 2)
    raw = {
        "export_path": export_path,
        "source_database": database,
        "source_schema": schema,
        "source_table": table,
        "namespace": namespace,
        "lake_table": lake_table,
        "action": action,
        "cycle_id": "cycle-1",
        "run_token": "token-1",
        "result_path": result_path,
        "warehouse": warehouse,
        # Lineage: one snapshot time for every export unless a test sets its own (same time: never refused).
        "source": "shop",
        "export_id": os.path.basename(export_path.rstrip("/")) or "export",
        "snapshot_time": "2024-05-01T10:00:00.000Z",
        **options,
    }
    return parse_job_args(raw, "local").with_changes(commit_retry_wait_seconds=0.0)


Loader = Callable[..., LoadResult]


@pytest.fixture
def load(spark: Any, warehouse: str, tmp_path: Path) -> Loader:
    """load(export, target, lake_table, action=..., **options) -> LoadResult (result file checked too)."""
    from lakesync_glue.loader import run_load

    counter = {"n": 0}

    def _load(export_path: str, target: str, lake_table: str, action: str = "merge", **options: str) -> LoadResult:
        counter["n"] += 1
        result_path = str(tmp_path / "results" / f"{lake_table}-{counter['n']}.json")
        args = make_args(export_path, target, lake_table, result_path, warehouse, action, **options)
        result = run_load(spark, args)
        assert os.path.isfile(result_path), "the job must always write its result JSON"
        return result

    return _load


# --- A private PostgreSQL server (direct extract tests) -------------------------------------------
PG_PASSWORD = "pg-Secret-7f3a9"  # the test server's password: messages and results must never show it
PG_PASSWORD_ENV = "LAKESYNC_TEST_PG_PASSWORD"


class PgServer:
    """Debian's PostgreSQL in a temp folder on a free loopback port, password authentication on."""

    def __init__(self, bin_dir: str, root: str, port: int, as_postgres: bool) -> None:
        self.bin_dir, self.root, self.port, self.as_postgres = bin_dir, root, port, as_postgres
        self.data = os.path.join(root, "data")
        self.log = os.path.join(root, "server.log")
        self.pid = 0  # the postmaster's, once started

    def run(self, program: str, *args: str) -> None:
        import subprocess

        command = [os.path.join(self.bin_dir, program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, process: "subprocess.Popen[bytes]") -> None:
        """Waits until the server accepts connections (pg_isready), for up to 60 s."""
        import subprocess
        import time

        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"PostgreSQL ended while starting ({process.returncode}): {self.server_log()}")
            ready = subprocess.run([os.path.join(self.bin_dir, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                                   check=False)
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections within 60 s: {self.server_log()}")
            time.sleep(0.1)

    def url(self, database: str = "shop") -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "shop") -> list[list[str]]:
        """Runs SQL with psql; rows as lists of text (unaligned, tab-separated)."""
        import subprocess

        done = subprocess.run(
            [os.path.join(self.bin_dir, "psql"), "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-c", statement],
            check=True, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": PG_PASSWORD},
        )
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def server_log(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as handle:
            return handle.read()


def _free_port() -> int:
    """A loopback port nothing listens on, kept from other processes' picks until it is bound.

    A connection closed from the listening side leaves the port in TIME_WAIT for a minute: the
    system gives it to no bind of port 0 (a server starting at the same moment in another test
    lane), while an explicit bind with SO_REUSEADDR (PostgreSQL's, moto's) still succeeds.
    """
    import socket

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()
            client.recv(1)  # the listening side's close has arrived
    return port


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    import shutil
    import subprocess
    import tempfile

    script = GLUE.parent / "scripts" / "setup-postgres.sh"
    bin_dir = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True).stdout.strip()
    as_postgres = os.getuid() == 0  # PostgreSQL refuses to run as root
    root = tempfile.mkdtemp(prefix="lakesync-pytest-pg-")
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    server = PgServer(bin_dir, root, _free_port(), as_postgres)
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w", encoding="utf-8") as handle:
        handle.write(PG_PASSWORD + "\n")
    if as_postgres:
        shutil.chown(pwfile, "postgres", "postgres")
    server.run("initdb", "-D", server.data, "-A", "scram-sha-256", "-U", "postgres", f"--pwfile={pwfile}",
               "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
    # The server is a child of pytest, in its process group (pg_ctl would start it in a session of its
    # own): a test lane stopped at its time limit stops it with everything else it started.
    with open(server.log, "ab") as log:
        process = subprocess.Popen(
            [os.path.join(bin_dir, "postgres"), "-D", server.data, "-p", str(server.port), "-k", root,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "log_statement=all"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            **({"user": "postgres", "group": "postgres"} if as_postgres else {}),
        )
    server.pid = process.pid
    try:
        server.wait_ready(process)
        server.sql("CREATE DATABASE shop", database="postgres")
        os.environ[PG_PASSWORD_ENV] = PG_PASSWORD
        yield server
    finally:
        os.environ.pop(PG_PASSWORD_ENV, None)
        try:
            process.send_signal(signal.SIGQUIT)  # an immediate shutdown, as pg_ctl -m immediate sends
            process.wait(timeout=60)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def make_direct_args(postgres: PgServer, table: str, lake_table: str, result_path: str, warehouse: str,
                     action: str = "incremental", **options: str) -> JobArgs:
    """JobArgs of a direct load of shop.public.<table> through the real parser (no export arguments)."""
    raw = {
        "extract": "direct",
        "jdbc_url": postgres.url(),
        "jdbc_user": "postgres",
        "jdbc_password_env": PG_PASSWORD_ENV,
        "source_database": "shop",
        "source_schema": "public",
        "source_table": table,
        "namespace": "tests",
        "lake_table": lake_table,
        "action": action,
        "cycle_id": "cycle-d",
        "run_token": "token-d",
        "result_path": result_path,
        "warehouse": warehouse,
        "source": "shop",
        **options,
    }
    return parse_job_args({k: v for k, v in raw.items() if v != ""}, "local").with_changes(commit_retry_wait_seconds=0.0)


@pytest.fixture
def direct_load(spark: Any, warehouse: str, tmp_path: Path, postgres: PgServer) -> Loader:
    """direct_load(table, lake_table, action=..., **options) -> LoadResult (result file checked too)."""
    from lakesync_glue.loader import run_load

    counter = {"n": 0}

    def _load(table: str, lake_table: str, action: str = "incremental", **options: str) -> LoadResult:
        counter["n"] += 1
        result_path = str(tmp_path / "results" / f"{lake_table}-{counter['n']}.json")
        args = make_direct_args(postgres, table, lake_table, result_path, warehouse, action, **options)
        result = run_load(spark, args)
        with open(result_path, encoding="utf-8") as handle:
            written = handle.read()
        assert PG_PASSWORD not in written, "the password must never reach the result"
        return result

    return _load
