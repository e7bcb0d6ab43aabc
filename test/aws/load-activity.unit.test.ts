/**
 * The load activity (src/activities/load.ts) over the Glue adapter with mocked AWS calls:
 * re-attachment by heartbeat details and by run token, throttling then success, a failed
 * run, result errors retried or not as the job marks them, and cancellation stopping the run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchStopJobRunCommand, GetJobCommand, GetJobRunCommand, GetJobRunsCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LoadHeartbeat, loadActivities, type LoadTableResult, MAX_UNSTARTED_RUNS } from '../../src/activities/load';
import { jobSpec, withSpecHash } from '../../src/aws/glue-job';
import { packageGlueScripts } from '../../src/aws/glue-package';
import { cycleActivities } from '../../src/activities/cycle';
import { loadActivity } from '../../src/workflows/options';
import type { LakesyncConfig } from '../../src/config/schema';
import type { LoadResult, LoadUsage, PlanEntry } from '../../src/model';
import { planEntry } from '../helpers/plan';
import { awsSource, loadResult, ORDERS_LOAD_INPUT, ORDERS_PLAN_KEY, ORDERS_RESULT_KEY } from './fixtures';
import { awsError, mockedAws, objectBody } from './mocks';

const PLAN_KEY = ORDERS_PLAN_KEY;
const RESULT_KEY = ORDERS_RESULT_KEY;
const DISCOVERY_KEY = 'lakesync/exports/lakesync-manifests/shop/c1/discovery.json';
/** The size of public.orders in the cycle's own export, as its discovery lists it. */
const ORDERS_GB = 2;
const plan: PlanEntry[] = [planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', reason: 'primary key (id) configured', primaryKey: ['id'], keySource: 'configured' })];
const input = ORDERS_LOAD_INPUT;
const result = loadResult('public.orders', 'orders', 'c1', 'c1:public.orders', 42, '8744736658442914487');
/** The job's result as loadTable returns it, less the run's usage (the cost ledger's input, checked on its own). */
const withoutUsage = ({ usage: _usage, ...rest }: LoadTableResult): LoadResult => rest;

function setup(raw?: Record<string, unknown>) {
  const aws = mockedAws({ loadPoll: { initialMs: 5, maxMs: 20 }, ...(raw ? { raw } : {}) });
  const { mocks, settings, ports } = aws;
  mocks.s3.on(GetObjectCommand, { Key: PLAN_KEY }).resolves({ Body: objectBody(JSON.stringify(plan)) });
  mocks.s3.on(HeadObjectCommand).resolves({});
  // The cycle's discovery, whose table list holds each table's size in the export.
  mocks.s3.on(GetObjectCommand, { Key: DISCOVERY_KEY }).resolves({ Body: objectBody(JSON.stringify([{ table: 'public.orders', target: 'shop.public.orders', sizeGB: ORDERS_GB, columns: [], primaryKey: ['id'] }])) });
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', DefaultArguments: withSpecHash(jobSpec(settings, packageGlueScripts(settings.glue.scriptsDir).hash)).DefaultArguments } });
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource(raw ? { raw } : {}) } };
  const activities = loadActivities({ config, portsFor: () => ports });
  return { ...aws, activities, resultWritten: () => mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves({ Body: objectBody(JSON.stringify(result)) }) };
}

function environment(heartbeatDetails?: unknown) {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000, ...(heartbeatDetails ? { heartbeatDetails } : {}) });
  const beats: LoadHeartbeat[] = [];
  env.on('heartbeat', (d: LoadHeartbeat) => beats.push(d));
  return { env, beats };
}

test('a retried attempt re-attaches to the run in its heartbeat details instead of starting another', async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.glue
    .on(GetJobRunCommand, { RunId: 'jr_7' })
    .resolvesOnce({ JobRun: { Id: 'jr_7', JobRunState: 'RUNNING' } })
    .resolvesOnce({ JobRun: { Id: 'jr_7', JobRunState: 'RUNNING' } })
    .resolves({ JobRun: { Id: 'jr_7', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const { env, beats } = environment({ runId: 'jr_7', state: 'running' });
  const loaded = (await env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(withoutUsage(loaded), result);
  // Glue's run figures feed the cost ledger: 90 s on 2 G.1X workers (1 DPU each).
  assert.deepEqual(loaded.usage, { basis: 'glue', dpuSeconds: 180, executionSeconds: 90, exportGB: ORDERS_GB });
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 0);
  assert.equal(mocks.glue.commandCalls(GetJobRunsCommand).length, 0);
  assert.ok(beats.length > 0 && beats.every((b) => b.runId === 'jr_7'));
});

test("a FLEX run's usage says so, for the cost ledger's FLEX price", async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_f' }).resolves({ JobRun: { Id: 'jr_f', JobRunState: 'SUCCEEDED', ExecutionClass: 'FLEX', ExecutionTime: 90, DPUSeconds: 150, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const { env } = environment({ runId: 'jr_f', state: 'running' });
  const loaded = (await env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(loaded.usage, { basis: 'glue', dpuSeconds: 150, executionClass: 'FLEX', executionSeconds: 90, exportGB: ORDERS_GB });
});

test("a load of the cycle's own export whose table size cannot be read books the size its plan holds", async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.s3.on(GetObjectCommand, { Key: PLAN_KEY }).resolves({ Body: objectBody(JSON.stringify([{ ...plan[0], sizeGB: 3.5 }])) });
  mocks.s3.on(GetObjectCommand, { Key: DISCOVERY_KEY }).rejects(awsError('AccessDenied', 'not authorized to perform s3:GetObject', 403));
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_s' }).resolves({ JobRun: { Id: 'jr_s', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const loaded = (await environment({ runId: 'jr_s', state: 'running' }).env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(loaded.usage, { basis: 'glue', dpuSeconds: 180, executionSeconds: 90, exportGB: 3.5 });
});

test("a load of the cycle's own export whose table size cannot be read at all marks its usage partial, saying why, instead of booking no GB silently", async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.s3.on(GetObjectCommand, { Key: DISCOVERY_KEY }).rejects(awsError('AccessDenied', 'not authorized to perform s3:GetObject', 403));
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_u' }).resolves({ JobRun: { Id: 'jr_u', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const loaded = (await environment({ runId: 'jr_u', state: 'running' }).env.run(activities.loadTable, input)) as LoadTableResult;
  const { partial, ...figures } = loaded.usage ?? { basis: 'glue' };
  assert.deepEqual(figures, { basis: 'glue', dpuSeconds: 180, executionSeconds: 90 });
  assert.match(partial ?? '', /size of public\.orders in export ls-shop-c1 could not be read .*not authorized to perform s3:GetObject.*: its export GB are left out/);
});

