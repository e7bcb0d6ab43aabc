/**
 * The sync core on a real Temporal dev server with fake ports: per-table isolation, watermarks,
 * reruns that reuse the export, adoption of existing snapshots/exports, queued requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId, WorkflowUpdateFailedError } from '@temporalio/client';
import { fakeTableNames } from '../../src/fake/ports';
import type { FakeRun } from '../../src/fake/state';
import { exportIdFor } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { requestSyncSignal, rerunUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, status, waitForCycles, waitForStatus } from '../helpers/source';

const TABLES = fakeTableNames(20);
/** Visibility is eventually consistent: list until the query finds something (or 10 s pass). */
async function listWithRetry(w: FakeWorker, query: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const ids: string[] = [];
    for await (const wf of w.client.workflow.list({ query })) ids.push(wf.workflowId);
    if (ids.length > 0) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
  return [];
}
const causeMessage = (err: Error): string => String((err.cause as Error | undefined)?.message);
/** The newest load run of a table in the fake backend. */
const newestRun = (w: FakeWorker, table: string): FakeRun | undefined =>
  Object.values(w.backend.state.runs)
    .filter((r) => r.table === table)
    .sort((a, b) => b.seq - a.seq)[0];
const exportOfRun = (run: FakeRun | undefined): string | undefined => run?.request.exportLocation?.replace('fake://exports/', '');
const FAILING = ['public.t0003', 'public.t0011', 'public.t0017'];

