/**
 * The verify activity over the Athena adapter with aws-sdk-client-mock (moto's Athena answers
 * only results queued in advance and never takes long): it heartbeats before each configured
 * check, its timeout grows with the number of checks, and a cancelled verification stops its query.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { BatchGrantPermissionsCommand, ListPermissionsCommand } from '@aws-sdk/client-lakeformation';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { cycleActivities } from '../../src/activities/cycle';
import { publishActivities, type VerifyTableInput } from '../../src/activities/publish';
import type { VerifyHeartbeat } from '../../src/activities/verify';
import type { LakesyncConfig } from '../../src/config/schema';
import type { CycleSettings } from '../../src/model';
import type { Ports } from '../../src/ports';
import { shortActivity, VERIFY_STEP_MINUTES, verifyActivity } from '../../src/workflows/options';
import { awsSource, READER } from './fixtures';
import { mockedAws } from './mocks';

const CHECKS = ['no_negative_totals', 'ids_unique', 'recent_rows'].map((name, i) => ({ name, table: 'public.orders', sql: `SELECT ${i} FROM {table}`, expect: i }));

function config(checks = CHECKS): LakesyncConfig {
  return { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource({ raw: { verify: { enabled: true, checks } } }) } };
}

/** The verification of public.orders, created from export ls-1 with its 42 rows. */
const CREATED: VerifyTableInput = {
  source: 'shop',
  table: 'public.orders',
  lakeTable: 'orders',
  action: 'create',
  export: { exportId: 'ls-1', location: 's3://shop-exports/lakesync/exports/ls-1', snapshotId: 's', adopted: false },
  load: { action: 'create', committed: true, inserted: 42, rowCountAfter: 42, snapshotId: '8744736658442914487' },
};

/** The verify activities over an Athena whose query `id` stays in `state` (stopped when asked), the export counting 42 rows. */
function athenaStuckIn(state: 'RUNNING' | 'QUEUED', id: string, athenaTimeoutMs?: number) {
  const { mocks, ports } = mockedAws(athenaTimeoutMs ? { athenaTimeoutMs } : {});
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: id });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: state } } });
  mocks.athena.on(StopQueryExecutionCommand).resolves({});
  const withCount: Ports = { ...ports, discover: { ...ports.discover, exportRowCount: async () => 42 } as Ports['discover'] };
  return { mocks, activities: publishActivities({ config: config([]), portsFor: () => withCount }) };
}

test('verification heartbeats before the export count, the row count and each configured check, in order', async () => {
  const { mocks, ports } = mockedAws();
  // Each query answers its own value: the row count 42, then each check its expected value.
  const answers = ['42', '0', '1', '2'];
  let query = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${query++}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((input: { QueryExecutionId: string }) => ({
    ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: 'v' }] }, { Data: [{ VarCharValue: answers[Number(input.QueryExecutionId.slice(1))] }] }] },
  }));
  const withCount: Ports = { ...ports, discover: { ...ports.discover, exportRowCount: async () => 42 } as Ports['discover'] };
  const activities = publishActivities({ config: config(), portsFor: () => withCount });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 120_000 });
  const beats: VerifyHeartbeat[] = [];
  env.on('heartbeat', (d: VerifyHeartbeat) => beats.push(d));
  const outcome = (await env.run(activities.verifyTable, CREATED)) as { passed: boolean; checks: unknown[] };
  assert.equal(outcome.passed, true, JSON.stringify(outcome));
  assert.deepEqual(
    beats.map((b) => b.step),
    ['counting the export rows', 'row count', ...CHECKS.map((c) => c.name)],
  );
  assert.ok(beats.every((b) => b.table === 'public.orders'));
});

