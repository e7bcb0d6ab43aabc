/**
 * VerifyPort of the embedded mode: the same checks as Athena, in Spark SQL on the local warehouse:
 * the row count at the Iceberg snapshot the load produced, then the configured SQL checks.
 */
import { PortError } from '../errors';
import type { VerifyOutcome, VerifyRequest } from '../model';
import type { VerifyPort } from '../ports';
import { LAKE_CATALOG } from '../job-args';
import type { RunnerClient } from './runner/client';

/** Equal as text, or as numbers when both sides are numbers (a check may expect 5 and get "5.00"). */
export function sameValue(expected: string, actual: string): boolean {
  if (expected === actual) return true;
  const [a, b] = [Number(expected), Number(actual)];
  return expected.trim() !== '' && actual.trim() !== '' && Number.isFinite(a) && Number.isFinite(b) && a === b;
}

function firstValue(rows: Record<string, unknown>[]): string {
  const row = rows[0];
  if (!row) return '(no rows)';
  const value = Object.values(row)[0];
  return value === null || value === undefined ? 'NULL' : String(value);
}

export function createVerifyPort(runner: RunnerClient): VerifyPort {
  const sql = async (statement: string) => (await runner.call<{ rows: Record<string, unknown>[] }>('POST', '/sql', { sql: statement })).rows;
  return {
    async verify(req: VerifyRequest): Promise<VerifyOutcome> {
      const table = `${LAKE_CATALOG}.${req.namespace}.${req.lakeTable}`;
      const atSnapshot = req.snapshotId && /^-?\d+$/.test(req.snapshotId) ? ` VERSION AS OF ${req.snapshotId}` : '';
      const checks: VerifyOutcome['checks'] = [];
      const count = firstValue(await sql(`SELECT count(*) AS row_count FROM ${table}${atSnapshot}`));
      const expectedCount = String(req.expectedRowCount);
      checks.push({ name: atSnapshot ? `row count at snapshot ${req.snapshotId}` : 'row count', expected: expectedCount, actual: count, passed: sameValue(expectedCount, count) });
      for (const check of req.checks) {
        const expected = String(check.expect);
        let actual: string;
        try {
          actual = firstValue(await sql(check.sql.replaceAll('{table}', table)));
        } catch (err) {
          // SQL that Spark refuses is the check's failure; a runner outage is retried by the activity.
          if (!(err instanceof PortError) || err.kind !== 'validation') throw err;
          actual = `error: ${err.message}`;
        }
        checks.push({ name: check.name, expected, actual, passed: sameValue(expected, actual) });
      }
      return { passed: checks.every((c) => c.passed), checks };
    },
  };
}
