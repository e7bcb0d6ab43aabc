/**
 * The status answer of a source whose running cycle names many tables and whose recent cycles
 * served many requests with long ids, on a real Temporal server: the `status` query answer stays
 * within the inline limit (the running cycle's tables and the served request ids come in pages),
 * `lakesync status` reads them whole, and `--wait` still finds the cycle that served a request.
 * The limit is lowered to 8 KB so that 60 tables and 30 requests stand for 20,000 and 1,000.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { readStatusView } from '../../src/cli/progress';
import { waitLine } from '../../src/cli/cycle-report';
import { type WaitProgress, waitForRequest } from '../../src/cli/wait';
import { type DevServer, startDevServer } from '../../src/devserver';
import { sourceWorkflowId } from '../../src/ids';
import { readSourceStatus, readStatusSummary } from '../../src/status-pages';
import { UsageError } from '../../src/cli/errors';
import { temporalTarget } from '../../src/temporal';
import { requestQuery, requestSyncSignal, rerunUpdate, SOURCE_WORKFLOW_TYPE, syncUpdate, statusQuery } from '../../src/workflows/messages';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { fakeConfig, quietTemporalLogs, startFakeWorker, type FakeWorker, uniqueQueue } from '../helpers/env';
import { recordingQueries } from '../helpers/query-client';
import { pollFor } from '../helpers/within';

const SOURCE = 'wide';
const LIMIT = 8 * 1024;
const TABLES = Array.from({ length: 60 }, (_, i) => `public.t${String(i).padStart(4, '0')}_${'customer_order_line_item_history'.repeat(3)}`);
const SLOW = TABLES[0]!;
const REQUEST_IDS = Array.from({ length: 30 }, (_, i) => `svc-${String(i).padStart(2, '0')}-`.padEnd(500, 'x'));
const bytesOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

describe(`status answer size: a rerun of ${TABLES.length} long table names running, ${REQUEST_IDS.length} requests of 500-character ids served, limit ${LIMIT} bytes`, () => {
  let dir: string;
  let server: DevServer;
  let w: FakeWorker;
  let handle: WorkflowHandle;
  const queue = uniqueQueue('statussize');

  before(async () => {
    quietTemporalLogs();
    dir = mkdtempSync(join(tmpdir(), 'lakesync-statussize-'));
    server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
    process.env.TEMPORAL_ADDRESS = server.address;
    w = await startFakeWorker(fakeConfig(queue, { tables: TABLES }, { batchSize: 2 }, SOURCE), { tables: TABLES });
    await w.client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId(SOURCE), taskQueue: queue, args: [{ source: SOURCE, payloadInlineBytes: LIMIT }] });
    handle = w.client.workflow.getHandle(sourceWorkflowId(SOURCE));
  });
  after(async () => {
    await w?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the status answer stays within the limit; `lakesync status` reads it whole; `--wait` finds a request among the paged ids', async () => {
    const conn = { client: w.client, target: temporalTarget(w.config) };
    // A first cycle runs long, past the updates below on a busy machine; the requests sent meanwhile
    // queue and are served together by the next one.
    w.backend.setLatencyByTable({ [SLOW]: 10_000 });
    await handle.executeUpdate(syncUpdate, { args: [{ requestId: 'first' }] });
    for (const requestId of REQUEST_IDS) await handle.executeUpdate(syncUpdate, { args: [{ requestId }] });
    const seen: WaitProgress[] = [];
    const served = await waitForRequest(conn, SOURCE, REQUEST_IDS[17]!, { pollMs: 200, onStatus: (p) => seen.push(p) });
    // While the first cycle ran, the waiter was told its request was queued behind it and the 17 sent before it, not that it ran.
    assert.equal(seen[0]?.currentCycle !== undefined, true, JSON.stringify(seen[0]));
    assert.equal(seen[0]?.serving, undefined);
    assert.equal(seen[0]?.ahead, 17);
    assert.match(waitLine(seen[0]!), /^queued behind running cycle \S+ \(sync\) and 17 request\(s\)$/);
    assert.ok(seen.some((p) => p.serving && /^running cycle \S+ \(sync\)$/.test(waitLine(p))), JSON.stringify(seen.map(waitLine)));
    // The waiter asks where its request stands in one small answer: the cycle, with its own id only.
    assert.deepEqual(served.requestIds, [REQUEST_IDS[17]]);
    const standing = await handle.query(requestQuery, REQUEST_IDS[17]!);
    assert.ok(bytesOf(standing) <= LIMIT, `request answer ${bytesOf(standing)} bytes`);
    assert.equal(standing.servedBy[0]?.cycleId, served.cycleId);

    // A rerun of every table runs (one table's load outlasts the test).
    w.backend.setLatencyByTable({ [SLOW]: 600_000 });
    await handle.executeUpdate(rerunUpdate, { args: [{ tables: TABLES, requestId: 'rerun-all' }] });
    await pollFor(
      () => 'the rerun to run',
      async () => ((await readStatusSummary(handle)).currentCycle?.kind === 'rerun' ? true : undefined),
      120_000,
      200,
    );

    // Requests with long ids and senders queue behind it.
    const QUEUED = Array.from({ length: 20 }, (_, i) => `later-${String(i).padStart(2, '0')}-`.padEnd(500, 'q'));
    for (const requestId of QUEUED) await handle.executeUpdate(syncUpdate, { args: [{ requestId, requestedBy: 'svc-'.padEnd(500, 's') }] });

    // Requests with long ids and senders that name unknown tables are dropped (a signal cannot be refused).
    const DROPPED = Array.from({ length: 20 }, (_, i) => `dropped-${String(i).padStart(2, '0')}-`.padEnd(500, 'd'));
    for (const [i, requestId] of DROPPED.entries()) await handle.signal(requestSyncSignal, { tables: [`public.nope_${i}`], requestId, requestedBy: 'svc-'.padEnd(500, 's') });
    await pollFor(
      () => 'the requests dropped',
      async () => ((await readSourceStatus(handle)).ignoredRequests.some((r) => r.requestId === DROPPED.at(-1)) ? true : undefined),
      60_000,
      200,
    );

    const raw = await handle.query(statusQuery);
    assert.ok(bytesOf(raw) <= LIMIT, `status answer ${bytesOf(raw)} bytes, paged ${JSON.stringify(raw.paged)}`);
    assert.ok(raw.paged?.includes('currentCycleTables') && raw.paged.includes('requestIds'), `paged parts: ${JSON.stringify(raw.paged)}`);
    assert.equal(raw.currentCycle?.kind, 'rerun');

    // `lakesync status` reads the whole status.
    const view = await readStatusView(conn, SOURCE);
    assert.equal(view.phase, 'running');
    assert.deepEqual(view.status?.currentCycle?.tables, TABLES);
    assert.deepEqual(view.status?.recentCycles.find((c) => c.cycleId === served.cycleId)?.requestIds, REQUEST_IDS);
    assert.deepEqual(view.status?.lastCycle?.requestIds, REQUEST_IDS);
    assert.equal(view.status?.paged, undefined);
    assert.equal(view.queued, QUEUED.length);
    assert.deepEqual(view.status?.queue.map((q) => q.requestId), QUEUED);

    assert.ok(DROPPED.every((id) => view.status?.ignoredRequests.some((r) => r.requestId === id)), 'every dropped request is listed');

    // A waiter for a dropped request is told so.
    await assert.rejects(waitForRequest(conn, SOURCE, DROPPED[3]!, { pollMs: 200 }), (err: Error) => err instanceof UsageError && /dropped request dropped-03-.*public\.nope_3/s.test(err.message));

    // A waiter for a request of the earlier cycle still finds it.
    const again = await waitForRequest(conn, SOURCE, REQUEST_IDS[29]!, { pollMs: 200 });
    assert.equal(again.cycleId, served.cycleId);

    // A worker from before the request query answers it as a query it does not know: the waiter reads the status instead.
    await assert.rejects(handle.query('requestBefore'), /did not register a handler for requestBefore\./);
    const before = olderWorkerClient(w.client);
    const viaStatus = await waitForRequest({ ...conn, client: before.client }, SOURCE, REQUEST_IDS[5]!, { pollMs: 200 });
    assert.equal(viaStatus.cycleId, served.cycleId);
    assert.deepEqual(viaStatus.requestIds, REQUEST_IDS);
    assert.deepEqual(before.asked.slice(0, 2), ['request', 'status']);
    await assert.rejects(waitForRequest({ ...conn, client: before.client }, SOURCE, DROPPED[4]!, { pollMs: 200 }), (err: Error) => err instanceof UsageError && /dropped request dropped-04-/.test(err.message));
  });
});

/** A client whose handles ask the source's `request` query under a name its worker does not know (as a worker from before that query answers), recording every query. */
function olderWorkerClient(client: Client): { client: Client; asked: string[] } {
  return recordingQueries(client, (name, send, args) =>
    name !== 'request'
      ? undefined
      : // The worker's own answer to a query it does not know, renamed back.
        send('request_unknown', ...args).catch((err: Error) => {
          err.message = err.message.replace('request_unknown.', 'request.');
          throw err;
        }),
  );
}
