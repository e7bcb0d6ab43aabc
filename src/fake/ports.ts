/**
 * In-memory (or file-backed) ports for tests and benchmarks: configurable latency, injected
 * failures per table and phase, "already exists" answers, and call counters.
 * Loads behave like Glue runs: they run on their own clock, whether or not anyone polls.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { PortError } from '../errors';
import { type JdbcSource, loadJobArguments } from '../job-args';
import type {
  DiscoveredExport,
  DiscoveredTable,
  ExportRef,
  ExportStatus,
  GrantOutcome,
  GrantRequest,
  CommitFigures,
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
  VerifyOutcome,
  VerifyRequest,
} from '../model';
import type { CycleRuns, ExportRequest, PackLoads, Ports, RetentionDeletion, SnapshotRequest, TableExportPort, TableExportRequest } from '../ports';
import { type LakeRowCounts, rowCountCheck, unknownSnapshot } from '../verify-rows';
import { type FakePack, FakeStateStore, type FakeRun, type FakeState, type FakeTableExport } from './state';

/** The key of a fake manifest reference; any other reference is refused. */
function manifestKey(ref: string): string {
  const prefix = 'fake://manifests/';
  if (!ref.startsWith(prefix)) throw new PortError('validation', 'InvalidManifestRef', `manifest reference ${ref} is not a fake manifest`);
  return ref.slice(prefix.length);
}

/**
 * `load` fails a run (its result JSON), also a table's load in a pack; `poll` fails reading a run's
 * state (GetJobRun). `pack`: a pack run dies (Spark died) just before it loads this table, which
 * and the tables after it get no result, and the run ends FAILED. `export` of a DynamoDB table:
 * retryable, its start is made and the answer lost (a retry adopts it); not retryable, the
 * export starts and ends FAILED. `export-start`: DynamoDB refuses to start an export (not retryable: a
 * validation error; retryable: throttled), making none. `export-status`: describing a DynamoDB export fails. `manifest-delete`: the manifest store refuses to delete a document;
 * `state-store`: it refuses to write a source's carried state (keys under source-state/).
 */
export type FakePhase = 'snapshot' | 'export' | 'export-start' | 'discover' | 'load' | 'poll' | 'pack' | 'grant' | 'verify' | 'retention' | 'manifest-delete' | 'state-store' | 'export-cancel' | 'export-status' | 'export-failed' | 'lineage';

export interface FakeFailure {
  /** `schema.table`, or `*` for every table (and for snapshot/export). */
  table: string;
  phase: FakePhase;
  /** Fail this many times, then succeed; or always. */
  times: number | 'always';
  /** The first this many calls pass before the failures begin (a table's later export of a cycle fails); 0 by default. */
  after?: number;
  retryable: boolean;
  message?: string;
  /** Instead of failing, the call hangs this long: a worker that stops heartbeating, as one being restarted does. */
  stallMs?: number;
}

export interface FakeOptions {
  tables: string[] | number;
  /** How long each load run takes. */
  latencyMs?: number;
  /** How long every other call takes. */
  callLatencyMs?: number;
  /** How long a stopped run takes to end (Glue's STOPPING); 0 by default. */
  stopLatencyMs?: number;
  failures?: FakeFailure[];
  /** The warnings every export's listing gives (RDS's WarningMessage), none by default. */
  exportWarnings?: string[];
  /** Tables every export's listing reports as skipped (RDS's skippedTables), with the reason; listed among no exported table. */
  exportSkipped?: { table: string; reason: string }[];
  alreadyExists?: ('snapshot' | 'export')[];
  /** Keep the state in a file here so it survives the worker process. */
  stateDir?: string;
  rowsPerTable?: number;
  /** Loads that commit and report a row count other than the export's (a job that loses rows). */
  wrongCounts?: FakeWrongCount[];
  /** Snapshots retention cannot delete yet (as RDS answers InvalidDBSnapshotState for one being created or exported). */
  busySnapshots?: string[];
  /**
   * A DynamoDB source: `true` for every table, or the DynamoDB tables (dynamodb.<TableName>). Its
   * ports export tables one by one (Ports.tableExport), point-in-time recovery on, key `id` (S).
   */
  dynamodb?: boolean | string[];
  /** The INCREMENTAL windows the fake DynamoDB accepts; 1 s to 24 h by default. */
  windowLimits?: { minSeconds: number; maxSeconds: number };
  /** DPU-seconds each succeeded load run reports (a modelled Glue figure); none by default, as the embedded runner. */
  dpuSecondsPerRun?: number;
  /** The size every table has in an export's table list (RDS `sizeGB`); absent by default. */
  exportGBPerTable?: number;
  /** Sizes of some tables in the export, instead of exportGBPerTable. */
  exportGBByTable?: Record<string, number>;
  /** How long some tables' load runs take, instead of latencyMs (a pack shares its run's cost by them). */
  latencyMsByTable?: Record<string, number>;
  /** The backend has no packed runs (Ports.load.packs absent): every table runs alone. */
  noPacks?: boolean;
  /** Exports stay in progress until they are cancelled (a cycle cancelled during its export). */
  exportsRunning?: boolean;
  /** The first this many pack starts are made and their answer lost (a transient error): a retry must find the run by its token. */
  packStartAnswersLost?: number;
  /** The first this many pack runs wait in the job run queue for latencyMs and end EXPIRED, never started: they load no table. */
  packRunsExpire?: number;
  /** How long a pack start takes before its run is made (a slow StartJobRun): a cycle cancelled meanwhile still gets the run. */
  packStartLatencyMs?: number;
  /** How many describes find a DynamoDB export still in progress before it ends; 1 by default. */
  tableExportPolls?: number;
  /** Tables whose DynamoDB exports complete without an item count (DescribeExport without ItemCount, no manifest summary). */
  tableExportsWithoutItemCount?: string[];
  /** Tables whose DynamoDB exports complete without a billed size (DescribeExport without BilledSizeBytes). */
  tableExportsWithoutBilledSize?: string[];
}

/** The run of `table` leaves `rowCountAfter` rows in the lake and reports that figure as its count. */
export interface FakeWrongCount {
  table: string;
  rowCountAfter: number;
}

