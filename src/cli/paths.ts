/** Files of the lakesync package itself, found from this module wherever it was compiled to. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The nearest folder above this module that holds package.json (works from src, dist or any build folder). */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}
