/**
 * The source workflow's bookkeeping: the request queue, request validation, the watermark
 * ledger, the failed tables and the exports they name. Plain functions over `SourceState`, so
 * they are deterministic by construction and testable without a Temporal server. They run inside
 * the workflow sandbox: no Temporal imports, no I/O, no clock and no randomness here (times are
 * passed in).
 */
import { costTotals } from '../cost/ledger';
import { fnv1a64 } from '../ids';
import type { CycleResult, TableName, TableOutcome, Watermark } from '../model';
import { isSchemaTable } from '../names';
import { jsonBytes } from '../payload-text';
import { pageOf } from './by-reference';
import type {
  CycleSummary,
  DroppedTable,
  FailedTable,
  IgnoredRequest,
  QueuedRequest,
  RequestStanding,
  RerunAccepted,
  RerunRequest,
  ReusableExport,
  SourceState,
  SourceStatus,
  StatusPage,
  StatusPageRequest,
  StatusPart,
  SyncAccepted,
  SyncRequest,
  TableSummary,
} from './messages';

/** How many cycle summaries the status keeps, newest first. */
const RECENT_CYCLES = 20;
/** How many ignored requests and dropped tables the status keeps, newest first. */
const IGNORED_REQUESTS = 20;
const DROPPED_TABLES = 50;
/**
 * How many requests the queue keeps waiting: a service sending requests in a loop must not grow the
 * state the source carries (and every status answer) without end. Consecutive requests of one kind
 * are served by one cycle, so a queue this long is a sender that does not wait for its answers.
 */
export const QUEUE_LIMIT = 1000;

/** Why the queue takes no further request (it holds QUEUE_LIMIT), or undefined. */
export function queueFullProblem(state: SourceState): string | undefined {
  if (state.queue.length < QUEUE_LIMIT) return undefined;
  return (
    `the source's queue holds ${state.queue.length} requests, the most it keeps: this request is dropped; ` +
    `ask again once the status shows the queue served (a sender should wait for the answer to a request before it sends another)`
  );
}

/**
 * The most distinct tables one request may name. Before the first export the source cannot check
 * names against its tables, so a request of made-up names was queued whatever their number; and an
 * RDS export takes at most 200 KB of ExportOnly names (some ten thousand), so more could only fail its cycle.
 */
export const TABLES_PER_REQUEST = 10_000;

/**
 * The most table names the queued requests may name in all (a rerun of "failed" names none: its
 * tables are the source's failed ones). QUEUE_LIMIT bounds the requests, not their lists: a sender
 * in a loop naming thousands of made-up tables a request would grow the state (carried by every
 * continue-as-new) and every status answer to hundreds of megabytes.
 */
export const QUEUED_TABLES = 50_000;

/** The distinct names a request's list of tables holds; none for "failed", every table, or no list. */
function namedTables(req: unknown): number {
  const tables: unknown = typeof req === 'object' && req !== null ? (req as { tables?: unknown }).tables : undefined;
  return Array.isArray(tables) ? new Set(tables).size : 0;
}

/** Why a request names more than TABLES_PER_REQUEST distinct tables, or undefined. */
export function tooManyTablesProblem(req: unknown): string | undefined {
  const count = namedTables(req);
  if (count <= TABLES_PER_REQUEST) return undefined;
  return `a request names at most ${TABLES_PER_REQUEST} tables; this one names ${count}: send them in several requests, or leave tables out to sync every table`;
}

/** Why the queue takes no request naming these tables: the queued requests would name more than QUEUED_TABLES in all; or undefined. */
export function queuedTablesProblem(state: SourceState, req: unknown): string | undefined {
  const count = namedTables(req);
  if (count === 0) return undefined;
  const queued = state.queue.reduce((sum, r) => sum + (r.failedOnly ? 0 : (r.tables?.length ?? 0)), 0);
  if (queued + count <= QUEUED_TABLES) return undefined;
  return `the source's queue holds requests naming ${queued} tables, the most it keeps: this request, naming ${count} more, is dropped; ask again once the status shows the queue served (or leave tables out to sync every table)`;
}

/** `tooManyTablesProblem`, then `queuedTablesProblem`: why a request of so many tables is not queued, or undefined. */
function tableCountProblem(state: SourceState, req: unknown): string | undefined {
  return tooManyTablesProblem(req) ?? queuedTablesProblem(state, req);
}

/** `tableCountProblem` when the signal is to be dropped for it, else undefined. */
function tableCountFor(state: SourceState, req: unknown, options: QueueBoundOption): string | undefined {
  const problem = tableCountProblem(state, req);
  return problem && (options.refuseTooManyTables?.() ?? true) ? problem : undefined;
}

/**
 * The requests one cycle serves: the first queued request merged with those it absorbed, and the
 * tables reruns of "failed" named that fail no more (`noLongerFailed`, left out of `tables`).
 */
export type CoalescedRequest = QueuedRequest & {
  requestIds: string[];
  /** Who sent each of the requests, in the order of `requestIds` (undefined for one that names no sender). */
  senders: (string | undefined)[];
  /** What each of the requests asked (`askedFingerprint`), in the order of `requestIds`. */
  asked: string[];
  noLongerFailed?: TableName[];
};

/** The failed tables when a request is served, and whether a rerun of "failed" may leave out those that fail no more. */
export interface FailedNow {
  failed: Record<TableName, unknown>;
  /** Asked only when a table would be left out. False only to replay histories recorded before (it was rerun again). */
  narrow: () => boolean;
}

/** What the ledger needs to know of the request a cycle served. */
export interface CycleRecord {
  kind: 'sync' | 'rerun';
  requestIds: string[];
  /** The tables the cycle was asked for; absent for every table. */
  tables?: TableName[];
  /** Which of the consecutive cycles of one rerun this is. */
  part?: { index: number; of: number };
  /** What each of the requests asked (`askedFingerprint`), in the order of `requestIds`. */
  asked?: string[];
}

/** One cycle of a rerun: the tables whose own export is `reuse`. */
export interface RerunPart {
  reuse?: ReusableExport;
  tables: TableName[];
}

export function initialState(): SourceState {
  return { cycleCount: 0, ledger: {}, failed: {}, queue: [], exports: {}, recentCycles: [], knownTables: [], requestCounter: 0, ignoredRequests: [], droppedTables: [] };
}

/**
 * A state carried over by continue-as-new from an earlier version lacks the newer fields: fills
 * them in, with its last export as the one known export.
 */
export function normalizeState(state: SourceState): SourceState {
  const s = state as Partial<SourceState> & SourceState;
  s.exports ??= state.lastExport ? { [state.lastExport.export.exportId]: state.lastExport } : {};
  s.ignoredRequests ??= [];
  s.droppedTables ??= [];
  return s;
}

/**
 * A request as the source reads it: a blank `requestId` (a client that always writes the field
 * sends "") is no id, so the source gives the request one of its own and never takes it for a
 * repeat of another blank one. The request itself when its id is not blank, or it is no object.
 */
export function withoutBlankRequestId<T>(req: T): T {
  if (!hasBlankRequestId(req)) return req;
  const { requestId: _blank, ...rest } = req as { requestId?: string };
  return rest as T;
}

export function hasBlankRequestId(req: unknown): boolean {
  const id = typeof req === 'object' && req !== null ? (req as { requestId?: unknown }).requestId : undefined;
  return typeof id === 'string' && id.trim() === '';
}

/** The form of the ids the source gives requests sent without one: r1, r2, ... */
const GENERATED_REQUEST_ID = /^r[0-9]+$/;

/**
 * Why a request's `requestId` has the form the source gives requests sent without one, or
 * undefined: the start's own sync is r1, so a caller's r1 would be taken for a repeat of it (and
 * its waiter told it was served), and a caller's r7 and the source's later r7 would name two requests.
 */
export function reservedRequestIdProblem(req: unknown): string | undefined {
  const id: unknown = typeof req === 'object' && req !== null ? (req as { requestId?: unknown }).requestId : undefined;
  if (typeof id !== 'string' || !GENERATED_REQUEST_ID.test(id)) return undefined;
  return `requestId ${id} has the form r<number> that the source gives requests sent without one; send another requestId (e.g. prefixed with your service's name)`;
}

/** `reservedRequestIdProblem` when the signal is to be dropped for it, else undefined. */
function reservedFor(req: unknown, options: QueueBoundOption): string | undefined {
  const problem = reservedRequestIdProblem(req);
  return problem && (options.refuseReservedRequestIds?.() ?? true) ? problem : undefined;
}

/** The caller's request id, or the next one of the source; the counter advances only when it is used. */
function requestIdFor(state: SourceState, given: string | undefined): string {
  return given ?? `r${++state.requestCounter}`;
}

/** Queues a sync (of the named tables, or of every table) and returns what was queued. */
export function enqueueSync(state: SourceState, req: SyncRequest): QueuedRequest {
  const queued: QueuedRequest = {
    kind: 'sync',
    requestId: requestIdFor(state, req.requestId),
    approveDeletes: false,
    ...(req.tables ? { tables: [...new Set(req.tables)] } : {}),
    ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}),
  };
  state.queue.push(queued);
  return queued;
}

/** Requests a signal may repeat (a sender that retried after losing the answer): ids served or waiting. */
export interface DuplicateCheck {
  /** The requests of the cycle running now (taken off the queue), as they were queued: a repeat's content is compared with them. */
  running: () => readonly QueuedRequest[];
  /** Whether a repeated request id is dropped. False only to replay histories recorded before (it ran again). */
  dropDuplicates: () => boolean;
  /**
   * Asked only when a repeat asks other than the request it repeats: whether it is refused saying so
   * (not taken for a repeat). False only to replay histories recorded before (it was dropped as a repeat).
   */
  refuseDifferent?: () => boolean;
  /**
   * Asked only when a request sent with the requestId of one a recent cycle served asks other than
   * it: whether it is refused saying so (not taken for a repeat). False only to replay histories
   * recorded before (it was dropped as a repeat, and shown as served).
   */
  refuseServedDifferent?: () => boolean;
  /**
   * Asked only when a request is of the other kind (a sync, a rerun) than the one queued, running or
   * served under its requestId: whether it is refused saying so (not taken for a repeat). False only
   * to replay histories recorded before (a sync and a rerun of the same tables under one id were
   * taken for repeats of one another: the second was dropped and shown as served by the first's cycle).
   */
  refuseOtherKind?: () => boolean;
}

/** The kind of request a queued one was asked as: a sync a rerun signal became before any export was asked as a rerun. */
function askedKind(r: Pick<QueuedRequest, 'kind' | 'askedAs'>): 'sync' | 'rerun' {
  return r.askedAs ?? r.kind;
}

/** Whether a request of `kind` is refused for differing in kind from the one that first had its requestId (`asked`). */
function refusedAsOtherKind(kind: 'sync' | 'rerun' | undefined, asked: 'sync' | 'rerun', check: DuplicateCheck): boolean {
  return kind !== undefined && kind !== asked && (check.refuseOtherKind?.() ?? true);
}

