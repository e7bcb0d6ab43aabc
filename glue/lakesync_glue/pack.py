"""Packed runs: several small tables loaded by one job run, in one SparkSession (one or a few at a time).

The pack file (JSON, a local path or s3://, written by the TypeScript side before the run starts):

    {"packToken": "<token>", "summaryPath": "<where the summary goes>",
     "loads": [{"<argument>": "<value>", ...}, ...]}     # each: the table's job arguments, without "--"

Each table is loaded exactly as a run of its own would load it (`run_load` with its own arguments,
so its own run token, lineage and result file). A table whose result file already says succeeded
for the same run token (a retried pack) is not loaded again. One table's failure never stops the
pack. When every table is done (or a stop request ends the pack between tables) the summary is
written: each table's status (succeeded, failed, skipped) and the seconds it took, in pack order.

`threads` > 1 loads that many tables at once in the one SparkSession (Spark runs the jobs of
several Python threads side by side): a tiny table's load is mostly fixed driver work (planning,
Iceberg metadata), so while one table plans or commits another's tasks run. The per-table path
shares no mutable state across threads: each load has its own RunState, uniquely named temp
views, its own result file, and its lineage commit properties live in a JVM thread-local
(lineage.with_commit_properties, pinned threads). Each thread inherits the caller's Spark local
properties (the runner's job group, so a stop cancels every table under way).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from . import storage
from .args import Mode, name_arg, parse_job_args, result_location
from .cli import report_early_failure
from .errors import InternalError, InvalidArgument, LoadError
from .result import LoadResult, utc_now
from .threads import run_at_once

log = logging.getLogger("lakesync_glue")

# The arguments of a pack run: the pack file, and the pack's token (how a retried start finds the run).
PACK_ARGUMENTS: tuple[str, ...] = ("pack_path", "run_token")


@dataclass(frozen=True)
class PackFile:
    pack_token: str
    summary_path: str
    loads: tuple[dict[str, str], ...]


@dataclass
class PackTable:
    table: str  # schema.table, as the plan names it
    status: str  # succeeded | failed | skipped
    seconds: float


@dataclass
class PackSummary:
    packToken: str
    tables: list[PackTable] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class PackOutcome:
    summary: PackSummary
    # A stop request ended the pack before its last table.
    stopped: bool


def _bad_pack(path: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"the pack file {path} {problem}; start the pack again (lakesync writes the pack file before the run)")


def parse_pack(path: str, text: str, run_token: str | None = None) -> PackFile:
    """Validates the pack file's JSON; raises InvalidArgument naming what is wrong."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_pack(path, f"is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise _bad_pack(path, "is not a JSON object with packToken, summaryPath and loads")
    token, summary, loads = document.get("packToken"), document.get("summaryPath"), document.get("loads")
    if not isinstance(token, str) or not token.strip():
        raise _bad_pack(path, "has no packToken")
    if run_token is not None and token != run_token:
        raise _bad_pack(path, f"belongs to pack {token!r}, not to this run's --run_token {run_token!r}")
    if not isinstance(summary, str) or not summary.strip():
        raise _bad_pack(path, "has no summaryPath")
    try:
        summary = result_location(summary)
    except InvalidArgument as exc:
        raise _bad_pack(path, f"has an unusable summaryPath ({exc.message})") from None
    if not isinstance(loads, list) or not loads:
        raise _bad_pack(path, "has no loads (a list of the tables' job arguments)")
    checked: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, load in enumerate(loads):
        if not isinstance(load, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in load.items()):
            raise _bad_pack(path, f"has load #{i + 1} that is not an object of job arguments (name -> string)")
        target = result_path_of(load)
        if target and target in seen:
            raise _bad_pack(path, f"names result file {target} twice (load #{i + 1}): each table is in a pack once")
        seen.add(target)
        checked.append(dict(load))
    return PackFile(pack_token=token, summary_path=summary, loads=tuple(checked))


def read_pack(path: str, run_token: str | None = None) -> PackFile:
    """The pack file at `path` (local or s3://); InvalidArgument when it cannot be read or is not one."""
    if not path.strip():
        raise InvalidArgument("--pack_path is empty; pass the pack file's location, e.g. s3://bucket/results/shop/c1/packs/p1.json")
    try:
        text = storage.read_text(path)
    except Exception as exc:  # noqa: BLE001 - missing file, no access: the pack cannot run either way
        raise _bad_pack(path, f"could not be read ({type(exc).__name__}: {exc})") from None
    return parse_pack(path, text, run_token)


def result_path_of(options: Mapping[str, str]) -> str:
    return str(options.get("result_path", "") or "").strip()


def table_of(options: Mapping[str, str]) -> str:
    """The table as the plan names it (schema.table); '' when the arguments do not say."""
    schema, table = (name_arg(options, n) for n in ("source_schema", "source_table"))
    return f"{schema}.{table}" if schema and table else ""


def already_succeeded(options: Mapping[str, str]) -> bool:
    """Whether the table's result file says it succeeded for this same run token (a retried pack)."""
    path, token = result_path_of(options), str(options.get("run_token", "") or "").strip()
    if not path or not token:
        return False
    try:
        result = json.loads(storage.read_text(path))
    except FileNotFoundError:
        return False
    except Exception as exc:  # noqa: BLE001 - unreadable: load the table (a replay of a committed export commits nothing)
        if "NoSuchKey" not in str(exc) and "404" not in str(exc):
            log.warning("could not read the result %s (%s): the table is loaded", path, exc)
        return False
    return isinstance(result, dict) and result.get("status") == "succeeded" and result.get("runToken") == token


