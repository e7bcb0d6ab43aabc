/**
 * The IAM policies of infra/lakesync.yaml (and the blocks of docs/aws-setup.md rendered from it)
 * against the code: the SDK commands src/ sends, each mapped to its IAM action, must be allowed by
 * the worker policy (the doctor's by the worker and doctor policies together), and these policies
 * must allow nothing else. The export role, the Glue job role and the key policy are held to the
 * lists of src/aws/required-actions.ts, resource by resource.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { docsBlocks, DOCS_FILE } from '../../scripts/policy-docs';
import { docsPolicies, type Json, loadTemplate, POLICY_SOURCES, templatePolicy, valuesContext } from '../../scripts/policy-template';
import { type AwsService, IAM_PREFIX, iamActionFor } from '../../src/aws/iam';
import { clusterSnapshotIdOf, snapshotIdFor } from '../../src/ids';
import { defaultGlueJobName } from '../../src/names';
import { type GlueSettings, scriptLocations } from '../../src/aws/glue-job';
import { DOCTOR_CALLS, dynamodbWorkerActions, workerActions, EXPORT_ROLE_KMS_ACTIONS, EXPORT_ROLE_S3_ACTIONS, glueJobActions, glueJobDirectActions, type RequiredAction, resolveResource, type ResourceNames } from '../../src/aws/required-actions';
import { repoRoot } from '../../src/toolchain';
import { CANCELLED_STATE_KEY } from '../../src/activities/payloads';
import { S3Manifests } from '../../src/aws/manifests';

/** IAM service prefix of each SDK client package (`@aws-sdk/client-<name>`). */
const CLIENT_PREFIX: Record<string, string> = {
  rds: 'rds',
  s3: 's3',
  glue: 'glue',
  s3tables: 's3tables',
  lakeformation: 'lakeformation',
  athena: 'athena',
  iam: 'iam',
  kms: 'kms',
  sts: 'sts',
  'secrets-manager': 'secretsmanager',
  dynamodb: 'dynamodb',
  'dynamodb-streams': 'dynamodb',
};

/** Calls that need no IAM permission. */
const NO_PERMISSION = new Set(['sts:GetCallerIdentity']);

/** Worker actions no SDK command maps to, each needed by a call the code makes. */
const WORKER_EXTRAS: Record<string, string> = {
  'rds:AddTagsToResource': 'CreateDBSnapshot / CreateDBClusterSnapshot tag the snapshot',
  'glue:TagResource': 'CreateJob tags the job',
  'iam:PassRole': 'StartExportTask passes the export role, CreateJob/UpdateJob the Glue role',
  'kms:CreateGrant': 'StartExportTask checks it on the caller',
  'kms:DescribeKey': 'StartExportTask checks it on the caller',
  'kms:Decrypt': 'discover reads the KMS-encrypted export files',
  's3:GetBucketLocation': 'Athena writes results to the output location',
  's3:AbortMultipartUpload': 'Athena writes results to the output location',
  'glue:GetCatalog': 'Athena reads the S3 Tables catalog for the checks',
  'glue:GetDatabase': 'Athena reads the namespace for the checks',
  'glue:GetTable': 'Athena reads the table for the checks',
  'lakeformation:GetDataAccess': 'Athena reads Lake Formation governed data for the checks',
  's3tables:GetTableBucket': 'Athena reads the lake with the worker credentials in iam mode',
  's3tables:ListNamespaces': 'Athena lists the namespaces in iam mode',
  's3tables:GetTable': 'Athena reads the lake with the worker credentials in iam mode',
  's3tables:GetTableMetadataLocation': 'Athena reads the lake with the worker credentials in iam mode',
  's3tables:GetTableData': 'Athena reads the lake with the worker credentials in iam mode',
  's3:PutObjectAcl': 'ExportTableToPointInTime writes the export files with the caller\'s permissions',
  'kms:GenerateDataKey': 'ExportTableToPointInTime encrypts the export files with the export key',
};

/** Glue job role actions beyond GLUE_JOB_ACTIONS. */
const GLUE_EXTRAS: Record<string, string> = {
  'secretsmanager:GetSecretValue': 'the job reads the column hashing key (HashKeySecretArn)',
};

