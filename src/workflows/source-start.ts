/**
 * What a start of the source workflow must give: a source name, and the source's own workflow id
 * (`lakesync/<source>`), so that one workflow per source owns its ledger and queue and runs its
 * cycles one at a time. The Temporal UI and CLI let anyone start it with any id and input.
 */
import { sourceWorkflowId } from '../ids';

/** Why a run with this input and workflow id cannot be the source's workflow, or undefined. */
export function sourceStartProblem(input: unknown, workflowId: string): string | undefined {
  const source = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as { source?: unknown }).source : undefined;
  if (typeof source !== 'string' || source.trim() === '') {
    return `the source workflow needs the input {"source": "<name>"}, naming a source of lakesync.yaml; got ${input === undefined ? 'no input' : JSON.stringify(input)}: start it with lakesync sync <source>, or give that input`;
  }
  const own = sourceWorkflowId(source);
  if (workflowId === own) return undefined;
  return (
    `the source workflow of source ${source} runs as workflow id ${JSON.stringify(workflowId)}: it must run as ${JSON.stringify(own)}, ` +
    `the one workflow of the source (a second one would keep its own ledger and load the same lake tables at once); ` +
    `start it with lakesync sync ${source}, or with workflow id ${own}`
  );
}
