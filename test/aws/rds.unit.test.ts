/** RDS snapshot and export adapters against aws-sdk-client-mock: adoption and every failure path. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CancelExportTaskCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  DescribeExportTasksCommand,
  StartExportTaskCommand,
} from '@aws-sdk/client-rds';
import { withTaskWarnings } from '../../src/aws/discover';
import { parseExportWarning } from '../../src/aws/export-warnings';
import { SKIPPED_REMEDY } from '../../src/export-listing';
import { awsError, mockedAws, portError } from './mocks';

const snapArn = (id: string) => `arn:aws:rds:us-east-2:123456789012:snapshot:${id}`;
const snapshotRef = { snapshotId: 'lakesync-shop-1-abc', createdAt: '2025-01-01T00:00:00.000Z', adopted: false };

test('an existing snapshot with our id is adopted, not an error', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(CreateDBSnapshotCommand).rejects(awsError('DBSnapshotAlreadyExistsFault', 'Cannot create the snapshot because a snapshot with the identifier lakesync-shop-1-abc already exists.'));
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({
    DBSnapshots: [{ DBSnapshotIdentifier: 'lakesync-shop-1-abc', DBInstanceIdentifier: 'shop-db', Status: 'creating', SnapshotCreateTime: new Date('2025-01-01T00:00:00Z'), DBSnapshotArn: snapArn('lakesync-shop-1-abc') }],
  });
  const ref = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
  assert.deepEqual(ref, { snapshotId: 'lakesync-shop-1-abc', createdAt: '2025-01-01T00:00:00.000Z', adopted: true });
  assert.equal(mocks.rds.commandCalls(CreateDBSnapshotCommand)[0]!.args[0].input.DBInstanceIdentifier, 'shop-db');
});

test('a snapshot id taken by another instance is refused with the owner named', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(CreateDBSnapshotCommand).rejects(awsError('DBSnapshotAlreadyExistsFault', 'exists'));
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'lakesync-shop-1-abc', DBInstanceIdentifier: 'other-db', Status: 'available' }] });
  const err = await portError(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' }));
  assert.equal(err.kind, 'already-exists');
  assert.match(err.message, /belongs to other-db/);
});

test('a snapshot refused for the manual snapshot quota says to delete snapshots or raise the quota, not to check lakesync.yaml', async () => {
  for (const clusterId of [undefined, 'shop-cluster']) {
    const { mocks, ports } = mockedAws(clusterId ? { clusterId } : {});
    const quota = awsError('SnapshotQuotaExceededFault', 'The request would result in the user exceeding the allowed number of DB snapshots.');
    mocks.rds.on(CreateDBSnapshotCommand).rejects(quota);
    mocks.rds.on(CreateDBClusterSnapshotCommand).rejects(quota);
    const err = await portError(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' }));
    assert.equal(err.retryable, false);
    assert.doesNotMatch(err.message, /check the aws section/);
    assert.match(err.message, /quota of manual .*snapshots/);
    assert.match(err.message, /retention\.snapshots/);
  }
});

test('a snapshot of an instance or cluster that does not exist names the setting to fix', async () => {
  for (const [clusterId, code, setting] of [[undefined, 'DBInstanceNotFoundFault', 'instanceId'], ['shop-cluster', 'DBClusterNotFoundFault', 'clusterId']] as const) {
    const { mocks, ports } = mockedAws(clusterId ? { clusterId } : {});
    mocks.rds.on(CreateDBSnapshotCommand).rejects(awsError(code, 'not found', 404));
    mocks.rds.on(CreateDBClusterSnapshotCommand).rejects(awsError(code, 'not found', 404));
    const err = await portError(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' }));
    assert.equal(err.kind, 'not-found', code);
    assert.match(err.message, new RegExp(`${setting} .*region`), code);
  }
});

test('a failed or deleted snapshot says why the cycle cannot go on and what to do', async () => {
  for (const status of ['failed', 'deleting']) {
    const { mocks, ports } = mockedAws();
    mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'lakesync-shop-1-abc', DBInstanceIdentifier: 'shop-db', Status: status }] });
    const got = await ports.snapshot.describeSnapshot('lakesync-shop-1-abc');
    assert.equal(got.state, 'failed', status);
    assert.match(got.message ?? '', new RegExp(`status ${status}`), status);
    assert.match(got.message ?? '', /events of instance shop-db/, status);
    assert.match(got.message ?? '', /run a new sync/, status);
  }
});

test('a copied snapshot is dated by when its data was taken, not by when it was copied', async () => {
  // A manual copy of an automated snapshot (kept beyond the backup window): SnapshotCreateTime is the copy's time.
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({
    DBSnapshots: [
      {
        DBSnapshotIdentifier: 'kept-2025-03-01',
        DBInstanceIdentifier: 'shop-db',
        Status: 'available',
        SnapshotType: 'manual',
        SnapshotCreateTime: new Date('2025-03-10T12:00:00Z'),
        OriginalSnapshotCreateTime: new Date('2025-03-01T03:00:00Z'),
        DBSnapshotArn: snapArn('kept-2025-03-01'),
      },
    ],
  });
  const ref = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: 'kept-2025-03-01' });
  assert.equal(ref.createdAt, '2025-03-01T03:00:00.000Z');
  assert.equal((await ports.snapshot.describeSnapshot('kept-2025-03-01')).createdAt, '2025-03-01T03:00:00.000Z');
});

test('an Aurora source snapshots the cluster', async () => {
  const { mocks, ports } = mockedAws({ clusterId: 'shop-cluster' });
  mocks.rds.on(CreateDBClusterSnapshotCommand).resolves({ DBClusterSnapshot: { DBClusterSnapshotIdentifier: 'lakesync-shop-1-abc', SnapshotCreateTime: new Date('2025-02-01T00:00:00Z') } });
  const ref = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
  assert.deepEqual(ref, { snapshotId: 'lakesync-shop-1-abc', createdAt: '2025-02-01T00:00:00.000Z', adopted: false });
  assert.equal(mocks.rds.commandCalls(CreateDBClusterSnapshotCommand)[0]!.args[0].input.DBClusterIdentifier, 'shop-cluster');
});

test('latest-automated picks the newest available automated snapshot across pages', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds
    .on(DescribeDBSnapshotsCommand)
    .resolvesOnce({
      DBSnapshots: [
        { DBSnapshotIdentifier: 'rds:shop-db-2025-01-01', SnapshotType: 'automated', Status: 'available', SnapshotCreateTime: new Date('2025-01-01T03:00:00Z') },
        { DBSnapshotIdentifier: 'manual-newer', SnapshotType: 'manual', Status: 'available', SnapshotCreateTime: new Date('2025-01-05T03:00:00Z') },
      ],
      Marker: 'page2',
    })
    .resolvesOnce({
      DBSnapshots: [
        { DBSnapshotIdentifier: 'rds:shop-db-2025-01-03', SnapshotType: 'automated', Status: 'available', SnapshotCreateTime: new Date('2025-01-03T03:00:00Z') },
        { DBSnapshotIdentifier: 'rds:shop-db-2025-01-04', SnapshotType: 'automated', Status: 'creating', SnapshotCreateTime: new Date('2025-01-04T03:00:00Z') },
      ],
    });
  const ref = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'latest-automated' });
  assert.deepEqual(ref, { snapshotId: 'rds:shop-db-2025-01-03', createdAt: '2025-01-03T03:00:00.000Z', adopted: true });
  const calls = mocks.rds.commandCalls(DescribeDBSnapshotsCommand);
  assert.deepEqual(calls[0]!.args[0].input.Filters, [{ Name: 'snapshot-type', Values: ['automated'] }]);
  assert.equal(calls[1]!.args[0].input.Marker, 'page2');
});

/**
 * DescribeDB(Cluster)Snapshots: "If this identifier is for an automated snapshot, the SnapshotType
 * parameter must also be specified." The mocks answer as that documentation says.
 */
