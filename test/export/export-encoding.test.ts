/**
 * Text leaves a PostgreSQL server as UTF-8 whatever the encoding the server would speak to a client
 * by default: a database in another encoding (LATIN1, WIN1252...), or a client_encoding set for the
 * role or the database. The Parquet files hold UTF-8 strings, and the export reads every value as
 * raw COPY bytes (parallel readers) or as text the driver decodes as UTF-8 (one transaction), so a
 * session left in another encoding would write its bytes as they come: invalid or other characters.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { exportSnapshot } from '../../src/local/export/exporter';
import type { SourceDb } from '../../src/local/source/db';
import { openPostgres } from '../../src/local/source/postgres';
import { readParquet } from '../local/helpers/parquet';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';

const SNAPSHOT = { snapshotId: 'encoding', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };
const VALUES = ['café', 'Ærø Straße', 'naïve £5 ¿sí?', 'plain'];

let server: TestPostgres;
let work: string;
const opened: SourceDb[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-encoding-'));
  server = await startPostgres();
  await server.query(`CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  await server.query(`CREATE DATABASE shop`);
  await server.query(`CREATE ROLE latin_user LOGIN SUPERUSER`);
  await server.query(`ALTER ROLE latin_user SET client_encoding = 'LATIN1'`);
  for (const database of ['latin', 'shop']) {
    // Written in UTF-8 (the client says so), stored in the database's encoding.
    const client = new pg.Client(server.url.replace(/\/postgres$/, `/${database}`));
    await client.connect();
    try {
      await client.query(`SET client_encoding = 'UTF8'`);
      await client.query(`CREATE TABLE notes (id int PRIMARY KEY, body text, names text[])`);
      for (const [i, v] of VALUES.entries()) await client.query(`INSERT INTO notes VALUES ($1, $2, ARRAY[$2])`, [i, v]);
    } finally {
      await client.end();
    }
  }
});

after(async () => {
  for (const db of opened) await db.close();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The source without its own connections: the exporter then takes its sequential path (one transaction, a cursor). */
function sequentialOnly(source: SourceDb): SourceDb {
  return { kind: source.kind, description: source.description, query: source.query, exec: source.exec, consistentRead: source.consistentRead, close: source.close };
}

const SOURCES = [
  { what: 'a LATIN1 database', url: () => server.url.replace(/\/postgres$/, '/latin') },
  { what: 'a role whose client_encoding is LATIN1', url: () => server.url.replace('postgres@', 'latin_user@').replace(/\/postgres$/, '/shop') },
];

describe('text is exported as UTF-8 whatever encoding the session would default to', () => {
  for (const { what, url } of SOURCES) {
    for (const path of ['parallel readers', 'one transaction'] as const) {
      test(`${what}, ${path}`, async () => {
        const source = openPostgres(url());
        opened.push(source);
        const name = `${what}-${path}`.replace(/\W+/g, '-');
        const outDir = join(work, name);
        await exportSnapshot(path === 'one transaction' ? sequentialOnly(source) : source, { exportId: `ls-${name}`, database: 'shop', snapshot: SNAPSHOT, outDir, readers: 2 });
        const dir = join(outDir, 'shop', 'public.notes', '1');
        const rows = readParquet(readdirSync(dir).map((f) => join(dir, f))).rows.sort((a, b) => Number(a.id) - Number(b.id));
        assert.deepEqual(
          rows.map((r) => [r.body, r.names]),
          VALUES.map((v) => [v, `{${v.includes(' ') ? `"${v}"` : v}}`]),
        );
      });
    }
  }
});
