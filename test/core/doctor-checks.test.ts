/**
 * The doctor's checks where moto cannot answer (IAM SimulatePrincipalPolicy, Glue GetCatalog,
 * key policies that name nobody, callers that are not IAM principals), on aws-sdk-client-mock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mockClient } from 'aws-sdk-client-mock';
import { GetWorkGroupCommand } from '@aws-sdk/client-athena';
import { GetCatalogCommand, GetJobCommand } from '@aws-sdk/client-glue';
import { GetRoleCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, type GrantOperation, ListGrantsCommand } from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { doctorSettings } from '../../src/doctor';
import { checkAthenaWorkgroup } from '../../src/doctor/checks/athena';
import { checkExportRole, checkExportRolePass } from '../../src/doctor/checks/export';
import { checkGlueConcurrency, checkGlueRole } from '../../src/doctor/checks/glue';
import { checkWorkerPermissions } from '../../src/doctor/checks/worker';
import { checkHashKey } from '../../src/doctor/checks/hash-key';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { checkCredentials } from '../../src/doctor/checks/identity';
import { checkKmsKey } from '../../src/doctor/checks/kms';
import { checkAnalyticsIntegration } from '../../src/doctor/checks/lake';
import { createDoctorClients } from '../../src/doctor/clients';
import { PermissionSimulator } from '../../src/doctor/simulate';
import type { DoctorContext } from '../../src/doctor/types';
import { awsSource, EXPORT_ROLE, GLUE_ROLE } from '../aws/fixtures';

function context(options: { endpoint?: string } = {}) {
  const settings = doctorSettings('shop', awsSource(options.endpoint ? { endpoint: options.endpoint } : {}));
  const clients = createDoctorClients(settings);
  const mocks = { secrets: mockClient(clients.secrets), athena: mockClient(clients.athena), iam: mockClient(clients.iam), kms: mockClient(clients.kms), glue: mockClient(clients.glue), sts: mockClient(clients.sts) };
  const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, Boolean(options.endpoint), settings.region), missingRoles: new Set() };
  return { ctx, mocks };
}

const awsError = (name: string, status: number, message = name) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, $fault: status >= 500 ? 'server' : 'client' });

test('SimulatePrincipalPolicy: per-resource decisions, the context entries, and every page', async () => {
  const { ctx, mocks } = context();
  mocks.iam
    .on(SimulatePrincipalPolicyCommand)
    .resolvesOnce({
      EvaluationResults: [
        {
          EvalActionName: 'glue:GetTable',
          EvalDecision: 'implicitDeny',
          ResourceSpecificResults: [
            { EvalResourceName: 'arn:aws:glue:r:1:catalog', EvalResourceDecision: 'allowed' },
            { EvalResourceName: 'arn:aws:glue:r:1:table/x', EvalResourceDecision: 'implicitDeny', MissingContextValues: ['aws:ResourceTag/team'] },
          ],
        },
      ],
      IsTruncated: true,
      Marker: 'm1',
    })
    .resolvesOnce({ EvaluationResults: [{ EvalActionName: 'glue:GetTable', EvalDecision: 'explicitDeny', EvalResourceName: 'arn:aws:glue:r:1:database/y' }], IsTruncated: false });
  const outcomes = await ctx.simulator.simulate('arn:aws:iam::1:role/r', [{ action: 'glue:GetTable', resources: ['arn:aws:glue:r:1:catalog', 'arn:aws:glue:r:1:table/x', 'arn:aws:glue:r:1:database/y'], context: { 'aws:RequestedRegion': ['r'] } }]);
  assert.deepEqual(
    outcomes.map((o) => [o.resource, o.decision, o.missingContext]),
    [
      ['arn:aws:glue:r:1:catalog', 'allowed', []],
      ['arn:aws:glue:r:1:table/x', 'implicitDeny', ['aws:ResourceTag/team']],
      ['arn:aws:glue:r:1:database/y', 'explicitDeny', []],
    ],
  );
  const calls = mocks.iam.commandCalls(SimulatePrincipalPolicyCommand);
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[0]!.args[0].input.ContextEntries, [{ ContextKeyName: 'aws:RequestedRegion', ContextKeyValues: ['r'], ContextKeyType: 'stringList' }]);
  assert.equal(calls[1]!.args[0].input.Marker, 'm1');
  assert.equal(ctx.simulator.usedLocalEvaluation, false);
});

test('SimulatePrincipalPolicy: actions on the same resources and context share a call (IAM throttles the simulator)', async () => {
  const { ctx, mocks } = context();
  allowAll(mocks);
  const glue = ['glue:GetJob', 'glue:StartJobRun', 'glue:GetJobRun'].map((action) => ({ action, resources: ['arn:aws:glue:r:1:job/j'] }));
  const outcomes = await ctx.simulator.simulate('arn:aws:iam::1:role/r', [...glue, { action: 'iam:PassRole', resources: ['arn:aws:iam::1:role/g'], context: { 'iam:PassedToService': ['glue.amazonaws.com'] } }, { action: 'iam:PassRole', resources: ['arn:aws:iam::1:role/e'] }]);
  assert.deepEqual(outcomes.map((o) => [o.action, o.resource, o.decision]), [
    ['glue:GetJob', 'arn:aws:glue:r:1:job/j', 'allowed'],
    ['glue:StartJobRun', 'arn:aws:glue:r:1:job/j', 'allowed'],
    ['glue:GetJobRun', 'arn:aws:glue:r:1:job/j', 'allowed'],
    ['iam:PassRole', 'arn:aws:iam::1:role/g', 'allowed'],
    ['iam:PassRole', 'arn:aws:iam::1:role/e', 'allowed'],
  ]);
  const calls = mocks.iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
  assert.deepEqual(calls.map((i) => i.ActionNames), [['glue:GetJob', 'glue:StartJobRun', 'glue:GetJobRun'], ['iam:PassRole'], ['iam:PassRole']]);
  // Every call names the region (aws:RequestedRegion), so region-conditioned policies are read as in a real call.
  const region = { ContextKeyName: 'aws:RequestedRegion', ContextKeyValues: ['us-east-2'], ContextKeyType: 'stringList' };
  assert.deepEqual(calls[2]!.ContextEntries, [region]);
  assert.deepEqual(calls[1]!.ContextEntries, [region, { ContextKeyName: 'iam:PassedToService', ContextKeyValues: ['glue.amazonaws.com'], ContextKeyType: 'stringList' }]);
});

test('against AWS (no endpoint override) a failing simulator is an error, never a local guess', async () => {
  const { ctx, mocks } = context();
  mocks.iam.on(SimulatePrincipalPolicyCommand).rejects(awsError('Error', 500, 'XML parse error: <!doctype html><html>'));
  await assert.rejects(ctx.simulator.simulate('arn:aws:iam::1:role/r', [{ action: 's3:GetObject', resources: ['*'] }]), /html/);
  assert.equal(ctx.simulator.usedLocalEvaluation, false);
  mocks.iam.on(SimulatePrincipalPolicyCommand).rejects(awsError('AccessDenied', 403, 'not authorized to perform iam:SimulatePrincipalPolicy'));
  const result = await checkExportRolePass({ ...ctx, caller: { account: '123456789012', arn: 'x', principalArn: 'arn:aws:iam::123456789012:role/worker' } });
  assert.equal(result.status, 'FAIL');
  assert.match(result.fix!, /lacks iam:SimulatePrincipalPolicy/);
});

test("worker-permissions: a caller that may not simulate its own policies gets a warning, not a failure", async () => {
  const { ctx, mocks } = context();
  mocks.iam.on(SimulatePrincipalPolicyCommand).rejects(awsError('AccessDenied', 403, 'User: arn:aws:sts::123456789012:assumed-role/worker/s is not authorized to perform: iam:SimulatePrincipalPolicy'));
  const result = await checkWorkerPermissions({ ...ctx, caller: { account: '123456789012', arn: 'x', principalArn: 'arn:aws:iam::123456789012:role/worker' } });
  assert.equal(result.status, 'warn', JSON.stringify(result));
  assert.match(result.problem!, /not checked: the caller arn:aws:iam::123456789012:role\/worker may not call iam:SimulatePrincipalPolicy/);
});

test('worker-permissions: each action is simulated on its resources, with the PassRole context', async () => {
  const { ctx, mocks } = context();
  allowAll(mocks);
  ctx.key = { arn: KEY.Arn, id: KEY.KeyId };
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' }] }) });
  const result = await checkWorkerPermissions({ ...ctx, caller: { account: '123456789012', arn: 'x', principalArn: 'arn:aws:iam::123456789012:role/worker' } });
  assert.deepEqual(result, { check: 'worker-permissions', status: 'ok' });
  const inputs = mocks.iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
  const pass = inputs.find((i) => i.ActionNames?.[0] === 'iam:PassRole');
  assert.deepEqual(pass?.ResourceArns, [GLUE_ROLE]);
  assert.deepEqual(pass?.ContextEntries, [
    { ContextKeyName: 'aws:RequestedRegion', ContextKeyValues: ['us-east-2'], ContextKeyType: 'stringList' },
    { ContextKeyName: 'iam:PassedToService', ContextKeyValues: ['glue.amazonaws.com'], ContextKeyType: 'stringList' },
  ]);
  assert.ok(inputs.every((i) => i.PolicySourceArn === 'arn:aws:iam::123456789012:role/worker'));
  assert.ok(inputs.some((i) => i.ActionNames?.[0] === 'kms:CreateGrant' && i.ResourceArns?.[0] === KEY.Arn));
});

test("worker-permissions: what a Deny, the permissions boundary or the organization's SCPs refuse is told as such, not as an Allow to add", async () => {
  const { ctx, mocks } = context();
  mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
    EvaluationResults: input.ActionNames.map((a) => {
      const result = { EvalActionName: a, EvalResourceName: input.ResourceArns[0] };
      if (a === 'rds:StartExportTask') return { ...result, EvalDecision: 'explicitDeny', MatchedStatements: [{ SourcePolicyId: 'region-lock', SourcePolicyType: 'role' }] };
      // The role's own policy allows these (its statement matched); the boundary or an SCP does not.
      const allowedByRole = { MatchedStatements: [{ SourcePolicyId: 'worker', SourcePolicyType: 'role' }] };
      if (a === 'glue:StartJobRun') return { ...result, ...allowedByRole, EvalDecision: 'implicitDeny', PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: false } };
      if (a === 'athena:StartQueryExecution') return { ...result, ...allowedByRole, EvalDecision: 'implicitDeny', OrganizationsDecisionDetail: { AllowedByOrganizations: false } };
      if (a === 'glue:GetJobRun') return { ...result, EvalDecision: 'implicitDeny' };
      return { ...result, EvalDecision: 'allowed' };
    }),
    IsTruncated: false,
  }));
  const result = await checkWorkerPermissions({ ...ctx, caller: { account: '123456789012', arn: 'x', principalArn: 'arn:aws:iam::123456789012:role/worker' } });
  assert.equal(result.status, 'FAIL');
  const fix = result.fix!;
  // Only the action nothing refuses but a missing Allow is to be added to the policy.
  assert.match(fix, /^add to its policy [^{]*: \{"Effect":"Allow","Action":\["glue:GetJobRun"\],[^}]*\};/);
  assert.doesNotMatch(fix, /"Action":\["rds:StartExportTask"/);
  assert.match(fix, /an explicit Deny refuses rds:StartExportTask \(in region-lock\), and an Allow does not override it/);
  assert.match(fix, /its permissions boundary does not allow glue:StartJobRun: add to the boundary: \{"Effect":"Allow","Action":\["glue:StartJobRun"\]/);
  assert.match(fix, /the organization's service control policies do not allow athena:StartQueryExecution/);
});

test('worker-permissions: a DynamoDB source in another region than the lake is simulated there for its DynamoDB calls only', async () => {
  const { ctx, mocks } = context();
  allowAll(mocks);
  const dynamodb = { region: 'eu-west-1', lakeRegion: 'us-east-2', partition: 'aws', tables: ['Orders'], export: { bucket: 'exports', prefix: 'ddb' }, included: () => true };
  const result = await checkWorkerPermissions({ ...ctx, settings: { ...ctx.settings, dynamodb } as DoctorContext['settings'], caller: { account: '123456789012', arn: 'x', principalArn: 'arn:aws:iam::123456789012:role/worker' } });
  assert.deepEqual(result, { check: 'worker-permissions', status: 'ok' });
  const regionOf = (action: string) =>
    mocks.iam
      .commandCalls(SimulatePrincipalPolicyCommand)
      .map((c) => c.args[0].input)
      .find((i) => i.ActionNames?.includes(action))
      ?.ContextEntries?.find((e) => e.ContextKeyName === 'aws:RequestedRegion')?.ContextKeyValues;
  assert.deepEqual(regionOf('dynamodb:ExportTableToPointInTime'), ['eu-west-1']);
  assert.deepEqual(regionOf('dynamodb:ListTables'), ['eu-west-1']);
  assert.deepEqual(regionOf('s3:ListBucket'), ['us-east-2']);
  assert.deepEqual(regionOf('glue:StartJobRun'), ['us-east-2']);
});

test('export-role-pass: a caller that is no IAM user or role cannot be simulated: a warning', async () => {
  const { ctx } = context();
  const result = await checkExportRolePass({ ...ctx, caller: { account: '123456789012', arn: 'arn:aws:sts::123456789012:federated-user/bob' } });
  assert.equal(result.status, 'warn');
  assert.match(result.problem!, /federated-user\/bob is not an IAM user or role/);
});

test('credentials: an assumed role is simulated under its role ARN, path included', async () => {
  const { ctx, mocks } = context();
  mocks.sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/lakesync-worker/i-0abc' });
  mocks.iam.on(GetRoleCommand, { RoleName: 'lakesync-worker' }).resolves({ Role: { Arn: 'arn:aws:iam::123456789012:role/services/lakesync-worker', RoleName: 'lakesync-worker', Path: '/services/', RoleId: 'R', CreateDate: new Date() } });
  assert.equal((await checkCredentials(ctx)).status, 'ok');
  assert.equal(ctx.caller?.principalArn, 'arn:aws:iam::123456789012:role/services/lakesync-worker');
});

test('credentials: no credentials at all fail with the credential chain as the fix', async () => {
  const { ctx, mocks } = context();
  mocks.sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
  const result = await checkCredentials(ctx);
  assert.equal(result.status, 'FAIL');
  assert.match(result.problem!, /Could not load credentials/);
  assert.match(result.fix!, /AWS_PROFILE/);
});

test('credentials: an endpoint that does not answer fails naming the endpoint to fix, not the credentials', async () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const emulated = context({ endpoint: 'http://127.0.0.1:1' });
  emulated.mocks.sts.on(GetCallerIdentityCommand).rejects(refused());
  const result = await checkCredentials(emulated.ctx);
  assert.equal(result.status, 'FAIL');
  assert.match(result.problem!, /ECONNREFUSED/);
  assert.match(result.fix!, /nothing answers at aws\.endpoint http:\/\/127\.0\.0\.1:1: start the emulator there, or correct or remove aws\.endpoint/);
  assert.doesNotMatch(result.fix!, /AWS_PROFILE/);
  // Without an endpoint: STS of the region cannot be reached from here.
  const real = context();
  real.mocks.sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('getaddrinfo ENOTFOUND sts.us-east-2.amazonaws.com'), { code: 'ENOTFOUND' }));
  assert.match((await checkCredentials(real.ctx)).fix!, /AWS STS of us-east-2 cannot be reached from this machine: check its network access .*and aws\.region/);
});

test('analytics-integration: the s3tablescatalog catalog passes; EntityNotFoundException fails with how to enable it', async () => {
  const { ctx, mocks } = context();
  mocks.glue.on(GetCatalogCommand, { CatalogId: 's3tablescatalog' }).resolves({ Catalog: { Name: 's3tablescatalog' } });
  assert.deepEqual(await checkAnalyticsIntegration(ctx), { check: 'analytics-integration', status: 'ok' });
  mocks.glue.on(GetCatalogCommand).rejects(awsError('EntityNotFoundException', 400, 'Catalog not found'));
  const result = await checkAnalyticsIntegration(ctx);
  assert.equal(result.status, 'FAIL');
  assert.match(result.problem!, /integration with AWS analytics services is not enabled in us-east-2/);
  assert.match(result.fix!, /Enable integration/);
});

const KEY = { KeyId: 'k-1', Arn: 'arn:aws:kms:us-east-2:123456789012:key/k-1', KeyState: 'Enabled' as const, KeySpec: 'SYMMETRIC_DEFAULT' as const, KeyUsage: 'ENCRYPT_DECRYPT' as const };

function allowAll(mocks: ReturnType<typeof context>['mocks']) {
  mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
    EvaluationResults: input.ActionNames.map((a) => ({ EvalActionName: a, EvalResourceName: input.ResourceArns[0], EvalDecision: 'allowed' })),
    IsTruncated: false,
  }));
}

test('kms-key: a key policy that names neither the export role nor the account fails, whatever IAM allows', async () => {
  const { ctx, mocks } = context();
  mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: KEY });
  allowAll(mocks);
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/admin' }, Action: 'kms:*', Resource: '*' }] }) });
  mocks.kms.on(ListGrantsCommand).rejects(awsError('AccessDeniedException', 400, 'not authorized to perform kms:ListGrants'));
  const result = await checkKmsKey(ctx);
  assert.equal(result.status, 'FAIL', JSON.stringify(result));
  assert.match(result.problem!, /neither allows the export role kms:Encrypt/);
  assert.match(result.problem!, /the key's grants could not be read: kms:ListGrants failed \(not authorized to perform kms:ListGrants\)/);
  assert.match(result.fix!, new RegExp(`"Principal":\\{"AWS":"${EXPORT_ROLE}"\\}`));
  // The key policy was read by the key's ARN, after DescribeKey resolved the alias.
  assert.equal(mocks.kms.commandCalls(GetKeyPolicyCommand)[0]!.args[0].input.KeyId, KEY.Arn);
  assert.deepEqual(ctx.key, { arn: KEY.Arn, id: 'k-1' });
});

test('kms-key: a key policy naming the role passes; one that cannot be read warns', async () => {
  const { ctx, mocks } = context();
  mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: KEY });
  allowAll(mocks);
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: EXPORT_ROLE }, Action: 'kms:*', Resource: '*' }] }) });
  assert.equal((await checkKmsKey(ctx)).status, 'ok');
  mocks.kms.on(GetKeyPolicyCommand).rejects(awsError('AccessDeniedException', 400));
  const result = await checkKmsKey(ctx);
  assert.equal(result.status, 'warn');
  assert.match(result.problem!, /key policy was not checked/);
});

/** IAM allows every action but `deny`, which an IAM policy denies explicitly. */
/** IAM allows every action but `deny`: explicitly denied, or (implicitDeny) not allowed by the role's policies. */
function allowAllBut(mocks: ReturnType<typeof context>['mocks'], deny: string, decision: 'explicitDeny' | 'implicitDeny' = 'explicitDeny') {
  mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
    EvaluationResults: input.ActionNames.map((a) => ({ EvalActionName: a, EvalResourceName: input.ResourceArns[0], EvalDecision: a === deny ? decision : 'allowed' })),
    IsTruncated: false,
  }));
}

