/**
 * A pack whose run takes longer than one table's load may (timeouts.loadHours): each packed table's
 * load waits for the whole run, so its bound must be the pack's, not one table's. On a real
 * Temporal dev server with the fake backend: every table commits once and is recorded, none fails
 * with a timeout while the run commits it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeBackend } from '../../src/fake/ports';
import type { CycleResult } from '../../src/model';
import { fakeConfig, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const NAMES = ['public.t0001', 'public.t0002', 'public.t0003', 'public.t0004'];
/** 3.6 s: each table's part of the run (1.5 s) fits, the whole run (6 s) does not. */
const LOAD_HOURS = 0.001;
const TABLE_MS = 1_500;

describe('a pack run longer than one table load may take', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('pack-timeout');
  before(async () => {
    env = await startTestServer();
    w = await startWorkerOver(
      fakeConfig(queue, { tables: NAMES }, { packing: { thresholdGB: 1, maxTables: 4, maxGB: 5 }, retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 1 }, timeouts: { loadHours: LOAD_HOURS, heartbeatSeconds: 5, pollInitialSeconds: 1, pollMaximumSeconds: 1 } }, 'packtimeout'),
      new FakeBackend({ tables: NAMES, latencyMs: TABLE_MS, exportGBPerTable: 0.1, dpuSecondsPerRun: 100 }),
    );
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('each table waits for the whole run within its bound: all commit once, each with its watermark', async () => {
    const s = await waitForCycles(await startSource(w.client, queue, 'packtimeout'), 1);
    const result = await w.client.workflow.getHandle<() => Promise<CycleResult>>(s.lastCycle!.workflowId).result();
    const failed = result.tables.filter((t) => t.status !== 'committed').map((t) => `${t.table}: ${t.error?.message}`);
    assert.deepEqual(failed, [], 'tables that did not commit');
    assert.equal(w.backend.packRuns().length, 1, 'one pack run');
    for (const t of NAMES) {
      assert.equal(w.backend.count(`load.commit:${t}`), 1, `${t} committed once`);
      assert.equal(s.ledger[t]?.exportId, s.lastCycle!.exportId, `${t}: its watermark`);
    }
  });
});
