/**
 * A cycle cancelled while its export runs, or while its start waits out RDS refusals, stops the
 * export task: nothing will read it (its id is the cycle's own), and on AWS it would run, and be
 * billed, to its end. When it cannot be stopped, the cycle's error says so and what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles, waitForStatus } from '../helpers/source';
import { waitUntil } from '../helpers/within';

describe('a cycle cancelled during its export', () => {
  let env: TestServer;
  let stops: FakeWorker;
  let refuses: FakeWorker;
  const stopsQueue = uniqueQueue('exportcancel');
  const refusesQueue = uniqueQueue('exportcancelrefused');
  before(async () => {
    env = await startTestServer();
    stops = await startFakeWorker(fakeConfig(stopsQueue, { tables: 3 }, {}, 'stops'), { tables: 3, exportsRunning: true });
    const refusal = { phase: 'export-cancel' as const, table: '*', times: 'always' as const, retryable: false, message: 'AccessDenied: not authorized to perform rds:CancelExportTask' };
    refuses = await startFakeWorker(fakeConfig(refusesQueue, { tables: 3 }, {}, 'refuses'), { tables: 3, exportsRunning: true, failures: [refusal] });
  });
  after(async () => {
    await Promise.all([stops?.stop(), refuses?.stop()]);
    await env?.close();
  });

  /** Starts the source, waits until its cycle polls the running export, then cancels the cycle. */
  async function cancelDuringExport(w: FakeWorker, queue: string, source: string) {
    const handle = await startSource(w.client, queue, source);
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    await waitUntil(() => w.backend.count('export.describe') >= 2, `the cycle of ${source} polled its export`);
    await w.client.workflow.getHandle(running.currentCycle!.workflowId).cancel();
    const s = await waitForCycles(handle, 1);
    const exportIds = Object.keys(w.backend.state.exports);
    assert.equal(exportIds.length, 1, 'the cycle started one export');
    return { s, exportId: exportIds[0]!, handle };
  }

  test('the export task is cancelled and the cycle fails in phase export, saying so', async () => {
    const { s, exportId, handle } = await cancelDuringExport(stops, stopsQueue, 'stops');
    assert.equal(stops.backend.count('export.cancel'), 1, 'the export was cancelled once');
    assert.equal(stops.backend.state.exports[exportId]!.canceled, true, `export ${exportId} still runs`);
    assert.equal(s.lastCycle!.status, 'failed');
    assert.equal(s.lastCycle!.error?.phase, 'export');
    assert.equal(s.lastCycle!.error?.message, `the cycle was cancelled during export ${exportId}; the export task was cancelled`);
    assert.equal(stops.backend.count('load.start'), 0, 'no table was loaded');
    await handle.terminate('test done');
  });

  test('an export that cannot be cancelled is named with the refusal and what to do', async () => {
    const { s, exportId, handle } = await cancelDuringExport(refuses, refusesQueue, 'refuses');
    assert.equal(refuses.backend.state.exports[exportId]!.canceled, undefined);
    assert.equal(s.lastCycle!.status, 'failed');
    const message = s.lastCycle!.error?.message ?? '';
    for (const part of [`the cycle was cancelled during export ${exportId}, and the export task could not be cancelled`, 'AccessDenied: not authorized to perform rds:CancelExportTask', 'cancel it in the RDS console']) {
      assert.ok(message.includes(part), `${part} missing from: ${message}`);
    }
    await handle.terminate('test done');
  });

  test('cancelled while its export start waits out RDS refusals, the cycle cancels that export too', async () => {
    // The start is refused as RDS refuses while its export slots are taken, and retried until the cancel.
    const busy = { phase: 'export' as const, table: '*', times: 'always' as const, retryable: true, message: 'ExportTaskLimitReachedFault: too many export tasks in progress' };
    stops.backend.setFailures([busy]);
    const [startsBefore, cancelsBefore] = [stops.backend.count('export.start'), stops.backend.count('export.cancel')];
    const handle = await startSource(stops.client, stopsQueue, 'stops');
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    await waitUntil(() => stops.backend.count('export.start') >= startsBefore + 2, 'the refused export start was retried');
    await stops.client.workflow.getHandle(running.currentCycle!.workflowId).cancel();
    const s = await waitForCycles(handle, 1);
    stops.backend.setFailures([]);
    // The start may have reached RDS before its answer was lost: the export is cancelled by its id all the same.
    assert.equal(stops.backend.count('export.cancel'), cancelsBefore + 1, 'the export of the cancelled start was not cancelled');
    assert.equal(s.lastCycle!.status, 'failed');
    assert.equal(s.lastCycle!.error?.phase, 'export');
    assert.match(s.lastCycle!.error?.message ?? '', /^the cycle was cancelled during export \S+; the export task was cancelled$/);
    assert.equal(stops.backend.count('load.start'), 0, 'no table was loaded');
    await handle.terminate('test done');
  });
});
