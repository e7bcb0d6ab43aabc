/**
 * An exclude rule naming a partition of an included partitioned table, in AWS mode: RDS exports a
 * partitioned table with its partitions' rows (in the table's folder), so ExportOnly must not name
 * the partitioned table. Moto server as RDS (StartExportTask's ExportOnly read back with
 * DescribeExportTasks), a real PostgreSQL as the source's read-only catalog.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeExportTasksCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { cycleActivities } from '../../src/activities/cycle';
import { buildAwsPorts } from '../../src/aws';
import { SourceCatalog } from '../../src/aws/catalog';
import { withSourceCatalog } from '../../src/aws/catalog-ports';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { LakesyncConfig } from '../../src/config/schema';
import type { Ports } from '../../src/ports';
import { type KnownTables, SOURCE_TABLES_KEY } from '../../src/export-scope';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { CATALOG_PASSWORD, CATALOG_USER, type CatalogSource, startCatalogSource } from './catalog-fixtures';
import { awsSource, EXPORT_BUCKET, glueScriptsFixture, REGION } from './fixtures';

const SNAPSHOT = { snapshotId: 'lakesync-shop-1-part', createdAt: '2025-01-01T00:00:00.000Z', adopted: false };

let moto: MotoServer | undefined;
let db: CatalogSource | undefined;
let clients: AwsClients | undefined;
let ports: Ports | undefined;

before(async () => {
  useTestCredentials();
  [moto, db] = await Promise.all([startMoto(), startCatalogSource()]);
  await db.onShop((c) =>
    c.query(`
      CREATE TABLE public.measurements (id bigint, taken date NOT NULL, secret text) PARTITION BY RANGE (taken);
      CREATE TABLE public.measurements_2024 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE public.measurements_2025 PARTITION OF public.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    `),
  );
  const settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: glueScriptsFixture() });
  clients = createClients(settings);
  const catalog = new SourceCatalog(
    { host: '127.0.0.1', port: db.postgres.port, database: 'shop', user: CATALOG_USER, auth: { kind: 'iam' }, sslmode: 'disable', region: REGION },
    { signToken: async () => CATALOG_PASSWORD },
  );
  ports = withSourceCatalog(buildAwsPorts(settings, clients), catalog, () => undefined, 'shop');
  await clients.s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await clients.rds.send(
    new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }),
  );
  await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: SNAPSHOT.snapshotId }));
});

after(async () => {
  if (clients) destroyClients(clients);
  await Promise.all([moto?.stop(), db?.stop()]);
});

test('a partitioned table one of whose partitions is excluded is not exported, with the reason', { timeout: 120_000 }, async () => {
  const source = awsSource({ endpoint: moto!.endpoint, raw: { include: ['public.*'], exclude: ['public.measurements_2024'] } });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: source } };
  const acts = cycleActivities({ config, portsFor: () => ports! });
  const scope = await acts.exportScope('shop', 'c-part');
  assert.equal(scope.wholeDatabase, false);
  await ports!.export.startExport({ source: 'shop', exportId: 'lakesync-shop-part-1', snapshot: SNAPSHOT, tables: scope.tables, schemas: scope.schemas, cycleId: 'c-part' });
  const out = await clients!.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: 'lakesync-shop-part-1' }));
  const exportOnly = out.ExportTasks?.[0]?.ExportOnly ?? [];
  assert.ok(exportOnly.length > 0, 'the export is limited');
  assert.ok(exportOnly.includes('shop.public.orders'), `the other tables are exported: ${JSON.stringify(exportOnly)}`);
  for (const entry of exportOnly) assert.ok(!/measurements/.test(entry) && entry !== 'shop.public' && entry !== 'shop', `ExportOnly lets the excluded partition's rows out: ${JSON.stringify(exportOnly)}`);
  const left = (scope.excluded ?? []).find((e) => e.table === 'public.measurements');
  assert.ok(left, `the partitioned table is reported as left out: ${JSON.stringify(scope)}`);
  assert.match(left.rule, /public\.measurements_2024/);
  assert.match(left.rule, /exclude public\.measurements too/);
});

test('without a catalog connection, an exclude rule matching no known table is warned about as a possible partition', { timeout: 120_000 }, async () => {
  const settings = awsSettings('shop', awsSource({ endpoint: moto!.endpoint }), { glueScriptsDir: glueScriptsFixture() });
  const plain = buildAwsPorts(settings, clients!);
  // The previous export listed the top-level tables only, as RDS lists a partitioned table.
  await plain.manifests.put(SOURCE_TABLES_KEY, { exportId: 'lakesync-shop-earlier', tables: ['public.measurements', 'public.orders'] } satisfies KnownTables);
  const source = awsSource({ endpoint: moto!.endpoint, raw: { include: ['public.*'], exclude: ['public.measurements_2024', 'public.orders'] } });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: source } };
  const scope = await cycleActivities({ config, portsFor: () => plain }).exportScope('shop', 'c-nocat');
  const warning = scope.warnings.find((w) => w.includes('public.measurements_2024'));
  assert.ok(warning, `a warning names the rule: ${JSON.stringify(scope.warnings)}`);
  assert.match(warning, /partition/);
  assert.match(warning, /source\.catalog/);
  assert.ok(!scope.warnings.some((w) => /public\.orders\b/.test(w) && /partition/.test(w)), 'a rule matching a known table is not warned about');
});

test('without a catalog connection, a wildcard exclude rule that matches a known table is still warned about: it may match partitions too', { timeout: 120_000 }, async () => {
  const settings = awsSettings('shop', awsSource({ endpoint: moto!.endpoint }), { glueScriptsDir: glueScriptsFixture() });
  const plain = buildAwsPorts(settings, clients!);
  // The previous export listed the top-level tables only: public.orders_2024_archive is a plain table, the partitions of public.orders are not listed.
  await plain.manifests.put(SOURCE_TABLES_KEY, { exportId: 'lakesync-shop-earlier', tables: ['public.orders', 'public.orders_2024_archive'] } satisfies KnownTables);
  const source = awsSource({ endpoint: moto!.endpoint, raw: { include: ['public.*'], exclude: ['public.orders_2024*'] } });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: source } };
  const scope = await cycleActivities({ config, portsFor: () => plain }).exportScope('shop', 'c-nocat-wild');
  assert.ok(scope.tables.includes('public.orders') && !scope.tables.includes('public.orders_2024_archive'), `the known table the rule matches is left out: ${JSON.stringify(scope.tables)}`);
  const warning = scope.warnings.find((w) => w.includes('public.orders_2024*'));
  assert.ok(warning, `a warning names the wildcard rule: ${JSON.stringify(scope.warnings)}`);
  assert.match(warning, /partition/);
  assert.match(warning, /source\.catalog/);
});

test('without a catalog connection, a table-limited sync is warned about an exclude rule that may name a partition of a requested table', { timeout: 120_000 }, async () => {
  const settings = awsSettings('shop', awsSource({ endpoint: moto!.endpoint }), { glueScriptsDir: glueScriptsFixture() });
  const plain = buildAwsPorts(settings, clients!);
  await plain.manifests.put(SOURCE_TABLES_KEY, { exportId: 'lakesync-shop-earlier', tables: ['public.measurements', 'public.orders'] } satisfies KnownTables);
  const source = awsSource({ endpoint: moto!.endpoint, raw: { include: ['public.*'], exclude: ['public.measurements_2024'] } });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: source } };
  const scope = await cycleActivities({ config, portsFor: () => plain }).exportScope('shop', 'c-nocat-req', ['public.measurements']);
  assert.deepEqual(scope.tables, ['public.measurements']);
  const warning = scope.warnings.find((w) => w.includes('public.measurements_2024'));
  assert.ok(warning, `a warning names the rule: ${JSON.stringify(scope.warnings)}`);
  assert.match(warning, /source\.catalog/);
});

test('a direct table one of whose partitions is excluded is not read directly: no load reads it, and the cycle says why', { timeout: 120_000 }, async () => {
  const source = awsSource({
    endpoint: moto!.endpoint,
    raw: {
      include: ['public.*'],
      exclude: ['public.measurements_2024'],
      source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: '127.0.0.1', database: 'shop', user: CATALOG_USER, iamAuth: true, sslmode: 'require', glueConnection: 'shop-vpc' } },
      tables: { 'public.orders': { primaryKey: ['id'] }, 'public.measurements': { extract: 'direct', cursor: { column: 'taken', mode: 'append' } } },
    },
  });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: source } };
  const acts = cycleActivities({ config, portsFor: () => ports! });
  for (const requested of [undefined, ['public.measurements']]) {
    const cycleId = requested ? 'c-direct-part-req' : 'c-direct-part';
    const discovery = await acts.discoverTables('shop', cycleId, undefined, requested);
    const plan = await acts.planCycle('shop', cycleId, discovery, requested ? { requested } : {});
    const loads = plan.load.filter((l) => l.table === 'public.measurements');
    assert.deepEqual(loads, [], `the partitioned table would be read directly, with its excluded partition's rows: ${JSON.stringify(loads)}`);
    const out = plan.notLoaded.find((t) => t.table === 'public.measurements');
    assert.ok(out, `the table is reported: ${JSON.stringify(plan.notLoaded)}`);
    assert.equal(out.status, 'skipped');
    assert.match(out.reason ?? '', /partition public\.measurements_2024 is excluded \(exclude public\.measurements_2024\)/);
    assert.match(out.reason ?? '', /read directly/);
    assert.match(out.reason ?? '', /exclude public\.measurements too/);
  }
});

test("the catalog connection lists unlogged tables apart (an export skips them), and the plan's ports offer them", async () => {
  await db!.onShop((c) => c.query('CREATE UNLOGGED TABLE public.scratch (id int)'));
  assert.ok(!(await ports!.discover.listTables!()).includes('public.scratch'), 'no unlogged table among the tables an export holds');
  assert.deepEqual(await ports!.discover.listNotExported!(), ['public.scratch']);
});

test('the catalog connection lists views, materialized views and foreign tables apart, by their exact names: no export holds them', async () => {
  await db!.onShop((c) =>
    c.query(`
      CREATE VIEW public.recent_measurements AS SELECT id FROM public.measurements;
      CREATE SCHEMA "Odd.Schema";
      CREATE MATERIALIZED VIEW "Odd.Schema"."Daily ""Totals""" AS SELECT count(*) AS n FROM public.measurements;
      CREATE EXTENSION IF NOT EXISTS postgres_fdw;
      CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
      CREATE FOREIGN TABLE public.remote_orders (id int) SERVER elsewhere;
    `),
  );
  assert.deepEqual(await ports!.export.listSourceNotTables!(), {
    'Odd.Schema.Daily "Totals"': 'materialized view',
    'public.measurements_2024': 'partition of public.measurements',
    'public.measurements_2025': 'partition of public.measurements',
    'public.recent_measurements': 'view',
    'public.remote_orders': 'foreign table',
  });
  const tables = await ports!.discover.listTables!();
  assert.ok(!tables.some((t) => /recent_measurements|Totals|remote_orders/.test(t)), tables.join(', '));
});

test('a partitioned table with a foreign partition is exported with a warning that the foreign rows are missing (an RDS snapshot holds none)', { timeout: 120_000 }, async () => {
  await db!.onShop((c) =>
    c.query(`
      CREATE EXTENSION IF NOT EXISTS postgres_fdw;
      CREATE SERVER IF NOT EXISTS elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
      CREATE TABLE public.readings (id int, site text) PARTITION BY LIST (site);
      CREATE TABLE public.readings_here PARTITION OF public.readings FOR VALUES IN ('here');
      CREATE FOREIGN TABLE public.readings_there PARTITION OF public.readings FOR VALUES IN ('there') SERVER elsewhere;
    `),
  );
  const source = awsSource({ endpoint: moto!.endpoint, raw: { include: ['public.*'] } });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: source } };
  const scope = await cycleActivities({ config, portsFor: () => ports! }).exportScope('shop', 'c-foreign');
  const warning = scope.warnings.find((w) => w.includes('public.readings_there'));
  assert.ok(warning, `a warning names the foreign partition: ${JSON.stringify(scope.warnings)}`);
  assert.match(warning, /public\.readings is exported without the rows of its partition public\.readings_there, a foreign table/);
  assert.match(warning, /extract: direct/);
  assert.ok(!scope.warnings.some((w) => /measurements/.test(w) && /foreign/.test(w)), 'no warning for a table without a foreign partition');
});
