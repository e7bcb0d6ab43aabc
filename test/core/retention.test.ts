/**
 * Retention through the real workflows on fake ports: after each cycle the oldest snapshots and
 * exports lakesync made are deleted, keeping the newest N, the current cycle's, those a failed
 * table's rerun needs, and never a snapshot lakesync did not make. A failing retention is a warning.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { FakeWorker } from '../helpers/env';
import { exportIdFor, snapshotIdFor } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { requestSyncSignal, rerunUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = ['public.a', 'public.b', 'public.c'];
/** A snapshot a user took by hand, named like lakesync's, without its tag. */
const USER_SNAPSHOT = snapshotIdFor('shop', '0-aaaaaaaaaaaaa');

async function cycleResult(w: FakeWorker, workflowId: string): Promise<CycleResult> {
  return w.client.workflow.getHandle(workflowId).result();
}

describe('retention on fake ports', () => {
  let env: TestServer;
  let w: FakeWorker;
  let handle: WorkflowHandle;
  const queue = uniqueQueue('retention');
  const cycles: { cycleId: string; exportId: string; snapshotId: string }[] = [];
  const deleted = () => w.backend.state.deleted ?? { snapshots: [], exports: [] };

  async function runCycle(n: number, tables?: string[]): Promise<void> {
    if (n > 1) await handle.signal(requestSyncSignal, { requestedBy: 'test', ...(tables ? { tables } : {}) });
    const s = await waitForCycles(handle, n);
    const cycleId = s.recentCycles[0]!.cycleId;
    cycles.push({ cycleId, exportId: exportIdFor('shop', cycleId), snapshotId: snapshotIdFor('shop', cycleId) });
  }

  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLES }, { retention: { snapshots: 2, exports: 2 } }), { tables: TABLES });
    w.backend.addForeignSnapshot(USER_SNAPSHOT, '2020-01-01T00:00:00.000Z');
    handle = await startSource(w.client, queue, 'shop');
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('cycles 1..N keep everything; cycle N+1 deletes the oldest snapshot and export and nothing else', async () => {
    await runCycle(1);
    await runCycle(2);
    assert.deepEqual(deleted(), { snapshots: [], exports: [] });
    await runCycle(3);
    assert.deepEqual(deleted(), { snapshots: [cycles[0]!.snapshotId], exports: [cycles[0]!.exportId] });
    assert.ok(cycles[1]!.exportId in w.backend.state.exports && cycles[2]!.exportId in w.backend.state.exports);
  });

  test("a snapshot without lakesync's tag is never deleted, however old", () => {
    assert.ok(USER_SNAPSHOT in w.backend.state.snapshots);
    assert.ok(!deleted().snapshots.includes(USER_SNAPSHOT));
  });

  test("the export a failed table's rerun needs is kept past N, and the rerun reuses it", async () => {
    w.backend.setFailures([{ table: 'public.b', phase: 'load', times: 'always', retryable: false, message: 'column b cannot be cast' }]);
    await runCycle(4); // public.b fails on cycle 4's export
    w.backend.setFailures([]);
    await runCycle(5, ['public.a']);
    await runCycle(6, ['public.a']);
    const failedOn = cycles[3]!;
    // Cycle 6 keeps its own and cycle 5's, and cycle 4's for public.b's rerun.
    assert.ok(failedOn.exportId in w.backend.state.exports, `export ${failedOn.exportId} must be kept for the rerun of public.b`);
    assert.ok(failedOn.snapshotId in w.backend.state.snapshots, `snapshot ${failedOn.snapshotId} must be kept too`);
    assert.deepEqual(deleted().exports, [cycles[0]!.exportId, cycles[1]!.exportId, cycles[2]!.exportId]);
    assert.deepEqual(deleted().snapshots, [cycles[0]!.snapshotId, cycles[1]!.snapshotId, cycles[2]!.snapshotId]);

    const snapshotsBefore = w.backend.count('snapshot.start');
    await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed' }] });
    const s = await waitForCycles(handle, 7);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    assert.equal(s.recentCycles[0]!.exportId, failedOn.exportId, 'the rerun loads from the export it failed on');
    assert.equal(w.backend.count('snapshot.start'), snapshotsBefore, 'the rerun takes no new snapshot');
    // The rerun's own export is the current one: still kept.
    assert.ok(failedOn.exportId in w.backend.state.exports);
  });

  test('a snapshot that cannot be deleted yet is left for a later cycle, without a warning', async () => {
    const next = () => cycles.length + 2;
    const oldest = Object.keys(w.backend.state.snapshots).filter((id) => id !== USER_SNAPSHOT).sort((a, b) => w.backend.state.snapshots[a]!.createdAt.localeCompare(w.backend.state.snapshots[b]!.createdAt))[0]!;
    w.backend.setBusySnapshots([oldest]);
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    const s = await waitForCycles(handle, next());
    const result = await cycleResult(w, s.recentCycles[0]!.workflowId);
    assert.ok(oldest in w.backend.state.snapshots, 'the busy snapshot stays');
    assert.deepEqual(result.warnings.filter((m) => m.startsWith('retention')), []);
    w.backend.setBusySnapshots([]);
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    await waitForCycles(handle, next() + 1);
    assert.ok(!(oldest in w.backend.state.snapshots), 'a later cycle deletes it');
  });

  test('a failing retention is a warning of the cycle, which still succeeds', async () => {
    const before = Object.keys(w.backend.state.snapshots).length;
    w.backend.setFailures([{ table: '*', phase: 'retention', times: 'always', retryable: false, message: 'listing snapshots refused' }]);
    const count = (await waitForCycles(handle, 1)).recentCycles.length;
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    const s = await waitForCycles(handle, count + 1);
    w.backend.setFailures([]);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    const result = await cycleResult(w, s.recentCycles[0]!.workflowId);
    assert.ok(result.warnings.some((m) => /^retention: .*listing snapshots refused/.test(m)), JSON.stringify(result.warnings));
    assert.equal(Object.keys(w.backend.state.snapshots).length, before + 1, 'nothing deleted, the new snapshot added');
  });
});