test("a load of the cycle's own export whose table has no size in the export's table list marks its usage partial, saying so, instead of booking no GB silently", async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.s3.on(GetObjectCommand, { Key: DISCOVERY_KEY }).resolves({ Body: objectBody(JSON.stringify([{ table: 'public.orders', target: 'shop.public.orders', columns: [], primaryKey: ['id'] }])) });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_z' }).resolves({ JobRun: { Id: 'jr_z', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const loaded = (await environment({ runId: 'jr_z', state: 'running' }).env.run(activities.loadTable, input)) as LoadTableResult;
  const { partial, ...figures } = loaded.usage ?? { basis: 'glue' };
  assert.deepEqual(figures, { basis: 'glue', dpuSeconds: 180, executionSeconds: 90 });
  assert.match(partial ?? '', /public\.orders has no size in the table list of export ls-shop-c1.*: its export GB are left out/);
});

test("a Glue run that succeeded without a DPU figure marks the load's usage partial, naming the run, instead of booking no DPU-seconds silently", async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  // Glue's answer holds neither DPUSeconds nor the execution time and workers to reckon them from.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_n' }).resolves({ JobRun: { Id: 'jr_n', JobRunState: 'SUCCEEDED' } });
  const loaded = (await environment({ runId: 'jr_n', state: 'running' }).env.run(activities.loadTable, input)) as LoadTableResult;
  assert.equal(loaded.usage?.dpuSeconds, undefined);
  assert.match(loaded.usage?.partial ?? '', /run jr_n \(SUCCEEDED\) of public\.orders ended without a DPU figure: its DPU-seconds are left out/);
});

test("a table loaded in a pack whose summary cannot be read marks its usage partial, naming the pack, instead of booking no DPU-seconds silently", async () => {
  const { mocks, activities, resultWritten, ports } = setup();
  resultWritten();
  const token = 'c1-pack-01';
  const summary = ports.load.packs!.summaryLocation('shop', 'c1', token);
  mocks.s3.on(GetObjectCommand, { Key: summary.replace(/^s3:\/\/[^/]+\//, '') }).rejects(awsError('AccessDenied', 'not authorized to perform s3:GetObject', 403));
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_pk' }).resolves({ JobRun: { Id: 'jr_pk', JobRunState: 'SUCCEEDED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const loaded = (await environment().env.run(activities.loadTable, { ...input, pack: { token, runId: 'jr_pk', tables: 2 } })) as LoadTableResult;
  assert.equal(loaded.usage?.dpuSeconds, undefined);
  assert.match(loaded.usage?.partial ?? '', /share of public\.orders in pack c1-pack-01 \(run jr_pk\) is unknown .*summary could not be read.*: its DPU-seconds are left out/);
});

/** A source whose public.events is read directly (straight from PostgreSQL over JDBC), with `tables` settings of its own. */
function directSource(events: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: 'shop-db.abc123.us-east-2.rds.amazonaws.com', port: 5432, sslRootCert: 's3://shop-certs/rds/global-bundle.pem', iamAuth: true, user: 'lakesync', glueConnection: 'shop-vpc' } },
    tables: { 'public.events': { extract: 'direct', cursor: { column: 'id' }, ...events } },
    ...rest,
  };
}
/** public.events as a plan made before the worker's config changed holds it: read directly, every column. */
const directPlan: PlanEntry[] = [planEntry({ table: 'public.events', lakeTable: 'events', action: 'incremental', reason: 'cursor', cursor: { column: 'id', mode: 'append' }, extract: { kind: 'direct' } })];
const directInput = { ...input, table: 'public.events', exportId: undefined, snapshotTime: undefined, exportLocation: undefined };

function directSetup(raw: Record<string, unknown>) {
  const aws = setup(raw);
  aws.mocks.s3.on(GetObjectCommand, { Key: PLAN_KEY }).resolves({ Body: objectBody(JSON.stringify(directPlan)) });
  aws.mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  aws.mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_x' });
  aws.mocks.glue.on(GetJobRunCommand, { RunId: 'jr_x' }).resolves({ JobRun: { Id: 'jr_x', JobRunState: 'FAILED', ErrorMessage: 'read the source' } });
  return aws;
}

test("a direct load of a table the worker's config now excludes is refused before any run reads the source", async () => {
  const { mocks, activities } = directSetup(directSource({}, { exclude: ['public.events'] }));
  await assert.rejects(environment().env.run(activities.loadTable, directInput), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'ExcludedByConfig', err.message);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /public\.events is excluded by the source's config now \(exclude public\.events\).*nothing was read/);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 0);
});

test("a direct load whose plan reads a column the worker's config now excludes is refused before any run reads the source", async () => {
  const { mocks, activities } = directSetup(directSource({ columns: { email: { exclude: true } } }));
  await assert.rejects(environment().env.run(activities.loadTable, directInput), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'ExcludedByConfig', err.message);
    assert.match(err.message, /column email of public\.events is excluded by the source's config now/);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 0);
});

test('without heartbeat details, a run started just before a crash is found by its run token', async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [{ Id: 'jr_9', JobRunState: 'RUNNING', Arguments: { '--run_token': 'c1:public.orders' } }] });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_9' }).resolvesOnce({ JobRun: { Id: 'jr_9', JobRunState: 'RUNNING' } }).resolves({ JobRun: { Id: 'jr_9', JobRunState: 'SUCCEEDED' } });
  const { env, beats } = environment();
  assert.deepEqual(withoutUsage(await env.run(activities.loadTable, input)), result);
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 0);
  assert.equal(beats[0]?.runId, 'jr_9');
});

