/**
 * The local Temporal dev server (Temporal CLI `server start-dev`, SQLite file, Web UI),
 * used by `lakesync dev`, the demo, the tests and the benchmarks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { dirname, sep } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { hasEnded, stopChild } from './child-process';
import { toolchain } from './toolchain';

export interface DevServerOptions {
  /** SQLite file; the server's state survives a restart on the same file. */
  dbFile: string;
  port?: number;
  /** Web UI port; no UI when absent. */
  uiPort?: number;
  binary?: string;
  searchAttributes?: Record<string, 'Keyword' | 'Int' | 'Text' | 'Datetime' | 'Bool' | 'Double' | 'KeywordList'>;
  /** Namespaces to create besides `default` (each with the search attributes), when missing. */
  namespaces?: string[];
  /** Further `temporal server start-dev` arguments, e.g. `--dynamic-config-value limit.historyCount.suggestContinueAsNew=10`. */
  extraArgs?: string[];
  log?: (line: string) => void;
}

export interface DevServer {
  address: string;
  port: number;
  uiUrl?: string;
  /** The server's process id (a new one after restart). */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM) and waits for it to exit; at once when it has already ended. */
  stop(): Promise<void>;
  /**
   * Resolves when the running server process ends, whether stop() ended it or not: how it ended
   * ("the Temporal dev server at ... was ended by SIGKILL") and its last output ("; its last output:\n...").
   */
  ended(): Promise<{ summary: string; lastOutput: string }>;
  /** Starts it again on the same port and database file. */
  restart(): Promise<void>;
}

/**
 * A port the dev server was asked to listen on is taken on 127.0.0.1. Were it started anyway, a
 * Temporal server already there (another `lakesync dev`, say) would answer in its place while
 * the new one exits: the caller would take someone else's server, state and UI for its own.
 */
export class PortInUse extends Error {
  constructor(
    readonly port: number,
    readonly role: 'frontend' | 'ui',
  ) {
    super(
      `port ${port} on 127.0.0.1 is in use, so the Temporal dev server cannot take it for its ${role === 'ui' ? 'Web UI' : 'gRPC frontend'} ` +
        '(another Temporal server or lakesync dev may run there): stop what listens there, or choose another port',
    );
    this.name = 'PortInUse';
  }
}

/** The Temporal CLI could not be run at all (no such file, not executable): starting it again would not help. */
export class TemporalCliUnusable extends Error {
  constructor(
    readonly binary: string,
    cause: Error,
  ) {
    super(`cannot run the Temporal CLI ${binary} (${cause.message})`, { cause });
    this.name = 'TemporalCliUnusable';
  }
}

/** Whether nothing listens on 127.0.0.1:`port` (a listen there succeeds). */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
  });
}

/**
 * A loopback port nothing listens on, kept from other processes' picks until its caller binds it.
 * A connection closed from the listening side leaves the port in TIME_WAIT for a minute: the
 * system then gives it to no bind of port 0 (a server starting at the same moment), while an
 * explicit bind of it still succeeds (Node, Go, PostgreSQL and Python's servers set SO_REUSEADDR).
 */
export async function freePort(): Promise<number> {
  const srv = createServer((socket) => socket.destroy());
  srv.unref();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => {
    const client = connect(port, '127.0.0.1');
    client.once('close', () => resolve());
    client.on('error', () => undefined); // 'close' follows
    client.resume();
  });
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** How many times the server is started before its failure to start is reported (see launch). */
export const DEV_SERVER_START_ATTEMPTS = 3;
/** Lines of the server's own output kept for the message when it fails to start. */
const OUTPUT_LINES_KEPT = 30;

/** The server ended before it was ready; its last output (in the message) says why. */
class EndedBeforeReady extends Error {
  constructor(
    readonly summary: string,
    lastOutput: string,
  ) {
    super(`${summary}${lastOutput}`);
  }
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const binary = options.binary ?? toolchain().temporal;
  let port = options.port ?? (await freePort());
  // A path to no file would fail the spawn: refused before the state file's folder is created.
  if (binary.includes(sep) && !existsSync(binary)) throw new TemporalCliUnusable(binary, Object.assign(new Error(`spawn ${binary} ENOENT`), { code: 'ENOENT' }));
  const args = () => {
    const list = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', options.dbFile, '--log-level', 'error'];
    if (options.uiPort) list.push('--ui-port', String(options.uiPort));
    else list.push('--headless');
    for (const [name, type] of Object.entries(options.searchAttributes ?? {})) list.push('--search-attribute', `${name}=${type}`);
    for (const namespace of options.namespaces ?? []) if (namespace !== 'default') list.push('--namespace', namespace);
    return [...list, ...(options.extraArgs ?? [])];
  };

