/**
 * `lakesync status | head -1`: once the reader has gone, writing to stdout fails with EPIPE,
 * which Node raises as an unhandled 'error' event (a crash with a stack trace). Nothing more can
 * be shown to anyone, so the command ends quietly instead. runCli installs it for every command.
 */
import type { Output } from './io';

let installed = false;

export function exitQuietlyOnBrokenPipe(out: Output, exit: (code: number) => never = (code) => process.exit(code)): void {
  if (installed || out !== process.stdout) return;
  installed = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(0);
    throw err;
  });
}
