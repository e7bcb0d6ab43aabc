/**
 * Waiting for a DynamoDB export takes one activity for as long as the export runs (hours for a
 * large table). A worker restarted meanwhile (a deploy) is no failure of the wait: the next worker
 * goes on waiting, however many restarts the export outlasts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { FakeBackend } from '../../src/fake/ports';
import { connectClient, temporalTarget } from '../../src/temporal';
import { startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { fakeDynamoConfig } from '../helpers/dynamodb-source';
import { startSource, status, waitForCycles } from '../helpers/source';
import { pollFor } from '../helpers/within';

const TABLE = 'dynamodb.orders';
const ATTEMPTS = 2;


describe('a DynamoDB export that outlasts worker restarts', () => {
  let env: TestServer;
  let w: FakeWorker | undefined;
  let client: Client | undefined;
  const queue = uniqueQueue('ddb-restart');
  const config = fakeDynamoConfig(queue, 'ddbrestart', { maximumAttempts: ATTEMPTS });
  // The export stays in progress until the test lets it end.
  const backend = new FakeBackend({ tables: [TABLE], dynamodb: true, latencyMs: 20, rowsPerTable: 10, tableExportPolls: 1_000_000 });
  before(async () => {
    env = await startTestServer();
    w = await startWorkerOver(config, backend);
  });
  after(async () => {
    await w?.stop();
    await client?.connection.close();
    await env?.close();
  });

  test(`is waited for through ${ATTEMPTS + 1} worker restarts (retry.maximumAttempts ${ATTEMPTS}) and loads`, async () => {
    // A client of its own: each worker's goes with it.
    client = await connectClient(temporalTarget(config));
    const handle = await startSource(client, queue, 'ddbrestart');
    const described = () => backend.tableExports(TABLE)[0]?.described ?? 0;
    /** Waits until the export is polled again; the cycle ending first is the failure. */
    const polledOrEnded = async (when: string) => {
      const before = described();
      const ended = await pollFor(`${when}: the export polled again`, async () => {
        if (described() > before + 1) return { ended: false };
        const s = await status(handle);
        return s.recentCycles.length > 0 ? { ended: true, table: s.lastCycle?.tables.find((t) => t.table === TABLE) } : undefined;
      }, 60_000);
      assert.equal(ended.ended, false, `${when}: the cycle ended, ${TABLE} ${ended.ended ? JSON.stringify(ended.table?.error) : ''}`);
    };
    for (let restart = 1; restart <= ATTEMPTS + 1; restart++) {
      // A worker polls the export, then goes away in the middle of the wait.
      await polledOrEnded(`restart ${restart}`);
      await w!.stop();
      w = undefined;
      w = await startWorkerOver(config, backend);
    }
    await polledOrEnded('after the last restart');
    backend.setTableExportPolls(0);
    const s = await waitForCycles(handle, 1, 120_000);
    assert.equal(s.recentCycles[0]!.status, 'succeeded', JSON.stringify(s.lastCycle?.tables));
    assert.equal(s.ledger[TABLE]?.extract, 'dynamodb');
    assert.equal(backend.tableExports(TABLE).length, 1, 'one export, waited for throughout');
  });
});
