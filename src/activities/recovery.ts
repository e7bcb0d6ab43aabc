/**
 * After a cycle workflow failed or was terminated, the source workflow has no result from it.
 * This activity reads each planned table's outcome back from where it is durable: the cycle's
 * plan and export in the manifest store, and the lineage every commit records in the lake.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { type ExportVolume, tableCost } from '../cost/ledger';
import type { SourceConfig } from '../config/schema';
import { cycleManifestKeys, exportIdFor, runTokenFor, tableExportIdFor } from '../ids';
import type { CostTotals, DiscoveredTable, ExportRef, TableExportRef, JsonRef, LakeCommit, LoadSummary, PackSummary, PlanEntry, SnapshotRef, TableError, TableName, TableOutcome, VerifyOutcome } from '../model';
import type { CycleRuns, Ports } from '../ports';
import type { ReusableExport } from '../workflows/messages';
import { RECOVERY_ATTEMPTS } from '../workflows/options';
import { type ActivityDeps, failure, findManifest, sourceOf, step, unlessNotFound } from './deps';
import { costBasis, packRunShare, type RecordedTableExports, unsizedExport } from './load';
import { exportTotals } from './cycle';
import { publishActivities, type VerifyTableInput } from './publish';
import { RecoveryProgress, type SettledTable } from './recovery-progress';
import { carryingHeartbeatDetails } from './verify';
import { storedIfLarge } from './stored-parts';

export interface RecoverCycleInput {
  source: string;
  cycleId: string;
  /** Why the cycle (or one of its batches) ended: the error of every planned table that did not commit. */
  error: string;
  /** The export a rerun cycle reused (a sync cycle's own export is in the manifest store). */
  reuse?: ReusableExport;
  /** The workflow's inline payload limit: outcomes larger than it are stored and returned by reference. */
  payloadInlineBytes?: number;
  /** Only these planned tables (a dead batch's): the other batches' tables have their outcomes, verified already. */
  tables?: TableName[];
}

export interface RecoveredCycle {
  snapshot?: SnapshotRef;
  export?: ExportRef;
  /** Empty when `tablesRef` holds them. */
  tables: TableOutcome[];
  /** The outcomes as JSON text parts in the manifest store, when inline they would exceed the limit. */
  tablesRef?: JsonRef;
  /** The cost of its own export, for a cycle that died before its plan (no table outcome carries it); a cycle-level figure. */
  cost?: CostTotals;
  warnings: string[];
}

