/** Activities after a table's load: Lake Formation grants and verification of the loaded data. */
import { ApplicationFailure } from '@temporalio/common';
import type { ExportRef, GrantOutcome, LoadAction, LoadedTableExport, LoadResult, RowCountCheck, VerifyOutcome } from '../model';
import { type ActivityDeps, sourceOf, step } from './deps';
import { finalOnLastAttempt } from './last-attempt';
import { heartbeating } from './verify';

export interface VerifyTableInput {
  source: string;
  table: string;
  lakeTable: string;
  /** The planned action. Optional, like `export`: requests scheduled by earlier versions lack both. */
  action?: LoadAction;
  /** The export the table was loaded from: the expected row count comes from its files. */
  export?: ExportRef;
  /**
   * `direct`: the table was read from the source directly; there is no export to count.
   * `dynamodb`: it was loaded from its own DynamoDB exports (`tableExports`), whose item counts are the figures.
   */
  extract?: 'direct' | 'dynamodb';
  /** A DynamoDB load's exports, oldest first. */
  tableExports?: Pick<LoadedTableExport, 'exportId' | 'window' | 'itemCount'>[];
  load: Pick<LoadResult, 'action' | 'committed' | 'inserted' | 'rowCountAfter' | 'snapshotId'> & Partial<Pick<LoadResult, 'rowsRead' | 'deleted'>>;
  /**
   * The load's counts are unknown (a dead cycle's commit whose result JSON is missing: `load` has
   * only what the lake's lineage tells, its counts 0): an incremental or direct load's gain is held
   * only against what bounds it, not against a count of 0.
   */
  countsUnknown?: boolean;
}

/**
 * What the lake's count is held against. The job's own count of the table (rowCountAfter) is never
 * used: a job that lost rows would vouch for itself. create, merge and replace leave the lake holding
 * exactly the export's rows. An incremental load keeps rows the source no longer has, so the lake's
 * total has no export figure to match; instead the rows the lake gained, counted by the lake itself,
 * must equal what the load reports inserting and cannot exceed the export's rows.
 */
export function rowCountCheckFor(planned: LoadAction | undefined, load: VerifyTableInput['load'], exportRows: number, countsUnknown = false): RowCountCheck {
  // A load that changed nothing reports action "none": the plan tells which kind of table it is.
  const taken = load.action === 'none' ? planned : load.action;
  if (taken !== 'incremental') return { kind: 'total', rows: exportRows };
  return { kind: 'appended', ...(countsUnknown ? {} : { rows: load.inserted }), atMost: exportRows, since: load.committed ? 'parent' : 'snapshot' };
}

/**
 * A direct load has no export: the rows the lake gained, counted by the lake itself, must equal what
 * the load reports inserting and cannot exceed the rows it read in its window (a create is the
 * table's first snapshot, so its gain is the whole table).
 */
export function directRowCountCheck(load: VerifyTableInput['load'], countsUnknown = false): Extract<RowCountCheck, { kind: 'appended' }> {
  const since = load.committed ? 'parent' : 'snapshot';
  // Without the load's result its window is unknown too: nothing bounds the rows it added.
  if (countsUnknown) return { kind: 'appended', since, bound: 'window' };
  return { kind: 'appended', rows: load.inserted, atMost: load.rowsRead ?? load.inserted, since, bound: 'window' };
}

/**
 * A DynamoDB load: from a FULL export the lake holds exactly its items (DynamoDB's count in the
 * export's manifest, never the job's); from INCREMENTAL windows the lake's own count moved by the
 * keys the load inserted less those it deleted, which no more change records than the exports hold can explain.
 */
export function dynamoRowCountCheck(exports: NonNullable<VerifyTableInput['tableExports']>, load: VerifyTableInput['load']): RowCountCheck {
  const records = exports.reduce((n, e) => n + e.itemCount, 0);
  if (exports.some((e) => e.window.type === 'FULL')) return { kind: 'total', rows: records };
  return { kind: 'changed', inserted: load.inserted, deleted: load.deleted ?? 0, atMost: records, since: load.committed ? 'parent' : 'snapshot' };
}

/** What a failed row-count check means, and what to do about it. */
function rowCountHint(check: RowCountCheck, source: string, table: string, dynamo = false): string {
  const rerun = `rerun the table (lakesync rerun ${source} --tables ${table}) and, if it fails again, read the load job's log`;
  // The load committed the export time it reached: a rerun would export only the changes since, and keep the wrong rows.
  const rebuild = `rebuild the table from a new FULL export (lakesync rerun ${source} --rebuild ${table}) and, if it fails again, read the load job's log`;
  if (check.kind === 'total' && dynamo) return `the lake table must hold exactly the ${check.rows} item(s) of the table's FULL DynamoDB export (its manifest's count): the load lost or duplicated items; ${rebuild}`;
  if (check.kind === 'changed' && dynamo) {
    return `the lake table's row count must move by exactly the ${check.inserted} item(s) the load reports inserting less the ${check.deleted} it reports deleting, with at most ${check.atMost} (the exports' change records): the load lost or duplicated items; ${rebuild}`;
  }
  if (check.kind === 'total') return `the lake table must hold exactly the ${check.rows} row(s) of the export's Parquet files: the load lost or duplicated rows; ${rerun}`;
  if (check.kind === 'changed') {
    return `the lake table's row count must move by exactly the ${check.inserted} row(s) the load reports inserting less the ${check.deleted} it reports deleting, with at most ${check.atMost} (the exports' change records): the load lost or duplicated rows; ${rerun}`;
  }
  const bound = check.bound === 'window' ? `the ${check.atMost} row(s) it read in its window` : `the export's ${check.atMost}`;
  if (check.rows === undefined) {
    const most = check.atMost === undefined ? 'no fewer than 0' : `at most ${bound}`;
    return `the rows the lake table gained must be ${most} (the load's own count is unknown: its result is missing): the load lost or duplicated rows; ${rerun}`;
  }
  return `the rows the lake table gained must equal the ${check.rows} row(s) the load reports inserting, and at most ${bound}: the load lost or duplicated rows; ${rerun}`;
}

