/** Lake Formation grants, Athena verification and S3 Tables set-up against aws-sdk-client-mock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { BatchGrantPermissionsCommand, ListPermissionsCommand } from '@aws-sdk/client-lakeformation';
import { CreateNamespaceCommand, CreateTableBucketCommand, GetNamespaceCommand, ListTablesCommand } from '@aws-sdk/client-s3tables';
import type { GrantRequest, VerifyRequest } from '../../src/model';
import { READER } from './fixtures';
import { awsError, mockedAws, portError } from './mocks';

const CATALOG = '123456789012:s3tablescatalog/shop-lake';
const grantReq: GrantRequest = { source: 'shop', namespace: 'shop', lakeTables: ['orders'], principals: [{ principal: READER, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] }] };
const verifyReq: VerifyRequest = { source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 42 }, snapshotId: '8744736658442914487', checks: [] };

test('grants use the S3 Tables catalog id; held permissions count as already granted', async () => {
  const { mocks, ports } = mockedAws();
  mocks.lakeformation
    .on(ListPermissionsCommand)
    .resolvesOnce({ PrincipalResourcePermissions: [{ Principal: { DataLakePrincipalIdentifier: READER }, Permissions: ['ALL'] }] })
    .resolvesOnce({ PrincipalResourcePermissions: [{ Principal: { DataLakePrincipalIdentifier: READER }, Permissions: ['DESCRIBE'] }] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({ Failures: [] });
  assert.deepEqual(await ports.grant.grant(grantReq), { granted: 1, alreadyGranted: 1 });
  const entries = mocks.lakeformation.commandCalls(BatchGrantPermissionsCommand)[0]!.args[0].input.Entries;
  assert.deepEqual(entries, [{ Id: '0', Principal: { DataLakePrincipalIdentifier: READER }, Resource: { Table: { CatalogId: CATALOG, DatabaseName: 'shop', Name: 'orders' } }, Permissions: ['SELECT'] }]);
  assert.deepEqual(mocks.lakeformation.commandCalls(ListPermissionsCommand)[0]!.args[0].input.Resource, { Database: { CatalogId: CATALOG, Name: 'shop' } });
});

test('an AlreadyExists failure in the batch is success', async () => {
  const { mocks, ports } = mockedAws();
  mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({ Failures: [{ RequestEntry: { Id: '1' }, Error: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'Permissions already granted' } }] });
  assert.deepEqual(await ports.grant.grant(grantReq), { granted: 2, alreadyGranted: 0 });
});

test('access denied on the grant names the principal, the permissions and the fix, and is not retried', async () => {
  const { mocks, ports } = mockedAws();
  mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({
    Failures: [{ RequestEntry: { Id: '1' }, Error: { ErrorCode: 'AccessDeniedException', ErrorMessage: 'Insufficient Lake Formation permission(s): Required Grantable SELECT' } }],
  });
  const err = await portError(ports.grant.grant(grantReq));
  assert.equal(err.kind, 'access-denied');
  assert.equal(err.retryable, false);
  assert.equal(err.message, `Lake Formation could not grant SELECT, DESCRIBE on table shop.orders (catalog ${CATALOG}) to ${READER}: AccessDeniedException: Insufficient Lake Formation permission(s): Required Grantable SELECT (the principal lakesync runs as must be a Lake Formation data lake administrator, or hold the permissions with grant option, on catalog ${CATALOG} (docs/aws-setup.md))`);
});

test('a call-level AccessDeniedException says which principal could not be granted what', async () => {
  const { mocks, ports } = mockedAws();
  mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).rejects(awsError('AccessDeniedException', 'User is not authorized to perform: lakeformation:BatchGrantPermissions'));
  const err = await portError(ports.grant.grant({ ...grantReq, lakeTables: [] }));
  assert.equal(err.kind, 'access-denied');
  assert.match(err.message, new RegExp(`LakeFormation BatchGrantPermissions for DESCRIBE on namespace shop to ${READER} failed with AccessDeniedException`));
});

test('a principal or table Lake Formation does not know, found when reading what is held, points at grants[] and the table, not the aws section', async () => {
  for (const [code, status] of [['InvalidInputException', 400], ['EntityNotFoundException', 400]] as const) {
    const { mocks, ports } = mockedAws();
    mocks.lakeformation.on(ListPermissionsCommand).rejects(awsError(code, 'Principal or resource not found', status));
    const err = await portError(ports.grant.grant(grantReq));
    assert.equal(err.retryable, false, code);
    assert.match(err.message, new RegExp(`ListPermissions for namespace shop for ${READER} failed with ${code}`), code);
    assert.match(err.message, /check grants\[\]\.principal/, code);
    assert.doesNotMatch(err.message, /aws section/, code);
  }
});

test('Athena verify queries the row count at the load snapshot in the configured workgroup and output location', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
  mocks.athena.on(GetQueryExecutionCommand).resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } }).resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } }).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'row_count', Type: 'bigint' }] }, Rows: [{ Data: [{ VarCharValue: 'row_count' }] }, { Data: [{ VarCharValue: '41' }] }] } });
  assert.deepEqual(await ports.verify.verify(verifyReq), { passed: false, checks: [{ name: 'row count at snapshot 8744736658442914487', expected: '42', actual: '41', passed: false }] });
  assert.deepEqual(mocks.athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input, {
    QueryString: 'SELECT count(*) AS row_count FROM "s3tablescatalog/shop-lake"."shop"."orders" FOR VERSION AS OF 8744736658442914487',
    WorkGroup: 'primary',
    ResultConfiguration: { OutputLocation: 's3://shop-athena/results/' },
    QueryExecutionContext: { Catalog: 's3tablescatalog/shop-lake', Database: 'shop' },
  });
});

test('configured checks substitute {table} and compare numbers and strings', async () => {
  const { mocks, ports } = mockedAws();
  const answers: Record<string, string> = { q1: '42', q2: '3', q3: 'EUR' };
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${++next}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((i: { QueryExecutionId: string }) => ({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: answers[i.QueryExecutionId] }] }] } }));
  const outcome = await ports.verify.verify({
    ...verifyReq,
    checks: [
      { name: 'no negative totals', sql: 'SELECT count(*) FROM {table} WHERE total < 0', expect: 0 },
      { name: 'currency', sql: 'SELECT max(currency) FROM {table}', expect: 'EUR' },
    ],
  });
  assert.deepEqual(outcome.checks, [
    { name: 'row count at snapshot 8744736658442914487', expected: '42', actual: '42', passed: true },
    { name: 'no negative totals', expected: '0', actual: '3', passed: false },
    { name: 'currency', expected: 'EUR', actual: 'EUR', passed: true },
  ]);
  assert.equal(outcome.passed, false);
  assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand)[1]!.args[0].input.QueryString, 'SELECT count(*) FROM "s3tablescatalog/shop-lake"."shop"."orders" WHERE total < 0');
});

test('a configured check whose SQL Athena refuses fails as that check, with the reason, as it does locally', async () => {
  const { mocks, ports } = mockedAws();
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${++next}` }));
  mocks.athena.on(GetQueryExecutionCommand).callsFake((i: { QueryExecutionId: string }) =>
    i.QueryExecutionId === 'q2'
      ? { QueryExecution: { Status: { State: 'FAILED', AthenaError: { ErrorCategory: 2, ErrorType: 1006, Retryable: false, ErrorMessage: "COLUMN_NOT_FOUND: line 1:8: Column 'totl' cannot be resolved" } } } }
      : { QueryExecution: { Status: { State: 'SUCCEEDED' } } },
  );
  mocks.athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v', Type: 'varchar' }] }, Rows: [{ Data: [{ VarCharValue: '42' }] }] } });
  const outcome = await ports.verify.verify({
    ...verifyReq,
    checks: [
      { name: 'no negative totals', sql: 'SELECT count(*) FROM {table} WHERE totl < 0', expect: 0 },
      { name: 'rows', sql: 'SELECT count(*) FROM {table}', expect: 42 },
    ],
  });
  assert.equal(outcome.passed, false);
  assert.equal(outcome.checks[1]!.name, 'no negative totals');
  assert.equal(outcome.checks[1]!.passed, false);
  assert.match(outcome.checks[1]!.actual, /^error: .*COLUMN_NOT_FOUND: line 1:8: Column 'totl' cannot be resolved/);
  assert.deepEqual(outcome.checks[2], { name: 'rows', expected: '42', actual: '42', passed: true });
});

test('a check refused for a Lake Formation permission still fails the step with the permission to grant', async () => {
  const { mocks, ports } = mockedAws();
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${++next}` }));
  mocks.athena.on(GetQueryExecutionCommand).callsFake((i: { QueryExecutionId: string }) =>
    i.QueryExecutionId === 'q2'
      ? { QueryExecution: { Status: { State: 'FAILED', AthenaError: { ErrorCategory: 2, Retryable: false, ErrorMessage: 'Insufficient Lake Formation permission(s) on orders' } } } }
      : { QueryExecution: { Status: { State: 'SUCCEEDED' } } },
  );
  mocks.athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v', Type: 'varchar' }] }, Rows: [{ Data: [{ VarCharValue: '42' }] }] } });
  const err = await portError(ports.verify.verify({ ...verifyReq, checks: [{ name: 'rows', sql: 'SELECT count(*) FROM {table}', expect: 42 }] }));
  assert.match(err.message, /check rows FAILED.*lacks a Lake Formation permission/);
});

test('an incremental verify counts the rows the snapshot added to its parent, both counted by Athena', async () => {
  const { mocks, ports } = mockedAws();
  const answers: Record<string, string | null> = { q1: '8744736658442914000', q2: '130', q3: '100' };
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${++next}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((i: { QueryExecutionId: string }) => ({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: answers[i.QueryExecutionId] }] }] } }));
  const outcome = await ports.verify.verify({ ...verifyReq, rowCount: { kind: 'appended', rows: 30, atMost: 500, since: 'parent' } });
  assert.deepEqual(outcome, { passed: true, checks: [{ name: 'rows snapshot 8744736658442914487 added to snapshot 8744736658442914000', expected: '30', actual: '30', passed: true }] });
  assert.deepEqual(
    mocks.athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.QueryString),
    [
      'SELECT CAST(parent_id AS varchar) AS parent_id, operation FROM "s3tablescatalog/shop-lake"."shop"."orders$snapshots" WHERE snapshot_id = 8744736658442914487',
      'SELECT count(*) AS row_count FROM "s3tablescatalog/shop-lake"."shop"."orders" FOR VERSION AS OF 8744736658442914487',
      'SELECT count(*) AS row_count FROM "s3tablescatalog/shop-lake"."shop"."orders" FOR VERSION AS OF 8744736658442914000',
    ],
  );
});

test("an incremental verify counts from the load's own commit when S3 Tables compacted right after it", async () => {
  const { mocks, ports } = mockedAws();
  // The load reported 8744736658442914487, a compaction (replace) of its commit 8744736658442914100.
  const answers: Record<string, (string | null)[]> = { q1: ['8744736658442914100', 'replace'], q2: ['8744736658442914000', 'append'], q3: ['130'], q4: ['100'] };
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${++next}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((i: { QueryExecutionId: string }) => ({
    ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: answers[i.QueryExecutionId]!.map((v) => (v === null ? {} : { VarCharValue: v })) }] },
  }));
  const outcome = await ports.verify.verify({ ...verifyReq, rowCount: { kind: 'appended', rows: 30, atMost: 500, since: 'parent' } });
  assert.deepEqual(outcome.checks[0], {
    name: 'rows snapshot 8744736658442914100 added to snapshot 8744736658442914000 (snapshot 8744736658442914487 after it only rewrote files)',
    expected: '30',
    actual: '30',
    passed: true,
  });
  assert.deepEqual(
    mocks.athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.QueryString).slice(1),
    [
      'SELECT CAST(parent_id AS varchar) AS parent_id, operation FROM "s3tablescatalog/shop-lake"."shop"."orders$snapshots" WHERE snapshot_id = 8744736658442914100',
      'SELECT count(*) AS row_count FROM "s3tablescatalog/shop-lake"."shop"."orders" FOR VERSION AS OF 8744736658442914487',
      'SELECT count(*) AS row_count FROM "s3tablescatalog/shop-lake"."shop"."orders" FOR VERSION AS OF 8744736658442914000',
    ],
  );
});

test('a snapshot missing from $snapshots fails verification, naming it and the fix', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'parent_id', Type: 'varchar' }] }, Rows: [{ Data: [{ VarCharValue: 'parent_id' }] }] } });
  const err = await portError(ports.verify.verify({ ...verifyReq, rowCount: { kind: 'appended', rows: 30, atMost: 500, since: 'parent' } }));
  assert.equal(err.code, 'SnapshotNotFound');
  assert.equal(err.retryable, false);
  assert.match(err.message, /Iceberg snapshot 8744736658442914487 is not among the snapshots of public\.orders \(shop\.orders\).*rerun the table/);
});

test('a FAILED Athena query fails verification with its reason, not retried', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q9' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: "TABLE_NOT_FOUND: line 1:22: Table 'shop.orders' does not exist", AthenaError: { ErrorCategory: 2, ErrorType: 1006, Retryable: false } } } });
  const err = await portError(ports.verify.verify(verifyReq));
  assert.equal(err.kind, 'failed');
  assert.equal(err.retryable, false);
  assert.equal(err.message, "Athena query q9 for verify of public.orders (shop.orders), row count FAILED (error type 1006): TABLE_NOT_FOUND: line 1:22: Table 'shop.orders' does not exist");
});

test('a query Athena cancelled (its workgroup\'s per-query data limit, or someone else) says so and what to do', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q12' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'CANCELLED', StateChangeReason: 'Query cancelled: Bytes scanned limit was exceeded' } } });
  const err = await portError(ports.verify.verify(verifyReq));
  assert.equal(err.code, 'AthenaQueryCancelled');
  assert.equal(err.retryable, false);
  assert.match(err.message, /Athena query q12 for verify of public\.orders \(shop\.orders\), row count CANCELLED: Query cancelled: Bytes scanned limit was exceeded/);
  assert.match(err.message, /per-query data usage limit of workgroup primary.*rerun the table/);
});

test('a query refused for lakeformation:GetDataAccess says who lacks it', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q10' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', AthenaError: { ErrorMessage: 'AccessDeniedException: not authorized to perform: lakeformation:GetDataAccess', Retryable: false } } } });
  const err = await portError(ports.verify.verify(verifyReq));
  assert.match(err.message, /the principal running Athena queries in workgroup primary lacks the IAM permission lakeformation:GetDataAccess/);
});

test('a retryable Athena failure and throttling are retryable', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).rejectsOnce(awsError('TooManyRequestsException', 'Rate exceeded')).resolves({ QueryExecutionId: 'q11' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', AthenaError: { ErrorMessage: 'Query exhausted resources', Retryable: true } } } });
  assert.equal((await portError(ports.verify.verify(verifyReq))).kind, 'throttled');
  assert.equal((await portError(ports.verify.verify(verifyReq))).kind, 'transient');
});

test('a snapshot id that is not a number is refused before any query', async () => {
  const { mocks, ports } = mockedAws();
  const err = await portError(ports.verify.verify({ ...verifyReq, snapshotId: '1; DROP TABLE x' }));
  assert.equal(err.kind, 'validation');
  assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0);
});

test('Athena results across pages are read, the header row skipped once', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q12' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena
    .on(GetQueryResultsCommand)
    .resolvesOnce({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'id', Type: 'varchar' }] }, Rows: [{ Data: [{ VarCharValue: 'id' }] }, { Data: [{ VarCharValue: '1' }] }] }, NextToken: 'n' })
    .resolvesOnce({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'id', Type: 'varchar' }] }, Rows: [{ Data: [{ VarCharValue: 'id' }] }, { Data: [{}] }] } });
  assert.deepEqual(await ports.lake.query!('SELECT id FROM shop.orders'), [{ id: '1' }, { id: 'id' }, { id: null }]);
});

test('SHOW and DESCRIBE answers have no header row: a first row that reads like the column name is kept', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q13' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { StatementType: 'UTILITY', Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).resolves({
    ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'field', Type: 'varchar' }] }, Rows: [{ Data: [{ VarCharValue: 'field' }] }, { Data: [{ VarCharValue: 'id' }] }] },
  });
  assert.deepEqual(await ports.lake.query!('SHOW COLUMNS FROM shop.forms'), [{ field: 'field' }, { field: 'id' }]);
});

test('columns of one name (SELECT a.id, b.id) each keep their value: the second is id_2', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q13' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  const columns = [{ Name: 'id', Type: 'varchar' }, { Name: 'id', Type: 'varchar' }];
  mocks.athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: columns }, Rows: [{ Data: [{ VarCharValue: 'id' }, { VarCharValue: 'id' }] }, { Data: [{ VarCharValue: '1' }, { VarCharValue: '2' }] }] } });
  assert.deepEqual(await ports.lake.query!('SELECT a.id, b.id FROM shop.orders a JOIN shop.orders b ON a.id = b.id'), [{ id: '1', id_2: '2' }]);
});

test('ensureNamespace creates the table bucket when asked, and the namespace when missing', async () => {
  const { mocks, ports } = mockedAws();
  mocks.s3tables.on(CreateTableBucketCommand).rejects(awsError('ConflictException', 'The bucket that you tried to create already exists, and you own it.', 409));
  mocks.s3tables.on(GetNamespaceCommand).rejects(awsError('NotFoundException', 'The specified namespace does not exist.', 404));
  mocks.s3tables.on(CreateNamespaceCommand).resolves({ namespace: ['shop'] });
  // Lake Formation mode (the default): the Glue job role is granted its permissions on the new namespace.
  mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({ Failures: [] });
  await ports.lake.ensureNamespace('shop');
  assert.deepEqual(mocks.s3tables.commandCalls(CreateNamespaceCommand)[0]!.args[0].input, { tableBucketARN: 'arn:aws:s3tables:us-east-2:123456789012:bucket/shop-lake', namespace: ['shop'] });
});

test('a missing table bucket makes CreateNamespace a clear not-found naming the bucket and the fix', async () => {
  const { mocks, ports } = mockedAws();
  mocks.s3tables.on(CreateTableBucketCommand).resolves({});
  mocks.s3tables.on(GetNamespaceCommand).rejects(awsError('NotFoundException', 'not found', 404));
  mocks.s3tables.on(CreateNamespaceCommand).rejects(awsError('NotFoundException', 'The request was rejected because the specified resource could not be found.', 404));
  const err = await portError(ports.lake.ensureNamespace('shop'));
  assert.equal(err.kind, 'not-found');
  assert.match(err.message, /table bucket arn:aws:s3tables:us-east-2:123456789012:bucket\/shop-lake does not exist; create it or set tableBucket.create: true/);
});

test('tableExists lists by prefix and matches the exact name', async () => {
  const { mocks, ports } = mockedAws();
  mocks.s3tables.on(ListTablesCommand).resolves({ tables: [{ name: 'orders_archive', namespace: ['shop'], type: 'customer', tableARN: 'a', createdAt: new Date(), modifiedAt: new Date() }] });
  assert.equal(await ports.lake.tableExists('shop', 'orders'), false);
  mocks.s3tables.on(ListTablesCommand).resolves({ tables: [{ name: 'orders', namespace: ['shop'], type: 'customer', tableARN: 'a', createdAt: new Date(), modifiedAt: new Date() }] });
  assert.equal(await ports.lake.tableExists('shop', 'orders'), true);
  mocks.s3tables.on(ListTablesCommand).rejects(awsError('AccessDeniedException', 'denied', 403));
  assert.match((await portError(ports.lake.tableExists('shop', 'orders'))).message, /lack s3tables:ListTables/);
});

test("a verification Lake Formation refuses says how the worker gets SELECT on tables of a namespace lakesync created: grants[]", async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q11' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({
    QueryExecution: { Status: { State: 'FAILED', AthenaError: { ErrorCategory: 2, Retryable: false, ErrorMessage: 'Insufficient Lake Formation permission(s): Required Select on orders' } } },
  });
  const err = await portError(ports.verify.verify(verifyReq));
  assert.match(err.message, /the principal running Athena queries in workgroup primary lacks a Lake Formation permission/);
  // A TableWildcard grant cannot be made before lakesync creates the namespace: grants[] are made on each table after its load, before its verification.
  assert.match(err.message, /list that principal under grants\[\] in lakesync\.yaml.*before verifying/);
});
