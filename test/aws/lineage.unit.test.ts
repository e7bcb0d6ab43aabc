/** The lake's lineage on AWS: a lake table's newest commit from Athena's `$snapshots` metadata table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { ListTablesCommand } from '@aws-sdk/client-s3tables';
import { mockedAws, portError } from './mocks';

const LINEAGE = ['snapshot_id', 'committed_at', 'source', 'export_id', 'snapshot_time', 'cycle_id'];
const FIGURES = ['operation', 'parent_id', 'added_records', 'deleted_records', 'deleted_data_files', 'added_delete_files', 'removed_delete_files', 'total_records', 'total_delete_files'];
const table = (name: string) => ({ name, namespace: ['shop'], type: 'customer' as const, tableARN: 'a', createdAt: new Date(), modifiedAt: new Date() });

function answer(mocks: ReturnType<typeof mockedAws>['mocks'], values: (string | undefined)[][], COLUMNS = LINEAGE): void {
  mocks.s3tables.on(ListTablesCommand).resolves({ tables: [table('orders')] });
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  mocks.athena.on(GetQueryResultsCommand).resolves({
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: COLUMNS.map((Name) => ({ Name, Type: 'varchar' })) },
      // Athena repeats the column names as the first row; a NULL has no VarCharValue.
      Rows: [COLUMNS, ...values].map((row) => ({ Data: row.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
    },
  });
}

test('lastCommit asks Athena for the newest snapshot of the table and its lineage, in the S3 Tables catalog', async () => {
  const { mocks, ports } = mockedAws();
  answer(mocks, [['8744736658442914487', '2025-01-02T03:04:05.678000Z', 'shop', 'ls-shop-3-abcd', '2025-01-02T00:00:00.000Z', '3-abcd']]);
  assert.deepEqual(await ports.lake.lastCommit!('shop', 'orders'), {
    icebergSnapshotId: '8744736658442914487',
    committedAt: '2025-01-02T03:04:05.678Z',
    source: 'shop',
    exportId: 'ls-shop-3-abcd',
    snapshotTime: '2025-01-02T00:00:00.000Z',
    cycleId: '3-abcd',
  });
  assert.deepEqual(mocks.athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input, {
    QueryString:
      "SELECT CAST(s.snapshot_id AS varchar) AS snapshot_id, to_iso8601(s.committed_at) AS committed_at, s.operation AS operation, CAST(s.parent_id AS varchar) AS parent_id, element_at(s.summary, 'lakesync.source') AS source, " +
      "element_at(s.summary, 'lakesync.export-id') AS export_id, element_at(s.summary, 'lakesync.snapshot-time') AS snapshot_time, " +
      "element_at(s.summary, 'lakesync.cycle-id') AS cycle_id, element_at(s.summary, 'added-records') AS added_records, element_at(s.summary, 'deleted-records') AS deleted_records, " +
      "element_at(s.summary, 'deleted-data-files') AS deleted_data_files, element_at(s.summary, 'added-delete-files') AS added_delete_files, " +
      "element_at(s.summary, 'removed-delete-files') AS removed_delete_files, element_at(s.summary, 'total-records') AS total_records, " +
      "element_at(s.summary, 'total-delete-files') AS total_delete_files " +
      'FROM "s3tablescatalog/shop-lake"."shop"."orders$snapshots" s JOIN "s3tablescatalog/shop-lake"."shop"."orders$history" h ON h.snapshot_id = s.snapshot_id ' +
      "WHERE h.is_current_ancestor AND element_at(s.summary, 'lakesync.cycle-id') IS NOT NULL ORDER BY s.committed_at DESC LIMIT 1",
    WorkGroup: 'primary',
    ResultConfiguration: { OutputLocation: 's3://shop-athena/results/' },
    QueryExecutionContext: { Catalog: 's3tablescatalog/shop-lake', Database: 'shop' },
  });
});

test("lastCommit reads what the commit wrote from its snapshot's operation, parent and summary counts; Iceberg leaves a count of 0 out", async () => {
  const { mocks, ports } = mockedAws();
  const lineage = ['8744736658442914487', '2025-01-02T03:04:05.678Z', 'shop', 'e1', '2025-01-02T00:00:00.000Z', 'c1'];
  answer(mocks, [[...lineage, 'append', '8744736658442914400', '30', undefined, undefined, undefined, undefined, '130', '0']], [...LINEAGE, ...FIGURES]);
  assert.deepEqual((await ports.lake.lastCommit!('shop', 'orders'))?.written, {
    operation: 'append',
    parentId: '8744736658442914400',
    addedRecords: 30,
    deletedRecords: 0,
    deletedDataFiles: 0,
    addedDeleteFiles: 0,
    removedDeleteFiles: 0,
    totalRecords: 130,
    totalDeleteFiles: 0,
  });
  // A count that is not one: no figure is trusted.
  const odd = mockedAws();
  answer(odd.mocks, [[...lineage, 'append', undefined, '-3', undefined, undefined, undefined, undefined, '130', '0']], [...LINEAGE, ...FIGURES]);
  assert.equal((await odd.ports.lake.lastCommit!('shop', 'orders'))?.written, undefined);
});

test('a commit row without lineage keeps none; a table without lakesync commits has no commit', async () => {
  const compacted = mockedAws();
  answer(compacted.mocks, [['42', '2025-01-02T03:04:05.000Z', undefined, undefined, undefined, undefined]]);
  assert.deepEqual(await compacted.ports.lake.lastCommit!('shop', 'orders'), { icebergSnapshotId: '42', committedAt: '2025-01-02T03:04:05.000Z' });

  const empty = mockedAws();
  answer(empty.mocks, []);
  assert.equal(await empty.ports.lake.lastCommit!('shop', 'orders'), undefined);
});

test('a missing lake table has no commit, and Athena is not asked', async () => {
  const { mocks, ports } = mockedAws();
  mocks.s3tables.on(ListTablesCommand).resolves({ tables: [table('orders_archive')] });
  assert.equal(await ports.lake.lastCommit!('shop', 'orders'), undefined);
  assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0);
});

test('an answer that is not a snapshot fails with what came back', async () => {
  const { mocks, ports } = mockedAws();
  answer(mocks, [['not-a-number', 'yesterday', 'shop', 'e1', '2025-01-01T00:00:00Z', 'c1']]);
  const err = await portError(ports.lake.lastCommit!('shop', 'orders'));
  assert.equal(err.code, 'UnexpectedLakeAnswer');
  assert.match(err.message, /newest snapshot of lake table shop\.orders came back as snapshot_id "not-a-number", committed_at "yesterday"/);
});

test('a failed Athena query fails lastCommit with its reason', async () => {
  const { mocks, ports } = mockedAws();
  mocks.s3tables.on(ListTablesCommand).resolves({ tables: [table('orders')] });
  mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q2' });
  mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', AthenaError: { ErrorMessage: 'AccessDeniedException: not authorized to perform: lakeformation:GetDataAccess', Retryable: false } } } });
  const err = await portError(ports.lake.lastCommit!('shop', 'orders'));
  assert.equal(err.retryable, false);
  assert.match(err.message, /Athena query q2 for newest commit of lake table shop\.orders FAILED: AccessDeniedException/);
});
