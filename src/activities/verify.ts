/**
 * Heartbeats of the verify activity. Verification runs one query per configured check, each of
 * which may take minutes: the activity heartbeats before each one (naming it), and at a steady
 * pace while a step runs, so a dead worker is noticed within the heartbeat timeout instead of the
 * whole activity timeout, which grows with the number of checks (src/workflows/options.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';

/** What the verify activity reports in its heartbeats: the table and the step it is at. */
export interface VerifyHeartbeat {
  table: string;
  step: string;
}

/**
 * Runs `fn` heartbeating: once now with `firstStep`, again each time `fn` reports a new step
 * (a check), and at a third of the heartbeat timeout meanwhile. `fn` gets the activity's
 * cancellation signal, which the heartbeats deliver. Outside an activity (direct calls in tests)
 * it just runs `fn`.
 */
export async function heartbeating<T>(table: string, firstStep: string, fn: (progress: (step: string) => void, signal?: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = activityContext();
  if (!ctx) return fn(() => undefined);
  const carried = carriedDetails.getStore()?.details;
  const stop = carriedDetails.getStore()?.signal;
  let current: VerifyHeartbeat = { table, step: firstStep };
  const beat = () => ctx.heartbeat(carried ? { ...carried(), ...current } : current);
  beat();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  const timer = timeoutMs ? setInterval(beat, Math.max(500, Math.floor(timeoutMs / 3))) : undefined;
  try {
    return await fn((step) => {
      current = { table, step };
      beat();
    }, stop ? AbortSignal.any([ctx.cancellationSignal, stop]) : ctx.cancellationSignal);
  } finally {
    if (timer) clearInterval(timer);
  }
}

const carriedDetails = new AsyncLocalStorage<{ details: () => object; signal?: AbortSignal }>();

/**
 * Runs `fn` with every verification heartbeat in it carrying `details()` as well: an activity that
 * verifies as one of its steps (a dead cycle's recovery) keeps its own progress in its heartbeats,
 * which the next attempt reads, and a verification's heartbeat would otherwise replace it. `signal`
 * stops the verification as the activity's cancellation would (the activity gave up waiting for it).
 */
export function carryingHeartbeatDetails<T>(details: () => object, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return carriedDetails.run({ details, ...(signal ? { signal } : {}) }, fn);
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
