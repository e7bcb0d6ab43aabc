/**
 * Lineage: every commit of a load records where its data came from in the Iceberg snapshot
 * summary (glue/lakesync_glue/lineage.py writes it). The backends read a lake table's newest
 * commit back with one query each (Spark SQL locally, Athena on AWS) selecting the columns below.
 */
import { PortError } from './errors';
import type { LakeCommit } from './model';

/** The snapshot summary properties, by the LakeCommit field each one fills. */
export const LINEAGE_PROPERTIES = {
  source: 'lakesync.source',
  exportId: 'lakesync.export-id',
  snapshotTime: 'lakesync.snapshot-time',
  cycleId: 'lakesync.cycle-id',
} as const satisfies Record<Exclude<keyof LakeCommit, 'icebergSnapshotId' | 'committedAt'>, string>;

/** The column each lineage property is selected as (snake case, as SQL answers name them). */
export const LINEAGE_COLUMNS = {
  source: 'source',
  exportId: 'export_id',
  snapshotTime: 'snapshot_time',
  cycleId: 'cycle_id',
} as const satisfies Record<keyof typeof LINEAGE_PROPERTIES, string>;

/** The lineage columns of a SELECT list; `property` reads one summary property in the engine's SQL. */
export function lineageSelectList(property: (name: string) => string): string {
  return (Object.keys(LINEAGE_PROPERTIES) as (keyof typeof LINEAGE_PROPERTIES)[])
    .map((field) => `${property(LINEAGE_PROPERTIES[field])} AS ${LINEAGE_COLUMNS[field]}`)
    .join(', ');
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
  return commit;
}

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const out = String(value).trim();
  return out === '' ? undefined : out;
}
