/**
 * Payload sizes at scale, on a real Temporal server: a cycle whose outcomes, and a source whose
 * carried state, would exceed the inline limit travel by reference; status, watermarks, the cost
 * report and reruns of the failed tables keep working across continue-as-new, and no payload in
 * any history (nor any query answer) exceeds the limit. The limit is lowered to 8 KB so that 40
 * tables stand for thousands.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { waitForRequest } from '../../src/cli/wait';
import { costReport } from '../../src/cost/report';
import { type DevServer, startDevServer } from '../../src/devserver';
import { type FakeFailure, fakeTableNames } from '../../src/fake/ports';
import { sourceWorkflowId } from '../../src/ids';
import { temporalTarget } from '../../src/temporal';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import type { CycleResult } from '../../src/model';
import { readSourceStatus, withCycleTables } from '../../src/status-pages';
import { rerunUpdate, SOURCE_WORKFLOW_TYPE, syncUpdate, type SourceStatus, statusQuery } from '../../src/workflows/messages';
import { fakeConfig, quietTemporalLogs, startFakeWorker, type FakeWorker, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { recordingQueries } from '../helpers/query-client';
import { pollFor } from '../helpers/within';
import { assertCycleTablesPagesWithin, assertStatusPagesWithin, historyPayloadSizes } from '../helpers/payload-sizes';

const SOURCE = 'big';
const TABLE_COUNT = 40;
const LIMIT = 8 * 1024;
const FAILING = ['public.t0005', 'public.t0021', 'public.t0033'];

/** Waits until the whole status (read through its pages) satisfies `check`. */
async function waitForWhole(handle: WorkflowHandle, check: (s: SourceStatus) => boolean, what: string, timeoutMs = 120_000): Promise<SourceStatus> {
  let last: SourceStatus | undefined;
  return pollFor(
    () => `${what}; last: ${JSON.stringify({ phase: last?.phase, cycles: last?.recentCycles.length })}`,
    async () => {
      last = await readSourceStatus(handle);
      return check(last) ? last : undefined;
    },
    timeoutMs,
    200,
  );
}

const bytesOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

