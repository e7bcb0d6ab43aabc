/** Plan entries for tests: every decision of a real plan, with the defaults a plan would take. */
import type { PlanEntry } from '../../src/model';

export function planEntry(entry: Pick<PlanEntry, 'table' | 'lakeTable' | 'action'> & Partial<PlanEntry>): PlanEntry {
  const primaryKey = entry.primaryKey ?? [];
  return {
    reason: 'test',
    keySource: primaryKey.length > 0 ? 'source' : 'none',
    maxDeleteFraction: 0.5,
    approveDeletes: false,
    allowOlderExport: false,
    ...entry,
    primaryKey,
  };
}
