/**
 * A whole cycle on a real Temporal dev server with moto server as AWS, while RDS refuses to start
 * the snapshot (InvalidDBInstanceState: the instance is busy) and the export (ExportTaskLimitReached:
 * 5 exports already run in the account) more often than retry.maximumAttempts allows. moto answers
 * neither refusal, so the test makes the adapters' RDS calls fail that way first, with the error
 * shapes the SDK gives; the cycle waits them out and completes instead of failing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InvalidDBInstanceStateFault } from '@aws-sdk/client-rds';
import { toPortError } from '../../src/aws/errors';
import { cycleKey, exportIdFor, sourceWorkflowId } from '../../src/ids';
import type { ExportPort, SnapshotPort } from '../../src/ports';
import type { SourceStatus } from '../../src/workflows/messages';
import { awsSource, REGION } from './fixtures';
import { awsError } from './mocks';
import { type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, withWorker, writeLoadResults } from './moto-cycle';

let env: MotoCycleEnv | undefined;
/** More refusals than the fixture's retry.maximumAttempts. */
const REFUSALS = awsSource().retry.maximumAttempts + 1;

before(async () => {
  env = await startMotoCycleEnv();
});

after(async () => {
  await env?.close();
});

test('snapshot and export starts wait out a busy instance and the account export limit; the cycle completes', { timeout: 240_000 }, async () => {
  const { moto, ports } = env!;
  const refused = { snapshot: 0, export: 0 };
  const snapshot: SnapshotPort = ports.snapshot;
  const exports: ExportPort = ports.export;
  ports.snapshot = {
    describeSnapshot: (id) => snapshot.describeSnapshot(id),
    startSnapshot: async (req) => {
      if (refused.snapshot < REFUSALS) {
        refused.snapshot++;
        const busy = new InvalidDBInstanceStateFault({ message: 'Instance shop-db is not in available state.', $metadata: { httpStatusCode: 400 } });
        throw toPortError(busy, { service: 'RDS', operation: 'CreateDBSnapshot', subject: `snapshot ${req.snapshotId} of instance shop-db` });
      }
      return snapshot.startSnapshot(req);
    },
  };
  ports.export = {
    describeExport: (id) => exports.describeExport(id),
    startExport: async (req) => {
      if (refused.export < REFUSALS) {
        refused.export++;
        const limit = awsError('ExportTaskLimitReachedFault', 'You have reached the limit of 5 concurrent export tasks');
        throw toPortError(limit, { service: 'RDS', operation: 'StartExportTask', subject: `export ${req.exportId}` });
      }
      return exports.startExport(req);
    },
  };
  await moto.queueAthenaResults(REGION, [
    { columns: ['row_count'], rows: [['42']] },
    { columns: ['row_count'], rows: [['42']] },
  ]);

  await withWorker(env!, 'rds-wait', async (client, taskQueue) => {
    const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
    const cycleId = cycleKey(1, handle.firstExecutionRunId);
    await putExportFiles(env!, exportIdFor('shop', cycleId));
    await handle.signal('requestSync', { requestedBy: 'test' });
    await writeLoadResults(env!, client, cycleId).catch(async (err) => {
      // Say why: the cycle's error (e.g. a start that was not retried) is in the source's status.
      console.error('the cycle never reached its loads; source status:', JSON.stringify(await handle.query<SourceStatus>('status')), 'refusals:', JSON.stringify(refused));
      throw err;
    });
    const status = await until('the cycle to finish', 180_000, async () => {
      const s = await handle.query<SourceStatus>('status');
      return s.lastCycle ? s : undefined;
    });
    const cycle = status.lastCycle!;
    assert.deepEqual(refused, { snapshot: REFUSALS, export: REFUSALS });
    const byTable = Object.fromEntries(cycle.tables.map((t) => [t.table, t.status]));
    assert.deepEqual({ orders: byTable['public.orders'], events: byTable['public.events'] }, { orders: 'committed', events: 'committed' }, JSON.stringify(cycle));
    assert.notEqual(cycle.status, 'failed');
    await handle.terminate('test done');
  });
});
