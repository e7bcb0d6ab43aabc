"""Bounded retries of Iceberg commit conflicts (no Spark)."""
from __future__ import annotations

import pytest

from lakesync_glue.commit import is_commit_conflict, with_commit_retry
from lakesync_glue.errors import CommitConflict

CONFLICT = "org.apache.iceberg.exceptions.CommitFailedException: Cannot commit changes based on stale table metadata"
VALIDATION = ("org.apache.iceberg.exceptions.ValidationException: Found conflicting files that can contain "
              "records matching true: [s3://b/data/00001.parquet]")


def test_classification() -> None:
    assert is_commit_conflict(RuntimeError(CONFLICT))
    assert is_commit_conflict(RuntimeError(VALIDATION))
    assert not is_commit_conflict(RuntimeError("org.apache.iceberg.exceptions.CommitStateUnknownException: " + CONFLICT))
    assert not is_commit_conflict(RuntimeError("org.apache.iceberg.exceptions.ValidationException: Cannot find field x"))
    assert not is_commit_conflict(ValueError("division by zero"))


def test_retries_then_succeeds_with_backoff() -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def action() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(CONFLICT)
        return "done"

    assert with_commit_retry(action, what="merge of shop.t", attempts=4, wait_seconds=1.5, sleep=pauses.append) == "done"
    assert len(calls) == 3
    assert pauses == [1.5, 3.0]


def test_gives_up_with_commit_conflict_after_the_bound() -> None:
    calls: list[int] = []

    def action() -> None:
        calls.append(1)
        raise RuntimeError(VALIDATION)

    with pytest.raises(CommitConflict) as info:
        with_commit_retry(action, what="merge of shop.t", attempts=3, wait_seconds=0, sleep=lambda _s: None)
    assert len(calls) == 3
    assert info.value.error_class == "CommitConflict"
    assert "merge of shop.t" in info.value.message and "3 commit attempts" in info.value.message


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def action() -> None:
        calls.append(1)
        raise ValueError("boom")

    with pytest.raises(ValueError):
        with_commit_retry(action, what="x", attempts=5, wait_seconds=0, sleep=lambda _s: None)
    assert len(calls) == 1