export function recoveryActivities(deps: ActivityDeps) {
  const publish = publishActivities(deps);
  return {
    /**
     * Every table of the dead cycle's plan: committed when the lake table's newest commit carries
     * this cycle's id and it passes the grant and verification a batch gives a table (its watermark
     * advances), failed with the cycle's error otherwise. A commit that fails them is failed in that phase.
     */
    async recoverCycleOutcomes(input: RecoverCycleInput): Promise<RecoveredCycle> {
      // Its start-to-close timeout counts from here (the time it was scheduled may be long before).
      const startedAt = Date.now();
      const { settings, ports } = sourceOf(deps, input.source);
      return step('recovery', `cycle ${input.cycleId}`, async () => {
        const lastCommit = ports.lake.lastCommit?.bind(ports.lake);
        if (!lastCommit) return { tables: [], warnings: ["this backend's lake cannot tell a table's last commit, so the cycle's table outcomes are unknown"] };
        const plan = await findManifest<PlanEntry[]>(ports, cycleManifestKeys.plan(input.cycleId));
        if (!plan) {
          // Its export was billed all the same: no table outcome carries it, so the cycle does.
          const warnings = ['the cycle ended before it planned its tables'];
          const cost = await unplannedExportCost(ports, settings, input, warnings);
          return { tables: [], ...(cost ? { cost } : {}), warnings };
        }
        const exported = (await findManifest<ExportRef>(ports, cycleManifestKeys.export(input.cycleId))) ?? input.reuse?.export;

        const namespace = settings.target.namespace;
        const wanted = input.tables ? new Set(input.tables) : undefined;
        const entries = plan.filter((entry) => entry.action !== 'skip' && (!wanted || wanted.has(entry.table)));
        const progress = await RecoveryProgress.resume(ports, input.cycleId);
        const settleTable = async (entry: PlanEntry, signal?: AbortSignal): Promise<SettledTable> => {
          const base = outcomeBase(entry);
          let commit: LakeCommit | undefined;
          try {
            commit = await lastCommit(namespace, entry.lakeTable);
          } catch (err) {
            // Unread on the last attempt (or refused for good), that table alone is failed: the others keep their outcomes.
            if (err instanceof CancelledFailure) throw err;
            const f = failure('lineage read', `lake table ${namespace}.${entry.lakeTable}`, err);
            retryIfPassing(f);
            const message = `the cycle ended (${input.error}) and whether ${entry.table} committed could not be read from its lake table's lineage: ${f.message}; rerun the table (lakesync rerun ${input.source} --tables ${entry.table})`;
            return { outcome: { ...base, status: 'failed', error: { phase: 'load', message, type: f.type ?? 'Error', retryable: !f.nonRetryable } } };
          }
          if (commit?.cycleId !== input.cycleId || (commit.source !== undefined && commit.source !== input.source)) {
            return { outcome: { ...base, status: 'failed', error: { phase: 'load', message: `the cycle ended before ${entry.table} committed: ${input.error}`, type: 'CycleEnded', retryable: true } } };
          }
          const dynamo = entry.extract?.kind === 'dynamodb';
          const result = await resultUnlessUnread(entry.table, () => resultOf(ports, input, entry, exported, settings.database, namespace, commit));
          // A DynamoDB load's result has its counts; the exports it read are the plan's, the export time reached its commit's.
          let load: LoadSummary = dynamo ? { ...(result ?? fromLineage(entry, commit)), ...pick(dynamoFromLineage(input, entry, commit), 'extract', 'dynamodb') } : (result ?? fromLineage(entry, commit));
          // Without the load's result JSON its counts are unknown (0 in `load`): verification must not hold the lake to them.
          const countsUnknown = entry.extract?.kind !== 'dynamodb' && !result;
          // What the lake commit recorded of what it wrote stands in for them, where it tells them exactly.
          const written = result ? undefined : writtenBy(entry, commit);
          if (written) load = { ...load, ...written.load };
          // The exports' item counts its load recorded: verification holds the commit to them, as the batch would have.
          const tableExports = dynamo ? await recordedExports(ports, input, entry, commit) : undefined;
          if (tableExports && load.dynamodb) load = { ...load, dynamodb: { ...load.dynamodb, records: tableExports.reduce((n, e) => n + e.itemCount, 0) } };
          const recovered = { source: input.source, table: entry.table, lakeTable: entry.lakeTable, action: entry.action, exported, plan: entry, load, countsUnknown, ...(tableExports ? { tableExports } : {}) };
          const published = await carryingHeartbeatDetails(() => progress.details(), () => publishProblem(publish, recovered, settings), signal);
          const unpublished = published.error;
          // Without the result JSON, the rows the lake holds are those verification counted (when it counted the whole table).
          const counted = countsUnknown && published.rowCount !== undefined;
          const settledLoad = counted ? { ...load, rowCountAfter: published.rowCount! } : load;
          const unknown = written ? ` (its load's result is missing or unreadable: ${written.told(counted ? 'verification' : undefined)})` : '';
          const outcome: TableOutcome = unpublished
            ? { ...base, status: 'failed', load, error: unpublished }
            : { ...base, status: 'committed', load: settledLoad, ...(settings.verify.enabled ? { verified: true } : {}), reason: `recovered from the lake's lineage${unknown}: ${input.error}`, finishedAt: commit.committedAt };
          return { outcome, commit };
        };
        // The last attempt must return before its timeout, else the server fails it and every outcome with it:
        // it takes no new table once two thirds of its time are used, stops waiting for the tables being
        // settled (a verification of many checks takes far longer) at five sixths, and fails those it did
        // not settle, for a rerun.
        const { attempt, startToCloseTimeoutMs } = Context.current().info;
        const last = attempt >= RECOVERY_ATTEMPTS && startToCloseTimeoutMs > 0;
        const time = last ? { stopAt: startedAt + Math.floor((startToCloseTimeoutMs * 2) / 3), giveUpAt: startedAt + Math.floor((startToCloseTimeoutMs * 5) / 6) } : undefined;
        const outOfTime = (entry: PlanEntry, started: boolean): SettledTable => {
          const base = outcomeBase(entry);
          const each = `${Math.round(startToCloseTimeoutMs / 6_000) / 10} minutes each`;
          const what = started
            ? `while it read ${entry.table} back from the lake, granted and verified it: whether it committed and passed verification is not known`
            : `before it read ${entry.table} back from the lake: whether it committed is not known`;
          const message = `the cycle ended (${input.error}) and its recovery ran out of time (attempt ${attempt} of ${RECOVERY_ATTEMPTS}, ${each}) ${what}; rerun the table (lakesync rerun ${input.source} --tables ${entry.table})`;
          return { outcome: { ...base, status: 'failed', error: { phase: 'load', message, type: 'RecoveryOutOfTime', retryable: true } } };
        };
        const settled = await settleAll(entries, progress, settleTable, time, outOfTime);
        const sizes = await ownExportSizes(ports, input, exported);
        const warnings: string[] = [];
        const runs = await cycleRunUsage(ports, settings, input, new Set(entries.map((e) => e.table)), warnings);
        const dynamo = await dynamoExportVolumes(ports, input, entries);
        const tables = settled.map((s) => withCost(s.outcome, sizes, runs, dynamo, settings));
        // The whole cycle died: the tables its plan refused are its outcomes too (a dead batch's cycle has them).
        if (!input.tables) {
          try {
            const refused = (await findManifest<TableOutcome[]>(ports, cycleManifestKeys.refused(input.cycleId))) ?? [];
            const settledTables = new Set(tables.map((t) => t.table));
            tables.push(...refused.filter((t) => !settledTables.has(t.table)));
          } catch (err) {
            retryIfPassing(err);
            warnings.push(`the tables the cycle's plan refused could not be read back (${err instanceof Error ? err.message : String(err)}): the next cycle reports them again`);
          }
        }
        const commits = settled.flatMap((s) => (s.commit ? [s.commit] : []));
        const snapshot = exported ? await snapshotOf(ports, exported, input.reuse, commits) : undefined;
        // Its heartbeats keep the progress: an attempt that fails while storing goes on from the tables settled.
        const outcomes = await inlineOrStored(ports, input, tables, () => progress.details());
        await progress.discard();
        return { ...(snapshot ? { snapshot } : {}), ...(exported ? { export: exported } : {}), ...outcomes, warnings };
      });
    },
  };
}