test('kms-key: a grant gives the export role what IAM leaves out, but no action that a policy denies explicitly', async () => {
  const { ctx, mocks } = context();
  mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: KEY });
  const grantAll = { GranteePrincipal: EXPORT_ROLE, Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'DescribeKey', 'RetireGrant'] as GrantOperation[] };
  mocks.kms.on(ListGrantsCommand).resolves({ Grants: [grantAll], Truncated: false });
  const accountRoot = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' };
  // The key policy leaves the key to IAM, which does not allow CreateGrant: the grant gives it.
  mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
    EvaluationResults: input.ActionNames.map((a) => ({ EvalActionName: a, EvalResourceName: input.ResourceArns[0], EvalDecision: a === 'kms:CreateGrant' ? 'implicitDeny' : 'allowed' })),
    IsTruncated: false,
  }));
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [accountRoot] }) });
  assert.deepEqual(await checkKmsKey(ctx), { check: 'kms-key', status: 'ok' });
  // An explicit Deny in the key policy wins over the grant.
  const denyEncrypt = { Effect: 'Deny', Principal: { AWS: EXPORT_ROLE }, Action: 'kms:Encrypt', Resource: '*' };
  allowAll(mocks);
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [accountRoot, denyEncrypt] }) });
  const keyDenies = await checkKmsKey(ctx);
  assert.equal(keyDenies.status, 'FAIL', JSON.stringify(keyDenies));
  assert.match(keyDenies.problem!, /neither allows the export role kms:Encrypt nor leaves them to IAM .*, or denies them/);
  // An explicit deny in the role's IAM policy wins over a key policy naming the role, and over the grant.
  allowAllBut(mocks, 'kms:CreateGrant');
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ ...accountRoot, Principal: { AWS: EXPORT_ROLE } }] }) });
  const iamDenies = await checkKmsKey(ctx);
  assert.equal(iamDenies.status, 'FAIL', JSON.stringify(iamDenies));
  assert.match(iamDenies.problem!, /the export role \S+ may not use the key: kms:CreateGrant on .*\(explicitDeny\)/);
  assert.doesNotMatch(iamDenies.problem!, /kms:Encrypt/);
});