/** The fake's JDBC connection: a direct load's arguments are built with it, as a real backend builds them. */
const FAKE_JDBC: JdbcSource = { url: 'jdbc:postgresql://fake:5432/fake', user: 'fake', passwordEnv: 'LAKESYNC_FAKE_PASSWORD' };

export function fakeTableNames(tables: string[] | number): string[] {
  if (Array.isArray(tables)) return tables;
  return Array.from({ length: tables }, (_, i) => `public.t${String(i + 1).padStart(4, '0')}`);
}

export class FakeBackend {
  readonly store: FakeStateStore;
  private readonly tables: string[];

  constructor(private options: FakeOptions) {
    this.store = new FakeStateStore(options.stateDir);
    this.tables = fakeTableNames(options.tables);
  }

  get state(): FakeState {
    return this.store.state;
  }

  /** Changes the warnings of the exports' listings between cycles (tests). */
  setExportWarnings(exportWarnings: string[]): void {
    this.options = { ...this.options, exportWarnings };
  }

  /** Changes the injected failures between cycles (tests). */
  setFailures(failures: FakeFailure[]): void {
    this.options = { ...this.options, failures };
  }

  /** Changes how long some tables' load runs take, for runs started from now on (tests). */
  setLatencyByTable(latencyMsByTable: Record<string, number>): void {
    this.options = { ...this.options, latencyMsByTable };
  }

  /** Changes how many describes find a DynamoDB export still in progress (tests). */
  setTableExportPolls(tableExportPolls: number): void {
    this.options = { ...this.options, tableExportPolls };
  }

  /** Changes the loads that report a wrong row count (tests). */
  setWrongCounts(wrongCounts: FakeWrongCount[]): void {
    this.options = { ...this.options, wrongCounts };
  }

  /**
   * Appends rows to a table of the source (tests): direct loads read them in their next window,
   * DynamoDB exports whose export time is past now (or past `atMs`, a time the test gives).
   */
  appendRows(table: string, rows: number, atMs = Date.now()): void {
    this.store.update((s) => {
      (s.sourceRows ??= {})[table] = this.sourceRowCount(table) + rows;
      ((s.appends ??= {})[table] ??= []).push({ atMs, rows });
    });
  }

  /** The DynamoDB exports the fake made, oldest first (tests). */
  tableExports(table?: string): (FakeTableExport & { exportId: string })[] {
    return Object.entries(this.state.tableExports ?? {})
      .map(([exportId, e]) => ({ exportId, ...e }))
      .filter((e) => !table || e.table === table);
  }

  /** Rows of a table in the source now: ids 1..n, the cursor of direct loads. */
  sourceRowCount(table: string): number {
    return this.state.sourceRows?.[table] ?? this.options.rowsPerTable ?? 100;
  }

  /** A snapshot someone else made, without the lakesync tag (tests). */
  addForeignSnapshot(snapshotId: string, createdAt: string): void {
    this.store.update((s) => (s.snapshots[snapshotId] = { createdAt, foreign: true }));
  }

  /** Marks snapshots retention cannot delete yet (tests). */
  setBusySnapshots(ids: string[]): void {
    this.options = { ...this.options, busySnapshots: ids };
  }

  count(key: string): number {
    return this.state.counters[key] ?? 0;
  }

  /** The most runs that were ever live at once on this lake table (`namespace.table`). */
  maxConcurrentRuns(lakeTable: string): number {
    return this.count(`load.maxConcurrent:${lakeTable}`);
  }

  ports(): Ports {
    return {
      ...(this.options.dynamodb ? { tableExport: this.tableExportPort() } : {}),
      snapshot: {
        startSnapshot: (req) => this.call('snapshot.start', () => this.startSnapshot(req)),
        describeSnapshot: (id) => this.call('snapshot.describe', () => this.describeSnapshot(id)),
      },
      export: {
        startExport: (req) => this.call('export.start', () => this.startExport(req)),
        describeExport: (id) => this.call('export.describe', () => this.describeExport(id)),
        cancelExport: (id) => this.call('export.cancel', () => this.cancelExport(id)),
        // The fake knows its tables as a catalog would; its exports still list every table.
        listSourceTables: () => this.call('export.tables', async () => [...this.tables]),
      },
      discover: {
        discover: (ref) => this.call('discover', () => this.discover(ref)),
        exportAvailable: (ref) => this.call('discover.available', async () => ref.exportId in this.state.exports),
        exportRowCount: (ref, table) => this.call('discover.rows', async () => this.exportRowCount(ref, table)),
        listTables: async () => [...this.tables],
        sourceTables: (tables) => this.call('discover.sourceTables', async () => tables.filter((t) => this.tables.includes(t)).map((t) => this.describedTable(t))),
      },
      lake: {
        ensureNamespace: (ns) => this.call('lake.namespace', async () => void ns),
        tableExists: (ns, table) => this.call('lake.exists', async () => `${ns}.${table}` in this.state.lake),
        lastCommit: (ns, table) =>
          this.call('lake.lastCommit', async () => {
            this.failIfInjected('lineage', `${ns}.${table}`);
            return this.state.lake[`${ns}.${table}`]?.lastCommit;
          }),
      },
      load: {
        pollPolicy: { initialMs: 50, maxMs: 500 },
        resultLocation: (req) => `fake://results/${req.cycleId}/${req.plan.table}.json`,
        startLoad: (req) => this.call(`load.start`, () => this.startLoad(req)),
        findRunByToken: (req) => this.call('load.find', async () => this.latestRun(req.runToken)?.runId),
        liveRuns: (namespace, lakeTable) => this.call('load.live', async () => this.liveRuns(`${namespace}.${lakeTable}`)),
        getRun: (runId) => this.call('load.get', () => this.pollRun(runId)),
        stopRun: (runId) => this.call('load.stop', async () => this.stopRun(runId)),
        cycleRuns: (cycleId) => this.call('load.cycleRuns', async () => this.cycleRuns(cycleId)),
        readResult: (location) => this.call('load.result', async () => this.result(location)),
        ...(this.options.noPacks ? {} : { packs: this.packPort() }),
      },
      grant: { grant: (req) => this.call('grant', () => this.grant(req)) },
      verify: { verify: (req) => this.call('verify', () => this.verify(req)) },
      manifests: {
        put: (key, value) =>
          this.call('manifest.put', async () => {
            if (key.startsWith('source-state/')) this.failIfInjected('state-store', '*');
            return this.store.update((s) => ((s.manifests[key] = value), `fake://manifests/${key}`));
          }),
        get: <T>(ref: string) => this.call('manifest.get', async () => this.manifest<T>(ref)),
        ref: (key) => `fake://manifests/${key}`,
        delete: (ref) =>
          this.call('manifest.delete', async () => {
            this.failIfInjected('manifest-delete', '*');
            const key = manifestKey(ref);
            this.store.update((s) => delete s.manifests[key]);
          }),
      },
      retention: {
        listSnapshots: (owned) =>
          this.call('retention.snapshots', async () => {
            this.failIfInjected('retention', '*');
            return Object.entries(this.state.snapshots)
              .filter(([id, s]) => !s.foreign && owned(id))
              .map(([id, s]) => ({ id, createdAt: s.createdAt }));
          }),
        listExports: (owned) =>
          this.call('retention.exports', async () =>
            Object.entries(this.state.exports)
              .filter(([id]) => owned(id))
              .map(([id, e]) => {
                const createdAt = e.createdAt ?? this.state.snapshots[e.snapshotId]?.createdAt;
                return { id, ...(createdAt ? { createdAt } : {}) };
              }),
          ),
        deleteSnapshot: (id) => this.call('retention.deleteSnapshot', async () => this.deleteSnapshot(id)),
        deleteExport: (id) => this.call('retention.deleteExport', async () => this.deleteExport(id)),
      },
    };
  }