test('an automated snapshot is described and exported by its id with SnapshotType automated', async () => {
  const { mocks, ports } = mockedAws();
  const automated = { DBSnapshotIdentifier: 'rds:shop-db-2025-01-03', DBSnapshotArn: snapArn('rds:shop-db-2025-01-03'), DBInstanceIdentifier: 'shop-db', SnapshotType: 'automated', Status: 'available', SnapshotCreateTime: new Date('2025-01-03T03:00:00Z') };
  mocks.rds.on(DescribeDBSnapshotsCommand).callsFake((input: { DBSnapshotIdentifier?: string; SnapshotType?: string }) => {
    if (input.DBSnapshotIdentifier && input.SnapshotType !== 'automated') throw awsError('DBSnapshotNotFound', `DBSnapshot ${input.DBSnapshotIdentifier} not found.`, 404);
    return { DBSnapshots: [automated] };
  });
  const ref = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'latest-automated' });
  const status = await ports.snapshot.describeSnapshot(ref.snapshotId);
  assert.equal(status.state, 'available');
  mocks.rds.on(StartExportTaskCommand).resolves({});
  await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1', snapshot: ref });
  assert.equal(mocks.rds.commandCalls(StartExportTaskCommand)[0]!.args[0].input.SourceArn, snapArn('rds:shop-db-2025-01-03'));
  // snapshot.mode existing may name an automated snapshot too.
  const adopted = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: 'rds:shop-db-2025-01-03' });
  assert.equal(adopted.snapshotId, 'rds:shop-db-2025-01-03');
});

