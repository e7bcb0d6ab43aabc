/**
 * What `lakesync dev` runs (commands/dev.ts declares its options): the Temporal dev server, a
 * worker for the config's sources and their load runners, until interrupted. Loaded only when
 * the command runs: the worker and the backends take a while to load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type DevServer, PortInUse, TemporalCliUnusable, startDevServer } from '../devserver';
import { toolchain } from '../toolchain';
import { createWorker } from '../worker';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { CommandKit } from './command';
import { configPath, loadConfig } from './context';
import { RuntimeFailure, UsageError } from './errors';
import { printLine } from './io';
import { repoRoot } from './paths';
import { defaultDataRoot } from '../backends';
import { localSettings } from '../backends/local';
import type { LakesyncConfig } from '../config/schema';
import { layoutOf } from '../local';
import { RunnerClient } from '../local/runner/client';
import { SEARCH_ATTRIBUTES, visibilityQueries } from './search-attributes';
import { temporalTarget } from '../temporal';

export interface DevOptions {
  config: string;
  port: string;
  uiPort: string;
  dbFile: string;
  worker: boolean;
  temporalBin?: string;
}

export async function dev(kit: CommandKit, opts: DevOptions): Promise<void> {
  const { io } = kit.env;
  const port = portNumber(opts.port, '--port');
  const uiPort = portNumber(opts.uiPort, '--ui-port');
  // The server would start (writing its state file) and die on the second bind: refused before anything starts.
  if (uiPort === port) throw new UsageError(`--ui-port ${uiPort} is the --port too: the Web UI and the gRPC server need a port each (by default --port 7233, --ui-port 8233)`);
  const file = configPath(io, opts);
  // The default config may be missing (server only); a named one must exist and be valid.
  const explicit = opts.config !== 'lakesync.yaml';
  const config = opts.worker && (explicit || existsSync(file)) ? loadConfig(io, opts) : undefined;
  // The environment's task queue and namespace win over the config's: a blank one is refused before the server starts (and writes its state file).
  const namespace = config ? temporalTarget(config, `127.0.0.1:${port}`).namespace : 'default';
  const binary = opts.temporalBin ?? io.env.LAKESYNC_TEMPORAL_BIN ?? temporalFromToolchain();

  watchStopSignals();
  const server: DevServer = await startDevServer({ dbFile: resolve(io.cwd, opts.dbFile), port, uiPort, binary, searchAttributes: { ...SEARCH_ATTRIBUTES }, namespaces: [namespace] }).catch((err: unknown) => {
    if (err instanceof PortInUse) throw new RuntimeFailure(`${err.role === 'ui' ? '--ui-port' : '--port'} ${err.port}: ${err.message}`, { cause: err });
    if (err instanceof TemporalCliUnusable) throw new RuntimeFailure(`${err.message}: pass --temporal-bin <path> (or set LAKESYNC_TEMPORAL_BIN), or build it with "npm run bootstrap"`, { cause: err });
    throw err;
  });
  let worker: Awaited<ReturnType<typeof createWorker>> | undefined;
  // Spark takes longest to start: warm each local source's runner now, as the demo does; loads attach to it.
  const runners = config ? startRunners(config, io.cwd, (line) => printLine(io.stderr, line)) : [];
  try {
    printLine(io.stdout, `Temporal dev server: ${server.address} (state in ${opts.dbFile})`);
    printLine(io.stdout, `Web UI: ${server.uiUrl}`);
    // Other commands guess the UI at the gRPC port + 1000; say where it is when that guess is wrong.
    if (uiPort !== port + 1000) printLine(io.stdout, `for links to this UI in other shells: export LAKESYNC_UI_URL=${server.uiUrl}`);
    printLine(io.stdout, `search attributes: ${Object.entries(SEARCH_ATTRIBUTES).map(([n, t]) => `${n} (${t})`).join(', ')}`);
    if (config) {
      quietRuntime();
      // Where other shells connect (a Temporal CLI profile's address wins over temporal.address), read before this process points at its own server.
      const configured = otherShellsAddress(config);
      // The worker must talk to this server, whatever the config, a profile or the environment says.
      process.env.TEMPORAL_ADDRESS = server.address;
      worker = await createWorker({ config: { ...config, temporal: { ...config.temporal, address: server.address } }, localServer: server.address });
      const first = Object.keys(config.sources)[0]!;
      if (configured !== server.address && configured !== `localhost:${port}`) {
        printLine(io.stdout, `other shells connect to ${configured} (temporal.address, TEMPORAL_ADDRESS or a Temporal CLI profile): export TEMPORAL_ADDRESS=${server.address} there`);
      }
      printLine(io.stdout, `worker: task queue ${worker.worker.options.taskQueue}, sources ${Object.keys(config.sources).join(', ')}`);
      printLine(io.stdout, `try: lakesync sync ${first} --wait   (partial cycles: ${server.uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(visibilityQueries.partialCycles(first))})`);
    } else {
      printLine(io.stdout, 'no worker: no lakesync.yaml here (write one with "lakesync init") or --no-worker');
    }
    printLine(io.stdout, 'ready; press Ctrl-C to stop');
    const serverEnded = server.ended();
    const running = worker ? worker.worker.run() : untilSignal();
    const ended = await Promise.race([running.then(() => undefined), serverEnded]);
    if (ended !== undefined) {
      // Nothing is left to serve: the worker stops too, and the command fails saying how the server ended.
      if (worker) {
        stopWorker(worker.worker);
        await running.catch(() => undefined);
      }
      // Ctrl-C in a terminal reaches the server too (the whole process group gets it): then its end is the stop asked for.
      if (!stoppedBySignal) throw new RuntimeFailure(`${ended.summary}, so lakesync dev stops: start it again${ended.lastOutput}`);
    }
  } finally {
    await worker?.close();
    await Promise.all(runners.map((r) => r.close().catch(() => undefined)));
    await server.stop();
    printLine(io.stdout, 'stopped');
    exitOnceStoppedBySignal();
  }
}

/** Asks a running worker to stop; one that has already stopped (its run failed) is left as it is. */
function stopWorker(worker: Worker): void {
  try {
    worker.shutdown();
  } catch {
    // Not running any more.
  }
}

