/**
 * A verification in a workgroup Athena cannot run it in (missing, or disabled) fails saying which
 * workgroup, which table and what to do. The missing workgroup on moto over HTTP; the disabled one
 * (which moto does not refuse) against aws-sdk-client-mock, with the message Athena gives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { VerifyRequest } from '../../src/model';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { ATHENA_OUTPUT, awsSource, glueScriptsFixture } from './fixtures';
import { awsError, mockedAws, portError } from './mocks';

const verifyReq: VerifyRequest = { source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 42 }, snapshotId: '8744736658442914487', checks: [] };

let moto: MotoServer;
let clients: AwsClients | undefined;
before(async () => {
  useTestCredentials();
  moto = await startMoto();
});
after(async () => {
  if (clients) destroyClients(clients);
  await moto?.stop();
});

test('a workgroup that does not exist fails the verification naming the table, the workgroup and the fix', async () => {
  const settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint, athena: { workgroup: 'lakesync-missing', outputLocation: ATHENA_OUTPUT } }), { glueScriptsDir: glueScriptsFixture() });
  clients = createClients(settings);
  const ports = buildAwsPorts(settings, clients, { athenaPolling: { initialMs: 1, maxMs: 5, timeoutMs: 2_000 }, warn: () => undefined });
  const err = await portError(ports.verify.verify(verifyReq));
  assert.equal(err.retryable, false);
  assert.match(err.message, /StartQueryExecution for verify of public\.orders \(shop\.orders\)/);
  assert.match(err.message, /Athena workgroup lakesync-missing/);
  assert.match(err.message, /create it or correct aws\.athena\.workgroup/);
  assert.doesNotMatch(err.message, /check the aws section of lakesync\.yaml and the names it gives/);
});

test('a disabled workgroup fails the verification saying to enable it', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).rejects(awsError('InvalidRequestException', 'Unable to submit query since WorkGroup primary is disabled.'));
  const err = await portError(ports.verify.verify(verifyReq));
  assert.equal(err.retryable, false);
  assert.match(err.message, /verify of public\.orders \(shop\.orders\)/);
  assert.match(err.message, /Athena workgroup primary is disabled/);
  assert.match(err.message, /aws athena update-work-group --work-group primary --state ENABLED/);
});
