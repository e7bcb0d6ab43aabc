/**
 * Reads a PostgreSQL server with several connections at one snapshot. A coordinator opens a
 * REPEATABLE READ READ ONLY transaction, reads the catalog and exports its snapshot
 * (pg_export_snapshot); each reader starts its own transaction on that snapshot
 * (SET TRANSACTION SNAPSHOT), so every table of the export is seen at the same instant, as with
 * one transaction. Tables are split into ctid block ranges (which every table has, with or
 * without a key); readers take ranges from a queue and stream each with
 * `COPY (SELECT ...) TO STDOUT` into part files of their own. Every reader joins the snapshot
 * before any reads; each holds at most two row groups of rows; the coordinator's transaction stays
 * open until every reader is done. COPY's text format is chosen over a cursor (the driver then
 * builds a JS row of strings per row) and over the binary format (bigger on the wire, and every
 * non-native type would still need its text form): the export needs text for most columns anyway.
 */
import type { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { readCatalog } from '../source/catalog';
import { CONSISTENT_READ_SETTINGS, type SqlSession } from '../source/db';
import { copyTextInto } from './copy-text';
import type { ExportOptions, ExportScope, TableResult } from './exporter';
import { PartNames, type PartsWritten, PartWriter } from './parts';
import { batchDir, completedEntry, defaultReaders, partOptions, planTable, quoted, type TablePlan } from './table-plan';

/** Below this many 8 KB blocks (8 MB) per range, a table is not split further. */
export const MIN_RANGE_BLOCKS = 1024;
/** Readers and the connection holding the snapshot show up under these names in pg_stat_activity. */
export const READER_APPLICATION_NAME = 'lakesync export reader';
export const SNAPSHOT_APPLICATION_NAME = 'lakesync export snapshot';

interface TableJob {
  plan: TablePlan;
  names: PartNames;
  ranges: number;
  written: (PartsWritten & { indexes: number[] })[];
  startedAt?: string;
}

interface RangeTask {
  job: TableJob;
  /** First block, and the block the range stops before (none: to the end of the table). */
  from: number;
  to?: number;
}

export async function exportWithSnapshotReaders(connect: () => Promise<Client>, options: ExportOptions, scope: ExportScope): Promise<TableResult[]> {
  const readers = options.readers ?? defaultReaders();
  if (!Number.isInteger(readers) || readers < 1) throw new Error(`readers must be a whole number of at least 1, not ${readers}`);
  const coordinator = await connect();
  try {
    await coordinator.query(`SET application_name = '${SNAPSHOT_APPLICATION_NAME}'`);
    await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const setting of CONSISTENT_READ_SETTINGS) await coordinator.query(setting);
    const session: SqlSession = { rows: async (sql, params = []) => (await coordinator.query({ text: sql, values: params, rowMode: 'array' })).rows as unknown[][] };
    const [[snapshot]] = (await session.rows('SELECT pg_export_snapshot()')) as [[string]];
    if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshot)}`);

    const results: TableResult[] = [];
    const tasks: RangeTask[] = [];
    for (const [position, table] of scope.tablesOf(await readCatalog(session)).entries()) {
      const decision = planTable(table, position, options.database);
      if ('skipped' in decision) {
        results.push({ position, ...decision });
        await scope.tableDone(0);
        continue;
      }
      const [[blocks]] = (await session.rows(`SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::bigint)::float8`, [quoted(table)])) as [[number]];
      const bounds = blockRanges(blocks, readers, options.minRangeBlocks);
      const job: TableJob = { plan: decision.plan, names: new PartNames(batchDir(options, decision.plan)), ranges: bounds.length, written: [] };
      for (const range of bounds) tasks.push({ job, ...range });
    }

    const pool = new ReaderPool(connect, snapshot, options, scope, results);
    await pool.run(tasks, Math.min(readers, tasks.length));
    await coordinator.query('COMMIT').catch((err: unknown) => {
      throw new Error(`export failed: the connection holding its snapshot ended before the export did (${(err as Error).message}); run it again`, { cause: err });
    });
    return results;
  } catch (err) {
    await coordinator.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await coordinator.end().catch(() => undefined);
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
  private readonly clients = new Set<Client>();

  constructor(
    private readonly connect: () => Promise<Client>,
    private readonly snapshot: string,
    private readonly options: ExportOptions,
    private readonly scope: ExportScope,
    private readonly results: TableResult[],
  ) {}

  async run(tasks: RangeTask[], readers: number): Promise<void> {
    // Every reader joins the snapshot before any reads: from then on, none depends on the
    // coordinator's connection but for its final COMMIT.
    const joined = await Promise.allSettled(Array.from({ length: readers }, () => this.join()));
    const clients = joined.flatMap((j) => (j.status === 'fulfilled' ? [j.value] : []));
    const refused = joined.find((j): j is PromiseRejectedResult => j.status === 'rejected');
    if (refused) {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      throw refused.reason;
    }
    const queue = [...tasks];
    await Promise.all(clients.map((client) => this.read(client, queue).catch((err: unknown) => this.fail(err as Error))));
    if (this.failure) throw this.failure;
  }

  /** The first failure ends every reader's connection: their COPY stops at once. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const client of this.clients) void client.end().catch(() => undefined);
  }

  /** A connection in a REPEATABLE READ READ ONLY transaction on the export's snapshot. */
  private async join(): Promise<Client> {
    const client = await this.connect();
    try {
      await client.query(`SET application_name = '${READER_APPLICATION_NAME}'`);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET TRANSACTION SNAPSHOT '${this.snapshot}'`).catch((err: unknown) => {
        throw new Error(`export failed: a reader could not join the export's snapshot (${(err as Error).message}); the connection holding it may have ended: run it again`, { cause: err });
      });
      for (const setting of CONSISTENT_READ_SETTINGS) await client.query(setting);
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  private async read(client: Client, queue: RangeTask[]): Promise<void> {
    this.clients.add(client);
    try {
      for (let task = queue.shift(); task && !this.failure; task = queue.shift()) await this.readRange(client, task);
      if (!this.failure) await client.query('COMMIT');
    } finally {
      this.clients.delete(client);
      await client.end().catch(() => undefined);
    }
  }

  private async readRange(client: Client, task: RangeTask): Promise<void> {
    const { job } = task;
    const { plan } = job;
    job.startedAt ??= new Date().toISOString();
    const writer = new PartWriter(job.names, plan.columns, partOptions(this.options));
    try {
      const stream = client.query(copyTo(`COPY (${plan.copySelect}${rangeFilter(task)}) TO STDOUT`));
      await copyTextInto(stream, writer, plan.columns);
      job.written.push(await writer.finish({ emptyPart: false }));
    } catch (err) {
      await writer.abandon();
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

function rangeFilter(task: RangeTask): string {
  if (task.job.ranges === 1) return '';
  const from = task.from > 0 ? [`ctid >= '(${task.from},0)'::tid`] : [];
  const to = task.to !== undefined ? [`ctid < '(${task.to},0)'::tid`] : [];
  return ` WHERE ${[...from, ...to].join(' AND ')}`;
}
