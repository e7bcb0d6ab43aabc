/** What the exporter does with each table of its scope, whichever way it reads them. */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { partitionsExcludedReason } from '../../export-scope';
import type { TableName } from '../../model';
import type { CatalogTable } from '../source/catalog';
import type { ExportOptions } from './exporter';
import { type TableStatusEntry, tableDataDir } from './layout';
import type { PartsWritten, PartWriterOptions } from './parts';
import { type ColumnExport, columnExport, quoteIdent, skipReason, typeMapping } from './types';

const GB = 1024 ** 3;

export const EXPORT_DEFAULTS = { rowsPerPart: 250_000, rowGroupSize: 10_000, fetchRows: 5_000 };

/** A table the export writes. */
export interface TablePlan {
  /** Its position in the catalog: entries are listed in this order. */
  position: number;
  table: CatalogTable;
  /** `db.schema.table`. */
  target: string;
  columns: ColumnExport[];
  /** `[ONLY] <table>`: what the reads of the table select from. */
  from: string;
  /** `SELECT <columns as text> FROM [ONLY] <table>`. */
  select: string;
  /** The same rows for COPY: each column in its output form (see ColumnExport.copyExpression). */
  copySelect: string;
}

export type TableDecision = { plan: TablePlan } | { skipped: { table: TableName; reason: string }; entry: TableStatusEntry };

export function planTable(table: CatalogTable, position: number, database: string, excludedBy?: (table: TableName) => string | undefined): TableDecision {
  const target = `${database}.${table.table}`;
  const columns = table.columns.map(columnExport).filter((c): c is ColumnExport => c !== undefined);
  const reason =
    sameNameReason(table) ?? mistakenSchemaReason(table) ?? unloggedReason(table) ?? foreignPartitionReason(table) ?? excludedPartitionReason(table, excludedBy) ?? unreadableReason(table) ?? skipReason(table.table, table.columns) ?? (columns.length === 0 ? 'the table has no exportable column' : undefined);
  if (reason) return { skipped: { table: table.table, reason }, entry: { target, status: 'SKIPPED', warningMessage: reason } };
  // A table's own rows, as pg_dump reads them: the rows of a table inheriting from it belong to that
  // table (exported as itself, or excluded). A partitioned table's rows are those of its partitions.
  const from = `${table.partitioned ? '' : 'ONLY '}${quoted(table)}`;
  const select = `SELECT ${columns.map((c) => c.selectExpression).join(', ')} FROM ${from}`;
  const copySelect = `SELECT ${columns.map((c) => c.copyExpression).join(', ')} FROM ${from}`;
  return { plan: { position, table, target, columns, from, select, copySelect } };
}

function sameNameReason(table: CatalogTable): string | undefined {
  if (!table.sameNameAs?.length) return undefined;
  const self = `schema ${JSON.stringify(table.schema)} table ${JSON.stringify(table.name)}`;
  return `${self} and ${table.sameNameAs.join(' and ')} are all named ${table.table}, so neither is exported: rename one of them (a dot in a schema or table name)`;
}

function mistakenSchemaReason(table: CatalogTable): string | undefined {
  if (table.mistakenForSchema === undefined) return undefined;
  return (
    `${table.table} is table ${JSON.stringify(table.name)} of schema ${JSON.stringify(table.schema)}, but its name reads as a table of schema ${table.mistakenForSchema}, ` +
    `which the export takes whole, so it is not exported: rename the schema (a dot in a schema name)`
  );
}

/** RDS skips unlogged tables (their rows are not in a snapshot); the export does too, saying so. */
function unloggedReason(table: CatalogTable): string | undefined {
  if (!table.unlogged) return undefined;
  return `${table.table} is an unlogged table, which RDS snapshot exports skip, so it is not exported: ALTER TABLE ${sqlName(table.schema)}.${sqlName(table.name)} SET LOGGED to sync it, or exclude the table`;
}

/**
 * A foreign table's rows are on another server: an RDS snapshot holds none of them, so an RDS export
 * of a partitioned table with a foreign partition would lack that partition's rows, while a read of
 * the table here would hold them. The table is not exported, saying why, rather than load differently.
 */