/** The fingerprint's end that says its request was asked as a rerun though a sync served it (`askedAs`). */
const ASKED_AS_RERUN = '/rerun';

/** What a request asks, to tell a repeat from another request sent with the same requestId. */
function askedOf(r: { tables?: unknown; approveDeletes?: unknown; allowOlderExport?: unknown; rebuild?: unknown; failedOnly?: unknown }): Record<string, unknown> {
  const tables = r.failedOnly === true || r.tables === 'failed' ? 'failed' : Array.isArray(r.tables) ? [...new Set(r.tables)].sort() : null;
  return { tables, approveDeletes: r.approveDeletes === true, allowOlderExport: r.allowOlderExport === true, rebuild: r.rebuild === true };
}

/**
 * Why a request sent with the requestId of one queued or running asks something else (other tables
 * or approvals), or undefined: it is no repeat, and dropping it as one would lose it while its id
 * shows as served.
 */
export function differentRepeat(state: SourceState, req: unknown, check: DuplicateCheck | undefined, kind?: 'sync' | 'rerun'): string | undefined {
  if (check === undefined || typeof req !== 'object' || req === null) return undefined;
  const requestId: unknown = (req as { requestId?: unknown }).requestId;
  if (typeof requestId !== 'string') return undefined;
  const first = state.queue.find((q) => q.requestId === requestId) ?? check.running().find((q) => q.requestId === requestId);
  if (first === undefined) return differentServed(state, requestId, req as Record<string, unknown>, check, kind);
  const [was, now] = [askedOf(first), askedOf(req as Record<string, unknown>)];
  const otherKind = refusedAsOtherKind(kind, askedKind(first), check);
  const differs = Object.keys(was).filter((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k]));
  if ((differs.length === 0 && !otherKind) || !(check.refuseDifferent?.() ?? true)) return undefined;
  // Cut: a list of thousands of tables would be kept whole in ignoredRequests, which the status answers in one payload.
  const shown = [...(otherKind ? [`kind ${kind} (it asked ${askedKind(first)})`] : []), ...differs.map((k) => `${k} ${shownJson(now[k])} (it asked ${shownJson(was[k])})`)].join(', ');
  return `requestId ${requestId} was already used by another request (${state.queue.some((q) => q.requestId === requestId) ? 'queued' : 'running'}) that asked otherwise: this one differs in ${shown}; it was not queued: send it with a new requestId`;
}

/** The approvals of a request, in the order a fingerprint holds them. */
const APPROVALS = ['approveDeletes', 'allowOlderExport', 'rebuild'] as const;

/**
 * What a request asks, compact enough to keep for every request the recent cycles served: its
 * tables ("*" for every table, "failed", or their count and a hash of their sorted names) and its
 * approvals (0 or 1 each), e.g. "2:0k3x9v0q1a2b3/100".
 */
export function askedFingerprint(r: Parameters<typeof askedOf>[0] & { askedAs?: QueuedRequest['askedAs'] }): string {
  const asked = askedOf(r);
  const tables = asked.tables === null ? '*' : asked.tables === 'failed' ? 'failed' : `${(asked.tables as unknown[]).length}:${fnv1a64(JSON.stringify(asked.tables))}`;
  // Asked as a rerun, served by a sync (`askedAs`, only in histories that mark it): said at the end, as the cycle's kind would not.
  return `${tables}/${APPROVALS.map((k) => (asked[k] === true ? '1' : '0')).join('')}${r.askedAs === 'rerun' ? ASKED_AS_RERUN : ''}`;
}

/** The tables a fingerprint names, as a refusal shows them. */
function fingerprintTables(fingerprint: string): string {
  const tables = fingerprint.slice(0, fingerprint.lastIndexOf('/'));
  if (tables === '*') return 'every table';
  if (tables === 'failed') return '"failed"';
  const count = Number(tables.split(':')[0]);
  return `${count} table${count === 1 ? '' : 's'}`;
}

/**
 * The cycle among the recent ones that served this request id, what the request asked and as which
 * kind; undefined when none is known (or the state predates the fingerprints).
 */
function servedAskedOf(state: SourceState, requestId: string): { cycleId: string; asked: string; kind: 'sync' | 'rerun' } | undefined {
  for (const c of state.recentCycles) {
    const i = c.requestIds.indexOf(requestId);
    if (i < 0) continue;
    const asked = state.servedAsked?.[c.cycleId]?.[i];
    if (asked === undefined) return undefined;
    return asked.endsWith(ASKED_AS_RERUN) ? { cycleId: c.cycleId, asked: asked.slice(0, -ASKED_AS_RERUN.length), kind: 'rerun' } : { cycleId: c.cycleId, asked, kind: c.kind };
  }
  return undefined;
}

/** `differentRepeat` for a request id a recent cycle served: compared with the fingerprint of what that request asked. */
function differentServed(state: SourceState, requestId: string, req: Record<string, unknown>, check: DuplicateCheck, kind: 'sync' | 'rerun' | undefined): string | undefined {
  const served = servedAskedOf(state, requestId);
  if (served === undefined) return undefined;
  const now = askedFingerprint(req);
  const otherKind = refusedAsOtherKind(kind, served.kind, check);
  if (now === served.asked && !otherKind) return undefined;
  if (!(check.refuseServedDifferent?.() ?? true)) return undefined;
  const asked = askedOf(req);
  const shown: string[] = otherKind ? [`kind ${kind} (it asked ${served.kind})`] : [];
  const tablesOf = (f: string) => f.slice(0, f.lastIndexOf('/'));
  if (tablesOf(now) !== tablesOf(served.asked)) shown.push(`tables ${shownJson(asked.tables)} (it asked ${fingerprintTables(served.asked)})`);
  const [wasFlags, nowFlags] = [served.asked.slice(served.asked.lastIndexOf('/') + 1), now.slice(now.lastIndexOf('/') + 1)];
  APPROVALS.forEach((k, i) => {
    if (wasFlags[i] !== nowFlags[i]) shown.push(`${k} ${nowFlags[i] === '1'} (it asked ${wasFlags[i] === '1'})`);
  });
  return `requestId ${requestId} was already used by another request (served by cycle ${served.cycleId}) that asked otherwise: this one differs in ${shown.join(', ')}; it was not queued: send it with a new requestId`;
}

/**
 * Why a signal with this request id repeats one already received (queued, running, or served by
 * one of the recent cycles), or undefined. A request without an id is never a repeat.
 */
export function repeatedRequest(state: SourceState, requestId: string | undefined, check: DuplicateCheck | undefined): string | undefined {
  if (requestId === undefined || check === undefined) return undefined;
  const servedBy = state.recentCycles.find((c) => c.requestIds.includes(requestId))?.cycleId;
  const where = state.queue.some((q) => q.requestId === requestId)
    ? 'it is queued'
    : check.running().some((q) => q.requestId === requestId)
      ? 'its cycle is running'
      : servedBy !== undefined
        ? `cycle ${servedBy} served it`
        : undefined;
  if (where === undefined || !check.dropDuplicates()) return undefined;
  return `request ${requestId} was already received (${where}): a repeated request runs once; send a new requestId to run it again`;
}

/** The longest requestId and requestedBy the source keeps. */
export const SENDER_FIELD_CHARACTERS = 500;

/**
 * Why a request's `requestId` or `requestedBy` is no string of at most SENDER_FIELD_CHARACTERS
 * (absent or null is none), or undefined: kept in the queue, the cycle summaries and the status,
 * a document sent as an id would pass what one status answer may hold, and an object is never
 * found again as a repeat.
 */
export function senderFieldsProblem(req: unknown): string | undefined {
  if (typeof req !== 'object' || req === null) return undefined;
  for (const field of ['requestId', 'requestedBy'] as const) {
    const value: unknown = (req as Record<string, unknown>)[field];
    if (value === undefined || value === null || (typeof value === 'string' && value.length <= SENDER_FIELD_CHARACTERS)) continue;
    return `${field} must be a string of at most ${SENDER_FIELD_CHARACTERS} characters; got ${shownJson(value)}`;
  }
  return undefined;
}

/** The request's sender fields as an ignored entry keeps them: those that are no short string are left out. */
function senderFields(req: { requestId?: unknown; requestedBy?: unknown }): Pick<IgnoredRequest, 'requestId' | 'requestedBy'> {
  const ok = (v: unknown): v is string => typeof v === 'string' && v !== '' && v.length <= SENDER_FIELD_CHARACTERS;
  return { ...(ok(req.requestId) ? { requestId: req.requestId } : {}), ...(ok(req.requestedBy) ? { requestedBy: req.requestedBy } : {}) };
}

/**
 * Records a dropped signal of `kind` in `ignoredRequests`, with the sender fields it may keep and
 * the signal options' rule for merging entries that name no sender; returns the reason.
 */
function ignorer(state: SourceState, kind: IgnoredRequest['kind'], at: string, options: QueueBoundOption) {
  return (req: { requestId?: unknown; requestedBy?: unknown }, reason: string, repeat = false, reusedId = false): string => {
    recordIgnored(state, { kind, ...senderFields(req), reason, at, ...(repeat ? { repeat: true as const } : {}), ...(reusedId ? { reusedId: true as const } : {}) }, { mergeUnnamed: options.mergeUnnamedIgnored });
    return reason;
  };
}

/**
 * The drops both kinds of signal check in this order: bad sender fields, a reserved request id, a
 * table name too long. Why it was dropped (kept by `ignore`), or undefined. The order is the one
 * recorded histories asked their patches in.
 */
function senderOrNameDrop(req: SyncRequest | RerunRequest, ignore: ReturnType<typeof ignorer>, options: QueueBoundOption): string | undefined {
  const badSender = senderFieldsProblem(req);
  if (badSender && (options.refuseBadSenderFields?.() ?? true)) return ignore(req, badSender);
  const reserved = reservedFor(req, options);
  // Kept without that id: it names the source's own request, whose waiter would take this drop for its own.
  if (reserved) return ignore({ requestedBy: req.requestedBy }, reserved);
  const long = longNamesFor(req, options);
  return long ? ignore(req, long) : undefined;
}

