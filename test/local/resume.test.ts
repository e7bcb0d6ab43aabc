/**
 * A worker killed in the middle of a cycle's loads (SIGKILL, its load runner goes with it):
 * a new worker resumes the cycle, a load that had committed is taken from its result instead of
 * running again, and the cycle ends with every lake table equal to its source.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { jsonOf, lakesync } from '../../src/demo/cli';
import { compareTable } from '../../src/demo/compare';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { RunRecord } from '../../src/local/load';
import type { SourceDb } from '../../src/local/source/db';
import { seedDemo } from '../../src/local/source/demo-schema';
import { openPostgres } from '../../src/local/source/postgres';
import type { CycleResult } from '../../src/model';
import { pollFor } from '../helpers/within';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { shopSource, writeConfig } from './helpers/config';
import { cycleServing, WorkerChildren } from './helpers/killable-worker';

const TABLES: Record<string, string> = { 'public.customers': 'customers', 'public.products': 'products', 'public.order_items': 'order_items', 'public.page_views': 'page_views', 'public.events': 'events' };

let dir: string;
let pg: TestPostgres;
let source: SourceDb;
let server: DevServer;
let configFile: string;
const workers = new WorkerChildren();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lakesync-resume-'));
  pg = await startPostgres();
  source = openPostgres(pg.url);
  await seedDemo(source);
  server = await startDevServer({ dbFile: join(dir, 'temporal.db') });
  configFile = writeConfig(dir, server.address, 'resume', {
    pg: shopSource(pg.url, {
      exclude: ['public.*_pii'],
      tables: { 'public.events': { cursor: { column: 'id' } } },
      retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 2, maximumAttempts: 10 },
      timeouts: { heartbeatSeconds: 5, pollInitialSeconds: 1, pollMaximumSeconds: 2 },
      local: { workDir: join(dir, 'data') },
    }),
  });
});

after(async () => {
  workers.killAll();
  await source?.close();
  await server?.stop();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function startWorker(): Promise<ChildProcess> {
  return workers.start(configFile, join(dir, 'data-root'));
}

function records(): RunRecord[] {
  const runs = join(dir, 'data', 'runs');
  if (!existsSync(runs)) return [];
  return readdirSync(runs)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(runs, f), 'utf8')) as RunRecord);
}

test('a killed worker is replaced; the cycle resumes and no committed load runs twice', async () => {
  const first = await startWorker();
  const sent = await lakesync(['sync', 'pg', '--json', '--config', configFile]);
  assert.equal(sent.code, 0, sent.stderr);
  const { requestId } = jsonOf<{ requestId: string }>(sent, 'sync');

  // Kill the worker once a load has committed and another one is under way.
  await pollFor(
    () => `a load to commit and another to be under way: ${JSON.stringify(records())}`,
    () => (records().some((r) => r.state === 'succeeded') && records().some((r) => r.state === 'running') ? true : undefined),
    300_000,
  );
  const beforeKill = records();
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const committedBeforeKill = beforeKill.filter((r) => r.state === 'succeeded').map((r) => r.runToken);

  await startWorker();
  const connection = await Connection.connect({ address: server.address });
  let result: CycleResult;
  try {
    result = await cycleServing(new Client({ connection }), 'pg', configFile, requestId);
  } finally {
    await connection.close();
  }
  assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
  assert.deepEqual(result.tables.filter((t) => t.status === 'committed').map((t) => t.table).sort(), Object.keys(TABLES).sort());

  // Every table committed exactly once: one succeeded run per token, and the loads that had
  // committed before the kill were not started again.
  const after = records();
  for (const token of committedBeforeKill) {
    assert.equal(after.filter((r) => r.runToken === token).length, 1, `${token} ran once`);
  }
  const tokens = new Set(after.map((r) => r.runToken));
  assert.equal(tokens.size, Object.keys(TABLES).length);
  for (const token of tokens) {
    assert.equal(after.filter((r) => r.runToken === token && r.state === 'succeeded').length, 1, `${token} committed once`);
  }
  const query = async (sql: string) => jsonOf<Record<string, unknown>[]>(await lakesync(['query', 'pg', '--json', sql, '--config', configFile]), 'query');
  for (const [table, lake] of Object.entries(TABLES)) {
    const c = await compareTable(source, query, table, 'shop', lake);
    assert.ok(c.equal, `${table}: ${c.differences.join('\n')}`);
  }
});
