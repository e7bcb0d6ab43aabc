/**
 * Reads a PostgreSQL server with several connections at one snapshot. A coordinator opens a
 * REPEATABLE READ READ ONLY transaction, reads the catalog and exports its snapshot
 * (pg_export_snapshot); each reader starts its own transaction on that snapshot
 * (SET TRANSACTION SNAPSHOT), so every table of the export is seen at the same instant, as with
 * one transaction. Tables are split into ctid block ranges (which every table has, with or
 * without a key); readers take ranges from a queue and stream each with
 * `COPY (SELECT ...) TO STDOUT` into part files of their own (snapshot-reader.ts). In an export
 * of 64 MB or more, each reader runs in a thread of its own: parsing COPY's text costs more CPU
 * than the server's side of it, so readers sharing one thread would wait on each other.
 * Every reader joins the snapshot before any reads; each holds at most two row groups of rows; the
 * coordinator's transaction stays open until every reader is done. COPY's text format is chosen
 * over a cursor (the driver then builds a JS row of strings per row) and over the binary format
 * (bigger on the wire, and every non-native type would still need its text form): the export needs
 * text for most columns anyway.
 */
import type { Client } from 'pg';
import { readCatalog } from '../source/catalog';
import { CONSISTENT_READ_SETTINGS, type SqlSession } from '../source/db';
import type { ExportOptions, ExportScope, TableResult } from './exporter';
import { PartNames, type PartsWritten, PartWriter } from './parts';
import { type ExportReader, joinSnapshot, type RangeRead, type RangeWritten, SNAPSHOT_APPLICATION_NAME } from './snapshot-reader';
import { checkUnchangedSinceSnapshot, holdTables } from './hold-tables';
import { batchDir, completedEntry, defaultReaders, partOptions, planTable, quoted, readableTables, type TablePlan } from './table-plan';
import { startReaderThread } from './threaded-reader';

export { READER_APPLICATION_NAME, SNAPSHOT_APPLICATION_NAME } from './snapshot-reader';

/** Below this many 8 KB blocks (8 MB) per range, a table is not split further. */
export const MIN_RANGE_BLOCKS = 1024;
/** From this many blocks read in all (64 MB), several readers each get a thread of their own: below, starting threads costs more than it saves. */
export const THREAD_MIN_BLOCKS = 8192;

/** How an export reaches its server. */
export interface ReaderSource {
  connect(): Promise<Client>;
  /** For readers in threads of their own (they open their connection there); without it, every reader runs in this thread. */
  connectionUrl?: string;
}

interface TableJob {
  plan: TablePlan;
  names: PartNames;
  ranges: number;
  written: RangeWritten[];
  startedAt?: string;
}

interface RangeTask {
  job: TableJob;
  /** First block, and the block the range stops before (none: to the end of the table). */
  from: number;
  to?: number;
  blocks: number;
}

