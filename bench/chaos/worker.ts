/**
 * A lakesync worker in a process of its own, so the chaos run can kill it (SIGKILL) like a crash.
 * Usage: node worker.js <config.json> <data root>; sends "ready" over IPC once polling.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseConfig } from '../../src/config/load';
import { createWorker } from '../../src/worker';

async function main(): Promise<void> {
  const [configFile, dataRoot] = process.argv.slice(2);
  if (!configFile || !dataRoot) throw new Error('usage: worker.js <config.json> <data root>');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = parseConfig(JSON.parse(readFileSync(configFile, 'utf8')));
  const { worker, close } = await createWorker({ config, dataRoot });
  const running = worker.run();
  process.send?.('ready');
  process.once('SIGTERM', () => worker.shutdown());
  await running;
  await close();
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos worker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
