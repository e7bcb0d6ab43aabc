/**
 * Waiting for the cycle that served a request: the source's `status` query lists each recent
 * cycle with the request ids it served; the cycle workflow's own result is the CycleResult.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CycleResult } from '../model';
import { reservedRequestIdProblem } from '../workflows/ledger';
import type { CycleSummary } from '../workflows/messages';
import { sourceWorkflowId } from '../ids';
import { type Connected, sourceRequestStanding, sourceStatusSummary, withQueryDeadline } from './context';
import { withCycleTables } from '../status-pages';
import { RuntimeFailure, UsageError } from './errors';

/**
 * What a waiter is told at each poll: the running cycle, how many requests wait, whether the
 * running cycle serves the request (`serving`), and how many queued requests are ahead of it
 * (`ahead`, when it is queued; unknown when a large queue's requests were not read).
 */
export interface WaitProgress {
  currentCycle?: { cycleId: string; kind: 'sync' | 'rerun' };
  queued: number;
  serving?: boolean;
  ahead?: number;
}

export interface WaitOptions {
  pollMs?: number;
  /** Called at every poll while waiting (progress output). */
  onStatus?(progress: WaitProgress): void;
  /**
   * The id is the one the source gave a request sent without one (r1, r2...: the answer of a
   * `sync` or `rerun` update). Otherwise the caller chose it, and a request it sent with an id of
   * that form was dropped: the source's own request of that id is not the caller's.
   */
  givenBySource?: boolean;
  /**
   * The source workflow accepted the request (an update's answer): it was queued before the answer
   * came, so a first poll that finds it nowhere finds it lost, as a later poll would.
   */
  accepted?: boolean;
  /**
   * The run of the source workflow the request was signalled to (signal-with-start, or a worker
   * without the update). A poll may come before the signal is handled, so a request not yet seen
   * is not lost while that run, or one it continued as, runs; once the source runs afresh (started
   * again without its state) and the request is nowhere, it was lost.
   */
  signaledRunId?: string;
}

export async function waitForRequest(conn: Connected, source: string, requestId: string, options: WaitOptions = {}): Promise<CycleSummary> {
  const pollMs = options.pollMs ?? 500;
  // The source answers where one request stands in one small query; a worker from before that query is asked for its status.
  let asksRequest = true;
  const seen: Seen = options.accepted ? { as: 'accepted' } : {};
  for (;;) {
    const found = asksRequest ? await requestFound(conn, source, requestId, options, seen) : await statusFound(conn, source, requestId, options);
    if (found === null) {
      asksRequest = false;
      continue;
    }
    if (found) return found;
    await delay(pollMs);
  }
}

/** Where a waiter last found its request: queued, run by the running cycle, or served in part. */
interface Seen {
  as?: string;
}

/**
 * The cycle that served the request (its last part), from the `request` query; undefined while it waits; null when the worker does not know the query.
 * A request once found is never out of sight until served or dropped (taken from the queue, it is the running cycle's in the same step): one
 * found nowhere later was lost (the source workflow started again without its state), and waiting longer would wait for ever.
 */
async function requestFound(conn: Connected, source: string, requestId: string, options: WaitOptions, seen: Seen): Promise<CycleSummary | null | undefined> {
  const standing = await sourceRequestStanding(conn, source, requestId);
  if (standing === undefined) throw stopped(source, requestId);
  if (standing === null) return null;
  options.onStatus?.({
    ...(standing.currentCycle ? { currentCycle: standing.currentCycle } : {}),
    queued: standing.queued,
    ...(standing.running ? { serving: true } : {}),
    ...(standing.queuedAt !== undefined ? { ahead: standing.queuedAt } : {}),
  });
  refuseReserved(source, requestId, options);
  const served = standing.servedBy[0];
  if (served && (!served.part || served.part.index === served.part.of)) return served;
  if (standing.dropped) throw droppedFailure(source, requestId, standing.dropped.reason);
  const now = standing.queuedAt !== undefined ? 'queued' : standing.running ? `run by cycle ${standing.currentCycle?.cycleId}` : served ? `served in part by cycle ${served.cycleId}` : undefined;
  if (now === undefined && seen.as === undefined && options.signaledRunId && (await runsAfresh(conn, source, options.signaledRunId))) {
    seen.as = `signalled to run ${options.signaledRunId}, which the run going on now does not continue`;
  }
  if (now === undefined && seen.as !== undefined) {
    throw new RuntimeFailure(
      `the source workflow of ${source} no longer knows request ${requestId}: it was ${seen.as}, and is now neither queued, running, served by one of its recent cycles nor dropped ` +
        `(the source workflow was started again without its state, or more cycles than it keeps ran since); see what ran with: lakesync status ${source}, and send the request again if it is still needed`,
    );
  }
  seen.as = now ?? seen.as;
  return undefined;
}

