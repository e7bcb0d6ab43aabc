/**
 * The load of one table: start (or re-attach to) the backend run, poll it while heartbeating,
 * read the result JSON. The run id lives in the heartbeat details, and the run token lets a
 * retried attempt find a run started just before a crash, so a table is never loaded twice.
 *
 * One run per lake table: before starting, a live run of this same load is attached to and any
 * other run on the lake table (left by an earlier cycle) is stopped and waited for. A load that
 * fails for good or is cancelled stops its run.
 *
 * Attempts: Temporal retries the activity without a limit (a heartbeat timeout, e.g. a worker
 * restart, is no failure of the load); the real failures are counted in the heartbeat details,
 * which Temporal hands to the next attempt, and the load fails for good after `maxFailures`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { cycleManifestKeys, exportIdFor, runTokenFor } from '../ids';
import { isPortError } from '../errors';
import { keptStart } from '../payload-text';
import type { SourceConfig } from '../config/schema';
import { selectTable } from '../config/tables';
import type { CostBasis, DiscoveredTable, ExportParts, LiveLoadRun, LoadedTableExport, LoadRequest, LoadResult, LoadRunStatus, LoadUsage, PackSummary, PlanEntry } from '../model';
import type { LoadPort, ManifestStore, PackLoads } from '../ports';
import { type ActivityDeps, failure, sourceOf } from './deps';
import { type PartsRecord, partsRecordOf, recordedParts } from './export-parts';
import { MAX_UNSTARTED_RUNS } from '../workflows/options';

export interface LoadTableInput {
  source: string;
  cycleId: string;
  planRef: string;
  table: string;
  /**
   * The export and its snapshot's time (ISO-8601): the lineage the load records and checks.
   * Required for an export load; a direct load (its plan entry's `extract`) reads the source and has none.
   */
  exportId?: string;
  snapshotTime?: string;
  exportLocation?: string;
  /** A DynamoDB load's completed exports, oldest first; `exportId` and `snapshotTime` are then the last one's id and `window.to`. */
  tableExports?: LoadedTableExport[];
  database: string;
  namespace: string;
  /** Real failures after which the load fails for good (the cycle's retry.maximumAttempts); the config's when absent. */
  maxFailures?: number;
  /**
   * The table is one of a pack (several small tables loaded by one run, started by startPackLoad):
   * the load waits for that run and reads its own result. When the pack ends without a succeeded
   * result for the table, the next attempt loads it in a run of its own.
   */
  pack?: PackRef;
  /** DPU-seconds of earlier runs of this load (its share of the pack that left it), for its cost. */
  spent?: SpentRuns;
}

/** The pack a table is loaded in: its token, its run and how many tables it has (absent from workflows before it). */
export interface PackRef {
  token: string;
  runId: string;
  tables?: number;
  /** The table's place in the pack (0-based), which cuts its even share of a run that wrote no summary (absent from workflows before it). */
  index?: number;
}

/** The failure type of a pack's run that ended without a result for the table. */
const PACK_LEFT_TABLE = 'PackEndedWithoutResult';

function isPackLeft(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === PACK_LEFT_TABLE;
}

/** The load job's result, with what its run used (absent from workers before the cost ledger). */
export type LoadTableResult = LoadResult & { usage?: LoadUsage };

/**
 * The pack's run ended without loading the table (`loadPackedTable`'s answer): the workflow loads it
 * in a run of its own when a lane is free, and the table has lost no attempt to another's crash.
 */
export interface LeftByPack {
  leftByPack: { message: string; spent?: SpentRuns };
}


export interface LoadHeartbeat {
  /** The run this load polls; absent before it has one. */
  runId?: string;
  /** The source table, so `lakesync status` can show each running load's state. */
  table?: string;
  state?: string;
  detail?: string;
  /** Real failures of this load so far; a heartbeat timeout (a worker restarted) is none. */
  failures?: number;
  /** The run of the pack this table is loaded in (never stopped for this table alone). */
  packRunId?: string;
  /** The pack ended without a succeeded result for the table: the next attempts load it in a run of its own. */
  alone?: boolean;
  /** What this load's failed runs used (absent before the first, and from workers before it). */
  spent?: SpentRuns;
  /** Runs of this load that ended without starting (expired in the queue, refused for capacity): no attempt is spent on them. */
  unstarted?: number;
}

/**
 * The DPU-seconds of a load's runs that ended without loading the table, by run (a pack run's
 * key holds the table's share of it), so that a run seen again by a later attempt is counted once.
 */
export interface SpentRuns {
  runs: string[];
  dpuSeconds: number;
  /** FLEX when a failed run ran in that class (the job's runs share one). */
  executionClass?: 'FLEX';
  /** Runs (keys as in `runs`) that ran and ended without a DPU figure: billed, but left out of `dpuSeconds` (the cost is partial). */
  unpriced?: string[];
}

/** The failure details a final load failure carries: what its runs used, for the table's cost. */
export interface LoadFailureDetails {
  usage: LoadUsage;
}

/** What an attempt knows of its load; every heartbeat carries it to the next attempt. */
interface LoadState {
  table: string;
  runId?: string;
  /** The run has ended (succeeded or failed): there is nothing to stop. */
  ended?: boolean;
  failures: number;
  packRunId?: string;
  alone?: boolean;
  spent?: SpentRuns;
  /** Runs of this load that ended without starting. */
  unstarted?: number;
  /** This attempt stopped the run (runId): its figures are final once it has ended. */
  stopped?: boolean;
  /** This attempt failed to stop the run (runId): it may go on, billed. */
  unstoppable?: boolean;
}

export { MAX_UNSTARTED_RUNS };

const DEFAULT_POLL = { initialMs: 5_000, maxMs: 120_000 };
/** How long a load waits for other loads' runs on its lake table to end after asking them to stop. */
export const STOP_WAIT_MS = 15 * 60_000;

/** The request fields that do not depend on the table: a load's, or those a pack's tables share. */
export type LoadRequestInput = Omit<LoadTableInput, 'planRef' | 'maxFailures' | 'pack'>;

/**
 * How many cycles' documents (plans, discoveries) a worker keeps read: those of the cycles it runs
 * now, not of every cycle it ever ran (a plan describes every table of its export, columns included).
 */
export const CACHED_CYCLES = 16;

/** The documents read last, at most `limit` of them: the one read longest ago goes first. */
export class RecentReads<T> {
  private readonly entries = new Map<string, Promise<T>>();
  constructor(private readonly limit: number) {}

  /** The document under `key`, read by `read` unless held; a failed read is not kept. */
  get(key: string, read: () => Promise<T>): Promise<T> {
    let value = this.entries.get(key);
    if (value) this.entries.delete(key);
    else {
      value = read();
      const held = value;
      value.catch(() => {
        if (this.entries.get(key) === held) this.entries.delete(key);
      });
    }
    this.entries.set(key, value);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.limit) break;
      this.entries.delete(oldest);
    }
    return value;
  }
}

/**
 * Reads plan entries from the manifest store, each plan once per worker while its cycle runs (a
 * batch's loads share it). A table that is not in the plan fails its load for good.
 */
export function planEntries(deps: ActivityDeps): (source: string, planRef: string, table: string) => Promise<PlanEntry> {
  const plans = new RecentReads<PlanEntry[]>(CACHED_CYCLES);
  return async (source, planRef, table) => {
    const { ports } = sourceOf(deps, source);
    const plan = plans.get(planRef, () => ports.manifests.get<PlanEntry[]>(planRef));
    const entry = (await plan).find((e) => e.table === table);
    if (!entry) throw ApplicationFailure.create({ message: `load failed for ${table}: not in plan ${planRef}`, type: 'PlanMismatch', nonRetryable: true });
    return entry;
  };
}

