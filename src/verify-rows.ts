/**
 * The row-count check of a table's verification, shared by the backends: each answers two
 * questions about its lake (a snapshot's row count, a snapshot's parent) and this module decides
 * what is compared with what (RowCountCheck in src/model.ts).
 */
import { PortError } from './errors';
import type { RowCountCheck, VerifyOutcome } from './model';

export interface LakeRowCounts {
  /** count(*) of the lake table at this Iceberg snapshot, or at its current state when null. */
  countAt(snapshotId: string | null): Promise<number>;
  /** The snapshot's parent (null for the table's first snapshot) and its Iceberg operation (append, overwrite, delete, replace). */
  parentOf(snapshotId: string): Promise<SnapshotParent>;
}

export interface SnapshotParent {
  parent: string | null;
  operation: string | null;
}

/** Compactions between the load's commit and the snapshot it reported that a verification walks past: more is no compaction. */
const MAX_REWRITES = 50;

/**
 * The commit that made the rows of `snapshotId` and the snapshot it was committed on. The load
 * reports the table's current snapshot, and S3 Tables compacts on its own: a compaction committed
 * right after the load's commit is what the load reports. A compaction is an Iceberg `replace`,
 * which rewrites files and leaves the rows as they were, so the rows the load added are counted
 * from the parent of the newest snapshot that changed data, not from the compaction's parent.
 */
async function committedOn(snapshotId: string, lake: LakeRowCounts): Promise<{ commit: string; parent: string | null }> {
  let commit = snapshotId;
  for (let rewrites = 0; rewrites <= MAX_REWRITES; rewrites++) {
    const { parent, operation } = await lake.parentOf(commit);
    if (operation !== 'replace' || parent === null) return { commit, parent };
    commit = parent;
  }
  throw new PortError('failed', 'TooManyRewrites', `snapshot ${snapshotId} follows more than ${MAX_REWRITES} snapshots that only rewrote files: the rows the load added cannot be told; rerun the table`);
}

/** The check's name for the rows `commit` changed from `parent`, naming the compactions after it. */
function sinceParentName(what: string, snapshotId: string, commit: string, parent: string | null): string {
  const from = parent === null ? 'an empty table' : `snapshot ${parent}`;
  return `rows snapshot ${commit} ${what.replace('{from}', from)}${commit === snapshotId ? '' : ` (snapshot ${snapshotId} after it only rewrote files)`}`;
}

export type VerifyCheck = VerifyOutcome['checks'][number];

/** What a check that answered no row shows as its value. */
export const NO_ROWS = 'no rows';

/** What a check that answered several rows shows: its first row would pass it whatever the others hold. */
export const SEVERAL_ROWS = 'more than one row: a check must answer one row (an aggregate such as count(*), or LIMIT 1)';

/**
 * A configured check's result from the first value of each row of its answer, read up to two rows
 * (`error` when the engine refused its SQL). A check answers one value: none, several or an error fails it.
 */
export function configuredCheckResult(check: { name: string; expect: string | number }, answer: (string | undefined)[] | { error: string }): VerifyCheck {
  const expected = String(check.expect);
  if (!Array.isArray(answer)) return { name: check.name, expected, actual: `error: ${answer.error}`, passed: false };
  if (answer.length > 1) return { name: check.name, expected, actual: SEVERAL_ROWS, passed: false };
  const actual = answer[0];
  return { name: check.name, expected, actual: actual ?? NO_ROWS, passed: checkPassed(check.expect, actual) };
}

/**
 * Whether a configured check's answer (the first value, undefined for no row) is what it expects:
 * the same number when `expect` is a number (5 matches "5.00"; a blank answer is no number), else
 * the same text, spaces around aside. Numbers are compared exactly, digit by digit: a decimal or
 * bigint answer holds more digits than a double, and one that differs from `expect` only beyond a
 * double's precision is not `expect`. Shared by the backends, so a check passes on the local
 * runner exactly when it passes on Athena.
 */
export function checkPassed(expect: string | number, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  if (typeof expect === 'number') {
    if (!Number.isFinite(expect)) return actual.trim() !== '' && Number(actual) === expect;
    const answered = exactNumber(actual);
    return answered !== undefined && answered === exactNumber(String(expect));
  }
  return actual.trim() === expect.trim();
}

/** A decimal number's exact value as `[-]<digits>e<exponent>` (no leading or trailing zeros), or undefined when the text is no number. */
export function exactNumber(text: string): string | undefined {
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m) return undefined;
  const [, sign, whole = '', fraction = '', exponent] = m;
  if (whole === '' && fraction === '') return undefined;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const exp = BigInt(exponent ?? 0) - BigInt(fraction.length) + BigInt(digits.length - significant.length);
  return `${sign === '-' ? '-' : ''}${significant}e${exp}`;
}