/**
 * GB by table of the cycle's own RDS export; `unread` says why they are missing when its sizes
 * could not be read; `own` is that export's id when the sizes are those of the cycle's own export
 * (a table it lists without a size was billed all the same).
 */
type ExportSizes = Map<TableName, number> & { unread?: string; own?: string };

/**
 * The size (GB) of each table's part of the dead cycle's own RDS export, by table: the export was
 * billed whether or not the table committed, and the outcomes the dead batch held (with their
 * costs) are lost. Empty for a reused export (the cycle that took it paid for it), and when the
 * sizes cannot be read (the costs then leave them out, as a load's does).
 */
async function ownExportSizes(ports: Ports, input: RecoverCycleInput, exported: ExportRef | undefined): Promise<ExportSizes> {
  const costs: ExportSizes = new Map<TableName, number>();
  if (!exported || exported.exportId !== exportIdFor(input.source, input.cycleId)) return costs;
  costs.own = exported.exportId;
  let discovered: DiscoveredTable[] | undefined;
  try {
    discovered = await findManifest<DiscoveredTable[]>(ports, cycleManifestKeys.discovery(input.cycleId));
  } catch (err) {
    retryIfPassing(err);
    Context.current().log.warn("the export sizes of the cycle's tables are unknown: their costs leave them out", { cycleId: input.cycleId, error: String(err) });
    // Billed all the same: each table the export holds says its GB are left out, and why.
    costs.unread = `the export sizes of the cycle's own export ${exported.exportId} could not be read (${err instanceof Error ? err.message : String(err)}): its GB for the table are left out`;
  }
  for (const t of discovered ?? []) {
    if (t.sizeGB !== undefined) costs.set(t.table, t.sizeGB);
  }
  return costs;
}

/**
 * The cost of the dead cycle's own RDS export when it died before its plan: the export as its
 * discovery recorded it, else as its start did; the sizes from its discovery, else from the
 * export's listing once the export is complete (sizes it lacks make it partial, see exportTotals).
 * Undefined for a reused export and one that did not complete; a read of its size that fails for good books no GB but a partial figure, with a warning. One still running (RDS
 * bills it when it completes, and nothing reads it back later) books no GB but a partial figure,
 * with a warning saying why.
 */
async function unplannedExportCost(ports: Ports, settings: SourceConfig, input: RecoverCycleInput, warnings: string[]): Promise<CostTotals | undefined> {
  /** The cycle's own export, once known: a failure to size it after that leaves a billed export out. */
  let own: string | undefined;
  try {
    const ref = (await findManifest<ExportRef>(ports, cycleManifestKeys.export(input.cycleId))) ?? (await findManifest<ExportRef>(ports, cycleManifestKeys.startedExport(input.cycleId)));
    if (!ref || ref.exportId !== exportIdFor(input.source, input.cycleId)) return undefined;
    own = ref.exportId;
    let discovered = await findManifest<DiscoveredTable[]>(ports, cycleManifestKeys.discovery(input.cycleId));
    if (!discovered) {
      const status = await unlessNotFound(() => ports.export.describeExport(ref.exportId));
      if ((status?.state === 'starting' || status?.state === 'in_progress') && costBasis(settings) !== 'none') {
        const progress = status.percentProgress !== undefined ? `, ${status.percentProgress}% done` : '';
        const why = `the cycle's RDS export ${ref.exportId} was still running (${status.state}${progress}) when the dead cycle was read back: its GB are not known yet, so its cost is partial (see the export in the RDS console for its size once complete)`;
        warnings.push(why);
        return { basis: costBasis(settings), tables: 0, partial: 1, partialReason: why };
      }
      if (status?.state !== 'complete') return undefined;
      discovered = (await ports.discover.discover(ref)).tables;
    }
    const totals = exportTotals(settings, discovered, ref.exportId);
    if (totals?.partialReason) warnings.push(`the cycle's export cost is a lower bound: ${totals.partialReason}`);
    return totals;
  } catch (err) {
    retryIfPassing(err);
    Context.current().log.warn("the export size of the cycle is unknown: it books no export cost", { cycleId: input.cycleId, error: String(err) });
    // Its own export was billed all the same: the cycle's cost says it is left out, and why.
    if (!own || costBasis(settings) === 'none') return undefined;
    const why = `the size of the cycle's RDS export ${own} could not be read (${err instanceof Error ? err.message : String(err)}): its GB are left out, so its cost is partial (see the export in the RDS console for its size)`;
    warnings.push(why);
    return { basis: costBasis(settings), tables: 0, partial: 1, partialReason: why };
  }
}

/** What the ended runs of one table's loads in the dead cycle used. */
interface RunUsage {
  dpuSeconds?: number;
  executionClass?: 'FLEX';
  modelled?: true;
  /** Why the DPU-seconds are a lower bound (a run still going, runs not listed). */
  partial?: string;
}

