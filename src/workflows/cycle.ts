/**
 * One sync cycle of a source: snapshot -> export -> discover -> plan -> table batches.
 * A cycle-level failure (snapshot, export, discover) ends the cycle `failed`; a table's failure
 * is that table's outcome only. A rerun reuses the previous cycle's snapshot and export.
 */
import { CancellationScope, executeChild, isCancellation, log, patched, proxyActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ExcludedTable, ExportScopeSummary, PlanItems } from '../activities/cycle';
import { costTotals } from '../cost/ledger';
import { exportSkippedOutcomes } from '../export-skipped';
import { batchWorkflowId, exportIdFor, snapshotIdFor } from '../ids';
import type { CostTotals, CycleResult, CycleSettings, CycleStatus, DiscoverySummary, ExportRef, JsonRef, LoadItem, SnapshotRef, TableName, TableOutcome, TablesRef } from '../model';
import { tableBatchWorkflow } from './batch';
import { evenIfCancelled } from './cancellation';
import { jsonBytes } from '../payload-text';
import { deleteTexts, inlineLimit, pageOf, readText, storeText } from './by-reference';
import { nowIso } from './clock';
import { errorMessage } from './errors';
import { cycleProgressQuery, cycleTablesPageQuery, type CycleProgress, keepExportsSignal, type ReusableExport } from './messages';
import { rdsStartActivity, RECOVERY_ACTIVITY, SETTINGS_ACTIVITY, shortActivity } from './options';
import { cycleSearchAttributes } from './search';

export interface CycleInput {
  source: string;
  cycleId: string;
  kind: 'sync' | 'rerun';
  /** Only these tables; every included table when absent. */
  tables?: TableName[];
  approveDeletes: boolean;
  /**
   * Load even when a lake table holds a newer export than this cycle's (rerun --allow-older-export).
   * Optional only so that cycles started before it existed replay; absent means false.
   */
  allowOlderExport?: boolean;
  /** Replace the tables from the export so new column types apply (rerun --rebuild); absent means false. */
  rebuild?: boolean;
  /** The snapshot and export a rerun reuses. */
  reuse?: ReusableExport;
  /** Snapshots and exports a failed table's rerun needs: retention never deletes them. */
  keep?: { snapshotIds: string[]; exportIds: string[] };
  /** A result larger than this many bytes stores its table outcomes by reference; default 256 KB. */
  payloadInlineBytes?: number;
}

/** Patch: a cycle whose included tables are all read directly (extract: direct) takes no snapshot and no export. */
const DIRECT_EXTRACT = 'direct-extract';
/** Patch: a result too large for a payload stores its table outcomes and carries their reference. */
const RESULT_BY_REFERENCE = 'cycle-result-by-reference';
/** Patch: a batch that ended without a result keeps the tables it committed (they were all failed). */
const BATCH_RECOVERY = 'dead-batch-keeps-committed-tables';
/** Patch: a dead batch's commits whose read back was cancelled with the cycle are read again out of the cancelled scope (they went unrecorded). */
const BATCH_RECOVERY_AFTER_CANCEL = 'recover-dead-batch-again-after-cancel';
/** Patch: a batch that dies after the cycle was cancelled has its commits read back from the lake out of the cancelled scope (its tables were all failed). */
const BATCH_RECOVERY_WHEN_CANCELLED = 'recover-batch-that-died-after-cancel';
/** Patch: a dead batch's outcomes read back from the lake by reference are deleted once read (they stayed for good). */
const DELETE_RECOVERED_PARTS = 'delete-recovered-batch-outcome-parts';
/** Patch: batches run side by side when the concurrency holds more than one batch's loads (they ran one after another, loads capped at batchSize). */
const BATCHES_SHARE_CONCURRENCY = 'batches-share-concurrency';
/** Patch: the export scope's excluded tables and the plan's lists come by reference when too large for a payload (they came inline). */
const PLAN_BY_REFERENCE = 'plan-items-by-reference';
/** Patch: a cycle cancelled during its export cancels the export task (it ran to its end). */
const CANCEL_EXPORT = 'cancel-export-of-cancelled-cycle';
/** Patch: the excluded tables and plan lists stored by reference are deleted once read (they stayed for good). */
const DELETE_READ_LISTS = 'delete-read-lists';
/** Patch: a delete of such a list that fails is logged; the cycle goes on (it failed the cycle). */
const READ_LIST_DELETE_BEST_EFFORT = 'read-list-delete-best-effort';

