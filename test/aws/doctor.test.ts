/**
 * `lakesync doctor` on moto server over HTTP: a correct account passes; each broken set-up
 * fails the check that names it; the CLI's exit codes and --json shape.
 *
 * moto lacks two calls the doctor makes: IAM SimulatePrincipalPolicy (the doctor then
 * evaluates the roles' own policies, and says so with a permission-simulation warning) and
 * Glue GetCatalog (the analytics-integration check warns "not checked"; its pass and fail
 * paths are covered with aws-sdk-client-mock in test/core/doctor-checks.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { stringify } from 'yaml';
import { AthenaClient, CreateWorkGroupCommand } from '@aws-sdk/client-athena';
import { AttachRolePolicyCommand, CreatePolicyCommand, CreateRoleCommand, IAMClient, PutRolePermissionsBoundaryCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DisableKeyCommand, type GrantOperation, KMSClient } from '@aws-sdk/client-kms';
import { LakeFormationClient, PutDataLakeSettingsCommand, RegisterResourceCommand } from '@aws-sdk/client-lakeformation';
import { CreateDBClusterCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableBucketCommand, S3TablesClient } from '@aws-sdk/client-s3tables';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { sourceSchema } from '../../src/config/schema';
import { type CheckResult, doctorExitCode, doctorSettings, runDoctor } from '../../src/doctor';
import { createDoctorClients, destroyDoctorClients } from '../../src/doctor/clients';
import { evaluatePolicies, parsePolicyDocument } from '../../src/doctor/policy';
import { MOTO_ACCOUNT_ID, type MotoServer, startMoto } from '../helpers/moto';
import { loadTemplate, templatePolicy, valuesContext } from '../../scripts/policy-template';
import { tempDir } from '../helpers/temp-dir';

const REGION = 'us-east-2';
const ACCOUNT = MOTO_ACCOUNT_ID;
const EXPORT_BUCKET = 'shop-exports';
const SCRIPT_BUCKET = 'shop-glue';
const TABLE_BUCKET = 'shop-lake';
const WORKGROUP = 'lakesync';
const KEY_ALIAS = 'alias/lakesync-export';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const WORKER_ROLE = role('lakesync-worker');
const EXPORT_ROLE = role('lakesync-export');
const GLUE_ROLE = role('lakesync-glue');

let moto: MotoServer;

before(async () => {
  moto = await startMoto();
});

after(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  // Set-up calls sign with these; the doctor runs as the worker role (see asWorker).
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_SESSION_TOKEN = 'testing';
  delete process.env.AWS_PROFILE;
});

function setupClients() {
  const config = { region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  return {
    rds: new RDSClient(config),
    iam: new IAMClient(config),
    kms: new KMSClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    s3tables: new S3TablesClient(config),
    lakeformation: new LakeFormationClient(config),
    athena: new AthenaClient(config),
    sts: new STSClient(config),
  };
}

const trust = (service: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

/** The Glue job role's policy as docs/aws-setup.md writes it, plus the S3 Tables actions of iam mode. */
function gluePolicy(keyArn: string, omit: string[] = [], cannotListScripts = false): string {
  const scriptBucket = cannotListScripts ? [] : [`arn:aws:s3:::${SCRIPT_BUCKET}`];
  const s3tables = ['s3tables:GetTableBucket', 's3tables:GetNamespace', 's3tables:CreateTable', 's3tables:GetTable', 's3tables:GetTableMetadataLocation', 's3tables:UpdateTableMetadataLocation', 's3tables:GetTableData', 's3tables:PutTableData'].filter((a) => !omit.includes(a));
  return policy(
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${EXPORT_BUCKET}`, `arn:aws:s3:::${EXPORT_BUCKET}/lakesync/exports/*`, ...scriptBucket, `arn:aws:s3:::${SCRIPT_BUCKET}/*`] },
    { Effect: 'Allow', Action: ['s3:PutObject'], Resource: `arn:aws:s3:::${SCRIPT_BUCKET}/lakesync/results/*` },
    { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:DescribeKey'], Resource: keyArn },
    {
      Effect: 'Allow',
      Action: ['glue:GetCatalog', 'glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable'],
      Resource: [
        `arn:aws:glue:${REGION}:${ACCOUNT}:catalog`,
        `arn:aws:glue:${REGION}:${ACCOUNT}:catalog/s3tablescatalog`,
        `arn:aws:glue:${REGION}:${ACCOUNT}:catalog/s3tablescatalog/${TABLE_BUCKET}`,
        `arn:aws:glue:${REGION}:${ACCOUNT}:database/s3tablescatalog/${TABLE_BUCKET}/*`,
        `arn:aws:glue:${REGION}:${ACCOUNT}:table/s3tablescatalog/${TABLE_BUCKET}/*/*`,
      ],
    },
    { Effect: 'Allow', Action: s3tables, Resource: [`arn:aws:s3tables:${REGION}:${ACCOUNT}:bucket/${TABLE_BUCKET}`, `arn:aws:s3tables:${REGION}:${ACCOUNT}:bucket/${TABLE_BUCKET}/*`] },
    { Effect: 'Allow', Action: ['lakeformation:GetDataAccess'], Resource: '*' },
    { Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws-glue/*` },
  );
}

/** The worker policy of infra/lakesync.yaml for this source, with Athena's result bucket, and the breakage asked for. */
function workerPolicy(keyArn: string, b: Breakage): { Statement: { Sid?: string; Action: string | string[]; Resource?: unknown }[] } {
  const template = loadTemplate();
  const ctx = valuesContext(template, {
    parameters: { DBInstanceId: b.cluster ? '' : 'shop-db', DBClusterId: b.cluster ? 'shop-cluster' : '', TableBucketName: TABLE_BUCKET, ExportBucketName: EXPORT_BUCKET },
    refs: { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::Partition': 'aws', ArtifactBucket: SCRIPT_BUCKET },
    getAtts: { 'ExportKey.Arn': keyArn, 'ExportRole.Arn': EXPORT_ROLE, 'GlueRole.Arn': GLUE_ROLE, 'TableBucket.TableBucketARN': `arn:aws:s3tables:${REGION}:${ACCOUNT}:bucket/${TABLE_BUCKET}` },
  });
  const worker = templatePolicy(template, 'worker', ctx) as { Statement: { Sid?: string; Action: string | string[]; Resource?: unknown }[] };
  // The test's workgroup writes its results to shop-athena, not to the artifact bucket the template uses.
  // What Athena does with the caller's permissions on the result location (as the query role's ResultBucket and Results statements of docs/aws-setup.md).
  worker.Statement.push({ Sid: 'AthenaResultBucket', Action: ['s3:GetBucketLocation', 's3:ListBucket'].filter((a) => !(b.athenaResultsOmit ?? []).includes(a)), Resource: ['arn:aws:s3:::shop-athena'], Effect: 'Allow' } as never);
  worker.Statement.push({ Sid: 'AthenaResults', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'].filter((a) => !(b.athenaResultsOmit ?? []).includes(a)), Resource: ['arn:aws:s3:::shop-athena/results/*'], Effect: 'Allow' } as never);
  for (const s of worker.Statement) {
    if (s.Sid === 'PassRoles' && b.workerCannotPass) s.Resource = [GLUE_ROLE];
    if (s.Sid === 'PassRoles' && b.workerCannotPassGlue) s.Resource = [EXPORT_ROLE];
    if (s.Sid === 'PassRoles' && b.passedToServices) (s as { Condition?: unknown }).Condition = { StringEquals: { 'iam:PassedToService': b.passedToServices } };
    if (s.Sid === 'Snapshots' && b.workerTagsSnapshots) {
      s.Action = [s.Action].flat().filter((a) => !a.startsWith('rds:Describe'));
      worker.Statement.push({ Effect: 'Allow', Action: ['rds:DescribeDBSnapshots'], Resource: s.Resource } as never);
      (s as { Condition?: unknown }).Condition = { StringEquals: { 'aws:RequestTag/lakesync': 'snapshot' } };
    }
    s.Action = [s.Action].flat().filter((a) => !(b.workerOmits ?? []).includes(a));
  }
  const statements = worker.Statement.filter((s) => s.Action.length > 0);
  // The usual region lock: everything but the global services is denied outside the allowed region.
  if (b.regionLock) statements.push({ Effect: 'Deny', NotAction: ['iam:*', 'sts:*'], Resource: '*', Condition: { StringNotEquals: { 'aws:RequestedRegion': [b.regionLock] } } } as never);
  return { ...worker, Statement: statements };
}

interface Breakage {
  engine?: string;
  exportTrust?: string;
  disableKey?: boolean;
  noExportBucket?: boolean;
  /** No artifact bucket (aws.glue.scriptBucket: Glue scripts, load results). */
  noScriptBucket?: boolean;
  noTableBucket?: boolean;
  glueOmits?: string[];
  /** The Glue job role may read the script bucket's objects but not list the bucket. */
  glueCannotListScripts?: boolean;
  /** Actions taken out of the worker's statements on Athena's result location. */
  athenaResultsOmit?: string[];
  workgroupWithoutOutput?: boolean;
  workerCannotPass?: boolean;
  /** The worker may pass the export role only, not the Glue job role. */
  workerCannotPassGlue?: boolean;
  /** The services the worker may pass its roles to (the shipped policy's iam:PassedToService otherwise). */
  passedToServices?: string[];
  /** The worker is denied every regional action outside this region. */
  regionLock?: string;
  /** The key policy leaves out the export role and the account; the role may use the key by a grant, one constrained to an encryption context, or nothing. */
  exportKeyBy?: 'grant' | 'constrained-grant' | 'nothing';
  /** Actions taken out of the worker's policy. */
  workerOmits?: string[];
  /** The worker may create snapshots only with the lakesync tag (aws:RequestTag). */
  workerTagsSnapshots?: boolean;
  noLakeFormationRegistration?: boolean;
  /** The worker is not among the data lake administrators. */
  workerNotDataLakeAdmin?: boolean;
  noExportRole?: boolean;
  noWorkgroup?: boolean;
  cluster?: { engine: string };
}

/** A correct account (docs/aws-setup.md), with the breakage asked for; the doctor's env credentials become the worker role's. */
async function buildAccount(b: Breakage = {}): Promise<void> {
  const c = setupClients();
  await c.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: b.engine ?? 'postgres', DBInstanceClass: 'db.t3.micro', MasterUsername: 'admin', MasterUserPassword: 'password123', AllocatedStorage: 20 }));
  if (b.cluster) await c.rds.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'shop-cluster', Engine: b.cluster.engine, MasterUsername: 'admin', MasterUserPassword: 'password123' }));

  // A key policy that names the worker and the Glue role but neither the export role nor the account root.
  const withoutExportRole = b.exportKeyBy ? { Policy: policy({ Sid: 'Others', Effect: 'Allow', Principal: { AWS: [WORKER_ROLE, GLUE_ROLE] }, Action: 'kms:*', Resource: '*' }) } : {};
  const key = (await c.kms.send(new CreateKeyCommand({ Description: 'lakesync export', ...withoutExportRole }))).KeyMetadata!;
  if (b.exportKeyBy && b.exportKeyBy !== 'nothing') {
    const operations: GrantOperation[] = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'DescribeKey', 'RetireGrant'];
    const constraints = b.exportKeyBy === 'constrained-grant' ? { Constraints: { EncryptionContextSubset: { purpose: 'other' } } } : {};
    await c.kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: EXPORT_ROLE, Operations: operations, ...constraints }));
    // Another role's grant gives the export role nothing.
    await c.kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: role('someone-else'), Operations: ['Encrypt', 'Decrypt'] }));
  }
  await c.kms.send(new CreateAliasCommand({ AliasName: KEY_ALIAS, TargetKeyId: key.KeyId }));
  if (b.disableKey) await c.kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));

  if (!b.noExportRole) await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-export', AssumeRolePolicyDocument: trust(b.exportTrust ?? 'export.rds.amazonaws.com') }));
  if (!b.noExportRole) await c.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'lakesync-export',
      PolicyName: 'export',
      PolicyDocument: policy(
        { Sid: 'WriteExport', Effect: 'Allow', Action: ['s3:PutObject*', 's3:GetObject*', 's3:DeleteObject*', 's3:ListBucket', 's3:GetBucketLocation'], Resource: [`arn:aws:s3:::${EXPORT_BUCKET}`, `arn:aws:s3:::${EXPORT_BUCKET}/lakesync/exports/*`] },
        { Sid: 'EncryptExport', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey', 'kms:RetireGrant'], Resource: key.Arn },
      ),
    }),
  );

  await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-glue', AssumeRolePolicyDocument: trust('glue.amazonaws.com') }));
  // A managed policy: the local evaluation reads attached policies as well as inline ones.
  const glueManaged = (await c.iam.send(new CreatePolicyCommand({ PolicyName: 'lakesync-glue', PolicyDocument: gluePolicy(key.Arn!, b.glueOmits, b.glueCannotListScripts) }))).Policy!;
  await c.iam.send(new AttachRolePolicyCommand({ RoleName: 'lakesync-glue', PolicyArn: glueManaged.Arn }));

  await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-worker', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] }) }));
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'worker', PolicyDocument: JSON.stringify(workerPolicy(key.Arn!, b)) }));

  if (!b.noExportBucket) await c.s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  if (!b.noScriptBucket) await c.s3.send(new CreateBucketCommand({ Bucket: SCRIPT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  if (!b.noTableBucket) await c.s3tables.send(new CreateTableBucketCommand({ name: TABLE_BUCKET }));
  if (!b.noLakeFormationRegistration) {
    await c.lakeformation.send(new RegisterResourceCommand({ ResourceArn: `arn:aws:s3tables:${REGION}:${ACCOUNT}:bucket/*`, RoleArn: role('lakeformation-data-access'), WithFederation: true }));
    // docs/aws-setup.md section 5 step 2: the worker grants, as a data lake administrator.
    const admins = b.workerNotDataLakeAdmin ? [role('someone-else')] : [role('someone-else'), WORKER_ROLE];
    await c.lakeformation.send(new PutDataLakeSettingsCommand({ DataLakeSettings: { DataLakeAdmins: admins.map((DataLakePrincipalIdentifier) => ({ DataLakePrincipalIdentifier })) } }));
  }
  if (!b.noWorkgroup) await c.athena.send(
    new CreateWorkGroupCommand({
      Name: WORKGROUP,
      Configuration: b.workgroupWithoutOutput ? { EnforceWorkGroupConfiguration: true } : { EnforceWorkGroupConfiguration: true, ResultConfiguration: { OutputLocation: 's3://shop-athena/results/' } },
    }),
  );

  const session = (await c.sts.send(new AssumeRoleCommand({ RoleArn: WORKER_ROLE, RoleSessionName: 'doctor' }))).Credentials!;
  process.env.AWS_ACCESS_KEY_ID = session.AccessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = session.SecretAccessKey;
  process.env.AWS_SESSION_TOKEN = session.SessionToken;
  for (const client of Object.values(c)) client.destroy();
}

function rawSource(options: { accountId?: string; mode?: 'lakeformation' | 'iam'; clusterId?: string; createTableBucket?: boolean; hashKey?: string } = {}) {
  return {
    backend: 'aws',
    database: 'shop',
    source: { kind: 'rds', ...(options.clusterId ? { clusterId: options.clusterId } : { instanceId: 'shop-db' }) },
    ...(options.hashKey ? { tables: { 'public.users': { columns: { email: { hash: true } } } }, hashKey: { secretArn: options.hashKey } } : {}),
    target: { namespace: 'shop' },
    aws: {
      region: REGION,
      endpoint: moto.endpoint,
      accountId: options.accountId ?? ACCOUNT,
      // The roles are of the configured account: the config refuses roles of another (AWS passes only the caller's own).
      export: { bucket: EXPORT_BUCKET, prefix: 'lakesync/exports', iamRoleArn: EXPORT_ROLE.replace(ACCOUNT, options.accountId ?? ACCOUNT), kmsKeyId: KEY_ALIAS },
      tableBucket: { name: TABLE_BUCKET, create: options.createTableBucket ?? false },
      glue: { roleArn: GLUE_ROLE.replace(ACCOUNT, options.accountId ?? ACCOUNT), scriptBucket: SCRIPT_BUCKET },
      athena: { workgroup: WORKGROUP, outputLocation: 's3://shop-athena/results/' },
      lakeFormation: { mode: options.mode ?? 'lakeformation' },
    },
  };
}

async function doctor(options: Parameters<typeof rawSource>[0] = {}): Promise<CheckResult[]> {
  const settings = doctorSettings('shop', sourceSchema.parse(rawSource(options)));
  const clients = createDoctorClients(settings);
  try {
    return await runDoctor(clients, settings);
  } finally {
    destroyDoctorClients(clients);
  }
}

function statusOf(results: CheckResult[], check: string): CheckResult {
  const found = results.find((r) => r.check === check);
  assert.ok(found, `no ${check} line in ${JSON.stringify(results, null, 2)}`);
  return found;
}

/** Exactly `check` fails (with a problem matching `problem` and a fix), and every other check passes or warns as on a correct account. */
function assertOnlyFailure(results: CheckResult[], check: string, problem: RegExp): void {
  const failed = results.filter((r) => r.status === 'FAIL');
  assert.deepEqual(failed.map((r) => r.check), [check], JSON.stringify(results, null, 2));
  assert.match(failed[0]!.problem ?? '', problem);
  assert.ok(failed[0]!.fix, `the ${check} failure names a fix`);
  assert.equal(doctorExitCode(results), 1);
}

test('a correct account passes every check (moto lacks GetCatalog and the IAM simulator: two warnings)', async () => {
  await buildAccount();
  const results = await doctor();
  assert.deepEqual(
    results.map((r) => [r.check, r.status]),
    [
      ['credentials', 'ok'],
      ['rds-source', 'ok'],
      ['export-role', 'ok'],
      ['export-role-pass', 'ok'],
      ['kms-key', 'ok'],
      ['export-bucket', 'ok'],
      ['script-bucket', 'ok'],
      ['table-bucket', 'ok'],
      ['analytics-integration', 'warn'],
      ['glue-role', 'ok'],
      ['glue-concurrency', 'ok'],
      ['worker-permissions', 'ok'],
      ['lake-formation', 'ok'],
      ['athena-workgroup', 'ok'],
      ['permission-simulation', 'warn'],
    ],
    JSON.stringify(results, null, 2),
  );
  assert.match(statusOf(results, 'analytics-integration').problem!, /does not implement Glue GetCatalog/);
  assert.equal(doctorExitCode(results), 0);
});

test('a correct account in iam mode passes too', async () => {
  await buildAccount({ noLakeFormationRegistration: true });
  const results = await doctor({ mode: 'iam' });
  assert.deepEqual(results.filter((r) => r.status === 'FAIL'), []);
  assert.equal(statusOf(results, 'lake-formation').status, 'ok');
});

test('rds-source: a MySQL instance fails', async () => {
  await buildAccount({ engine: 'mysql' });
  assertOnlyFailure(await doctor(), 'rds-source', /runs mysql.*engine postgres/);
});

test('export-role: a role that trusts another service fails, with the trust policy as the fix', async () => {
  await buildAccount({ exportTrust: 'ec2.amazonaws.com' });
  const results = await doctor();
  assertOnlyFailure(results, 'export-role', /does not trust export\.rds\.amazonaws\.com \(it trusts ec2\.amazonaws\.com\)/);
  assert.match(statusOf(results, 'export-role').fix!, /update-assume-role-policy --role-name lakesync-export/);
});

test('export-role: a trust policy changed later is read again (URL-encoded by IAM)', async () => {
  await buildAccount();
  const c = setupClients();
  await c.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'lakesync-export', PolicyDocument: trust('rds.amazonaws.com') }));
  c.iam.destroy();
  assertOnlyFailure(await doctor(), 'export-role', /it trusts rds\.amazonaws\.com/);
});

