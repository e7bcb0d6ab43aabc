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
  /** ISO-8601 time of the exported snapshot, as the export task records it (it outlives the snapshot). */
  snapshotTime?: string;
}

export interface ColumnMapping {
  columnName: string;
  originalType: string;
  expectedExportedType: string;
  originalCharMaxLength?: number;
  originalNumPrecision?: number;
  /** Not in RDS's files; the embedded exporter adds it (the job falls back to the type text). */
  originalNumScale?: number;
  /** Not in RDS's files either: the type's udt name (`_int4` for integer[]), so the job knows an array's element type. */
  originalUdtName?: string;
  /** Nor this: the domain a column is declared with (originalType is the type under all its domains). */
  originalDomainName?: string;
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
  /**
   * The columns that may hold NULL (no NOT NULL constraint), where the source's catalog tells them
   * (tables read directly); absent when none may, or when the port does not know.
   */
  nullable?: string[];
  /**
   * A direct table's partitions (every level; [] for none, or a table that is not partitioned) as
   * they were checked against the exclude rules; absent when no exclude rule was checked.
   */
  partitions?: TableName[];
  /** A DynamoDB table (source kind dynamodb): its ARN, key and point-in-time recovery, as DescribeTable and DescribeContinuousBackups tell. */
  dynamodb?: DynamoTableInfo;
  /** Why the source refused to describe this table alone (a permission, a table gone meanwhile): the plan fails the table with it. */
  notDescribed?: { type: string; message: string };
}

/** A DynamoDB key attribute: its name and DynamoDB scalar type. */
export interface DynamoKeyAttribute {
  name: string;
  type: 'S' | 'N' | 'B';
}

/** What the source's DynamoDB says of one table, read without a side effect. */
export interface DynamoTableInfo {
  tableArn: string;
  /** The partition key, then the sort key when there is one. */
  key: DynamoKeyAttribute[];
  /**
   * Point-in-time recovery: exports need it on; `earliestRestorable` is the oldest time an export may
   * start from (ISO-8601); `recoveryPeriodDays` its period (1 to 35 days), when DynamoDB reports it.
   */
  pitr: { enabled: boolean; earliestRestorable?: string; recoveryPeriodDays?: number };
  /** DynamoDB's approximate item count (refreshed about every six hours). */
  itemCount?: number;
}

/**
 * One DynamoDB point-in-time export a table's load reads (ISO-8601 times, whole seconds): the whole
 * table as it was at `to` (FULL), or the changes of [from, to) (INCREMENTAL, NEW_AND_OLD_IMAGES).
 */
export interface TableExportWindow {
  type: 'FULL' | 'INCREMENTAL';
  from?: string;
  to: string;
}

/** A DynamoDB table's load, decided by the plan: its key, declared attributes and the exports of this cycle. */
export interface DynamoExtract {
  kind: 'dynamodb';
  tableArn: string;
  key: DynamoKeyAttribute[];
  /** Declared attributes by DynamoDB attribute name, with their lake types (string, decimal(p,s), bigint, int, double, boolean, binary, json). */
  attributes: Record<string, string>;
  /** Oldest first: one FULL export (create, replace), or INCREMENTAL windows from the lake's export time (merge). */
  exports: TableExportWindow[];
}

/** A DynamoDB export lakesync started for one table and window. */
export interface TableExportRef {
  /** lakesync's deterministic id of the export (src/ids.ts tableExportIdFor); the client token is derived from it. */
  exportId: string;
  /** DynamoDB's ExportArn (the embedded mode makes one up in the same shape). */
  exportArn: string;
  table: TableName;
  window: TableExportWindow;
  /** True when a retry found the export already started (same client token). */
  adopted: boolean;
}

export interface TableExportStatus {
  state: 'in_progress' | 'complete' | 'failed';
  /** The folder holding manifest-summary.json and manifest-files.json, which names the data files (s3://... or a local folder); set once complete. */
  location?: string;
  /** Items (FULL) or change records (INCREMENTAL) in the export; set once complete. */
  itemCount?: number;
  billedBytes?: number;
  /** The backend models `billedBytes` (the fake): no AWS bill. */
  modelled?: true;
  /** Whose figure `billedBytes` is, as the activity answers a complete export (absent from workers before it). */
  costBasis?: CostBasis;
  failureCause?: string;
}

/** A completed DynamoDB export as a load reads it. */
export interface LoadedTableExport {
  exportId: string;
  window: TableExportWindow;
  location: string;
  itemCount: number;
}

