/**
 * Deterministic names derived from a source and a cycle. Pure: the workflows use them,
 * so that a retried or replayed step asks for the same snapshot, export and run again.
 */

export const SOURCE_WORKFLOW_PREFIX = 'lakesync/';

export function sourceWorkflowId(source: string): string {
  return `${SOURCE_WORKFLOW_PREFIX}${source}`;
}

/** Cycle key: the cycle number plus the first run id of the source workflow's chain,
 *  so a source workflow started afresh never adopts an older life's snapshot. */
export function cycleKey(cycleNumber: number, firstRunId: string): string {
  return `${cycleNumber}-${firstRunId.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8).toLowerCase()}`;
}

export function cycleWorkflowId(source: string, key: string): string {
  return `${sourceWorkflowId(source)}/cycle-${key}`;
}

export function batchWorkflowId(cycleWorkflowId: string, batch: number): string {
  return `${cycleWorkflowId}/batch-${batch}`;
}

/** RDS snapshot ids: letters, digits, hyphens; start with a letter; no double or trailing hyphen. */
export function snapshotIdFor(source: string, key: string): string {
  return rdsIdentifier(`lakesync-${source}-${key}`, 255);
}

/** RDS export ids: 1-60 letters, digits, hyphens, starting with a letter. */
export function exportIdFor(source: string, key: string): string {
  const suffix = `-${key}`;
  return rdsIdentifier(`ls-${source}`.slice(0, 60 - suffix.length) + suffix, 60);
}

/** Identifies one table's load in one cycle; a retried activity finds its run by it. */
export function runTokenFor(cycleId: string, table: string): string {
  return `${cycleId}:${table}`;
}

function rdsIdentifier(raw: string, max: number): string {
  return raw
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/-+$/, '');
}
