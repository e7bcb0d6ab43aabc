/**
 * RDS refusals that end by themselves, and RDS identifiers, with aws-sdk-client-mock: moto never
 * answers ExportTaskLimitReachedFault, InvalidDBInstanceState on CreateDBSnapshot or
 * InvalidDBClusterStateFault on CreateDBClusterSnapshot, does not limit cluster snapshot ids to
 * 63 characters and keeps identifiers in the case they were given (RDS lowercases them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  DescribeExportTasksCommand,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  StartExportTaskCommand,
} from '@aws-sdk/client-rds';
import { ApplicationFailure } from '@temporalio/common';
import { step } from '../../src/activities/deps';
import { capRdsIdentifier, CLUSTER_SNAPSHOT_ID_MAX, snapshotIdFor } from '../../src/ids';
import type { CycleSettings } from '../../src/model';
import { RDS_START_WAIT_HOURS, rdsStartActivity } from '../../src/workflows/options';
import { awsError, mockedAws, portError } from './mocks';

const snapArn = (id: string) => `arn:aws:rds:us-east-2:123456789012:snapshot:${id}`;
const snapshotRef = { snapshotId: 'lakesync-shop-1-abc', createdAt: '2025-01-01T00:00:00.000Z', adopted: false };

test('ExportTaskLimitReachedFault (5 exports running in the account) is a wait: retryable, and says so', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBInstanceIdentifier: 'shop-db', Status: 'available', DBSnapshotArn: snapArn(snapshotRef.snapshotId) }] });
  // Not in the SDK's model: the SDK names the error by its wire code.
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('ExportTaskLimitReachedFault', 'You have reached the limit of 5 concurrent export tasks'));
  const err = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(err.kind, 'throttled');
  assert.equal(err.retryable, true);
  assert.match(err.message, /StartExportTask .* failed with ExportTaskLimitReachedFault: .*at most 5 snapshot exports per account at once; lakesync waits and retries/);
  // The activity hands Temporal a retryable failure: the start is retried, not the cycle failed.
  const failure = await step('export', 'snapshot s', () => Promise.reject(err)).catch((e: unknown) => e);
  assert.ok(failure instanceof ApplicationFailure);
  assert.equal(failure.nonRetryable, false);
});

test('a refusal RDS does not explain while 5 exports of the account run is taken for the export limit and waited out; with fewer it fails as it is', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: snapshotRef.snapshotId, DBInstanceIdentifier: 'shop-db', Status: 'available', DBSnapshotArn: snapArn(snapshotRef.snapshotId) }] });
  // The limit's refusal under a name lakesync does not know.
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('QuotaExceeded', 'Cannot start export task: too many export tasks in progress'));
  const task = (i: number, status: string) => ({ ExportTaskIdentifier: `other-${i}`, SourceArn: snapArn(`other-${i}`), Status: status });
  // Two pages: four running on the first, one starting and one complete on the second.
  mocks.rds
    .on(DescribeExportTasksCommand, { Filters: [{ Name: 'status', Values: ['starting', 'in_progress'] }] })
    .resolves({ ExportTasks: [0, 1, 2, 3].map((i) => task(i, 'IN_PROGRESS')), Marker: 'page-2' })
    .on(DescribeExportTasksCommand, { Filters: [{ Name: 'status', Values: ['starting', 'in_progress'] }], Marker: 'page-2' })
    .resolves({ ExportTasks: [task(4, 'STARTING'), task(5, 'COMPLETE')] });
  const waited = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.deepEqual([waited.kind, waited.retryable], ['throttled', true]);
  assert.match(waited.message, /StartExportTask for export ls-shop-1-abc of snapshot lakesync-shop-1-abc failed with QuotaExceeded: Cannot start export task: too many export tasks in progress \(5 exports of the account are starting or running, and RDS runs at most 5 at once: lakesync takes this for that limit, waits and retries/);

  // Four running: the refusal is not the limit, and stands.
  mocks.rds.on(DescribeExportTasksCommand, { Filters: [{ Name: 'status', Values: ['starting', 'in_progress'] }], Marker: 'page-2' }).resolves({ ExportTasks: [task(5, 'COMPLETE')] });
  const failed = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(failed.retryable, false);
  assert.doesNotMatch(failed.message, /at most 5 at once/);

  // A refusal that says what it is keeps its meaning, however many exports run.
  mocks.rds.on(DescribeExportTasksCommand, { Filters: [{ Name: 'status', Values: ['starting', 'in_progress'] }], Marker: 'page-2' }).resolves({ ExportTasks: [task(4, 'STARTING')] });
  mocks.rds.on(StartExportTaskCommand).rejects(awsError('InvalidExportOnlyFault', 'The export only parameter is invalid'));
  const scope = await portError(ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: snapshotRef }));
  assert.equal(scope.retryable, false);
  assert.match(scope.message, /RDS refused the export's scope/);
});

test('a busy DB instance or cluster (InvalidDBInstanceState / InvalidDBClusterStateFault) is waited for, not a failure', async () => {
  const instance = mockedAws();
  instance.mocks.rds.on(CreateDBSnapshotCommand).rejects(new InvalidDBInstanceStateFault({ message: 'Instance shop-db is not in available state.', $metadata: { httpStatusCode: 400 } }));
  const busy = await portError(instance.ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' }));
  assert.deepEqual([busy.kind, busy.retryable], ['throttled', true]);
  assert.match(busy.message, /CreateDBSnapshot for snapshot lakesync-shop-1-abc of instance shop-db failed with InvalidDBInstanceStateFault: .*waits and retries until it is available: start it if it is stopped/);

  // The same refusal under its wire code, as an older SDK or another client names it.
  instance.mocks.rds.on(CreateDBSnapshotCommand).rejects(awsError('InvalidDBInstanceState', 'Instance shop-db is not in available state.'));
  assert.equal((await portError(instance.ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'x', mode: 'create' }))).kind, 'throttled');

  const cluster = mockedAws({ clusterId: 'shop-cluster' });
  cluster.mocks.rds.on(CreateDBClusterSnapshotCommand).rejects(new InvalidDBClusterStateFault({ message: 'DbCluster shop-cluster is in backing-up state', $metadata: { httpStatusCode: 400 } }));
  const clusterBusy = await portError(cluster.ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' }));
  assert.deepEqual([clusterBusy.kind, clusterBusy.retryable], ['throttled', true]);
  assert.match(clusterBusy.message, /DB cluster is not available for a snapshot now/);
});

test('snapshot and export starts are retried without an attempt limit, bounded in time; final errors still stop them', () => {
  const settings = { retry: { initialIntervalSeconds: 5, maximumIntervalSeconds: 300, backoffCoefficient: 2, maximumAttempts: 5 }, timeouts: { loadHours: 12, heartbeatSeconds: 60, pollInitialSeconds: 30, pollMaximumSeconds: 300 } } as CycleSettings;
  const options = rdsStartActivity(settings);
  assert.equal(options.retry?.maximumAttempts, undefined);
  assert.equal(options.scheduleToCloseTimeout, `${RDS_START_WAIT_HOURS}h`);
  assert.equal(options.retry?.maximumInterval, '300s');
  assert.deepEqual(options.retry?.nonRetryableErrorTypes, ['ConfigError', 'PlanMismatch']);
});

test('cluster snapshot ids are capped at 63 characters, the same way on every retry, and a retry adopts the capped id', async () => {
  const longSource = 'a-source-with-a-rather-long-name-that-is-allowed-by-the-config';
  const requested = snapshotIdFor(longSource, '12-0123456789abc');
  assert.ok(requested.length > CLUSTER_SNAPSHOT_ID_MAX);
  const { mocks, ports } = mockedAws({ clusterId: 'shop-cluster' });
  mocks.rds.on(CreateDBClusterSnapshotCommand).resolvesOnce({ DBClusterSnapshot: { SnapshotCreateTime: new Date('2025-02-01T00:00:00Z') } }).rejects(awsError('DBClusterSnapshotAlreadyExistsFault', 'exists'));
  const first = await ports.snapshot.startSnapshot({ source: longSource, snapshotId: requested, mode: 'create' });
  const sent = mocks.rds.commandCalls(CreateDBClusterSnapshotCommand)[0]!.args[0].input.DBClusterSnapshotIdentifier!;
  assert.ok(sent.length <= CLUSTER_SNAPSHOT_ID_MAX, `${sent} has ${sent.length} characters`);
  assert.match(sent, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  assert.ok(sent.endsWith('-12-0123456789abc'), `${sent} keeps the cycle key at its end`);
  assert.equal(first.snapshotId, sent);

  mocks.rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: sent, DBClusterIdentifier: 'shop-cluster', Status: 'available' }] });
  const retried = await ports.snapshot.startSnapshot({ source: longSource, snapshotId: requested, mode: 'create' });
  assert.deepEqual([retried.snapshotId, retried.adopted], [sent, true]);
  assert.equal(mocks.rds.commandCalls(CreateDBClusterSnapshotCommand)[1]!.args[0].input.DBClusterSnapshotIdentifier, sent);

  // Two long ids that differ only past the cap stay apart; a short id is left as it is.
  assert.notEqual(capRdsIdentifier(`${requested}-x`, 63), capRdsIdentifier(`${requested}-y`, 63));
  assert.equal(capRdsIdentifier('lakesync-shop-1-abc', 63), 'lakesync-shop-1-abc');
});

test('a snapshot of our instance is adopted whatever the case of the configured instance id (RDS stores it lowercase)', async () => {
  const { mocks, ports } = mockedAws({ raw: { source: { kind: 'rds', instanceId: 'Shop-DB' } } });
  mocks.rds.on(CreateDBSnapshotCommand).rejects(awsError('DBSnapshotAlreadyExistsFault', 'exists'));
  mocks.rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'lakesync-shop-1-abc', DBInstanceIdentifier: 'shop-db', Status: 'available', SnapshotCreateTime: new Date('2025-01-01T00:00:00Z') }] });
  const ref = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
  assert.equal(ref.adopted, true);
});
