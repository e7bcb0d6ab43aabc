/**
 * `npm run bench:pack`: one sync of 200 tiny tables in the local mode (a PostgreSQL source, the
 * Temporal dev server, the worker, local Spark), two ways side by side on the same tables:
 *   - packed: `packing` (defaults: up to 25 tables and 5 GB per run), the tables share runner jobs;
 *   - single: one runner job per table (no packing).
 * Figures: runner jobs, wall time of the cycle and of its loads; target: packed wall <= 1/4 of single.
 * Plus the modelled Glue cost of a 1,000-table cycle both ways (Glue bills each run per second with
 * a 1-minute minimum, on at least 2 workers), from the per-table seconds the packed runs measured,
 * and the floor (bench/pack_floor.py): bare Iceberg creates of as many tiny tables in one warm Spark
 * session, the least any packed load of them can take in this engine.
 * Written to bench/results/pack.json.
 *
 *   node dist/bench/pack.js [--tables 200] [--rows 10]
 */
import { execFile } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { PACKING_DEFAULTS } from '../src/config/packing';
import { jsonOf, lakesync } from '../src/demo/cli';
import { fileSafe } from '../src/local/files';
import { openPostgres } from '../src/local/source/postgres';
import type { CycleResult, PackSummary } from '../src/model';
import { repoRoot, toolchain } from '../src/toolchain';
import { runBench, withEmbedded } from './embedded';

type Way = 'packed' | 'single';

const execFileAsync = promisify(execFile);

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
  breakdown: Breakdown;
}

/** Where a table's time went, from the runner's log, the tables' result files and the cycle's outcomes. */
interface Breakdown {
  /** Mean seconds per table of each load phase the job logs (`phase X took Ns`), summed over the run. */
  phaseSecondsPerTable: Record<string, number>;
  /** Mean seconds of a table's load in Spark (its result's startedAt to finishedAt). */
  meanLoadSeconds: number;
  /** Mean seconds from a table's result being written to the end of its load activity, grant and verify. */
  meanAfterResultSeconds: number;
  maxAfterResultSeconds: number;
  /** The runner jobs' own seconds (record executionSeconds): mean and sum. */
  meanJobSeconds: number;
  sumJobSeconds: number;
  /** CPU seconds per table of the way's load runner (its Python process and its JVM), over the whole cycle. */
  runnerCpuSecondsPerTable: number;
  /** CPU seconds per table of this process (the worker: activities, polling) during the cycle. */
  workerCpuSecondsPerTable: number;
}

interface FloorWay {
  wallSeconds: number;
  cpuSecondsPerTable: number;
}

/** What bench/pack_floor.py prints. */
interface Floor {
  tables: number;
  rows: number;
  threads: number;
  oneAtATime: FloorWay;
  threaded: FloorWay;
}

