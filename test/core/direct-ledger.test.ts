/** The ledger of direct tables without a server: watermarks without export lineage, reruns that pin no export. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CycleResult, TableOutcome } from '../../src/model';
import { enqueueRerunSignal, initialState, recordCycle, rerunNeeds, rerunParts, rerunProblem } from '../../src/workflows/ledger';
import type { SourceState } from '../../src/workflows/messages';

const EXPORTED = {
  cycleId: 'c1',
  snapshot: { snapshotId: 'snap-1', createdAt: '2025-01-01T00:00:00.000Z', adopted: false },
  export: { exportId: 'exp-1', location: 's3://bucket/exp-1', snapshotId: 'snap-1', adopted: false },
};

function outcome(table: string, extract: 'direct' | undefined, status: 'committed' | 'failed', cursorValueAfter = '100'): TableOutcome {
  const base = { table, lakeTable: table.split('.')[1]!, action: 'incremental' as const, ...(extract ? { extract } : {}) };
  if (status === 'failed') return { ...base, status, error: { phase: 'load', message: `${table} failed`, type: 'InternalError', retryable: true } };
  return {
    ...base,
    status,
    load: {
      action: 'incremental',
      committed: true,
      rowsRead: 10,
      inserted: 10,
      updated: 0,
      deleted: 0,
      rowCountAfter: 100,
      cursorColumn: 'id',
      cursorValueAfter,
      snapshotId: '7',
      schemaHash: 'h',
      finishedAt: '2025-01-02T00:00:00.000Z',
      ...(extract ? { extract } : {}),
    },
  };
}

/** A mixed cycle: it took export exp-1, which the direct tables did not read. */
function mixedCycle(tables: TableOutcome[]): CycleResult {
  return { cycleId: 'c1', source: 'shop', status: 'partial', snapshot: EXPORTED.snapshot, export: EXPORTED.export, tables, warnings: [], startedAt: '2025-01-02T00:00:00.000Z', finishedAt: '2025-01-02T00:10:00.000Z' };
}

test("a direct table's watermark names no export even in a cycle that took one; a failed one keeps its old watermark", () => {
  const state: SourceState = initialState();
  recordCycle(state, mixedCycle([outcome('public.events', 'direct', 'committed', '100'), outcome('public.orders', undefined, 'committed')]), 'wf', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(state.ledger['public.events']!.exportId, '');
  assert.equal(state.ledger['public.events']!.snapshotTime, '');
  assert.equal(state.ledger['public.events']!.extract, 'direct');
  assert.equal(state.ledger['public.events']!.cursorValue, '100');
  assert.equal(state.ledger['public.orders']!.exportId, 'exp-1');
  assert.equal(state.ledger['public.orders']!.extract, undefined);

  recordCycle(state, { ...mixedCycle([outcome('public.events', 'direct', 'failed'), outcome('public.orders', undefined, 'committed')]), cycleId: 'c2' }, 'wf', { kind: 'sync', requestIds: ['r2'] });
  assert.equal(state.ledger['public.events']!.cursorValue, '100', 'kept');
  assert.equal(state.ledger['public.events']!.lastError, 'public.events failed');
  assert.deepEqual(state.failed['public.events'], { cycleId: 'c2', phase: 'load', message: 'public.events failed', extract: 'direct' });
});

test("a failed direct table's rerun reuses no export and retention keeps none for it", () => {
  const state: SourceState = initialState();
  recordCycle(state, mixedCycle([outcome('public.events', 'direct', 'failed'), outcome('public.orders', undefined, 'failed')]), 'wf', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(state.failed['public.orders']!.exportId, 'exp-1');
  const parts = rerunParts(state, ['public.events', 'public.orders']);
  assert.deepEqual(parts.map((p) => [p.tables, p.reuse?.export.exportId]), [[['public.events'], undefined], [['public.orders'], 'exp-1']]);
  // Only the export table pins its export.
  assert.deepEqual(rerunNeeds(state), { snapshotIds: ['snap-1'], exportIds: ['exp-1'] });
  delete state.failed['public.orders'];
  assert.deepEqual(rerunNeeds(state), { snapshotIds: [], exportIds: [] });
});

test('a source read only directly has no export, and still reruns its failed tables', () => {
  const state: SourceState = initialState();
  const direct: CycleResult = { cycleId: 'c1', source: 'shop', status: 'partial', tables: [outcome('public.events', 'direct', 'committed'), outcome('public.clicks', 'direct', 'failed')], warnings: [], startedAt: 'a', finishedAt: 'b' };
  recordCycle(state, direct, 'wf', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(state.lastExport, undefined);
  assert.equal(rerunProblem(state, { tables: 'failed' }), undefined);
  assert.equal(rerunProblem(state, { tables: ['public.events'] }), undefined);
  // A table whose loads came from an export cannot be rerun before there is one.
  state.ledger['public.orders'] = { ...state.ledger['public.events']!, extract: undefined, exportId: 'x' };
  state.knownTables.push('public.orders');
  assert.match(rerunProblem(state, { tables: ['public.orders'] }) ?? '', /no export to rerun from yet/);
});

test('a rerun naming a table a source read only directly does not have is refused as unknown, not queued as a sync', () => {
  const state: SourceState = initialState();
  const direct: CycleResult = { cycleId: 'c1', source: 'shop', status: 'partial', tables: [outcome('public.events', 'direct', 'committed'), outcome('public.clicks', 'direct', 'failed')], warnings: [], startedAt: 'a', finishedAt: 'b' };
  recordCycle(state, direct, 'wf', { kind: 'sync', requestIds: ['r1'] });
  const unknown = /^unknown table\(s\) public\.evnts: the source's tables are public\.clicks, public\.events$/;
  // The rerun update says what is wrong with the request (the source has synced: "run a sync first" would not help).
  assert.match(rerunProblem(state, { tables: ['public.evnts'] }) ?? '', unknown);
  // The signal is dropped with that reason, as a sync signal naming it is; nothing is queued.
  assert.match(enqueueRerunSignal(state, { tables: ['public.evnts'], requestId: 'svc-1', approveDeletes: true }, 'at') ?? '', unknown);
  assert.deepEqual(state.queue, []);
  assert.deepEqual(state.ignoredRequests.map((r) => r.requestId), ['svc-1']);
  // Replaying a history recorded before: it became a sync of the table.
  const before: SourceState = initialState();
  recordCycle(before, direct, 'wf', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(enqueueRerunSignal(before, { tables: ['public.evnts'] }, 'at', { refuseUnknownTables: () => false }), undefined);
  assert.equal(before.queue[0]!.kind, 'sync');
});