test('throttling fails the attempt as retryable, and the next attempt starts the run and succeeds', async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).rejectsOnce(awsError('ThrottlingException', 'Rate exceeded')).resolves({ JobRunId: 'jr_10' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_10' }).resolves({ JobRun: { Id: 'jr_10', JobRunState: 'SUCCEEDED' } });

  const first = environment().env;
  await assert.rejects(first.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, false);
    assert.equal(err.type, 'ThrottlingException');
    assert.match(err.message, /^load failed for public.orders: Glue StartJobRun for table public.orders \(job lakesync-load-shop\) failed with ThrottlingException: Rate exceeded/);
    return true;
  });
  const second = environment().env;
  assert.deepEqual(withoutUsage(await second.run(activities.loadTable, input)), result);
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 2);
});

test("a FAILED Glue run fails the table at once with Glue's ErrorMessage and the run id", async () => {
  const { mocks, activities } = setup();
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).rejects(awsError('NoSuchKey', 'no such key', 404));
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_11' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_11' }).resolves({ JobRun: { Id: 'jr_11', JobRunState: 'FAILED', ErrorMessage: 'Py4JJavaError: S3 access denied' } });
  await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.type, 'LoadFAILED');
    assert.match(err.message, /load of public.orders failed \(run jr_11, FAILED\): Py4JJavaError: S3 access denied \(Glue run jr_11 of job lakesync-load-shop\)/);
    return true;
  });
});

test('a TIMEOUT run fails the table with the state and run id', async () => {
  const { mocks, activities } = setup();
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).rejects(awsError('NoSuchKey', 'no such key', 404));
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_12' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_12' }).resolves({ JobRun: { Id: 'jr_12', JobRunState: 'TIMEOUT', ExecutionTime: 43200 } });
  await assert.rejects(environment().env.run(activities.loadTable, input), /load of public.orders failed \(run jr_12, TIMEOUT\): the run hit the job timeout/);
});

test('cancelling the activity stops the Glue run', async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_13' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_13' }).resolves({ JobRun: { Id: 'jr_13', JobRunState: 'RUNNING' } });
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    // The stop takes effect: the load reads the stopped run's figures once it has ended.
    mocks.glue.on(GetJobRunCommand, { RunId: 'jr_13' }).resolves({ JobRun: { Id: 'jr_13', JobRunState: 'STOPPED' } });
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_13' }] };
  });
  const { env } = environment();
  env.once('heartbeat', () => setTimeout(() => env.cancel(), 5));
  // The activity layer reports the cancellation as a failure whose message says CANCELLED.
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => err instanceof CancelledFailure || /CANCELLED/.test((err as Error).message));
  assert.deepEqual(mocks.glue.commandCalls(BatchStopJobRunCommand)[0]?.args[0].input, { JobName: 'lakesync-load-shop', JobRunIds: ['jr_13'] });
});

test("a cancelled load books what its stopped run used: it waits for the run to end and reads its DPU-seconds", async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_14' });
  let stopped = false;
  // Running until asked to stop, then STOPPING for a poll, then STOPPED: 100 s on 2 G.1X workers, 200 DPU-seconds.
  const stopping = { JobRun: { Id: 'jr_14', JobRunState: 'STOPPING' as const, WorkerType: 'G.1X' as const, NumberOfWorkers: 2 } };
  const ended = { JobRun: { Id: 'jr_14', JobRunState: 'STOPPED' as const, ExecutionTime: 100, WorkerType: 'G.1X' as const, NumberOfWorkers: 2 } };
  let afterStop = 0;
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_14' }).callsFake(() => (!stopped ? { JobRun: { Id: 'jr_14', JobRunState: 'RUNNING' } } : afterStop++ === 0 ? stopping : ended));
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    stopped = true;
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_14' }] };
  });
  const { env } = environment();
  env.once('heartbeat', () => setTimeout(() => env.cancel(), 5));
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof CancelledFailure, String(err));
    assert.deepEqual(err.details, [{ usage: { basis: 'glue', dpuSeconds: 200, executionSeconds: 100, exportGB: ORDERS_GB } }]);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 1);
});

test("a cancelled load whose stopped run ended without a DPU figure marks its usage partial, naming the run", async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_17' });
  let stopped = false;
  // STOPPED, but Glue's answer holds no DPUSeconds, nor the time and workers to reckon them from.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_17' }).callsFake(() => ({ JobRun: { Id: 'jr_17', JobRunState: stopped ? 'STOPPED' : 'RUNNING' } }));
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    stopped = true;
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_17' }] };
  });
  const { env } = environment();
  env.once('heartbeat', () => setTimeout(() => env.cancel(), 5));
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof CancelledFailure, String(err));
    const usage = (err.details as { usage: LoadUsage }[])[0]!.usage;
    assert.equal(usage.dpuSeconds, undefined);
    assert.match(usage.partial ?? '', /run jr_17 \(STOPPED\) of public\.orders ended without a DPU figure: its DPU-seconds are left out/);
    return true;
  });
});

test("a cancelled table of a pack books its share of the stopped pack run: the run is shared evenly, as a pack that ended without its summary", async () => {
  const { mocks, activities } = setup();
  let stopped = false;
  // The pack of 2 tables runs until asked to stop, then is STOPPED: 100 s on 2 G.1X workers, 200 DPU-seconds, 100 each.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_p' }).callsFake(() => ({ JobRun: stopped ? { Id: 'jr_p', JobRunState: 'STOPPED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2 } : { Id: 'jr_p', JobRunState: 'RUNNING' } }));
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    stopped = true;
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_p' }] };
  });
  const { env } = environment();
  env.once('heartbeat', () => setTimeout(() => env.cancel(), 5));
  await assert.rejects(env.run(activities.loadTable, { ...input, pack: { token: 'c1-pack-01', runId: 'jr_p', tables: 2 } }), (err: unknown) => {
    assert.ok(err instanceof CancelledFailure, String(err));
    assert.deepEqual(err.details, [{ usage: { basis: 'glue', dpuSeconds: 100, exportGB: ORDERS_GB } }]);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 1);
});

