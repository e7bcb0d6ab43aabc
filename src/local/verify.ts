/**
 * VerifyPort of the embedded mode: the same checks as Athena, in Spark SQL on the local warehouse:
 * the row count at the Iceberg snapshot the load produced (against the export, or the rows an
 * incremental load added), then the configured SQL checks.
 */
import { randomUUID } from 'node:crypto';
import { PortError } from '../errors';
import type { VerifyOutcome, VerifyRequest } from '../model';
import type { VerifyPort } from '../ports';
import { LAKE_CATALOG } from '../job-args';
import { sparkName } from '../names';
import { assertSnapshotId, configuredCheckResult, countValue, type LakeRowCounts, rowCountCheck, unknownSnapshot } from '../verify-rows';
import type { RunnerClient } from './runner/client';

/** The first value of each row, NULL spelled out. */
function firstValues(rows: Record<string, unknown>[]): string[] {
  return rows.map((row) => {
    const value = Object.values(row)[0];
    return value === null || value === undefined ? 'NULL' : String(value);
  });
}

export function createVerifyPort(runner: RunnerClient): VerifyPort {
  return {
    async verify(req: VerifyRequest, progress?: (check: string) => void, signal?: AbortSignal): Promise<VerifyOutcome> {
      // Every step reads one value (a check two rows, to tell one from several): the rest of an answer
      // never leaves Spark. Each query has an id, so that a cancelled verify has the runner cancel
      // the Spark jobs of the one under way.
      const sql = async (statement: string, maxRows = 1) => {
        signal?.throwIfAborted();
        const queryId = randomUUID();
        const cancel = () => void runner.call('POST', `/queries/${queryId}/cancel`, {}, 30_000).catch(() => undefined);
        signal?.addEventListener('abort', cancel, { once: true });
        try {
          return (await runner.call<{ rows: Record<string, unknown>[] }>('POST', '/sql', { sql: statement, maxRows, queryId }, undefined, signal)).rows;
        } finally {
          signal?.removeEventListener('abort', cancel);
        }
      };
      const table = sparkName(LAKE_CATALOG, req.namespace, req.lakeTable);
      const subject = `${req.table} (${req.namespace}.${req.lakeTable})`;
      const lake: LakeRowCounts = {
        async countAt(snapshotId) {
          if (snapshotId !== null) assertSnapshotId(snapshotId, subject);
          const version = snapshotId === null ? '' : ` VERSION AS OF ${snapshotId}`;
          return countValue((await sql(`SELECT count(*) AS row_count FROM ${table}${version}`))[0]?.row_count, subject);
        },
        async parentOf(snapshotId) {
          assertSnapshotId(snapshotId, subject);
          // As strings: 64-bit ids do not survive a JSON number.
          const rows = await sql(`SELECT CAST(parent_id AS STRING) AS parent_id, operation FROM ${sparkName(LAKE_CATALOG, req.namespace, req.lakeTable, 'snapshots')} WHERE snapshot_id = ${snapshotId}`);
          if (rows.length === 0) throw unknownSnapshot(snapshotId, subject);
          const { parent_id: parent, operation } = rows[0]!;
          return { parent: parent === null || parent === undefined ? null : String(parent), operation: typeof operation === 'string' ? operation : null };
        },
      };
      const checks: VerifyOutcome['checks'] = [await rowCountCheck(req.rowCount, req.snapshotId, lake)];
      for (const check of req.checks) {
        let answer: Parameters<typeof configuredCheckResult>[1];
        progress?.(check.name);
        try {
          answer = firstValues(await sql(check.sql.replaceAll('{table}', table), 2));
        } catch (err) {
          // SQL that Spark refuses is the check's failure; a runner outage is retried by the activity.
          if (signal?.aborted || !(err instanceof PortError) || err.kind !== 'validation') throw err;
          answer = { error: err.message };
        }
        checks.push(configuredCheckResult(check, answer));
      }
      return { passed: checks.every((c) => c.passed), checks };
    },
  };
}
