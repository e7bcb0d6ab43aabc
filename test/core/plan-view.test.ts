/** `lakesync plan` after a sync: the tables come from the last export, which never holds an excluded table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPlan, type PlanReport } from '../../src/cli/plan-view';
import { parseConfig, sourceConfig } from '../../src/config/load';
import type { SourceConfig } from '../../src/config/schema';
import type { DiscoveredExport, DiscoveredTable } from '../../src/model';
import type { Ports } from '../../src/ports';
import type { SourceStatus } from '../../src/workflows/messages';
import { awsSource } from '../aws/fixtures';

/** The fake source shop with `settings` (exclude, tables) merged in. */
const fakeSource = (settings: Record<string, unknown>) =>
  sourceConfig(parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'fake', tables: [] }, target: { namespace: 'shop' }, ...settings } } }), 'shop');

/** public.measurements is partitioned by year. */
const PARTITIONS = { 'public.measurements': ['public.measurements_2024', 'public.measurements_2025'] };

/**
 * The plans of `source` over `tables` and PARTITIONS, as each way of reading the catalog gives
 * them: read by the command (postgres/pglite), and through an RDS source's catalog connection.
 */
async function plansOfBothCatalogs(source: SourceConfig, tables: DiscoveredTable[]): Promise<PlanReport[]> {
  const local = await buildPlan({ name: 'shop', source, status: undefined, catalog: async () => tables, partitions: async () => PARTITIONS, ports: async () => ({ discover: {}, export: {} }) as unknown as Ports });
  const rds = await buildPlan({
    name: 'shop',
    source,
    status: undefined,
    ports: async () => ({ discover: { listTables: async () => tables.map((t) => t.table) }, export: { listSourcePartitions: async () => PARTITIONS } }) as unknown as Ports,
  });
  return [local, rds];
}

const source = fakeSource({ exclude: ['*.*_pii'] });
const exportRef = { exportId: 'e1', location: 'fake://exports/e1', snapshotId: 's1', adopted: false };
/** The last export: the included tables only. */
const listing: DiscoveredExport = { database: 'shop', tables: [{ table: 'public.orders', target: 'shop.public.orders', columns: [], primaryKey: ['id'] }], skipped: [], warnings: [] };
const ports = async () => ({ discover: { exportAvailable: async () => true, discover: async () => listing } }) as unknown as Ports;
const status = {
  source: 'shop',
  phase: 'idle',
  queue: [],
  ledger: { 'public.orders': {} },
  lastExport: { export: exportRef, snapshot: { snapshotId: 's1', createdAt: '2026-01-01T00:00:00.000Z', adopted: false } },
  lastCycle: {
    tables: [
      { table: 'public.orders', lakeTable: 'orders', status: 'committed', action: 'create' },
      { table: 'public.customer_pii', lakeTable: 'customer_pii', status: 'skipped', action: 'skip', reason: 'excluded (exclude *.*_pii)' },
    ],
  },
} as unknown as SourceStatus;

test("after a sync the plan still shows the excluded tables with their rule, and never calls a working exclude rule unmatched", async () => {
  const report = await buildPlan({ name: 'shop', source, status, ports });
  assert.equal(report.tablesFrom, 'the last export e1');
  assert.deepEqual(report.warnings, [], 'the export holds no excluded table, so it cannot tell that a rule matches nothing');
  const pii = report.rows.find((r) => r.table === 'public.customer_pii');
  assert.deepEqual([pii?.action, pii?.excludedBy], ['skip', 'exclude *.*_pii']);
  assert.deepEqual(report.rows.filter((r) => r.action !== 'skip').map((r) => [r.table, r.action]), [['public.orders', 'merge']]);
});

test('a plan whose Temporal could not be asked says so, not that no source workflow runs', async () => {
  const report = await buildPlan({ name: 'shop', source, status: undefined, statusUnknown: true, statusNote: 'lake state unknown: cannot reach Temporal' });
  assert.equal(report.lakeStateFrom, 'unknown (Temporal could not be asked): every table is planned as new');
  const none = await buildPlan({ name: 'shop', source, status: undefined });
  assert.equal(none.lakeStateFrom, 'unknown (no source workflow): every table is planned as new');
});

