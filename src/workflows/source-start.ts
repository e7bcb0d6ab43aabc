/**
 * What a start of the source workflow must give: a source name, and the source's own workflow id
 * (`lakesync/<source>`), so that one workflow per source owns its ledger and queue and runs its
 * cycles one at a time. The Temporal UI and CLI let anyone start it with any id and input.
 */
import { sourceWorkflowId } from '../ids';
import { DEFAULT_INLINE_BYTES } from './by-reference';

/** The smallest inline payload limit a start may give (tests lower it to stand for thousands of tables). */
const MIN_INLINE_BYTES = 1024;

/** Why a run with this input and workflow id cannot be the source's workflow, or undefined. */
export function sourceStartProblem(input: unknown, workflowId: string): string | undefined {
  const source = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as { source?: unknown }).source : undefined;
  if (typeof source !== 'string' || source.trim() === '') {
    return `the source workflow needs the input {"source": "<name>"}, naming a source of lakesync.yaml; got ${input === undefined ? 'no input' : JSON.stringify(input)}: start it with lakesync sync <source>, or give that input`;
  }
  const own = sourceWorkflowId(source);
  if (workflowId === own) return inlineLimitProblem((input as { payloadInlineBytes?: unknown }).payloadInlineBytes);
  return (
    `the source workflow of source ${source} runs as workflow id ${JSON.stringify(workflowId)}: it must run as ${JSON.stringify(own)}, ` +
    `the one workflow of the source (a second one would keep its own ledger and load the same lake tables at once); ` +
    `start it with lakesync sync ${source}, or with workflow id ${own}`
  );
}

/**
 * Why a given inline payload limit cannot be used, or undefined: above the default, payloads (the
 * carried state, cycle outcomes, the status) would pass what Temporal takes in one payload.
 */
function inlineLimitProblem(bytes: unknown): string | undefined {
  if (bytes === undefined || bytes === null || (Number.isInteger(bytes) && (bytes as number) >= MIN_INLINE_BYTES && (bytes as number) <= DEFAULT_INLINE_BYTES)) return undefined;
  return `payloadInlineBytes ${JSON.stringify(bytes)} is out of range: give a whole number of bytes from ${MIN_INLINE_BYTES} to ${DEFAULT_INLINE_BYTES} (the default), or leave it out`;
}