test('an automated cluster snapshot is described by its id with SnapshotType automated', async () => {
  const { mocks, ports } = mockedAws({ clusterId: 'shop-cluster' });
  mocks.rds.on(DescribeDBClusterSnapshotsCommand).callsFake((input: { DBClusterSnapshotIdentifier?: string; SnapshotType?: string }) => {
    if (input.DBClusterSnapshotIdentifier && input.SnapshotType !== 'automated') throw awsError('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${input.DBClusterSnapshotIdentifier} not found.`, 404);
    return { DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: 'rds:shop-cluster-2025-01-03', DBClusterIdentifier: 'shop-cluster', SnapshotType: 'automated', Status: 'available' }] };
  });
  const status = await ports.snapshot.describeSnapshot('rds:shop-cluster-2025-01-03');
  assert.equal(status.state, 'available');
});

/**
 * DescribeDBSnapshots: "If you don't specify a SnapshotType value, then both automated and manual
 * snapshots are returned"; awsbackup ("the DB snapshots managed by the AWS Backup service") is a
 * type of its own, which "does not apply to Aurora". The mock answers as that documentation says.
 */
test('an AWS Backup snapshot of an instance is described and exported by its id with SnapshotType awsbackup', async () => {
  const { mocks, ports } = mockedAws();
  const id = 'awsbackup:job-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d';
  const backup = { DBSnapshotIdentifier: id, DBSnapshotArn: snapArn(id), DBInstanceIdentifier: 'shop-db', SnapshotType: 'awsbackup', Status: 'available', SnapshotCreateTime: new Date('2025-01-03T03:00:00Z') };
  mocks.rds.on(DescribeDBSnapshotsCommand).callsFake((input: { DBSnapshotIdentifier?: string; SnapshotType?: string }) => {
    if (input.SnapshotType !== 'awsbackup') throw awsError('DBSnapshotNotFound', `DBSnapshot ${input.DBSnapshotIdentifier} not found.`, 404);
    return { DBSnapshots: [backup] };
  });
  const adopted = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: id });
  assert.equal(adopted.snapshotId, id);
  assert.equal((await ports.snapshot.describeSnapshot(id)).state, 'available');
  mocks.rds.on(StartExportTaskCommand).resolves({});
  await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1', snapshot: adopted });
  assert.equal(mocks.rds.commandCalls(StartExportTaskCommand)[0]!.args[0].input.SourceArn, snapArn(id));
});

test('latest-automated without automated backups fails with the fix', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
  const err = await portError(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'latest-automated' }));
  assert.equal(err.kind, 'not-found');
  assert.match(err.message, /instance shop-db has no available automated snapshot: enable automated backups/);
});

