/**
 * `lakesync doctor` on a dynamodb source, on moto server over HTTP (DynamoDB ListTables,
 * DescribeTable, DescribeContinuousBackups, S3 HeadBucket, and the lake checks' calls): the
 * RDS, export-role and KMS checks do not run; point-in-time recovery is checked for every table
 * the source syncs, with the command that turns it on; the export bucket must exist.
 * Nothing is mocked (moto lacks Glue GetCatalog: the analytics-integration check warns). The
 * worker policy of docs/aws-setup.md is held to DYNAMODB_WORKER_ACTIONS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { AthenaClient, CreateWorkGroupCommand } from '@aws-sdk/client-athena';
import { CreateTableCommand, DynamoDBClient, UpdateContinuousBackupsCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableBucketCommand, S3TablesClient } from '@aws-sdk/client-s3tables';
import { dynamodbWorkerActions } from '../../src/aws/required-actions';
import { sourceSchema } from '../../src/config/schema';
import { type CheckResult, doctorExitCode, doctorSettings, DYNAMODB_CHECK_NAMES, runDoctor } from '../../src/doctor';
import { createDoctorClients, destroyDoctorClients } from '../../src/doctor/clients';
import { repoRoot } from '../../src/toolchain';
import { MOTO_ACCOUNT_ID, type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { loadTemplate, templatePolicy, valuesContext } from '../../scripts/policy-template';

const REGION = 'us-east-2';
const EXPORT_BUCKET = 'shop-ddb-exports';

let moto: MotoServer;

before(async () => {
  useTestCredentials();
  moto = await startMoto();
});

after(async () => {
  await moto?.stop();
});

function clients() {
  const config = { region: REGION, endpoint: moto.endpoint };
  return { ddb: new DynamoDBClient(config), s3: new S3Client({ ...config, forcePathStyle: true }), s3tables: new S3TablesClient(config), athena: new AthenaClient(config), iam: new IAMClient(config) };
}

interface Account {
  pitrOff?: string[];
  noExportBucket?: boolean;
  /** The Glue job role may not read the DynamoDB exports. */
  glueCannotReadExports?: boolean;
}

