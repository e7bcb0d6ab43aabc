/**
 * Retention in whole cycles on a real Temporal dev server with moto server as AWS, keeping the
 * newest snapshot and export (N = 1). The export of every cycle skips public.audit_log, which so
 * stays failed and reruns from a new export (the same one would skip it again): it pins neither
 * export nor snapshot. What a cycle keeps is fixed when it starts: the source's last export then
 * (which reruns of tables without an export of their own read), not its snapshot. So cycle 2
 * deletes cycle 1's snapshot and keeps its export; cycle 3 deletes cycle 1's export and cycle 2's
 * snapshot. (An export and snapshot a failed table does rerun from are kept: test/aws/retention.test.ts.)
 * Each cycle's working files (its manifests, and the load results beside the Glue scripts) go with
 * the cycles past the newest one, but for the cycle of the export kept; the source's own documents stay.
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
import { awsSource, EXPORT_BUCKET, REGION, SCRIPT_BUCKET } from './fixtures';
import { EXPORT_PREFIX, type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, writeLoadResults } from './moto-cycle';

let env: MotoCycleEnv | undefined;
before(async () => {
  quietTemporalLogs();
  env = await startMotoCycleEnv();
});
after(async () => {
  await env?.close();
});

test('whole cycles on moto: a table the export skipped pins no export; the oldest snapshot and export go once nothing needs them', { timeout: 300_000 }, async () => {
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
  /** The folders right under `prefix` in `bucket`. */
  const folders = async (bucket: string, prefix: string) =>
    ((await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/' }))).CommonPrefixes ?? []).map((p) => p.Prefix!.slice(prefix.length, -1)).sort();
  const manifestFolders = () => folders(EXPORT_BUCKET, `${EXPORT_PREFIX}/lakesync-manifests/shop/`);
  const resultFolders = () => folders(SCRIPT_BUCKET, 'lakesync/results/shop/');
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
        const failed = status.failed['public.audit_log'];
        assert.deepEqual([failed?.cycleId, failed?.exportId, failed?.newExport], [cycleId, undefined, true], 'the skipped table stays failed, and reruns from a new export (this one would skip it again)');
        return client.workflow.getHandle(status.recentCycles[0]!.workflowId).result();
      };

      const first = await cycle(1);
      assert.deepEqual(first.warnings.filter((w) => w.startsWith('retention')), []);
      await cycle(2);
      assert.deepEqual(await snapshots(), [ids(2).snapshot], "cycle 1's snapshot goes: public.audit_log's rerun takes a new export");
      assert.deepEqual(await exportFolders(), [ids(1).export, ids(2).export].sort(), "cycle 1's export stays: it was the last export when cycle 2 started");

      const third = await cycle(3);
      assert.deepEqual(third.warnings.filter((w) => w.startsWith('retention')), []);
      assert.deepEqual(await snapshots(), [ids(3).snapshot], "cycle 2's snapshot goes");
      assert.deepEqual(await exportFolders(), [ids(2).export, ids(3).export].sort(), "cycle 1's export goes; cycle 2's was the last when cycle 3 started");
      const cycles = [2, 3].map((n) => cycleKey(n, handle.firstExecutionRunId));
      assert.deepEqual(await resultFolders(), [...cycles].sort(), "cycle 1's load results go; cycle 2's stay with its export");
      const manifests = await manifestFolders();
      assert.deepEqual(manifests.filter((f) => /^\d+-/.test(f)), [...cycles].sort(), "cycle 1's manifests go; cycle 2's stay with its export");
      const sourceTables = await clients.s3.send(new ListObjectsV2Command({ Bucket: EXPORT_BUCKET, Prefix: `${EXPORT_PREFIX}/lakesync-manifests/shop/source-tables.json` }));
      assert.equal(sourceTables.KeyCount, 1, 'the source table list stays');
      await handle.terminate('test done');
    });
  } finally {
    await connection.close();
    await close();
  }
});
