/**
 * Reads the listing an RDS snapshot export writes at its root (DESIGN section 6):
 *   export_info_<exportId>.json
 *   export_tables_info_<exportId>_from_<i>_to_<j>.json   (one or more)
 * into the tables discover hands the plan. Pure: the adapters list and read the files
 * (S3 or a local folder) and hand the parsed documents over, so both read an export alike.
 */
import { PortError } from './errors';
import type { ColumnMapping, DiscoveredExport, DiscoveredTable, TableName } from './model';

/** export_info_<exportId>.json, as far as discover uses it. */
export interface ExportInfoDocument {
  warningMessage?: unknown;
}

/** export_tables_info_<exportId>_from_<i>_to_<j>.json, as far as discover uses it. */
export interface TablesInfoDocument {
  perTableStatus?: unknown;
}

/** One tables-info file: its name (a key or path; only the last segment counts) and its parsed content. */
export interface TablesInfoFile {
  name: string;
  /** Undefined when the file vanished between listing and reading: it adds no table. */
  document: TablesInfoDocument | undefined;
}

export interface ExportListing {
  exportId: string;
  /** The configured source database: only its tables are listed. */
  database: string;
  info: ExportInfoDocument;
  /** In any order; files that are not tables-info files of `exportId` are ignored. */
  tablesInfo: TablesInfoFile[];
  /**
   * The table folders (`tableFolder` values) that hold at least one data file, when the adapter
   * listed them: a table the export says has data but whose folder holds none is not loaded.
   */
  dataFolders?: ReadonlySet<string>;
}

/**
 * RDS turns these characters of the names in an export's S3 paths into `_` ("Considerations for
 * DB cluster snapshot exports" / "Exporting DB snapshot data to Amazon S3", limitations): backslash,
 * backtick, double quote and space. Nothing else is changed.
 */
