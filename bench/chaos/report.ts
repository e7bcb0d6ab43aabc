/** The figures of a chaos run and the problems they show: a table lost, loaded twice, or unequal to its source. */
import type { CycleResult } from '../../src/model';
import type { KillRecord, PlannedKill } from './kills';
import type { FaultEvent, FaultKind } from './proxy';

export interface PathOptions {
  seed: number;
  kills: number;
  faultRate: number;
  cycles: number;
  tables: number;
  cycleTimeoutMs: number;
  log: (line: string) => void;
  /** Kill moments to use instead of the seed's (a replay of one moment). */
  plan?: PlannedKill[];
  /** Faults injected at given calls, e.g. `{ 'glue.StartJobRun#0': 'reset-after' }` (AWS path). */
  forcedFaults?: Record<string, FaultKind>;
}

export interface CycleFigures {
  cycle: number;
  cycleId: string;
  status: string;
  error?: string | undefined;
  seconds: number;
  committed: string[];
  failed: { table: string; phase?: string | undefined; message?: string | undefined }[];
  /** Per table: load runs started (Glue StartJobRun calls moto acted on, or local runs) and Iceberg snapshots committed by this cycle. */
  tables: Record<string, TableCycleFigures>;
  /** The activity attempts of the cycle and its batches that ended by a timeout, as their histories record them (AWS path). */
  activityTimeouts?: ActivityTimeout[];
}

/** An activity attempt that ended by a timeout: a killed worker is noticed through its heartbeat timeout. */
export interface ActivityTimeout {
  workflowId: string;
  activityType: string;
  attempt: number;
  /** HEARTBEAT, START_TO_CLOSE, SCHEDULE_TO_START or SCHEDULE_TO_CLOSE. */
  timeoutType: string;
}

/** A cycle's figures from how it ended; `tables` is filled in by the path, which knows its runs. */
export function cycleFigures(
  cycle: number,
  cycleId: string,
  outcome: { result?: CycleResult; error?: string },
  startedMs: number,
  tables: Record<string, TableCycleFigures> = {},
): CycleFigures {
  const result = outcome.result;
  return {
    cycle,
    cycleId,
    status: result?.status ?? 'error',
    error: result ? result.error?.message : outcome.error,
    seconds: Math.round((Date.now() - startedMs) / 100) / 10,
    committed: result?.tables.filter((t) => t.status === 'committed').map((t) => t.table) ?? [],
    failed: result?.tables.filter((t) => t.status === 'failed').map((t) => ({ table: t.table, phase: t.error?.phase, message: t.error?.message })) ?? [],
    tables,
  };
}

/** The line a path logs when a cycle ends. */
export function cycleLine(cycle: number, outcome: { result?: CycleResult; error?: string }, startedMs: number): string {
  const result = outcome.result;
  const how = result ? `${result.status}: ${result.tables.filter((t) => t.status === 'committed').length} committed` : `ended with an error: ${outcome.error}`;
  return `cycle ${cycle} ${how} in ${Math.round((Date.now() - startedMs) / 1000)} s`;
}

export interface TableCycleFigures {
  /** AWS: StartJobRun calls that started a run, and all StartJobRun requests the proxy saw (faulted ones too). */
  startJobRuns?: number;
  startJobRunRequests?: number;
  /** Local: run records of the cycle's run token, and their starts (a run is started again when its runner died). */
  loadRuns?: number;
  runStarts?: number;
  /** How each run ended: a run that failed or was stopped before committing is no second load. */
  runStates: string[];
  snapshots: number;
}

export interface FinalTable {
  equal: boolean;
  sourceRows: number;
  lakeRows: number;
  [detail: string]: unknown;
}

export interface PathInput {
  path: 'aws' | 'local';
  tables: string[];
  cycles: CycleFigures[];
  final: Record<string, FinalTable>;
  faults?: { total: number; byKind: Record<string, number>; byCall: Record<string, number>; calls: number; dropped: number };
  faultLog?: FaultEvent[];
  kills: KillRecord[];
  plannedKills: PlannedKill[];
  wallSeconds: number;
  notes: string[];
}

export interface PathFigures extends PathInput {
  cyclesCompleted: number;
  tablesCommittedPerCycle: number[];
  problems: string[];
  ok: boolean;
}

export function tableFigures(input: PathInput): PathFigures {
  const problems: string[] = [];
  for (const c of input.cycles) {
    for (const [table, t] of Object.entries(c.tables)) {
      const loads = t.runStates.filter((s) => !/^(failed|stopped|FAILED|STOPPED|ERROR)/.test(s)).length;
      if (loads > 1) problems.push(`cycle ${c.cycle}: ${table} was loaded by ${loads} runs (${t.runStates.join(', ')})`);
      if (t.snapshots > 1) problems.push(`cycle ${c.cycle}: ${table} has ${t.snapshots} Iceberg snapshots from this cycle`);
      if (!c.committed.includes(table)) problems.push(`cycle ${c.cycle}: ${table} was not committed (${c.failed.find((f) => f.table === table)?.message ?? c.error ?? c.status})`);
    }
  }
  for (const [table, f] of Object.entries(input.final)) {
    if (!f.equal) problems.push(`after the last cycle ${table} differs from its source (${f.lakeRows} lake rows, ${f.sourceRows} source rows)`);
  }
  return {
    ...input,
    wallSeconds: Math.round(input.wallSeconds * 10) / 10,
    cyclesCompleted: input.cycles.filter((c) => c.status === 'succeeded' || c.status === 'partial').length,
    tablesCommittedPerCycle: input.cycles.map((c) => c.committed.length),
    problems,
    ok: problems.length === 0,
  };
}

export function summary(f: PathFigures): string {
  const lines = [
    `${f.path}: ${f.cyclesCompleted}/${f.cycles.length} cycles completed in ${f.wallSeconds} s; tables committed per cycle ${f.tablesCommittedPerCycle.join(', ')} of ${f.tables.length}`,
    `  load runs per table per cycle: ${f.cycles.map((c) => `c${c.cycle} max ${Math.max(...Object.values(c.tables).map((t) => t.startJobRuns ?? t.loadRuns ?? 0))}`).join(', ')}; snapshots per table per cycle: ${f.cycles.map((c) => `c${c.cycle} max ${Math.max(...Object.values(c.tables).map((t) => t.snapshots))}`).join(', ')}`,
    `  lake = source after the last cycle: ${Object.values(f.final).filter((t) => t.equal).length}/${Object.keys(f.final).length} tables`,
    `  kills made: ${f.kills.length} (${f.kills.map((k) => `${k.target}@${k.moment}`).join(', ')})`,
  ];
  if (f.faults) lines.push(`  faults injected: ${f.faults.total} of ${f.faults.calls} AWS calls (${Object.entries(f.faults.byKind).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  lines.push(f.ok ? '  no table lost, loaded twice or different from its source' : `  PROBLEMS:\n${f.problems.map((p) => `    - ${p}`).join('\n')}`);
  return lines.join('\n');
}
