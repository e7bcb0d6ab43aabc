/** The Glue load adapter against aws-sdk-client-mock: job definition, run states, failures, lookups. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BatchStopJobRunCommand, CreateJobCommand, GetJobCommand, GetJobRunCommand, GetJobRunsCommand, StartJobRunCommand, UpdateJobCommand } from '@aws-sdk/client-glue';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { unzipSync } from 'fflate';
import { pollUntilEnded } from '../../src/activities/load';
import { ensureJobDefinition, JOB_SOURCE_ARGUMENT, jobSpec, SPEC_HASH_ARGUMENT, withSpecHash } from '../../src/aws/glue-job';
import { packageGlueScripts } from '../../src/aws/glue-package';
import { runStatus } from '../../src/aws/glue';
import { awsSettings } from '../../src/backends/aws';
import type { LoadRequest } from '../../src/model';
import { planEntry } from '../helpers/plan';
import { awsSource, glueScriptsFixture, loadResult } from './fixtures';
import { awsError, mockedAws, objectBody, portError } from './mocks';

function request(resultLocation = 's3://shop-glue/lakesync/results/shop/c1/public.events.json'): LoadRequest {
  return {
    source: 'shop',
    cycleId: 'c1',
    runToken: 'c1:public.events',
    exportId: 'ls-shop-c1',
    snapshotTime: '2025-01-01T00:00:00.000Z',
    exportLocation: 's3://shop-exports/lakesync/exports/ls-shop-c1',
    database: 'shop',
    plan: planEntry({ table: 'public.events', lakeTable: 'events', action: 'incremental', primaryKey: ['id', 'ts'], cursor: { column: 'created_at', mode: 'append' }, maxDeleteFraction: 0.25, approveDeletes: true }),
    namespace: 'shop',
    resultLocation,
  };
}

function jobReady(mocks: ReturnType<typeof mockedAws>['mocks'], settings: ReturnType<typeof mockedAws>['settings']) {
  const scripts = packageGlueScripts(settings.glue.scriptsDir);
  mocks.s3.on(HeadObjectCommand).resolves({});
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', DefaultArguments: withSpecHash(jobSpec(settings, scripts.hash)).DefaultArguments } });
}

test('a run starts with the table arguments of the Glue job contract', async () => {
  const { mocks, ports, settings } = mockedAws();
  jobReady(mocks, settings);
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  assert.deepEqual(await ports.load.startLoad(request()), { runId: 'jr_1' });
  const input = mocks.glue.commandCalls(StartJobRunCommand)[0]!.args[0].input;
  assert.equal(input.JobName, 'lakesync-load-shop');
  assert.equal(input.JobRunQueuingEnabled, true, 'Glue queues only a run that asks for it: the job\'s flag alone is overridden');
  assert.deepEqual(input.Arguments, {
    '--export_path': 's3://shop-exports/lakesync/exports/ls-shop-c1',
    '--source_database': 'shop',
    '--source_schema': 'public',
    '--source_table': 'events',
    '--catalog': 'lake',
    '--namespace': 'shop',
    '--lake_table': 'events',
    '--action': 'incremental',
    '--primary_key': 'id,ts',
    '--cursor_column': 'created_at',
    '--cursor_mode': 'append',
    '--max_delete_fraction': '0.25',
    '--approve_deletes': 'true',
    '--source': 'shop',
    '--export_id': 'ls-shop-c1',
    '--snapshot_time': '2025-01-01T00:00:00.000Z',
    '--cycle_id': 'c1',
    '--run_token': 'c1:public.events',
    '--result_path': 's3://shop-glue/lakesync/results/shop/c1/public.events.json',
    '--table_bucket_arn': 'arn:aws:s3tables:us-east-2:123456789012:bucket/shop-lake',
    '--datalake-formats': 'iceberg',
  });
  assert.equal(mocks.glue.commandCalls(CreateJobCommand).length + mocks.glue.commandCalls(UpdateJobCommand).length, 0, 'an up-to-date job is left alone');
  assert.equal(mocks.s3.commandCalls(PutObjectCommand).length, 0, 'uploaded scripts are not uploaded again');
});

test('with glue.jobRunQueuing off, each run says so: a full job fails the start instead of waiting', async () => {
  const { mocks, ports, settings } = mockedAws();
  settings.glue.jobRunQueuing = false;
  jobReady(mocks, settings);
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  await ports.load.startLoad(request());
  assert.equal(mocks.glue.commandCalls(StartJobRunCommand)[0]!.args[0].input.JobRunQueuingEnabled, false);
});

test('a FLEX run never asks to be queued (Glue queues standard runs only; a flex run waits for spare capacity itself)', async () => {
  const { mocks, ports, settings } = mockedAws();
  settings.glue.executionClass = 'FLEX';
  jobReady(mocks, settings);
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  await ports.load.startLoad(request());
  const input = mocks.glue.commandCalls(StartJobRunCommand)[0]!.args[0].input;
  assert.equal(input.ExecutionClass, 'FLEX');
  assert.equal(settings.glue.jobRunQueuing, true, 'queuing stays on for the STANDARD runs of the same job');
  assert.equal(input.JobRunQueuingEnabled, false);
});

test('a missing job is created with Glue 5.0, Iceberg, workers and concurrency from the config; scripts uploaded by hash', async () => {
  const { mocks, ports, settings } = mockedAws({ raw: {} });
  mocks.s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
  mocks.s3.on(PutObjectCommand).resolves({});
  mocks.glue.on(GetJobCommand).rejects(awsError('EntityNotFoundException', 'Job lakesync-load-shop not found'));
  mocks.glue.on(CreateJobCommand).resolves({ Name: 'lakesync-load-shop' });
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  await ports.load.startLoad(request());
  const hash = packageGlueScripts(settings.glue.scriptsDir).hash;
  const created = mocks.glue.commandCalls(CreateJobCommand)[0]!.args[0].input;
  assert.equal(created.Name, 'lakesync-load-shop');
  assert.equal(created.Role, 'arn:aws:iam::123456789012:role/lakesync-glue');
  assert.equal(created.GlueVersion, '5.0');
  assert.deepEqual(created.Command, { Name: 'glueetl', ScriptLocation: `s3://shop-glue/lakesync/glue/${hash}/glue_entry.py`, PythonVersion: '3' });
  assert.equal(created.WorkerType, 'G.1X');
  assert.equal(created.NumberOfWorkers, 2);
  assert.equal(created.Timeout, 720);
  assert.equal(created.MaxRetries, 0);
  assert.deepEqual(created.ExecutionProperty, { MaxConcurrentRuns: 10 });
  assert.equal(created.JobRunQueuingEnabled, true);
  assert.equal(created.DefaultArguments?.['--datalake-formats'], 'iceberg');
  assert.equal(created.DefaultArguments?.['--extra-py-files'], `s3://shop-glue/lakesync/glue/${hash}/lakesync_glue.zip`);
  const uploads = mocks.s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
  assert.deepEqual(uploads.sort(), [`lakesync/glue/${hash}/glue_entry.py`, `lakesync/glue/${hash}/lakesync_glue.zip`]);
});

test('changed scripts get a new hash and the job is updated to point at them', async () => {
  const dir = glueScriptsFixture('1');
  try {
    const { mocks, ports, settings } = mockedAws({ scriptsDir: dir });
    const oldSpec = withSpecHash(jobSpec(settings, packageGlueScripts(dir).hash));
    writeFileSync(join(dir, 'lakesync_glue', '__init__.py'), 'def main():\n    return 2\n');
    const newHash = packageGlueScripts(dir).hash;
    assert.notEqual(newHash, oldSpec.DefaultArguments['--lakesync_scripts_hash']);
    mocks.s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
    mocks.s3.on(PutObjectCommand).resolves({});
    mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...oldSpec } });
    mocks.glue.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
    mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_2' });
    await ports.load.startLoad(request());
    const update = mocks.glue.commandCalls(UpdateJobCommand)[0]!.args[0].input;
    assert.equal(update.JobUpdate?.Command?.ScriptLocation, `s3://shop-glue/lakesync/glue/${newHash}/glue_entry.py`);
    assert.notEqual(update.JobUpdate?.DefaultArguments?.[SPEC_HASH_ARGUMENT], oldSpec.DefaultArguments[SPEC_HASH_ARGUMENT]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an update of the job keeps the settings lakesync does not manage (security configuration, notification, description, log location)', async () => {
  const { mocks, settings, clients } = mockedAws();
  const stale = withSpecHash(jobSpec(settings, 'old-scripts'));
  const userSet = { SecurityConfiguration: 'kms-encrypted-logs', NotificationProperty: { NotifyDelayAfter: 30 }, Description: 'owned by the data team', LogUri: 's3://logs/glue/' };
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...stale, ...userSet, DefaultArguments: { ...stale.DefaultArguments, '--enable-metrics': 'true' } } });
  mocks.glue.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
  assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'new-scripts')), 'updated');
  const update = mocks.glue.commandCalls(UpdateJobCommand)[0]!.args[0].input.JobUpdate!;
  assert.equal(update.SecurityConfiguration, 'kms-encrypted-logs', 'UpdateJob resets what it is not given: the job\'s encryption would be dropped');
  assert.deepEqual(update.NotificationProperty, { NotifyDelayAfter: 30 });
  assert.equal(update.Description, 'owned by the data team');
  assert.equal(update.LogUri, 's3://logs/glue/');
  assert.equal(update.DefaultArguments?.['--enable-metrics'], 'true');
  assert.equal(update.Command?.ScriptLocation, jobSpec(settings, 'new-scripts').Command.ScriptLocation);
});

// aws-sdk-client-mock rather than moto: moto (5.0) implements no UpdateJob.
test('a job whose managed settings were changed by hand (MaxConcurrentRuns lowered) is put back to the config, keeping its own settings', async () => {
  const { mocks, settings, clients } = mockedAws();
  const current = withSpecHash(jobSpec(settings, 'scripts'));
  const byHand = { ...current, ExecutionProperty: { MaxConcurrentRuns: 1 }, SecurityConfiguration: 'kms-encrypted-logs' };
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...byHand } });
  mocks.glue.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
  assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'scripts')), 'updated');
  const update = mocks.glue.commandCalls(UpdateJobCommand)[0]!.args[0].input.JobUpdate!;
  assert.deepEqual(update.ExecutionProperty, { MaxConcurrentRuns: 10 });
  assert.equal(update.SecurityConfiguration, 'kms-encrypted-logs');

  // Workers, worker type and timeout too; a job as the config has it (Glue leaving a field out included) is left alone.
  for (const drift of [{ NumberOfWorkers: 1 }, { WorkerType: 'G.2X' as const }, { Timeout: 60 }]) {
    mocks.glue.reset();
    mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...current, ...drift } });
    mocks.glue.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
    assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'scripts')), 'updated', JSON.stringify(drift));
  }
  mocks.glue.reset();
  const { ExecutionProperty: _omitted, ...withoutConcurrency } = current;
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...withoutConcurrency } });
  assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'scripts')), 'unchanged');
  assert.equal(mocks.glue.commandCalls(UpdateJobCommand).length, 0);
});

test('settings changes (workers) also update the job', () => {
  const base = awsSettings('shop', awsSource(), { glueScriptsDir: '/x' });
  const bigger = awsSettings('shop', awsSource({ raw: {} }), { glueScriptsDir: '/x' });
  bigger.glue.numberOfWorkers = 10;
  assert.notEqual(withSpecHash(jobSpec(base, 'h')).DefaultArguments[SPEC_HASH_ARGUMENT], withSpecHash(jobSpec(bigger, 'h')).DefaultArguments[SPEC_HASH_ARGUMENT]);
});

test('missing Glue scripts fail with the path to fix', async () => {
  const { ports } = mockedAws({ scriptsDir: '/nonexistent/glue' });
  const err = await portError(ports.load.startLoad(request()));
  assert.equal(err.kind, 'validation');
  assert.match(err.message, /the Glue job scripts are missing: expected \/nonexistent\/glue\/glue_entry.py/);
});

test('the scripts package is deterministic and skips caches', () => {
  const dir = glueScriptsFixture('7');
  try {
    const a = packageGlueScripts(dir);
    const b = packageGlueScripts(dir);
    assert.equal(a.hash, b.hash);
    assert.deepEqual(Buffer.from(a.libraryZip), Buffer.from(b.libraryZip));
    assert.deepEqual(Object.keys(unzipSync(a.libraryZip)).sort(), ['lakesync_glue/__init__.py', 'lakesync_glue/io/results.py']);
    assert.deepEqual(a.files, ['glue_entry.py', 'lakesync_glue/__init__.py', 'lakesync_glue/io/results.py']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ConcurrentRunsExceededException is retryable and says how to raise the limit', async () => {
  const { mocks, ports, settings } = mockedAws();
  jobReady(mocks, settings);
  mocks.glue.on(StartJobRunCommand).rejects(awsError('ConcurrentRunsExceededException', 'Concurrent runs exceeded for lakesync-load-shop'));
  const err = await portError(ports.load.startLoad(request()));
  assert.equal(err.kind, 'throttled');
  assert.equal(err.retryable, true);
  assert.match(err.message, /Glue StartJobRun for table public.events \(job lakesync-load-shop\) failed with ConcurrentRunsExceededException: .*raise glue.maxConcurrentRuns/);
  // GetJob tells no MaxConcurrentRuns here: no number is claimed for it.
  assert.doesNotMatch(err.message, /MaxConcurrentRuns \(\d+\)/);
  assert.match(err.message, /already runs as many runs as its MaxConcurrentRuns allows \(GetJob did not tell how many\)/);
});

test('ConcurrentRunsExceededException tells enabling queuing only where it would help', async () => {
  const message = async (change: (settings: ReturnType<typeof mockedAws>['settings']) => void) => {
    const { mocks, ports, settings } = mockedAws();
    change(settings);
    jobReady(mocks, settings);
    mocks.glue.on(StartJobRunCommand).rejects(awsError('ConcurrentRunsExceededException', 'Concurrent runs exceeded for lakesync-load-shop'));
    return (await portError(ports.load.startLoad(request()))).message;
  };
  const flex = await message((s) => (s.glue.executionClass = 'FLEX'));
  assert.doesNotMatch(flex, /enable glue.jobRunQueuing/, 'queuing is on already, and Glue never queues a FLEX run');
  assert.match(flex, /FLEX runs are never queued: raise glue.maxConcurrentRuns/);
  assert.match(await message((s) => (s.glue.jobRunQueuing = false)), /raise glue.maxConcurrentRuns or enable glue.jobRunQueuing/);
  assert.doesNotMatch(await message(() => undefined), /enable glue.jobRunQueuing/, 'queuing is on already');
});

test('access denied on StartJobRun is not retried and names glue:StartJobRun', async () => {
  const { mocks, ports, settings } = mockedAws();
  jobReady(mocks, settings);
  mocks.glue.on(StartJobRunCommand).rejects(awsError('AccessDeniedException', 'User is not authorized to perform: glue:StartJobRun', 400));
  const err = await portError(ports.load.startLoad(request()));
  assert.equal(err.kind, 'access-denied');
  assert.equal(err.retryable, false);
  assert.match(err.message, /AccessDeniedException.*lack glue:StartJobRun/);
});

test('Glue run states map to running, succeeded and failed with the error message and run id', async () => {
  const { mocks, ports } = mockedAws();
  const runs: Record<string, object> = {
    jr_s: { JobRunState: 'STARTING' },
    jr_w: { JobRunState: 'WAITING' },
    jr_st: { JobRunState: 'STOPPING' },
    jr_ok: { JobRunState: 'SUCCEEDED', ExecutionTime: 300, WorkerType: 'G.2X', NumberOfWorkers: 5 },
    jr_f: { JobRunState: 'FAILED', ErrorMessage: 'AnalysisException: cannot resolve column total', ExecutionTime: 61 },
    jr_t: { JobRunState: 'TIMEOUT', ExecutionTime: 43200 },
    jr_e: { JobRunState: 'ERROR', ErrorMessage: 'Internal service error' },
    jr_x: { JobRunState: 'EXPIRED' },
    jr_lf: { JobRunState: 'FAILED', ErrorMessage: 'AccessDeniedException: not authorized to perform lakeformation:GetDataAccess' },
  };
  mocks.glue.on(GetJobRunCommand).callsFake((input: { RunId: string }) => ({ JobRun: { Id: input.RunId, ...runs[input.RunId] } }));
  assert.deepEqual(await ports.load.getRun('jr_s'), { runId: 'jr_s', state: 'running', detail: 'STARTING' });
  assert.equal((await ports.load.getRun('jr_w')).state, 'running');
  assert.equal((await ports.load.getRun('jr_st')).state, 'running');
  assert.deepEqual(await ports.load.getRun('jr_ok'), { runId: 'jr_ok', state: 'succeeded', detail: 'SUCCEEDED', executionSeconds: 300, dpuSeconds: 3000 });
  assert.deepEqual(await ports.load.getRun('jr_f'), {
    runId: 'jr_f',
    state: 'failed',
    detail: 'FAILED',
    errorMessage: 'AnalysisException: cannot resolve column total (Glue run jr_f of job lakesync-load-shop)',
    executionSeconds: 61,
  });
  const timeout = await ports.load.getRun('jr_t');
  assert.deepEqual([timeout.state, timeout.detail], ['failed', 'TIMEOUT']);
  assert.match(timeout.errorMessage ?? '', /job timeout \(glue.timeoutMinutes\) \(Glue run jr_t of job lakesync-load-shop\)/);
  const error = await ports.load.getRun('jr_e');
  assert.deepEqual([error.state, error.detail, error.errorMessage], ['failed', 'ERROR', 'Internal service error (Glue run jr_e of job lakesync-load-shop)']);
  assert.deepEqual([(await ports.load.getRun('jr_x')).state, (await ports.load.getRun('jr_x')).detail], ['failed', 'EXPIRED']);
  assert.match((await ports.load.getRun('jr_lf')).errorMessage ?? '', /the Glue job role arn:aws:iam::123456789012:role\/lakesync-glue lacks the IAM permission lakeformation:GetDataAccess/);
});

test('a finished Glue run is billed at least one minute of its DPUs; a running one is not yet', () => {
  const status = (run: object) => runStatus('jr', run, 'lakesync-load-shop', 'arn:aws:iam::123456789012:role/g').dpuSeconds;
  // 20 s on 2 G.1X workers: Glue bills 2 DPUs x 60 s.
  assert.equal(status({ JobRunState: 'SUCCEEDED', ExecutionTime: 20, WorkerType: 'G.1X', NumberOfWorkers: 2 }), 120);
  assert.equal(status({ JobRunState: 'FAILED', ExecutionTime: 5, WorkerType: 'G.2X', NumberOfWorkers: 2 }), 240);
  // Glue's own figure (FLEX, auto scaling) gets the same minimum; a longer run keeps its figure.
  assert.equal(status({ JobRunState: 'SUCCEEDED', ExecutionTime: 30, DPUSeconds: 45, WorkerType: 'G.1X', NumberOfWorkers: 2 }), 120);
  assert.equal(status({ JobRunState: 'SUCCEEDED', ExecutionTime: 90, MaxCapacity: 2 }), 180);
  // An auto scaling run (Glue's own figure on a STANDARD run) ran fewer workers than NumberOfWorkers, its maximum:
  // its minute is at the DPUs it ran on average (12 DPU-s over 20 s: 0.6 DPU x 60 s), not at the maximum's 10 DPUs.
  assert.equal(status({ JobRunState: 'SUCCEEDED', ExecutionTime: 20, DPUSeconds: 12, ExecutionClass: 'STANDARD', WorkerType: 'G.1X', NumberOfWorkers: 10 }), 36);
  assert.equal(status({ JobRunState: 'SUCCEEDED', ExecutionTime: 120, DPUSeconds: 300, ExecutionClass: 'STANDARD', WorkerType: 'G.1X', NumberOfWorkers: 10 }), 300);
  // Still running: its seconds so far. Never ran (expired in the queue): nothing billed.
  assert.equal(status({ JobRunState: 'RUNNING', ExecutionTime: 20, WorkerType: 'G.1X', NumberOfWorkers: 2 }), 40);
  assert.equal(status({ JobRunState: 'EXPIRED', ExecutionTime: 0, WorkerType: 'G.1X', NumberOfWorkers: 2 }), 0);
});

test('findRunByToken reads GetJobRuns page by page and returns the newest run with the token', async () => {
  const { mocks, ports } = mockedAws();
  mocks.glue
    .on(GetJobRunsCommand)
    .resolvesOnce({ JobRuns: [{ Id: 'jr_other', Arguments: { '--run_token': 'c1:public.orders' }, StartedOn: new Date('2025-01-01T00:05:00Z') }], NextToken: 'p2' })
    .resolvesOnce({
      JobRuns: [
        { Id: 'jr_old', Arguments: { '--run_token': 'c1:public.events' }, StartedOn: new Date('2025-01-01T00:01:00Z') },
        { Id: 'jr_new', Arguments: { '--run_token': 'c1:public.events' }, StartedOn: new Date('2025-01-01T00:03:00Z') },
      ],
    });
  assert.equal(await ports.load.findRunByToken(request()), 'jr_new');
  const calls = mocks.glue.commandCalls(GetJobRunsCommand);
  assert.equal(calls.length, 2);
  assert.equal(calls[1]!.args[0].input.NextToken, 'p2');
});

test("cycleRuns reads GetJobRuns page by page and returns the runs of the cycle's table loads with what they used", async () => {
  const { mocks, ports } = mockedAws();
  mocks.glue
    .on(GetJobRunsCommand)
    .resolvesOnce({
      JobRuns: [
        { Id: 'jr_3', JobRunState: 'STOPPED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2, Arguments: { '--run_token': 'c1:public.events' } },
        { Id: 'jr_x', JobRunState: 'SUCCEEDED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2, Arguments: { '--run_token': 'c10:public.events' } },
        { Id: 'jr_p', JobRunState: 'SUCCEEDED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2, Arguments: { '--run_token': 'c1-pack-0011' } },
      ],
      NextToken: 'p2',
    })
    .resolvesOnce({ JobRuns: [{ Id: 'jr_1', JobRunState: 'FAILED', ExecutionTime: 30, DPUSeconds: 45, ExecutionClass: 'FLEX', Arguments: { '--run_token': 'c1:public.orders' } }] });
  const { runs } = await ports.load.cycleRuns!('c1');
  assert.deepEqual(
    runs.map((r) => [r.table, r.status.runId, r.status.state, r.status.dpuSeconds, r.status.executionClass]),
    [
      ['public.events', 'jr_3', 'failed', 200, undefined],
      ['public.orders', 'jr_1', 'failed', 45, 'FLEX'],
    ],
  );
  assert.equal(mocks.glue.commandCalls(GetJobRunsCommand)[1]!.args[0].input.NextToken, 'p2');
});

test("cycleRuns lists the cycle's pack run under each table of its pack file, with the pack's token, its size and the table's place in it, for the tables' shares", async () => {
  const { mocks, ports } = mockedAws();
  const packPath = 's3://shop-glue/lakesync/results/shop/c1/packs/c1-pack-0011.json';
  const loads = ['public.a', 'public.b'].map((t) => ({ namespace: 'shop', lake_table: t.slice(7), run_token: `c1:${t}` }));
  mocks.s3.on(GetObjectCommand).resolves({ Body: objectBody(JSON.stringify({ packToken: 'c1-pack-0011', summaryPath: 's3://x/y', loads })) });
  mocks.glue.on(GetJobRunsCommand).resolves({
    JobRuns: [
      { Id: 'jr_p', JobRunState: 'SUCCEEDED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2, Arguments: { '--run_token': 'c1-pack-0011', '--pack_path': packPath } },
      { Id: 'jr_q', JobRunState: 'SUCCEEDED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2, Arguments: { '--run_token': 'c10-pack-0022', '--pack_path': 's3://shop-glue/other.json' } },
      { Id: 'jr_1', JobRunState: 'FAILED', ExecutionTime: 30, DPUSeconds: 45, Arguments: { '--run_token': 'c1:public.c' } },
    ],
  });
  const { runs } = await ports.load.cycleRuns!('c1');
  assert.deepEqual(
    runs.map((r) => [r.table, r.status.runId, r.status.dpuSeconds, r.pack]),
    [
      ['public.a', 'jr_p', 200, { token: 'c1-pack-0011', tables: 2, index: 0 }],
      ['public.b', 'jr_p', 200, { token: 'c1-pack-0011', tables: 2, index: 1 }],
      ['public.c', 'jr_1', 45, undefined],
    ],
  );
  assert.deepEqual(mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key), ['lakesync/results/shop/c1/packs/c1-pack-0011.json']);
});

test("cycleRuns keeps the other runs when one pack run's pack file cannot be read, and names that run as unread", async () => {
  const { mocks, ports } = mockedAws();
  const packPath = 's3://shop-glue/lakesync/results/shop/c1/packs/c1-pack-0011.json';
  mocks.s3.on(GetObjectCommand).rejects(awsError('SlowDown', 'Please reduce your request rate.', 503));
  mocks.glue.on(GetJobRunsCommand).resolves({
    JobRuns: [
      { Id: 'jr_p', JobRunState: 'SUCCEEDED', ExecutionTime: 100, WorkerType: 'G.1X', NumberOfWorkers: 2, Arguments: { '--run_token': 'c1-pack-0011', '--pack_path': packPath } },
      { Id: 'jr_1', JobRunState: 'FAILED', ExecutionTime: 30, DPUSeconds: 45, Arguments: { '--run_token': 'c1:public.c' } },
    ],
  });
  const { runs, unread } = await ports.load.cycleRuns!('c1');
  assert.deepEqual(runs.map((r) => [r.table, r.status.runId, r.status.dpuSeconds]), [['public.c', 'jr_1', 45]]);
  assert.deepEqual(unread.map((u) => u.runId), ['jr_p']);
  assert.match(unread[0]!.reason, /c1-pack-0011\.json/);
});

test("cycleRuns says when the job's history was not read to its end: the cycle's older runs may be missing", async () => {
  const { mocks, ports } = mockedAws();
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [{ Id: 'jr_1', JobRunState: 'SUCCEEDED', DPUSeconds: 60, Arguments: { '--run_token': 'c1:public.a' } }], NextToken: 'more' });
  const listed = await ports.load.cycleRuns!('c1');
  const pages = mocks.glue.commandCalls(GetJobRunsCommand).length;
  assert.ok(pages > 1);
  assert.deepEqual(listed.truncated, { runs: pages });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  assert.equal((await ports.load.cycleRuns!('c1')).truncated, undefined);
});

test('findRunByToken finds nothing when no run has the token, or the job does not exist yet', async () => {
  const { mocks, ports } = mockedAws();
  mocks.glue.on(GetJobRunsCommand).resolvesOnce({ JobRuns: [{ Id: 'jr_1', Arguments: { '--run_token': 'c0:public.events' } }] }).rejectsOnce(awsError('EntityNotFoundException', 'no job'));
  assert.equal(await ports.load.findRunByToken(request()), undefined);
  assert.equal(await ports.load.findRunByToken(request()), undefined);
});

test('liveRuns reads GetJobRuns newest first until runs are too old to be going, and keeps the live runs of the lake table', async () => {
  const { mocks, ports } = mockedAws();
  const now = Date.now();
  const run = (id: string, state: string, lakeTable: string, agoMinutes: number) => ({
    Id: id,
    JobRunState: state as never,
    StartedOn: new Date(now - agoMinutes * 60_000),
    Arguments: { '--namespace': 'shop', '--lake_table': lakeTable, '--run_token': `c${id}:public.${lakeTable}` },
  });
  mocks.glue
    .on(GetJobRunsCommand)
    .resolvesOnce({ JobRuns: [run('1', 'RUNNING', 'orders', 1), run('2', 'SUCCEEDED', 'orders', 2), run('3', 'WAITING', 'items', 3), { Id: 'jr_x', JobRunState: 'RUNNING' }], NextToken: 'p2' })
    .resolvesOnce({ JobRuns: [run('4', 'STOPPING', 'orders', 60), run('5', 'RUNNING', 'orders', 3 * 24 * 60)], NextToken: 'p3' })
    .resolves({ JobRuns: [] });
  const live = await ports.load.liveRuns('shop', 'orders');
  // Run 5 is still reported running, however old; but twice Glue's job timeout (12 h) has passed
  // since it started, so no older page can hold a live run: the scan stops there.
  assert.deepEqual(live.map((r) => [r.runId, r.runToken, r.detail]), [['1', 'c1:public.orders', 'RUNNING'], ['4', 'c4:public.orders', 'STOPPING'], ['5', 'c5:public.orders', 'RUNNING']]);
  assert.equal(mocks.glue.commandCalls(GetJobRunsCommand).length, 2);
  assert.deepEqual((await ports.load.liveRuns('shop', 'items')).map((r) => r.runId), ['3'], 'loads starting together share one scan');
  assert.equal(mocks.glue.commandCalls(GetJobRunsCommand).length, 2);
  mocks.glue.on(BatchStopJobRunCommand).resolves({ SuccessfulSubmissions: [{ JobRunId: '1' }] });
  await ports.load.stopRun('1');
  await ports.load.liveRuns('shop', 'orders');
  assert.equal(mocks.glue.commandCalls(GetJobRunsCommand).length, 3, 'a stop makes the next look a fresh scan');
});

test('liveRuns finds none when the job does not exist yet; other GetJobRuns errors name the job', async () => {
  const { mocks, ports } = mockedAws();
  mocks.glue.on(GetJobRunsCommand).rejectsOnce(awsError('EntityNotFoundException', 'no job')).rejects(awsError('AccessDeniedException', 'denied'));
  assert.deepEqual(await ports.load.liveRuns('shop', 'orders'), []);
  await ports.load.stopRun('jr_0').catch(() => undefined);
  const err = await portError(ports.load.liveRuns('shop', 'orders'));
  assert.equal(err.kind, 'access-denied');
  assert.match(err.message, /Glue GetJobRuns for the live runs of job lakesync-load-shop failed with AccessDeniedException: denied/);
});

test('stopRun sends BatchStopJobRun; a run that already ended is fine, whatever the refusal says; a run still going is an error', async () => {
  const { mocks, ports } = mockedAws();
  mocks.glue
    .on(BatchStopJobRunCommand)
    .resolvesOnce({ SuccessfulSubmissions: [{ JobName: 'lakesync-load-shop', JobRunId: 'jr_1' }] })
    .resolvesOnce({ Errors: [{ JobRunId: 'jr_2', ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'Job run jr_2 is not running' } }] })
    .resolvesOnce({ Errors: [{ JobRunId: 'jr_4', ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'Invalid state transition for job run jr_4' } }] })
    .resolvesOnce({ Errors: [{ JobRunId: 'jr_3', ErrorDetail: { ErrorCode: 'InternalServiceException', ErrorMessage: 'job run jr_3 could not be stopped' } }] });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_2' }).resolves({ JobRun: { Id: 'jr_2', JobRunState: 'STOPPED' } });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_4' }).resolves({ JobRun: { Id: 'jr_4', JobRunState: 'SUCCEEDED' } });
  mocks.glue.on(GetJobRunCommand, { RunId: 'jr_3' }).resolves({ JobRun: { Id: 'jr_3', JobRunState: 'RUNNING' } });
  await ports.load.stopRun('jr_1');
  assert.deepEqual(mocks.glue.commandCalls(BatchStopJobRunCommand)[0]!.args[0].input, { JobName: 'lakesync-load-shop', JobRunIds: ['jr_1'] });
  assert.equal(mocks.glue.commandCalls(GetJobRunCommand).length, 0, 'a stop Glue accepted needs no look at the run');
  await ports.load.stopRun('jr_2');
  await ports.load.stopRun('jr_4');
  const err = await portError(ports.load.stopRun('jr_3'));
  assert.match(err.message, /could not stop run jr_3 of job lakesync-load-shop: InternalServiceException: job run jr_3 could not be stopped; stop it in the Glue console/);
});

test('readResult: missing is undefined, a result is read, something else is refused', async () => {
  const { mocks, ports } = mockedAws();
  const result = loadResult('public.events', 'events', 'c1', 'c1:public.events', 7, '99');
  mocks.s3
    .on(GetObjectCommand)
    .rejectsOnce(awsError('NoSuchKey', 'The specified key does not exist.', 404))
    .resolvesOnce({ Body: objectBody(JSON.stringify({ ...result, snapshotId: 8744736658442914487n.toString() })) })
    .resolvesOnce({ Body: objectBody('{"hello": 1}') });
  const location = 's3://shop-glue/lakesync/results/shop/c1/public.events.json';
  assert.equal(await ports.load.readResult(location), undefined);
  assert.deepEqual(await ports.load.readResult(location), { ...result, snapshotId: '8744736658442914487' });
  const err = await portError(ports.load.readResult(location));
  assert.equal(err.kind, 'validation');
});

test('the poll policy costs at most 30 GetJobRun calls per hour of run time', async () => {
  const { ports } = mockedAws({ raw: { timeouts: { pollInitialSeconds: 30, pollMaximumSeconds: 300 } } });
  assert.deepEqual(ports.load.pollPolicy, { initialMs: 30_000, maxMs: 120_000, maxCallsPerHour: 30 });
  // The load activity's own poll loop over a simulated hour-long run.
  let elapsed = 0;
  let calls = 0;
  await pollUntilEnded(
    async () => ({ runId: 'jr', state: ++calls && elapsed >= 3_600_000 ? 'succeeded' : 'running' }),
    async (ms) => void (elapsed += ms),
    ports.load.pollPolicy!,
    () => elapsed,
  );
  assert.ok(calls <= 30, `${calls} calls in an hour`);
});

test('a job last written for another source is rewritten with a warning naming both sources: they must share its settings or use a job each', async () => {
  const { mocks, settings, clients } = mockedAws();
  const crm = { ...settings, source: 'crm', glue: { ...settings.glue, maxConcurrentRuns: 3 } };
  const written = withSpecHash(jobSpec(crm, 'scripts'));
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...written, DefaultArguments: { ...written.DefaultArguments, [JOB_SOURCE_ARGUMENT]: 'crm' } } });
  mocks.glue.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
  const warnings: string[] = [];
  assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'scripts'), (m) => warnings.push(m)), 'updated');
  assert.equal(mocks.glue.commandCalls(UpdateJobCommand)[0]!.args[0].input.JobUpdate!.DefaultArguments?.[JOB_SOURCE_ARGUMENT], 'shop', 'the job says which source wrote it');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /Glue job lakesync-load-shop was last written for source crm with other settings.*source shop.*aws\.glue\.jobName/);

  // Its own source's job with new scripts (an upgrade), or a job written before it said whose it is: no warning.
  for (const source of ['shop', undefined]) {
    mocks.glue.reset();
    warnings.length = 0;
    const old = withSpecHash(jobSpec(settings, 'old-scripts'));
    mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...old, DefaultArguments: { ...old.DefaultArguments, ...(source ? { [JOB_SOURCE_ARGUMENT]: source } : {}) } } });
    mocks.glue.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
    assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'scripts'), (m) => warnings.push(m)), 'updated');
    assert.deepEqual(warnings, [], String(source));
  }
  // Another source with the same settings shares the job: it is left alone, whoever wrote it.
  mocks.glue.reset();
  const same = withSpecHash(jobSpec(settings, 'scripts'));
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ...same, DefaultArguments: { ...same.DefaultArguments, [JOB_SOURCE_ARGUMENT]: 'crm' } } });
  assert.equal(await ensureJobDefinition(clients.glue, settings, jobSpec(settings, 'scripts'), (m) => warnings.push(m)), 'unchanged');
  assert.deepEqual(warnings, []);
});