describe(`payloads at scale: ${TABLE_COUNT} tables under an inline limit of ${LIMIT} bytes`, () => {
  let dir: string;
  let server: DevServer;
  let w: FakeWorker;
  let handle: WorkflowHandle;
  let firstRunId: string;
  const queue = uniqueQueue('scale');

  before(async () => {
    quietTemporalLogs();
    dir = mkdtempSync(join(tmpdir(), 'lakesync-scale-'));
    // The server suggests continue-as-new after a few events: the source continues after its first cycle.
    server = await startDevServer({
      dbFile: join(dir, 'temporal.db'),
      searchAttributes: SEARCH_ATTRIBUTE_TYPES,
      extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=10'],
    });
    process.env.TEMPORAL_ADDRESS = server.address;
    // Batches of 5 keep each batch's result (bounded by the batch size) under the lowered limit.
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLE_COUNT }, { batchSize: 5 }, SOURCE), {
      tables: TABLE_COUNT,
      failures: FAILING.map((table) => ({ table, phase: 'load' as const, times: 'always' as const, retryable: false, message: `column amount cannot be cast in ${table}` })),
    });
    const started = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, {
      workflowId: sourceWorkflowId(SOURCE),
      taskQueue: queue,
      args: [{ source: SOURCE, payloadInlineBytes: LIMIT }],
    });
    firstRunId = started.firstExecutionRunId;
    handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
  });
  after(async () => {
    await w?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the cycle stores its outcomes by reference; the source books them, continues as new with its state by reference, and reads whole', async () => {
    assert.equal(fakeTableNames(TABLE_COUNT).length, TABLE_COUNT);
    const s = await waitForWhole(handle, (x) => x.recentCycles.length >= 1 && x.phase === 'idle', 'the first cycle');
    // The server suggested continue-as-new after the cycle: a later run holds the state.
    const runId = await waitFor(async () => {
      const d = await handle.describe();
      return d.runId !== firstRunId && d.status.name === 'RUNNING' ? d.runId : undefined;
    }, 'a run after continue-as-new');
    assert.notEqual(runId, firstRunId);

    const cycle = s.recentCycles[0]!;
    assert.equal(cycle.status, 'partial');
    assert.deepEqual(cycle.counts, { committed: TABLE_COUNT - FAILING.length, failed: FAILING.length, skipped: 0 });

    // The cycle's result holds a reference and a summary, not the outcomes.
    const cycleHandle = w.client.workflow.getHandle(cycle.workflowId);
    const result = (await cycleHandle.result()) as CycleResult;
    assert.ok(result.tablesRef, 'the result carries its outcomes by reference');
    assert.deepEqual(result.tables, []);
    assert.equal(result.tablesRef.count, TABLE_COUNT);
    assert.deepEqual(result.tablesRef.counts, cycle.counts);
    assert.deepEqual([...result.tablesRef.failedTables].sort(), FAILING);
    // Once the source recorded the cycle, nothing reads the stored outcomes: their parts are deleted.
    assert.ok(result.tablesRef.parts.length > 1, 'the outcomes were stored in parts');
    assert.deepEqual(manifestsUnder(w.backend, `${cycle.cycleId}/outcomes/`), [], 'the outcome parts are deleted');
    const whole = await withCycleTables(cycleHandle, result);
    assert.equal(whole.tables.length, TABLE_COUNT);
    assert.deepEqual(whole.tables.filter((t) => t.status === 'failed').map((t) => t.table).sort(), FAILING);

    // The first run handed over a reference, not the state.
    const history = await w.client.workflow.getHandle(sourceWorkflowId(SOURCE), firstRunId).fetchHistory();
    const carried = history.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes;
    assert.ok(carried, 'the first run continued as new');
    const input = JSON.parse(Buffer.from(carried.input!.payloads![0]!.data!).toString()) as Record<string, unknown>;
    assert.equal(input.state, undefined, 'no inline state');
    assert.ok(input.stateRef, 'the state by reference');
    assert.equal(input.payloadInlineBytes, LIMIT, 'the limit carries over');

    // The status query leaves its large parts to pages; read whole, every reader sees them.
    const raw = await handle.query(statusQuery);
    assert.ok(raw.paged?.includes('ledger'), `paged parts: ${JSON.stringify(raw.paged)}`);
    assert.ok(bytesOf(raw) <= LIMIT, `status answer ${bytesOf(raw)} bytes`);
    const after = await readSourceStatus(handle);
    assert.equal(after.paged, undefined);
    assert.equal(Object.keys(after.ledger).length, TABLE_COUNT - FAILING.length);
    assert.deepEqual(Object.keys(after.failed).sort(), FAILING);
    for (const table of FAILING) assert.match(after.failed[table]!.message, /cannot be cast/);
    assert.equal(after.lastCycle?.tables.length, TABLE_COUNT);
    const wm = after.ledger['public.t0001']!;
    assert.equal(wm.exportId, cycle.exportId);
    assert.equal(wm.lastError, null);
    const report = costReport(after, 5);
    assert.equal(report.lastCycle?.tables.length, TABLE_COUNT);
  });

  test('a rerun of the failed tables on the continued run loads only them, from the export the state carried over', async () => {
    w.backend.setFailures([]);
    const loadsBefore = w.backend.count('load.start');
    const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed', requestId: 'rerun-failed-after-continue' }] });
    assert.deepEqual(accepted.tables, FAILING);
    // `rerun --wait` polls a source whose status is paged: each poll is one request query, never the status or its pages.
    const counted = recordingQueries(w.client);
    const served = await waitForRequest({ client: counted.client, target: temporalTarget(w.config) }, SOURCE, 'rerun-failed-after-continue', { pollMs: 200 });
    assert.equal(served.kind, 'rerun');
    assert.ok(counted.asked.includes('request'), `queries asked while waiting: ${counted.asked.join(', ')}`);
    assert.deepEqual(counted.asked.filter((name) => name !== 'request'), [], 'no status or page was read while waiting');
    const s = await waitForWhole(handle, (x) => x.recentCycles.length >= 2 && x.phase === 'idle', 'the rerun');
    const [rerun, first] = [s.recentCycles[0]!, s.recentCycles[1]!];
    assert.equal(rerun.kind, 'rerun');
    assert.equal(rerun.status, 'succeeded');
    assert.equal(rerun.exportId, first.exportId, 'the rerun reused the carried export');
    assert.equal(w.backend.count('load.start') - loadsBefore, FAILING.length);
    assert.equal(Object.keys(s.ledger).length, TABLE_COUNT);
    assert.deepEqual(s.failed, {});
    for (const table of FAILING) assert.equal(s.ledger[table]!.exportId, first.exportId);
  });

  test('a cycle that dies after most tables committed: their outcomes are read back from the lake by reference', async () => {
    const stuck = 'public.t0040';
    // Every load of the cycle but one commits; that one's run outlasts the test.
    w.backend.setLatencyByTable({ [stuck]: 600_000 });
    const cyclesBefore = (await readSourceStatus(handle)).recentCycles.length;
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'sync-then-die' }] });
    const running = await waitForWhole(handle, (x) => x.currentCycle !== undefined, 'the cycle to run');
    const cycleId = running.currentCycle!.cycleId;
    const cycle = w.client.workflow.getHandle(running.currentCycle!.workflowId);
    await waitFor(async () => (w.backend.count('load.start:' + stuck) > 0 && committedIn(w.backend, cycleId) === TABLE_COUNT - 1 ? true : undefined), 'every other table committed');
    await cycle.terminate('the cycle dies');
    const s = await waitForWhole(handle, (x) => x.recentCycles.length > cyclesBefore && x.recentCycles[0]!.cycleId === cycleId, 'the dead cycle recorded');
    w.backend.setLatencyByTable({});
    // The recovered outcomes came in parts, and the source deleted them once it recorded the cycle.
    // (The source may have continued as new since: every run's history is read.)
    const recoveredParts = await waitFor(async () => {
      const parts = (await deletedParts(w.client)).filter((ref) => ref.includes(`/${cycleId}/recovered-outcomes/part-`));
      return parts.length > 0 ? parts : undefined;
    }, 'the recovered parts deleted');
    assert.ok(recoveredParts.length > 1, `parts deleted: ${recoveredParts.join(', ')}`);
    assert.deepEqual(manifestsUnder(w.backend, `${cycleId}/recovered-outcomes/`), []);
    const dead = s.recentCycles[0]!;
    assert.equal(dead.status, 'failed');
    assert.deepEqual(dead.counts, { committed: TABLE_COUNT - 1, failed: 1, skipped: 0 });
    assert.deepEqual(Object.keys(s.failed), [stuck]);
    assert.match(s.failed[stuck]!.message, /the cycle ended before public\.t0040 committed/);
    for (const table of fakeTableNames(TABLE_COUNT).filter((t) => t !== stuck)) {
      assert.equal(s.ledger[table]!.exportId, dead.exportId, `${table}'s watermark advanced to the dead cycle's export`);
    }
  });

  test('carried states stay for the two runs before the current one (either can be reset to its start); older ones are deleted', async () => {
    // Runs so far: the first cycle's, the rerun's and the dead cycle's, each continued as new.
    const chain = await waitFor(async () => {
      const runs = await sourceRuns(w.client, firstRunId);
      return runs.length >= 4 ? runs : undefined;
    }, 'four runs of the source');
    const [current, previous, beforeThat] = [chain.at(-1)!, chain.at(-2)!, chain.at(-3)!];
    assert.equal(current.carried, undefined, 'the current run still runs');
    for (const run of chain.slice(0, -1)) assert.ok(run.carried?.stateRef, `run ${run.runId} carried its state by reference`);
    const folders = stateFolders(w.backend);
    // The current run read the previous run's parts; the previous run read those of the run before it.
    assert.ok(folders.has(previous.runId), `the state the current run read is kept: ${[...folders].join(', ')}`);
    assert.ok(folders.has(beforeThat.runId), `the state the previous run read is kept: ${[...folders].join(', ')}`);
    for (const old of chain.slice(0, -3)) assert.ok(!folders.has(old.runId), `run ${old.runId}'s stored state is deleted: ${[...folders].join(', ')}`);
    assert.deepEqual([...folders].sort(), [previous.runId, beforeThat.runId].sort(), 'no other state is kept');
  });

  test('deletes the manifest store refuses are logged: the cycle is still recorded and the source still continues as new', async () => {
    const before = await sourceRuns(w.client, firstRunId);
    const foldersBefore = stateFolders(w.backend);
    w.backend.setFailures([{ table: '*', phase: 'manifest-delete', times: 'always', retryable: false, message: 'injected: the manifest store refuses deletes' }]);
    try {
      const cyclesBefore = (await readSourceStatus(handle)).recentCycles.length;
      await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'sync-deletes-refused' }] });
      const s = await waitForWhole(handle, (x) => x.recentCycles.length > cyclesBefore && x.phase === 'idle', 'the cycle recorded');
      const cycle = s.recentCycles[0]!;
      assert.equal(cycle.status, 'succeeded');
      const after = await waitFor(async () => {
        const runs = await sourceRuns(w.client, firstRunId);
        return runs.length > before.length ? runs : undefined;
      }, 'the source to continue as new');
      assert.equal(after.at(-1)!.carried, undefined);
      // Nothing was deleted: the cycle's outcome parts and every state folder are still there.
      assert.ok(manifestsUnder(w.backend, `${cycle.cycleId}/outcomes/`).length > 1, 'the outcome parts are left in place');
      for (const runId of foldersBefore) assert.ok(stateFolders(w.backend).has(runId), `run ${runId}'s state is left in place`);
      assert.ok(w.backend.count('manifest.delete') > 0, 'deletes were tried');
    } finally {
      w.backend.setFailures([]);
    }
  });

  test('a state the manifest store refuses to store: the run keeps it, says so in the status, serves requests meanwhile, and continues as new once the store takes it', async () => {
    const before = await sourceRuns(w.client, firstRunId);
    const running = before.at(-1)!.runId;
    const status0 = await readSourceStatus(handle);
    const ledger0 = Object.keys(status0.ledger).sort();
    w.backend.setFailures([{ table: '*', phase: 'state-store', times: 'always', retryable: false, message: 'injected: the manifest store refuses writes' }]);
    try {
      for (const requestId of ['sync-state-refused-1', 'sync-state-refused-2']) {
        const cycles = (await readSourceStatus(handle)).recentCycles.length;
        await handle.executeUpdate(syncUpdate, { args: [{ requestId }] });
        const s = await waitForWhole(handle, (x) => x.recentCycles.length > cycles && x.phase === 'idle' && x.stateNotStored !== undefined, `${requestId}: its cycle recorded and the state not stored`);
        assert.equal(s.recentCycles[0]!.status, 'succeeded');
        assert.match(s.stateNotStored!.message, /could not be stored in the manifest store to continue as new: .*injected: the manifest store refuses writes.*make the manifest store writable/);
        assert.ok(s.stateNotStored!.retryAt > s.stateNotStored!.at, 'a retry is due later');
        const runs = await sourceRuns(w.client, firstRunId);
        assert.equal(runs.at(-1)!.runId, running, 'the run goes on: it neither failed nor continued as new');
        assert.equal((await w.client.workflow.getHandle(sourceWorkflowId(SOURCE), running).describe()).status.name, 'RUNNING');
      }
    } finally {
      w.backend.setFailures([]);
    }
    // The next request wakes the run: its cycle runs, the state is stored, and the run continues as new with all of it.
    const cycles = (await readSourceStatus(handle)).recentCycles.length;
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'sync-state-stored' }] });
    const after = await waitFor(async () => {
      const runs = await sourceRuns(w.client, firstRunId);
      return runs.length > before.length ? runs : undefined;
    }, 'the source to continue as new');
    assert.ok(after.at(-2)!.carried?.stateRef, 'the state went by reference');
    const s = await waitForWhole(handle, (x) => x.recentCycles.length > cycles && x.phase === 'idle', 'the third cycle recorded');
    assert.equal(s.stateNotStored, undefined, 'the new run has nothing to report');
    assert.deepEqual(s.recentCycles.slice(0, 3).map((c) => c.status), ['succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(Object.keys(s.ledger).sort(), ledger0, 'every watermark carried over');
    assert.deepEqual(Object.keys(s.failed).sort(), Object.keys(status0.failed).sort(), 'the failed tables carried over');
  });

  test('a source whose excluded tables outgrow the limit: the export scope hands them over by reference, every one reported as skipped', async () => {
    const { worker: wide, started, loaded, archived } = await startArchiveSource('wide');
    try {
      const s = await waitForWhole(started, (x) => x.recentCycles.length > 0 && x.phase === 'idle', 'the cycle recorded');
      const cycle = s.recentCycles[0]!;
      assert.equal(cycle.status, 'succeeded');
      assert.deepEqual(cycle.counts, { committed: loaded.length, failed: 0, skipped: archived.length });
      const scope = await completedResult<{ excluded: unknown[]; excludedRef?: { parts: string[] } }>(wide.client, cycle.workflowId, 'exportScope');
      assert.ok(scope.excludedRef && scope.excludedRef.parts.length > 1, `the excluded tables came by reference: ${JSON.stringify(scope).slice(0, 300)}`);
      assert.deepEqual(scope.excluded, []);
      const cycleHandle = wide.client.workflow.getHandle(cycle.workflowId);
      const whole = await withCycleTables(cycleHandle, (await cycleHandle.result()) as CycleResult);
      const skipped = whole.tables.filter((t) => t.status === 'skipped');
      assert.deepEqual(skipped.map((t) => t.table).sort(), archived);
      for (const t of skipped) assert.equal(t.reason, 'excluded (exclude public.archive_*)');
      assert.deepEqual(whole.tables.filter((t) => t.status === 'committed').map((t) => t.table).sort(), loaded);
      const sizes = await waitFor(async () => {
        const found = await historyPayloadSizes(wide.client, 'lakesync/wide');
        return new Set(found.map((x) => x.workflowId)).size >= 3 ? found : undefined;
      }, 'the source, its cycle and its batch listed');
      const largest = sizes[0]!;
      assert.ok(largest.bytes <= LIMIT, `largest payload ${largest.bytes} bytes: ${largest.where} in ${largest.workflowId} (event ${largest.eventId})`);
    } finally {
      await wide.stop();
    }
  });

  test('an export that skipped more tables than the limit holds: discovery hands them over by reference, every one reported as failed with its reason', async () => {
    const loaded = fakeTableNames(5);
    const skippedTables = Array.from({ length: 200 }, (_, i) => `public.skipped_${String(i + 1).padStart(4, '0')}`);
    const reason = 'the table could not be exported because its row format is not supported by the export';
    const queue = uniqueQueue('scale-skipping');
    const all = [...loaded, ...skippedTables];
    const skipping = await startFakeWorker(fakeConfig(queue, { tables: all }, {}, 'skipping'), { tables: all, exportSkipped: skippedTables.map((table) => ({ table, reason })) });
    try {
      const started = await skipping.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('skipping'), taskQueue: queue, args: [{ source: 'skipping', payloadInlineBytes: LIMIT }] });
      const s = await waitForWhole(started, (x) => x.recentCycles.length > 0 && x.phase === 'idle', 'the cycle recorded');
      const cycle = s.recentCycles[0]!;
      assert.deepEqual(cycle.counts, { committed: loaded.length, failed: skippedTables.length, skipped: 0 });
      const cycleHandle = skipping.client.workflow.getHandle(cycle.workflowId);
      const whole = await withCycleTables(cycleHandle, (await cycleHandle.result()) as CycleResult);
      const failed = whole.tables.filter((t) => t.status === 'failed');
      assert.deepEqual(failed.map((t) => t.table).sort(), skippedTables);
      for (const t of failed) {
        assert.equal(t.reason, reason);
        assert.equal(t.error?.message, `${t.table} was not exported: ${reason}`);
      }
      const sizes = await waitFor(async () => {
        const found = await historyPayloadSizes(skipping.client, 'lakesync/skipping');
        return new Set(found.map((x) => x.workflowId)).size >= 3 ? found : undefined;
      }, 'the source, its cycle and its batch listed');
      const largest = sizes[0]!;
      assert.ok(largest.bytes <= LIMIT, `largest payload ${largest.bytes} bytes: ${largest.where} in ${largest.workflowId} (event ${largest.eventId})`);
    } finally {
      await skipping.stop();
    }
  });

  test('a manifest store that refuses deletes leaves the lists the cycle read by reference in place: the cycle still loads every table', async () => {
    const refused: FakeFailure = { table: '*', phase: 'manifest-delete', times: 'always', retryable: false, message: 'injected: the manifest store refuses deletes' };
    const { worker: keep, started, loaded, archived } = await startArchiveSource('undeletable', [refused]);
    try {
      const s = await waitForWhole(started, (x) => x.recentCycles.length > 0 && x.phase === 'idle', 'the cycle recorded');
      const cycle = s.recentCycles[0]!;
      assert.equal(cycle.status, 'succeeded', JSON.stringify(cycle.error ?? cycle).slice(0, 400));
      assert.deepEqual(cycle.counts, { committed: loaded.length, failed: 0, skipped: archived.length });
      const scope = await completedResult<{ excludedRef?: { parts: string[] } }>(keep.client, cycle.workflowId, 'exportScope');
      assert.ok(scope.excludedRef && scope.excludedRef.parts.length > 1, 'the excluded tables came by reference');
      assert.ok(keep.backend.count('manifest.delete') > 0, 'deletes were tried');
      for (const part of scope.excludedRef.parts) assert.ok(part.replace('fake://manifests/', '') in keep.backend.state.manifests, `part ${part} is left in place`);
    } finally {
      await keep.stop();
    }
  });

  test('no payload in any history, nor any query answer, exceeds the inline limit', async () => {
    // Visibility is eventually consistent: wait until every run is listed (2 cycles, 8 + 1 batches, source runs).
    const sizes = await waitFor(async () => {
      const found = await historyPayloadSizes(w.client, `lakesync/${SOURCE}`);
      const workflows = new Set(found.map((x) => `${x.workflowId}~${x.runId}`));
      return workflows.size >= 13 ? found : undefined;
    }, 'every history listed');
    const largest = sizes[0]!;
    assert.ok(largest.bytes <= LIMIT, `largest payload ${largest.bytes} bytes: ${largest.where} in ${largest.workflowId} (event ${largest.eventId})`);
    assert.ok(largest.bytes > LIMIT / 8, 'the histories were measured');

    // Query answers are no history payload: measured as the client receives them.
    assert.ok(bytesOf(await handle.query(statusQuery)) <= LIMIT);
    await assertStatusPagesWithin(handle, LIMIT);
    const s = await readSourceStatus(handle);
    // The first cycle: its outcomes were stored by reference.
    const cycleHandle = w.client.workflow.getHandle(s.recentCycles.at(-1)!.workflowId);
    await assertCycleTablesPagesWithin(cycleHandle, LIMIT);
    await recordHistories(w.client, 'scale-payloads', [`lakesync/${SOURCE}`]);
  });
});

