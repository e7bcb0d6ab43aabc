/**
 * A source workflow cancelled while its new run (after continue-as-new) reads the state carried
 * by reference: the state is kept for the next start, as for any cancel, instead of the run
 * failing as if the state could not be read and the next start beginning afresh.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { FakeOptions } from '../../src/fake/ports';
import { sourceWorkflowId } from '../../src/ids';
import { requestSyncSignal, SOURCE_WORKFLOW_TYPE, type SourceWorkflowInput } from '../../src/workflows/messages';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { fakeConfig, quietTemporalLogs, startFakeWorker, type FakeWorker, uniqueQueue } from '../helpers/env';
import { waitForCycles, waitForStatus } from '../helpers/source';
import { pollFor } from '../helpers/within';

const SOURCE = 'carriedcancel';
const LIMIT = 1024;

/** How the run ended, once it has. */
function runEnded(run: WorkflowHandle): Promise<string> {
  return pollFor(
    () => 'the run to end',
    async () => {
      const d = await run.describe();
      return d.status.name === 'RUNNING' ? undefined : d.status.name;
    },
    60_000,
    100,
  );
}

/** Starts the source again as the CLI does, with a sync request. */
async function startAgain(client: Client, taskQueue: string, requestId: string): Promise<void> {
  const input: SourceWorkflowInput = { source: SOURCE, syncOnStart: false, payloadInlineBytes: LIMIT };
  await client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue, args: [input], signal: requestSyncSignal, signalArgs: [{ requestId }] });
}

describe('a source cancelled while it reads the state it carried over', () => {
  let dir: string;
  let server: DevServer;
  let w: FakeWorker;
  const queue = uniqueQueue('carried-cancel');
  before(async () => {
    quietTemporalLogs();
    dir = mkdtempSync(join(tmpdir(), 'lakesync-carried-cancel-'));
    // The server suggests continue-as-new after a few events: the source continues after its first cycle.
    server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES, extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=10'] });
    process.env.TEMPORAL_ADDRESS = server.address;
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, SOURCE), { tables: 2 });
  });
  after(async () => {
    await w?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('ends cancelled, and the next start takes up that state', async () => {
    const started = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: LIMIT }] });
    // Every backend call takes a while: the new run's read of the carried state can be cancelled.
    const backend = w.backend as unknown as { options: FakeOptions };
    backend.options = { ...backend.options, callLatencyMs: 1_500 };
    const handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    const next = await pollFor(
      () => 'a run after continue-as-new',
      async () => {
        const d = await handle.describe();
        return d.runId !== started.firstExecutionRunId ? d.runId : undefined;
      },
      180_000,
      50,
    );
    await w.client.workflow.getHandle(sourceWorkflowId(SOURCE), next).cancel();
    const ended = await runEnded(w.client.workflow.getHandle(sourceWorkflowId(SOURCE), next));
    backend.options = { ...backend.options, callLatencyMs: 0 };
    assert.equal(ended, 'CANCELLED');

    await startAgain(w.client, queue, 'after');
    const s = await waitForCycles(handle, 2, 60_000);
    assert.deepEqual(s.recentCycles.map((c) => c.requestIds), [['after'], ['r1']], 'the first cycle, carried over, was lost');
  });

  test('keeps a request that came while it read that state, with the state', async () => {
    const handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    const backend = w.backend as unknown as { options: FakeOptions };
    const idle = (await handle.describe()).runId;
    backend.options = { ...backend.options, callLatencyMs: 1_500 };
    // One more cycle, after which the source continues as new: its next run reads the state slowly.
    await handle.signal(requestSyncSignal, { requestId: 'one-more' });
    const next = await pollFor(
      () => 'a run after the next continue-as-new',
      async () => {
        const d = await handle.describe();
        return d.runId !== idle && d.status.name === 'RUNNING' && d.historyLength <= 8 ? d.runId : undefined;
      },
      180_000,
      20,
    );
    const reading = w.client.workflow.getHandle(sourceWorkflowId(SOURCE), next);
    await reading.signal(requestSyncSignal, { requestId: 'while-reading', requestedBy: 'test' });
    await reading.cancel();
    const ended = await runEnded(reading);
    backend.options = { ...backend.options, callLatencyMs: 0 };
    assert.equal(ended, 'CANCELLED');

    await startAgain(w.client, queue, 'after-reading');
    const s = await waitForStatus(handle, (st) => st.phase === 'idle' && st.recentCycles.some((c) => c.requestIds.includes('after-reading')));
    const served = s.recentCycles.flatMap((c) => c.requestIds);
    assert.ok(served.includes('while-reading'), `the request that came while the cancelled run read its state was lost: the resumed source served ${JSON.stringify(served)}`);
    assert.ok(served.includes('one-more') && served.includes('after-reading'), `a cycle was lost: ${JSON.stringify(served)}`);
  });
});
