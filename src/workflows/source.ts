/**
 * The source workflow `lakesync/<source>`: an entity that owns the watermark ledger,
 * queues sync and rerun requests, and runs one cycle at a time as a child workflow.
 * Requests that arrive during a cycle wait; consecutive requests of the same kind coalesce.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  log,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { cycleKey, cycleWorkflowId } from '../ids';
import type { CycleResult, TableName, TableOutcome, Watermark } from '../model';
import { nowIso } from './clock';
import { cycleWorkflow, type CycleInput } from './cycle';
import { errorMessage } from './errors';
import { cycleSearchAttributes } from './search';
import {
  type CycleSummary,
  type QueuedRequest,
  type RerunAccepted,
  type RerunRequest,
  type SourceState,
  type SourceStatus,
  type SourceWorkflowInput,
  type SyncRequest,
  type TableSummary,
  requestRerunSignal,
  requestSyncSignal,
  rerunUpdate,
  statusQuery,
} from './messages';

const RECENT_CYCLES = 20;
/** Continue as new well before Temporal's limits, even if the server has not suggested it. */
const MAX_HISTORY_EVENTS = 8_000;

export function initialState(): SourceState {
  return { cycleCount: 0, ledger: {}, failed: {}, queue: [], recentCycles: [], knownTables: [], requestCounter: 0 };
}

export async function sourceWorkflow(input: SourceWorkflowInput): Promise<void> {
  const state = input.state ?? initialState();
  let current: SourceStatus['currentCycle'];
  const nextRequestId = () => `r${++state.requestCounter}`;

  if (!input.state && input.syncOnStart !== false) {
    state.queue.push({ kind: 'sync', requestId: nextRequestId(), approveDeletes: false, requestedBy: 'start' });
  }

  setHandler(requestSyncSignal, (req: SyncRequest) => {
    state.queue.push({
      kind: 'sync',
      requestId: req.requestId ?? nextRequestId(),
      approveDeletes: false,
      ...(req.tables ? { tables: req.tables } : {}),
      ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}),
    });
  });

  // A signal cannot be refused, so an invalid rerun signal is logged and dropped. Before the
  // first export (e.g. signal-with-start on a new source) a rerun of named tables becomes a sync of them.
  setHandler(requestRerunSignal, (req: RerunRequest) => {
    if (!state.lastExport && Array.isArray(req.tables) && req.tables.length > 0) {
      state.queue.push({ kind: 'sync', requestId: req.requestId ?? nextRequestId(), approveDeletes: false, tables: [...new Set(req.tables)], requestedBy: req.requestedBy ?? 'rerun before any export' });
      return;
    }
    const problem = rerunProblem(state, req);
    if (problem) {
      log.warn('rerun signal ignored', { problem, request: req });
      return;
    }
    enqueueRerun(req);
  });

  setHandler(rerunUpdate, (req: RerunRequest): RerunAccepted => enqueueRerun(req), {
    validator: (req: RerunRequest) => {
      const problem = rerunProblem(state, req);
      if (problem) throw new Error(problem);
    },
  });

  setHandler(statusQuery, (): SourceStatus => ({
    source: input.source,
    phase: current ? 'running' : 'idle',
    ...(current ? { currentCycle: current } : {}),
    queue: state.queue,
    ...(state.lastCycle ? { lastCycle: state.lastCycle } : {}),
    recentCycles: state.recentCycles,
    failed: state.failed,
    ledger: state.ledger,
    ...(state.lastExport ? { lastExport: state.lastExport } : {}),
  }));

  function enqueueRerun(req: RerunRequest): RerunAccepted {
    const tables = req.tables === 'failed' ? Object.keys(state.failed).sort() : [...new Set(req.tables)];
    const requestId = req.requestId ?? nextRequestId();
    const queuedBehind = state.queue.length;
    state.queue.push({ kind: 'rerun', requestId, tables, approveDeletes: req.approveDeletes ?? false, ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}) });
    return { requestId, tables, queuedBehind };
  }

  for (;;) {
    await condition(() => state.queue.length > 0 || shouldContinueAsNew());
    if (state.queue.length === 0) break;

    const batch = takeCoalesced(state.queue);
    const cycleNumber = ++state.cycleCount;
    const cycleId = cycleKey(cycleNumber, workflowInfo().firstExecutionRunId);
    const workflowId = cycleWorkflowId(input.source, cycleId);
    const cycleInput: CycleInput = {
      source: input.source,
      cycleId,
      kind: batch.kind,
      approveDeletes: batch.approveDeletes,
      ...(batch.tables ? { tables: batch.tables } : {}),
      ...(batch.kind === 'rerun' && state.lastExport ? { reuse: state.lastExport } : {}),
    };
    current = { cycleId, workflowId, kind: batch.kind, ...(batch.tables ? { tables: batch.tables } : {}), startedAt: nowIso() };

    let result: CycleResult;
    try {
      const what = batch.kind === 'rerun' ? `rerun of ${batch.tables?.length ?? 0} table(s)` : batch.tables ? `sync of ${batch.tables.length} table(s)` : 'sync of every table';
      result = await executeChild(cycleWorkflow, { workflowId, args: [cycleInput], staticSummary: `${input.source} cycle ${cycleNumber}: ${what}` });
    } catch (err) {
      result = { cycleId, source: input.source, status: 'failed', error: { phase: 'cycle', message: errorMessage(err) }, tables: [], warnings: [], startedAt: current.startedAt, finishedAt: nowIso() };
    }
    recordCycle(state, result, workflowId, batch);
    current = undefined;
    if (result.searchAttributes) upsertSearchAttributes(cycleSearchAttributes(input.source, result.status, Object.keys(state.failed).length));
    if (shouldContinueAsNew()) break;
  }

  await condition(allHandlersFinished);
  await continueAsNew<typeof sourceWorkflow>({ source: input.source, syncOnStart: false, state });
}