/** The manifest keys under `prefix` the fake still holds. */
function manifestsUnder(backend: FakeWorker['backend'], prefix: string): string[] {
  return Object.keys(backend.state.manifests).filter((key) => key.startsWith(prefix));
}

/** The part references the source's runs asked to delete (deletes completed). */
async function deletedParts(client: Client): Promise<string[]> {
  const refs: string[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = "${sourceWorkflowId(SOURCE)}"` })) {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const scheduled = new Map<string, string[]>();
    for (const e of history.events ?? []) {
      const attrs = e.activityTaskScheduledEventAttributes;
      if (attrs?.activityType?.name === 'deletePayloadParts') {
        scheduled.set(String(e.eventId), (JSON.parse(Buffer.from(attrs.input!.payloads![0]!.data!).toString()) as { refs: string[] }).refs);
      }
      const done = e.activityTaskCompletedEventAttributes;
      if (done && scheduled.has(String(done.scheduledEventId))) refs.push(...scheduled.get(String(done.scheduledEventId))!);
    }
  }
  return refs;
}

/** One run of the source and the input it handed to the next (undefined while it runs). */
interface SourceRun {
  runId: string;
  carried?: { stateRef?: unknown; staleStateRefs?: unknown[] };
}

/** Another source on the same server, started under the lowered limit: 5 tables to load and 200 its rules exclude. */
async function startArchiveSource(name: string, failures: FakeFailure[] = []) {
  const loaded = fakeTableNames(5);
  const archived = Array.from({ length: 200 }, (_, i) => `public.archive_${String(i + 1).padStart(4, '0')}`);
  const queue = uniqueQueue(`scale-${name}`);
  const worker = await startFakeWorker(fakeConfig(queue, { tables: [...loaded, ...archived] }, { exclude: ['public.archive_*'] }, name), { tables: [...loaded, ...archived], failures });
  try {
    const started = await worker.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(name), taskQueue: queue, args: [{ source: name, payloadInlineBytes: LIMIT }] });
    return { worker, started, loaded, archived };
  } catch (err) {
    await worker.stop();
    throw err;
  }
}

/** The source's runs from the first, in order, following each continue-as-new. */
async function sourceRuns(client: Client, firstRunId: string): Promise<SourceRun[]> {
  const runs: SourceRun[] = [];
  for (let runId: string | undefined = firstRunId; runId; ) {
    const history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> = await client.workflow.getHandle(sourceWorkflowId(SOURCE), runId).fetchHistory();
    const next = history.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes;
    const carried = next ? (JSON.parse(Buffer.from(next.input!.payloads![0]!.data!).toString()) as SourceRun['carried']) : undefined;
    runs.push({ runId, ...(carried ? { carried } : {}) });
    runId = next?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** The runs whose stored state (`source-state/<run>/...`) the fake manifest store still holds. */
function stateFolders(backend: FakeWorker['backend']): Set<string> {
  return new Set(manifestsUnder(backend, 'source-state/').map((key) => key.split('/')[1]!));
}

/** The result of the first completed `activity` in the workflow's (latest run's) history. */
async function completedResult<T>(client: Client, workflowId: string, activity: string): Promise<T> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Set<string>();
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === activity) scheduled.add(String(e.eventId));
    const done = e.activityTaskCompletedEventAttributes;
    if (done && scheduled.has(String(done.scheduledEventId))) return JSON.parse(Buffer.from(done.result!.payloads![0]!.data!).toString()) as T;
  }
  throw new Error(`no completed ${activity} in ${workflowId}`);
}

/** Tables whose newest lake commit is of this cycle. */
function committedIn(backend: FakeWorker['backend'], cycleId: string): number {
  return Object.values(backend.state.lake).filter((t) => t.lastCommit?.cycleId === cycleId).length;
}

function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  return pollFor(what, fn, timeoutMs, 250);
}
