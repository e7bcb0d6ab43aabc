/** The `lakesync` command: one module per command (group) under ./commands. */
import { Command } from 'commander';
import type { CommandKit } from './command';
import type { CommandEnv } from './context';
import { registerCost } from './commands/cost';
import { registerDev } from './commands/dev';
import { registerDoctor } from './commands/doctor';
import { registerGrants } from './commands/grants';
import { registerInit } from './commands/init';
import { registerPlan } from './commands/plan';
import { registerQuery } from './commands/query';
import { registerRerun } from './commands/rerun';
import { registerSchedule } from './commands/schedule';
import { registerSchema } from './commands/schema';
import { registerStatus } from './commands/status';
import { registerSync } from './commands/sync';
import { registerValidate } from './commands/validate';
import { registerWatermarks } from './commands/watermarks';
import { registerWorker } from './commands/worker';

export interface Program {
  command: Command;
  /** The exit code the last action chose. */
  exitCode(): number;
}

export function buildProgram(env: CommandEnv): Program {
  let code = 0;
  const kit: CommandKit = {
    env,
    action:
      (fn) =>
      async (...args) => {
        code = (await fn(...args)) ?? 0;
      },
  };
  const program = new Command('lakesync')
    .description('keep an Apache Iceberg lake in sync with PostgreSQL, orchestrated by Temporal')
    .addHelpText('after', '\nExit codes: 0 success, 1 partial or failed cycle (or a runtime failure), 2 usage or config error (or no source workflow runs yet).')
    // Settings set here are copied to every subcommand created below.
    .exitOverride()
    .configureOutput({ writeOut: (s) => env.io.stdout.write(s), writeErr: (s) => env.io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');

  registerInit(program, kit);
  registerValidate(program, kit);
  registerDoctor(program, kit);
  registerPlan(program, kit);
  registerSchema(program, kit);
  registerSync(program, kit);
  registerRerun(program, kit);
  registerStatus(program, kit);
  registerWatermarks(program, kit);
  registerCost(program, kit);
  registerQuery(program, kit);
  registerGrants(program, kit);
  registerSchedule(program, kit);
  registerWorker(program, kit);
  registerDev(program, kit);
  return { command: program, exitCode: () => code };
}
