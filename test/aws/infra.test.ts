/**
 * infra/lakesync.yaml: cfn-lint finds nothing in it, and moto server's CloudFormation deploys it.
 *
 * moto's CloudFormation skips the resource types it does not implement (MOTO_UNSUPPORTED, checked
 * against moto's own list). The deployments use a copy of the template without them (nothing else
 * refers to them); those resources, and the buckets' lifecycle rules (moto does not apply
 * LifecycleConfiguration from a template), are checked in the template itself. moto also keeps an
 * AWS::NoValue inside a list where CloudFormation drops it, so the deployments give every optional
 * parameter (policies.test.ts covers the statements without them).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { GetPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetKeyPolicyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetBucketEncryptionCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { stringify as toYaml } from 'yaml';
import { type Json, loadTemplate, type Template, templatePolicy, TEMPLATE_FILE, valuesContext } from '../../scripts/policy-template';
import { exportIdFor } from '../../src/ids';
import { repoRoot, toolchain } from '../../src/toolchain';
import { MOTO_ACCOUNT_ID, type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';

/** The resource types of the template that moto's CloudFormation does not implement. */
const MOTO_UNSUPPORTED = ['AWS::Athena::WorkGroup', 'AWS::Glue::Catalog', 'AWS::LakeFormation::Resource', 'AWS::S3Tables::TableBucket', 'AWS::S3Tables::TableBucketPolicy'];

const REGION = 'eu-west-1';

