/**
 * Direct extract through the workflows on a real Temporal server with the fake backend, which
 * reads direct windows over its in-memory source rows (ids 1..n are the cursor): an all-direct
 * source takes no snapshot and no export, a mixed one exports only its export tables, a first
 * load from the export switches to direct windows, and a failing direct table keeps its
 * watermark while the others advance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeRun } from '../../src/fake/state';
import { sourceMetrics } from '../../src/metrics/values';
import { requestSyncSignal, rerunUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';

const direct = (extra: Record<string, unknown> = {}) => ({ extract: 'direct', cursor: { column: 'id' }, ...extra });
const runsOf = (w: FakeWorker, table: string): FakeRun[] =>
  Object.values(w.backend.state.runs)
    .filter((r) => r.table === table)
    .sort((a, b) => a.seq - b.seq);

describe('direct extract on a real Temporal server', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  describe('every table read directly', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('direct-all');
    const tables = ['public.events', 'public.clicks', 'public.views'];
    before(async () => {
      const config = fakeConfig(queue, { tables }, { tables: Object.fromEntries(tables.map((t) => [t, direct({ direct: { partitions: 4 } })])) }, 'directall');
      w = await startFakeWorker(config, { tables, latencyMs: 20, rowsPerTable: 100 });
    });
    after(async () => w?.stop());

    test('takes no snapshot and no export; each table is created directly and its watermark is the window\'s upper bound', async () => {
      const handle = await startSource(w.client, queue, 'directall');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
      assert.equal(w.backend.count('snapshot.start'), 0, 'no snapshot');
      assert.equal(w.backend.count('export.start'), 0, 'no export');
      assert.equal(w.backend.count('discover'), 0, 'no export listing read');
      assert.equal(first.lastExport, undefined);
      assert.equal(first.recentCycles[0]!.exportId, undefined);
      for (const table of tables) {
        const wm = first.ledger[table]!;
        assert.equal(wm.extract, 'direct', table);
        assert.equal(wm.exportId, '', `${table} names no export`);
        assert.equal(wm.action, 'create');
        assert.equal(wm.cursorValue, '100', `${table}: the watermark is the window's upper bound`);
        const [run] = runsOf(w, table);
        assert.equal(run!.request.plan.extract?.kind, 'direct');
        assert.equal(run!.request.plan.extract?.partitions, 4);
        assert.equal(run!.request.exportId, undefined, 'a direct load carries no export lineage');
        assert.equal(run!.request.exportLocation, undefined);
      }

      // New rows in one table: the next window reads from the lake's max(cursor), the others add nothing.
      w.backend.appendRows('public.events', 25);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const second = await waitForCycles(handle, 2);
      assert.equal(second.recentCycles[0]!.status, 'succeeded', JSON.stringify(second.lastCycle));
      assert.equal(w.backend.count('snapshot.start') + w.backend.count('export.start'), 0, 'still no snapshot or export');
      assert.equal(second.ledger['public.events']!.cursorValue, '125');
      assert.equal(second.ledger['public.events']!.action, 'incremental');
      assert.equal(second.ledger['public.clicks']!.cursorValue, '100');
      const window = runsOf(w, 'public.events').at(-1)!.window!;
      assert.deepEqual({ from: window.from, to: window.to, inserted: window.inserted }, { from: 100, to: 125, inserted: 25 });
      assert.equal(w.backend.state.lake['shop.events']!.rows, 125, 'the lake holds every source row once');
      const events = second.lastCycle!.tables.find((t) => t.table === 'public.events')!;
      assert.equal(events.inserted, 25);
      assert.equal(events.verified, true, 'verified without an export: the rows the lake gained match the load');
    });

    test('a direct table whose load fails after its retries keeps its watermark while the others advance; its rerun needs no export', async () => {
      const handle = w.client.workflow.getHandle('lakesync/directall');
      const before = (await waitForCycles(handle, 2)).ledger;
      for (const t of tables) w.backend.appendRows(t, 10);
      // Retryable: it is retried until retry.maximumAttempts (3) is used up.
      w.backend.setFailures([{ table: 'public.clicks', phase: 'load', times: 'always', retryable: true, message: 'connection to the source reset' }]);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const third = await waitForCycles(handle, 3);
      assert.equal(third.recentCycles[0]!.status, 'partial');
      assert.equal(runsOf(w, 'public.clicks').filter((r) => r.cycleId === third.recentCycles[0]!.cycleId).length, 3, 'every attempt was used');
      assert.equal(third.ledger['public.clicks']!.cursorValue, before['public.clicks']!.cursorValue, 'the failed table keeps its watermark');
      assert.equal(third.ledger['public.clicks']!.icebergSnapshotId, before['public.clicks']!.icebergSnapshotId);
      assert.match(third.ledger['public.clicks']!.lastError ?? '', /connection to the source reset/);
      assert.equal(third.ledger['public.events']!.cursorValue, '135', 'the others advance');
      assert.equal(third.ledger['public.views']!.cursorValue, '110');
      assert.equal(third.failed['public.clicks']!.extract, 'direct');
      assert.equal(third.failed['public.clicks']!.exportId, undefined, 'no export is pinned for its rerun');

      // The rerun is accepted without any export and reads the window the failure left.
      w.backend.setFailures([]);
      const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed', requestedBy: 'test' }] });
      assert.deepEqual(accepted.tables, ['public.clicks']);
      const fourth = await waitForCycles(handle, 4);
      assert.equal(fourth.recentCycles[0]!.status, 'succeeded', JSON.stringify(fourth.lastCycle));
      assert.equal(fourth.ledger['public.clicks']!.cursorValue, '110');
      assert.deepEqual(fourth.failed, {});
      assert.equal(w.backend.count('snapshot.start') + w.backend.count('export.start'), 0, 'the rerun took no snapshot or export');
      assert.equal(w.backend.state.lake['shop.clicks']!.rows, 110);
      await recordHistories(w.client, 'direct-all', ['lakesync/directall']);
    });
  });

  describe('the freshness lag of a direct table', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('direct-lag');
    const tables = ['public.events'];
    const loadMs = 1500;
    before(async () => {
      const config = fakeConfig(queue, { tables }, { tables: { 'public.events': direct() } }, 'directlag');
      w = await startFakeWorker(config, { tables, latencyMs: loadMs, rowsPerTable: 100 });
    });
    after(async () => w?.stop());

    test('counts from when its load read the source, not from when the load ended', async () => {
      const handle = await startSource(w.client, queue, 'directlag');
      const status = await waitForCycles(handle, 1);
      assert.equal(status.recentCycles[0]!.status, 'succeeded', JSON.stringify(status.lastCycle));
      // The fake reads the window's rows when its run starts; the run then takes loadMs.
      const readAt = runsOf(w, 'public.events')[0]!.startedAtMs;
      const wm = status.ledger['public.events']!;
      assert.ok(Date.parse(wm.loadedAt) - readAt >= loadMs, `the load ended ${wm.loadedAt}, at least ${loadMs} ms after it read the source`);
      const now = Date.now();
      const lag = sourceMetrics(status, { lakeTableOf: () => 'events', cycleResult: () => undefined, now }).tables[0]!.freshnessLagSeconds!;
      assert.ok(lag >= (now - readAt) / 1000, `freshness lag ${lag} s, but the lake holds the source as it was ${(now - readAt) / 1000} s ago`);
      assert.equal(wm.loadStartedAt, new Date(readAt).toISOString());
    });
  });

  describe('direct and export tables in one source', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('direct-mixed');
    const tables = ['public.events', 'public.clicks', 'public.orders', 'sales.items'];
    before(async () => {
      const config = fakeConfig(
        queue,
        { tables },
        { tables: { 'public.events': direct(), 'public.clicks': direct({ direct: { firstLoad: 'export' } }) } },
        'directmixed',
      );
      w = await startFakeWorker(config, { tables, latencyMs: 20, rowsPerTable: 100 });
    });
    after(async () => w?.stop());

    test('the export takes only the export tables (and a table whose first load comes from it); direct windows after', async () => {
      const handle = await startSource(w.client, queue, 'directmixed');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
      assert.equal(w.backend.count('export.start'), 1);
      const firstExport = w.backend.state.exports[first.recentCycles[0]!.exportId!]!;
      assert.deepEqual({ tables: firstExport.tables, schemas: firstExport.schemas }, { tables: ['public.clicks', 'public.orders'], schemas: ['sales'] }, 'events is left out of the export');
      // events: read directly; clicks: created from the export; orders, items: from the export.
      assert.equal(runsOf(w, 'public.events')[0]!.request.exportId, undefined);
      assert.equal(first.ledger['public.events']!.extract, 'direct');
      assert.equal(first.ledger['public.events']!.exportId, '');
      const clicksFirst = runsOf(w, 'public.clicks')[0]!;
      assert.equal(clicksFirst.request.plan.extract, undefined, 'created from the export');
      assert.equal(clicksFirst.request.exportId, first.recentCycles[0]!.exportId);
      assert.equal(first.ledger['public.clicks']!.exportId, first.recentCycles[0]!.exportId);
      assert.equal(first.ledger['public.orders']!.exportId, first.recentCycles[0]!.exportId);

      w.backend.appendRows('public.clicks', 7);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const second = await waitForCycles(handle, 2);
      assert.equal(second.recentCycles[0]!.status, 'succeeded', JSON.stringify(second.lastCycle));
      const secondExport = w.backend.state.exports[second.recentCycles[0]!.exportId!]!;
      assert.deepEqual({ tables: secondExport.tables, schemas: secondExport.schemas }, { tables: ['public.orders'], schemas: ['sales'] }, 'clicks now has its lake table: read directly');
      const clicksSecond = runsOf(w, 'public.clicks').at(-1)!;
      assert.equal(clicksSecond.request.plan.extract?.kind, 'direct');
      assert.equal(clicksSecond.request.plan.action, 'incremental');
      assert.equal(clicksSecond.request.exportId, undefined);
      assert.deepEqual({ from: clicksSecond.window!.from, to: clicksSecond.window!.to }, { from: 100, to: 107 }, "from the lake's max(cursor) the export load left");
      assert.equal(second.ledger['public.clicks']!.extract, 'direct');
      assert.equal(second.ledger['public.clicks']!.cursorValue, '107');
      assert.equal(second.ledger['public.orders']!.exportId, second.recentCycles[0]!.exportId);
      await recordHistories(w.client, 'direct-mixed', ['lakesync/directmixed']);
    });
  });
});