/**
 * Reads the part files the discovery of an RDS export load's export recorded for its table (each
 * record once per worker while its cycle runs): the figures its job is held to. None for a direct
 * or DynamoDB load, or an export no cycle recorded.
 */
export function exportPartsReader(deps: ActivityDeps): (input: LoadRequestInput, plan: PlanEntry) => Promise<ExportParts | undefined> {
  const records = new RecentReads<PartsRecord | undefined>(CACHED_CYCLES);
  return async (input, plan) => {
    if (plan.extract || !input.exportId) return undefined;
    const read = partsRecordOf(sourceOf(deps, input.source).ports);
    return recordedParts(input.source, input.exportId, input.table, (cycleId) => records.get(`${input.source}/${cycleId}`, () => read(cycleId)));
  };
}

/**
 * The request of one table's load, as its own run gets it and as a pack carries it: its run token,
 * its lineage and its result location. A request without the lineage it needs is refused.
 */
export function loadRequestFor(port: LoadPort, input: LoadRequestInput, plan: PlanEntry, exportParts?: ExportParts): LoadRequest {
  const direct = plan.extract?.kind === 'direct';
  // A batch started before loads carried their lineage has neither: the load cannot guard the table.
  // A direct load reads the source itself: it has no export to guard with.
  if (!direct && (!input.exportId || !input.snapshotTime)) {
    throw ApplicationFailure.create({
      message: `load failed for ${input.table}: the request names no export id or snapshot time, so the load cannot check that the export is not older than the lake table's; run a new sync or rerun the table`,
      type: 'MissingLineage',
      nonRetryable: true,
    });
  }
  const dynamo = plan.extract?.kind === 'dynamodb';
  if (dynamo && !input.tableExports?.length) {
    throw ApplicationFailure.create({
      message: `load failed for ${input.table}: it is a DynamoDB table and the request names none of its exports; run a new sync`,
      type: 'MissingLineage',
      nonRetryable: true,
    });
  }
  const base = {
    source: input.source,
    cycleId: input.cycleId,
    runToken: runTokenFor(input.cycleId, input.table),
    ...(direct ? {} : dynamo ? { exportId: input.exportId, snapshotTime: input.snapshotTime, tableExports: input.tableExports } : { exportId: input.exportId, snapshotTime: input.snapshotTime, exportLocation: input.exportLocation, ...(exportParts ? { exportParts } : {}) }),
    database: input.database,
    plan,
    namespace: input.namespace,
  };
  return { ...base, resultLocation: port.resultLocation(base) };
}

/**
 * Refuses the load of a plan entry that the worker's config excludes now, wholly or a column of
 * it the plan still reads: the plan was made before the config changed (a cycle that went on
 * across a worker's restart, a retried load). Excluded data never leaves the database: a direct
 * load would read it from the source, an export load would write it to the lake. Checked before
 * any run starts; a run an earlier attempt started is stopped by the failure.
 */
export function refuseExcluded(source: string, settings: Pick<SourceConfig, 'include' | 'exclude' | 'tables'>, plan: PlanEntry): void {
  const direct = plan.extract?.kind === 'direct';
  const what = direct ? 'nothing was read from the source' : 'nothing was loaded into the lake';
  const selection = selectTable(settings, plan.table);
  if (!selection.included) {
    throw ApplicationFailure.create({
      message: `load of ${plan.table} refused: ${plan.table} is excluded by the source's config now (${selection.rule}), but the cycle's plan, made before the config changed, loads it; ${what}. The next sync skips it; to load it, change the source's include/exclude rules`,
      type: 'ExcludedByConfig',
      nonRetryable: true,
    });
  }
  const columns = Object.entries(settings.tables[plan.table]?.columns ?? {})
    .filter(([name, c]) => c.exclude && !plan.columns?.[name]?.exclude)
    .map(([name]) => name);
  if (columns.length > 0) {
    throw ApplicationFailure.create({
      message: `load of ${plan.table} refused: column ${columns.join(', ')} of ${plan.table} is excluded by the source's config now (tables.${plan.table}.columns.<column>.exclude), but the cycle's plan, made before the config changed, reads it; ${what}. Rerun the table (lakesync rerun ${source} --tables ${plan.table}) to load it under the config's column policies`,
      type: 'ExcludedByConfig',
      nonRetryable: true,
    });
  }
}

/**
 * The table and lake table an earlier run of this cycle (its own, or its pack's, started before
 * the config changed) committed for this load request, or undefined when no committed result of
 * it can be read.
 */
export async function committedEarlier(port: LoadPort, req: LoadRequest): Promise<string | undefined> {
  const result = await port.readResult(req.resultLocation).catch(() => undefined);
  if (!result?.committed || result.runToken !== req.runToken) return undefined;
  return `${req.plan.table} (lake table ${req.namespace}.${req.plan.lakeTable}, ${result.rowsRead} rows)`;
}

/** A refusal of refuseExcluded with `told` in place of its "nothing was loaded" (or appended). */
export function refusalTold(refusal: ApplicationFailure, told: string): ApplicationFailure {
  const said = /; nothing was (loaded into the lake|read from the source)/;
  const message = said.test(refusal.message) ? refusal.message.replace(said, told) : `${refusal.message}${told}`;
  return ApplicationFailure.create({ message, type: refusal.type ?? 'ExcludedByConfig', nonRetryable: true });
}

/**
 * What a load refused because the config excludes its table now throws: the refusal, saying what a
 * run of this cycle started before the config changed did. The table's pack run, still going, would
 * load it: it is stopped (as a refused pack start stops its run), and the pack's other tables are
 * left to runs of their own. A run of this cycle that had already loaded the table is named, with the fix.
 */
async function refusedLoad(port: LoadPort, input: LoadTableInput, plan: PlanEntry, load: LoadState, refusal: unknown): Promise<unknown> {
  if (!(refusal instanceof ApplicationFailure)) return refusal;
  const earlier = (() => {
    try {
      return loadRequestFor(port, input, plan);
    } catch {
      return undefined;
    }
  })();
  const packRun = input.pack && port.packs && !load.alone ? input.pack : undefined;
  let stop = '';
  // An ended run loads nothing more (a run that cannot be read is asked to stop all the same).
  if (packRun && (await port.getRun(packRun.runId).then((r) => r.state === 'running', () => true))) {
    try {
      await port.stopRun(packRun.runId);
      stop = `; run ${packRun.runId} of its pack ${packRun.token}, started before the config changed, was stopped (the pack's other tables are loaded in runs of their own)`;
    } catch (err) {
      stop = `; run ${packRun.runId} of its pack ${packRun.token}, started before the config changed, could not be stopped (${(err as Error)?.message ?? String(err)}) and may still load it: stop that run`;
    }
  }
  const loaded = earlier ? await committedEarlier(port, earlier) : undefined;
  const told = loaded
    ? refusalTold(refusal, `; a run of this cycle started before the config changed had already loaded ${loaded}: drop those rows, or the lake table, if they must not be in the lake`)
    : refusal;
  // refusalTold puts `stop` after "nothing was loaded" (kept), else at the end.
  return stop ? refusalTold(told, `${loaded ? '' : '; nothing was loaded into the lake'}${stop}`) : told;
}

