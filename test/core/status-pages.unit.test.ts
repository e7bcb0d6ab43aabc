/**
 * The status readers over a handle that answers like a large source workflow: the summary reader
 * (what `sync --wait` polls) asks one query and no page; the whole reader reads every page.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { QueryDefinition } from '@temporalio/common';
import { readRequestStanding, readSourceStatus, readStatusSummary, type Queryable } from '../../src/status-pages';
import { jsonBytes } from '../../src/payload-text';
import { compactStatus, initialState, requestStanding, statusPage } from '../../src/workflows/ledger';
import { type IgnoredRequest, type SourceState, type SourceStatus, STATE_LOADING, type StatusPage, type StatusPageRequest } from '../../src/workflows/messages';

const FAILED_TABLES = ['public.a', 'public.b', 'public.c'];

/**
 * A source whose failed tables are answered one per page; it answers STATE_LOADING `loadingAnswers`
 * times first, and to the first page query when `pageWhileLoading` (a new run started between the two).
 */
function pagedSource(loadingAnswers = 0, pageWhileLoading = false) {
  const asked: string[] = [];
  let loading = loadingAnswers;
  let pageLoading = pageWhileLoading;
  const summary: SourceStatus = {
    source: 'shop',
    phase: 'idle',
    queue: [],
    recentCycles: [],
    failed: {},
    ledger: {},
    ignoredRequests: [],
    droppedTables: [],
    paged: ['failed'],
  };
  const handle: Queryable = {
    async query<Ret, Args extends unknown[]>(def: QueryDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
      asked.push(def.name);
      if (loading > 0) {
        loading--;
        throw new Error(STATE_LOADING);
      }
      if (def.name === 'status') return structuredClone(summary) as Ret;
      if (def.name === 'statusPage') {
        if (pageLoading) {
          pageLoading = false;
          throw new Error(STATE_LOADING);
        }
        const { part, offset } = args[0] as StatusPageRequest;
        assert.equal(part, 'failed');
        const table = FAILED_TABLES[offset]!;
        const page: StatusPage = {
          part: 'failed',
          entries: [[table, { error: { phase: 'load', message: `${table} failed` } } as never]],
          total: FAILED_TABLES.length,
          ...(offset + 1 < FAILED_TABLES.length ? { next: offset + 1 } : {}),
        };
        return page as Ret;
      }
      throw new Error(`unexpected query ${def.name}`);
    },
  };
  return { handle, asked };
}