function glueRoleExists(mocks: ReturnType<typeof context>['mocks']) {
  const trust = encodeURIComponent(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' }] }));
  mocks.iam.on(GetRoleCommand).resolves({ Role: { Arn: GLUE_ROLE, RoleName: GLUE_ROLE.split('/').pop()!, Path: '/', RoleId: 'G', CreateDate: new Date(), AssumeRolePolicyDocument: trust } });
}

test("glue-role: a key policy that neither names the Glue role nor leaves it to IAM fails, whatever the role's IAM policy allows", async () => {
  const { ctx, mocks } = context();
  ctx.key = { arn: KEY.Arn, id: KEY.KeyId };
  glueRoleExists(mocks);
  allowAll(mocks);
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: EXPORT_ROLE }, Action: 'kms:*', Resource: '*' }] }) });
  // Grants on the key, over two pages: none to the Glue role for Decrypt.
  mocks.kms
    .on(ListGrantsCommand)
    .resolvesOnce({ Grants: [{ GranteePrincipal: EXPORT_ROLE, Operations: ['Decrypt'] }], Truncated: true, NextMarker: 'g2' })
    .resolves({ Grants: [{ GranteePrincipal: GLUE_ROLE, Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: { table: 'x' } } }, { GranteePrincipal: GLUE_ROLE, Operations: ['Encrypt'] }], Truncated: false });
  const result = await checkGlueRole(ctx);
  assert.equal(result.status, 'FAIL', JSON.stringify(result));
  assert.match(result.problem!, /and no grant on the key gives them/);
  assert.equal(mocks.kms.commandCalls(ListGrantsCommand)[1]!.args[0].input.Marker, 'g2');
  // A grant of Decrypt to the role, on a later page, is enough.
  mocks.kms.on(ListGrantsCommand).resolvesOnce({ Grants: [], Truncated: true, NextMarker: 'g2' }).resolves({ Grants: [{ GranteePrincipal: GLUE_ROLE, Operations: ['Decrypt', 'DescribeKey'] }], Truncated: false });
  assert.deepEqual(await checkGlueRole(ctx), { check: 'glue-role', status: 'ok' });
  mocks.kms.on(ListGrantsCommand).resolves({ Grants: [], Truncated: false });
  assert.match(result.problem!, /key policy of arn:aws:kms:us-east-2:123456789012:key\/k-1 neither allows the Glue job role kms:Decrypt/);
  assert.match(result.fix!, new RegExp(`"Principal":\\{"AWS":"${GLUE_ROLE}"\\},"Action":\\["kms:Decrypt"\\]`));
  // The account statement (or one naming the role) passes; a policy that cannot be read warns.
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' }] }) });
  assert.deepEqual(await checkGlueRole(ctx), { check: 'glue-role', status: 'ok' });
  mocks.kms.on(GetKeyPolicyCommand).rejects(awsError('AccessDeniedException', 400, 'not authorized to perform kms:GetKeyPolicy'));
  const unread = await checkGlueRole(ctx);
  assert.equal(unread.status, 'warn', JSON.stringify(unread));
  assert.match(unread.problem!, /key policy of .* was not checked/);
});

