/**
 * What Athena verification and Lake Formation grants must never do, against aws-sdk-client-mock
 * (moto answers every Athena query SUCCEEDED at once and cannot fail a batch entry): a verify
 * check that would write to the lake is refused before anything runs, a query stuck past its
 * timeout is stopped, a check expecting a number is not passed by an empty answer, a grant
 * entry Lake Formation refused for a concurrent change is retried, SELECT held on some columns
 * only is not taken for the table SELECT a grant configures, and no query reads more pages of its
 * answer than it uses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { BatchGrantPermissionsCommand, ListPermissionsCommand, type PrincipalResourcePermissions } from '@aws-sdk/client-lakeformation';
import type { GrantRequest, VerifyRequest } from '../../src/model';
import { SEVERAL_ROWS } from '../../src/verify-rows';
import { READER, awsSource } from './fixtures';
import { mockedAws, portError } from './mocks';

const verifyReq: VerifyRequest = { source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 42 }, snapshotId: '8744736658442914487', checks: [] };
const grantReq: GrantRequest = { source: 'shop', namespace: 'shop', lakeTables: ['orders'], principals: [{ principal: READER, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] }] };

function answering(mocks: ReturnType<typeof mockedAws>['mocks'], answers: (string | undefined)[]): void {
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${next++}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).callsFake((i: { QueryExecutionId: string }) => {
    const value = answers[Number(i.QueryExecutionId.slice(1))];
    return { ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: 'v' }] }, { Data: [value === undefined ? {} : { VarCharValue: value }] }] } };
  });
}

test('a verify check whose SQL would change the lake is refused before any Athena query', async () => {
  const { mocks, ports } = mockedAws();
  answering(mocks, ['42', '0']);
  const err = await portError(ports.verify.verify({ ...verifyReq, checks: [{ name: 'tidy', sql: 'DELETE FROM {table} WHERE total < 0', expect: 0 }] }));
  assert.equal(err.kind, 'validation');
  assert.match(err.message, /check tidy of public\.orders.*a DELETE statement.*verify\.checks/);
  assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0, 'nothing reached Athena');
});

test('the config refuses a verify check that is not a query, naming the check', () => {
  const checks = [{ name: 'tidy', table: 'public.orders', sql: 'WITH x AS (SELECT 1) INSERT INTO {table} SELECT * FROM x', expect: 0 }];
  // sourceSchema's ZodError lists each issue with its path.
  assert.throws(() => awsSource({ raw: { verify: { checks } } }), (err: Error) => /a WITH \.\.\. INSERT statement/.test(err.message) && /"checks",\s*0,\s*"sql"/.test(err.message));
});

test('a verify check that is not a SELECT (SHOW, DESCRIBE, EXPLAIN ANALYZE) is refused before any Athena query, and by the config', async () => {
  for (const [sql, named] of [
    ['SHOW TABLES', /a SHOW statement/],
    ['DESCRIBE {table}', /a DESCRIBE statement/],
    ['EXPLAIN ANALYZE SELECT count(*) FROM {table}', /an EXPLAIN statement/],
  ] as const) {
    const { mocks, ports } = mockedAws();
    answering(mocks, ['42', '0']);
    const err = await portError(ports.verify.verify({ ...verifyReq, checks: [{ name: 'odd', sql, expect: 0 }] }));
    assert.equal(err.kind, 'validation', sql);
    assert.match(err.message, named, sql);
    assert.match(err.message, /check odd of public\.orders.*SELECT or WITH \.\.\. SELECT/, sql);
    assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0, `${sql}: nothing reached Athena`);
    const checks = [{ name: 'odd', table: 'public.orders', sql, expect: 0 }];
    assert.throws(() => awsSource({ raw: { verify: { checks } } }), (err: Error) => named.test(err.message) && /"checks",\s*0,\s*"sql"/.test(err.message), sql);
  }
  // A SELECT, also behind a CTE or in parentheses, is a check.
  for (const sql of ['SELECT count(*) FROM {table}', 'WITH c AS (SELECT * FROM {table}) SELECT count(*) FROM c', '(SELECT count(*) FROM {table})']) {
    assert.doesNotThrow(() => awsSource({ raw: { verify: { checks: [{ name: 'ok', table: 'public.orders', sql, expect: 0 }] } } }), sql);
  }
});

test('a query still running at its timeout is stopped before the step gives up', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'stuck' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
  mocks.athena.on(StopQueryExecutionCommand).resolves({});
  const err = await portError(ports.verify.verify(verifyReq));
  assert.equal(err.code, 'AthenaQueryTimeout');
  assert.equal(err.retryable, true);
  assert.deepEqual(mocks.athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input), [{ QueryExecutionId: 'stuck' }]);
  assert.match(err.message, /was stopped/);
});

test('a check expecting a number is not passed by an empty or blank answer', async () => {
  const { mocks, ports } = mockedAws();
  answering(mocks, ['42', '', ' ']);
  const outcome = await ports.verify.verify({
    ...verifyReq,
    checks: [
      { name: 'empty', sql: 'SELECT max(note) FROM {table}', expect: 0 },
      { name: 'blank', sql: 'SELECT max(note) FROM {table}', expect: 0 },
    ],
  });
  assert.deepEqual(outcome.checks.slice(1).map((c) => [c.name, c.passed]), [['empty', false], ['blank', false]]);
  assert.equal(outcome.passed, false);
});

test('a grant entry refused for a concurrent modification is retryable, not a failed table', async () => {
  const { mocks, ports } = mockedAws();
  mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({
    Failures: [{ RequestEntry: { Id: '0' }, Error: { ErrorCode: 'ConcurrentModificationException', ErrorMessage: 'Another update is in progress on the resource' } }],
  });
  const err = await portError(ports.grant.grant(grantReq));
  assert.equal(err.code, 'ConcurrentModificationException');
  assert.equal(err.retryable, true);
  assert.match(err.message, /namespace shop .*arn:aws:iam::123456789012/);
});

const ORDERS = { CatalogId: '123456789012:s3tablescatalog/shop-lake', DatabaseName: 'shop', Name: 'orders' };

/** Lake Formation's answers for the grant: DESCRIBE held on the namespace, then `onTable` held on the table. */
function heldPermissions(mocks: ReturnType<typeof mockedAws>['mocks'], onTable: Pick<PrincipalResourcePermissions, 'Resource' | 'Permissions'>[]): void {
  mocks.lakeformation
    .on(ListPermissionsCommand)
    .resolvesOnce({ PrincipalResourcePermissions: [{ Principal: { DataLakePrincipalIdentifier: READER }, Permissions: ['DESCRIBE'] }] })
    .resolvesOnce({ PrincipalResourcePermissions: onTable.map((p) => ({ Principal: { DataLakePrincipalIdentifier: READER }, ...p })) });
}

