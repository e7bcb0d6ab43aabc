/**
 * `lakesync sync <source>`: sends `requestSync` to `lakesync/<source>` by signal-with-start
 * (starting the source workflow when it does not run), with a request id; `--wait` waits for
 * the cycle whose requestIds contain it.
 */
import type { Command } from 'commander';
import { sourceWorkflowId } from '../../ids';
import { SOURCE_WORKFLOW_TYPE, type SourceWorkflowInput, type SyncRequest, requestSyncSignal } from '../../workflows/messages';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource, tableList, withTemporal } from '../context';
import { waitAndReport } from '../cycle-report';
import { printJson, printLine } from '../io';
import { UiLinks } from '../links';
import { newRequestId } from '../wait';

interface SyncOptions extends CommonOptions {
  tables?: string;
  wait?: boolean;
}

export function registerSync(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('sync <source>')
    .description('request a sync (new snapshot and export, then load); starts the source workflow if needed')
    .option('--tables <list>', 'only these tables (comma-separated schema.table)')
    .option('--wait', 'wait for the cycle that serves this request; exit 1 if it is partial or failed');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, opts: SyncOptions) => {
      const { io } = kit.env;
      const { config } = loadSource(io, opts, name);
      const tables = opts.tables !== undefined ? tableList(opts.tables, '--tables') : undefined;
      const requestId = newRequestId('sync');
      return withTemporal(config, async (conn) => {
        const request: SyncRequest = { requestId, requestedBy: 'lakesync-cli', ...(tables ? { tables } : {}) };
        const input: SourceWorkflowInput = { source: name, syncOnStart: false };
        const handle = await conn.client.workflow.signalWithStart(SOURCE_WORKFLOW_TYPE, {
          workflowId: sourceWorkflowId(name),
          taskQueue: conn.target.taskQueue,
          args: [input],
          signal: requestSyncSignal,
          signalArgs: [request],
          staticSummary: `lakesync source ${name}: watermark ledger and request queue`,
        });
        const link = UiLinks.for(conn.target, io.env).workflow(handle.workflowId, handle.signaledRunId);
        if (opts.wait) {
          if (!opts.json) printLine(io.stdout, `sync requested: ${requestId}${link ? ` (${link})` : ''}`);
          return waitAndReport(conn, io, name, requestId, Boolean(opts.json));
        }
        if (opts.json) {
          printJson(io.stdout, { source: name, workflowId: handle.workflowId, runId: handle.signaledRunId, requestId, ...(tables ? { tables } : {}), ...(link ? { url: link } : {}) });
          return;
        }
        printLine(io.stdout, `sync requested for ${name}${tables ? ` (${tables.join(', ')})` : ''}: request ${requestId} sent to ${handle.workflowId}`);
        printLine(io.stdout, `follow it with: lakesync status ${name} --watch`);
        if (link) printLine(io.stdout, `workflow: ${link}`);
      });
    }),
  );
}