test("hash-key: a secret under a customer managed key whose key policy leaves out the Glue role fails", async () => {
  const { ctx, mocks } = context();
  const secretArn = 'arn:aws:secretsmanager:us-east-2:123456789012:secret:shop-hash-key-AbCdEf';
  const secretKey = 'arn:aws:kms:us-east-2:123456789012:key/s-1';
  mocks.secrets.on(DescribeSecretCommand).resolves({ ARN: secretArn, Name: 'shop-hash-key', KmsKeyId: secretKey });
  allowAll(mocks);
  mocks.kms.on(GetKeyPolicyCommand, { KeyId: secretKey }).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/admin' }, Action: 'kms:*', Resource: '*' }] }) });
  const [result] = await checkHashKey({ ...ctx, settings: { ...ctx.settings, hashKeySecret: secretArn } });
  assert.equal(result?.status, 'FAIL', JSON.stringify(result));
  assert.match(result!.problem!, /key policy of arn:aws:kms:us-east-2:123456789012:key\/s-1 neither allows the Glue job role kms:Decrypt/);
  const inputs = mocks.iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input.ActionNames?.[0]);
  assert.deepEqual(inputs, ['secretsmanager:GetSecretValue', 'kms:Decrypt']);
});

test('kms-key: an asymmetric key fails', async () => {
  const { ctx, mocks } = context();
  mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { ...KEY, KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' } });
  const result = await checkKmsKey(ctx);
  assert.equal(result.status, 'FAIL');
  assert.match(result.problem!, /RDS export needs a symmetric encryption key/);
});

test('athena-workgroup: AWS answers a missing workgroup with InvalidRequestException; other errors name the call', async () => {
  const { ctx, mocks } = context();
  mocks.athena.on(GetWorkGroupCommand).rejects(awsError('InvalidRequestException', 400, 'WorkGroup primary is not found.'));
  const missing = await checkAthenaWorkgroup(ctx);
  assert.equal(missing.status, 'FAIL');
  assert.match(missing.problem!, /Athena workgroup primary does not exist/);
  mocks.athena.on(GetWorkGroupCommand).rejects(awsError('AccessDeniedException', 400, 'not authorized to perform athena:GetWorkGroup'));
  const denied = await checkAthenaWorkgroup(ctx);
  assert.equal(denied.status, 'FAIL');
  assert.match(denied.problem!, /Athena GetWorkGroup for workgroup primary failed with AccessDeniedException/);
  assert.match(denied.fix!, /lakesync doctor lacks athena:GetWorkGroup/);
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'primary', State: 'DISABLED' } });
  assert.match((await checkAthenaWorkgroup(ctx)).fix!, /--state ENABLED/);
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'primary', State: 'ENABLED', Configuration: { EnforceWorkGroupConfiguration: true, ResultConfiguration: { OutputLocation: 's3://elsewhere/' } } } });
  assert.equal((await checkAthenaWorkgroup(ctx)).status, 'warn');
  mocks.athena.on(GetWorkGroupCommand).resolves({ WorkGroup: { Name: 'primary', State: 'ENABLED', Configuration: { EnforceWorkGroupConfiguration: false } } });
  assert.equal((await checkAthenaWorkgroup(ctx)).status, 'ok');
});

