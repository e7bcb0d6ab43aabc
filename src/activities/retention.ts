/**
 * Retention: at the end of a cycle, deletes the oldest snapshots and exports lakesync created for
 * the source, so that snapshots stay under the RDS quota of manual snapshots and exports stop
 * accumulating in S3. What is kept: the newest `retention.snapshots` / `retention.exports`, the
 * current cycle's, and those a failed table's rerun still needs. Only ids lakesync derives for the
 * source are candidates (src/ids.ts), on top of what the backend tells is lakesync's (on AWS, the
 * `lakesync` tag); automated, user and `snapshot.mode: existing` snapshots are never touched.
 *
 * Where the backend lists them (the embedded mode; on AWS the completed ones), also a DynamoDB source's table exports, by the
 * same rule per table (its newest `retention.exports` exports, the current cycle's, and those kept
 * by name: the one each table's watermark points to). Each cycle's working files (load results,
 * run records, manifests; on AWS its manifests and Glue load files), kept for the newest
 * `retention.exports` cycles, the current one and those of the exports kept.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { clusterSnapshotIdOf, exportIdFor, snapshotIdFor, tableExportIdFor } from '../ids';
import type { RetentionDeletion, RetentionItem, RetentionPort, TableExportItem } from '../ports';
import { redactSecrets } from '../redact';
import { type ActivityDeps, sourceOf, step } from './deps';

export interface RetentionInput {
  source: string;
  cycleId: string;
  /** Never deleted: the current cycle's snapshot and export, and those a failed table's rerun needs. */
  keep: { snapshotIds: string[]; exportIds: string[] };
}

export interface RetentionOutcome {
  /** `exports` also lists DynamoDB table exports; `cycles` the cycles whose working files went, when any did. */
  deleted: { snapshots: string[]; exports: string[]; cycles?: string[] };
  /** Put off to a later cycle (e.g. a snapshot still being created), each with the reason. */
  deferred: string[];
  /** Deletions that failed; the cycle reports them as warnings and the next cycle tries again. */
  failed: string[];
}

/** The cycle key at the end of an id lakesync derived: `<cycle number>-<hash>` (the legacy hash is shorter). */
const CYCLE_KEY_TAIL = /(\d+)-([a-z0-9]{1,13})$/;

/** Whether `id` is the snapshot id lakesync derives for some cycle of `source`. */
export function isSnapshotIdOf(source: string, id: string): boolean {
  const key = cycleKeyOf(id);
  if (key === undefined) return false;
  const requested = snapshotIdFor(source, key.key);
  return [requested, clusterSnapshotIdOf(requested)].includes(id.toLowerCase());
}

/** Whether `id` is the export id lakesync derives for some cycle of `source`. */
export function isExportIdOf(source: string, id: string): boolean {
  const key = cycleKeyOf(id);
  return key !== undefined && exportIdFor(source, key.key) === id;
}

function cycleKeyOf(id: string): { key: string; cycle: number } | undefined {
  const match = CYCLE_KEY_TAIL.exec(id.toLowerCase());
  return match ? { key: `${match[1]}-${match[2]}`, cycle: Number(match[1]) } : undefined;
}

/**
 * The items past the newest `keepNewest`, and the failed ones, less the protected ones, oldest
 * first. Age is the creation time (an item without one is being created: newest of all), then the
 * cycle number. A failed item (an export that failed) is never read: it takes none of the newest places.
 */
export function expiredItems(items: RetentionItem[], keepNewest: number, protectedIds: ReadonlySet<string>): RetentionItem[] {
  const time = (i: RetentionItem) => (i.createdAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(i.createdAt) || 0);
  const newestFirst = [...items].sort((a, b) => time(b) - time(a) || (cycleKeyOf(b.id)?.cycle ?? 0) - (cycleKeyOf(a.id)?.cycle ?? 0) || b.id.localeCompare(a.id));
  const kept = new Set(newestFirst.filter((i) => !i.failed).slice(0, Math.max(keepNewest, 0)));
  // Oldest first: a deletion cut short leaves the newer ones.
  return newestFirst
    .filter((i) => !kept.has(i) && !protectedIds.has(i.id))
    .reverse();
}

