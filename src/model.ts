/**
 * The data that flows between the workflows, the activities and the ports.
 * Plain JSON-serialisable types only: every value here crosses Temporal payloads.
 */

/** A source table inside one source database, addressed as `schema.table`. */
export type TableName = string;

export type LoadAction = 'create' | 'merge' | 'replace' | 'incremental';
export type PlannedAction = LoadAction | 'skip';

export interface SnapshotRef {
  snapshotId: string;
  /** ISO-8601 time the snapshot was taken. */
  createdAt: string;
  /** True when an existing snapshot was adopted instead of created. */
  adopted: boolean;
}

export type SnapshotState = 'creating' | 'available' | 'failed';

export interface SnapshotStatus {
  snapshotId: string;
  state: SnapshotState;
  createdAt?: string;
  message?: string;
}

export interface ExportRef {
  exportId: string;
  /** Root of the export: `s3://bucket/prefix/<exportId>` or a local folder. */
  location: string;
  snapshotId: string;
  adopted: boolean;
}

export type ExportState = 'starting' | 'in_progress' | 'complete' | 'canceling' | 'canceled' | 'failed';

export interface ExportStatus {
  exportId: string;
  state: ExportState;
  percentProgress?: number;
  failureCause?: string;
  /** Tables RDS reported as skipped, with its reason. */
  skippedTables?: { table: TableName; reason: string }[];
  warnings?: string[];
}

export interface ColumnMapping {
  columnName: string;
  originalType: string;
  expectedExportedType: string;
  originalCharMaxLength?: number;
  originalNumPrecision?: number;
  /** Not in RDS's files; the embedded exporter adds it (the job falls back to the type text). */
  originalNumScale?: number;
  originalDateTimePrecision?: number;
}

export interface DiscoveredTable {
  table: TableName;
  /** `db.schema.table` as the export names it. */
  target: string;
  sizeGB?: number;
  columns: ColumnMapping[];
  /** Primary key columns the source declares, when the port knows them. */
  primaryKey?: string[];
}

export interface DiscoveredExport {
  database: string;
  tables: DiscoveredTable[];
  /** Tables the export did not complete or skipped, with the reason. */
  skipped: { table: TableName; reason: string }[];
  warnings: string[];
}

/** What discover hands the workflow: a reference to the full list, plus the names. */
export interface DiscoverySummary {
  manifest: string;
  database: string;
  tables: TableName[];
  skipped: { table: TableName; reason: string }[];
  warnings: string[];
}

/** Where a table's key came from: lakesync.yaml, the source's catalog, or nowhere. */
export type KeySource = 'configured' | 'source' | 'none';

/** How an incremental table applies its new rows: upsert by key, or append. */
export type CursorMode = 'upsert' | 'append';

/**
 * Everything a table's load needs, decided once by the plan (src/plan.ts). The adapters build
 * the job's arguments from this alone and never read the config again.
 */
export interface PlanEntry {
  table: TableName;
  lakeTable: string;
  action: PlannedAction;
  reason: string;
  primaryKey: string[];
  keySource: KeySource;
  /** The cursor column and its resolved mode, when the table has one. */
  cursor?: { column: string; mode: CursorMode };
  /** A merge deleting more than this fraction of the lake table is refused... */
  maxDeleteFraction: number;
  /** ...unless this cycle approved it (rerun --approve-deletes). */
  approveDeletes: boolean;
}

export interface LoadRequest {
  source: string;
  cycleId: string;
  runToken: string;
  exportLocation: string;
  database: string;
  plan: PlanEntry;
  namespace: string;
  resultLocation: string;
}

export type LoadRunState = 'running' | 'succeeded' | 'failed';

export interface LoadRunStatus {
  runId: string;
  state: LoadRunState;
  /** Backend state word, e.g. Glue's RUNNING / TIMEOUT. */
  detail?: string;
  errorMessage?: string;
  executionSeconds?: number;
  dpuSeconds?: number;
}

