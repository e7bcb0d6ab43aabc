/**
 * A lakesync worker in its own process, for tests that kill it: `node worker-process.js <config.json>`.
 * The config's fake source keeps its state in a folder so that it outlives the process.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseConfig } from '../../src/config/load';
import { createWorker } from '../../src/worker';

// A test process that dies without stopping this worker closes the IPC channel: go with it, rather
// than poll a server that is gone while holding the test runner's output open.
process.on('disconnect', () => process.exit(1));

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = parseConfig(JSON.parse(readFileSync(process.argv[2]!, 'utf8')));
  const { worker, close } = await createWorker({ config });
  process.send?.('ready');
  await worker.run();
  await close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
