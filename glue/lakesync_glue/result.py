"""The result JSON of one load (DESIGN section 4), written also on failure."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import storage
from .errors import ResultError


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


OMITTED_WHEN_EMPTY: tuple[str, ...] = ("nulledValues", "clampedValues", "warnings", "extract", "window")


@dataclass
class LoadResult:
    table: str
    lakeTable: str
    status: str  # succeeded | failed
    action: str  # create | merge | replace | incremental | none
    rowsRead: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rowCountAfter: int = 0
    cursorColumn: str | None = None
    cursorValueAfter: str | None = None
    snapshotId: str | None = None  # a string: 64-bit ids exceed JavaScript's safe integers
    committed: bool = False
    schemaChanges: list[str] = field(default_factory=list)
    droppedColumns: list[str] = field(default_factory=list)
    schemaHash: str = ""
    cycleId: str = ""
    runToken: str = ""
    startedAt: str = ""
    finishedAt: str = ""
    error: ResultError | None = None
    # Column policies at work (source column -> count) and notes on the load; left out when empty.
    nulledValues: dict[str, int] = field(default_factory=dict)
    clampedValues: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Direct loads only (left out for export loads): "direct", and the window read:
    # {"from": text | None, "to": text | None, "partitions": n, "estimatedRows": n}.
    extract: str | None = None
    window: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for optional in OMITTED_WHEN_EMPTY:
            if not out[optional]:
                del out[optional]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=False)


def write_result(path: str, result: LoadResult) -> None:
    storage.write_text(path, result.to_json() + "\n")