interface Command {
  action: string;
  what: string;
  file: string;
  doctor: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function actionFor(client: string, operation: string): string {
  const service = (Object.keys(IAM_PREFIX) as AwsService[]).find((s) => IAM_PREFIX[s] === CLIENT_PREFIX[client]);
  return service ? iamActionFor(service, operation) : `${CLIENT_PREFIX[client]}:${operation}`;
}

/** Every SDK command src/ sends (and the IAM auth token the catalog connection signs), by file. */
function commandsSent(): Command[] {
  const root = repoRoot();
  const found: Command[] = [];
  for (const path of sourceFiles(join(root, 'src'))) {
    const file = relative(root, path);
    const text = readFileSync(path, 'utf8');
    // The embedded mode and the demo talk to the embedded DynamoDB (moto server) only, never to AWS.
    if (file.startsWith(join('src', 'local')) || file.startsWith(join('src', 'demo'))) continue;
    const doctor = file.startsWith(join('src', 'doctor'));
    for (const match of text.matchAll(/import\s*{([^}]*)}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      const client = match[2]!;
      assert.ok(client in CLIENT_PREFIX, `${file} imports an SDK client policies.test.ts does not know: ${client} (add its IAM prefix to CLIENT_PREFIX)`);
      for (const raw of match[1]!.split(',')) {
        const name = raw.trim();
        if (name.startsWith('type ') || !name.endsWith('Command')) continue;
        assert.match(text, new RegExp(`new ${name}\\(`), `${file} imports ${name} without sending it`);
        const operation = name.slice(0, -'Command'.length);
        found.push({ action: actionFor(client, operation), what: `${client} ${operation}`, file, doctor });
      }
    }
    if (/from\s*'@aws-sdk\/rds-signer'/.test(text)) found.push({ action: 'rds-db:connect', what: 'RDS IAM authentication token', file, doctor });
  }
  return found.filter((c) => !NO_PERMISSION.has(c.action));
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Principal?: Json;
  Resource?: string | string[];
  Condition?: Json;
}

interface Policy {
  Version: string;
  Statement: Statement[];
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

function wildcard(pattern: string, value: string): boolean {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i').test(value);
}

function covers(patterns: string[], action: string): boolean {
  return patterns.some((p) => wildcard(p, action));
}

function allowedActions(policy: Policy, principal?: string): string[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && (!principal || JSON.stringify(s.Principal ?? '').includes(principal))).flatMap((s) => list(s.Action));
}

/** Whether an Allow statement (of `principal`, in a resource policy) covers the action on the resource. */
function allows(policy: Policy, action: string, resource: string, principal?: string): boolean {
  return policy.Statement.some(
    (s) => s.Effect === 'Allow' && (!principal || JSON.stringify(s.Principal ?? '').includes(principal)) && covers(list(s.Action), action) && list(s.Resource).some((r) => wildcard(r, resource)),
  );
}

/** One source's names, given to the template as parameters and to required-actions.ts as placeholders. */
const NAMES: ResourceNames = {
  partition: 'aws',
  region: 'eu-west-1',
  accountId: '123456789012',
  exportBucket: 'shop-exports',
  exportPrefix: 'lakesync/exports',
  scriptBucket: 'lakesync-artifacts-123456789012-eu-west-1',
  scriptPrefix: 'lakesync/glue',
  resultPrefix: 'lakesync/results',
  tableBucket: 'shop-lake',
  namespace: 'shop',
  keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
};
const KEY_ARN = `arn:aws:kms:${NAMES.region}:${NAMES.accountId}:key/${NAMES.keyId}`;
const EXPORT_ROLE_ARN = `arn:aws:iam::${NAMES.accountId}:role/lakesync-export`;
const GLUE_ROLE_ARN = `arn:aws:iam::${NAMES.accountId}:role/lakesync-glue`;

/** The template's policy `name` for an RDS instance source with every optional statement. */
function deployed(name: string, parameters: Record<string, string> = {}): Policy {
  const template = loadTemplate();
  const ctx = valuesContext(template, {
    parameters: {
      DBInstanceId: 'shop-db',
      TableBucketName: NAMES.tableBucket,
      ExportBucketName: NAMES.exportBucket,
      CatalogSecretArn: `arn:aws:secretsmanager:${NAMES.region}:${NAMES.accountId}:secret:shop-catalog-AbCdEf`,
      CatalogDbUser: 'lakesync_reader',
      HashKeySecretArn: `arn:aws:secretsmanager:${NAMES.region}:${NAMES.accountId}:secret:shop-hash-key-AbCdEf`,
      GlueConnectionName: 'shop-vpc',
      DynamoDBTables: 'shop-*',
      ...parameters,
    },
    refs: { 'AWS::AccountId': NAMES.accountId, 'AWS::Region': NAMES.region, 'AWS::Partition': 'aws', ArtifactBucket: NAMES.scriptBucket },
    getAtts: { 'ExportKey.Arn': KEY_ARN, 'ExportRole.Arn': EXPORT_ROLE_ARN, 'GlueRole.Arn': GLUE_ROLE_ARN, 'TableBucket.TableBucketARN': `arn:aws:s3tables:${NAMES.region}:${NAMES.accountId}:bucket/${NAMES.tableBucket}` },
  });
  const policy = templatePolicy(template, name, ctx) as unknown as Policy;
  assert.equal(policy.Version, '2012-10-17', `policy ${name} has the wrong Version`);
  return policy;
}

function missingRequired(policy: Policy, required: readonly RequiredAction[], principal?: string): string[] {
  return required.flatMap((r) => r.resources.map((t) => resolveResource(t, NAMES)).filter((resource) => !allows(policy, r.action, resource, principal)).map((resource) => `${r.action} on ${resource} (${r.why})`));
}

test('the scan finds the commands of every adapter and of the doctor', () => {
  const sent = commandsSent();
  const worker = new Set(sent.filter((c) => !c.doctor).map((c) => c.action));
  for (const expected of ['rds:CreateDBSnapshot', 'rds:StartExportTask', 's3:ListBucket', 'glue:GetJobRuns', 'glue:BatchStopJobRun', 's3tables:CreateNamespace', 'lakeformation:BatchGrantPermissions', 'athena:GetQueryResults']) {
    assert.ok(worker.has(expected), `expected ${expected} among ${[...worker].join(', ')}`);
  }
  const doctor = new Set(sent.filter((c) => c.doctor).map((c) => c.action));
  for (const expected of ['iam:SimulatePrincipalPolicy', 'iam:GetRole', 'kms:GetKeyPolicy']) assert.ok(doctor.has(expected), `expected ${expected} among the doctor's ${[...doctor].join(', ')}`);
});

test('the policy blocks of docs/aws-setup.md are the template policies with placeholders', () => {
  const blocks = docsBlocks(readFileSync(join(repoRoot(), DOCS_FILE), 'utf8'));
  const rendered = docsPolicies();
  for (const name of Object.keys(POLICY_SOURCES)) {
    assert.ok(name in blocks, `${DOCS_FILE} has no "<!-- policy: ${name} -->" block`);
    assert.deepEqual(blocks[name], rendered[name], `${DOCS_FILE} block ${name} differs from infra/lakesync.yaml: run npx tsc -p . && node dist/scripts/policy-docs.js`);
  }
});

test('the worker policy allows every IAM action the code needs, and nothing else', () => {
  const worker = allowedActions(deployed('worker'));
  const needed = new Map(commandsSent().filter((c) => !c.doctor).map((c) => [c.action, `${c.what} (${c.file})`]));
  const missing = [...needed].filter(([action]) => !covers(worker, action)).map(([action, why]) => `${action} for ${why}`);
  assert.deepEqual(missing, [], 'infra/lakesync.yaml worker policy lacks actions');
  const missingExtras = Object.entries(WORKER_EXTRAS).filter(([action]) => !covers(worker, action));
  assert.deepEqual(missingExtras, [], 'infra/lakesync.yaml worker policy lacks actions the calls need indirectly');
  const unneeded = worker.filter((action) => !needed.has(action) && !(action in WORKER_EXTRAS));
  assert.deepEqual(unneeded, [], 'infra/lakesync.yaml worker policy allows actions no call needs');
});

test('the worker policy allows every action WORKER_ACTIONS lists (what the doctor simulates for the worker), on its resources', () => {
  const names: ResourceNames = {
    ...NAMES,
    dbInstance: 'shop-db',
    snapshotId: 'lakesync-shop-doctor',
    glueJob: defaultGlueJobName('shop'),
    glueRoleArn: GLUE_ROLE_ARN,
    workgroup: 'lakesync',
    athenaBucket: NAMES.scriptBucket,
    athenaOutput: `${NAMES.scriptBucket}/athena`,
    catalogSecretArn: `arn:aws:secretsmanager:${NAMES.region}:${NAMES.accountId}:secret:shop-catalog-AbCdEf`,
    dbUser: 'lakesync_reader',
    dbResourceId: 'db-ABCDEFGHIJKL',
  };
  const missing = (policy: Policy, required: readonly RequiredAction[], n: ResourceNames) =>
    required.flatMap((r) => r.resources.map((t) => resolveResource(t, n)).filter((resource) => !allows(policy, r.action, resource)).map((resource) => `${r.action} on ${resource} (${r.why})`));
  for (const mode of ['iam', 'lakeformation'] as const) {
    for (const catalogAuth of ['secret', 'iam'] as const) {
      const scope = { kind: 'rds' as const, database: 'instance' as const, mode, catalogAuth, createTableBucket: true };
      assert.deepEqual(missing(deployed('worker'), workerActions(scope), names), [], `instance, ${mode} mode, catalog ${catalogAuth}`);
    }
  }
  const cluster = deployed('worker', { DBInstanceId: '', DBClusterId: 'shop-cluster' });
  assert.deepEqual(missing(cluster, workerActions({ kind: 'rds', database: 'cluster', mode: 'lakeformation', createTableBucket: false }), { ...names, dbCluster: 'shop-cluster' }), [], 'cluster');
});

test("the worker deletes only tagged snapshots, files under the export prefix, the Glue load files under the result prefix and a DynamoDB source's exports and manifests, and manages only lakesync-load-* jobs", () => {
  const worker = deployed('worker');
  const deletes = worker.Statement.filter((s) => covers(list(s.Action), 'rds:DeleteDBSnapshot') || covers(list(s.Action), 'rds:DeleteDBClusterSnapshot'));
  assert.equal(deletes.length, 2);
  for (const s of deletes) assert.match(JSON.stringify(s.Condition), /"rds:(cluster-)?snapshot-tag\/lakesync"/, `${s.Sid} deletes snapshots without the lakesync tag condition`);
  const objectDeletes = worker.Statement.filter((s) => covers(list(s.Action), 's3:DeleteObject')).flatMap((s) => list(s.Resource));
  assert.deepEqual(objectDeletes, [
    `arn:aws:s3:::${NAMES.exportBucket}/${NAMES.exportPrefix}/*`,
    `arn:aws:s3:::${NAMES.scriptBucket}/${NAMES.resultPrefix}/*`,
    `arn:aws:s3:::${NAMES.exportBucket}/lakesync/dynamodb/*`,
  ]);
  assert.ok(!allows(worker, 's3:DeleteObject', `arn:aws:s3:::${NAMES.scriptBucket}/${NAMES.scriptPrefix}/glue_entry.py`), 'the worker may delete the Glue scripts');
  assert.ok(allows(worker, 'glue:StartJobRun', `arn:aws:glue:${NAMES.region}:${NAMES.accountId}:job/${defaultGlueJobName('shop')}`), `the default job name ${defaultGlueJobName('shop')} is not covered`);
  assert.ok(!allows(worker, 'glue:StartJobRun', `arn:aws:glue:${NAMES.region}:${NAMES.accountId}:job/other-job`), 'the worker may run any Glue job');
  assert.ok(allows(worker, 'rds:CreateDBSnapshot', `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:db:shop-db`));
  const cluster = deployed('worker', { DBInstanceId: '', DBClusterId: 'shop-cluster' });
  assert.ok(allows(cluster, 'rds:CreateDBClusterSnapshot', `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:cluster:shop-cluster`));
  assert.ok(!allows(cluster, 'rds:CreateDBSnapshot', `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:db:shop-db`), 'a cluster source may snapshot instances');
});

test('the optional statements appear only with their parameters', () => {
  const without = { CatalogSecretArn: '', CatalogDbUser: '', HashKeySecretArn: '' };
  const worker = allowedActions(deployed('worker', without));
  assert.ok(!covers(worker, 'secretsmanager:GetSecretValue') && !covers(worker, 'rds-db:connect'), 'the worker reads secrets nobody configured');
  assert.ok(!covers(allowedActions(deployed('glue', without)), 'secretsmanager:GetSecretValue'), 'the Glue role reads a secret nobody configured');
  assert.ok(allows(deployed('worker'), 'rds-db:connect', `arn:aws:rds-db:${NAMES.region}:${NAMES.accountId}:dbuser:db-ABCDEFGHIJKL/lakesync_reader`));
  // The doctor checks that the hash key's secret exists (DescribeSecret), with its parameter only.
  const hashKey = `arn:aws:secretsmanager:${NAMES.region}:${NAMES.accountId}:secret:shop-hash-key-AbCdEf`;
  assert.ok(allows(deployed('doctor'), 'secretsmanager:DescribeSecret', hashKey), 'the doctor may not describe the hash key secret');
  assert.ok(!covers(allowedActions(deployed('doctor', without)), 'secretsmanager:DescribeSecret'), 'the doctor describes secrets nobody configured');
});

test('the doctor needs only read-only actions, of its own policy or the worker policy, and that policy holds nothing else', () => {
  const worker = allowedActions(deployed('worker'));
  const doctor = allowedActions(deployed('doctor'));
  const needed = new Map<string, string>();
  for (const c of commandsSent().filter((c) => c.doctor)) needed.set(c.action, `${c.what} (${c.file})`);
  for (const c of DOCTOR_CALLS.filter((c) => !NO_PERMISSION.has(c.action))) needed.set(c.action, c.call);
  const missing = [...needed].filter(([action]) => !covers([...worker, ...doctor], action)).map(([action, why]) => `${action} for ${why}`);
  assert.deepEqual(missing, [], 'the doctor would be refused');
  assert.deepEqual(doctor.filter((action) => !needed.has(action)), [], 'the doctor policy allows actions the doctor does not call');
  assert.deepEqual(doctor.filter((action) => covers(worker, action)), [], 'the doctor policy repeats actions of the worker policy');
  assert.deepEqual(doctor.filter((action) => !/^[a-z0-9-]+:(Get|List|Describe|Simulate)/.test(action)), [], 'the doctor policy allows more than reads');
});

test('the export role is trusted by RDS export and may write the export and use the key', () => {
  assert.match(JSON.stringify(deployed('export-trust')), /export\.rds\.amazonaws\.com/);
  const exportRole = deployed('export');
  assert.deepEqual(missingRequired(exportRole, [...EXPORT_ROLE_S3_ACTIONS, ...EXPORT_ROLE_KMS_ACTIONS]), [], 'the export role lacks what RDS needs');
});

test('the Glue job role may do what the job does, in both Lake Formation modes, and nothing else', () => {
  assert.match(JSON.stringify(deployed('glue-trust')), /glue\.amazonaws\.com/);
  const glue = deployed('glue');
  for (const mode of ['iam', 'lakeformation'] as const) assert.deepEqual(missingRequired(glue, glueJobActions(mode)), [], `the Glue job role lacks what the job needs in ${mode} mode`);
  const known = new Set([...glueJobActions('iam'), ...glueJobActions('lakeformation'), ...glueJobDirectActions('secret'), ...glueJobDirectActions('iam')].map((r) => r.action));
  assert.deepEqual(allowedActions(glue).filter((action) => !known.has(action) && !(action in GLUE_EXTRAS)), [], 'the Glue job role allows actions the job does not use');
});

/**
 * Least privilege: the job reaches each lake table by name (Iceberg's GlueCatalog loads, creates
 * and commits it with GetTable, CreateTable and UpdateTable, and checks its namespace with
 * GetDatabase). Nothing in glue/ lists a namespace's tables (GlueCatalog.listTables, or
 * dropNamespace) or the catalog's databases, so the Glue job role is allowed neither, and the
 * doctor does not ask for them.
 */
test('the Glue job role may not list the lake tables or databases, which the job never does', () => {
  const listings = ['glue:GetTables', 'glue:GetDatabases'];
  const glue = allowedActions(deployed('glue'));
  assert.deepEqual(listings.filter((a) => covers(glue, a)), [], 'the Glue job role may list the catalog');
  const asked = [...glueJobActions('iam'), ...glueJobActions('lakeformation')].map((r) => r.action);
  assert.deepEqual(listings.filter((a) => asked.includes(a)), [], 'the doctor asks the Glue job role for a listing');
});

test('the KMS key policy leaves the worker to IAM, lets the export role encrypt and the Glue role decrypt', () => {
  const key = deployed('kms-key');
  assert.ok(allows(key, 'kms:CreateGrant', '*', `arn:aws:iam::${NAMES.accountId}:root`), "the key policy lacks the account statement that lets the worker's IAM policy grant the key");
  assert.ok(allows(deployed('worker'), 'kms:CreateGrant', KEY_ARN) && allows(deployed('worker'), 'kms:Decrypt', KEY_ARN), 'the worker policy does not grant the key');
  const exportKms = EXPORT_ROLE_KMS_ACTIONS.map((r) => ({ ...r, resources: ['*'] }));
  assert.deepEqual(missingRequired(key, exportKms, EXPORT_ROLE_ARN), [], 'key policy: the export role lacks actions');
  assert.ok(allows(key, 'kms:Decrypt', '*', GLUE_ROLE_ARN), 'key policy: the Glue role lacks kms:Decrypt');
});

test('in iam mode the readers may read the table bucket and write nothing', () => {
  const readers = deployed('table-bucket-readers', { LakeFormationMode: 'iam', ReaderPrincipalArns: 'arn:aws:iam::123456789012:role/analysts' });
  const table = `arn:aws:s3tables:${NAMES.region}:${NAMES.accountId}:bucket/${NAMES.tableBucket}/table/0f1e2d3c-aaaa-bbbb-cccc-000000000000`;
  for (const action of ['s3tables:GetTable', 's3tables:GetTableMetadataLocation', 's3tables:GetTableData']) assert.ok(allows(readers, action, table, 'role/analysts'), `readers lack ${action}`);
  assert.deepEqual(allowedActions(readers).filter((a) => !/^s3tables:(Get|List)/.test(a)), [], 'readers may write');
});

test('the lakesync query role reads the lake and writes nothing but its own query results', () => {
  const query = docsBlocks(readFileSync(join(repoRoot(), DOCS_FILE), 'utf8')).query as unknown as Policy;
  const allows = allowedActions(query);
  for (const action of ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'glue:GetTable', 'lakeformation:GetDataAccess', 's3:GetObject']) {
    assert.ok(covers(allows, action), `query role lacks ${action}`);
  }
  // Reads only: Get/List/Describe, running and stopping queries, and the result objects Athena writes.
  const writes = allows.filter((action) => !/^[a-z0-9]+:(Get|List|Describe)/.test(action) && !['athena:StartQueryExecution', 'athena:StopQueryExecution', 's3:PutObject', 's3:AbortMultipartUpload'].includes(action));
  assert.deepEqual(writes, [], 'the query role allows writes');
  const putsTo = query.Statement.filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('s3:PutObject')).map((s) => s.Resource);
  assert.deepEqual(putsTo, ['arn:aws:s3:::ATHENA_BUCKET/lakesync-query/*'], 'query results are the only objects the role writes');
  const denied = query.Statement.filter((s) => s.Effect === 'Deny').flatMap((s) => list(s.Action));
  for (const action of ['glue:CreateTable', 'glue:UpdateTable', 'glue:DeleteTable', 'glue:BatchDeleteTable', 's3tables:PutTableData', 's3tables:DeleteTable', 'lakeformation:GrantPermissions']) {
    assert.ok(covers(denied, action), `query role does not deny ${action}`);
  }
});

