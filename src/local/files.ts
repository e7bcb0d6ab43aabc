/** Small file helpers of the embedded mode: atomic and exclusive JSON writes, orphaned-task claims, tolerant reads. */
import { randomBytes } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The JSON written whole to a new sibling of `file`, whose path is returned. */
function writeSibling(file: string, value: unknown): string {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2));
  return tmp;
}

/** Writes JSON so that a reader never sees half a file: write a sibling, then rename over. */
export function writeJsonAtomic(file: string, value: unknown): void {
  renameSync(writeSibling(file, value), file);
}

/**
 * Creates the file with `value` unless it exists: true when this call created it. Whole or
 * absent to every reader, and exclusive among processes (a hard link fails on an existing name).
 */
export function writeJsonExclusive(file: string, value: unknown): boolean {
  const tmp = writeSibling(file, value);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Whether this process takes over the task `<dir>/<id>.json` whose owner process died: only one
 * of the processes asking at once does. The claim `<id>.takeover-<startedAtMs>-<deadPid>` names the
 * dead owner's run, so that a later orphaning of the same task is claimed anew.
 */
export function claimOrphanedTask(dir: string, orphan: { exportId: string; startedAt: string; ownerPid: number }): boolean {
  return writeJsonExclusive(join(dir, `${orphan.exportId}.takeover-${Date.parse(orphan.startedAt)}-${orphan.ownerPid}`), { by: process.pid });
}

/**
 * The parsed file, or undefined when it does not exist (also when another process removes it as it
 * is read, e.g. the runner.json of a runner that stops). A corrupt file is an error that names it.
 */
export function readJsonIfExists<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}): delete it or restore it from a backup`);
  }
}

/**
 * Keeps a log that other processes append to under about `maxBytes`: past it, its lines move to
 * `<file>.1` (replacing those there) and the file starts again empty. Its writers keep their
 * descriptors: they append (O_APPEND), so their next line lands at the new start, with no hole.
 * Lines written between the copy and the truncation are lost. True when it moved the lines.
 */
export function trimLog(file: string, maxBytes: number): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}

/** A name safe in file names: letters, digits, dot, dash, underscore. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Serialises async work on one key inside this process (e.g. read-modify-write of one file). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
