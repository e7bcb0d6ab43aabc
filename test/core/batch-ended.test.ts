/**
 * A batch workflow that ends without a result (terminated, say) while its cycle goes on: the
 * tables it committed before it ended are in the lake, so they count as committed and their
 * watermarks advance; only the others fail and are left for a rerun.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeTableNames } from '../../src/fake/ports';
import { batchWorkflowId } from '../../src/ids';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles, waitForStatus } from '../helpers/source';
import { waitUntil } from '../helpers/within';

const TABLES = fakeTableNames(6);
const FAST = TABLES.slice(0, 3);
const SLOW = TABLES.slice(3);

describe('a batch that ends without a result', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('batchend');
  before(async () => {
    env = await startTestServer();
    // Three loads finish at once, three run long enough for the batch to be terminated meanwhile.
    const latencyMsByTable = Object.fromEntries([...FAST.map((t) => [t, 50]), ...SLOW.map((t) => [t, 20_000])]);
    w = await startFakeWorker(fakeConfig(queue, { tables: 6 }, {}, 'batchend'), { tables: 6, latencyMsByTable, exportGBPerTable: 2 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('its committed tables keep their commit and advance their watermark; only the others fail', async () => {
    const handle = await startSource(w.client, queue, 'batchend');
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    await waitUntil(() => FAST.every((t) => w.backend.count(`load.commit:${t}`) === 1), 'the fast tables committed');
    // The batch has verified the fast tables (grant and verify are its last steps for a table) before it ends.
    await waitUntil(() => w.backend.count('verify') >= FAST.length, 'the batch verified the fast tables');
    await w.client.workflow.getHandle(batchWorkflowId(running.currentCycle!.workflowId, 1)).terminate('stuck batch');

    const s = await waitForCycles(handle, 1);
    const byTable = Object.fromEntries(s.lastCycle!.tables.map((t) => [t.table, t]));
    for (const t of FAST) {
      assert.equal(byTable[t]!.status, 'committed', `${t} committed before the batch ended`);
      assert.match(byTable[t]!.reason ?? '', /^recovered from the lake's lineage: batch .*batch-1 failed/);
      assert.ok(s.ledger[t], `${t} has its watermark`);
      assert.equal(s.failed[t], undefined, `${t} is not left for a rerun`);
    }
    for (const t of SLOW) {
      assert.equal(byTable[t]!.status, 'failed', `${t} had not committed`);
      assert.match(byTable[t]!.error?.message ?? '', /batch .*batch-1 failed/);
      assert.equal(s.ledger[t], undefined);
    }
    assert.deepEqual(Object.keys(s.failed).sort(), SLOW);
    assert.equal(s.recentCycles[0]!.status, 'partial');
    // The cycle's export was billed for every table, those the batch left unloaded too.
    for (const t of TABLES) {
      const { partial, ...figures } = byTable[t]!.cost ?? {};
      assert.deepEqual(figures, { basis: 'modelled', exportGB: 2, exportUsd: 0.02 }, t);
      // The runs of the tables the batch left loading still go: their cost says those runs are left out.
      if (SLOW.includes(t)) assert.match(partial ?? '', /still going when the dead cycle was read back/, t);
      else assert.equal(partial, undefined, t);
    }
    assert.deepEqual(s.recentCycles[0]!.cost, { basis: 'modelled', tables: 6, exportGB: 12, exportUsd: 0.12, usd: 0.12, partial: SLOW.length });
  });
});

describe('a batch that ends without a result after a table failed its verification', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('batchendverify');
  const [unverified, good, ...slow] = fakeTableNames(4);
  before(async () => {
    env = await startTestServer();
    const latencyMsByTable = Object.fromEntries([[unverified!, 50], [good!, 50], ...slow.map((t) => [t, 30_000])]);
    w = await startFakeWorker(fakeConfig(queue, { tables: 4 }, {}, 'batchendverify'), { tables: 4, latencyMsByTable });
    w.backend.setFailures([{ table: unverified!, phase: 'verify', times: 'always', retryable: false, message: 'row count mismatch: export 100, lake 37' }]);
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('its commit is in the lake, yet it stays failed in verify with no watermark; a verified table is recovered', async () => {
    const handle = await startSource(w.client, queue, 'batchendverify');
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    // `verify` counts every verification; `failures.verify.<table>` those of the table whose verification fails.
    await waitUntil(() => w.backend.count(`failures.verify.${unverified}`) >= 1 && w.backend.count('verify') >= 2, 'both fast tables were verified once');
    await w.client.workflow.getHandle(batchWorkflowId(running.currentCycle!.workflowId, 1)).terminate('stuck batch');

    const s = await waitForCycles(handle, 1);
    const byTable = Object.fromEntries(s.lastCycle!.tables.map((t) => [t.table, t]));
    assert.equal(w.backend.count(`load.commit:${unverified}`), 1, 'the load committed');
    assert.equal(byTable[unverified!]!.status, 'failed', 'a commit that fails verification is no committed table');
    assert.equal(byTable[unverified!]!.error?.phase, 'verify');
    assert.match(byTable[unverified!]!.error?.message ?? '', /the cycle ended after .* committed and before it was verified; verifying it now failed: .*row count mismatch/);
    assert.equal(s.ledger[unverified!], undefined, 'no watermark for an unverified table');
    assert.ok(s.failed[unverified!], 'it is left for a rerun');
    assert.ok(w.backend.count(`failures.verify.${unverified}`) >= 2, 'recovery verified the commit again');

    assert.equal(byTable[good!]!.status, 'committed');
    assert.equal(byTable[good!]!.verified, true, 'the recovered table was verified by recovery');
    assert.ok(s.ledger[good!], 'a verified recovered table advances its watermark');
    for (const t of slow) assert.equal(byTable[t]!.status, 'failed');
  });
});

describe('a later batch of a cycle that ends without a result', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('batchendlater');
  // Two tables per batch: batch 1 finishes; in batch 2 one table commits, one runs long.
  const [first, second, committed, slow] = fakeTableNames(4);
  before(async () => {
    env = await startTestServer();
    const latencyMsByTable = { [first!]: 50, [second!]: 50, [committed!]: 50, [slow!]: 30_000 };
    w = await startFakeWorker(fakeConfig(queue, { tables: 4 }, { batchSize: 2 }, 'batchendlater'), { tables: 4, latencyMsByTable });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test("recovery reads back and verifies that batch's tables only, not those earlier batches verified already", async () => {
    const handle = await startSource(w.client, queue, 'batchendlater');
    const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
    await waitUntil(() => w.backend.count('verify') >= 3, 'batch 1 and the fast table of batch 2 were verified');
    await w.client.workflow.getHandle(batchWorkflowId(running.currentCycle!.workflowId, 2)).terminate('stuck batch');

    const s = await waitForCycles(handle, 1);
    const byTable = Object.fromEntries(s.lastCycle!.tables.map((t) => [t.table, t]));
    for (const t of [first!, second!, committed!]) assert.equal(byTable[t]!.status, 'committed', t);
    assert.equal(byTable[slow!]!.status, 'failed');
    assert.deepEqual(Object.keys(s.failed), [slow]);
    assert.equal(w.backend.count('verify'), 4, "each table verified once by its batch, and the dead batch's commit once more by recovery");
    assert.equal(w.backend.count('lake.lastCommit'), 2, "recovery reads the lineage of the dead batch's two tables");
  });
});
