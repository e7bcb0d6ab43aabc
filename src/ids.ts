/**
 * Deterministic names derived from a source and a cycle. Pure: the workflows use them,
 * so that a retried or replayed step asks for the same snapshot, export and run again.
 */

export const SOURCE_WORKFLOW_PREFIX = 'lakesync/';

export function sourceWorkflowId(source: string): string {
  return `${SOURCE_WORKFLOW_PREFIX}${source}`;
}

/**
 * Cycle key: the cycle number plus a hash of the whole first run id of the source workflow's
 * chain, so a source workflow started afresh never adopts an older life's snapshot, export or
 * load runs, whatever the run id's format (UUIDv7 ids share their leading characters for a minute).
 */
export function cycleKey(cycleNumber: number, firstRunId: string): string {
  return `${cycleNumber}-${fnv1a64(firstRunId)}`;
}

/**
 * The key of cycles started by earlier versions: the run id's first 8 characters. Kept only so
 * that source workflows recorded with it replay (see the `patched` guard in the source workflow).
 */
export function legacyCycleKey(cycleNumber: number, firstRunId: string): string {
  return `${cycleNumber}-${firstRunId.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8).toLowerCase()}`;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/**
 * 64-bit FNV-1a over the UTF-16 code units, as 13 lowercase base-36 characters. Pure JavaScript:
 * it runs in the workflow sandbox, where no crypto module is available.
 */
function fnv1a64(text: string): string {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    hash = ((hash ^ BigInt(unit & 0xff)) * FNV_PRIME) & MASK_64;
    hash = ((hash ^ BigInt(unit >> 8)) * FNV_PRIME) & MASK_64;
  }
  return hash.toString(36).padStart(13, '0');
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

/**
 * RDS export ids: 1-60 letters, digits, hyphens, starting with a letter. The cycle key stays at the
 * end (retention reads it back); a source name too long to fit is cut and followed by a hash of the
 * whole name, so two sources that share a long prefix never share, or adopt, each other's exports.
 */
export function exportIdFor(source: string, key: string): string {
  const suffix = `-${key}`;
  return rdsIdentifier(capRdsIdentifier(`ls-${source}`, 60 - suffix.length) + suffix, 60);
}

/**
 * Where a cycle keeps its documents in the manifest store: its export (written once discovered,
 * so complete) and its plan. A dead cycle's outcomes are recovered from them.
 */
export const cycleManifestKeys = {
  discovery: (cycleId: string) => `${cycleId}/discovery.json`,
  export: (cycleId: string) => `${cycleId}/export.json`,
  plan: (cycleId: string) => `${cycleId}/plan.json`,
};

/** Identifies one table's load in one cycle; a retried activity finds its run by it. */
export function runTokenFor(cycleId: string, table: string): string {
  return `${cycleId}:${table}`;
}

/** DB cluster snapshot ids: 1-63 letters, digits, hyphens (DB instance snapshot ids may have 255). */
export const CLUSTER_SNAPSHOT_ID_MAX = 63;

/**
 * `id` when it fits in `max` characters, else its head and a hash of the whole id, so that two
 * long ids that share their head stay apart and the same id always gives the same result.
 */
export function capRdsIdentifier(id: string, max: number): string {
  if (id.length <= max) return id;
  const hash = fnv1a64(id);
  return `${id.slice(0, max - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

function rdsIdentifier(raw: string, max: number): string {
  return raw
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/-+$/, '');
}
