/**
 * Whole cycles on a real Temporal dev server with moto server as AWS: the AWS ports over HTTP,
 * the real workflows and activities. The harness plays the parts moto cannot: it writes the
 * export's files into S3 and, once the loads run, the result JSONs the Glue job would write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { LakesyncConfig } from '../../src/config/schema';
import { type DevServer, startDevServer } from '../../src/devserver';
import { cycleWorkflowId, runTokenFor } from '../../src/ids';
import type { LoadRequest } from '../../src/model';
import type { Ports } from '../../src/ports';
import { createWorker } from '../../src/worker';
import type { CycleProgress } from '../../src/workflows/messages';
import { planEntry } from '../helpers/plan';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { pollFor } from '../helpers/within';
import { awsSource, EXPORT_BUCKET, exportFiles, glueScriptsFixture, loadResult, REGION, SCRIPT_BUCKET } from './fixtures';

export const EXPORT_PREFIX = 'lakesync/exports';

export interface MotoCycleEnv {
  moto: MotoServer;
  server: DevServer;
  clients: AwsClients;
  ports: Ports;
  /** What the adapters reported through their `warn` hook. */
  warnings: string[];
  close(): Promise<void>;
}

/** moto and a dev server, the buckets and the RDS instance of `awsSource()`, Glue runs paced over several polls. */
export async function startMotoCycleEnv(): Promise<MotoCycleEnv> {
  useTestCredentials();
  const workDir = mkdtempSync(join(tmpdir(), 'lakesync-aws-cycle-'));
  const scriptsDir = glueScriptsFixture();
  const moto = await startMoto();
  const server = await startDevServer({ dbFile: join(workDir, 'temporal.db') });
  const settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: scriptsDir });
  const clients = createClients(settings);
  const warnings: string[] = [];
  const ports = buildAwsPorts(settings, clients, { athenaPolling: { initialMs: 50, maxMs: 200, timeoutMs: 10_000 }, warn: (m) => warnings.push(m) });
  for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET, 'shop-athena']) {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  }
  await clients.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));
  // Each Glue run goes STARTING -> RUNNING -> SUCCEEDED over several polls.
  await moto.setTransition('glue::job_run', { progression: 'manual', times: 3 });
  process.env.TEMPORAL_ADDRESS = server.address;
  return {
    moto,
    server,
    clients,
    ports,
    warnings,
    async close() {
      destroyClients(clients);
      await server.stop();
      await moto.stop();
      for (const dir of [workDir, scriptsDir]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` with a worker for source `shop` on its own task queue and a client. */
export async function withWorker(env: MotoCycleEnv, name: string, fn: (client: Client, taskQueue: string) => Promise<void>): Promise<void> {
  const taskQueue = `lakesync-aws-${name}-${Date.now()}`;
  const config: LakesyncConfig = { temporal: { taskQueue, namespace: 'default', address: env.server.address }, sources: { shop: awsSource({ endpoint: env.moto.endpoint }) } };
  const { worker, close } = await createWorker({ config, ports: { shop: env.ports } });
  const connection = await Connection.connect({ address: env.server.address });
  try {
    const client = new Client({ connection, namespace: 'default' });
    await worker.runUntil(() => fn(client, taskQueue));
  } finally {
    await connection.close();
    await close();
  }
}

/** Asks `probe` every 200 ms until it answers (a failing probe is asked again). */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return pollFor(what, () => probe().catch(() => undefined), timeoutMs, 200);
}

/** The files RDS would write for `exportId`: moto's export tasks write none. */
export async function putExportFiles(env: MotoCycleEnv, exportId: string): Promise<void> {
  for (const f of exportFiles(EXPORT_PREFIX, exportId)) await env.clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
}

/** The two tables the export files hold, with the Iceberg snapshot id each load reports. */
export const LOADED_TABLES = [
  ['public.orders', 'orders', '8744736658442914487'],
  ['public.events', 'events', '1234567890123456789'],
] as const;

/** The start and end of a job that runs an hour from now: later than any run a test starts. */
function jobTimesAfterRunStart(): { startedAt: string; finishedAt: string } {
  const start = Date.now() + 3_600_000;
  return { startedAt: new Date(start).toISOString(), finishedAt: new Date(start + 60_000).toISOString() };
}

/** Once the cycle reaches its loads, writes each table's result JSON as the Glue job would (42 rows each). */
export async function writeLoadResults(env: MotoCycleEnv, client: Client, cycleId: string): Promise<void> {
  await until('the load phase', 60_000, async () => {
    const progress = await client.workflow.getHandle(cycleWorkflowId('shop', cycleId)).query<CycleProgress>('progress');
    return progress.phase === 'load' ? progress : undefined;
  });
  await writeLoadResultsAhead(env, cycleId);
}

/** Writes each table's result JSON of cycle `cycleId` as the Glue job would (42 rows each), before any load of it starts. */
export async function writeLoadResultsAhead(env: MotoCycleEnv, cycleId: string): Promise<void> {
  for (const [table, lakeTable, snapshotId] of LOADED_TABLES) {
    // Only the source, the cycle and the table decide where a load's result goes.
    const request = { source: 'shop', cycleId, plan: planEntry({ table, lakeTable, action: 'create' }) } as Omit<LoadRequest, 'resultLocation'>;
    const location = env.ports.load.resultLocation(request).replace(`s3://${SCRIPT_BUCKET}/`, '');
    // Written ahead of the run it stands for, it is timed as that run's job would be: after the run starts
    // (a result whose job began before its run started is an earlier run's, which the load ignores).
    const result = { ...loadResult(table, lakeTable, cycleId, runTokenFor(cycleId, table), 42, snapshotId), ...jobTimesAfterRunStart() };
    await env.clients.s3.send(new PutObjectCommand({ Bucket: SCRIPT_BUCKET, Key: location, Body: JSON.stringify(result) }));
  }
}
