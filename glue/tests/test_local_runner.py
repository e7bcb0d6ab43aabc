"""The embedded mode's load runner (glue/local_runner.py) over HTTP, on the shared test SparkSession."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

GLUE = Path(__file__).resolve().parent.parent
if str(GLUE) not in sys.path:
    sys.path.insert(0, str(GLUE))

import local_runner  # noqa: E402
from lakesync_glue.result import LoadResult  # noqa: E402
from lakesync_glue.session import query_session  # noqa: E402

TOKEN = "test-token-0123456789abcdef"


def write_export(root: Path, export_id: str, rows: list[dict[str, Any]]) -> Path:
    """A one-table export in the RDS layout: shop.public.items(id bigint, name text, price numeric(8,2))."""
    export = root / export_id
    data = export / "shop" / "public.items" / "1"
    data.mkdir(parents=True)
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "price": pa.array([r["price"] for r in rows], pa.string()),
        }
    )
    pq.write_table(table, data / "part-00000-0b6d5f0e-5a43-4b8e-9b67-2f1ad4c1a001.gz.parquet", compression="gzip")
    mappings = [
        {"columnName": "id", "originalType": "bigint", "expectedExportedType": "int64", "originalNumPrecision": 64},
        {"columnName": "name", "originalType": "text", "expectedExportedType": "binary (UTF8)"},
        {"columnName": "price", "originalType": "numeric", "expectedExportedType": "binary (UTF8)", "originalNumPrecision": 8, "originalNumScale": 2},
    ]
    tables_info = {"perTableStatus": [{"target": "shop.public.items", "status": "COMPLETE", "sizeGB": 0.0, "schemaMetadata": {"originalTypeMappings": mappings}}]}
    (export / f"export_tables_info_{export_id}_from_1_to_1.json").write_text(json.dumps(tables_info))
    (export / f"export_info_{export_id}.json").write_text(json.dumps({"exportTaskIdentifier": export_id, "status": "COMPLETE"}))
    return export


class Client:
    def __init__(self, port: int, token: str = TOKEN) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def served(spark: Any, warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[local_runner.Runner, Client, Path]]:
    work = tmp_path_factory.mktemp("runner-work")
    runner = local_runner.Runner(str(work), warehouse, "lake")
    runner.spark = spark
    runner.query_spark = query_session(spark, "lake")
    server = local_runner.ThreadingHTTPServer(("127.0.0.1", 0), local_runner.make_handler(runner, TOKEN))
    threads = [
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True),
        threading.Thread(target=runner.load_loop, daemon=True),
    ]
    for t in threads:
        t.start()
    yield runner, Client(server.server_address[1]), work
    runner.shutdown(1)
    server.shutdown()
    server.server_close()


def load_args(export: Path, work: Path, table: str, action: str = "merge") -> dict[str, str]:
    return {
        "export_path": str(export),
        "source_database": "shop",
        "source_schema": "public",
        "source_table": "items",
        "catalog": "lake",
        "namespace": "runner",
        "lake_table": table,
        "action": action,
        "primary_key": "id",
        "max_delete_fraction": "0.5",
        "approve_deletes": "false",
        "cycle_id": "c1",
        "run_token": f"c1:public.{table}",
        "result_path": str(work / "results" / f"{table}.json"),
        "source": "shop",
        "export_id": export.name,
        "snapshot_time": "2024-05-01T10:00:00.000Z",
    }


def wait_record(work: Path, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
    path = work / "runs" / f"{run_id}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            record = json.loads(path.read_text())
            if record["state"] in local_runner.FINAL_STATES:
                return record
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")


def test_a_load_runs_in_the_background_and_its_record_tells_the_outcome(served: Any, tmp_path: Path) -> None:
    runner, client, work = served
    export = write_export(tmp_path, "e1", [{"id": 1, "name": "a", "price": "1.50"}, {"id": 2, "name": "b", "price": "2.00"}])
    status, body = client.call("POST", "/loads", {"runId": "run-1", "runToken": "c1:public.items", "args": load_args(export, work, "items")})
    assert status == 200 and body == {"runId": "run-1"}
    record = wait_record(work, "run-1")
    assert record["state"] == "succeeded", record
    assert record["runToken"] == "c1:public.items"
    assert record["runner"] == {"pid": os.getpid(), "started": local_runner.process_started(os.getpid()), "instance": runner.instance}
    assert record["executionSeconds"] > 0
    result = json.loads((work / "results" / "items.json").read_text())
    assert result["status"] == "succeeded" and result["action"] == "create" and result["inserted"] == 2

    status, body = client.call("POST", "/sql", {"sql": "SELECT id, name, price FROM lake.runner.items ORDER BY id"})
    assert status == 200
    assert body["rows"] == [{"id": 1, "name": "a", "price": "1.50"}, {"id": 2, "name": "b", "price": "2.00"}]


def test_a_load_the_job_refuses_ends_failed_with_the_error_class(served: Any, tmp_path: Path) -> None:
    _, client, work = served
    args = load_args(tmp_path / "missing-export", work, "nothing_here")
    client.call("POST", "/loads", {"runId": "run-missing", "runToken": "c1:public.nothing", "args": args})
    record = wait_record(work, "run-missing")
    assert record["state"] == "failed"
    assert record["errorClass"] == "ExportNotFound"
    assert "does not exist" in record["errorMessage"]


def test_invalid_job_arguments_fail_the_run_with_invalid_argument(served: Any, tmp_path: Path) -> None:
    _, client, work = served
    args = {**load_args(tmp_path, work, "bad"), "action": "upsert"}
    client.call("POST", "/loads", {"runId": "run-bad-args", "runToken": "c1:public.bad", "args": args})
    record = wait_record(work, "run-bad-args")
    assert record["state"] == "failed" and record["errorClass"] == "InvalidArgument"
    assert "--action" in record["errorMessage"]
    result = json.loads((work / "results" / "bad.json").read_text())
    assert (result["error"]["class"], result["error"]["retryable"]) == ("InvalidArgument", False)


def test_a_run_id_is_used_once(served: Any, tmp_path: Path) -> None:
    _, client, work = served
    status, body = client.call("POST", "/loads", {"runId": "run-1", "runToken": "t", "args": load_args(tmp_path, work, "items")})
    assert status == 400 and "already exists" in body["error"]


def test_a_pending_record_written_by_the_client_is_taken_over(served: Any, tmp_path: Path) -> None:
    runner, client, work = served
    export = write_export(tmp_path, "e3", [{"id": 7, "name": "p", "price": "7.00"}])
    pending = {"runId": "run-pending", "runToken": "t-pending", "state": "pending", "runner": {"pid": 1, "instance": "client"}}
    (work / "runs").mkdir(exist_ok=True)
    (work / "runs" / "run-pending.json").write_text(json.dumps(pending))
    status, body = client.call("POST", "/loads", {"runId": "run-pending", "runToken": "t-pending", "args": load_args(export, work, "pending")})
    assert status == 200, body
    record = wait_record(work, "run-pending")
    assert record["state"] == "succeeded"
    assert record["runner"] == {"pid": os.getpid(), "started": local_runner.process_started(os.getpid()), "instance": runner.instance}


def test_a_queued_run_can_be_stopped_before_it_starts(served: Any, tmp_path: Path) -> None:
    runner, client, work = served
    export = write_export(tmp_path, "e2", [{"id": 1, "name": "a", "price": "1.00"}])
    gate = threading.Event()
    original = runner.execute

    def held(run: Any, started: float) -> None:
        gate.wait(60)
        original(run, started)

    runner.execute = held  # type: ignore[method-assign]
    try:
        client.call("POST", "/loads", {"runId": "run-hold", "runToken": "t-hold", "args": load_args(export, work, "held")})
        client.call("POST", "/loads", {"runId": "run-queued", "runToken": "t-queued", "args": load_args(export, work, "queued")})
        status, body = client.call("POST", "/runs/run-queued/stop")
        assert status == 200 and body == {"runId": "run-queued", "state": "stopped"}
    finally:
        gate.set()
        runner.execute = original  # type: ignore[method-assign]
    assert wait_record(work, "run-hold")["state"] == "succeeded"
    stopped = wait_record(work, "run-queued")
    assert stopped["state"] == "stopped" and stopped["errorMessage"] == "stopped before it started"
    assert not (work / "results" / "queued.json").exists()


def test_bad_sql_is_a_400_with_spark_s_message(served: Any) -> None:
    _, client, _ = served
    status, body = client.call("POST", "/sql", {"sql": "SELECT * FROM lake.runner.no_such_table"})
    assert status == 400
    assert "no_such_table" in body["error"]
    assert "code" not in body


def test_sql_that_fails_as_it_runs_is_a_400_naming_its_error(served: Any) -> None:
    """A check such as `SELECT assert_true(count(*) > 0) FROM {table}` fails as it runs: that is the
    query's error, for its author to see, not a runner failure that a retry could cure."""
    _, client, _ = served
    for sql, said in (("SELECT raise_error('no rows for customer 7')", "no rows for customer 7"), ("SELECT assert_true(1 = 2)", "'(1 = 2)' is not true")):
        status, body = client.call("POST", "/sql", {"sql": sql, "maxRows": 1})
        assert status == 400, body
        assert said in body["error"], body
    assert client.call("POST", "/sql", {"sql": "SELECT 1 AS one"}) == (200, {"rows": [{"one": 1}]})