test("a cancelled load whose stopped run does not end in time marks its usage partial, naming the run, instead of leaving it out silently", async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_15' });
  let stopped = false;
  // Once asked to stop, the run stays STOPPING; the clock moves past the wait for it.
  const realNow = Date.now;
  let skewMs = 0;
  Date.now = () => realNow() + skewMs;
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_15' }).callsFake(() => {
    if (stopped) skewMs += 10 * 60_000;
    return { JobRun: { Id: 'jr_15', JobRunState: stopped ? 'STOPPING' : 'RUNNING', WorkerType: 'G.1X', NumberOfWorkers: 2 } };
  });
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    stopped = true;
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_15' }] };
  });
  const { env } = environment();
  env.once('heartbeat', () => setTimeout(() => env.cancel(), 5));
  try {
    await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
      assert.ok(err instanceof CancelledFailure, String(err));
      const usage = (err.details as { usage: LoadUsage }[])[0]!.usage;
      assert.equal(usage.dpuSeconds, undefined);
      assert.match(usage.partial ?? '', /run jr_15 was stopped but did not end within 2 min: its DPU-seconds are left out/);
      return true;
    });
  } finally {
    Date.now = realNow;
  }
});

test("a cancelled load whose stopped run cannot be read marks its usage partial, with the error", async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_16' });
  let stopped = false;
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_16' }).callsFake(() => {
    if (stopped) throw awsError('AccessDeniedException', 'not authorized to perform glue:GetJobRun');
    return { JobRun: { Id: 'jr_16', JobRunState: 'RUNNING' } };
  });
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    stopped = true;
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_16' }] };
  });
  const { env } = environment();
  env.once('heartbeat', () => setTimeout(() => env.cancel(), 5));
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof CancelledFailure, String(err));
    const usage = (err.details as { usage: LoadUsage }[])[0]!.usage;
    assert.match(usage.partial ?? '', /run jr_16 was stopped but could not be read .*glue:GetJobRun.*: its DPU-seconds are left out/);
    return true;
  });
});

/** The result JSON of a run the job failed, with this `error` object. */
function failedResult(error: Record<string, unknown>) {
  return { Body: objectBody(JSON.stringify({ ...result, status: 'failed', action: 'none', committed: false, error })) };
}

const failedRun = (id: string) => ({ JobRun: { Id: id, JobRunState: 'FAILED' as const, ErrorMessage: 'exit code 1' } });
const tokenRun = (id: string) => ({ JobRuns: [{ Id: id, JobRunState: 'FAILED' as const, Arguments: { '--run_token': 'c1:public.orders' } }] });

test('a result error the job marks retryable fails the attempt as retryable, and the next attempt starts a new run', async () => {
  const { mocks, activities } = setup();
  const conflict = { class: 'CommitConflict', message: 'merge of shop.orders: 3 commit attempts lost to concurrent commits', retryable: true };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolvesOnce(failedResult(conflict)).resolvesOnce(failedResult(conflict)).resolves({ Body: objectBody(JSON.stringify(result)) });
  mocks.glue.on(GetJobRunsCommand).resolvesOnce({ JobRuns: [] }).resolves(tokenRun('jr_20'));
  mocks.glue.on(StartJobRunCommand).resolvesOnce({ JobRunId: 'jr_20' }).resolves({ JobRunId: 'jr_21' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_20' }).resolves(failedRun('jr_20'));
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_21' }).resolves({ JobRun: { Id: 'jr_21', JobRunState: 'SUCCEEDED' } });

  await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'CommitConflict');
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /load of public.orders failed \(run jr_20\): CommitConflict: merge of shop.orders: 3 commit attempts/);
    return true;
  });
  // The retry finds the failed run by its token, sees it may be retried, and starts another.
  assert.deepEqual(withoutUsage(await environment().env.run(activities.loadTable, input)), result);
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 2);
});

test("a failed run's DPU-seconds count in the table's usage once, whichever attempt sees it again", async () => {
  const { mocks, activities } = setup();
  const conflict = { class: 'CommitConflict', message: 'lost to concurrent commits', retryable: true };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolvesOnce(failedResult(conflict)).resolvesOnce(failedResult(conflict)).resolves({ Body: objectBody(JSON.stringify(result)) });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolvesOnce({ JobRunId: 'jr_30' }).resolves({ JobRunId: 'jr_31' });
  // 30 s on 2 G.1X workers: billed the minute, 120 DPU-seconds; then 90 s: 180.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_30' }).resolves({ JobRun: { Id: 'jr_30', JobRunState: 'FAILED', ErrorMessage: 'exit code 1', ExecutionTime: 30, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_31' }).resolves({ JobRun: { Id: 'jr_31', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const first = environment();
  await assert.rejects(first.env.run(activities.loadTable, input), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable === false);
  const last = first.beats.at(-1)!;
  assert.deepEqual(last.spent, { runs: ['jr_30'], dpuSeconds: 120 });
  // The next attempt finds jr_30 again (its heartbeat names it), starts jr_31, and books both runs once.
  const loaded = (await environment(last).env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(loaded.usage, { basis: 'glue', dpuSeconds: 300, executionSeconds: 90, exportGB: ORDERS_GB });
});

test("a succeeded run whose result read failed for a moment counts in the table's usage once, when the next attempt reads it", async () => {
  const { mocks, activities } = setup();
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).rejectsOnce(awsError('SlowDown', 'Please reduce your request rate', 503)).resolves({ Body: objectBody(JSON.stringify(result)) });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_50' });
  // 90 s on 2 G.1X workers: 180 DPU-seconds.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_50' }).resolves({ JobRun: { Id: 'jr_50', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const first = environment();
  await assert.rejects(first.env.run(activities.loadTable, input), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable === false);
  // The next attempt re-attaches to jr_50 (its heartbeat names it) and reads its result: one run, billed once.
  const loaded = (await environment(first.beats.at(-1)!).env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(withoutUsage(loaded), result);
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 1);
  assert.deepEqual(loaded.usage, { basis: 'glue', dpuSeconds: 180, executionSeconds: 90, exportGB: ORDERS_GB });
});

