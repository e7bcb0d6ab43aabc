/**
 * The chaos run's local path: the embedded mode on a Debian PostgreSQL source (the demo shop,
 * five synced tables), three cycles with seeded inserts, updates and deletes between them, and
 * the worker and the load runner killed with SIGKILL at seeded moments (during the snapshot and
 * the export, at a load's start, mid-load, between a load and its grant, during verification and
 * during the source workflow's continue-as-new). The moments are read from the workflows'
 * histories and the load runner's run records.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { createPorts } from '../../src/backends';
import { loadConfigFile, sourceConfig } from '../../src/config/load';
import { compareTable } from '../../src/demo/compare';
import { cycleKey, cycleWorkflowId, sourceWorkflowId } from '../../src/ids';
import { readJsonIfExists } from '../../src/local/files';
import { processAlive } from '../../src/local/process-identity';
import type { RunRecord } from '../../src/local/load';
import type { RunnerInfo } from '../../src/local/runner/client';
import { seedDemo } from '../../src/local/source/demo-schema';
import { openPostgres } from '../../src/local/source/postgres';
import type { Ports } from '../../src/ports';
import { SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { startPostgres } from '../../test/local/helpers/postgres';
import { KillSwitch, type Moment, planKills } from './kills';
import { keyedPrng, type Prng } from './prng';
import { cycleFigures, cycleLine, type CycleFigures, type FinalTable, type PathFigures, type PathOptions, tableFigures } from './report';
import { cycleOutcome, startChaosServer } from './temporal';
import { WorkerProcess } from './workers';

const SOURCE = 'pg';
const SYNCED: Record<string, string> = {
  'public.customers': 'customers',
  'public.products': 'products',
  'public.order_items': 'order_items',
  'public.page_views': 'page_views',
  'public.events': 'events',
};

/** The activity each moment starts with, as the cycle and batch workflows schedule them. */
const ACTIVITY_MOMENTS: Record<string, Moment> = {
  startSnapshot: 'snapshot',
  snapshotStatus: 'snapshot',
  startExport: 'export',
  exportStatus: 'export',
  loadTable: 'load-start',
  loadPackedTable: 'load-start',
  grantTable: 'load-grant',
  verifyTable: 'verify',
};

/** Seeded inserts, updates and deletes in every synced table; deletes stay far below the 50% delete guard. */
function changeSql(prng: Prng, cycle: number): string {
  const offset = cycle * 10_000;
  const salt = prng.int(0, 1_000_000);
  const pick = (table: string, key: string, n: number) => `SELECT ${key} FROM ${table} ORDER BY md5(${key}::text || '${salt}') LIMIT ${n}`;
  return `
CREATE TEMP TABLE chaos_c AS SELECT * FROM customers WHERE id IN (${pick('customers', 'id', prng.int(1, 15))});
UPDATE chaos_c SET id = id + ${offset}, name = name || ' (copy ${cycle})';
INSERT INTO customers SELECT * FROM chaos_c;
DROP TABLE chaos_c;
UPDATE customers SET balance = balance + ${prng.int(1, 500)}.25, updated_at = updated_at + INTERVAL '1 day' WHERE id IN (${pick('customers', 'id', prng.int(1, 20))});
DELETE FROM customers WHERE id IN (${pick('customers', 'id', prng.int(1, 8))});
CREATE TEMP TABLE chaos_p AS SELECT * FROM products WHERE sku IN (${pick('products', 'sku', prng.int(1, 5))});
UPDATE chaos_p SET sku = sku || '-c${cycle}';
INSERT INTO products SELECT * FROM chaos_p;
DROP TABLE chaos_p;
UPDATE products SET price = price + 1.10, active = NOT active WHERE sku IN (${pick('products', 'sku', prng.int(1, 5))});
DELETE FROM products WHERE sku IN (${pick('products', 'sku', prng.int(0, 2))});
CREATE TEMP TABLE chaos_o AS SELECT * FROM order_items WHERE order_id IN (${pick('(SELECT DISTINCT order_id FROM order_items) o', 'order_id', prng.int(1, 4))});
UPDATE chaos_o SET order_id = order_id + ${offset};
INSERT INTO order_items SELECT * FROM chaos_o;
DROP TABLE chaos_o;
UPDATE order_items SET quantity = quantity + 1 WHERE order_id IN (${pick('(SELECT DISTINCT order_id FROM order_items) o', 'order_id', prng.int(1, 6))});
DELETE FROM order_items WHERE order_id IN (${pick('(SELECT DISTINCT order_id FROM order_items) o', 'order_id', prng.int(1, 4))});
INSERT INTO page_views SELECT '/chaos/${cycle}', TIMESTAMPTZ '2024-08-01 00:00:00+00' + i * INTERVAL '3 seconds', i, NULL FROM generate_series(1, ${prng.int(1, 40)}) AS i;
DELETE FROM page_views WHERE ctid IN (SELECT ctid FROM page_views ORDER BY md5(path || viewed_at::text || '${salt}') LIMIT ${prng.int(0, 10)});
INSERT INTO events SELECT m + i, 'chaos', jsonb_build_object('cycle', ${cycle}, 'i', i), TIMESTAMPTZ '2024-08-01 00:00:00+00' + i * INTERVAL '1 minute', NULL
FROM (SELECT max(id) AS m FROM events) e, generate_series(1, ${prng.int(1, 60)}) AS i;
`;
}

