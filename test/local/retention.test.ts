/**
 * Retention in the embedded mode: real snapshots and PGlite exports through the local ports, then
 * the retention activity as a cycle ends. Cycles 1..N keep everything; cycle N+1 deletes the oldest
 * snapshot record and export folder and nothing else; what another source or a running export owns stays.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { CYCLES_DELETED_PER_RUN, retentionActivities } from '../../src/activities/retention';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { cycleKey, cycleManifestKeys, exportIdFor, packTokenFor, runTokenFor, snapshotIdFor } from '../../src/ids';
import { createLocalPorts } from '../../src/local';
import { newRunId, type RunRecord } from '../../src/local/load';
import { createManifestStore } from '../../src/local/manifests';
import { layoutOf, resultFile } from '../../src/local/paths';
import { createRetentionPort } from '../../src/local/retention';
import type { Ports } from '../../src/ports';

const RUN_ID = '0190f5b2-7c1e-7d2a-9c4e-1234567890ab';
const N = 2;
const ids = (n: number) => ({ cycleId: cycleKey(n, RUN_ID), snapshotId: snapshotIdFor('shop', cycleKey(n, RUN_ID)), exportId: exportIdFor('shop', cycleKey(n, RUN_ID)) });

/** Source shop on PGlite (its products table only), in `work`, keeping the newest `keep` snapshots and exports. */
function shopConfig(work: string, keep: number) {
  return parseConfig({
    sources: {
      shop: {
        database: 'shop',
        source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true },
        target: { namespace: 'shop' },
        include: ['public.products'],
        local: { workDir: join(work, 'shop') },
        retention: { snapshots: keep, exports: keep },
      },
    },
  });
}

