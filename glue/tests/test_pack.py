"""Packed runs (lakesync_glue.pack): several small tables in one run, each with its own result and commit."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from exportkit import TableData, col, write_export
from scenario import snapshots

GLUE = Path(__file__).resolve().parent.parent
if str(GLUE) not in sys.path:
    sys.path.insert(0, str(GLUE))

import local_runner  # noqa: E402
from lakesync_glue import pack as packing  # noqa: E402
from lakesync_glue.errors import InvalidArgument  # noqa: E402

TABLES = ("alpha", "beta", "gamma")
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three tiny tables; `beta_bad` holds a value that does not fit its numeric(6,2) column."""
    root = tmp_path_factory.mktemp("pack-export")
    amount = replace(col("amount", "numeric(6,2)"), num_scale=2)
    tables = [TableData("shop", "public", name, [col("id", "bigint"), amount], [(1, "1.50"), (2, "2.00")]) for name in TABLES]
    tables.append(TableData("shop", "public", "beta_bad", [col("id", "bigint"), amount], [(1, "1.50"), (2, "98765.4321")]))
    return write_export(root, tables, export_id="pack-export").path


def table_args(export: str, table: str, results: Path, warehouse: str, prefix: str, cycle: str = "c1") -> dict[str, str]:
    """One table's job arguments, as the TypeScript side writes them into the pack file (lake table tests.<prefix>_<table>)."""
    return {
        "export_path": export,
        "source_database": "shop",
        "source_schema": "public",
        "source_table": table,
        "catalog": "lake",
        "namespace": "tests",
        "lake_table": f"{prefix}_{table}",
        "action": "merge",
        "primary_key": "id",
        "max_delete_fraction": "0.5",
        "cycle_id": cycle,
        "run_token": f"{cycle}:public.{table}",
        "result_path": str(results / f"{table}.json"),
        "source": "shop",
        "export_id": os.path.basename(export),
        "snapshot_time": "2024-05-01T10:00:00.000Z",
        "warehouse": warehouse,
    }


