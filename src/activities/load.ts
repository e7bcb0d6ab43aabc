/**
 * The load of one table: start (or re-attach to) the backend run, poll it while heartbeating,
 * read the result JSON. The run id lives in the heartbeat details, and the run token lets a
 * retried attempt find a run started just before a crash, so a table is never loaded twice.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { runTokenFor } from '../ids';
import type { LoadRequest, LoadResult, LoadRunStatus, PlanEntry } from '../model';
import type { LoadPort } from '../ports';
import { type ActivityDeps, failure, sourceOf } from './deps';

export interface LoadTableInput {
  source: string;
  cycleId: string;
  planRef: string;
  table: string;
  exportLocation: string;
  database: string;
  namespace: string;
}

export interface LoadHeartbeat {
  runId: string;
  /** The source table, so `lakesync status` can show each running load's state. */
  table?: string;
  state?: string;
  detail?: string;
}

const DEFAULT_POLL = { initialMs: 5_000, maxMs: 120_000 };

export function loadActivities(deps: ActivityDeps) {
  const plans = new Map<string, Promise<PlanEntry[]>>();

  async function planEntry(input: LoadTableInput): Promise<PlanEntry> {
    const { ports } = sourceOf(deps, input.source);
    let plan = plans.get(input.planRef);
    if (!plan) {
      plan = ports.manifests.get<PlanEntry[]>(input.planRef);
      plans.set(input.planRef, plan);
      plan.catch(() => plans.delete(input.planRef));
    }
    const entry = (await plan).find((e) => e.table === input.table);
    if (!entry) throw ApplicationFailure.create({ message: `load failed for ${input.table}: not in plan ${input.planRef}`, type: 'PlanMismatch', nonRetryable: true });
    return entry;
  }

  return {
    async loadTable(input: LoadTableInput): Promise<LoadResult> {
      const { ports } = sourceOf(deps, input.source);
      const plan = await planEntry(input);
      const base = {
        source: input.source,
        cycleId: input.cycleId,
        runToken: runTokenFor(input.cycleId, input.table),
        exportLocation: input.exportLocation,
        database: input.database,
        plan,
        namespace: input.namespace,
      };
      const req: LoadRequest = { ...base, resultLocation: ports.load.resultLocation(base) };
      try {
        return await runLoad(ports.load, req);
      } catch (err) {
        if (err instanceof CancelledFailure) throw err;
        throw failure('load', input.table, err);
      }
    },
  };
}

async function runLoad(port: LoadPort, req: LoadRequest): Promise<LoadResult> {
  const ctx = Context.current();
  const table = req.plan.table;
  let runId = await attachableRun(port, req, (ctx.info.heartbeatDetails as LoadHeartbeat | undefined)?.runId);
  if (runId) {
    ctx.log.info('re-attached to load run', { table, runId });
  } else {
    runId = (await port.startLoad(req)).runId;
    ctx.log.info('started load run', { table, runId });
  }
  ctx.heartbeat({ runId, table, state: 'running' } satisfies LoadHeartbeat);

  const poll = port.pollPolicy ?? DEFAULT_POLL;
  const heartbeatMs = (ctx.info.heartbeatTimeoutMs ?? 60_000) / 2;
  let waitMs = poll.initialMs;
  for (;;) {
    const status = await port.getRun(runId);
    ctx.heartbeat({ runId, table, state: status.state, ...(status.detail ? { detail: status.detail } : {}) } satisfies LoadHeartbeat);
    if (status.state === 'succeeded') return finishedResult(port, req, runId, status);
    if (status.state === 'failed') return failedRun(port, req, runId, status);
    try {
      await sleepHeartbeating(ctx, waitMs, heartbeatMs, { runId, table, state: status.state });
    } catch (err) {
      // Stop the run only when the load was really cancelled: after a heartbeat timeout a newer
      // attempt may already be attached to this same run.
      if (err instanceof CancelledFailure && ctx.cancellationDetails?.cancelRequested) {
        await port.stopRun(runId).catch((stopErr: unknown) => ctx.log.warn('could not stop load run', { runId, error: String(stopErr) }));
      }
      throw err;
    }
    waitMs = Math.min(waitMs * 2, poll.maxMs);
  }
}

/** The run to re-attach to: the one in the heartbeat, else one found by run token; never a failed one. */
async function attachableRun(port: LoadPort, req: LoadRequest, fromHeartbeat: string | undefined): Promise<string | undefined> {
  const candidate = fromHeartbeat ?? (await port.findRunByToken(req));
  if (!candidate) return undefined;
  const status = await port.getRun(candidate);
  if (status.state !== 'failed') return candidate;
  // A failed run whose result says retrying cannot help fails the table now.
  const result = await port.readResult(req.resultLocation);
  if (result?.error && !retryable(result)) throw resultFailure(req, candidate, result);
  return undefined;
}

async function finishedResult(port: LoadPort, req: LoadRequest, runId: string, status: LoadRunStatus): Promise<LoadResult> {
  const result = await port.readResult(req.resultLocation);
  if (!result) {
    throw ApplicationFailure.create({
      message: `load of ${req.plan.table} (run ${runId}) succeeded but wrote no result at ${req.resultLocation}: check the job's logs`,
      type: 'MissingResult',
      nonRetryable: true,
    });
  }
  if (result.status === 'failed') throw resultFailure(req, runId, result);
  Context.current().log.info('load finished', { table: req.plan.table, runId, seconds: status.executionSeconds, dpuSeconds: status.dpuSeconds });
  return result;
}

async function failedRun(port: LoadPort, req: LoadRequest, runId: string, status: LoadRunStatus): Promise<never> {
  const result = await port.readResult(req.resultLocation);
  if (result?.error) throw resultFailure(req, runId, result);
  throw ApplicationFailure.create({
    message: `load of ${req.plan.table} failed (run ${runId}, ${status.detail ?? 'FAILED'}): ${status.errorMessage ?? 'no error message'}`,
    type: `Load${status.detail ?? 'Failed'}`,
    nonRetryable: true,
  });
}

/** The job decides whether a retry can help (glue/lakesync_glue/errors.py). */
function retryable(result: LoadResult): boolean {
  return result.error?.retryable === true;
}

function resultFailure(req: LoadRequest, runId: string, result: LoadResult): ApplicationFailure {
  const cls = result.error?.class ?? 'InternalError';
  const hint = cls === 'DeleteGuard' ? ' To apply these deletes, rerun the table with approve deletes.' : '';
  // Not retried: without the flag there is no telling whether a retry can help.
  const noFlag =
    typeof result.error?.retryable === 'boolean'
      ? ''
      : " The job's result has no retryable flag, so the deployed job version may not match this worker's; not retrying.";
  return ApplicationFailure.create({
    message: `load of ${req.plan.table} failed (run ${runId}): ${cls}: ${result.error?.message ?? 'unknown error'}.${hint}${noFlag}`,
    type: cls,
    nonRetryable: !retryable(result),
  });
}

async function sleepHeartbeating(ctx: Context, totalMs: number, heartbeatMs: number, details: LoadHeartbeat): Promise<void> {
  let left = totalMs;
  while (left > 0) {
    const slice = Math.min(left, heartbeatMs);
    await ctx.sleep(slice);
    ctx.heartbeat(details);
    left -= slice;
  }
}
