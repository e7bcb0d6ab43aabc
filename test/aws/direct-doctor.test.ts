/**
 * `lakesync doctor` for a source with direct tables: the Glue role's direct-load actions, the
 * catalog secret and IAM database authentication on moto server over HTTP; the Glue connection
 * itself on aws-sdk-client-mock, because moto does not implement Glue GetConnection.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { mockClient } from 'aws-sdk-client-mock';
import { GetConnectionCommand } from '@aws-sdk/client-glue';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadTemplate, templatePolicy, valuesContext } from '../../scripts/policy-template';
import { sourceSchema } from '../../src/config/schema';
import { type CheckResult, doctorSettings, runDoctor } from '../../src/doctor';
import { checkDirectSource, checkSourceCatalog, DIRECT_SOURCE, SOURCE_CATALOG } from '../../src/doctor/checks/direct';
import { createDoctorClients, destroyDoctorClients } from '../../src/doctor/clients';
import { evaluatePolicies, parsePolicyDocument } from '../../src/doctor/policy';
import { PermissionSimulator } from '../../src/doctor/simulate';
import type { DoctorContext } from '../../src/doctor/types';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { ACCOUNT, EXPORT_BUCKET, EXPORT_ROLE, GLUE_ROLE, REGION, SCRIPT_BUCKET, TABLE_BUCKET } from './fixtures';

const HOST = 'shop-db.abc123.us-east-2.rds.amazonaws.com';
const KEY_ALIAS = 'alias/lakesync-export';

let moto: MotoServer;

before(async () => {
  useTestCredentials();
  moto = await startMoto();
});

after(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
});

function rawSource(catalog: Record<string, unknown>, endpoint?: string) {
  return {
    backend: 'aws',
    database: 'shop',
    source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: HOST, glueConnection: 'shop-vpc', sslmode: 'require', ...catalog } },
    target: { namespace: 'shop' },
    tables: { 'public.events': { extract: 'direct', cursor: { column: 'id' } } },
    aws: {
      region: REGION,
      ...(endpoint ? { endpoint } : {}),
      accountId: ACCOUNT,
      export: { bucket: EXPORT_BUCKET, prefix: 'lakesync/exports', iamRoleArn: EXPORT_ROLE, kmsKeyId: KEY_ALIAS },
      tableBucket: { name: TABLE_BUCKET },
      glue: { roleArn: GLUE_ROLE, scriptBucket: SCRIPT_BUCKET },
      athena: { outputLocation: 's3://shop-athena/results/' },
    },
  };
}

function clientsOnMoto() {
  const config = { region: REGION, endpoint: moto.endpoint };
  return { rds: new RDSClient(config), iam: new IAMClient(config), kms: new KMSClient(config), secrets: new SecretsManagerClient(config), s3: new S3Client({ ...config, forcePathStyle: true }) };
}

interface Account {
  /** Statement ids of the template's Glue role policy left out. */
  omit?: string[];
  iamAuthEnabled?: boolean;
  /** A secret to create: none, a live one, one scheduled for deletion, one under a customer managed key. */
  secret?: 'none' | 'live' | 'deleted' | 'customer-key';
  /** Upload the CA bundle to ROOT_CERT_BUCKET/ROOT_CERT_KEY. */
  rootCert?: boolean;
}

const ROOT_CERT_BUCKET = 'shop-certs';
const ROOT_CERT_KEY = 'rds/global-bundle.pem';
const ROOT_CERT = `s3://${ROOT_CERT_BUCKET}/${ROOT_CERT_KEY}`;

