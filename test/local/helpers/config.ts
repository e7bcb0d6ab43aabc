import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

type Settings = Record<string, unknown>;

/**
 * Writes `<dir>/lakesync.yaml` with the given sources, for the dev server at `address` and a task
 * queue of this test process's own (`<queue>-<pid>`, so test files never take each other's
 * tasks). Returns the file's path.
 */
export function writeConfig(dir: string, address: string, queue: string, sources: Record<string, Settings>): string {
  const file = join(dir, 'lakesync.yaml');
  writeFileSync(file, stringify({ temporal: { address, taskQueue: `${queue}-${process.pid}` }, sources }));
  return file;
}

/** A source reading the `shop` database at `url` into the lake namespace `shop`, with the test's own settings. */
export function shopSource(url: string, settings: Settings): Settings {
  return { database: 'shop', source: { kind: 'postgres', url }, target: { namespace: 'shop' }, ...settings };
}