/**
 * Whether the source workflow now runs a chain of runs other than the one `runId` belongs to (runs
 * continued as new share their first run): it was started again, and took nothing of that run's
 * queue but what a cancelled run stored. False when the server does not say, or no longer knows the run.
 */
async function runsAfresh({ client }: Connected, source: string, runId: string): Promise<boolean> {
  const { WorkflowNotFoundError } = await import('@temporalio/client');
  const firstRun = async (id?: string) => {
    try {
      return (await client.workflow.getHandle(sourceWorkflowId(source), id).describe()).raw.workflowExecutionInfo?.firstRunId || undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  const [signaled, current] = await Promise.all([firstRun(runId), firstRun()]);
  return signaled !== undefined && current !== undefined && signaled !== current;
}

/** The cycle that served the request (its last part), from the source's status; undefined while it waits. */
async function statusFound(conn: Connected, source: string, requestId: string, options: WaitOptions): Promise<CycleSummary | undefined> {
  // Each poll reads only the summary: a large source's paged parts are not needed to find the cycle,
  // except the recent cycles' request ids when they were paged (many long ids).
  const status = await sourceStatusSummary(conn, source, { requestIds: true });
  if (!status) throw stopped(source, requestId);
  const queuedAt = status.queue.findIndex((q) => q.requestId === requestId);
  options.onStatus?.({ ...(status.currentCycle ? { currentCycle: status.currentCycle } : {}), queued: status.queued ?? status.queue.length, ...(queuedAt >= 0 ? { ahead: queuedAt } : {}) });
  refuseReserved(source, requestId, options);
  // A rerun split by export is served by its last part.
  const served = status.recentCycles.find((c) => c.requestIds.includes(requestId));
  if (served && (!served.part || served.part.index === served.part.of)) return served;
  // A signal cannot be refused: a request the workflow dropped is listed with why (a repeat's first copy still runs,
  // as does the request that first had an id another request reused). Requests dropped again for the same reason
  // are kept as one entry, which lists the earlier ids.
  // One queued under the id is its answer, not a drop of another signal under it.
  const dropped = queuedAt >= 0 ? undefined : status.ignoredRequests.find((r) => (r.requestId === requestId || r.earlierRequestIds?.includes(requestId)) && !r.repeat && !r.reusedId);
  if (dropped) throw droppedFailure(source, requestId, dropped.reason);
  return undefined;
}

function stopped(source: string, requestId: string): RuntimeFailure {
  return new RuntimeFailure(`the source workflow of ${source} stopped before request ${requestId} was served`);
}

/**
 * A request the caller sent with an id of the form r<number> was dropped (kept without the id,
 * which names the source's own request): the source's cycle for its own r1 did not serve it.
 */
function refuseReserved(source: string, requestId: string, options: WaitOptions): void {
  const reserved = options.givenBySource ? undefined : reservedRequestIdProblem({ requestId });
  if (reserved) throw new UsageError(`the source workflow of ${source} dropped request ${requestId}: ${reserved}`);
}

/** Refused for what it asks (or the config), as an update is refused: nothing was done (exit 2). */
function droppedFailure(source: string, requestId: string, reason: string): UsageError {
  return new UsageError(`the source workflow of ${source} dropped request ${requestId}: ${reason}`);
}

/** The full result of a finished cycle; rebuilt from its summary if the cycle workflow itself failed. */
export async function cycleResult(conn: Connected, source: string, summary: CycleSummary): Promise<CycleResult> {
  try {
    // A large cycle's outcomes are read from it in pages.
    return await withQueryDeadline(conn.client, `result of ${summary.workflowId}`, conn.target, async () => {
      const handle = conn.client.workflow.getHandle(summary.workflowId);
      return withCycleTables(handle, (await handle.result()) as CycleResult);
    });
  } catch {
    return {
      cycleId: summary.cycleId,
      source,
      status: summary.status,
      ...(summary.error ? { error: summary.error } : {}),
      tables: [],
      warnings: [`the result of cycle workflow ${summary.workflowId} could not be read; the source workflow recorded this summary`],
      startedAt: summary.startedAt,
      finishedAt: summary.finishedAt,
    };
  }
}

export function newRequestId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
