/**
 * `lakesync sync <source>`: when the source workflow runs, the `sync` update, so a request naming
 * a table the source does not have is refused at once (exit 2) with the workflow's reason and
 * nothing runs. When it does not run yet, `requestSync` by signal-with-start, which starts it:
 * a new source knows no table to check names against, and its cycle reports any name its export
 * lacks. `--wait` waits for the cycle whose requestIds contain the request id.
 */
import type { Command } from 'commander';
import { sourceWorkflowId } from '../../ids';
import { SOURCE_WORKFLOW_TYPE, type SourceWorkflowInput, type SyncRequest, requestSyncSignal, syncUpdate } from '../../workflows/messages';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { type Connected, includedTableList, loadSource, sourceRunForRequest, sourceStatusSummary, updateSource, withTemporal } from '../context';
import { waitAndReport } from '../cycle-report';
import { shown } from '../format';
import { printJson, printLine } from '../io';
import { UiLinks } from '../links';
import { newRequestId } from '../wait';
import { UsageError } from '../errors';
import { tooManyTablesProblem } from '../../workflows/ledger';

interface SyncOptions extends CommonOptions {
  tables?: string;
  wait?: boolean;
}

/** Where the request went: the source workflow's id and the run that took it. */
interface Sent {
  workflowId: string;
  runId: string | undefined;
}

export function registerSync(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('sync <source>')
    .description('request a sync (new snapshot and export, then load); starts the source workflow if needed')
    .option('--tables <list>', 'only these tables (comma-separated schema.table); refused if the source has no such table or its rules exclude one')
    .option('--wait', 'wait for the cycle that serves this request; exit 1 if it is partial or failed');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: SyncOptions) => {
      const { io } = kit.env;
      const { config, source } = loadSource(io, opts, name);
      const tables = opts.tables !== undefined ? includedTableList(source, opts.tables, '--tables') : undefined;
      // What the source refuses whatever its state (tableList refuses long names): signal-with-start of a new source would start it, then drop the request.
      const refused = tables && tooManyTablesProblem({ tables });
      if (refused) throw new UsageError(`--tables: ${refused}`);
      const requestId = newRequestId('sync');
      return withTemporal(config, async (conn) => {
        const request: SyncRequest = { requestId, requestedBy: 'lakesync-cli', ...(tables ? { tables } : {}) };
        const run = await sourceRunForRequest(conn, name, 'sync');
        const runId = run?.runId;
        // Only a worker answers the update: without one it would wait for ever. The status query
        // fails within its deadline instead, naming the task queue, before anything is sent.
        if (run) await sourceStatusSummary(conn, name, { run });
        const updated = runId ? await byUpdate(conn, name, runId, request) : undefined;
        const sent = updated ?? (await byStart(conn, name, request));
        // A running workflow without the update took the request by signal: nothing checked it before it was queued.
        const unchecked = runId && !updated ? `sent by signal, not checked by the workflow first: the worker of ${sent.workflowId} predates the sync update; a request it cannot serve is dropped, and "lakesync status ${name}" lists it with why` : undefined;
        const link = UiLinks.for(conn.target, io.env).workflow(sent.workflowId, sent.runId);
        if (opts.wait) {
          if (!opts.json) printLine(io.stdout, `sync requested: ${requestId}${link ? ` (${link})` : ''}`);
          if (!opts.json && unchecked) printLine(io.stdout, unchecked);
          return waitAndReport(conn, io, name, requestId, Boolean(opts.json), updated ? { accepted: true } : { ...(sent.runId ? { signaledRunId: sent.runId } : {}) });
        }
        if (opts.json) {
          printJson(io.stdout, { source: name, workflowId: sent.workflowId, runId: sent.runId, requestId, ...(tables ? { tables } : {}), ...(unchecked ? { sentBy: 'signal', checked: false } : {}), ...(link ? { url: link } : {}) });
          return;
        }
        printLine(io.stdout, `sync requested for ${name}${tables ? ` (${shown(tables.join(', '))})` : ''}: request ${requestId} sent to ${sent.workflowId}`);
        if (unchecked) printLine(io.stdout, unchecked);
        printLine(io.stdout, `follow it with: lakesync status ${name} --watch`);
        if (link) printLine(io.stdout, `workflow: ${link}`);
      });
    }),
  );
}

/** The `sync` update; undefined when the running workflow predates it (its worker has no handler for it): signal it instead. */
async function byUpdate(conn: Connected, name: string, runId: string, request: SyncRequest): Promise<Sent | undefined> {
  const sent = await updateSource(conn, name, syncUpdate, request, 'sync');
  return sent && { workflowId: sourceWorkflowId(name), runId };
}

/** Signal-with-start: starts the source workflow when it does not run, then queues the sync. */
async function byStart(conn: Connected, name: string, request: SyncRequest): Promise<Sent> {
  const input: SourceWorkflowInput = { source: name, syncOnStart: false };
  const handle = await conn.client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, {
    workflowId: sourceWorkflowId(name),
    taskQueue: conn.target.taskQueue,
    args: [input],
    signal: requestSyncSignal,
    signalArgs: [request],
    staticSummary: `lakesync source ${name}: watermark ledger and request queue`,
  });
  return { workflowId: handle.workflowId, runId: handle.signaledRunId };
}
