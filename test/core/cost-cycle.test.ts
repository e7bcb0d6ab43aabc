/**
 * The cost ledger on a real Temporal dev server with the fake backend, whose load runs report
 * modelled DPU-seconds and whose export lists a size per table: the cycle result, the source's
 * status and ledger, and the CLI (`lakesync cost --json`, `watermarks`, `status`) show the figures
 * and their totals; a rerun that reuses the export costs its runs only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/main';
import { PortError } from '../../src/errors';
import { FakeBackend } from '../../src/fake/ports';
import type { Ports } from '../../src/ports';
import type { Client } from '@temporalio/client';
import { connectClient, temporalTarget } from '../../src/temporal';
import { createWorker } from '../../src/worker';
import { parseConfig } from '../../src/config/load';
import { BYTES_PER_GB, DEFAULT_PRICES } from '../../src/cost/ledger';
import { costReportLines } from '../../src/cli/commands/cost';
import { tableExportIdFor } from '../../src/ids';
import { type CostReport, costReport } from '../../src/cost/report';
import type { CycleResult, Watermark } from '../../src/model';
import { batchProgressQuery, cycleProgressQuery, requestSyncSignal, rerunUpdate } from '../../src/workflows/messages';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { fakeDynamoSource } from '../helpers/dynamodb-source';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles, waitForStatus } from '../helpers/source';
import { waitUntil } from '../helpers/within';

const SOURCE = 'costs';
const TABLES = ['public.a', 'public.b', 'public.c'];
/** 90 DPU-seconds at $0.44 per DPU-hour, 2 GB at $0.01 per GB (the default prices). */
const TABLE_COST = { basis: 'modelled', dpuSeconds: 90, glueUsd: 0.011, exportGB: 2, exportUsd: 0.02 };

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {}, cwd });
  return { code, stdout, stderr };
}

/** Runs `body` with a worker of its own for `source` on `queue`, over `ports`; the worker and the client end with it. */
async function withWorkerOf(source: string, queue: string, ports: Ports, body: (client: Client) => Promise<void>): Promise<void> {
  const config = fakeConfig(queue, { tables: TABLES }, {}, source);
  const { worker, close } = await createWorker({ config, ports: { [source]: ports } });
  const running = worker.run();
  const client = await connectClient(temporalTarget(config));
  try {
    await body(client);
  } finally {
    worker.shutdown();
    await running;
    await close();
    await client.connection.close();
  }
}

