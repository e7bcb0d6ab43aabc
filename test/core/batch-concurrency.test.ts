/**
 * `concurrency` counts table loads across the cycle: with room for two batches' loads
 * (concurrency at least twice batchSize), two batches run at once, so the cycle is not held
 * to batchSize loads at a time; each table's outcome and the cycle's result are as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeTableNames } from '../../src/fake/ports';
import { batchWorkflowId } from '../../src/ids';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';

const SOURCE = 'batchconc';
const TABLES = fakeTableNames(6);

describe('a cycle whose concurrency holds two batches', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('batch-concurrency');
  before(async () => {
    env = await startTestServer();
    // Batches of 2 tables, 4 loads at once: two batches run side by side.
    w = await startFakeWorker(fakeConfig(queue, { tables: 6 }, { batchSize: 2, concurrency: 4 }, SOURCE), { tables: 6, latencyMs: 3_000 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('runs two batches at once and books every table', async () => {
    const handle = await startSource(w.client, queue, SOURCE);
    const s = await waitForCycles(handle, 1);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    assert.deepEqual(Object.keys(s.ledger).sort(), TABLES);
    assert.deepEqual(s.lastCycle!.tables.map((t) => t.table), TABLES, 'the outcomes keep the order of the plan');
    const cycleId = s.recentCycles[0]!.workflowId;
    const events = (await w.client.workflow.getHandle(cycleId).fetchHistory()).events!;
    const started = (batch: number) => events.findIndex((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === batchWorkflowId(cycleId, batch));
    const ended = (batch: number) => events.findIndex((e) => e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId === batchWorkflowId(cycleId, batch));
    assert.ok(started(1) >= 0 && started(2) >= 0 && started(3) >= 0, 'three batches');
    assert.ok(started(2) < ended(1), `batch 2 waited for batch 1 to end: loads ran ${2} at a time where concurrency is 4`);
    assert.ok(started(3) > Math.min(ended(1), ended(2)), 'no more than two batches ran at once');
    await recordHistories(w.client, 'batch-concurrency', [`lakesync/${SOURCE}`]);
    await handle.terminate('test done');
  });
});
