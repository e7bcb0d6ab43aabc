/** Views, materialized views and partitions are no tables an export holds: the catalog lists them apart, by their exact names. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createExportPort } from '../../src/local/export/task';
import { layoutOf } from '../../src/local/paths';
import type { SourceDb } from '../../src/local/source/db';
import { openPglite } from '../../src/local/source/pglite';

let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-not-tables-'));
  db = await openPglite(undefined);
  await db.exec(`
    CREATE SCHEMA "Sales";
    CREATE TABLE public.orders (id int PRIMARY KEY, total numeric);
    CREATE VIEW public.recent_orders AS SELECT * FROM public.orders;
    CREATE MATERIALIZED VIEW "Sales"."Totals By Day" AS SELECT count(*) AS n FROM public.orders;
    CREATE VIEW public."odd ""quoted"" view" AS SELECT 1 AS one;
    CREATE SCHEMA archive;
    CREATE TABLE public.events (id int, taken date) PARTITION BY RANGE (taken);
    CREATE TABLE archive.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (taken);
    CREATE TABLE archive."Events 2024 H1" PARTITION OF archive.events_2024 FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
  `);
});

after(async () => {
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the export port lists the views, materialized views and partitions (with their table) by their names, and not among the tables', async () => {
  const port = createExportPort(layoutOf(work), { database: 'shop', source: async () => db });
  assert.deepEqual(await port.listSourceNotTables!(), {
    'Sales.Totals By Day': 'materialized view',
    'archive.Events 2024 H1': 'partition of public.events',
    'archive.events_2024': 'partition of public.events',
    'public.odd "quoted" view': 'view',
    'public.recent_orders': 'view',
  });
  assert.deepEqual(await port.listSourceTables!(), ['public.events', 'public.orders']);
});

test("the export port lists the source's tables with the table query alone, unlogged ones among them", async () => {
  await db.exec('CREATE UNLOGGED TABLE public.scratch (id int)');
  const statements: string[] = [];
  const recording: SourceDb = {
    ...db,
    consistentRead: (fn) => db.consistentRead((session) => fn({ rows: (sql, params) => (statements.push(sql), session.rows(sql, params)) })),
  };
  const port = createExportPort(layoutOf(work), { database: 'shop', source: async () => recording });
  assert.deepEqual(await port.listSourceTables!(), ['public.events', 'public.orders', 'public.scratch']);
  // Columns, keys and privileges of every table are not read just to list their names.
  assert.equal(statements.length, 1, statements.join('\n---\n'));
});
