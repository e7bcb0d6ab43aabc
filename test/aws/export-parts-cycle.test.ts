/**
 * A rerun reuses the export its table failed on. Part files gone from that export since it
 * completed (an S3 lifecycle rule on the export prefix, a delete) would load the table without
 * their rows, and a merge would delete those rows from the lake while the source still has them.
 * On a real Temporal dev server with moto server as AWS: cycle 1's export holds public.orders in two
 * part files (52 rows) while the Glue job reports 42, so its verification fails it; then one part
 * file goes, and a rerun of public.orders must not load it from what is left.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { cycleKey, exportIdFor, sourceWorkflowId } from '../../src/ids';
import type { CycleResult } from '../../src/model';
import type { SourceStatus } from '../../src/workflows/messages';
import { quietTemporalLogs } from '../helpers/env';
import { EXPORT_BUCKET, parquetPart, REGION } from './fixtures';
import { EXPORT_PREFIX, type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, withWorker, writeLoadResults, writeLoadResultsAhead } from './moto-cycle';

let env: MotoCycleEnv | undefined;
before(async () => {
  quietTemporalLogs();
  env = await startMotoCycleEnv();
});
after(async () => {
  await env?.close();
});

test('a rerun does not load a table from an export that lost one of its part files since it completed: it fails, and its next rerun takes a new export', { timeout: 300_000 }, async () => {
  const { clients, moto } = env!;
  await withWorker(env!, 'export-parts', async (client, taskQueue) => {
    const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
    const cycleId = (n: number) => cycleKey(n, handle.firstExecutionRunId);
    const idle = (cycles: number) =>
      until(`cycle ${cycles}`, 120_000, async () => {
        const s = await handle.query<SourceStatus>('status');
        return s.recentCycles.length >= cycles && s.phase === 'idle' ? s : undefined;
      });
    const lastCycle = async (s: SourceStatus): Promise<CycleResult> => client.workflow.getHandle(s.recentCycles[0]!.workflowId).result();

    // Cycle 1: public.orders is 42 + 10 rows in two part files of its export; the job reports 42, so verification fails it.
    const export1 = exportIdFor('shop', cycleId(1));
    await putExportFiles(env!, export1);
    const secondPart = `${EXPORT_PREFIX}/${export1}/shop/public.orders/2/part-00000-9f8e.gz.parquet`;
    await clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: secondPart, Body: parquetPart(10) }));
    await moto.queueAthenaResults(REGION, [0, 1].map(() => ({ columns: ['row_count'], rows: [['42']] })));
    await handle.signal('requestSync', { requestedBy: 'test' });
    await writeLoadResults(env!, client, cycleId(1));
    const first = await idle(1);
    assert.equal(first.failed['public.orders']?.exportId, export1, 'public.orders failed on export 1, which its rerun reuses');
    assert.match(first.failed['public.orders']!.message, /verif/i);

    // The second part file goes (a lifecycle rule, a delete); the first still holds 42 rows, the count the job would report again.
    await clients.s3.send(new DeleteObjectCommand({ Bucket: EXPORT_BUCKET, Key: secondPart }));
    await writeLoadResultsAhead(env!, cycleId(2));
    await moto.queueAthenaResults(REGION, [{ columns: ['row_count'], rows: [['42']] }]);
    await handle.signal('requestRerun', { tables: ['public.orders'], requestedBy: 'test' });
    const second = await idle(2);
    const rerun = await lastCycle(second);
    const orders = rerun.tables.find((t) => t.table === 'public.orders');
    assert.equal(orders?.status, 'failed', `public.orders must not be loaded from export 1 without its second part file: ${JSON.stringify(orders)}`);
    assert.equal(orders?.load, undefined, 'no load ran');
    assert.equal(orders?.error?.phase, 'discover');
    assert.match(orders!.error!.message, new RegExp(`part files in export ${export1} changed since the export completed \\(2 file\\(s\\), \\d+ bytes then; 1 file\\(s\\), \\d+ bytes now\\).*a rerun of the table takes a new export`));
    assert.equal(second.ledger['public.orders'], undefined, 'no watermark for public.orders');
    assert.equal(second.failed['public.orders']?.newExport, true, 'its next rerun takes a new export, not this one again');
    await handle.terminate('test done');
  });
});