test("a table that cannot be planned says why once, without repeating its name", async () => {
  const catalog = async () => [{ table: 'public.audit', target: 'shop.public.audit', columns: [{ columnName: '__lakesync_op', originalType: 'text', expectedExportedType: 'binary (UTF8)' }], primaryKey: ['id'] }];
  const noExport = async () => ({ discover: {} }) as unknown as Ports;
  const report = await buildPlan({ name: 'shop', source, status: undefined, catalog, ports: noExport });
  const row = report.rows.find((r) => r.table === 'public.audit');
  assert.match(row?.why ?? '', /^column\(s\) "__lakesync_op" start with the reserved prefix/);
});

test('an exclude rule naming a partition is reported as leaving its partitioned table out, not as matching no table', async () => {
  const parted = fakeSource({ exclude: ['public.measurements_2024', 'public.ordrs'] });
  const tables = [
    { table: 'public.measurements', target: 'shop.public.measurements', columns: [] },
    { table: 'public.orders', target: 'shop.public.orders', columns: [] },
  ];
  for (const report of await plansOfBothCatalogs(parted, tables)) {
    const about = report.warnings.filter((w) => w.includes('public.measurements_2024'));
    assert.equal(about.length, 1, JSON.stringify(report.warnings));
    assert.doesNotMatch(about[0]!, /matches no table/);
    assert.match(about[0]!, /partition of public\.measurements/);
    assert.match(about[0]!, /public\.measurements is not exported/);
    assert.ok(report.warnings.some((w) => /"public\.ordrs" matches no table/.test(w)), 'a misspelt rule is still reported');
  }
});

test('after a sync, an exclude rule since added for a partition of an exported table plans that table as left out, as the next cycle does', async () => {
  const parted = fakeSource({ exclude: ['public.measurements_2024'] });
  const exported: DiscoveredExport = { database: 'shop', tables: [{ table: 'public.measurements', target: 'shop.public.measurements', columns: [], primaryKey: ['id'] }, ...listing.tables], skipped: [], warnings: [] };
  const report = await buildPlan({
    name: 'shop',
    source: parted,
    status,
    ports: async () => ({ discover: { exportAvailable: async () => true, discover: async () => exported }, export: { listSourcePartitions: async () => PARTITIONS } }) as unknown as Ports,
  });
  assert.equal(report.tablesFrom, 'the last export e1');
  const row = report.rows.find((r) => r.table === 'public.measurements');
  assert.equal(row?.action, 'skip', JSON.stringify(row));
  assert.match(row!.why, /partition public\.measurements_2024 is excluded/);
  assert.equal(report.rows.find((r) => r.table === 'public.orders')?.action, 'merge');
});

test('a partitioned table one of whose partitions is excluded is planned as skipped, exported or read directly, with the reason', async () => {
  for (const direct of [false, true]) {
    const parted = fakeSource({
      exclude: ['public.measurements_2024'],
      tables: direct ? { 'public.measurements': { extract: 'direct', cursor: { column: 'id', mode: 'append' } } } : {},
    });
    const tables = [
      { table: 'public.measurements', target: 'shop.public.measurements', columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }] },
      { table: 'public.orders', target: 'shop.public.orders', columns: [], primaryKey: ['id'] },
    ];
    for (const report of await plansOfBothCatalogs(parted, tables)) {
      const row = report.rows.find((r) => r.table === 'public.measurements');
      assert.equal(row?.action, 'skip', `${direct ? 'direct' : 'export'}: ${JSON.stringify(row)}`);
      assert.match(row!.why, /partition public\.measurements_2024 is excluded \(exclude public\.measurements_2024\)/);
      assert.match(row!.why, direct ? /not read directly/ : /not exported/);
      assert.match(row!.why, /exclude public\.measurements too/);
      assert.notEqual(report.rows.find((r) => r.table === 'public.orders')?.action, 'skip', 'the other table is planned');
      const warning = report.warnings.find((w) => w.includes('public.measurements_2024'));
      assert.match(warning ?? '', direct ? /neither exported nor read directly/ : /public\.measurements is not exported/, JSON.stringify(report.warnings));
    }
  }
});

