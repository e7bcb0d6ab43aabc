/**
 * The source workflow `lakesync/<source>`: an entity that owns the watermark ledger,
 * queues sync and rerun requests, and runs one cycle at a time as a child workflow.
 * Requests that arrive during a cycle wait; consecutive requests of the same kind coalesce.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { cycleKey, cycleWorkflowId, legacyCycleKey } from '../ids';
import type { CycleResult, JsonRef, TableName, TableOutcome } from '../model';
import { jsonBytes } from '../payload-text';
import { evenIfCancelled } from './cancellation';
import { cancelledState, deleteTexts, forgetCancelledState, inlineLimit, markCancelledState, readText, storeText } from './by-reference';
import { isoAfter, nowIso } from './clock';
import { cycleWorkflow, type CycleInput } from './cycle';
import { errorMessage, failureType } from './errors';
import {
  type CoalescedRequest,
  type CycleRecord,
  dropExcludedReruns as dropExcluded,
  excludedRerunProblem,
  acceptSync,
  approvalsProblem,
  compactStatus,
  requestStanding,
  enqueueRerun,
  enqueueRerunSignal,
  enqueueSync,
  enqueueSyncSignal,
  hasBlankRequestId,
  initialState,
  longTableNamesProblem,
  markSkippedForNewExport,
  normalizeState,
  queueFullProblem,
  queuedTablesProblem,
  recordCycle,
  senderFieldsProblem,
  recordServedAlready,
  repeatedRequest,
  differentRepeat,
  reservedRequestIdProblem,
  rerunParts,
  rerunExports,
  approvalMiss,
  rerunPayloadProblem,
  rerunProblem,
  retentionKeeps,
  skippedBeforeMark,
  statusPage,
  type StatusPageCache,
  syncProblem,
  takeCoalesced,
  tooManyTablesProblem,
  uncheckedReruns,
  uncheckedSyncs,
  unqualifiedProblem,
  unknownFieldsProblem,
  withoutBlankRequestId,
} from './ledger';
import { RECOVERY_ACTIVITY, SETTINGS_ACTIVITY } from './options';
import { cycleSearchAttributes, SOURCE_KEY } from './search';
import { sourceStartProblem } from './source-start';
import {
  keepExportsSignal,
  type QueuedRequest,
  type RerunAccepted,
  type RerunRequest,
  type ReusableExport,
  type SourceState,
  type SourceStatus,
  type SourceWorkflowInput,
  type SyncAccepted,
  type SyncRequest,
  requestRerunSignal,
  requestSyncSignal,
  rerunUpdate,
  STATE_LOADING,
  statusPageQuery,
  requestQuery,
  statusQuery,
  syncUpdate,
} from './messages';

/** Continue as new well before Temporal's limits, even if the server has not suggested it. */
const MAX_HISTORY_EVENTS = 8_000;

/**
 * Continue as new once the history has grown this much since the state was read, even when the
 * run does not follow the server's suggestion (it read its state by reference and ran no cycle
 * yet): signals it drops grow its history too, and past Temporal's limit the server terminates it.
 */
const MAX_HISTORY_GROWTH_BYTES = 4 * 1024 * 1024;

/**
 * Changes to the commands this workflow issues, each behind `patched(id)` so that histories
 * recorded before the change replay the old way (README, "Changing workflow code").
 */
