/**
 * A pack run started under a config that included all its tables, whose tables' loads are then
 * retried by a worker whose config excludes one of them (the worker restarted with a changed config).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadActivities, type LoadTableInput, type LoadTableResult } from '../../src/activities/load';
import { packActivities } from '../../src/activities/pack';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import { cycleManifestKeys, packTokenFor } from '../../src/ids';
import { planEntry } from '../helpers/plan';

const TABLES = ['public.a', 'public.secret_pii'];
const before = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' }, packing: {} } } });
const after = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' }, exclude: ['*.*_pii'], packing: {} } } });

describe('a packed table excluded by the config while its pack run goes on', () => {
  test('its refused load stops the pack run, so that the run never loads the excluded table', async () => {
    // public.a first (long), then public.secret_pii: the excluded table is not loaded yet when its load is refused.
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, latencyMsByTable: { 'public.a': 1_500, 'public.secret_pii': 10 } });
    const ports = backend.ports();
    const tables = ['public.a', 'public.secret_pii'];
    const planRef = await ports.manifests.put(
      cycleManifestKeys.plan('c60'),
      tables.map((table) => planEntry({ table, lakeTable: table.split('.')[1]!, action: 'create', primaryKey: ['id'] })),
    );
    await ports.export.startExport({ source: 'shop', exportId: 'e60', snapshot: { snapshotId: 's60', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const lineage = { exportId: 'e60', snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: 'fake://exports/e60', database: 'fake', namespace: 'shop' };
    const token = packTokenFor('c60', tables);
    const { runId } = (await new MockActivityEnvironment().run(packActivities({ config: before, portsFor: () => ports }).startPackLoad, {
      source: 'shop',
      cycleId: 'c60',
      planRef,
      packToken: token,
      tables,
      ...lineage,
    })) as { runId: string };
    assert.equal((await ports.load.getRun(runId)).state, 'running');

    // The retried load of the excluded table, on a worker whose config excludes it now.
    const { loadPackedTable } = loadActivities({ config: after, portsFor: () => ports });
    const input: LoadTableInput = { source: 'shop', cycleId: 'c60', planRef, table: 'public.secret_pii', ...lineage, pack: { token, runId, tables: 2, index: 1 } };
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000, heartbeatDetails: { table: 'public.secret_pii', state: 'running', failures: 0, packRunId: runId } });
    await assert.rejects(env.run(loadPackedTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'ExcludedByConfig');
      assert.match(err.message, new RegExp(`nothing was loaded into the lake; run ${runId} of its pack ${token}, started before the config changed, was stopped`), err.message);
      return true;
    });

    // Wait until the pack would have ended had it gone on.
    await new Promise((r) => setTimeout(r, 2_000));
    const seen = {
      stopAsked: backend.count('load.stop') >= 1,
      packRun: (await ports.load.getRun(runId)).state,
      excludedInLake: backend.state.lake['shop.secret_pii']?.lastCommit !== undefined,
    };
    assert.deepEqual(seen, { stopAsked: true, packRun: 'failed', excludedInLake: false }, 'the pack run is stopped and never loads the excluded table');
    // The pack's other table, which the stopped run left, is answered as left: the batch loads it in a run of its own.
    const other = await new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000 }).run(loadPackedTable, { ...input, table: 'public.a', pack: { token, runId, tables: 2, index: 0 } });
    assert.ok('leftByPack' in (other as object), JSON.stringify(other));
  });

  test("a table the stopped pack run had already committed, then run alone, is not loaded a second time: its result for its run token is taken", async () => {
    // public.a first (fast, commits), then public.secret_pii (long): the retried start, under the config that excludes it, stops the run.
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, latencyMsByTable: { 'public.a': 10, 'public.secret_pii': 60_000 } });
    const ports = backend.ports();
    const tables = ['public.a', 'public.secret_pii'];
    const planRef = await ports.manifests.put(
      cycleManifestKeys.plan('c61'),
      tables.map((table) => planEntry({ table, lakeTable: table.split('.')[1]!, action: 'create', primaryKey: ['id'] })),
    );
    await ports.export.startExport({ source: 'shop', exportId: 'e61', snapshot: { snapshotId: 's61', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const lineage = { exportId: 'e61', snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: 'fake://exports/e61', database: 'fake', namespace: 'shop' };
    const start = { source: 'shop', cycleId: 'c61', planRef, packToken: packTokenFor('c61', tables), tables, ...lineage };
    const { runId } = (await new MockActivityEnvironment().run(packActivities({ config: before, portsFor: () => ports }).startPackLoad, start)) as { runId: string };
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(new MockActivityEnvironment().run(packActivities({ config: after, portsFor: () => ports }).startPackLoad, start), /excluded by the source's config now/);
    assert.equal((await ports.load.getRun(runId)).state, 'failed', 'the pack run was stopped');
    assert.equal(backend.count('load.commit:public.a'), 1, 'the stopped pack run had committed public.a');

    // The batch then runs the pack's tables alone: public.a's load finds it loaded by its run token.
    const { loadTable } = loadActivities({ config: after, portsFor: () => ports });
    const result = await new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000 }).run(loadTable, { source: 'shop', cycleId: 'c61', planRef, table: 'public.a', ...lineage } satisfies LoadTableInput);
    assert.equal((result as { status: string }).status, 'succeeded');
    // Its share of the stopped pack run is not read: its cost says so rather than showing less.
    assert.match((result as LoadTableResult).usage?.partial ?? '', /public\.a was loaded by a run of its pack that its own load could not attach to: its share of that run is left out/);
    assert.deepEqual(
      { runs: backend.count('load.start:public.a'), commits: backend.count('load.commit:public.a') },
      { runs: 1, commits: 1 },
      'public.a is loaded once in the cycle',
    );
  });
});