test('glue-role and kms-key: a missing permission names the role to add it to by its ARN', async () => {
  const { ctx, mocks } = context();
  glueRoleExists(mocks);
  allowAllBut(mocks, 'glue:UpdateTable', 'implicitDeny');
  const glue = await checkGlueRole(ctx);
  assert.equal(glue.status, 'FAIL', JSON.stringify(glue));
  assert.match(glue.problem!, new RegExp(`the Glue job role ${GLUE_ROLE} lacks actions the job uses`));
  assert.match(glue.fix!, new RegExp(`add to the policy of the Glue job role ${GLUE_ROLE}`));
  const key = context();
  key.mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: KEY });
  allowAllBut(key.mocks, 'kms:CreateGrant', 'implicitDeny');
  // The key policy leaves the key to IAM, and no grant gives CreateGrant.
  key.mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' }] }) });
  key.mocks.kms.on(ListGrantsCommand).resolves({ Grants: [], Truncated: false });
  const kms = await checkKmsKey(key.ctx);
  assert.equal(kms.status, 'FAIL', JSON.stringify(kms));
  assert.match(kms.problem!, new RegExp(`the export role ${EXPORT_ROLE} may not use the key`));
  assert.match(kms.fix!, new RegExp(`add to the policy of the export role ${EXPORT_ROLE}`));
});