/** A load runner for every local source, starting in the background; a failed start is reported, and the first load retries it. */
function startRunners(config: LakesyncConfig, cwd: string, warn: (line: string) => void): RunnerClient[] {
  return Object.entries(config.sources).flatMap(([name, source]) => {
    if (source.backend !== 'local' || (source.source.kind !== 'pglite' && source.source.kind !== 'postgres')) return [];
    const runner = new RunnerClient(layoutOf(localSettings(name, source, defaultDataRoot(cwd)).workDir));
    runner.ensure().catch((err: unknown) => warn(`the load runner of ${name} did not start (${(err as Error).message}); its first load starts it again`));
    return [runner];
  });
}

/**
 * After SIGTERM or SIGINT everything this command started is stopped; a handle some library
 * still holds open (a socket, a timer) must not keep the process alive, so it exits shortly
 * after, as Ctrl-C does in a terminal (where the whole process group gets the signal).
 */
function exitOnceStoppedBySignal(): void {
  if (!stoppedBySignal) return;
  setTimeout(() => process.exit(process.exitCode ?? 0), 1_000).unref();
}

let stoppedBySignal = false;
/** Notes that a signal ended `dev`; registered by `dev` alone, so other commands keep Node's default handling. */
function watchStopSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.prependListener(signal, () => (stoppedBySignal = true));
}

/** The Temporal CLI the bootstrap built: from the toolchain, else from this package's .lakesync/toolchain.json. */
function temporalFromToolchain(): string {
  try {
    return toolchain().temporal;
  } catch (err) {
    const file = join(repoRoot(), '.lakesync', 'toolchain.json');
    const fromFile = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { temporal?: string }).temporal : undefined;
    if (fromFile) return fromFile;
    throw new RuntimeFailure(`cannot find the Temporal CLI: ${(err as Error).message}; or pass --temporal-bin <path>`);
  }
}

/** The worker logs warnings and errors only, so the dev console stays readable. */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // A runtime already exists in this process (its logger stays).
  }
}

/** Decimal digits only: Number() alone reads "0x1000", "1e3" and " 80" as ports. */
function portNumber(value: string, flag: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${flag} ${JSON.stringify(value)} is not a port number (1-65535)`);
  return n;
}

function untilSignal(): Promise<void> {
  return new Promise((resolveWait) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolveWait();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** The address other shells' commands connect to; the config's when the environment names a bad one (they then say so themselves). */
function otherShellsAddress(config: LakesyncConfig): string {
  try {
    return temporalTarget(config).address;
  } catch {
    return config.temporal.address ?? 'localhost:7233';
  }
}
