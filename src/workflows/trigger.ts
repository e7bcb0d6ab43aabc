/**
 * Started by a Temporal Schedule (Schedules can only start workflows): signals the source
 * workflow, starting it when it is not running, and ends.
 */
import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RerunRequest, SyncRequest } from './messages';

export interface TriggerInput {
  source: string;
  taskQueue: string;
  rerun?: RerunRequest;
  sync?: SyncRequest;
}

const { signalSource } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });

/** A trigger without a source or task queue, or asking two things, fails at once (its task failed again and again, or the rerun went alone). */
const REFUSE_BAD_INPUT = 'trigger-refuses-bad-input';

/** Why a trigger cannot run with this input (a Schedule made by hand, e.g. in the Temporal UI), or undefined. */
function triggerInputProblem(input: unknown): string | undefined {
  const given = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Partial<Record<keyof TriggerInput, unknown>>) : {};
  const blank = (v: unknown) => typeof v !== 'string' || v.trim() === '';
  if (blank(given.source) || blank(given.taskQueue)) {
    return `the trigger workflow needs the input {"source": "<name>", "taskQueue": "<the worker's task queue>"} and, for a rerun, "rerun": {"tables": "failed"}; got ${input === undefined ? 'no input' : JSON.stringify(input).slice(0, 200)}: create the schedule with lakesync schedule create, or give that input`;
  }
  if (given.rerun !== undefined && given.sync !== undefined) return 'the trigger workflow asks both a sync and a rerun: give one of them (a Schedule each)';
  return undefined;
}

export async function triggerWorkflow(input: TriggerInput): Promise<string> {
  const problem = triggerInputProblem(input);
  if (problem && patched(REFUSE_BAD_INPUT)) throw ApplicationFailure.nonRetryable(problem, 'TriggerInputRefused');
  // One request id per firing (a schedule names each run apart): an attempt repeated after its
  // answer was lost is then dropped by the source as a repeat instead of running twice.
  const firing = workflowInfo().workflowId;
  const requestId = (given: string | undefined) => (given ? `${given}@${firing}` : firing);
  const request = input.rerun
    ? { kind: 'rerun' as const, rerun: { ...input.rerun, requestId: requestId(input.rerun.requestId) } }
    : { kind: 'sync' as const, sync: { requestedBy: 'schedule', ...(input.sync ?? {}), requestId: requestId(input.sync?.requestId) } };
  return signalSource({ source: input.source, taskQueue: input.taskQueue, request });
}
