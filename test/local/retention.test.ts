/**
 * Retention in the embedded mode: real snapshots and PGlite exports through the local ports, then
 * the retention activity as a cycle ends. Cycles 1..N keep everything; cycle N+1 deletes the oldest
 * snapshot record and export folder and nothing else; what another source or a running export owns stays.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { retentionActivities } from '../../src/activities/retention';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { cycleKey, exportIdFor, snapshotIdFor } from '../../src/ids';
import { createLocalPorts } from '../../src/local';
import { layoutOf } from '../../src/local/paths';
import type { Ports } from '../../src/ports';

const RUN_ID = '0190f5b2-7c1e-7d2a-9c4e-1234567890ab';
const N = 2;
const ids = (n: number) => ({ cycleId: cycleKey(n, RUN_ID), snapshotId: snapshotIdFor('shop', cycleKey(n, RUN_ID)), exportId: exportIdFor('shop', cycleKey(n, RUN_ID)) });

describe('retention on the embedded backend', () => {
  let work: string;
  let ports: Ports;
  let config: ReturnType<typeof parseConfig>;
  const layout = () => layoutOf(join(work, 'shop'));

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'lakesync-retention-'));
    config = parseConfig({
      sources: {
        shop: {
          database: 'shop',
          source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true },
          target: { namespace: 'shop' },
          include: ['public.products'],
          local: { workDir: join(work, 'shop') },
          retention: { snapshots: N, exports: N },
        },
      },
    });
    ports = await createLocalPorts(localSettings('shop', config.sources.shop!, work));
  });
  after(async () => {
    await ports?.close?.();
    rmSync(work, { recursive: true, force: true });
  });

  const applyRetention = (n: number, keep: { snapshotIds: string[]; exportIds: string[] } = { snapshotIds: [], exportIds: [] }) =>
    retentionActivities({ config, portsFor: () => ports }).applyRetention({
      source: 'shop',
      cycleId: ids(n).cycleId,
      keep: { snapshotIds: [ids(n).snapshotId, ...keep.snapshotIds], exportIds: [ids(n).exportId, ...keep.exportIds] },
    });

  const snapshotTimes = new Map<number, string>();
  async function cycle(n: number) {
    const { snapshotId, exportId } = ids(n);
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId, mode: 'create' });
    snapshotTimes.set(n, snapshot.createdAt);
    await ports.export.startExport({ source: 'shop', exportId, snapshot, tables: ['public.products'] });
    for (let i = 0; (await ports.export.describeExport(exportId)).state === 'in_progress'; i++) {
      if (i > 600) throw new Error(`export ${exportId} did not finish`);
      await delay(100);
    }
    return applyRetention(n);
  }

  const exportFolders = () => readdirSync(layout().exports).sort();
  const snapshotRecords = () => readdirSync(layout().snapshots).sort();

  test(`cycles 1..${N} delete nothing; cycle ${N + 1} deletes the oldest snapshot and export and nothing else`, async () => {
    // What is not lakesync's export of this source: a folder being written and a hand-made one.
    mkdirSync(join(layout().exports, `${ids(9).exportId}.partial`), { recursive: true });
    mkdirSync(join(layout().exports, 'hand-made'), { recursive: true });
    // A snapshot record of another source sharing the work dir.
    mkdirSync(layout().snapshots, { recursive: true });
    writeFileSync(join(layout().snapshots, 'lakesync-shop-1-0000000000000.json'), JSON.stringify({ snapshotId: 'lakesync-shop-1-0000000000000', createdAt: '2020-01-01T00:00:00.000Z', source: 'other' }));

    for (let n = 1; n <= N; n++) assert.deepEqual(await cycle(n), { deleted: { snapshots: [], exports: [] }, deferred: [], failed: [] });
    const foldersBefore = exportFolders();
    const recordsBefore = snapshotRecords();
    assert.deepEqual(await cycle(N + 1), { deleted: { snapshots: [ids(1).snapshotId], exports: [ids(1).exportId] }, deferred: [], failed: [] });
    assert.deepEqual(exportFolders(), [...foldersBefore.filter((f) => f !== ids(1).exportId), ids(N + 1).exportId].sort());
    assert.deepEqual(snapshotRecords(), [...recordsBefore.filter((f) => f !== `${ids(1).snapshotId}.json`), `${ids(N + 1).snapshotId}.json`].sort());
    assert.equal(existsSync(join(layout().catalog, `${ids(1).exportId}.json`)), false, "the export's catalog record goes with it");
    assert.equal(existsSync(join(layout().exportTasks, `${ids(1).exportId}.json`)), true, "the export task's record stays");
    const gone = await ports.export.describeExport(ids(1).exportId);
    assert.equal(gone.state, 'failed', 'asking for the deleted export says its folder was removed');
    assert.equal(gone.snapshotTime, snapshotTimes.get(1), "the export task still tells its deleted snapshot's time");
  });

  test('an export a failed table still needs is kept; one still running is left for a later cycle', async () => {
    const needed = ids(2);
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: ids(N + 2).snapshotId, mode: 'create' });
    await ports.export.startExport({ source: 'shop', exportId: ids(N + 2).exportId, snapshot, tables: ['public.products'] });
    while ((await ports.export.describeExport(ids(N + 2).exportId)).state === 'in_progress') await delay(100);
    const outcome = await applyRetention(N + 2, { snapshotIds: [needed.snapshotId], exportIds: [needed.exportId] });
    // Cycle 2's is past the newest 2 (cycles 3 and 4) but a rerun needs it.
    assert.deepEqual(outcome.deleted, { snapshots: [], exports: [] });
    assert.ok(exportFolders().includes(needed.exportId));

    // Once no table needs it, its export task is found running again (restarted): neither its
    // folder nor its snapshot is removed, and a later cycle tries again.
    const taskFile = join(layout().exportTasks, `${needed.exportId}.json`);
    const task = JSON.parse(readFileSync(taskFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(taskFile, JSON.stringify({ ...task, state: 'in_progress', ownerPid: process.pid }));
    const later = await applyRetention(N + 2);
    assert.deepEqual(later.deleted, { snapshots: [], exports: [] });
    assert.ok(exportFolders().includes(needed.exportId), 'a running export is not deleted');
    assert.ok(later.deferred.some((d) => d.includes(needed.exportId) && /still running/.test(d)), JSON.stringify(later.deferred));
    assert.ok(later.deferred.some((d) => d.includes(needed.snapshotId) && /is reading it/.test(d)), JSON.stringify(later.deferred));

    writeFileSync(taskFile, JSON.stringify(task));
    assert.deepEqual((await applyRetention(N + 2)).deleted, { snapshots: [needed.snapshotId], exports: [needed.exportId] });
  });

  test('the snapshot snapshot.mode existing names is kept, also by a cycle that took no snapshot (every table read directly)', async () => {
    // Snapshots of cycles 3 and 4 are left; two newer ones come, and the source is set to re-export cycle 3's.
    for (const n of [N + 3, N + 4]) await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: ids(n).snapshotId, mode: 'create' });
    const adopted = ids(3).snapshotId;
    const existing = parseConfig({ sources: { shop: { ...config.sources.shop!, snapshot: { mode: 'existing', id: adopted } } } });
    const outcome = await retentionActivities({ config: existing, portsFor: () => ports }).applyRetention({ source: 'shop', cycleId: ids(N + 5).cycleId, keep: { snapshotIds: [], exportIds: [] } });
    assert.deepEqual(outcome.deleted.snapshots, [ids(4).snapshotId]);
    assert.ok(snapshotRecords().includes(`${adopted}.json`), 'the snapshot the config names stays');
    assert.deepEqual((await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: ids(N + 6).snapshotId, mode: 'existing', existingSnapshotId: adopted })).snapshotId, adopted);
  });
});
