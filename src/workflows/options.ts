/** Activity options derived from a cycle's settings (workflow-side, deterministic). */
import type { ActivityOptions } from '@temporalio/workflow';
import type { CycleSettings } from '../model';

/**
 * lakesync's own error types no retry can fix. Whether a backend error may be retried is decided
 * where it is understood (the adapters and the load job) and arrives as the failure's
 * nonRetryable flag, so no backend's error codes live in workflow code.
 */
const NON_RETRYABLE = ['ConfigError', 'PlanMismatch'];

export function retryPolicy(settings: CycleSettings): ActivityOptions['retry'] {
  return {
    initialInterval: `${settings.retry.initialIntervalSeconds}s`,
    maximumInterval: `${settings.retry.maximumIntervalSeconds}s`,
    backoffCoefficient: settings.retry.backoffCoefficient,
    maximumAttempts: settings.retry.maximumAttempts,
    nonRetryableErrorTypes: NON_RETRYABLE,
  };
}

/**
 * Short calls to a backend (start, describe, discover, plan, grant). They heartbeat while they run
 * (src/activities/keepalive.ts), so a dead worker is noticed within the heartbeat timeout.
 */
export function shortActivity(settings: CycleSettings): ActivityOptions {
  return { startToCloseTimeout: '10 minutes', heartbeatTimeout: `${settings.timeouts.heartbeatSeconds}s`, retry: retryPolicy(settings) };
}

/** Longest one verification step may take: an Athena query (the adapter gives up on one after 8 minutes), with a margin. */
export const VERIFY_STEP_MINUTES = 10;

/**
 * Verification of one table: the export's row count, then the lake's (for an incremental load: the
 * parent snapshot, the count at the load's snapshot and the count at its parent, one query each),
 * then each configured check, one query each. The timeout grows with the number of checks; the
 * activity heartbeats before each check and while one runs, so a dead worker is noticed within the
 * heartbeat timeout.
 */
export function verifyActivity(settings: CycleSettings): ActivityOptions {
  const steps = 4 + (settings.verifyChecks ?? 0);
  return {
    startToCloseTimeout: `${steps * VERIFY_STEP_MINUTES} minutes`,
    heartbeatTimeout: `${settings.timeouts.heartbeatSeconds}s`,
    retry: retryPolicy(settings),
  };
}

/** How long starting a snapshot or an export may wait for RDS (a free export slot, an available instance). */
export const RDS_START_WAIT_HOURS = 24;

/**
 * Starting a snapshot or an export. RDS refuses while 5 exports of the account are running or while
 * the instance is busy, and those refusals end by themselves: the adapters report them as retryable,
 * so the start is retried without an attempt limit and bounded in time instead. Final errors
 * (validation, access denied) still fail at once.
 */
export function rdsStartActivity(settings: CycleSettings): ActivityOptions {
  // No maximumAttempts: Temporal then retries until the schedule-to-close timeout.
  const { maximumAttempts: _unlimited, ...retry } = retryPolicy(settings) ?? {};
  return { startToCloseTimeout: '10 minutes', heartbeatTimeout: `${settings.timeouts.heartbeatSeconds}s`, scheduleToCloseTimeout: `${RDS_START_WAIT_HOURS}h`, retry };
}

/**
 * How long starting a DynamoDB export may be retried. Its client token (the export id) keeps a
 * retried start from making a second export for 8 hours after the first request that used it, so
 * every retry stays inside that window.
 */
export const TABLE_EXPORT_START_WAIT_HOURS = 7;

/**
 * Starting a DynamoDB export (source kind dynamodb): DynamoDB refuses with LimitExceededException
 * while too many exports run, which ends by itself, so starts are retried like RDS starts,
 * bounded in time instead of attempts. The export id makes a retried start adopt its export.
 */
export function tableExportStartActivity(settings: CycleSettings): ActivityOptions {
  return { ...rdsStartActivity(settings), scheduleToCloseTimeout: `${TABLE_EXPORT_START_WAIT_HOURS}h` };
}

/** How long one attempt of the wait for a DynamoDB export may poll before it fails (and is retried). */
export const TABLE_EXPORT_WAIT_HOURS = 48;

