/**
 * The local stand-in for an RDS snapshot export: every table of the export's scope (RDS
 * `ExportOnly`: whole schemas and single tables; no other table is read) is read at one snapshot
 * and written as Parquet in the RDS layout and encodings, then export_tables_info and export_info.
 * A PostgreSQL server is read by several connections sharing one exported snapshot, each table
 * split into ctid ranges (parallel.ts); PGlite (one connection, in this process) is read by one
 * REPEATABLE READ READ ONLY transaction through a server-side cursor.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { SnapshotRef, TableName } from '../../model';
import { type CatalogTable, readCatalog } from '../source/catalog';
import type { SourceDb, SqlSession } from '../source/db';
import {
  type ExportInfo,
  exportInfoFile,
  type TableStatusEntry,
  TABLES_PER_INFO_FILE,
  tablesInfoFile,
} from './layout';
import { checkUnchangedSinceSnapshot, holdTables } from './hold-tables';
import { exportWithSnapshotReaders } from './parallel';
import { PartNames, PartWriter } from './parts';
import { quoteIdent } from './types';
import { batchDir, completedEntry, EXPORT_DEFAULTS, partOptions, planTable, readableTables, type TablePlan } from './table-plan';

export interface ExportOptions {
  exportId: string;
  /** The `db` part of every `db.schema.table` target. */
  database: string;
  snapshot: SnapshotRef;
  /** Folder the export is written to (its root: export_info and the data folders). */
  outDir: string;
  /** Only these `schema.table` tables and these whole schemas (RDS `ExportOnly`); every table when both are absent. */
  tables?: TableName[];
  schemas?: string[];
  rowsPerPart?: number;
  rowGroupSize?: number;
  /** Bytes of values a row group holds at most (default 16 MB): wide rows end a row group, and its part, sooner. */
  rowGroupBytes?: number;
  /** Rows fetched from the cursor at a time (PGlite). */
  fetchRows?: number;
  /** Connections reading a PostgreSQL server at once (default: from the core count, 2 to 4). */
  readers?: number;
  /** A PostgreSQL table is split into ranges of at least this many blocks, at most one per reader (default 1024: 8 MB). */
  minRangeBlocks?: number;
  /** Several readers each get a thread of their own from this many blocks read in all (default 8192: 64 MB). */
  readerThreadMinBlocks?: number;
  /**
   * The exclude rule that names a table, if one does: a partitioned table one of whose partitions
   * is excluded is not exported, since reading it would read that partition's rows.
   */
  excludedBy?(table: TableName): string | undefined;
  /** Called after each table (awaited: a slow callback holds the export). */
  onProgress?(progress: { tablesDone: number; tablesTotal: number; rows: number }): void | Promise<void>;
  /** Aborted, the export stops and fails with the signal's reason: every reader's connection ends at once (PostgreSQL), or the cursor stops between two batches (PGlite). */
  signal?: AbortSignal;
}

export interface ExportedTable {
  table: TableName;
  rows: number;
  files: string[];
  bytes: number;
}

export interface ExportSummary {
  exportId: string;
  tables: ExportedTable[];
  skipped: { table: TableName; reason: string }[];
  /** Primary keys as the catalog declared them at the export's snapshot. */
  primaryKeys: Record<TableName, string[]>;
  totalBytes: number;
  startedAt: string;
  finishedAt: string;
}

/** What one table's export produced. */
export type TableResult = { position: number; entry: TableStatusEntry } & (
  | { exported: ExportedTable; primaryKey: string[] }
  | { skipped: { table: TableName; reason: string } }
);

/** Turns the catalog into the tables of the export's scope and reports progress: what both ways of reading share. */
export interface ExportScope {
  tablesOf(catalog: CatalogTable[]): CatalogTable[];
  tableDone(rows: number): Promise<void>;
}

export { EXPORT_DEFAULTS } from './table-plan';

export { defaultReaders } from './table-plan';

const CURSOR = 'lakesync_export';

