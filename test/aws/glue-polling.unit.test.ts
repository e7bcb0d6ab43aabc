/**
 * How often the load activity polls a Glue run: at most 30 GetJobRun calls for a one-hour run,
 * counted over simulated time (node:test mock timers drive the activity's sleeps and clock) with
 * aws-sdk-client-mock, since a moto run cannot be held RUNNING for a simulated hour.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { GetJobCommand, GetJobRunCommand, GetJobRunsCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadActivities, nextPollDelay, type PollPolicy, pollUntilEnded } from '../../src/activities/load';
import { jobSpec, withSpecHash } from '../../src/aws/glue-job';
import { packageGlueScripts } from '../../src/aws/glue-package';
import { awsSettings } from '../../src/backends/aws';
import type { LakesyncConfig } from '../../src/config/schema';
import type { LoadRunStatus } from '../../src/model';
import { planEntry } from '../helpers/plan';
import { awsSource, loadResult, ORDERS_LOAD_INPUT, ORDERS_PLAN_KEY, ORDERS_RESULT_KEY } from './fixtures';
import { mockedAws, objectBody } from './mocks';

const HOUR = 3_600_000;
const PLAN_KEY = ORDERS_PLAN_KEY;
const RESULT_KEY = ORDERS_RESULT_KEY;
const input = ORDERS_LOAD_INPUT;

/** Polls a run that ends after `runMs` on a simulated clock; returns how many polls saw it. */
async function pollsFor(policy: PollPolicy, runMs: number): Promise<number> {
  let now = 0;
  let calls = 0;
  await pollUntilEnded(
    async (): Promise<LoadRunStatus> => {
      calls++;
      return { runId: 'jr', state: now >= runMs ? 'succeeded' : 'running' };
    },
    async (ms) => {
      now += ms;
    },
    policy,
    () => now,
  );
  return calls;
}

test('a one-hour Glue run is polled at most 30 times, whatever the poll settings', async () => {
  // The defaults (30 s first pause), the fixture's (1 s to 2 s) and the fastest a config allows.
  for (const timeouts of [{}, { pollInitialSeconds: 1, pollMaximumSeconds: 2 }, { pollInitialSeconds: 1, pollMaximumSeconds: 1 }]) {
    const source = awsSource({ raw: { timeouts: { heartbeatSeconds: 60, ...timeouts } } });
    const policy = awsSettings('shop', source, { glueScriptsDir: '/x' }).loadPoll;
    for (const runMs of [HOUR - 1, HOUR, HOUR + 1, HOUR + 60_000]) {
      const calls = await pollsFor(policy, runMs);
      assert.ok(calls <= 30, `${calls} GetJobRun calls for a run of ${runMs} ms with ${JSON.stringify(policy)}`);
    }
    // Longer runs keep to the same rate; short ones are still seen ending soon.
    assert.ok((await pollsFor(policy, 3 * HOUR)) <= 90);
    assert.ok((await pollsFor(policy, 60_000)) <= 7);
  }
});

test('the pauses follow the backoff first, then stretch to keep within the hourly budget', () => {
  const policy = { initialMs: 5_000, maxMs: 120_000, maxCallsPerHour: 30 };
  assert.deepEqual([1, 2, 3, 4, 5].map((calls) => nextPollDelay(policy, calls, 0)), [5_000, 10_000, 20_000, 40_000, 80_000]);
  // Poll 24 comes no earlier than 18 h / 23 into the run.
  assert.equal(nextPollDelay(policy, 23, 40 * 60_000), Math.ceil((18 * HOUR) / 23 - 40 * 60_000));
  // Without a budget (the embedded mode), the backoff alone.
  assert.equal(nextPollDelay({ initialMs: 250, maxMs: 1_000 }, 10, 3 * HOUR), 1_000);
});

test('the load activity makes at most 30 GetJobRun calls while a Glue run takes an hour', async (t) => {
  const { mocks, settings, ports } = mockedAws();
  const plan = [planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', primaryKey: ['id'] })];
  mocks.s3.on(GetObjectCommand, { Key: PLAN_KEY }).resolves({ Body: objectBody(JSON.stringify(plan)) });
  mocks.s3.on(GetObjectCommand, { Key: RESULT_KEY }).resolves({ Body: objectBody(JSON.stringify(loadResult('public.orders', 'orders', 'c1', 'c1:public.orders', 42, '1'))) });
  mocks.s3.on(HeadObjectCommand).resolves({});
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: settings.glue.jobName, DefaultArguments: withSpecHash(jobSpec(settings, packageGlueScripts(settings.glue.scriptsDir).hash)).DefaultArguments } });
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });

  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  let startedAt = 0;
  mocks.glue.on(StartJobRunCommand).callsFake(() => {
    startedAt = Date.now();
    return { JobRunId: 'jr_1' };
  });
  mocks.glue.on(GetJobRunCommand).callsFake(() => ({ JobRun: { Id: 'jr_1', JobRunState: Date.now() - startedAt >= HOUR ? 'SUCCEEDED' : 'RUNNING' } }));

  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource() } };
  const activities = loadActivities({ config, portsFor: () => ports });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
  let settled = false;
  const run = env.run(activities.loadTable, input).finally(() => (settled = true));
  // Simulated time: a second at a time, letting the activity's promises run in between.
  for (let second = 0; !settled && second < 3 * 3600; second++) {
    await new Promise((resolve) => setImmediate(resolve));
    t.mock.timers.tick(1_000);
  }
  const result = (await run) as { rowsRead: number };
  assert.equal(result.rowsRead, 42);
  const calls = mocks.glue.commandCalls(GetJobRunCommand).length;
  assert.ok(Date.now() - startedAt >= HOUR, 'the run lasted the simulated hour');
  assert.ok(calls <= 30, `${calls} GetJobRun calls for a one-hour run`);
  assert.ok(calls >= 10, `${calls} GetJobRun calls: the run is still watched`);
  mock.timers.reset();
});