/**
 * The DPU-seconds of the ended runs of the dead cycle's loads, by table (those of `tables`): the
 * runs were billed, and the loads that would have reported them are gone. A pack's run is shared
 * among its tables as a live pack's loads share it (by the seconds in its summary, else evenly).
 * A run still going, or one Glue billed that ended without a DPU figure, is left out and makes the
 * table's cost partial, saying which run. Empty where the backend cannot list
 * a cycle's runs (the embedded mode: nothing is billed), and when the listing fails for good.
 */
async function cycleRunUsage(ports: Ports, settings: SourceConfig, input: RecoverCycleInput, tables: Set<TableName>, warnings: string[]): Promise<Map<TableName, RunUsage>> {
  const usage = new Map<TableName, RunUsage>();
  const list = ports.load.cycleRuns?.bind(ports.load);
  if (!list) return usage;
  let runs: CycleRuns['runs'];
  /** Why every table's DPU-seconds may miss runs: a listing that did not reach them all. */
  let unlisted: string | undefined;
  try {
    const listed = await list(input.cycleId);
    runs = listed.runs;
    for (const { runId, reason } of listed.unread) {
      warnings.push(`Glue run ${runId} of the cycle is left out of its tables' costs (${reason}): the cycle's DPU-seconds are understated by that run's`);
    }
    const why = [
      ...(listed.truncated ? [`only the newest ${listed.truncated.runs} runs of the load job were read back`] : []),
      ...(listed.unread.length > 0 ? [`the tables of run(s) ${listed.unread.map((u) => u.runId).join(', ')} could not be read`] : []),
    ];
    if (why.length > 0) unlisted = `${why.join('; ')}: runs of the table may be left out`;
  } catch (err) {
    retryIfPassing(err);
    Context.current().log.warn("the runs of the cycle could not be listed: its tables' costs leave them out", { cycleId: input.cycleId, error: String(err) });
    // Billed all the same: every table's cost says its runs are left out, and why.
    const why = `the runs of the cycle could not be listed (${err instanceof Error ? err.message : String(err)}): their DPU-seconds are left out`;
    for (const table of tables) usage.set(table, { partial: why });
    return usage;
  }
  // A pack's summary is read once for all its tables.
  const summaries = new Map<string, Promise<PackSummary | undefined>>();
  const addPartial = (table: TableName, why: string) => {
    const sum = usage.get(table);
    usage.set(table, { ...sum, partial: sum?.partial ? `${sum.partial}; ${why}` : why });
  };
  for (const run of runs) {
    const { table, pack } = run;
    if (!tables.has(table)) continue;
    if (run.status.state === 'running') {
      // Billed for as long as it goes: its figure so far is not final, and nothing books it later.
      addPartial(table, `run ${run.status.runId} (${run.status.detail ?? 'RUNNING'}) was still going when the dead cycle was read back: its DPU-seconds are left out`);
      continue;
    }
    if (run.status.dpuSeconds === undefined) {
      // A Glue run that ran was billed: without its figure the table's cost is short, and says so.
      // One that never started (it expired in the queue) cost nothing; a backend that bills nothing has no figure to miss.
      if (!run.status.unstarted && costBasis(settings, run.status) === 'glue') {
        addPartial(table, `run ${run.status.runId} (${run.status.detail ?? run.status.state}) of ${table} ended without a DPU figure: its DPU-seconds are left out (see the run in the Glue console)`);
      }
      continue;
    }
    const packs = ports.load.packs;
    if (pack && !packs) continue;
    const status = pack && packs ? await packRunShare(packs, { source: input.source, cycleId: input.cycleId, table }, pack, run.status, (ms) => delay(ms), summaries) : run.status;
    if (pack && status.dpuSeconds === undefined && (await summaries.get(pack.token)?.then(() => false, () => true))) {
      addPartial(table, `the summary of pack ${pack.token} (run ${run.status.runId}) could not be read: the table's share of the run's DPU-seconds is left out`);
      continue;
    }
    if (pack && status.dpuSeconds === undefined) {
      // The run was billed, but its summary gives the table no line (it died before writing it): its share is unknown, not 0.
      const summary = await summaries.get(pack.token);
      if (summary && !summary.tables.some((t) => t.table === table)) {
        addPartial(table, `the summary of pack ${pack.token} (run ${run.status.runId}) does not list ${table}: the table's share of the run's DPU-seconds is left out (see the run in the Glue console)`);
      }
      continue;
    }
    if (status.dpuSeconds === undefined) continue;
    const sum = usage.get(table);
    usage.set(table, {
      dpuSeconds: Math.round(((sum?.dpuSeconds ?? 0) + status.dpuSeconds) * 1e6) / 1e6,
      ...(sum?.executionClass || status.executionClass === 'FLEX' ? { executionClass: 'FLEX' as const } : {}),
      ...(sum?.modelled || status.modelled ? { modelled: true as const } : {}),
      ...(sum?.partial ? { partial: sum.partial } : {}),
    });
  }
  if (unlisted) for (const table of tables) addPartial(table, unlisted);
  return usage;
}

/** The DynamoDB exports a dead cycle took for one table: their sizes (unknown ones without bytes). */
interface DynamoVolumes {
  volumes: ExportVolume[];
  modelled?: true;
  /** Why the table's export GB are unknown: its exports still running or unreadable, by id. */
  partial?: string;
}

