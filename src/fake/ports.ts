/**
 * In-memory (or file-backed) ports for tests and benchmarks: configurable latency, injected
 * failures per table and phase, "already exists" answers, and call counters.
 * Loads behave like Glue runs: they run on their own clock, whether or not anyone polls.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { PortError } from '../errors';
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
  VerifyOutcome,
  VerifyRequest,
} from '../model';
import type { ExportRequest, Ports, SnapshotRequest } from '../ports';
import { FakeStateStore, type FakeRun, type FakeState } from './state';

export type FakePhase = 'snapshot' | 'export' | 'discover' | 'load' | 'grant' | 'verify';

export interface FakeFailure {
  /** `schema.table`, or `*` for every table (and for snapshot/export). */
  table: string;
  phase: FakePhase;
  /** Fail this many times, then succeed; or always. */
  times: number | 'always';
  retryable: boolean;
  message?: string;
}

export interface FakeOptions {
  tables: string[] | number;
  /** How long each load run takes. */
  latencyMs?: number;
  /** How long every other call takes. */
  callLatencyMs?: number;
  failures?: FakeFailure[];
  alreadyExists?: ('snapshot' | 'export')[];
  /** Keep the state in a file here so it survives the worker process. */
  stateDir?: string;
  rowsPerTable?: number;
}

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

  /** Changes the injected failures between cycles (tests). */
  setFailures(failures: FakeFailure[]): void {
    this.options = { ...this.options, failures };
  }

  count(key: string): number {
    return this.state.counters[key] ?? 0;
  }

  ports(): Ports {
    return {
      snapshot: {
        startSnapshot: (req) => this.call('snapshot.start', () => this.startSnapshot(req)),
        describeSnapshot: (id) => this.call('snapshot.describe', () => this.describeSnapshot(id)),
      },
      export: {
        startExport: (req) => this.call('export.start', () => this.startExport(req)),
        describeExport: (id) => this.call('export.describe', () => this.describeExport(id)),
      },
      discover: {
        discover: (ref) => this.call('discover', () => this.discover(ref)),
        exportAvailable: (ref) => this.call('discover.available', async () => ref.exportId in this.state.exports),
        listTables: async () => [...this.tables],
      },
      lake: {
        ensureNamespace: (ns) => this.call('lake.namespace', async () => void ns),
        tableExists: (ns, table) => this.call('lake.exists', async () => `${ns}.${table}` in this.state.lake),
      },
      load: {
        pollPolicy: { initialMs: 50, maxMs: 500 },
        resultLocation: (req) => `fake://results/${req.cycleId}/${req.plan.table}.json`,
        startLoad: (req) => this.call(`load.start`, () => this.startLoad(req)),
        findRunByToken: (req) => this.call('load.find', async () => this.latestRun(req.runToken)?.runId),
        getRun: (runId) => this.call('load.get', async () => this.runStatus(runId)),
        stopRun: (runId) => this.call('load.stop', async () => void this.store.update((s) => delete s.runs[runId])),
        readResult: (location) => this.call('load.result', async () => this.result(location)),
      },
      grant: { grant: (req) => this.call('grant', () => this.grant(req)) },
      verify: { verify: (req) => this.call('verify', () => this.verify(req)) },
      manifests: {
        put: (key, value) => this.call('manifest.put', async () => this.store.update((s) => ((s.manifests[key] = value), `fake://manifests/${key}`))),
        get: <T>(ref: string) => this.call('manifest.get', async () => this.manifest<T>(ref)),
      },
    };
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
    const seen = this.store.update((s) => (s.counters[key] = (s.counters[key] ?? 0) + 1));
    return rule.times === 'always' || seen <= rule.times ? rule : undefined;
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
    this.store.update((s) => (s.exports[req.exportId] = { location, snapshotId: req.snapshot.snapshotId }));
    return { exportId: req.exportId, location, snapshotId: req.snapshot.snapshotId, adopted: Boolean(exists) };
  }

  private async describeExport(id: string): Promise<ExportStatus> {
    if (!(id in this.state.exports)) throw new PortError('not-found', 'ExportTaskNotFound', `export ${id} not found`);
    return { exportId: id, state: 'complete', percentProgress: 100 };
  }

  private async discover(ref: ExportRef): Promise<DiscoveredExport> {
    this.failIfInjected('discover', '*');
    if (!(ref.exportId in this.state.exports)) throw new PortError('not-found', 'ExportNotFound', `export ${ref.exportId} has no files`);
    return {
      database: 'fake',
      tables: this.tables.map((table) => ({
        table,
        target: `fake.${table}`,
        columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }],
        primaryKey: ['id'],
      })),
      skipped: [],
      warnings: [],
    };
  }

  private async startLoad(req: LoadRequest): Promise<{ runId: string }> {
    const table = req.plan.table;
    this.store.update((s) => (s.counters[`load.start:${table}`] = (s.counters[`load.start:${table}`] ?? 0) + 1));
    const rule = this.injected('load', table);
    const seq = this.store.update((s) => s.nextId++);
    const run: FakeRun = {
      runId: `jr_${seq}`,
      seq,
      runToken: req.runToken,
      table,
      lakeTable: `${req.namespace}.${req.plan.lakeTable}`,
      cycleId: req.cycleId,
      startedAtMs: Date.now(),
      durationMs: this.options.latencyMs ?? 0,
      request: req,
      ...(rule
        ? { failWith: { class: rule.retryable ? 'InternalError' : 'SchemaConflict', message: rule.message ?? `injected load failure for ${table}`, retryable: rule.retryable } }
        : {}),
    };
    this.store.update((s) => (s.runs[run.runId] = run));
    return { runId: run.runId };
  }

  private latestRun(runToken: string): FakeRun | undefined {
    return Object.values(this.state.runs)
      .filter((r) => r.runToken === runToken)
      .sort((a, b) => b.seq - a.seq)[0];
  }

  private runStatus(runId: string): LoadRunStatus {
    const run = this.state.runs[runId];
    if (!run) throw new PortError('not-found', 'EntityNotFoundException', `load run ${runId} not found`);
    if (Date.now() - run.startedAtMs < run.durationMs) return { runId, state: 'running', detail: 'RUNNING' };
    if (run.failWith) return { runId, state: 'failed', detail: 'FAILED', errorMessage: run.failWith.message };
    this.commit(run);
    return { runId, state: 'succeeded', detail: 'SUCCEEDED', executionSeconds: run.durationMs / 1000 };
  }

  /** The lake side of a finished run, applied once per run. */
  private commit(run: FakeRun): void {
    const key = `committed:${run.runId}`;
    if (this.state.counters[key]) return;
    this.store.update((s) => {
      s.counters[key] = 1;
      s.counters[`load.commit:${run.table}`] = (s.counters[`load.commit:${run.table}`] ?? 0) + 1;
      const prev = s.lake[run.lakeTable];
      s.lake[run.lakeTable] = { rows: this.options.rowsPerTable ?? 100, snapshot: (prev?.snapshot ?? 0) + 1 };
    });
  }

  private result(location: string): LoadResult | undefined {
    const match = /^fake:\/\/results\/(.+)\/([^/]+)\.json$/.exec(location);
    if (!match) return undefined;
    const run = Object.values(this.state.runs)
      .filter((r) => r.cycleId === match[1] && r.table === match[2])
      .sort((a, b) => b.seq - a.seq)[0];
    if (!run || Date.now() - run.startedAtMs < run.durationMs) return undefined;
    const lake = this.state.lake[run.lakeTable];
    const now = new Date().toISOString();
    return {
      table: `fake.${run.table}`,
      lakeTable: run.lakeTable,
      status: run.failWith ? 'failed' : 'succeeded',
      action: run.request.plan.action === 'skip' ? 'none' : run.request.plan.action,
      rowsRead: this.options.rowsPerTable ?? 100,
      inserted: run.request.plan.action === 'create' ? (this.options.rowsPerTable ?? 100) : 0,
      updated: 0,
      deleted: 0,
      rowCountAfter: lake?.rows ?? 0,
      cursorColumn: run.request.plan.cursor?.column ?? null,
      cursorValueAfter: null,
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

  private async grant(req: GrantRequest): Promise<GrantOutcome> {
    for (const t of req.lakeTables) this.failIfInjected('grant', this.tableOfLake(t));
    return { granted: req.lakeTables.length * req.principals.length, alreadyGranted: 0 };
  }

  private async verify(req: VerifyRequest): Promise<VerifyOutcome> {
    this.failIfInjected('verify', req.table);
    const actual = this.state.lake[`${req.namespace}.${req.lakeTable}`]?.rows ?? 0;
    const passed = actual === req.expectedRowCount;
    return { passed, checks: [{ name: 'row count', expected: String(req.expectedRowCount), actual: String(actual), passed }] };
  }

  private tableOfLake(lakeTable: string): string {
    return this.tables.find((t) => t.replace('.', '_') === lakeTable || t.split('.')[1] === lakeTable) ?? lakeTable;
  }

  private manifest<T>(ref: string): T {
    const key = ref.replace('fake://manifests/', '');
    if (!(key in this.state.manifests)) throw new PortError('not-found', 'ManifestNotFound', `manifest ${ref} not found`);
    return this.state.manifests[key] as T;
  }
}
