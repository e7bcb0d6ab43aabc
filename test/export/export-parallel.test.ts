/**
 * The parallel export from PostgreSQL (several readers sharing one exported snapshot, tables split
 * into ctid ranges, COPY text streams): the same values as the sequential cursor path, one instant
 * for every table while another connection keeps changing them, rows in flight bounded by readers
 * x 2 row groups, and a reader that dies fails the export naming its table, leaving no export behind;
 * each with the readers in the exporting thread and in threads of their own. A cancelled export
 * stops its readers and ends canceled, in this process or another.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { localSettings } from '../../src/backends/local';
import { sourceSchema } from '../../src/config/schema';
import { exportSnapshot, type ExportOptions, type ExportSummary } from '../../src/local/export/exporter';
import { blockRanges, READER_APPLICATION_NAME, SNAPSHOT_APPLICATION_NAME } from '../../src/local/export/parallel';
import { endIdleReaderThreads, readerThreadsRunning, startReaderThread } from '../../src/local/export/threaded-reader';
import { PortError } from '../../src/errors';
import { resetRowsInFlightPeak, rowsInFlight } from '../../src/local/export/parts';
import { createExportPort, settleExports } from '../../src/local/export/task';
import { layoutOf } from '../../src/local/paths';
import { openPostgres } from '../../src/local/source/postgres';
import type { SourceDb } from '../../src/local/source/db';
import { runAtOnce } from '../helpers/at-once';
import { waitUntil, within } from '../helpers/within';
import { readParquet } from '../local/helpers/parquet';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';

const SNAPSHOT = { snapshotId: 'parallel', createdAt: '2024-05-01T00:00:00.000Z', adopted: false };

const EVERY_KIND_SQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE DOMAIN yes_no AS boolean;
CREATE TABLE kinds (
  id integer PRIMARY KEY, s smallint, i integer, b bigint, r real, d double precision, f boolean, raw bytea,
  n numeric(20, 6), m money, t text, vc varchar(40), c char(5), ts timestamp(3), tz timestamptz, dt date, tm time,
  iv interval, j jsonb, u uuid, ia integer[], ta text[], ip inet, e mood, dom positive,
  cd cidr, rg int4range, pt point, ttz timetz, bt bit(4), vb varbit, mac macaddr, x xml, nm name, ch "char",
  tv tsvector, fa boolean[], ra bytea[], ipa inet[], yn yes_no, js json
);
INSERT INTO kinds
SELECT i,
  CASE WHEN i % 7 = 0 THEN NULL WHEN i % 5 = 0 THEN -32768 ELSE (i % 32767)::smallint END,
  CASE WHEN i % 11 = 0 THEN NULL WHEN i % 13 = 0 THEN -2147483648 ELSE i * 1000 END,
  CASE WHEN i % 3 = 0 THEN -9223372036854775808 WHEN i % 3 = 1 THEN 9223372036854775807 - i ELSE -i::bigint * 123456789 END,
  CASE i % 6 WHEN 0 THEN 'NaN'::real WHEN 1 THEN 'Infinity'::real WHEN 2 THEN '-0'::real WHEN 3 THEN 1e-40::real ELSE (i / 7.0)::real END,
  CASE i % 5 WHEN 0 THEN '-Infinity'::float8 WHEN 1 THEN NULL ELSE i / 3.0 END,
  CASE i % 3 WHEN 0 THEN NULL ELSE i % 2 = 0 END,
  CASE WHEN i % 4 = 0 THEN NULL WHEN i % 4 = 1 THEN ''::bytea ELSE decode(md5(i::text), 'hex') END,
  i * 1.000001, (i % 1000) * 1.25,
  CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN E'tab\\there, newline\\nand backslash \\\\ ' || i WHEN 2 THEN 'héllo 漢字 😀 ' || i WHEN 3 THEN '' ELSE repeat('long text ', 20) || i END,
  'v' || i, CASE WHEN i % 2 = 0 THEN 'ab' END,
  TIMESTAMP '2024-02-29 12:34:56.789' + i * INTERVAL '1 minute', TIMESTAMPTZ '2024-01-01 00:00:00+05' + i * INTERVAL '1 second',
  DATE '2000-01-01' + i, TIME '10:00' + i * INTERVAL '1 second', i * INTERVAL '1 day 1 second',
  jsonb_build_object('i', i, 's', E'quote " and \\\\'), md5(i::text)::uuid,
  ARRAY[i, NULL, -i], ARRAY['a', E'b\\tc', 'd"e', NULL],
  CASE WHEN i % 2 = 0 THEN '10.0.0.1'::inet ELSE '::1/128'::inet END,
  (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::mood, 1 + i % 100,
  '10.0.0.0/8', int4range(i, i + 10), point(i, -i), TIMETZ '10:00:00+02', B'1010', B'101', '08:00:2b:01:02:03', ('<a>' || i || '</a>')::xml,
  ('name' || i)::name, CASE WHEN i % 2 = 0 THEN 'x'::"char" END, to_tsvector('simple', 'a quick fox ' || i),
  ARRAY[true, false, NULL], ARRAY[decode('00ff', 'hex'), ''::bytea], ARRAY['10.0.0.1'::inet, '::1'::inet],
  CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END, json_build_object('k', E'line\nbreak')
FROM generate_series(1, 20000) AS i;
CREATE TABLE keyless (note text, amount numeric);
INSERT INTO keyless SELECT 'row ' || i, i FROM generate_series(1, 30000) AS i;
CREATE TABLE nothing (id int PRIMARY KEY);
`;

let server: TestPostgres;
let db: SourceDb;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-export-parallel-'));
  server = await startPostgres();
  db = openPostgres(server.url);
});

after(async () => {
  await endIdleReaderThreads();
  await db?.close();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function options(name: string, extra: Partial<ExportOptions> = {}): ExportOptions {
  return { exportId: `ls-${name}`, database: 'shop', snapshot: SNAPSHOT, outDir: join(work, name), ...extra };
}

function partsOf(outDir: string, table: string): string[] {
  const dir = join(outDir, 'shop', table, '1');
  return readdirSync(dir).sort().map((f) => join(dir, f));
}

/** The source without its own connections: the exporter then takes its sequential path (one transaction, a cursor). */
function sequentialOnly(source: SourceDb): SourceDb {
  return { kind: source.kind, description: source.description, query: source.query, exec: source.exec, consistentRead: source.consistentRead, close: source.close };
}

let everyKind: Promise<unknown> | undefined;
let sequential: Promise<ExportSummary> | undefined;

/** The tables of every kind of column, created once. */
function createEveryKind(): Promise<unknown> {
  everyKind ??= server.query(EVERY_KIND_SQL);
  return everyKind;
}

/** Those tables exported by the sequential path, once (before any other table exists). */
function sequentialExport(): Promise<ExportSummary> {
  sequential ??= exportSnapshot(sequentialOnly(db), options('sequential', { rowsPerPart: 3000, rowGroupSize: 700 }));
  return sequential;
}

/** A table large enough that a reader is seen copying it. */
async function createVictim(): Promise<void> {
  await server.query(`CREATE TABLE IF NOT EXISTS victim (id bigint PRIMARY KEY, body text);
    INSERT INTO victim SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 300000) AS i ON CONFLICT DO NOTHING;`);
}