def test_a_query_given_an_id_is_cancelled_by_post_cancel_under_way_or_before_it_starts(served: Any) -> None:
    """A cancelled verify asks the runner to cancel its query: its Spark jobs stop, the request ends."""
    _, client, _ = served
    assert client.call("POST", "/sql", {"sql": "SELECT 1 AS one", "queryId": "q-ok"}) == (200, {"rows": [{"one": 1}]})
    outcome: dict[str, Any] = {}
    slow = "SELECT sum(a.id * b.id) AS s FROM range(0, 20000000) a CROSS JOIN range(0, 20000000) b"
    thread = threading.Thread(target=lambda: outcome.update(answer=client.call("POST", "/sql", {"sql": slow, "queryId": "q-slow"})))
    started = time.monotonic()
    thread.start()
    time.sleep(4)
    assert thread.is_alive(), outcome
    assert client.call("POST", "/queries/q-slow/cancel", {}) == (200, {"queryId": "q-slow", "cancelled": True})
    thread.join(60)
    assert not thread.is_alive(), "the cancelled query still runs"
    assert outcome["answer"][0] != 200, outcome
    assert time.monotonic() - started < 60
    # A cancel that comes before its query: the query does not run.
    assert client.call("POST", "/queries/q-early/cancel", {})[0] == 200
    status, body = client.call("POST", "/sql", {"sql": "SELECT 1 AS one", "queryId": "q-early"})
    assert status == 400 and body["code"] == "QueryCancelled", body
    assert client.call("POST", "/sql", {"sql": "SELECT 1 AS one"}) == (200, {"rows": [{"one": 1}]})
    assert client.call("POST", "/sql", {"sql": "SELECT 1", "queryId": "bad id!"})[0] == 400


