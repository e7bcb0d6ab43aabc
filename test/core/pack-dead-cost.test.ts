/**
 * The cost of a pack run that ended without its summary (it died, timed out or was stopped before
 * writing it): the run was billed all the same, so its DPU-seconds are shared evenly by the pack's
 * tables, and the shares add up to the run's figure. A summary whose read fails for a moment
 * (throttled, a 5xx) is read again: the table keeps its share.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LeftByPack, loadActivities, loadRequestFor, type LoadTableInput, type LoadTableResult } from '../../src/activities/load';
import { parseConfig } from '../../src/config/load';
import { PortError } from '../../src/errors';
import { FakeBackend } from '../../src/fake/ports';
import type { LoadResult, LoadRunStatus, PackSummary } from '../../src/model';
import type { LoadPort } from '../../src/ports';
import { planEntry } from '../helpers/plan';

const TABLES = ['public.a', 'public.b', 'public.c'];
const RUN_DPU_SECONDS = 600;
const started = '2025-01-01T00:00:00.000Z';

/** A cycle's plan of the three tables, in a fake backend's manifest store. */
async function planned() {
  const config = parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });
  const plans = TABLES.map((t) => planEntry({ table: t, lakeTable: t.split('.')[1]!, action: 'create', primaryKey: ['id'], sizeGB: 0.001 }));
  const base = new FakeBackend({ tables: TABLES, latencyMs: 0 }).ports();
  const planRef = await base.manifests.put('c1/plan.json', plans);
  return { config, plans, base, planRef };
}

async function setup(readSummary: () => Promise<PackSummary | undefined> = async () => undefined, runDpuSeconds = RUN_DPU_SECONDS, withIndex = false) {
  const { config, plans, base, planRef } = await planned();
  const packOf = (table: string) => ({ token: 'c1-pack-1', runId: 'pack-run-1', tables: TABLES.length, ...(withIndex ? { index: TABLES.indexOf(table) } : {}) }) as LoadTableInput['pack'];
  const inputOf = (table: string): LoadTableInput => ({ source: 'shop', cycleId: 'c1', planRef, table, exportId: 'e1', snapshotTime: started, exportLocation: 'fake://exports/e1', database: 'shop', namespace: 'shop', pack: packOf(table) });
  // public.a's result was written before the run died; the others have none.
  const reqA = loadRequestFor(base.load, inputOf('public.a'), plans[0]!);
  const resultA = { table: 'shop.public.a', lakeTable: 'shop.a', status: 'succeeded', action: 'create', rowsRead: 1, inserted: 1, updated: 0, deleted: 0, rowCountAfter: 1, committed: true, snapshotId: '1', schemaHash: 'h', cycleId: 'c1', runToken: reqA.runToken, startedAt: started, finishedAt: started } as LoadResult;
  const died: LoadRunStatus = { runId: 'pack-run-1', state: 'failed', detail: 'TIMEOUT', errorMessage: 'the run hit the job timeout', dpuSeconds: runDpuSeconds, executionSeconds: 300 };
  const load: LoadPort = {
    ...base.load,
    pollPolicy: { initialMs: 10, maxMs: 20 },
    getRun: async () => died,
    readResult: async (location) => (location === reqA.resultLocation ? resultA : undefined),
    packs: { ...base.load.packs!, readSummary },
  };
  const { loadPackedTable } = loadActivities({ config, portsFor: () => ({ ...base, load }) });
  return { inputOf, loadPackedTable };
}

describe('a pack run that ended without its summary', () => {
  test("its DPU-seconds are shared evenly by the pack's tables: the loaded one's usage and the left ones' spent runs", async () => {
    const { inputOf, loadPackedTable } = await setup();
    const run = (table: string) => new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadPackedTable, inputOf(table)) as Promise<LoadTableResult | LeftByPack>;
    const a = await run('public.a');
    assert.ok(!('leftByPack' in a));
    assert.equal(a.usage?.dpuSeconds, 200, `public.a: ${JSON.stringify(a.usage)}`);
    let booked = a.usage?.dpuSeconds ?? 0;
    for (const table of ['public.b', 'public.c']) {
      const left = await run(table);
      assert.ok('leftByPack' in left, table);
      assert.deepEqual(left.leftByPack.spent, { runs: [`pack-run-1:${table}`], dpuSeconds: 200 }, table);
      booked += left.leftByPack.spent?.dpuSeconds ?? 0;
    }
    assert.equal(booked, RUN_DPU_SECONDS, 'the shares add up to the run');
  });

  test("a figure that does not divide evenly: each table's share is cut at its place in the pack, and they add up to the run exactly", async () => {
    const { inputOf, loadPackedTable } = await setup(undefined, 100, true);
    const run = (table: string) => new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadPackedTable, inputOf(table)) as Promise<LoadTableResult | LeftByPack>;
    const shares: number[] = [];
    for (const table of TABLES) {
      const answer = await run(table);
      shares.push(('leftByPack' in answer ? answer.leftByPack.spent?.dpuSeconds : answer.usage?.dpuSeconds) ?? NaN);
    }
    assert.equal(shares.reduce((n, s) => n + Math.round(s * 1e6), 0), 100_000_000, `${shares.join(' + ')} = 100`);
    assert.ok(shares.every((s) => Math.abs(s - 100 / 3) < 1e-6), shares.join(', '));
  });
});

