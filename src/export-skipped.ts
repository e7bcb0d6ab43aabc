/** The outcomes of the tables an export skipped: the cycle reports them, and so does its recovery should it die. */
import type { TableName, TableOutcome } from './model';

/**
 * Each skipped table failed with the export's reason, for a fix and a rerun; a rerun of other
 * tables only skips it.
 */
export function exportSkippedOutcomes(skipped: readonly { table: TableName; reason: string }[], requested?: readonly TableName[]): TableOutcome[] {
  return skipped.map((s) => ({
    table: s.table,
    lakeTable: '',
    action: 'skip',
    status: requested && !requested.includes(s.table) ? 'skipped' : 'failed',
    reason: s.reason,
    error: { phase: 'discover', message: `${s.table} was not exported: ${s.reason}`, type: 'NotExported', retryable: false },
  }));
}
