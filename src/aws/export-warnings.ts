/**
 * The WarningMessage of an RDS export task. RDS puts a JSON document there when an export
 * completes with warnings, e.g. `{"skippedTables": [...], ...}`; older exports give plain text.
 * Skipped tables become table outcomes, everything else a warning.
 */
import { tableOfTarget } from '../export-listing';
import type { TableName } from '../model';

export interface ExportWarnings {
  skippedTables: { table: TableName; reason: string }[];
  warnings: string[];
}

export function parseExportWarning(message: string | undefined, database: string): ExportWarnings {
  const text = message?.trim();
  if (!text) return { skippedTables: [], warnings: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { skippedTables: [], warnings: [text] };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { skippedTables: [], warnings: [text] };
  const skippedTables: { table: TableName; reason: string }[] = [];
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'skippedTables' && Array.isArray(value)) {
      for (const entry of value) skippedTables.push(skippedEntry(entry, database));
    } else if (value !== null && value !== undefined && value !== '') {
      warnings.push(`${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return { skippedTables, warnings };
}

function skippedEntry(entry: unknown, database: string): { table: TableName; reason: string } {
  if (typeof entry === 'string') return { table: tableOfTarget(entry, database), reason: 'skipped by the RDS export' };
  const e = (entry ?? {}) as Record<string, unknown>;
  const target = String(e.target ?? e.table ?? e.tableName ?? e.name ?? 'unknown');
  const reason = String(e.reason ?? e.warningMessage ?? e.message ?? 'skipped by the RDS export');
  return { table: tableOfTarget(target, database), reason };
}
