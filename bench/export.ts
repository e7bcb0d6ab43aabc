/**
 * `npm run bench:export`: the embedded exporter's rows/s against PostgreSQL's own
 * `COPY (SELECT * FROM <table>) TO STDOUT` of the same table, side by side in one run, on a
 * private PostgreSQL server (Debian's, as the tests start it) and one table of 1M rows of several
 * column types. Each round times COPY (its bytes read and dropped by the client), then the full
 * export (Parquet part files on disk), in alternating order, each with the CPU time this process
 * used; the headline ratio is the median of the rounds' ratios. Target: the exporter reaches at
 * least half of COPY's rows/s.
 * A profile splits the exporter's time: COPY of its own text query (server and transfer),
 * the same plus parsing the fields into column buffers (no Parquet), and the whole export (encoded
 * and compressed with PARQUET_COMPRESSION on the Parquet thread), with the CPU time this process used
 * (PostgreSQL's own is not counted).
 * Written to bench/results/export.json.
 *
 *   node dist/bench/export.js [--rows 1000000] [--rounds 5] [--readers 1,2,4] [--out <file>]
 * (--out writes the result elsewhere, for runs that must leave bench/results as it is).
 */
import { cpus, tmpdir, totalmem } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { copyTextInto } from '../src/local/export/copy-text';
import { defaultReaders, exportSnapshot } from '../src/local/export/exporter';
import { THREAD_MIN_BLOCKS } from '../src/local/export/parallel';
import { ColumnChunkBuilder } from '../src/local/export/parquet-file';
import type { PartWriter } from '../src/local/export/parts';
import { planTable } from '../src/local/export/table-plan';
import { PARQUET_COMPRESSION } from '../src/local/export/types';
import { readCatalog } from '../src/local/source/catalog';
import { CONSISTENT_READ_SETTINGS } from '../src/local/source/db';
import { openPostgres } from '../src/local/source/postgres';
import { repoRoot } from '../src/toolchain';
import { startPostgres, type TestPostgres } from '../test/local/helpers/postgres';

const TARGET_RATIO = 0.5;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ROWS = Number(arg('rows', '1000000'));
const ROUNDS = Number(arg('rounds', '5'));
const READERS = arg('readers', `1,${defaultReaders()}`).split(',').map(Number);

const TABLE_SQL = `
CREATE TABLE big (
  id bigint PRIMARY KEY, qty integer, small smallint, name text, amount numeric(12, 2),
  created_at timestamptz, flag boolean, score double precision, tag varchar(16), day date
);
INSERT INTO big
SELECT i, i % 100000, (i % 30000)::smallint, 'customer name ' || i, (i % 100000) / 100.0,
  TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second', i % 2 = 0, i / 7.0,
  CASE WHEN i % 10 = 0 THEN NULL ELSE 'tag-' || (i % 97) END, DATE '2020-01-01' + i % 2000
FROM generate_series(1, ${ROWS}) AS i;`;

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Wall seconds and this process's CPU seconds (every thread). */
async function secondsAndCpu(fn: () => Promise<unknown>): Promise<{ seconds: number; cpuSeconds: number }> {
  const cpu = process.cpuUsage();
  const wall = await seconds(fn);
  const used = process.cpuUsage(cpu);
  return { seconds: wall, cpuSeconds: (used.user + used.system) / 1e6 };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** COPY ... TO STDOUT read to its end, the bytes dropped. */
async function copyOut(url: string, sql: string): Promise<number> {
  return withClient(url, async (client) => {
    let bytes = 0;
    for await (const chunk of client.query(copyTo(sql))) bytes += (chunk as Buffer).length;
    return bytes;
  });
}

/** The exporter's own COPY query, parsed into column buffers that are emptied every 10,000 rows instead of written. */
async function copyAndParse(url: string): Promise<number> {
  return withClient(url, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const setting of CONSISTENT_READ_SETTINGS) await client.query(setting);
    const session = { rows: async (sql: string) => (await client.query({ text: sql, rowMode: 'array' })).rows as unknown[][] };
    const table = (await readCatalog(session)).find((t) => t.table === 'public.big')!;
    const decision = planTable(table, 0, 'bench');
    if (!('plan' in decision)) throw new Error('the table is not exported');
    const { plan } = decision;
    const builders = plan.columns.map((c) => new ColumnChunkBuilder(c.column.name, c.parquetType, 10_000));
    let rows = 0;
    const sink = {
      builders,
      endRow() {
        if (++rows % 10_000 === 0) for (const b of builders) b.reset();
        return undefined;
      },
    } as unknown as PartWriter;
    await copyTextInto(client.query(copyTo(`COPY (${plan.copySelect}) TO STDOUT`)), sink, plan.columns);
    await client.query('COMMIT');
    return rows;
  });
}

