/**
 * The TypeScript side of glue/local_runner.py: attaches to the runner of this work dir when one
 * is alive (e.g. the worker's, from `lakesync query`), otherwise starts one (one JVM per process,
 * lazily, on first use) and stops the one it started on close().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { endProcessGroup, hasEnded, stopChild } from '../../child-process';
import { PortError } from '../../errors';
import { LAKE_CATALOG } from '../../job-args';
import { repoRoot, toolchain } from '../../toolchain';
import { readJsonIfExists, trimLog } from '../files';
import { processAlive } from '../process-identity';
import type { WorkDirLayout } from '../paths';
import { newRunnerTempDir, recordRunnerGroup, removeOrphanedRunnerTempDirs, removeRunnerTempDir } from './temp-dir';

/** Most tables of one pack the runner loads at once (glue/lakesync_glue/pack.py PACK_THREADS_MAX). */
export const PACK_THREADS_MAX = 16;

const CLOSED = 'the load runner client is closed';

/**
 * runner.log moves to runner.log.1 past this size: the runner logs each phase of each load, and
 * runs as long as its worker, so a source synced every few minutes would fill the disk with it.
 */
export const RUNNER_LOG_MAX_BYTES = 32 * 1024 * 1024;

export interface RunnerInfo {
  pid: number;
  /** When the runner's process started (see process-identity): its pid may be another process's after a reboot. */
  started?: string;
  port: number;
  token: string;
  instance: string;
  warehouse: string;
}

export interface RunnerOptions {
  /** How long Spark may take to start (a cold JVM on a busy machine is slow). */
  startTimeoutMs?: number;
  log?: (line: string) => void;
  /** Tables of one pack the runner loads at once (glue/local_runner.py --pack-threads; its default when absent). */
  packThreads?: number;
  /** The size past which runner.log moves to runner.log.1 (default RUNNER_LOG_MAX_BYTES). */
  logMaxBytes?: number;
}

export class RunnerClient {
  private info: Promise<RunnerInfo> | undefined;
  private child: ChildProcess | undefined;
  /** The runner this client started, once it is ready (before that, it has nothing to ask). */
  private childInfo: RunnerInfo | undefined;
  private closed = false;
  /** Each runner this client started, until its processes have all ended and its temporary folder is gone. */
  private readonly runnersEnding = new Set<Promise<void>>();

