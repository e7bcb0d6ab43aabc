/**
 * Heartbeats of the short activities (snapshot and export starts and status checks, discover,
 * plan, grant...). Temporal learns that a worker died only through a heartbeat timeout: without
 * heartbeats, a worker killed while a short step waits on a backend holds the cycle for the step's
 * whole start-to-close timeout (10 minutes). A wrapped activity heartbeats when it starts and then
 * at a third of its heartbeat timeout while it runs; without a heartbeat timeout it just runs.
 */
import { Context } from '@temporalio/activity';

type ActivityFn = (...args: never[]) => Promise<unknown>;

/** The same activities, each heartbeating while it runs; `except` names those that heartbeat with details of their own. */
export function keepAlive<T extends Record<string, ActivityFn>>(activities: T, except: (keyof T)[] = []): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [name, except.includes(name) ? fn : (...args: never[]) => heartbeatWhile(() => fn(...args))]),
  ) as T;
}

export async function heartbeatWhile<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = activityContext();
  const timeoutMs = ctx?.info.heartbeatTimeoutMs;
  if (!ctx || !timeoutMs) return fn();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), Math.max(500, Math.floor(timeoutMs / 3)));
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
