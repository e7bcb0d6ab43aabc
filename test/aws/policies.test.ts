/**
 * docs/aws-setup.md against the code: lists the SDK commands src/aws sends, maps each to its IAM
 * action, and fails if the worker policy lacks one or allows an action nothing needs. The
 * other policies are checked for the calls RDS and the Glue job make with them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AwsService, iamActionFor } from '../../src/aws/iam';
import { repoRoot } from '../../src/toolchain';

const CLIENT_SERVICE: Record<string, AwsService> = { rds: 'RDS', s3: 'S3', glue: 'Glue', s3tables: 'S3Tables', lakeformation: 'LakeFormation', athena: 'Athena' };

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
};

interface Statement {
  Effect: string;
  Action: string | string[];
  Principal?: unknown;
  Resource?: unknown;
}

function commandsSent(): { service: AwsService; operation: string; file: string }[] {
  const dir = join(repoRoot(), 'src', 'aws');
  const found: { service: AwsService; operation: string; file: string }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const match of text.matchAll(/import\s*{([^}]*)}\s*from\s*'@aws-sdk\/client-([a-z0-9]+)'/g)) {
      const service = CLIENT_SERVICE[match[2]!];
      assert.ok(service, `${file} imports an SDK client policies.test.ts does not know: ${match[2]}`);
      for (const raw of match[1]!.split(',')) {
        const name = raw.trim();
        if (name.startsWith('type ') || !name.endsWith('Command')) continue;
        assert.match(text, new RegExp(`new ${name}\\(`), `${file} imports ${name} without sending it`);
        found.push({ service, operation: name.slice(0, -'Command'.length), file });
      }
    }
  }
  return found;
}

function policies(): Record<string, { Statement: Statement[] }> {
  const doc = readFileSync(join(repoRoot(), 'docs', 'aws-setup.md'), 'utf8');
  const out: Record<string, { Statement: Statement[] }> = {};
  for (const match of doc.matchAll(/<!-- policy: ([a-z-]+) -->\s*```json\n([\s\S]*?)```/g)) {
    const parsed = JSON.parse(match[2]!) as { Version: string; Statement: Statement[] };
    assert.equal(parsed.Version, '2012-10-17', `policy ${match[1]} has the wrong Version`);
    out[match[1]!] = parsed;
  }
  return out;
}

function allowed(policy: { Statement: Statement[] }, principal?: string): string[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && (!principal || JSON.stringify(s.Principal ?? '').includes(principal))).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

function covers(patterns: string[], action: string): boolean {
  return patterns.some((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i').test(action));
}

test('the scan finds the commands of every adapter', () => {
  const ops = new Set(commandsSent().map((c) => `${c.service}:${c.operation}`));
  for (const expected of ['RDS:CreateDBSnapshot', 'RDS:StartExportTask', 'S3:ListObjectsV2', 'Glue:GetJobRuns', 'Glue:BatchStopJobRun', 'S3Tables:CreateNamespace', 'LakeFormation:BatchGrantPermissions', 'Athena:GetQueryResults']) {
    assert.ok(ops.has(expected), `expected ${expected} among ${[...ops].join(', ')}`);
  }
});

test('the worker policy allows every IAM action the adapters need, and nothing else', () => {
  const worker = allowed(policies().worker!);
  const needed = new Map(commandsSent().map((c) => [iamActionFor(c.service, c.operation), `${c.service} ${c.operation} (src/aws/${c.file})`]));
  const missing = [...needed].filter(([action]) => !covers(worker, action)).map(([action, why]) => `${action} for ${why}`);
  assert.deepEqual(missing, [], 'docs/aws-setup.md worker policy lacks actions');
  const missingExtras = Object.entries(WORKER_EXTRAS).filter(([action]) => !covers(worker, action));
  assert.deepEqual(missingExtras, [], 'docs/aws-setup.md worker policy lacks actions the calls need indirectly');
  const unneeded = worker.filter((action) => !needed.has(action) && !(action in WORKER_EXTRAS));
  assert.deepEqual(unneeded, [], 'docs/aws-setup.md worker policy allows actions no call needs');
});

test('the export role is trusted by RDS export and may write the export and use the key', () => {
  const all = policies();
  assert.match(JSON.stringify(all['export-trust']), /export\.rds\.amazonaws\.com/);
  const exportRole = allowed(all.export!);
  for (const action of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:ListBucket', 's3:GetBucketLocation', 'kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant', 'kms:DescribeKey', 'kms:RetireGrant']) {
    assert.ok(covers(exportRole, action), `export role lacks ${action}`);
  }
});

test('the Glue job role may read the export, write results and lake tables, and get Lake Formation data access', () => {
  const all = policies();
  assert.match(JSON.stringify(all['glue-trust']), /glue\.amazonaws\.com/);
  const glue = allowed(all.glue!);
  for (const action of ['s3:GetObject', 's3:ListBucket', 's3:PutObject', 'kms:Decrypt', 'glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable', 'lakeformation:GetDataAccess', 'logs:PutLogEvents']) {
    assert.ok(covers(glue, action), `Glue job role lacks ${action}`);
  }
});

test('the KMS key policy lets the worker start exports, the export role encrypt and the Glue role decrypt', () => {
  const key = policies()['kms-key']!;
  const worker = allowed(key, 'role/lakesync-worker');
  for (const action of ['kms:CreateGrant', 'kms:DescribeKey', 'kms:Decrypt']) assert.ok(covers(worker, action), `key policy: worker lacks ${action}`);
  const exportRole = allowed(key, 'role/lakesync-export');
  for (const action of ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey']) assert.ok(covers(exportRole, action), `key policy: export role lacks ${action}`);
  assert.ok(covers(allowed(key, 'role/lakesync-glue'), 'kms:Decrypt'), 'key policy: Glue role lacks kms:Decrypt');
});

test('the lakesync query role reads the lake and writes nothing but its own query results', () => {
  const query = policies().query!;
  const allows = allowed(query);
  for (const action of ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'glue:GetTable', 'lakeformation:GetDataAccess', 's3:GetObject']) {
    assert.ok(covers(allows, action), `query role lacks ${action}`);
  }
  // Reads only: Get/List/Describe, running and stopping queries, and the result objects Athena writes.
  const writes = allows.filter((action) => !/^[a-z0-9]+:(Get|List|Describe)/.test(action) && !['athena:StartQueryExecution', 'athena:StopQueryExecution', 's3:PutObject', 's3:AbortMultipartUpload'].includes(action));
  assert.deepEqual(writes, [], 'the query role allows writes');
  const putsTo = query.Statement.filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('s3:PutObject')).map((s) => s.Resource);
  assert.deepEqual(putsTo, ['arn:aws:s3:::ATHENA_BUCKET/lakesync-query/*'], 'query results are the only objects the role writes');
  const denied = query.Statement.filter((s) => s.Effect === 'Deny').flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  for (const action of ['glue:CreateTable', 'glue:UpdateTable', 'glue:DeleteTable', 'glue:BatchDeleteTable', 's3tables:PutTableData', 's3tables:DeleteTable', 'lakeformation:GrantPermissions']) {
    assert.ok(covers(denied, action), `query role does not deny ${action}`);
  }
});
