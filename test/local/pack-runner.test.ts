/**
 * Packed runs in the embedded mode, for real: PGlite export -> ONE load runner job that loads
 * several tables, two at a time here (glue/lakesync_glue/pack.py, $LAKESYNC_PACK_THREADS), each
 * writing its own result, then the pack's summary. One runner (one JVM) serves the whole file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { acquireSource, createLocalPorts } from '../../src/local';
import { createLoadPort, runIdPrefix } from '../../src/local/load';
import { layoutOf } from '../../src/local/paths';
import { RunnerClient } from '../../src/local/runner/client';
import type { SourceHandle } from '../../src/local/source/registry';
import type { ExportRef, LoadRequest, LoadRunStatus, PackRequest, PlanEntry } from '../../src/model';
import type { PackFile } from '../../src/pack-file';
import type { PackLoads, Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';

let work: string;
let ports: Ports;
let packs: PackLoads;
let db: SourceHandle;
let ref: ExportRef;

const SNAPSHOT_TIME = '2025-01-01T00:00:00.000Z';
const TABLES = { pii: 'public.customer_pii', events: 'public.events', views: 'public.page_views' } as const;

const packThreadsBefore = process.env.LAKESYNC_PACK_THREADS;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-pack-runner-'));
  // The runner this file starts loads two tables of a pack at once (fewer than a pack's three tables).
  process.env.LAKESYNC_PACK_THREADS = '2';
  const config = parseConfig({
    sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true }, target: { namespace: 'shop' }, local: { workDir: join(work, 'shop') } } },
  });
  ports = await createLocalPorts(localSettings('shop', config.sources.shop!, work));
  assert.ok(ports.load.packs, 'the local load port has packed runs');
  packs = ports.load.packs;
  db = await acquireSource({ kind: 'pglite', dataDir: join(work, 'pg'), demo: true });
  const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'snap-1', mode: 'create' });
  ref = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1', snapshot, tables: Object.values(TABLES) });
  for (;;) {
    const status = await ports.export.describeExport(ref.exportId);
    if (status.state === 'complete') break;
    assert.equal(status.state, 'in_progress', status.failureCause);
    await delay(100);
  }
});

after(async () => {
  if (packThreadsBefore === undefined) delete process.env.LAKESYNC_PACK_THREADS;
  else process.env.LAKESYNC_PACK_THREADS = packThreadsBefore;
  await ports?.close?.();
  await db?.release();
  rmSync(work, { recursive: true, force: true });
});

const plans: Record<keyof typeof TABLES, (lakeTable: string) => PlanEntry> = {
  pii: (lakeTable) => planEntry({ table: TABLES.pii, lakeTable, action: 'create', primaryKey: ['customer_id'], sizeGB: 0.001 }),
  events: (lakeTable) => planEntry({ table: TABLES.events, lakeTable, action: 'create', primaryKey: ['id'], sizeGB: 0.001 }),
  views: (lakeTable) => planEntry({ table: TABLES.views, lakeTable, action: 'replace', sizeGB: 0.001 }),
};

function loadRequest(cycleId: string, plan: PlanEntry): LoadRequest {
  const base = { source: 'shop', cycleId, runToken: `${cycleId}:${plan.table}`, exportId: ref.exportId, snapshotTime: SNAPSHOT_TIME, exportLocation: ref.location, database: 'shop', plan, namespace: 'shop' };
  return { ...base, resultLocation: ports.load.resultLocation(base) };
}

function packRequest(cycleId: string, packToken: string, loads: LoadRequest[]): PackRequest {
  return { source: 'shop', cycleId, packToken, loads, summaryLocation: packs.summaryLocation('shop', cycleId, packToken) };
}

async function ended(runId: string): Promise<LoadRunStatus> {
  for (;;) {
    const status = await ports.load.getRun(runId);
    if (status.state !== 'running') return status;
    await delay(250);
  }
}

const runRecords = (packToken: string) => readdirSync(layoutOf(join(work, 'shop')).runs).filter((f) => f.startsWith(runIdPrefix(packToken)) && f.endsWith('.json'));

async function snapshotCount(lakeTable: string): Promise<number> {
  const rows = await ports.lake.query!(`SELECT count(*) AS n FROM lake.shop.${lakeTable}.snapshots`);
  return Number(rows[0]!.n);
}

describe('a pack in the local load runner', () => {
  test('three tables in one runner job: each its own result, then the summary; found by token, also by a restarted worker', async () => {
    const loads = [loadRequest('c1', plans.pii('p_pii')), loadRequest('c1', plans.events('p_events')), loadRequest('c1', plans.views('p_views'))];
    const req = packRequest('c1', 'c1:pack-1', loads);
    const { runId } = await packs.startPack(req);
    assert.equal(await packs.findPackByToken(req), runId);
    // While it goes, the pack is the live run of each of its lake tables, under the table's own run token.
    const live = await ports.load.liveRuns('shop', 'p_events');
    assert.deepEqual(live.map((r) => [r.runId, r.runToken, r.pack]), [[runId, 'c1:public.events', { token: 'c1:pack-1', tables: 3 }]]);
    assert.equal((await packs.startPack(req)).runId, runId, 'a retried start attaches to the same run');
    assert.equal(runRecords('c1:pack-1').length, 1, 'one runner job for the pack');

    const status = await ended(runId);
    assert.equal(status.state, 'succeeded', status.errorMessage);
    for (const load of loads) {
      const result = await ports.load.readResult(load.resultLocation);
      assert.equal(result?.status, 'succeeded', `${load.plan.table}: ${result?.error?.message}`);
      assert.equal(result?.runToken, load.runToken);
      assert.equal(result?.action, 'create');
    }
    const summary = await packs.readSummary(req.summaryLocation);
    assert.equal(summary?.packToken, 'c1:pack-1');
    assert.deepEqual(summary?.tables.map((t) => [t.table, t.status]), loads.map((l) => [l.plan.table, 'succeeded']));
    assert.ok(summary!.tables.every((t) => t.seconds > 0));
    assert.deepEqual(await ports.load.liveRuns('shop', 'p_events'), [], 'an ended pack holds no lake table');

    // The pack file holds each table's job arguments, exactly as a run of its own would get them.
    const file = JSON.parse(readFileSync(join(work, 'shop', 'results', 'c1', 'packs', 'c1_pack-1.json'), 'utf8')) as PackFile;
    assert.deepEqual(file.loads.map((l) => [l.run_token, l.result_path]), loads.map((l) => [l.runToken, l.resultLocation]));

    // A worker that restarts (a new load port on the same work dir) finds the pack run by its token.
    const client = new RunnerClient(layoutOf(join(work, 'shop')));
    try {
      const again = createLoadPort(layoutOf(join(work, 'shop')), client);
      assert.equal(await again.packs!.findPackByToken(req), runId);
      assert.equal((await again.packs!.startPack(req)).runId, runId, 'and does not start it again');
    } finally {
      await client.close();
    }
  });

  test('a failing table fails alone with its error; the others commit; a new run of the pack skips the tables that succeeded', async () => {
    const bad = planEntry({ table: TABLES.events, lakeTable: 'f_events', action: 'merge', primaryKey: ['no_such_column'], sizeGB: 0.001 });
    const loads = [loadRequest('c2', plans.pii('f_pii')), loadRequest('c2', bad), loadRequest('c2', plans.views('f_views'))];
    const req = packRequest('c2', 'c2:pack-1', loads);
    const { runId } = await packs.startPack(req);
    assert.equal((await ended(runId)).state, 'succeeded', 'the pack ran: a table failure is in its result');
    const failed = await ports.load.readResult(loads[1]!.resultLocation);
    assert.equal(failed?.status, 'failed');
    assert.match(failed?.error?.message ?? '', /no_such_column/);
    for (const load of [loads[0]!, loads[2]!]) assert.equal((await ports.load.readResult(load.resultLocation))?.status, 'succeeded');
    assert.deepEqual((await packs.readSummary(req.summaryLocation))?.tables.map((t) => t.status), ['succeeded', 'failed', 'succeeded']);

    // The same tables (same run tokens) in a new run: those that succeeded are skipped, not loaded again.
    const before = { pii: await snapshotCount('f_pii'), views: await snapshotCount('f_views') };
    const piiFinished = (await ports.load.readResult(loads[0]!.resultLocation))?.finishedAt;
    const rerun = packRequest('c2', 'c2:pack-2', loads);
    assert.equal((await ended((await packs.startPack(rerun)).runId)).state, 'succeeded');
    assert.deepEqual((await packs.readSummary(rerun.summaryLocation))?.tables.map((t) => [t.table, t.status]), [
      [TABLES.pii, 'skipped'],
      [TABLES.events, 'failed'],
      [TABLES.views, 'skipped'],
    ]);
    assert.equal((await ports.load.readResult(loads[0]!.resultLocation))?.finishedAt, piiFinished);
    assert.deepEqual({ pii: await snapshotCount('f_pii'), views: await snapshotCount('f_views') }, before, 'no new commit on a skipped table');
  });

  test('a stop request ends the tables under way (both threads) and starts no more: the table not reached has no result', async () => {
    const loads = [loadRequest('c3', plans.pii('s_pii')), loadRequest('c3', plans.events('s_events')), loadRequest('c3', plans.views('s_views'))];
    const req = packRequest('c3', 'c3:pack-1', loads);
    const { runId } = await packs.startPack(req);
    // Stopped as soon as it runs, long before a table's load (seconds of Spark work) is done.
    while ((await ports.load.getRun(runId)).detail !== 'RUNNING') await delay(20);
    await ports.load.stopRun(runId);
    const status = await ended(runId);
    assert.equal(status.state, 'failed');
    assert.equal(status.detail, 'STOPPED');
    assert.match(status.errorMessage ?? '', /stopped on request after [0-2] of 3 tables/);
    assert.equal(existsSync(loads[2]!.resultLocation), false, 'the third table was never started');
    const summary = await packs.readSummary(req.summaryLocation);
    assert.ok(summary && summary.tables.length < 3, 'the summary lists the tables handled before the stop');
    for (const load of loads.slice(0, 2)) {
      // A table under way runs in the pack's job group on its own thread: the stop cancels its Spark jobs,
      // unless its load finished first (a small table takes well under a second). Its result and the summary agree.
      const result = await ports.load.readResult(load.resultLocation);
      const listed: { status: string } | undefined = summary.tables.find((t) => t.table === load.plan.table);
      assert.equal(listed?.status === 'succeeded', result?.status === 'succeeded', `${load.plan.table}: ${JSON.stringify(summary.tables)}`);
    }
  });

  test('a pack with a direct load is refused before anything is written', async () => {
    const direct = loadRequest('c4', planEntry({ table: TABLES.events, lakeTable: 'd_events', action: 'incremental', cursor: { column: 'id', mode: 'append' }, extract: { kind: 'direct' } } as PlanEntry));
    await assert.rejects(packs.startPack(packRequest('c4', 'c4:pack-1', [direct])), /public\.events is a direct load, which is never packed/);
    assert.equal(existsSync(join(work, 'shop', 'results', 'c4')), false);
  });
});

describe('the runner client: pack threads', () => {
  test('a number of pack threads out of 1..16 is refused before any runner starts', () => {
    const layout = layoutOf(join(tmpdir(), 'lakesync-never-started'));
    for (const packThreads of [0, 17, 2.5, Number.NaN]) {
      assert.throws(() => new RunnerClient(layout, { packThreads }), /packThreads .*: give a whole number from 1 to 16/);
    }
    assert.doesNotThrow(() => new RunnerClient(layout, { packThreads: 4 }));
  });
});

describe('a pack run whose runner died (no Spark)', () => {
  test('it succeeded when its summary for the pack token was written first; else it failed, retryable', async () => {
    const layout = layoutOf(mkdtempSync(join(work, 'dead-')));
    const port = createLoadPort(layout, new RunnerClient(layout));
    const dead = { pid: 4194305, instance: 'gone' };
    const summaryPath = join(layout.root, 'summary.json');
    const record = (runId: string, packToken: string) => ({
      runId,
      runToken: packToken,
      state: 'running',
      table: `pack ${packToken} (2 tables)`,
      resultPath: summaryPath,
      queuedAt: '2024-01-01T00:00:00.000Z',
      startedAt: '2024-01-01T00:00:01.000Z',
      runner: dead,
      args: { pack_path: join(layout.root, 'pack.json') },
      restarts: 2,
    });
    mkdirSync(layout.runs, { recursive: true });
    const lost = `${runIdPrefix('c9:pack-1')}x`;
    writeFileSync(join(layout.runs, `${lost}.json`), JSON.stringify(record(lost, 'c9:pack-1')));
    const status = await port.getRun(lost);
    assert.equal(status.state, 'failed');
    assert.equal(status.detail, 'ERROR');
    assert.equal(status.retryable, true);
    assert.match(status.errorMessage ?? '', /stopped before run .* of pack c9:pack-1 \(2 tables\) finished \(started 3 times\)/);

    const done = `${runIdPrefix('c9:pack-2')}x`;
    writeFileSync(join(layout.runs, `${done}.json`), JSON.stringify(record(done, 'c9:pack-2')));
    writeFileSync(summaryPath, JSON.stringify({ packToken: 'c9:pack-2', tables: [] }));
    assert.equal((await port.getRun(done)).state, 'succeeded');
  });
});
