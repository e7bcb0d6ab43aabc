/**
 * A DynamoDB source's catalog (src/aws/dynamodb-catalog.ts) and its AWS ports
 * (src/aws/dynamodb-ports.ts, src/backends/aws.ts) on moto server over HTTP: ListTables,
 * DescribeTable and DescribeContinuousBackups are all moto's, nothing is mocked.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { CreateTableCommand, type CreateTableCommandInput, DescribeContinuousBackupsCommand, DescribeExportCommand, DescribeTableCommand, DynamoDBClient, ListExportsCommand, PutItemCommand, UpdateContinuousBackupsCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { clientConfig } from '../../src/aws/clients';
import { DynamoCatalog } from '../../src/aws/dynamodb-catalog';
import { DynamoExportRetention } from '../../src/aws/dynamodb-export-retention';
import { S3Manifests } from '../../src/aws/manifests';
import { S3Objects } from '../../src/aws/s3';
import { awsDynamoSettings, awsSettings, createAwsSourcePorts } from '../../src/backends/aws';
import { sourceSchema, type SourceConfig } from '../../src/config/schema';
import { ConfigError, PortError } from '../../src/errors';
import { expiredTableExports, retentionActivities, TABLE_EXPORTS_DELETED_PER_RUN } from '../../src/activities/retention';
import { tableExportIdFor } from '../../src/ids';
import { MOTO_ACCOUNT_ID, type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { portError } from './mocks';

const REGION = 'us-east-2';
const arn = (name: string) => `arn:aws:dynamodb:${REGION}:${MOTO_ACCOUNT_ID}:table/${name}`;

let moto: MotoServer;
let ddb: DynamoDBClient;

before(async () => {
  useTestCredentials();
  moto = await startMoto();
  ddb = new DynamoDBClient(clientConfig({ region: REGION, endpoint: moto.endpoint }));
});

after(async () => {
  ddb?.destroy();
  await moto?.stop();
});

const table = (name: string, key: { name: string; type: 'S' | 'N' | 'B'; kind: 'HASH' | 'RANGE' }[]): CreateTableCommandInput => ({
  TableName: name,
  // The sort key first: the catalog must still give the partition key first.
  KeySchema: [...key].reverse().map((k) => ({ AttributeName: k.name, KeyType: k.kind })),
  AttributeDefinitions: key.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
  BillingMode: 'PAY_PER_REQUEST',
});

beforeEach(async () => {
  await moto.reset();
  await ddb.send(new CreateTableCommand(table('Orders', [{ name: 'customer', type: 'S', kind: 'HASH' }, { name: 'placed', type: 'N', kind: 'RANGE' }])));
  await ddb.send(new CreateTableCommand(table('Blobs', [{ name: 'digest', type: 'B', kind: 'HASH' }])));
  await ddb.send(new CreateTableCommand(table('legacy.events', [{ name: 'id', type: 'S', kind: 'HASH' }])));
  await ddb.send(new UpdateContinuousBackupsCommand({ TableName: 'Orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
  await ddb.send(new PutItemCommand({ TableName: 'Orders', Item: { customer: { S: 'c1' }, placed: { N: '1' } } }));
});

test('listTables: every table ListTables returns as dynamodb.<Name>; a name with "." is left out with a warning', async () => {
  const warnings: string[] = [];
  const catalog = new DynamoCatalog(ddb, { database: 'shop', warn: (m) => warnings.push(m) });
  assert.deepEqual((await catalog.listTables()).sort(), ['dynamodb.Blobs', 'dynamodb.Orders']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /DynamoDB table "legacy\.events" has a "\." in its name.*\(table left out\)/);
});

test('listTables with source.tables: the listed tables (ARNs mapped to their names), as listed, even one DynamoDB lacks', async () => {
  const catalog = new DynamoCatalog(ddb, { database: 'shop', tables: ['Orders', arn('Blobs'), 'NotThere'] });
  assert.deepEqual(await catalog.listTables(), ['dynamodb.Orders', 'dynamodb.Blobs', 'dynamodb.NotThere']);
});

test('sourceTables: ARN, key (partition key first, with types), item count and PITR; a missing table is left out', async () => {
  const catalog = new DynamoCatalog(ddb, { database: 'shop' });
  const [orders, blobs, ...rest] = await catalog.sourceTables(['dynamodb.Orders', 'dynamodb.Blobs', 'dynamodb.Missing']);
  assert.equal(rest.length, 0);
  assert.equal(orders!.table, 'dynamodb.Orders');
  assert.equal(orders!.target, 'shop.dynamodb.Orders');
  assert.deepEqual(orders!.primaryKey, ['customer', 'placed']);
  assert.deepEqual(orders!.columns, [
    { columnName: 'customer', originalType: 'S', expectedExportedType: 'string' },
    { columnName: 'placed', originalType: 'N', expectedExportedType: 'decimal(38,0)' },
  ]);
  const info = orders!.dynamodb!;
  assert.equal(info.tableArn, arn('Orders'));
  assert.deepEqual(info.key, [
    { name: 'customer', type: 'S' },
    { name: 'placed', type: 'N' },
  ]);
  assert.equal(info.itemCount, 1);
  assert.equal(info.pitr.enabled, true);
  assert.match(info.pitr.earliestRestorable ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(info.pitr.earliestRestorable!) - Date.now()) < 120_000);
  assert.deepEqual(blobs!.dynamodb!.pitr, { enabled: false });
  assert.deepEqual(blobs!.columns, [{ columnName: 'digest', originalType: 'B', expectedExportedType: 'binary' }]);
});

test("sourceTables refuses a table source.tables names by an ARN that is not the described table's (another account), that table alone: it would read another table", async () => {
  const other = `arn:aws:dynamodb:${REGION}:999999999999:table/Orders`;
  const catalog = new DynamoCatalog(ddb, { database: 'shop', tables: [other, 'Blobs'] });
  const [orders, blobs] = await catalog.sourceTables(['dynamodb.Orders', 'dynamodb.Blobs']);
  assert.equal(orders?.dynamodb, undefined, 'the refused table is not described');
  assert.equal(orders?.notDescribed?.type, 'TableArnMismatch');
  assert.match(orders?.notDescribed?.message ?? '', new RegExp(`source.tables names ${other}, but DynamoDB describes table Orders as ${arn('Orders')}`));
  assert.match(orders?.notDescribed?.message ?? '', /lakesync reads the tables of the account its credentials belong to: list the table by name or by its own ARN/);
  assert.equal(blobs?.dynamodb?.tableArn, arn('Blobs'), 'the other table is described');
  // The table's own ARN is accepted.
  const own = new DynamoCatalog(ddb, { database: 'shop', tables: [arn('Orders')] });
  assert.deepEqual((await own.sourceTables(['dynamodb.Orders'])).map((t) => t.dynamodb?.tableArn), [arn('Orders')]);
});

test("a refusal to describe one table (no permission on it) is that table's: the others are described; a throttled describe retries the whole step", async () => {
  const mocked = new DynamoDBClient(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const mock = mockClient(mocked);
  try {
    const described = (name: string) => ({ Table: { TableName: name, TableArn: arn(name), KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' as const }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }] } });
    mock.on(DescribeTableCommand, { TableName: 'Orders' }).resolves(described('Orders'));
    mock.on(DescribeTableCommand, { TableName: 'Secret' }).resolves(described('Secret'));
    mock.on(DescribeContinuousBackupsCommand, { TableName: 'Orders' }).resolves({ ContinuousBackupsDescription: { ContinuousBackupsStatus: 'ENABLED', PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED' } } });
    mock.on(DescribeContinuousBackupsCommand, { TableName: 'Secret' }).rejects(Object.assign(new Error(`User is not authorized to perform: dynamodb:DescribeContinuousBackups on resource: ${arn('Secret')}`), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const catalog = new DynamoCatalog(mocked, { database: 'shop' });
    const [secret, orders] = await catalog.sourceTables(['dynamodb.Secret', 'dynamodb.Orders']);
    assert.deepEqual([secret?.table, secret?.dynamodb, secret?.notDescribed?.type], ['dynamodb.Secret', undefined, 'AccessDeniedException']);
    assert.match(secret!.notDescribed!.message, /DynamoDB DescribeContinuousBackups for table Secret failed with AccessDeniedException: .*dynamodb:DescribeContinuousBackups/);
    assert.equal(orders?.dynamodb?.pitr.enabled, true);

    mock.on(DescribeContinuousBackupsCommand, { TableName: 'Secret' }).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    const throttled = await portError(catalog.sourceTables(['dynamodb.Secret', 'dynamodb.Orders']));
    assert.equal(throttled.retryable, true);
  } finally {
    mock.restore();
    mocked.destroy();
  }
});

test('sourceTables refuses a name that is not dynamodb.<Name>', async () => {
  const err = await portError(new DynamoCatalog(ddb, { database: 'shop' }).sourceTables(['public.orders']));
  assert.equal(err.code, 'InvalidTableName');
  assert.match(err.message, /"public\.orders" is not a DynamoDB table: tables of a dynamodb source are named dynamodb\.<TableName>/);
});

function dynamoSource(extra: Record<string, unknown> = {}): SourceConfig {
  return sourceSchema.parse({
    backend: 'aws',
    database: 'dynamodb',
    source: { kind: 'dynamodb', region: REGION, export: { bucket: 'shop-ddb-exports', prefix: '/lakesync/dynamodb/' }, ...extra },
    include: ['dynamodb.*'],
    target: { namespace: 'shop' },
    aws: {
      region: REGION,
      endpoint: moto.endpoint,
      accountId: MOTO_ACCOUNT_ID,
      tableBucket: { name: 'shop-lake', create: true },
      glue: { roleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lakesync-glue`, scriptBucket: 'shop-glue' },
      athena: { outputLocation: 's3://shop-athena/results/' },
    },
  });
}

test('the AWS ports of a dynamodb source: catalog and DynamoDB exports; the RDS snapshot and export ports refuse', async () => {
  const ports = await createAwsSourcePorts('shop-ddb', dynamoSource({ tables: ['Orders'] }));
  try {
    assert.deepEqual(ports.tableExport?.windowLimits, { minSeconds: 900, maxSeconds: 86400 });
    assert.deepEqual(await ports.discover.listTables?.(), ['dynamodb.Orders']);
    const [orders] = (await ports.discover.sourceTables?.(['dynamodb.Orders'])) ?? [];
    assert.equal(orders?.dynamodb?.tableArn, arn('Orders'));
    for (const call of [() => ports.snapshot.startSnapshot({ source: 'shop-ddb', snapshotId: 's', mode: 'create' }), () => ports.export.describeExport('e'), () => ports.discover.exportRowCount({ exportId: 'e', location: 's3://b/e', snapshotId: 's', adopted: false }, 't')]) {
      const err = await portError(call());
      assert.equal(err.code, 'NotForDynamoDB');
      assert.match(err.message, /source shop-ddb reads DynamoDB with point-in-time exports/);
    }
    assert.deepEqual(await ports.retention.listExports(() => true), []);
  } finally {
    await ports.close?.();
  }
});

test("a dynamodb source's retention deletes an older cycle's manifests and Glue load files, never the source's own documents", async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const ports = await createAwsSourcePorts('shop-ddb', dynamoSource({ tables: ['Orders'] }));
  const [old, kept] = ['1-0g8zvhhi9rtt3', '2-0g8zvhhi9rtt3'];
  const manifests = 'lakesync/dynamodb/lakesync-manifests/shop-ddb';
  const results = 'lakesync/results/shop-ddb';
  try {
    for (const bucket of ['shop-ddb-exports', 'shop-glue']) await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    const keys = [
      ['shop-ddb-exports', `${manifests}/${old}/plan.json`],
      ['shop-ddb-exports', `${manifests}/${kept}/plan.json`],
      ['shop-ddb-exports', `${manifests}/source-tables.json`],
      ['shop-ddb-exports', `lakesync/dynamodb/shop-ddb/lse-0123456789abcdef/manifest-summary.json`],
      ['shop-glue', `${results}/${old}/dynamodb.Orders.json`],
      ['shop-glue', `${results}/${kept}/dynamodb.Orders.json`],
    ] as const;
    for (const [bucket, key] of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{}' }));
    assert.deepEqual((await ports.retention.listCycleFiles!(() => true)).map((c) => c.id).sort(), [old, kept]);
    assert.deepEqual(await ports.retention.deleteCycleFiles!(old), { deleted: true });
    const left = async (bucket: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
    assert.deepEqual(await left('shop-ddb-exports'), [`${manifests}/${kept}/plan.json`, `${manifests}/source-tables.json`, 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef/manifest-summary.json'].sort());
    assert.deepEqual(await left('shop-glue'), [`${results}/${kept}/dynamodb.Orders.json`]);
  } finally {
    s3.destroy();
    await ports.close?.();
  }
});

test("a dynamodb source's retention deletes the export files of older cycles, keeping the newest, the watermark's, a running one and other folders", async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const ports = await createAwsSourcePorts('shop-ddb', dynamoSource({ tables: ['Orders'] }));
  const bucket = 'shop-ddb-exports';
  const root = 'lakesync/dynamodb/shop-ddb';
  const keysUnder = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    const cycles = ['1-0g8zvhhi9rtt3', '2-0g8zvhhi9rtt4', '3-0g8zvhhi9rtt5', '4-0g8zvhhi9rtt6'];
    const ids: string[] = [];
    for (const [n, cycleId] of cycles.entries()) {
      const exportId = tableExportIdFor('shop-ddb', cycleId, 'dynamodb.Orders', 0);
      ids.push(exportId);
      const to = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
      const ref = await ports.tableExport!.startTableExport({ source: 'shop-ddb', table: 'dynamodb.Orders', tableArn: arn('Orders'), exportId, window: { type: 'FULL', to } });
      for (let i = 0; i < 50 && (await ports.tableExport!.describeTableExport(ref)).state === 'in_progress'; i++) await new Promise((r) => setTimeout(r, 100));
      // moto writes the data files only; DynamoDB adds the manifests beside them once the export completes.
      const [data] = await keysUnder(`${root}/${exportId}/AWSDynamoDB/`);
      const folder = data!.replace(/\/data\/[^/]+$/, '');
      const startTime = `2026-01-0${n + 1}T00:00:00.000Z`;
      const summary = { version: '2020-06-30', exportArn: `${arn('Orders')}/export/0170${n}-abc`, startTime, endTime: startTime, tableArn: arn('Orders'), exportTime: startTime, s3Bucket: bucket, s3Prefix: `${root}/${exportId}`, manifestFilesS3Key: `${folder}/manifest-files.json`, itemCount: 1, outputFormat: 'DYNAMODB_JSON', exportType: 'FULL_EXPORT' };
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}/manifest-files.json`, Body: '{}' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}/manifest-summary.json`, Body: JSON.stringify(summary) }));
    }
    // An export still running (no manifest yet) and a folder that is not an export of lakesync's.
    const running = tableExportIdFor('shop-ddb', '5-0g8zvhhi9rtt7', 'dynamodb.Orders', 0);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${running}/AWSDynamoDB/01705-abc/_started`, Body: '' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/other/AWSDynamoDB/01705-abc/manifest-summary.json`, Body: '{}' }));

    const retention = ports.retention;
    assert.ok(retention.listTableExports && retention.deleteTableExport, 'a dynamodb source on AWS lists and deletes its table exports');
    const listed = await retention.listTableExports();
    assert.deepEqual(listed.map((e) => e.id).sort(), [...ids].sort());
    assert.ok(listed.every((e) => e.table === 'dynamodb.Orders'));
    // Cycle 4 is current; cycle 2's export is the watermark's.
    const expired = expiredTableExports({ source: 'shop-ddb', cycleId: cycles[3]!, keep: { snapshotIds: [], exportIds: [ids[1]!] } }, listed, 1);
    assert.deepEqual(expired.map((e) => e.id), [ids[0], ids[2]]);
    for (const e of expired) assert.deepEqual(await retention.deleteTableExport(e.id), { deleted: true });
    const left = await keysUnder(`${root}/`);
    const folders = [...new Set(left.map((k) => k.slice(root.length + 1).split('/')[0]))].sort();
    assert.deepEqual(folders, [ids[1], ids[3], running, 'other'].sort());
    // Deleted again (already gone) is done; a running one and an id of another shape are put off.
    assert.deepEqual(await retention.deleteTableExport(ids[0]!), { deleted: true });
    assert.equal((await retention.deleteTableExport(running)).deleted, false);
    assert.equal((await retention.deleteTableExport('../other')).deleted, false);
    assert.equal((await keysUnder(`${root}/${running}/`)).length, 1);
  } finally {
    s3.destroy();
    await ports.close?.();
  }
});

test(`a backlog of DynamoDB exports goes ${TABLE_EXPORTS_DELETED_PER_RUN} a run, oldest first, so that one retention run stays short`, async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const ports = await createAwsSourcePorts('shop-ddb', dynamoSource({ tables: ['Orders'] }));
  const bucket = 'shop-ddb-exports';
  const root = 'lakesync/dynamodb/shop-ddb';
  try {
    for (const b of [bucket, 'shop-glue']) await s3.send(new CreateBucketCommand({ Bucket: b, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    const total = TABLE_EXPORTS_DELETED_PER_RUN + 10;
    const ids: string[] = [];
    for (let n = 0; n < total; n++) {
      const exportId = tableExportIdFor('shop-ddb', `${n + 1}-0g8zvhhi9rtt3`, 'dynamodb.Orders', 0);
      ids.push(exportId);
      const startTime = new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString();
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${exportId}/AWSDynamoDB/0170-${n}/manifest-summary.json`, Body: JSON.stringify({ tableArn: arn('Orders'), startTime }) }));
    }
    const config = { temporal: { taskQueue: 'q', namespace: 'default' }, sources: { 'shop-ddb': dynamoSource({ tables: ['Orders'] }) } };
    const apply = retentionActivities({ config, portsFor: () => ports } as unknown as Parameters<typeof retentionActivities>[0]).applyRetention;
    const outcome = await apply({ source: 'shop-ddb', cycleId: `${total}-0g8zvhhi9rtt3`, keep: { snapshotIds: [], exportIds: [] } });
    assert.deepEqual(outcome.failed, []);
    assert.deepEqual(outcome.deleted.exports, ids.slice(0, TABLE_EXPORTS_DELETED_PER_RUN));
    const next = await apply({ source: 'shop-ddb', cycleId: `${total}-0g8zvhhi9rtt3`, keep: { snapshotIds: [], exportIds: [] } });
    assert.deepEqual(next.deleted.exports, ids.slice(TABLE_EXPORTS_DELETED_PER_RUN, total - 3));
  } finally {
    s3.destroy();
    await ports.close?.();
  }
});

test("a DynamoDB export listing refused (a worker policy without the summaries' s3:GetObject) is reported, and older cycles' working files still go", async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const ports = await createAwsSourcePorts('shop-ddb', dynamoSource({ tables: ['Orders'] }));
  const [old, current] = ['1-0g8zvhhi9rtt3', '5-0g8zvhhi9rtt3'];
  const manifests = 'lakesync/dynamodb/lakesync-manifests/shop-ddb';
  try {
    for (const b of ['shop-ddb-exports', 'shop-glue']) await s3.send(new CreateBucketCommand({ Bucket: b, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    for (const cycle of [old, '2-0g8zvhhi9rtt3', '3-0g8zvhhi9rtt3', '4-0g8zvhhi9rtt3', current]) await s3.send(new PutObjectCommand({ Bucket: 'shop-ddb-exports', Key: `${manifests}/${cycle}/plan.json`, Body: '{}' }));
    const refused = new PortError('access-denied', 'AccessDenied', 'S3 GetObject for the manifest summary of DynamoDB export lse-0123456789abcdef failed with AccessDenied');
    const denied = { ...ports, retention: { ...ports.retention, listTableExports: async () => Promise.reject(refused) } };
    const config = { temporal: { taskQueue: 'q', namespace: 'default' }, sources: { 'shop-ddb': dynamoSource({ tables: ['Orders'] }) } };
    const apply = retentionActivities({ config, portsFor: () => denied } as unknown as Parameters<typeof retentionActivities>[0]).applyRetention;
    const outcome = await apply({ source: 'shop-ddb', cycleId: current, keep: { snapshotIds: [], exportIds: [] } });
    assert.deepEqual(outcome.deleted.cycles, [old, '2-0g8zvhhi9rtt3']);
    assert.equal(outcome.failed.length, 1);
    assert.match(outcome.failed[0]!, /DynamoDB exports of source shop-ddb.*AccessDenied/);
  } finally {
    s3.destroy();
    await ports.close?.();
  }
});

test("DynamoDB export retention: a lookup of FAILED exports refused (a worker policy without dynamodb:ListExports) is a warning naming the permission; the completed exports still go", async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  // Every DynamoDB client of the ports: ListExports is refused as AWS refuses it.
  const mock = mockClient(DynamoDBClient);
  const ports = await createAwsSourcePorts('shop-ddb', dynamoSource({ tables: ['Orders'] }));
  const bucket = 'shop-ddb-exports';
  const root = 'lakesync/dynamodb/shop-ddb';
  const keysUnder = async (p: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }))).Contents ?? []).map((o) => o.Key!);
  try {
    for (const b of [bucket, 'shop-glue']) await s3.send(new CreateBucketCommand({ Bucket: b, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      const exportId = tableExportIdFor('shop-ddb', `${n + 1}-0g8zvhhi9rtt3`, 'dynamodb.Orders', 0);
      ids.push(exportId);
      const startTime = new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString();
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${exportId}/AWSDynamoDB/0170-${n}/manifest-summary.json`, Body: JSON.stringify({ tableArn: arn('Orders'), startTime }) }));
    }
    // What a FAILED export leaves: `_started` and some data files, no manifests.
    const failed = tableExportIdFor('shop-ddb', '5-0g8zvhhi9rtt3', 'dynamodb.Orders', 0);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${failed}/AWSDynamoDB/0175-failed/_started`, Body: '' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${failed}/AWSDynamoDB/0175-failed/data/b.json.gz`, Body: 'x' }));
    const denied = Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/lakesync-worker is not authorized to perform: dynamodb:ListExports'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    mock.on(ListExportsCommand).rejects(denied);
    const config = { temporal: { taskQueue: 'q', namespace: 'default' }, sources: { 'shop-ddb': dynamoSource({ tables: ['Orders'] }) } };
    const apply = retentionActivities({ config, portsFor: () => ports } as unknown as Parameters<typeof retentionActivities>[0]).applyRetention;
    const outcome = await apply({ source: 'shop-ddb', cycleId: '6-0g8zvhhi9rtt3', keep: { snapshotIds: [], exportIds: [] } });
    assert.ok(mock.commandCalls(ListExportsCommand).length > 0, 'DynamoDB was asked about the folder without a summary');
    assert.deepEqual(outcome.deleted.exports, [ids[0]], 'the completed exports past the newest 3 still go');
    assert.equal((await keysUnder(`${root}/${failed}/`)).length, 2, 'the folder is left: DynamoDB did not tell it failed');
    assert.equal(outcome.failed.length, 1, `one warning: ${JSON.stringify(outcome.failed)}`);
    assert.match(outcome.failed[0]!, /dynamodb:ListExports/);
    assert.match(outcome.failed[0]!, new RegExp(`s3://${bucket}/${root}/`));
    assert.match(outcome.failed[0]!, /worker's policy/);
    // Asked again by the next run (the refusal is not taken for an answer), and warned again until the policy is fixed.
    const again = await apply({ source: 'shop-ddb', cycleId: '6-0g8zvhhi9rtt3', keep: { snapshotIds: [], exportIds: [] } });
    assert.equal(again.failed.length, 1);
    assert.match(again.failed[0]!, /dynamodb:ListExports/);
  } finally {
    mock.restore();
    s3.destroy();
    await ports.close?.();
  }
});

test('settings: a dynamodb source resolves with awsDynamoSettings (prefix trimmed), never as an RDS source', () => {
  const source = dynamoSource();
  const settings = awsDynamoSettings('shop-ddb', source);
  assert.deepEqual(settings.dynamodb, { region: REGION, export: { bucket: 'shop-ddb-exports', prefix: 'lakesync/dynamodb' } });
  assert.equal(settings.tableBucket.name, 'shop-lake');
  assert.throws(() => awsSettings('shop-ddb', source), (err: unknown) => err instanceof ConfigError && /awsDynamoSettings/.test(err.message));
});

test("DynamoDB export retention reads each export's manifest summary once: later runs take its table and start time from what the first kept", async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const bucket = 'shop-ddb-exports';
  const root = 'lakesync/dynamodb/shop-ddb';
  let summaryReads = 0;
  const running = tableExportIdFor('shop-ddb', '9-0g8zvhhi9rtt3', 'dynamodb.Orders', 0);
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? '';
      // The running export's (missing) summary is looked for every run: it may have completed since.
      if (context.commandName === 'GetObjectCommand' && key.endsWith('/manifest-summary.json') && !key.includes(running)) summaryReads++;
      return next(args);
    },
    { step: 'initialize' },
  );
  const objects = new S3Objects(s3);
  const settings = { source: 'shop-ddb', bucket, prefix: 'lakesync/dynamodb' };
  const retention = () => new DynamoExportRetention(s3, objects, settings, new S3Manifests(objects, bucket, settings.prefix, settings.source));
  const summaryOf = (exportId: string, n: number) => ({ Bucket: bucket, Key: `${root}/${exportId}/AWSDynamoDB/0170-${n}/manifest-summary.json`, Body: JSON.stringify({ tableArn: arn('Orders'), startTime: new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString() }) });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    const ids = [1, 2, 3].map((n) => tableExportIdFor('shop-ddb', `${n}-0g8zvhhi9rtt3`, 'dynamodb.Orders', 0));
    for (const [n, id] of ids.entries()) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${id}/AWSDynamoDB/data/part-${n}.json.gz`, Body: 'x' }));
      await s3.send(new PutObjectCommand(summaryOf(id, n)));
    }
    // An export still running: no summary, never listed.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/${running}/AWSDynamoDB/0170-9/_started`, Body: '' }));

    const first = await retention().listTableExports();
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    assert.deepEqual(first.map((e) => ({ id: e.id, table: e.table, createdAt: e.createdAt })).sort(byId), ids.map((id, n) => ({ id, table: 'dynamodb.Orders', createdAt: new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString() })).sort(byId));
    assert.equal(summaryReads, 3);

    // A later run (another worker, too) reads only the summaries it has not seen: none.
    summaryReads = 0;
    assert.deepEqual(await retention().listTableExports(), first);
    assert.equal(summaryReads, 0, 'no summary is read again');

    // A new export's summary is read; a deleted one is no longer listed; the running one still is not.
    const fourth = tableExportIdFor('shop-ddb', '4-0g8zvhhi9rtt3', 'dynamodb.Orders', 0);
    await s3.send(new PutObjectCommand(summaryOf(fourth, 3)));
    assert.deepEqual(await retention().deleteTableExport(ids[0]!), { deleted: true });
    summaryReads = 0;
    const later = await retention().listTableExports();
    assert.deepEqual(later.map((e) => e.id).sort(), [ids[1], ids[2], fourth].sort());
    assert.equal(summaryReads, 1);
    // The summary is still required to delete, and deleted last.
    summaryReads = 0;
    assert.deepEqual(await retention().deleteTableExport(ids[1]!), { deleted: true });
    assert.deepEqual((await retention().listTableExports()).map((e) => e.id).sort(), [ids[2], fourth].sort());
    assert.equal(summaryReads, 0);
  } finally {
    s3.destroy();
  }
});

test('DynamoDB export retention: a folder holding a FAILED export and one still running (two exports to one prefix) is never deleted as failed', async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const ddbMock = new DynamoDBClient({ region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(ddbMock);
  const bucket = 'shop-ddb-exports-twice';
  const prefix = 'lakesync/dynamodb';
  const objects = new S3Objects(s3);
  const settings = { source: 'shop-ddb', bucket, prefix };
  const retention = new DynamoExportRetention(s3, objects, settings, new S3Manifests(objects, bucket, prefix, settings.source), ddbMock);
  const shared = tableExportIdFor('shop-ddb', '2-0g8zvhhi9rtt3', 'dynamodb.Orders', 0);
  const exportArn = (ddbId: string) => `${arn('Orders')}/export/${ddbId}`;
  const put = (Key: string, Body = 'x') => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    // The export failed; a later start with the same id (its ClientToken expired) writes to the same folder and is still running.
    await put(`${prefix}/shop-ddb/${shared}/AWSDynamoDB/0170-failed/_started`, '');
    await put(`${prefix}/shop-ddb/${shared}/AWSDynamoDB/0170-failed/data/b.json.gz`);
    await put(`${prefix}/shop-ddb/${shared}/AWSDynamoDB/0171-running/_started`, '');
    await put(`${prefix}/shop-ddb/${shared}/AWSDynamoDB/0171-running/data/c.json.gz`);
    mock.on(ListExportsCommand).resolves({ ExportSummaries: [{ ExportArn: exportArn('0170-failed'), ExportStatus: 'FAILED' }, { ExportArn: exportArn('0171-running'), ExportStatus: 'IN_PROGRESS' }] });
    const description = (ddbId: string, status: string) => ({
      ExportDescription: { ExportArn: exportArn(ddbId), ExportStatus: status, ClientToken: shared, TableArn: arn('Orders'), StartTime: new Date('2026-01-02T00:00:00Z'), S3Bucket: bucket, S3Prefix: `${prefix}/shop-ddb/${shared}` },
    });
    mock.on(DescribeExportCommand, { ExportArn: exportArn('0170-failed') }).resolves(description('0170-failed', 'FAILED') as never);
    mock.on(DescribeExportCommand, { ExportArn: exportArn('0171-running') }).resolves(description('0171-running', 'IN_PROGRESS') as never);
    assert.deepEqual(await retention.listTableExports(), [], 'the folder holds a running export: it is not a failed one');
    assert.equal((await retention.deleteTableExport(shared)).deleted, false);
    assert.equal(((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/shop-ddb/${shared}/` }))).Contents ?? []).length, 4);
  } finally {
    mock.restore();
    ddbMock.destroy();
    s3.destroy();
  }
});

test('DynamoDB export retention: a FAILED export (no manifest summary, partial data files) is listed from DynamoDB and its folder deleted; one IN_PROGRESS and another source\'s are left alone', async () => {
  const s3 = new S3Client(clientConfig({ region: REGION, endpoint: moto.endpoint }));
  const ddbMock = new DynamoDBClient({ region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(ddbMock);
  const bucket = 'shop-ddb-exports';
  const prefix = 'lakesync/dynamodb';
  const objects = new S3Objects(s3);
  const settings = { source: 'shop-ddb', bucket, prefix };
  let now = new Date('2026-01-03T00:00:00Z');
  const retention = () => new DynamoExportRetention(s3, objects, settings, new S3Manifests(objects, bucket, prefix, settings.source), ddbMock, () => now);
  const id = (cycle: number, source = 'shop-ddb') => tableExportIdFor(source, `${cycle}-0g8zvhhi9rtt3`, 'dynamodb.Orders', 0);
  const [done, failed, running] = [id(1), id(2), id(3)];
  const other = id(2, 'shop-ddb2');
  const exportArn = (ddbId: string) => `${arn('Orders')}/export/${ddbId}`;
  const put = (Key: string, Body = 'x') => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
  const keysUnder = async (p: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }))).Contents ?? []).map((o) => o.Key!);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } })).catch(() => undefined);
    await put(`${prefix}/shop-ddb/${done}/AWSDynamoDB/0170-done/manifest-summary.json`, JSON.stringify({ tableArn: arn('Orders'), startTime: '2026-01-01T00:00:00.000Z' }));
    await put(`${prefix}/shop-ddb/${done}/AWSDynamoDB/0170-done/data/a.json.gz`);
    // What a FAILED export leaves: `_started` and some data files, no manifests.
    await put(`${prefix}/shop-ddb/${failed}/AWSDynamoDB/0170-failed/_started`, '');
    await put(`${prefix}/shop-ddb/${failed}/AWSDynamoDB/0170-failed/data/b.json.gz`);
    await put(`${prefix}/shop-ddb/${running}/AWSDynamoDB/0170-running/_started`, '');
    await put(`${prefix}/shop-ddb/${running}/AWSDynamoDB/0170-running/data/c.json.gz`);
    // Another source sharing the bucket and prefix, whose name starts with this one's: its FAILED export is its own.
    await put(`${prefix}/shop-ddb2/${other}/AWSDynamoDB/0170-other/_started`, '');
    await put(`${prefix}/shop-ddb2/${other}/AWSDynamoDB/0170-other/data/d.json.gz`);

    // Two pages: nothing on the second is missed.
    mock.on(ListExportsCommand).callsFake((input: { NextToken?: string }) =>
      input.NextToken
        ? { ExportSummaries: [{ ExportArn: exportArn('0170-failed'), ExportStatus: 'FAILED' }, { ExportArn: exportArn('0170-other'), ExportStatus: 'FAILED' }] }
        : { ExportSummaries: [{ ExportArn: exportArn('0170-running'), ExportStatus: 'IN_PROGRESS' }, { ExportArn: exportArn('0170-done'), ExportStatus: 'COMPLETED' }], NextToken: 'page-2' },
    );
    const description = (ddbId: string, token: string, status: string) => ({
      ExportDescription: { ExportArn: exportArn(ddbId), ExportStatus: status, ClientToken: token, TableArn: arn('Orders'), StartTime: new Date('2026-01-02T00:00:00Z'), S3Bucket: bucket, S3Prefix: `${prefix}/shop-ddb/${token}` },
    });
    mock.on(DescribeExportCommand, { ExportArn: exportArn('0170-failed') }).resolves(description('0170-failed', failed, 'FAILED') as never);
    mock.on(DescribeExportCommand, { ExportArn: exportArn('0170-running') }).resolves(description('0170-running', running, 'IN_PROGRESS') as never);
    mock.on(DescribeExportCommand, { ExportArn: exportArn('0170-other') }).resolves({ ExportDescription: { ...description('0170-other', other, 'FAILED').ExportDescription, S3Prefix: `${prefix}/shop-ddb2/${other}` } } as never);

    const listed = await retention().listTableExports();
    assert.deepEqual(listed.map((e) => e.id).sort(), [done, failed].sort(), 'the FAILED export is listed, the running one is not');
    assert.deepEqual(listed.find((e) => e.id === failed), { id: failed, table: 'dynamodb.Orders', createdAt: '2026-01-02T00:00:00.000Z', failed: true });
    // It takes none of the table's newest N (here 1): the completed one stays, the failed one goes.
    assert.deepEqual(expiredTableExports({ source: 'shop-ddb', cycleId: '4-0g8zvhhi9rtt3', keep: { snapshotIds: [], exportIds: [] } }, listed, 1).map((e) => e.id), [failed]);

    // A later run takes it from the index, and deletes its folder although it has no summary.
    const later = retention();
    assert.deepEqual((await later.listTableExports()).map((e) => e.id).sort(), [done, failed].sort());
    assert.deepEqual(await later.deleteTableExport(failed), { deleted: true });
    assert.deepEqual(await keysUnder(`${prefix}/shop-ddb/${failed}/`), []);
    // The running one is put off; the other source's files are all there.
    assert.equal((await later.deleteTableExport(running)).deleted, false);
    assert.equal((await keysUnder(`${prefix}/shop-ddb/${running}/`)).length, 2);
    assert.equal((await keysUnder(`${prefix}/shop-ddb2/`)).length, 2);
    assert.deepEqual((await retention().listTableExports()).map((e) => e.id), [done]);
    // The running one was asked about: DynamoDB is not asked again (ListExports lists the account's every export) until a new folder without a summary comes.
    const listings = mock.commandCalls(ListExportsCommand).length;
    assert.deepEqual((await retention().listTableExports()).map((e) => e.id), [done]);
    assert.equal(mock.commandCalls(ListExportsCommand).length, listings, 'no new folder: DynamoDB is not asked');
    // A day later it is asked again: the export running then may have failed since.
    now = new Date(now.getTime() + 25 * 3_600_000);
    mock.on(DescribeExportCommand, { ExportArn: exportArn('0170-running') }).resolves(description('0170-running', running, 'FAILED') as never);
    mock.on(ListExportsCommand).resolves({ ExportSummaries: [{ ExportArn: exportArn('0170-running'), ExportStatus: 'FAILED' }] });
    assert.deepEqual((await retention().listTableExports()).map((e) => e.id).sort(), [done, running].sort());
    assert.equal(mock.commandCalls(ListExportsCommand).length, listings + 1);
    assert.deepEqual((await retention().listTableExports()).map((e) => e.id).sort(), [done, running].sort());
    assert.equal(mock.commandCalls(ListExportsCommand).length, listings + 1, 'nothing left to ask about');
    const newer = id(5);
    await put(`${prefix}/shop-ddb/${newer}/AWSDynamoDB/0170-newer/_started`, '');
    await retention().listTableExports();
    assert.ok(mock.commandCalls(ListExportsCommand).length > listings, 'a new folder: DynamoDB is asked');
  } finally {
    mock.restore();
    ddbMock.destroy();
    s3.destroy();
  }
});
