/**
 * Reads what an RDS export wrote (DESIGN section 6): `export_info_<id>.json` and every
 * `export_tables_info_<id>_from_<i>_to_<j>.json`, into the tables discover hands the plan.
 */
import { PortError } from '../errors';
import type { ColumnMapping, DiscoveredExport, DiscoveredTable, ExportRef } from '../model';
import type { DiscoverPort } from '../ports';
import { type ExportWarnings, tableOfTarget } from './rds';
import { joinKey, parseS3Url, type S3Objects } from './s3';

interface PerTableStatus {
  target?: string;
  status?: string;
  sizeGB?: number;
  warningMessage?: string;
  schemaMetadata?: { originalTypeMappings?: Partial<Record<keyof ColumnMapping, unknown>>[] };
}

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
    const info = await this.objects.getJson<Record<string, unknown>>({ bucket: root.bucket, key: exportInfoKey(root.key, ref.exportId) }, subject);
    if (!info) {
      throw new PortError('not-found', 'ExportInfoNotFound', `${subject} has no export_info_${ref.exportId}.json under ${ref.location}: the export is incomplete or its files were deleted; run a new sync`);
    }
    const listed = await this.objects.listKeys(root.bucket, joinKey(root.key, `export_tables_info_${ref.exportId}_`) , subject);
    const files = listed.map((o) => o.key).filter((k) => k.endsWith('.json')).sort(byFromIndex);
    if (files.length === 0) {
      throw new PortError('not-found', 'ExportTablesInfoNotFound', `${subject} has no export_tables_info_${ref.exportId}_*.json under ${ref.location}: the export is incomplete; run a new sync`);
    }
    const entries: PerTableStatus[] = [];
    for (const key of files) {
      const doc = await this.objects.getJson<{ perTableStatus?: PerTableStatus[] }>({ bucket: root.bucket, key }, subject);
      entries.push(...(doc?.perTableStatus ?? []));
    }
    const found = summarise(entries, this.database);
    return this.taskWarnings ? withTaskWarnings(found, await this.taskWarnings(ref.exportId)) : found;
  }

  async exportAvailable(ref: ExportRef): Promise<boolean> {
    const root = parseS3Url(ref.location);
    return this.objects.exists({ bucket: root.bucket, key: exportInfoKey(root.key, ref.exportId) }, `export ${ref.exportId}`);
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

function exportInfoKey(rootKey: string, exportId: string): string {
  return joinKey(rootKey, `export_info_${exportId}.json`);
}

/** Orders `..._from_<i>_to_<j>.json` files by i, so tables keep the export's order. */
function byFromIndex(a: string, b: string): number {
  const from = (k: string) => Number(/_from_(\d+)_to_/.exec(k)?.[1] ?? 0);
  return from(a) - from(b) || a.localeCompare(b);
}

export function summarise(entries: PerTableStatus[], configuredDatabase: string): DiscoveredExport {
  const tables = new Map<string, DiscoveredTable>();
  const skipped: { table: string; reason: string }[] = [];
  const warnings: string[] = [];
  let database: string | undefined;
  for (const entry of entries) {
    const target = entry.target ?? '';
    const parts = target.split('.');
    if (parts.length < 3) {
      // Database-level entries carry only the target and a warning.
      if (entry.warningMessage) warnings.push(`${target || 'export'}: ${entry.warningMessage}`);
      continue;
    }
    database ??= parts[0];
    const table = tableOfTarget(target, parts[0]!);
    const status = (entry.status ?? 'UNKNOWN').toUpperCase();
    if (status !== 'COMPLETE') {
      skipped.push({ table, reason: `export status ${status}${entry.warningMessage ? `: ${entry.warningMessage}` : ''}` });
      continue;
    }
    if (entry.warningMessage) warnings.push(`${table}: ${entry.warningMessage}`);
    tables.set(table, {
      table,
      target,
      ...(typeof entry.sizeGB === 'number' ? { sizeGB: entry.sizeGB } : {}),
      columns: (entry.schemaMetadata?.originalTypeMappings ?? []).map(columnMapping),
    });
  }
  return { database: database ?? configuredDatabase, tables: [...tables.values()], skipped, warnings };
}

function columnMapping(m: Partial<Record<keyof ColumnMapping, unknown>>): ColumnMapping {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const charMax = num(m.originalCharMaxLength);
  const precision = num(m.originalNumPrecision);
  const dtPrecision = num(m.originalDateTimePrecision);
  return {
    columnName: String(m.columnName ?? ''),
    originalType: String(m.originalType ?? ''),
    expectedExportedType: String(m.expectedExportedType ?? ''),
    ...(charMax !== undefined ? { originalCharMaxLength: charMax } : {}),
    ...(precision !== undefined ? { originalNumPrecision: precision } : {}),
    ...(dtPrecision !== undefined ? { originalDateTimePrecision: dtPrecision } : {}),
  };
}
