/**
 * Per-run Glue capacity: the worker sizing rule, its config validation, and the StartJobRun
 * request as moto server receives it (moto keeps neither NumberOfWorkers nor ExecutionClass of a
 * run, so the request body is recorded on the client).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { CreateJobCommand, DeleteJobCommand, GetJobCommand } from '@aws-sdk/client-glue';
import { jobSpec, withSpecHash } from '../../src/aws/glue-job';
import { packageGlueScripts } from '../../src/aws/glue-package';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildAwsPorts } from '../../src/aws';
import { PortError } from '../../src/errors';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { type GlueCapacitySettings, runCapacity, runWorkers } from '../../src/aws/glue-sizing';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import { sourceSchema } from '../../src/config/schema';
import { planTables } from '../../src/plan';
import type { DiscoveredTable, LoadRequest, PlanEntry } from '../../src/model';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { planEntry } from '../helpers/plan';
import { ACCOUNT, ATHENA_OUTPUT, EXPORT_BUCKET, EXPORT_ROLE, GLUE_ROLE, glueScriptsFixture, REGION, SCRIPT_BUCKET, TABLE_BUCKET } from './fixtures';

const SIZING = { gbPerWorker: 10, minWorkers: 2, maxWorkers: 20 };
const glue = (over: Partial<GlueCapacitySettings> = {}): GlueCapacitySettings => ({ workerType: 'G.1X', numberOfWorkers: 2, sizing: SIZING, ...over });

describe('the Glue worker sizing rule', () => {
  test('ceil(sizeGB / gbPerWorker), clamped to minWorkers..maxWorkers', () => {
    assert.equal(runWorkers('public.orders', 95, glue()), 10);
    assert.equal(runWorkers('public.orders', 100, glue()), 10);
    assert.equal(runWorkers('public.orders', 100.5, glue()), 11);
    assert.equal(runWorkers('public.orders', 5000, glue()), 20, 'above maxWorkers');
    assert.equal(runWorkers('public.orders', 25, glue({ sizing: { ...SIZING, minWorkers: 5 } })), 5, 'below minWorkers');
  });

  test('never fewer than the 2 workers Glue needs, even for an empty table', () => {
    const lowMin = glue({ sizing: { ...SIZING, minWorkers: 1 } });
    assert.equal(runWorkers('public.orders', 0, lowMin), 2);
    assert.equal(runWorkers('public.orders', 0.01, lowMin), 2);
    assert.equal(runWorkers('public.orders', 0, glue()), 2);
  });

  test('a table without an export size (direct, DynamoDB) runs with the job workers', () => {
    assert.equal(runWorkers('public.events', undefined, glue({ numberOfWorkers: 7 })), 7);
    assert.equal(runWorkers('public.events', 500, glue({ numberOfWorkers: 7, sizing: undefined })), 7, 'no sizing settings');
  });

  test('a pinned table keeps its workers whatever its size', () => {
    assert.equal(runWorkers('public.orders', 500, glue({ tableWorkers: { 'public.orders': 3 } })), 3);
    assert.equal(runWorkers('public.other', 500, glue({ tableWorkers: { 'public.orders': 3 } })), 20);
  });

  test('StartJobRun carries workers and worker type only when they differ from the job, and always the class (a class set on the job by hand would decide it)', () => {
    assert.deepEqual(runCapacity('public.orders', 95, glue({ workerType: 'G.2X' })), { NumberOfWorkers: 10, WorkerType: 'G.2X', ExecutionClass: 'STANDARD' });
    assert.deepEqual(runCapacity('public.orders', 15, glue()), { ExecutionClass: 'STANDARD' }, 'the rule gives the job default');
    assert.deepEqual(runCapacity('public.events', undefined, glue({ executionClass: 'FLEX' })), { ExecutionClass: 'FLEX' });
    assert.deepEqual(runCapacity('public.events', undefined, glue({ executionClass: 'STANDARD' })), { ExecutionClass: 'STANDARD' });
  });
});

function rawSource(glueSection: Record<string, unknown>, tables: Record<string, unknown> = { 'public.orders': { primaryKey: ['id'] } }) {
  return {
    backend: 'aws',
    database: 'shop',
    source: { kind: 'rds', instanceId: 'shop-db' },
    target: { namespace: 'shop' },
    tables,
    aws: {
      region: REGION,
      accountId: ACCOUNT,
      export: { bucket: EXPORT_BUCKET, prefix: 'lakesync/exports', iamRoleArn: EXPORT_ROLE, kmsKeyId: 'alias/lakesync-export' },
      tableBucket: { name: TABLE_BUCKET, create: true },
      glue: { roleArn: GLUE_ROLE, scriptBucket: SCRIPT_BUCKET, ...glueSection },
      athena: { outputLocation: ATHENA_OUTPUT },
    },
  };
}

/** The config's issues as `path: message` lines. */
function issues(raw: unknown): string[] {
  const parsed = sourceSchema.safeParse(raw);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('the Glue capacity settings in lakesync.yaml', () => {
  test('default: STANDARD, 10 GB per worker, 2..numberOfWorkers workers', () => {
    const source = sourceSchema.parse(rawSource({ numberOfWorkers: 8 }));
    assert.equal(source.aws!.glue.executionClass, 'STANDARD');
    assert.deepEqual(source.aws!.glue.sizing, { gbPerWorker: 10, minWorkers: 2 });
    const settings = awsSettings('shop', source, { glueScriptsDir: '/nonexistent' });
    assert.deepEqual(settings.glue.sizing, { gbPerWorker: 10, minWorkers: 2, maxWorkers: 8 });
    assert.deepEqual(settings.glue.tableWorkers, {});
  });

  test('a pinned table reaches the settings', () => {
    const source = sourceSchema.parse(rawSource({}, { 'public.orders': { primaryKey: ['id'], glueWorkers: 6 } }));
    assert.deepEqual(awsSettings('shop', source, { glueScriptsDir: '/nonexistent' }).glue.tableWorkers, { 'public.orders': 6 });
  });

  test('gbPerWorker 0 or below is refused', () => {
    for (const gbPerWorker of [0, -5]) {
      assert.deepEqual(issues(rawSource({ sizing: { gbPerWorker } })), ['aws.glue.sizing.gbPerWorker: must be more than 0 (export gigabytes per worker)']);
    }
  });

  test('minWorkers above maxWorkers is refused, naming both and the fix', () => {
    assert.deepEqual(issues(rawSource({ sizing: { minWorkers: 10, maxWorkers: 4 } })), [
      'aws.glue.sizing.minWorkers: aws.glue.sizing.minWorkers 10 is above aws.glue.sizing.maxWorkers 4: lower minWorkers or raise maxWorkers',
    ]);
    assert.deepEqual(issues(rawSource({ numberOfWorkers: 3, sizing: { minWorkers: 5 } })), [
      'aws.glue.sizing.minWorkers: aws.glue.sizing.minWorkers 5 is above aws.glue.numberOfWorkers 3 (the default maxWorkers): lower minWorkers or raise maxWorkers',
    ]);
  });

  test('FLEX with a worker type it does not run on is refused', () => {
    assert.deepEqual(issues(rawSource({ executionClass: 'FLEX', workerType: 'G.4X' })), [
      'aws.glue.executionClass: executionClass FLEX runs only on worker types G.1X and G.2X, not G.4X: set aws.glue.workerType to G.1X or G.2X, or executionClass STANDARD',
    ]);
    assert.deepEqual(issues(rawSource({ executionClass: 'FLEX', workerType: 'G.2X' })), []);
    assert.match(issues(rawSource({ executionClass: 'flex' })).join('\n'), /aws\.glue\.executionClass: must be STANDARD or FLEX/);
  });

  test('a pinned worker count below 2 or fractional is refused', () => {
    assert.deepEqual(issues(rawSource({}, { 'public.orders': { glueWorkers: 1 } })), ['tables.public.orders.glueWorkers: Glue needs at least 2 workers']);
    assert.deepEqual(issues(rawSource({}, { 'public.orders': { glueWorkers: 2.5 } })), ['tables.public.orders.glueWorkers: must be a whole number of workers']);
  });
});

describe('the export size in the plan', () => {
  const catalog = {
    host: 'shop-db.abc123.us-east-2.rds.amazonaws.com',
    port: 5432,
    sslRootCert: 's3://shop-certs/rds/global-bundle.pem',
    user: 'lakesync_reader',
    secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:shop-catalog-AbCdEf`,
    glueConnection: 'shop-vpc',
  };
  const raw = rawSource({}, { 'public.orders': { primaryKey: ['id'] }, 'public.events': { extract: 'direct', cursor: { column: 'id' } } });
  const source = sourceSchema.parse({ ...raw, source: { ...raw.source, catalog } });
  const table = (name: string, sizeGB?: number): DiscoveredTable => ({
    table: name,
    target: `shop.${name}`,
    columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }],
    primaryKey: ['id'],
    ...(sizeGB !== undefined ? { sizeGB } : {}),
  });

  test("an export load carries the table's export size; a direct load and a table without one carry none", () => {
    const { entries } = planTables(source, [table('public.orders', 42.5), table('public.items')], new Set(['orders', 'events', 'items']), {}, [table('public.events', 7)]);
    const byTable = Object.fromEntries(entries.map((e) => [e.table, e]));
    assert.equal(byTable['public.orders']?.sizeGB, 42.5);
    assert.ok(byTable['public.events'], 'the direct table is planned');
    assert.equal(byTable['public.events']?.sizeGB, undefined);
  });
});

describe('the StartJobRun request of a sized run (moto)', () => {
  let moto: MotoServer;
  let scriptsDir: string;
  const open: AwsClients[] = [];

  before(async () => {
    useTestCredentials();
    scriptsDir = glueScriptsFixture();
    moto = await startMoto();
  });

  beforeEach(async () => {
    await moto.reset();
    const s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: SCRIPT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    s3.destroy();
  });

  after(async () => {
    for (const clients of open) destroyClients(clients);
    await moto?.stop();
    rmSync(scriptsDir, { recursive: true, force: true });
  });

  function settingsOf(glueSection: Record<string, unknown>, tables?: Record<string, unknown>): AwsSettings {
    const raw = rawSource(glueSection, tables);
    return awsSettings('shop', sourceSchema.parse({ ...raw, aws: { ...raw.aws, endpoint: moto.endpoint } }), { glueScriptsDir: scriptsDir });
  }

  /** The ports of `settings` with every StartJobRun body recorded as it goes over the wire. */
  function portsOf(settings: AwsSettings): { ports: Ports; clients: AwsClients; starts: Record<string, unknown>[] } {
    const clients = createClients(settings);
    open.push(clients);
    const starts: Record<string, unknown>[] = [];
    clients.glue.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as { request?: { body?: unknown; headers?: Record<string, string> } }).request;
        if (request?.headers?.['x-amz-target']?.endsWith('.StartJobRun')) starts.push(JSON.parse(String(request.body)) as Record<string, unknown>);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordStartJobRun' },
    );
    return { starts, clients, ports: buildAwsPorts(settings, clients) };
  }

  function request(ports: Ports, plan: PlanEntry, cycleId: string): LoadRequest {
    const base = { source: 'shop', cycleId, runToken: `${cycleId}:${plan.table}`, database: 'shop', plan, namespace: 'shop' };
    const exportFields = { exportId: 'ls-shop-1', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-1` };
    return { ...base, ...exportFields, resultLocation: ports.load.resultLocation(base) };
  }

  const orders = (sizeGB?: number) => planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'create', primaryKey: ['id'], ...(sizeGB !== undefined ? { sizeGB } : {}) });

  test('a 95 GB table on FLEX runs with 10 G.2X workers and ExecutionClass FLEX; the job keeps its 2', async () => {
    const { ports, clients, starts } = portsOf(settingsOf({ workerType: 'G.2X', executionClass: 'FLEX', sizing: { gbPerWorker: 10, maxWorkers: 40 } }));
    const { runId } = await ports.load.startLoad(request(ports, orders(95), 'c1'));
    assert.ok(runId, 'moto gave the run an id');
    assert.equal(starts.length, 1);
    assert.equal(starts[0]!.NumberOfWorkers, 10);
    assert.equal(starts[0]!.WorkerType, 'G.2X');
    assert.equal(starts[0]!.ExecutionClass, 'FLEX');
    const job = (await clients.glue.send(new GetJobCommand({ JobName: 'lakesync-load-shop' }))).Job!;
    assert.equal(job.NumberOfWorkers, 2, 'the job definition keeps numberOfWorkers');
  });

  test('STANDARD with no export size sends no worker fields but the class; a pinned table sends its workers', async () => {
    const { ports, starts } = portsOf(settingsOf({ sizing: { maxWorkers: 40 } }, { 'public.orders': { primaryKey: ['id'], glueWorkers: 4 }, 'public.items': { primaryKey: ['id'] } }));
    await ports.load.startLoad(request(ports, planEntry({ table: 'public.items', lakeTable: 'items', action: 'create', primaryKey: ['id'] }), 'c1'));
    await ports.load.startLoad(request(ports, orders(300), 'c1'));
    assert.equal(starts.length, 2);
    for (const field of ['NumberOfWorkers', 'WorkerType']) assert.ok(!(field in starts[0]!), `StartJobRun of a table without a size carries ${field}`);
    // A FLEX class set on the job by hand never decides a run: lakesync's UpdateJob would reset it, and FLEX runs are not queued.
    assert.equal(starts[0]!.ExecutionClass, 'STANDARD');
    assert.equal(starts[1]!.NumberOfWorkers, 4);
    assert.equal(starts[1]!.WorkerType, 'G.1X');
    assert.equal(starts[1]!.ExecutionClass, 'STANDARD');
  });

  test('a table whose arguments are too large for a job run (many column policies) passes them in an arguments file on S3', async () => {
    const { ports, clients, starts } = portsOf(settingsOf({}));
    // 3,000 columns renamed: the policies alone are about 150 KB, beyond what a job run's arguments take.
    const columns = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`column_with_a_long_name_${i}`, { rename: `lake_column_with_a_long_name_${i}` }]));
    const wide = planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'create', primaryKey: ['id'], columns });
    await ports.load.startLoad(request(ports, wide, 'c1'));
    assert.equal(starts.length, 1);
    const args = starts[0]!.Arguments as Record<string, string>;
    assert.ok(!('--column_policies' in args), 'the policies are not in the run arguments');
    for (const [name, value] of Object.entries(args)) assert.ok(Buffer.byteLength(value) <= 1024, `${name} is ${Buffer.byteLength(value)} bytes`);
    // What a run of its own needs to be found and reported stays in the arguments.
    assert.equal(args['--run_token'], 'c1:public.orders');
    assert.equal(args['--lake_table'], 'orders');
    const path = args['--arguments_path'];
    assert.match(path ?? '', new RegExp(`^s3://${SCRIPT_BUCKET}/lakesync/results/shop/c1/arguments/public\\.orders\\.json$`));
    const [bucket, ...key] = path!.slice('s3://'.length).split('/');
    const body = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key.join('/') }));
    const file = JSON.parse(await body.Body!.transformToString()) as Record<string, string>;
    assert.deepEqual(JSON.parse(file.column_policies!), columns, 'the file holds the policies, unchanged');
    assert.equal(file.lake_table, undefined, 'the file holds only what the arguments leave out');
  });

  test("a start beyond the job's MaxConcurrentRuns is refused by Glue: a wait for a free slot that spends no attempt of the load", async () => {
    const { ports } = portsOf(settingsOf({ maxConcurrentRuns: 1, jobRunQueuing: false }, { 'public.orders': { primaryKey: ['id'] }, 'public.items': { primaryKey: ['id'] } }));
    // The first run stays STARTING (moto moves a run on only when it is read that often).
    await moto.setTransition('glue::job_run', { progression: 'manual', times: 100 });
    try {
      await ports.load.startLoad(request(ports, orders(), 'c1'));
      const items = planEntry({ table: 'public.items', lakeTable: 'items', action: 'create', primaryKey: ['id'] });
      await assert.rejects(ports.load.startLoad(request(ports, items, 'c1')), (err: unknown) => {
        assert.ok(err instanceof PortError);
        assert.equal(err.code, 'ConcurrentRunsExceededException');
        assert.equal(err.retryable, true);
        assert.equal(err.noCapacity, true, 'no run was made: the load activity does not count it as a failure');
        assert.match(err.message, /job lakesync-load-shop is at its MaxConcurrentRuns \(1\); the load is retried: raise glue\.maxConcurrentRuns or enable glue\.jobRunQueuing/);
        return true;
      });
    } finally {
      await moto.setTransition('glue::job_run', { progression: 'immediate' });
    }
  });

  test("a start refused because the job's MaxConcurrentRuns was lowered under aws.glue.maxConcurrentRuns names the job's own limit, not the configured one", async () => {
    const settings = settingsOf({ maxConcurrentRuns: 3, jobRunQueuing: false }, { 'public.orders': { primaryKey: ['id'] }, 'public.items': { primaryKey: ['id'] }, 'public.extra': { primaryKey: ['id'] } });
    const { ports, clients } = portsOf(settings);
    await moto.setTransition('glue::job_run', { progression: 'manual', times: 100 });
    try {
      // The worker writes the job when it starts (and would put back a MaxConcurrentRuns lowered before then);
      // lowered by hand after that, the job is as the worker wrote it but for its MaxConcurrentRuns
      // (moto has no UpdateJob: the job is written again, which drops its runs).
      await ports.load.startLoad(request(ports, orders(), 'c1'));
      const spec = withSpecHash(jobSpec(settings, packageGlueScripts(scriptsDir).hash));
      await clients.glue.send(new DeleteJobCommand({ JobName: 'lakesync-load-shop' }));
      await clients.glue.send(new CreateJobCommand({ Name: 'lakesync-load-shop', ...spec, ExecutionProperty: { MaxConcurrentRuns: 1 } }));
      const items = planEntry({ table: 'public.items', lakeTable: 'items', action: 'create', primaryKey: ['id'] });
      await ports.load.startLoad(request(ports, items, 'c1'));
      const extra = planEntry({ table: 'public.extra', lakeTable: 'extra', action: 'create', primaryKey: ['id'] });
      await assert.rejects(ports.load.startLoad(request(ports, extra, 'c1')), (err: unknown) => {
        assert.ok(err instanceof PortError);
        assert.equal(err.code, 'ConcurrentRunsExceededException');
        assert.equal(err.noCapacity, true);
        assert.doesNotMatch(err.message, /MaxConcurrentRuns \(3\)/, 'the job does not take 3 runs at once');
        assert.match(err.message, /job lakesync-load-shop takes at most 1 run\(s\) at once \(its MaxConcurrentRuns, below aws\.glue\.maxConcurrentRuns 3/);
        return true;
      });
    } finally {
      await moto.setTransition('glue::job_run', { progression: 'immediate' });
    }
  });
});
