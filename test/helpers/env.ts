/** A real Temporal dev server plus an in-process worker on fake ports, for the core tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { parseConfig } from '../../src/config/load';
import type { LakesyncConfig } from '../../src/config/schema';
import { type DevServer, startDevServer } from '../../src/devserver';
import { FakeBackend, type FakeOptions } from '../../src/fake/ports';
import { connectClient, temporalTarget } from '../../src/temporal';
import { createWorker } from '../../src/worker';

import { SEARCH_ATTRIBUTE_TYPES as SEARCH_ATTRIBUTES } from '../../src/workflows/search';
export { SEARCH_ATTRIBUTES };

/** A config with one fake source `shop`; fast retries and polls so tests finish quickly. */
export function fakeConfig(
  taskQueue: string,
  fake: { tables: number | string[]; latencyMs?: number; stateDir?: string },
  extra: Record<string, unknown> = {},
  source = 'shop',
): LakesyncConfig {
  return parseConfig({
    temporal: { taskQueue },
    sources: {
      [source]: {
        database: 'fake',
        source: { kind: 'fake', tables: fake.tables, latencyMs: fake.latencyMs ?? 0, ...(fake.stateDir ? { stateDir: fake.stateDir } : {}) },
        target: { namespace: 'shop' },
        retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 3 },
        timeouts: { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1 },
        concurrency: 10,
        ...extra,
      },
    },
  });
}

export interface TestServer {
  server: DevServer;
  dir: string;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  quietTemporalLogs();
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-test-'));
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTES });
  process.env.TEMPORAL_ADDRESS = server.address;
  return {
    server,
    dir,
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FakeWorker {
  backend: FakeBackend;
  worker: Worker;
  client: Client;
  config: LakesyncConfig;
  running: Promise<void>;
  stop(): Promise<void>;
}

/** Starts a worker in this process over a FakeBackend the test can inspect and steer. */
export async function startFakeWorker(config: LakesyncConfig, options: Omit<FakeOptions, 'tables'> & { tables: FakeOptions['tables'] }): Promise<FakeWorker> {
  return startWorkerOver(config, new FakeBackend(options));
}

/** Starts a worker over a backend the test keeps, so that a restarted worker sees the same runs. */
export async function startWorkerOver(config: LakesyncConfig, backend: FakeBackend): Promise<FakeWorker> {
  const ports = Object.fromEntries(Object.keys(config.sources).map((name) => [name, backend.ports()]));
  const { worker, close } = await createWorker({ config, ports });
  const running = worker.run();
  const client = await connectClient(temporalTarget(config));
  return {
    backend,
    worker,
    client,
    config,
    running,
    async stop() {
      worker.shutdown();
      await running;
      await close();
      await client.connection.close();
    },
  };
}

/** Keeps test output readable: the SDK's own INFO lines are not needed. */
export function quietTemporalLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier call in this process.
  }
}

let queueCounter = 0;
export function uniqueQueue(name: string): string {
  return `${name}-${process.pid}-${++queueCounter}`;
}
