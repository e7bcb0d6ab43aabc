/**
 * For sources with `extract: direct` tables only (after check 8): the Glue job can reach and log in to the
 * source database. The Glue connection exists and places the job in a subnet with security
 * groups; the catalog's secret exists and is not being deleted (its value is never read: the
 * Glue role's right to read it is simulated by the glue-role check), or IAM database
 * authentication is enabled on the database; the CA bundle of `source.catalog.sslRootCert`
 * exists in S3 (HeadObject: its content is public and not read).
 */
import { GetConnectionCommand } from '@aws-sdk/client-glue';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { hasAwsCode } from '../../aws/errors';
import { callFailed } from '../report';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';
import { checkGlueSecret } from './secret';

export const DIRECT_SOURCE = 'direct-source';
/** A source catalog without direct tables: only the worker reads it (table list, primary keys). */
export const SOURCE_CATALOG = 'source-catalog';

/** Connection types that carry a subnet and security groups for a Spark job's JDBC reads. */
const NETWORK_TYPES = new Set(['NETWORK', 'JDBC']);

export async function checkDirectSource(ctx: DoctorContext): Promise<CheckResult[]> {
  const direct = ctx.settings.direct;
  if (!direct) return [];
  const connection = await checkConnection(ctx, direct.glueConnection);
  const login = direct.auth.kind === 'secret' ? await checkSecret(ctx, direct.auth.secretArn) : checkIamAuth(ctx, direct.user ?? '');
  const rootCert = direct.sslRootCert ? await checkRootCert(ctx, direct.sslRootCert) : ok(DIRECT_SOURCE);
  const problems = [connection, login, rootCert].filter((r) => r.status !== 'ok');
  return problems.length > 0 ? problems : [ok(DIRECT_SOURCE)];
}

async function checkConnection(ctx: DoctorContext, name: string): Promise<CheckResult> {
  const { region } = ctx.settings;
  let connection;
  try {
    // HidePassword: a JDBC connection may hold a password, and the doctor never reads one.
    connection = (await ctx.clients.glue.send(new GetConnectionCommand({ Name: name, HidePassword: true }))).Connection;
  } catch (err) {
    if (hasAwsCode(err, 'EntityNotFoundException')) return fail(DIRECT_SOURCE, `Glue connection ${name} (source.catalog.glueConnection) does not exist in ${region}`, createConnectionFix(name, region));
    return callFailed(DIRECT_SOURCE, err, 'Glue GetConnection', `connection ${name}`);
  }
  if (!connection) return fail(DIRECT_SOURCE, `Glue GetConnection answered no connection for ${name}`, createConnectionFix(name, region));
  const physical = connection.PhysicalConnectionRequirements;
  const missing = [!physical?.SubnetId ? 'subnet' : undefined, !physical?.SecurityGroupIdList?.length ? 'security groups' : undefined].filter(Boolean);
  if (missing.length > 0) {
    return fail(
      DIRECT_SOURCE,
      `Glue connection ${name} has no ${missing.join(' and no ')}: the load job would not run in the database's VPC and could not reach it`,
      `recreate it with PhysicalConnectionRequirements (${createConnectionFix(name, region)})`,
    );
  }
  if (connection.ConnectionType && !NETWORK_TYPES.has(connection.ConnectionType)) {
    return warn(DIRECT_SOURCE, `Glue connection ${name} is of type ${connection.ConnectionType}; direct loads use its subnet (${physical!.SubnetId}) and security groups only, as a NETWORK connection gives them`, createConnectionFix(name, region));
  }
  return ok(DIRECT_SOURCE);
}

function createConnectionFix(name: string, region: string): string {
  const input = {
    Name: name,
    ConnectionType: 'NETWORK',
    PhysicalConnectionRequirements: { SubnetId: '<private subnet that reaches the database>', SecurityGroupIdList: ['<group with a self-referencing rule, allowed by the database group>'], AvailabilityZone: "<the subnet's zone>" },
  };
  return `aws glue create-connection --region ${region} --connection-input '${JSON.stringify(input)}' (docs/aws-setup.md, "Direct loads")`;
}

