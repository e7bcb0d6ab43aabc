/** A lakesync worker of a config file's sources, run in the test's own process until stopped. */
import { loadConfigFile } from '../../src/config/load';
import { createWorker } from '../../src/worker';

export interface InProcessWorker {
  /** Shuts the worker down and waits until it has stopped and closed its connections. */
  stop(): Promise<void>;
}

export async function runWorkerInProcess(configFile: string, dataRoot: string): Promise<InProcessWorker> {
  const worker = await createWorker({ config: loadConfigFile(configFile), dataRoot });
  const running = worker.worker.run();
  return {
    async stop() {
      worker.worker.shutdown();
      await running.catch(() => undefined);
      await worker.close();
    },
  };
}
