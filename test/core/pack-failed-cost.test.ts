/**
 * The cost ledger of a pack whose tables fail, on a Temporal dev server: every run the backend
 * reported is booked once (a failed table keeps its share of the pack's run, a retried table adds
 * its own run), and every table's export counts, failed or not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeBackend } from '../../src/fake/ports';
import type { CycleResult } from '../../src/model';
import { fakeConfig, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const NAMES = ['public.t0001', 'public.t0002', 'public.t0003', 'public.t0004'];
const RUN_DPU_SECONDS = 120;

describe('the cost of a pack with failing tables', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('pack-failed-cost');
  before(async () => {
    env = await startTestServer();
    w = await startWorkerOver(
      fakeConfig(queue, { tables: NAMES }, { packing: { thresholdGB: 1, maxTables: 4, maxGB: 5 } }, 'packfailedcost'),
      new FakeBackend({
        tables: NAMES,
        latencyMs: 30,
        dpuSecondsPerRun: RUN_DPU_SECONDS,
        exportGBPerTable: 0.1,
        failures: [
          // Fails in the pack, then loads in a run of its own.
          { table: 'public.t0002', phase: 'load', times: 1, retryable: true, message: 'commit conflict' },
          // Fails for good in the pack.
          { table: 'public.t0003', phase: 'load', times: 'always', retryable: false, message: 'schema conflict' },
        ],
      }),
    );
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('the DPU-seconds booked are the runs the backend reported; the export GB the whole export', async () => {
    const s = await waitForCycles(await startSource(w.client, queue, 'packfailedcost'), 1);
    const result = await w.client.workflow.getHandle<() => Promise<CycleResult>>(s.lastCycle!.workflowId).result();
    const runs = Object.values(w.backend.state.runs).filter((r) => !r.packRunId).length + w.backend.packRuns().length;
    const byTable = Object.fromEntries(result.tables.map((t) => [t.table, t]));
    assert.equal(byTable['public.t0003']!.status, 'failed');
    assert.equal(byTable['public.t0002']!.status, 'committed');
    assert.ok((byTable['public.t0003']!.cost?.dpuSeconds ?? 0) > 0, `the failed table's share of the pack run: ${JSON.stringify(byTable['public.t0003']!.cost)}`);
    assert.equal(byTable['public.t0003']!.cost?.exportGB, 0.1);
    assert.equal(result.cost?.exportGB, 0.4);
    assert.equal(result.cost?.dpuSeconds, runs * RUN_DPU_SECONDS, `${runs} runs of ${RUN_DPU_SECONDS} DPU-seconds booked as ${result.cost?.dpuSeconds}`);
  });
});
