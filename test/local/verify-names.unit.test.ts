/**
 * The embedded mode's verification names the lake table as the load job does: each part quoted
 * with backticks. A lake name S3 Tables allows but Spark SQL reads as a number (2024, 1e5, 123d)
 * loads (the job quotes it) and must verify too; unquoted, Spark's parser refuses the count query.
 * The runner is a stand-in that records the statements and answers each count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createVerifyPort } from '../../src/local/verify';
import type { RunnerClient } from '../../src/local/runner/client';

function recordingRunner(statements: string[]): RunnerClient {
  return {
    call: async (_method: string, _path: string, body: { sql: string }) => {
      statements.push(body.sql);
      if (body.sql.includes('parent_id')) return { rows: [{ parent_id: '5' }] };
      return { rows: [{ row_count: 3 }] };
    },
  } as unknown as RunnerClient;
}

test('the count, parent and check queries quote every part of the lake table name', async () => {
  const statements: string[] = [];
  const port = createVerifyPort(recordingRunner(statements));
  const outcome = await port.verify({
    source: 'shop',
    namespace: 'sales',
    lakeTable: '2024',
    table: 'sales.2024',
    rowCount: { kind: 'appended', rows: 0, atMost: 10, since: 'parent' },
    snapshotId: '7',
    checks: [{ name: 'rows', sql: 'SELECT count(*) FROM {table}', expect: 3 }],
  });
  assert.equal(outcome.passed, true, JSON.stringify(outcome));
  assert.deepEqual(statements, [
    'SELECT CAST(parent_id AS STRING) AS parent_id, operation FROM `lake`.`sales`.`2024`.`snapshots` WHERE snapshot_id = 7',
    'SELECT count(*) AS row_count FROM `lake`.`sales`.`2024` VERSION AS OF 7',
    'SELECT count(*) AS row_count FROM `lake`.`sales`.`2024` VERSION AS OF 5',
    'SELECT count(*) FROM `lake`.`sales`.`2024`',
  ]);
});