  let child: ChildProcess | undefined;
  /** What the running server wrote last, and when all of it has arrived. */
  let childOutput: { lines: string[]; done: Promise<unknown> } = { lines: [], done: Promise.resolve() };
  /**
   * Starts the server and waits until it answers. The server binds ports of its own choosing as
   * well as its frontend port; a process starting at the same moment can take one of them first,
   * and the server then exits. So a server that ends before it is ready is started again, on a new
   * frontend port when that port was ours to choose (first start only: a restart keeps its port).
   */
  const launch = async (newPortOnRetry: boolean) => {
    for (let attempt = 1; ; attempt++) {
      if (options.uiPort && !(await portIsFree(options.uiPort))) throw new PortInUse(options.uiPort, 'ui');
      if (!(await portIsFree(port))) {
        if (!newPortOnRetry || attempt >= DEV_SERVER_START_ATTEMPTS) throw new PortInUse(port, 'frontend');
        port = await freePort();
        continue;
      }
      // Only once its ports are free: a server that cannot start leaves no folder behind.
      mkdirSync(dirname(options.dbFile), { recursive: true });
      const output: string[] = [];
      const proc = spawn(binary, args(), { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      // A binary that cannot be run is reported as an 'error' event (unhandled, it would end this process).
      let spawnError: Error | undefined;
      proc.once('error', (err) => (spawnError ??= err));
      const keep = (buf: Buffer) => {
        options.log?.(buf.toString());
        output.push(...buf.toString().split('\n').filter((line) => line.trim()));
        output.splice(0, Math.max(0, output.length - OUTPUT_LINES_KEPT));
      };
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      // Its output can arrive after its exit: 'close' comes once all of it has.
      const outputDone = new Promise((resolve) => proc.once('close', resolve));
      try {
        await waitReady(`127.0.0.1:${port}`, proc, output, outputDone, () => spawnError && new TemporalCliUnusable(binary, spawnError));
        childOutput = { lines: output, done: outputDone };
        return;
      } catch (err) {
        // One that never got ready is not left running.
        await stopChild(proc, { killAfterMs: 5_000 });
        if (!(err instanceof EndedBeforeReady) || attempt >= DEV_SERVER_START_ATTEMPTS) throw err;
        options.log?.(`${err.summary}; starting it again (attempt ${attempt + 1} of ${DEV_SERVER_START_ATTEMPTS})\n`);
        if (newPortOnRetry) port = await freePort();
      }
    }
  };
  const stop = async () => {
    if (child) await stopChild(child, { killAfterMs: 10_000 });
  };
  await launch(options.port === undefined);
  return {
    address: `127.0.0.1:${port}`,
    port,
    ...(options.uiPort ? { uiUrl: `http://127.0.0.1:${options.uiPort}` } : {}),
    get pid() {
      return child?.pid;
    },
    stop,
    ended: async () => {
      const proc = child;
      const { lines, done } = childOutput;
      if (proc && !hasEnded(proc)) await new Promise((resolve) => proc.once('exit', resolve));
      await Promise.race([done, delay(2_000)]);
      return { summary: `the Temporal dev server at 127.0.0.1:${port} ${proc ? endedHow(proc) : 'never started'}`, lastOutput: lastOutputText(lines) };
    },
    restart: async () => {
      await stop();
      await launch(false);
    },
  };
}

async function waitReady(address: string, child: ChildProcess, output: string[], outputDone: Promise<unknown>, unusable: () => Error | undefined): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  const lastOutput = () => lastOutputText(output);
  while (Date.now() < deadline) {
    const cannotRun = unusable();
    if (cannotRun) throw cannotRun;
    if (hasEnded(child)) {
      await Promise.race([outputDone, delay(2_000)]);
      throw new EndedBeforeReady(`the Temporal dev server at ${address} ${endedHow(child)} before it was ready`, lastOutput());
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1_000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      return;
    } catch (err) {
      lastError = err;
      await delay(250);
    }
  }
  throw new Error(`the Temporal dev server at ${address} was not ready after 60 s: ${String(lastError)}${lastOutput()}`);
}

function endedHow(child: ChildProcess): string {
  return child.signalCode ? `was ended by ${child.signalCode}` : `exited with code ${child.exitCode}`;
}

function lastOutputText(output: string[]): string {
  return output.length ? `; its last output:\n${output.join('\n')}` : '; it wrote nothing';
}
