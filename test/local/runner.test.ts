/**
 * The local load path for real: PGlite export -> the Glue core in the load runner (Spark + Iceberg)
 * -> verification and queries in Spark SQL. One runner (one JVM) serves the whole file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import type { SourceConfig } from '../../src/config/schema';
import type { ExportRef, LoadRequest, LoadResult, PlanEntry } from '../../src/model';
import { planEntry } from '../helpers/plan';
import type { Ports } from '../../src/ports';
import { localSettings } from '../../src/backends/local';
import { acquireSource, createLocalPorts } from '../../src/local';
import { layoutOf } from '../../src/local/paths';
import { RunnerClient, type RunnerInfo } from '../../src/local/runner/client';
import type { SourceHandle } from '../../src/local/source/registry';

let work: string;
let source: SourceConfig;
let ports: Ports;
let db: SourceHandle;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-runner-'));
  source = parseConfig({
    sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true }, target: { namespace: 'shop' }, local: { workDir: join(work, 'shop') } } },
  }).sources.shop!;
  ports = await createLocalPorts(localSettings('shop', source, work));
  db = await acquireSource({ kind: 'pglite', dataDir: join(work, 'pg'), demo: true });
});

after(async () => {
  await ports?.close?.();
  await db?.release();
  rmSync(work, { recursive: true, force: true });
});

async function exportNow(n: number): Promise<ExportRef> {
  const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: `snap-${n}`, mode: 'create' });
  const ref = await ports.export.startExport({ source: 'shop', exportId: `ls-shop-${n}`, snapshot, tables: ['public.order_items'] });
  for (;;) {
    const status = await ports.export.describeExport(ref.exportId);
    if (status.state === 'complete') return ref;
    assert.equal(status.state, 'in_progress', status.failureCause);
    await delay(100);
  }
}

async function load(ref: ExportRef, cycle: number, plan: PlanEntry, approveDeletes = false): Promise<LoadResult> {
  const base = { source: 'shop', cycleId: `c${cycle}`, runToken: `c${cycle}:${plan.table}`, exportLocation: ref.location, database: 'shop', plan: { ...plan, approveDeletes }, namespace: 'shop' };
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

    const lake = await ports.lake.query!('SELECT order_id, line_no, unit_price, delivery_window, pickup_time, shipped_at FROM shop.order_items WHERE order_id = 1 ORDER BY line_no');
    const src = await db.db.query<Record<string, unknown>>(
      `SELECT order_id, line_no, unit_price::text, delivery_window::text, pickup_time::text, to_char(shipped_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS shipped_at FROM order_items WHERE order_id = 1 ORDER BY line_no`,
    );
    assert.deepEqual(lake, src);

    const verified = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'order_items', table: 'public.order_items', expectedRowCount: 600, snapshotId: result.snapshotId, checks: [{ name: 'quantity sum', sql: 'SELECT sum(quantity) FROM {table}', expect: 1500 }] });
    const [sum] = await db.db.query<{ s: number }>('SELECT sum(quantity)::int AS s FROM order_items');
    assert.equal(sum!.s, 1500);
    assert.equal(verified.passed, true, JSON.stringify(verified.checks));
    assert.equal(verified.checks[0]!.name, `row count at snapshot ${result.snapshotId}`);
  });

  test('verification fails on a wrong count and on a check Spark refuses, naming both', async () => {
    const outcome = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'order_items', table: 'public.order_items', expectedRowCount: 601, snapshotId: null, checks: [{ name: 'broken', sql: 'SELECT nope FROM {table}', expect: 1 }] });
    assert.equal(outcome.passed, false);
    assert.deepEqual(outcome.checks.map((c) => [c.name, c.passed]), [['row count', false], ['broken', false]]);
    assert.equal(outcome.checks[0]!.actual, '600');
    assert.match(outcome.checks[1]!.actual, /^error: .*nope/);
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

  test('closing the ports stops the runner it started and removes runner.json', async () => {
    const layout = layoutOf(join(work, 'shop'));
    const info = JSON.parse(readFileSync(layout.runnerInfo, 'utf8')) as RunnerInfo;
    await ports.close!();
    assert.ok(!existsSync(layout.runnerInfo));
    assert.throws(() => process.kill(info.pid, 0), /ESRCH/);
  });
});
