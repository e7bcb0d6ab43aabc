/**
 * Durability on a real Temporal dev server: the worker killed with SIGKILL in the middle of the
 * loads, and the server stopped and restarted on its database file, never lose or repeat a table.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { fakeTableNames } from '../../src/fake/ports';
import { readStateDir } from '../../src/fake/state';
import { connectClient, temporalTarget } from '../../src/temporal';
import { fakeConfig, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = fakeTableNames(20);

/** A worker process over a file-backed fake source `name`. */
function workerConfig(env: TestServer, name: string) {
  const stateDir = join(env.dir, name);
  mkdirSync(stateDir, { recursive: true });
  const queue = uniqueQueue(name);
  const raw = {
    temporal: { taskQueue: queue, address: env.server.address },
    sources: {
      [name]: {
        database: 'fake',
        source: { kind: 'fake', tables: 20, latencyMs: 1500, stateDir },
        target: { namespace: name },
        concurrency: 5,
        retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 2, maximumAttempts: 20 },
        timeouts: { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1 },
      },
    },
  };
  const file = join(env.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(raw));
  return { file, queue, stateDir, config: fakeConfig(queue, { tables: 20 }, {}, name) };
}

async function startWorkerProcess(configFile: string): Promise<ChildProcess> {
  const child = fork(join(__dirname, '..', 'helpers', 'worker-process.js'), [configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code} before it was ready`)));
  });
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Waits until the fake has started at least `n` loads and not yet finished all of them. */
async function waitForLoadsInFlight(stateDir: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const counters = readStateDir(stateDir).counters;
    const started = TABLES.filter((t) => counters[`load.start:${t}`]).length;
    const committed = TABLES.filter((t) => counters[`load.commit:${t}`]).length;
    if (started >= n && committed < TABLES.length) return;
    await delay(100);
  }
  throw new Error(`fewer than ${n} loads started within 60 s`);
}

function assertEveryTableLoadedOnce(stateDir: string): void {
  const counters = readStateDir(stateDir).counters;
  for (const t of TABLES) {
    assert.equal(counters[`load.start:${t}`], 1, `${t} was started exactly once`);
    assert.equal(counters[`load.commit:${t}`], 1, `${t} was committed exactly once`);
  }
}

describe('durability', () => {
  let env: TestServer;
  let client: Client;
  let worker: ChildProcess | undefined;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await stopProcess(worker);
    await client?.connection.close();
    await env?.close();
  });

  test('worker killed with SIGKILL mid-loads: the cycle completes, no table loaded twice, none lost', async () => {
    const { file, queue, stateDir, config } = workerConfig(env, 'crash');
    client = await connectClient(temporalTarget(config));
    worker = await startWorkerProcess(file);
    const handle = await startSource(client, queue, 'crash');
    await waitForLoadsInFlight(stateDir, 5);

    worker.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    const atKill = readStateDir(stateDir);
    const startedAtKill = TABLES.filter((t) => atKill.counters[`load.start:${t}`]).length;
    const runningAtKill = Object.values(atKill.runs).filter((r) => Date.now() - r.startedAtMs < r.durationMs).length;
    assert.ok(startedAtKill < TABLES.length, 'the worker died with loads still to start');
    assert.ok(runningAtKill > 0, 'the worker died with load runs in flight, which the new worker must re-attach');
    worker = await startWorkerProcess(file);

    const s = await waitForCycles(handle, 1, 180_000);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    assert.equal(s.recentCycles[0]!.counts.committed, 20);
    assert.equal(Object.keys(s.ledger).length, 20);
    assertEveryTableLoadedOnce(stateDir);
    await stopProcess(worker);
    worker = undefined;
    await recordHistories(client, 'worker-crash', ['lakesync/crash']);
  });

  test('Temporal server stopped and restarted on its database mid-cycle: the cycle completes with the same guarantees', async () => {
    const { file, queue, stateDir, config } = workerConfig(env, 'restart');
    worker = await startWorkerProcess(file);
    const restartClient = await connectClient(temporalTarget(config));
    const handle = await startSource(restartClient, queue, 'restart');
    await waitForLoadsInFlight(stateDir, 5);
    await restartClient.connection.close();

    await env.server.stop();
    await delay(2000);
    await env.server.restart();

    await client.connection.close();
    client = await connectClient(temporalTarget(config));
    const s = await waitForCycles(client.workflow.getHandle(handle.workflowId), 1, 180_000);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    assert.equal(s.recentCycles[0]!.counts.committed, 20);
    assertEveryTableLoadedOnce(stateDir);
    await recordHistories(client, 'server-restart', ['lakesync/restart']);
  });
});
