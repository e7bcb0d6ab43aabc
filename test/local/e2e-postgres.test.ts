/**
 * End to end on a real PostgreSQL server: Temporal dev server + worker (local backend) + the
 * `lakesync` command. After every cycle, `lakesync query` must show each lake table equal to its
 * source table, row by row and value by value: initial load; inserts, updates and deletes; a new
 * column; a mass delete the guard refuses (partial cycle), then the approved rerun of that table.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyChange, MASS_DELETE, NEW_COLUMN, ROW_CHANGES } from '../../src/demo/changes';
import { jsonOf, lakesync } from '../../src/demo/cli';
import { compareTable } from '../../src/demo/compare';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { SourceDb } from '../../src/local/source/db';
import { seedDemo } from '../../src/local/source/demo-schema';
import { openPostgres } from '../../src/local/source/postgres';
import type { CycleResult, TableOutcome } from '../../src/model';
import type { GrantRecord } from '../../src/ports';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { quietTemporalLogs } from '../helpers/env';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { type InProcessWorker, runWorkerInProcess } from '../helpers/local-worker';
import { localPace } from './helpers/pace';
import { shopSource, writeConfig } from './helpers/config';

const SYNCED: Record<string, string> = {
  'public.customers': 'customers',
  'public.products': 'products',
  'public.order_items': 'order_items',
  'public.page_views': 'page_views',
  'public.events': 'events',
};

let dir: string;
let pg: TestPostgres;
let source: SourceDb;
let server: DevServer;
let worker: InProcessWorker | undefined;
let configFile: string;

before(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'lakesync-e2e-'));
  pg = await startPostgres();
  source = openPostgres(pg.url);
  await seedDemo(source);
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  configFile = writeConfig(dir, server.address, 'e2e', {
    pg: shopSource(pg.url, {
      exclude: ['public.*_pii'],
      tables: { 'public.events': { cursor: { column: 'id' } } },
      grants: [{ principal: 'analyst' }],
      concurrency: 2,
      ...localPace(3),
      local: { workDir: join(dir, 'data') },
    }),
  });
  delete process.env.TEMPORAL_ADDRESS;
  worker = await runWorkerInProcess(configFile, join(dir, 'data-root'));
});

after(async () => {
  await worker?.stop();
  await source?.close();
  await server?.stop();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function sync(): Promise<CycleResult> {
  const run = await lakesync(['sync', 'pg', '--wait', '--json', '--config', configFile]);
  return jsonOf<CycleResult>(run, 'sync');
}

async function rerun(table: string): Promise<CycleResult> {
  const run = await lakesync(['rerun', 'pg', '--tables', table, '--approve-deletes', '--wait', '--json', '--config', configFile]);
  return jsonOf<CycleResult>(run, 'rerun');
}

async function lakeQuery(sql: string): Promise<Record<string, unknown>[]> {
  const run = await lakesync(['query', 'pg', '--json', '--max-rows', '100000', sql, '--config', configFile]);
  assert.equal(run.code, 0, run.stderr);
  return jsonOf<Record<string, unknown>[]>(run, 'query');
}

/** Every synced table (or the named ones) equals its source table. */
async function assertLakeEqualsSource(tables = Object.keys(SYNCED)): Promise<void> {
  for (const table of tables) {
    const c = await compareTable(source, lakeQuery, table, 'shop', SYNCED[table]!);
    assert.ok(c.equal, `${table}: ${c.sourceRows} source rows, ${c.lakeRows} lake rows\n${c.differences.join('\n')}`);
    assert.ok(c.sourceRows > 0);
  }
}

function outcome(result: CycleResult, table: string): TableOutcome {
  const found = result.tables.find((t) => t.table === table);
  assert.ok(found, `${table} is in the cycle result: ${result.tables.map((t) => t.table).join(', ')}`);
  return found;
}

function assertCommitted(result: CycleResult, tables: string[]): void {
  for (const table of tables) {
    const t = outcome(result, table);
    assert.equal(t.status, 'committed', `${table}: ${JSON.stringify(t.error)}`);
    assert.equal(t.verified, true, `${table} verified`);
  }
}

