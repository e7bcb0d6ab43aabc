/**
 * Started by a Temporal Schedule (Schedules can only start workflows): signals the source
 * workflow, starting it when it is not running, and ends.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RerunRequest, SyncRequest } from './messages';

export interface TriggerInput {
  source: string;
  taskQueue: string;
  rerun?: RerunRequest;
  sync?: SyncRequest;
}

const { signalSource } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });

export async function triggerWorkflow(input: TriggerInput): Promise<string> {
  // One request id per firing (a schedule names each run apart): an attempt repeated after its
  // answer was lost is then dropped by the source as a repeat instead of running twice.
  const firing = workflowInfo().workflowId;
  const requestId = (given: string | undefined) => (given ? `${given}@${firing}` : firing);
  const request = input.rerun
    ? { kind: 'rerun' as const, rerun: { ...input.rerun, requestId: requestId(input.rerun.requestId) } }
    : { kind: 'sync' as const, sync: { requestedBy: 'schedule', ...(input.sync ?? {}), requestId: requestId(input.sync?.requestId) } };
  return signalSource({ source: input.source, taskQueue: input.taskQueue, request });
}
