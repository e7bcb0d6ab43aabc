/** Which snapshots and exports retention may delete: lakesync's ids for the source, past the newest N, never the protected ones. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expiredItems, isExportIdOf, isSnapshotIdOf } from '../../src/activities/retention';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { CLUSTER_SNAPSHOT_ID_MAX, clusterSnapshotIdOf, cycleKey, exportIdFor, legacyCycleKey, snapshotIdFor } from '../../src/ids';
import { SOURCE_NAME } from '../../src/names';
import { initialState, rerunNeeds, rerunParts, retentionKeeps } from '../../src/workflows/ledger';

const KEY = cycleKey(7, '0190f5b2-7c1e-7d2a-9c4e-1234567890ab');

test("lakesync's snapshot and export ids of a source are recognised, in both cycle key forms", () => {
  assert.ok(isSnapshotIdOf('shop', snapshotIdFor('shop', KEY)));
  assert.ok(isExportIdOf('shop', exportIdFor('shop', KEY)));
  const legacy = legacyCycleKey(3, '6f1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff');
  assert.ok(isSnapshotIdOf('shop', snapshotIdFor('shop', legacy)));
  assert.ok(isExportIdOf('shop', exportIdFor('shop', legacy)));
  // RDS stores snapshot ids in lowercase.
  assert.ok(isSnapshotIdOf('shop', snapshotIdFor('shop', KEY).toUpperCase()));
});

test('a long source\'s cluster snapshots, cut to 63 characters, are still recognised as its own and no other\'s', () => {
  const source = 'analytics-warehouse-production-eu-west-1';
  const twin = 'analytics-warehouse-production-eu-west-2';
  for (const key of [KEY, cycleKey(123456, '0190f5b2-7c1e-7d2a-9c4e-1234567890ab'), legacyCycleKey(3, '6f1c2d3e-aaaa-bbbb-cccc-ddddeeeeffff')]) {
    const id = clusterSnapshotIdOf(snapshotIdFor(source, key));
    assert.ok(id.length <= CLUSTER_SNAPSHOT_ID_MAX, id);
    assert.ok(id.endsWith(`-${key}`), id);
    assert.ok(isSnapshotIdOf(source, id), id);
    assert.equal(isSnapshotIdOf(twin, id), false, id);
  }
});

test('no two source names the config accepts claim each other\'s export or snapshot ids', () => {
  const names = ['shop', 'shop-1', 'shop1', 'sales-eu', 'saleseu', 'a', 'a-b-c', 'abc'];
  for (const bad of ['shop-', 'sales--eu', 'shop--1', 'a-']) assert.equal(SOURCE_NAME.test(bad), false, bad);
  for (const name of names) assert.ok(SOURCE_NAME.test(name), name);
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      assert.equal(isExportIdOf(a, exportIdFor(b, KEY)), false, `${a} claims ${b}'s export`);
      assert.equal(isSnapshotIdOf(a, snapshotIdFor(b, KEY)), false, `${a} claims ${b}'s snapshot`);
    }
  }
});

test("another source's ids, user names with lakesync's prefix and automated snapshots are not the source's", () => {
  // shop-1's ids start with "lakesync-shop-" too.
  assert.equal(isSnapshotIdOf('shop', snapshotIdFor('shop-1', KEY)), false);
  assert.equal(isExportIdOf('shop', exportIdFor('shop-1', KEY)), false);
  assert.equal(isSnapshotIdOf('shop-1', snapshotIdFor('shop', KEY)), false);
  for (const id of ['lakesync-shop-before-upgrade', 'lakesync-shop-manual', 'rds:shop-db-2026-11-30-03-10', 'lakesync-shop', `lakesync-shop-${KEY}-copy`]) {
    assert.equal(isSnapshotIdOf('shop', id), false, id);
  }
  for (const id of ['lakesync-manifests', 'ls-shop', 'ls-shop-final', `ls-shop-${KEY}-x`]) assert.equal(isExportIdOf('shop', id), false, id);
});

test('expiredItems keeps the newest N and the protected ones, and lists the rest oldest first', () => {
  const items = [
    { id: snapshotIdFor('shop', '1-aaaaaaaaaaaaa'), createdAt: '2026-11-01T00:00:00.000Z' },
    { id: snapshotIdFor('shop', '3-aaaaaaaaaaaaa'), createdAt: '2026-11-03T00:00:00.000Z' },
    { id: snapshotIdFor('shop', '2-aaaaaaaaaaaaa'), createdAt: '2026-11-02T00:00:00.000Z' },
    { id: snapshotIdFor('shop', '4-aaaaaaaaaaaaa'), createdAt: '2026-11-04T00:00:00.000Z' },
  ];
  assert.deepEqual(
    expiredItems(items, 2, new Set()).map((i) => i.id),
    [snapshotIdFor('shop', '1-aaaaaaaaaaaaa'), snapshotIdFor('shop', '2-aaaaaaaaaaaaa')],
  );
  assert.deepEqual(expiredItems(items, 2, new Set([snapshotIdFor('shop', '1-aaaaaaaaaaaaa')])).map((i) => i.id), [snapshotIdFor('shop', '2-aaaaaaaaaaaaa')]);
  assert.deepEqual(expiredItems(items, 4, new Set()), []);
});

test('expiredItems: one still being created (no time) is newest; equal times go by cycle number', () => {
  const same = '2026-11-01T00:00:00.000Z';
  const items = [
    { id: exportIdFor('shop', '9-aaaaaaaaaaaaa'), createdAt: same },
    { id: exportIdFor('shop', '10-aaaaaaaaaaaaa'), createdAt: same },
    { id: exportIdFor('shop', '11-aaaaaaaaaaaaa') },
  ];
  assert.deepEqual(expiredItems(items, 2, new Set()).map((i) => i.id), [exportIdFor('shop', '9-aaaaaaaaaaaaa')]);
});

test('rerunNeeds names the export (and its snapshot) each failed table reruns from, and nothing for committed tables', () => {
  const state = initialState();
  const reusable = (cycleId: string) => ({
    cycleId,
    snapshot: { snapshotId: snapshotIdFor('shop', cycleId), createdAt: '2026-11-01T00:00:00.000Z', adopted: false },
    export: { exportId: exportIdFor('shop', cycleId), location: 'x', snapshotId: snapshotIdFor('shop', cycleId), adopted: false },
  });
  state.exports[exportIdFor('shop', '1-a')] = { ...reusable('1-a'), snapshot: { ...reusable('1-a').snapshot, createdAt: '2026-10-01T00:00:00.000Z' } };
  state.exports[exportIdFor('shop', '2-a')] = reusable('2-a');
  // public.b last committed from cycle 1's export and failed on cycle 2's: its rerun loads the newer one only.
  state.ledger['public.b'] = { exportId: exportIdFor('shop', '1-a') } as (typeof state.ledger)[string];
  state.failed['public.b'] = { cycleId: '2-a', phase: 'load', message: 'cast failed', exportId: exportIdFor('shop', '2-a') };
  assert.deepEqual(rerunNeeds(state), { snapshotIds: [snapshotIdFor('shop', '2-a')], exportIds: [exportIdFor('shop', '2-a')] });
  // An export the ledger no longer describes is still named.
  state.failed['public.c'] = { cycleId: '0-a', phase: 'load', message: 'x', exportId: exportIdFor('shop', '0-a') };
  assert.deepEqual(rerunNeeds(state).exportIds, [exportIdFor('shop', '0-a'), exportIdFor('shop', '2-a')]);
  delete state.failed['public.c'];
  delete state.failed['public.b'];
  assert.deepEqual(rerunNeeds(state), { snapshotIds: [], exportIds: [] });
});

/** The export (and its snapshot) cycle `cycleId` of source shop made, of a snapshot taken at `snapshotTime`. */
function exportOf(cycleId: string, snapshotTime: string) {
  return {
    cycleId,
    snapshot: { snapshotId: snapshotIdFor('shop', cycleId), createdAt: snapshotTime, adopted: false },
    export: { exportId: exportIdFor('shop', cycleId), location: 'x', snapshotId: snapshotIdFor('shop', cycleId), adopted: false },
  };
}

