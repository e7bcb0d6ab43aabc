/**
 * `lakesync dev`: a local Temporal dev server with its Web UI and lakesync's search attributes,
 * plus a worker for the config's sources, until interrupted. State lives in a SQLite file, so
 * a restart keeps workflows, schedules and ledgers.
 */
import type { Command } from 'commander';
import { type CommandKit, withConfig } from '../command';
import type { DevOptions } from '../dev-session';

export function registerDev(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('dev')
    .description('start a local Temporal dev server (Web UI, search attributes) and a worker for the config\'s sources')
    .option('--port <port>', 'Temporal gRPC port', '7233')
    .option('--ui-port <port>', 'Web UI port', '8233')
    .option('--db-file <file>', 'SQLite file that keeps the server\'s state', '.lakesync/temporal.db')
    .option('--no-worker', 'start only the server')
    .option('--temporal-bin <path>', 'the Temporal CLI binary (default: the one the bootstrap built)');
  withConfig(cmd).action(kit.action(async (opts: DevOptions) => (await import('../dev-session')).dev(kit, opts)));
}

