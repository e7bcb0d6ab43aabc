/**
 * The RDS snapshot adapter on moto server over HTTP: which snapshots a source may take as its own.
 * Two instances share the account; a source configured for one never exports the other's snapshot.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { PortError } from '../../src/errors';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, glueScriptsFixture } from './fixtures';

const instance = (id: string) =>
  new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' });

describe('RDS snapshots on moto', () => {
  let moto: MotoServer;
  let clients: AwsClients;
  let ports: Ports;

  before(async () => {
    useTestCredentials();
    moto = await startMoto();
    const settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: glueScriptsFixture() });
    clients = createClients(settings);
    ports = buildAwsPorts(settings, clients);
    await clients.rds.send(instance('shop-db'));
    await clients.rds.send(instance('other-db'));
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

    const err = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: 'other-before-migration' }).then(
      (ref) => assert.fail(`the snapshot of other-db was adopted for instance shop-db: ${JSON.stringify(ref)}`),
      (e: unknown) => e as PortError,
    );
    assert.equal(err.kind, 'validation');
    assert.equal(err.retryable, false);
    assert.match(err.message, /snapshot other-before-migration \(snapshot\.id in lakesync\.yaml\) is a snapshot of other-db, not of instance shop-db: set snapshot\.id to a snapshot of instance shop-db/);
  });
});