export interface DiscoveredExport {
  database: string;
  tables: DiscoveredTable[];
  /** Tables the export did not complete or skipped, with the reason. */
  skipped: { table: TableName; reason: string }[];
  warnings: string[];
  /** The part files each listed table's folder holds (a table without any is absent), where the adapter lists them. */
  parts?: Record<TableName, ExportParts>;
}

/** A table's part files in an export: how many, and their bytes. */
export interface ExportParts {
  files: number;
  bytes: number;
}

/** What discover hands the workflow: a reference to the full list, plus the names. */
export interface DiscoverySummary {
  manifest: string;
  /** Reference to the tables read directly (extract: direct) as the source's catalog describes them; absent when there are none. */
  directManifest?: string;
  database: string;
  /** How many tables the export and the catalog list; `manifest` and `directManifest` hold them (not the payload: thousands of names). */
  tableCount: number;
  skipped: { table: TableName; reason: string }[];
  /** `skipped` stored by reference (empty here) when too large for a payload: an export that skipped thousands of tables. */
  skippedRef?: JsonRef;
  /** Direct tables not read: a partitioned table one of whose partitions is excluded (its read would hold that partition's rows), with the reason. */
  notRead?: { table: TableName; reason: string }[];
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
  /**
   * The cursor column, its resolved mode and lookback ("1h", "1000": how far below the lake's
   * max(cursor) a load reads again). The plan sets the lookback whenever it knows the column's
   * type; absent, the job takes the default for the type it finds.
   */
  cursor?: { column: string; mode: CursorMode; lookback?: string };
  /**
   * A create's next loads, once the lake table exists: merge (by key), replace (no key, or action replace
   * configured) or incremental (a cursor). The job holds the create to the rules of Spark's MERGE only when
   * they merge by key. Set on creates of export loads; absent on older plans (the job then assumes a keyed table merges).
   */
  nextAction?: 'merge' | 'replace' | 'incremental';
  /** A merge deleting more than this fraction of the lake table is refused... */
  maxDeleteFraction: number;
  /** ...unless this cycle approved it (rerun --approve-deletes). */
  approveDeletes: boolean;
  /** Load even when the lake table holds a newer export (rerun --allow-older-export). */
  allowOlderExport: boolean;
  /** Cast and key errors may quote row values (the source's errors.showValues); absent means no. */
  showValues?: boolean;
  /** Column policies by source column (the table's `columns`); absent when it has none. */
  columns?: Record<string, ColumnPolicy>;
  /** Where the load finds the key of hashed columns; set only when a column is hashed. */
  hashKey?: HashKey;
  /** Replace the lake table from the export so new column types apply (rerun --rebuild); absent means no. */
  rebuild?: boolean;
  /** The table's size in the export (RDS export `sizeGB`), which sizes its Glue run; absent for direct and DynamoDB tables. */
  sizeGB?: number;
  /**
   * Read the table directly from the source over JDBC by a cursor window instead of from the
   * snapshot export (lakesync.yaml `extract: direct`); absent means an export load.
   */
  extract?: DirectExtract | DynamoExtract;
}

/** A direct load's settings: partitions to read with (1..256, else the job derives them) and a column to hash on. */
export interface DirectExtract {
  kind: 'direct';
  partitions?: number;
  partitionColumn?: string;
  /**
   * The table's partitions the plan checked against the exclude rules: the job reads only these
   * (each by name) and refuses the table when it has any other, e.g. one attached since the plan.
   * Absent when no exclude rule applies.
   */
  knownPartitions?: TableName[];
}

/** What the load does with one source column (lakesync.yaml `columns`); only the options in force are set. */
export interface ColumnPolicy {
  exclude?: true;
  hash?: true;
  /** The lake column name. */
  rename?: string;
  /** Spark SQL lake type: decimal(p,s), double, float, string, bigint, int, date, timestamp, boolean. */
  type?: string;
  /** A value the lake type cannot hold: fail the table (default), NULL, or clamp a date/timestamp. */
  onInvalid?: 'fail' | 'null' | 'clamp';
}

/** Where the hash key is: an environment variable of the load (local) or a Secrets Manager secret (Glue). Never the key. */
export type HashKey = { env: string } | { secretArn: string };

