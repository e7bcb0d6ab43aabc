/**
 * What a dead cycle's recovery has settled so far. Settling a table takes a lineage read, and for a
 * recovered commit a grant and a verification: minutes each on Athena, hours for a large cycle. The
 * settled outcomes are written in chunks to the manifest store and every heartbeat carries their
 * references, so an attempt that ran out of time or lost its worker is followed by one that goes on
 * from there instead of settling (and verifying) every table again.
 */
import { Context } from '@temporalio/activity';
import { cycleManifestKeys } from '../ids';
import type { LakeCommit, TableName, TableOutcome } from '../model';
import type { Ports } from '../ports';
import { unlessNotFound } from './deps';

/** The recovery's heartbeat details (verification adds the table and step it is at). */
export interface RecoveryHeartbeat {
  /** Manifest references of the chunks of settled outcomes, oldest first. */
  progress: string[];
}

/** A settled table: its outcome, and the commit it was recovered from when it committed. */
export interface SettledTable {
  outcome: TableOutcome;
  commit?: LakeCommit;
}

/**
 * A chunk is written once it holds this many tables or its oldest is this old: a lost worker
 * costs at most that much work again, and an attempt writes at most one chunk per interval.
 */
const CHUNK_TABLES = 50;
const CHUNK_AGE_MS = 10_000;

export class RecoveryProgress {
  private pending: SettledTable[] = [];
  private pendingSince = Date.now();
  /** Chunks are written one at a time: each takes the next index. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly ports: Ports,
    /** Where this attempt writes its chunks: apart from every other attempt's. */
    private readonly prefix: string,
    private readonly refs: string[],
    /** Outcomes earlier attempts settled, by table. */
    readonly settled: ReadonlyMap<TableName, SettledTable>,
    private readonly chunkAgeMs: number,
  ) {}

  /** The progress the previous attempt's last heartbeat carried (none on a first attempt). */
  static async resume(ports: Ports, cycleId: string): Promise<RecoveryProgress> {
    const { info } = Context.current();
    const previous = info.heartbeatDetails as Partial<RecoveryHeartbeat> | undefined;
    const refs = Array.isArray(previous?.progress) ? previous.progress.filter((r): r is string => typeof r === 'string') : [];
    const settled = new Map<TableName, SettledTable>();
    for (const ref of refs) {
      // A chunk gone from the store is settled again.
      const chunk = await unlessNotFound(() => ports.manifests.get<SettledTable[]>(ref));
      for (const table of chunk ?? []) settled.set(table.outcome.table, table);
    }
    // One scheduled recovery's chunks (its attempts share the activity id), apart from any other's.
    const recovery = cycleManifestKeys.recoveryProgress(cycleId, `${info.workflowExecution?.runId ?? 'no-run'}-${info.activityId}`);
    // Written at least as often as the activity heartbeats, so a heartbeat timeout loses little.
    const ageMs = info.heartbeatTimeoutMs ? Math.min(CHUNK_AGE_MS, Math.max(500, Math.floor(info.heartbeatTimeoutMs / 3))) : CHUNK_AGE_MS;
    const progress = new RecoveryProgress(ports, `${recovery}/attempt-${info.attempt}`, [], settled, ageMs);
    if (settled.size > 0) {
      // The earlier attempts' chunks as one: the heartbeat carries few references however many attempts ran.
      progress.pending = [...settled.values()];
      await progress.flush();
      for (const ref of refs) await ports.manifests.delete(ref).catch(() => undefined);
    }
    return progress;
  }

  /** Heartbeats the progress, with `extra` (the table being settled) beside it. */
  heartbeat(extra: Record<string, unknown> = {}): void {
    Context.current().heartbeat(this.details(extra));
  }

  /** The details every heartbeat of this attempt must carry, verification's too. */
  details(extra: Record<string, unknown> = {}): RecoveryHeartbeat & Record<string, unknown> {
    return { ...extra, progress: [...this.refs] };
  }

  /** Records a settled table; the chunk is written when full or old enough. */
  async settle(table: SettledTable): Promise<void> {
    if (this.pending.length === 0) this.pendingSince = Date.now();
    this.pending.push(table);
    if (this.pending.length >= CHUNK_TABLES) await this.flush();
    else await this.flushIfOld();
  }

  /** Writes the settled tables once the oldest has waited long enough (also called between tables: a verification may take minutes). */
  async flushIfOld(): Promise<void> {
    if (this.pending.length > 0 && Date.now() - this.pendingSince >= this.chunkAgeMs) await this.flush();
  }

  /** Writes what is settled and not yet written, and heartbeats its reference. */
  flush(): Promise<void> {
    const write = this.writing.catch(() => undefined).then(async () => {
      if (this.pending.length === 0) return;
      const chunk = this.pending;
      this.pending = [];
      try {
        this.refs.push(await this.ports.manifests.put(`${this.prefix}/${this.refs.length}.json`, chunk));
      } catch (err) {
        // Kept for the next write: nothing settled is dropped from the progress.
        this.pending = [...chunk, ...this.pending];
        throw err;
      }
      this.heartbeat();
    });
    this.writing = write;
    return write;
  }

  /** Deletes the chunks once the recovery has its result: they served only its retries. */
  async discard(): Promise<void> {
    await this.writing.catch(() => undefined);
    for (const ref of this.refs) await this.ports.manifests.delete(ref).catch(() => undefined);
  }
}
