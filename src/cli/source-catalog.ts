/**
 * The tables of a postgres/pglite source as an export would list them, read from the source's
 * catalog in one read-only transaction: no snapshot, no export, nothing written. `lakesync plan`
 * and `lakesync schema` use it, so neither needs a Temporal server. A PGlite database must exist
 * (these commands only read, so they never create one), unless it is the demo, seeded on first open.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDataRoot } from '../backends';
import { localSettings } from '../backends/local';
import { directExtract } from '../config/direct';
import type { SourceConfig } from '../config/schema';
import { selectTable } from '../config/tables';
import type { DiscoveredTable, TableName } from '../model';
import type { CommandEnv } from './context';
import { UsageError } from './errors';

/** Whether the source's catalog can be read from here (postgres and pglite sources). */
export function hasReadableCatalog(source: SourceConfig): boolean {
  return source.source.kind === 'postgres' || source.source.kind === 'pglite';
}

/**
 * Every table of the source with its exported columns (the mappings the local export writes) and its key.
 * `partitions`, when given, is filled with the partitions of each partitioned table, keyed by the table.
 * `notExported`, when given, is filled with the included tables an export skips, with the reason: they are left out.
 */
export async function readSourceTables(
  env: CommandEnv,
  name: string,
  source: SourceConfig,
  partitions?: Record<TableName, TableName[]>,
  notExported?: { table: TableName; reason: string }[],
): Promise<DiscoveredTable[]> {
  // Loaded here, not with the command line: the embedded backend (drivers, Parquet) takes a while to load.
  const { acquireSource, layoutOf, sourceSpec } = await import('../local');
  const { columnExport, typeMapping } = await import('../local/export/types');
  const { readCatalog } = await import('../local/source/catalog');
  const { planTable } = await import('../local/export/table-plan');
  const settings = localSettings(name, source, defaultDataRoot(env.io.cwd));
  const spec = sourceSpec(settings, layoutOf(settings.workDir));
  // Opening PGlite creates its database there: a mistyped dataDir, missing or a folder of other files,
  // would become an empty database listing no table. A demo source is seeded on first open, as its
  // worker would: it lists the demo tables.
  if (spec.kind === 'pglite' && !spec.demo && !existsSync(join(spec.dataDir, 'PG_VERSION'))) {
    throw new UsageError(
      `no PGlite database at ${spec.dataDir}: check sources.${name}.source.dataDir; a worker creates the database on the first sync (lakesync dev, then lakesync sync ${name})`,
    );
  }
  const handle = await acquireSource(spec);
  try {
    const catalog = await handle.db.consistentRead((session) => readCatalog(session));
    if (partitions) for (const t of catalog) if (t.partitions?.length) partitions[t.table] = [...t.partitions];
    // An included table the export will skip (unlogged, unreadable, sharing its name, odd column names) is no table to plan: said why instead.
    const listed = notExported
      ? catalog.filter((t, position) => {
          if (!selectTable(source, t.table).included || directExtract(source.tables[t.table])) return true;
          const decision = planTable(t, position, source.database);
          if ('skipped' in decision) notExported.push(decision.skipped);
          return !('skipped' in decision);
        })
      : catalog;
    return listed.map((t) => ({
      table: t.table,
      target: `${source.database}.${t.table}`,
      columns: t.columns.flatMap((c) => {
        const exported = columnExport(c);
        return exported ? [typeMapping(exported)] : [];
      }),
      ...(t.primaryKey.length > 0 ? { primaryKey: t.primaryKey } : {}),
      // A direct table's cursor column that may hold NULL is warned of by the plan.
      ...(t.nullable?.length && directExtract(source.tables[t.table]) ? { nullable: t.nullable } : {}),
    }));
  } finally {
    await handle.release();
  }
}

/**
 * The source's views, materialized views, foreign tables and partitions (`schema.table` -> what it
 * is), read as readSourceTables reads the tables: no table of its own in an export.
 */
export async function readSourceNotTables(env: CommandEnv, name: string, source: SourceConfig): Promise<Record<TableName, string>> {
  const { acquireSource, layoutOf, sourceSpec } = await import('../local');
  const { readNotTables } = await import('../catalog-queries');
  const settings = localSettings(name, source, defaultDataRoot(env.io.cwd));
  const handle = await acquireSource(sourceSpec(settings, layoutOf(settings.workDir)));
  try {
    return await handle.db.consistentRead(readNotTables);
  } finally {
    await handle.release();
  }
}
