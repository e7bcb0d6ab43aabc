/**
 * The cost of a DynamoDB table whose export completed without a billed size: the export was billed
 * all the same, so the table's cost, and its cycle's, say that their figures are a lower bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { fakeDynamoConfig } from '../helpers/dynamodb-source';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = ['dynamodb.orders', 'dynamodb.events'];

describe('a DynamoDB export that completes without a billed size', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('ddbunsized');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeDynamoConfig(queue, 'ddbunsized', { settings: { concurrency: 10 } }), { tables: TABLES, dynamodb: true, latencyMs: 20, rowsPerTable: 100, dpuSecondsPerRun: 60, tableExportsWithoutBilledSize: ['dynamodb.events'] });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test("leaves the table's export GB out and marks its cost and the cycle's as partial, naming the export", async () => {
    const handle = await startSource(w.client, queue, 'ddbunsized');
    const first = await waitForCycles(handle, 1);
    const tables = first.lastCycle!.tables;
    const events = tables.find((t) => t.table === 'dynamodb.events')!;
    const orders = tables.find((t) => t.table === 'dynamodb.orders')!;
    assert.equal(events.status, 'committed', JSON.stringify(events));
    assert.equal(orders.cost?.exportGB !== undefined, true, `a sized export is booked: ${JSON.stringify(orders.cost)}`);
    assert.equal(orders.cost?.partial, undefined, 'a sized export is complete');
    assert.equal(events.cost?.exportGB, undefined, 'no size: no GB');
    assert.match(events.cost?.partial ?? '', /DynamoDB export \S+ of dynamodb\.events reported no billed size/, `the cost says why it is short: ${JSON.stringify(events.cost)}`);
    assert.equal(first.recentCycles[0]!.cost?.partial, 1, `the cycle's total is a lower bound: ${JSON.stringify(first.recentCycles[0]!.cost)}`);
    await handle.terminate('test done').catch(() => undefined);
  });
});
