/**
 * `npm run bench:pack`: one sync of 200 tiny tables in the local mode (a PostgreSQL source, the
 * Temporal dev server, the worker, local Spark), two ways side by side on the same tables:
 *   - packed: `packing` (defaults: up to 25 tables and 5 GB per run), the tables share runner jobs;
 *   - single: one runner job per table (no packing).
 * Figures: runner jobs, wall time of the cycle and of its loads; target: packed wall <= 1/4 of single.
 * Plus the modelled Glue cost of a 1,000-table cycle both ways (Glue bills each run per second with
 * a 1-minute minimum, on at least 2 workers), from the per-table seconds the packed runs measured.
 * Written to bench/results/pack.json.
 *
 *   node dist/bench/pack.js [--tables 200] [--rows 10]
 */
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKING_DEFAULTS } from '../src/config/packing';
import { jsonOf, lakesync } from '../src/demo/cli';
import { openPostgres } from '../src/local/source/postgres';
import type { CycleResult, PackSummary } from '../src/model';
import { repoRoot } from '../src/toolchain';
import { runBench, withEmbedded } from './embedded';

type Way = 'packed' | 'single';

/** The Glue model of the cost comparison (AWS Glue pricing: per second, 1-minute minimum per run). */
const GLUE_MODEL = {
  tables: 1000,
  usdPerDpuHour: 0.44,
  workersPerRun: 2,
  dpuPerWorker: 1,
  minimumBilledSecondsPerRun: 60,
  /** A Glue run's own work besides the tables (Spark session, Iceberg catalog): billed, in seconds. */
  runOverheadSeconds: 20,
};

interface WayFigures {
  ok: boolean;
  status: string;
  tables: number;
  committed: number;
  runnerJobs: number;
  wallSeconds: number;
  /** From the first table load's start to the last one's end. */
  loadSeconds: number;
  error?: string;
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

const seconds = (ms: number) => Math.round(ms) / 1000;
const round = (n: number, digits = 4) => Math.round(n * 10 ** digits) / 10 ** digits;

function files(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix)).map((f) => join(dir, f));
}

/** The modelled Glue bill of `runs` runs of the given seconds each. */
function glueUsd(runSeconds: number[]): { runs: number; billedSeconds: number; dpuHours: number; usd: number } {
  const m = GLUE_MODEL;
  const billed = runSeconds.map((s) => Math.max(m.minimumBilledSecondsPerRun, s));
  const dpuHours = (billed.reduce((a, b) => a + b, 0) * m.workersPerRun * m.dpuPerWorker) / 3600;
  return { runs: runSeconds.length, billedSeconds: round(billed.reduce((a, b) => a + b, 0), 1), dpuHours: round(dpuHours), usd: round(dpuHours * m.usdPerDpuHour, 2) };
}

