/**
 * `lakesync doctor <source>`: a read-only pre-flight check of an AWS account against a source's
 * config. Each check is a small function over the SDK clients and the resolved settings that
 * returns report lines; none changes anything in the account.
 *
 * The calls it makes and the IAM action of each (DOCTOR_CALLS in src/aws/required-actions.ts
 * holds the same list for the policy tests):
 *   sts:GetCallerIdentity          STS GetCallerIdentity         credentials and account
 *   rds:DescribeDBInstances        RDS DescribeDBInstances       source instance and engine
 *   rds:DescribeDBClusters         RDS DescribeDBClusters        source cluster and engine
 *   iam:GetRole                    IAM GetRole                   export and Glue roles, trust, caller's role ARN
 *   iam:SimulatePrincipalPolicy    IAM SimulatePrincipalPolicy   what the caller (the worker: WORKER_ACTIONS), export role and Glue role may do
 *   iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies, iam:GetPolicy,
 *   iam:GetPolicyVersion           (only against an emulator without SimulatePrincipalPolicy)
 *   kms:DescribeKey                KMS DescribeKey               key state and spec
 *   kms:GetKeyPolicy               KMS GetKeyPolicy              the key policy's side of the export role's access
 *   kms:ListGrants                 KMS ListGrants                grants on the key, for actions its key policy does not give
 *   s3:ListBucket                  S3 HeadBucket                 export bucket and artifact bucket (aws.glue.scriptBucket) exist, their regions
 *   s3tables:GetTableBucket        S3Tables GetTableBucket       table bucket exists
 *   glue:GetCatalog                Glue GetCatalog               s3tablescatalog (analytics integration)
 *   glue:GetJob                    Glue GetJob                   the job's MaxConcurrentRuns, against the source's concurrency
 *   lakeformation:ListResources    LakeFormation ListResources   Lake Formation registration of the table buckets
 *   lakeformation:GetDataLakeSettings  LakeFormation GetDataLakeSettings  lakeformation mode: the worker is a data lake administrator (it grants)
 *   athena:GetWorkGroup            Athena GetWorkGroup           workgroup state and result location
 *   glue:GetConnection             Glue GetConnection            direct tables: the Glue connection of the source's VPC (HidePassword)
 *   secretsmanager:DescribeSecret  SecretsManager DescribeSecret source.catalog: the catalog secret exists; hashed columns: the hashKey secret exists (values never read)
 *   s3:GetObject                   S3 HeadObject                 direct tables: the CA bundle of source.catalog.sslRootCert exists
 *   dynamodb:ListTables            DynamoDB ListTables           dynamodb sources: the tables, unless source.tables lists them
 *   dynamodb:DescribeContinuousBackups  DynamoDB DescribeContinuousBackups  dynamodb sources: each synced table exists, with point-in-time recovery on
 *
 * A dynamodb source has no RDS database, export role or RDS export: its doctor runs the credentials,
 * the DynamoDB checks (src/doctor/checks/dynamodb.ts, and the export key when source.export.kmsKeyId
 * names one), the Glue job role (reading the DynamoDB exports), the hash key, and the lake checks (table bucket,
 * analytics integration, Lake Formation, Athena).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SourceConfig } from '../config/schema';
import { hashesAnyColumn } from '../config/columns';
import { selectTable } from '../config/tables';
import { clientConfig } from '../aws/clients';
import { awsDynamoSettings, awsSettings, catalogSettings } from '../backends/aws';
import { type DoctorClients } from './clients';
import { ATHENA_WORKGROUP, checkAthenaWorkgroup } from './checks/athena';
import { checkExportBucket, checkExportRole, checkExportRolePass, EXPORT_BUCKET, EXPORT_ROLE, EXPORT_ROLE_PASS } from './checks/export';
import { checkGlueConcurrency, checkGlueRole, checkScriptBucket, GLUE_CONCURRENCY, GLUE_ROLE, SCRIPT_BUCKET } from './checks/glue';
import { checkDirectSource, checkSourceCatalog, DIRECT_SOURCE, SOURCE_CATALOG } from './checks/direct';
import { checkHashKey, HASH_KEY } from './checks/hash-key';
import { checkWorkerPermissions, WORKER_PERMISSIONS } from './checks/worker';
import { checkDynamoExportBucket, checkPointInTimeRecovery, DYNAMODB_EXPORT_BUCKET, DYNAMODB_PITR, type DynamoDoctorContext, type DynamoDoctorSource } from './checks/dynamodb';
import { checkCredentials, CREDENTIALS } from './checks/identity';
import { checkDynamoExportKey, checkKmsKey, DYNAMODB_EXPORT_KEY, KMS_KEY } from './checks/kms';
import { ANALYTICS_INTEGRATION, checkAnalyticsIntegration, checkLakeFormationMode, checkTableBucket, LAKE_FORMATION, TABLE_BUCKET } from './checks/lake';
import { checkRdsSource, RDS_SOURCE } from './checks/rds';
import { PermissionSimulator } from './simulate';
import { type Check, type CheckResult, type DoctorContext, type DoctorSettings, fail, warn } from './types';

export type { CheckResult, CheckStatus, DoctorSettings } from './types';

export const PERMISSION_SIMULATION = 'permission-simulation';

/** In order: later checks use what earlier ones found (the caller, the key's ARN, missing roles). */
const CHECKS: readonly (readonly [string, Check])[] = [
  [RDS_SOURCE, checkRdsSource],
  [EXPORT_ROLE, checkExportRole],
  [EXPORT_ROLE_PASS, checkExportRolePass],
  [KMS_KEY, checkKmsKey],
  [EXPORT_BUCKET, checkExportBucket],
  [SCRIPT_BUCKET, checkScriptBucket],
  [TABLE_BUCKET, checkTableBucket],
  [ANALYTICS_INTEGRATION, checkAnalyticsIntegration],
  [GLUE_ROLE, checkGlueRole],
  [GLUE_CONCURRENCY, checkGlueConcurrency],
  [DIRECT_SOURCE, checkDirectSource],
  [SOURCE_CATALOG, checkSourceCatalog],
  [HASH_KEY, checkHashKey],
  [WORKER_PERMISSIONS, checkWorkerPermissions],
  [LAKE_FORMATION, checkLakeFormationMode],
  [ATHENA_WORKGROUP, checkAthenaWorkgroup],
];

