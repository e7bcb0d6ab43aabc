/**
 * The AWS retention adapter's answers moto cannot give (its snapshots are available at once, its
 * exports complete at once, its deletes never fail), against aws-sdk-client-mock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeleteDBClusterSnapshotCommand, DeleteDBSnapshotCommand, DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, DescribeExportTasksCommand } from '@aws-sdk/client-rds';
import { GetJobRunsCommand } from '@aws-sdk/client-glue';
import { DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { awsError, mockedAws, portError } from './mocks';
import { expiredItems } from '../../src/activities/retention';

const SNAP = 'lakesync-shop-3-0g8zvhhi9rtt3';
const ARN = `arn:aws:rds:us-east-2:123456789012:snapshot:${SNAP}`;
const EXPORT = 'ls-shop-3-0g8zvhhi9rtt3';
const all = () => true;

function listed(mocks: ReturnType<typeof mockedAws>['mocks'], status = 'available') {
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({
    DBSnapshots: [
      { DBSnapshotIdentifier: SNAP, DBSnapshotArn: ARN, SnapshotType: 'manual', Status: status, SnapshotCreateTime: new Date('2026-11-01T00:00:00Z'), TagList: [{ Key: 'lakesync', Value: 'snapshot' }] },
      { DBSnapshotIdentifier: 'lakesync-shop-2-0g8zvhhi9rtt3', DBSnapshotArn: 'arn:x', SnapshotType: 'manual', Status: 'available', SnapshotCreateTime: new Date('2026-10-01T00:00:00Z'), TagList: [] },
    ],
  });
}

test('only manual snapshots of the instance with the lakesync tag are listed; one being created has no time', async () => {
  const { mocks, ports } = mockedAws();
  listed(mocks, 'creating');
  assert.deepEqual(await ports.retention.listSnapshots(all), [{ id: SNAP }]);
  assert.deepEqual(mocks.rds.commandCalls(DescribeDBSnapshotsCommand)[0]!.args[0].input, { DBInstanceIdentifier: 'shop-db', SnapshotType: 'manual' });
});

test('InvalidDBSnapshotState (a snapshot being created) puts the deletion off to a later cycle', async () => {
  const { mocks, ports } = mockedAws();
  listed(mocks);
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
  mocks.rds.on(DeleteDBSnapshotCommand).rejects(awsError('InvalidDBSnapshotState', 'Cannot delete the snapshot because it is not in available state'));
  await ports.retention.listSnapshots(all);
  const out = await ports.retention.deleteSnapshot(SNAP);
  assert.equal(out.deleted, false);
  assert.match(!out.deleted ? out.reason : '', /state does not allow deletion yet/);
});

test('a snapshot an export task still reads is not deleted; a snapshot already gone counts as deleted', async () => {
  const { mocks, ports } = mockedAws();
  listed(mocks);
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-shop-9-x', SourceArn: ARN, Status: 'IN_PROGRESS' }] });
  await ports.retention.listSnapshots(all);
  assert.deepEqual(await ports.retention.deleteSnapshot(SNAP), { deleted: false, reason: 'export ls-shop-9-x is reading it' });
  assert.deepEqual(mocks.rds.commandCalls(DescribeExportTasksCommand)[0]!.args[0].input, { Filters: [{ Name: 'source-arn', Values: [ARN] }] });
  assert.equal(mocks.rds.commandCalls(DeleteDBSnapshotCommand).length, 0);

  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: 'ls-shop-3-x', SourceArn: ARN, Status: 'COMPLETE' }] });
  mocks.rds.on(DeleteDBSnapshotCommand).rejects(awsError('DBSnapshotNotFound', 'DBSnapshot not found', 404));
  assert.deepEqual(await ports.retention.deleteSnapshot(SNAP), { deleted: true });
});

test('an Aurora source deletes cluster snapshots; access denied names the IAM action', async () => {
  const { mocks, ports } = mockedAws({ clusterId: 'shop-cluster' });
  mocks.rds.on(DescribeDBClusterSnapshotsCommand).resolves({
    DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: SNAP, DBClusterSnapshotArn: ARN, SnapshotType: 'manual', Status: 'available', SnapshotCreateTime: new Date(), TagList: [{ Key: 'lakesync', Value: 'snapshot' }] }],
  });
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
  mocks.rds.on(DeleteDBClusterSnapshotCommand).rejects(awsError('AccessDenied', 'not authorized to perform rds:DeleteDBClusterSnapshot', 403));
  assert.equal((await ports.retention.listSnapshots(all)).length, 1);
  const err = await portError(ports.retention.deleteSnapshot(SNAP));
  assert.equal(err.kind, 'access-denied');
  assert.match(err.message, /DeleteDBClusterSnapshot for snapshot lakesync-shop-3-0g8zvhhi9rtt3 of cluster shop-cluster failed .*lack rds:DeleteDBClusterSnapshot/);
});

test('export folders are listed with their export_info time; an export RDS still writes is not deleted', async () => {
  const { mocks, ports } = mockedAws();
  mocks.s3.on(ListObjectsV2Command).resolves({});
  mocks.s3.on(ListObjectsV2Command, { Delimiter: '/' }).resolves({ CommonPrefixes: [{ Prefix: `lakesync/exports/${EXPORT}/` }, { Prefix: 'lakesync/exports/lakesync-manifests/' }] });
  mocks.s3.on(HeadObjectCommand).resolves({ LastModified: new Date('2026-11-01T00:00:00Z') });
  assert.deepEqual(await ports.retention.listExports((id) => id === EXPORT), [{ id: EXPORT, createdAt: '2026-11-01T00:00:00.000Z' }]);
  assert.deepEqual(mocks.s3.commandCalls(HeadObjectCommand)[0]!.args[0].input, { Bucket: 'shop-exports', Key: `lakesync/exports/${EXPORT}/export_info_${EXPORT}.json` });

  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskIdentifier: EXPORT, Status: 'STARTING' }] });
  assert.deepEqual(await ports.retention.deleteExport(EXPORT), { deleted: false, reason: 'RDS is still writing it' });
  assert.equal(mocks.s3.commandCalls(DeleteObjectsCommand).length, 0);
});

test('an export folder without export_info that RDS reports FAILED or CANCELED is listed as failed (it takes none of the kept places); a running or completed one is not', async () => {
  const { mocks, ports } = mockedAws();
  const ids = ['ls-shop-1-0g8zvhhi9rtt3', 'ls-shop-2-0g8zvhhi9rtt3', 'ls-shop-3-0g8zvhhi9rtt3', 'ls-shop-4-0g8zvhhi9rtt3', 'ls-shop-5-0g8zvhhi9rtt3'];
  const [complete, failed, canceled, running, unknown] = ids as [string, string, string, string, string];
  mocks.s3.on(ListObjectsV2Command, { Delimiter: '/' }).resolves({ CommonPrefixes: ids.map((id) => ({ Prefix: `lakesync/exports/${id}/` })) });
  mocks.s3.on(ListObjectsV2Command, { MaxKeys: 1 }).resolves({ Contents: [{ Key: 'x', LastModified: new Date('2026-11-02T00:00:00Z') }] });
  mocks.s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
  mocks.s3.on(HeadObjectCommand, { Key: `lakesync/exports/${complete}/export_info_${complete}.json` }).resolves({ LastModified: new Date('2026-11-01T00:00:00Z') });
  mocks.rds.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
  mocks.rds.on(DescribeExportTasksCommand, { ExportTaskIdentifier: failed }).resolves({ ExportTasks: [{ ExportTaskIdentifier: failed, Status: 'FAILED' }] });
  mocks.rds.on(DescribeExportTasksCommand, { ExportTaskIdentifier: canceled }).resolves({ ExportTasks: [{ ExportTaskIdentifier: canceled, Status: 'CANCELED' }] });
  mocks.rds.on(DescribeExportTasksCommand, { ExportTaskIdentifier: running }).resolves({ ExportTasks: [{ ExportTaskIdentifier: running, Status: 'IN_PROGRESS' }] });
  const listed = await ports.retention.listExports(all);
  assert.deepEqual(listed, [
    { id: complete, createdAt: '2026-11-01T00:00:00.000Z' },
    { id: failed, createdAt: '2026-11-02T00:00:00.000Z', failed: true },
    { id: canceled, createdAt: '2026-11-02T00:00:00.000Z', failed: true },
    { id: running, createdAt: '2026-11-02T00:00:00.000Z' },
    { id: unknown, createdAt: '2026-11-02T00:00:00.000Z' },
  ]);
  // The newest 2 kept are those that did not fail; the older one and the failed ones go, oldest first.
  assert.deepEqual(expiredItems(listed, 2, new Set()).map((e) => e.id), [complete, failed, canceled]);
});

test('a prefix written with a slash at either end lists the export folders RDS wrote under it', async () => {
  for (const prefix of ['lakesync/exports/', '/lakesync/exports']) {
    const { mocks, ports, settings } = mockedAws();
    settings.export.prefix = prefix;
    mocks.s3.on(ListObjectsV2Command, { Delimiter: '/' }).callsFake((input: { Prefix?: string }) =>
      input.Prefix === 'lakesync/exports/' ? { CommonPrefixes: [{ Prefix: `lakesync/exports/${EXPORT}/` }] } : { CommonPrefixes: [] },
    );
    mocks.s3.on(HeadObjectCommand).resolves({ LastModified: new Date('2026-11-01T00:00:00Z') });
    assert.deepEqual(await ports.retention.listExports((id) => id === EXPORT), [{ id: EXPORT, createdAt: '2026-11-01T00:00:00.000Z' }], prefix);
    assert.equal(mocks.s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input.Prefix, 'lakesync/exports/', prefix);
  }
});

test('an export is deleted in batches of 1,000 keys; a key S3 refuses fails the deletion with its code', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeExportTasksCommand).rejects(awsError('ExportTaskNotFound', 'not found', 404));
  const keys = Array.from({ length: 1500 }, (_, i) => ({ Key: `lakesync/exports/${EXPORT}/shop/public.orders/1/part-${i}.gz.parquet` }));
  mocks.s3
    .on(ListObjectsV2Command)
    .resolvesOnce({ Contents: keys.slice(0, 1000), IsTruncated: true, NextContinuationToken: 't' })
    .resolvesOnce({ Contents: keys.slice(1000), IsTruncated: false });
  mocks.s3.on(DeleteObjectsCommand).resolves({});
  assert.deepEqual(await ports.retention.deleteExport(EXPORT), { deleted: true });
  const calls = mocks.s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
  assert.deepEqual(calls.map((c) => c.Delete?.Objects?.length), [1000, 500]);
  assert.equal(calls[0]!.Delete?.Quiet, true);
  assert.equal(mocks.s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input.Prefix, `lakesync/exports/${EXPORT}/`);

  mocks.s3.reset();
  mocks.s3.on(ListObjectsV2Command).resolves({ Contents: keys.slice(0, 2) });
  mocks.s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: keys[0]!.Key, Code: 'AccessDenied', Message: 'Access Denied' }] });
  const err = await portError(ports.retention.deleteExport(EXPORT));
  assert.equal(err.kind, 'access-denied');
  assert.match(err.message, /could not delete 1 file\(s\) of export ls-shop-3-0g8zvhhi9rtt3.*AccessDenied.*s3:DeleteObject/);
});

test('a name that is no export id deletes nothing: never the whole prefix, nor a folder below an export', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeExportTasksCommand).rejects(awsError('ExportTaskNotFound', 'not found', 404));
  mocks.s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'lakesync/exports/lakesync-manifests/shop/source-state/state.json' }, { Key: `lakesync/exports/${EXPORT}/export_info_${EXPORT}.json` }] });
  mocks.s3.on(DeleteObjectsCommand).resolves({});
  for (const id of ['', '/', `${EXPORT}/shop`, '..', 'lakesync-manifests/shop']) {
    const out = await ports.retention.deleteExport(id);
    assert.equal(out.deleted, false, JSON.stringify(id));
    assert.match(out.deleted ? '' : out.reason, /is not an export id/);
  }
  assert.equal(mocks.s3.commandCalls(DeleteObjectsCommand).length, 0);
});

test('export_info is deleted first, on its own: a deletion cut short leaves an export that counts as gone', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeExportTasksCommand).rejects(awsError('ExportTaskNotFound', 'not found', 404));
  const folder = `lakesync/exports/${EXPORT}`;
  const info = `${folder}/export_info_${EXPORT}.json`;
  // S3 lists in key order: a database named `app` sorts before export_info.
  const data = Array.from({ length: 1500 }, (_, i) => `${folder}/app/public.orders/1/part-${String(i).padStart(5, '0')}.gz.parquet`);
  const listing = [...data, info, `${folder}/export_tables_info_${EXPORT}_from_1_to_1.json`].sort();
  mocks.s3.on(ListObjectsV2Command).resolves({ Contents: listing.map((Key) => ({ Key })) });
  mocks.s3.on(DeleteObjectsCommand).resolvesOnce({}).resolvesOnce({}).rejects(awsError('InternalError', 'We encountered an internal error', 500));
  const err = await portError(ports.retention.deleteExport(EXPORT));
  assert.match(err.message, /DeleteObjects/);
  const calls = mocks.s3.commandCalls(DeleteObjectsCommand).map((c) => (c.args[0].input.Delete?.Objects ?? []).map((o) => o.Key));
  assert.deepEqual(calls[0], [info]);
  assert.ok(calls.slice(1).every((keys) => !keys.includes(info)));
  assert.deepEqual(calls.slice(1).map((keys) => keys.length), [1000, 501]);
});

test("a cycle whose Glue run is still queued or going keeps its files (the run reads its arguments or pack file, and writes its result); the others go", async () => {
  const { mocks, ports } = mockedAws();
  const [c1, c2, c3] = ['1-0g8zvhhi9rtt3', '2-0g8zvhhi9rtt3', '3-0g8zvhhi9rtt3'];
  mocks.s3.on(ListObjectsV2Command).resolves({});
  mocks.s3.on(ListObjectsV2Command, { Delimiter: '/' }).resolves({ CommonPrefixes: [c1, c2, c3].map((c) => ({ Prefix: `lakesync/exports/lakesync-manifests/shop/${c}/` })) });
  mocks.s3.on(ListObjectsV2Command, { Prefix: `lakesync/exports/lakesync-manifests/shop/${c1}/` }).resolves({ Contents: [{ Key: `lakesync/exports/lakesync-manifests/shop/${c1}/plan.json` }] });
  mocks.s3.on(DeleteObjectsCommand).resolves({});
  mocks.glue.on(GetJobRunsCommand).resolves({
    JobRuns: [
      { Id: 'jr_2', JobRunState: 'WAITING', StartedOn: new Date(), Arguments: { '--run_token': `${c2}:public.orders` } },
      { Id: 'jr_3', JobRunState: 'RUNNING', StartedOn: new Date(), Arguments: { '--run_token': `${c3}-pack-0abc`, '--pack_path': 's3://x/y.json' } },
      { Id: 'jr_1', JobRunState: 'SUCCEEDED', StartedOn: new Date(), Arguments: { '--run_token': `${c1}:public.orders` } },
    ],
  });
  assert.deepEqual((await ports.retention.listCycleFiles!(all)).map((c) => c.id).sort(), [c1, c2, c3]);
  assert.deepEqual(await ports.retention.deleteCycleFiles!(c2), { deleted: false, reason: `its Glue run ${c2}:public.orders is still queued or running` });
  assert.deepEqual(await ports.retention.deleteCycleFiles!(c3), { deleted: false, reason: `its Glue run ${c3}-pack-0abc is still queued or running` });
  assert.deepEqual(await ports.retention.deleteCycleFiles!(c1), { deleted: true });
  const deleted = mocks.s3.commandCalls(DeleteObjectsCommand).flatMap((c) => (c.args[0].input.Delete?.Objects ?? []).map((o) => o.Key));
  assert.deepEqual(deleted, [`lakesync/exports/lakesync-manifests/shop/${c1}/plan.json`]);
});

test("a cycle's files that DeleteObjects refuses fail its deletion with the permission to add", async () => {
  const { mocks, ports } = mockedAws();
  const c1 = '1-0g8zvhhi9rtt3';
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `lakesync/results/shop/${c1}/public.orders.json` }] });
  mocks.s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: `lakesync/results/shop/${c1}/public.orders.json`, Code: 'AccessDenied', Message: 'Access Denied' }] });
  const err = await portError(ports.retention.deleteCycleFiles!(c1));
  assert.equal(err.kind, 'access-denied');
  assert.match(err.message, /could not delete 1 file\(s\) of the Glue load files of source shop of cycle 1-0g8zvhhi9rtt3.*AccessDenied.*s3:DeleteObject on s3:\/\/[^ ]+\/lakesync\/results\/shop\/1-0g8zvhhi9rtt3\/\*/);
});

test('when GetJobRuns fails, no cycle loses its files: each is put off with the reason', async () => {
  const { mocks, ports } = mockedAws();
  const c1 = '1-0g8zvhhi9rtt3';
  mocks.glue.on(GetJobRunsCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform glue:GetJobRuns', 400));
  mocks.s3.on(ListObjectsV2Command).resolves({ CommonPrefixes: [{ Prefix: `lakesync/results/shop/${c1}/` }] });
  mocks.s3.on(DeleteObjectsCommand).resolves({});
  assert.deepEqual((await ports.retention.listCycleFiles!(all)).map((c) => c.id), [c1]);
  const out = await ports.retention.deleteCycleFiles!(c1);
  assert.equal(out.deleted, false);
  assert.match(out.deleted ? '' : out.reason, /which Glue runs are still queued or running is not known \(.*GetJobRuns.*glue:GetJobRuns/);
  assert.equal(mocks.s3.commandCalls(DeleteObjectsCommand).length, 0);
});
