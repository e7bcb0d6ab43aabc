/** The ledger of DynamoDB tables without a server: per-table export lineage, reruns that need no RDS export. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableExportIdFor } from '../../src/ids';
import type { CycleResult, TableOutcome } from '../../src/model';
import { enqueueRerunSignal, initialState, recordCycle, rerunNeeds, rerunParts, rerunProblem } from '../../src/workflows/ledger';
import type { SourceState } from '../../src/workflows/messages';

/** A DynamoDB table's outcome: committed from `exports` windows reaching `to`, or failed in `phase`. */
function committed(table: string, exports: number, to: string, action: 'create' | 'merge' = 'merge', cycleId = 'c1'): TableOutcome {
  return {
    table,
    lakeTable: table.split('.')[1]!,
    action,
    extract: 'dynamodb',
    status: 'committed',
    load: {
      action,
      committed: true,
      rowsRead: 5,
      inserted: 5,
      updated: 0,
      deleted: 0,
      rowCountAfter: 105,
      cursorColumn: null,
      cursorValueAfter: null,
      snapshotId: '4',
      schemaHash: 'h',
      finishedAt: '2026-01-02T00:05:00.000Z',
      extract: 'dynamodb',
      dynamodb: { exportIds: Array.from({ length: exports }, (_, i) => tableExportIdFor('ddb', cycleId, table, i)), from: action === 'create' ? null : '2026-01-01T00:00:00Z', to, records: 5 },
    },
  };
}

function failed(table: string, phase: 'export' | 'load'): TableOutcome {
  return { table, lakeTable: table.split('.')[1]!, action: 'merge', extract: 'dynamodb', status: 'failed', error: { phase, message: `${table}: ${phase} failed`, type: 'TableExportFailed', retryable: false } };
}

/** A DynamoDB cycle: no snapshot, no RDS export. */
function cycle(cycleId: string, tables: TableOutcome[]): CycleResult {
  const status = tables.some((t) => t.status === 'failed') ? (tables.some((t) => t.status === 'committed') ? 'partial' : 'failed') : 'succeeded';
  return { cycleId, source: 'ddb', status, tables, warnings: [], startedAt: '2026-01-02T00:00:00.000Z', finishedAt: '2026-01-02T00:10:00.000Z' };
}

test("a committed DynamoDB table's watermark is its last export of the cycle and the export time it reached", () => {
  const state: SourceState = initialState();
  recordCycle(state, cycle('c1', [committed('dynamodb.orders', 3, '2026-01-02T00:00:00Z'), committed('dynamodb.users', 1, '2026-01-02T00:00:00Z', 'create')]), 'wf', { kind: 'sync', requestIds: ['r1'] });
  const orders = state.ledger['dynamodb.orders']!;
  assert.equal(orders.extract, 'dynamodb');
  assert.equal(orders.exportId, tableExportIdFor('ddb', 'c1', 'dynamodb.orders', 2), 'the third (last) export of its windows');
  assert.equal(orders.snapshotTime, '2026-01-02T00:00:00Z');
  assert.equal(orders.action, 'merge');
  assert.equal(orders.cursorValue, null);
  assert.equal(orders.icebergSnapshotId, '4');
  assert.equal(state.ledger['dynamodb.users']!.exportId, tableExportIdFor('ddb', 'c1', 'dynamodb.users', 0));
  assert.equal(state.lastExport, undefined, 'no RDS export');
  assert.deepEqual(state.exports, {});
  assert.equal(state.recentCycles[0]!.exportId, undefined);
});

test('a failed DynamoDB table keeps its watermark; its rerun needs no RDS export and pins none', () => {
  const state: SourceState = initialState();
  recordCycle(state, cycle('c1', [committed('dynamodb.orders', 1, '2026-01-01T00:00:00Z', 'create'), committed('dynamodb.users', 1, '2026-01-01T00:00:00Z', 'create')]), 'wf', { kind: 'sync', requestIds: ['r1'] });
  const before = state.ledger['dynamodb.users']!;
  recordCycle(state, cycle('c2', [committed('dynamodb.orders', 1, '2026-01-02T00:00:00Z'), failed('dynamodb.users', 'export')]), 'wf', { kind: 'sync', requestIds: ['r2'] });
  assert.deepEqual(state.ledger['dynamodb.users'], { ...before, lastError: 'dynamodb.users: export failed' });
  assert.deepEqual(state.failed['dynamodb.users'], { cycleId: 'c2', phase: 'export', message: 'dynamodb.users: export failed', extract: 'dynamodb' });
  assert.equal(state.ledger['dynamodb.orders']!.snapshotTime, '2026-01-02T00:00:00Z');

  // No RDS export exists, and none is needed.
  assert.equal(rerunProblem(state, { tables: 'failed' }), undefined);
  assert.equal(rerunProblem(state, { tables: ['dynamodb.users'] }), undefined);
  assert.deepEqual(rerunParts(state, ['dynamodb.users']), [{ tables: ['dynamodb.users'] }]);
  assert.deepEqual(rerunNeeds(state), { snapshotIds: [], exportIds: [] });
  // A rerun signal is queued as a rerun (not turned into a sync for want of an export).
  assert.equal(enqueueRerunSignal(state, { tables: 'failed', requestedBy: 'test' }, '2026-01-02T01:00:00Z'), undefined);
  assert.deepEqual(state.queue.map((q) => ({ kind: q.kind, tables: q.tables })), [{ kind: 'rerun', tables: ['dynamodb.users'] }]);

  // Its rerun commits: it leaves the failed tables with its own new watermark.
  recordCycle(state, cycle('c3', [committed('dynamodb.users', 2, '2026-01-03T00:00:00Z', 'merge', 'c3')]), 'wf', { kind: 'rerun', requestIds: ['r3'], tables: ['dynamodb.users'] });
  assert.deepEqual(state.failed, {});
  assert.equal(state.ledger['dynamodb.users']!.snapshotTime, '2026-01-03T00:00:00Z');
  assert.equal(state.ledger['dynamodb.users']!.exportId, tableExportIdFor('ddb', 'c3', 'dynamodb.users', 1));
  assert.equal(state.ledger['dynamodb.users']!.lastError, null);
  assert.equal(state.ledger['dynamodb.orders']!.snapshotTime, '2026-01-02T00:00:00Z', 'the others are untouched');
});

test('a rerun of a DynamoDB table that never committed is refused only for want of a failure, never of an export', () => {
  const state: SourceState = initialState();
  assert.match(rerunProblem(state, { tables: 'failed' }) ?? '', /no export to rerun from yet|no table has failed/);
  recordCycle(state, cycle('c1', [failed('dynamodb.orders', 'export')]), 'wf', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(state.ledger['dynamodb.orders'], undefined, 'no watermark before a first commit');
  assert.equal(rerunProblem(state, { tables: 'failed' }), undefined);
});
