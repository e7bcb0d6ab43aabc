/**
 * The interfaces the activities call. One implementation per backend:
 * `src/aws` (AWS SDK v3), `src/local` (embedded mode) and `src/fake` (tests and benchmarks).
 * Workflows never see these; activities are thin wrappers over them.
 */
import type {
  DiscoveredExport,
  DiscoveredTable,
  ExportRef,
  ExportStatus,
  GrantOutcome,
  GrantRequest,
  LakeCommit,
  LiveLoadRun,
  LoadRequest,
  LoadResult,
  LoadRunStatus,
  PackRequest,
  PackSummary,
  SnapshotRef,
  SnapshotStatus,
  TableExportRef,
  TableExportStatus,
  TableExportWindow,
  TableName,
  VerifyOutcome,
  VerifyRequest,
} from './model';

export type SnapshotMode = 'create' | 'latest-automated' | 'existing';

export interface SnapshotRequest {
  source: string;
  /** Deterministic id derived from the source and the cycle: a retry adopts it. */
  snapshotId: string;
  mode: SnapshotMode;
  /** With mode `existing`: the snapshot to use. */
  existingSnapshotId?: string;
}

export interface SnapshotPort {
  /** Creates (or adopts, or picks) the snapshot. An existing snapshot with our id is adopted. */
  startSnapshot(req: SnapshotRequest): Promise<SnapshotRef>;
  describeSnapshot(snapshotId: string): Promise<SnapshotStatus>;
}

export interface ExportRequest {
  source: string;
  /** Deterministic id (1-60 chars, letters, digits, hyphens, starting with a letter). */
  exportId: string;
  snapshot: SnapshotRef;
  /** Tables to export (`ExportOnly` `database.schema.table`). With neither tables nor schemas: the whole database. */
  tables?: TableName[];
  /** Schemas to export whole (`ExportOnly` `database.schema`). */
  schemas?: string[];
  /** The cycle the export is taken for: once started, the export is recorded under it, for the cycle's recovery should it die before its discovery (the backend ignores it). */
  cycleId?: string;
}

export interface ExportPort {
  /** Starts the export; `ExportTaskAlreadyExists` is adopted. */
  startExport(req: ExportRequest): Promise<ExportRef>;
  describeExport(exportId: string): Promise<ExportStatus>;
  /**
   * Stops a running export whose cycle was cancelled (nothing will read it, and RDS bills it by
   * the gigabyte). An export that has already ended, or is unknown, is left as it is. Absent where
   * the backend cannot stop an export: it then runs to its end.
   */
  cancelExport?(exportId: string): Promise<void>;
  /**
   * The source's tables as its catalog lists them now, where the backend can read the catalog
   * without a side effect (the embedded mode); the export scope is computed from it.
   */
  listSourceTables?(): Promise<TableName[]>;
  /**
   * The partitions (at every level) of each partitioned table, keyed by the table's `schema.table`,
   * where the backend reads the catalog: an export of the table holds its partitions' rows.
   */
  listSourcePartitions?(): Promise<Record<TableName, TableName[]>>;
  /**
   * The source's views, materialized views, foreign tables and partitions (`schema.table` -> 'view',
   * 'partition of <schema.table>'...), where the backend reads the catalog: no export holds them as
   * tables of their own, so a table name naming one is told apart.
   */
  listSourceNotTables?(): Promise<Record<TableName, string>>;
}

export interface TableExportRequest {
  source: string;
  table: TableName;
  tableArn: string;
  /** Deterministic (src/ids.ts tableExportIdFor): a retry with the same id adopts the export. */
  exportId: string;
  window: TableExportWindow;
}

/**
 * DynamoDB point-in-time exports, one table and window each (source kind dynamodb): on AWS
 * ExportTableToPointInTime in DYNAMODB_JSON, locally files in the same layout from the embedded
 * DynamoDB's scan (FULL) or stream (INCREMENTAL).
 */
export interface TableExportPort {
  /** The INCREMENTAL windows the backend accepts, in seconds (DynamoDB: 15 minutes to 24 hours). */
  readonly windowLimits: { minSeconds: number; maxSeconds: number };
  /**
   * How long after a cycle's export time its exports may start while the table's earliest restorable
   * time moves on (the plan's margin, src/dynamodb/windows.ts); absent: RESTORABLE_MARGIN_SECONDS.
   * 0 for a backend whose earliest restorable time does not move.
   */
  readonly restorableMarginSeconds?: number;
  /** Starts the export, or adopts the one started with the same id; a window out of the limits is refused before any call. */
  startTableExport(req: TableExportRequest): Promise<TableExportRef>;
  describeTableExport(ref: TableExportRef): Promise<TableExportStatus>;
}

