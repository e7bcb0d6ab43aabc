/**
 * Signals from other services: a signal cannot be refused, so whatever it carries the source
 * workflow goes on; on a source whose tables are all read directly (it never takes an export, and
 * its reruns need none) a signalled rerun runs as a rerun with its approvals.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Client, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { FakeBackend } from '../../src/fake/ports';
import { connectClient, temporalTarget } from '../../src/temporal';
import { workflowBundle } from '../../src/workflow-bundle';
import { recordHistories } from '../helpers/histories';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { FakeRun } from '../../src/fake/state';
import { sourceWorkflowId } from '../../src/ids';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { QUEUE_LIMIT } from '../../src/workflows/ledger';
import { requestRerunSignal, requestSyncSignal, SOURCE_WORKFLOW_TYPE, syncUpdate } from '../../src/workflows/messages';
import { fakeConfig, quietTemporalLogs, startFakeWorker, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { rerunUpdate } from '../../src/workflows/messages';
import { startSource, status, waitForCycles, waitForStatus } from '../helpers/source';
import { waitUntil } from '../helpers/within';

/** How many signals the flooding service sends. */
const FLOOD = 2_000;

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

  test('a request with a field the source does not know (a misspelt "table") is refused or dropped naming it, and syncs nothing: it was a sync of every table', async () => {
    // The source of the test before, or a new one when this test runs alone.
    const running = w.client.workflow.getHandle(sourceWorkflowId('baresignal'));
    const handle = (await running.describe().then((d) => d.status.name === 'RUNNING', () => false)) ? running : await startSource(w.client, queue, 'baresignal');
    const before = (await waitForCycles(handle, 1)).recentCycles.length;
    const refused = (err: Error) => /unknown field "table"/.test(`${err.message} ${(err.cause as Error | undefined)?.message}`) && /tables, requestId, requestedBy/.test(`${err.message} ${(err.cause as Error | undefined)?.message}`);
    await assert.rejects(handle.executeUpdate(syncUpdate, { args: [{ table: ['public.t0001'], requestId: 'svc-typo' } as never] }), refused);
    await assert.rejects(handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDelete: true, requestId: 'svc-typo-rerun' } as never] }), (err: Error) => /unknown field "approveDelete"/.test(`${err.message} ${(err.cause as Error | undefined)?.message}`));
    await handle.signal('requestSync', { table: ['public.t0001'], requestId: 'svc-typo-signal' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'svc-after' });
    const next = await waitForCycles(handle, before + 1, 30_000);
    assert.deepEqual(next.recentCycles[0]!.requestIds, ['svc-after'], 'the misspelt sync was not served');
    assert.equal(next.recentCycles[0]!.counts.committed, 1, 'only the table asked');
    const dropped = next.ignoredRequests.find((r) => r.requestId === 'svc-typo-signal');
    assert.match(dropped?.reason ?? '', /unknown field "table"/, JSON.stringify(next.ignoredRequests));
  });

  test('a flood of dropped signals without requestedBy is kept as one counted entry: the other senders\' dropped requests stay in the status', async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId('baresignal'));
    // Two named senders and one unnamed one whose requests are dropped, then a service in a loop that names no sender.
    await handle.signal('requestRerun', { requestId: 'billing-1', requestedBy: 'billing' });
    await handle.signal('requestSync', { tables: 'public.t0001', requestId: 'ops-1', requestedBy: 'ops' });
    await handle.signal('requestSync', { tables: 7, requestId: 'anon-1' });
    const flood = 30;
    for (let i = 0; i < flood; i++) await handle.signal('requestRerun', { requestId: `loop-${i}` });
    const s = await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestId === `loop-${flood - 1}`), 30_000);
    const loop = s.ignoredRequests.find((r) => r.requestId === `loop-${flood - 1}`)!;
    assert.ok((loop.times ?? 1) >= flood, `the flood is one entry, counted: ${JSON.stringify(s.ignoredRequests.slice(0, 3))}`);
    assert.equal(loop.earlierRequestIds?.[0], `loop-${flood - 2}`, 'its waiters still find their ids');
    assert.equal(s.ignoredRequests.filter((r) => r.requestId?.startsWith('loop-')).length, 1);
    for (const id of ['billing-1', 'ops-1', 'anon-1']) assert.ok(s.ignoredRequests.some((r) => r.requestId === id), `${id} is still shown: ${JSON.stringify(s.ignoredRequests.map((r) => r.requestId))}`);
    assert.equal(s.ignoredRequests.find((r) => r.requestId === 'billing-1')!.times, undefined, 'a named sender keeps its own entry');
  });
});

