/**
 * The source workflow `lakesync/<source>`: an entity that owns the watermark ledger,
 * queues sync and rerun requests, and runs one cycle at a time as a child workflow.
 * Requests that arrive during a cycle wait; consecutive requests of the same kind coalesce.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  log,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { cycleKey, cycleWorkflowId } from '../ids';
import type { CycleResult } from '../model';
import { nowIso } from './clock';
import { cycleWorkflow, type CycleInput } from './cycle';
import { errorMessage } from './errors';
import { enqueueRerun, enqueueRerunSignal, enqueueSync, initialState, recordCycle, rerunProblem, takeCoalesced } from './ledger';
import { cycleSearchAttributes } from './search';
import {
  type RerunAccepted,
  type RerunRequest,
  type SourceStatus,
  type SourceWorkflowInput,
  type SyncRequest,
  requestRerunSignal,
  requestSyncSignal,
  rerunUpdate,
  statusQuery,
} from './messages';

/** Continue as new well before Temporal's limits, even if the server has not suggested it. */
const MAX_HISTORY_EVENTS = 8_000;

export async function sourceWorkflow(input: SourceWorkflowInput): Promise<void> {
  const state = input.state ?? initialState();
  let current: SourceStatus['currentCycle'];

  if (!input.state && input.syncOnStart !== false) enqueueSync(state, { requestedBy: 'start' });

  setHandler(requestSyncSignal, (req: SyncRequest) => {
    enqueueSync(state, req);
  });

  setHandler(requestRerunSignal, (req: RerunRequest) => {
    const problem = enqueueRerunSignal(state, req);
    if (problem) log.warn('rerun signal ignored', { problem, request: req });
  });

  setHandler(rerunUpdate, (req: RerunRequest): RerunAccepted => enqueueRerun(state, req), {
    validator: (req: RerunRequest) => {
      const problem = rerunProblem(state, req);
      if (problem) throw new Error(problem);
    },
  });

  setHandler(statusQuery, (): SourceStatus => ({
    source: input.source,
    phase: current ? 'running' : 'idle',
    ...(current ? { currentCycle: current } : {}),
    queue: state.queue,
    ...(state.lastCycle ? { lastCycle: state.lastCycle } : {}),
    recentCycles: state.recentCycles,
    failed: state.failed,
    ledger: state.ledger,
    ...(state.lastExport ? { lastExport: state.lastExport } : {}),
  }));

  for (;;) {
    await condition(() => state.queue.length > 0 || shouldContinueAsNew());
    if (state.queue.length === 0) break;

    const batch = takeCoalesced(state.queue);
    const cycleNumber = ++state.cycleCount;
    const cycleId = cycleKey(cycleNumber, workflowInfo().firstExecutionRunId);
    const workflowId = cycleWorkflowId(input.source, cycleId);
    const cycleInput: CycleInput = {
      source: input.source,
      cycleId,
      kind: batch.kind,
      approveDeletes: batch.approveDeletes,
      ...(batch.tables ? { tables: batch.tables } : {}),
      ...(batch.kind === 'rerun' && state.lastExport ? { reuse: state.lastExport } : {}),
    };
    current = { cycleId, workflowId, kind: batch.kind, ...(batch.tables ? { tables: batch.tables } : {}), startedAt: nowIso() };

    let result: CycleResult;
    try {
      const what = batch.kind === 'rerun' ? `rerun of ${batch.tables?.length ?? 0} table(s)` : batch.tables ? `sync of ${batch.tables.length} table(s)` : 'sync of every table';
      result = await executeChild(cycleWorkflow, { workflowId, args: [cycleInput], staticSummary: `${input.source} cycle ${cycleNumber}: ${what}` });
    } catch (err) {
      result = { cycleId, source: input.source, status: 'failed', error: { phase: 'cycle', message: errorMessage(err) }, tables: [], warnings: [], startedAt: current.startedAt, finishedAt: nowIso() };
    }
    recordCycle(state, result, workflowId, batch);
    current = undefined;
    if (result.searchAttributes) upsertSearchAttributes(cycleSearchAttributes(input.source, result.status, Object.keys(state.failed).length));
    if (shouldContinueAsNew()) break;
  }

  await condition(allHandlersFinished);
  await continueAsNew<typeof sourceWorkflow>({ source: input.source, syncOnStart: false, state });
}

function shouldContinueAsNew(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS;
}