async function main(): Promise<number> {
  const tableCount = option('tables', 200);
  const rows = option('rows', 10);
  const names = Array.from({ length: tableCount }, (_, i) => `t${String(i + 1).padStart(4, '0')}`);
  const log = (line: string) => console.log(`[bench:pack] ${line}`);
  return withEmbedded('pack', async ({ dir, pg, startWorker }) => {
    await pg.query('CREATE DATABASE bench');
    const db = pg.url.replace(/\/postgres$/, '/bench');
    const admin = openPostgres(db);
    await admin.exec(
      names.map((t) => `CREATE TABLE ${t} (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(10,2)); INSERT INTO ${t} SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, ${rows}) g;`).join('\n'),
    );
    await admin.close();
    log(`${tableCount} tables of ${rows} rows created`);

    const workDir = (way: Way) => join(dir, way);
    const source = (way: Way) => ({
      database: 'bench',
      source: { kind: 'postgres', url: db },
      target: { namespace: way },
      include: ['public.*'],
      concurrency: 10,
      ...(way === 'packed' ? { packing: {} } : {}),
      retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 5, maximumAttempts: 2 },
      timeouts: { heartbeatSeconds: 120, pollInitialSeconds: 1, pollMaximumSeconds: 2 },
      local: { workDir: workDir(way) },
    });
    const configFile = await startWorker({ packed: source('packed'), single: source('single') });

    const cycle = async (way: Way): Promise<WayFigures> => {
      const started = Date.now();
      const run = await lakesync(['sync', way, '--wait', '--json', '--config', configFile]);
      const wall = Date.now() - started;
      const result = jsonOf<CycleResult>(run, `sync ${way}`);
      const loaded = result.tables.filter((t) => t.startedAt && t.finishedAt);
      const first = Math.min(...loaded.map((t) => Date.parse(t.startedAt!)));
      const last = Math.max(...loaded.map((t) => Date.parse(t.finishedAt!)));
      const committed = result.tables.filter((t) => t.status === 'committed').length;
      const failed = result.tables.find((t) => t.error);
      const figures: WayFigures = {
        ok: result.status === 'succeeded' && committed === tableCount,
        status: result.status,
        tables: result.tables.length,
        committed,
        runnerJobs: files(join(workDir(way), 'runs'), '.json').length,
        wallSeconds: seconds(wall),
        loadSeconds: loaded.length > 0 ? seconds(last - first) : 0,
        ...(failed?.error ? { error: `${failed.table}: ${failed.error.message}` } : result.error ? { error: result.error.message } : {}),
      };
      log(`${way}: ${figures.status}, ${committed}/${tableCount} committed, ${figures.runnerJobs} runner jobs, ${figures.wallSeconds} s (loads ${figures.loadSeconds} s)${figures.error ? `; ${figures.error}` : ''}`);
      return figures;
    };

    // The packed way first: it pays for the runner's cold start, never the single way.
    const packed = await cycle('packed');
    const single = await cycle('single');

    // Per-table seconds inside the packed runs (their summaries), the work a Glue run would do per table.
    const summaries = files(join(workDir('packed'), 'results'), '.summary.json').map((f) => JSON.parse(readFileSync(f, 'utf8')) as PackSummary);
    const perTable = summaries.flatMap((s) => s.tables.filter((t) => t.status === 'succeeded').map((t) => t.seconds));
    const meanTableSeconds = perTable.length > 0 ? perTable.reduce((a, b) => a + b, 0) / perTable.length : Number.NaN;
    const m = GLUE_MODEL;
    const perPack = PACKING_DEFAULTS.maxTables;
    const packRuns = Array.from({ length: Math.ceil(m.tables / perPack) }, (_, i) => m.runOverheadSeconds + Math.min(perPack, m.tables - i * perPack) * meanTableSeconds);
    const singleRuns = Array.from({ length: m.tables }, () => m.runOverheadSeconds + meanTableSeconds);
    const model = {
      statement:
        `Glue bills each job run per second with a 1-minute minimum, at workers x DPU per worker x $${m.usdPerDpuHour} per DPU-hour; a tiny table's run is billed the minimum. ` +
        `Each run is modelled as ${m.runOverheadSeconds} s of its own work plus, per table, the mean seconds a table took inside the packed local runs; ` +
        `runs on ${m.workersPerRun} G.1X workers (${m.dpuPerWorker} DPU each, the fewest Glue allows); packs of ${perPack} tables (the default maxTables). Export costs are the same both ways and left out.`,
      ...m,
      meanTableSeconds: round(meanTableSeconds, 3),
      tablesMeasured: perTable.length,
      single: glueUsd(singleRuns),
      packed: glueUsd(packRuns),
    };

    const ratio = single.wallSeconds > 0 ? round(packed.wallSeconds / single.wallSeconds, 3) : null;
    const result = {
      benchmark: 'pack',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      tables: { count: tableCount, rowsPerTable: rows, columns: 'id bigint primary key, name text, amount numeric(10,2)' },
      config: { packing: PACKING_DEFAULTS, concurrency: 10, verify: 'on (default)' },
      measures: {
        runnerJobs: 'local runner jobs (run records): one per pack, one per table run alone',
        wallSeconds: 'lakesync sync --wait, end to end: snapshot and export, plan, loads, grant, verify',
        loadSeconds: "from the first table load's start to the last table's end (loads, grants and verification)",
      },
      local: { packed, single, packedOverSingleWall: ratio, target: 'packed wall <= 1/4 of single', targetMet: ratio !== null && ratio <= 0.25 },
      glueModel: model,
    };
    mkdirSync(join(repoRoot(), 'bench', 'results'), { recursive: true });
    writeFileSync(join(repoRoot(), 'bench', 'results', 'pack.json'), `${JSON.stringify(result, null, 2)}\n`);

    console.log(`\n${tableCount} tiny tables, one sync each way`);
    console.log(`${'way'.padEnd(8)} ${'runner jobs'.padStart(12)} ${'wall (s)'.padStart(9)} ${'loads (s)'.padStart(10)}`);
    for (const [name, f] of [['packed', packed], ['single', single]] as const) console.log(`${name.padEnd(8)} ${String(f.runnerJobs).padStart(12)} ${String(f.wallSeconds).padStart(9)} ${String(f.loadSeconds).padStart(10)}`);
    console.log(`packed / single wall: ${ratio} (target <= 0.25)`);
    console.log(`modelled Glue, ${m.tables} tables: single ${model.single.runs} runs $${model.single.usd}, packed ${model.packed.runs} runs $${model.packed.usd}`);
    console.log('bench/results/pack.json written');
    return packed.ok && single.ok ? 0 : 1;
  });
}

runBench(main);
