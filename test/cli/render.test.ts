/** Pure parts of the CLI: links (Temporal UI, Glue, Athena), status rendering, formatting. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { UiLinks, athenaUrl, glueRunUrl, uiBaseUrl } from '../../src/cli/links';
import { bar, columns, duration, shown, shownLines } from '../../src/cli/format';
import { isoDate } from '../../src/cli/commands/schedule';
import type { StatusView } from '../../src/cli/progress';
import { ChangeLog, statusReport, terminalFrame } from '../../src/cli/render-status';
import { cycleTableLines } from '../../src/cli/cycle-report';
import { statusExitCode } from '../../src/cli/commands/status';
import type { CycleResult } from '../../src/model';
import { rdsSourceConfig } from '../helpers/source-config';

const config = parseConfig({
  sources: {
    // The links below are of this Region and Glue job.
    prod: rdsSourceConfig({ aws: { region: 'eu-west-1', glue: { jobName: 'lakesync-load' } } }),
    local: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' } },
  },
});

describe('links', () => {
  it('guesses the Web UI of a local dev server and of Temporal Cloud; LAKESYNC_UI_URL wins', () => {
    assert.equal(uiBaseUrl({ address: 'localhost:7233' }, {}), 'http://localhost:8233');
    assert.equal(uiBaseUrl({ address: '127.0.0.1:7400' }, {}), 'http://127.0.0.1:8400');
    assert.equal(uiBaseUrl({ address: '127.0.0.1:64535' }, {}), 'http://127.0.0.1:65535');
    assert.equal(uiBaseUrl({ address: '127.0.0.1:64536' }, {}), undefined, 'no link to a port that cannot exist');
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

  it('a terminal frame fits the terminal height: running and failed tables first, and how many more there are', () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ table: `public.t${i}`, state: i === 2500 ? 'loading' : i === 2900 ? 'failed' : i < 1000 ? 'committed' : 'pending' }));
    const frame = terminalFrame({ ...running, tables: many } as StatusView, 120, 40);
    assert.ok(frame.length <= 39, `${frame.length} lines for a terminal of 40 rows`);
    assert.ok(frame.some((l) => l.startsWith('public.t2500 ')), 'the running table is shown');
    assert.ok(frame.some((l) => l.startsWith('public.t2900 ')), 'the failed table is shown');
    const shownTables = frame.filter((l) => l.startsWith('public.t')).length;
    assert.equal(frame.at(-1), `... and ${3000 - shownTables} more table(s) (all of them: lakesync status prod)`);
    assert.equal(terminalFrame({ ...running, tables: many } as StatusView, 120).filter((l) => l.startsWith('public.t')).length, 3000, 'no height: every table');
  });

  it('an ignored request dropped many times says how many since when', () => {
    const at = '2025-01-04T06:00:00.000Z';
    const ignored = [{ kind: 'rerun', requestId: 'fire-30', requestedBy: 'schedule lakesync/prod/rerun', reason: 'no table has failed: nothing to rerun', at, times: 31, firstAt: '2025-01-03T00:00:00.000Z' }];
    const lines = statusReport({ ...running, status: { ignoredRequests: ignored } as never }, {});
    assert.ok(lines.includes(`  ${at} rerun fire-30 by schedule lakesync/prod/rerun (31 times since 2025-01-03T00:00:00.000Z): no table has failed: nothing to rerun`), lines.join('\n'));
  });

  it('more ignored requests than the report lists say how many more and where to read them all', () => {
    const at = '2025-01-04T06:00:00.000Z';
    const ignored = Array.from({ length: 12 }, (_, i) => ({ kind: 'rerun', requestId: `r-${i}`, reason: 'nothing to rerun', at }));
    const lines = statusReport({ ...running, status: { ignoredRequests: ignored } as never }, {});
    assert.equal(lines.filter((l) => /^ {2}\S+ rerun r-\d+/.test(l)).length, 5, lines.join('\n'));
    assert.ok(lines.includes('  ... and 7 more (all of them: lakesync status prod --json)'), lines.join('\n'));
  });

  it('plain mode prints a line per change only, then the outcomes of the cycle it followed', () => {
    const log = new ChangeLog();
    const at = new Date('2025-01-01T10:00:00Z');
    const first = log.lines(running, at);
    assert.equal(first[0], '2025-01-01T10:00:00Z prod: cycle 3-abc (sync) phase load');
    assert.ok(first.includes('2025-01-01T10:00:00Z public.items loading RUNNING (run jr_9)'), first.join('\n'));
    assert.deepEqual(log.lines(running, at), [], 'nothing changed');
    const next: StatusView = { ...running, tables: running.tables.map((t) => (t.table === 'public.items' ? { ...t, state: 'committed', runState: undefined } as never : t)) };
    assert.deepEqual(log.lines(next, at), ['2025-01-01T10:00:00Z public.items committed (run jr_9, 1m01s)']);
    // Idle: the last cycle's outcomes finish the story (only tables whose state is new).
    const idle: StatusView = {
      source: 'prod', workflowId: 'lakesync/prod', phase: 'idle', queued: 0,
      status: { lastCycle: { cycleId: '3-abc' } } as never,
      tables: [{ table: 'public.items', state: 'committed' }, { table: 'public.stock', state: 'committed', rows: { inserted: 1, updated: 0, deleted: 0 } }],
    };
    assert.deepEqual(log.lines(idle, at), ['2025-01-01T10:00:00Z prod: idle', '2025-01-01T10:00:00Z public.stock committed']);
  });
});

describe('table names from the source with control characters', () => {
  // A source table may be named anything: ESC sequences would drive the terminal, newlines break the layout.
  const HOSTILE = 'public.evil\u001b[2J\u001b[31mRED';
  const NEWLINE = 'public.two\nlines';
  const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  const hostile: StatusView = {
    source: 'prod', workflowId: 'lakesync/prod', phase: 'idle', queued: 0,
    status: { failed: { [NEWLINE]: { phase: 'load', message: `cannot load ${NEWLINE}` } } } as never,
    tables: [{ table: HOSTILE, state: 'committed' }, { table: NEWLINE, state: 'failed', error: 'bad\rrow' }],
  };

  it('status shows them escaped, one line per table', () => {
    const lines = statusReport(hostile, {}).flatMap((l) => l.split('\n'));
    assert.doesNotMatch(lines.join('\n'), CONTROL);
    assert.ok(lines.some((l) => /^public\.evil\\x1b\[2J\\x1b\[31mRED\s+committed/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^public\.two\\nlines\s+failed\s+bad\\rrow$/.test(l)), lines.join('\n'));
    assert.ok(lines.includes('  public.two\\nlines  [load] cannot load public.two\\nlines'), lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith('lines')), 'a newline in a table name starts a line of its own');
  });

  it('request ids another service sent (queued or ignored) show escaped, one line per request', () => {
    const at = '2025-01-04T06:00:00.000Z';
    const status = {
      queue: [{ requestId: 'q\u001b[2J\nid', kind: 'sync', requestedBy: 'svc' }],
      ignoredRequests: [{ kind: 'rerun', requestId: 'i\u001b[31m\nid', reason: 'nothing to rerun', at }],
    };
    const lines = statusReport({ ...hostile, status: status as never }, {}).flatMap((l) => l.split('\n'));
    assert.doesNotMatch(lines.join('\n'), CONTROL);
    assert.ok(lines.includes('  q\\x1b[2J\\nid sync (by svc)'), lines.join('\n'));
    assert.ok(lines.includes(`  ${at} rerun i\\x1b[31m\\nid: nothing to rerun`), lines.join('\n'));
  });

  it('a queued rerun of "failed" naming 20,000 tables shows the first ten and how many more, on one short line', () => {
    const tables = Array.from({ length: 20_000 }, (_, i) => `public.t${String(i).padStart(5, '0')}`);
    const status = { queue: [{ requestId: 'sched-1', kind: 'rerun', tables, failedOnly: true, requestedBy: 'schedule' }, { requestId: 'svc-2', kind: 'rerun', tables: ['public.a', 'public.b'] }] };
    const lines = statusReport({ ...hostile, status: status as never }, {});
    const line = lines.find((l) => l.startsWith('  sched-1 rerun'));
    assert.equal(line, `  sched-1 rerun of the 20000 failed table(s): ${tables.slice(0, 10).join(',')} and 19990 more (by schedule)`);
    assert.ok(lines.includes('  svc-2 rerun public.a,public.b'), lines.join('\n'));
  });

  it('status --watch frames and change lines show them escaped', () => {
    const running = { ...hostile, phase: 'running', cycle: { cycleId: '1', workflowId: 'w', kind: 'sync', startedAt: '', elapsedMs: 0, phase: 'load', tables: 2, done: 1, failed: 1 } } as StatusView;
    const text = [...terminalFrame(running, 200), ...new ChangeLog().lines(running, new Date())].join('\n');
    assert.doesNotMatch(text, CONTROL);
    assert.equal(text.split('\n').filter((l) => l.includes('lines')).length, 2, text);
  });

  it('sync --wait and rerun --wait table lines show them escaped', () => {
    const result = {
      cycleId: '1', source: 'prod', status: 'partial', startedAt: '', finishedAt: '',
      warnings: [`${HOSTILE} was renamed`],
      tables: [
        { table: HOSTILE, lakeTable: 'evil', action: 'create', status: 'committed', load: { action: 'create', inserted: 1, updated: 0, deleted: 0, warnings: ['w\u001b[2J'] } },
        { table: NEWLINE, lakeTable: 'two', action: 'create', status: 'failed', error: { phase: 'load', type: 'x', retryable: false, message: 'row\nbreak' } },
      ],
    } as unknown as CycleResult;
    const lines = cycleTableLines(result);
    assert.doesNotMatch(lines.join('\n'), CONTROL);
    assert.ok(lines.includes('warning: public.evil\\x1b[2J\\x1b[31mRED: w\\x1b[2J'), lines.join('\n'));
    assert.ok(lines.some((l) => /^public\.two\\nlines\s+failed\s+create\s+\[load\] row\\nbreak$/.test(l)), lines.join('\n'));
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

  it('control characters, DEL and newlines shown escaped; everything else as it is', () => {
    assert.equal(shown('a\u001b[2Jb\nc\rd\te\u0000f\u007fg\u009bh'), 'a\\x1b[2Jb\\nc\\rd\\te\\x00f\\x7fg\\x9bh');
    assert.equal(shown('Zürich €'), 'Zürich €');
    assert.equal(shownLines('one\u001b\ntwo'), 'one\\x1b\ntwo');
    assert.deepEqual(columns(['T', 'X'], [['a\nb', '1']]), ['T     X', 'a\\nb  1']);
  });
});

describe('schedule backfill times', () => {
  it('a time without an offset is UTC whatever the machine zone; a date is its midnight UTC; other text is refused', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.equal(isoDate('2025-01-31T10:00', '--from').toISOString(), '2025-01-31T10:00:00.000Z');
      assert.equal(isoDate('2025-01-31T10:00:00+02:00', '--from').toISOString(), '2025-01-31T08:00:00.000Z');
      assert.equal(isoDate('2025-01-31', '--to').toISOString(), '2025-01-31T00:00:00.000Z');
      for (const bad of ['January 31, 2025', '2025-01-31 10:00', 'yesterday', '1738317600000']) assert.throws(() => isoDate(bad, '--from'), /is not a date: use ISO-8601/, bad);
      // JavaScript's Date rolls an impossible day or hour over (2025-02-30 is 2 March): the range would be another than the one written.
      for (const bad of ['2025-02-30', '2025-02-29', '2025-04-31T10:00Z', '2025-01-31T24:00:00Z', '2025-01-31T10:00+25:00']) assert.throws(() => isoDate(bad, '--from'), /is not a date: use ISO-8601/, bad);
      assert.equal(isoDate('2024-02-29', '--from').toISOString(), '2024-02-29T00:00:00.000Z');
      assert.equal(isoDate('2025-12-31T23:59:59.5-01:30', '--to').toISOString(), '2026-01-01T01:29:59.500Z');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('status exit code', () => {
  const cycle = (status: 'succeeded' | 'partial' | 'failed', cycleId: string) => ({
    cycleId, workflowId: `w-${cycleId}`, kind: 'sync', status, requestIds: [], counts: { committed: 1, failed: status === 'succeeded' ? 0 : 1, skipped: 0 },
    startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z', tables: [],
  });
  const view = (last: ReturnType<typeof cycle>, failed: Record<string, unknown>): StatusView => ({
    source: 'shop', workflowId: 'lakesync/shop', phase: 'idle', tables: [], queued: 0,
    status: { lastCycle: last, recentCycles: [last], failed } as never,
  });

  it('is 1 while a table that failed in an earlier cycle still waits for a rerun, though the last cycle succeeded', () => {
    const waiting = { 'public.orders': { cycleId: 'c1', phase: 'load', message: 'cast error' } };
    assert.equal(statusExitCode(view(cycle('succeeded', 'c2'), waiting)), 1);
    assert.equal(statusExitCode(view(cycle('succeeded', 'c2'), {})), 0);
    assert.equal(statusExitCode(view(cycle('partial', 'c2'), {})), 1);
  });
});

describe('status of a rerun split in more parts than the recent cycles hold', () => {
  const part = (index: number) => ({
    cycleId: `c${index}`,
    workflowId: `lakesync/prod/c${index}`,
    kind: 'rerun' as const,
    status: index === 1 ? ('failed' as const) : ('succeeded' as const),
    requestIds: ['r1'],
    counts: { committed: index === 1 ? 0 : 1, failed: index === 1 ? 1 : 0, skipped: 0 },
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:01:00Z',
    part: { index, of: 22 },
  });
  it('names the earlier parts pushed out of the recent cycles instead of leaving them out silently', () => {
    // The source keeps the twenty newest cycles: parts 3 to 22 of 22.
    const recent = Array.from({ length: 20 }, (_, i) => part(22 - i));
    const view = { source: 'prod', workflowId: 'lakesync/prod', phase: 'idle', tables: [], status: { lastCycle: { ...recent[0]!, tables: [] }, recentCycles: recent, failed: {} } } as unknown as StatusView;
    const lines = statusReport(view, {});
    assert.equal(lines.filter((l) => /^ {2}part \d+ of 22:/.test(l)).length, 19);
    assert.ok(lines.includes("  2 earlier parts are no longer among the source's recent cycles: their failed tables are among the failed tables below, each part's outcome in its cycle workflow"), lines.join('\n'));
    // All parts at hand: no such line.
    const few = recent.slice(0, 3).map((c, i) => ({ ...c, part: { index: 3 - i, of: 3 } }));
    const whole = statusReport({ ...view, status: { lastCycle: { ...few[0]!, tables: [] }, recentCycles: few, failed: {} } } as unknown as StatusView, {});
    assert.ok(!whole.some((l) => /no longer among/.test(l)), whole.join('\n'));
  });
});