function cfnLint(file: string): { status: number; output: string } {
  const bin = join(dirname(toolchain().python), 'cfn-lint');
  const run = spawnSync(bin, [file], { encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw new Error(`cannot run ${bin}: ${run.error.message} (run npm run bootstrap)`);
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

/** cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational. */
const LINT_ERRORS = 2;
const LINT_WARNINGS = 4;

test('cfn-lint finds no error or warning in infra/lakesync.yaml', { timeout: 120_000 }, () => {
  const { status, output } = cfnLint(join(repoRoot(), TEMPLATE_FILE));
  assert.equal(status & (LINT_ERRORS | LINT_WARNINGS), 0, `cfn-lint ${TEMPLATE_FILE} (exit ${status}):\n${output}`);
});

test('cfn-lint reports a broken copy of the template', { timeout: 120_000 }, () => {
  const template = loadTemplate();
  template.Resources.ExportBucket!.Properties!.LifecycleConfiguration = { Rules: [{ Id: 'x', Status: 'Maybe' }] };
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-infra-'));
  try {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, toYaml(template));
    const { status, output } = cfnLint(file);
    assert.ok(status & LINT_ERRORS, `cfn-lint found no error in a lifecycle rule with Status Maybe:\n${output}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function motoSupportedTypes(): Set<string> {
  const run = spawnSync(toolchain().python, ['-W', 'ignore', '-c', 'import json\nfrom moto.cloudformation.parsing import get_model_map\nprint(json.dumps(sorted(get_model_map())))'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `reading moto's CloudFormation resource types failed: ${run.stderr}`);
  return new Set(JSON.parse(run.stdout.trim().split('\n').pop()!) as string[]);
}

test("MOTO_UNSUPPORTED is exactly the template's resource types that moto's CloudFormation lacks", { timeout: 120_000 }, () => {
  const supported = motoSupportedTypes();
  const types = [...new Set(Object.values(loadTemplate().Resources).map((r) => r.Type))];
  assert.deepEqual(types.filter((t) => !supported.has(t)).sort(), MOTO_UNSUPPORTED);
});

/** The template without the resources moto cannot create; fails if anything still refers to one. */
function motoVariant(): Template {
  const template = loadTemplate();
  const removed = Object.entries(template.Resources).filter(([, r]) => MOTO_UNSUPPORTED.includes(r.Type)).map(([id]) => id);
  for (const id of removed) delete template.Resources[id];
  const rest = JSON.stringify({ Resources: template.Resources, Outputs: template.Outputs });
  for (const id of removed) assert.doesNotMatch(rest, new RegExp(`"(Ref|DependsOn)":"${id}"|\\["${id}",|\\$\\{${id}[.}]`), `the template refers to ${id}, which the moto deployment leaves out`);
  return template;
}

test('the resources moto cannot create are in the template as lakesync expects them', () => {
  const { Resources: r, Outputs: out } = loadTemplate();
  assert.deepEqual(r.TableBucket?.Properties?.TableBucketName, { Ref: 'TableBucketName' });
  assert.equal(r.TableBucket?.DeletionPolicy, 'Retain', 'deleting the stack must keep the lake');
  const workgroup = r.AthenaWorkGroup!.Properties!.WorkGroupConfiguration as Record<string, Json>;
  assert.equal(workgroup.EnforceWorkGroupConfiguration, true);
  assert.deepEqual((workgroup.ResultConfiguration as Record<string, Json>).OutputLocation, out.AthenaOutputLocation!.Value, 'the workgroup writes elsewhere than the output the config gets');
  assert.deepEqual(r.AthenaWorkGroup!.Properties!.Name, out.AthenaWorkGroup!.Value);
  assert.equal(r.ReaderTableBucketPolicy?.Condition, 'ReadersByBucketPolicy');
  for (const id of ['LakeFormationDataAccessRole', 'TableBucketsRegistration', 'S3TablesCatalog']) assert.equal(r[id]?.Condition, 'IntegrateWithLakeFormation', `${id} is made without RegisterWithLakeFormation`);
  assert.equal(r.TableBucketsRegistration!.Properties!.WithFederation, true);
});

test("docs/aws-setup.md's parameter table has a row for every parameter of the template, with its default, and the outputs table every output", () => {
  const template = loadTemplate() as unknown as { Parameters: Record<string, { Default?: string }>; Outputs: Record<string, unknown> };
  const doc = readFileSync(join(repoRoot(), 'docs/aws-setup.md'), 'utf8');
  const table = (header: string) => {
    const start = doc.indexOf(header);
    assert.ok(start >= 0, header);
    return doc.slice(start).split('\n\n')[0]!.split('\n').slice(2).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
  };
  const params = new Map(table('| parameter | default | meaning |').flatMap(([names, def]) => [...names!.matchAll(/`(\w+)`/g)].map((m) => [m[1]!, def!.replace(/`/g, '')] as const)));
  for (const [name, p] of Object.entries(template.Parameters)) {
    assert.ok(params.has(name), `docs/aws-setup.md documents no parameter ${name}`);
    assert.equal(params.get(name), String(p.Default ?? ''), `the default of ${name}`);
  }
  assert.deepEqual([...params.keys()].filter((n) => !(n in template.Parameters)), [], 'documented parameters the template does not have');
  const outputs = new Set(table('| output | `lakesync.yaml` |').flatMap(([names]) => [...names!.matchAll(/`(\w+)`/g)].map((m) => m[1]!)));
  assert.deepEqual(Object.keys(template.Outputs).filter((o) => !outputs.has(o)), [], 'outputs the table does not name');
});

test('the export lifecycle rule expires the exports lakesync names, never its manifests', () => {
  const rules = (loadTemplate().Resources.ExportBucket!.Properties!.LifecycleConfiguration as { Rules: Record<string, Json>[] }).Rules;
  const expiring = rules.filter((rule) => rule.ExpirationInDays !== undefined);
  assert.deepEqual(expiring.map((rule) => [rule.Status, rule.Prefix, rule.ExpirationInDays]), [['Enabled', { 'Fn::Sub': '${ExportPrefix}/ls-' }, { Ref: 'ExportRetentionDays' }]]);
  assert.ok(exportIdFor('shop', 'abc123').startsWith('ls-'), 'export ids no longer start with ls-: the lifecycle rule would miss them');
  assert.ok(!'lakesync-manifests'.startsWith('ls-'));
});

let moto: MotoServer | undefined;
let clients: { cfn: CloudFormationClient; iam: IAMClient; kms: KMSClient; s3: S3Client } | undefined;

before(async () => {
  useTestCredentials();
  moto = await startMoto();
  const config = { region: REGION, endpoint: moto.endpoint };
  clients = {
    cfn: new CloudFormationClient(config),
    iam: new IAMClient(config),
    kms: new KMSClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
  };
});

after(async () => {
  for (const client of Object.values(clients ?? {})) client.destroy();
  await moto?.stop();
});

const decoded = (document: string | undefined): Json => JSON.parse(decodeURIComponent(document ?? 'null')) as Json;

async function deploy(stackName: string, parameters: Record<string, string>): Promise<{ outputs: Record<string, string>; resources: string[] }> {
  const { cfn } = clients!;
  await cfn.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: JSON.stringify(motoVariant()),
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
    }),
  );
  const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks![0]!;
  assert.equal(stack.StackStatus, 'CREATE_COMPLETE', `${stackName}: ${stack.StackStatusReason ?? ''}`);
  const outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue!]));
  const resources = (await cfn.send(new ListStackResourcesCommand({ StackName: stackName }))).StackResourceSummaries!.filter((s) => s.ResourceStatus === 'CREATE_COMPLETE').map((s) => s.LogicalResourceId!);
  return { outputs, resources };
}

/** The template's policy `name` resolved with a stack's parameters and outputs. */
function stackPolicy(name: string, parameters: Record<string, string>, outputs: Record<string, string>): Json {
  const template = loadTemplate();
  const ctx = valuesContext(template, {
    parameters,
    refs: { 'AWS::AccountId': MOTO_ACCOUNT_ID, 'AWS::Region': REGION, 'AWS::Partition': 'aws', ArtifactBucket: outputs.GlueScriptBucket ?? '' },
    getAtts: { 'ExportKey.Arn': outputs.ExportKmsKeyId ?? '', 'ExportRole.Arn': outputs.ExportRoleArn ?? '', 'GlueRole.Arn': outputs.GlueRoleArn ?? '' },
  });
  return templatePolicy(template, name, ctx);
}

/** What moto holds for each policy equals the template's policy resolved with the stack's values. */
async function checkPolicies(parameters: Record<string, string>, outputs: Record<string, string>, prefix: string): Promise<void> {
  const { iam, kms } = clients!;
  const expected = (name: string) => stackPolicy(name, parameters, outputs);

  const exportRole = (await iam.send(new GetRoleCommand({ RoleName: `${prefix}-export` }))).Role!;
  assert.equal(exportRole.Arn, outputs.ExportRoleArn);
  assert.deepEqual(decoded(exportRole.AssumeRolePolicyDocument), expected('export-trust'));
  assert.deepEqual(decoded((await iam.send(new GetRolePolicyCommand({ RoleName: `${prefix}-export`, PolicyName: 'write-exports' }))).PolicyDocument), expected('export'));

  const glueRole = (await iam.send(new GetRoleCommand({ RoleName: `${prefix}-glue` }))).Role!;
  assert.equal(glueRole.Arn, outputs.GlueRoleArn);
  assert.deepEqual(decoded(glueRole.AssumeRolePolicyDocument), expected('glue-trust'));
  assert.deepEqual(decoded((await iam.send(new GetRolePolicyCommand({ RoleName: `${prefix}-glue`, PolicyName: 'load-tables' }))).PolicyDocument), expected('glue'));

  for (const [output, name] of [['WorkerPolicyArn', 'worker'], ['DoctorPolicyArn', 'doctor']] as const) {
    const policy = (await iam.send(new GetPolicyCommand({ PolicyArn: outputs[output] }))).Policy!;
    assert.equal(policy.PolicyName, `${prefix}-${name}`);
    const version = (await iam.send(new GetPolicyVersionCommand({ PolicyArn: outputs[output], VersionId: policy.DefaultVersionId }))).PolicyVersion!;
    assert.deepEqual(decoded(version.Document), expected(name), `${name} policy as deployed`);
  }

  const keyId = outputs.ExportKmsKeyId!;
  // KMS answers the key policy as a JSON string; moto keeps the template's object and answers that.
  const keyPolicy: unknown = (await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy;
  assert.deepEqual(typeof keyPolicy === 'string' ? JSON.parse(keyPolicy) : keyPolicy, expected('kms-key'));
  assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled, true);
}

async function checkBuckets(outputs: Record<string, string>): Promise<void> {
  const { s3 } = clients!;
  for (const bucket of [outputs.ExportBucket!, outputs.GlueScriptBucket!]) {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    const rules = (await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))).ServerSideEncryptionConfiguration!.Rules!;
    assert.equal(rules[0]!.ApplyServerSideEncryptionByDefault!.SSEAlgorithm, 'AES256', `${bucket} is not encrypted`);
  }
}

const OPTIONAL = {
  CatalogSecretArn: `arn:aws:secretsmanager:${REGION}:${MOTO_ACCOUNT_ID}:secret:shop-catalog-AbCdEf`,
  CatalogDbUser: 'lakesync_reader',
  HashKeySecretArn: `arn:aws:secretsmanager:${REGION}:${MOTO_ACCOUNT_ID}:secret:shop-hash-key-AbCdEf`,
  GlueConnectionName: 'shop-vpc',
  SslRootCertObject: 'shop-certs/rds/global-bundle.pem',
  DynamoDBTables: 'shop-*',
};

test('moto deploys the template for an RDS instance and Lake Formation integration: roles, policies, key and buckets as the template says', { timeout: 120_000 }, async () => {
  const parameters = { ResourcePrefix: 'lsa', DBInstanceId: 'shop-db', TableBucketName: 'shop-lake', ExportBucketName: 'shop-exports', RegisterWithLakeFormation: 'true', ...OPTIONAL };
  const { outputs, resources } = await deploy('lakesync-a', parameters);
  assert.deepEqual(resources.sort(), ['ArtifactBucket', 'DoctorPolicy', 'ExportBucket', 'ExportKey', 'ExportRole', 'ExportRolePolicy', 'GlueRole', 'GlueRolePolicy', 'LakeFormationDataAccessRole', 'WorkerPolicy']);
  assert.deepEqual(
    { ...outputs, ExportKmsKeyId: undefined, WorkerPolicyArn: undefined, DoctorPolicyArn: undefined },
    {
      Region: REGION,
      AccountId: MOTO_ACCOUNT_ID,
      ExportBucket: 'shop-exports',
      ExportPrefix: 'lakesync/exports',
      ExportRoleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lsa-export`,
      ExportKmsKeyId: undefined,
      TableBucketName: 'shop-lake',
      GlueRoleArn: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/lsa-glue`,
      GlueScriptBucket: `lsa-artifacts-${MOTO_ACCOUNT_ID}-${REGION}`,
      GlueJobName: 'lakesync-load-{source}',
      AthenaWorkGroup: 'lsa',
      AthenaOutputLocation: `s3://lsa-artifacts-${MOTO_ACCOUNT_ID}-${REGION}/athena/`,
      LakeFormationMode: 'lakeformation',
      WorkerPolicyArn: undefined,
      DoctorPolicyArn: undefined,
    },
  );
  assert.match(outputs.ExportKmsKeyId!, new RegExp(`^arn:aws:kms:${REGION}:${MOTO_ACCOUNT_ID}:key/`));
  await checkPolicies(parameters, outputs, 'lsa');
  await checkBuckets(outputs);
  const lfRole = (await clients!.iam.send(new GetRoleCommand({ RoleName: 'lsa-lakeformation-data-access' }))).Role!;
  assert.deepEqual(decoded(lfRole.AssumeRolePolicyDocument), stackPolicy('lakeformation-data-access-trust', parameters, outputs));
});

test('moto deploys the template for an Aurora cluster in iam mode: the policies name the cluster, no integration', { timeout: 120_000 }, async () => {
  const parameters = {
    ResourcePrefix: 'lsb',
    DBClusterId: 'shop-cluster',
    TableBucketName: 'shop-lake-b',
    ExportBucketName: 'shop-exports-b',
    LakeFormationMode: 'iam',
    RegisterWithLakeFormation: 'true',
    ReaderPrincipalArns: `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/analysts`,
    ...OPTIONAL,
  };
  const { outputs, resources } = await deploy('lakesync-b', parameters);
  assert.ok(!resources.includes('LakeFormationDataAccessRole'), 'iam mode made the Lake Formation integration');
  assert.equal(outputs.LakeFormationMode, 'iam');
  await checkPolicies(parameters, outputs, 'lsb');
  const worker = JSON.stringify(stackPolicy('worker', parameters, outputs));
  assert.match(worker, /:cluster:shop-cluster"/);
  assert.doesNotMatch(worker, /:db:/);
  await checkBuckets(outputs);
});
