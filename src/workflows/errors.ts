/** Turns an activity or child failure into the table error the cycle reports. */
import { ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';
import type { TableError, TablePhase } from '../model';

export function tableError(phase: TablePhase, err: unknown): TableError {
  const app = applicationFailure(err);
  if (app) return { phase, message: app.message, type: app.type ?? 'Error', retryable: !app.nonRetryable };
  const message = err instanceof Error ? err.message : String(err);
  return { phase, message, type: err instanceof TemporalFailure ? err.name : 'Error', retryable: true };
}

/** The details of the cancellation behind `err` (an activity's that was cancelled); none for other failures. */
export function cancelledDetails(err: unknown): unknown[] {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure) cur = cur.cause;
  return cur instanceof CancelledFailure ? [...(cur.details ?? [])] : [];
}

/** The details of the application failure behind `err` (an activity's or a child's); none for other failures. */
export function failureDetails(err: unknown): unknown[] {
  return applicationFailure(err)?.details ?? [];
}

/** The type of the application failure behind `err` (an activity's or a child's); undefined for other failures. */
export function failureType(err: unknown): string | undefined {
  return applicationFailure(err)?.type ?? undefined;
}

export function errorMessage(err: unknown): string {
  const timeout = activityTimeout(err);
  if (timeout) return `activity ${timeout.activityType} timed out (${timeout.timeoutType} timeout) and no attempt is left${timeout.lastFailure ? `; its last attempt failed: ${timeout.lastFailure}` : ''}`;
  return applicationFailure(err)?.message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * The timeout that ended an activity for good (its retries ran out of time or attempts), with the
 * last attempt's own failure when Temporal kept it (the SDK decodes the timeout without it: it is
 * read from the failure as it came); undefined for other failures. The activity's failure says only
 * "Activity task timed out", naming neither the step nor the timeout.
 */
export function activityTimeout(err: unknown): { activityType: string; timeoutType: string; lastFailure?: string } | undefined {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure) {
    if (cur instanceof ActivityFailure && cur.cause instanceof TimeoutFailure) {
      const timeout = cur.cause;
      const last = timeout.cause ? errorMessage(timeout.cause) : (timeout.failure?.cause?.message ?? undefined);
      return { activityType: cur.activityType, timeoutType: timeout.timeoutType ?? 'unknown', ...(last ? { lastFailure: last } : {}) };
    }
    cur = cur.cause;
  }
  return undefined;
}

function applicationFailure(err: unknown): ApplicationFailure | undefined {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure) cur = cur.cause;
  return cur instanceof ApplicationFailure ? cur : undefined;
}