describe('a pack summary whose read fails for a moment', () => {
  test("it is read again: the table's share is its seconds over the pack's", async () => {
    const summary: PackSummary = { packToken: 'c1-pack-1', tables: [{ table: 'public.a', status: 'succeeded', seconds: 10 }, { table: 'public.b', status: 'failed', seconds: 20 }, { table: 'public.c', status: 'failed', seconds: 30 }] };
    let reads = 0;
    const { inputOf, loadPackedTable } = await setup(async () => {
      reads++;
      if (reads === 1) throw new PortError('throttled', 'SlowDown', 'S3 GetObject of the pack summary: SlowDown (please reduce your request rate)');
      return summary;
    });
    const a = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadPackedTable, inputOf('public.a'))) as LoadTableResult | LeftByPack;
    assert.ok(!('leftByPack' in a));
    assert.equal(a.usage?.dpuSeconds, 100, `600 DPU-s by 10 of 60 seconds: ${JSON.stringify(a.usage)}`);
    assert.equal(reads, 2);
  });
});

describe('tables loaded alone while their pack run goes on (its start gave up after making it)', () => {
  test("each attaches to the pack run and books its share of the run's DPU-seconds, not the whole run", async () => {
    const { config, plans, base, planRef } = await planned();
    // No pack: the workflow runs each table alone, as when startPackLoad gave up.
    const inputOf = (table: string): LoadTableInput => ({ source: 'shop', cycleId: 'c1', planRef, table, exportId: 'e1', snapshotTime: started, exportLocation: 'fake://exports/e1', database: 'shop', namespace: 'shop' });
    const requests = TABLES.map((t, i) => loadRequestFor(base.load, inputOf(t), plans[i]!));
    const resultOf = (i: number) => ({ ...({ status: 'succeeded', action: 'create', rowsRead: 1, inserted: 1, updated: 0, deleted: 0, rowCountAfter: 1, committed: true, snapshotId: '1', schemaHash: 'h', cycleId: 'c1', startedAt: started, finishedAt: started } as LoadResult), table: `shop.${TABLES[i]}`, lakeTable: `shop.${plans[i]!.lakeTable}`, runToken: requests[i]!.runToken });
    const ended: LoadRunStatus = { runId: 'pack-run-1', state: 'succeeded', detail: 'SUCCEEDED', dpuSeconds: RUN_DPU_SECONDS, executionSeconds: 60 };
    const summary: PackSummary = { packToken: 'c1-pack-1', tables: TABLES.map((table, i) => ({ table, status: 'succeeded', seconds: 10 * (i + 1) })) };
    const load: LoadPort = {
      ...base.load,
      pollPolicy: { initialMs: 10, maxMs: 20 },
      // The pack run is live on each of its lake tables under that table's own run token (as Glue and the local runner list it).
      liveRuns: async (_namespace, lakeTable) => {
        const i = plans.findIndex((p) => p.lakeTable === lakeTable);
        return [{ runId: 'pack-run-1', runToken: requests[i]!.runToken, detail: 'RUNNING', pack: { token: 'c1-pack-1', tables: TABLES.length } }];
      },
      findRunByToken: async () => undefined,
      getRun: async () => ended,
      readResult: async (location) => {
        const i = requests.findIndex((r) => r.resultLocation === location);
        return i >= 0 ? resultOf(i) : undefined;
      },
      packs: { ...base.load.packs!, readSummary: async () => summary },
    };
    const { loadTable } = loadActivities({ config, portsFor: () => ({ ...base, load }) });
    const booked: number[] = [];
    for (const table of TABLES) {
      const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, inputOf(table))) as LoadTableResult;
      booked.push(result.usage?.dpuSeconds ?? NaN);
    }
    assert.deepEqual(booked, [100, 200, 300], '600 DPU-s by 10, 20 and 30 of 60 seconds');
  });
});

describe('a table loaded alone that attached to its pack run, which then died without its result', () => {
  test('the table is loaded in a run of its own in the same attempt: the pack run that left it costs it no attempt', async () => {
    const { config, plans, base, planRef } = await planned();
    // No pack, and one attempt in all: the workflow runs the table alone, as when startPackLoad gave up.
    const input: LoadTableInput = { source: 'shop', cycleId: 'c1', planRef, table: 'public.a', exportId: 'e1', snapshotTime: started, exportLocation: 'fake://exports/e1', database: 'shop', namespace: 'shop', maxFailures: 1 };
    const req = loadRequestFor(base.load, input, plans[0]!);
    const died: LoadRunStatus = { runId: 'pack-run-1', state: 'failed', detail: 'TIMEOUT', errorMessage: 'the run hit the job timeout', dpuSeconds: RUN_DPU_SECONDS, executionSeconds: 300 };
    let packLive = true;
    const load: LoadPort = {
      ...base.load,
      pollPolicy: { initialMs: 10, maxMs: 20 },
      // The pack run is live on the lake table under the table's run token until it dies.
      liveRuns: async (namespace, lakeTable) =>
        packLive ? [{ runId: 'pack-run-1', runToken: req.runToken, detail: 'RUNNING', pack: { token: 'c1-pack-1', tables: TABLES.length } }] : base.load.liveRuns(namespace, lakeTable),
      findRunByToken: async (r) => (packLive ? undefined : base.load.findRunByToken(r)),
      getRun: async (runId) => {
        if (runId !== 'pack-run-1') return base.load.getRun(runId);
        packLive = false;
        return died;
      },
      packs: { ...base.load.packs!, readSummary: async () => undefined },
    };
    const { loadTable } = loadActivities({ config, portsFor: () => ({ ...base, load }) });
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, input)) as LoadTableResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(result.runToken, req.runToken);
    // Its share of the dead pack run (an even third of it) is its cost all the same.
    assert.ok((result.usage?.dpuSeconds ?? 0) >= RUN_DPU_SECONDS / TABLES.length, `usage ${JSON.stringify(result.usage)}`);
  });
});