export interface DiscoverPort {
  /** Reads export_info and every export_tables_info file of the export. */
  discover(ref: ExportRef): Promise<DiscoveredExport>;
  /** Whether the export's files are still there, so that a rerun can reuse them. */
  exportAvailable(ref: ExportRef): Promise<boolean>;
  /**
   * The rows of one table in the export, summed from the Parquet footers of every part file under
   * `<export>/<db>/<schema>.<table>/` (all batch folders); 0 when the table has no part file.
   */
  exportRowCount(ref: ExportRef, table: TableName): Promise<number>;
  /** The source's tables where the backend knows them without an export (no side effect). */
  listTables?(): Promise<TableName[]>;
  /** Tables of the source an export skips (unlogged tables), where the backend reads the catalog. */
  listNotExported?(): Promise<TableName[]>;
  /**
   * The named tables as the source's catalog describes them now (columns as an export would map
   * them, primary key), read without a side effect; tables the source lacks are left out. Tables
   * read directly (extract: direct) are planned from it instead of from an export's listing.
   */
  sourceTables?(tables: TableName[]): Promise<DiscoveredTable[]>;
}

export interface LakePort {
  ensureNamespace(namespace: string): Promise<void>;
  tableExists(namespace: string, lakeTable: string): Promise<boolean>;
  /** Every lake table of the namespace, in one paginated listing, where the backend can list them (the plan asks once per cycle). */
  listTables?(namespace: string): Promise<string[]>;
  /**
   * The newest lakesync commit (with its lineage) on the table's current ancestry: commits of other
   * writers (compaction) and rolled-back snapshots are passed over. Undefined when there is none.
   */
  lastCommit?(namespace: string, lakeTable: string): Promise<LakeCommit | undefined>;
  /**
   * Runs read-only SQL on the lake (Athena on AWS, Spark SQL locally); tables as `<namespace>.<table>`.
   * `maxRows`: at most that many rows, the first the query answers (the rest are never read).
   */
  query?(sql: string, options?: { maxRows?: number }): Promise<Record<string, unknown>[]>;
}

export interface LoadPort {
  /** Starts one table's load run; returns the backend's run id (Glue JobRunId). */
  startLoad(req: LoadRequest): Promise<{ runId: string }>;
  /** Finds a run started with this token (e.g. just before a worker crash). */
  findRunByToken(req: LoadRequest): Promise<string | undefined>;
  /**
   * Every run still going on this lake table, from any cycle or source (its job arguments name
   * the namespace and lake table), so that a load attaches to its own run or stops the others.
   */
  liveRuns(namespace: string, lakeTable: string): Promise<LiveLoadRun[]>;
  getRun(runId: string): Promise<LoadRunStatus>;
  /** Asks the run to stop and returns; it has ended once getRun no longer says running. */
  stopRun(runId: string): Promise<void>;
  /**
   * The runs of a cycle's table loads (run token `<cycleId>:<table>`), with their status and what
   * they used, where the backend can list them: a dead cycle's recovery books the runs its loads
   * can no longer report. A pack's run (run token `packTokenFor`) is listed under each table of
   * its pack, with the pack's token and number of tables, for the table's share of it. A pack run
   * whose pack file cannot be read (its tables unknown) is in `unread`, with why, and the other
   * runs are listed all the same.
   */
  cycleRuns?(cycleId: string): Promise<CycleRuns>;
  /** Reads the result JSON the run wrote; undefined when it wrote none. */
  readResult(resultLocation: string): Promise<LoadResult | undefined>;
  /**
   * How often to poll a run: the first pause and the longest (default 5 s to 2 min), and at most
   * how many polls an hour of run (the pauses stretch to keep within it).
   */
  readonly pollPolicy?: { initialMs: number; maxMs: number; maxCallsPerHour?: number };
  /** Where the run of this request writes its result JSON. */
  resultLocation(req: Omit<LoadRequest, 'resultLocation'>): string;
  /**
   * Packed runs (several small tables in one run), where the backend has them. The run is polled,
   * stopped and its per-table results read with getRun, stopRun and readResult as for one table.
   */
  packs?: PackLoads;
}

export interface PackLoads {
  /** Starts the run of a pack; sent at most once (a retry finds it with findPackByToken). */
  startPack(req: PackRequest): Promise<{ runId: string }>;
  /** The run started with this pack token, if any. */
  findPackByToken(req: PackRequest): Promise<string | undefined>;
  /** Where the run of this pack writes its summary. */
  summaryLocation(source: string, cycleId: string, packToken: string): string;
  /** The summary the run wrote when it ended; undefined while it has written none. */
  readSummary(summaryLocation: string): Promise<PackSummary | undefined>;
}

export interface GrantRecord {
  principal: string;
  resource: { namespace: string; table?: string };
  permissions: string[];
}