test('export-role-pass: a worker that may not pass the export role fails', async () => {
  await buildAccount({ workerCannotPass: true });
  const results = await doctor();
  assertOnlyFailure(results, 'export-role-pass', /role\/lakesync-worker .*may not pass the export role: iam:PassRole on arn:aws:iam::123456789012:role\/lakesync-export/);
  assert.match(statusOf(results, 'export-role-pass').fix!, /"iam:PassedToService":\["rds\.amazonaws\.com","export\.rds\.amazonaws\.com"\]/);
});

test('export-role-pass: a worker that may pass the export role to export.rds.amazonaws.com only fails, told the condition of the shipped policy (StartExportTask may name either RDS principal)', async () => {
  await buildAccount({ passedToServices: ['export.rds.amazonaws.com', 'glue.amazonaws.com'] });
  const results = await doctor();
  assertOnlyFailure(results, 'export-role-pass', /may not pass the export role: iam:PassRole on arn:aws:iam::123456789012:role\/lakesync-export/);
  const suggested = suggestedStatements(statusOf(results, 'export-role-pass').fix!);
  assert.deepEqual(suggested, [{ Effect: 'Allow', Action: ['iam:PassRole'], Resource: EXPORT_ROLE, Condition: { StringEquals: { 'iam:PassedToService': ['rds.amazonaws.com', 'export.rds.amazonaws.com'] } } }]);
  // Added as told, it mends the check.
  const c = setupClients();
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'doctor-fix', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: suggested }) }));
  c.iam.destroy();
  assert.deepEqual(statusOf(await doctor(), 'export-role-pass'), { check: 'export-role-pass', status: 'ok' });
});

