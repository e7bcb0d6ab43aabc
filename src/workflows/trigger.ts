/**
 * Started by a Temporal Schedule (Schedules can only start workflows): signals the source
 * workflow, starting it when it is not running, and ends.
 */
import { proxyActivities } from '@temporalio/workflow';
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
  const request = input.rerun
    ? { kind: 'rerun' as const, rerun: input.rerun }
    : { kind: 'sync' as const, sync: { requestedBy: 'schedule', ...(input.sync ?? {}) } };
  return signalSource({ source: input.source, taskQueue: input.taskQueue, request });
}