function shouldContinueAsNew(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS;
}

function rerunProblem(state: SourceState, req: RerunRequest): string | undefined {
  if (!state.lastExport) return 'there is no export to rerun from yet: run a sync first';
  if (req.tables === 'failed') {
    return Object.keys(state.failed).length === 0 ? 'no table has failed: nothing to rerun' : undefined;
  }
  if (!Array.isArray(req.tables) || req.tables.length === 0) return 'name the tables to rerun (schema.table), or "failed"';
  const known = new Set(state.knownTables);
  const unknown = req.tables.filter((t) => !known.has(t));
  if (unknown.length > 0) return `unknown table(s) ${unknown.join(', ')}: the source's tables are ${state.knownTables.slice(0, 20).join(', ')}${state.knownTables.length > 20 ? ', ...' : ''}`;
  return undefined;
}

/**
 * Takes the first queued request and every request right behind it of the same kind and
 * approval, merged into one: a sync of all tables absorbs table-limited syncs.
 */
export function takeCoalesced(queue: QueuedRequest[]): QueuedRequest & { requestIds: string[] } {
  const first = queue.shift()!;
  const group = [first];
  while (queue.length > 0 && queue[0]!.kind === first.kind && queue[0]!.approveDeletes === first.approveDeletes) group.push(queue.shift()!);
  const allTables = group.some((r) => !r.tables);
  const tables = allTables ? undefined : [...new Set(group.flatMap((r) => r.tables ?? []))];
  return { ...first, ...(tables ? { tables } : { tables: undefined }), requestIds: group.map((r) => r.requestId) };
}

function recordCycle(state: SourceState, result: CycleResult, workflowId: string, batch: { kind: 'sync' | 'rerun'; requestIds: string[] }): void {
  if (result.snapshot && result.export) state.lastExport = { cycleId: result.cycleId, snapshot: result.snapshot, export: result.export };
  const known = new Set(state.knownTables);
  for (const t of result.tables) known.add(t.table);
  state.knownTables = [...known].sort();

  for (const t of result.tables) {
    if (t.status === 'committed' && t.load) {
      state.ledger[t.table] = watermark(result, t);
      delete state.failed[t.table];
    } else if (t.status === 'failed' && t.error) {
      state.failed[t.table] = { cycleId: result.cycleId, phase: t.error.phase, message: t.error.message };
      const previous = state.ledger[t.table];
      if (previous) state.ledger[t.table] = { ...previous, lastError: t.error.message };
    }
  }

  const summary: CycleSummary = {
    cycleId: result.cycleId,
    workflowId,
    kind: batch.kind,
    status: result.status,
    requestIds: batch.requestIds,
    ...(result.export ? { exportId: result.export.exportId } : {}),
    ...(result.error ? { error: result.error } : {}),
    counts: {
      committed: result.tables.filter((t) => t.status === 'committed').length,
      failed: result.tables.filter((t) => t.status === 'failed').length,
      skipped: result.tables.filter((t) => t.status === 'skipped').length,
    },
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  };
  state.lastCycle = { ...summary, tables: result.tables.map(tableSummary) };
  state.recentCycles = [summary, ...state.recentCycles].slice(0, RECENT_CYCLES);
}

function watermark(result: CycleResult, t: TableOutcome): Watermark {
  const load = t.load!;
  return {
    exportId: result.export?.exportId ?? '',
    snapshotTime: result.snapshot?.createdAt ?? '',
    action: load.action,
    cursorColumn: load.cursorColumn,
    cursorValue: load.cursorValueAfter,
    icebergSnapshotId: load.snapshotId,
    rowCount: load.rowCountAfter,
    schemaHash: load.schemaHash,
    loadedAt: load.finishedAt,
    lastError: null,
  };
}

function tableSummary(t: TableOutcome): TableSummary {
  return {
    table: t.table,
    lakeTable: t.lakeTable,
    status: t.status,
    action: t.load?.action ?? t.action,
    ...(t.error ? { error: t.error } : {}),
    ...(t.reason ? { reason: t.reason } : {}),
    ...(t.load ? { inserted: t.load.inserted, updated: t.load.updated, deleted: t.load.deleted } : {}),
    ...(t.verified !== undefined ? { verified: t.verified } : {}),
  };
}

export type { TableName };
