/** The local export: RDS layout, encodings and type mappings, part files, ExportOnly and skipped tables (PGlite source). */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PortError } from '../../src/errors';
import type { ExportRef } from '../../src/model';
import { createDiscoverPort } from '../../src/local/discover';
import { exportSnapshot } from '../../src/local/export/exporter';
import { layoutOf } from '../../src/local/paths';
import type { ExportInfo, TablesInfo } from '../../src/local/export/layout';
import type { SourceDb } from '../../src/local/source/db';
import { seedDemo } from '../../src/local/source/demo-schema';
import { openPglite } from '../../src/local/source/pglite';
import { readParquet } from '../local/helpers/parquet';

const SNAPSHOT = { snapshotId: 'lakesync-shop-1', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

const ALL_TYPES_SQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE all_types (
  id smallint PRIMARY KEY, i4 integer, i8 bigint, r real, d double precision, b boolean, raw bytea,
  n numeric(12, 4), m money, dt date, t time(6), tz timetz, ts timestamp(3), tstz timestamptz,
  iv interval, j json, jb jsonb, u uuid, arr text[], iarr integer[], e mood, c char(3), vc varchar(10)
);
INSERT INTO all_types VALUES
 (1, -2147483648, 9223372036854775807, 0.1, 1.0000000000000002, true, '\\x00ff10',
  12345.6789, 12.5, '2024-02-29', '23:59:59.123456', '10:00:00+02', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+01',
  '1 year 2 mons 3 days 04:05:06', '{"a":  [1, 2]}', '{"b": {"c": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  ARRAY['a', 'b c', 'd"e'], ARRAY[1, NULL, 3], 'happy', 'ab', 'héllo'),
 (2, NULL, NULL, 'NaN', '-Infinity', false, '', NULL, NULL, 'infinity', NULL, NULL, NULL, NULL,
  '-00:00:01', NULL, 'null', NULL, '{}', NULL, 'sad', NULL, ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE "Odd Table" (id int, "bad column" text);
CREATE TABLE empty_one (id bigint PRIMARY KEY, note text);
CREATE TABLE with_oid (id int, o oid, label text);
INSERT INTO with_oid VALUES (1, 42, 'x');
`;

let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-'));
  db = await openPglite(undefined);
  await seedDemo(db);
  await db.exec(ALL_TYPES_SQL);
});

after(async () => {
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

function partsOf(exportDir: string, table: string): string[] {
  const dir = join(exportDir, 'shop', table, '1');
  return readdirSync(dir).sort().map((f) => join(dir, f));
}

describe('exportSnapshot on PGlite', () => {
  let outDir: string;
  let summary: Awaited<ReturnType<typeof exportSnapshot>>;

  before(async () => {
    outDir = join(work, 'full');
    summary = await exportSnapshot(db, { exportId: 'ls-shop-1', database: 'shop', snapshot: SNAPSHOT, outDir, rowsPerPart: 250, rowGroupSize: 100, fetchRows: 64 });
  });

  test('writes export_info and export_tables_info in the RDS layout', () => {
    const files = readdirSync(outDir).sort();
    assert.ok(files.includes('export_info_ls-shop-1.json'), files.join(', '));
    const tablesInfo = files.filter((f) => /^export_tables_info_ls-shop-1_from_1_to_\d+\.json$/.test(f));
    assert.equal(tablesInfo.length, 1);
    const info = JSON.parse(readFileSync(join(outDir, 'export_info_ls-shop-1.json'), 'utf8')) as ExportInfo;
    assert.equal(info.exportTaskIdentifier, 'ls-shop-1');
    assert.equal(info.status, 'COMPLETE');
    assert.equal(info.snapshotTime, SNAPSHOT.createdAt);
    assert.match(info.warningMessage ?? '', /Odd Table/);

    const status = (JSON.parse(readFileSync(join(outDir, tablesInfo[0]!), 'utf8')) as TablesInfo).perTableStatus;
    assert.equal(tablesInfo[0], `export_tables_info_ls-shop-1_from_1_to_${status.length}.json`);
    const complete = status.filter((s) => s.status === 'COMPLETE').map((s) => s.target).sort();
    assert.deepEqual(complete, [
      'shop.public.all_types',
      'shop.public.customer_pii',
      'shop.public.customers',
      'shop.public.empty_one',
      'shop.public.events',
      'shop.public.order_items',
      'shop.public.page_views',
      'shop.public.products',
      'shop.public.with_oid',
    ]);
    const odd = status.find((s) => s.target === 'shop.public.Odd Table');
    assert.equal(odd?.status, 'SKIPPED');
    assert.match(odd?.warningMessage ?? '', /"bad column".*rename/);
    assert.deepEqual(summary.skipped.map((s) => s.table), ['public.Odd Table']);
    for (const s of status.filter((e) => e.status === 'COMPLETE')) {
      assert.ok(s.tableStatistics?.extractionStartTime, `${s.target} has table statistics`);
      assert.ok((s.sizeGB ?? -1) > 0, `${s.target} has a size`);
    }
  });

  test('records originalTypeMappings with the RDS exported types', () => {
    const file = readdirSync(outDir).find((f) => f.startsWith('export_tables_info_'))!;
    const status = (JSON.parse(readFileSync(join(outDir, file), 'utf8')) as TablesInfo).perTableStatus;
    const mappings = status.find((s) => s.target === 'shop.public.all_types')!.schemaMetadata!.originalTypeMappings;
    const byName = Object.fromEntries(mappings.map((m) => [m.columnName, m]));
    const expected: Record<string, [string, string]> = {
      id: ['smallint', 'int32'],
      i4: ['integer', 'int32'],
      i8: ['bigint', 'int64'],
      r: ['real', 'float'],
      d: ['double precision', 'double'],
      b: ['boolean', 'boolean'],
      raw: ['bytea', 'binary'],
      n: ['numeric', 'binary (UTF8)'],
      m: ['money', 'binary (UTF8)'],
      dt: ['date', 'binary (UTF8)'],
      t: ['time without time zone', 'binary (UTF8)'],
      tz: ['time with time zone', 'binary (UTF8)'],
      ts: ['timestamp without time zone', 'binary (UTF8)'],
      tstz: ['timestamp with time zone', 'binary (UTF8)'],
      iv: ['interval', 'binary (UTF8)'],
      j: ['json', 'binary (UTF8)'],
      jb: ['jsonb', 'binary (UTF8)'],
      u: ['uuid', 'binary (UTF8)'],
      arr: ['ARRAY', 'binary (UTF8)'],
      iarr: ['ARRAY', 'binary (UTF8)'],
      e: ['USER-DEFINED', 'binary (UTF8)'],
      c: ['character', 'binary (UTF8)'],
      vc: ['character varying', 'binary (UTF8)'],
    };
    assert.deepEqual(Object.keys(byName), Object.keys(expected));
    for (const [name, [originalType, exported]] of Object.entries(expected)) {
      assert.equal(byName[name]!.originalType, originalType, name);
      assert.equal(byName[name]!.expectedExportedType, exported, name);
    }
    assert.equal(byName.n!.originalNumPrecision, 12);
    assert.equal((byName.n as { originalNumScale?: number }).originalNumScale, 4);
    assert.equal(byName.vc!.originalCharMaxLength, 10);
    assert.equal(byName.ts!.originalDateTimePrecision, 3);
    const withOid = status.find((s) => s.target === 'shop.public.with_oid')!.schemaMetadata!.originalTypeMappings;
    assert.deepEqual(withOid.map((m) => m.columnName), ['id', 'label'], 'oid columns are not exported');
  });

  test('encodes values as RDS does: native numbers, booleans and bytes, everything else as PostgreSQL text in UTC', () => {
    const { schema, rows, compression } = readParquet(partsOf(outDir, 'public.all_types'));
    assert.deepEqual(compression, ['SNAPPY']);
    assert.deepEqual(schema, {
      id: 'int16', i4: 'int32', i8: 'int64', r: 'float', d: 'double', b: 'bool', raw: 'binary',
      n: 'string', m: 'string', dt: 'string', t: 'string', tz: 'string', ts: 'string', tstz: 'string',
      iv: 'string', j: 'string', jb: 'string', u: 'string', arr: 'string', iarr: 'string', e: 'string', c: 'string', vc: 'string',
    });
    const [one, two, three] = [...rows].sort((a, b) => Number(a.id) - Number(b.id));
    assert.deepEqual(one, {
      id: 1, i4: -2147483648, i8: '9223372036854775807', r: Math.fround(0.1), d: 1.0000000000000002, b: true, raw: '00ff10',
      n: '12345.6789', m: '$12.50', dt: '2024-02-29', t: '23:59:59.123456', tz: '10:00:00+02', ts: '2024-02-29 12:34:56.789',
      tstz: '2024-02-29 11:34:56.789+00', iv: '1 year 2 mons 3 days 04:05:06', j: '{"a":  [1, 2]}', jb: '{"b": {"c": null}}',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', arr: '{a,"b c","d\\"e"}', iarr: '{1,NULL,3}', e: 'happy', c: 'ab ', vc: 'héllo',
    });
    assert.equal(two!.r, 'nan');
    assert.equal(two!.d, '-inf');
    assert.equal(two!.raw, '');
    assert.equal(two!.dt, 'infinity');
    assert.equal(two!.iv, '-00:00:01');
    assert.equal(two!.jb, 'null');
    assert.equal(two!.arr, '{}');
    assert.equal(two!.vc, '');
    assert.ok(Object.entries(three!).every(([k, v]) => k === 'id' || v === null), 'NULLs stay NULL in every type');
  });

  test('streams a table into several part files named part-<n>-<uuid>.gz.parquet', async () => {
    const parts = partsOf(outDir, 'public.order_items');
    assert.equal(parts.length, 3, '600 rows at 250 rows per part');
    parts.forEach((p, i) => assert.match(p, new RegExp(`/part-0000${i}-[0-9a-f-]{36}\\.gz\\.parquet$`)));
    const { rows } = readParquet(parts);
    assert.equal(rows.length, 600);
    const source = await db.query<{ k: string }>(`SELECT order_id || '/' || line_no AS k FROM order_items ORDER BY 1`);
    assert.deepEqual(rows.map((r) => `${r.order_id}/${r.line_no}`).sort(), source.map((r) => r.k));
    assert.equal(summary.tables.find((t) => t.table === 'public.order_items')?.rows, 600);
  });

  test('every exported value equals the source value read as text', async () => {
    const { rows } = readParquet(partsOf(outDir, 'public.customers'));
    const source = await db.query<Record<string, string | null>>(
      `SELECT id::text, name, email, tier::text, signup_date::text, balance::text, preferences::text, tags::text,
              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS updated_at
       FROM customers ORDER BY customers.id`,
    );
    const exported = [...rows].sort((a, b) => Number(a.id) - Number(b.id));
    assert.equal(exported.length, source.length);
    exported.forEach((row, i) => {
      const want = source[i]!;
      assert.equal(String(row.id), want.id);
      for (const col of ['name', 'email', 'tier', 'signup_date', 'balance', 'preferences', 'tags']) assert.equal(row[col], want[col], `${col} of row ${want.id}`);
      // timestamptz text is UTC with a +00 suffix and trailing zero digits dropped.
      const text = String(row.updated_at);
      assert.match(text, /\+00$/);
      assert.equal(new Date(text.replace(' ', 'T').replace(/\+00$/, 'Z')).toISOString().slice(0, 23), new Date(`${want.updated_at}Z`.replace(' ', 'T')).toISOString().slice(0, 23));
    });
  });

  test('an empty table gets one empty part that still carries its columns', () => {
    const parts = partsOf(outDir, 'public.empty_one');
    assert.equal(parts.length, 1);
    const { schema, rows } = readParquet(parts);
    assert.deepEqual(schema, { id: 'int64', note: 'string' });
    assert.equal(rows.length, 0);
  });

  test('records the primary keys the catalog declares, composite keys in key order', () => {
    assert.deepEqual(summary.primaryKeys['public.order_items'], ['order_id', 'line_no']);
    assert.deepEqual(summary.primaryKeys['public.customers'], ['id']);
    assert.deepEqual(summary.primaryKeys['public.page_views'], []);
  });
});

describe('exportSnapshot with ExportOnly', () => {
  test('exports only the named tables', async () => {
    const outDir = join(work, 'only');
    const result = await exportSnapshot(db, { exportId: 'ls-shop-2', database: 'shop', snapshot: SNAPSHOT, outDir, tables: ['public.products', 'public.events'] });
    assert.deepEqual(result.tables.map((t) => t.table).sort(), ['public.events', 'public.products']);
    assert.deepEqual(readdirSync(join(outDir, 'shop')).sort(), ['public.events', 'public.products']);
    const info = JSON.parse(readFileSync(join(outDir, 'export_info_ls-shop-2.json'), 'utf8')) as ExportInfo;
    assert.deepEqual(info.exportOnly, ['shop.public.products', 'shop.public.events']);
  });

  test('an export that matches no table still writes a tables-info file naming the database', async () => {
    const outDir = join(work, 'none');
    const result = await exportSnapshot(db, { exportId: 'ls-shop-3', database: 'shop', snapshot: SNAPSHOT, outDir, tables: ['public.nope'] });
    assert.equal(result.tables.length, 0);
    const info = JSON.parse(readFileSync(join(outDir, 'export_tables_info_ls-shop-3_from_1_to_1.json'), 'utf8')) as TablesInfo;
    assert.deepEqual(info.perTableStatus, [{ target: 'shop', warningMessage: 'no table matched the export' }]);
  });
});

describe('the export session on PGlite (PostgreSQL 17 and later)', () => {
  test('a transaction_timeout set for the source user or session does not apply to the export\'s read', async () => {
    await db.exec("SET transaction_timeout = '5min'");
    try {
      const seen = await db.consistentRead((session) => session.rows('SHOW transaction_timeout'));
      assert.deepEqual(seen, [['0']], 'a transaction timeout would cancel a long export and release its snapshot');
      assert.deepEqual(await db.query('SHOW transaction_timeout'), [{ transaction_timeout: '5min' }], 'only the export\'s transaction is changed');
    } finally {
      await db.exec('RESET transaction_timeout');
    }
  });
});

describe('a cancelled export on PGlite', () => {
  test('stops inside the table it reads: no further rows are fetched, and the export fails with the cancel\'s reason', async () => {
    const canceller = new AbortController();
    let fetches = 0;
    // The real database, with the cancel asked as the second batch of rows arrives (no `connect`:
    // the export takes the cursor path).
    const cancelling: SourceDb = {
      kind: db.kind,
      description: db.description,
      query: (sql, params) => db.query(sql, params),
      exec: (sql) => db.exec(sql),
      close: () => db.close(),
      consistentRead: (fn) => db.consistentRead((session) => fn({
        rows: async (sql, params) => {
          const rows = await session.rows(sql, params);
          if (sql.startsWith('FETCH') && ++fetches === 2) canceller.abort(new Error('the export task was cancelled'));
          return rows;
        },
      })),
    };
    const outDir = join(work, 'cancelled');
    await assert.rejects(
      exportSnapshot(cancelling, { exportId: 'ls-shop-cancel', database: 'shop', snapshot: SNAPSHOT, outDir, tables: ['public.page_views'], fetchRows: 10, signal: canceller.signal }),
      /the export task was cancelled/,
    );
    const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM page_views');
    assert.ok(n > 100, `page_views needs more than ten batches of 10 rows: ${n} rows`);
    assert.equal(fetches, 2, `rows were still fetched after the cancel: ${fetches} batches of ${Math.ceil(n / 10)}`);
  });
});

describe('wide rows on PGlite', () => {
  test('rows are fetched a bounded number of bytes at a time, not 5,000 rows at a time whatever their size', async () => {
    const wide = await openPglite(undefined);
    try {
      const ROWS = 80;
      await wide.exec(`CREATE TABLE docs (id int PRIMARY KEY, body text); INSERT INTO docs SELECT i, repeat(md5(i::text), 32768) FROM generate_series(1, ${ROWS}) AS i;`);
      let largestBatch = 0;
      let fetched = 0;
      const measured: SourceDb = {
        kind: wide.kind,
        description: wide.description,
        query: (sql, params) => wide.query(sql, params),
        exec: (sql) => wide.exec(sql),
        close: () => wide.close(),
        consistentRead: (fn) => wide.consistentRead((session) => fn({
          rows: async (sql, params) => {
            const rows = await session.rows(sql, params);
            if (sql.startsWith('FETCH')) {
              fetched += rows.length;
              largestBatch = Math.max(largestBatch, rows.reduce((n: number, r) => n + r.reduce((m: number, v) => m + (typeof v === 'string' ? v.length : 0), 0), 0));
            }
            return rows;
          },
        })),
      };
      const summary = await exportSnapshot(measured, { exportId: 'ls-wide', database: 'shop', snapshot: SNAPSHOT, outDir: join(work, 'wide'), tables: ['public.docs'] });
      assert.equal(summary.tables[0]!.rows, ROWS);
      assert.equal(fetched, ROWS);
      // Each row is 1 MB: a batch may hold a few of them, not the whole table (nor 5,000 of them).
      assert.ok(largestBatch <= 20 * 1024 * 1024, `the largest batch held ${(largestBatch / 1024 / 1024).toFixed(0)} MB`);
    } finally {
      await wide.close();
    }
  });
});

describe('the row count of an export table from its Parquet footers', () => {
  let outDir: string;
  let ref: ExportRef;
  const discover = () => createDiscoverPort(layoutOf(join(work, 'rows-work')), 'shop');

  before(async () => {
    outDir = join(work, 'rows');
    await exportSnapshot(db, { exportId: 'ls-shop-rows', database: 'shop', snapshot: SNAPSHOT, outDir, rowsPerPart: 70, rowGroupSize: 30, fetchRows: 50 });
    ref = { exportId: 'ls-shop-rows', location: outDir, snapshotId: SNAPSHOT.snapshotId, adopted: false };
    // RDS writes several batch folders, part numbers with gaps, and older exports have no batch folder.
    const table = join(outDir, 'shop', 'public.order_items');
    const parts = readdirSync(join(table, '1')).sort();
    assert.ok(parts.length >= 8, `600 rows at 70 per part: ${parts.length} parts`);
    mkdirSync(join(table, '2'));
    for (const name of parts.slice(0, 3)) renameSync(join(table, '1', name), join(table, '2', name));
    renameSync(join(table, '1', parts[5]!), join(table, parts[5]!));
    // Markers and hidden files are not parts, for the load job neither.
    writeFileSync(join(table, '1', '_SUCCESS'), '');
    writeFileSync(join(table, '2', `.${parts[0]}.crc`), 'not parquet');
    writeFileSync(join(table, '2', 'manifest.json'), '{}');
  });

  test('a multi-part, multi-batch table counts exactly the source rows', async () => {
    const [source] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM order_items');
    assert.equal(source!.n, 600);
    assert.equal(await discover().exportRowCount(ref, 'public.order_items'), 600);
  });

  test('discovery lists the part files of each table, in every batch folder, markers and hidden files left out', async () => {
    const table = join(outDir, 'shop', 'public.order_items');
    const files = readdirSync(table, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.gz.parquet') && !f.split('/').pop()!.startsWith('.'));
    const bytes = files.reduce((sum, f) => sum + statSync(join(table, f)).size, 0);
    const found = await discover().discover(ref);
    assert.deepEqual(found.parts?.['public.order_items'], { files: files.length, bytes });
    assert.ok(files.length >= 8);
  });

  test('every exported table counts its source rows; an empty or unexported table counts 0', async () => {
    for (const [table, sql] of [
      ['public.customers', 'customers'],
      ['public.events', 'events'],
      ['public.page_views', 'page_views'],
      ['public.all_types', 'all_types'],
      ['public.empty_one', 'empty_one'],
    ] as const) {
      const [source] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`);
      assert.equal(await discover().exportRowCount(ref, table), source!.n, table);
    }
    assert.equal(await discover().exportRowCount(ref, 'public.Odd Table'), 0, 'skipped by the export: no part file');
  });

  test('a damaged part file fails the count, naming the file and the fix', async () => {
    const damaged = join(work, 'rows-damaged');
    mkdirSync(join(damaged, 'shop', 'public.products', '1'), { recursive: true });
    copyFileSync(join(outDir, 'export_info_ls-shop-rows.json'), join(damaged, 'export_info_ls-shop-rows.json'));
    const bad = join(damaged, 'shop', 'public.products', '1', 'part-00000-x.gz.parquet');
    writeFileSync(bad, 'PAR1 this is not a parquet file at all');
    await assert.rejects(discover().exportRowCount({ ...ref, location: damaged }, 'public.products'), (err: PortError) => {
      assert.equal(err.code, 'UnreadableExportPart');
      assert.equal(err.retryable, false);
      assert.match(err.message, new RegExp(`export part file ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a readable Parquet file \\(not a valid parquet file\\): the export is damaged .*run a new sync`));
      return true;
    });
  });

  test('only the files the load job reads count: none in a folder that is no batch folder, or deeper', async () => {
    const nested = join(work, 'rows-nested');
    const table = join(nested, 'shop', 'public.customers');
    mkdirSync(table, { recursive: true });
    for (const name of readdirSync(outDir).filter((f) => f.endsWith('.json'))) copyFileSync(join(outDir, name), join(nested, name));
    const source = join(outDir, 'shop', 'public.customers', '1');
    const own = readdirSync(source).filter((f) => f.endsWith('.gz.parquet'));
    assert.ok(own.length > 0);
    // The table's own parts in batch 1, and copies of them where glue/lakesync_glue/export.py never reads.
    for (const folder of ['1', 'archive', join('1', 'old'), join('_temporary', '0')]) {
      mkdirSync(join(table, folder), { recursive: true });
      for (const name of own) copyFileSync(join(source, name), join(table, folder, name));
    }
    const nestedRef = { ...ref, location: nested };
    assert.equal(await discover().exportRowCount(nestedRef, 'public.customers'), await discover().exportRowCount(ref, 'public.customers'));
    const bytes = own.reduce((sum, name) => sum + statSync(join(source, name)).size, 0);
    assert.deepEqual((await discover().discover(nestedRef)).parts?.['public.customers'], { files: own.length, bytes });
  });

  test('an export whose files are gone fails the count as not found', async () => {
    await assert.rejects(discover().exportRowCount({ ...ref, location: join(work, 'gone') }, 'public.orders'), (err: PortError) => {
      assert.equal(err.kind, 'not-found');
      assert.match(err.message, /export ls-shop-rows has no export_info_ls-shop-rows\.json .*run a new sync/);
      return true;
    });
  });
});

