/**
 * Cycle activities without a server: a requested excluded table is skipped, never failed; a dead
 * cycle's outcomes are read back from its plan, its export and the lake's lineage.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { cycleActivities, type ExportScopeSummary } from '../../src/activities/cycle';
import { loadActivities, loadRequestFor, type LoadTableInput } from '../../src/activities/load';
import { type RecoveredCycle, recoveryActivities } from '../../src/activities/recovery';
import { packActivities } from '../../src/activities/pack';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import { cycleManifestKeys, exportIdFor, packTokenFor, runTokenFor, tableExportIdFor } from '../../src/ids';
import { cycleTableLines } from '../../src/cli/cycle-report';
import { lastCycleRows, type StatusView } from '../../src/cli/progress';
import { statusReport } from '../../src/cli/render-status';
import { initialState, recordCycle } from '../../src/workflows/ledger';
import type { DiscoverySummary, ExportRef, LoadRequest, PlanEntry, PlanSummary, VerifyRequest } from '../../src/model';
import { textBytes } from '../../src/payload-text';
import { RECOVERY_ATTEMPTS } from '../../src/workflows/options';
import type { Ports } from '../../src/ports';
import { isPortError, PortError } from '../../src/errors';
import { planEntry } from '../helpers/plan';
import { awsSource } from '../aws/fixtures';
import type { LakesyncConfig } from '../../src/config/schema';

const TABLES = ['public.a', 'public.b', 'public.c', 'public.secret_pii'];
const config = parseConfig({
  sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' }, exclude: ['*.*_pii'] } },
});

function setup() {
  const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
  const ports = backend.ports();
  const deps = { config, portsFor: () => ports };
  return { backend, ports, ...cycleActivities(deps), ...recoveryActivities(deps) };
}

/** A source of `count` fake tables (no exclusions) and its cycle activities. */
function manyTables(count: number) {
  const tables = Array.from({ length: count }, (_, i) => `public.t${String(i + 1).padStart(4, '0')}`);
  const ports = new FakeBackend({ tables, latencyMs: 0 }).ports();
  const many = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables }, target: { namespace: 'shop' } } } });
  return { tables, ports, ...cycleActivities({ config: many, portsFor: () => ports }) };
}

/** Loads one table in cycle `cycleId` from `exported` until it commits, as a batch would. */
async function commitLoad(ports: Ports, cycleId: string, plan: PlanEntry, exported: ExportRef, snapshotTime: string): Promise<void> {
  const base = { source: 'shop', cycleId, runToken: runTokenFor(cycleId, plan.table), exportId: exported.exportId, snapshotTime, exportLocation: exported.location, database: 'fake', plan, namespace: 'shop' };
  const req: LoadRequest = { ...base, resultLocation: ports.load.resultLocation(base) };
  const { runId } = await ports.load.startLoad(req);
  assert.equal((await ports.load.getRun(runId)).state, 'succeeded');
}

describe('plan', () => {
  test('a requested table the export lacks is skipped when excluded, failed when included', async () => {
    const { ports, planCycle } = setup();
    // The export holds the included tables only (excluded data never leaves the database).
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c1'), [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }]);
    const discovery = { manifest, database: 'fake', tableCount: 1, skipped: [], warnings: [] };
    const plan = await planCycle('shop', 'c1', discovery, { requested: ['public.a', 'public.secret_pii', 'public.typo'] });
    const byTable = Object.fromEntries(plan.notLoaded.map((t) => [t.table, t]));
    assert.equal(byTable['public.secret_pii']?.status, 'skipped');
    assert.equal(byTable['public.secret_pii']?.reason, 'excluded (exclude *.*_pii)');
    assert.equal(byTable['public.secret_pii']?.error, undefined);
    assert.equal(byTable['public.typo']?.status, 'failed');
    assert.equal(byTable['public.typo']?.error?.type, 'TableNotExported');
    assert.deepEqual(plan.load.map((l) => l.table), ['public.a']);
  });

  test("a table refused at plan that the cycle's own RDS export lists without a size marks its billed cost partial, saying so, instead of booking nothing", async () => {
    // Table keys that differ from the tables only in case: both are refused at plan, after the export took them.
    const billed: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource({ raw: { tables: { 'public.A': { action: 'replace' }, 'public.B': { action: 'replace' } } } }) } };
    const ports = new FakeBackend({ tables: TABLES, latencyMs: 0 }).ports();
    const { planCycle } = cycleActivities({ config: billed, portsFor: () => ports });
    const own: ExportRef = { exportId: exportIdFor('shop', 'c42'), location: 'fake://exports/own', snapshotId: 's42', adopted: false };
    await ports.manifests.put(cycleManifestKeys.export('c42'), own);
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c42'), [
      { table: 'public.a', target: 'fake.public.a', sizeGB: 2, columns: [], primaryKey: ['id'] },
      { table: 'public.b', target: 'fake.public.b', columns: [], primaryKey: ['id'] },
    ]);
    const plan = await planCycle('shop', 'c42', { manifest, database: 'shop', tableCount: 2, skipped: [], warnings: [] });
    const byTable = Object.fromEntries(plan.notLoaded.map((t) => [t.table, t]));
    assert.deepEqual([byTable['public.a']?.error?.type, byTable['public.b']?.error?.type], ['InvalidTableSettings', 'InvalidTableSettings'], JSON.stringify(plan.notLoaded));
    assert.deepEqual(byTable['public.a']?.cost, { basis: 'glue', exportGB: 2, exportUsd: 0.02 });
    assert.equal(byTable['public.b']?.cost?.exportGB, undefined);
    assert.match(byTable['public.b']?.cost?.partial ?? '', new RegExp(`public\\.b has no size in the table list of export ${own.exportId}.*: its export GB are left out`), JSON.stringify(byTable['public.b']));
  });

  test('a view, materialized view or foreign table the config or a rerun names is not loaded, saying why; a name the source lacks is as before', async () => {
    const named = parseConfig({
      sources: {
        shop: {
          database: 'fake',
          source: { kind: 'fake', tables: TABLES },
          target: { namespace: 'shop' },
          include: ['public.*', 'archive.events_2024', 'sales.open_deals'],
          tables: { 'public.a': {}, 'public.recent_orders': {}, 'public.Totals By Day': {}, 'public.remote': {}, 'public.gone': {}, 'archive.events_2024': {} },
        },
      },
    });
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
    const base = backend.ports();
    const notTables = { 'public.recent_orders': 'view', 'public.Totals By Day': 'materialized view', 'public.remote': 'foreign table', 'archive.events_2024': 'partition of public.events', 'sales.open_deals': 'view' };
    const ports = { ...base, export: { ...base.export, listSourceNotTables: async () => notTables } } as Ports;
    const { planCycle } = cycleActivities({ config: named, portsFor: () => ports });
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c40'), [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }]);
    const discovery = { manifest, database: 'fake', tableCount: 1, skipped: [], warnings: [] };

    const sync = await planCycle('shop', 'c40', discovery);
    const byTable = Object.fromEntries(sync.notLoaded.map((t) => [t.table, t]));
    assert.deepEqual(Object.keys(byTable).sort(), ['archive.events_2024', 'public.Totals By Day', 'public.recent_orders', 'public.remote', 'sales.open_deals']);
    assert.match(byTable['sales.open_deals']!.reason!, /^not a table: sales\.open_deals is a view, .* or remove include entry "sales\.open_deals" from the config$/);
    assert.match(byTable['archive.events_2024']!.reason!, /^not a table: archive\.events_2024 is a partition of public\.events: an export holds its rows in public\.events, so it is not loaded on its own: set tables\."public\.events" instead/);
    assert.equal(byTable['public.recent_orders']?.status, 'skipped');
    assert.match(byTable['public.recent_orders']!.reason!, /^not a table: public\.recent_orders is a view, and an export holds tables only/);
    assert.match(byTable['public.Totals By Day']!.reason!, /^not a table: public\.Totals By Day is a materialized view/);
    assert.match(byTable['public.remote']!.reason!, /^not a table: public\.remote is a foreign table/);
    assert.match(byTable['public.remote']!.reason!, /remove tables\."public\.remote" from the config/);
    assert.deepEqual(sync.load.map((l) => l.table), ['public.a']);

    const rerun = await planCycle('shop', 'c41', discovery, { requested: ['public.a', 'public.recent_orders', 'public.gone'] });
    const requested = Object.fromEntries(rerun.notLoaded.map((t) => [t.table, t]));
    assert.equal(requested['public.recent_orders']?.status, 'failed');
    assert.equal(requested['public.recent_orders']?.error?.type, 'NotATable');
    assert.match(requested['public.recent_orders']!.error!.message, /^not a table: public\.recent_orders is a view/);
    assert.equal(requested['public.gone']?.error?.type, 'TableNotExported');
  });

  test("a cycle that dies after its plan still reports the tables its plan refused: they are failed, for a fix and a rerun", async () => {
    const { planCycle, recoverCycleOutcomes, ports } = setup();
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c28'), [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }]);
    const discovery = { manifest, database: 'fake', tableCount: 1, skipped: [], warnings: [] };
    await planCycle('shop', 'c28', discovery, { requested: ['public.a', 'public.typo'] });
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c28', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(out.tables.map((t) => [t.table, t.status, t.error?.type]), [['public.a', 'failed', 'CycleEnded'], ['public.typo', 'failed', 'TableNotExported']]);
    // A dead batch's recovery reads its own tables only: the plan's refusals are the cycle's to report.
    const batch = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c28', error: 'terminated', tables: ['public.a'] })) as RecoveredCycle;
    assert.deepEqual(batch.tables.map((t) => t.table), ['public.a']);
  });

  test("a cycle that dies after its plan still reports the tables its export skipped: failed, with the export's reason, as the cycle would have", async () => {
    const { planCycle, recoverCycleOutcomes, ports } = setup();
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c29'), [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }]);
    const skipped = [{ table: 'public.b', reason: 'an unlogged table: no export holds its rows' }];
    await planCycle('shop', 'c29', { manifest, database: 'fake', tableCount: 1, skipped, warnings: [] });
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c29', error: 'terminated' })) as RecoveredCycle;
    const b = out.tables.find((t) => t.table === 'public.b');
    assert.equal(b?.status, 'failed', JSON.stringify(out.tables.map((t) => [t.table, t.status])));
    assert.deepEqual(b.error, { phase: 'discover', message: 'public.b was not exported: an unlogged table: no export holds its rows', type: 'NotExported', retryable: false });
    // A rerun of other tables does not fail the skipped one: it is skipped, and no failure of its is read back.
    await planCycle('shop', 'c30', { manifest, database: 'fake', tableCount: 1, skipped, warnings: [] }, { requested: ['public.a'] });
    const rerun = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c30', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(rerun.tables.map((t) => [t.table, t.status]), [['public.a', 'failed']]);
  });

  test('the tables the export skipped, stored by reference, are read back by the plan; a part the store changed under it fails the plan for good, naming it', async () => {
    const { planCycle, ports } = setup();
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c32'), [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }]);
    const skipped = Array.from({ length: 3 }, (_, i) => ({ table: `public.skipped_${i}`, reason: 'an unlogged table' }));
    const part = await ports.manifests.put(`${cycleManifestKeys.skippedTables('c32')}/part-0`, JSON.stringify(skipped));
    const discovery = { manifest, database: 'fake', tableCount: 1, skipped: [], skippedRef: { parts: [part], bytes: 100 }, warnings: [] };
    await planCycle('shop', 'c32', discovery, { requested: ['public.a', 'public.skipped_1'] });

    await ports.manifests.put(`${cycleManifestKeys.skippedTables('c32')}/part-0`, { not: 'text' });
    await assert.rejects(planCycle('shop', 'c32', discovery), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'PayloadPartInvalid');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, new RegExp(`part ${part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} of source shop is not a stored text part \\(found object\\): the manifest store was changed under it`));
      return true;
    });
  });

  test("the discovery summary holds how many tables there are, not their names: its size does not grow with them", async () => {
    const { tables, ports, startSnapshot, startExport, discoverTables } = manyTables(2_000);
    const snapshot = await startSnapshot({ source: 'shop', snapshotId: 's1', mode: 'create' });
    const exported = await startExport({ source: 'shop', exportId: 'e1', snapshot, tables });
    const discovery = (await new MockActivityEnvironment().run(discoverTables, 'shop', 'c3', exported)) as DiscoverySummary;
    assert.equal(discovery.tableCount, 2_000);
    assert.ok(Buffer.byteLength(JSON.stringify(discovery)) < 1_024, `the summary is ${Buffer.byteLength(JSON.stringify(discovery))} bytes`);
    const described = await ports.manifests.get<{ table: string }[]>(discovery.manifest);
    assert.equal(described.length, 2_000, 'the manifest describes every table');
  });

  test('a load list larger than half the inline limit is stored in parts and returned by reference; a smaller one inline', async () => {
    const { tables, ports, planCycle } = manyTables(60);
    const manifest = await ports.manifests.put(cycleManifestKeys.discovery('c2'), tables.map((table) => ({ table, target: `fake.${table}`, columns: [], primaryKey: ['id'] })));
    // A requested table the export lacks: the unloaded tables travel with the load list.
    const options = { requested: [...tables, 'public.typo'] };
    const discovery = { manifest, database: 'fake', tableCount: tables.length, skipped: [], warnings: [] };
    const plan = (limit?: number) => new MockActivityEnvironment().run(planCycle, 'shop', 'c2', discovery, { ...options, ...(limit ? { payloadInlineBytes: limit } : {}) }) as Promise<PlanSummary>;

    const inline = await plan();
    assert.equal(inline.itemsRef, undefined, 'without a limit the list stays inline (an activity scheduled before the limit existed)');
    assert.equal(inline.load.length, 60);
    assert.deepEqual(inline.notLoaded.map((t) => t.table), ['public.typo']);
    assert.deepEqual(await plan(256 * 1024), inline);

    const limit = 1024;
    const stored = await plan(limit);
    assert.deepEqual([stored.load, stored.notLoaded], [[], []]);
    assert.equal(stored.planRef, inline.planRef);
    assert.ok(stored.itemsRef && stored.itemsRef.parts.length > 1, `parts: ${JSON.stringify(stored.itemsRef)}`);
    assert.ok(Buffer.byteLength(JSON.stringify(stored)) <= limit, `the result is ${Buffer.byteLength(JSON.stringify(stored))} bytes`);
    assert.ok(stored.itemsRef.parts.every((ref) => ref.startsWith('fake://manifests/c2/plan-items/')), stored.itemsRef.parts.join(', '));
    const texts = await Promise.all(stored.itemsRef.parts.map((ref) => ports.manifests.get<string>(ref)));
    assert.deepEqual(JSON.parse(texts.join('')), { load: inline.load, notLoaded: inline.notLoaded }, 'the parts joined are the list');
    assert.equal(stored.itemsRef.bytes, textBytes(texts.join('')));
  });
});

