/**
 * The export windows of one DynamoDB table in one cycle (pure). The cycle fixes one export time T;
 * the lake's last commit says which export time the table reached. DynamoDB's incremental exports
 * cover 15 minutes to 24 hours each ("Introducing incremental export from Amazon DynamoDB to
 * Amazon S3") and only within the point-in-time recovery window, so a gap is split into even
 * windows, or replaced by one FULL export when it cannot be covered.
 */
import type { TableExportWindow } from '../model';

/** Most incremental windows exportWindow.maxWindows allows a table in one cycle: a longer gap is cheaper as one FULL export. */
export const MAX_WINDOWS = 30;

/**
 * How long after the cycle's export time T a table's exports may start, for the plan's check of
 * the earliest restorable time (default of WindowInput.restorableMarginSeconds). Once point-in-time
 * recovery has been on for its whole recovery period (1 to 35 days), the earliest restorable time
 * moves on with the clock; the plan reads it near T, but DynamoDB checks an incremental window's
 * start when ExportTableToPointInTime is called: after the plan, and after the loads of the tables
 * ahead in the batch's concurrency. A window that starts within this margin of the edge could be
 * refused then (InvalidExportTimeException) and the table replaced from a FULL export only a cycle
 * later; it is replaced at once instead. One hour covers a cycle's plan-to-start delay with room for
 * tables queued behind other loads, and costs little: only a lake that lags the whole recovery period
 * by less than an hour takes its FULL export one cycle earlier than it had to. A later start that
 * DynamoDB refuses anyway fails the table with the window and the edge named, and the next cycle
 * plans the FULL export.
 */
export const RESTORABLE_MARGIN_SECONDS = 60 * 60;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface WindowLimits {
  minSeconds: number;
  maxSeconds: number;
}

export interface WindowInput {
  /** The cycle's export time T (ISO-8601). */
  exportTime: string;
  lakeExists: boolean;
  /** The export time the lake table reached (its lineage snapshotTime); absent when the lake table has no lakesync lineage. */
  reached?: string | undefined;
  /** rerun --rebuild: the whole table again. */
  rebuild: boolean;
  /** Point-in-time recovery's earliest restorable time: no export starts before it. */
  earliestRestorable?: string | undefined;
  /**
   * Point-in-time recovery's period (RecoveryPeriodInDays): the earliest restorable time stays at the
   * moment recovery was turned on until it is that old, then moves on with the clock. Unknown: it is
   * taken to move already.
   */
  recoveryPeriodDays?: number | undefined;
  /**
   * How long after T the exports may start while the earliest restorable time moves on: a window
   * starting before where it may then be is replaced by a FULL export. Default RESTORABLE_MARGIN_SECONDS;
   * 0 for a backend whose earliest restorable time does not move.
   */
  restorableMarginSeconds?: number | undefined;
  limits: WindowLimits;
  /** Most incremental windows one cycle takes; a longer gap is replaced by a FULL export. */
  maxWindows: number;
}

export type WindowDecision =
  | { action: 'create' | 'replace' | 'merge'; exports: TableExportWindow[]; reason: string }
  | { action: 'skip'; reason: string };

/** ISO-8601 at whole seconds with Z, e.g. 2026-11-30T15:00:00Z (rounded down). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The window limits a source exports with: the backend's, capped by exportWindow.maxHours. */
export function effectiveLimits(backend: WindowLimits, maxHours: number | undefined): WindowLimits {
  const configured = maxHours === undefined ? backend.maxSeconds : Math.floor(maxHours * 3600);
  return { minSeconds: backend.minSeconds, maxSeconds: Math.max(backend.minSeconds, Math.min(backend.maxSeconds, configured)) };
}

