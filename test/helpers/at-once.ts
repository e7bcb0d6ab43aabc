/** Processes that act at the same instant, for the tests that race several processes on one task. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { within } from './within';

/**
 * Runs `count` node processes of `script` (a CommonJS body) with `env` plus AT, an instant one
 * second ahead that the script waits for (`while (Date.now() < Number(process.env.AT));`) before
 * it acts. Each must exit 0 and print one JSON value; returns them.
 */
export async function runAtOnce<T>(script: string, env: NodeJS.ProcessEnv, what: string, count = 4): Promise<T[]> {
  const withInstant = { ...process.env, ...env, AT: String(Date.now() + 1000) };
  const children = Array.from({ length: count }, () => spawn(process.execPath, ['-e', script], { env: withInstant, stdio: ['ignore', 'pipe', 'inherit'] }));
  try {
    return await within(
      120_000,
      what,
      Promise.all(
        children.map(async (child) => {
          let out = '';
          child.stdout.on('data', (b: Buffer) => (out += b.toString()));
          // 'close', not 'exit': only then has all of stdout been read.
          const [code] = await once(child, 'close');
          assert.equal(code, 0, `${what}: a process exited with ${String(code)}`);
          return JSON.parse(out) as T;
        }),
      ),
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
}