/** Patch: a dead batch's tables that stay failed keep the cost recovery found for them, their part of the cycle's export (they had none). */
const DEAD_BATCH_EXPORT_COST = 'dead-batch-failed-tables-keep-export-cost';

/** Patch: a cycle that fails as a whole after its own export books the export's GB as a cycle-level cost (it booked none). */
const FAILED_CYCLE_EXPORT_COST = 'failed-cycle-books-its-export-cost';

/** Patch: a cycle cancelled after its own export and before its loads books the export's GB as a cycle-level cost (it booked none). */
const CANCELLED_CYCLE_EXPORT_COST = 'cancelled-cycle-books-its-export-cost';

/** Patch: a failed cycle whose own export's cost is partial says why among its warnings. */
const FAILED_CYCLE_EXPORT_COST_REASON = 'failed-cycle-export-cost-reason';

/** Patch: the export's start records it under the cycle, so that a cycle that dies before its discovery has its export's cost booked (it had none). */
const EXPORT_RECORDED_AT_START = 'export-recorded-at-start';

/** Patch: a failed check of a rerun's reused export fails the cycle in its export phase (it said settings). */
const REUSE_CHECK_IN_EXPORT_PHASE = 'reuse-check-in-export-phase';

/** Patch: discovery hands the tables the export skipped over by reference when they outgrow the inline limit. */
const SKIPPED_BY_REFERENCE = 'skipped-tables-by-reference';
/**
 * Patch: the cycle's snapshot time is the one the available snapshot reports (RDS's SnapshotCreateTime):
 * it was the start's, which for a snapshot adopted while still being created (a retried start) is the
 * retry's time, later than the data the snapshot holds.
 */
const SNAPSHOT_TIME_WHEN_AVAILABLE = 'snapshot-time-when-available';

/** Patch: a rerun whose reused export is gone loads the new export without its delete approval, asked on the one gone (it approved the new export's deletes). */
const GONE_EXPORT_DROPS_APPROVAL = 'gone-export-drops-delete-approval';

class CycleFailure extends Error {
  constructor(readonly phase: string, message: string) {
    super(message);
  }
}

