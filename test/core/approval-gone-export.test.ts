/**
 * A rerun's delete approval whose export is gone when the rerun is served (deleted by hand, or by
 * the retention of a cycle that ran meanwhile): the rerun takes a new snapshot and export, and
 * loads it without the approval, which answered a refusal on the export that is gone. The new
 * export's refusal is the one the user sees, and approves again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeRun } from '../../src/fake/state';
import { FakeBackend } from '../../src/fake/ports';
import { exportIdFor } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { requestSyncSignal, rerunUpdate } from '../../src/workflows/messages';
import { recordHistories } from '../helpers/histories';
import { fakeConfig, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const exportOfRun = (run: FakeRun): string | undefined => run.request.exportLocation?.replace('fake://exports/', '');
const WOULD_DELETE = 'would delete 60 of 100 rows';

describe('a delete approval whose export is gone when the rerun is served', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  describe('the export deleted by hand', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('approval-gone');
    before(async () => {
      w = await startWorkerOver(fakeConfig(queue, { tables: 2 }, {}, 'approvalgone'), new FakeBackend({ tables: 2 }));
    });
    after(async () => w?.stop());

    test('the new export loads without the approval, is refused again, and a new approval holds for it', { timeout: 180_000 }, async () => {
      const handle = await startSource(w.client, queue, 'approvalgone');
      await waitForCycles(handle, 1);
      w.backend.setFailures([{ table: 'public.t0001', phase: 'load', times: 'always', retryable: false, message: WOULD_DELETE }]);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const refused = await waitForCycles(handle, 2);
      const seen = refused.failed['public.t0001']?.exportId;
      assert.ok(seen, JSON.stringify(refused.failed));

      // The export the user saw the refusal on is deleted before the approval is served.
      w.backend.store.update((s) => delete s.exports[seen]);
      await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDeletes: true, requestId: 'approve' }] });
      const served = await waitForCycles(handle, 3);
      const rerun = served.recentCycles[0]!;
      assert.deepEqual([rerun.kind, rerun.requestIds], ['rerun', ['approve']]);
      assert.notEqual(rerun.exportId, seen, 'the rerun took a new export');
      const result: CycleResult = await w.client.workflow.getHandle(rerun.workflowId).result();
      assert.ok(result.warnings.some((m) => m.includes(`export ${seen} is gone`)), JSON.stringify(result.warnings));
      const rerunLoads = Object.values(w.backend.state.runs).filter((r) => r.table === 'public.t0001' && r.request.cycleId === rerun.cycleId);
      assert.ok(rerunLoads.length > 0, JSON.stringify(Object.values(w.backend.state.runs).map((r) => [r.table, exportOfRun(r), r.request.cycleId])));
      assert.deepEqual(
        rerunLoads.map((r) => [exportOfRun(r), r.request.plan.approveDeletes]),
        rerunLoads.map(() => [rerun.exportId, false]),
        `the load of new export ${rerun.exportId} goes without the approval asked on ${seen}`,
      );
      assert.equal(served.failed['public.t0001']?.exportId, rerun.exportId, 'the table is refused on the new export: the refusal the user sees');
      assert.ok(result.warnings.some((m) => /approval of deletes/.test(m) && m.includes(seen)), `the cycle says the approval does not reach the new export: ${JSON.stringify(result.warnings)}`);

      // Approved again, on the export it was refused on last: the approval holds.
      await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDeletes: true, requestId: 'approve-again' }] });
      const again = (await waitForCycles(handle, 4)).recentCycles[0]!;
      assert.equal(again.exportId, rerun.exportId);
      const againLoads = Object.values(w.backend.state.runs).filter((r) => r.table === 'public.t0001' && r.request.cycleId === again.cycleId);
      assert.ok(againLoads.length > 0);
      assert.deepEqual(againLoads.map((r) => r.request.plan.approveDeletes), againLoads.map(() => true));
      await recordHistories(w.client, 'approval-gone-export', ['lakesync/approvalgone']);
    });
  });

  describe("the export deleted by the retention of a cycle that ran meanwhile", () => {
    const TABLES = ['public.a', 'public.b', 'public.c'];
    let w: FakeWorker;
    const queue = uniqueQueue('approval-retention');
    // While set, the retention's listing of exports waits for `release` (the rerun is asked meanwhile).
    let gate: { reached: () => void; release: Promise<void> } | undefined;
    before(async () => {
      const backend = new FakeBackend({ tables: TABLES });
      const ports = backend.ports.bind(backend);
      backend.ports = () => {
        const p = ports();
        return {
          ...p,
          retention: {
            ...p.retention,
            listExports: async (...args: Parameters<typeof p.retention.listExports>) => {
              const g = gate;
              if (g) {
                g.reached();
                await g.release;
              }
              return p.retention.listExports(...args);
            },
          },
        };
      };
      w = await startWorkerOver(fakeConfig(queue, { tables: TABLES }, { retention: { snapshots: 1, exports: 1 } }, 'approvalret'), backend);
    });
    after(async () => w?.stop());

    test('the new export loads without the approval asked on the deleted one', { timeout: 180_000 }, async () => {
      const handle = await startSource(w.client, queue, 'approvalret');
      const first = (await waitForCycles(handle, 1)).recentCycles[0]!;
      const e1 = exportIdFor('approvalret', first.cycleId);
      // Cycle 2 syncs public.b alone: its export becomes the last, public.a keeps cycle 1's.
      await handle.signal(requestSyncSignal, { requestedBy: 'test', tables: ['public.b'] });
      await waitForCycles(handle, 2);
      assert.ok(e1 in w.backend.state.exports);

      // Cycle 3 syncs public.c; public.a's approval is asked once its retention has decided what it keeps.
      let reached!: () => void;
      const atRetention = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      gate = { reached, release: new Promise<void>((r) => (release = r)) };
      await handle.signal(requestSyncSignal, { requestedBy: 'test', tables: ['public.c'] });
      await atRetention;
      gate = undefined;
      w.backend.setFailures([{ table: 'public.a', phase: 'load', times: 'always', retryable: false, message: WOULD_DELETE }]);
      await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.a'], approveDeletes: true, requestId: 'approve-a' }] });
      release();
      const s = await waitForCycles(handle, 4);
      const rerun = s.recentCycles[0]!;
      assert.deepEqual([rerun.kind, rerun.requestIds], ['rerun', ['approve-a']]);
      assert.notEqual(rerun.exportId, e1, `cycle 3's retention deleted export ${e1}, which it was told to keep only once it had listed the exports`);
      const result: CycleResult = await w.client.workflow.getHandle(rerun.workflowId).result();
      assert.ok(result.warnings.some((m) => m.includes(`export ${e1} is gone`)), JSON.stringify(result.warnings));
      const loads = Object.values(w.backend.state.runs).filter((r) => r.table === 'public.a' && r.request.cycleId === rerun.cycleId);
      assert.ok(loads.length > 0);
      assert.deepEqual(
        loads.map((r) => [exportOfRun(r), r.request.plan.approveDeletes]),
        loads.map(() => [rerun.exportId, false]),
        `the load of new export ${rerun.exportId} goes without the approval asked on ${e1}`,
      );
    });
  });
});
