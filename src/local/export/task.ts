/**
 * ExportPort of the embedded mode: an export runs in the background like an RDS export task,
 * writing to exports/<exportId>.partial/ and renaming it to exports/<exportId>/ once complete,
 * so an export folder is always whole. Task state lives in export-tasks/<exportId>.json; a task
 * whose owner process is gone is started again by one of the processes that ask about it next
 * (a new task, or a takeover, is claimed with an exclusive file create). A cancelled task
 * stops its readers, ends `canceled` and is never started again. A cancel asked of another process
 * is the file export-tasks/<exportId>.cancel: only the owner writes the task file, so a cancel can
 * neither be lost under the owner's progress nor put an ended task back in progress.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PortError } from '../../errors';
import { redactSecrets } from '../../redact';
import type { ExportRef, ExportStatus, SnapshotRef, TableName } from '../../model';
import type { ExportPort, ExportRequest } from '../../ports';
import { type CatalogRecord, catalogRecordFile } from '../discover';
import { claimOrphanedTask, readJsonIfExists, writeJsonAtomic, writeJsonExclusive } from '../files';
import { THIS_OWNER, type TaskOwner, ownerAlive } from '../process-identity';
import type { WorkDirLayout } from '../paths';
import { readNotTables, readPartitions, readTables } from '../../catalog-queries';
import type { SourceDb } from '../source/db';
import { exportSnapshot, type ExportOptions } from './exporter';
import { RDS_EXPORT_ID } from '../../ids';

interface ExportTask extends TaskOwner {
  exportId: string;
  snapshot: SnapshotRef;
  tables?: TableName[];
  schemas?: string[];
  state: 'in_progress' | 'complete' | 'failed' | 'canceled';
  percentProgress: number;
  startedAt: string;
  finishedAt?: string;
  failureCause?: string;
  skippedTables?: { table: TableName; reason: string }[];
  rows?: number;
  totalBytes?: number;
}

/** Exports running in this process (a task whose owner is this process but is not here died with an earlier ports instance). */
const running = new Map<string, Promise<void>>();
/** How each running export of this process is stopped. */
const cancellers = new Map<string, AbortController>();
const CANCELLED = 'the export task was cancelled';
/** How often a running export looks for a cancel another process asked for. */
const CANCEL_POLL_MS = 500;

export interface ExportTaskOptions {
  database: string;
  /** The source, opened on first use. */
  source: () => Promise<SourceDb>;
  tuning?: Pick<ExportOptions, 'rowsPerPart' | 'rowGroupSize' | 'fetchRows' | 'readers' | 'readerThreadMinBlocks'>;
  /** The exclude rule naming a table, if one does (ExportOptions.excludedBy). */
  excludedBy?: ExportOptions['excludedBy'];
  log?: (line: string) => void;
}

export function exportDir(layout: WorkDirLayout, exportId: string): string {
  return join(layout.exports, exportId);
}