export function loadActivities(deps: ActivityDeps) {
  const planEntry = planEntries(deps);
  const exportParts = exportPartsReader(deps);
  const discoveries = new RecentReads<DiscoveredTable[]>(CACHED_CYCLES);

  /**
   * What the run used: its DPU-seconds and, when the load read this cycle's own RDS export, the
   * table's size in it (its plan entry's, else the cycle's discovery's). A reused export (a rerun)
   * cost nothing this cycle. Never fails the load: a size that cannot be read stays absent, and the
   * usage says so (partial), since the export was billed all the same.
   */
  async function usageOf(input: LoadTableInput, plan: PlanEntry, settings: SourceConfig, status: LoadRunStatus, spent?: SpentRuns, partial?: string): Promise<LoadUsage> {
    const { ports } = sourceOf(deps, input.source);
    // Spent runs with no figure only (unpriced) add no DPU-seconds: the sum stays unknown, not 0.
    const dpuSeconds = sumDefined(status.dpuSeconds, spent?.runs.length ? spent.dpuSeconds : undefined);
    const basis = costBasis(settings, status);
    const unpriced = basis === 'glue' ? unpricedRuns(input.table, spent) : undefined;
    if (unpriced) partial = partial ? `${partial}; ${unpriced}` : unpriced;
    const usage: LoadUsage = {
      basis,
      ...(dpuSeconds !== undefined ? { dpuSeconds } : {}),
      ...(status.executionClass === 'FLEX' || spent?.executionClass ? { executionClass: 'FLEX' as const } : {}),
      ...(status.executionSeconds !== undefined ? { executionSeconds: status.executionSeconds } : {}),
      ...(partial ? { partial } : {}),
    };
    if (plan.extract || !input.exportId || input.exportId !== exportIdFor(input.source, input.cycleId)) return usage;
    // The plan carries the table's size (plans written before it did not): no read needed.
    if (plan.sizeGB !== undefined) return { ...usage, exportGB: plan.sizeGB };
    try {
      const tables = discoveries.get(input.cycleId, () => ports.manifests.get<DiscoveredTable[]>(ports.manifests.ref(cycleManifestKeys.discovery(input.cycleId))));
      const sizeGB = (await tables).find((t) => t.table === input.table)?.sizeGB;
      if (sizeGB !== undefined) return { ...usage, exportGB: sizeGB };
      // RDS billed its part of the export all the same: the usage says its GB are left out.
      if (costBasis(settings) !== 'glue') return usage;
      const why = unsizedExport(input.table, input.exportId);
      return { ...usage, partial: usage.partial ? `${usage.partial}; ${why}` : why };
    } catch (err) {
      Context.current().log.warn('the export size of the table is unknown: its cost leaves it out and is marked partial', { table: input.table, exportId: input.exportId, error: String(err) });
      const why = `the size of ${input.table} in export ${input.exportId} could not be read (${err instanceof Error ? err.message : String(err)}): its export GB are left out`;
      return { ...usage, partial: usage.partial ? `${usage.partial}; ${why}` : why };
    }
  }

  async function loadOrLeft(input: LoadTableInput, answerLeft: boolean): Promise<LoadTableResult | LeftByPack> {
    const { ports, settings } = sourceOf(deps, input.source);
    const previous = Context.current().info.heartbeatDetails as LoadHeartbeat | undefined;
    const spent = previous?.spent ?? input.spent;
    const load: LoadState = {
      table: input.table,
      failures: previous?.failures ?? 0,
      ...(previous?.runId ? { runId: previous.runId } : {}),
      ...(previous?.alone ? { alone: true } : {}),
      ...(spent ? { spent } : {}),
      ...(previous?.unstarted ? { unstarted: previous.unstarted } : {}),
    };
    let plan: PlanEntry | undefined;
    try {
      plan = await planEntry(input.source, input.planRef, input.table);
      try {
        refuseExcluded(input.source, settings, plan);
      } catch (refusal) {
        throw await refusedLoad(ports.load, input, plan, load, refusal);
      }
      const req = loadRequestFor(ports.load, input, plan, await exportParts(input, plan));
      // Before its run can commit: a dead cycle's recovery verifies the commit against DynamoDB's item counts.
      if (plan.extract?.kind === 'dynamodb' && req.tableExports && !load.runId) await recordTableExports(ports.manifests, input.cycleId, input.table, req.tableExports);
      // A backend without packs, or a table its pack did not load, runs alone.
      const packs = ports.load.packs;
      // Not billed (the embedded mode): a packed table needs no share of its run, so it goes on once its own result is in.
      const early = costBasis(settings) === 'none';
      // A source that loads in packs: a pack's run may have loaded the table already (one its token does not find).
      const packing = settings.packing !== undefined && packs !== undefined;
      const run = input.pack && packs && !load.alone ? runPacked(ports.load, packs, req, input.pack, load, early) : runLoad(ports.load, req, load, early, packing);
      const { result, status } = await run.catch((err: unknown) => {
        // A table loaded alone found its pack's run live and waited for it; that run ended without
        // loading it, no failure of the table's own: it is loaded in a run of its own now.
        if (!input.pack && isPackLeft(err)) return runLoad(ports.load, req, load, early, packing);
        throw err;
      });
      // The table's cost: this run and the runs of earlier attempts that failed.
      const short = status.detail === TAKEN_FROM_PACK_RESULT && costBasis(settings, status) !== 'none'
        ? `${input.table} was loaded by a run of its pack that its own load could not attach to: its share of that run is left out (see the pack's run in the Glue console)`
        : unknownDpu(settings, input, load, status);
      return { ...result, usage: await usageOf(input, plan, settings, status, load.spent, short) };
    } catch (err) {
      if (answerLeft && isPackLeft(err)) {
        return { leftByPack: { message: err.message, ...(load.spent ? { spent: load.spent } : {}) } };
      }
      const failed = await attemptFailed(ports.load, load, input.maxFailures ?? settings.retry.maximumAttempts, err);
      // A cancelled load (its cycle was cancelled) was billed too: its export, and the runs its failed attempts spent.
      if (plan && failed instanceof CancelledFailure && Context.current().cancellationDetails?.cancelRequested) {
        // The run it stopped was billed up to its stop: its figures once it has ended.
        // Not billed (the embedded mode): nothing to wait for.
        const read = costBasis(settings) !== 'none' ? await stoppedRunStatus(ports.load, load, input.pack) : undefined;
        const stopped = read?.status ?? { runId: load.runId ?? '', state: 'failed' as const };
        const details: LoadFailureDetails = { usage: await usageOf(input, plan, settings, stopped, load.spent, read?.partial ?? (read?.status ? unknownDpu(settings, input, load, read.status) : undefined)) };
        throw new CancelledFailure(failed.message, [details], failed.cause);
      }
      if (!plan || !isFinal(failed)) throw failed;
      // A run the final failure stopped was billed up to its stop too, as a cancelled load's.
      const billed = costBasis(settings) !== 'none';
      const read = load.stopped && billed ? await stoppedRunStatus(ports.load, load) : undefined;
      const stopped = read?.status ?? { runId: load.runId ?? '', state: 'failed' as const };
      // A run it could not stop goes on, billed: nothing reads its figures later.
      const unstopped = billed && load.unstoppable && load.runId && !load.ended && !load.spent?.runs.includes(load.runId) ? `run ${load.runId} could not be stopped and may still be running: its DPU-seconds are left out` : undefined;
      const unpriced = read?.status ? unknownDpu(settings, input, load, read.status) : undefined;
      throw withUsage(failed, await usageOf(input, plan, settings, stopped, load.spent, read?.partial ?? unstopped ?? unpriced));
    }
  }

  return {
    /** Loads one table; a pack's run that left it fails the attempt, and the next runs alone. */
    async loadTable(input: LoadTableInput): Promise<LoadTableResult> {
      const result = await loadOrLeft(input, false);
      if ('leftByPack' in result) throw new Error(`load of ${input.table}: a left table is answered only by loadPackedTable`);
      return result;
    },
    /** Loads one table of a pack: a pack's run that left it is answered `LeftByPack`, no attempt spent. */
    async loadPackedTable(input: LoadTableInput): Promise<LoadTableResult | LeftByPack> {
      return loadOrLeft(input, true);
    },
  };
}

