/**
 * A batch whose outcomes would pass the inline limit (batchSize up to 500 tables, a few hundred
 * bytes each) hands them to its cycle by reference, as the cycle does to its source: no batch
 * result in any history exceeds the limit, and the cycle still books every table's outcome.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { sourceWorkflowId } from '../../src/ids';
import { readSourceStatus } from '../../src/status-pages';
import type { BatchOutcomesRef } from '../../src/workflows/batch';
import { SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { historyPayloadSizes } from '../helpers/payload-sizes';
import { pollFor } from '../helpers/within';

const SOURCE = 'bigbatch';
const TABLE_COUNT = 40;
const LIMIT = 8 * 1024;
const FAILING = ['public.t0007', 'public.t0030'];

describe(`a batch of ${TABLE_COUNT} tables under an inline limit of ${LIMIT} bytes`, () => {
  let env: TestServer;
  let w: FakeWorker;
  let handle: WorkflowHandle;
  const queue = uniqueQueue('batch-payloads');
  before(async () => {
    env = await startTestServer();
    // One batch holds every table: its outcomes are larger than the limit.
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLE_COUNT }, { batchSize: TABLE_COUNT }, SOURCE), {
      tables: TABLE_COUNT,
      failures: FAILING.map((table) => ({ table, phase: 'load' as const, times: 'always' as const, retryable: false, message: `column amount cannot be cast in ${table}` })),
    });
    handle = await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: LIMIT }] });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('hands its outcomes to the cycle by reference; the cycle books every table, and the parts are deleted', async () => {
    const s = await pollFor(
      () => 'the first cycle to be recorded',
      async () => {
        const x = await readSourceStatus(handle);
        return x.recentCycles.length >= 1 && x.phase === 'idle' ? x : undefined;
      },
      120_000,
      200,
    );
    const cycle = s.recentCycles[0]!;
    assert.deepEqual(cycle.counts, { committed: TABLE_COUNT - FAILING.length, failed: FAILING.length, skipped: 0 });
    assert.deepEqual(Object.keys(s.failed).sort(), FAILING);
    assert.equal(Object.keys(s.ledger).length, TABLE_COUNT - FAILING.length);
    for (const t of FAILING) assert.match(s.failed[t]!.message, /cannot be cast/);

    const sizes = await historyPayloadSizes(w.client, `lakesync/${SOURCE}`);
    const batchResults = sizes.filter((x) => /CHILD_WORKFLOW_EXECUTION_COMPLETED|WORKFLOW_EXECUTION_COMPLETED/.test(x.where) && /batch|CHILD/.test(`${x.workflowId} ${x.where}`));
    assert.ok(batchResults.length > 0, 'the batch results were measured');
    const largest = batchResults[0]!;
    assert.ok(largest.bytes <= LIMIT, `the batch's result is ${largest.bytes} bytes: ${largest.where} in ${largest.workflowId} (event ${largest.eventId})`);
    // The batch's result is a reference; nothing reads its parts once the cycle has them.
    const batch = (await w.client.workflow.getHandle(`${cycle.workflowId}/batch-1`).result()) as BatchOutcomesRef;
    assert.ok(batch.tablesRef && batch.tablesRef.parts.length > 1, `the batch's outcomes came by reference: ${JSON.stringify(batch).slice(0, 200)}`);
    for (const part of batch.tablesRef.parts) assert.ok(!(part.replace('fake://manifests/', '') in w.backend.state.manifests), `part ${part} of the batch's outcomes was not deleted once read`);
    await recordHistories(w.client, 'batch-payloads', [sourceWorkflowId(SOURCE)]);
    await handle.terminate('test done');
  });
});