describe('retention on the embedded backend', () => {
  let work: string;
  let ports: Ports;
  let config: ReturnType<typeof parseConfig>;
  const layout = () => layoutOf(join(work, 'shop'));

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'lakesync-retention-'));
    config = shopConfig(work, N);
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
    assert.deepEqual(readdirSync(layout().exportTasks).sort(), [ids(2).exportId, ids(3).exportId].map((id) => `${id}.json`), "the export task's record goes with it: one is left per export kept");
    await assert.rejects(ports.export.describeExport(ids(1).exportId), /not known/);
    // The snapshot time of a kept export whose snapshot is gone is still told by its task.
    assert.equal((await ports.export.describeExport(ids(2).exportId)).snapshotTime, snapshotTimes.get(2));
  });

  test('a deletion cut short after the export folder went, or by a version that kept the task records, is finished by the next cycle', async () => {
    // A task record without its folder: an export deleted by the version that kept its task, or a deletion cut short by a crash.
    const old = ids(0).exportId;
    writeFileSync(join(layout().exportTasks, `${old}.json`), JSON.stringify({ exportId: old, snapshot: { snapshotId: ids(0).snapshotId, createdAt: '2026-01-01T00:00:00.000Z' }, state: 'complete', startedAt: '2026-01-01T00:00:00.000Z' }));
    writeFileSync(join(layout().exportTasks, `${old}.takeover-1-2`), '{}');
    // The record of an export of an older cycle that was cancelled, with the request to cancel it.
    const cancelled = ids(99).exportId;
    writeFileSync(join(layout().exportTasks, `${cancelled}.json`), JSON.stringify({ exportId: cancelled, snapshot: { snapshotId: ids(99).snapshotId, createdAt: '2025-01-01T00:00:00.000Z' }, state: 'canceled', startedAt: '2025-01-01T00:00:00.000Z' }));
    writeFileSync(join(layout().exportTasks, `${cancelled}.cancel`), '{}');
    const outcome = await applyRetention(N + 1);
    assert.deepEqual(outcome, { deleted: { snapshots: [], exports: [cancelled, old] }, deferred: [], failed: [] });
    assert.deepEqual(readdirSync(layout().exportTasks).sort(), [ids(2).exportId, ids(3).exportId].map((id) => `${id}.json`));
    assert.deepEqual(await applyRetention(N + 1), { deleted: { snapshots: [], exports: [] }, deferred: [], failed: [] }, 'running it again deletes nothing more');
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
    // Run by another live process (this test's parent stands for it).
    writeFileSync(taskFile, JSON.stringify({ ...task, state: 'in_progress', ownerPid: process.ppid, ownerStarted: undefined }));
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

describe('retention and an export whose process died with no cycle left to resume it', () => {
  let work: string;
  let ports: Ports;
  let config: ReturnType<typeof parseConfig>;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'lakesync-retention-orphan-'));
    config = shopConfig(work, 1);
    ports = await createLocalPorts(localSettings('shop', config.sources.shop!, work));
  });
  after(async () => {
    await ports?.close?.();
    rmSync(work, { recursive: true, force: true });
  });

  test('its snapshot is deleted once expired and its partial folder goes; the task ends failed, saying why', async () => {
    const layout = layoutOf(join(work, 'shop'));
    const abandoned = ids(1);
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: abandoned.snapshotId, mode: 'create' });
    // The export's process was killed mid-export, and its cycle was ended before any worker resumed it.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(layout.exportTasks, { recursive: true });
    const taskFile = join(layout.exportTasks, `${abandoned.exportId}.json`);
    writeFileSync(
      taskFile,
      JSON.stringify({ exportId: abandoned.exportId, snapshot, tables: ['public.products'], state: 'in_progress', percentProgress: 40, ownerPid: deadPid, startedAt: snapshot.createdAt }),
    );
    const partial = join(layout.exports, `${abandoned.exportId}.partial`);
    mkdirSync(join(partial, 'shop', 'public.products', '1'), { recursive: true });
    writeFileSync(join(partial, 'shop', 'public.products', '1', 'part-00000-x.gz.parquet'), 'half written');

    await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: ids(2).snapshotId, mode: 'create' });
    const outcome = await retentionActivities({ config, portsFor: () => ports }).applyRetention({
      source: 'shop',
      cycleId: ids(2).cycleId,
      // Its cycle's tables failed on it: their reruns' needs name it.
      keep: { snapshotIds: [], exportIds: [abandoned.exportId] },
    });
    assert.deepEqual(outcome, { deleted: { snapshots: [abandoned.snapshotId], exports: [] }, deferred: [], failed: [] });
    assert.equal(existsSync(partial), false, "the abandoned export's partial folder is removed");
    const task = JSON.parse(readFileSync(taskFile, 'utf8')) as { state: string; failureCause?: string };
    assert.equal(task.state, 'failed');
    assert.match(task.failureCause ?? '', /process .* ended before the export completed/);
    const status = await ports.export.describeExport(abandoned.exportId);
    assert.equal(status.state, 'failed', 'no later describe starts it again');

    // Once nothing names it, its record goes: a failed export takes none of the newest places.
    const later = await retentionActivities({ config, portsFor: () => ports }).applyRetention({ source: 'shop', cycleId: ids(2).cycleId, keep: { snapshotIds: [], exportIds: [] } });
    assert.deepEqual(later.deleted.exports, [abandoned.exportId]);
    assert.equal(existsSync(taskFile), false);
  });
});

