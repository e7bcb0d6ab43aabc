/**
 * Which process a record names. A pid alone is not enough: after a reboot (or once pids wrap) the
 * pid of a dead runner or exporter can belong to an unrelated process, and a run or export that
 * names it would look alive forever. So records also keep when their process started.
 */
import { readFileSync } from 'node:fs';

export interface ProcessRef {
  pid: number;
  /** `processStarted(pid)` when the record was written; absent where /proc does not say (and in older records). */
  started?: string;
}

/**
 * When process `pid` started, as `<boot id>/<start time in clock ticks since boot>` from Linux's
 * /proc (glue/local_runner.py writes the same for the runner); undefined where /proc does not say.
 */
export function processStarted(pid: number): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command name, is in parentheses and may hold spaces and ')': count fields from the last ')'.
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, starttime
    return boot && ticks && /^[0-9]+$/.test(ticks) ? `${boot}/${ticks}` : undefined;
  } catch {
    return undefined;
  }
}

/** This process, as records name it. */
export const THIS_PROCESS: Readonly<ProcessRef> = withStarted(process.pid);

function withStarted(pid: number): ProcessRef {
  const started = processStarted(pid);
  return started === undefined ? { pid } : { pid, started };
}

/**
 * Whether the process a record names still runs: its pid is taken (signal 0 checks without
 * signalling) and, when the record says when it started, by a process that started then.
 */
export function processAlive(ref: ProcessRef | number): boolean {
  const { pid, started } = typeof ref === 'number' ? { pid: ref, started: undefined } : ref;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (started === undefined) return true;
  // Unreadable now (no /proc, or it just ended): as alive as the signal said.
  const now = processStarted(pid);
  return now === undefined || now === started;
}

/** The owner of an export task record. */
export interface TaskOwner {
  ownerPid: number;
  ownerStarted?: string;
}

/** This process as a task's owner; `ownerStarted` is always set (if undefined) so it replaces an earlier owner's. */
export const THIS_OWNER: Readonly<TaskOwner> = { ownerPid: THIS_PROCESS.pid, ownerStarted: THIS_PROCESS.started };

export function ownerAlive(task: TaskOwner): boolean {
  return processAlive(task.ownerStarted === undefined ? task.ownerPid : { pid: task.ownerPid, started: task.ownerStarted });
}
