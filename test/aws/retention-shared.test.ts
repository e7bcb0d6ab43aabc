/**
 * Retention on moto server over HTTP with two sources sharing one RDS instance, one export bucket
 * and one prefix, named so that one's name starts with the other's (`shop`, `shop-2`), with cycle
 * numbers that start with one another's (1, 10, 11, 12), and every listing cut into small pages
 * (ListObjectsV2 MaxKeys 2, DescribeDBSnapshots MaxRecords 20): one source's retention deletes
 * exactly its own oldest snapshots and exports, every file of them, and nothing of the other's.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateDBInstanceCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { retentionActivities } from '../../src/activities/retention';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import { cycleKey, exportIdFor, snapshotIdFor } from '../../src/ids';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, exportFiles, glueScriptsFixture, REGION, SCRIPT_BUCKET } from './fixtures';

const PREFIX = 'lakesync/exports';
const RUN_ID = '0190f5b2-7c1e-7d2a-9c4e-1234567890ab';
const N = 2;
const CYCLES = 12;

let moto: MotoServer;
const clients: Record<string, AwsClients> = {};
const ports: Record<string, Ports> = {};
const pages = { s3: 0, rds: 0 };

before(async () => {
  useTestCredentials();
  moto = await startMoto();
  for (const name of ['shop', 'shop-2']) {
    const settings = awsSettings(name, source(), { glueScriptsDir: glueScriptsFixture() });
    const c = createClients(settings);
    // Small pages: a listing that reads only the first page misses (or mis-ages) what the next ones hold.
    c.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ListObjectsV2Command') {
          (args.input as { MaxKeys?: number }).MaxKeys = 2;
          pages.s3++;
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    c.rds.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DescribeDBSnapshotsCommand') {
          (args.input as { MaxRecords?: number }).MaxRecords = 20;
          pages.rds++;
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    clients[name] = c;
    ports[name] = buildAwsPorts(settings, c);
  }
  const c = clients.shop!;
  for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET]) await c.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await c.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));
});

after(async () => {
  for (const c of Object.values(clients)) destroyClients(c);
  await moto?.stop();
});

function source() {
  return awsSource({ endpoint: moto.endpoint, raw: { retention: { snapshots: N, exports: N } } });
}

const ids = (name: string, n: number) => ({ snapshotId: snapshotIdFor(name, cycleKey(n, RUN_ID)), exportId: exportIdFor(name, cycleKey(n, RUN_ID)) });

/** One cycle's snapshot and export (each export with a few files, more than a page); then the source's retention when `retain`. */
async function cycle(name: string, n: number, retain: boolean) {
  const cycleId = cycleKey(n, RUN_ID);
  const { snapshotId, exportId } = ids(name, n);
  const p = ports[name]!;
  const snapshot = await p.snapshot.startSnapshot({ source: name, snapshotId, mode: 'create' });
  await p.export.startExport({ source: name, exportId, snapshot });
  for (const f of exportFiles(PREFIX, exportId)) await clients[name]!.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
  for (const part of [1, 2, 3]) await clients[name]!.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: `${PREFIX}/${exportId}/shop/public.orders/${part}/part-0000${part}.parquet`, Body: 'x' }));
  if (!retain) return undefined;
  const config = { temporal: { taskQueue: 'q', namespace: 'default' }, sources: { [name]: source() } };
  return retentionActivities({ config, portsFor: () => p } as never).applyRetention({ source: name, cycleId, keep: { snapshotIds: [snapshotId], exportIds: [exportId] } });
}

async function snapshots(): Promise<string[]> {
  const out: string[] = [];
  let marker: string | undefined;
  do {
    const page = await clients.shop!.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'shop-db', ...(marker ? { Marker: marker } : {}) }));
    out.push(...(page.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier!));
    marker = page.Marker;
  } while (marker);
  return out.sort();
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.shop!.s3.send(new ListObjectsV2Command({ Bucket: EXPORT_BUCKET, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    out.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

test("sources `shop` and `shop-2` share the instance, bucket and prefix: shop's retention deletes only shop's oldest, all of their files, across many pages", { timeout: 300_000 }, async () => {
  // shop-2 first, all its cycles, never retained here: none of its snapshots or files may go.
  for (let n = 1; n <= CYCLES; n++) await cycle('shop-2', n, false);
  const shop2Snapshots = (await snapshots()).filter((s) => s.startsWith('lakesync-shop-2-'));
  const shop2Keys = await keys(`${PREFIX}/ls-shop-2-`);
  assert.equal(shop2Snapshots.length, CYCLES);

  for (let n = 1; n <= CYCLES; n++) {
    pages.s3 = 0;
    pages.rds = 0;
    const outcome = await cycle('shop', n, true);
    const expected = n > N ? [n - N] : [];
    assert.deepEqual(outcome?.deleted, { snapshots: expected.map((k) => ids('shop', k).snapshotId), exports: expected.map((k) => ids('shop', k).exportId) }, `cycle ${n}`);
    assert.deepEqual(outcome?.failed, [], `cycle ${n}`);
    assert.ok(pages.s3 > 1, `cycle ${n}: S3 listed in pages`);
    if (n + CYCLES > 20) assert.ok(pages.rds > 1, `cycle ${n}: RDS listed in pages`);
  }

  const left = await snapshots();
  assert.deepEqual(left.filter((s) => s.startsWith('lakesync-shop-2-')), shop2Snapshots, "shop-2's snapshots are all there");
  assert.deepEqual(
    left.filter((s) => !s.startsWith('lakesync-shop-2-')),
    [CYCLES - 1, CYCLES].map((n) => ids('shop', n).snapshotId).sort(),
    "shop keeps its newest N (cycles 11 and 12, not 1 nor 10's look-alikes)",
  );
  assert.deepEqual(await keys(`${PREFIX}/ls-shop-2-`), shop2Keys, "every file of shop-2's exports is there");
  for (let n = 1; n <= CYCLES - N; n++) assert.deepEqual(await keys(`${PREFIX}/${ids('shop', n).exportId}/`), [], `every file of shop's export ${n} is gone`);
  for (const n of [CYCLES - 1, CYCLES]) assert.equal((await keys(`${PREFIX}/${ids('shop', n).exportId}/`)).length > 3, true);
});
