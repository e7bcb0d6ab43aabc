/**
 * The metrics' values and their Prometheus text, from plain status objects; the scrape cache and
 * deadline; the --metrics address and listening errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { repoRoot } from '../../src/cli/paths';
import { parseConfig } from '../../src/config/load';
import { selectTable } from '../../src/config/tables';
import { MetricsAddressError, parseMetricsAddress } from '../../src/metrics/address';
import { StatusReader } from '../../src/metrics/reader';
import { LakesyncRegistry } from '../../src/metrics/registry';
import { MetricsEndpoint } from '../../src/metrics/server';
import { MetricsService } from '../../src/metrics/service';
import { sourceMetrics, tablesWithoutCounts } from '../../src/metrics/values';
import type { CycleResult, Watermark } from '../../src/model';
import type { CycleSummary, SourceStatus, TableSummary } from '../../src/workflows/messages';

const ROOT = repoRoot(__dirname);
const NOW = Date.parse('2026-01-02T00:10:00Z');

function watermark(snapshotTime: string, loadedAt: string, rowCount = 10): Watermark {
  return { exportId: 'e1', snapshotTime, action: 'merge', cursorColumn: null, cursorValue: null, icebergSnapshotId: '1', rowCount, schemaHash: 'h', loadedAt, lastError: null };
}

function summary(cycleId: string, status: CycleSummary['status'], startedAt: string, finishedAt: string, committed: number): CycleSummary {
  return { cycleId, workflowId: `lakesync/shop/cycle-${cycleId}`, kind: 'sync', status, requestIds: ['r1'], counts: { committed, failed: 1, skipped: 0 }, startedAt, finishedAt };
}

/** Cycle 2 (last) committed public.a and failed public.b; public.c was last committed by cycle 1. */
function status(): SourceStatus {
  const last = summary('2', 'partial', '2026-01-02T00:00:00Z', '2026-01-02T00:01:30Z', 1);
  const tables: TableSummary[] = [
    { table: 'public.a', lakeTable: 'a', status: 'committed', action: 'merge', inserted: 5, updated: 3, deleted: 1 },
    { table: 'public.b', lakeTable: 'b', status: 'failed', action: 'merge', error: { phase: 'load', message: 'boom', type: 'X', retryable: false } },
  ];
  return {
    source: 'shop',
    phase: 'idle',
    queue: [],
    lastCycle: { ...last, tables },
    recentCycles: [last, summary('1', 'succeeded', '2026-01-01T00:00:00Z', '2026-01-01T00:02:00Z', 3)],
    failed: { 'public.b': { cycleId: '2', phase: 'load', message: 'boom', exportId: 'e2' } },
    ledger: {
      'public.a': watermark('2026-01-02T00:00:00Z', '2026-01-02T00:01:00Z', 12),
      'public.b': watermark('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'),
      'public.c': watermark('2026-01-01T00:00:00Z', '2026-01-01T00:01:10Z'),
    },
    ignoredRequests: [],
    droppedTables: [],
  };
}

function cycle1(): CycleResult {
  const load = (inserted: number, finishedAt: string) => ({ action: 'create' as const, committed: true, rowsRead: inserted, inserted, updated: 0, deleted: 0, rowCountAfter: inserted, cursorColumn: null, cursorValueAfter: null, snapshotId: '1', schemaHash: 'h', finishedAt });
  return {
    cycleId: '1',
    source: 'shop',
    status: 'succeeded',
    tables: [
      { table: 'public.b', lakeTable: 'b', action: 'create', status: 'committed', load: load(10, '2026-01-01T00:01:00Z'), startedAt: '2026-01-01T00:00:30Z', finishedAt: '2026-01-01T00:01:00Z' },
      { table: 'public.c', lakeTable: 'c', action: 'create', status: 'committed', load: load(7, '2026-01-01T00:01:10Z'), startedAt: '2026-01-01T00:00:40Z', finishedAt: '2026-01-01T00:01:10Z' },
    ],
    warnings: [],
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:02:00Z',
  };
}

