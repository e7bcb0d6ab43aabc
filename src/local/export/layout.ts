/**
 * The RDS snapshot export layout, inside one export's root folder:
 *   export_info_<exportId>.json
 *   export_tables_info_<exportId>_from_<i>_to_<j>.json   (one or more)
 *   <db>/<schema>.<table>/<batch>/part-<n>-<uuid>.gz.parquet
 */
import { join } from 'node:path';
import { exportPathName } from '../../export-listing';
import type { ColumnMapping } from '../../model';

export function exportInfoFile(exportRoot: string, exportId: string): string {
  return join(exportRoot, `export_info_${exportId}.json`);
}

export function tablesInfoFile(exportRoot: string, exportId: string, from: number, to: number): string {
  return join(exportRoot, `export_tables_info_${exportId}_from_${from}_to_${to}.json`);
}


/** The table's data folder, its names as RDS writes them in paths; parts go in numbered batch folders below it. */
export function tableDataDir(exportRoot: string, database: string, table: string): string {
  return join(exportRoot, exportPathName(database), exportPathName(table));
}

/** export_info_<id>.json: the export task as RDS describes it (camelCase fields). */
export interface ExportInfo {
  exportTaskIdentifier: string;
  sourceArn: string;
  exportOnly: string[];
  snapshotTime: string;
  taskStartTime: string;
  taskEndTime: string;
  s3Bucket: string;
  s3Prefix: string;
  exportedFilesPath: string;
  iamRoleArn: string;
  kmsKeyId: string;
  status: 'COMPLETE';
  percentProgress: number;
  totalExportedDataInGB: number;
  sourceType: 'SNAPSHOT';
  warningMessage?: string;
}

/** One perTableStatus entry; database-level entries carry only target and warningMessage. */
export interface TableStatusEntry {
  target: string;
  status?: 'COMPLETE' | 'FAILED' | 'SKIPPED';
  sizeGB?: number;
  warningMessage?: string;
  tableStatistics?: {
    extractionStartTime: string;
    extractionEndTime: string;
    partitioningInfo: { numberOfPartitions: number; numberOfCompletedPartitions: number };
  };
  schemaMetadata?: { originalTypeMappings: ColumnMapping[] };
}

export interface TablesInfo {
  perTableStatus: TableStatusEntry[];
}

/** How many perTableStatus entries go in one export_tables_info file. */
export const TABLES_PER_INFO_FILE = 100;
