/**
 * A source whose state is carried by reference follows the server's suggestion to continue as new
 * only after a cycle. Signals it drops (no cycle follows them) still grow its history: a sender
 * in a loop sending large requests it drops must not push the run past the history limit, where
 * the server terminates it and the requests sent after are lost.
 * The server's limits are lowered (suggestion after 10 events, error at 8 MB) so that a few
 * signals of 1 MB stand for many.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { type DevServer, startDevServer } from '../../src/devserver';
import { sourceWorkflowId } from '../../src/ids';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { readSourceStatus } from '../../src/status-pages';
import { SOURCE_WORKFLOW_TYPE, requestSyncSignal, type SourceStatus } from '../../src/workflows/messages';
import { fakeConfig, quietTemporalLogs, startFakeWorker, type FakeWorker, uniqueQueue } from '../helpers/env';
import { pollFor } from '../helpers/within';

const SOURCE = 'dropped';
const LIMIT = 8 * 1024;

describe('a source carried by reference, flooded with large signals it drops', () => {
  let dir: string;
  let server: DevServer;
  let w: FakeWorker;
  let handle: WorkflowHandle;
  const queue = uniqueQueue('dropped-big');

  const whole = (check: (s: SourceStatus) => boolean, what: string) =>
    pollFor(() => what, async () => {
      try {
        const s = await readSourceStatus(handle);
        return check(s) ? s : undefined;
      } catch {
        return undefined;
      }
    }, 120_000, 200);

  before(async () => {
    quietTemporalLogs();
    dir = mkdtempSync(join(tmpdir(), 'lakesync-dropped-big-'));
    server = await startDevServer({
      dbFile: join(dir, 'temporal.db'),
      searchAttributes: SEARCH_ATTRIBUTE_TYPES,
      extraArgs: [
        '--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=10',
        '--dynamic-config-value', 'limit.historySize.suggestContinueAsNew=1000000',
        '--dynamic-config-value', 'limit.historySize.warn=4000000',
        '--dynamic-config-value', 'limit.historySize.error=8000000',
      ],
    });
    process.env.TEMPORAL_ADDRESS = server.address;
    w = await startFakeWorker(fakeConfig(queue, { tables: 40 }, { batchSize: 5 }, SOURCE), { tables: 40 });
    await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: LIMIT }] });
    handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
  });
  after(async () => {
    await w?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('keeps running past what the history may hold, continuing as new; a sync sent after them is served', async () => {
    await whole((s) => s.recentCycles.length >= 1 && s.phase === 'idle', 'the first cycle');
    // The run after the first cycle reads its state by reference.
    await pollFor(() => 'a run holding its state by reference', async () => {
      const d = await handle.describe();
      const hist = await handle.fetchHistory();
      const started = hist.events?.[0]?.workflowExecutionStartedEventAttributes;
      const input = started ? JSON.parse(Buffer.from(started.input!.payloads![0]!.data!).toString()) : undefined;
      return d.status.name === 'RUNNING' && input?.stateRef ? true : undefined;
    }, 60_000, 200);
    // Each dropped: a sync has no field "note". The sender waits until the source has dropped each
    // one (or its run ended), so that what is measured is the history the drops leave, not whether
    // the worker keeps up with the sender on a busy machine.
    const big = 'x'.repeat(1_000_000);
    for (let i = 0; i < 12; i++) {
      await handle.signal(requestSyncSignal, { requestId: `loop-${i}`, note: big } as never);
      const d = await pollFor(() => `loop-${i} dropped, or the source's run ended`, async () => {
        const described = await handle.describe();
        if (described.status.name !== 'RUNNING') return described;
        try {
          return (await readSourceStatus(handle)).ignoredRequests.some((r) => r.requestId === `loop-${i}`) ? described : undefined;
        } catch {
          return undefined;
        }
      }, 120_000, 200);
      if (d.status.name !== 'RUNNING') {
        const { history } = await w.client.workflowService.getWorkflowExecutionHistoryReverse({ namespace: 'default', execution: { workflowId: d.workflowId, runId: d.runId }, maximumPageSize: 1 });
        const last = history?.events?.[0];
        assert.fail(`after ${i + 1} dropped signals of 1 MB the source workflow is ${d.status.name} (${d.historyLength} events, ${d.historySize} bytes): ${JSON.stringify(last?.workflowExecutionTerminatedEventAttributes?.reason ?? last?.eventType)}`);
      }
    }
    await handle.signal(requestSyncSignal, { requestId: 'after-the-flood', tables: ['public.t0001'] });
    const s = await whole((x) => x.recentCycles.some((c) => c.requestIds.includes('after-the-flood')), 'the sync sent after the flood served');
    assert.ok(s.ignoredRequests.some((r) => /unknown field/.test(r.reason)));
    const d = await handle.describe();
    assert.equal(d.status.name, 'RUNNING');
  });
});
