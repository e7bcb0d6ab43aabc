/**
 * The public interface of the source workflow: signals, updates and queries, with their payloads.
 * Other services import these (or docs/messages.schema.json) to trigger syncs and reruns.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CostTotals, CycleStatus, TableCost, TableError, TableName, TableStatus, Watermark } from '../model';

export const SOURCE_WORKFLOW_TYPE = 'sourceWorkflow';
export const CYCLE_WORKFLOW_TYPE = 'cycleWorkflow';
export const TRIGGER_WORKFLOW_TYPE = 'triggerWorkflow';

/** Input of the source workflow; `{"source": "shop"}` alone starts a sync. */
export interface SourceWorkflowInput {
  source: string;
  /** Start with a sync of every table (default true). Signal-with-start sends false. */
  syncOnStart?: boolean;
  /** Carried over by continue-as-new; never set by callers. */
  state?: SourceState;
  /** The carried state, stored by reference when too large for a payload; never set by callers. */
  stateRef?: import('../model').JsonRef;
  /**
   * Carried states nothing reads any more (the one the previous run read, copies stored but not
   * used); this run deletes their parts when it continues as new. Never set by callers.
   */
  staleStateRefs?: import('../model').JsonRef[];
  /**
   * Payloads above this many bytes (cycle outcomes, the carried state, the status query's tables)
   * go by reference or in pages; 1024 to 256 KB, the default (a start outside the range fails at
   * once: larger payloads would pass what Temporal takes). Carried over by continue-as-new.
   */
  payloadInlineBytes?: number;
}

/** Ask for a sync: a new snapshot and export, then load the tables. */
export interface SyncRequest {
  /** Only these `schema.table` tables; all included tables when absent. */
  tables?: TableName[];
  requestId?: string;
  requestedBy?: string;
}

/** Ask for a rerun: reuse the last export and load only these tables. */
export interface RerunRequest {
  /** `schema.table` names, or "failed" for every table whose last load failed. */
  tables: TableName[] | 'failed';
  /** Let these loads delete more than the safety limit (after a mass delete in the source). */
  approveDeletes?: boolean;
  /** Let these loads write an export older than the one a lake table holds (moving it back in time). */
  allowOlderExport?: boolean;
  /** Replace these tables from the export so new column types apply (arrays kept as text become lists). */
  rebuild?: boolean;
  requestId?: string;
  requestedBy?: string;
}

/** Answer of the `sync` update. */
export interface SyncAccepted {
  requestId: string;
  /** The tables to sync, without duplicates; absent for every table. */
  tables?: TableName[];
  /**
   * Requests ahead of this one when it was queued (0: it runs next, or right after the running
   * cycle): at most that many run before it, as some may yet be refused by their check against the
   * worker's config, or dropped when served.
   */
  queuedBehind: number;
}

export interface RerunAccepted {
  requestId: string;
  tables: TableName[];
  /**
   * Requests ahead of this one when it was queued (0: it runs next, or right after the running
   * cycle): at most that many run before it, as some may yet be refused by their check against the
   * worker's config, or dropped when served.
   */
  queuedBehind: number;
}

export interface QueuedRequest {
  kind: 'sync' | 'rerun';
  requestId: string;
  tables?: TableName[];
  approveDeletes: boolean;
  /** Only reruns set it (and the sync a rerun signal becomes before any export); absent means false. */
  allowOlderExport?: boolean;
  /** Only reruns set it (rerun --rebuild, and the sync a rerun signal becomes before any export); absent means false. */
  rebuild?: boolean;
  requestedBy?: string;
  /** A rerun asked as "failed": served, it reruns only those of its tables that still fail then. */
  failedOnly?: true;
  /**
   * A rerun with approveDeletes: the exports its tables would load from when it was asked ('' for a
   * table read directly or taking a new export, and ' new export' too for one taking a new export:
   * an approval of tables read directly does not reach a table that takes a new export since). The approval answers the refusals seen on them: a
   * part served from another export (a cycle refused the table again meanwhile, on a newer one) loads
   * without it. Absent in requests queued by earlier versions: the approval holds for every part.
   */
  approvedExports?: string[];
  /**
   * A sync that a rerun signal became before any export: the request was asked as a rerun, so the
   * same rerun sent again is its repeat, and a sync sent with its requestId is another request.
   */
  askedAs?: 'rerun';
}

export interface TableSummary {
  table: TableName;
  lakeTable: string;
  status: TableStatus;
  action: string;
  error?: TableError;
  reason?: string;
  inserted?: number;
  updated?: number;
  deleted?: number;
  /** A recovered commit whose inserted, updated and deleted rows are not known (the counts are absent). */
  changesUnknown?: true;
  verified?: boolean;
  /** Values stored as NULL (onInvalid: null) and clamped (onInvalid: clamp) by source column, and the load's warnings; absent when none. */
  nulledValues?: Record<string, number>;
  clampedValues?: Record<string, number>;
  warnings?: string[];
  /** What the table cost this cycle; absent when it ran no load or before the cost ledger. */
  cost?: TableCost;
}

