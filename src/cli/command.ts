/** Shared plumbing of the command modules: the options every command takes, and exit codes from actions. */
import { type Command, Option } from 'commander';
import type { CommandEnv } from './context';

export interface CommandKit {
  env: CommandEnv;
  /** Wraps an action: its returned number (default 0) becomes the process's exit code. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void>;
}

export function withConfig(cmd: Command): Command {
  return cmd.addOption(new Option('-c, --config <file>', 'the lakesync config file').default('lakesync.yaml'));
}

export function withJson(cmd: Command): Command {
  return cmd.option('--json', 'print JSON instead of text');
}

export interface CommonOptions {
  config?: string;
  json?: boolean;
}
