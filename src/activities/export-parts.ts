/**
 * An export's part files must still be those it was written with when a later cycle loads from it
 * (a rerun reuses the export of the tables it loads). A part file gone since (an S3 lifecycle rule
 * expiring the export prefix, as lakesync's template sets one, or a manual delete) would load the
 * table without its rows, and a merge would delete them from the lake: such a table is not loaded.
 */
import { cycleManifestKeys, exportCycleId, exportIdFor } from '../ids';
import type { DiscoveredExport, ExportParts, ExportRef, TableName } from '../model';
import type { Ports } from '../ports';
import { findManifest } from './deps';

export interface PartsRecord {
  exportId: string;
  tables: Record<TableName, ExportParts>;
}

/**
 * The discovered export, less the tables whose part files differ from those its own cycle found
 * (they become skipped tables, which fail with the reason, and whose rerun takes a new export).
 * The export's own cycle records what it found; an export no cycle of the source recorded (taken
 * by an earlier version) is taken as it is.
 */
export async function withPartsChecked(ports: Ports, source: string, cycleId: string, ref: ExportRef, found: DiscoveredExport): Promise<DiscoveredExport> {
  if (!found.parts) return found;
  if (ref.exportId === exportIdFor(source, cycleId)) {
    await ports.manifests.put(cycleManifestKeys.exportParts(cycleId), { exportId: ref.exportId, tables: found.parts } satisfies PartsRecord);
    return found;
  }
  const ownCycle = exportCycleId(source, ref.exportId);
  const record = ownCycle === undefined ? undefined : await findManifest<PartsRecord>(ports, cycleManifestKeys.exportParts(ownCycle));
  if (!record || record.exportId !== ref.exportId) return found;
  const changed = found.tables.flatMap((t) => {
    const was = record.tables[t.table];
    const now = found.parts?.[t.table] ?? { files: 0, bytes: 0 };
    return was && (was.files !== now.files || was.bytes !== now.bytes) ? [{ table: t.table, reason: changedReason(ref.exportId, was, now) }] : [];
  });
  if (changed.length === 0) return found;
  const gone = new Set(changed.map((c) => c.table));
  return { ...found, tables: found.tables.filter((t) => !gone.has(t.table)), skipped: [...found.skipped, ...changed] };
}

/**
 * The part files of `table` that its export's discovery recorded (the export's own cycle), which
 * its load job is held to; undefined when no cycle of the source recorded them (an export taken by
 * an earlier version, or a backend that does not list them). `read` reads a cycle's record.
 */
export async function recordedParts(source: string, exportId: string, table: TableName, read: (cycleId: string) => Promise<PartsRecord | undefined>): Promise<ExportParts | undefined> {
  const ownCycle = exportCycleId(source, exportId);
  const record = ownCycle === undefined ? undefined : await read(ownCycle);
  return record?.exportId === exportId ? record.tables[table] : undefined;
}

/** Reads a cycle's record of its export's part files (undefined when it has none). */
export function partsRecordOf(ports: Ports): (cycleId: string) => Promise<PartsRecord | undefined> {
  return (cycleId) => findManifest<PartsRecord>(ports, cycleManifestKeys.exportParts(cycleId));
}

function changedReason(exportId: string, was: ExportParts, now: ExportParts): string {
  return (
    `its part files in export ${exportId} changed since the export completed (${was.files} file(s), ${was.bytes} bytes then; ${now.files} file(s), ${now.bytes} bytes now): ` +
    'an S3 lifecycle rule on the export prefix or a delete removed some, and the rows in them would be missing from the load (a merge would delete them from the lake), ' +
    'so the table is not loaded from it; a rerun of the table takes a new export (keep export files longer than a rerun may come: ExportRetentionDays)'
  );
}
