/**
 * The source workflow's bookkeeping: the request queue, rerun validation and the watermark
 * ledger. Plain functions over `SourceState`, so they are deterministic by construction and
 * testable without a Temporal server. They run inside the workflow sandbox: no Temporal
 * imports, no I/O, no clock and no randomness here.
 */
import type { CycleResult, TableOutcome, Watermark } from '../model';
import type { CycleSummary, QueuedRequest, RerunAccepted, RerunRequest, SourceState, SyncRequest, TableSummary } from './messages';

/** How many cycle summaries the status keeps, newest first. */
const RECENT_CYCLES = 20;

/** The requests one cycle serves: the first queued request merged with those it absorbed. */
export type CoalescedRequest = QueuedRequest & { requestIds: string[] };

export function initialState(): SourceState {
  return { cycleCount: 0, ledger: {}, failed: {}, queue: [], recentCycles: [], knownTables: [], requestCounter: 0 };
}

/** The caller's request id, or the next one of the source; the counter advances only when it is used. */
function requestIdFor(state: SourceState, given: string | undefined): string {
  return given ?? `r${++state.requestCounter}`;
}

/** Queues a sync (of the named tables, or of every table) and returns what was queued. */
export function enqueueSync(state: SourceState, req: SyncRequest): QueuedRequest {
  const queued: QueuedRequest = {
    kind: 'sync',
    requestId: requestIdFor(state, req.requestId),
    approveDeletes: false,
    ...(req.tables ? { tables: req.tables } : {}),
    ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}),
  };
  state.queue.push(queued);
  return queued;
}

/**
 * Queues a rerun that passed `rerunProblem`. "failed" names every table whose last load
 * failed, sorted, as of now: tables that fail later are not added to it.
 */
export function enqueueRerun(state: SourceState, req: RerunRequest): RerunAccepted {
  const tables = req.tables === 'failed' ? Object.keys(state.failed).sort() : [...new Set(req.tables)];
  const requestId = requestIdFor(state, req.requestId);
  const queuedBehind = state.queue.length;
  state.queue.push({ kind: 'rerun', requestId, tables, approveDeletes: req.approveDeletes ?? false, ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}) });
  return { requestId, tables, queuedBehind };
}

/**
 * Queues a rerun that arrived as a signal. A signal cannot be refused, so an invalid one is
 * dropped: returns why, or undefined once queued. Before the first export there is nothing to
 * reuse (e.g. signal-with-start on a new source), so a rerun of named tables becomes a sync of them.
 */
export function enqueueRerunSignal(state: SourceState, req: RerunRequest): string | undefined {
  if (!state.lastExport && Array.isArray(req.tables) && req.tables.length > 0) {
    state.queue.push({ kind: 'sync', requestId: requestIdFor(state, req.requestId), approveDeletes: false, tables: [...new Set(req.tables)], requestedBy: req.requestedBy ?? 'rerun before any export' });
    return undefined;
  }
  const problem = rerunProblem(state, req);
  if (problem) return problem;
  enqueueRerun(state, req);
  return undefined;
}

/** Why a rerun cannot be accepted, or undefined when it can. */
export function rerunProblem(state: SourceState, req: RerunRequest): string | undefined {
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
export function takeCoalesced(queue: QueuedRequest[]): CoalescedRequest {
  const first = queue.shift()!;
  const group = [first];
  while (queue.length > 0 && queue[0]!.kind === first.kind && queue[0]!.approveDeletes === first.approveDeletes) group.push(queue.shift()!);
  const allTables = group.some((r) => !r.tables);
  const tables = allTables ? undefined : [...new Set(group.flatMap((r) => r.tables ?? []))];
  return { ...first, ...(tables ? { tables } : { tables: undefined }), requestIds: group.map((r) => r.requestId) };
}

/**
 * Books a finished cycle: committed tables advance their watermark, failed ones keep it and
 * note the error, skipped ones change nothing; the export is kept for reruns when the cycle made one.
 */
export function recordCycle(state: SourceState, result: CycleResult, workflowId: string, batch: Pick<CoalescedRequest, 'kind' | 'requestIds'>): void {
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
