/** Pure parts of the CLI: links (Temporal UI, Glue, Athena), status rendering, formatting. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { UiLinks, athenaUrl, glueRunUrl, uiBaseUrl } from '../../src/cli/links';
import { bar, columns, duration } from '../../src/cli/format';
import type { StatusView } from '../../src/cli/progress';
import { ChangeLog, statusReport, terminalFrame } from '../../src/cli/render-status';

const config = parseConfig({
  sources: {
    prod: {
      backend: 'aws',
      database: 'shop',
      source: { kind: 'rds', instanceId: 'shop-db' },
      target: { namespace: 'shop' },
      aws: {
        region: 'eu-west-1',
        accountId: '123456789012',
        export: { bucket: 'exports', iamRoleArn: 'arn:aws:iam::123456789012:role/export', kmsKeyId: 'alias/export' },
        tableBucket: { name: 'lake' },
        glue: { roleArn: 'arn:aws:iam::123456789012:role/glue', scriptBucket: 'scripts', jobName: 'lakesync-load' },
        athena: { outputLocation: 's3://athena-results/' },
      },
    },
    local: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' } },
  },
});

describe('links', () => {
  it('guesses the Web UI of a local dev server and of Temporal Cloud; LAKESYNC_UI_URL wins', () => {
    assert.equal(uiBaseUrl({ address: 'localhost:7233' }, {}), 'http://localhost:8233');
    assert.equal(uiBaseUrl({ address: '127.0.0.1:7400' }, {}), 'http://127.0.0.1:8400');
    assert.equal(uiBaseUrl({ address: 'ns.a1b2c.tmprl.cloud:7233' }, {}), 'https://cloud.temporal.io');
    assert.equal(uiBaseUrl({ address: 'temporal.internal:7233' }, {}), undefined);
    assert.equal(uiBaseUrl({ address: 'temporal.internal:7233' }, { LAKESYNC_UI_URL: 'https://ui.example/' }), 'https://ui.example');
  });

  it('builds workflow, list and schedule URLs with encoded ids and queries', () => {
    const ui = new UiLinks('http://localhost:8233', 'default');
    assert.equal(ui.workflow('lakesync/shop', 'run-1'), 'http://localhost:8233/namespaces/default/workflows/lakesync%2Fshop/run-1/history');
    assert.equal(ui.list('LakesyncCycleStatus = "partial"'), 'http://localhost:8233/namespaces/default/workflows?query=LakesyncCycleStatus%20%3D%20%22partial%22');
    assert.equal(ui.schedule('lakesync/shop/sync'), 'http://localhost:8233/namespaces/default/schedules/lakesync%2Fshop%2Fsync');
    assert.equal(new UiLinks(undefined, 'default').workflow('x'), undefined);
  });

  it('links Glue runs and Athena on AWS only', () => {
    assert.equal(glueRunUrl(config.sources.prod!, 'jr_abc'), 'https://eu-west-1.console.aws.amazon.com/gluestudio/home?region=eu-west-1#/job/lakesync-load/run/jr_abc');
    assert.equal(athenaUrl(config.sources.prod!, 'q-1'), 'https://eu-west-1.console.aws.amazon.com/athena/home?region=eu-west-1#/query-editor/history/q-1');
    assert.equal(glueRunUrl(config.sources.local!, 'jr_abc'), undefined);
    assert.equal(athenaUrl(config.sources.local!), undefined);
  });
});

const running: StatusView = {
  source: 'prod',
  workflowId: 'lakesync/prod',
  phase: 'running',
  queued: 0,
  cycle: { cycleId: '3-abc', workflowId: 'lakesync/prod/cycle-3-abc', kind: 'sync', startedAt: '2025-01-01T00:00:00Z', elapsedMs: 125_000, phase: 'load', tables: 4, done: 1, failed: 1 },
  tables: [
    { table: 'public.orders', state: 'committed', rows: { inserted: 5, updated: 2, deleted: 1 } },
    { table: 'public.customers', state: 'failed', error: 'DeleteGuard: would delete 80%' },
    { table: 'public.items', state: 'loading', runState: 'RUNNING', runId: 'jr_9', elapsedMs: 61_000 },
    { table: 'public.stock', state: 'pending' },
  ],
};

describe('status rendering', () => {
  it('the report lists every table with phase, run state, rows, elapsed and error, and the AWS links', () => {
    const lines = statusReport(running, { runs: { 'public.items': glueRunUrl(config.sources.prod!, 'jr_9')! }, athena: athenaUrl(config.sources.prod!)! });
    assert.equal(lines[0], 'prod: running cycle 3-abc (sync), phase load, 2/4 tables (1 failed), 2m05s');
    const text = lines.join('\n');
    assert.match(text, /public\.orders\s+committed\s+\+5 ~2 -1/);
    assert.match(text, /public\.items\s+loading\s+RUNNING\s+1m01s/);
    assert.match(text, /public\.customers\s+failed\s+DeleteGuard: would delete 80%/);
    assert.match(text, /glue run public\.items: https:\/\/eu-west-1\.console\.aws\.amazon\.com\/gluestudio\/.*\/run\/jr_9/);
    assert.match(text, /athena: +https:\/\/eu-west-1\.console\.aws\.amazon\.com\/athena\//);
  });

  it('a terminal frame has an overall bar and a bar per table, cut to the terminal width', () => {
    const frame = terminalFrame(running, 60);
    assert.match(frame[1]!, /^\[█{15}░{15}\] 2\/4 tables$/);
    assert.ok(frame.every((l) => l.length <= 60), frame.join('\n'));
    assert.match(frame.find((l) => l.startsWith('public.items'))!, /^public\.items\s+███░{7}|^public\.items\s+████░{6}/);
    assert.match(frame.find((l) => l.startsWith('public.stock'))!, /░{10}/);
  });

  it('plain mode prints a line per change only, then the outcomes of the cycle it followed', () => {
    const log = new ChangeLog();
    const at = new Date('2025-01-01T10:00:00Z');
    const first = log.lines(running, at);
    assert.equal(first[0], '10:00:00 prod: cycle 3-abc (sync) phase load');
    assert.ok(first.includes('10:00:00 public.items loading RUNNING (run jr_9)'), first.join('\n'));
    assert.deepEqual(log.lines(running, at), [], 'nothing changed');
    const next: StatusView = { ...running, tables: running.tables.map((t) => (t.table === 'public.items' ? { ...t, state: 'committed', runState: undefined } as never : t)) };
    assert.deepEqual(log.lines(next, at), ['10:00:00 public.items committed (run jr_9, 1m01s)']);
    // Idle: the last cycle's outcomes finish the story (only tables whose state is new).
    const idle: StatusView = {
      source: 'prod', workflowId: 'lakesync/prod', phase: 'idle', queued: 0,
      status: { lastCycle: { cycleId: '3-abc' } } as never,
      tables: [{ table: 'public.items', state: 'committed' }, { table: 'public.stock', state: 'committed', rows: { inserted: 1, updated: 0, deleted: 0 } }],
    };
    assert.deepEqual(log.lines(idle, at), ['10:00:00 prod: idle', '10:00:00 public.stock committed']);
  });
});

describe('formatting', () => {
  it('durations, bars and aligned columns', () => {
    assert.equal(duration(4_400), '4s');
    assert.equal(duration(61_000), '1m01s');
    assert.equal(duration(3_725_000), '1h02m');
    assert.equal(duration(undefined), '');
    assert.equal(bar(0.5, 4), '██░░');
    assert.equal(bar(2, 3), '███');
    assert.deepEqual(columns(['A', 'LONG'], [['xyz', '1']]), ['A    LONG', 'xyz  1']);
  });
});