/** Iceberg snapshot ids are 64-bit integers; anything else never reaches SQL. */
export function assertSnapshotId(snapshotId: string, subject: string): void {
  // A Java long: at most 19 digits, and below 2^63.
  if (!/^-?\d{1,19}$/.test(snapshotId) || BigInt(snapshotId) > 9223372036854775807n || BigInt(snapshotId) < -9223372036854775808n) {
    throw new PortError('validation', 'InvalidSnapshotId', `the load result of ${subject} names Iceberg snapshot "${snapshotId}", which is not a snapshot id (digits): check the load job's result JSON`);
  }
}

/** A snapshot the load result names but the table's history lacks. */
export function unknownSnapshot(snapshotId: string, subject: string): PortError {
  return new PortError(
    'failed',
    'SnapshotNotFound',
    `Iceberg snapshot ${snapshotId} is not among the snapshots of ${subject}: the load result names a snapshot the lake does not have (or it has expired); rerun the table`,
  );
}

/** Parses a count the lake answered; a count that is not a number is the lake's failure. */
export function countValue(value: unknown, subject: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new PortError('failed', 'InvalidRowCount', `the row count query of ${subject} answered ${JSON.stringify(value)}, not a count`);
  return n;
}

export async function rowCountCheck(check: RowCountCheck, snapshotId: string | null, lake: LakeRowCounts): Promise<VerifyCheck> {
  if (check.kind === 'total') {
    const actual = await lake.countAt(snapshotId);
    return { name: snapshotId ? `row count at snapshot ${snapshotId}` : 'row count', expected: String(check.rows), actual: String(actual), passed: actual === check.rows };
  }
  if (check.kind === 'changed') return changedCheck(check, snapshotId, lake);
  let name: string;
  let added: number;
  if (check.since === 'parent' && snapshotId) {
    // The rows this snapshot added to the one it was committed on, both counted by the lake.
    const { commit, parent } = await committedOn(snapshotId, lake);
    added = (await lake.countAt(snapshotId)) - (parent === null ? 0 : await lake.countAt(parent));
    name = sinceParentName('added to {from}', snapshotId, commit, parent);
  } else if (snapshotId) {
    added = (await lake.countAt(null)) - (await lake.countAt(snapshotId));
    name = `rows added after snapshot ${snapshotId}`;
  } else {
    added = await lake.countAt(null);
    name = 'rows added';
  }
  // The appended rows come from the export (or a direct load's window): more than it holds cannot be right, whatever the load says.
  const bound = check.bound === 'window' ? "the rows read in the load's window" : "the export's rows";
  if (check.rows === undefined) {
    // The load's own count is unknown: the lake's gain is held against what bounds it, if anything does.
    const unknown = "the load's own count is unknown: its result is missing";
    const expected = check.atMost === undefined ? `none fewer than 0 (${unknown})` : `at most ${check.atMost} (${bound}; ${unknown})`;
    return { name, expected, actual: String(added), passed: added >= 0 && (check.atMost === undefined || added <= check.atMost) };
  }
  const atMost = check.atMost ?? check.rows;
  const expected = check.rows <= atMost ? String(check.rows) : `${check.rows}, but at most ${atMost} (${bound})`;
  return { name, expected, actual: String(added), passed: added === check.rows && check.rows <= atMost };
}

/** A DynamoDB incremental merge: the lake's own count moved by exactly inserted - deleted, and no more keys changed than the exports hold. */
async function changedCheck(check: Extract<RowCountCheck, { kind: 'changed' }>, snapshotId: string | null, lake: LakeRowCounts): Promise<VerifyCheck> {
  let name: string;
  let moved: number;
  if (check.since === 'parent' && snapshotId) {
    const { commit, parent } = await committedOn(snapshotId, lake);
    moved = (await lake.countAt(snapshotId)) - (parent === null ? 0 : await lake.countAt(parent));
    name = sinceParentName('added less rows it deleted, from {from}', snapshotId, commit, parent);
  } else {
    // The load committed nothing: the table must not have moved since the snapshot it names.
    moved = snapshotId ? (await lake.countAt(null)) - (await lake.countAt(snapshotId)) : 0;
    name = snapshotId ? `rows changed after snapshot ${snapshotId}` : 'rows changed';
  }
  const net = check.inserted - check.deleted;
  const within = check.inserted + check.deleted <= check.atMost;
  const expected = within ? String(net) : `${net}, but at most ${check.atMost} keys inserted or deleted (the exports' change records)`;
  return { name, expected, actual: String(moved), passed: moved === net && within };
}