test("the verify activity's timeout is computed from the number of checks, and it has a heartbeat timeout", () => {
  const base = { retry: { initialIntervalSeconds: 5, maximumIntervalSeconds: 300, backoffCoefficient: 2, maximumAttempts: 5 }, timeouts: { loadHours: 12, heartbeatSeconds: 60, pollInitialSeconds: 30, pollMaximumSeconds: 300 } } as CycleSettings;
  const none = verifyActivity({ ...base, verifyChecks: 0 });
  const many = verifyActivity({ ...base, verifyChecks: 40 });
  assert.equal(none.startToCloseTimeout, `${4 * VERIFY_STEP_MINUTES} minutes`);
  assert.equal(many.startToCloseTimeout, `${44 * VERIFY_STEP_MINUTES} minutes`);
  assert.equal(many.heartbeatTimeout, '60s');
  // Cycles recorded before the count existed get the checkless timeout, never less than the old 10 minutes.
  assert.equal(verifyActivity(base).startToCloseTimeout, none.startToCloseTimeout);
  assert.equal(shortActivity(base).startToCloseTimeout, '10 minutes');
});

test("the verify activity's timeout covers each step of an incremental table's verification at its longest, the export count included", async () => {
  const { mocks, ports } = mockedAws();
  // The parent snapshot, then the counts at the load's snapshot and at its parent.
  const answers = ['100', '130', '100'];
  let query = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${query++}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((input: { QueryExecutionId: string }) => ({
    ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: answers[Number(input.QueryExecutionId.slice(1))] }] }] },
  }));
  let exportCounts = 0;
  const withCount: Ports = { ...ports, discover: { ...ports.discover, exportRowCount: async () => (exportCounts++, 500) } as Ports['discover'] };
  await publishActivities({ config: config([]), portsFor: () => withCount }).verifyTable({
    ...CREATED,
    action: 'incremental',
    load: { action: 'incremental', committed: true, inserted: 30, rowCountAfter: 130, snapshotId: '200' },
  });
  const steps = exportCounts + mocks.athena.commandCalls(StartQueryExecutionCommand).length;
  const base = { retry: { initialIntervalSeconds: 5, maximumIntervalSeconds: 300, backoffCoefficient: 2, maximumAttempts: 5 }, timeouts: { loadHours: 12, heartbeatSeconds: 60, pollInitialSeconds: 30, pollMaximumSeconds: 300 } } as CycleSettings;
  const minutes = Number(/^(\d+) minutes$/.exec(String(verifyActivity({ ...base, verifyChecks: 0 }).startToCloseTimeout))![1]);
  assert.ok(minutes >= steps * VERIFY_STEP_MINUTES, `${steps} steps of up to ${VERIFY_STEP_MINUTES} minutes each, in ${minutes} minutes`);
});

test('the cycle settings carry the most checks any one table has', async () => {
  const { ports } = mockedAws();
  const checks = [...CHECKS, { name: 'other', table: 'public.events', sql: 'SELECT 1', expect: 1 }];
  const settings = await cycleActivities({ config: config(checks), portsFor: () => ports }).cycleSettings('shop');
  assert.equal(settings.verifyChecks, 3);
  const none = await cycleActivities({ config: config([]), portsFor: () => ports }).cycleSettings('shop');
  assert.equal(none.verifyChecks, 0);
});

test('a cancelled verification stops its running Athena query and ends as cancelled, without waiting for the query', async () => {
  // The adapter would poll the query for up to a minute: once cancelled, it polls at most once more.
  const { mocks, activities } = athenaStuckIn('RUNNING', 'long', 60_000);
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 120_000 });
  const running = env.run(activities.verifyTable, CREATED);
  // Once the query runs, the cycle is cancelled.
  while (mocks.athena.commandCalls(GetQueryExecutionCommand).length === 0) await delay(5);
  const pollsAtCancel = mocks.athena.commandCalls(GetQueryExecutionCommand).length;
  env.cancel('CANCELLED');
  await assert.rejects(running, (err: Error) => err instanceof CancelledFailure);
  const pollsAfter = mocks.athena.commandCalls(GetQueryExecutionCommand).length - pollsAtCancel;
  assert.ok(pollsAfter <= 1, `${pollsAfter} polls of the query after the cancellation`);
  assert.deepEqual(mocks.athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input), [{ QueryExecutionId: 'long' }]);
});

