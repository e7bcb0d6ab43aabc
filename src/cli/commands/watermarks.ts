/** `lakesync watermarks <source>`: the ledger: per table what its last committed load produced. */
import type { Command } from 'commander';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource, noSourceWorkflow, sourceStatus, withTemporal } from '../context';
import { costText } from '../../cost/report';
import { columns, shown } from '../format';
import { printJson, printLine } from '../io';

export function registerWatermarks(program: Command, kit: CommandKit): void {
  const cmd = program.command('watermarks <source>').description('per table: the last committed load (action, rows, cursor, Iceberg snapshot, time) and the last error');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: CommonOptions) => {
      const { io } = kit.env;
      const { config } = loadSource(io, opts, name);
      return withTemporal(config, async (conn) => {
        const status = await sourceStatus(conn, name);
        if (!status) throw noSourceWorkflow(name, 'there is no ledger');
        if (opts.json) {
          printJson(io.stdout, { source: name, ledger: status.ledger, failed: status.failed });
          return;
        }
        const entries = Object.entries(status.ledger).sort(([a], [b]) => a.localeCompare(b));
        if (entries.length === 0) printLine(io.stdout, `${name}: no table has been loaded yet`);
        const rows = entries.map(([table, w]) => [
          table,
          w.action,
          String(w.rowCount),
          w.cursorColumn ? `${w.cursorColumn}=${w.cursorValue ?? ''}` : '',
          w.icebergSnapshotId ?? '',
          w.loadedAt,
          w.extract === 'direct' ? '(read directly)' : w.exportId,
          w.cost ? costText(w.cost) : '',
          w.lastError ?? '',
        ]);
        if (rows.length > 0) for (const line of columns(['TABLE', 'ACTION', 'ROWS', 'CURSOR', 'ICEBERG SNAPSHOT', 'LOADED AT', 'EXPORT', 'COST', 'LAST ERROR'], rows)) printLine(io.stdout, line);
        const failed = Object.entries(status.failed);
        for (const [table, f] of failed) if (!status.ledger[table]) printLine(io.stdout, `${shown(table)}: never loaded; last error [${f.phase}] ${shown(f.message)}`);
      });
    }),
  );
}