describe('the local pipeline on PostgreSQL, checked with lakesync query', () => {
  test('cycle 1 creates every lake table equal to its source; the PII table is excluded', async () => {
    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result, null, 2));
    assertCommitted(result, Object.keys(SYNCED));
    for (const table of Object.keys(SYNCED)) assert.equal(outcome(result, table).load?.action, 'create');
    const pii = outcome(result, 'public.customer_pii');
    assert.equal(pii.status, 'skipped');
    assert.match(pii.reason ?? '', /excluded \(exclude public\.\*_pii\)/);
    await assertLakeEqualsSource();
  });

  test('cycle 2 merges inserts, updates and deletes', async () => {
    await applyChange(source, ROW_CHANGES);
    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assertCommitted(result, Object.keys(SYNCED));
    const customers = outcome(result, 'public.customers').load!;
    assert.deepEqual([customers.action, customers.inserted, customers.updated, customers.deleted], ['merge', 20, 10, 5]);
    const items = outcome(result, 'public.order_items').load!;
    assert.deepEqual([items.inserted, items.deleted], [3, 3]);
    assert.equal(outcome(result, 'public.events').load!.action, 'incremental');
    assert.equal(outcome(result, 'public.events').load!.inserted, 100);
    assert.equal(outcome(result, 'public.page_views').load!.action, 'replace');
    await assertLakeEqualsSource();
  });

  test('cycle 3 adds the new source column to the lake table', async () => {
    await applyChange(source, NEW_COLUMN);
    const result = await sync();
    assert.equal(result.status, 'succeeded');
    assertCommitted(result, Object.keys(SYNCED));
    assert.equal(outcome(result, 'public.customers').load!.updated, 71);
    const columns = await lakeQuery('DESCRIBE shop.customers');
    assert.ok(columns.some((c) => Object.values(c).includes('loyalty_points')), JSON.stringify(columns));
    await assertLakeEqualsSource();
  });

  test('cycle 4: the delete guard refuses the mass delete; the other tables commit (partial)', async () => {
    await applyChange(source, MASS_DELETE);
    const result = await sync();
    assert.equal(result.status, 'partial');
    const items = outcome(result, 'public.order_items');
    assert.equal(items.status, 'failed');
    assert.equal(items.error?.type, 'DeleteGuard');
    assert.equal(items.error?.phase, 'load');
    assert.match(items.error?.message ?? '', /--approve-deletes/);
    assertCommitted(result, ['public.customers', 'public.products', 'public.page_views', 'public.events']);
    await assertLakeEqualsSource(['public.customers', 'public.products', 'public.page_views', 'public.events']);
    assert.deepEqual(await lakeQuery('SELECT count(*) AS n FROM shop.order_items'), [{ n: 600 }], 'the refused table is unchanged');
  });

  test('the approved rerun of that table reuses the export and applies the deletes', async () => {
    const status = await lakesync(['status', 'pg', '--json', '--config', configFile]);
    assert.equal(status.code, 1, 'status exits 1 while the last cycle is partial');
    const view = jsonOf<{ phase: string; status: { failed: Record<string, { message: string }> } }>(status, 'status');
    assert.equal(view.phase, 'idle');
    assert.deepEqual(Object.keys(view.status.failed), ['public.order_items']);
    const result = await rerun('public.order_items');
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assert.deepEqual(result.tables.filter((t) => t.status === 'committed').map((t) => t.table), ['public.order_items']);
    assert.equal(outcome(result, 'public.order_items').load!.deleted, 483);
    await assertLakeEqualsSource();
  });

  test('lakesync grants lists the Lake Formation-shaped grants of every loaded table', async () => {
    const run = await lakesync(['grants', 'pg', '--json', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    const grants = jsonOf<GrantRecord[]>(run, 'grants');
    const tables = grants.filter((g) => g.resource.table).map((g) => g.resource.table).sort();
    assert.deepEqual(tables, Object.values(SYNCED).sort());
    assert.ok(grants.every((g) => g.principal === 'analyst'));
    assert.ok(grants.some((g) => !g.resource.table && g.permissions.includes('DESCRIBE')));
  });
});