test('a query whose state cannot be read (GetQueryExecution throttled past its retries) is stopped, not left running billed', async () => {
  const { mocks, activities } = athenaStuckIn('RUNNING', 'unread');
  mocks.athena.on(GetQueryExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
  await assert.rejects(new MockActivityEnvironment({ heartbeatTimeoutMs: 120_000 }).run(activities.verifyTable, CREATED), /GetQueryExecution/);
  assert.deepEqual(mocks.athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input), [{ QueryExecutionId: 'unread' }]);
});

test('a configured check that fails says which check of verify.checks, and what to do', async () => {
  const { mocks, ports } = mockedAws();
  // The row count passes (42); the check answers 3 where it expects 0.
  const answers = ['42', '3'];
  let query = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${query++}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((input: { QueryExecutionId: string }) => ({
    ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: 'v' }] }, { Data: [{ VarCharValue: answers[Number(input.QueryExecutionId.slice(1))] }] }] },
  }));
  const withCount: Ports = { ...ports, discover: { ...ports.discover, exportRowCount: async () => 42 } as Ports['discover'] };
  const checks = [{ name: 'no negative totals', table: 'public.orders', sql: 'SELECT count(*) FROM {table} WHERE total < 0', expect: 0 }];
  const activities = publishActivities({ config: config(checks), portsFor: () => withCount });
  await assert.rejects(new MockActivityEnvironment().run(activities.verifyTable, CREATED), (err: Error) => {
    assert.match(err.message, /verification of public\.orders \(shop\.orders\) failed: no negative totals: expected 0, got 3/);
    assert.match(err.message, /verify\.checks of source shop.*lakesync rerun shop --tables public\.orders/);
    return true;
  });
});

test("a query still QUEUED on the verification's last attempt fails it saying no attempt is left, naming the table and the rerun", async () => {
  const { activities } = athenaStuckIn('QUEUED', 'queued');
  const retryPolicy = { maximumAttempts: 5, initialInterval: 5_000, backoffCoefficient: 2 };
  const last = new MockActivityEnvironment({ attempt: 5, retryPolicy });
  await assert.rejects(last.run(activities.verifyTable, CREATED), (err: ApplicationFailure) => {
    assert.match(err.message, /public\.orders.*still QUEUED/);
    assert.doesNotMatch(err.message, /the step is retried/);
    assert.match(err.message, /last of 5 attempts.*lakesync rerun shop --tables public\.orders/);
    assert.equal(err.type, 'AthenaQueryTimeout');
    return true;
  });
  // An earlier attempt is retried, and says so.
  const earlier = new MockActivityEnvironment({ attempt: 2, retryPolicy });
  await assert.rejects(earlier.run(activities.verifyTable, CREATED), (err: ApplicationFailure) => /the step is retried/.test(err.message) && !err.nonRetryable);
});

test("a grant refused for a passing Lake Formation condition on its last attempt says no attempt is left and how to rerun", async () => {
  const { mocks, ports } = mockedAws();
  mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({
    Failures: [{ RequestEntry: { Id: '0' }, Error: { ErrorCode: 'ConcurrentModificationException', ErrorMessage: 'Another update is in progress on the resource' } }],
  });
  const grants = [{ principal: READER }];
  const activities = publishActivities({ config: { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource({ raw: { grants } }) } }, portsFor: () => ports });
  const retryPolicy = { maximumAttempts: 5, initialInterval: 5_000, backoffCoefficient: 2 };
  await assert.rejects(new MockActivityEnvironment({ attempt: 5, retryPolicy }).run(activities.grantTable, 'shop', 'orders'), (err: ApplicationFailure) => {
    assert.match(err.message, /grant failed for lake table shop\.orders: Lake Formation could not grant/);
    assert.doesNotMatch(err.message, /the step is retried/);
    assert.match(err.message, /last of 5 attempts.*lakesync rerun shop --failed/);
    return true;
  });
});
