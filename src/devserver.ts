/**
 * The local Temporal dev server (Temporal CLI `server start-dev`, SQLite file, Web UI),
 * used by `lakesync dev`, the demo, the tests and the benchmarks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
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
  /** Starts it again on the same port and database file. */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const binary = options.binary ?? toolchain().temporal;
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', options.dbFile, '--log-level', 'error'];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) args.push('--search-attribute', `${name}=${type}`);

  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (buf: Buffer) => options.log?.(buf.toString());
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    await waitReady(address, child);
  };
  const stop = async () => {
    if (child) await stopChild(child, { killAfterMs: 10_000 });
  };
  await launch();
  return {
    address,
    port,
    ...(options.uiPort ? { uiUrl: `http://127.0.0.1:${options.uiPort}` } : {}),
    get pid() {
      return child?.pid;
    },
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

async function waitReady(address: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (hasEnded(child)) throw new Error(`the Temporal dev server ${child.signalCode ? `was ended by ${child.signalCode}` : `exited with code ${child.exitCode}`} before it was ready`);
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
  throw new Error(`the Temporal dev server at ${address} was not ready after 60 s: ${String(lastError)}`);
}