/**
 * The checks a dynamodb source runs too: the lake side, the Glue job role (which reads the
 * DynamoDB exports: the settings' export is the source's), the hash key, and the worker's own
 * permissions (with DYNAMODB_WORKER_ACTIONS).
 */
const LAKE_CHECKS: ReadonlySet<string> = new Set([SCRIPT_BUCKET, TABLE_BUCKET, ANALYTICS_INTEGRATION, GLUE_ROLE, GLUE_CONCURRENCY, HASH_KEY, WORKER_PERMISSIONS, LAKE_FORMATION, ATHENA_WORKGROUP]);

/** The check names, in report order. */
export const CHECK_NAMES: readonly string[] = [CREDENTIALS, ...CHECKS.map(([name]) => name), PERMISSION_SIMULATION];

/** The check names of a dynamodb source, in report order. */
export const DYNAMODB_CHECK_NAMES: readonly string[] = [CREDENTIALS, DYNAMODB_PITR, DYNAMODB_EXPORT_BUCKET, DYNAMODB_EXPORT_KEY, ...CHECKS.map(([name]) => name).filter((name) => LAKE_CHECKS.has(name)), PERMISSION_SIMULATION];

/**
 * A dynamodb source's doctor settings. It has no RDS database and no export role: `rds` and
 * `export.iamRoleArn` stay empty and the checks that read them do not run; `export` is where
 * DynamoDB writes its exports.
 */
export interface DynamoSourceDoctorSettings extends DoctorSettings {
  dynamodb: DynamoDoctorSource;
}