test('a run that failed while no attempt watched it (its worker died) counts in the usage of the attempt that finds it', async () => {
  const { mocks, activities } = setup();
  const conflict = { class: 'CommitConflict', message: 'lost to concurrent commits', retryable: true };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolvesOnce(failedResult(conflict)).resolves({ Body: objectBody(JSON.stringify(result)) });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_41' });
  // The attempt that started jr_40 died while it ran (its last heartbeat names it, nothing spent); jr_40 then failed.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_40' }).resolves({ JobRun: { Id: 'jr_40', JobRunState: 'FAILED', ErrorMessage: 'exit code 1', ExecutionTime: 30, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_41' }).resolves({ JobRun: { Id: 'jr_41', JobRunState: 'SUCCEEDED', ExecutionTime: 90, WorkerType: 'G.1X', NumberOfWorkers: 2 } });
  const loaded = (await environment({ runId: 'jr_40', table: 'public.orders', state: 'running', failures: 0 }).env.run(activities.loadTable, input)) as LoadTableResult;
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 1);
  // jr_40 was billed its minute (120 DPU-seconds), jr_41 its 90 s on 2 workers (180).
  assert.deepEqual(loaded.usage, { basis: 'glue', dpuSeconds: 300, executionSeconds: 90, exportGB: ORDERS_GB });
});

test('a run that failed for good while no attempt watched it counts in the final failure\'s usage', async () => {
  const { mocks, activities } = setup();
  const guard = { class: 'DeleteGuard', message: 'table shop.public.orders: the merge would delete 17 of 22 rows', retryable: false };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves(failedResult(guard));
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_42' }).resolves({ JobRun: { Id: 'jr_42', JobRunState: 'FAILED', ErrorMessage: 'exit code 1', ExecutionTime: 120, MaxCapacity: 2 } });
  await assert.rejects(environment({ runId: 'jr_42', table: 'public.orders', state: 'running', failures: 0 }).env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'DeleteGuard');
    assert.equal(err.nonRetryable, true);
    assert.deepEqual(err.details, [{ usage: { basis: 'glue', dpuSeconds: 240, exportGB: ORDERS_GB } }]);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 0);
});

test("a load that fails for good carries its runs' DPU-seconds in the failure's details", async () => {
  const { mocks, activities } = setup();
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).rejects(awsError('NoSuchKey', 'no such key', 404));
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_32' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_32' }).resolves({ JobRun: { Id: 'jr_32', JobRunState: 'FAILED', ErrorMessage: 'Py4JJavaError', ExecutionTime: 120, MaxCapacity: 2 } });
  await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.deepEqual(err.details, [{ usage: { basis: 'glue', dpuSeconds: 240, exportGB: ORDERS_GB } }]);
    return true;
  });
});

test("a load that fails for good after a run Glue gave no DPU figure for marks the failure's usage partial, naming the run", async () => {
  const { mocks, activities } = setup();
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).rejects(awsError('NoSuchKey', 'no such key', 404));
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_33' });
  // It ran (it failed in Spark), but Glue's answer holds no DPUSeconds, nor the time and workers to reckon them from.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_33' }).resolves({ JobRun: { Id: 'jr_33', JobRunState: 'FAILED', ErrorMessage: 'Py4JJavaError' } });
  await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    const usage = (err.details as { usage: LoadUsage }[]).at(-1)!.usage;
    assert.equal(usage.dpuSeconds, undefined);
    assert.match(usage.partial ?? '', /run jr_33 of public\.orders ended without a DPU figure: its DPU-seconds are left out/);
    return true;
  });
});

test('a result error the job marks not retryable fails the table at once, also on an attempt that finds that run', async () => {
  const { mocks, activities } = setup();
  const guard = { class: 'DeleteGuard', message: 'table shop.public.orders: the merge would delete 17 of 22 rows', retryable: false };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves(failedResult(guard));
  mocks.glue.on(GetJobRunsCommand).resolvesOnce({ JobRuns: [] }).resolves(tokenRun('jr_30'));
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_30' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_30' }).resolves(failedRun('jr_30'));

  for (const attempt of ['first', 'after a worker crash']) {
    await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, attempt);
      assert.equal(err.type, 'DeleteGuard');
      assert.equal(err.nonRetryable, true, attempt);
      assert.match(err.message, /\(run jr_30\): DeleteGuard: table shop.public.orders: the merge would delete 17 of 22 rows\. To apply them: lakesync rerun shop --tables public\.orders --approve-deletes\.$/);
      return true;
    });
  }
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 1, 'no second run');
});

test('a result error without the retryable flag is not retried, and says the job version may not match', async () => {
  const { mocks, activities } = setup();
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves(failedResult({ class: 'CommitConflict', message: 'merge of shop.orders: 3 commit attempts lost' }));
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_40' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_40' }).resolves(failedRun('jr_40'));
  await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'CommitConflict');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /CommitConflict: merge of shop.orders: 3 commit attempts lost\. The job's result has no retryable flag, so the deployed job version may not match/);
    return true;
  });
});

const noResult = (mocks: ReturnType<typeof setup>['mocks']) => mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).rejects(awsError('NoSuchKey', 'no such key', 404));

for (const [state, message] of [
  ['ERROR', 'Internal service error'],
  ['EXPIRED', undefined],
  ['FAILED', 'Failed to start job run due to insufficient capacity'],
] as const) {
  test(`a ${state} run${message ? ` (${message})` : ''} is retried: the attempt fails as retryable, and the next one starts a new run`, async () => {
    const { mocks, activities } = setup();
    noResult(mocks);
    mocks.glue.on(GetJobRunsCommand).resolvesOnce({ JobRuns: [] }).resolves({ JobRuns: [{ Id: 'jr_50', JobRunState: state, Arguments: { '--run_token': 'c1:public.orders' } }] });
    // The new run's job writes its result; until it starts, the location holds none.
    const startsAndWrites = () => {
      mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves({ Body: objectBody(JSON.stringify(result)) });
      return { JobRunId: 'jr_51' };
    };
    mocks.glue.on(StartJobRunCommand).resolvesOnce({ JobRunId: 'jr_50' }).callsFake(startsAndWrites);
    mocks.glue.on(GetJobRunCommand, { RunId: 'jr_50' }).resolves({ JobRun: { Id: 'jr_50', JobRunState: state, ...(message ? { ErrorMessage: message } : {}) } });
    mocks.glue.on(GetJobRunCommand, { RunId: 'jr_51' }).resolves({ JobRun: { Id: 'jr_51', JobRunState: 'SUCCEEDED' } });
    const first = environment();
    await assert.rejects(first.env.run(activities.loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, false);
      assert.equal(err.type, `Load${state}`);
      assert.match(err.message, new RegExp(`^load of public.orders failed \\(run jr_50, ${state}\\): .*\\(Glue run jr_50 of job lakesync-load-shop\\) \\(a new run is started after a backoff\\)$`));
      return true;
    });
    assert.equal(first.beats.at(-1)?.state, 'retrying');
    assert.deepEqual(withoutUsage(await environment({ ...first.beats.at(-1) }).env.run(activities.loadTable, input)), result);
    assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 2);
  });
}

