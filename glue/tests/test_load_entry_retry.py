"""The local entry script end to end, and commit-conflict retries around a real MERGE."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import local_entry
from conftest import make_args
from exportkit import col
from lakesync_glue.loader import run_load
from lakesync_glue.query import run_query
from scenario import Versions, current_snapshot

COLS = [col("id", "integer"), col("label", "text")]
V1 = [(1, "one"), (2, "two"), (3, "three")]
V2 = [(1, "one"), (2, "TWO"), (4, "four")]
CONFLICT = ("An error occurred while calling o123.sql.\n: org.apache.iceberg.exceptions.CommitFailedException: "
            "Cannot commit lake.tests.entry_items because base metadata location is not same as the current")


class ConflictingSpark:
    """A SparkSession whose MERGE statements lose `failures` commit races before going through."""

    def __init__(self, spark: Any, failures: int) -> None:
        self._spark = spark
        self.failures = failures
        self.merges = 0

    def sql(self, statement: str, *args: Any, **kwargs: Any) -> Any:
        if statement.startswith("MERGE INTO"):
            self.merges += 1
            if self.merges <= self.failures:
                raise RuntimeError(CONFLICT)
        return self._spark.sql(statement, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spark, name)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    return Versions(tmp_path_factory.mktemp("entry"), "shop", "public", "items")


def test_local_entry_runs_a_load_and_prints_the_result(spark: Any, warehouse: str, versions: Versions,
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result_path = tmp_path / "entry.json"
    argv = [
        "--export_path", versions.export(COLS, V1), "--source_database", "shop", "--source_schema", "public",
        "--source_table", "items", "--namespace", "tests", "--lake_table", "entry_items", "--action", "merge",
        "--primary_key", "id", "--cursor_column", "", "--cycle_id", "c-9", "--run_token", "rt-9",
        "--result_path", str(result_path), "--warehouse", warehouse, "--source", "shop", "--export_id", "e-9",
        "--snapshot_time", "2024-05-01T10:00:00.000Z",
    ]
    assert local_entry.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(result_path.read_text())
    assert printed == written
    assert (written["status"], written["action"], written["inserted"], written["rowCountAfter"]) == ("succeeded", "create", 3, 3)
    assert (written["cycleId"], written["runToken"]) == ("c-9", "rt-9")
    assert written["snapshotId"] == current_snapshot(spark, "entry_items")


def test_local_entry_rejects_bad_arguments_before_spark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result_path = tmp_path / "bad.json"
    argv = ["--export_path", "/x", "--source_database", "shop", "--source_schema", "public", "--source_table", "items",
            "--namespace", "tests", "--lake_table", "Bad-Name", "--action", "merge", "--primary_key", "id",
            "--cycle_id", "c", "--run_token", "r", "--result_path", str(result_path), "--warehouse", "/tmp/wh",
            "--source", "shop", "--export_id", "e", "--snapshot_time", "2024-05-01T10:00:00.000Z"]
    assert local_entry.main(argv) == 2
    written = json.loads(result_path.read_text())
    assert (written["error"]["class"], written["error"]["retryable"]) == ("InvalidArgument", False)
    assert "--lake_table 'Bad-Name'" in written["error"]["message"] and "'bad_name'" in written["error"]["message"]


def test_commit_conflicts_are_retried(spark: Any, warehouse: str, versions: Versions, tmp_path: Path) -> None:
    export = versions.export(COLS, V2)
    args = make_args(export, "shop.public.items", "entry_items", str(tmp_path / "r.json"), warehouse,
                     primary_key="id")
    flaky = ConflictingSpark(spark, failures=2)
    result = run_load(flaky, args)  # type: ignore[arg-type]
    assert result.status == "succeeded", result.error
    assert flaky.merges == 3
    assert (result.inserted, result.updated, result.deleted, result.rowCountAfter) == (1, 1, 1, 3)
    assert run_query(spark, "SELECT * FROM lake.tests.entry_items ORDER BY id") == [
        {"id": 1, "label": "one"}, {"id": 2, "label": "TWO"}, {"id": 4, "label": "four"}]


def test_commit_conflicts_beyond_the_bound_fail_as_commit_conflict(spark: Any, warehouse: str, versions: Versions,
                                                                   tmp_path: Path) -> None:
    export = versions.export(COLS, V1)
    args = make_args(export, "shop.public.items", "entry_items", str(tmp_path / "r.json"), warehouse,
                     primary_key="id").with_changes(commit_attempts=3)
    before = current_snapshot(spark, "entry_items")
    stuck = ConflictingSpark(spark, failures=99)
    result = run_load(stuck, args)  # type: ignore[arg-type]
    assert stuck.merges == 3
    assert result.error is not None and result.error["class"] == "CommitConflict"
    assert "3 commit attempts" in result.error["message"] and "tests.entry_items" in result.error["message"]
    assert result.error["retryable"] is True  # the next attempt may not race compaction
    assert json.loads((tmp_path / "r.json").read_text())["error"] == result.error
    assert current_snapshot(spark, "entry_items") == before