/** Options shared by both kinds of signal. */
export interface QueueBoundOption {
  /**
   * Asked only for a signal whose requestId or requestedBy is no short string: whether it is
   * dropped. False only to replay histories recorded before (it was served, the field kept as sent).
   */
  refuseBadSenderFields?: () => boolean;
  /**
   * Asked only when the queue holds QUEUE_LIMIT requests: whether a further signal is dropped.
   * False only to replay histories recorded before (it was queued).
   */
  refuseWhenFull?: () => boolean;
  /**
   * Asked only for a dropped signal that names no sender (`requestedBy`) when an earlier one of the
   * same kind and reason that names none is kept: whether the two are kept as one counted entry.
   * False only to replay histories recorded before (each was kept apart).
   */
  mergeUnnamedIgnored?: () => boolean;
  /**
   * Asked only for a signal whose requestId has the form of the source's own ids (r1, r2...): whether
   * it is dropped. False only to replay histories recorded before (it was queued, or dropped as a repeat of the source's own).
   */
  refuseReservedRequestIds?: () => boolean;
  /**
   * Asked only for a signal naming a table longer than TABLE_NAME_CHARACTERS: whether it is dropped.
   * False only to replay histories recorded before (it was queued, and before the first export ran a cycle).
   */
  refuseLongTableNames?: () => boolean;
  /**
   * Asked only for a signal with a field its kind of request does not have: whether it is dropped.
   * False only to replay histories recorded before (it was served without the field: a misspelt `tables`, every table).
   */
  refuseUnknownFields?: () => boolean;
  /**
   * Asked only for a signal naming more than TABLES_PER_REQUEST tables, or more than the queue
   * keeps (QUEUED_TABLES): whether it is dropped. False only to replay histories recorded before (it was queued).
   */
  refuseTooManyTables?: () => boolean;
}

/** `queueFullProblem` when the signal is to be dropped for it, else undefined. */
function fullFor(state: SourceState, options: QueueBoundOption): string | undefined {
  const full = queueFullProblem(state);
  return full && (options.refuseWhenFull?.() ?? true) ? full : undefined;
}

export interface SyncSignalOptions extends QueueBoundOption {
  /**
   * Asked only for a sync signal whose `tables` is a string: whether it is dropped. False only to
   * replay histories recorded before (it was queued as a sync of its characters).
   */
  refuseStringTables?: () => boolean;
  duplicates?: DuplicateCheck;
  /**
   * Asked only for a sync signal the `sync` update would refuse (no table, a name that is no
   * string, a table the source does not have): whether it is dropped. False only to replay
   * histories recorded before (it was queued, and its cycle failed).
   */
  refuseBadTables?: () => boolean;
  /**
   * Asked only for a sync signal whose payload is no object (a list, a string, a number): whether
   * it is dropped, as the `sync` update refuses it. False only to replay histories recorded before
   * (it was queued as a sync of every table).
   */
  refuseNonObjectPayload?: () => boolean;
}

/**
 * Queues a sync that arrived as a signal. A signal cannot be refused, and one the workflow cannot
 * read must not stop it: no payload is a sync of every table; a payload that is no object, and
 * `tables` that are not a list, are dropped and kept in `ignoredRequests` with the reason, which is returned.
 */
export function enqueueSyncSignal(state: SourceState, req: SyncRequest | null | undefined, at: string, options: SyncSignalOptions = {}): string | undefined {
  // A payload such as ["public.orders"] names tables, but not as a sync reads them: it would sync every table.
  const notAnObject = req !== undefined && req !== null && payloadProblem(req, SYNC_EXAMPLE);
  const ignore = ignorer(state, 'sync', at, options);
  if (notAnObject && (options.refuseNonObjectPayload?.() ?? true)) return ignore({}, notAnObject);
  const request: SyncRequest = req ?? {};
  const unknownFields = unknownFieldsProblem(request, 'sync');
  if (unknownFields && (options.refuseUnknownFields?.() ?? true)) return ignore(request, unknownFields);
  const tables: unknown = request.tables;
  if (tables != null && !Array.isArray(tables) && (typeof tables !== 'string' || (options.refuseStringTables?.() ?? true))) {
    return ignore(request, 'tables must be a list of schema.table names, or left out to sync every table');
  }
  const dropped = senderOrNameDrop(request, ignore, options);
  if (dropped) return dropped;
  const differs = differentRepeat(state, request, options.duplicates, 'sync');
  const repeat = differs ? undefined : repeatedRequest(state, request.requestId, options.duplicates);
  const refused = differs ?? repeat ?? badTablesOf(state, request, options) ?? fullFor(state, options) ?? tableCountFor(state, request, options);
  if (refused) return ignore(request, refused, repeat !== undefined, refused === differs);
  enqueueSync(state, request);
  return undefined;
}

/** Why a sync signal's list of tables is refused as the `sync` update refuses it, or undefined. */
function badTablesOf(state: SourceState, request: SyncRequest, options: SyncSignalOptions): string | undefined {
  if (!Array.isArray(request.tables)) return undefined;
  const problem = syncProblem(state, request);
  return problem && (options.refuseBadTables?.() ?? true) ? problem : undefined;
}

/** Queues a sync that passed `syncProblem` (the `sync` update) and says where it stands. */
export function acceptSync(state: SourceState, req: SyncRequest | undefined): SyncAccepted {
  const queuedBehind = state.queue.length;
  const queued = enqueueSync(state, req ?? {});
  return { requestId: queued.requestId, ...(queued.tables ? { tables: queued.tables } : {}), queuedBehind };
}

/**
 * Why a sync cannot be accepted, or undefined when it can. Before the first export the source
 * knows no table, so table names cannot be checked yet: the cycle reports the ones its export lacks.
 */
export function syncProblem(state: SourceState, req: SyncRequest): string | undefined {
  // No payload is a sync of every table, as for the signal.
  if (req === undefined || req === null) return undefined;
  const payload = payloadProblem(req, SYNC_EXAMPLE);
  if (payload) return payload;
  // null is no list (a client that writes an absent list as null): every table, as for the signal.
  if (req.tables === undefined || req.tables === null) return undefined;
  if (!Array.isArray(req.tables) || req.tables.length === 0) return 'name the tables to sync (schema.table), or leave tables out to sync every table';
  const names = namesProblem(req.tables);
  if (names) return names;
  return knownTablesProblem(state, req.tables);
}

/**
 * Queues a rerun that passed `rerunProblem`. "failed" names every table whose last load failed,
 * sorted, as of now: tables that fail later are not added to it.
 */
export function enqueueRerun(state: SourceState, req: RerunRequest): RerunAccepted {
  const tables = req.tables === 'failed' ? Object.keys(state.failed).sort() : [...new Set(req.tables)];
  const requestId = requestIdFor(state, req.requestId);
  const queuedBehind = state.queue.length;
  state.queue.push({
    kind: 'rerun',
    requestId,
    tables,
    approveDeletes: req.approveDeletes ?? false,
    ...(req.allowOlderExport ? { allowOlderExport: true } : {}),
    ...(req.rebuild ? { rebuild: true } : {}),
    ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}),
    ...(req.tables === 'failed' ? { failedOnly: true as const } : {}),
    ...(req.approveDeletes ? { approvedExports: partExports(state, rerunParts(state, tables)) } : {}),
  });
  return { requestId, tables, queuedBehind };
}

export interface RerunSignalOptions extends QueueBoundOption {
  /**
   * Asked only for a rerun of tables read directly before any export: whether it stays a rerun.
   * False only to replay histories recorded before (it became a sync of the tables).
   */
  directRerun?: () => boolean;
  duplicates?: DuplicateCheck;
  /** Asked only for a rerun before any export naming something that is no table name: whether it is dropped (as for a sync signal). */
  refuseBadTables?: () => boolean;
  /**
   * Asked only for a rerun whose approvals are not booleans: whether it is dropped. False only to
   * replay histories recorded before (it ran, "false" as text approving).
   */
  refuseBadApprovals?: () => boolean;
  /**
   * Asked only for a rerun with an approval or rebuild that becomes a sync before any export:
   * whether the sync keeps them. False only to replay histories recorded before (it went without).
   */
  keepApprovalsInSync?: () => boolean;
  /**
   * Asked only for a rerun before any export naming tables a source that knows its tables (read
   * directly) does not have: whether it is dropped, as a sync signal naming them is. False only to
   * replay histories recorded before (it became a sync of them).
   */
  refuseUnknownTables?: () => boolean;
  /**
   * Asked only for a rerun that becomes a sync before any export: whether the sync is marked as asked
   * as a rerun (`askedAs`). False only to replay histories recorded before (it was not: its state stays as it was).
   */
  markAskedAsRerun?: () => boolean;
}

/**
 * Queues a rerun that arrived as a signal. A signal cannot be refused, so an invalid one is
 * dropped and kept in `ignoredRequests` with the reason: returns why, or undefined once queued.
 * Before the first export there is nothing to reuse (e.g. signal-with-start on a new source), so
 * a rerun of named tables becomes a sync of them, with its approvals and rebuild, unless every one
 * of them is read directly.
 */
export function enqueueRerunSignal(state: SourceState, given: RerunRequest | null | undefined, at: string, options: RerunSignalOptions = {}): string | undefined {
  // No payload names no table: dropped with the reason, like any rerun the workflow cannot serve.
  const req: RerunRequest = given ?? ({} as RerunRequest);
  const ignore = ignorer(state, 'rerun', at, options);
  const unknownFields = unknownFieldsProblem(req, 'rerun');
  if (unknownFields && (options.refuseUnknownFields?.() ?? true)) return ignore(req, unknownFields);
  const dropped = senderOrNameDrop(req, ignore, options);
  if (dropped) return dropped;
  const named = Array.isArray(req.tables) ? req.tables : [];
  const badNames = !state.lastExport ? namesProblem(named) : undefined;
  const badApprovals = approvalsProblem(req);
  const differs = differentRepeat(state, req, options.duplicates, 'rerun');
  const repeat = differs ? undefined : repeatedRequest(state, req.requestId, options.duplicates);
  const unknown = !state.lastExport && !badNames ? knownTablesProblem(state, named) : undefined;
  const refused =
    differs ??
    repeat ??
    (badNames && (options.refuseBadTables?.() ?? true) ? badNames : undefined) ??
    (badApprovals && (options.refuseBadApprovals?.() ?? true) ? badApprovals : undefined) ??
    (unknown && (options.refuseUnknownTables?.() ?? true) ? unknown : undefined) ??
    fullFor(state, options) ??
    tableCountFor(state, req, options);
  if (refused) return ignore(req, refused, repeat !== undefined, refused === differs);
  // Tables read directly need no export (a source of only such tables never has one): their
  // rerun stays a rerun, else its approvals (approveDeletes, rebuild, allowOlderExport) would be lost.
  if (!state.lastExport && named.length > 0 && !(allReadDirectly(state, named) && (options.directRerun?.() ?? true))) {
    // Marked as asked as a rerun (in histories recorded since), so that the same rerun sent again is its repeat, and a sync under its id is not.
    const askedAs = options.markAskedAsRerun?.() ?? true ? { askedAs: 'rerun' as const } : {};
    state.queue.push({ kind: 'sync', requestId: requestIdFor(state, req.requestId), ...approvalsForSync(req, options), tables: [...new Set(req.tables)], requestedBy: req.requestedBy ?? 'rerun before any export', ...askedAs });
    return undefined;
  }
  const problem = rerunProblem(state, req);
  if (problem) return ignore(req, problem);
  enqueueRerun(state, req);
  return undefined;
}

