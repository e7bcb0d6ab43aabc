/**
 * One run per lake table across cycles, on the real load runner (Spark + Iceberg): a load that
 * gave up while its run went on, and a run left going by a terminated cycle, never overlap the
 * next cycle's load of that lake table. Overlap is read from the runner's run records.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadActivities, type LoadTableInput } from '../../src/activities/load';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { PortError } from '../../src/errors';
import { createLocalPorts } from '../../src/local';
import type { RunRecord } from '../../src/local/load';
import { layoutOf } from '../../src/local/paths';
import type { ExportRef, LoadResult, PlanEntry } from '../../src/model';
import type { Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';

const LIVE = new Set(['pending', 'queued', 'running']);
const plan: PlanEntry = planEntry({ table: 'public.order_items', lakeTable: 'order_items', action: 'merge', primaryKey: ['order_id', 'line_no'] });

let work: string;
let ports: Ports;
let ref: ExportRef;
const config = () =>
  parseConfig({
    sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true }, target: { namespace: 'shop' }, local: { workDir: join(work, 'shop') } } },
  });

/** Reads the run records every few milliseconds and keeps the most that were live at once per lake table. */
class OverlapWatch {
  readonly max = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly runs: string) {}

  start(): void {
    this.max.clear();
    this.timer = setInterval(() => this.sample(), 20);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  records(): RunRecord[] {
    if (!existsSync(this.runs)) return [];
    const out: RunRecord[] = [];
    for (const file of readdirSync(this.runs).filter((f) => f.endsWith('.json'))) {
      try {
        out.push(JSON.parse(readFileSync(join(this.runs, file), 'utf8')) as RunRecord);
      } catch {
        // A record being replaced right now: the next sample reads it.
      }
    }
    return out;
  }

  private sample(): void {
    const live = new Map<string, number>();
    for (const r of this.records()) {
      if (!LIVE.has(r.state) || !r.args) continue;
      const key = `${r.args.namespace}.${r.args.lake_table}`;
      live.set(key, (live.get(key) ?? 0) + 1);
    }
    for (const [key, n] of live) this.max.set(key, Math.max(this.max.get(key) ?? 0, n));
  }
}

async function input(cycleId: string): Promise<LoadTableInput> {
  const planRef = await ports.manifests.put(`${cycleId}/plan.json`, [plan]);
  return { source: 'shop', cycleId, planRef, table: plan.table, exportId: ref.exportId, snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: ref.location, database: 'shop', namespace: 'shop' };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-lease-'));
  ports = await createLocalPorts(localSettings('shop', config().sources.shop!, work));
  const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'snap-1', mode: 'create' });
  ref = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1', snapshot, tables: [plan.table] });
  for (;;) {
    const status = await ports.export.describeExport(ref.exportId);
    if (status.state === 'complete') break;
    assert.equal(status.state, 'in_progress', status.failureCause);
    await delay(100);
  }
});

after(async () => {
  await ports?.close?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('one run per lake table on the load runner', () => {
  let watch: OverlapWatch;
  beforeEach(() => {
    watch = new OverlapWatch(layoutOf(join(work, 'shop')).runs);
  });

  test("a load whose attempts ran out while its run went on never overlaps the next cycle's load of that lake table", async () => {
    // Reading the state of cycle c1's runs fails (GetJobRun throttled) until its attempts are used up.
    const c1Runs = new Set<string>();
    const flaky: Ports = {
      ...ports,
      load: {
        ...ports.load,
        startLoad: async (req) => {
          const started = await ports.load.startLoad(req);
          c1Runs.add(started.runId);
          return started;
        },
        getRun: async (runId) => {
          if (c1Runs.has(runId)) throw new PortError('throttled', 'ThrottlingException', 'Rate exceeded');
          return ports.load.getRun(runId);
        },
      },
    };
    watch.start();
    try {
      const gaveUp = loadActivities({ config: config(), portsFor: () => flaky }).loadTable;
      await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000, attempt: 5, heartbeatDetails: { failures: 4 } }).run(gaveUp, await input('c1')), /Rate exceeded/);
      const { loadTable } = loadActivities({ config: config(), portsFor: () => ports });
      const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }).run(loadTable, await input('c2'))) as LoadResult;
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    } finally {
      watch.stop();
    }
    assert.equal(watch.max.get('shop.order_items'), 1, `two runs were live on shop.order_items at once: ${JSON.stringify(watch.records().map((r) => [r.runId, r.state, r.queuedAt, r.finishedAt]))}`);
  });

  test("a run left going by a terminated cycle is stopped, and waited for, before the next cycle's load starts", async () => {
    const c3 = await input('c3');
    const base = { ...c3, runToken: `c3:${plan.table}`, plan };
    const { runId: orphan } = await ports.load.startLoad({ ...base, resultLocation: ports.load.resultLocation(base) });
    watch.start();
    try {
      // The orphan is under way in Spark before the next cycle's load asks for the lake table.
      for (let i = 0; i < 1200 && (watch.records().find((r) => r.runId === orphan)?.state ?? 'pending') !== 'running'; i++) await delay(50);
      const { loadTable } = loadActivities({ config: config(), portsFor: () => ports });
      const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }).run(loadTable, await input('c4'))) as LoadResult;
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      assert.equal(result.cycleId, 'c4');
    } finally {
      watch.stop();
    }
    assert.equal(watch.max.get('shop.order_items'), 1, `two runs were live on shop.order_items at once: ${JSON.stringify(watch.records().map((r) => [r.runId, r.state, r.queuedAt, r.finishedAt]))}`);
    assert.equal(watch.records().find((r) => r.runId === orphan)?.state, 'stopped');
  });
});