export interface LoadRequest {
  source: string;
  cycleId: string;
  runToken: string;
  /**
   * The export and the time of the snapshot it was taken from: the lineage every commit records.
   * Required for an export load; a direct load (`plan.extract`) reads the source and has none.
   */
  exportId?: string;
  /** ISO-8601. */
  snapshotTime?: string;
  exportLocation?: string;
  database: string;
  plan: PlanEntry;
  namespace: string;
  resultLocation: string;
  /**
   * A DynamoDB load (`plan.extract.kind` dynamodb): its completed exports, oldest first. `exportId`
   * and `snapshotTime` are then the last one's id and `window.to`, the lineage of the commit.
   */
  tableExports?: LoadedTableExport[];
  /**
   * An RDS export load: the table's part files as the export's discovery found them (its own
   * cycle's record). The job refuses the table when the files it lists differ (some removed since,
   * by an S3 lifecycle rule or a delete): it would load without their rows. Absent: not recorded.
   */
  exportParts?: ExportParts;
}

/**
 * One run that loads several small tables (a pack): one Glue job run, or one local runner job.
 * Each table keeps its own LoadRequest (its run token, lineage and result location); the run
 * writes each table's result JSON there as soon as that table is done, and the summary at the end.
 */
export interface PackRequest {
  source: string;
  cycleId: string;
  /** Deterministic per cycle and pack (`packTokenFor`): a retried start finds the run by it. */
  packToken: string;
  /** The tables of the pack, in the order the run loads them. */
  loads: LoadRequest[];
  /** Where the run writes its PackSummary when it ends. */
  summaryLocation: string;
}

/** What a pack run writes when it ends: each table's outcome and the seconds it took, to share the run's cost. */
export interface PackSummary {
  packToken: string;
  tables: PackTableSummary[];
}

export interface PackTableSummary {
  /** The source table (`plan.table`). */
  table: string;
  /** `skipped`: its result for this run token was already written (a retried pack); it was not loaded again. */
  status: 'succeeded' | 'failed' | 'skipped';
  seconds: number;
}

export type LoadRunState = 'running' | 'succeeded' | 'failed';

export interface LoadRunStatus {
  runId: string;
  state: LoadRunState;
  /** Backend state word, e.g. Glue's RUNNING / TIMEOUT. */
  detail?: string;
  errorMessage?: string;
  /** A failed run that a new run may fix (no capacity, a service error); the backend decides. */
  retryable?: boolean;
  /**
   * The run ended without ever starting (it expired in the job run queue, or the backend had no
   * capacity to start it): it loaded nothing and is no failure of the load, which starts a new run.
   */
  unstarted?: true;
  executionSeconds?: number;
  dpuSeconds?: number;
  /** `dpuSeconds` is the backend's model (the fake), not a Glue run's figure. */
  modelled?: true;
  /** Glue's execution class of the run, when it reports one: FLEX runs have their own price. */
  executionClass?: GlueExecutionClass;
  /** When the backend started the run (Glue's StartedOn): a result whose job began before it is an earlier run's. */
  startedAt?: string;
}

export type GlueExecutionClass = 'STANDARD' | 'FLEX';

/** A run still going (starting, queued, running or stopping) on a lake table, whichever load started it. */
export interface LiveLoadRun {
  runId: string;
  /** The token it was started with: the same token is the same load (`cycleId:table`). */
  runToken: string;
  /** Backend state word, e.g. Glue's RUNNING or WAITING. */
  detail?: string;
  startedAt?: string;
  /** The run is a pack's (several tables in one run): its token, how many tables it loads, and this table's place among them. */
  pack?: { token: string; tables: number; index?: number };
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
  /** Values stored as NULL (onInvalid: null) and clamped (onInvalid: clamp), by source column; absent from older jobs. */
  nulledValues?: Record<string, number>;
  clampedValues?: Record<string, number>;
  /** What the load wants known without failing (e.g. a multi-dimensional array kept as text). */
  warnings?: string[];
  /** `direct`: the rows were read from the source over JDBC; `dynamodb`: from DynamoDB exports (absent for an RDS export load). */
  extract?: 'direct' | 'dynamodb';
  /** The cursor window a direct load read; `cursorValueAfter` is its upper bound, the new watermark. */
  window?: LoadWindow;
}