describe('a repeated signal, and one naming an unknown table', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('repeat-signal');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, 'repeatsignal'), { tables: 3, latencyMs: 1_500 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('a rerun signal sent again with its request id (a sender retrying a lost answer) runs once, while its cycle runs and after', async () => {
    const table = 'public.t0002';
    w.backend.setFailures([{ table, phase: 'load', times: 'always', retryable: false, message: 'boom' }]);
    const handle = await startSource(w.client, queue, 'repeatsignal');
    await waitForCycles(handle, 1);
    w.backend.setFailures([]);
    const request = { tables: [table], requestId: 'svc-42', requestedBy: 'billing' };
    await handle.signal(requestRerunSignal, request);
    await waitUntil(async () => (await status(handle)).currentCycle?.kind === 'rerun', 'the rerun cycle to run');
    await handle.signal(requestRerunSignal, request);
    const served = await waitForCycles(handle, 2, 60_000);
    await handle.signal(requestRerunSignal, request);
    // A sync after the repeats: once its cycle is done, every signal before it was handled.
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'svc-43' });
    const s = await waitForCycles(handle, 3, 60_000);
    assert.equal(served.recentCycles[0]!.status, 'succeeded');
    assert.deepEqual(s.recentCycles.filter((c) => c.requestIds.includes('svc-42')).map((c) => c.kind), ['rerun'], 'one request id, one rerun');
    assert.deepEqual(s.recentCycles[0]!.requestIds, ['svc-43']);
    assert.deepEqual(s.ignoredRequests.map((r) => [r.kind, r.requestId, /already received/.test(r.reason)]), [['rerun', 'svc-42', true], ['rerun', 'svc-42', true]]);
    assert.equal(w.backend.count(`load.start:${table}`), 2, 'the first cycle and the one rerun');

    // A sync signal naming a table the source does not have takes no snapshot and no export.
    const snapshots = w.backend.count('snapshot.start');
    await handle.signal(requestSyncSignal, { tables: ['public.no_such_table'], requestId: 'typo-1' });
    await handle.signal(requestSyncSignal, { tables: ['public.t0003'], requestId: 'svc-44' });
    const after = await waitForCycles(handle, 4, 60_000);
    assert.deepEqual(after.recentCycles[0]!.requestIds, ['svc-44']);
    assert.equal(w.backend.count('snapshot.start') - snapshots, 1, 'one snapshot, for svc-44');
    assert.match(after.ignoredRequests[0]!.reason, /^unknown table\(s\) public.no_such_table: the source's tables are public.t0001, public.t0002, public.t0003$/);
    assert.equal(after.ignoredRequests[0]!.requestId, 'typo-1');
  });
});

