"""Shared fixtures: ONE local SparkSession (Iceberg catalog `lake`) for the whole test run."""
from __future__ import annotations

import os
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