export async function cycleWorkflow(input: CycleInput): Promise<CycleResult> {
  const startedAt = nowIso();
  const progress: CycleProgress = { cycleId: input.cycleId, phase: 'settings', tables: 0, done: 0, failed: 0, batches: [] };
  setHandler(cycleProgressQuery, () => progress);
  const limit = inlineLimit(input.payloadInlineBytes);
  // The outcomes once known, in pages: readers of a result that holds them by reference page here.
  let outcomes: TableOutcome[] = [];
  setHandler(cycleTablesPageQuery, (offset: number) => pageOf(outcomes, offset, limit / 2));
  // Exports a rerun queued at the source while this cycle runs reads: its retention keeps them too.
  const keptLater = new Set<string>();
  setHandler(keepExportsSignal, (req) => {
    for (const id of Array.isArray(req?.exportIds) ? req.exportIds : []) if (typeof id === 'string') keptLater.add(id);
  });

  const { cycleSettings } = proxyActivities<Activities>(SETTINGS_ACTIVITY);
  const settings = await cycleSettings(input.source);
  const acts = proxyActivities<Activities>(shortActivity(settings));
  // Snapshot and export starts wait out RDS's busy refusals (export slots, instance state).
  const starts = proxyActivities<Activities>(rdsStartActivity(settings));
  if (settings.searchAttributes) upsertSearchAttributes(cycleSearchAttributes(input.source, 'running', 0));

  const warnings: string[] = [];
  // A rerun's approval of deletes answers the refusals of the export it reuses: it goes with that export.
  let approveDeletes = input.approveDeletes;
  let scope: ExportScopeSummary | undefined;
  let snapshot: SnapshotRef | undefined;
  let exported: ExportRef | undefined;
  const finish = async (status: CycleStatus, tables: TableOutcome[], error?: { phase: string; message: string }, exportCost?: CostTotals): Promise<CycleResult> => {
    progress.phase = 'done';
    outcomes = tables;
    if (settings.searchAttributes) upsertSearchAttributes(cycleSearchAttributes(input.source, status, tables.filter((t) => t.status === 'failed').length));
    const cost = costTotals(tables.map((t) => t.cost)) ?? exportCost;
    const result: CycleResult = {
      cycleId: input.cycleId,
      source: input.source,
      status,
      ...(snapshot ? { snapshot } : {}),
      ...(exported ? { export: exported } : {}),
      ...(error ? { error } : {}),
      tables,
      warnings,
      startedAt,
      finishedAt: nowIso(),
      searchAttributes: settings.searchAttributes,
      // The sums of the tables' costs: a payload field only, no command.
      ...(cost ? { cost } : {}),
    };
    // Small results stay inline (and so do those of cycles recorded before references existed).
    if (jsonBytes(result) <= limit || !patched(RESULT_BY_REFERENCE)) return result;
    return { ...result, tables: [], tablesRef: await storeOutcomes(input, tables, limit) };
  };

  try {
    // Checking that the reused export still exists is the rerun's export phase: its failure is reported there.
    if (input.reuse && patched(REUSE_CHECK_IN_EXPORT_PHASE)) progress.phase = 'export';
    if (input.reuse && (await acts.exportAvailable(input.source, input.reuse.export))) {
      snapshot = input.reuse.snapshot;
      exported = input.reuse.export;
    } else {
      if (input.reuse) warnings.push(`export ${input.reuse.export.exportId} is gone; taking a new snapshot and export`);
      // Only a cycle with an approval to drop records the patch marker: other histories are unchanged.
      if (input.reuse && approveDeletes && patched(GONE_EXPORT_DROPS_APPROVAL)) {
        approveDeletes = false;
        warnings.push(`the approval of deletes was asked on export ${input.reuse.export.exportId}, which is gone: the new export loads without it (a load it refuses is approved again with rerun --approve-deletes)`);
      }
      // What the export may take is decided before any snapshot: a refused scope leaves no side effect.
      // Guarded so that cycles recorded before the scope existed replay.
      if (patched('export-scope')) {
        progress.phase = 'export';
        scope = patched(PLAN_BY_REFERENCE)
          ? await acts.exportScope(input.source, input.cycleId, input.tables, { payloadInlineBytes: limit })
          : await acts.exportScope(input.source, input.cycleId, input.tables);
        if (scope.excludedRef) scope = { ...scope, excluded: await readOnce<ExcludedTable[]>(input.source, scope.excludedRef) };
        warnings.push(...scope.warnings);
      }
      // Every included table read directly: nothing to export, so no snapshot either.
      if (!(scope?.nothingToExport && patched(DIRECT_EXTRACT))) {
        progress.phase = 'snapshot';
        snapshot = await takeSnapshot(input, settings, acts, starts);
        progress.phase = 'export';
        exported = await runExport(input, settings, snapshot, acts, starts, (p) => (progress.exportPercent = p), scope);
      }
    }
  } catch (err) {
    const phase = err instanceof CycleFailure ? err.phase : progress.phase;
    return finish('failed', [], { phase, message: errorMessage(err) });
  }

  progress.phase = 'discover';
  let discovery;
  let plan;
  try {
    // The tables read directly come from the source's catalog, the others from the export's listing.
    discovery = patched(SKIPPED_BY_REFERENCE)
      ? await acts.discoverTables(input.source, input.cycleId, exported, input.tables, { payloadInlineBytes: limit })
      : await acts.discoverTables(input.source, input.cycleId, exported, input.tables);
    warnings.push(...discovery.warnings);
    progress.phase = 'plan';
    plan = await acts.planCycle(input.source, input.cycleId, discovery, {
      ...(input.tables ? { requested: input.tables } : {}),
      approveDeletes,
      allowOlderExport: input.allowOlderExport ?? false,
      ...(input.rebuild ? { rebuild: true } : {}),
      // The one export time of the cycle: a DynamoDB source exports every table as of it.
      exportTime: wholeSeconds(startedAt),
      ...(patched(PLAN_BY_REFERENCE) ? { payloadInlineBytes: limit } : {}),
    });
    if (plan.itemsRef) plan = { ...plan, ...(await readOnce<PlanItems>(input.source, plan.itemsRef)) };
    // Read once the plan has read them: every skipped table is an outcome of the cycle.
    if (discovery.skippedRef) discovery = { ...discovery, skipped: await readOnce<DiscoverySummary['skipped']>(input.source, discovery.skippedRef) };
    if (plan.load.length > 0) await acts.prepareLake(input.source);
  } catch (err) {
    const phase = progress.phase;
    const exportCost = await failedCycleExportCost(input, settings, exported, err, acts);
    // Only a cycle whose export cost is partial for a reason records the patch marker: other histories are unchanged.
    if (exportCost?.partialReason && patched(FAILED_CYCLE_EXPORT_COST_REASON)) warnings.push(`the cycle's export cost is a lower bound: ${exportCost.partialReason}`);
    return finish('failed', [], { phase, message: errorMessage(err) }, exportCost);
  }

  const skippedByExport = exportSkippedOutcomes(discovery.skipped, input.tables);

  progress.phase = 'load';
  progress.tables = plan.load.length;
  const batches = chunk(plan.load, settings.batchSize);
  progress.batches = batches.map((items, i) => ({ workflowId: batchWorkflowId(workflowInfo().workflowId, i + 1), tables: items.length, state: 'pending' }));
  const runOne = async (items: LoadItem[], i: number): Promise<TableOutcome[]> => {
    const entry = progress.batches[i]!;
    entry.state = 'running';
    const summary = `${input.source}: tables ${i * settings.batchSize + 1}-${i * settings.batchSize + items.length} of ${plan.load.length}`;
    const outcomes = await runBatch(input, settings, plan.planRef, exported, snapshot, items, entry.workflowId, summary);
    entry.state = 'done';
    progress.done += outcomes.filter((o) => o.status === 'committed').length;
    progress.failed += outcomes.filter((o) => o.status === 'failed').length;
    return outcomes;
  };
  // `concurrency` counts loads across the cycle: as many batches run at once as it holds whole
  // (a batch runs at most batchSize loads), so a concurrency above batchSize is not cut to it.
  const atOnce = Math.floor(settings.concurrency / settings.batchSize);
  const loaded: TableOutcome[] = [];
  if (atOnce >= 2 && batches.length > 1 && patched(BATCHES_SHARE_CONCURRENCY)) {
    loaded.push(...(await inLanes(batches, atOnce, runOne)).flat());
  } else {
    for (const [i, items] of batches.entries()) loaded.push(...(await runOne(items, i)));
  }

  const reported = [...loaded, ...plan.notLoaded, ...skippedByExport];
  // Tables the scope left out of the export are outcomes too, not silence.
  const listed = new Set(reported.map((t) => t.table));
  const excluded: TableOutcome[] = (scope?.excluded ?? [])
    .filter((e) => !listed.has(e.table))
    .map((e) => ({ table: e.table, lakeTable: e.lakeTable, action: 'skip', status: 'skipped', reason: `excluded (${e.rule})` }));
  const tables = [...reported, ...excluded];
  // Once every table is committed, granted and verified. Guarded so that cycles recorded before retention existed replay.
  if (patched('retention')) warnings.push(...(await applyRetention(input, snapshot, exported, acts, keptLater)));
  return finish(cycleStatus(tables), tables);
}

