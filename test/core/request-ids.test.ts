/**
 * Request ids as other services send them: a blank `requestId` (a client that always writes the
 * field, e.g. a struct without omitempty) is no id, so its signals are never taken for repeats of
 * one another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestRerunSignal, requestSyncSignal } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

describe('request ids from other services', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('blank-request-id');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, 'blankid'), { tables: 2 });
  });
  after(async () => {
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
});
