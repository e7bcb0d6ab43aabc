/**
 * The same command change as unguarded-timer.ts, behind `patched()`: new executions wait on the
 * timer, histories written before the change replay as they were. Only the replay test bundles this module.
 */
import { patched, sleep } from '@temporalio/workflow';
import type { SourceWorkflowInput } from '../../../src/workflows/messages';
import { sourceWorkflow as productSourceWorkflow } from '../../../src/workflows/source';

export * from '../../../src/workflows';

export async function sourceWorkflow(input: SourceWorkflowInput): Promise<void> {
  if (patched('source-start-timer')) await sleep('1 second');
  return productSourceWorkflow(input);
}
