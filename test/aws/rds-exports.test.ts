/**
 * The RDS export adapter on moto server over HTTP: what StartExportTask is asked to take
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

describe('RDS exports on moto', () => {
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
    await clients.rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }),
    );
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: SNAPSHOT.snapshotId }));
  });
  after(async () => {
    if (clients) destroyClients(clients);
    await moto?.stop();
  });

  test('a requested table that is no schema.table is refused before the export: database.<name> would export a whole schema', async () => {
    const err = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-bare', snapshot: SNAPSHOT, tables: ['public.orders', 'sales'] }).then(
      () => assert.fail('the export started'),
      (e: unknown) => e as PortError,
    );
    assert.equal(err.kind, 'validation');
    assert.match(err.message, /export ls-shop-bare: "sales" is no schema\.table name: as ExportOnly shop\.sales RDS would export the whole schema sales; name each table as schema\.table/);
    const tasks = (await clients.rds.send(new DescribeExportTasksCommand({}))).ExportTasks ?? [];
    assert.deepEqual(tasks.map((t) => t.ExportTaskIdentifier), [], 'no export task was started');

    await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-named', snapshot: SNAPSHOT, tables: ['public.orders'], schemas: ['crm'] });
    const [task] = (await clients.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: 'ls-shop-named' }))).ExportTasks ?? [];
    assert.deepEqual(task?.ExportOnly, ['shop.crm', 'shop.public.orders']);
  });
});