describe('two tables whose schema.table text is the same', () => {
  let other: SourceDb;
  before(async () => {
    other = await openPglite(undefined);
    await other.exec(`
      CREATE SCHEMA "a.b"; CREATE SCHEMA a;
      CREATE TABLE "a.b".c (id int PRIMARY KEY, secret text);
      CREATE TABLE a."b.c" (id int PRIMARY KEY, amount int);
      CREATE TABLE a.plain (id int PRIMARY KEY);
      INSERT INTO "a.b".c VALUES (1, 'kept in the database');
      INSERT INTO a."b.c" VALUES (2, 20);
      INSERT INTO a.plain VALUES (3);
    `);
  });
  after(async () => other?.close());

  test('neither is exported: their rows would share one folder and one lake table; the other tables are', async () => {
    const outDir = join(work, 'same-name');
    const summary = await exportSnapshot(other, { exportId: 'ls-a-1', database: 'shop', snapshot: SNAPSHOT, outDir });
    assert.deepEqual(summary.tables.map((t) => t.table), ['a.plain']);
    assert.deepEqual(summary.skipped.map((s) => s.table), ['a.b.c', 'a.b.c']);
    for (const s of summary.skipped) assert.match(s.reason, /schema "a\.b" table "c" and schema "a" table "b\.c"|schema "a" table "b\.c" and schema "a\.b" table "c"/);
    assert.match(summary.skipped[0]!.reason, /are all named a\.b\.c, so neither is exported: rename one of them/);
    assert.deepEqual(readdirSync(join(outDir, 'shop')), ['a.plain'], 'no folder holds either table\'s rows');
  });
});