test("a DynamoDB source's worker may read, write and delete its manifests under the DynamoDB prefix, and export tables in their own region", () => {
  const prefix = 'lakesync/dynamodb';
  const manifests = new S3Manifests(undefined as never, NAMES.exportBucket, prefix, 'shop-ddb');
  const worker = deployed('worker', { DBInstanceId: '', DynamoDBExportPrefix: prefix, DynamoDBRegion: 'us-east-2' });
  for (const key of [CANCELLED_STATE_KEY, '7-abc/plan.json']) {
    const resource = `arn:aws:s3:::${manifests.ref(key).replace(/^s3:\/\//, '')}`;
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']) assert.ok(allows(worker, action, resource), `${action} on ${resource}`);
  }
  // The tables in another region than the lake: ExportTableToPointInTime on the table's own ARN.
  assert.ok(allows(worker, 'dynamodb:ExportTableToPointInTime', `arn:aws:dynamodb:us-east-2:${NAMES.accountId}:table/shop-orders`));
  assert.ok(!allows(worker, 'dynamodb:ExportTableToPointInTime', `arn:aws:dynamodb:eu-west-1:${NAMES.accountId}:table/shop-orders`), 'only the region given');
});

/**
 * Athena ("Considerations and limitations for querying data registered with Lake Formation": the
 * DESCRIBE permission is required on the default database) looks up the `default` database of the
 * account's catalog for a query on Lake Formation governed data: the doctor asks the worker's
 * glue:GetDatabase on it, as the shipped worker policy (CatalogReadForAthena) allows, or every
 * verification would fail with AccessDenied after the doctor passed.
 */