/**
 * The cost of the cycle's own RDS export when the cycle failed as a whole after it, or was
 * cancelled then: RDS billed the export, and no table outcome carries its GB. Best effort: unknown
 * sizes book nothing, and the cycle's own error stays the one reported.
 */
async function failedCycleExportCost(input: CycleInput, settings: CycleSettings, exported: ExportRef | undefined, err: unknown, acts: ReturnType<typeof proxyActivities<Activities>>): Promise<CostTotals | undefined> {
  if (!exported || !settings.cost || !settings.costBasis || exported.exportId !== exportIdFor(input.source, input.cycleId)) return undefined;
  // Cancelled: the export completed before the cancel and was billed all the same; its size is read outside the cancelled scope.
  if (isCancellation(err) && !patched(CANCELLED_CYCLE_EXPORT_COST)) return undefined;
  if (!patched(FAILED_CYCLE_EXPORT_COST)) return undefined;
  try {
    return await evenIfCancelled(() => acts.failedCycleExportCost(input.source, input.cycleId, exported));
  } catch (costErr) {
    log.warn("the export's size is unknown: the failed cycle books no export cost", { cycleId: input.cycleId, error: errorMessage(costErr) });
    return undefined;
  }
}

/** How many failed tables a cycle result held by reference names; `counts.failed` says how many failed. */
export const FAILED_TABLES_LISTED = 100;

