/**
 * The metrics reader on a real Temporal dev server: after a restart (a new reader, nothing cached),
 * the first refresh shows the last load counts of every table, also of tables last loaded many
 * cycles ago, and reads only the cycle results that hold those loads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { CycleResult } from '../../src/model';
import { StatusReader } from '../../src/metrics/reader';
import { requestSyncSignal } from '../../src/workflows/messages';
import { type FakeWorker, type TestServer, fakeConfig, startFakeWorker, startTestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = ['public.a', 'public.b', 'public.c', 'public.d', 'public.e'];

describe('metrics reader after a restart', () => {
  let env: TestServer;
  let w: FakeWorker;

  before(async () => {
    env = await startTestServer();
    w = await startFakeWorker(fakeConfig(uniqueQueue('metrics-reader'), { tables: TABLES, latencyMs: 10 }), { tables: TABLES, latencyMs: 10 });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  it('the first refresh shows the counts of tables last loaded five cycles ago, reading only the cycles that loaded them', async () => {
    const handle = await startSource(w.client, w.config.temporal.taskQueue, 'shop');
    await waitForCycles(handle, 1);
    // Then five cycles of public.a only: b..e were last loaded by the first cycle.
    for (let n = 2; n <= 6; n++) {
      await handle.signal(requestSyncSignal, { requestedBy: 'test', tables: ['public.a'] });
      await waitForCycles(handle, n);
    }
    const status = await waitForCycles(handle, 6);
    const first = status.recentCycles.at(-1)!;
    const firstResult = await w.client.workflow.getHandle<() => Promise<CycleResult>>(first.workflowId).result();

    // A worker restarted: a new reader, over a client that records which workflows it is asked about.
    const asked: string[] = [];
    const client = new Proxy(w.client, {
      get(target, prop, receiver) {
        if (prop !== 'workflow') return Reflect.get(target, prop, receiver);
        const workflow = target.workflow;
        return new Proxy(workflow, {
          get(t, p, r) {
            if (p !== 'getHandle') return Reflect.get(t, p, r);
            return (id: string, ...rest: unknown[]) => {
              asked.push(id);
              return (t.getHandle as (...a: unknown[]) => unknown).call(t, id, ...rest);
            };
          },
        });
      },
    }) as Client;
    const reader = new StatusReader({ config: w.config, taskQueue: w.config.temporal.taskQueue, client: async () => client, timeoutMs: 5_000, log: () => undefined, onError: () => undefined });
    const [reading] = await reader.read();
    assert.equal(reading?.state, 'read');
    const tables = reading!.state === 'read' ? reading!.metrics.tables : [];
    for (const table of TABLES.slice(1)) {
      const load = firstResult.tables.find((t) => t.table === table)!.load!;
      assert.ok(load.inserted > 0, 'the fake inserts rows');
      assert.deepEqual(tables.find((t) => t.table === table)?.lastLoad, { inserted: load.inserted, updated: load.updated, deleted: load.deleted }, table);
    }
    assert.ok(tables.find((t) => t.table === 'public.a')?.lastLoad, 'public.a: the last cycle');
    // The cycles between hold no load the metrics need: they are not read.
    const cycles = asked.filter((id) => id.includes('/cycle-'));
    assert.deepEqual([...new Set(cycles)].sort(), [status.lastCycle!.workflowId, first.workflowId].sort(), cycles.join(', '));
  });

  it("a source workflow on another task queue (another deployment's, of the same source name) is a read error naming both queues, not shown as this worker's", async () => {
    const logs: string[] = [];
    const errors: string[] = [];
    const reader = new StatusReader({ config: w.config, taskQueue: 'other-deployment', client: async () => w.client, timeoutMs: 5_000, log: (l) => logs.push(l), onError: (s) => errors.push(s) });
    const [reading] = await reader.read();
    assert.deepEqual(reading, { source: 'shop', state: 'error' });
    assert.deepEqual(errors, ['shop']);
    assert.match(logs.join('\n'), new RegExp(`lakesync/shop runs on task queue ${w.config.temporal.taskQueue}, but this config names task queue other-deployment`));
  });
});