export interface CycleSummary {
  cycleId: string;
  workflowId: string;
  kind: 'sync' | 'rerun';
  status: CycleStatus;
  requestIds: string[];
  exportId?: string;
  error?: { phase: string; message: string };
  counts: { committed: number; failed: number; skipped: number };
  startedAt: string;
  finishedAt: string;
  /** A rerun whose tables come from several exports runs as consecutive cycles, one per export. */
  part?: { index: number; of: number };
  /** The cycle's cost: its tables' sums (`lakesync cost`); absent when no table has one. */
  cost?: CostTotals;
}

export interface FailedTable {
  cycleId: string;
  phase: string;
  message: string;
  /** The export the table failed on: a rerun loads it from there (absent in entries of older versions). */
  exportId?: string;
  /** `direct`: the table is read directly, so its rerun needs no export. */
  extract?: 'direct' | 'dynamodb';
  /** The export skipped the table: its rerun takes a new export (that one would skip it again). */
  newExport?: true;
}

/** A request the workflow could not serve and dropped (a signal cannot be refused). */
export interface IgnoredRequest {
  kind: 'sync' | 'rerun';
  requestId?: string;
  requestedBy?: string;
  reason: string;
  at: string;
  /** A repeat of a request already queued, running or served: that one still runs (or ran). */
  repeat?: true;
  /**
   * Another request sent with the requestId of one queued, running or served, asking otherwise: the
   * request that first had the id still runs (or ran), so a waiter for that id is not answered by this entry.
   */
  reusedId?: true;
  /**
   * How many requests of this sender (`requestedBy`, or of senders that name none) were dropped for this same reason (e.g. a schedule's hourly
   * rerun of failed tables when none has failed), counting this one, the newest (its `requestId`
   * and `at`); absent for one. They are kept as one entry, so they do not push others out.
   */
  times?: number;
  /** When the first of them was dropped; set with `times`. */
  firstAt?: string;
  /** The request ids of the newest of those before this one (newest first, up to 10): their waiters learn why too. */
  earlierRequestIds?: string[];
}

/** A table that is no longer in the source: it left the failed and the known tables. */
export interface DroppedTable {
  table: TableName;
  cycleId: string;
  /** The full export it was missing from; absent when the sync that missed it took no RDS export (its tables came from the source's catalog). */
  exportId?: string;
  at: string;
  note: string;
}

export interface ReusableExport {
  cycleId: string;
  snapshot: import('../model').SnapshotRef;
  export: import('../model').ExportRef;
}

export interface SourceState {
  cycleCount: number;
  ledger: Record<TableName, Watermark>;
  failed: Record<TableName, FailedTable>;
  queue: QueuedRequest[];
  lastExport?: ReusableExport;
  /** The exports the ledger and the failed tables name, by export id: a rerun reuses each table's own. */
  exports: Record<string, ReusableExport>;
  lastCycle?: CycleSummary & { tables: TableSummary[] };
  recentCycles: CycleSummary[];
  /** Every table of the source seen in an export and not dropped since, for validating requests. */
  knownTables: TableName[];
  requestCounter: number;
  /** Newest first, bounded. */
  ignoredRequests: IgnoredRequest[];
  /** Newest first, bounded. */
  droppedTables: DroppedTable[];
  /**
   * What each request the recent cycles served asked, by cycle id, in the order of its
   * `requestIds`: a compact fingerprint (its tables' count and hash, its approvals), so that another
   * request sent with a served id is told apart from a repeat. Absent in states of older versions.
   */
  servedAsked?: Record<string, string[]>;
}

export interface SourceStatus {
  source: string;
  phase: 'idle' | 'running';
  currentCycle?: { cycleId: string; workflowId: string; kind: 'sync' | 'rerun'; tables?: TableName[]; startedAt: string };
  queue: QueuedRequest[];
  lastCycle?: CycleSummary & { tables: TableSummary[] };
  recentCycles: CycleSummary[];
  failed: Record<TableName, FailedTable>;
  ledger: Record<TableName, Watermark>;
  /** The newest snapshot and export; a rerun reuses it for tables without an export of their own. */
  lastExport?: ReusableExport;
  /** Requests dropped because they could not be served (newest first). */
  ignoredRequests: IgnoredRequest[];
  /** Tables no longer in the source (newest first). */
  droppedTables: DroppedTable[];
  /** Set while the state could not be stored to continue as new: the run keeps it and tries again at retryAt. */
  stateNotStored?: { message: string; at: string; retryAt: string };
  /**
   * Parts left out because the answer would be too large a payload (their fields are then empty;
   * a paged queue keeps its requests, with empty lists of tables, unless even they are too large:
   * then it is empty and `queued` counts them; paged request ids leave the
   * cycles with empty `requestIds`; a paged current cycle keeps its ids, with an empty list of tables):
   * read them with the `statusPage` query (readSourceStatus in src/status-pages.ts does).
   */
  paged?: StatusPart[];
  /** Set when the queue itself was too large for the answer (then empty, its requests paged): how many requests are queued. */
  queued?: number;
}

