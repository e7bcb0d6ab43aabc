/**
 * A schema whose name holds a dot (`"public.archive"`) next to the schema its name starts with
 * (`public`): the export scope names tables as `schema.table` text, so `public.archive.t` reads as
 * a table of schema public. When public is exported whole, that table is in the export's scope
 * (inScope) but not in schema public: the export lists it as skipped, saying why, never reads it,
 * and no longer drops it silently. Against a real PostgreSQL server, by both ways of reading.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportScope, inScope } from '../../src/export-scope';
import { exportSnapshot } from '../../src/local/export/exporter';
import type { SourceDb } from '../../src/local/source/db';
import { openPostgres } from '../../src/local/source/postgres';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';

const SNAPSHOT = { snapshotId: 'dotted', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

let server: TestPostgres;
let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-dotted-'));
  server = await startPostgres();
  db = openPostgres(server.url);
  await server.query(`CREATE TABLE public.orders (id int PRIMARY KEY); INSERT INTO public.orders SELECT generate_series(1, 3);
    CREATE SCHEMA "public.archive"; CREATE TABLE "public.archive".t (id int PRIMARY KEY); INSERT INTO "public.archive".t SELECT generate_series(1, 5);`);
});

after(async () => {
  await db?.close();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function sequentialOnly(source: SourceDb): SourceDb {
  return { kind: source.kind, description: source.description, query: source.query, exec: source.exec, consistentRead: source.consistentRead, close: source.close };
}

describe('a table of a dotted schema named like a table of a schema exported whole', () => {
  for (const path of ['parallel', 'sequential'] as const) {
    test(`${path}: is listed as skipped, saying why, not dropped from the export unsaid`, async () => {
      const scope = exportScope({ include: ['public.*'], exclude: [], tables: {} }, ['public.archive.t', 'public.orders']);
      assert.deepEqual(scope.schemas, ['public']);
      assert.ok(inScope('public.archive.t', scope), 'the scope takes public.archive.t as a table of schema public');
      const source = path === 'parallel' ? db : sequentialOnly(db);
      const summary = await exportSnapshot(source, { exportId: `ls-dotted-${path}`, database: 'shop', snapshot: SNAPSHOT, outDir: join(work, path), readers: 2, schemas: scope.schemas });
      assert.deepEqual(summary.tables.map((t) => [t.table, t.rows]), [['public.orders', 3]]);
      assert.deepEqual(
        summary.skipped.map((s) => s.table),
        ['public.archive.t'],
        'a table of the scope the export does not read must be reported, not left out unsaid',
      );
      assert.match(summary.skipped[0]!.reason, /schema "public\.archive".*schema public.*rename/);
    });
  }
});