test('the last export stays while a newer export of an older snapshot exists: a rerun of a table without an export of its own reads it', () => {
  const state = initialState();
  // Cycle 2 exported a snapshot of 10:00; cycle 3 the latest automated one, of 03:00 that day: the last export stays cycle 2's.
  const last = exportOf('2-a', '2026-11-02T10:00:00.000Z');
  state.exports[last.export.exportId] = last;
  state.lastExport = last;
  // public.c failed in a cycle that ended before it had an export: its rerun reads the last export.
  state.failed['public.c'] = { cycleId: '4-a', phase: 'load', message: 'the cycle ended without a result' };
  assert.deepEqual(rerunParts(state, ['public.c']).map((p) => p.reuse?.export.exportId), [last.export.exportId]);
  // Retention with retention.exports = 1, in cycle 4 (no export of its own, every table read directly).
  const listed = [
    { id: exportIdFor('shop', '2-a'), createdAt: '2026-11-02T10:05:00.000Z' },
    { id: exportIdFor('shop', '3-a'), createdAt: '2026-11-02T11:05:00.000Z' },
  ];
  const keeps = retentionKeeps(state);
  const expired = expiredItems(listed, 1, new Set([...keeps.exportIds, exportIdFor('shop', '4-a')])).map((i) => i.id);
  assert.deepEqual(expired, []);
  assert.deepEqual(keeps.exportIds, [last.export.exportId]);
});

