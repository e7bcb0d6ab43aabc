/**
 * Retention on moto server over HTTP: the AWS ports take a snapshot and start an export per cycle
 * (the test writes the export's files, which moto's export tasks do not), then the retention
 * activity runs as at the end of a cycle. Cycles 1..N keep everything; cycle N+1 deletes the oldest
 * snapshot and export and nothing else; a snapshot without lakesync's tag is never deleted; an
 * export a failed table's rerun needs is kept. Then each cycle's working files (its manifests and
 * Glue load files): those of the older cycles go, those of the source and of other sources stay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { retentionActivities } from '../../src/activities/retention';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import { cycleKey, exportIdFor, snapshotIdFor } from '../../src/ids';
import type { Ports } from '../../src/ports';
import { initialState, rerunNeeds } from '../../src/workflows/ledger';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, exportFiles, glueScriptsFixture, REGION, SCRIPT_BUCKET } from './fixtures';

const PREFIX = 'lakesync/exports';
const RUN_ID = '0190f5b2-7c1e-7d2a-9c4e-1234567890ab';
const N = 2;
/** Taken by hand, named like lakesync's snapshots, without the lakesync tag. */
const USER_SNAPSHOT = snapshotIdFor('shop', cycleKey(0, RUN_ID));
/** Tagged like lakesync's, but not an id lakesync derives for the source. */
const TAGGED_OTHER = 'lakesync-shop-before-upgrade';