/** A list an activity stored by reference, read into the cycle; nothing reads its parts again, so they go. */
async function readOnce<T>(source: string, ref: JsonRef): Promise<T> {
  const value = await readText<T>(source, ref);
  if (!patched(DELETE_READ_LISTS)) return value;
  try {
    await deleteTexts(source, [ref]);
  } catch (err) {
    // Best effort, as the source's deletes: parts left behind cost storage only.
    if (isCancellation(err) || !patched(READ_LIST_DELETE_BEST_EFFORT)) throw err;
    log.warn('a list the cycle read was not deleted from the manifest store; its parts stay, costing storage only', { parts: ref.parts, error: errorMessage(err) });
  }
  return value;
}

/** Stores the outcomes by reference, with their counts and failed tables for readers that need no more. */
async function storeOutcomes(input: CycleInput, tables: TableOutcome[], limit: number): Promise<TablesRef> {
  const ref = await storeText(input.source, `${input.cycleId}/outcomes`, JSON.stringify(tables), limit);
  const count = (status: TableOutcome['status']) => tables.filter((t) => t.status === status).length;
  return {
    ...ref,
    count: tables.length,
    counts: { committed: count('committed'), failed: count('failed'), skipped: count('skipped') },
    // The first ones only: thousands of names would make the result as large as the outcomes it stands for.
    failedTables: tables.filter((t) => t.status === 'failed').slice(0, FAILED_TABLES_LISTED).map((t) => t.table),
  };
}

/**
 * Deletes the oldest snapshots and exports lakesync made for the source, never this cycle's nor
 * those a failed table's rerun needs. Retention never fails the cycle: what went wrong is a warning.
 */
async function applyRetention(input: CycleInput, snapshot: SnapshotRef | undefined, exported: ExportRef | undefined, acts: CycleActs, keptLater: ReadonlySet<string>): Promise<string[]> {
  // A cycle that read every table directly has no snapshot or export of its own to keep.
  const started = [...(exported ? [exported.exportId] : []), ...(input.keep?.exportIds ?? [])];
  const keep = {
    snapshotIds: [...(snapshot ? [snapshot.snapshotId] : []), ...(input.keep?.snapshotIds ?? [])],
    // Those the source sent while the cycle ran come after: a cycle that got none asks what it always asked.
    exportIds: [...started, ...[...keptLater].filter((id) => !started.includes(id)).sort()],
  };
  try {
    const outcome = await acts.applyRetention({ source: input.source, cycleId: input.cycleId, keep });
    return outcome.failed.map((f) => `retention: ${f}`);
  } catch (err) {
    return [`retention: old snapshots and exports were not deleted this cycle (the next cycle tries again): ${errorMessage(err)}`];
  }
}

async function runBatch(
  input: CycleInput,
  settings: CycleSettings,
  planRef: string,
  exported: ExportRef | undefined,
  snapshot: SnapshotRef | undefined,
  items: LoadItem[],
  workflowId: string,
  staticSummary: string,
): Promise<TableOutcome[]> {
  try {
    const answer = await executeChild(tableBatchWorkflow, {
      workflowId,
      staticSummary,
      // Without an export (every table read directly) the batch has no lineage to pass on.
      // Outcomes larger than the inline limit come back by reference.
      args: [{ source: input.source, cycleId: input.cycleId, planRef, items, settings, ...(exported && snapshot ? { export: exported, snapshotTime: snapshot.createdAt } : {}), payloadInlineBytes: inlineLimit(input.payloadInlineBytes) }],
    });
    return Array.isArray(answer) ? answer : await storedBatchOutcomes(input.source, workflowId, answer.tablesRef);
  } catch (err) {
    // The batch workflow itself failed (not a table): its tables are failed, the other batches go on.
    const message = `batch ${workflowId} failed: ${errorMessage(err)}`;
    const failed = items.map((i): TableOutcome => ({ table: i.table, lakeTable: i.lakeTable, action: i.action, ...(i.extract ? { extract: i.extract } : {}), status: 'failed', error: { phase: 'load', message, type: 'BatchFailed', retryable: true } }));
    // A cancelled cycle reads its commits back out of the cancelled scope (its activities could not
    // run in it), else they would be recorded failed without their watermarks. Guarded so that
    // cycles recorded before it replay (their batch's tables were all failed).
    if (CancellationScope.current().consideredCancelled) {
      if (!patched(BATCH_RECOVERY_WHEN_CANCELLED)) return failed;
      return CancellationScope.nonCancellable(() => withCommitted(input, items, failed, message));
    }
    if (!patched(BATCH_RECOVERY)) return failed;
    return withCommitted(input, items, failed, message);
  }
}

