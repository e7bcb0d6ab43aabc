/**
 * The local load path for real: PGlite export -> the Glue core in the load runner (Spark + Iceberg)
 * -> verification and queries in Spark SQL. One runner (one JVM) serves the whole file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { publishActivities } from '../../src/activities/publish';
import { parseConfig } from '../../src/config/load';
import type { LakesyncConfig, SourceConfig } from '../../src/config/schema';
import type { ExportRef, LoadRequest, LoadResult, PlanEntry } from '../../src/model';
import { planEntry } from '../helpers/plan';
import type { Ports } from '../../src/ports';
import { localSettings } from '../../src/backends/local';
import { acquireSource, createLocalPorts } from '../../src/local';
import { layoutOf, resultFile } from '../../src/local/paths';
import { RunnerClient, type RunnerInfo } from '../../src/local/runner/client';
import type { SourceHandle } from '../../src/local/source/registry';
import { repoRoot, toolchain } from '../../src/toolchain';
import { SEVERAL_ROWS } from '../../src/verify-rows';

let work: string;
let config: LakesyncConfig;
let source: SourceConfig;
let ports: Ports;
let db: SourceHandle;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-runner-'));
  config = parseConfig({
    sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true }, target: { namespace: 'shop' }, local: { workDir: join(work, 'shop') } } },
  });
  source = config.sources.shop!;
  ports = await createLocalPorts(localSettings('shop', source, work));
  db = await acquireSource({ kind: 'pglite', dataDir: join(work, 'pg'), demo: true });
});

after(async () => {
  await ports?.close?.();
  await db?.release();
  rmSync(work, { recursive: true, force: true });
});

async function exportNow(n: number, tables = ['public.order_items']): Promise<ExportRef> {
  const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: `snap-${n}`, mode: 'create' });
  const ref = await ports.export.startExport({ source: 'shop', exportId: `ls-shop-${n}`, snapshot, tables });
  for (;;) {
    const status = await ports.export.describeExport(ref.exportId);
    if (status.state === 'complete') return ref;
    assert.equal(status.state, 'in_progress', status.failureCause);
    await delay(100);
  }
}

/** One snapshot time for every load here: the same time is never refused as older. */
const SNAPSHOT_TIME = '2025-01-01T00:00:00.000Z';
let created: LoadResult | undefined;

async function load(ref: ExportRef, cycle: number, plan: PlanEntry, approveDeletes = false): Promise<LoadResult> {
  const base = { source: 'shop', cycleId: `c${cycle}`, runToken: `c${cycle}:${plan.table}`, exportId: ref.exportId, snapshotTime: SNAPSHOT_TIME, exportLocation: ref.location, database: 'shop', plan: { ...plan, approveDeletes }, namespace: 'shop' };
  const req: LoadRequest = { ...base, resultLocation: ports.load.resultLocation(base) };
  const { runId } = await ports.load.startLoad(req);
  assert.equal(await ports.load.findRunByToken(req), runId);
  for (;;) {
    const status = await ports.load.getRun(runId);
    if (status.state !== 'running') break;
    await delay(250);
  }
  const result = await ports.load.readResult(req.resultLocation);
  assert.ok(result, `run ${runId} wrote its result`);
  return result;
}

/** Where the load of `table` in cycle `cycle` writes its result JSON. */
const resultPath = (cycle: number, table: string): string => resultFile(layoutOf(join(work, 'shop')), `c${cycle}`, table);

/** Another writer's commit (a compaction, a rollback), from a Spark session of its own on the same warehouse. */
function anotherWriter(statement: string): void {
  const script = [
    'import sys',
    `sys.path.insert(0, ${JSON.stringify(join(repoRoot(), 'glue'))})`,
    'from lakesync_glue.session import build_local_spark',
    `spark = build_local_spark(${JSON.stringify(layoutOf(join(work, 'shop')).warehouse)})`,
    `spark.sql(${JSON.stringify(statement)}).collect()`,
  ].join('\n');
  const run = spawnSync(toolchain().python, ['-c', script], { encoding: 'utf8', timeout: 150_000 });
  assert.equal(run.status, 0, run.stderr);
}