const EXPORT_PATH_SUBSTITUTED = /[\\`" ]/g;

/** A database, schema or table name as it appears in the export's paths. */
export function exportPathName(name: string): string {
  return name.replace(EXPORT_PATH_SUBSTITUTED, '_');
}

/** The folder of one table's data below the export root: `<db>/<schema>.<table>`, names as RDS writes them. */
export function tableFolder(database: string, table: TableName): string {
  return `${exportPathName(database)}/${exportPathName(table)}`;
}

/**
 * What the export's entry says the table holds, when it says it holds data: its size, or a row
 * count of its tableStatistics where the export reports one. Undefined for an empty table (RDS
 * writes no file for it) and when the entry gives no figure.
 */
export function exportedData(entry: Record<string, unknown>): string | undefined {
  const sizeGB = finite(entry.sizeGB);
  if (sizeGB !== undefined && sizeGB > 0) return `${sizeGB} GB`;
  const stats = isRecord(entry.tableStatistics) ? entry.tableStatistics : {};
  for (const [key, value] of Object.entries(stats)) {
    const rows = finite(value);
    if (/rows?(count)?$/i.test(key) && rows !== undefined && rows > 0) return `${rows} rows (tableStatistics.${key})`;
  }
  return undefined;
}

/** The error of a table the export says has data but whose folder holds no data file. */
export function noDataFiles(exportId: string, table: TableName, folder: string, data: string): string {
  return (
    `export ${exportId} lists ${data} for ${table} but no Parquet file is under ${folder}/: the files were removed or moved, ` +
    'so the table is not loaded (an empty load would lose its rows); run a new sync to export it again'
  );
}

/** Why an export cannot be read, as the code and message of a not-found error. */

export function exportInfoName(exportId: string): string {
  return `export_info_${exportId}.json`;
}

/** What every tables-info file name of the export starts with (an S3 listing prefix). */
export function tablesInfoPrefix(exportId: string): string {
  return `export_tables_info_${exportId}_from_`;
}

/**
 * The `from`/`to` indexes when `name` is a tables-info file of this export, else undefined.
 * The id is matched whole, so export `ls-1` does not claim the files of `ls-10` or `ls-1_from_2_to_3`.
 */
export function tablesInfoRange(name: string, exportId: string): { from: number; to: number } | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const prefix = tablesInfoPrefix(exportId);
  if (!base.startsWith(prefix)) return undefined;
  const range = /^(\d+)_to_(\d+)\.json$/.exec(base.slice(prefix.length));
  return range ? { from: Number(range[1]), to: Number(range[2]) } : undefined;
}

export function isTablesInfoFile(name: string, exportId: string): boolean {
  return tablesInfoRange(name, exportId) !== undefined;
}

export function missingExportInfo(exportId: string, location: string): PortError {
  return new PortError('not-found', 'ExportInfoNotFound', `export ${exportId} has no ${exportInfoName(exportId)} under ${location}: ${missingMeans('export_info')}`);
}

export function missingTablesInfo(exportId: string, location: string): PortError {
  return new PortError('not-found', 'ExportTablesInfoNotFound', `export ${exportId} has no ${tablesInfoPrefix(exportId)}<i>_to_<j>.json under ${location}: ${missingMeans('export_tables_info')}`);
}

function missingMeans(kind: string): string {
  return `no ${kind} file means the export did not complete or its files were removed; run a new sync`;
}

/** `db.schema.table` -> `schema.table`; names without the database stay as they are. */
export function tableOfTarget(target: string, database: string): TableName {
  return splitTarget(target, database)?.table ?? target;
}

/**
 * The one wording for a table the export did not complete, whatever its status, and what to do:
 * a rerun reuses this export, which lacks the table, so only a new sync can bring it.
 */
function notCompleteReason(status: string, warningMessage?: string): string {
  const what = `export status ${status}${warningMessage ? `: ${warningMessage}` : ''}`;
  return status === 'SKIPPED' ? `${what}${SKIPPED_REMEDY}` : `${what}; run a new sync to export it again (a rerun reuses this export)`;
}

/** What to do about a table RDS skipped ("Considerations for DB snapshot exports", limitations). */
export const SKIPPED_REMEDY =
  '; RDS skips a table it cannot export (a column name with a space or , ; { } ( ) = tab or newline, a slash in the table name, ' +
  'an unlogged or temporary table, a row near 2 GB): fix that in the source or exclude the table, then run a new sync (a rerun reuses this export)';

/**
 * The export's tables: the perTableStatus entries of every tables-info file, in the numeric
 * order of their `from` index (the export's own table order). COMPLETE tables are kept,
 * the others skipped with their status; database-level entries and warnings become warnings.
 */
export function readExportListing(listing: ExportListing): DiscoveredExport {
  const warnings: string[] = [];
  const infoWarning = text(listing.info.warningMessage);

  const tables: DiscoveredTable[] = [];
  const skipped: { table: TableName; reason: string }[] = [];
  // An export RDS could not limit to the source's database holds every database of the snapshot:
  // the others' tables are not this source's.
  const { entries, others } = ofDatabase(orderedEntries(listing), listing.database);
  if (others.size > 0) {
    const names = [...others.keys()].sort();
    const count = [...others.values()].reduce((a, b) => a + b, 0);
    warnings.push(`export ${listing.exportId}: ${count} table(s) of other databases (${names.join(', ')}) are in the export and are not loaded; only database ${listing.database} is this source's (sources.<name>.database)`);
  }
  // A table listed twice is not loaded: two tables can share one `schema.table` text (schema "a.b"
  // table "c", schema "a" table "b.c"), and then one folder holds the rows of both.
  const repeated = repeatedTables(entries, listing.database);
  const sharing = foldersShared(entries, listing.database);
  const seen = new Set<TableName>();
  for (const entry of entries) {
    const target = text(entry.target) ?? '';
    const warning = text(entry.warningMessage);
    const split = splitTarget(target, listing.database);
    if (!split) {
      // Database-level entries carry only the target and a warning.
      if (warning) warnings.push(`${target || 'export'}: ${warning}`);
      continue;
    }
    const { table } = split;
    if (seen.has(table)) continue;
    seen.add(table);
    if (repeated.has(table)) {
      skipped.push({ table, reason: `listed ${repeated.get(table)} times in the export: two source tables are named ${table} (a dot in a schema or table name), and its folder may hold the rows of both, so it is not loaded; rename one of them in the source` });
      continue;
    }
    const others = sharing.get(tableFolder(split.database, table))?.filter((t) => t !== table) ?? [];
    if (others.length > 0) {
      skipped.push({ table, reason: sharedFolder(split.database, table, others) });
      continue;
    }
    const status = (text(entry.status) ?? 'UNKNOWN').toUpperCase();
    if (status !== 'COMPLETE') {
      skipped.push({ table, reason: notCompleteReason(status, warning) });
      continue;
    }
    // The adapter lists the configured database's folder only.
    const data = listing.dataFolders && split.database === listing.database ? exportedData(entry) : undefined;
    const folder = tableFolder(split.database, table);
    if (data && !listing.dataFolders!.has(folder)) {
      skipped.push({ table, reason: noDataFiles(listing.exportId, table, folder, data) });
      continue;
    }
    if (warning) warnings.push(`${table}: ${warning}`);
    const sizeGB = finite(entry.sizeGB);
    tables.push({ table, target, ...(sizeGB !== undefined ? { sizeGB } : {}), columns: typeMappings(entry.schemaMetadata).map(columnMapping) });
  }
  // A skipped table's reason is its outcome already: the export-level warning keeps only the rest.
  const exportWarning = infoWarning ? unreportedWarning(infoWarning, new Set(skipped.map((s) => s.table)), listing.database) : undefined;
  if (exportWarning) warnings.unshift(`export ${listing.exportId}: ${exportWarning}`);
  return { database: listing.database, tables, skipped, warnings };
}

