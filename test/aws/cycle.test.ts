/**
 * One whole sync cycle on a real Temporal dev server with moto server as AWS: the AWS ports
 * over HTTP, the real workflows and activities. The test plays the parts moto cannot: it
 * writes the export's files into S3, paces the Glue runs with moto's state manager, writes
 * the result JSONs as the Glue job would, and queues Athena's answers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GetJobCommand } from '@aws-sdk/client-glue';
import { ListPermissionsCommand } from '@aws-sdk/client-lakeformation';
import { cycleKey, exportIdFor, sourceWorkflowId } from '../../src/ids';
import type { SourceStatus } from '../../src/workflows/messages';
import { READER, REGION, TABLE_BUCKET } from './fixtures';
import { type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, withWorker, writeLoadResults } from './moto-cycle';

let env: MotoCycleEnv | undefined;

before(async () => {
  env = await startMotoCycleEnv();
});

after(async () => {
  await env?.close();
});

test('a sync cycle runs snapshot, export, discover, Glue loads, grants and Athena verification against moto', { timeout: 180_000 }, async () => {
  const { clients, moto, warnings } = env!;
  // Both tables hold 42 rows, so the order of the two verifications does not matter.
  await moto.queueAthenaResults(REGION, [
    { columns: ['row_count'], rows: [['42']] },
    { columns: ['row_count'], rows: [['42']] },
  ]);

  await withWorker(env!, 'cycle', async (client, taskQueue) => {
    const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
    // The cycle's ids follow from the workflow's first run id: RDS would write the export
    // there, so the test puts the export's files in place before asking for the sync.
    const cycleId = cycleKey(1, handle.firstExecutionRunId);
    const exportId = exportIdFor('shop', cycleId);
    await putExportFiles(env!, exportId);
    await handle.signal('requestSync', { requestedBy: 'test' });
    await writeLoadResults(env!, client, cycleId);

    const status = await until('the cycle to finish', 120_000, async () => {
      const s = await handle.query<SourceStatus>('status');
      return s.lastCycle ? s : undefined;
    });
    const cycle = status.lastCycle!;
    const byTable = Object.fromEntries(cycle.tables.map((t) => [t.table, t]));
    assert.equal(cycle.exportId, exportId);
    assert.deepEqual({ orders: byTable['public.orders']?.status, events: byTable['public.events']?.status }, { orders: 'committed', events: 'committed' });
    assert.equal(byTable['public.orders']?.verified, true);
    assert.equal(byTable['public.orders']?.inserted, 42);
    // The table the export skipped is an outcome with RDS's reason, not silence.
    assert.equal(byTable['public.audit_log']?.status, 'failed');
    assert.match(byTable['public.audit_log']?.error?.message ?? '', /unsupported column type/);
    assert.equal(cycle.status, 'partial');
    assert.deepEqual(cycle.counts, { committed: 2, failed: 1, skipped: 0 });

    assert.equal(status.ledger['public.orders']?.icebergSnapshotId, '8744736658442914487');
    assert.equal(status.ledger['public.orders']?.rowCount, 42);
    assert.equal(status.ledger['public.events']?.exportId, exportId);
    await handle.terminate('test done');
  });

  // What the cycle left in "AWS": the job definition and the readers' grants.
  const job = (await clients.glue.send(new GetJobCommand({ JobName: 'lakesync-load-shop' }))).Job!;
  assert.equal(job.GlueVersion, '5.0');
  const grants = await clients.lakeformation.send(
    new ListPermissionsCommand({ Principal: { DataLakePrincipalIdentifier: READER }, Resource: { Table: { CatalogId: `123456789012:s3tablescatalog/${TABLE_BUCKET}`, DatabaseName: 'shop', Name: 'events' } } }),
  );
  assert.deepEqual(grants.PrincipalResourcePermissions?.[0]?.Permissions?.sort(), ['DESCRIBE', 'SELECT']);
  assert.ok(warnings.every((w) => /GetJobRuns is not implemented by the emulator/.test(w)));
});
