/**
 * The direct-load statements of infra/lakesync.yaml against GLUE_JOB_DIRECT_ACTIONS, evaluated
 * with the doctor's policy evaluator (conditions included): present with GlueConnectionName and
 * the login parameter they need, absent otherwise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTemplate, templatePolicy, valuesContext } from '../../scripts/policy-template';
import { glueJobDirectActions, type RequiredAction, resolveResource, type ResourceNames } from '../../src/aws/required-actions';
import { evaluatePolicies, parsePolicyDocument, type PolicyDocument } from '../../src/doctor/policy';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:shop-catalog-AbCdEf`;
const NAMES: ResourceNames = {
  partition: 'aws',
  region: REGION,
  accountId: ACCOUNT,
  exportBucket: 'shop-exports',
  exportPrefix: 'lakesync/exports',
  scriptBucket: 'lakesync-artifacts',
  scriptPrefix: 'lakesync/glue',
  resultPrefix: 'lakesync/results',
  tableBucket: 'shop-lake',
  namespace: 'shop',
  keyId: 'k-1',
  glueConnection: 'shop-vpc',
  catalogSecretArn: SECRET,
  dbUser: 'lakesync_reader',
  dbResourceId: 'db-ABCDEFGHIJKL',
};

function policy(name: 'glue' | 'doctor' | 'worker', parameters: Record<string, string>): PolicyDocument {
  const template = loadTemplate();
  const ctx = valuesContext(template, {
    parameters: { DBInstanceId: 'shop-db', TableBucketName: NAMES.tableBucket, ExportBucketName: NAMES.exportBucket, ...parameters },
    refs: { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::Partition': 'aws', ArtifactBucket: NAMES.scriptBucket },
    getAtts: { 'ExportKey.Arn': `arn:aws:kms:${REGION}:${ACCOUNT}:key/k-1`, 'ExportRole.Arn': `arn:aws:iam::${ACCOUNT}:role/lakesync-export`, 'GlueRole.Arn': `arn:aws:iam::${ACCOUNT}:role/lakesync-glue` },
  });
  return parsePolicyDocument(JSON.stringify(templatePolicy(template, name, ctx)), `${name} policy`);
}

/** The required actions the policy does not allow, each on each resource, with its condition keys. */
function denied(doc: PolicyDocument, required: readonly RequiredAction[]): string[] {
  return required.flatMap((r) =>
    r.resources
      .map((t) => resolveResource(t, NAMES))
      .filter((resource) => evaluatePolicies([doc], { action: r.action, resource, ...(r.context ? { context: Object.fromEntries(Object.entries(r.context).map(([k, v]) => [k, [...v]])) } : {}) }).decision !== 'allowed')
      .map((resource) => `${r.action} on ${resource}`),
  );
}

const allows = (doc: PolicyDocument, action: string, resource: string, context?: Record<string, string[]>) => evaluatePolicies([doc], { action, resource, ...(context ? { context } : {}) }).decision === 'allowed';

test('with GlueConnectionName and CatalogSecretArn the Glue role holds every direct action of secret logins, and no IAM login', () => {
  const glue = policy('glue', { GlueConnectionName: 'shop-vpc', CatalogSecretArn: SECRET });
  assert.deepEqual(denied(glue, glueJobDirectActions('secret')), []);
  assert.ok(!allows(glue, 'rds-db:connect', `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-ABCDEFGHIJKL/lakesync_reader`));
  // The network interface tags are allowed only for Glue's own tag key.
  const eni = `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-1`;
  assert.ok(allows(glue, 'ec2:CreateTags', eni, { 'aws:TagKeys': ['aws-glue-service-resource'] }));
  assert.ok(!allows(glue, 'ec2:CreateTags', eni, { 'aws:TagKeys': ['owner'] }));
  assert.ok(!allows(glue, 'glue:GetConnection', `arn:aws:glue:${REGION}:${ACCOUNT}:connection/other-vpc`), 'the role may read any connection');
});

test('with GlueConnectionName and CatalogDbUser the Glue role may connect as that user and reads no catalog secret', () => {
  const glue = policy('glue', { GlueConnectionName: 'shop-vpc', CatalogDbUser: 'lakesync_reader' });
  assert.deepEqual(denied(glue, glueJobDirectActions('iam')), []);
  assert.ok(!allows(glue, 'secretsmanager:GetSecretValue', SECRET));
  assert.ok(!allows(glue, 'rds-db:connect', `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-ABCDEFGHIJKL/admin`), 'the role may connect as any user');
});

