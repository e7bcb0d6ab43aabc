/**
 * A requestId names one request, and a request is a sync or a rerun: a sync (a new snapshot and
 * export) sent with the requestId of a rerun of the same tables, or a rerun with that of a sync, is
 * another request, not a repeat. Dropped as a repeat, it would be lost while its waiter is told that
 * the other kind's cycle served it. A rerun signal that became a sync before any export is still
 * repeated as a rerun.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { sourceWorkflowId } from '../../src/ids';
import { waitForRequest } from '../../src/cli/wait';
import { temporalTarget } from '../../src/temporal';
import { requestRerunSignal, requestSyncSignal, rerunUpdate, SOURCE_WORKFLOW_TYPE, type SourceStatus } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { status, waitForStatus } from '../helpers/source';

describe('a requestId reused by the other kind of request', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('request-kinds');
  const source = 'kinds';
  const idle = (st: SourceStatus) => st.phase === 'idle' && st.queue.length === 0;
  const droppedBy = (st: SourceStatus, sender: string) => st.ignoredRequests.find((r) => r.requestedBy === sender);
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, source), { tables: 2 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('a rerun signal that became a sync before any export is still a repeat when sent again, queued or served', async () => {
    const rerun = { tables: ['public.t0001'], requestId: 'early-rerun', requestedBy: 'svc-early' };
    await w.client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, {
      workflowId: sourceWorkflowId(source),
      taskQueue: queue,
      args: [{ source, syncOnStart: false }],
      signal: requestRerunSignal,
      signalArgs: [rerun],
    });
    const handle = w.client.workflow.getHandle(sourceWorkflowId(source));
    await handle.signal(requestRerunSignal, rerun);
    let s = await waitForStatus(handle, (st) => idle(st) && st.recentCycles.length === 1 && st.ignoredRequests.length === 1, 30_000);
    assert.equal(s.recentCycles[0]!.kind, 'sync');
    assert.deepEqual(s.recentCycles[0]!.requestIds, ['early-rerun']);
    assert.equal(s.ignoredRequests[0]!.repeat, true, JSON.stringify(s.ignoredRequests));
    await handle.signal(requestRerunSignal, rerun);
    s = await waitForStatus(handle, (st) => st.ignoredRequests.length === 2, 20_000);
    assert.ok(s.ignoredRequests.every((r) => r.repeat === true), JSON.stringify(s.ignoredRequests));
    assert.match(s.ignoredRequests[0]!.reason, /^request early-rerun was already received \(cycle .+ served it\)/);
    assert.equal(s.recentCycles.length, 1, 'the repeated rerun ran another cycle');
  });

  test('a rerun sent with the requestId of a served sync of the same tables is no repeat: dropped saying so, never shown as served by the sync', async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId(source));
    const connected = { client: w.client, target: temporalTarget(w.config) };
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'job-7', requestedBy: 'svc' });
    const sync = await waitForRequest(connected, source, 'job-7', { pollMs: 100 });
    assert.equal(sync.kind, 'sync');
    await waitForStatus(handle, idle);
    // The service reruns the table it synced, under the same job id.
    await handle.signal(requestRerunSignal, { tables: ['public.t0002'], requestId: 'job-7', requestedBy: 'svc-rerun' });
    const s = await waitForStatus(handle, (st) => droppedBy(st, 'svc-rerun') !== undefined, 20_000);
    const dropped = droppedBy(s, 'svc-rerun')!;
    assert.equal(dropped.repeat, undefined, `the rerun was dropped as a repeat of the sync: ${dropped.reason}`);
    assert.equal(dropped.reusedId, true, JSON.stringify(dropped));
    assert.match(dropped.reason, /^requestId job-7 was already used by another request \(served by cycle .+\) that asked otherwise: this one differs in kind rerun \(it asked sync\); it was not queued: send it with a new requestId$/);
    // The update is refused saying the same.
    const err = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0002'], requestId: 'job-7' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowUpdateFailedError, 'the rerun under a sync\'s id was accepted');
    assert.match(err.cause?.message ?? '', /differs in kind rerun \(it asked sync\)/);
  });

  test('a sync sent with the requestId of a served rerun of the same tables is no repeat: dropped saying so', async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId(source));
    const connected = { client: w.client, target: temporalTarget(w.config) };
    await waitForStatus(handle, idle);
    await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'job-8', requestedBy: 'svc' }] });
    const rerun = await waitForRequest(connected, source, 'job-8', { pollMs: 100 });
    assert.equal(rerun.kind, 'rerun');
    await waitForStatus(handle, idle);
    // A new snapshot asked under the rerun's id: dropped as its repeat, the table would keep the old export's rows.
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'job-8', requestedBy: 'svc-sync' });
    const s = await waitForStatus(handle, (st) => droppedBy(st, 'svc-sync') !== undefined, 20_000);
    const dropped = droppedBy(s, 'svc-sync')!;
    assert.equal(dropped.repeat, undefined, `the sync was dropped as a repeat of the rerun: ${dropped.reason}`);
    assert.equal(dropped.reusedId, true);
    assert.match(dropped.reason, /differs in kind sync \(it asked rerun\)/);
  });

  test('a request of the other kind sent with the requestId of one queued is no repeat; the same request sent again still is', async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId(source));
    await waitForStatus(handle, idle);
    const before = (await status(handle)).recentCycles.length;
    // A sync of every table runs: the next requests wait behind it.
    await handle.signal(requestSyncSignal, { requestId: 'ahead-of-kinds' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'job-9', requestedBy: 'svc' });
    await handle.signal(requestRerunSignal, { tables: ['public.t0001'], requestId: 'job-9', requestedBy: 'svc-queued-rerun' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'job-9', requestedBy: 'svc-queued-again' });
    const s = await waitForStatus(handle, (st) => idle(st) && st.recentCycles.some((c) => c.requestIds.includes('job-9')), 30_000);
    const other = droppedBy(s, 'svc-queued-rerun');
    assert.ok(other, JSON.stringify(s.ignoredRequests));
    assert.equal(other.repeat, undefined, `the rerun was dropped as a repeat of the queued sync: ${other.reason}`);
    assert.match(other.reason, /^requestId job-9 was already used by another request \((queued|running)\) that asked otherwise: this one differs in kind rerun \(it asked sync\)/);
    assert.equal(droppedBy(s, 'svc-queued-again')?.repeat, true, 'the same sync sent again is a repeat');
    await delay(500);
    const after = await waitForStatus(handle, idle);
    assert.equal(after.recentCycles.filter((c) => c.requestIds.includes('job-9')).length, 1);
    assert.ok(after.recentCycles.length <= before + 2, `${after.recentCycles.length - before} cycles ran for two requests`);
  });
});
