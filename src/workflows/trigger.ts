/**
 * Started by a Temporal Schedule (Schedules can only start workflows): signals the source
 * workflow, starting it when it is not running, and ends.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { approvalsProblem, initialState, longTableNamesProblem, unknownFieldsProblem, rerunPayloadProblem, SENDER_FIELD_CHARACTERS, senderFieldsProblem, syncProblem, unqualifiedProblem } from './ledger';
import type { RerunRequest, SyncRequest } from './messages';

export interface TriggerInput {
  source: string;
  taskQueue: string;
  rerun?: RerunRequest;
  sync?: SyncRequest;
}

const { signalSource } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });

/** A trigger without a source or task queue, or asking two things, fails at once (its task failed again and again, or the rerun went alone). */
const REFUSE_BAD_INPUT = 'trigger-refuses-bad-input';

/** A trigger whose request the source would drop (no tables, text approvals, a long requestId) fails saying why (it succeeded, and nothing ran). */
const REFUSE_BAD_REQUEST = 'trigger-refuses-bad-request';

/** A rerun that names no sender is sent as the schedule's, as a sync is (it named none: its drops were kept apart, unattributed). */
const RERUN_SENDER = 'trigger-rerun-names-sender';

/** A request that names no sender is sent as its Schedule's, by id (every Schedule's was "schedule": their drops were kept as one entry). */
const SCHEDULE_ID_SENDER = 'trigger-sender-names-schedule-id';

/** A trigger whose request names a table longer than the source takes fails saying why (it succeeded, and the source dropped it). */
const REFUSE_LONG_NAMES = 'trigger-refuses-long-table-names';

/** A trigger whose request has a field its kind does not have (a misspelt "table") fails saying so (the source dropped it; before, it ran without the field). */
const REFUSE_UNKNOWN_FIELDS = 'trigger-refuses-unknown-fields';

/** Set by Temporal on a workflow a Schedule starts: the Schedule's id. */
const SCHEDULED_BY_ID = defineSearchAttributeKey('TemporalScheduledById', 'KEYWORD');

/** The sender a request that names none is sent as: its Schedule, by id when Temporal says which (longer ids are cut to what the source keeps). */
function scheduleSender(): string {
  const scheduleId = workflowInfo().typedSearchAttributes.get(SCHEDULED_BY_ID);
  if (typeof scheduleId !== 'string' || scheduleId === '' || !patched(SCHEDULE_ID_SENDER)) return 'schedule';
  return `schedule ${scheduleId}`.slice(0, SENDER_FIELD_CHARACTERS);
}

/**
 * Why the source would drop the request this trigger sends, as the `sync` and `rerun` updates refuse
 * it whatever the source's state, or undefined. `firing` is what the requestId gets after it.
 */
function triggerRequestProblem(input: TriggerInput, firing: string): string | undefined {
  const kind = input.rerun !== undefined ? 'rerun' : 'sync';
  const req: unknown = input.rerun ?? input.sync;
  const problem =
    input.rerun !== undefined
      ? (rerunPayloadProblem(input.rerun) ?? approvalsProblem(input.rerun) ?? unqualifiedProblem(input.rerun) ?? senderFieldsProblem(input.rerun))
      : input.sync !== undefined
        ? (syncProblem(initialState(), input.sync) ?? unqualifiedProblem(input.sync) ?? senderFieldsProblem(input.sync))
        : undefined;
  const given = typeof req === 'object' && req !== null ? (req as { requestId?: unknown }).requestId : undefined;
  const longId =
    !problem && typeof given === 'string' && given !== '' && given.length + 1 + firing.length > SENDER_FIELD_CHARACTERS
      ? `requestId must be a string of at most ${SENDER_FIELD_CHARACTERS} characters, with "@" and the firing's workflow id (${firing.length} characters) after it; give a shorter requestId`
      : undefined;
  // Asked only of a request naming such a table, so other histories record no marker.
  const longNames = !problem && !longId ? longTableNamesProblem(req) : undefined;
  // Asked only of a request with such a field, so other histories record no marker.
  const unknownFields = !problem && !longId && !longNames ? unknownFieldsProblem(req, kind) : undefined;
  const found = problem ?? longId ?? (longNames && patched(REFUSE_LONG_NAMES) ? longNames : undefined) ?? (unknownFields && patched(REFUSE_UNKNOWN_FIELDS) ? unknownFields : undefined);
  return found ? `the trigger workflow's ${kind} cannot run: ${found}; fix the schedule's input (or create it with lakesync schedule create)` : undefined;
}

/** Why a trigger cannot run with this input (a Schedule made by hand, e.g. in the Temporal UI), or undefined. */
function triggerInputProblem(input: unknown): string | undefined {
  const given = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Partial<Record<keyof TriggerInput, unknown>>) : {};
  const blank = (v: unknown) => typeof v !== 'string' || v.trim() === '';
  if (blank(given.source) || blank(given.taskQueue)) {
    return `the trigger workflow needs the input {"source": "<name>", "taskQueue": "<the worker's task queue>"} and, for a rerun, "rerun": {"tables": "failed"}; got ${input === undefined ? 'no input' : JSON.stringify(input).slice(0, 200)}: create the schedule with lakesync schedule create, or give that input`;
  }
  if (given.rerun !== undefined && given.sync !== undefined) return 'the trigger workflow asks both a sync and a rerun: give one of them (a Schedule each)';
  return undefined;
}

export async function triggerWorkflow(input: TriggerInput): Promise<string> {
  const problem = triggerInputProblem(input);
  if (problem && patched(REFUSE_BAD_INPUT)) throw ApplicationFailure.nonRetryable(problem, 'TriggerInputRefused');
  // One request id per firing (a schedule names each run apart): an attempt repeated after its
  // answer was lost is then dropped by the source as a repeat instead of running twice.
  const firing = workflowInfo().workflowId;
  const requestProblem = triggerRequestProblem(input, firing);
  if (requestProblem && patched(REFUSE_BAD_REQUEST)) throw ApplicationFailure.nonRetryable(requestProblem, 'TriggerInputRefused');
  const requestId = (given: string | undefined) => (given ? `${given}@${firing}` : firing);
  // Asked only of a rerun that names no sender, so other histories record no marker.
  const rerunSender = input.rerun && !input.rerun.requestedBy && patched(RERUN_SENDER) ? { requestedBy: scheduleSender() } : {};
  const syncSender = input.sync?.requestedBy ? {} : { requestedBy: scheduleSender() };
  const request = input.rerun
    ? { kind: 'rerun' as const, rerun: { ...input.rerun, ...rerunSender, requestId: requestId(input.rerun.requestId) } }
    : { kind: 'sync' as const, sync: { ...syncSender, ...(input.sync ?? {}), requestId: requestId(input.sync?.requestId) } };
  return signalSource({ source: input.source, taskQueue: input.taskQueue, request });
}