test('worker-permissions: a worker policy without glue:StartJobRun fails, naming the action, the job and the statement', async () => {
  await buildAccount({ workerOmits: ['glue:StartJobRun'] });
  const results = await doctor();
  assertOnlyFailure(results, 'worker-permissions', /role\/lakesync-worker \(the principal the worker runs as\) lacks actions a cycle needs: glue:StartJobRun on arn:aws:glue:us-east-2:123456789012:job\/lakesync-load-shop/);
  assert.match(statusOf(results, 'worker-permissions').fix!, /"Action":\["glue:StartJobRun"\],"Resource":"arn:aws:glue:us-east-2:123456789012:job\/lakesync-load-shop"/);
});

test('worker-permissions: a worker that may not pass the Glue role is told the statement with its condition, which passes the role to Glue only', async () => {
  await buildAccount({ workerCannotPassGlue: true });
  const results = await doctor();
  assertOnlyFailure(results, 'worker-permissions', /iam:PassRole on arn:aws:iam::123456789012:role\/lakesync-glue/);
  const suggested = suggestedStatements(statusOf(results, 'worker-permissions').fix!);
  assert.deepEqual(suggested, [{ Effect: 'Allow', Action: ['iam:PassRole'], Resource: GLUE_ROLE, Condition: { StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } } }]);
  // The suggestion grants no more than the shipped policy: the role goes to Glue and to no other service.
  const asked = (service: string) => evaluatePolicies([parsePolicyDocument(JSON.stringify({ Statement: suggested }), 'the suggested fix')], { action: 'iam:PassRole', resource: GLUE_ROLE, context: { 'iam:PassedToService': [service] } }).decision;
  assert.equal(asked('glue.amazonaws.com'), 'allowed');
  assert.notEqual(asked('ec2.amazonaws.com'), 'allowed');
  // Added as told, it mends the check.
  const c = setupClients();
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'doctor-fix', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: suggested }) }));
  c.iam.destroy();
  assert.deepEqual(statusOf(await doctor(), 'worker-permissions'), { check: 'worker-permissions', status: 'ok' });
});

