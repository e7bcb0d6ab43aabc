/**
 * One whole sync cycle on a real Temporal dev server with moto server as AWS: the AWS ports
 * over HTTP, the real workflows and activities. The test plays the parts moto cannot: it
 * writes the export's files into S3, paces the Glue runs with moto's state manager, writes
 * the result JSONs as the Glue job would, and queues Athena's answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetJobCommand } from '@aws-sdk/client-glue';
import { ListPermissionsCommand } from '@aws-sdk/client-lakeformation';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import { planEntry } from '../helpers/plan';
import { type DevServer, startDevServer } from '../../src/devserver';
import { cycleKey, cycleWorkflowId, exportIdFor, runTokenFor, sourceWorkflowId } from '../../src/ids';
import type { LakesyncConfig } from '../../src/config/schema';
import type { CycleProgress, SourceStatus } from '../../src/workflows/messages';
import { createWorker } from '../../src/worker';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, exportFiles, glueScriptsFixture, loadResult, READER, REGION, SCRIPT_BUCKET, TABLE_BUCKET } from './fixtures';

let moto: MotoServer | undefined;
let server: DevServer | undefined;
let clients: AwsClients | undefined;
let workDir: string | undefined;
let scriptsDir: string | undefined;

before(async () => {
  useTestCredentials();
  workDir = mkdtempSync(join(tmpdir(), 'lakesync-aws-cycle-'));
  scriptsDir = glueScriptsFixture();
  moto = await startMoto();
  server = await startDevServer({ dbFile: join(workDir, 'temporal.db') });
});

after(async () => {
  if (clients) destroyClients(clients);
  await server?.stop();
  await moto?.stop();
  for (const dir of [workDir, scriptsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await delay(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a sync cycle runs snapshot, export, discover, Glue loads, grants and Athena verification against moto', { timeout: 180_000 }, async () => {
  const source = awsSource({ endpoint: moto!.endpoint });
  const settings = awsSettings('shop', source, { glueScriptsDir: scriptsDir! });
  clients = createClients(settings);
  const warnings: string[] = [];
  const ports = buildAwsPorts(settings, clients, { athenaPolling: { initialMs: 50, maxMs: 200, timeoutMs: 10_000 }, warn: (m) => warnings.push(m) });

  for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET, 'shop-athena']) {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  }
  await clients.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));
  // Each Glue run goes STARTING -> RUNNING -> SUCCEEDED over several polls.
  await moto!.setTransition('glue::job_run', { progression: 'manual', times: 3 });
  // Both tables hold 42 rows, so the order of the two verifications does not matter.
  await moto!.queueAthenaResults(REGION, [
    { columns: ['row_count'], rows: [['42']] },
    { columns: ['row_count'], rows: [['42']] },
  ]);

  process.env.TEMPORAL_ADDRESS = server!.address;
  const taskQueue = `lakesync-aws-cycle-${Date.now()}`;
  const config: LakesyncConfig = { temporal: { taskQueue, namespace: 'default', address: server!.address }, sources: { shop: source } };
  const { worker, close } = await createWorker({ config, ports: { shop: ports } });
  const connection = await Connection.connect({ address: server!.address });
  const client = new Client({ connection, namespace: 'default' });
  try {
    await worker.runUntil(async () => {
      const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
      // The cycle's ids follow from the workflow's first run id: RDS would write the export
      // there, so the test puts the export's files in place before asking for the sync.
      const cycleId = cycleKey(1, handle.firstExecutionRunId);
      const exportId = exportIdFor('shop', cycleId);
      for (const f of exportFiles('lakesync/exports', exportId)) await clients!.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
      await handle.signal('requestSync', { requestedBy: 'test' });

      // Once the loads run, write each table's result JSON as the Glue job would.
      await until('the load phase', 60_000, async () => {
        const progress = await client.workflow.getHandle(cycleWorkflowId('shop', cycleId)).query<CycleProgress>('progress');
        return progress.phase === 'load' ? progress : undefined;
      });
      for (const [table, lakeTable, snapshotId] of [
        ['public.orders', 'orders', '8744736658442914487'],
        ['public.events', 'events', '1234567890123456789'],
      ] as const) {
        const base = { source: 'shop', cycleId, runToken: runTokenFor(cycleId, table), exportLocation: '', database: 'shop', namespace: 'shop', plan: planEntry({ table, lakeTable, action: 'create' }) };
        const location = ports.load.resultLocation(base).replace(`s3://${SCRIPT_BUCKET}/`, '');
        await clients!.s3.send(new PutObjectCommand({ Bucket: SCRIPT_BUCKET, Key: location, Body: JSON.stringify(loadResult(table, lakeTable, cycleId, base.runToken, 42, snapshotId)) }));
      }

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
    const job = (await clients.glue.send(new GetJobCommand({ JobName: 'lakesync-load' }))).Job!;
    assert.equal(job.GlueVersion, '5.0');
    const grants = await clients.lakeformation.send(
      new ListPermissionsCommand({ Principal: { DataLakePrincipalIdentifier: READER }, Resource: { Table: { CatalogId: `123456789012:s3tablescatalog/${TABLE_BUCKET}`, DatabaseName: 'shop', Name: 'events' } } }),
    );
    assert.deepEqual(grants.PrincipalResourcePermissions?.[0]?.Permissions?.sort(), ['DESCRIBE', 'SELECT']);
    assert.ok(warnings.every((w) => /GetJobRuns is not implemented by the emulator/.test(w)));
  } finally {
    await connection.close();
    await close();
  }
});