/** The verify activity as the batch workflow calls it, on these ports. */
const verifyActivity = () => publishActivities({ config, portsFor: () => ports }).verifyTable;

const plan = (action: PlanEntry['action']): PlanEntry => planEntry({ table: 'public.order_items', lakeTable: 'order_items', action, primaryKey: ['order_id', 'line_no'] });

describe('loads, verification and queries through the load runner', () => {
  test('create: the lake table holds exactly the source rows, with lake types', async () => {
    const ref = await exportNow(1);
    const result = await load(ref, 1, plan('create'));
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(result.action, 'create');
    assert.equal(result.inserted, 600);
    assert.equal(result.rowCountAfter, 600);
    assert.ok(await ports.lake.tableExists('shop', 'order_items'));
    created = result;

    const lake = await ports.lake.query!('SELECT order_id, line_no, unit_price, delivery_window, pickup_time, shipped_at FROM shop.order_items WHERE order_id = 1 ORDER BY line_no');
    const src = await db.db.query<Record<string, unknown>>(
      `SELECT order_id, line_no, unit_price::text, delivery_window::text, pickup_time::text, to_char(shipped_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS shipped_at FROM order_items WHERE order_id = 1 ORDER BY line_no`,
    );
    assert.deepEqual(lake, src);

    const verified = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'order_items', table: 'public.order_items', rowCount: { kind: 'total', rows: 600 }, snapshotId: result.snapshotId, checks: [{ name: 'quantity sum', sql: 'SELECT sum(quantity) FROM {table}', expect: 1500 }] });
    const [sum] = await db.db.query<{ s: number }>('SELECT sum(quantity)::int AS s FROM order_items');
    assert.equal(sum!.s, 1500);
    assert.equal(verified.passed, true, JSON.stringify(verified.checks));
    assert.equal(verified.checks[0]!.name, `row count at snapshot ${result.snapshotId}`);
  });

  test('lastCommit reads the lineage the load recorded in its Iceberg commit; a missing table has none', async () => {
    assert.ok(created, 'the create test ran first');
    const commit = await ports.lake.lastCommit!('shop', 'order_items');
    assert.ok(commit && Math.abs(Date.now() - Date.parse(commit.committedAt)) < 3_600_000, JSON.stringify(commit));
    assert.deepEqual(
      { ...commit, committedAt: '' },
      {
        icebergSnapshotId: created.snapshotId,
        committedAt: '',
        source: 'shop',
        exportId: 'ls-shop-1',
        snapshotTime: SNAPSHOT_TIME,
        cycleId: 'c1',
        // What Iceberg's snapshot summary records of the create: a new table of 600 rows.
        written: { operation: 'append', parentId: null, addedRecords: 600, deletedRecords: 0, deletedDataFiles: 0, addedDeleteFiles: 0, removedDeleteFiles: 0, totalRecords: 600, totalDeleteFiles: 0 },
      },
    );
    assert.equal(await ports.lake.lastCommit!('shop', 'no_such_table'), undefined);
  });

  test('verification fails on a wrong count and on a check Spark refuses, naming both', async () => {
    const outcome = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'order_items', table: 'public.order_items', rowCount: { kind: 'total', rows: 601 }, snapshotId: null, checks: [{ name: 'broken', sql: 'SELECT nope FROM {table}', expect: 1 }] });
    assert.equal(outcome.passed, false);
    assert.deepEqual(outcome.checks.map((c) => [c.name, c.passed]), [['row count', false], ['broken', false]]);
    assert.equal(outcome.checks[0]!.actual, '600');
    assert.match(outcome.checks[1]!.actual, /^error: .*nope/);
  });

  test('a check that answers more than one row fails, though its first row is what it expects', async () => {
    const [first] = await db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM order_items GROUP BY line_no ORDER BY line_no LIMIT 1');
    const check = { name: 'lines per position', sql: 'SELECT count(*) FROM {table} GROUP BY line_no ORDER BY line_no', expect: first!.n };
    const outcome = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'order_items', table: 'public.order_items', rowCount: { kind: 'total', rows: 600 }, snapshotId: null, checks: [check] });
    assert.deepEqual(outcome.checks[1], { name: 'lines per position', expected: String(first!.n), actual: SEVERAL_ROWS, passed: false });
    assert.equal(outcome.passed, false);
    const one = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'order_items', table: 'public.order_items', rowCount: { kind: 'total', rows: 600 }, snapshotId: null, checks: [{ ...check, sql: `${check.sql} LIMIT 1` }] });
    assert.equal(one.passed, true, JSON.stringify(one.checks));
  });

  test('a result JSON that reports the count and snapshot of the table before its commit fails verification against the export', async () => {
    const lossy = planEntry({ table: 'public.order_items', lakeTable: 'order_items_lossy', action: 'create', primaryKey: ['order_id', 'line_no'] });
    const before = await load(await exportNow(10), 10, lossy);
    assert.equal(before.status, 'succeeded', JSON.stringify(before.error));
    // Three new source rows reach an export; the source is restored for the tests that follow.
    await db.db.exec(`INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price) VALUES (9001, 1, 'SKU-0001', 1, 1.00), (9001, 2, 'SKU-0002', 1, 1.00), (9001, 3, 'SKU-0003', 1, 1.00)`);
    const ref = await exportNow(11);
    await db.db.exec('DELETE FROM order_items WHERE order_id = 9001');
    const merged = await load(ref, 11, { ...lossy, action: 'merge' });
    assert.deepEqual([merged.status, merged.inserted, merged.rowCountAfter], ['succeeded', 3, 603], JSON.stringify(merged.error));

    // The job "loses" its 3 rows: its result reports the table as it was, a count the lake agrees with.
    const location = resultPath(11, 'public.order_items');
    writeFileSync(location, JSON.stringify({ ...merged, rowCountAfter: before.rowCountAfter, snapshotId: before.snapshotId }));
    const corrupted = (await ports.load.readResult(location))!;
    assert.deepEqual([corrupted.rowCountAfter, corrupted.snapshotId], [600, before.snapshotId]);

    const input = { source: 'shop', table: 'public.order_items', lakeTable: 'order_items_lossy', action: 'merge' as const, export: ref, load: corrupted };
    await assert.rejects(verifyActivity()(input), (err: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(err.type, 'VerificationFailed');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, new RegExp(`verification of public\\.order_items \\(shop\\.order_items_lossy\\) failed: row count at snapshot ${before.snapshotId}: expected 603, got 600`));
      assert.match(err.message, /the export's Parquet files: the load lost or duplicated rows; rerun the table \(lakesync rerun shop --tables public\.order_items\)/);
      return true;
    });
    // The result as the job wrote it verifies.
    const honest = await verifyActivity()({ ...input, load: merged });
    assert.deepEqual(honest.checks[0], { name: `row count at snapshot ${merged.snapshotId}`, expected: '603', actual: '603', passed: true });
  });

  test('incremental: verification holds the rows the lake gained against the rows the load reports inserting', async () => {
    const events = planEntry({ table: 'public.events', lakeTable: 'events', action: 'create', cursor: { column: 'created_at', mode: 'append' } });
    const verify = verifyActivity();
    const first = await exportNow(20, ['public.events']);
    const createdEvents = await load(first, 20, events);
    assert.equal(createdEvents.status, 'succeeded', JSON.stringify(createdEvents.error));
    const asCreated = await verify({ source: 'shop', table: 'public.events', lakeTable: 'events', action: 'create', export: first, load: createdEvents });
    assert.deepEqual(asCreated.checks[0], { name: `row count at snapshot ${createdEvents.snapshotId}`, expected: '500', actual: '500', passed: true });

    await db.db.exec(`INSERT INTO events SELECT i, 'click', NULL, TIMESTAMPTZ '2024-06-01 00:00:00+00' + i * INTERVAL '1 minute', NULL FROM generate_series(501, 520) AS i`);
    const second = await exportNow(21, ['public.events']);
    const appended = await load(second, 21, { ...events, action: 'incremental' });
    assert.equal(appended.status, 'succeeded', JSON.stringify(appended.error));
    assert.deepEqual([appended.action, appended.inserted, appended.committed], ['incremental', 20, true]);
    // Its commit's snapshot summary records the 20 rows it appended to the create, and nothing removed.
    const { operation, parentId, addedRecords, deletedRecords, addedDeleteFiles, totalRecords, totalDeleteFiles } = (await ports.lake.lastCommit!('shop', 'events'))!.written!;
    assert.deepEqual({ operation, parentId, addedRecords, deletedRecords, addedDeleteFiles, totalRecords, totalDeleteFiles }, { operation: 'append', parentId: createdEvents.snapshotId, addedRecords: 20, deletedRecords: 0, addedDeleteFiles: 0, totalRecords: 520, totalDeleteFiles: 0 });
    const input = { source: 'shop', table: 'public.events', lakeTable: 'events', action: 'incremental' as const, export: second, load: appended };
    const outcome = await verify(input);
    assert.deepEqual(outcome.checks[0], { name: `rows snapshot ${appended.snapshotId} added to snapshot ${createdEvents.snapshotId}`, expected: '20', actual: '20', passed: true });

    // A result that misreports the appended rows fails, whatever its rowCountAfter says.
    await assert.rejects(verify({ ...input, load: { ...appended, inserted: 19 } }), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'VerificationFailed');
      assert.match(err.message, new RegExp(`rows snapshot ${appended.snapshotId} added to snapshot ${createdEvents.snapshotId}: expected 19, got 20 \\(the rows the lake table gained must equal the 19 row\\(s\\) the load reports inserting`));
      return true;
    });

    // Nothing new: the load commits nothing, and the lake must not have gained a row after its snapshot.
    const third = await exportNow(22, ['public.events']);
    const unchanged = await load(third, 22, { ...events, action: 'incremental' });
    assert.equal(unchanged.status, 'succeeded', JSON.stringify(unchanged.error));
    assert.deepEqual([unchanged.action, unchanged.inserted, unchanged.committed, unchanged.snapshotId], ['none', 0, false, appended.snapshotId]);
    const quiet = await verify({ ...input, export: third, load: unchanged });
    assert.deepEqual(quiet.checks[0], { name: `rows added after snapshot ${appended.snapshotId}`, expected: '0', actual: '0', passed: true });

    // A compaction committed right after the append, and the load reported it as its snapshot: the rows are counted from the append.
    anotherWriter("CALL lake.system.rewrite_data_files(table => 'shop.events', options => map('rewrite-all', 'true'))");
    const [compaction] = await ports.lake.query!("SELECT CAST(snapshot_id AS STRING) AS id, operation FROM shop.events.snapshots ORDER BY committed_at DESC LIMIT 1");
    assert.equal(compaction?.operation, 'replace');
    const compacted = await verify({ ...input, load: { ...appended, snapshotId: String(compaction!.id) } });
    assert.deepEqual(compacted.checks[0], {
      name: `rows snapshot ${appended.snapshotId} added to snapshot ${createdEvents.snapshotId} (snapshot ${compaction!.id} after it only rewrote files)`,
      expected: '20',
      actual: '20',
      passed: true,
    });
  });

  test('merge after a mass delete is refused by the delete guard, then applied when approved', async () => {
    await db.db.exec('DELETE FROM order_items WHERE order_id > 50; UPDATE order_items SET quantity = 9 WHERE order_id = 1;');
    const ref = await exportNow(2);
    const refused = await load(ref, 2, plan('merge'));
    assert.equal(refused.status, 'failed');
    assert.equal(refused.error?.class, 'DeleteGuard');
    assert.equal((await ports.lake.query!('SELECT count(*) AS n FROM shop.order_items'))[0]!.n, 600, 'a refused load changes nothing');

    const approved = await load(ref, 3, plan('merge'), true);
    assert.equal(approved.status, 'succeeded', JSON.stringify(approved.error));
    assert.equal(approved.deleted, 450);
    assert.equal(approved.updated, 3);
    assert.equal(approved.rowCountAfter, 150);
    // A merge's updates and deletes are row-level deletes: its commit does not tell its counts, nor (its deletes pending) the table's rows.
    const merged = (await ports.lake.lastCommit!('shop', 'order_items'))!.written!;
    assert.ok(merged.addedDeleteFiles > 0 && merged.totalDeleteFiles! > 0 && merged.totalRecords !== 150, JSON.stringify(merged));
  });

  test('a second client (the CLI) attaches to the running runner instead of starting Spark again', async () => {
    const layout = layoutOf(join(work, 'shop'));
    const info = JSON.parse(readFileSync(layout.runnerInfo, 'utf8')) as RunnerInfo;
    const cli = new RunnerClient(layout);
    try {
      const rows = await cli.call<{ rows: unknown[] }>('POST', '/sql', { sql: 'SELECT count(*) AS n FROM shop.order_items' });
      assert.deepEqual(rows.rows, [{ n: 150 }]);
      assert.equal(cli.ownsRunner, false);
      assert.equal((await cli.ensure()).pid, info.pid);
    } finally {
      await cli.close();
    }
    assert.ok(existsSync(layout.runnerInfo), 'closing an attached client leaves the runner running');
  });

  test('read-only queries only; the refusal says why', async () => {
    await assert.rejects(ports.lake.query!('DELETE FROM shop.order_items'), /read-only/);
  });

  test('lastCommit passes over a commit without lineage (compaction) and a rolled-back commit', { timeout: 180_000 }, async () => {
    assert.ok(created, 'the create test ran first');
    const newest = await ports.lake.lastCommit!('shop', 'order_items');
    assert.ok(newest?.cycleId && newest.icebergSnapshotId !== created.snapshotId, `a later load committed: ${JSON.stringify(newest)}`);
    // Last of the loads: it rolls the table back.
    anotherWriter("CALL lake.system.rewrite_data_files(table => 'shop.order_items', options => map('rewrite-all', 'true'))");
    const compacted = await ports.lake.query!("SELECT CAST(snapshot_id AS STRING) AS id, summary['lakesync.cycle-id'] AS cycle FROM shop.order_items.snapshots ORDER BY committed_at DESC LIMIT 1");
    assert.equal(compacted[0]?.cycle, null, 'the newest snapshot is the compaction, without lineage');
    assert.deepEqual(await ports.lake.lastCommit!('shop', 'order_items'), newest, 'the compaction is passed over');

    anotherWriter(`CALL lake.system.rollback_to_snapshot('shop.order_items', ${created.snapshotId})`);
    const back = await ports.lake.lastCommit!('shop', 'order_items');
    assert.equal(back?.icebergSnapshotId, created.snapshotId, 'after the rollback the table holds the create again');
    assert.equal(back?.cycleId, 'c1');
  });

  test('closing the ports stops the runner it started and removes runner.json', async () => {
    const layout = layoutOf(join(work, 'shop'));
    const info = JSON.parse(readFileSync(layout.runnerInfo, 'utf8')) as RunnerInfo;
    await ports.close!();
    assert.ok(!existsSync(layout.runnerInfo));
    assert.throws(() => process.kill(info.pid, 0), /ESRCH/);
  });
});
