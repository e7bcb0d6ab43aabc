/**
 * A load's own retry policy on a real Temporal dev server with fake ports: heartbeat timeouts (a
 * worker that stops answering, as one being restarted does) do not use up its attempts, real
 * failures are counted across attempts and end the load at retry.maximumAttempts, and a
 * cancelled cycle stops its loads' runs.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { batchWorkflowId } from '../../src/ids';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles, waitForStatus } from '../helpers/source';

const FAST = { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1 };

describe('load retries on a real Temporal server', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  describe('two attempts allowed', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('load-retry');
    const STALLED = 'public.t0001';
    const FAILING = 'public.t0002';
    before(async () => {
      const config = fakeConfig(queue, { tables: 2 }, { retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 2 }, timeouts: FAST }, 'retries');
      w = await startFakeWorker(config, {
        tables: 2,
        latencyMs: 300,
        failures: [
          // Polling hangs past the heartbeat timeout three times: three attempts time out.
          { table: STALLED, phase: 'poll', times: 3, retryable: true, stallMs: 5_000 },
          { table: FAILING, phase: 'load', times: 'always', retryable: true, message: 'commit lost to a concurrent commit' },
        ],
      });
    });
    after(async () => w?.stop());

    test('heartbeat timeouts do not count as attempts; real failures do, across attempts, up to retry.maximumAttempts', async () => {
      const handle = await startSource(w.client, queue, 'retries');
      const s = await waitForCycles(handle, 1, 180_000);
      const cycle = s.lastCycle!;
      const byTable = Object.fromEntries(cycle.tables.map((t) => [t.table, t]));

      assert.equal(byTable[STALLED]?.status, 'committed', JSON.stringify(byTable[STALLED]?.error));
      assert.equal(w.backend.count(`load.start:${STALLED}`), 1, 'every attempt re-attached to the one run');
      const history = await w.client.workflow.getHandle(batchWorkflowId(cycle.workflowId, 1)).fetchHistory();
      const started = (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
      assert.ok(Math.max(...started) >= 3, `the stalled load needed more attempts than retry.maximumAttempts (2): ${started.join(', ')}`);

      assert.equal(byTable[FAILING]?.status, 'failed');
      assert.equal(byTable[FAILING]?.error?.retryable, false);
      assert.match(byTable[FAILING]?.error?.message ?? '', /commit lost to a concurrent commit.*\(failure 2 of 2: retry\.maximumAttempts is used up; fix the cause and rerun the table\)$/);
      assert.equal(w.backend.count(`load.start:${FAILING}`), 2, 'a new run per real failure, and no more than two');
      await recordHistories(w.client, 'load-retry', ['lakesync/retries']);
    });
  });

  describe('a cancelled cycle', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('load-cancel');
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 1 }, { timeouts: FAST }, 'cancelled'), { tables: 1, latencyMs: 120_000 });
    });
    after(async () => w?.stop());

    test('stops the runs of its loads', async () => {
      const handle = await startSource(w.client, queue, 'cancelled');
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined && w.backend.count('load.start:public.t0001') > 0, 60_000);
      const [runId] = Object.keys(w.backend.state.runs);
      await w.client.workflow.getHandle(running.currentCycle!.workflowId).cancel();
      for (let i = 0; i < 150 && w.backend.state.runs[runId!]?.stopRequestedAtMs === undefined; i++) await delay(100);
      assert.notEqual(w.backend.state.runs[runId!]?.stopRequestedAtMs, undefined, `run ${runId} was not stopped when its cycle was cancelled`);
      await recordHistories(w.client, 'load-cancel', ['lakesync/cancelled']);
    });
  });
});