/** What a sync that serves a rerun signal approves: the rerun's approvals and rebuild (they apply to the plan of any cycle). */
function approvalsForSync(req: RerunRequest, options: RerunSignalOptions): Pick<QueuedRequest, 'approveDeletes' | 'allowOlderExport' | 'rebuild'> {
  const asked = { approveDeletes: req.approveDeletes === true, allowOlderExport: req.allowOlderExport === true, rebuild: req.rebuild === true };
  const keep = (asked.approveDeletes || asked.allowOlderExport || asked.rebuild) && (options.keepApprovalsInSync?.() ?? true);
  if (!keep) return { approveDeletes: false };
  return { approveDeletes: asked.approveDeletes, ...(asked.allowOlderExport ? { allowOlderExport: true } : {}), ...(asked.rebuild ? { rebuild: true } : {}) };
}

/**
 * Keeps a dropped request in the status, newest first. One dropped for the reason an earlier one
 * of the same named sender (`requestedBy`) and kind was replaces it, counted (`times`, `firstAt`): a schedule firing
 * every hour with nothing to do would else push every other dropped request out within a day.
 * One that names no sender replaces an earlier one that names none, of the same kind and reason,
 * likewise: a service in a loop that leaves requestedBy out would else push out every other
 * sender's entry. `mergeUnnamed` is asked only when such an earlier entry exists (false only to
 * replay histories recorded before: each was kept apart).
 */
export function recordIgnored(state: SourceState, entry: IgnoredRequest, options: { mergeUnnamed?: () => boolean } = {}): void {
  const sameSender = (r: IgnoredRequest) => entry.requestedBy !== undefined && r.requestedBy === entry.requestedBy && r.kind === entry.kind;
  const sameReason = (r: IgnoredRequest) => r.reason === entry.reason && r.repeat === entry.repeat && r.reusedId === entry.reusedId;
  const unnamed = (r: IgnoredRequest) => entry.requestedBy === undefined && r.requestedBy === undefined && r.kind === entry.kind;
  const earlierUnnamed = entry.requestedBy === undefined ? state.ignoredRequests.find((r) => unnamed(r) && sameReason(r)) : undefined;
  const earlier = state.ignoredRequests.find((r) => sameSender(r) && sameReason(r)) ?? (earlierUnnamed && (options.mergeUnnamed?.() ?? true) ? earlierUnnamed : undefined);
  const kept = earlier ? { ...entry, times: (earlier.times ?? 1) + 1, firstAt: earlier.firstAt ?? earlier.at, ...earlierIds(earlier) } : entry;
  state.ignoredRequests = [kept, ...state.ignoredRequests.filter((r) => r !== earlier)].slice(0, IGNORED_REQUESTS);
}

/** How many request ids of merged dropped requests an entry keeps besides its own: a waiter polls often enough to find its id among them. */
export const EARLIER_REQUEST_IDS = 10;

/** The ids of the dropped requests an entry replaces, newest first, so that their waiters still learn why. */
function earlierIds(earlier: IgnoredRequest): Pick<IgnoredRequest, 'earlierRequestIds'> {
  const ids = [...(earlier.requestId !== undefined ? [earlier.requestId] : []), ...(earlier.earlierRequestIds ?? [])].slice(0, EARLIER_REQUEST_IDS);
  return ids.length > 0 ? { earlierRequestIds: ids } : {};
}

const SYNC_EXAMPLE = '{"tables": ["public.orders"]}, or {} for every table';
const RERUN_EXAMPLE = '{"tables": ["public.orders"]} or {"tables": "failed"}';
const NO_RERUN_TABLES = 'name the tables to rerun (schema.table), or "failed"';

/** Why a rerun cannot be accepted whatever the state (no request object, no table, names that are no table names), or undefined. */
export function rerunPayloadProblem(req: RerunRequest): string | undefined {
  const payload = payloadProblem(req, RERUN_EXAMPLE);
  if (payload || req.tables === 'failed') return payload;
  if (!Array.isArray(req.tables) || req.tables.length === 0) return NO_RERUN_TABLES;
  return namesProblem(req.tables);
}

/** Why a rerun cannot be accepted, or undefined when it can. */
export function rerunProblem(state: SourceState, req: RerunRequest): string | undefined {
  const payload = payloadProblem(req, RERUN_EXAMPLE);
  if (payload) return payload;
  // Tables read directly (or from their own DynamoDB exports) need no RDS export: a source of only such tables has none.
  const named = Array.isArray(req.tables) ? req.tables : Object.keys(state.failed);
  // Such a source knows its tables: a name it does not have is the request's fault, which a sync would not mend.
  const unknown = !state.lastExport && Array.isArray(req.tables) ? (namesProblem(req.tables) ?? knownTablesProblem(state, req.tables)) : undefined;
  if (unknown) return unknown;
  if (!state.lastExport && !allReadDirectly(state, named)) return 'there is no export to rerun from yet: run a sync first';
  if (req.tables === 'failed') {
    return Object.keys(state.failed).length === 0 ? 'no table has failed: nothing to rerun' : undefined;
  }
  if (!Array.isArray(req.tables) || req.tables.length === 0) return NO_RERUN_TABLES;
  return namesProblem(req.tables) ?? unknownTablesProblem(state, req.tables);
}

/**
 * Why a rerun's approvals are not JSON booleans, or undefined: read as they came, "false" as text
 * would approve mass deletes, an older export or a rebuild.
 */
export function approvalsProblem(req: RerunRequest | null | undefined): string | undefined {
  if (typeof req !== 'object' || req === null) return undefined;
  for (const flag of ['approveDeletes', 'allowOlderExport', 'rebuild'] as const) {
    const value: unknown = req[flag];
    if (value !== undefined && value !== null && typeof value !== 'boolean') return `${flag} must be true or false (a JSON boolean); got ${shownJson(value)}`;
  }
  return undefined;
}

/**
 * The fields of each kind of request. `satisfies` makes the compiler refuse a list that misses a
 * field of the request's type or names another, and the zod mirrors behind
 * docs/messages.schema.json are held to the same types.
 */
const REQUEST_FIELDS = {
  sync: Object.keys({ tables: true, requestId: true, requestedBy: true } satisfies Record<keyof SyncRequest, true>),
  rerun: Object.keys({
    tables: true,
    approveDeletes: true,
    allowOlderExport: true,
    rebuild: true,
    requestId: true,
    requestedBy: true,
  } satisfies Record<keyof RerunRequest, true>),
};

/**
 * Why a request has fields its kind does not have, or undefined: a misspelt field is else read as
 * absent, and a sync whose `tables` is misspelt (`table`) syncs every table of the source.
 */
export function unknownFieldsProblem(req: unknown, kind: 'sync' | 'rerun'): string | undefined {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return undefined;
  const known: readonly string[] = REQUEST_FIELDS[kind];
  const unknown = Object.keys(req).filter((k) => !known.includes(k));
  if (unknown.length === 0) return undefined;
  const named = `${unknown.slice(0, 5).map((k) => JSON.stringify(shownName(k))).join(', ')}${unknown.length > 5 ? `, ... (${unknown.length} in all)` : ''}`;
  return `unknown field${unknown.length > 1 ? 's' : ''} ${named}: a ${kind} request has only the fields ${known.join(', ')}; nothing was queued, send it again with the right fields`;
}

/** Why an update's payload is no request object (none, a string, a list...), or undefined. */
function payloadProblem(req: unknown, example: string): string | undefined {
  if (typeof req === 'object' && req !== null && !Array.isArray(req)) return undefined;
  return `the payload must be a JSON object such as ${example}; got ${req === undefined ? 'no payload' : shownJson(req)}`;
}

/** How many characters of a bad payload or value a refusal shows. */
const SHOWN_CHARACTERS = 200;

/** `value` as JSON, cut after SHOWN_CHARACTERS: a refusal is kept in ignoredRequests, which the status answers in one payload. */
function shownJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= SHOWN_CHARACTERS ? text : `${text.slice(0, SHOWN_CHARACTERS)}... (${text.length} characters in all)`;
}

/**
 * Why an update names a table that is no `schema.table` name (no schema, or nothing after the
 * dot), or undefined: before the first export no name can be checked against the source's tables,
 * and such a name could only fail its cycle. (Signals are left to the cycle, as they always were.)
 */
export function unqualifiedProblem(req: unknown): string | undefined {
  const tables: unknown = typeof req === 'object' && req !== null ? (req as { tables?: unknown }).tables : undefined;
  const bare = (Array.isArray(tables) ? tables : []).filter((t): t is string => typeof t === 'string' && t.trim() !== '' && !isSchemaTable(t));
  if (bare.length === 0) return undefined;
  return `table names are schema.table (e.g. public.orders; DynamoDB tables dynamodb.<TableName>); got ${firstShown(bare)}`;
}

/** Names that are no table name (a payload's JSON can hold anything), or undefined. */
function namesProblem(tables: readonly unknown[]): string | undefined {
  const bad = tables.filter((t) => typeof t !== 'string' || t.trim() === '');
  if (bad.length === 0) return undefined;
  return `table names are schema.table strings; got ${firstShown(bad)}`;
}

/** The longest table name a request may give: schema.table of PostgreSQL names (63 bytes each) and dynamodb.<TableName> (255 characters) fit well within it. */
export const TABLE_NAME_CHARACTERS = 300;

/**
 * Why a request names a table longer than TABLE_NAME_CHARACTERS, or undefined: before the first
 * export no name can be checked against the source's tables, so such a name was queued, kept in
 * the state and the status, and ran a cycle that could only fail it.
 */
export function longTableNamesProblem(req: unknown): string | undefined {
  const tables: unknown = typeof req === 'object' && req !== null ? (req as { tables?: unknown }).tables : undefined;
  const long = (Array.isArray(tables) ? tables : []).filter((t): t is string => typeof t === 'string' && t.length > TABLE_NAME_CHARACTERS);
  if (long.length === 0) return undefined;
  return `table names are at most ${TABLE_NAME_CHARACTERS} characters (PostgreSQL names are at most 63 bytes each side of the dot, DynamoDB's 255 characters); got ${long.slice(0, 5).map((t) => JSON.stringify(shownName(t))).join(', ')}${long.length > 5 ? ', ...' : ''}`;
}

/** `longTableNamesProblem` when the signal is to be dropped for it, else undefined. */
function longNamesFor(req: unknown, options: QueueBoundOption): string | undefined {
  const problem = longTableNamesProblem(req);
  return problem && (options.refuseLongTableNames?.() ?? true) ? problem : undefined;
}

/** The first five bad names a refusal shows, and "..." when there are more. */
function firstShown(names: readonly unknown[]): string {
  return `${names.slice(0, 5).map(shownJson).join(', ')}${names.length > 5 ? ', ...' : ''}`;
}

/** Whether there is a table and every one was last read directly (or from DynamoDB): their rerun needs no RDS export. */
function allReadDirectly(state: SourceState, tables: TableName[]): boolean {
  return tables.length > 0 && tables.every((t) => readDirectly(state, t));
}