/** The window of a direct load: cursor values as text (timestamps ISO-8601); `from` is null on create. */
export interface LoadWindow {
  from: string | null;
  to: string | null;
  partitions: number;
  estimatedRows: number;
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

/**
 * What the lake's row count at the loaded snapshot is compared with. The figure never comes from
 * the load job's own count of the table, so a job that loses or duplicates rows cannot vouch for itself.
 */
export type RowCountCheck =
  /** create, merge, replace: the lake holds exactly the export's rows (its Parquet footers' count). */
  | { kind: 'total'; rows: number }
  /**
   * incremental: the rows the lake gained, counted by the lake itself, equal `rows` (what the load
   * reports inserting) and are at most `atMost` (the export's rows: nothing appended comes from elsewhere).
   * `since: 'parent'`: from the snapshot's parent to the snapshot (the load committed it);
   * `since: 'snapshot'`: from the snapshot to the table's current state (the load committed nothing).
   */
  /**
   * A DynamoDB incremental merge: the lake's own count moved by exactly `inserted - deleted` from
   * the snapshot's parent to the snapshot (`since: 'parent'`), and the keys the load inserted or
   * deleted are at most `atMost`, the change records of its exports.
   */
  | { kind: 'changed'; inserted: number; deleted: number; atMost: number; since: 'parent' | 'snapshot' }
  | {
      kind: 'appended';
      /**
       * Absent: the load's own count is unknown (a dead cycle's commit whose result JSON is
       * missing): the rows the lake gained are held against `atMost` alone.
       */
      rows?: number;
      /** Absent (only with `rows`): no bound is known (a direct load's window, its result missing). */
      atMost?: number;
      since: 'parent' | 'snapshot';
      /** What `atMost` counts, for the check's wording; absent: the export's rows. */
      bound?: 'window';
    };

export interface VerifyRequest {
  source: string;
  namespace: string;
  lakeTable: string;
  table: TableName;
  rowCount: RowCountCheck;
  snapshotId: string | null;
  checks: { name: string; sql: string; expect: string | number }[];
}

export interface VerifyOutcome {
  passed: boolean;
  checks: { name: string; expected: string; actual: string; passed: boolean }[];
}

/**
 * A lake table's newest commit as the lake itself records it (the Iceberg snapshot summary's
 * lineage), independent of any workflow state.
 */
export interface LakeCommit {
  icebergSnapshotId: string;
  committedAt: string;
  /** lakesync's lineage properties; absent on a commit lakesync did not make. */
  source?: string;
  exportId?: string;
  /** ISO-8601 time of the source snapshot the export was taken from. */
  snapshotTime?: string;
  cycleId?: string;
  /** What the commit wrote, from its Iceberg snapshot summary; absent where the backend does not read it. */
  written?: CommitFigures;
}

/**
 * An Iceberg commit's figures (its snapshot's operation, parent and summary counts). Iceberg leaves
 * a count of 0 out of the summary: an absent added or deleted count is 0 here; an absent total is null.
 */
export interface CommitFigures {
  /** append, overwrite, delete or replace; null when not recorded. */
  operation: string | null;
  /** The snapshot it was committed on; null for a commit that wrote a new table (a create, or a replace of the whole table). */
  parentId: string | null;
  /** Rows in the data files it added (added-records). */
  addedRecords: number;
  /** Rows in the data files it removed (deleted-records), and those files (deleted-data-files). */
  deletedRecords: number;
  deletedDataFiles: number;
  /** Delete files it added and removed (row-level deletes of a merge-on-read write). */
  addedDeleteFiles: number;
  removedDeleteFiles: number;
  /** Rows in the table's data files after it (total-records), and its delete files (total-delete-files). */
  totalRecords: number | null;
  totalDeleteFiles: number | null;
}

/** One ledger entry per table (DESIGN section 4). */
export interface Watermark {
  /** The export the load read; "" for a direct load, which reads the source (`extract`). */
  exportId: string;
  snapshotTime: string;
  /**
   * `direct`: the last load read the source directly; its watermark is `cursorValue`. `dynamodb`:
   * `exportId` is the last DynamoDB export it loaded and `snapshotTime` the export time it reached.
   * Absent for an RDS export load.
   */
  extract?: 'direct' | 'dynamodb';
  action: LoadAction | 'none';
  cursorColumn: string | null;
  cursorValue: string | null;
  icebergSnapshotId: string | null;
  rowCount: number;
  schemaHash: string;
  loadedAt: string;
  /**
   * A direct load (`extract: direct`): when it started, before it read the source, so that the data
   * is at least this fresh. Absent for other loads, and for direct loads that did not report it.
   */
  loadStartedAt?: string;
  lastError: string | null;
  /** What the load of this commit cost (src/cost); absent for loads before the cost ledger. */
  cost?: TableCost;
}

/**
 * Where a table's cost figures come from. `glue`: an AWS backend, DPU-seconds from the Glue run
 * (its DPUSeconds, or execution time x workers x DPU per worker) and export sizes from RDS or
 * DynamoDB; `modelled`: a backend that models them (the fake); `none`: the embedded mode, which
 * runs no Glue job and pays for no export, so it is never priced.
 */
export type CostBasis = 'glue' | 'modelled' | 'none';

/**
 * The cost of one table's load in one cycle, estimated at the source's configured prices
 * (`sources.<s>.cost`). A figure the backend does not know is absent, never guessed.
 */
export interface TableCost {
  basis: CostBasis;
  /** DPU-seconds of the load run. */
  dpuSeconds?: number;
  /** `dpuSeconds` at the Glue price per DPU-hour (not for basis none). */
  glueUsd?: number;
  /** GB of the exports taken by this cycle for the table: its RDS export size, or its DynamoDB exports' billed bytes; absent when the export was an earlier cycle's. */
  exportGB?: number;
  /** `exportGB` at the export price of its kind (not for basis none). */
  exportUsd?: number;
  /**
   * Why the figures are a lower bound: something billed whose figure was not final or not found
   * (a Glue run still going when a dead cycle was read back, runs beyond the job history read).
   * Absent: the figures are complete as far as the backend tells them.
   */
  partial?: string;
}

/** A cycle's cost: the sums of its tables' figures (each sum absent when no table has the figure). */
export interface CostTotals extends Omit<TableCost, 'basis' | 'partial'> {
  basis: CostBasis;
  /** Tables with a cost (0 for a cycle that failed as a whole: its figures are its own export's). */
  tables: number;
  /** How many of the figures summed are partial (a table's, or the cycle's own export's): the sums are then a lower bound. */
  partial?: number;
  /** Why the cycle's own figure is partial (its export's cost, for a cycle that failed as a whole after it): what is left out, and why. */
  partialReason?: string;
  /** glueUsd + exportUsd. */
  usd?: number;
}

/** What a load run used, as the load activity hands it to the workflow with the result. */
export interface LoadUsage {
  basis: CostBasis;
  dpuSeconds?: number;
  /** The run's execution class, when FLEX (absent: STANDARD, or a worker before it). */
  executionClass?: 'FLEX';
  executionSeconds?: number;
  /** GB of this cycle's own RDS export of the table (its `sizeGB` in the export's table list). */
  exportGB?: number;
  /** Why the figures are short: a run billed all the same whose figures could not be read, or the table's size in the export (its cost is then partial). */
  partial?: string;
}

export type TablePhase = 'discover' | 'plan' | 'export' | 'load' | 'grant' | 'verify';

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
  /** `direct`: read from the source over JDBC, without an export; `dynamodb`: from its own DynamoDB exports (absent: from the RDS export). */
  extract?: 'direct' | 'dynamodb';
  /** A DynamoDB table's exports of this cycle, oldest first (its plan entry's `extract.exports`). */
  exports?: TableExportWindow[];
  /** Its size in the export (the plan entry's `sizeGB`): small tables may share a run (`packing`), and a load that reports no usage books it as its export's cost. */
  sizeGB?: number;
  /** `tables.<t>.glueWorkers` is set: the table always has a run of its own. */
  pinned?: boolean;
}

