/**
 * A waiter (`sync --wait`, `rerun --wait`) whose request the source workflow lost: started again
 * without its state while the request was queued, after the waiter saw it or before (a request an
 * update accepted). It is told so, instead of waiting for ever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { signalSourceRun, sourceRunForRequest } from '../../src/cli/context';
import { RuntimeFailure, UsageError } from '../../src/cli/errors';
import { type WaitProgress, waitForRequest } from '../../src/cli/wait';
import { temporalTarget } from '../../src/temporal';
import { SOURCE_WORKFLOW_TYPE, requestSyncSignal, syncUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForStatus } from '../helpers/source';
import { pollFor, within } from '../helpers/within';

describe('a waiter whose request the source lost', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('wait-lost');
  before(async () => {
    env = await startTestServer();
    // Slow loads: the first cycle still runs while the request waits behind it.
    w = await startFakeWorker(fakeConfig(queue, { tables: 2, latencyMs: 3_000 }, {}, 'lost'), { tables: 2, latencyMs: 3_000 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('is told the request is no longer known once the source workflow started again without it, not left waiting', async () => {
    const handle = await startSource(w.client, queue, 'lost');
    await waitForStatus(handle, (s) => s.currentCycle !== undefined, 30_000);
    await handle.signal(requestSyncSignal, { requestId: 'lost-one', requestedBy: 'test' });
    await waitForStatus(handle, (s) => s.currentCycle !== undefined && s.queue.some((q) => q.requestId === 'lost-one'), 30_000);

    const polls: WaitProgress[] = [];
    const waiting = waitForRequest({ client: w.client, target: temporalTarget(w.config) }, 'lost', 'lost-one', { pollMs: 4_000, onStatus: (p) => polls.push(p) }).then(
      () => 'served',
      (err: unknown) => err,
    );
    // The waiter found the request queued; before its next poll the source starts again afresh.
    await pollFor(() => 'the first poll', async () => (polls.length > 0 ? true : undefined), 10_000);
    assert.equal(polls[0]!.ahead, 0, JSON.stringify(polls[0]));
    await handle.terminate('started again without its state');
    await startSource(w.client, queue, 'lost');

    const outcome = await Promise.race([waiting, delay(30_000).then(() => 'still waiting')]);
    assert.ok(outcome instanceof RuntimeFailure, `the waiter: ${String(outcome)}`);
    assert.match(outcome.message, /^the source workflow of lost no longer knows request lost-one: it was queued, and is now neither queued, running, served by one of its recent cycles nor dropped .*lakesync status lost/);
  });

  test('is told so at its first poll when the request was accepted by an update and lost before that poll', async () => {
    const handle = w.client.workflow.getHandle('lakesync/lost');
    await waitForStatus(handle, (s) => s.currentCycle !== undefined, 30_000);
    const accepted = await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'lost-accepted', requestedBy: 'test' }] });
    assert.equal(accepted.requestId, 'lost-accepted');
    await handle.terminate('started again without its state');
    await startSource(w.client, queue, 'lost');

    const waiting = waitForRequest({ client: w.client, target: temporalTarget(w.config) }, 'lost', 'lost-accepted', { pollMs: 500, accepted: true }).then(
      () => 'served',
      (err: unknown) => err,
    );
    const outcome = await Promise.race([waiting, delay(20_000).then(() => 'still waiting')]);
    assert.ok(outcome instanceof RuntimeFailure, `the waiter: ${String(outcome)}`);
    assert.match(outcome.message, /^the source workflow of lost no longer knows request lost-accepted: it was accepted, and is now neither queued, running, served by one of its recent cycles nor dropped /);
  });

  test('is told so when its request was signalled to a run that ended before handling it, and the source runs afresh', async () => {
    await w.client.workflow.getHandle('lakesync/lost').terminate('a signal-with-start to come');
    // Started by the signal on a queue no worker polls: the run never handles the request. It is then terminated, and the source started afresh.
    const sent = await w.client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, {
      workflowId: 'lakesync/lost',
      taskQueue: uniqueQueue('wait-lost-no-worker'),
      args: [{ source: 'lost', syncOnStart: false }],
      signal: requestSyncSignal,
      signalArgs: [{ requestId: 'lost-signalled', requestedBy: 'test' }],
    });
    await sent.terminate('started again without its state');
    const handle = await startSource(w.client, queue, 'lost');
    await waitForStatus(handle, () => true, 30_000);

    const outcome = await Promise.race([waitForRequest({ client: w.client, target: temporalTarget(w.config) }, 'lost', 'lost-signalled', { pollMs: 500, signaledRunId: sent.signaledRunId }).then(() => 'served', (err: unknown) => err), delay(20_000).then(() => 'still waiting')]);
    assert.ok(outcome instanceof RuntimeFailure, `the waiter: ${String(outcome)}`);
    assert.match(outcome.message, new RegExp(`^the source workflow of lost no longer knows request lost-signalled: it was signalled to run ${sent.signaledRunId}, which the run going on now does not continue, and is now neither queued`));
  });

  test('waits for a request signalled to the running source until a cycle serves it, not told it was lost before the signal is handled', async () => {
    const handle = w.client.workflow.getHandle('lakesync/lost');
    const { runId } = await handle.describe();
    await handle.signal(requestSyncSignal, { requestId: 'kept-signalled', requestedBy: 'test' });
    const served = await within(60_000, 'the cycle serving the signalled request', waitForRequest({ client: w.client, target: temporalTarget(w.config) }, 'lost', 'kept-signalled', { pollMs: 500, signaledRunId: runId }));
    assert.ok(served.requestIds.includes('kept-signalled'), JSON.stringify(served));
  });

  test('a request signalled as the source starts again goes to the run going on, and its waiter is not told it was lost', async () => {
    // The CLI finds and checks the run, then signals: the source may be started again in between.
    const conn = { client: w.client, target: temporalTarget(w.config) };
    const found = await sourceRunForRequest(conn, 'lost', 'sync');
    assert.ok(found, 'the source runs');
    await found.handle.terminate('started again without its state');
    const restarted = await startSource(w.client, queue, 'lost');
    const signaledRunId = await signalSourceRun(conn, 'lost', found, requestSyncSignal, { requestId: 'signalled-across-restart', requestedBy: 'test' }, 'sync');
    assert.equal(signaledRunId, (await restarted.describe()).runId, 'the run going on took the signal');
    const served = await within(60_000, 'the cycle serving the request', waitForRequest(conn, 'lost', 'signalled-across-restart', { pollMs: 500, signaledRunId }));
    assert.ok(served.requestIds.includes('signalled-across-restart'), JSON.stringify(served));
  });

  test('a request whose run ended before the signal, with none going on, is refused with what to do', async () => {
    const conn = { client: w.client, target: temporalTarget(w.config) };
    const found = await sourceRunForRequest(conn, 'lost', 'rerun');
    assert.ok(found, 'the source runs');
    await found.handle.terminate('ended');
    await assert.rejects(signalSourceRun(conn, 'lost', found, requestSyncSignal, { requestId: 'signalled-to-none', requestedBy: 'test' }, 'rerun'), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, new RegExp(`^no source workflow lakesync/lost runs, so the rerun cannot be sent to it \\(its run ${found.runId} ended before the signal reached it\\): run "lakesync sync lost" first$`));
      return true;
    });
  });
});
