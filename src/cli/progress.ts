/**
 * Reads a source's live state for `status`: the source workflow's status, the running cycle's
 * progress, each started batch's per-table progress, and the Glue (or local) run state from
 * the load activities' heartbeat details.
 */
import type { SourceStatus } from '../workflows/messages';
import { type BatchTableProgress, type CycleProgress, batchProgressQuery, cycleProgressQuery } from '../workflows/messages';
import { sourceWorkflowId } from '../ids';
import { type Connected, sourceStatus, withQueryDeadline } from './context';

export interface TableRow {
  table: string;
  /** pending, loading, granting, verifying, committed, failed, skipped. */
  state: string;
  action?: string;
  /** The backend run's own state word, e.g. Glue's RUNNING. */
  runState?: string;
  runId?: string;
  /** Rows changed (inserted + updated + deleted) once known. */
  rows?: { inserted: number; updated: number; deleted: number; changesUnknown?: true };
  startedAt?: string;
  elapsedMs?: number;
  error?: string;
}

export interface CycleView {
  cycleId: string;
  workflowId: string;
  kind: 'sync' | 'rerun';
  startedAt: string;
  elapsedMs: number;
  phase: CycleProgress['phase'] | 'starting';
  exportPercent?: number;
  tables: number;
  done: number;
  failed: number;
}

export interface StatusView {
  source: string;
  workflowId: string;
  /** absent: no source workflow runs (never synced, or stopped). */
  phase: 'absent' | 'idle' | 'running';
  cycle?: CycleView;
  tables: TableRow[];
  queued: number;
  status?: SourceStatus;
  /** With phase absent: the source workflow's last run, which ended (terminated, failed, timed out, cancelled). */
  ended?: { status: string; at?: string };
}

/** Progress fields the batch workflow may add; read when present. */
type LiveTable = BatchTableProgress & { finishedAt?: string; rowsRead?: number; runId?: string; runState?: string };

interface LoadHeartbeat {
  table?: string;
  runId?: string;
  state?: string;
  detail?: string;
}

export async function readStatusView(conn: Connected, source: string, now = Date.now()): Promise<StatusView> {
  const workflowId = sourceWorkflowId(source);
  const status = await sourceStatus(conn, source);
  if (!status) {
    const ended = await endedRun(conn, workflowId);
    return { source, workflowId, phase: 'absent', tables: [], queued: 0, ...(ended ? { ended } : {}) };
  }
  const base = { source, workflowId, queued: status.queue.length, status };
  const current = status.currentCycle;
  if (!current) {
    return { ...base, phase: 'idle', tables: lastCycleRows(status) };
  }

  const cycle: CycleView = {
    cycleId: current.cycleId,
    workflowId: current.workflowId,
    kind: current.kind,
    startedAt: current.startedAt,
    elapsedMs: Math.max(0, now - Date.parse(current.startedAt)),
    phase: 'starting',
    tables: 0,
    done: 0,
    failed: 0,
  };
  const progress = await optional(() =>
    withQueryDeadline(conn.client, `progress of ${current.workflowId}`, conn.target, () => conn.client.workflow.getHandle(current.workflowId).query(cycleProgressQuery)),
  );
  const tables: TableRow[] = [];
  if (progress) {
    Object.assign(cycle, {
      phase: progress.phase,
      tables: progress.tables,
      done: progress.done,
      failed: progress.failed,
      ...(progress.exportPercent !== undefined ? { exportPercent: progress.exportPercent } : {}),
    });
    for (const batch of progress.batches) {
      if (batch.state === 'pending') continue;
      tables.push(...(await batchRows(conn, batch.workflowId, batch.state === 'running', now)));
    }
    // The cycle counts a batch's tables when the batch ends; the batches' own progress is fresher.
    cycle.done = Math.max(cycle.done, tables.filter((t) => t.state === 'committed').length);
    cycle.failed = Math.max(cycle.failed, tables.filter((t) => t.state === 'failed').length);
  }
  return { ...base, phase: 'running', cycle, tables };
}