/** What a failed configured check means: the user's own rule about the data, which lakesync cannot fix. */
function configuredCheckHint(source: string, table: string): string {
  return `a check of verify.checks of source ${source} found the lake table's data not as it expects: correct the data at the source (or the check in lakesync.yaml), then rerun the table (lakesync rerun ${source} --tables ${table})`;
}

export function publishActivities(deps: ActivityDeps) {
  return {
    /** Grants the configured principals their permissions on one lake table (and DESCRIBE on its namespace). */
    async grantTable(source: string, lakeTable: string): Promise<GrantOutcome> {
      const { settings, ports } = sourceOf(deps, source);
      // The request names the lake table only: the failed tables are rerun.
      return finalOnLastAttempt(`lakesync rerun ${source} --failed`, () => step('grant', `lake table ${settings.target.namespace}.${lakeTable}`, () =>
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
      ));
    },

    /**
     * The lake's row count at the load's Iceberg snapshot against the export's Parquet files (or, for
     * an incremental load, the rows the snapshot added), plus the configured checks; a mismatch fails the table.
     */
    verifyTable: (input: VerifyTableInput): Promise<VerifyOutcome> => finalOnLastAttempt(`lakesync rerun ${input.source} --tables ${input.table}`, async () => {
      const { settings, ports } = sourceOf(deps, input.source);
      const lakeName = `${settings.target.namespace}.${input.lakeTable}`;
      if (input.extract === 'dynamodb' && !input.tableExports?.length) {
        throw ApplicationFailure.create({
          message: `verification of ${input.table} (${lakeName}) cannot run: it was loaded from DynamoDB exports and the request names none to count the items of; rerun the table (lakesync rerun ${input.source} --tables ${input.table})`,
          type: 'VerificationFailed',
          nonRetryable: true,
        });
      }
      if (!input.export && input.extract !== 'direct' && input.extract !== 'dynamodb') {
        throw ApplicationFailure.create({
          message: `verification of ${input.table} (${lakeName}) cannot run: its request names no export to count the rows of (it was scheduled by an earlier lakesync version); rerun the table (lakesync rerun ${input.source} --tables ${input.table})`,
          type: 'VerificationFailed',
          nonRetryable: true,
        });
      }
      const exportRef = input.export;
      const rowCount = input.extract === 'dynamodb' && input.tableExports
        ? dynamoRowCountCheck(input.tableExports, input.load)
        : exportRef
        ? rowCountCheckFor(
            input.action,
            input.load,
            await step('verify', `${input.table} (counting its rows in export ${exportRef.exportId})`, () =>
              heartbeating(input.table, 'counting the export rows', () => ports.discover.exportRowCount(exportRef, input.table)),
            ),
            input.countsUnknown,
          )
        : directRowCountCheck(input.load, input.countsUnknown);
      const checks = settings.verify.checks
        .filter((c) => c.table === input.table)
        .map((c) => ({ name: c.name, sql: c.sql, expect: c.expect }));
      const outcome = await step('verify', input.table, () =>
        heartbeating(input.table, 'row count', (progress, signal) => ports.verify.verify({
          source: input.source,
          namespace: settings.target.namespace,
          lakeTable: input.lakeTable,
          table: input.table,
          rowCount,
          snapshotId: input.load.snapshotId,
          checks,
        }, progress, signal)),
      );
      if (!outcome.passed) {
        const failed = outcome.checks.filter((c) => !c.passed).map((c) => `${c.name}: expected ${c.expected}, got ${c.actual}`);
        // The backends report the row count first, then the configured checks under their own names.
        const first = outcome.checks[0];
        const rowCountFailed = first !== undefined && !first.passed && !checks.some((c) => c.name === first.name);
        const checkFailed = outcome.checks.some((c) => !c.passed && checks.some((k) => k.name === c.name));
        const hints = [
          ...(rowCountFailed ? [rowCountHint(rowCount, input.source, input.table, input.extract === 'dynamodb')] : []),
          ...(checkFailed ? [configuredCheckHint(input.source, input.table)] : []),
        ];
        throw ApplicationFailure.create({
          message: `verification of ${input.table} (${lakeName}) failed: ${failed.join('; ')}${hints.map((h) => ` (${h})`).join('')}`,
          type: 'VerificationFailed',
          nonRetryable: true,
          details: [outcome],
        });
      }
      return outcome;
    }),
  };
}