/** The part of a load result the workflows keep (the full JSON stays with the backend). */
export type LoadSummary = Pick<
  LoadResult,
  'action' | 'committed' | 'rowsRead' | 'inserted' | 'updated' | 'deleted' | 'rowCountAfter' | 'cursorColumn' | 'cursorValueAfter' | 'snapshotId' | 'schemaHash' | 'finishedAt'
> &
  // startedAt: a direct load's only (it read the source after it), for its table's freshness lag.
  Partial<Pick<LoadResult, 'nulledValues' | 'clampedValues' | 'warnings' | 'extract' | 'window' | 'startedAt'>> & {
    /** A DynamoDB load: the exports it read; `to` is the export time the table reached (its watermark). */
    dynamodb?: DynamoLoadExports;
    /**
     * A dead cycle's commit whose load result is missing, and whose Iceberg commit does not tell them
     * (it updated or deleted rows, or replaced the table): `inserted`, `updated` and `deleted` are unknown (0 here).
     */
    changesUnknown?: true;
  };

/** The DynamoDB exports one load read: ids oldest first, the export times covered (`from` null for a FULL export), their items or change records. */
export interface DynamoLoadExports {
  exportIds: string[];
  from: string | null;
  to: string;
  records: number;
}

export interface TableOutcome {
  table: TableName;
  lakeTable: string;
  action: PlannedAction;
  /** `direct`: the table is read from the source directly (no export lineage); `dynamodb`: from its own DynamoDB exports; absent: from the RDS export. */
  extract?: 'direct' | 'dynamodb';
  status: TableStatus;
  reason?: string;
  error?: TableError;
  load?: LoadSummary;
  verified?: boolean;
  /** What the table cost this cycle (src/cost); absent when it ran no load or before the cost ledger. */
  cost?: TableCost;
  startedAt?: string;
  finishedAt?: string;
}