def write_pack(folder: Path, token: str, loads: list[dict[str, str]]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{token}.json"
    path.write_text(json.dumps({"packToken": token, "summaryPath": str(folder / f"{token}.summary.json"), "loads": loads}))
    return str(path)


def result_of(results: Path, table: str) -> dict[str, Any]:
    return json.loads((results / f"{table}.json").read_text())


def commits(spark: Any, prefix: str, table: str) -> int:
    return len(snapshots(spark, f"{prefix}_{table}"))


def run(spark: Any, warehouse: str, path: str, stop: Any = lambda: False) -> packing.PackOutcome:
    pack = packing.read_pack(path)
    return packing.run_pack(spark, pack, "local", ("lake", os.path.abspath(warehouse)), stop)


def test_a_pack_of_three_tables_loads_all_three_with_their_own_results(spark: Any, warehouse: str, export_dir: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    path = write_pack(tmp_path / "packs", "p1", [table_args(export_dir, t, results, warehouse, "pack_all") for t in TABLES])
    outcome = run(spark, warehouse, path)
    assert not outcome.stopped
    for table in TABLES:
        result = result_of(results, table)
        assert (result["status"], result["action"], result["inserted"]) == ("succeeded", "create", 2), result
        assert result["runToken"] == f"c1:public.{table}"
        assert commits(spark, "pack_all", table) == 1
    summary = json.loads((tmp_path / "packs" / "p1.summary.json").read_text())
    assert summary["packToken"] == "p1"
    assert [(t["table"], t["status"]) for t in summary["tables"]] == [(f"public.{t}", "succeeded") for t in TABLES]
    assert all(t["seconds"] > 0 for t in summary["tables"])


def test_a_failing_table_fails_alone_with_its_error_and_the_others_commit(spark: Any, warehouse: str, export_dir: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    loads = [table_args(export_dir, t, results, warehouse, "pack_fail") for t in ("alpha", "beta_bad", "gamma")]
    # And a table whose arguments the job refuses: it fails before Spark, with its result written too.
    refused = {**table_args(export_dir, "delta", results, warehouse, "pack_fail"), "action": "upsert"}
    outcome = run(spark, warehouse, write_pack(tmp_path / "packs", "p2", [*loads, refused]))
    bad = result_of(results, "beta_bad")
    assert bad["status"] == "failed" and bad["error"]["class"] == "CastError", bad
    assert "98765.4321" not in bad["error"]["message"], "row values stay out without show_values"
    assert result_of(results, "delta")["error"]["class"] == "InvalidArgument"
    assert "--action" in result_of(results, "delta")["error"]["message"]
    for table in ("alpha", "gamma"):
        assert result_of(results, table)["status"] == "succeeded"
        assert commits(spark, "pack_fail", table) == 1
    assert [(t.table, t.status) for t in outcome.summary.tables] == [
        ("public.alpha", "succeeded"), ("public.beta_bad", "failed"), ("public.gamma", "succeeded"), ("public.delta", "failed"),
    ]


def test_a_rerun_of_the_pack_skips_the_tables_that_succeeded_and_loads_the_rest(spark: Any, warehouse: str, export_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    loads = [table_args(export_dir, t, results, warehouse, "pack_rerun") for t in TABLES]
    path = write_pack(tmp_path / "packs", "p3", loads)
    first = run(spark, warehouse, path)
    assert [t.status for t in first.summary.tables] == ["succeeded"] * 3
    before = {t: commits(spark, "pack_rerun", t) for t in TABLES}
    finished = result_of(results, "alpha")["finishedAt"]
    # gamma's result is gone (as if the run died before writing it); beta's is from another run token.
    (results / "gamma.json").unlink()
    beta = result_of(results, "beta")
    (results / "beta.json").write_text(json.dumps({**beta, "runToken": "c0:public.beta"}))

    from lakesync_glue import loader

    loaded: list[str] = []
    original = loader.run_load

    def counted(session: Any, args: Any) -> Any:
        loaded.append(args.source_table)
        return original(session, args)

    monkeypatch.setattr(loader, "run_load", counted)
    again = run(spark, warehouse, path)
    assert loaded == ["beta", "gamma"], "only the tables without a succeeded result of this run token are loaded"
    assert [(t.table, t.status) for t in again.summary.tables] == [
        ("public.alpha", "skipped"), ("public.beta", "succeeded"), ("public.gamma", "succeeded"),
    ]
    assert again.summary.tables[0].seconds == 0.0
    assert result_of(results, "alpha")["finishedAt"] == finished, "a skipped table's result is left as it was"
    assert commits(spark, "pack_rerun", "alpha") == before["alpha"], "a skipped table is not loaded again"
    # The replayed loads of the same export commit nothing (lineage): their results say so.
    for table in ("beta", "gamma"):
        assert result_of(results, table)["runToken"] == f"c1:public.{table}"
        assert commits(spark, "pack_rerun", table) == before[table]


def test_a_stop_request_ends_the_pack_between_tables(spark: Any, warehouse: str, export_dir: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    path = write_pack(tmp_path / "packs", "p4", [table_args(export_dir, t, results, warehouse, "pack_stop") for t in TABLES])
    # The stop arrives while the first table loads: it is checked before each next table.
    asked = iter([False, True, True])
    outcome = run(spark, warehouse, path, lambda: next(asked))
    assert outcome.stopped
    assert [(t.table, t.status) for t in outcome.summary.tables] == [("public.alpha", "succeeded")]
    assert result_of(results, "alpha")["status"] == "succeeded"
    assert not (results / "beta.json").exists() and not (results / "gamma.json").exists()
    summary = json.loads((tmp_path / "packs" / "p4.summary.json").read_text())
    assert [t["table"] for t in summary["tables"]] == ["public.alpha"]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"summaryPath": "/s.json", "loads": [{}]}), "has no packToken"),
        (json.dumps({"packToken": "p", "loads": [{}]}), "has no summaryPath"),
        (json.dumps({"packToken": "p", "summaryPath": "/s/", "loads": [{}]}), "unusable summaryPath"),
        (json.dumps({"packToken": "p", "summaryPath": "/s.json", "loads": []}), "has no loads"),
        (json.dumps({"packToken": "p", "summaryPath": "/s.json", "loads": [{"a": 1}]}), "load #1 that is not an object"),
        (json.dumps({"packToken": "p", "summaryPath": "/s.json", "loads": [{"result_path": "/r.json"}, {"result_path": "/r.json"}]}), "names result file /r.json twice"),
        (json.dumps({"packToken": "other", "summaryPath": "/s.json", "loads": [{}]}), "belongs to pack 'other'"),
    ],
)
def test_a_bad_pack_file_is_refused_naming_the_problem(document: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match="the pack file /p.json") as refused:
        packing.parse_pack("/p.json", document, "p")
    assert problem in refused.value.message