const PATCHES = {
  /** Cycle ids hash the whole first run id (they used its first 8 characters). */
  cycleKey: 'cycle-key-hashes-whole-run-id',
  /** A rerun loads each table from its own export: one cycle per export (it used the last export). */
  rerunParts: 'rerun-per-table-export',
  /** A dead cycle's committed tables are read back from the lake (it recorded no table). */
  recovery: 'recover-dead-cycle-outcomes',
  /** The failed and known tables are kept clean, which changes the reruns they lead to. */
  cleanLedger: 'clean-failed-and-known-tables',
  /** A table the export skipped reruns from a new export (its rerun reused the export that skipped it, and failed again). */
  newExportForSkipped: 'rerun-of-export-skipped-table-takes-new-export',
  /** A table the export skipped in a cycle recorded before that patch reruns from a new export too (it reused the export that skipped it). */
  newExportForSkippedBefore: 'rerun-of-table-skipped-before-mark-takes-new-export',
  /** A state too large for the continue-as-new payload is stored and carried by reference. */
  stateByReference: 'carried-state-by-reference',
  /** A cycle result that holds its outcomes by reference is read through it. */
  resultByReference: 'read-cycle-outcomes-by-reference',
  /** A dead cycle that died before its plan books its own export's cost, as recovery found it (it booked none). */
  deadCycleExportCost: 'dead-cycle-before-plan-books-export-cost',
  /** A dead cycle's outcomes read back from the lake come by reference when large. */
  recoveredByReference: 'recovered-outcomes-by-reference',
  /** Outcomes stored by reference are deleted once the cycle is recorded (they were kept). */
  deleteReadParts: 'delete-read-outcome-parts',
  /** Carried-state parts are deleted by the run after the one that read them (they were kept). */
  deleteCarriedState: 'delete-carried-state-parts',
  /** A rerun signal of tables read directly stays a rerun before any export (it became a sync, without its approvals). */
  directRerunSignal: 'direct-rerun-signal-stays-rerun',
  /** A signal repeating a request id already queued, running or served is dropped (it ran again). */
  dropRepeatedSignals: 'drop-repeated-request-signals',
  /** A sync signal the sync update would refuse (no, bad or unknown tables) is dropped (it was queued, and its cycle failed). */
  refuseBadSyncSignal: 'sync-signal-bad-tables-dropped',
  /** A rerun's delete approval holds only for the exports its tables loaded from when asked (it held for a newer export a cycle refused them on meanwhile). */
  approvalOnAskedExports: 'approve-deletes-on-asked-exports',
  /** A rerun's delete approval of tables read directly does not reach one of its tables that takes a new export since (it did). */
  newExportApprovalApart: 'approve-deletes-direct-not-new-export',
  /** Reruns approving deletes on other exports are served apart (merged, each approved the other's tables on its exports). */
  splitApprovals: 'approvals-on-other-exports-apart',
  /** A sync signal whose tables are a string is dropped (it was queued as a sync of its characters). */
  stringTablesDropped: 'sync-signal-string-tables-dropped',
  /** A cancelled run stores its state and marks it for the next start (it was lost). */
  storeStateOnCancel: 'store-state-on-cancel',
  /** A request a cancelled run took while it marked its stored state is stored and marked too (it was lost). */
  markCancelledStateAgain: 'mark-cancelled-state-again-after-late-request',
  /** Requests that came while a run cancelled meanwhile read its state are kept with that state (they were lost). */
  keepWaitingOnCancel: 'keep-requests-of-run-cancelled-while-loading',
  /** A fresh start resumes the state a cancelled run marked (it began empty). */
  resumeCancelledState: 'resume-cancelled-state',
  /** A cycle cancelled with the source has its commits read back out of the cancelled scope (its tables went unrecorded). */
  recoverCancelledCycle: 'recover-cycle-cancelled-with-source',
  /** A blank requestId is no id: the request gets one of the source's (signals with "" were dropped as repeats of one another). */
  blankRequestId: 'blank-request-id-is-none',
  /** A cycle that ended without a result sets the source's search attributes too (they kept the cycle before's). */
  deadCycleSearch: 'dead-cycle-search-attributes',
  /** A rerun's parts after the one cancelled with the source are not run (each was recorded as a failed cycle that never started). */
  noPartsAfterCancel: 'no-rerun-parts-after-cancel',
  /** Cancelled while it reads the carried state, the run marks that state for the next start (it failed as unreadable, and the next start began afresh). */
  cancelWhileReadingState: 'cancel-while-reading-carried-state',
  /** A rerun signal whose approvals are no booleans is dropped (it ran, "false" as text approving). */
  refuseTextApprovals: 'rerun-signal-text-approvals-dropped',
  /** The state that cannot be stored for continue-as-new stays in this run, which tries again later (the workflow failed, its state lost). */
  retryStateStore: 'retry-state-store-for-continue-as-new',
  /** Requests that came while the state was read are served in the order they came (every sync signal went before any rerun signal). */
  waitingInArrivalOrder: 'requests-while-loading-in-arrival-order',
  /** A dead cycle's outcomes whose read back was cancelled with the source are read again out of the cancelled scope (its commits went unrecorded). */
  recoverAfterCancel: 'recover-dead-cycle-again-after-cancel',
  /** A rerun signal that becomes a sync before any export keeps its approvals and rebuild (the sync went without them). */
  syncKeepsRerunApprovals: 'rerun-signal-sync-keeps-approvals',
  /** A sync signal whose payload is no object (such as a list of tables) is dropped (it was queued as a sync of every table). */
  refuseNonObjectSync: 'sync-signal-non-object-payload-dropped',
  /** A sync of every table without an RDS export drops the known tables it did not list (they stayed known, failed and reported forever). */
  dropWithoutExport: 'drop-tables-unlisted-by-sync-without-export',
  /** A rerun signal before any export naming tables a source read directly does not have is dropped (it became a sync of them). */
  refuseUnknownRerunBeforeExport: 'rerun-signal-unknown-tables-before-export-dropped',
  /** A start without a source name, under another workflow id than the source's, or with payloadInlineBytes out of range fails at once (it ran, or its task failed again and again). */
  refuseBadStart: 'refuse-start-without-source-or-own-id',
  /** A rerun of "failed" served after a cycle loaded some of its tables leaves them out, and runs no cycle for none (it loaded them again). */
  narrowFailedReruns: 'rerun-of-failed-skips-tables-loaded-since',
  /** A request that finds the queue holding QUEUE_LIMIT requests is dropped, or refused (the queue grew without end). */
  queueBound: 'queue-bound-drops-requests-when-full',
  /** A request whose requestId or requestedBy is no string of at most 500 characters is dropped, or refused (it was kept as sent, a document as an id breaking the status). */
  senderFields: 'bad-request-id-or-sender-dropped',
  /** Dropped requests that name no sender, of one kind and reason, are kept as one counted entry (each took one of the 20, pushing out other senders'). */
  mergeUnnamedIgnored: 'merge-unnamed-ignored-requests',
  /** A rerun of named tables that the worker's config now all excludes is dropped, with the reason (its cycle loaded nothing, and it counted as served). */
  refuseExcludedRerun: 'rerun-of-excluded-tables-dropped',
  /** A rerun update of named tables that the worker's config all excludes is refused (it was accepted, and its cycle loaded nothing). */
  refuseExcludedRerunUpdate: 'rerun-update-of-excluded-tables-refused',
  /** A request whose requestId has the form of the source's own (r1, r2...) is dropped, or refused (it was taken for a repeat of the source's own, or two requests shared the id). */
  reservedRequestIds: 'request-id-of-generated-form-refused',
  /** A request naming a table longer than 300 characters is dropped, or refused (before the first export it was queued, and ran a cycle). */
  longTableNames: 'request-of-long-table-names-refused',
  /** A sync of named tables that the worker's config now all excludes is dropped, with the reason (it took a snapshot, and its cycle failed at the export). */
  refuseExcludedSync: 'sync-of-excluded-tables-dropped',
  /** A rerun update of named tables takes its place in the queue before the worker's config is read, and leaves it if refused (a request sent after it, while the config was read, was served before it). */
  rerunUpdateQueuedBeforeCheck: 'rerun-update-queued-before-config-check',
  /** A rerun update resent with its requestId while the first copy is checked against the config gets the first's answer (it was refused as a repeat, though the first might then be refused). */
  resentWhileChecked: 'rerun-update-resent-while-checked-shares-answer',
  /** A rerun update whose check is cut short by the source's cancel is refused saying so and what to do (it was refused with "Activity cancelled"). */
  cancelledCheckSaysSo: 'rerun-update-cancelled-while-checked-says-so',
  /** A sync update of named tables that the worker's config all excludes is refused, checked as a rerun update is (it was accepted, then dropped when served). */
  refuseExcludedSyncUpdate: 'sync-update-of-excluded-tables-refused',
  /** A signal with a field its kind of request does not have (a misspelt "table") is dropped (it was served without it: a sync of every table). */
  unknownFields: 'request-signal-unknown-fields-dropped',
  /** A request sent with the requestId of one queued or running but asking other tables or approvals is dropped, or refused, saying so (it was dropped as a repeat, and shown as served). */
  differentRepeat: 'request-id-reused-with-other-content-refused',
  /** A request sent with the requestId of one a recent cycle served but asking other tables or approvals is dropped, or refused, saying so (it was dropped as a repeat, and shown as served). */
  servedDifferentRepeat: 'served-request-id-reused-with-other-content-refused',
  /** The state keeps what each served request asked (servedAsked), to tell a repeat from another request with its requestId (it kept only the ids). */
  servedAsked: 'served-requests-asked-kept',
  /** A request naming more than 10,000 tables, or more than the queue keeps in all (50,000), is dropped, or refused (it was queued: made-up names before the first export grew the state without end). */
  tableCount: 'request-table-count-bounded',
  /** A cycle's error longer than 2,000 characters is kept in the state by its start (twenty whole ones could push the status answer over the payload limit). */
  cycleErrorCapped: 'cycle-error-kept-capped',
  /** A table's error longer than 2,000 characters is kept in the failed tables, the ledger and the last cycle's tables by its start (a dead cycle's whole error, given to each table, pushed a status page over the payload limit). */
  tableErrorCapped: 'table-error-kept-capped',
  /** A run whose history grew by MAX_HISTORY_GROWTH_BYTES since it read its state continues as new (one that read it by reference ran on with the signals it dropped until the server terminated it). */
  historyGrowth: 'continue-as-new-after-history-growth',
  /** A rerun queued while a cycle runs has the exports it reads kept by that cycle's retention (it kept only those known when the cycle started). */
  keepQueuedRerunExports: 'keep-exports-of-reruns-queued-during-cycle',
  /** A sync sent with the requestId of a rerun queued, running or served (or a rerun with a sync's) is dropped, or refused, saying so (of the same tables, it was dropped as a repeat, and shown as served by the other kind's cycle); a rerun signal that becomes a sync before any export is marked as asked as a rerun. */
  otherKind: 'request-id-reused-by-other-kind-refused',
} as const;

/** How long a run whose state could not be stored waits before it tries again: doubling, up to an hour. */
const STATE_STORE_RETRY_SECONDS = { first: 60, most: 3600 };

/** An update's check against the worker's config, under way: the update as sent, and the answer it gets. */
type CheckUnderWay = { kind: 'rerun'; request: RerunRequest; answer: Promise<RerunAccepted> } | { kind: 'sync'; request: SyncRequest; answer: Promise<SyncAccepted> };

/** Whether two updates ask the same: the same tables (in any order), approvals, rebuild and sender. */
function sameRequest(a: RerunRequest | SyncRequest, b: RerunRequest | SyncRequest): boolean {
  const asked = (r: Partial<RerunRequest>) =>
    JSON.stringify([
      Array.isArray(r.tables) ? [...new Set(r.tables)].sort() : r.tables,
      r.approveDeletes === true,
      r.allowOlderExport === true,
      r.rebuild === true,
      r.requestedBy ?? null,
    ]);
  return asked(a) === asked(b);
}

/** Why a rerun update whose check against the worker's config the source's cancel cut short is refused, and what to do. */
function cancelledWhileChecked(source: string, kind: 'sync' | 'rerun', requestId: string): string {
  return `source ${source} was cancelled while ${kind} ${requestId} was checked against the worker's config: it was not queued; start the source again (lakesync sync ${source}), then send the ${kind} again`;
}

/** A stored copy of the state: its reference, earlier copies it made unused, and the text it holds. */
interface StoredState {
  ref: JsonRef;
  unused: JsonRef[];
  text: string;
}