describe('a rerun of the failed tables asked while they are rerun', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('failed-twice');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, 'failedtwice'), { tables: 3, latencyMs: 1_500 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('reruns only the tables still failed when it is served: one the running rerun loaded is not loaded again', async () => {
    const table = 'public.t0002';
    w.backend.setFailures([{ table, phase: 'load', times: 'always', retryable: false, message: 'boom' }]);
    const handle = await startSource(w.client, queue, 'failedtwice');
    await waitForCycles(handle, 1);
    w.backend.setFailures([]);
    // An operator's rerun of the failed tables, then a schedule's hourly one while it runs.
    await handle.signal(requestRerunSignal, { tables: 'failed', requestId: 'ops-1', requestedBy: 'ops' });
    await waitUntil(async () => (await status(handle)).currentCycle?.kind === 'rerun', 'the rerun cycle to run');
    await handle.signal(requestRerunSignal, { tables: 'failed', requestId: 'sched-1', requestedBy: 'schedule' });
    // Another sender's rerun of the failed tables right behind it: served with it, and dropped with it under its own sender.
    await handle.signal(requestRerunSignal, { tables: 'failed', requestId: 'billing-1', requestedBy: 'billing' });
    // A sync after it: once its cycle is done, the scheduled rerun was handled.
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'svc-1' });
    await waitForStatus(handle, (s) => s.recentCycles.some((c) => c.requestIds.includes('svc-1')) && s.phase === 'idle', 60_000);
    const s = await status(handle);
    assert.equal(w.backend.count(`load.start:${table}`), 2, 'the first cycle and the one rerun');
    assert.deepEqual(s.recentCycles.map((c) => [c.kind, c.requestIds]), [['sync', ['svc-1']], ['rerun', ['ops-1']], ['sync', [s.recentCycles.at(-1)!.requestIds[0]]]]);
    const reason = `the failed tables it named fail no more (${table}): a cycle loaded them since it was asked, or they left the source; nothing to rerun`;
    assert.deepEqual(
      s.ignoredRequests.map((r) => [r.requestId, r.requestedBy, r.reason]),
      [
        ['billing-1', 'billing', reason],
        ['sched-1', 'schedule', reason],
      ],
    );
  });
});

