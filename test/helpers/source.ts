/** Drives a source workflow from a test: start it, query it, wait for its cycles. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { sourceWorkflowId } from '../../src/ids';
import { readStatusSummary } from '../../src/status-pages';
import { requestSyncSignal, type SourceStatus, type SourceWorkflowInput, type SyncRequest, SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { pollFor } from './within';

export async function startSource(client: Client, taskQueue: string, source: string): Promise<WorkflowHandle> {
  return client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(source), taskQueue, args: [{ source }] });
}

/** As `lakesync sync` starts a source that does not run: signal-with-start, no sync on start. */
export async function startSourceLikeCli(client: Client, taskQueue: string, source: string, request: SyncRequest, options: Pick<SourceWorkflowInput, 'payloadInlineBytes'> = {}): Promise<WorkflowHandle> {
  const input: SourceWorkflowInput = { source, syncOnStart: false, ...options };
  await client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(source), taskQueue, args: [input], signal: requestSyncSignal, signalArgs: [request] });
  return client.workflow.getHandle(sourceWorkflowId(source));
}

/**
 * As the CLI reads it when it polls: asked again while a new run reads (or looks for) the state it
 * takes up, with the served request ids and the dropped requests read from their pages when a small
 * payload limit left them out.
 */
export async function status(handle: WorkflowHandle): Promise<SourceStatus> {
  return readStatusSummary(handle, { requestIds: true });
}

/** Waits until the source has finished `count` cycles (recentCycles keeps the newest first). */
export async function waitForCycles(handle: WorkflowHandle, count: number, timeoutMs = 120_000): Promise<SourceStatus> {
  let last: SourceStatus | undefined;
  return pollFor(
    () => `${count} cycle(s) to end; status: ${JSON.stringify({ phase: last?.phase, cycles: last?.recentCycles.length, current: last?.currentCycle })}`,
    async () => {
      last = await status(handle);
      return last.recentCycles.length >= count && last.phase === 'idle' ? last : undefined;
    },
    timeoutMs,
    200,
  );
}

/** Waits until a condition on the status holds. */
export async function waitForStatus(handle: WorkflowHandle, check: (s: SourceStatus) => boolean, timeoutMs = 60_000): Promise<SourceStatus> {
  let last: SourceStatus | undefined;
  return pollFor(
    () => `the status to hold; last: ${JSON.stringify({ phase: last?.phase, cycles: last?.recentCycles.length })}`,
    async () => {
      last = await status(handle);
      return check(last) ? last : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the source workflow's run has the status `name` (CANCELLED, COMPLETED, ...). */
export async function waitForRunStatus(handle: WorkflowHandle, name: string, timeoutMs = 60_000): Promise<void> {
  let found: string | undefined;
  await pollFor(
    () => `the source workflow to be ${name}; it is ${found}`,
    async () => {
      found = (await handle.describe()).status.name;
      return found === name ? found : undefined;
    },
    timeoutMs,
    200,
  );
}