/** What one cycle runs: its tables and, for a rerun, the export it reuses. */
interface CyclePart {
  tables?: TableName[];
  reuse?: ReusableExport;
}

export async function sourceWorkflow(input: SourceWorkflowInput): Promise<void> {
  const startProblem = sourceStartProblem(input, workflowInfo().workflowId);
  if (startProblem && patched(PATCHES.refuseBadStart)) throw ApplicationFailure.nonRetryable(startProblem, 'SourceStartRefused');
  const limit = inlineLimit(input.payloadInlineBytes);
  // While a state carried by reference is read (or, on a fresh start, looked for: a cancelled run may
  // have left one), the status says so and readers ask again; signals and updates wait.
  const fresh = !input.state && !input.stateRef;
  let loaded = false;
  let state = initialState();
  let current: SourceStatus['currentCycle'];
  let stateNotStored: SourceStatus['stateNotStored'];
  const fullStatus = (): SourceStatus => ({
    source: input.source,
    phase: current ? 'running' : 'idle',
    ...(current ? { currentCycle: current } : {}),
    queue: state.queue,
    ...(state.lastCycle ? { lastCycle: state.lastCycle } : {}),
    recentCycles: state.recentCycles,
    failed: state.failed,
    ledger: state.ledger,
    ...(state.lastExport ? { lastExport: state.lastExport } : {}),
    ignoredRequests: state.ignoredRequests,
    droppedTables: state.droppedTables,
    ...(stateNotStored ? { stateNotStored } : {}),
  });
  // Every page of the ledger and the failed tables is in table order: sorted once while their tables stay the same (and the ledger measured once).
  const pageCache: StatusPageCache = {};
  setHandler(statusQuery, (): SourceStatus => {
    if (!loaded) throw new Error(STATE_LOADING);
    // A status too large for one answer leaves its biggest parts to the statusPage query.
    return compactStatus(fullStatus(), limit, pageCache);
  });
  setHandler(statusPageQuery, (req) => {
    if (!loaded) throw new Error(STATE_LOADING);
    return statusPage(state, req, limit, current, pageCache);
  });
  setHandler(requestQuery, (requestId) => {
    if (!loaded) throw new Error(STATE_LOADING);
    return requestStanding(state, requestId, current, running);
  });

  // The requests of the cycle running now, as they were queued: a repeated signal of them is dropped, and a repeat asking otherwise is no repeat.
  let running: readonly QueuedRequest[] = [];
  /** Asked only of a request whose requestId is queued or running with other content, so other histories record no marker. */
  const refuseDifferent = () => patched(PATCHES.differentRepeat);
  /** Asked only of a request whose requestId a recent cycle served for a request asking otherwise, so other histories record no marker. */
  const refuseServedDifferent = () => patched(PATCHES.servedDifferentRepeat);
  /** Asked only of a request whose requestId is queued, running or served for a request of the other kind, so other histories record no marker. */
  const refuseOtherKind = () => patched(PATCHES.otherKind);
  const duplicates = { running: () => running, dropDuplicates: () => patched(PATCHES.dropRepeatedSignals), refuseDifferent, refuseServedDifferent, refuseOtherKind };

  /** The request with a blank requestId left out; asked only of such a request, so other histories record no marker. */
  const readRequest = <T>(req: T): T => (hasBlankRequestId(req) && patched(PATCHES.blankRequestId) ? withoutBlankRequestId(req) : req);

  /**
   * An update whose requestId is queued, running or served is refused as a repeat, as the signal is
   * dropped: a service that resends it after losing the answer must not get a second cycle. In the
   * validator, which replay never runs, so no patch guards it.
   */
  const repeatedUpdate = (kind: 'sync' | 'rerun', req: SyncRequest | RerunRequest | undefined, inValidator: boolean): string | undefined => {
    if (hasBlankRequestId(req)) return undefined;
    const check = {
      running: () => running,
      dropDuplicates: () => true,
      refuseDifferent: () => inValidator || refuseDifferent(),
      refuseServedDifferent: () => inValidator || refuseServedDifferent(),
      refuseOtherKind: () => inValidator || refuseOtherKind(),
    };
    return differentRepeat(state, req, check, kind) ?? repeatedRequest(state, req?.requestId, check);
  };

  /**
   * Requests that arrive while the state is read (or looked for), in the order they came: served once
   * it is read. An update waits for it, as a signal does (the SDK rejects an update that finds no
   * handler, as if the worker knew no such update): its validator checks what needs no state, and
   * the rest is checked when it is served.
   */
  const waiting: { kind: 'sync' | 'rerun'; serve: () => void }[] = [];

  /** Asked of a signal (or an update served after the state was read) only when the queue is full, so other histories record no marker. */
  const refuseWhenFull = () => patched(PATCHES.queueBound);
  /** Why an update served in the handler is refused for a full queue (the validator, never replayed, needs no patch). */
  const queueFull = (inValidator: boolean): string | undefined => {
    const full = queueFullProblem(state);
    return full && (inValidator || refuseWhenFull()) ? full : undefined;
  };
  /** Asked only of a request whose requestId or requestedBy is no short string, so other histories record no marker. */
  const refuseBadSenderFields = () => patched(PATCHES.senderFields);
  /** Asked only of a dropped request naming no sender when an earlier such entry of its kind and reason is kept, so other histories record no marker. */
  const mergeUnnamedIgnored = () => patched(PATCHES.mergeUnnamedIgnored);
  const badSender = (req: unknown, inValidator: boolean): string | undefined => {
    const problem = senderFieldsProblem(req);
    return problem && (inValidator || refuseBadSenderFields()) ? problem : undefined;
  };
  /** Asked only of a request whose requestId has the form of the source's own, so other histories record no marker. */
  const refuseReservedRequestIds = () => patched(PATCHES.reservedRequestIds);
  const reservedId = (req: unknown, inValidator: boolean): string | undefined => {
    const problem = reservedRequestIdProblem(req);
    return problem && (inValidator || refuseReservedRequestIds()) ? problem : undefined;
  };
  /** Asked only of a request naming a table longer than TABLE_NAME_CHARACTERS, so other histories record no marker. */
  const refuseLongTableNames = () => patched(PATCHES.longTableNames);
  const longNames = (req: unknown, inValidator: boolean): string | undefined => {
    const problem = longTableNamesProblem(req);
    return problem && (inValidator || refuseLongTableNames()) ? problem : undefined;
  };
  /** Asked only of a signal with a field its kind does not have, so other histories record no marker. */
  const refuseUnknownFields = () => patched(PATCHES.unknownFields);
  /** Asked only of a request naming more tables than a request, or the queue, may: so other histories record no marker. */
  const refuseTooManyTables = () => patched(PATCHES.tableCount);
  /** The request's own count: checked with its other problems, before the state's. */
  const tooMany = (req: unknown, inValidator: boolean): string | undefined => {
    const problem = tooManyTablesProblem(req);
    return problem && (inValidator || refuseTooManyTables()) ? problem : undefined;
  };
  /** The queue's count, with this request's tables. */
  const queuedTables = (req: unknown, inValidator: boolean): string | undefined => {
    const problem = queuedTablesProblem(state, req);
    return problem && (inValidator || refuseTooManyTables()) ? problem : undefined;
  };
  /** What both kinds of request signal are checked for (each asked only when its problem is found). */
  const signalOptions = {
    duplicates,
    refuseBadTables: () => patched(PATCHES.refuseBadSyncSignal),
    refuseWhenFull,
    refuseBadSenderFields,
    mergeUnnamedIgnored,
    refuseReservedRequestIds,
    refuseLongTableNames,
    refuseUnknownFields,
    refuseTooManyTables,
  };
  function whenLoaded(kind: 'sync' | 'rerun', serve: () => void): void {
    if (loaded) serve();
    else waiting.push({ kind, serve });
  }
  function onceLoaded<R>(kind: 'sync' | 'rerun', problem: () => string | undefined, accept: () => R | Promise<R>): R | Promise<R> {
    if (loaded) return accept();
    return new Promise<R>((resolve, reject) => {
      waiting.push({
        kind,
        serve: () => {
          const found = problem();
          if (found) reject(ApplicationFailure.nonRetryable(found, 'RequestRefused'));
          else resolve(accept());
        },
      });
    });
  }
  /**
   * Serves the requests that came while the state was read. They were once left to the SDK, which
   * handed every sync to its handler before any rerun: a history recorded so replays so. (Those of
   * a run's first task still come so, handler by handler, as they are registered.)
   */
  function serveWaiting(): void {
    const rerunBeforeSync = waiting.some((w, i) => w.kind === 'sync' && waiting.slice(0, i).some((x) => x.kind === 'rerun'));
    const inOrder = !rerunBeforeSync || patched(PATCHES.waitingInArrivalOrder);
    const order = inOrder ? [...waiting] : [...waiting.filter((w) => w.kind === 'sync'), ...waiting.filter((w) => w.kind === 'rerun')];
    waiting.length = 0;
    for (const w of order) w.serve();
  }

  setHandler(requestSyncSignal, (given: SyncRequest | undefined) =>
    whenLoaded('sync', () => {
      const req = readRequest(given);
      const problem = enqueueSyncSignal(state, req, nowIso(), {
        ...signalOptions,
        refuseStringTables: () => patched(PATCHES.stringTablesDropped),
        refuseNonObjectPayload: () => patched(PATCHES.refuseNonObjectSync),
      });
      if (problem) log.warn('sync signal ignored', { problem, request: req });
    }),
  );

  /**
   * What is wrong with the request itself: all that is checked before the state is read, and what
   * is checked first after, so that a request gets the same answer whenever it arrives.
   */
  const syncRequestRefusal = (req: SyncRequest, inValidator: boolean) => syncProblem(initialState(), req) ?? longNames(req, inValidator) ?? tooMany(req, inValidator) ?? badSender(req, inValidator) ?? reservedId(req, inValidator);
  // Once the source knows its tables, a sync naming others is refused before anything runs.
  const syncRefusal = (req: SyncRequest, inValidator = false) => syncRequestRefusal(req, inValidator) ?? syncProblem(state, req) ?? repeatedUpdate('sync', req, inValidator) ?? queueFull(inValidator) ?? queuedTables(req, inValidator);
  setHandler(syncUpdate, (req: SyncRequest): SyncAccepted | Promise<SyncAccepted> => onceLoaded<SyncAccepted>('sync', () => (resendOf('sync', req) ? undefined : syncRefusal(req)), () => acceptSyncUpdate(req)), {
    validator: (req: SyncRequest) => {
      // A copy resent while the first is checked gets the first's answer, whatever changed since: no other check applies.
      if (loaded && checkUnderWay('sync', req)) return;
      // Before the state is read only the payload can be checked (against the empty state: no table is known yet).
      const problem = unknownFieldsProblem(req, 'sync') ?? unqualifiedProblem(req) ?? (loaded ? syncRefusal(req, true) : syncRequestRefusal(req, true));
      if (problem) throw new Error(problem);
    },
  });

  setHandler(requestRerunSignal, (given: RerunRequest | undefined) =>
    whenLoaded('rerun', () => {
      const req = readRequest(given);
      const problem = enqueueRerunSignal(state, req, nowIso(), {
        ...signalOptions,
        directRerun: () => patched(PATCHES.directRerunSignal),
        refuseBadApprovals: () => patched(PATCHES.refuseTextApprovals),
        keepApprovalsInSync: () => patched(PATCHES.syncKeepsRerunApprovals),
        refuseUnknownTables: () => patched(PATCHES.refuseUnknownRerunBeforeExport),
        markAskedAsRerun: () => patched(PATCHES.otherKind),
      });
      if (problem) log.warn('rerun signal ignored', { problem, request: req });
    }),
  );

  /** As `syncRequestRefusal`, for a rerun. */
  const rerunRequestRefusal = (req: RerunRequest, inValidator: boolean) => rerunPayloadProblem(req) ?? longNames(req, inValidator) ?? tooMany(req, inValidator) ?? approvalsProblem(req) ?? badSender(req, inValidator) ?? reservedId(req, inValidator);
  const rerunRefusal = (req: RerunRequest, inValidator = false) => rerunRequestRefusal(req, inValidator) ?? rerunProblem(state, req) ?? repeatedUpdate('rerun', req, inValidator) ?? queueFull(inValidator) ?? queuedTables(req, inValidator);
  setHandler(rerunUpdate, (req: RerunRequest): RerunAccepted | Promise<RerunAccepted> => onceLoaded<RerunAccepted>('rerun', () => (resendOf('rerun', req) ? undefined : rerunRefusal(req)), () => acceptRerun(req)), {
    validator: (req: RerunRequest) => {
      // A copy resent while the first is checked gets the first's answer, whatever changed since: no other check applies.
      if (loaded && checkUnderWay('rerun', req)) return;
      // Validators run only when an update arrives, never on replay: no patch guards what they refuse.
      const problem = unknownFieldsProblem(req, 'rerun') ?? unqualifiedProblem(req) ?? (loaded ? rerunRefusal(req, true) : rerunRequestRefusal(req, true));
      if (problem) throw new Error(problem);
    },
  });

  const { excludedTables } = proxyActivities<Activities>(SETTINGS_ACTIVITY);
  /**
   * Where each queued request stands with its check against the worker's config (in this run): a
   * rerun update's check under way, with the update as sent and the answer it will get (it is not
   * taken, nor checked again when served, until it ends, so that the update can still take its own
   * out); `checked` once done. A request without an entry is checked when served.
   */
  const configChecks = new Map<QueuedRequest, CheckUnderWay | 'checked'>();
  const isChecking = (r: QueuedRequest) => typeof configChecks.get(r) === 'object';

  /**
   * The check under way of the rerun update this one resends (same requestId, same request): a
   * service that lost the first's answer (or whose call timed out) gets that answer, not a refusal
   * as a repeat of a request that may yet be refused.
   */
  function checkUnderWay<K extends CheckUnderWay['kind']>(kind: K, req: RerunRequest | SyncRequest | undefined): Extract<CheckUnderWay, { kind: K }> | undefined {
    const id: unknown = typeof req === 'object' && req !== null ? req.requestId : undefined;
    if (typeof id !== 'string' || id.trim() === '') return undefined;
    for (const [queued, check] of configChecks) {
      if (check !== 'checked' && check.kind === kind && queued.requestId === id && sameRequest(check.request, req!)) return check as Extract<CheckUnderWay, { kind: K }>;
    }
    return undefined;
  }

  /** In the handler: `checkUnderWay`, asked of the patch only for such a copy, so other histories record no marker. */
  const resendOf = <K extends CheckUnderWay['kind']>(kind: K, req: RerunRequest | SyncRequest | undefined): Extract<CheckUnderWay, { kind: K }> | undefined => {
    const first = checkUnderWay(kind, req);
    return first && patched(PATCHES.resentWhileChecked) ? first : undefined;
  };

  /**
   * Queues a sync update; one of named tables that the worker's config all excludes is refused,
   * saying so, as a rerun update is: it takes its place in the queue at once and leaves it if
   * refused (histories recorded before `refuseExcludedSyncUpdate` queued it, and dropped it when served).
   */
  function acceptSyncUpdate(req: SyncRequest): SyncAccepted | Promise<SyncAccepted> {
    const first = resendOf('sync', req);
    if (first) return first.answer;
    const named = Array.isArray(req?.tables) ? [...new Set(req.tables)] : [];
    if (named.length === 0 || !patched(PATCHES.refuseExcludedSyncUpdate)) return acceptSync(state, readRequest(req));
    return checkJustQueued({ kind: 'sync', request: req }, acceptSync(state, readRequest(req)), named);
  }

  /**
   * Queues a rerun update that passed `rerunRefusal`; one of named tables that the worker's config
   * all excludes is refused first, saying so. When the config cannot be read, it is queued (and
   * checked again when served). It takes its place in the queue before the config is read (histories
   * recorded before `rerunUpdateQueuedBeforeCheck` queued it after, behind requests sent meanwhile).
   */
  async function acceptRerun(req: RerunRequest): Promise<RerunAccepted> {
    const first = resendOf('rerun', req);
    if (first) return first.answer;
    const named = Array.isArray(req.tables) ? [...new Set(req.tables)] : [];
    if (named.length === 0 || !patched(PATCHES.refuseExcludedRerunUpdate)) return enqueueRerun(state, readRequest(req));
    if (patched(PATCHES.rerunUpdateQueuedBeforeCheck)) return queueThenCheckRerun(req, named);
    let checked = false;
    try {
      const problem = excludedRerunProblem(named, await excludedTables(input.source, named), input.source);
      if (problem) throw ApplicationFailure.nonRetryable(problem, 'RequestRefused');
      checked = true;
    } catch (err) {
      if (isCancellation(err) || err instanceof ApplicationFailure) throw err;
      log.warn("the rerun was not checked against the worker's config: it is queued, and checked when served", { error: errorMessage(err) });
    }
    // The state may have changed while the config was read: checked again.
    const refusal = rerunRefusal(req);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'RequestRefused');
    const accepted = enqueueRerun(state, readRequest(req));
    if (checked) configChecks.set(state.queue.at(-1)!, 'checked');
    return accepted;
  }

  /**
   * Queues a rerun update of named tables at once, so that it keeps its place before requests sent
   * after it while the config is read; then refuses it, and takes it out of the queue, when the
   * config excludes all its tables (or the source is cancelled meanwhile). When the config cannot be
   * read, it stays queued, and is checked again when served.
   */
  function queueThenCheckRerun(req: RerunRequest, named: TableName[]): Promise<RerunAccepted> {
    return checkJustQueued({ kind: 'rerun', request: req }, enqueueRerun(state, readRequest(req)), named);
  }

  /**
   * Checks the update just queued (the queue's last request, `accepted` its answer if the config
   * lets it) against the worker's config, recorded as under way until the check ends: a copy resent
   * meanwhile gets the same answer.
   */
  function checkJustQueued<A extends RerunAccepted | SyncAccepted>(update: Omit<CheckUnderWay, 'answer'>, accepted: A, named: TableName[]): Promise<A> {
    const queued = state.queue.at(-1)!;
    const check = { ...update, answer: Promise.resolve(accepted) } as CheckUnderWay;
    configChecks.set(queued, check);
    const answer = checkQueued(queued, accepted, named);
    check.answer = answer as CheckUnderWay['answer'];
    return answer;
  }

  /** The answer to the update queued as `queued` (a rerun, or a sync), once its check against the worker's config has ended. */
  async function checkQueued<A>(queued: QueuedRequest, accepted: A, named: TableName[]): Promise<A> {
    const takeOut = () => {
      configChecks.delete(queued);
      state.queue = state.queue.filter((r) => r !== queued);
    };
    try {
      const problem = excludedRerunProblem(named, await excludedTables(input.source, named), input.source, queued.kind);
      if (problem) {
        takeOut();
        throw ApplicationFailure.nonRetryable(problem, 'RequestRefused');
      }
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      if (isCancellation(err)) {
        takeOut();
        // The run ends cancelled: its state, kept for the next start, no longer holds the rerun.
        if (patched(PATCHES.cancelledCheckSaysSo)) throw ApplicationFailure.nonRetryable(cancelledWhileChecked(input.source, queued.kind, queued.requestId), 'SourceCancelled');
        throw err;
      }
      configChecks.delete(queued);
      log.warn(`the ${queued.kind} was not checked against the worker's config: it is queued, and checked when served`, { requestId: queued.requestId, error: errorMessage(err) });
    } finally {
      if (isChecking(queued)) configChecks.set(queued, 'checked');
    }
    return accepted;
  }

  // A fresh start takes up the state a cancelled run left, read like one carried by continue-as-new.
  let resumedRef: JsonRef | undefined;
  try {
    resumedRef = fresh && patched(PATCHES.resumeCancelledState) ? await stateOfCancelledRun(input.source) : undefined;
    const ref = input.stateRef ?? resumedRef;
    if (input.state) state = normalizeState(input.state);
    else if (ref) state = normalizeState(await carriedState(input.source, ref, resumedRef ? CANCELLED_ORIGIN : CARRIED_ORIGIN, () => patched(PATCHES.cancelWhileReadingState)));
  } catch (err) {
    // Asked only when requests came while the state was read, so other histories record no marker.
    if (isCancellation(err) && waiting.length > 0 && patched(PATCHES.keepWaitingOnCancel)) await keepWaitingOfCancelledLoad();
    throw err;
  }
  const carriedRef = input.stateRef ?? resumedRef;
  if (resumedRef) await forgetStateOfCancelledRun(input.source);
  loaded = true;
  const { recoverCycleOutcomes } = proxyActivities<Activities>(RECOVERY_ACTIVITY);

  if (fresh && input.syncOnStart !== false) enqueueSync(state, { requestedBy: 'start' });
  serveWaiting();

  /** The cycles a request runs as: one, or for a rerun one per export its tables come from. */
  function cycleParts(batch: CoalescedRequest): CyclePart[] {
    const tables = batch.tables ? { tables: batch.tables } : {};
    if (batch.kind !== 'rerun') return [tables];
    if (patched(PATCHES.rerunParts)) {
      // Only a rerun of such a table records the patch marker: other histories are unchanged.
      const named = batch.tables ?? [];
      if (named.some((t) => skippedBeforeMark(state, t)) && patched(PATCHES.newExportForSkippedBefore)) markSkippedForNewExport(state, named);
      const parts = rerunParts(state, named);
      if (parts.length > 0) return parts;
    }
    return [{ ...tables, ...(state.lastExport ? { reuse: state.lastExport } : {}) }];
  }

  async function runCycle(batch: CoalescedRequest, part: CyclePart, partOf?: CycleRecord['part']): Promise<void> {
    const cycleNumber = ++state.cycleCount;
    const firstRunId = workflowInfo().firstExecutionRunId;
    const cycleId = patched(PATCHES.cycleKey) ? cycleKey(cycleNumber, firstRunId) : legacyCycleKey(cycleNumber, firstRunId);
    const workflowId = cycleWorkflowId(input.source, cycleId);
    const cycleInput: CycleInput = {
      source: input.source,
      cycleId,
      kind: batch.kind,
      approveDeletes: approvalFor(batch, part),
      allowOlderExport: batch.allowOlderExport ?? false,
      ...(batch.rebuild ? { rebuild: true } : {}),
      ...(part.tables ? { tables: part.tables } : {}),
      ...(part.reuse ? { reuse: part.reuse } : {}),
      // What the failed tables' reruns, the last export and the pending reruns need is kept by the cycle's retention.
      keep: retentionKeeps(state, batch),
      ...(input.payloadInlineBytes !== undefined ? { payloadInlineBytes: input.payloadInlineBytes } : {}),
    };
    current = { cycleId, workflowId, kind: batch.kind, ...(part.tables ? { tables: part.tables } : {}), startedAt: nowIso() };

    // Outcomes that came by reference: nothing reads their parts once the cycle is recorded.
    const transported: JsonRef[] = [];
    let result: CycleResult;
    let ended = false;
    void keepForQueuedReruns(workflowId, new Set([...(cycleInput.keep?.exportIds ?? []), ...(part.reuse ? [part.reuse.export.exportId] : [])]), () => ended);
    try {
      const what = batch.kind === 'rerun' ? `rerun of ${part.tables?.length ?? 0} table(s)` : part.tables ? `sync of ${part.tables.length} table(s)` : 'sync of every table';
      const of = partOf ? ` (part ${partOf.index} of ${partOf.of})` : '';
      result = await executeChild(cycleWorkflow, { workflowId, args: [cycleInput], staticSummary: `${input.source} cycle ${cycleNumber}: ${what}${of}` });
    } catch (err) {
      result = await deadCycleResult(cycleInput, current.startedAt, errorMessage(err), transported);
    }
    ended = true;
    if (result.tablesRef) transported.push(result.tablesRef);
    if (result.tablesRef && patched(PATCHES.resultByReference)) result = await withStoredOutcomes(result, cycleInput, current.startedAt, transported);
    // What the requests asked joins the carried state only in histories with the marker: a state grown on replay could cross the inline limit and store itself by reference.
    const asked = patched(PATCHES.servedAsked) ? { asked: batch.asked } : {};
    const record: CycleRecord = { kind: batch.kind, requestIds: batch.requestIds, ...(part.tables ? { tables: part.tables } : {}), ...(partOf ? { part: partOf } : {}), ...asked };
    recordCycle(state, result, workflowId, record, { clean: patched(PATCHES.cleanLedger), dropWithoutExport: dropsWithoutExport(result, record), newExportForSkipped: skippedByExport(result), capError: () => patched(PATCHES.cycleErrorCapped), capTableError: () => patched(PATCHES.tableErrorCapped) });
    current = undefined;
    if (result.searchAttributes || hasSearchAttributes(result)) upsertSearchAttributes(cycleSearchAttributes(input.source, result.status, Object.keys(state.failed).length));
    if (transported.length > 0 && patched(PATCHES.deleteReadParts)) await deleteTransported(cycleId, transported);
  }

  /**
   * While cycle `workflowId` runs, sends it the exports that reruns queued meanwhile reuse and that
   * its retention was not told to keep when it started (`kept`): its retention could else delete
   * them, and those reruns would take a new snapshot and export. Only a history with such a rerun
   * records the patch marker.
   */
  async function keepForQueuedReruns(workflowId: string, kept: Set<string>, ended: () => boolean): Promise<void> {
    const seen = new Set<QueuedRequest>(state.queue);
    const newReruns = () => state.queue.filter((r) => !seen.has(r) && r.kind === 'rerun' && r.tables !== undefined);
    try {
      for (;;) {
        await condition(() => ended() || newReruns().length > 0);
        if (ended()) return;
        const reruns = newReruns();
        for (const r of reruns) seen.add(r);
        const wanted = [...new Set(reruns.flatMap((r) => rerunExports(state, r.tables!)))].filter((id) => !kept.has(id)).sort();
        if (wanted.length === 0) continue;
        if (!patched(PATCHES.keepQueuedRerunExports)) return;
        for (const id of wanted) kept.add(id);
        await getExternalWorkflowHandle(workflowId).signal(keepExportsSignal, { exportIds: wanted });
      }
    } catch (err) {
      // The cycle ended (or the source was cancelled) meanwhile: a rerun that finds its export gone takes a new one.
      if (!isCancellation(err)) log.warn('the exports of a queued rerun could not be sent to the running cycle', { workflowId, error: errorMessage(err) });
    }
  }

  /** A rerun's approval of deletes, for one of its parts: it holds only on the exports it was asked on. */
  function approvalFor(batch: CoalescedRequest, part: CyclePart): boolean {
    const miss = approvalMiss(state, batch, part);
    // Only a part the approval misses records a marker: other histories are unchanged.
    if (miss === 'export') return !patched(PATCHES.approvalOnAskedExports);
    if (miss === 'newExport') return !patched(PATCHES.newExportApprovalApart);
    return batch.approveDeletes;
  }

  /** Only a cycle whose export skipped a table records the patch marker: other histories are unchanged. */
  function skippedByExport(result: CycleResult): boolean {
    return result.tables.some((t) => t.status === 'failed' && t.error?.type === 'NotExported') && patched(PATCHES.newExportForSkipped);
  }

  /** Only a cycle the new rule can apply to records the patch marker: other histories are unchanged. */
  function dropsWithoutExport(result: CycleResult, record: CycleRecord): boolean {
    return record.kind === 'sync' && record.tables === undefined && !result.export && !result.error && patched(PATCHES.dropWithoutExport);
  }

  /**
   * A cycle that ended without a result does not say whether the namespace has the search
   * attributes: the source's own, set after an earlier cycle (and carried by continue-as-new), do.
   */
  function hasSearchAttributes(result: CycleResult): boolean {
    return result.searchAttributes === undefined && workflowInfo().typedSearchAttributes.get(SOURCE_KEY) !== undefined && patched(PATCHES.deadCycleSearch);
  }

  /** Best effort: parts left behind cost storage only, so a failed delete is logged, not failed. */
  async function deleteTransported(cycleId: string, refs: JsonRef[]): Promise<void> {
    try {
      await evenIfCancelled(() => deleteTexts(input.source, refs), recoverCancelled);
    } catch (err) {
      log.warn('the outcome parts of a recorded cycle were not deleted', { cycleId, parts: refs.flatMap((r) => r.parts), error: errorMessage(err) });
    }
  }

  /** The outcomes a cycle stored by reference; unreadable, the cycle counts as dead (its commits are read back from the lake). */
  async function withStoredOutcomes(result: CycleResult, cycle: CycleInput, startedAt: string, transported: JsonRef[]): Promise<CycleResult> {
    try {
      const tables = await evenIfCancelled(() => readText<TableOutcome[]>(input.source, result.tablesRef!), recoverCancelled);
      const { tablesRef: _stored, ...rest } = result;
      return { ...rest, tables };
    } catch (err) {
      return deadCycleResult(cycle, startedAt, `its ${result.tablesRef!.count} table outcomes could not be read from the manifest store: ${errorMessage(err)}`, transported);
    }
  }

  /** Stores the state for the next run; stored again should a handler change it meanwhile (the earlier copies are unused). */
  async function storeState(label = ''): Promise<StoredState> {
    const unused: JsonRef[] = [];
    for (let attempt = 1; ; attempt++) {
      const text = JSON.stringify(state);
      const ref = await storeText(input.source, `source-state/${workflowInfo().runId}/${label}${attempt}`, text, limit);
      await condition(allHandlersFinished);
      if (JSON.stringify(state) === text) return { ref, unused, text };
      unused.push(ref);
    }
  }

  /**
   * On cancel the state is stored and marked for the next start, out of the cancelled scope (its
   * activities would fail at once). Handlers still take requests while the marker is written: a
   * state they changed is stored and marked again. Should that fail, the workflow still ends
   * cancelled, its state lost.
   */
  async function keepStateOfCancelledRun(): Promise<void> {
    try {
      await CancellationScope.nonCancellable(async () => {
        let stored = await storeState('cancelled-');
        for (let round = 2; ; round++) {
          await markCancelledState(input.source, stored.ref);
          if (stored.unused.length > 0) await deleteCarriedParts(stored.unused);
          // Asked only when a handler changed the stored state meanwhile, so other histories record no marker.
          const settled = allHandlersFinished() && JSON.stringify(state) === stored.text;
          if (settled || !patched(PATCHES.markCancelledStateAgain)) return;
          const marked = stored.ref;
          stored = await storeState(`cancelled-r${round}-`);
          stored.unused.push(marked);
        }
      });
    } catch (err) {
      log.warn('the state of the cancelled source workflow was not stored: the next start begins afresh', { error: errorMessage(err) });
    }
  }

  /**
   * Cancelled while it looks for or reads its state, the run holds the requests that came meanwhile
   * in `waiting` only: the state is read out of the cancelled scope, they are served into it, and it
   * is kept for the next start as any cancelled run's. Should that fail, they are lost, as the log says.
   */
  async function keepWaitingOfCancelledLoad(): Promise<void> {
    try {
      await CancellationScope.nonCancellable(async () => {
        const ref = input.stateRef ?? (fresh ? await cancelledState(input.source) : undefined);
        if (ref) state = normalizeState(await readText<SourceState>(input.source, ref));
        loaded = true;
        serveWaiting();
      });
    } catch (err) {
      log.warn('the requests that came while the cancelled source workflow read its state were not kept', { requests: waiting.length, error: errorMessage(err) });
      return;
    }
    await keepStateOfCancelledRun();
  }

  /** Best effort, as for outcome parts: state parts left behind cost storage only. */
  async function deleteCarriedParts(refs: JsonRef[]): Promise<void> {
    try {
      await deleteTexts(input.source, refs);
    } catch (err) {
      log.warn('the parts of an earlier carried state were not deleted', { parts: refs.flatMap((r) => r.parts), error: errorMessage(err) });
    }
  }

  /**
   * The cycle workflow failed or was terminated, so it returned no outcomes. Tables it committed
   * before it ended are in the lake: read them back, so their watermarks advance and only the
   * others are failed (with the cycle's error and its export, for a rerun).
   */
  async function deadCycleResult(cycle: CycleInput, startedAt: string, message: string, transported: JsonRef[]): Promise<CycleResult> {
    const failed: CycleResult = { cycleId: cycle.cycleId, source: input.source, status: 'failed', error: { phase: 'cycle', message }, tables: [], warnings: [], startedAt, finishedAt: nowIso() };
    if (!patched(PATCHES.recovery)) return failed;
    return evenIfCancelled(() => recoveredCycleResult(cycle, failed, message, transported), recoverCancelled);
  }

  /** Histories from before the rule that a cancelled cycle's outcomes are still read and recorded. */
  function recoverCancelled(): boolean {
    return patched(PATCHES.recoverCancelledCycle);
  }

  /** The dead cycle's result with the outcomes read back from the lake; unreadable, none and a warning. */
  async function recoveredCycleResult(cycle: CycleInput, failed: CycleResult, message: string, transported: JsonRef[]): Promise<CycleResult> {
    try {
      const byReference = patched(PATCHES.recoveredByReference) ? { payloadInlineBytes: limit } : {};
      const recovered = await recoverCycleOutcomes({ source: input.source, cycleId: cycle.cycleId, error: message, ...(cycle.reuse ? { reuse: cycle.reuse } : {}), ...byReference });
      if (recovered.tablesRef) transported.push(recovered.tablesRef);
      const tables = recovered.tablesRef ? await readText<TableOutcome[]>(input.source, recovered.tablesRef) : recovered.tables;
      return {
        ...failed,
        ...(recovered.snapshot ? { snapshot: recovered.snapshot } : {}),
        ...(recovered.export ? { export: recovered.export } : {}),
        tables,
        warnings: recovered.warnings,
        finishedAt: nowIso(),
        ...(recovered.cost && patched(PATCHES.deadCycleExportCost) ? { cost: recovered.cost } : {}),
      };
    } catch (err) {
      // Cancelled with the source while it read them: read again out of the cancelled scope, else the cycle's commits go unrecorded.
      if (isCancellation(err) && CancellationScope.current().consideredCancelled && patched(PATCHES.recoverAfterCancel)) {
        return CancellationScope.nonCancellable(() => recoveredCycleResult(cycle, failed, message, transported));
      }
      return { ...failed, warnings: [`the outcomes of its tables could not be read back from the lake: ${errorMessage(err)}`], finishedAt: nowIso() };
    }
  }

  // A run that read its state by reference has a history the server may already find long: it
  // follows the server's suggestion only after a cycle, else it would continue as new at once, again and again.
  const firstCycle = state.cycleCount;
  // The history the run had once its state was read: what it grows by since is its own (dropped signals too).
  const loadedHistorySize = workflowInfo().historySize;
  // Asked only of a run whose history grew that much and that would not continue otherwise, so other histories record no marker.
  const grownTooLong = () => workflowInfo().historySize - loadedHistorySize > MAX_HISTORY_GROWTH_BYTES && patched(PATCHES.historyGrowth);
  const mayContinue = () => shouldContinueAsNew(!input.stateRef || state.cycleCount > firstCycle) || grownTooLong();

  /** Runs the queued requests, one cycle at a time, until the queue is empty and the run should continue as new. */
  async function serveRequests(): Promise<void> {
    for (;;) {
      await condition(() => state.queue.length > 0 || mayContinue());
      if (state.queue.length === 0) return;
      // A rerun update still being checked is not taken, nor are the requests that would be taken with it.
      if (checkingAhead()) {
        await condition(() => !checkingAhead());
        continue;
      }
      // A rerun is checked against the worker's config of now when it is served: one queued before a table was excluded (or included again) too.
      if (state.queue[0]!.kind === 'rerun' && (await dropExcludedReruns())) continue;
      // A sync of named tables likewise (a Schedule's --tables was checked against the config of when it was created).
      if (state.queue[0]!.kind === 'sync' && state.queue[0]!.tables?.length && (await dropExcludedSyncs())) continue;

      const queuedNow = [...state.queue];
      // Only a rerun kept apart from an approval on other exports records the marker: other histories are unchanged.
      const batch = takeCoalesced(state.queue, { failed: state.failed, narrow: () => patched(PATCHES.narrowFailedReruns) }, { splitApprovals: () => patched(PATCHES.splitApprovals) });
      if (batch.kind === 'rerun' && batch.tables?.length === 0) {
        dropServedAlready(batch);
        continue;
      }
      running = queuedNow.filter((q) => batch.requestIds.includes(q.requestId));
      const parts = cycleParts(batch);
      for (const [i, part] of parts.entries()) {
        // Cancelled with the source during an earlier part: a later one would start no cycle, yet be recorded as a failed one.
        if (i > 0 && CancellationScope.current().consideredCancelled && patched(PATCHES.noPartsAfterCancel)) break;
        await runCycle(batch, part, parts.length > 1 ? { index: i + 1, of: parts.length } : undefined);
      }
      running = [];
      if (mayContinue()) return;
    }
  }

  /** Whether a rerun update still being checked is at the head of the queue, or among the requests of the head's kind right behind it (which a cycle would take with it). */
  function checkingAhead(): boolean {
    const kind = state.queue[0]?.kind;
    for (const r of state.queue) {
      if (r.kind !== kind) return false;
      if (isChecking(r)) return true;
    }
    return false;
  }

  /**
   * Drops the queued reruns of named tables that the worker's config now all excludes. Whether it
   * checked any: requests that came meanwhile are checked on the next pass. When the config cannot
   * be read, the reruns go on to their cycle, which fails saying why.
   */
  async function dropExcludedReruns(): Promise<boolean> {
    const unchecked = uncheckedReruns(state.queue, configChecks);
    if (unchecked.length === 0 || !patched(PATCHES.refuseExcludedRerun)) return false;
    await dropExcludedRequests(unchecked);
    return true;
  }

  /** Drops the queued syncs of named tables that the worker's config now all excludes, as for reruns. Whether it checked any. */
  async function dropExcludedSyncs(): Promise<boolean> {
    const unchecked = uncheckedSyncs(state.queue, configChecks);
    if (unchecked.length === 0 || !patched(PATCHES.refuseExcludedSync)) return false;
    await dropExcludedRequests(unchecked);
    return true;
  }

  /** Checks these queued requests against the worker's config; when it cannot be read, they go on to their cycle, which fails saying why. */
  async function dropExcludedRequests(unchecked: QueuedRequest[]): Promise<void> {
    for (const r of unchecked) configChecks.set(r, 'checked');
    try {
      const excluded = await excludedTables(input.source, [...new Set(unchecked.flatMap((r) => r.tables ?? []))]);
      dropExcluded(state, unchecked, excluded, input.source, nowIso(), { mergeUnnamed: mergeUnnamedIgnored });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn("the requests were not checked against the worker's config: they run as asked", { requestIds: unchecked.map((r) => r.requestId), error: errorMessage(err) });
    }
  }

  /** Reruns of "failed" whose tables all fail no more: dropped with the reason, so that their waiters learn it. */
  function dropServedAlready(batch: CoalescedRequest): void {
    recordServedAlready(state, batch, nowIso(), { mergeUnnamed: mergeUnnamedIgnored });
    log.info('rerun of failed tables dropped: they fail no more', { requestIds: batch.requestIds });
  }

  let staleDeleted = false;
  let storeRetrySeconds = STATE_STORE_RETRY_SECONDS.first;

  /**
   * Continues as new with the state, inline or by reference. Returns only when a state too large to
   * carry inline could not be stored: the run keeps it, serves what comes meanwhile, and tries again.
   */
  async function continueWithState(): Promise<void> {
    // Parts of a state read two runs back: the previous run, which read them, can no longer be reset to its start.
    // Deleted before the handlers are awaited, so nothing can change the state between its store and the new run.
    const deletesCarried = patched(PATCHES.deleteCarriedState);
    if (deletesCarried && input.staleStateRefs?.length && !staleDeleted) await deleteCarriedParts(input.staleStateRefs);
    staleDeleted = true;
    await condition(allHandlersFinished);
    const keepLimit = input.payloadInlineBytes !== undefined ? { payloadInlineBytes: input.payloadInlineBytes } : {};
    const stale = (unused: JsonRef[]) => {
      const refs = [...(carriedRef ? [carriedRef] : []), ...unused];
      return deletesCarried && refs.length > 0 ? { staleStateRefs: refs } : {};
    };
    if (jsonBytes(state) > limit && patched(PATCHES.stateByReference)) {
      const stored = await storeStateOrWait();
      if (!stored) return;
      await continueAsNew<typeof sourceWorkflow>({ source: input.source, syncOnStart: false, stateRef: stored.ref, ...stale(stored.unused), ...keepLimit });
    }
    await continueAsNew<typeof sourceWorkflow>({ source: input.source, syncOnStart: false, state, ...stale([]), ...keepLimit });
  }

  /**
   * The state stored for the next run or, when the manifest store refuses it, nothing: the failure is
   * shown in the status and the run waits (until a request comes, or the retry is due) with its state whole.
   */
  async function storeStateOrWait(): Promise<StoredState | undefined> {
    try {
      const stored = await storeState();
      stateNotStored = undefined;
      return stored;
    } catch (err) {
      if (isCancellation(err) || !patched(PATCHES.retryStateStore)) throw err;
      const retryAt = isoAfter(storeRetrySeconds);
      stateNotStored = {
        message: `the source's state (${jsonBytes(state)} bytes) could not be stored in the manifest store to continue as new: ${errorMessage(err)}; this run keeps the state and serves requests, and tries again at ${retryAt}; make the manifest store writable`,
        at: nowIso(),
        retryAt,
      };
      log.warn('the source state could not be stored for continue-as-new; the run keeps it and tries again', { error: errorMessage(err), retryAt });
      await condition(() => state.queue.length > 0, `${storeRetrySeconds}s`);
      storeRetrySeconds = Math.min(storeRetrySeconds * 2, STATE_STORE_RETRY_SECONDS.most);
      return undefined;
    }
  }

  try {
    await serveRequests();
    await continueWithState();
    // Only a state that could not be stored brings the run here: it goes on serving and tries again.
    for (;;) {
      await serveRequests();
      await continueWithState();
    }
  } catch (err) {
    // A cycle cancelled with the source was recorded by runCycle, so the stored state holds it.
    if (isCancellation(err) && patched(PATCHES.storeStateOnCancel)) await keepStateOfCancelledRun();
    throw err;
  }
}

