/**
 * The interfaces the activities call. One implementation per backend:
 * `src/aws` (AWS SDK v3), `src/local` (embedded mode) and `src/fake` (tests and benchmarks).
 * Workflows never see these; activities are thin wrappers over them.
 */
import type {
  DiscoveredExport,
  ExportRef,
  ExportStatus,
  GrantOutcome,
  GrantRequest,
  LoadRequest,
  LoadResult,
  LoadRunStatus,
  SnapshotRef,
  SnapshotStatus,
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
  /** Tables to export (`ExportOnly`); all tables when absent. */
  tables?: TableName[];
}

export interface ExportPort {
  /** Starts the export; `ExportTaskAlreadyExists` is adopted. */
  startExport(req: ExportRequest): Promise<ExportRef>;
  describeExport(exportId: string): Promise<ExportStatus>;
}

export interface DiscoverPort {
  /** Reads export_info and every export_tables_info file of the export. */
  discover(ref: ExportRef): Promise<DiscoveredExport>;
  /** Whether the export's files are still there, so that a rerun can reuse them. */
  exportAvailable(ref: ExportRef): Promise<boolean>;
  /** The source's tables where the backend knows them without an export (no side effect). */
  listTables?(): Promise<TableName[]>;
}

export interface LakePort {
  ensureNamespace(namespace: string): Promise<void>;
  tableExists(namespace: string, lakeTable: string): Promise<boolean>;
  /** Runs read-only SQL on the lake (Athena on AWS, Spark SQL locally); tables as `<namespace>.<table>`. */
  query?(sql: string): Promise<Record<string, unknown>[]>;
}

export interface LoadPort {
  /** Starts one table's load run; returns the backend's run id (Glue JobRunId). */
  startLoad(req: LoadRequest): Promise<{ runId: string }>;
  /** Finds a run started with this token (e.g. just before a worker crash). */
  findRunByToken(req: LoadRequest): Promise<string | undefined>;
  getRun(runId: string): Promise<LoadRunStatus>;
  stopRun(runId: string): Promise<void>;
  /** Reads the result JSON the run wrote; undefined when it wrote none. */
  readResult(resultLocation: string): Promise<LoadResult | undefined>;
  /** How often to poll a run: the first pause and the longest (default 5 s to 2 min). */
  readonly pollPolicy?: { initialMs: number; maxMs: number };
  /** Where the run of this request writes its result JSON. */
  resultLocation(req: Omit<LoadRequest, 'resultLocation'>): string;
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
  verify(req: VerifyRequest): Promise<VerifyOutcome>;
}

/** JSON documents too large for a workflow payload (table lists, mappings). */
export interface ManifestStore {
  put(key: string, value: unknown): Promise<string>;
  get<T>(ref: string): Promise<T>;
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
  /** Releases clients, processes and files the ports hold. */
  close?(): Promise<void>;
}
