/**
 * `lakesync worker --metrics`: the real command on a Temporal dev server, scraped before, during
 * and after a cycle of a fake source (one table made to fail); bad --metrics values refused.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { stopChild } from '../../src/child-process';
import { freePort } from '../../src/devserver';
import { sourceWorkflowId } from '../../src/ids';
import { SOURCE_WORKFLOW_TYPE, type SourceStatus, statusQuery } from '../../src/workflows/messages';
import { CLI, ROOT, cliEnv, eventually, fakeConfig, runCli, tempDir, writeConfig } from '../cli/helpers';
import { type TestServer, startTestServer, uniqueQueue } from '../helpers/env';

/** Series name with labels -> value, from Prometheus text. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function tableLabels(table: string): string {
  return `{source="shop",table="${table}",lake_table="${table.split('.')[1]}"}`;
}

describe('lakesync worker --metrics', () => {
  const tmp = tempDir('metrics');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  let server: TestServer;
  let worker: ChildProcessWithoutNullStreams | undefined;
  let output = '';
  let url = '';
  let metricsPort = 0;
  let connection: Connection;
  let client: Client;

  async function scrape(): Promise<{ text: string; series: Map<string, number> }> {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    return { text, series: parse(text) };
  }

  before(async () => {
    server = await startTestServer();
    connection = await Connection.connect({ address: server.server.address });
    client = new Client({ connection });
    writeConfig(
      configFile,
      fakeConfig(server.server.address, uniqueQueue('metrics'), {
        // Loads take 8 s, so the cycle is still running when a scrape's 5 s cache expires.
        shop: { source: { kind: 'fake', tables: ['public.a', 'public.b', 'public.c'], latencyMs: 8_000, failures: [{ table: 'public.b', phase: 'load', times: 'always', retryable: false }] } },
        // Its source workflow runs where no worker polls, so its status query cannot be answered.
        web: { source: { kind: 'fake', tables: ['public.x'] } },
      }),
    );
    metricsPort = await freePort();
    url = `http://127.0.0.1:${metricsPort}/metrics`;
    worker = spawn(process.execPath, [CLI, 'worker', '--config', configFile, '--metrics', `127.0.0.1:${metricsPort}`], { cwd: ROOT, env: cliEnv() });
    worker.stdout.on('data', (b: Buffer) => (output += b.toString()));
    worker.stderr.on('data', (b: Buffer) => (output += b.toString()));
    await eventually('the worker to serve metrics', async () => (output.includes(`metrics: http://127.0.0.1:${metricsPort}/metrics`) ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; worker output:\n${output}`);
    });
  });

  after(async () => {
    if (worker) await stopChild(worker, { signal: 'SIGINT', killAfterMs: 20_000 });
    await connection?.close();
    await server?.close();
    tmp.remove();
  });

  it('serves the SDK metrics and lakesync\'s during and after a cycle, from the source workflow\'s state', async () => {
    const unanswered = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('web'), taskQueue: 'nobody-polls-this', args: [{ source: 'web' }] });
    const started = Date.now();
    const idle = await scrape();
    assert.ok(Date.now() - started < 9_000, 'a scrape waits at most the 5 s timeout for an unanswered query');
    assert.match(idle.text, /^temporal_num_pollers\{/m, 'the SDK\'s metrics are served on the same endpoint');
    assert.match(idle.text, /^# TYPE lakesync_table_freshness_lag_seconds gauge$/m);
    // No source workflow yet: the source is absent, and that is no error.
    assert.equal(idle.series.get('lakesync_source_up{source="shop"}'), undefined);
    assert.equal(idle.series.get('lakesync_scrape_errors_total{source="shop"}'), 0);
    assert.equal(idle.series.get('lakesync_source_workflow_running{source="shop"}'), 0);
    // The unanswered query is a scrape error, a log line and source_up 0; the worker runs on.
    assert.equal(idle.series.get('lakesync_scrape_errors_total{source="web"}'), 1);
    assert.equal(idle.series.get('lakesync_source_up{source="web"}'), 0);
    assert.match(output, /lakesync metrics: could not read the status of lakesync\/web: /);
    assert.equal(worker!.exitCode, null);
    await unanswered.terminate('not needed any more');

    const sync = await runCli(['sync', 'shop', '--config', configFile]);
    assert.equal(sync.code, 0, sync.stderr);

    const during = await eventually(
      'a scrape during the cycle',
      async () => {
        const s = await scrape();
        return s.series.get('lakesync_source_cycle_running{source="shop"}') === 1 ? s : undefined;
      },
      30_000,
      500,
    );
    assert.equal(during.series.get('lakesync_source_up{source="shop"}'), 1);
    assert.ok((during.series.get('lakesync_source_cycle_running_seconds{source="shop"}') ?? -1) >= 0);
    assert.ok([...during.series.keys()].some((k) => k.startsWith('temporal_worker_task_slots_used{')), 'SDK slot metrics during the cycle');
    const sdkNames = [...new Set([...during.series.keys()].filter((k) => k.startsWith('temporal_')).map((k) => k.split('{')[0]))];
    assert.ok(sdkNames.some((k) => /^temporal_.*_latency_count$/.test(k)), `SDK latency metrics during the cycle: ${sdkNames.join(', ')}`);
    // The first cycle has not finished: no table has committed yet.
    assert.equal(during.series.get(`lakesync_table_rows${tableLabels('public.a')}`), undefined);

    const done = await eventually(
      'the cycle\'s outcome in the metrics',
      async () => {
        const s = await scrape();
        return s.series.get('lakesync_cycle_last_status{source="shop",status="partial"}') === 1 ? s : undefined;
      },
      60_000,
      500,
    );

    const status: SourceStatus = await client.workflow.getHandle(sourceWorkflowId('shop')).query(statusQuery);
    const last = status.lastCycle!;
    assert.equal(last.status, 'partial');
    for (const t of last.tables) {
      const labels = tableLabels(t.table);
      assert.equal(done.series.get(`lakesync_table_failed${labels}`), t.status === 'failed' ? 1 : 0, t.table);
      if (t.status !== 'committed') continue;
      assert.ok((t.inserted ?? 0) > 0, 'the fake inserts rows');
      assert.equal(done.series.get(`lakesync_table_last_load_inserted_rows${labels}`), t.inserted, t.table);
      assert.equal(done.series.get(`lakesync_table_last_load_updated_rows${labels}`), t.updated, t.table);
      assert.equal(done.series.get(`lakesync_table_last_load_deleted_rows${labels}`), t.deleted, t.table);
      assert.equal(done.series.get(`lakesync_table_rows${labels}`), status.ledger[t.table]!.rowCount, t.table);
    }
    assert.equal(done.series.get(`lakesync_table_failed${tableLabels('public.b')}`), 1);
    assert.equal(done.series.get(`lakesync_table_last_load_inserted_rows${tableLabels('public.b')}`), undefined, 'b never committed');
    assert.equal(done.series.get('lakesync_cycle_last_duration_seconds{source="shop"}'), (Date.parse(last.finishedAt) - Date.parse(last.startedAt)) / 1000);
    assert.equal(done.series.get('lakesync_cycle_last_tables{source="shop",outcome="committed"}'), 2);
    assert.equal(done.series.get('lakesync_cycle_last_tables{source="shop",outcome="failed"}'), 1);
    assert.ok((done.series.get('lakesync_cycle_last_table_seconds{source="shop"}') ?? 0) >= 16, 'two 8 s loads at least');
    assert.equal(done.series.get('lakesync_source_cycle_running{source="shop"}'), 0);
    assert.equal(done.series.get('lakesync_scrape_errors_total{source="shop"}'), 0);
    // A terminated source workflow is absent, not an error; the counter keeps its past errors.
    assert.equal(done.series.get('lakesync_source_up{source="web"}'), undefined);
    assert.equal(done.series.get('lakesync_source_workflow_running{source="web"}'), 0, 'a stopped source workflow is shown');
    assert.equal(done.series.get('lakesync_source_workflow_running{source="shop"}'), 1);
    assert.equal(done.series.get('lakesync_scrape_errors_total{source="web"}'), 1);

    // Every metric the Grafana dashboard queries is one this endpoint really serves.
    const dashboard = readFileSync(join(ROOT, 'docs', 'grafana-lakesync.json'), 'utf8');
    const queried = [...new Set([...dashboard.matchAll(/\b((?:lakesync|temporal)_[a-z_]+)/g)].map((m) => m[1]!))];
    assert.ok(queried.includes('temporal_worker_task_slots_used') && queried.includes('lakesync_table_freshness_lag_seconds'));
    const served = new Set(done.text.split('\n').flatMap((l) => /^(?:# TYPE )?([a-z_]+)/.exec(l)?.[1] ?? []));
    const declared = (name: string) => served.has(name) || served.has(name.replace(/_(bucket|count|sum)$/, ''));
    assert.deepEqual(queried.filter((name) => !declared(name)), [], 'dashboard metrics missing from the scrape');
    assert.match(done.text, /^temporal_activity_execution_latency_bucket\{[^}]*activity_type="/m, 'the dashboard groups activity latency by activity_type');

    // Freshness lag grows with time (the 5 s cache passes between the scrapes).
    const lagA = done.series.get(`lakesync_table_freshness_lag_seconds${tableLabels('public.a')}`)!;
    const snapshotLag = (Date.now() - Date.parse(status.ledger['public.a']!.snapshotTime)) / 1000;
    assert.ok(lagA > 0 && lagA <= snapshotLag + 1, `lag ${lagA} is the time since the snapshot (${snapshotLag})`);
    await delay(5_500);
    const later = (await scrape()).series.get(`lakesync_table_freshness_lag_seconds${tableLabels('public.a')}`)!;
    assert.ok(later >= lagA + 5, `lag grew from ${lagA} to ${later}`);
  });

  it('refuses a bad --metrics before the worker starts', async () => {
    const notAddress = await runCli(['worker', '--config', configFile, '--metrics', 'nine-four-six-four'], { timeoutMs: 30_000 });
    assert.equal(notAddress.code, 2, notAddress.stderr);
    assert.match(notAddress.stderr, /--metrics "nine-four-six-four" is not host:port: give host:port, e\.g\. --metrics 0\.0\.0\.0:9464/);

    const badPort = await runCli(['worker', '--config', configFile, '--metrics', '127.0.0.1:99999'], { timeoutMs: 30_000 });
    assert.equal(badPort.code, 2, badPort.stderr);
    assert.match(badPort.stderr, /port 99999 is not a port number \(1-65535\)/);

    // The running worker holds its metrics port.
    const inUse = await runCli(['worker', '--config', configFile, '--metrics', `127.0.0.1:${metricsPort}`], { timeoutMs: 30_000 });
    assert.equal(inUse.code, 2, inUse.stderr);
    assert.match(inUse.stderr, new RegExp(`--metrics 127\\.0\\.0\\.1:${metricsPort}: port ${metricsPort} is in use by another process; choose a free port`));
    for (const run of [notAddress, badPort, inUse]) assert.doesNotMatch(run.stdout + run.stderr, /lakesync worker on|Workflow bundle/);
  });
});