describe('export scope', () => {
  /** An RDS source whose catalog has `parents` partitioned tables, each with `foreignEach` foreign partitions. */
  function foreignPartitions(parents: number, foreignEach: number) {
    const tables = Array.from({ length: parents }, (_, i) => `public.readings_${i}`);
    const partitions = Object.fromEntries(tables.map((t) => [t, Array.from({ length: foreignEach }, (_, j) => `${t}_on_a_remote_server_${j}`)]));
    const notTables = Object.fromEntries(Object.values(partitions).flat().map((p) => [p, 'foreign table']));
    const base = new FakeBackend({ tables, latencyMs: 0 }).ports();
    const ports = { ...base, export: { ...base.export, listSourceTables: async () => tables, listSourcePartitions: async () => partitions, listSourceNotTables: async () => notTables } } as Ports;
    const rds: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource({ raw: { include: ['public.*'], tables: {} } }) } };
    return cycleActivities({ config: rds, portsFor: () => ports });
  }

  test('thousands of partitioned tables with foreign partitions: the scope carries the first warnings and how many there are', async () => {
    const scope = (await new MockActivityEnvironment().run(foreignPartitions(3_000, 1).exportScope, 'shop', 'c-foreign-many')) as ExportScopeSummary;
    const foreign = scope.warnings.filter((w) => /exported without the rows of/.test(w));
    assert.equal(foreign.length, 50, `${scope.warnings.length} warnings`);
    assert.match(scope.warnings.at(-1)!, /^\.\.\. \d+ more \(\d+ warnings in all; the worker's log has them all\)$/);
    assert.ok(textBytes(JSON.stringify(scope)) < 150_000, `the scope is ${textBytes(JSON.stringify(scope))} bytes`);
  });

  test('a table with thousands of foreign partitions: its warning keeps its start, saying the log has it whole', async () => {
    const scope = (await new MockActivityEnvironment().run(foreignPartitions(1, 5_000).exportScope, 'shop', 'c-foreign-long')) as ExportScopeSummary;
    const warning = scope.warnings.find((w) => w.startsWith('public.readings_0 is exported without the rows of its partitions public.readings_0_on_a_remote_server_0, '));
    assert.ok(warning, JSON.stringify(scope.warnings).slice(0, 500));
    assert.ok(warning.length <= 2_200, `the warning is ${warning.length} characters`);
    assert.match(warning, /characters more; the worker's log has it whole\)$/);
  });
});

describe("loads under a config changed since the plan", () => {
  test("a pack with a table the worker's config now excludes starts no run: the table is refused, naming the rule", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
    const ports = backend.ports();
    // The plan was made when public.secret_pii was included; the worker's config excludes *.*_pii now.
    const entries = ['public.a', 'public.secret_pii'].map((table) => planEntry({ table, lakeTable: table.split('.')[1]!, action: 'create', primaryKey: ['id'] }));
    const planRef = await ports.manifests.put(cycleManifestKeys.plan('c50'), entries);
    await ports.export.startExport({ source: 'shop', exportId: 'e50', snapshot: { snapshotId: 's50', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const { startPackLoad } = packActivities({ config, portsFor: () => ports });
    const input = { source: 'shop', cycleId: 'c50', planRef, packToken: packTokenFor('c50', ['public.a', 'public.secret_pii']), tables: ['public.a', 'public.secret_pii'], exportId: 'e50', snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: 'fake://exports/e50', database: 'fake', namespace: 'shop' };
    await assert.rejects(new MockActivityEnvironment().run(startPackLoad, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /public\.secret_pii is excluded by the source's config now \(exclude \*\.\*_pii\).*nothing was loaded into the lake/);
      return true;
    });
    assert.equal(backend.count('pack.start'), 0, 'no pack run started');
  });

  test("a pack run an earlier start attempt made before the config excluded one of its tables is stopped, and the refusal says so", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 60_000 });
    const ports = backend.ports();
    const entries = ['public.a', 'public.secret_pii'].map((table) => planEntry({ table, lakeTable: table.split('.')[1]!, action: 'create', primaryKey: ['id'] }));
    const planRef = await ports.manifests.put(cycleManifestKeys.plan('c51'), entries);
    await ports.export.startExport({ source: 'shop', exportId: 'e51', snapshot: { snapshotId: 's51', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const tables = ['public.a', 'public.secret_pii'];
    const input = { source: 'shop', cycleId: 'c51', planRef, packToken: packTokenFor('c51', tables), tables, exportId: 'e51', snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: 'fake://exports/e51', database: 'fake', namespace: 'shop' };
    // The first attempt ran under the config of the plan, which included public.secret_pii: it started the run, and its answer was lost.
    const before = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });
    const { runId } = (await new MockActivityEnvironment().run(packActivities({ config: before, portsFor: () => ports }).startPackLoad, input)) as { runId: string };
    assert.equal((await ports.load.getRun(runId)).state, 'running');
    // The retry runs under the config that excludes *.*_pii now.
    const { startPackLoad } = packActivities({ config, portsFor: () => ports });
    await assert.rejects(new MockActivityEnvironment().run(startPackLoad, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /public\.secret_pii is excluded by the source's config now/);
      assert.match(err.message, new RegExp(`run ${runId}.*stopped`), err.message);
      return true;
    });
    assert.ok(backend.count('load.stop') >= 1, 'the run was asked to stop');
    assert.equal((await ports.load.getRun(runId)).state, 'failed', 'the run no longer loads the excluded table');
  });

  test("an excluded table the earlier pack run had already committed is named in the refusal, with its lake table", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, latencyMsByTable: { 'public.secret_pii': 10, 'public.a': 60_000 } });
    const ports = backend.ports();
    const tables = ['public.secret_pii', 'public.a'];
    const entries = tables.map((table) => planEntry({ table, lakeTable: table.split('.')[1]!, action: 'create', primaryKey: ['id'] }));
    const planRef = await ports.manifests.put(cycleManifestKeys.plan('c52'), entries);
    await ports.export.startExport({ source: 'shop', exportId: 'e52', snapshot: { snapshotId: 's52', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const input = { source: 'shop', cycleId: 'c52', planRef, packToken: packTokenFor('c52', tables), tables, exportId: 'e52', snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: 'fake://exports/e52', database: 'fake', namespace: 'shop' };
    const before = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });
    const { runId } = (await new MockActivityEnvironment().run(packActivities({ config: before, portsFor: () => ports }).startPackLoad, input)) as { runId: string };
    await new Promise((r) => setTimeout(r, 200));
    const { startPackLoad } = packActivities({ config, portsFor: () => ports });
    await assert.rejects(new MockActivityEnvironment().run(startPackLoad, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.match(err.message, new RegExp(`run ${runId}.*was stopped, but it had already loaded public\\.secret_pii \\(lake table shop\\.secret_pii`), err.message);
      assert.doesNotMatch(err.message, /nothing was loaded into the lake/);
      return true;
    });
    // The table then runs alone, and is refused there too: the table's own outcome says it is in the lake.
    const { loadTable } = loadActivities({ config, portsFor: () => ports });
    const alone: LoadTableInput = { source: 'shop', cycleId: 'c52', planRef, table: 'public.secret_pii', exportId: 'e52', snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: 'fake://exports/e52', database: 'fake', namespace: 'shop' };
    await assert.rejects(new MockActivityEnvironment().run(loadTable, alone), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'ExcludedByConfig');
      assert.match(err.message, /had already loaded public\.secret_pii \(lake table shop\.secret_pii, \d+ rows\)/, err.message);
      return true;
    });
  });
});

