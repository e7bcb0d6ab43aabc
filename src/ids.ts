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
export function fnv1a64(text: string): string {
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
/** What RDS accepts as an ExportTaskIdentifier (exportIdFor's ids fit): a letter, then letters, digits and hyphens, 60 at most. */
export const RDS_EXPORT_ID = /^[A-Za-z][A-Za-z0-9-]{0,59}$/;

export function exportIdFor(source: string, key: string): string {
  const suffix = `-${key}`;
  return rdsIdentifier(capRdsIdentifier(`ls-${source}`, 60 - suffix.length) + suffix, 60);
}

/** The cycle whose own export `exportId` is (exportIdFor keeps the cycle key at its end), if any of `source`'s cycles. */
export function exportCycleId(source: string, exportId: string): string | undefined {
  const key = /(\d+-[a-z0-9]{1,13})$/.exec(exportId)?.[1];
  return key !== undefined && exportIdFor(source, key) === exportId ? key : undefined;
}

/**
 * Where a cycle keeps its documents in the manifest store: its export (written once discovered,
 * so complete) and its plan. A dead cycle's outcomes are recovered from them.
 */
export const cycleManifestKeys = {
  discovery: (cycleId: string) => `${cycleId}/discovery.json`,
  export: (cycleId: string) => `${cycleId}/export.json`,
  /** The cycle's own export, recorded once started (it may not be complete): a cycle that dies before its discovery still has its export's cost booked. */
  startedExport: (cycleId: string) => `${cycleId}/started-export.json`,
  /** A DynamoDB table export of the cycle (its ARN), recorded once started: a cycle that dies has its billed bytes booked. */
  startedTableExport: (cycleId: string, exportId: string) => `${cycleId}/started-table-exports/${exportId}.json`,
  plan: (cycleId: string) => `${cycleId}/plan.json`,
  /** The part files of each table of the cycle's own export, as its discovery found them once the export completed. */
  exportParts: (cycleId: string) => `${cycleId}/export-parts.json`,
  /** Parts of a dead cycle's outcomes read back from the lake, when too large for a payload; a dead batch's (`tables`) apart, as batches may be read back at once. */
  recoveredOutcomes: (cycleId: string, tables?: readonly string[]) => `${cycleId}/recovered-outcomes${tables ? `/batch-${fnv1a64(JSON.stringify(tables))}` : ''}`,
  /** Chunks of the outcomes one scheduled recovery settled, for its retried attempts. */
  recoveryProgress: (cycleId: string, recovery: string) => `${cycleId}/recovery-progress/${recovery}`,
  /** Parts of the plan's load list and unloaded tables, when too large for a payload. */
  planItems: (cycleId: string) => `${cycleId}/plan-items`,
  /** The tables the plan refused (failed at discover or plan), for a dead cycle's recovery to report them. */
  refused: (cycleId: string) => `${cycleId}/refused.json`,
  /**
   * A DynamoDB table's completed exports of the cycle (ids, windows, DynamoDB's item counts), as its
   * load read them: a dead cycle's recovery verifies the table's commit against them.
   */
  tableExports: (cycleId: string, table: string) => `${cycleId}/table-exports/${fnv1a64(table)}.json`,
  /** Parts of the excluded tables of the export scope, when too large for a payload. */
  excludedTables: (cycleId: string) => `${cycleId}/excluded-tables`,
  /** Parts of the tables the export skipped, when too large for a payload. */
  skippedTables: (cycleId: string) => `${cycleId}/skipped-tables`,
};

/** Identifies one table's load in one cycle; a retried activity finds its run by it. */
export function runTokenFor(cycleId: string, table: string): string {
  return `${cycleId}:${table}`;
}

/**
 * Identifies one pack (several small tables loaded by one run) in one cycle: the cycle id and a
 * hash of its tables in order, so a retried start finds the run by it and no two packs share it.
 * Letters, digits and hyphens only: it names the pack file and is the run's `--run_token`.
 */
export function packTokenFor(cycleId: string, tables: readonly string[]): string {
  return `${packTokenPrefix(cycleId)}${fnv1a64(JSON.stringify(tables))}`;
}

/** What every pack token of the cycle starts with (packTokenFor). */
export function packTokenPrefix(cycleId: string): string {
  return `${cycleId.replace(/[^a-zA-Z0-9-]/g, '-')}-pack-`;
}

/** DB cluster snapshot ids: 1-63 letters, digits, hyphens (DB instance snapshot ids may have 255). */
export const CLUSTER_SNAPSHOT_ID_MAX = 63;

/**
 * The id of a cluster snapshot: the requested id when it fits in 63 characters, else its head cut
 * (and followed by a hash of the whole id) before the cycle key, which stays at the end so that
 * retention can read it back and recognise the snapshot as the source's.
 */
export function clusterSnapshotIdOf(requestedId: string): string {
  if (requestedId.length <= CLUSTER_SNAPSHOT_ID_MAX) return requestedId;
  const key = /-\d+-[a-z0-9]{1,13}$/i.exec(requestedId)?.[0];
  if (!key) return capRdsIdentifier(requestedId, CLUSTER_SNAPSHOT_ID_MAX);
  const head = requestedId.slice(0, -key.length);
  const hash = fnv1a64(requestedId);
  return `${head.slice(0, CLUSTER_SNAPSHOT_ID_MAX - key.length - hash.length - 1).replace(/-+$/, '')}-${hash}${key}`;
}

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

/**
 * The id of one DynamoDB export (a table's window in a cycle): `lse-` and 16 hex characters of
 * the SHA-256 of its parts, so a retried start sends the same ClientToken and adopts the export.
 * S3Prefix is `<prefix>/<source>/<exportId>`.
 */
/**
 * The shape of tableExportIdFor's ids, well inside what a DynamoDB ClientToken accepts (`^[^$]+$`);
 * also what keeps the embedded exporter's paths inside its work dir.
 */
export const DYNAMODB_EXPORT_ID = /^[a-z0-9][a-z0-9-]{0,35}$/;

export function tableExportIdFor(source: string, cycleId: string, table: string, index: number): string {
  return `lse-${sha256Hex(JSON.stringify([source, cycleId, table, index])).slice(0, 16)}`;
}

const SHA256_K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/** SHA-256 of the UTF-8 bytes of `text`, as hex. Pure JavaScript: the workflow sandbox has no crypto module. */
export function sha256Hex(text: string): string {
  const bytes = utf8(text);
  const bitLength = bytes.length * 8;
  bytes.push(0x80);
  while (bytes.length % 64 !== 56) bytes.push(0);
  for (let i = 7; i >= 0; i--) bytes.push(i >= 4 ? 0 : (bitLength >>> (i * 8)) & 0xff);
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = new Array<number>(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let chunk = 0; chunk < bytes.length; chunk += 64) {
    for (let i = 0; i < 16; i++) {
      const o = chunk + i * 4;
      w[i] = ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
    }
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15]!, 7) ^ rotr(w[i - 15]!, 18) ^ (w[i - 15]! >>> 3);
      const s1 = rotr(w[i - 2]!, 17) ^ rotr(w[i - 2]!, 19) ^ (w[i - 2]! >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h as [number, number, number, number, number, number, number, number];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[i]! + w[i]!) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      [hh, g, f, e, d, c, b, a] = [g, f, e, (d + t1) >>> 0, c, b, a, (t1 + t2) >>> 0];
    }
    const next = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i++) h[i] = (h[i]! + next[i]!) >>> 0;
  }
  return h.map((x) => x.toString(16).padStart(8, '0')).join('');
}

/** UTF-8 bytes without TextEncoder, which the workflow sandbox may lack. */
function utf8(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return out;
}
