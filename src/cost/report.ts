/**
 * The cost report of a source (`lakesync cost`), from its workflow's state: per cycle the totals
 * its summary keeps, per table the last cycle's figures and each table's last commit. Pure, so
 * the command and its tests share it.
 */
import type { CostBasis, CostTotals, TableCost, TableName } from '../model';
import type { SourceStatus } from '../workflows/messages';

export interface CycleCostRow {
  cycleId: string;
  kind: 'sync' | 'rerun';
  status: string;
  finishedAt: string;
  /** Absent for a cycle that recorded none (before the cost ledger, or no load ran). */
  cost?: CostTotals;
}

export interface TableCostRow {
  table: TableName;
  status: string;
  cost?: TableCost;
}

export interface CostReport {
  source: string;
  /** Newest first. */
  cycles: CycleCostRow[];
  /** The sums over `cycles`; absent when none has a cost. */
  total?: CostTotals;
  /** The newest cycle, per table. */
  lastCycle?: { cycleId: string; tables: TableCostRow[] };
  /** Per table, the cost of the load its watermark records. */
  lastCommits: Record<TableName, TableCost>;
}

export function costReport(status: SourceStatus, cycles: number): CostReport {
  const rows: CycleCostRow[] = status.recentCycles.slice(0, cycles).map((c) => ({
    cycleId: c.cycleId,
    kind: c.kind,
    status: c.status,
    finishedAt: c.finishedAt,
    ...(c.cost ? { cost: c.cost } : {}),
  }));
  const total = sumTotals(rows.flatMap((r) => (r.cost ? [r.cost] : [])));
  const last = status.lastCycle;
  const lastCommits = Object.fromEntries(
    Object.entries(status.ledger)
      .filter(([, w]) => w.cost !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([table, w]) => [table, w.cost!]),
  );
  return {
    source: status.source,
    cycles: rows,
    ...(total ? { total } : {}),
    ...(last ? { lastCycle: { cycleId: last.cycleId, tables: last.tables.map((t) => ({ table: t.table, status: t.status, ...(t.cost ? { cost: t.cost } : {}) })) } } : {}),
    lastCommits,
  };
}

/** Sums cycle totals (their table counts too); undefined for none. */
export function sumTotals(totals: CostTotals[]): CostTotals | undefined {
  if (totals.length === 0) return undefined;
  const sum = (pick: (c: CostTotals) => number | undefined, digits: number): number | undefined => {
    const values = totals.map(pick).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : round(values.reduce((a, b) => a + b, 0), digits);
  };
  const fields = {
    dpuSeconds: sum((c) => c.dpuSeconds, 3),
    glueUsd: sum((c) => c.glueUsd, 6),
    exportGB: sum((c) => c.exportGB, 6),
    exportUsd: sum((c) => c.exportUsd, 6),
    usd: sum((c) => c.usd, 6),
  };
  const partial = totals.reduce((n, t) => n + (t.partial ?? 0), 0);
  return {
    basis: strongest(totals.map((t) => t.basis)),
    tables: totals.reduce((n, t) => n + t.tables, 0),
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
    ...(partial > 0 ? { partial } : {}),
  };
}

function strongest(bases: CostBasis[]): CostBasis {
  if (bases.includes('glue')) return 'glue';
  return bases.includes('modelled') ? 'modelled' : 'none';
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** `$0.0147`, `$12.34` (half up: 1.005 is $1.01); empty for an absent figure. */
export function usdText(v: number | undefined): string {
  if (v === undefined) return '';
  // toPrecision drops the binary noise (1.005 * 100 = 100.49999...) before rounding.
  const rounded = (digits: number) => Math.round(Number((v * 10 ** digits).toPrecision(12))) / 10 ** digits;
  // Decided on the amount as shown: 0.99996 rounds to a dollar, so it reads $1.00, not $1.0000.
  const digits = rounded(4) >= 1 ? 2 : 4;
  return `$${rounded(digits).toFixed(digits)}`;
}

export function numberText(v: number | undefined, digits = 1): string {
  if (v === undefined) return '';
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** What a basis means, for the reader of a report. */
export const BASIS_NOTE: Record<CostBasis, string> = {
  glue: "Glue's DPU-seconds and the export services' sizes, at the configured prices",
  modelled: "the backend's modelled figures (no AWS bill), at the configured prices",
  none: 'embedded mode: no Glue run and no export bill, nothing priced',
};

/** One line of a cost: `120 DPU-s $0.0147, export 1.5 GB $0.0150 = $0.0297 (modelled)`. */
export function costText(c: TableCost | CostTotals): string {
  const parts: string[] = [];
  if (c.dpuSeconds !== undefined) parts.push(`${numberText(c.dpuSeconds)} DPU-s${c.glueUsd !== undefined ? ` ${usdText(c.glueUsd)}` : ''}`);
  if (c.exportGB !== undefined) parts.push(`export ${numberText(c.exportGB, 3)} GB${c.exportUsd !== undefined ? ` ${usdText(c.exportUsd)}` : ''}`);
  const total = 'usd' in c ? c.usd : c.glueUsd !== undefined || c.exportUsd !== undefined ? round((c.glueUsd ?? 0) + (c.exportUsd ?? 0), 6) : undefined;
  const body = parts.length > 0 ? parts.join(', ') : 'no figures';
  const partial = typeof c.partial === 'string' ? `; at least: ${c.partial}` : c.partial ? `; at least: ${c.partial} partial figure(s)` : '';
  return `${body}${total !== undefined && parts.length > 0 ? ` = ${usdText(total)}` : ''} (${c.basis}${partial})`;
}