/**
 * Whether the table's last load (or failure) read the source directly, or from its own DynamoDB
 * exports: its rerun needs no RDS export.
 */
function readDirectly(state: SourceState, table: TableName): boolean {
  const failed = state.failed[table];
  const extract = failed ? failed.extract : state.ledger[table]?.extract;
  return extract === 'direct' || extract === 'dynamodb';
}

/** Where a dropped table went missing: the export of a sync of every table, else the catalog listing of one. */
function droppedWhere(d: DroppedTable): string {
  return d.exportId ? `is no longer exported (not in export ${d.exportId} of cycle ${d.cycleId})` : `is no longer synced (not among the source's tables listed by cycle ${d.cycleId})`;
}

/** `unknownTablesProblem` once the source knows its tables (before its first cycle it knows none), else undefined. */
function knownTablesProblem(state: SourceState, tables: TableName[]): string | undefined {
  return state.knownTables.length > 0 && tables.length > 0 ? unknownTablesProblem(state, tables) : undefined;
}

/** How many table names a refusal lists of the unknown and of the known tables. */
const LISTED_TABLES = 20;

/** A requested name as a refusal shows it: a name longer than SHOWN_CHARACTERS (a signal's JSON can hold anything) by its start and length. */
function shownName(name: string): string {
  return name.length <= SHOWN_CHARACTERS ? name : `${name.slice(0, SHOWN_CHARACTERS)}... (${name.length} characters)`;
}

/** Names the requested tables the source does not have (the first of them), and the ones it has. */
function unknownTablesProblem(state: SourceState, tables: TableName[]): string | undefined {
  const known = new Set(state.knownTables);
  const missing = tables.filter((t) => !known.has(t));
  if (missing.length === 0) return undefined;
  const dropped = new Map(state.droppedTables.map((d) => [d.table, d]));
  const unknown = missing.filter((t) => !dropped.has(t));
  const problems = missing
    .filter((t) => dropped.has(t))
    .map((t) => `${t} ${droppedWhere(dropped.get(t)!)}: gone from the source, or excluded`);
  if (unknown.length > 0) {
    // Both lists are cut: a request naming thousands of tables is kept (ignoredRequests) and answered within a payload.
    const named = `${unknown.slice(0, LISTED_TABLES).map(shownName).join(', ')}${unknown.length > LISTED_TABLES ? `, ... (${unknown.length} in all)` : ''}`;
    const list = `${state.knownTables.slice(0, LISTED_TABLES).join(', ')}${state.knownTables.length > LISTED_TABLES ? ', ...' : ''}`;
    problems.unshift(`unknown table(s) ${named}: the source's tables are ${list}`);
  }
  return problems.join('; ');
}

/**
 * Takes the first queued request and every request right behind it of the same kind and
 * approvals, merged into one: a sync of all tables absorbs table-limited syncs. Reruns approving
 * deletes merge only when asked on the same exports (`approvedExports`).
 */
export function takeCoalesced(queue: QueuedRequest[], failedNow?: FailedNow, options: CoalesceOptions = {}): CoalescedRequest {
  const first = queue.shift()!;
  const group = [first];
  const sameAsked = (r: QueuedRequest) => r.kind === first.kind && r.approveDeletes === first.approveDeletes && (r.allowOlderExport ?? false) === (first.allowOlderExport ?? false) && (r.rebuild ?? false) === (first.rebuild ?? false);
  // Approvals of deletes asked on other exports stay apart: merged, each would approve the other's tables on its exports.
  const sameAs = (r: QueuedRequest) => sameAsked(r) && (!r.approveDeletes || sameExports(r.approvedExports, first.approvedExports) || !(options.splitApprovals?.() ?? true));
  while (queue.length > 0 && sameAs(queue[0]!)) group.push(queue.shift()!);
  // A rerun of "failed" asked while an earlier cycle loaded those tables (a schedule's, say) does not load them again.
  const noLongerFailed = new Set<TableName>();
  const tablesOf = (r: QueuedRequest): TableName[] | undefined => {
    if (!r.failedOnly || !r.tables || !failedNow) return r.tables;
    const gone = r.tables.filter((t) => !(t in failedNow.failed));
    if (gone.length === 0 || !failedNow.narrow()) return r.tables;
    for (const t of gone) noLongerFailed.add(t);
    return r.tables.filter((t) => t in failedNow.failed);
  };
  const allTables = group.some((r) => !r.tables);
  const tables = allTables ? undefined : [...new Set(group.flatMap((r) => tablesOf(r) ?? []))];
  const leftOut = tables ? [...noLongerFailed].filter((t) => !tables.includes(t)) : [];
  // Merged approvals hold for the exports they were asked on (in histories recorded before they were
  // kept apart, each one's; one queued before they were recorded holds for all).
  const approved = group.every((r) => r.approvedExports) ? { approvedExports: [...new Set(group.flatMap((r) => r.approvedExports!))].sort() } : {};
  const { approvedExports: _first, askedAs: _asked, ...firstAsked } = first;
  return {
    ...firstAsked,
    ...approved,
    ...(tables ? { tables } : { tables: undefined }),
    requestIds: group.map((r) => r.requestId),
    senders: group.map((r) => r.requestedBy),
    asked: group.map(askedFingerprint),
    ...(leftOut.length > 0 ? { noLongerFailed: leftOut } : {}),
  };
}

export interface CoalesceOptions {
  /**
   * Asked only when a request with approveDeletes would join one approving deletes on other
   * exports: whether it stays apart. False only to replay histories recorded before (they merged,
   * each approving the other's tables on its exports).
   */
  splitApprovals?: () => boolean;
}

function sameExports(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.length === b.length && a.every((e, i) => e === b[i]);
}

/**
 * Drops a coalesced rerun of "failed" whose tables all fail no more: each of its requests is kept
 * in `ignoredRequests` with its own id and sender, so that each waiter learns why.
 */
export function recordServedAlready(state: SourceState, batch: CoalescedRequest, at: string, options: { mergeUnnamed?: () => boolean } = {}): void {
  const reason = nothingFailedProblem(batch.noLongerFailed ?? []);
  for (const [i, requestId] of batch.requestIds.entries()) {
    const requestedBy = batch.senders[i];
    recordIgnored(state, { kind: 'rerun', requestId, ...(requestedBy ? { requestedBy } : {}), reason, at }, options);
  }
}

/** A table the worker's config leaves out, and the rule that does (`exclude <glob>`, or that no include rule matches it). */
export interface ConfigExcludedTable {
  table: TableName;
  rule: string;
}

/**
 * The queued reruns of named tables not yet checked against the worker's config. A rerun of
 * "failed" is left to its cycle, which takes excluded tables off the failed list.
 */
export function uncheckedReruns(queue: readonly QueuedRequest[], checked: { has(r: QueuedRequest): boolean }): QueuedRequest[] {
  return queue.filter((r) => r.kind === 'rerun' && !r.failedOnly && r.tables !== undefined && r.tables.length > 0 && !checked.has(r));
}

/**
 * The queued syncs of named tables (a Schedule's `--tables`, a service's) not yet checked against
 * the worker's config: one all of whose tables it now excludes would take a snapshot and fail its export.
 */
export function uncheckedSyncs(queue: readonly QueuedRequest[], checked: { has(r: QueuedRequest): boolean }): QueuedRequest[] {
  return queue.filter((r) => r.kind === 'sync' && r.tables !== undefined && r.tables.length > 0 && !checked.has(r));
}

/**
 * Drops the checked reruns all of whose tables the worker's config now excludes, each kept in
 * `ignoredRequests` with the tables, their rules and what to do: its cycle would load nothing, yet
 * count as served. A rerun naming some included tables runs; its cycle shows the others skipped as excluded.
 */
export function dropExcludedReruns(state: SourceState, checked: readonly QueuedRequest[], excluded: readonly ConfigExcludedTable[], source: string, at: string, options: { mergeUnnamed?: () => boolean } = {}): void {
  const reasons = new Map(checked.flatMap((r) => {
    const reason = excludedRerunProblem(r.tables ?? [], excluded, source, r.kind);
    return reason ? [[r, reason] as const] : [];
  }));
  if (reasons.size === 0) return;
  state.queue = state.queue.filter((r) => !reasons.has(r));
  for (const [r, reason] of reasons) recordIgnored(state, { kind: r.kind, requestId: r.requestId, ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}), reason, at }, options);
}

/** Why a rerun of these tables is refused when the worker's config excludes every one of them (`excluded`), or undefined. */
export function excludedRerunProblem(tables: readonly TableName[], excluded: readonly ConfigExcludedTable[], source: string, kind: 'sync' | 'rerun' = 'rerun'): string | undefined {
  const rules = new Map(excluded.map((e) => [e.table, e.rule]));
  if (tables.length === 0 || !tables.every((t) => rules.has(t))) return undefined;
  const one = tables.length === 1;
  const named = one
    ? `${shownName(tables[0]!)} is excluded by the worker's config (${rules.get(tables[0]!)})`
    : `${tables
        .slice(0, LISTED_TABLES)
        .map((t) => `${shownName(t)} (${rules.get(t)})`)
        .join(', ')}${tables.length > LISTED_TABLES ? `, ... (${tables.length} in all)` : ''} are excluded by the worker's config`;
  return `${named}: a ${kind} loads only tables the config includes; include ${one ? 'it' : 'them'} in lakesync.yaml (include and exclude of source ${source}) and restart the worker, then ask again`;
}

/** Why a rerun of "failed" whose tables all fail no more runs no cycle (kept in ignoredRequests). */
export function nothingFailedProblem(noLongerFailed: readonly TableName[]): string {
  const list = `${noLongerFailed.slice(0, LISTED_TABLES).join(', ')}${noLongerFailed.length > LISTED_TABLES ? `, ... (${noLongerFailed.length} in all)` : ''}`;
  return `the failed tables it named fail no more (${list}): a cycle loaded them since it was asked, or they left the source; nothing to rerun`;
}

/**
 * Splits a rerun by the export each table comes from: its own (the newer of the export it failed
 * on and the export it was last committed from), or the last export when the source knows none
 * for it. A table is so never loaded from an export older than its last commit, nor from a later
 * table-limited export that does not hold it. Parts run as consecutive cycles, oldest export first.
 */
export function rerunParts(state: SourceState, tables: TableName[]): RerunPart[] {
  const parts = new Map<string, RerunPart>();
  for (const table of tables) {
    // A table read directly reuses no export: its part takes none (and, with only such tables, no new one).
    // A table the export skipped takes a new export: the same one would skip it again.
    const reuse = readDirectly(state, table) || state.failed[table]?.newExport ? undefined : (ownExport(state, table) ?? state.lastExport);
    const key = reuse?.export.exportId ?? '';
    const part = parts.get(key) ?? { ...(reuse ? { reuse } : {}), tables: [] };
    part.tables.push(table);
    parts.set(key, part);
  }
  return [...parts.values()].sort((a, b) => snapshotTime(a.reuse) - snapshotTime(b.reuse));
}

