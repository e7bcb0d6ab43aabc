/**
 * The pack file of a packed run (glue/lakesync_glue/pack.py reads it) and the summary the run
 * writes, shared by the Glue and the local backend. The pack file holds each table's job
 * arguments exactly as a run of its own would get them; never secrets, so a direct load (whose
 * arguments name the source's JDBC connection) is never packed.
 */
import { PortError } from './errors';
import type { LiveLoadRun, LoadRequest, PackRequest, PackSummary, PackTableSummary } from './model';

export interface PackFile {
  packToken: string;
  summaryPath: string;
  /** Each table's job arguments (names without "--"), in the order the run loads them. */
  loads: Record<string, string>[];
}

const STATUSES: ReadonlySet<string> = new Set<PackTableSummary['status']>(['succeeded', 'failed', 'skipped']);

/** The pack file of `req`; rejects, before any side effect, a pack the run could not load as asked. */
export function packFileOf(req: PackRequest, argsOf: (load: LoadRequest) => Record<string, string>): PackFile {
  const subject = `pack ${req.packToken || '(no token)'} of cycle ${req.cycleId}`;
  if (!req.packToken.trim()) throw new PortError('validation', 'InvalidArgument', `${subject} has no pack token: the run is found again by it`);
  if (req.loads.length === 0) throw new PortError('validation', 'InvalidArgument', `${subject} has no tables: start a pack with at least one table`);
  const results = new Set<string>();
  for (const load of req.loads) {
    const table = load.plan.table;
    if (load.plan.extract?.kind === 'direct') {
      throw new PortError('validation', 'InvalidArgument', `${subject}: ${table} is a direct load, which is never packed (its arguments name the source's JDBC connection): load it in a run of its own`);
    }
    if (load.source !== req.source || load.cycleId !== req.cycleId) {
      throw new PortError('validation', 'InvalidArgument', `${subject}: ${table} belongs to source ${load.source}, cycle ${load.cycleId}: a pack holds the tables of one source and cycle`);
    }
    if (results.has(load.resultLocation)) throw new PortError('validation', 'InvalidArgument', `${subject}: ${table} is in the pack twice (result ${load.resultLocation})`);
    results.add(load.resultLocation);
  }
  return { packToken: req.packToken, summaryPath: req.summaryLocation, loads: req.loads.map(argsOf) };
}

/** The export gigabytes of the pack's tables, when every table has a known size. */
export function packSizeGB(req: PackRequest): number | undefined {
  let total = 0;
  for (const load of req.loads) {
    const size = load.plan.sizeGB;
    if (size === undefined || !Number.isFinite(size) || size < 0) return undefined;
    total += size;
  }
  return total;
}

/** The live tables of a pack file: (namespace.lakeTable, run token) of each load. */
export function packTables(file: unknown): { lakeTable: string; runToken: string }[] {
  const loads = (file as Partial<PackFile> | undefined)?.loads;
  if (!Array.isArray(loads)) return [];
  return loads
    .filter((l): l is Record<string, string> => typeof l === 'object' && l !== null && typeof l.namespace === 'string' && typeof l.lake_table === 'string')
    .map((l) => ({ lakeTable: `${l.namespace}.${l.lake_table}`, runToken: typeof l.run_token === 'string' ? l.run_token : '' }));
}

/** A lake table a live run loads, under that table's run token; a pack's tables also name the pack. */
export type RunTable = Pick<LiveLoadRun, 'runToken' | 'pack'> & { lakeTable: string };

/** A pack run's tables, each marked as the pack's (its token, when the run has one, and its size). */
export function withPack(tables: RunTable[], packToken: string | undefined): RunTable[] {
  return packToken ? tables.map((t) => ({ ...t, pack: { token: packToken, tables: tables.length } })) : tables;
}

/** A summary as the run wrote it, checked; a file that is not one is an error that names it. */
export function checkPackSummary(value: unknown, location: string): PackSummary {
  const invalid = () => new PortError('validation', 'InvalidPackSummary', `the pack summary at ${location} is not a lakesync pack summary (needs packToken and tables of table, status, seconds): check the load job version`);
  if (typeof value !== 'object' || value === null) throw invalid();
  const { packToken, tables } = value as Partial<PackSummary>;
  if (typeof packToken !== 'string' || !Array.isArray(tables)) throw invalid();
  const checked = tables.map((t: Partial<PackTableSummary>) => {
    if (typeof t?.table !== 'string' || typeof t.status !== 'string' || !STATUSES.has(t.status) || typeof t.seconds !== 'number' || !Number.isFinite(t.seconds)) throw invalid();
    return { table: t.table, status: t.status, seconds: t.seconds };
  });
  return { packToken, tables: checked };
}
