/**
 * DynamoDB point-in-time exports of one table and window each (source kind dynamodb). Starting
 * one is idempotent: the id is deterministic, so a retried start adopts the export it began.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { SourceConfig } from '../config/schema';
import type { PlanEntry, TableExportRef, TableExportStatus } from '../model';
import type { Ports, TableExportPort, TableExportRequest } from '../ports';
import { type ActivityDeps, sourceOf, step } from './deps';
import { costBasis } from './load';
import { cycleManifestKeys } from '../ids';

/**
 * A start as the batch workflow asks for it: the table's ARN is in its plan entry (the workflow
 * carries only the windows), so it may name the plan instead.
 */
export type TableExportStart = Omit<TableExportRequest, 'tableArn'> & {
  tableArn?: string;
  planRef?: string;
  /** The cycle it is taken for: once started, the export is recorded under it, for the cycle's recovery should it die. */
  cycleId?: string;
};

export function tableExportActivities(deps: ActivityDeps) {
  return {
    async startTableExport(start: TableExportStart): Promise<TableExportRef> {
      const { ports } = sourceOf(deps, start.source);
      const port = tableExportPort(ports, start.source);
      const window = start.window.type === 'FULL' ? `FULL at ${start.window.to}` : `INCREMENTAL ${start.window.from ?? '?'}..${start.window.to}`;
      return step('table export', `${start.table} (export ${start.exportId}, ${window})`, async () => {
        const { planRef: _plan, tableArn, cycleId, ...rest } = start;
        const req: TableExportRequest = { ...rest, tableArn: tableArn ?? (await planned(ports, start)) };
        const ref = await port.startTableExport(req);
        // Should the cycle die, its recovery finds the export here (DynamoDB knows it by its ARN only), for its billed bytes.
        if (cycleId) await ports.manifests.put(cycleManifestKeys.startedTableExport(cycleId, ref.exportId), ref);
        return ref;
      });
    },

    async tableExportStatus(source: string, ref: TableExportRef): Promise<TableExportStatus> {
      const { ports, settings } = sourceOf(deps, source);
      return describeTableExport(tableExportPort(ports, source), ref, settings);
    },

    /**
     * Polls an export until it ends (complete or failed), pausing from pollInitialSeconds, doubling
     * up to pollMaximumSeconds. Hours of polls are one activity: workflow timers would add events
     * to the batch's history with every poll of every table.
     */
    async awaitTableExport(req: TableExportWait): Promise<TableExportStatus> {
      const { ports, settings } = sourceOf(deps, req.source);
      const port = tableExportPort(ports, req.source);
      let waitSeconds = req.pollInitialSeconds;
      for (;;) {
        const status = await describeTableExport(port, req.ref, settings);
        if (status.state !== 'in_progress') return status;
        await Context.current().sleep(waitSeconds * 1000);
        waitSeconds = Math.min(waitSeconds * 2, req.pollMaximumSeconds);
      }
    },
  };
}

/** The export's status; a complete one says whose figure its billed size is (the table's cost, even when its load never runs). */
async function describeTableExport(port: TableExportPort, ref: TableExportRef, settings: SourceConfig): Promise<TableExportStatus> {
  const status = await step('table export status', `${ref.table} (export ${ref.exportId})`, () => port.describeTableExport(ref));
  return status.state === 'complete' ? { ...status, costBasis: costBasis(settings, status) } : status;
}

/** An export to wait for, and how often to look. */
export interface TableExportWait {
  source: string;
  ref: TableExportRef;
  pollInitialSeconds: number;
  pollMaximumSeconds: number;
}

/** The table's ARN from its plan entry. */
async function planned(ports: Ports, start: TableExportStart): Promise<string> {
  const fail = (why: string) =>
    ApplicationFailure.create({ message: `export of ${start.table} cannot start: ${why}; run a new sync`, type: 'PlanMismatch', nonRetryable: true });
  if (!start.planRef) throw fail('the request names neither the table ARN nor the plan');
  const entry = (await ports.manifests.get<PlanEntry[]>(start.planRef)).find((e) => e.table === start.table);
  if (!entry) throw fail(`it is not in plan ${start.planRef}`);
  if (entry.extract?.kind !== 'dynamodb') throw fail(`plan ${start.planRef} does not plan it as a DynamoDB table`);
  return entry.extract.tableArn;
}

/** The source's DynamoDB exports; a source whose backend has none is misconfigured, which no retry fixes. */
function tableExportPort(ports: Ports, source: string): TableExportPort {
  if (ports.tableExport) return ports.tableExport;
  throw ApplicationFailure.create({
    message: `source ${source} has no DynamoDB exports: its backend does not read DynamoDB tables; check that source.kind is dynamodb in lakesync.yaml`,
    type: 'ConfigError',
    nonRetryable: true,
  });
}
