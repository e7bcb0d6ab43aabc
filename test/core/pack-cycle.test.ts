/**
 * Packed runs: small RDS-export tables loaded several to a run. The grouping (pure), the
 * `packing` config, and whole cycles on a real Temporal dev server with the fake backend: every
 * packed table keeps its own outcome, commit, watermark, error and cost share; a table that fails
 * in a pack, or that a dying pack never reached, is loaded again in a run of its own, and no table
 * is loaded twice; a restarted worker or a lost start answer never starts a second pack run.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parseConfig } from '../../src/config/load';
import { PACKING_DEFAULTS } from '../../src/config/packing';
import { FakeBackend, type FakeOptions } from '../../src/fake/ports';
import { packTokenFor } from '../../src/ids';
import { loadActivities, loadRequestFor, type LoadTableInput } from '../../src/activities/load';
import type { CycleResult, LoadItem, LoadRequest, LoadResult, LoadRunStatus, LoadUsage, TableOutcome } from '../../src/model';
import type { LoadPort } from '../../src/ports';
import { rerunUpdate } from '../../src/workflows/messages';
import { loadUnits } from '../../src/workflows/packs';
import { fakeConfig, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { planEntry } from '../helpers/plan';
import { startSource, waitForCycles } from '../helpers/source';
import { pollFor } from '../helpers/within';

const tables = (n: number) => Array.from({ length: n }, (_, i) => `public.t${String(i + 1).padStart(4, '0')}`);
const item = (table: string, sizeGB?: number, extra: Partial<LoadItem> = {}): LoadItem => ({ table, lakeTable: table.split('.')[1]!, action: 'create', ...(sizeGB !== undefined ? { sizeGB } : {}), ...extra });

describe('packs: grouping', () => {
  const packing = { thresholdGB: 1, maxTables: 3, maxGB: 2 };

  test('in input order, up to maxTables and maxGB; large, unsized, pinned, direct and DynamoDB tables alone; a pack of one is alone', () => {
    const items = [
      item('s.a', 0.5),
      item('s.big', 1.5),
      item('s.b', 0.5),
      item('s.c', 0.5),
      item('s.d', 0.1), // maxTables 3 reached: a new pack
      item('s.unsized'),
      item('s.pinned', 0.1, { pinned: true }),
      item('s.direct', 0.1, { extract: 'direct' }),
      item('s.ddb', 0.1, { extract: 'dynamodb' }),
      item('s.e', 1), // 0.1 + 1 = 1.1 <= 2
      item('s.f', 1), // 2.1 > maxGB: a new pack, of one table
    ];
    const units = loadUnits('7-abc', items, packing);
    const shape = units.map((u) => (u.kind === 'pack' ? u.items.map((i) => i.table) : u.item.table));
    assert.deepEqual(shape, [['s.a', 's.b', 's.c'], 's.big', ['s.d', 's.e'], 's.unsized', 's.pinned', 's.direct', 's.ddb', 's.f']);
    const first = units[0]!;
    assert.equal(first.kind === 'pack' && first.token, packTokenFor('7-abc', ['s.a', 's.b', 's.c']));
    assert.deepEqual(loadUnits('7-abc', items, packing), units, 'deterministic');
    assert.ok(units.every((u) => u.kind === 'alone') === false);
    assert.ok(loadUnits('7-abc', items, undefined).every((u) => u.kind === 'alone'), 'no packing: every table alone');
  });

  test('tables whose sizes add up to exactly maxGB share a pack, however the gigabytes round in binary', () => {
    const shape = (packing: { thresholdGB: number; maxTables: number; maxGB: number }, sizes: number[]) =>
      loadUnits('7-abc', sizes.map((gb, i) => item(`s.t${i}`, gb)), packing).map((u) => (u.kind === 'pack' ? u.items.length : 1));
    // 0.1 + 0.1 + 0.1 is 0.30000000000000004 in binary floating point.
    assert.deepEqual(shape({ thresholdGB: 0.1, maxTables: 10, maxGB: 0.3 }, [0.1, 0.1, 0.1]), [3], 'three tables of 0.1 GB in a pack of at most 0.3 GB');
    assert.deepEqual(shape({ thresholdGB: 0.7, maxTables: 10, maxGB: 1.4 }, [0.7, 0.7]), [2]);
    assert.deepEqual(shape({ thresholdGB: 0.3, maxTables: 10, maxGB: 0.6 }, [0.1, 0.2, 0.3]), [3], '0.1 + 0.2 + 0.3 = 0.6');
    assert.deepEqual(shape({ thresholdGB: 0.1, maxTables: 10, maxGB: 0.3 }, [0.1, 0.1, 0.1, 0.000001]), [3, 1], 'a millionth of a GB more is more');
  });

  test('pack tokens: per cycle and tables, letters, digits and hyphens only', () => {
    const token = packTokenFor('12-0abc', ['public.a', 'public.b']);
    assert.match(token, /^12-0abc-pack-[a-z0-9]{13}$/);
    assert.notEqual(token, packTokenFor('13-0abc', ['public.a', 'public.b']));
    assert.notEqual(token, packTokenFor('12-0abc', ['public.b', 'public.a']));
  });
});

describe('packs: config', () => {
  const base = (packing: unknown) => ({ sources: { shop: { database: 'db', source: { kind: 'fake', tables: 2 }, target: { namespace: 'shop' }, packing } } });

  test('absent means no packing; {} takes the defaults', () => {
    assert.equal(parseConfig({ sources: { shop: { database: 'db', source: { kind: 'fake', tables: 2 }, target: { namespace: 'shop' } } } }).sources.shop!.packing, undefined);
    assert.deepEqual(parseConfig(base({})).sources.shop!.packing, { ...PACKING_DEFAULTS });
    assert.deepEqual(parseConfig(base({ maxTables: 200, thresholdGB: 0.5 })).sources.shop!.packing, { thresholdGB: 0.5, maxTables: 200, maxGB: 5 });
  });

  test('bad values are refused naming the field', () => {
    assert.throws(() => parseConfig(base({ thresholdGB: 0 })), /sources\.shop\.packing\.thresholdGB.*more than 0/s);
    assert.throws(() => parseConfig(base({ maxTables: 1 })), /sources\.shop\.packing\.maxTables.*at least 2/s);
    assert.throws(() => parseConfig(base({ maxTables: 201 })), /sources\.shop\.packing\.maxTables.*at most 200/s);
    assert.throws(() => parseConfig(base({ maxTables: 2.5 })), /sources\.shop\.packing\.maxTables.*whole number/s);
    assert.throws(() => parseConfig(base({ maxGB: 0.5 })), /sources\.shop\.packing\.maxGB.*at least thresholdGB \(1\)/s);
    assert.throws(() => parseConfig(base({ maxGB: '5' })), /sources\.shop\.packing\.maxGB/s);
    assert.throws(() => parseConfig(base({ tables: 3 })), /sources\.shop\.packing.*tables/s);
  });
});

async function cycleResult(w: FakeWorker, workflowId: string): Promise<CycleResult> {
  return w.client.workflow.getHandle<() => Promise<CycleResult>>(workflowId).result();
}

function byTable(result: CycleResult): Record<string, TableOutcome> {
  return Object.fromEntries(result.tables.map((t) => [t.table, t]));
}

/** Runs of its own (not in a pack) the fake started for a table. */
function singleRuns(backend: FakeBackend, table: string): number {
  return Object.values(backend.state.runs).filter((r) => r.table === table && !r.packRunId).length;
}

