"""What both entry scripts share: reporting a load that failed before it could start."""
from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from .args import SOURCE_NAMES, name_arg
from .errors import LoadError
from .result import LoadResult, utc_now, write_result

log = logging.getLogger("lakesync_glue")


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def early_failure(options: Mapping[str, str], error: LoadError, started: str) -> LoadResult:
    """The failed result of a run rejected before run_load (e.g. an invalid argument)."""

    def get(name: str) -> str:
        return str(options.get(name, "") or "").strip()

    parts = [name_arg(options, n) for n in SOURCE_NAMES]
    cursor = get("cursor_column")
    return LoadResult(
        table=".".join(parts) if all(parts) else "",
        lakeTable=f"{get('namespace')}.{get('lake_table')}" if get("namespace") and get("lake_table") else "",
        status="failed",
        action="none",
        cursorColumn=cursor.lower() if cursor else None,
        cycleId=get("cycle_id"),
        runToken=get("run_token"),
        startedAt=started,
        finishedAt=utc_now(),
        error=error.to_result_error(),
    )


def report_early_failure(options: Mapping[str, str], error: LoadError, started: str) -> LoadResult:
    """Writes the failed result where --result_path points, when it is usable, and logs it."""
    result = early_failure(options, error, started)
    log.error("%s: %s", error.error_class, error.message)
    path = str(options.get("result_path", "") or "").strip()
    if path and not path.endswith("/"):
        try:
            write_result(path, result)
        except Exception as exc:  # noqa: BLE001 - the exit code still reports the failure
            log.error("could not write the result to %s: %s", path, exc)
    return result
