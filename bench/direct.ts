/**
 * `npm run bench:direct`: an hourly-style cycle on a large append-only table, two ways side by side
 * in one run, on one PostgreSQL table of 10M rows (generate_series) and the local pipeline
 * (Temporal dev server, worker, local Spark):
 *   - direct: `extract: direct`, the cycle reads the new window over JDBC (no snapshot, no export);
 *   - export: the default path, a snapshot export of the whole table, then the MERGE of the change.
 * Both lake tables are created first (not part of the comparison, but timed); then 1% new rows are
 * appended and one cycle of each source loads them. Figures: wall time of the cycle, its phases,
 * rows read by the load and rows the cycle read from the source. Written to bench/results/direct.json.
 *
 *   node dist/bench/direct.js [--rows 10000000] [--append 0.01]
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonOf, lakesync } from '../src/demo/cli';
import { openPostgres } from '../src/local/source/postgres';
import type { CycleResult, LoadSummary } from '../src/model';
import { repoRoot } from '../src/toolchain';
import { runBench, withEmbedded } from './embedded';

const TABLE = 'public.events';
type Path = 'direct' | 'export';

interface CycleFigures {
  ok: boolean;
  status: string;
  wallSeconds: number;
  /** Cycle start to the load's start: the snapshot and the export (0 for direct) plus planning. */
  beforeLoadSeconds: number;
  loadSeconds: number;
  /** Rows the load job read: the export's rows, or the direct window's rows over JDBC. */
  loadRowsRead: number;
  /** Rows the cycle read from the source database: the whole table for an export, the window for direct. */
  sourceRowsRead: number;
  action: string | undefined;
  inserted: number | undefined;
  updated: number | undefined;
  window?: LoadSummary['window'];
  tookExport: boolean;
  error?: string;
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