test('access denied on CreateDBSnapshot is not retried and names the call, the snapshot, the code and the permission', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(CreateDBSnapshotCommand).rejects(awsError('AccessDenied', 'User: arn:aws:sts::123456789012:assumed-role/worker/i-1 is not authorized to perform: rds:CreateDBSnapshot', 403));
  const err = await portError(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' }));
  assert.equal(err.kind, 'access-denied');
  assert.equal(err.retryable, false);
  assert.equal(err.code, 'AccessDenied');
  assert.match(err.message, /^RDS CreateDBSnapshot for snapshot lakesync-shop-1-abc of instance shop-db failed with AccessDenied: User: .* \(the credentials lakesync runs with lack rds:CreateDBSnapshot/);
});

test('the export starts with bucket, prefix, role, KMS key and ExportOnly', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).resolves({ ExportTaskIdentifier: 'ls-shop-1-abc', Status: 'STARTING' });
  const ref = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef, tables: ['public.orders', 'public.events'] });
  assert.deepEqual(ref, { exportId: 'ls-shop-1-abc', location: 's3://shop-exports/lakesync/exports/ls-shop-1-abc', snapshotId: snapshotRef.snapshotId, adopted: false });
  assert.deepEqual(mocks.rds.commandCalls(StartExportTaskCommand)[0]!.args[0].input, {
    ExportTaskIdentifier: 'ls-shop-1-abc',
    SourceArn: snapArn(snapshotRef.snapshotId),
    S3BucketName: 'shop-exports',
    S3Prefix: 'lakesync/exports',
    IamRoleArn: 'arn:aws:iam::123456789012:role/lakesync-export',
    KmsKeyId: 'alias/lakesync-export',
    ExportOnly: ['shop.public.orders', 'shop.public.events'],
  });
});

test('whole schemas go to ExportOnly as database.schema, before single tables', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).resolves({ ExportTaskIdentifier: 'ls-shop-1-abc', Status: 'STARTING' });
  await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef, schemas: ['sales'], tables: ['public.orders'] });
  assert.deepEqual(mocks.rds.commandCalls(StartExportTaskCommand)[0]!.args[0].input.ExportOnly, ['shop.sales', 'shop.public.orders']);
});

test('a scope that names nothing is refused: an empty ExportOnly would export the whole snapshot', async () => {
  const { mocks, ports } = mockedAws();
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef, schemas: [], tables: [] }));
  assert.equal(err.kind, 'validation');
  assert.match(err.message, /names no table and no schema/);
  assert.equal(mocks.rds.commandCalls(StartExportTaskCommand).length, 0);
});

test('ExportTaskAlreadyExists adopts the task started by an earlier attempt', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('ExportTaskAlreadyExistsFault', 'Cannot start export task because a task with the identifier ls-shop-1-abc already exists.'));
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-shop-1-abc', SourceArn: snapArn(snapshotRef.snapshotId), S3Bucket: 'shop-exports', S3Prefix: 'lakesync/exports', Status: 'IN_PROGRESS' }] });
  const ref = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef });
  assert.deepEqual(ref, { exportId: 'ls-shop-1-abc', location: 's3://shop-exports/lakesync/exports/ls-shop-1-abc', snapshotId: snapshotRef.snapshotId, adopted: true });
});

test('a start RDS refuses because another export of the same snapshot runs waits for it, naming that export', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  for (const code of ['ExportTaskAlreadyExistsFault', 'InvalidExportSourceStateFault']) {
    mocks.rds.on(StartExportTaskCommand).rejects(awsError(code, 'refused'));
    // No task with our id; another source's export of the same (automated) snapshot is running.
    mocks.rds.on(DescribeExportTasksCommand, { ExportTaskIdentifier: 'ls-shop-1-abc' }).resolves({ ExportTasks: [] });
    mocks.rds
      .on(DescribeExportTasksCommand, { SourceArn: snapArn(snapshotRef.snapshotId) })
      .resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-crm-4-xyz', SourceArn: snapArn(snapshotRef.snapshotId), Status: 'IN_PROGRESS' }] });
    const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
    assert.equal(err.kind, 'throttled', code);
    assert.equal(err.retryable, true, code);
    assert.match(err.message, /export ls-crm-4-xyz of the same snapshot .* is still running/, code);
    assert.match(err.message, /waits and retries/, code);
  }
});

test('ExportTaskAlreadyExists without a task of our id, and no other export running, is retried, not "does not exist"', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('ExportTaskAlreadyExistsFault', 'exists'));
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(err.retryable, true);
  assert.doesNotMatch(err.message, /does not exist: run a new sync/);
  assert.match(err.message, /ExportTaskAlreadyExists/);
});

test('an export id already used for another snapshot is refused', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('ExportTaskAlreadyExists', 'exists'));
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-shop-1-abc', SourceArn: snapArn('someone-else'), Status: 'COMPLETE' }] });
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(err.kind, 'already-exists');
  assert.match(err.message, /already exports .*someone-else/);
});