export interface GrantPort {
  grant(req: GrantRequest): Promise<GrantOutcome>;
  /** The grants in force, where the backend can list them (the local grant store). */
  list?(): Promise<GrantRecord[]>;
}

export interface VerifyPort {
  /**
   * The row-count check (`req.rowCount`, src/verify-rows.ts) first, then the configured checks in
   * order; `progress` is told the name of each configured check as it starts (the activity heartbeats).
   * Once `signal` aborts (the activity is cancelled), a running query is stopped and the signal's reason thrown.
   */
  verify(req: VerifyRequest, progress?: (check: string) => void, signal?: AbortSignal): Promise<VerifyOutcome>;
}

/** A snapshot or export lakesync made for a source, as retention sees it. */
export interface RetentionItem {
  id: string;
  /** When it was made; absent while the backend does not tell (a snapshot still being created counts as newest). */
  createdAt?: string;
  /** An export that failed (or whose files are gone): never read, so it takes none of the newest kept places, and goes unless kept by name. */
  failed?: boolean;
}

/** A deletion done (or found done already), or put off to a later cycle with the reason (e.g. a snapshot being created). */
export type RetentionDeletion = { deleted: true } | { deleted: false; reason: string };

/**
 * Lists and deletes the snapshots and exports lakesync created. Only what the backend can tell is
 * lakesync's is ever listed (on AWS: a snapshot tagged `lakesync` of the source's instance or
 * cluster; an export folder under the export prefix); `owned` narrows it to the ids lakesync
 * derives for this source. Which of them to delete is decided by the retention activity.
 */
export interface RetentionPort {
  listSnapshots(owned: (id: string) => boolean): Promise<RetentionItem[]>;
  listExports(owned: (id: string) => boolean): Promise<RetentionItem[]>;
  deleteSnapshot(id: string): Promise<RetentionDeletion>;
  /** Deletes the export's files (on AWS the export task stays, as RDS keeps it; the embedded mode deletes its record too). */
  deleteExport(id: string): Promise<RetentionDeletion>;
  /**
   * The DynamoDB table exports (source kind dynamodb) the backend keeps the files of and that it
   * can tell are this source's (on AWS the completed exports under `<prefix>/<source>/`, by their
   * manifest summaries). Absent where retention leaves them alone. `progress` is called as the
   * listing goes on, where it takes a call per export; `warn` hears what is left for a reason the
   * user must fix (e.g. the lookup of failed exports refused), the listing going on.
   */
  listTableExports?(progress?: () => void, warn?: (message: string) => void): Promise<TableExportItem[]>;
  /** Deletes a DynamoDB table export's files and its record; one already gone is deleted. */
  deleteTableExport?(id: string): Promise<RetentionDeletion>;
  /**
   * The cycles whose working files the backend keeps (the embedded mode: load results, run
   * records, manifests; AWS: manifests, Glue load results, pack and arguments files), among those
   * `owned` names; no age is told: the cycle number orders them.
   */
  listCycleFiles?(owned: (cycleId: string) => boolean): Promise<RetentionItem[]>;
  /** Deletes a cycle's working files; put off while one of its load runs is still queued or running. */
  deleteCycleFiles?(cycleId: string): Promise<RetentionDeletion>;
}

/** A DynamoDB table export lakesync made, as retention sees it: `createdAt` is when it started. */
export interface TableExportItem extends RetentionItem {
  table: TableName;
}

/** JSON documents too large for a workflow payload (table lists, mappings). */
export interface ManifestStore {
  put(key: string, value: unknown): Promise<string>;
  get<T>(ref: string): Promise<T>;
  /** The reference `put(key)` returns, without reading or writing: the document may not exist. */
  ref(key: string): string;
  /** Deletes a document this store wrote; one already gone is no error. A reference outside the store is refused. */
  delete(ref: string): Promise<void>;
}

export interface Ports {
  snapshot: SnapshotPort;
  export: ExportPort;
  discover: DiscoverPort;
  lake: LakePort;
  load: LoadPort;
  grant: GrantPort;
  verify: VerifyPort;
  manifests: ManifestStore;
  retention: RetentionPort;
  /** DynamoDB exports; only the ports of a dynamodb source have it. */
  tableExport?: TableExportPort;
  /** Releases clients, processes and files the ports hold. */
  close?(): Promise<void>;
}

/** A cycle's load runs as `LoadPort.cycleRuns` lists them. */
export interface CycleRuns {
  runs: { table: TableName; status: LoadRunStatus; pack?: { token: string; tables: number; index?: number } }[];
  /** Pack runs of the cycle whose pack file could not be read: which tables they loaded is unknown. */
  unread: { runId: string; reason: string }[];
  /** The job has more runs than were read (newest first): older runs of the cycle may be missing. */
  truncated?: { runs: number };
}