  constructor(
    private readonly layout: WorkDirLayout,
    private readonly options: RunnerOptions = {},
  ) {
    const threads = options.packThreads;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= PACK_THREADS_MAX)) {
      throw new PortError('validation', 'InvalidPackThreads', `packThreads ${threads}: give a whole number from 1 to ${PACK_THREADS_MAX} (tables of one pack the load runner loads at once)`);
    }
  }

  /** The runner this client talks to, starting one when none is alive. */
  ensure(): Promise<RunnerInfo> {
    if (this.closed) return Promise.reject(new Error(CLOSED));
    if (!this.info) {
      this.info = this.attachOrStart();
      this.info.catch(() => (this.info = undefined));
    }
    return this.info;
  }

  /** Keeps runner.log bounded, whichever process's runner writes it: each load and query is a call. */
  private boundLog(): void {
    try {
      if (trimLog(this.layout.runnerLog, this.options.logMaxBytes ?? RUNNER_LOG_MAX_BYTES)) this.options.log?.(`${this.layout.runnerLog} moved to ${this.layout.runnerLog}.1`);
    } catch (err) {
      this.options.log?.(`${this.layout.runnerLog} could not be moved to ${this.layout.runnerLog}.1: ${(err as Error).message}`);
    }
  }

  /** Whether this client started the runner it talks to (and so stops it on close). */
  get ownsRunner(): boolean {
    return this.child !== undefined;
  }

  /** The live runner of this work dir (this client's or another process's), without starting one. */
  liveRunner(): RunnerInfo | undefined {
    const info = readJsonIfExists<RunnerInfo>(this.layout.runnerInfo);
    return info && processAlive(info) ? info : undefined;
  }

  /** `signal`: once it aborts, the call stops waiting and throws the signal's reason (the runner is not asked to stop anything). */
  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 600_000, signal?: AbortSignal): Promise<T> {
    this.boundLog();
    const attempt = async (): Promise<T> => {
      signal?.throwIfAborted();
      const pending = this.ensure();
      const info = await pending;
      signal?.throwIfAborted();
      let response: Response;
      try {
        response = await fetch(`http://127.0.0.1:${info.port}${path}`, {
          method,
          headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) : AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw new RunnerUnreachable(`the load runner (pid ${info.pid}, port ${info.port}) did not answer ${method} ${path}: ${(err as Error).message}`, err, pending, info);
      }
      const payload = parseRunnerJson(await response.text()) as T & { error?: string; code?: unknown };
      if (response.status === 400) {
        // The runner names some refusals (e.g. ReadOnlyQuery) so callers can tell them apart.
        const code = typeof payload.code === 'string' && /^[A-Za-z]{1,64}$/.test(payload.code) ? payload.code : 'RunnerRejected';
        throw new PortError('validation', code, payload.error ?? 'the load runner refused the request');
      }
      if (!response.ok) throw new PortError('transient', 'RunnerError', `the load runner failed ${method} ${path} (HTTP ${response.status}): ${payload.error ?? 'no message'}; see ${this.layout.runnerLog}`);
      return payload;
    };
    try {
      return await attempt();
    } catch (err) {
      // A runner that went away (another process's, or one that crashed): start afresh once.
      if (!(err instanceof RunnerUnreachable) || this.closed) throw err;
      // A runner that still answers its health check is busy (a long query), not gone: ending it
      // would end every load it runs.
      if (await healthy(err.info)) {
        throw new PortError('transient', 'RunnerBusy', `${err.message}; it still answers its health check, so it was left running: retry, or see ${this.layout.runnerLog}`, { cause: err });
      }
      this.forget(err.pending, err.info);
      try {
        return await attempt();
      } catch (again) {
        throw again instanceof RunnerUnreachable ? new PortError('transient', 'RunnerUnreachable', again.message, { cause: again }) : again;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    const info = this.childInfo;
    this.child = undefined;
    this.childInfo = undefined;
    if (child && !hasEnded(child)) {
      if (!info) {
        // Still starting (Spark may take minutes, or hang): stop it now rather than wait until it is ready.
        await stopChild(child, { killAfterMs: 10_000 });
      } else {
        // Its own way first (/shutdown, then its stdin closed); signals only when that has not ended it in time.
        const stopped = stopChild(child, { signalAfterMs: 15_000, killAfterMs: 25_000 });
        await fetch(`http://127.0.0.1:${info.port}/shutdown`, { method: 'POST', headers: { authorization: `Bearer ${info.token}` }, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
        child.stdin?.end();
        await stopped;
      }
    }
    await Promise.all(this.runnersEnding);
  }

  /**
   * Drops a runner that stopped answering, once. Calls that were under way on it fail together;
   * the first starts a new runner, and the others must attach to it, not end it.
   */
  private forget(pending: Promise<RunnerInfo>, info: RunnerInfo): void {
    if (this.info !== pending) return;
    this.info = undefined;
    // Our own runner stopped answering: end it before starting another (one JVM per client).
    if (this.child && this.child.pid === info.pid) {
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
      this.child = undefined;
      this.childInfo = undefined;
    }
  }

  /**
   * However the runner ends (stopped, killed while it starts, crashed), what it started ends too and
   * its temporary folder goes. Killed while Spark starts, it leaves a JVM that would write into that
   * folder, and that runs on for good when it cannot.
   */
  private cleanUpAfter(child: ChildProcess, tempDir: string): void {
    const ended = new Promise<void>((resolve) => {
      const removeTempDir = () => {
        const problem = removeRunnerTempDir(tempDir);
        if (problem) this.options.log?.(`the load runner's temporary folder ${tempDir} could not be removed (${problem}); the next start in this work dir after this process ends removes it`);
        resolve();
      };
      child.once('exit', () => void endProcessGroup(child.pid!).then(removeTempDir, removeTempDir));
      child.once('error', () => {
        if (child.pid === undefined) removeTempDir(); // it never started, so no 'exit' comes
      });
    });
    this.runnersEnding.add(ended);
    void ended.then(() => this.runnersEnding.delete(ended));
  }

  private async attachOrStart(): Promise<RunnerInfo> {
    const live = this.liveRunner();
    if (live && (await healthy(live))) return live;
    // Closed while the live runner was checked: a runner started now would be nobody's to stop.
    if (this.closed) throw new Error(CLOSED);
    return this.start();
  }

  private async start(): Promise<RunnerInfo> {
    const tools = toolchain();
    const token = randomBytes(24).toString('hex');
    const script = join(repoRoot(), 'glue', 'local_runner.py');
    if (!existsSync(script)) throw new PortError('failed', 'RunnerMissing', `${script} is missing: the checkout is incomplete`);
    mkdirSync(this.layout.root, { recursive: true });
    removeOrphanedRunnerTempDirs(this.layout);
    const tempDir = newRunnerTempDir(this.layout);
    const logFd = openSync(this.layout.runnerLog, 'a');
    const args = [script, '--work-dir', this.layout.root, '--warehouse', this.layout.warehouse, '--catalog', LAKE_CATALOG, '--exit-with-parent'];
    if (this.options.packThreads !== undefined) args.push('--pack-threads', String(this.options.packThreads));
    let child: ChildProcess;
    try {
      child = spawn(tools.python, args, {
        // A process group of its own, so that what it started (Spark's JVM) can be ended with it.
        detached: true,
        stdio: ['pipe', 'pipe', logFd],
        env: {
          ...process.env,
          JAVA_HOME: tools.javaHome,
          LAKESYNC_ICEBERG_JAR: tools.icebergJar,
          ...(tools.postgresJdbcJar ? { LAKESYNC_POSTGRES_JDBC_JAR: tools.postgresJdbcJar } : {}),
          LAKESYNC_RUNNER_TOKEN: token,
          PYTHONUNBUFFERED: '1',
          TMPDIR: tempDir,
        },
      });
    } catch (err) {
      removeRunnerTempDir(tempDir);
      throw err;
    } finally {
      closeSync(logFd);
    }
    this.cleanUpAfter(child, tempDir);
    const unrecorded = child.pid !== undefined ? recordRunnerGroup(tempDir, child.pid) : undefined;
    if (unrecorded) this.options.log?.(`the load runner's process group could not be noted in ${tempDir} (${unrecorded}): should this process end while the runner starts, a later start may remove that folder from under it`);
    this.child = child;
    this.childInfo = undefined;
    this.options.log?.(`starting the load runner (Spark, Iceberg warehouse ${this.layout.warehouse})`);
    const ready = await waitReady(child, this.options.startTimeoutMs ?? 240_000, this.layout.runnerLog);
    // Keep reading stdout so the runner never blocks on a full pipe.
    child.stdout?.resume();
    const info: RunnerInfo = { pid: ready.pid, ...(ready.started ? { started: ready.started } : {}), port: ready.port, token, instance: ready.instance, warehouse: this.layout.warehouse };
    if (this.child === child) this.childInfo = info;
    return info;
  }
}

class RunnerUnreachable extends Error {
  constructor(
    message: string,
    cause: unknown,
    /** The runner the call was made to, so that only the first failure on it starts another. */
    readonly pending: Promise<RunnerInfo>,
    readonly info: RunnerInfo,
  ) {
    super(message, { cause });
  }
}

async function healthy(info: RunnerInfo): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${info.port}/health`, { headers: { authorization: `Bearer ${info.token}` }, signal: AbortSignal.timeout(5_000) });
    if (!response.ok) return false;
    const body = (await response.json()) as { instance?: string };
    return body.instance === info.instance;
  } catch {
    return false;
  }
}

interface ReadyLine {
  event: 'ready' | 'error';
  port: number;
  pid: number;
  started?: string;
  instance: string;
  message?: string;
}

function waitReady(child: ChildProcess, timeoutMs: number, logFile: string): Promise<ReadyLine> {
  return new Promise((resolveReady, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (message: string, slow = false) => {
      clearTimeout(timer);
      lines.close();
      if (child.exitCode === null) child.kill('SIGKILL');
      // A start that only took too long (a cold JVM on a busy machine) may succeed when retried; a broken one will not.
      const what = slow ? 'the machine may be busy: it is tried again' : 'fix the cause above, or run "npm run bootstrap" when Python, Java or the Iceberg jar are missing';
      reject(new PortError(slow ? 'transient' : 'failed', 'RunnerDidNotStart', `${message}\n${tail(logFile)}\n${what}`));
    };
    const timer = setTimeout(() => fail(`the load runner did not start within ${Math.round(timeoutMs / 1000)} s (see ${logFile})`, true), timeoutMs);
    child.once('error', (err) => fail(`cannot start the load runner (${err.message})`));
    const exited = (code: number | null, signal: NodeJS.Signals | null) => fail(`the load runner ${signal ? `was ended by ${signal}` : `exited with code ${code}`} before it was ready (see ${logFile})`);
    child.once('exit', exited);
    lines.on('line', (line) => {
      let parsed: ReadyLine | undefined;
      try {
        parsed = JSON.parse(line) as ReadyLine;
      } catch {
        return;
      }
      if (parsed.event === 'error') return fail(`the load runner could not start: ${parsed.message}`);
      if (parsed.event !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', exited);
      lines.close();
      resolveReady(parsed);
    });
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no runner log)';
  }
}

/**
 * The runner's JSON, with its non-finite floats (sent as `{"$float": "NaN" | "Infinity" | "-Infinity"}`,
 * since JSON has no such numbers) turned back into numbers; an unreadable body is an empty object.
 */
export function parseRunnerJson(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value: unknown) => {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const keys = Object.keys(value);
        const marked = (value as { $float?: unknown }).$float;
        if (keys.length === 1 && (marked === 'NaN' || marked === 'Infinity' || marked === '-Infinity')) return Number(marked);
      }
      return value;
    });
  } catch {
    return {};
  }
}
