/**
 * A table whose load fails with a very long error (a Spark stack trace, a Glue ErrorMessage of
 * 1 MB), on a real Temporal server: no payload in any history and no query answer (the cycle's
 * table pages, the batch's progress, the source's status) carries the whole error; each keeps its
 * start and says where the whole error is, and `lakesync status --json` stays small.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { FAILURE_CHARACTERS } from '../../src/activities/deps';
import { readStatusView } from '../../src/cli/progress';
import { sourceWorkflowId } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { readSourceStatus, withCycleTables } from '../../src/status-pages';
import { temporalTarget } from '../../src/temporal';
import { batchProgressQuery, SOURCE_WORKFLOW_TYPE, statusQuery, syncUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { assertCycleTablesPagesWithin, assertStatusPagesWithin, historyPayloadSizes } from '../helpers/payload-sizes';
import { pollFor } from '../helpers/within';

const SOURCE = 'trace';
const LIMIT = 8 * 1024;
const TABLES = ['public.a', 'public.b', 'public.c', 'public.d'];
const FAILING = 'public.c';
const TRACE = `org.apache.spark.SparkException: Job aborted.\n${'\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.write(FileFormatWriter.scala:231)\n'.repeat(11_000)}`;
const bytesOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

describe(`a load that fails with a ${Math.round(TRACE.length / 1024)} KB error, inline limit ${LIMIT} bytes`, () => {
  let env: TestServer;
  let w: FakeWorker;
  let handle: WorkflowHandle;
  const queue = uniqueQueue('longerror');

  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLES }, { batchSize: 2 }, SOURCE), {
      tables: TABLES,
      failures: [{ table: FAILING, phase: 'load', times: 'always', retryable: false, message: TRACE }],
    });
    await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: LIMIT }] });
    handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('no payload nor query answer holds the whole error; each says where it is', async () => {
    assert.ok(TRACE.length > 900_000);
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'first' }] });
    const s = await pollFor(
      () => 'the cycle recorded',
      async () => {
        const x = await readSourceStatus(handle);
        return x.recentCycles.length > 0 && x.phase === 'idle' ? x : undefined;
      },
      120_000,
      200,
    );
    const cycle = s.recentCycles[0]!;
    assert.equal(cycle.status, 'partial');
    assert.deepEqual(cycle.counts, { committed: 3, failed: 1, skipped: 0 });

    // The cycle's own result and its pages: the table's error by its start, saying where the rest is.
    const cycleHandle = w.client.workflow.getHandle(cycle.workflowId);
    const result = (await cycleHandle.result()) as CycleResult;
    assert.ok(bytesOf(result) <= LIMIT, `cycle result ${bytesOf(result)} bytes`);
    await assertCycleTablesPagesWithin(cycleHandle, LIMIT);
    const whole = await withCycleTables(cycleHandle, result);
    const failed = whole.tables.find((t) => t.table === FAILING)!;
    // The load's failure keeps the job error's start and says where the whole error is (Temporal refuses a failure above 2 MB).
    assert.ok(failed.error!.message.startsWith('load of public.c failed (run '), failed.error!.message.slice(0, 200));
    assert.match(failed.error!.message, /SparkException: Job aborted/);
    assert.equal(failed.error!.type, 'SchemaConflict');
    // The batch keeps the start of that, and says where the rest is: the failure of the load in its history.
    assert.match(failed.error!.message, /characters more; the whole error is in the failed loadTable activity of batch workflow lakesync\/trace\/\S+\)$/);
    assert.ok(failed.error!.message.length < 2_200, `${failed.error!.message.length} characters`);
    const batchId = /of batch workflow (\S+)\)$/.exec(failed.error!.message)![1]!;
    const history = await w.client.workflow.getHandle(batchId).fetchHistory();
    const loadFailure = (history.events ?? []).map((e) => e.activityTaskFailedEventAttributes?.failure?.message ?? '').find((m) => m.startsWith('load of public.c failed'));
    assert.ok(loadFailure, 'the batch history holds the failure of the load');
    assert.ok(loadFailure.includes(TRACE.slice(0, 7_000)), 'with the start of the job error');
    assert.match(loadFailure, /characters more; the whole error is in the run's result at \S+\)/);
    assert.ok(loadFailure.length < 10_000, `${loadFailure.length} characters`);

    // The batch's progress answer.
    const progress = await w.client.workflow.getHandle(batchId).query(batchProgressQuery);
    assert.ok(bytesOf(progress) <= LIMIT, `batch progress ${bytesOf(progress)} bytes`);
    assert.match(progress.find((p) => p.table === FAILING)!.error!, /^load of public\.c failed .*SparkException/s);

    // Every payload of every history.
    const sizes = await pollFor(
      () => 'every history listed',
      async () => {
        const found = await historyPayloadSizes(w.client, `lakesync/${SOURCE}`);
        return new Set(found.map((x) => x.workflowId)).size >= 4 ? found : undefined;
      },
      60_000,
      500,
    );
    const largest = sizes[0]!;
    assert.ok(largest.bytes <= LIMIT, `largest payload ${largest.bytes} bytes: ${largest.where} in ${largest.workflowId} (event ${largest.eventId})`);

    // The source's answers, and `lakesync status --json`.
    assert.ok(bytesOf(await handle.query(statusQuery)) <= LIMIT);
    await assertStatusPagesWithin(handle, LIMIT);
    const view = await readStatusView({ client: w.client, target: temporalTarget(w.config) }, SOURCE);
    // The table's error shows where status shows it (its row, the failed tables, the last cycle), each time by its start.
    const shown = JSON.stringify(view).split('SparkException').length - 1;
    assert.ok(bytesOf(view) <= shown * 2_200 + 4_096, `status --json ${bytesOf(view)} bytes, the error ${shown} times`);
    assert.match(view.status!.failed[FAILING]!.message, /SparkException/);
  });

  test('a step of the cycle that fails with a very long error: the cycle fails with its start, saying where the whole error is', async () => {
    w.backend.setFailures([{ table: '*', phase: 'discover', times: 'always', retryable: false, message: TRACE }]);
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'second' }] });
    const s = await pollFor(
      () => 'the second cycle recorded',
      async () => {
        const x = await readSourceStatus(handle);
        return x.recentCycles.length > 1 && x.phase === 'idle' ? x : undefined;
      },
      120_000,
      200,
    );
    const cycle = s.recentCycles[0]!;
    assert.equal(cycle.status, 'failed');
    const result = (await w.client.workflow.getHandle(cycle.workflowId).result()) as CycleResult;
    // The cycle's result carries the error as the activity's failure gave it: bounded by FAILURE_CHARACTERS, whatever the step's error.
    const bound = FAILURE_CHARACTERS + 4_096;
    assert.ok(bytesOf(result) <= bound, `cycle result ${bytesOf(result)} bytes`);
    assert.equal(result.error?.phase, 'discover');
    assert.match(result.error!.message, /^discover failed for .*SparkException: Job aborted/s);
    assert.match(result.error!.message, /characters more; the whole error is in the worker's log\)$/);
    assert.match(cycle.error!.message, /SparkException: Job aborted/);
    const sizes = await historyPayloadSizes(w.client, cycle.workflowId);
    assert.ok(sizes[0]!.bytes <= bound, `largest payload ${sizes[0]!.bytes} bytes: ${sizes[0]!.where}`);
    assert.ok(bytesOf(await handle.query(statusQuery)) <= LIMIT);
  });

  test('an export that fails with a very long cause: the cycle fails with its start, saying where the whole cause is', async () => {
    w.backend.setFailures([{ table: '*', phase: 'export-failed', times: 'always', retryable: false, message: TRACE }]);
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'failed-export' }] });
    const cycle = await pollFor(
      () => 'the cycle of the failed export recorded',
      async () => {
        const x = await readSourceStatus(handle);
        return x.phase === 'idle' ? x.recentCycles.find((c) => c.requestIds.includes('failed-export')) : undefined;
      },
      120_000,
      200,
    );
    w.backend.setFailures([]);
    assert.equal(cycle.status, 'failed');
    const result = (await w.client.workflow.getHandle(cycle.workflowId).result()) as CycleResult;
    const bound = FAILURE_CHARACTERS + 4_096;
    assert.equal(result.error?.phase, 'export');
    assert.match(result.error!.message, /^export \S+ failed: org\.apache\.spark\.SparkException: Job aborted/);
    assert.match(result.error!.message, /characters more; the whole cause is in the worker's log\)/);
    assert.ok(bytesOf(result) <= bound, `cycle result ${bytesOf(result)} bytes`);
    const sizes = await historyPayloadSizes(w.client, cycle.workflowId);
    assert.ok(sizes[0]!.bytes <= bound, `largest payload ${sizes[0]!.bytes} bytes: ${sizes[0]!.where}`);
  });

  test("an export whose listing gives thousands of long warnings: the cycle's warnings keep the first ones, each by its start", async () => {
    w.backend.setFailures([]);
    const many = Array.from({ length: 20_000 }, (_, i) => `skippedTables: db${i}.public.orders_${i} (a table of database db${i}, not of the source's database fake: not loaded)`);
    w.backend.setExportWarnings([`note: ${'x'.repeat(1_000_000)}`, ...many]);
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'third' }] });
    const s = await pollFor(
      () => 'the third cycle recorded',
      async () => {
        const x = await readSourceStatus(handle);
        return x.phase === 'idle' ? x.recentCycles.find((c) => c.requestIds.includes('third')) : undefined;
      },
      120_000,
      200,
    );
    const cycle = s;
    assert.equal(cycle.status, 'succeeded', JSON.stringify(cycle.error ?? {}).slice(0, 300));
    const result = (await w.client.workflow.getHandle(cycle.workflowId).result()) as CycleResult;
    assert.ok(bytesOf(result) <= 64 * 1024, `cycle result ${bytesOf(result)} bytes`);
    assert.match(result.warnings.join('\n'), /^note: x{100}/);
    assert.ok(result.warnings.some((x) => x.includes('skippedTables: db0.public.orders_0')));
    assert.ok(result.warnings.some((x) => /20001 warnings in all; the worker's log has them all/.test(x)), JSON.stringify(result.warnings.at(-1)));
    const sizes = await historyPayloadSizes(w.client, cycle.workflowId);
    assert.ok(sizes[0]!.bytes <= 64 * 1024, `largest payload ${sizes[0]!.bytes} bytes: ${sizes[0]!.where}`);
    w.backend.setExportWarnings([]);
  });
});
