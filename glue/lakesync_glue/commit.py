"""Bounded retries of Iceberg commits that lose a race (e.g. with S3 Tables compaction).

Every statement the job retries is safe to run again: the MERGE applies a change set
keyed by primary key (a second run finds nothing left to do), CREATE OR REPLACE and
ALTER are idempotent, and a failed CREATE/INSERT commit wrote no snapshot.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import CommitConflict, LoadError

T = TypeVar("T")
log = logging.getLogger("lakesync_glue")

_CONFLICT_MARKERS = (
    "org.apache.iceberg.exceptions.CommitFailedException",
    "CommitFailedException",
)
_VALIDATION_CONFLICT_MARKERS = (
    "found conflicting",
    "found new conflicting",
    "conflicting delete",
    "conflicting files",
    "concurrent",
    "cannot commit",
    "missing required files to delete",
)


def _exception_text(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    java = getattr(exc, "java_exception", None)
    depth = 0
    while java is not None and depth < 10:
        try:
            parts.append(str(java.toString()))
            java = java.getCause()
        except Exception:  # the JVM side may be gone; the Python text is enough then
            break
        depth += 1
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        parts.append(f"{type(cause).__name__}: {cause}")
    return "\n".join(parts)


def is_commit_conflict(exc: BaseException) -> bool:
    """True for Iceberg commit races; never for unknown commit state (the commit may have landed)."""
    if isinstance(exc, LoadError):
        return False
    text = _exception_text(exc)
    if "CommitStateUnknownException" in text:
        return False
    if any(marker in text for marker in _CONFLICT_MARKERS):
        return True
    if "ValidationException" in text:
        lowered = text.lower()
        return any(marker in lowered for marker in _VALIDATION_CONFLICT_MARKERS)
    return False


def is_merge_cardinality_violation(exc: BaseException) -> bool:
    """True when a MERGE failed because one lake row matched several change rows (a key repeated in the lake)."""
    return "MERGE_CARDINALITY_VIOLATION" in _exception_text(exc)


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:limit]


def with_commit_retry(
    action: Callable[[], T],
    *,
    what: str,
    attempts: int,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Runs `action`; on a commit conflict waits (doubling) and runs it again, at most `attempts` times."""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - classified just below
            if not is_commit_conflict(exc):
                raise
            if attempt == attempts:
                raise CommitConflict(
                    f"{what}: {attempts} commit attempts lost to concurrent commits to the table "
                    f"(e.g. S3 Tables compaction); last error: {first_line(exc)}. Rerun the load"
                ) from exc
            pause = wait_seconds * (2 ** (attempt - 1))
            log.warning("%s: commit conflict (attempt %d of %d), retrying in %.1fs: %s",
                        what, attempt, attempts, pause, first_line(exc))
            sleep(pause)
    raise AssertionError("unreachable")
