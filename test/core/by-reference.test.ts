/**
 * The pure parts of payloads by reference: splitting a document into parts that each fit a
 * payload, the status compacted under the limit, and its pages.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Watermark } from '../../src/model';
import { jsonBytes, splitText, textBytes } from '../../src/payload-text';
import { pageOf } from '../../src/workflows/by-reference';
import { compactStatus, initialState, statusPage } from '../../src/workflows/ledger';
import type { SourceState, SourceStatus } from '../../src/workflows/messages';

const watermark = (i: number): Watermark => ({
  exportId: 'lakesync-shop-export-1',
  snapshotTime: '2026-11-30T10:00:00.000Z',
  action: 'merge',
  cursorColumn: null,
  cursorValue: null,
  icebergSnapshotId: String(1000 + i),
  rowCount: i,
  schemaHash: 'h'.repeat(16),
  loadedAt: '2026-11-30T10:05:00.000Z',
  lastError: null,
});

function bigState(tables: number): SourceState {
  const state = initialState();
  for (let i = 0; i < tables; i++) state.ledger[`public.t${String(i).padStart(5, '0')}`] = watermark(i);
  state.failed['public.bad'] = { cycleId: 'c1', phase: 'load', message: 'column amount cannot be cast' };
  return state;
}

function statusOf(state: SourceState): SourceStatus {
  return { source: 'shop', phase: 'idle', queue: state.queue, recentCycles: state.recentCycles, failed: state.failed, ledger: state.ledger, ignoredRequests: [], droppedTables: [] };
}

describe('payloads by reference', () => {
  test('a document splits into parts within the limit that join back to it, surrogate pairs and escapes included', () => {
    const text = JSON.stringify({ rows: Array.from({ length: 2000 }, (_, i) => ({ name: `t${i} "quoted" \\ é 漢 😀`, n: i })) });
    const parts = splitText(text, 1000);
    assert.ok(parts.length > 50);
    assert.equal(parts.join(''), text);
    for (const p of parts) {
      assert.ok(textBytes(p) <= 1000, `part of ${textBytes(p)} bytes`);
      // The payload of a part is its JSON encoding: never more than counted, never a broken pair.
      assert.ok(Buffer.byteLength(JSON.stringify(p)) <= textBytes(p) + 2);
      assert.ok(!/[\ud800-\udbff]$/.test(p), 'a part ends inside a surrogate pair');
    }
    assert.deepEqual(splitText('', 10), ['']);
  });

  test('the status fits the limit by leaving its largest parts to pages; a small status is whole', () => {
    const small = statusOf(bigState(3));
    assert.equal(compactStatus(small, 64 * 1024), small);
    const big = statusOf(bigState(2000));
    const compact = compactStatus(big, 16 * 1024);
    assert.deepEqual(compact.paged, ['ledger']);
    assert.deepEqual(compact.ledger, {});
    assert.ok(jsonBytes(compact) <= 16 * 1024);
    assert.equal(Object.keys(compact.failed).length, 1, 'the small failed list stays inline');
  });

  test('a queue of reruns of thousands of tables is left to pages too: the status answer stays within the limit', () => {
    // A Schedule's hourly rerun of 5,000 failed tables, queued four times while a long rerun runs.
    const state = bigState(3);
    const failed = Array.from({ length: 5_000 }, (_, i) => `public.customer_order_line_${String(i).padStart(5, '0')}`);
    for (let i = 0; i < 4; i++) state.queue.push({ kind: 'rerun', requestId: `sched-${i}`, tables: failed, approveDeletes: false, failedOnly: true });
    state.queue.push({ kind: 'sync', requestId: 'svc-1', approveDeletes: false });
    const limit = 256 * 1024;
    const compact = compactStatus(statusOf(state), limit);
    assert.ok(jsonBytes(compact) <= limit, `the status answer holds ${jsonBytes(compact)} bytes`);
    assert.deepEqual(compact.paged, ['queue']);
    // The summary still counts and names the queued requests; their tables come in pages.
    assert.deepEqual(compact.queue.map((q) => [q.requestId, q.tables?.length]), [['sched-0', 0], ['sched-1', 0], ['sched-2', 0], ['sched-3', 0], ['svc-1', undefined]]);
    // A request too large for half the limit comes in slices of its tables, the later ones marked tablesContinued.
    const seen: { requestId: string; tables?: string[] }[] = [];
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page = statusPage(state, { part: 'queue', offset }, limit);
      assert.ok(jsonBytes(page) <= limit / 2 + 1024, `a queue page of ${jsonBytes(page)} bytes`);
      if (page.part === 'queue') {
        for (const q of page.entries) {
          if (q.tablesContinued) seen.at(-1)!.tables!.push(...q.tables!);
          else seen.push({ requestId: q.requestId, ...(q.tables ? { tables: [...q.tables] } : {}) });
        }
      }
      offset = page.next;
    }
    assert.deepEqual(seen.map((q) => `${q.requestId}:${q.tables?.length ?? 'all'}`), ['sched-0:5000', 'sched-1:5000', 'sched-2:5000', 'sched-3:5000', 'svc-1:all']);
    assert.deepEqual(seen[2]!.tables, failed, 'each request whole, in order');
  });

  test('a running rerun of 20,000 tables and 20 recent cycles of 1,000 long request ids each: the status answer stays within the limit', () => {
    const limit = 64 * 1024;
    const state = bigState(3);
    const id = (c: number, r: number) => `svc-${c}-${r}-`.padEnd(500, 'x');
    for (let c = 0; c < 20; c++) {
      state.recentCycles.push({
        cycleId: `c${c}`,
        workflowId: `lakesync-cycle-shop-c${c}`,
        kind: 'sync',
        status: 'succeeded',
        requestIds: Array.from({ length: 1000 }, (_, r) => id(c, r)),
        counts: { committed: 3, failed: 0, skipped: 0 },
        startedAt: '2026-11-30T10:00:00.000Z',
        finishedAt: '2026-11-30T10:05:00.000Z',
      });
    }
    state.lastCycle = { ...state.recentCycles[0]!, tables: [] };
    const tables = Array.from({ length: 20_000 }, (_, i) => `public.customer_order_line_${String(i).padStart(5, '0')}`);
    const current = { cycleId: 'c20', workflowId: 'lakesync-cycle-shop-c20', kind: 'rerun' as const, tables, startedAt: '2026-11-30T11:00:00.000Z' };
    const whole: SourceStatus = { ...statusOf(state), phase: 'running', currentCycle: current, lastCycle: state.lastCycle };
    const compact = compactStatus(whole, limit);
    assert.ok(jsonBytes(compact) <= limit, `the status answer holds ${jsonBytes(compact)} bytes`);
    assert.deepEqual([...(compact.paged ?? [])].sort(), ['currentCycleTables', 'requestIds']);
    // The summary keeps the cycles (ids, counts) and the current cycle; the long lists come in pages.
    assert.equal(compact.recentCycles.length, 20);
    assert.equal(compact.currentCycle?.cycleId, 'c20');
    const pagedTables: string[] = [];
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page = statusPage(state, { part: 'currentCycleTables', offset }, limit, current);
      assert.ok(jsonBytes(page) <= limit);
      if (page.part === 'currentCycleTables') pagedTables.push(...page.entries);
      offset = page.next;
    }
    assert.deepEqual(pagedTables, tables);
    const served: string[] = [];
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page = statusPage(state, { part: 'requestIds', offset }, limit, current);
      assert.ok(jsonBytes(page) <= limit);
      if (page.part === 'requestIds') served.push(...page.entries.map(([cycleId, requestId]) => `${cycleId}/${requestId}`));
      offset = page.next;
    }
    assert.equal(served.length, 20_000);
    assert.equal(served[0], `c0/${id(0, 0)}`);
    assert.equal(served.at(-1), `c19/${id(19, 999)}`);
  });

  test('a full queue of requests with long ids and senders: the status answer stays within the limit and counts them', () => {
    const limit = 256 * 1024;
    const state = bigState(3);
    for (let i = 0; i < 1000; i++) state.queue.push({ kind: 'sync', requestId: `svc-${i}-`.padEnd(500, 'x'), requestedBy: 'svc'.padEnd(500, 'y'), approveDeletes: false });
    const compact = compactStatus(statusOf(state), limit);
    assert.ok(jsonBytes(compact) <= limit, `the status answer holds ${jsonBytes(compact)} bytes`);
    assert.deepEqual(compact.paged, ['queue']);
    assert.equal(compact.queued, 1000);
    const seen: string[] = [];
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page = statusPage(state, { part: 'queue', offset }, limit);
      assert.ok(jsonBytes(page) <= limit);
      if (page.part === 'queue') seen.push(...page.entries.map((q) => q.requestId));
      offset = page.next;
    }
    assert.deepEqual(seen, state.queue.map((q) => q.requestId));
  });

  test('20 dropped requests with long ids, senders and earlier ids, and 50 dropped tables of long names: the status answer stays within the limit', () => {
    const limit = 16 * 1024;
    const state = bigState(3);
    const long = (p: string) => p.padEnd(500, 'x');
    for (let i = 0; i < 20; i++) {
      state.ignoredRequests.push({ kind: 'sync', requestId: long(`r${i}-`), requestedBy: long('svc-'), reason: 'r'.repeat(300), at: '2026-11-30T10:00:00.000Z', earlierRequestIds: Array.from({ length: 10 }, (_, j) => long(`r${i}-${j}-`)) });
    }
    for (let i = 0; i < 50; i++) state.droppedTables.push({ table: `public.t${i}_`.padEnd(300, 'y'), cycleId: 'c1', exportId: 'lakesync-shop-export-1', at: '2026-11-30T10:00:00.000Z', note: 'not in the export of cycle c1' });
    const whole: SourceStatus = { ...statusOf(state), ignoredRequests: state.ignoredRequests, droppedTables: state.droppedTables };
    const compact = compactStatus(whole, limit);
    assert.ok(jsonBytes(compact) <= limit, `the status answer holds ${jsonBytes(compact)} bytes`);
    assert.deepEqual([...(compact.paged ?? [])].sort(), ['droppedTables', 'ignoredRequests']);
    for (const part of ['ignoredRequests', 'droppedTables'] as const) {
      const seen: unknown[] = [];
      for (let offset: number | undefined = 0; offset !== undefined; ) {
        const page = statusPage(state, { part, offset }, limit);
        assert.ok(jsonBytes(page) <= limit);
        seen.push(...page.entries);
        offset = page.next;
      }
      assert.deepEqual(seen, state[part]);
    }
  });

  test('pages of the ledger cover every entry once, in table order, each within half the limit', () => {
    const state = bigState(2000);
    const seen: string[] = [];
    let pages = 0;
    for (let offset: number | undefined = 0; offset !== undefined; pages++) {
      const page = statusPage(state, { part: 'ledger', offset }, 16 * 1024);
      assert.equal(page.part, 'ledger');
      assert.ok(jsonBytes(page.entries) <= 8 * 1024 + 100);
      if (page.part === 'ledger') seen.push(...page.entries.map(([t]) => t));
      offset = page.next;
    }
    assert.ok(pages > 10);
    assert.deepEqual(seen, Object.keys(state.ledger).sort());
    assert.throws(() => statusPage(state, { part: 'nope' as 'ledger', offset: 0 }, 1024), /unknown part "nope"/);
  });

  test('a page holds at least one entry, however large', () => {
    const page = pageOf(['x'.repeat(5000), 'y'], 0, 100);
    assert.equal(page.entries.length, 1);
    assert.equal(page.next, 1);
    assert.deepEqual(pageOf(['a'], 5, 100), { entries: [], total: 1 });
  });

  test('a page asked without a usable offset (a client that sends none, or null) is the first page', () => {
    for (const offset of [undefined, null, Number.NaN, 'x']) {
      assert.deepEqual(pageOf(['a', 'b'], offset as unknown as number, 100), { entries: ['a', 'b'], total: 2 }, `offset ${String(offset)}`);
    }
  });
});
