/** `lakesync query` on AWS: only one SELECT, SHOW, DESCRIBE or EXPLAIN of a query reaches Athena. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { runCli } from '../../src/cli/main';
import { athenaReadOnlyRefusal } from '../../src/aws/read-only';
import { mockedAws, portError } from './mocks';

const T = '"s3tablescatalog/shop-lake"."shop"."orders"';

/** [statement, what the refusal names]. */
const REFUSED: [string, RegExp][] = [
  [`WITH c AS (SELECT 1) INSERT INTO ${T} SELECT * FROM c`, /WITH \.\.\. INSERT statement/],
  [`WITH c AS (SELECT 1) DELETE FROM ${T}`, /WITH \.\.\. DELETE/],
  [`WITH c (x) AS (SELECT 1), "d" AS (SELECT * FROM c) UPDATE ${T} SET total = 0`, /WITH \.\.\. UPDATE/],
  [`WITH s AS (SELECT * FROM ${T}) MERGE INTO ${T} t USING s ON t.id = s.id WHEN MATCHED THEN DELETE`, /WITH \.\.\. MERGE/],
  [`WITH RECURSIVE r (n) AS (SELECT 1) (INSERT INTO ${T} SELECT * FROM r)`, /WITH \.\.\. INSERT/],
  [`INSERT INTO ${T} VALUES (1)`, /an INSERT statement/],
  [`MERGE INTO ${T} t USING ${T} s ON t.id = s.id WHEN MATCHED THEN DELETE`, /a MERGE statement/],
  [`UPDATE ${T} SET total = 0`, /an UPDATE statement/],
  [`DELETE FROM ${T}`, /a DELETE statement/],
  [`CREATE TABLE shop.copied AS SELECT * FROM ${T}`, /a CREATE statement/],
  ['CREATE EXTERNAL TABLE x (id int) LOCATION \'s3://b/p/\'', /a CREATE statement/],
  [`DROP TABLE ${T}`, /a DROP statement/],
  ['DROP DATABASE shop CASCADE', /a DROP statement/],
  [`ALTER TABLE ${T} ADD COLUMNS (note string)`, /an ALTER statement/],
  [`OPTIMIZE ${T} REWRITE DATA USING BIN_PACK`, /an OPTIMIZE statement/],
  [`VACUUM ${T}`, /a VACUUM statement/],
  [`UNLOAD (SELECT * FROM ${T}) TO 's3://elsewhere/' WITH (format = 'PARQUET')`, /an UNLOAD statement/],
  ['MSCK REPAIR TABLE shop.orders', /MSCK statement/],
  [`PREPARE p FROM DELETE FROM ${T}`, /a PREPARE statement/],
  ['EXECUTE p', /an EXECUTE statement/],
  [`TRUNCATE TABLE ${T}`, /a TRUNCATE statement/],
  [`VALUES (1)`, /a VALUES statement/],
  [`EXPLAIN ANALYZE INSERT INTO ${T} SELECT 1`, /EXPLAIN of an INSERT statement/],
  [`EXPLAIN (TYPE DISTRIBUTED) WITH c AS (SELECT 1) DELETE FROM ${T}`, /EXPLAIN of a WITH \.\.\. DELETE statement/],
  [`SELECT 1; DROP TABLE ${T}`, /2 statements/],
  [`SELECT ';' AS s; DELETE FROM ${T};`, /2 statements/],
  [`/* a comment */ DELETE FROM ${T}`, /a DELETE statement/],
  [`-- SELECT\nDELETE FROM ${T}`, /a DELETE statement/],
  [`/* SELECT */ /* /* */ DELETE FROM ${T} */ SELECT 1`, /a \/\* comment inside a \/\* comment/],
  [`/* unclosed SELECT`, /an unclosed \/\* comment/],
  [`SELECT 'unclosed`, /an unclosed ' quote/],
  [`WITH a AS (SELECT '\\') INSERT INTO ${T} SELECT 1 --') SELECT 1`, /backslash before a '/],
  [`SELECT * FROM ${T} WHERE note LIKE '%\\_%' ESCAPE '\\'`, /backslash before a '/],
  [` \n\t dElEtE FrOm ${T}`, /a DELETE statement/],
  ['ſelect 1', /a ſELECT statement/],
  ['(DELETE FROM x)', /a DELETE statement/],
  ['WITH AS (SELECT 1) SELECT 1', /a WITH clause/],
  ['WITH c AS SELECT 1', /a WITH clause/],
  ['WITH c AS (SELECT 1', /an unclosed parenthesis/],
  ['', /no statement/],
  [' ; -- nothing', /no statement/],
  ["'SELECT'", /does not start with a keyword/],
];

const ACCEPTED = [
  `SELECT id, total FROM ${T} WHERE id > 1 ORDER BY id LIMIT 5`,
  `select * from ${T} for version as of 123`,
  `WITH c AS (SELECT id FROM ${T}) SELECT count(*) FROM c`,
  `WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3), "d" AS (SELECT * FROM c) SELECT * FROM d`,
  `WITH a AS (WITH b AS (SELECT 1) SELECT * FROM b) (SELECT * FROM a)`,
  '(SELECT 1) UNION ALL (SELECT 2)',
  `SELECT 'DELETE FROM t; DROP TABLE t' AS "a;b", 'it''s' AS s FROM ${T};`,
  `/* DELETE */ -- DROP\nSELECT 1`,
  'SHOW TABLES IN shop',
  'SHOW CREATE TABLE shop.orders',
  'DESCRIBE shop.orders',
  `EXPLAIN SELECT * FROM ${T}`,
  `EXPLAIN ANALYZE VERBOSE SELECT * FROM ${T}`,
  `EXPLAIN (FORMAT JSON, TYPE LOGICAL) WITH c AS (SELECT 1) SELECT * FROM c`,
  `SELECT "select" FROM ${T} WHERE note LIKE '%!_%' ESCAPE '!' OR note LIKE 'a\\b'`,
];

describe('the Athena read-only check', () => {
  for (const [sql, named] of REFUSED) {
    test(`refuses: ${JSON.stringify(sql)}`, () => {
      const refusal = athenaReadOnlyRefusal(sql);
      assert.ok(refusal !== undefined, 'accepted');
      assert.match(refusal, named);
    });
  }

  test('accepts one SELECT, WITH ... SELECT, SHOW, DESCRIBE or EXPLAIN of a query', () => {
    for (const sql of ACCEPTED) assert.equal(athenaReadOnlyRefusal(sql), undefined, sql);
  });
});

describe('lake.query on AWS', () => {
  test('a refused statement never reaches Athena: no StartQueryExecution, a ReadOnlyQuery error', async () => {
    const { mocks, ports } = mockedAws();
    mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q1' });
    for (const [sql] of REFUSED) {
      const err = await portError(ports.lake.query!(sql));
      assert.equal(err.kind, 'validation', sql);
      assert.equal(err.code, 'ReadOnlyQuery', sql);
      assert.match(err.message, /lakesync query is read-only/);
    }
    assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0);
  });

  test('a read is sent as written', async () => {
    const { mocks, ports } = mockedAws();
    mocks.athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q2' });
    mocks.athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    mocks.athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'n', Type: 'bigint' }] }, Rows: [{ Data: [{ VarCharValue: 'n' }] }, { Data: [{ VarCharValue: '3' }] }] } });
    const sql = `WITH c AS (SELECT id FROM ${T}) SELECT count(*) AS n FROM c`;
    assert.deepEqual(await ports.lake.query!(sql), [{ n: '3' }]);
    assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input.QueryString, sql);
  });

  test('lakesync query exits 2 on a refused statement, before Athena', async () => {
    const { mocks, ports } = mockedAws();
    const dir = mkdtempSync(join(tmpdir(), 'lakesync-athena-ro-'));
    try {
      // The command needs the source in a config; the mocked AWS ports stand in for its backend.
      const configFile = join(dir, 'lakesync.yaml');
      writeFileSync(configFile, stringify({ sources: { shop: { database: 'shop', source: { kind: 'pglite', demo: true }, target: { namespace: 'shop' } } } }));
      let stderr = '';
      const io = { stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, env: {}, cwd: dir };
      const code = await runCli(['query', 'shop', '--config', configFile, '--', `WITH c AS (SELECT 1) DELETE FROM ${T}`], io, { portsFor: async () => ports });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /lakesync query is read-only .*: this is a WITH \.\.\. DELETE statement/);
      assert.equal(mocks.athena.commandCalls(StartQueryExecutionCommand).length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