async function main(): Promise<number> {
  const rows = Math.round(option('rows', 10_000_000));
  const fraction = option('append', 0.01);
  const appended = Math.round(rows * fraction);
  const log = (line: string) => console.log(`[bench:direct] ${line}`);
  return withEmbedded('direct', async ({ dir, pg, startWorker }) => {
    await pg.query('CREATE DATABASE bench');
    // The job logs in with a password, as it would on a real server.
    await pg.query("CREATE ROLE bench LOGIN PASSWORD 'bench-password'");
    const db = pg.url.replace(/\/postgres$/, '/bench');
    const admin = openPostgres(db);
    const generated = Date.now();
    await admin.exec(`
      CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL, amount numeric(12,2), at timestamptz NOT NULL, note text);
      INSERT INTO events SELECT g, 'k' || (g % 17), (g % 100000) * 0.01, timestamptz '2026-01-01' + g * interval '1 second', 'row ' || g
        FROM generate_series(1, ${rows}) g;
      ALTER TABLE events ADD PRIMARY KEY (id);
      GRANT USAGE ON SCHEMA public TO bench;
      GRANT SELECT ON events TO bench;
    `);
    // VACUUM cannot run in the transaction a multi-statement string is.
    await admin.exec('VACUUM ANALYZE events');
    log(`${rows.toLocaleString('en')} rows generated in ${seconds(Date.now() - generated)} s`);

    const url = `postgres://bench:bench-password@127.0.0.1:${pg.port}/bench`;
    const source = (path: Path) => ({
      database: 'bench',
      source: { kind: 'postgres', url },
      target: { namespace: path },
      include: [TABLE],
      tables: { [TABLE]: path === 'direct' ? { extract: 'direct', cursor: { column: 'id', lookback: 1000 } } : {} },
      concurrency: 1,
      retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 5, maximumAttempts: 2 },
      timeouts: { heartbeatSeconds: 120, pollInitialSeconds: 1, pollMaximumSeconds: 2 },
      local: { workDir: join(dir, path) },
    });
    const configFile = await startWorker({ direct: source('direct'), export: source('export') });

    const cycle = async (path: Path, sourceRows: number): Promise<CycleFigures> => {
      const started = Date.now();
      const run = await lakesync(['sync', path, '--wait', '--json', '--config', configFile]);
      const wall = Date.now() - started;
      const result = jsonOf<CycleResult>(run, `sync ${path}`);
      const table = result.tables.find((t) => t.table === TABLE);
      const load = table?.load;
      const at = (iso: string | undefined) => (iso ? Date.parse(iso) : Number.NaN);
      const figures: CycleFigures = {
        ok: result.status === 'succeeded' && table?.status === 'committed',
        status: result.status,
        wallSeconds: seconds(wall),
        beforeLoadSeconds: seconds(at(table?.startedAt) - at(result.startedAt)),
        loadSeconds: seconds(at(table?.finishedAt) - at(table?.startedAt)),
        loadRowsRead: load?.rowsRead ?? 0,
        sourceRowsRead: result.export ? sourceRows : (load?.rowsRead ?? 0),
        action: load?.action,
        inserted: load?.inserted,
        updated: load?.updated,
        ...(load?.window ? { window: load.window } : {}),
        tookExport: result.export !== undefined,
        ...(table?.error ? { error: table.error.message } : result.error ? { error: result.error.message } : {}),
      };
      log(`${path}: ${figures.status} in ${figures.wallSeconds} s (before the load ${figures.beforeLoadSeconds} s, load ${figures.loadSeconds} s), ${figures.loadRowsRead.toLocaleString('en')} rows read by the load${figures.error ? `; ${figures.error}` : ''}`);
      return figures;
    };

    log('first loads (timed, not compared)');
    const firstDirect = await cycle('direct', rows);
    const firstExport = await cycle('export', rows);

    const appendStarted = Date.now();
    await admin.exec(`
      INSERT INTO events SELECT g, 'k' || (g % 17), (g % 100000) * 0.01, timestamptz '2026-01-01' + g * interval '1 second', 'row ' || g
        FROM generate_series(${rows + 1}, ${rows + appended}) g;
      ANALYZE events;
    `);
    log(`${appended.toLocaleString('en')} rows appended (${fraction * 100}%) in ${seconds(Date.now() - appendStarted)} s`);

    log('the hourly cycle, both ways');
    const direct = await cycle('direct', rows + appended);
    const exported = await cycle('export', rows + appended);

    // Both lake tables hold every source row once.
    const lakeCount = async (path: Path) => {
      const run = await lakesync(['query', path, '--json', `SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${path}.events`, '--config', configFile]);
      return jsonOf<{ n: number; d: number }[]>(run, 'query')[0];
    };
    const counts = { direct: await lakeCount('direct'), export: await lakeCount('export') };
    const expected = rows + appended;
    const lakeEqualsSource = counts.direct?.n === expected && counts.direct.d === expected && counts.export?.n === expected && counts.export.d === expected;
    await admin.close();

    const result = {
      benchmark: 'direct',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      table: { rows, appendedRows: appended, appendedFraction: fraction, columns: 'id bigint primary key, kind text, amount numeric(12,2), at timestamptz, note text' },
      measures: {
        wallSeconds: 'lakesync sync --wait, end to end: request, snapshot and export (export path only), plan, load, grant, verify',
        beforeLoadSeconds: "from the cycle's start to the table load's start: for the export path the snapshot and the whole-table export",
        loadRowsRead: 'rows the load job read: the export files (export path) or the window over JDBC (direct)',
        sourceRowsRead: 'rows the cycle read from PostgreSQL: the whole table for an export, the window for direct',
      },
      hourly: { direct, export: exported },
      speedup: direct.wallSeconds > 0 ? Math.round((exported.wallSeconds / direct.wallSeconds) * 10) / 10 : null,
      firstLoad: { direct: firstDirect, export: firstExport },
      lakeCounts: counts,
      lakeEqualsSource,
    };
    mkdirSync(join(repoRoot(), 'bench', 'results'), { recursive: true });
    writeFileSync(join(repoRoot(), 'bench', 'results', 'direct.json'), `${JSON.stringify(result, null, 2)}\n`);

    const row = (name: string, f: CycleFigures) =>
      `${name.padEnd(8)} ${String(f.wallSeconds).padStart(9)} ${String(f.beforeLoadSeconds).padStart(13)} ${String(f.loadSeconds).padStart(9)} ${f.loadRowsRead.toLocaleString('en').padStart(14)} ${f.sourceRowsRead.toLocaleString('en').padStart(16)}`;
    console.log(`\nhourly cycle: ${appended.toLocaleString('en')} rows appended to ${rows.toLocaleString('en')}`);
    console.log(`${'path'.padEnd(8)} ${'wall (s)'.padStart(9)} ${'pre-load (s)'.padStart(13)} ${'load (s)'.padStart(9)} ${'load rows read'.padStart(14)} ${'source rows read'.padStart(16)}`);
    console.log(row('direct', direct));
    console.log(row('export', exported));
    console.log(`direct is ${result.speedup}x faster; first loads: direct ${firstDirect.wallSeconds} s, export ${firstExport.wallSeconds} s`);
    console.log(`lake = source (count and distinct ids): ${lakeEqualsSource}`);
    console.log('bench/results/direct.json written');
    return [firstDirect, firstExport, direct, exported].every((f) => f.ok) && lakeEqualsSource && !direct.tookExport && exported.tookExport ? 0 : 1;
  });
}

runBench(main);
