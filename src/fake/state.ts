/** The fake backend's state: in memory, or in a JSON file so it outlives a killed worker. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LakeCommit, LoadRequest, TableExportWindow } from '../model';

export interface FakeRun {
  runId: string;
  runToken: string;
  table: string;
  lakeTable: string;
  cycleId: string;
  /** Start order; runs started in the same millisecond still have a newest one. */
  seq: number;
  startedAtMs: number;
  durationMs: number;
  /** The result error the run ends with, when it is made to fail. */
  failWith?: { class: string; message: string; retryable: boolean };
  /** When a stop was asked for; the run ends `stopLatencyMs` later (Glue's STOPPING), unless it ended first. */
  stopRequestedAtMs?: number;
  request: LoadRequest;
  /** A direct load's window, fixed when it starts: cursor values are row ids 1..n of the source. */
  window?: { from: number | null; to: number; rowsRead: number; inserted: number; partitions: number };
  /** A DynamoDB load, fixed when it starts: from a FULL export, or from change records (each a new item in the fake). */
  dynamo?: { full: boolean; records: number };
  /** The pack run that loads this table (its run id); absent for a run of its own. */
  packRunId?: string;
}

/** A pack run: its tables run one after another; it dies (Spark died) before `diedBefore` when told to. */
export interface FakePack {
  runId: string;
  packToken: string;
  cycleId: string;
  seq: number;
  startedAtMs: number;
  durationMs: number;
  summaryLocation: string;
  /** Per table in order: its run (absent when skipped, or when the pack died before it) and what the summary says. */
  tables: { table: string; runId?: string; skipped?: boolean; seconds: number }[];
  diedBefore?: string;
  /** The run waited in the job run queue and expired (Glue's EXPIRED): it loaded none of its tables. */
  expired?: boolean;
  stopRequestedAtMs?: number;
}

/** A DynamoDB export the fake made: one table and window. */
export interface FakeTableExport {
  table: string;
  exportArn: string;
  window: TableExportWindow;
  itemCount: number;
  /** Set when the export was made to fail (an injected non-retryable export failure). */
  failureCause?: string;
  /** How often it was described: the first answers (FakeOptions.tableExportPolls, 1 by default) are in progress, as a real export is for a while. */
  described: number;
}

export interface FakeState {
  counters: Record<string, number>;
  /** `foreign`: made by someone else (no lakesync tag), which retention must never list. */
  snapshots: Record<string, { createdAt: string; foreign?: boolean }>;
  exports: Record<string, { location: string; snapshotId: string; createdAt?: string; snapshotTime?: string; tables?: string[]; schemas?: string[]; canceled?: boolean }>;
  /** What retention deleted, in order. */
  deleted?: { snapshots: string[]; exports: string[] };
  runs: Record<string, FakeRun>;
  /** Per lake table: its rows and snapshot now, and its rows at each snapshot (snapshot n's parent is n - 1). */
  lake: Record<string, { rows: number; snapshot: number; rowsAt?: Record<string, number>; lastCommit?: LakeCommit; maxCursor?: number }>;
  /** Rows of the source per table beyond `rowsPerTable` (appended by tests); a row's cursor is its id 1..n. */
  sourceRows?: Record<string, number>;
  /** When rows were appended (epoch ms): DynamoDB exports take those before their export time. */
  appends?: Record<string, { atMs: number; rows: number }[]>;
  /** DynamoDB exports by export id. */
  tableExports?: Record<string, FakeTableExport>;
  manifests: Record<string, unknown>;
  /** Pack runs by run id. */
  packs?: Record<string, FakePack>;
  nextId: number;
}

export function emptyState(): FakeState {
  return { counters: {}, snapshots: {}, exports: {}, runs: {}, lake: {}, manifests: {}, nextId: 1 };
}

export class FakeStateStore {
  private readonly file?: string;
  readonly state: FakeState;

  constructor(stateDir?: string) {
    if (stateDir) {
      mkdirSync(stateDir, { recursive: true });
      this.file = join(stateDir, 'fake-state.json');
    }
    this.state = this.file ? readState(this.file) : emptyState();
  }

  /** Applies a change and persists it before the caller sees the result. */
  update<T>(change: (s: FakeState) => T): T {
    const out = change(this.state);
    if (this.file) {
      // A temporary file of this process: two processes writing one folder never write the same file.
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.state));
      renameSync(tmp, this.file);
    }
    return out;
  }
}

/** The state in `file`; an absent file is an empty state, a garbled one an error naming the file. */
export function readState(file: string): FakeState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw e;
  }
  try {
    return JSON.parse(text) as FakeState;
  } catch (e) {
    throw new Error(`the fake backend's state file ${file} is not valid JSON (${(e as Error).message}): it is garbled; delete its folder to start from an empty state`);
  }
}

export function readStateDir(stateDir: string): FakeState {
  return readState(join(stateDir, 'fake-state.json'));
}