describe('packed cycles on a real Temporal server', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  const packedConfig = (queue: string, source: string, names: string[], extra: Record<string, unknown> = {}) =>
    fakeConfig(queue, { tables: names }, { packing: { thresholdGB: 1, maxTables: 4, maxGB: 5 }, ...extra }, source);

  describe('packs formed as configured', () => {
    const NAMES = tables(12);
    const LARGE = 'public.t0011';
    const PINNED = 'public.t0012';
    const queue = uniqueQueue('packs');
    let w: FakeWorker;
    before(async () => {
      const options: FakeOptions = {
        tables: NAMES,
        latencyMs: 30,
        // Seconds that differ, so that the shares of a run's DPU-seconds differ.
        latencyMsByTable: { 'public.t0001': 10, 'public.t0002': 20, 'public.t0003': 60, 'public.t0004': 110 },
        dpuSecondsPerRun: 120,
        exportGBPerTable: 0.1,
        exportGBByTable: { [LARGE]: 3 },
      };
      w = await startWorkerOver(packedConfig(queue, 'packs', NAMES, { tables: { [PINNED]: { glueWorkers: 4 } } }), new FakeBackend(options));
    });
    after(async () => w?.stop());

    test('10 small tables in ceil(10/4) = 3 runs, the large and the pinned table alone; each table its own outcome, commit, watermark and share of its run', async () => {
      const handle = await startSource(w.client, queue, 'packs');
      const s = await waitForCycles(handle, 1);
      const result = await cycleResult(w, s.lastCycle!.workflowId);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.filter((t) => t.error)));

      // The packs start at once, in no set order.
      const packs = w.backend.packRuns().sort((a, b) => a.tables[0]!.table.localeCompare(b.tables[0]!.table));
      assert.deepEqual(packs.map((p) => p.tables.map((t) => t.table)), [NAMES.slice(0, 4), NAMES.slice(4, 8), NAMES.slice(8, 10)]);
      assert.equal(w.backend.count('pack.start'), 3);
      const runs = Object.values(w.backend.state.runs);
      assert.equal(runs.filter((r) => !r.packRunId).length, 2, 'two runs of their own');
      assert.equal(singleRuns(w.backend, LARGE), 1);
      assert.equal(singleRuns(w.backend, PINNED), 1);

      const outcomes = byTable(result);
      for (const t of NAMES) {
        assert.equal(outcomes[t]?.status, 'committed', t);
        assert.equal(w.backend.count(`load.start:${t}`), 1, `${t} loaded once`);
        assert.equal(w.backend.count(`load.commit:${t}`), 1, `${t} committed once`);
        assert.equal(outcomes[t]!.load?.rowCountAfter, 100, t);
        assert.equal(s.ledger[t]?.exportId, s.lastCycle!.exportId, `${t}: its own watermark`);
        assert.equal(s.ledger[t]?.icebergSnapshotId, '1', t);
      }
      // Each pack's shares of its run's DPU-seconds add up to the run's; by seconds.
      for (const pack of packs) {
        const shares = pack.tables.map((t) => outcomes[t.table]!.cost!.dpuSeconds!);
        assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 120) < 1e-6, `pack ${pack.packToken}: ${shares.join(' + ')} = 120`);
      }
      const first = packs[0]!.tables.map((t) => outcomes[t.table]!.cost!.dpuSeconds!);
      assert.deepEqual(first, [6, 12, 36, 66], '120 DPU-s by 0.01, 0.02, 0.06 and 0.11 seconds');
      assert.equal(outcomes[LARGE]!.cost!.dpuSeconds, 120, 'a run of its own is all its own');
      assert.equal(outcomes['public.t0001']!.cost!.exportGB, 0.1, 'the export GB are its own');
      await recordHistories(w.client, 'packed-loads', ['lakesync/packs']);
    });
  });

  describe('a table failing in its pack', () => {
    const NAMES = tables(4);
    const RETRIED = 'public.t0002';
    const REFUSED = 'public.t0003';
    const queue = uniqueQueue('pack-fail');
    let w: FakeWorker;
    before(async () => {
      w = await startWorkerOver(
        packedConfig(queue, 'packfail', NAMES),
        new FakeBackend({
          tables: NAMES,
          latencyMs: 30,
          exportGBPerTable: 0.1,
          failures: [
            { table: RETRIED, phase: 'load', times: 1, retryable: true, message: 'commit lost to a concurrent commit' },
            { table: REFUSED, phase: 'load', times: 'always', retryable: false, message: 'column id changed type' },
          ],
        }),
      );
    });
    after(async () => w?.stop());

    test('fails alone: the retry runs alone and commits, a final failure is that table\'s outcome only; the rerun runs alone', async () => {
      const handle = await startSource(w.client, queue, 'packfail');
      const s = await waitForCycles(handle, 1);
      const result = await cycleResult(w, s.lastCycle!.workflowId);
      const outcomes = byTable(result);
      assert.equal(result.status, 'partial');
      assert.equal(w.backend.packRuns().length, 1, 'one pack run');

      assert.equal(outcomes[RETRIED]?.status, 'committed', JSON.stringify(outcomes[RETRIED]?.error));
      assert.equal(singleRuns(w.backend, RETRIED), 1, 'its retry ran alone');
      assert.equal(w.backend.count(`load.commit:${RETRIED}`), 1);

      assert.equal(outcomes[REFUSED]?.status, 'failed');
      assert.match(outcomes[REFUSED]!.error!.message, /load of public\.t0003 failed \(run jp_\d+\): SchemaConflict: column id changed type/);
      assert.equal(outcomes[REFUSED]!.error!.retryable, false);
      assert.equal(singleRuns(w.backend, REFUSED), 0, 'a failure no retry can fix is not retried');
      assert.equal(s.ledger[REFUSED], undefined, 'no watermark');

      for (const t of ['public.t0001', 'public.t0004']) {
        assert.equal(outcomes[t]?.status, 'committed', t);
        assert.equal(w.backend.count(`load.start:${t}`), 1, `${t} loaded once`);
      }

      w.backend.setFailures([]);
      await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed', requestedBy: 'test' }] });
      const second = await waitForCycles(handle, 2);
      assert.equal(second.recentCycles[0]!.status, 'succeeded');
      assert.equal(singleRuns(w.backend, REFUSED), 1, 'the rerun ran it alone');
      assert.equal(w.backend.packRuns().length, 1, 'no new pack');
      assert.equal(second.ledger[REFUSED]?.exportId, second.recentCycles[0]!.exportId);
    });
  });

  describe('a pack run dying before some of its tables', () => {
    const NAMES = tables(4);
    const queue = uniqueQueue('pack-dies');
    let w: FakeWorker;
    before(async () => {
      w = await startWorkerOver(
        packedConfig(queue, 'packdies', NAMES),
        new FakeBackend({ tables: NAMES, latencyMs: 30, exportGBPerTable: 0.1, dpuSecondsPerRun: 60, failures: [{ table: 'public.t0003', phase: 'pack', times: 1, retryable: true }] }),
      );
    });
    after(async () => w?.stop());

    test('the tables it never loaded are loaded alone and commit; those it loaded are not loaded twice', async () => {
      const handle = await startSource(w.client, queue, 'packdies');
      const s = await waitForCycles(handle, 1);
      const result = await cycleResult(w, s.lastCycle!.workflowId);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error)));
      assert.equal(w.backend.packRuns().length, 1, 'the pack is never started again');
      for (const t of NAMES) {
        const late = t === 'public.t0003' || t === 'public.t0004';
        assert.equal(w.backend.count(`load.start:${t}`), 1, `${t} loaded once`);
        assert.equal(w.backend.count(`load.commit:${t}`), 1, `${t} committed once`);
        assert.equal(singleRuns(w.backend, t), late ? 1 : 0, `${t} ${late ? 'ran alone' : 'ran in the pack'}`);
        assert.equal(s.ledger[t]?.exportId, s.lastCycle!.exportId, t);
      }
      // The pack wrote no summary: the tables it loaded have no share of it; those loaded alone have their runs'.
      const outcomes = byTable(result);
      assert.equal(outcomes['public.t0001']!.cost?.dpuSeconds, undefined);
      assert.equal(outcomes['public.t0003']!.cost?.dpuSeconds, 60);
    });
  });

  describe('a pack run dying before its first table, with concurrency 1 and one attempt per load', () => {
    const NAMES = tables(4);
    const queue = uniqueQueue('pack-left');
    let w: FakeWorker;
    before(async () => {
      w = await startWorkerOver(
        packedConfig(queue, 'packleft', NAMES, { concurrency: 1, retry: { maximumAttempts: 1 } }),
        new FakeBackend({ tables: NAMES, latencyMs: 400, exportGBPerTable: 0.1, failures: [{ table: 'public.t0001', phase: 'pack', times: 1, retryable: true }] }),
      );
    });
    after(async () => w?.stop());

    test('the tables it left run alone one after another, each still with its one attempt: all commit', async () => {
      const handle = await startSource(w.client, queue, 'packleft');
      const s = await waitForCycles(handle, 1);
      const result = await cycleResult(w, s.lastCycle!.workflowId);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error?.message)));
      for (const t of NAMES) assert.equal(singleRuns(w.backend, t), 1, `${t} ran alone once`);
      const alone = Object.values(w.backend.state.runs).filter((r) => !r.packRunId);
      const overlapping = (r: (typeof alone)[number]) => alone.filter((o) => o.startedAtMs < r.startedAtMs + r.durationMs && r.startedAtMs < o.startedAtMs + o.durationMs).length;
      assert.equal(Math.max(...alone.map(overlapping)), 1, 'concurrency 1: never two runs at once');
    });
  });

  describe('a pack run that expired in the job run queue, with one attempt per load', () => {
    const NAMES = tables(3);
    const queue = uniqueQueue('pack-expired');
    let w: FakeWorker;
    before(async () => {
      w = await startWorkerOver(packedConfig(queue, 'packexpired', NAMES, { concurrency: 1, retry: { maximumAttempts: 1 } }), new FakeBackend({ tables: NAMES, latencyMs: 200, exportGBPerTable: 0.1, packRunsExpire: 1 }));
    });
    after(async () => w?.stop());

    test('its tables run alone one after another, none spending its one attempt on the run that never started: all commit, each once', async () => {
      const handle = await startSource(w.client, queue, 'packexpired');
      const s = await waitForCycles(handle, 1);
      const result = await cycleResult(w, s.lastCycle!.workflowId);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error?.message)));
      assert.equal(w.backend.packRuns().length, 1, 'the pack is not started again');
      assert.equal(w.backend.packRuns()[0]!.expired, true);
      for (const t of NAMES) {
        assert.equal(singleRuns(w.backend, t), 1, `${t} ran alone once`);
        assert.equal(w.backend.count(`load.commit:${t}`), 1, `${t} committed once`);
        assert.equal(s.ledger[t]?.exportId, s.lastCycle!.exportId, `${t}: its own watermark`);
      }
    });
  });

  describe('a restarted worker and a lost start answer', () => {
    const NAMES = tables(4);
    test('a worker restarted mid-pack re-attaches to the pack run; a start whose answer was lost finds it by its token', async () => {
      const queue = uniqueQueue('pack-restart');
      const config = packedConfig(queue, 'packrestart', NAMES);
      const backend = new FakeBackend({ tables: NAMES, latencyMs: 1_500, exportGBPerTable: 0.1, packStartAnswersLost: 1 });
      let w = await startWorkerOver(config, backend);
      try {
        const handle = await startSource(w.client, queue, 'packrestart');
        await pollFor('the pack run to start', () => (backend.packRuns().length > 0 ? true : undefined), 60_000, 50);
        assert.equal(backend.count('pack.start'), 1, 'the lost answer was not followed by a second start');
        // Stop the worker while its tables' loads wait for the pack run (4 x 1.5 s) and start another on the same backend.
        await pollFor('the 4 loads to wait for the pack run', () => (backend.count('load.get') >= 4 ? true : undefined), 60_000, 50);
        const pack = backend.packRuns()[0]!;
        const midPack = backend.count('load.get') >= 4 && Date.now() < pack.startedAtMs + pack.durationMs - 1_000;
        await w.stop();
        w = await startWorkerOver(config, backend);
        const s = await waitForCycles(w.client.workflow.getHandle(handle.workflowId), 1, 120_000);
        assert.equal(s.lastCycle!.status, 'succeeded');
        assert.ok(midPack, 'the worker stopped while its loads waited for the pack run');
        assert.equal(backend.packRuns().length, 1, 'one pack run');
        assert.equal(backend.count('pack.start'), 1);
        for (const t of NAMES) {
          assert.equal(backend.count(`load.start:${t}`), 1, `${t} loaded once`);
          assert.equal(backend.count(`load.commit:${t}`), 1, `${t} committed once`);
          assert.equal(singleRuns(backend, t), 0, t);
        }
      } finally {
        await w.stop();
      }
    });

    test('a pack whose lake table has a live run of another load is not started: its tables run alone, one stopping that run first', async () => {
      const queue = uniqueQueue('pack-busy');
      const backend = new FakeBackend({ tables: NAMES, latencyMs: 10, latencyMsByTable: { 'public.t0002': 60_000 }, stopLatencyMs: 1_000, exportGBPerTable: 0.1 });
      // A run an earlier cycle left on the lake table of public.t0002.
      const plan = { table: 'public.t0002', lakeTable: 't0002', action: 'merge' };
      const stale = await backend.ports().load.startLoad({ source: 'packbusy', cycleId: 'old', runToken: 'old:public.t0002', database: 'fake', namespace: 'shop', plan, resultLocation: 'fake://results/old/public.t0002.json' } as unknown as LoadRequest);
      // Only that stale run is long: the cycle's own runs take 10 ms.
      backend.setLatencyByTable({});
      const w = await startWorkerOver(packedConfig(queue, 'packbusy', NAMES), backend);
      try {
        const s = await waitForCycles(await startSource(w.client, queue, 'packbusy'), 1);
        assert.equal(s.lastCycle!.status, 'succeeded');
        assert.equal(backend.packRuns().length, 0, 'no pack run');
        for (const t of NAMES) assert.equal(singleRuns(backend, t), t === 'public.t0002' ? 2 : 1, t);
        const stopped = backend.state.runs[stale.runId]!.stopRequestedAtMs;
        assert.notEqual(stopped, undefined, 'the stale run was stopped');
        const next = Object.values(backend.state.runs).find((r) => r.table === 'public.t0002' && r.runId !== stale.runId)!;
        assert.ok(next.startedAtMs >= stopped! + 1_000, 'the cycle\'s load of public.t0002 started only once the stale run had ended (1 s after its stop)');
      } finally {
        await w.stop();
      }
    });

    test('a backend without packs runs every table alone', async () => {
      const queue = uniqueQueue('no-packs');
      const w = await startWorkerOver(packedConfig(queue, 'nopacks', NAMES), new FakeBackend({ tables: NAMES, latencyMs: 10, exportGBPerTable: 0.1, noPacks: true }));
      try {
        const s = await waitForCycles(await startSource(w.client, queue, 'nopacks'), 1);
        assert.equal(s.lastCycle!.status, 'succeeded');
        for (const t of NAMES) assert.equal(singleRuns(w.backend, t), 1, t);
      } finally {
        await w.stop();
      }
    });
  });
});