export type CycleStatus = 'succeeded' | 'partial' | 'failed';

export interface CycleResult {
  cycleId: string;
  source: string;
  status: CycleStatus;
  /** Absent when the cycle took none: every table it loaded was read directly (or it failed first). */
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
  /** The sums of the tables' costs; absent when no table has one. */
  cost?: CostTotals;
  /**
   * A cycle whose outcomes would make too large a workflow payload stores them instead: `tables`
   * is then empty and this names the stored list (readers go through it).
   */
  tablesRef?: TablesRef;
}

/** A request served by several cycles (a rerun, one per export) as one result: `lakesync rerun --wait --json`. */
export type RequestResult = CycleResult & { parts: CycleResult[] };

/** A JSON document too large for one workflow payload, stored as text parts in the manifest store. */
export interface JsonRef {
  /** The manifest references of the parts, in order: their texts joined are the document. */
  parts: string[];
  /** The document's size in bytes (UTF-8). */
  bytes: number;
}

/** A cycle's table outcomes stored by reference, with what a reader needs without reading them. */
export interface TablesRef extends JsonRef {
  count: number;
  counts: { committed: number; failed: number; skipped: number };
  /** The first 100 failed tables (`counts.failed` is how many there are); the outcomes hold them all. */
  failedTables: TableName[];
}

/** Prices the cost ledger estimates with, in USD (lakesync.yaml `sources.<s>.cost`). */
export interface CostPrices {
  gluePerDpuHour: number;
  /** Glue FLEX runs, per DPU-hour; absent in cycles started before it existed (priced at `gluePerDpuHour`). */
  glueFlexPerDpuHour?: number;
  rdsExportPerGB: number;
  dynamodbFullExportPerGB: number;
  dynamodbIncrementalExportPerGB: number;
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
  /** The most checks configured for one table; the verify activity's timeout grows with it. Absent in cycles started before it existed. */
  verifyChecks?: number;
  grants: boolean;
  /** The lakesync search attributes are registered on the namespace (the worker checked). */
  searchAttributes: boolean;
  retry: { initialIntervalSeconds: number; maximumIntervalSeconds: number; backoffCoefficient: number; maximumAttempts: number };
  timeouts: { loadHours: number; heartbeatSeconds: number; pollInitialSeconds: number; pollMaximumSeconds: number };
  /** Prices of the cost ledger; absent in cycles started before it existed (their tables get no cost). */
  cost?: CostPrices;
  /** Whose figures the backend's export sizes are (as a load's usage says); absent in cycles started before it. */
  costBasis?: CostBasis;
  /** Small tables share runs (lakesync.yaml `packing`); absent when not configured or the backend cannot pack. */
  packing?: PackingSettings;
  /**
   * How long one load run may wait in the backend's queue before it starts or expires (on AWS with
   * aws.glue.jobRunQueuing: the job timeout; FLEX runs: Glue's 20 minutes). The load's time bound
   * holds that wait. Absent when runs are not queued, and in cycles started before it.
   */
  loadQueueSeconds?: number;
}

/** How the batch groups small tables into packs (one run each). */
export interface PackingSettings {
  thresholdGB: number;
  maxTables: number;
  maxGB: number;
}

export interface PlanSummary {
  /** Reference to the full plan (PlanEntry[]) in the manifest store. */
  planRef: string;
  /** Tables to load, in order. */
  load: LoadItem[];
  /** Tables not loaded this cycle, with the reason (excluded, skipped by the export, invalid name). */
  notLoaded: TableOutcome[];
  /** `load` and `notLoaded` stored by reference (both empty here) when too large for a payload. */
  itemsRef?: JsonRef;
}