export async function exportSnapshot(db: SourceDb, options: ExportOptions): Promise<ExportSummary> {
  const startedAt = new Date().toISOString();
  mkdirSync(options.outDir, { recursive: true });
  // A table outside the scope is never read: excluded data does not leave the database.
  const isScoped = options.tables !== undefined || options.schemas !== undefined;
  const tables = new Set(options.tables ?? []);
  const schemas = new Set(options.schemas ?? []);
  let total = 0;
  let done = 0;
  let rows = 0;
  const scope: ExportScope = {
    tablesOf(catalog) {
      const inScope = catalog.flatMap((t): CatalogTable[] => {
        if (!isScoped || tables.has(t.table) || schemas.has(t.schema)) return [t];
        // `"public.archive".t` reads as `public.archive.t`, a table of schema public, to the scope: a
        // schema exported whole takes it by name, yet it is not in that schema. Listed, never read.
        const mistakenFor = [...schemas].find((s) => t.table.startsWith(`${s}.`));
        return mistakenFor === undefined ? [] : [{ ...t, mistakenForSchema: mistakenFor }];
      });
      total = inScope.length;
      return inScope;
    },
    async tableDone(tableRows) {
      done += 1;
      rows += tableRows;
      await options.onProgress?.({ tablesDone: done, tablesTotal: total, rows });
    },
  };
  const results = db.connect
    ? await exportWithSnapshotReaders({ connect: () => db.connect!(), ...(db.connectionUrl ? { connectionUrl: db.connectionUrl } : {}) }, options, scope)
    : await db.consistentRead((session) => exportWithCursor(session, options, scope)).catch(async (err: unknown) => {
        throw err instanceof TableReadError && !options.signal?.aborted ? await withLargeValues(db, err) : err;
      });
  results.sort((a, b) => a.position - b.position);
  const summary: ExportSummary = { exportId: options.exportId, tables: [], skipped: [], primaryKeys: {}, totalBytes: 0, startedAt, finishedAt: '' };
  for (const r of results) {
    if ('skipped' in r) summary.skipped.push(r.skipped);
    else {
      summary.tables.push(r.exported);
      summary.primaryKeys[r.exported.table] = r.primaryKey;
      summary.totalBytes += r.exported.bytes;
    }
  }
  summary.finishedAt = new Date().toISOString();
  writeTablesInfo(options, results.map((r) => r.entry));
  writeExportInfo(options, summary);
  return summary;
}

/** The sequential path: one transaction, one table after the other, a bounded number of rows at a time. */
async function exportWithCursor(session: SqlSession, options: ExportOptions, scope: ExportScope): Promise<TableResult[]> {
  const catalog = scope.tablesOf(await readCatalog(session));
  const read = readableTables(catalog);
  await holdTables(session, read);
  const results: TableResult[] = [];
  for (const [position, table] of catalog.entries()) {
    options.signal?.throwIfAborted();
    const decision = planTable(table, position, options.database, options.excludedBy);
    const result: TableResult = 'skipped' in decision ? { position, ...decision } : await exportTableWithCursor(session, decision.plan, options);
    results.push(result);
    await scope.tableDone('exported' in result ? result.exported.rows : 0);
  }
  // A partition attached while the tables were read (ATTACH does not wait for the export) may have been read.
  await checkUnchangedSinceSnapshot(session, read);
  return results;
}