/** The policy statements a fix line suggests: JSON objects, one after another, after its text. */
function suggestedStatements(fix: string): object[] {
  const start = fix.indexOf('{"Effect"');
  assert.ok(start >= 0, `no statement in ${fix}`);
  return fix.slice(start).split(/(?<=\}) (?=\{"Effect")/).map((s) => JSON.parse(s) as object);
}

test('worker-permissions: a worker locked to the configured region passes; locked to another region, it fails', async () => {
  // A missing aws:RequestedRegion passes StringNotEquals: unless the simulation names the region, the lock denies all.
  await buildAccount({ regionLock: REGION });
  assert.deepEqual(statusOf(await doctor(), 'worker-permissions'), { check: 'worker-permissions', status: 'ok' });
  await moto.reset();
  await buildAccount({ regionLock: 'eu-west-1' });
  const results = await doctor();
  assert.equal(statusOf(results, 'worker-permissions').status, 'FAIL');
  assert.match(statusOf(results, 'worker-permissions').problem!, /glue:StartJobRun on arn:aws:glue:us-east-2:123456789012:job\/lakesync-load-shop \(explicitDeny\)/);
});

test('worker-permissions: an action an explicit Deny refuses is not answered with an Allow to add, but with the Deny that refuses it', async () => {
  await buildAccount({ regionLock: 'eu-west-1' });
  const fix = statusOf(await doctor(), 'worker-permissions').fix ?? '';
  // An Allow cannot override a Deny: suggesting one would leave the check failing.
  assert.doesNotMatch(fix, /"Effect":"Allow"/);
  assert.match(fix, /explicit Deny .*glue:StartJobRun.* \(in inline policy worker of role lakesync-worker\)/);
  assert.match(fix, /an Allow does not override it: narrow or remove that Deny statement/);
});