/** The last cycle's tables as status rows. */
export function lastCycleRows(status: Pick<SourceStatus, 'lastCycle'>): TableRow[] {
  return (status.lastCycle?.tables ?? []).map((t) => ({
    table: t.table,
    state: t.status,
    action: t.action,
    ...(t.inserted !== undefined ? { rows: { inserted: t.inserted, updated: t.updated ?? 0, deleted: t.deleted ?? 0 } } : {}),
    // A recovered commit's counts are not known: shown as unknown, as the cycle report does.
    ...(t.inserted === undefined && t.changesUnknown ? { rows: { inserted: 0, updated: 0, deleted: 0, changesUnknown: true as const } } : {}),
    ...(t.error ? { error: t.error.message } : t.reason && t.status !== 'committed' ? { error: t.reason } : {}),
  }));
}

async function batchRows(conn: Connected, workflowId: string, running: boolean, now: number): Promise<TableRow[]> {
  const handle = conn.client.workflow.getHandle(workflowId);
  const live = (await optional(() => withQueryDeadline(conn.client, `progress of ${workflowId}`, conn.target, () => handle.query(batchProgressQuery)))) as LiveTable[] | undefined;
  if (!live) return [];
  const runs = running ? await loadRuns(conn, workflowId, live) : new Map<string, LoadHeartbeat>();
  return live.map((t) => {
    const run = runs.get(t.table);
    const started = t.startedAt ? Date.parse(t.startedAt) : undefined;
    const ended = t.finishedAt ? Date.parse(t.finishedAt) : undefined;
    const active = t.state !== 'committed' && t.state !== 'failed';
    return {
      table: t.table,
      state: t.state,
      ...(run?.detail ?? run?.state ?? t.runState ? { runState: run?.detail ?? run?.state ?? t.runState } : {}),
      ...(run?.runId ?? t.runId ? { runId: run?.runId ?? t.runId } : {}),
      ...(t.startedAt ? { startedAt: t.startedAt } : {}),
      ...(started !== undefined && (active || ended !== undefined) ? { elapsedMs: Math.max(0, (ended ?? now) - started) } : {}),
      ...(t.error ? { error: t.error } : {}),
    };
  });
}

/**
 * Heartbeat details of the batch's running loads, by table (they carry the run id and state).
 * Details that name their table are used as they are. Otherwise the loads are matched to the
 * tables in the order the batch started them: activity ids grow in scheduling order, and the
 * batch starts loads in the order of its tables (same start time: same workflow task). The
 * match is used only when the counts agree.
 */
async function loadRuns(conn: Connected, workflowId: string, live: LiveTable[]): Promise<Map<string, LoadHeartbeat>> {
  const out = new Map<string, LoadHeartbeat>();
  const { defaultPayloadConverter } = await import('@temporalio/common');
  const description = await optional(() => conn.client.workflow.getHandle(workflowId).describe());
  const unnamed: { order: number; details: LoadHeartbeat }[] = [];
  for (const activity of description?.raw.pendingActivities ?? []) {
    if (activity.activityType?.name !== 'loadTable' && activity.activityType?.name !== 'loadPackedTable') continue;
    const payload = activity.heartbeatDetails?.payloads?.[0];
    const details = payload ? optionalSync(() => defaultPayloadConverter.fromPayload<LoadHeartbeat>(payload)) : undefined;
    if (details?.table) out.set(details.table, details);
    else unnamed.push({ order: Number(activity.activityId), details: details ?? {} });
  }
  const loading = live
    .map((t, index) => ({ t, index }))
    .filter(({ t }) => t.state === 'loading' && !out.has(t.table))
    .sort((a, b) => (a.t.startedAt ?? '').localeCompare(b.t.startedAt ?? '') || a.index - b.index);
  if (unnamed.length === loading.length && unnamed.every((u) => Number.isFinite(u.order))) {
    unnamed.sort((a, b) => a.order - b.order);
    loading.forEach(({ t }, i) => out.set(t.table, unnamed[i]!.details));
  }
  return out;
}

/** Progress is best effort: a cycle that has just started or ended may not answer yet. */
async function optional<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

function optionalSync<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** How the source workflow's last run ended, when one ran and is not running (never ran: undefined). */
async function endedRun(conn: Connected, workflowId: string): Promise<StatusView['ended']> {
  try {
    const d = await conn.client.workflow.getHandle(workflowId).describe();
    if (d.status.name === 'RUNNING') return undefined;
    return { status: d.status.name, ...(d.closeTime ? { at: d.closeTime.toISOString() } : {}) };
  } catch (err) {
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
