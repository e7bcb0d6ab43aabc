/**
 * LoadPort of the embedded mode: each table load is a run of the Glue core in the load runner,
 * with the same arguments as on AWS (src/job-args.ts). Runs are asynchronous like Glue job runs:
 * startLoad writes a "pending" record and returns at once (the activity heartbeats while Spark
 * starts, as a Glue run sits in STARTING), then hands the run to the runner, which keeps the
 * record up to date. Records (runs/<runId>.json) outlive the worker, so a restarted worker finds
 * a run by its token and re-attaches instead of loading the table twice.
 *
 * A pack (several small tables in one run) is one runner job whose only argument is its pack
 * file (`pack_path`), found by the pack token as a load is by its run token; the runner loads the
 * tables a few at a time (its --pack-threads), each writing its own result, then the pack's summary.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PortError } from '../errors';
import { loadJobArguments } from '../job-args';
import type { LiveLoadRun, LoadRequest, LoadResult, LoadRunStatus, PackSummary } from '../model';
import { checkPackSummary, packFileOf, packTables, type RunTable, withPack } from '../pack-file';
import type { LoadPort, PackLoads } from '../ports';
import { fileSafe, KeyedMutex, readJsonIfExists, writeJsonAtomic } from './files';
import { type ProcessRef, THIS_PROCESS, processAlive } from './process-identity';
import { resultFile, type WorkDirLayout } from './paths';
import type { RunnerClient, RunnerInfo } from './runner/client';
import type { LocalJdbc } from './source/jdbc';

/** What the runner writes in runs/<runId>.json. */
export interface RunRecord {
  runId: string;
  runToken: string;
  state: 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped';
  table: string;
  resultPath: string;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  executionSeconds?: number;
  errorClass?: string;
  errorMessage?: string;
  /** The process responsible for the run now: this client while pending, then the runner. */
  runner: ProcessRef & { instance: string };
  /** The job arguments, so the run can be started again when its runner dies; `{pack_path}` for a pack. */
  args?: Record<string, string>;
  /** How often the run was started again after its runner died. */
  restarts?: number;
}

const LIVE_STATES: ReadonlySet<RunRecord['state']> = new Set(['pending', 'queued', 'running']);

/** A pack run: its one argument is the pack file. */
function isPack(record: RunRecord): boolean {
  return record.args?.pack_path !== undefined;
}

/** How often a run is started again after its runner died, before it fails. */
export const MAX_RUN_RESTARTS = 2;

/** Identifies this process's load ports as the owner of the pending runs they submit. */
const CLIENT_INSTANCE = `client-${process.pid}-${randomBytes(4).toString('hex')}`;
/** Pending runs this process is handing to the runner right now. */
const submitting = new Set<string>();

/** Run ids start with a digest of the run token, so the runs of one token are found by name. */
export function runIdPrefix(runToken: string): string {
  return `lr-${createHash('sha256').update(runToken).digest('hex').slice(0, 16)}-`;
}

