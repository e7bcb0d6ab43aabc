/**
 * The sync core on a real Temporal dev server with fake ports: per-table isolation, watermarks,
 * reruns that reuse the export, adoption of existing snapshots/exports, queued requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { fakeTableNames } from '../../src/fake/ports';
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

    test('signal-with-start of a rerun on a new source syncs the named tables', async () => {
      const handle = await w.client.workflow.signalWithStart('sourceWorkflow', {
        workflowId: 'lakesync/early',
        taskQueue: queue,
        args: [{ source: 'early', syncOnStart: false }],
        signal: 'requestRerun',
        signalArgs: [{ tables: ['public.t0002'], requestId: 'svc-1' }],
      });
      const s = await waitForCycles(handle, 1);
      assert.equal(s.recentCycles[0]!.kind, 'sync');
      assert.deepEqual(s.recentCycles[0]!.requestIds, ['svc-1']);
      assert.deepEqual(Object.keys(s.ledger), ['public.t0002']);
      assert.equal(w.backend.count('load.start:public.t0001'), 0);
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
});
