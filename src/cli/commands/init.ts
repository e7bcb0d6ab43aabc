/** `lakesync init`: writes a commented starter config that validates as is. */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import { type CommandKit, withConfig } from '../command';
import { DEFAULT_CONFIG_FILE, configPath } from '../context';
import { UsageError } from '../errors';
import { printLine } from '../io';
import { repoRoot } from '../paths';
import { SOURCE_NAME, SOURCE_NAME_RULE } from '../../names';
import { SCHEMA_FILES } from '../schemas';
import { starterConfig } from '../starter-config';

export function registerInit(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('init')
    .description('write a commented starter lakesync.yaml (local backend, demo database)')
    .option('--source <name>', 'name of the first source', 'demo')
    .option('--force', 'overwrite an existing file');
  withConfig(cmd).action(
    kit.action(async (opts: { config?: string; source: string; force?: boolean }) => {
      const { io } = kit.env;
      const file = configPath(io, opts);
      if (!SOURCE_NAME.test(opts.source)) {
        throw new UsageError(`--source ${JSON.stringify(opts.source)}: ${SOURCE_NAME_RULE}`);
      }
      if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${file} is a folder: pass --config <file>, e.g. ${join(file, 'lakesync.yaml')}`);
      if (existsSync(file) && !opts.force) throw new UsageError(`${file} exists: pass --force to overwrite it, or --config <other file>`);
      // init writes one file, never folders: a mistyped path should not grow a tree.
      if (!existsSync(dirname(file))) throw new UsageError(`cannot write ${file}: the folder ${dirname(file)} does not exist; create it first (mkdir -p ${dirname(file)}) or pass --config <file> in an existing folder`);
      const schema = join(repoRoot(), SCHEMA_FILES.config);
      const schemaPath = existsSync(schema) ? relative(dirname(file), schema) || schema : undefined;
      writeFileSync(file, starterConfig({ source: opts.source, ...(schemaPath ? { schemaPath } : {}) }));
      // Both next commands read lakesync.yaml unless told otherwise: a dev without it would start no worker.
      const configArg = opts.config && opts.config !== DEFAULT_CONFIG_FILE ? ` --config ${shellWord(opts.config)}` : '';
      printLine(io.stdout, `wrote ${file}; next: lakesync validate${configArg}, then lakesync dev${configArg}`);
    }),
  );
}

/** A path as one shell word: as it is when it holds nothing the shell reads, else in single quotes. */
function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}
