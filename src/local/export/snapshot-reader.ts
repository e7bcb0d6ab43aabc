/**
 * One reader of a parallel export (parallel.ts): a connection in a REPEATABLE READ READ ONLY
 * transaction on the export's snapshot, copying ctid ranges of tables into part files of its own.
 * It runs in the exporting thread, or in a thread of its own (reader-thread.ts), where parsing
 * COPY's text, which costs more than the server's side of it, does not wait for the other readers.
 */
import type { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { CatalogTable } from '../source/catalog';
import { CONSISTENT_READ_SETTINGS } from '../source/db';
import { copyTextInto } from './copy-text';
import { PartNames, type PartsWritten, PartWriter, type PartWriterOptions } from './parts';
import { batchDir, planTable } from './table-plan';

/** Readers and the connection holding the snapshot show up under these names in pg_stat_activity. */
export const READER_APPLICATION_NAME = 'lakesync export reader';
export const SNAPSHOT_APPLICATION_NAME = 'lakesync export snapshot';

/** One range of one table to read: plain data, so it can be sent to a thread. */
export interface RangeRead {
  table: CatalogTable;
  /** The table's position in the catalog. */
  position: number;
  database: string;
  /** The export's root folder. */
  outDir: string;
  /** First block, and the block the range stops before (none: to the end of the table). */
  from: number;
  to?: number;
  /** Whether the table is read in several ranges (a table read whole needs no filter). */
  split: boolean;
  /** The table's next part number, shared by every reader of the table (PartNames.shared). */
  partNumbers: SharedArrayBuffer;
  part: PartWriterOptions;
}

export type RangeWritten = PartsWritten & { indexes: number[] };

export interface ExportReader {
  /** Copies the range into part files of its own; on failure, removes them and rejects with the cause. */
  read(range: RangeRead): Promise<RangeWritten>;
  /** Ends the transaction once every range is read. */
  commit(): Promise<void>;
  /** Ends the connection at once: a COPY under way fails (another reader failed). */
  stop(): void;
  close(): Promise<void>;
}

/** Puts `client` in a REPEATABLE READ READ ONLY transaction on the exported `snapshot`; ends the client when that fails. */
/** How long a reader waits for a table lock: only a deadlock makes it wait at all. */
const READER_LOCK_TIMEOUT = '5s';
/** PostgreSQL's SQLSTATE for a lock wait ended by lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

export async function joinSnapshot(client: Client, snapshot: string): Promise<ExportReader> {
  try {
    await client.query(`SET application_name = '${READER_APPLICATION_NAME}'`);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`).catch((err: unknown) => {
      throw new Error(`export failed: a reader could not join the export's snapshot (${(err as Error).message}); the connection holding it may have ended: run it again`, { cause: err });
    });
    for (const setting of CONSISTENT_READ_SETTINGS) await client.query(setting);
    // The export holds every table it reads (hold-tables.ts): a reader waits for a lock only behind
    // another session's queued exclusive lock (TRUNCATE, ALTER TABLE), which waits for the export: a deadlock.
    await client.query(`SET LOCAL lock_timeout = '${READER_LOCK_TIMEOUT}'`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return new SnapshotReader(client);
}

class SnapshotReader implements ExportReader {
  constructor(private readonly client: Client) {}

  async read(range: RangeRead): Promise<RangeWritten> {
    const decision = planTable(range.table, range.position, range.database);
    if ('skipped' in decision) throw new Error(`${range.table.table} is not exported: ${decision.skipped.reason}`);
    const { plan } = decision;
    const writer = new PartWriter(new PartNames(batchDir(range, plan), range.partNumbers), plan.columns, range.part);
    try {
      const stream = this.client.query(copyTo(`COPY (${plan.copySelect}${rangeFilter(range)}) TO STDOUT`));
      await copyTextInto(stream, writer, plan.columns);
      return await writer.finish({ emptyPart: false });
    } catch (err) {
      await writer.abandon();
      if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) {
        throw new Error(
          `another session waits to lock ${range.table.table} exclusively (TRUNCATE, ALTER TABLE, VACUUM FULL...) while the export holds it, so the export stops rather than keep both waiting; run the sync again once that change is done`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  async commit(): Promise<void> {
    await this.client.query('COMMIT');
  }

  stop(): void {
    void this.client.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

function rangeFilter(range: RangeRead): string {
  if (!range.split) return '';
  const from = range.from > 0 ? [`ctid >= '(${range.from},0)'::tid`] : [];
  const to = range.to !== undefined ? [`ctid < '(${range.to},0)'::tid`] : [];
  return ` WHERE ${[...from, ...to].join(' AND ')}`;
}
