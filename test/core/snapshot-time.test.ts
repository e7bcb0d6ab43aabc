/**
 * The snapshot time a cycle records (the tables' watermarks, their freshness lag) is the snapshot's
 * own, as the snapshot port reports it once available, even when the start that made the snapshot
 * lost its answer and a retry adopted the snapshot while it was still being created: RDS gives a
 * snapshot no SnapshotCreateTime until it is available, so the adopting start can only give the
 * time of the retry, later than the data the snapshot holds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { PortError } from '../../src/errors';
import { FakeBackend } from '../../src/fake/ports';
import { sourceMetrics } from '../../src/metrics/values';
import type { CycleResult } from '../../src/model';
import type { Ports } from '../../src/ports';
import { connectClient, temporalTarget } from '../../src/temporal';
import { createWorker } from '../../src/worker';
import { fakeConfig, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = ['public.a', 'public.b'];

let env: TestServer;
let worker: Worker;
let running: Promise<void>;
let close: () => Promise<void>;
let client: Client;
let handle: WorkflowHandle;
const backend = new FakeBackend({ tables: TABLES });
const queue = uniqueQueue('snapshot-time');
let starts = 0;

/** The fake's ports, whose first snapshot start makes the snapshot and loses its answer; the retry adopts it as RDS does while it is still being created. */
function lostStartPorts(): Ports {
  const ports = backend.ports();
  return {
    ...ports,
    snapshot: {
      ...ports.snapshot,
      async startSnapshot(req) {
        const ref = await ports.snapshot.startSnapshot(req);
        starts += 1;
        if (starts === 1) throw new PortError('transient', 'RequestTimeout', 'the answer to CreateDBSnapshot was lost');
        // What RdsSnapshotPort answers for a snapshot it adopts while RDS still creates it (no SnapshotCreateTime yet).
        return { ...ref, createdAt: new Date().toISOString(), adopted: true };
      },
    },
  };
}

before(async () => {
  env = await startTestServer();
  const config = fakeConfig(queue, { tables: TABLES });
  ({ worker, close } = await createWorker({ config, ports: { shop: lostStartPorts() } }));
  running = worker.run();
  client = await connectClient(temporalTarget(config));
  handle = await startSource(client, queue, 'shop');
});
after(async () => {
  worker?.shutdown();
  await running;
  await close?.();
  await client?.connection.close();
  await env?.close();
});

test("a snapshot adopted by a retried start is timed as the snapshot, not as the retry: the watermarks and the freshness lag are the snapshot's", { timeout: 120_000 }, async () => {
  const status = await waitForCycles(handle, 1);
  assert.equal(status.lastCycle?.status, 'succeeded');
  assert.equal(starts, 2, 'the snapshot start was retried once');
  const result: CycleResult = await client.workflow.getHandle(status.lastCycle!.workflowId).result();
  const snapshotId = result.snapshot!.snapshotId;
  const taken = (await backend.ports().snapshot.describeSnapshot(snapshotId)).createdAt!;
  assert.equal(result.snapshot!.createdAt, taken, 'the cycle records the time the snapshot was taken');
  for (const t of TABLES) assert.equal(status.ledger[t]?.snapshotTime, taken, `the watermark of ${t} holds the snapshot's time`);
  const now = Date.now();
  const metrics = sourceMetrics(status, { lakeTableOf: (t) => t, cycleResult: () => undefined, now });
  const trueLag = (now - Date.parse(taken)) / 1000;
  for (const t of metrics.tables) assert.ok(t.freshnessLagSeconds! >= trueLag, `${t.table}: freshness lag ${t.freshnessLagSeconds}s, the snapshot is ${trueLag}s old`);
});