/** An account with the Glue role's policy exactly as infra/lakesync.yaml writes it (direct statements included). */
async function buildAccount(a: Account = {}): Promise<{ secretArn: string }> {
  const c = clientsOnMoto();
  await c.rds.send(
    new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123', EnableIAMDatabaseAuthentication: a.iamAuthEnabled ?? true }),
  );
  const key = (await c.kms.send(new CreateKeyCommand({ Description: 'lakesync export' }))).KeyMetadata!;
  await c.kms.send(new CreateAliasCommand({ AliasName: KEY_ALIAS, TargetKeyId: key.KeyId }));
  let secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:shop-catalog-AbCdEf`;
  if ((a.secret ?? 'live') !== 'none') {
    const customerKey = a.secret === 'customer-key' ? (await c.kms.send(new CreateKeyCommand({ Description: 'catalog secret' }))).KeyMetadata!.Arn : undefined;
    secretArn = (await c.secrets.send(new CreateSecretCommand({ Name: 'shop-catalog', SecretString: JSON.stringify({ username: 'lakesync_reader', password: 'not-read-by-the-doctor' }), ...(customerKey ? { KmsKeyId: customerKey } : {}) }))).ARN!;
    if (a.secret === 'deleted') await c.secrets.send(new DeleteSecretCommand({ SecretId: secretArn, RecoveryWindowInDays: 7 }));
  }
  await c.s3.send(new CreateBucketCommand({ Bucket: ROOT_CERT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  if (a.rootCert) await c.s3.send(new PutObjectCommand({ Bucket: ROOT_CERT_BUCKET, Key: ROOT_CERT_KEY, Body: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }));
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
  await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-glue', AssumeRolePolicyDocument: trust }));
  const template = loadTemplate();
  const ctx = valuesContext(template, {
    parameters: { DBInstanceId: 'shop-db', TableBucketName: TABLE_BUCKET, ExportBucketName: EXPORT_BUCKET, CatalogSecretArn: secretArn, CatalogDbUser: 'lakesync_iam', GlueConnectionName: 'shop-vpc', SslRootCertObject: `${ROOT_CERT_BUCKET}/${ROOT_CERT_KEY}` },
    refs: { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::Partition': 'aws', ArtifactBucket: SCRIPT_BUCKET },
    getAtts: { 'ExportKey.Arn': key.Arn!, 'ExportRole.Arn': EXPORT_ROLE, 'GlueRole.Arn': GLUE_ROLE, 'TableBucket.TableBucketARN': `arn:aws:s3tables:${REGION}:${ACCOUNT}:bucket/${TABLE_BUCKET}` },
  });
  const policy = templatePolicy(template, 'glue', ctx) as { Statement: { Sid?: string }[] };
  const kept = { ...policy, Statement: policy.Statement.filter((s) => !(a.omit ?? []).includes(s.Sid ?? '')) };
  await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-glue', PolicyName: 'load-tables', PolicyDocument: JSON.stringify(kept) }));
  for (const client of Object.values(c)) client.destroy();
  return { secretArn };
}

async function doctor(catalog: Record<string, unknown>): Promise<CheckResult[]> {
  const settings = doctorSettings('shop', sourceSchema.parse(rawSource(catalog, moto.endpoint)));
  const clients = createDoctorClients(settings);
  try {
    return await runDoctor(clients, settings);
  } finally {
    destroyDoctorClients(clients);
  }
}

const lines = (results: CheckResult[], check: string) => results.filter((r) => r.check === check);

describe('doctor on moto: a source with direct tables', () => {
  test('the template Glue role passes; the connection is not checked on moto (no GetConnection); the secret is found', async () => {
    const { secretArn } = await buildAccount();
    const results = await doctor({ user: 'lakesync_reader', secretArn });
    assert.deepEqual(lines(results, 'glue-role'), [{ check: 'glue-role', status: 'ok' }], JSON.stringify(results, null, 2));
    const direct = lines(results, DIRECT_SOURCE);
    assert.deepEqual(direct.map((r) => r.status), ['warn'], JSON.stringify(direct));
    assert.match(direct[0]!.problem!, /does not implement Glue GetConnection/);
  });

  test('glue-role: a Glue role without the VPC statements fails, naming the network interface actions and glue:GetConnection', async () => {
    const { secretArn } = await buildAccount({ omit: ['SourceVpcNetworkInterfaces', 'SourceConnection', 'TagNetworkInterfaces'] });
    const [glue] = lines(await doctor({ user: 'lakesync_reader', secretArn }), 'glue-role');
    assert.equal(glue!.status, 'FAIL');
    for (const action of ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:CreateTags', 'glue:GetConnection']) assert.match(glue!.problem!, new RegExp(action));
    assert.match(glue!.problem!, /connection\/shop-vpc/);
    assert.match(glue!.fix!, /GLUE_JOB_DIRECT_ACTIONS/);
    // The tagging statement keeps its condition: the role may put Glue's tag only, as the shipped policy says.
    assert.match(glue!.fix!, /\{"Effect":"Allow","Action":\["ec2:CreateTags","ec2:DeleteTags"\],"Resource":"arn:aws:ec2:[^"]+:network-interface\/\*","Condition":\{"ForAllValues:StringEquals":\{"aws:TagKeys":\["aws-glue-service-resource"\]\}\}\}/);
  });

  test('glue-role: a Glue role that may not read the catalog secret fails, naming it', async () => {
    const { secretArn } = await buildAccount({ omit: ['SourceSecret'] });
    const [glue] = lines(await doctor({ user: 'lakesync_reader', secretArn }), 'glue-role');
    assert.equal(glue!.status, 'FAIL');
    assert.match(glue!.problem!, new RegExp(`secretsmanager:GetSecretValue on ${secretArn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('direct-source: a missing secret fails with how to create it', async () => {
    await buildAccount({ secret: 'none' });
    const failed = lines(await doctor({ user: 'lakesync_reader', secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:gone-AbCdEf` }), DIRECT_SOURCE).filter((r) => r.status === 'FAIL');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.match(failed[0]!.problem!, /secret arn:aws:secretsmanager:.*gone-AbCdEf \(source\.catalog\.secretArn\) does not exist/);
    assert.match(failed[0]!.fix!, /username.*password/);
  });

  test('direct-source: a secret scheduled for deletion fails with restore-secret', async () => {
    const { secretArn } = await buildAccount({ secret: 'deleted' });
    const failed = lines(await doctor({ user: 'lakesync_reader', secretArn }), DIRECT_SOURCE).filter((r) => r.status === 'FAIL');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.match(failed[0]!.problem!, /scheduled for deletion/);
    assert.match(failed[0]!.fix!, /aws secretsmanager restore-secret --secret-id arn:/);
  });

  test('direct-source: a secret under a customer managed key the Glue role may not use fails', async () => {
    const { secretArn } = await buildAccount({ secret: 'customer-key' });
    const failed = lines(await doctor({ user: 'lakesync_reader', secretArn }), DIRECT_SOURCE).filter((r) => r.status === 'FAIL');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.match(failed[0]!.problem!, /encrypted with KMS key arn:aws:kms:.*which the Glue job role \S+ may not use: kms:Decrypt/);
  });

  test('direct-source: a secret under a customer managed key the worker may not use fails, naming the worker and kms:Decrypt', async () => {
    // The worker reads the catalog with the secret's password (GetSecretValue), and Secrets Manager decrypts
    // it with the caller's permission on the key: without kms:Decrypt the first cycle would fail on it.
    const { secretArn } = await buildAccount({ secret: 'customer-key' });
    const c = clientsOnMoto();
    const allow = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
    await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-glue', PolicyName: 'secret-key', PolicyDocument: allow({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }) }));
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const worker = (await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-worker', AssumeRolePolicyDocument: trust }))).Role!.Arn!;
    await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'catalog', PolicyDocument: allow({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn }) }));
    for (const client of Object.values(c)) client.destroy();
    const settings = doctorSettings('shop', sourceSchema.parse(rawSource({ user: 'lakesync_reader', secretArn }, moto.endpoint)));
    const clients = createDoctorClients(settings);
    try {
      const ctx: DoctorContext = {
        clients,
        settings,
        simulator: new PermissionSimulator(clients.iam, true, settings.region),
        missingRoles: new Set(),
        caller: { account: ACCOUNT, arn: worker, principalArn: worker },
      };
      const failed = (await checkDirectSource(ctx)).filter((r) => r.status === 'FAIL');
      assert.equal(failed.length, 1, JSON.stringify(failed));
      assert.match(failed[0]!.problem!, /encrypted with KMS key arn:aws:kms:\S+, which the worker \(arn:aws:iam::\d+:role\/lakesync-worker\) may not use: kms:Decrypt/);
      assert.match(failed[0]!.fix!, /kms:Decrypt/);

      // Allowed, it passes (the connection alone is left: moto lacks GetConnection).
      const c2 = clientsOnMoto();
      await c2.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'secret-key', PolicyDocument: allow({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }) }));
      for (const client of Object.values(c2)) client.destroy();
      const again = await checkDirectSource({ ...ctx, simulator: new PermissionSimulator(clients.iam, true, settings.region) });
      assert.deepEqual(again.filter((r) => r.status === 'FAIL'), [], JSON.stringify(again));
    } finally {
      destroyDoctorClients(clients);
    }
  });

  test('direct-source: iamAuth on an instance without IAM database authentication fails; enabled it passes, and the role may rds-db:connect as the user', async () => {
    await buildAccount({ iamAuthEnabled: false });
    const failed = lines(await doctor({ user: 'lakesync_iam', iamAuth: true }), DIRECT_SOURCE).filter((r) => r.status === 'FAIL');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.match(failed[0]!.problem!, /IAM database authentication is disabled on instance shop-db/);
    assert.match(failed[0]!.fix!, /modify-db-instance --db-instance-identifier shop-db --enable-iam-database-authentication.*GRANT rds_iam TO lakesync_iam/);

    await moto.reset();
    await buildAccount({ iamAuthEnabled: true });
    const results = await doctor({ user: 'lakesync_iam', iamAuth: true });
    assert.deepEqual(lines(results, DIRECT_SOURCE).filter((r) => r.status === 'FAIL'), []);
    assert.deepEqual(lines(results, 'glue-role'), [{ check: 'glue-role', status: 'ok' }], JSON.stringify(results, null, 2));

    await moto.reset();
    await buildAccount({ omit: ['SourceIamAuth'] });
    const [glue] = lines(await doctor({ user: 'lakesync_iam', iamAuth: true }), 'glue-role');
    assert.equal(glue!.status, 'FAIL');
    // The RDS check found the instance's resource id: the simulated resource names it.
    assert.match(glue!.problem!, /rds-db:connect on arn:aws:rds-db:us-east-2:123456789012:dbuser:db-[A-Z0-9]+\/lakesync_iam/);
  });

  test('direct-source with sslmode verify-full: the CA bundle in S3 passes; the Glue role may read exactly it', async () => {
    const { secretArn } = await buildAccount({ rootCert: true });
    const results = await doctor({ secretArn, sslmode: 'verify-full', sslRootCert: ROOT_CERT });
    assert.deepEqual(lines(results, DIRECT_SOURCE).filter((r) => r.status === 'FAIL'), [], JSON.stringify(results, null, 2));
    assert.deepEqual(lines(results, 'glue-role'), [{ check: 'glue-role', status: 'ok' }], JSON.stringify(results, null, 2));
  });

  test('direct-source: a CA bundle missing from S3 fails, naming the URI and how to upload the RDS bundle', async () => {
    const { secretArn } = await buildAccount({ rootCert: false });
    const failed = lines(await doctor({ secretArn, sslmode: 'verify-full', sslRootCert: ROOT_CERT }), DIRECT_SOURCE).filter((r) => r.status === 'FAIL');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.match(failed[0]!.problem!, /the CA bundle s3:\/\/shop-certs\/rds\/global-bundle\.pem \(source\.catalog\.sslRootCert\) does not exist/);
    assert.match(failed[0]!.fix!, /truststore\.pki\.rds\.amazonaws\.com\/global\/global-bundle\.pem.*aws s3 cp global-bundle\.pem s3:\/\/shop-certs\/rds\/global-bundle\.pem/);
  });

  test('glue-role: a Glue role that may not read the CA bundle fails, naming s3:GetObject on it', async () => {
    const { secretArn } = await buildAccount({ rootCert: true, omit: ['SourceRootCert'] });
    const [glue] = lines(await doctor({ secretArn, sslmode: 'verify-full', sslRootCert: ROOT_CERT }), 'glue-role');
    assert.equal(glue!.status, 'FAIL');
    assert.match(glue!.problem!, /s3:GetObject on arn:aws:s3:::shop-certs\/rds\/global-bundle\.pem/);
  });
});

describe('doctor on moto: a source catalog without direct tables (the worker reads it for primary keys)', () => {
  const allow = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

  async function catalogOnly(secretArn: string, workerPolicy: string): Promise<CheckResult[]> {
    const c = clientsOnMoto();
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const worker = (await c.iam.send(new CreateRoleCommand({ RoleName: 'lakesync-worker', AssumeRolePolicyDocument: trust }))).Role!.Arn!;
    await c.iam.send(new PutRolePolicyCommand({ RoleName: 'lakesync-worker', PolicyName: 'catalog', PolicyDocument: workerPolicy }));
    for (const client of Object.values(c)) client.destroy();
    const settings = doctorSettings('shop', sourceSchema.parse({ ...rawSource({ user: 'lakesync_reader', secretArn }, moto.endpoint), tables: { 'public.orders': {} } }));
    assert.equal(settings.direct, undefined);
    const clients = createDoctorClients(settings);
    try {
      const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, true, settings.region), missingRoles: new Set(), caller: { account: ACCOUNT, arn: worker, principalArn: worker } };
      return await checkSourceCatalog(ctx);
    } finally {
      destroyDoctorClients(clients);
    }
  }

  test('source-catalog: a secret under a customer managed key the worker may not use fails; allowed, it passes', async () => {
    const { secretArn } = await buildAccount({ secret: 'customer-key' });
    const failed = (await catalogOnly(secretArn, allow({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn }))).filter((r) => r.status !== 'ok');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.equal(failed[0]!.check, SOURCE_CATALOG);
    assert.equal(failed[0]!.status, 'FAIL');
    assert.match(failed[0]!.problem!, /which the worker \(arn:aws:iam::\d+:role\/lakesync-worker\) may not use: kms:Decrypt/);
    await moto.reset();
    const again = await buildAccount({ secret: 'customer-key' });
    const passed = await catalogOnly(again.secretArn, allow({ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'kms:Decrypt'], Resource: '*' }));
    assert.deepEqual(passed, [{ check: SOURCE_CATALOG, status: 'ok' }]);
  });

  test('source-catalog: a missing secret fails with how to create it', async () => {
    await buildAccount({ secret: 'none' });
    const gone = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:gone-AbCdEf`;
    const [line] = await catalogOnly(gone, allow({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }));
    assert.equal(line!.status, 'FAIL');
    assert.match(line!.problem!, /gone-AbCdEf \(source\.catalog\.secretArn\) does not exist/);
  });
});

describe('direct-source: the Glue connection (moto lacks GetConnection: aws-sdk-client-mock)', () => {
  const awsError = (name: string, status: number) => Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode: status }, $fault: 'client' });

  function context() {
    const settings = doctorSettings('shop', sourceSchema.parse(rawSource({ user: 'lakesync_reader', secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:shop-catalog-AbCdEf` })));
    const clients = createDoctorClients(settings);
    const mocks = { glue: mockClient(clients.glue), secrets: mockClient(clients.secrets) };
    mocks.secrets.on(DescribeSecretCommand).resolves({ ARN: 'arn', Name: 'shop-catalog' });
    const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, false, settings.region), missingRoles: new Set() };
    return { ctx, mocks, done: () => destroyDoctorClients(clients) };
  }

  test('a NETWORK connection with a subnet and security groups passes; it is read with the password hidden', async () => {
    const { ctx, mocks, done } = context();
    mocks.glue.on(GetConnectionCommand).resolves({ Connection: { Name: 'shop-vpc', ConnectionType: 'NETWORK', PhysicalConnectionRequirements: { SubnetId: 'subnet-1', SecurityGroupIdList: ['sg-1'] } } });
    assert.deepEqual(await checkDirectSource(ctx), [{ check: DIRECT_SOURCE, status: 'ok' }]);
    assert.deepEqual(mocks.glue.commandCalls(GetConnectionCommand)[0]!.args[0].input, { Name: 'shop-vpc', HidePassword: true });
    done();
  });

  test('a missing connection fails with the create-connection command', async () => {
    const { ctx, mocks, done } = context();
    mocks.glue.on(GetConnectionCommand).rejects(awsError('EntityNotFoundException', 400));
    const [line] = await checkDirectSource(ctx);
    assert.equal(line!.status, 'FAIL');
    assert.match(line!.problem!, /Glue connection shop-vpc \(source\.catalog\.glueConnection\) does not exist in us-east-2/);
    assert.match(line!.fix!, /aws glue create-connection --region us-east-2 --connection-input .*"ConnectionType":"NETWORK"/);
    done();
  });

  test('a connection without a subnet or security groups fails: the job would not run in the VPC', async () => {
    const { ctx, mocks, done } = context();
    mocks.glue.on(GetConnectionCommand).resolves({ Connection: { Name: 'shop-vpc', ConnectionType: 'JDBC', PhysicalConnectionRequirements: { SecurityGroupIdList: [] } } });
    const [line] = await checkDirectSource(ctx);
    assert.equal(line!.status, 'FAIL');
    assert.match(line!.problem!, /Glue connection shop-vpc has no subnet and no security groups: the load job would not run in the database's VPC/);
    assert.match(line!.fix!, /PhysicalConnectionRequirements/);
    done();
  });

  test('a connection of another type warns; access denied names glue:GetConnection', async () => {
    const first = context();
    first.mocks.glue.on(GetConnectionCommand).resolves({ Connection: { Name: 'shop-vpc', ConnectionType: 'KAFKA', PhysicalConnectionRequirements: { SubnetId: 'subnet-1', SecurityGroupIdList: ['sg-1'] } } });
    const [warned] = await checkDirectSource(first.ctx);
    assert.equal(warned!.status, 'warn');
    assert.match(warned!.problem!, /type KAFKA/);
    first.done();

    const second = context();
    second.mocks.glue.on(GetConnectionCommand).rejects(awsError('AccessDeniedException', 400));
    const [denied] = await checkDirectSource(second.ctx);
    assert.equal(denied!.status, 'FAIL');
    assert.match(denied!.fix!, /lacks glue:GetConnection/);
    second.done();
  });

  test('a source without direct tables gets no direct-source line', async () => {
    const settings = doctorSettings('shop', sourceSchema.parse({ ...rawSource({ user: 'u', secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x` }), tables: {} }));
    const clients = createDoctorClients(settings);
    const glue = mockClient(clients.glue);
    const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, false, settings.region), missingRoles: new Set() };
    assert.deepEqual(await checkDirectSource(ctx), []);
    assert.equal(glue.calls().length, 0);
    destroyDoctorClients(clients);
  });
});

