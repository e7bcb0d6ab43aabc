/**
 * Per-run Glue capacity: how many workers a table's run gets, sized from the table's export size,
 * and which execution class it runs in. Pure; StartJobRun carries the result (src/aws/glue.ts)
 * and overrides the job definition's workers for that run only.
 */

/** Glue runs need at least 2 workers of the G worker types. */
export const GLUE_MIN_WORKERS = 2;
/** Worker types that runs of the flexible execution class may use (Glue 3.0 and later). */
export const FLEX_WORKER_TYPES: readonly string[] = ['G.1X', 'G.2X'];

import type { GlueExecutionClass } from '../model';

export type ExecutionClass = GlueExecutionClass;

export interface GlueSizing {
  /** Export gigabytes one worker takes on. */
  gbPerWorker: number;
  minWorkers: number;
  maxWorkers: number;
}

export interface GlueCapacitySettings {
  workerType: string;
  /** The job definition's workers: what a run gets when it carries no override. */
  numberOfWorkers: number;
  executionClass?: ExecutionClass;
  sizing?: GlueSizing;
  /** Workers pinned per table (`tables.<t>.glueWorkers`), keyed by schema.table. */
  tableWorkers?: Readonly<Record<string, number>>;
}

/**
 * The workers for a run of a table: the pinned number if any; else, with an export size,
 * clamp(ceil(sizeGB / gbPerWorker), minWorkers, maxWorkers) and at least 2; else the job's.
 */
export function runWorkers(table: string, sizeGB: number | undefined, glue: GlueCapacitySettings): number {
  const pinned = glue.tableWorkers?.[table];
  if (pinned !== undefined) return Math.max(GLUE_MIN_WORKERS, pinned);
  if (sizeGB === undefined || !Number.isFinite(sizeGB) || sizeGB < 0 || !glue.sizing) return glue.numberOfWorkers;
  const { gbPerWorker, minWorkers, maxWorkers } = glue.sizing;
  const wanted = Math.ceil(sizeGB / gbPerWorker);
  return Math.max(GLUE_MIN_WORKERS, Math.min(maxWorkers, Math.max(minWorkers, wanted)));
}

/**
 * The StartJobRun fields of a run: workers only when they differ from the job's, and always the
 * class. A run without one takes the job's, which a class set on the job by hand would decide
 * (until lakesync's next UpdateJob resets it), and with it whether the run may be queued.
 */
export function runCapacity(
  table: string,
  sizeGB: number | undefined,
  glue: GlueCapacitySettings,
): { NumberOfWorkers?: number; WorkerType?: string; ExecutionClass: ExecutionClass } {
  const workers = runWorkers(table, sizeGB, glue);
  return {
    // Glue takes NumberOfWorkers with its WorkerType.
    ...(workers !== glue.numberOfWorkers ? { NumberOfWorkers: workers, WorkerType: glue.workerType } : {}),
    ExecutionClass: glue.executionClass ?? 'STANDARD',
  };
}

/** What is wrong with the capacity settings of `aws.glue`, each with the field (relative to aws.glue) and the fix. */
export function glueCapacityProblems(glue: {
  workerType: string;
  numberOfWorkers: number;
  executionClass: ExecutionClass;
  sizing: { gbPerWorker: number; minWorkers: number; maxWorkers?: number | undefined };
}): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (glue.executionClass === 'FLEX' && !FLEX_WORKER_TYPES.includes(glue.workerType)) {
    problems.push({
      path: ['executionClass'],
      message: `executionClass FLEX runs only on worker types ${FLEX_WORKER_TYPES.join(' and ')}, not ${glue.workerType}: set aws.glue.workerType to G.1X or G.2X, or executionClass STANDARD`,
    });
  }
  const max = glue.sizing.maxWorkers ?? glue.numberOfWorkers;
  if (glue.sizing.minWorkers > max) {
    const where = glue.sizing.maxWorkers === undefined ? `aws.glue.numberOfWorkers ${max} (the default maxWorkers)` : `aws.glue.sizing.maxWorkers ${max}`;
    problems.push({
      path: ['sizing', 'minWorkers'],
      message: `aws.glue.sizing.minWorkers ${glue.sizing.minWorkers} is above ${where}: lower minWorkers or raise maxWorkers`,
    });
  }
  return problems;
}
