/**
 * A DynamoDB table whose later export window cannot be started (DynamoDB refuses the start) fails,
 * and keeps the cost of the exports started before it: they ran and were billed all the same.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { BYTES_PER_GB } from '../../src/cost/ledger';
import { requestSyncSignal } from '../../src/workflows/messages';
import { fakeDynamoSource } from '../helpers/dynamodb-source';
import { startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';

describe('a DynamoDB table whose second export window is refused at its start', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('ddb-start-refused');
  const tables = ['dynamodb.orders', 'dynamodb.events'];

  before(async () => {
    env = await startTestServer();
    const config = parseConfig({
      temporal: { taskQueue: queue },
      sources: {
        // The fake's incremental windows are 2 s at most: a gap of a few seconds takes several.
        ddbstart: fakeDynamoSource({ source: { exportWindow: { maxWindows: 30 } }, settings: { cost: { dynamodbFullExportPerGB: 1000, dynamodbIncrementalExportPerGB: 2000 } } }),
      },
    });
    w = await startFakeWorker(config, { tables, dynamodb: true, latencyMs: 20, rowsPerTable: 100, dpuSecondsPerRun: 30, windowLimits: { minSeconds: 1, maxSeconds: 2 } });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('fails in export with the refusal, and keeps the cost of the export started before it', async () => {
    const handle = await startSource(w.client, queue, 'ddbstart');
    const first = await waitForCycles(handle, 1);
    assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
    // 5000 change records half a second after the export time orders reached: in its first window. A gap of more than 2 s takes more than one.
    w.backend.appendRows('dynamodb.orders', 5000, Date.parse(first.ledger['dynamodb.orders']!.snapshotTime) + 500);
    await delay(3_100);
    // The first window's start passes; the second is refused for good (no export made).
    w.backend.setFailures([{ table: 'dynamodb.orders', phase: 'export-start', after: 1, times: 'always', retryable: false, message: 'ValidationException: the export window is refused' }]);
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    const second = await waitForCycles(handle, 2);
    w.backend.setFailures([]);
    const exports = w.backend.tableExports('dynamodb.orders').filter((e) => e.window.type === 'INCREMENTAL');
    assert.equal(exports.length, 1, 'only the first window was started');
    assert.equal(exports[0]!.itemCount, 5000);
    const orders = second.lastCycle!.tables.find((t) => t.table === 'dynamodb.orders')!;
    assert.equal(orders.status, 'failed');
    assert.equal(orders.error?.phase, 'export');
    assert.match(orders.error?.message ?? '', /export window is refused/);
    // The first window's 5000 change records, billed 100 bytes each by the fake, at the incremental price; no load ran.
    const gb = 500_000 / BYTES_PER_GB;
    const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
    assert.deepEqual(orders.cost, { basis: 'modelled', exportGB: round6(gb), exportUsd: round6(gb * 2000) }, `the cost of orders: ${JSON.stringify(orders.cost ?? null)}`);
    assert.equal(second.lastCycle!.tables.find((t) => t.table === 'dynamodb.events')!.status, 'committed');
    await recordHistories(w.client, 'export-start-cost', ['lakesync/ddbstart']);
    await handle.terminate('test done');
  });
});