export function createExportPort(layout: WorkDirLayout, options: ExportTaskOptions): ExportPort {
  const taskFile = (id: string) => join(layout.exportTasks, `${id}.json`);
  const readTask = (id: string) => (RDS_EXPORT_ID.test(id) ? readJsonIfExists<ExportTask>(taskFile(id)) : undefined);
  const save = (task: ExportTask) => writeJsonAtomic(taskFile(task.exportId), task);
  const cancelFile = (id: string) => join(layout.exportTasks, `${id}.cancel`);
  const cancelAsked = (id: string) => existsSync(cancelFile(id));
  const stopIfCancelAsked = (id: string) => cancelAsked(id) && stop(id);
  const partialDir = (id: string) => `${exportDir(layout, id)}.partial`;
  const ref = (task: ExportTask, adopted: boolean): ExportRef => ({ exportId: task.exportId, location: exportDir(layout, task.exportId), snapshotId: task.snapshot.snapshotId, adopted });

  const orphaned = (task: ExportTask) => task.state === 'in_progress' && (task.ownerPid === process.pid ? !running.has(task.exportId) : !ownerAlive(task));

  /**
   * Runs the export in this process: a new task, or the takeover of an orphaned one. Undefined
   * when another process created or took it over first, so that no export is ever run twice.
   */
  function launch(exportId: string, snapshot: SnapshotRef, scope: Pick<ExportTask, 'tables' | 'schemas'>, orphan?: ExportTask): ExportTask | undefined {
    const { tables, schemas } = scope;
    const task: ExportTask = { exportId, snapshot, ...(tables ? { tables } : {}), ...(schemas ? { schemas } : {}), state: 'in_progress', percentProgress: 0, ...THIS_OWNER, startedAt: new Date().toISOString() };
    if (orphan ? !claimOrphanedTask(layout.exportTasks, orphan) : !writeJsonExclusive(taskFile(exportId), task)) return undefined;
    if (orphan) save(task);
    const canceller = new AbortController();
    cancellers.set(exportId, canceller);
    // A cancel asked by another process stops the readers where they are, as one asked here does.
    const watch = setInterval(() => stopIfCancelAsked(exportId), CANCEL_POLL_MS).unref();
    const job = run(task, canceller.signal).finally(() => {
      clearInterval(watch);
      running.delete(exportId);
      cancellers.delete(exportId);
    });
    running.set(exportId, job);
    return task;
  }

  /** An orphaned task starts again, unless a cancel was asked of it: then it ends cancelled where it lies. */
  function resume(task: ExportTask): ExportTask {
    if (cancelAsked(task.exportId)) return endUnfinished(task, 'canceled', CANCELLED);
    return launch(task.exportId, task.snapshot, task, task) ?? readTask(task.exportId) ?? task;
  }

  /** Stops an export this process runs; false when it runs none by that id. */
  function stop(exportId: string): boolean {
    const canceller = cancellers.get(exportId);
    canceller?.abort(new Error(CANCELLED));
    return canceller !== undefined;
  }

  const endUnfinished = (task: ExportTask, state: 'failed' | 'canceled', failureCause: string) => endExportTask(layout, task, state, failureCause);

  async function run(task: ExportTask, signal: AbortSignal): Promise<void> {
    const partial = partialDir(task.exportId);
    try {
      rmSync(partial, { recursive: true, force: true });
      // A folder in place for a task still in progress is left by a run that died between moving its
      // folder into place and recording the task complete: it is written again, so it must not block the move.
      rmSync(exportDir(layout, task.exportId), { recursive: true, force: true });
      mkdirSync(layout.exports, { recursive: true });
      const db = await options.source();
      options.log?.(`export ${task.exportId}: reading ${db.description}`);
      const summary = await exportSnapshot(db, {
        exportId: task.exportId,
        database: options.database,
        snapshot: task.snapshot,
        outDir: partial,
        ...(task.tables ? { tables: task.tables } : {}),
        ...(task.schemas ? { schemas: task.schemas } : {}),
        ...options.tuning,
        ...(options.excludedBy ? { excludedBy: options.excludedBy } : {}),
        signal,
        onProgress: ({ tablesDone, tablesTotal }) => save({ ...task, percentProgress: Math.floor((100 * tablesDone) / Math.max(tablesTotal, 1)) }),
      });
      stopIfCancelAsked(task.exportId);
      signal.throwIfAborted();
      writeJsonAtomic(catalogRecordFile(layout, task.exportId), { primaryKeys: summary.primaryKeys } satisfies CatalogRecord);
      renameSync(partial, exportDir(layout, task.exportId));
      save({
        ...task,
        state: 'complete',
        percentProgress: 100,
        finishedAt: summary.finishedAt,
        skippedTables: summary.skipped,
        rows: summary.tables.reduce((n, t) => n + t.rows, 0),
        totalBytes: summary.totalBytes,
      });
    } catch (err) {
      if (signal.aborted) endUnfinished(task, 'canceled', CANCELLED);
      else endUnfinished(task, 'failed', redactSecrets((err as Error)?.message ?? String(err)));
    }
  }

  return {
    async startExport(req: ExportRequest): Promise<ExportRef> {
      if (!RDS_EXPORT_ID.test(req.exportId)) {
        throw new PortError('validation', 'InvalidParameterValue', `export id ${JSON.stringify(req.exportId)} is not valid: a letter, then up to 59 letters, digits or hyphens (src/ids.ts exportIdFor)`);
      }
      // The exclusive create of its task file decides whether the export is new.
      const created = launch(req.exportId, req.snapshot, req);
      if (created) return ref(created, false);
      const existing = readTask(req.exportId)!;
      if (existing.snapshot.snapshotId !== req.snapshot.snapshotId) {
        throw new PortError('already-exists', 'ExportTaskAlreadyExists', `export ${req.exportId} exists for snapshot ${existing.snapshot.snapshotId}, not ${req.snapshot.snapshotId}; use another export id`);
      }
      if (orphaned(existing)) resume(existing);
      return ref(existing, true);
    },

    /**
     * As RDS: a running export stops and ends `canceled` (its partial folder removed); an ended or
     * unknown one is left as it is. Run by another live process, that one stops it within a second;
     * should that process die first, the export ends cancelled instead of starting again.
     */
    async cancelExport(exportId: string): Promise<void> {
      const task = readTask(exportId);
      if (!task || task.state !== 'in_progress') return;
      if (stop(exportId)) {
        await running.get(exportId);
      } else if (orphaned(task)) {
        // Nobody runs it: cancelled here, so that no later describe starts it again.
        endUnfinished(task, 'canceled', CANCELLED);
      } else {
        writeFileSync(cancelFile(exportId), `${JSON.stringify({ askedBy: process.pid, askedAt: new Date().toISOString() })}\n`);
      }
    },

    async listSourceTables(): Promise<TableName[]> {
      // Read-only: one READ ONLY transaction over the catalog.
      const db = await options.source();
      // The table query alone (not every table's columns and keys); unlogged tables too, as the export lists them skipped.
      return db.consistentRead(async (session) => [...new Set((await readTables(session)).map((t) => t.table))]);
    },

    async listSourcePartitions(): Promise<Record<TableName, TableName[]>> {
      // Each partitioned table's partitions, at every level: read-only, as the table list, and the partition query alone.
      const db = await options.source();
      return db.consistentRead(readPartitions);
    },

    async listSourceNotTables(): Promise<Record<TableName, string>> {
      const db = await options.source();
      return db.consistentRead(readNotTables);
    },

    async describeExport(exportId: string): Promise<ExportStatus> {
      let task = readTask(exportId);
      if (!task) throw new PortError('not-found', 'ExportTaskNotFound', `export ${exportId} is not known in ${layout.exportTasks}`);
      if (orphaned(task)) {
        options.log?.(`export ${exportId}: its process is gone; ${cancelAsked(exportId) ? 'ending it cancelled, as asked' : 'starting it again'}`);
        task = resume(task);
      }
      if (task.state === 'complete' && !existsSync(exportDir(layout, exportId))) {
        return { exportId, state: 'failed', failureCause: `the export folder ${exportDir(layout, exportId)} was removed`, snapshotTime: task.snapshot.createdAt };
      }
      return {
        exportId,
        state: task.state,
        snapshotTime: task.snapshot.createdAt,
        percentProgress: task.percentProgress,
        ...(task.failureCause ? { failureCause: task.failureCause } : {}),
        ...(task.skippedTables?.length ? { skippedTables: task.skippedTables } : {}),
      };
    },
  };
}

