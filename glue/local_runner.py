"""The embedded mode's long-lived load runner: one SparkSession serving loads and queries.

    LAKESYNC_RUNNER_TOKEN=<secret> python glue/local_runner.py --work-dir <dir> --warehouse <dir> \
        [--catalog lake] [--port 0] [--load-slots 2] [--pack-threads 4] [--exit-with-parent]

The TypeScript side (src/local/runner) starts it once per worker and talks to it over
loopback HTTP with a bearer token. Loads behave like Glue job runs: POST /loads queues a run
and answers at once; the run's state lives in a record file <work-dir>/runs/<runId>.json that
this process keeps up to date (queued -> running -> succeeded | failed | stopped; the client
writes "pending" first, before Spark may even be up, and submits it here), so a worker
that restarts finds every run by its id or its run token and never loads a table twice.
At most --load-slots loads run at once (default 2, one per core of local[2]: while one load's
driver plans or commits, the other's tasks run); queries run beside them on the same session.
Each load uses its own uniquely named temp views, so loads of different tables do not meet.

Endpoints (JSON bodies):
  GET  /health                -> {instance, pid, queued, running: [runId]}
  POST /loads {runId, runToken, args: {name: value}, secretEnv?: {name: value}}   -> {runId}
                              (args as for local_entry.py; secretEnv: the JDBC password a direct load
                              names in --jdbc_password_env, set in this process only, never recorded)
                              A pack run: args {pack_path: <pack file>} and runToken = the pack's token;
                              the run loads the pack's tables, --pack-threads at a time (lakesync_glue.pack),
                              each writing its own result, then the summary; a stop cancels the tables
                              under way and loads no more
  POST /runs/<runId>/stop     -> {runId, state}   (or a file <work-dir>/runs/<runId>.stop, from any process)
  POST /sql {sql, maxRows?}   -> {rows}  (JSON-safe rows, see lakesync_glue.query); reads only:
                                 anything else is a 400 with code "ReadOnlyQuery" (lakesync_glue.readonly);
                                 a query Spark refuses, or that fails as it runs (assert_true), is a 400 with its error
  POST /queries/<id>/cancel   -> {queryId, cancelled}  cancels the Spark jobs of the /sql request
                                 that gave this queryId (one under way, or one still to come)
  POST /shutdown              -> {}

When ready it writes <work-dir>/runner.json (pid, port, token, instance) for other processes
of the same work dir (the CLI's `lakesync query`) and prints one JSON line on stdout.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lakesync_glue.args import parse_job_args  # noqa: E402
from lakesync_glue.cli import report_early_failure, setup_logging  # noqa: E402
from lakesync_glue.errors import LoadError  # noqa: E402
from lakesync_glue.loader import run_load  # noqa: E402
from lakesync_glue.pack import PACK_THREADS_MAX, PackFile, PackSummary, read_pack, run_pack  # noqa: E402
from lakesync_glue.query import run_query  # noqa: E402
from lakesync_glue.readonly import ReadOnlyRefused, assert_no_java_calls, assert_read_only  # noqa: E402
from lakesync_glue.result import utc_now  # noqa: E402
from lakesync_glue.session import build_local_spark, query_session  # noqa: E402

log = logging.getLogger("lakesync_runner")

RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
# The only variables a load request may set: the JDBC password a direct load names in --jdbc_password_env.
SECRET_ENV = re.compile(r"^LAKESYNC_JDBC_PASSWORD_[A-Z0-9_]{1,64}$")
LOAD_SLOTS_MAX = 8
# Tables of one pack loaded at once: a 10-row table's load is mostly fixed driver work (planning,
# Iceberg metadata, commits), so a few at a time keep both cores of local[2] busy.
PACK_THREADS_DEFAULT = 4
FINAL_STATES = ("succeeded", "failed", "stopped")
# A query's id (POST /sql queryId), which POST /queries/<id>/cancel names.
QUERY_ID = re.compile(r"[A-Za-z0-9-]{1,64}")

# How often a stopped run's Spark jobs are cancelled again until its load returns.
STOP_REPEAT_SECONDS = 0.2
# How often the runner looks for stop requests left in the work dir (runs/<runId>.stop).
STOP_WATCH_SECONDS = 0.5


def write_json_atomic(path: str, value: dict[str, Any], mode: int = 0o666) -> None:
    """Readers never see half a file: write a sibling (created with `mode`, less the umask), then rename it over."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
    os.replace(tmp, path)