describe('a flood of signals from a service in a loop', () => {
  let dir: string;
  let server: DevServer;
  let w: FakeWorker;
  const queue = uniqueQueue('flood');
  const SOURCE = 'floodsignal';
  before(async () => {
    quietTemporalLogs();
    dir = mkdtempSync(join(tmpdir(), 'lakesync-flood-'));
    // The server suggests continue-as-new after a few events: the source continues after every cycle.
    server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES, extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=10'] });
    process.env.TEMPORAL_ADDRESS = server.address;
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, SOURCE), { tables: 3, latencyMs: 3_000 });
  });
  after(async () => {
    await w?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('each request id runs once, none is lost across continue-as-new, and every run stays short', async () => {
    const handle = await startSource(w.client, queue, SOURCE);
    await waitForCycles(handle, 1);
    const ids = new Set<string>();
    const sends: (() => Promise<void>)[] = [];
    for (let i = 0; i < FLOOD; i++) {
      // Three kinds in turn, so that they do not all coalesce into one cycle; each request id sent many times.
      const round = Math.floor(i / (FLOOD / 4));
      const requestId = `svc-${round}-${i % 25}`;
      ids.add(requestId);
      sends.push(() =>
        round % 2 === 0
          ? handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId, requestedBy: 'loop' })
          : handle.signal(requestRerunSignal, { tables: ['public.t0002'], requestId, requestedBy: 'loop' }),
      );
    }
    for (let i = 0; i < sends.length; i += 50) await Promise.all(sends.slice(i, i + 50).map((s) => s()));
    const s = await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0 && [...ids].every((id) => st.recentCycles.some((c) => c.requestIds.includes(id))), 300_000);
    const served = s.recentCycles.flatMap((c) => c.requestIds).filter((id) => id.startsWith('svc-'));
    assert.deepEqual([...served].sort(), [...ids].sort(), 'every request id served once');
    const runs: { runId: string; events: number }[] = [];
    for await (const r of w.client.workflow.list({ query: `WorkflowId = '${sourceWorkflowId(SOURCE)}'` })) runs.push({ runId: r.runId, events: r.historyLength });
    assert.ok(runs.every((r) => r.events < 12_000), JSON.stringify(runs));
  });

  test(`past ${QUEUE_LIMIT} queued requests, a signal is dropped and an update refused, saying why; the queued ones are served`, async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    const before = await status(handle);
    // A long cycle keeps the queue from being served while the service floods it.
    w.backend.setLatencyByTable({ 'public.t0003': 30_000 });
    const loads = w.backend.count('load.start:public.t0003');
    await handle.signal(requestSyncSignal, { tables: ['public.t0003'], requestId: 'long' });
    await waitUntil(async () => w.backend.count('load.start:public.t0003') > loads, 'the long load to start');
    w.backend.setLatencyByTable({});
    const over = 40;
    const sends: (() => Promise<void>)[] = [];
    for (let i = 0; i < QUEUE_LIMIT + over; i++) sends.push(() => handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: `many-${i}`, requestedBy: 'looping-svc' }));
    for (let i = 0; i < sends.length; i += 50) await Promise.all(sends.slice(i, i + 50).map((s) => s()));
    // One entry for the sender's dropped signals, counted.
    const full = await waitForStatus(handle, (st) => st.ignoredRequests.some((r) => r.requestedBy === 'looping-svc' && r.times === over), 60_000);
    assert.equal(full.phase, 'running', 'the long cycle still runs');
    assert.equal(full.queue.length, QUEUE_LIMIT);
    const dropped = full.ignoredRequests.find((r) => r.requestedBy === 'looping-svc')!;
    const queued = new Set(full.queue.map((q) => q.requestId));
    for (const id of [dropped.requestId!, ...dropped.earlierRequestIds!]) assert.ok(!queued.has(id) && /^many-\d+$/.test(id), id);
    assert.match(dropped.reason, new RegExp(`^the source's queue holds ${QUEUE_LIMIT} requests, the most it keeps`));
    await assert.rejects(handle.executeUpdate(syncUpdate, { args: [{ tables: ['public.t0002'], requestId: 'one-more' }] }), (err: Error) => /the most it keeps/.test(`${err.message} ${(err.cause as Error | undefined)?.message}`));
    const s = await waitForStatus(handle, (st) => st.phase === 'idle' && st.queue.length === 0 && st.recentCycles.some((c) => c.requestIds.includes(`many-${QUEUE_LIMIT - 1}`)), 180_000);
    assert.equal(s.recentCycles.length - before.recentCycles.length, 2, 'the long cycle, then one cycle for the queued syncs');
    assert.equal(s.recentCycles[0]!.requestIds.length, QUEUE_LIMIT);
  });
});

