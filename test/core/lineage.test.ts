/**
 * Lineage outside Spark: the plan carries the older-export approval, the fake lake records each
 * commit's lineage and refuses an older export like the job, and query rows become LakeCommits.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { parseConfig, sourceConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import { lakeCommitFromRow } from '../../src/lineage';
import type { DiscoveredTable, LoadRequest, LoadResult } from '../../src/model';
import { planTables } from '../../src/plan';
import type { Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';

const EARLY = '2025-01-01T00:00:00.000Z';
const LATE = '2025-01-02T00:00:00.000Z';

describe('planning', () => {
  const source = sourceConfig(parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' } } } }), 'shop');
  const tables: DiscoveredTable[] = [{ table: 'public.orders', target: 'shop.public.orders', columns: [], primaryKey: ['id'] }, { table: 'public.notes', target: 'shop.public.notes', columns: [] }];

  test('allowOlderExport reaches every entry of the plan, and is off unless asked for', () => {
    const allowed = planTables(source, tables, new Set(['orders', 'notes']), { allowOlderExport: true });
    assert.deepEqual(allowed.entries.map((e) => [e.table, e.allowOlderExport, e.approveDeletes]), [['public.orders', true, false], ['public.notes', true, false]]);
    const plain = planTables(source, tables, new Set(['orders']), { approveDeletes: true });
    assert.deepEqual(plain.entries.map((e) => [e.table, e.allowOlderExport]), [['public.orders', false], ['public.notes', false]]);
  });
});

describe('the fake lake', () => {
  const plan = planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', primaryKey: ['id'] });

  async function load(ports: Ports, cycleId: string, exportId: string, snapshotTime: string, allowOlderExport = false): Promise<LoadResult> {
    const base = { source: 'shop', cycleId, runToken: `${cycleId}:public.orders`, exportId, snapshotTime, exportLocation: `fake://exports/${exportId}`, database: 'fake', namespace: 'shop', plan: { ...plan, allowOlderExport } };
    const req: LoadRequest = { ...base, resultLocation: ports.load.resultLocation(base) };
    const { runId } = await ports.load.startLoad(req);
    while ((await ports.load.getRun(runId)).state === 'running') await delay(5);
    const result = await ports.load.readResult(req.resultLocation);
    assert.ok(result, `run ${runId} wrote a result`);
    return result;
  }

  test('lastCommit: nothing for a missing table, then the lineage of the newest commit', async () => {
    const ports = new FakeBackend({ tables: ['public.orders'] }).ports();
    assert.equal(await ports.lake.lastCommit!('shop', 'orders'), undefined);
    await load(ports, 'c1', 'e1', EARLY);
    const second = await load(ports, 'c2', 'e2', LATE);
    const commit = await ports.lake.lastCommit!('shop', 'orders');
    assert.ok(commit && !Number.isNaN(Date.parse(commit.committedAt)));
    const { written, ...lineage } = commit;
    assert.deepEqual({ ...lineage, committedAt: '' }, { icebergSnapshotId: second.snapshotId, committedAt: '', source: 'shop', exportId: 'e2', snapshotTime: LATE, cycleId: 'c2' });
    // As Iceberg's summary records it: the second merge of the same 100 rows added none to the first's snapshot.
    assert.deepEqual([written?.parentId, written?.addedRecords, written?.totalRecords], ['1', 0, 100]);
  });

  test('an older export fails the load with OlderExport and commits nothing, unless allowed', async () => {
    const ports = new FakeBackend({ tables: ['public.orders'] }).ports();
    const first = await load(ports, 'c1', 'e-late', LATE);
    const refused = await load(ports, 'c2', 'e-early', EARLY);
    assert.equal(refused.status, 'failed');
    assert.equal(refused.error?.class, 'OlderExport');
    assert.equal(refused.error?.retryable, false);
    assert.match(refused.error!.message, /holds export e-late \(snapshot time 2025-01-02T00:00:00\.000Z\), newer than this load's export e-early \(snapshot time 2025-01-01T00:00:00\.000Z\)/);
    assert.match(refused.error!.message, /lakesync rerun shop --tables public\.orders --allow-older-export$/);
    assert.equal((await ports.lake.lastCommit!('shop', 'orders'))?.icebergSnapshotId, first.snapshotId);

    // The same snapshot time from another export is not older.
    assert.equal((await load(ports, 'c3', 'e-late-again', LATE)).status, 'succeeded');
    const forced = await load(ports, 'c4', 'e-early', EARLY, true);
    assert.equal(forced.status, 'succeeded');
    assert.deepEqual(
      [(await ports.lake.lastCommit!('shop', 'orders'))?.exportId, (await ports.lake.lastCommit!('shop', 'orders'))?.snapshotTime],
      ['e-early', EARLY],
    );
  });
});

describe('query rows', () => {
  test('a row becomes a LakeCommit with ISO times; absent properties stay absent', () => {
    assert.deepEqual(lakeCommitFromRow({ snapshot_id: '17', committed_at: '2025-01-02T03:04:05.678000Z', source: null, export_id: null, snapshot_time: null, cycle_id: null }, 'lake table shop.orders'), {
      icebergSnapshotId: '17',
      committedAt: '2025-01-02T03:04:05.678Z',
    });
  });

  test('a row that is not a snapshot fails with what came back', () => {
    assert.throws(() => lakeCommitFromRow({ snapshot_id: null, committed_at: '2025-01-02T03:04:05Z' }, 'lake table shop.orders'), /newest snapshot of lake table shop\.orders came back as snapshot_id null/);
  });
});