test("export-role: a trust policy whose aws:SourceAccount is not the account fails (RDS could not assume the role); the source account or a SourceArn condition passes", async () => {
  const trustWith = (condition?: object) => {
    const { ctx, mocks } = context();
    const statement = { Effect: 'Allow', Principal: { Service: 'export.rds.amazonaws.com' }, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) };
    mocks.iam.on(GetRoleCommand).resolves({ Role: { Arn: EXPORT_ROLE, RoleName: 'lakesync-export', Path: '/', RoleId: 'E', CreateDate: new Date(), AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify({ Statement: [statement] })) } });
    return checkExportRole(ctx);
  };
  // docs/aws-setup.md's trust policy copied without replacing its placeholder.
  const placeholder = await trustWith({ StringEquals: { 'aws:SourceAccount': 'ACCOUNT' } });
  assert.equal(placeholder.status, 'FAIL', JSON.stringify(placeholder));
  assert.match(placeholder.problem!, /role lakesync-export trusts export\.rds\.amazonaws\.com only when aws:SourceAccount is ACCOUNT, not 123456789012/);
  assert.match(placeholder.fix!, /aws iam update-assume-role-policy --role-name lakesync-export --policy-document .*"aws:SourceAccount":"123456789012"/);
  assert.equal((await trustWith({ StringEquals: { 'aws:SourceAccount': '999999999999' } })).status, 'FAIL');
  assert.equal((await trustWith({ StringEquals: { 'aws:SourceAccount': '123456789012' } })).status, 'ok');
  assert.equal((await trustWith({ StringLike: { 'aws:sourceaccount': ['1234*'] } })).status, 'ok');
  assert.equal((await trustWith({ ArnLike: { 'aws:SourceArn': 'arn:aws:rds:us-east-2:123456789012:*' } })).status, 'ok');
  assert.equal((await trustWith()).status, 'ok');
});