describe('a rerun of a table the worker\'s config excludes', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('excluded-rerun');
  const SOURCE = 'excludedrerun';
  const table = 'public.t0003';
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, { exclude: [table] }, SOURCE), { tables: 3 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('is dropped with the table, its rule and what to do, and runs no cycle; once the config includes it again, its rerun runs', async () => {
    const handle = await startSource(w.client, queue, SOURCE);
    await waitForCycles(handle, 1);
    await handle.signal(requestRerunSignal, { tables: [table], requestId: 'ops-1', requestedBy: 'ops' });
    // The update is refused with the reason, as the CLI's rerun asks it.
    const refused = await handle.executeUpdate(rerunUpdate, { args: [{ tables: [table], requestId: 'ops-2', requestedBy: 'ops-cli' }] }).then(
      (accepted) => `accepted ${JSON.stringify(accepted)}`,
      (err: unknown) => (err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err)),
    );
    await handle.signal(requestSyncSignal, { tables: ['public.t0001'], requestId: 'svc-1' });
    const s = await waitForStatus(handle, (x) => x.recentCycles.some((c) => c.requestIds.includes('svc-1')) && x.phase === 'idle', 60_000);
    assert.deepEqual(s.recentCycles.map((c) => [c.kind, c.requestIds]), [['sync', ['svc-1']], ['sync', [s.recentCycles.at(-1)!.requestIds[0]]]]);
    const reason = `${table} is excluded by the worker's config (exclude ${table}): a rerun loads only tables the config includes; include it in lakesync.yaml (include and exclude of source ${SOURCE}) and restart the worker, then ask again`;
    assert.equal(refused, reason);
    assert.deepEqual(
      s.ignoredRequests.map((r) => [r.requestId, r.requestedBy, r.reason]),
      [['ops-1', 'ops', reason]],
    );
    assert.equal(w.backend.count(`load.start:${table}`), 0);

    // The config includes the table again: the check reads the worker's config of now.
    await w.stop();
    w = await startWorkerOver(fakeConfig(queue, { tables: 3 }, {}, SOURCE), w.backend);
    const again = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    await again.signal(requestRerunSignal, { tables: [table], requestId: 'ops-3', requestedBy: 'ops' });
    const after = await waitForStatus(again, (x) => x.recentCycles.some((c) => c.requestIds.includes('ops-3')) && x.phase === 'idle', 60_000);
    assert.equal(after.recentCycles[0]!.kind, 'rerun');
    assert.equal(after.lastCycle!.tables.find((t) => t.table === table)?.status, 'committed', JSON.stringify(after.lastCycle));
  });

  test('a sync of named tables (a Schedule\'s --tables) that the worker\'s config now all excludes is dropped with the reason, taking no snapshot; one naming an included table runs', async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    // Every table synced while the config includes them all: the source knows the table.
    await handle.signal(requestSyncSignal, { requestId: 'all-1' });
    const known = await waitForStatus(handle, (x) => x.recentCycles.some((c) => c.requestIds.includes('all-1')) && x.phase === 'idle', 60_000);
    assert.equal(known.lastCycle!.tables.find((t) => t.table === table)?.status, 'committed', JSON.stringify(known.lastCycle));
    await w.stop();
    w = await startWorkerOver(fakeConfig(queue, { tables: 3 }, { exclude: [table] }, SOURCE), w.backend);
    const again = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    await again.signal(requestSyncSignal, { tables: [table], requestId: 'nightly@fire-1', requestedBy: 'schedule nightly' });
    const s = await waitForStatus(again, (x) => x.phase === 'idle' && (x.recentCycles.some((c) => c.requestIds.includes('nightly@fire-1')) || x.ignoredRequests.some((r) => r.requestId === 'nightly@fire-1')), 60_000);
    assert.equal(s.recentCycles.length, known.recentCycles.length, `a cycle ran for it: ${JSON.stringify(s.recentCycles[0])}`);
    assert.equal(
      s.ignoredRequests.find((r) => r.requestId === 'nightly@fire-1')?.reason,
      `${table} is excluded by the worker's config (exclude ${table}): a sync loads only tables the config includes; include it in lakesync.yaml (include and exclude of source ${SOURCE}) and restart the worker, then ask again`,
    );
    await again.signal(requestSyncSignal, { tables: [table, 'public.t0001'], requestId: 'nightly@fire-2', requestedBy: 'schedule nightly' });
    const ran = await waitForStatus(again, (x) => x.recentCycles.some((c) => c.requestIds.includes('nightly@fire-2')) && x.phase === 'idle', 60_000);
    assert.equal(ran.lastCycle!.tables.find((t) => t.table === 'public.t0001')?.status, 'committed', JSON.stringify(ran.lastCycle));
  });
});

