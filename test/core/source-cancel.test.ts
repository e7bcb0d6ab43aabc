/**
 * A cancelled source workflow keeps its state: the ledger, the failed tables and the queued
 * requests are stored on cancel and read back by the next start (signal-with-start, as the CLI
 * does it), once: a later start after a terminate begins afresh. The cycle cancelled with it
 * keeps the tables it committed before the cancel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { type FakeOptions, fakeTableNames } from '../../src/fake/ports';
import { sourceWorkflowId } from '../../src/ids';
import { readSourceStatus } from '../../src/status-pages';
import { type SourceWorkflowInput, type SyncRequest, SOURCE_WORKFLOW_TYPE, requestSyncSignal } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { pollFor, waitUntil } from '../helpers/within';
import { startSource, startSourceLikeCli, status, waitForCycles, waitForRunStatus, waitForStatus } from '../helpers/source';

const SOURCE = 'cancelkeep';
const [KEPT, QUEUED, FAILING] = fakeTableNames(3) as [string, string, string];
const MARKER_KEY = 'source-state/cancelled.json';

/** As `lakesync sync` starts a source that does not run. */
const startLikeCli = (client: Client, taskQueue: string, request: SyncRequest, options: Pick<SourceWorkflowInput, 'payloadInlineBytes'> = {}) => startSourceLikeCli(client, taskQueue, SOURCE, request, options);


