/**
 * A source workflow cancelled while it reads back from the lake the outcomes of a cycle that
 * ended without a result: the read goes on out of the cancelled scope, so the tables the cycle
 * committed keep their watermarks in the state the next start takes up.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { type FakeOptions, fakeTableNames } from '../../src/fake/ports';
import type { SyncRequest } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSourceLikeCli, status, waitForStatus } from '../helpers/source';
import { pollFor, waitUntil } from '../helpers/within';

const SOURCE = 'cancelrecovery';
const [SLOW, DONE] = fakeTableNames(2) as [string, string];

describe('a source cancelled while it reads back a dead cycle', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('cancel-during-recovery');
  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(queue, { tables: 2 }, {}, SOURCE), { tables: 2, latencyMs: 20 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  const startLikeCli = (request: SyncRequest) => startSourceLikeCli(w.client, queue, SOURCE, request);

  test('keeps the watermarks of the tables that cycle committed', async () => {
    w.backend.setLatencyByTable({ [SLOW]: 120_000 });
    const first = await startLikeCli({ tables: [SLOW, DONE], requestId: 'dies' });
    const running = await waitForStatus(first, (s) => s.currentCycle !== undefined);
    await waitUntil(() => w.backend.count(`load.commit:${DONE}`) > 0, `${DONE} committed`);

    // The cycle dies; reading its outcomes back from the lake takes a while, and the source is cancelled meanwhile.
    const backend = w.backend as unknown as { options: FakeOptions };
    backend.options = { ...backend.options, callLatencyMs: 3_000 };
    await w.client.workflow.getHandle(running.currentCycle!.workflowId).terminate('the cycle dies');
    await delay(1_500);
    await first.cancel();
    await pollFor(() => 'the source to end cancelled', async () => ((await first.describe()).status.name === 'CANCELLED' ? true : undefined), 120_000, 200);
    backend.options = { ...backend.options, callLatencyMs: 0 };
    w.backend.setLatencyByTable({});

    const lake = Object.values(w.backend.state.lake).find((t) => t.lastCommit?.cycleId === running.currentCycle!.cycleId);
    assert.ok(lake, 'the dead cycle committed a lake table');
    const resumed = await startLikeCli({ tables: [SLOW], requestId: 'after' });
    const s = await status(resumed);
    assert.equal(s.recentCycles[0]?.requestIds[0], 'dies', `the dead cycle was not recorded: ${JSON.stringify(s.recentCycles)}`);
    assert.equal(s.ledger[DONE]?.icebergSnapshotId, lake.lastCommit!.icebergSnapshotId, `the watermark of ${DONE}, committed by the dead cycle, was lost: ${JSON.stringify(s.ledger)}; warnings ${JSON.stringify(s.lastCycle?.tables)}`);
    await resumed.terminate('test done');
  });
});