/**
 * The outcomes a batch stored by reference; nothing reads their parts again, so they go (best
 * effort: parts left behind cost storage only). Read even when the cycle is cancelled: they hold
 * the tables the batch committed. Unreadable, the batch counts as failed (its commits are read back from the lake).
 */
async function storedBatchOutcomes(source: string, workflowId: string, ref: JsonRef): Promise<TableOutcome[]> {
  let outcomes: TableOutcome[];
  try {
    outcomes = await evenIfCancelled(() => readText<TableOutcome[]>(source, ref));
  } catch (err) {
    throw new Error(`its outcomes (${ref.parts.length} part(s) in the manifest store) could not be read: ${errorMessage(err)}`);
  }
  try {
    await evenIfCancelled(() => deleteTexts(source, [ref]));
  } catch (err) {
    log.warn('the outcomes a batch stored were not deleted from the manifest store; their parts stay, costing storage only', { workflowId, parts: ref.parts, error: errorMessage(err) });
  }
  return outcomes;
}

/**
 * The tables a dead batch committed before it ended are in the lake: read back from its lineage,
 * they count as committed once recovery granted and verified them (their watermarks advance, no rerun
 * reloads them); a commit that fails either is failed in that phase; the others stay failed.
 * Best effort: unreadable, every table of the batch stays failed.
 */
async function withCommitted(input: CycleInput, items: LoadItem[], failed: TableOutcome[], message: string): Promise<TableOutcome[]> {
  try {
    const { recoverCycleOutcomes } = proxyActivities<Activities>(RECOVERY_ACTIVITY);
    const limit = inlineLimit(input.payloadInlineBytes);
    // The batch's own tables only: re-granting and re-verifying the other batches' would only take time.
    const recovered = await recoverCycleOutcomes({ source: input.source, cycleId: input.cycleId, error: message, ...(input.reuse ? { reuse: input.reuse } : {}), payloadInlineBytes: limit, tables: items.map((i) => i.table) });
    const tables = recovered.tablesRef ? await readText<TableOutcome[]>(input.source, recovered.tablesRef) : recovered.tables;
    // Nothing reads those parts again (best effort: parts left behind cost storage only).
    if (recovered.tablesRef && patched(DELETE_RECOVERED_PARTS)) {
      try {
        await deleteTexts(input.source, [recovered.tablesRef]);
      } catch (err) {
        log.warn("a dead batch's outcomes read back from the lake were not deleted from the manifest store; their parts stay, costing storage only", { parts: recovered.tablesRef.parts, error: errorMessage(err) });
      }
    }
    // A commit recovery could not grant or verify is failed in that phase, with recovery's error.
    const known = new Map(tables.filter((t) => t.status === 'committed' || t.error?.phase === 'grant' || t.error?.phase === 'verify').map((t) => [t.table, t]));
    // The others stay failed, with the cost recovery found for them: the cycle's export was billed for them too.
    const costs = patched(DEAD_BATCH_EXPORT_COST) ? new Map(tables.flatMap((t) => (t.cost ? [[t.table, t.cost] as const] : []))) : undefined;
    return failed.map((f) => {
      const cost = costs?.get(f.table);
      return known.get(f.table) ?? (cost && !f.cost ? { ...f, cost } : f);
    });
  } catch (err) {
    // Cancelled with the cycle while it read them: read again out of the cancelled scope, else the batch's commits go unrecorded.
    if (isCancellation(err) && CancellationScope.current().consideredCancelled && patched(BATCH_RECOVERY_AFTER_CANCEL)) {
      return CancellationScope.nonCancellable(() => withCommitted(input, items, failed, message));
    }
    return failed;
  }
}

type CycleActs = ReturnType<typeof proxyActivities<Activities>>;