function runRecords(runsDir: string): RunRecord[] {
  if (!existsSync(runsDir)) return [];
  const out: RunRecord[] = [];
  for (const f of readdirSync(runsDir)) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(runsDir, f), 'utf8')) as RunRecord);
    } catch {
      // being written
    }
  }
  return out;
}

/** Reports each cycle's moments to the kill switch: new activities in the cycle's and its batches' histories, runs entering RUNNING. */
class MomentWatcher {
  private readonly seen = new Set<string>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly runsDir: string,
    private readonly kills: KillSwitch,
  ) {}

  watch(cycleWorkflow: string, cycleId: string): void {
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        await this.scan(cycleWorkflow, cycleId).catch(() => undefined);
        await delay(150);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async scan(cycleWorkflow: string, cycleId: string): Promise<void> {
    const workflows = [cycleWorkflow];
    const history = await this.client.workflow.getHandle(cycleWorkflow).fetchHistory();
    for (const e of history.events ?? []) {
      const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
      if (child) workflows.push(child);
    }
    for (const id of workflows) {
      const events = id === cycleWorkflow ? history.events : (await this.client.workflow.getHandle(id).fetchHistory()).events;
      for (const e of events ?? []) {
        const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
        const moment = type ? ACTIVITY_MOMENTS[type] : undefined;
        const key = `${id}#${String(e.eventId)}`;
        if (!moment || this.seen.has(key)) continue;
        this.seen.add(key);
        void this.kills.event(moment, `${type} scheduled`);
      }
    }
    for (const r of runRecords(this.runsDir)) {
      if (!r.runToken.startsWith(`${cycleId}:`) || r.state !== 'running') continue;
      const key = `running#${r.runId}#${r.restarts ?? 0}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      void this.kills.event('mid-load', `run ${r.runId} of ${r.table} running`);
      void this.kills.event('runner', `run ${r.runId} of ${r.table} running`);
    }
  }
}

export async function runLocalChaos(options: PathOptions): Promise<PathFigures> {
  const started = Date.now();
  const log = (line: string) => options.log(`[local] ${line}`);
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-chaos-local-'));
  const workDir = join(dir, 'data');
  const runsDir = join(workDir, 'runs');
  const pg = await startPostgres();
  const source = openPostgres(pg.url);
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  let watcher: MomentWatcher | undefined;
  let ports: Ports | undefined;
  const server = await startChaosServer(dir);
  try {
    await seedDemo(source);
    const taskQueue = `chaos-local-${options.seed}`;
    const configFile = join(dir, 'lakesync.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        temporal: { taskQueue, address: server.address },
        sources: {
          [SOURCE]: {
            database: 'shop',
            source: { kind: 'postgres', url: pg.url },
            target: { namespace: 'shop' },
            exclude: ['public.*_pii'],
            tables: { 'public.events': { cursor: { column: 'id' } } },
            grants: [{ principal: 'analyst' }],
            concurrency: 2,
            retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 4, maximumAttempts: 10 },
            timeouts: { heartbeatSeconds: 10, pollInitialSeconds: 1, pollMaximumSeconds: 2 },
            local: { workDir },
          },
        },
      }),
    );
    const w = new WorkerProcess(configFile, join(dir, 'data-root'), log);
    worker = w;
    const plan = options.plan ?? planKills(keyedPrng(options.seed, 'local-kills'), {
      kills: options.kills,
      cycles: options.cycles,
      required: ['snapshot', 'export', 'load-start', 'mid-load', 'runner', 'load-grant', 'continue-as-new', 'verify'],
      optional: ['export', 'load-start', 'mid-load', 'runner', 'load-grant', 'verify', 'continue-as-new'],
      maxOccurrence: { 'load-start': 4, 'mid-load': 4, runner: 4, 'load-grant': 4, verify: 4 },
    });
    const kills = new KillSwitch(
      plan,
      {
        killWorker: async () => {
          const pid = w.pid;
          await w.kill();
          return pid;
        },
        killRunner: async () => {
          const info = readJsonIfExists<RunnerInfo>(join(workDir, 'runner.json'));
          if (!info || !processAlive(info.pid)) return undefined;
          process.kill(info.pid, 'SIGKILL');
          return info.pid;
        },
        restartWorker: () => w.start(),
      },
      log,
    );
    await w.start();
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    watcher = new MomentWatcher(client, runsDir, kills);
    const handle = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue, args: [{ source: SOURCE, syncOnStart: false }] });
    const changes = keyedPrng(options.seed, 'local-changes');
    const cycles: CycleFigures[] = [];
    const cycleIds: string[] = [];
    for (let n = 1; n <= options.cycles; n++) {
      if (n > 1) await source.exec(changeSql(changes, n));
      const cycleId = cycleKey(n, handle.firstExecutionRunId);
      cycleIds.push(cycleId);
      const workflowId = cycleWorkflowId(SOURCE, cycleId);
      kills.beginCycle(n);
      watcher.watch(workflowId, cycleId);
      const cycleStarted = Date.now();
      await client.workflow.getHandle(sourceWorkflowId(SOURCE)).signal('requestSync', { requestedBy: 'chaos', requestId: `chaos-${n}` });
      const outcome = await cycleOutcome(client, workflowId, options.cycleTimeoutMs);
      await watcher.stop();
      await kills.endCycle(`cycle ${n} ended`);
      log(cycleLine(n, outcome, cycleStarted));
      const records = runRecords(runsDir);
      const tables = Object.keys(SYNCED).map((t) => {
        const mine = records.filter((r) => r.runToken === `${cycleId}:${t}`);
        mine.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
        const runStates = mine.map((r) => (r.errorClass ? `${r.state} (${r.errorClass}: ${(r.errorMessage ?? '').slice(0, 160)})` : r.state));
        return [t, { loadRuns: mine.length, runStarts: mine.reduce((s, r) => s + 1 + (r.restarts ?? 0), 0), runStates, snapshots: 0 }] as const;
      });
      cycles.push(cycleFigures(n, cycleId, outcome, cycleStarted, Object.fromEntries(tables)));
    }
    // The lake is read through the source's own ports (what `lakesync query` runs), with one load runner for every query.
    await w.stop();
    ports = await createPorts(SOURCE, sourceConfig(loadConfigFile(configFile), SOURCE), { dataRoot: join(dir, 'data-root') });
    const lakeQuery = ports.lake.query!.bind(ports.lake);
    const query = (sql: string) => lakeQuery(sql);
    // Iceberg snapshots per table per cycle, from the lineage each commit records.
    for (const [table, lake] of Object.entries(SYNCED)) {
      const rows = await query(`SELECT summary['lakesync.cycle-id'] AS cycle_id, count(*) AS n FROM shop.${lake}.snapshots GROUP BY summary['lakesync.cycle-id']`);
      for (const c of cycles) {
        const row = rows.find((r) => r.cycle_id === c.cycleId);
        c.tables[table]!.snapshots = Number(row?.n ?? 0);
      }
    }
    const final: Record<string, FinalTable> = {};
    for (const [table, lake] of Object.entries(SYNCED)) {
      const c = await compareTable(source, query, table, 'shop', lake);
      final[table] = { equal: c.equal, sourceRows: c.sourceRows, lakeRows: c.lakeRows, differences: c.differences.slice(0, 5) };
    }
    return tableFigures({
      path: 'local',
      tables: Object.keys(SYNCED),
      cycles,
      final,
      kills: kills.made,
      plannedKills: plan,
      wallSeconds: (Date.now() - started) / 1000,
      notes: [
        'embedded mode on Debian PostgreSQL: the demo shop, five synced tables (fewer than the AWS path: each load is a Spark job on 2 cores); customer_pii is excluded',
        'load runs per table per cycle = run records of the cycle\'s run token (runStarts also counts restarts of a run whose runner died); snapshots = Iceberg snapshots whose summary names the cycle (lakesync.cycle-id)',
        'lake = source: every row and value compared with lakesync query (src/demo/compare.ts)',
      ],
    });
  } finally {
    await watcher?.stop().catch(() => undefined);
    await worker?.stop().catch(() => undefined);
    await ports?.close?.().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await source.close().catch(() => undefined);
    await server.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