/**
 * A table the export skipped, failed by a cycle recorded before such tables were marked for a new
 * export: its entry names the export that skipped it (the cycle workflow's NotExported message).
 */
export function skippedBeforeMark(state: SourceState, table: TableName): boolean {
  const f = state.failed[table];
  return !!f && !f.newExport && !f.extract && !!f.exportId && f.phase === 'discover' && f.message.startsWith(`${table} was not exported: `);
}

/** Marks such tables as the newer cycles do: their rerun takes a new export, not the one that skipped them. */
export function markSkippedForNewExport(state: SourceState, tables: readonly TableName[]): void {
  for (const table of tables) {
    if (!skippedBeforeMark(state, table)) continue;
    const { exportId: _skippedBy, ...rest } = state.failed[table]!;
    state.failed[table] = { ...rest, newExport: true };
  }
}

function ownExport(state: SourceState, table: TableName): ReusableExport | undefined {
  const candidates = [state.failed[table]?.exportId, state.ledger[table]?.exportId].flatMap((id) => (id && state.exports[id] ? [state.exports[id]!] : []));
  return candidates.reduce<ReusableExport | undefined>((newest, e) => (!newest || snapshotTime(e) > snapshotTime(newest) ? e : newest), undefined);
}

function snapshotTime(e: ReusableExport | undefined): number {
  const t = e ? Date.parse(e.snapshot.createdAt) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
}

/**
 * The export each part of a rerun loads from, '' for a part that reuses none, and NEW_EXPORT when
 * such a part holds a table taking a new export (not only tables read directly), sorted.
 */
function partExports(state: SourceState, parts: readonly RerunPart[]): string[] {
  return [...new Set(parts.flatMap((p) => (p.reuse ? [p.reuse.export.exportId] : ['', ...(takesNewExport(state, p) ? [NEW_EXPORT] : [])])))].sort();
}

/** How `approvedExports` names the new export a table takes (the export skipped it): no export id is blank. */
const NEW_EXPORT = ' new export';

/**
 * Why a rerun's approval of deletes does not hold for one of its parts, or undefined when it holds
 * (or none was asked): 'export' for a part served from an export it was not asked on, 'newExport'
 * for a part of tables read directly now holding a table that takes a new export (a newer export
 * skipped it since), which its approval was not asked for.
 */
export function approvalMiss(state: SourceState, batch: Pick<QueuedRequest, 'kind' | 'approveDeletes' | 'approvedExports'>, part: { reuse?: ReusableExport; tables?: readonly TableName[] }): 'export' | 'newExport' | undefined {
  if (!batch.approveDeletes) return undefined;
  if (!approvalHolds(batch, part.reuse?.export.exportId ?? '')) return 'export';
  if (batch.kind === 'rerun' && batch.approvedExports && takesNewExport(state, part) && !approvalHolds(batch, NEW_EXPORT)) return 'newExport';
  return undefined;
}

/** Whether a rerun part that reuses no export holds a table not read directly: that one takes a new export. */
function takesNewExport(state: SourceState, part: { reuse?: ReusableExport; tables?: readonly TableName[] }): boolean {
  return !part.reuse && (part.tables ?? []).some((t) => !readDirectly(state, t));
}

/**
 * Whether a rerun's approval of deletes holds for its part that loads from `exportId` ('' for
 * none): only for an export its tables loaded from when it was asked, whose refusals it answers.
 */
export function approvalHolds(batch: Pick<QueuedRequest, 'kind' | 'approveDeletes' | 'approvedExports'>, exportId: string): boolean {
  if (!batch.approveDeletes) return false;
  return batch.kind !== 'rerun' || batch.approvedExports === undefined || batch.approvedExports.includes(exportId);
}

/** Plan wording of a table left out by the include/exclude rules (src/plan.ts). */
const EXCLUDED = /^excluded\b/;
/** The reason of a skipped name that is a view, materialized view or foreign table (src/activities/cycle.ts notATableReason). */
const NOT_A_TABLE = /^not a table:/;

export interface RecordOptions {
  /**
   * Keep the failed and known tables clean: excluded tables leave the failed list, names in no
   * export never enter it, tables missing from a new export are dropped. Off only to replay
   * histories recorded before (their later requests were decided on the uncleaned lists).
   */
  clean?: boolean;
  /**
   * A sync of every table without an RDS export (a DynamoDB source, or every table read directly)
   * drops the known tables it did not list, as one with an export does. Off only to replay
   * histories recorded before (they kept those tables).
   */
  dropWithoutExport?: boolean;
  /**
   * A table the cycle's export skipped (NotExported) is marked for a new export on its rerun. Off
   * only to replay histories recorded before (their reruns reused the export that skipped it).
   */
  newExportForSkipped?: boolean;
  /**
   * Asked only of a cycle error longer than CYCLE_ERROR_CHARACTERS: true keeps its start (the
   * status answer lists twenty recent cycles, unpaged). False only to replay histories recorded
   * before (their state, whose size decides how it is carried, kept the whole error).
   */
  capError?: () => boolean;
  /**
   * Asked only of a table error longer than CYCLE_ERROR_CHARACTERS: true keeps its start in the
   * failed tables, the ledger and the last cycle's tables (a status page holds at least one entry
   * whole, and a dead cycle gives its whole error to each table it did not commit). False only to
   * replay histories recorded before (their state kept the whole errors).
   */
  capTableError?: () => boolean;
}

/**
 * How much of a cycle's error the source keeps with the cycle (the status answer holds twenty of
 * them whole): the whole error stays that of the cycle workflow.
 */
export const CYCLE_ERROR_CHARACTERS = 2_000;

/** The cycle's error as the source keeps it: its start when long, saying where the whole error is. */
function keptCycleError<E extends { message: string }>(error: E, workflowId: string, capError: (() => boolean) | undefined): E {
  if (error.message.length <= CYCLE_ERROR_CHARACTERS || !(capError ?? (() => true))()) return error;
  return { ...error, message: shortText(error.message, `the whole error is in cycle workflow ${workflowId}`) };
}

/** The start of a text longer than CYCLE_ERROR_CHARACTERS, saying how much more there is and where it is; a shorter one as it is. */
function shortText(text: string, where?: string): string {
  if (text.length <= CYCLE_ERROR_CHARACTERS) return text;
  const more = text.length - CYCLE_ERROR_CHARACTERS;
  return `${text.slice(0, CYCLE_ERROR_CHARACTERS)}... (${more} characters more${where ? `; ${where}` : ''})`;
}

/**
 * Books a finished cycle: committed tables advance their watermark, failed ones keep it and note
 * the error and the export they failed on, skipped ones change nothing unless excluded; tables no
 * longer in the source are dropped with a note; the export is kept for reruns.
 */
export function recordCycle(state: SourceState, result: CycleResult, workflowId: string, cycle: CycleRecord, options: RecordOptions = {}): void {
  // The status pages keep the ledger's and the failed tables' order while the last cycle is the same object: this alone adds and removes their tables, and records a new one.
  const clean = options.clean ?? true;
  const exportId = result.export?.exportId;
  if (result.snapshot && result.export) {
    const made: ReusableExport = { cycleId: result.cycleId, snapshot: result.snapshot, export: result.export };
    state.exports[result.export.exportId] ??= made;
    // A rerun reuses an older export: the last export stays the newest one.
    if (!clean || !state.lastExport || snapshotTime(made) >= snapshotTime(state.lastExport)) state.lastExport = state.exports[result.export.exportId]!;
  }

  // A name that is in no export, or names a view (or other relation that is no table), is not a table of the source.
  const notExported = (t: TableOutcome) =>
    (t.status === 'failed' && (t.error?.type === 'TableNotExported' || t.error?.type === 'NotATable')) || (t.status === 'skipped' && NOT_A_TABLE.test(t.reason ?? ''));
  const knownBefore = new Set(state.knownTables);
  const known = new Set(state.knownTables);
  for (const t of result.tables) if (!clean || !notExported(t)) known.add(t.table);

  // A table's error (a dead cycle's error, given to each table it did not commit; a Spark stack trace) is kept by its start.
  const whole = `the whole error is in cycle workflow ${workflowId}`;
  const capTable = (text: string): string => (text.length > CYCLE_ERROR_CHARACTERS && (options.capTableError ?? (() => true))() ? shortText(text, whole) : text);
  for (const t of result.tables) {
    if (t.status === 'committed' && t.load) {
      state.ledger[t.table] = watermark(result, t);
      delete state.failed[t.table];
    } else if (t.status === 'failed' && t.error) {
      // A requested name that is in no export is not a table of the source.
      if (clean && notExported(t) && !knownBefore.has(t.table)) continue;
      // A table read directly (or from its own DynamoDB exports) did not use the cycle's export: its rerun must not pin it.
      const own = t.extract === 'direct' || t.extract === 'dynamodb' ? t.extract : undefined;
      const skippedByExport = options.newExportForSkipped === true && !own && t.error.type === 'NotExported';
      state.failed[t.table] = {
        cycleId: result.cycleId,
        phase: t.error.phase,
        message: capTable(t.error.message),
        ...(exportId && !own && !skippedByExport ? { exportId } : {}),
        ...(own ? { extract: own } : {}),
        ...(skippedByExport ? { newExport: true as const } : {}),
      };
      const previous = state.ledger[t.table];
      if (previous) state.ledger[t.table] = { ...previous, lastError: capTable(t.error.message) };
    } else if (clean && t.status === 'skipped' && EXCLUDED.test(t.reason ?? '')) {
      delete state.failed[t.table];
    }
  }

  if (clean) {
    for (const d of droppedBy(result, cycle, knownBefore, options.dropWithoutExport ?? true)) {
      const failed = state.failed[d.table];
      delete state.failed[d.table];
      known.delete(d.table);
      const note = `${d.note}: gone from the source, or excluded${failed ? `; it left the failed tables (last error: ${failed.message})` : ''}`;
      state.droppedTables = [{ table: d.table, cycleId: result.cycleId, ...(exportId ? { exportId } : {}), at: result.finishedAt, note }, ...state.droppedTables.filter((x) => x.table !== d.table)].slice(0, DROPPED_TABLES);
    }
    state.droppedTables = state.droppedTables.filter((d) => !known.has(d.table));
  }
  pruneExports(state);
  state.knownTables = [...known].sort();

  // A dead cycle's outcomes are read back without totals: the sums are taken here.
  const cost = result.cost ?? costTotals(result.tables.map((t) => t.cost));
  const summary: CycleSummary = {
    cycleId: result.cycleId,
    workflowId,
    kind: cycle.kind,
    status: result.status,
    requestIds: cycle.requestIds,
    ...(exportId ? { exportId } : {}),
    ...(result.error ? { error: keptCycleError(result.error, workflowId, options.capError) } : {}),
    counts: {
      committed: result.tables.filter((t) => t.status === 'committed').length,
      failed: result.tables.filter((t) => t.status === 'failed').length,
      skipped: result.tables.filter((t) => t.status === 'skipped').length,
    },
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    ...(cycle.part ? { part: cycle.part } : {}),
    ...(cost ? { cost } : {}),
  };
  state.lastCycle = { ...summary, tables: result.tables.map((t) => keptTableSummary(tableSummary(t), capTable)) };
  state.recentCycles = [summary, ...state.recentCycles].slice(0, RECENT_CYCLES);
  // What the served requests asked, kept as long as their cycles are among the recent ones.
  if (cycle.asked) (state.servedAsked ??= {})[result.cycleId] = cycle.asked;
  if (state.servedAsked) {
    const kept = state.servedAsked;
    state.servedAsked = Object.fromEntries(state.recentCycles.flatMap((c) => (kept[c.cycleId] ? [[c.cycleId, kept[c.cycleId]!] as const] : [])));
  }
}