def test_sql_that_writes_is_a_400_read_only_query_and_changes_nothing(served: Any) -> None:
    runner, client, _ = served
    runner.spark.sql("CREATE TABLE IF NOT EXISTS lake.runner.kept (id bigint) USING iceberg")
    runner.spark.sql("INSERT INTO lake.runner.kept VALUES (1)")
    snapshots = "SELECT snapshot_id FROM lake.runner.kept.snapshots"
    before = client.call("POST", "/sql", {"sql": snapshots})
    for sql in ("WITH c AS (SELECT 1) DELETE FROM lake.runner.kept", "CALL lake.system.rollback_to_snapshot('runner.kept', 1)", "SELECT 1; DROP TABLE lake.runner.kept"):
        status, body = client.call("POST", "/sql", {"sql": sql})
        assert status == 400 and body["code"] == "ReadOnlyQuery", body
        assert "read-only" in body["error"]
    assert client.call("POST", "/sql", {"sql": snapshots}) == before
    assert client.call("POST", "/sql", {"sql": "SELECT count(*) AS n FROM lake.runner.kept"}) == (200, {"rows": [{"n": 1}]})


def test_queries_name_lake_columns_in_any_case_while_loads_read_names_exactly(served: Any) -> None:
    """Loads resolve names case-sensitively (an export may hold "Note" and "NOTE"); a query may write
    a lake column in any case, as on Athena."""
    runner, client, _ = served
    runner.spark.sql("CREATE TABLE IF NOT EXISTS lake.runner.cased (id bigint) USING iceberg")
    runner.spark.sql("INSERT INTO lake.runner.cased VALUES (7)")
    assert runner.spark.conf.get("spark.sql.caseSensitive") == "true"
    assert client.call("POST", "/sql", {"sql": "SELECT ID AS Id FROM lake.runner.cased"}) == (200, {"rows": [{"Id": 7}]})


