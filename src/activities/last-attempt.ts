/**
 * A retryable failure on an activity's last attempt ends the table's step for good: its message,
 * which the table's error shows, must not promise a retry. It says that no attempt is left and how
 * to run the table again once the cause is fixed.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

/** Runs `fn`; a retryable failure it throws on the activity's last attempt says so, and names `rerun`, the command that runs the table again. */
export async function finalOnLastAttempt<T>(rerun: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw lastAttemptFailure(err, rerun) ?? err;
  }
}

function lastAttemptFailure(err: unknown, rerun: string): ApplicationFailure | undefined {
  if (!(err instanceof ApplicationFailure) || err.nonRetryable) return undefined;
  const info = activityInfo();
  const attempts = info?.retryPolicy?.maximumAttempts;
  if (!info || !attempts || info.attempt < attempts) return undefined;
  const retried = `the step was retried ${attempts - 1} time(s)`;
  const message = `${err.message.replaceAll('the step is retried', retried)}; that was the last of ${attempts} attempts: once the cause is fixed, rerun the table (${rerun})`;
  return ApplicationFailure.create({ message, type: err.type ?? undefined, nonRetryable: false, details: err.details ?? [], ...(err.cause ? { cause: err.cause } : {}) });
}

function activityInfo(): Context['info'] | undefined {
  try {
    return Context.current().info;
  } catch {
    return undefined;
  }
}
