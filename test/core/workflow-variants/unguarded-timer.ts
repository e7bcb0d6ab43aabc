/**
 * The product's workflows with one command change made without a guard: the source workflow
 * waits on a timer before its first step. Histories written before the change do not have the
 * timer, so replaying them must fail. Only the replay test bundles this module.
 */
import { sleep } from '@temporalio/workflow';
import type { SourceWorkflowInput } from '../../../src/workflows/messages';
import { sourceWorkflow as productSourceWorkflow } from '../../../src/workflows/source';

export * from '../../../src/workflows';

export async function sourceWorkflow(input: SourceWorkflowInput): Promise<void> {
  await sleep('1 second');
  return productSourceWorkflow(input);
}