test("in lakeformation mode the doctor asks glue:GetDatabase on the account catalog's default database, which Athena looks up for the checks", () => {
  for (const kind of ['rds', 'dynamodb'] as const) {
    assert.ok(workerActions({ kind, mode: 'lakeformation', createTableBucket: false }).some((a) => a.action === 'glue:GetDatabase'), `glue:GetDatabase is asked of a ${kind} source`);
  }
  const resources = workerActions({ kind: 'rds', database: 'instance', mode: 'lakeformation', createTableBucket: false })
    .filter((a) => a.action === 'glue:GetDatabase')
    .flatMap((a) => a.resources.map((r) => resolveResource(r, NAMES)));
  assert.ok(resources.includes('arn:aws:glue:eu-west-1:123456789012:database/default'), `glue:GetDatabase is asked on ${resources.join(', ')}`);
  assert.ok(resources.includes('arn:aws:glue:eu-west-1:123456789012:catalog'), 'and on the catalog above it');
});

/**
 * The tag condition on DeleteDBSnapshot / DeleteDBClusterSnapshot ("rds:snapshot-tag/lakesync",
 * Service Authorization Reference, Amazon RDS: condition keys rds:snapshot-tag/${TagKey} and
 * rds:cluster-snapshot-tag/${TagKey}) limits deletion to snapshots carrying the tag. It limits
 * nothing while the same policy lets the worker put that tag on any snapshot: AddTagsToResource
 * (RDS "Tagging Amazon RDS resources": rds:AddTagsToResource on the resource's ARN) on
 * `snapshot:*` lets it tag someone else's manual snapshot `lakesync`, then delete it. lakesync's
 * own snapshots are named `lakesync-<source>-...` (src/ids.ts snapshotIdFor), so tagging and
 * deleting are held to those ARNs, while any snapshot of the database may still be read.
 */