async function takeSnapshot(input: CycleInput, settings: CycleSettings, acts: CycleActs, starts: CycleActs): Promise<SnapshotRef> {
  const key = input.cycleId;
  const snap = await starts.startSnapshot({
    source: input.source,
    snapshotId: snapshotIdFor(input.source, key),
    mode: settings.snapshotMode,
    ...(settings.existingSnapshotId ? { existingSnapshotId: settings.existingSnapshotId } : {}),
  });
  let createdAt: string | undefined;
  await pollUntil(settings, async () => {
    const status = await acts.snapshotStatus(input.source, snap.snapshotId);
    if (status.state === 'failed') throw new CycleFailure('snapshot', `snapshot ${snap.snapshotId} failed: ${status.message ?? 'no reason given'}`);
    createdAt = status.createdAt;
    return status.state === 'available';
  });
  // RDS times a snapshot once it is available: a start that adopted it while it was being created gave the time of that start.
  // Only a cycle whose times differ records the patch marker: other histories are unchanged.
  if (createdAt && createdAt !== snap.createdAt && patched(SNAPSHOT_TIME_WHEN_AVAILABLE)) return { ...snap, createdAt };
  return snap;
}

async function runExport(
  input: CycleInput,
  settings: CycleSettings,
  snapshot: SnapshotRef,
  acts: CycleActs,
  starts: CycleActs,
  onProgress: (p: number) => void,
  scope: ExportScopeSummary | undefined,
): Promise<ExportRef> {
  // With a scope, ExportOnly is exactly its schemas and tables; without one (cycles recorded
  // before it existed), the requested tables as before.
  const only = scope ? (scope.wholeDatabase ? {} : { tables: scope.tables, schemas: scope.schemas }) : input.tables ? { tables: input.tables } : {};
  const exportId = exportIdFor(input.source, input.cycleId);
  let ref: ExportRef;
  try {
    ref = await starts.startExport({ source: input.source, exportId, snapshot, ...only, ...(patched(EXPORT_RECORDED_AT_START) ? { cycleId: input.cycleId } : {}) });
    await pollUntil(settings, async () => {
      const status = await acts.exportStatus(input.source, ref.exportId);
      if (status.percentProgress !== undefined) onProgress(status.percentProgress);
      if (status.state === 'failed' || status.state === 'canceled' || status.state === 'canceling') {
        throw new CycleFailure('export', `export ${ref.exportId} ${status.state}: ${status.failureCause ?? 'no cause given'}`);
      }
      return status.state === 'complete';
    });
  } catch (err) {
    // Cancelled while the start waited out RDS's refusals, the export may have started all the same.
    if (isCancellation(err) && patched(CANCEL_EXPORT)) throw await cancelledExport(input.source, exportId, acts);
    throw err;
  }
  return ref;
}

/**
 * The cycle was cancelled while its export ran: nothing will read the export (its id is this
 * cycle's own), so it is stopped rather than left to run, and billed, to its end.
 */
async function cancelledExport(source: string, exportId: string, acts: CycleActs): Promise<CycleFailure> {
  const what = `the cycle was cancelled during export ${exportId}`;
  try {
    const stopped = await CancellationScope.nonCancellable(() => acts.cancelExport(source, exportId));
    return new CycleFailure('export', stopped ? `${what}; the export task was cancelled` : `${what}; this backend cannot stop an export, so it runs to its end`);
  } catch (err) {
    return new CycleFailure('export', `${what}, and the export task could not be cancelled (${errorMessage(err)}): cancel it in the RDS console (Exports in Amazon S3) or it runs to its end`);
  }
}

/** Polls with workflow timers (no worker slot is held while an export runs for hours). */
async function pollUntil(settings: CycleSettings, done: () => Promise<boolean>): Promise<void> {
  let waitSeconds = settings.timeouts.pollInitialSeconds;
  while (!(await done())) {
    await sleep(`${waitSeconds}s`);
    waitSeconds = Math.min(waitSeconds * 2, settings.timeouts.pollMaximumSeconds);
  }
}

/** An ISO-8601 time cut to whole seconds (DynamoDB export times have no fraction). */
export function wholeSeconds(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

export function cycleStatus(tables: TableOutcome[]): CycleStatus {
  const failed = tables.filter((t) => t.status === 'failed').length;
  const committed = tables.filter((t) => t.status === 'committed').length;
  if (failed === 0) return 'succeeded';
  return committed === 0 ? 'failed' : 'partial';
}

/** Runs `fn` over `items` with at most `limit` at once, in order of the items; results keep their order. */
async function inLanes<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
