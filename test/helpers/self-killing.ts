import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An executable in `dir` that ends itself with SIGKILL at once: a server or runner killed while it starts. */
export function selfKillingExecutable(dir: string): string {
  const path = join(dir, 'killed-at-start');
  writeFileSync(path, '#!/bin/sh\nkill -9 $$\n');
  chmodSync(path, 0o755);
  return path;
}