export function retentionActivities(deps: ActivityDeps) {
  return {
    /**
     * Deletes what the source's retention settings leave out. One failed deletion does not stop
     * the others: it is reported, and retried by the next cycle. A failed listing fails the
     * activity, which the cycle reports as a warning.
     */
    async applyRetention(input: RetentionInput): Promise<RetentionOutcome> {
      const { settings, ports } = sourceOf(deps, input.source);
      const { retention } = ports;
      const outcome: RetentionOutcome = { deleted: { snapshots: [], exports: [] }, deferred: [], failed: [] };
      const current = snapshotIdFor(input.source, input.cycleId);
      // The snapshot `snapshot.mode: existing` names is the user's to keep, even when it is one lakesync took (RDS ids are lowercase).
      const adopted = settings.snapshot.mode === 'existing' && settings.snapshot.id ? [settings.snapshot.id, settings.snapshot.id.toLowerCase()] : [];
      const keepSnapshots = new Set([...input.keep.snapshotIds, current, clusterSnapshotIdOf(current), ...adopted]);
      const keepExports = new Set([...input.keep.exportIds, exportIdFor(input.source, input.cycleId)]);

      const ownSnapshot = (id: string) => isSnapshotIdOf(input.source, id);
      const snapshots = await step('retention', `the snapshots of source ${input.source}`, () => retention.listSnapshots(ownSnapshot));
      for (const s of expiredItems(snapshots.filter((s) => ownSnapshot(s.id)), settings.retention.snapshots, keepSnapshots)) {
        await remove(`snapshot ${s.id}`, () => retention.deleteSnapshot(s.id), outcome, outcome.deleted.snapshots, s.id);
      }

      const ownExport = (id: string) => isExportIdOf(input.source, id);
      const rdsExports = await step('retention', `the exports of source ${input.source}`, () => retention.listExports(ownExport));
      for (const e of expiredItems(rdsExports.filter((e) => ownExport(e.id)), settings.retention.exports, keepExports)) {
        await remove(`export ${e.id}`, () => retention.deleteExport(e.id), outcome, outcome.deleted.exports, e.id);
      }

      if (retention.listTableExports && retention.deleteTableExport) {
        const deleteTableExport = retention.deleteTableExport.bind(retention);
        // Listing reads each export's summary on AWS: it heartbeats as it goes, like the deletions.
        // A listing refused (e.g. a worker policy not updated for it) is reported; the cycles' working files still go.
        let tableExports: TableExportItem[] = [];
        try {
          const warn = (message: string) => outcome.failed.push(redactSecrets(`source ${input.source}: ${message}`));
          tableExports = await step('retention', `the DynamoDB exports of source ${input.source}`, () => retention.listTableExports!(() => heartbeat({ listing: 'DynamoDB exports' }), warn));
        } catch (err) {
          if (err instanceof CancelledFailure) throw err;
          outcome.failed.push(redactSecrets(`listing the DynamoDB exports of source ${input.source} failed (they are deleted once it succeeds): ${(err as Error)?.message ?? String(err)}`));
        }
        // Oldest first, a bounded number a cycle: a backlog (exports kept by an earlier version) drains over the next cycles.
        const expired = expiredTableExports(input, tableExports, settings.retention.exports).sort((a, b) => (Date.parse(a.createdAt ?? '') || 0) - (Date.parse(b.createdAt ?? '') || 0));
        for (const e of expired.slice(0, TABLE_EXPORTS_DELETED_PER_RUN)) {
          heartbeat({ tableExport: e.id });
          await remove(`DynamoDB export ${e.id} of ${e.table}`, () => deleteTableExport(e.id), outcome, outcome.deleted.exports, e.id);
        }
      }
      if (retention.listCycleFiles && retention.deleteCycleFiles) await removeCycleFiles(input, retention, settings.retention.exports, outcome);
      return outcome;
    },
  };
}

