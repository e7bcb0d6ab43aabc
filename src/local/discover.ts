/**
 * DiscoverPort of the embedded mode: reads the files of an export folder, which export-listing
 * turns into tables exactly as the AWS adapter does for S3.
 * Primary keys come from the catalog record the export took at its snapshot. Tables read directly
 * (extract: direct) are described by the source's catalog as it is now, read-only.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, sep } from 'node:path';
import {
  type ExportInfoDocument,
  isTablesInfoFile,
  missingExportInfo,
  missingTablesInfo,
  readExportListing,
  type TablesInfoDocument,
} from '../export-listing';
import { footerRowCount, isTablePart, partsOf, sumRows } from '../export-rows';
import type { DiscoveredExport, DiscoveredTable, ExportParts, ExportRef, TableName } from '../model';
import type { DiscoverPort } from '../ports';
import { exportInfoFile, tableDataDir } from './export/layout';
import { columnExport, typeMapping } from './export/types';
import { readJsonIfExists } from './files';
import type { WorkDirLayout } from './paths';
import { readCatalog } from './source/catalog';
import type { SourceDb } from './source/db';

/** Primary keys per `schema.table`, as the source declared them when the export ran. */
export type CatalogRecord = { primaryKeys: Record<string, string[]> };

export function catalogRecordFile(layout: WorkDirLayout, exportId: string): string {
  return join(layout.catalog, `${exportId}.json`);
}

export function createDiscoverPort(layout: WorkDirLayout, database: string, source?: () => Promise<SourceDb>): DiscoverPort {
  return {
    ...(source ? { sourceTables: async (tables: TableName[]) => describeTables(await source(), database, tables) } : {}),

    async exportAvailable(ref: ExportRef) {
      return existsSync(exportInfoFile(ref.location, ref.exportId));
    },

    async exportRowCount(ref: ExportRef, table: TableName): Promise<number> {
      // Without export_info the export is gone; without a folder the table has no part file.
      if (!existsSync(exportInfoFile(ref.location, ref.exportId))) throw missingExportInfo(ref.exportId, ref.location);
      return sumRows(partFiles(ref, database, table), partRowCount);
    },

    async discover(ref: ExportRef): Promise<DiscoveredExport> {
      const info = readJsonIfExists<ExportInfoDocument>(exportInfoFile(ref.location, ref.exportId));
      if (!info) throw missingExportInfo(ref.exportId, ref.location);
      const names = readdirSync(ref.location).filter((name) => isTablesInfoFile(name, ref.exportId));
      if (names.length === 0) throw missingTablesInfo(ref.exportId, ref.location);
      const tablesInfo = names.map((name) => ({ name, document: readJsonIfExists<TablesInfoDocument>(join(ref.location, name)) }));
      const listed = readExportListing({ exportId: ref.exportId, database, info, tablesInfo });
      const found = { ...listed, parts: partsOf(listed, (table) => partsIn(partFiles(ref, database, table))) };
      return withPrimaryKeys(found, readJsonIfExists<CatalogRecord>(catalogRecordFile(layout, ref.exportId))?.primaryKeys ?? {});
    },
  };
}

/** The table's part files in the export, in its folder and its batch folders (none without a folder). */
function partFiles(ref: ExportRef, database: string, table: TableName): string[] {
  const dir = tableDataDir(ref.location, database, table);
  if (!existsSync(dir)) return [];
  // Relative paths rather than Dirent.parentPath, which Node 20 has only from 20.12.
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((relative) => isTablePart(relative.split(sep).join('/')))
    .map((relative) => join(dir, relative))
    .filter((path) => statSync(path).isFile());
}

function partsIn(files: string[]): ExportParts {
  return { files: files.length, bytes: files.reduce((sum, path) => sum + statSync(path).size, 0) };
}

/**
 * The named tables as the catalog describes them now, with the column mappings an export would
 * write and the declared primary key; tables the source lacks are left out.
 */
async function describeTables(db: SourceDb, database: string, tables: TableName[]): Promise<DiscoveredTable[]> {
  const wanted = new Set(tables);
  const catalog = await db.consistentRead(readCatalog);
  return catalog
    .filter((t) => wanted.has(t.table))
    .map((t) => ({
      table: t.table,
      target: `${database}.${t.table}`,
      columns: t.columns.map(columnExport).flatMap((c) => (c ? [typeMapping(c)] : [])),
      ...(t.primaryKey.length > 0 ? { primaryKey: t.primaryKey } : {}),
      ...(t.nullable?.length ? { nullable: t.nullable } : {}),
    }));
}

/** The source's primary keys on the tables the catalog record knows. */
function withPrimaryKeys(found: DiscoveredExport, keys: Record<string, string[]>): DiscoveredExport {
  return { ...found, tables: found.tables.map((t) => (keys[t.table] ? { ...t, primaryKey: keys[t.table]! } : t)) };
}

/** The row count in one local part file's Parquet footer. */
async function partRowCount(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const read = async (offset: number, length: number) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    };
    return await footerRowCount(read, size, file);
  } finally {
    await handle.close();
  }
}