describe('a cancelled source workflow', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('source-cancel');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, SOURCE), { tables: 3, latencyMs: 20 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('keeps its ledger, failed tables and queued requests for the next start, which takes them once', async () => {
    w.backend.setFailures([{ table: FAILING, phase: 'load', times: 'always', retryable: false, message: 'load refused' }]);
    const first = await startSource(w.client, queue, SOURCE);
    const one = await waitForCycles(first, 1);
    assert.ok(one.ledger[KEPT], 'the first cycle committed a table');
    assert.ok(one.failed[FAILING], 'the first cycle failed a table');
    w.backend.setFailures([]);

    // A second cycle runs long; a request queued meanwhile waits for it.
    w.backend.setLatencyByTable({ [KEPT]: 120_000 });
    await first.signal(requestSyncSignal, { tables: [KEPT], requestId: 'running', requestedBy: 'test' });
    await waitForStatus(first, (s) => s.currentCycle !== undefined);
    await first.signal(requestSyncSignal, { tables: [QUEUED], requestId: 'queued', requestedBy: 'test' });
    await waitForStatus(first, (s) => s.queue.some((r) => r.requestId === 'queued'));

    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');
    w.backend.setLatencyByTable({});

    const resumed = await startLikeCli(w.client, queue, { tables: [QUEUED], requestId: 'after-cancel', requestedBy: 'test' });
    // The first answer: a fresh start answers STATE_LOADING (asked again) until it has looked for a cancelled run's state.
    const early = await status(resumed);
    assert.ok(early.ledger[KEPT], `the ledger was lost on cancel: it holds ${JSON.stringify(Object.keys(early.ledger))}, not ${KEPT}`);
    assert.ok(early.failed[FAILING], `the failed tables were lost on cancel: ${JSON.stringify(Object.keys(early.failed))}`);
    const s = await waitForCycles(resumed, 3);
    assert.deepEqual(
      s.recentCycles.slice(0, 2).map((c) => c.requestIds),
      [['queued', 'after-cancel'], ['running']],
      `the queued request or the cancelled cycle was lost on cancel: ${JSON.stringify(s.recentCycles.map((c) => ({ requestIds: c.requestIds, status: c.status })))}`,
    );
    assert.equal(s.recentCycles[1]!.status, 'failed', 'the cycle cancelled with the source is recorded as failed');
    assert.ok(s.ledger[KEPT] && s.ledger[QUEUED], `a table's watermark was lost: ${JSON.stringify(Object.keys(s.ledger))}`);
    assert.ok(s.failed[FAILING], `the failed table was lost: ${JSON.stringify(s.failed)}`);
    assert.equal(Object.keys(w.backend.state.manifests).filter((k) => k === MARKER_KEY).length, 0, 'the marker of the cancelled state was not consumed by the start that read it');

    // Terminated, not cancelled: nothing is stored, and the next start does not read the older state again.
    await resumed.terminate('test');
    const fresh = await startLikeCli(w.client, queue, { tables: [QUEUED], requestId: 'fresh', requestedBy: 'test' });
    const afresh = await waitForCycles(fresh, 1);
    assert.deepEqual(afresh.recentCycles.map((c) => c.requestIds), [['fresh']], 'a start after a terminate resumed an older cancelled state');
    assert.deepEqual(Object.keys(afresh.ledger), [QUEUED], 'a start after a terminate resumed an older ledger');
    assert.deepEqual(afresh.failed, {}, 'a start after a terminate resumed older failed tables');
    await recordHistories(w.client, 'source-cancel', [sourceWorkflowId(SOURCE)]);
    await fresh.terminate('test done');
  });

  test('a state it left that cannot be read fails the start, saying how to restore it or start afresh', async () => {
    const first = await startLikeCli(w.client, queue, { requestId: 'before', requestedBy: 'test' });
    await waitForCycles(first, 1);
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');
    const parts = Object.keys(w.backend.state.manifests).filter((k) => k.startsWith('source-state/') && k !== MARKER_KEY);
    assert.ok(parts.length > 0 && MARKER_KEY in w.backend.state.manifests, 'the cancelled run stored its state and the marker');
    // The parts are lost (deleted by hand, say); the marker still points at them.
    w.backend.store.update((s) => parts.forEach((k) => delete s.manifests[k]));

    const broken = await startLikeCli(w.client, queue, { requestId: 'broken', requestedBy: 'test' });
    const failure = await broken.result().then(
      () => assert.fail('the start read a state whose parts are gone'),
      (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
    );
    for (const part of [`the state of source ${SOURCE} left by its cancelled run`, 'could not be read', 'restore the parts', 'delete source-state/cancelled.json']) {
      assert.ok(failure.includes(part), `${part} missing from: ${failure}`);
    }

    // As the message says: without the marker the next start begins afresh.
    w.backend.store.update((s) => delete s.manifests[MARKER_KEY]);
    const afresh = await startLikeCli(w.client, queue, { requestId: 'afresh', requestedBy: 'test' });
    const s = await waitForCycles(afresh, 1);
    assert.deepEqual(s.recentCycles.map((c) => c.requestIds), [['afresh']]);
    await afresh.terminate('test done');
  });

  test('a marker that cannot be read fails the start instead of beginning afresh over it', async () => {
    const loadsBefore = w.backend.count('load.start');
    w.backend.store.update((s) => (s.manifests[MARKER_KEY] = { note: 'not a state reference' }));
    const started = await startLikeCli(w.client, queue, { requestId: 'over-a-bad-marker', requestedBy: 'test' });
    const failure = await started.result().then(
      () => assert.fail('the start went on over a marker it could not read'),
      (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
    );
    for (const part of [`source ${SOURCE} could not look for the state a cancelled run may have left`, 'holds no state reference', 'delete that file to start the source afresh']) {
      assert.ok(failure.includes(part), `${part} missing from: ${failure}`);
    }
    assert.ok(MARKER_KEY in w.backend.state.manifests, 'the marker is left for the user to restore or delete');
    assert.equal(w.backend.count('load.start'), loadsBefore, 'no cycle ran');
    w.backend.store.update((s) => delete s.manifests[MARKER_KEY]);
  });

  test('keeps the tables the cycle cancelled with it committed: their watermarks advance, only the others are failed', async () => {
    const commitsBefore = w.backend.count(`load.commit:${QUEUED}`);
    w.backend.setLatencyByTable({ [KEPT]: 120_000 });
    // Under a limit this small the cancelled cycle cannot hand over its outcomes (they go by reference, and its
    // store fails in the cancelled scope), so it ends without a result: the source reads them back from the lake.
    const small = { payloadInlineBytes: 1024 };
    const first = await startLikeCli(w.client, queue, { tables: [KEPT, QUEUED], requestId: 'one-slow', requestedBy: 'test' }, small);
    const running = await waitForStatus(first, (s) => s.currentCycle !== undefined);
    const cycleId = running.currentCycle!.cycleId;
    // One table of the cycle is in the lake, the other still loads, when the source is cancelled.
    await waitUntil(() => w.backend.count(`load.commit:${QUEUED}`) > commitsBefore, `${QUEUED} committed`);
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');
    w.backend.setLatencyByTable({});

    const resumed = await startLikeCli(w.client, queue, { tables: [QUEUED], requestId: 'after', requestedBy: 'test' }, small);
    await status(resumed);
    // The whole status, its ledger and failed tables paged (too large for the small limit).
    const s = await readSourceStatus(resumed);
    const lake = Object.values(w.backend.state.lake).find((t) => t.lastCommit?.cycleId === cycleId);
    assert.ok(lake, 'the cancelled cycle committed a lake table');
    assert.equal(s.ledger[QUEUED]?.icebergSnapshotId, lake.lastCommit!.icebergSnapshotId,
      `the watermark of ${QUEUED}, committed before the cancel, did not advance: ${JSON.stringify(s.ledger[QUEUED] ?? null)}`);
    assert.equal(s.failed[QUEUED], undefined, `${QUEUED} is in the lake but recorded failed: ${JSON.stringify(s.failed[QUEUED])}`);
    assert.equal(s.failed[KEPT]?.cycleId, cycleId, `${KEPT}, cut short by the cancel, is not recorded failed for a rerun: ${JSON.stringify(s.failed)}`);
    await waitForCycles(resumed, 2);
    await recordHistories(w.client, 'source-cancel-commits', [first.workflowId]);
    await resumed.terminate('test done');
  });

  test('keeps a request it took while it marked its stored state, storing and marking that state again', async () => {
    const first = await startLikeCli(w.client, queue, { tables: [KEPT], requestId: 'before-marking', requestedBy: 'test' });
    await waitForCycles(first, 1);
    const runId = (await first.describe()).runId;
    const backend = w.backend as unknown as { options: FakeOptions };
    // Every backend call now takes 3 s, so a request can come while the marker is written.
    backend.options = { ...backend.options, callLatencyMs: 3_000 };
    try {
      await first.cancel();
      const firstCopy = `source-state/${runId}/cancelled-1/`;
      await pollFor(() => 'the cancelled run to store its state', async () => Object.keys(w.backend.state.manifests).find((k) => k.startsWith(firstCopy)), 30_000, 20);
      // The state is stored and compared; the next write is the marker's.
      const puts = w.backend.count('manifest.put');
      await waitUntil(() => w.backend.count('manifest.put') > puts, 'the marker write to begin');
      await first.signal(requestSyncSignal, { tables: [QUEUED], requestId: 'while-marking', requestedBy: 'test' });
      await waitForRunStatus(first, 'CANCELLED');
    } finally {
      backend.options = { ...backend.options, callLatencyMs: 0 };
    }
    const copies = new Set(Object.keys(w.backend.state.manifests).filter((k) => k.startsWith(`source-state/${runId}/`)).map((k) => k.slice(0, k.lastIndexOf('/'))));
    assert.equal(copies.size, 1, `the cancelled run left more than the copy of its state it marked: ${JSON.stringify([...copies])}`);

    const resumed = await startLikeCli(w.client, queue, { tables: [KEPT], requestId: 'after-marking', requestedBy: 'test' });
    const s = await waitForCycles(resumed, 2);
    await recordHistories(w.client, 'source-cancel-marking', [first.workflowId]);
    const served = s.recentCycles.flatMap((c) => c.requestIds);
    assert.ok(served.includes('while-marking'), `the request taken while the marker was written was lost: the resumed source served ${JSON.stringify(served)}`);
    assert.ok(s.ledger[QUEUED], `the table of that request was not loaded: ${JSON.stringify(Object.keys(s.ledger))}`);
    await resumed.terminate('test done');
  });
});

describe('a source cancelled during the first cycle of a rerun that runs as two', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('source-cancel-parts');
  const source = 'cancelparts';
  const [a, c] = fakeTableNames(3) as [string, string, string];
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, source), { tables: 3, latencyMs: 20 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('records the cancelled cycle only: no cycle of the second export is started, nor recorded as failed', async () => {
    const first = await startSource(w.client, queue, source);
    await waitForCycles(first, 1);
    // a is last committed from a second, table-limited export; c from the first: a rerun of both runs as two cycles.
    await first.signal(requestSyncSignal, { tables: [a], requestId: 'only-a' });
    await waitForCycles(first, 2);
    w.backend.setLatencyByTable({ [c]: 120_000 });
    await first.signal('requestRerun', { tables: [a, c], requestId: 'both' });
    const running = await waitForStatus(first, (s) => s.currentCycle?.kind === 'rerun');
    const loads = w.backend.count(`load.start:${c}`);
    await waitUntil(() => w.backend.count(`load.start:${c}`) > loads, `${c} loads`);
    await first.cancel();
    await waitForRunStatus(first, 'CANCELLED');
    w.backend.setLatencyByTable({});

    const input: SourceWorkflowInput = { source, syncOnStart: false };
    await w.client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(source), taskQueue: queue, args: [input], signal: requestSyncSignal, signalArgs: [{ tables: [a], requestId: 'after' }] });
    const resumed = w.client.workflow.getHandle(sourceWorkflowId(source));
    const s = await waitForCycles(resumed, 4);
    assert.deepEqual(
      s.recentCycles.map((cy) => [cy.requestIds, cy.part ?? null, cy.status]),
      [[['after'], null, 'succeeded'], [['both'], { index: 1, of: 2 }, 'failed'], [['only-a'], null, 'succeeded'], [['r1'], null, 'succeeded']],
      `a cycle was recorded that never ran: ${JSON.stringify(s.recentCycles.map((cy) => ({ ids: cy.requestIds, part: cy.part, status: cy.status, workflowId: cy.workflowId })))}`,
    );
    assert.equal(running.currentCycle!.workflowId, s.recentCycles[1]!.workflowId);
    await resumed.terminate('test done');
  });
});
