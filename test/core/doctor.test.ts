/**
 * The doctor's policy reading (URL-encoded documents, trust, key policies, the local evaluator),
 * the required-action lists, and its promise to make read-only calls only.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DOCTOR_CALLS, GLUE_JOB_ACTIONS, glueJobActions, resolveResource, type ResourceNames } from '../../src/aws/required-actions';
import { evaluatePolicies, keyPolicyAllows, parsePolicyDocument, PolicyParseError, trustedServices } from '../../src/doctor/policy';
import { roleNameOf } from '../../src/doctor/simulate';
import { formatResult } from '../../src/cli/commands/doctor';
import { repoRoot } from '../../src/toolchain';

const EXPORT_TRUST = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'export.rds.amazonaws.com' }, Action: 'sts:AssumeRole' }] };

test('a policy document is read URL-encoded (as IAM returns it) or as plain JSON', () => {
  const encoded = encodeURIComponent(JSON.stringify(EXPORT_TRUST));
  assert.ok(encoded.startsWith('%7B'));
  assert.deepEqual(parsePolicyDocument(encoded, 'trust'), parsePolicyDocument(JSON.stringify(EXPORT_TRUST), 'trust'));
  assert.deepEqual(parsePolicyDocument(encoded, 'trust').Statement[0], { Effect: 'Allow', Principal: { Service: 'export.rds.amazonaws.com' }, Action: ['sts:AssumeRole'] });
  // A single statement object, not a list; a plain document whose text holds a % sign.
  const single = parsePolicyDocument(JSON.stringify({ Statement: { Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::a%b' } }), 'p');
  assert.deepEqual(single.Statement, [{ Effect: 'Deny', Action: ['s3:*'], Resource: ['arn:aws:s3:::a%b'] }]);
});

test('unreadable policy documents are refused with a message naming the document', () => {
  assert.throws(() => parsePolicyDocument(undefined, 'the trust policy of role x'), /the trust policy of role x is empty/);
  assert.throws(() => parsePolicyDocument('%E0%A4%A', 'doc'), PolicyParseError);
  assert.throws(() => parsePolicyDocument('{"Statement": [', 'doc'), /doc is not valid JSON/);
  assert.throws(() => parsePolicyDocument('{"Version": "2012-10-17"}', 'doc'), /doc has no Statement/);
  assert.throws(() => parsePolicyDocument('{"Statement": [{"Effect": "Maybe"}]}', 'doc'), /doc, statement 1 has Effect "Maybe"/);
});

test('trustedServices: the services allowed sts:AssumeRole, less those denied', () => {
  assert.deepEqual(trustedServices(parsePolicyDocument(JSON.stringify(EXPORT_TRUST), 't')), ['export.rds.amazonaws.com']);
  const mixed = {
    Statement: [
      { Effect: 'Allow', Principal: { Service: ['glue.amazonaws.com', 'export.rds.amazonaws.com'] }, Action: ['sts:AssumeRole', 'sts:TagSession'] },
      { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRoleWithWebIdentity' },
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' },
      { Effect: 'Deny', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:*' },
    ],
  };
  assert.deepEqual(trustedServices(parsePolicyDocument(JSON.stringify(mixed), 't')), ['export.rds.amazonaws.com']);
});

const doc = (...statements: object[]) => parsePolicyDocument(JSON.stringify({ Version: '2012-10-17', Statement: statements }), 'test policy');

test('evaluatePolicies: an Allow with matching action and resource allows; nothing else does', () => {
  const p = doc({ Effect: 'Allow', Action: ['s3:PutObject*', 's3:get?bject'], Resource: 'arn:aws:s3:::exports/lakesync/*' });
  assert.equal(evaluatePolicies([p], { action: 's3:PutObject', resource: 'arn:aws:s3:::exports/lakesync/*' }).decision, 'allowed');
  // Actions are case-insensitive, resources are not.
  assert.equal(evaluatePolicies([p], { action: 'S3:GETOBJECT', resource: 'arn:aws:s3:::exports/lakesync/a' }).decision, 'allowed');
  assert.equal(evaluatePolicies([p], { action: 's3:PutObject', resource: 'arn:aws:s3:::Exports/lakesync/a' }).decision, 'implicitDeny');
  assert.equal(evaluatePolicies([p], { action: 's3:DeleteObject', resource: 'arn:aws:s3:::exports/lakesync/a' }).decision, 'implicitDeny');
  assert.equal(evaluatePolicies([p], { action: 's3:PutObject', resource: 'arn:aws:s3:::exports/other/a' }).decision, 'implicitDeny');
  assert.equal(evaluatePolicies([], { action: 's3:PutObject', resource: '*' }).decision, 'implicitDeny');
});

test('evaluatePolicies: an explicit Deny wins over an Allow in another policy; NotAction and NotResource invert', () => {
  const allowAll = doc({ Effect: 'Allow', Action: '*', Resource: '*' });
  const denyWrites = doc({ Effect: 'Deny', NotAction: ['s3:Get*', 's3:List*'], NotResource: 'arn:aws:s3:::scratch/*' });
  assert.equal(evaluatePolicies([allowAll, denyWrites], { action: 's3:PutObject', resource: 'arn:aws:s3:::lake/x' }).decision, 'explicitDeny');
  assert.equal(evaluatePolicies([allowAll, denyWrites], { action: 's3:GetObject', resource: 'arn:aws:s3:::lake/x' }).decision, 'allowed');
  assert.equal(evaluatePolicies([allowAll, denyWrites], { action: 's3:PutObject', resource: 'arn:aws:s3:::scratch/x' }).decision, 'allowed');
});

test('evaluatePolicies: String conditions on the given context, a missing key, IfExists, and operators it cannot decide', () => {
  const pass = doc({ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*', Condition: { StringEquals: { 'iam:PassedToService': ['glue.amazonaws.com', 'export.rds.amazonaws.com'] } } });
  const to = (service?: string) => ({ action: 'iam:PassRole', resource: 'arn:aws:iam::1:role/r', ...(service ? { context: { 'iam:PassedToService': [service] } } : {}) });
  assert.equal(evaluatePolicies([pass], to('export.rds.amazonaws.com')).decision, 'allowed');
  assert.equal(evaluatePolicies([pass], to('ec2.amazonaws.com')).decision, 'implicitDeny');
  // A missing key fails a positive operator; condition keys are case-insensitive.
  assert.equal(evaluatePolicies([pass], to()).decision, 'implicitDeny');
  assert.equal(evaluatePolicies([pass], { ...to(), context: { 'IAM:passedtoservice': ['glue.amazonaws.com'] } }).decision, 'allowed');
  const ifExists = doc({ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*', Condition: { StringLikeIfExists: { 'iam:PassedToService': '*.rds.amazonaws.com' } } });
  assert.equal(evaluatePolicies([ifExists], to()).decision, 'allowed');
  assert.equal(evaluatePolicies([ifExists], to('export.rds.amazonaws.com')).decision, 'allowed');
  assert.equal(evaluatePolicies([ifExists], to('glue.amazonaws.com')).decision, 'implicitDeny');
  const negated = doc({ Effect: 'Deny', Action: 'iam:PassRole', Resource: '*', Condition: { StringNotEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } } });
  assert.equal(evaluatePolicies([pass, negated], to('export.rds.amazonaws.com')).decision, 'explicitDeny');
  assert.equal(evaluatePolicies([pass, negated], to('glue.amazonaws.com')).decision, 'allowed');
  const ip = doc({ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } });
  assert.deepEqual(evaluatePolicies([ip], to('glue.amazonaws.com')), { decision: 'implicitDeny', uncertain: true });
});

test('keyPolicyAllows: the role itself, the account (IAM decides), a Deny, or nobody', () => {
  const role = 'arn:aws:iam::123456789012:role/lakesync-export';
  const rootOnly = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' });
  assert.equal(keyPolicyAllows(rootOnly, role, '123456789012', 'aws', 'kms:Encrypt'), 'account');
  const accountId = doc({ Effect: 'Allow', Principal: { AWS: '123456789012' }, Action: 'kms:*', Resource: '*' });
  assert.equal(keyPolicyAllows(accountId, role, '123456789012', 'aws', 'kms:Encrypt'), 'account');
  const direct = doc({ Effect: 'Allow', Principal: { AWS: [role] }, Action: ['kms:Encrypt', 'kms:GenerateDataKey*'], Resource: '*' });
  assert.equal(keyPolicyAllows(direct, role, '123456789012', 'aws', 'kms:GenerateDataKeyWithoutPlaintext'), 'principal');
  assert.equal(keyPolicyAllows(direct, role, '123456789012', 'aws', 'kms:CreateGrant'), 'none');
  assert.equal(keyPolicyAllows(direct, 'arn:aws:iam::123456789012:role/other', '123456789012', 'aws', 'kms:Encrypt'), 'none');
  const otherAccount = doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'kms:*', Resource: '*' });
  assert.equal(keyPolicyAllows(otherAccount, role, '123456789012', 'aws', 'kms:Encrypt'), 'none');
  const denied = doc(
    { Effect: 'Allow', Principal: { AWS: role }, Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', Principal: { AWS: role }, Action: 'kms:Decrypt', Resource: '*' },
  );
  assert.equal(keyPolicyAllows(denied, role, '123456789012', 'aws', 'kms:Decrypt'), 'denied');
  assert.equal(keyPolicyAllows(denied, role, '123456789012', 'aws', 'kms:Encrypt'), 'principal');
});

test('keyPolicyAllows: a conditional Deny (e.g. outside the organization) does not deny a principal whose request context is unknown', () => {
  const role = 'arn:aws:iam::123456789012:role/lakesync-export';
  const hardened = doc(
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } },
    { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotLike: { 'kms:ViaService': 's3.*.amazonaws.com' } } },
  );
  assert.equal(keyPolicyAllows(hardened, role, '123456789012', 'aws', 'kms:Encrypt'), 'account');
  assert.equal(keyPolicyAllows(hardened, role, '123456789012', 'aws', 'kms:Decrypt'), 'account');
  const conditionalAllow = doc({ Effect: 'Allow', Principal: { AWS: role }, Action: 'kms:*', Resource: '*', Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1' } } });
  assert.equal(keyPolicyAllows(conditionalAllow, role, '123456789012', 'aws', 'kms:Encrypt'), 'none');
});

test('keyPolicyAllows: a Deny with NotPrincipal refuses every principal it does not list', () => {
  const role = 'arn:aws:iam::123456789012:role/lakesync-export';
  const onlyAdmins = (...exempt: string[]) =>
    doc(
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', NotPrincipal: { AWS: ['arn:aws:iam::123456789012:role/admin', ...exempt] }, Action: 'kms:Decrypt', Resource: '*' },
    );
  assert.equal(keyPolicyAllows(onlyAdmins(), role, '123456789012', 'aws', 'kms:Decrypt'), 'denied');
  assert.equal(keyPolicyAllows(onlyAdmins(), role, '123456789012', 'aws', 'kms:Encrypt'), 'account');
  assert.equal(keyPolicyAllows(onlyAdmins(role), role, '123456789012', 'aws', 'kms:Decrypt'), 'account');
});

test('roleNameOf: the last part of a role ARN, with or without a path', () => {
  assert.equal(roleNameOf('arn:aws:iam::123456789012:role/lakesync-export'), 'lakesync-export');
  assert.equal(roleNameOf('arn:aws-cn:iam::123456789012:role/service/team/lakesync-glue'), 'lakesync-glue');
  assert.equal(roleNameOf('arn:aws:iam::123456789012:user/alice'), undefined);
});

const NAMES: ResourceNames = {
  partition: 'aws-cn',
  region: 'cn-north-1',
  accountId: '123456789012',
  exportBucket: 'exp',
  exportPrefix: 'lakesync/exports',
  scriptBucket: 'scripts',
  scriptPrefix: 'lakesync/glue',
  resultPrefix: '',
  tableBucket: 'lake',
  namespace: 'shop',
  keyId: '1234abcd',
};

test('resolveResource fills the placeholders, the partition, and leaves no double slash for an empty prefix', () => {
  assert.equal(resolveResource('arn:aws:kms:REGION:ACCOUNT:key/KEY_ID', NAMES), 'arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd');
  assert.equal(resolveResource('arn:aws:s3:::SCRIPT_BUCKET/RESULT_PREFIX/*', NAMES), 'arn:aws-cn:s3:::scripts/*');
  assert.equal(resolveResource('arn:aws:glue:REGION:ACCOUNT:table/s3tablescatalog/TABLE_BUCKET/NAMESPACE/*', NAMES), 'arn:aws-cn:glue:cn-north-1:123456789012:table/s3tablescatalog/lake/shop/*');
});

test('GLUE_JOB_ACTIONS holds every action the Glue job uses; the modes split S3 Tables from Lake Formation', () => {
  const all = new Set(GLUE_JOB_ACTIONS.map((a) => a.action));
  const s3tables = ['GetTableBucket', 'GetNamespace', 'GetTable', 'CreateTable', 'GetTableMetadataLocation', 'UpdateTableMetadataLocation', 'GetTableData', 'PutTableData'].map((a) => `s3tables:${a}`);
  for (const action of [...s3tables, 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'kms:Decrypt', 'glue:GetCatalog', 'glue:GetDatabase', 'glue:GetTable', 'lakeformation:GetDataAccess']) {
    assert.ok(all.has(action), `GLUE_JOB_ACTIONS lacks ${action}`);
  }
  const iam = new Set(glueJobActions('iam').map((a) => a.action));
  const lf = new Set(glueJobActions('lakeformation').map((a) => a.action));
  for (const action of s3tables) assert.ok(iam.has(action) && !lf.has(action), action);
  assert.ok(lf.has('lakeformation:GetDataAccess') && !iam.has('lakeformation:GetDataAccess'));
  for (const a of GLUE_JOB_ACTIONS) for (const r of a.resources) assert.ok(r === '*' || r.startsWith('arn:aws:'), `${a.action}: ${r}`);
});

/** Every SDK command the doctor's modules import, as "Service Operation". */
function doctorCommands(): string[] {
  const root = join(repoRoot(), 'src', 'doctor');
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
  const service: Record<string, string> = { sts: 'STS', iam: 'IAM', kms: 'KMS', rds: 'RDS', s3: 'S3', s3tables: 'S3Tables', glue: 'Glue', lakeformation: 'LakeFormation', athena: 'Athena', 'secrets-manager': 'SecretsManager', dynamodb: 'DynamoDB' };
  const found: string[] = [];
  for (const file of files(root)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s*{([^}]*)}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      for (const name of match[1]!.split(',').map((n) => n.trim())) {
        if (name.endsWith('Command')) found.push(`${service[match[2]!] ?? match[2]} ${name.slice(0, -'Command'.length)}`);
      }
    }
  }
  return [...new Set(found)].sort();
}

