/** The load activity's run handling: re-attach by heartbeat run id or by run token, never a second run. */
import assert from 'node:assert/strict';
import fs, { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LoadHeartbeat, loadActivities, type LoadTableInput } from '../../src/activities/load';
import { parseConfig } from '../../src/config/load';
import { packTokenFor, runTokenFor } from '../../src/ids';
import { FakeBackend } from '../../src/fake/ports';
import type { FakeState } from '../../src/fake/state';
import type { LoadRequest, LoadResult, PlanEntry } from '../../src/model';
import type { Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';
import { tempDir } from '../helpers/temp-dir';

const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: ['public.orders'] }, target: { namespace: 'shop' } } } });
const plan: PlanEntry = planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', reason: 'primary key (id) source', primaryKey: ['id'] });

async function setup(backendOptions: Partial<ConstructorParameters<typeof FakeBackend>[0]> = {}) {
  const backend = new FakeBackend({ tables: ['public.orders'], latencyMs: 0, ...backendOptions });
  const ports = backend.ports();
  const planRef = await ports.manifests.put('c1/plan.json', [plan]);
  const { loadTable } = loadActivities({ config, portsFor: () => ports });
  const input: LoadTableInput = { source: 'shop', cycleId: 'c1', planRef, table: 'public.orders', exportId: 'e1', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: 'fake://exports/e1', database: 'fake', namespace: 'shop' };
  const request: LoadRequest = { ...input, runToken: runTokenFor('c1', 'public.orders'), plan, resultLocation: ports.load.resultLocation({ ...input, runToken: runTokenFor('c1', 'public.orders'), plan }) };
  return { backend, ports, loadTable, input, request };
}

/** The same table's load input in the next cycle, c2. */
async function nextCycle(ports: Ports, input: LoadTableInput): Promise<LoadTableInput> {
  return { ...input, cycleId: 'c2', planRef: await ports.manifests.put('c2/plan.json', [plan]) };
}

