/**
 * S3 Tables names ("Amazon S3 table bucket, table, and namespace naming rules") and the Glue job
 * name of each source, checked in the config before any AWS call.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CreateJobCommand, GetJobCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { awsSettings } from '../../src/backends/aws';
import { glueRunUrl } from '../../src/cli/links';
import { sourceSchema } from '../../src/config/schema';
import { isValidLakeName, tableBucketNameProblem } from '../../src/names';
import { planEntry } from '../helpers/plan';
import { awsSource } from './fixtures';
import { awsError, mockedAws } from './mocks';

/** The messages of the config issues at `path` (dotted) when `raw` overrides the fixture source. */
function issuesAt(path: string, patch: (raw: Record<string, any>) => void): string[] {
  const raw = JSON.parse(JSON.stringify(awsSource())) as Record<string, any>;
  patch(raw);
  const parsed = sourceSchema.safeParse(raw);
  if (parsed.success) return [];
  return parsed.error.issues.filter((i) => i.path.join('.') === path).map((i) => i.message);
}

test('lake names (namespaces, tables) must end with a letter or digit', () => {
  for (const name of ['orders_', 'a_', '_a']) assert.equal(isValidLakeName(name), false, name);
  for (const name of ['a', 'orders', 'order_items', '9', 'a'.repeat(255)]) assert.equal(isValidLakeName(name), true, name);
  assert.equal(isValidLakeName('a'.repeat(256)), false);
  const [message] = issuesAt('target.namespace', (raw) => (raw.target.namespace = 'shop_'));
  assert.match(message ?? '', /starting and ending with a letter or digit/);
  assert.match(issuesAt('tables.public.orders.lakeName', (raw) => (raw.tables['public.orders'].lakeName = 'orders_'))[0] ?? '', /ending with a letter or digit/);
});

test('namespaces may not start with the reserved prefix aws', () => {
  assert.match(issuesAt('target.namespace', (raw) => (raw.target.namespace = 'aws_lake'))[0] ?? '', /must not start with "aws"/);
  assert.deepEqual(issuesAt('target.namespace', (raw) => (raw.target.namespace = 'shop_aws')), []);
});

test('table bucket names: the reserved prefixes and suffixes of S3 Tables are refused with the rule named', () => {
  const refused: [string, RegExp][] = [
    ['xn--lake', /must not start with "xn--"/],
    ['sthree-lake', /must not start with "sthree-"/],
    ['amzn-s3-demo-lake', /must not start with "amzn-s3-demo-"/],
    ['awslake', /must not start with "aws"/],
    ['lake-s3alias', /must not end with "-s3alias"/],
    ['lake--ol-s3', /must not end with "--ol-s3"/],
    ['lake--x-s3', /must not end with "--x-s3"/],
    ['lake--table-s3', /must not end with "--table-s3"/],
    ['Lake', /3-63 lowercase letters, digits or hyphens/],
    ['la', /3-63/],
    ['lake-', /ending with a letter or digit/],
  ];
  for (const [name, message] of refused) {
    assert.match(tableBucketNameProblem(name) ?? '', message, name);
    assert.match(issuesAt('aws.tableBucket.name', (raw) => (raw.aws.tableBucket.name = name))[0] ?? '', message, name);
  }
  for (const name of ['shop-lake', 'lake-aws', 'my-s3alias-lake', 'a1b']) assert.equal(tableBucketNameProblem(name), undefined, name);
});

test('each source gets its own Glue job by default; an explicit aws.glue.jobName is kept', () => {
  const base = awsSource();
  assert.equal(awsSettings('shop', base, { glueScriptsDir: '/x' }).glue.jobName, 'lakesync-load-shop');
  assert.equal(awsSettings('billing', base, { glueScriptsDir: '/x' }).glue.jobName, 'lakesync-load-billing');
  const named = awsSource({ raw: { aws: { ...base.aws, glue: { ...base.aws!.glue, jobName: 'team-load' } } } });
  assert.equal(awsSettings('shop', named, { glueScriptsDir: '/x' }).glue.jobName, 'team-load');
});

test("aws.glue.jobName as the stack's GlueJobName output gives it ({source}: the source's name), one job per source", () => {
  const base = awsSource();
  const templated = awsSource({ raw: { aws: { ...base.aws, glue: { ...base.aws!.glue, jobName: 'corp-load-{source}' } } } });
  assert.equal(awsSettings('shop', templated, { glueScriptsDir: '/x' }).glue.jobName, 'corp-load-shop');
  assert.equal(awsSettings('billing', templated, { glueScriptsDir: '/x' }).glue.jobName, 'corp-load-billing');
  assert.match(glueRunUrl(templated, 'jr_1', 'billing') ?? '', /#\/job\/corp-load-billing\/run\/jr_1$/);
});

test("two sources' workers create and run two jobs, so neither overwrites the other's role and sizing", async () => {
  const jobs: string[] = [];
  for (const source of ['shop', 'billing']) {
    const { mocks, ports, settings } = mockedAws();
    // mockedAws resolves the source "shop": resolve the other one as its worker would.
    Object.assign(settings.glue, { jobName: awsSettings(source, awsSource(), { glueScriptsDir: settings.glue.scriptsDir }).glue.jobName });
    mocks.s3.on(PutObjectCommand).resolves({});
    mocks.glue.on(GetJobCommand).rejects(awsError('EntityNotFoundException', 'no job'));
    mocks.glue.on(CreateJobCommand).resolves({});
    mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
    await ports.load.startLoad({
      source,
      cycleId: 'c1',
      runToken: 'c1:public.orders',
      exportId: 'ls-1',
      snapshotTime: '2025-01-01T00:00:00Z',
      exportLocation: 's3://shop-exports/lakesync/exports/ls-1',
      database: 'shop',
      namespace: 'shop',
      plan: planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'create' }),
      resultLocation: 's3://shop-glue/r.json',
    });
    const created = mocks.glue.commandCalls(CreateJobCommand)[0]!.args[0].input.Name!;
    assert.equal(mocks.glue.commandCalls(StartJobRunCommand)[0]!.args[0].input.JobName, created);
    jobs.push(created);
  }
  assert.deepEqual(jobs, ['lakesync-load-shop', 'lakesync-load-billing']);
});