test('the doctor sends only the read-only calls DOCTOR_CALLS lists, and its doc comment names each action', () => {
  const sent = doctorCommands();
  assert.ok(sent.includes('IAM SimulatePrincipalPolicy') && sent.includes('Athena GetWorkGroup'), sent.join(', '));
  assert.deepEqual(sent, DOCTOR_CALLS.map((c) => c.call).sort());
  for (const { call, action } of DOCTOR_CALLS) {
    const operation = call.split(' ')[1]!;
    assert.match(operation, /^(Get|List|Describe|Head|Simulate)/, `${call} is not a read`);
    assert.match(action, /^[a-z0-9]+:(Get|List|Describe|Simulate)/, `${action} is not a read-only action`);
  }
  const comment = readFileSync(join(repoRoot(), 'src', 'doctor', 'index.ts'), 'utf8');
  for (const { action } of DOCTOR_CALLS) assert.ok(comment.includes(action), `src/doctor/index.ts does not list ${action}`);
});

test('a report line: the mark, the check, and for a failure what is wrong and the fix', () => {
  assert.equal(formatResult({ check: 'credentials', status: 'ok' }), 'ok   credentials');
  assert.equal(formatResult({ check: 'kms-key', status: 'FAIL', problem: 'key k is Disabled', fix: 'aws kms enable-key --key-id k' }), 'FAIL kms-key: key k is Disabled (fix: aws kms enable-key --key-id k)');
  assert.equal(formatResult({ check: 'table-bucket', status: 'warn', problem: 'created on the first sync' }), 'warn table-bucket: created on the first sync');
});
