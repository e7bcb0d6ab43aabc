/** The activity behind Schedules: Schedules can only start workflows, so a short trigger
 *  workflow runs this, which signals the source workflow, starting it when it is not running. */
import type { Client } from '@temporalio/client';
import { sourceWorkflowId } from '../ids';
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
