/**
 * Direct extract without a Temporal server: the config's refusals (each with its message), the
 * plan of direct tables (create, incremental, first load from the export), the export scope that
 * leaves them out, `lakesync plan`'s rows and the verification of a direct load.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { directRowCountCheck, rowCountCheckFor } from '../../src/activities/publish';
import { buildPlan } from '../../src/cli/plan-view';
import { exportScope } from '../../src/export-scope';
import type { DiscoveredTable } from '../../src/model';
import { planTables } from '../../src/plan';
import { rowCountCheck } from '../../src/verify-rows';
import { RDS_CATALOG, parsed, problems, rdsSourceConfig } from '../helpers/source-config';

function localSource(tables: Record<string, unknown>, source: Record<string, unknown> = { kind: 'postgres', url: 'postgres://u:p@127.0.0.1:5432/shop' }, extra: Record<string, unknown> = {}) {
  return { database: 'shop', source, target: { namespace: 'shop' }, tables, ...extra };
}

describe('config of extract: direct', () => {
  test('a direct table with a cursor, partitions and first load is accepted; export stays the default', () => {
    const s = parsed(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id', lookback: 1000 }, direct: { partitions: 4, partitionColumn: 'id', firstLoad: 'export' } }, 'public.orders': {} }));
    assert.equal(s.tables['public.events']!.extract, 'direct');
    assert.deepEqual(s.tables['public.events']!.direct, { partitions: 4, partitionColumn: 'id', firstLoad: 'export' });
    assert.equal(s.tables['public.orders']!.extract, undefined);
    assert.equal(parsed(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: {} } })).tables['public.events']!.direct!.firstLoad, 'direct');
  });

  test('extract direct without a cursor is refused, naming the fix', () => {
    assert.deepEqual(problems(localSource({ 'public.events': { extract: 'direct' } })), [
      'sources.shop.tables.public.events.cursor: extract direct reads windows of the cursor column and needs one: add cursor: { column: <a monotonic id or timestamp column> }',
    ]);
  });

  test("a direct table's cursor cannot be retyped: its windows are compared in the source type, the lake's max(cursor) in the lake type", () => {
    assert.deepEqual(problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'seq' }, columns: { seq: { type: 'bigint' }, note: { type: 'string' } } } })), [
      "sources.shop.tables.public.events.columns.seq.type: the cursor of an extract: direct table keeps its source type: each window is compared in PostgreSQL, in the column's own type, with the lake's max(cursor), and another lake type orders differently (as text '999' > '1000'), so rows would be skipped. Remove type here, or use extract: export",
    ]);
    // Named by the lake name a rename gives it, the cursor is the same column.
    assert.deepEqual(problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'seq_no' }, columns: { seq: { rename: 'seq_no', type: 'string' } } } })), [
      "sources.shop.tables.public.events.columns.seq.type: the cursor of an extract: direct table keeps its source type: each window is compared in PostgreSQL, in the column's own type, with the lake's max(cursor), and another lake type orders differently (as text '999' > '1000'), so rows would be skipped. Remove type here, or use extract: export",
    ]);
    // Loaded from exports, the cursor is compared typed: the type applies.
    assert.deepEqual(problems(localSource({ 'public.events': { cursor: { column: 'seq' }, columns: { seq: { type: 'bigint' } } } })), []);
  });

  test('action replace (and merge) is refused with extract direct', () => {
    const replace = problems(localSource({ 'public.events': { extract: 'direct', action: 'replace', primaryKey: ['id'] } }));
    assert.ok(replace.some((p) => p.includes('tables.public.events.action: action replace needs the whole table from a snapshot export, and extract direct reads windows only')), replace.join('\n'));
    const merge = problems(localSource({ 'public.events': { extract: 'direct', action: 'merge', primaryKey: ['id'], cursor: { column: 'id' } } }));
    assert.deepEqual(merge, ['sources.shop.tables.public.events.action: action merge needs the whole table from a snapshot export, and extract direct reads windows only: remove action (direct loads are create, then incremental), or use extract: export']);
  });

  test('a pglite source cannot be read directly: use kind postgres', () => {
    assert.deepEqual(problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id' } } }, { kind: 'pglite' })), [
      'sources.shop.source.kind: extract direct (public.events) reads the source over JDBC, and PGlite has no network listener: use source.kind postgres with a postgres:// URL, or extract: export',
    ]);
  });

  test('on AWS, direct needs source.catalog and its glueConnection', () => {
    const table = { 'public.events': { extract: 'direct', cursor: { column: 'id' } } };
    assert.deepEqual(problems(rdsSourceConfig({ tables: table })), [
      'sources.shop.source.catalog: extract direct (public.events) reads the source over JDBC through source.catalog: add source.catalog (host, user, secretArn or iamAuth) and source.catalog.glueConnection',
    ]);
    assert.deepEqual(problems(rdsSourceConfig({ tables: table, source: { catalog: { host: RDS_CATALOG.host, secretArn: RDS_CATALOG.secretArn } } })), [
      "sources.shop.source.catalog.glueConnection: extract direct (public.events) runs the Glue job inside the source's VPC: set source.catalog.glueConnection to a Glue connection (type NETWORK or JDBC) in the database's VPC",
    ]);
    assert.deepEqual(problems(rdsSourceConfig({ tables: table, source: { catalog: RDS_CATALOG } })), []);
    // Export tables alone need neither.
    assert.deepEqual(problems(rdsSourceConfig({ tables: { 'public.events': { cursor: { column: 'id' } } } })), []);
  });

  test('partitions are 1..256; direct settings without extract direct are refused', () => {
    for (const partitions of [0, 257, 2.5]) {
      const found = problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { partitions } } }));
      assert.equal(found.length, 1, `${partitions}: ${found.join('\n')}`);
      assert.match(found[0]!, /^sources\.shop\.tables\.public\.events\.direct\.partitions: must be/);
    }
    assert.deepEqual(problems(localSource({ 'public.events': { cursor: { column: 'id' }, direct: { partitions: 4 } } })), [
      'sources.shop.tables.public.events.direct: direct settings apply to extract: direct only: add extract: direct, or remove direct',
    ]);
    assert.match(problems(localSource({ 'public.events': { extract: 'jdbc', cursor: { column: 'id' } } })).join('\n'), /extract: must be export or direct/);
    assert.match(problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { firstLoad: 'snapshot' } } })).join('\n'), /firstLoad: must be direct or export/);
  });

  test('partitions are never hashed on an excluded column: the partition query would name it in the source', () => {
    assert.deepEqual(problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { partitionColumn: 'ssn' }, columns: { ssn: { exclude: true } } } })), [
      'sources.shop.tables.public.events.direct.partitionColumn: column ssn is excluded (columns.ssn.exclude), and excluded columns are never read, not even to hash partitions on: partition on another column, or leave partitionColumn out',
    ]);
    assert.deepEqual(problems(localSource({ 'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { partitionColumn: 'ssn' }, columns: { ssn: { rename: 'tax_id' } } } })), []);
  });
});

const t = (table: string, primaryKey?: string[]): DiscoveredTable => ({
  table,
  target: `shop.${table}`,
  columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }],
  ...(primaryKey ? { primaryKey } : {}),
});

describe('plan of direct tables', () => {
  const source = parsed(
    localSource({
      'public.events': { extract: 'direct', cursor: { column: 'id', lookback: 1000 }, direct: { partitions: 8 } },
      'public.clicks': { extract: 'direct', cursor: { column: 'id' }, direct: { firstLoad: 'export' } },
      'public.log': { extract: 'direct', cursor: { column: 'id' } },
    }),
  );
  const catalog = [t('public.events', ['id']), t('public.clicks', ['id']), t('public.log')];

  test('no lake table: create read directly (firstLoad direct) or from the export (firstLoad export, no extract)', () => {
    const { entries, notLoaded } = planTables(source, [t('public.orders', ['id']), t('public.clicks', ['id'])], new Set(), {}, catalog);
    assert.deepEqual(notLoaded, []);
    const by = Object.fromEntries(entries.map((e) => [e.table, e]));
    assert.equal(by['public.events']!.action, 'create');
    assert.deepEqual(by['public.events']!.extract, { kind: 'direct', partitions: 8 });
    assert.equal(by['public.events']!.reason, "direct: lake table missing: reads every row with id <= the source's max(id), and rows where it is NULL, over JDBC (8 partition(s))");
    assert.equal(by['public.clicks']!.action, 'create');
    assert.equal(by['public.clicks']!.extract, undefined, 'created from the export: an export load');
    assert.equal(by['public.clicks']!.reason, "lake table missing: first load from this cycle's snapshot export (direct.firstLoad: export), then direct windows on id");
    assert.equal(by['public.log']!.cursor?.mode, 'append', 'no key: rows the lake lacks are appended');
    assert.equal(by['public.orders']!.extract, undefined);
  });

  test("lake table there: incremental windows from the lake's max(cursor) - lookback, whatever the first load was", () => {
    const { entries } = planTables(source, [t('public.orders', ['id'])], new Set(['events', 'clicks', 'log', 'orders']), {}, catalog);
    const by = Object.fromEntries(entries.map((e) => [e.table, e]));
    assert.equal(by['public.events']!.action, 'incremental');
    assert.equal(by['public.events']!.reason, "direct: window from the lake's max(id) - lookback 1000 to the source's max(id), upserted by key (8 partition(s))");
    assert.deepEqual(by['public.clicks']!.extract, { kind: 'direct' });
    assert.equal(by['public.clicks']!.reason, "direct: window from the lake's max(id) - lookback 0 to the source's max(id), upserted by key (partitions from the window's row estimate)");
    assert.equal(by['public.log']!.reason, "direct: window from the lake's max(id) - lookback 0 to the source's max(id), rows the lake lacks appended (partitions from the window's row estimate)");
  });

  test("a cursor that is not a column of the source's table fails the plan: no run, no export is taken for it", () => {
    const typo = parsed(
      localSource({
        'public.events': { extract: 'direct', cursor: { column: 'updated_at' } },
        'public.clicks': { extract: 'direct', cursor: { column: 'updated_at' }, direct: { firstLoad: 'export' } },
        // Named by the lake name a rename gives it, or in another case, the cursor is found.
        'public.log': { extract: 'direct', cursor: { column: 'seq' }, columns: { id: { rename: 'seq' } } },
        'public.orders': { extract: 'direct', cursor: { column: 'ID' } },
      }),
    );
    const tables = [t('public.events'), t('public.clicks'), t('public.log'), t('public.orders')];
    const { entries, notLoaded } = planTables(typo, [t('public.clicks')], new Set(), {}, tables);
    assert.deepEqual(entries.map((e) => e.table).sort(), ['public.log', 'public.orders']);
    assert.deepEqual(notLoaded.map((n) => [n.table, n.extract, n.error?.type, n.error?.message]), [
      ['public.clicks', 'direct', 'InvalidTableSettings', 'public.clicks: cursor column updated_at is not a column of the table (its columns: id): set tables."public.clicks".cursor.column to one of them'],
      ['public.events', 'direct', 'InvalidTableSettings', 'public.events: cursor column updated_at is not a column of the table (its columns: id): set tables."public.events".cursor.column to one of them'],
    ]);
  });

  test("a partitionColumn that is not a column of the source's table fails the plan, however few rows the windows hold", () => {
    const typo = parsed(
      localSource({
        'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { partitionColumn: 'regoin' } },
        // Named by the lake name a rename gives it, or in another case, the column is found.
        'public.log': { extract: 'direct', cursor: { column: 'id' }, direct: { partitionColumn: 'area' }, columns: { region: { rename: 'area' } } },
        'public.orders': { extract: 'direct', cursor: { column: 'id' }, direct: { partitionColumn: 'REGION' } },
      }),
    );
    const withRegion = (table: string) => ({ ...t(table), columns: [...t(table).columns, { columnName: 'region', originalType: 'text', expectedExportedType: 'binary (UTF8)' }] });
    const tables = [withRegion('public.events'), withRegion('public.log'), withRegion('public.orders')];
    const { entries, notLoaded } = planTables(typo, [], new Set(['events']), {}, tables);
    assert.deepEqual(entries.map((e) => e.table).sort(), ['public.log', 'public.orders']);
    assert.deepEqual(notLoaded.map((n) => [n.table, n.extract, n.error?.type, n.error?.message]), [
      ['public.events', 'direct', 'InvalidTableSettings', 'public.events: direct.partitionColumn regoin is not a column of the table (its columns: id, region): set tables."public.events".direct.partitionColumn to one of them, or leave it out'],
    ]);
  });

  test('a first load from the export fails when the export does not hold the table; rebuild is refused for direct tables', () => {
    const { notLoaded } = planTables(source, [], new Set(), {}, catalog);
    const clicks = notLoaded.find((n) => n.table === 'public.clicks')!;
    assert.equal(clicks.status, 'failed');
    assert.match(clicks.error!.message, /direct\.firstLoad is export, but this cycle's export does not hold the table/);
    const rebuilt = planTables(source, [], new Set(['events']), { rebuild: true, requested: ['public.events'] }, catalog).notLoaded.find((n) => n.table === 'public.events')!;
    assert.equal(rebuilt.extract, 'direct');
    assert.match(rebuilt.error!.message, /rebuild replaces the lake table from a snapshot export, and the table has extract: direct/);
  });

  test('lakesync plan shows the path per table: direct, export, first load from export then direct', async () => {
    const withOrders = { ...source, tables: { ...source.tables, 'public.orders': {} } };
    const report = await buildPlan({ name: 'shop', source: withOrders, status: undefined });
    const by = Object.fromEntries(report.rows.map((r) => [r.table, r]));
    assert.equal(by['public.events']!.extract, 'direct');
    assert.equal(by['public.clicks']!.extract, 'export-then-direct');
    assert.match(by['public.clicks']!.why, /first load from this cycle's snapshot export/);
    assert.equal(by['public.orders']!.extract, 'export');
  });
});

describe('export scope with direct tables', () => {
  const rules = { include: ['*.*'], exclude: [] as string[], tables: {} };
  const known = ['public.events', 'public.orders', 'sales.items'];

  test('a direct table is left out: its schema goes table by table, the others stay whole', () => {
    const scope = exportScope(rules, known, undefined, ['public.events']);
    assert.deepEqual({ wholeDatabase: scope.wholeDatabase, schemas: scope.schemas, tables: scope.tables }, { wholeDatabase: false, schemas: ['sales'], tables: ['public.orders'] });
    assert.deepEqual(scope.direct, ['public.events']);
    assert.equal(scope.nothingToExport, false);
    assert.deepEqual(scope.excluded, [], 'a direct table is loaded, not excluded');
  });

  test('every included table read directly: nothing to export, no refusal', () => {
    const scope = exportScope({ include: ['public.events'], exclude: [], tables: {} }, known, undefined, ['public.events']);
    assert.equal(scope.nothingToExport, true);
    const requested = exportScope(rules, undefined, ['public.events'], ['public.events', 'public.orders']);
    assert.equal(requested.nothingToExport, true);
    assert.deepEqual(requested.direct, ['public.events'], 'only the requested direct tables');
    assert.deepEqual(exportScope(rules, undefined, ['public.events', 'public.orders'], ['public.events']).tables, ['public.orders']);
  });

  test('an excluded direct table is neither exported nor read', () => {
    const scope = exportScope({ include: ['*.*'], exclude: ['public.events'], tables: {} }, known, undefined, ['public.events']);
    assert.deepEqual(scope.direct, []);
    assert.deepEqual(scope.excluded.map((e) => e.table), ['public.events']);
  });
});

describe('verification of a direct load', () => {
  test("the rows the lake gained are held against what the load inserted and read, never an export's count", async () => {
    const load = { action: 'incremental' as const, committed: true, inserted: 10, rowsRead: 12, rowCountAfter: 110, snapshotId: '2' };
    const check = directRowCountCheck(load);
    assert.deepEqual(check, { kind: 'appended', rows: 10, atMost: 12, since: 'parent', bound: 'window' });
    const lake = (rows: Record<string, number>) => ({ countAt: async (id: string | null) => rows[id ?? 'now']!, parentOf: async (id: string) => ({ parent: String(Number(id) - 1), operation: 'append' }) });
    assert.equal((await rowCountCheck(check, '2', lake({ '1': 100, '2': 110 }))).passed, true);
    const lost = await rowCountCheck(check, '2', lake({ '1': 100, '2': 105 }));
    assert.equal(lost.passed, false);
    const tooMany = await rowCountCheck({ ...check, rows: 20 }, '2', lake({ '1': 100, '2': 120 }));
    assert.equal(tooMany.expected, "20, but at most 12 (the rows read in the load's window)");
    // An export load keeps its export figure.
    assert.deepEqual(rowCountCheckFor('incremental', load, 50), { kind: 'appended', rows: 10, atMost: 50, since: 'parent' });
  });
});

describe('lakesync plan prints the path of each table', () => {
  test('an EXTRACT column: direct, export, or first load from export then direct (text and JSON)', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { runCli } = await import('../../src/cli/main');
    const dir = mkdtempSync(join(tmpdir(), 'lakesync-direct-plan-'));
    try {
      const file = join(dir, 'lakesync.yaml');
      const config = {
        temporal: { address: '127.0.0.1:9', taskQueue: 'direct-plan', connectTimeoutSeconds: 1 },
        sources: {
          shop: {
            database: 'fake',
            source: { kind: 'fake', tables: ['public.events', 'public.clicks', 'public.orders'] },
            target: { namespace: 'shop' },
            tables: { 'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { partitions: 4 } }, 'public.clicks': { extract: 'direct', cursor: { column: 'id' }, direct: { firstLoad: 'export' } } },
          },
        },
      };
      writeFileSync(file, JSON.stringify(config));
      const run = async (args: string[]) => {
        let stdout = '';
        let stderr = '';
        const code = await runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:9' }, cwd: dir });
        return { code, stdout, stderr };
      };
      const text = await run(['plan', 'shop', '--config', file]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /EXTRACT/);
      assert.match(text.stdout, /public\.events\s+shop\.events\s+create\s+direct: lake table missing: reads every row with id <= the source's max\(id\).*\(4 partition\(s\)\).*\s+direct\n/);
      assert.match(text.stdout, /public\.clicks\s+shop\.clicks\s+create\s+lake table missing: first load from this cycle's snapshot export.*first load from export, then direct\n/);
      assert.match(text.stdout, /public\.orders\s+shop\.orders\s+create\s+lake table missing\s.*\sexport\n/);
      const json = await run(['plan', 'shop', '--json', '--config', file]);
      const rows = (JSON.parse(json.stdout) as { rows: { table: string; extract: string }[] }).rows;
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.table, r.extract])), { 'public.clicks': 'export-then-direct', 'public.events': 'direct', 'public.orders': 'export' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