test('the local policy evaluation honours ForAllValues/ForAnyValue (the ENI tag condition of the Glue role)', () => {
  const doc = parsePolicyDocument(
    JSON.stringify({
      Statement: [
        { Effect: 'Allow', Action: 'ec2:CreateTags', Resource: 'arn:aws:ec2:*:*:network-interface/*', Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['aws-glue-service-resource'] } } },
        { Effect: 'Allow', Action: 'ec2:DeleteTags', Resource: '*', Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': ['aws-glue-*'] } } },
      ],
    }),
    'test policy',
  );
  const eni = 'arn:aws:ec2:us-east-2:123456789012:network-interface/eni-1';
  const decide = (action: string, keys?: string[]) => evaluatePolicies([doc], { action, resource: eni, ...(keys ? { context: { 'aws:TagKeys': keys } } : {}) });
  assert.deepEqual(decide('ec2:CreateTags', ['aws-glue-service-resource']), { decision: 'allowed', uncertain: false });
  assert.equal(decide('ec2:CreateTags', ['aws-glue-service-resource', 'owner']).decision, 'implicitDeny');
  assert.equal(decide('ec2:CreateTags').decision, 'allowed');
  assert.equal(decide('ec2:DeleteTags', ['owner', 'aws-glue-x']).decision, 'allowed');
  assert.equal(decide('ec2:DeleteTags', ['owner']).decision, 'implicitDeny');
  assert.equal(decide('ec2:DeleteTags').decision, 'implicitDeny');
});
