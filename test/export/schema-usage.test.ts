/**
 * A table in a schema the source user has no USAGE privilege on cannot be read even with SELECT
 * on the table: it is skipped, saying what to grant, and the other tables are exported.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportSnapshot } from '../../src/local/export/exporter';
import type { SourceDb } from '../../src/local/source/db';
import { openPostgres } from '../../src/local/source/postgres';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';

const SNAPSHOT = { snapshotId: 'lakesync-shop-1', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

let server: TestPostgres;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-schema-usage-'));
  server = await startPostgres();
  await server.query(`
    CREATE ROLE reader LOGIN;
    CREATE SCHEMA "Locked Schema";
    CREATE TABLE "Locked Schema".payroll (id int PRIMARY KEY, amount numeric);
    INSERT INTO "Locked Schema".payroll VALUES (1, 100);
    CREATE TABLE public.orders (id int PRIMARY KEY);
    INSERT INTO public.orders VALUES (1), (2);
    GRANT SELECT ON ALL TABLES IN SCHEMA "Locked Schema" TO reader;
    GRANT SELECT ON public.orders TO reader;
  `);
});

after(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const sequentialOnly = (source: SourceDb): SourceDb => ({ kind: source.kind, description: source.description, query: source.query, exec: source.exec, consistentRead: source.consistentRead, close: source.close });

for (const path of ['parallel', 'sequential'] as const) {
  test(`${path}: a table whose schema the source user may not use is skipped, saying to grant USAGE, and the others are exported`, { timeout: 120_000 }, async () => {
    const reader = openPostgres(server.url.replace('postgres@', 'reader@'));
    try {
      const source = path === 'parallel' ? reader : sequentialOnly(reader);
      const outcome = await exportSnapshot(source, { exportId: `ls-usage-${path}`, database: 'shop', snapshot: SNAPSHOT, outDir: join(work, path), readers: 2 }).catch((err: unknown) => err as Error);
      assert.ok(!(outcome instanceof Error), `one table of a schema the user may not use must not fail the whole export: ${outcome instanceof Error ? outcome.message : ''}`);
      assert.deepEqual(outcome.tables.map((t) => [t.table, t.rows]), [['public.orders', 2]]);
      assert.deepEqual(outcome.skipped.map((s) => s.table), ['Locked Schema.payroll']);
      assert.match(outcome.skipped[0]!.reason, /the source user reader may not use schema "Locked Schema" .*GRANT USAGE ON SCHEMA "Locked Schema" TO reader, or exclude the table/);
    } finally {
      await reader.close();
    }
  });
}