describe('a rerun update while its check against the worker\'s config is under way', () => {
  let env: TestServer;
  const SOURCE = 'checkingrerun';
  const queue = uniqueQueue('checking-rerun');
  const excluded = 'public.t0003';
  const config = fakeConfig(queue, { tables: 3 }, { exclude: [excluded] }, SOURCE);
  const backend = new FakeBackend({ tables: 3 });
  /** While set, each excludedTables call waits for it (the check stays under way until the test releases it). */
  let gate: { promise: Promise<void>; release(): void } | undefined;
  let calls = 0;
  const arm = () => {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    gate = { promise, release };
    return gate;
  };
  let workflows: Worker, activities: Worker, running: Promise<unknown>, client: Client, connection: NativeConnection;
  before(async () => {
    env = await startTestServer();
    const target = temporalTarget(config);
    connection = await NativeConnection.connect(target.connect);
    client = await connectClient(target);
    const ports = backend.ports();
    const real = createActivities({ config, searchAttributes: false, portsFor: () => ports }, async () => client);
    const excludedTables: typeof real.excludedTables = async (source, tables) => {
      calls++;
      await gate?.promise;
      return real.excludedTables(source, tables);
    };
    workflows = await Worker.create({ connection, taskQueue: target.taskQueue, workflowBundle: await workflowBundle() });
    activities = await Worker.create({ connection, taskQueue: target.taskQueue, activities: { ...real, excludedTables }, shutdownGraceTime: '1s' });
    running = Promise.all([workflows.run(), activities.run()]);
  });
  after(async () => {
    gate?.release();
    workflows?.shutdown();
    activities?.shutdown();
    await running;
    await client?.connection.close();
    await connection?.close();
    await env?.close();
  });
  const answer = <T>(p: Promise<T>) => p.then((value) => ({ value }), (err: unknown) => ({ refused: err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err) }));
  const checksStarted = (n: number) => waitUntil(() => calls >= n, `${n} check(s) of the worker's config to start`);

  test('a copy resent with the same requestId gets the answer of the first, accepted or refused, and the rerun runs once', async () => {
    const handle = await startSource(client, queue, SOURCE);
    await waitForCycles(handle, 1);
    const cycles = (await status(handle)).recentCycles.length;

    const g = arm();
    const before = calls;
    const first = await handle.startUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'svc-resent', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await checksStarted(before + 1);
    // The service lost the answer and sends the same request again while the first is checked.
    const resent = await handle.startUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'svc-resent', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const firstRefused = await handle.startUpdate(rerunUpdate, { args: [{ tables: [excluded], requestId: 'svc-excluded', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await checksStarted(before + 2);
    const resentRefused = await handle.startUpdate(rerunUpdate, { args: [{ tables: [excluded], requestId: 'svc-excluded', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    g.release();
    gate = undefined;
    const [a1, a2, r1, r2] = await Promise.all([answer(first.result()), answer(resent.result()), answer(firstRefused.result()), answer(resentRefused.result())]);
    assert.deepEqual(a1, { value: { requestId: 'svc-resent', tables: ['public.t0001'], queuedBehind: 0 } });
    assert.deepEqual(a2, a1, 'the resent copy was not answered as the first');
    assert.match((r1 as { refused?: string }).refused ?? JSON.stringify(r1), /is excluded by the worker's config/);
    assert.deepEqual(r2, r1, 'the resent copy of the refused request was not answered as the first');
    const s = await waitForStatus(handle, (x) => x.phase === 'idle' && x.recentCycles.some((c) => c.requestIds.includes('svc-resent')), 60_000);
    assert.equal(s.recentCycles.length, cycles + 1, `the rerun ran other than once: ${JSON.stringify(s.recentCycles.map((c) => c.requestIds))}`);
    assert.deepEqual(s.queue, []);
    await recordHistories(client, 'rerun-resent-while-checked', [sourceWorkflowId(SOURCE)]);
  });

  test('a sync update of tables the config all excludes is refused, a copy resent meanwhile too; one of included tables is accepted, its copy answered alike', async () => {
    const handle = client.workflow.getHandle(sourceWorkflowId(SOURCE));
    await waitForStatus(handle, (x) => x.phase === 'idle' && x.queue.length === 0, 60_000);
    const g = arm();
    const before = calls;
    const refused = await handle.startUpdate(syncUpdate, { args: [{ tables: [excluded], requestId: 'sync-excluded', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await checksStarted(before + 1);
    const refusedAgain = await handle.startUpdate(syncUpdate, { args: [{ tables: [excluded], requestId: 'sync-excluded', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const ok = await handle.startUpdate(syncUpdate, { args: [{ tables: ['public.t0002'], requestId: 'sync-included', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await checksStarted(before + 2);
    const okAgain = await handle.startUpdate(syncUpdate, { args: [{ tables: ['public.t0002'], requestId: 'sync-included', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    g.release();
    gate = undefined;
    const [r1, r2, a1, a2] = await Promise.all([answer(refused.result()), answer(refusedAgain.result()), answer(ok.result()), answer(okAgain.result())]);
    assert.equal((r1 as { refused?: string }).refused, `${excluded} is excluded by the worker's config (exclude ${excluded}): a sync loads only tables the config includes; include it in lakesync.yaml (include and exclude of source ${SOURCE}) and restart the worker, then ask again`);
    assert.deepEqual(r2, r1);
    assert.deepEqual(a1, { value: { requestId: 'sync-included', tables: ['public.t0002'], queuedBehind: 1 } });
    assert.deepEqual(a2, a1);
    const s = await waitForStatus(handle, (x) => x.phase === 'idle' && x.recentCycles.some((c) => c.requestIds.includes('sync-included')), 60_000);
    assert.equal(s.recentCycles.filter((c) => c.requestIds.includes('sync-included')).length, 1);
    assert.ok(!s.recentCycles.some((c) => c.requestIds.includes('sync-excluded')), 'the refused sync ran');
    assert.ok(!s.ignoredRequests.some((r) => r.requestId === 'sync-excluded'), 'the refused sync was also queued and dropped');
  });

  test('cancelled while a rerun update is checked, the source ends cancelled; the requests queued before are served by its next start', async () => {
    const handle = client.workflow.getHandle(sourceWorkflowId(SOURCE));
    const idle = await waitForStatus(handle, (x) => x.phase === 'idle' && x.queue.length === 0, 60_000);
    const cycles = idle.recentCycles.length;
    const g = arm();
    const before = calls;
    // A sync of a named table is checked when served: the source waits for that check, and requests queue behind it.
    await handle.signal(requestSyncSignal, { tables: ['public.t0002'], requestId: 'kept-sync', requestedBy: 'svc' });
    await checksStarted(before + 1);
    await handle.signal(requestSyncSignal, { requestId: 'kept-all', requestedBy: 'svc' });
    const rerun = await handle.startUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], requestId: 'rerun-cancelled', requestedBy: 'svc' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await checksStarted(before + 2);
    const queued = await status(handle);
    assert.deepEqual(queued.queue.map((q) => q.requestId), ['kept-sync', 'kept-all', 'rerun-cancelled']);
    await handle.cancel();
    const ended = await answer(handle.result());
    g.release();
    gate = undefined;
    assert.match((ended as { refused?: string }).refused ?? JSON.stringify(ended), /cancel/i);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    const rerunAnswer = await answer(rerun.result());
    assert.equal(
      (rerunAnswer as { refused?: string }).refused ?? JSON.stringify(rerunAnswer),
      `source ${SOURCE} was cancelled while rerun rerun-cancelled was checked against the worker's config: it was not queued; start the source again (lakesync sync ${SOURCE}), then send the rerun again`,
    );

    // The next start takes up the cancelled run's queue.
    const next = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, syncOnStart: false }] });
    const s = await waitForStatus(next, (x) => x.phase === 'idle' && x.queue.length === 0 && x.recentCycles.some((c) => c.requestIds.includes('kept-all')), 60_000);
    const served = s.recentCycles.slice(0, s.recentCycles.length - cycles).flatMap((c) => c.requestIds);
    assert.deepEqual(served.sort(), ['kept-all', 'kept-sync'], `served after the cancel: ${JSON.stringify(s.recentCycles.map((c) => c.requestIds))}`);
    await recordHistories(client, 'rerun-check-cancelled', [sourceWorkflowId(SOURCE)]);
    await next.terminate('test done');
  });
});