/** What a DynamoDB table's load records of its exports, under cycleManifestKeys.tableExports. */
export interface RecordedTableExports {
  table: string;
  exports: Pick<LoadedTableExport, 'exportId' | 'window' | 'itemCount'>[];
}

async function recordTableExports(manifests: ManifestStore, cycleId: string, table: string, exports: LoadedTableExport[]): Promise<void> {
  const recorded: RecordedTableExports = { table, exports: exports.map(({ exportId, window, itemCount }) => ({ exportId, window, itemCount })) };
  await manifests.put(cycleManifestKeys.tableExports(cycleId, table), recorded);
}

/**
 * Why a load's DPU-seconds are left out, when Glue billed its run (succeeded, or stopped by the load) but the load has no
 * figure for it: Glue's answer held none (nor the time and workers to reckon it from), or the
 * table's share of its pack's run is unknown (the pack's summary could not be read, or does not
 * list the table). Undefined when the figure is there, already counted, or nothing bills the run.
 */
function unknownDpu(settings: SourceConfig, input: LoadTableInput, load: LoadState, status: LoadRunStatus): string | undefined {
  if (status.dpuSeconds !== undefined || status.unstarted || costBasis(settings, status) !== 'glue') return undefined;
  const packed = load.packRunId !== undefined && status.runId === load.packRunId;
  const key = packed ? `${status.runId}:${input.table}` : status.runId;
  // Counted already, or already named among the runs without a figure (spend's `unpriced`).
  if (!status.runId || load.spent?.runs.includes(key) || load.spent?.unpriced?.includes(key)) return undefined;
  if (packed) {
    const pack = input.pack?.runId === status.runId ? `pack ${input.pack.token} (run ${status.runId})` : `pack run ${status.runId}`;
    return `the share of ${input.table} in ${pack} is unknown (the run reported no DPU figure, or the pack's summary could not be read or does not list the table): its DPU-seconds are left out`;
  }
  return `run ${status.runId} (${status.detail ?? status.state}) of ${input.table} ended without a DPU figure: its DPU-seconds are left out (see the run in the Glue console)`;
}

/** Why a table's part of its cycle's own RDS export is left out of its cost: the export's table list gives it no size. */
export function unsizedExport(table: string, exportId: string): string {
  return `${table} has no size in the table list of export ${exportId} (no sizeGB in its export_tables_info): its export GB are left out (see the export in the RDS console for its size)`;
}

/** Whose figures a load's usage is: a backend's model when it says so, Glue's on AWS, none in the embedded mode. */
export function costBasis(settings: Pick<SourceConfig, 'backend' | 'source'>, status: Pick<LoadRunStatus, 'modelled'> = {}): CostBasis {
  if (status.modelled || settings.source.kind === 'fake') return 'modelled';
  return settings.backend === 'aws' ? 'glue' : 'none';
}

/** The status of a load whose result a run of its pack had written (that run's figures are not the table's to read). */
const TAKEN_FROM_PACK_RESULT = 'taken from the result its pack run wrote';

async function runLoad(port: LoadPort, req: LoadRequest, load: LoadState, early = false, packing = false): Promise<{ result: LoadResult; status: LoadRunStatus }> {
  const ctx = Context.current();
  // Until the run is known nothing else heartbeats: a slow start (throttled lookups, a slow
  // StartJobRun) would outlast the heartbeat timeout, and Temporal would run a second attempt
  // beside this one, which would start a second run of the load.
  const starting = setInterval(() => ctx.heartbeat(beat(load, 'starting')), Math.max(500, Math.floor((ctx.info.heartbeatTimeoutMs ?? 60_000) / 3)));
  let attached: { runId: string; pack?: PackRef; loaded?: LoadResult };
  try {
    attached = await startOrAttach(port, req, load, packing);
  } finally {
    clearInterval(starting);
  }
  // Loaded already by a run no longer found by its token (its pack's run, stopped or ended before the table ran alone): taken, not loaded again.
  if (attached.loaded) return { result: attached.loaded, status: { runId: attached.runId, state: 'succeeded', detail: TAKEN_FROM_PACK_RESULT } };
  // The live run of its pack (whose start gave up after making it) loads the table: the load
  // waits for it as the pack's tables do, for its share of the run, and never stops it alone.
  if (attached.pack && port.packs) return runPacked(port, port.packs, req, attached.pack, load, early);
  const { runId } = attached;
  load.runId = runId;
  ctx.heartbeat(beat(load, 'running'));

  const status = await pollUntilEnded(
    async () => {
      const current = await port.getRun(runId);
      load.ended = current.state !== 'running';
      ctx.heartbeat(beat(load, current.state, current.detail));
      return current;
    },
    (ms, current) => sleepHeartbeating(ctx, ms, beat(load, current.state, current.detail)),
    port.pollPolicy ?? DEFAULT_POLL,
  );
  // A run that ends without loading the table was billed all the same: the load's cost keeps it.
  const outcome = status.state === 'succeeded' ? finishedResult(port, req, runId, status) : failedRun(port, req, runId, status);
  return { result: await spendOnFailure(load, runId, status, outcome), status: notYetCounted(load, runId, status) };
}

/**
 * The run's status less its DPU-seconds when an earlier attempt already counted them as spent (it
 * could not read the run's result, and this attempt re-attached to the run): a run is billed once.
 */
function notYetCounted(load: LoadState, key: string, status: LoadRunStatus): LoadRunStatus {
  if (!load.spent?.runs.includes(key)) return status;
  const { dpuSeconds: _counted, ...rest } = status;
  return rest;
}

/**
 * A table loaded by its pack's run: polls that run until it ends (the pack's tables all poll the
 * same run), then reads the table's own result, and the pack's summary for its share of the run's
 * DPU-seconds (its seconds over the sum of the pack's). A pack that ended without a succeeded
 * result for the table fails this attempt; the next one loads the table in a run of its own.
 *
 * `early` (a backend whose runs are not billed, so there is no share to wait for): a succeeded
 * result of the table's own run token ends the wait while the pack still loads its other tables;
 * its seconds are the result's own. A failed result still waits for the run's end, as above.
 */