/** bench/pack_floor.py: bare creates of `tables` tiny tables, one at a time and `threads` at a time. */
async function floor(tables: number, rows: number): Promise<Floor> {
  const tools = toolchain();
  const script = join(repoRoot(), 'bench', 'pack_floor.py');
  try {
    const { stdout } = await execFileAsync(tools.python, [script, '--tables', String(tables), '--rows', String(rows)], {
      env: { ...process.env, LAKESYNC_ICEBERG_JAR: tools.icebergJar },
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Floor;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`bench/pack_floor.py failed: ${(err as Error).message.split('\n')[0]}${stderr ? ` | ${stderr}` : ''}`);
  }
}

/** CPU seconds (user + system) of a process and its children still running, from /proc (Linux); 0 elsewhere. */
function processTreeCpu(pid: number): number {
  const ticks = 100; // USER_HZ on Linux
  let total = 0;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const [ppid, utime, stime] = [Number(fields[1]), Number(fields[11]), Number(fields[12])];
      if (Number(entry) === pid || ppid === pid) total += (utime + stime) / ticks;
    }
  } catch {
    return 0;
  }
  return round(total, 1);
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

    const breakdown = (way: Way, result: CycleResult, workerCpu: number): Breakdown => {
      const root = workDir(way);
      const phases: Record<string, number> = {};
      const log = existsSync(join(root, 'runner.log')) ? readFileSync(join(root, 'runner.log'), 'utf8') : '';
      for (const m of log.matchAll(/phase (.+?) took ([0-9.]+)s/g)) phases[m[1]!] = (phases[m[1]!] ?? 0) + Number(m[2]);
      const n = Math.max(1, result.tables.length);
      const results = files(join(root, 'results', result.cycleId), '.json')
        .filter((f) => !f.includes('/packs/'))
        .map((f) => ({ file: basename(f, '.json'), ...(JSON.parse(readFileSync(f, 'utf8')) as { startedAt: string; finishedAt: string }) }));
      // Result files are named after the table (src/local/paths.ts resultFile).
      const loadEnd = new Map(results.map((r) => [r.file, Date.parse(r.finishedAt)]));
      const after = result.tables.filter((t) => t.finishedAt && loadEnd.has(fileSafe(t.table))).map((t) => (Date.parse(t.finishedAt!) - loadEnd.get(fileSafe(t.table))!) / 1000);
      const jobs = files(join(root, 'runs'), '.json').map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { executionSeconds?: number }).executionSeconds ?? 0);
      const mean = (xs: number[]) => (xs.length > 0 ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 3) : 0);
      return {
        phaseSecondsPerTable: Object.fromEntries(Object.entries(phases).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / n, 3)])),
        meanLoadSeconds: mean(results.map((r) => (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000)),
        meanAfterResultSeconds: mean(after),
        maxAfterResultSeconds: round(Math.max(0, ...after), 3),
        meanJobSeconds: mean(jobs),
        sumJobSeconds: round(jobs.reduce((a, b) => a + b, 0), 1),
        runnerCpuSecondsPerTable: round(processTreeCpu((JSON.parse(readFileSync(join(root, 'runner.json'), 'utf8')) as { pid: number }).pid) / n, 3),
        workerCpuSecondsPerTable: round(workerCpu / n, 3),
      };
    };

    const cycle = async (way: Way): Promise<WayFigures> => {
      const started = Date.now();
      const cpu = process.cpuUsage();
      const run = await lakesync(['sync', way, '--wait', '--json', '--config', configFile]);
      const used = process.cpuUsage(cpu);
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
        breakdown: breakdown(way, result, (used.user + used.system) / 1e6),
      };
      log(`${way}: ${figures.status}, ${committed}/${tableCount} committed, ${figures.runnerJobs} runner jobs, ${figures.wallSeconds} s (loads ${figures.loadSeconds} s)${figures.error ? `; ${figures.error}` : ''}`);
      log(`${way}: breakdown ${JSON.stringify(figures.breakdown)}`);
      return figures;
    };

    // The packed way first: it pays for the runner's cold start, never the single way.
    const packed = await cycle('packed');
    const single = await cycle('single');

    // Per-table seconds of the packed runs: each pack job's own seconds over the tables its summary lists. Not the
    // tables' own seconds in the summaries: the runner loads several tables of a pack at once, each sharing the cores.
    const packJobs = files(join(workDir('packed'), 'runs'), '.json')
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { args?: { pack_path?: string }; resultPath: string; executionSeconds?: number })
      .filter((r) => r.args?.pack_path && r.executionSeconds !== undefined && existsSync(r.resultPath))
      .map((r) => ({ seconds: r.executionSeconds!, tables: (JSON.parse(readFileSync(r.resultPath, 'utf8')) as PackSummary).tables.length }));
    const tablesMeasured = packJobs.reduce((a, j) => a + j.tables, 0);
    const meanTableSeconds = tablesMeasured > 0 ? packJobs.reduce((a, j) => a + j.seconds, 0) / tablesMeasured : Number.NaN;
    const m = GLUE_MODEL;
    const perPack = PACKING_DEFAULTS.maxTables;
    const packRuns = Array.from({ length: Math.ceil(m.tables / perPack) }, (_, i) => m.runOverheadSeconds + Math.min(perPack, m.tables - i * perPack) * meanTableSeconds);
    const singleRuns = Array.from({ length: m.tables }, () => m.runOverheadSeconds + meanTableSeconds);
    const model = {
      statement:
        `Glue bills each job run per second with a 1-minute minimum, at workers x DPU per worker x $${m.usdPerDpuHour} per DPU-hour; a tiny table's run is billed the minimum. ` +
        `Each run is modelled as ${m.runOverheadSeconds} s of its own work plus, per table, the packed local runs' job seconds over their tables; ` +
        `runs on ${m.workersPerRun} G.1X workers (${m.dpuPerWorker} DPU each, the fewest Glue allows); packs of ${perPack} tables (the default maxTables). Export costs are the same both ways and left out.`,
      ...m,
      meanTableSeconds: round(meanTableSeconds, 3),
      tablesMeasured,
      single: glueUsd(singleRuns),
      packed: glueUsd(packRuns),
    };

    log('floor: bare Iceberg creates of the same number of tiny tables in one warm Spark session');
    const bare = await floor(tableCount, rows);
    log(`floor: ${JSON.stringify(bare)}`);

    const ratio = single.wallSeconds > 0 ? round(packed.wallSeconds / single.wallSeconds, 3) : null;
    const targetWall = round(single.wallSeconds / 4, 1);
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
      floor: {
        statement:
          `spark.read.parquet(file).writeTo(table).create() of ${tableCount} tables of ${rows} rows, after a warm-up: no casts, checks, results, lineage, snapshot, export, grants or verification. ` +
          'Every table keeps its own create and commit in a pack, so no packed load of these tables can take less in this engine; the target leaves the packed cycle a quarter of the single one.',
        ...bare,
        targetPackedWallSeconds: targetWall,
        bareCreatesOverTarget: targetWall > 0 ? round(Math.min(bare.oneAtATime.wallSeconds, bare.threaded.wallSeconds) / targetWall, 3) : null,
      },
      glueModel: model,
    };
    mkdirSync(join(repoRoot(), 'bench', 'results'), { recursive: true });
    writeFileSync(join(repoRoot(), 'bench', 'results', 'pack.json'), `${JSON.stringify(result, null, 2)}\n`);

    console.log(`\n${tableCount} tiny tables, one sync each way`);
    console.log(`${'way'.padEnd(8)} ${'runner jobs'.padStart(12)} ${'wall (s)'.padStart(9)} ${'loads (s)'.padStart(10)}`);
    for (const [name, f] of [['packed', packed], ['single', single]] as const) console.log(`${name.padEnd(8)} ${String(f.runnerJobs).padStart(12)} ${String(f.wallSeconds).padStart(9)} ${String(f.loadSeconds).padStart(10)}`);
    console.log(`packed / single wall: ${ratio} (target <= 0.25, a packed cycle of at most ${targetWall} s)`);
    console.log(`floor: ${tableCount} bare Iceberg creates alone take ${bare.oneAtATime.wallSeconds} s one at a time, ${bare.threaded.wallSeconds} s ${bare.threads} at a time`);
    console.log(`modelled Glue, ${m.tables} tables: single ${model.single.runs} runs $${model.single.usd}, packed ${model.packed.runs} runs $${model.packed.usd}`);
    console.log('bench/results/pack.json written');
    return packed.ok && single.ok ? 0 : 1;
  });
}

runBench(main);
