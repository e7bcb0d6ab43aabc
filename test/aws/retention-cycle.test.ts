/**
 * Retention in whole cycles on a real Temporal dev server with moto server as AWS, keeping the
 * newest snapshot and export (N = 1). The export of every cycle skips public.audit_log, which so
 * stays failed and needs its export for a rerun: cycle 2 deletes nothing (cycle 1's export is the
 * failed table's), cycle 3 deletes cycle 1's snapshot and export and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { LakesyncConfig } from '../../src/config/schema';
import { cycleKey, exportIdFor, snapshotIdFor, sourceWorkflowId } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import { createWorker } from '../../src/worker';
import type { SourceStatus } from '../../src/workflows/messages';
import { quietTemporalLogs } from '../helpers/env';
import { awsSource, EXPORT_BUCKET, REGION } from './fixtures';
import { EXPORT_PREFIX, type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, writeLoadResults } from './moto-cycle';

let env: MotoCycleEnv | undefined;
before(async () => {
  quietTemporalLogs();
  env = await startMotoCycleEnv();
});
after(async () => {
  await env?.close();
});

test('whole cycles on moto: the failed table keeps its export; the oldest snapshot and export go once nothing needs them', { timeout: 300_000 }, async () => {
  const { clients, moto } = env!;
  const taskQueue = `lakesync-aws-retention-${Date.now()}`;
  const config: LakesyncConfig = {
    temporal: { taskQueue, namespace: 'default', address: env!.server.address },
    sources: { shop: awsSource({ endpoint: moto.endpoint, raw: { retention: { snapshots: 1, exports: 1 } } }) },
  };
  const { worker, close } = await createWorker({ config, ports: { shop: env!.ports } });
  const connection = await Connection.connect({ address: env!.server.address });
  const snapshots = async () => ((await clients.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'shop-db' }))).DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier!).sort();
  const exportFolders = async () =>
    ((await clients.s3.send(new ListObjectsV2Command({ Bucket: EXPORT_BUCKET, Prefix: `${EXPORT_PREFIX}/`, Delimiter: '/' }))).CommonPrefixes ?? [])
      .map((p) => p.Prefix!.slice(EXPORT_PREFIX.length + 1, -1))
      .filter((f) => f.startsWith('ls-'))
      .sort();
  try {
    const client = new Client({ connection, namespace: 'default' });
    await worker.runUntil(async () => {
      const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
      const ids = (n: number) => ({ snapshot: snapshotIdFor('shop', cycleKey(n, handle.firstExecutionRunId)), export: exportIdFor('shop', cycleKey(n, handle.firstExecutionRunId)) });
      const cycle = async (n: number): Promise<CycleResult> => {
        const cycleId = cycleKey(n, handle.firstExecutionRunId);
        await putExportFiles(env!, ids(n).export);
        await moto.queueAthenaResults(REGION, [
          { columns: ['row_count'], rows: [['42']] },
          { columns: ['row_count'], rows: [['42']] },
        ]);
        await handle.signal('requestSync', { requestedBy: 'test' });
        await writeLoadResults(env!, client, cycleId);
        const status = await until(`cycle ${n}`, 120_000, async () => {
          const s = await handle.query<SourceStatus>('status');
          return s.recentCycles.length >= n && s.phase === 'idle' ? s : undefined;
        });
        assert.deepEqual(status.failed['public.audit_log']?.exportId, ids(n).export, 'the skipped table stays failed, on this cycle export');
        return client.workflow.getHandle(status.recentCycles[0]!.workflowId).result();
      };

      const first = await cycle(1);
      assert.deepEqual(first.warnings.filter((w) => w.startsWith('retention')), []);
      await cycle(2);
      assert.deepEqual(await snapshots(), [ids(1).snapshot, ids(2).snapshot].sort(), "cycle 1's snapshot is kept: public.audit_log's rerun needed its export");
      assert.deepEqual(await exportFolders(), [ids(1).export, ids(2).export].sort());

      const third = await cycle(3);
      assert.deepEqual(third.warnings.filter((w) => w.startsWith('retention')), []);
      assert.deepEqual(await snapshots(), [ids(2).snapshot, ids(3).snapshot].sort(), "cycle 1's snapshot goes; cycle 2's stays for the rerun");
      assert.deepEqual(await exportFolders(), [ids(2).export, ids(3).export].sort());
      await handle.terminate('test done');
    });
  } finally {
    await connection.close();
    await close();
  }
});
