/**
 * What the doctor simulates for the worker (WORKER_ACTIONS) against the S3 calls the Glue load
 * adapter makes on the script bucket: each call recorded (aws-sdk-client-mock), mapped to its IAM
 * action and object ARN, must be among the worker's actions on that resource. A HeadObject or
 * GetObject whose "no such object" answer the code relies on (404) needs s3:ListBucket on the
 * bucket too: without it S3 answers 403 for a missing key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetJobCommand, GetJobRunsCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { iamActionFor } from '../../src/aws/iam';
import { resolveResource, type ResourceNames, workerActions } from '../../src/aws/required-actions';
import type { LoadRequest, PackRequest } from '../../src/model';
import { planEntry } from '../helpers/plan';
import { awsError, mockedAws } from './mocks';

function wildcard(pattern: string, value: string): boolean {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(value);
}

test('the worker actions the doctor simulates cover the S3 calls of a load and of a pack on the script bucket', async () => {
  const { mocks, ports, settings } = mockedAws();
  // A first run: no scripts uploaded, no result or summary written yet.
  mocks.s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
  mocks.s3.on(GetObjectCommand).rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));
  mocks.s3.on(PutObjectCommand).resolves({});
  mocks.glue.on(GetJobCommand).rejects(awsError('EntityNotFoundException', 'Job not found'));
  mocks.glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });

  const base = { source: 'shop', cycleId: 'c1', runToken: 'c1:public.orders', database: 'shop', namespace: 'shop', plan: planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', primaryKey: ['id'] }) };
  const load: LoadRequest = { ...base, exportId: 'ls-shop-c1', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: 's3://shop-exports/lakesync/exports/ls-shop-c1', resultLocation: ports.load.resultLocation(base) };
  await ports.load.startLoad(load);
  await ports.load.readResult(load.resultLocation);
  // A table whose arguments are too long for its run: its arguments file beside the results.
  const columns = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`column_${i}`, { rename: `lake_column_${i}` }]));
  const wideBase = { ...base, runToken: 'c1:public.wide', plan: planEntry({ table: 'public.wide', lakeTable: 'wide', action: 'merge', primaryKey: ['id'], columns }) };
  await ports.load.startLoad({ ...load, ...wideBase, resultLocation: ports.load.resultLocation(wideBase) });
  assert.ok(mocks.s3.commandCalls(PutObjectCommand).some((c) => c.args[0].input.Key?.includes('/arguments/public.wide.json')), 'the arguments file was written');
  const packs = ports.load.packs!;
  const pack: PackRequest = { source: 'shop', cycleId: 'c1', packToken: 'c1-pack-1', loads: [load], summaryLocation: packs.summaryLocation('shop', 'c1', 'c1-pack-1') };
  await packs.startPack(pack);
  await packs.readSummary(pack.summaryLocation);

  const names: ResourceNames = {
    partition: 'aws',
    region: settings.region,
    accountId: settings.accountId,
    exportBucket: settings.export.bucket,
    exportPrefix: settings.export.prefix,
    scriptBucket: settings.glue.scriptBucket,
    scriptPrefix: settings.glue.scriptPrefix,
    resultPrefix: settings.glue.resultPrefix,
    tableBucket: settings.tableBucket.name,
    namespace: 'shop',
    keyId: 'key',
    dbInstance: 'shop-db',
    snapshotId: 'lakesync-shop-doctor',
    glueJob: settings.glue.jobName,
    glueRoleArn: settings.glue.roleArn,
    workgroup: settings.athena.workgroup,
    athenaBucket: 'shop-athena',
    athenaOutput: 'shop-athena/results',
  };
  const granted = workerActions({ kind: 'rds', database: 'instance', mode: 'lakeformation', createTableBucket: false }).flatMap((a) => a.resources.map((r) => ({ action: a.action, resource: resolveResource(r, names) })));
  const allowed = (action: string, resource: string) => granted.some((g) => g.action === action && wildcard(g.resource, resource));

  const needed = new Map<string, string>();
  for (const command of [HeadObjectCommand, GetObjectCommand, PutObjectCommand] as const) {
    for (const call of mocks.s3.commandCalls(command as never)) {
      const input = call.args[0].input as { Bucket: string; Key: string };
      const operation = command.name.replace(/Command$/, '');
      needed.set(`${iamActionFor('S3', operation)} on arn:aws:s3:::${input.Bucket}/${input.Key}`, operation);
      // The code reads a missing object as "not there yet" (404), which S3 answers only with ListBucket.
      if (operation !== 'PutObject') needed.set(`s3:ListBucket on arn:aws:s3:::${input.Bucket}`, `${operation} of a missing key`);
    }
  }
  assert.ok(needed.size >= 5, `the calls were recorded: ${[...needed.keys()].join(', ')}`);
  const missing = [...needed].filter(([need]) => {
    const [action, resource] = need.split(' on ');
    return !allowed(action!, resource!);
  });
  assert.deepEqual(missing, [], 'WORKER_ACTIONS (what lakesync doctor simulates for the worker) lacks what these calls need');
});

test("the worker actions the doctor simulates cover retention's deletion of an older cycle's manifests and Glue load files", async () => {
  const { mocks, ports, settings } = mockedAws();
  const cycle = '1-0g8zvhhi9rtt3';
  mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
  mocks.s3.on(ListObjectsV2Command).callsFake((input: { Bucket: string; Prefix: string; Delimiter?: string }) =>
    input.Delimiter ? { CommonPrefixes: [{ Prefix: `${input.Prefix}${cycle}/` }] } : { Contents: [{ Key: `${input.Prefix}plan.json` }, { Key: `${input.Prefix}packs/${cycle}-pack-x.json` }] },
  );
  mocks.s3.on(DeleteObjectsCommand).resolves({});
  assert.deepEqual((await ports.retention.listCycleFiles!(() => true)).map((c) => c.id), [cycle]);
  assert.deepEqual(await ports.retention.deleteCycleFiles!(cycle), { deleted: true });

  const names: ResourceNames = {
    partition: 'aws',
    region: settings.region,
    accountId: settings.accountId,
    exportBucket: settings.export.bucket,
    exportPrefix: settings.export.prefix,
    scriptBucket: settings.glue.scriptBucket,
    scriptPrefix: settings.glue.scriptPrefix,
    resultPrefix: settings.glue.resultPrefix,
    tableBucket: settings.tableBucket.name,
    namespace: 'shop',
    keyId: 'key',
    dbInstance: 'shop-db',
    snapshotId: 'lakesync-shop-doctor',
    glueJob: settings.glue.jobName,
    glueRoleArn: settings.glue.roleArn,
    workgroup: settings.athena.workgroup,
    athenaBucket: 'shop-athena',
    athenaOutput: 'shop-athena/results',
  };
  const granted = workerActions({ kind: 'rds', database: 'instance', mode: 'lakeformation', createTableBucket: false }).flatMap((a) => a.resources.map((r) => ({ action: a.action, resource: resolveResource(r, names) })));
  const allowed = (action: string, resource: string) => granted.some((g) => g.action === action && wildcard(g.resource, resource));
  const needed = new Set<string>();
  for (const call of mocks.s3.commandCalls(ListObjectsV2Command)) needed.add(`s3:ListBucket on arn:aws:s3:::${call.args[0].input.Bucket}`);
  for (const call of mocks.s3.commandCalls(DeleteObjectsCommand)) {
    for (const o of call.args[0].input.Delete?.Objects ?? []) needed.add(`${iamActionFor('S3', 'DeleteObjects')} on arn:aws:s3:::${call.args[0].input.Bucket}/${o.Key}`);
  }
  assert.ok([...needed].some((n) => n.startsWith(`s3:DeleteObject on arn:aws:s3:::${settings.glue.scriptBucket}/`)), `the Glue load files were deleted: ${[...needed].join(', ')}`);
  const missing = [...needed].filter((need) => {
    const [action, resource] = need.split(' on ');
    return !allowed(action!, resource!);
  });
  assert.deepEqual(missing, [], 'WORKER_ACTIONS (what lakesync doctor simulates for the worker) lacks what these calls need');
});