export function newRunId(runToken: string): string {
  return `${runIdPrefix(runToken)}${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export interface LoadPortOptions {
  /**
   * The source's JDBC connection for direct loads (a postgres source; undefined for PGlite, which
   * has no network listener). Built from the source URL each time it is needed, so a run started
   * again after its runner died gets the password again without it ever being written down.
   */
  jdbc?: () => LocalJdbc;
}

export function createLoadPort(layout: WorkDirLayout, runner: RunnerClient, options: LoadPortOptions = {}): LoadPort {
  const startOnce = new KeyedMutex();
  const recordFile = (runId: string) => join(layout.runs, `${runId}.json`);
  /**
   * A stop request any process leaves for a run (runs/<runId>.stop): the worker handing the run to
   * its runner, and the runner running it (glue/local_runner.py), look for it; they may be other
   * processes than the one asking, which cannot reach them otherwise.
   */
  const stopFile = (runId: string) => join(layout.runs, `${runId}.stop`);

  function readRecord(runId: string): RunRecord | undefined {
    if (!/^[A-Za-z0-9_.-]+$/.test(runId)) return undefined;
    return readJsonIfExists<RunRecord>(recordFile(runId));
  }

  /** A pending, queued or running run whose responsible process is gone never finishes by itself. */
  function runnerGone(record: RunRecord): boolean {
    if (record.state === 'pending') {
      if (record.runner.pid === process.pid) return !(record.runner.instance === CLIENT_INSTANCE && submitting.has(record.runId));
      return !processAlive(record.runner);
    }
    if (!processAlive(record.runner)) return true;
    const live = readJsonIfExists<RunnerInfo>(layout.runnerInfo);
    return live !== undefined && live.pid === record.runner.pid && live.instance !== record.runner.instance;
  }

  const stopRequested = new Set<string>();

  /** Records a pending run owned by this process and hands it to the runner in the background. */
  function startPending(record: RunRecord & { args: Record<string, string> }): void {
    writeJsonAtomic(recordFile(record.runId), record);
    submitting.add(record.runId);
    void submit(record.runId, record.runToken, record.args, record.restarts ?? 0).finally(() => submitting.delete(record.runId));
  }

  /**
   * A run whose runner died before it finished (the worker was killed, the JVM crashed) is
   * started again under the same id, like a job run retried by its service, so the activity
   * polling it stays attached. Loads are idempotent, and one that committed first is recognised
   * by its result. After MAX_RUN_RESTARTS the run fails.
   */
  function restartIfOrphaned(record: RunRecord): RunRecord {
    if (!['pending', 'queued', 'running'].includes(record.state) || !runnerGone(record)) return record;
    // A run asked to stop is not started again: it ends stopped (settled).
    if (existsSync(stopFile(record.runId))) return record;
    if (status(record).state === 'succeeded' || !record.args || (record.restarts ?? 0) >= MAX_RUN_RESTARTS) return record;
    const again = { ...record, state: 'pending' as const, args: record.args, restarts: (record.restarts ?? 0) + 1, runner: { ...THIS_PROCESS, instance: CLIENT_INSTANCE } };
    delete (again as Partial<RunRecord>).startedAt;
    startPending(again);
    return again;
  }

  /**
   * A run whose runner died for good (past its restarts) is written down as ended, so that its
   * record never claims a run that no longer exists beside the new run that replaces it.
   */
  function settled(record: RunRecord): RunRecord {
    if (!['pending', 'queued', 'running'].includes(record.state) || !runnerGone(record)) return record;
    const now = status(record);
    if (now.state === 'running') return record;
    const finishedAt = new Date().toISOString();
    const ended: RunRecord =
      now.state === 'succeeded'
        ? { ...record, state: 'succeeded', finishedAt }
        : existsSync(stopFile(record.runId))
          ? { ...record, state: 'stopped', finishedAt, errorMessage: 'stopped on request; its load runner ended before the run did' }
          : { ...record, state: 'failed', finishedAt, errorClass: 'RunnerGone', errorMessage: now.errorMessage ?? 'the load runner stopped before the run finished' };
    writeJsonAtomic(recordFile(record.runId), ended);
    return ended;
  }

  /** Hands a pending run to the runner (starting Spark when needed); a failure ends the run. */
  async function submit(runId: string, runToken: string, args: Record<string, string>, restarts: number): Promise<void> {
    const fail = (message: string, state: RunRecord['state'] = 'failed') => {
      const record = readRecord(runId);
      if (record?.state === 'pending') writeJsonAtomic(recordFile(runId), { ...record, state, finishedAt: new Date().toISOString(), errorClass: 'RunnerUnavailable', errorMessage: message });
    };
    try {
      const secretEnv = passwordFor(args);
      await runner.ensure();
      if (stopRequested.delete(runId) || existsSync(stopFile(runId))) return fail('stopped before it started', 'stopped');
      // The password travels in this request's body only: the runner sets it for the job and keeps it in memory.
      await runner.call('POST', '/loads', { runId, runToken, args, restarts, ...(secretEnv ? { secretEnv } : {}) }, 60_000);
      if (stopRequested.delete(runId)) await runner.call('POST', `/runs/${encodeURIComponent(runId)}/stop`, {}, 30_000);
    } catch (err) {
      fail(`the load could not be handed to the load runner: ${(err as Error).message}`);
    }
  }

  /** The variable a direct load's arguments name, with the password (from the source URL as configured now). */
  function passwordFor(args: Record<string, string>): Record<string, string> | undefined {
    const name = args.jdbc_password_env;
    if (!name) return undefined;
    const jdbc = options.jdbc?.();
    const password = jdbc?.secretEnv[name];
    if (password === undefined) {
      throw new PortError('validation', 'JdbcPasswordUnknown', `the load of ${args.source_schema}.${args.source_table} reads its password from ${name}, which the source URL no longer gives (source.url changed since the run started): sync the table again`);
    }
    return { [name]: password };
  }

  /** The JDBC connection of a direct load, from the source's URL. */
  function jdbcOf(req: LoadRequest): LocalJdbc['source'] | undefined {
    if (req.plan.extract?.kind !== 'direct') return undefined;
    if (!options.jdbc) {
      throw new PortError('validation', 'DirectNeedsPostgres', `${req.plan.table} has extract: direct, which reads the source over JDBC: PGlite has no network listener, so use source.kind postgres (or extract: export)`);
    }
    const jdbc = options.jdbc();
    // The job logs in with a password (it refuses an empty one): say so before a run starts.
    if (!jdbc.secretEnv[jdbc.source.passwordEnv]) {
      throw new PortError('validation', 'JdbcPasswordMissing', `${req.plan.table} has extract: direct, which logs in to the source over JDBC as ${jdbc.source.user} with a password, and source.url gives none (nor does PGPASSWORD): add the password to source.url`);
    }
    return jdbc.source;
  }

  /** The newest run started with this token. */
  function latestRun(runToken: string): RunRecord | undefined {
    if (!existsSync(layout.runs)) return undefined;
    const prefix = runIdPrefix(runToken);
    const records = readdirSync(layout.runs)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
      .map((f) => readRecord(f.slice(0, -'.json'.length)))
      .filter((r): r is RunRecord => r !== undefined && r.runToken === runToken);
    records.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
    return records.at(-1);
  }

  function status(record: RunRecord): LoadRunStatus {
    const base = { runId: record.runId, ...(record.executionSeconds !== undefined ? { executionSeconds: record.executionSeconds } : {}) };
    switch (record.state) {
      case 'pending':
      case 'queued':
      case 'running': {
        const detail = { pending: 'STARTING', queued: 'WAITING', running: 'RUNNING' }[record.state];
        if (!runnerGone(record)) return { ...base, state: 'running', detail };
        // The runner died: the result file (a pack's summary) tells whether the run finished before it did.
        if (finishedBeforeRunnerDied(record)) return { ...base, state: 'succeeded', detail: 'SUCCEEDED' };
        const who = record.state === 'pending' ? 'the worker that started it' : 'the load runner';
        const tries = record.restarts ? ` (started ${record.restarts + 1} times)` : '';
        // Like Glue's ERROR: the run's machinery died, not the load, so a new run may succeed.
        return { ...base, state: 'failed', detail: 'ERROR', retryable: true, errorMessage: `${who} (pid ${record.runner.pid}) stopped before run ${record.runId} of ${record.table} finished${tries}; see ${layout.runnerLog}` };
      }
      case 'succeeded':
        return { ...base, state: 'succeeded', detail: 'SUCCEEDED' };
      case 'stopped':
        return { ...base, state: 'failed', detail: 'STOPPED', errorMessage: record.errorMessage ?? 'stopped on request' };
      default: {
        const errorMessage = `${record.errorClass ?? 'InternalError'}: ${record.errorMessage ?? 'no error message'}`;
        // The runner could not take the load, or died past its restarts: like Glue's ERROR, a new run may succeed.
        if (record.errorClass === 'RunnerUnavailable' || record.errorClass === 'RunnerGone') return { ...base, state: 'failed', detail: 'ERROR', retryable: true, errorMessage };
        return { ...base, state: 'failed', detail: 'FAILED', errorMessage };
      }
    }
  }

  function finishedBeforeRunnerDied(record: RunRecord): boolean {
    if (isPack(record)) {
      // startPack moves an earlier summary of the token aside: one there now is this run's.
      return readJsonIfExists<PackSummary>(record.resultPath)?.packToken === record.runToken;
    }
    const result = readJsonIfExists<LoadResult>(record.resultPath);
    return !!result && result.runToken === record.runToken && result.status === 'succeeded' && result.finishedAt >= (record.startedAt ?? record.queuedAt);
  }

  /** The lake tables a run loads, with the run token of each: one for a load, those of its pack file for a pack. */
  function lakeTablesOf(record: RunRecord): RunTable[] {
    if (!record.args) return [];
    if (!isPack(record)) return record.args.namespace && record.args.lake_table ? [{ lakeTable: `${record.args.namespace}.${record.args.lake_table}`, runToken: record.runToken }] : [];
    try {
      return withPack(packTables(readJsonIfExists<unknown>(record.args.pack_path!)), record.runToken);
    } catch {
      return []; // an unreadable pack file: the run fails on it before it loads a table
    }
  }

  const packFilePath = (cycleId: string, packToken: string) => join(layout.results, fileSafe(cycleId), 'packs', `${fileSafe(packToken)}.json`);

  const packs: PackLoads = {
    async startPack(req) {
      const file = packFileOf(req, (load) => loadJobArguments(load, { warehouse: layout.warehouse }));
      return startOnce.run(req.packToken, async () => {
        // A live or finished run of the same pack token is this pack (an earlier attempt started it).
        const earlier = latestRun(req.packToken);
        if (earlier && status(settled(restartIfOrphaned(earlier))).state !== 'failed') return { runId: earlier.runId };
        // An earlier run's summary must not be read as this run's. The tables' results stay: one that
        // succeeded for its run token is not loaded again.
        if (existsSync(req.summaryLocation)) renameSync(req.summaryLocation, `${req.summaryLocation}.previous`);
        const packPath = packFilePath(req.cycleId, req.packToken);
        writeJsonAtomic(packPath, file);
        const runId = newRunId(req.packToken);
        startPending({
          runId,
          runToken: req.packToken,
          state: 'pending',
          table: `pack ${req.packToken} (${req.loads.length} tables)`,
          resultPath: req.summaryLocation,
          queuedAt: new Date().toISOString(),
          runner: { ...THIS_PROCESS, instance: CLIENT_INSTANCE },
          args: { pack_path: packPath },
          restarts: 0,
        });
        return { runId };
      });
    },

    async findPackByToken(req) {
      return latestRun(req.packToken)?.runId;
    },

    summaryLocation: (_source, cycleId, packToken) => join(layout.results, fileSafe(cycleId), 'packs', `${fileSafe(packToken)}.summary.json`),

    async readSummary(location) {
      const summary = readJsonIfExists<unknown>(location);
      return summary === undefined ? undefined : checkPackSummary(summary, location);
    },
  };

  return {
    packs,

    // Polling reads a local file: cheap, so a finished load is noticed within a second.
    pollPolicy: { initialMs: 250, maxMs: 1_000 },

    resultLocation: (req) => resultFile(layout, req.cycleId, req.plan.table),

    async startLoad(req) {
      const args = loadJobArguments(req, { warehouse: layout.warehouse }, jdbcOf(req));
      return startOnce.run(req.runToken, async () => {
        // A live or finished run of the same token is this load (an earlier attempt started it).
        const earlier = latestRun(req.runToken);
        if (earlier && status(settled(restartIfOrphaned(earlier))).state !== 'failed') return { runId: earlier.runId };
        // A result left by an earlier run of this token must not be read as this run's.
        if (existsSync(req.resultLocation)) renameSync(req.resultLocation, `${req.resultLocation}.previous`);
        mkdirSync(dirname(req.resultLocation), { recursive: true });
        const runId = newRunId(req.runToken);
        startPending({
          runId,
          runToken: req.runToken,
          state: 'pending',
          table: `${req.database}.${req.plan.table}`,
          resultPath: req.resultLocation,
          queuedAt: new Date().toISOString(),
          runner: { ...THIS_PROCESS, instance: CLIENT_INSTANCE },
          args,
          restarts: 0,
        });
        return { runId };
      });
    },

    async findRunByToken(req) {
      return latestRun(req.runToken)?.runId;
    },

    async liveRuns(namespace, lakeTable) {
      if (!existsSync(layout.runs)) return [];
      const live: (LiveLoadRun & { queuedAt: string })[] = [];
      for (const file of readdirSync(layout.runs)) {
        if (!file.endsWith('.json')) continue;
        const record = readRecord(file.slice(0, -'.json'.length));
        // A run whose runner is gone is not going: nothing runs it unless its own load restarts it.
        if (!record || !LIVE_STATES.has(record.state) || runnerGone(record)) continue;
        // A pack is live on each of its tables, under that table's own run token: the same load
        // attaches to it (the pack writes the table's result where a run of its own would).
        const mine = lakeTablesOf(record).find((t) => t.lakeTable === `${namespace}.${lakeTable}`);
        if (!mine) continue;
        const detail = status(record).detail;
        live.push({ runId: record.runId, runToken: mine.runToken, ...(mine.pack ? { pack: mine.pack } : {}), queuedAt: record.queuedAt, ...(detail ? { detail } : {}), ...(record.startedAt ? { startedAt: record.startedAt } : {}) });
      }
      return live.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt)).map(({ queuedAt: _, ...run }) => run);
    },

    async getRun(runId) {
      const record = readRecord(runId);
      if (!record) throw new PortError('not-found', 'RunNotFound', `load run ${runId} has no record in ${layout.runs}: it was never started here, or the work dir was cleaned`);
      return status(settled(restartIfOrphaned(record)));
    },

    async stopRun(runId) {
      const record = readRecord(runId);
      if (!record || !LIVE_STATES.has(record.state) || runnerGone(record)) return;
      // For whichever process hands the run over or runs it: another worker, or a runner this one does not talk to.
      writeJsonAtomic(stopFile(runId), { requestedAt: new Date().toISOString(), by: THIS_PROCESS });
      if (record.state === 'pending') {
        if (record.runner.instance === CLIENT_INSTANCE) stopRequested.add(runId);
        return;
      }
      // The run's own runner, when it is the one this worker talks to, stops it at once. A runner that
      // does not know the run (this client talks to another one) refuses: the stop request stands all the same.
      if (runner.liveRunner()?.instance !== record.runner.instance) return;
      try {
        await runner.call('POST', `/runs/${encodeURIComponent(runId)}/stop`, {}, 30_000);
      } catch (err) {
        if (!(err instanceof PortError && err.kind === 'validation')) throw err;
      }
    },

    async readResult(location) {
      return readJsonIfExists<LoadResult>(location);
    },
  };
}
