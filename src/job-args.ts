/**
 * The arguments of one table's load job (glue/README.md), built from the load request alone.
 * Shared by the Glue adapter (`--name value` job run arguments) and the embedded mode's load
 * runner (the same names), so both run the job with exactly the same inputs. An argument whose
 * value would be empty is left out: absent means unset, and no backend has to pass "".
 */
import { PortError } from './errors';
import type { DynamoExtract, LoadRequest } from './model';
import { splitTable } from './names';

/** The Spark catalog name the job registers the lake under; SQL names tables `lake.<ns>.<table>`. */
export const LAKE_CATALOG = 'lake';

/** Where the job finds the lake: an S3 Tables bucket on AWS, a warehouse folder locally. */
export type LakeLocation = { tableBucketArn: string } | { warehouse: string };

/**
 * How the job reaches the source over JDBC; secrets only by reference. With a secret the user may
 * be left out (the secret's `username` is used). `sslRootCert` is the s3:// CA bundle the job checks
 * the server against under sslmode verify-ca/verify-full (public, not a secret).
 */
export type JdbcSource = { url: string; sslRootCert?: string } & ({ user: string; passwordEnv: string } | { user?: string; secret: string } | { user: string; iamAuth: true });

export function loadJobArguments(req: LoadRequest, lake: LakeLocation, jdbc?: JdbcSource): Record<string, string> {
  const { plan } = req;
  if (plan.action === 'skip') throw new PortError('validation', 'InvalidArgument', `${plan.table} is planned as skip: there is nothing to load`);
  const direct = plan.extract?.kind === 'direct';
  if (plan.extract?.kind === 'dynamodb') return dynamoArguments(req, plan.extract, lake);
  if (!direct && [req.exportId, req.snapshotTime].some((value) => !value?.trim())) {
    throw new PortError('validation', 'InvalidArgument', `the load of ${plan.table} names no export id or snapshot time: every commit records them, and the job refuses an export older than the lake table's`);
  }
  return definedOnly({
    ...(direct ? directArguments(req, jdbc) : { export_path: req.exportLocation }),
    ...commonArguments(req, lake),
    export_id: direct ? undefined : req.exportId,
    snapshot_time: direct ? undefined : req.snapshotTime,
    // The part files discovery saw: the job refuses the table when those it lists differ (removed since).
    export_part_files: direct || !req.exportParts ? undefined : String(req.exportParts.files),
    export_part_bytes: direct || !req.exportParts ? undefined : String(req.exportParts.bytes),
  });
}

/**
 * A DynamoDB table's load: its completed exports (oldest first), key and declared attributes.
 * The lineage is the last export: its id and the export time it reaches.
 */
function dynamoArguments(req: LoadRequest, extract: DynamoExtract, lake: LakeLocation): Record<string, string> {
  const { plan } = req;
  const exports = req.tableExports ?? [];
  if (exports.length === 0) {
    throw new PortError('validation', 'InvalidArgument', `the load of ${plan.table} is a DynamoDB load without exports: it reads only the completed DynamoDB exports of its cycle`);
  }
  if (extract.key.length === 0) throw new PortError('validation', 'InvalidArgument', `the load of ${plan.table} names no key attributes: a DynamoDB table always has a partition key`);
  const last = exports.at(-1)!;
  if ((req.exportId && req.exportId !== last.exportId) || (req.snapshotTime && req.snapshotTime !== last.window.to)) {
    throw new PortError(
      'validation',
      'InvalidArgument',
      `the lineage of ${plan.table}'s load (export ${req.exportId ?? '-'}, time ${req.snapshotTime ?? '-'}) is not its last DynamoDB export (${last.exportId} to ${last.window.to})`,
    );
  }
  return definedOnly({
    source_format: 'dynamodb',
    dynamodb_exports: JSON.stringify(exports.map((e) => ({ exportId: e.exportId, type: e.window.type, from: e.window.from, to: e.window.to, location: e.location, itemCount: e.itemCount }))),
    dynamodb_key: JSON.stringify(extract.key.map((k) => ({ name: k.name, type: k.type }))),
    dynamodb_attributes: JSON.stringify(extract.attributes ?? {}),
    ...commonArguments(req, lake),
    // The job takes the key from dynamodb_key: primary_key is split at commas, which a DynamoDB attribute name may hold.
    primary_key: undefined,
    export_id: last.exportId,
    snapshot_time: last.window.to,
  });
}

/** The arguments of every load: the table, the lake, the plan's policies and the run's identity. */
function commonArguments(req: LoadRequest, lake: LakeLocation): Record<string, string | undefined> {
  const { plan } = req;
  const [schema, table] = splitTable(plan.table);
  return {
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
    // What follows a create: the job holds it to the rules of Spark's MERGE only when the loads after it merge.
    next_action: plan.action === 'create' && plan.extract === undefined ? plan.nextAction : undefined,
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
    // Lineage (export_id, snapshot_time, set by the callers): recorded in every commit; an export older than the lake table's is refused.
    source: req.source,
    cycle_id: req.cycleId,
    run_token: req.runToken,
    result_path: req.resultLocation,
    ...('tableBucketArn' in lake ? { table_bucket_arn: lake.tableBucketArn } : { warehouse: lake.warehouse }),
  };
}

