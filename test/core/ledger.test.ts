/** The source workflow's bookkeeping without a server: request queue, rerun validation, watermark ledger. */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { cycleKey, exportIdFor, snapshotIdFor } from '../../src/ids';
import type { CycleResult, TableOutcome, Watermark } from '../../src/model';
import { jsonBytes } from '../../src/payload-text';
import {
  EARLIER_REQUEST_IDS,
  acceptSync,
  approvalHolds,
  approvalMiss,
  compactStatus,
  QUEUED_TABLES,
  TABLES_PER_REQUEST,
  queuedTablesProblem,
  tooManyTablesProblem,
  differentRepeat,
  dropExcludedReruns,
  enqueueRerun,
  enqueueRerunSignal,
  enqueueSync,
  enqueueSyncSignal,
  initialState,
  normalizeState,
  recordCycle,
  statusPage,
  type StatusPageCache,
  repeatedRequest,
  rerunParts,
  rerunProblem,
  syncProblem,
  takeCoalesced,
  uncheckedReruns,
} from '../../src/workflows/ledger';
import type { QueuedRequest, ReusableExport, SourceState, SyncRequest } from '../../src/workflows/messages';

const AT = '2025-01-03T00:00:00.000Z';
const sync = (requestId: string, tables?: string[]): QueuedRequest => ({ kind: 'sync', requestId, approveDeletes: false, ...(tables ? { tables } : {}) });
const rerun = (requestId: string, tables: string[], approveDeletes = false): QueuedRequest => ({ kind: 'rerun', requestId, tables, approveDeletes });

/** A state after one export, knowing these tables. */
function exported(knownTables: string[]): SourceState {
  return {
    ...initialState(),
    knownTables,
    lastExport: {
      cycleId: 'c1',
      snapshot: { snapshotId: 'snap-1', createdAt: '2025-01-01T00:00:00.000Z', adopted: false },
      export: { exportId: 'exp-1', location: 's3://bucket/exp-1', snapshotId: 'snap-1', adopted: false },
    },
  };
}

function committed(table: string, rowCountAfter: number): TableOutcome {
  return {
    table,
    lakeTable: table.split('.')[1]!,
    action: 'merge',
    status: 'committed',
    load: {
      action: 'merge',
      committed: true,
      rowsRead: rowCountAfter,
      inserted: 3,
      updated: 2,
      deleted: 1,
      rowCountAfter,
      cursorColumn: null,
      cursorValueAfter: null,
      snapshotId: `ice-${table}`,
      schemaHash: 'hash-1',
      finishedAt: '2025-01-02T00:05:00.000Z',
    },
  };
}

const failed = (table: string, message: string): TableOutcome => ({
  table,
  lakeTable: table.split('.')[1]!,
  action: 'merge',
  status: 'failed',
  error: { phase: 'load', message, type: 'CastError', retryable: false },
});

const skipped = (table: string, reason = 'excluded'): TableOutcome => ({ table, lakeTable: table.split('.')[1]!, action: 'skip', status: 'skipped', reason });

/**
 * `target` behind a proxy that counts how often its keys are listed (Object.keys, entries,
 * JSON.stringify) and its own entries read: what reading a 50,000-table ledger costs, as counts.
 */
function counted<T extends object>(target: T): { proxy: T; listed: number; read: number } {
  const counts = { listed: 0, read: 0 };
  const proxy = new Proxy(target, {
    ownKeys(t) {
      counts.listed++;
      return Reflect.ownKeys(t);
    },
    get(t, key, receiver) {
      if (typeof key === 'string' && key !== 'length' && Object.hasOwn(t, key)) counts.read++;
      return Reflect.get(t, key, receiver);
    },
  });
  return Object.assign(counts, { proxy });
}

function cycle(cycleId: string, tables: TableOutcome[], made: { snapshot?: boolean; export?: boolean } = { snapshot: true, export: true }): CycleResult {
  return {
    cycleId,
    source: 'shop',
    status: tables.some((t) => t.status === 'failed') ? 'partial' : 'succeeded',
    ...(made.snapshot ? { snapshot: { snapshotId: `snap-${cycleId}`, createdAt: '2025-01-02T00:00:00.000Z', adopted: false } } : {}),
    ...(made.export ? { export: { exportId: `exp-${cycleId}`, location: `s3://bucket/exp-${cycleId}`, snapshotId: `snap-${cycleId}`, adopted: false } } : {}),
    tables,
    warnings: [],
    startedAt: '2025-01-02T00:00:00.000Z',
    finishedAt: '2025-01-02T00:10:00.000Z',
  };
}

const oldWatermark: Watermark = {
  exportId: 'exp-0',
  snapshotTime: '2025-01-01T00:00:00.000Z',
  action: 'merge',
  cursorColumn: null,
  cursorValue: null,
  icebergSnapshotId: 'ice-old',
  rowCount: 7,
  schemaHash: 'hash-0',
  loadedAt: '2025-01-01T00:05:00.000Z',
  lastError: null,
};

// --- coalescing ---

test('a sync of every table absorbs the table-limited syncs around it and stops at a rerun', () => {
  const queue = [{ ...sync('r1', ['public.a']), requestedBy: 'cli' }, sync('r2'), sync('r3', ['public.b']), rerun('r4', ['public.c'])];
  const batch = takeCoalesced(queue);
  assert.equal(batch.kind, 'sync');
  assert.equal(batch.tables, undefined);
  assert.ok('tables' in batch, 'the merged request states that it covers every table');
  assert.deepEqual(batch.requestIds, ['r1', 'r2', 'r3']);
  assert.equal(batch.requestId, 'r1');
  assert.equal(batch.requestedBy, 'cli');
  assert.deepEqual(queue, [rerun('r4', ['public.c'])]);
});

test('table-limited syncs merge their tables without duplicates, in first-seen order', () => {
  const queue = [sync('r1', ['public.b', 'public.a']), sync('r2', ['public.a', 'public.c'])];
  const batch = takeCoalesced(queue);
  assert.deepEqual(batch.tables, ['public.b', 'public.a', 'public.c']);
  assert.deepEqual(batch.requestIds, ['r1', 'r2']);
  assert.deepEqual(queue, []);
});

test('consecutive reruns merge their table lists', () => {
  const queue = [rerun('r1', ['public.a', 'public.b']), rerun('r2', ['public.b', 'public.c']), rerun('r3', ['public.d'])];
  const batch = takeCoalesced(queue);
  assert.equal(batch.kind, 'rerun');
  assert.deepEqual(batch.tables, ['public.a', 'public.b', 'public.c', 'public.d']);
  assert.deepEqual(batch.requestIds, ['r1', 'r2', 'r3']);
  assert.equal(batch.approveDeletes, false);
});

test('a request of another kind ends the group and the rest keeps its order', () => {
  const queue = [sync('r1', ['public.a']), rerun('r2', ['public.b']), sync('r3'), rerun('r4', ['public.c'])];
  const first = takeCoalesced(queue);
  assert.deepEqual(first.requestIds, ['r1']);
  assert.deepEqual(first.tables, ['public.a']);
  assert.deepEqual(
    queue.map((r) => r.requestId),
    ['r2', 'r3', 'r4'],
  );
  assert.deepEqual(takeCoalesced(queue).requestIds, ['r2']);
  assert.deepEqual(takeCoalesced(queue).requestIds, ['r3']);
  assert.deepEqual(takeCoalesced(queue).requestIds, ['r4']);
  assert.equal(queue.length, 0);
});

test('a different delete approval ends the group', () => {
  const queue = [rerun('r1', ['public.a']), rerun('r2', ['public.b'], true), rerun('r3', ['public.c'], true), rerun('r4', ['public.d'])];
  const first = takeCoalesced(queue);
  assert.deepEqual(first.requestIds, ['r1']);
  assert.equal(first.approveDeletes, false);
  const second = takeCoalesced(queue);
  assert.deepEqual(second.requestIds, ['r2', 'r3']);
  assert.deepEqual(second.tables, ['public.b', 'public.c']);
  assert.equal(second.approveDeletes, true);
  assert.deepEqual(
    queue.map((r) => r.requestId),
    ['r4'],
  );
});

// --- rerun validation ---

test('a rerun before any export is refused', () => {
  const state = { ...initialState(), knownTables: ['public.a'] };
  assert.equal(rerunProblem(state, { tables: ['public.a'] }), 'there is no export to rerun from yet: run a sync first');
  assert.equal(rerunProblem(state, { tables: 'failed' }), 'there is no export to rerun from yet: run a sync first');
});

test('a rerun of "failed" is refused while nothing has failed, accepted once something has', () => {
  const state = exported(['public.a']);
  assert.equal(rerunProblem(state, { tables: 'failed' }), 'no table has failed: nothing to rerun');
  state.failed['public.a'] = { cycleId: 'c1', phase: 'load', message: 'boom' };
  assert.equal(rerunProblem(state, { tables: 'failed' }), undefined);
});

test('a rerun names the unknown tables and lists the known ones', () => {
  const state = exported(['public.a', 'public.b']);
  assert.equal(rerunProblem(state, { tables: ['public.a', 'public.x', 'public.y'] }), "unknown table(s) public.x, public.y: the source's tables are public.a, public.b");
  assert.equal(rerunProblem(state, { tables: ['public.b', 'public.a'] }), undefined);
});

test('the list of known tables in the refusal stops after 20', () => {
  const known = Array.from({ length: 25 }, (_, i) => `public.t${String(i).padStart(2, '0')}`);
  const problem = rerunProblem(exported(known), { tables: ['public.zz'] });
  assert.equal(problem, `unknown table(s) public.zz: the source's tables are ${known.slice(0, 20).join(', ')}, ...`);
});

