/** The per-table summary the demo prints after each cycle. */
import type { CycleResult, TableOutcome } from '../model';
import type { TableComparison } from './compare';

export interface TableLine {
  table: string;
  action: string;
  status: string;
  inserted?: number;
  updated?: number;
  deleted?: number;
  verified?: boolean;
  lakeEqualsSource?: boolean;
  seconds?: number;
  note?: string;
}

export function tableLines(result: CycleResult, comparisons: TableComparison[]): TableLine[] {
  const byTable = new Map(comparisons.map((c) => [c.table, c]));
  return [...result.tables].sort((a, b) => a.table.localeCompare(b.table)).map((t) => line(t, byTable.get(t.table)));
}

function line(t: TableOutcome, comparison: TableComparison | undefined): TableLine {
  const seconds = t.startedAt && t.finishedAt ? (Date.parse(t.finishedAt) - Date.parse(t.startedAt)) / 1000 : undefined;
  return {
    table: t.table,
    action: t.load?.action ?? t.action,
    status: t.status,
    ...(t.load && !t.load.changesUnknown ? { inserted: t.load.inserted, updated: t.load.updated, deleted: t.load.deleted } : {}),
    ...(t.verified !== undefined ? { verified: t.verified } : {}),
    ...(comparison ? { lakeEqualsSource: comparison.equal } : {}),
    ...(seconds !== undefined ? { seconds } : {}),
    ...(t.error ? { note: `${t.error.type}: ${t.error.message}` } : t.reason ? { note: t.reason } : {}),
  };
}

/** The plan's reason for tables a rerun leaves alone; not worth a line each. */
const NOT_REQUESTED = 'not requested in this cycle';
const yesNo = (v: boolean | undefined) => (v === undefined ? '-' : v ? 'yes' : 'NO');
const num = (v: number | undefined) => (v === undefined ? '-' : String(v));

export function formatLines(lines: TableLine[]): string[] {
  const header = ['TABLE', 'ACTION', 'STATUS', 'INSERTED', 'UPDATED', 'DELETED', 'VERIFIED', 'LAKE=SOURCE', 'TIME'];
  const rows = lines.map((l) => [l.table, l.action, l.status, num(l.inserted), num(l.updated), num(l.deleted), yesNo(l.verified), yesNo(l.lakeEqualsSource), l.seconds === undefined ? '-' : `${l.seconds.toFixed(1)} s`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const pad = (cells: string[]) => cells.map((c, i) => (i >= 3 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [pad(header), ...rows.map(pad)];
  for (const l of lines) if (l.note && l.note !== NOT_REQUESTED) out.push(`  ${l.table}: ${l.note}`);
  return out;
}
