/**
 * What the metrics say about one source, derived from its durable state: the source workflow's
 * status (ledger, failed tables, last cycle) and the results of its finished cycle workflows.
 * Pure functions over plain objects, so the values are testable without a server.
 */
import { costTotals } from '../cost/ledger';
import type { CostTotals, CycleResult, CycleStatus, TableName, Watermark } from '../model';
import type { CycleSummary, SourceStatus } from '../workflows/messages';

export interface RowCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

export interface TableMetrics {
  table: TableName;
  lakeTable: string;
  failed: boolean;
  /** Rows its last committed load changed; absent when no readable cycle result holds that load. */
  lastLoad?: RowCounts;
  /** Seconds from the snapshot of its last commit (a direct load: its end) to now; absent before its first commit. */
  freshnessLagSeconds?: number;
  /** Rows in the lake table after its last committed load. */
  rowCount?: number;
  /** Unix seconds of its last committed load. */
  loadedAt?: number;
}

export interface CycleMetrics {
  cycleId: string;
  kind: 'sync' | 'rerun';
  status: CycleStatus;
  durationSeconds: number;
  finishedAt: number;
  tables: { committed: number; failed: number; skipped: number };
  /** Seconds the cycle's tables spent in their load, grant and verify steps, summed; absent when the cycle result is not readable. */
  tableSeconds?: number;
  /** DPU-seconds of the cycle's load runs (its cost ledger, see `cycleDpuSeconds`); absent when no run reported any. */
  dpuSeconds?: number;
  /** Whether the cycle's cost figures (its DPU-seconds among them) are a lower bound: some run or export was billed whose figure is not known; absent when the cycle has no cost. */
  costPartial?: boolean;
}

export interface SourceMetrics {
  source: string;
  running: boolean;
  /** Seconds the running cycle has run so far. */
  runningSeconds?: number;
  queued: number;
  tables: TableMetrics[];
  lastCycle?: CycleMetrics;
}

export interface MetricInputs {
  /** The lake table a source table loads into (from the config). */
  lakeTableOf(table: TableName): string;
  /** Whether the current config still syncs the table (include/exclude rules); absent: every table. */
  selected?(table: TableName): boolean;
  /** A finished cycle workflow's result, when it has been read. */
  cycleResult(workflowId: string): CycleResult | undefined;
  now: number;
}

export function sourceMetrics(status: SourceStatus, inputs: MetricInputs): SourceMetrics {
  const tables = reportedTables(status, inputs.selected);
  const lastResult = status.lastCycle ? readableResult(inputs.cycleResult(status.lastCycle.workflowId)) : undefined;
  const startedAt = status.currentCycle ? Date.parse(status.currentCycle.startedAt) : Number.NaN;
  return {
    source: status.source,
    running: status.phase === 'running',
    ...(Number.isNaN(startedAt) ? {} : { runningSeconds: Math.max(0, (inputs.now - startedAt) / 1000) }),
    queued: status.queue.length,
    tables: tables.map((table) => tableMetrics(status, table, inputs)),
    ...(status.lastCycle ? { lastCycle: cycleMetrics(status.lastCycle, lastResult) } : {}),
  };
}

/**
 * The tables with series: the ledger's and the failed ones, less the tables the source dropped (no
 * longer exported) and those the config no longer selects. Their watermarks stay in the ledger,
 * but no load will refresh them: their freshness lag would grow, and its alert fire, forever.
 */
function reportedTables(status: SourceStatus, selected: MetricInputs['selected']): TableName[] {
  const dropped = new Set((status.droppedTables ?? []).map((d) => d.table));
  return [...new Set([...Object.keys(status.ledger), ...Object.keys(status.failed)])]
    .filter((t) => !dropped.has(t) && (selected?.(t) ?? true))
    .sort();
}

function tableMetrics(status: SourceStatus, table: TableName, inputs: MetricInputs): TableMetrics {
  const watermark = status.ledger[table];
  const lastLoad = watermark ? lastLoadCounts(status, table, watermark, inputs) : undefined;
  // A table read directly has no snapshot: its load read the source after it started, so its data is at least as fresh as that start (its end for loads that did not report it).
  const snapshotAt = watermark ? Date.parse(watermark.extract === 'direct' ? (watermark.loadStartedAt ?? watermark.loadedAt) : watermark.snapshotTime) : Number.NaN;
  const loadedAt = watermark ? Date.parse(watermark.loadedAt) : Number.NaN;
  return {
    table,
    lakeTable: inputs.lakeTableOf(table),
    failed: table in status.failed,
    ...(lastLoad ? { lastLoad } : {}),
    ...(Number.isNaN(snapshotAt) ? {} : { freshnessLagSeconds: Math.max(0, (inputs.now - snapshotAt) / 1000) }),
    ...(watermark ? { rowCount: watermark.rowCount } : {}),
    ...(Number.isNaN(loadedAt) ? {} : { loadedAt: loadedAt / 1000 }),
  };
}

/**
 * The counts of the load the watermark records: from the last cycle when it committed the table
 * (its summary carries the counts), else from the newest readable cycle result that committed it,
 * provided that load is the one the watermark holds (same finish time).
 */
