/**
 * Request ids as other services send them: a blank `requestId` (a client that always writes the
 * field, e.g. a struct without omitempty) is no id, so its signals are never taken for repeats of
 * one another. An update without a payload is a sync of every table (as the signal), or a rerun
 * refused with a reason, not a TypeError.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { UsageError } from '../../src/cli/errors';
import { waitForRequest } from '../../src/cli/wait';
import { temporalTarget } from '../../src/temporal';
import { TABLES_PER_REQUEST } from '../../src/workflows/ledger';
import { requestRerunSignal, requestSyncSignal, rerunUpdate, type SyncRequest } from '../../src/workflows/messages';
import { recordHistories } from '../helpers/histories';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, status, waitForCycles, waitForStatus } from '../helpers/source';

describe('request ids from other services', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('blank-request-id');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, 'blankid'), { tables: 2 });
  });
  after(async () => {
    // Replayed by test/core/replay.test.ts: served, dropped and refused requests of every kind.
    if (w) await recordHistories(w.client, 'request-ids', ['lakesync/blankid']);
    await w?.stop();
    await env?.close();
  });

  test('signals with a blank requestId are each served, none dropped as a repeat', async () => {
    const table = 'public.t0002';
    w.backend.setFailures([{ table, phase: 'load', times: 'always', retryable: false, message: 'boom' }]);
    const handle = await startSource(w.client, queue, 'blankid');
    await waitForCycles(handle, 1);
    w.backend.setFailures([]);
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: '', requestedBy: 'svc' });
    await waitForCycles(handle, 2);
    await handle.signal(requestRerunSignal, { tables: [table], requestId: '', requestedBy: 'svc' });
    const s = await waitForCycles(handle, 3, 20_000);
    assert.deepEqual(s.ignoredRequests, [], JSON.stringify(s.ignoredRequests));
    assert.equal(s.recentCycles[0]!.kind, 'rerun');
    assert.deepEqual(s.failed, {});
    assert.ok(s.recentCycles.every((c) => c.requestIds.every((id) => id !== '')), JSON.stringify(s.recentCycles.map((c) => c.requestIds)));
  });

  test('an update without a payload: a sync of every table, as the signal; a rerun is refused with a reason the caller can act on', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const before = (await waitForCycles(handle, 3, 20_000)).recentCycles.length;
    const refusal = async (payload?: unknown) => {
      const update = payload === undefined ? handle.executeUpdate('rerun') : handle.executeUpdate<unknown, [unknown]>('rerun', { args: [payload] });
      const err = await update.then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
      return err.cause?.message ?? err.message;
    };
    assert.match(await refusal(), /^the payload must be a JSON object such as \{"tables": \["public.orders"\]\} or \{"tables": "failed"\}; got no payload$/);
    assert.match(await refusal('failed'), /the payload must be a JSON object .*; got "failed"$/);
    const accepted = await handle.executeUpdate<{ requestId: string; queuedBehind: number }, []>('sync');
    assert.match(accepted.requestId, /^r\d+$/);
    const s = await waitForCycles(handle, before + 1, 30_000);
    assert.deepEqual(s.recentCycles[0]!.requestIds, [accepted.requestId]);
    assert.equal(s.recentCycles[0]!.counts.committed, 2);
  });

  test('approvals that are no JSON boolean ("false" as text) are refused, never taken as given', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const before = await waitForCycles(handle, 4, 30_000);
    const err = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDeletes: 'false' as unknown as boolean }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    assert.equal(err.cause?.message, 'approveDeletes must be true or false (a JSON boolean); got "false"');
    await handle.signal(requestRerunSignal, { tables: ['public.t0001'], allowOlderExport: 'false' as unknown as boolean, requestId: 'text-flag' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'after-flag' });
    const s = await waitForCycles(handle, before.recentCycles.length + 1, 30_000);
    assert.deepEqual(s.recentCycles[0]!.requestIds, ['after-flag'], 'the rerun with a text flag ran');
    assert.deepEqual([s.ignoredRequests[0]!.requestId, s.ignoredRequests[0]!.reason], ['text-flag', 'allowOlderExport must be true or false (a JSON boolean); got "false"']);
  });
  test('an update resent with its requestId is refused as a repeat, queued or served, and runs once', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const before = (await waitForCycles(handle, 5, 30_000)).recentCycles.length;
    const refusal = async (name: 'sync' | 'rerun', payload: unknown) => {
      const err = await handle.executeUpdate<unknown, [unknown]>(name, { args: [payload] }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowUpdateFailedError, `the repeated ${name} was accepted`);
      return err.cause?.message ?? err.message;
    };
    const accepted = await handle.executeUpdate<{ requestId: string }, [unknown]>('sync', { args: [{ tables: ['public.t0001'], requestId: 'svc-update' }] });
    assert.equal(accepted.requestId, 'svc-update');
    assert.match(await refusal('sync', { tables: ['public.t0001'], requestId: 'svc-update' }), /^request svc-update was already received \((it is queued|its cycle is running)\)/);
    const s = await waitForCycles(handle, before + 1, 30_000);
    assert.match(await refusal('sync', { tables: ['public.t0001'], requestId: 'svc-update' }), /^request svc-update was already received \(cycle .+ served it\): a repeated request runs once/);
    // A rerun under the sync's id is another request, refused saying so.
    assert.match(await refusal('rerun', { tables: ['public.t0001'], requestId: 'svc-update' }), /^requestId svc-update was already used by another request \(served by cycle .+\) that asked otherwise: this one differs in kind rerun \(it asked sync\)/);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await waitForCycles(handle, before + 1, 30_000);
    assert.equal(after.recentCycles.length, s.recentCycles.length, 'a repeated update ran another cycle');
    assert.equal(after.recentCycles.filter((c) => c.requestIds.includes('svc-update')).length, 1);
  });

  test('a requestId resent with other tables is no repeat: the update is refused saying what differs, the signal dropped with that reason, never shown as served', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    await waitForCycles(handle, 1);
    // Two signals sent back to back: the second finds the first queued or running.
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'reused-signal' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'reused-signal' });
    await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'reused-update' }] });
    const err = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDeletes: true, requestId: 'reused-update' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowUpdateFailedError, 'the update asking otherwise was accepted');
    assert.match(err.cause?.message ?? err.message, /^requestId reused-update was already used by another request .*differs in approveDeletes true \(it asked false\).*new requestId/);
    const s = await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestId === 'reused-signal'), 20_000);
    const dropped = s.ignoredRequests.find((r) => r.requestId === 'reused-signal');
    assert.ok(dropped, JSON.stringify(s.ignoredRequests));
    assert.equal(dropped.repeat, undefined, `dropped as a repeat: ${dropped.reason}`);
    assert.match(dropped.reason, /^requestId reused-signal was already used by another request .*differs in tables \["public\.t0002"\] \(it asked \["public\.t0001"\]\).*new requestId/);
  });

  test('the waiter of a request still queued is not told it was dropped when another request reusing its requestId is', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const connected = { client: w.client, target: temporalTarget(w.config) };
    await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0);
    // A sync of every table runs: the next request waits behind it while the one reusing its id is dropped.
    await handle.signal(requestSyncSignal, { requestId: 'ahead-of-reused' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'queued-reused' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'queued-reused', requestedBy: 'svc-reuser' });
    const served = await waitForRequest(connected, 'blankid', 'queued-reused', { pollMs: 50 }).then((c) => c, (e: unknown) => e);
    assert.ok(!(served instanceof Error), `the waiter of the queued request was told: ${String(served)}`);
    assert.ok((served as { requestIds: string[] }).requestIds.includes('queued-reused'));
    const s = await status(handle);
    const dropped = s.ignoredRequests.find((r) => r.requestedBy === 'svc-reuser');
    assert.equal(dropped?.reusedId, true, JSON.stringify(dropped));
  });

  test('the waiter of a request still queued is not told it was dropped when a signal under its requestId is dropped for its own fault, nor when its corrected resend is queued', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const connected = { client: w.client, target: temporalTarget(w.config) };
    const waited = (requestId: string) => waitForRequest(connected, 'blankid', requestId, { pollMs: 50 }).then((c) => c, (e: unknown) => e);
    // A request queued behind a running sync, then a signal under its requestId with a misspelt field: dropped for that, not as a repeat.
    await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0);
    await handle.signal(requestSyncSignal, { requestId: 'ahead-of-misspelt' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'queued-misspelt' });
    await handle.signal(requestSyncSignal, { table: ['public.t0002'], requestId: 'queued-misspelt', requestedBy: 'svc-misspelt' } as unknown as SyncRequest);
    const served = await waited('queued-misspelt');
    assert.ok(!(served instanceof Error), `the waiter of the queued request was told: ${String(served)}`);
    assert.ok((served as { requestIds: string[] }).requestIds.includes('queued-misspelt'));
    // A sender whose signal was dropped for a misspelt field sends it again, corrected, under the same requestId: it is queued and served.
    await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0);
    await handle.signal(requestSyncSignal, { requestId: 'ahead-of-corrected' });
    await handle.signal(requestSyncSignal, { table: ['public.t0002'], requestId: 'corrected-resend', requestedBy: 'svc-corrected' } as unknown as SyncRequest);
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'corrected-resend', requestedBy: 'svc-corrected' });
    const corrected = await waited('corrected-resend');
    assert.ok(!(corrected instanceof Error), `the waiter of the corrected request was told: ${String(corrected)}`);
    assert.ok((corrected as { requestIds: string[] }).requestIds.includes('corrected-resend'));
    const s = await status(handle);
    assert.match(s.ignoredRequests.find((r) => r.requestedBy === 'svc-misspelt')?.reason ?? '', /^unknown field "table"/);
    assert.equal(s.recentCycles.filter((c) => c.requestIds.includes('queued-misspelt')).length, 1);
  });

  test('a requestId a recent cycle served, resent with other tables or approvals, is no repeat: the update is refused and the signal dropped saying what differs; the same request is still a repeat', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const connected = { client: w.client, target: temporalTarget(w.config) };
    await handle.executeUpdate<unknown, [unknown]>('sync', { args: [{ tables: ['public.t0001'], requestId: 'served-then-other' }] });
    await waitForRequest(connected, 'blankid', 'served-then-other', { pollMs: 100 });
    const before = (await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0)).recentCycles.length;
    const err = await handle.executeUpdate<unknown, [unknown]>('sync', { args: [{ tables: ['public.t0002'], requestId: 'served-then-other' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowUpdateFailedError, 'the sync of other tables was accepted');
    assert.match(err.cause?.message ?? err.message, /^requestId served-then-other was already used by another request \(served by cycle .+\) that asked otherwise: this one differs in tables \["public\.t0002"\] \(it asked 1 table\); it was not queued: send it with a new requestId$/);
    await handle.signal(requestRerunSignal, { tables: ['public.t0001'], approveDeletes: true, requestId: 'served-then-other', requestedBy: 'svc-served' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'served-then-other', requestedBy: 'svc-resent' });
    const s = await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestedBy === 'svc-resent'), 20_000);
    const other = s.ignoredRequests.find((r) => r.requestedBy === 'svc-served');
    assert.ok(other, JSON.stringify(s.ignoredRequests));
    assert.equal(other.repeat, undefined, `dropped as a repeat: ${other.reason}`);
    assert.match(other.reason, /differs in kind rerun \(it asked sync\), approveDeletes true \(it asked false\)/);
    assert.equal(s.ignoredRequests.find((r) => r.requestedBy === 'svc-resent')?.repeat, true, 'the same request resent is a repeat');
    await delay(1_000);
    const after = await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0);
    assert.equal(after.recentCycles.filter((c) => c.requestIds.includes('served-then-other')).length, 1, 'a request under a served id ran a cycle');
    assert.equal(after.recentCycles[0]!.cycleId, s.recentCycles[0]!.cycleId);
    assert.ok(before > 0);
  });

  test('waiting for a signalled request the workflow dropped ends with its reason; a repeated signal is still waited for to its cycle', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const connected = { client: w.client, target: temporalTarget(w.config) };
    // Tables as text: a signal cannot be refused, so the workflow drops it and says why.
    await handle.signal(requestSyncSignal, { tables: 'public.t0001' as unknown as string[], requestId: 'dropped-signal' });
    const err = await waitForRequest(connected, 'blankid', 'dropped-signal', { pollMs: 100 }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /^the source workflow of blankid dropped request dropped-signal: tables must be a list of schema\.table names/);

    // Dropped again for the same reason by the same sender before the waiter looks: the entries are
    // kept as one, which still answers the waiter of the first.
    await handle.signal(requestSyncSignal, { tables: 'public.t0001' as unknown as string[], requestId: 'dropped-first', requestedBy: 'svc-bad' });
    await handle.signal(requestSyncSignal, { tables: 'public.t0001' as unknown as string[], requestId: 'dropped-next', requestedBy: 'svc-bad' });
    await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestId === 'dropped-next'));
    const waiting = waitForRequest(connected, 'blankid', 'dropped-first', { pollMs: 100 }).then(() => undefined, (e: unknown) => e);
    const first = await Promise.race([waiting, delay(10_000).then(() => 'still waiting after 10 s')]);
    assert.ok(first instanceof UsageError, String(first));
    assert.match(first.message, /^the source workflow of blankid dropped request dropped-first: tables must be a list/);

    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'sent-twice' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'sent-twice' });
    const served = await waitForRequest(connected, 'blankid', 'sent-twice', { pollMs: 100 });
    assert.deepEqual(served.requestIds, ['sent-twice']);
    const s = await waitForCycles(handle, 1);
    const repeat = s.ignoredRequests.find((r) => r.requestId === 'sent-twice');
    assert.equal(repeat?.repeat, true, JSON.stringify(s.ignoredRequests));
  });

  test('a requestId or requestedBy that is no short string is refused by the updates and dropped from signals, and the status stays readable', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const before = (await waitForCycles(handle, 1)).recentCycles.length;
    // A sender that puts a whole document in the id: kept in the queue, the cycle summaries and the status, it would pass what one answer may hold.
    const huge = 'x'.repeat(1_100_000);
    const refused = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'y'.repeat(600) }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof WorkflowUpdateFailedError, String(refused));
    assert.match(refused.cause?.message ?? '', /^requestId must be a string of at most 500 characters; got "y{20}.*\(602 characters in all\)$/);
    const byObject = await handle.executeUpdate<unknown, [unknown]>('sync', { args: [{ requestId: { id: 1 } }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(byObject instanceof WorkflowUpdateFailedError, String(byObject));
    assert.equal(byObject.cause?.message, 'requestId must be a string of at most 500 characters; got {"id":1}');
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: huge, requestedBy: 'svc-huge' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'after-huge' });
    const s = await waitForStatus(handle, (st) => st.phase === 'idle' && st.recentCycles.some((c) => c.requestIds.includes('after-huge')), 30_000);
    assert.equal(s.recentCycles.length, before + 1, 'only the request after the huge one ran');
    const dropped = s.ignoredRequests.find((r) => r.requestedBy === 'svc-huge');
    assert.ok(dropped && dropped.requestId === undefined, JSON.stringify(s.ignoredRequests).slice(0, 500));
    assert.match(dropped.reason, /^requestId must be a string of at most 500 characters; got "x{20}.*\(1100002 characters in all\)$/);
  });
  test('a requestId of the form the source gives requests without one (r1, r2...) is refused by the updates and dropped from signals with the reason, never taken for the source\'s own', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const connected = { client: w.client, target: temporalTarget(w.config) };
    const before = await waitForCycles(handle, 1);
    // The start's own sync took r1: a service's first request numbered r1 is no repeat of it.
    assert.ok(before.recentCycles.some((c) => c.requestIds.includes('r1')), JSON.stringify(before.recentCycles.map((c) => c.requestIds)));
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'r1', requestedBy: 'svc-numbered' });
    const s = await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestedBy === 'svc-numbered'));
    const dropped = s.ignoredRequests.find((r) => r.requestedBy === 'svc-numbered')!;
    assert.equal(dropped.repeat, undefined, `taken for a repeat of the start's own sync: ${dropped.reason}`);
    // Kept without the id, which names the start's sync: a waiter for the start's r1 is not told it was dropped.
    assert.equal(dropped.requestId, undefined);
    assert.equal(dropped.reason, "requestId r1 has the form r<number> that the source gives requests sent without one; send another requestId (e.g. prefixed with your service's name)");
    // The service that sent r1 and waits for it is told its request was dropped, not that the start's r1 cycle served it.
    const waited = await waitForRequest(connected, 'blankid', 'r1', { pollMs: 100 }).then((c) => c, (e: unknown) => e);
    assert.ok(waited instanceof UsageError, `the waiter for the dropped r1 was answered with ${JSON.stringify(waited)}`);
    assert.equal(waited.message, `the source workflow of blankid dropped request r1: ${dropped.reason}`);
    const refused = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'r900' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof WorkflowUpdateFailedError, 'a rerun numbered r900 was accepted');
    assert.match(refused.cause?.message ?? '', /^requestId r900 has the form r<number>/);
    // A generated id never meets a caller's: a request without an id is still served under one.
    const accepted = await handle.executeUpdate<{ requestId: string }, [unknown]>('sync', { args: [{ tables: ['public.t0002'] }] });
    assert.match(accepted.requestId, /^r\d+$/);
    const served = await waitForRequest(connected, 'blankid', accepted.requestId, { pollMs: 100, givenBySource: true });
    assert.deepEqual(served.requestIds, [accepted.requestId]);
  });

  test('a source that knows its tables answers a request as before its state was read: the request\'s own problem first, not the tables it does not have or the export it lacks', async () => {
    const handle = w.client.workflow.getHandle('lakesync/blankid');
    const known = await waitForCycles(handle, 1);
    assert.ok(known.recentCycles.length > 0);
    const tables = Array.from({ length: TABLES_PER_REQUEST + 1 }, (_, i) => `public.unknown_${i}`);
    for (const name of ['sync', 'rerun'] as const) {
      const err = await handle.executeUpdate<unknown, [unknown]>(name, { args: [{ tables, requestId: `too-many-known-${name}` }] }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowUpdateFailedError, `the ${name} of ${tables.length} tables was accepted`);
      assert.equal(err.cause?.message, `a request names at most ${TABLES_PER_REQUEST} tables; this one names ${TABLES_PER_REQUEST + 1}: send them in several requests, or leave tables out to sync every table`);
    }
  });

  test('before the first export, a request naming more tables than one request may is refused by the updates and dropped from signals, saying so; none is queued', async () => {
    // The source started afresh without a sync: it knows no table, so no name can be checked.
    await w.client.workflow.getHandle('lakesync/blankid').terminate('a fresh source for the next test');
    const handle = await w.client.workflow.start('sourceWorkflow', { workflowId: 'lakesync/blankid', taskQueue: queue, args: [{ source: 'blankid', syncOnStart: false }] });
    // Once its state is read, so that the updates meet the checks of a running source, not the payload checks made before.
    await waitForStatus(handle, () => true, 20_000);
    const tables = Array.from({ length: TABLES_PER_REQUEST + 1 }, (_, i) => `public.made_up_${i}`);
    const reason = `a request names at most ${TABLES_PER_REQUEST} tables; this one names ${TABLES_PER_REQUEST + 1}: send them in several requests, or leave tables out to sync every table`;
    for (const name of ['sync', 'rerun'] as const) {
      const err = await handle.executeUpdate<unknown, [unknown]>(name, { args: [{ tables, requestId: `too-many-${name}` }] }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowUpdateFailedError, `the ${name} of ${tables.length} tables was accepted`);
      assert.equal(err.cause?.message, reason);
    }
    await handle.signal(requestSyncSignal, { tables, requestId: 'too-many-sync-signal', requestedBy: 'svc-many' });
    await handle.signal(requestRerunSignal, { tables, requestId: 'too-many-rerun-signal', requestedBy: 'svc-many-rerun' });
    const s = await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestedBy === 'svc-many-rerun'), 20_000);
    assert.equal(s.ignoredRequests.find((r) => r.requestedBy === 'svc-many')?.reason, reason, JSON.stringify(s.ignoredRequests).slice(0, 500));
    assert.equal(s.ignoredRequests.find((r) => r.requestedBy === 'svc-many-rerun')?.reason, reason);
    assert.deepEqual([s.queue, s.recentCycles, s.phase], [[], [], 'idle']);
    // Approvals that are no JSON booleans are the request's fault, whatever the source has: refused for that, as before the state is read.
    const approvals = await handle.executeUpdate<unknown, [unknown]>('rerun', { args: [{ tables: ['public.t0001'], approveDeletes: 'false' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(approvals instanceof WorkflowUpdateFailedError, 'a rerun approving deletes with text was accepted');
    assert.equal(approvals.cause?.message, 'approveDeletes must be true or false (a JSON boolean); got "false"');
  });
});
