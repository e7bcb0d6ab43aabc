/** The load activity for direct plan entries: no export lineage needed, and only for them. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadActivities, type LoadTableInput } from '../../src/activities/load';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import type { LoadResult, PlanEntry } from '../../src/model';
import { planEntry } from '../helpers/plan';

const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: ['public.events'] }, target: { namespace: 'shop' } } } });
const direct: PlanEntry = planEntry({ table: 'public.events', lakeTable: 'events', action: 'create', primaryKey: ['id'], cursor: { column: 'id', mode: 'upsert', lookback: '0' }, extract: { kind: 'direct', partitions: 2 } });

async function setup(plan: PlanEntry) {
  const backend = new FakeBackend({ tables: ['public.events'], latencyMs: 0, rowsPerTable: 40 });
  const ports = backend.ports();
  const planRef = await ports.manifests.put('c1/plan.json', [plan]);
  const { loadTable } = loadActivities({ config, portsFor: () => ports });
  const input: LoadTableInput = { source: 'shop', cycleId: 'c1', planRef, table: 'public.events', database: 'fake', namespace: 'shop' };
  return { backend, loadTable, input };
}

describe('load activity, direct plan entries', () => {
  test('a direct load runs without an export id, snapshot time or location, and reports its window', async () => {
    const { backend, loadTable, input } = await setup(direct);
    const result = (await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, input)) as LoadResult;
    assert.equal(result.status, 'succeeded');
    assert.equal(result.extract, 'direct');
    assert.deepEqual(result.window, { from: null, to: '40', partitions: 2, estimatedRows: 40 });
    assert.equal(result.cursorValueAfter, '40');
    const run = Object.values(backend.state.runs)[0]!;
    assert.equal(run.request.exportId, undefined);
    assert.equal(run.request.snapshotTime, undefined);
    assert.equal(run.request.exportLocation, undefined);
    assert.equal(backend.state.lake['shop.events']!.lastCommit!.exportId, undefined, 'the commit names no export');
  });

  test('an export plan entry without its lineage is still refused with MissingLineage, before any run', async () => {
    const { backend, loadTable, input } = await setup({ ...direct, extract: undefined });
    await assert.rejects(new MockActivityEnvironment().run(loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'MissingLineage');
      return true;
    });
    assert.equal(backend.count('load.start:public.events'), 0);
  });

  test('a direct load the job arguments refuse (no cursor) fails at once, without retrying', async () => {
    const { backend, loadTable, input } = await setup({ ...direct, cursor: undefined });
    await assert.rejects(new MockActivityEnvironment().run(loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /public\.events is a direct load without a cursor column/);
      return true;
    });
    assert.equal(Object.keys(backend.state.runs).length, 0);
  });
});