describe('retention on moto', () => {
  let moto: MotoServer;
  let clients: AwsClients;
  let ports: Ports;
  const source = () => awsSource({ endpoint: moto.endpoint, raw: { retention: { snapshots: N, exports: N } } });
  const activity = () => retentionActivities({ config: { temporal: { taskQueue: 'q', namespace: 'default' }, sources: { shop: source() } }, portsFor: () => ports }).applyRetention;
  const state = initialState();

  before(async () => {
    useTestCredentials();
    moto = await startMoto();
    const settings = awsSettings('shop', source(), { glueScriptsDir: glueScriptsFixture() });
    clients = createClients(settings);
    ports = buildAwsPorts(settings, clients);
    for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET]) await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    await clients.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: USER_SNAPSHOT }));
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: TAGGED_OTHER, Tags: [{ Key: 'lakesync', Value: 'snapshot' }] }));
    // Other objects under the export prefix: the manifests and a folder lakesync did not write.
    await clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: `${PREFIX}/lakesync-manifests/shop/known-tables.json`, Body: '{}' }));
    await clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: `${PREFIX}/hand-made/notes.txt`, Body: 'keep me' }));
  });
  after(async () => {
    if (clients) destroyClients(clients);
    await moto?.stop();
  });

  const ids = (n: number) => ({ snapshotId: snapshotIdFor('shop', cycleKey(n, RUN_ID)), exportId: exportIdFor('shop', cycleKey(n, RUN_ID)) });

  /** One cycle's snapshot and export through the ports, then retention as the cycle ends it. */
  async function cycle(n: number) {
    const cycleId = cycleKey(n, RUN_ID);
    const { snapshotId, exportId } = ids(n);
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId, mode: 'create' });
    await ports.export.startExport({ source: 'shop', exportId, snapshot });
    for (const f of exportFiles(PREFIX, exportId)) await clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
    const needs = rerunNeeds(state);
    return activity()({ source: 'shop', cycleId, keep: { snapshotIds: [snapshotId, ...needs.snapshotIds], exportIds: [exportId, ...needs.exportIds] } });
  }

  async function snapshots(): Promise<string[]> {
    const out = await clients.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'shop-db' }));
    return (out.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier!).sort();
  }

  async function exportFolders(): Promise<string[]> {
    const out = await clients.s3.send(new ListObjectsV2Command({ Bucket: EXPORT_BUCKET, Prefix: `${PREFIX}/`, Delimiter: '/' }));
    return (out.CommonPrefixes ?? []).map((p) => p.Prefix!.slice(PREFIX.length + 1, -1)).sort();
  }

  test(`cycles 1..${N} delete nothing; cycle ${N + 1} deletes the oldest snapshot and export and nothing else`, async () => {
    for (let n = 1; n <= N; n++) {
      const outcome = await cycle(n);
      assert.deepEqual(outcome, { deleted: { snapshots: [], exports: [] }, deferred: [], failed: [] }, `cycle ${n}`);
    }
    const snapshotsBefore = await snapshots();
    const foldersBefore = await exportFolders();
    const outcome = await cycle(N + 1);
    assert.deepEqual(outcome, { deleted: { snapshots: [ids(1).snapshotId], exports: [ids(1).exportId] }, deferred: [], failed: [] });
    assert.deepEqual(await snapshots(), [...snapshotsBefore.filter((s) => s !== ids(1).snapshotId), ids(N + 1).snapshotId].sort());
    assert.deepEqual(await exportFolders(), [...foldersBefore.filter((f) => f !== ids(1).exportId), ids(N + 1).exportId].sort());
    const left = await clients.s3.send(new ListObjectsV2Command({ Bucket: EXPORT_BUCKET, Prefix: `${PREFIX}/${ids(1).exportId}/` }));
    assert.equal(left.KeyCount ?? 0, 0, 'every file of the oldest export is gone');
  });

  test("a snapshot without lakesync's tag, or with it under another name, is never deleted; other folders stay", async () => {
    const all = await snapshots();
    assert.ok(all.includes(USER_SNAPSHOT), 'the untagged snapshot named like lakesync stays');
    assert.ok(all.includes(TAGGED_OTHER), 'a tagged snapshot with another name stays');
    const folders = await exportFolders();
    assert.ok(folders.includes('lakesync-manifests') && folders.includes('hand-made'));
  });

  test('the export (and snapshot) a failed table still needs for its rerun is kept past N', async () => {
    // public.orders failed on cycle 3's export, as the ledger books it.
    const failedOn = ids(N + 1);
    state.exports[failedOn.exportId] = {
      cycleId: cycleKey(N + 1, RUN_ID),
      snapshot: { snapshotId: failedOn.snapshotId, createdAt: new Date().toISOString(), adopted: false },
      export: { exportId: failedOn.exportId, location: `s3://${EXPORT_BUCKET}/${PREFIX}/${failedOn.exportId}`, snapshotId: failedOn.snapshotId, adopted: false },
    };
    state.failed['public.orders'] = { cycleId: cycleKey(N + 1, RUN_ID), phase: 'load', message: 'cast failed', exportId: failedOn.exportId };
    assert.deepEqual((await cycle(N + 2)).deleted, { snapshots: [ids(N).snapshotId], exports: [ids(N).exportId] });
    // Past the newest N (cycles N+2, N+3), cycle N+1's would go: the rerun keeps it.
    assert.deepEqual((await cycle(N + 3)).deleted, { snapshots: [], exports: [] });
    assert.ok((await snapshots()).includes(failedOn.snapshotId));
    assert.ok((await exportFolders()).includes(failedOn.exportId));
    const ref = { exportId: failedOn.exportId, location: `s3://${EXPORT_BUCKET}/${PREFIX}/${failedOn.exportId}`, snapshotId: failedOn.snapshotId, adopted: false };
    assert.equal(await ports.discover.exportAvailable(ref), true, 'a rerun can still reuse it');

    // Once the table is rerun and committed, the next cycle deletes it.
    delete state.failed['public.orders'];
    assert.deepEqual((await cycle(N + 4)).deleted, { snapshots: [failedOn.snapshotId, ids(N + 2).snapshotId], exports: [failedOn.exportId, ids(N + 2).exportId] });
    assert.equal(await ports.discover.exportAvailable(ref), false);
  });
  test("each cycle's manifests and Glue load files go past the newest N (an earlier workflow chain's first); the source's own documents and other sources' stay", async () => {
    const run = '0190f5b2-aaaa-7d2a-9c4e-1234567890ab';
    const cycle = (n: number) => cycleKey(n, run);
    const manifests = `${PREFIX}/lakesync-manifests/shop`;
    const results = 'lakesync/results/shop';
    const put = (bucket: string, key: string) => clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{}' }));
    for (let n = 1; n <= 5; n++) {
      for (const doc of ['plan.json', 'discovery.json', 'export.json', 'plan-items/0.json', 'outcomes/0.json']) await put(EXPORT_BUCKET, `${manifests}/${cycle(n)}/${doc}`);
      for (const doc of ['public.orders.json', 'arguments/public.orders.json', `packs/${cycle(n)}-pack-x.json`]) await put(SCRIPT_BUCKET, `${results}/${cycle(n)}/${doc}`);
    }
    // Cycle 1 has more files than one DeleteObjects takes.
    await Promise.all(Array.from({ length: 1001 }, (_, i) => put(EXPORT_BUCKET, `${manifests}/${cycle(1)}/recovered-outcomes/${i}.json`)));
    const stays = [
      [EXPORT_BUCKET, `${manifests}/source-tables.json`],
      [EXPORT_BUCKET, `${manifests}/source-state/cancelled.json`],
      [EXPORT_BUCKET, `${manifests}/source-state/${run}/1/0.json`],
      [EXPORT_BUCKET, `${manifests}/namespaces/shop/created-hook-pending.json`],
      // Another source, and a name that is no cycle id.
      [EXPORT_BUCKET, `${PREFIX}/lakesync-manifests/shop2/${cycle(1)}/plan.json`],
      [EXPORT_BUCKET, `${manifests}/1-UPPER/plan.json`],
      [SCRIPT_BUCKET, `lakesync/results/shop2/${cycle(1)}/public.orders.json`],
    ] as const;
    for (const [bucket, key] of stays) await put(bucket, key);
    // A cycle of an earlier life of this source (a workflow chain started before, its own hash): older than this chain's cycles.
    const earlier = cycleKey(7, 'another-run');
    await put(EXPORT_BUCKET, `${manifests}/${earlier}/plan.json`);
    await put(SCRIPT_BUCKET, `${results}/${earlier}/public.orders.json`);
    const out = await activity()({ source: 'shop', cycleId: cycle(5), keep: { snapshotIds: [], exportIds: [] } });
    assert.deepEqual(out.failed, []);
    assert.deepEqual(out.deleted.cycles, [earlier, cycle(1), cycle(2), cycle(3)], `the cycles past the newest ${N}, oldest first`);
    assert.deepEqual(out.deferred, []);
    const folders = async (bucket: string, prefix: string) =>
      ((await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, Delimiter: '/' }))).CommonPrefixes ?? []).map((p) => p.Prefix!.slice(prefix.length + 1, -1)).sort();
    assert.deepEqual(await folders(EXPORT_BUCKET, manifests), ['1-UPPER', cycle(4), cycle(5), 'namespaces', 'source-state'].sort());
    assert.deepEqual(await folders(SCRIPT_BUCKET, results), [cycle(4), cycle(5)].sort());
    const left = await clients.s3.send(new ListObjectsV2Command({ Bucket: EXPORT_BUCKET, Prefix: `${manifests}/${cycle(1)}/` }));
    assert.equal(left.KeyCount ?? 0, 0, "every file of cycle 1's manifests is gone");
    for (const [bucket, key] of stays) await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));

    // A cycle id of another shape is refused, whatever asks.
    for (const id of ['source-state', '', '../shop2', `${cycle(1)}/..`]) {
      assert.match(JSON.stringify(await ports.retention.deleteCycleFiles!(id)), /is not a cycle id/);
    }
  });
});