test('worker-permissions: an action the permissions boundary leaves out is to be added to the boundary, not to the policy that allows it already', async () => {
  await buildAccount();
  const c = setupClients();
  const boundary = (await c.iam.send(new CreatePolicyCommand({ PolicyName: 'worker-boundary', PolicyDocument: policy({ Effect: 'Allow', NotAction: 'glue:StartJobRun', Resource: '*' }) }))).Policy!;
  await c.iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'lakesync-worker', PermissionsBoundary: boundary.Arn }));
  c.iam.destroy();
  const results = await doctor();
  assertOnlyFailure(results, 'worker-permissions', /glue:StartJobRun on arn:aws:glue:us-east-2:123456789012:job\/lakesync-load-shop \(implicitDeny\)/);
  const fix = statusOf(results, 'worker-permissions').fix!;
  assert.doesNotMatch(fix, /^add to its policy/);
  assert.match(fix, new RegExp(`the permissions boundary ${boundary.Arn} does not allow glue:StartJobRun: add to the boundary: \\{"Effect":"Allow","Action":\\["glue:StartJobRun"\\]`));
});

test('worker-permissions: a worker that may not snapshot the instance fails before a cycle does', async () => {
  await buildAccount({ workerOmits: ['rds:CreateDBSnapshot'] });
  assertOnlyFailure(await doctor(), 'worker-permissions', /rds:CreateDBSnapshot on arn:aws:rds:us-east-2:123456789012:db:shop-db, arn:aws:rds:us-east-2:123456789012:snapshot:lakesync-shop-doctor/);
});