for (const [code, message] of [
  ['ConcurrentRunsExceededException', 'Concurrent runs exceeded for lakesync-load-shop'],
  ['ResourceNumberLimitExceededException', 'Number of concurrent DPUs exceeded'],
  ['InternalServiceException', 'Failed to start job run due to insufficient capacity'],
  ['InvalidInputException', 'Insufficient capacity in the Region for the requested worker type'],
] as const) {
  test(`StartJobRun refused with ${code} (${message}) is retried with backoff, naming the job's capacity`, async () => {
    const { mocks, activities } = setup();
    mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
    mocks.glue.on(StartJobRunCommand).rejects(awsError(code, message));
    await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, false, code);
      assert.equal(err.type, code);
      assert.match(err.message, new RegExp(`^load failed for public.orders: Glue StartJobRun for table public.orders \\(job lakesync-load-shop\\) failed with ${code}: ${message} \\(.*(MaxConcurrentRuns|no capacity).*retried`));
      return true;
    });
  });
}

test('a start refused for want of capacity spends no attempt: the load waits for a free run slot instead of failing the table', async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).rejects(awsError('ConcurrentRunsExceededException', 'Concurrent runs exceeded for lakesync-load-shop'));
  // The source allows 3 attempts and two real failures happened: a third would fail the table for good.
  const { env, beats } = environment({ state: 'retrying', failures: 2 });
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, false, 'retried: no run was made, so nothing failed');
    assert.doesNotMatch(err.message, /retry\.maximumAttempts is used up/);
    return true;
  });
  assert.equal(beats.at(-1)?.failures, 2, 'the refused start is not counted as a failure of the load');
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 0);
});

test('a live run of another cycle on the lake table is stopped, and waited for, before the new run starts', async () => {
  const { mocks, activities, resultWritten } = setup();
  resultWritten();
  const other = { Id: 'jr_60', JobRunState: 'RUNNING' as const, StartedOn: new Date(), Arguments: { '--run_token': 'c0:public.orders', '--namespace': 'shop', '--lake_table': 'orders' } };
  const elsewhere = { Id: 'jr_61', JobRunState: 'RUNNING' as const, StartedOn: new Date(), Arguments: { '--run_token': 'c0:public.items', '--namespace': 'shop', '--lake_table': 'items' } };
  mocks.glue.on(GetJobRunsCommand).resolvesOnce({ JobRuns: [] }).resolvesOnce({ JobRuns: [other, elsewhere] }).resolves({ JobRuns: [{ ...other, JobRunState: 'STOPPED' }, elsewhere] });
  mocks.glue.on(BatchStopJobRunCommand).resolves({ SuccessfulSubmissions: [{ JobRunId: 'jr_60' }] });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_60' }).resolvesOnce({ JobRun: { Id: 'jr_60', JobRunState: 'STOPPING' } }).resolves({ JobRun: { Id: 'jr_60', JobRunState: 'STOPPED' } });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_62' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_62' }).resolves({ JobRun: { Id: 'jr_62', JobRunState: 'SUCCEEDED' } });
  const { env, beats } = environment();
  assert.deepEqual(withoutUsage(await env.run(activities.loadTable, input)), result);
  assert.deepEqual(mocks.glue.commandCalls(BatchStopJobRunCommand).map((c) => c.args[0].input.JobRunIds), [['jr_60']], 'only the run on shop.orders is stopped');
  const order = mocks.glue.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
  assert.ok(order.lastIndexOf('GetJobRunCommand', order.indexOf('StartJobRunCommand')) > order.indexOf('BatchStopJobRunCommand'), `started only after the stopped run ended: ${order.join(', ')}`);
  assert.ok(beats.some((b) => b.state === 'waiting'), 'heartbeats say the load waits for the other run');
});

test('the failure that uses up retry.maximumAttempts stops the Glue run and says so', async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_70' }).rejects(awsError('ThrottlingException', 'Rate exceeded'));
  mocks.glue.on(BatchStopJobRunCommand).resolves({ SuccessfulSubmissions: [{ JobRunId: 'jr_70' }] });
  // The source allows 3 attempts: two real failures happened before this one.
  await assert.rejects(environment({ runId: 'jr_70', failures: 2 }).env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.type, 'ThrottlingException');
    assert.match(err.message, /GetJobRun .* failed with ThrottlingException: Rate exceeded .*\(failure 3 of 3: retry\.maximumAttempts is used up; its run jr_70 was stopped; fix the cause and rerun the table\)$/);
    return true;
  });
  assert.deepEqual(mocks.glue.commandCalls(BatchStopJobRunCommand)[0]?.args[0].input, { JobName: 'lakesync-load-shop', JobRunIds: ['jr_70'] });
});

