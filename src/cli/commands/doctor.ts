/**
 * `lakesync doctor <source>`: checks an AWS account against an aws source's config, read-only.
 * Exit 0 when every check passes (warnings allowed), 1 when one fails, 2 for a bad config or usage.
 */
import type { Command } from 'commander';
import type { CheckResult } from '../../doctor';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource } from '../context';
import { UsageError } from '../errors';
import { printJson, printLine } from '../io';

export function registerDoctor(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('doctor <source>')
    .description('check the AWS account against an aws source (credentials, RDS, roles, key, buckets, Glue, Lake Formation, Athena); changes nothing')
    .addHelpText('after', '\nExit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 usage or config error.');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: CommonOptions) => {
      const { io } = kit.env;
      const { source } = loadSource(io, opts, name);
      if (source.backend !== 'aws') throw new UsageError(`source ${name} has backend ${source.backend}: lakesync doctor checks aws sources (backend aws: rds and dynamodb sources)`);
      // Loaded here, not with the command line: the AWS clients take a while to load.
      const { doctorExitCode, doctorSettings, runDoctor } = await import('../../doctor');
      const { createDoctorClients, destroyDoctorClients } = await import('../../doctor/clients');
      const settings = doctorSettings(name, source);
      const clients = createDoctorClients(settings);
      let results: CheckResult[];
      try {
        results = await runDoctor(clients, settings);
      } finally {
        destroyDoctorClients(clients);
      }
      if (opts.json) printJson(io.stdout, results);
      else for (const r of results) printLine(io.stdout, formatResult(r));
      return doctorExitCode(results);
    }),
  );
}

const MARK_WIDTH = 4;

/** One line: the mark, the check, and for a failure or warning what is wrong and the fix. */
export function formatResult(r: CheckResult): string {
  const head = `${r.status.padEnd(MARK_WIDTH)} ${r.check}`;
  if (!r.problem) return head;
  return `${head}: ${r.problem}${r.fix ? ` (fix: ${r.fix})` : ''}`;
}