/**
 * A packed table's own load activity against a pack run that is still going: where runs are not
 * billed (the embedded mode) a succeeded result of the table's own run token lets it go on to grant
 * and verify at once; otherwise (a billed or modelled run, a failed or foreign result) it waits for
 * the run's end, as its DPU share or its retry alone need the whole run.
 */
describe('a packed table and the end of its pack run', () => {
  const TABLE = 'public.orders';
  const plan = planEntry({ table: TABLE, lakeTable: 'orders', action: 'create', primaryKey: ['id'], sizeGB: 0.001 });
  const started = '2025-01-01T00:00:00.000Z';

  async function setup(kind: 'pglite' | 'fake') {
    const config = parseConfig({
      sources: { shop: { database: 'shop', source: kind === 'fake' ? { kind: 'fake', tables: [TABLE] } : { kind: 'pglite', dataDir: '/nonexistent/pglite' }, target: { namespace: 'shop' } } },
    });
    const base = new FakeBackend({ tables: [TABLE], latencyMs: 0 }).ports();
    const planRef = await base.manifests.put('c1/plan.json', [plan]);
    const input: LoadTableInput = { source: 'shop', cycleId: 'c1', planRef, table: TABLE, exportId: 'e1', snapshotTime: started, exportLocation: 'fake://exports/e1', database: 'shop', namespace: 'shop', pack: { token: 'c1-pack-1', runId: 'pack-run-1' } };
    const req = loadRequestFor(base.load, input, plan);
    const state = { run: { runId: 'pack-run-1', state: 'running', detail: 'RUNNING' } as LoadRunStatus, result: undefined as LoadResult | undefined, endedAt: 0, summaries: 0 };
    const load: LoadPort = {
      ...base.load,
      pollPolicy: { initialMs: 20, maxMs: 50 },
      getRun: async () => state.run,
      readResult: async (location) => (location === req.resultLocation ? state.result : undefined),
      packs: {
        ...base.load.packs!,
        readSummary: async () => {
          state.summaries++;
          return undefined;
        },
      },
    };
    const { loadTable } = loadActivities({ config, portsFor: () => ({ ...base, load }) });
    const result = (over: Partial<LoadResult> = {}): LoadResult =>
      ({ table: `shop.${TABLE}`, lakeTable: 'shop.orders', status: 'succeeded', action: 'create', rowsRead: 10, inserted: 10, updated: 0, deleted: 0, rowCountAfter: 10, committed: true, snapshotId: '1', schemaHash: 'h', cycleId: 'c1', runToken: req.runToken, startedAt: started, finishedAt: '2025-01-01T00:00:02.500Z', ...over }) as LoadResult;
    /** Ends the pack run after `ms`, with `then` as the table's result from that moment. */
    const endRunAfter = (ms: number, then: LoadResult) =>
      setTimeout(() => {
        state.result = then;
        state.endedAt = Date.now();
        state.run = { runId: 'pack-run-1', state: 'succeeded', detail: 'SUCCEEDED' };
      }, ms);
    const run = () => new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, input) as Promise<LoadResult & { usage?: LoadUsage }>;
    return { state, result, endRunAfter, run };
  }

  /** Rejects when `work` has not settled within `ms`: a table that waits for a run that never ends. */
  const within = <T>(ms: number, work: Promise<T>) => Promise.race([work, delay(ms).then(() => Promise.reject(new Error(`still waiting after ${ms} ms`)))]);

  test('not billed: a succeeded result of its own run token releases the table while the pack goes on; its seconds are its own', async () => {
    const { state, result, run } = await setup('pglite');
    state.result = result();
    const loaded = await within(5_000, run());
    assert.equal(state.run.state, 'running', 'the pack run still goes on');
    assert.equal(loaded.status, 'succeeded');
    assert.equal(loaded.runToken, state.result.runToken);
    assert.equal(loaded.usage?.basis, 'none');
    assert.equal(loaded.usage?.executionSeconds, 2.5, "the result's own seconds");
    assert.equal(loaded.usage?.dpuSeconds, undefined);
    assert.equal(state.summaries, 0, 'no summary is waited for');
  });

  test('not billed: a result of another run token (an earlier cycle) is not this load: the table waits for the run', async () => {
    const { state, result, endRunAfter, run } = await setup('pglite');
    state.result = result({ runToken: 'c0:public.orders', cycleId: 'c0' });
    endRunAfter(300, result());
    const loaded = await within(5_000, run());
    assert.ok(state.endedAt > 0, 'released only once the run ended');
    assert.equal(loaded.cycleId, 'c1');
  });

  test('not billed: a failed result waits for the run to end, then fails the attempt (the next one runs alone)', async () => {
    const { state, result, endRunAfter, run } = await setup('pglite');
    const failed = result({ status: 'failed', error: { class: 'CastError', message: 'amount does not fit', retryable: false } } as Partial<LoadResult>);
    state.result = failed;
    endRunAfter(300, failed);
    await assert.rejects(within(5_000, run()), (err: unknown) => {
      assert.ok(state.endedAt > 0, 'the attempt ended only after the run');
      assert.match((err as Error).message, /CastError: amount does not fit/);
      return true;
    });
  });

  test('modelled (or billed) runs: the table waits for the run to end for its share, even with its result written', async () => {
    const { state, result, endRunAfter, run } = await setup('fake');
    state.result = result();
    endRunAfter(300, result());
    const loaded = await within(5_000, run());
    assert.ok(state.endedAt > 0, 'released only once the run ended');
    assert.equal(state.summaries, 1, 'the summary is read for the share');
    assert.equal(loaded.usage?.basis, 'modelled');
  });
});