def test_the_runner_names_its_process_by_pid_and_start_so_a_reused_pid_is_not_taken_for_it() -> None:
    started = local_runner.process_started(os.getpid())
    boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    assert started is not None and started.startswith(f"{boot}/") and started.split("/")[1].isdigit()
    # A child started later has later ticks; the start is the process's, not the caller's.
    child = subprocess.Popen(["sleep", "30"])
    try:
        later = local_runner.process_started(child.pid)
        assert later is not None and int(later.split("/")[1]) >= int(started.split("/")[1])
    finally:
        child.kill()
        child.wait()
    assert local_runner.process_started(child.pid) is None
    assert local_runner.process_started(4194305) is None  # above Linux's pid limit


def test_requests_without_the_token_are_refused(served: Any) -> None:
    _, client, _ = served
    status, body = Client(int(client.base.rsplit(":", 1)[1]), token="wrong").call("GET", "/health")
    assert status == 401 and "token" in body["error"]
    status, body = client.call("GET", "/health")
    assert status == 200 and body["pid"] == os.getpid()


def test_malformed_load_requests_are_refused_with_the_fix(served: Any) -> None:
    _, client, _ = served
    status, body = client.call("POST", "/loads", {"runId": "has space", "runToken": "t", "args": {}})
    assert status == 400 and "runId" in body["error"]
    status, body = client.call("POST", "/loads", {"runId": "ok-id", "runToken": "", "args": {}})
    assert status == 400 and "runToken" in body["error"]
    status, body = client.call("POST", "/loads", {"runId": "ok-id", "runToken": "t", "args": {"x": 1}})
    assert status == 400 and "args" in body["error"]


def test_a_stopped_running_load_has_its_spark_jobs_cancelled_until_it_returns(tmp_path: Path) -> None:
    """A stop that lands between two Spark jobs of a load must still cancel the next one."""

    class Context:
        def __init__(self) -> None:
            self.cancelled: list[str] = []

        def cancelJobGroup(self, group: str) -> None:  # noqa: N802 - Spark's name
            self.cancelled.append(group)

    class Spark:
        sparkContext = Context()

    runner = local_runner.Runner(str(tmp_path), str(tmp_path / "warehouse"), "lake")
    runner.spark = Spark()
    run = local_runner.Run("run-busy", "c1:public.items", {})
    run.record = {"runId": "run-busy", "state": "running"}
    runner.runs["run-busy"] = run
    runner.active.add("run-busy")

    assert runner.stop_run("run-busy") == {"runId": "run-busy", "state": "stopping"}
    assert run.stop_requested
    deadline = time.monotonic() + 5
    while len(Spark.sparkContext.cancelled) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Spark.sparkContext.cancelled[:3] == ["run-busy"] * 3, "cancelled again while the load is still running"
    with runner.lock:
        runner.active.discard("run-busy")
    time.sleep(3 * local_runner.STOP_REPEAT_SECONDS)
    settled = len(Spark.sparkContext.cancelled)
    time.sleep(3 * local_runner.STOP_REPEAT_SECONDS)
    assert len(Spark.sparkContext.cancelled) == settled, "no more cancels once the load returned"


def test_a_stop_request_s_body_is_read_so_the_next_request_on_the_connection_is_understood(tmp_path: Path) -> None:
    """Clients keep connections alive: an unread body would be taken for the start of the next request."""
    import http.client

    runner = local_runner.Runner(str(tmp_path), str(tmp_path / "warehouse"), "lake")
    server = local_runner.ThreadingHTTPServer(("127.0.0.1", 0), local_runner.make_handler(runner, TOKEN))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        connection.request("POST", "/runs/run-unknown/stop", body=b"{}", headers=headers)
        response = connection.getresponse()
        assert response.status == 400 and "not known" in json.loads(response.read())["error"]
        connection.request("GET", "/health", headers=headers)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["instance"] == runner.instance
        connection.close()
    finally:
        server.shutdown()
        server.server_close()


