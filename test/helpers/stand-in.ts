import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A shell script in `dir` standing in for a server or runner binary: it records each start's
 * arguments, then runs `body`, in which `$starts` is the number of this start (1 for the first).
 */
export function standIn(dir: string, name: string, body: string): { path: string; starts: () => string[] } {
  const path = join(dir, name);
  const record = `${path}.starts`;
  writeFileSync(record, '');
  writeFileSync(path, `#!/bin/sh\necho "$*" >> "${record}"\nstarts=$(wc -l < "${record}")\n${body}\n`);
  chmodSync(path, 0o755);
  return { path, starts: () => readFileSync(record, 'utf8').split('\n').filter(Boolean) };
}

/** An executable in `dir` that ends itself with SIGKILL at once: a server or runner killed while it starts. */
export function selfKillingExecutable(dir: string): string {
  return standIn(dir, 'killed-at-start', 'kill -9 $$').path;
}
