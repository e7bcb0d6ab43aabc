/**
 * DynamoDB point-in-time exports (src/aws/dynamodb-exports.ts). On moto server over HTTP: FULL
 * exports (moto writes one data file and no manifest, so the location comes from the listing),
 * the request's parameters, point-in-time recovery off, a missing bucket, and windows refused
 * before any call. With aws-sdk-client-mock, for what moto 5.0.28 lacks: INCREMENTAL exports,
 * ClientToken adoption, ExportConflictException, LimitExceededException and ExportManifest.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeExportCommand,
  DynamoDBClient,
  ExportTableToPointInTimeCommand,
  type ExportTableToPointInTimeInput,
  ListExportsCommand,
  PutItemCommand,
  UpdateContinuousBackupsCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { clientConfig, s3ClientConfig } from '../../src/aws/clients';
import { type DynamoExportSettings, DynamoTableExports } from '../../src/aws/dynamodb-exports';
import { S3Objects } from '../../src/aws/s3';
import type { TableExportRef, TableExportStatus } from '../../src/model';
import type { TableExportRequest } from '../../src/ports';
import { MOTO_ACCOUNT_ID, type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsError, objectBody, portError } from './mocks';

const REGION = 'us-east-2';
const BUCKET = 'shop-ddb-exports';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${MOTO_ACCOUNT_ID}:table/Orders`;
const SETTINGS: DynamoExportSettings = { source: 'shop-ddb', bucket: BUCKET, prefix: 'lakesync/dynamodb' };
const NOW = new Date('2026-03-01T12:00:00Z');

function request(overrides: Partial<TableExportRequest> = {}): TableExportRequest {
  return {
    source: 'shop-ddb',
    table: 'dynamodb.Orders',
    tableArn: TABLE_ARN,
    exportId: 'lse-0123456789abcdef',
    window: { type: 'FULL', to: '2026-03-01T11:00:00Z' },
    ...overrides,
  };
}

describe('on moto server', () => {
  let moto: MotoServer;
  let ddb: DynamoDBClient;
  let s3: S3Client;
  let sent: ExportTableToPointInTimeInput[];
  /** The JSON bodies of the ExportTableToPointInTime requests as sent over HTTP. */
  let bodies: Record<string, unknown>[];

  before(async () => {
    useTestCredentials();
    moto = await startMoto();
    ddb = new DynamoDBClient(clientConfig({ region: REGION, endpoint: moto.endpoint }));
    s3 = new S3Client(s3ClientConfig({ region: REGION, endpoint: moto.endpoint }));
    // Records what the adapter sends; the call itself still goes to moto.
    ddb.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ExportTableToPointInTimeCommand') sent.push(args.input as ExportTableToPointInTimeInput);
        return next(args);
      },
      { step: 'initialize', name: 'recordExportInput' },
    );
    ddb.middlewareStack.add(
      (next, context) => async (args) => {
        const body = (args.request as { body?: unknown }).body;
        if (context.commandName === 'ExportTableToPointInTimeCommand') {
          const text = typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
          bodies.push(JSON.parse(text) as Record<string, unknown>);
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordExportBody' },
    );
  });

  after(async () => {
    ddb?.destroy();
    s3?.destroy();
    await moto?.stop();
  });

  beforeEach(async () => {
    await moto.reset();
    sent = [];
    bodies = [];
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    await ddb.send(
      new CreateTableCommand({
        TableName: 'Orders',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    for (const id of ['o1', 'o2', 'o3']) await ddb.send(new PutItemCommand({ TableName: 'Orders', Item: { id: { S: id }, total: { N: '12.50' } } }));
  });

  const enablePitr = () => ddb.send(new UpdateContinuousBackupsCommand({ TableName: 'Orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
  const exportsOf = (now = () => new Date()) => new DynamoTableExports(ddb, new S3Objects(s3), SETTINGS, now);

  /** Waits for DynamoDB's own status of an export (not the adapter's reading of its files). */
  async function settleExport(exportArn: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const out = await ddb.send(new DescribeExportCommand({ ExportArn: exportArn }));
      const status = out.ExportDescription?.ExportStatus;
      if (status === 'COMPLETED') return;
      if (status === 'FAILED') throw new Error(`the export failed: ${out.ExportDescription?.FailureCode}: ${out.ExportDescription?.FailureMessage}`);
      await delay(50);
    }
    throw new Error('the export did not finish');
  }

  async function settle(port: DynamoTableExports, ref: TableExportRef): Promise<TableExportStatus> {
    for (let i = 0; i < 100; i++) {
      const status = await port.describeTableExport(ref);
      if (status.state !== 'in_progress') return status;
      await delay(50);
    }
    throw new Error('the export did not finish');
  }

  test('a FULL export: DYNAMODB_JSON under <prefix>/<source>/<exportId>, SSE-S3, the export id as ClientToken; the location is the folder of its data files', async () => {
    await enablePitr();
    const port = exportsOf();
    const to = new Date(Date.now() - 60_000);
    to.setUTCMilliseconds(0);
    const ref = await port.startTableExport(request({ window: { type: 'FULL', to: to.toISOString().replace('.000Z', 'Z') } }));
    assert.equal(ref.adopted, false);
    assert.equal(ref.table, 'dynamodb.Orders');
    assert.ok(ref.exportArn.length > 0);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0], {
      TableArn: TABLE_ARN,
      ClientToken: 'lse-0123456789abcdef',
      S3Bucket: BUCKET,
      S3Prefix: 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef',
      S3SseAlgorithm: 'AES256',
      ExportFormat: 'DYNAMODB_JSON',
      ExportType: 'FULL_EXPORT',
      ExportTime: to,
    });
    const status = await settle(port, ref);
    assert.equal(status.state, 'complete');
    assert.equal(status.itemCount, 3);
    assert.match(status.location ?? '', new RegExp(`^s3://${BUCKET}/lakesync/dynamodb/shop-ddb/lse-0123456789abcdef/AWSDynamoDB/[^/]+$`));
    const keys = await new S3Objects(s3).listKeys(BUCKET, `${status.location!.replace(`s3://${BUCKET}/`, '')}/data/`, 'test');
    assert.equal(keys.length, 1, 'the data file is under <location>/data/');
  });

  test('point-in-time recovery off: DynamoDB refuses, and the error says how to turn it on', async () => {
    const err = await portError(exportsOf().startTableExport(request({ window: { type: 'FULL', to: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z') } })));
    assert.equal(err.code, 'PointInTimeRecoveryUnavailableException');
    assert.equal(err.retryable, false);
    assert.match(err.message, /DynamoDB ExportTableToPointInTime for export lse-0123456789abcdef of table dynamodb\.Orders/);
    assert.match(err.message, /aws dynamodb update-continuous-backups --table-name Orders --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true/);
  });

  test('an export to a bucket that does not exist fails with DynamoDB\'s cause', async () => {
    await enablePitr();
    const port = new DynamoTableExports(ddb, new S3Objects(s3), { ...SETTINGS, bucket: 'no-such-bucket' });
    const ref = await port.startTableExport(request({ window: { type: 'FULL', to: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z') } }));
    const status = await settle(port, ref);
    assert.deepEqual(status, { state: 'failed', failureCause: 'S3NoSuchBucket: The specified bucket does not exist' });
  });

  test('an export to a bucket of another account: the request names the bucket owner (S3BucketOwner), and DynamoDB writes into that account\'s bucket', async () => {
    const OTHER_ACCOUNT = '210987654321';
    const OTHER_BUCKET = 'central-ddb-exports';
    // The bucket is created by the other account (moto tells accounts apart by the credentials).
    const sts = new STSClient(clientConfig({ region: REGION, endpoint: moto.endpoint }));
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/exports`, RoleSessionName: 'test' }));
    sts.destroy();
    const c = assumed.Credentials!;
    const otherS3 = new S3Client({ ...s3ClientConfig({ region: REGION, endpoint: moto.endpoint }), credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } });
    try {
      await otherS3.send(new CreateBucketCommand({ Bucket: OTHER_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
      await enablePitr();
      const to = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
      const port = new DynamoTableExports(ddb, new S3Objects(s3), { ...SETTINGS, bucket: OTHER_BUCKET, bucketOwner: OTHER_ACCOUNT });
      const ref = await port.startTableExport(request({ window: { type: 'FULL', to } }));
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0]!.S3Bucket, OTHER_BUCKET);
      assert.equal(bodies[0]!.S3BucketOwner, OTHER_ACCOUNT, 'the request sent to DynamoDB names the bucket owner');
      await settleExport(ref.exportArn);
      const written = await otherS3.send(new ListObjectsV2Command({ Bucket: OTHER_BUCKET, Prefix: 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef/AWSDynamoDB/' }));
      assert.ok((written.Contents ?? []).length > 0, 'the export was written into the other account\'s bucket');
    } finally {
      otherS3.destroy();
    }
  });

  test('windows outside 15 min..24 h, a time in the future, a bad time or id: refused before any call', async () => {
    await enablePitr();
    const port = exportsOf(() => NOW);
    const cases: [string, Partial<TableExportRequest>, RegExp][] = [
      ['14 min 59 s', { window: { type: 'INCREMENTAL', from: '2026-03-01T10:45:01Z', to: '2026-03-01T11:00:00Z' } }, /covers 899 s; DynamoDB's incremental exports cover 900 to 86400 s/],
      ['24 h 1 s', { window: { type: 'INCREMENTAL', from: '2026-02-28T10:59:59Z', to: '2026-03-01T11:00:00Z' } }, /covers 86401 s/],
      ['INCREMENTAL without from', { window: { type: 'INCREMENTAL', to: '2026-03-01T11:00:00Z' } }, /needs a from time/],
      ['to in the future', { window: { type: 'INCREMENTAL', from: '2026-03-01T11:50:00Z', to: '2026-03-01T12:05:00Z' } }, /2026-03-01T12:05:00Z is 300 s after this worker's clock/],
      ['FULL more than a minute in the future', { window: { type: 'FULL', to: '2026-03-01T12:01:01Z' } }, /is 61 s after this worker's clock/],
      ['not ISO-8601', { window: { type: 'FULL', to: 'yesterday' } }, /"yesterday" is not an ISO-8601 time/],
    ];
    for (const [name, overrides, message] of cases) {
      const err = await portError(port.startTableExport(request(overrides)));
      assert.equal(err.code, 'ExportWindowOutOfRange', name);
      assert.equal(err.kind, 'validation', name);
      assert.match(err.message, message, name);
      assert.match(err.message, /nothing was exported/, name);
    }
    const badId = await portError(port.startTableExport(request({ exportId: 'Export$1' })));
    assert.equal(badId.code, 'InvalidExportId');
    assert.equal(sent.length, 0, 'no ExportTableToPointInTime was sent');
    const listed = await ddb.send(new ListExportsCommand({ TableArn: TABLE_ARN }));
    assert.deepEqual(listed.ExportSummaries, []);
  });

  test('windowLimits are DynamoDB\'s 15 minutes to 24 hours', async () => {
    const port = exportsOf(() => NOW);
    assert.deepEqual(port.windowLimits, { minSeconds: 900, maxSeconds: 86400 });
  });
});

describe('with aws-sdk-client-mock (what moto lacks)', () => {
  const setup = (settings: DynamoExportSettings = SETTINGS) => {
    const ddb = new DynamoDBClient({ region: REGION });
    const s3 = new S3Client({ region: REGION });
    const mock = mockClient(ddb);
    const s3mock = mockClient(s3);
    return { mock, s3mock, port: new DynamoTableExports(ddb, new S3Objects(s3), settings, () => NOW) };
  };
  const incremental = { type: 'INCREMENTAL' as const, from: '2026-03-01T10:00:00Z', to: '2026-03-01T11:00:00Z' };

  test('INCREMENTAL: IncrementalExportSpecification with NEW_AND_OLD_IMAGES, no ExportTime; SSE-KMS with the configured key; the edges 900 s and 86400 s pass', async () => {
    const { mock, port } = setup({ ...SETTINGS, kmsKeyId: 'alias/lakesync' });
    mock.on(ExportTableToPointInTimeCommand).resolves({ ExportDescription: { ExportArn: `${TABLE_ARN}/export/01-a`, StartTime: NOW, ExportStatus: 'IN_PROGRESS' } });
    const ref = await port.startTableExport(request({ window: incremental }));
    assert.deepEqual(ref, { exportId: 'lse-0123456789abcdef', exportArn: `${TABLE_ARN}/export/01-a`, table: 'dynamodb.Orders', window: incremental, adopted: false });
    assert.deepEqual(mock.commandCalls(ExportTableToPointInTimeCommand)[0]!.args[0].input, {
      TableArn: TABLE_ARN,
      ClientToken: 'lse-0123456789abcdef',
      S3Bucket: BUCKET,
      S3Prefix: 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef',
      S3SseAlgorithm: 'KMS',
      S3SseKmsKeyId: 'alias/lakesync',
      ExportFormat: 'DYNAMODB_JSON',
      ExportType: 'INCREMENTAL_EXPORT',
      IncrementalExportSpecification: { ExportFromTime: new Date('2026-03-01T10:00:00Z'), ExportToTime: new Date('2026-03-01T11:00:00Z'), ExportViewType: 'NEW_AND_OLD_IMAGES' },
    });
    await port.startTableExport(request({ window: { type: 'INCREMENTAL', from: '2026-03-01T10:45:00Z', to: '2026-03-01T11:00:00Z' } }));
    await port.startTableExport(request({ window: { type: 'INCREMENTAL', from: '2026-02-28T11:00:00Z', to: '2026-03-01T11:00:00Z' } }));
    assert.equal(mock.commandCalls(ExportTableToPointInTimeCommand).length, 3);
  });

  test('a retry with the same ClientToken gets the export started earlier: adopted', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).resolves({ ExportDescription: { ExportArn: `${TABLE_ARN}/export/01-a`, ClientToken: 'lse-0123456789abcdef', StartTime: new Date(NOW.getTime() - 10 * 60_000), ExportStatus: 'IN_PROGRESS' } });
    const ref = await port.startTableExport(request({ window: incremental }));
    assert.equal(ref.adopted, true);
    assert.equal(ref.exportArn, `${TABLE_ARN}/export/01-a`);
  });

  test('ExportConflictException: the table\'s export with our ClientToken is adopted (IN_PROGRESS ones looked at first)', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).rejects(awsError('ExportConflictException', 'There was a conflict when writing to the specified S3 bucket.'));
    mock.on(ListExportsCommand).resolvesOnce({ ExportSummaries: [{ ExportArn: 'arn:old', ExportStatus: 'COMPLETED' }], NextToken: 'p2' }).resolvesOnce({ ExportSummaries: [{ ExportArn: 'arn:ours', ExportStatus: 'IN_PROGRESS' }] });
    mock.on(DescribeExportCommand, { ExportArn: 'arn:old' }).resolves({ ExportDescription: { ExportArn: 'arn:old', ClientToken: 'lse-ffffffffffffffff', S3Prefix: 'lakesync/dynamodb/shop-ddb/lse-ffffffffffffffff' } });
    mock.on(DescribeExportCommand, { ExportArn: 'arn:ours' }).resolves({ ExportDescription: { ExportArn: 'arn:ours', ClientToken: 'lse-0123456789abcdef', S3Prefix: 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef' } });
    const ref = await port.startTableExport(request({ window: incremental }));
    assert.deepEqual(ref, { exportId: 'lse-0123456789abcdef', exportArn: 'arn:ours', table: 'dynamodb.Orders', window: incremental, adopted: true });
    assert.equal(mock.commandCalls(ListExportsCommand)[0]!.args[0].input.TableArn, TABLE_ARN);
    assert.deepEqual(
      mock.commandCalls(DescribeExportCommand).map((c) => c.args[0].input.ExportArn),
      ['arn:ours'],
      'the IN_PROGRESS export matched first; the completed one was not described',
    );
  });

  test('ExportConflictException with no export of ours: a clear error naming the prefix', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).rejects(awsError('ExportConflictException', 'There was a conflict when writing to the specified S3 bucket.'));
    mock.on(ListExportsCommand).resolves({ ExportSummaries: [{ ExportArn: 'arn:other', ExportStatus: 'IN_PROGRESS' }] });
    mock.on(DescribeExportCommand).resolves({ ExportDescription: { ExportArn: 'arn:other', ClientToken: 'someone-else', S3Prefix: 'elsewhere' } });
    const err = await portError(port.startTableExport(request({ window: incremental })));
    assert.equal(err.code, 'ExportConflictException');
    assert.equal(err.retryable, false);
    assert.match(err.message, /another export writes to s3:\/\/shop-ddb-exports\/lakesync\/dynamodb\/shop-ddb\/lse-0123456789abcdef/);
  });

  test('InvalidExportTimeException for a time point-in-time recovery does not reach yet: retried, naming the table and the latest restorable time', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).rejects(awsError('InvalidExportTimeException', 'Export time is outside of the point in time recovery window'));
    mock.on(DescribeContinuousBackupsCommand).resolves({
      ContinuousBackupsDescription: {
        ContinuousBackupsStatus: 'ENABLED',
        PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED', EarliestRestorableDateTime: new Date('2026-02-01T00:00:00Z'), LatestRestorableDateTime: new Date('2026-03-01T10:55:00Z') },
      },
    });
    const err = await portError(port.startTableExport(request({ window: incremental })));
    assert.equal(err.code, 'InvalidExportTimeException');
    assert.equal(err.retryable, true, 'the window reaches the time within minutes: the export waits for it');
    assert.match(err.message, /table Orders/);
    assert.match(err.message, /2026-03-01T10:55:00\.000Z/);
    assert.doesNotMatch(err.message, /next cycle plans a FULL export/);
    assert.equal(mock.commandCalls(DescribeContinuousBackupsCommand)[0]!.args[0].input.TableName, 'Orders');
  });

  test('InvalidExportTimeException for a time before point-in-time recovery reaches back: not retried, naming the window and the FULL export of the next cycle', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).rejects(awsError('InvalidExportTimeException', 'Export time is outside of the point in time recovery window'));
    mock.on(DescribeContinuousBackupsCommand).resolves({
      ContinuousBackupsDescription: {
        ContinuousBackupsStatus: 'ENABLED',
        PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED', EarliestRestorableDateTime: new Date('2026-03-01T10:30:00Z'), LatestRestorableDateTime: new Date('2026-03-01T11:55:00Z') },
      },
    });
    const err = await portError(port.startTableExport(request({ window: incremental })));
    assert.equal(err.retryable, false);
    assert.match(err.message, /table Orders/);
    assert.match(err.message, /2026-03-01T10:30:00\.000Z/);
    assert.match(err.message, /next cycle plans a FULL export/);
    assert.match(err.message, /the window starts at 2026-03-01T10:00:00Z, before the earliest restorable time 2026-03-01T10:30:00\.000Z/);
    assert.match(err.message, /the table keeps its watermark/);
  });

  test('an export time up to a minute after the worker\'s clock (the clock of the server that fixed it runs ahead) is sent to DynamoDB; later is refused', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).resolves({ ExportDescription: { ExportArn: `${TABLE_ARN}/export/01-a`, StartTime: NOW, ExportStatus: 'IN_PROGRESS' } });
    await port.startTableExport(request({ window: { type: 'FULL', to: '2026-03-01T12:00:30Z' } }));
    await port.startTableExport(request({ window: { type: 'INCREMENTAL', from: '2026-03-01T11:00:00Z', to: '2026-03-01T12:01:00Z' } }));
    assert.deepEqual(
      mock.commandCalls(ExportTableToPointInTimeCommand).map((c) => c.args[0].input.ExportTime ?? c.args[0].input.IncrementalExportSpecification?.ExportToTime),
      [new Date('2026-03-01T12:00:30Z'), new Date('2026-03-01T12:01:00Z')],
    );
    const late = await portError(port.startTableExport(request({ window: { type: 'FULL', to: '2026-03-01T12:01:01Z' } })));
    assert.equal(late.code, 'ExportWindowOutOfRange');
    assert.match(late.message, /the export time 2026-03-01T12:01:01Z is 61 s after this worker's clock \(2026-03-01T12:00:00\.000Z\), more than the 60 s of clock skew tolerated/);
    assert.equal(mock.commandCalls(ExportTableToPointInTimeCommand).length, 2);
  });

  test('LimitExceededException is retryable (throttled)', async () => {
    const { mock, port } = setup();
    mock.on(ExportTableToPointInTimeCommand).rejects(awsError('LimitExceededException', 'Too many exports in progress'));
    const err = await portError(port.startTableExport(request({ window: incremental })));
    assert.equal(err.code, 'LimitExceededException');
    assert.equal(err.kind, 'throttled');
    assert.equal(err.retryable, true);
  });

  test('DescribeExport with an ExportManifest: the location is its folder; counts and billed bytes', async () => {
    const { mock, s3mock, port } = setup();
    const ref: TableExportRef = { exportId: 'lse-0123456789abcdef', exportArn: 'arn:ours', table: 'dynamodb.Orders', window: incremental, adopted: false };
    const prefix = 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef';
    mock.on(DescribeExportCommand).resolvesOnce({ ExportDescription: { ExportArn: 'arn:ours', ExportStatus: 'IN_PROGRESS' } }).resolvesOnce({
      ExportDescription: { ExportArn: 'arn:ours', ExportStatus: 'COMPLETED', S3Bucket: BUCKET, S3Prefix: prefix, ExportManifest: `${prefix}/AWSDynamoDB/01709-abc/manifest-summary.json`, ItemCount: 42, BilledSizeBytes: 2048 },
    }).resolvesOnce({
      // A manifest named relative to the prefix.
      ExportDescription: { ExportArn: 'arn:ours', ExportStatus: 'COMPLETED', S3Bucket: BUCKET, S3Prefix: prefix, ExportManifest: 'AWSDynamoDB/01709-abc/manifest-summary.json', ItemCount: 0 },
    });
    assert.deepEqual(await port.describeTableExport(ref), { state: 'in_progress' });
    assert.deepEqual(await port.describeTableExport(ref), { state: 'complete', location: `s3://${BUCKET}/${prefix}/AWSDynamoDB/01709-abc`, itemCount: 42, billedBytes: 2048 });
    assert.deepEqual(await port.describeTableExport(ref), { state: 'complete', location: `s3://${BUCKET}/${prefix}/AWSDynamoDB/01709-abc`, itemCount: 0 });
    assert.equal(s3mock.calls().length, 0, 'no listing when DynamoDB names the manifest');
  });

  test('without ExportManifest, an INCREMENTAL export (data files in the shared AWSDynamoDB/data/) is located by its manifests, else by that data/', async () => {
    const { mock, s3mock, port } = setup();
    const ref: TableExportRef = { exportId: 'lse-0123456789abcdef', exportArn: 'arn:ours', table: 'dynamodb.Orders', window: incremental, adopted: false };
    const prefix = 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef';
    mock.on(DescribeExportCommand).resolves({ ExportDescription: { ExportArn: 'arn:ours', ExportStatus: 'COMPLETED', S3Bucket: BUCKET, S3Prefix: prefix, ItemCount: 6 } });
    // The layout of a real incremental export (github.com/gurre/ddb-pitr, s3exportdata/).
    const data = [`${prefix}/AWSDynamoDB/data/u2wov2dg246wzitouzsnk6jbd4.json.gz`, `${prefix}/AWSDynamoDB/data/z2grmkfehu6e5phyeuxxtu6xve.json.gz`];
    const manifests = [`${prefix}/AWSDynamoDB/01768386924000-d339e52d/manifest-files.json`, `${prefix}/AWSDynamoDB/01768386924000-d339e52d/manifest-summary.json`];
    s3mock.on(ListObjectsV2Command).resolvesOnce({ Contents: [...manifests, ...data].map((Key) => ({ Key, Size: 1 })) }).resolvesOnce({ Contents: data.map((Key) => ({ Key, Size: 1 })) });
    assert.deepEqual(await port.describeTableExport(ref), { state: 'complete', location: `s3://${BUCKET}/${prefix}/AWSDynamoDB/01768386924000-d339e52d`, itemCount: 6 });
    // No manifests: the folder whose data/ the job reads whole.
    assert.deepEqual(await port.describeTableExport(ref), { state: 'complete', location: `s3://${BUCKET}/${prefix}/AWSDynamoDB`, itemCount: 6 });
  });

  test("a COMPLETED export without ItemCount takes its count from the export's manifest-summary.json, never a 0 that verification would hold the lake to", async () => {
    const { mock, s3mock, port } = setup();
    const ref: TableExportRef = { exportId: 'lse-0123456789abcdef', exportArn: 'arn:ours', table: 'dynamodb.Orders', window: { type: 'FULL', to: '2026-03-01T11:00:00Z' }, adopted: false };
    const prefix = 'lakesync/dynamodb/shop-ddb/lse-0123456789abcdef';
    const manifest = `${prefix}/AWSDynamoDB/01709-abc/manifest-summary.json`;
    mock.on(DescribeExportCommand).resolves({ ExportDescription: { ExportArn: 'arn:ours', ExportStatus: 'COMPLETED', S3Bucket: BUCKET, S3Prefix: prefix, ExportManifest: manifest, BilledSizeBytes: 2048 } });
    s3mock
      .on(GetObjectCommand, { Bucket: BUCKET, Key: manifest })
      .resolvesOnce({ Body: objectBody(JSON.stringify({ version: '2020-06-30', exportArn: 'arn:ours', itemCount: 42, outputFormat: 'DYNAMODB_JSON' })) })
      .rejectsOnce(awsError('NoSuchKey', 'The specified key does not exist.', 404));
    assert.deepEqual(await port.describeTableExport(ref), { state: 'complete', location: `s3://${BUCKET}/${prefix}/AWSDynamoDB/01709-abc`, itemCount: 42, billedBytes: 2048 });
    // Neither DynamoDB nor the manifest tells it: the count stays unknown (the load then fails saying so), not 0.
    const unknown = await port.describeTableExport(ref);
    assert.equal(unknown.state, 'complete');
    assert.equal(unknown.itemCount, undefined);
  });

  test('a FAILED export without a cause says where to look', async () => {
    const { mock, port } = setup();
    mock.on(DescribeExportCommand).resolves({ ExportDescription: { ExportArn: 'arn:ours', ExportStatus: 'FAILED' } });
    const status = await port.describeTableExport({ exportId: 'lse-0123456789abcdef', exportArn: 'arn:ours', table: 'dynamodb.Orders', window: incremental, adopted: false });
    assert.equal(status.state, 'failed');
    assert.match(status.failureCause ?? '', /DynamoDB gave no failure cause: check export arn:ours/);
  });

  test('an unknown export: not found, naming the export and the table', async () => {
    const { mock, port } = setup();
    mock.on(DescribeExportCommand).rejects(awsError('ExportNotFoundException', 'Export not found'));
    const err = await portError(port.describeTableExport({ exportId: 'lse-0123456789abcdef', exportArn: 'arn:gone', table: 'dynamodb.Orders', window: incremental, adopted: false }));
    assert.equal(err.kind, 'not-found');
    assert.match(err.message, /DynamoDB DescribeExport for export lse-0123456789abcdef of table dynamodb\.Orders failed with ExportNotFoundException/);
  });
});
