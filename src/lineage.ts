/**
 * Lineage: every commit of a load records where its data came from in the Iceberg snapshot
 * summary (glue/lakesync_glue/lineage.py writes it). The backends read a lake table's newest
 * commit back with one query each (Spark SQL locally, Athena on AWS) selecting the columns below.
 */
import { PortError } from './errors';
import type { CommitFigures, LakeCommit } from './model';

/** The snapshot summary properties, by the LakeCommit field each one fills. */
export const LINEAGE_PROPERTIES = {
  source: 'lakesync.source',
  exportId: 'lakesync.export-id',
  snapshotTime: 'lakesync.snapshot-time',
  cycleId: 'lakesync.cycle-id',
} as const satisfies Record<Exclude<keyof LakeCommit, 'icebergSnapshotId' | 'committedAt' | 'written'>, string>;

/** The column each lineage property is selected as (snake case, as SQL answers name them). */
export const LINEAGE_COLUMNS = {
  source: 'source',
  exportId: 'export_id',
  snapshotTime: 'snapshot_time',
  cycleId: 'cycle_id',
} as const satisfies Record<keyof typeof LINEAGE_PROPERTIES, string>;

/**
 * The Iceberg snapshot summary counts a commit's figures come from (Iceberg's SnapshotSummary), by
 * the column each is selected as.
 */
export const SUMMARY_COUNTS = {
  added_records: 'added-records',
  deleted_records: 'deleted-records',
  deleted_data_files: 'deleted-data-files',
  added_delete_files: 'added-delete-files',
  removed_delete_files: 'removed-delete-files',
  total_records: 'total-records',
  total_delete_files: 'total-delete-files',
} as const;

/**
 * The lineage columns of a SELECT list, then the commit's summary counts; `property` reads one
 * summary property in the engine's SQL. The snapshot's `operation` and `parent_id` are selected by the caller.
 */
export function lineageSelectList(property: (name: string) => string): string {
  return [
    ...(Object.keys(LINEAGE_PROPERTIES) as (keyof typeof LINEAGE_PROPERTIES)[]).map((field) => `${property(LINEAGE_PROPERTIES[field])} AS ${LINEAGE_COLUMNS[field]}`),
    ...Object.entries(SUMMARY_COUNTS).map(([column, name]) => `${property(name)} AS ${column}`),
  ].join(', ');
}

/**
 * The newest commit from a query's row (`snapshot_id`, `committed_at` and the lineage columns).
 * Absent properties (a commit lakesync did not make, e.g. compaction) stay absent.
 */
export function lakeCommitFromRow(row: Record<string, unknown>, subject: string): LakeCommit {
  const snapshotId = text(row.snapshot_id);
  const committedAt = text(row.committed_at);
  const when = committedAt === undefined ? Number.NaN : Date.parse(committedAt);
  if (snapshotId === undefined || !/^\d+$/.test(snapshotId) || Number.isNaN(when)) {
    throw new PortError(
      'failed',
      'UnexpectedLakeAnswer',
      `the newest snapshot of ${subject} came back as snapshot_id ${JSON.stringify(row.snapshot_id)}, committed_at ${JSON.stringify(row.committed_at)}: expected a snapshot id (digits) and a time; check the table's snapshots metadata table`,
    );
  }
  const commit: LakeCommit = { icebergSnapshotId: snapshotId, committedAt: new Date(when).toISOString() };
  for (const [field, column] of Object.entries(LINEAGE_COLUMNS) as [keyof typeof LINEAGE_COLUMNS, string][]) {
    const value = text(row[column]);
    if (value !== undefined) commit[field] = value;
  }
  const written = figuresFromRow(row);
  if (written) commit.written = written;
  return commit;
}

/**
 * The commit's figures; none when the row has no summary counts (a query without them) or one is
 * not a count (then none of them is trusted).
 */
function figuresFromRow(row: Record<string, unknown>): CommitFigures | undefined {
  if (!('operation' in row) || !('total_records' in row)) return undefined;
  const counts: Partial<Record<keyof typeof SUMMARY_COUNTS, number | null>> = {};
  for (const column of Object.keys(SUMMARY_COUNTS) as (keyof typeof SUMMARY_COUNTS)[]) {
    const value = text(row[column]);
    if (value === undefined) counts[column] = null;
    else if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) counts[column] = Number(value);
    else return undefined;
  }
  const parent = text(row.parent_id);
  return {
    operation: text(row.operation) ?? null,
    parentId: parent ?? null,
    // Iceberg leaves a count of 0 out of the summary.
    addedRecords: counts.added_records ?? 0,
    deletedRecords: counts.deleted_records ?? 0,
    deletedDataFiles: counts.deleted_data_files ?? 0,
    addedDeleteFiles: counts.added_delete_files ?? 0,
    removedDeleteFiles: counts.removed_delete_files ?? 0,
    totalRecords: counts.total_records ?? null,
    totalDeleteFiles: counts.total_delete_files ?? null,
  };
}

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const out = String(value).trim();
  return out === '' ? undefined : out;
}
