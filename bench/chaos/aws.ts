/**
 * The chaos run's AWS path: a 20-table source, three cycles on a real Temporal dev server, moto
 * server as AWS behind the fault-injecting proxy, and the worker (a process of its own, its AWS
 * endpoint the proxy) killed at seeded moments: during the snapshot and export waits, at a load's
 * start and mid-load, between a table's load and its grant, during verification and during the
 * source workflow's continue-as-new.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import { sourceSchema } from '../../src/config/schema';
import { cycleKey, cycleWorkflowId, exportIdFor, sourceWorkflowId } from '../../src/ids';
import { type SourceStatus, SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { startMoto, useTestCredentials } from '../../test/helpers/moto';
import { AwsSimulation } from './aws-sim';
import { KillSwitch, type Moment, planKills } from './kills';
import { keyedPrng } from './prng';
import { startFaultProxy } from './proxy';
import { cycleFigures, cycleLine, type PathFigures, type PathOptions, tableFigures } from './report';
import { exportFiles, SimSource } from './source';
import { activityTimeouts, cycleOutcome, startChaosServer } from './temporal';
import { WorkerProcess } from './workers';

const REGION = 'us-east-2';
const ACCOUNT = '123456789012';
const EXPORT_BUCKET = 'chaos-exports';
const SCRIPT_BUCKET = 'chaos-glue';
const EXPORT_PREFIX = 'lakesync/exports';
const SOURCE = 'shop';

function rawSource(endpoint: string, tables: string[]): Record<string, unknown> {
  return {
    backend: 'aws',
    database: 'shop',
    source: { kind: 'rds', instanceId: 'shop-db' },
    target: { namespace: 'shop' },
    tables: Object.fromEntries(tables.map((t) => [t, { primaryKey: ['id'] }])),
    grants: [{ principal: `arn:aws:iam::${ACCOUNT}:role/analyst` }],
    concurrency: 10,
    batchSize: 10,
    timeouts: { pollInitialSeconds: 1, pollMaximumSeconds: 2, heartbeatSeconds: 10 },
    retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 4, maximumAttempts: 10 },
    aws: {
      region: REGION,
      endpoint,
      accountId: ACCOUNT,
      export: { bucket: EXPORT_BUCKET, prefix: EXPORT_PREFIX, iamRoleArn: `arn:aws:iam::${ACCOUNT}:role/lakesync-export`, kmsKeyId: 'alias/lakesync-export' },
      tableBucket: { name: 'chaos-lake', create: true },
      glue: { roleArn: `arn:aws:iam::${ACCOUNT}:role/lakesync-glue`, scriptBucket: SCRIPT_BUCKET },
      athena: { outputLocation: 's3://chaos-athena/results/' },
    },
  };
}

/** The moment of the run a worker's AWS call marks. */
function momentOf(service: string, operation: string): Moment | undefined {
  if (service === 'rds' && operation === 'DescribeDBSnapshots') return 'snapshot';
  if (service === 'rds' && operation === 'DescribeExportTasks') return 'export';
  if (service === 'glue' && operation === 'StartJobRun') return 'load-start';
  if (service === 'glue' && operation === 'GetJobRun') return 'mid-load';
  if (service === 'lakeformation') return 'load-grant';
  if (service === 'athena' && operation === 'StartQueryExecution') return 'verify';
  return undefined;
}

