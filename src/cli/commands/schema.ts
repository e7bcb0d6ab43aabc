/**
 * `lakesync schema <source> [table]`: every source column, the lake column and type it becomes,
 * its policy and where each came from. No Temporal server needed: postgres/pglite sources are
 * read from their catalog; rds sources from an export's listing (`--export <id>`, else the source
 * workflow's last export). Exit 2 when a column policy does not fit the table.
 */
import type { Command } from 'commander';
import type { LakesyncConfig, SourceConfig } from '../../config/schema';
import type { DiscoveredTable, ExportRef } from '../../model';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { type CommandEnv, loadSource, sourceStatus, withTemporal } from '../context';
import { EXIT_OK, EXIT_USAGE, RuntimeFailure, UsageError } from '../errors';
import { printJson, printLine } from '../io';
import { buildSchema, schemaLines, type SchemaReport } from '../schema-view';
import { hasReadableCatalog, readSourceTables } from '../source-catalog';
import { withSourcePorts } from '../source-ports';

interface SchemaOptions extends CommonOptions {
  export?: string;
}

export function registerSchema(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('schema <source> [table]')
    .description('every source column -> lake column, lake type, policy and where each came from (source catalog, or the export for rds); no side effects, no Temporal server needed')
    .option('--export <exportId>', 'rds sources: read the columns from this export (default: the source workflow\'s last export)');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, table: string | undefined, opts: SchemaOptions) => {
      const { io } = kit.env;
      const { config, source } = loadSource(io, opts, name);
      const { tables, from } = await sourceTables(kit.env, name, source, config, opts.export);
      const chosen = table ? tables.filter((t) => t.table === table) : tables;
      if (table && chosen.length === 0) {
        throw new UsageError(`${name} has no table ${table} in ${from}; its tables are: ${tables.map((t) => t.table).join(', ') || '(none)'}`);
      }
      const report = buildSchema(name, source, chosen, from);
      if (opts.json) printJson(io.stdout, report);
      else for (const line of schemaLines(report)) printLine(io.stdout, line);
      return schemaExitCode(report);
    }),
  );
}

export function schemaExitCode(report: SchemaReport): number {
  return report.tables.some((t) => t.problems.length > 0) ? EXIT_USAGE : EXIT_OK;
}

/** The source's tables with their columns, and where they were read. */
export async function sourceTables(
  env: CommandEnv,
  name: string,
  source: SourceConfig,
  config: LakesyncConfig,
  exportId?: string,
): Promise<{ tables: DiscoveredTable[]; from: string }> {
  if (hasReadableCatalog(source)) {
    if (exportId) throw new UsageError('--export applies to rds sources: a postgres or pglite source is read from its catalog');
    return { tables: await readSourceTables(env, name, source), from: `the source catalog (${source.source.kind})` };
  }
  if (source.source.kind !== 'rds' || !source.aws) throw new UsageError(`source ${name} (${source.source.kind}) has no catalog to read: schema reads postgres, pglite and rds sources`);
  const ref = exportId ? await rdsExportRef(source, exportId) : await lastExport(config, name);
  return withSourcePorts(env, name, source, config, async (ports) => {
    if (!(await ports.discover.exportAvailable(ref))) {
      throw new UsageError(`the export ${ref.exportId} cannot be read at ${ref.location} (deleted or not there): pass --export <exportId> of an export that exists`);
    }
    const found = await ports.discover.discover(ref);
    return { tables: found.tables, from: `the originalTypeMappings of export ${ref.exportId}` };
  });
}

async function rdsExportRef(source: SourceConfig, exportId: string): Promise<ExportRef> {
  const exp = source.aws?.export;
  if (!exp) throw new UsageError(`an rds source's exports are found under aws.export, which this source does not set: add aws.export (bucket, iamRoleArn, kmsKeyId)`);
  // Loaded here, not with the command line: it brings the AWS clients, which take a while to load.
  const { exportLocation } = await import('../../aws/rds-exports');
  return { exportId, location: exportLocation(exp.bucket, exp.prefix, exportId), snapshotId: '', adopted: true };
}

async function lastExport(config: LakesyncConfig, name: string): Promise<ExportRef> {
  let ref: ExportRef | undefined;
  try {
    ref = (await withTemporal(config, (conn) => sourceStatus(conn, name)))?.lastExport?.export;
  } catch (err) {
    // Temporal unreachable, or no worker answered: a runtime failure (exit 1), not a wrong command line.
    const text = `an rds source's columns come from an export, and the last one is known to the source workflow, which cannot be asked (${(err as Error).message}): pass --export <exportId>`;
    throw err instanceof UsageError ? err : new RuntimeFailure(text, { cause: err });
  }
  if (!ref) throw new UsageError(`source ${name} has no export yet: run "lakesync sync ${name}" first, or pass --export <exportId>`);
  return ref;
}
