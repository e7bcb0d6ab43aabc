/**
 * A batch or a cycle that ends without handing over its outcomes, around a cancel of its source:
 * the tables it committed are read back from the lake out of the cancelled scope, so they keep
 * their watermarks in the state the next start takes up. Three orders:
 * - the source is cancelled, and the batch dies while its loads are stopping;
 * - the batch dies, and the source is cancelled while the cycle reads its outcomes back;
 * - the cycle dies, and the source is cancelled while it reads the cycle's outcomes back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type FakeBackend, type FakeOptions, fakeTableNames } from '../../src/fake/ports';
import { batchWorkflowId, sourceWorkflowId } from '../../src/ids';
import type { SyncRequest } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSourceLikeCli, status, waitForStatus } from '../helpers/source';
import { pollFor, waitUntil } from '../helpers/within';

const [SLOW, DONE] = fakeTableNames(2) as [string, string];

interface Order {
  /** The suite, the source, and the folder of its recorded histories. */
  title: string;
  source: string;
  histories: string;
  /**
   * Cancels the source and terminates the batch or the cycle, in this order's sequence: each second
   * step waits until the first has visibly taken effect (never a fixed delay, which a slow machine outruns).
   */
  cancelAndKill(source: WorkflowHandle, dying: { cycle: WorkflowHandle; batch: WorkflowHandle }, backend: FakeBackend): Promise<void>;
}

/** Waits until `workflow` is running its recovery activity (reading a dead child's outcomes back from the lake). */
async function recovering(workflow: WorkflowHandle, who: string): Promise<void> {
  let seen = '';
  await pollFor(
    () => `${who} to read the outcomes back (its pending activities: ${seen})`,
    async () => {
      const pending = (await workflow.describe()).raw.pendingActivities ?? [];
      seen = JSON.stringify(pending.map((a) => [a.activityType?.name, a.state]));
      return pending.some((a) => a.activityType?.name === 'recoverCycleOutcomes' && a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) ? true : undefined;
    },
    60_000,
    50,
  );
}

const ORDERS: Order[] = [
  {
    title: 'a batch that dies after its cycle was cancelled',
    source: 'cancelthenbatchdies',
    histories: 'cancel-then-batch-dies',
    // The source is cancelled; the batch's loads take a while to stop, and the batch dies meanwhile.
    async cancelAndKill(source, { batch }, backend) {
      const stops = backend.count('load.stop');
      await source.cancel();
      await waitUntil(() => backend.count('load.stop') > stops, "the batch's load to be stopping");
      await batch.terminate('the batch dies');
    },
  },
  {
    title: 'a source cancelled while its cycle reads back a dead batch',
    source: 'cancelbatchrecovery',
    histories: 'cancel-during-batch-recovery',
    // The batch dies; reading its outcomes back from the lake takes a while, and the source is cancelled meanwhile.
    async cancelAndKill(source, { cycle, batch }) {
      await batch.terminate('the batch dies');
      await recovering(cycle, 'the cycle');
      await source.cancel();
    },
  },
  {
    title: 'a source cancelled while it reads back a dead cycle',
    source: 'cancelrecovery',
    histories: 'cancel-during-cycle-recovery',
    // The cycle dies; reading its outcomes back from the lake takes a while, and the source is cancelled meanwhile.
    async cancelAndKill(source, { cycle }) {
      await cycle.terminate('the cycle dies');
      await recovering(source, 'the source');
      await source.cancel();
    },
  },
];

// One Temporal server for every order; each has its own worker and queue.
let env: TestServer;
before(async () => {
  env = await startTestServer();
});
after(async () => {
  await env?.close();
});

for (const order of ORDERS) {
  describe(order.title, () => {
    let w: FakeWorker;
    const queue = uniqueQueue(order.histories);
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, order.source), { tables: 2, latencyMs: 20 });
    });
    after(async () => {
      await w?.stop();
    });

    const startLikeCli = (request: SyncRequest) => startSourceLikeCli(w.client, queue, order.source, request);

    test('keeps the watermarks of the tables that batch committed', async () => {
      w.backend.setLatencyByTable({ [SLOW]: 120_000 });
      const first = await startLikeCli({ tables: [SLOW, DONE], requestId: 'dies' });
      const running = await waitForStatus(first, (s) => s.currentCycle !== undefined);
      await waitUntil(() => w.backend.count(`load.commit:${DONE}`) > 0, `${DONE} committed`);

      // Every call of the backend takes a while from here: stopping loads, reading back from the lake.
      const backend = w.backend as unknown as { options: FakeOptions };
      backend.options = { ...backend.options, callLatencyMs: 3_000 };
      const cycle = running.currentCycle!.workflowId;
      await order.cancelAndKill(first, { cycle: w.client.workflow.getHandle(cycle), batch: w.client.workflow.getHandle(batchWorkflowId(cycle, 1)) }, w.backend);
      await pollFor(() => 'the source to end cancelled', async () => ((await first.describe()).status.name === 'CANCELLED' ? true : undefined), 120_000, 200);
      backend.options = { ...backend.options, callLatencyMs: 0 };
      w.backend.setLatencyByTable({});

      const lake = Object.values(w.backend.state.lake).find((t) => t.lastCommit?.cycleId === running.currentCycle!.cycleId);
      assert.ok(lake, 'the cycle committed a lake table');
      const resumed = await startLikeCli({ tables: [SLOW], requestId: 'after' });
      const s = await status(resumed);
      assert.equal(s.recentCycles[0]?.requestIds[0], 'dies', `the cycle was not recorded: ${JSON.stringify(s.recentCycles)}`);
      assert.equal(s.failed[DONE], undefined, `${DONE} is in the lake but recorded failed: ${JSON.stringify(s.failed[DONE] ?? null)}`);
      assert.equal(s.ledger[DONE]?.icebergSnapshotId, lake.lastCommit!.icebergSnapshotId, `the watermark of ${DONE}, committed by the dead batch, was lost: ${JSON.stringify(s.ledger)}`);
      await recordHistories(w.client, order.histories, [sourceWorkflowId(order.source)]);
      await resumed.terminate('test done');
    });
  });
}