/**
 * The DynamoDB exports of the dead cycle's tables, as their starts recorded them (DynamoDB knows an
 * export by its ARN only): the billed bytes of each complete one, no size for one still going or
 * unreadable (the table's export GB are then unknown, not understated). An export never started,
 * or failed, was not billed.
 */
async function dynamoExportVolumes(ports: Ports, input: RecoverCycleInput, entries: PlanEntry[]): Promise<Map<TableName, DynamoVolumes>> {
  const out = new Map<TableName, DynamoVolumes>();
  const port = ports.tableExport;
  if (!port) return out;
  for (const entry of entries) {
    if (entry.extract?.kind !== 'dynamodb') continue;
    const volumes: ExportVolume[] = [];
    const unknown: string[] = [];
    let modelled = false;
    for (const [i, window] of entry.extract.exports.entries()) {
      const exportId = tableExportIdFor(input.source, input.cycleId, entry.table, i);
      const key = cycleManifestKeys.startedTableExport(input.cycleId, exportId);
      try {
        const ref = await findManifest<TableExportRef>(ports, key);
        if (!ref) continue;
        const status = await port.describeTableExport(ref);
        if (status.state === 'failed') continue;
        if (status.modelled) modelled = true;
        const bytes = status.state === 'complete' ? status.billedBytes : undefined;
        if (bytes === undefined) unknown.push(status.state === 'complete' ? `DynamoDB export ${exportId} reported no billed size` : `DynamoDB export ${exportId} was still running when the dead cycle was read back`);
        volumes.push({ kind: window.type, ...(bytes !== undefined ? { bytes } : {}) });
      } catch (err) {
        retryIfPassing(err);
        unknown.push(`DynamoDB export ${exportId} could not be read (${err instanceof Error ? err.message : String(err)})`);
        volumes.push({ kind: window.type });
      }
    }
    const partial = unknown.length > 0 ? `${unknown.join('; ')}: the table's export GB are unknown` : undefined;
    if (volumes.length > 0) out.set(entry.table, { volumes, ...(modelled ? { modelled: true as const } : {}), ...(partial ? { partial } : {}) });
  }
  return out;
}

/** A table's outcome with its cost: its part of the cycle's own RDS export, or its DynamoDB exports, and its runs, when known. */
function withCost(outcome: TableOutcome, sizes: ExportSizes, runs: Map<TableName, RunUsage>, dynamo: Map<TableName, DynamoVolumes>, settings: SourceConfig): TableOutcome {
  if (outcome.cost) return outcome;
  const gb = outcome.extract ? undefined : sizes.get(outcome.table);
  const exports = outcome.extract === 'dynamodb' ? dynamo.get(outcome.table) : undefined;
  const volumes: ExportVolume[] = exports?.volumes ?? (gb !== undefined ? [{ kind: 'rds', gb }] : []);
  const run = runs.get(outcome.table);
  // The table's part of the cycle's own RDS export, whose size could not be read or is not in the
  // export's table list (a direct or DynamoDB table has none): billed all the same.
  const sizeless = sizes.own && gb === undefined && costBasis(settings) === 'glue' ? unsizedExport(outcome.table, sizes.own) : undefined;
  const unsized = !outcome.extract ? (sizes.unread ?? sizeless) : undefined;
  if (volumes.length === 0 && !run && !unsized) return outcome;
  const basis = costBasis(settings, run?.modelled || exports?.modelled ? { modelled: true } : {});
  const cost = tableCost(basis, run?.dpuSeconds, volumes, settings.cost, run?.executionClass);
  const partial = [run?.partial, exports?.partial, unsized].filter((p): p is string => p !== undefined).join('; ');
  return { ...outcome, cost: partial ? { ...cost, partial } : cost };
}

/** What every outcome of a planned table starts with, committed or failed. */
function outcomeBase(entry: PlanEntry): Pick<TableOutcome, 'table' | 'lakeTable' | 'action' | 'extract'> {
  return { table: entry.table, lakeTable: entry.lakeTable, action: entry.action, ...(entry.extract ? { extract: entry.extract.kind } : {}) };
}

/** Tables settled at once: each is a lineage read and, for a commit, a grant and a verification (Athena queries). */
export const RECOVERY_LANES = 4;

/**
 * Every entry's settled table, in plan order: those an earlier attempt settled as they were, the
 * others settled `RECOVERY_LANES` at a time and recorded in the progress as they end. The progress is
 * written out even when a table's settling throws, so that the retry does not repeat the others.
 */