/**
 * The parts of the status that can grow with the number of tables or requests: `currentCycleTables`
 * is the running cycle's list of tables, `requestIds` the ids of the requests the recent cycles
 * (and the last cycle) served; `ignoredRequests` and `droppedTables` are bounded in number, but their
 * entries hold long ids, senders and table names.
 */
export type StatusPart = 'ledger' | 'failed' | 'lastCycleTables' | 'queue' | 'currentCycleTables' | 'requestIds' | 'ignoredRequests' | 'droppedTables';

export interface StatusPageRequest {
  part: StatusPart;
  /** The index of the first entry; 0, then the page's `next`. */
  offset: number;
}

/**
 * Entries of one part from `offset`; `next` is absent on the last page. `revision` names the part's
 * list as it was when the page was answered (its entries and their order): a reader whose pages
 * carry different revisions read a list that changed between them (an entry may be read twice, or
 * missed) and reads it again. Absent from workers that answered before revisions existed.
 */
export type StatusPage = { next?: number; total: number; revision?: string } & (
  | { part: 'ledger'; entries: [TableName, Watermark][] }
  | { part: 'failed'; entries: [TableName, FailedTable][] }
  | { part: 'lastCycleTables'; entries: TableSummary[] }
  /**
   * A request whose tables do not fit in one page comes as consecutive entries, each with a slice
   * of its tables in order: those after the first say `tablesContinued` (their tables extend the entry before).
   */
  | { part: 'queue'; entries: (QueuedRequest & { tablesContinued?: true })[] }
  | { part: 'currentCycleTables'; entries: TableName[] }
  /** [cycleId, requestId] pairs, newest cycle first, each cycle's ids in their order. */
  | { part: 'requestIds'; entries: [string, string][] }
  | { part: 'ignoredRequests'; entries: IgnoredRequest[] }
  | { part: 'droppedTables'; entries: DroppedTable[] }
);

export const requestSyncSignal = defineSignal<[SyncRequest]>('requestSync');
export const requestRerunSignal = defineSignal<[RerunRequest]>('requestRerun');
export const rerunUpdate = defineUpdate<RerunAccepted, [RerunRequest]>('rerun');
export const syncUpdate = defineUpdate<SyncAccepted, [SyncRequest]>('sync');
export const statusQuery = defineQuery<SourceStatus>('status');
/** What the status queries answer (as a failure) while a new run reads the state carried over by reference: ask again. */
export const STATE_LOADING = 'the source workflow is reading the state it carried over by continue-as-new: ask again in a moment';
export const statusPageQuery = defineQuery<StatusPage, [StatusPageRequest]>('statusPage');

/**
 * Where one request stands, answered in one small query (a waiter polls it instead of reading the
 * status with every page of request ids): the recent cycles that served it, or whether it runs,
 * waits in the queue, or was dropped and why. None of them: the source does not know the id (yet).
 */
export interface RequestStanding {
  requestId: string;
  phase: 'idle' | 'running';
  /** The running cycle, without its tables. */
  currentCycle?: { cycleId: string; workflowId: string; kind: 'sync' | 'rerun'; startedAt: string };
  /** How many requests wait in the queue. */
  queued: number;
  /** The recent cycles that served it, newest first (a rerun split by export: one per part); each lists only this request id among those it served. */
  servedBy: CycleSummary[];
  /** The running cycle serves it. */
  running?: true;
  /** Its place in the queue (0: next), when it waits there. */
  queuedAt?: number;
  /** Why the source dropped it (not a repeat of a request that still runs or ran); absent while a request under its id is queued or running. */
  dropped?: IgnoredRequest;
}
export const requestQuery = defineQuery<RequestStanding, [string]>('request');

/** Live progress of a running cycle (phase and per-batch counters). */
export interface CycleProgress {
  cycleId: string;
  phase: 'settings' | 'snapshot' | 'export' | 'discover' | 'plan' | 'load' | 'done';
  exportPercent?: number;
  tables: number;
  done: number;
  failed: number;
  batches: { workflowId: string; tables: number; state: 'pending' | 'running' | 'done' }[];
}
export const cycleProgressQuery = defineQuery<CycleProgress>('progress');

/**
 * Sent by the source to its running cycle: exports its retention must keep besides those the cycle
 * started with (a rerun queued meanwhile reads them).
 */
export const keepExportsSignal = defineSignal<[{ exportIds: string[] }]>('keepExports');

/** A page of a finished cycle's table outcomes (a result with `tablesRef` holds none inline). */
export interface CycleTablesPage {
  entries: import('../model').TableOutcome[];
  next?: number;
  total: number;
}
/** Answered once the cycle has its outcomes (empty before); the argument is the offset. */
export const cycleTablesPageQuery = defineQuery<CycleTablesPage, [number]>('tablesPage');

export interface BatchTableProgress {
  table: TableName;
  /** `exporting`: a DynamoDB table waits for its exports. */
  state: 'pending' | 'exporting' | 'loading' | 'granting' | 'verifying' | 'committed' | 'failed';
  startedAt?: string;
  finishedAt?: string;
  rowsRead?: number;
  error?: string;
}
export const batchProgressQuery = defineQuery<BatchTableProgress[]>('progress');