export async function exportWithSnapshotReaders(source: ReaderSource, options: ExportOptions, scope: ExportScope): Promise<TableResult[]> {
  const readers = options.readers ?? defaultReaders();
  if (!Number.isInteger(readers) || readers < 1) throw new Error(`readers must be a whole number of at least 1, not ${readers}`);
  const coordinator = await source.connect();
  let backendPid: number | undefined;
  let cancelling: Promise<void> | undefined;
  // Until the readers run, a cancel ends the coordinator's connection, so that a query of the
  // planning that waits (for a table another session holds locked) stops here at once. The server
  // notices a closed connection only when it next writes to it, so the query is cancelled there too:
  // its backend would otherwise go on waiting in the lock queue, holding its snapshot.
  const stopPlanning = () => {
    if (backendPid !== undefined) cancelling = cancelBackend(source, backendPid);
    void coordinator.end().catch(() => undefined);
  };
  options.signal?.addEventListener('abort', stopPlanning, { once: true });
  try {
    options.signal?.throwIfAborted();
    const [{ pid }] = (await coordinator.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
    backendPid = pid;
    options.signal?.throwIfAborted();
    await coordinator.query(`SET application_name = '${SNAPSHOT_APPLICATION_NAME}'`);
    await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const setting of CONSISTENT_READ_SETTINGS) await coordinator.query(setting);
    const session: SqlSession = { rows: async (sql, params = []) => (await coordinator.query({ text: sql, values: params, rowMode: 'array' })).rows as unknown[][] };
    const [[snapshot]] = (await session.rows('SELECT pg_export_snapshot()')) as [[string]];
    if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshot)}`);

    const results: TableResult[] = [];
    const tasks: RangeTask[] = [];
    const scoped = scope.tablesOf(await readCatalog(session));
    const read = readableTables(scoped);
    await holdTables(session, read);
    for (const [position, table] of scoped.entries()) {
      const decision = planTable(table, position, options.database, options.excludedBy);
      if ('skipped' in decision) {
        results.push({ position, ...decision });
        await scope.tableDone(0);
        continue;
      }
      const [[blocks]] = (await session.rows(`SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::bigint)::float8`, [quoted(table)])) as [[number]];
      const bounds = blockRanges(blocks, readers, options.minRangeBlocks);
      const job: TableJob = { plan: decision.plan, names: new PartNames(batchDir(options, decision.plan)), ranges: bounds.length, written: [] };
      for (const range of bounds) tasks.push({ job, ...range, blocks: (range.to ?? blocks) - range.from });
    }

    const count = Math.min(readers, tasks.length);
    const threaded = source.connectionUrl !== undefined && count > 1 && tasks.reduce((n, t) => n + t.blocks, 0) >= (options.readerThreadMinBlocks ?? THREAD_MIN_BLOCKS);
    const join = threaded ? () => startReaderThread(source.connectionUrl!, snapshot) : async () => joinSnapshot(await source.connect(), snapshot);
    options.signal?.removeEventListener('abort', stopPlanning);
    options.signal?.throwIfAborted();
    const pool = new ReaderPool(join, options, scope, results);
    await pool.run(tasks, count);
    // A partition attached while the readers ran (ATTACH does not wait for them) may have been read.
    // Reported after the COMMIT, which says first when the connection holding the snapshot is gone.
    const changed = await checkUnchangedSinceSnapshot(session, read).then(() => undefined, (err: unknown) => err);
    await coordinator.query('COMMIT').catch((err: unknown) => {
      throw new Error(`export failed: the connection holding its snapshot ended before the export did (${(err as Error).message}); run it again`, { cause: err });
    });
    if (changed) throw changed;
    return results;
  } catch (err) {
    await coordinator.query('ROLLBACK').catch(() => undefined);
    throw options.signal?.aborted ? options.signal.reason : err;
  } finally {
    options.signal?.removeEventListener('abort', stopPlanning);
    await coordinator.end().catch(() => undefined);
    await cancelling;
  }
}

/** Cancels the query a backend runs (pg_cancel_backend, allowed on the same role's backends) from a connection of its own. */
async function cancelBackend(source: ReaderSource, pid: number): Promise<void> {
  const client = await source.connect().catch(() => undefined);
  if (!client) return;
  try {
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // Best effort: the backend also ends once the server notices its connection is closed.
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A table of `blocks` blocks as up to `readers` ranges of at least MIN_RANGE_BLOCKS; the last is open-ended (rows are only visible where blocks existed at the snapshot, but the file may have grown since). */
export function blockRanges(blocks: number, readers: number, minBlocks: number = MIN_RANGE_BLOCKS): { from: number; to?: number }[] {
  const count = Math.max(1, Math.min(readers, Math.floor(blocks / minBlocks)));
  const size = Math.ceil(blocks / count);
  const ranges: { from: number; to?: number }[] = [];
  for (let i = 0; i < count; i++) ranges.push(i === count - 1 ? { from: i * size } : { from: i * size, to: (i + 1) * size });
  return ranges;
}

class ReaderPool {
  private failure: Error | undefined;
  private readonly readers = new Set<ExportReader>();

  constructor(
    /** A reader in the export's snapshot (its connection or thread ended when it cannot join). */
    private readonly join: () => Promise<ExportReader>,
    private readonly options: ExportOptions,
    private readonly scope: ExportScope,
    private readonly results: TableResult[],
  ) {}

  async run(tasks: RangeTask[], readers: number): Promise<void> {
    // Every reader joins the snapshot before any reads: from then on, none depends on the
    // coordinator's connection but for its final COMMIT.
    const joined = await Promise.allSettled(Array.from({ length: readers }, () => this.join()));
    const ready = joined.flatMap((j) => (j.status === 'fulfilled' ? [j.value] : []));
    const refused = joined.find((j): j is PromiseRejectedResult => j.status === 'rejected');
    if (refused) {
      await Promise.all(ready.map((r) => r.close()));
      throw refused.reason;
    }
    const queue = [...tasks];
    // A cancelled export stops as a failed one does: every reader's COPY ends at once.
    const { signal } = this.options;
    const abort = () => this.fail(signal!.reason instanceof Error ? signal!.reason : new Error('the export was cancelled'));
    if (signal?.aborted) abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await Promise.all(ready.map((reader) => this.read(reader, queue).catch((err: unknown) => this.fail(err as Error))));
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    if (this.failure) throw this.failure;
  }

  /** The first failure ends every reader's connection: their COPY stops at once. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const reader of this.readers) reader.stop();
  }

  private async read(reader: ExportReader, queue: RangeTask[]): Promise<void> {
    this.readers.add(reader);
    try {
      for (let task = queue.shift(); task && !this.failure; task = queue.shift()) await this.readRange(reader, task);
      if (!this.failure) await reader.commit();
    } finally {
      this.readers.delete(reader);
      await reader.close();
    }
  }

  private async readRange(reader: ExportReader, task: RangeTask): Promise<void> {
    const { job } = task;
    const { plan } = job;
    job.startedAt ??= new Date().toISOString();
    const range: RangeRead = {
      table: plan.table,
      position: plan.position,
      database: this.options.database,
      outDir: this.options.outDir,
      from: task.from,
      ...(task.to !== undefined ? { to: task.to } : {}),
      split: job.ranges > 1,
      partNumbers: job.names.shared,
      part: partOptions(this.options),
    };
    try {
      job.written.push(await reader.read(range));
    } catch (err) {
      const cause = this.failure && this.failure !== err ? `stopped after another reader failed (${this.failure.message})` : (err as Error).message;
      throw new Error(`export of ${plan.table.table} failed: ${cause}`, { cause: err });
    }
    if (job.written.length === job.ranges) await this.tableDone(job);
  }

  private async tableDone(job: TableJob): Promise<void> {
    // A table of no row still gets one (empty) part, so its schema is on disk.
    if (job.written.every((w) => w.files.length === 0)) job.written.push(await new PartWriter(job.names, job.plan.columns, partOptions(this.options)).finish());
    const parts = job.written.flatMap((w) => w.files.map((file, i) => ({ file, index: w.indexes[i]! }))).sort((a, b) => a.index - b.index);
    const written: PartsWritten = {
      rows: job.written.reduce((n, w) => n + w.rows, 0),
      bytes: job.written.reduce((n, w) => n + w.bytes, 0),
      files: parts.map((p) => p.file),
    };
    this.results.push({
      position: job.plan.position,
      entry: completedEntry(job.plan, written, job.startedAt!),
      exported: { table: job.plan.table.table, rows: written.rows, files: written.files, bytes: written.bytes },
      primaryKey: job.plan.table.primaryKey,
    });
    await this.scope.tableDone(written.rows);
  }
}