test("the exports a rerun's later parts and the queued reruns read are kept by the cycles before them", () => {
  const state = initialState();
  // Table-limited syncs: public.a last committed from cycle 1's export, public.b from cycle 2's, public.c from cycle 3's (the last).
  const [e1, e2, e3] = [exportOf('1-a', '2026-11-01T00:00:00.000Z'), exportOf('2-a', '2026-11-02T00:00:00.000Z'), exportOf('3-a', '2026-11-03T00:00:00.000Z')];
  for (const [table, e] of [['public.a', e1], ['public.b', e2], ['public.c', e3]] as const) {
    state.exports[e.export.exportId] = e;
    state.ledger[table] = { exportId: e.export.exportId } as (typeof state.ledger)[string];
  }
  state.lastExport = e3;
  const listed = [e1, e2, e3].map((e) => ({ id: e.export.exportId, createdAt: e.snapshot.createdAt }));
  const expiredIn = (cycleExport: string, keeps: { exportIds: string[] }) => expiredItems(listed, 1, new Set([...keeps.exportIds, cycleExport])).map((i) => i.id);

  // A rerun of public.a and public.b runs as two cycles, cycle 1's export first: the first must not delete cycle 2's.
  const rerun = { kind: 'rerun' as const, requestIds: ['r1'], tables: ['public.a', 'public.b'], approveDeletes: false };
  const parts = rerunParts(state, rerun.tables);
  assert.deepEqual(parts.map((p) => p.reuse?.export.exportId), [e1.export.exportId, e2.export.exportId]);
  assert.deepEqual(expiredIn(e1.export.exportId, retentionKeeps(state, rerun)), []);

  // A rerun of public.b queued behind a sync of public.c keeps cycle 2's export through that sync.
  state.queue.push({ kind: 'rerun', requestId: 'r2', tables: ['public.b'], approveDeletes: false });
  const sync = { kind: 'sync' as const, requestIds: ['s1'], tables: ['public.c'], approveDeletes: false };
  assert.deepEqual(expiredIn(exportIdFor('shop', '4-a'), retentionKeeps(state, sync)), [e1.export.exportId]);
  // Without them, only the newest and what failed tables need stay.
  state.queue = [];
  assert.deepEqual(expiredIn(exportIdFor('shop', '4-a'), retentionKeeps(state, sync)), [e1.export.exportId, e2.export.exportId]);
});

test("a DynamoDB table's last committed export, which its watermark names, is kept whatever its age; its failed tables pin none", () => {
  const state = initialState();
  state.ledger['dynamodb.Orders'] = { exportId: 'lse-00000000000000a1', extract: 'dynamodb' } as (typeof state.ledger)[string];
  state.ledger['dynamodb.Carts'] = { exportId: 'lse-00000000000000b2', extract: 'dynamodb' } as (typeof state.ledger)[string];
  // A failed DynamoDB table reruns with exports of its own.
  state.failed['dynamodb.Carts'] = { cycleId: '5-a', phase: 'load', message: 'x', exportId: 'lse-00000000000000c3', extract: 'dynamodb' };
  assert.deepEqual(retentionKeeps(state).exportIds, ['lse-00000000000000a1', 'lse-00000000000000b2']);
});

describe('retention in lakesync.yaml', () => {
  const config = (retention?: unknown) => ({ sources: { shop: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, ...(retention === undefined ? {} : { retention }) } } });
  const rejects = (retention: unknown): string => {
    try {
      parseConfig(config(retention));
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    assert.fail('the config was accepted');
  };

  test('defaults to the newest 3 snapshots and 3 exports', () => {
    assert.deepEqual(parseConfig(config()).sources.shop!.retention, { snapshots: 3, exports: 3 });
    assert.deepEqual(parseConfig(config({ exports: 5 })).sources.shop!.retention, { snapshots: 3, exports: 5 });
  });

  test('bad values are refused with the field and the fix', () => {
    assert.match(rejects({ snapshots: 0 }), /sources\.shop\.retention\.snapshots.*must be at least 1: the current cycle's snapshot is always kept/s);
    assert.match(rejects({ exports: 0 }), /sources\.shop\.retention\.exports.*must be at least 1/s);
    assert.match(rejects({ snapshots: 1.5 }), /retention\.snapshots.*whole number/s);
    assert.match(rejects({ snapshots: 101 }), /retention\.snapshots.*at most 100 \(the default RDS quota/s);
    assert.match(rejects({ keep: 2 }), /retention/);
  });
});