describe('load activity', () => {
  test('a first attempt starts one run and returns its result', async () => {
    const { backend, loadTable, input } = await setup();
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(result.lakeTable, 'shop.orders');
    assert.equal(backend.count('load.start:public.orders'), 1);
  });

  test('a retried attempt re-attaches to the run in its heartbeat details', async () => {
    const { backend, ports, loadTable, input, request } = await setup({ latencyMs: 300 });
    const { runId } = await ports.load.startLoad(request);
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 2, heartbeatDetails: { runId } });
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const result = (await env.run(loadTable, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(backend.count('load.start:public.orders'), 1, 'no second run');
    assert.ok(heartbeats.some((h) => (h as { runId?: string }).runId === runId), 'heartbeats carry the run id');
  });

  test('an attempt after a crash before any heartbeat finds the run by its token', async () => {
    const { backend, ports, loadTable, input, request } = await setup({ latencyMs: 200 });
    await ports.load.startLoad(request);
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 2 }).run(loadTable, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(backend.count('load.find'), 1);
    assert.equal(backend.count('load.start:public.orders'), 1, 'no second run');
  });

  test('a run whose result error is not retryable fails the table without starting another run', async () => {
    const { backend, ports, loadTable, input, request } = await setup({ failures: [{ table: 'public.orders', phase: 'load', times: 'always', retryable: false, message: 'column amount: "12,5" is not numeric(10,2)' }] });
    await ports.load.startLoad(request);
    await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 2 }).run(loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'SchemaConflict');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /load of public\.orders failed \(run jr_\d+\): SchemaConflict: column amount/);
      return true;
    });
    assert.equal(backend.count('load.start:public.orders'), 1);
  });

  test("a result another load wrote at the load's place (another run token) is never taken as its own", async () => {
    const { backend, ports, input } = await setup();
    const readResult = ports.load.readResult.bind(ports.load);
    const foreign = async (at: string) => {
      const result = await readResult(at);
      return result && { ...result, runToken: runTokenFor('c1', 'public.other'), table: 'public.other' };
    };
    const { loadTable } = loadActivities({ config, portsFor: () => ({ ...ports, load: { ...ports.load, readResult: foreign } }) });
    await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'MissingResult');
      assert.match(err.message, /load of public\.orders \(run jr_\d+\) succeeded but wrote no result/);
      return true;
    });
    assert.equal(backend.count('load.start:public.orders'), 1);
  });

  test('a run whose result error is retryable is replaced by a new run on retry', async () => {
    const { backend, ports, loadTable, input, request } = await setup({ failures: [{ table: 'public.orders', phase: 'load', times: 1, retryable: true }] });
    await ports.load.startLoad(request);
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 2 }).run(loadTable, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(backend.count('load.start:public.orders'), 2);
  });

  test('a load whose attempts ran out while its run went on never overlaps the next cycle\'s load of that lake table', async () => {
    const { backend, ports, loadTable, input } = await setup({ latencyMs: 1500, failures: [{ table: 'public.orders', phase: 'poll', times: 'always', retryable: true, message: 'GetJobRun: Rate exceeded' }] });
    // The last attempt of cycle c1 (four real failures before it): its run starts, then polling it keeps failing.
    await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 5, heartbeatDetails: { failures: 4 } }).run(loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /^load failed for public\.orders: GetJobRun: Rate exceeded \(failure 5 of 5: retry\.maximumAttempts is used up; its run jr_1 was stopped; fix the cause and rerun the table\)$/);
      return true;
    });
    backend.setFailures([]);
    const next = await nextCycle(ports, input);
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, next)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(backend.maxConcurrentRuns('shop.orders'), 1, 'two runs were live on shop.orders at once');
  });

  test('a run left going by a terminated cycle is stopped, and waited for, before the next cycle\'s load starts', async () => {
    const { backend, ports, loadTable, input, request } = await setup({ latencyMs: 3000, stopLatencyMs: 300 });
    const { runId: orphan } = await ports.load.startLoad(request);
    const next = await nextCycle(ports, input);
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, next)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(result.cycleId, 'c2');
    assert.equal(backend.maxConcurrentRuns('shop.orders'), 1, 'two runs were live on shop.orders at once');
    assert.equal((await ports.load.getRun(orphan)).detail, 'STOPPED');
  });

  test('a real failure is counted in the heartbeat details; the load fails for good at retry.maximumAttempts', async () => {
    const { backend, loadTable, input } = await setup({ latencyMs: 100, failures: [{ table: 'public.orders', phase: 'poll', times: 'always', retryable: true, message: 'GetJobRun: Rate exceeded' }] });
    // Temporal's attempt 7 after two heartbeat timeouts: only the four failures in the details count.
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 7, heartbeatDetails: { failures: 3 } });
    const beats: LoadHeartbeat[] = [];
    env.on('heartbeat', (d: LoadHeartbeat) => beats.push(d));
    await assert.rejects(env.run(loadTable, input), (err: unknown) => err instanceof ApplicationFailure && !err.nonRetryable && /Rate exceeded$/.test(err.message));
    const last = beats.at(-1)!;
    assert.equal(last.failures, 4, 'the failure is counted for the next attempt');
    assert.equal(last.state, 'retrying');
    assert.equal(backend.state.runs[last.runId!]?.stopRequestedAtMs, undefined, 'a retryable failure leaves the run to the next attempt');

    const final = new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 8, heartbeatDetails: last });
    await assert.rejects(final.run(loadTable, input), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable === true && /failure 5 of 5/.test(err.message));
    assert.equal(backend.count('load.start:public.orders'), 1, 'both attempts polled the same run');
    assert.equal(backend.count('load.stop'), 1, 'the final failure stopped it');
  });

  test('the cycle\'s retry.maximumAttempts in the input wins over the config', async () => {
    const { loadTable, input } = await setup({ failures: [{ table: 'public.orders', phase: 'poll', times: 'always', retryable: true }] });
    await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, heartbeatDetails: { failures: 1 } }).run(loadTable, { ...input, maxFailures: 2 }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /failure 2 of 2/);
      return true;
    });
  });

  test('a run of this same load found on the lake table is attached to, not stopped', async () => {
    const { backend, ports, input, request } = await setup({ latencyMs: 300 });
    await ports.load.startLoad(request);
    // An attempt whose token search missed the run (GetJobRuns reads only the newest pages) still finds it on its lake table.
    const blind: Ports = { ...ports, load: { ...ports.load, findRunByToken: async () => undefined } };
    const { loadTable: blindLoad } = loadActivities({ config, portsFor: () => blind });
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 2 }).run(blindLoad, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(backend.count('load.start:public.orders'), 1, 'no second run');
    assert.equal(backend.count('load.stop'), 0);
  });

  test('another load\'s run that does not stop in time fails the attempt (retryable) with what to do', async () => {
    const { ports, input, request } = await setup({ latencyMs: 1e12 });
    const { runId } = await ports.load.startLoad(request);
    const stuck: Ports = { ...ports, load: { ...ports.load, stopRun: async () => undefined } };
    const { loadTable } = loadActivities({ config, portsFor: () => stuck });
    const next = await nextCycle(ports, input);
    const realNow = Date.now;
    let skew = 0;
    // Time runs fast: every read of the clock is a minute later.
    Date.now = () => realNow() + (skew += 60_000);
    try {
      await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, next), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'LakeTableBusy');
        assert.equal(err.nonRetryable, false);
        assert.match(err.message, new RegExp(`load of public\\.orders \\(lake table shop\\.orders\\) cannot start: run ${runId} \\(run token c1:public\\.orders\\) of another load on the lake table did not end within 15 minutes of being asked to stop; stop it in the backend`));
        return true;
      });
      // On the last allowed attempt no retry follows: the message must not promise one.
      await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, heartbeatDetails: { failures: 1 } }).run(loadTable, { ...next, maxFailures: 2 }), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'LakeTableBusy');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /failure 2 of 2: retry\.maximumAttempts is used up/);
        assert.doesNotMatch(err.message, /is retried/);
        return true;
      });
    } finally {
      Date.now = realNow;
    }
  });

  test('a table missing from the plan is a clear, final error', async () => {
    const { loadTable, input } = await setup();
    await assert.rejects(new MockActivityEnvironment().run(loadTable, { ...input, table: 'public.ghost' }), /load failed for public\.ghost: not in plan/);
  });

  test('a load without its export id or snapshot time fails at once, before any run, saying why', async () => {
    const { backend, loadTable, input } = await setup();
    const { exportId: _, ...withoutExport } = input;
    for (const partial of [withoutExport, { ...input, snapshotTime: '' }]) {
      await assert.rejects(new MockActivityEnvironment().run(loadTable, partial as LoadTableInput), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'MissingLineage');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /load failed for public\.orders: the request names no export id or snapshot time/);
        return true;
      });
    }
    assert.equal(backend.count('load.start:public.orders'), 0);
  });

  test('a process killed at any moment of a start leaves no counted start without a run its token finds', async () => {
    const stateDir = tempDir('lakesync-fake-start-');
    const { ports, request } = await setup({ stateDir, latencyMs: 60_000 });
    // Each state a SIGKILL could leave behind: the file after every write.
    const persisted: FakeState[] = [];
    const rename = fs.renameSync;
    fs.renameSync = (from, to) => {
      rename(from, to);
      if (String(to).endsWith('fake-state.json')) persisted.push(JSON.parse(readFileSync(to, 'utf8')) as FakeState);
    };
    try {
      await ports.load.startLoad(request);
      const packToken = packTokenFor('c2', ['public.orders']);
      const load = { ...request, cycleId: 'c2', runToken: runTokenFor('c2', 'public.orders') };
      await ports.load.packs!.startPack({ source: 'shop', cycleId: 'c2', packToken, loads: [load], summaryLocation: ports.load.packs!.summaryLocation('shop', 'c2', packToken) });
    } finally {
      fs.renameSync = rename;
    }
    assert.ok(persisted.length > 0, 'the fake wrote its state');
    for (const [i, s] of persisted.entries()) {
      const runs = Object.values(s.runs).filter((r) => r.table === 'public.orders');
      assert.equal(s.counters['load.start:public.orders'] ?? 0, runs.length, `write ${i + 1}: every counted start has its run`);
      for (const r of runs.filter((x) => x.packRunId)) assert.ok(s.packs?.[r.packRunId!], `write ${i + 1}: pack ${r.packRunId} of run ${r.runId} is there for its token to find`);
    }
  });
});