/**
 * Waiting for a DynamoDB export: one activity polls it, heartbeating, until it ends; a dead
 * worker is noticed within the heartbeat timeout and the wait goes on in another attempt. Like a
 * load, it is retried without an attempt limit (a worker restarted during an hours-long export is
 * no failure of it) and bounded in time instead: `retry.maximumAttempts` attempts of
 * TABLE_EXPORT_WAIT_HOURS each. A describe no retry can fix fails at once.
 */
export function tableExportWaitActivity(settings: CycleSettings): ActivityOptions {
  const { maximumAttempts: _unlimited, ...retry } = retryPolicy(settings) ?? {};
  const boundHours = settings.retry.maximumAttempts * TABLE_EXPORT_WAIT_HOURS;
  return { ...shortActivity(settings), startToCloseTimeout: `${TABLE_EXPORT_WAIT_HOURS}h`, scheduleToCloseTimeout: `${boundHours}h`, retry };
}

/** How long starting a pack may be retried. */
export const PACK_START_WAIT_HOURS = 1;

/**
 * Starting a pack's run. A start whose answer was lost may still have made the run, and the pack's
 * tables must not then run alone beside it: retryable failures are retried (each retry finds the run
 * by its pack token) until the time bound, not a number of attempts; a refused start fails at once.
 */
export function packStartActivity(settings: CycleSettings): ActivityOptions {
  const { maximumAttempts: _unlimited, ...retry } = retryPolicy(settings) ?? {};
  return { ...shortActivity(settings), scheduleToCloseTimeout: `${PACK_START_WAIT_HOURS}h`, retry };
}

/**
 * The table load: hours long, heartbeating, so a dead worker is noticed and the run re-attached.
 * Temporal retries it without an attempt limit, because it counts a heartbeat timeout (a worker
 * restarted) as an attempt; the activity counts the real failures itself and fails for good after
 * `retry.maximumAttempts` of them. `scheduleToCloseTimeout` bounds the whole load.
 */
export function loadActivity(settings: CycleSettings, queueWait = true): ActivityOptions {
  const { maximumAttempts: _counted, ...retry } = retryPolicy(settings) ?? {};
  return {
    startToCloseTimeout: `${settings.timeouts.loadHours}h`,
    heartbeatTimeout: `${settings.timeouts.heartbeatSeconds}s`,
    scheduleToCloseTimeout: `${loadBoundSeconds(settings, queueWait)}s`,
    retry,
  };
}

/** Runs of one load that may end without starting (no capacity) before the load fails for good (src/activities/load.ts). */
export const MAX_UNSTARTED_RUNS = 5;

/**
 * The longest a table's load may take, attempts included: every attempt may run its full
 * `timeouts.loadHours`, with the retry backoff between them. When runs wait in the backend's queue
 * (`loadQueueSeconds`, and `queueWait`: false is the bound of histories before it), each of those
 * runs may first wait that long, and MAX_UNSTARTED_RUNS runs may wait that long and expire, with a
 * backoff after each: the load then fails saying its runs never started, not with a timeout.
 */
export function loadBoundSeconds(settings: CycleSettings, queueWait = true): number {
  const { retry, timeouts } = settings;
  const queued = queueWait ? (settings.loadQueueSeconds ?? 0) : 0;
  const retries = retry.maximumAttempts - 1 + (queued > 0 ? MAX_UNSTARTED_RUNS : 0);
  let backoff = 0;
  for (let i = 0; i < retries; i++) backoff += Math.min(retry.initialIntervalSeconds * retry.backoffCoefficient ** i, retry.maximumIntervalSeconds);
  const waits = queued > 0 ? (retry.maximumAttempts + MAX_UNSTARTED_RUNS) * queued : 0;
  return Math.ceil(retry.maximumAttempts * timeouts.loadHours * 3600 + waits + backoff);
}

/** Before settings are known: reading them from the worker's config. */
export const SETTINGS_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
};

/** Attempts of a dead cycle's recovery; each goes on from the tables the ones before it settled. */
export const RECOVERY_ATTEMPTS = 5;

/** Reading a dead cycle's or batch's outcomes back from the lake: one read of the lineage per planned table, heartbeating per table. */
export const RECOVERY_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5s', maximumInterval: '1 minute', backoffCoefficient: 2, maximumAttempts: RECOVERY_ATTEMPTS },
};
