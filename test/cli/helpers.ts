/**
 * What the CLI tests share: a Temporal dev server with lakesync's search attributes, a worker
 * on the fake backend, config files in a temp folder, and the CLI run as a real process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { loadConfigFile } from '../../src/config/load';
import type { CliDeps } from '../../src/cli/context';
import { runCli as runCliEntry } from '../../src/cli/main';
import { type DevServer, startDevServer } from '../../src/devserver';
import { SEARCH_ATTRIBUTES } from '../../src/cli/search-attributes';
import { repoRoot } from '../../src/cli/paths';
import { createWorker } from '../../src/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { pollFor } from '../helpers/within';

// Workers in tests log warnings and errors only (before any worker exists in this process).
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed by an earlier import in this process.
}

/** The compiled CLI entry, next to this compiled test whatever the build folder. */
export const CLI = join(__dirname, '../../src/cli/main.js');
export const ROOT = repoRoot(__dirname);

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment of CLI processes: nothing from the caller's Temporal settings leaks in. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'LAKESYNC_TASK_QUEUE', 'LAKESYNC_UI_URL', 'TEMPORAL_PROFILE']) if (!(key in extra)) delete env[key];
  // A Temporal CLI profile's address and namespace win over the config: read none (a missing file is no profile).
  if (!('TEMPORAL_CONFIG_FILE' in extra)) env.TEMPORAL_CONFIG_FILE = join(ROOT, '.lakesync', 'no-temporal-profile.toml');
  return env;
}

export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lakesync ${args.join(' ')} did not finish in ${options.timeoutMs ?? 90_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs the command in this process with captured output: fast, and the same code path as the binary. */
export async function runCliInProcess(args: string[], cwd: string, deps: CliDeps = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: cliEnv(), cwd };
  const code = await runCliEntry(args, io, deps);
  return { code, stdout, stderr };
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `lakesync-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeConfig(file: string, config: unknown): string {
  writeFileSync(file, stringify(config));
  return file;
}

/** A config with fake sources, pointed at a dev server. */
export function fakeConfig(address: string, taskQueue: string, sources: Record<string, Record<string, unknown>>): unknown {
  return {
    temporal: { address, taskQueue, namespace: 'default' },
    sources: Object.fromEntries(
      Object.entries(sources).map(([name, s]) => [
        name,
        {
          database: 'fake',
          target: { namespace: name.replace(/-/g, '_') },
          retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 2 },
          timeouts: { pollInitialSeconds: 1, pollMaximumSeconds: 1, heartbeatSeconds: 10 },
          ...s,
        },
      ]),
    ),
  };
}

export interface Cluster {
  server: DevServer;
  client: Client;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

/** A dev server (search attributes registered) and, for a config file, a worker on it. */
export async function startCluster(options: { dbFile: string; port: number; configFile?: string }): Promise<Cluster> {
  const server = await startDevServer({ dbFile: options.dbFile, port: options.port, searchAttributes: { ...SEARCH_ATTRIBUTES } });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  let running: Promise<void> | undefined;
  let worker: Awaited<ReturnType<typeof createWorker>> | undefined;
  const stopWorker = async () => {
    if (!worker) return;
    worker.worker.shutdown();
    await running?.catch(() => undefined);
    await worker.close();
    worker = undefined;
  };
  try {
    if (options.configFile) {
      worker = await createWorker({ config: loadConfigFile(options.configFile) });
      running = worker.worker.run();
    }
  } catch (err) {
    await connection.close();
    await server.stop();
    throw err;
  }
  return {
    server,
    client,
    stopWorker,
    async stop() {
      await stopWorker();
      await connection.close();
      await server.stop();
    },
  };
}

/** Polls `fn` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 300): Promise<T> {
  // A failing probe is asked again; the failure names its last error.
  let last: unknown;
  const probe = () =>
    fn().catch((err: unknown) => {
      last = err;
      return undefined;
    });
  return pollFor(() => `${what}${last ? `: ${String(last)}` : ''}`, probe, timeoutMs, everyMs);
}

export function json<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\nstderr: ${run.stderr}`);
  }
}