test('the unknown tables a refusal names stop after 20: signals naming thousands of tables of another source keep the status within a payload', () => {
  const state = exported(['public.a', 'public.b']);
  const strangers = Array.from({ length: 5_000 }, (_, i) => `sales.t${String(i).padStart(4, '0')}`);
  assert.equal(
    rerunProblem(state, { tables: ['public.a', ...strangers] }),
    `unknown table(s) ${strangers.slice(0, 20).join(', ')}, ... (5000 in all): the source's tables are public.a, public.b`,
  );
  // A service sending such a sync every so often: each refusal is kept in ignoredRequests, which the status answers whole.
  // Twenty services, each a sender of its own (one sender's repeats are kept as one counted entry).
  for (let i = 0; i < 20; i++) enqueueSyncSignal(state, { tables: strangers, requestId: `svc-${i}`, requestedBy: `svc-${i}` }, AT);
  assert.equal(state.ignoredRequests.length, 20);
  const status = compactStatus({ source: 'shop', phase: 'idle', queue: state.queue, recentCycles: [], failed: {}, ledger: {}, ignoredRequests: state.ignoredRequests, droppedTables: [] }, 256 * 1024);
  assert.ok(jsonBytes(status) < 64 * 1024, `the status answer holds ${jsonBytes(status)} bytes`);
});