function lastLoadCounts(status: SourceStatus, table: TableName, watermark: Watermark, inputs: MetricInputs): RowCounts | undefined {
  const inLast = status.lastCycle?.tables.find((t) => t.table === table);
  if (inLast?.status === 'committed' && inLast.inserted !== undefined) {
    return { inserted: inLast.inserted, updated: inLast.updated ?? 0, deleted: inLast.deleted ?? 0 };
  }
  for (const cycle of status.recentCycles) {
    const result = readableResult(inputs.cycleResult(cycle.workflowId));
    const load = result?.tables.find((t) => t.table === table && t.status === 'committed')?.load;
    if (!load) continue;
    return load.finishedAt === watermark.loadedAt && !load.changesUnknown ? { inserted: load.inserted, updated: load.updated, deleted: load.deleted } : undefined;
  }
  return undefined;
}

/**
 * The ledger tables whose last load counts are still unknown with the results read so far: the
 * reader fetches older cycle results only while this is not empty.
 */
export function tablesWithoutCounts(status: SourceStatus, cycleResult: MetricInputs['cycleResult'], selected?: MetricInputs['selected']): TableName[] {
  const inputs: MetricInputs = { lakeTableOf: (t) => t, cycleResult, now: 0 };
  return reportedTables(status, selected).filter((table) => {
    const w = status.ledger[table];
    return w !== undefined && !lastLoadCounts(status, table, w, inputs);
  });
}

/** How far a load's finish may lie outside its cycle's start and finish (they come from different clocks). */
const LOAD_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The next cycle result to read for the last load counts still unknown: for the first table without
 * them, the recent cycle whose run holds its watermark's load (the load finished between the cycle's
 * start and finish), among those not read yet; undefined when no such cycle is left. So a reader
 * with nothing cached (a restarted worker) reads the few cycles that hold the tables' last loads,
 * not every cycle between them.
 */
export function nextCycleToRead(status: SourceStatus, cycleResult: MetricInputs['cycleResult'], read: (workflowId: string) => boolean, selected?: MetricInputs['selected']): string | undefined {
  for (const table of tablesWithoutCounts(status, cycleResult, selected)) {
    const loadedAt = Date.parse(status.ledger[table]!.loadedAt);
    if (Number.isNaN(loadedAt)) continue;
    let best: { workflowId: string; off: number } | undefined;
    for (const cycle of status.recentCycles) {
      if (cycle.counts.committed === 0 || read(cycle.workflowId)) continue;
      const started = Date.parse(cycle.startedAt);
      const finished = Date.parse(cycle.finishedAt);
      if (Number.isNaN(started) || Number.isNaN(finished)) continue;
      const off = loadedAt < started ? started - loadedAt : loadedAt > finished ? loadedAt - finished : 0;
      if (off <= LOAD_CLOCK_SKEW_MS && (!best || off < best.off)) best = { workflowId: cycle.workflowId, off };
    }
    if (best) return best.workflowId;
  }
  return undefined;
}

function cycleMetrics(summary: CycleSummary, result: CycleResult | undefined): CycleMetrics {
  const started = Date.parse(summary.startedAt);
  const finished = Date.parse(summary.finishedAt);
  const tableSeconds = result ? sumTableSeconds(result) : undefined;
  // The summary carries the cycle's cost too: a result not read (yet) still gives the figure.
  const dpuSeconds = (result ? cycleDpuSeconds(result) : undefined) ?? summary.cost?.dpuSeconds;
  const cost = (result ? cycleCost(result) : undefined) ?? summary.cost;
  return {
    cycleId: summary.cycleId,
    kind: summary.kind,
    status: summary.status,
    durationSeconds: Math.max(0, (finished - started) / 1000) || 0,
    finishedAt: Number.isNaN(finished) ? 0 : finished / 1000,
    tables: summary.counts,
    ...(tableSeconds !== undefined ? { tableSeconds } : {}),
    ...(dpuSeconds !== undefined ? { dpuSeconds } : {}),
    ...(cost ? { costPartial: (cost.partial ?? 0) > 0 } : {}),
  };
}

function sumTableSeconds(result: CycleResult): number {
  let total = 0;
  for (const t of result.tables) {
    const started = t.startedAt ? Date.parse(t.startedAt) : Number.NaN;
    const finished = t.finishedAt ? Date.parse(t.finishedAt) : Number.NaN;
    if (!Number.isNaN(started) && !Number.isNaN(finished) && finished >= started) total += (finished - started) / 1000;
  }
  return total;
}

/**
 * The cycle's DPU-seconds (`lakesync_cycle_last_dpu_seconds`): its cost total, else the sum of its
 * tables' costs (a result read back from a dead cycle has no total); undefined when no load run
 * reported DPU-seconds (the embedded mode, cycles before the cost ledger).
 */
export function cycleDpuSeconds(result: CycleResult): number | undefined {
  if (result.cost?.dpuSeconds !== undefined) return result.cost.dpuSeconds;
  return costTotals(result.tables.map((t) => t.cost))?.dpuSeconds;
}

/** The cycle's cost totals: its own, else the sums of its tables' costs; undefined when it has none. */
function cycleCost(result: CycleResult): CostTotals | undefined {
  return result.cost ?? costTotals(result.tables.map((t) => t.cost));
}

/** A cycle result whose per-table outcomes are inline (not a reference to a stored result). */
function readableResult(result: CycleResult | undefined): CycleResult | undefined {
  return result && Array.isArray(result.tables) ? result : undefined;
}