def test_column_policies_and_the_hash_key_source_pass_through_the_runner(served: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import hmac

    _, client, work = served
    monkeypatch.setenv("LAKESYNC_RUNNER_HASH_KEY", "runner-key")
    export = write_export(tmp_path, "e-policies", [{"id": 1, "name": "a", "price": "1.50"}])
    args = {**load_args(export, work, "policies"), "hash_key_env": "LAKESYNC_RUNNER_HASH_KEY",
            "column_policies": json.dumps({"name": {"hash": True}, "price": {"rename": "cost", "type": "double"}})}
    status, _ = client.call("POST", "/loads", {"runId": "run-policies", "runToken": "c1:public.policies", "args": args})
    assert status == 200
    record = wait_record(work, "run-policies")
    assert record["state"] == "succeeded", record
    assert "runner-key" not in json.dumps(record)
    status, body = client.call("POST", "/sql", {"sql": "SELECT id, name, cost FROM lake.runner.policies"})
    digest = hmac.new(b"runner-key", b"a", hashlib.sha256).hexdigest()
    assert status == 200 and body["rows"] == [{"id": 1, "name": digest, "cost": 1.5}]


class StoppableContext:
    """A SparkContext as PySpark's behaves once stopped: its JVM handle is gone, so calls on it fail."""

    def __init__(self) -> None:
        self.stopped = False

    def setJobGroup(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802 - Spark's name
        if self.stopped:
            raise AttributeError("'NoneType' object has no attribute 'setJobGroup'")

    def setLocalProperty(self, key: str, value: Any) -> None:  # noqa: N802
        if self.stopped:
            raise AttributeError("'NoneType' object has no attribute 'setLocalProperty'")


@pytest.mark.parametrize(("status", "state"), [("failed", "running"), ("succeeded", "succeeded")])
def test_a_load_cut_short_by_the_runner_s_shutdown_is_left_to_be_run_again_not_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                     status: str, state: str) -> None:
    """The runner stops Spark when it shuts down (its worker went away): a load under way that fails
    only because of that keeps its record unfinished, for a worker to start it again; one that
    committed just before is recorded as succeeded."""

    class Spark:
        sparkContext = StoppableContext()

    runner = local_runner.Runner(str(tmp_path), str(tmp_path / "warehouse"), "lake")
    runner.spark = Spark()

    def load_cut_short(spark: Any, args: Any) -> Any:
        runner.shutdown(1)  # the worker went away: the runner stops, and with it Spark
        Spark.sparkContext.stopped = True
        error = {"class": "InternalError", "message": "SparkContext was shut down", "retryable": True}
        return LoadResult(table=args.target, lakeTable="items", status=status, action="merge", runToken=args.run_token,
                          error=error if status == "failed" else None)

    monkeypatch.setattr(local_runner, "run_load", load_cut_short)
    export = write_export(tmp_path, "e-shutdown", [{"id": 1, "name": "a", "price": "1.00"}])
    args = load_args(export, tmp_path, "items")
    runner.submit({"runId": "run-shutdown", "runToken": args["run_token"], "args": args})
    loop = threading.Thread(target=runner.load_loop, daemon=True)
    loop.start()
    loop.join(timeout=30)
    assert not loop.is_alive()
    record = json.loads((tmp_path / "runs" / "run-shutdown.json").read_text())
    assert record["state"] == state, record
    assert record["runner"]["instance"] == runner.instance


def test_a_pack_cut_short_by_the_runner_s_shutdown_writes_no_summary_so_it_is_run_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker takes a pack run whose runner died as finished when its summary is there: a pack whose
    tables failed only because the runner shut down under them must leave none, to be run again."""
    from lakesync_glue import pack as packing

    class Spark:
        sparkContext = StoppableContext()

    runner = local_runner.Runner(str(tmp_path / "work"), str(tmp_path / "warehouse"), "lake", pack_threads=1)
    runner.spark = Spark()
    loads = [{"source_schema": "public", "source_table": t, "run_token": f"c1:public.{t}", "result_path": str(tmp_path / f"{t}.json")} for t in ("alpha", "beta", "gamma")]
    (tmp_path / "packs").mkdir()
    path = str(tmp_path / "packs" / "cut.json")
    Path(path).write_text(json.dumps({"packToken": "cut", "summaryPath": str(tmp_path / "packs" / "cut.summary.json"), "loads": loads}))

    def cut_short(spark: Any, options: Any, mode: Any, lake: Any) -> Any:
        table = options["source_table"]
        if table == "alpha":
            return LoadResult(table=f"shop.public.{table}", lakeTable=table, status="succeeded", action="merge", runToken=options["run_token"])
        runner.shutdown(1)  # the worker went away: the runner stops, and with it Spark
        Spark.sparkContext.stopped = True
        error = {"class": "InternalError", "message": "SparkContext was shut down", "retryable": True}
        return LoadResult(table=f"shop.public.{table}", lakeTable=table, status="failed", action="merge", runToken=options["run_token"], error=error)

    monkeypatch.setattr(packing, "load_table", cut_short)
    runner.submit({"runId": "pack-cut", "runToken": "cut", "args": {"pack_path": path}})
    loop = threading.Thread(target=runner.load_loop, daemon=True)
    loop.start()
    loop.join(timeout=30)
    assert not loop.is_alive()
    record = json.loads((tmp_path / "work" / "runs" / "pack-cut.json").read_text())
    assert record["state"] == "running", "left unfinished, for a worker to start the pack again"
    assert not (tmp_path / "packs" / "cut.summary.json").exists(), "no summary: the pack did not finish"


def test_a_stop_request_left_in_the_work_dir_stops_the_run(tmp_path: Path) -> None:
    """Another worker of the work dir, talking to its own runner, can only leave the request there."""
    runner = local_runner.Runner(str(tmp_path), str(tmp_path / "warehouse"), "lake")
    runner.spark = type("Spark", (), {"sparkContext": StoppableContext()})()
    export = write_export(tmp_path, "e-stop-file", [{"id": 1, "name": "a", "price": "1.00"}])
    args = load_args(export, tmp_path, "items")
    runner.submit({"runId": "run-asked", "runToken": args["run_token"], "args": args})
    runner.submit({"runId": "run-left", "runToken": "c1:public.other", "args": {**args, "run_token": "c1:public.other"}})
    watcher = threading.Thread(target=runner.watch_stop_requests, kwargs={"interval": 0.05}, daemon=True)
    watcher.start()
    try:
        (tmp_path / "runs" / "run-asked.stop").write_text("{}")
        deadline = time.monotonic() + 5
        while json.loads((tmp_path / "runs" / "run-asked.json").read_text())["state"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json.loads((tmp_path / "runs" / "run-asked.json").read_text())["state"] == "stopped"
        assert json.loads((tmp_path / "runs" / "run-left.json").read_text())["state"] == "queued", "only the run asked"
    finally:
        runner.shutdown(1)
        watcher.join(timeout=5)


def test_runner_json_holds_the_token_readable_by_its_owner_only_from_its_first_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token lets a caller run loads and queries: no other user may read it, not even for a moment."""
    modes: list[int] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        modes.append(os.stat(src).st_mode & 0o777)
        real_replace(src, dst)

    monkeypatch.setattr(local_runner.os, "replace", replace)
    previous = os.umask(0o022)
    try:
        local_runner.write_runner_info(str(tmp_path / "runner.json"), {"pid": 1, "port": 2, "token": TOKEN})
    finally:
        os.umask(previous)
    assert modes == [0o600], f"written as {[oct(m) for m in modes]} before it was renamed into place"
    assert (tmp_path / "runner.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "runner.json").read_text())["token"] == TOKEN


def test_the_runner_forgets_each_run_once_it_ends_so_its_memory_does_not_grow_with_every_load(tmp_path: Path) -> None:
    """A runner lives as long as its worker: every load of every cycle must not stay in its memory."""
    runner = local_runner.Runner(str(tmp_path), str(tmp_path / "warehouse"), "lake")

    def execute(run: Any, started: float) -> None:
        runner.save(run, state="failed" if run.run_id.endswith("7") else "succeeded", finishedAt=local_runner.utc_now())

    runner.execute = execute  # type: ignore[method-assign]
    loop = threading.Thread(target=runner.load_loop, daemon=True)
    loop.start()
    args = {"source_database": "shop", "source_schema": "public", "source_table": "items", "result_path": str(tmp_path / "r.json")}
    try:
        for i in range(200):
            runner.submit({"runId": f"run-{i}", "runToken": f"{i}-c:public.items", "args": args})
        # One stopped while queued: it never runs, and is forgotten too.
        held = threading.Event()
        runner.execute = lambda run, started: (held.wait(30), execute(run, started))  # type: ignore[method-assign]
        runner.submit({"runId": "run-held", "runToken": "h:public.items", "args": args})
        runner.submit({"runId": "run-queued", "runToken": "q:public.items", "args": args})
        assert runner.stop_run("run-queued") == {"runId": "run-queued", "state": "stopped"}
        held.set()
        deadline = time.monotonic() + 30
        while runner.existing_state("run-held") not in local_runner.FINAL_STATES and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with runner.lock:
            assert list(runner.runs) == [], f"{len(runner.runs)} ended runs kept in memory"
        # Its record still refuses the run id a second time.
        with pytest.raises(local_runner.BadRequest, match="already exists"):
            runner.submit({"runId": "run-3", "runToken": "3-c:public.items", "args": args})
    finally:
        runner.shutdown(1)
        loop.join(10)