/** The Glue job role's policy for this source (docs/aws-setup.md section 3, iam mode), reading the DynamoDB export prefix. */
function gluePolicy(a: Account): string {
  const catalog = [`arn:aws:glue:${REGION}:${MOTO_ACCOUNT_ID}:catalog`, `arn:aws:glue:${REGION}:${MOTO_ACCOUNT_ID}:catalog/s3tablescatalog`, `arn:aws:glue:${REGION}:${MOTO_ACCOUNT_ID}:catalog/s3tablescatalog/shop-lake`];
  const exports = a.glueCannotReadExports ? [] : [`arn:aws:s3:::${EXPORT_BUCKET}`, `arn:aws:s3:::${EXPORT_BUCKET}/lakesync/dynamodb/*`];
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [...exports, 'arn:aws:s3:::shop-glue', 'arn:aws:s3:::shop-glue/*'] },
      { Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::shop-glue/lakesync/results/*' },
      {
        Effect: 'Allow',
        Action: ['glue:GetCatalog', 'glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable'],
        Resource: [...catalog, `arn:aws:glue:${REGION}:${MOTO_ACCOUNT_ID}:database/s3tablescatalog/shop-lake/*`, `arn:aws:glue:${REGION}:${MOTO_ACCOUNT_ID}:table/s3tablescatalog/shop-lake/*/*`],
      },
      { Effect: 'Allow', Action: ['s3tables:*'], Resource: [`arn:aws:s3tables:${REGION}:${MOTO_ACCOUNT_ID}:bucket/shop-lake`, `arn:aws:s3tables:${REGION}:${MOTO_ACCOUNT_ID}:bucket/shop-lake/*`] },
      { Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `arn:aws:logs:${REGION}:${MOTO_ACCOUNT_ID}:log-group:/aws-glue/*` },
    ],
  });
}

/** Orders and Customers with point-in-time recovery (unless pitrOff), the export bucket and the lake. */
async function buildAccount(a: Account = {}): Promise<void> {
  const c = clients();
  for (const name of ['Orders', 'Customers']) {
    await c.ddb.send(new CreateTableCommand({ TableName: name, KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    if (!a.pitrOff?.includes(name)) await c.ddb.send(new UpdateContinuousBackupsCommand({ TableName: name, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
  }
  if (!a.noExportBucket) await c.s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  // The artifact bucket (aws.glue.scriptBucket): Glue scripts and load results.
  await c.s3.send(new CreateBucketCommand({ Bucket: 'shop-glue', CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await c.s3tables.send(new CreateTableBucketCommand({ name: 'shop-lake' }));
  await c.athena.send(new CreateWorkGroupCommand({ Name: 'lakesync', Configuration: { EnforceWorkGroupConfiguration: true, ResultConfiguration: { OutputLocation: 's3://shop-athena/results/' } } }));
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
  await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-glue', AssumeRolePolicyDocument: JSON.stringify(trust) }));
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-glue', PolicyName: 'glue', PolicyDocument: gluePolicy(a) }));
  for (const client of Object.values(c)) client.destroy();
}

async function doctor(source: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<CheckResult[]> {
  const config = sourceSchema.parse({
    backend: 'aws',
    database: 'dynamodb',
    source: { kind: 'dynamodb', region: REGION, export: { bucket: EXPORT_BUCKET }, ...source },
    include: ['dynamodb.*'],
    target: { namespace: 'shop' },
    aws: {
      region: REGION,
      endpoint: moto.endpoint,
      accountId: MOTO_ACCOUNT_ID,
      tableBucket: { name: 'shop-lake' },
      glue: { roleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lakesync-glue`, scriptBucket: 'shop-glue' },
      athena: { workgroup: 'lakesync', outputLocation: 's3://shop-athena/results/' },
      lakeFormation: { mode: 'iam' },
    },
    ...top,
  });
  const settings = doctorSettings('shop-ddb', config);
  const c = createDoctorClients(settings);
  try {
    return await runDoctor(c, settings);
  } finally {
    destroyDoctorClients(c);
  }
}

const of = (results: CheckResult[], check: string) => results.filter((r) => r.check === check);

beforeEach(async () => {
  await moto.reset();
});

test('a correct account: no check fails; the RDS, export-role and KMS checks do not run', async () => {
  await buildAccount();
  const results = await doctor();
  assert.deepEqual(results.filter((r) => r.status === 'FAIL'), []);
  assert.equal(doctorExitCode(results), 0);
  assert.deepEqual(of(results, 'dynamodb-pitr'), [{ check: 'dynamodb-pitr', status: 'ok' }]);
  assert.deepEqual(of(results, 'dynamodb-export-bucket'), [{ check: 'dynamodb-export-bucket', status: 'ok' }]);
  const ran = [...new Set(results.map((r) => r.check))];
  assert.deepEqual(ran, DYNAMODB_CHECK_NAMES.filter((name) => ran.includes(name)), 'in report order');
  for (const rdsOnly of ['rds-source', 'export-role', 'export-role-pass', 'kms-key', 'export-bucket', 'direct-source']) {
    assert.equal(of(results, rdsOnly).length, 0, rdsOnly);
  }
  assert.deepEqual(of(results, 'glue-role'), [{ check: 'glue-role', status: 'ok' }]);
  assert.ok(ran.includes('table-bucket') && ran.includes('athena-workgroup'), 'the lake checks run');
});

test('point-in-time recovery off: one FAIL per table, with the command that turns it on', async () => {
  await buildAccount({ pitrOff: ['Orders', 'Customers'] });
  const results = of(await doctor(), 'dynamodb-pitr');
  assert.equal(results.length, 2);
  for (const name of ['Orders', 'Customers']) {
    const result = results.find((r) => r.problem?.includes(`table ${name}:`));
    assert.equal(result?.status, 'FAIL', name);
    assert.match(result!.problem!, /point-in-time recovery is off for DynamoDB table \w+: exports need it/);
    assert.equal(result!.fix, `aws dynamodb update-continuous-backups --region ${REGION} --table-name ${name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`);
  }
});

test('only the tables the source syncs are checked: an excluded table, or one source.tables leaves out, may lack PITR', async () => {
  await buildAccount({ pitrOff: ['Customers'] });
  assert.deepEqual(of(await doctor({}, { exclude: ['dynamodb.Customers'] }), 'dynamodb-pitr'), [{ check: 'dynamodb-pitr', status: 'ok' }]);
  assert.deepEqual(of(await doctor({ tables: ['Orders'] }), 'dynamodb-pitr'), [{ check: 'dynamodb-pitr', status: 'ok' }]);
});

test('a table source.tables names that does not exist fails, naming it', async () => {
  await buildAccount();
  const [result] = of(await doctor({ tables: ['Orders', `arn:aws:dynamodb:${REGION}:${MOTO_ACCOUNT_ID}:table/Invoices`] }), 'dynamodb-pitr');
  assert.equal(result?.status, 'FAIL');
  assert.equal(result?.problem, `DynamoDB table Invoices does not exist in ${REGION}`);
});

test('no table synced: a warning', async () => {
  await buildAccount();
  const [result] = of(await doctor({}, { include: ['dynamodb.Nothing*'] }), 'dynamodb-pitr');
  assert.equal(result?.status, 'warn');
  assert.match(result!.problem!, /no DynamoDB table in us-east-2 is synced/);
});

test('the export bucket missing: FAIL with the command that creates it', async () => {
  await buildAccount({ noExportBucket: true });
  const [result] = of(await doctor(), 'dynamodb-export-bucket');
  assert.equal(result?.status, 'FAIL');
  assert.equal(result?.problem, `export bucket ${EXPORT_BUCKET} (source.export.bucket) does not exist`);
  assert.equal(result?.fix, `aws s3api create-bucket --bucket ${EXPORT_BUCKET} --region ${REGION} --create-bucket-configuration LocationConstraint=${REGION}`);
});

test('the Glue job role must read the DynamoDB exports: FAIL naming the export prefix, with the statement that allows it', async () => {
  await buildAccount({ glueCannotReadExports: true });
  const [result] = of(await doctor(), 'glue-role');
  assert.equal(result?.status, 'FAIL', JSON.stringify(result));
  assert.match(result!.problem!, new RegExp(`s3:GetObject on arn:aws:s3:::${EXPORT_BUCKET}/lakesync/dynamodb/\\*`));
  assert.match(result!.problem!, new RegExp(`s3:ListBucket on arn:aws:s3:::${EXPORT_BUCKET} `));
  assert.match(result!.fix!, /"Action":\["s3:GetObject"\],"Resource":"arn:aws:s3:::shop-ddb-exports\/lakesync\/dynamodb\/\*"/);
});

test('source.export.kmsKeyId: a missing key fails; an existing one the Glue job role may not decrypt with fails the glue-role check', async () => {
  await buildAccount();
  const [missing] = of(await doctor({ export: { bucket: EXPORT_BUCKET, kmsKeyId: 'alias/nothing' } }), 'dynamodb-export-key');
  assert.equal(missing?.status, 'FAIL');
  assert.equal(missing?.problem, `KMS key alias/nothing (source.export.kmsKeyId) does not exist in ${REGION}`);
  const kms = new KMSClient({ region: REGION, endpoint: moto.endpoint });
  const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
  kms.destroy();
  const results = await doctor({ export: { bucket: EXPORT_BUCKET, kmsKeyId: key.KeyId } });
  assert.deepEqual(of(results, 'dynamodb-export-key'), [{ check: 'dynamodb-export-key', status: 'ok' }]);
  const [glue] = of(results, 'glue-role');
  assert.equal(glue?.status, 'FAIL', JSON.stringify(glue));
  assert.match(glue!.problem!, new RegExp(`kms:Decrypt on ${key.Arn}`));
});

/** The worker role with infra/lakesync.yaml's worker policy for DynamoDBTables `tables`; the doctor's credentials become its. */
async function workerRole(tables: string): Promise<void> {
  const c = clients();
  const template = loadTemplate();
  const ctx = valuesContext(template, {
    parameters: { DBInstanceId: '', DynamoDBTables: tables, DynamoDBRegion: REGION, TableBucketName: 'shop-lake', ExportBucketName: EXPORT_BUCKET },
    refs: { 'AWS::AccountId': MOTO_ACCOUNT_ID, 'AWS::Region': REGION, 'AWS::Partition': 'aws', ArtifactBucket: 'shop-glue' },
    getAtts: { 'ExportKey.Arn': `arn:aws:kms:${REGION}:${MOTO_ACCOUNT_ID}:key/none`, 'ExportRole.Arn': `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lakesync-export`, 'GlueRole.Arn': `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lakesync-glue`, 'TableBucket.TableBucketARN': `arn:aws:s3tables:${REGION}:${MOTO_ACCOUNT_ID}:bucket/shop-lake` },
  });
  const policy = templatePolicy(template, 'worker', ctx) as { Statement: object[] };
  // The test's workgroup writes its results to shop-athena, not to the artifact bucket the template uses.
  policy.Statement.push({ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:GetBucketLocation', 's3:ListBucket'], Resource: ['arn:aws:s3:::shop-athena', 'arn:aws:s3:::shop-athena/results/*'] });
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT_ID}:root` }, Action: 'sts:AssumeRole' }] };
  await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-worker', AssumeRolePolicyDocument: JSON.stringify(trust) }));
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'worker', PolicyDocument: JSON.stringify(policy) }));
  const sts = new STSClient({ region: REGION, endpoint: moto.endpoint });
  const session = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lakesync-worker`, RoleSessionName: 'doctor' }))).Credentials!;
  for (const client of [...Object.values(c), sts]) client.destroy();
  process.env.AWS_ACCESS_KEY_ID = session.AccessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = session.SecretAccessKey;
  process.env.AWS_SESSION_TOKEN = session.SessionToken;
}

test('worker-permissions: the worker policy must cover every table the source syncs', async () => {
  await buildAccount();
  await workerRole('Orders');
  try {
    assert.deepEqual(of(await doctor({ tables: ['Orders'] }), 'worker-permissions'), [{ check: 'worker-permissions', status: 'ok' }]);
    const [result] = of(await doctor({ tables: ['Orders', 'Customers'] }), 'worker-permissions');
    assert.equal(result?.status, 'FAIL', JSON.stringify(result));
    assert.match(result!.problem!, new RegExp(`dynamodb:ExportTableToPointInTime on arn:aws:dynamodb:${REGION}:${MOTO_ACCOUNT_ID}:table/Customers \\(`));
    assert.doesNotMatch(result!.problem!, /table\/Orders/);
    // Without source.tables: the tables ListTables gives (and include selects).
    const [listed] = of(await doctor(), 'worker-permissions');
    assert.equal(listed?.status, 'FAIL', JSON.stringify(listed));
    assert.match(listed!.problem!, /dynamodb:ExportTableToPointInTime on arn:aws:dynamodb:[^ ]+:table\/Customers \(/);
  } finally {
    useTestCredentials();
  }
});

test('docs/aws-setup.md gives the worker every DynamoDB action DYNAMODB_WORKER_ACTIONS lists, on the same resources, and no other', () => {
  const docs = readFileSync(join(repoRoot(), 'docs', 'aws-setup.md'), 'utf8');
  const section = docs.slice(docs.indexOf('### Worker permissions'));
  const block = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.ok(block, 'the DynamoDB worker policy block');
  const statements = (JSON.parse(block) as { Statement: { Action: string[]; Resource: string | string[] }[] }).Statement;
  const granted = statements.flatMap((s) => s.Action.map((action) => ({ action, resources: [s.Resource].flat() })));
  const needed = dynamodbWorkerActions(true);
  assert.deepEqual(granted.map((g) => g.action).sort(), needed.map((n) => n.action).sort());
  for (const n of needed) {
    const docsResources = granted.find((g) => g.action === n.action)!.resources;
    // The docs allow every table (table/*) where the code names one.
    for (const r of n.resources) assert.ok(docsResources.includes(r.replace('table/DYNAMODB_TABLE', 'table/*')), `${n.action} on ${r}`);
  }
  assert.deepEqual(dynamodbWorkerActions(false).filter((a) => a.action.startsWith('kms:')), [], 'the KMS actions only with a key');
});
