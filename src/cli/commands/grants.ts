/** `lakesync grants <source>`: the grants in force, where the backend can list them (the local grant store). */
import type { Command } from 'commander';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource } from '../context';
import { UsageError } from '../errors';
import { columns } from '../format';
import { printJson, printLine } from '../io';
import { backendName, withSourcePorts } from '../source-ports';

export function registerGrants(program: Command, kit: CommandKit): void {
  const cmd = program.command('grants <source>').description('list the grants in force on the source\'s lake namespace and tables');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: CommonOptions) => {
      const { io } = kit.env;
      const { config, source } = loadSource(io, opts, name);
      const grants = await withSourcePorts(kit.env, name, source, config, async (ports) => {
        const list = ports.grant.list?.bind(ports.grant);
        if (!list) {
          throw new UsageError(`the ${backendName(source)} backend of source ${name} cannot list grants${source.backend === 'aws' ? ': use the Lake Formation console or "aws lakeformation list-permissions"' : ''}`);
        }
        return list();
      });
      if (opts.json) {
        printJson(io.stdout, grants);
        return;
      }
      if (grants.length === 0) printLine(io.stdout, `${name}: no grants`);
      const rows = grants.map((g) => [g.principal, g.resource.table ? `${g.resource.namespace}.${g.resource.table}` : `${g.resource.namespace} (namespace)`, g.permissions.join(',')]);
      if (rows.length > 0) for (const line of columns(['PRINCIPAL', 'RESOURCE', 'PERMISSIONS'], rows)) printLine(io.stdout, line);
    }),
  );
}