test('export-role: a trust policy Deny for requests from other accounts (StringNotEquals aws:SourceAccount) does not refuse RDS acting for this account', async () => {
  const deniedOutside = (account: string) => {
    const { ctx, mocks } = context();
    const statements = [
      { Effect: 'Allow', Principal: { Service: 'export.rds.amazonaws.com' }, Action: 'sts:AssumeRole' },
      { Effect: 'Deny', Principal: { Service: 'export.rds.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringNotEquals: { 'aws:SourceAccount': account } } },
    ];
    mocks.iam.on(GetRoleCommand).resolves({ Role: { Arn: EXPORT_ROLE, RoleName: 'lakesync-export', Path: '/', RoleId: 'E', CreateDate: new Date(), AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify({ Statement: statements })) } });
    return checkExportRole(ctx);
  };
  assert.deepEqual(await deniedOutside('123456789012'), { check: 'export-role', status: 'ok' });
  assert.equal((await deniedOutside('999999999999')).status, 'FAIL');
});

test("glue-concurrency: more loads at once than the Glue job runs at once, with runs not queued, is a warning naming both and the fix", async () => {
  const source = awsSource({ raw: { concurrency: 20 } });
  const unqueued = doctorSettings('shop', { ...source, aws: { ...source.aws!, glue: { ...source.aws!.glue, maxConcurrentRuns: 10, jobRunQueuing: false } } });
  const { ctx, mocks } = context();
  ctx.settings = unqueued;
  mocks.glue.on(GetJobCommand).rejects(awsError('EntityNotFoundException', 400, 'Job not found'));
  const [missing] = [await checkGlueConcurrency(ctx)].flat();
  assert.equal(missing!.status, 'warn', JSON.stringify(missing));
  assert.match(missing!.problem!, /concurrency 20 .* above .*10 .*lakesync-load-shop/);
  assert.match(missing!.fix!, /aws\.glue\.maxConcurrentRuns .*20|concurrency .*10|aws\.glue\.jobRunQueuing/);

  // The job as it is: its own MaxConcurrentRuns, lower than the config's, is the limit runs meet.
  ctx.settings = doctorSettings('shop', { ...source, aws: { ...source.aws!, glue: { ...source.aws!.glue, maxConcurrentRuns: 50, jobRunQueuing: false } } });
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ExecutionProperty: { MaxConcurrentRuns: 5 } } });
  const [edited] = [await checkGlueConcurrency(ctx)].flat();
  assert.equal(edited!.status, 'warn', JSON.stringify(edited));
  assert.match(edited!.problem!, /MaxConcurrentRuns 5/);
});

