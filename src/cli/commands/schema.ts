/**
 * `lakesync schema <source> [table]`: every source column, the lake column and type it becomes,
 * its policy and where each came from. No Temporal server needed: postgres/pglite sources are
 * read from their catalog; rds sources from an export's listing (`--export <id>`, else the source
 * workflow's last export). Exit 2 when a column policy does not fit the table.
 */
import type { Command } from 'commander';
import type { LakesyncConfig, SourceConfig } from '../../config/schema';
import { PARTITION_OF } from '../../catalog-queries';
import type { DiscoveredTable, ExportRef, TableName } from '../../model';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { type CommandEnv, loadSource, sourceStatus, withTemporal } from '../context';
import { EXIT_OK, EXIT_USAGE, RuntimeFailure, UsageError } from '../errors';
import { printJson, printLine } from '../io';
import { buildSchema, schemaLines, type SchemaReport } from '../schema-view';
import { hasReadableCatalog, readSourceNotTables, readSourceTables } from '../source-catalog';
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
      const { tables, from, notTables, skipped } = await sourceTables(kit.env, name, source, config, opts.export, table);
      const chosen = table ? tables.filter((t) => t.table === table) : tables;
      if (table && chosen.length === 0) {
        const skip = skipped?.find((s) => s.table === table);
        if (skip) throw new UsageError(`${name}: ${table} has no columns in ${from}: the export skipped it (${skip.reason})`);
        const kind = notTables?.[table];
        if (kind !== undefined) throw new UsageError(notATableText(name, table, kind));
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

/** What `schema` says of a name the source gives a view, materialized view, foreign table or partition: what it is, and what to do. */
export function notATableText(name: string, table: TableName, kind: string): string {
  if (kind.startsWith(PARTITION_OF)) {
    const parent = kind.slice(PARTITION_OF.length);
    return `${name}: ${table} is a ${kind}: its rows are loaded with ${parent}; run lakesync schema ${name} ${parent}`;
  }
  return `${name}: ${table} is a ${kind}, not a table: an export holds tables only, so it has no columns to load; run lakesync schema ${name} <table> on the tables it reads from`;
}

/**
 * The source's tables with their columns, and where they were read. When `wanted` is not among
 * them, `notTables` tells what the source's catalog says it is, where the catalog can tell.
 */
export async function sourceTables(
  env: CommandEnv,
  name: string,
  source: SourceConfig,
  config: LakesyncConfig,
  exportId?: string,
  wanted?: TableName,
): Promise<{ tables: DiscoveredTable[]; from: string; notTables?: Record<TableName, string>; skipped?: { table: TableName; reason: string }[] }> {
  if (hasReadableCatalog(source)) {
    if (exportId) throw new UsageError('--export applies to rds sources: a postgres or pglite source is read from its catalog');
    const tables = await readSourceTables(env, name, source);
    const notTables = wanted !== undefined && !tables.some((t) => t.table === wanted) ? { notTables: await readSourceNotTables(env, name, source) } : {};
    return { tables, from: `the source catalog (${source.source.kind})`, ...notTables };
  }
  if (source.source.kind !== 'rds' || !source.aws) throw new UsageError(`source ${name} (${source.source.kind}) has no catalog to read: schema reads postgres, pglite and rds sources`);
  const ref = exportId ? await rdsExportRef(source, exportId) : await lastExport(config, name);
  return withSourcePorts(env, name, source, config, async (ports) => {
    if (!(await ports.discover.exportAvailable(ref))) {
      throw new UsageError(`the export ${ref.exportId} cannot be read at ${ref.location} (deleted or not there): pass --export <exportId> of an export that exists`);
    }
    const found = await ports.discover.discover(ref);
    // An export holds no view nor partition of its own: the source catalog (source.catalog) tells what a name missing from it is.
    const missing = wanted !== undefined && !found.tables.some((t) => t.table === wanted) && !found.skipped.some((t) => t.table === wanted) && ports.export?.listSourceNotTables;
    const notTables = missing ? { notTables: await ports.export.listSourceNotTables!() } : {};
    return { tables: found.tables, from: `the originalTypeMappings of export ${ref.exportId}`, skipped: found.skipped, ...notTables };
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
