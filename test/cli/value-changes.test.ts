/** What column policies changed in a load reaches the cycle report (sync/rerun --wait) and `lakesync status`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cycleTableLines } from '../../src/cli/cycle-report';
import { valueChangesText } from '../../src/cli/format';
import type { StatusView } from '../../src/cli/progress';
import { statusReport } from '../../src/cli/render-status';
import { costTotals } from '../../src/cost/ledger';
import type { CycleResult, LoadSummary, TableCost } from '../../src/model';
import type { SourceStatus } from '../../src/workflows/messages';

const load = (extra: Partial<LoadSummary> = {}): LoadSummary => ({
  action: 'merge', committed: true, rowsRead: 10, inserted: 1, updated: 2, deleted: 0, rowCountAfter: 10,
  cursorColumn: null, cursorValueAfter: null, snapshotId: '1', schemaHash: 'h', finishedAt: '2025-01-01T00:00:00Z', ...extra,
});

test('the counts read as a sentence per table; nothing when no value changed', () => {
  assert.equal(valueChangesText({ nulledValues: { qty: 3, born: 1 }, clampedValues: { at: 2 } }), '4 value(s) stored as NULL (qty: 3, born: 1); 2 value(s) clamped to the lake range (at: 2)');
  assert.equal(valueChangesText({ nulledValues: {}, clampedValues: { at: 0 } }), '');
  assert.equal(valueChangesText({}), '');
});

test('the cycle report prints the counts and the load warnings under the table rows', () => {
  const result: CycleResult = {
    cycleId: '2-a', source: 'shop', status: 'succeeded', startedAt: 's', finishedAt: 'f', warnings: ['export e: note'],
    tables: [
      { table: 'public.people', lakeTable: 'people', action: 'merge', status: 'committed', load: load({ nulledValues: { qty: 1 }, warnings: ['tags_2d holds multi-dimensional arrays: kept as text'] }) },
      { table: 'public.orders', lakeTable: 'orders', action: 'merge', status: 'committed', load: load() },
    ],
  };
  const lines = cycleTableLines(result);
  assert.ok(lines.includes('public.people: 1 value(s) stored as NULL (qty: 1)'), lines.join('\n'));
  assert.ok(lines.includes('warning: public.people: tags_2d holds multi-dimensional arrays: kept as text'), lines.join('\n'));
  assert.ok(lines.includes('warning: export e: note'));
  assert.ok(!lines.some((l) => l.startsWith('public.orders:')), 'a table without changed values has no line');
});

test("the cycle report shows each table's cost and the cycle's; no COST column when no table has one", () => {
  const a: TableCost = { basis: 'glue', dpuSeconds: 3600, glueUsd: 0.44, exportGB: 2, exportUsd: 0.02 };
  const result: CycleResult = {
    cycleId: '2-a', source: 'shop', status: 'partial', startedAt: 's', finishedAt: 'f', warnings: [],
    tables: [
      { table: 'public.orders', lakeTable: 'orders', action: 'merge', status: 'committed', load: load(), cost: a },
      { table: 'public.people', lakeTable: 'people', action: 'merge', status: 'failed', error: { phase: 'load', type: 'X', message: 'boom', retryable: false } },
    ],
    cost: costTotals([a])!,
  };
  const lines = cycleTableLines(result);
  assert.match(lines[0]!, /^TABLE +STATUS +ACTION +ROWS +COST +ERROR$/, lines.join('\n'));
  assert.ok(lines[1]!.includes('3600 DPU-s $0.4400, export 2 GB $0.0200 = $0.4600 (glue)'), lines.join('\n'));
  assert.match(lines[2]!, /^public\.people +failed +merge +\[load\] boom$/, lines.join('\n'));
  assert.ok(lines.includes('cycle cost: 3600 DPU-s $0.4400, export 2 GB $0.0200 = $0.4600 (glue)'), lines.join('\n'));
  const uncosted = cycleTableLines({ ...result, tables: result.tables.map(({ cost: _c, ...t }) => t), cost: undefined });
  assert.match(uncosted[0]!, /^TABLE +STATUS +ACTION +ROWS +ERROR$/);
  assert.ok(!uncosted.some((l) => l.startsWith('cycle cost')));
});

test("status shows the last cycle's counts and warnings", () => {
  const status = {
    lastCycle: {
      cycleId: '2-a', workflowId: 'w', kind: 'sync', status: 'succeeded', requestIds: [], counts: { committed: 1, failed: 0, skipped: 0 }, startedAt: 's', finishedAt: 'f',
      tables: [{ table: 'public.people', lakeTable: 'people', status: 'committed', action: 'merge', clampedValues: { born: 2 }, warnings: ['w1'] }],
    },
    failed: {}, queue: [],
  } as unknown as SourceStatus;
  const view: StatusView = { source: 'shop', workflowId: 'lakesync/shop', phase: 'idle', tables: [], queued: 0, status };
  const lines = statusReport(view, {});
  assert.ok(lines.includes('  public.people: 2 value(s) clamped to the lake range (born: 2)'), lines.join('\n'));
  assert.ok(lines.includes('  public.people: warning: w1'), lines.join('\n'));
});

test('a direct load\'s window shows cursor values from the source escaped: a text cursor holding an escape sequence cannot drive the terminal', () => {
  const result: CycleResult = {
    cycleId: '2-a', source: 'shop', status: 'succeeded', startedAt: 's', finishedAt: 'f', warnings: [],
    tables: [
      {
        table: 'public.notes', lakeTable: 'notes', action: 'incremental', status: 'committed',
        load: load({ cursorColumn: 'code', window: { from: 'a\u001b[2J', to: 'z\nfake line', partitions: 1, estimatedRows: 1 } }),
      },
    ],
  };
  const lines = cycleTableLines(result);
  assert.ok(lines.includes('public.notes: read directly, code from a\\x1b[2J to z\\nfake line in 1 partition(s), 10 row(s) read'), lines.join('\n'));
  assert.ok(!lines.some((l) => /[\u0000-\u001f]/.test(l)), 'no control character reaches the terminal');
});
