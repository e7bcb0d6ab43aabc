/** The load activity's run handling: re-attach by heartbeat run id or by run token, never a second run. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadActivities, type LoadTableInput } from '../../src/activities/load';
import { parseConfig } from '../../src/config/load';
import { runTokenFor } from '../../src/ids';
import { FakeBackend } from '../../src/fake/ports';
import type { LoadRequest, LoadResult, PlanEntry } from '../../src/model';
import { planEntry } from '../helpers/plan';

const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: ['public.orders'] }, target: { namespace: 'shop' } } } });
const plan: PlanEntry = planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', reason: 'primary key (id) source', primaryKey: ['id'] });

async function setup(backendOptions: Partial<ConstructorParameters<typeof FakeBackend>[0]> = {}) {
  const backend = new FakeBackend({ tables: ['public.orders'], latencyMs: 0, ...backendOptions });
  const ports = backend.ports();
  const planRef = await ports.manifests.put('c1/plan.json', [plan]);
  const { loadTable } = loadActivities({ config, portsFor: () => ports });
  const input: LoadTableInput = { source: 'shop', cycleId: 'c1', planRef, table: 'public.orders', exportLocation: 'fake://exports/e1', database: 'fake', namespace: 'shop' };
  const request: LoadRequest = { ...input, runToken: runTokenFor('c1', 'public.orders'), plan, resultLocation: ports.load.resultLocation({ ...input, runToken: runTokenFor('c1', 'public.orders'), plan }) };
  return { backend, ports, loadTable, input, request };
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

  test('a run whose result error is retryable is replaced by a new run on retry', async () => {
    const { backend, ports, loadTable, input, request } = await setup({ failures: [{ table: 'public.orders', phase: 'load', times: 1, retryable: true }] });
    await ports.load.startLoad(request);
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000, attempt: 2 }).run(loadTable, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(backend.count('load.start:public.orders'), 2);
  });

  test('a table missing from the plan is a clear, final error', async () => {
    const { loadTable, input } = await setup();
    await assert.rejects(new MockActivityEnvironment().run(loadTable, { ...input, table: 'public.ghost' }), /load failed for public\.ghost: not in plan/);
  });
});