/** An export that ended without its folder: the task says why, and its partial folder goes. */
function endExportTask(layout: WorkDirLayout, task: ExportTask, state: 'failed' | 'canceled', failureCause: string): ExportTask {
  const ended: ExportTask = { ...task, state, finishedAt: new Date().toISOString(), failureCause };
  writeJsonAtomic(join(layout.exportTasks, `${task.exportId}.json`), ended);
  rmSync(`${exportDir(layout, task.exportId)}.partial`, { recursive: true, force: true });
  return ended;
}

/**
 * Ends, failed, an export task still in progress whose process is gone (no cycle is left to
 * resume it: retention deletes its expired snapshot), removing its partial folder. Claimed as a
 * takeover is, so that no process starting it again at the same time runs it. False when its
 * process still runs it, or another process took it over first.
 */
export function endAbandonedExport(layout: WorkDirLayout, exportId: string, why: string): boolean {
  const task = RDS_EXPORT_ID.test(exportId) ? readJsonIfExists<ExportTask>(join(layout.exportTasks, `${exportId}.json`)) : undefined;
  if (!task || task.state !== 'in_progress') return true;
  const orphaned = task.ownerPid === process.pid ? !running.has(exportId) : !ownerAlive(task);
  if (!orphaned || !claimOrphanedTask(layout.exportTasks, task)) return false;
  endExportTask(layout, task, 'failed', `the process that ran it (pid ${task.ownerPid}) ended before the export completed, and no cycle resumed it; ${why}`);
  return true;
}

/** Waits for this process's running exports (tests and close()). */
export async function settleExports(): Promise<void> {
  await Promise.allSettled([...running.values()]);
}
