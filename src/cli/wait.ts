/**
 * Waiting for the cycle that served a request: the source's `status` query lists each recent
 * cycle with the request ids it served; the cycle workflow's own result is the CycleResult.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CycleResult } from '../model';
import { reservedRequestIdProblem } from '../workflows/ledger';
import type { CycleSummary, SourceStatus } from '../workflows/messages';
import { type Connected, sourceStatusSummary, withQueryDeadline } from './context';
import { withCycleTables } from '../status-pages';
import { RuntimeFailure, UsageError } from './errors';

export interface WaitOptions {
  pollMs?: number;
  /** Called with every status read while waiting (progress output). */
  onStatus?(status: SourceStatus): void;
  /**
   * The id is the one the source gave a request sent without one (r1, r2...: the answer of a
   * `sync` or `rerun` update). Otherwise the caller chose it, and a request it sent with an id of
   * that form was dropped: the source's own request of that id is not the caller's.
   */
  givenBySource?: boolean;
}

export async function waitForRequest(conn: Connected, source: string, requestId: string, options: WaitOptions = {}): Promise<CycleSummary> {
  const pollMs = options.pollMs ?? 500;
  for (;;) {
    // Each poll reads only the summary: a large source's paged parts are not needed to find the cycle,
    // except the recent cycles' request ids when they were paged (many long ids).
    const status = await sourceStatusSummary(conn, source, { requestIds: true });
    if (!status) throw new RuntimeFailure(`the source workflow of ${source} stopped before request ${requestId} was served`);
    options.onStatus?.(status);
    // A request the caller sent with an id of the form r<number> was dropped (kept without the id,
    // which names the source's own request): the source's cycle for its own r1 did not serve it.
    const reserved = options.givenBySource ? undefined : reservedRequestIdProblem({ requestId });
    if (reserved) throw new UsageError(`the source workflow of ${source} dropped request ${requestId}: ${reserved}`);
    // A rerun split by export is served by its last part.
    const served = status.recentCycles.find((c) => c.requestIds.includes(requestId));
    if (served && (!served.part || served.part.index === served.part.of)) return served;
    // A signal cannot be refused: a request the workflow dropped is listed with why (a repeat's first copy still runs,
    // as does the request that first had an id another request reused). Requests dropped again for the same reason
    // are kept as one entry, which lists the earlier ids.
    const dropped = status.ignoredRequests.find((r) => (r.requestId === requestId || r.earlierRequestIds?.includes(requestId)) && !r.repeat && !r.reusedId);
    // Refused for what it asks (or the config), as an update is refused: nothing was done (exit 2).
    if (dropped) throw new UsageError(`the source workflow of ${source} dropped request ${requestId}: ${dropped.reason}`);
    await delay(pollMs);
  }
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
