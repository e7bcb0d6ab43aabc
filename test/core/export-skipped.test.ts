/**
 * A table the RDS export skipped (WarningMessage.skippedTables: a column name it cannot export,
 * say) is a table of the source: a sync that names it reports it once, failed with the export's
 * reason, and it stays a known, failed table for the rerun, never one "gone from the source".
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { connectClient, temporalTarget } from '../../src/temporal';
import { createWorker } from '../../src/worker';
import { sourceWorkflowId } from '../../src/ids';
import type { Ports } from '../../src/ports';
import { rerunUpdate, SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { fakeConfig, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { waitForCycles } from '../helpers/source';
import { cycleActivities } from '../../src/activities/cycle';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import { cycleManifestKeys } from '../../src/ids';
import type { CycleResult, DiscoverySummary, TableOutcome } from '../../src/model';
import { initialState, type RecordOptions, recordCycle, rerunParts } from '../../src/workflows/ledger';

const TABLES = ['public.a', 'public.b'];
const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });

function setup() {
  const ports = new FakeBackend({ tables: TABLES, latencyMs: 0 }).ports();
  return { ports, ...cycleActivities({ config, portsFor: () => ports }) };
}

/** The outcome the cycle workflow gives a table of `discovery.skipped` (src/workflows/cycle.ts). */
function skippedByExport(s: { table: string; reason: string }): TableOutcome {
  return { table: s.table, lakeTable: '', action: 'skip', status: 'failed', reason: s.reason, error: { phase: 'discover', message: `${s.table} was not exported: ${s.reason}`, type: 'NotExported', retryable: false } };
}

