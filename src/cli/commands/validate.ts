/** `lakesync validate`: loads and checks the config; touches nothing else. */
import type { Command } from 'commander';
import { ConfigError } from '../../errors';
import { loadConfigFile } from '../../config/load';
import { temporalTarget } from '../../temporal';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { configPath } from '../context';
import { EXIT_USAGE, errorText } from '../errors';
import { shown } from '../format';
import { printJson, printLine } from '../io';

export function registerValidate(program: Command, kit: CommandKit): void {
  const cmd = program.command('validate').description('check the config file (every problem names the field, the value and the fix); no side effects');
  withJson(withConfig(cmd)).action(
    kit.action(async (opts: CommonOptions) => {
      const { io } = kit.env;
      const file = configPath(io, opts);
      let config;
      let target;
      try {
        config = loadConfigFile(file);
        // The environment variables that win over the config are checked as strictly, and reported alike.
        target = temporalTarget(config);
      } catch (err) {
        if (err instanceof ConfigError && opts.json) {
          printJson(io.stdout, { valid: false, file, issues: err.issues });
          io.stderr.write(`${errorText(err)}\n`);
          return EXIT_USAGE;
        }
        throw err;
      }
      const sources = Object.entries(config.sources).map(([name, s]) => ({
        name,
        backend: s.backend,
        sourceKind: s.source.kind,
        namespace: s.target.namespace,
        configuredTables: Object.keys(s.tables).length,
        include: s.include,
        exclude: s.exclude,
      }));
      if (opts.json) {
        printJson(io.stdout, { valid: true, file, temporal: { address: target.address, namespace: target.namespace, taskQueue: target.taskQueue }, sources });
        return;
      }
      printLine(io.stdout, `${file}: valid`);
      printLine(io.stdout, `temporal: ${target.address}, namespace ${target.namespace}, task queue ${target.taskQueue}`);
      for (const s of sources) {
        // A glob may hold any character but a space, control characters too: shown escaped.
        printLine(io.stdout, shown(`source ${s.name}: ${s.backend} backend, ${s.sourceKind} source, lake namespace ${s.namespace}, include ${s.include.join(' ')}${s.exclude.length ? `, exclude ${s.exclude.join(' ')}` : ''}`));
      }
    }),
  );
}