test('glue-concurrency: within the limit, or with STANDARD runs queued, passes; FLEX runs are never queued', async () => {
  const { ctx, mocks } = context();
  mocks.glue.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', ExecutionProperty: { MaxConcurrentRuns: 10 } } });
  const source = awsSource({ raw: { concurrency: 20 } });
  const glue = source.aws!.glue;
  ctx.settings = doctorSettings('shop', { ...source, aws: { ...source.aws!, glue: { ...glue, maxConcurrentRuns: 10, jobRunQueuing: true } } });
  assert.equal([await checkGlueConcurrency(ctx)].flat()[0]!.status, 'ok', 'queued STANDARD runs wait in Glue');
  ctx.settings = doctorSettings('shop', { ...awsSource({ raw: { concurrency: 10 } }), aws: { ...source.aws!, glue: { ...glue, maxConcurrentRuns: 10, jobRunQueuing: false } } });
  assert.equal([await checkGlueConcurrency(ctx)].flat()[0]!.status, 'ok', 'within the limit');
  ctx.settings = doctorSettings('shop', { ...source, aws: { ...source.aws!, glue: { ...glue, maxConcurrentRuns: 10, jobRunQueuing: true, executionClass: 'FLEX' } } });
  const [flex] = [await checkGlueConcurrency(ctx)].flat();
  assert.equal(flex!.status, 'warn', 'FLEX runs are never queued');
  assert.match(flex!.fix!, /FLEX/);
});

test('worker-permissions: a source catalog without direct tables is read by the worker: its secret or IAM login is simulated too', async () => {
  const secretArn = 'arn:aws:secretsmanager:us-east-2:123456789012:secret:shop-catalog-AbCdEf';
  for (const catalog of [{ host: 'shop-db.example', user: 'lakesync_reader', secretArn }, { host: 'shop-db.example', user: 'lakesync_iam', iamAuth: true }]) {
    const settings = doctorSettings('shop', awsSource({ raw: { source: { kind: 'rds', instanceId: 'shop-db', catalog } } }));
    assert.equal(settings.direct, undefined, 'no table is extract: direct');
    const clients = createDoctorClients(settings);
    const iam = mockClient(clients.iam);
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
      EvaluationResults: input.ActionNames.map((a) => ({ EvalActionName: a, EvalResourceName: input.ResourceArns[0], EvalDecision: 'allowed' })),
      IsTruncated: false,
    }));
    const ctx: DoctorContext = { clients, settings, simulator: new PermissionSimulator(clients.iam, false, settings.region), missingRoles: new Set() };
    const result = await checkWorkerPermissions({ ...ctx, caller: { account: '123456789012', arn: 'x', principalArn: 'arn:aws:iam::123456789012:role/worker' } });
    assert.equal(result.status, 'ok', JSON.stringify(result));
    const asked = iam.commandCalls(SimulatePrincipalPolicyCommand).flatMap((c) => (c.args[0].input.ActionNames ?? []).map((a) => `${a} on ${(c.args[0].input.ResourceArns ?? []).join(',')}`));
    if ('secretArn' in catalog) assert.ok(asked.includes(`secretsmanager:GetSecretValue on ${secretArn}`), asked.join('\n'));
    else assert.ok(asked.includes('rds-db:connect on arn:aws:rds-db:us-east-2:123456789012:dbuser:*/lakesync_iam'), asked.join('\n'));
  }
});
