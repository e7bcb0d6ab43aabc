/** Activities after a table's load: Lake Formation grants and verification of the loaded data. */
import { ApplicationFailure } from '@temporalio/common';
import type { GrantOutcome, LoadResult, VerifyOutcome } from '../model';
import { type ActivityDeps, sourceOf, step } from './deps';

export interface VerifyTableInput {
  source: string;
  table: string;
  lakeTable: string;
  load: Pick<LoadResult, 'rowCountAfter' | 'snapshotId'>;
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

    /** Row count at the load's Iceberg snapshot, plus the configured checks; a mismatch fails the table. */
    async verifyTable(input: VerifyTableInput): Promise<VerifyOutcome> {
      const { settings, ports } = sourceOf(deps, input.source);
      const checks = settings.verify.checks
        .filter((c) => c.table === input.table)
        .map((c) => ({ name: c.name, sql: c.sql, expect: c.expect }));
      const outcome = await step('verify', input.table, () =>
        ports.verify.verify({
          source: input.source,
          namespace: settings.target.namespace,
          lakeTable: input.lakeTable,
          table: input.table,
          expectedRowCount: input.load.rowCountAfter,
          snapshotId: input.load.snapshotId,
          checks,
        }),
      );
      if (!outcome.passed) {
        const failed = outcome.checks.filter((c) => !c.passed).map((c) => `${c.name}: expected ${c.expected}, got ${c.actual}`);
        throw ApplicationFailure.create({
          message: `verification of ${input.table} (${settings.target.namespace}.${input.lakeTable}) failed: ${failed.join('; ')}`,
          type: 'VerificationFailed',
          nonRetryable: true,
          details: [outcome],
        });
      }
      return outcome;
    },
  };
}
