/**
 * TableExportPort of the embedded mode: DynamoDB exports written from the embedded DynamoDB
 * (moto server) in AWS's DYNAMODB_JSON layout, the manifests under
 * `exports/<exportId>/AWSDynamoDB/<exportId>/` of the source's work dir (`exports/` stands for the
 * bucket, `<exportId>` for the S3 prefix). As on AWS, a FULL export's data files are in that
 * folder's data/, an INCREMENTAL export's in the prefix's shared `AWSDynamoDB/data/`.
 * FULL: a paginated, consistent Scan (the table as it is when the export runs, once `to` has
 * passed). INCREMENTAL: the table's stream records of [from, to), one line per key.
 *
 * An export runs in the background like DynamoDB's own; its state lives in
 * `table-export-tasks/<exportId>.json`. Starting the same id again adopts it. The files are written
 * to `exports/<exportId>.partial-*` and renamed whole, so a reader never sees part of an export. A
 * task whose owner process died is run again by one of the processes that ask about it next. An
 * export runs once at a time, whatever the processes: a new task, or a takeover, is claimed with
 * an exclusive file create.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DescribeTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { dynamoNameOf, dynamoTableKey } from '../../dynamodb/names';
import { MAX_WINDOWS } from '../../dynamodb/windows';
import { PortError } from '../../errors';
import type { TableExportRef, TableExportStatus, TableExportWindow } from '../../model';
import type { RetentionDeletion, TableExportItem, TableExportPort, TableExportRequest } from '../../ports';
import { claimOrphanedTask, readJsonIfExists, writeJsonAtomic, writeJsonExclusive } from '../files';
import { THIS_OWNER, type TaskOwner, ownerAlive } from '../process-identity';
import type { WorkDirLayout } from '../paths';
import type { LocalDynamoClients } from './clients';
import { DataFileWriter, type ExportSummary, itemToDynamoJson, writeManifests } from './export-files';
import { changeLine, readWindowChanges } from './stream-changes';
import { DYNAMODB_EXPORT_ID, tableExportIdFor } from '../../ids';

/** The embedded exports read a stream, which has no 15-minute floor: any window of a second up to a day. */
export const LOCAL_WINDOW_LIMITS = { minSeconds: 1, maxSeconds: 24 * 60 * 60 } as const;

/** How far ahead of this clock `to` may be (the export then waits for it); DynamoDB refuses export times in the future. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

interface TableExportTask extends TaskOwner {
  exportId: string;
  /** The source whose cycle started it: what retention deletes it by (absent in records of earlier versions: retention gives it to the source whose cycle derives the id, see attributeLegacyTasks). */
  source?: string;
  exportArn: string;
  table: string;
  tableArn: string;
  window: TableExportWindow;
  state: TableExportStatus['state'];
  startedAt: string;
  finishedAt?: string;
  itemCount?: number;
  billedBytes?: number;
  failureCause?: string;
}

/** What the exporter reads back from a manifest-summary.json it wrote. */
interface WrittenSummary {
  exportArn?: string;
  tableArn?: string;
  startTime?: string;
  endTime?: string;
  exportType?: string;
  exportTime?: string;
  exportFromTime?: string;
  exportToTime?: string;
  itemCount?: number;
  billedSizeBytes?: number;
}

/** Exports running in this process, by task file. */
const running = new Map<string, Promise<void>>();

export interface LocalTableExportOptions {
  clients: Pick<LocalDynamoClients, 'dynamodb' | 'streams'>;
  log?: (line: string) => void;
  /** Items per Scan page and records per GetRecords page (default: DynamoDB's own; tests make pages small). */
  pageSize?: number;
}

export interface LocalTableExportPort extends TableExportPort {
  /** Waits for the exports this process runs for the work dir. */
  settle(): Promise<void>;
}

/** `exports/<exportId>/AWSDynamoDB/<exportId>`: the folder holding the manifests (and a FULL export's data/). */
export function tableExportLocation(layout: WorkDirLayout, exportId: string): string {
  return join(layout.exports, exportId, 'AWSDynamoDB', exportId);
}