test("the worker may tag and delete only lakesync's own snapshots, not any snapshot of the account", () => {
  const other = `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:snapshot:prod-before-migration`;
  const otherCluster = `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:cluster-snapshot:prod-before-migration`;
  const instance = deployed('worker');
  const cluster = deployed('worker', { DBInstanceId: '', DBClusterId: 'shop-cluster' });
  const taggable = [
    ...(allows(instance, 'rds:AddTagsToResource', other) && allows(instance, 'rds:DeleteDBSnapshot', other) ? [`instance source: AddTagsToResource and DeleteDBSnapshot on ${other}`] : []),
    ...(allows(cluster, 'rds:AddTagsToResource', otherCluster) && allows(cluster, 'rds:DeleteDBClusterSnapshot', otherCluster) ? [`cluster source: AddTagsToResource and DeleteDBClusterSnapshot on ${otherCluster}`] : []),
  ];
  assert.deepEqual(taggable, [], 'the worker can tag a snapshot it did not take "lakesync" and then delete it');
  // Its own snapshots it still creates, tags and deletes (the tag condition aside); any snapshot of the database it still reads (snapshot.mode existing).
  const own = `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:snapshot:${snapshotIdFor('shop', '12-0kqtjtssp7pma')}`;
  const ownCluster = `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:cluster-snapshot:${clusterSnapshotIdOf(snapshotIdFor('shop'.repeat(20), '12-0kqtjtssp7pma'))}`;
  for (const action of ['rds:CreateDBSnapshot', 'rds:AddTagsToResource', 'rds:DescribeDBSnapshots']) assert.ok(allows(instance, action, own), `${action} on ${own}`);
  assert.ok(allows(instance, 'rds:DeleteDBSnapshot', own), `rds:DeleteDBSnapshot on ${own}`);
  for (const action of ['rds:CreateDBClusterSnapshot', 'rds:AddTagsToResource', 'rds:DescribeDBClusterSnapshots']) assert.ok(allows(cluster, action, ownCluster), `${action} on ${ownCluster}`);
  assert.ok(allows(cluster, 'rds:DeleteDBClusterSnapshot', ownCluster), `rds:DeleteDBClusterSnapshot on ${ownCluster}`);
  assert.ok(allows(instance, 'rds:DescribeDBSnapshots', other) && allows(cluster, 'rds:DescribeDBClusterSnapshots', otherCluster), 'any snapshot of the database is read');
});

