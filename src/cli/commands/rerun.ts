/**
 * `lakesync rerun <source> (--failed | --tables a,b | --rebuild a b)`: the `rerun` update, so a bad request
 * (unknown table, nothing failed, no export yet) is refused at once with the workflow's reason.
 * A source workflow whose worker predates the update gets the `requestRerun` signal instead, unchecked.
 * The rerun reuses the last export; `--wait` waits for the cycle that served it.
 */
import type { Command } from 'commander';
import { sourceWorkflowId } from '../../ids';
import { type RerunRequest, requestRerunSignal, rerunUpdate } from '../../workflows/messages';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { type Connected, includedTableList, loadSource, noSourceWorkflow, signalSourceRun, sourceRunForRequest, sourceStatusSummary, updateSource, withTemporal } from '../context';
import { waitAndReport } from '../cycle-report';
import { UsageError } from '../errors';
import { shown } from '../format';
import { type CliIO, printJson, printLine } from '../io';
import { newRequestId } from '../wait';

interface RerunOptions extends CommonOptions {
  failed?: boolean;
  tables?: string;
  approveDeletes?: boolean;
  allowOlderExport?: boolean;
  rebuild?: string[];
  wait?: boolean;
}

export function registerRerun(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('rerun <source>')
    .description("load tables again, each from its own export (no new snapshot or export)")
    .option('--failed', 'every table whose last load failed')
    .option('--tables <list>', 'these tables (comma-separated schema.table)')
    .option('--approve-deletes', 'let these loads delete more than the safety limit')
    .option('--allow-older-export', "load even when a lake table holds a newer export (moves it back in time)")
    .option('--rebuild <tables...>', 'replace these tables (schema.table, space- or comma-separated) from the export so new column types apply')
    .option('--wait', 'wait for the cycle that serves this request; exit 1 if it is partial or failed');
  // --rebuild takes every word after it, a source given after its tables too: the error says so, not only that no source was given.
  cmd.configureOutput({
    outputError: (text, write) => {
      const rebuild = (cmd.opts() as RerunOptions).rebuild;
      write(/missing required argument 'source'/.test(text) && rebuild?.length ? `${sourceAfterRebuild(rebuild)}\n` : text);
    },
  });
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: RerunOptions) => {
      const { io } = kit.env;
      const chosen = [opts.failed, opts.tables !== undefined, opts.rebuild !== undefined].filter(Boolean).length;
      if (chosen !== 1) throw new UsageError('rerun needs exactly one of --failed or --tables <list>, or --rebuild <table...>');
      const { config, source } = loadSource(io, opts, name);
      // As sync --tables: a table the rules leave out is refused before anything is asked.
      const tables = opts.failed ? ('failed' as const) : opts.rebuild ? includedTableList(source, opts.rebuild.join(','), '--rebuild') : includedTableList(source, opts.tables!, '--tables');
      const requestId = newRequestId('rerun');
      const request: RerunRequest = {
        tables,
        requestId,
        requestedBy: 'lakesync-cli',
        ...(opts.approveDeletes ? { approveDeletes: true } : {}),
        ...(opts.allowOlderExport ? { allowOlderExport: true } : {}),
        ...(opts.rebuild ? { rebuild: true } : {}),
      };
      return withTemporal(config, async (conn) => {
        const run = await sourceRunForRequest(conn, name, 'rerun');
        if (!run || !(await sourceStatusSummary(conn, name, { run }))) {
          throw noSourceWorkflow(name, 'no rerun can be asked of it (a source cancelled before takes up its saved exports and failed tables when it starts again)');
        }
        const sent = await updateSource(conn, name, rerunUpdate, request, 'rerun');
        if (!sent) {
          const signaledRunId = await signalSourceRun(conn, name, run, requestRerunSignal, request, 'rerun');
          return reportSignalled(conn, io, name, { ...request, requestId }, opts, signaledRunId);
        }
        const accepted = sent.answer;
        if (opts.wait) {
          if (!opts.json) printLine(io.stdout, `rerun accepted: ${accepted.requestId} (${shown(accepted.tables.join(', '))})`);
          return waitAndReport(conn, io, name, accepted.requestId, Boolean(opts.json), { accepted: true });
        }
        if (opts.json) {
          printJson(io.stdout, { source: name, ...accepted });
          return;
        }
        printLine(io.stdout, `rerun accepted for ${name}: ${shown(accepted.tables.join(', '))} (request ${accepted.requestId}, ${accepted.queuedBehind ? `up to ${accepted.queuedBehind}` : 0} request(s) ahead)`);
        printLine(io.stdout, `follow it with: lakesync status ${name} --watch`);
      });
    }),
  );
}

/**
 * A rerun sent by signal: no answer comes back, so the output says it was not checked, and where a
 * request the workflow cannot serve is told (its dropped requests; `--wait` reports it).
 */
async function reportSignalled(conn: Connected, io: CliIO, name: string, request: RerunRequest & { requestId: string }, opts: RerunOptions, signaledRunId: string): Promise<number | void> {
  const tables = request.tables === 'failed' ? 'the failed tables' : shown(request.tables.join(', '));
  if (opts.json && !opts.wait) {
    printJson(io.stdout, { source: name, requestId: request.requestId, tables: request.tables, sentBy: 'signal', checked: false });
    return;
  }
  if (!opts.json) {
    printLine(io.stdout, `rerun sent for ${name} by signal: ${tables} (request ${request.requestId})`);
    printLine(io.stdout, `not checked by the workflow first: the worker of ${sourceWorkflowId(name)} predates the rerun update; a request it cannot serve is dropped, and "lakesync status ${name}" lists it with why`);
  }
  if (opts.wait) return waitAndReport(conn, io, name, request.requestId, Boolean(opts.json), { signaledRunId });
  printLine(io.stdout, `follow it with: lakesync status ${name} --watch`);
}

/** No source argument after --rebuild, which may have taken it as a table. */
function sourceAfterRebuild(rebuild: string[]): string {
  const last = rebuild.at(-1)!;
  // Table names are schema.table: a last word without a dot is the source put after the tables.
  const [source, tables] = rebuild.length > 1 && !last.includes('.') ? [last, rebuild.slice(0, -1)] : ['<source>', rebuild];
  const took = source === '<source>' ? '' : `, and took ${JSON.stringify(source)}`;
  return `error: no source given: --rebuild takes every word after it as a table${took}: give the source first, e.g. lakesync rerun ${source} --rebuild ${tables.join(' ')}`;
}
