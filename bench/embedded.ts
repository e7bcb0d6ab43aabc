/**
 * The local pipeline the embedded benchmarks drive: a PostgreSQL source server, the Temporal dev server
 * and, once the benchmark has its tables, a worker on a lakesync.yaml of its sources. All of it is
 * stopped and its work folder removed when the benchmark's body ends, however it ends.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { loadConfigFile } from '../src/config/load';
import { startDevServer } from '../src/devserver';
import { createWorker } from '../src/worker';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/workflows/search';
import { startPostgres, type TestPostgres } from '../test/local/helpers/postgres';

export interface EmbeddedBench {
  /** The work folder (Temporal's database, the config, the sources' work folders). */
  dir: string;
  pg: TestPostgres;
  /** Writes lakesync.yaml with these sources and starts a worker on it; returns the config file's path. */
  startWorker(sources: Record<string, unknown>): Promise<string>;
}

/** Runs `body` on a fresh embedded pipeline named after the benchmark (work folder, task queue). */
export async function withEmbedded(name: string, body: (bench: EmbeddedBench) => Promise<number>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), `lakesync-bench-${name}-`));
  const pg = await startPostgres();
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  let worker: { worker: Worker; close(): Promise<void> } | undefined;
  let running: Promise<void> | undefined;
  const startWorker = async (sources: Record<string, unknown>): Promise<string> => {
    const configFile = join(dir, 'lakesync.yaml');
    writeFileSync(configFile, stringify({ temporal: { address: server.address, taskQueue: `bench-${name}-${process.pid}` }, sources }));
    // The worker must reach the dev server of this run, not one the environment names.
    delete process.env.TEMPORAL_ADDRESS;
    worker = await createWorker({ config: loadConfigFile(configFile), dataRoot: join(dir, 'data-root') });
    running = worker.worker.run();
    return configFile;
  };
  try {
    return await body({ dir, pg, startWorker });
  } finally {
    if (worker) {
      worker.worker.shutdown();
      await running?.catch(() => undefined);
      await worker.close();
    }
    await server.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a benchmark's main: its result is the exit code; an error is printed and exits 1. */
export function runBench(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack : err);
      process.exitCode = 1;
    },
  );
}