test("the failure that uses up retry.maximumAttempts books what the run it stopped used: it waits for the run to end and reads its DPU-seconds", async () => {
  const { mocks, activities } = setup();
  let stopped = false;
  // GetJobRun is throttled while the run goes on; once stopped, the run is STOPPED: 100 s on 2 G.1X workers, 200 DPU-seconds.
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_71' }).callsFake(() => {
    if (!stopped) throw awsError('ThrottlingException', 'Rate exceeded');
    return { JobRun: { Id: 'jr_71', JobRunState: 'STOPPED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2 } };
  });
  mocks.glue.on(BatchStopJobRunCommand).callsFake(() => {
    stopped = true;
    return { SuccessfulSubmissions: [{ JobRunId: 'jr_71' }] };
  });
  // Two real failures happened before this one; an earlier run spent 60 DPU-seconds.
  const previous = { runId: 'jr_71', failures: 2, spent: { runs: ['jr_70'], dpuSeconds: 60 } };
  await assert.rejects(environment(previous).env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /its run jr_71 was stopped/);
    assert.deepEqual(err.details, [{ usage: { basis: 'glue', dpuSeconds: 260, executionSeconds: 100, exportGB: ORDERS_GB } }]);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 1);
});

test('a final failure whose run could not be stopped does not wait for that run: its cost leaves it out', async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_72' }).rejectsOnce(awsError('AccessDeniedException', 'not authorized to perform glue:GetJobRun')).resolves({ JobRun: { Id: 'jr_72', JobRunState: 'RUNNING' } });
  mocks.glue.on(BatchStopJobRunCommand).resolves({ Errors: [{ JobRunId: 'jr_72', ErrorDetail: { ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' } }] });
  await assert.rejects(environment({ runId: 'jr_72', failures: 0 }).env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.match(err.message, /its run jr_72 could not be stopped/);
    // The run goes on, billed: the usage says it is left out.
    assert.deepEqual(err.details, [{ usage: { basis: 'glue', partial: 'run jr_72 could not be stopped and may still be running: its DPU-seconds are left out', exportGB: ORDERS_GB } }]);
    return true;
  });
  // No wait for the run's end: its state is read twice (the refused read, and once by the failed stop
  // to see whether the run had ended anyway), never polled.
  assert.equal(mocks.glue.commandCalls(GetJobRunCommand).length, 2, 'the run that was not stopped is not waited for');
});

for (const [case_, scheduledAgoMs, stops] of [
  ['a load whose workflow is gone (terminated or reset) leaves its run to the next load of the table', 60_000, false],
  ['a load whose whole time bound (schedule-to-close) is used up stops its run', 3_600_000, true],
] as const) {
  test(case_, async () => {
    const { mocks, activities } = setup();
    mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
    mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_80' });
    mocks.glue.on(GetJobRunCommand, { RunId: 'jr_80' }).resolves({ JobRun: { Id: 'jr_80', JobRunState: 'RUNNING' } });
    mocks.glue.on(BatchStopJobRunCommand).resolves({ SuccessfulSubmissions: [{ JobRunId: 'jr_80' }] });
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000, scheduledTimestampMs: Date.now() - scheduledAgoMs, scheduleToCloseTimeoutMs: 3_600_000 });
    env.once('heartbeat', () => setTimeout(() => env.cancel('NOT_FOUND', new ActivityCancellationDetails({ notFound: true })), 5));
    await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => err instanceof CancelledFailure || /NOT_FOUND/.test((err as Error).message));
    // A reset workflow's new load re-attaches to the run (same run token); a terminated one's is stopped by the next load.
    assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, stops ? 1 : 0);
  });
}

test('a failure no retry can fix while the run goes on (access denied reading it) stops the run and says so', async () => {
  const { mocks, activities } = setup();
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_90' }).rejects(awsError('AccessDeniedException', 'not authorized to perform glue:GetJobRun'));
  mocks.glue.on(BatchStopJobRunCommand).resolves({ SuccessfulSubmissions: [{ JobRunId: 'jr_90' }] });
  await assert.rejects(environment({ runId: 'jr_90', failures: 0 }).env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.type, 'AccessDeniedException');
    assert.match(err.message, /^load failed for public.orders: Glue GetJobRun for run jr_90 of job lakesync-load-shop failed with AccessDeniedException: .*lack glue:GetJobRun.*\(its run jr_90 was stopped\)$/);
    return true;
  });
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 1);
});

test('a queued run that EXPIRED without starting spends no attempt: the next attempt starts a new run', async () => {
  const { mocks, activities } = setup();
  noResult(mocks);
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_90' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_90' }).resolves({ JobRun: { Id: 'jr_90', JobRunState: 'EXPIRED', ExecutionTime: 0 } });
  // The source allows 3 attempts and two real failures happened: a third would fail the table for good.
  const { env, beats } = environment({ state: 'retrying', failures: 2 });
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, false, 'retried: the run never started, so nothing of the load failed');
    assert.doesNotMatch(err.message, /retry\.maximumAttempts is used up/);
    assert.match(err.message, /EXPIRED/);
    return true;
  });
  assert.equal(beats.at(-1)?.failures, 2, 'the expired run is not counted as a failure of the load');
  assert.equal(beats.at(-1)?.unstarted, 1, 'it is counted among the runs that never started');
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 0);
});

test('a stale failed result of an earlier run is not blamed for a run that EXPIRED without starting', async () => {
  const { mocks, activities } = setup();
  const stale = { ...result, status: 'failed', error: { class: 'SourceUnavailable', message: 'connection reset', retryable: true } };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves({ Body: objectBody(JSON.stringify(stale)) });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_93' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_93' }).resolves({ JobRun: { Id: 'jr_93', JobRunState: 'EXPIRED' } });
  const { env, beats } = environment({ state: 'retrying', failures: 1 });
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'LoadEXPIRED');
    assert.doesNotMatch(err.message, /connection reset/);
    return true;
  });
  assert.equal(beats.at(-1)?.failures, 1);
});

test("a later run's TIMEOUT is not blamed on the failed result an earlier run of the load left at the same location", async () => {
  const { mocks, activities } = setup();
  // The earlier run's job began at 00:00 and failed with a retryable error; the new run started at 01:00.
  const stale = { ...result, status: 'failed', committed: false, error: { class: 'CommitConflict', message: 'commit lost the race', retryable: true } };
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves({ Body: objectBody(JSON.stringify(stale)) });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_94' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_94' }).resolves({ JobRun: { Id: 'jr_94', JobRunState: 'TIMEOUT', StartedOn: new Date('2025-01-01T01:00:00Z'), ExecutionTime: 43200 } });
  await assert.rejects(environment().env.run(activities.loadTable, input), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'LoadTIMEOUT');
    assert.equal(err.nonRetryable, true, 'a timeout is final: retrying would run the whole timeout again');
    assert.match(err.message, /load of public.orders failed \(run jr_94, TIMEOUT\): the run hit the job timeout/);
    assert.doesNotMatch(err.message, /commit lost the race/);
    return true;
  });
});