test('SELECT held on some columns only does not count as the table SELECT a grant configures', async () => {
  const { mocks, ports } = mockedAws();
  heldPermissions(mocks, [
    { Resource: { TableWithColumns: { ...ORDERS, ColumnNames: ['id'] } }, Permissions: ['SELECT'] },
    { Resource: { TableWithColumns: { ...ORDERS, ColumnWildcard: { ExcludedColumnNames: ['email'] } } }, Permissions: ['SELECT'] },
    { Resource: { Table: ORDERS }, Permissions: ['DESCRIBE'] },
  ]);
  mocks.lakeformation.on(BatchGrantPermissionsCommand).resolves({ Failures: [] });
  assert.deepEqual(await ports.grant.grant(grantReq), { granted: 1, alreadyGranted: 1 });
  const entries = mocks.lakeformation.commandCalls(BatchGrantPermissionsCommand)[0]?.args[0].input.Entries;
  assert.deepEqual(entries?.map((e) => [e.Resource, e.Permissions]), [[{ Table: ORDERS }, ['SELECT']]]);
});

test('SELECT held on every column (ColumnWildcard) counts as the table SELECT', async () => {
  const { mocks, ports } = mockedAws();
  heldPermissions(mocks, [
    { Resource: { TableWithColumns: { ...ORDERS, ColumnWildcard: {} } }, Permissions: ['SELECT'] },
    { Resource: { Table: ORDERS }, Permissions: ['DESCRIBE'] },
  ]);
  assert.deepEqual(await ports.grant.grant(grantReq), { granted: 0, alreadyGranted: 2 });
});

