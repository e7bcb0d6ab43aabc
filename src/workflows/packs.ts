/**
 * How a batch groups its small tables into packs (several tables loaded by one run). Pure and
 * deterministic: the same items and settings always give the same packs and pack tokens.
 */
import { packTokenFor } from '../ids';
import type { LoadItem, PackingSettings } from '../model';

/** What a batch runs: one table in a run of its own, or a pack of tables sharing one run. */
export type LoadUnit = { kind: 'alone'; item: LoadItem } | { kind: 'pack'; token: string; items: LoadItem[] };

/** Only RDS-export loads of a known size at most the threshold, not pinned to their own run. */
export function packable(item: LoadItem, packing: PackingSettings): boolean {
  return item.extract === undefined && !item.pinned && item.sizeGB !== undefined && item.sizeGB <= packing.thresholdGB;
}

/**
 * How far a pack's summed gigabytes may pass `maxGB` and still fit: a byte, so that sizes whose sum
 * is `maxGB` fit whatever their binary rounding (0.1 + 0.1 + 0.1 is 0.30000000000000004).
 */
export const PACK_GB_ROUNDING = 1e-9;

/**
 * The batch's units in input order: packable items fill a pack until the next would pass
 * `maxTables` or `maxGB`; a pack is placed where its first table was. A pack of one is a run of its own.
 * `roundedSums` false is the grouping of batches before PACK_GB_ROUNDING (a sum a rounding past `maxGB` did not fit).
 */
export function loadUnits(cycleId: string, items: LoadItem[], packing: PackingSettings | undefined, roundedSums = true): LoadUnit[] {
  if (!packing) return items.map((item) => ({ kind: 'alone', item }));
  const units: (LoadUnit | LoadItem[])[] = [];
  let open: LoadItem[] | undefined;
  let openGB = 0;
  for (const item of items) {
    if (!packable(item, packing)) {
      units.push({ kind: 'alone', item });
      continue;
    }
    const gb = item.sizeGB ?? 0;
    if (!open || open.length >= packing.maxTables || openGB + gb > packing.maxGB + (roundedSums ? PACK_GB_ROUNDING : 0)) {
      open = [];
      openGB = 0;
      units.push(open);
    }
    open.push(item);
    openGB += gb;
  }
  return units.map((u): LoadUnit => {
    if (!Array.isArray(u)) return u;
    if (u.length === 1) return { kind: 'alone', item: u[0]! };
    return { kind: 'pack', token: packTokenFor(cycleId, u.map((i) => i.table)), items: u };
  });
}

/** Whether two groupings of one batch are the same units (the same packs, by token). */
export function sameUnits(a: LoadUnit[], b: LoadUnit[]): boolean {
  const key = (u: LoadUnit) => (u.kind === 'pack' ? `pack:${u.token}` : `alone:${u.item.table}`);
  return a.length === b.length && a.every((u, i) => key(u) === key(b[i]!));
}
