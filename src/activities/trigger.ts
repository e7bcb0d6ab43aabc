/** The activity behind Schedules: Schedules can only start workflows, so a short trigger
 *  workflow runs this, which signals the source workflow, starting it when it is not running. */
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/activity';
import { sourceWorkflowId } from '../ids';
import { otherTaskQueueReason, runningSourceRun } from '../temporal';
import type { RerunRequest, SourceWorkflowInput, SyncRequest } from '../workflows/messages';
import { SOURCE_WORKFLOW_TYPE } from '../workflows/messages';

export interface SignalSourceInput {
  source: string;
  taskQueue: string;
  request: { kind: 'sync'; sync: SyncRequest } | { kind: 'rerun'; rerun: RerunRequest };
}

export function triggerActivities(getClient: () => Promise<Client>) {
  return {
    async signalSource(input: SignalSourceInput): Promise<string> {
      const client = await getClient();
      // A source workflow on another task queue is served by workers of another config: the request would run there.
      const running = await runningSourceRun(client, input.source);
      const reason = running && otherTaskQueueReason(input.source, running.taskQueue, input.taskQueue);
      if (reason) throw ApplicationFailure.nonRetryable(`the schedule's ${input.request.kind} was not sent: ${reason}`, 'SourceOnOtherTaskQueue');
      const args: [SourceWorkflowInput] = [{ source: input.source, syncOnStart: false }];
      const common = { workflowId: sourceWorkflowId(input.source), taskQueue: input.taskQueue, args };
      const handle =
        input.request.kind === 'sync'
          ? await client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, { ...common, signal: 'requestSync', signalArgs: [input.request.sync] })
          : await client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, { ...common, signal: 'requestRerun', signalArgs: [input.request.rerun] });
      return handle.workflowId;
    },
  };
}
