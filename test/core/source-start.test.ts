/**
 * Starting the source workflow by hand (the Temporal UI or CLI): a start the source workflow
 * cannot be (no source named, another workflow id than the source's, a source the worker's config
 * lacks) fails at once, before any snapshot or export, saying what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { sourceWorkflowId } from '../../src/ids';
import { requestRerunSignal, requestSyncSignal, rerunUpdate, SOURCE_WORKFLOW_TYPE, syncUpdate, TRIGGER_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, status, waitForCycles, waitForStatus } from '../helpers/source';

/** The failure message the run ended with; fails the test when it has not ended within `ms`. */
async function failureOf(handle: WorkflowHandle, ms = 30_000): Promise<string> {
  const ended = await Promise.race([handle.result().then(() => 'completed', (err: unknown) => err), new Promise((resolve) => setTimeout(() => resolve('still running'), ms))]);
  assert.ok(ended instanceof WorkflowFailedError, `the run should have failed; it is ${String(ended)}`);
  return ended.cause?.message ?? ended.message;
}

describe('a source workflow started by hand', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('source-start');
  before(async () => {
    env = await startTestServer();
    const config = fakeConfig(queue, { tables: 2 }, {}, 'handstart');
    // A second source, started only with bad input.
    const second = fakeConfig(queue, { tables: 2 }, {}, 'limits');
    w = await startFakeWorker({ ...config, sources: { ...config.sources, ...second.sources } }, { tables: 2 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('under another workflow id than the source\'s fails at once, beside the running one, taking no snapshot', async () => {
    const own = await startSource(w.client, queue, 'handstart');
    await waitForCycles(own, 1);
    const snapshots = w.backend.count('snapshot.start');
    const stray = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: 'handstart-manual', taskQueue: queue, args: [{ source: 'handstart' }] });
    const message = await failureOf(stray);
    assert.match(message, /workflow id "handstart-manual"/);
    assert.match(message, /must run as "lakesync\/handstart"/);
    assert.match(message, /lakesync sync handstart/);
    assert.equal(w.backend.count('snapshot.start'), snapshots, 'no snapshot for the stray run');
  });

  test('without input, or without a source name, fails at once saying which input to give', async () => {
    for (const [id, args] of [
      ['nosource-1', []],
      ['nosource-2', [{}]],
      ['nosource-3', ['handstart']],
    ] as const) {
      const handle = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: `lakesync/${id}`, taskQueue: queue, args: args as unknown as [] });
      assert.match(await failureOf(handle), /needs the input \{"source": "<name>"\}/, id);
    }
  });

  test('with an inline payload limit past what Temporal takes in one payload fails at once, naming the field and its range', async () => {
    for (const bytes of [4_000_000, 10, '300000']) {
      const handle = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('limits'), taskQueue: queue, args: [{ source: 'limits', payloadInlineBytes: bytes as number }] });
      assert.match(await failureOf(handle), /^payloadInlineBytes .* is out of range: give a whole number of bytes from 1024 to 262144 \(the default\), or leave it out$/, String(bytes));
    }
    assert.equal(w.backend.count('snapshot.start'), 1, 'the one of handstart\'s first cycle');
  });

  test('before its first export, a sync or rerun update naming a table without its schema is refused, and no cycle runs', async () => {
    const handle = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('limits'), taskQueue: queue, args: [{ source: 'limits', syncOnStart: false }] });
    const refusal = (err: unknown) => (err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err));
    for (const [update, tables] of [
      [syncUpdate, ['orders', 'public.t0001']],
      [rerunUpdate, ['public.', '.orders']],
    ] as const) {
      const message = await handle.executeUpdate(update as typeof syncUpdate, { args: [{ tables: [...tables] }] }).then(() => 'accepted', refusal);
      assert.match(message, /^table names are schema\.table \(e\.g\. public\.orders; DynamoDB tables dynamodb\.<TableName>\); got "/, update.name);
    }
    const s = await status(handle);
    assert.deepEqual([s.queue, s.recentCycles, s.phase], [[], [], 'idle']);
    await handle.terminate();
  });

  test('a trigger workflow (a Schedule\'s action, made by hand) without a source or task queue, or asking both a sync and a rerun, fails at once saying what it needs', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['no-input', undefined, /needs the input \{"source": "<name>", "taskQueue": "<the worker's task queue>"/],
      ['no-queue', { source: 'handstart' }, /needs the input \{"source": "<name>", "taskQueue": "<the worker's task queue>"/],
      ['both', { source: 'handstart', taskQueue: queue, sync: {}, rerun: { tables: 'failed' } }, /asks both a sync and a rerun: give one of them/],
      // A request the source would drop: the firing fails saying why, instead of succeeding while nothing runs.
      ['rerun-no-tables', { source: 'handstart', taskQueue: queue, rerun: {} }, /^the trigger workflow's rerun cannot run: name the tables to rerun \(schema\.table\), or "failed"; fix the schedule's input/],
      ['rerun-text-flag', { source: 'handstart', taskQueue: queue, rerun: { tables: 'failed', approveDeletes: 'yes' } }, /^the trigger workflow's rerun cannot run: approveDeletes must be true or false/],
      ['sync-text-tables', { source: 'handstart', taskQueue: queue, sync: { tables: 'public.t0001' } }, /^the trigger workflow's sync cannot run: name the tables to sync/],
      ['sync-long-id', { source: 'handstart', taskQueue: queue, sync: { requestId: 'z'.repeat(600) } }, /^the trigger workflow's sync cannot run: requestId must be a string of at most 500 characters/],
      // A misspelt field was read as absent: "table" made the firing a sync of every table.
      ['sync-misspelt-tables', { source: 'handstart', taskQueue: queue, sync: { table: ['public.t0001'] } }, /^the trigger workflow's sync cannot run: unknown field "table": a sync request has only the fields tables, requestId, requestedBy/],
    ];
    for (const [id, input, expected] of cases) {
      const handle = await w.client.workflow.start(TRIGGER_WORKFLOW_TYPE, { workflowId: `trigger-${id}`, taskQueue: queue, args: (input === undefined ? [] : [input]) as unknown as [] });
      assert.match(await failureOf(handle, 20_000), expected, id);
    }
  });

  test('a trigger workflow made by hand whose rerun names no sender sends it as the schedule\'s, as its sync is', async () => {
    const source = w.client.workflow.getHandle(sourceWorkflowId('handstart'));
    await waitForCycles(source, 1);
    // Nothing has failed: the source drops the rerun of failed tables, and the status says who asked.
    const trigger = await w.client.workflow.start(TRIGGER_WORKFLOW_TYPE, { workflowId: 'trigger-hand-rerun', taskQueue: queue, args: [{ source: 'handstart', taskQueue: queue, rerun: { tables: 'failed' } }] as unknown as [] });
    await trigger.result();
    const s = await waitForStatus(source, (st) => st.ignoredRequests.some((r) => r.requestId === 'trigger-hand-rerun'), 30_000);
    const dropped = s.ignoredRequests.find((r) => r.requestId === 'trigger-hand-rerun')!;
    assert.equal(dropped.requestedBy, 'schedule', JSON.stringify(dropped));
    assert.match(dropped.reason, /no table has failed/);
  });

  test("a Schedule's trigger of another deployment (its own task queue, the same source name) fails saying so, and sends nothing to the source running here", async () => {
    const source = w.client.workflow.getHandle(sourceWorkflowId('handstart'));
    await waitForCycles(source, 1);
    const before = await status(source);
    const trigger = await w.client.workflow.start(TRIGGER_WORKFLOW_TYPE, { workflowId: 'trigger-other-deployment', taskQueue: queue, args: [{ source: 'handstart', taskQueue: 'other-deployment', sync: { requestId: 'other-deployment-sync' } }] as unknown as [] });
    // The activity's failure, at once (not retried): the workflow's cause is the activity, whose cause says why.
    const failed: unknown = await trigger.result().catch((err: unknown) => err);
    assert.ok(failed instanceof WorkflowFailedError, String(failed));
    const message = (failed.cause?.cause as Error | undefined)?.message ?? '';
    assert.match(message, new RegExp(`^the schedule's sync was not sent: lakesync/handstart runs on task queue ${queue}, but this config names task queue other-deployment: `));
    assert.match(message, /set temporal\.taskQueue \(or LAKESYNC_TASK_QUEUE\) to /);
    const after = await status(source);
    assert.equal(after.recentCycles.length, before.recentCycles.length, 'no cycle ran for it');
    assert.deepEqual(after.queue, []);
    assert.ok(!after.ignoredRequests.some((r) => r.requestId?.startsWith('other-deployment-sync')), 'the source never saw the request');
  });

  test('two Schedules made by hand whose reruns name no sender are told apart: each is named by its schedule id in the status', async () => {
    const source = w.client.workflow.getHandle(sourceWorkflowId('handstart'));
    await waitForCycles(source, 1);
    const ids = ['hand-rerun-a', 'hand-rerun-b'];
    for (const scheduleId of ids) {
      const schedule = await w.client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: '1 day' }] },
        action: { type: 'startWorkflow', workflowType: TRIGGER_WORKFLOW_TYPE, workflowId: `trigger-${scheduleId}`, taskQueue: queue, args: [{ source: 'handstart', taskQueue: queue, rerun: { tables: 'failed' } }] },
        state: { paused: true },
      });
      await schedule.trigger();
      // Nothing has failed: the source drops the rerun of failed tables.
      await waitForStatus(source, (st) => st.ignoredRequests.some((r) => r.requestId?.startsWith(`trigger-${scheduleId}`)), 30_000);
      await schedule.delete();
    }
    const s = await status(source);
    const dropped = s.ignoredRequests.filter((r) => ids.some((id) => r.requestId?.startsWith(`trigger-${id}`)));
    assert.deepEqual(
      dropped.map((r) => [r.requestedBy, r.times]),
      [
        ['schedule hand-rerun-b', undefined],
        ['schedule hand-rerun-a', undefined],
      ],
    );
  });

  test('before its first export, a request naming a table of thousands of characters is refused or dropped saying the longest a name may be, and no cycle runs', async () => {
    const long = `public.${'x'.repeat(100_000)}`;
    await w.client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('limits'), taskQueue: queue, args: [{ source: 'limits', syncOnStart: false }], signal: requestSyncSignal, signalArgs: [{ tables: [long, 'public.t0001'], requestId: 'long-sync' }] });
    const handle = w.client.workflow.getHandle(sourceWorkflowId('limits'));
    await handle.signal(requestRerunSignal, { tables: [long], requestId: 'long-rerun' });
    const refusal = (err: unknown) => (err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : String(err));
    const message = await handle.executeUpdate(syncUpdate, { args: [{ tables: [long] }] }).then(() => 'accepted', refusal);
    const reason = /^table names are at most 300 characters \(PostgreSQL names are at most 63 bytes each side of the dot, DynamoDB's 255 characters\); got "public\.x{193}\.\.\. \(100007 characters\)"$/;
    assert.match(message, reason);
    const s = await waitForStatus(handle, (st) => st.ignoredRequests.length >= 2, 20_000);
    assert.deepEqual(s.ignoredRequests.map((r) => r.requestId).sort(), ['long-rerun', 'long-sync']);
    for (const r of s.ignoredRequests) assert.match(r.reason, reason);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await status(handle);
    assert.deepEqual([after.queue, after.recentCycles, after.phase], [[], [], 'idle']);
    // A Schedule's trigger made by hand with such a name fails saying why, rather than succeed while the source drops it.
    const trigger = await w.client.workflow.start(TRIGGER_WORKFLOW_TYPE, { workflowId: 'trigger-long-name', taskQueue: queue, args: [{ source: 'limits', taskQueue: queue, sync: { tables: [long] } }] as unknown as [] });
    assert.match(await failureOf(trigger), /^the trigger workflow's sync cannot run: table names are at most 300 characters .*; fix the schedule's input/);
    await handle.terminate();
  });

  test('of a source the worker\'s config lacks fails naming the source and the config, not the manifest store', async () => {
    const handle = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('nosuch'), taskQueue: queue, args: [{ source: 'nosuch' }] });
    const message = await failureOf(handle);
    assert.match(message, /^the worker's config cannot serve source nosuch: /);
    assert.match(message, /add or correct nosuch in lakesync.yaml and restart the worker$/);
    assert.match(message, /the config defines: handstart/);
    assert.doesNotMatch(message, /manifest store/);
  });
});
