/**
 * A table replaced by another of the same name (renamed or dropped, and a new one created) between
 * the export's snapshot and its lock: the name now leads to a table the snapshot does not know, so
 * the export fails naming it rather than export the newcomer's rows (none, as of the snapshot) or
 * read another relation under the old table's name. Against a real PostgreSQL server, by both ways
 * of reading (parallel readers sharing the snapshot, and one transaction with a cursor).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { exportSnapshot, type ExportOptions, type ExportSummary } from '../../src/local/export/exporter';
import { SNAPSHOT_APPLICATION_NAME } from '../../src/local/export/parallel';
import type { SourceDb } from '../../src/local/source/db';
import { openPostgres } from '../../src/local/source/postgres';
import { waitUntil, within } from '../helpers/within';
import { readParquet } from '../local/helpers/parquet';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';
import { readdirSync } from 'node:fs';

const SNAPSHOT = { snapshotId: 'replaced', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

let server: TestPostgres;
let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-replaced-'));
  server = await startPostgres();
  db = openPostgres(server.url);
});

after(async () => {
  await db?.close();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The source without its own connections: the exporter then takes its sequential path (one transaction, a cursor). */
function sequentialOnly(source: SourceDb): SourceDb {
  return { kind: source.kind, description: source.description, query: source.query, exec: source.exec, consistentRead: source.consistentRead, close: source.close };
}

/** Whether a session of the given application waits for a lock on the table (as named now). */
async function waitingForLock(applicationName: string, table: string): Promise<boolean> {
  const [row] = await server.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
      WHERE a.application_name = $1 AND NOT l.granted AND l.relation = to_regclass($2)`,
    [applicationName, table],
  );
  return Number(row!.n) > 0;
}

const PATHS = [
  { path: 'parallel readers', source: () => db, waitsAs: SNAPSHOT_APPLICATION_NAME },
  { path: 'one transaction', source: () => sequentialOnly(db), waitsAs: '' },
] as const;

/**
 * Exports table `t` while another session holds `change` uncommitted: once the export has taken its
 * snapshot and waits to lock the table, the change commits. The export's summary, or its error.
 */
async function exportAcrossChange(t: string, change: string, way: { source: () => SourceDb; waitsAs: string }, outDir: string): Promise<ExportSummary | Error> {
  const blocker = new pg.Client({ connectionString: server.url });
  await blocker.connect();
  try {
    await blocker.query(`BEGIN; ${change}`);
    const options: ExportOptions = { exportId: `ls-${t}`, database: 'shop', snapshot: SNAPSHOT, outDir, readers: 1, tables: [`public.${t}`] };
    const running = exportSnapshot(way.source(), options).then(
      (summary) => summary,
      (err: unknown) => err as Error,
    );
    await waitUntil(() => waitingForLock(way.waitsAs, t), `the export waiting to lock ${t}`);
    await blocker.query('COMMIT');
    return await within(30_000, 'the export once the change committed', running);
  } finally {
    await blocker.end();
  }
}

const CHANGES = [
  {
    change: 'renamed away and a new table created under its name',
    sql: (t: string) => `ALTER TABLE ${t} RENAME TO ${t}_old; CREATE TABLE ${t} (id int PRIMARY KEY, note text); INSERT INTO ${t} VALUES (-1, 'newcomer')`,
  },
  {
    change: 'dropped and created again',
    sql: (t: string) => `DROP TABLE ${t}; CREATE TABLE ${t} (id int PRIMARY KEY, note text)`,
  },
  {
    change: 'renamed away and another table renamed to its name',
    sql: (t: string) => `ALTER TABLE ${t} RENAME TO ${t}_old; ALTER TABLE ${t}_secret RENAME TO ${t}`,
  },
  {
    change: 'renamed away and a view of another table created under its name',
    sql: (t: string) => `ALTER TABLE ${t} RENAME TO ${t}_old; CREATE VIEW ${t} AS SELECT id, secret AS note FROM ${t}_secret`,
  },
] as const;

describe('a table replaced under its name between the snapshot and the lock', () => {
  let n = 0;
  for (const way of PATHS) {
    const { path } = way;
    for (const { change, sql } of CHANGES) {
      test(`${path}: a table ${change} fails the export naming it, instead of exporting another relation's rows`, async () => {
        n += 1;
        const t = `repl_${n}`;
        await server.query(`CREATE TABLE ${t} (id int PRIMARY KEY, note text); INSERT INTO ${t} SELECT i, 'kept ' || i FROM generate_series(1, 100) AS i;
          CREATE TABLE ${t}_secret (id int, secret text); INSERT INTO ${t}_secret VALUES (1, 'never exported');`);
        // The change holds its locks, uncommitted, while the export takes its snapshot and waits to lock the table.
        const outcome = await exportAcrossChange(t, sql(t), way, join(work, t));
        assert.ok(
          outcome instanceof Error,
          `the export of a table replaced after its snapshot must fail, not export ${JSON.stringify('tables' in outcome ? outcome.tables.map((x) => [x.table, x.rows]) : outcome)}`,
        );
        assert.match(outcome.message, new RegExp(`^export failed: public\\.${t} .*after the export's snapshot was taken`));
      });
    }
  }
});

describe('columns renamed between the snapshot and the lock', () => {
  let n = 0;
  for (const way of PATHS) {
    const { path } = way;
    test(`${path}: two columns that swapped names fail the export naming the table, instead of exporting one column's values under the other's name`, async () => {
      n += 1;
      const t = `swap_${n}`;
      await server.query(`CREATE TABLE ${t} (id int PRIMARY KEY, note text, secret text); INSERT INTO ${t} SELECT i, 'note ' || i, 'secret ' || i FROM generate_series(1, 100) AS i;`);
      const outDir = join(work, t);
      const swap = `ALTER TABLE ${t} RENAME COLUMN note TO tmp; ALTER TABLE ${t} RENAME COLUMN secret TO note; ALTER TABLE ${t} RENAME COLUMN tmp TO secret`;
      const outcome = await exportAcrossChange(t, swap, way, outDir);
      if (!(outcome instanceof Error)) {
        const dir = join(outDir, 'shop', `public.${t}`, '1');
        const { rows } = readParquet(readdirSync(dir).map((f) => join(dir, f)));
        const wrong = rows.filter((r) => !String(r.note).startsWith('note '));
        assert.fail(`the export completed, and ${wrong.length} of ${rows.length} values of its column note are not the snapshot's note values (e.g. ${JSON.stringify(wrong[0]?.note)})`);
      }
      assert.match(outcome.message, new RegExp(`^export failed: public\\.${t} .*after the export's snapshot was taken`));
    });
  }
});
