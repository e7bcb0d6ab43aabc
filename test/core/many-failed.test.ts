/**
 * A cycle whose every table failed (a broken role fails them all): its result, held by reference,
 * names only the first failed tables, so thousands of names do not make it as large as the outcomes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CycleResult } from '../../src/model';
import { sourceWorkflowId } from '../../src/ids';
import { readSourceStatus } from '../../src/status-pages';
import { FAILED_TABLES_LISTED } from '../../src/workflows/cycle';
import { SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { waitForCycles } from '../helpers/source';

const SOURCE = 'manyfailed';
const TABLES = Array.from({ length: FAILED_TABLES_LISTED + 20 }, (_, i) => `public.t${String(i).padStart(4, '0')}_${'x'.repeat(40)}`);

describe('every table of a cycle failed', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('manyfailed');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLES }, { batchSize: 20 }, SOURCE), {
      tables: TABLES,
      failures: [{ table: '*', phase: 'load', times: 'always', retryable: false, message: 'the Glue role may not read the export' }],
    });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test(`the result names the first ${FAILED_TABLES_LISTED} failed tables and counts them all`, { timeout: 240_000 }, async () => {
    await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: 8 * 1024 }] });
    const handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
    const s = await waitForCycles(handle, 1, 200_000);
    assert.equal(s.recentCycles[0]!.counts.failed, TABLES.length);
    const result = (await w.client.workflow.getHandle(s.recentCycles[0]!.workflowId).result()) as CycleResult;
    assert.ok(result.tablesRef, 'outcomes held by reference');
    assert.equal(result.tablesRef.counts.failed, TABLES.length);
    assert.deepEqual(result.tablesRef.failedTables, TABLES.slice(0, FAILED_TABLES_LISTED));
    assert.equal(Object.keys((await readSourceStatus(handle)).failed).length, TABLES.length, 'every failed table is kept for a rerun');

    // The plan's lists came by reference, and their parts went once the cycle had read them.
    const cycle = s.recentCycles[0]!;
    const events = (await w.client.workflow.getHandle(cycle.workflowId).fetchHistory()).events ?? [];
    const partsRead = events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === 'readPayloadPart' ? [Buffer.from(a.input!.payloads![0]!.data!).toString()] : [];
    });
    assert.ok(partsRead.some((input) => input.includes(`${cycle.cycleId}/plan-items`)), `plan lists read by reference: ${partsRead.join(' ')}`);
    assert.deepEqual(Object.keys(w.backend.state.manifests).filter((key) => key.startsWith(`${cycle.cycleId}/plan-items`)), []);
  });
});