test('worker-permissions: a worker that may not clean up (retention deletes, export cancel, Athena stop) fails before its snapshots pile up', async () => {
  await buildAccount({ workerOmits: ['rds:DeleteDBSnapshot', 'rds:CancelExportTask', 'athena:StopQueryExecution', 's3:DeleteObject'] });
  const results = await doctor();
  const problem = statusOf(results, 'worker-permissions').problem ?? '';
  assertOnlyFailure(results, 'worker-permissions', /lacks actions a cycle needs/);
  assert.match(problem, /rds:DeleteDBSnapshot on arn:aws:rds:us-east-2:123456789012:snapshot:lakesync-shop-doctor/);
  assert.match(problem, /rds:CancelExportTask/);
  assert.match(problem, /athena:StopQueryExecution on arn:aws:athena:us-east-2:123456789012:workgroup\//);
  assert.match(problem, /s3:DeleteObject on arn:aws:s3:::[^ ]+\/\*/);
  // The fix deletes only tagged snapshots, as the shipped policy does.
  assert.match(statusOf(results, 'worker-permissions').fix!, /"Action":\["rds:DeleteDBSnapshot"\][^}]*"Condition":\{"StringLike":\{"rds:snapshot-tag\/lakesync":"\*"\}\}/);
});

test('worker-permissions: a worker that may create only snapshots tagged lakesync passes (the simulation carries the tag)', async () => {
  await buildAccount({ workerTagsSnapshots: true });
  assert.deepEqual(statusOf(await doctor(), 'worker-permissions'), { check: 'worker-permissions', status: 'ok' });
});

test('kms-key: a key policy that leaves out the export role passes when a grant gives it the key, and fails without one', async () => {
  await buildAccount({ exportKeyBy: 'grant' });
  assert.deepEqual(statusOf(await doctor(), 'kms-key'), { check: 'kms-key', status: 'ok' });
  for (const by of ['nothing', 'constrained-grant'] as const) {
    await moto.reset();
    await buildAccount({ exportKeyBy: by });
    const results = await doctor();
    // A grant constrained to an encryption context gives DescribeKey and RetireGrant only: the context of RDS's calls is not known.
    const missing = by === 'nothing' ? /neither allows the export role kms:Encrypt, .*kms:RetireGrant nor leaves them to IAM .*and no grant on the key gives them/ : /neither allows the export role kms:Encrypt, .*kms:CreateGrant nor leaves them to IAM .*and no grant on the key gives them/;
    assertOnlyFailure(results, 'kms-key', missing);
    if (by === 'constrained-grant') assert.doesNotMatch(statusOf(results, 'kms-key').problem!, /DescribeKey|RetireGrant/);
  }
});

test('kms-key: a disabled key fails with enable-key as the fix', async () => {
  await buildAccount({ disableKey: true });
  const results = await doctor();
  assertOnlyFailure(results, 'kms-key', /is Disabled, not Enabled/);
  assert.match(statusOf(results, 'kms-key').fix!, /aws kms enable-key --key-id/);
});

test('export-bucket: a missing bucket fails with create-bucket as the fix', async () => {
  await buildAccount({ noExportBucket: true });
  const results = await doctor();
  assertOnlyFailure(results, 'export-bucket', /export bucket shop-exports does not exist/);
  assert.match(statusOf(results, 'export-bucket').fix!, /aws s3api create-bucket --bucket shop-exports --region us-east-2/);
});

/** The worker uploads the Glue scripts there and the runs write their results there: the first sync would fail on it. */
test('script-bucket: a missing artifact bucket (aws.glue.scriptBucket) fails with create-bucket as the fix', async () => {
  await buildAccount({ noScriptBucket: true });
  const results = await doctor();
  assertOnlyFailure(results, 'script-bucket', /bucket shop-glue \(aws\.glue\.scriptBucket\) does not exist/);
  assert.match(statusOf(results, 'script-bucket').fix!, /aws s3api create-bucket --bucket shop-glue --region us-east-2/);
});

