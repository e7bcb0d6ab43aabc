/**
 * A batch of tables of one cycle: load -> grant -> verify per table, with bounded concurrency.
 * Batches keep every history small when a cycle has thousands of tables.
 */
import { type ActivityOptions, ActivityCancellationType, ApplicationFailure, CancellationScope, isCancellation, log, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { LeftByPack, LoadFailureDetails, LoadTableResult, SpentRuns } from '../activities/load';
import { type ExportVolume, tableCost } from '../cost/ledger';
import { exportIdFor, runTokenFor, tableExportIdFor } from '../ids';
import type { CostBasis, CycleSettings, DynamoLoadExports, ExportRef, JsonRef, LoadedTableExport, LoadItem, LoadResult, LoadSummary, LoadUsage, TableCost, TableError, TableExportRef, TableOutcome } from '../model';
import { jsonBytes, keptStart } from '../payload-text';
import { storeText } from './by-reference';
import { nowIso } from './clock';
import { activityTimeout, cancelledDetails, failureDetails, tableError } from './errors';
import { batchProgressQuery, type BatchTableProgress } from './messages';
import { loadActivity, packStartActivity, shortActivity, tableExportStartActivity, tableExportWaitActivity, verifyActivity } from './options';
import { type LoadUnit, loadUnits, sameUnits } from './packs';

/** Patch: loads are cancelled with WAIT_CANCELLATION_COMPLETED (histories before it replay without). */
const LOADS_STOP_ON_CANCEL = 'loads-stop-on-cancel';
/** Patch: small tables share runs (packs) when the cycle's settings have `packing`. */
export const PACKED_LOADS = 'packed-loads';
/** Patch: a failed load's outcome carries the cost of its runs and its export (histories before it have none). */
export const FAILED_LOAD_COST = 'failed-load-cost';
/** Patch: a load cancelled with its cycle books the cost its cancellation reports (its export, its failed attempts' runs); it booked none. */
export const CANCELLED_LOAD_COST = 'cancelled-load-cost';
/** Patch: an RDS table whose load reported no usage (it timed out) books its part of the cycle's own export; it booked none. */
export const UNREPORTED_LOAD_EXPORT_COST = 'unreported-load-export-cost';
/** Patch: tables a pack's run left unloaded run alone one after another in the pack's lane (each retried alone at once, an attempt used up). */
export const PACK_LEFT_TABLES_IN_LANE = 'pack-left-tables-in-lane';
/** Patch: tables whose sizes sum to `packing.maxGB` share a pack whatever their binary rounding (histories before it split them). */
export const PACK_GB_ROUNDED_SUMS = 'pack-gb-rounded-sums';
/** Patch: a DynamoDB export is waited for by one activity (it was polled with workflow timers, events in the history with every poll). */
export const TABLE_EXPORT_WAIT_ACTIVITY = 'table-export-wait-activity';
/** Patch: after a DynamoDB export of a table fails, the exports started after it are waited for, for their billed bytes (the table failed at once). */
export const BILLED_EXPORTS_AFTER_FAILURE = 'billed-exports-after-failure';
export const FIRST_FAILED_EXPORT_REPORTED = 'first-failed-export-reported';
/** Patch: after a DynamoDB export of a table cannot be started, the exports started before it are waited for, for their billed bytes (the table failed at once). */
export const BILLED_EXPORTS_BEFORE_FAILED_START = 'billed-exports-before-failed-start';
/** Patch: a DynamoDB export's start records it under the cycle, so that a dead cycle's recovery books its billed bytes (it booked none). */
export const TABLE_EXPORT_RECORDED_AT_START = 'table-export-recorded-at-start';
/** Patch: a batch cancelled while a pack starts waits for the start and stops the run it made (the run went on loading the cancelled cycle's tables). */
export const PACK_START_STOPS_ON_CANCEL = 'pack-start-stops-on-cancel';
/** Patch: a batch cancelled after its pack started stops the run once its tables' loads have ended (none may have reached a worker to stop it). */
export const PACK_LOADS_CANCELLED_STOP_RUN = 'pack-loads-cancelled-stop-run';
/** Patch: a packed table's load is bounded by its pack's run (timeouts.loadHours for each of the pack's tables), which it waits for whole (it was bounded as one table, and timed out while the run went on to commit it). */
export const PACK_LOADS_BOUNDED_BY_PACK = 'pack-loads-bounded-by-pack';
/** Patch: outcomes larger than the cycle's inline limit are stored and handed over by reference (they went inline, up to batchSize of them). */
export const BATCH_OUTCOMES_BY_REFERENCE = 'batch-outcomes-by-reference';
/** Patch: a load's time bound holds the time its runs may wait in the backend's queue (loads timed out before their runs that never started failed them). */
export const LOAD_BOUND_QUEUE_WAIT = 'load-bound-queue-wait';
/** Patch: a load that timed out without reporting its runs marks its cost partial (its runs' DPU-seconds were left out silently). */
export const TIMED_OUT_LOAD_COST_PARTIAL = 'timed-out-load-cost-partial';
/** Patch: a timed-out load of the cycle's own RDS export whose table has no size in it says its export GB are left out too (its reason named the DPU-seconds only). */
export const TIMED_OUT_LOAD_UNSIZED_EXPORT = 'timed-out-load-unsized-export';
/** Patch: a DynamoDB export that completed without an item count fails its table saying where to check it and how to rerun it. */
export const UNCOUNTED_EXPORT_SAYS_WHAT_TO_DO = 'uncounted-export-says-what-to-do';
/** Patch: a failed or cancelled load whose stopped run's figures it could not read marks its cost partial (the run was left out silently). */
export const STOPPED_RUN_COST_PARTIAL = 'stopped-run-cost-partial';
/** Patch: a committed load whose usage says a figure is short (its size in the export could not be read) marks its cost partial (it was dropped silently). */
export const LOADED_COST_PARTIAL = 'loaded-cost-partial';
/** Patch: a DynamoDB table whose complete export reported no billed size marks its cost partial (its export GB were dropped silently). */
export const UNSIZED_TABLE_EXPORT_PARTIAL = 'unsized-table-export-partial';
/** Patch: a direct load's outcome keeps when it started, before it read the source: its table's freshness lag counts from there, not from its end. */
export const DIRECT_LOAD_STARTED_AT = 'direct-load-started-at';
/** Patch: a table's error longer than TABLE_ERROR_CHARACTERS keeps its start in the outcome (the whole error went into the outcome, its pages and the cycle's). */
export const TABLE_ERROR_CAPPED = 'table-error-capped-in-batch';

/**
 * How much of a table's error its outcome keeps: a page of outcomes holds at least one whole, and
 * a batch's progress answer all of its tables' errors. The whole error stays in the failure of the
 * step's activity in the batch's history.
 */
export const TABLE_ERROR_CHARACTERS = 2_000;
/** How much of a table's error the batch's progress answer gives: up to batchSize (500) tables answer at once. */
const PROGRESS_ERROR_CHARACTERS = 500;

export interface BatchInput {
  source: string;
  cycleId: string;
  planRef: string;
  items: LoadItem[];
  settings: CycleSettings;
  /** The cycle's export; absent when it took none (every table is read directly). */
  export?: ExportRef;
  /** When the export's snapshot was taken (ISO-8601): with the export id, the lineage of each commit. */
  snapshotTime?: string;
  /**
   * The cycle's inline payload limit: outcomes larger than it are stored and returned by reference.
   * Absent from cycles before it: the outcomes go inline.
   */
  payloadInlineBytes?: number;
}

/** A batch's outcomes stored by reference (in the order of its items): the cycle reads them, then deletes their parts. */
export interface BatchOutcomesRef {
  tablesRef: JsonRef;
}

export async function tableBatchWorkflow(input: BatchInput): Promise<TableOutcome[] | BatchOutcomesRef> {
  const { settings } = input;
  const queueWait = settings.loadQueueSeconds !== undefined && patched(LOAD_BOUND_QUEUE_WAIT);
  const loadOptions: ActivityOptions = {
    ...loadActivity(settings, queueWait),
    // A cancelled batch waits until each load has stopped its run: with the default (try cancel)
    // the batch ends at once, and the load then only learns that its workflow is gone.
    ...(patched(LOADS_STOP_ON_CANCEL) ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {}),
  };
  /**
   * The load of a table in a pack of `tables`: it waits for the pack's whole run, whose tables load
   * one after another, so each attempt may take timeouts.loadHours for each of them.
   */
  const packedLoadOptions = (tables: number): ActivityOptions => {
    const packed = loadActivity({ ...settings, timeouts: { ...settings.timeouts, loadHours: settings.timeouts.loadHours * tables } }, queueWait);
    return { ...loadOptions, startToCloseTimeout: packed.startToCloseTimeout!, scheduleToCloseTimeout: packed.scheduleToCloseTimeout! };
  };
  const shortOptions = shortActivity(settings);
  const { loadTable, loadPackedTable } = proxyActivities<Activities>(loadOptions);
  const { grantTable } = proxyActivities<Activities>(shortOptions);
  const packStartOptions = packStartActivity(settings);
  const { startPackLoad } = proxyActivities<Activities>(packStartOptions);
  const { stopPackLoad } = proxyActivities<Activities>(shortOptions);
  // Its timeout grows with the number of checks; it heartbeats per check.
  const verifyOptions = verifyActivity(settings);
  const { verifyTable } = proxyActivities<Activities>(verifyOptions);
  // DynamoDB export starts wait out its refusals (LimitExceeded) like RDS starts; their status is a short call.
  const exportStartOptions = tableExportStartActivity(settings);
  const { startTableExport } = proxyActivities<Activities>(exportStartOptions);
  const { tableExportStatus } = proxyActivities<Activities>(shortOptions);
  const { awaitTableExport } = proxyActivities<Activities>(tableExportWaitActivity(settings));
  const progress = new Map<string, BatchTableProgress>(input.items.map((i) => [i.table, { table: i.table, state: 'pending' }]));
  setHandler(batchProgressQuery, () => [...progress.values()]);

  const mark = (table: string, patch: Partial<BatchTableProgress>) => progress.set(table, { ...progress.get(table)!, ...patch });
  /** The billed bytes of each DynamoDB table's exports of this cycle, for its cost. */
  const exportVolumes = new Map<string, ExportVolume[]>();
  /** Whose figures those are, as the exports' statuses said (absent from workers before it). */
  const exportBases = new Map<string, CostBasis>();
  /** The complete DynamoDB exports of each table that reported no billed size: billed all the same, their GB unknown. */
  const unsizedExports = new Map<string, string[]>();

  /** The table's cost saying its export GB are left out, when one of its complete exports had no billed size (nothing is billed in the embedded mode). */
  function withUnsizedExports(table: string, cost: TableCost | undefined): TableCost | undefined {
    const ids = unsizedExports.get(table);
    if (!cost || !ids || ids.length === 0 || cost.basis === 'none' || !patched(UNSIZED_TABLE_EXPORT_PARTIAL)) return cost;
    const why = `DynamoDB export${ids.length > 1 ? 's' : ''} ${ids.join(', ')} of ${table} reported no billed size: the table's export GB are left out (see the export in the DynamoDB console for its size)`;
    return { ...cost, partial: cost.partial ? `${cost.partial}; ${why}` : why };
  }

  /**
   * A DynamoDB table's exports of this cycle, oldest first: all started (a retried start adopts
   * the export by its deterministic id), then each waited for by one activity that polls it until it ends.
   */
  async function exportTable(item: LoadItem): Promise<LoadedTableExport[]> {
    const windows = item.exports ?? [];
    if (windows.length === 0) throw ApplicationFailure.create({ message: `${item.table} is a DynamoDB table planned without any export window: run a new sync`, type: 'PlanMismatch', nonRetryable: true });
    const refs: TableExportRef[] = [];
    /** A start that failed after others were made: the table fails with it once those have ended (they run on, billed). */
    let startFailed: unknown;
    for (const [i, window] of windows.entries()) {
      const exportId = tableExportIdFor(input.source, input.cycleId, item.table, i);
      const span = window.type === 'FULL' ? `FULL at ${window.to}` : `INCREMENTAL ${window.from}..${window.to}`;
      try {
        refs.push(
          await startTableExport.executeWithOptions({ ...exportStartOptions, summary: `export ${item.table} ${span} (${i + 1} of ${windows.length})` }, [
            { source: input.source, table: item.table, planRef: input.planRef, exportId, window, ...(patched(TABLE_EXPORT_RECORDED_AT_START) ? { cycleId: input.cycleId } : {}) },
          ]),
        );
      } catch (err) {
        if (refs.length === 0 || isCancellation(err) || !patched(BILLED_EXPORTS_BEFORE_FAILED_START)) throw err;
        startFailed = err;
        break;
      }
    }
    const loaded: LoadedTableExport[] = [];
    /** The first export that failed: the table fails once the exports started after it have ended too (they run on, billed). */
    let failed: ApplicationFailure | undefined;
    const { pollInitialSeconds, pollMaximumSeconds } = settings.timeouts;
    for (const ref of refs) {
      let waitSeconds = pollInitialSeconds;
      const waitsInActivity = patched(TABLE_EXPORT_WAIT_ACTIVITY);
      for (;;) {
        let status: Awaited<ReturnType<typeof tableExportStatus>>;
        try {
          status = waitsInActivity ? await awaitTableExport({ source: input.source, ref, pollInitialSeconds, pollMaximumSeconds }) : await tableExportStatus(input.source, ref);
        } catch (err) {
          // The first failed export (or start) is the table's error: a later export's wait failing must not hide it.
          if ((failed || startFailed !== undefined) && patched(FIRST_FAILED_EXPORT_REPORTED)) break;
          throw err;
        }
        if (status.state === 'failed') {
          const failure = ApplicationFailure.create({
            message: `DynamoDB export ${ref.exportId} of ${item.table} (${ref.window.type} to ${ref.window.to}) failed: ${status.failureCause ?? 'no cause given'}; the table keeps its watermark and the next cycle exports it again`,
            type: 'TableExportFailed',
            nonRetryable: true,
          });
          if (!failed) {
            if (!patched(BILLED_EXPORTS_AFTER_FAILURE)) throw failure;
            failed = failure;
          }
          break;
        }
        if (status.state === 'complete') {
          // Billed once complete, whether or not the load reads it.
          const volumes = exportVolumes.get(item.table) ?? [];
          volumes.push({ kind: ref.window.type, ...(status.billedBytes !== undefined ? { bytes: status.billedBytes } : {}) });
          exportVolumes.set(item.table, volumes);
          if (status.billedBytes === undefined) unsizedExports.set(item.table, [...(unsizedExports.get(item.table) ?? []), ref.exportId]);
          if (status.costBasis) exportBases.set(item.table, status.costBasis);
          if (failed) break;
          if (!status.location || status.itemCount === undefined) {
            const message = patched(UNCOUNTED_EXPORT_SAYS_WHAT_TO_DO)
              ? uncountedExportMessage(ref, item.table, status.location)
              : `DynamoDB export ${ref.exportId} of ${item.table} completed without a location or item count`;
            throw ApplicationFailure.create({ message, type: 'TableExportFailed', nonRetryable: true });
          }
          loaded.push({ exportId: ref.exportId, window: ref.window, location: status.location, itemCount: status.itemCount });
          break;
        }
        await sleep(`${waitSeconds}s`);
        waitSeconds = Math.min(waitSeconds * 2, pollMaximumSeconds);
      }
    }
    if (failed) throw failed;
    if (startFailed !== undefined) throw startFailed;
    return loaded;
  }

  /** A complete export the load cannot use: what is missing, where to look, and how to load the table again. */
  function uncountedExportMessage(ref: TableExportRef, table: string, location: string | undefined): string {
    const what = `DynamoDB export ${ref.exportId} of ${table} (${ref.window.type} to ${ref.window.to})`;
    const rerun = `lakesync rerun ${input.source} --tables ${table}`;
    if (!location) return `${what} completed without an S3 location (DescribeExport gave no ExportManifest or S3Bucket): check export ${ref.exportArn} in the DynamoDB console, then ${rerun}; the table keeps its watermark`;
    return (
      `${what} completed without an item count (DescribeExport gave no ItemCount, and ${location}/manifest-summary.json no itemCount), which the load is verified against: ` +
      `check that manifest summary and export ${ref.exportArn} in the DynamoDB console, then ${rerun}; the table keeps its watermark`
    );
  }

  /** A step of the table that timed out for good: which step, which bound, and what to change. */
  function timeoutError(phase: 'export' | 'load' | 'grant' | 'verify', table: string, timeout: { timeoutType: string; lastFailure?: string }, packTables?: number): TableError {
    const rerun = `rerun the table (lakesync rerun ${input.source} --tables ${table})`;
    const last = timeout.lastFailure ? `; its last attempt failed: ${timeout.lastFailure}` : '';
    const message =
      phase === 'load' && timeout.timeoutType === 'SCHEDULE_TO_CLOSE'
        ? `load of ${table} did not finish within its time bound (${settings.retry.maximumAttempts} attempt(s) of timeouts.loadHours = ${settings.timeouts.loadHours} h${packTables ? ` for each of the ${packTables} tables of its pack, whose whole run it waits for` : ''}, with the backoff between them${queueWait ? `, and up to ${settings.loadQueueSeconds! / 60} min in the job run queue for each run` : ''})${last}; a load that needs longer: raise timeouts.loadHours (at most 48) or retry.maximumAttempts of source ${input.source}, then ${rerun}`
        : timeout.timeoutType === 'HEARTBEAT'
          ? `${phase} of ${table} timed out: its last attempt sent no heartbeat within timeouts.heartbeatSeconds = ${settings.timeouts.heartbeatSeconds} s (its worker stopped or stalled), and no attempt is left${last}; check the workers, then ${rerun}`
          : `${phase} of ${table} timed out (${timeout.timeoutType} timeout) and no attempt is left${last}; ${rerun}`;
    return { phase, message, type: phase === 'load' ? 'LoadTimedOut' : 'TimedOut', retryable: true };
  }

  /** A table's error as its outcome keeps it: its start when long, saying where the whole error is. Asked only of a long error, so other histories record no marker. */
  function keptError(phase: 'export' | 'load' | 'grant' | 'verify', error: TableError): TableError {
    if (error.message.length <= TABLE_ERROR_CHARACTERS || !patched(TABLE_ERROR_CAPPED)) return error;
    const where = phase === 'export' ? 'in the export activities of the table' : `in the failed ${{ load: 'loadTable', grant: 'grantTable', verify: 'verifyTable' }[phase]} activity`;
    return { ...error, message: keptStart(error.message, TABLE_ERROR_CHARACTERS, `the whole error is ${where} of batch workflow ${workflowInfo().workflowId}`) };
  }

  /** The cost of a table's part of this cycle's own RDS export (a reused one cost nothing this cycle); none when its size or the basis is unknown. */
  function ownExportCost(item: LoadItem): TableCost | undefined {
    if (!settings.cost || !settings.costBasis || item.sizeGB === undefined || input.export?.exportId !== exportIdFor(input.source, input.cycleId)) return undefined;
    return tableCost(settings.costBasis, undefined, [{ kind: 'rds', gb: item.sizeGB }], settings.cost);
  }

  /** A table loaded in a run of its own: never left by a pack. */
  async function runAlone(item: LoadItem, spent?: SpentRuns): Promise<TableOutcome> {
    const outcome = await runTable(item, undefined, spent);
    if ('left' in outcome) throw ApplicationFailure.create({ message: `load of ${item.table} in a run of its own answered as left by a pack`, nonRetryable: true });
    return outcome;
  }

  async function runTable(item: LoadItem, pack?: { token: string; runId: string; tables: number; index?: number; answerLeft: boolean; bounded?: boolean }, spent?: SpentRuns): Promise<TableOutcome | { left: LeftByPack['leftByPack'] }> {
    const startedAt = nowIso();
    const direct = item.extract === 'direct';
    const dynamo = item.extract === 'dynamodb';
    const base = { table: item.table, lakeTable: item.lakeTable, action: item.action, ...(item.extract ? { extract: item.extract } : {}), startedAt };
    let cost: TableCost | undefined;
    const fail = (phase: 'export' | 'load' | 'grant' | 'verify', err: unknown, load?: LoadSummary): TableOutcome => {
      const timeout = activityTimeout(err);
      const error = keptError(phase, timeout ? timeoutError(phase, item.table, timeout, phase === 'load' && pack?.bounded ? pack.tables : undefined) : tableError(phase, err));
      // A query answer only: no command, so no patch.
      mark(item.table, { state: 'failed', error: keptStart(error.message, PROGRESS_ERROR_CHARACTERS, `the whole error is in the cycle's outcome of ${item.table}`), finishedAt: nowIso() });
      return { ...base, status: 'failed', error, ...(load ? { load } : {}), ...(cost ? { cost } : {}), finishedAt: nowIso() };
    };

    let tableExports: LoadedTableExport[] | undefined;
    if (dynamo) {
      mark(item.table, { state: 'exporting', startedAt });
      try {
        tableExports = await exportTable(item);
      } catch (err) {
        // The exports that completed before one failed were billed: the table's cost keeps them.
        cost = withUnsizedExports(item.table, exportsCost(exportVolumes.get(item.table), exportBases.get(item.table), settings));
        return fail('export', err);
      }
    }
    const lastExport = tableExports?.at(-1);

    mark(item.table, { state: 'loading', startedAt });
    let load: LoadSummary;
    const volumes = dynamo ? (exportVolumes.get(item.table) ?? []) : undefined;
    try {
      const summary = `${item.action} ${item.table} -> ${settings.namespace}.${item.lakeTable}${pack ? ` (pack ${pack.token})` : ''}`;
      // A pack's table that its run left comes back as such (loadPackedTable), when the patch allows.
      const activity = pack?.answerLeft ? loadPackedTable : loadTable;
      const answer: LoadTableResult | LeftByPack = await activity.executeWithOptions({ ...(pack?.bounded ? packedLoadOptions(pack.tables) : loadOptions), summary }, [{
        source: input.source,
        cycleId: input.cycleId,
        planRef: input.planRef,
        table: item.table,
        // A direct load reads the source: it has no export lineage. An export load without it is refused by the activity.
        // A DynamoDB load's lineage is its last export and the export time it reaches.
        ...(tableExports && lastExport ? { tableExports, exportId: lastExport.exportId, snapshotTime: lastExport.window.to } : {}),
        ...(!direct && !dynamo && input.export ? { exportId: input.export.exportId, exportLocation: input.export.location } : {}),
        ...(!direct && !dynamo && input.snapshotTime ? { snapshotTime: input.snapshotTime } : {}),
        database: settings.database,
        namespace: settings.namespace,
        maxFailures: settings.retry.maximumAttempts,
        // Its place in the pack cuts its even share of a run that wrote no summary, so that the shares add up to the run.
        ...(pack ? { pack: { token: pack.token, runId: pack.runId, tables: pack.tables, ...(pack.index !== undefined ? { index: pack.index } : {}) } } : {}),
        ...(spent ? { spent } : {}),
      }]);
      if ('leftByPack' in answer) return { left: answer.leftByPack };
      const result = answer;
      load = summarise(result);
      if (result.extract === 'direct' && result.startedAt && patched(DIRECT_LOAD_STARTED_AT)) load = { ...load, startedAt: result.startedAt };
      // A figure the load could not read (its size in the export) was billed all the same: the cost is short, and says why.
      cost = usageCost(result.usage, volumes, settings, result.usage?.partial !== undefined && patched(LOADED_COST_PARTIAL));
      if (dynamo) cost = withUnsizedExports(item.table, cost);
    } catch (err) {
      // Its runs were billed and its export taken all the same; a load that reported no usage (it timed out) still took its DynamoDB exports.
      if (patched(FAILED_LOAD_COST)) {
        // A load cancelled with its cycle hands over what it used too (its export was billed).
        const usage = failedLoadUsage(err) ?? (isCancellation(err) && patched(CANCELLED_LOAD_COST) ? cancelledLoadUsage(err) : undefined);
        // A run it stopped that did not end in time (or could not be read or stopped) was billed all the same: the load says so.
        const keepPartial = usage?.partial !== undefined && patched(STOPPED_RUN_COST_PARTIAL);
        cost = usageCost(usage, volumes, settings, keepPartial) ?? exportsCost(volumes, exportBases.get(item.table), settings);
        // A load that reported no usage (it timed out) read the cycle's own RDS export all the same: its GB were billed.
        if (!cost && !usage && !dynamo && !direct && patched(UNREPORTED_LOAD_EXPORT_COST)) cost = ownExportCost(item);
        // Its runs were billed, but the load that would have reported them ran out of time: the figure is short, and says so.
        const timeout = activityTimeout(err);
        // Whose figures they are: its exports', else the source's (the embedded mode bills nothing).
        const basis = cost?.basis ?? settings.costBasis;
        if (timeout && !usage && settings.cost && basis && basis !== 'none' && patched(TIMED_OUT_LOAD_COST_PARTIAL)) {
          const why = `the load timed out (${timeout.timeoutType} timeout) without reporting its runs: their DPU-seconds are left out (see the runs with run token ${runTokenFor(input.cycleId, item.table)} in the load job)`;
          // The cycle's own RDS export was billed for the table too, but the plan holds no size for it.
          const unsized = !dynamo && !direct && item.sizeGB === undefined && input.export?.exportId === exportIdFor(input.source, input.cycleId) && cost?.exportGB === undefined;
          const gb = unsized && patched(TIMED_OUT_LOAD_UNSIZED_EXPORT) ? `; ${item.table} has no size in export ${input.export!.exportId}: its export GB are left out too (see the export's table sizes in the RDS console)` : '';
          cost = { ...(cost ?? { basis }), partial: why + gb };
        }
        if (dynamo) cost = withUnsizedExports(item.table, cost);
      }
      return fail('load', err);
    }
    // The export time the table reached (the ledger's watermark) and how many exports it took.
    if (tableExports && lastExport) load = { ...load, extract: 'dynamodb', dynamodb: dynamoExports(tableExports) };
    if (settings.grants) {
      mark(item.table, { state: 'granting' });
      try {
        await grantTable.executeWithOptions({ ...shortOptions, summary: `grant ${settings.namespace}.${item.lakeTable}` }, [input.source, item.lakeTable]);
      } catch (err) {
        return fail('grant', err, load);
      }
    }
    if (settings.verify) {
      mark(item.table, { state: 'verifying' });
      try {
        await verifyTable.executeWithOptions({ ...verifyOptions, summary: `verify ${settings.namespace}.${item.lakeTable} (${load.rowCountAfter} rows)` }, [
          // The export, so verification counts the rows of its files instead of taking the job's count;
          // a direct load has none: the rows the lake gained are held against its window.
          {
            source: input.source,
            table: item.table,
            lakeTable: item.lakeTable,
            action: item.action,
            ...(direct ? { extract: 'direct' as const } : tableExports ? { extract: 'dynamodb' as const, tableExports } : input.export ? { export: input.export } : {}),
            load,
          },
        ]);
      } catch (err) {
        return fail('verify', err, load);
      }
    }
    mark(item.table, { state: 'committed', finishedAt: nowIso(), rowsRead: load.rowsRead });
    return { ...base, status: 'committed', load, verified: settings.verify, ...(cost ? { cost } : {}), finishedAt: nowIso() };
  }

  /**
   * A pack: one run started for its tables, then each table's own load (waiting for that run),
   * grant and verify. A pack that was not started (refused, or a lake table busy) leaves its tables
   * to run alone, one after another, in the lane the pack had.
   */
  async function runPack(unit: Extract<LoadUnit, { kind: 'pack' }>): Promise<TableOutcome[]> {
    const request = {
      source: input.source,
      cycleId: input.cycleId,
      planRef: input.planRef,
      packToken: unit.token,
      tables: unit.items.map((i) => i.table),
      ...(input.export ? { exportId: input.export.exportId, exportLocation: input.export.location } : {}),
      ...(input.snapshotTime ? { snapshotTime: input.snapshotTime } : {}),
      database: settings.database,
      namespace: settings.namespace,
    };
    // A cancelled batch waits for the start to end, so that the run it may have made is stopped.
    const stopsOnCancel = patched(PACK_START_STOPS_ON_CANCEL);
    const startOptions = { ...packStartOptions, ...(stopsOnCancel ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {}) };
    let runId: string | undefined;
    try {
      ({ runId } = await startPackLoad.executeWithOptions({ ...startOptions, summary: `pack ${unit.token}: ${unit.items.length} tables in one run` }, [request]));
    } catch {
      // Refused, or a lake table busy: the tables run alone (below).
    }
    // Cancelled while it started: no table's load waits for the run (none is scheduled), so nothing else stops it.
    if (stopsOnCancel && CancellationScope.current().consideredCancelled) await stopCancelledPack(request, runId);
    if (runId === undefined) return runPool(unit.items, 1, (item) => runAlone(item));
    const pack = { token: unit.token, runId, tables: unit.items.length, answerLeft: patched(PACK_LEFT_TABLES_IN_LANE), bounded: patched(PACK_LOADS_BOUNDED_BY_PACK) };
    const answers = await Promise.all(unit.items.map((item, index) => runTable(item, { ...pack, index })));
    // Loads cancelled before a worker took them cannot stop the run: it would go on loading the cancelled cycle's tables.
    if (CancellationScope.current().consideredCancelled && patched(PACK_LOADS_CANCELLED_STOP_RUN)) await stopCancelledPack(request, runId);
    const outcomes: TableOutcome[] = [];
    const left: { item: LoadItem; spent: SpentRuns | undefined }[] = [];
    answers.forEach((a, i) => ('left' in a ? left.push({ item: unit.items[i]!, spent: a.left.spent }) : outcomes.push(a)));
    // The tables its run left (it died or timed out first) each run alone, one after another in the
    // pack's lane, as when it never started: the concurrency holds, and no attempt of theirs was spent.
    return [...outcomes, ...(await runPool(left, 1, ({ item, spent }) => runAlone(item, spent)))];
  }

  /** Stops the run of a pack whose batch was cancelled; a stop that fails leaves it to the next load of its tables. */
  async function stopCancelledPack(request: Parameters<typeof stopPackLoad>[0], runId: string | undefined): Promise<void> {
    try {
      await CancellationScope.nonCancellable(() => stopPackLoad.executeWithOptions({ ...shortOptions, summary: `stop pack ${request.packToken}: its cycle was cancelled` }, [{ ...request, ...(runId ? { runId } : {}) }]));
    } catch (err) {
      log.warn('the run of a cancelled pack could not be stopped: the next load of its tables stops it', { packToken: request.packToken, error: String(err) });
    }
  }

  // Packs only where the settings ask for them and the batch has one to form (other batches record no marker).
  // A batch the rounding changes nothing for records no marker.
  const rounded = loadUnits(input.cycleId, input.items, settings.packing);
  const unrounded = loadUnits(input.cycleId, input.items, settings.packing, false);
  const packed = sameUnits(rounded, unrounded) || patched(PACK_GB_ROUNDED_SUMS) ? rounded : unrounded;
  const units = packed.some((u) => u.kind === 'pack') && patched(PACKED_LOADS) ? packed : loadUnits(input.cycleId, input.items, undefined);
  const done = await runPool(units, settings.concurrency, async (unit): Promise<TableOutcome[]> => (unit.kind === 'pack' ? runPack(unit) : [await runAlone(unit.item)]));
  // The outcomes in the order of the items, whatever the units.
  const byTable = new Map(done.flat().map((o) => [o.table, o]));
  const outcomes = input.items.map((i) => byTable.get(i.table)!);
  const limit = input.payloadInlineBytes;
  // Up to batchSize (500) outcomes would pass what one payload should hold: they go by reference, as the cycle's do.
  if (limit === undefined || jsonBytes(outcomes) <= limit || !patched(BATCH_OUTCOMES_BY_REFERENCE)) return outcomes;
  const batch = workflowInfo().workflowId.split('/').at(-1) ?? 'batch';
  const store = () => storeText(input.source, `${input.cycleId}/${batch}/outcomes`, JSON.stringify(outcomes), limit);
  // A cancelled batch hands over what its tables did all the same (its committed tables keep their commit).
  const tablesRef = CancellationScope.current().consideredCancelled ? await CancellationScope.nonCancellable(store) : await store();
  return { tablesRef };
}

/**
 * A table's cost from what its load activity reported: none when the cycle has no prices (started
 * before the cost ledger) or the activity reported no usage (a worker before it).
 */
export function usageCost(usage: LoadUsage | undefined, dynamoVolumes: ExportVolume[] | undefined, settings: CycleSettings, keepPartial = false): TableCost | undefined {
  if (!settings.cost || !usage) return undefined;
  const volumes: ExportVolume[] = dynamoVolumes ?? (usage.exportGB !== undefined ? [{ kind: 'rds', gb: usage.exportGB }] : []);
  const cost = tableCost(usage.basis, usage.dpuSeconds, volumes, settings.cost, usage.executionClass);
  // A run billed all the same whose figures the load could not read: the cost is short, and says why.
  return keepPartial && usage.partial ? { ...cost, partial: usage.partial } : cost;
}

/**
 * The cost of a DynamoDB table's exports alone (no load ran): none when the cycle has no prices,
 * no export completed, or the exports' statuses named no basis (a worker before it).
 */
export function exportsCost(volumes: ExportVolume[] | undefined, basis: CostBasis | undefined, settings: CycleSettings): TableCost | undefined {
  if (!settings.cost || !basis || !volumes || volumes.length === 0) return undefined;
  return tableCost(basis, undefined, volumes, settings.cost);
}

/** What a failed load's runs used, from its final failure's details (absent from workers before them). */
export function failedLoadUsage(err: unknown): LoadUsage | undefined {
  const details = failureDetails(err).find((d): d is LoadFailureDetails => typeof d === 'object' && d !== null && 'usage' in d);
  return details?.usage;
}

/** What a cancelled load's runs used and its export, from its cancellation's details (absent from workers before them). */
export function cancelledLoadUsage(err: unknown): LoadUsage | undefined {
  const details = cancelledDetails(err).find((d): d is LoadFailureDetails => typeof d === 'object' && d !== null && 'usage' in d);
  return details?.usage;
}

/** What a DynamoDB load's summary keeps of its exports: the ledger's watermark is their last `to`. */
function dynamoExports(exports: LoadedTableExport[]): DynamoLoadExports {
  const first = exports[0]!;
  return {
    exportIds: exports.map((e) => e.exportId),
    from: first.window.type === 'FULL' ? null : (first.window.from ?? null),
    to: exports.at(-1)!.window.to,
    records: exports.reduce((n, e) => n + e.itemCount, 0),
  };
}

/** Runs `fn` over `items` with at most `limit` at once; results keep the input order. */
async function runPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

function summarise(r: LoadResult): LoadSummary {
  return {
    action: r.action,
    committed: r.committed,
    rowsRead: r.rowsRead,
    inserted: r.inserted,
    updated: r.updated,
    deleted: r.deleted,
    rowCountAfter: r.rowCountAfter,
    cursorColumn: r.cursorColumn,
    cursorValueAfter: r.cursorValueAfter,
    snapshotId: r.snapshotId,
    schemaHash: r.schemaHash,
    finishedAt: r.finishedAt,
    // Only when the load reported them: outcomes of loads without them stay as they were.
    ...(r.nulledValues && Object.keys(r.nulledValues).length > 0 ? { nulledValues: r.nulledValues } : {}),
    ...(r.clampedValues && Object.keys(r.clampedValues).length > 0 ? { clampedValues: r.clampedValues } : {}),
    ...(r.warnings && r.warnings.length > 0 ? { warnings: r.warnings } : {}),
    ...(r.extract ? { extract: r.extract } : {}),
    ...(r.window ? { window: r.window } : {}),
  };
}
