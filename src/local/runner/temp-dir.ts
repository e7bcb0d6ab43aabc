/**
 * Each load runner's own temporary folder, given to it as TMPDIR, under the work dir's runner-tmp/.
 *
 * A runner killed while Spark starts (its start timed out, or its worker stopped) cannot clean up:
 * PySpark has made a folder for the JVM's connection file, and the JVM, still starting, writes the
 * file into it. In the system's /tmp such folders would pile up, one per killed start. Here the
 * client that started the runner removes its folder once the runner has ended, and a folder whose
 * client ended first (a worker killed outright) is removed by a later start in this work dir once
 * its runner's processes have ended too: a runner still starting Spark needs it, and its JVM would
 * run on for good if it could not write its connection file there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, processStarted, THIS_PROCESS, type ProcessRef } from '../process-identity';
import { processGroupAlive } from '../../child-process';
import type { WorkDirLayout } from '../paths';

/** `<client pid>-<hash of when the client started, or "x">-<random>`: the name says whose folder it is. */
const NAME = /^([0-9]+)-([0-9a-f]{12}|x)-[0-9a-f]{8}$/;

function startedTag(started: string | undefined): string {
  return started === undefined ? 'x' : createHash('sha256').update(started).digest('hex').slice(0, 12);
}

/** A new, empty temporary folder for a runner this process starts. */
export function newRunnerTempDir(layout: WorkDirLayout, owner: ProcessRef = THIS_PROCESS): string {
  mkdirSync(layout.runnerTemp, { recursive: true });
  const dir = join(layout.runnerTemp, `${owner.pid}-${startedTag(owner.started)}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** The file in a runner's folder naming its process group (the runner's pid: it leads its group). */
const GROUP_FILE = 'runner-group';

/** Notes the process group of the runner the folder was made for, once the runner is spawned; why it could not, if it could not. */
export function recordRunnerGroup(dir: string, pgid: number): string | undefined {
  try {
    writeFileSync(join(dir, GROUP_FILE), String(pgid));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Whether a process of the runner's group still runs (false when no group was noted: its spawn failed). */
function groupAlive(dir: string): boolean {
  let pgid: number;
  try {
    pgid = Number(readFileSync(join(dir, GROUP_FILE), 'utf8'));
  } catch {
    return false;
  }
  return Number.isInteger(pgid) && pgid > 1 && processGroupAlive(pgid);
}

/**
 * Removes a runner's temporary folder and what it holds (nothing to do when it is already gone).
 * Never throws: it runs when the runner ends, in an event handler. Returns why it failed, if it did.
 */
export function removeRunnerTempDir(dir: string): string | undefined {
  try {
    // Retried: the runner's JVM may still write into the folder for a moment after the runner ended.
    rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Removes the folders whose client process and runner have ended; those of live clients (this
 * one's other runners, or another worker's on the same work dir), and of runners still running
 * without their client, stay. Returns the folders removed.
 */
export function removeOrphanedRunnerTempDirs(layout: WorkDirLayout): string[] {
  let names: string[];
  try {
    names = readdirSync(layout.runnerTemp);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = NAME.exec(name);
    const dir = join(layout.runnerTemp, name);
    if ((match && ownerAlive(Number(match[1]), match[2]!)) || groupAlive(dir)) continue;
    if (removeRunnerTempDir(dir) === undefined) removed.push(dir);
  }
  return removed;
}

function ownerAlive(pid: number, tag: string): boolean {
  if (!processAlive(pid)) return false;
  // The pid may be another process's now (after a reboot, or once pids wrap).
  return tag === 'x' || startedTag(processStarted(pid)) === tag;
}