async function exportQuery(url: string): Promise<string> {
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    for (const setting of CONSISTENT_READ_SETTINGS) await client.query(setting);
    const session = { rows: async (sql: string) => (await client.query({ text: sql, rowMode: 'array' })).rows as unknown[][] };
    const table = (await readCatalog(session)).find((t) => t.table === 'public.big')!;
    await client.query('COMMIT');
    const decision = planTable(table, 0, 'bench');
    if (!('plan' in decision)) throw new Error('the table is not exported');
    return decision.plan.copySelect;
  });
}

interface ExportRun {
  seconds: number;
  rowsPerSecond: number;
  cpuSeconds: number;
  parts: number;
  megabytes: number;
}

async function runExport(pgServer: TestPostgres, work: string, readers: number, label: string): Promise<ExportRun> {
  const db = openPostgres(pgServer.url);
  const outDir = join(work, `export-${label}`);
  try {
    const cpu = process.cpuUsage();
    let summary: Awaited<ReturnType<typeof exportSnapshot>> | undefined;
    const s = await seconds(async () => {
      summary = await exportSnapshot(db, {
        exportId: `bench-${label}`,
        database: 'bench',
        snapshot: { snapshotId: 'bench', createdAt: new Date().toISOString(), adopted: false },
        outDir,
        tables: ['public.big'],
        readers,
      });
    });
    const used = process.cpuUsage(cpu);
    const table = summary!.tables[0]!;
    if (table.rows !== ROWS) throw new Error(`the export wrote ${table.rows} rows, not ${ROWS}`);
    return { seconds: s, rowsPerSecond: ROWS / s, cpuSeconds: (used.user + used.system) / 1e6, parts: table.files.length, megabytes: table.bytes / 1e6 };
  } finally {
    await db.close();
    rmSync(outDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'lakesync-bench-export-'));
  const server = await startPostgres();
  try {
    console.log(`creating a table of ${ROWS.toLocaleString('en')} rows...`);
    await server.query(TABLE_SQL);
    await server.query('VACUUM ANALYZE big');
    const [size] = await server.query<{ blocks: string }>(`SELECT pg_relation_size('big') / current_setting('block_size')::bigint AS blocks`);
    const tableBlocks = Number(size!.blocks);
    const copySql = 'COPY (SELECT * FROM big) TO STDOUT';
    const select = await exportQuery(server.url);
    await copyOut(server.url, copySql); // warms the cache for both sides

    const headlineReaders = defaultReaders();
    const rounds: { copySeconds: number; exportSeconds: number; ratio: number; copyCpuSeconds: number; exportCpuSeconds: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const measureCopy = () => secondsAndCpu(() => copyOut(server.url, copySql));
      const measureExport = async () => {
        const run = await runExport(server, work, headlineReaders, `round-${i}`);
        return { seconds: run.seconds, cpuSeconds: run.cpuSeconds };
      };
      // Alternate which goes first, so neither always gets the warmer machine.
      let copy: { seconds: number; cpuSeconds: number };
      let exported: { seconds: number; cpuSeconds: number };
      if (i % 2 === 0) {
        copy = await measureCopy();
        exported = await measureExport();
      } else {
        exported = await measureExport();
        copy = await measureCopy();
      }
      const copySeconds = copy.seconds;
      const exportSeconds = exported.seconds;
      rounds.push({
        copySeconds: round(copySeconds),
        exportSeconds: round(exportSeconds),
        ratio: round(copySeconds / exportSeconds),
        copyCpuSeconds: round(copy.cpuSeconds),
        exportCpuSeconds: round(exported.cpuSeconds),
      });
      console.log(
        `round ${i + 1}: COPY ${copySeconds.toFixed(2)} s (CPU ${copy.cpuSeconds.toFixed(2)}), export (${headlineReaders} readers) ${exportSeconds.toFixed(2)} s (CPU ${exported.cpuSeconds.toFixed(2)}), ratio ${(copySeconds / exportSeconds).toFixed(2)}`,
      );
    }

    const byReaders: Record<string, ExportRun> = {};
    for (const readers of READERS) {
      const run = await runExport(server, work, readers, `readers-${readers}`);
      byReaders[String(readers)] = { ...run, seconds: round(run.seconds), rowsPerSecond: Math.round(run.rowsPerSecond), cpuSeconds: round(run.cpuSeconds), megabytes: round(run.megabytes, 1) };
      console.log(`export with ${readers} reader(s): ${run.seconds.toFixed(2)} s, ${Math.round(run.rowsPerSecond).toLocaleString('en')} rows/s, exporter CPU ${run.cpuSeconds.toFixed(2)} s, ${run.parts} parts, ${run.megabytes.toFixed(1)} MB`);
    }

    const copyQuery = await secondsAndCpu(() => copyOut(server.url, `COPY (${select}) TO STDOUT`));
    const parsed = await secondsAndCpu(() => copyAndParse(server.url));
    const full = byReaders['1'] ?? (await runExport(server, work, 1, 'profile'));
    const profile = {
      copyExporterQuerySeconds: round(copyQuery.seconds),
      copyExporterQueryCpuSeconds: round(copyQuery.cpuSeconds),
      copyAndParseSeconds: round(parsed.seconds),
      copyAndParseCpuSeconds: round(parsed.cpuSeconds),
      fullExportOneReaderSeconds: round(full.seconds),
      fullExportOneReaderCpuSeconds: round(full.cpuSeconds),
    };
    console.log(
      `profile (one connection; this process's CPU in brackets): COPY of the exporter's query ${profile.copyExporterQuerySeconds} s (${profile.copyExporterQueryCpuSeconds}); ` +
        `+ parsing into column buffers ${profile.copyAndParseSeconds} s (${profile.copyAndParseCpuSeconds}); ` +
        `+ Parquet encoding (${PARQUET_COMPRESSION}) and writing ${profile.fullExportOneReaderSeconds} s (${profile.fullExportOneReaderCpuSeconds})`,
    );

    const copySeconds = median(rounds.map((r) => r.copySeconds));
    const exportSeconds = median(rounds.map((r) => r.exportSeconds));
    const ratio = median(rounds.map((r) => r.ratio));
    const result = {
      benchmark: 'export',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
      rows: ROWS,
      table: 'big (bigint, integer, smallint, text, numeric(12,2), timestamptz, boolean, double precision, varchar(16), date)',
      baseline: copySql,
      readers: headlineReaders,
      tableBlocks,
      // Several readers each in a thread of their own (parallel.ts), as the exporter decides from the table's size.
      readersInThreads: headlineReaders > 1 && tableBlocks >= THREAD_MIN_BLOCKS,
      compression: PARQUET_COMPRESSION,
      copy: { seconds: copySeconds, rowsPerSecond: Math.round(ROWS / copySeconds) },
      exporter: { seconds: exportSeconds, rowsPerSecond: Math.round(ROWS / exportSeconds) },
      ratio,
      targetRatio: TARGET_RATIO,
      targetMet: ratio >= TARGET_RATIO,
      rounds,
      byReaders,
      profile,
    };
    console.log(
      `COPY: ${result.copy.rowsPerSecond.toLocaleString('en')} rows/s (${copySeconds} s); exporter: ${result.exporter.rowsPerSecond.toLocaleString('en')} rows/s (${exportSeconds} s); ` +
        `ratio ${ratio} (target >= ${TARGET_RATIO}: ${result.targetMet ? 'met' : 'NOT met'})`,
    );
    const out = arg('out', join(repoRoot(), 'bench', 'results', 'export.json'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
