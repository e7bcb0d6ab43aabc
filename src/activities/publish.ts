/** Activities after a table's load: Lake Formation grants and verification of the loaded data. */
import { ApplicationFailure } from '@temporalio/common';
import type { ExportRef, GrantOutcome, LoadAction, LoadResult, RowCountCheck, VerifyOutcome } from '../model';
import { type ActivityDeps, sourceOf, step } from './deps';
import { heartbeating } from './verify';

export interface VerifyTableInput {
  source: string;
  table: string;
  lakeTable: string;
  /** The planned action. Optional, like `export`: requests scheduled by earlier versions lack both. */
  action?: LoadAction;
  /** The export the table was loaded from: the expected row count comes from its files. */
  export?: ExportRef;
  /** `direct`: the table was read from the source directly; there is no export to count. */
  extract?: 'direct';
  load: Pick<LoadResult, 'action' | 'committed' | 'inserted' | 'rowCountAfter' | 'snapshotId'> & Partial<Pick<LoadResult, 'rowsRead'>>;
}

/**
 * What the lake's count is held against. The job's own count of the table (rowCountAfter) is never
 * used: a job that lost rows would vouch for itself. create, merge and replace leave the lake holding
 * exactly the export's rows. An incremental load keeps rows the source no longer has, so the lake's
 * total has no export figure to match; instead the rows the lake gained, counted by the lake itself,
 * must equal what the load reports inserting and cannot exceed the export's rows.
 */
export function rowCountCheckFor(planned: LoadAction | undefined, load: VerifyTableInput['load'], exportRows: number): RowCountCheck {
  // A load that changed nothing reports action "none": the plan tells which kind of table it is.
  const taken = load.action === 'none' ? planned : load.action;
  if (taken !== 'incremental') return { kind: 'total', rows: exportRows };
  return { kind: 'appended', rows: load.inserted, atMost: exportRows, since: load.committed ? 'parent' : 'snapshot' };
}

/**
 * A direct load has no export: the rows the lake gained, counted by the lake itself, must equal what
 * the load reports inserting and cannot exceed the rows it read in its window (a create is the
 * table's first snapshot, so its gain is the whole table).
 */
export function directRowCountCheck(load: VerifyTableInput['load']): RowCountCheck {
  return { kind: 'appended', rows: load.inserted, atMost: load.rowsRead ?? load.inserted, since: load.committed ? 'parent' : 'snapshot', bound: 'window' };
}

/** What a failed row-count check means, and what to do about it. */
function rowCountHint(check: RowCountCheck, source: string, table: string): string {
  const rerun = `rerun the table (lakesync rerun ${source} --tables ${table}) and, if it fails again, read the load job's log`;
  if (check.kind === 'total') return `the lake table must hold exactly the ${check.rows} row(s) of the export's Parquet files: the load lost or duplicated rows; ${rerun}`;
  const bound = check.bound === 'window' ? `the ${check.atMost} row(s) it read in its window` : `the export's ${check.atMost}`;
  return `the rows the lake table gained must equal the ${check.rows} row(s) the load reports inserting, and at most ${bound}: the load lost or duplicated rows; ${rerun}`;
}

export function publishActivities(deps: ActivityDeps) {
  return {
    /** Grants the configured principals their permissions on one lake table (and DESCRIBE on its namespace). */
    async grantTable(source: string, lakeTable: string): Promise<GrantOutcome> {
      const { settings, ports } = sourceOf(deps, source);
      return step('grant', `lake table ${settings.target.namespace}.${lakeTable}`, () =>
        ports.grant.grant({
          source,
          namespace: settings.target.namespace,
          lakeTables: [lakeTable],
          principals: settings.grants.map((g) => ({
            principal: g.principal,
            tablePermissions: g.tablePermissions,
            namespacePermissions: g.namespacePermissions,
          })),
        }),
      );
    },

    /**
     * The lake's row count at the load's Iceberg snapshot against the export's Parquet files (or, for
     * an incremental load, the rows the snapshot added), plus the configured checks; a mismatch fails the table.
     */
    async verifyTable(input: VerifyTableInput): Promise<VerifyOutcome> {
      const { settings, ports } = sourceOf(deps, input.source);
      const lakeName = `${settings.target.namespace}.${input.lakeTable}`;
      if (!input.export && input.extract !== 'direct') {
        throw ApplicationFailure.create({
          message: `verification of ${input.table} (${lakeName}) cannot run: its request names no export to count the rows of (it was scheduled by an earlier lakesync version); rerun the table (lakesync rerun ${input.source} --tables ${input.table})`,
          type: 'VerificationFailed',
          nonRetryable: true,
        });
      }
      const exportRef = input.export;
      const rowCount = exportRef
        ? rowCountCheckFor(
            input.action,
            input.load,
            await step('verify', `${input.table} (counting its rows in export ${exportRef.exportId})`, () =>
              heartbeating(input.table, 'counting the export rows', () => ports.discover.exportRowCount(exportRef, input.table)),
            ),
          )
        : directRowCountCheck(input.load);
      const checks = settings.verify.checks
        .filter((c) => c.table === input.table)
        .map((c) => ({ name: c.name, sql: c.sql, expect: c.expect }));
      const outcome = await step('verify', input.table, () =>
        heartbeating(input.table, 'row count', (progress) => ports.verify.verify({
          source: input.source,
          namespace: settings.target.namespace,
          lakeTable: input.lakeTable,
          table: input.table,
          rowCount,
          snapshotId: input.load.snapshotId,
          checks,
        }, progress)),
      );
      if (!outcome.passed) {
        const failed = outcome.checks.filter((c) => !c.passed).map((c) => `${c.name}: expected ${c.expected}, got ${c.actual}`);
        // The backends report the row count first, then the configured checks under their own names.
        const first = outcome.checks[0];
        const rowCountFailed = first !== undefined && !first.passed && !checks.some((c) => c.name === first.name);
        throw ApplicationFailure.create({
          message: `verification of ${input.table} (${lakeName}) failed: ${failed.join('; ')}${rowCountFailed ? ` (${rowCountHint(rowCount, input.source, input.table)})` : ''}`,
          type: 'VerificationFailed',
          nonRetryable: true,
          details: [outcome],
        });
      }
      return outcome;
    },
  };
}