/**
 * `source.catalog` with a secret but no table with `extract: direct`: the worker alone reads the
 * catalog with the secret's password. The secret exists, and under a customer managed key the
 * worker may decrypt it (its secretsmanager:GetSecretValue is among the worker's actions). With
 * direct tables, direct-source checks the same secret.
 */
export async function checkSourceCatalog(ctx: DoctorContext): Promise<CheckResult[]> {
  const catalog = ctx.settings.catalog;
  if (ctx.settings.direct || catalog?.auth.kind !== 'secret') return [];
  return [
    await checkGlueSecret(ctx, catalog.auth.secretArn, {
      check: SOURCE_CATALOG,
      field: 'source.catalog.secretArn',
      holds: 'the password',
      reader: 'the worker',
      create: 'create it with the database user\'s "username" and "password" (JSON), or correct source.catalog.secretArn',
      simulateRead: false,
      glueReads: false,
      workerReads: { why: 'the worker reads the source catalog (table list, primary keys) with the password, and Secrets Manager decrypts the secret with the caller\'s kms:Decrypt on its key' },
    }),
  ];
}

function checkSecret(ctx: DoctorContext, secretArn: string): Promise<CheckResult> {
  return checkGlueSecret(ctx, secretArn, {
    check: DIRECT_SOURCE,
    field: 'source.catalog.secretArn',
    holds: 'the password',
    create: 'create it with the database user\'s "username" and "password" (JSON), or correct source.catalog.secretArn',
    // The glue-role check simulates secretsmanager:GetSecretValue on it (GLUE_JOB_DIRECT_ACTIONS).
    simulateRead: false,
    // The worker-permissions check simulates the worker's secretsmanager:GetSecretValue (WORKER_ACTIONS); its key is known here.
    workerReads: { why: 'the worker reads the source catalog with the password, and Secrets Manager decrypts the secret with the caller\'s kms:Decrypt on its key' },
  });
}

const RDS_BUNDLE = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';

/** The CA bundle the job checks the server against (sslmode verify-full/verify-ca) is where the config says. */
async function checkRootCert(ctx: DoctorContext, uri: string): Promise<CheckResult> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) return fail(DIRECT_SOURCE, `source.catalog.sslRootCert ${uri} is not an s3://bucket/key URI`, 'set it to the S3 URI of the CA bundle');
  const [, bucket, key] = match as unknown as [string, string, string];
  const upload = `curl -sSo global-bundle.pem ${RDS_BUNDLE} && aws s3 cp global-bundle.pem ${uri}`;
  try {
    await ctx.clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return ok(DIRECT_SOURCE);
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
    if (hasAwsCode(err, 'NotFound', 'NoSuchKey', 'NoSuchBucket') || status === 404) {
      return fail(DIRECT_SOURCE, `the CA bundle ${uri} (source.catalog.sslRootCert) does not exist: every direct load would fail to verify the database's certificate`, upload);
    }
    if (hasAwsCode(err, 'Forbidden', 'AccessDenied') || status === 403) {
      // The doctor's principal need not read the bundle; the Glue role's s3:GetObject on it is simulated by the glue-role check.
      return warn(DIRECT_SOURCE, `not checked that the CA bundle ${uri} (source.catalog.sslRootCert) exists: S3 HeadObject was refused (the principal running lakesync doctor lacks s3:GetObject on it)`, `if it is missing: ${upload}`);
    }
    return callFailed(DIRECT_SOURCE, err, 'S3 HeadObject', `the CA bundle ${uri}`);
  }
}

function checkIamAuth(ctx: DoctorContext, user: string): CheckResult {
  const { rds } = ctx.settings;
  if (ctx.database?.iamAuthEnabled !== false) return ok(DIRECT_SOURCE);
  const fix = rds.clusterId
    ? `aws rds modify-db-cluster --db-cluster-identifier ${rds.clusterId} --enable-iam-database-authentication --apply-immediately`
    : `aws rds modify-db-instance --db-instance-identifier ${rds.instanceId} --enable-iam-database-authentication --apply-immediately`;
  return fail(
    DIRECT_SOURCE,
    `source.catalog.iamAuth is set, but IAM database authentication is disabled on ${rds.clusterId ? `cluster ${rds.clusterId}` : `instance ${rds.instanceId}`}: the job's token for ${user} would be refused`,
    `${fix}; then GRANT rds_iam TO ${user}`,
  );
}
