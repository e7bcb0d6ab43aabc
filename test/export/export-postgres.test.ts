/**
 * The export against a real PostgreSQL server: one consistent snapshot for every table (rows
 * committed while it runs stay out), and a 1,000,000-row table streamed with bounded memory
 * into several part files (measured in a process of its own, figures printed).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportSnapshot } from '../../src/local/export/exporter';
import { openPostgres } from '../../src/local/source/postgres';
import { toolchain } from '../../src/toolchain';
import { readParquet } from '../local/helpers/parquet';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';

const MILLION = 1_000_000;
/** The exporter's own peak resident memory may not exceed this, whatever the table size. */
const PEAK_RSS_LIMIT_MB = 400;

let pg: TestPostgres;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-pg-'));
  pg = await startPostgres();
});

after(async () => {
  await pg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('export from PostgreSQL', () => {
  test('reads every table at one snapshot: rows committed during the export stay out', async () => {
    await pg.query('CREATE TABLE a_first (id int PRIMARY KEY); INSERT INTO a_first SELECT generate_series(1, 10);');
    await pg.query('CREATE TABLE b_second (id int PRIMARY KEY, note text); INSERT INTO b_second SELECT i, $$before$$ FROM generate_series(1, 10) AS i;');
    const db = openPostgres(pg.url);
    try {
      const outDir = join(work, 'consistent');
      const summary = await exportSnapshot(db, {
        exportId: 'ls-pg-1',
        database: 'shop',
        snapshot: { snapshotId: 's1', createdAt: new Date().toISOString(), adopted: false },
        outDir,
        tables: ['public.a_first', 'public.b_second'],
        onProgress: async ({ tablesDone }) => {
          // After the first table, another session changes the second one and commits.
          if (tablesDone === 1) await pg.query("INSERT INTO b_second SELECT i, 'during' FROM generate_series(11, 20) AS i; UPDATE b_second SET note = 'during' WHERE id = 1;");
        },
      });
      assert.deepEqual(summary.tables.map((t) => [t.table, t.rows]), [['public.a_first', 10], ['public.b_second', 10]]);
      const dir = join(outDir, 'shop', 'public.b_second', '1');
      const { rows } = readParquet(readdirSync(dir).map((f) => join(dir, f)));
      assert.ok(rows.every((r) => r.note === 'before'), 'the export sees the table as it was when the export began');
      const [count] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM b_second');
      assert.equal(Number(count!.n), 20, 'the concurrent change did commit');
    } finally {
      await db.close();
    }
  });

  test(`streams a ${MILLION.toLocaleString('en')}-row table into several parts with bounded memory`, async () => {
    await pg.query(`CREATE TABLE big (id bigint PRIMARY KEY, name text, amount numeric(12, 2), created_at timestamptz, flag boolean);
      INSERT INTO big SELECT i, 'name ' || i, (i % 100000) / 100.0, TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second', i % 2 = 0
      FROM generate_series(1, ${MILLION}) AS i;`);
    const outDir = join(work, 'big');
    // Its own process, so the figures are the exporter's alone.
    const out = execFileSync(process.execPath, [join(__dirname, 'helpers', 'export-child.js'), pg.url, outDir, 'shop'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    const figures = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; baselineRssMb: number; peakRssMb: number; peakHeapMb: number; tables: { table: string; rows: number; parts: number; bytes: number }[] };
    const big = figures.tables.find((t) => t.table === 'public.big')!;
    console.log(
      `export of ${big.rows} rows: ${figures.seconds.toFixed(1)} s, ${big.parts} parts, ${(big.bytes / 1e6).toFixed(1)} MB; ` +
        `exporter peak RSS ${figures.peakRssMb.toFixed(0)} MB (baseline ${figures.baselineRssMb.toFixed(0)} MB), peak JS heap ${figures.peakHeapMb.toFixed(0)} MB`,
    );
    assert.equal(big.rows, MILLION);
    assert.ok(big.parts >= 4, `${big.parts} part files`);
    assert.ok(figures.peakRssMb < PEAK_RSS_LIMIT_MB, `peak RSS ${figures.peakRssMb.toFixed(0)} MB is under ${PEAK_RSS_LIMIT_MB} MB`);
    const parts = readdirSync(join(outDir, 'shop', 'public.big', '1')).sort();
    assert.match(parts[0]!, /^part-00000-[0-9a-f-]{36}\.gz\.parquet$/);
  });

  test('a type with a cast of its own to text (as PostGIS geometry has) is exported in its output form, not the cast\'s text', async () => {
    // PostGIS casts geometry to text as WKT, without the SRID and with fewer digits than its output
    // form: the export must write the value as the type prints it, not what a cast makes of it.
    await pg.query(`
      CREATE TYPE located AS (srid int, x double precision);
      CREATE FUNCTION located_wkt(located) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'POINT(' || round(($1).x::numeric, 1) || ')' $$;
      CREATE CAST (located AS text) WITH FUNCTION located_wkt(located);
      CREATE TYPE shade AS ENUM ('dark', 'light');
      CREATE FUNCTION shade_word(shade) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'shade #' || array_position(enum_range(NULL::shade), $1) $$;
      CREATE CAST (shade AS text) WITH FUNCTION shade_word(shade);
      CREATE TABLE places (id int PRIMARY KEY, at located, tone shade, ats located[]);
      INSERT INTO places VALUES (1, ROW(4326, 1.23456789), 'light', ARRAY[ROW(4326, 2.5)::located]), (2, NULL, NULL, NULL);
    `);
    for (const readers of [1, 2]) {
      const db = openPostgres(pg.url);
      try {
        const outDir = join(work, `casts-${readers}`);
        await exportSnapshot(db, { exportId: 'ls-casts', database: 'shop', snapshot: { snapshotId: 's', createdAt: new Date().toISOString(), adopted: false }, outDir, tables: ['public.places'], readers });
        const dir = join(outDir, 'shop', 'public.places', '1');
        const { rows } = readParquet(readdirSync(dir).map((f) => join(dir, f)));
        assert.deepEqual(
          rows.sort((a, b) => Number(a.id) - Number(b.id)).map((r) => [r.at, r.tone, r.ats]),
          [['(4326,1.23456789)', 'light', '{"(4326,2.5)"}'], [null, null, null]],
          `${readers} reader(s)`,
        );
      } finally {
        await db.close();
      }
    }
  });

  test('an array of a domain over box is mapped with the element type whose delimiter (;) the load splits it at', async () => {
    // A domain takes its base type's delimiter: PostgreSQL prints a boxdom[] as {(1,1),(0,0);(2,2),(1,1)}.
    // Mapped as _boxdom, the load (which knows box's ';' only by name) would split it at every comma.
    await pg.query(`
      CREATE DOMAIN boxdom AS box; CREATE DOMAIN boxdom2 AS boxdom; CREATE DOMAIN numdom AS numeric(6,2);
      CREATE TABLE frames (id int PRIMARY KEY, a boxdom[], b boxdom2[], c box[], d numdom[]);
      INSERT INTO frames VALUES (1, ARRAY['((1,1),(0,0))'::boxdom, '((2,2),(1,1))'], ARRAY['((3,3),(2,2))'::boxdom2, '((4,4),(3,3))'], ARRAY['((1,1),(0,0))'::box], ARRAY[1.5]::numdom[]);
    `);
    const db = openPostgres(pg.url);
    try {
      const outDir = join(work, 'box-domains');
      await exportSnapshot(db, { exportId: 'ls-boxes', database: 'shop', snapshot: { snapshotId: 's', createdAt: new Date().toISOString(), adopted: false }, outDir, tables: ['public.frames'] });
      const info = readdirSync(outDir).find((f) => f.startsWith('export_tables_info_'))!;
      const status = (JSON.parse(readFileSync(join(outDir, info), 'utf8')) as { perTableStatus: { schemaMetadata?: { originalTypeMappings: { columnName: string; originalUdtName?: string }[] } }[] }).perTableStatus;
      const udt = Object.fromEntries(status[0]!.schemaMetadata!.originalTypeMappings.map((m) => [m.columnName, m.originalUdtName]));
      assert.deepEqual([udt.a, udt.b, udt.c, udt.d], ['_box', '_box', '_box', '_numdom']);
      const dir = join(outDir, 'shop', 'public.frames', '1');
      const { rows } = readParquet(readdirSync(dir).map((f) => join(dir, f)));
      assert.deepEqual([rows[0]!.a, rows[0]!.b], ['{(1,1),(0,0);(2,2),(1,1)}', '{(3,3),(2,2);(4,4),(3,3)}']);
    } finally {
      await db.close();
    }
  });

  test('money is exported in the same text whatever lc_monetary the database sets', async (t) => {
    // A German monetary locale, built for the server alone (LOCPATH) where the machine has only C.
    // Readable by the server's user (the server runs as postgres when the tests run as root).
    const locales = mkdtempSync(join(tmpdir(), 'lakesync-locales-'));
    t.after(() => rmSync(locales, { recursive: true, force: true }));
    try {
      chmodSync(locales, 0o755);
      execFileSync('localedef', ['-i', 'de_DE', '-f', 'UTF-8', join(locales, 'de_DE.UTF-8')], { stdio: 'ignore' });
    } catch {
      t.skip('localedef cannot build de_DE.UTF-8 here');
      return;
    }
    const saved = process.env.LOCPATH;
    process.env.LOCPATH = locales;
    const euro = await startPostgres().finally(() => (saved === undefined ? delete process.env.LOCPATH : (process.env.LOCPATH = saved)));
    try {
      await euro.query(`ALTER DATABASE postgres SET lc_monetary = 'de_DE.UTF-8'`);
      await euro.query(`CREATE TABLE prices (id int PRIMARY KEY, price money); INSERT INTO prices VALUES (1, 1234.5), (2, -3)`);
      for (const readers of [1, 2]) {
        const db = openPostgres(euro.url);
        try {
          const [shown] = await db.query<{ price: string }>('SELECT price::text AS price FROM prices WHERE id = 1');
          assert.match(shown!.price, /€/, 'a new session prints money in the locale the database sets');
          const outDir = join(work, `money-${readers}`);
          await exportSnapshot(db, { exportId: 'ls-money', database: 'shop', snapshot: { snapshotId: 's', createdAt: new Date().toISOString(), adopted: false }, outDir, readers });
          const dir = join(outDir, 'shop', 'public.prices', '1');
          const { rows } = readParquet(readdirSync(dir).map((f) => join(dir, f)));
          assert.deepEqual(rows.sort((a, b) => Number(a.id) - Number(b.id)).map((r) => r.price), ['$1,234.50', '-$3.00'], `${readers} reader(s)`);
        } finally {
          await db.close();
        }
      }
    } finally {
      await euro.stop();
    }
  });

  test('streams a table of wide rows (600 rows of 1 MB) with bounded memory: row groups are bounded in bytes, not only in rows', async () => {
    const wide = await startPostgres();
    try {
      const ROWS = 600;
      await wide.query(`CREATE TABLE docs (id int PRIMARY KEY, body text);
        INSERT INTO docs SELECT i, repeat(md5(i::text), 32768) FROM generate_series(1, ${ROWS}) AS i;`);
      const outDir = join(work, 'wide');
      const out = execFileSync(process.execPath, [join(__dirname, 'helpers', 'export-child.js'), wide.url, outDir, 'shop'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
      const figures = JSON.parse(out.trim().split('\n').at(-1)!) as { peakRssMb: number; tables: { table: string; rows: number; parts: number }[] };
      const docs = figures.tables.find((t) => t.table === 'public.docs')!;
      console.log(`export of ${docs.rows} rows of 1 MB: ${docs.parts} parts; exporter peak RSS ${figures.peakRssMb.toFixed(0)} MB`);
      assert.equal(docs.rows, ROWS);
      assert.ok(figures.peakRssMb < PEAK_RSS_LIMIT_MB, `peak RSS ${figures.peakRssMb.toFixed(0)} MB is under ${PEAK_RSS_LIMIT_MB} MB`);
      // Each value checked where it is read (the rows are too big to hand over whole).
      const dir = join(outDir, 'shop', 'public.docs', '1');
      const check = `
import hashlib, json, sys
import pyarrow.parquet as pq
ids, bad = [], []
for f in sys.argv[1:]:
    for r in pq.read_table(f).to_pylist():
        ids.append(r['id'])
        if r['body'] != hashlib.md5(str(r['id']).encode()).hexdigest() * 32768: bad.append(r['id'])
print(json.dumps({'ids': sorted(ids), 'bad': bad}))`;
      const read = JSON.parse(execFileSync(toolchain().python, ['-c', check, ...readdirSync(dir).map((f) => join(dir, f))], { encoding: 'utf8' })) as { ids: number[]; bad: number[] };
      assert.deepEqual(read.ids, Array.from({ length: ROWS }, (_, i) => i + 1), 'every row once');
      assert.deepEqual(read.bad, [], 'every value whole');
    } finally {
      await wide.stop();
    }
  });
  test('a value too large for the Parquet writer (700 MB of text, under PostgreSQL\'s 1 GB) fails its table naming the column and the limit, not a crashed writer', async () => {
    const huge = await startPostgres();
    try {
      await huge.query(`CREATE TABLE huge (id int PRIMARY KEY, note text, body text);
        INSERT INTO huge VALUES (1, 'small', 'small'), (2, 'big', repeat('a', 700 * 1024 * 1024)), (3, 'small', 'small');`);
      const outDir = join(work, 'huge');
      const child = spawnSync(process.execPath, [join(__dirname, 'helpers', 'export-child.js'), huge.url, outDir, 'shop'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
      assert.notEqual(child.status, 0, `the export did not fail: ${child.stdout}`);
      const message = child.stderr.split('\n')[0]!;
      assert.match(message, /^Error: export of public\.huge failed: a row holds 700 MB of values \(column body: 700 MB\), more than the 512 MB/, message);
      assert.doesNotMatch(child.stderr, /unreachable|Parquet writer thread stopped/);
      assert.equal(readdirSync(outDir).some((f) => f.startsWith('export_info')), false, 'no export_info is written');
    } finally {
      await huge.stop();
    }
  });
});