test('a run that ends in ERROR after its job committed and wrote a succeeded result loads the table once: the result counts', async () => {
  const { mocks, activities } = setup();
  // The job began at 00:00, 10 s after the run started; Glue then ended the run ERROR.
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves({ Body: objectBody(JSON.stringify(result)) });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_95' });
  const ended = { Id: 'jr_95', JobRunState: 'ERROR', StartedOn: new Date('2024-12-31T23:59:50Z'), ErrorMessage: 'Internal service error', ExecutionTime: 70, WorkerType: 'G.1X', NumberOfWorkers: 2 } as const;
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_95' }).resolves({ JobRun: ended });
  const loaded = (await environment().env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(withoutUsage(loaded), result);
  assert.equal(loaded.usage?.dpuSeconds, 140, 'the run is billed once');

  // A retried attempt that finds that run in its heartbeat takes the same result instead of starting a second run.
  const again = (await environment({ runId: 'jr_95', state: 'failed' }).env.run(activities.loadTable, input)) as LoadTableResult;
  assert.deepEqual(withoutUsage(again), result);
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, 1, 'the committed table was not loaded again');
});

test('runs that keep expiring in the queue fail the table after a bounded number of restarts, naming it and the fix', async () => {
  const { mocks, activities } = setup();
  noResult(mocks);
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_91' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_91' }).resolves({ JobRun: { Id: 'jr_91', JobRunState: 'EXPIRED' } });
  let details: LoadHeartbeat = { state: 'retrying', failures: 0 };
  let final: ApplicationFailure | undefined;
  for (let attempt = 1; attempt <= 20 && !final; attempt++) {
    const { env, beats } = environment(details);
    await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      if (err.nonRetryable) final = err;
      return true;
    });
    details = { ...beats.at(-1) };
    assert.equal(details.failures ?? 0, 0, `attempt ${attempt} spent no attempt`);
  }
  assert.ok(final, 'the restarts are bounded');
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand).length, MAX_UNSTARTED_RUNS);
  assert.match(final.message, new RegExp(`public\\.orders.*${MAX_UNSTARTED_RUNS} .*never started.*jr_91`));
  assert.match(final.message, /quota|capacity/);
});

test('a run Glue failed to start for want of capacity spends no attempt either', async () => {
  const { mocks, activities } = setup();
  noResult(mocks);
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_92' });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_92' }).resolves({ JobRun: { Id: 'jr_92', JobRunState: 'FAILED', ErrorMessage: 'Failed to start job run due to insufficient capacity' } });
  const { env, beats } = environment({ state: 'retrying', failures: 2 });
  await assert.rejects(env.run(activities.loadTable, input), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable === false);
  assert.equal(beats.at(-1)?.failures, 2);
});

test("a table's pack run that EXPIRED in the queue spends no attempt of the table: the next attempt loads it in a run of its own", async () => {
  const { mocks, activities } = setup();
  noResult(mocks);
  mocks.s3.on(GetObjectCommand, { Key: 'lakesync/results/shop/c1/packs/p1.summary.json' }).rejects(awsError('NoSuchKey', 'no such key', 404));
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_pack' }).resolves({ JobRun: { Id: 'jr_pack', JobRunState: 'EXPIRED', ExecutionTime: 0 } });
  // The source allows 3 attempts and two real failures happened: a third would fail the table for good.
  const { env, beats } = environment({ state: 'retrying', failures: 2 });
  await assert.rejects(env.run(activities.loadTable, { ...input, pack: { token: 'p1', runId: 'jr_pack', tables: 2 } }), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, false, 'retried: the pack run never started, so nothing of the load failed');
    assert.doesNotMatch(err.message, /retry\.maximumAttempts is used up/);
    assert.match(err.message, /EXPIRED/);
    return true;
  });
  assert.equal(beats.at(-1)?.failures, 2, "the pack's expired run is not counted as a failure of the table");
  assert.equal(beats.at(-1)?.unstarted, 1, 'it is counted among the runs that never started');
  assert.equal(beats.at(-1)?.alone, true, 'the next attempt runs the table alone');
  assert.equal(mocks.glue.commandCalls(BatchStopJobRunCommand).length, 0);
});

test("a load's time bound holds the runs that may wait in Glue's job run queue, so a load whose runs never start fails saying so, not with a timeout", async () => {
  const { ports } = setup();
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource() } };
  const settings = await cycleActivities({ config, portsFor: () => ports }).cycleSettings('shop');
  const bound = Number(/^(\d+)s$/.exec(String(loadActivity(settings).scheduleToCloseTimeout))?.[1]);
  const glue = awsSource().aws!.glue;
  assert.equal(glue.jobRunQueuing, true);
  // A queued run waits in the queue up to the job timeout before it expires (EXPIRED) or starts.
  const queued = glue.timeoutMinutes * 60;
  const loadSeconds = settings.timeouts.loadHours * 3600;
  // The worst the load may see before its own limits end it: MAX_UNSTARTED_RUNS runs that expire,
  // and retry.maximumAttempts runs that each wait in the queue and then run their full loadHours.
  const worst = MAX_UNSTARTED_RUNS * queued + settings.retry.maximumAttempts * (queued + loadSeconds);
  assert.ok(bound >= worst, `bound ${bound} s holds ${worst} s`);
  // Without queuing no run waits: the bound is the runs' own time and the backoff.
  const unqueued = await cycleActivities({ config: { ...config, sources: { shop: { ...awsSource(), aws: { ...awsSource().aws!, glue: { ...glue, jobRunQueuing: false } } } } }, portsFor: () => ports }).cycleSettings('shop');
  const plain = Number(/^(\d+)s$/.exec(String(loadActivity(unqueued).scheduleToCloseTimeout))?.[1]);
  assert.ok(plain < settings.retry.maximumAttempts * loadSeconds + 3600, `unqueued bound ${plain} s`);
});
