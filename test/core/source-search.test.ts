/**
 * The source workflow's search attributes follow its cycles, a cycle that ended without a result
 * (terminated, say) included: a UI filter or alert on LakesyncCycleStatus finds the source.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { fakeTableNames } from '../../src/fake/ports';
import { CYCLE_STATUS_KEY, FAILED_TABLES_KEY } from '../../src/workflows/search';
import { requestSyncSignal } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles, waitForStatus } from '../helpers/source';
import { waitUntil } from '../helpers/within';

const SOURCE = 'deadsearch';
const [SLOW] = fakeTableNames(1) as [string];

async function attributes(handle: WorkflowHandle): Promise<{ status?: string; failed?: number }> {
  const d = await handle.describe();
  return { status: d.typedSearchAttributes.get(CYCLE_STATUS_KEY), failed: d.typedSearchAttributes.get(FAILED_TABLES_KEY) };
}

describe("a source whose cycle ends without a result", () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('dead-search');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, SOURCE), { tables: 2, latencyMs: 20 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('shows the failed cycle and its failed tables in its search attributes', async () => {
    const handle = await startSource(w.client, queue, SOURCE);
    await waitForCycles(handle, 1);
    assert.deepEqual(await attributes(handle), { status: 'succeeded', failed: 0 });

    w.backend.setLatencyByTable({ [SLOW]: 120_000 });
    await handle.signal(requestSyncSignal, { requestId: 'slow', requestedBy: 'test' });
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    const loadsBefore = w.backend.count(`load.start:${SLOW}`);
    await waitUntil(() => w.backend.count(`load.start:${SLOW}`) > loadsBefore, `${SLOW} loads`);
    await w.client.workflow.getHandle(running.currentCycle!.workflowId).terminate('stuck cycle');
    const s = await waitForCycles(handle, 2);
    assert.equal(s.recentCycles[0]!.status, 'failed');
    assert.ok(s.failed[SLOW], JSON.stringify(s.failed));
    assert.deepEqual(await attributes(handle), { status: 'failed', failed: Object.keys(s.failed).length });
    w.backend.setLatencyByTable({});
    await handle.terminate('test done');
  });
});