/**
 * A DynamoDB source has "no export role and no RDS" (docs/aws-setup.md section 9): lakesync never
 * calls RDS for `kind: dynamodb`. A stack for one (neither DBInstanceId nor DBClusterId) must not
 * give its worker the RDS statements: with rds:StartExportTask on "*" and iam:PassRole on the export
 * role (which writes under the export prefix the worker reads) it could export any snapshot of the
 * account, and read it.
 */
test("a DynamoDB-only stack's worker may call no RDS action and may not pass the export role, and still does all a DynamoDB source needs", () => {
  const parameters = { DBInstanceId: '', DBClusterId: '', CatalogSecretArn: '', CatalogDbUser: '', GlueConnectionName: '' };
  const worker = deployed('worker', parameters);
  const rdsActions = worker.Statement.filter((s) => s.Effect === 'Allow' && list(s.Action).some((a) => a.startsWith('rds:'))).map((s) => `${s.Sid}: ${list(s.Action).join(', ')} on ${list(s.Resource).join(', ')}`);
  assert.deepEqual(rdsActions, [], 'a DynamoDB-only worker may call RDS');
  assert.ok(!allows(worker, 'iam:PassRole', EXPORT_ROLE_ARN), 'a DynamoDB-only worker may pass the RDS export role');
  assert.ok(!allows(worker, 'rds:StartExportTask', `arn:aws:rds:${NAMES.region}:${NAMES.accountId}:snapshot:prod-before-migration`), 'a DynamoDB-only worker may export any snapshot');
  assert.deepEqual(allowedActions(deployed('doctor', parameters)).filter((a) => a.startsWith('rds:')), [], 'the doctor policy of a DynamoDB-only stack describes RDS databases');
  const names: ResourceNames = {
    ...NAMES,
    glueJob: defaultGlueJobName('shop-ddb'),
    glueRoleArn: GLUE_ROLE_ARN,
    workgroup: 'lakesync',
    athenaBucket: NAMES.scriptBucket,
    athenaOutput: `${NAMES.scriptBucket}/athena`,
    dynamodbRegion: NAMES.region,
    dynamodbTable: 'shop-orders',
    dynamodbExportBucket: NAMES.exportBucket,
    dynamodbExportPrefix: 'lakesync/dynamodb',
  };
  for (const mode of ['iam', 'lakeformation'] as const) {
    const required = [...workerActions({ kind: 'dynamodb', mode, createTableBucket: true }), ...dynamodbWorkerActions(true)];
    assert.deepEqual(missingRequired(worker, required.map((r) => ({ ...r, resources: r.resources.map((t) => resolveResource(t, names)) }))), [], `DynamoDB source, ${mode} mode`);
  }
});

