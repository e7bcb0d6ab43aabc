/**
 * An RDS source's ports with its read-only catalog (`source.catalog`): discover adds the source's
 * primary keys to the export's tables, and the export scope and `lakesync plan` list the
 * source's tables from the catalog instead of from earlier exports. Everything else is the
 * ports as they were.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DiscoveredExport, DiscoveredTable, TableName } from '../model';
import type { DiscoverPort, ExportPort, Ports } from '../ports';
import { type CatalogSettings, SourceCatalog } from './catalog';
import { clientConfig } from './clients';
import type { AwsSettings } from './settings';

/** What the ports need of the catalog. */
export interface CatalogReader {
  tables(): Promise<TableName[]>;
  primaryKeys(): Promise<Record<TableName, string[]>>;
  /**
   * Every table a SELECT reads (unlogged ones too, which an export skips), with the declared keys, in one
   * read; with `nullableOf`, also the columns of those tables that may hold NULL, where the reader knows them.
   */
  tablesWithKeys(nullableOf?: readonly TableName[]): Promise<{ tables: TableName[]; primaryKeys: Record<TableName, string[]>; nullable?: Record<TableName, string[]> }>;
  /** The partitions of each partitioned table (RDS exports them with the table). */
  partitions?(): Promise<Record<TableName, TableName[]>>;
  /** The unlogged tables (an export skips them). */
  unloggedTables?(): Promise<TableName[]>;
  /** The views, materialized views and foreign tables (no export holds them). */
  notTables?(): Promise<Record<TableName, string>>;
}

/** The catalog of `settings`, with a Secrets Manager client in the secret's own region. */
export function openSourceCatalog(settings: CatalogSettings, aws: Pick<AwsSettings, 'region' | 'endpoint'>): { catalog: SourceCatalog; close(): void } {
  if (settings.auth.kind !== 'secret') return { catalog: new SourceCatalog(settings), close: () => undefined };
  const secrets = new SecretsManagerClient(clientConfig({ ...aws, region: arnRegion(settings.auth.secretArn) ?? aws.region }));
  return { catalog: new SourceCatalog(settings, { secrets }), close: () => secrets.destroy() };
}

/**
 * `database` is the source database the catalog connects to: with it, discover also describes
 * named tables straight from the catalog (`sourceTables`), as direct loads need without an export.
 */
export function withSourceCatalog(ports: Ports, catalog: CatalogReader, closeCatalog: () => void = () => undefined, database?: string): Ports {
  const discover: DiscoverPort = {
    ...(database !== undefined ? { sourceTables: (names: TableName[]) => catalogTables(catalog, database, names) } : {}),
    discover: async (ref) => withCatalogKeys(await ports.discover.discover(ref), await catalog.primaryKeys()),
    exportAvailable: (ref) => ports.discover.exportAvailable(ref),
    exportRowCount: (ref, table) => ports.discover.exportRowCount(ref, table),
    listTables: () => catalog.tables(),
    ...(catalog.unloggedTables ? { listNotExported: catalog.unloggedTables.bind(catalog) } : {}),
  };
  const exports: ExportPort = {
    startExport: (req) => ports.export.startExport(req),
    describeExport: (exportId) => ports.export.describeExport(exportId),
    ...(ports.export.cancelExport ? { cancelExport: ports.export.cancelExport.bind(ports.export) } : {}),
    listSourceTables: () => catalog.tables(),
    ...(catalog.partitions ? { listSourcePartitions: catalog.partitions.bind(catalog) } : {}),
    ...(catalog.notTables ? { listSourceNotTables: catalog.notTables.bind(catalog) } : {}),
  };
  return {
    ...ports,
    discover,
    export: exports,
    close: async () => {
      closeCatalog();
      await ports.close?.();
    },
  };
}

/**
 * The catalog's key on every exported table that has none yet. A key naming a column the export
 * lacks (changed since the snapshot, or a column the export skipped) is not used: the table is
 * planned without it, with a warning, rather than failing its load.
 */
export function withCatalogKeys(found: DiscoveredExport, keys: Record<TableName, string[]>): DiscoveredExport {
  const warnings = [...found.warnings];
  const tables = found.tables.map((t) => {
    const key = keys[t.table];
    if (!key || key.length === 0 || (t.primaryKey?.length ?? 0) > 0) return t;
    const exported = new Set(t.columns.map((c) => c.columnName));
    const missing = t.columns.length > 0 ? key.filter((column) => !exported.has(column)) : [];
    if (missing.length > 0) {
      warnings.push(
        `${t.table}: the source catalog's primary key (${key.join(', ')}) names column(s) the export lacks (${missing.join(', ')}): planned without a key; set tables."${t.table}".primaryKey`,
      );
      return t;
    }
    return { ...t, primaryKey: [...key] };
  });
  return { ...found, tables, warnings };
}

/**
 * The named tables the catalog lists, with the keys it declares and the columns that may hold NULL
 * (a direct table's cursor column among them is warned of); tables it lacks are left out.
 * Unlogged tables are among them: an export skips them, but a direct read (a SELECT) reads them.
 * Columns stay empty: the catalog reads names, keys and nullability only, and the job maps the
 * columns itself when it reads a table directly.
 */
export async function catalogTables(catalog: CatalogReader, database: string, names: readonly TableName[]): Promise<DiscoveredTable[]> {
  const { tables, primaryKeys: keys, nullable = {} } = await catalog.tablesWithKeys(names);
  const present = new Set(tables);
  return names
    .filter((table) => present.has(table))
    .map((table) => {
      const key = keys[table];
      const maybeNull = nullable[table];
      return {
        table,
        target: `${database}.${table}`,
        columns: [],
        ...(key && key.length > 0 ? { primaryKey: [...key] } : {}),
        ...(maybeNull && maybeNull.length > 0 ? { nullable: [...maybeNull] } : {}),
      };
    });
}

function arnRegion(arn: string): string | undefined {
  return arn.split(':')[3] || undefined;
}