/**
 * Known tables a new listing shows to be gone: every table a sync of every table did not list
 * (when it listed any), from its export or, without one (a DynamoDB source, every table read
 * directly), from the source's catalog; and every requested table a table-limited sync's export
 * lacks. A rerun's export is an older one and proves nothing.
 */
function droppedBy(result: CycleResult, cycle: CycleRecord, known: Set<TableName>, withoutExport: boolean): { table: TableName; note: string }[] {
  if (cycle.kind !== 'sync' || result.error || (!result.export && !withoutExport)) return [];
  const exportId = result.export?.exportId;
  if (cycle.tables === undefined) {
    const listed = new Set(result.tables.map((t) => t.table));
    if (listed.size === 0) return [];
    const where = exportId ? `not in export ${exportId} of a sync of every table` : `not among the source's tables listed by cycle ${result.cycleId}, a sync of every table`;
    return [...known].filter((t) => !listed.has(t)).map((table) => ({ table, note: where }));
  }
  if (!exportId) return [];
  return result.tables
    .filter((t) => known.has(t.table) && t.status === 'failed' && t.error?.type === 'TableNotExported')
    .map((t) => ({ table: t.table, note: `not in export ${exportId} of a sync of it` }));
}

/**
 * The snapshots and exports the failed tables' reruns load from (as `rerunParts` picks them: the
 * export each failed on, or the newer one it last committed from): retention keeps them whatever their age.
 */
export function rerunNeeds(state: SourceState): { snapshotIds: string[]; exportIds: string[] } {
  const exportIds = new Set<string>();
  const snapshotIds = new Set<string>();
  for (const [table, failed] of Object.entries(state.failed)) {
    // A table read directly, or from its own DynamoDB exports, reruns without an RDS export.
    if (failed.extract === 'direct' || failed.extract === 'dynamodb') continue;
    const own = ownExport(state, table);
    if (own) {
      exportIds.add(own.export.exportId);
      snapshotIds.add(own.snapshot.snapshotId);
    } else if (failed.exportId) {
      exportIds.add(failed.exportId);
    }
  }
  return { snapshotIds: [...snapshotIds].sort(), exportIds: [...exportIds].sort() };
}

/**
 * What the retention of a cycle of `running` must keep whatever its age: what the failed tables'
 * reruns need; the last export, which a rerun of a table without an export of its own reads
 * (`rerunParts`); the exports the running rerun's other parts and the queued reruns read; and the
 * DynamoDB export each DynamoDB table's watermark points to. The
 * last export is the one of the newest snapshot, not always the newest made: a cycle that exported
 * an older snapshot (e.g. the latest automated one after snapshots lakesync took) leaves it behind.
 */
export function retentionKeeps(state: SourceState, running?: Pick<CoalescedRequest, 'kind' | 'tables'>): { snapshotIds: string[]; exportIds: string[] } {
  const needs = rerunNeeds(state);
  const exportIds = new Set(needs.exportIds);
  if (state.lastExport) exportIds.add(state.lastExport.export.exportId);
  // A DynamoDB table's last committed export, which its watermark names, whatever its age.
  for (const w of Object.values(state.ledger)) if (w.extract === 'dynamodb' && w.exportId) exportIds.add(w.exportId);
  const reruns = [...(running ? [running] : []), ...state.queue].filter((r) => r.kind === 'rerun' && r.tables);
  for (const r of reruns) for (const id of rerunExports(state, r.tables!)) exportIds.add(id);
  return { ...needs, exportIds: [...exportIds].sort() };
}

/** The exports a rerun of these tables reuses (`rerunParts`), sorted. */
export function rerunExports(state: SourceState, tables: TableName[]): string[] {
  return [...new Set(rerunParts(state, tables).flatMap((part) => (part.reuse ? [part.reuse.export.exportId] : [])))].sort();
}

/** Keeps the exports a rerun may still reuse: the last one and those the ledger or the failed tables name. */
function pruneExports(state: SourceState): void {
  const used = new Set<string>();
  if (state.lastExport) used.add(state.lastExport.export.exportId);
  for (const w of Object.values(state.ledger)) used.add(w.exportId);
  for (const f of Object.values(state.failed)) if (f.exportId) used.add(f.exportId);
  for (const id of Object.keys(state.exports)) if (!used.has(id)) delete state.exports[id];
}

function watermark(result: CycleResult, t: TableOutcome): Watermark {
  const load = t.load!;
  if (t.extract === 'dynamodb' || load.extract === 'dynamodb') return dynamoWatermark(t);
  // A direct load read the source, not the cycle's export: its watermark is the window's upper bound (cursorValue).
  const direct = t.extract === 'direct' || load.extract === 'direct';
  return {
    exportId: direct ? '' : (result.export?.exportId ?? ''),
    snapshotTime: direct ? '' : (result.snapshot?.createdAt ?? ''),
    ...(direct ? { extract: 'direct' as const } : {}),
    action: load.action,
    cursorColumn: load.cursorColumn,
    cursorValue: load.cursorValueAfter,
    icebergSnapshotId: load.snapshotId,
    rowCount: load.rowCountAfter,
    schemaHash: load.schemaHash,
    loadedAt: load.finishedAt,
    ...(direct && load.startedAt ? { loadStartedAt: load.startedAt } : {}),
    lastError: null,
    ...(t.cost ? { cost: t.cost } : {}),
  };
}

/** A DynamoDB table's watermark: the export time it reached and the last export it read. */
function dynamoWatermark(t: TableOutcome): Watermark {
  const load = t.load!;
  return {
    exportId: load.dynamodb?.exportIds.at(-1) ?? '',
    snapshotTime: load.dynamodb?.to ?? '',
    extract: 'dynamodb',
    action: load.action,
    cursorColumn: null,
    cursorValue: null,
    icebergSnapshotId: load.snapshotId,
    rowCount: load.rowCountAfter,
    schemaHash: load.schemaHash,
    loadedAt: load.finishedAt,
    lastError: null,
    ...(t.cost ? { cost: t.cost } : {}),
  };
}

/** A table's summary with its error and reason (a recovered commit's names the dead cycle's error) as `kept` keeps them. */
function keptTableSummary(t: TableSummary, kept: (text: string) => string): TableSummary {
  const error = t.error && kept(t.error.message);
  const reason = t.reason !== undefined ? kept(t.reason) : undefined;
  if (error === t.error?.message && reason === t.reason) return t;
  return { ...t, ...(t.error ? { error: { ...t.error, message: error! } } : {}), ...(reason !== undefined ? { reason } : {}) };
}

function tableSummary(t: TableOutcome): TableSummary {
  return {
    table: t.table,
    lakeTable: t.lakeTable,
    status: t.status,
    action: t.load?.action ?? t.action,
    ...(t.error ? { error: t.error } : {}),
    ...(t.reason ? { reason: t.reason } : {}),
    // Counts a recovered commit does not know are left out, not shown as 0.
    ...(t.load && !t.load.changesUnknown ? { inserted: t.load.inserted, updated: t.load.updated, deleted: t.load.deleted } : {}),
    ...(t.load?.changesUnknown ? { changesUnknown: true as const } : {}),
    ...(t.verified !== undefined ? { verified: t.verified } : {}),
    ...(t.load?.nulledValues ? { nulledValues: t.load.nulledValues } : {}),
    ...(t.load?.clampedValues ? { clampedValues: t.load.clampedValues } : {}),
    ...(t.load?.warnings?.length ? { warnings: t.load.warnings } : {}),
    ...(t.cost ? { cost: t.cost } : {}),
  };
}

/**
 * The status as one query answers it: whole when it fits in `limit` bytes, else without its
 * largest parts (ledger, failed tables, last cycle's tables, the queue's tables, the running
 * cycle's tables, the recent cycles' request ids, the dropped requests and tables), named in `paged`
 * for the statusPage query.
 */
export function compactStatus(status: SourceStatus, limit: number, cache?: StatusPageCache): SourceStatus {
  // The largest parts are measured once while no cycle is recorded: the rest, and they, make the whole.
  const largest = largestSizes(status, cache);
  const lastTables = status.lastCycle?.tables;
  const rest = { ...status, ledger: {}, ...(status.lastCycle && lastTables ? { lastCycle: { ...status.lastCycle, tables: [] } } : {}) };
  let total = jsonBytes(rest) - jsonBytes({}) + largest.ledger + (lastTables ? largest.lastCycleTables - jsonBytes([]) : 0);
  if (total <= limit) return status;
  const sizes: Record<StatusPart, number> = {
    ledger: largest.ledger,
    failed: jsonBytes(status.failed),
    lastCycleTables: largest.lastCycleTables,
    // Queued requests stay (a reader counts them); their lists of tables, thousands for a rerun of "failed", are paged.
    queue: jsonBytes(status.queue.map((q) => q.tables ?? [])),
    // A rerun of thousands of tables runs: its ids stay, its tables are paged.
    currentCycleTables: jsonBytes(status.currentCycle?.tables ?? []),
    // A cycle serves up to a queue of requests, each id up to SENDER_FIELD_CHARACTERS: the cycles stay, their ids are paged.
    requestIds: jsonBytes(status.recentCycles.map((c) => c.requestIds)) + jsonBytes(status.lastCycle?.requestIds ?? []),
    // Twenty dropped requests, each with up to ten earlier ids, and fifty dropped tables: few, but long.
    ignoredRequests: jsonBytes(status.ignoredRequests),
    droppedTables: jsonBytes(status.droppedTables),
  };
  const out: SourceStatus = { ...status };
  const paged: StatusPart[] = [];
  // A full queue of requests with long ids and senders is too large even without its tables: it is
  // then left to pages whole, and `queued` counts it.
  const queueWhole = () => {
    total -= jsonBytes(out.queue);
    out.queue = [];
    out.queued = status.queue.length;
  };
  for (const part of (Object.keys(sizes) as StatusPart[]).sort((a, b) => sizes[b] - sizes[a])) {
    if (total <= limit) break;
    if (paged.includes('queue') && out.queue.length > 0 && total - jsonBytes(out.queue) <= limit) {
      queueWhole();
      break;
    }
    paged.push(part);
    total -= sizes[part];
    if (part === 'ledger') out.ledger = {};
    else if (part === 'failed') out.failed = {};
    else if (part === 'ignoredRequests') out.ignoredRequests = [];
    else if (part === 'droppedTables') out.droppedTables = [];
    else if (part === 'queue') out.queue = status.queue.map((q) => (q.tables ? { ...q, tables: [] } : q));
    else if (part === 'currentCycleTables') {
      if (out.currentCycle?.tables) out.currentCycle = { ...out.currentCycle, tables: [] };
    } else if (part === 'requestIds') {
      out.recentCycles = status.recentCycles.map((c) => ({ ...c, requestIds: [] }));
      if (out.lastCycle) out.lastCycle = { ...out.lastCycle, requestIds: [] };
    } else if (out.lastCycle) out.lastCycle = { ...out.lastCycle, tables: [] };
  }
  if (out.queue.length > 0 && jsonBytes(out) > limit) {
    if (!paged.includes('queue')) paged.push('queue');
    queueWhole();
  }
  return { ...out, paged };
}

