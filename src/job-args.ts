/**
 * The arguments of one table's load job (glue/README.md), built from the load request alone.
 * Shared by the Glue adapter (`--name value` job run arguments) and the embedded mode's load
 * runner (the same names), so both run the job with exactly the same inputs. An argument whose
 * value would be empty is left out: absent means unset, and no backend has to pass "".
 */
import { PortError } from './errors';
import type { LoadRequest } from './model';
import { splitTable } from './names';

/** The Spark catalog name the job registers the lake under; SQL names tables `lake.<ns>.<table>`. */
export const LAKE_CATALOG = 'lake';

/** Where the job finds the lake: an S3 Tables bucket on AWS, a warehouse folder locally. */
export type LakeLocation = { tableBucketArn: string } | { warehouse: string };

export function loadJobArguments(req: LoadRequest, lake: LakeLocation): Record<string, string> {
  const { plan } = req;
  if (plan.action === 'skip') throw new PortError('validation', 'InvalidArgument', `${plan.table} is planned as skip: there is nothing to load`);
  if ([req.exportId, req.snapshotTime].some((value) => !value?.trim())) {
    throw new PortError('validation', 'InvalidArgument', `the load of ${plan.table} names no export id or snapshot time: every commit records them, and the job refuses an export older than the lake table's`);
  }
  const [schema, table] = splitTable(plan.table);
  const args: Record<string, string | undefined> = {
    export_path: req.exportLocation,
    source_database: req.database,
    source_schema: schema,
    source_table: table,
    catalog: LAKE_CATALOG,
    namespace: req.namespace,
    lake_table: plan.lakeTable,
    action: plan.action,
    primary_key: plan.primaryKey.join(','),
    cursor_column: plan.cursor?.column,
    cursor_mode: plan.cursor?.mode,
    cursor_lookback: plan.cursor?.lookback,
    max_delete_fraction: String(plan.maxDeleteFraction),
    approve_deletes: plan.approveDeletes ? 'true' : undefined,
    allow_older_export: plan.allowOlderExport ? 'true' : undefined,
    // Row values in the job's error messages only when the source opts in.
    show_values: plan.showValues ? 'true' : undefined,
    // Column policies by source column; the hash key travels by reference only (a variable or a secret's name).
    column_policies: plan.columns && Object.keys(plan.columns).length > 0 ? JSON.stringify(plan.columns) : undefined,
    hash_key_env: plan.hashKey && 'env' in plan.hashKey ? plan.hashKey.env : undefined,
    hash_key_secret: plan.hashKey && 'secretArn' in plan.hashKey ? plan.hashKey.secretArn : undefined,
    rebuild: plan.rebuild ? 'true' : undefined,
    // Lineage: recorded in every commit; an export older than the lake table's is refused.
    source: req.source,
    export_id: req.exportId,
    snapshot_time: req.snapshotTime,
    cycle_id: req.cycleId,
    run_token: req.runToken,
    result_path: req.resultLocation,
    ...('tableBucketArn' in lake ? { table_bucket_arn: lake.tableBucketArn } : { warehouse: lake.warehouse }),
  };
  return Object.fromEntries(Object.entries(args).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}
