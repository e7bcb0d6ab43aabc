/**
 * A cycle cancelled while its packed loads start or run, on a real Temporal dev server with the
 * fake backend: the pack's run is stopped, and no table of the cancelled cycle is committed later
 * by that run.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { FakeBackend } from '../../src/fake/ports';
import type { FakePack } from '../../src/fake/state';
import { sourceWorkflowId } from '../../src/ids';
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
async function settled(w: FakeWorker, pack: FakePack): Promise<FakePack> {
  await delay(Math.max(0, pack.startedAtMs + pack.durationMs + 200 - Date.now()));
  await w.backend.ports().load.getRun(pack.runId);
  return w.backend.packRuns().find((p) => p.runId === pack.runId)!;
}

function committedByPack(w: FakeWorker, pack: FakePack): string[] {
  return pack.tables.filter((t) => t.runId && w.backend.state.counters[`committed:${t.runId}`]).map((t) => t.table);
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
      const after = await settled(w, pack);
      assert.deepEqual(committedByPack(w, after), [], 'tables of the cancelled cycle committed by its pack run after the cancel');
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
      const after = await settled(w, w.backend.packRuns()[0]!);
      assert.deepEqual(committedByPack(w, after), [], 'tables of the cancelled cycle committed by its pack run after the cancel');
      assert.notEqual(after.stopRequestedAtMs, undefined, 'the pack run of the cancelled cycle was not stopped');
      assert.deepEqual(Object.entries(w.backend.state.lake).filter(([, t]) => t.lastCommit?.cycleId === cycleId).map(([k]) => k), []);
    } finally {
      await w.stop();
    }
  });
});
