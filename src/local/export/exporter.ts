/**
 * The local stand-in for an RDS snapshot export: one REPEATABLE READ READ ONLY transaction reads
 * every table of the export's scope (RDS `ExportOnly`: whole schemas and single tables; no other
 * table is read) through a server-side cursor (a bounded number of rows at a time) and writes them
 * as Parquet in the RDS layout and encodings, then writes export_tables_info and export_info.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotRef, TableName } from '../../model';
import { type CatalogTable, readCatalog } from '../source/catalog';
import type { SourceDb, SqlSession } from '../source/db';
import {
  type ExportInfo,
  exportInfoFile,
  type TableStatusEntry,
  TABLES_PER_INFO_FILE,
  tableDataDir,
  tablesInfoFile,
} from './layout';
import { PartWriter } from './parts';
import { type ColumnExport, columnExport, quoteIdent, skipReason, typeMapping } from './types';

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
  /** Rows fetched from the cursor at a time. */
  fetchRows?: number;
  /** Called after each table (awaited: a slow callback holds the export). */
  onProgress?(progress: { tablesDone: number; tablesTotal: number; rows: number }): void | Promise<void>;
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

export const EXPORT_DEFAULTS = { rowsPerPart: 250_000, rowGroupSize: 10_000, fetchRows: 5_000 };

const CURSOR = 'lakesync_export';
const GB = 1024 ** 3;

export async function exportSnapshot(db: SourceDb, options: ExportOptions): Promise<ExportSummary> {
  const startedAt = new Date().toISOString();
  mkdirSync(options.outDir, { recursive: true });
  return db.consistentRead(async (session) => {
    // A table outside the scope is never read: excluded data does not leave the database.
    const scoped = options.tables !== undefined || options.schemas !== undefined;
    const tables = new Set(options.tables ?? []);
    const schemas = new Set(options.schemas ?? []);
    const catalog = (await readCatalog(session)).filter((t) => !scoped || tables.has(t.table) || schemas.has(t.schema));
    const summary: ExportSummary = { exportId: options.exportId, tables: [], skipped: [], primaryKeys: {}, totalBytes: 0, startedAt, finishedAt: '' };
    const entries: TableStatusEntry[] = [];
    let rows = 0;
    for (const [i, table] of catalog.entries()) {
      const { entry, rowsWritten } = await exportTable(session, table, options, summary);
      entries.push(entry);
      rows += rowsWritten;
      await options.onProgress?.({ tablesDone: i + 1, tablesTotal: catalog.length, rows });
    }
    summary.finishedAt = new Date().toISOString();
    writeTablesInfo(options, entries);
    writeExportInfo(options, summary);
    return summary;
  });
}

async function exportTable(
  session: SqlSession,
  table: CatalogTable,
  options: ExportOptions,
  summary: ExportSummary,
): Promise<{ entry: TableStatusEntry; rowsWritten: number }> {
  const target = `${options.database}.${table.table}`;
  const columns = table.columns.map(columnExport).filter((c): c is ColumnExport => c !== undefined);
  const reason = skipReason(table.table, table.columns) ?? (columns.length === 0 ? 'the table has no exportable column' : undefined);
  if (reason) {
    summary.skipped.push({ table: table.table, reason });
    return { entry: { target, status: 'SKIPPED', warningMessage: reason }, rowsWritten: 0 };
  }
  summary.primaryKeys[table.table] = table.primaryKey;

  const extractionStartTime = new Date().toISOString();
  const writer = new PartWriter(join(tableDataDir(options.outDir, options.database, table.table), '1'), columns, {
    rowsPerPart: options.rowsPerPart ?? EXPORT_DEFAULTS.rowsPerPart,
    rowGroupSize: options.rowGroupSize ?? EXPORT_DEFAULTS.rowGroupSize,
  });
  const select = columns.map((c) => c.selectExpression).join(', ');
  const from = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const fetch = `FETCH FORWARD ${options.fetchRows ?? EXPORT_DEFAULTS.fetchRows} FROM ${CURSOR}`;
  try {
    await session.rows(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR SELECT ${select} FROM ${from}`);
    // The next batch is fetched while this one is encoded: at most two batches are in memory.
    let next = session.rows(fetch);
    for (;;) {
      const batch = await next;
      if (batch.length === 0) break;
      next = session.rows(fetch);
      await writer.append(batch).catch(async (err: unknown) => {
        await next.catch(() => undefined);
        throw err;
      });
    }
    await session.rows(`CLOSE ${CURSOR}`);
  } catch (err) {
    throw new Error(`export of ${table.table} failed: ${(err as Error).message}`, { cause: err });
  }
  const written = await writer.finish();
  summary.tables.push({ table: table.table, rows: written.rows, files: written.files, bytes: written.bytes });
  summary.totalBytes += written.bytes;
  const entry: TableStatusEntry = {
    target,
    status: 'COMPLETE',
    sizeGB: written.bytes / GB,
    tableStatistics: {
      extractionStartTime,
      extractionEndTime: new Date().toISOString(),
      partitioningInfo: { numberOfPartitions: 1, numberOfCompletedPartitions: 1 },
    },
    schemaMetadata: { originalTypeMappings: columns.map(typeMapping) },
  };
  return { entry, rowsWritten: written.rows };
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
    totalExportedDataInGB: summary.totalBytes / GB,
    sourceType: 'SNAPSHOT',
    ...(summary.skipped.length > 0 ? { warningMessage: JSON.stringify({ skippedTables: summary.skipped.map((s) => ({ table: `${options.database}.${s.table}`, reason: s.reason })) }) } : {}),
  };
  writeFileSync(exportInfoFile(options.outDir, options.exportId), JSON.stringify(info, null, 2));
}