  private deleteSnapshot(id: string): RetentionDeletion {
    const snap = this.state.snapshots[id];
    if (snap?.foreign) throw new PortError('validation', 'ForeignSnapshot', `snapshot ${id} was not made by lakesync: it is never deleted`);
    if (this.options.busySnapshots?.includes(id)) return { deleted: false, reason: `snapshot ${id} is being created or exported (InvalidDBSnapshotState)` };
    this.store.update((s) => {
      delete s.snapshots[id];
      (s.deleted ??= { snapshots: [], exports: [] }).snapshots.push(id);
    });
    return { deleted: true };
  }

  private deleteExport(id: string): RetentionDeletion {
    this.store.update((s) => {
      delete s.exports[id];
      (s.deleted ??= { snapshots: [], exports: [] }).exports.push(id);
    });
    return { deleted: true };
  }

  private async call<T>(counter: string, fn: () => Promise<T>): Promise<T> {
    this.store.update((s) => (s.counters[counter] = (s.counters[counter] ?? 0) + 1));
    if (this.options.callLatencyMs) await delay(this.options.callLatencyMs);
    return fn();
  }

  /** Throws the injected failure for this table and phase, while it has failures left. */
  private injected(phase: FakePhase, table: string): FakeFailure | undefined {
    const rule = (this.options.failures ?? []).find((f) => f.phase === phase && (f.table === table || f.table === '*'));
    if (!rule) return undefined;
    const key = `failures.${phase}.${table}`;
    const seen = this.store.update((s) => (s.counters[key] = (s.counters[key] ?? 0) + 1)) - (rule.after ?? 0);
    return seen > 0 && (rule.times === 'always' || seen <= rule.times) ? rule : undefined;
  }

  private failIfInjected(phase: FakePhase, table: string): void {
    const rule = this.injected(phase, table);
    if (rule) {
      throw new PortError(rule.retryable ? 'transient' : 'failed', 'FakeFailure', rule.message ?? `injected ${phase} failure for ${table}`);
    }
  }

  private async startSnapshot(req: SnapshotRequest): Promise<SnapshotRef> {
    this.failIfInjected('snapshot', '*');
    const exists = req.snapshotId in this.state.snapshots || this.options.alreadyExists?.includes('snapshot');
    const createdAt = this.state.snapshots[req.snapshotId]?.createdAt ?? new Date().toISOString();
    this.store.update((s) => (s.snapshots[req.snapshotId] = { createdAt }));
    return { snapshotId: req.snapshotId, createdAt, adopted: Boolean(exists) };
  }

  private async describeSnapshot(id: string): Promise<SnapshotStatus> {
    const snap = this.state.snapshots[id];
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${id} not found`);
    return { snapshotId: id, state: 'available', createdAt: snap.createdAt };
  }

  private async startExport(req: ExportRequest): Promise<ExportRef> {
    this.failIfInjected('export', '*');
    const exists = req.exportId in this.state.exports || this.options.alreadyExists?.includes('export');
    const location = `fake://exports/${req.exportId}`;
    const createdAt = this.state.exports[req.exportId]?.createdAt ?? new Date().toISOString();
    // What the export was asked to take (ExportOnly), for tests; the fake's listing still holds every table.
    const only = { ...(req.tables ? { tables: [...req.tables] } : {}), ...(req.schemas ? { schemas: [...req.schemas] } : {}) };
    this.store.update((s) => (s.exports[req.exportId] = { location, snapshotId: req.snapshot.snapshotId, createdAt, snapshotTime: req.snapshot.createdAt, ...only }));
    return { exportId: req.exportId, location, snapshotId: req.snapshot.snapshotId, adopted: Boolean(exists) };
  }

  private async describeExport(id: string): Promise<ExportStatus> {
    const task = this.state.exports[id];
    if (!task) throw new PortError('not-found', 'ExportTaskNotFound', `export ${id} not found`);
    const time = task.snapshotTime ? { snapshotTime: task.snapshotTime } : {};
    if (task.canceled) return { exportId: id, state: 'canceled', ...time };
    // As RDS: the export task ends failed, with its FailureCause.
    const failed = this.injected('export-failed', '*');
    if (failed) return { exportId: id, state: 'failed', failureCause: failed.message ?? `injected export failure of ${id}`, ...time };
    if (this.options.exportsRunning) return { exportId: id, state: 'in_progress', percentProgress: 40, ...time };
    return { exportId: id, state: 'complete', percentProgress: 100, ...time };
  }

