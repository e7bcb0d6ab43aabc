/**
 * A verify check's SQL is held to the read-only rule as Athena receives it: with {table} replaced
 * by the lake table's qualified name. A table bucket name may hold "--" (S3 Tables allows it), which
 * outside quotes starts a comment: {table} written inside a quoted name would otherwise turn text
 * the check hid in that name into statements of their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { AthenaQueries, AthenaVerify } from '../../src/aws/athena';
import type { VerifyRequest } from '../../src/model';
import { ACCOUNT, ATHENA_OUTPUT, awsSource, EXPORT_BUCKET, EXPORT_ROLE, GLUE_ROLE, REGION, SCRIPT_BUCKET } from './fixtures';
import { portError } from './mocks';

const BUCKET = 'shop--lake';
const HIDDEN = 'SELECT 1 AS "{table}\n; DROP TABLE shop.orders --"';

test('a check that hides a second statement behind {table} in a quoted name is refused before any Athena query', async () => {
  const athena = new AthenaClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const mock = mockClient(athena);
  mock.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
  mock.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mock.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'row_count', Type: 'bigint' }] }, Rows: [{ Data: [{ VarCharValue: 'row_count' }] }, { Data: [{ VarCharValue: '1' }] }] } });
  const settings = { tableBucket: { name: BUCKET }, athena: { workgroup: 'lakesync', outputLocation: 's3://results/' } } as never;
  const verify = new AthenaVerify(new AthenaQueries(athena, settings, { initialMs: 1, maxMs: 1, timeoutMs: 1_000 }), settings);
  const req: VerifyRequest = { source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 1 }, snapshotId: null, checks: [{ name: 'sneaky', sql: HIDDEN, expect: 1 }] };
  const err = await portError(verify.verify(req));
  assert.equal(err.kind, 'validation');
  assert.match(err.message, /check sneaky of public\.orders/);
  assert.match(err.message, /once \{table\} is replaced by "s3tablescatalog\/shop--lake"/);
  assert.equal(mock.commandCalls(StartQueryExecutionCommand).length, 0, 'nothing reached Athena');
});

test('the config refuses such a check for a table bucket whose name holds "--"', () => {
  const aws = {
    region: REGION,
    accountId: ACCOUNT,
    export: { bucket: EXPORT_BUCKET, prefix: 'lakesync/exports', iamRoleArn: EXPORT_ROLE, kmsKeyId: 'alias/lakesync-export' },
    tableBucket: { name: BUCKET, create: true },
    glue: { roleArn: GLUE_ROLE, scriptBucket: SCRIPT_BUCKET },
    athena: { outputLocation: ATHENA_OUTPUT },
  };
  const raw = { aws, verify: { checks: [{ name: 'sneaky', table: 'public.orders', sql: HIDDEN, expect: 1 }] } };
  assert.throws(() => awsSource({ raw }), (err: Error) => /once \{table\} is replaced by \\?"s3tablescatalog\/shop--lake/.test(err.message) && /"checks",\s*0,\s*"sql"/.test(err.message));
});
