/**
 * A cycle cancelled while its packed loads start or run, on a real Temporal dev server with the
 * fake backend: the pack's run is stopped, and no table of the cancelled cycle is committed later
 * by that run.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import type { LakesyncConfig } from '../../src/config/schema';
import { FakeBackend } from '../../src/fake/ports';
import type { FakePack } from '../../src/fake/state';
import { batchWorkflowId, sourceWorkflowId } from '../../src/ids';
import { connectClient, temporalTarget } from '../../src/temporal';
import { workflowBundle } from '../../src/workflow-bundle';
import { fakeConfig, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForStatus } from '../helpers/source';
import { pollFor } from '../helpers/within';

const NAMES = ['public.t0001', 'public.t0002', 'public.t0003', 'public.t0004'];
/** Each table's part of the pack's run: long enough that the stop comes before the first is done. */
const TABLE_MS = 4_000;

/** Cancels the source's running cycle once `ready` holds, and waits until the cycle has closed. */
async function cancelCycleWhen(w: FakeWorker, queue: string, source: string, ready: () => boolean): Promise<string> {
  const handle = await startSource(w.client, queue, source);
  const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
  await pollFor('the pack to be starting or running', () => (ready() ? true : undefined), 60_000, 20);
  const cycle = w.client.workflow.getHandle(running.currentCycle!.workflowId);
  await cycle.cancel();
  await cycle.result().catch(() => undefined);
  return running.currentCycle!.cycleId;
}

/** Waits past the end the pack's run would have had, then reads it, so the fake applies every commit it made. */
async function settled(backend: FakeBackend, pack: FakePack): Promise<FakePack> {
  await delay(Math.max(0, pack.startedAtMs + pack.durationMs + 200 - Date.now()));
  await backend.ports().load.getRun(pack.runId);
  return backend.packRuns().find((p) => p.runId === pack.runId)!;
}

function committedByPack(backend: FakeBackend, pack: FakePack): string[] {
  return pack.tables.filter((t) => t.runId && backend.state.counters[`committed:${t.runId}`]).map((t) => t.table);
}

/**
 * A worker that runs only the activities, over `backend`; `afterPackStart` runs once a pack's
 * start has its run, before the start answers.
 */
async function activityWorker(config: LakesyncConfig, backend: FakeBackend, afterPackStart?: (worker: Worker) => void): Promise<{ worker: Worker; running: Promise<void>; close(): Promise<void> }> {
  const target = temporalTarget(config);
  const connection = await NativeConnection.connect(target.connect);
  const ports = backend.ports();
  const client = connectClient(target);
  const activities = createActivities({ config, searchAttributes: false, portsFor: () => ports }, () => client);
  let worker: Worker | undefined = undefined;
  const startPackLoad: typeof activities.startPackLoad = async (input) => {
    const answer = await activities.startPackLoad(input);
    afterPackStart?.(worker!);
    return answer;
  };
  worker = await Worker.create({ connection, taskQueue: target.taskQueue, activities: { ...activities, startPackLoad }, shutdownGraceTime: '10s' });
  const running = worker.run();
  return {
    worker,
    running,
    async close() {
      if (worker!.getState() === 'RUNNING') worker!.shutdown();
      await running;
      await connection.close();
      await (await client).connection.close();
    },
  };
}

