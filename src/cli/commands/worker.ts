/** `lakesync worker`: runs the workflows and activities of every configured source until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import type { MetricsEndpoint } from '../../metrics';
import { type CommandKit, type CommonOptions, withConfig } from '../command';
import { configPath, loadConfig } from '../context';
import { UsageError } from '../errors';
import { temporalTarget } from '../../temporal';

interface WorkerCommandOptions extends CommonOptions {
  metrics?: string;
}

export function registerWorker(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('worker')
    .description('run a lakesync worker (every source in the config) until interrupted')
    .option('--metrics <host:port>', 'serve Prometheus metrics (lakesync\'s and the Temporal SDK\'s) at http://<host:port>/metrics');
  withConfig(cmd).action(
    kit.action(async (opts: WorkerCommandOptions) => {
      // Validate first so that a config, environment (TEMPORAL_ADDRESS...) or --metrics error exits 2 before any port is opened or connection made.
      temporalTarget(loadConfig(kit.env.io, opts));
      const metrics = opts.metrics !== undefined ? await listenForMetrics(opts.metrics) : undefined;
      // Loaded here, not with the command line: the worker and its backends take a while to load.
      const { runWorker } = await import('../../worker');
      await runWorker(configPath(kit.env.io, opts), metrics ? { metrics } : {});
    }),
  );
}

async function listenForMetrics(raw: string): Promise<MetricsEndpoint> {
  const { MetricsAddressError, openMetricsEndpoint } = await import('../../metrics');
  try {
    return await openMetricsEndpoint(raw);
  } catch (err) {
    if (err instanceof MetricsAddressError) throw new UsageError(err.message);
    throw err;
  }
}
