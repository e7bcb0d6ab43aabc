/** An unlogged table is skipped as RDS skips it: listed with its reason, never silently missing. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportSnapshot } from '../../src/local/export/exporter';
import type { ExportInfo, TablesInfo } from '../../src/local/export/layout';
import type { SourceDb } from '../../src/local/source/db';
import { openPglite } from '../../src/local/source/pglite';
import { openPostgres } from '../../src/local/source/postgres';
import { startPostgres } from './helpers/postgres';

const SNAPSHOT = { snapshotId: 'lakesync-shop-1', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-unlogged-'));
  db = await openPglite(undefined);
  await db.exec(`
    CREATE UNLOGGED TABLE public.sessions (id int PRIMARY KEY, token text);
    CREATE TABLE public.orders (id int PRIMARY KEY);
    INSERT INTO public.sessions VALUES (1, 'secret');
    INSERT INTO public.orders VALUES (1);
  `);
});

after(async () => {
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const scope of ['whole database', 'named table'] as const) {
  test(`${scope}: an unlogged table is listed as skipped, saying why and what to do, and none of its rows is written`, async () => {
    const outDir = join(work, scope.replace(' ', '-'));
    const summary = await exportSnapshot(db, {
      exportId: 'ls-shop-1',
      database: 'shop',
      snapshot: SNAPSHOT,
      outDir,
      ...(scope === 'named table' ? { tables: ['public.sessions', 'public.orders'] } : {}),
    });
    assert.deepEqual(summary.tables.map((t) => t.table), ['public.orders']);
    assert.deepEqual(summary.skipped.map((s) => s.table), ['public.sessions']);
    assert.match(summary.skipped[0]!.reason, /unlogged/);
    assert.match(summary.skipped[0]!.reason, /SET LOGGED|exclude/);
    const entries = readdirSync(outDir)
      .filter((f) => f.startsWith('export_tables_info_'))
      .flatMap((f) => (JSON.parse(readFileSync(join(outDir, f), 'utf8')) as TablesInfo).perTableStatus);
    assert.deepEqual(entries.find((e) => e.target === 'shop.public.sessions')?.status, 'SKIPPED');
    const info = JSON.parse(readFileSync(join(outDir, 'export_info_ls-shop-1.json'), 'utf8')) as ExportInfo;
    assert.match(info.warningMessage ?? '', /shop\.public\.sessions/);
    assert.deepEqual(readdirSync(join(outDir, 'shop')), ['public.orders']);
  });
}

test('PostgreSQL, read by several connections: an unlogged table is skipped, and the others are exported', { timeout: 300_000 }, async () => {
  const server = await startPostgres();
  const source = openPostgres(server.url);
  try {
    await server.query(`
      CREATE UNLOGGED TABLE public.sessions (id int PRIMARY KEY, token text);
      CREATE TABLE public.orders (id int PRIMARY KEY);
      INSERT INTO public.sessions VALUES (1, 'secret');
      INSERT INTO public.orders VALUES (1);
    `);
    const summary = await exportSnapshot(source, { exportId: 'ls-shop-2', database: 'shop', snapshot: SNAPSHOT, outDir: join(work, 'postgres'), readers: 2 });
    assert.deepEqual(summary.tables.map((t) => [t.table, t.rows]), [['public.orders', 1]]);
    assert.deepEqual(summary.skipped.map((s) => s.table), ['public.sessions']);
    assert.match(summary.skipped[0]!.reason, /unlogged/);
  } finally {
    await source.close();
    await server.stop();
  }
});