/**
 * The artifact bucket holds the Glue scripts (aws.glue.scriptPrefix, lakesync/glue), the load files
 * (aws.glue.resultPrefix, lakesync/results: results, pack and arguments files) and the Athena query
 * results under athena/ (the workgroup's output location), where the results of `lakesync query`
 * may go as well. The job reads only the first two; Athena results are not its to read.
 */
test('the Glue job role reads the scripts and load files of the artifact bucket, not the Athena query results beside them', () => {
  const glue = deployed('glue');
  const object = (key: string) => `arn:aws:s3:::${NAMES.scriptBucket}/${key}`;
  const where = scriptLocations({ glue: { scriptBucket: NAMES.scriptBucket, scriptPrefix: NAMES.scriptPrefix } } as GlueSettings, '0123456789abcdef');
  for (const key of [where.entryKey, where.libraryKey, `${NAMES.resultPrefix}/shop/12-abc/orders.json`, `${NAMES.resultPrefix}/shop/12-abc/packs/p1.json`, `${NAMES.resultPrefix}/shop/12-abc/arguments/orders.json`]) {
    assert.ok(allows(glue, 's3:GetObject', object(key)), `the Glue job role may not read ${key}`);
  }
  const readable = ['athena/0f1e2d3c-aaaa-bbbb-cccc-000000000000.csv', 'lakesync-query/0f1e2d3c-aaaa-bbbb-cccc-000000000000.csv', 'other/file.json'].filter((key) => allows(glue, 's3:GetObject', object(key)));
  assert.deepEqual(readable, [], 'the Glue job role may read artifact bucket objects outside the scripts and result prefixes');
});