test('table-bucket: a missing table bucket fails (tableBucket.create is false)', async () => {
  await buildAccount({ noTableBucket: true });
  assertOnlyFailure(await doctor(), 'table-bucket', /table bucket shop-lake .* does not exist/);
});

test('glue-role: a Glue role without s3tables:PutTableData fails in iam mode, naming the action and the statement', async () => {
  await buildAccount({ glueOmits: ['s3tables:PutTableData'], noLakeFormationRegistration: true });
  const results = await doctor({ mode: 'iam' });
  assertOnlyFailure(results, 'glue-role', /s3tables:PutTableData on arn:aws:s3tables:us-east-2:123456789012:bucket\/shop-lake\/table\/\*/);
  assert.match(statusOf(results, 'glue-role').fix!, /"Action":\["s3tables:PutTableData"\]/);
  assert.doesNotMatch(statusOf(results, 'glue-role').problem!, /GetTableData on/);
});

/**
 * A packed run reads the result file of each of its tables to skip those already loaded; without
 * s3:ListBucket on the bucket S3 answers a missing file with 403, not 404, and the job warns that it
 * could not read the result (glue/lakesync_glue/pack.py, already_succeeded).
 */
test('glue-role: a Glue role that may not list the script bucket fails, naming the bucket', async () => {
  await buildAccount({ glueCannotListScripts: true });
  const results = await doctor();
  assertOnlyFailure(results, 'glue-role', /s3:ListBucket on arn:aws:s3:::shop-glue\b/);
  assert.doesNotMatch(statusOf(results, 'glue-role').problem!, /shop-exports/);
});

/**
 * Athena writes the results of the worker's queries with the worker's permissions: a result
 * location in a bucket of its own needs the bucket listed and multipart uploads aborted too.
 */
test('worker-permissions: a worker that may not list the Athena result bucket or abort its uploads fails, naming them', async () => {
  await buildAccount({ athenaResultsOmit: ['s3:ListBucket', 's3:AbortMultipartUpload'] });
  const results = await doctor();
  assertOnlyFailure(results, 'worker-permissions', /s3:ListBucket on arn:aws:s3:::shop-athena\b/);
  assert.match(statusOf(results, 'worker-permissions').problem!, /s3:AbortMultipartUpload on arn:aws:s3:::shop-athena\/results\/\*/);
});

test('rds-source: an Aurora PostgreSQL cluster passes, an Aurora MySQL cluster fails', async () => {
  await buildAccount({ cluster: { engine: 'aurora-postgresql' } });
  assert.equal(statusOf(await doctor({ clusterId: 'shop-cluster' }), 'rds-source').status, 'ok');
  await moto.reset();
  await buildAccount({ cluster: { engine: 'aurora-mysql' } });
  assertOnlyFailure(await doctor({ clusterId: 'shop-cluster' }), 'rds-source', /DB cluster shop-cluster runs aurora-mysql/);
  // The worker's policy names shop-cluster: worker-permissions fails too (it may not snapshot "other").
  const other = await doctor({ clusterId: 'other' });
  assert.match(statusOf(other, 'rds-source').problem!, /DB cluster other does not exist in us-east-2/);
  assert.match(statusOf(other, 'worker-permissions').problem!, /rds:CreateDBClusterSnapshot on arn:aws:rds:us-east-2:123456789012:cluster:other/);
});

test('export-role: a missing role fails once; the checks of its permissions say they were not run', async () => {
  await buildAccount({ noExportRole: true });
  const results = await doctor();
  assertOnlyFailure(results, 'export-role', /role lakesync-export \(aws.export.iamRoleArn\) does not exist/);
  assert.match(statusOf(results, 'export-role').fix!, /aws iam create-role --role-name lakesync-export --assume-role-policy-document .*export\.rds\.amazonaws\.com/);
  for (const check of ['kms-key', 'export-bucket']) {
    assert.equal(statusOf(results, check).status, 'warn');
    assert.match(statusOf(results, check).problem!, /not checked: role arn:aws:iam::123456789012:role\/lakesync-export does not exist/);
  }
});

test('table-bucket: a missing table bucket with tableBucket.create warns (lakesync creates it)', async () => {
  await buildAccount({ noTableBucket: true });
  const results = await doctor({ createTableBucket: true });
  assert.equal(statusOf(results, 'table-bucket').status, 'warn');
  assert.equal(doctorExitCode(results), 0);
});

test('athena-workgroup: a missing workgroup fails with create-work-group as the fix', async () => {
  await buildAccount({ noWorkgroup: true });
  const results = await doctor();
  assertOnlyFailure(results, 'athena-workgroup', /Athena workgroup lakesync does not exist in us-east-2/);
  assert.match(statusOf(results, 'athena-workgroup').fix!, /aws athena create-work-group --name lakesync/);
});

test('lake-formation: lakeformation mode without the table buckets registered fails', async () => {
  await buildAccount({ noLakeFormationRegistration: true });
  assertOnlyFailure(await doctor(), 'lake-formation', /no Lake Formation data location covers table bucket shop-lake/);
});

