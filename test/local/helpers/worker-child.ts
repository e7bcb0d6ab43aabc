/**
 * A lakesync worker in a process of its own, so a test can kill it like a crash (SIGKILL).
 * Usage: node worker-child.js <config file> <data root>; prints "ready" once polling.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfigFile } from '../../../src/config/load';
import { createWorker } from '../../../src/worker';

async function main(): Promise<void> {
  const [configFile, dataRoot] = process.argv.slice(2);
  if (!configFile || !dataRoot) throw new Error('usage: worker-child.js <config file> <data root>');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const { worker, close } = await createWorker({ config: loadConfigFile(configFile), dataRoot });
  const running = worker.run();
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => worker.shutdown());
  await running;
  await close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