/**
 * The state a cancelled run marked for the next start. When the marker cannot be read, the start
 * fails: beginning afresh would leave the marker to resume an older state after a later terminate.
 */
async function stateOfCancelledRun(source: string): Promise<JsonRef | undefined> {
  try {
    return await cancelledState(source);
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (failureType(err) === CONFIG_ERROR) throw notConfigured(source, err);
    throw ApplicationFailure.nonRetryable(
      `source ${source} could not look for the state a cancelled run may have left (source-state/cancelled.json in its manifest store): ${errorMessage(err)}; make the manifest store readable, or delete that file to start the source afresh (without that run's ledger, failed tables and queue), then start the source again`,
      'CancelledStateUnreadable',
    );
  }
}

/** The failure type of activities that find no such source in the worker's config (src/activities/deps.ts). */
const CONFIG_ERROR = 'ConfigError';

/** A source the worker's config does not define (or cannot serve): neither its manifest store nor a retry can help. */
function notConfigured(source: string, err: unknown): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `the worker's config cannot serve source ${source}: ${errorMessage(err)}; start the workflow of a source the config defines, or add or correct ${source} in lakesync.yaml and restart the worker`,
    CONFIG_ERROR,
  );
}

/** Once read, the marked state belongs to this run's chain; a marker left behind would resume it again after a terminate. */
async function forgetStateOfCancelledRun(source: string): Promise<void> {
  try {
    await forgetCancelledState(source);
  } catch (err) {
    log.warn('the marker of the state a cancelled run left was not deleted: a later fresh start could resume that state again', { source, error: errorMessage(err) });
  }
}

