/** A partition an exclude rule names: its rows are read with its partitioned table's, so that table is not exported. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { exportSnapshot } from '../../src/local/export/exporter';
import { createExportPort } from '../../src/local/export/task';
import { layoutOf } from '../../src/local/paths';
import type { SourceDb } from '../../src/local/source/db';
import { openPglite } from '../../src/local/source/pglite';
import { openPostgres } from '../../src/local/source/postgres';
import { startPostgres } from './helpers/postgres';
import { readParquet } from './helpers/parquet';

const SNAPSHOT = { snapshotId: 'lakesync-shop-1', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-partition-exclude-'));
  db = await openPglite(undefined);
  await db.exec(`
    CREATE TABLE public.events (id int, region text, note text) PARTITION BY LIST (region);
    CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us');
    CREATE TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu', 'fr') PARTITION BY LIST (region);
    CREATE TABLE public."Events_FR" PARTITION OF public.events_eu FOR VALUES IN ('fr');
    CREATE TABLE public.events_de PARTITION OF public.events_eu FOR VALUES IN ('eu');
    CREATE TABLE public.visits (id int, region text) PARTITION BY LIST (region);
    CREATE TABLE public.visits_us PARTITION OF public.visits FOR VALUES IN ('us');
    INSERT INTO public.events VALUES (1, 'us', 'ok'), (2, 'fr', 'PII of fr'), (3, 'eu', 'PII of eu');
    INSERT INTO public.visits VALUES (1, 'us');
  `);
});

after(async () => {
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the export port lists each partitioned table's partitions at every level, reading the partition query alone", async () => {
  const statements: string[] = [];
  const recording: SourceDb = {
    ...db,
    consistentRead: (fn) => db.consistentRead((session) => fn({ rows: (sql, params) => (statements.push(sql), session.rows(sql, params)) })),
  };
  const port = createExportPort(layoutOf(join(work, 'port')), { database: 'shop', source: async () => recording });
  assert.deepEqual(await port.listSourcePartitions!(), {
    'public.events': ['public.Events_FR', 'public.events_de', 'public.events_eu', 'public.events_us'],
    'public.visits': ['public.visits_us'],
  });
  // Columns, keys and privileges of every table are not read just to list partitions.
  assert.equal(statements.length, 1, statements.join('\n---\n'));
});

const excludedBy = (rules: string[]) => (table: string) => rules.find((r) => r.toLowerCase() === table.toLowerCase());

test('a partitioned table one of whose partitions, at any level, an exclude rule names is skipped, saying why and what to do; its rows are in no file', async () => {
  const outDir = join(work, 'deep');
  const summary = await exportSnapshot(db, {
    exportId: 'ls-shop-1',
    database: 'shop',
    snapshot: SNAPSHOT,
    outDir,
    tables: ['public.events', 'public.visits'],
    excludedBy: excludedBy(['public.events_fr']),
  });
  assert.deepEqual(summary.tables.map((t) => t.table), ['public.visits']);
  assert.equal(summary.skipped.length, 1);
  const [skipped] = summary.skipped;
  assert.equal(skipped!.table, 'public.events');
  assert.match(skipped!.reason, /partition public\.Events_FR is excluded \(public\.events_fr\)/);
  assert.match(skipped!.reason, /exclude public\.events too, or/);
  const rows = readParquet(summary.tables[0]!.files).rows;
  assert.deepEqual(rows, [{ id: 1, region: 'us' }]);
});

test('without an exclude rule naming a partition, the partitioned table is exported with the rows of all its partitions', async () => {
  const summary = await exportSnapshot(db, { exportId: 'ls-shop-2', database: 'shop', snapshot: SNAPSHOT, outDir: join(work, 'none'), tables: ['public.events'], excludedBy: excludedBy(['public.other']) });
  assert.deepEqual(summary.skipped, []);
  assert.equal(readParquet(summary.tables[0]!.files).rows.length, 3);
});

test('the embedded mode gives the export the source\'s exclude rules (in any case, as they match)', () => {
  const config = parseConfig({ sources: { shop: { source: { kind: 'pglite' }, database: 'shop', target: { namespace: 'shop', tableName: '{schema}_{table}' }, include: ['public.*'], exclude: ['public.EVENTS_*'] } } });
  const settings = localSettings('shop', config.sources.shop!, work);
  assert.equal(settings.excludedBy?.('public.events_eu'), 'public.EVENTS_*');
  assert.equal(settings.excludedBy?.('public.visits_us'), undefined);
});

test('PostgreSQL, read by several connections: the partitioned table with an excluded partition is skipped too', { timeout: 300_000 }, async () => {
  const server = await startPostgres();
  const source = openPostgres(server.url);
  try {
    await server.query(`
      CREATE TABLE public.events (id int, region text) PARTITION BY LIST (region);
      CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us');
      CREATE TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu');
      CREATE TABLE public.plain (id int);
      INSERT INTO public.events VALUES (1, 'us'), (2, 'eu');
      INSERT INTO public.plain VALUES (1);
    `);
    const summary = await exportSnapshot(source, { exportId: 'ls-shop-3', database: 'shop', snapshot: SNAPSHOT, outDir: join(work, 'postgres'), readers: 2, excludedBy: excludedBy(['public.events_eu']) });
    assert.deepEqual(summary.tables.map((t) => t.table), ['public.plain']);
    assert.deepEqual(summary.skipped.map((s) => s.table), ['public.events']);
    assert.match(summary.skipped[0]!.reason, /partition public\.events_eu is excluded/);
  } finally {
    await source.close();
    await server.stop();
  }
});

test('a partitioned table with a foreign table among its partitions is skipped, saying why: an RDS snapshot export holds no foreign rows', { timeout: 300_000 }, async () => {
  const server = await startPostgres();
  const source = openPostgres(server.url);
  try {
    const port = new URL(server.url).port;
    await server.query(`
      CREATE EXTENSION postgres_fdw;
      CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${port}', dbname 'postgres');
      CREATE USER MAPPING FOR CURRENT_USER SERVER elsewhere OPTIONS (user 'postgres');
      CREATE SCHEMA remote;
      CREATE TABLE remote.events_eu (id int, region text);
      INSERT INTO remote.events_eu VALUES (2, 'eu');
      CREATE TABLE public.events (id int, region text) PARTITION BY LIST (region);
      CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us');
      CREATE FOREIGN TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu') SERVER elsewhere OPTIONS (schema_name 'remote', table_name 'events_eu');
      CREATE TABLE public.plain (id int);
      INSERT INTO public.events_us VALUES (1, 'us');
      INSERT INTO public.plain VALUES (1);
    `);
    // Control: the source reads the foreign partition's rows through the partitioned table.
    assert.equal((await server.query<{ n: string }>('SELECT count(*) AS n FROM public.events'))[0]!.n, '2');
    const summary = await exportSnapshot(source, { exportId: 'ls-shop-4', database: 'shop', snapshot: SNAPSHOT, outDir: join(work, 'foreign'), tables: ['public.events', 'public.plain'] });
    assert.deepEqual(summary.tables.map((t) => t.table), ['public.plain']);
    assert.deepEqual(summary.skipped.map((s) => s.table), ['public.events']);
    assert.match(summary.skipped[0]!.reason, /public\.events_eu is a foreign table/);
    assert.match(summary.skipped[0]!.reason, /extract: direct/);
  } finally {
    await source.close();
    await server.stop();
  }
});