test('without GlueConnectionName the Glue role has no direct statement, even when the catalog secret is given, and the doctor reads only the secret\'s metadata', () => {
  const glue = policy('glue', { CatalogSecretArn: SECRET, CatalogDbUser: 'lakesync_reader' });
  const actions = glue.Statement.flatMap((s) => s.Action ?? []);
  assert.deepEqual(actions.filter((a) => a.startsWith('ec2:') || a === 'glue:GetConnection' || a === 'rds-db:connect'), []);
  assert.ok(!allows(glue, 'secretsmanager:GetSecretValue', SECRET), 'the Glue role reads the catalog secret without direct tables');
  // The doctor still checks the catalog secret the worker reads (check source-catalog), never the connection.
  const doctor = policy('doctor', { CatalogSecretArn: SECRET });
  assert.deepEqual(doctor.Statement.flatMap((s) => s.Action ?? []).filter((a) => a === 'glue:GetConnection'), []);
  assert.ok(allows(doctor, 'secretsmanager:DescribeSecret', SECRET), 'the doctor reads the catalog secret\'s metadata');
  assert.ok(!allows(doctor, 'secretsmanager:GetSecretValue', SECRET));
});

test("the doctor policy reads the connection and the secret's metadata, never its value", () => {
  const doctor = policy('doctor', { GlueConnectionName: 'shop-vpc', CatalogSecretArn: SECRET });
  assert.ok(allows(doctor, 'glue:GetConnection', `arn:aws:glue:${REGION}:${ACCOUNT}:connection/shop-vpc`));
  assert.ok(allows(doctor, 'glue:GetConnection', `arn:aws:glue:${REGION}:${ACCOUNT}:catalog`));
  assert.ok(allows(doctor, 'secretsmanager:DescribeSecret', SECRET));
  assert.ok(!allows(doctor, 'secretsmanager:GetSecretValue', SECRET));
});

test('with SslRootCertObject the Glue role may read exactly the CA bundle; without it, or without direct tables, no object of it', () => {
  const bundle = 'shop-certs/rds/global-bundle.pem';
  const names = { ...NAMES, sslRootCert: bundle };
  const glue = policy('glue', { GlueConnectionName: 'shop-vpc', CatalogSecretArn: SECRET, SslRootCertObject: bundle });
  const required = glueJobDirectActions('secret', true);
  assert.ok(required.some((r) => r.action === 's3:GetObject' && r.resources.includes('arn:aws:s3:::SSL_ROOT_CERT')));
  assert.deepEqual(required.flatMap((r) => r.resources.map((t) => resolveResource(t, names))).filter((arn) => arn.startsWith('arn:aws:s3:::')), [`arn:aws:s3:::${bundle}`]);
  assert.ok(allows(glue, 's3:GetObject', `arn:aws:s3:::${bundle}`));
  assert.ok(!allows(glue, 's3:GetObject', 'arn:aws:s3:::shop-certs/rds/other.pem'), 'the role may read other objects of the bundle bucket');
  assert.ok(!allows(policy('glue', { GlueConnectionName: 'shop-vpc', CatalogSecretArn: SECRET }), 's3:GetObject', `arn:aws:s3:::${bundle}`));
  assert.ok(!allows(policy('glue', { SslRootCertObject: bundle }), 's3:GetObject', `arn:aws:s3:::${bundle}`), 'the bundle is readable without direct tables');
  assert.ok(!glueJobDirectActions('secret').some((r) => r.resources.includes('arn:aws:s3:::SSL_ROOT_CERT')), 'the bundle is required without sslRootCert');
});

test('resolveResource refuses a placeholder the source does not give, rather than writing "undefined" into an ARN', () => {
  const { glueConnection: _unused, ...withoutConnection } = NAMES;
  assert.throws(() => resolveResource('arn:aws:glue:REGION:ACCOUNT:connection/GLUE_CONNECTION', withoutConnection), /names GLUE_CONNECTION/);
  assert.equal(resolveResource('CATALOG_SECRET_ARN', NAMES), SECRET);
  assert.equal(resolveResource('arn:aws:rds-db:REGION:ACCOUNT:dbuser:DB_RESOURCE_ID/DB_USER', { ...NAMES, partition: 'aws-cn' }), `arn:aws-cn:rds-db:${REGION}:${ACCOUNT}:dbuser:db-ABCDEFGHIJKL/lakesync_reader`);
});