  /** As RDS: a running export is cancelled; an ended or unknown one is left as it is. */
  private async cancelExport(id: string): Promise<void> {
    this.failIfInjected('export-cancel', '*');
    if (!this.options.exportsRunning) return;
    this.store.update((s) => {
      const task = s.exports[id];
      if (task) task.canceled = true;
    });
  }

  private async discover(ref: ExportRef): Promise<DiscoveredExport> {
    this.failIfInjected('discover', '*');
    if (!(ref.exportId in this.state.exports)) throw new PortError('not-found', 'ExportNotFound', `export ${ref.exportId} has no files`);
    const skipped = new Set((this.options.exportSkipped ?? []).map((s) => s.table));
    return {
      database: 'fake',
      tables: this.tables.filter((table) => !skipped.has(table)).map((table) => this.fakeTable(table)),
      skipped: [...(this.options.exportSkipped ?? [])],
      warnings: [...(this.options.exportWarnings ?? [])],
    };
  }

  private isDynamoTable(table: string): boolean {
    const d = this.options.dynamodb;
    return d === true || (Array.isArray(d) && d.includes(table));
  }

  /** A table as the source's catalog describes it: a DynamoDB table with its key and point-in-time recovery. */
  private describedTable(table: string): DiscoveredTable {
    if (!this.isDynamoTable(table)) return this.fakeTable(table);
    return {
      table,
      target: `fake.${table}`,
      columns: [],
      primaryKey: ['id'],
      dynamodb: { tableArn: this.tableArn(table), key: [{ name: 'id', type: 'S' }], pitr: { enabled: true, earliestRestorable: '2000-01-01T00:00:00Z' }, itemCount: this.sourceRowCount(table) },
    };
  }

  private tableArn(table: string): string {
    return `arn:aws:dynamodb:eu-west-1:123456789012:table/${table.slice(table.indexOf('.') + 1)}`;
  }

  private tableExportPort(): TableExportPort {
    return {
      windowLimits: this.options.windowLimits ?? { minSeconds: 1, maxSeconds: 86_400 },
      startTableExport: (req) => this.call('tableExport.start', async () => this.startTableExport(req)),
      describeTableExport: (ref) => this.call('tableExport.describe', async () => this.describeTableExport(ref)),
    };
  }

  /** Items of the table as of `atMs`: the first `rowsPerTable`, plus those appended before. */
  private itemsAt(table: string, atMs: number): number {
    const appended = (this.state.appends?.[table] ?? []).filter((a) => a.atMs < atMs).reduce((n, a) => n + a.rows, 0);
    return (this.options.rowsPerTable ?? 100) + appended;
  }

  /** Change records of [fromMs, toMs): every appended item is a new key. */
  private changesIn(table: string, fromMs: number, toMs: number): number {
    return (this.state.appends?.[table] ?? []).filter((a) => a.atMs >= fromMs && a.atMs < toMs).reduce((n, a) => n + a.rows, 0);
  }

  /** Starts (or adopts by id, as DynamoDB does by client token) one export; see FakePhase for injected failures. */
  private startTableExport(req: TableExportRequest): TableExportRef {
    const { window } = req;
    if (!this.isDynamoTable(req.table)) throw new PortError('not-found', 'TableNotFoundException', `${req.table} is not a DynamoDB table of the fake source`);
    if (req.tableArn !== this.tableArn(req.table)) throw new PortError('validation', 'ValidationException', `export of ${req.table}: table ARN ${req.tableArn} is not ${this.tableArn(req.table)}`);
    const toMs = Date.parse(window.to);
    if (window.type === 'INCREMENTAL') {
      const limits = this.options.windowLimits ?? { minSeconds: 1, maxSeconds: 86_400 };
      const seconds = (toMs - Date.parse(window.from ?? '')) / 1000;
      if (!(seconds >= limits.minSeconds && seconds <= limits.maxSeconds)) {
        throw new PortError('validation', 'ValidationException', `export of ${req.table}: window ${window.from}..${window.to} is outside ${limits.minSeconds}..${limits.maxSeconds} s`);
      }
    }
    const existing = this.state.tableExports?.[req.exportId];
    const refused = existing ? undefined : this.injected('export-start', req.table);
    if (refused) throw new PortError(refused.retryable ? 'throttled' : 'validation', refused.retryable ? 'LimitExceededException' : 'ValidationException', refused.message ?? `injected export start refusal for ${req.table}`);
    const rule = this.injected('export', req.table);
    if (!existing) {
      const itemCount = window.type === 'FULL' ? this.itemsAt(req.table, toMs) : this.changesIn(req.table, Date.parse(window.from ?? ''), toMs);
      const made: FakeTableExport = {
        table: req.table,
        exportArn: `${req.tableArn}/export/${req.exportId}`,
        window,
        itemCount,
        described: 0,
        ...(rule && !rule.retryable ? { failureCause: rule.message ?? `injected export failure for ${req.table}` } : {}),
      };
      this.store.update((s) => {
        (s.tableExports ??= {})[req.exportId] = made;
        s.counters['tableExport.created'] = (s.counters['tableExport.created'] ?? 0) + 1;
      });
    }
    // The export was started, but the answer is lost: a retry with the same id adopts it.
    if (rule?.retryable) throw new PortError('transient', 'FakeFailure', rule.message ?? `injected export start failure for ${req.table}`);
    const made = this.state.tableExports![req.exportId]!;
    return { exportId: req.exportId, exportArn: made.exportArn, table: req.table, window, adopted: existing !== undefined };
  }