/** The result JSON the load job writes (glue/README.md). */
export interface LoadResult {
  table: string;
  lakeTable: string;
  status: 'succeeded' | 'failed';
  action: LoadAction | 'none';
  rowsRead: number;
  inserted: number;
  updated: number;
  deleted: number;
  rowCountAfter: number;
  cursorColumn: string | null;
  cursorValueAfter: string | null;
  snapshotId: string | null;
  committed: boolean;
  schemaChanges: string[];
  droppedColumns: string[];
  schemaHash: string;
  cycleId: string;
  runToken: string;
  startedAt: string;
  finishedAt: string;
  /** `retryable`: whether running the load again can help; the job decides (glue/lakesync_glue/errors.py). */
  error: { class: string; message: string; retryable: boolean } | null;
}

export interface GrantRequest {
  source: string;
  namespace: string;
  lakeTables: string[];
  principals: { principal: string; tablePermissions: string[]; namespacePermissions: string[] }[];
}

export interface GrantOutcome {
  granted: number;
  alreadyGranted: number;
}

export interface VerifyRequest {
  source: string;
  namespace: string;
  lakeTable: string;
  table: TableName;
  expectedRowCount: number;
  snapshotId: string | null;
  checks: { name: string; sql: string; expect: string | number }[];
}

export interface VerifyOutcome {
  passed: boolean;
  checks: { name: string; expected: string; actual: string; passed: boolean }[];
}

/** One ledger entry per table (DESIGN section 4). */
export interface Watermark {
  exportId: string;
  snapshotTime: string;
  action: LoadAction | 'none';
  cursorColumn: string | null;
  cursorValue: string | null;
  icebergSnapshotId: string | null;
  rowCount: number;
  schemaHash: string;
  loadedAt: string;
  lastError: string | null;
}

export type TablePhase = 'discover' | 'plan' | 'load' | 'grant' | 'verify';

export interface TableError {
  phase: TablePhase;
  message: string;
  type: string;
  retryable: boolean;
}

export type TableStatus = 'committed' | 'failed' | 'skipped';

/** A table to load, as the workflows see it (the rest of its plan stays in the manifest). */
export interface LoadItem {
  table: TableName;
  lakeTable: string;
  action: LoadAction;
}

/** The part of a load result the workflows keep (the full JSON stays with the backend). */
export type LoadSummary = Pick<
  LoadResult,
  'action' | 'committed' | 'rowsRead' | 'inserted' | 'updated' | 'deleted' | 'rowCountAfter' | 'cursorColumn' | 'cursorValueAfter' | 'snapshotId' | 'schemaHash' | 'finishedAt'
>;

export interface TableOutcome {
  table: TableName;
  lakeTable: string;
  action: PlannedAction;
  status: TableStatus;
  reason?: string;
  error?: TableError;
  load?: LoadSummary;
  verified?: boolean;
  startedAt?: string;
  finishedAt?: string;
}

export type CycleStatus = 'succeeded' | 'partial' | 'failed';

export interface CycleResult {
  cycleId: string;
  source: string;
  status: CycleStatus;
  snapshot?: SnapshotRef;
  export?: ExportRef;
  /** Cycle-level failure (snapshot, export, discover), when there is one. */
  error?: { phase: string; message: string };
  tables: TableOutcome[];
  warnings: string[];
  startedAt: string;
  finishedAt: string;
  /** Whether the source may set its search attributes (from the cycle's settings). */
  searchAttributes?: boolean;
}

/** What a cycle needs from the config; read once by an activity so the workflow stays deterministic. */
export interface CycleSettings {
  database: string;
  namespace: string;
  concurrency: number;
  batchSize: number;
  snapshotMode: 'create' | 'latest-automated' | 'existing';
  existingSnapshotId?: string;
  verify: boolean;
  grants: boolean;
  /** The lakesync search attributes are registered on the namespace (the worker checked). */
  searchAttributes: boolean;
  retry: { initialIntervalSeconds: number; maximumIntervalSeconds: number; backoffCoefficient: number; maximumAttempts: number };
  timeouts: { loadHours: number; heartbeatSeconds: number; pollInitialSeconds: number; pollMaximumSeconds: number };
}

export interface PlanSummary {
  /** Reference to the full plan (PlanEntry[]) in the manifest store. */
  planRef: string;
  /** Tables to load, in order. */
  load: LoadItem[];
  /** Tables not loaded this cycle, with the reason (excluded, skipped by the export, invalid name). */
  notLoaded: TableOutcome[];
}
