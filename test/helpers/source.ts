/** Drives a source workflow from a test: start it, query it, wait for its cycles. */
import { setTimeout as delay } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { sourceWorkflowId } from '../../src/ids';
import { readStatusSummary } from '../../src/status-pages';
import { type SourceStatus, SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';

export async function startSource(client: Client, taskQueue: string, source: string): Promise<WorkflowHandle> {
  return client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(source), taskQueue, args: [{ source }] });
}

/** As the CLI reads it: asked again while a new run reads (or looks for) the state it takes up. */
export async function status(handle: WorkflowHandle): Promise<SourceStatus> {
  return readStatusSummary(handle);
}

/** Waits until the source has finished `count` cycles (recentCycles keeps the newest first). */
export async function waitForCycles(handle: WorkflowHandle, count: number, timeoutMs = 120_000): Promise<SourceStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(handle);
    if (s.recentCycles.length >= count && s.phase === 'idle') return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} cycle(s); status: ${JSON.stringify({ phase: s.phase, cycles: s.recentCycles.length, current: s.currentCycle })}`);
    await delay(200);
  }
}

/** Waits until a condition on the status holds. */
export async function waitForStatus(handle: WorkflowHandle, check: (s: SourceStatus) => boolean, timeoutMs = 60_000): Promise<SourceStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(handle);
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for status; last: ${JSON.stringify({ phase: s.phase, cycles: s.recentCycles.length })}`);
    await delay(100);
  }
}
