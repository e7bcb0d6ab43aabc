/**
 * Adoption on a real Temporal dev server with moto server as AWS and the real RDS adapter: a
 * snapshot and an export task that already carry the cycle's ids (an earlier attempt of the
 * same cycle made them) are adopted, and no second snapshot or export task is made.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateDBSnapshotCommand, DescribeDBSnapshotsCommand, DescribeExportTasksCommand, StartExportTaskCommand } from '@aws-sdk/client-rds';
import { cycleKey, cycleWorkflowId, exportIdFor, snapshotIdFor, sourceWorkflowId } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import type { SourceStatus } from '../../src/workflows/messages';
import { EXPORT_BUCKET, EXPORT_ROLE, REGION } from './fixtures';
import { EXPORT_PREFIX, type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, withWorker, writeLoadResults } from './moto-cycle';

let env: MotoCycleEnv | undefined;

before(async () => {
  env = await startMotoCycleEnv();
});

after(async () => {
  await env?.close();
});

test('a cycle adopts the snapshot and the export task that already carry its ids: one of each in RDS', { timeout: 180_000 }, async () => {
  const { clients, moto } = env!;
  await moto.queueAthenaResults(REGION, [
    { columns: ['row_count'], rows: [['42']] },
    { columns: ['row_count'], rows: [['42']] },
  ]);

  await withWorker(env!, 'adopt', async (client, taskQueue) => {
    // Cycle ids derive from the source workflow's first run id: start it idle, then make the
    // snapshot and the export with the ids its first cycle will ask for.
    const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
    const cycleId = cycleKey(1, handle.firstExecutionRunId);
    const snapshotId = snapshotIdFor('shop', cycleId);
    const exportId = exportIdFor('shop', cycleId);

    const made = (await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: snapshotId }))).DBSnapshot!;
    await clients.rds.send(
      new StartExportTaskCommand({ ExportTaskIdentifier: exportId, SourceArn: made.DBSnapshotArn!, S3BucketName: EXPORT_BUCKET, S3Prefix: EXPORT_PREFIX, IamRoleArn: EXPORT_ROLE, KmsKeyId: 'alias/lakesync-export' }),
    );
    await putExportFiles(env!, exportId);

    await handle.signal('requestSync', { requestedBy: 'test' });
    await writeLoadResults(env!, client, cycleId);
    const status = await until('the cycle to finish', 120_000, async () => {
      const s = await handle.query<SourceStatus>('status');
      return s.lastCycle ? s : undefined;
    });

    const result = (await client.workflow.getHandle(cycleWorkflowId('shop', cycleId)).result()) as CycleResult;
    assert.deepEqual(
      { snapshot: result.snapshot?.snapshotId, snapshotAdopted: result.snapshot?.adopted, export: result.export?.exportId, exportAdopted: result.export?.adopted },
      { snapshot: snapshotId, snapshotAdopted: true, export: exportId, exportAdopted: true },
    );
    // The snapshot time is the one of the snapshot made before the cycle.
    assert.equal(result.snapshot?.createdAt, made.SnapshotCreateTime!.toISOString());
    assert.equal(result.export?.location, `s3://${EXPORT_BUCKET}/${EXPORT_PREFIX}/${exportId}`);
    // The cycle went on from the adopted export: it discovered that export's tables and loaded them.
    assert.equal(status.lastCycle!.exportId, exportId);
    const tables = Object.fromEntries(status.lastCycle!.tables.map((t) => [t.table, t]));
    assert.deepEqual(Object.keys(tables).sort(), ['public.audit_log', 'public.events', 'public.orders']);
    assert.deepEqual([tables['public.orders']?.inserted, tables['public.events']?.inserted], [42, 42]);

    // RDS holds exactly the snapshot and the export task made before the cycle.
    const snapshots = (await clients.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'shop-db' }))).DBSnapshots ?? [];
    assert.deepEqual(
      snapshots.map((s) => s.DBSnapshotIdentifier),
      [snapshotId],
    );
    const tasks = (await clients.rds.send(new DescribeExportTasksCommand({}))).ExportTasks ?? [];
    assert.deepEqual(
      tasks.map((t) => ({ id: t.ExportTaskIdentifier, source: t.SourceArn })),
      [{ id: exportId, source: made.DBSnapshotArn }],
    );
    await handle.terminate('test done');
  });
});
