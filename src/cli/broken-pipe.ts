/**
 * `lakesync status | head -1`: once the reader has gone, writing to stdout fails with EPIPE,
 * which Node raises as an unhandled 'error' event (a crash with a stack trace). Nothing more can
 * be shown to anyone, so the command ends quietly instead (exit 0: the reader chose to stop).
 * A reader of stderr that has gone (`lakesync validate 2>&1 | grep -q x`) ends nothing: what
 * follows is not written, and the command ends with its own exit code. runCli installs it for
 * every command.
 */
import type { Output } from './io';

let installed = false;

/** The error of a write to a pipe whose reader has gone, or of a write after it. */
const GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

export function exitQuietlyOnBrokenPipe(out: Output, exit: (code: number) => never = (code) => process.exit(code)): void {
  if (installed || out !== process.stdout) return;
  installed = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(0);
    throw err;
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === undefined || !GONE.has(err.code)) throw err;
  });
}