/** The doctor's settings of an aws source; a ConfigError (exit 2) for any other source. */
export function doctorSettings(name: string, source: SourceConfig): DoctorSettings | DynamoSourceDoctorSettings {
  const hashKey = source.hashKey && 'secretArn' in source.hashKey && hashesAnyColumn(source.tables).length > 0 ? source.hashKey.secretArn : undefined;
  const doctorOnly = {
    namespace: source.target.namespace,
    lakeFormationMode: source.aws?.lakeFormation?.mode ?? 'lakeformation',
    grantPrincipals: source.grants.map((g) => g.principal),
    concurrency: source.concurrency,
    ...(hashKey ? { hashKeySecret: hashKey } : {}),
  };
  if (source.source.kind !== 'dynamodb') {
    const settings = awsSettings(name, source);
    // The worker reads source.catalog (table list, primary keys) whether or not a table is extract: direct.
    const catalog = catalogSettings(source, settings.region);
    return { ...settings, ...doctorOnly, ...(catalog ? { catalog: { auth: catalog.auth, ...(catalog.user ? { user: catalog.user } : {}) } } : {}) };
  }
  const { dynamodb, ...lake } = awsDynamoSettings(name, source);
  return {
    ...lake,
    ...doctorOnly,
    rds: { instanceId: '' },
    export: { bucket: dynamodb.export.bucket, prefix: dynamodb.export.prefix, iamRoleArn: '', kmsKeyId: dynamodb.export.kmsKeyId ?? '' },
    dynamodb: {
      region: dynamodb.region,
      lakeRegion: lake.region,
      partition: lake.partition,
      ...(dynamodb.tables ? { tables: dynamodb.tables } : {}),
      export: dynamodb.export,
      included: (table) => selectTable(source, table).included,
    },
  };
}

export async function runDoctor(clients: DoctorClients, settings: DoctorSettings | DynamoSourceDoctorSettings): Promise<CheckResult[]> {
  const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, Boolean(settings.endpoint), settings.region), missingRoles: new Set() };
  const credentials = await checkCredentials(ctx);
  // Without working credentials of the right account every other answer would mislead.
  if (credentials.status !== 'ok') return [credentials];
  const results: CheckResult[] = [credentials];
  const dynamo = 'dynamodb' in settings ? dynamoChecks(clients, settings) : undefined;
  const checks = dynamo ? [...dynamo.checks, ...CHECKS.filter(([name]) => LAKE_CHECKS.has(name))] : CHECKS;
  try {
    await runChecks(checks, ctx, results);
  } finally {
    dynamo?.close();
  }
  if (ctx.simulator.usedLocalEvaluation) {
    results.push(
      warn(
        PERMISSION_SIMULATION,
        `the endpoint ${settings.endpoint} does not implement IAM SimulatePrincipalPolicy: permissions were evaluated from the roles' own inline and attached policies (and permissions boundaries), without SCPs or resource policies`,
        'run lakesync doctor against AWS for an authoritative answer',
      ),
    );
  }
  return results;
}

async function runChecks(checks: readonly (readonly [string, Check])[], ctx: DoctorContext, results: CheckResult[]): Promise<void> {
  for (const [name, check] of checks) {
    try {
      const result = await check(ctx);
      results.push(...(Array.isArray(result) ? result : [result]));
    } catch (err) {
      results.push(fail(name, `the check failed unexpectedly: ${(err as Error).message ?? String(err)}`));
    }
  }
}

/** The DynamoDB checks, with a DynamoDB client in the tables' region (the doctor's clients are in the lake's). */
function dynamoChecks(clients: DoctorClients, settings: DynamoSourceDoctorSettings): { checks: (readonly [string, Check])[]; close: () => void } {
  const source = settings.dynamodb;
  const own = source.region !== settings.region ? new DynamoDBClient(clientConfig({ region: source.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) })) : undefined;
  const dctx: DynamoDoctorContext = { dynamodb: own ?? clients.dynamodb, s3: clients.s3, source };
  return {
    checks: [
      [
        DYNAMODB_PITR,
        async (ctx) => {
          const results = await checkPointInTimeRecovery(dctx);
          if (dctx.synced) ctx.dynamoTables = dctx.synced;
          return results;
        },
      ],
      [DYNAMODB_EXPORT_BUCKET, () => checkDynamoExportBucket(dctx)],
      [DYNAMODB_EXPORT_KEY, checkDynamoExportKey],
    ],
    close: () => own?.destroy(),
  };
}

/** Exit code of a report: 1 when any check failed, 0 otherwise (warnings allowed). */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'FAIL') ? 1 : 0;
}
