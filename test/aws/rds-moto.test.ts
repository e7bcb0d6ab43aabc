/**
 * The RDS snapshot and export adapters on moto server over HTTP: which snapshots a source may take
 * as its own (two instances share the account), and what StartExportTask is asked to take
 * (ExportOnly), read back with DescribeExportTasks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeExportTasksCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { PortError } from '../../src/errors';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, glueScriptsFixture, REGION } from './fixtures';

const SNAPSHOT = { snapshotId: 'lakesync-shop-1-abc', createdAt: '2025-01-01T00:00:00.000Z', adopted: false };

const instance = (id: string) =>
  new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' });

/** Refused, with the error the port threw. */
const refused = (call: Promise<unknown>, what: string) =>
  call.then(
    (value) => assert.fail(`${what}: ${JSON.stringify(value)}`),
    (e: unknown) => e as PortError,
  );

describe('RDS snapshots and exports on moto', () => {
  let moto: MotoServer;
  let clients: AwsClients;
  let ports: Ports;

  before(async () => {
    useTestCredentials();
    moto = await startMoto();
    const settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: glueScriptsFixture() });
    clients = createClients(settings);
    ports = buildAwsPorts(settings, clients);
    await clients.s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    await clients.rds.send(instance('shop-db'));
    await clients.rds.send(instance('other-db'));
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: SNAPSHOT.snapshotId }));
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: 'shop-before-migration' }));
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'other-db', DBSnapshotIdentifier: 'other-before-migration' }));
  });
  after(async () => {
    if (clients) destroyClients(clients);
    await moto?.stop();
  });

  test('snapshot mode existing takes a snapshot of the configured instance, and refuses one of another instance before exporting it', async () => {
    const own = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: 'shop-before-migration' });
    assert.deepEqual([own.snapshotId, own.adopted], ['shop-before-migration', true]);

    const err = await refused(
      ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: 'other-before-migration' }),
      'the snapshot of other-db was adopted for instance shop-db',
    );
    assert.equal(err.kind, 'validation');
    assert.equal(err.retryable, false);
    assert.match(err.message, /snapshot other-before-migration \(snapshot\.id in lakesync\.yaml\) is a snapshot of other-db, not of instance shop-db: set snapshot\.id to a snapshot of instance shop-db/);
  });

  test('a requested table that is no schema.table is refused before the export: database.<name> would export a whole schema', async () => {
    const err = await refused(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-bare', snapshot: SNAPSHOT, tables: ['public.orders', 'sales'] }), 'the export started');
    assert.equal(err.kind, 'validation');
    assert.match(err.message, /export ls-shop-bare: "sales" is no schema\.table name: as ExportOnly shop\.sales RDS would export the whole schema sales; name each table as schema\.table/);
    const tasks = (await clients.rds.send(new DescribeExportTasksCommand({}))).ExportTasks ?? [];
    assert.deepEqual(tasks.map((t) => t.ExportTaskIdentifier), [], 'no export task was started');

    await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-named', snapshot: SNAPSHOT, tables: ['public.orders'], schemas: ['crm'] });
    const [task] = (await clients.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: 'ls-shop-named' }))).ExportTasks ?? [];
    assert.deepEqual(task?.ExportOnly, ['shop.crm', 'shop.public.orders']);
  });
});
