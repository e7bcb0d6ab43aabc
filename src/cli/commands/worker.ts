/** `lakesync worker`: runs the workflows and activities of every configured source until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { runWorker } from '../../worker';
import { type CommandKit, type CommonOptions, withConfig } from '../command';
import { configPath, loadConfig } from '../context';

export function registerWorker(program: Command, kit: CommandKit): void {
  const cmd = program.command('worker').description('run a lakesync worker (every source in the config) until interrupted');
  withConfig(cmd).action(
    kit.action(async (opts: CommonOptions) => {
      // Validate first so that a config error exits 2 before any connection is made.
      loadConfig(kit.env.io, opts);
      await runWorker(configPath(kit.env.io, opts));
    }),
  );
}
