/**
 * A batch that ends without a result, in a cycle under a small inline limit: its outcomes read back
 * from the lake come by reference, and once the cycle has read them nothing reads their parts
 * again, so they are deleted from the manifest store (they stayed there for good).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeTableNames } from '../../src/fake/ports';
import { batchWorkflowId, sourceWorkflowId } from '../../src/ids';
import { readSourceStatus } from '../../src/status-pages';
import { SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { waitForStatus } from '../helpers/source';
import { pollFor, waitUntil } from '../helpers/within';

const SOURCE = 'batchendparts';
const TABLES = fakeTableNames(6);
const FAST = TABLES.slice(0, 3);
const SLOW = TABLES.slice(3);

describe('a batch that ends without a result, its outcomes read back by reference', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('batchendparts');
  before(async () => {
    env = await startTestServer();
    const latencyMsByTable = Object.fromEntries([...FAST.map((t) => [t, 50]), ...SLOW.map((t) => [t, 20_000])]);
    w = await startFakeWorker(fakeConfig(queue, { tables: 6 }, {}, SOURCE), { tables: 6, latencyMsByTable });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('its committed tables advance their watermark, and the parts of the read-back outcomes are deleted', async () => {
    const handle = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: 1024 }] });
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    const cycleId = running.currentCycle!.cycleId;
    await waitUntil(() => FAST.every((t) => w.backend.count(`load.commit:${t}`) === 1), 'the fast tables committed');
    // The batch has verified the fast tables (grant and verify are its last steps for a table) before it ends.
    await waitUntil(() => w.backend.count('verify') >= FAST.length, 'the batch verified the fast tables');
    await w.client.workflow.getHandle(batchWorkflowId(running.currentCycle!.workflowId, 1)).terminate('stuck batch');

    const s = await pollFor(
      () => 'the cycle to be recorded',
      async () => {
        const x = await readSourceStatus(handle);
        return x.recentCycles.length >= 1 && x.phase === 'idle' ? x : undefined;
      },
      120_000,
      200,
    );
    for (const t of FAST) assert.ok(s.ledger[t], `${t} has its watermark`);
    assert.deepEqual(Object.keys(s.failed).sort(), SLOW);
    // The recovery stored the outcomes it read back (they were larger than the limit)...
    const history = await w.client.workflow.getHandle(running.currentCycle!.workflowId).fetchHistory();
    const recovered = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recoverCycleOutcomes');
    assert.ok(recovered, 'the cycle read the dead batch back from the lake');
    const deleted = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deletePayloadParts');
    assert.ok(deleted.length > 0, 'the cycle deleted the parts it read');
    // ...and nothing is left of them once the cycle read them.
    const left = Object.keys(w.backend.state.manifests).filter((k) => k.startsWith(`${cycleId}/recovered-outcomes`));
    assert.deepEqual(left, [], `parts of the outcomes read back are left in the manifest store: ${left.join(', ')}`);
    await recordHistories(w.client, 'batch-ended-parts', [sourceWorkflowId(SOURCE)]);
    await handle.terminate('test done');
  });
});
