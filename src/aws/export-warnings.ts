/**
 * The WarningMessage of an RDS export task. RDS puts a JSON document there when an export
 * completes with warnings, e.g. `{"skippedTables": [...], ...}`; older exports give plain text.
 * Skipped tables become table outcomes, everything else a warning.
 */
import { SKIPPED_REMEDY, splitTarget } from '../export-listing';
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
      const others: string[] = [];
      for (const entry of value) {
        const skipped = skippedEntry(entry, database);
        if ('otherDatabase' in skipped) others.push(`${skipped.target} (a table of database ${skipped.otherDatabase}, not of the source's database ${database}: not loaded)`);
        else skippedTables.push(skipped);
      }
      if (others.length > 0) warnings.push(`skippedTables: ${others.join(', ')}`);
    } else if (value !== null && value !== undefined && value !== '') {
      warnings.push(`${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return { skippedTables, warnings };
}

/**
 * One skippedTables entry: a table of the source, or one of another database (an export without
 * ExportOnly holds every database of the snapshot), which names no table of the source.
 */
function skippedEntry(entry: unknown, database: string): { table: TableName; reason: string } | { target: string; otherDatabase: string } {
  const e = (typeof entry === 'string' ? { target: entry } : (entry ?? {})) as Record<string, unknown>;
  const target = String(e.target ?? e.table ?? e.tableName ?? e.name ?? 'unknown');
  const reason = String(e.reason ?? e.warningMessage ?? e.message ?? 'skipped by the RDS export');
  const split = splitTarget(target, database);
  if (split && split.database !== database) return { target, otherDatabase: split.database };
  return { table: split?.table ?? target, reason: `${reason}${SKIPPED_REMEDY}` };
}