describe('cost ledger on a real Temporal server', () => {
  let env: TestServer;
  let w: FakeWorker;
  let dir: string;
  let configFile: string;
  const queue = uniqueQueue('costs');

  before(async () => {
    env = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'lakesync-cost-'));
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLES }, {}, SOURCE), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    // The CLI reads the same source from a file.
    configFile = join(dir, 'lakesync.yaml');
    writeFileSync(
      configFile,
      stringify({ temporal: { address: env.server.address, taskQueue: queue, namespace: 'default' }, sources: { [SOURCE]: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } }),
    );
  });
  after(async () => {
    await w?.stop();
    await env?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a sync prices every load and export; a rerun from the same export prices its run only; the CLI shows both with totals', async () => {
    const handle = await startSource(w.client, queue, SOURCE);
    const first = await waitForCycles(handle, 1);
    const result = await w.client.workflow.getHandle<() => Promise<CycleResult>>(first.lastCycle!.workflowId).result();
    assert.equal(result.status, 'succeeded');
    for (const t of result.tables) assert.deepEqual(t.cost, TABLE_COST, t.table);
    const syncTotal = { basis: 'modelled', tables: 3, dpuSeconds: 270, glueUsd: 0.033, exportGB: 6, exportUsd: 0.06, usd: 0.093 };
    assert.deepEqual(result.cost, syncTotal);
    assert.deepEqual(first.recentCycles[0]!.cost, syncTotal);
    assert.deepEqual(first.lastCycle!.tables.map((t) => t.cost), [TABLE_COST, TABLE_COST, TABLE_COST]);
    assert.deepEqual(first.ledger['public.a']!.cost, TABLE_COST);

    await handle.executeUpdate(rerunUpdate, { args: [{ tables: ['public.a'], requestedBy: 'test' }] });
    const second = await waitForCycles(handle, 2);
    const rerunCost = { basis: 'modelled', dpuSeconds: 90, glueUsd: 0.011 };
    assert.deepEqual(second.ledger['public.a']!.cost, rerunCost, 'the reused export costs nothing again');
    assert.deepEqual(second.ledger['public.b']!.cost, TABLE_COST);
    assert.deepEqual(second.recentCycles[0]!.cost, { ...rerunCost, tables: 1, usd: 0.011 });

    const json = await cli(['cost', SOURCE, '--json', '--config', configFile], dir);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as CostReport & { prices: unknown };
    assert.deepEqual(report.cycles.map((c) => [c.kind, c.cost?.usd]), [['rerun', 0.011], ['sync', 0.093]]);
    assert.deepEqual(report.total, { basis: 'modelled', tables: 4, dpuSeconds: 360, glueUsd: 0.044, exportGB: 6, exportUsd: 0.06, usd: 0.104 });
    assert.deepEqual(report.lastCycle?.tables, [
      { table: 'public.a', status: 'committed', cost: rerunCost },
      { table: 'public.b', status: 'skipped' },
      { table: 'public.c', status: 'skipped' },
    ]);
    assert.deepEqual(report.lastCommits['public.c'], TABLE_COST);
    assert.deepEqual(report.prices, { gluePerDpuHour: 0.44, glueFlexPerDpuHour: 0.29, rdsExportPerGB: 0.01, dynamodbFullExportPerGB: 0.1, dynamodbIncrementalExportPerGB: 0.1 });
    // --cycles 1: the newest cycle alone, and its total.
    const one = JSON.parse((await cli(['cost', SOURCE, '--json', '--cycles', '1', '--config', configFile], dir)).stdout) as CostReport;
    assert.deepEqual(one.total, { ...rerunCost, tables: 1, usd: 0.011 });

    const text = await cli(['cost', SOURCE, '--config', configFile], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^TOTAL\s+4\s+360\s+\$0\.0440\s+6\s+\$0\.0600\s+\$0\.1040\s+modelled$/m);
    assert.match(text.stdout, /^public\.a\s+committed\s+90\s+\$0\.0110\s+\$0\.0110\s+modelled$/m);
    assert.match(text.stdout, /modelled: the backend's modelled figures \(no AWS bill\)/);

    const marks = await cli(['watermarks', SOURCE, '--json', '--config', configFile], dir);
    const ledger = (JSON.parse(marks.stdout) as { ledger: Record<string, Watermark> }).ledger;
    assert.deepEqual(ledger['public.b']!.cost, TABLE_COST);
    const marksText = await cli(['watermarks', SOURCE, '--config', configFile], dir);
    assert.match(marksText.stdout, /^public\.b\s.*90 DPU-s \$0\.0110, export 2 GB \$0\.0200 = \$0\.0310 \(modelled\)/m);
    assert.match(marksText.stdout, /^public\.a\s.*90 DPU-s \$0\.0110 = \$0\.0110 \(modelled\)/m);

    const statusText = await cli(['status', SOURCE, '--config', configFile], dir);
    assert.match(statusText.stdout, /^last cycle cost: 90 DPU-s \$0\.0110 = \$0\.0110 \(modelled\)/m);

    await recordHistories(w.client, 'cost-ledger', [`lakesync/${SOURCE}`]);
  });

  test("a table that fails at plan keeps the cost of its part of the cycle's export: RDS exported it and billed its GB", async () => {
    const planQueue = uniqueQueue('plancosts');
    // A tables key that differs from public.c only in case: public.c is refused at plan, after the export took it.
    const planned = await startFakeWorker(fakeConfig(planQueue, { tables: TABLES }, { tables: { 'public.C': { action: 'replace' } } }, 'plancosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    try {
      const handle = await startSource(planned.client, planQueue, 'plancosts');
      const first = await waitForCycles(handle, 1);
      const result = await planned.client.workflow.getHandle<() => Promise<CycleResult>>(first.lastCycle!.workflowId).result();
      const c = result.tables.find((t) => t.table === 'public.c');
      assert.deepEqual([c?.status, c?.error?.phase, c?.error?.type], ['failed', 'plan', 'InvalidTableSettings']);
      assert.deepEqual(c?.cost, { basis: 'modelled', exportGB: 2, exportUsd: 0.02 }, 'its export GB were billed');
      assert.deepEqual(result.cost, { basis: 'modelled', tables: 3, dpuSeconds: 180, glueUsd: 0.022, exportGB: 6, exportUsd: 0.06, usd: 0.082 });
      assert.deepEqual(first.recentCycles[0]!.cost, result.cost);
      await handle.terminate('test done');
    } finally {
      await planned.stop();
    }
  });

  test("a cycle that fails as a whole after its export books the export's GB as a cycle-level cost: RDS billed them", async () => {
    const failQueue = uniqueQueue('failedcosts');
    const source = 'failedcosts';
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    const ports = backend.ports();
    // The lake's namespace cannot be made (a permission is missing): the cycle fails after its plan, with no table outcome.
    let refuse = true;
    const refusing: Ports = {
      ...ports,
      lake: {
        ...ports.lake,
        ensureNamespace: async (ns) => {
          if (refuse) throw new PortError('access-denied', 'AccessDeniedException', `not allowed to create namespace ${ns}`);
          return ports.lake.ensureNamespace(ns);
        },
      },
    };
    await withWorkerOf(source, failQueue, refusing, async (client) => {
      const handle = await startSource(client, failQueue, source);
      const first = await waitForCycles(handle, 1);
      const result = await client.workflow.getHandle<() => Promise<CycleResult>>(first.lastCycle!.workflowId).result();
      assert.deepEqual([result.status, result.error?.phase, result.tables.length], ['failed', 'plan', 0], JSON.stringify(result.error));
      const exportCost = { basis: 'modelled', tables: 0, exportGB: 6, exportUsd: 0.06, usd: 0.06 };
      assert.deepEqual(result.cost, exportCost, 'its export of three tables of 2 GB each was billed');
      assert.deepEqual(first.recentCycles[0]!.cost, exportCost);

      // The next sync takes and books an export of its own; the failed cycle's stays counted once.
      refuse = false;
      await handle.signal(requestSyncSignal, { requestedBy: 'test' });
      const second = await waitForCycles(handle, 2);
      assert.notEqual(second.recentCycles[0]!.exportId, result.export!.exportId);
      assert.deepEqual(second.recentCycles[0]!.cost, { basis: 'modelled', tables: 3, dpuSeconds: 270, glueUsd: 0.033, exportGB: 6, exportUsd: 0.06, usd: 0.093 });
      // lakesync cost: the failed cycle's export is in its row and in the total.
      const report = costReport(second, 10);
      assert.deepEqual(report.cycles.map((c) => [c.kind, c.status, c.cost?.usd]), [['sync', 'succeeded', 0.093], ['sync', 'failed', 0.06]]);
      assert.deepEqual(report.total, { basis: 'modelled', tables: 3, dpuSeconds: 270, glueUsd: 0.033, exportGB: 12, exportUsd: 0.12, usd: 0.153 });
      assert.ok(costReportLines(report, DEFAULT_PRICES).some((l) => /^\S+\s+sync\s+failed\s.*\$0\.0600/.test(l)), costReportLines(report, DEFAULT_PRICES).join('\n'));
      await handle.terminate('test done');
    });
  });

  test("a failed cycle whose export lists tables without a size books a partial export cost, and the result and lakesync cost say which tables and why", async () => {
    const failQueue = uniqueQueue('unsizedfailed');
    const source = 'unsizedfailed';
    // Only public.a has a size in the export's listing.
    const ports = new FakeBackend({ tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBByTable: { 'public.a': 2 } }).ports();
    const refusing: Ports = {
      ...ports,
      lake: {
        ...ports.lake,
        ensureNamespace: async (ns) => {
          throw new PortError('access-denied', 'AccessDeniedException', `not allowed to create namespace ${ns}`);
        },
      },
    };
    await withWorkerOf(source, failQueue, refusing, async (client) => {
      const handle = await startSource(client, failQueue, source);
      const first = await waitForCycles(handle, 1);
      const result = await client.workflow.getHandle<() => Promise<CycleResult>>(first.lastCycle!.workflowId).result();
      assert.deepEqual([result.status, result.error?.phase, result.tables.length], ['failed', 'plan', 0], JSON.stringify(result.error));
      const { partialReason, ...figures } = result.cost ?? { basis: 'none', tables: 0 };
      assert.deepEqual(figures, { basis: 'modelled', tables: 0, exportGB: 2, exportUsd: 0.02, usd: 0.02, partial: 1 });
      assert.match(partialReason ?? '', /no size for 2 of its 3 table\(s\) \(public\.b, public\.c\): their GB are left out/, JSON.stringify(result.cost));
      assert.ok(result.warnings.some((w) => w.includes(partialReason!)), JSON.stringify(result.warnings));
      const lines = costReportLines(costReport(first, 10), DEFAULT_PRICES);
      assert.ok(lines.some((l) => l.includes(`cycle ${result.cycleId}: at least this: ${partialReason}`)), lines.join('\n'));
      await handle.terminate('test done');
    });
  });

  test("a load whose table size in the cycle's own export cannot be read marks the table's and the cycle's cost partial, saying why", async () => {
    const unsizedQueue = uniqueQueue('unsizedcosts');
    const source = 'unsizedcosts';
    const ports = new FakeBackend({ tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 }).ports();
    // A plan that carries no sizes (as one written before plans did), and a discovery the loads cannot read back.
    let planned = false;
    const unsized: Ports = {
      ...ports,
      manifests: {
        ...ports.manifests,
        put: async (key, value) => {
          if (!key.endsWith('/plan.json') || !Array.isArray(value)) return ports.manifests.put(key, value);
          planned = true;
          return ports.manifests.put(key, value.map(({ sizeGB: _size, ...entry }: { sizeGB?: number }) => entry));
        },
        get: async <T>(ref: string): Promise<T> => {
          if (planned && ref.endsWith('/discovery.json')) throw new PortError('access-denied', 'AccessDenied', `not authorized to read ${ref}`);
          return ports.manifests.get<T>(ref);
        },
      },
    };
    await withWorkerOf(source, unsizedQueue, unsized, async (client) => {
      const handle = await startSource(client, unsizedQueue, source);
      const first = await waitForCycles(handle, 1);
      assert.equal(first.lastCycle!.status, 'succeeded');
      for (const t of first.lastCycle!.tables) {
        const { partial, ...figures } = t.cost ?? { basis: 'none' };
        assert.deepEqual(figures, { basis: 'modelled', dpuSeconds: 90, glueUsd: 0.011 }, t.table);
        assert.match(partial ?? '', new RegExp(`size of ${t.table.replace('.', '\\.')} in export .* could not be read .*not authorized.*: its export GB are left out`), `${t.table}: ${JSON.stringify(t.cost)}`);
      }
      assert.equal(first.recentCycles[0]!.cost?.partial, TABLES.length, JSON.stringify(first.recentCycles[0]!.cost));
      await handle.terminate('test done');
    });
  });

  test("a cycle whose discovery fails books its export's GB from the export's listing, read again", async () => {
    const discoverQueue = uniqueQueue('discovercosts');
    const failing = await startFakeWorker(fakeConfig(discoverQueue, { tables: TABLES }, {}, 'discovercosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    failing.backend.setFailures([{ table: '*', phase: 'discover', times: 1, retryable: false, message: 'the listing could not be read' }]);
    try {
      const handle = await startSource(failing.client, discoverQueue, 'discovercosts');
      const first = await waitForCycles(handle, 1);
      const result = await failing.client.workflow.getHandle<() => Promise<CycleResult>>(first.lastCycle!.workflowId).result();
      assert.deepEqual([result.status, result.error?.phase, result.tables.length], ['failed', 'discover', 0], JSON.stringify(result.error));
      assert.deepEqual(result.cost, { basis: 'modelled', tables: 0, exportGB: 6, exportUsd: 0.06, usd: 0.06 });
      assert.deepEqual(first.recentCycles[0]!.cost, result.cost);
      await handle.terminate('test done');
    } finally {
      await failing.stop();
    }
  });

  test("a cycle that ends after its export and before its plan books the export's GB as a cycle-level cost: RDS billed them", async () => {
    const deadQueue = uniqueQueue('deadcosts');
    const dead = await startFakeWorker(fakeConfig(deadQueue, { tables: TABLES }, {}, 'deadcosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    // The export's listing cannot be read for now: the cycle retries its discovery, and is terminated meanwhile.
    dead.backend.setFailures([{ table: '*', phase: 'discover', times: 'always', retryable: true, message: 'the listing could not be read' }]);
    const handle = await startSource(dead.client, deadQueue, 'deadcosts');
    try {
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
      await waitUntil(() => dead.backend.count('failures.discover.*') >= 1, 'the discovery failed once');
      dead.backend.setFailures([]);
      await dead.client.workflow.getHandle(running.currentCycle!.workflowId).terminate('the worker host was lost');
      const first = await waitForCycles(handle, 1);
      assert.equal(first.recentCycles[0]!.status, 'failed');
      assert.deepEqual(first.recentCycles[0]!.cost, { basis: 'modelled', tables: 0, exportGB: 6, exportUsd: 0.06, usd: 0.06 }, 'its export of three tables of 2 GB each was billed');
    } finally {
      await handle.terminate('test done').catch(() => undefined);
      await dead.stop();
    }
  });

  test("a cycle cancelled after its export and before its plan books the export's GB as a cycle-level cost: RDS billed them", async () => {
    const cancelQueue = uniqueQueue('cancelplancosts');
    const cancelled = await startFakeWorker(fakeConfig(cancelQueue, { tables: TABLES }, {}, 'cancelplancosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    // The export's listing cannot be read for now: the cycle retries its discovery, and is cancelled meanwhile.
    cancelled.backend.setFailures([{ table: '*', phase: 'discover', times: 'always', retryable: true, message: 'the listing could not be read' }]);
    const handle = await startSource(cancelled.client, cancelQueue, 'cancelplancosts');
    try {
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
      await waitUntil(() => cancelled.backend.count('failures.discover.*') >= 1, 'the discovery failed once');
      cancelled.backend.setFailures([]);
      const cycle = cancelled.client.workflow.getHandle<() => Promise<CycleResult>>(running.currentCycle!.workflowId);
      await cycle.cancel();
      const result = await cycle.result();
      assert.deepEqual([result.status, result.tables.length], ['failed', 0], JSON.stringify(result.error));
      const exportCost = { basis: 'modelled', tables: 0, exportGB: 6, exportUsd: 0.06, usd: 0.06 };
      assert.deepEqual(result.cost, exportCost, 'its export of three tables of 2 GB each was billed');
      const first = await waitForCycles(handle, 1);
      assert.deepEqual(first.recentCycles[0]!.cost, exportCost);
    } finally {
      await handle.terminate('test done').catch(() => undefined);
      await cancelled.stop();
    }
  });

  test("a cycle terminated while a table loads books the runs of the tables it committed: recovery reads their DPU-seconds back", async () => {
    const lostQueue = uniqueQueue('lostcosts');
    const lost = await startFakeWorker(fakeConfig(lostQueue, { tables: TABLES }, {}, 'lostcosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    const handle = await startSource(lost.client, lostQueue, 'lostcosts');
    try {
      lost.backend.setLatencyByTable({ 'public.c': 120_000 });
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
      await waitUntil(() => ['public.a', 'public.b'].every((t) => lost.backend.count(`load.commit:${t}`) === 1) && lost.backend.count('load.start') >= 3, 'a and b committed, c loading');
      await lost.client.workflow.getHandle(running.currentCycle!.workflowId).terminate('the worker host was lost');
      const first = await waitForCycles(handle, 1);
      const byTable = Object.fromEntries(first.lastCycle!.tables.map((t) => [t.table, t]));
      assert.deepEqual([byTable['public.a']?.status, byTable['public.b']?.status], ['committed', 'committed']);
      assert.deepEqual([byTable['public.a']?.cost, byTable['public.b']?.cost], [TABLE_COST, TABLE_COST], 'their runs were billed');
      // c's run still goes on (nothing stopped it): only its part of the export is known, and its cost says the run is left out.
      const { partial, ...figures } = byTable['public.c']?.cost ?? {};
      assert.deepEqual(figures, { basis: 'modelled', exportGB: 2, exportUsd: 0.02 });
      assert.match(partial ?? '', /still going when the dead cycle was read back/);
      assert.equal(first.recentCycles[0]!.cost?.partial, 1);
      assert.equal(first.recentCycles[0]!.cost?.dpuSeconds, 180);
    } finally {
      await handle.terminate('test done').catch(() => undefined);
      await lost.stop();
    }
  });

  test("a table whose load times out keeps its part of the export in its cost: RDS billed its GB, though its run reported no usage", async () => {
    const slowQueue = uniqueQueue('slowcosts');
    // Loads bounded to 7.2 s in all: a stalled one times out for good at once.
    const bounded = { retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 1 }, timeouts: { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1, loadHours: 0.002 } };
    const slow = await startFakeWorker(fakeConfig(slowQueue, { tables: TABLES }, bounded, 'slowcosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    // Polls of c's run hang past the heartbeat timeout: its load times out, with no usage reported.
    slow.backend.setFailures([{ table: 'public.c', phase: 'poll', times: 'always', retryable: true, stallMs: 10_000 }]);
    const handle = await startSource(slow.client, slowQueue, 'slowcosts');
    try {
      const first = await waitForCycles(handle, 1);
      slow.backend.setFailures([]);
      const c = first.lastCycle!.tables.find((t) => t.table === 'public.c')!;
      assert.deepEqual([c.status, c.error?.phase], ['failed', 'load'], JSON.stringify(c));
      const { partial, ...figures } = c.cost ?? {};
      assert.deepEqual(figures, { basis: 'modelled', exportGB: 2, exportUsd: 0.02 }, `c's export GB were billed: ${JSON.stringify(c)}`);
      // Its run was billed too, but the load that would have reported it timed out: the figure says it is short.
      assert.match(partial ?? '', /timed out.*DPU-seconds .*left out/, JSON.stringify(c.cost));
      assert.equal(first.recentCycles[0]!.cost?.exportGB, 6);
      assert.equal(first.recentCycles[0]!.cost?.partial, 1);
    } finally {
      await handle.terminate('test done').catch(() => undefined);
      await slow.stop();
    }
  });

  test("a table whose load times out and that has no size in the export says both its DPU-seconds and its export GB are left out", async () => {
    const slowQueue = uniqueQueue('slowunsized');
    const bounded = { retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 1 }, timeouts: { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1, loadHours: 0.002 } };
    // public.c has no size in the export's listing.
    const slow = await startFakeWorker(fakeConfig(slowQueue, { tables: TABLES }, bounded, 'slowunsized'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBByTable: { 'public.a': 2, 'public.b': 2 } });
    slow.backend.setFailures([{ table: 'public.c', phase: 'poll', times: 'always', retryable: true, stallMs: 10_000 }]);
    const handle = await startSource(slow.client, slowQueue, 'slowunsized');
    try {
      const first = await waitForCycles(handle, 1);
      slow.backend.setFailures([]);
      const c = first.lastCycle!.tables.find((t) => t.table === 'public.c')!;
      assert.deepEqual([c.status, c.error?.phase], ['failed', 'load'], JSON.stringify(c));
      const { partial, ...figures } = c.cost ?? {};
      assert.deepEqual(figures, { basis: 'modelled' }, JSON.stringify(c));
      assert.match(partial ?? '', /timed out.*DPU-seconds .*left out/, JSON.stringify(c.cost));
      assert.match(partial ?? '', /no size in export \S+: its export GB are left out too/, JSON.stringify(c.cost));
    } finally {
      await handle.terminate('test done').catch(() => undefined);
      await slow.stop();
    }
  });

  test("a cycle cancelled while a table loads books that table's part of the export: RDS exported it and billed its GB", async () => {
    const cancelQueue = uniqueQueue('cancelcosts');
    const cancelled = await startFakeWorker(fakeConfig(cancelQueue, { tables: TABLES }, {}, 'cancelcosts'), { tables: TABLES, latencyMs: 20, dpuSecondsPerRun: 90, exportGBPerTable: 2 });
    const handle = await startSource(cancelled.client, cancelQueue, 'cancelcosts');
    try {
      cancelled.backend.setLatencyByTable({ 'public.c': 120_000 });
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
      await waitUntil(() => ['public.a', 'public.b'].every((t) => cancelled.backend.count(`load.commit:${t}`) === 1) && cancelled.backend.count('load.start') >= 3, 'a and b committed, c loading');
      const cycle = cancelled.client.workflow.getHandle<() => Promise<CycleResult>>(running.currentCycle!.workflowId);
      // a and b settle (granted and verified) before the cancel, however slowly the machine runs them.
      await waitUntil(async () => {
        const { batches } = await cycle.query(cycleProgressQuery);
        const states = (await Promise.all(batches.map((b) => cancelled.client.workflow.getHandle(b.workflowId).query(batchProgressQuery)))).flat();
        return ['public.a', 'public.b'].every((t) => states.find((s) => s.table === t)?.state === 'committed');
      }, 'a and b settled');
      await cycle.cancel();
      const result = await cycle.result();
      const byTable = Object.fromEntries(result.tables.map((t) => [t.table, t]));
      assert.deepEqual([byTable['public.a']?.cost, byTable['public.b']?.cost], [TABLE_COST, TABLE_COST]);
      assert.equal(byTable['public.c']?.status, 'failed');
      assert.deepEqual(byTable['public.c']?.cost, { basis: 'modelled', exportGB: 2, exportUsd: 0.02 }, "c's export GB were billed");
      assert.equal(result.cost?.exportGB, 6);
    } finally {
      await handle.terminate('test done').catch(() => undefined);
      await cancelled.stop();
    }
  });
});

/** The export ids of orders' windows in a cycle of ddbcosts (up to 30). */
const tableExportIds = (cycleId: string) => Array.from({ length: 30 }, (_, i) => tableExportIdFor('ddbcosts', cycleId, 'dynamodb.orders', i));

describe('cost ledger of a DynamoDB source on a real Temporal server', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('ddb-costs');
  const tables = ['dynamodb.orders', 'dynamodb.events'];

  before(async () => {
    env = await startTestServer();
    const config = parseConfig({
      temporal: { taskQueue: queue },
      sources: {
        // Up to 30 incremental windows: the fake's are 2 s at most, so a gap of a few seconds takes several.
        ddbcosts: fakeDynamoSource({ source: { exportWindow: { maxWindows: 30 } }, settings: { cost: { dynamodbFullExportPerGB: 1000, dynamodbIncrementalExportPerGB: 2000 } } }),
        // Loads bounded to 7.2 s in all: a stalled one times out for good at once.
        ddbslow: fakeDynamoSource({ maximumAttempts: 1, timeouts: { loadHours: 0.002 }, settings: { target: { namespace: 'slow' }, cost: { dynamodbFullExportPerGB: 1000 } } }),
        ddbdead: fakeDynamoSource({ settings: { target: { namespace: 'dead' }, cost: { dynamodbFullExportPerGB: 1000 } } }),
      },
    });
    w = await startFakeWorker(config, { tables, dynamodb: true, latencyMs: 20, rowsPerTable: 100, dpuSecondsPerRun: 30, windowLimits: { minSeconds: 1, maxSeconds: 2 } });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test("each table's FULL export is priced from its billed bytes at the configured full-export price", async () => {
    const handle = await startSource(w.client, queue, 'ddbcosts');
    const first = await waitForCycles(handle, 1);
    assert.equal(first.recentCycles[0]!.status, 'succeeded', JSON.stringify(first.lastCycle));
    // The fake bills 100 bytes per item: 100 items.
    const gb = 10_000 / BYTES_PER_GB;
    const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
    for (const table of tables) {
      assert.deepEqual(first.ledger[table]!.cost, { basis: 'modelled', dpuSeconds: 30, glueUsd: round6((30 / 3600) * 0.44), exportGB: round6(gb), exportUsd: round6(gb * 1000) }, table);
    }
    assert.equal(first.recentCycles[0]!.cost?.exportUsd, round6(2 * round6(gb * 1000)));
  });

  test("a table whose later export fails keeps the cost of its exports that completed (they were billed)", async () => {
    const handle = w.client.workflow.getHandle('lakesync/ddbcosts');
    const first = await waitForCycles(handle, 1);
    // 5000 change records half a second after the export time orders reached: in its first window. A gap of more than 2 s takes more than one.
    w.backend.appendRows('dynamodb.orders', 5000, Date.parse(first.ledger['dynamodb.orders']!.snapshotTime) + 500);
    await delay(3_100);
    w.backend.setFailures([{ table: 'dynamodb.orders', phase: 'export', after: 1, times: 'always', retryable: false, message: 'S3 bucket policy denies the export' }]);
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    const second = await waitForCycles(handle, 2);
    w.backend.setFailures([]);
    const exports = w.backend.tableExports('dynamodb.orders').filter((e) => e.window.type === 'INCREMENTAL');
    assert.ok(exports.length >= 2, `several windows (${exports.length})`);
    assert.equal(exports[0]!.failureCause, undefined, 'the first window completed');
    assert.equal(exports[0]!.itemCount, 5000);
    const orders = second.lastCycle!.tables.find((t) => t.table === 'dynamodb.orders')!;
    assert.equal(orders.status, 'failed');
    assert.equal(orders.error?.phase, 'export');
    // The first window's 5000 change records, billed 100 bytes each by the fake, at the incremental price; no load ran.
    const gb = 500_000 / BYTES_PER_GB;
    const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
    assert.deepEqual(orders.cost, { basis: 'modelled', exportGB: round6(gb), exportUsd: round6(gb * 2000) });
    const events = second.lastCycle!.tables.find((t) => t.table === 'dynamodb.events')!;
    assert.equal(events.status, 'committed');
    assert.equal(second.recentCycles[0]!.cost?.tables, 2, 'the cycle sums both tables');
  });

  test('a table whose export fails keeps the cost of the exports started after it too: they ran on and were billed', async () => {
    const handle = w.client.workflow.getHandle('lakesync/ddbcosts');
    const before = await waitForCycles(handle, 2);
    const reached = Date.parse(before.ledger['dynamodb.orders']!.snapshotTime);
    // Changes in the first window and late in the gap (after the second window); a gap of more than 4 s takes at least 3 windows.
    // (orders' export time is still cycle 1's: its export failed in cycle 2.)
    w.backend.appendRows('dynamodb.orders', 3000, reached + 500);
    await delay(5_100);
    w.backend.appendRows('dynamodb.orders', 7000, Date.now() - 500);
    await delay(1_100);
    // Only the second window fails (the fake counts the starts of orders since the first rule for it).
    const started = w.backend.count('failures.export.dynamodb.orders');
    w.backend.setFailures([{ table: 'dynamodb.orders', phase: 'export', after: started + 1, times: 1, retryable: false, message: 'S3 bucket policy denies the export' }]);
    await handle.signal(requestSyncSignal, { requestedBy: 'test' });
    const third = await waitForCycles(handle, 3);
    w.backend.setFailures([]);
    const cycleId = third.recentCycles[0]!.cycleId;
    const exports = w.backend.tableExports('dynamodb.orders').filter((e) => e.exportId.startsWith('lse-') && tableExportIds(cycleId).includes(e.exportId));
    assert.ok(exports.length >= 3, `several windows (${exports.length})`);
    assert.notEqual(exports[1]!.failureCause, undefined, 'the second window failed');
    const billed = exports.filter((e) => e.failureCause === undefined).reduce((n, e) => n + e.itemCount * 100, 0);
    const later = exports.slice(2);
    assert.ok(later.every((e) => e.failureCause === undefined), 'the windows after it completed');
    assert.equal(later.reduce((n, e) => n + e.itemCount, 0), 7000, 'they hold the late changes');
    const orders = third.lastCycle!.tables.find((t) => t.table === 'dynamodb.orders')!;
    assert.equal(orders.status, 'failed');
    const gb = billed / BYTES_PER_GB;
    const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
    assert.deepEqual(orders.cost, { basis: 'modelled', exportGB: round6(gb), exportUsd: round6(gb * 2000) });
  });

  test('a table whose load times out keeps the cost of its exports (they were billed; its run reported no usage)', async () => {
    // Polls of orders' run hang past the heartbeat timeout: its load times out, with no usage reported.
    w.backend.setFailures([{ table: 'dynamodb.orders', phase: 'poll', times: 'always', retryable: true, stallMs: 10_000 }]);
    const handle = await startSource(w.client, queue, 'ddbslow');
    const first = await waitForCycles(handle, 1);
    w.backend.setFailures([]);
    const orders = first.lastCycle!.tables.find((t) => t.table === 'dynamodb.orders')!;
    assert.equal(orders.status, 'failed', JSON.stringify(orders));
    assert.equal(orders.error?.phase, 'load');
    // Its FULL export, billed 100 bytes per item by the fake, at the configured full-export price.
    const [full] = w.backend.tableExports('dynamodb.orders').filter((e) => e.exportId === tableExportIdFor('ddbslow', first.recentCycles[0]!.cycleId, 'dynamodb.orders', 0));
    assert.equal(full?.window.type, 'FULL');
    const gb = (full!.itemCount * 100) / BYTES_PER_GB;
    const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
    const { partial, ...figures } = orders.cost ?? {};
    assert.deepEqual(figures, { basis: 'modelled', exportGB: round6(gb), exportUsd: round6(gb * 1000) });
    // Its run was billed too, but the load that would have reported it timed out: the figure says it is short.
    assert.match(partial ?? '', /timed out.*DPU-seconds .*left out/, JSON.stringify(orders.cost));
  });

  test("a cycle terminated while its loads run books each table's DynamoDB exports and ended runs: recovery reads them back", async () => {
    w.backend.setLatencyByTable({ 'dynamodb.events': 120_000 });
    const handle = await startSource(w.client, queue, 'ddbdead');
    try {
      const running = await waitForStatus(handle, (s) => s.currentCycle !== undefined);
      const lake = w.backend.ports().lake;
      await waitUntil(async () => (await lake.lastCommit!('dead', 'orders'))?.cycleId === running.currentCycle!.cycleId, 'orders committed, events loading');
      await w.client.workflow.getHandle(running.currentCycle!.workflowId).terminate('the worker host was lost');
      const first = await waitForCycles(handle, 1);
      const cycleId = first.recentCycles[0]!.cycleId;
      const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
      // Each table's FULL export, billed 100 bytes per item by the fake, at the configured full-export price.
      const exportCost = (table: string) => {
        const full = w.backend.tableExports(table).find((e) => e.exportId === tableExportIdFor('ddbdead', cycleId, table, 0))!;
        const gb = (full.itemCount * 100) / BYTES_PER_GB;
        return { exportGB: round6(gb), exportUsd: round6(gb * 1000) };
      };
      const byTable = Object.fromEntries(first.lastCycle!.tables.map((t) => [t.table, t]));
      assert.deepEqual(byTable['dynamodb.orders']?.cost, { basis: 'modelled', dpuSeconds: 30, glueUsd: round6((30 / 3600) * 0.44), ...exportCost('dynamodb.orders') });
      // events' run still goes on: its exports alone are known, and its cost says the run is left out.
      const { partial, ...figures } = byTable['dynamodb.events']?.cost ?? {};
      assert.deepEqual(figures, { basis: 'modelled', ...exportCost('dynamodb.events') });
      assert.match(partial ?? '', /still going when the dead cycle was read back/);
    } finally {
      w.backend.setLatencyByTable({});
      await handle.terminate('test done').catch(() => undefined);
    }
  });
});
