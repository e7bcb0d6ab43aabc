/**
 * Signals from other services: a signal cannot be refused, so whatever it carries the source
 * workflow goes on; on a source whose tables are all read directly (it never takes an export, and
 * its reruns need none) a signalled rerun runs as a rerun with its approvals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeRun } from '../../src/fake/state';
import { requestRerunSignal, requestSyncSignal } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, status, waitForCycles } from '../helpers/source';

const runsOf = (w: FakeWorker, table: string): FakeRun[] =>
  Object.values(w.backend.state.runs)
    .filter((r) => r.table === table)
    .sort((a, b) => a.seq - b.seq);

describe('a rerun signal on a source read directly', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('direct-signal');
  const tables = ['public.events', 'public.clicks'];
  before(async () => {
    env = await startTestServer();
    const config = fakeConfig(queue, { tables }, { tables: Object.fromEntries(tables.map((t) => [t, { extract: 'direct', cursor: { column: 'id' } }])) }, 'directsignal');
    w = await startFakeWorker(config, { tables, latencyMs: 20, rowsPerTable: 100 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('runs as a rerun of the named table with its delete approval, without any export', async () => {
    const handle = await startSource(w.client, queue, 'directsignal');
    await waitForCycles(handle, 1);
    w.backend.setFailures([{ table: 'public.clicks', phase: 'load', times: 'always', retryable: false, message: 'would delete 80% of the rows' }]);
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    const second = await waitForCycles(handle, 2);
    assert.equal(second.failed['public.clicks']!.extract, 'direct');
    assert.equal(second.lastExport, undefined, 'the source never took an export');

    w.backend.setFailures([]);
    await handle.signal(requestRerunSignal, { tables: ['public.clicks'], approveDeletes: true, requestId: 'svc-7', requestedBy: 'billing' });
    const third = await waitForCycles(handle, 3);
    assert.equal(third.recentCycles[0]!.kind, 'rerun');
    assert.deepEqual(third.recentCycles[0]!.requestIds, ['svc-7']);
    assert.equal(third.recentCycles[0]!.status, 'succeeded', JSON.stringify(third.lastCycle));
    assert.deepEqual(third.failed, {});
    assert.deepEqual(third.ignoredRequests, []);
    assert.equal(runsOf(w, 'public.clicks').at(-1)!.request.plan.approveDeletes, true, 'the load carries the delete approval');
    assert.equal(w.backend.count('snapshot.start') + w.backend.count('export.start'), 0, 'no snapshot or export');
  });
});

describe('signals without a payload', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('bare-signal');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, 'baresignal'), { tables: 2 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('a sync signal without a payload syncs every table; a rerun signal without one, and a sync whose tables are no list, are ignored with the reason; later signals are served', async () => {
    const handle = await startSource(w.client, queue, 'baresignal');
    await waitForCycles(handle, 1);
    // As `temporal workflow signal --name requestSync` without --input sends them.
    await handle.signal('requestRerun');
    await handle.signal('requestSync', { tables: 5, requestId: 'svc-9' });
    await handle.signal('requestSync');
    const second = await waitForCycles(handle, 2, 30_000);
    assert.equal(second.recentCycles[0]!.kind, 'sync');
    assert.equal(second.recentCycles[0]!.status, 'succeeded');
    assert.deepEqual(
      second.ignoredRequests.map((r) => [r.kind, r.requestId, r.reason]),
      [
        ['sync', 'svc-9', 'tables must be a list of schema.table names, or left out to sync every table'],
        ['rerun', undefined, 'name the tables to rerun (schema.table), or "failed"'],
      ],
    );
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestedBy: 'test' });
    const third = await waitForCycles(handle, 3, 30_000);
    assert.deepEqual((await status(handle)).queue, []);
    assert.equal(third.recentCycles[0]!.counts.committed, 1);
  });
});