export function createLocalTableExportPort(layout: WorkDirLayout, options: LocalTableExportOptions): LocalTableExportPort {
  const taskFile = (id: string) => join(layout.tableExportTasks, `${id}.json`);
  const readTask = (id: string) => readJsonIfExists<TableExportTask>(taskFile(id));
  const save = (task: TableExportTask) => writeJsonAtomic(taskFile(task.exportId), task);
  const orphaned = (task: TableExportTask) => task.state === 'in_progress' && (task.ownerPid === process.pid ? !running.has(taskFile(task.exportId)) : !ownerAlive(task));
  const summaryOf = (id: string) => readJsonIfExists<WrittenSummary>(join(tableExportLocation(layout, id), 'manifest-summary.json'));

  /**
   * Runs the export in this process: a new task, or the takeover of an orphaned one. False when
   * another process created or took it over first, so that no export is ever run twice at once.
   */
  function launch(task: TableExportTask, orphan: boolean): boolean {
    const claimed: TableExportTask = { ...task, state: 'in_progress', ...THIS_OWNER, startedAt: new Date().toISOString() };
    if (orphan ? !claimOrphanedTask(layout.tableExportTasks, task) : !writeJsonExclusive(taskFile(task.exportId), claimed)) return false;
    if (orphan) save(claimed);
    const key = taskFile(task.exportId);
    const job = run(claimed)
      .catch((err) => options.log?.(`export ${task.exportId} of table ${task.table}: its state could not be saved: ${(err as Error).message}`))
      .finally(() => running.delete(key));
    running.set(key, job);
    return true;
  }

  async function run(task: TableExportTask): Promise<void> {
    const partial = join(layout.exports, `${task.exportId}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      removeEarlierPartials(layout, task.exportId, partial);
      // An export describes the table up to `to`: wait until that time has passed.
      const wait = Date.parse(task.window.to) - Date.now();
      if (wait > 0) await delay(wait);
      options.log?.(`DynamoDB export ${task.exportId} of ${task.table} (${describeWindow(task.window)}): writing`);
      const result = await writeExport(task, partial, options, layout);
      const final = join(layout.exports, task.exportId);
      if (existsSync(join(tableExportLocation(layout, task.exportId), 'manifest-summary.json'))) {
        // An earlier run of this export renamed its files, then died before it recorded them: keep them, never mix them.
        rmSync(partial, { recursive: true, force: true });
        const theirs = summaryOf(task.exportId);
        save({ ...task, state: 'complete', finishedAt: new Date().toISOString(), itemCount: theirs?.itemCount ?? result.itemCount, billedBytes: theirs?.billedSizeBytes ?? result.bytes });
        return;
      }
      rmSync(final, { recursive: true, force: true });
      renameSync(partial, final);
      save({ ...task, state: 'complete', finishedAt: new Date().toISOString(), itemCount: result.itemCount, billedBytes: result.bytes });
      options.log?.(`DynamoDB export ${task.exportId} of ${task.table} (${task.window.type}) complete: ${result.itemCount} items`);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      const cause = `export ${task.exportId} of table ${task.table} (${describeWindow(task.window)}) failed: ${(err as Error).message ?? String(err)}`;
      save({ ...task, state: 'failed', finishedAt: new Date().toISOString(), failureCause: cause });
      options.log?.(cause);
    }
  }

  /** A task whose files are complete though its record is gone (e.g. the work dir was copied without it): its summary tells table and window. */
  function recovered(req: TableExportRequest, exportArn: string): TableExportTask | undefined {
    const summary = summaryOf(req.exportId);
    if (!summary) return undefined;
    const incremental = summary.exportType === 'INCREMENTAL_EXPORT';
    const window: TableExportWindow = incremental ? { type: 'INCREMENTAL', from: summary.exportFromTime ?? '', to: summary.exportToTime ?? '' } : { type: 'FULL', to: summary.exportTime ?? '' };
    const tableName = /:table\/([^/]+)$/.exec(summary.tableArn ?? '')?.[1];
    const task: TableExportTask = {
      exportId: req.exportId,
      source: req.source,
      exportArn: summary.exportArn ?? exportArn,
      table: tableName ? dynamoTableKey(tableName) : req.table,
      tableArn: summary.tableArn ?? req.tableArn,
      window,
      state: 'complete',
      ...THIS_OWNER,
      startedAt: summary.startTime ?? new Date().toISOString(),
      finishedAt: summary.endTime ?? new Date().toISOString(),
      itemCount: summary.itemCount ?? 0,
      billedBytes: summary.billedSizeBytes ?? 0,
    };
    save(task);
    return task;
  }

  return {
    windowLimits: LOCAL_WINDOW_LIMITS,
    // The embedded DynamoDB's earliest restorable time (when recovery, or the table's stream, was
    // turned on) never moves on: no margin, so its incremental windows may start right there.
    restorableMarginSeconds: 0,

    async startTableExport(req: TableExportRequest): Promise<TableExportRef> {
      validate(req);
      const exportArn = `${req.tableArn}/export/${req.exportId}`;
      const ref = (adopted: boolean): TableExportRef => ({ exportId: req.exportId, exportArn, table: req.table, window: req.window, adopted });
      const adopt = (existing: TableExportTask): TableExportRef => {
        if (existing.table !== req.table || !sameWindow(existing.window, req.window)) {
          throw new PortError(
            'validation',
            'ExportConflictException',
            `export ${req.exportId} was started for table ${existing.table} (${describeWindow(existing.window)}), not for table ${req.table} (${describeWindow(req.window)}): an export id names one table and window`,
          );
        }
        if (orphaned(existing)) launch(existing, true);
        return ref(true);
      };
      const existing = readTask(req.exportId) ?? recovered(req, exportArn);
      if (existing) return adopt(existing);
      const task: TableExportTask = { exportId: req.exportId, source: req.source, exportArn, table: req.table, tableArn: req.tableArn, window: req.window, state: 'in_progress', ...THIS_OWNER, startedAt: new Date().toISOString() };
      // Another process may have created the task since the read: then this start adopts it.
      if (launch(task, false)) return ref(false);
      return adopt(readTask(req.exportId) ?? task);
    },

    async describeTableExport(ref: TableExportRef): Promise<TableExportStatus> {
      const task = DYNAMODB_EXPORT_ID.test(ref.exportId) ? readTask(ref.exportId) : undefined;
      if (!task) {
        throw new PortError('not-found', 'ExportNotFoundException', `DynamoDB export ${ref.exportId} of table ${ref.table} is unknown in ${layout.tableExportTasks}: start it again (the same id adopts it)`);
      }
      if (orphaned(task)) {
        // This process runs it again, or another one that asked at the same time does.
        launch(task, true);
        return { state: 'in_progress' };
      }
      if (task.state === 'complete') {
        return { state: 'complete', location: tableExportLocation(layout, task.exportId), itemCount: task.itemCount ?? 0, ...(task.billedBytes !== undefined ? { billedBytes: task.billedBytes } : {}) };
      }
      if (task.state === 'failed') return { state: 'failed', failureCause: task.failureCause ?? `export ${task.exportId} failed` };
      return { state: 'in_progress' };
    },

    async settle() {
      const mine = [...running.entries()].filter(([file]) => file.startsWith(layout.tableExportTasks)).map(([, job]) => job);
      await Promise.allSettled(mine);
    },
  };
}

/** The source's DynamoDB exports whose records this work dir holds, for retention. */
export function listSourceTableExports(layout: WorkDirLayout, source: string): TableExportItem[] {
  if (!existsSync(layout.tableExportTasks)) return [];
  const tasks = readdirSync(layout.tableExportTasks)
    .filter((f) => f.endsWith('.json') && DYNAMODB_EXPORT_ID.test(f.slice(0, -'.json'.length)))
    .flatMap((f) => readJsonIfExists<TableExportTask>(join(layout.tableExportTasks, f)) ?? [])
    .filter((t) => DYNAMODB_EXPORT_ID.test(t.exportId));
  const attributed = attributeLegacyTasks(layout, source, tasks.filter((t) => t.source === undefined));
  return tasks.filter((t) => t.source === source || attributed.has(t.exportId)).map((t) => ({ id: t.exportId, table: t.table, createdAt: t.startedAt, ...(t.state === 'failed' ? { failed: true } : {}) }));
}

/** A cycle id (`<cycle number>-<hash>`, src/ids.ts cycleKey; the legacy hash is shorter). */
const CYCLE_ID = /^(\d+)-([a-z0-9]{1,13})$/;

/** At most this many ids are derived to attribute the records of earlier versions in one listing. */
const ATTRIBUTION_BUDGET = 2_000_000;

/**
 * The records of earlier versions name no source, and neither their table ARN nor their folder
 * tells it (sources sharing a work dir may read the same table). Their id does: it is derived from
 * the source, the cycle, the table and the window's index (tableExportIdFor), and the source's
 * cycles are numbered 1.. in each chain (cycleKey), whose hash and newest number the cycle folders
 * in the work dir tell. A record whose id one of them derives is the source's: it gets the source
 * (once; one still running keeps its record as it is). Any other stays untouched.
 */
function attributeLegacyTasks(layout: WorkDirLayout, source: string, legacy: TableExportTask[]): Set<string> {
  const attributed = new Set<string>();
  if (legacy.length === 0) return attributed;
  const chains = new Map<string, number>();
  for (const dir of [layout.manifests, layout.results]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const m = CYCLE_ID.exec(name);
      if (m) chains.set(m[2]!, Math.max(chains.get(m[2]!) ?? 0, Number(m[1])));
    }
  }
  const tables = [...new Set(legacy.map((t) => t.table))];
  const cycles = [...chains.values()].reduce((n, max) => n + max, 0);
  if (cycles * tables.length * MAX_WINDOWS > ATTRIBUTION_BUDGET) return attributed;
  const wanted = new Map(legacy.map((t) => [t.exportId, t]));
  for (const table of tables) {
    for (const [hash, max] of chains) {
      for (let n = 1; n <= max; n++) {
        for (let i = 0; i < MAX_WINDOWS; i++) {
          const id = tableExportIdFor(source, `${n}-${hash}`, table, i);
          const task = wanted.get(id);
          if (task?.table === table) attributed.add(id);
        }
      }
    }
  }
  for (const id of attributed) {
    const task = wanted.get(id)!;
    if (task.state !== 'in_progress') writeJsonAtomic(join(layout.tableExportTasks, `${id}.json`), { ...task, source });
  }
  return attributed;
}

/**
 * Deletes an export's files, then its record, for retention. One running is put off; one whose
 * process died is read by nobody (its cycle ended) and goes. The manifest summary goes first, so
 * that files left by a deletion cut short are never adopted again as an export, and the record
 * last, so that the next retention lists the export again and finishes the deletion.
 */
export function deleteTableExport(layout: WorkDirLayout, exportId: string): RetentionDeletion {
  if (!DYNAMODB_EXPORT_ID.test(exportId)) return { deleted: false, reason: `"${exportId}" is not a DynamoDB export id` };
  const file = join(layout.tableExportTasks, `${exportId}.json`);
  const task = readJsonIfExists<TableExportTask>(file);
  if (task?.state === 'in_progress' && (task.ownerPid === process.pid ? running.has(file) : ownerAlive(task))) return { deleted: false, reason: 'the export is still running' };
  rmSync(join(tableExportLocation(layout, exportId), 'manifest-summary.json'), { force: true });
  removeEarlierPartials(layout, exportId, '');
  rmSync(join(layout.exports, exportId), { recursive: true, force: true });
  if (existsSync(layout.tableExportTasks)) {
    for (const name of readdirSync(layout.tableExportTasks)) if (name.startsWith(`${exportId}.takeover-`)) rmSync(join(layout.tableExportTasks, name), { force: true });
  }
  rmSync(file, { force: true });
  return { deleted: true };
}

/**
 * `<exportId>.partial-*` folders but this run's own: the task's claim is exclusive (its earlier
 * owner is dead, judged by pid and start time), so any other folder of this export is a dead
 * writer's, never part of an export. Its pid is not asked about: after a reboot it may be another
 * process's.
 */
function removeEarlierPartials(layout: WorkDirLayout, exportId: string, own: string): void {
  if (!existsSync(layout.exports)) return;
  for (const name of readdirSync(layout.exports)) {
    if (name.startsWith(`${exportId}.partial-`) && join(layout.exports, name) !== own) rmSync(join(layout.exports, name), { recursive: true, force: true });
  }
}

function validate(req: TableExportRequest): void {
  const subject = `export ${req.exportId} of table ${req.table}`;
  const refuse = (message: string) => new PortError('validation', 'ValidationException', `${subject}: ${message}`);
  if (!DYNAMODB_EXPORT_ID.test(req.exportId)) throw refuse('the export id must be 1-36 lowercase letters, digits or hyphens (src/ids.ts tableExportIdFor)');
  dynamoNameOf(req.table);
  const to = Date.parse(req.window.to);
  if (Number.isNaN(to)) throw refuse(`window.to "${req.window.to}" is not an ISO-8601 time`);
  if (to > Date.now() + FUTURE_TOLERANCE_MS) throw refuse(`window.to ${req.window.to} is in the future: an export describes the table up to a time that has passed`);
  if (req.window.type === 'FULL') return;
  if (req.window.type !== 'INCREMENTAL') throw refuse(`window.type must be FULL or INCREMENTAL, got "${String(req.window.type)}"`);
  const from = req.window.from === undefined ? Number.NaN : Date.parse(req.window.from);
  if (Number.isNaN(from)) throw refuse(`an INCREMENTAL window needs an ISO-8601 "from", got "${req.window.from ?? ''}"`);
  const seconds = (to - from) / 1000;
  if (seconds < LOCAL_WINDOW_LIMITS.minSeconds || seconds > LOCAL_WINDOW_LIMITS.maxSeconds) {
    throw refuse(`the window ${describeWindow(req.window)} lasts ${seconds} s; incremental exports cover ${LOCAL_WINDOW_LIMITS.minSeconds} s to ${LOCAL_WINDOW_LIMITS.maxSeconds} s`);
  }
}

function sameWindow(a: TableExportWindow, b: TableExportWindow): boolean {
  const at = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));
  return a.type === b.type && at(a.to) === at(b.to) && (a.type === 'FULL' || at(a.from) === at(b.from));
}

function describeWindow(window: TableExportWindow): string {
  return window.type === 'FULL' ? `FULL at ${window.to}` : `INCREMENTAL ${window.from ?? '?'} .. ${window.to}`;
}

/** Writes the whole export under `prefixRoot` (what stands for its S3 prefix); returns its item count and uncompressed bytes. */
async function writeExport(task: TableExportTask, prefixRoot: string, options: LocalTableExportOptions, layout: WorkDirLayout): Promise<{ itemCount: number; bytes: number }> {
  const { dynamodb, streams } = options.clients;
  const tableName = dynamoNameOf(task.table);
  const folder = join(prefixRoot, 'AWSDynamoDB', task.exportId);
  mkdirSync(folder, { recursive: true });
  const keyPrefix = `${task.exportId}/AWSDynamoDB/${task.exportId}`;
  // DynamoDB's layout: an INCREMENTAL export's data files go to the folder all exports to the prefix share.
  const full = task.window.type === 'FULL';
  const writer = full ? new DataFileWriter(join(folder, 'data'), `${keyPrefix}/data`) : new DataFileWriter(join(prefixRoot, 'AWSDynamoDB', 'data'), `${task.exportId}/AWSDynamoDB/data`);
  const startTime = new Date().toISOString();
  if (full) {
    let start: Record<string, never> | undefined;
    do {
      const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(options.pageSize ? { Limit: options.pageSize } : {}), ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const item of page.Items ?? []) writer.add({ Item: itemToDynamoJson(item as never) });
      start = page.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
  } else {
    const changes = await readWindowChanges({ dynamodb, streams }, tableName, { fromMs: Date.parse(task.window.from!), toMs: Date.parse(task.window.to) }, options.pageSize ? { pageSize: options.pageSize } : {});
    for (const change of changes) writer.add(changeLine(change));
  }
  const { files, itemCount, bytes } = writer.finish();
  const tableId = (await dynamodb.send(new DescribeTableCommand({ TableName: tableName })).catch(() => undefined))?.Table?.TableId;
  const summary: ExportSummary = {
    exportArn: task.exportArn,
    tableArn: task.tableArn,
    ...(tableId ? { tableId } : {}),
    startTime,
    endTime: new Date().toISOString(),
    s3Bucket: layout.exports,
    s3Prefix: task.exportId,
    type: task.window.type,
    ...(task.window.from ? { from: task.window.from } : {}),
    to: task.window.to,
    itemCount,
    billedSizeBytes: bytes,
  };
  writeManifests(folder, keyPrefix, files, summary);
  return { itemCount, bytes };
}