test('a check reads one page of its answer, however many rows the query returns, and fails when it answers more than one', async () => {
  const { mocks, ports } = mockedAws();
  let next = 0;
  mocks.athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q${next++}` }));
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  const pages = new Map<string, number>();
  mocks.athena.on(GetQueryResultsCommand).callsFake((i: { QueryExecutionId: string }) => {
    const served = (pages.get(i.QueryExecutionId) ?? 0) + 1;
    pages.set(i.QueryExecutionId, served);
    // The row count answers 42; the check's query answers 0 and then page after page of rows.
    const value = i.QueryExecutionId === 'q0' ? '42' : '0';
    const rows = Array.from({ length: 1000 }, () => ({ Data: [{ VarCharValue: value }] }));
    return { ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'v' }] }, Rows: [{ Data: [{ VarCharValue: 'v' }] }, ...rows] }, ...(served < 50 ? { NextToken: `p${served}` } : {}) };
  });
  const outcome = await ports.verify.verify({ ...verifyReq, checks: [{ name: 'bad rows', sql: 'SELECT 0 FROM {table}', expect: 0 }] });
  assert.deepEqual(outcome.checks[1], { name: 'bad rows', expected: '0', actual: SEVERAL_ROWS, passed: false });
  assert.deepEqual([...pages.entries()], [['q0', 1], ['q1', 1]], 'every query read one page');
});

test('a lake query with maxRows reads pages only until it has them, and answers that many rows', async () => {
  const { mocks, ports } = mockedAws();
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q0' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  let served = 0;
  mocks.athena.on(GetQueryResultsCommand).callsFake(() => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ Data: [{ VarCharValue: String(served * 1000 + i) }] }));
    served += 1;
    const header = served === 1 ? [{ Data: [{ VarCharValue: 'id' }] }] : [];
    return { ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'id' }] }, Rows: [...header, ...rows] }, ...(served < 50 ? { NextToken: `p${served}` } : {}) };
  });
  const rows = await ports.lake.query!('SELECT id FROM shop.orders', { maxRows: 1500 });
  assert.equal(rows.length, 1500);
  assert.deepEqual([rows[0], rows.at(-1)], [{ id: '0' }, { id: '1499' }]);
  assert.equal(served, 2, 'pages read');
});

test('a load result naming a snapshot id that is not a 64-bit number is refused before any Athena query', async () => {
  for (const snapshotId of ['1 OR 1=1', '123456789012345678901234567890']) {
    const { mocks, ports } = mockedAws();
    answering(mocks, ['42']);
    const err = await portError(ports.verify.verify({ ...verifyReq, snapshotId }));
    assert.equal(err.code, 'InvalidSnapshotId', snapshotId);
    assert.match(err.message, /shop\.orders names Iceberg snapshot .*not a snapshot id/);
    assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0, `nothing reached Athena for ${snapshotId}`);
  }
});

test('a check expecting a number fails on a decimal or bigint answer that differs from it beyond a double precision', async () => {
  const { mocks, ports } = mockedAws();
  answering(mocks, ['42', '1.00000000000000000001', '9007199254740993', '0.1000000000000000001', '1.00', '9007199254740992', '1.0E-4', '-0.0']);
  const outcome = await ports.verify.verify({
    ...verifyReq,
    checks: [
      { name: 'weights sum to one', sql: 'SELECT sum(weight) FROM {table}', expect: 1 },
      { name: 'checksum', sql: 'SELECT sum(id) FROM {table}', expect: 9007199254740992 },
      { name: 'rate', sql: 'SELECT max(rate) FROM {table}', expect: 0.1 },
      { name: 'one', sql: 'SELECT sum(weight) FROM {table}', expect: 1 },
      { name: 'exact checksum', sql: 'SELECT sum(id) FROM {table}', expect: 9007199254740992 },
      { name: 'double', sql: 'SELECT avg(rate) FROM {table}', expect: 0.0001 },
      { name: 'zero', sql: 'SELECT min(delta) FROM {table}', expect: 0 },
    ],
  });
  assert.deepEqual(
    outcome.checks.slice(1).map((c) => [c.name, c.passed]),
    [['weights sum to one', false], ['checksum', false], ['rate', false], ['one', true], ['exact checksum', true], ['double', true], ['zero', true]],
  );
  assert.equal(outcome.passed, false);
});
