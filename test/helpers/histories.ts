/**
 * Records workflow histories (the workflow and its children) for the determinism guard:
 * test/replay.test.ts replays them, and the committed ones in test/fixtures/histories,
 * against the current workflow code.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { repoRoot } from '../../src/toolchain';

type History = temporal.api.history.v1.History;

export function historiesDir(): string {
  return join(repoRoot(), '.lakesync', 'histories');
}

export function fixtureHistoriesDir(): string {
  return join(repoRoot(), 'test', 'fixtures', 'histories');
}

/**
 * What each committed fixture folder must hold, as the least count of each event type over its
 * histories: a fixture that stops covering its case fails the replay test instead of passing idly.
 */
export const FIXTURE_COVERAGE: Record<string, Record<string, number>> = {
  // Three cycles of one source: a partial one (failed loads) and a rerun requested by update.
  'partial-and-rerun': { START_CHILD_WORKFLOW_EXECUTION_INITIATED: 3, ACTIVITY_TASK_FAILED: 3, WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1 },
  // A snapshot still creating and an export still in progress, waited for with workflow timers.
  'snapshot-export-waits': { TIMER_STARTED: 4, TIMER_FIRED: 4 },
  // The source workflow continues as new when the server suggests it, around a sync and a rerun.
  'continue-as-new': { WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 2, WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1 },
  // A cycle child that fails (its source left the worker's config) and a batch child terminated mid-load.
  'failed-children': { CHILD_WORKFLOW_EXECUTION_FAILED: 1, CHILD_WORKFLOW_EXECUTION_TERMINATED: 1, WORKFLOW_EXECUTION_FAILED: 1 },
  // Two cycles whose tables are all read directly: the direct-extract patch, no snapshot or export activity.
  'direct-cycles': { MARKER_RECORDED: 2, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 4 },
  // Three cycles of a DynamoDB source: per-table exports waited for with timers, a failed export, its rerun by update.
  'dynamodb-cycles': { TIMER_STARTED: 1, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 6, WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1 },
  // Small tables loaded in packs (the packed-loads patch); one fails in its pack and its retry runs alone.
  'packed-cycles': { MARKER_RECORDED: 1, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 2 },
  // A cycle's outcomes stored by reference and the source continuing as new with its state stored.
  'large-payloads': { MARKER_RECORDED: 2, WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 1 },
  // A 40-table cycle terminated once 39 committed (its unfinished batch with it): the source reads their outcomes back by reference.
  'dead-large-cycle': { CHILD_WORKFLOW_EXECUTION_TERMINATED: 1, WORKFLOW_EXECUTION_TERMINATED: 2 },
  // Two 40-table cycles whose outcomes come by reference (the second terminated, read back from the lake); their parts are deleted.
  'outcome-parts-deleted': { CHILD_WORKFLOW_EXECUTION_TERMINATED: 1, CHILD_WORKFLOW_EXECUTION_COMPLETED: 15 },
  // A cycle's outcomes by reference, one entry gone from them in the manifest store before the source read them.
  'outcomes-changed': { CHILD_WORKFLOW_EXECUTION_COMPLETED: 2 },
  // Three cycles, each run continuing as new with its state by reference; the third run deletes the first run's state.
  'carried-state-deleted': { WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 3, CHILD_WORKFLOW_EXECUTION_COMPLETED: 27 },
  // 200 excluded tables: the export scope's list, then the plan's lists, read back by reference.
  // Two source workflows cancelled mid-cycle: one while its export runs, one while its tables load.
  'cancelled-sources': { WORKFLOW_EXECUTION_CANCELED: 2, WORKFLOW_EXECUTION_CANCEL_REQUESTED: 2 },
  'lists-by-reference': { START_CHILD_WORKFLOW_EXECUTION_INITIATED: 4, WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1 },
  // An export that skips a table (it fails NotExported), then a rerun of it by update that reuses that export.
  'export-skipped-rerun': { START_CHILD_WORKFLOW_EXECUTION_INITIATED: 3, WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1 },
  // Two batches under a concurrency of twice the batch size (they ran one after the other).
  'wide-concurrency': { START_CHILD_WORKFLOW_EXECUTION_INITIATED: 3, CHILD_WORKFLOW_EXECUTION_COMPLETED: 3 },
  // Batches of 30 under an 8 KB limit: one commits them all (its outcomes inline), one is terminated and its commits are read back by reference.
  'large-batches': { CHILD_WORKFLOW_EXECUTION_TERMINATED: 1, WORKFLOW_EXECUTION_TERMINATED: 1, CHILD_WORKFLOW_EXECUTION_COMPLETED: 3 },
  // A batch terminated after its source was cancelled, and a source cancelled while its cycle read a dead batch's commits back.
  'cancelled-batches': { WORKFLOW_EXECUTION_TERMINATED: 2, CHILD_WORKFLOW_EXECUTION_TERMINATED: 2, ACTIVITY_TASK_CANCEL_REQUESTED: 3, WORKFLOW_EXECUTION_CANCELED: 2 },
  // A DynamoDB table's catch-up in three windows: the first export starts, the second is refused.
  'dynamodb-start-refused': { ACTIVITY_TASK_FAILED: 1, WORKFLOW_EXECUTION_SIGNALED: 1, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 4 },
  // A source cancelled after one cycle: a sync signal comes while the marker of its stored state is written.
  'request-while-marking': { WORKFLOW_EXECUTION_CANCEL_REQUESTED: 1, WORKFLOW_EXECUTION_SIGNALED: 1, WORKFLOW_EXECUTION_CANCELED: 1 },
  // A source's run after continue-as-new, sent a sync signal and cancelled while it reads its carried state.
  'request-while-reading': { WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 1, WORKFLOW_EXECUTION_SIGNALED: 1, WORKFLOW_EXECUTION_CANCELED: 1 },
  // A run holding its state by reference, its history grown 4.5 MB by five large sync signals it dropped, then a sync it serves before continuing as new.
  'dropped-signals-grow': { WORKFLOW_EXECUTION_SIGNALED: 6, WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 2 },
  // A delete approval asked while a scheduled sync refuses the table again, on a newer export: its rerun loads that one without it.
  'approval-newer-export': { WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 4, MARKER_RECORDED: 1 },
  // Two reruns approving deletes on the exports their tables were refused on, queued together: served apart.
  'approvals-apart': { WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 2, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 6 },
  // A rerun approving deletes of a table read directly and of one a newer export skipped meanwhile: the new export loads without the approval.
  'approval-new-export': { WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 4 },
  // A rerun asked while a slow cycle runs: the source sends the cycle the export the rerun reuses, which its retention keeps.
  'rerun-kept-during-cycle': { WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1, SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: 1, EXTERNAL_WORKFLOW_EXECUTION_SIGNALED: 1 },
  // A rerun signal before any export, served as a sync and sent again; a rerun signal under a served sync's requestId.
  'request-id-other-kind': { WORKFLOW_EXECUTION_SIGNALED: 4, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 4 },
  // A snapshot start retried after its answer was lost, timed as the snapshot reports once available.
  'snapshot-time-available': { START_CHILD_WORKFLOW_EXECUTION_INITIATED: 2, ACTIVITY_TASK_COMPLETED: 15 },
  // A rerun approving deletes whose export was deleted: a new export, loaded without the approval.
  'approval-gone-export': { WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1, ACTIVITY_TASK_FAILED: 2, START_CHILD_WORKFLOW_EXECUTION_INITIATED: 6 },
  // A direct table's load kept its start in the watermark (its freshness lag counts from it).
  'direct-load-started': { START_CHILD_WORKFLOW_EXECUTION_INITIATED: 2, MARKER_RECORDED: 12, ACTIVITY_TASK_COMPLETED: 9 },
};