describe('a requested table the export skipped', () => {
  const skipped = { table: 'public.b', reason: 'column "unit price" has a character RDS does not export' };

  async function plannedSync() {
    const { ports, planCycle } = setup();
    // The export lists public.a as COMPLETE; public.b is in its skipped tables only.
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c2'), [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }]);
    const discovery: DiscoverySummary = { manifest, database: 'fake', tableCount: 1, skipped: [skipped], warnings: [] };
    return planCycle('shop', 'c2', discovery, { requested: TABLES, approveDeletes: false });
  }

  test('is not also planned as a table missing from the export', async () => {
    const plan = await plannedSync();
    assert.deepEqual(plan.load.map((l) => l.table), ['public.a']);
    assert.deepEqual(
      plan.notLoaded.filter((t) => t.table === 'public.b').map((t) => t.error?.type),
      [],
      'the cycle reports public.b from the export\'s skipped tables, with the export\'s reason',
    );
  });

  /** The source's state after the sync: public.a committed from export e2, public.b skipped by it. */
  async function recordedSync(options: RecordOptions = {}) {
    const plan = await plannedSync();
    const state = initialState();
    state.knownTables = [...TABLES];
    const exported = { exportId: 'e2', location: 'fake://exports/e2', snapshotId: 's2', adopted: false };
    const committed: TableOutcome = { table: 'public.a', lakeTable: 'a', action: 'merge', status: 'committed', load: { action: 'merge', committed: true, rowsRead: 1, inserted: 1, updated: 0, deleted: 0, rowCountAfter: 1, cursorColumn: null, cursorValueAfter: null, snapshotId: '1', schemaHash: 'h', finishedAt: '2026-01-01T00:00:05Z' } };
    // As the cycle workflow assembles its outcomes: loaded, plan.notLoaded, then the export's skipped tables.
    const tables = [committed, ...plan.notLoaded, skippedByExport(skipped)];
    const result: CycleResult = { cycleId: 'c2', source: 'shop', status: 'partial', snapshot: { snapshotId: 's2', createdAt: '2026-01-01T00:00:00Z', adopted: false }, export: exported, tables, warnings: [], startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:10Z' };
    recordCycle(state, result, 'lakesync/shop/cycle-c2', { kind: 'sync', requestIds: ['r1'], tables: TABLES }, options);
    return state;
  }

  test('reruns from a new export: the export that skipped it would skip it again, and the rerun would fail for good', async () => {
    const state = await recordedSync({ newExportForSkipped: true });
    assert.deepEqual(rerunParts(state, ['public.b']), [{ tables: ['public.b'] }], 'no export is reused: the rerun takes a new snapshot and export');
    assert.equal(state.failed['public.b']?.newExport, true);
    // Another table of the same rerun still loads from its own export.
    assert.deepEqual(rerunParts(state, ['public.a', 'public.b']).map((p) => [p.tables, p.reuse?.export.exportId]), [[['public.b'], undefined], [['public.a'], 'e2']]);
    // Histories recorded before reuse the export, as they did.
    assert.equal(rerunParts(await recordedSync(), ['public.b'])[0]?.reuse?.export.exportId, 'e2');
  });

  test('stays a known, failed table of the source after a sync of it', async () => {
    const state = await recordedSync();
    assert.deepEqual(state.lastCycle!.tables.filter((t) => t.table === 'public.b').length, 1, 'one outcome for public.b');
    assert.equal(state.recentCycles[0]!.counts.failed, 1);
    assert.match(state.failed['public.b']?.message ?? '', /was not exported: column "unit price"/, 'public.b is left for a rerun, with the export\'s reason');
    assert.ok(state.knownTables.includes('public.b'), 'public.b is still a table of the source');
    assert.deepEqual(state.droppedTables, [], 'nothing is dropped as gone from the source');
  });
});

describe('a table the export skipped before the upgrade, on a real Temporal server', () => {
  let env: TestServer;
  after(async () => {
    await env?.close();
  });

  test('its first rerun after the upgrade takes a new export: the one that skipped it would skip it again', async () => {
    env = await startTestServer();
    const queue = uniqueQueue('skippedold');
    const source = 'skippedold';
    const config = fakeConfig(queue, { tables: TABLES }, {}, source);
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 20 });
    const ports = backend.ports();
    // The first export skips public.b (as RDS does for a column name it cannot export); later ones hold it.
    let skipping: string | undefined;
    const skippingPorts: Ports = {
      ...ports,
      discover: {
        ...ports.discover,
        discover: async (ref) => {
          const found = await ports.discover.discover(ref);
          skipping ??= ref.exportId;
          if (ref.exportId !== skipping) return found;
          return { ...found, tables: found.tables.filter((t) => t.table !== 'public.b'), skipped: [{ table: 'public.b', reason: 'FAILED_TO_EXPORT' }] };
        },
      },
    };
    const { worker, close } = await createWorker({ config, ports: { [source]: skippingPorts } });
    const running = worker.run();
    const client = await connectClient(temporalTarget(config));
    try {
      const first = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(source), taskQueue: queue, args: [{ source }] });
      const synced = await waitForCycles(first, 1);
      const cycle = await client.workflow.getHandle<() => Promise<CycleResult>>(synced.lastCycle!.workflowId).result();
      assert.deepEqual(cycle.tables.map((t) => [t.table, t.status, t.error?.type]), [['public.a', 'committed', undefined], ['public.b', 'failed', 'NotExported']]);
      // The state a run of the older release carried on: public.b failed on that export, with no mark for a new one.
      const old = initialState();
      recordCycle(old, cycle, synced.lastCycle!.workflowId, { kind: 'sync', requestIds: ['start'] }, { newExportForSkipped: false });
      old.cycleCount = 1;
      assert.deepEqual([old.failed['public.b']?.exportId, old.failed['public.b']?.newExport], [cycle.export!.exportId, undefined]);
      await first.terminate('upgraded');
      const handle = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(source), taskQueue: queue, args: [{ source, syncOnStart: false, state: old }] });

      await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed', requestId: 'rerun-after-upgrade' }] });
      const rerun = await waitForCycles(handle, 2);
      assert.equal(rerun.recentCycles[0]!.kind, 'rerun');
      const b = rerun.lastCycle!.tables.find((t) => t.table === 'public.b');
      assert.deepEqual([b?.status, b?.error?.message], ['committed', undefined]);
      assert.notEqual(rerun.recentCycles[0]!.exportId, cycle.export!.exportId, 'a new export');
      assert.deepEqual(rerun.failed, {});
      await handle.terminate('test done');
    } finally {
      worker.shutdown();
      await running;
      await close();
      await client.connection.close();
    }
  });
});