async function settleAll(
  entries: PlanEntry[],
  progress: RecoveryProgress,
  settleTable: (entry: PlanEntry, signal?: AbortSignal) => Promise<SettledTable>,
  /**
   * When set (epoch ms): no table is taken after `stopAt`, and the tables still being settled at
   * `giveUpAt` are given up (their verification stopped). Those not settled get `unsettled`'s outcome.
   */
  time?: { stopAt: number; giveUpAt: number },
  unsettled?: (entry: PlanEntry, started: boolean) => SettledTable,
): Promise<SettledTable[]> {
  const out: SettledTable[] = new Array(entries.length);
  const todo: number[] = [];
  entries.forEach((entry, i) => {
    const earlier = progress.settled.get(entry.table);
    if (earlier) out[i] = earlier;
    else todo.push(i);
  });
  const heartbeatMs = Context.current().info.heartbeatTimeoutMs;
  // Lineage reads and grants do not heartbeat themselves; settled tables are written while a slow verification runs.
  const timer = heartbeatMs
    ? setInterval(() => {
        progress.heartbeat();
        progress.flushIfOld().catch(() => undefined);
      }, Math.max(500, Math.floor(heartbeatMs / 3)))
    : undefined;
  let next = 0;
  let failure: { error: unknown } | undefined;
  /** Set once the tables still being settled are given up: what they end with is dropped. */
  const givenUp = new AbortController();
  const started = new Set<number>();
  const lane = async () => {
    while (!givenUp.signal.aborted && !failure && next < todo.length && !(time && Date.now() >= time.stopAt)) {
      const i = todo[next++]!;
      const entry = entries[i]!;
      started.add(i);
      progress.heartbeat({ table: entry.table });
      try {
        const settled = await settleTable(entry, givenUp.signal);
        if (givenUp.signal.aborted) return;
        out[i] = settled;
        await progress.settle(settled);
      } catch (error) {
        // The other lanes stop after their table; what they settled is kept for the retry.
        if (!givenUp.signal.aborted) failure ??= { error };
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: Math.min(RECOVERY_LANES, todo.length) }, lane));
  if (time) {
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([lanes, new Promise<void>((resolve) => (deadline = setTimeout(resolve, Math.max(0, time.giveUpAt - Date.now()))))]);
    clearTimeout(deadline);
    givenUp.abort();
  } else {
    await lanes;
  }
  if (timer) clearInterval(timer);
  if (failure) {
    await progress.flush().catch(() => undefined);
    throw failure.error;
  }
  await progress.flush();
  for (const i of todo) if (!out[i] && unsettled) out[i] = unsettled(entries[i]!, started.has(i));
  return out;
}

interface RecoveredCommit {
  source: string;
  table: string;
  lakeTable: string;
  action: PlanEntry['action'];
  exported: ExportRef | undefined;
  plan: PlanEntry;
  load: LoadSummary;
  /** The load's result JSON is missing: `load` has the lineage's figures only. */
  countsUnknown: boolean;
  /** A DynamoDB load's exports with DynamoDB's item counts, as its load recorded them; absent when it recorded none. */
  tableExports?: RecordedTableExports['exports'];
}

/**
 * The exports a DynamoDB commit of this cycle read, as its load recorded them before its run: only
 * when the last of them is the export the commit records (a load of a worker before the record has none).
 */
async function recordedExports(ports: Ports, input: RecoverCycleInput, entry: PlanEntry, commit: LakeCommit): Promise<RecordedTableExports['exports'] | undefined> {
  let recorded: RecordedTableExports | undefined;
  try {
    recorded = await findManifest<RecordedTableExports>(ports, cycleManifestKeys.tableExports(input.cycleId, entry.table));
  } catch (err) {
    retryIfPassing(err);
    return undefined;
  }
  const exports = recorded?.table === entry.table ? recorded.exports : undefined;
  if (!exports?.length || (commit.exportId !== undefined && exports.at(-1)!.exportId !== commit.exportId)) return undefined;
  return exports;
}

/**
 * A recovered commit gets what the dead batch may not have given it: the grant, then the
 * verification (a watermark advances only for a verified table when verification is on). Their
 * error, or none when both passed or are off; with the lake's row count at the commit when the
 * verification counted the whole table (it holds exactly the export's rows). A DynamoDB load's
 * commit is held to its exports' item counts its load recorded; without them (a load of an earlier
 * version) its verification cannot run: it is failed, for a rerun.
 */
async function publishProblem(publish: ReturnType<typeof publishActivities>, c: RecoveredCommit, settings: ReturnType<typeof sourceOf>['settings']): Promise<{ error?: TableError; rowCount?: number }> {
  const ended = `the cycle ended after ${c.table} committed and before it was`;
  if (settings.grants.length > 0) {
    try {
      await publish.grantTable(c.source, c.lakeTable);
    } catch (err) {
      retryIfPassing(err);
      return { error: recoveryError('grant', err, `${ended} granted; granting it now failed`) };
    }
  }
  if (!settings.verify.enabled) return {};
  const rerun = `rerun the table (lakesync rerun ${c.source} --tables ${c.table})`;
  if (c.plan.extract?.kind === 'dynamodb') {
    if (!c.tableExports) {
      return { error: { phase: 'verify', message: `${ended} verified, and its DynamoDB exports' item counts are not known here (its load recorded none): ${rerun}`, type: 'VerificationFailed', retryable: true } };
    }
    // From INCREMENTAL exports the lake's count must move by the keys the load inserted less those it deleted: unknown without its result.
    if (c.load.changesUnknown && !c.tableExports.some((e) => e.window.type === 'FULL')) {
      return { error: { phase: 'verify', message: `${ended} verified, and the rows its load inserted and deleted are not known here (its result is missing), so its DynamoDB change records cannot be checked: ${rerun}`, type: 'VerificationFailed', retryable: true } };
    }
  }
  const from: Pick<VerifyTableInput, 'export' | 'extract' | 'tableExports'> =
    c.plan.extract?.kind === 'direct' ? { extract: 'direct' } : c.plan.extract?.kind === 'dynamodb' ? { extract: 'dynamodb', tableExports: c.tableExports! } : c.exported ? { export: c.exported } : {};
  try {
    const outcome = await publish.verifyTable({ source: c.source, table: c.table, lakeTable: c.lakeTable, action: c.action === 'skip' ? undefined : c.action, ...from, load: c.load, ...(c.countsUnknown ? { countsUnknown: true } : {}) });
    return { ...(wholeTableCounted(c) ? rowCountOf(outcome) : {}) };
  } catch (err) {
    retryIfPassing(err);
    return { error: recoveryError('verify', err, `${ended} verified; verifying it now failed`) };
  }
}