/** The entries of `database` (and database-level ones), and how many table entries each other database has. */
function ofDatabase(entries: Record<string, unknown>[], database: string): { entries: Record<string, unknown>[]; others: Map<string, number> } {
  const others = new Map<string, number>();
  const kept = entries.filter((entry) => {
    const split = splitTarget(text(entry.target) ?? '', database);
    if (!split || split.database === database) return true;
    others.set(split.database, (others.get(split.database) ?? 0) + 1);
    return false;
  });
  return { entries: kept, others };
}

/** Tables whose `schema.table` more than one entry names, with how many do. */
function repeatedTables(entries: Record<string, unknown>[], database: string): Map<TableName, number> {
  const counts = new Map<TableName, number>();
  for (const entry of entries) {
    const table = splitTarget(text(entry.target) ?? '', database)?.table;
    if (table !== undefined) counts.set(table, (counts.get(table) ?? 0) + 1);
  }
  return new Map([...counts].filter(([, n]) => n > 1));
}

/**
 * The table folders two or more different tables are written to, with those tables: RDS writes a
 * space, quote, backtick or backslash of a name as `_`, so `"my table"` and `my_table` share one
 * folder. A table the export skipped wrote no file and shares nothing.
 */
function foldersShared(entries: Record<string, unknown>[], database: string): Map<string, TableName[]> {
  const byFolder = new Map<string, TableName[]>();
  for (const entry of entries) {
    const split = splitTarget(text(entry.target) ?? '', database);
    if (!split || (text(entry.status) ?? '').toUpperCase() === 'SKIPPED') continue;
    const folder = tableFolder(split.database, split.table);
    const tables = byFolder.get(folder) ?? [];
    if (!tables.includes(split.table)) byFolder.set(folder, [...tables, split.table]);
  }
  return new Map([...byFolder].filter(([, tables]) => tables.length > 1));
}

function sharedFolder(database: string, table: TableName, others: TableName[]): string {
  return (
    `its export folder ${tableFolder(database, table)}/ also holds the rows of ${others.join(', ')} (RDS writes a space, quote, backtick or backslash of a name as _), ` +
    'so it is not loaded; rename one of the tables in the source'
  );
}

/**
 * Every perTableStatus entry of the export's files, files in numeric `from` order. The files'
 * ranges must follow one another from the first table on: a missing file, or one that vanished or
 * holds no perTableStatus list, would drop its tables unreported, so discovery fails instead.
 */
