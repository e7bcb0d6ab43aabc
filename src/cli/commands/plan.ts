/** `lakesync plan <source>`: per table the action and why, keys, lake name, exclusions. No side effects. */
import type { Command } from 'commander';
import type { SourceStatus } from '../../workflows/messages';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource, sourceStatus, withTemporal } from '../context';
import { columns } from '../format';
import { printJson, printLine } from '../io';
import { buildPlan } from '../plan-view';
import { openSourcePorts } from '../source-ports';

export function registerPlan(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('plan <source>')
    .description('show what a sync would do per table (action and why, keys, lake name, exclusions) without doing anything');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: CommonOptions) => {
      const { io } = kit.env;
      const { config, source } = loadSource(io, opts, name);
      let status: SourceStatus | undefined;
      let statusNote: string | undefined;
      try {
        status = await withTemporal(config, (conn) => sourceStatus(conn, name));
        if (!status) statusNote = `no source workflow lakesync/${name} runs yet`;
      } catch (err) {
        statusNote = `lake state unknown: ${(err as Error).message}`;
      }
      const report = await buildPlan({
        name,
        source,
        status,
        ...(statusNote ? { statusNote } : {}),
        ports: () => openSourcePorts(kit.env, name, source, config),
      });
      if (opts.json) {
        printJson(io.stdout, report);
        return;
      }
      printLine(io.stdout, `plan for ${name} (lake namespace ${report.namespace})`);
      printLine(io.stdout, `tables from: ${report.tablesFrom}`);
      printLine(io.stdout, `lake state from: ${report.lakeStateFrom}`);
      printLine(io.stdout);
      const loaded = report.rows.filter((r) => r.action !== 'skip');
      const rows = loaded.map((r) => [r.table, r.lakeTable, r.action, r.why, r.primaryKey.length ? `${r.primaryKey.join(',')} (${r.keyFrom})` : '-', r.cursorColumn ? `${r.cursorColumn} (${r.cursorMode}${r.cursorLookback ? `, lookback ${r.cursorLookback}` : ''})` : '']);
      for (const line of columns(['TABLE', 'LAKE TABLE', 'ACTION', 'WHY', 'KEY', 'CURSOR'], rows)) printLine(io.stdout, line);
      const skipped = report.rows.filter((r) => r.action === 'skip');
      if (skipped.length > 0) {
        printLine(io.stdout);
        printLine(io.stdout, 'not loaded:');
        for (const r of skipped) printLine(io.stdout, `  ${r.table}  ${r.excludedBy ? `excluded by rule "${r.excludedBy}"` : r.why}`);
      }
      for (const note of report.notes) printLine(io.stdout, `note: ${note}`);
    }),
  );
}
