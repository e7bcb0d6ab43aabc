/** The AWS error mapping, the export discovery parser and the emulator compatibility layer. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DescribeExportTasksCommand } from '@aws-sdk/client-rds';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { fixTimestamps } from '../../src/emulator';
import { awsErrorKind, toPortError } from '../../src/aws/errors';
import { awsSettings } from '../../src/backends/aws';
import { ConfigError } from '../../src/errors';
import { SKIPPED_REMEDY } from '../../src/export-listing';
import { sourceSchema } from '../../src/config/schema';
import { awsSource } from './fixtures';
import { awsError, mockedAws, objectBody, portError } from './mocks';

test('AWS error codes map to retryable and final kinds', () => {
  const cases: [Error, string][] = [
    [awsError('ThrottlingException', 'slow down'), 'throttled'],
    [awsError('Throttling', 'Rate exceeded'), 'throttled'],
    [awsError('SlowDown', 'Please reduce your request rate', 503), 'throttled'],
    [awsError('ConcurrentRunsExceededException', 'too many'), 'throttled'],
    [awsError('TooManyRequestsException', 'x', 429), 'throttled'],
    [awsError('InternalServiceException', 'oops', 500), 'transient'],
    [awsError('ServiceUnavailable', 'x', 503), 'transient'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'transient'],
    [awsError('AccessDeniedException', 'no'), 'access-denied'],
    [awsError('AccessDenied', 'no', 403), 'access-denied'],
    [awsError('ValidationException', 'bad'), 'validation'],
    [awsError('InvalidParameterValue', 'bad'), 'validation'],
    [awsError('InvalidInputException', 'bad'), 'validation'],
    [awsError('EntityNotFoundException', 'gone'), 'not-found'],
    [awsError('DBSnapshotNotFoundFault', 'gone', 404), 'not-found'],
    [awsError('AlreadyExistsException', 'there'), 'already-exists'],
    [awsError('SomethingNew', 'hm', 409), 'failed'],
    [awsError('SomethingNew', 'a client error'), 'validation'],
  ];
  for (const [err, kind] of cases) assert.equal(awsErrorKind(err), kind, (err as Error).name);
});

test('a PortError message names the call, the subject, the code and the fix', () => {
  const err = toPortError(awsError('ValidationException', '1 validation error detected: Value at workerType'), { service: 'Glue', operation: 'CreateJob', subject: 'Glue job lakesync-load' });
  assert.equal(err.kind, 'validation');
  assert.equal(err.code, 'ValidationException');
  assert.equal(err.message, 'Glue CreateJob for Glue job lakesync-load failed with ValidationException: 1 validation error detected: Value at workerType (check the aws section of lakesync.yaml and the names it gives)');
});

test('discover concatenates every export_tables_info file, paginated, in file order, with the task warnings', async () => {
  const { mocks, ports } = mockedAws();
  mocks.rds.on(DescribeExportTasksCommand).resolves({
    ExportTasks: [{ ExportTaskIdentifier: 'ls-1', Status: 'COMPLETE', WarningMessage: JSON.stringify({ skippedTables: [{ target: 'shop.public.b', reason: 'row too large' }], note: 'OID columns are not exported' }) }],
  });
  const root = 'lakesync/exports/ls-1';
  mocks.s3.on(GetObjectCommand, { Key: `${root}/export_info_ls-1.json` }).resolves({ Body: objectBody('{"status":"COMPLETE"}') });
  mocks.s3
    .on(ListObjectsV2Command)
    .resolvesOnce({ Contents: [{ Key: `${root}/export_tables_info_ls-1_from_10_to_11.json` }], IsTruncated: true, NextContinuationToken: 't2' })
    .resolvesOnce({ Contents: [{ Key: `${root}/export_tables_info_ls-1_from_1_to_9.json` }], IsTruncated: false })
    // Then the data files under the database's folder: none, and no entry says it has data.
    .resolves({ Contents: [], IsTruncated: false });
  mocks.s3.on(GetObjectCommand, { Key: `${root}/export_tables_info_ls-1_from_1_to_9.json` }).resolves({ Body: objectBody(JSON.stringify({ perTableStatus: [{ target: 'shop.public.a', status: 'COMPLETE', warningMessage: 'column x truncated' }] })) });
  mocks.s3.on(GetObjectCommand, { Key: `${root}/export_tables_info_ls-1_from_10_to_11.json` }).resolves({ Body: objectBody(JSON.stringify({ perTableStatus: [{ target: 'shop.public.b', status: 'complete' }, { target: 'shop.public.c', status: 'SKIPPED' }] })) });
  const found = await ports.discover.discover({ exportId: 'ls-1', location: `s3://shop-exports/${root}`, snapshotId: 's', adopted: false });
  assert.deepEqual(found.tables.map((t) => t.table), ['public.a']);
  assert.deepEqual(found.skipped, [
    { table: 'public.c', reason: 'export status SKIPPED; RDS skips a table it cannot export (a column name with a space or , ; { } ( ) = tab or newline, a slash in the table name, an unlogged or temporary table, a row near 2 GB): fix that in the source or exclude the table, then run a new sync (a rerun reuses this export)' },
    { table: 'public.b', reason: `row too large${SKIPPED_REMEDY}` },
  ]);
  assert.deepEqual(found.warnings, ['public.a: column x truncated', 'note: OID columns are not exported']);
  assert.equal(mocks.s3.commandCalls(ListObjectsV2Command)[1]!.args[0].input.ContinuationToken, 't2');
});

test('a tables-info file S3 lists but no longer holds when read fails discover, naming its table range', async () => {
  const { mocks, ports } = mockedAws();
  const root = 'lakesync/exports/ls-3';
  mocks.s3.on(GetObjectCommand, { Key: `${root}/export_info_ls-3.json` }).resolves({ Body: objectBody('{"status":"COMPLETE"}') });
  mocks.s3
    .on(ListObjectsV2Command)
    .resolvesOnce({ Contents: [{ Key: `${root}/export_tables_info_ls-3_from_1_to_1.json` }, { Key: `${root}/export_tables_info_ls-3_from_2_to_2.json` }], IsTruncated: false })
    .resolves({ Contents: [], IsTruncated: false });
  mocks.s3.on(GetObjectCommand, { Key: `${root}/export_tables_info_ls-3_from_1_to_1.json` }).resolves({ Body: objectBody(JSON.stringify({ perTableStatus: [{ target: 'shop.public.a', status: 'COMPLETE' }] })) });
  mocks.s3.on(GetObjectCommand, { Key: `${root}/export_tables_info_ls-3_from_2_to_2.json` }).rejects(awsError('NoSuchKey', 'no key', 404));
  const err = await portError(ports.discover.discover({ exportId: 'ls-3', location: `s3://shop-exports/${root}`, snapshotId: 's', adopted: false }));
  assert.equal(err.code, 'ExportTablesInfoIncomplete');
  assert.match(err.message, /export ls-3: the table list of tables 2 to 2 \(export_tables_info_ls-3_from_2_to_2\.json\) was listed but could not be read/);
});

test('discover of an export without its files is not-found with the fix; S3 access denied is access-denied', async () => {
  const { mocks, ports } = mockedAws();
  const ref = { exportId: 'ls-2', location: 's3://shop-exports/lakesync/exports/ls-2', snapshotId: 's', adopted: false };
  mocks.rds.on(DescribeExportTasksCommand).rejects(awsError('ExportTaskNotFoundFault', 'gone', 404));
  mocks.s3.on(GetObjectCommand).rejectsOnce(awsError('NoSuchKey', 'no key', 404)).rejectsOnce(awsError('AccessDenied', 'Access Denied', 403));
  const missing = await portError(ports.discover.discover(ref));
  assert.equal(missing.kind, 'not-found');
  assert.match(missing.message, /export ls-2 has no export_info_ls-2.json .*run a new sync/);
  const denied = await portError(ports.discover.discover(ref));
  assert.equal(denied.kind, 'access-denied');
  assert.match(denied.message, /S3 GetObject for export ls-2 \(s3:\/\/shop-exports\/lakesync\/exports\/ls-2\/export_info_ls-2.json\) failed with AccessDenied: Access Denied \(.*lack s3:GetObject/);
  mocks.s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
  assert.equal(await ports.discover.exportAvailable(ref), false);
});

test('the aws section is required and checked before any call', () => {
  const local = sourceSchema.parse({ database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' } });
  assert.throws(() => awsSettings('shop', local), (err: unknown) => err instanceof ConfigError && /sources.shop.aws/.test(err.message));
  const settings = awsSettings('shop', awsSource(), { glueScriptsDir: '/x' });
  assert.equal(settings.tableBucket.arn, 'arn:aws:s3tables:us-east-2:123456789012:bucket/shop-lake');
  assert.deepEqual(settings.loadPoll, { initialMs: 1_000, maxMs: 2_000, maxCallsPerHour: 30 });
});

test('emulator timestamps become epoch seconds only in timestamp members', () => {
  const fixed = JSON.parse(fixTimestamps(JSON.stringify({ JobRun: { StartedOn: '2025-01-01T00:00:10+00:00', Arguments: { '--since': '2025-01-01T00:00:00Z' }, ErrorMessage: '2025-01-01T00:00:00Z' } })));
  assert.deepEqual(fixed, { JobRun: { StartedOn: 1735689610, Arguments: { '--since': '2025-01-01T00:00:00Z' }, ErrorMessage: '2025-01-01T00:00:00Z' } });
  assert.equal(fixTimestamps('not json'), 'not json');
});