async function exportTableWithCursor(session: SqlSession, plan: TablePlan, options: ExportOptions): Promise<TableResult> {
  const extractionStartTime = new Date().toISOString();
  const writer = new PartWriter(new PartNames(batchDir(options, plan)), plan.columns, partOptions(options));
  const fetchRows = options.fetchRows ?? EXPORT_DEFAULTS.fetchRows;
  const fetch = (rows: number) => `FETCH FORWARD ${rows} FROM ${CURSOR}`;
  try {
    await session.rows(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${plan.select}`);
    // The next batch is fetched while this one is encoded: at most two batches are in memory. The
    // first is a few rows; the others as many rows as make about FETCH_BYTES at the size rows have
    // had so far (at most fetchRows), so that wide rows are not fetched thousands at a time.
    let next = session.rows(fetch(Math.min(fetchRows, FIRST_FETCH_ROWS)));
    let rowsSeen = 0;
    let bytesSeen = 0;
    for (;;) {
      const batch = await next;
      if (batch.length === 0) break;
      // Checked while no fetch is pending, so a cancel stops the table between two batches.
      options.signal?.throwIfAborted();
      rowsSeen += batch.length;
      bytesSeen += textBytes(batch);
      next = session.rows(fetch(Math.max(1, Math.min(fetchRows, Math.floor(FETCH_BYTES / Math.max(1, bytesSeen / rowsSeen))))));
      await writer.append(batch).catch(async (err: unknown) => {
        await next.catch(() => undefined);
        throw err;
      });
    }
    await session.rows(`CLOSE ${CURSOR}`);
  } catch (err) {
    await writer.abandon();
    throw new TableReadError(plan, err);
  }
  const written = await writer.finish();
  return {
    position: plan.position,
    entry: completedEntry(plan, written, extractionStartTime),
    exported: { table: plan.table.table, rows: written.rows, files: written.files, bytes: written.bytes },
    primaryKey: plan.table.primaryKey,
  };
}

/** A table's read through the cursor failed (PGlite). */
class TableReadError extends Error {
  constructor(
    readonly plan: TablePlan,
    cause: unknown,
  ) {
    super(`export of ${plan.table.table} failed: ${(cause as Error).message}`, { cause });
  }
}

/** Values from this size are named when a table's read fails: PGlite reads each value whole, a bytea as hex text. */
const LARGE_VALUE_BYTES = 32 * 1024 * 1024;
const SIZED_TYPES = new Set(['bytea', 'text', 'varchar', 'bpchar']);

/**
 * The error of a table whose read failed, naming the columns holding a value large enough to be
 * the cause (PGlite runs out of memory on a value of a few hundred MB, and a JavaScript string
 * holds at most 2^29 characters) and what to do. Read in a transaction of its own: the export's
 * failed with the table. octet_length reads a stored value's size without reading the value.
 */
async function withLargeValues(db: SourceDb, err: TableReadError): Promise<Error> {
  const { plan } = err;
  const sized = plan.columns.filter((c) => SIZED_TYPES.has(c.column.udtName) && !c.column.domainName);
  if (sized.length === 0) return err;
  let largest: number[];
  try {
    // The plan's own FROM clause, never one cut out of its SELECT: a quoted name may hold ' FROM '.
    const rows = await db.consistentRead((session) => session.rows(`SELECT ${sized.map((c) => `max(octet_length(${quoteIdent(c.column.name)}))::bigint::text`).join(', ')} FROM ${plan.from}`));
    largest = ((rows[0] ?? []) as unknown[]).map((v) => (v === null || v === undefined ? 0 : Number(v)));
  } catch {
    return err;
  }
  const large = sized.flatMap((c, i) => ((largest[i] ?? 0) >= LARGE_VALUE_BYTES ? [{ name: c.column.name, bytes: largest[i]!, bytea: c.column.udtName === 'bytea' }] : []));
  if (large.length === 0) return err;
  const mb = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`;
  const said = large.map((c) => `column ${c.name} holds a value of ${mb(c.bytes)}${c.bytea ? ` (${mb(c.bytes * 2)} as the hex text PGlite reads)` : ''}`).join('; ');
  const table = plan.table.table;
  return new Error(
    `${err.message}: ${said}. PGlite reads each value whole, in the memory of this process, and cannot read values this large: ` +
      `exclude the table (exclude: ["${table}"]; the export reads every column of a table it exports), ` +
      'or sync it from PostgreSQL (source.kind: postgres), whose export streams large values',
    { cause: err.cause },
  );
}

/** Rows in the first batch of a table read through the cursor; the next ones are sized from them. */
const FIRST_FETCH_ROWS = 8;
/** About as many bytes of values as a batch read through the cursor holds (after the first). */
const FETCH_BYTES = 16 * 1024 * 1024;

/** The length of the text values of a batch (every column is read as text, bytea as hex): about its size. */
function textBytes(batch: unknown[][]): number {
  let bytes = 0;
  for (const row of batch) for (const value of row) if (typeof value === 'string') bytes += value.length;
  return bytes;
}

function writeTablesInfo(options: ExportOptions, entries: TableStatusEntry[]): void {
  // An export of no table still lists its database, so discover finds a tables-info file.
  const all = entries.length > 0 ? entries : [{ target: options.database, warningMessage: 'no table matched the export' }];
  for (let from = 0; from < all.length; from += TABLES_PER_INFO_FILE) {
    const chunk = all.slice(from, from + TABLES_PER_INFO_FILE);
    const file = tablesInfoFile(options.outDir, options.exportId, from + 1, from + chunk.length);
    writeFileSync(file, JSON.stringify({ perTableStatus: chunk }, null, 2));
  }
}

function writeExportInfo(options: ExportOptions, summary: ExportSummary): void {
  const info: ExportInfo = {
    exportTaskIdentifier: options.exportId,
    sourceArn: `arn:local:rds:local:000000000000:snapshot:${options.snapshot.snapshotId}`,
    exportOnly: [...(options.schemas ?? []), ...(options.tables ?? [])].map((t) => `${options.database}.${t}`),
    snapshotTime: options.snapshot.createdAt,
    taskStartTime: summary.startedAt,
    taskEndTime: summary.finishedAt,
    s3Bucket: 'local',
    s3Prefix: '',
    exportedFilesPath: options.exportId,
    iamRoleArn: '',
    kmsKeyId: '',
    status: 'COMPLETE',
    percentProgress: 100,
    totalExportedDataInGB: summary.totalBytes / 1024 ** 3,
    sourceType: 'SNAPSHOT',
    ...(summary.skipped.length > 0 ? { warningMessage: JSON.stringify({ skippedTables: summary.skipped.map((s) => ({ table: `${options.database}.${s.table}`, reason: s.reason })) }) } : {}),
  };
  writeFileSync(exportInfoFile(options.outDir, options.exportId), JSON.stringify(info, null, 2));
}
