/**
 * Retention through the real workflows on fake ports: the export a rerun queued while a cycle runs
 * will reuse is kept by that cycle's retention, as it is for a rerun queued before the cycle started.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { FakeWorker } from '../helpers/env';
import { exportIdFor } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { requestSyncSignal, rerunUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles, waitForStatus } from '../helpers/source';

const TABLES = ['public.a', 'public.b', 'public.c'];

let env: TestServer;
let w: FakeWorker;
let handle: WorkflowHandle;
const queue = uniqueQueue('retention-queued-rerun');

before(async () => {
  env = await startTestServer();
  w = await startFakeWorker(fakeConfig(queue, { tables: TABLES }, { retention: { snapshots: 1, exports: 1 } }), { tables: TABLES });
  handle = await startSource(w.client, queue, 'shop');
});
after(async () => {
  await w?.stop();
  await env?.close();
});

test("a rerun queued while a cycle runs keeps its table's own export through that cycle's retention, and reuses it", { timeout: 120_000 }, async () => {
  // Cycle 1 loads every table from its export; cycle 2 syncs public.b alone (its export becomes the last).
  const first = (await waitForCycles(handle, 1)).recentCycles[0]!;
  assert.equal(first.status, 'succeeded');
  const e1 = exportIdFor('shop', first.cycleId);
  await handle.signal(requestSyncSignal, { requestedBy: 'test', tables: ['public.b'] });
  await waitForCycles(handle, 2);
  assert.ok(e1 in w.backend.state.exports, "cycle 2 keeps cycle 1's export: it was the last when cycle 2 started");

  // Cycle 3 syncs public.c, slowly; public.a's rerun is asked while it runs: public.a's own export is cycle 1's.
  w.backend.setLatencyByTable({ 'public.c': 4_000 });
  await handle.signal(requestSyncSignal, { requestedBy: 'test', tables: ['public.c'] });
  await waitForStatus(handle, (s) => s.phase === 'running' && s.recentCycles.length === 2 && s.currentCycle?.tables?.[0] === 'public.c');
  await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.a'], requestedBy: 'test' }] });
  // The rerun runs right after cycle 3.
  const s = await waitForCycles(handle, 4);
  w.backend.setLatencyByTable({});
  const [rerun, third] = [s.recentCycles[0]!, s.recentCycles[1]!];
  assert.equal(third.status, 'succeeded');
  assert.equal(rerun.kind, 'rerun');
  assert.equal(rerun.status, 'succeeded');
  const result: CycleResult = await w.client.workflow.getHandle(rerun.workflowId).result();
  assert.deepEqual(result.warnings.filter((m) => / is gone/.test(m)), [], `cycle 3's retention must keep export ${e1}, which the rerun of public.a queued meanwhile reads`);
  assert.equal(rerun.exportId, e1, 'the rerun loads public.a from its own export');
  assert.equal(w.backend.count('snapshot.start'), 3, 'one snapshot for each of the three syncs: the rerun takes none');
});