test('a refusal shows at most the start of a bad payload or value, so that the kept reasons stay small', () => {
  const state = exported(['public.a']);
  const names = Array.from({ length: 5_000 }, (_, i) => `public.t${String(i).padStart(4, '0')}`);
  // A bare list of tables, a huge non-boolean approval, a table name that is an object: each sent by a service many times.
  // A bare list names no sender: its repeats are kept as one counted entry. The others come from senders of their own.
  for (let i = 0; i < 7; i++) enqueueSyncSignal(state, names as unknown as SyncRequest, AT);
  for (let i = 0; i < 7; i++) enqueueRerunSignal(state, { tables: ['public.a'], approveDeletes: names.join(',') as unknown as boolean, requestId: `svc-a${i}`, requestedBy: `svc-a${i}` }, AT);
  for (let i = 0; i < 12; i++) enqueueSyncSignal(state, { tables: [{ names }] as unknown as string[], requestId: `svc-n${i}`, requestedBy: `svc-n${i}` }, AT);
  assert.equal(state.ignoredRequests.length, 20);
  assert.equal(state.ignoredRequests.at(-1)!.times, 7);
  assert.deepEqual(state.queue, []);
  const reasons = state.ignoredRequests.map((r) => r.reason);
  assert.match(reasons.at(-1)!, /^the payload must be a JSON object such as .*; got \["public\.t0000","public\.t0001",.*\.\.\. \(\d+ characters in all\)$/);
  assert.ok(Math.max(...reasons.map((r) => r.length)) < 1_000, `the longest reason has ${Math.max(...reasons.map((r) => r.length))} characters`);
});

test('a rerun of "failed" served after a cycle loaded some of its tables reruns only those still failed', () => {
  const state = exported(['public.a', 'public.b', 'public.c']);
  for (const t of ['public.a', 'public.b']) state.failed[t] = { cycleId: 'c1', phase: 'load', message: 'boom', exportId: 'exp-1' };
  enqueueRerun(state, { tables: 'failed', requestId: 'sched-1' });
  enqueueRerun(state, { tables: ['public.c'], requestId: 'ops-1' });
  assert.deepEqual(state.queue[0], { kind: 'rerun', requestId: 'sched-1', tables: ['public.a', 'public.b'], approveDeletes: false, failedOnly: true });
  delete state.failed['public.a'];
  const narrowing = { failed: state.failed, narrow: () => true };
  const batch = takeCoalesced([...state.queue], narrowing);
  assert.deepEqual([batch.tables, batch.requestIds, batch.noLongerFailed], [['public.b', 'public.c'], ['sched-1', 'ops-1'], ['public.a']]);
  delete state.failed['public.b'];
  const none = takeCoalesced([state.queue[0]!], narrowing);
  assert.deepEqual([none.tables, none.noLongerFailed], [[], ['public.a', 'public.b']]);
  // Replaying a history recorded before: the tables were rerun again.
  assert.deepEqual(takeCoalesced([state.queue[0]!], { failed: state.failed, narrow: () => false }).tables, ['public.a', 'public.b']);
});

test('a rerun of an empty list is refused', () => {
  assert.equal(rerunProblem(exported(['public.a']), { tables: [] }), 'name the tables to rerun (schema.table), or "failed"');
});

// --- enqueueing ---

test('a rerun of "failed" queues the failed tables, sorted', () => {
  const state = exported(['public.a', 'public.b', 'public.c']);
  state.failed['public.c'] = { cycleId: 'c1', phase: 'load', message: 'boom' };
  state.failed['public.a'] = { cycleId: 'c1', phase: 'verify', message: 'count mismatch' };
  state.queue.push(sync('r7'));
  const accepted = enqueueRerun(state, { tables: 'failed', requestedBy: 'ops' });
  assert.deepEqual(accepted, { requestId: 'r1', tables: ['public.a', 'public.c'], queuedBehind: 1 });
  assert.deepEqual(state.queue[1], { kind: 'rerun', requestId: 'r1', tables: ['public.a', 'public.c'], approveDeletes: false, requestedBy: 'ops', failedOnly: true });
});

test('a rerun\'s delete approval holds only for the exports its tables loaded from when it was asked', () => {
  const state = exported(['public.a', 'public.b']);
  const second: ReusableExport = { cycleId: 'c2', snapshot: { snapshotId: 'snap-2', createdAt: '2025-01-02T00:00:00.000Z', adopted: false }, export: { exportId: 'exp-2', location: 's3://bucket/exp-2', snapshotId: 'snap-2', adopted: false } };
  state.exports = { 'exp-1': state.lastExport!, 'exp-2': second };
  state.failed['public.a'] = { cycleId: 'c1', phase: 'load', message: 'would delete 60 of 100 rows', exportId: 'exp-1' };
  enqueueRerun(state, { tables: ['public.a'], approveDeletes: true, requestId: 'approve-a' });
  assert.deepEqual(state.queue[0]!.approvedExports, ['exp-1'], 'the export the refusal was seen on');
  // Before the rerun is served, a scheduled cycle refuses the table again, on a newer export.
  state.failed['public.a'] = { cycleId: 'c2', phase: 'load', message: 'would delete 100 of 100 rows', exportId: 'exp-2' };
  const batch = takeCoalesced(state.queue);
  const [part] = rerunParts(state, batch.tables!);
  assert.equal(part!.reuse?.export.exportId, 'exp-2', 'the rerun loads the newer export');
  assert.equal(approvalHolds(batch, 'exp-2'), false, 'an approval given for exp-1 does not approve what exp-2 would delete');
  assert.equal(approvalHolds(batch, 'exp-1'), true);

  // Approvals asked on other exports are served apart; on the same ones, merged.
  const apart = [{ ...rerun('x', ['public.a'], true), approvedExports: ['exp-1'] }, { ...rerun('y', ['public.b'], true), approvedExports: ['exp-2'] }];
  assert.deepEqual(takeCoalesced(apart).approvedExports, ['exp-1']);
  assert.deepEqual(apart.map((r) => r.requestId), ['y']);
  assert.deepEqual(takeCoalesced([{ ...rerun('x', ['public.a'], true), approvedExports: ['exp-1'] }, { ...rerun('y', ['public.b'], true), approvedExports: ['exp-1'] }]).requestIds, ['x', 'y']);
  // One queued by an earlier version (no exports recorded) stays apart too: its approval holds for all.
  const queued = [{ ...rerun('x', ['public.a'], true), approvedExports: ['exp-1'] }, rerun('y', ['public.b'], true)];
  assert.deepEqual(takeCoalesced(queued).approvedExports, ['exp-1']);
  const older = takeCoalesced(queued);
  assert.equal(older.approvedExports, undefined);
  assert.equal(approvalHolds(older, 'exp-3'), true);
  // Only a request that would have joined one approving on other exports asks (and records the marker).
  let asked = 0;
  const counting = { splitApprovals: () => ++asked > 0 };
  takeCoalesced([{ ...rerun('x', ['public.a'], true), approvedExports: ['exp-1'] }, { ...rerun('y', ['public.b'], true), approvedExports: ['exp-1'] }, rerun('z', ['public.a']), sync('s'), sync('t')], undefined, counting);
  takeCoalesced([rerun('x', ['public.a']), rerun('y', ['public.b'])], undefined, counting);
  assert.equal(asked, 0);
  // Replaying histories recorded before approvals were kept apart: merged, each one's exports (an earlier version's, all).
  const replayed = { splitApprovals: () => false };
  const merged = takeCoalesced([{ ...rerun('x', ['public.a'], true), approvedExports: ['exp-1'] }, { ...rerun('y', ['public.b'], true), approvedExports: ['exp-2'] }], undefined, replayed);
  assert.deepEqual(merged.approvedExports, ['exp-1', 'exp-2']);
  assert.equal(takeCoalesced([{ ...rerun('x', ['public.a'], true), approvedExports: ['exp-1'] }, rerun('y', ['public.b'], true)], undefined, replayed).approvedExports, undefined);
  assert.equal(approvalHolds(rerun('z', ['public.a']), 'exp-1'), false, 'no approval asked');
});

test('an approval of one table does not reach another table refused again meanwhile through a rerun served with it', () => {
  const state = exported(['public.a', 'public.b']);
  const second: ReusableExport = { cycleId: 'c2', snapshot: { snapshotId: 'snap-2', createdAt: '2025-01-02T00:00:00.000Z', adopted: false }, export: { exportId: 'exp-2', location: 's3://bucket/exp-2', snapshotId: 'snap-2', adopted: false } };
  state.exports = { 'exp-1': state.lastExport! };
  state.failed['public.a'] = { cycleId: 'c1', phase: 'load', message: 'would delete 60 of 100 rows', exportId: 'exp-1' };
  // Deletes of a on exp-1 approved; a scheduled sync then refuses a and b on a newer export.
  enqueueRerun(state, { tables: ['public.a'], approveDeletes: true, requestId: 'approve-a' });
  state.exports['exp-2'] = second;
  state.lastExport = second;
  state.failed['public.a'] = { cycleId: 'c2', phase: 'load', message: 'would delete 100 of 100 rows', exportId: 'exp-2' };
  state.failed['public.b'] = { cycleId: 'c2', phase: 'load', message: 'would delete 70 of 100 rows', exportId: 'exp-2' };
  // Seen that, the deletes of b alone are approved, on exp-2.
  enqueueRerun(state, { tables: ['public.b'], approveDeletes: true, requestId: 'approve-b' });
  const approvedLoads: string[][] = [];
  while (state.queue.length > 0) {
    const batch = takeCoalesced(state.queue);
    for (const part of rerunParts(state, batch.tables!)) if (approvalHolds(batch, part.reuse?.export.exportId ?? '')) approvedLoads.push(part.tables);
  }
  assert.deepEqual(approvedLoads, [['public.b']], 'a loads exp-2 without an approval, b with its own');
});

test('an approval of tables read directly does not reach a table of the same rerun that takes a new export since', () => {
  const state = exported(['public.a', 'public.c']);
  state.exports = { 'exp-1': state.lastExport! };
  state.failed['public.a'] = { cycleId: 'c1', phase: 'load', message: 'would delete 60 of 100 rows', exportId: 'exp-1' };
  state.failed['public.c'] = { cycleId: 'c1', phase: 'load', message: 'would delete 80% of the rows', extract: 'direct' };
  enqueueRerun(state, { tables: ['public.a', 'public.c'], approveDeletes: true, requestId: 'approve' });
  // Before it is served, a sync's export skips a: its rerun takes a new export, which no one saw refused.
  state.failed['public.a'] = { cycleId: 'c2', phase: 'discover', message: 'public.a was not exported: ...', newExport: true };
  const batch = takeCoalesced(state.queue);
  const parts = rerunParts(state, batch.tables!);
  assert.deepEqual(parts.map((p) => [p.tables, approvalMiss(state, batch, p)]), [[['public.a', 'public.c'], 'newExport']]);
  // Asked while the table took a new export, the approval holds for it.
  enqueueRerun(state, { tables: ['public.a', 'public.c'], approveDeletes: true, requestId: 'approve-again' });
  const again = takeCoalesced(state.queue);
  assert.deepEqual(rerunParts(state, again.tables!).map((p) => approvalMiss(state, again, p)), [undefined]);
  // Tables read directly alone keep their approval.
  delete state.failed['public.a'];
  enqueueRerun(state, { tables: ['public.c'], approveDeletes: true, requestId: 'direct' });
  assert.deepEqual(state.queue[0]!.approvedExports, ['']);
  const direct = takeCoalesced(state.queue);
  assert.deepEqual(rerunParts(state, direct.tables!).map((p) => approvalMiss(state, direct, p)), [undefined]);
});

test('a rerun of named tables drops duplicates and keeps the given id and approval', () => {
  const state = exported(['public.a', 'public.b']);
  const accepted = enqueueRerun(state, { tables: ['public.b', 'public.a', 'public.b'], approveDeletes: true, requestId: 'mine' });
  assert.deepEqual(accepted, { requestId: 'mine', tables: ['public.b', 'public.a'], queuedBehind: 0 });
  assert.deepEqual(state.queue, [{ kind: 'rerun', requestId: 'mine', tables: ['public.b', 'public.a'], approveDeletes: true, approvedExports: ['exp-1'] }]);
  assert.equal(state.requestCounter, 0, 'a given id does not use up a generated one');
});

test('syncs get generated ids only when none is given', () => {
  const state = initialState();
  enqueueSync(state, { requestedBy: 'start' });
  enqueueSync(state, { tables: ['public.a'], requestId: 'ext-1' });
  enqueueSync(state, { tables: ['public.b'] });
  assert.deepEqual(state.queue, [
    { kind: 'sync', requestId: 'r1', approveDeletes: false, requestedBy: 'start' },
    { kind: 'sync', requestId: 'ext-1', approveDeletes: false, tables: ['public.a'] },
    { kind: 'sync', requestId: 'r2', approveDeletes: false, tables: ['public.b'] },
  ]);
  assert.equal(state.requestCounter, 2);
});

test('a rerun signal before any export becomes a sync of its tables', () => {
  const state = initialState();
  assert.equal(enqueueRerunSignal(state, { tables: ['public.a', 'public.b', 'public.a'] }, AT), undefined);
  assert.deepEqual(state.queue, [{ kind: 'sync', requestId: 'r1', approveDeletes: false, tables: ['public.a', 'public.b'], requestedBy: 'rerun before any export', askedAs: 'rerun' }]);
});

test('a rerun signal that became a sync before any export is a repeat when sent again, queued or served; a sync under its id is another request', () => {
  const state = initialState();
  const duplicates = { running: () => [] as QueuedRequest[], dropDuplicates: () => true };
  assert.equal(enqueueRerunSignal(state, { tables: ['public.a'], requestId: 'svc-early' }, AT, { duplicates }), undefined);
  assert.match(enqueueRerunSignal(state, { tables: ['public.a'], requestId: 'svc-early' }, AT, { duplicates }) ?? '', /^request svc-early was already received \(it is queued\)/);
  assert.match(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-early' }, AT, { duplicates }) ?? '', /differs in kind sync \(it asked rerun\)/);
  const batch = takeCoalesced(state.queue);
  assert.equal(batch.askedAs, undefined, 'the batch carries no mark of its first request');
  recordCycle(state, cycle('c1', [committed('public.a', 1)]), 'w', { kind: 'sync', requestIds: batch.requestIds, tables: batch.tables!, asked: batch.asked });
  assert.match(enqueueRerunSignal(state, { tables: ['public.a'], requestId: 'svc-early' }, AT, { duplicates }) ?? '', /^request svc-early was already received \(cycle c1 served it\)/);
  assert.match(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-early' }, AT, { duplicates }) ?? '', /^requestId svc-early was already used by another request \(served by cycle c1\) that asked otherwise: this one differs in kind sync \(it asked rerun\); it was not queued/);
  assert.deepEqual(state.queue, []);
  // Replaying a history recorded before: not marked, its state as it was.
  const before = initialState();
  enqueueRerunSignal(before, { tables: ['public.a'], requestId: 'svc-early' }, AT, { markAskedAsRerun: () => false });
  assert.equal(before.queue[0]!.askedAs, undefined);
});

test('a rerun signal before any export becomes a sync of its tables that keeps its approvals and rebuild', () => {
  // A source started afresh (its state lost) over lake tables that exist: the approval a mass delete needs, and the rebuild asked for, still apply.
  const state = initialState();
  assert.equal(enqueueRerunSignal(state, { tables: ['public.a'], approveDeletes: true, rebuild: true, allowOlderExport: true, requestedBy: 'ops' }, AT), undefined);
  assert.deepEqual(state.queue, [{ kind: 'sync', requestId: 'r1', approveDeletes: true, allowOlderExport: true, rebuild: true, tables: ['public.a'], requestedBy: 'ops', askedAs: 'rerun' }]);
  // Replaying a history recorded before: the sync went without them.
  const before = initialState();
  assert.equal(enqueueRerunSignal(before, { tables: ['public.a'], approveDeletes: true, rebuild: true }, AT, { keepApprovalsInSync: () => false, markAskedAsRerun: () => false }), undefined);
  assert.deepEqual(before.queue, [{ kind: 'sync', requestId: 'r1', approveDeletes: false, tables: ['public.a'], requestedBy: 'rerun before any export' }]);
  // Asked only of a rerun that has approvals, so other histories record no marker.
  const asked: string[] = [];
  enqueueRerunSignal(initialState(), { tables: ['public.a'], approveDeletes: false }, AT, { keepApprovalsInSync: () => (asked.push('asked'), true) });
  assert.deepEqual(asked, []);
});

test('a rerun signal of "failed" before any export is dropped with the reason', () => {
  const state = initialState();
  assert.equal(enqueueRerunSignal(state, { tables: 'failed' }, AT), 'there is no export to rerun from yet: run a sync first');
  assert.deepEqual(state.queue, []);
  assert.equal(state.requestCounter, 0);
});

test('a rerun signal after an export queues a rerun, or is dropped when invalid', () => {
  const state = exported(['public.a']);
  assert.equal(enqueueRerunSignal(state, { tables: ['public.a'], requestedBy: 'ops' }, AT), undefined);
  assert.match(enqueueRerunSignal(state, { tables: ['public.x'] }, AT) ?? '', /^unknown table\(s\) public\.x:/);
  assert.deepEqual(state.queue, [{ kind: 'rerun', requestId: 'r1', tables: ['public.a'], approveDeletes: false, requestedBy: 'ops' }]);
});

test('a rerun signal of tables read directly stays a rerun with its approvals, though the source has no export', () => {
  // A source of direct (or DynamoDB) tables never takes an RDS export: its reruns need none.
  const state = initialState();
  state.knownTables = ['public.clicks', 'public.events'];
  state.failed['public.clicks'] = { cycleId: 'c2', phase: 'load', message: 'would delete 80% of the rows', extract: 'direct' };
  state.ledger['public.events'] = { ...oldWatermark, exportId: '', snapshotTime: '', extract: 'direct' };
  assert.equal(enqueueRerunSignal(state, { tables: ['public.clicks', 'public.events'], approveDeletes: true, rebuild: true, requestedBy: 'ops' }, AT), undefined);
  assert.deepEqual(state.queue, [{ kind: 'rerun', requestId: 'r1', tables: ['public.clicks', 'public.events'], approveDeletes: true, rebuild: true, requestedBy: 'ops', approvedExports: [''] }]);
  // Replaying a history recorded before: it became a sync of the tables.
  const before = initialState();
  before.failed = { ...state.failed };
  assert.equal(enqueueRerunSignal(before, { tables: ['public.clicks'], approveDeletes: true }, AT, { directRerun: () => false }), undefined);
  assert.equal(before.queue[0]!.kind, 'sync');
});

test('signals the workflow cannot read are dropped with the reason, or read as a sync of every table', () => {
  const state = exported(['public.a']);
  assert.equal(enqueueSyncSignal(state, undefined, AT), undefined);
  assert.equal(enqueueSyncSignal(state, null, AT), undefined);
  assert.equal(enqueueRerunSignal(state, undefined, AT), 'name the tables to rerun (schema.table), or "failed"');
  const notAList = 'tables must be a list of schema.table names, or left out to sync every table';
  assert.equal(enqueueSyncSignal(state, { tables: 5 } as unknown as SyncRequest, AT), notAList);
  assert.equal(enqueueSyncSignal(state, { tables: 'public.a', requestId: 'svc-2' } as unknown as SyncRequest, AT), notAList);
  assert.deepEqual(state.queue, [
    { kind: 'sync', requestId: 'r1', approveDeletes: false },
    { kind: 'sync', requestId: 'r2', approveDeletes: false },
  ]);
  // The two syncs name no sender and were dropped for one reason: one entry, counted.
  assert.deepEqual(state.ignoredRequests.map((r) => [r.kind, r.requestId, r.times]), [['sync', 'svc-2', 2], ['rerun', undefined, undefined]]);
  // Replaying a history recorded before: a string was queued as a sync of its characters.
  const before = exported(['public.a']);
  assert.equal(enqueueSyncSignal(before, { tables: 'ab' } as unknown as SyncRequest, AT, { refuseStringTables: () => false }), undefined);
  assert.deepEqual(before.queue[0]!.tables, ['a', 'b']);
});

// --- recording a cycle ---

test('committed tables advance their watermark and leave the failed list', () => {
  const state = exported(['public.a']);
  state.ledger['public.a'] = oldWatermark;
  state.failed['public.a'] = { cycleId: 'c1', phase: 'load', message: 'boom' };
  recordCycle(state, cycle('c2', [committed('public.a', 42)]), 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r1'] });
  assert.deepEqual(state.ledger['public.a'], {
    exportId: 'exp-c2',
    snapshotTime: '2025-01-02T00:00:00.000Z',
    action: 'merge',
    cursorColumn: null,
    cursorValue: null,
    icebergSnapshotId: 'ice-public.a',
    rowCount: 42,
    schemaHash: 'hash-1',
    loadedAt: '2025-01-02T00:05:00.000Z',
    lastError: null,
  });
  assert.deepEqual(state.failed, {});
});

test('failed tables keep their old watermark with the error noted', () => {
  const state = exported(['public.a', 'public.b']);
  state.ledger['public.a'] = oldWatermark;
  recordCycle(state, cycle('c2', [failed('public.a', 'cannot cast amount'), failed('public.b', 'no such column')]), 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r1'] });
  assert.deepEqual(state.ledger['public.a'], { ...oldWatermark, lastError: 'cannot cast amount' });
  assert.equal(state.ledger['public.b'], undefined, 'a table never loaded gets no watermark');
  assert.deepEqual(state.failed, {
    'public.a': { cycleId: 'c2', phase: 'load', message: 'cannot cast amount', exportId: 'exp-c2' },
    'public.b': { cycleId: 'c2', phase: 'load', message: 'no such column', exportId: 'exp-c2' },
  });
});

test('tables skipped as not requested change neither the ledger nor the failed list', () => {
  const state = exported(['public.a']);
  state.ledger['public.a'] = oldWatermark;
  state.failed['public.a'] = { cycleId: 'c1', phase: 'load', message: 'boom' };
  recordCycle(state, cycle('c2', [skipped('public.a', 'not requested in this cycle')]), 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r1'] });
  assert.deepEqual(state.ledger, { 'public.a': oldWatermark });
  assert.deepEqual(state.failed, { 'public.a': { cycleId: 'c1', phase: 'load', message: 'boom' } });
});

test('the reusable export changes only when the cycle has both a snapshot and an export', () => {
  const state = exported(['public.a']);
  const before = state.lastExport;
  recordCycle(state, cycle('c2', [], { export: true }), 'w2', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(state.lastExport, before);
  recordCycle(state, cycle('c3', [], { snapshot: true }), 'w3', { kind: 'sync', requestIds: ['r2'] });
  assert.equal(state.lastExport, before);
  recordCycle(state, cycle('c4', []), 'w4', { kind: 'sync', requestIds: ['r3'] });
  assert.deepEqual(state.lastExport, {
    cycleId: 'c4',
    snapshot: { snapshotId: 'snap-c4', createdAt: '2025-01-02T00:00:00.000Z', adopted: false },
    export: { exportId: 'exp-c4', location: 's3://bucket/exp-c4', snapshotId: 'snap-c4', adopted: false },
  });
});

test('known tables grow with every outcome and stay sorted', () => {
  const state = exported(['public.m']);
  recordCycle(state, cycle('c2', [committed('public.z', 1), failed('public.b', 'boom'), skipped('public.a'), committed('public.m', 2)]), 'w2', { kind: 'sync', requestIds: ['r1'] });
  assert.deepEqual(state.knownTables, ['public.a', 'public.b', 'public.m', 'public.z']);
});

test('the cycle summary counts the outcomes and the last cycle lists its tables', () => {
  const state = exported(['public.a']);
  const result = { ...cycle('c2', [committed('public.a', 5), failed('public.b', 'boom'), skipped('public.c'), committed('public.d', 9)]), error: { phase: 'verify', message: 'one table unverified' } };
  recordCycle(state, result, 'lakesync/shop/c2', { kind: 'rerun', requestIds: ['r3', 'r4'] });
  const summary = {
    cycleId: 'c2',
    workflowId: 'lakesync/shop/c2',
    kind: 'rerun',
    status: 'partial',
    requestIds: ['r3', 'r4'],
    exportId: 'exp-c2',
    error: { phase: 'verify', message: 'one table unverified' },
    counts: { committed: 2, failed: 1, skipped: 1 },
    startedAt: '2025-01-02T00:00:00.000Z',
    finishedAt: '2025-01-02T00:10:00.000Z',
  };
  assert.deepEqual(state.recentCycles, [summary]);
  assert.deepEqual(state.lastCycle, {
    ...summary,
    tables: [
      { table: 'public.a', lakeTable: 'a', status: 'committed', action: 'merge', inserted: 3, updated: 2, deleted: 1 },
      { table: 'public.b', lakeTable: 'b', status: 'failed', action: 'merge', error: { phase: 'load', message: 'boom', type: 'CastError', retryable: false } },
      { table: 'public.c', lakeTable: 'c', status: 'skipped', action: 'skip', reason: 'excluded' },
      { table: 'public.d', lakeTable: 'd', status: 'committed', action: 'merge', inserted: 3, updated: 2, deleted: 1 },
    ],
  });
});

test('recent cycles keep the newest 20, newest first', () => {
  const state = exported([]);
  for (let i = 1; i <= 23; i++) recordCycle(state, cycle(`c${i}`, []), `w${i}`, { kind: 'sync', requestIds: [`r${i}`] });
  assert.equal(state.recentCycles.length, 20);
  assert.deepEqual(
    state.recentCycles.map((c) => c.cycleId),
    Array.from({ length: 20 }, (_, i) => `c${23 - i}`),
  );
  assert.equal(state.lastCycle?.cycleId, 'c23');
});

// --- cycle keys ---

/** A time-ordered UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then version, variant and random bits. */
function uuidv7(ms: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

test('cycle keys hash the whole run id: UUIDv7 ids a millisecond apart, and UUIDv4 ids, get different keys', () => {
  const ms = Date.UTC(2025, 4, 6, 7, 8, 9, 100);
  const [v7a, v7b] = [uuidv7(ms), uuidv7(ms + 1)];
  assert.notEqual(cycleKey(1, v7a), cycleKey(1, v7b), `${v7a} and ${v7b} share a key`);
  const [v4a, v4b] = [randomUUID(), randomUUID()];
  assert.notEqual(cycleKey(1, v4a), cycleKey(1, v4b));
  for (const id of [v7a, v7b, v4a, v4b]) assert.equal(cycleKey(7, id), cycleKey(7, id), 'the same run id always gives the same key');
  assert.notEqual(cycleKey(1, v7a), cycleKey(2, v7a), 'the cycle number is part of the key');
});

test('ids built from a cycle key stay RDS-legal and keep the whole key, even for a long source name and a large cycle number', () => {
  const key = cycleKey(1_234_567, uuidv7(Date.now()));
  const source = 'a-very-long-source-name-that-uses-all-of-the-sixty-three-chars';
  const exportId = exportIdFor(source, key);
  assert.ok(exportId.length <= 60, exportId);
  assert.match(exportId, /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]$/);
  assert.ok(exportId.endsWith(`-${key}`), `${exportId} keeps the key ${key}`);
  const snapshotId = snapshotIdFor(source, key);
  assert.match(snapshotId, /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]$/);
  assert.ok(snapshotId.endsWith(`-${key}`));
});

test('two long source names that share their first 50 characters never share an export id', () => {
  const key = cycleKey(3, uuidv7(Date.now()));
  const head = 'orders-service-in-the-eu-west-region-replica-number';
  const [one, two] = [exportIdFor(`${head}-one`, key), exportIdFor(`${head}-two`, key)];
  assert.notEqual(one, two, 'a second source would adopt the first one\'s export');
  for (const id of [one, two]) {
    assert.ok(id.length <= 60 && id.endsWith(`-${key}`), id);
    assert.match(id, /^ls-[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]$/);
  }
  assert.equal(exportIdFor('shop', key), `ls-shop-${key}`, 'a short source name keeps its plain id');
});

// --- a clean ledger ---


test('an invalid rerun signal is kept in the status with its request id, sender, reason and time; the newest 20 are kept', () => {
  const state = exported(['public.a']);
  assert.match(enqueueRerunSignal(state, { tables: ['public.x'], requestId: 'svc-1', requestedBy: 'billing' }, AT) ?? '', /unknown table\(s\) public\.x/);
  assert.deepEqual(state.queue, []);
  assert.equal(state.ignoredRequests.length, 1);
  assert.deepEqual(state.ignoredRequests[0], {
    kind: 'rerun',
    requestId: 'svc-1',
    requestedBy: 'billing',
    reason: "unknown table(s) public.x: the source's tables are public.a",
    at: AT,
  });
  for (let i = 0; i < 25; i++) enqueueRerunSignal(state, { tables: 'failed', requestId: `n${i}`, requestedBy: `sender-${i}` }, AT);
  assert.equal(state.ignoredRequests.length, 20);
  assert.equal(state.ignoredRequests[0]!.requestId, 'n24', 'newest first');
});

test('an hourly schedule that reruns failed tables when none has failed keeps one ignored entry, with its count: other dropped requests stay in the status', () => {
  const state = exported(['public.a']);
  const by = 'schedule lakesync/shop/rerun';
  enqueueRerunSignal(state, { tables: 'failed', requestId: 'fire-0', requestedBy: by }, '2025-01-03T00:00:00.000Z');
  assert.match(enqueueRerunSignal(state, { tables: ['public.x'], requestId: 'svc-1', requestedBy: 'billing' }, AT) ?? '', /unknown table/);
  for (let hour = 1; hour <= 30; hour++) {
    const at = new Date(Date.parse('2025-01-03T00:00:00.000Z') + hour * 3_600_000).toISOString();
    assert.equal(enqueueRerunSignal(state, { tables: 'failed', requestId: `fire-${hour}`, requestedBy: by }, at), 'no table has failed: nothing to rerun');
  }
  assert.deepEqual(
    state.ignoredRequests.map((r) => [r.requestId, r.requestedBy, r.times, r.firstAt, r.at]),
    [
      ['fire-30', by, 31, '2025-01-03T00:00:00.000Z', '2025-01-04T06:00:00.000Z'],
      ['svc-1', 'billing', undefined, undefined, AT],
    ],
  );
  // The ids of the newest merged before it stay, so that their waiters still learn why.
  assert.deepEqual(state.ignoredRequests[0]!.earlierRequestIds, Array.from({ length: EARLIER_REQUEST_IDS }, (_, i) => `fire-${29 - i}`));
  // A different reason, or sender, is an entry of its own.
  enqueueRerunSignal(state, { tables: ['public.y'], requestId: 'svc-2', requestedBy: 'billing' }, AT);
  assert.deepEqual(state.ignoredRequests.map((r) => r.requestId), ['svc-2', 'fire-30', 'svc-1']);
});

test('a table that failed and is now excluded leaves the failed list', () => {
  const state = exported(['public.a', 'public.b_pii']);
  state.failed['public.b_pii'] = { cycleId: 'c1', phase: 'load', message: 'boom' };
  recordCycle(state, cycle('c2', [committed('public.a', 1), skipped('public.b_pii', 'excluded (exclude public.*_pii)')]), 'w2', { kind: 'rerun', requestIds: ['r1'], tables: ['public.a', 'public.b_pii'] });
  assert.deepEqual(state.failed, {});
  assert.equal(rerunProblem(state, { tables: 'failed' }), 'no table has failed: nothing to rerun');
});

test('a table no longer in the newest full export leaves the failed list, with a note in the status', () => {
  const state = exported(['public.a', 'public.gone']);
  state.failed['public.gone'] = { cycleId: 'c1', phase: 'load', message: 'boom' };
  // A table-limited sync or a failed cycle says nothing about the tables it did not list.
  recordCycle(state, cycle('c2', [committed('public.a', 1)]), 'w2', { kind: 'sync', requestIds: ['r1'], tables: ['public.a'] });
  recordCycle(state, { ...cycle('c3', []), status: 'failed', error: { phase: 'discover', message: 'no listing' } }, 'w3', { kind: 'sync', requestIds: ['r2'] });
  assert.deepEqual(Object.keys(state.failed), ['public.gone']);
  // A sync of every table lists every table of the source.
  recordCycle(state, cycle('c4', [committed('public.a', 1)]), 'w4', { kind: 'sync', requestIds: ['r3'] });
  assert.deepEqual(state.failed, {});
  assert.deepEqual(state.knownTables, ['public.a']);
  assert.deepEqual(state.droppedTables, [
    { table: 'public.gone', cycleId: 'c4', exportId: 'exp-c4', at: '2025-01-02T00:10:00.000Z', note: 'not in export exp-c4 of a sync of every table: gone from the source, or excluded; it left the failed tables (last error: boom)' },
  ]);
  assert.match(rerunProblem(state, { tables: ['public.gone'] }) ?? '', /public\.gone is no longer exported \(not in export exp-c4 of cycle c4\)/);
  assert.match(syncProblem(state, { tables: ['public.gone', 'public.x'] }) ?? '', /^unknown table\(s\) public\.x: the source's tables are public\.a; public\.gone is no longer exported/);
});

test('a table a sync of every table no longer lists is dropped also by a source without an RDS export (DynamoDB, tables read directly)', () => {
  const state = { ...initialState(), knownTables: ['dynamodb.Gone', 'dynamodb.Orders'] };
  state.ledger['dynamodb.Gone'] = { ...oldWatermark, exportId: 'ddb-exp-0', extract: 'dynamodb' };
  state.failed['dynamodb.Gone'] = { cycleId: 'c1', phase: 'load', message: 'boom', extract: 'dynamodb' };
  // A DynamoDB cycle takes no snapshot and no RDS export: its tables come from the source's catalog.
  recordCycle(state, cycle('c2', [committed('dynamodb.Orders', 1)], {}), 'w2', { kind: 'sync', requestIds: ['r1'] });
  assert.deepEqual(state.failed, {});
  assert.deepEqual(state.knownTables, ['dynamodb.Orders']);
  assert.deepEqual(state.droppedTables, [
    { table: 'dynamodb.Gone', cycleId: 'c2', at: '2025-01-02T00:10:00.000Z', note: "not among the source's tables listed by cycle c2, a sync of every table: gone from the source, or excluded; it left the failed tables (last error: boom)" },
  ]);
  assert.match(rerunProblem(state, { tables: ['dynamodb.Gone'] }) ?? '', /dynamodb\.Gone is no longer synced \(not among the source's tables listed by cycle c2\): gone from the source, or excluded/);
  // Histories recorded before keep the tables such a cycle did not list.
  const before = { ...initialState(), knownTables: ['dynamodb.Gone', 'dynamodb.Orders'], failed: { 'dynamodb.Gone': { cycleId: 'c1', phase: 'load', message: 'boom', extract: 'dynamodb' as const } } };
  recordCycle(before, cycle('c2', [committed('dynamodb.Orders', 1)], {}), 'w2', { kind: 'sync', requestIds: ['r1'] }, { dropWithoutExport: false });
  assert.deepEqual(Object.keys(before.failed), ['dynamodb.Gone']);
  assert.deepEqual(before.droppedTables, []);
});

test('a requested name that is in no export never becomes a known or a failed table', () => {
  const state = exported(['public.a']);
  const missing: TableOutcome = {
    table: 'public.typo',
    lakeTable: '',
    action: 'skip',
    status: 'failed',
    error: { phase: 'discover', message: "public.typo is not in this cycle's export", type: 'TableNotExported', retryable: false },
  };
  recordCycle(state, cycle('c2', [committed('public.a', 1), missing]), 'w2', { kind: 'sync', requestIds: ['r1'], tables: ['public.a', 'public.typo'] });
  assert.deepEqual(state.failed, {});
  assert.deepEqual(state.knownTables, ['public.a']);
  assert.equal(state.lastCycle?.counts.failed, 1, 'the cycle itself still reports it');
});

test('a view, materialized view or foreign table a cycle names never becomes a known or a failed table', () => {
  const state = exported(['public.a']);
  const view: TableOutcome = { table: 'public.recent', lakeTable: 'public_recent', action: 'skip', status: 'skipped', reason: 'not a table: public.recent is a view, and an export holds tables only' };
  const requested: TableOutcome = {
    table: 'public.remote',
    lakeTable: '',
    action: 'skip',
    status: 'failed',
    error: { phase: 'discover', message: 'not a table: public.remote is a foreign table, and an export holds tables only', type: 'NotATable', retryable: false },
  };
  recordCycle(state, cycle('c2', [committed('public.a', 1), view, requested]), 'w2', { kind: 'sync', requestIds: ['r1'] });
  assert.deepEqual(state.failed, {});
  assert.deepEqual(state.knownTables, ['public.a']);
});

test('a sync naming unknown tables is refused with their names and the known ones; before the first export nothing can be checked', () => {
  const state = exported(['public.a', 'public.b']);
  assert.equal(syncProblem(state, { tables: ['public.a', 'public.nope'] }), "unknown table(s) public.nope: the source's tables are public.a, public.b");
  assert.equal(syncProblem(state, { tables: [] }), 'name the tables to sync (schema.table), or leave tables out to sync every table');
  assert.equal(syncProblem(state, { tables: ['public.b'] }), undefined);
  assert.equal(syncProblem(state, {}), undefined);
  assert.equal(syncProblem(initialState(), { tables: ['public.anything'] }), undefined);
  assert.deepEqual(acceptSync(state, { tables: ['public.b', 'public.b'], requestId: 'cli-1' }), { requestId: 'cli-1', tables: ['public.b'], queuedBehind: 0 });
  assert.deepEqual(state.queue, [{ kind: 'sync', requestId: 'cli-1', approveDeletes: false, tables: ['public.b'] }]);
});

test('a sync whose tables are null (a client that writes an empty list as null) syncs every table, as the signal does', () => {
  const state = exported(['public.a', 'public.b']);
  const nullTables = { tables: null, requestId: 'go-1' } as unknown as SyncRequest;
  assert.equal(syncProblem(state, nullTables), undefined);
  assert.deepEqual(acceptSync(state, nullTables), { requestId: 'go-1', queuedBehind: 0 });
  assert.equal(enqueueSyncSignal(state, { ...nullTables, requestId: 'go-2' }, AT), undefined);
  assert.deepEqual(state.queue, [
    { kind: 'sync', requestId: 'go-1', approveDeletes: false },
    { kind: 'sync', requestId: 'go-2', approveDeletes: false },
  ]);
});

// --- per-table exports ---

function reusable(cycleId: string, day: number): ReusableExport {
  const createdAt = `2025-01-${String(day).padStart(2, '0')}T00:00:00.000Z`;
  return {
    cycleId,
    snapshot: { snapshotId: `snap-${cycleId}`, createdAt, adopted: false },
    export: { exportId: `exp-${cycleId}`, location: `s3://bucket/exp-${cycleId}`, snapshotId: `snap-${cycleId}`, adopted: false },
  };
}

test('failed tables remember the export they failed on, and committed ones the export they were loaded from', () => {
  const state = exported(['public.a', 'public.b']);
  recordCycle(state, cycle('c2', [committed('public.a', 1), failed('public.b', 'boom')]), 'w2', { kind: 'sync', requestIds: ['r1'] });
  assert.equal(state.failed['public.b']!.exportId, 'exp-c2');
  assert.equal(state.ledger['public.a']!.exportId, 'exp-c2');
  assert.deepEqual(state.exports['exp-c2'], { cycleId: 'c2', snapshot: cycle('c2', []).snapshot, export: cycle('c2', []).export });
});

test('a rerun loads every table from its own export, oldest export first, and never from one older than its last commit', () => {
  const state = exported(['public.a', 'public.b', 'public.c', 'public.d']);
  const [e1, e2] = [reusable('c1', 1), reusable('c2', 2)];
  state.exports = { 'exp-c1': e1, 'exp-c2': e2 };
  state.lastExport = e2;
  state.ledger['public.a'] = { ...oldWatermark, exportId: 'exp-c2' };
  state.failed['public.b'] = { cycleId: 'c1', phase: 'load', message: 'boom', exportId: 'exp-c1' };
  state.ledger['public.c'] = { ...oldWatermark, exportId: 'exp-c1' };
  // Committed from the newer export, failed on the older one before: the newer one wins.
  state.ledger['public.d'] = { ...oldWatermark, exportId: 'exp-c2' };
  state.failed['public.d'] = { cycleId: 'c1', phase: 'load', message: 'boom', exportId: 'exp-c1' };
  assert.deepEqual(rerunParts(state, ['public.a', 'public.b', 'public.c', 'public.d']), [
    { reuse: e1, tables: ['public.b', 'public.c'] },
    { reuse: e2, tables: ['public.a', 'public.d'] },
  ]);
  // A table whose export is not known (state from before exports were kept) uses the last export.
  assert.deepEqual(rerunParts({ ...state, exports: {} }, ['public.a', 'public.b']), [{ reuse: e2, tables: ['public.a', 'public.b'] }]);
});

test('a state carried over from an older version gets the new fields, its last export among the known exports', () => {
  const old = exported(['public.a']) as Partial<SourceState>;
  delete old.exports;
  delete old.ignoredRequests;
  delete old.droppedTables;
  const state = normalizeState(old as SourceState);
  assert.deepEqual(state.ignoredRequests, []);
  assert.deepEqual(state.droppedTables, []);
  assert.deepEqual(Object.keys(state.exports), ['exp-1']);
});

test('allowOlderExport travels from the rerun request through the queue; a different value ends a coalesced group', () => {
  const state = exported(['public.a', 'public.b']);
  enqueueRerun(state, { tables: ['public.a'], requestId: 'x1', allowOlderExport: true });
  enqueueRerun(state, { tables: ['public.b'], requestId: 'x2' });
  assert.equal(state.queue[0]!.allowOlderExport, true);
  const first = takeCoalesced(state.queue);
  assert.deepEqual(first.requestIds, ['x1']);
  assert.equal(first.allowOlderExport, true);
  assert.equal(takeCoalesced(state.queue).allowOlderExport ?? false, false);
});

test('a signal repeating a request id that is queued, running or served by a recent cycle is dropped with the reason', () => {
  const state = exported(['public.a', 'public.b']);
  let running: QueuedRequest[] = [];
  const duplicates = { running: () => running, dropDuplicates: () => true };
  assert.equal(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-1' }, AT, { duplicates }), undefined);
  assert.match(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-1' }, AT, { duplicates }) ?? '', /^request svc-1 was already received \(it is queued\): a repeated request runs once; send a new requestId to run it again$/);
  assert.equal(state.queue.length, 1, 'queued once');

  // Taken off the queue: its cycle runs.
  running = [...state.queue];
  takeCoalesced(state.queue);
  assert.match(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-1' }, AT, { duplicates }) ?? '', /\(its cycle is running\)/);
  assert.deepEqual(state.queue, []);

  // Served: the recent cycles name it.
  running = [];
  state.recentCycles = [{ cycleId: 'c7', workflowId: 'w', kind: 'sync', status: 'succeeded', requestIds: ['svc-1'], counts: { committed: 1, failed: 0, skipped: 0 }, startedAt: AT, finishedAt: AT }];
  assert.match(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-1' }, AT, { duplicates }) ?? '', /\(cycle c7 served it\)/);
  assert.deepEqual(state.ignoredRequests.map((r) => [r.kind, r.requestId]), [['sync', 'svc-1'], ['sync', 'svc-1'], ['sync', 'svc-1']]);

  // Another id, or none, is a new request; histories recorded before the check queue the repeat again.
  assert.equal(enqueueRerunSignal(state, { tables: ['public.a'], requestId: 'svc-2' }, AT, { duplicates }), undefined);
  assert.equal(enqueueSyncSignal(state, { tables: ['public.a'] }, AT, { duplicates }), undefined);
  assert.equal(repeatedRequest(state, 'svc-1', { running: () => [], dropDuplicates: () => false }), undefined);
  assert.equal(state.queue.length, 2);
});

test('a sync signal whose payload is no object (a list of tables, a name) is dropped as the sync update refuses it, not run as a sync of every table', () => {
  const state = exported(['public.a', 'public.b']);
  const reason = 'the payload must be a JSON object such as {"tables": ["public.orders"]}, or {} for every table; got ["public.a"]';
  assert.equal(syncProblem(state, ['public.a'] as unknown as SyncRequest), reason, 'the sync update refuses it');
  assert.equal(enqueueSyncSignal(state, ['public.a'] as unknown as SyncRequest, AT), reason);
  assert.match(enqueueSyncSignal(state, 'public.a' as unknown as SyncRequest, AT) ?? '', /^the payload must be a JSON object .*; got "public\.a"$/);
  assert.deepEqual(state.queue, []);
  assert.deepEqual(state.ignoredRequests.map((r) => [r.kind, r.reason.split('; got ')[1]]), [['sync', '"public.a"'], ['sync', '["public.a"]']]);
  // No payload is still a sync of every table.
  assert.equal(enqueueSyncSignal(state, undefined, AT), undefined);
  assert.deepEqual(state.queue, [{ kind: 'sync', requestId: 'r1', approveDeletes: false }]);
  // Replaying a history recorded before: it was queued as a sync of every table.
  const before = exported(['public.a']);
  assert.equal(enqueueSyncSignal(before, ['public.a'] as unknown as SyncRequest, AT, { refuseNonObjectPayload: () => false }), undefined);
  assert.deepEqual(before.queue, [{ kind: 'sync', requestId: 'r1', approveDeletes: false }]);
});

test('a sync signal the sync update would refuse is dropped before anything runs: no table, names that are no strings, unknown tables', () => {
  const fresh = initialState();
  assert.match(enqueueSyncSignal(fresh, { tables: [], requestId: 'e' }, AT) ?? '', /^name the tables to sync \(schema.table\)/);
  assert.equal(enqueueSyncSignal(fresh, { tables: [42, null, ''] as unknown as string[], requestId: 'n' }, AT), 'table names are schema.table strings; got 42, null, ""');
  assert.equal(syncProblem(fresh, { tables: [42] as unknown as string[] }), 'table names are schema.table strings; got 42', 'the sync update refuses them too');
  // Before any export a rerun of named tables becomes a sync of them: the same names are refused.
  assert.equal(enqueueRerunSignal(fresh, { tables: [7] as unknown as string[], requestId: 'r' }, AT), 'table names are schema.table strings; got 7');
  assert.deepEqual(fresh.queue, []);
  assert.deepEqual(fresh.ignoredRequests.map((r) => [r.kind, r.requestId]), [['rerun', 'r'], ['sync', 'n'], ['sync', 'e']]);

  const known = exported(['public.a', 'public.b']);
  assert.match(enqueueSyncSignal(known, { tables: ['public.a', 'public.typo'], requestId: 't' }, AT) ?? '', /^unknown table\(s\) public.typo: the source's tables are public.a, public.b$/);
  assert.deepEqual(known.queue, []);
  assert.equal(enqueueSyncSignal(known, { tables: ['public.a'] }, AT), undefined);
  assert.equal(known.queue.length, 1);
  // Histories recorded before the check queue such a signal, as they did.
  assert.equal(enqueueSyncSignal(known, { tables: ['public.typo'] }, AT, { refuseBadTables: () => false }), undefined);
  assert.equal(known.queue.length, 2);
});

test('a sync signal whose tables are no list and whose sender fields are documents is kept without them: the status stays small', () => {
  const state = exported(['public.a']);
  const doc = { nested: 'x'.repeat(100_000) };
  const reason = 'tables must be a list of schema.table names, or left out to sync every table';
  assert.equal(enqueueSyncSignal(state, { tables: 'public.a', requestId: doc, requestedBy: 'y'.repeat(100_000) } as unknown as SyncRequest, AT), reason);
  assert.deepEqual(state.ignoredRequests, [{ kind: 'sync', reason, at: AT }]);
  assert.ok(jsonBytes(state) < 10_000, `the state holds ${jsonBytes(state)} bytes`);
});

test('queued reruns whose named tables the config all excludes are dropped with their tables and rules; one naming an included table, and a rerun of "failed", stay', () => {
  const state = exported(['public.a', 'public.b', 'public.c']);
  state.failed['public.b'] = { cycleId: 'c1', phase: 'load', message: 'boom', exportId: 'exp-1' };
  enqueueRerun(state, { tables: ['public.b', 'public.c'], requestId: 'ops-1', requestedBy: 'ops' });
  enqueueRerun(state, { tables: ['public.a', 'public.b'], requestId: 'ops-2' });
  enqueueRerun(state, { tables: 'failed', requestId: 'sched-1' });
  const unchecked = uncheckedReruns(state.queue, new Set());
  assert.deepEqual(unchecked.map((r) => r.requestId), ['ops-1', 'ops-2']);
  dropExcludedReruns(state, unchecked, [{ table: 'public.b', rule: 'exclude public.b' }, { table: 'public.c', rule: 'matches no include rule' }], 'shop', AT);
  assert.deepEqual(state.queue.map((r) => r.requestId), ['ops-2', 'sched-1']);
  assert.deepEqual(state.ignoredRequests, [
    {
      kind: 'rerun',
      requestId: 'ops-1',
      requestedBy: 'ops',
      reason: "public.b (exclude public.b), public.c (matches no include rule) are excluded by the worker's config: a rerun loads only tables the config includes; include them in lakesync.yaml (include and exclude of source shop) and restart the worker, then ask again",
      at: AT,
    },
  ]);
  assert.deepEqual(uncheckedReruns(state.queue, new Set(unchecked)), []);
});

test('a signal naming a table name of 100,000 characters is dropped with a reason that shows only its start: the kept reasons stay small', () => {
  const state = exported(['public.a']);
  const long = `public.${'x'.repeat(100_000)}`;
  for (const reason of [enqueueRerunSignal(state, { tables: [long], requestId: 'svc-1' }, AT), enqueueSyncSignal(state, { tables: [long, 'public.b'], requestId: 'svc-2' }, AT)]) {
    assert.match(reason ?? '', /^table names are at most 300 characters \(.*\); got "public\.x{100,}\.\.\. \(100007 characters\)"$/);
    assert.ok(reason!.length < 1_000, `the reason has ${reason!.length} characters`);
  }
  assert.ok(jsonBytes(state.ignoredRequests) < 5_000, `the ignored requests hold ${jsonBytes(state.ignoredRequests)} bytes`);
});

test('a request resent with the requestId of one a recent cycle served, asking other tables or approvals, is no repeat: dropped or refused saying what differs; the same request is still a repeat', () => {
  const state = exported(['public.a', 'public.b']);
  const duplicates = { running: () => [] as QueuedRequest[], dropDuplicates: () => true };
  assert.equal(enqueueSyncSignal(state, { tables: ['public.a'], requestId: 'svc-1' }, AT, { duplicates }), undefined);
  assert.equal(enqueueSyncSignal(state, { tables: ['public.b', 'public.a'], requestId: 'svc-2' }, AT, { duplicates }), undefined);
  const batch = takeCoalesced(state.queue);
  recordCycle(state, cycle('c7', [committed('public.a', 1), committed('public.b', 1)]), 'w', { kind: 'sync', requestIds: batch.requestIds, tables: batch.tables!, asked: batch.asked });

  // The same request (the tables in any order) is a repeat, as before.
  assert.match(enqueueSyncSignal(state, { tables: ['public.a', 'public.a'], requestId: 'svc-1' }, AT, { duplicates }) ?? '', /\(cycle c7 served it\)/);
  assert.match(enqueueSyncSignal(state, { tables: ['public.a', 'public.b'], requestId: 'svc-2' }, AT, { duplicates }) ?? '', /\(cycle c7 served it\)/);
  // A rerun of the same tables under a sync's id is another request: dropped saying so, not as a repeat.
  assert.equal(
    enqueueRerunSignal(state, { tables: ['public.a', 'public.b'], requestId: 'svc-2' }, AT, { duplicates }),
    'requestId svc-2 was already used by another request (served by cycle c7) that asked otherwise: this one differs in kind rerun (it asked sync); it was not queued: send it with a new requestId',
  );
  assert.equal(state.ignoredRequests[0]!.repeat, undefined);
  assert.equal(state.ignoredRequests[0]!.reusedId, true);
  // Histories recorded before: dropped as a repeat.
  assert.match(enqueueRerunSignal(state, { tables: ['public.a', 'public.b'], requestId: 'svc-2' }, AT, { duplicates: { ...duplicates, refuseOtherKind: () => false } }) ?? '', /\(cycle c7 served it\)/);
  // Another request under a served id: dropped, saying what differs, not as a repeat.
  const other = enqueueSyncSignal(state, { tables: ['public.b'], requestId: 'svc-1' }, AT, { duplicates });
  assert.equal(other, 'requestId svc-1 was already used by another request (served by cycle c7) that asked otherwise: this one differs in tables ["public.b"] (it asked 1 table); it was not queued: send it with a new requestId');
  assert.equal(state.ignoredRequests[0]!.repeat, undefined);
  assert.match(enqueueRerunSignal(state, { tables: ['public.a'], approveDeletes: true, requestId: 'svc-1' }, AT, { duplicates }) ?? '', /^requestId svc-1 was already used by another request \(served by cycle c7\) that asked otherwise: this one differs in kind rerun \(it asked sync\), approveDeletes true \(it asked false\); it was not queued/);
  assert.match(enqueueSyncSignal(state, { requestId: 'svc-2' }, AT, { duplicates }) ?? '', /differs in tables null \(it asked 2 tables\)/);
  assert.deepEqual(state.queue, []);
  // The updates' check says the same.
  assert.match(differentRepeat(state, { tables: 'failed', requestId: 'svc-2' }, duplicates) ?? '', /differs in tables "failed" \(it asked 2 tables\)/);
  // Histories recorded before: dropped as a repeat.
  assert.equal(differentRepeat(state, { tables: ['public.b'], requestId: 'svc-1' }, { ...duplicates, refuseServedDifferent: () => false }), undefined);
  // What is kept for that is small: a few characters per request, not its tables.
  const wide = exported([]);
  enqueueSync(wide, { tables: Array.from({ length: 2000 }, (_, i) => `public.t${i}`), requestId: 'svc-wide' });
  const w = takeCoalesced(wide.queue);
  const before = jsonBytes(wide);
  recordCycle(wide, cycle('c8', []), 'w', { kind: 'sync', requestIds: w.requestIds, tables: w.tables!, asked: w.asked });
  assert.ok(jsonBytes(wide) - before < 2_000, `the served requests hold ${jsonBytes(wide) - before} bytes`);
  assert.match(differentRepeat(wide, { tables: ['public.t1'], requestId: 'svc-wide' }, duplicates) ?? '', /it asked 2000 tables/);
});

test('a request reusing the requestId of a queued one with thousands of other tables is dropped with a reason that shows only their start: the kept reasons stay small', () => {
  const state = initialState();
  const duplicates = { running: () => [] as QueuedRequest[], dropDuplicates: () => true };
  const names = (prefix: string) => Array.from({ length: 5_000 }, (_, i) => `public.${prefix}${i}`);
  assert.equal(enqueueSyncSignal(state, { tables: names('a'), requestId: 'svc-1' }, AT, { duplicates }), undefined);
  const reason = enqueueSyncSignal(state, { tables: names('b'), requestId: 'svc-1' }, AT, { duplicates }) ?? '';
  assert.match(reason, /^requestId svc-1 was already used by another request \(queued\) that asked otherwise: this one differs in tables \["public\.b0",.*\.\.\. \(\d+ characters in all\) \(it asked \["public\.a0",.*\.\.\. \(\d+ characters in all\)\); it was not queued/);
  assert.ok(reason.length < 1_000, `the reason has ${reason.length} characters`);
  assert.ok(jsonBytes(state.ignoredRequests) < 2_000, `the ignored requests hold ${jsonBytes(state.ignoredRequests)} bytes`);
});

test('before the first export, requests naming many made-up tables are bounded: at most TABLES_PER_REQUEST a request and QUEUED_TABLES in the queue, refused saying so; a sync of every table still queues', () => {
  const state = initialState();
  const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `public.${prefix}${i}`);
  const tooMany = enqueueSyncSignal(state, { tables: names('x', TABLES_PER_REQUEST + 1), requestId: 'svc-big' }, AT);
  assert.equal(tooMany, `a request names at most ${TABLES_PER_REQUEST} tables; this one names ${TABLES_PER_REQUEST + 1}: send them in several requests, or leave tables out to sync every table`);
  assert.equal(syncProblem(state, { tables: names('x', TABLES_PER_REQUEST + 1) }) ?? tooManyTablesProblem({ tables: names('x', TABLES_PER_REQUEST + 1) }), tooMany, 'the updates refuse it too');
  assert.match(enqueueRerunSignal(state, { tables: names('y', TABLES_PER_REQUEST + 1), requestId: 'svc-big-rerun' }, AT) ?? '', /^a request names at most/);
  // Duplicates count once.
  assert.equal(enqueueSyncSignal(state, { tables: [...names('d', TABLES_PER_REQUEST), 'public.d0'], requestId: 'svc-dup' }, AT), undefined);
  for (let i = 1; i < QUEUED_TABLES / TABLES_PER_REQUEST; i++) assert.equal(enqueueSyncSignal(state, { tables: names(`q${i}-`, TABLES_PER_REQUEST), requestId: `svc-${i}` }, AT), undefined);
  const full = enqueueRerunSignal(state, { tables: ['public.one'], requestId: 'svc-next' }, AT);
  assert.equal(full, `the source's queue holds requests naming ${QUEUED_TABLES} tables, the most it keeps: this request, naming 1 more, is dropped; ask again once the status shows the queue served (or leave tables out to sync every table)`);
  assert.equal(queuedTablesProblem(state, { tables: ['public.one'] }), full);
  assert.equal(state.queue.length, QUEUED_TABLES / TABLES_PER_REQUEST);
  // A sync of every table names none: queued.
  assert.equal(enqueueSyncSignal(state, { requestId: 'svc-all' }, AT), undefined);
  assert.ok(jsonBytes(state.ignoredRequests) < 5_000);
  // Histories recorded before queued them.
  assert.equal(enqueueSyncSignal(state, { tables: ['public.two'], requestId: 'svc-old' }, AT, { refuseTooManyTables: () => false }), undefined);
});

test('twenty cycles failing with very long errors keep the status answer within the inline limit: each recent cycle keeps the start of its error', () => {
  const state = exported(['public.a']);
  const limit = 256 * 1024;
  // A cycle workflow that failed with a long AWS error (a refusal listing thousands of resources, say).
  const longError = (i: number) => `cycle ${i}: AccessDeniedException: ${'arn:aws:s3tables:eu-west-1:123456789012:bucket/lake/table/x '.repeat(300)}`;
  for (let i = 0; i < 21; i++) {
    const result: CycleResult = { ...cycle(`c${i}`, [], { snapshot: false, export: false }), status: 'failed', error: { phase: 'cycle', message: longError(i) } };
    recordCycle(state, result, `lakesync/shop/c${i}`, { kind: 'sync', requestIds: [`r${i}`] });
  }
  const status = compactStatus({ source: 'shop', phase: 'idle', queue: [], lastCycle: state.lastCycle, recentCycles: state.recentCycles, failed: state.failed, ledger: state.ledger, ignoredRequests: [], droppedTables: [] }, limit);
  assert.ok(jsonBytes(status) <= limit, `the status answer holds ${jsonBytes(status)} bytes`);
  const kept = state.lastCycle!.error!.message;
  assert.ok(kept.startsWith(longError(20).slice(0, 500)), kept.slice(0, 100));
  assert.match(kept, /characters more; the whole error is in cycle workflow lakesync\/shop\/c20/);
  assert.ok(kept.length < 2_200, `${kept.length} characters kept`);

  // A history recorded before keeps the whole error (its state, and so its commands, stay as they were).
  const before = exported(['public.a']);
  recordCycle(before, { ...cycle('c0', [], { snapshot: false, export: false }), status: 'failed', error: { phase: 'cycle', message: longError(0) } }, 'lakesync/shop/c0', { kind: 'sync', requestIds: ['r0'] }, { capError: () => false });
  assert.equal(before.lastCycle!.error!.message, longError(0));
});

test('tables failing with very long errors keep every status page within the inline limit: the state keeps the start of each table error', () => {
  const limit = 256 * 1024;
  // A Glue job whose failure carried a whole Spark stack trace (300 KB), and a cycle that died with one: each table not committed got it.
  const trace = (t: string) => `Py4JJavaError: An error occurred while calling o123.sql for ${t}.\n${'\tat org.apache.spark.sql.execution.datasources.v2.MergeRowsExec.doExecute(MergeRowsExec.scala:42)\n'.repeat(3_500)}`;
  const tables = ['public.a', 'public.b', 'public.c'];
  const state = exported(tables);
  recordCycle(state, cycle('c1', tables.map((t) => committed(t, 5))), 'lakesync/shop/c1', { kind: 'sync', requestIds: ['r1'] });
  const result: CycleResult = { ...cycle('c2', tables.map((t) => failed(t, trace(t)))), status: 'failed', error: { phase: 'cycle', message: trace('the cycle') } };
  recordCycle(state, result, 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r2'] });
  assert.ok(trace('public.a').length > 300_000);
  for (const part of ['failed', 'ledger', 'lastCycleTables'] as const) {
    const page = statusPage(state, { part, offset: 0 }, limit);
    assert.ok(jsonBytes(page) <= limit, `a ${part} page holds ${jsonBytes(page)} bytes`);
  }
  const kept = state.failed['public.b']!.message;
  assert.ok(kept.startsWith(trace('public.b').slice(0, 500)), kept.slice(0, 100));
  assert.match(kept, /characters more; the whole error is in cycle workflow lakesync\/shop\/c2/);
  assert.ok(kept.length < 2_200, `${kept.length} characters kept`);
  assert.equal(state.ledger['public.b']!.lastError, kept);
  assert.equal(state.lastCycle!.tables!.find((t) => t.table === 'public.b')!.error!.message, kept);
  assert.ok(jsonBytes(state) < 64 * 1024, `the state holds ${jsonBytes(state)} bytes`);

  // A history recorded before keeps the whole errors (its state, and so its commands, stay as they were).
  const before = exported(tables);
  recordCycle(before, result, 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r2'] }, { capTableError: () => false });
  assert.equal(before.failed['public.b']!.message, trace('public.b'));
});

test('a status page of a state recorded with whole table errors stays within the inline limit: the answer keeps the start of each', () => {
  const limit = 256 * 1024;
  const trace = `Py4JJavaError: ${'\tat org.apache.spark.SparkContext.runJob(SparkContext.scala:2238)\n'.repeat(5_000)}`;
  const state = exported(['public.a', 'public.b']);
  recordCycle(state, cycle('c1', ['public.a', 'public.b'].map((t) => committed(t, 5))), 'lakesync/shop/c1', { kind: 'sync', requestIds: ['r1'] });
  recordCycle(state, cycle('c2', [failed('public.a', trace), failed('public.b', trace)]), 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r2'] }, { capTableError: () => false });
  // A sync of every table that no longer lists public.b: it leaves the failed tables, its note saying its last error.
  recordCycle(state, cycle('c3', [failed('public.a', trace)]), 'lakesync/shop/c3', { kind: 'sync', requestIds: ['r3'] }, { capTableError: () => false });
  assert.equal(state.failed['public.a']!.message, trace);
  for (const part of ['failed', 'ledger', 'lastCycleTables', 'droppedTables'] as const) {
    const page = statusPage(state, { part, offset: 0 }, limit);
    assert.ok(page.entries.length > 0, `a ${part} page with entries`);
    assert.ok(jsonBytes(page) <= limit, `a ${part} page holds ${jsonBytes(page)} bytes`);
  }
  const page = statusPage(state, { part: 'failed', offset: 0 }, limit);
  assert.match(JSON.stringify(page), /characters more; the whole error is in cycle workflow/);
});

test('the pages of a 50,000-table ledger list and sort its tables once, not once per page, and a cycle recorded between two pages changes their revision', () => {
  const tables = Array.from({ length: 50_000 }, (_, i) => `public.t${String(49_999 - i).padStart(6, '0')}_customer_order_lines`);
  const state = exported(tables);
  recordCycle(state, cycle('c1', tables.map((t) => committed(t, 5))), 'lakesync/shop/c1', { kind: 'sync', requestIds: ['r1'] });
  const limit = 256 * 1024;
  // What the source workflow keeps between the pages it answers.
  const cache: StatusPageCache = {};
  const readAll = () => {
    const read: string[] = [];
    let offset: number | undefined = 0;
    let pages = 0;
    let revision: string | undefined;
    while (offset !== undefined) {
      const page = statusPage(state, { part: 'ledger', offset }, limit, undefined, cache);
      assert.ok(page.part === 'ledger');
      revision ??= page.revision;
      assert.equal(page.revision, revision);
      read.push(...page.entries.map(([t]) => t));
      offset = page.next;
      pages++;
    }
    return { read, pages };
  };
  const ledger = counted(state.ledger);
  state.ledger = ledger.proxy;
  const { read, pages } = readAll();
  assert.deepEqual(read, [...tables].sort());
  assert.ok(pages > 100, `${pages} pages`);
  // Each page listed, sorted and hashed all the tables again (16 s for 50,000 tables): once for all of them.
  assert.equal(ledger.listed, 1, `the ledger's tables were listed ${ledger.listed} times for ${pages} pages`);
  // A page reads its own watermarks, and the first of the next page to learn it is full.
  assert.ok(ledger.read <= tables.length + pages, `${ledger.read} watermarks read for ${pages} pages of ${tables.length} tables`);

  // A cycle that loads a new table between two pages: the next page names another revision, and lists it.
  const first = statusPage(state, { part: 'ledger', offset: 0 }, limit, undefined, cache);
  recordCycle(state, cycle('c2', [committed('public.a_new', 1)]), 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r2'], tables: ['public.a_new'] });
  const second = statusPage(state, { part: 'ledger', offset: first.next! }, limit, undefined, cache);
  assert.notEqual(second.revision, first.revision);
  const again = statusPage(state, { part: 'ledger', offset: 0 }, limit, undefined, cache);
  assert.ok(again.part === 'ledger');
  assert.equal(again.entries[0]![0], 'public.a_new');
  // The failed tables likewise.
  recordCycle(state, cycle('c3', [failed('public.t000007_customer_order_lines', 'boom')]), 'lakesync/shop/c3', { kind: 'sync', requestIds: ['r3'], tables: ['public.t000007_customer_order_lines'] });
  const failedPage = statusPage(state, { part: 'failed', offset: 0 }, limit, undefined, cache);
  assert.ok(failedPage.part === 'failed');
  assert.deepEqual(failedPage.entries.map(([t]) => t), ['public.t000007_customer_order_lines']);
});

test('the status query of a 50,000-table source measures its ledger once while no cycle is recorded', () => {
  const tables = Array.from({ length: 50_000 }, (_, i) => `public.t${String(i).padStart(6, '0')}_customer_order_lines`);
  const state = exported(tables);
  recordCycle(state, cycle('c1', tables.map((t) => committed(t, 5))), 'lakesync/shop/c1', { kind: 'sync', requestIds: ['r1'] });
  const limit = 256 * 1024;
  const statusOf = (): Parameters<typeof compactStatus>[0] => ({ source: 'shop', phase: 'idle', queue: [], lastCycle: state.lastCycle, recentCycles: state.recentCycles, failed: state.failed, ledger: state.ledger, ignoredRequests: [], droppedTables: [] });
  // What the source workflow keeps between the queries it answers.
  const cache: StatusPageCache = {};
  const ledger = counted(state.ledger);
  state.ledger = ledger.proxy;
  const lastTables = counted(state.lastCycle!.tables);
  state.lastCycle!.tables = lastTables.proxy;
  for (let i = 0; i < 20; i++) assert.deepEqual(compactStatus(statusOf(), limit, cache).paged, ['ledger', 'lastCycleTables']);
  // Each query measured the whole status, and the ledger and the last cycle's tables again (0.4 s each): once for all 20.
  assert.equal(ledger.listed, 1, `the ledger was listed ${ledger.listed} times for 20 queries`);
  assert.equal(ledger.read, tables.length, `${ledger.read} watermarks read for 20 queries of ${tables.length} tables`);
  assert.equal(lastTables.read, tables.length, `${lastTables.read} of the last cycle's tables read for 20 queries of ${tables.length} tables`);
  assert.deepEqual(compactStatus(statusOf(), limit, cache), compactStatus(statusOf(), limit));

  // A small source whose ledger grows past the limit by a recorded cycle: the status then leaves it to pages.
  const small = exported(['public.a']);
  recordCycle(small, cycle('c1', [committed('public.a', 1)]), 'lakesync/shop/c1', { kind: 'sync', requestIds: ['r1'] });
  const smallStatus = () => ({ ...statusOf(), lastCycle: small.lastCycle, recentCycles: small.recentCycles, failed: small.failed, ledger: small.ledger });
  const smallCache: StatusPageCache = {};
  assert.equal(compactStatus(smallStatus(), 4_096, smallCache).paged, undefined);
  const more = Array.from({ length: 40 }, (_, i) => `public.m${i}`);
  recordCycle(small, cycle('c2', more.map((t) => committed(t, 1))), 'lakesync/shop/c2', { kind: 'sync', requestIds: ['r2'], tables: more });
  assert.ok(compactStatus(smallStatus(), 4_096, smallCache).paged?.includes('ledger'));
});
