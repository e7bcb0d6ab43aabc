/**
 * Waiting for the cycle that served a request: the source's `status` query lists each recent
 * cycle with the request ids it served; the cycle workflow's own result is the CycleResult.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CycleResult } from '../model';
import type { CycleSummary, SourceStatus } from '../workflows/messages';
import { type Connected, sourceStatusSummary, withQueryDeadline } from './context';
import { withCycleTables } from '../status-pages';
import { RuntimeFailure, UsageError } from './errors';

export interface WaitOptions {
  pollMs?: number;
  /** Called with every status read while waiting (progress output). */
  onStatus?(status: SourceStatus): void;
}

export async function waitForRequest(conn: Connected, source: string, requestId: string, options: WaitOptions = {}): Promise<CycleSummary> {
  const pollMs = options.pollMs ?? 500;
  for (;;) {
    // Each poll reads only the summary: a large source's paged parts are not needed to find the cycle.
    const status = await sourceStatusSummary(conn, source);
    if (!status) throw new RuntimeFailure(`the source workflow of ${source} stopped before request ${requestId} was served`);
    options.onStatus?.(status);
    // A rerun split by export is served by its last part.
    const served = status.recentCycles.find((c) => c.requestIds.includes(requestId));
    if (served && (!served.part || served.part.index === served.part.of)) return served;
    // A signal cannot be refused: a request the workflow dropped is listed with why (a repeat's first copy still runs).
    // Requests dropped again for the same reason are kept as one entry, which lists the earlier ids.
    const dropped = status.ignoredRequests.find((r) => (r.requestId === requestId || r.earlierRequestIds?.includes(requestId)) && !r.repeat);
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
