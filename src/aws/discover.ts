/**
 * DiscoverPort on S3: lists and reads the files an RDS export wrote under its root;
 * export-listing turns them into the tables discover hands the plan.
 */
import {
  type ExportInfoDocument,
  exportInfoName,
  exportPathName,
  isTablesInfoFile,
  missingExportInfo,
  missingTablesInfo,
  readExportListing,
  type TablesInfoDocument,
  type TablesInfoFile,
  tablesInfoPrefix,
} from '../export-listing';
import { footerRowCount, isTablePart, partsOf, sumRows, tableDataPath, withTail } from '../export-rows';
import type { DiscoveredExport, ExportParts, ExportRef, TableName } from '../model';
import type { DiscoverPort } from '../ports';
import type { ExportWarnings } from './export-warnings';
import { joinKey, parseS3Url, s3Url, type S3Objects } from './s3';

export class ExportDiscovery implements DiscoverPort {
  constructor(
    private readonly objects: S3Objects,
    private readonly database: string,
    /** The export task's WarningMessage (skipped tables, warnings), when the backend has one. */
    private readonly taskWarnings?: (exportId: string) => Promise<ExportWarnings>,
  ) {}

  async discover(ref: ExportRef): Promise<DiscoveredExport> {
    const root = parseS3Url(ref.location);
    const subject = `export ${ref.exportId}`;
    const info = await this.objects.getJson<ExportInfoDocument>({ bucket: root.bucket, key: joinKey(root.key, exportInfoName(ref.exportId)) }, subject);
    if (!info) throw missingExportInfo(ref.exportId, ref.location);
    const listed = await this.objects.listKeys(root.bucket, joinKey(root.key, tablesInfoPrefix(ref.exportId)), subject);
    const keys = listed.map((o) => o.key).filter((key) => isTablesInfoFile(key, ref.exportId));
    if (keys.length === 0) throw missingTablesInfo(ref.exportId, ref.location);
    const tablesInfo: TablesInfoFile[] = [];
    for (const key of keys) tablesInfo.push({ name: key, document: await this.objects.getJson<TablesInfoDocument>({ bucket: root.bucket, key }, subject) });
    const dataFolders = await this.dataFolders(root.bucket, root.key, subject);
    const tables = readExportListing({ exportId: ref.exportId, database: this.database, info, tablesInfo, dataFolders: new Set(dataFolders.keys()) });
    const found = { ...tables, parts: partsOf(tables, (table) => dataFolders.get(tableDataPath(this.database, table))) };
    return this.taskWarnings ? withTaskWarnings(found, await this.taskWarnings(ref.exportId)) : found;
  }

  /**
   * The table folders (`<db>/<schema>.<table>`) holding at least one part file, with their files and
   * bytes, from one paginated listing of the database's folder, so that a table whose files are
   * missing is not loaded as empty.
   */
  private async dataFolders(bucket: string, rootKey: string, subject: string): Promise<Map<string, ExportParts>> {
    const base = `${joinKey(rootKey, exportPathName(this.database))}/`;
    const folders = new Map<string, ExportParts>();
    for (const { key, size } of await this.objects.listKeys(bucket, base, subject)) {
      const rest = key.slice(base.length);
      const slash = rest.indexOf('/');
      if (slash <= 0 || !isTablePart(rest.slice(slash + 1))) continue;
      const folder = `${exportPathName(this.database)}/${rest.slice(0, slash)}`;
      const parts = folders.get(folder) ?? { files: 0, bytes: 0 };
      folders.set(folder, { files: parts.files + 1, bytes: parts.bytes + size });
    }
    return folders;
  }

  /** Sums the footers of the table's part files (those the load job reads), one ranged GET per part as a rule. */
  async exportRowCount(ref: ExportRef, table: TableName): Promise<number> {
    const root = parseS3Url(ref.location);
    const subject = `the row count of ${table} in export ${ref.exportId}`;
    // Without export_info the export is gone; without part files the table is empty (RDS writes none).
    if (!(await this.exportAvailable(ref))) throw missingExportInfo(ref.exportId, ref.location);
    // The trailing slash keeps public.orders from counting public.orders_archive.
    const folder = `${joinKey(root.key, tableDataPath(this.database, table))}/`;
    const parts = (await this.objects.listKeys(root.bucket, folder, subject)).filter((o) => isTablePart(o.key.slice(folder.length)));
    return sumRows(parts, (part) => {
      const loc = { bucket: root.bucket, key: part.key };
      const read = (offset: number, length: number) => this.objects.getRange(loc, offset, length, subject);
      return footerRowCount(withTail(read, part.size), part.size, s3Url(loc.bucket, loc.key));
    });
  }

  async exportAvailable(ref: ExportRef): Promise<boolean> {
    const root = parseS3Url(ref.location);
    return this.objects.exists({ bucket: root.bucket, key: joinKey(root.key, exportInfoName(ref.exportId)) }, `export ${ref.exportId}`);
  }
}

/** Tables the task reports as skipped become skipped outcomes too (once), and leave the loaded list. */
export function withTaskWarnings(found: DiscoveredExport, task: ExportWarnings): DiscoveredExport {
  const skippedNames = new Set(task.skippedTables.map((s) => s.table));
  const known = new Set(found.skipped.map((s) => s.table));
  return {
    ...found,
    tables: found.tables.filter((t) => !skippedNames.has(t.table)),
    skipped: [...found.skipped, ...task.skippedTables.filter((s) => !known.has(s.table))],
    warnings: [...found.warnings, ...task.warnings.filter((w) => !found.warnings.includes(w))],
  };
}