/** Where a stored state came from, and what to do when it cannot be read. */
interface StateOrigin {
  what: string;
  fix: string;
  /** Whether a run cancelled while it reads the state must mark it for the next start (a cancelled run's state is marked already). */
  markOnCancel: boolean;
}
const CARRIED_ORIGIN: StateOrigin = { what: 'carried over by continue-as-new', fix: 'then reset this workflow to its last workflow task', markOnCancel: true };
const CANCELLED_ORIGIN: StateOrigin = {
  markOnCancel: false,
  what: 'left by its cancelled run',
  fix: 'then start the source again; or delete source-state/cancelled.json there, and the next start begins afresh (without its ledger, failed tables and queue)',
};

/**
 * The state the previous run stored; a clear failure when it cannot be read. Cancelled meanwhile,
 * the run ends cancelled with the state kept for the next start, as any cancelled run's
 * (`keepsOnCancel` is false only to replay histories recorded before: the run failed).
 */
async function carriedState(source: string, ref: JsonRef, origin: StateOrigin, keepsOnCancel: () => boolean): Promise<SourceState> {
  try {
    const state = await readText<SourceState>(source, ref);
    // Parsed, yet no state (a part changed to other JSON): refused here, not a workflow task failing over and over on it.
    if (!isStateShaped(state)) throw new Error('it parses, but is no source state (a ledger, failed tables, a queue and recent cycles)');
    return state;
  } catch (err) {
    if (isCancellation(err) && keepsOnCancel()) {
      if (origin.markOnCancel) await markUnreadStateOfCancelledRun(source, ref);
      throw err;
    }
    throw ApplicationFailure.nonRetryable(
      `the state of source ${source} ${origin.what} (${ref.parts.length} part(s) in the manifest store, first ${ref.parts[0] ?? 'none'}) could not be read: ${errorMessage(err)}; restore the parts in the source's manifest store, ${origin.fix}`,
      'CarriedStateUnreadable',
    );
  }
}

/** Whether `value` has the fields every version of the source state has. */
function isStateShaped(value: unknown): value is SourceState {
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value)) return false;
  const s = value as Record<string, unknown>;
  return isObject(s.ledger) && isObject(s.failed) && Array.isArray(s.queue) && Array.isArray(s.recentCycles) && typeof s.cycleCount === 'number';
}

/** Out of the cancelled scope (its activities would fail at once); should that fail, the state is lost as the log says. */
async function markUnreadStateOfCancelledRun(source: string, ref: JsonRef): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() => markCancelledState(source, ref));
  } catch (err) {
    log.warn('the carried state of the cancelled source workflow was not marked for the next start: it begins afresh', { source, parts: ref.parts, error: errorMessage(err) });
  }
}

function shouldContinueAsNew(followSuggestion: boolean): boolean {
  const info = workflowInfo();
  return (followSuggestion && info.continueAsNewSuggested) || info.historyLength > MAX_HISTORY_EVENTS;
}