/** The request ids the recent cycles (and the last cycle, when no longer among them) served, as [cycleId, requestId] pairs. */
function servedRequestIds(state: SourceState): [string, string][] {
  const cycles: CycleSummary[] = [...state.recentCycles];
  if (state.lastCycle && !cycles.some((c) => c.cycleId === state.lastCycle!.cycleId)) cycles.push(state.lastCycle);
  return cycles.flatMap((c) => c.requestIds.map((id): [string, string] => [c.cycleId, id]));
}

/** One page of a status part, in table order, within half the payload limit; `current` is the running cycle. Each page carries the revision of its part. */
export function statusPage(state: SourceState, req: StatusPageRequest, limit: number, current?: SourceStatus['currentCycle'], cache?: StatusPageCache): StatusPage {
  const budget = limit / 2;
  const offset = Number.isFinite(req?.offset) ? req.offset : 0;
  switch (req?.part) {
    case 'ledger': {
      const { sorted, revision } = sortedKeys(state, cache, 'ledger');
      const entry = (t: TableName): [TableName, Watermark] => {
        const w = state.ledger[t]!;
        // A state recorded before table errors were kept short holds them whole: a page keeps their start.
        return [t, w.lastError && w.lastError.length > CYCLE_ERROR_CHARACTERS ? { ...w, lastError: shortText(w.lastError, wholeErrorOf(state, t)) } : w];
      };
      return { part: 'ledger', ...pageOf(sorted, offset, budget, entry), revision };
    }
    case 'failed': {
      const { sorted, revision } = sortedKeys(state, cache, 'failed');
      const entry = (t: TableName): [TableName, FailedTable] => {
        const f = state.failed[t]!;
        return [t, f.message.length > CYCLE_ERROR_CHARACTERS ? { ...f, message: shortText(f.message, wholeErrorOf(state, t)) } : f];
      };
      return { part: 'failed', ...pageOf(sorted, offset, budget, entry), revision };
    }
    case 'lastCycleTables': {
      const where = state.lastCycle ? `the whole error is in cycle workflow ${state.lastCycle.workflowId}` : undefined;
      const tables = state.lastCycle?.tables ?? [];
      return {
        part: 'lastCycleTables',
        ...pageOf(tables, offset, budget, (t) => keptTableSummary(t, (text) => shortText(text, where))),
        revision: revisionOf([state.lastCycle?.cycleId ?? '', ...tables.map((t) => t.table)]),
      };
    }
    case 'queue':
      return { part: 'queue', ...pageOf(queueEntries(state.queue, budget), offset, budget), revision: revisionOf(state.queue.map((q) => `${q.kind} ${q.requestId}`)) };
    case 'currentCycleTables': {
      const tables = current?.tables ?? [];
      return { part: 'currentCycleTables', ...pageOf(tables, offset, budget), revision: revisionOf([current?.cycleId ?? '', ...tables]) };
    }
    case 'requestIds': {
      const pairs = servedRequestIds(state);
      return { part: 'requestIds', ...pageOf(pairs, offset, budget), revision: revisionOf(pairs.map(([c, r]) => `${c} ${r}`)) };
    }
    case 'ignoredRequests':
      return { part: 'ignoredRequests', ...pageOf(state.ignoredRequests, offset, budget), revision: revisionOf(state.ignoredRequests.map((r) => JSON.stringify(r))) };
    case 'droppedTables':
      return { part: 'droppedTables', ...pageOf(state.droppedTables, offset, budget, (d) => (d.note.length > CYCLE_ERROR_CHARACTERS ? { ...d, note: shortText(d.note) } : d)), revision: revisionOf(state.droppedTables.map((d) => JSON.stringify(d))) };
    default:
      throw new Error(`statusPage: unknown part ${JSON.stringify(req?.part)}: ask for ledger, failed, lastCycleTables, queue, currentCycleTables, requestIds, ignoredRequests or droppedTables`);
  }
}

/**
 * The queue as its pages list it: a request too large for a page (a rerun of "failed" names up to
 * every failed table, 20,000 and more) as consecutive entries, each within `budget` bytes with a
 * slice of its tables, those after the first marked `tablesContinued`.
 */
function queueEntries(queue: readonly QueuedRequest[], budget: number): (QueuedRequest & { tablesContinued?: true })[] {
  const out: (QueuedRequest & { tablesContinued?: true })[] = [];
  for (const q of queue) {
    if (!q.tables || q.tables.length <= 1 || jsonBytes(q) <= budget) {
      out.push(q);
      continue;
    }
    // The request's other fields, and a comma per table: the rest of the budget holds its tables' names.
    const room = Math.max(1, budget - jsonBytes({ ...q, tables: [], tablesContinued: true }));
    let chunk: TableName[] = [];
    let bytes = 0;
    let first = true;
    const flush = () => {
      out.push({ ...q, tables: chunk, ...(first ? {} : { tablesContinued: true as const }) });
      first = false;
      chunk = [];
      bytes = 0;
    };
    for (const t of q.tables) {
      const b = jsonBytes(t) + 1;
      if (chunk.length > 0 && bytes + b > room) flush();
      chunk.push(t);
      bytes += b;
    }
    flush();
  }
  return out;
}

/** Where the whole error of a failed table is: the workflow of the cycle it failed in, when still among the recent cycles. */
function wholeErrorOf(state: SourceState, table: TableName): string {
  const cycleId = state.failed[table]?.cycleId;
  const workflowId = cycleId ? state.recentCycles.find((c) => c.cycleId === cycleId)?.workflowId : undefined;
  return workflowId ? `the whole error is in cycle workflow ${workflowId}` : cycleId ? `the whole error is in the workflow of cycle ${cycleId}` : 'the whole error is in the workflow of the cycle it failed in';
}

/** A short name of a list of keys, in order: their count and a 32-bit FNV-1a hash of them. */
function revisionOf(keys: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const key of keys) {
    for (let i = 0; i < key.length; i++) {
      h ^= key.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    // A separator no key ends with, so ["ab"] and ["a", "b"] differ.
    h ^= 0xffff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${keys.length}-${h.toString(16).padStart(8, '0')}`;
}

/**
 * What the pages of the ledger and the failed tables were last read in: the tables in table order,
 * their revision, and what they were read from. A reader reads every page of a large source (some
 * hundred for 50,000 tables): sorted for each, the pages of 20,000 tables took 3 s, of 50,000 16 s.
 */
export type StatusPageCache = Partial<Record<'ledger' | 'failed', { record: object; lastCycle: object | undefined; sorted: TableName[]; revision: string }>> & {
  sizes?: { record: object; lastCycle: object | undefined; ledger: number; lastCycleTables: number };
};

/**
 * The bytes of the status's ledger and of its last cycle's tables, its largest parts (some 400 and
 * 200 bytes a table): as last measured while they and the last cycle are the same objects (only
 * recordCycle changes a watermark, and it records a new last cycle). Measured for each status
 * query, those of 50,000 tables took 0.4 s of the worker's time.
 */
function largestSizes(status: Pick<SourceStatus, 'ledger' | 'lastCycle'>, cache: StatusPageCache | undefined): { ledger: number; lastCycleTables: number } {
  const seen = cache?.sizes;
  if (seen && seen.record === status.ledger && seen.lastCycle === status.lastCycle) return seen;
  const made = { record: status.ledger, lastCycle: status.lastCycle, ledger: jsonBytes(status.ledger), lastCycleTables: jsonBytes(status.lastCycle?.tables ?? []) };
  if (cache) cache.sizes = made;
  return made;
}

/**
 * The tables of `record` in table order, and their revision: as last read while the record and the
 * last cycle are the same objects. Only recordCycle adds or removes a table of the ledger or the
 * failed tables, and it always records a new last cycle (listing the keys is itself a sort: 18 ms
 * for 50,000 tables).
 */
function sortedKeys(state: SourceState, cache: StatusPageCache | undefined, part: 'ledger' | 'failed'): { sorted: TableName[]; revision: string } {
  const record = state[part];
  const seen = cache?.[part];
  if (seen && seen.record === record && seen.lastCycle === state.lastCycle) return seen;
  // Table names are strings: the default order is that of their UTF-16 code units, as < compares them.
  const sorted = Object.keys(record).sort();
  const made = { record, lastCycle: state.lastCycle, sorted, revision: revisionOf(sorted) };
  if (cache) cache[part] = made;
  return made;
}

/**
 * Where the request `requestId` stands (the `request` query): the recent cycles that served it,
 * whether the running cycle serves it (`running`: its requests), its place in the queue, or why it
 * was dropped. A dropped repeat, or another request that reused its id, is not its answer: the
 * request that first had the id still runs, or ran.
 */
export function requestStanding(state: SourceState, requestId: string, current: SourceStatus['currentCycle'], running: readonly QueuedRequest[]): RequestStanding {
  const id = typeof requestId === 'string' ? requestId : String(requestId);
  const servedBy = state.recentCycles.filter((c) => c.requestIds.includes(id)).map((c) => ({ ...c, requestIds: [id] }));
  const queuedAt = state.queue.findIndex((q) => q.requestId === id);
  const runs = running.some((r) => r.requestId === id);
  // A request queued or running under the id is its answer, not a drop of another signal under it (one dropped for its own fault, or before a corrected copy was queued).
  const dropped = queuedAt >= 0 || runs ? undefined : state.ignoredRequests.find((r) => (r.requestId === id || r.earlierRequestIds?.includes(id)) && !r.repeat && !r.reusedId);
  return {
    requestId: id,
    phase: current ? 'running' : 'idle',
    ...(current ? { currentCycle: { cycleId: current.cycleId, workflowId: current.workflowId, kind: current.kind, startedAt: current.startedAt } } : {}),
    queued: state.queue.length,
    servedBy,
    ...(current && runs ? { running: true as const } : {}),
    ...(queuedAt >= 0 ? { queuedAt } : {}),
    ...(dropped ? { dropped } : {}),
  };
}