test('lake-formation: a worker that is no data lake administrator is warned that its grants fail unless it holds grant option', async () => {
  await buildAccount({ workerNotDataLakeAdmin: true });
  const results = await doctor();
  const line = statusOf(results, 'lake-formation');
  assert.equal(line.status, 'warn', JSON.stringify(results, null, 2));
  assert.match(line.problem!, /the worker arn:aws:iam::123456789012:role\/lakesync-worker is not a Lake Formation data lake administrator: its grants \(the Glue job role on a namespace it creates\) fail unless it holds the permissions with grant option/);
  assert.match(line.fix!, /data lake administrators.*docs\/aws-setup\.md section 5 step 2/);
  assert.equal(doctorExitCode(results), 0);
});

test('lake-formation: iam mode with the table buckets registered warns', async () => {
  await buildAccount();
  const results = await doctor({ mode: 'iam' });
  assert.equal(statusOf(results, 'lake-formation').status, 'warn');
  assert.equal(doctorExitCode(results), 0);
});

test('athena-workgroup: an enforced workgroup without a result location fails', async () => {
  await buildAccount({ workgroupWithoutOutput: true });
  assertOnlyFailure(await doctor(), 'athena-workgroup', /enforces its settings but has no result location/);
});

test('hash-key: hashed columns need the key secret to exist and the Glue job role to read it', async () => {
  await buildAccount();
  assertOnlyFailure(await doctor({ hashKey: 'shop-hash-key' }), 'hash-key', /secret shop-hash-key \(hashKey\.secretArn\) does not exist/);
  const c = setupClients();
  const secrets = new SecretsManagerClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const arn = (await secrets.send(new CreateSecretCommand({ Name: 'shop-hash-key', SecretString: 'not-read-by-the-doctor' }))).ARN!;
  const unreadable = await doctor({ hashKey: 'shop-hash-key' });
  assertOnlyFailure(unreadable, 'hash-key', new RegExp(`the Glue job role \\S+ may not read it: secretsmanager:GetSecretValue on ${arn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(statusOf(unreadable, 'hash-key').fix!, /"Action":\["secretsmanager:GetSecretValue"\]/);
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-glue', PolicyName: 'hash-key', PolicyDocument: policy({ Sid: 'HashKey', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: arn }) }));
  assert.deepEqual(statusOf(await doctor({ hashKey: arn }), 'hash-key'), { check: 'hash-key', status: 'ok' });
  for (const client of [...Object.values(c), secrets]) client.destroy();
});

test('credentials: credentials of another account fail, and nothing else is checked', async () => {
  await buildAccount();
  const results = await doctor({ accountId: '111122223333' });
  assert.deepEqual(results.map((r) => [r.check, r.status]), [['credentials', 'FAIL']]);
  assert.match(results[0]!.problem!, /belong to account 123456789012, but aws.accountId is 111122223333/);
  assert.equal(doctorExitCode(results), 1);
});

/** The compiled CLI as a real process, with the worker role's credentials. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '../../src/cli/main.js'), ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('lakesync doctor end to end: exit 0, 1 and 2, text lines and the --json shape', async () => {
  await buildAccount({ noTableBucket: true });
  const dir = tempDir('lakesync-doctor-');
  const file = join(dir, 'lakesync.yaml');
  writeFileSync(file, stringify({ sources: { shop: rawSource(), demo: { database: 'demo', source: { kind: 'pglite' }, target: { namespace: 'demo' } } } }));

  const json = await cli(['doctor', 'shop', '-c', file, '--json']);
  assert.equal(json.code, 1, json.stderr);
  const results = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.ok(Array.isArray(results) && results.length === 15);
  for (const r of results) {
    assert.deepEqual(Object.keys(r).filter((k) => !['check', 'status', 'problem', 'fix'].includes(k)), [], `only check, status, problem, fix: ${JSON.stringify(r)}`);
    assert.ok(['ok', 'FAIL', 'warn'].includes(r.status as string));
  }
  assert.deepEqual(results.find((r) => r.check === 'table-bucket')?.status, 'FAIL');

  const text = await cli(['doctor', 'shop', '-c', file]);
  assert.equal(text.code, 1);
  const lines = text.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 15, text.stdout);
  assert.match(lines[0]!, /^ok {3}credentials$/);
  assert.match(text.stdout, /^FAIL table-bucket: table bucket shop-lake .* does not exist \(fix: aws s3tables create-table-bucket --name shop-lake/m);

  const c = setupClients();
  await c.s3tables.send(new CreateTableBucketCommand({ name: TABLE_BUCKET }));
  for (const client of Object.values(c)) client.destroy();
  const passing = await cli(['doctor', 'shop', '-c', file]);
  assert.equal(passing.code, 0, passing.stdout);
  assert.match(passing.stdout, /^warn permission-simulation: /m);

  const local = await cli(['doctor', 'demo', '-c', file]);
  assert.equal(local.code, 2);
  assert.match(local.stderr, /backend local: lakesync doctor checks aws sources/);
  const unknown = await cli(['doctor', 'nope', '-c', file]);
  assert.equal(unknown.code, 2, unknown.stderr);
  const missingArg = await cli(['doctor', '-c', file]);
  assert.equal(missingArg.code, 2);
});