/** Saves the histories of these workflows and every workflow whose id starts with one of them. */
export async function recordHistories(client: Client, name: string, workflowIds: string[]): Promise<number> {
  return saveHistories(client, join(historiesDir(), name), workflowIds);
}

/** Saves into `dir` every run of every workflow whose id starts with one of `workflowIds`. */
export async function saveHistories(client: Client, dir: string, workflowIds: string[]): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let count = 0;
  for (const prefix of workflowIds) {
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const file = historyFileName(wf.workflowId, wf.runId);
      // Written whole, then renamed: the replay test, running beside the tests that record, reads only whole files.
      writeFileSync(join(dir, `${file}.part`), temporal.api.history.v1.History.encode(history).finish());
      renameSync(join(dir, `${file}.part`), join(dir, file));
      count++;
    }
  }
  return count;
}

export function readHistory(file: string): History {
  return temporal.api.history.v1.History.decode(readFileSync(file));
}

/** `TIMER_FIRED` for EVENT_TYPE_TIMER_FIRED. */
export function eventTypeName(type: number): string {
  return (temporal.api.enums.v1.EventType[type] ?? String(type)).replace(/^EVENT_TYPE_/, '');
}

/** How many events of each type (`TIMER_FIRED`, ...) these histories hold together. */
export function eventTypeCounts(histories: History[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const h of histories) {
    for (const e of h.events ?? []) {
      const name = eventTypeName(e.eventType ?? 0);
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

/** The event types of `coverage` that these histories hold fewer of than required, with the counts. */
export function missingCoverage(histories: History[], coverage: Record<string, number>): string[] {
  const counts = eventTypeCounts(histories);
  return Object.entries(coverage)
    .filter(([type, least]) => (counts[type] ?? 0) < least)
    .map(([type, least]) => `${type}: ${counts[type] ?? 0} < ${least}`);
}

/** The file keeps the workflow id (replay needs it: child ids derive from it) and the run. */
export function historyFileName(workflowId: string, runId: string): string {
  return `${encodeURIComponent(workflowId)}~${runId}.binpb`;
}

export function workflowIdOfHistoryFile(file: string): string {
  const name = file.split('/').pop()!;
  return decodeURIComponent(name.slice(0, name.lastIndexOf('~')));
}
