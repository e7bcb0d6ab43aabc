/**
 * Where Athena keeps the results of lakesync's queries: in aws.athena.outputLocation, or, for a
 * workgroup with Athena managed query results (which refuses a query that names a location), in
 * Athena's own storage, with aws.athena.outputLocation left out. Against aws-sdk-client-mock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetQueryExecutionCommand, GetQueryResultsCommand, GetWorkGroupCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { buildAwsPorts } from '../../src/aws';
import { createClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import { checkAthenaWorkgroup } from '../../src/doctor/checks/athena';
import { doctorSettings } from '../../src/doctor';
import { createDoctorClients } from '../../src/doctor/clients';
import { PermissionSimulator } from '../../src/doctor/simulate';
import type { DoctorContext } from '../../src/doctor/types';
import type { VerifyRequest } from '../../src/model';
import { awsSource, glueScriptsFixture } from './fixtures';

const verifyReq: VerifyRequest = { source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 42 }, snapshotId: '8744736658442914487', checks: [] };

test('a workgroup with managed query results: outputLocation may be left out, and the queries name no result location', async () => {
  const source = awsSource({ athena: { workgroup: 'managed' } });
  const settings = awsSettings('shop', source, { glueScriptsDir: glueScriptsFixture() });
  const clients = createClients(settings);
  const athena = mockClient(clients.athena);
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'row_count', Type: 'bigint' }] }, Rows: [{ Data: [{ VarCharValue: 'row_count' }] }, { Data: [{ VarCharValue: '42' }] }] } });
  const ports = buildAwsPorts(settings, clients, { athenaPolling: { initialMs: 1, maxMs: 5, timeoutMs: 2_000 }, warn: () => undefined });
  assert.equal((await ports.verify.verify(verifyReq)).passed, true);
  const input = athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input;
  assert.equal(input.WorkGroup, 'managed');
  assert.equal(input.ResultConfiguration, undefined, 'a managed-results workgroup refuses a query naming an output location');
});

function doctorContext(athena: Record<string, unknown>) {
  const settings = doctorSettings('shop', awsSource({ athena }));
  const clients = createDoctorClients(settings);
  const mocks = { athena: mockClient(clients.athena) };
  const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, false, settings.region), missingRoles: new Set() };
  return { ctx, mocks };
}

test('doctor: a workgroup with managed query results and a configured outputLocation fails, saying to leave it out', async () => {
  const { ctx, mocks } = doctorContext({ workgroup: 'managed', outputLocation: 's3://shop-athena/results/' });
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'managed', State: 'ENABLED', Configuration: { ManagedQueryResultsConfiguration: { Enabled: true } } } });
  const result = await checkAthenaWorkgroup(ctx);
  assert.equal(result.status, 'FAIL', JSON.stringify(result));
  assert.match(result.problem!, /managed query results/);
  assert.match(result.fix!, /remove aws\.athena\.outputLocation/);
});

test('doctor: without outputLocation, a workgroup with managed query results passes, one with its own location warns, one with neither fails', async () => {
  const { ctx, mocks } = doctorContext({ workgroup: 'managed' });
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'managed', State: 'ENABLED', Configuration: { ManagedQueryResultsConfiguration: { Enabled: true } } } });
  assert.equal((await checkAthenaWorkgroup(ctx)).status, 'ok');
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'managed', State: 'ENABLED', Configuration: { ResultConfiguration: { OutputLocation: 's3://wg-results/' } } } });
  const own = await checkAthenaWorkgroup(ctx);
  assert.equal(own.status, 'warn', JSON.stringify(own));
  assert.match(own.fix!, /set aws\.athena\.outputLocation to s3:\/\/wg-results\//);
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'managed', State: 'ENABLED', Configuration: {} } });
  const none = await checkAthenaWorkgroup(ctx);
  assert.equal(none.status, 'FAIL', JSON.stringify(none));
  assert.match(none.problem!, /no result location/);
  assert.match(none.fix!, /aws\.athena\.outputLocation/);
});
