/**
 * The cost ledger's arithmetic: a table's DPU-seconds and export GB priced at the source's
 * prices, and a cycle's sums. Pure functions over plain data: the batch workflow calls them, so
 * nothing here may do I/O or import anything but types.
 */
import type { CostBasis, CostPrices, CostTotals, GlueExecutionClass, TableCost, TableExportWindow } from '../model';

/**
 * us-east-1 list prices (USD): Glue ETL jobs per DPU-hour (standard and FLEX), RDS snapshot export
 * per GB of snapshot exported, DynamoDB export to S3 per GB (full, incremental). Other Regions and
 * contracts differ: set `sources.<s>.cost` in lakesync.yaml.
 */
export const DEFAULT_PRICES: Required<CostPrices> = {
  gluePerDpuHour: 0.44,
  glueFlexPerDpuHour: 0.29,
  rdsExportPerGB: 0.01,
  dynamodbFullExportPerGB: 0.1,
  dynamodbIncrementalExportPerGB: 0.1,
};

/** Bytes per GB as AWS bills data volumes (2^30). */
export const BYTES_PER_GB = 1024 ** 3;

/** One export a table's load read, with its size when the backend knows it. */
export type ExportVolume = { kind: 'rds'; gb?: number } | { kind: TableExportWindow['type']; bytes?: number };

/**
 * The cost of one table's load: DPU-seconds of its run and the GB of the exports this cycle took
 * for it, priced unless the basis is `none`, a FLEX run at the FLEX price. An export whose size is
 * unknown leaves the table's export GB absent (a partial sum would understate it).
 */
export function tableCost(basis: CostBasis, dpuSeconds: number | undefined, volumes: ExportVolume[], prices: CostPrices, executionClass?: GlueExecutionClass): TableCost {
  const priced = basis !== 'none';
  const glue = dpuSeconds !== undefined && Number.isFinite(dpuSeconds) && dpuSeconds >= 0 ? dpuSeconds : undefined;
  const sizes = volumes.map((e) => ({ gb: e.kind === 'rds' ? e.gb : e.bytes === undefined ? undefined : e.bytes / BYTES_PER_GB, price: priceOf(e.kind, prices) }));
  const known = sizes.length > 0 && sizes.every((s) => s.gb !== undefined && Number.isFinite(s.gb) && s.gb >= 0);
  return {
    basis,
    ...(glue !== undefined ? { dpuSeconds: glue } : {}),
    ...(glue !== undefined && priced ? { glueUsd: usd((glue / 3600) * gluePrice(prices, executionClass)) } : {}),
    ...(known ? { exportGB: gb(sizes.reduce((n, s) => n + s.gb!, 0)) } : {}),
    ...(known && priced ? { exportUsd: usd(sizes.reduce((n, s) => n + s.gb! * s.price, 0)) } : {}),
  };
}

/** The price per DPU-hour of a run's class; a cycle priced before the FLEX price existed has only the standard one. */
function gluePrice(prices: CostPrices, executionClass: GlueExecutionClass | undefined): number {
  return executionClass === 'FLEX' ? (prices.glueFlexPerDpuHour ?? prices.gluePerDpuHour) : prices.gluePerDpuHour;
}

function priceOf(kind: ExportVolume['kind'], prices: CostPrices): number {
  if (kind === 'rds') return prices.rdsExportPerGB;
  return kind === 'FULL' ? prices.dynamodbFullExportPerGB : prices.dynamodbIncrementalExportPerGB;
}

/** The sums of the tables' costs; undefined when none has a cost. */
export function costTotals(costs: (TableCost | undefined)[]): CostTotals | undefined {
  const list = costs.filter((c): c is TableCost => c !== undefined);
  if (list.length === 0) return undefined;
  const sum = (pick: (c: TableCost) => number | undefined): number | undefined => {
    const values = list.map(pick).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
  };
  const dpuSeconds = sum((c) => c.dpuSeconds);
  const glueUsd = sum((c) => c.glueUsd);
  const exportGB = sum((c) => c.exportGB);
  const exportUsd = sum((c) => c.exportUsd);
  const partial = list.filter((c) => c.partial !== undefined).length;
  const total = glueUsd === undefined && exportUsd === undefined ? undefined : (glueUsd ?? 0) + (exportUsd ?? 0);
  return {
    basis: basisOf(list.map((c) => c.basis)),
    tables: list.length,
    ...(dpuSeconds !== undefined ? { dpuSeconds: round(dpuSeconds, 3) } : {}),
    ...(glueUsd !== undefined ? { glueUsd: usd(glueUsd) } : {}),
    ...(exportGB !== undefined ? { exportGB: gb(exportGB) } : {}),
    ...(exportUsd !== undefined ? { exportUsd: usd(exportUsd) } : {}),
    ...(total !== undefined ? { usd: usd(total) } : {}),
    ...(partial > 0 ? { partial } : {}),
  };
}

/** One source has one backend; should bases differ, the strongest claim is kept: glue, then modelled. */
function basisOf(bases: CostBasis[]): CostBasis {
  if (bases.includes('glue')) return 'glue';
  return bases.includes('modelled') ? 'modelled' : 'none';
}

/** Dollars to a millionth, GB to a millionth: enough for a per-table estimate, without float noise. */
const usd = (v: number): number => round(v, 6);
const gb = (v: number): number => round(v, 6);
function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
