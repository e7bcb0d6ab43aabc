/**
 * What RDS is asked to export, read back from moto server: StartExportTask's ExportOnly, as the
 * real RDS adapter sends it over HTTP from a real cycle workflow, names only what the
 * include/exclude rules let through (`database.schema` for a schema no exclude rule applies to,
 * `database.schema.table` otherwise), both on a first cycle (no table list known: the config's
 * named tables and whole schemas only) and on the next one (the previous export's table list).
 * A first cycle that cannot export anything without an excluded table is refused before any
 * snapshot is taken.
 *
 * moto writes no export files: the test writes each export's listing into S3 as RDS would.
 * Every listed table is marked FAILED, so the cycles load nothing: this test is about the
 * export request alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { CreateDBInstanceCommand, DescribeDBSnapshotsCommand, DescribeExportTasksCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { LakesyncConfig, SourceConfig } from '../../src/config/schema';
import { selectTable } from '../../src/config/tables';
import { type DevServer, startDevServer } from '../../src/devserver';
import { exportIdFor } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { createWorker } from '../../src/worker';
import { quietTemporalLogs } from '../helpers/env';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, EXPORT_ROLE, glueScriptsFixture, REGION, SCRIPT_BUCKET } from './fixtures';

const RULES = { include: ['public.*', 'sales.*', 'crm.*'], exclude: ['public.*_pii', 'sales.salaries'] };

let moto: MotoServer | undefined;
let server: DevServer | undefined;
let clients: AwsClients | undefined;
let workDir: string | undefined;
let scriptsDir: string | undefined;

before(async () => {
  quietTemporalLogs();
  useTestCredentials();
  workDir = mkdtempSync(join(tmpdir(), 'lakesync-aws-scope-'));
  scriptsDir = glueScriptsFixture();
  moto = await startMoto();
  server = await startDevServer({ dbFile: join(workDir, 'temporal.db') });
});

after(async () => {
  if (clients) destroyClients(clients);
  await server?.stop();
  await moto?.stop();
  for (const dir of [workDir, scriptsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The listing RDS writes for an export: export_info and one export_tables_info file. */
async function writeListing(exportId: string, tables: string[]): Promise<void> {
  const root = `lakesync/exports/${exportId}`;
  const files = [
    { key: `${root}/export_info_${exportId}.json`, body: { exportTaskIdentifier: exportId, exportOnly: [], status: 'COMPLETE', iamRoleArn: EXPORT_ROLE } },
    {
      key: `${root}/export_tables_info_${exportId}_from_1_to_${tables.length}.json`,
      body: { perTableStatus: tables.map((t) => ({ target: `shop.${t}`, status: 'FAILED', warningMessage: 'not loaded in this test' })) },
    },
  ];
  for (const f of files) await clients!.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: JSON.stringify(f.body) }));
}

async function exportOnly(exportId: string): Promise<string[] | undefined> {
  const out = await clients!.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: exportId }));
  const task = out.ExportTasks?.find((t) => t.ExportTaskIdentifier === exportId);
  assert.ok(task, `export task ${exportId} was started`);
  return task.ExportOnly;
}

/** Every ExportOnly entry lets through included tables only. */
function assertOnlyIncluded(entries: string[] | undefined): void {
  assert.ok(entries && entries.length > 0, `ExportOnly is set (absent means the whole database): ${JSON.stringify(entries)}`);
  for (const entry of entries) {
    const parts = entry.split('.');
    assert.equal(parts[0], 'shop', entry);
    if (parts.length === 2) {
      for (const rule of RULES.exclude) assert.ok(!rule.startsWith(`${parts[1]}.`), `${entry} exports a schema the exclude rule ${rule} applies to`);
    } else {
      assert.ok(selectTable(RULES, parts.slice(1).join('.')).included, `${entry} is not an included table`);
    }
  }
}