describe('recovering a dead cycle', () => {
  const e9: ExportRef = { exportId: 'e9', location: 'fake://exports/e9', snapshotId: 's9', adopted: false };
  const plans = ['a', 'b', 'c'].map((t) => planEntry({ table: `public.${t}`, lakeTable: t, action: 'create', primaryKey: ['id'] }));
  /** Export e9 as the fake backend made it: recovery verifies a recovered commit against its files. */
  const exportE9 = (ports: Ports) => ports.export.startExport({ source: 'shop', exportId: 'e9', snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });

  test("a dead cycle's pack run is booked: each of its tables takes its share of the run's DPU-seconds, by its seconds in the pack", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, dpuSecondsPerRun: 90, latencyMsByTable: { 'public.a': 20, 'public.b': 60 } });
    const ports = backend.ports();
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c31'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c31'), e9);
    const loads = plans.slice(0, 2).map((plan) => {
      const base = { source: 'shop', cycleId: 'c31', runToken: runTokenFor('c31', plan.table), exportId: e9.exportId, snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: e9.location, database: 'fake', plan, namespace: 'shop' };
      return { ...base, resultLocation: ports.load.resultLocation(base) };
    });
    const packToken = packTokenFor('c31', ['public.a', 'public.b']);
    const packs = ports.load.packs!;
    const { runId } = await packs.startPack({ source: 'shop', cycleId: 'c31', packToken, loads, summaryLocation: packs.summaryLocation('shop', 'c31', packToken) });
    while ((await ports.load.getRun(runId)).state === 'running') await new Promise((r) => setTimeout(r, 20));
    // The cycle died while its pack ran: nobody booked the pack's 90 DPU-seconds (a: 0.02 s of 0.08 s, b: 0.06 s).
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c31', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(out.tables.map((t) => [t.table, t.status, t.cost?.dpuSeconds]), [['public.a', 'committed', 22.5], ['public.b', 'committed', 67.5], ['public.c', 'failed', undefined]]);
  });

  test("a dead cycle's pack run is booked from one read of its summary, however many tables the pack has", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, dpuSecondsPerRun: 90 });
    const ports = backend.ports();
    const packs = ports.load.packs!;
    const readSummary = packs.readSummary.bind(packs);
    let reads = 0;
    packs.readSummary = async (location) => {
      reads++;
      return readSummary(location);
    };
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c32'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c32'), e9);
    const loads = plans.map((plan) => {
      const base = { source: 'shop', cycleId: 'c32', runToken: runTokenFor('c32', plan.table), exportId: e9.exportId, snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: e9.location, database: 'fake', plan, namespace: 'shop' };
      return { ...base, resultLocation: ports.load.resultLocation(base) };
    });
    const packToken = packTokenFor('c32', plans.map((p) => p.table));
    const { runId } = await packs.startPack({ source: 'shop', cycleId: 'c32', packToken, loads, summaryLocation: packs.summaryLocation('shop', 'c32', packToken) });
    while ((await ports.load.getRun(runId)).state === 'running') await new Promise((r) => setTimeout(r, 20));
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c32', error: 'terminated' })) as RecoveredCycle;
    assert.equal(out.tables.length, plans.length);
    assert.ok(out.tables.every((t) => t.cost?.dpuSeconds !== undefined), JSON.stringify(out.tables.map((t) => t.cost)));
    assert.equal(reads, 1, `the pack's summary was read ${reads} times for ${plans.length} tables`);
  });

  test("a dead cycle's pack run whose summary cannot be read marks its tables' costs partial, naming the pack", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, dpuSecondsPerRun: 90 });
    const ports = backend.ports();
    const packs = ports.load.packs!;
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c38'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c38'), e9);
    const loads = plans.slice(0, 2).map((plan) => {
      const base = { source: 'shop', cycleId: 'c38', runToken: runTokenFor('c38', plan.table), exportId: e9.exportId, snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: e9.location, database: 'fake', plan, namespace: 'shop' };
      return { ...base, resultLocation: ports.load.resultLocation(base) };
    });
    const packToken = packTokenFor('c38', ['public.a', 'public.b']);
    const { runId } = await packs.startPack({ source: 'shop', cycleId: 'c38', packToken, loads, summaryLocation: packs.summaryLocation('shop', 'c38', packToken) });
    while ((await ports.load.getRun(runId)).state === 'running') await new Promise((r) => setTimeout(r, 20));
    packs.readSummary = async () => {
      throw new PortError('access-denied', 'AccessDenied', 'S3 GetObject of the pack summary: AccessDenied');
    };
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c38', error: 'terminated' })) as RecoveredCycle;
    for (const t of out.tables.slice(0, 2)) {
      assert.equal(t.cost?.dpuSeconds, undefined, t.table);
      assert.match(t.cost?.partial ?? '', new RegExp(`summary of pack ${packToken} .*could not be read`), `${t.table}: ${JSON.stringify(t.cost)}`);
    }
  });

  test("a dead cycle's pack run whose summary does not list a table marks that table's cost partial, naming the pack", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, dpuSecondsPerRun: 90 });
    const ports = backend.ports();
    const packs = ports.load.packs!;
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c39'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c39'), e9);
    const loads = plans.slice(0, 2).map((plan) => {
      const base = { source: 'shop', cycleId: 'c39', runToken: runTokenFor('c39', plan.table), exportId: e9.exportId, snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: e9.location, database: 'fake', plan, namespace: 'shop' };
      return { ...base, resultLocation: ports.load.resultLocation(base) };
    });
    const packToken = packTokenFor('c39', ['public.a', 'public.b']);
    const { runId } = await packs.startPack({ source: 'shop', cycleId: 'c39', packToken, loads, summaryLocation: packs.summaryLocation('shop', 'c39', packToken) });
    while ((await ports.load.getRun(runId)).state === 'running') await new Promise((r) => setTimeout(r, 20));
    // The run died before it wrote public.b's line in its summary.
    const readSummary = packs.readSummary.bind(packs);
    packs.readSummary = async (location) => {
      const summary = await readSummary(location);
      return summary ? { ...summary, tables: summary.tables.filter((t) => t.table !== 'public.b') } : summary;
    };
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c39', error: 'terminated' })) as RecoveredCycle;
    const byTable = Object.fromEntries(out.tables.map((t) => [t.table, t]));
    assert.equal(byTable['public.a']?.cost?.dpuSeconds, 90, JSON.stringify(byTable['public.a']?.cost));
    assert.equal(byTable['public.a']?.cost?.partial, undefined);
    assert.equal(byTable['public.b']?.cost?.dpuSeconds, undefined);
    assert.match(byTable['public.b']?.cost?.partial ?? '', new RegExp(`summary of pack ${packToken} .*does not list public\\.b`), JSON.stringify(byTable['public.b']?.cost));
  });

  test("a dead cycle's run still going when it is read back is not booked as nothing: the table's cost says its figure is partial and why", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, dpuSecondsPerRun: 90, latencyMsByTable: { 'public.a': 60_000 } });
    const ports = backend.ports();
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c33'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c33'), e9);
    const base = { source: 'shop', cycleId: 'c33', runToken: runTokenFor('c33', 'public.a'), exportId: e9.exportId, snapshotTime: '2025-02-01T00:00:00.000Z', exportLocation: e9.location, database: 'fake', plan: plans[0]!, namespace: 'shop' };
    const { runId } = await ports.load.startLoad({ ...base, resultLocation: ports.load.resultLocation(base) });
    assert.equal((await ports.load.getRun(runId)).state, 'running');
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c33', error: 'terminated' })) as RecoveredCycle;
    const a = out.tables.find((t) => t.table === 'public.a');
    assert.equal(a?.cost?.dpuSeconds, undefined, 'a figure not final is not booked');
    assert.match(a?.cost?.partial ?? '', new RegExp(`run ${runId} .*still (running|going)`), JSON.stringify(a?.cost));
    assert.equal(out.tables.find((t) => t.table === 'public.b')?.cost, undefined, 'a table with no run has no cost');
    const state = initialState();
    recordCycle(state, { cycleId: 'c33', source: 'shop', status: 'failed', export: e9, tables: out.tables, warnings: [], startedAt: '', finishedAt: '' }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    assert.equal(state.recentCycles[0]?.cost?.partial, 1, JSON.stringify(state.recentCycles[0]?.cost));
  });

  test("a dead cycle whose runs cannot be listed at all marks every table's cost partial, with the error", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
    const ports = backend.ports();
    ports.load.cycleRuns = async () => {
      throw ApplicationFailure.create({ message: 'Glue GetJobRuns: AccessDeniedException: not authorized to perform glue:GetJobRuns', nonRetryable: true });
    };
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c37'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c37'), e9);
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c37', error: 'terminated' })) as RecoveredCycle;
    for (const t of out.tables) assert.match(t.cost?.partial ?? '', /runs of the cycle could not be listed .*glue:GetJobRuns/, t.table);
  });

  test("a dead cycle whose runs are not all listed (job history read only so far, a pack file unread) says so: costs partial, a warning naming the run", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
    const ports = backend.ports();
    ports.load.cycleRuns = async () => ({
      runs: [{ table: 'public.a', status: { runId: 'jr_a', state: 'failed', detail: 'FAILED', dpuSeconds: 120 } }],
      unread: [{ runId: 'jr_p', reason: 'its pack file s3://b/p.json could not be read: SlowDown' }],
      truncated: { runs: 5000 },
    });
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c34'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c34'), e9);
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c34', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(out.tables.map((t) => [t.table, t.cost?.dpuSeconds, Boolean(t.cost?.partial)]), [['public.a', 120, true], ['public.b', undefined, true], ['public.c', undefined, true]]);
    assert.ok(out.warnings.some((w) => w.includes('jr_p') && w.includes('SlowDown')), out.warnings.join('\n'));
  });

  test("a dead cycle's ended Glue run that reports no DPU figure is not booked as nothing: the table's cost is partial, naming the run", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
    const ports = backend.ports();
    ports.load.cycleRuns = async () => ({
      runs: [
        // Ran and ended, but Glue's answer held neither DPUSeconds nor the execution time and workers to reckon them from.
        { table: 'public.a', status: { runId: 'jr_a', state: 'failed', detail: 'FAILED' } },
        // Expired in the queue: it never ran, nothing was billed.
        { table: 'public.b', status: { runId: 'jr_b', state: 'failed', detail: 'EXPIRED', unstarted: true } },
        { table: 'public.c', status: { runId: 'jr_c', state: 'succeeded', detail: 'SUCCEEDED', dpuSeconds: 60 } },
      ],
      unread: [],
    });
    // Billed by Glue: an AWS source (its runs' figures are Glue's own).
    const shop = config.sources.shop!;
    const glueBilled = { ...config, sources: { shop: { ...shop, backend: 'aws' as const, source: { kind: 'rds' as const, instanceId: 'shop-db' } } } } as typeof config;
    const { recoverCycleOutcomes } = recoveryActivities({ config: glueBilled, portsFor: () => ports });
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c40'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c40'), e9);
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c40', error: 'terminated' })) as RecoveredCycle;
    const byTable = Object.fromEntries(out.tables.map((t) => [t.table, t.cost]));
    assert.equal(byTable['public.a']?.dpuSeconds, undefined);
    assert.match(byTable['public.a']?.partial ?? '', /run jr_a \(FAILED\) of public\.a ended without a DPU figure: its DPU-seconds are left out/, JSON.stringify(byTable['public.a']));
    assert.equal(byTable['public.b'], undefined, 'a run that never started cost nothing');
    assert.deepEqual(byTable['public.c'], { basis: 'glue', dpuSeconds: 60, glueUsd: 0.007333 });
  });

  test("a dead cycle's own export was billed: each table it planned keeps its export GB, committed or not; a reused export costs nothing again", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, exportGBPerTable: 2 });
    const ports = backend.ports();
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    const own: ExportRef = { ...e9, exportId: exportIdFor('shop', 'c26') };
    await ports.export.startExport({ source: 'shop', exportId: own.exportId, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const discovered = await ports.discover.discover(own);
    assert.deepEqual(discovered.tables.map((t) => t.sizeGB).slice(0, 3), [2, 2, 2]);
    await ports.manifests.put(cycleManifestKeys.discovery('c26'), discovered.tables);
    await ports.manifests.put(cycleManifestKeys.plan('c26'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c26'), own);
    await commitLoad(ports, 'c26', plans[0]!, own, '2025-02-01T00:00:00.000Z');
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c26', error: 'terminated' })) as RecoveredCycle;
    const exportCost = { basis: 'modelled', exportGB: 2, exportUsd: 0.02 };
    assert.deepEqual(out.tables.map((t) => [t.table, t.status, t.cost]), [['public.a', 'committed', exportCost], ['public.b', 'failed', exportCost], ['public.c', 'failed', exportCost]]);
    const state = initialState();
    recordCycle(state, { cycleId: 'c26', source: 'shop', status: 'failed', export: own, tables: out.tables, warnings: [], startedAt: '', finishedAt: '' }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    assert.deepEqual(state.recentCycles[0]?.cost, { basis: 'modelled', tables: 3, exportGB: 6, exportUsd: 0.06, usd: 0.06 });

    // A rerun that reused it: its export was paid for by the cycle that took it.
    await ports.manifests.put(cycleManifestKeys.plan('c27'), plans);
    await ports.manifests.put(cycleManifestKeys.discovery('c27'), discovered.tables);
    const reused = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c27', error: 'terminated', reuse: { cycleId: 'c26', export: own, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true } } })) as RecoveredCycle;
    assert.deepEqual(reused.tables.map((t) => t.cost), [undefined, undefined, undefined]);
  });

  test("a dead cycle whose own export's sizes cannot be read marks each RDS table's cost partial, with the error, instead of booking no GB", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, exportGBPerTable: 2 });
    const ports = backend.ports();
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    const own: ExportRef = { ...e9, exportId: exportIdFor('shop', 'c39') };
    await ports.export.startExport({ source: 'shop', exportId: own.exportId, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const discovered = await ports.discover.discover(own);
    await ports.manifests.put(cycleManifestKeys.discovery('c39'), discovered.tables);
    await ports.manifests.put(cycleManifestKeys.plan('c39'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c39'), own);
    await commitLoad(ports, 'c39', plans[0]!, own, '2025-02-01T00:00:00.000Z');
    const get = ports.manifests.get.bind(ports.manifests);
    ports.manifests.get = (async (ref: Parameters<typeof get>[0]) => {
      if (JSON.stringify(ref).includes('c39/discovery')) throw ApplicationFailure.create({ message: 'S3 GetObject of the discovery: AccessDenied', nonRetryable: true });
      return get(ref);
    }) as typeof ports.manifests.get;
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c39', error: 'terminated' })) as RecoveredCycle;
    for (const t of out.tables) {
      assert.equal(t.cost?.exportGB, undefined, t.table);
      assert.match(t.cost?.partial ?? '', /export sizes .*could not be read .*AccessDenied.*GB .*left out/, `${t.table}: ${JSON.stringify(t.cost)}`);
    }
  });

  test("a dead cycle's RDS table the own export lists without a size marks its billed cost partial, saying so, instead of booking no GB silently", async () => {
    // Only public.a has a size in the export's table list; RDS billed the others' parts all the same.
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, dpuSecondsPerRun: 90, exportGBByTable: { 'public.a': 2 } });
    const ports = backend.ports();
    const billed: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource() } };
    const { recoverCycleOutcomes } = recoveryActivities({ config: billed, portsFor: () => ports });
    const own: ExportRef = { ...e9, exportId: exportIdFor('shop', 'c40') };
    await ports.export.startExport({ source: 'shop', exportId: own.exportId, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    await ports.manifests.put(cycleManifestKeys.discovery('c40'), (await ports.discover.discover(own)).tables);
    await ports.manifests.put(cycleManifestKeys.plan('c40'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c40'), own);
    await commitLoad(ports, 'c40', plans[0]!, own, '2025-02-01T00:00:00.000Z');
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c40', error: 'terminated' })) as RecoveredCycle;
    const a = out.tables.find((t) => t.table === 'public.a');
    assert.equal(a?.cost?.exportGB, 2, JSON.stringify(a?.cost));
    assert.equal(a?.cost?.partial, undefined, JSON.stringify(a?.cost));
    for (const t of out.tables.filter((t) => t.table !== 'public.a')) {
      assert.equal(t.cost?.exportGB, undefined, t.table);
      assert.match(t.cost?.partial ?? '', new RegExp(`${t.table.replace('.', '\\.')} has no size in the table list of export ${own.exportId}.*: its export GB are left out`), `${t.table}: ${JSON.stringify(t.cost)}`);
    }
  });

  test('a table whose newest lake commit carries the cycle id is committed, every other planned table failed with the cycle error', async () => {
    const { backend, ports, recoverCycleOutcomes } = setup();
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c9'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c9'), e9);
    await commitLoad(ports, 'c9', plans[0]!, e9, '2025-02-01T00:00:00.000Z');
    // b's newest commit is an earlier cycle's; c never committed.
    await commitLoad(ports, 'c8', plans[1]!, { ...e9, exportId: 'e8' }, '2025-01-01T00:00:00.000Z');

    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c9', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(out.export, e9);
    assert.deepEqual(out.snapshot, { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true });
    const [a, b, c] = out.tables;
    assert.equal(a?.status, 'committed');
    assert.equal(a?.load?.rowCountAfter, 100, 'the counts come from the run\'s result JSON');
    assert.equal(a?.load?.snapshotId, String(backend.state.lake['shop.a']!.snapshot));
    assert.match(a?.reason ?? '', /recovered from the lake's lineage/);
    assert.equal(a?.verified, true, 'recovery verified the commit against the export, as a batch does');
    for (const t of [b, c]) {
      assert.equal(t?.status, 'failed');
      assert.equal(t?.error?.type, 'CycleEnded');
      assert.equal(t?.error?.message, `the cycle ended before ${t?.table} committed: terminated`);
    }
  });

  test('a dead cycle none of whose tables committed, its snapshot since deleted, keeps the snapshot time its export task records: a rerun from it can guard its loads', async () => {
    const { backend, ports, recoverCycleOutcomes } = setup();
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c10'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c10'), e9);
    assert.deepEqual(await ports.retention.deleteSnapshot('s9'), { deleted: true });
    assert.equal(backend.state.snapshots['s9'], undefined, 'retention deleted the snapshot');

    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c10', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(out.tables.map((t) => t.status), ['failed', 'failed', 'failed']);
    assert.deepEqual(out.snapshot, { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true });
    // The rerun's load request carries that time as its lineage; without it the load is refused.
    const input = { source: 'shop', cycleId: 'c11', table: 'public.a', exportId: e9.exportId, snapshotTime: out.snapshot.createdAt, exportLocation: e9.location, database: 'fake', namespace: 'shop' };
    assert.equal(loadRequestFor(ports.load, input, plans[0]!).snapshotTime, '2025-02-01T00:00:00.000Z');
    assert.throws(() => loadRequestFor(ports.load, { ...input, snapshotTime: '' }, plans[0]!), /MissingLineage|names no export id or snapshot time/);
  });

  test('outcomes larger than half the inline limit are stored in parts and returned by reference; smaller ones inline', async () => {
    const { ports, recoverCycleOutcomes } = setup();
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c13'), plans);
    await ports.manifests.put(cycleManifestKeys.export('c13'), e9);
    for (const plan of plans) await commitLoad(ports, 'c13', plan, e9, '2025-02-01T00:00:00.000Z');
    const input = { source: 'shop', cycleId: 'c13', error: 'terminated' };
    const inline = (await new MockActivityEnvironment().run(recoverCycleOutcomes, input)) as RecoveredCycle;
    assert.equal(inline.tablesRef, undefined, 'without a limit the outcomes stay inline (an activity scheduled before the limit existed)');
    assert.equal(inline.tables.length, 3);
    // The fake's result JSON says when it was read: the times aside, every read recovers the same outcomes.
    const timeless = (tables: unknown) => JSON.parse(JSON.stringify(tables).replace(/"finishedAt":"[^"]*"/g, '"finishedAt":""')) as unknown;
    const roomy = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { ...input, payloadInlineBytes: 256 * 1024 })) as RecoveredCycle;
    assert.deepEqual(timeless(roomy.tables), timeless(inline.tables));

    const limit = 1024;
    const stored = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { ...input, payloadInlineBytes: limit })) as RecoveredCycle;
    assert.deepEqual(stored.tables, []);
    assert.ok(stored.tablesRef && stored.tablesRef.parts.length > 1, `parts: ${JSON.stringify(stored.tablesRef)}`);
    assert.ok(Buffer.byteLength(JSON.stringify(stored)) <= limit, `the result is ${Buffer.byteLength(JSON.stringify(stored))} bytes`);
    const texts = await Promise.all(stored.tablesRef.parts.map((ref) => ports.manifests.get<string>(ref)));
    assert.deepEqual(timeless(JSON.parse(texts.join(''))), timeless(inline.tables), 'the parts joined are the outcomes');
    assert.equal(stored.tablesRef.bytes, textBytes(texts.join('')), 'its size as storeText counts it');
  });

  test("a dead cycle's DynamoDB table that committed is recovered with its exports and the export time its commit records", async () => {
    const backend = new FakeBackend({ tables: ['public.a'], latencyMs: 0, dynamodb: true });
    const ports = backend.ports();
    const unverified = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' }, verify: { enabled: false } } } });
    const { recoverCycleOutcomes } = recoveryActivities({ config: unverified, portsFor: () => ports });
    const window = { type: 'FULL' as const, to: '2025-03-01T06:00:00Z' };
    const extract = { kind: 'dynamodb' as const, tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/a', key: [{ name: 'id', type: 'S' as const }], attributes: {}, exports: [window] };
    const plan = planEntry({ table: 'public.a', lakeTable: 'a', action: 'create', primaryKey: ['id'], extract });
    await ports.manifests.put(cycleManifestKeys.plan('c12'), [plan]);
    const exportId = tableExportIdFor('shop', 'c12', 'public.a', 0);
    await ports.tableExport!.startTableExport({ source: 'shop', table: 'public.a', tableArn: extract.tableArn, exportId, window });
    const base = { source: 'shop', cycleId: 'c12', runToken: runTokenFor('c12', 'public.a'), exportId, snapshotTime: window.to, database: 'fake', plan, namespace: 'shop', tableExports: [{ exportId, window, location: 'fake://dynamodb/a', itemCount: 3 }] };
    const { runId } = await ports.load.startLoad({ ...base, resultLocation: ports.load.resultLocation(base) });
    assert.equal((await ports.load.getRun(runId)).state, 'succeeded');

    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c12', error: 'terminated' })) as RecoveredCycle;
    const [a] = out.tables;
    assert.deepEqual([a?.status, a?.extract, a?.load?.extract], ['committed', 'dynamodb', 'dynamodb']);
    assert.deepEqual(a?.load?.dynamodb, { exportIds: [exportId], from: null, to: window.to, records: 0 });
    // The load's result JSON is where a batch would have read it: its counts are the load's, not 0.
    assert.deepEqual([a?.load?.action, a?.load?.inserted, a?.load?.rowsRead, a?.load?.rowCountAfter, a?.load?.snapshotId], ['create', 3, 3, 3, String(backend.state.lake['shop.a']!.snapshot)]);
    assert.doesNotMatch(a?.reason ?? '', /result is missing/);
    // Without it, a FULL export's commit (a create or a replace of the whole table) tells its rows, not its changes.
    const readResult = ports.load.readResult.bind(ports.load);
    ports.load.readResult = async (location) => {
      throw new PortError('not-found', 'NoSuchKey', `no load result at ${location}`);
    };
    const [unread] = ((await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c12', error: 'terminated' })) as RecoveredCycle).tables;
    assert.deepEqual([unread?.status, unread?.load?.changesUnknown, unread?.load?.rowCountAfter], ['committed', true, 3]);
    assert.match(unread?.reason ?? '', /its inserted, updated and deleted rows are unknown .*; its lake commit recorded 3 rows in the table/);
    ports.load.readResult = readResult;
    // The ledger books it as a DynamoDB watermark at that export time, not as a direct or RDS one.
    const state = initialState();
    recordCycle(state, { cycleId: 'c12', source: 'shop', status: 'failed', tables: out.tables, warnings: [], startedAt: window.to, finishedAt: window.to }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    assert.deepEqual([state.ledger['public.a']?.extract, state.ledger['public.a']?.exportId, state.ledger['public.a']?.snapshotTime], ['dynamodb', exportId, window.to]);

    // With verification on, a load that recorded no item counts (a worker before the record) cannot be verified: failed, for a rerun.
    const verified = recoveryActivities({ config, portsFor: () => ports }).recoverCycleOutcomes;
    const [checked] = ((await new MockActivityEnvironment().run(verified, { source: 'shop', cycleId: 'c12', error: 'terminated' })) as RecoveredCycle).tables;
    assert.deepEqual([checked?.status, checked?.error?.phase, checked?.error?.retryable], ['failed', 'verify', true]);
    assert.match(checked?.error?.message ?? '', /before it was verified, and its DynamoDB exports' item counts are not known here \(its load recorded none\): rerun the table \(lakesync rerun shop --tables public.a\)/);
  });

  test("a dead cycle's DynamoDB export still running (or unreadable) leaves the table's export GB unknown and says so: partial, naming the export", async () => {
    const backend = new FakeBackend({ tables: ['public.a'], latencyMs: 0, dynamodb: true });
    const ports = backend.ports();
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    const window = { type: 'FULL' as const, to: '2025-03-01T06:00:00Z' };
    const extract = { kind: 'dynamodb' as const, tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/a', key: [{ name: 'id', type: 'S' as const }], attributes: {}, exports: [window] };
    const plan = planEntry({ table: 'public.a', lakeTable: 'a', action: 'create', primaryKey: ['id'], extract });
    await ports.manifests.put(cycleManifestKeys.plan('c36'), [plan]);
    const exportId = tableExportIdFor('shop', 'c36', 'public.a', 0);
    const ref = await ports.tableExport!.startTableExport({ source: 'shop', table: 'public.a', tableArn: extract.tableArn, exportId, window });
    await ports.manifests.put(cycleManifestKeys.startedTableExport('c36', exportId), ref);
    ports.tableExport!.describeTableExport = async () => ({ state: 'in_progress' });
    const [a] = ((await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c36', error: 'terminated' })) as RecoveredCycle).tables;
    assert.equal(a?.cost?.exportGB, undefined);
    assert.match(a?.cost?.partial ?? '', new RegExp(`DynamoDB export ${exportId} .*still running`), JSON.stringify(a?.cost));
  });

  test("a dead cycle's DynamoDB commit is verified against its exports' item counts, as its batch would have", async () => {
    const backend = new FakeBackend({ tables: ['public.a'], latencyMs: 0, dynamodb: true });
    const ports = backend.ports();
    const deps = { config, portsFor: () => ports };
    const window = { type: 'FULL' as const, to: '2025-03-01T06:00:00Z' };
    const extract = { kind: 'dynamodb' as const, tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/a', key: [{ name: 'id', type: 'S' as const }], attributes: {}, exports: [window] };
    const plan = planEntry({ table: 'public.a', lakeTable: 'a', action: 'create', primaryKey: ['id'], extract });
    const planRef = await ports.manifests.put(cycleManifestKeys.plan('c31'), [plan]);
    const exportId = tableExportIdFor('shop', 'c31', 'public.a', 0);
    await ports.tableExport!.startTableExport({ source: 'shop', table: 'public.a', tableArn: extract.tableArn, exportId, window });
    const itemCount = backend.state.tableExports![exportId]!.itemCount;
    // The batch's load activity commits it; the cycle dies before its verification.
    const { loadTable } = loadActivities(deps);
    const input: LoadTableInput = { source: 'shop', cycleId: 'c31', planRef, table: 'public.a', exportId, snapshotTime: window.to, database: 'fake', namespace: 'shop', tableExports: [{ exportId, window, location: 'fake://dynamodb/a', itemCount }] };
    await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, input);
    const requests: VerifyRequest[] = [];
    const verify = ports.verify.verify.bind(ports.verify);
    ports.verify.verify = (req, ...rest) => (requests.push(req), verify(req, ...rest));

    const { recoverCycleOutcomes } = recoveryActivities(deps);
    const [a] = ((await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c31', error: 'terminated' })) as RecoveredCycle).tables;
    assert.deepEqual([a?.status, a?.verified, a?.error], ['committed', true, undefined]);
    assert.deepEqual(requests.map((r) => r.rowCount), [{ kind: 'total', rows: itemCount }], "held to DynamoDB's count of the FULL export");
    assert.equal(a?.load?.dynamodb?.records, itemCount);

    // A lake that does not hold the export's items fails verification, as in a batch.
    backend.state.tableExports![exportId]!.itemCount = itemCount + 1;
    await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, { ...input, tableExports: [{ exportId, window, location: 'fake://dynamodb/a', itemCount: itemCount + 1 }] });
    const [wrong] = ((await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c31', error: 'terminated' })) as RecoveredCycle).tables;
    assert.deepEqual([wrong?.status, wrong?.error?.phase], ['failed', 'verify']);
    assert.match(wrong?.error?.message ?? '', new RegExp(`exactly the ${itemCount + 1} item\\(s\\) of the table's FULL DynamoDB export`));
  });

  /** Cycle `cycleId` planned a, b, c from e9, and each committed; verifications are counted by table. */
  async function committedCycle(cycleId: string) {
    const { ports, recoverCycleOutcomes } = setup();
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan(cycleId), plans);
    await ports.manifests.put(cycleManifestKeys.export(cycleId), e9);
    for (const plan of plans) await commitLoad(ports, cycleId, plan, e9, '2025-02-01T00:00:00.000Z');
    const verified = new Map<string, number>();
    const verify = ports.verify.verify.bind(ports.verify);
    return { ports, recoverCycleOutcomes, verified, verify, count: (table: string) => verified.set(table, (verified.get(table) ?? 0) + 1) };
  }
  const attempt = (n: number, heartbeatDetails?: unknown) =>
    new MockActivityEnvironment({
      attempt: n,
      activityId: '7',
      workflowExecution: { workflowId: 'lakesync/shop', runId: 'run-1' },
      // Heartbeats every 500 ms, and settled tables written as often.
      heartbeatTimeoutMs: 1_500,
      ...(heartbeatDetails ? { heartbeatDetails } : {}),
    });

  test('a retried recovery goes on from the tables the failed attempt settled: none is verified twice', async () => {
    const { ports, recoverCycleOutcomes, verified, verify, count } = await committedCycle('c14');
    ports.verify.verify = async (req, ...rest) => (count(req.table), verify(req, ...rest));
    // The lineage read of c fails once (Athena unreachable), after a and b were verified.
    const lastCommit = ports.lake.lastCommit!.bind(ports.lake);
    let refused = false;
    ports.lake.lastCommit = async (namespace, table) => {
      if (table === 'c' && !refused) {
        refused = true;
        throw new PortError('transient', 'ServiceUnavailable', 'Athena did not answer');
      }
      return lastCommit(namespace, table);
    };
    const input = { source: 'shop', cycleId: 'c14', error: 'terminated' };
    const first = attempt(1);
    let details: unknown;
    first.on('heartbeat', (d: unknown) => (details = d));
    await assert.rejects(first.run(recoverCycleOutcomes, input), /Athena did not answer/);
    assert.deepEqual([...verified], [['public.a', 1], ['public.b', 1]]);

    const out = (await attempt(2, details).run(recoverCycleOutcomes, input)) as RecoveredCycle;
    assert.deepEqual(out.tables.map((t) => [t.table, t.status, t.verified]), plans.map((p) => [p.table, 'committed', true]));
    assert.deepEqual([...verified].sort(), [['public.a', 1], ['public.b', 1], ['public.c', 1]], 'the retry verified a and b again');
    assert.ok(out.tables.every((t) => t.load?.rowCountAfter === 100), 'the settled outcomes keep the counts of the result JSON');
    // Its progress served the retries only: it is gone once the recovery has its result.
    const progress = (details as { progress: string[] }).progress;
    assert.ok(progress.length > 0);
    for (const ref of progress) await assert.rejects(ports.manifests.get(ref), (e: unknown) => isPortError(e) && e.kind === 'not-found');
  });

  test('a worker lost during a verification: the next attempt verifies only the tables not settled yet', async () => {
    const { ports, recoverCycleOutcomes, verified, verify, count } = await committedCycle('c15');
    // The tables each progress chunk holds, as written.
    const chunkTables = new Map<string, number>();
    const put = ports.manifests.put.bind(ports.manifests);
    ports.manifests.put = async (key, value) => {
      const ref = await put(key, value);
      if (key.includes('/recovery-progress/')) chunkTables.set(ref, (value as unknown[]).length);
      return ref;
    };
    const tablesIn = (d: { progress?: string[] }) => (d.progress ?? []).reduce((n, ref) => n + (chunkTables.get(ref) ?? 0), 0);
    const first = attempt(1);
    let settledTwo: () => void = () => undefined;
    const twoSettled = new Promise<void>((resolve) => (settledTwo = resolve));
    // The heartbeat c's verification sends as it reaches a check: the last one before its worker is lost.
    let lastBeat: { progress?: string[]; table?: string; step?: string } | undefined;
    first.on('heartbeat', (d: { progress?: string[]; step?: string }) => {
      if (tablesIn(d) >= 2) settledTwo();
      if (d.step === 'a configured check') lastBeat = d;
    });
    let release: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => (release = resolve));
    ports.verify.verify = async (req, progress, signal) => {
      count(req.table);
      if (req.table === 'public.c' && verified.get('public.c') === 1) {
        await twoSettled;
        progress?.('a configured check');
        await hung;
      }
      return verify(req, progress, signal);
    };
    const input = { source: 'shop', cycleId: 'c15', error: 'terminated' };
    const lost = first.run(recoverCycleOutcomes, input);
    try {
      await twoSettled;
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(lastBeat, 'c reached its check');
      assert.equal(lastBeat.table, 'public.c');
      assert.equal(tablesIn(lastBeat), 2, `verification's heartbeat dropped the recovery's progress: ${JSON.stringify(lastBeat)}`);

      const out = (await attempt(2, lastBeat).run(recoverCycleOutcomes, input)) as RecoveredCycle;
      assert.deepEqual(out.tables.map((t) => [t.table, t.status]), plans.map((p) => [p.table, 'committed']));
      assert.deepEqual([...verified].sort(), [['public.a', 1], ['public.b', 1], ['public.c', 2]], 'the next attempt verified a and b again');
    } finally {
      // The lost attempt ends too (its heartbeat timer with it).
      release();
      await lost.catch(() => undefined);
    }
  });

  test('a grant refused for a passing condition fails the attempt while attempts remain; on the last it fails that table alone', async () => {
    const { ports } = await committedCycle('c16');
    const granted = parseConfig({
      sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' }, exclude: ['*.*_pii'], grants: [{ principal: 'arn:aws:iam::123456789012:role/analysts' }] } },
    });
    const { recoverCycleOutcomes } = recoveryActivities({ config: granted, portsFor: () => ports });
    const grant = ports.grant.grant.bind(ports.grant);
    ports.grant.grant = async (req) => {
      if (req.lakeTables.includes('b')) throw new PortError('transient', 'ConcurrentModificationException', 'Lake Formation: another update is in progress');
      return grant(req);
    };
    const input = { source: 'shop', cycleId: 'c16', error: 'terminated' };
    await assert.rejects(attempt(1).run(recoverCycleOutcomes, input), /ConcurrentModificationException|another update is in progress/);
    const last = (await attempt(RECOVERY_ATTEMPTS).run(recoverCycleOutcomes, input)) as RecoveredCycle;
    assert.deepEqual(last.tables.map((t) => [t.table, t.status, t.error?.phase]), [['public.a', 'committed', undefined], ['public.b', 'failed', 'grant'], ['public.c', 'committed', undefined]]);
    assert.match(last.tables[1]?.error?.message ?? '', /before it was granted; granting it now failed: .*another update is in progress/);
    assert.equal(last.tables[1]?.error?.retryable, true);
  });

  test("a whole table the dead cycle committed, its load's result missing: its watermark has the row count verification found in the lake, not 0", async () => {
    const { ports, recoverCycleOutcomes } = await committedCycle('c23');
    ports.load.readResult = async (location) => {
      throw new PortError('not-found', 'NoSuchKey', `no load result at ${location}`);
    };
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c23', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(out.tables.map((t) => [t.table, t.status, t.verified]), plans.map((p) => [p.table, 'committed', true]));
    assert.deepEqual(out.tables.map((t) => t.load?.rowCountAfter), [100, 100, 100], 'the lake holds 100 rows each, verified, but the watermark says otherwise');
    assert.match(out.tables[0]?.reason ?? '', /its lake commit recorded 100 rows added and none updated or deleted; its row count is the one verification counted in the lake/);
    const state = initialState();
    recordCycle(state, { cycleId: 'c23', source: 'shop', status: 'failed', export: e9, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true }, tables: out.tables, warnings: [], startedAt: '', finishedAt: '' }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    assert.equal(state.ledger['public.a']?.rowCount, 100);
  });

  test("a replace the dead cycle committed, its load's result missing: its changes are shown as unknown, not as 0, and its rows are the lake's", async () => {
    const { backend, ports, recoverCycleOutcomes } = setup();
    await exportE9(ports);
    const replace = planEntry({ table: 'public.a', lakeTable: 'a', action: 'replace' });
    await commitLoad(ports, 'c24', { ...replace, action: 'create' }, { ...e9, exportId: 'e8' }, '2025-01-01T00:00:00.000Z');
    await ports.manifests.put(cycleManifestKeys.plan('c25'), [replace]);
    await ports.manifests.put(cycleManifestKeys.export('c25'), e9);
    await commitLoad(ports, 'c25', replace, e9, '2025-02-01T00:00:00.000Z');
    assert.equal(backend.state.lake['shop.a']?.lastCommit?.written?.parentId, null, 'a replace writes the table anew');
    ports.load.readResult = async (location) => {
      throw new PortError('not-found', 'NoSuchKey', `no load result at ${location}`);
    };
    const [a] = ((await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c25', error: 'terminated' })) as RecoveredCycle).tables;
    assert.deepEqual([a?.status, a?.load?.changesUnknown, a?.load?.rowCountAfter], ['committed', true, 100]);
    assert.match(a?.reason ?? '', /its inserted, updated and deleted rows are unknown \(its lake commit replaced the table or changed rows, which does not tell them\); its row count is the one verification counted in the lake/);
    assert.deepEqual(cycleTableLines({ cycleId: 'c25', source: 'shop', status: 'failed', tables: [a!], warnings: [], startedAt: '', finishedAt: '' })[1]?.split(/\s+/).slice(0, 4), ['public.a', 'committed', 'replace', 'unknown']);
    const state = initialState();
    recordCycle(state, { cycleId: 'c25', source: 'shop', status: 'failed', export: e9, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true }, tables: [a!], warnings: [], startedAt: '', finishedAt: '' }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    const summary = state.lastCycle?.tables[0];
    assert.deepEqual([summary?.inserted, summary?.updated, summary?.deleted, state.ledger['public.a']?.rowCount], [undefined, undefined, undefined, 100], 'the status leaves out counts nobody knows');
    // lakesync status shows them as unknown, as the cycle report does, not as a blank.
    const view: StatusView = { source: 'shop', workflowId: 'lakesync/shop', phase: 'idle', tables: lastCycleRows(state), queued: 0 };
    assert.ok(statusReport(view, {}).some((l) => /^public\.a +committed +unknown\b/.test(l)), statusReport(view, {}).join('\n'));
  });

  test("an incremental table the dead cycle committed, its load's result missing, is verified with what the lake tells: committed, its watermark advanced", async () => {
    const backend = new FakeBackend({ tables: ['public.a', 'public.events'], latencyMs: 0 });
    const ports = backend.ports();
    const { recoverCycleOutcomes } = recoveryActivities({ config, portsFor: () => ports });
    await exportE9(ports);
    const cursor = { column: 'id', mode: 'append' as const, lookback: '0' };
    const incremental = planEntry({ table: 'public.a', lakeTable: 'a', action: 'incremental', cursor });
    const direct = { kind: 'direct' as const, partitions: 1 };
    const events = planEntry({ table: 'public.events', lakeTable: 'events', action: 'create', primaryKey: ['id'], cursor, extract: direct });
    // Cycle c19 created both; c20 appended 30 rows to a (from export e9) and 25 to events (read directly).
    await commitLoad(ports, 'c19', { ...incremental, action: 'create' }, { ...e9, exportId: 'e8' }, '2025-01-01T00:00:00.000Z');
    await commitLoad(ports, 'c19', events, e9, '2025-01-01T00:00:00.000Z');
    backend.setWrongCounts([{ table: 'public.a', rowCountAfter: 130 }]);
    backend.appendRows('public.events', 25);
    const plan20 = [incremental, { ...events, action: 'incremental' as const }];
    await ports.manifests.put(cycleManifestKeys.plan('c20'), plan20);
    await ports.manifests.put(cycleManifestKeys.export('c20'), e9);
    for (const plan of plan20) await commitLoad(ports, 'c20', plan, e9, '2025-02-01T00:00:00.000Z');
    assert.deepEqual([backend.state.lake['shop.a']?.rows, backend.state.lake['shop.events']?.rows], [130, 125]);
    // The jobs committed and died before writing their result JSON.
    ports.load.readResult = async (location) => {
      throw new PortError('not-found', 'NoSuchKey', `no load result at ${location}`);
    };

    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c20', error: 'terminated' })) as RecoveredCycle;
    for (const t of out.tables) {
      assert.equal(t.status, 'committed', `${t.table}: ${t.error?.message}`);
      assert.equal(t.verified, true);
      assert.match(t.reason ?? '', /its load's result is missing/);
    }
    // What each commit wrote is in its Iceberg snapshot summary: 30 rows appended to a, 25 to events.
    assert.deepEqual(out.tables.map((t) => [t.table, t.load?.inserted, t.load?.updated, t.load?.deleted, t.load?.rowCountAfter]), [['public.a', 30, 0, 0, 130], ['public.events', 25, 0, 0, 125]]);
    assert.match(out.tables[0]?.reason ?? '', /its load's result is missing or unreadable: its lake commit recorded 30 rows added and none updated or deleted; its lake commit recorded 130 rows in the table\)/);
    const state = initialState();
    recordCycle(state, { cycleId: 'c20', source: 'shop', status: 'failed', export: e9, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true }, tables: out.tables, warnings: [], startedAt: '', finishedAt: '' }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    assert.deepEqual(Object.keys(state.failed), []);
    assert.deepEqual([state.ledger['public.a']?.exportId, state.ledger['public.events']?.extract], ['e9', 'direct']);
    assert.deepEqual([state.ledger['public.a']?.rowCount, state.ledger['public.events']?.rowCount], [130, 125]);

    // More rows than the export holds are still refused, with the bound that was broken.
    backend.setWrongCounts([{ table: 'public.a', rowCountAfter: 260 }]);
    await commitLoad(ports, 'c21', incremental, e9, '2025-02-01T00:00:00.000Z');
    await ports.manifests.put(cycleManifestKeys.plan('c21'), [incremental]);
    await ports.manifests.put(cycleManifestKeys.export('c21'), e9);
    const [a] = ((await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c21', error: 'terminated' })) as RecoveredCycle).tables;
    assert.deepEqual([a?.status, a?.error?.phase], ['failed', 'verify']);
    assert.match(a?.error?.message ?? '', /expected at most 100 \(the export's rows; the load's own count is unknown: its result is missing\), got 130/);
  });

  test("a lineage read refused on the last attempt fails that table alone: the other tables keep their outcomes", async () => {
    const { ports, recoverCycleOutcomes } = await committedCycle('c17');
    const lastCommit = ports.lake.lastCommit!.bind(ports.lake);
    ports.lake.lastCommit = async (namespace, table) => {
      if (table === 'c') throw new PortError('transient', 'ThrottlingException', 'Athena: rate exceeded');
      if (table === 'b') throw new PortError('failed', 'UnexpectedLakeAnswer', 'the newest snapshot of shop.b came back as snapshot_id null');
      return lastCommit(namespace, table);
    };
    // a's result JSON cannot be read either: on the last attempt a is verified with what its lineage tells.
    ports.load.readResult = async () => {
      throw new PortError('transient', 'SlowDown', 'S3: please reduce your request rate');
    };
    const input = { source: 'shop', cycleId: 'c17', error: 'terminated' };
    await assert.rejects(attempt(1).run(recoverCycleOutcomes, input), /rate exceeded/);
    const last = (await attempt(RECOVERY_ATTEMPTS).run(recoverCycleOutcomes, input)) as RecoveredCycle;
    assert.deepEqual(last.tables.map((t) => [t.table, t.status, t.error?.phase, t.error?.retryable]), [['public.a', 'committed', undefined, undefined], ['public.b', 'failed', 'load', false], ['public.c', 'failed', 'load', true]]);
    assert.match(last.tables[0]?.reason ?? '', /its load's result is missing or unreadable/);
    const c = last.tables[2]?.error?.message ?? '';
    assert.match(c, /^the cycle ended \(terminated\) and whether public\.c committed could not be read from its lake table's lineage: .*rate exceeded; rerun the table \(lakesync rerun shop --tables public\.c\)$/);
    // The ledger fails them for a rerun from the cycle's export; a keeps its advanced watermark.
    const state = initialState();
    recordCycle(state, { cycleId: 'c17', source: 'shop', status: 'failed', export: e9, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: true }, tables: last.tables, warnings: [], startedAt: '', finishedAt: '' }, 'wf', { kind: 'sync', requestIds: ['r1'] });
    assert.deepEqual(Object.entries(state.failed).map(([t, f]) => [t, f.exportId]), [['public.b', 'e9'], ['public.c', 'e9']]);
    assert.equal(state.ledger['public.a']?.exportId, 'e9');
  });

  test("the last attempt, short of time, fails the tables it cannot settle and returns before its timeout: the tables settled keep their outcomes", async () => {
    const tables = ['public.a', 'public.b', 'public.c', 'public.d', 'public.e', 'public.f'];
    const ports = new FakeBackend({ tables, latencyMs: 0 }).ports();
    const six = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables }, target: { namespace: 'shop' } } } });
    const { recoverCycleOutcomes } = recoveryActivities({ config: six, portsFor: () => ports });
    const planned = tables.map((table) => planEntry({ table, lakeTable: table.slice(7), action: 'create', primaryKey: ['id'] }));
    await exportE9(ports);
    await ports.manifests.put(cycleManifestKeys.plan('c18'), planned);
    await ports.manifests.put(cycleManifestKeys.export('c18'), e9);
    for (const plan of planned) await commitLoad(ports, 'c18', plan, e9, '2025-02-01T00:00:00.000Z');
    // The first four lineage reads (one per lane) take 4.2 s of the attempt's 6; e and f would take longer still.
    const lastCommit = ports.lake.lastCommit!.bind(ports.lake);
    let release: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => (release = resolve));
    ports.lake.lastCommit = async (namespace, table) => {
      await (['e', 'f'].includes(table) ? hung : new Promise((resolve) => setTimeout(resolve, 4_200)));
      return lastCommit(namespace, table);
    };
    const timeoutMs = 6_000;
    const last = new MockActivityEnvironment({ attempt: RECOVERY_ATTEMPTS, activityId: '7', workflowExecution: { workflowId: 'lakesync/shop', runId: 'run-1' }, heartbeatTimeoutMs: 1_500, startToCloseTimeoutMs: timeoutMs });
    const timedOut = Symbol('timed out');
    let timer: NodeJS.Timeout | undefined;
    const run = last.run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c18', error: 'terminated' }) as Promise<RecoveredCycle>;
    try {
      const out = await Promise.race([run, new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), timeoutMs)))]);
      assert.notEqual(out, timedOut, 'the last attempt outlived its start-to-close timeout: the server fails it, and every outcome with it');
      const outcomes = (out as RecoveredCycle).tables;
      assert.deepEqual(
        outcomes.map((t) => [t.table, t.status, t.error?.type]),
        tables.map((t) => (['public.e', 'public.f'].includes(t) ? [t, 'failed', 'RecoveryOutOfTime'] : [t, 'committed', undefined])),
      );
      assert.match(outcomes[4]?.error?.message ?? '', /^the cycle ended \(terminated\) and its recovery ran out of time \(attempt 5 of 5, 0\.1 minutes each\) before it read public\.e back from the lake: whether it committed is not known; rerun the table \(lakesync rerun shop --tables public\.e\)$/);
    } finally {
      clearTimeout(timer);
      release();
      await run.catch(() => undefined);
    }
  });

  test("the last attempt returns before its timeout even when a table's verification outruns it: that table is failed, the others keep their outcomes", async () => {
    const { ports, recoverCycleOutcomes, verify } = await committedCycle('c22');
    // a's verification has many checks: it would poll Athena far past the attempt's timeout.
    let stopped = false;
    let release: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => (release = resolve));
    ports.verify.verify = async (req, progress, signal) => {
      if (req.table === 'public.a') {
        signal?.addEventListener('abort', () => (stopped = true));
        await hung;
      }
      return verify(req, progress, signal);
    };
    const timeoutMs = 6_000;
    const last = new MockActivityEnvironment({ attempt: RECOVERY_ATTEMPTS, activityId: '7', workflowExecution: { workflowId: 'lakesync/shop', runId: 'run-1' }, heartbeatTimeoutMs: 1_500, startToCloseTimeoutMs: timeoutMs });
    const timedOut = Symbol('timed out');
    let timer: NodeJS.Timeout | undefined;
    const run = last.run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c22', error: 'terminated' }) as Promise<RecoveredCycle>;
    try {
      const out = await Promise.race([run, new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), timeoutMs)))]);
      assert.notEqual(out, timedOut, 'the last attempt outlived its start-to-close timeout: the server fails it, and every outcome with it');
      const outcomes = (out as RecoveredCycle).tables;
      assert.deepEqual(
        outcomes.map((t) => [t.table, t.status, t.error?.type]),
        [['public.a', 'failed', 'RecoveryOutOfTime'], ['public.b', 'committed', undefined], ['public.c', 'committed', undefined]],
      );
      assert.match(outcomes[0]?.error?.message ?? '', /^the cycle ended \(terminated\) and its recovery ran out of time \(attempt 5 of 5, 0\.1 minutes each\) while it read public\.a back from the lake, granted and verified it: whether it committed and passed verification is not known; rerun the table \(lakesync rerun shop --tables public\.a\)$/);
      assert.ok(stopped, "a's verification was left polling Athena");
    } finally {
      clearTimeout(timer);
      release();
      await run.catch(() => undefined);
    }
  });

  test("an attempt that fails while it stores the outcomes by reference is followed by one that goes on from the tables settled: none is verified twice", async () => {
    const { ports, recoverCycleOutcomes, verified, verify, count } = await committedCycle('c19');
    ports.verify.verify = async (req, ...rest) => (count(req.table), verify(req, ...rest));
    const put = ports.manifests.put.bind(ports.manifests);
    let refused = false;
    ports.manifests.put = async (key, value) => {
      if (key.includes('/recovered-outcomes/') && !refused) {
        refused = true;
        throw new PortError('transient', 'SlowDown', 'S3: please reduce your request rate');
      }
      return put(key, value);
    };
    const input = { source: 'shop', cycleId: 'c19', error: 'terminated', payloadInlineBytes: 1024 };
    const first = attempt(1);
    let details: unknown;
    first.on('heartbeat', (d: unknown) => (details = d));
    await assert.rejects(first.run(recoverCycleOutcomes, input), /reduce your request rate/);
    assert.deepEqual([...verified].sort(), plans.map((p) => [p.table, 1]));

    const out = (await attempt(2, details).run(recoverCycleOutcomes, input)) as RecoveredCycle;
    assert.ok(out.tablesRef, 'stored by reference');
    assert.deepEqual([...verified].sort(), plans.map((p) => [p.table, 1]), `the retry verified the tables again (last heartbeat: ${JSON.stringify(details)})`);
  });

  test('a rerun cycle recovers with the export it reused; a cycle that ended before planning recovers no table', async () => {
    const { ports, recoverCycleOutcomes } = setup();
    await ports.manifests.put(cycleManifestKeys.plan('c10'), plans.slice(0, 1));
    const reuse = { cycleId: 'c9', snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false }, export: e9 };
    const rerun = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c10', error: 'boom', reuse })) as RecoveredCycle;
    assert.deepEqual(rerun.export, e9);
    assert.deepEqual(rerun.snapshot, reuse.snapshot);
    assert.deepEqual(rerun.tables.map((t) => [t.table, t.status]), [['public.a', 'failed']]);

    const early = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c11', error: 'boom' })) as RecoveredCycle;
    assert.deepEqual(early, { tables: [], warnings: ['the cycle ended before it planned its tables'] });
  });

  test("a cycle that ended after its export and before its plan books the export's GB as a cycle-level cost: RDS billed them", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, exportGBPerTable: 2 });
    const ports = backend.ports();
    const deps = { config, portsFor: () => ports };
    const { startExport, discoverTables } = cycleActivities(deps);
    const { recoverCycleOutcomes } = recoveryActivities(deps);
    const snapshot = { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false };
    const exportCost = { basis: 'modelled', tables: 0, exportGB: 8, exportUsd: 0.08, usd: 0.08 };
    // Ended while it discovered the export (or waited for it): only the export's start recorded it.
    await new MockActivityEnvironment().run(startExport, { source: 'shop', cycleId: 'c30', exportId: exportIdFor('shop', 'c30'), snapshot });
    const beforeDiscovery = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c30', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(beforeDiscovery, { tables: [], cost: exportCost, warnings: ['the cycle ended before it planned its tables'] });
    // Ended while it planned: its discovery holds the sizes.
    const own: ExportRef = await new MockActivityEnvironment().run(startExport, { source: 'shop', cycleId: 'c31', exportId: exportIdFor('shop', 'c31'), snapshot });
    await new MockActivityEnvironment().run(discoverTables, 'shop', 'c31', own);
    const beforePlan = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c31', error: 'terminated' })) as RecoveredCycle;
    assert.deepEqual(beforePlan.cost, exportCost);
    // A rerun that reused another cycle's export took none of its own: nothing to book.
    const reuse = { cycleId: 'c30', snapshot: { ...snapshot, adopted: true }, export: own };
    const rerun = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c32', error: 'terminated', reuse })) as RecoveredCycle;
    assert.equal(rerun.cost, undefined);
  });

  test("a cycle that ended before its plan, whose own export's size cannot be read for good, says its cost is partial and why instead of booking nothing", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, exportGBPerTable: 2 });
    const ports = backend.ports();
    const deps = { config, portsFor: () => ports };
    const { startExport } = cycleActivities(deps);
    const { recoverCycleOutcomes } = recoveryActivities(deps);
    const exportId = exportIdFor('shop', 'c36');
    await new MockActivityEnvironment().run(startExport, { source: 'shop', cycleId: 'c36', exportId, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    ports.export.describeExport = async () => {
      throw ApplicationFailure.create({ message: 'RDS DescribeExportTasks: AccessDenied: not authorized to perform rds:DescribeExportTasks', nonRetryable: true });
    };
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c36', error: 'terminated' })) as RecoveredCycle;
    const { partialReason, ...figures } = out.cost!;
    assert.deepEqual(figures, { basis: 'modelled', tables: 0, partial: 1 });
    assert.ok(out.warnings.some((w) => w.includes(exportId) && /could not be read/.test(w) && w.includes('rds:DescribeExportTasks')), out.warnings.join('\n'));
    assert.ok(partialReason && out.warnings.includes(partialReason), 'lakesync cost says why too');
  });

  test("a cycle that ended while its own RDS export still ran books no GB, but says its cost is partial and why: RDS bills the export when it completes", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, exportGBPerTable: 2 });
    const ports = backend.ports();
    const deps = { config, portsFor: () => ports };
    const { startExport } = cycleActivities(deps);
    const { recoverCycleOutcomes } = recoveryActivities(deps);
    const snapshot = { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false };
    const exportId = exportIdFor('shop', 'c35');
    await new MockActivityEnvironment().run(startExport, { source: 'shop', cycleId: 'c35', exportId, snapshot });
    ports.export.describeExport = async (id) => ({ exportId: id, state: 'in_progress', percentProgress: 40 });
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c35', error: 'terminated' })) as RecoveredCycle;
    const { partialReason, ...figures } = out.cost!;
    assert.deepEqual(figures, { basis: 'modelled', tables: 0, partial: 1 });
    assert.ok(out.warnings.some((w) => w.includes(exportId) && /still running/.test(w)), out.warnings.join('\n'));
    assert.ok(partialReason && out.warnings.includes(partialReason), 'lakesync cost says why too');
  });

  test("a cycle that ended before its plan, whose export lists tables without a size, books the others' GB and says which are left out", async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0, exportGBByTable: { [TABLES[0]!]: 2 } });
    const ports = backend.ports();
    const deps = { config, portsFor: () => ports };
    const { startExport } = cycleActivities(deps);
    const { recoverCycleOutcomes } = recoveryActivities(deps);
    const exportId = exportIdFor('shop', 'c37');
    await new MockActivityEnvironment().run(startExport, { source: 'shop', cycleId: 'c37', exportId, snapshot: { snapshotId: 's9', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
    const out = (await new MockActivityEnvironment().run(recoverCycleOutcomes, { source: 'shop', cycleId: 'c37', error: 'terminated' })) as RecoveredCycle;
    assert.equal(out.cost?.exportGB, 2, JSON.stringify(out.cost));
    assert.equal(out.cost?.partial, 1);
    assert.match(out.cost?.partialReason ?? '', new RegExp(`export ${exportId}: its listing gives no size for ${TABLES.length - 1} of its ${TABLES.length} table`));
    assert.ok(out.warnings.some((w) => w.includes(out.cost!.partialReason!)), out.warnings.join('\n'));
  });
});