def test_a_missing_pack_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="could not be read"):
        packing.read_pack(str(tmp_path / "nope.json"))


def test_a_table_of_another_lake_fails_alone(spark: Any, warehouse: str, export_dir: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    other = {**table_args(export_dir, "alpha", results, warehouse, "pack_lake"), "warehouse": str(tmp_path / "elsewhere")}
    outcome = run(spark, warehouse, write_pack(tmp_path / "packs", "p5", [other]))
    assert outcome.summary.tables[0].status == "failed"
    message = result_of(results, "alpha")["error"]["message"]
    assert "is not the pack's" in message and "load it in a run of its own" in message


# --- a pack on several threads -----------------------------------------------------------------------
MANY = tuple(f"m{i}" for i in range(8))


@pytest.fixture(scope="module")
def many_export(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Eight tiny tables (m0..m7) of different row counts, and `m_bad` whose value does not fit numeric(6,2)."""
    root = tmp_path_factory.mktemp("pack-many")
    amount = replace(col("amount", "numeric(6,2)"), num_scale=2)
    tables = [TableData("shop", "public", name, [col("id", "bigint"), amount], [(r, f"{r}.25") for r in range(1, i + 2)]) for i, name in enumerate(MANY)]
    tables.append(TableData("shop", "public", "m_bad", [col("id", "bigint"), amount], [(1, "1.50"), (2, "98765.4321")]))
    return write_export(root, tables, export_id="pack-many").path


def counting_loads(monkeypatch: pytest.MonkeyPatch, spark: Any) -> dict[str, Any]:
    """Wraps run_load: which tables it loaded, how many at once at most, and each thread's Spark job group."""
    from lakesync_glue import loader

    seen: dict[str, Any] = {"loaded": [], "now": 0, "most": 0, "groups": set()}
    lock = threading.Lock()
    original = loader.run_load

    def counted(session: Any, args: Any) -> Any:
        with lock:
            seen["loaded"].append(args.source_table)
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
            seen["groups"].add(spark.sparkContext.getLocalProperty("spark.jobGroup.id"))
        try:
            return original(session, args)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(loader, "run_load", counted)
    return seen


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """What a load's result says about the lake, without its times and snapshot ids."""
    keep = ("status", "action", "rowsRead", "inserted", "updated", "deleted", "rowCountAfter", "committed", "schemaHash", "runToken")
    return {**{k: result.get(k) for k in keep}, "error": (result.get("error") or {}).get("class")}


def test_a_pack_on_four_threads_loads_every_table_once_as_one_thread_does(spark: Any, warehouse: str, many_export: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [*MANY[:4], "m_bad", *MANY[4:]]

    def pack_of(prefix: str) -> str:
        return write_pack(tmp_path / prefix, prefix, [table_args(many_export, t, tmp_path / prefix / "results", warehouse, prefix) for t in names])

    sequential = packing.run_pack(spark, packing.read_pack(pack_of("seq")), "local", ("lake", os.path.abspath(warehouse)))
    seen = counting_loads(monkeypatch, spark)
    spark.sparkContext.setJobGroup("pack-group-1", "a pack", interruptOnCancel=True)
    try:
        threaded = packing.run_pack(spark, packing.read_pack(pack_of("thr")), "local", ("lake", os.path.abspath(warehouse)), threads=4)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)

    assert sorted(seen["loaded"]) == sorted(names), "every table loaded exactly once"
    assert seen["most"] >= 2, f"tables loaded at once: {seen['most']}"
    assert seen["groups"] == {"pack-group-1"}, "every thread runs its Spark jobs in the pack's job group (a stop cancels them all)"
    assert not threaded.stopped
    # The summary lists the tables in pack order, whatever order they finished in.
    assert [(t.table, t.status) for t in threaded.summary.tables] == [(t.table, t.status) for t in sequential.summary.tables]
    assert [t.status for t in threaded.summary.tables] == ["succeeded"] * 4 + ["failed"] + ["succeeded"] * 4
    for table in names:
        one = comparable(result_of(tmp_path / "seq" / "results", table))
        many = comparable(result_of(tmp_path / "thr" / "results", table))
        assert {**many, "runToken": None} == {**one, "runToken": None}, table
        if table != "m_bad":
            assert commits(spark, "thr", table) == 1, table
    assert result_of(tmp_path / "thr" / "results", "m_bad")["error"]["class"] == "CastError"
    summary = json.loads((tmp_path / "thr" / "thr.summary.json").read_text())
    assert [t["table"] for t in summary["tables"]] == [f"public.{t}" for t in names]


def test_tables_loaded_at_once_each_commit_with_their_own_lineage(spark: Any, warehouse: str, many_export: str, tmp_path: Path) -> None:
    """Lineage properties live in a JVM thread-local: each table's commit must carry its own cycle and nobody else's."""
    loads = [table_args(many_export, t, tmp_path / "results", warehouse, "lin", cycle=f"cycle-{t}") for t in MANY]
    packing.run_pack(spark, packing.read_pack(write_pack(tmp_path, "lin", loads)), "local", ("lake", os.path.abspath(warehouse)), threads=4)
    for table in MANY:
        [snapshot] = snapshots(spark, f"lin_{table}")
        assert snapshot["summary"]["lakesync.cycle-id"] == f"cycle-{table}", (table, snapshot["summary"])
        assert result_of(tmp_path / "results", table)["cycleId"] == f"cycle-{table}"


def test_a_rerun_of_a_threaded_pack_skips_every_table_that_succeeded(spark: Any, warehouse: str, many_export: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = [table_args(many_export, t, tmp_path / "results", warehouse, "rerun4") for t in MANY[:5]]
    path = write_pack(tmp_path, "rerun4", loads)
    lake = ("lake", os.path.abspath(warehouse))
    assert [t.status for t in packing.run_pack(spark, packing.read_pack(path), "local", lake, threads=3).summary.tables] == ["succeeded"] * 5
    (tmp_path / "results" / "m3.json").unlink()
    seen = counting_loads(monkeypatch, spark)
    again = packing.run_pack(spark, packing.read_pack(path), "local", lake, threads=3)
    assert seen["loaded"] == ["m3"]
    assert [t.status for t in again.summary.tables] == ["skipped", "skipped", "skipped", "succeeded", "skipped"]
    assert all(commits(spark, "rerun4", t) == 1 for t in MANY[:5]), "nothing committed twice"


def test_a_stop_on_threads_loads_no_more_tables(spark: Any, warehouse: str, many_export: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = [table_args(many_export, t, tmp_path / "results", warehouse, "stop4") for t in MANY[:6]]
    asked = threading.Event()
    original = packing.load_table

    def then_stop(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        asked.set()  # the stop arrives once the first tables are loaded
        return result

    monkeypatch.setattr(packing, "load_table", then_stop)
    outcome = packing.run_pack(spark, packing.read_pack(write_pack(tmp_path, "stop4", loads)), "local", ("lake", os.path.abspath(warehouse)),
                               asked.is_set, threads=2)
    assert outcome.stopped
    done = [t.table for t in outcome.summary.tables]
    assert 2 <= len(done) < 6, done
    assert done == [f"public.{t}" for t in MANY[: len(done)]], "the tables handled are the first ones, in order"
    for table in MANY[len(done):6]:
        assert not (tmp_path / "results" / f"{table}.json").exists(), table


def test_a_failure_of_the_packs_own_machinery_on_a_thread_fails_the_pack_and_starts_no_more_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = [{"source_schema": "public", "source_table": f"x{i}", "result_path": str(tmp_path / f"x{i}.json")} for i in range(6)]
    pack = packing.read_pack(write_pack(tmp_path, "broken", loads))
    started: list[int] = []

    def broken(spark: Any, pack: Any, i: int, mode: Any, lake: Any) -> Any:
        started.append(i)
        if i == 1:
            raise RuntimeError("the Spark driver is gone")
        time.sleep(0.2)
        return packing.PackTable(packing.table_of(pack.loads[i]), "succeeded", 0.2)

    monkeypatch.setattr(packing, "pack_table", broken)
    with pytest.raises(RuntimeError, match="the Spark driver is gone"):
        packing.run_pack(None, pack, "local", ("lake", "/w"), threads=2)
    assert len(started) <= 3, f"no table is started after the failure: {started}"
    assert not (tmp_path / "broken.summary.json").exists(), "a pack that could not run writes no summary"


@pytest.mark.parametrize("threads", [0, packing.PACK_THREADS_MAX + 1])
def test_a_thread_count_out_of_range_is_refused(threads: int, tmp_path: Path) -> None:
    pack = packing.read_pack(write_pack(tmp_path, "t", [{"result_path": str(tmp_path / "r.json")}]))
    with pytest.raises(InvalidArgument, match=f"pack threads {threads}: give 1 to {packing.PACK_THREADS_MAX}"):
        packing.run_pack(None, pack, "local", ("lake", "/w"), threads=threads)


@pytest.mark.parametrize(("value", "threads"), [("", local_runner.PACK_THREADS_DEFAULT), ("1", 1), (" 6 ", 6)])
def test_the_runner_takes_its_pack_threads_from_the_environment(value: str, threads: int) -> None:
    assert local_runner.pack_threads_from_env(value) == threads


@pytest.mark.parametrize("value", ["0", "17", "two", "-1", "1.5"])
def test_the_runner_refuses_a_bad_pack_threads_value(value: str) -> None:
    with pytest.raises(ValueError, match="LAKESYNC_PACK_THREADS=.*whole number from 1 to 16"):
        local_runner.pack_threads_from_env(value)


# --- the local runner's pack runs ----------------------------------------------------------------
@pytest.fixture(scope="module")
def served(spark: Any, warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("pack-runner")
    runner = local_runner.Runner(str(work), warehouse, "lake", pack_threads=1)
    runner.spark = spark
    loop = threading.Thread(target=runner.load_loop, daemon=True)
    loop.start()
    yield runner, work
    runner.shutdown(1)


def wait_final(work: Path, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
    path = work / "runs" / f"{run_id}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            record = json.loads(path.read_text())
            if record["state"] in local_runner.FINAL_STATES:
                return record
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")


def test_the_runner_runs_a_pack_as_one_run_with_its_record(served: Any, warehouse: str, export_dir: str, tmp_path: Path) -> None:
    runner, work = served
    results = tmp_path / "results"
    path = write_pack(tmp_path / "packs", "rp1", [table_args(export_dir, t, results, warehouse, "runner_pack") for t in ("alpha", "beta_bad")])
    runner.submit({"runId": "pack-run-1", "runToken": "rp1", "args": {"pack_path": path}})
    record = wait_final(work, "pack-run-1")
    # The pack ran: a table's failure is in its result, not in the run's state.
    assert record["state"] == "succeeded", record
    assert record["args"] == {"pack_path": path}, "kept so the client can start the run again"
    assert record["resultPath"] == str(tmp_path / "packs" / "rp1.summary.json")
    assert record["table"] == "pack rp1 (2 tables)"
    assert result_of(results, "alpha")["status"] == "succeeded"
    assert result_of(results, "beta_bad")["status"] == "failed"


def test_the_runner_fails_a_pack_run_whose_pack_file_is_bad(served: Any, tmp_path: Path) -> None:
    runner, work = served
    runner.submit({"runId": "pack-run-bad", "runToken": "rp2", "args": {"pack_path": str(tmp_path / "missing.json")}})
    record = wait_final(work, "pack-run-bad")
    assert record["state"] == "failed" and record["errorClass"] == "InvalidArgument"
    assert "could not be read" in record["errorMessage"]


def test_the_runner_refuses_a_pack_run_with_table_arguments(served: Any, tmp_path: Path) -> None:
    runner, _ = served
    with pytest.raises(local_runner.BadRequest, match="a pack run takes only pack_path"):
        runner.submit({"runId": "pack-run-mixed", "runToken": "rp3", "args": {"pack_path": "/p.json", "lake_table": "x"}})


def test_a_stop_request_stops_the_runners_pack_between_tables(served: Any, warehouse: str, export_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, work = served
    results = tmp_path / "results"
    path = write_pack(tmp_path / "packs", "rp4", [table_args(export_dir, t, results, warehouse, "runner_stop") for t in TABLES])
    loaded = threading.Event()
    go_on = threading.Event()
    original = packing.load_table

    def held(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        loaded.set()
        go_on.wait(60)  # the stop request comes in between the first and the second table
        return result

    monkeypatch.setattr(packing, "load_table", held)
    runner.submit({"runId": "pack-run-stop", "runToken": "rp4", "args": {"pack_path": path}})
    assert loaded.wait(120)
    assert runner.stop_run("pack-run-stop") == {"runId": "pack-run-stop", "state": "stopping"}
    go_on.set()
    record = wait_final(work, "pack-run-stop")
    assert record["state"] == "stopped" and record["errorMessage"] == "stopped on request after 1 of 3 tables"
    assert result_of(results, "alpha")["status"] == "succeeded"
    assert not (results / "beta.json").exists() and not (results / "gamma.json").exists()


def test_the_runners_pack_on_threads_is_stopped_with_the_tables_under_way_and_no_more(served: Any, warehouse: str, many_export: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, work = served
    monkeypatch.setattr(runner, "pack_threads", 2)
    results = tmp_path / "results"
    path = write_pack(tmp_path / "packs", "rp5", [table_args(many_export, t, results, warehouse, "runner_stop2") for t in MANY[:5]])
    both = threading.Barrier(3, timeout=120)
    go_on = threading.Event()
    original = packing.load_table

    def held(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        both.wait()  # both threads hold a loaded table: the stop comes now
        go_on.wait(60)
        return result

    monkeypatch.setattr(packing, "load_table", held)
    runner.submit({"runId": "pack-run-stop2", "runToken": "rp5", "args": {"pack_path": path}})
    both.wait()
    assert runner.stop_run("pack-run-stop2") == {"runId": "pack-run-stop2", "state": "stopping"}
    go_on.set()
    record = wait_final(work, "pack-run-stop2")
    assert record["state"] == "stopped" and record["errorMessage"] == "stopped on request after 2 of 5 tables", record
    assert [result_of(results, t)["status"] for t in MANY[:2]] == ["succeeded", "succeeded"]
    assert not any((results / f"{t}.json").exists() for t in MANY[2:5])


# --- the Glue entry's pack mode --------------------------------------------------------------------
GLUE_FLAGS = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "lakesync-load", "--datalake-formats", "iceberg"]


def test_glue_resolves_a_pack_runs_two_arguments_through_its_own_parser() -> None:
    from awsglue.utils import GlueArgumentError, getResolvedOptions

    import glue_entry

    argv = ["glue_entry.py", *GLUE_FLAGS, "--pack_path", "s3://glue/results/shop/c1/packs/c1:pack-1.json", "--run_token", "c1:pack-1"]
    assert glue_entry.is_pack_run(argv)
    options = glue_entry.resolve_pack_options(argv, getResolvedOptions, (GlueArgumentError, SystemExit))
    wanted = {"pack_path": "s3://glue/results/shop/c1/packs/c1:pack-1.json", "run_token": "c1:pack-1", "JOB_NAME": "lakesync-load"}
    assert {k: options[k] for k in wanted} == wanted
    with pytest.raises(InvalidArgument, match="missing argument\\(s\\) of a pack run: --run_token"):
        glue_entry.resolve_pack_options(argv[:-2], getResolvedOptions, (GlueArgumentError, SystemExit))
    assert not glue_entry.is_pack_run(["glue_entry.py", *GLUE_FLAGS, "--run_token", "c1:public.orders"])


def test_glue_fails_a_pack_run_whose_pack_file_is_bad_before_spark(tmp_path: Path) -> None:
    import glue_entry

    argv = ["glue_entry.py", *GLUE_FLAGS, "--pack_path", str(tmp_path / "missing.json"), "--run_token", "p"]
    assert glue_entry.main(argv) == 2
    other = write_pack(tmp_path, "other", [{}])
    assert glue_entry.main(["glue_entry.py", *GLUE_FLAGS, "--pack_path", other, "--run_token", "p"]) == 2


def test_glue_reports_each_refused_table_and_still_writes_the_summary(tmp_path: Path) -> None:
    """No table of this pack has valid Glue arguments (no --table_bucket_arn): Spark is not even needed."""
    import glue_entry

    results = tmp_path / "results"
    loads = [{k: v for k, v in table_args("/e", t, results, "/w", "g").items() if k != "warehouse"} for t in ("alpha", "beta")]
    path = write_pack(tmp_path / "packs", "gp", loads)
    assert glue_entry.main(["glue_entry.py", *GLUE_FLAGS, "--pack_path", path, "--run_token", "gp"]) == 0
    for table in ("alpha", "beta"):
        result = result_of(results, table)
        assert result["status"] == "failed" and result["error"]["class"] == "InvalidArgument"
        assert "--table_bucket_arn" in result["error"]["message"] and result["runToken"] == f"c1:public.{table}"
    summary = json.loads((tmp_path / "packs" / "gp.summary.json").read_text())
    assert [(t["table"], t["status"]) for t in summary["tables"]] == [("public.alpha", "failed"), ("public.beta", "failed")]