/** Whether verification counts the whole table against the export's rows (not the rows a load appended). */
function wholeTableCounted(c: RecoveredCommit): boolean {
  if (!c.exported || c.plan.extract?.kind === 'direct' || c.plan.extract?.kind === 'dynamodb') return false;
  const taken = c.load.action === 'none' ? c.action : c.load.action;
  return taken !== 'incremental';
}

/** The row count the passed verification's first check (the row count) found in the lake. */
function rowCountOf(outcome: VerifyOutcome | undefined): { rowCount?: number } {
  const first = outcome?.checks[0];
  const n = first?.passed ? Number(first.actual) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? { rowCount: n } : {};
}

/**
 * Rethrows a cancellation, and an error a retry may not meet (a throttled or concurrent Lake
 * Formation change, an Athena hiccup) while attempts remain: the next attempt goes on from the
 * tables settled so far, so the table is not failed for a passing condition. On the last attempt
 * the table is failed in that phase, for a rerun, and the other tables keep their outcomes.
 */
function retryIfPassing(err: unknown): void {
  if (err instanceof CancelledFailure) throw err;
  const passing = !(err instanceof ApplicationFailure) || !err.nonRetryable;
  if (passing && Context.current().info.attempt < RECOVERY_ATTEMPTS) throw err;
}

/**
 * The load's result JSON; on the last attempt (or refused for good) an unreadable one counts as
 * missing: the commit is then verified with what the lake's lineage tells, as when the job wrote none.
 */
async function resultUnlessUnread(table: string, read: () => Promise<LoadSummary | undefined>): Promise<LoadSummary | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof CancelledFailure) throw err;
    retryIfPassing(failure('reading the load result', table, err));
    return undefined;
  }
}

function recoveryError(phase: 'grant' | 'verify', err: unknown, context: string): TableError {
  const failure = err instanceof ApplicationFailure ? err : undefined;
  return { phase, message: `${context}: ${err instanceof Error ? err.message : String(err)}`, type: failure?.type ?? 'Error', retryable: !failure?.nonRetryable };
}

/**
 * The outcomes inline, or, when they would make the result larger than the workflow's inline
 * limit (thousands of tables), as text parts in the manifest store: the workflow reads them part by part.
 */
async function inlineOrStored(ports: Ports, input: RecoverCycleInput, tables: TableOutcome[], details: () => Record<string, unknown>): Promise<Pick<RecoveredCycle, 'tables' | 'tablesRef'>> {
  const tablesRef = await storedIfLarge(ports, cycleManifestKeys.recoveredOutcomes(input.cycleId, input.tables), tables, input.payloadInlineBytes, tables, details);
  return tablesRef ? { tables: [], tablesRef } : { tables };
}

/** The load's own result JSON, when the run wrote one for this cycle: it has the counts the lineage lacks. */
async function resultOf(
  ports: Ports,
  input: RecoverCycleInput,
  plan: PlanEntry,
  exported: ExportRef | undefined,
  database: string,
  namespace: string,
  commit: LakeCommit,
): Promise<LoadSummary | undefined> {
  // A direct load has no export, a DynamoDB load its own exports (its commit records the last); its result is found all the same.
  const direct = plan.extract?.kind === 'direct';
  const dynamo = plan.extract?.kind === 'dynamodb';
  if (!exported && !direct && !dynamo) return undefined;
  const req = {
    source: input.source,
    cycleId: input.cycleId,
    runToken: runTokenFor(input.cycleId, plan.table),
    ...(dynamo ? { exportId: commit.exportId ?? '', snapshotTime: commit.snapshotTime ?? '' } : exported && !direct ? { exportId: exported.exportId, snapshotTime: commit.snapshotTime ?? '', exportLocation: exported.location } : {}),
    database,
    plan,
    namespace,
  };
  const r = await unlessNotFound(() => ports.load.readResult(ports.load.resultLocation(req)));
  if (!r || r.cycleId !== input.cycleId || !r.committed || r.action === 'none') return undefined;
  const { action, committed, rowsRead, inserted, updated, deleted, rowCountAfter, cursorColumn, cursorValueAfter, snapshotId, schemaHash, finishedAt } = r;
  return { action, committed, rowsRead, inserted, updated, deleted, rowCountAfter, cursorColumn, cursorValueAfter, snapshotId, schemaHash, finishedAt, ...(r.extract === 'direct' ? { extract: r.extract, ...(r.startedAt ? { startedAt: r.startedAt } : {}) } : {}), ...(r.window ? { window: r.window } : {}) };
}