describe('a cycle cancelled during its packed loads', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  const start = (queue: string, source: string, backend: FakeBackend) =>
    startWorkerOver(fakeConfig(queue, { tables: NAMES }, { packing: { thresholdGB: 1, maxTables: 4, maxGB: 5 } }, source), backend);

  test('while the pack start is under way: the run it makes is stopped, and it commits no table of the cycle', async () => {
    const queue = uniqueQueue('pack-cancel-start');
    const w = await start(queue, 'packcancelstart', new FakeBackend({ tables: NAMES, latencyMs: TABLE_MS, exportGBPerTable: 0.1, packStartLatencyMs: 1_500 }));
    try {
      const cycleId = await cancelCycleWhen(w, queue, 'packcancelstart', () => w.backend.count('pack.start') > 0);
      const pack = await pollFor('the pack run the start made', () => w.backend.packRuns()[0], 10_000, 50);
      const after = await settled(w.backend, pack);
      assert.deepEqual(committedByPack(w.backend, after), [], 'tables of the cancelled cycle committed by its pack run after the cancel');
      assert.notEqual(after.stopRequestedAtMs, undefined, 'the pack run of the cancelled cycle was not stopped');
      assert.deepEqual(Object.entries(w.backend.state.lake).filter(([, t]) => t.lastCommit?.cycleId === cycleId).map(([k]) => k), []);
      await recordHistories(w.client, 'pack-start-cancelled', [sourceWorkflowId('packcancelstart')]);
    } finally {
      await w.stop();
    }
  });

  test('while its tables wait for the pack run: their loads stop it, and it commits no table of the cycle', async () => {
    const queue = uniqueQueue('pack-cancel-run');
    const w = await start(queue, 'packcancelrun', new FakeBackend({ tables: NAMES, latencyMs: TABLE_MS, exportGBPerTable: 0.1 }));
    try {
      const cycleId = await cancelCycleWhen(w, queue, 'packcancelrun', () => w.backend.packRuns().length > 0 && w.backend.count('load.get') >= NAMES.length);
      const after = await settled(w.backend, w.backend.packRuns()[0]!);
      assert.deepEqual(committedByPack(w.backend, after), [], 'tables of the cancelled cycle committed by its pack run after the cancel');
      assert.notEqual(after.stopRequestedAtMs, undefined, 'the pack run of the cancelled cycle was not stopped');
      assert.deepEqual(Object.entries(w.backend.state.lake).filter(([, t]) => t.lastCommit?.cycleId === cycleId).map(([k]) => k), []);
    } finally {
      await w.stop();
    }
  });

  test('after its pack started and before any of its tables reached a worker: the run is stopped, and it commits no table of the cycle', async () => {
    // The workers are busy (here: none polls activities) when the pack's run has started:
    // its tables' loads are cancelled before any starts, so no load can stop the run.
    const queue = uniqueQueue('pack-cancel-queued');
    const source = 'packcancelqueued';
    const config = fakeConfig(queue, { tables: NAMES }, { packing: { thresholdGB: 1, maxTables: 4, maxGB: 5 } }, source);
    const backend = new FakeBackend({ tables: NAMES, latencyMs: TABLE_MS, exportGBPerTable: 0.1 });
    const target = temporalTarget(config);
    const connection = await NativeConnection.connect(target.connect);
    const workflows = await Worker.create({ connection, taskQueue: target.taskQueue, workflowBundle: await workflowBundle() });
    const workflowsRunning = workflows.run();
    const client = await connectClient(target);
    const first = await activityWorker(config, backend, (worker) => worker.shutdown());
    let second: Awaited<ReturnType<typeof activityWorker>> | undefined;
    try {
      const handle = await startSource(client, queue, source);
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
      await first.running;
      const batch = client.workflow.getHandle(batchWorkflowId(running.currentCycle!.workflowId, 1));
      const scheduled = async () => (await batch.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadPackedTable').length;
      await pollFor('the pack tables\' loads to be scheduled', async () => ((await scheduled()) === NAMES.length ? true : undefined), 30_000, 50);
      const cycle = client.workflow.getHandle(running.currentCycle!.workflowId);
      await cycle.cancel();
      const cancelled = async () => (await batch.fetchHistory()).events!.filter((e) => e.activityTaskCanceledEventAttributes).length;
      await pollFor('the loads to be cancelled', async () => ((await cancelled()) === NAMES.length ? true : undefined), 30_000, 50);
      second = await activityWorker(config, backend);
      await cycle.result().catch(() => undefined);
      const pack = backend.packRuns()[0]!;
      const after = await settled(backend, pack);
      assert.notEqual(after.stopRequestedAtMs, undefined, 'the pack run of the cancelled cycle was not stopped');
      assert.deepEqual(committedByPack(backend, after), [], 'tables of the cancelled cycle committed by its pack run after the cancel');
      assert.deepEqual(Object.entries(backend.state.lake).filter(([, t]) => t.lastCommit?.cycleId === running.currentCycle!.cycleId).map(([k]) => k), []);
      await recordHistories(client, 'pack-loads-cancelled-queued', [sourceWorkflowId(source)]);
    } finally {
      await handleTerminate(client, source);
      await second?.close();
      await first.close();
      workflows.shutdown();
      await workflowsRunning;
      await connection.close();
      await client.connection.close();
    }
  });
});

/** Ends the source's workflow, so that its worker can stop. */
async function handleTerminate(client: Awaited<ReturnType<typeof connectClient>>, source: string): Promise<void> {
  await client.workflow.getHandle(sourceWorkflowId(source)).terminate('test over').catch(() => undefined);
}
