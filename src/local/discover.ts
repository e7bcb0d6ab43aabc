/**
 * DiscoverPort of the embedded mode: reads an export exactly as the AWS adapter reads S3:
 * export_info, every export_tables_info file, COMPLETE tables kept, the rest reported as skipped.
 * Primary keys come from the catalog record the export took at its snapshot.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PortError } from '../errors';
import type { DiscoveredExport, DiscoveredTable, ExportRef } from '../model';
import type { DiscoverPort } from '../ports';
import { exportInfoFile, type ExportInfo, TABLES_INFO_PATTERN, type TablesInfo } from './export/layout';
import { readJsonIfExists } from './files';
import type { WorkDirLayout } from './paths';

/** Primary keys per `schema.table`, as the source declared them when the export ran. */
export type CatalogRecord = { primaryKeys: Record<string, string[]> };

export function catalogRecordFile(layout: WorkDirLayout, exportId: string): string {
  return join(layout.catalog, `${exportId}.json`);
}

/** `db.schema.table` -> [db, `schema.table`]; undefined for a database-level target. */
function splitTarget(target: string): [string, string] | undefined {
  const first = target.indexOf('.');
  if (first <= 0 || target.indexOf('.', first + 1) === -1) return undefined;
  return [target.slice(0, first), target.slice(first + 1)];
}

export function createDiscoverPort(layout: WorkDirLayout, database: string): DiscoverPort {
  return {
    async exportAvailable(ref: ExportRef) {
      return existsSync(exportInfoFile(ref.location, ref.exportId));
    },

    async discover(ref: ExportRef): Promise<DiscoveredExport> {
      const info = readJsonIfExists<ExportInfo>(exportInfoFile(ref.location, ref.exportId));
      if (!info) throw new PortError('not-found', 'ExportNotFound', `export ${ref.exportId} has no export_info file in ${ref.location}: it did not complete or was removed; run a new sync`);
      const infoFiles = readdirSync(ref.location).filter((f) => TABLES_INFO_PATTERN.exec(f)?.[1] === ref.exportId).sort();
      if (infoFiles.length === 0) throw new PortError('not-found', 'ExportNotFound', `export ${ref.exportId} has no export_tables_info files in ${ref.location}; run a new sync`);
      const keys = readJsonIfExists<CatalogRecord>(catalogRecordFile(layout, ref.exportId))?.primaryKeys ?? {};

      const found: DiscoveredExport = { database, tables: [], skipped: [], warnings: [] };
      for (const file of infoFiles) {
        for (const entry of readJsonIfExists<TablesInfo>(join(ref.location, file))?.perTableStatus ?? []) {
          const parts = splitTarget(entry.target);
          if (!parts) {
            if (entry.warningMessage) found.warnings.push(`${entry.target}: ${entry.warningMessage}`);
            continue;
          }
          const [db, table] = parts;
          if (entry.status !== 'COMPLETE' || !entry.schemaMetadata) {
            found.skipped.push({ table, reason: entry.warningMessage ?? `the export reports status ${entry.status ?? 'unknown'}` });
            continue;
          }
          const discovered: DiscoveredTable = {
            table,
            target: entry.target,
            ...(entry.sizeGB !== undefined ? { sizeGB: entry.sizeGB } : {}),
            columns: entry.schemaMetadata.originalTypeMappings,
            ...(keys[table] ? { primaryKey: keys[table] } : {}),
          };
          found.database = db;
          found.tables.push(discovered);
        }
      }
      if (info.warningMessage) found.warnings.push(`export ${ref.exportId}: ${info.warningMessage}`);
      return found;
    },
  };
}