export async function runAwsChaos(options: PathOptions): Promise<PathFigures> {
  const started = Date.now();
  const log = (line: string) => options.log(`[aws] ${line}`);
  useTestCredentials();
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-chaos-aws-'));
  const prng = keyedPrng(options.seed, 'aws-source');
  const source = new SimSource(prng, options.tables);
  const tables = [...source.tables.keys()];
  const moto = await startMoto();
  const server = await startChaosServer(dir);
  const settings = awsSettings(SOURCE, sourceSchema.parse(rawSource(moto.endpoint, tables)));
  const clients = createClients(settings);
  const sim = new AwsSimulation(clients, { jobName: settings.glue.jobName, tableBucketArn: settings.tableBucket.arn, namespace: 'shop', seed: options.seed, maxConcurrentRuns: settings.glue.maxConcurrentRuns });
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  const plan = options.plan ?? planKills(keyedPrng(options.seed, 'aws-kills'), {
    kills: options.kills,
    cycles: options.cycles,
    required: ['snapshot', 'export', 'load-start', 'mid-load', 'load-grant', 'continue-as-new', 'verify'],
    optional: ['snapshot', 'export', 'load-start', 'mid-load', 'load-grant', 'verify', 'continue-as-new'],
    maxOccurrence: { 'load-start': options.tables - 1, 'mid-load': options.tables * 2, 'load-grant': options.tables - 1, verify: options.tables - 1 },
  });
  let kills: KillSwitch | undefined;
  const proxy = await startFaultProxy({
    target: moto.endpoint,
    seed: options.seed,
    rate: options.faultRate,
    ...(options.forcedFaults ? { forced: options.forcedFaults } : {}),
    hooks: {
      onCall: async (call) => {
        sim.request(call);
        const moment = momentOf(call.service, call.operation);
        if (!moment || !kills) return;
        // The call that marks the moment is held until the worker is dead: the kill lands inside
        // that step's activity (between load and grant: the grant call never reaches AWS).
        await kills.event(moment, `${call.service} ${call.operation}`);
      },
      answer: (call) => sim.answer(call),
    },
  });
  try {
    for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET, 'chaos-athena']) {
      await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    }
    await clients.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));

    const taskQueue = `chaos-aws-${options.seed}`;
    const configFile = join(dir, 'lakesync.json');
    writeFileSync(configFile, JSON.stringify({ temporal: { taskQueue, address: server.address }, sources: { [SOURCE]: rawSource(proxy.endpoint, tables) } }));
    worker = new WorkerProcess(configFile, join(dir, 'data-root'), log);
    const w = worker;
    kills = new KillSwitch(plan, { killWorker: async () => ((await w.kill()), w.pid), restartWorker: () => w.start() }, log);
    await worker.start();

    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const handle = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue, args: [{ source: SOURCE, syncOnStart: false }] });
    const cycles: PathFigures['cycles'] = [];
    const changes = keyedPrng(options.seed, 'aws-changes');
    let lastExport = '';
    for (let n = 1; n <= options.cycles; n++) {
      if (n > 1) log(`source changes before cycle ${n}: ${JSON.stringify(source.change(changes))}`);
      const cycleId = cycleKey(n, handle.firstExecutionRunId);
      const exportId = exportIdFor(SOURCE, cycleId);
      const data = source.snapshot();
      sim.registerExport(exportId, data);
      for (const f of exportFiles({ prefix: EXPORT_PREFIX, exportId, database: 'shop', bucket: EXPORT_BUCKET, data })) {
        await clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
      }
      kills.beginCycle(n);
      const cycleStarted = Date.now();
      await client.workflow.getHandle(sourceWorkflowId(SOURCE)).signal('requestSync', { requestedBy: 'chaos', requestId: `chaos-${n}` });
      const outcome = await cycleOutcome(client, cycleWorkflowId(SOURCE, cycleId), options.cycleTimeoutMs);
      await kills.endCycle(`cycle ${n} ended`);
      log(cycleLine(n, outcome, cycleStarted));
      cycles.push({ ...cycleFigures(n, cycleId, outcome, cycleStarted), activityTimeouts: await activityTimeouts(client, cycleWorkflowId(SOURCE, cycleId)) });
      lastExport = exportId;
    }
    proxy.setRate(0);
    // A run nobody watches any more (a second run of a load) ends and commits like a Glue run: give it the time to.
    await delay(7_000);
    for (const c of cycles) {
      c.tables = Object.fromEntries(
        tables.map((t) => [t, { startJobRuns: sim.startsOf(c.cycleId, t), startJobRunRequests: sim.requestsOf(c.cycleId, t), runStates: sim.runStatesOf(c.cycleId, t), snapshots: sim.commitsOf(t.slice(t.indexOf('.') + 1), c.cycleId).length }]),
      );
    }
    // The ledger, once the worker answers queries again.
    const status = (await queryUntil(() => client.workflow.getHandle(sourceWorkflowId(SOURCE)).query<SourceStatus>('status'), 120_000)) as SourceStatus | undefined;
    const final = Object.fromEntries(
      tables.map((t) => {
        const newest = sim.commitsOf(t.slice(t.indexOf('.') + 1)).at(-1);
        const want = source.rows(t);
        const equal = newest !== undefined && newest.exportId === lastExport && JSON.stringify(newest.rows) === JSON.stringify(want);
        return [t, { equal, sourceRows: want.length, lakeRows: newest?.rows.length ?? 0, lakeExport: newest?.exportId ?? null, ledgerExport: status?.ledger[t]?.exportId ?? null }];
      }),
    );
    return tableFigures({
      path: 'aws',
      tables,
      cycles,
      final,
      faults: proxy.faults(),
      faultLog: proxy.events,
      kills: kills.made,
      plannedKills: plan,
      wallSeconds: (Date.now() - started) / 1000,
      notes: [
        'moto server plays AWS; the data plane is simulated: a Glue run writes its result JSON when started and commits the export rows to a lake model when moto reports it SUCCEEDED; Athena, GetJobRuns and BatchStopJobRun are answered from that model',
        'lake = source: the newest commit of each lake table holds the rows (id, total) of the last cycle\'s export, which are the source rows after the last change',
      ],
    });
  } finally {
    await worker?.stop().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    sim.close();
    destroyClients(clients);
    await proxy.stop();
    await server.stop();
    await moto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function queryUntil<T>(probe: () => Promise<T>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      return await probe();
    } catch {
      await delay(1000);
    }
  }
  return undefined;
}
