/** Turns an activity or child failure into the table error the cycle reports. */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';
import type { TableError, TablePhase } from '../model';

export function tableError(phase: TablePhase, err: unknown): TableError {
  const app = applicationFailure(err);
  if (app) return { phase, message: app.message, type: app.type ?? 'Error', retryable: !app.nonRetryable };
  const message = err instanceof Error ? err.message : String(err);
  return { phase, message, type: err instanceof TemporalFailure ? err.name : 'Error', retryable: true };
}

/** The details of the application failure behind `err` (an activity's or a child's); none for other failures. */
export function failureDetails(err: unknown): unknown[] {
  return applicationFailure(err)?.details ?? [];
}

export function errorMessage(err: unknown): string {
  return applicationFailure(err)?.message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * The timeout that ended an activity for good (its retries ran out of time or attempts), with the
 * last attempt's own failure when Temporal kept it; undefined for other failures. Its failure says
 * only "Activity task timed out", naming neither the table nor the timeout.
 */
export function activityTimeout(err: unknown): { timeoutType: string; lastFailure?: string } | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof TimeoutFailure)) return undefined;
  const last = applicationFailure(err.cause.cause);
  return { timeoutType: err.cause.timeoutType ?? 'unknown', ...(last ? { lastFailure: last.message } : {}) };
}

function applicationFailure(err: unknown): ApplicationFailure | undefined {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure) cur = cur.cause;
  return cur instanceof ApplicationFailure ? cur : undefined;
}