/**
 * What a commit whose load's result is missing tells of its load, from the Iceberg figures its
 * snapshot recorded: exact counts only. A commit that only added rows, of a load that never replaces
 * the table, inserted exactly the rows it added and changed no other; one that also removed rows
 * or wrote row-level deletes (a merge's updates and deletes), or may have replaced the whole table, does not
 * tell its inserted, updated and deleted rows: they are marked unknown. The table's rows after it
 * are its total, when no delete file hides some of them.
 */
function writtenBy(plan: PlanEntry, commit: LakeCommit): { load: Partial<LoadSummary>; told: (rowsBy?: 'verification') => string } {
  const w = commit.written;
  const onlyAdded = w !== undefined && w.deletedRecords === 0 && w.deletedDataFiles === 0 && w.addedDeleteFiles === 0 && w.removedDeleteFiles === 0;
  const inserted = w && onlyAdded && neverReplaces(plan) ? w.addedRecords : undefined;
  const rows = w && w.totalRecords !== null && w.totalDeleteFiles === 0 ? w.totalRecords : undefined;
  const load: Partial<LoadSummary> = {
    ...(inserted !== undefined ? { inserted, updated: 0, deleted: 0 } : { changesUnknown: true as const }),
    ...(rows !== undefined ? { rowCountAfter: rows } : {}),
  };
  const told = (rowsBy?: 'verification'): string => {
    const rowCount = rowsBy
      ? 'its row count is the one verification counted in the lake'
      : rows !== undefined
        ? `its lake commit recorded ${rows} rows in the table`
        : "its row count is unknown (shown as 0)";
    if (inserted !== undefined) return `its lake commit recorded ${inserted} rows added and none updated or deleted; ${rowCount}`;
    const why = w ? 'its lake commit replaced the table or changed rows, which does not tell them' : 'its lake commit records no counts';
    return `its inserted, updated and deleted rows are unknown (${why}); ${rowCount}`;
  };
  return { load, told };
}

/**
 * Whether a load of this plan entry never replaces the whole table, so that a commit of it that
 * only added rows (a create, an append, a merge that only inserted) inserted exactly those: the load
 * replaces an existing table whole only for a replace, a rebuild, a create asked of a table without
 * key or cursor (glue/lakesync_glue/loader.py decide_action), or a DynamoDB FULL export.
 */
function neverReplaces(plan: PlanEntry): boolean {
  if (plan.rebuild) return false;
  if (plan.extract?.kind === 'dynamodb') return !plan.extract.exports.some((e) => e.type === 'FULL');
  if (plan.extract?.kind === 'direct') return true;
  if (plan.action === 'incremental' || plan.action === 'merge') return true;
  return plan.action === 'create' && (plan.primaryKey.length > 0 || plan.cursor !== undefined);
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Pick<T, K>;
}

/** What the lake's lineage alone tells of a load; counts it does not record are 0. */
function fromLineage(plan: PlanEntry, commit: LakeCommit): LoadSummary {
  return {
    action: plan.action === 'skip' ? 'none' : plan.action,
    committed: true,
    rowsRead: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    rowCountAfter: 0,
    cursorColumn: plan.cursor?.column ?? null,
    cursorValueAfter: null,
    snapshotId: commit.icebergSnapshotId,
    schemaHash: '',
    finishedAt: commit.committedAt,
  };
}

/**
 * A DynamoDB load the lake committed for this cycle: its exports are the plan's (their ids are
 * deterministic), and the export time it reached is the one its commit records.
 */
function dynamoFromLineage(input: RecoverCycleInput, plan: PlanEntry, commit: LakeCommit): LoadSummary {
  const exports = plan.extract?.kind === 'dynamodb' ? plan.extract.exports : [];
  const first = exports[0];
  return {
    ...fromLineage(plan, commit),
    extract: 'dynamodb',
    dynamodb: {
      exportIds: exports.map((_, i) => tableExportIdFor(input.source, input.cycleId, plan.table, i)),
      from: !first || first.type === 'FULL' ? null : (first.from ?? null),
      to: commit.snapshotTime ?? exports.at(-1)?.to ?? '',
      records: 0,
    },
  };
}

/**
 * The snapshot of the export: the reused one, or its time as the commits, the snapshot or the
 * export task record it. The export task is asked last: it outlives a snapshot retention deleted,
 * and without a time a rerun from this export could not guard its loads (MissingLineage).
 */
async function snapshotOf(ports: Ports, exported: ExportRef, reuse: ReusableExport | undefined, commits: LakeCommit[]): Promise<SnapshotRef> {
  if (reuse && reuse.export.exportId === exported.exportId) return reuse.snapshot;
  const fromCommit = commits.find((c) => c.exportId === exported.exportId && c.snapshotTime)?.snapshotTime;
  const createdAt =
    fromCommit ??
    (await unlessNotFound(() => ports.snapshot.describeSnapshot(exported.snapshotId)))?.createdAt ??
    (await unlessNotFound(() => ports.export.describeExport(exported.exportId)))?.snapshotTime ??
    '';
  return { snapshotId: exported.snapshotId, createdAt, adopted: true };
}