test('an inaccessible KMS key fails at once with the key and the permissions to add', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('KMSKeyNotAccessibleFault', 'The specified KMS key is not accessible.'));
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(err.kind, 'access-denied');
  assert.match(err.message, /KMSKeyNotAccessibleFault: The specified KMS key is not accessible\. \(.*kms:CreateGrant.*alias\/lakesync-export/);
});

test('a FAILED export reports its FailureCause', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-shop-1-abc', Status: 'FAILED', PercentProgress: 37, FailureCause: 'The IAM role does not have permission to write to the S3 bucket.' }] });
  assert.deepEqual(await ports.export.describeExport('ls-shop-1-abc'), {
    exportId: 'ls-shop-1-abc',
    state: 'failed',
    percentProgress: 37,
    failureCause: 'The IAM role does not have permission to write to the S3 bucket.; fix that, then run a new sync (RDS does not resume a failed export)',
  });
});

test('a cancelled export says it was cancelled and to run a new sync', async () => {
  for (const status of ['CANCELED', 'CANCELING']) {
    const { mocks, ports } = mockedAws();
    mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-shop-1-abc', Status: status }] });
    const got = await ports.export.describeExport('ls-shop-1-abc');
    assert.equal(got.state, status.toLowerCase());
    assert.match(got.failureCause ?? '', /cancelled .*CancelExportTask.*run a new sync/, status);
  }
});

test('export status is compared case-insensitively and carries progress, skipped tables and warnings', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds
    .on(DescribeExportTasksCommand)
    .resolvesOnce({ ExportTasks: [{ ExportTaskIdentifier: 'ls-1', Status: 'in_progress', PercentProgress: 55 }] })
    .resolvesOnce({
      ExportTasks: [
        {
          ExportTaskIdentifier: 'ls-1',
          Status: 'COMPLETE',
          PercentProgress: 100,
          WarningMessage: JSON.stringify({ skippedTables: [{ target: 'shop.public.blobs', reason: 'table too large' }, 'shop.public.tmp'], generalWarning: 'OID columns are not exported' }),
        },
      ],
    });
  assert.deepEqual(await ports.export.describeExport('ls-1'), { exportId: 'ls-1', state: 'in_progress', percentProgress: 55 });
  assert.deepEqual(await ports.export.describeExport('ls-1'), {
    exportId: 'ls-1',
    state: 'complete',
    percentProgress: 100,
    skippedTables: [
      { table: 'public.blobs', reason: `table too large${SKIPPED_REMEDY}` },
      { table: 'public.tmp', reason: `skipped by the RDS export${SKIPPED_REMEDY}` },
    ],
    warnings: ['generalWarning: OID columns are not exported'],
  });
});

test('throttling on DescribeExportTasks is retryable, and the next poll succeeds', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds
    .on(DescribeExportTasksCommand)
    .rejectsOnce(awsError('Throttling', 'Rate exceeded'))
    .resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-1', Status: 'STARTING' }] });
  const err = await portError(ports.export.describeExport('ls-1'));
  assert.equal(err.kind, 'throttled');
  assert.equal(err.retryable, true);
  assert.match(err.message, /RDS DescribeExportTasks for export ls-1 failed with Throttling: Rate exceeded/);
  assert.equal((await ports.export.describeExport('ls-1')).state, 'starting');
});

test('a missing export is not-found', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeExportTasksCommand).rejects(awsError('ExportTaskNotFoundFault', 'not found', 404));
  const err = await portError(ports.export.describeExport('ls-gone'));
  assert.equal(err.kind, 'not-found');
});

test('a plain-text WarningMessage is kept as a warning', () => {
  assert.deepEqual(parseExportWarning('Some tables were skipped', 'shop'), { skippedTables: [], warnings: ['Some tables were skipped'] });
  assert.deepEqual(parseExportWarning(undefined, 'shop'), { skippedTables: [], warnings: [] });
});