function foreignPartitionReason(table: CatalogTable): string | undefined {
  const foreign = table.foreignPartitions ?? [];
  if (foreign.length === 0) return undefined;
  const which = foreign.length === 1 ? `its partition ${foreign[0]} is a foreign table` : `its partitions ${foreign.join(', ')} are foreign tables`;
  return (
    `${which} (rows on another server), which no RDS snapshot export holds, so ${table.table} is not exported (it would be exported without those rows): ` +
    `read it directly (tables."${table.table}".extract: direct), detach the foreign partition(s), or exclude the table`
  );
}

/**
 * A partitioned table is read with the rows of all its partitions (RDS exports them in the table's
 * folder too): when an exclude rule names one of its partitions, reading the table would take that
 * partition's rows out of the database, so the table is not exported at all.
 */
function excludedPartitionReason(table: CatalogTable, excludedBy?: (table: TableName) => string | undefined): string | undefined {
  if (!excludedBy || !table.partitions?.length) return undefined;
  const excluded = table.partitions.flatMap((p) => {
    const rule = excludedBy(p);
    return rule === undefined ? [] : [`${p} is excluded (${rule})`];
  });
  return excluded.length === 0 ? undefined : partitionsExcludedReason(table.table, excluded);
}

function unreadableReason(table: CatalogTable): string | undefined {
  if (table.unreadable === undefined) return undefined;
  const user = sqlName(table.unreadable.user);
  if (table.unreadable.why === 'schema') {
    const schema = sqlName(table.schema);
    return `the source user ${user} may not use schema ${schema} (it has no USAGE privilege on it), so ${table.table} is not exported: GRANT USAGE ON SCHEMA ${schema} TO ${user}, or exclude the table`;
  }
  if (table.unreadable.why === 'row-security') {
    return `row-level security hides rows of ${table.table} from the source user ${user}, so it is not exported (it would be exported short): read it as its owner or as a user with BYPASSRLS, or exclude the table`;
  }
  return `the source user ${user} may not read ${table.table} (it has no SELECT privilege on the table), so it is not exported: GRANT SELECT ON ${sqlName(table.schema)}.${sqlName(table.name)} TO ${user}, or exclude the table`;
}

/** A name as SQL takes it: quoted only when it must be. */
function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

/** The tables of the scope the export reads (and so locks): not those the source user may not read. */
export function readableTables(tables: readonly CatalogTable[]): CatalogTable[] {
  return tables.filter((t) => t.unreadable === undefined && !t.unlogged && t.mistakenForSchema === undefined);
}

export function quoted(table: CatalogTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** The export_tables_info entry of a table written whole. */
export function completedEntry(plan: TablePlan, written: PartsWritten, extractionStartTime: string): TableStatusEntry {
  return {
    target: plan.target,
    status: 'COMPLETE',
    sizeGB: written.bytes / GB,
    tableStatistics: {
      extractionStartTime,
      extractionEndTime: new Date().toISOString(),
      partitioningInfo: { numberOfPartitions: 1, numberOfCompletedPartitions: 1 },
    },
    schemaMetadata: { originalTypeMappings: plan.columns.map(typeMapping) },
  };
}

/** The table's batch folder: its part files. */
export function batchDir(options: Pick<ExportOptions, 'outDir' | 'database'>, plan: TablePlan): string {
  return join(tableDataDir(options.outDir, options.database, plan.table.table), '1');
}

export function partOptions(options: Pick<ExportOptions, 'rowsPerPart' | 'rowGroupSize' | 'rowGroupBytes'>): PartWriterOptions {
  return {
    rowsPerPart: options.rowsPerPart ?? EXPORT_DEFAULTS.rowsPerPart,
    rowGroupSize: options.rowGroupSize ?? EXPORT_DEFAULTS.rowGroupSize,
    ...(options.rowGroupBytes !== undefined ? { rowGroupBytes: options.rowGroupBytes } : {}),
  };
}

/** Readers of a PostgreSQL export by default: one per core, at least 2 (a reader waits on the server half the time) and at most 4. */
export function defaultReaders(): number {
  return Math.min(4, Math.max(2, availableParallelism()));
}
