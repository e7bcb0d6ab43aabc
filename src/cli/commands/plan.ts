/** `lakesync plan <source>`: per table the action and why, keys, lake name, exclusions. No side effects. */
import type { Command } from 'commander';
import { ConfigError } from '../../errors';
import type { SourceStatus } from '../../workflows/messages';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource, sourceStatus, withTemporal } from '../context';
import { columns, shown } from '../format';
import { printJson, printLine } from '../io';
import { buildPlan, EXTRACT_WORDS, type PlanReport } from '../plan-view';
import { EXIT_OK, EXIT_USAGE } from '../errors';
import { openSourcePorts } from '../source-ports';

/** How long plan waits for Temporal's lake state before it plans without it. */
const PLAN_CONNECT_TIMEOUT_MS = 3_000;
import type { LakesyncConfig, SourceConfig } from '../../config/schema';
import type { CommandEnv } from '../context';
import { buildSchema, schemaLines, type SchemaReport } from '../schema-view';
import { hasReadableCatalog, readSourceTables } from '../source-catalog';
import { schemaExitCode, sourceTables } from './schema';

export function registerPlan(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('plan <source>')
    .description('show what a sync would do per table (action and why, keys, lake name, exclusions) without doing anything')
    .option('--columns', 'also show every column of the loaded tables: lake column, lake type, policy and where each came from');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: CommonOptions & { columns?: boolean }) => {
      const { io } = kit.env;
      const { config, source } = loadSource(io, opts, name);
      let status: SourceStatus | undefined;
      let statusNote: string | undefined;
      let statusUnknown = false;
      try {
        // The plan goes on without the lake state, so an absent server holds it up briefly only.
        status = await withTemporal(config, (conn) => sourceStatus(conn, name), PLAN_CONNECT_TIMEOUT_MS);
        if (!status) statusNote = `no source workflow lakesync/${name} runs yet`;
      } catch (err) {
        // A wrong Temporal setting (TEMPORAL_ADDRESS...) is the user's to fix, not a server that is away.
        if (err instanceof ConfigError) throw err;
        statusNote = `lake state unknown: ${(err as Error).message}`;
        statusUnknown = true;
      }
      // Filled by the catalog read: an exclude rule naming a partition is told apart from a misspelt one.
      const partitions: Record<string, string[]> = {};
      // Filled by it too: the tables the export will skip, with the reason.
      const notExported: { table: string; reason: string }[] = [];
      const report = await buildPlan({
        name,
        source,
        status,
        ...(statusNote ? { statusNote } : {}),
        ...(statusUnknown ? { statusUnknown } : {}),
        ports: () => openSourcePorts(kit.env, name, source, config),
        ...(hasReadableCatalog(source)
          ? { catalog: () => readSourceTables(kit.env, name, source, partitions, notExported), partitions: async () => partitions, notExported: async () => notExported }
          : {}),
      });
      const loadedTables = new Set(report.rows.filter((r) => r.action !== 'skip').map((r) => r.table));
      const schema = opts.columns ? await columnsOf(kit.env, name, source, config, loadedTables) : undefined;
      const exitCode = planExitCode(report, schema);
      if (opts.json) {
        printJson(io.stdout, schema ? { ...report, columns: schema } : report);
        return exitCode;
      }
      printLine(io.stdout, `plan for ${name} (lake namespace ${report.namespace})`);
      printLine(io.stdout, `tables from: ${report.tablesFrom}`);
      printLine(io.stdout, `lake state from: ${report.lakeStateFrom}`);
      printLine(io.stdout);
      const loaded = report.rows.filter((r) => r.action !== 'skip');
      const rows = loaded.map((r) => [
        r.table,
        r.lakeTable,
        r.action,
        r.why,
        r.primaryKey.length ? `${r.primaryKey.join(',')} (${r.keyFrom})` : '-',
        r.cursorColumn ? `${r.cursorColumn} (${r.cursorMode}${r.cursorLookback ? `, lookback ${r.cursorLookback}` : ''})` : '',
        EXTRACT_WORDS[r.extract],
      ]);
      for (const line of columns(['TABLE', 'LAKE TABLE', 'ACTION', 'WHY', 'KEY', 'CURSOR', 'EXTRACT'], rows)) printLine(io.stdout, line);
      const skipped = report.rows.filter((r) => r.action === 'skip');
      if (skipped.length > 0) {
        printLine(io.stdout);
        printLine(io.stdout, 'not loaded:');
        for (const r of skipped) printLine(io.stdout, `  ${shown(r.table)}  ${shown(r.excludedBy ? `excluded by rule "${r.excludedBy}"` : r.why)}`);
      }
      for (const note of report.notes) printLine(io.stdout, `note: ${shown(note)}`);
      for (const warning of report.warnings) printLine(io.stdout, `warning: ${shown(warning)}`);
      if (schema) {
        printLine(io.stdout);
        for (const line of schemaLines(schema)) printLine(io.stdout, line);
      }
      return exitCode;
    }),
  );
}

/** Exit 2 when a table cannot be planned (its row carries an error) or a column has a problem: the config needs a fix, as with `schema`. */
function planExitCode(report: PlanReport, schema: SchemaReport | undefined): number {
  if (report.rows.some((r) => r.error !== undefined)) return EXIT_USAGE;
  return schema ? schemaExitCode(schema) : EXIT_OK;
}

/** The columns of the tables the plan loads, read as `lakesync schema` reads them. */
async function columnsOf(env: CommandEnv, name: string, source: SourceConfig, config: LakesyncConfig, loaded: ReadonlySet<string>): Promise<SchemaReport> {
  const { tables, from } = await sourceTables(env, name, source, config);
  return buildSchema(name, source, tables.filter((t) => loaded.has(t.table)), from);
}
