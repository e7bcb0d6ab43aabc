/**
 * DynamoDB sources through the workflows on a real Temporal server with the fake backend (a fake
 * DynamoDB: point-in-time recovery on, key `id`, items appended by the tests at known times):
 * every table is its own unit with its own exports, outcome and watermark; no RDS snapshot or
 * export is ever taken.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { cycleActivities } from '../../src/activities/cycle';
import { tableExportActivities } from '../../src/activities/table-export';
import type { LakesyncConfig } from '../../src/config/schema';
import { FakeBackend } from '../../src/fake/ports';
import type { FakeRun } from '../../src/fake/state';
import { batchWorkflowId, tableExportIdFor } from '../../src/ids';
import { requestSyncSignal, rerunUpdate, type SourceStatus, statusQuery } from '../../src/workflows/messages';
import { waitUntil } from '../helpers/within';
import { startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { fakeDynamoConfig } from '../helpers/dynamodb-source';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = ['dynamodb.orders', 'dynamodb.customers', 'dynamodb.events'];

/** A dynamodb source `name` whose ports the test gives the worker (the fake DynamoDB). */
function dynamoConfig(taskQueue: string, name: string, source: Record<string, unknown> = {}): LakesyncConfig {
  return fakeDynamoConfig(taskQueue, name, { source, settings: { concurrency: 10 } });
}

const runsOf = (w: FakeWorker, table: string): FakeRun[] =>
  Object.values(w.backend.state.runs)
    .filter((r) => r.table === table)
    .sort((a, b) => a.seq - b.seq);

/** No RDS snapshot or export was started, described or listed. */
function assertNoRdsExport(w: FakeWorker): void {
  for (const call of ['snapshot.start', 'snapshot.describe', 'export.start', 'export.describe', 'discover', 'discover.rows']) {
    assert.equal(w.backend.count(call), 0, `no ${call} call in a DynamoDB cycle`);
  }
}

/** Appends items, then waits past the next whole second: the next cycle's export time (its start, in whole seconds) is after them. */
async function appendItems(w: FakeWorker, items: Record<string, number>): Promise<void> {
  for (const [table, n] of Object.entries(items)) w.backend.appendRows(table, n);
  await delay(1_100);
}

const cycleOf = (s: SourceStatus) => s.recentCycles[0]!.cycleId;