async function runPacked(port: LoadPort, packs: PackLoads, req: LoadRequest, pack: PackRef, load: LoadState, early = false): Promise<{ result: LoadResult; status: LoadRunStatus }> {
  const ctx = Context.current();
  const table = req.plan.table;
  load.packRunId = pack.runId;
  ctx.heartbeat(beat(load, 'running', `pack ${pack.token}`));
  let released: LoadResult | undefined;
  const status = await pollUntilEnded(
    async () => {
      const current = await port.getRun(pack.runId);
      ctx.heartbeat(beat(load, current.state, `pack ${pack.token}: ${current.detail ?? current.state}`));
      if (early && current.state === 'running') {
        const own = await port.readResult(req.resultLocation);
        // The wait ends here: the result is final (a pack never loads a table that succeeded for its token again).
        if (own?.status === 'succeeded' && own.runToken === req.runToken) released = own;
      }
      return released ? { ...current, state: 'succeeded' } : current;
    },
    (ms, current) => sleepHeartbeating(ctx, ms, beat(load, current.state, `pack ${pack.token}: ${current.detail ?? current.state}`)),
    port.pollPolicy ?? DEFAULT_POLL,
  );
  if (released) {
    ctx.log.info('load finished in its pack, which goes on', { table, runId: pack.runId, packToken: pack.token });
    const seconds = (Date.parse(released.finishedAt) - Date.parse(released.startedAt)) / 1000;
    return { result: released, status: { runId: pack.runId, state: 'succeeded', ...(Number.isFinite(seconds) && seconds >= 0 ? { executionSeconds: seconds } : {}) } };
  }
  load.ended = true;
  const pause = (ms: number) => sleepHeartbeating(ctx, ms, beat(load, status.state, `pack ${pack.token}: reading its summary`));
  const result = await port.readResult(req.resultLocation);
  if (result?.status === 'succeeded' && result.runToken === req.runToken) {
    ctx.log.info('load finished in its pack', { table, runId: pack.runId, packToken: pack.token });
    return { result, status: await packShare(packs, req, pack, status, pause) };
  }
  // Whatever this attempt's failure, the next one runs alone: the pack's run is over. Its share of
  // the run is the table's all the same, so that the pack's shares add up to the run.
  load.alone = true;
  spend(load, `${pack.runId}:${table}`, await packShare(packs, req, pack, status, pause));
  if (result?.status === 'failed' && result.runToken === req.runToken && !status.unstarted) throw resultFailure(req, pack.runId, result);
  const left = ApplicationFailure.create({
    message:
      `load of ${table} in pack ${pack.token} (run ${pack.runId}) failed: the run ended ${status.detail ?? status.state}` +
      `${status.errorMessage ? ` (${runError(pack.runId, status)})` : ''} without a result for the table at ${req.resultLocation}; the next attempt loads the table in a run of its own`,
    type: PACK_LEFT_TABLE,
    nonRetryable: false,
  });
  // A pack's run that never started loaded nothing either: the table spends no attempt on it (attemptFailed), as a run of its own would not.
  if (status.unstarted) UNSTARTED_FAILURES.set(left, `pack run ${pack.runId} (${status.detail ?? 'FAILED'}): ${runError(pack.runId, status)}`);
  throw left;
}

/**
 * The run's status as this table's part of it: its seconds in the pack and its share of the run's
 * DPU-seconds. A run that ended without writing its summary (it died, timed out or was stopped)
 * was billed all the same: each of the pack's tables takes an even share of it. A summary that
 * cannot be read (a transient failure is read again, SUMMARY_READS times in all) leaves the share
 * unknown, and the table's usage has none.
 */
async function packShare(packs: PackLoads, req: LoadRequest, pack: PackRef, status: LoadRunStatus, pause: (ms: number) => Promise<void>): Promise<LoadRunStatus> {
  return packRunShare(packs, { source: req.source, cycleId: req.cycleId, table: req.plan.table }, pack, status, pause);
}

/** A table's part of its pack's ended run (see packShare): also a dead cycle's recovery books a pack run so. */
export async function packRunShare(
  packs: PackLoads,
  of: { source: string; cycleId: string; table: string },
  pack: Pick<PackRef, 'token' | 'tables' | 'index'>,
  status: LoadRunStatus,
  pause: (ms: number) => Promise<void>,
  /** Reads already made, by pack token: a caller sharing one run among many tables reads its summary once. */
  summaries?: Map<string, Promise<PackSummary | undefined>>,
): Promise<LoadRunStatus> {
  const { dpuSeconds: _run, executionSeconds: _all, ...rest } = status;
  let summary: PackSummary | undefined;
  try {
    let read = summaries?.get(pack.token);
    if (!read) {
      read = readSummary(packs, packs.summaryLocation(of.source, of.cycleId, pack.token), pause);
      // A failed read is failed for every table of the pack alike (each then leaves the run out).
      read.catch(() => undefined);
      summaries?.set(pack.token, read);
    }
    summary = await read;
  } catch (err) {
    Context.current().log.warn("the pack's summary could not be read: the table's cost leaves out the run", { table: of.table, packToken: pack.token, error: String(err) });
    return rest;
  }
  if (!summary) {
    const share = pack.tables ? dpuShare(status.dpuSeconds, evenIndex(pack), new Array<number>(pack.tables).fill(0)) : undefined;
    return share !== undefined ? { ...rest, dpuSeconds: share } : rest;
  }
  const index = summary.tables.findIndex((t) => t.table === of.table);
  const own = summary.tables[index];
  if (!own) return rest;
  const share = dpuShare(status.dpuSeconds, index, summary.tables.map((t) => t.seconds));
  return { ...rest, executionSeconds: own.seconds, ...(share !== undefined ? { dpuSeconds: share } : {}) };
}

/** The table's place for an even share of its pack's run: its own when the workflow told it, else the first (a share within a millionth of the exact one). */
function evenIndex(pack: Pick<PackRef, 'tables' | 'index'>): number {
  return pack.index !== undefined && pack.tables !== undefined && pack.index >= 0 && pack.index < pack.tables ? pack.index : 0;
}

/** Reads of a pack's summary before a transient failure (throttled, a 5xx) leaves the table's share unknown. */
const SUMMARY_READS = 3;

/** The pack's summary, read again after a transient failure, `pause` growing between reads. */
async function readSummary(packs: PackLoads, location: string, pause: (ms: number) => Promise<void>): Promise<PackSummary | undefined> {
  for (let read = 1; ; read++) {
    try {
      return await packs.readSummary(location);
    } catch (err) {
      if (read >= SUMMARY_READS || !(isPortError(err) && err.retryable)) throw err;
      await pause(read * 1_000);
    }
  }
}

/** Awaits `outcome`; when it fails, the run's DPU-seconds are the load's spent ones (once per run). */
async function spendOnFailure<T>(load: LoadState, key: string, status: LoadRunStatus, outcome: Promise<T>): Promise<T> {
  try {
    return await outcome;
  } catch (err) {
    spend(load, key, status);
    throw err;
  }
}

/** Adds a failed run's DPU-seconds to the load's spent ones, unless that run is already counted. */
function spend(load: LoadState, key: string, status: LoadRunStatus): void {
  const spent = load.spent ?? { runs: [], dpuSeconds: 0 };
  if (spent.runs.includes(key)) return;
  if (status.dpuSeconds === undefined) {
    // A run that ran was billed all the same: the load's cost says its figure is missing (a run that never started cost nothing).
    if (status.unstarted || status.state === 'running' || spent.unpriced?.includes(key)) return;
    load.spent = { ...spent, unpriced: [...(spent.unpriced ?? []), key] };
    return;
  }
  load.spent = {
    ...spent,
    runs: [...spent.runs, key],
    dpuSeconds: millionths(spent.dpuSeconds + status.dpuSeconds),
    ...(spent.executionClass || status.executionClass === 'FLEX' ? { executionClass: 'FLEX' as const } : {}),
  };
}

/** Why a load's DPU-seconds leave out runs that ran without a DPU figure (spend's `unpriced`), when a backend billed them. */
function unpricedRuns(table: string, spent: SpentRuns | undefined): string | undefined {
  const keys = spent?.unpriced?.filter((k) => !spent.runs.includes(k)) ?? [];
  if (keys.length === 0) return undefined;
  const named = keys.map((k) => (k.endsWith(`:${table}`) ? `the share of ${table} in pack run ${k.slice(0, -table.length - 1)}` : `run ${k} of ${table}`));
  return `${named.join(', ')} ended without a DPU figure: its DPU-seconds are left out (see the run in the Glue console)`;
}

function sumDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined && b === undefined ? undefined : millionths((a ?? 0) + (b ?? 0));
}