describe('sync core on a real Temporal server', () => {
  let env: TestServer;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => env?.close());

  describe('20 tables, 3 failing in load', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('partial');
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 20 }, {}, 'partial'), { tables: 20, latencyMs: 50 });
    });
    after(async () => w?.stop());

    test('a failing cycle ends partial: 17 watermarks advance, 3 keep their old value', async () => {
      const handle = await startSource(w.client, queue, 'partial');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'succeeded');
      assert.equal(Object.keys(first.ledger).length, 20);
      const before = first.ledger;

      w.backend.setFailures(FAILING.map((table) => ({ table, phase: 'load' as const, times: 'always' as const, retryable: false, message: `column amount cannot be cast in ${table}` })));
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const second = await waitForCycles(handle, 2);

      assert.equal(second.recentCycles[0]!.status, 'partial');
      assert.deepEqual(second.recentCycles[0]!.counts, { committed: 17, failed: 3, skipped: 0 });
      for (const table of TABLES) {
        const wm = second.ledger[table]!;
        if (FAILING.includes(table)) {
          assert.equal(wm.exportId, before[table]!.exportId, `${table} keeps its old export`);
          assert.equal(wm.icebergSnapshotId, before[table]!.icebergSnapshotId, `${table} keeps its old snapshot`);
          assert.match(wm.lastError ?? '', /cannot be cast/);
        } else {
          assert.notEqual(wm.exportId, before[table]!.exportId, `${table} advances to the new export`);
          assert.equal(wm.lastError, null);
        }
      }
      // The status query shows each failed table with its phase and error.
      const failed = second.lastCycle!.tables.filter((t) => t.status === 'failed');
      assert.deepEqual(failed.map((t) => t.table).sort(), FAILING);
      for (const t of failed) {
        assert.equal(t.error?.phase, 'load');
        assert.equal(t.error?.type, 'SchemaConflict');
        assert.match(t.error?.message ?? '', new RegExp(`load of ${t.table.replace('.', '\\.')} failed`));
      }
      assert.deepEqual(Object.keys(second.failed).sort(), FAILING);
      // The UI can list partial cycles by search attribute.
      const partialCycles = await listWithRetry(w, `LakesyncCycleStatus = "partial" AND LakesyncSource = "partial" AND WorkflowType = "cycleWorkflow"`);
      assert.deepEqual(partialCycles, [second.recentCycles[0]!.workflowId]);
      const sources = await listWithRetry(w, `LakesyncFailedTables = 3 AND WorkflowType = "sourceWorkflow"`);
      assert.deepEqual(sources, ['lakesync/partial']);
      const batch = await w.client.workflow.getHandle(`${second.recentCycles[0]!.workflowId}/batch-1`).describe();
      assert.equal(await batch.staticSummary(), 'partial: tables 1-20 of 20');
      // A non-retryable failure is not retried: one load run each.
      for (const t of FAILING) assert.equal(w.backend.count(`load.start:${t}`), 2, `${t}: cycle 1 + one failed attempt`);
    });

    test('rerun of the failed tables loads only those 3 and reuses the snapshot and export', async () => {
      const handle = w.client.workflow.getHandle('lakesync/partial');
      const snapshotCalls = w.backend.count('snapshot.start') + w.backend.count('snapshot.describe');
      const exportCalls = w.backend.count('export.start') + w.backend.count('export.describe');
      const startsBefore = Object.fromEntries(TABLES.map((t) => [t, w.backend.count(`load.start:${t}`)]));
      w.backend.setFailures([]);

      const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed' }] });
      assert.deepEqual(accepted.tables, FAILING);
      const third = await waitForCycles(handle, 3);

      assert.equal(third.recentCycles[0]!.kind, 'rerun');
      assert.equal(third.recentCycles[0]!.status, 'succeeded');
      assert.deepEqual(third.recentCycles[0]!.requestIds, [accepted.requestId]);
      assert.equal(third.recentCycles[0]!.exportId, third.recentCycles[1]!.exportId, 'the rerun used the previous export');
      assert.equal(w.backend.count('snapshot.start') + w.backend.count('snapshot.describe'), snapshotCalls, 'no snapshot call');
      assert.equal(w.backend.count('export.start') + w.backend.count('export.describe'), exportCalls, 'no export call');
      for (const t of TABLES) {
        const extra = w.backend.count(`load.start:${t}`) - startsBefore[t]!;
        assert.equal(extra, FAILING.includes(t) ? 1 : 0, `${t} loads ${FAILING.includes(t) ? 'once' : 'not at all'}`);
      }
      assert.deepEqual(third.failed, {});
      for (const t of FAILING) assert.equal(third.ledger[t]!.exportId, third.recentCycles[0]!.exportId);
      await recordHistories(w.client, 'partial-and-rerun', ['lakesync/partial']);
    });

    test('rerun rejects unknown tables before anything runs', async () => {
      const handle = w.client.workflow.getHandle('lakesync/partial');
      const cycles = (await status(handle)).recentCycles.length;
      await assert.rejects(
        handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.nope'] }] }),
        (err: unknown) => err instanceof WorkflowUpdateFailedError && /unknown table\(s\) public\.nope/.test(causeMessage(err)),
      );
      await assert.rejects(
        handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed' }] }),
        (err: unknown) => err instanceof WorkflowUpdateFailedError && /no table has failed: nothing to rerun/.test(causeMessage(err)),
      );
      assert.equal((await status(handle)).recentCycles.length, cycles);
      assert.equal((await status(handle)).queue.length, 0);
    });
  });

  describe('retries and adoption', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('retry');
    before(async () => {
      const config = fakeConfig(queue, { tables: 4 }, { grants: [{ principal: 'arn:aws:iam::123456789012:role/analysts' }] }, 'retry');
      w = await startFakeWorker(config, {
        tables: 4,
        alreadyExists: ['snapshot', 'export'],
        failures: [
          { table: 'public.t0001', phase: 'load', times: 2, retryable: true },
          { table: 'public.t0002', phase: 'verify', times: 1, retryable: true },
          { table: 'public.t0004', phase: 'grant', times: 'always', retryable: false, message: 'AccessDeniedException: principal analysts lacks lakeformation:GrantPermissions' },
        ],
      });
    });
    after(async () => w?.stop());

    test('transient errors are retried, an existing snapshot and export are adopted, a final error fails only its table', async () => {
      const handle = await startSource(w.client, queue, 'retry');
      const s = await waitForCycles(handle, 1);
      const cycle = s.lastCycle!;
      assert.equal(cycle.status, 'partial');
      const byTable = Object.fromEntries(cycle.tables.map((t) => [t.table, t]));
      assert.equal(byTable['public.t0001']!.status, 'committed');
      assert.equal(w.backend.count('load.start:public.t0001'), 3, 'two failed runs, then one that succeeds');
      assert.equal(byTable['public.t0002']!.status, 'committed');
      assert.equal(w.backend.count('verify'), 4, 't0001..t0003 verified, t0002 twice; t0004 stops at its grant');
      assert.equal(byTable['public.t0004']!.status, 'failed');
      assert.equal(byTable['public.t0004']!.error?.phase, 'grant');
      assert.match(byTable['public.t0004']!.error?.message ?? '', /grant failed for lake table shop\.t0004: .*lacks lakeformation:GrantPermissions/);
      assert.equal(w.backend.count('failures.grant.public.t0004'), 1, 'access denied is not retried');
      assert.equal(w.backend.count('snapshot.start'), 1);
      assert.equal(w.backend.count('export.start'), 1);
      assert.ok(!s.ledger['public.t0004'], 'no watermark for a table that never committed');
      const result = await w.client.workflow.getHandle(cycle.workflowId).result();
      assert.equal(result.snapshot.adopted, true, 'the existing snapshot is adopted');
      assert.equal(result.export.adopted, true, 'the existing export is adopted');
    });
  });

  describe('a rerun signal before any export', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('early');
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, 'early'), { tables: 3 });
    });
    after(async () => w?.stop());

    test('signal-with-start of a rerun on a new source syncs the named tables, with the rerun\'s delete approval', async () => {
      const handle = await w.client.workflow.signalWithStart('sourceWorkflow', {
        workflowId: 'lakesync/early',
        taskQueue: queue,
        args: [{ source: 'early', syncOnStart: false }],
        signal: 'requestRerun',
        signalArgs: [{ tables: ['public.t0002'], requestId: 'svc-1', approveDeletes: true }],
      });
      const s = await waitForCycles(handle, 1);
      assert.equal(s.recentCycles[0]!.kind, 'sync');
      assert.deepEqual(s.recentCycles[0]!.requestIds, ['svc-1']);
      assert.deepEqual(Object.keys(s.ledger), ['public.t0002']);
      assert.equal(w.backend.count('load.start:public.t0001'), 0);
      const loads = Object.values(w.backend.state.runs).filter((r) => r.table === 'public.t0002');
      assert.deepEqual(loads.map((r) => r.request.plan.approveDeletes), [true], 'the load carries the delete approval');
    });
  });

  describe('a delete approval and a newer refusal', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('approval');
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, 'approval'), { tables: 2, latencyMs: 1500 });
    });
    after(async () => w?.stop());

    test('an approval asked on one export does not approve the load of a newer export the table was refused on meanwhile', async () => {
      const handle = await startSource(w.client, queue, 'approval');
      await waitForCycles(handle, 1);
      w.backend.setFailures([{ table: 'public.t0001', phase: 'load', times: 'always', retryable: false, message: 'would delete 60 of 100 rows' }]);
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const refused = await waitForCycles(handle, 2);
      const seen = refused.failed['public.t0001']?.exportId;
      assert.ok(seen, JSON.stringify(refused.failed));
      // A scheduled sync runs; the approval of what export `seen` would delete comes while it loads.
      await handle.signal(requestSyncSignal, { requestedBy: 'schedule' });
      await waitForStatus(handle, (s) => s.phase === 'running' && s.recentCycles.length === 2);
      const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDeletes: true, requestId: 'approve' }] });
      assert.deepEqual(accepted.tables, ['public.t0001']);
      const served = await waitForCycles(handle, 4);
      // Newest first: the rerun, then the scheduled sync.
      const [rerunCycle, newer] = served.recentCycles;
      assert.deepEqual([rerunCycle!.kind, rerunCycle!.requestIds, newer!.kind], ['rerun', ['approve'], 'sync']);
      assert.notEqual(newer!.exportId, seen, 'the scheduled cycle took a newer export');
      assert.equal(served.failed['public.t0001']?.exportId, newer!.exportId, 'and refused the table on it again');
      const loadsOf = (exportId: string | undefined) => Object.values(w.backend.state.runs).filter((r) => r.table === 'public.t0001' && exportOfRun(r) === exportId);
      // The rerun loads the newer export, on which the table was refused again: without the approval, which answered `seen`.
      assert.equal(rerunCycle!.exportId, newer!.exportId);
      const rerunLoads = loadsOf(newer!.exportId).filter((r) => r.request.cycleId === rerunCycle!.cycleId);
      assert.ok(rerunLoads.length > 0, JSON.stringify(Object.values(w.backend.state.runs).map((r) => [r.table, exportOfRun(r), r.request.cycleId])));
      assert.deepEqual(rerunLoads.map((r) => r.request.plan.approveDeletes), rerunLoads.map(() => false));

      // Approved again, on the export it was refused on last: the approval holds.
      const again = await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.t0001'], approveDeletes: true, requestId: 'approve-again' }] });
      assert.deepEqual(again.tables, ['public.t0001']);
      const last = await waitForCycles(handle, 5);
      const againCycle = last.recentCycles[0]!;
      assert.deepEqual(againCycle.requestIds, ['approve-again']);
      const againLoads = loadsOf(againCycle.exportId).filter((r) => r.request.cycleId === againCycle.cycleId);
      assert.ok(againLoads.length > 0);
      assert.deepEqual(againLoads.map((r) => r.request.plan.approveDeletes), againLoads.map(() => true));
    });
  });

  describe('requests during a cycle', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('queue');
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 6 }, {}, 'queued'), { tables: 6, latencyMs: 1500 });
    });
    after(async () => w?.stop());

    test('two sync requests arriving during a cycle are coalesced into one cycle that runs after it', async () => {
      const handle = await startSource(w.client, queue, 'queued');
      await waitForStatus(handle, (s) => s.phase === 'running');
      await handle.signal(requestSyncSignal, { requestId: 'a', requestedBy: 'test' });
      await handle.signal(requestSyncSignal, { requestId: 'b', tables: ['public.t0001'], requestedBy: 'test' });
      const s = await waitForCycles(handle, 2);
      const [second, first] = s.recentCycles;
      assert.deepEqual(second!.requestIds, ['a', 'b'], 'both requests served by one cycle');
      assert.ok(second!.startedAt >= first!.finishedAt, `second cycle started ${second!.startedAt}, after the first finished ${first!.finishedAt}`);
      assert.equal(second!.counts.committed, 6, 'a full sync absorbs the table-limited one');
      assert.equal(s.recentCycles.length, 2);
    });
  });

  describe('a source workflow terminated and started again within a second', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('restart');
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, 'restart'), { tables: 2 });
    });
    after(async () => w?.stop());

    test('the first cycle of the new life adopts no snapshot or export and re-attaches to no load run', async () => {
      // Run ids are time-ordered UUIDv7: stay clear of a 65.536 s boundary of their leading bits, so
      // that both lives start within one such window, as a quick restart nearly always does.
      const intoWindow = Date.now() % 65_536;
      if (intoWindow > 45_000) await new Promise((r) => setTimeout(r, 65_536 - intoWindow + 100));
      const firstLife = await startSource(w.client, queue, 'restart');
      const first = await waitForCycles(firstLife, 1);
      await firstLife.terminate('restarted by the test');
      const secondLife = await startSource(w.client, queue, 'restart');
      const runIdOf = (h: WorkflowHandle) => (h as WorkflowHandleWithFirstExecutionRunId).firstExecutionRunId;
      assert.notEqual(runIdOf(secondLife), runIdOf(firstLife));
      const second = await waitForCycles(secondLife, 1);

      const result = (await w.client.workflow.getHandle(second.recentCycles[0]!.workflowId).result()) as CycleResult;
      assert.equal(result.snapshot?.adopted, false, 'no snapshot of the old life is adopted');
      assert.equal(result.export?.adopted, false, 'no export of the old life is adopted');
      assert.equal(w.backend.count('snapshot.start'), 2);
      for (const t of fakeTableNames(2)) assert.equal(w.backend.count(`load.start:${t}`), 2, `${t} loads once in each life`);
      assert.equal(result.status, 'succeeded');
      assert.notEqual(second.recentCycles[0]!.cycleId, first.recentCycles[0]!.cycleId, 'each life has its own cycle ids');
    });
  });

  describe('a cycle that dies after its first batch committed', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('dead');
    const tables = fakeTableNames(3);
    before(async () => {
      // Loads outlast the heartbeat interval, so the terminated cycle's next load learns of its end before it commits.
      // One load at a time: the batches run one after another, the second starting once the first has committed.
      w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, { batchSize: 1, concurrency: 1 }, 'dead'), { tables: 3, latencyMs: 5000 });
    });
    after(async () => w?.stop());

    test('the committed table keeps its outcome and its export; the rerun of the rest reuses that export and loads it not again', async () => {
      const handle = await startSource(w.client, queue, 'dead');
      const running = await waitForStatus(handle, (s) => s.phase === 'running');
      const cycle = running.currentCycle!;
      const batch1 = w.client.workflow.getHandle(`${cycle.workflowId}/batch-1`);
      for (let i = 0; ; i++) {
        const done = await batch1.describe().then((d) => d.status.name === 'COMPLETED', () => false);
        if (done) break;
        assert.ok(i < 300, 'batch 1 completes');
        await new Promise((r) => setTimeout(r, 100));
      }
      await w.client.workflow.getHandle(cycle.workflowId).terminate('the cycle dies');
      const s = await waitForCycles(handle, 1);
      const exportId = exportIdFor('dead', cycle.cycleId);

      assert.equal(s.recentCycles[0]!.status, 'failed');
      assert.deepEqual(s.recentCycles[0]!.counts, { committed: 1, failed: 2, skipped: 0 });
      assert.equal(s.ledger[tables[0]!]?.exportId, exportId, 'the committed table is in the ledger with this cycle\'s export');
      assert.deepEqual(Object.keys(s.failed).sort(), tables.slice(1));
      for (const t of tables.slice(1)) {
        assert.equal(s.failed[t]!.exportId, exportId, `${t} failed on this cycle's export`);
        assert.match(s.failed[t]!.message, /terminated|the cycle ended/i);
      }
      assert.equal(s.lastExport?.export.exportId, exportId, 'the complete export of the dead cycle is reusable');

      const startsBefore = w.backend.count(`load.start:${tables[0]}`);
      const exportStarts = w.backend.count('export.start');
      const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed' }] });
      assert.deepEqual(accepted.tables, tables.slice(1));
      const after = await waitForCycles(handle, 2);
      assert.equal(after.recentCycles[0]!.status, 'succeeded');
      assert.equal(w.backend.count(`load.start:${tables[0]}`), startsBefore, 'the committed table is not loaded again');
      assert.equal(w.backend.count('export.start'), exportStarts, 'no new export');
      for (const t of tables.slice(1)) assert.equal(exportOfRun(newestRun(w, t)), exportId, `${t} loads from the dead cycle's export`);
      assert.deepEqual(after.failed, {});
      await recordHistories(w.client, 'dead-cycle', ['lakesync/dead']);
    });
  });

  describe('reruns of tables last loaded from different exports', () => {
    let w: FakeWorker;
    const queue = uniqueQueue('exports');
    const [a, b, c] = fakeTableNames(3) as [string, string, string];
    before(async () => {
      w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, 'exports'), {
        tables: 3,
        failures: [{ table: b, phase: 'load', times: 1, retryable: false, message: 'b breaks once' }],
      });
    });
    after(async () => w?.stop());

    test('each table loads from its own export, never from a later export it is not in, nor from one older than its last commit', async () => {
      const handle = await startSource(w.client, queue, 'exports');
      const first = await waitForCycles(handle, 1);
      const e1 = first.recentCycles[0]!.exportId!;

      // A table-limited sync: its export holds only table a.
      await handle.signal(requestSyncSignal, { tables: [a], requestId: 'only-a' });
      const second = await waitForCycles(handle, 2);
      const e2 = second.recentCycles[0]!.exportId!;
      assert.notEqual(e2, e1);
      assert.equal(second.ledger[a]!.exportId, e2);

      const failedRerun = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed' }] });
      assert.deepEqual(failedRerun.tables, [b]);
      const third = await waitForCycles(handle, 3);
      assert.equal(exportOfRun(newestRun(w, b)), e1, 'b loads from the export it failed on, not from the later one');
      assert.equal(second.failed[b]?.exportId, e1, 'the failed list names that export');
      assert.equal(third.ledger[b]!.exportId, e1);
      assert.deepEqual(third.failed, {});

      // a was last committed from e2, c from e1: two consecutive cycles, one per export, oldest first.
      assert.equal(newestRun(w, b)!.request.plan.allowOlderExport, false);
      const both = await handle.executeUpdate(rerunUpdate, { args: [{ tables: [a, c], requestId: 'a-and-c', allowOlderExport: true }] });
      const fifth = await waitForCycles(handle, 5);
      assert.equal(exportOfRun(newestRun(w, a)), e2, 'a is not loaded from an export older than its last commit');
      assert.equal(exportOfRun(newestRun(w, c)), e1);
      for (const t of [a, c]) assert.equal(newestRun(w, t)!.request.plan.allowOlderExport, true, 'allowOlderExport travels from the request to the load');
      const parts = fifth.recentCycles.filter((cy) => cy.requestIds.includes(both.requestId));
      assert.deepEqual(parts.map((p) => [p.exportId, p.part]), [[e2, { index: 2, of: 2 }], [e1, { index: 1, of: 2 }]]);
      assert.equal(fifth.ledger[a]!.exportId, e2);
      assert.equal(fifth.ledger[c]!.exportId, e1);
      await recordHistories(w.client, 'rerun-parts', ['lakesync/exports']);
    });
  });
});