  private describeTableExport(ref: TableExportRef): TableExportStatus {
    const made = this.state.tableExports?.[ref.exportId];
    if (!made) throw new PortError('not-found', 'ExportNotFoundException', `DynamoDB export ${ref.exportId} not found`);
    this.failIfInjected('export-status', made.table);
    const described = this.store.update((s) => ++s.tableExports![ref.exportId]!.described);
    if (described <= (this.options.tableExportPolls ?? 1)) return { state: 'in_progress' };
    if (made.failureCause) return { state: 'failed', failureCause: made.failureCause };
    const counted = !this.options.tableExportsWithoutItemCount?.includes(made.table);
    const sized = !this.options.tableExportsWithoutBilledSize?.includes(made.table);
    return { state: 'complete', location: `fake://dynamodb-exports/${ref.exportId}`, ...(counted ? { itemCount: made.itemCount } : {}), ...(sized ? { billedBytes: made.itemCount * 100 } : {}), modelled: true };
  }

  /** Every fake table has one bigint column `id`, its key (and the cursor of direct loads). */
  private fakeTable(table: string): DiscoveredTable {
    const size = this.options.exportGBByTable?.[table] ?? this.options.exportGBPerTable;
    return { table, target: `fake.${table}`, ...(size !== undefined ? { sizeGB: size } : {}), columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }], primaryKey: ['id'] };
  }

  /**
   * The window of a direct load, fixed at its start as the job fixes it: from the lake's max(cursor)
   * minus the lookback (null on create) to the source's max(cursor). The job's arguments are built
   * as a real backend builds them, so a request they refuse is refused here too.
   */
  private directWindow(req: LoadRequest, lakeTable: string): FakeRun['window'] {
    if (req.plan.extract?.kind !== 'direct') return undefined;
    loadJobArguments(req, { warehouse: 'fake://warehouse' }, FAKE_JDBC);
    const to = this.sourceRowCount(req.plan.table);
    const lakeMax = this.state.lake[lakeTable]?.maxCursor;
    const lookback = Number(req.plan.cursor?.lookback ?? 0) || 0;
    const from = lakeMax === undefined ? null : Math.max(1, lakeMax - lookback);
    const rowsRead = from === null ? to : Math.max(0, to - from + 1);
    return { from, to, rowsRead, inserted: Math.max(0, to - (lakeMax ?? 0)), partitions: req.plan.extract.partitions ?? 1 };
  }

  /**
   * A DynamoDB load, fixed at its start: its job arguments are built as a real backend builds them
   * (a request they refuse is refused here too), and its exports say what it applies.
   */
  private dynamoLoad(req: LoadRequest): FakeRun['dynamo'] {
    if (req.plan.extract?.kind !== 'dynamodb') return undefined;
    loadJobArguments(req, { warehouse: 'fake://warehouse' });
    const exports = req.tableExports ?? [];
    for (const e of exports) {
      const made = this.state.tableExports?.[e.exportId];
      if (!made || made.failureCause) throw new PortError('validation', 'InvalidArgument', `load of ${req.plan.table}: DynamoDB export ${e.exportId} is not a completed export`);
    }
    return { full: exports.some((e) => e.window.type === 'FULL'), records: exports.reduce((n, e) => n + e.itemCount, 0) };
  }

  /**
   * One write, as a backend's start is one call: a process killed mid-start leaves either no run
   * or a run its token finds, never a counted start with no run.
   */
  private async startLoad(req: LoadRequest): Promise<{ runId: string }> {
    const run = this.newRun(req, Date.now(), this.state.nextId);
    this.store.update((s) => {
      s.nextId = run.seq + 1;
      this.recordRun(s, run);
    });
    return { runId: run.runId };
  }

  /** A table's load run numbered `seq`, from `startMs` (a pack's tables start one after another); not yet recorded. */
  private newRun(req: LoadRequest, startMs: number, seq: number, packRunId?: string): FakeRun {
    const table = req.plan.table;
    const lakeTable = `${req.namespace}.${req.plan.lakeTable}`;
    const now = startMs;
    const rule = this.injected('load', table);
    const older = this.olderExport(req, lakeTable);
    const window = this.directWindow(req, lakeTable);
    const dynamo = this.dynamoLoad(req);
    return {
      runId: `jr_${seq}`,
      seq,
      runToken: req.runToken,
      table,
      lakeTable,
      cycleId: req.cycleId,
      startedAtMs: now,
      durationMs: this.options.latencyMsByTable?.[table] ?? this.options.latencyMs ?? 0,
      request: req,
      ...(packRunId ? { packRunId } : {}),
      ...(window ? { window } : {}),
      ...(dynamo ? { dynamo } : {}),
      ...(rule
        ? { failWith: { class: rule.retryable ? 'InternalError' : 'SchemaConflict', message: rule.message ?? `injected load failure for ${table}`, retryable: rule.retryable } }
        : older
          ? { failWith: older }
          : {}),
    };
  }

  /** Records a started run in `s`, counted per table. */
  private recordRun(s: FakeState, run: FakeRun): void {
    s.counters[`load.start:${run.table}`] = (s.counters[`load.start:${run.table}`] ?? 0) + 1;
    s.runs[run.runId] = run;
    // Runs end on their own clock, so the most overlap is always reached when a run starts.
    const live = Object.values(s.runs).filter((r) => r.lakeTable === run.lakeTable && this.endsAt(r) > run.startedAtMs).length;
    const key = `load.maxConcurrent:${run.lakeTable}`;
    s.counters[key] = Math.max(s.counters[key] ?? 0, live);
  }

  /**
   * Packed runs as a backend has them: one run whose tables load one after another, each writing
   * its result when it is done (a table already loaded by this run token is skipped), then the
   * summary. Only the pack token finds the run; it is no live run of a lake table, as a Glue run
   * started with --pack_path names no lake table.
   */
  private packPort(): PackLoads {
    return {
      startPack: (req) =>
        this.call('pack.start', async () => {
          if (this.options.packStartLatencyMs) await delay(this.options.packStartLatencyMs);
          const started = this.startPack(req);
          const lost = this.store.update((s) => (s.counters['pack.start.lost'] = (s.counters['pack.start.lost'] ?? 0) + 1));
          if (lost <= (this.options.packStartAnswersLost ?? 0)) throw new PortError('transient', 'FakeFailure', `the answer to the start of pack ${req.packToken} was lost`);
          return started;
        }),
      findPackByToken: (req) => this.call('pack.find', async () => this.latestPack(req.packToken)?.runId),
      summaryLocation: (_source, cycleId, packToken) => `fake://packs/${cycleId}/${packToken}.json`,
      readSummary: (location) => this.call('pack.summary', async () => this.packSummary(location)),
    };
  }

  /** Pack runs started (tests). */
  packRuns(): FakePack[] {
    return Object.values(this.state.packs ?? {}).sort((a, b) => a.seq - b.seq);
  }

  /** Like startLoad, one write: the pack and every run it starts, or none of them. */
  private startPack(req: PackRequest): { runId: string } {
    const now = Date.now();
    const seq = this.state.nextId;
    const runId = `jp_${seq}`;
    const expiring = (this.state.counters['pack.expired'] ?? 0) + 1 <= (this.options.packRunsExpire ?? 0);
    const record = (pack: FakePack, runs: FakeRun[]): { runId: string } => {
      this.store.update((s) => {
        s.counters['pack.expired'] = (s.counters['pack.expired'] ?? 0) + 1;
        s.nextId = seq + 1 + runs.length;
        for (const run of runs) this.recordRun(s, run);
        (s.packs ??= {})[runId] = pack;
      });
      return { runId };
    };
    if (expiring) {
      return record({ runId, packToken: req.packToken, cycleId: req.cycleId, seq, startedAtMs: now, durationMs: this.options.latencyMs ?? 0, summaryLocation: req.summaryLocation, tables: [], expired: true }, []);
    }
    const runs: FakeRun[] = [];
    const tables: FakePack['tables'] = [];
    let offset = 0;
    let diedBefore: string | undefined;
    for (const load of req.loads) {
      const table = load.plan.table;
      const done = this.result(load.resultLocation);
      if (done?.status === 'succeeded' && done.runToken === load.runToken) {
        tables.push({ table, skipped: true, seconds: 0 });
        continue;
      }
      if (this.injected('pack', table)) {
        diedBefore = table;
        break;
      }
      const run = this.newRun(load, now + offset, seq + 1 + runs.length, runId);
      runs.push(run);
      tables.push({ table, runId: run.runId, seconds: run.durationMs / 1000 });
      offset += run.durationMs;
    }
    return record({ runId, packToken: req.packToken, cycleId: req.cycleId, seq, startedAtMs: now, durationMs: offset, summaryLocation: req.summaryLocation, tables, ...(diedBefore ? { diedBefore } : {}) }, runs);
  }

  private latestPack(packToken: string): FakePack | undefined {
    return this.packRuns()
      .filter((p) => p.packToken === packToken)
      .at(-1);
  }

  private packEndsAt(pack: FakePack): number {
    const done = pack.startedAtMs + pack.durationMs;
    return pack.stopRequestedAtMs === undefined ? done : Math.min(done, pack.stopRequestedAtMs + (this.options.stopLatencyMs ?? 0));
  }

  private packStatus(pack: FakePack): LoadRunStatus {
    const runId = pack.runId;
    const stopped = pack.stopRequestedAtMs !== undefined && this.packEndsAt(pack) < pack.startedAtMs + pack.durationMs;
    if (Date.now() < this.packEndsAt(pack)) return { runId, state: 'running', detail: stopped ? 'STOPPING' : 'RUNNING' };
    // Each table committed as it finished, whatever became of the run after.
    for (const t of pack.tables) if (t.runId) this.commitIfDone(this.state.runs[t.runId]!);
    if (stopped) return { runId, state: 'failed', detail: 'STOPPED', errorMessage: `run ${runId} was stopped` };
    if (pack.expired) return { runId, state: 'failed', detail: 'EXPIRED', errorMessage: 'the run waited in the job run queue until it expired (no capacity)', retryable: true, unstarted: true };
    if (pack.diedBefore) return { runId, state: 'failed', detail: 'FAILED', errorMessage: `the pack run died before loading ${pack.diedBefore}`, retryable: true };
    const dpu = this.options.dpuSecondsPerRun;
    return { runId, state: 'succeeded', detail: 'SUCCEEDED', executionSeconds: pack.durationMs / 1000, ...(dpu !== undefined ? { dpuSeconds: dpu, modelled: true as const } : {}) };
  }

  private packSummary(location: string): PackSummary | undefined {
    const pack = this.packRuns().filter((p) => p.summaryLocation === location).at(-1);
    // Written when every table is done: a run that died or was stopped writes none.
    if (!pack || this.packStatus(pack).state !== 'succeeded') return undefined;
    return {
      packToken: pack.packToken,
      tables: pack.tables.map((t) => ({ table: t.table, status: t.skipped ? 'skipped' : this.state.runs[t.runId!]!.failWith ? 'failed' : 'succeeded', seconds: t.seconds })),
    };
  }

  /** A packed table's commit, once its part of the run is over (nobody polls it on its own). */
  private commitIfDone(run: FakeRun): void {
    if (run.failWith || Date.now() < this.endsAt(run) || this.endsAt(run) < run.startedAtMs + run.durationMs) return;
    this.commit(run);
  }

  /** The job's refusal of an export older than the lake table's last commit (glue/lakesync_glue/lineage.py). */
  private olderExport(req: LoadRequest, lakeTable: string): FakeRun['failWith'] {
    const last = this.state.lake[lakeTable]?.lastCommit;
    if (!last?.snapshotTime || !req.snapshotTime || req.plan.allowOlderExport || Date.parse(last.snapshotTime) <= Date.parse(req.snapshotTime)) return undefined;
    const message =
      `table fake.${req.plan.table}: lake table ${lakeTable} holds export ${last.exportId ?? '(unknown)'} (snapshot time ${last.snapshotTime}), newer than this load's ` +
      `export ${req.exportId} (snapshot time ${req.snapshotTime}); loading it would move the table back in time, so nothing was written. ` +
      `If that is intended (e.g. to undo a bad load), run: lakesync rerun ${req.source} --tables ${req.plan.table} --allow-older-export`;
    return { class: 'OlderExport', message, retryable: false };
  }

  /** When a run ends: at its duration, or once a stop asked for has taken effect. */
  private endsAt(run: FakeRun): number {
    const done = run.startedAtMs + run.durationMs;
    return run.stopRequestedAtMs === undefined ? done : Math.min(done, run.stopRequestedAtMs + (this.options.stopLatencyMs ?? 0));
  }

  private liveRuns(lakeTable: string): LiveLoadRun[] {
    const now = Date.now();
    return Object.values(this.state.runs)
      .filter((r) => r.lakeTable === lakeTable && this.endsAt(r) > now && !r.packRunId)
      .sort((a, b) => a.seq - b.seq)
      .map((r) => ({ runId: r.runId, runToken: r.runToken, detail: r.stopRequestedAtMs === undefined ? 'RUNNING' : 'STOPPING', startedAt: new Date(r.startedAtMs).toISOString() }));
  }

  private stopRun(runId: string): void {
    const pack = this.state.packs?.[runId];
    if (pack) {
      if (pack.stopRequestedAtMs !== undefined || this.packEndsAt(pack) <= Date.now()) return;
      // The tables not done yet stop with it and write no result.
      this.store.update((s) => {
        s.packs![runId]!.stopRequestedAtMs = Date.now();
        for (const t of pack.tables) if (t.runId && this.endsAt(s.runs[t.runId]!) > Date.now()) s.runs[t.runId]!.stopRequestedAtMs = Date.now();
      });
      return;
    }
    const run = this.state.runs[runId];
    if (!run || run.stopRequestedAtMs !== undefined || this.endsAt(run) <= Date.now()) return;
    this.store.update((s) => (s.runs[runId]!.stopRequestedAtMs = Date.now()));
  }

  private cycleRuns(cycleId: string): CycleRuns {
    const own = Object.values(this.state.runs)
      .filter((r) => r.runToken.startsWith(`${cycleId}:`) && !r.packRunId)
      .sort((a, b) => a.seq - b.seq)
      .map((r) => ({ table: r.table, status: this.runStatus(r.runId) }));
    // A pack's run under each table of its pack.
    const packed = this.packRuns()
      .filter((p) => p.cycleId === cycleId)
      .flatMap((p) => p.tables.map((t) => ({ table: t.table, status: this.packStatus(p), pack: { token: p.packToken, tables: p.tables.length } })));
    return { runs: [...own, ...packed], unread: [] };
  }

  private async pollRun(runId: string): Promise<LoadRunStatus> {
    const pack = this.state.packs?.[runId];
    if (pack) return this.packStatus(pack);
    const table = this.state.runs[runId]?.table;
    if (table) {
      const rule = this.injected('poll', table);
      if (rule?.stallMs) await delay(rule.stallMs);
      else if (rule) throw new PortError(rule.retryable ? 'transient' : 'failed', 'FakeFailure', rule.message ?? `injected poll failure for ${table}`);
    }
    return this.runStatus(runId);
  }

  private latestRun(runToken: string): FakeRun | undefined {
    return Object.values(this.state.runs)
      .filter((r) => r.runToken === runToken && !r.packRunId)
      .sort((a, b) => b.seq - a.seq)[0];
  }

  private runStatus(runId: string): LoadRunStatus {
    const run = this.state.runs[runId];
    if (!run) throw new PortError('not-found', 'EntityNotFoundException', `load run ${runId} not found`);
    const now = Date.now();
    const stopped = run.stopRequestedAtMs !== undefined && this.endsAt(run) < run.startedAtMs + run.durationMs;
    if (now < this.endsAt(run)) return { runId, state: 'running', detail: stopped ? 'STOPPING' : 'RUNNING' };
    if (stopped) return { runId, state: 'failed', detail: 'STOPPED', errorMessage: `run ${runId} was stopped` };
    if (run.failWith) return { runId, state: 'failed', detail: 'FAILED', errorMessage: run.failWith.message };
    this.commit(run);
    const dpu = this.options.dpuSecondsPerRun;
    return { runId, state: 'succeeded', detail: 'SUCCEEDED', executionSeconds: run.durationMs / 1000, ...(dpu !== undefined ? { dpuSeconds: dpu, modelled: true as const } : {}) };
  }

  /** The lake side of a finished run, applied once per run. */
  private commit(run: FakeRun): void {
    const key = `committed:${run.runId}`;
    if (this.state.counters[key]) return;
    this.store.update((s) => {
      s.counters[key] = 1;
      s.counters[`load.commit:${run.table}`] = (s.counters[`load.commit:${run.table}`] ?? 0) + 1;
      const prev = s.lake[run.lakeTable];
      const wrong = this.options.wrongCounts?.find((w) => w.table === run.table);
      // A direct load adds its window's new rows; an export load leaves the export's rows.
      // A DynamoDB load holds a FULL export's items, or adds its change records (each a new item here).
      const dynamoRows = run.dynamo ? (run.dynamo.full ? run.dynamo.records : (prev?.rows ?? 0) + run.dynamo.records) : undefined;
      const rows = wrong?.rowCountAfter ?? dynamoRows ?? (run.window ? (prev?.rows ?? 0) + run.window.inserted : (this.options.rowsPerTable ?? 100));
      const maxCursor = run.window ? run.window.to : this.sourceRowCount(run.table);
      const snapshot = (prev?.snapshot ?? 0) + 1;
      const { request } = run;
      // Its Iceberg figures: a new table (or a FULL export's replace) is written whole; rows gained are
      // appended; rows lost are a merge-on-read write (a delete file, whose rows the total still counts).
      const whole = !prev || (run.dynamo?.full ?? false) || request.plan.action === 'replace';
      const before = whole ? 0 : prev.rows;
      const written: CommitFigures = {
        operation: rows >= before ? 'append' : 'overwrite',
        parentId: whole ? null : String(prev.snapshot),
        addedRecords: Math.max(0, rows - before),
        deletedRecords: 0,
        deletedDataFiles: 0,
        addedDeleteFiles: rows >= before ? 0 : 1,
        removedDeleteFiles: 0,
        totalRecords: Math.max(rows, before),
        totalDeleteFiles: rows >= before ? 0 : 1,
      };
      // Every commit records its lineage in the snapshot summary, as the job does.
      const lastCommit: LakeCommit = {
        icebergSnapshotId: String(snapshot),
        committedAt: new Date().toISOString(),
        source: request.source,
        ...(request.exportId ? { exportId: request.exportId } : {}),
        ...(request.snapshotTime ? { snapshotTime: request.snapshotTime } : {}),
        cycleId: request.cycleId,
        written,
      };
      s.lake[run.lakeTable] = { rows, snapshot, rowsAt: { ...prev?.rowsAt, [snapshot]: rows }, lastCommit, maxCursor };
    });
  }

  private result(location: string): LoadResult | undefined {
    const match = /^fake:\/\/results\/(.+)\/([^/]+)\.json$/.exec(location);
    if (!match) return undefined;
    const run = Object.values(this.state.runs)
      .filter((r) => r.cycleId === match[1] && r.table === match[2])
      .sort((a, b) => b.seq - a.seq)[0];
    // A run stopped before it finished writes no result.
    if (!run || Date.now() < this.endsAt(run) || this.endsAt(run) < run.startedAtMs + run.durationMs) return undefined;
    if (run.packRunId) this.commitIfDone(run);
    const now = new Date().toISOString();
    if (run.window) return this.directResult(run, now);
    if (run.dynamo) return this.dynamoResult(run, now);
    return {
      ...this.resultOfRun(run, now),
      action: run.request.plan.action === 'skip' ? 'none' : run.request.plan.action,
      rowsRead: this.options.rowsPerTable ?? 100,
      inserted: run.request.plan.action === 'create' ? (this.options.rowsPerTable ?? 100) : 0,
      cursorColumn: run.request.plan.cursor?.column ?? null,
      cursorValueAfter: null,
    };
  }

  /** What every kind of load's result says alike: the run, the table, the lake table's state, the error. */
  private resultOfRun(run: FakeRun, now: string): Omit<LoadResult, 'action' | 'rowsRead' | 'inserted' | 'cursorColumn' | 'cursorValueAfter'> {
    const lake = this.state.lake[run.lakeTable];
    return {
      table: `fake.${run.table}`,
      lakeTable: run.lakeTable,
      status: run.failWith ? 'failed' : 'succeeded',
      updated: 0,
      deleted: 0,
      rowCountAfter: lake?.rows ?? 0,
      snapshotId: lake ? String(lake.snapshot) : null,
      committed: !run.failWith,
      schemaChanges: [],
      droppedColumns: [],
      schemaHash: 'fake',
      cycleId: run.cycleId,
      runToken: run.runToken,
      startedAt: new Date(run.startedAtMs).toISOString(),
      finishedAt: now,
      error: run.failWith ?? null,
    };
  }

  /** The result a direct load's job writes: its window, the rows read in it and the new watermark. */
  private directResult(run: FakeRun, now: string): LoadResult {
    const w = run.window!;
    const committed = !run.failWith;
    return {
      ...this.resultOfRun(run, now),
      action: run.request.plan.action === 'create' ? 'create' : w.inserted > 0 ? 'incremental' : 'none',
      rowsRead: w.rowsRead,
      inserted: committed ? w.inserted : 0,
      cursorColumn: run.request.plan.cursor?.column ?? null,
      cursorValueAfter: committed ? String(w.to) : null,
      extract: 'direct',
      window: { from: w.from === null ? null : String(w.from), to: String(w.to), partitions: w.partitions, estimatedRows: w.rowsRead },
    };
  }

  /** The result a DynamoDB load's job writes: records read, and the items it inserted. */
  private dynamoResult(run: FakeRun, now: string): LoadResult {
    const d = run.dynamo!;
    const action = run.request.plan.action === 'skip' ? 'none' : run.request.plan.action;
    return {
      ...this.resultOfRun(run, now),
      action: !d.full && d.records === 0 ? 'none' : action,
      rowsRead: d.records,
      inserted: run.failWith ? 0 : d.records,
      cursorColumn: null,
      cursorValueAfter: null,
      extract: 'dynamodb',
    };
  }

  private async grant(req: GrantRequest): Promise<GrantOutcome> {
    for (const t of req.lakeTables) this.failIfInjected('grant', this.tableOfLake(t));
    return { granted: req.lakeTables.length * req.principals.length, alreadyGranted: 0 };
  }

  /** Every table of an export the fake knows holds `rowsPerTable` rows. */
  private exportRowCount(ref: ExportRef, table: string): number {
    if (!(ref.exportId in this.state.exports)) throw new PortError('not-found', 'ExportNotFound', `export ${ref.exportId} has no files`);
    return this.tables.includes(table) ? (this.options.rowsPerTable ?? 100) : 0;
  }

  private async verify(req: VerifyRequest): Promise<VerifyOutcome> {
    this.failIfInjected('verify', req.table);
    const lake = this.state.lake[`${req.namespace}.${req.lakeTable}`];
    const subject = `${req.table} (${req.namespace}.${req.lakeTable})`;
    const counts: LakeRowCounts = {
      countAt: async (snapshotId) => {
        if (snapshotId === null) return lake?.rows ?? 0;
        const rows = lake?.rowsAt?.[snapshotId] ?? (lake && String(lake.snapshot) === snapshotId ? lake.rows : undefined);
        if (rows === undefined) throw unknownSnapshot(snapshotId, subject);
        return rows;
      },
      parentOf: async (snapshotId) => ({ parent: Number(snapshotId) > 1 ? String(Number(snapshotId) - 1) : null, operation: 'append' }),
    };
    const check = await rowCountCheck(req.rowCount, req.snapshotId, counts);
    return { passed: check.passed, checks: [check] };
  }

  private tableOfLake(lakeTable: string): string {
    return this.tables.find((t) => t.replace('.', '_') === lakeTable || t.split('.')[1] === lakeTable) ?? lakeTable;
  }

  private manifest<T>(ref: string): T {
    const key = manifestKey(ref);
    if (!(key in this.state.manifests)) throw new PortError('not-found', 'ManifestNotFound', `manifest ${ref} not found`);
    return this.state.manifests[key] as T;
  }
}