test('ExportOnly names only included tables, on the first cycle and from the previous export\'s table list', { timeout: 240_000 }, async () => {
  const shop: SourceConfig = { ...awsSource({ endpoint: moto!.endpoint }), ...RULES, tables: { 'public.orders': { primaryKey: ['id'] } } };
  // A source that names no table and has an exclude rule in its only schema.
  const fresh: SourceConfig = { ...awsSource({ endpoint: moto!.endpoint }), include: ['public.*'], exclude: ['public.*_pii'], tables: {} };
  // A table the rules must list on its own, whose name RDS refuses in ExportOnly.
  const odd: SourceConfig = { ...awsSource({ endpoint: moto!.endpoint }), include: ['public.*'], exclude: ['public.*_pii'], tables: { 'public.order-items': {} } };
  const settings = awsSettings('shop', shop, { glueScriptsDir: scriptsDir! });
  clients = createClients(settings);
  for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET, 'shop-athena']) {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  }
  await clients.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));

  const taskQueue = `lakesync-aws-scope-${Date.now()}`;
  const config: LakesyncConfig = { temporal: { taskQueue, namespace: 'default', address: server!.address }, sources: { shop, fresh, odd } };
  const ports = {
    shop: buildAwsPorts(settings, clients),
    fresh: buildAwsPorts(awsSettings('fresh', fresh, { glueScriptsDir: scriptsDir! }), clients),
    odd: buildAwsPorts(awsSettings('odd', odd, { glueScriptsDir: scriptsDir! }), clients),
  };
  const { worker, close } = await createWorker({ config, ports });
  const connection = await Connection.connect({ address: server!.address });
  const client = new Client({ connection, namespace: 'default' });
  const cycle = (source: string, cycleId: string) =>
    client.workflow.execute<(input: unknown) => Promise<CycleResult>>('cycleWorkflow', {
      workflowId: `scope-test/${source}/${cycleId}`,
      taskQueue,
      args: [{ source, cycleId, kind: 'sync', approveDeletes: false }],
    });
  try {
    await worker.runUntil(async () => {
      // First cycle: no table list is known yet.
      const first = exportIdFor('shop', 'c1');
      // The listing an earlier export (taken before the exclude rules) left: every table of the database.
      await writeListing(first, ['public.orders', 'public.customers', 'public.customer_pii', 'sales.deals', 'sales.salaries', 'crm.contacts']);
      const r1 = await cycle('shop', 'c1');
      assert.equal(r1.export?.exportId, first, JSON.stringify(r1.error));
      const only1 = await exportOnly(first);
      assertOnlyIncluded(only1);
      assert.deepEqual([...only1!].sort(), ['shop.crm', 'shop.public.orders']);
      assert.ok(r1.warnings.some((w) => /sales/.test(w) && /sales\.salaries/.test(w)), `a warning names the schema left out and why: ${JSON.stringify(r1.warnings)}`);

      // Next cycle: the previous export's table list decides, table by table where an exclude rule applies.
      const second = exportIdFor('shop', 'c2');
      await writeListing(second, ['public.orders', 'public.customers', 'sales.deals', 'crm.contacts']);
      const r2 = await cycle('shop', 'c2');
      const only2 = await exportOnly(second);
      assertOnlyIncluded(only2);
      assert.deepEqual([...only2!].sort(), ['shop.crm', 'shop.public.customers', 'shop.public.orders', 'shop.sales.deals']);
      const excluded = r2.tables.filter((t) => t.reason?.startsWith('excluded')).map((t) => t.table).sort();
      assert.deepEqual(excluded, ['public.customer_pii', 'sales.salaries']);

      // A first cycle with nothing it may export is refused before any side effect.
      const refused = await cycle('fresh', 'c1');
      assert.equal(refused.status, 'failed');
      assert.equal(refused.error?.phase, 'export');
      assert.match(refused.error?.message ?? '', /public\.\*_pii/);
      assert.match(refused.error?.message ?? '', /tables:|include/);
      assert.equal(refused.snapshot, undefined);
      const snapshots = await clients!.rds.send(new DescribeDBSnapshotsCommand({}));
      assert.ok(!(snapshots.DBSnapshots ?? []).some((s) => s.DBSnapshotIdentifier?.includes('fresh')), 'no snapshot was taken');
      const tasks = await clients!.rds.send(new DescribeExportTasksCommand({}));
      assert.ok(!(tasks.ExportTasks ?? []).some((t) => t.ExportTaskIdentifier === exportIdFor('fresh', 'c1')), 'no export was started');

      // A scope RDS would refuse as ExportOnly is refused here, before the snapshot RDS would have left behind.
      const oddResult = await cycle('odd', 'c1');
      assert.equal(oddResult.status, 'failed');
      assert.equal(oddResult.error?.phase, 'export');
      assert.match(oddResult.error?.message ?? '', /RDS cannot export public\.order-items on their own: a partial export \(ExportOnly\) takes only names of Latin letters, digits, \$ and _/);
      assert.equal(oddResult.snapshot, undefined);
      const after = await clients!.rds.send(new DescribeDBSnapshotsCommand({}));
      assert.ok(!(after.DBSnapshots ?? []).some((s) => s.DBSnapshotIdentifier?.includes('odd')), 'no snapshot was taken');
    });
  } finally {
    await close();
    await connection.close();
  }
});