export function durationText(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

function agoText(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)} min` : `${seconds} s`;
}

/** Parses an ISO-8601 time to epoch milliseconds; throws on text that is not a time (a bug upstream, never user input). */
function epochMs(name: string, iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`${name} "${iso}" is not an ISO-8601 time`);
  return ms;
}

/** The table's action and exports for this cycle (section 3 of the DynamoDB plan). */
export function planWindows(input: WindowInput): WindowDecision {
  const tMs = Math.floor(epochMs('exportTime', input.exportTime) / 1000) * 1000;
  const T = isoSeconds(tMs);
  const full = (action: 'create' | 'replace', reason: string): WindowDecision => ({ action, exports: [{ type: 'FULL', to: T }], reason });
  const earliestMs = input.earliestRestorable !== undefined ? epochMs('earliestRestorable', input.earliestRestorable) : undefined;

  if (earliestMs !== undefined && earliestMs > tMs) {
    // Point-in-time recovery was turned on after T: no export can read T yet.
    return { action: 'skip', reason: `point-in-time recovery reaches back to ${isoSeconds(Math.ceil(earliestMs / 1000) * 1000)} only, after this cycle's export time ${T}: the next cycle exports it` };
  }
  if (!input.lakeExists) return full('create', `lake table missing: FULL export at ${T}`);
  if (input.rebuild) return full('replace', `rebuild requested: FULL export at ${T} replaces the lake table (delete guard applies)`);
  if (input.reached === undefined) {
    return full('replace', `the lake table has no lakesync lineage (no export time it reached): FULL export at ${T} replaces it (delete guard applies)`);
  }

  const fromMs = Math.floor(epochMs('reached', input.reached) / 1000) * 1000;
  const from = isoSeconds(fromMs);
  const gap = (tMs - fromMs) / 1000;
  const { minSeconds, maxSeconds } = input.limits;
  if (gap <= 0) return { action: 'skip', reason: `the lake table already reached ${from}, not before this cycle's export time ${T}: nothing to export` };
  if (gap < minSeconds) {
    return { action: 'skip', reason: `exported ${agoText(gap)} ago; DynamoDB's incremental exports cover at least ${durationText(minSeconds)}: the next cycle takes it` };
  }
  if (earliestMs !== undefined && fromMs < earliestMs) {
    return full(
      'replace',
      `the lake reached ${from}, before point-in-time recovery's earliest restorable time ${isoSeconds(earliestMs)}: incremental exports cannot start there; FULL export at ${T} replaces the table (delete guard applies)`,
    );
  }
  const margin = input.restorableMarginSeconds ?? RESTORABLE_MARGIN_SECONDS;
  const edgeMs = earliestMs !== undefined ? earliestAtStart(earliestMs, tMs, margin, input.recoveryPeriodDays) : undefined;
  if (edgeMs !== undefined && fromMs < edgeMs) {
    return full(
      'replace',
      `the lake reached ${from}, within ${durationText(margin)} of point-in-time recovery's earliest restorable time ${isoSeconds(earliestMs!)}, which moves on with the clock: ` +
        `DynamoDB could refuse an incremental export from there by the time it starts; FULL export at ${T} replaces the table (delete guard applies)`,
    );
  }
  const count = Math.ceil(gap / maxSeconds);
  if (gap / count < minSeconds) {
    // Only when maxSeconds < 2 * minSeconds: no even split keeps every window within the limits.
    return full('replace', `${gap} seconds since ${from} cannot be split into windows of ${durationText(minSeconds)} to ${durationText(maxSeconds)}: FULL export at ${T} replaces the table (delete guard applies)`);
  }
  if (count > input.maxWindows) {
    return full(
      'replace',
      `${Math.round(gap / 360) / 10} hours since ${from} need ${count} incremental windows of at most ${durationText(maxSeconds)}, more than exportWindow.maxWindows ${input.maxWindows}: FULL export at ${T} replaces the table (delete guard applies)`,
    );
  }
  return { action: 'merge', exports: evenWindows(fromMs, gap, count), reason: `${count} incremental window${count === 1 ? '' : 's'} from ${from} to ${T}` };
}

/**
 * Where the earliest restorable time may be when the exports start, up to `marginSeconds` after T:
 * with the recovery period known, T + margin - period once recovery is that old (else it stays where
 * the plan read it); without it, the time the plan read plus the margin.
 */
function earliestAtStart(earliestMs: number, tMs: number, marginSeconds: number, periodDays: number | undefined): number {
  if (marginSeconds <= 0) return earliestMs;
  if (periodDays === undefined) return earliestMs + marginSeconds * 1000;
  return Math.max(earliestMs, tMs + marginSeconds * 1000 - periodDays * DAY_MS);
}

/** `count` windows of whole seconds covering [from, from + gap), oldest first, lengths differing by at most one second. */
function evenWindows(fromMs: number, gap: number, count: number): TableExportWindow[] {
  const bound = (i: number) => isoSeconds(fromMs + Math.floor((i * gap) / count) * 1000);
  return Array.from({ length: count }, (_, i) => ({ type: 'INCREMENTAL' as const, from: bound(i), to: bound(i + 1) }));
}
