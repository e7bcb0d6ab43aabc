/**
 * Updates that reach a source workflow while its new run reads the state it takes up (a cancelled
 * run's, or one carried over by reference): they wait for the state, as signals do, and are then
 * validated against it, instead of being rejected as if the worker knew no `sync` or `rerun` update.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import type { FakeOptions } from '../../src/fake/ports';
import { fakeTableNames } from '../../src/fake/ports';
import { sourceWorkflowId } from '../../src/ids';
import { type SourceWorkflowInput, SOURCE_WORKFLOW_TYPE, requestRerunSignal, requestSyncSignal, rerunUpdate, syncUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles, waitForRunStatus, waitForStatus } from '../helpers/source';
import { pollFor } from '../helpers/within';

const SOURCE = 'loadingupdates';
const [A, B] = fakeTableNames(2) as [string, string];

describe('an update sent while the source reads the state it takes up', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('update-while-loading');

  /** How long every call of the fake backend takes. */
  function setCallLatency(ms: number): void {
    const backend = w.backend as unknown as { options: FakeOptions };
    backend.options = { ...backend.options, callLatencyMs: ms };
  }

  /** Starts the source again, with no sync, every backend call slow: it reads the cancelled run's state for seconds. */
  function startReadingSlowly() {
    setCallLatency(1_500);
    const input: SourceWorkflowInput = { source: SOURCE, syncOnStart: false };
    return w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [input] });
  }
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, SOURCE), { tables: 2 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('waits for the state and is then served, or refused with the reason the state gives', async () => {
    w.backend.setFailures([{ table: B, phase: 'load', times: 'always', retryable: false, message: 'load refused' }]);
    const first = await startSource(w.client, queue, SOURCE);
    const one = await waitForCycles(first, 1);
    assert.ok(one.failed[B], 'the first cycle failed a table');
    w.backend.setFailures([]);
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');

    const handle = await startReadingSlowly();
    const answer = <T>(p: Promise<T>) => p.then((value) => ({ value }), (err: unknown) => ({ err: err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err) }));
    const [rerun, sync, unknown] = await Promise.all([
      answer(handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed', requestId: 'rerun-while-loading' }] })),
      answer(handle.executeUpdate(syncUpdate, { args: [{ tables: [A], requestId: 'sync-while-loading' }] })),
      answer(handle.executeUpdate(syncUpdate, { args: [{ tables: ['public.nope'], requestId: 'unknown-while-loading' }] })),
    ]);
    setCallLatency(0);

    const accepted = (rerun as { value?: { requestId: string; tables: string[] } }).value;
    assert.deepEqual(accepted && [accepted.requestId, accepted.tables], ['rerun-while-loading', [B]], `the rerun sent while the state was read: ${JSON.stringify(rerun)}`);
    assert.equal((sync as { value?: { requestId: string } }).value?.requestId, 'sync-while-loading', `the sync sent while the state was read: ${JSON.stringify(sync)}`);
    assert.match((unknown as { err?: string }).err ?? JSON.stringify(unknown), /^unknown table\(s\) public\.nope: the source's tables are /);
    const s = await waitForCycles(handle, 3, 60_000);
    const served = s.recentCycles.flatMap((c) => c.requestIds);
    assert.ok(served.includes('rerun-while-loading') && served.includes('sync-while-loading'), `a request accepted while the state was read was not served: ${JSON.stringify(s.recentCycles.map((c) => c.requestIds))}`);
    assert.deepEqual(s.failed, {}, 'the rerun of the failed table did not run');
    await handle.terminate('test done');
  });

  test('requests sent while the state is read are served in the order they came, whatever their kind', async () => {
    const first = await startSource(w.client, queue, SOURCE);
    await waitForCycles(first, 1);
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');
    const cycles = (await waitForCycles(first, 1)).recentCycles.length;

    const handle = await startReadingSlowly();
    await handle.signal(requestRerunSignal, { tables: [A], approveDeletes: true, requestId: 'rerun-first' });
    // The signal has reached the workflow (a task completed after it) before the update is sent: on
    // a busy machine both could otherwise come in one task, in an order the workflow cannot see.
    await pollFor(
      () => 'a workflow task completed after the rerun signal',
      async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        const signalled = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
        return signalled >= 0 && events.slice(signalled).some((e) => e.workflowTaskCompletedEventAttributes) ? true : undefined;
      },
      30_000,
      100,
    );
    // Accepted (validated) while the state is read: the signal below comes after it.
    const second = await handle.startUpdate(syncUpdate, { args: [{ tables: [B], requestId: 'update-second' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await handle.signal(requestSyncSignal, { tables: [A], requestId: 'sync-third' });
    await second.result();
    setCallLatency(0);

    const s = await waitForCycles(handle, cycles + 2, 60_000);
    assert.deepEqual(
      s.recentCycles.slice(0, 2).map((c) => [c.kind, c.requestIds]).reverse(),
      [['rerun', ['rerun-first']], ['sync', ['update-second', 'sync-third']]],
      `not served in the order they came: ${JSON.stringify(s.recentCycles.map((c) => [c.kind, c.requestIds]))}`,
    );
    await handle.terminate('test done');
  });

  test('a rerun update of named tables and a sync update sent right after it are served in the order they came, while the state is read and after', async () => {
    const first = await startSource(w.client, queue, SOURCE);
    await waitForCycles(first, 1);
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');

    const handle = await startReadingSlowly();
    const servedAll = (ids: string[]) => waitForStatus(handle, (x) => x.phase === 'idle' && ids.every((id) => x.recentCycles.some((c) => c.requestIds.includes(id))), 60_000);
    // Each accepted (validated) before the next is sent: they reach the workflow in this order.
    const sendBoth = async (rerunId: string, syncId: string) => {
      const rerun = await handle.startUpdate(rerunUpdate, { args: [{ tables: [A], approveDeletes: true, requestId: rerunId }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      const sync = await handle.startUpdate(syncUpdate, { args: [{ tables: [B], requestId: syncId }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      return Promise.all([rerun.result(), sync.result()]);
    };
    const whileLoading = await sendBoth('rerun-loading', 'sync-loading');
    setCallLatency(0);
    assert.deepEqual(whileLoading.map((a) => a.requestId), ['rerun-loading', 'sync-loading']);
    const s = await servedAll(['rerun-loading', 'sync-loading']);
    const order = (x: typeof s, n: number) => x.recentCycles.slice(0, n).map((c) => [c.kind, c.requestIds]).reverse();
    assert.deepEqual(order(s, 2), [['rerun', ['rerun-loading']], ['sync', ['sync-loading']]], `not served in the order they came while the state was read: ${JSON.stringify(order(s, 4))}`);

    // The state read, with no cycle running: the rerun is still served before the sync sent after it.
    const loaded = await sendBoth('rerun-loaded', 'sync-loaded');
    assert.deepEqual(loaded.map((a) => a.requestId), ['rerun-loaded', 'sync-loaded']);
    const t = await servedAll(['rerun-loaded', 'sync-loaded']);
    assert.deepEqual(order(t, 2), [['rerun', ['rerun-loaded']], ['sync', ['sync-loaded']]], `not served in the order they came: ${JSON.stringify(order(t, 4))}`);
    await handle.terminate('test done');
  });
  test('a rerun update sent twice with one requestId while the state is read gets one answer, accepted, and runs once', async () => {
    const first = await startSource(w.client, queue, SOURCE);
    const cycles = (await waitForCycles(first, 1)).recentCycles.length;
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');

    const handle = await startReadingSlowly();
    const answer = <T>(p: Promise<T>) => p.then((value) => ({ value }), (err: unknown) => ({ refused: err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err) }));
    // A service whose first call timed out sends the same request again: both wait for the state.
    const request = { tables: [A], requestId: 'svc-twice-loading', requestedBy: 'svc' };
    const one = await handle.startUpdate(rerunUpdate, { args: [request], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const two = await handle.startUpdate(rerunUpdate, { args: [request], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const answers = await Promise.all([answer(one.result()), answer(two.result())]);
    setCallLatency(0);
    assert.deepEqual(answers[0], { value: { requestId: 'svc-twice-loading', tables: [A], queuedBehind: 0 } });
    assert.deepEqual(answers[1], answers[0], 'the second copy was not answered as the first');
    const s = await waitForStatus(handle, (x) => x.phase === 'idle' && x.recentCycles.some((c) => c.requestIds.includes('svc-twice-loading')), 60_000);
    assert.equal(s.recentCycles.filter((c) => c.requestIds.includes('svc-twice-loading')).length, 1);
    assert.equal(s.recentCycles.length, cycles + 1, `the rerun ran other than once: ${JSON.stringify(s.recentCycles.map((c) => c.requestIds))}`);
    await handle.terminate('test done');
  });
});
