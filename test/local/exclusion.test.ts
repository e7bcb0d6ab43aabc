/**
 * Excluded tables never leave the database. One sync on the local backend (real PostgreSQL,
 * Temporal dev server, worker, local Spark): afterwards no path, no file and no metadata entry
 * under the export location (export_info, every export_tables_info entry, the data folders),
 * nor the export task and catalog records, names a table the include/exclude rules leave out
 * or holds one of its values; the cycle still reports those tables as excluded.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { loadConfigFile } from '../../src/config/load';
import { selectTable } from '../../src/config/tables';
import { type DevServer, startDevServer } from '../../src/devserver';
import { tableOfTarget } from '../../src/export-listing';
import { layoutOf } from '../../src/local/paths';
import { connectClient, temporalTarget } from '../../src/temporal';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { quietTemporalLogs } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { type InProcessWorker, runWorkerInProcess } from '../helpers/local-worker';
import { localPace } from './helpers/pace';
import { shopSource, writeConfig } from './helpers/config';

const RULES = { include: ['public.*', 'hr.*', 'sales.*'], exclude: ['public.*_pii', 'hr.*'] };
/** Tables the rules leave out: three excluded ones (one by a rule in another case) and one no include rule matches. */
const LEFT_OUT = ['public.customer_pii', 'hr.salaries', 'audit.log', 'public.Customers_PII'];
const MARKERS = ['SSN-000-11-2222', 'SALARY-MARKER-987654', 'AUDIT-MARKER-5555', 'SSN-MIXED-CASE-3333'];

let dir: string;
let pg: TestPostgres;
let server: DevServer;
let worker: InProcessWorker | undefined;
let client: Client;
let workDir: string;

before(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'lakesync-exclusion-'));
  pg = await startPostgres();
  await pg.query(`
    CREATE SCHEMA hr; CREATE SCHEMA audit; CREATE SCHEMA sales;
    CREATE TABLE sales.deals (id int PRIMARY KEY, amount int);
    INSERT INTO sales.deals VALUES (1, 100), (2, 200);
    CREATE TABLE public.orders (id int PRIMARY KEY, total numeric(10,2));
    INSERT INTO public.orders VALUES (1, 10.50), (2, 20.00), (3, 7.25);
    CREATE TABLE public.customer_pii (id int PRIMARY KEY, ssn text);
    INSERT INTO public.customer_pii VALUES (1, '${MARKERS[0]}');
    CREATE TABLE hr.salaries (id int PRIMARY KEY, note text);
    INSERT INTO hr.salaries VALUES (1, '${MARKERS[1]}');
    CREATE TABLE audit.log (id int PRIMARY KEY, note text);
    INSERT INTO audit.log VALUES (1, '${MARKERS[2]}');
    CREATE TABLE public."Customers_PII" (id int PRIMARY KEY, ssn text);
    INSERT INTO public."Customers_PII" VALUES (1, '${MARKERS[3]}');
  `);
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  workDir = join(dir, 'data');
  const configFile = writeConfig(dir, server.address, 'exclusion', {
    pg: shopSource(pg.url, { ...RULES, ...localPace(2), local: { workDir } }),
  });
  worker = await runWorkerInProcess(configFile, join(dir, 'data-root'));
  client = await connectClient(temporalTarget(loadConfigFile(configFile)));
});

after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await server?.stop();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

test('a sync exports only included tables: nothing of an excluded table exists under the export location', { timeout: 600_000 }, async () => {
  const handle = await startSource(client, `exclusion-${process.pid}`, 'pg');
  const status = await waitForCycles(handle, 1, 540_000);
  const cycle = status.lastCycle!;
  const outcome = (table: string) => cycle.tables.find((t) => t.table === table);
  assert.equal(outcome('public.orders')?.status, 'committed', JSON.stringify(cycle, null, 2));
  assert.equal(outcome('sales.deals')?.status, 'committed', 'a schema no exclude rule applies to is exported whole');
  assert.match(outcome('public.customer_pii')?.reason ?? '', /excluded \(exclude public\.\*_pii\)/, 'the excluded table is still reported');
  assert.match(outcome('hr.salaries')?.reason ?? '', /excluded \(exclude hr\.\*\)/);

  const location = status.lastExport!.export.location;
  const layout = layoutOf(workDir);
  const exportFiles = filesUnder(location);
  assert.ok(exportFiles.some((f) => f.includes('public.orders')), `the included table was exported: ${exportFiles.join(', ')}`);
  // ExportOnly as the export recorded it: the untouched schema whole, single tables where a rule applies.
  const info = JSON.parse(readFileSync(exportFiles.find((f) => /export_info_.*\.json$/.test(f))!, 'utf8')) as { exportOnly: string[] };
  assert.deepEqual(info.exportOnly, ['shop.sales', 'shop.public.orders']);

  // Every export_tables_info entry names an included table (or the database alone).
  const entries = exportFiles
    .filter((f) => /export_tables_info_.*\.json$/.test(f))
    .flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { perTableStatus: { target: string }[] }).perTableStatus);
  assert.ok(entries.length > 0);
  for (const entry of entries) {
    if (entry.target === 'shop') continue;
    const table = tableOfTarget(entry.target, 'shop');
    assert.ok(selectTable(RULES, table).included, `export_tables_info lists ${entry.target}, which the rules leave out`);
  }

  // No path and no content under the export location, the export task records or the catalog
  // records names a left-out table or holds one of its values.
  const scanned = [...exportFiles, ...filesUnder(layout.exportTasks), ...filesUnder(layout.catalog)];
  for (const file of scanned) {
    const rel = relative(workDir, file);
    const content = readFileSync(file).toString('latin1');
    for (const table of LEFT_OUT) {
      assert.ok(!rel.includes(table), `${rel} is a file of ${table}`);
      assert.ok(!content.includes(table), `${rel} names ${table}`);
    }
    for (const marker of MARKERS) assert.ok(!content.includes(marker), `${rel} holds a value of a left-out table`);
  }
  await handle.terminate('test done');
});