/**
 * The arguments of a pack run (glue/lakesync_glue/pack.py): its pack file, which holds each
 * table's arguments, and the pack token as `run_token`, so the run is found by it as a table's is.
 */
export function packJobArguments(packPath: string, packToken: string): Record<string, string> {
  if (!packPath.trim() || !packToken.trim()) throw new PortError('validation', 'InvalidArgument', `a pack run needs its pack file and pack token (got ${JSON.stringify(packPath)}, ${JSON.stringify(packToken)})`);
  return { pack_path: packPath, run_token: packToken };
}

/**
 * The longest argument value (UTF-8 bytes) a Glue job run gets inline. Glue documents no limit for
 * a run's arguments, but StartJobRun refuses a request over about 180 KB ("Request size limit
 * exceeded") and a run whose container's argument list is too long fails before the job starts;
 * Linux takes at most 128 KiB in one argument. Column policies of a wide table, or a DynamoDB
 * table's exports, may pass those: longer values travel in the run's arguments file instead.
 */
export const INLINE_ARGUMENT_BYTES = 1024;

/** What finds and names a run (GetJobRuns by run token, live runs by lake table): always inline. */
const ALWAYS_INLINE: ReadonlySet<string> = new Set(['run_token', 'namespace', 'lake_table', 'result_path', 'source', 'cycle_id']);

/**
 * A load's arguments split into those the run takes inline and the longer ones for its arguments
 * file (glue/README.md, `--arguments_path`: a JSON object of name to value the job reads first).
 */
export function splitArguments(args: Record<string, string>): { inline: Record<string, string>; file: Record<string, string> } {
  const inline: Record<string, string> = {};
  const file: Record<string, string> = {};
  for (const [name, value] of Object.entries(args)) {
    if (!ALWAYS_INLINE.has(name) && Buffer.byteLength(value, 'utf8') > INLINE_ARGUMENT_BYTES) file[name] = value;
    else inline[name] = value;
  }
  return { inline, file };
}

/** Absent means unset: no argument is passed empty. */
function definedOnly(args: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(args).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

/**
 * The arguments of a direct load: how the job reaches the source over JDBC. The password only by
 * reference (a variable of the local runner, a secret's name, or IAM database authentication).
 */
function directArguments(req: LoadRequest, jdbc: JdbcSource | undefined): Record<string, string | undefined> {
  const { plan } = req;
  const extract = plan.extract?.kind === 'direct' ? plan.extract : undefined;
  if (!jdbc) {
    throw new PortError('validation', 'InvalidArgument', `${plan.table} is a direct load but the backend gave no JDBC connection to the source: direct loads read the source over JDBC`);
  }
  if (!plan.cursor) {
    throw new PortError('validation', 'InvalidArgument', `${plan.table} is a direct load without a cursor column: the window is bounded by the cursor (set tables.${plan.table}.cursor)`);
  }
  if (plan.action !== 'create' && plan.action !== 'incremental') {
    throw new PortError('validation', 'InvalidArgument', `${plan.table} is a direct load planned as ${plan.action}: a direct load is create or incremental`);
  }
  assertNoCredentials(plan.table, jdbc.url);
  if (!jdbc.user?.trim() && !('secret' in jdbc)) throw new PortError('validation', 'InvalidArgument', `the JDBC connection of ${plan.table} names no user`);
  if (jdbc.sslRootCert !== undefined && !/^s3:\/\/[^/]+\/.+/.test(jdbc.sslRootCert)) {
    throw new PortError('validation', 'InvalidArgument', `the CA bundle of ${plan.table}'s JDBC connection is not an s3://bucket/key URI: set source.catalog.sslRootCert`);
  }
  return {
    extract: 'direct',
    jdbc_url: jdbc.url,
    jdbc_user: jdbc.user,
    jdbc_password_env: 'passwordEnv' in jdbc ? jdbc.passwordEnv : undefined,
    jdbc_secret: 'secret' in jdbc ? jdbc.secret : undefined,
    jdbc_iam_auth: 'iamAuth' in jdbc && jdbc.iamAuth ? 'true' : undefined,
    jdbc_ssl_root_cert: jdbc.sslRootCert,
    partitions: extract?.partitions !== undefined ? String(extract.partitions) : undefined,
    partition_column: extract?.partitionColumn,
    known_partitions: extract?.knownPartitions ? JSON.stringify(extract.knownPartitions) : undefined,
  };
}

/** A JDBC URL travels in job arguments (visible in the run's details): it must never carry a user or password. */
function assertNoCredentials(table: string, url: string): void {
  if (!/^jdbc:postgresql:\/\/[^/?#]+/.test(url)) {
    throw new PortError('validation', 'InvalidArgument', `the JDBC URL for ${table} is not jdbc:postgresql://host:port/database`);
  }
  const authority = url.slice('jdbc:postgresql://'.length).split(/[/?#]/)[0]!;
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const params = query.split('&').map((p) => decodeURIComponentSafe(p.split('=')[0] ?? '').toLowerCase());
  if (authority.includes('@') || params.includes('user') || params.includes('password')) {
    throw new PortError('validation', 'InvalidArgument', `the JDBC URL for ${table} carries credentials: job arguments are visible in the run's details, so the user goes in jdbc_user and the password by reference only`);
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