describe('status readers of a source that answers in pages', () => {
  test('the summary is one status query: no page is read, and the left-out part stays named', async () => {
    const { handle, asked } = pagedSource();
    const status = await readStatusSummary(handle);
    assert.deepEqual(asked, ['status']);
    assert.deepEqual(status.paged, ['failed']);
    assert.deepEqual(status.failed, {});
  });

  test('the whole status reads the queued requests\' tables from their pages', async () => {
    const state = initialState();
    const tables = Array.from({ length: 3_000 }, (_, i) => `public.t${String(i).padStart(5, '0')}`);
    for (const id of ['sched-1', 'sched-2']) state.queue.push({ kind: 'rerun', requestId: id, tables, approveDeletes: false, failedOnly: true });
    const limit = 32 * 1024;
    const whole: SourceStatus = { source: 'shop', phase: 'idle', queue: state.queue, recentCycles: [], failed: {}, ledger: {}, ignoredRequests: [], droppedTables: [] };
    const handle: Queryable = {
      async query<Ret, Args extends unknown[]>(def: QueryDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
        const answer = def.name === 'status' ? compactStatus(whole, limit) : statusPage(state, args[0] as StatusPageRequest, limit);
        return structuredClone(answer) as Ret;
      },
    };
    assert.deepEqual((await readStatusSummary(handle)).paged, ['queue']);
    const status = await readSourceStatus(handle);
    assert.deepEqual(status.queue, state.queue);
    assert.equal(status.paged, undefined);
  });

  test('a queued rerun of "failed" naming 20,000 tables is answered in pages within the limit, and read whole', async () => {
    const state = initialState();
    const tables = Array.from({ length: 20_000 }, (_, i) => `warehouse_reporting.customer_order_line_item_history_${String(i).padStart(5, '0')}`);
    state.queue.push({ kind: 'sync', requestId: 'nightly', approveDeletes: false });
    state.queue.push({ kind: 'rerun', requestId: 'sched-failed', tables, approveDeletes: false, failedOnly: true, requestedBy: 'schedule' });
    state.queue.push({ kind: 'rerun', requestId: 'svc-2', tables: ['public.a'], approveDeletes: true });
    const limit = 256 * 1024;
    const whole: SourceStatus = { source: 'shop', phase: 'idle', queue: state.queue, recentCycles: [], failed: {}, ledger: {}, ignoredRequests: [], droppedTables: [] };
    const largest: number[] = [];
    const handle: Queryable = {
      async query<Ret, Args extends unknown[]>(def: QueryDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
        const answer = def.name === 'status' ? compactStatus(whole, limit) : statusPage(state, args[0] as StatusPageRequest, limit);
        largest.push(jsonBytes(answer));
        return structuredClone(answer) as Ret;
      },
    };
    const status = await readSourceStatus(handle);
    assert.ok(Math.max(...largest) <= limit, `answers of ${largest.join(', ')} bytes`);
    assert.deepEqual(status.queue, state.queue);
  });

  test('the whole status reads every page of the left-out part', async () => {
    const { handle, asked } = pagedSource();
    const status = await readSourceStatus(handle);
    assert.deepEqual(asked, ['status', 'statusPage', 'statusPage', 'statusPage']);
    assert.deepEqual(Object.keys(status.failed), FAILED_TABLES);
    assert.equal(status.paged, undefined);
  });

  test('both readers ask again while a new run loads its carried state', async () => {
    const summary = pagedSource(2);
    assert.equal((await readStatusSummary(summary.handle)).source, 'shop');
    assert.deepEqual(summary.asked, ['status', 'status', 'status']);
    const whole = pagedSource(1);
    assert.deepEqual(Object.keys((await readSourceStatus(whole.handle)).failed), FAILED_TABLES);
  });

  test('a page asked while a new run loads its state reads the whole status again', async () => {
    const { handle, asked } = pagedSource(0, true);
    const status = await readSourceStatus(handle);
    assert.deepEqual(asked, ['status', 'statusPage', 'status', 'statusPage', 'statusPage', 'statusPage']);
    assert.deepEqual(Object.keys(status.failed), FAILED_TABLES);
  });

  /** A source with twelve dropped requests answered in pages of a few, and `change` run on the state after each page answered. */
  function changingSource(change: (state: SourceState, pagesAnswered: number) => void) {
    const state = initialState();
    state.ignoredRequests = Array.from({ length: 12 }, (_, i) => dropped(`old-${String(i).padStart(2, '0')}`));
    const limit = 1_024;
    let pages = 0;
    const handle: Queryable = {
      async query<Ret, Args extends unknown[]>(def: QueryDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
        const whole: SourceStatus = { source: 'shop', phase: 'idle', queue: [], recentCycles: [], failed: {}, ledger: {}, ignoredRequests: state.ignoredRequests, droppedTables: [] };
        if (def.name === 'status') return structuredClone(compactStatus(whole, limit)) as Ret;
        const answer = structuredClone(statusPage(state, args[0] as StatusPageRequest, limit));
        change(state, ++pages);
        return answer as Ret;
      },
    };
    return { handle, state };
  }
  const dropped = (requestId: string): IgnoredRequest => ({ kind: 'sync', requestId, reason: `public.nope is no table of the source ${'x'.repeat(80)}`, at: '2025-01-03T00:00:00.000Z' });

  test('a request dropped while the dropped requests are read in pages is read once with the others, none twice or missed', async () => {
    // The newest dropped request comes first: one dropped after the first page shifts the others by one.
    const { handle, state } = changingSource((s, n) => {
      if (n === 1) s.ignoredRequests = [dropped('new-00'), ...s.ignoredRequests];
    });
    assert.deepEqual((await readStatusSummary(handle)).paged, ['ignoredRequests']);
    const status = await readSourceStatus(handle);
    assert.deepEqual(
      status.ignoredRequests.map((r) => r.requestId),
      state.ignoredRequests.map((r) => r.requestId),
    );
  });

  test('dropped requests that keep changing while read in pages fail the read saying so, after a few attempts', async () => {
    let n = 0;
    const { handle } = changingSource((s) => {
      s.ignoredRequests = [dropped(`new-${n++}`), ...s.ignoredRequests].slice(0, 20);
    });
    await assert.rejects(readSourceStatus(handle), /status dropped requests: changed while read in pages, \d+ times; read the status again/);
  });

  test('where one request stands is one small query, however many long request ids the recent cycles served', async () => {
    const state = initialState();
    const ids = Array.from({ length: 1_000 }, (_, i) => `svc-${String(i).padStart(4, '0')}-`.padEnd(500, 'x'));
    state.recentCycles = [{ cycleId: 'c1', workflowId: 'lakesync/shop/c1', kind: 'sync', status: 'succeeded', requestIds: ids, counts: { committed: 1, failed: 0, skipped: 0 }, startedAt: 'a', finishedAt: 'b' }];
    state.queue = [{ kind: 'sync', requestId: 'later', approveDeletes: false }];
    state.ignoredRequests = [{ ...dropped('gone'), earlierRequestIds: ['gone-before'] }, { ...dropped('svc-0001'), repeat: true }];
    const limit = 256 * 1024;
    const asked: string[] = [];
    const handle: Queryable = {
      async query<Ret, Args extends unknown[]>(def: QueryDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
        asked.push(def.name);
        return structuredClone(requestStanding(state, args[0] as string, undefined, [])) as Ret;
      },
    };
    const whole: SourceStatus = { source: 'shop', phase: 'idle', queue: state.queue, recentCycles: state.recentCycles, failed: {}, ledger: {}, ignoredRequests: state.ignoredRequests, droppedTables: [] };
    assert.deepEqual(compactStatus(whole, limit).paged, ['requestIds']);
    const served = (await readRequestStanding(handle, ids[700]!))!;
    assert.deepEqual(asked, ['request']);
    assert.deepEqual(served.servedBy.map((c) => [c.cycleId, c.requestIds]), [['c1', [ids[700]]]]);
    assert.ok(jsonBytes(served) < 2_048, `${jsonBytes(served)} bytes`);
    assert.equal(served.dropped, undefined, 'a dropped repeat of a served request is not its answer');
    assert.equal((await readRequestStanding(handle, 'later'))!.queuedAt, 0);
    assert.equal((await readRequestStanding(handle, 'gone-before'))!.dropped?.requestId, 'gone');
    assert.deepEqual((await readRequestStanding(handle, 'unknown'))!.servedBy, []);
  });

  test('a worker that does not know the request query is answered null, so that the waiter reads the status', async () => {
    const unknown = (name: string, message: string): Queryable => ({
      async query() {
        throw Object.assign(new Error(message), { name });
      },
    });
    assert.equal(await readRequestStanding(unknown('QueryNotRegisteredError', 'Workflow did not register a handler for request. Registered queries: [status statusPage]'), 'r1'), null);
    assert.equal(await readRequestStanding(unknown('Error', 'Workflow did not register a handler for request. Registered queries: [status]'), 'r1'), null);
    await assert.rejects(readRequestStanding(unknown('Error', 'workflow not found'), 'r1'), /workflow not found/);
    // The client names every failed query so, a handler's own failure too.
    await assert.rejects(readRequestStanding(unknown('QueryNotRegisteredError', 'the handler failed'), 'r1'), /the handler failed/);
  });

  test('another failure is not retried', async () => {
    const handle: Queryable = {
      async query() {
        throw new Error('workflow not found');
      },
    };
    await assert.rejects(readStatusSummary(handle), /workflow not found/);
  });
});