/** DPU-seconds to millionths: sums and shares of a run's figure stay exact to a millionth. */
function millionths(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** A failure no attempt follows: the workflow sees this one. */
function isFinal(failed: unknown): failed is ApplicationFailure {
  return failed instanceof ApplicationFailure && failed.nonRetryable === true;
}

/** The final failure with what the load's runs used in its details (the batch books it as the table's cost). */
function withUsage(failed: ApplicationFailure, usage: LoadUsage): ApplicationFailure {
  const details: LoadFailureDetails = { usage };
  return ApplicationFailure.create({
    message: failed.message,
    ...(failed.type ? { type: failed.type } : {}),
    nonRetryable: true,
    details: [...(failed.details ?? []), details],
    ...(failed.cause ? { cause: failed.cause } : {}),
  });
}

/**
 * The share of the table at `index` of its pack run's DPU-seconds: by the tables' seconds, or
 * evenly when no table took any; undefined without the run's figure or for an index the run does
 * not list. Shares are whole millionths cut from the run's figure at the tables' running sums
 * (largest-remainder by position), so the shares of one run add up to it exactly, each within a
 * millionth of its exact part: a cycle's and a source's cost sums equal the runs'.
 */
export function dpuShare(runDpuSeconds: number | undefined, index: number, allSeconds: number[]): number | undefined {
  if (runDpuSeconds === undefined || !Number.isInteger(index) || index < 0 || index >= allSeconds.length) return undefined;
  const run = Math.round(runDpuSeconds * 1e6);
  const weights = allSeconds.map((s) => (Number.isFinite(s) ? Math.max(0, s) : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  const even = !(total > 0);
  // The millionths of the run up to the end of table i, by the running sum of the weights before it.
  const cut = (i: number): number => {
    if (i <= 0) return 0;
    if (i >= weights.length) return run;
    const before = even ? i / weights.length : weights.slice(0, i).reduce((a, b) => a + b, 0) / total;
    return Math.min(run, Math.round(run * before));
  };
  return (cut(index + 1) - cut(index)) / 1e6;
}

export type PollPolicy = NonNullable<LoadPort['pollPolicy']>;

const HOUR_MS = 3_600_000;
/** Polls that follow the backoff alone, so that a short run is seen ending soon; the hourly budget paces the rest. */
const POLL_RAMP_CALLS = 6;

/**
 * The pause before the next poll, after `calls` polls over `elapsedMs` since the first: the backoff
 * (doubling from `initialMs` up to `maxMs`), stretched so that, past the first few, poll number k
 * comes no earlier than (k - ramp) hours / (budget - 1 - ramp). Poll number budget - 1 then comes
 * no earlier than the hour and the next one a pause later, so a run of an hour (or a little more)
 * is seen ending by poll number `maxCallsPerHour` at the latest.
 */
export function nextPollDelay(policy: PollPolicy, calls: number, elapsedMs: number): number {
  const backoff = Math.min(policy.initialMs * 2 ** Math.max(0, calls - 1), policy.maxMs);
  const budget = policy.maxCallsPerHour;
  if (!budget) return backoff;
  const ramp = Math.max(0, Math.min(POLL_RAMP_CALLS, budget - 2));
  const earliest = ((calls + 1 - ramp) * HOUR_MS) / Math.max(1, budget - 1 - ramp);
  return Math.max(backoff, Math.ceil(earliest - elapsedMs));
}

/** Polls a run until it is no longer running; `wait` sleeps between polls (and heartbeats). */
export async function pollUntilEnded(
  getRun: () => Promise<LoadRunStatus>,
  wait: (ms: number, status: LoadRunStatus) => Promise<void>,
  policy: PollPolicy,
  now: () => number = Date.now,
): Promise<LoadRunStatus> {
  const started = now();
  for (let calls = 1; ; calls++) {
    const status = await getRun();
    if (status.state !== 'running') return status;
    await wait(nextPollDelay(policy, calls, now() - started), status);
  }
}

/** The run of this load: the one an earlier attempt started, else a new one once no other run is on the lake table. */
async function startOrAttach(port: LoadPort, req: LoadRequest, load: LoadState, packing = false): Promise<{ runId: string; pack?: PackRef; loaded?: LoadResult }> {
  const ctx = Context.current();
  const table = req.plan.table;
  const earlier = await attachableRun(port, req, load);
  if (earlier) {
    ctx.log.info('re-attached to load run', { table, runId: earlier });
    return { runId: earlier };
  }
  const live = await claimLakeTable(port, req, load);
  if (live) {
    ctx.log.info('attached to the live run of this load on its lake table', { table, runId: live.runId, ...(live.pack ? { packToken: live.pack.token } : {}) });
    return { runId: live.runId, ...(live.pack ? { pack: { token: live.pack.token, runId: live.runId, tables: live.pack.tables } } : {}) };
  }
  // No run of this load to attach to, but a run of this cycle already loaded the table (its pack's
  // run, which its token does not find: the pack's start was refused or gave up after making it):
  // its succeeded result for this run token is the load's. A run of its own would load the table
  // a second time in the cycle. A result that cannot be read is no load's.
  const done = packing ? await port.readResult(req.resultLocation).catch(() => undefined) : undefined;
  if (done && done.runToken === req.runToken && committedResult(done)) {
    ctx.log.info('the table was already loaded for this run token (by its pack run): not loaded again', { table, runToken: req.runToken });
    return { runId: '', loaded: done };
  }
  const { runId } = await port.startLoad(req);
  ctx.log.info('started load run', { table, runId });
  return { runId };
}

/**
 * Makes this load the only one on its lake table. A live run of this same load (same run token,
 * also a pack's run that loads the table) is returned to attach to; any other one (left by a cycle that was terminated, reset or whose
 * load gave up) is stopped, and the load waits until it has ended before it starts its own.
 */
async function claimLakeTable(port: LoadPort, req: LoadRequest, load: LoadState): Promise<LiveLoadRun | undefined> {
  const ctx = Context.current();
  const target = `${req.namespace}.${req.plan.lakeTable}`;
  const since = Date.now();
  const stopped = new Set<string>();
  for (;;) {
    const live = await port.liveRuns(req.namespace, req.plan.lakeTable);
    const own = live.find((run) => run.runToken === req.runToken);
    if (own) return own;
    if (live.length === 0) return undefined;
    for (const run of live.filter((r) => !stopped.has(r.runId))) {
      ctx.log.warn('stopping the run of another load on the same lake table', { table: req.plan.table, lakeTable: target, runId: run.runId, runToken: run.runToken });
      await port.stopRun(run.runId);
      stopped.add(run.runId);
    }
    await waitEnded(port, live, since, `${req.plan.table} (lake table ${target})`, load);
  }
}

/** Polls runs asked to stop until none is running; a load that would wait past STOP_WAIT_MS fails (and is retried). */
async function waitEnded(port: LoadPort, runs: LiveLoadRun[], since: number, subject: string, load: LoadState): Promise<void> {
  const ctx = Context.current();
  const poll = port.pollPolicy ?? DEFAULT_POLL;
  let waitMs = poll.initialMs;
  let pending = runs;
  for (;;) {
    const states = await Promise.all(pending.map(async (run) => ({ run, status: await port.getRun(run.runId).catch(notFoundAsEnded) })));
    pending = states.filter((s) => s.status?.state === 'running').map((s) => s.run);
    if (pending.length === 0) return;
    const names = pending.map((run) => `${run.runId} (run token ${run.runToken || 'unknown'})`).join(', ');
    if (Date.now() - since > STOP_WAIT_MS) {
      throw ApplicationFailure.create({
        message: `load of ${subject} cannot start: run ${names} of another load on the lake table did not end within ${STOP_WAIT_MS / 60_000} minutes of being asked to stop; stop it in the backend (on AWS: the Glue console, job runs)`,
        type: 'LakeTableBusy',
        nonRetryable: false,
      });
    }
    await sleepHeartbeating(ctx, waitMs, beat(load, 'waiting', `waiting for run ${names} to stop`));
    waitMs = Math.min(waitMs * 2, poll.maxMs);
  }
}

/** A run that is gone (its record cleaned up) has ended. */
function notFoundAsEnded(err: unknown): undefined {
  if (isPortError(err) && err.kind === 'not-found') return undefined;
  throw err;
}

/**
 * Decides what an attempt's failure means. A cancelled load (a cancelled cycle, or its time
 * bound used up) stops its run. A final failure (not retryable, or `maxFailures` reached) stops
 * it too: nothing will watch it any more. A retryable one is counted in the heartbeat details,
 * which Temporal hands to the next attempt with the failure.
 */
async function attemptFailed(port: LoadPort, load: LoadState, maxFailures: number, err: unknown): Promise<unknown> {
  const ctx = Context.current();
  // An attempt that has learnt it was cancelled (also one that timed out while its error was on its
  // way) decides as a cancelled one: after a heartbeat timeout, or with a workflow that was reset,
  // another attempt may already be attached to this same run, so only a real cancellation or an
  // expired load stops it.
  if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) {
    if (ctx.cancellationDetails?.cancelRequested || loadExpired(ctx)) {
      if (load.runId) await stopQuietly(port, load, 'the load was cancelled');
      // A cancelled batch cancels every table of the pack: its run has no one left to load for.
      else if (load.packRunId) await stopQuietly(port, { ...load, runId: load.packRunId }, 'the loads of its pack were cancelled');
    }
    return err;
  }
  const failed = failure('load', load.table, err);
  if (failed.nonRetryable) {
    const stop = await stopQuietly(port, load, 'the load failed');
    return stop ? ApplicationFailure.create({ message: `${failed.message} (${stop.slice(2)})`, type: failed.type ?? 'LoadFailed', nonRetryable: true, ...(failed.cause ? { cause: failed.cause } : {}) }) : failed;
  }
  // A run that ended without starting (it expired in the job run queue) loaded nothing either: no
  // attempt is spent, but the load gives up after MAX_UNSTARTED_RUNS of them, saying why.
  const unstartedRun = err instanceof ApplicationFailure ? UNSTARTED_FAILURES.get(err) : undefined;
  if (unstartedRun !== undefined) {
    const unstarted = (load.unstarted ?? 0) + 1;
    if (unstarted >= MAX_UNSTARTED_RUNS) {
      return ApplicationFailure.create({
        message:
          `load of ${load.table} failed for good: ${unstarted} of its runs never started for want of capacity, the last ${unstartedRun}; ` +
          `raise the account's Glue quotas (concurrent job runs, concurrent DPUs) or lower aws.glue.maxConcurrentRuns and the source's concurrency, then rerun the table`,
        type: failed.type ?? 'LoadNeverStarted',
        nonRetryable: true,
      });
    }
    ctx.heartbeat({ ...beat({ ...load, unstarted }, 'retrying'), detail: failed.message.slice(0, 500) });
    return failed;
  }
  // A start refused for want of capacity made no run: the load waits for a slot (bounded by its
  // schedule-to-close time), and spends no attempt, or a busy job would fail tables that never ran.
  const failures = isPortError(err) && err.noCapacity ? load.failures : load.failures + 1;
  if (failures >= maxFailures) {
    const stop = await stopQuietly(port, load, 'the load failed for good');
    return ApplicationFailure.create({
      message: `${failed.message} (failure ${failures} of ${maxFailures}: retry.maximumAttempts is used up${stop}; fix the cause and rerun the table)`,
      type: failed.type ?? 'LoadFailed',
      nonRetryable: true,
      ...(failed.cause ? { cause: failed.cause } : {}),
    });
  }
  // The worker flushes this last heartbeat with the failure, so the next attempt sees the count.
  ctx.heartbeat({ ...beat({ ...load, failures }, 'retrying'), detail: failed.message.slice(0, 500) });
  return failed;
}

/** Whether the load's whole time bound (schedule-to-close) is used up: no attempt follows. */
function loadExpired(ctx: Context): boolean {
  const { scheduledTimestampMs, scheduleToCloseTimeoutMs, heartbeatTimeoutMs } = ctx.info;
  return Boolean(ctx.cancellationDetails?.notFound || ctx.cancellationDetails?.timedOut) && scheduleToCloseTimeoutMs > 0 && Date.now() >= scheduledTimestampMs + scheduleToCloseTimeoutMs - (heartbeatTimeoutMs ?? 0);
}

/** How long a cancelled (or finally failed) load waits for the run it stopped to end, for the DPU-seconds the backend reports once it has. */
export const STOPPED_RUN_WAIT_MS = 2 * 60_000;

/**
 * The final status of the run the load's cancellation (or final failure) stopped, its own or its pack's: polled until
 * the run has ended (Glue reports a STOPPED run's execution time and DPU-seconds), heartbeating,
 * for at most STOPPED_RUN_WAIT_MS. A pack's run is the table's as an even share (a stopped pack
 * writes no summary, and each of its cancelled tables takes its share). Undefined when there is no
 * run, an earlier attempt already counted it, it did not end in time, or it cannot be read: the
 * load's cost then leaves the run out.
 */
async function stoppedRunStatus(port: LoadPort, load: LoadState, pack?: PackRef): Promise<StoppedRun | undefined> {
  if (!load.runId && load.packRunId && pack?.tables && pack.runId === load.packRunId) {
    if (load.spent?.runs.includes(`${pack.runId}:${load.table}`)) return undefined;
    const read = await stoppedRunStatus(port, { ...load, runId: pack.runId });
    const status = read?.status;
    if (!status) return read;
    const { dpuSeconds: _run, executionSeconds: _all, ...rest } = status;
    const share = dpuShare(status.dpuSeconds, evenIndex(pack), new Array<number>(pack.tables).fill(0));
    return { status: share !== undefined ? { ...rest, dpuSeconds: share } : rest };
  }
  const runId = load.runId;
  if (!runId || load.spent?.runs.includes(runId)) return undefined;
  const ctx = Context.current();
  const poll = port.pollPolicy ?? DEFAULT_POLL;
  const until = Date.now() + STOPPED_RUN_WAIT_MS;
  let waitMs = poll.initialMs;
  try {
    for (;;) {
      const status = await port.getRun(runId);
      if (status.state !== 'running') return { status };
      if (Date.now() + waitMs > until) {
        ctx.log.warn("the stopped run did not end in time: the load's cost leaves it out", { table: load.table, runId });
        return { partial: `run ${runId} was stopped but did not end within ${STOPPED_RUN_WAIT_MS / 60_000} min: its DPU-seconds are left out` };
      }
      await pauseHeartbeating(ctx, waitMs, beat(load, 'stopping', `waiting for its stopped run ${runId} to end`));
      waitMs = Math.min(waitMs * 2, poll.maxMs);
    }
  } catch (err) {
    ctx.log.warn("the stopped run could not be read: the load's cost leaves it out", { table: load.table, runId, error: String(err) });
    return { partial: `run ${runId} was stopped but could not be read (${err instanceof Error ? err.message : String(err)}): its DPU-seconds are left out` };
  }
}

/** Sleeps `totalMs`, heartbeating; unlike Context.sleep it also waits once the activity is cancelled. */
/** A stopped run's figures once it ended, or why they are left out (it was billed all the same). */
type StoppedRun = { status: LoadRunStatus; partial?: undefined } | { status?: undefined; partial: string };

async function pauseHeartbeating(ctx: Context, totalMs: number, details: LoadHeartbeat): Promise<void> {
  const heartbeatMs = (ctx.info.heartbeatTimeoutMs ?? 60_000) / 2;
  for (let left = totalMs; left > 0; left -= heartbeatMs) {
    ctx.heartbeat(details);
    await delay(Math.min(left, heartbeatMs));
  }
}

/** Stops the load's run, if it has one; returns a note for the failure message. */
async function stopQuietly(port: LoadPort, load: LoadState, why: string): Promise<string> {
  if (!load.runId || load.ended) return '';
  const ctx = Context.current();
  try {
    await port.stopRun(load.runId);
    load.stopped = true;
    ctx.log.info(`stopped load run: ${why}`, { table: load.table, runId: load.runId });
    return `; its run ${load.runId} was stopped`;
  } catch (err) {
    load.unstoppable = true;
    ctx.log.warn('could not stop load run', { table: load.table, runId: load.runId, error: String(err) });
    return `; its run ${load.runId} could not be stopped (${(err as Error)?.message ?? String(err)}): the next load of the table stops it`;
  }
}

function beat(load: LoadState, state: string, detail?: string): LoadHeartbeat {
  return {
    ...(load.runId ? { runId: load.runId } : {}),
    table: load.table,
    state,
    ...(detail ? { detail } : {}),
    failures: load.failures,
    ...(load.packRunId ? { packRunId: load.packRunId } : {}),
    ...(load.alone ? { alone: true } : {}),
    ...(load.spent ? { spent: load.spent } : {}),
    ...(load.unstarted ? { unstarted: load.unstarted } : {}),
  };
}

/**
 * The run to re-attach to: the one in the heartbeat, else one found by run token; never a failed
 * one. A failed one was billed all the same: it joins the load's spent runs (once, by run id),
 * also when no attempt saw it end (its worker died while it ran).
 */
async function attachableRun(port: LoadPort, req: LoadRequest, load: LoadState): Promise<string | undefined> {
  const candidate = load.runId ?? (await port.findRunByToken(req));
  if (!candidate) return undefined;
  const status = await port.getRun(candidate);
  if (status.state !== 'failed') return candidate;
  const result = await ownResult(port, req, status);
  // Its job committed and wrote its result before the run ended badly: attached, the load takes that result (failedRun).
  if (!status.unstarted && result && committedResult(result)) return candidate;
  spend(load, candidate, status);
  // A failed run whose result says retrying cannot help fails the table now.
  if (result?.error && !retryable(result)) throw resultFailure(req, candidate, result);
  return undefined;
}

/**
 * The load's own result at its location: one another load wrote there (another run token), or an
 * earlier run of this load whose job began before this run started (the location is the same for
 * every run of the load), is none of its.
 */
async function ownResult(port: LoadPort, req: LoadRequest, run: Pick<LoadRunStatus, 'startedAt'>): Promise<LoadResult | undefined> {
  const result = await port.readResult(req.resultLocation);
  if (!result || (result.runToken && result.runToken !== req.runToken)) return undefined;
  const earlier = run.startedAt !== undefined && result.startedAt !== undefined && Date.parse(result.startedAt) < Date.parse(run.startedAt);
  return earlier ? undefined : result;
}

/** A result saying the job committed (or had nothing to commit) and ended well. */
function committedResult(result: LoadResult): boolean {
  return result.status === 'succeeded' && !result.error;
}

async function finishedResult(port: LoadPort, req: LoadRequest, runId: string, status: LoadRunStatus): Promise<LoadResult> {
  const result = await ownResult(port, req, status);
  if (!result) {
    throw ApplicationFailure.create({
      message: `load of ${req.plan.table} (run ${runId}) succeeded but wrote no result at ${req.resultLocation}: check the job's logs`,
      type: 'MissingResult',
      nonRetryable: true,
    });
  }
  if (result.status === 'failed') throw resultFailure(req, runId, result);
  Context.current().log.info('load finished', { table: req.plan.table, runId, seconds: status.executionSeconds, dpuSeconds: status.dpuSeconds });
  return result;
}

/** The failures of runs that never started, with the run and why: the load spends no attempt on them (attemptFailed). */
const UNSTARTED_FAILURES = new WeakMap<ApplicationFailure, string>();

/**
 * Why the run failed, thrown; or, when its job had committed and written its result before the run
 * ended badly (a failure in the job's last step, a timeout during shutdown), that result: the
 * table is in the lake, and a new run would load it again.
 */
async function failedRun(port: LoadPort, req: LoadRequest, runId: string, status: LoadRunStatus): Promise<LoadResult> {
  if (status.unstarted) {
    // It wrote nothing: a result at the location is an earlier run's, none of this one's.
    const failed = ApplicationFailure.create({
      message: `load of ${req.plan.table} failed (run ${runId}, ${status.detail ?? 'FAILED'}): the run never started: ${runError(runId, status)} (a new run is started after a backoff)`,
      type: `Load${status.detail ?? 'Failed'}`,
      nonRetryable: false,
    });
    UNSTARTED_FAILURES.set(failed, `run ${runId} (${status.detail ?? 'FAILED'}): ${runError(runId, status)}`);
    throw failed;
  }
  const result = await ownResult(port, req, status);
  if (result?.error) throw resultFailure(req, runId, result);
  if (result && committedResult(result)) {
    Context.current().log.warn('load run ended badly after its job wrote a succeeded result: the result counts', { table: req.plan.table, runId, state: status.detail, error: status.errorMessage });
    return result;
  }
  // The backend says whether a new run may help (no capacity, its own error).
  const retry = status.retryable ? ' (a new run is started after a backoff)' : '';
  throw ApplicationFailure.create({
    message: `load of ${req.plan.table} failed (run ${runId}, ${status.detail ?? 'FAILED'}): ${runError(runId, status)}${retry}`,
    type: `Load${status.detail ?? 'Failed'}`,
    nonRetryable: !status.retryable,
  });
}

/** The job decides whether a retry can help (glue/lakesync_glue/errors.py). */
function retryable(result: LoadResult): boolean {
  return result.error?.retryable === true;
}

/**
 * How much of a job's error a load's failure carries: Temporal refuses a failure above 2 MB (its
 * message and its stack, which repeats the message) and keeps only "Activity task failed".
 */
export const LOAD_ERROR_CHARACTERS = 8_000;

/** A job's error as the load's failure carries it: its start when long, saying where the whole is. */
function jobError(message: string, where: string): string {
  return keptStart(message, LOAD_ERROR_CHARACTERS, where);
}

/** The error a job run ended with (the backend's status), as the load's failure carries it. */
function runError(runId: string, status: LoadRunStatus): string {
  return jobError(status.errorMessage ?? 'no error message', `the whole error is that of job run ${runId}`);
}

function resultFailure(req: LoadRequest, runId: string, result: LoadResult): ApplicationFailure {
  const cls = result.error?.class ?? 'InternalError';
  // The command to run, named once: the job's own message says what it refused.
  const approve = ` lakesync rerun ${req.source} --tables ${req.plan.table} --approve-deletes.`;
  const hint = cls === 'DeleteGuard' ? ` To apply them:${approve}` : cls === 'EmptyExport' ? ` To load the empty export all the same:${approve}` : '';
  // Not retried: without the flag there is no telling whether a retry can help.
  const noFlag =
    typeof result.error?.retryable === 'boolean'
      ? ''
      : " The job's result has no retryable flag, so the deployed job version may not match this worker's; not retrying.";
  return ApplicationFailure.create({
    message: `load of ${req.plan.table} failed (run ${runId}): ${cls}: ${jobError(result.error?.message ?? 'unknown error', `the whole error is in the run's result at ${req.resultLocation}`)}.${hint}${noFlag}`,
    type: cls,
    nonRetryable: !retryable(result),
  });
}

async function sleepHeartbeating(ctx: Context, totalMs: number, details: LoadHeartbeat): Promise<void> {
  const heartbeatMs = (ctx.info.heartbeatTimeoutMs ?? 60_000) / 2;
  let left = totalMs;
  while (left > 0) {
    const slice = Math.min(left, heartbeatMs);
    await ctx.sleep(slice);
    ctx.heartbeat(details);
    left -= slice;
  }
}
