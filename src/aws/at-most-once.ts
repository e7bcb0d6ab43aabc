/**
 * Calls that must reach AWS at most once. Glue StartJobRun takes no idempotency token: every call
 * that reaches Glue starts a run. The SDK retries a call whose answer it did not get (a connection
 * reset, a timeout, a 5xx) by sending it again, and when Glue had acted on the first one, the load
 * has two runs MERGE-ing into one lake table. With `sentAtMostOnce`, the SDK sends the call again
 * only after an answer that shows AWS refused it (a 4xx such as throttling); after any other
 * failure the call fails as transient, without a second request, and the load's next attempt finds
 * the run the first request may have started by its run token (GetJobRuns) and attaches to it.
 */
import { PortError } from '../errors';

type Handler = (args: unknown) => Promise<unknown>;

interface StackOwner {
  middlewareStack: { add(middleware: never, options: { step: 'finalizeRequest'; priority: 'low'; name: string }): void };
}

export function sentAtMostOnce<C extends StackOwner>(command: C, call: { service: string; operation: string; subject: string }): C {
  let sent = 0;
  let lastError: unknown;
  // Inside the SDK's retry loop (finalizeRequest, below its retry middleware): runs once per attempt.
  const middleware = (next: Handler) => async (args: unknown) => {
    if (sent > 0 && !refusedByAws(lastError)) {
      throw new PortError(
        'transient',
        'AnswerLost',
        `${call.service} ${call.operation} for ${call.subject}: the answer to the request was lost (${describe(lastError)}), so AWS may have carried it out; it is not sent again, and the next attempt looks for what the first request did before it starts anything`,
      );
    }
    sent++;
    try {
      return await next(args);
    } catch (err) {
      lastError = err;
      throw err;
    }
  };
  command.middlewareStack.add(middleware as never, { step: 'finalizeRequest', priority: 'low', name: 'lakesyncSentAtMostOnce' });
  return command;
}

/** An HTTP 4xx answer from AWS (throttling, a refusal): the call did nothing, sending it again is safe. */
function refusedByAws(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500;
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return [e?.code ?? e?.name ?? 'no answer', status ? `HTTP ${status}` : undefined, e?.message?.slice(0, 120)].filter(Boolean).join(', ');
}