describe("retention of each cycle's working files on the embedded backend", () => {
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'lakesync-retention-cycles-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('the load results, run records and manifests of the cycles past the newest N go, cycle after cycle (an earlier workflow chain\'s too); the kept and running stay', async () => {
    const config = shopConfig(work, N);
    const layout = layoutOf(join(work, 'shop'));
    const ports = { retention: createRetentionPort(layout, 'shop') } as unknown as Ports;
    const manifests = createManifestStore(layout.manifests);
    /** What a cycle of one table leaves: its plan and discovery, its load's result (and an earlier attempt's), its run's record and a stop request. */
    async function cycleFiles(cycleId: string, run: Partial<RunRecord> = {}) {
      await manifests.put(cycleManifestKeys.plan(cycleId), [{ table: 'public.products', action: 'merge' }]);
      await manifests.put(cycleManifestKeys.discovery(cycleId), [{ table: 'public.products', columns: ['id', 'name'] }]);
      const result = resultFile(layout, cycleId, 'public.products');
      mkdirSync(dirname(result), { recursive: true });
      writeFileSync(result, JSON.stringify({ table: 'public.products', status: 'succeeded', runToken: runTokenFor(cycleId, 'public.products') }));
      writeFileSync(`${result}.previous`, '{}');
      mkdirSync(layout.runs, { recursive: true });
      const runToken = runTokenFor(cycleId, 'public.products');
      const runId = newRunId(runToken);
      const record: RunRecord = { runId, runToken, state: 'succeeded', table: 'shop.public.products', resultPath: result, queuedAt: new Date().toISOString(), runner: { pid: 1, instance: 'r' }, ...run };
      writeFileSync(join(layout.runs, `${runId}.json`), JSON.stringify(record));
      writeFileSync(join(layout.runs, `${runId}.stop`), '{}');
      // A pack of the cycle: its run record, its pack file and its summary.
      const packToken = packTokenFor(cycleId, ['public.a', 'public.b']);
      const packRun = newRunId(packToken);
      writeFileSync(join(layout.runs, `${packRun}.json`), JSON.stringify({ ...record, runId: packRun, runToken: packToken, state: 'failed' }));
      mkdirSync(join(layout.results, cycleId, 'packs'), { recursive: true });
      writeFileSync(join(layout.results, cycleId, 'packs', `${packToken}.json`), '{}');
    }
    const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)) : []);
    const cyclesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+-/.test(f)).sort() : []);
    const runCycles = () => [...new Set(readdirSync(layout.runs).map((f) => /^lr-/.test(f) && (JSON.parse(readFileSync(join(layout.runs, f.replace(/\.stop$/, '.json')), 'utf8')) as RunRecord).runToken.split(/:|-pack-/)[0]))].sort();
    const retention = (n: number, keepExports: string[] = []) =>
      retentionActivities({ config, portsFor: () => ports }).applyRetention({ source: 'shop', cycleId: ids(n).cycleId, keep: { snapshotIds: [], exportIds: [ids(n).exportId, ...keepExports] } });

    // A cycle of an earlier workflow chain of the source (another key): older than this chain's, it goes. The source's own documents stay.
    const earlier = cycleKey(1, '11111111-2222-3333-4444-555555555555');
    await cycleFiles(earlier);
    await manifests.put('source-tables.json', { tables: [] });
    // Cycle 1's run still runs in another live process (this test's parent stands for it).
    await cycleFiles(ids(1).cycleId, { state: 'running', runner: { pid: process.ppid, instance: 'live' } });
    const total = 8;
    for (let n = 2; n <= total; n++) {
      await cycleFiles(ids(n).cycleId);
      // A failed table reruns from cycle 3's export: that cycle's files stay too.
      const outcome = await retention(n, [ids(3).exportId]);
      assert.deepEqual(outcome.failed, []);
    }
    const kept = [ids(1).cycleId, ids(3).cycleId, ids(total - 1).cycleId, ids(total).cycleId].sort();
    assert.deepEqual(cyclesIn(layout.results), kept);
    assert.deepEqual(cyclesIn(layout.manifests), kept);
    assert.deepEqual(runCycles(), kept);
    assert.equal(files(layout.runs).length, kept.length * 3, 'each kept cycle keeps its run records and stop request');
    assert.ok(existsSync(join(layout.manifests, 'source-tables.json')));

    // Once cycle 1's run has ended, a later cycle deletes its files; doing it again deletes nothing more.
    for (const f of readdirSync(layout.runs).filter((f) => f.endsWith('.json'))) {
      const record = JSON.parse(readFileSync(join(layout.runs, f), 'utf8')) as RunRecord;
      if (record.state === 'running') writeFileSync(join(layout.runs, f), JSON.stringify({ ...record, state: 'succeeded' }));
    }
    assert.deepEqual((await retention(total)).deleted.cycles, [ids(1).cycleId, ids(3).cycleId]);
    assert.deepEqual((await retention(total)).deleted.cycles, undefined);
    assert.deepEqual(cyclesIn(layout.results), [ids(total - 1).cycleId, ids(total).cycleId].sort());
  });

  test("after the source restarts (a new workflow chain), the previous chain's cycles go too, oldest first; those of an export still needed stay", async () => {
    const dir = join(work, 'restart');
    const config = shopConfig(dir, N);
    const layout = layoutOf(join(dir, 'shop'));
    const ports = { retention: createRetentionPort(layout, 'shop') } as unknown as Ports;
    const manifests = createManifestStore(layout.manifests);
    const before = '0190f5b2-0000-7d2a-9c4e-aaaaaaaaaaaa';
    const after = '0190f5b3-0000-7d2a-9c4e-bbbbbbbbbbbb';
    const old = (n: number) => cycleKey(n, before);
    const fresh = (n: number) => cycleKey(n, after);
    const retention = (cycleId: string, keepExports: string[] = []) =>
      retentionActivities({ config, portsFor: () => ports }).applyRetention({ source: 'shop', cycleId, keep: { snapshotIds: [], exportIds: [exportIdFor('shop', cycleId), ...keepExports] } });
    const cycles = () => readdirSync(layout.manifests).filter((f) => /^\d+-/.test(f)).sort();
    // The first chain: 5 cycles, its retention keeps its newest N.
    for (let n = 1; n <= 5; n++) {
      await manifests.put(cycleManifestKeys.plan(old(n)), []);
      await retention(old(n));
    }
    assert.deepEqual(cycles(), [old(4), old(5)].sort());
    // The source is started again: a new chain numbers its cycles from 1 under another hash. Its first
    // cycle keeps the newest N cycles (its own, then the previous chain's newest) and the one of the
    // export the state still needs (the previous chain's last export, e.g. for a rerun).
    await manifests.put(cycleManifestKeys.plan(fresh(1)), []);
    assert.deepEqual((await retention(fresh(1), [exportIdFor('shop', old(4))])).deleted.cycles, undefined);
    assert.deepEqual(cycles(), [old(4), old(5), fresh(1)].sort());
    await manifests.put(cycleManifestKeys.plan(fresh(2)), []);
    assert.deepEqual((await retention(fresh(2), [exportIdFor('shop', old(4))])).deleted.cycles, [old(5)], "the previous chain's cycles are older than the new chain's");
    await manifests.put(cycleManifestKeys.plan(fresh(3)), []);
    assert.deepEqual((await retention(fresh(3))).deleted.cycles, [old(4), fresh(1)], 'once its export is no longer needed, its cycle goes, oldest first');
    assert.deepEqual(cycles(), [fresh(2), fresh(3)].sort());
  });

  test(`a backlog of old cycles goes ${CYCLES_DELETED_PER_RUN} cycles a run, oldest first, so that one run stays short`, async () => {
    const dir = join(work, 'backlog');
    const config = shopConfig(dir, N);
    const layout = layoutOf(join(dir, 'shop'));
    const ports = { retention: createRetentionPort(layout, 'shop') } as unknown as Ports;
    const manifests = createManifestStore(layout.manifests);
    const total = CYCLES_DELETED_PER_RUN + N + 3;
    for (let n = 1; n <= total; n++) await manifests.put(cycleManifestKeys.plan(ids(n).cycleId), []);
    const retention = () => retentionActivities({ config, portsFor: () => ports }).applyRetention({ source: 'shop', cycleId: ids(total).cycleId, keep: { snapshotIds: [], exportIds: [] } });
    const first = await retention();
    assert.deepEqual(first.deleted.cycles, Array.from({ length: CYCLES_DELETED_PER_RUN }, (_, i) => ids(i + 1).cycleId));
    assert.deepEqual((await retention()).deleted.cycles, [1, 2, 3].map((i) => ids(CYCLES_DELETED_PER_RUN + i).cycleId));
    assert.equal(readdirSync(layout.manifests).length, N);
  });
});