function cycle2(): CycleResult {
  return {
    cycleId: '2',
    source: 'shop',
    status: 'partial',
    tables: [
      { table: 'public.a', lakeTable: 'a', action: 'merge', status: 'committed', startedAt: '2026-01-02T00:00:10Z', finishedAt: '2026-01-02T00:01:00Z' },
      { table: 'public.b', lakeTable: 'b', action: 'merge', status: 'failed', startedAt: '2026-01-02T00:00:10Z', finishedAt: '2026-01-02T00:00:30Z' },
    ],
    warnings: [],
    startedAt: '2026-01-02T00:00:00Z',
    finishedAt: '2026-01-02T00:01:30Z',
  };
}

const lakeTableOf = (t: string) => `lake_${t.split('.')[1]}`;

function results(...list: CycleResult[]): (id: string) => CycleResult | undefined {
  return (id) => list.find((r) => `lakesync/shop/cycle-${r.cycleId}` === id);
}

/** The value of one series in Prometheus text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metric values from the durable state', () => {
  it('per table: failed, freshness lag from the snapshot time, rows of the last committed load (last cycle or an older result)', () => {
    const m = sourceMetrics(status(), { lakeTableOf, cycleResult: results(cycle1(), cycle2()), now: NOW });
    const byTable = Object.fromEntries(m.tables.map((t) => [t.table, t]));
    assert.deepEqual(Object.keys(byTable), ['public.a', 'public.b', 'public.c']);
    assert.deepEqual(byTable['public.a'], { table: 'public.a', lakeTable: 'lake_a', failed: false, lastLoad: { inserted: 5, updated: 3, deleted: 1 }, freshnessLagSeconds: 600, rowCount: 12, loadedAt: Date.parse('2026-01-02T00:01:00Z') / 1000 });
    // b failed in the last cycle: its counts are those of its last commit (cycle 1), and it is failed.
    assert.equal(byTable['public.b']!.failed, true);
    assert.deepEqual(byTable['public.b']!.lastLoad, { inserted: 10, updated: 0, deleted: 0 });
    assert.equal(byTable['public.b']!.freshnessLagSeconds, 24 * 3600 + 600);
    assert.deepEqual(byTable['public.c']!.lastLoad, { inserted: 7, updated: 0, deleted: 0 });
  });

  it('per cycle: duration, status, table counts, table seconds from the result; no DPU-seconds yet', () => {
    const m = sourceMetrics(status(), { lakeTableOf, cycleResult: results(cycle2()), now: NOW });
    assert.deepEqual(m.lastCycle, { cycleId: '2', kind: 'sync', status: 'partial', durationSeconds: 90, finishedAt: Date.parse('2026-01-02T00:01:30Z') / 1000, tables: { committed: 1, failed: 1, skipped: 0 }, tableSeconds: 70 });
  });

  it('leaves counts out when no readable result holds the load the watermark records', () => {
    // Without cycle 1's result, b and c have no counts; with a result whose load is another one, neither.
    assert.deepEqual(tablesWithoutCounts(status(), results()), ['public.b', 'public.c']);
    const other = cycle1();
    other.tables[1]!.load!.finishedAt = '2025-12-31T00:00:00Z';
    const m = sourceMetrics(status(), { lakeTableOf, cycleResult: results(other), now: NOW });
    assert.equal(m.tables.find((t) => t.table === 'public.c')!.lastLoad, undefined);
    assert.deepEqual(m.tables.find((t) => t.table === 'public.b')!.lastLoad, { inserted: 10, updated: 0, deleted: 0 });
    // A result kept by reference (no inline tables) is not read.
    const byRef = { ...cycle1(), tables: undefined } as unknown as CycleResult;
    assert.deepEqual(tablesWithoutCounts(status(), results(byRef)), ['public.b', 'public.c']);
  });

  it('a table the source dropped, or the config now excludes, has no series: its lag would grow forever', async () => {
    // c is no longer exported (the ledger dropped it); b is excluded by the current config.
    const s = { ...status(), droppedTables: [{ table: 'public.c', cycleId: '2', exportId: 'e2', at: '2026-01-02T00:01:30Z', note: 'not in export e2' }] };
    const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'shop' }, exclude: ['public.b'] } } });
    const selected = (t: string) => selectTable(config.sources.shop!, t).included;
    const m = sourceMetrics(s, { lakeTableOf, selected, cycleResult: results(cycle1(), cycle2()), now: NOW });
    assert.deepEqual(m.tables.map((t) => t.table), ['public.a']);
    assert.deepEqual(tablesWithoutCounts(s, results(), selected), []);
    const registry = new LakesyncRegistry({ processMetrics: false });
    registry.show([{ source: 'shop', state: 'read', metrics: m }]);
    const text = await registry.metrics();
    assert.equal(sample(text, 'lakesync_table_freshness_lag_seconds{source="shop",table="public.c",lake_table="lake_c"}'), undefined);
    assert.equal(sample(text, 'lakesync_table_freshness_lag_seconds{source="shop",table="public.b",lake_table="lake_b"}'), undefined);
    assert.equal(sample(text, 'lakesync_table_freshness_lag_seconds{source="shop",table="public.a",lake_table="lake_a"}'), 600);
  });

  it('a table read directly (no snapshot) has a freshness lag too: since its last committed load, which read the source', () => {
    const direct: Watermark = { ...watermark('', '2026-01-02T00:05:00Z'), exportId: '', extract: 'direct', cursorColumn: 'id', cursorValue: '42' };
    const s = { ...status(), ledger: { ...status().ledger, 'public.c': direct } };
    const m = sourceMetrics(s, { lakeTableOf, cycleResult: results(cycle1(), cycle2()), now: NOW });
    assert.equal(m.tables.find((t) => t.table === 'public.c')!.freshnessLagSeconds, 300);
  });

  it('a table read directly whose load reported its start: the lag counts from that start, before it read the source', () => {
    const direct: Watermark = { ...watermark('', '2026-01-02T00:05:00Z'), exportId: '', extract: 'direct', cursorColumn: 'id', cursorValue: '42', loadStartedAt: '2026-01-02T00:02:00Z' };
    const s = { ...status(), ledger: { ...status().ledger, 'public.c': direct } };
    const m = sourceMetrics(s, { lakeTableOf, cycleResult: results(cycle1(), cycle2()), now: NOW });
    assert.equal(m.tables.find((t) => t.table === 'public.c')!.freshnessLagSeconds, 480);
  });

  it('a running cycle: running flag and its elapsed seconds', () => {
    const s = { ...status(), phase: 'running' as const, currentCycle: { cycleId: '3', workflowId: 'w', kind: 'sync' as const, startedAt: '2026-01-02T00:09:00Z' }, queue: [{ kind: 'sync' as const, requestId: 'r9', approveDeletes: false }] };
    const m = sourceMetrics(s, { lakeTableOf, cycleResult: results(), now: NOW });
    assert.equal(m.running, true);
    assert.equal(m.runningSeconds, 60);
    assert.equal(m.queued, 1);
  });
});

describe('Prometheus text of the metrics', () => {
  it('writes every table and cycle series with source, table and lake_table labels', async () => {
    const registry = new LakesyncRegistry({ processMetrics: false });
    registry.show([{ source: 'shop', state: 'read', metrics: sourceMetrics(status(), { lakeTableOf, cycleResult: results(cycle1(), cycle2()), now: NOW }) }]);
    const text = await registry.metrics();
    const a = '{source="shop",table="public.a",lake_table="lake_a"}';
    assert.equal(sample(text, `lakesync_table_failed${a}`), 0);
    assert.equal(sample(text, 'lakesync_table_failed{source="shop",table="public.b",lake_table="lake_b"}'), 1);
    assert.equal(sample(text, `lakesync_table_freshness_lag_seconds${a}`), 600);
    assert.equal(sample(text, `lakesync_table_last_load_inserted_rows${a}`), 5);
    assert.equal(sample(text, `lakesync_table_last_load_updated_rows${a}`), 3);
    assert.equal(sample(text, `lakesync_table_last_load_deleted_rows${a}`), 1);
    assert.equal(sample(text, `lakesync_table_rows${a}`), 12);
    assert.equal(sample(text, 'lakesync_cycle_last_duration_seconds{source="shop"}'), 90);
    assert.equal(sample(text, 'lakesync_cycle_last_status{source="shop",status="partial"}'), 1);
    assert.equal(sample(text, 'lakesync_cycle_last_status{source="shop",status="succeeded"}'), 0);
    assert.equal(sample(text, 'lakesync_cycle_last_tables{source="shop",outcome="failed"}'), 1);
    assert.equal(sample(text, 'lakesync_cycle_last_table_seconds{source="shop"}'), 70);
    assert.equal(sample(text, 'lakesync_source_up{source="shop"}'), 1);
    assert.equal(sample(text, 'lakesync_scrape_errors_total{source="shop"}'), 0);
    assert.match(text, /# TYPE lakesync_cycle_last_dpu_seconds gauge/);
    assert.equal(sample(text, 'lakesync_cycle_last_dpu_seconds{source="shop"}'), undefined);
  });

  it('a source read later as absent or failed loses its series; a failure keeps source_up 0', async () => {
    const registry = new LakesyncRegistry({ processMetrics: false });
    registry.show([{ source: 'shop', state: 'read', metrics: sourceMetrics(status(), { lakeTableOf, cycleResult: results(), now: NOW }) }]);
    registry.countScrapeError('shop');
    registry.show([{ source: 'shop', state: 'error' }, { source: 'web', state: 'absent' }]);
    const text = await registry.metrics();
    assert.equal(sample(text, 'lakesync_table_failed{source="shop",table="public.b",lake_table="lake_b"}'), undefined);
    assert.equal(sample(text, 'lakesync_source_up{source="shop"}'), 0);
    assert.equal(sample(text, 'lakesync_source_up{source="web"}'), undefined);
    assert.equal(sample(text, 'lakesync_scrape_errors_total{source="shop"}'), 1);
    assert.equal(sample(text, 'lakesync_scrape_errors_total{source="web"}'), 0);
  });

  it('a source whose source workflow stopped has a series saying so: its freshness series are gone, so the stale alert cannot fire', async () => {
    const registry = new LakesyncRegistry({ processMetrics: false });
    registry.show([{ source: 'shop', state: 'read', metrics: sourceMetrics(status(), { lakeTableOf, cycleResult: results(), now: NOW }) }, { source: 'web', state: 'absent' }, { source: 'api', state: 'error' }]);
    let text = await registry.metrics();
    assert.equal(sample(text, 'lakesync_source_workflow_running{source="shop"}'), 1);
    assert.equal(sample(text, 'lakesync_source_workflow_running{source="web"}'), 0);
    assert.equal(sample(text, 'lakesync_source_workflow_running{source="api"}'), undefined, 'not known when the read failed');
    // The source workflow of shop was terminated.
    registry.show([{ source: 'shop', state: 'absent' }]);
    text = await registry.metrics();
    assert.equal(sample(text, 'lakesync_table_freshness_lag_seconds{source="shop",table="public.a",lake_table="lake_a"}'), undefined);
    assert.equal(sample(text, 'lakesync_source_workflow_running{source="shop"}'), 0);
    assert.match(readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8'), /expr: lakesync_source_workflow_running == 0/, 'an example alert');
  });
});

describe('docs/metrics.md', () => {
  it('lists every lakesync metric', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const names = new LakesyncRegistry({ processMetrics: false }).registry.getMetricsAsArray().map((m) => m.name);
    assert.ok(names.length >= 18, names.join(', '));
    assert.deepEqual(names.filter((n) => !doc.includes(`| \`${n}\` |`)), []);
  });

  it('every lakesync metric it lists is served, with the type and labels it says', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const served = new Map(new LakesyncRegistry({ processMetrics: false }).registry.getMetricsAsArray().map((m) => [m.name, m]));
    const rows = [...doc.matchAll(/^\| `(lakesync_\w+)` \| (\w+) \| ([^|]*) \|/gm)];
    assert.ok(rows.length >= 18, `the table lists lakesync's metrics (found ${rows.length})`);
    const wrong = rows.flatMap(([, name, type, labels]) => {
      const m = served.get(name!) as { type: string; labelNames?: string[] } | undefined;
      if (!m) return [`${name}: not served`];
      const got = `${m.type} | ${(m.labelNames ?? []).join(', ')}`;
      return got === `${type} | ${labels!.trim()}` ? [] : [`${name}: documented ${type} | ${labels!.trim()}, served ${got}`];
    });
    assert.deepEqual(wrong, []);
  });

  it('every lakesync metric the Grafana dashboard and the example alerts query is served', () => {
    const served = new Set(new LakesyncRegistry({ processMetrics: false }).registry.getMetricsAsArray().map((m) => m.name));
    const text = readFileSync(join(ROOT, 'docs', 'grafana-lakesync.json'), 'utf8') + readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const queried = new Set([...text.matchAll(/\blakesync_[a-z_]+\b/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    assert.ok(queried.size >= 10, [...queried].join(', '));
    assert.deepEqual([...queried].filter((n) => !served.has(n)), []);
  });
});

describe('scrapes', () => {
  it('read the sources at most once per cache period; concurrent scrapes share a read; the SDK text follows', async () => {
    let now = 0;
    let reads = 0;
    const registry = new LakesyncRegistry({ processMetrics: false });
    const service = new MetricsService({
      registry,
      read: async () => {
        reads++;
        return [{ source: 'shop', state: 'absent' }];
      },
      sdkText: async () => 'temporal_worker_start{service_name="x"} 1\n',
      cacheMs: 5_000,
      now: () => now,
    });
    const [first] = await Promise.all([service.exposition(), service.exposition()]);
    assert.equal(reads, 1);
    assert.match(first.body, /^lakesync_scrape_errors_total\{source="shop"\} 0$/m);
    assert.match(first.body, /\ntemporal_worker_start\{service_name="x"\} 1\n$/);
    assert.match(first.contentType, /^text\/plain; version=0\.0\.4/);
    now = 4_000;
    await service.exposition();
    assert.equal(reads, 1);
    now = 5_001;
    await service.exposition();
    assert.equal(reads, 2);
  });

  it('a source whose query fails or hangs is a scrape error and a log line, within the timeout', async () => {
    const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'shop' } }, web: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'web' } } } });
    const handle = (id: string) => ({
      describe: () => (id.endsWith('shop') ? Promise.reject(new Error('server unavailable')) : new Promise(() => undefined)),
    });
    const client = { connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() }, workflow: { getHandle: handle } } as unknown as Client;
    const logs: string[] = [];
    const errors: string[] = [];
    const reader = new StatusReader({ config, taskQueue: config.temporal.taskQueue, client: async () => client, timeoutMs: 300, log: (l) => logs.push(l), onError: (s) => errors.push(s) });
    const started = Date.now();
    const readings = await reader.read();
    assert.ok(Date.now() - started < 2_000, 'the hung query is cut at the timeout');
    assert.deepEqual(readings, [{ source: 'shop', state: 'error' }, { source: 'web', state: 'error' }]);
    assert.deepEqual(errors.sort(), ['shop', 'web']);
    assert.ok(logs.some((l) => /lakesync\/shop.*server unavailable/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /lakesync\/web.*longer than the scrape timeout/.test(l)), logs.join('\n'));
  });
});

describe('cycle results', () => {
  it('a cycle workflow not closed yet when first read is read again later; a closed one that is not readable is not', async () => {
    const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'shop' } } } });
    const s = status();
    s.recentCycles = s.recentCycles.slice(0, 1);
    let cycleState = 'RUNNING';
    const describes: string[] = [];
    const handle = (id: string) =>
      id === 'lakesync/shop'
        ? { describe: async () => ({ status: { name: 'RUNNING' }, runId: 'run-1', taskQueue: config.temporal.taskQueue }), query: async () => s }
        : {
            describe: async () => {
              describes.push(id);
              return { status: { name: cycleState } };
            },
            result: async () => cycle2(),
          };
    const client = { connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() }, workflow: { getHandle: handle } } as unknown as Client;
    const reader = new StatusReader({ config, taskQueue: config.temporal.taskQueue, client: async () => client, timeoutMs: 2_000, log: () => undefined, onError: () => undefined });
    const first = await reader.read();
    assert.equal(first[0]?.state === 'read' ? first[0].metrics.lastCycle?.tableSeconds : -1, undefined);
    cycleState = 'COMPLETED';
    const second = await reader.read();
    assert.equal(second[0]?.state === 'read' ? second[0].metrics.lastCycle?.tableSeconds : -1, 70, 'its figures once it completed');
    // A cycle that failed or was terminated stays unreadable: it is not described again at each refresh.
    cycleState = 'TERMINATED';
    s.lastCycle = { ...s.lastCycle!, cycleId: '3', workflowId: 'lakesync/shop/cycle-3' };
    s.recentCycles = [{ ...s.recentCycles[0]!, cycleId: '3', workflowId: 'lakesync/shop/cycle-3' }];
    await reader.read();
    await reader.read();
    assert.equal(describes.filter((d) => d === 'lakesync/shop/cycle-3').length, 1, describes.join(', '));
  });
});

describe('--metrics address', () => {
  it('accepts host:port, :port and [v6]:port', () => {
    assert.deepEqual(parseMetricsAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseMetricsAddress(':9464'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(parseMetricsAddress('localhost:1'), { host: 'localhost', port: 1 });
    assert.deepEqual(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 });
  });

  it('refuses what is not host:port, with the value and the fix', () => {
    for (const bad of ['9464', 'localhost', 'localhost:', 'localhost:0', 'localhost:65536', 'localhost:94a', 'http://x:1', 'a b:1', '::1:9464']) {
      assert.throws(() => parseMetricsAddress(bad), (err: Error) => err instanceof MetricsAddressError && err.message.includes(JSON.stringify(bad)) && /e\.g\. --metrics/.test(err.message), bad);
    }
  });

  it('a port in use is refused with a clear message', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(MetricsEndpoint.listen({ host: '127.0.0.1', port }), (err: Error) => err instanceof MetricsAddressError && err.message === `--metrics 127.0.0.1:${port}: port ${port} is in use by another process; choose a free port`);
    } finally {
      taken.close();
    }
  });

  it('serves 503 until the worker is attached, 404 elsewhere, then the exposition', async () => {
    // Port 0 (any free port) is refused by the --metrics parser, not by the endpoint: tests use it.
    const endpoint = await MetricsEndpoint.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${endpoint.port}`;
      assert.equal((await fetch(`${url}/metrics`)).status, 503);
      assert.equal((await fetch(`${url}/other`)).status, 404);
      endpoint.serve(async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'x 1\n' }));
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'x 1\n');
    } finally {
      await endpoint.close();
    }
  });
});

describe('the Grafana dashboard', () => {
  it('takes each value every worker serves alike once, with max across workers: a sum would count it once per worker scraped', () => {
    type Panel = { title: string; targets?: { expr: string }[] };
    const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'docs', 'grafana-lakesync.json'), 'utf8')) as { panels: Panel[] };
    // Per worker by nature: its own reads of the sources.
    const perWorker = /^(lakesync_scrape_errors_total|lakesync_source_up)$/;
    const summed = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((t) =>
        [...t.expr.matchAll(/lakesync_[a-z_]+/g)].filter((m) => !perWorker.test(m[0]) && !/max by \([a-z_, ]+\) \($/.test(t.expr.slice(0, m.index))).map(() => `${panel.title}: ${t.expr}`),
      ),
    );
    assert.deepEqual(summed, []);
  });

  it('shows a series of seconds in a time unit and a series of DPU-seconds in DPU-seconds, never as a duration', () => {
    type Target = { refId: string; expr: string };
    type Override = { matcher: { id: string; options: string }; properties: { id: string; value: string }[] };
    type Panel = { title: string; targets?: Target[]; fieldConfig?: { defaults?: { unit?: string }; overrides?: Override[] } };
    const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'docs', 'grafana-lakesync.json'), 'utf8')) as { panels: Panel[] };
    const units = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => {
        const override = panel.fieldConfig?.overrides?.find((o) => o.matcher.id === 'byFrameRefID' && o.matcher.options === target.refId);
        const unit = override?.properties.find((p) => p.id === 'unit')?.value ?? panel.fieldConfig?.defaults?.unit;
        return { metric: /lakesync_[a-z_]+/.exec(target.expr)?.[0] ?? '', unit };
      }),
    );
    const dpu = units.filter((u) => u.metric.endsWith('_dpu_seconds'));
    assert.ok(dpu.length > 0, 'the dashboard charts DPU-seconds');
    assert.deepEqual(dpu.filter((u) => ['s', 'ms', 'dtdurations', 'dtdhms'].includes(u.unit ?? '')), [], 'DPU-seconds shown as a duration');
    assert.ok(units.filter((u) => u.metric.endsWith('_seconds') && !u.metric.endsWith('_dpu_seconds')).every((u) => u.unit === 's'), 'seconds shown in seconds');
  });
});

describe('a partial cost', () => {
  it('is told by lakesync_cycle_last_cost_partial: 1 when the DPU-seconds are a lower bound, 0 when complete, absent without a cost', async () => {
    const text = async (cost: CycleSummary['cost'], result?: CycleResult) => {
      const s = status();
      s.lastCycle = { ...s.lastCycle!, ...(cost ? { cost } : {}) };
      const registry = new LakesyncRegistry({ processMetrics: false });
      registry.show([{ source: 'shop', state: 'read', metrics: sourceMetrics(s, { lakeTableOf, cycleResult: results(...(result ? [result] : [])), now: NOW }) }]);
      return registry.metrics();
    };
    const partial = await text({ basis: 'glue', tables: 2, dpuSeconds: 120, partial: 1 });
    assert.equal(sample(partial, 'lakesync_cycle_last_dpu_seconds{source="shop"}'), 120);
    assert.equal(sample(partial, 'lakesync_cycle_last_cost_partial{source="shop"}'), 1);
    // A run whose figures could not be read at all: no DPU-seconds, but the cost is still known to be short.
    assert.equal(sample(await text({ basis: 'glue', tables: 1, partial: 1 }), 'lakesync_cycle_last_cost_partial{source="shop"}'), 1);
    const complete = await text({ basis: 'glue', tables: 2, dpuSeconds: 120 });
    assert.equal(sample(complete, 'lakesync_cycle_last_cost_partial{source="shop"}'), 0);
    assert.equal(sample(await text(undefined), 'lakesync_cycle_last_cost_partial{source="shop"}'), undefined);
    // The result read back, its tables' costs summed: one partial table makes the cycle's figure partial.
    const r = cycle2();
    r.tables[0]!.cost = { basis: 'glue', dpuSeconds: 60 };
    r.tables[1]!.cost = { basis: 'glue', dpuSeconds: 30, partial: 'the run was still going' };
    const read = await text(undefined, r);
    assert.equal(sample(read, 'lakesync_cycle_last_dpu_seconds{source="shop"}'), 90);
    assert.equal(sample(read, 'lakesync_cycle_last_cost_partial{source="shop"}'), 1);
  });

  it('is on the dashboard next to the DPU-seconds', () => {
    type Panel = { targets?: { expr: string }[] };
    const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'docs', 'grafana-lakesync.json'), 'utf8')) as { panels: Panel[] };
    const panel = dashboard.panels.find((p) => (p.targets ?? []).some((t) => t.expr.includes('lakesync_cycle_last_dpu_seconds')));
    assert.ok(panel?.targets?.some((t) => t.expr.includes('lakesync_cycle_last_cost_partial')));
  });
});