test('a tables: key naming a table the last export skipped (e.g. unlogged) is not reported as matching no table', async () => {
  const keyed = fakeSource({ tables: { 'public.scratch': { primaryKey: ['id'] } } });
  const skipped: DiscoveredExport = { ...listing, skipped: [{ table: 'public.scratch', reason: 'unlogged table: RDS skips it' }] };
  const report = await buildPlan({ name: 'shop', source: keyed, status, ports: async () => ({ discover: { exportAvailable: async () => true, discover: async () => skipped } }) as unknown as Ports });
  assert.ok(!report.warnings.some((w) => /public\.scratch" matches no table/.test(w)), JSON.stringify(report.warnings));
});

test("an exclude rule naming an unlogged table the source's catalog connection lists apart is not reported as matching no table", async () => {
  const unlogged = fakeSource({ exclude: ['public.scratch'] });
  const report = await buildPlan({
    name: 'shop',
    source: unlogged,
    status: undefined,
    ports: async () => ({ discover: { listTables: async () => ['public.orders'], listNotExported: async () => ['public.scratch'] }, export: {} }) as unknown as Ports,
  });
  assert.deepEqual(report.warnings, []);
});

test('a tables: key naming a view or a partition is reported as such (no export holds one), not as a name to check the spelling of', async () => {
  const keyed = sourceConfig(
    parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'fake', tables: [] }, target: { namespace: 'shop' }, tables: { 'public.recent_orders': {}, 'public.typo': {}, 'archive.events_2024': {} } } } }),
    'shop',
  );
  const report = await buildPlan({
    name: 'shop',
    source: keyed,
    status: undefined,
    ports: async () => ({ discover: { listTables: async () => ['public.orders'] }, export: { listSourceNotTables: async () => ({ 'public.recent_orders': 'view', 'archive.events_2024': 'partition of public.events' }) } }) as unknown as Ports,
  });
  const view = report.warnings.find((w) => w.includes('public.recent_orders'));
  assert.match(view ?? '', /^tables entry "public\.recent_orders" names a view, not a table: an export holds tables only, so it is not loaded/, JSON.stringify(report.warnings));
  assert.doesNotMatch(view ?? '', /check the spelling/);
  assert.match(report.warnings.find((w) => w.includes('archive.events_2024')) ?? '', /names a partition of public\.events, not a table: .*set tables\."public\.events" instead/);
  assert.match(report.warnings.find((w) => w.includes('public.typo')) ?? '', /matches no table of this source.*check the spelling/);
});

test('the plan of an RDS source without source.catalog warns that a wildcard exclude rule may match partitions it cannot check', async () => {
  const rds = awsSource({ raw: { include: ['public.*'], exclude: ['public.orders_2024*'] } });
  // The last export lists top-level tables only (RDS exports a partitioned table with its partitions' rows).
  const exported: DiscoveredExport = { database: 'shop', tables: [{ table: 'public.orders', target: 'shop.public.orders', columns: [], primaryKey: ['id'] }], skipped: [], warnings: [] };
  const report = await buildPlan({ name: 'shop', source: rds, status, ports: async () => ({ discover: { exportAvailable: async () => true, discover: async () => exported }, export: {} }) as unknown as Ports });
  const warning = report.warnings.find((w) => w.includes('public.orders_2024*'));
  assert.ok(warning, `a warning names the rule: ${JSON.stringify(report.warnings)}`);
  assert.match(warning, /partition/);
  assert.match(warning, /source\.catalog/);
  // With the catalog connection the partitions are checked: no such warning.
  const withCatalog = awsSource({ raw: { include: ['public.*'], exclude: ['public.orders_2024*'], source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: 'db.example', user: 'reader', iamAuth: true } } } });
  const checked = await buildPlan({ name: 'shop', source: withCatalog, status, ports: async () => ({ discover: { exportAvailable: async () => true, discover: async () => exported }, export: { listSourcePartitions: async () => ({}) } }) as unknown as Ports });
  assert.ok(!checked.warnings.some((w) => /source\.catalog/.test(w)), JSON.stringify(checked.warnings));
});