/** Per table, the exports past its newest `keepNewest` (and the failed ones), less those of the current cycle and those kept by name. */
export function expiredTableExports(input: RetentionInput, items: TableExportItem[], keepNewest: number): TableExportItem[] {
  const byTable = new Map<string, TableExportItem[]>();
  for (const i of items) byTable.set(i.table, [...(byTable.get(i.table) ?? []), i]);
  const expired: TableExportItem[] = [];
  for (const [table, exports] of byTable) {
    const ids = new Set(exports.map((e) => e.id));
    const keep = new Set(input.keep.exportIds);
    // The current cycle's windows have ids 0, 1, …: all started, so the first missing one ends them.
    for (let i = 0; ids.has(tableExportIdFor(input.source, input.cycleId, table, i)); i++) keep.add(tableExportIdFor(input.source, input.cycleId, table, i));
    expired.push(...(expiredItems(exports, keepNewest, keep) as TableExportItem[]));
  }
  return expired;
}

/** At most this many DynamoDB table exports go in one retention run (a backlog drains over the next cycles). */
export const TABLE_EXPORTS_DELETED_PER_RUN = 100;

/** At most this many cycles' working files go in one retention run. */
export const CYCLES_DELETED_PER_RUN = 100;

/** Tells Temporal the activity is alive while it deletes; nothing outside an activity (tests call it directly). */
function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Not in an activity.
  }
}

/** The cycle key of a cycle id lakesync made: its number, and the hash of the source workflow that ran it. */
const CYCLE_ID = /^(\d+)-([a-z0-9]{1,13})$/;

/**
 * Deletes the working files of the cycles past the newest `keepNewest`, less the current one and
 * those of the exports kept. The backend lists them where only this source's files are (on AWS
 * under the source's name, in the embedded mode in the source's own work dir), so every cycle
 * there is the source's, also those of its earlier workflow chains: a source started again (a
 * new chain, its cycle ids under another hash, numbered from 1 again) deletes them too.
 */
async function removeCycleFiles(input: RetentionInput, retention: RetentionPort, keepNewest: number, outcome: RetentionOutcome): Promise<void> {
  const current = CYCLE_ID.exec(input.cycleId);
  if (!current) return;
  const owned = (id: string) => CYCLE_ID.test(id);
  const keep = new Set([input.cycleId, ...input.keep.exportIds.flatMap((id) => cycleKeyOf(id)?.key ?? [])]);
  const cycles = await step('retention', `the cycle files of source ${input.source}`, () => retention.listCycleFiles!(owned));
  const deleted: string[] = [];
  // Oldest first, a bounded number a cycle: a backlog (thousands of cycles kept by an earlier version) drains over the next cycles.
  for (const c of expiredCycles(cycles.map((c) => c.id).filter(owned), current[2]!, keepNewest, keep).slice(0, CYCLES_DELETED_PER_RUN)) {
    heartbeat({ cycle: c });
    await remove(`the files of cycle ${c}`, () => retention.deleteCycleFiles!(c), outcome, deleted, c);
  }
  if (deleted.length > 0) outcome.deleted.cycles = deleted;
}

/**
 * The cycle ids past the newest `keepNewest`, less the protected ones, oldest first. One source
 * workflow chain runs at a time (its workflow id is the source's), so the cycles of the chain
 * `chain` (the hash in the id) are newer than those of any earlier chain; within a chain, the
 * cycle number orders them. Earlier chains have no order among themselves: by cycle number.
 */
export function expiredCycles(ids: readonly string[], chain: string, keepNewest: number, protectedIds: ReadonlySet<string>): string[] {
  const parsed = ids.flatMap((id) => {
    const m = CYCLE_ID.exec(id);
    return m ? [{ id, cycle: Number(m[1]), current: m[2] === chain }] : [];
  });
  const newestFirst = parsed.sort((a, b) => Number(b.current) - Number(a.current) || b.cycle - a.cycle || b.id.localeCompare(a.id));
  return newestFirst
    .slice(Math.max(keepNewest, 0))
    .filter((c) => !protectedIds.has(c.id))
    .map((c) => c.id)
    .reverse();
}

async function remove(subject: string, del: () => Promise<RetentionDeletion>, outcome: RetentionOutcome, deleted: string[], id: string): Promise<void> {
  try {
    const done = await del();
    if (done.deleted) deleted.push(id);
    else outcome.deferred.push(`${subject} kept until a later cycle: ${done.reason}`);
  } catch (err) {
    // Recorded in the workflow history: no credential may reach it.
    outcome.failed.push(redactSecrets(`deleting ${subject} failed: ${(err as Error)?.message ?? String(err)}`));
  }
}
