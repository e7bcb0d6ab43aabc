/**
 * `lakesync cost <source> [--cycles N] [--json]`: the cost ledger from the source workflow's
 * state: per cycle DPU-seconds, export GB and dollars with totals, per table the last cycle's.
 */
import type { Command } from 'commander';
import { BASIS_NOTE, type CostReport, costReport, numberText, usdText } from '../../cost/report';
import type { CostPrices, CostTotals, TableCost } from '../../model';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource, noSourceWorkflow, sourceStatus, withTemporal } from '../context';
import { columns, shown } from '../format';
import { printJson, printLine } from '../io';
import { wholeNumberOption } from '../whole-number';

/** The status keeps the newest 20 cycle summaries. */
const MAX_CYCLES = 20;

interface CostOptions extends CommonOptions {
  cycles: string;
}

export function registerCost(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('cost <source>')
    .description('estimated cost per cycle and per table: Glue DPU-seconds, export GB and dollars at the configured prices, with totals')
    .option('--cycles <n>', `how many of the newest cycles (1-${MAX_CYCLES})`, '10');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: CostOptions) => {
      const { io } = kit.env;
      const cycles = cyclesOption(opts.cycles);
      const { config, source } = loadSource(io, opts, name);
      return withTemporal(config, async (conn) => {
        const status = await sourceStatus(conn, name);
        if (!status) throw noSourceWorkflow(name, 'no cycle has a cost yet');
        const report = costReport(status, cycles);
        if (opts.json) printJson(io.stdout, { ...report, prices: source.cost });
        else for (const line of costReportLines(report, source.cost)) printLine(io.stdout, line);
      });
    }),
  );
}

/** `--cycles`, before anything is read. */
export function cyclesOption(raw: string): number {
  return wholeNumberOption('--cycles', raw, { min: 1, max: MAX_CYCLES, why: `the status keeps the newest ${MAX_CYCLES} cycles` });
}

const CYCLE_HEADER = ['CYCLE', 'KIND', 'STATUS', 'FINISHED', 'TABLES', 'DPU-S', 'GLUE', 'EXPORT GB', 'EXPORT', 'TOTAL', 'BASIS'];
const TABLE_HEADER = ['TABLE', 'STATUS', 'DPU-S', 'GLUE', 'EXPORT GB', 'EXPORT', 'TOTAL', 'BASIS'];

function figures(c: TableCost | CostTotals | undefined): string[] {
  if (!c) return ['', '', '', '', '', '-'];
  const total = 'usd' in c ? c.usd : c.glueUsd !== undefined || c.exportUsd !== undefined ? (c.glueUsd ?? 0) + (c.exportUsd ?? 0) : undefined;
  // A figure known to be short (a run not read back, a load that timed out) is a lower bound.
  return [numberText(c.dpuSeconds), usdText(c.glueUsd), numberText(c.exportGB, 3), usdText(c.exportUsd), usdText(total), c.partial ? `${c.basis}, partial` : c.basis];
}

/** The text report: cycles with a total line, the last cycle per table, the prices and what the bases mean. */
export function costReportLines(report: CostReport, prices: CostPrices): string[] {
  const lines: string[] = [];
  if (report.cycles.length === 0) return [`${report.source}: no cycle has finished yet`];
  lines.push(`${report.source}: estimated cost of the last ${report.cycles.length} cycle(s), newest first`);
  const rows = report.cycles.map((c) => [c.cycleId, c.kind, c.status, c.finishedAt, c.cost ? String(c.cost.tables) : '', ...figures(c.cost)]);
  const total = report.total ? [['TOTAL', '', '', '', String(report.total.tables), ...figures(report.total)]] : [];
  lines.push('', ...columns(CYCLE_HEADER, [...rows, ...total]));
  const last = report.lastCycle;
  if (last) {
    const costed = last.tables.filter((t) => t.cost);
    lines.push('', `cycle ${last.cycleId}, per table:`);
    if (costed.length === 0) lines.push('  no table of this cycle recorded a cost');
    else lines.push(...columns(TABLE_HEADER, costed.map((t) => [t.table, t.status, ...figures(t.cost)])));
    for (const t of costed) if (t.cost?.partial) lines.push(`  ${shown(t.table)}: at least this: ${shown(t.cost.partial)}`);
  }
  const partial = report.cycles.reduce((n, c) => n + (c.cost?.partial ?? 0), 0);
  if (partial > 0) lines.push('', `${partial} partial figure(s) in these cycles: their totals are a lower bound`);
  for (const c of report.cycles) if (c.cost?.partialReason) lines.push(`  cycle ${shown(c.cycleId)}: at least this: ${shown(c.cost.partialReason)}`);
  const missing = report.cycles.filter((c) => !c.cost).length;
  if (missing > 0) lines.push('', `${missing} cycle(s) without a cost: they ran no load, or ran before the cost ledger`);
  // A stopped cycle's lost loads were billed, not counted; a dead cycle's are read back where they can be.
  const failed = report.cycles.filter((c) => c.status === 'failed');
  if (failed.length > 0) {
    lines.push(
      '',
      `${failed.length} failed cycle(s) (${failed.map((c) => c.cycleId).join(', ')}): a cycle that stopped or died counts only the loads whose results it recorded; loads it lost track of were billed all the same (a dead cycle's Glue runs that ended and its own RDS export's GB are read back; what could not be read is marked partial)`,
    );
  }
  const bases = [...new Set([...report.cycles.flatMap((c) => (c.cost ? [c.cost.basis] : []))])];
  lines.push(
    '',
    `prices now in sources.${report.source}.cost: Glue $${prices.gluePerDpuHour}/DPU-hour (FLEX $${prices.glueFlexPerDpuHour ?? prices.gluePerDpuHour}), RDS export $${prices.rdsExportPerGB}/GB, DynamoDB export $${prices.dynamodbFullExportPerGB}/GB full, $${prices.dynamodbIncrementalExportPerGB}/GB incremental`,
    'each cycle was priced when it ran; the figures are estimates, not a bill',
  );
  for (const b of bases) lines.push(`${b}: ${BASIS_NOTE[b]}`);
  return lines;
}