test("a table of another database the export skipped is no table of the source: the source's table of the same name still loads", () => {
  // Without ExportOnly (a database name RDS cannot limit to) RDS exports every database of the snapshot.
  const task = parseExportWarning(JSON.stringify({ skippedTables: ['billing.public.orders', { target: 'shop.public.tmp', reason: 'unlogged' }] }), 'shop');
  assert.deepEqual(task.skippedTables, [{ table: 'public.tmp', reason: `unlogged${SKIPPED_REMEDY}` }]);
  assert.deepEqual(task.warnings, ['skippedTables: billing.public.orders (a table of database billing, not of the source\'s database shop: not loaded)']);
  const found = withTaskWarnings({ database: 'shop', tables: [{ table: 'public.orders', target: 'shop.public.orders', columns: [] }], skipped: [], warnings: [] }, task);
  assert.deepEqual(found.tables.map((t) => t.table), ['public.orders']);
  assert.deepEqual(found.skipped, [{ table: 'public.tmp', reason: `unlogged${SKIPPED_REMEDY}` }]);
});

test('skipped tables of a source database whose name holds a dot are its tables', () => {
  assert.deepEqual(parseExportWarning(JSON.stringify({ skippedTables: ['shop.v2.public.tmp'] }), 'shop.v2'), { skippedTables: [{ table: 'public.tmp', reason: `skipped by the RDS export${SKIPPED_REMEDY}` }], warnings: [] });
});

test('cancelling an export that has ended or is unknown succeeds; another refusal names the call and the export', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(CancelExportTaskCommand, { ExportTaskIdentifier: 'ls-shop-1-done' }).rejects(awsError('InvalidExportTaskStateFault', 'You cannot cancel an export task that has completed.'));
  mocks.rds.on(CancelExportTaskCommand, { ExportTaskIdentifier: 'ls-shop-1-gone' }).rejects(awsError('ExportTaskNotFoundFault', 'The export task does not exist.'));
  mocks.rds.on(CancelExportTaskCommand, { ExportTaskIdentifier: 'ls-shop-1-denied' }).rejects(awsError('AccessDenied', 'not authorized to perform: rds:CancelExportTask'));
  await ports.export.cancelExport!('ls-shop-1-done');
  await ports.export.cancelExport!('ls-shop-1-gone');
  const err = await portError(ports.export.cancelExport!('ls-shop-1-denied'));
  assert.match(err.message, /^RDS CancelExportTask for export ls-shop-1-denied failed with AccessDenied: not authorized to perform: rds:CancelExportTask/);
  assert.equal(mocks.rds.commandCalls(CancelExportTaskCommand).length, 3);
});

test('a table the export task reports as skipped says what to do, not only RDS\'s reason', () => {
  const task = parseExportWarning(JSON.stringify({ skippedTables: [{ target: 'shop.public.tmp', reason: 'unlogged' }, 'shop.public.odd'] }), 'shop');
  assert.match(task.skippedTables[0]!.reason, /^unlogged; RDS skips a table it cannot export \(.*\): fix that in the source or exclude the table, then run a new sync \(a rerun reuses this export\)$/);
  assert.match(task.skippedTables[1]!.reason, /^skipped by the RDS export; RDS skips a table it cannot export/);
});

test('an export scope RDS refuses (InvalidExportOnly) names the entries and the config that gave them, not the aws section', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBSnapshotArn: snapArn(snapshotRef.snapshotId), Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('InvalidExportOnlyFault', 'The export only parameter is invalid.'));
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef, tables: ['public.ordres'], schemas: ['sales'] }));
  assert.equal(err.kind, 'validation');
  assert.equal(err.retryable, false);
  assert.doesNotMatch(err.message, /check the aws section/);
  assert.match(err.message, /ExportOnly shop\.sales, shop\.public\.ordres/);
  assert.match(err.message, /tables: .*include/);
});

test('an Aurora cluster snapshot RDS cannot export says which clusters cannot, not what RDS Custom instances cannot', async () => {
  const { mocks, ports } = mockedAws({ clusterId: 'shop-cluster' });
  const arn = 'arn:aws:rds:us-east-2:123456789012:cluster-snapshot:lakesync-shop-1-abc';
  mocks.rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: snapshotRef.snapshotId, DBClusterIdentifier: 'shop-cluster', DBClusterSnapshotArn: arn, Status: 'available' }] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('InvalidExportSourceStateFault', 'refused'));
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(err.kind, 'validation');
  assert.match(err.message, /Aurora Serverless v1/);
  assert.match(err.message, /cluster's engine and version/);
  assert.doesNotMatch(err.message, /RDS Custom/);
});
