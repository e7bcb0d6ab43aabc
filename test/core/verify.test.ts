/**
 * Verification does not take the load job's word: on a real Temporal dev server with fake ports,
 * a job that loses rows and reports the count it left fails its table in phase verify.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rerunUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';

describe('verification against the export on a real Temporal server', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('miscount');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 3 }, {}, 'miscount'), {
      tables: 3,
      rowsPerTable: 100,
      wrongCounts: [{ table: 'public.t0002', rowCountAfter: 90 }],
    });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('a load that reports a wrong row count fails its table in phase verify; the others commit', async () => {
    const handle = await startSource(w.client, queue, 'miscount');
    const s = await waitForCycles(handle, 1);
    const cycle = s.lastCycle!;
    assert.equal(cycle.status, 'partial');
    const byTable = Object.fromEntries(cycle.tables.map((t) => [t.table, t]));
    assert.equal(byTable['public.t0001']!.status, 'committed');
    assert.equal(byTable['public.t0003']!.status, 'committed');
    const bad = byTable['public.t0002']!;
    assert.equal(bad.status, 'failed', 'the job left and reported 90 rows; the export has 100');
    assert.equal(bad.error?.phase, 'verify');
    assert.equal(bad.error?.type, 'VerificationFailed');
    assert.equal(bad.error?.retryable, false);
    assert.match(bad.error?.message ?? '', /verification of public\.t0002 \(shop\.t0002\) failed: row count at snapshot 1: expected 100, got 90/);
    assert.match(bad.error?.message ?? '', /the export's Parquet files/);
    assert.match(bad.error?.message ?? '', /lakesync rerun miscount --tables public\.t0002/);
    assert.ok(!s.ledger['public.t0002'], 'no watermark for a table that failed verification');
    assert.ok(s.ledger['public.t0001'], 'the other tables advance');
  });

  test('once the job loads every row, a rerun of the failed table verifies and commits', async () => {
    w.backend.setWrongCounts([]);
    const handle = w.client.workflow.getHandle('lakesync/miscount');
    const accepted = await handle.executeUpdate(rerunUpdate, { args: [{ tables: 'failed' }] });
    assert.deepEqual(accepted.tables, ['public.t0002']);
    const s = await waitForCycles(handle, 2);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    assert.equal(s.ledger['public.t0002']!.rowCount, 100);
    await recordHistories(w.client, 'verify-miscount', ['lakesync/miscount']);
  });
});