def _reportable(options: Mapping[str, str]) -> dict[str, str]:
    """The options, keeping result_path only when it is a usable result location."""
    out = dict(options)
    if "result_path" in out:
        try:
            out["result_path"] = result_location(out["result_path"])
        except InvalidArgument:
            del out["result_path"]
    return out


# The lake a pack's session writes to: (catalog, S3 Tables bucket ARN on Glue | warehouse folder locally).
Lake = tuple[str, str]


def lake_of(args: Any, mode: Mode) -> Lake:
    location = args.table_bucket_arn if mode == "glue" else os.path.abspath(args.warehouse or "")
    return args.catalog, location or ""


def load_table(spark: Any, options: Mapping[str, str], mode: Mode, lake: Lake) -> LoadResult:
    """One table of the pack, as a run of its own would load it; the result file is always written."""
    started = utc_now()
    try:
        args = parse_job_args(options, mode)
        mine = lake_of(args, mode)
        if mine != lake:
            # The session's catalog is set when Spark starts: a table of another lake cannot share it.
            raise InvalidArgument(
                f"table {args.target}: its lake (catalog {mine[0]}, {mine[1]}) is not the pack's (catalog {lake[0]}, "
                f"{lake[1]}); every table of a pack is loaded into one lake: load it in a run of its own"
            )
    except LoadError as exc:
        return report_early_failure(_reportable(options), exc, started)
    from .loader import run_load  # Spark's side: imported when a table is loaded, not to read a pack file

    try:
        return run_load(spark, args)
    except Exception as exc:  # noqa: BLE001 - run_load reports its failures; this is a last guard for the pack
        log.exception("%s: unexpected failure outside the load", args.target)
        return report_early_failure(_reportable(options), InternalError(f"table {args.target}: {type(exc).__name__}: {exc}"), started)


class PackTurns:
    """Which table of the pack loads next, shared by the pack's threads (one lock guards every field)."""

    def __init__(self, pack: PackFile, stop_requested: Callable[[], bool]) -> None:
        self._pack = pack
        self._stop_requested = stop_requested
        self._lock = threading.Lock()
        self._next = 0
        self._stopped = False  # a stop request ended the pack before its last table
        self._broken = False  # the pack's own machinery failed on a thread

    @property
    def stopped(self) -> bool:
        with self._lock:
            return self._stopped

    def take(self) -> int | None:
        """The next table to load, or None when every table is taken, a stop was asked for or Spark failed."""
        with self._lock:
            total = len(self._pack.loads)
            if self._stopped or self._broken or self._next >= total:
                return None
            if self._stop_requested():
                self._stopped = True
                log.info("pack %s: stopped on request before table %d of %d", self._pack.pack_token, self._next + 1, total)
                return None
            i = self._next
            self._next = i + 1
            return i

    def break_off(self) -> None:
        """No table more: a thread of the pack failed outside any table's load."""
        with self._lock:
            self._broken = True


# Most tables of one pack loaded at once (each a thread of the pack's SparkSession).
PACK_THREADS_MAX = 16


def run_pack(
    spark: Any,
    pack: PackFile,
    mode: Mode,
    lake: Lake,
    stop_requested: Callable[[], bool] = lambda: False,
    threads: int = 1,
    finished: Callable[[PackSummary], bool] = lambda _: True,
) -> PackOutcome:
    """Loads the pack's tables (in order, `threads` at a time), then writes the summary at pack.summary_path.

    `finished` says whether the pack ended (its summary is written) or was cut short, to be run again:
    a summary there tells a worker that the run finished.
    """
    if not 1 <= threads <= PACK_THREADS_MAX:
        raise InvalidArgument(f"pack threads {threads}: give 1 to {PACK_THREADS_MAX} tables loaded at once")
    handled: list[PackTable | None] = [None] * len(pack.loads)
    turns = PackTurns(pack, stop_requested)

    def work() -> None:
        try:
            while (i := turns.take()) is not None:
                handled[i] = pack_table(spark, pack, i, mode, lake)
        except BaseException:
            # Only the pack's own machinery gets here (load_table reports a table's failures): no table more.
            turns.break_off()
            raise

    if threads == 1 or len(pack.loads) == 1:
        work()
    else:
        run_at_once([work] * min(threads, len(pack.loads)), f"pack-{pack.pack_token[-12:]}")
    summary = PackSummary(packToken=pack.pack_token, tables=[t for t in handled if t is not None])
    if finished(summary):
        write_summary(pack.summary_path, summary)
    return PackOutcome(summary, turns.stopped)


def pack_table(spark: Any, pack: PackFile, i: int, mode: Mode, lake: Lake) -> PackTable:
    """Table number i of the pack: skipped when its result already says succeeded for its run token, else loaded."""
    options = pack.loads[i]
    table = table_of(options)
    started = time.monotonic()
    if already_succeeded(options):
        log.info("pack %s: %s already succeeded for run token %s: not loaded again", pack.pack_token, table, options.get("run_token"))
        return PackTable(table, "skipped", 0.0)
    log.info("pack %s: loading table %d of %d: %s", pack.pack_token, i + 1, len(pack.loads), table)
    result = load_table(spark, options, mode, lake)
    status = "succeeded" if result.succeeded else "failed"
    return PackTable(table, status, round(time.monotonic() - started, 3))


def write_summary(path: str, summary: PackSummary) -> None:
    storage.write_text(path, summary.to_json() + "\n")


def first_lake(pack: PackFile, mode: Mode) -> Lake | None:
    """The lake of the first table whose arguments parse: the one the pack's session is built for."""
    for options in pack.loads:
        try:
            return lake_of(parse_job_args(options, mode), mode)
        except LoadError:
            continue
    return None