describe('the plan of a DynamoDB cycle (activities, no server)', () => {
  const T = '2026-03-01T12:00:00Z';
  const setup = () => {
    const backend = new FakeBackend({ tables: TABLES, dynamodb: true, rowsPerTable: 10 });
    const config = dynamoConfig('unused', 'ddb');
    return { backend, acts: cycleActivities({ config, portsFor: () => backend.ports() }) };
  };
  const commitOf = (source: string, snapshotTime: string) => ({ rows: 10, snapshot: 1, lastCommit: { icebergSnapshotId: '1', committedAt: snapshotTime, source, exportId: 'lse-x', snapshotTime, cycleId: 'c0' } });

  test("takes no RDS export, reads every table from DynamoDB and plans each from its own lake lineage", async () => {
    const { backend, acts } = setup();
    backend.store.update((s) => {
      s.lake['shop.orders'] = commitOf('ddb', '2026-03-01T11:00:00Z');
      // Committed by another source into the same lake table: not this source's export time.
      s.lake['shop.customers'] = commitOf('other', '2026-03-01T11:30:00Z');
    });
    const scope = await acts.exportScope('ddb', 'c1');
    assert.equal(scope.nothingToExport, true);
    assert.deepEqual({ tables: scope.tables, schemas: scope.schemas }, { tables: [], schemas: [] });
    const discovery = await acts.discoverTables('ddb', 'c1', undefined);
    assert.equal(discovery.tableCount, TABLES.length);
    const described = await backend.ports().manifests.get<{ table: string }[]>(discovery.directManifest!);
    assert.deepEqual(described.map((t) => t.table).sort(), [...TABLES].sort());
    const plan = await acts.planCycle('ddb', 'c1', discovery, { approveDeletes: false, exportTime: T });
    const byTable = Object.fromEntries(plan.load.map((i) => [i.table, i]));
    assert.deepEqual(byTable['dynamodb.orders'], { table: 'dynamodb.orders', lakeTable: 'orders', action: 'merge', extract: 'dynamodb', exports: [{ type: 'INCREMENTAL', from: '2026-03-01T11:00:00Z', to: T }] });
    // Another source's rows: the load would refuse them (OtherSource), so no export is paid for.
    assert.equal(byTable['dynamodb.customers'], undefined, 'no export is planned for a lake table another source holds');
    const other = plan.notLoaded.find((t) => t.table === 'dynamodb.customers');
    assert.equal(other?.status, 'failed');
    assert.equal(other?.error?.type, 'OtherSource');
    assert.match(other?.error?.message ?? '', /lake table shop\.customers holds the rows of source other .*not of source ddb.*lakesync rerun ddb --rebuild dynamodb\.customers/);
    assert.deepEqual(byTable['dynamodb.events']!.exports, [{ type: 'FULL', to: T }]);
    assert.equal(byTable['dynamodb.events']!.action, 'create');
    assertNoRdsCalls(backend);
    // A rebuild takes the table over (a renamed source): a FULL export replaces it.
    const rebuilt = await acts.planCycle('ddb', 'c1r', discovery, { approveDeletes: false, exportTime: T, rebuild: true, requested: ['dynamodb.customers'] });
    const taken = rebuilt.load.find((i) => i.table === 'dynamodb.customers');
    assert.equal(taken?.action, 'replace', JSON.stringify(rebuilt.notLoaded));
    assert.deepEqual(taken?.exports, [{ type: 'FULL', to: T }]);
  });

  test("a lake table whose last commit cannot be read (a refusal of that table) fails its table alone; a retryable failure retries the plan", async () => {
    const { backend, acts } = setup();
    backend.store.update((s) => {
      s.lake['shop.orders'] = commitOf('ddb', '2026-03-01T11:00:00Z');
      s.lake['shop.customers'] = commitOf('ddb', '2026-03-01T11:30:00Z');
    });
    backend.setFailures([{ table: 'shop.orders', phase: 'lineage', times: 'always', retryable: false, message: 'Athena refused the query of shop.orders$snapshots: no SELECT permission' }]);
    const discovery = await acts.discoverTables('ddb', 'c1', undefined);
    const plan = await acts.planCycle('ddb', 'c1', discovery, { approveDeletes: false, exportTime: T });
    const orders = plan.notLoaded.find((t) => t.table === 'dynamodb.orders');
    assert.deepEqual([orders?.status, orders?.error?.type], ['failed', 'LineageUnreadable']);
    assert.match(orders?.error?.message ?? '', /last commit of lake table shop\.orders could not be read.*no SELECT permission/);
    assert.deepEqual(plan.load.map((i) => i.table).sort(), ['dynamodb.customers', 'dynamodb.events']);
    assert.deepEqual(plan.load.find((i) => i.table === 'dynamodb.customers')?.exports, [{ type: 'INCREMENTAL', from: '2026-03-01T11:30:00Z', to: T }]);

    backend.setFailures([{ table: 'shop.orders', phase: 'lineage', times: 'always', retryable: true }]);
    await assert.rejects(acts.planCycle('ddb', 'c2', discovery, { approveDeletes: false, exportTime: T }), /injected lineage failure for shop\.orders/);
  });

  test('a cycle that gives no export time cannot plan a DynamoDB source; an unknown requested table fails with the DynamoDB wording', async () => {
    const { acts } = setup();
    const discovery = await acts.discoverTables('ddb', 'c1', undefined);
    await assert.rejects(acts.planCycle('ddb', 'c1', discovery, { approveDeletes: false }), /needs the cycle's export time/);
    const limited = await acts.discoverTables('ddb', 'c2', undefined, ['dynamodb.orders', 'dynamodb.nope']);
    const plan = await acts.planCycle('ddb', 'c2', limited, { requested: ['dynamodb.orders', 'dynamodb.nope'], exportTime: T });
    const nope = plan.notLoaded.find((t) => t.table === 'dynamodb.nope')!;
    assert.equal(nope.status, 'failed');
    assert.equal(nope.extract, 'dynamodb');
    assert.match(nope.error?.message ?? '', /not a table of the source's DynamoDB \(ListTables does not list it\)/);
    assert.deepEqual(plan.load.map((i) => i.table), ['dynamodb.orders']);
  });

  test('a table source.tables lists that DynamoDB does not describe fails the plan, naming what to check; it is never left out silently', async () => {
    const backend = new FakeBackend({ tables: TABLES, dynamodb: true, rowsPerTable: 10 });
    // source.tables lists a table with a typo: the catalog lists it as configured, DescribeTable does not find it.
    const ports = () => {
      const p = backend.ports();
      return { ...p, discover: { ...p.discover, listTables: async () => [...TABLES, 'dynamodb.custmers'] } };
    };
    const acts = cycleActivities({ config: dynamoConfig('unused', 'ddb'), portsFor: ports });
    const discovery = await acts.discoverTables('ddb', 'c1', undefined);
    const plan = await acts.planCycle('ddb', 'c1', discovery, { approveDeletes: false, exportTime: T });
    const typo = plan.notLoaded.find((t) => t.table === 'dynamodb.custmers');
    assert.ok(typo, `dynamodb.custmers has an outcome: ${JSON.stringify(plan.notLoaded)}`);
    assert.equal(typo.status, 'failed');
    assert.equal(typo.error?.type, 'TableNotDescribed');
    assert.match(typo.error?.message ?? '', /DynamoDB did not describe custmers .*check that the table exists in eu-west-1/);
    assert.deepEqual(plan.load.map((i) => i.table).sort(), [...TABLES].sort());
  });
});

describe('the table export activities (no server)', () => {
  const window = { type: 'FULL' as const, to: '2026-03-01T12:00:00Z' };
  const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof ApplicationFailure, String(err));
      return err;
    }
    assert.fail('expected a failure');
  };

  test("start takes the table's ARN from its plan entry; status is read by the ref", async () => {
    const backend = new FakeBackend({ tables: TABLES, dynamodb: true, rowsPerTable: 10 });
    const deps = { config: dynamoConfig('unused', 'ddb'), portsFor: () => backend.ports() };
    const planRef = await backend.ports().manifests.put('c1/plan.json', [
      { table: 'dynamodb.orders', lakeTable: 'orders', action: 'create', reason: 't', primaryKey: ['id'], keySource: 'source', maxDeleteFraction: 0.5, approveDeletes: false, allowOlderExport: false, extract: { kind: 'dynamodb', tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders', key: [{ name: 'id', type: 'S' }], attributes: {}, exports: [window] } },
      { table: 'dynamodb.events', lakeTable: 'events', action: 'create', reason: 't', primaryKey: ['id'], keySource: 'source', maxDeleteFraction: 0.5, approveDeletes: false, allowOlderExport: false },
    ]);
    const acts = tableExportActivities(deps);
    const ref = await acts.startTableExport({ source: 'ddb', table: 'dynamodb.orders', planRef, exportId: 'lse-0000000000000001', window });
    assert.deepEqual({ exportId: ref.exportId, adopted: ref.adopted }, { exportId: 'lse-0000000000000001', adopted: false });
    assert.equal((await acts.tableExportStatus('ddb', ref)).state, 'in_progress');
    // The fake models the billed bytes: the status says whose figure it is.
    assert.deepEqual(await acts.tableExportStatus('ddb', ref), { state: 'complete', location: 'fake://dynamodb-exports/lse-0000000000000001', itemCount: 10, billedBytes: 1000, modelled: true, costBasis: 'modelled' });
    assert.equal((await acts.startTableExport({ source: 'ddb', table: 'dynamodb.orders', planRef, exportId: 'lse-0000000000000001', window })).adopted, true, 'the same id adopts');

    const notPlanned = await failureOf(acts.startTableExport({ source: 'ddb', table: 'dynamodb.events', planRef, exportId: 'lse-0000000000000002', window }));
    assert.equal(notPlanned.type, 'PlanMismatch');
    assert.match(notPlanned.message, /does not plan it as a DynamoDB table/);
    assert.equal(notPlanned.nonRetryable, true);

    // A lost answer is retryable and names the table and the export; a window DynamoDB refuses is not.
    backend.setFailures([{ table: 'dynamodb.orders', phase: 'export', times: 1, retryable: true, message: 'connection reset' }]);
    const lost = await failureOf(acts.startTableExport({ source: 'ddb', table: 'dynamodb.orders', tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders', exportId: 'lse-0000000000000003', window }));
    assert.equal(lost.nonRetryable, false);
    assert.match(lost.message, /table export failed for dynamodb\.orders \(export lse-0000000000000003, FULL at 2026-03-01T12:00:00Z\): connection reset/);
    const tooLong = await failureOf(
      acts.startTableExport({ source: 'ddb', table: 'dynamodb.orders', tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders', exportId: 'lse-0000000000000004', window: { type: 'INCREMENTAL', from: '2026-02-01T12:00:00Z', to: window.to } }),
    );
    assert.equal(tooLong.nonRetryable, true);
    assert.match(tooLong.message, /outside 1\.\.86400 s/);
  });

  test('a source whose backend has no DynamoDB exports is a configuration error, not retried', async () => {
    const backend = new FakeBackend({ tables: TABLES, rowsPerTable: 10 });
    const acts = tableExportActivities({ config: dynamoConfig('unused', 'ddb'), portsFor: () => backend.ports() });
    const refused = await failureOf(acts.startTableExport({ source: 'ddb', table: 'dynamodb.orders', tableArn: 'arn:x', exportId: 'lse-0000000000000001', window }));
    assert.equal(refused.type, 'ConfigError');
    assert.equal(refused.nonRetryable, true);
    assert.match(refused.message, /source ddb has no DynamoDB exports/);
  });
});

function assertNoRdsCalls(backend: FakeBackend): void {
  for (const call of ['snapshot.start', 'export.start', 'discover']) assert.equal(backend.count(call), 0, `no ${call} call`);
}

describe('DynamoDB sources on a real Temporal server', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  describe('per-table exports and watermarks', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('ddb');
    before(async () => {
      w = await startFakeWorker(dynamoConfig(queue, 'ddb'), { tables: TABLES, dynamodb: true, latencyMs: 20, rowsPerTable: 100 });
    });
    after(async () => w?.stop());

    test('cycle 1 creates every table from a FULL export at the cycle\'s export time; no RDS snapshot or export', async () => {
      const handle = await startSource(w.client, queue, 'ddb');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
      assertNoRdsExport(w);
      assert.equal(first.lastExport, undefined, 'no RDS export to keep');
      assert.equal(first.recentCycles[0]!.exportId, undefined);
      assert.equal(w.backend.count('tableExport.created'), TABLES.length, 'one export per table');
      const times = new Set<string>();
      for (const table of TABLES) {
        const [made, ...more] = w.backend.tableExports(table);
        assert.equal(more.length, 0, `${table}: one export`);
        assert.equal(made!.window.type, 'FULL');
        assert.match(made!.window.to, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'whole seconds');
        times.add(made!.window.to);
        assert.equal(made!.exportId, tableExportIdFor('ddb', cycleOf(first), table, 0));
        const wm = first.ledger[table]!;
        assert.equal(wm.extract, 'dynamodb', table);
        assert.equal(wm.action, 'create');
        assert.equal(wm.exportId, made!.exportId, `${table}: the watermark names its own export`);
        assert.equal(wm.snapshotTime, made!.window.to, `${table}: the export time it reached`);
        const [run] = runsOf(w, table);
        assert.equal(run!.request.plan.extract?.kind, 'dynamodb');
        assert.deepEqual(run!.request.tableExports?.map((e) => e.exportId), [made!.exportId]);
        assert.equal(run!.request.exportId, made!.exportId, 'lineage: the last export');
        assert.equal(run!.request.snapshotTime, made!.window.to);
        assert.equal(run!.request.exportLocation, undefined, 'no RDS export location');
        const outcome = first.lastCycle!.tables.find((t) => t.table === table)!;
        assert.equal(outcome.verified, true, `${table}: verified against the export's item count`);
        assert.equal(w.backend.state.lake[`shop.${table.split('.')[1]}`]!.rows, 100);
      }
      assert.equal(times.size, 1, 'one export time per cycle');
    });

    test('a table whose export fails keeps its watermark while the others advance; it catches up alone from its own export time', async () => {
      const handle = w.client.workflow.getHandle('lakesync/ddb');
      const first = await waitForCycles(handle, 1);
      const t1 = first.ledger['dynamodb.orders']!.snapshotTime;
      await appendItems(w, { 'dynamodb.orders': 5, 'dynamodb.customers': 7, 'dynamodb.events': 3 });
      w.backend.setFailures([{ table: 'dynamodb.customers', phase: 'export', times: 'always', retryable: false, message: 'S3 bucket policy denies the export' }]);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const second = await waitForCycles(handle, 2);
      assert.equal(second.recentCycles[0]!.status, 'partial', JSON.stringify(second.lastCycle));
      const customers = second.lastCycle!.tables.find((t) => t.table === 'dynamodb.customers')!;
      assert.equal(customers.status, 'failed');
      assert.equal(customers.error?.phase, 'export');
      assert.match(customers.error?.message ?? '', /S3 bucket policy denies the export/);
      assert.deepEqual(second.ledger['dynamodb.customers'], { ...first.ledger['dynamodb.customers'], lastError: customers.error!.message }, 'the failed table keeps its watermark');
      assert.equal(second.failed['dynamodb.customers']!.phase, 'export');
      assert.equal(second.failed['dynamodb.customers']!.extract, 'dynamodb');
      assert.equal(second.failed['dynamodb.customers']!.exportId, undefined, 'no RDS export is pinned for its rerun');
      assert.equal(runsOf(w, 'dynamodb.customers').length, 1, 'no load after a failed export');

      const t2 = second.ledger['dynamodb.orders']!.snapshotTime;
      assert.ok(Date.parse(t2) > Date.parse(t1), 'the others advance');
      for (const [table, added] of [['dynamodb.orders', 5], ['dynamodb.events', 3]] as const) {
        const wm = second.ledger[table]!;
        assert.equal(wm.extract, 'dynamodb');
        assert.equal(wm.action, 'merge');
        assert.equal(wm.snapshotTime, t2);
        const run = runsOf(w, table).at(-1)!;
        assert.deepEqual(run.request.tableExports?.map((e) => ({ type: e.window.type, from: e.window.from, to: e.window.to, itemCount: e.itemCount })), [{ type: 'INCREMENTAL', from: t1, to: t2, itemCount: added }]);
        assert.equal(wm.exportId, run.request.tableExports![0]!.exportId);
        assert.equal(w.backend.state.lake[`shop.${table.split('.')[1]}`]!.rows, 100 + added);
        const outcome = second.lastCycle!.tables.find((t) => t.table === table)!;
        assert.equal(outcome.inserted, added);
        assert.equal(outcome.verified, true, `${table}: the lake's count moved by the changes`);
      }

      // Cycle 3: the rerun of the failed table alone, from its own export time.
      w.backend.setFailures([]);
      await appendItems(w, { 'dynamodb.customers': 2, 'dynamodb.orders': 4 });
      const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed', requestedBy: 'test' }] });
      assert.deepEqual(accepted.tables, ['dynamodb.customers']);
      const third = await waitForCycles(handle, 3);
      assert.equal(third.recentCycles[0]!.status, 'succeeded', JSON.stringify(third.lastCycle));
      assert.deepEqual(third.failed, {});
      const run = runsOf(w, 'dynamodb.customers').at(-1)!;
      assert.equal(run.cycleId, cycleOf(third));
      const windows = run.request.tableExports!.map((e) => e.window);
      assert.equal(windows.length, 1);
      assert.equal(windows[0]!.type, 'INCREMENTAL');
      assert.equal(windows[0]!.from, first.ledger['dynamodb.customers']!.snapshotTime, "from its own last commit's export time");
      assert.notEqual(windows[0]!.from, t2, "not the other tables' export time");
      const t3 = windows[0]!.to;
      assert.ok(Date.parse(t3) > Date.parse(t2));
      assert.equal(third.ledger['dynamodb.customers']!.snapshotTime, t3);
      assert.equal(third.ledger['dynamodb.customers']!.action, 'merge');
      assert.equal(w.backend.state.lake['shop.customers']!.rows, 109, 'both cycles of changes, once');
      assert.equal(third.ledger['dynamodb.orders']!.snapshotTime, t2, 'the others were not part of the rerun');
      assert.equal(runsOf(w, 'dynamodb.orders').filter((r) => r.cycleId === cycleOf(third)).length, 0);
      assertNoRdsExport(w);
      // test/core/replay.test.ts replays them against the current workflow code.
      await recordHistories(w.client, 'dynamodb', ['lakesync/ddb']);
    });
  });

  describe('an export that completes without an item count', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('ddbuncounted');
    before(async () => {
      w = await startFakeWorker(dynamoConfig(queue, 'ddbuncounted'), { tables: TABLES, dynamodb: true, latencyMs: 20, rowsPerTable: 100, tableExportsWithoutItemCount: ['dynamodb.events'] });
    });
    after(async () => w?.stop());

    test('fails its table saying which count is missing, where to check it and how to rerun the table; the others load', async () => {
      const handle = await startSource(w.client, queue, 'ddbuncounted');
      const first = await waitForCycles(handle, 1);
      const events = first.lastCycle!.tables.find((t) => t.table === 'dynamodb.events')!;
      assert.equal(events.status, 'failed');
      assert.equal(events.error?.phase, 'export');
      const message = events.error?.message ?? '';
      assert.match(message, /DynamoDB export \S+ of dynamodb\.events \(FULL to [^)]+\) completed without an item count/);
      assert.match(message, /ItemCount/);
      assert.match(message, /fake:\/\/dynamodb-exports\/\S+\/manifest-summary\.json/);
      assert.match(message, /DynamoDB console/);
      assert.match(message, /lakesync rerun ddbuncounted --tables dynamodb\.events/);
      for (const table of ['dynamodb.orders', 'dynamodb.customers']) assert.equal(first.lastCycle!.tables.find((t) => t.table === table)!.status, 'committed', table);
      await handle.terminate('test done').catch(() => undefined);
    });
  });

  describe('a batch that ends without a result', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('ddbdead');
    const [fast, ...slow] = TABLES;
    before(async () => {
      // One table loads at once, the others long enough for the batch to be terminated meanwhile.
      w = await startFakeWorker(dynamoConfig(queue, 'ddbdead'), { tables: TABLES, dynamodb: true, latencyMs: 20, rowsPerTable: 100, latencyMsByTable: Object.fromEntries(slow.map((t) => [t, 20_000])) });
    });
    after(async () => w?.stop());

    test("a table it committed is recovered verified against its exports' item counts and advances its watermark", async () => {
      const handle = await startSource(w.client, queue, 'ddbdead');
      await waitUntil(() => w.backend.count(`load.commit:${fast}`) === 1, 'the fast table committed');
      await delay(2_000);
      const running = await handle.query(statusQuery);
      await w.client.workflow.getHandle(batchWorkflowId(running.currentCycle!.workflowId, 1)).terminate('stuck batch');
      const s = await waitForCycles(handle, 1);
      const byTable = Object.fromEntries(s.lastCycle!.tables.map((t) => [t.table, t]));
      assert.deepEqual([byTable[fast!]!.status, byTable[fast!]!.verified, byTable[fast!]!.error?.message], ['committed', true, undefined]);
      assert.match(byTable[fast!]!.reason ?? '', /^recovered from the lake's lineage/);
      assert.equal(s.ledger[fast!]?.extract, 'dynamodb', 'its watermark advances');
      for (const t of slow) assert.equal(byTable[t]!.status, 'failed', t);
    });
  });

  describe('long exports', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('ddb-long');
    const POLLS = 5;
    before(async () => {
      w = await startFakeWorker(dynamoConfig(queue, 'ddblong'), { tables: TABLES, dynamodb: true, latencyMs: 20, rowsPerTable: 100, tableExportPolls: POLLS });
    });
    after(async () => w?.stop());

    test("an export polled many times adds no event to the batch's history per poll: one activity waits for it", async () => {
      const handle = await startSource(w.client, queue, 'ddblong');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
      for (const table of TABLES) assert.equal(w.backend.tableExports(table)[0]!.described, POLLS + 1, `${table}: polled until complete`);
      const history = await w.client.workflow.getHandle(batchWorkflowId(first.recentCycles[0]!.workflowId, 1)).fetchHistory();
      const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((n) => n !== undefined);
      assert.equal(scheduled.filter((n) => n === 'awaitTableExport').length, TABLES.length, 'one wait per export');
      assert.equal(scheduled.filter((n) => n === 'tableExportStatus').length, 0);
      assert.equal((history.events ?? []).filter((e) => e.timerStartedEventAttributes).length, 0, 'no workflow timer');
    });
  });

  describe('window limits and retried starts', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('ddb-windows');
    before(async () => {
      // Windows of at most 2 s: a gap of a few seconds takes several (up to 30, so that a slow machine's gaps stay incremental).
      w = await startFakeWorker(dynamoConfig(queue, 'ddbwin', { exportWindow: { maxWindows: 30 } }), { tables: TABLES, dynamodb: true, latencyMs: 20, rowsPerTable: 100, windowLimits: { minSeconds: 1, maxSeconds: 2 } });
    });
    after(async () => w?.stop());

    test('a start whose answer was lost is retried and adopts the same export: no second export', async () => {
      w.backend.setFailures([{ table: 'dynamodb.orders', phase: 'export', times: 1, retryable: true, message: 'connection reset after the request was sent' }]);
      const handle = await startSource(w.client, queue, 'ddbwin');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
      assert.equal(w.backend.count('failures.export.dynamodb.orders'), 2, 'the start was tried twice');
      assert.equal(w.backend.count('tableExport.start'), TABLES.length + 1);
      const orders = w.backend.tableExports('dynamodb.orders');
      assert.equal(orders.length, 1, 'one export of orders');
      assert.equal(w.backend.count('tableExport.created'), TABLES.length, 'no second export');
      assert.equal(first.ledger['dynamodb.orders']!.exportId, orders[0]!.exportId);
      assert.deepEqual(runsOf(w, 'dynamodb.orders')[0]!.request.tableExports?.map((e) => e.exportId), [orders[0]!.exportId]);
      w.backend.setFailures([]);
    });

    test('a gap longer than the window limit is split into even windows applied by one load', async () => {
      const handle = w.client.workflow.getHandle('lakesync/ddbwin');
      const first = await waitForCycles(handle, 1);
      const t1 = first.ledger['dynamodb.orders']!.snapshotTime;
      await appendItems(w, { 'dynamodb.orders': 6 });
      await delay(1_000);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const second = await waitForCycles(handle, 2);
      assert.equal(second.recentCycles[0]!.status, 'succeeded', JSON.stringify(second.lastCycle));
      const t2 = second.ledger['dynamodb.orders']!.snapshotTime;
      const gap = (Date.parse(t2) - Date.parse(t1)) / 1000;
      assert.ok(gap > 2, `the gap (${gap} s) is longer than the 2 s limit`);

      const loads = runsOf(w, 'dynamodb.orders').filter((r) => r.cycleId === cycleOf(second));
      assert.equal(loads.length, 1, 'one load applies every window');
      const exports = loads[0]!.request.tableExports!;
      assert.equal(exports.length, Math.ceil(gap / 2), 'ceil(gap / max) windows');
      assert.equal(exports[0]!.window.from, t1, 'from the export time the table reached');
      assert.equal(exports.at(-1)!.window.to, t2, "to the cycle's export time");
      for (const [i, e] of exports.entries()) {
        assert.equal(e.window.type, 'INCREMENTAL');
        const seconds = (Date.parse(e.window.to) - Date.parse(e.window.from!)) / 1000;
        assert.ok(seconds >= 1 && seconds <= 2, `window ${i} is ${seconds} s`);
        if (i > 0) assert.equal(e.window.from, exports[i - 1]!.window.to, 'windows follow each other without gap or overlap');
        assert.equal(e.exportId, tableExportIdFor('ddbwin', cycleOf(second), 'dynamodb.orders', i));
      }
      assert.equal(exports.reduce((n, e) => n + e.itemCount, 0), 6, 'every change in exactly one window');
      assert.equal(second.ledger['dynamodb.orders']!.exportId, exports.at(-1)!.exportId, 'the watermark names the last export');
      assert.equal(w.backend.state.lake['shop.orders']!.rows, 106);
      assert.equal(second.lastCycle!.tables.find((t) => t.table === 'dynamodb.orders')!.verified, true);
      assertNoRdsExport(w);
      await recordHistories(w.client, 'dynamodb-windows', ['lakesync/ddbwin']);
    });

    test("a load that loses items fails verification against the exports' own counts, and only that table", async () => {
      const handle = w.client.workflow.getHandle('lakesync/ddbwin');
      const before = await waitForCycles(handle, 2);
      await appendItems(w, { 'dynamodb.events': 4 });
      // The job reports, and leaves, fewer rows than the lake held plus the changes.
      w.backend.setWrongCounts([{ table: 'dynamodb.events', rowCountAfter: 101 }]);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const third = await waitForCycles(handle, 3);
      w.backend.setWrongCounts([]);
      assert.equal(third.recentCycles[0]!.status, 'partial', JSON.stringify(third.lastCycle));
      const events = third.lastCycle!.tables.find((t) => t.table === 'dynamodb.events')!;
      assert.equal(events.status, 'failed');
      assert.equal(events.error?.phase, 'verify');
      assert.match(events.error?.message ?? '', /expected 4, got 1/);
      assert.match(events.error?.message ?? '', /at most 4 \(the exports' change records\)/);
      assert.equal(third.ledger['dynamodb.events']!.snapshotTime, before.ledger['dynamodb.events']!.snapshotTime, 'its watermark stays');
      assert.equal(third.failed['dynamodb.events']!.extract, 'dynamodb');
      assert.ok(Date.parse(third.ledger['dynamodb.orders']!.snapshotTime) > Date.parse(before.ledger['dynamodb.orders']!.snapshotTime), 'the others advance');
    });

    test("the table's error is its first failed export, not a later export's failed wait", async () => {
      const handle = w.client.workflow.getHandle('lakesync/ddbwin');
      const before = await waitForCycles(handle, 3);
      await appendItems(w, { 'dynamodb.orders': 2 });
      await delay(2_500);
      // The first window's export ends FAILED (its first describe finds it running, the second failed); describing the next one fails for good.
      const seen = (phase: string) => w.backend.count(`failures.${phase}.dynamodb.orders`);
      w.backend.setFailures([
        { table: 'dynamodb.orders', phase: 'export', times: 1, after: seen('export'), retryable: false, message: 'S3 bucket policy denies the export' },
        { table: 'dynamodb.orders', phase: 'export-status', times: 'always', after: seen('export-status') + 2, retryable: false, message: 'AccessDeniedException on DescribeExport' },
      ]);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const fourth = await waitForCycles(handle, 4);
      w.backend.setFailures([]);
      const orders = fourth.lastCycle!.tables.find((t) => t.table === 'dynamodb.orders')!;
      assert.ok(w.backend.tableExports('dynamodb.orders').filter((e) => e.window.from && Date.parse(e.window.from) >= Date.parse(before.ledger['dynamodb.orders']!.snapshotTime)).length >= 2, 'the gap took several windows');
      assert.equal(orders.status, 'failed');
      assert.equal(orders.error?.phase, 'export');
      assert.match(orders.error?.message ?? '', /S3 bucket policy denies the export/);
      assert.doesNotMatch(orders.error?.message ?? '', /DescribeExport/);
      assert.equal(fourth.ledger['dynamodb.orders']!.snapshotTime, before.ledger['dynamodb.orders']!.snapshotTime, 'its watermark stays');
    });
  });
});