function sortedRows(outDir: string, table: string, key: string): ReturnType<typeof readParquet> {
  const contents = readParquet(partsOf(outDir, table));
  contents.rows.sort((a, b) => String(a[key]).localeCompare(String(b[key]), 'en', { numeric: true }));
  return contents;
}

/** Readers in the exporting thread, or each in a thread of its own (whatever the export's size). */
const MODES = [
  { mode: 'readers in this thread', readerThreadMinBlocks: Number.MAX_SAFE_INTEGER },
  { mode: 'readers in threads', readerThreadMinBlocks: 0 },
] as const;

describe('parallel export from PostgreSQL', () => {
  test('blockRanges: at most one range per reader, none below the minimum, the last one open-ended', () => {
    assert.deepEqual(blockRanges(0, 4, 10), [{ from: 0 }]);
    assert.deepEqual(blockRanges(25, 4, 10), [{ from: 0, to: 13 }, { from: 13 }]);
    assert.deepEqual(blockRanges(100, 3, 10), [{ from: 0, to: 34 }, { from: 34, to: 68 }, { from: 68 }]);
  });

  for (const { mode, readerThreadMinBlocks } of MODES) {
    test(`equals the sequential export value by value, for every kind of column, split into ranges (${mode})`, async () => {
      await createEveryKind();
      const name = `parallel-${readerThreadMinBlocks}`;
      const parallel = await exportSnapshot(db, options(name, { readers: 3, minRangeBlocks: 8, rowsPerPart: 3000, rowGroupSize: 700, readerThreadMinBlocks }));
      const sequential = await sequentialExport();
      for (const [table, key] of [['public.kinds', 'id'], ['public.keyless', 'note']] as const) {
        const p = sortedRows(join(work, name), table, key);
        const s = sortedRows(join(work, 'sequential'), table, key);
        assert.deepEqual(p.schema, s.schema, `${table}: same Parquet types`);
        assert.deepEqual(p.compression, ['SNAPPY']);
        assert.equal(p.rows.length, table === 'public.kinds' ? 20_000 : 30_000);
        assert.deepEqual(p.rows, s.rows, `${table}: same values`);
      }
      const kinds = parallel.tables.find((t) => t.table === 'public.kinds')!;
      assert.ok(kinds.files.length > sequential.tables.find((t) => t.table === 'public.kinds')!.files.length, `the ranges wrote parts of their own (${kinds.files.length} files)`);
      assert.deepEqual(kinds.files.map((f) => f.split('/').at(-1)!.slice(0, 10)), kinds.files.map((_, i) => `part-${String(i).padStart(5, '0')}`), 'parts are numbered 0..n-1 in order');
      const strip = (s: ExportSummary) => s.tables.map((t) => [t.table, t.rows]);
      assert.deepEqual(strip(parallel), strip(sequential));
      assert.deepEqual(parallel.primaryKeys, sequential.primaryKeys);
      assert.equal(partsOf(join(work, name), 'public.nothing').length, 1, 'an empty table still gets one (empty) part');
    });
  }

  for (const { mode, readerThreadMinBlocks } of MODES) {
    test(`every table is read at one instant while another connection keeps changing them (${mode})`, async () => {
      const ROWS = 40_000;
      await server.query(`
        DROP TABLE IF EXISTS acct_a, acct_b, clock, history;
        CREATE TABLE acct_a (id bigint PRIMARY KEY, balance bigint NOT NULL, pad text);
        CREATE TABLE acct_b (id bigint PRIMARY KEY, balance bigint NOT NULL, pad text);
        CREATE TABLE clock (id int PRIMARY KEY, seq bigint NOT NULL);
        CREATE TABLE history (seq bigint PRIMARY KEY);
        INSERT INTO acct_a SELECT i, 100, repeat('x', 60) FROM generate_series(1, ${ROWS}) AS i;
        INSERT INTO acct_b SELECT i, 100, repeat('y', 60) FROM generate_series(1, ${ROWS}) AS i;
        INSERT INTO clock VALUES (1, 0);`);
      const total = 2 * ROWS * 100;
      // Each transaction moves money or a whole row between the tables (total and row count stay the
      // same) and advances the clock, recording the step in history.
      const attacker = new pg.Client(server.url);
      await attacker.connect();
      let running = true;
      let commits = 0;
      let nextId = ROWS + 1;
      const attack = (async () => {
        for (let step = 0; running; step++) {
          const id = 1 + ((step * 7919) % ROWS);
          const [from, to] = step % 2 === 0 ? ['acct_a', 'acct_b'] : ['acct_b', 'acct_a'];
          await attacker.query('BEGIN');
          if (step % 3 === 0) {
            const moved = await attacker.query(`DELETE FROM ${from} WHERE id = (SELECT min(id) FROM ${from} WHERE id >= $1) RETURNING balance`, [id]);
            if (moved.rows.length > 0) await attacker.query(`INSERT INTO ${to} VALUES ($1, $2, 'moved')`, [nextId++, moved.rows[0].balance]);
          } else {
            await attacker.query(`UPDATE ${from} SET balance = balance - 7 WHERE id = (SELECT max(id) FROM ${from})`);
            await attacker.query(`UPDATE ${to} SET balance = balance + 7 WHERE id = (SELECT min(id) FROM ${to} WHERE id >= $1)`, [id]);
          }
          await attacker.query('UPDATE clock SET seq = seq + 1');
          await attacker.query('INSERT INTO history SELECT seq FROM clock');
          await attacker.query('COMMIT');
          commits++;
        }
      })();
      try {
        while (commits < 20) await new Promise((r) => setTimeout(r, 5));
        const before = commits;
        const outDir = join(work, `attack-${readerThreadMinBlocks}`);
        await exportSnapshot(db, {
          ...options(`attack-${readerThreadMinBlocks}`, { readers: 3, minRangeBlocks: 16, rowGroupSize: 1000, readerThreadMinBlocks }),
          tables: ['public.acct_a', 'public.acct_b', 'public.clock', 'public.history'],
          // Each finished table holds its reader until more changes commit: later ranges are read after them.
          onProgress: async () => {
            const target = commits + 5;
            while (commits < target) await new Promise((r) => setTimeout(r, 5));
          },
        });
        const during = commits - before;
        running = false;
        await attack;
        assert.ok(during >= 20, `${during} changes committed while the export ran`);
        const a = readParquet(partsOf(outDir, 'public.acct_a')).rows;
        const b = readParquet(partsOf(outDir, 'public.acct_b')).rows;
        const [clock] = readParquet(partsOf(outDir, 'public.clock')).rows;
        const history = readParquet(partsOf(outDir, 'public.history')).rows;
        const sum = [...a, ...b].reduce((n, r) => n + Number(r.balance), 0);
        assert.equal(a.length + b.length, 2 * ROWS, 'rows moved between the tables are counted once');
        assert.equal(sum, total, 'money moved between the tables is counted once');
        assert.equal(history.length, Number(clock!.seq), 'history holds exactly the steps the clock had reached');
        assert.equal(Math.max(0, ...history.map((h) => Number(h.seq))), Number(clock!.seq));
        const [live] = await server.query<{ seq: string }>('SELECT seq FROM clock');
        assert.ok(Number(live!.seq) > Number(clock!.seq), 'the source moved on after the instant the export saw');
      } finally {
        running = false;
        await attack.catch(() => undefined);
        await attacker.end();
      }
    });
  }

  for (const { mode, readerThreadMinBlocks } of MODES) {
    test(`holds exactly the rows of its instant while rows are inserted, deleted, updated and moved between ranges by a key update (${mode})`, async () => {
      const ROWS = 30_000;
      await server.query(`
        DROP TABLE IF EXISTS moving, moving_clock, moving_log;
        CREATE TABLE moving (id bigint PRIMARY KEY, v bigint NOT NULL, pad text) WITH (fillfactor = 100);
        CREATE TABLE moving_clock (id int PRIMARY KEY, seq bigint NOT NULL);
        CREATE TABLE moving_log (seq bigint PRIMARY KEY, op text NOT NULL, id bigint NOT NULL, to_id bigint, v bigint);
        INSERT INTO moving SELECT i, 0, repeat('p', 80) FROM generate_series(1, ${ROWS}) AS i;
        INSERT INTO moving_clock VALUES (1, 0);`);
      // Each transaction makes one change, logged under the next clock value: the log up to the
      // clock the export saw says what the table held at its instant.
      const writer = new pg.Client(server.url);
      await writer.connect();
      let running = true;
      let commits = 0;
      let nextId = 10 * ROWS;
      const live = new Set(Array.from({ length: ROWS }, (_, i) => i + 1));
      const pick = (step: number) => {
        const ids = [...live];
        return ids[(step * 7919) % ids.length]!;
      };
      const write = (async () => {
        for (let step = 0; running; step++) {
          await writer.query('BEGIN');
          const [{ seq }] = (await writer.query<{ seq: string }>('UPDATE moving_clock SET seq = seq + 1 RETURNING seq')).rows as [{ seq: string }];
          const kind = step % 4;
          if (kind === 0) {
            // The key update moves the row to the table's last block: from the first range to the last.
            const id = Math.min(...live);
            const to = nextId++;
            await writer.query('UPDATE moving SET id = $2 WHERE id = $1', [id, to]);
            await writer.query(`INSERT INTO moving_log VALUES ($1, 'move', $2, $3, NULL)`, [seq, id, to]);
            live.delete(id);
            live.add(to);
          } else if (kind === 1) {
            const id = pick(step);
            await writer.query('DELETE FROM moving WHERE id = $1', [id]);
            await writer.query(`INSERT INTO moving_log VALUES ($1, 'delete', $2, NULL, NULL)`, [seq, id]);
            live.delete(id);
          } else if (kind === 2) {
            const id = nextId++;
            await writer.query(`INSERT INTO moving VALUES ($1, $2, 'new')`, [id, step]);
            await writer.query(`INSERT INTO moving_log VALUES ($1, 'insert', $2, NULL, $3)`, [seq, id, step]);
            live.add(id);
          } else {
            const id = pick(step);
            await writer.query('UPDATE moving SET v = $2 WHERE id = $1', [id, step]);
            await writer.query(`INSERT INTO moving_log VALUES ($1, 'update', $2, NULL, $3)`, [seq, id, step]);
          }
          await writer.query('COMMIT');
          commits++;
        }
      })();
      const outDir = join(work, `moving-${readerThreadMinBlocks}`);
      try {
        while (commits < 20) await new Promise((r) => setTimeout(r, 5));
        const before = commits;
        await exportSnapshot(db, {
          ...options(`moving-${readerThreadMinBlocks}`, { readers: 3, minRangeBlocks: 8, rowGroupSize: 500, readerThreadMinBlocks }),
          tables: ['public.moving', 'public.moving_clock'],
          // Each finished range holds its reader until more changes commit: later ranges are read after them.
          onProgress: async () => {
            const target = commits + 10;
            while (commits < target) await new Promise((r) => setTimeout(r, 5));
          },
        });
        const during = commits - before;
        running = false;
        await write;
        assert.ok(during >= 10, `${during} changes committed while the export ran`);
      } finally {
        running = false;
        await write.catch(() => undefined);
        await writer.end();
      }
      const [clock] = readParquet(partsOf(outDir, 'public.moving_clock')).rows;
      const seen = Number(clock!.seq);
      // The table at that instant: the first rows, then every logged change up to it.
      const expected = new Map<number, number>(Array.from({ length: ROWS }, (_, i) => [i + 1, 0]));
      const log = await server.query<{ op: string; id: string; to_id: string | null; v: string | null }>('SELECT op, id, to_id, v FROM moving_log WHERE seq <= $1 ORDER BY seq', [seen]);
      assert.equal(log.length, seen);
      for (const change of log) {
        const id = Number(change.id);
        if (change.op === 'move') {
          expected.set(Number(change.to_id), expected.get(id)!);
          expected.delete(id);
        } else if (change.op === 'delete') expected.delete(id);
        else expected.set(id, Number(change.v));
      }
      const rows = readParquet(partsOf(outDir, 'public.moving')).rows;
      const exported = new Map(rows.map((r) => [Number(r.id), Number(r.v)]));
      assert.equal(rows.length, exported.size, 'no row is exported twice');
      assert.equal(rows.length, expected.size, 'as many rows as at the instant');
      assert.deepEqual([...exported].sort((a, b) => a[0] - b[0]), [...expected].sort((a, b) => a[0] - b[0]), 'the rows of the instant, with their values');
      const [now] = await server.query<{ seq: string }>('SELECT seq FROM moving_clock');
      assert.ok(Number(now!.seq) > seen, 'the source moved on after the instant the export saw');
    });
  }

  for (const { mode, readerThreadMinBlocks } of MODES) {
    test(`rows in flight never exceed readers x 2 row groups (one built, one written) (${mode})`, async () => {
      await server.query(`CREATE TABLE IF NOT EXISTS wide (id bigint PRIMARY KEY, body text);
        INSERT INTO wide SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 60000) AS i ON CONFLICT DO NOTHING;`);
      resetRowsInFlightPeak();
      const readers = 3;
      const rowGroupSize = 500;
      const summary = await exportSnapshot(db, { ...options(`bounded-${readerThreadMinBlocks}`, { readers, rowGroupSize, minRangeBlocks: 16, readerThreadMinBlocks }), tables: ['public.wide'] });
      assert.equal(summary.tables[0]!.rows, 60_000);
      assert.equal(rowsInFlight.now, 0, 'every row read was written');
      assert.ok(rowsInFlight.peak <= readers * 2 * rowGroupSize, `peak ${rowsInFlight.peak} rows in flight`);
      // The counter really counts (a full row group was held, in whichever thread); whether readers overlapped depends on the machine's load.
      assert.ok(rowsInFlight.peak >= rowGroupSize, `a full row group was held before it was written (peak ${rowsInFlight.peak})`);
    });
  }

  for (const { mode, readerThreadMinBlocks } of MODES) {
    test(`a reader that dies fails the export naming its table, and no export is left that looks complete (${mode})`, async () => {
      await createVictim();
      const killer = async (): Promise<void> => {
        // Waits for a reader to be copying the table, then ends its server process.
        for (let i = 0; i < 2000; i++) {
          const killed = await server.query<{ ok: boolean }>(
            `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'COPY%victim%' AND state = 'active'`,
            [READER_APPLICATION_NAME],
          );
          if (killed.some((k) => k.ok)) return;
          await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error('no reader was seen copying the table');
      };

      const outDir = join(work, `killed-${readerThreadMinBlocks}`);
      const [result] = await Promise.allSettled([exportSnapshot(db, { ...options(`killed-${readerThreadMinBlocks}`, { readers: 2, minRangeBlocks: 64, readerThreadMinBlocks }), tables: ['public.victim'] }), killer()]);
      assert.equal(result.status, 'rejected');
      assert.match((result as PromiseRejectedResult).reason.message, /^export of public\.victim failed: .*terminat/);
      assert.equal(existsSync(join(outDir, `export_info_ls-killed-${readerThreadMinBlocks}.json`)), false, 'no export_info is written');
      // The other reader's backend leaves pg_stat_activity a moment after its connection closed: the
      // killer below must not find it still copying and end it in place of the port's reader.
      await readerConnectionsGone();

      // Through the export port, as the workflow sees it: failed, with the cause, and no export folder.
      const layout = layoutOf(join(work, `port-${readerThreadMinBlocks}`));
      const port = createExportPort(layout, { database: 'shop', source: async () => db, tuning: { readers: 2, readerThreadMinBlocks } });
      const killing = killer();
      await port.startExport({ source: 'shop', exportId: 'ls-port-killed', snapshot: SNAPSHOT, tables: ['public.victim'] });
      await killing;
      await settleExports();
      const status = await port.describeExport('ls-port-killed');
      assert.equal(status.state, 'failed');
      assert.match(status.failureCause ?? '', /export of public\.victim failed/);
      assert.equal(existsSync(join(layout.exports, 'ls-port-killed')), false, 'no export folder');
      assert.equal(existsSync(join(layout.exports, 'ls-port-killed.partial')), false, 'the partial folder is removed');
      await readerConnectionsGone();
    });
  }

  /**
   * Waits until no reader connection is left. A reader stopped in a thread closes its socket as the
   * thread ends; the server's backend notices and leaves pg_stat_activity a moment later.
   */
  async function readerConnectionsGone(): Promise<void> {
    const left = async () => Number((await server.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [READER_APPLICATION_NAME]))[0]!.n);
    await waitUntil(async () => (await left()) === 0, 'every reader connection is closed', 10_000);
  }

  /** Waits until a reader (whose application name is READER_APPLICATION_NAME) is copying `table`. */
  async function readerCopying(table: string): Promise<void> {
    for (let i = 0; i < 3000; i++) {
      const active = await server.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE $2 AND state = 'active'`,
        [READER_APPLICATION_NAME, `COPY%${table}%`],
      );
      if (Number(active[0]!.n) > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no reader was seen copying ${table}`);
  }

  /** Whether a connection of the export (by its application name) waits for a lock on `table`. */
  async function waitingForLock(applicationName: string, table: string): Promise<boolean> {
    const [row] = await server.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
        WHERE a.application_name = $1 AND NOT l.granted AND l.relation = $2::regclass`,
      [applicationName, table],
    );
    return Number(row!.n) > 0;
  }

  for (const { mode, readerThreadMinBlocks } of MODES) {
    test(`a cancelled export stops its readers, ends canceled with no folder, and is never started again (${mode})`, async () => {
      await createVictim();
      const layout = layoutOf(join(work, `cancel-${readerThreadMinBlocks}`));
      const port = createExportPort(layout, { database: 'shop', source: async () => db, tuning: { readers: 2, readerThreadMinBlocks } });
      const exportId = `ls-cancelled-${readerThreadMinBlocks}`;
      const request = { source: 'shop', exportId, snapshot: SNAPSHOT, tables: ['public.victim'] };
      await port.startExport(request);
      await readerCopying('victim');
      // Returns once the export has stopped (it runs in this process).
      await port.cancelExport!(exportId);
      const status = await port.describeExport(exportId);
      assert.equal(status.state, 'canceled', `the export was not cancelled: ${JSON.stringify(status)}`);
      assert.equal(status.failureCause, 'the export task was cancelled');
      assert.equal(existsSync(join(layout.exports, exportId)), false, 'no export folder');
      assert.equal(existsSync(join(layout.exports, `${exportId}.partial`)), false, 'the partial folder is removed');
      await readerConnectionsGone();

      // A start retried with its id adopts it, as RDS does: still cancelled, nothing read again.
      const again = await port.startExport(request);
      assert.equal(again.adopted, true);
      await settleExports();
      assert.equal((await port.describeExport(exportId)).state, 'canceled', 'a cancelled export was started again');
      // Cancelling it again, or an export never started, is no error (as RDS: nothing to stop).
      await port.cancelExport!(exportId);
      await port.cancelExport!('ls-never-started');
      await assert.rejects(port.describeExport('ls-never-started'), /not known/);
    });
  }

  test('an export another process runs is cancelled through its cancel file, and stops inside the table it reads', async () => {
    await createVictim();
    await server.query('CREATE TABLE IF NOT EXISTS wait_after_victim (id int PRIMARY KEY); INSERT INTO wait_after_victim VALUES (1) ON CONFLICT DO NOTHING');
    const layoutDir = join(work, 'cancel-elsewhere');
    const exportId = 'ls-cancelled-elsewhere';
    const script = `
      const { createExportPort, settleExports } = require(${JSON.stringify(join(__dirname, '../../src/local/export/task.js'))});
      const { layoutOf } = require(${JSON.stringify(join(__dirname, '../../src/local/paths.js'))});
      const { openPostgres } = require(${JSON.stringify(join(__dirname, '../../src/local/source/postgres.js'))});
      const db = openPostgres(process.env.SOURCE_URL);
      const port = createExportPort(layoutOf(process.env.LAYOUT_DIR), { database: 'shop', source: async () => db, tuning: { readers: 2 } });
      port.startExport(JSON.parse(process.env.REQUEST))
        .then(() => settleExports())
        .then(() => port.describeExport(process.env.EXPORT_ID))
        .then(async (status) => { await db.close(); console.log(JSON.stringify(status)); });`;
    const request = { source: 'shop', exportId, snapshot: SNAPSHOT, tables: ['public.victim', 'public.wait_after_victim'] };
    const env = { ...process.env, SOURCE_URL: server.url, LAYOUT_DIR: layoutDir, EXPORT_ID: exportId, REQUEST: JSON.stringify(request) };
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    try {
      await readerCopying('victim');
      // Queued behind the export's own share lock, this lock request holds back every later
      // reader of wait_after_victim: the export cannot finish its next table until it stops.
      const locked = blocker.query('BEGIN; LOCK TABLE wait_after_victim IN ACCESS EXCLUSIVE MODE').catch((err: Error) => err);
      await waitUntil(() => waitingForLock(READER_APPLICATION_NAME, 'wait_after_victim'), 'a reader waiting for wait_after_victim');
      const port = createExportPort(layoutOf(layoutDir), { database: 'shop', source: async () => db });
      await port.cancelExport!(exportId);
      const [code] = await within(60_000, 'the exporting process, stopped inside a table', once(child, 'close'));
      assert.equal(code, 0);
      assert.equal(JSON.parse(out).state, 'canceled', `the other process did not stop its export: ${out}`);
      assert.equal(existsSync(join(layoutOf(layoutDir).exports, exportId)), false, 'no export folder');
      assert.equal(await locked instanceof Error, false, 'the lock is granted once the export has let go');
    } finally {
      child.kill('SIGKILL');
      await blocker.end();
    }
  });

  /** Whether a TRUNCATE of `table` waits for a lock (another session holds one). */
  async function truncateWaiting(table: string): Promise<boolean> {
    const [row] = await server.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE a.query LIKE 'TRUNCATE%' AND NOT l.granted AND l.relation = $1::regclass`,
      [table],
    );
    return Number(row!.n) > 0;
  }

  for (const path of ['parallel', 'sequential'] as const) {
    test(`${path}: a TRUNCATE sent while the export runs waits for it; the table is never exported emptied`, async () => {
      const [a, b] = [`trunc_a_${path}`, `trunc_b_${path}`];
      await server.query(`CREATE TABLE ${a} (id int PRIMARY KEY); INSERT INTO ${a} SELECT generate_series(1, 10);
        CREATE TABLE ${b} (id int PRIMARY KEY); INSERT INTO ${b} SELECT generate_series(1, 1000);`);
      const other = new pg.Client({ connectionString: server.url });
      await other.connect();
      let truncate: Promise<unknown> | undefined;
      try {
        const source = path === 'parallel' ? db : sequentialOnly(db);
        const exported = exportSnapshot(source, options(`truncate-${path}`, {
          readers: 1,
          tables: [`public.${a}`, `public.${b}`],
          // After the first table, before the second is read: TRUNCATE is not MVCC-safe; it must wait for the export.
          onProgress: async ({ tablesDone }) => {
            if (tablesDone !== 1 || truncate) return;
            truncate = other.query(`TRUNCATE ${b}`);
            await waitUntil(() => truncateWaiting(b), `the TRUNCATE of ${b} waiting for the export`);
          },
        })).then((summary) => summary, (err: unknown) => err as Error);
        const outcome = await within(60_000, 'the export', exported);
        if (path === 'sequential') {
          // One session reads every table under the locks it holds: the export ends, as of its snapshot.
          assert.ok(!(outcome instanceof Error), String(outcome));
          assert.deepEqual(Object.fromEntries(outcome.tables.map((t) => [t.table, t.rows])), { [`public.${a}`]: 10, [`public.${b}`]: 1000 });
        } else {
          // A reader's own lock would queue behind the TRUNCATE, which waits for the export: it stops instead, naming both.
          assert.ok(outcome instanceof Error, 'the export stops rather than wait forever');
          assert.match(outcome.message, new RegExp(`^export of public\\.${b} failed: another session waits to lock public\\.${b} exclusively \\(TRUNCATE`));
        }
        await within(30_000, 'the TRUNCATE once the export ended', truncate!);
        assert.deepEqual(await server.query(`SELECT count(*)::int AS n FROM ${b}`), [{ n: 0 }], 'the TRUNCATE ran after the export');
      } finally {
        await other.end();
      }
    });
  }

  test('a table truncated between the snapshot and the lock fails the export naming it, instead of exporting it empty', async () => {
    await server.query('CREATE TABLE trunc_race (id int PRIMARY KEY); INSERT INTO trunc_race SELECT generate_series(1, 100);');
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    try {
      // The TRUNCATE holds its lock, uncommitted, while the export takes its snapshot and waits to lock the table.
      await blocker.query('BEGIN; TRUNCATE trunc_race');
      const running = exportSnapshot(db, options('truncate-race', { readers: 1, tables: ['public.trunc_race'] })).then(
        () => undefined,
        (err: unknown) => err,
      );
      await waitUntil(() => waitingForLock(SNAPSHOT_APPLICATION_NAME, 'trunc_race'), 'the export waiting to lock trunc_race');
      await blocker.query('COMMIT');
      const err = await within(30_000, 'the export once the TRUNCATE committed', running);
      assert.ok(err instanceof Error, 'the export of a table emptied after its snapshot must fail');
      assert.match(err.message, /^export failed: public\.trunc_race was truncated or rewritten after the export's snapshot was taken/);
    } finally {
      await blocker.end();
    }
  });

  for (const { change, waitsOn, named } of [
    { change: 'TRUNCATE part_race', waitsOn: 'part_race', named: 'public\\.part_race' },
    { change: 'TRUNCATE part_race_hi', waitsOn: 'part_race_hi', named: 'public\\.part_race \\(its partition public\\.part_race_hi\\)' },
    { change: 'ALTER TABLE part_race DETACH PARTITION part_race_hi', waitsOn: 'part_race', named: 'public\\.part_race' },
  ]) {
    test(`a partitioned table changed between the snapshot and the lock (${change}) fails the export naming it, instead of exporting it short`, async () => {
      await server.query(`DROP TABLE IF EXISTS part_race, part_race_hi;
        CREATE TABLE part_race (id int, k int) PARTITION BY RANGE (k);
        CREATE TABLE part_race_lo PARTITION OF part_race FOR VALUES FROM (0) TO (100);
        CREATE TABLE part_race_hi PARTITION OF part_race FOR VALUES FROM (100) TO (200);
        INSERT INTO part_race SELECT i, i FROM generate_series(0, 199) AS i;`);
      const blocker = new pg.Client({ connectionString: server.url });
      await blocker.connect();
      try {
        // The change holds its locks, uncommitted, while the export takes its snapshot and waits to lock the table.
        await blocker.query(`BEGIN; ${change}`);
        const running = exportSnapshot(db, options(`part-race-${waitsOn}-${change.length}`, { readers: 1, tables: ['public.part_race'] })).then(
          (summary) => summary,
          (err: unknown) => err as Error,
        );
        await waitUntil(() => waitingForLock(SNAPSHOT_APPLICATION_NAME, waitsOn), `the export waiting to lock ${waitsOn}`);
        await blocker.query('COMMIT');
        const outcome = await within(30_000, 'the export once the change committed', running);
        assert.ok(outcome instanceof Error, `the export of a table changed after its snapshot must fail, not export ${JSON.stringify('tables' in outcome ? outcome.tables.map((t) => [t.table, t.rows]) : outcome)}`);
        assert.match(outcome.message, new RegExp(`^export failed: ${named} .*after the export's snapshot was taken`));
      } finally {
        await blocker.end();
      }
    });
  }

  test('a table attached as a partition while the export runs does not bring its rows into the partitioned table', async () => {
    await server.query(`DROP TABLE IF EXISTS attach_first, attach_parts, attach_loose;
      CREATE TABLE attach_first (id int PRIMARY KEY); INSERT INTO attach_first SELECT generate_series(1, 10);
      CREATE TABLE attach_parts (id int, k int) PARTITION BY RANGE (k);
      CREATE TABLE attach_parts_lo PARTITION OF attach_parts FOR VALUES FROM (0) TO (100);
      INSERT INTO attach_parts SELECT i, i FROM generate_series(0, 99) AS i;
      CREATE TABLE attach_loose (id int, k int); INSERT INTO attach_loose SELECT i, i FROM generate_series(100, 149) AS i;`);
    const other = new pg.Client({ connectionString: server.url });
    await other.connect();
    try {
      let attached = false;
      const outcome = await exportSnapshot(db, options('attach-race', {
        readers: 1,
        // attach_loose is outside the export: its rows must not leave the database through attach_parts.
        tables: ['public.attach_first', 'public.attach_parts'],
        onProgress: async ({ tablesDone }) => {
          if (tablesDone !== 1 || attached) return;
          attached = true;
          await other.query('ALTER TABLE attach_parts ATTACH PARTITION attach_loose FOR VALUES FROM (100) TO (200)');
        },
      })).then((summary) => summary, (err: unknown) => err as Error);
      assert.ok(attached, 'the partition was attached while the export ran');
      if (outcome instanceof Error) assert.match(outcome.message, /^export failed: public\.attach_parts .*after the export's snapshot was taken/);
      else assert.equal(outcome.tables.find((t) => t.table === 'public.attach_parts')?.rows, 100, 'attach_parts as of the snapshot: its 100 rows, none of attach_loose');
    } finally {
      await other.end();
    }
  });

  test('an export waiting for a table another session holds locked is cancelled at once, in the server too, before any reader starts', async () => {
    await createVictim();
    const layout = layoutOf(join(work, 'cancel-locked'));
    const port = createExportPort(layout, { database: 'shop', source: async () => db, tuning: { readers: 2 } });
    const exportId = 'ls-cancelled-locked';
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN; LOCK TABLE victim IN ACCESS EXCLUSIVE MODE');
      await port.startExport({ source: 'shop', exportId, snapshot: SNAPSHOT, tables: ['public.victim'] });
      await waitUntil(() => waitingForLock(SNAPSHOT_APPLICATION_NAME, 'victim'), 'the export waiting for the lock on victim');
      await within(60_000, 'the cancel of an export waiting for a lock', port.cancelExport!(exportId));
      const status = await port.describeExport(exportId);
      assert.equal(status.state, 'canceled', `the export was not cancelled: ${JSON.stringify(status)}`);
      assert.equal(status.failureCause, 'the export task was cancelled');
      assert.equal(existsSync(join(layout.exports, `${exportId}.partial`)), false, 'the partial folder is removed');
      // The lock is still held: the server must have stopped the export's wait too, not left it queued with its snapshot.
      await waitUntil(async () => !(await waitingForLock(SNAPSHOT_APPLICATION_NAME, 'victim')), "the cancelled export's wait for victim ended in the server", 10_000);
    } finally {
      await blocker.end();
      await settleExports();
    }
  });

  test('a cancel asked of a live process leaves its task file to it; should it die before it stops, no describe starts the export again', async () => {
    const layout = layoutOf(join(work, 'cancel-then-die'));
    const port = createExportPort(layout, { database: 'shop', source: async () => db });
    // The owner: a live process that has not yet looked for a cancel.
    const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      const exportId = 'ls-cancel-then-die';
      mkdirSync(layout.exportTasks, { recursive: true });
      const taskFile = join(layout.exportTasks, `${exportId}.json`);
      const task = { exportId, snapshot: SNAPSHOT, tables: ['public.victim'], state: 'in_progress', percentProgress: 0, ownerPid: owner.pid, startedAt: new Date().toISOString() };
      writeFileSync(taskFile, JSON.stringify(task));

      await port.cancelExport!(exportId);
      // Only the owner writes its task file: a cancel written into it could be lost under the
      // owner's next progress save, or put back in progress a task the owner just ended.
      assert.deepEqual(JSON.parse(readFileSync(taskFile, 'utf8')), task, 'the cancel rewrote the task file of the process that runs it');

      owner.kill('SIGKILL');
      await once(owner, 'exit');
      const status = await port.describeExport(exportId);
      await settleExports();
      assert.equal(status.state, 'canceled', `an export cancelled before its process died was started again: ${JSON.stringify(status)}`);
      assert.equal(status.failureCause, 'the export task was cancelled');
      assert.equal(existsSync(join(layout.exports, exportId)), false, 'no export folder');
    } finally {
      owner.kill('SIGKILL');
    }
  });

  test('an export whose process died after moving its folder into place, before recording it complete, is started again and completes', async () => {
    await server.query(`CREATE TABLE IF NOT EXISTS moved_into_place (id int PRIMARY KEY); INSERT INTO moved_into_place SELECT generate_series(1, 10) ON CONFLICT DO NOTHING;`);
    const layout = layoutOf(join(work, 'died-after-rename'));
    const port = createExportPort(layout, { database: 'shop', source: async () => db });
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const exportId = 'ls-died-after-rename';
    // What the dead process left: its export folder in place, its task still in progress.
    const previous = join(layout.exports, exportId, 'shop', 'public.moved_into_place', '1');
    mkdirSync(previous, { recursive: true });
    writeFileSync(join(previous, 'part-00000-left-by-the-dead-process.gz.parquet'), 'not read');
    mkdirSync(layout.exportTasks, { recursive: true });
    const task = { exportId, snapshot: SNAPSHOT, tables: ['public.moved_into_place'], state: 'in_progress', percentProgress: 100, ownerPid: gone.pid, startedAt: new Date().toISOString() };
    writeFileSync(join(layout.exportTasks, `${exportId}.json`), JSON.stringify(task));

    await port.describeExport(exportId);
    await settleExports();
    const status = await port.describeExport(exportId);
    assert.equal(status.state, 'complete', `the export started again must complete: ${JSON.stringify(status)}`);
    assert.deepEqual(readdirSync(join(layout.exports, exportId, 'shop', 'public.moved_into_place', '1')).filter((f) => f.includes('dead-process')), [], 'the folder is the new run\'s');
    assert.equal(existsSync(join(layout.exports, `${exportId}.partial`)), false);
  });

  test('an export whose process is gone is cancelled where it lies: no later describe starts it again', async () => {
    const layout = layoutOf(join(work, 'cancel-orphaned'));
    const port = createExportPort(layout, { database: 'shop', source: async () => db });
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const exportId = 'ls-cancelled-orphaned';
    const partial = join(layout.exports, `${exportId}.partial`);
    mkdirSync(partial, { recursive: true });
    mkdirSync(layout.exportTasks, { recursive: true });
    const task = { exportId, snapshot: SNAPSHOT, tables: ['public.victim'], state: 'in_progress', percentProgress: 0, ownerPid: gone.pid, startedAt: new Date().toISOString() };
    writeFileSync(join(layout.exportTasks, `${exportId}.json`), JSON.stringify(task));

    await port.cancelExport!(exportId);
    const status = await port.describeExport(exportId);
    await settleExports();
    assert.equal(status.state, 'canceled', `the export of a dead process was started again: ${JSON.stringify(status)}`);
    assert.equal(existsSync(partial), false, 'its partial folder is removed');
    assert.equal(existsSync(join(layout.exports, exportId)), false, 'no export folder');
  });

  for (const path of ['parallel', 'sequential'] as const) {
    test(`${path}: a table the source user may not read is skipped, saying what to grant, and the other tables are exported`, async () => {
      await server.query(`DROP TABLE IF EXISTS priv_open, priv_closed, priv_columns; DROP ROLE IF EXISTS limited_${path};
        CREATE ROLE limited_${path} LOGIN;
        CREATE TABLE priv_open (id int PRIMARY KEY, note text); INSERT INTO priv_open SELECT i, 'n' || i FROM generate_series(1, 20) AS i;
        CREATE TABLE priv_closed (id int PRIMARY KEY, secret text); INSERT INTO priv_closed VALUES (1, 's');
        CREATE TABLE priv_columns (id int PRIMARY KEY, shown text, hidden text); INSERT INTO priv_columns VALUES (1, 'a', 'h');
        GRANT SELECT ON priv_open TO limited_${path}; GRANT SELECT (id, shown) ON priv_columns TO limited_${path};`);
      const limited = openPostgres(server.url.replace('postgres@', `limited_${path}@`));
      try {
        const source = path === 'parallel' ? limited : sequentialOnly(limited);
        const outDir = join(work, `privileges-${path}`);
        const tables = ['public.priv_closed', 'public.priv_columns', 'public.priv_open'];
        const outcome = await exportSnapshot(source, options(`privileges-${path}`, { readers: 2, tables })).catch((err: unknown) => err as Error);
        assert.ok(!(outcome instanceof Error), `one unreadable table must not fail the whole export: ${outcome instanceof Error ? outcome.message : ''}`);
        assert.deepEqual(outcome.tables.map((t) => [t.table, t.rows]), [['public.priv_open', 20]]);
        assert.deepEqual(outcome.skipped.map((s) => s.table), ['public.priv_closed', 'public.priv_columns']);
        for (const s of outcome.skipped) assert.match(s.reason, new RegExp(`limited_${path} may not read ${s.table.replace('.', '\\.')} .*GRANT SELECT ON ${s.table.replace('.', '\\.')} TO limited_${path}.*or exclude`));
        assert.deepEqual(readdirSync(join(outDir, 'shop')), ['public.priv_open'], 'nothing is written for the tables not read');
        const info = JSON.parse(readFileSync(join(outDir, `export_tables_info_ls-privileges-${path}_from_1_to_3.json`), 'utf8')) as { perTableStatus: { target: string; status: string }[] };
        assert.deepEqual(info.perTableStatus.map((e) => [e.target, e.status]), [['shop.public.priv_closed', 'SKIPPED'], ['shop.public.priv_columns', 'SKIPPED'], ['shop.public.priv_open', 'COMPLETE']]);
      } finally {
        await limited.close();
      }
    });
  }

  for (const path of ['parallel', 'sequential'] as const) {
    test(`${path}: a table whose rows row-level security hides from the source user is skipped, not exported short`, async () => {
      await server.query(`DROP TABLE IF EXISTS rls_rows, rls_open; DROP ROLE IF EXISTS tenant_${path};
        CREATE ROLE tenant_${path} LOGIN;
        CREATE TABLE rls_rows (id int PRIMARY KEY, tenant text); INSERT INTO rls_rows SELECT i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 100) AS i;
        ALTER TABLE rls_rows ENABLE ROW LEVEL SECURITY; CREATE POLICY only_a ON rls_rows FOR SELECT USING (tenant = 'a');
        CREATE TABLE rls_open (id int PRIMARY KEY); INSERT INTO rls_open SELECT generate_series(1, 7);
        GRANT SELECT ON rls_rows, rls_open TO tenant_${path};`);
      const tenant = openPostgres(server.url.replace('postgres@', `tenant_${path}@`));
      try {
        const source = path === 'parallel' ? tenant : sequentialOnly(tenant);
        const summary = await exportSnapshot(source, options(`row-security-${path}`, { readers: 2, tables: ['public.rls_open', 'public.rls_rows'] }));
        assert.deepEqual(summary.tables.map((t) => [t.table, t.rows]), [['public.rls_open', 7]], 'a table read short (50 of its 100 rows) must not be exported as complete');
        assert.deepEqual(summary.skipped.map((s) => s.table), ['public.rls_rows']);
        assert.match(summary.skipped[0]!.reason, new RegExp(`row-level security hides rows of public\\.rls_rows from the source user tenant_${path}.*BYPASSRLS.*or exclude`));
        // The table's owner reads every row.
        const owner = await exportSnapshot(path === 'parallel' ? db : sequentialOnly(db), options(`row-security-owner-${path}`, { readers: 2, tables: ['public.rls_rows'] }));
        assert.deepEqual(owner.tables.map((t) => [t.table, t.rows]), [['public.rls_rows', 100]]);
      } finally {
        await tenant.close();
      }
    });
  }

  for (const path of ['parallel', 'sequential'] as const) {
    test(`${path}: statement and idle-in-transaction timeouts set for the source user do not cut a long export short`, async () => {
      await createVictim();
      const role = `hurried_${path}`;
      await server.query(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN; GRANT SELECT ON victim TO ${role};
        ALTER ROLE ${role} SET statement_timeout = '300ms'; ALTER ROLE ${role} SET idle_in_transaction_session_timeout = '300ms';`);
      const hurried = openPostgres(server.url.replace('postgres@', `${role}@`));
      try {
        const source = path === 'parallel' ? hurried : sequentialOnly(hurried);
        const outcome = await exportSnapshot(source, options(`timeouts-${path}`, { readers: 2, tables: ['public.victim'] })).catch((err: unknown) => err as Error);
        assert.ok(!(outcome instanceof Error), `the export failed: ${outcome instanceof Error ? outcome.message : ''}`);
        assert.deepEqual(outcome.tables.map((t) => [t.table, t.rows]), [['public.victim', 300_000]]);
      } finally {
        await hurried.close();
      }
    });
  }

  for (const path of ['parallel', 'sequential'] as const) {
    test(`${path}: a table with inheriting tables exports its own rows only: an excluded child's rows never leave through it, an exported child's are not exported twice`, async () => {
      await server.query(`DROP TABLE IF EXISTS inh_parent CASCADE;
        CREATE TABLE inh_parent (id int, note text);
        CREATE TABLE inh_child_pii (ssn text) INHERITS (inh_parent);
        CREATE TABLE inh_child (extra int) INHERITS (inh_parent);
        INSERT INTO inh_parent VALUES (1, 'parent');
        INSERT INTO inh_child_pii VALUES (2, 'private', '123-45-6789');
        INSERT INTO inh_child VALUES (3, 'child', 7);`);
      const source = path === 'parallel' ? db : sequentialOnly(db);
      const outDir = join(work, `inherits-${path}`);
      // inh_child_pii is outside the export.
      const summary = await exportSnapshot(source, options(`inherits-${path}`, { readers: 2, tables: ['public.inh_child', 'public.inh_parent'] }));
      assert.deepEqual(summary.tables.map((t) => [t.table, t.rows]), [['public.inh_child', 1], ['public.inh_parent', 1]]);
      assert.deepEqual(readParquet(partsOf(outDir, 'public.inh_parent')).rows, [{ id: 1, note: 'parent' }]);
      assert.deepEqual(readParquet(partsOf(outDir, 'public.inh_child')).rows, [{ id: 3, note: 'child', extra: 7 }]);
    });
  }

  test('an export id RDS would refuse is refused before any file is written', async () => {
    const layout = layoutOf(join(work, 'bad-id'));
    const port = createExportPort(layout, { database: 'shop', source: async () => db });
    for (const exportId of ['../escape', '1starts-with-a-digit', 'has space', 'x'.repeat(61), '']) {
      await assert.rejects(port.startExport({ source: 'shop', exportId, snapshot: SNAPSHOT, tables: ['public.victim'] }), (err: PortError) => {
        assert.equal(err.code, 'InvalidParameterValue');
        assert.match(err.message, /is not valid: a letter, then up to 59 letters, digits or hyphens/);
        return true;
      });
    }
    assert.equal(existsSync(layout.root), false, `files were written for a refused export: ${existsSync(layout.exportTasks) ? readdirSync(layout.exportTasks) : ''}`);
  });

  test('processes asking at once about an export whose process is gone start it again once, and a new export id is started once', async () => {
    await server.query('CREATE TABLE IF NOT EXISTS small_one (id int PRIMARY KEY); INSERT INTO small_one SELECT generate_series(1, 50) ON CONFLICT DO NOTHING');
    const script = `
      const { createExportPort, settleExports } = require(${JSON.stringify(join(__dirname, '../../src/local/export/task.js'))});
      const { layoutOf } = require(${JSON.stringify(join(__dirname, '../../src/local/paths.js'))});
      const { openPostgres } = require(${JSON.stringify(join(__dirname, '../../src/local/source/postgres.js'))});
      const db = openPostgres(process.env.SOURCE_URL);
      let started = 0;
      const port = createExportPort(layoutOf(process.env.LAYOUT_DIR), { database: 'shop', source: async () => db, log: (l) => { if (l.includes('reading')) started += 1; } });
      const request = JSON.parse(process.env.REQUEST);
      // Every process asks at the same instant.
      while (Date.now() < Number(process.env.AT));
      (process.env.ASK === 'start' ? port.startExport(request) : port.describeExport(request.exportId))
        .then(() => settleExports())
        .then(async () => { await db.close(); console.log(JSON.stringify({ started })); });`;
    const ask = async (layoutDir: string, request: object, how: 'start' | 'describe'): Promise<number> => {
      const outs = await runAtOnce<{ started: number }>(script, { SOURCE_URL: server.url, LAYOUT_DIR: layoutDir, REQUEST: JSON.stringify(request), ASK: how }, 'the processes asking about the export');
      return outs.reduce((n, o) => n + o.started, 0);
    };
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    for (let round = 0; round < 2; round++) {
      const layoutDir = join(work, `takeover-${round}`);
      const layout = layoutOf(layoutDir);
      const request = { source: 'shop', exportId: `ls-takeover-${round}`, snapshot: SNAPSHOT, tables: ['public.small_one'] };
      mkdirSync(layout.exportTasks, { recursive: true });
      writeFileSync(join(layout.exportTasks, `${request.exportId}.json`), JSON.stringify({ ...request, state: 'in_progress', percentProgress: 0, ownerPid: gone.pid, startedAt: new Date().toISOString() }));
      assert.equal(await ask(layoutDir, request, 'describe'), 1, `round ${round}: the orphaned export was started again by more than one process`);
      const fresh = { ...request, exportId: `ls-fresh-${round}` };
      assert.equal(await ask(layoutDir, fresh, 'start'), 1, `round ${round}: a new export was started by more than one process`);
      for (const exportId of [request.exportId, fresh.exportId]) {
        const rows = readParquet(partsOf(join(layout.exports, exportId), 'public.small_one')).rows.length;
        assert.equal(rows, 50, `${exportId}: the export holds ${rows} rows of 50`);
      }
    }
  });

  test('reader threads serve one export after another: none is left connected, none piles up', async () => {
    await createEveryKind();
    await endIdleReaderThreads();
    for (const round of [1, 2, 3]) {
      const summary = await exportSnapshot(db, { ...options(`threads-${round}`, { readers: 2, minRangeBlocks: 8, readerThreadMinBlocks: 0 }), tables: ['public.kinds'] });
      assert.equal(summary.tables[0]!.rows, 20_000);
      assert.equal(readerThreadsRunning(), 2, `after export ${round}: the two threads wait for the next export`);
      const [left] = await server.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [READER_APPLICATION_NAME]);
      assert.equal(Number(left!.n), 0, `after export ${round}: every reader connection is closed`);
    }
    await endIdleReaderThreads();
    assert.equal(readerThreadsRunning(), 0);
  });

  test('a process whose export used reader threads exits when its work is done: idle threads do not hold it', async () => {
    await createEveryKind();
    const exporter = join(__dirname, '../../src/local/export/exporter.js');
    const postgres = join(__dirname, '../../src/local/source/postgres.js');
    const threads = join(__dirname, '../../src/local/export/threaded-reader.js');
    const script = `
      const { exportSnapshot } = require(${JSON.stringify(exporter)});
      const { openPostgres } = require(${JSON.stringify(postgres)});
      const { readerThreadsRunning } = require(${JSON.stringify(threads)});
      const db = openPostgres(process.env.SOURCE_URL);
      exportSnapshot(db, JSON.parse(process.env.EXPORT_OPTIONS)).then(async (summary) => {
        await db.close();
        console.log(JSON.stringify({ rows: summary.tables[0].rows, threads: readerThreadsRunning() }));
      });`;
    const exportOptions = { ...options('exits', { readers: 2, minRangeBlocks: 8, readerThreadMinBlocks: 0 }), tables: ['public.kinds'] };
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, SOURCE_URL: server.url, EXPORT_OPTIONS: JSON.stringify(exportOptions) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      // An idle thread that held the process would keep it for IDLE_THREAD_MS (a minute).
      const [code] = await within(30_000, 'the exporting process', once(child, 'close'));
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(out), { rows: 20_000, threads: 2 }, 'the export ran in two threads, left idle when the process exited');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a reader thread that cannot connect or join fails with the cause, its kind kept across the thread', async () => {
    const missing = new URL(server.url);
    missing.pathname = '/no_such_database';
    const refused = await startReaderThread(missing.toString(), '00000003-00000002-1').then(
      () => assert.fail('a reader joined a database that does not exist'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof PortError, `a PortError, not ${String(refused)}`);
    assert.equal(refused.kind, 'validation');
    assert.equal(refused.code, 'SourceDatabaseMissing');
    assert.match(refused.message, /no_such_database.*check the database name in source\.url$/);
    await assert.rejects(startReaderThread(server.url, '00000003-00000002-1'), /^Error: export failed: a reader could not join the export's snapshot \(.*\); the connection holding it may have ended: run it again$/);
    const [left] = await server.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [READER_APPLICATION_NAME]);
    assert.equal(Number(left!.n), 0, 'the connection that could not join is closed');
  });

  test('the connection holding the snapshot dying fails the export, though the readers finished', async () => {
    await createVictim();
    const killCoordinator = async (): Promise<void> => {
      for (let i = 0; i < 2000; i++) {
        const copying = await server.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'COPY%victim%'`, [READER_APPLICATION_NAME]);
        if (copying.length > 0) {
          await server.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [SNAPSHOT_APPLICATION_NAME]);
          return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no reader was seen copying the table');
    };
    const [result] = await Promise.allSettled([exportSnapshot(db, { ...options('orphaned', { readers: 2, minRangeBlocks: 64 }), tables: ['public.victim'] }), killCoordinator()]);
    assert.equal(result.status, 'rejected');
    assert.match((result as PromiseRejectedResult).reason.message, /^export failed: the connection holding its snapshot ended before the export did .*run it again$/);
    assert.equal(existsSync(join(work, 'orphaned', 'export_info_ls-orphaned.json')), false, 'no export_info is written');
  });
});

describe('export readers in lakesync.yaml', () => {
  test('local.exportReaders reaches the local settings; 0 is rejected with the rule', () => {
    const base = { database: 'shop', source: { kind: 'postgres', url: 'postgres://u@127.0.0.1:5432/shop' }, target: { namespace: 'shop' } };
    const parsed = sourceSchema.parse({ ...base, local: { exportReaders: 3 } });
    assert.equal(localSettings('shop', parsed, '/tmp/data').exportReaders, 3);
    assert.equal(localSettings('shop', sourceSchema.parse(base), '/tmp/data').exportReaders, undefined, 'absent: the exporter picks from the core count');
    const bad = sourceSchema.safeParse({ ...base, local: { exportReaders: 0 } });
    assert.equal(bad.success, false);
    assert.match(JSON.stringify(bad.error?.issues), /exportReaders.*must be at least 1/);
  });
});