def write_runner_info(path: str, info: dict[str, Any]) -> None:
    """runner.json holds the token: readable by this user only, from its first byte on."""
    write_json_atomic(path, info, mode=0o600)


def process_started(pid: int) -> str | None:
    """When process `pid` started, as `<boot id>/<start time in clock ticks since boot>` (Linux /proc).

    Run records and runner.json keep it beside the pid, because after a reboot the pid of this
    runner can be another process's (src/local/process-identity.ts reads it the same way).
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Field 2, the command name, is in parentheses and may hold spaces and ')': count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split(" ")
    ticks = fields[19] if len(fields) > 19 else ""  # field 22, starttime
    return f"{boot}/{ticks}" if boot and ticks.isdigit() else None


class BadRequest(Exception):
    """A request the caller must fix (HTTP 400); `code` tells the client which kind."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Run:
    run_id: str
    run_token: str
    options: dict[str, str]
    record: dict[str, Any] = field(default_factory=dict)
    stop_requested: bool = False


class Runner:
    """Owns the SparkSession, the load queue and the run records."""

    def __init__(self, work_dir: str, warehouse: str, catalog: str, pack_threads: int = PACK_THREADS_DEFAULT) -> None:
        self.work_dir = os.path.abspath(work_dir)
        self.pack_threads = pack_threads
        self.warehouse = os.path.abspath(warehouse)
        self.catalog = catalog
        self.runs_dir = os.path.join(self.work_dir, "runs")
        self.instance = uuid.uuid4().hex
        self.pid = os.getpid()
        self.started = process_started(self.pid)
        self.queue: "queue.Queue[Run | None]" = queue.Queue()
        self.lock = threading.Lock()
        # Ids of queries whose caller cancelled them (POST /queries/<id>/cancel), kept briefly so a
        # cancel that arrives before its query starts still stops it.
        self.cancelled_queries: dict[str, float] = {}
        self.runs: dict[str, Run] = {}
        self.active: set[str] = set()
        self.spark: Any = None
        self.query_spark: Any = None  # the same lake, names resolved case-insensitively (session.query_session)
        self.stopping = threading.Event()

    # --- Spark ------------------------------------------------------------------------
    def start_spark(self) -> None:
        self.spark = build_local_spark(self.warehouse, self.catalog)
        # Lake tables are addressed as <namespace>.<table>, as in Athena.
        self.spark.catalog.setCurrentCatalog(self.catalog)
        self.query_spark = query_session(self.spark, self.catalog)

    # --- run records --------------------------------------------------------------------
    def record_path(self, run_id: str) -> str:
        return os.path.join(self.runs_dir, f"{run_id}.json")

    def existing_state(self, run_id: str) -> str | None:
        """The state of a run record already on disk: the client writes "pending" before it submits."""
        try:
            with open(self.record_path(run_id), encoding="utf-8") as handle:
                return str(json.load(handle).get("state"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return "unreadable"

    def identity(self) -> dict[str, Any]:
        """This runner as records name it: pid, start (when known) and instance."""
        return {"pid": self.pid, **({"started": self.started} if self.started else {}), "instance": self.instance}

    def save(self, run: Run, **changes: Any) -> None:
        run.record.update(changes)
        write_json_atomic(self.record_path(run.run_id), run.record)

    # --- loads ----------------------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        run_id = str(body.get("runId", ""))
        run_token = str(body.get("runToken", ""))
        options = body.get("args")
        if not RUN_ID.fullmatch(run_id):
            raise BadRequest(f"runId {run_id!r} must be 1-200 letters, digits, dots, dashes or underscores")
        if not run_token:
            raise BadRequest("runToken is required: it lets a restarted worker find the run")
        if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
            raise BadRequest("args must be an object of job arguments (name -> string value)")
        secret_env = body.get("secretEnv") or {}
        if not isinstance(secret_env, dict) or not all(isinstance(k, str) and SECRET_ENV.fullmatch(k) and isinstance(v, str) for k, v in secret_env.items()):
            raise BadRequest("secretEnv must map LAKESYNC_JDBC_PASSWORD_<ID> names to strings")
        pack_path = options.get("pack_path")
        if pack_path is not None:
            extra = sorted(k for k in options if k not in ("pack_path", "warehouse"))
            if extra:
                raise BadRequest(f"a pack run takes only pack_path (the tables' arguments are in the pack file), not {', '.join(extra)}")
            if not pack_path.strip():
                raise BadRequest("pack_path is empty: pass the pack file's path")
        with self.lock:
            if run_id in self.runs or self.existing_state(run_id) not in (None, "pending"):
                raise BadRequest(f"run {run_id} already exists: start a new run with a new id")
            # One runner serves one warehouse: a load meant for another work dir is refused.
            asked = os.path.abspath(options["warehouse"]) if options.get("warehouse") else self.warehouse
            if asked != self.warehouse:
                raise BadRequest(f"warehouse {asked} is not this runner's warehouse {self.warehouse}: start the load on the runner of that work dir")
            options = {**options, "warehouse": self.warehouse}
            # Kept in this process's memory only (never in the run record): the job reads it by name.
            os.environ.update(secret_env)
            run = Run(run_id, run_token, options)
            self.runs[run_id] = run
            table, result_path = self.describe(options, run_token)
            self.save(
                run,
                runId=run_id,
                runToken=run_token,
                state="queued",
                table=table,
                resultPath=result_path,
                queuedAt=utc_now(),
                runner=self.identity(),
                # Kept so that a client can start the run again if this process dies first.
                args={k: v for k, v in options.items() if k != "warehouse"},
                restarts=int(body.get("restarts", 0) or 0),
            )
        self.queue.put(run)
        return {"runId": run_id}

    @staticmethod
    def describe(options: dict[str, str], run_token: str) -> tuple[str, str]:
        """What the record names: the table and its result file, or the pack and its summary."""
        if "pack_path" not in options:
            table = ".".join(options.get(k, "") for k in ("source_database", "source_schema", "source_table"))
            return table, options.get("result_path", "")
        try:
            pack = read_pack(options["pack_path"], run_token)
        except LoadError:
            return f"pack {run_token} (pack file {options['pack_path']})", ""  # the run fails with the reason
        return f"pack {run_token} ({len(pack.loads)} tables)", pack.summary_path

    def stop_run(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            run = self.runs.get(run_id)
            if run is None:
                raise BadRequest(f"run {run_id} is not known to this runner")
            state = run.record.get("state")
            if state in FINAL_STATES:
                return {"runId": run_id, "state": state}
            run.stop_requested = True
            if state == "queued":
                self.save(run, state="stopped", finishedAt=utc_now(), errorMessage="stopped before it started")
                return {"runId": run_id, "state": "stopped"}
        # Running: cancel its Spark jobs until the load returns (run_load then reports the failure in
        # its result). Once is not enough: a stop that lands between two jobs would let the next run.
        threading.Thread(target=self.cancel_until_done, args=(run_id,), name=f"stop-{run_id}", daemon=True).start()
        return {"runId": run_id, "state": "stopping"}

    def stop_file(self, run_id: str) -> str:
        """runs/<runId>.stop: a stop request any process of the work dir leaves (src/local/load.ts),
        also one that cannot reach this runner (another worker, talking to its own runner)."""
        return os.path.join(self.runs_dir, f"{run_id}.stop")

    def watch_stop_requests(self, interval: float = STOP_WATCH_SECONDS) -> None:
        """Stops this runner's queued and running runs whose stop request was left in the work dir."""
        while not self.stopping.is_set():
            with self.lock:
                asked = [r.run_id for r in self.runs.values()
                         if not r.stop_requested and r.record.get("state") not in FINAL_STATES and os.path.exists(self.stop_file(r.run_id))]
            for run_id in asked:
                log.info("run %s: stop requested in %s", run_id, self.stop_file(run_id))
                try:
                    self.stop_run(run_id)
                except Exception:  # noqa: BLE001 - the next look tries again
                    log.exception("could not stop run %s", run_id)
            self.stopping.wait(interval)

    def cancel_until_done(self, run_id: str) -> None:
        while True:
            with self.lock:
                if run_id not in self.active:
                    return
            self.spark.sparkContext.cancelJobGroup(run_id)
            time.sleep(STOP_REPEAT_SECONDS)

    def load_loop(self) -> None:
        while not self.stopping.is_set():
            run = self.queue.get()
            if run is None:
                return
            with self.lock:
                if run.stop_requested:
                    # Stopped while queued: its record says so, and nothing runs it any more.
                    self.runs.pop(run.run_id, None)
                    continue
                self.active.add(run.run_id)
                started = time.monotonic()
                self.save(run, state="running", startedAt=utc_now())
            try:
                self.execute(run, started)
            except Exception as exc:  # noqa: BLE001 - a run's failure must never end the runner
                if self.cut_short(run):
                    continue
                log.exception("run %s failed outside the load", run.run_id)
                self.save(run, state="failed", finishedAt=utc_now(), errorMessage=f"{type(exc).__name__}: {exc}")
            finally:
                with self.lock:
                    self.active.discard(run.run_id)
                    # An ended run lives on in its record only: the runner lives as long as its worker,
                    # and keeping every load's arguments would grow its memory with each one.
                    if run.record.get("state") in FINAL_STATES:
                        self.runs.pop(run.run_id, None)

    def cut_short(self, run: Run) -> bool:
        """Whether the run failed because this runner is shutting down (its Spark stops with it).

        Such a run did not fail: its record is left unfinished, naming this runner, so that once the
        runner is gone a worker starts the run again (src/local/load.ts) instead of failing the table.
        """
        if not self.shutting_down_under(run):
            return False
        log.warning("run %s was cut short by the runner's shutdown: left for a worker to start again", run.run_id)
        return True

    def shutting_down_under(self, run: Run) -> bool:
        """Whether this runner is shutting down while the run, not asked to stop, is under way."""
        return self.stopping.is_set() and not run.stop_requested

    def clear_job_group(self) -> None:
        """Ends the run's job group on this thread; Spark may already be stopped by a shutdown."""
        try:
            self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        except Exception:  # noqa: BLE001 - a stopped SparkContext has no job groups left to clear
            if not self.stopping.is_set():
                raise

    def execute(self, run: Run, started: float) -> None:
        if "pack_path" in run.options:
            self.execute_pack(run, started)
            return
        try:
            args = parse_job_args(run.options, "local")
        except LoadError as exc:
            result = report_early_failure(run.options, exc, utc_now())
        else:
            self.spark.sparkContext.setJobGroup(run.run_id, f"lakesync load {args.target}", interruptOnCancel=True)
            try:
                result = run_load(self.spark, args)
            finally:
                self.clear_job_group()
        seconds = round(time.monotonic() - started, 3)
        if not result.succeeded and self.cut_short(run):
            return
        if run.stop_requested and not result.succeeded:
            self.save(run, state="stopped", finishedAt=utc_now(), executionSeconds=seconds, errorMessage="stopped on request")
        elif result.succeeded:
            self.save(run, state="succeeded", finishedAt=utc_now(), executionSeconds=seconds)
        else:
            error = result.error or {}
            self.save(
                run,
                state="failed",
                finishedAt=utc_now(),
                executionSeconds=seconds,
                errorClass=error.get("class", "InternalError"),
                errorMessage=error.get("message", "no error message"),
            )

    def execute_pack(self, run: Run, started: float) -> None:
        """The pack's tables, pack_threads at a time; a stop request cancels those under way and starts no more."""
        try:
            pack: PackFile = read_pack(run.options["pack_path"], run.run_token)
        except LoadError as exc:
            self.save(run, state="failed", finishedAt=utc_now(), executionSeconds=round(time.monotonic() - started, 3),
                      errorClass=exc.error_class, errorMessage=exc.message)
            return
        # One job group for the whole pack (each of its threads inherits it): a stop cancels the tables under way.
        self.spark.sparkContext.setJobGroup(run.run_id, f"lakesync pack {pack.pack_token}", interruptOnCancel=True)
        # Tables cut short by a shutdown: the pack writes no summary (a worker would take it for the
        # pack's end), so it runs again and loads only the tables not yet succeeded.
        def finished(summary: PackSummary) -> bool:
            return not (any(t.status == "failed" for t in summary.tables) and self.shutting_down_under(run))

        try:
            outcome = run_pack(self.spark, pack, "local", (self.catalog, self.warehouse), lambda: run.stop_requested,
                               threads=self.pack_threads, finished=finished)
        finally:
            self.clear_job_group()
        seconds = round(time.monotonic() - started, 3)
        failed = sum(1 for t in outcome.summary.tables if t.status == "failed")
        if failed and self.cut_short(run):
            return
        if outcome.stopped or (run.stop_requested and failed):
            done = len(outcome.summary.tables)
            self.save(run, state="stopped", finishedAt=utc_now(), executionSeconds=seconds,
                      errorMessage=f"stopped on request after {done} of {len(pack.loads)} tables")
        else:
            self.save(run, state="succeeded", finishedAt=utc_now(), executionSeconds=seconds)

    # --- queries --------------------------------------------------------------------------
    def sql(self, body: dict[str, Any]) -> dict[str, Any]:
        statement = body.get("sql")
        if not isinstance(statement, str) or not statement.strip():
            raise BadRequest("sql must be a non-empty string")
        max_rows = body.get("maxRows")
        if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
            raise BadRequest("maxRows must be a whole number of at least 1")
        query_id = body.get("queryId")
        if query_id is not None and (not isinstance(query_id, str) or not QUERY_ID.fullmatch(query_id)):
            raise BadRequest("queryId must be 1-64 letters, digits and hyphens")
        try:
            # Queries share the JVM with loads: only statements Spark's parser shows to be reads run.
            assert_read_only(self.query_spark, statement)
            if query_id is None:
                return {"rows": run_query(self.query_spark, statement, before_run=assert_no_java_calls, max_rows=max_rows)}
            # Its own job group, so that POST /queries/<id>/cancel stops its Spark jobs.
            self.spark.sparkContext.setJobGroup(f"query-{query_id}", "lakesync query", interruptOnCancel=True)
            try:
                if self.query_cancelled(query_id):
                    raise BadRequest(f"query {query_id} was cancelled", code="QueryCancelled")
                return {"rows": run_query(self.query_spark, statement, before_run=assert_no_java_calls, max_rows=max_rows)}
            finally:
                self.clear_job_group()
        except BadRequest:
            raise
        except ReadOnlyRefused as exc:
            raise BadRequest(str(exc), code="ReadOnlyQuery") from None
        except Exception as exc:  # noqa: BLE001 - Spark's analysis errors are the caller's to fix
            if type(exc).__name__ in ("AnalysisException", "ParseException", "IllegalArgumentException"):
                raise BadRequest(_first_line(exc)) from None
            failed = self.query_error(exc)
            if failed is not None:
                raise BadRequest(failed) from None
            raise

    def query_cancelled(self, query_id: str) -> bool:
        with self.lock:
            return query_id in self.cancelled_queries

    def cancel_query(self, query_id: str) -> dict[str, Any]:
        """Cancels the Spark jobs of the query with this id (under way or still to start)."""
        if not QUERY_ID.fullmatch(query_id):
            raise BadRequest("queryId must be 1-64 letters, digits and hyphens")
        now = time.monotonic()
        with self.lock:
            for old in [q for q, at in self.cancelled_queries.items() if now - at > 3600]:
                del self.cancelled_queries[old]
            self.cancelled_queries[query_id] = now
        self.spark.sparkContext.cancelJobGroup(f"query-{query_id}")
        return {"queryId": query_id, "cancelled": True}

    def query_error(self, exc: BaseException) -> str | None:
        """The message of an error the query itself raised as it ran (raise_error, assert_true, a
        cast or overflow under ANSI): a Spark error class names it, or a task of the query's job threw
        it. None for anything else (a stopped Spark, a cancelled job, an internal error): the runner's
        failure, which a retry may cure."""
        get_class = getattr(exc, "getErrorClass", None)
        if callable(get_class) and _query_error_class(get_class()):
            return f"the query failed as it ran: {_first_line(exc)}"
        top = getattr(exc, "java_exception", None)
        if top is None or self.spark is None:
            return None
        try:
            jvm = self.spark.sparkContext._jvm
            throwable = jvm.java.lang.Class.forName("org.apache.spark.SparkThrowable")
            cause = top
            for _ in range(20):  # the job's failure wraps the task's, which wraps the query's
                if cause is None:
                    break
                if throwable.isInstance(cause) and _query_error_class(cause.getErrorClass()):
                    return f"the query failed as it ran: {_first_line_of(str(cause.getMessage()))}"
                cause = cause.getCause()
            task_error = top.getCause()
            if (str(top.getClass().getName()) == "org.apache.spark.SparkException"
                    and str(top.getMessage() or "").startswith("Job aborted due to stage failure")
                    and task_error is not None
                    and jvm.java.lang.Exception._java_lang_class.isInstance(task_error)
                    and not jvm.java.lang.InterruptedException._java_lang_class.isInstance(task_error)):
                return f"the query failed as it ran: {_first_line_of(str(task_error.getMessage() or task_error.getClass().getName()))}"
        except Exception:  # noqa: BLE001 - no telling: leave it the runner's failure
            log.debug("could not tell whether the query or the runner failed", exc_info=True)
        return None

    def health(self) -> dict[str, Any]:
        with self.lock:
            return {
                "instance": self.instance,
                "pid": self.pid,
                "warehouse": self.warehouse,
                "queued": self.queue.qsize(),
                "running": sorted(self.active),
            }

    def shutdown(self, slots: int = 1) -> None:
        self.stopping.set()
        for _ in range(slots):
            self.queue.put(None)


def _first_line(exc: BaseException) -> str:
    return _first_line_of(str(exc)) or type(exc).__name__


def _first_line_of(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0][:2000] if text else ""


def _query_error_class(error_class: Any) -> bool:
    """Whether a Spark error class names the query's own error, not Spark's (INTERNAL_ERROR...)."""
    return isinstance(error_class, str) and bool(error_class) and not error_class.startswith("INTERNAL_ERROR")


def make_handler(runner: Runner, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            log.debug("%s " + format, self.address_string(), *args)

        def reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BadRequest(f"the request body is not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise BadRequest("the request body must be a JSON object")
            return value

        def handle_request(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong runner token"})
                return
            try:
                path = self.path.split("?", 1)[0]
                if method == "GET" and path == "/health":
                    self.reply(HTTPStatus.OK, runner.health())
                elif method == "POST" and path == "/loads":
                    self.reply(HTTPStatus.OK, runner.submit(self.body()))
                elif method == "POST" and path.startswith("/runs/") and path.endswith("/stop"):
                    # Read the (unused) body: the connection stays open for the client's next request.
                    self.body()
                    self.reply(HTTPStatus.OK, runner.stop_run(path[len("/runs/"):-len("/stop")]))
                elif method == "POST" and path.startswith("/queries/") and path.endswith("/cancel"):
                    self.body()
                    self.reply(HTTPStatus.OK, runner.cancel_query(path[len("/queries/"):-len("/cancel")]))
                elif method == "POST" and path == "/sql":
                    self.reply(HTTPStatus.OK, runner.sql(self.body()))
                elif method == "POST" and path == "/shutdown":
                    self.body()
                    self.reply(HTTPStatus.OK, {})
                    threading.Thread(target=request_exit, args=(runner,), daemon=True).start()
                else:
                    self.reply(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {method} {path}"})
            except BadRequest as exc:
                self.reply(HTTPStatus.BAD_REQUEST, {"error": str(exc), **({"code": exc.code} if exc.code else {})})
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                log.exception("request %s %s failed", method, self.path)
                self.reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {_first_line(exc)}"})

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.handle_request("GET")

        def do_POST(self) -> None:  # noqa: N802
            self.handle_request("POST")

    return Handler


_server: ThreadingHTTPServer | None = None


def request_exit(runner: Runner) -> None:
    runner.shutdown(LOAD_SLOTS_MAX)
    if _server is not None:
        _server.shutdown()


def watch_parent(runner: Runner) -> None:
    """Ends the runner when the process that started it goes away (its stdin closes)."""
    try:
        while sys.stdin.read(1024):
            pass
    except (OSError, ValueError):
        pass
    log.info("the parent process is gone: stopping")
    request_exit(runner)


def remove_info(path: str, instance: str) -> None:
    """Removes runner.json only when it still names this runner."""
    try:
        with open(path, encoding="utf-8") as handle:
            if json.load(handle).get("instance") == instance:
                os.remove(path)
    except (OSError, ValueError):
        pass


def pack_threads_from_env(value: str) -> int:
    """$LAKESYNC_PACK_THREADS: tables of one pack loaded at once; empty means the default."""
    if not value.strip():
        return PACK_THREADS_DEFAULT
    if not value.strip().isdigit() or not 1 <= int(value) <= PACK_THREADS_MAX:
        raise ValueError(f"LAKESYNC_PACK_THREADS={value!r}: give a whole number from 1 to {PACK_THREADS_MAX} (tables of one pack loaded at once)")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    global _server
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--catalog", default="lake")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--load-slots", type=int, default=2, choices=range(1, LOAD_SLOTS_MAX + 1), metavar="1-8")
    parser.add_argument("--pack-threads", type=int, choices=range(1, PACK_THREADS_MAX + 1), metavar=f"1-{PACK_THREADS_MAX}",
                        help=f"tables of one pack loaded at once (default $LAKESYNC_PACK_THREADS, else {PACK_THREADS_DEFAULT})")
    parser.add_argument("--exit-with-parent", action="store_true")
    options = parser.parse_args(argv)
    setup_logging()
    token = os.environ.get("LAKESYNC_RUNNER_TOKEN", "")
    if len(token) < 16:
        print(json.dumps({"event": "error", "message": "set LAKESYNC_RUNNER_TOKEN to a secret of at least 16 characters"}), flush=True)
        return 2

    try:
        pack_threads = options.pack_threads or pack_threads_from_env(os.environ.get("LAKESYNC_PACK_THREADS", ""))
    except ValueError as exc:
        print(json.dumps({"event": "error", "message": str(exc)}), flush=True)
        return 2
    runner = Runner(options.work_dir, options.warehouse, options.catalog, pack_threads)
    started = time.monotonic()
    try:
        runner.start_spark()
    except Exception as exc:  # noqa: BLE001 - tell the parent why, then exit
        log.exception("Spark did not start")
        print(json.dumps({"event": "error", "message": f"Spark did not start: {type(exc).__name__}: {_first_line(exc)}"}), flush=True)
        return 1
    _server = ThreadingHTTPServer(("127.0.0.1", options.port), make_handler(runner, token))
    _server.daemon_threads = True
    port = _server.server_address[1]
    loads = [threading.Thread(target=runner.load_loop, name=f"loads-{i}", daemon=True) for i in range(options.load_slots)]
    for thread in loads:
        thread.start()
    threading.Thread(target=runner.watch_stop_requests, name="stop-requests", daemon=True).start()
    if options.exit_with_parent:
        threading.Thread(target=watch_parent, args=(runner,), name="parent", daemon=True).start()

    info_path = os.path.join(runner.work_dir, "runner.json")
    info = {**runner.identity(), "port": port, "token": token, "warehouse": runner.warehouse, "startedAt": utc_now()}
    write_runner_info(info_path, info)
    ready = {"event": "ready", "port": port, **runner.identity(), "sparkSeconds": round(time.monotonic() - started, 3)}
    print(json.dumps(ready), flush=True)
    try:
        _server.serve_forever(poll_interval=0.2)
    finally:
        runner.shutdown(options.load_slots)
        remove_info(info_path, runner.instance)
        for thread in loads:
            thread.join(timeout=5)
        try:
            runner.spark.stop()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
