/**
 * Records workflow histories (the workflow and its children) for the determinism guard:
 * test/replay.test.ts replays them, and the committed ones in test/fixtures/histories,
 * against the current workflow code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { repoRoot } from '../../src/toolchain';

export function historiesDir(): string {
  return join(repoRoot(), '.lakesync', 'histories');
}

/** Saves the histories of these workflows and every workflow whose id starts with one of them. */
export async function recordHistories(client: Client, name: string, workflowIds: string[]): Promise<number> {
  const dir = join(historiesDir(), name);
  mkdirSync(dir, { recursive: true });
  let count = 0;
  for (const prefix of workflowIds) {
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const file = historyFileName(wf.workflowId, wf.runId);
      writeFileSync(join(dir, file), temporal.api.history.v1.History.encode(history).finish());
      count++;
    }
  }
  return count;
}

/** The file keeps the workflow id (replay needs it: child ids derive from it) and the run. */
export function historyFileName(workflowId: string, runId: string): string {
  return `${encodeURIComponent(workflowId)}~${runId}.binpb`;
}

export function workflowIdOfHistoryFile(file: string): string {
  const name = file.split('/').pop()!;
  return decodeURIComponent(name.slice(0, name.lastIndexOf('~')));
}
