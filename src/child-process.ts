/**
 * Stopping a child process: ask it to stop, kill it if it does not, and wait until it has ended.
 * A child that already ended (by its own exit or by a signal, say the OOM killer) or never
 * started is done at once: its 'exit' event has already fired, and waiting for it would hang.
 */
import type { ChildProcess } from 'node:child_process';

/** How a child ended: its exit code, or the signal that ended it. */
export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopChildOptions {
  /** The signal that asks the child to stop (default SIGTERM). */
  signal?: NodeJS.Signals;
  /** How long to wait before sending it, for a caller that has already asked the child to stop in its own way (default 0). */
  signalAfterMs?: number;
  /** SIGKILL after this long (from the call) when the child still runs. */
  killAfterMs: number;
}

/** Whether the child has ended, by an exit code or by a signal. */
export function hasEnded(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Stops the child as the options say and resolves once it has ended (at once when it already had, or never started). */
export function stopChild(child: ChildProcess, options: StopChildOptions): Promise<ChildEnd> {
  const ended = (): ChildEnd => ({ code: child.exitCode, signal: child.signalCode });
  // A child whose spawn failed has no pid and emits no 'exit'.
  if (hasEnded(child) || child.pid === undefined) return Promise.resolve(ended());
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    child.once('exit', () => {
      for (const timer of timers) clearTimeout(timer);
      resolve(ended());
    });
    const ask = () => child.kill(options.signal ?? 'SIGTERM');
    if (options.signalAfterMs) timers.push(setTimeout(ask, options.signalAfterMs));
    else ask();
    timers.push(setTimeout(() => child.kill('SIGKILL'), options.killAfterMs));
  });
}

/** Whether a process of group `pgid` still runs (one of another user's counts: signal 0 checks without signalling). */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ends what is left of process group `pgid` (a child started with `detached: true` leads its own
 * group, and what it starts joins it). What ends by itself within `graceMs` is left to end (a JVM
 * whose driver has exited runs its shutdown hooks, which fork `rm` to delete its folders: a signal
 * then would cut them short); then SIGTERM, and SIGKILL for what is still there `killAfterMs` later.
 * Resolves once the group is empty, or after the SIGKILL.
 */
export async function endProcessGroup(pgid: number, { graceMs = 5_000, killAfterMs = 10_000 } = {}): Promise<void> {
  const emptyWithin = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (processGroupAlive(pgid)) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return true;
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // ESRCH: the group ended meanwhile
    }
  };
  if (await emptyWithin(graceMs)) return;
  signal('SIGTERM');
  if (!(await emptyWithin(killAfterMs))) signal('SIGKILL');
}