function orderedEntries(listing: ExportListing): Record<string, unknown>[] {
  const files = listing.tablesInfo
    .map((file) => ({ file, range: tablesInfoRange(file.name, listing.exportId) }))
    .filter((f): f is { file: TablesInfoFile; range: { from: number; to: number } } => f.range !== undefined)
    .sort((a, b) => a.range.from - b.range.from || a.range.to - b.range.to);
  let next = 1;
  for (const { range } of files) {
    if (range.from > next) throw incompleteTablesInfo(listing.exportId, { from: next, to: range.from - 1 }, 'is missing');
    next = Math.max(next, range.to + 1);
  }
  return files.flatMap(({ file, range }) => {
    const entries = file.document?.perTableStatus;
    if (!Array.isArray(entries)) throw incompleteTablesInfo(listing.exportId, range, file.document ? 'holds no perTableStatus list' : 'was listed but could not be read (removed meanwhile)');
    return entries.filter(isRecord);
  });
}

/** The error of a table range of the export whose tables-info file is missing or unreadable. */
function incompleteTablesInfo(exportId: string, range: { from: number; to: number }, what: string): PortError {
  const name = `${tablesInfoPrefix(exportId)}${range.from}_to_${range.to}.json`;
  return new PortError(
    'not-found',
    'ExportTablesInfoIncomplete',
    `export ${exportId}: the table list of tables ${range.from} to ${range.to} (${name}) ${what}, so those tables would be neither loaded nor reported; ` +
      `the export did not complete or its files were removed; run a new sync`,
  );
}

/**
 * `db.schema.table` -> the database and `schema.table`; undefined for a database-level target.
 * The source's database is matched whole first, so a database named `shop.v2` keeps its tables;
 * another database's name is taken up to the first dot.
 */
export function splitTarget(target: string, database: string): { database: string; table: TableName } | undefined {
  const own = target.startsWith(`${database}.`) ? target.slice(database.length + 1) : undefined;
  if (own !== undefined && own.indexOf('.') > 0) return { database, table: own };
  const parts = target.split('.');
  if (parts.length < 3 || !parts[0]) return undefined;
  return { database: parts[0], table: parts.slice(1).join('.') };
}

function typeMappings(schemaMetadata: unknown): Record<string, unknown>[] {
  const mappings = isRecord(schemaMetadata) ? schemaMetadata.originalTypeMappings : undefined;
  return Array.isArray(mappings) ? mappings.filter(isRecord) : [];
}

/** Keeps the numeric fields only when they are numbers: the load job trusts them. */
function columnMapping(m: Partial<Record<keyof ColumnMapping, unknown>>): ColumnMapping {
  const charMax = finite(m.originalCharMaxLength);
  const precision = finite(m.originalNumPrecision);
  const scale = finite(m.originalNumScale);
  const dtPrecision = finite(m.originalDateTimePrecision);
  return {
    columnName: String(m.columnName ?? ''),
    originalType: String(m.originalType ?? ''),
    expectedExportedType: String(m.expectedExportedType ?? ''),
    ...(charMax !== undefined ? { originalCharMaxLength: charMax } : {}),
    ...(precision !== undefined ? { originalNumPrecision: precision } : {}),
    ...(scale !== undefined ? { originalNumScale: scale } : {}),
    ...(dtPrecision !== undefined ? { originalDateTimePrecision: dtPrecision } : {}),
    ...(typeof m.originalUdtName === 'string' && m.originalUdtName ? { originalUdtName: m.originalUdtName } : {}),
    ...(typeof m.originalDomainName === 'string' && m.originalDomainName ? { originalDomainName: m.originalDomainName } : {}),
  };
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * An export-level warning without the skippedTables entries of tables the listing already reports
 * as skipped (with their reason); undefined when nothing is left. Plain text stays as it is.
 */
function unreportedWarning(warning: string, reported: ReadonlySet<TableName>, database: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(warning);
  } catch {
    return warning;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return warning;
  const rest: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  if (!Array.isArray(rest.skippedTables)) return warning;
  const left = rest.skippedTables.filter((entry) => {
    const target = typeof entry === 'string' ? entry : String((entry as Record<string, unknown> | null)?.table ?? (entry as Record<string, unknown> | null)?.target ?? '');
    return !reported.has(tableOfTarget(target, database));
  });
  if (left.length === rest.skippedTables.length) return warning;
  if (left.length > 0) rest.skippedTables = left;
  else delete rest.skippedTables;
  return Object.keys(rest).length > 0 ? JSON.stringify(rest) : undefined;
}
