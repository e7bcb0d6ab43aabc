/**
 * The export never writes to its PostgreSQL source, whatever the source URL or the source's own
 * settings say: every statement of every connection it opens (the one holding the snapshot, its
 * readers, in this thread or their own, and the one that cancels a waiting query) runs read-only.
 * A source whose search_path puts a schema before pg_catalog (set in the URL's options here; an
 * ALTER ROLE ... SET search_path does the same) can shadow the built-in functions the export calls
 * with functions that write: such a write must be refused, never reach the source.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { exportSnapshot, type ExportOptions } from '../../src/local/export/exporter';
import { SNAPSHOT_APPLICATION_NAME } from '../../src/local/export/parallel';
import { openPostgres } from '../../src/local/source/postgres';
import { waitUntil } from '../helpers/within';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';

const SNAPSHOT = { snapshotId: 'read-only', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

/** Built-in functions the export calls, shadowed by ones that record a write (when it is allowed) in written. */
const SHADOWING_SQL = `
CREATE TABLE written (what text NOT NULL);
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.pg_backend_pid() RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.written VALUES ('pg_backend_pid'); RETURN pg_catalog.pg_backend_pid(); END $$;
CREATE FUNCTION shadow.pg_cancel_backend(integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.written VALUES ('pg_cancel_backend'); RETURN pg_catalog.pg_cancel_backend($1); END $$;
CREATE SCHEMA shadow_cancel;
CREATE FUNCTION shadow_cancel.pg_cancel_backend(integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.written VALUES ('pg_cancel_backend'); RETURN pg_catalog.pg_cancel_backend($1); END $$;
CREATE TABLE items (id integer PRIMARY KEY, note text);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 2000) AS i;
`;

let pgServer: TestPostgres;
let work: string;
/** Source URLs asking for such a search_path, and for read-write transactions by default. */
let hostileUrl: string;
let cancelShadowedUrl: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-ro-'));
  pgServer = await startPostgres();
  await pgServer.query(SHADOWING_SQL);
  const url = (searchPath: string) => `${pgServer.url}?options=${encodeURIComponent(`-c search_path=${searchPath},pg_catalog -c default_transaction_read_only=off`)}`;
  hostileUrl = url('shadow');
  // Only the cancel's function shadowed: the export gets as far as waiting for its lock.
  cancelShadowedUrl = url('shadow_cancel');
});

after(async () => {
  await pgServer?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function written(): Promise<string[]> {
  return (await pgServer.query<{ what: string }>('SELECT what FROM written ORDER BY what')).map((r) => r.what);
}

function options(name: string, extra: Partial<ExportOptions> = {}): ExportOptions {
  return { exportId: `ls-ro-${name}`, database: 'shop', snapshot: SNAPSHOT, outDir: join(work, name), tables: ['public.items'], readers: 2, minRangeBlocks: 1, ...extra };
}

describe('the export never writes to its source', () => {
  for (const [name, extra] of [
    ['readers in the exporting thread', {}],
    ['readers in threads of their own', { readerThreadMinBlocks: 0 }],
  ] as const) {
    test(`a source URL whose search_path shadows built-in functions with writing ones: nothing is written (${name})`, async () => {
      await pgServer.query('TRUNCATE written');
      const db = openPostgres(hostileUrl);
      try {
        // The export may fail (a shadowing function refused its write) or succeed; the source is unchanged either way.
        await exportSnapshot(db, options(name.replace(/ /g, '-'), extra)).catch((err: unknown) => err);
      } finally {
        await db.close();
      }
      assert.deepEqual(await written(), [], 'no statement of the export wrote to the source');
    });
  }

  test('an export cancelled while it waits for a lock cancels that wait without writing', async () => {
    await pgServer.query('TRUNCATE written');
    // Another session holds the table exclusively: the export waits to lock it, and is then cancelled.
    const holder = new pg.Client({ connectionString: pgServer.url });
    await holder.connect();
    const db = openPostgres(cancelShadowedUrl);
    try {
      await holder.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
      const controller = new AbortController();
      const exporting = exportSnapshot(db, options('cancelled', { signal: controller.signal })).then(
        () => undefined,
        (err: unknown) => err,
      );
      await waitUntil(
        async () => (await pgServer.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [SNAPSHOT_APPLICATION_NAME])).length > 0,
        'the export to wait for its lock',
        30_000,
      );
      controller.abort(new Error('cancelled by the test'));
      assert.ok((await exporting) instanceof Error, 'the export ends with an error');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await db.close();
    }
    assert.deepEqual(await written(), [], 'no statement of the export nor of its cancel wrote to the source');
  });
});
