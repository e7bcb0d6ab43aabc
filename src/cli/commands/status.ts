/**
 * `lakesync status <source> [--watch]`: per table phase, run state, rows and elapsed time.
 * `--watch` follows the running cycle until the source is idle: progress bars redrawn in place
 * in a terminal, one line per change otherwise, one JSON object per read with --json.
 * Exit code: 1 when the source workflow was terminated, failed or timed out, the last finished cycle
 * is partial or failed, or a failed table still waits for a rerun; else 0.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { type Connected, loadSource, withTemporal } from '../context';
import { EXIT_FAILED, EXIT_OK } from '../errors';
import { type CliIO, printJson, printLine } from '../io';
import type { SourceConfig } from '../../config/schema';
import { UiLinks, athenaUrl, glueRunUrl } from '../links';
import { type StatusView, readStatusView } from '../progress';
import { ChangeLog, type StatusLinks, cycleLine, earlierParts, statusReport, terminalFrame } from '../render-status';
import { visibilityQueries } from '../search-attributes';
import { wholeNumberOption } from '../whole-number';

interface StatusOptions extends CommonOptions {
  watch?: boolean;
  interval: string;
}

export function registerStatus(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('status <source>')
    .description('the source\'s running cycle per table (phase, run state, rows, elapsed), last cycle, failed tables and queue')
    .option('-w, --watch', 'follow the running cycle until the source is idle')
    .option('--interval <ms>', `how often --watch reads the status (${MIN_INTERVAL_MS}-${MAX_INTERVAL_MS} ms)`, '1000');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: StatusOptions) => {
      const { io } = kit.env;
      const intervalMs = intervalOption(opts.interval);
      const { config, source } = loadSource(io, opts, name);
      return withTemporal(config, async (conn) => (opts.watch ? watch(conn, io, name, source, intervalMs, Boolean(opts.json)) : once(conn, io, name, source, Boolean(opts.json))));
    }),
  );
}

/** Polling faster than this only loads the server and the worker answering the queries. */
const MIN_INTERVAL_MS = 100;
/** An hour: past 2^31 - 1 ms a Node timer fires at once, so a bigger number would poll without pause. */
const MAX_INTERVAL_MS = 3_600_000;

/** `--interval`, before anything is read. */
function intervalOption(raw: string): number {
  return wholeNumberOption('--interval', raw, { min: MIN_INTERVAL_MS, max: MAX_INTERVAL_MS, unit: 'milliseconds', why: 'e.g. --interval 2000' });
}

const ENDED_FAILING = new Set(['TERMINATED', 'FAILED', 'TIMED_OUT']);

/**
 * 1 when the source workflow was terminated, failed or timed out, when the last finished cycle is partial or failed, or when a table whose load failed in an
 * earlier cycle still waits for a rerun (a later cycle that succeeded did not load it again); else 0.
 */
export function statusExitCode(view: StatusView): number {
  // A source workflow that was terminated, failed or timed out syncs no more until started again.
  if (view.ended && ENDED_FAILING.has(view.ended.status)) return EXIT_FAILED;
  if (Object.keys(view.status?.failed ?? {}).length > 0) return EXIT_FAILED;
  const last = view.status?.lastCycle;
  // The last cycle of a rerun in several parts succeeded only if its earlier parts did too.
  return last && [last, ...earlierParts(view.status)].some((c) => c.status !== 'succeeded') ? EXIT_FAILED : EXIT_OK;
}

function linksOf(conn: Connected, io: CliIO, view: StatusView, source: SourceConfig): StatusLinks {
  const ui = UiLinks.for(conn.target, io.env);
  const workflow = view.phase === 'absent' ? undefined : ui.workflow(view.workflowId);
  const cycle = view.cycle ? ui.workflow(view.cycle.workflowId) : undefined;
  const partial = view.phase === 'absent' ? undefined : ui.list(visibilityQueries.partialCycles(view.source));
  const runs = Object.fromEntries(view.tables.flatMap((t) => (t.runId && glueRunUrl(source, t.runId, view.source) ? [[t.table, glueRunUrl(source, t.runId, view.source)!]] : [])));
  const athena = athenaUrl(source);
  return {
    ...(workflow ? { workflow } : {}),
    ...(cycle ? { cycle } : {}),
    ...(partial ? { partial } : {}),
    ...(Object.keys(runs).length > 0 ? { runs } : {}),
    ...(athena ? { athena } : {}),
  };
}

async function once(conn: Connected, io: CliIO, name: string, source: SourceConfig, json: boolean): Promise<number> {
  const view = await readStatusView(conn, name);
  const links = linksOf(conn, io, view, source);
  if (json) printJson(io.stdout, { ...view, links });
  else for (const line of statusReport(view, links)) printLine(io.stdout, line);
  return statusExitCode(view);
}

async function watch(conn: Connected, io: CliIO, name: string, source: SourceConfig, intervalMs: number, json: boolean): Promise<number> {
  const tty = Boolean(io.stdout.isTTY) && !json;
  const changes = new ChangeLog();
  let drawn = 0;
  let view: StatusView;
  for (;;) {
    view = await readStatusView(conn, name);
    const busy = view.phase === 'running' || view.queued > 0;
    if (json) {
      io.stdout.write(`${JSON.stringify(view)}\n`);
    } else if (tty) {
      const frame = terminalFrame(view, io.stdout.columns ?? 100, io.stdout.rows);
      // Move back to the top of the previous frame and clear below it, then draw the new one.
      io.stdout.write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[J` : ''}${frame.join('\n')}\n`);
      drawn = frame.length;
    } else {
      for (const line of changes.lines(view, new Date())) printLine(io.stdout, line);
    }
    if (!busy) break;
    await delay(intervalMs);
  }
  if (!json) {
    const last = view.status?.lastCycle;
    if (last) printLine(io.stdout, `last ${cycleLine(last)}`);
    for (const p of earlierParts(view.status)) printLine(io.stdout, `  part ${p.part!.index} of ${p.part!.of}: ${cycleLine(p)}`);
    const partial = linksOf(conn, io, view, source).partial;
    if (statusExitCode(view) !== EXIT_OK && partial) printLine(io.stdout, `partial cycles: ${partial}`);
  }
  return statusExitCode(view);
}
