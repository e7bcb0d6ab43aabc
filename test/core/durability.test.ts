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
import { stopChild } from '../../src/child-process';
import { fakeTableNames } from '../../src/fake/ports';
import { type FakeRun, type FakeState, readStateDir } from '../../src/fake/state';
import { connectClient, temporalTarget } from '../../src/temporal';
import { fakeConfig, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { recordHistories } from '../helpers/histories';
import { startSource, waitForCycles } from '../helpers/source';
import { pollFor } from '../helpers/within';

const TABLES = fakeTableNames(20);

/**
 * Load runs outlast the server's stop, pause and restart (a few seconds), so a run started
 * before the stop is still running when the server is back.
 */
const RESTART_LOAD_MS = 15_000;

/** A worker process over a file-backed fake source `name`. */
function workerConfig(env: TestServer, name: string, load: { latencyMs: number; concurrency: number } = { latencyMs: 1500, concurrency: 5 }) {
  const stateDir = join(env.dir, name);
  mkdirSync(stateDir, { recursive: true });
  const queue = uniqueQueue(name);
  const raw = {
    temporal: { taskQueue: queue, address: env.server.address },
    sources: {
      [name]: {
        database: 'fake',
        source: { kind: 'fake', tables: 20, latencyMs: load.latencyMs, stateDir },
        target: { namespace: name },
        concurrency: load.concurrency,
        retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 2, maximumAttempts: 20 },
        timeouts: { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1 },
      },
    },
  };
  const file = join(env.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(raw));
  return { file, queue, stateDir, config: fakeConfig(queue, { tables: 20 }, {}, name) };
}

/** Every worker process started here; the suite stops each, whatever a failed test left behind. */
const workers: ChildProcess[] = [];

async function startWorkerProcess(configFile: string): Promise<ChildProcess> {
  const child = fork(join(__dirname, '..', 'helpers', 'worker-process.js'), [configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  workers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code} before it was ready`)));
  });
  return child;
}

/** SIGTERM, then SIGKILL if the worker has not exited within 20 s (say its server is gone). */
async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child) await stopChild(child, { killAfterMs: 20_000 });
}

/** Waits until the fake has started at least `n` loads and not yet finished all of them. */
async function waitForLoadsInFlight(stateDir: string, n: number): Promise<void> {
  await pollFor(`at least ${n} loads to start, not all of them committed`, () => {
    const counters = readStateDir(stateDir).counters;
    const started = TABLES.filter((t) => counters[`load.start:${t}`]).length;
    const committed = TABLES.filter((t) => counters[`load.commit:${t}`]).length;
    return started >= n && committed < TABLES.length ? true : undefined;
  });
}

/** Runs started and not yet finished at `nowMs`, whose commit has not happened. */
function runsInFlight(state: FakeState, nowMs: number): FakeRun[] {
  return Object.values(state.runs).filter((r) => nowMs - r.startedAtMs < r.durationMs && !state.counters[`committed:${r.runId}`]);
}

function describeRuns(state: FakeState): string {
  const runs = Object.values(state.runs);
  const committed = runs.filter((r) => state.counters[`committed:${r.runId}`]).length;
  return `${runs.length} started, ${committed} committed`;
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
    await Promise.all(workers.map(stopProcess));
    await client?.connection.close();
    await env?.close();
  });

  test('worker killed with SIGKILL mid-loads: the cycle completes, no table loaded twice, none lost', async () => {
    const { file, queue, stateDir, config } = workerConfig(env, 'crash');
    client = await connectClient(temporalTarget(config));
    worker = await startWorkerProcess(file);
    const handle = await startSource(client, queue, 'crash');
    await waitForLoadsInFlight(stateDir, 5);

    const killedAtMs = Date.now();
    worker.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    const atKill = readStateDir(stateDir);
    const startedAtKill = TABLES.filter((t) => atKill.counters[`load.start:${t}`]).length;
    // In flight at the kill itself, however long the exit took to be seen on a busy machine.
    const runningAtKill = Object.values(atKill.runs).filter((r) => killedAtMs - r.startedAtMs < r.durationMs).length;
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

  test('Temporal server stopped and restarted on its database mid-load: the runs in flight resume and finish, no table loaded twice', async () => {
    const { file, queue, stateDir, config } = workerConfig(env, 'restart', { latencyMs: RESTART_LOAD_MS, concurrency: 10 });
    worker = await startWorkerProcess(file);
    const restartClient = await connectClient(temporalTarget(config));
    const handle = await startSource(restartClient, queue, 'restart');
    await waitForLoadsInFlight(stateDir, 5);
    await restartClient.connection.close();

    await env.server.stop();
    // The runs in flight while the server is down: started, not finished, not committed.
    const atStop = readStateDir(stateDir);
    const inFlight = runsInFlight(atStop, Date.now());
    assert.ok(inFlight.length > 0, `a load run was in flight when the server stopped (runs: ${describeRuns(atStop)})`);
    await delay(2000);
    await env.server.restart();
    const atRestart = readStateDir(stateDir);
    // A slow restart may outlast some runs; those still running when the server is back spanned it.
    const back = new Set(runsInFlight(atRestart, Date.now()).map((r) => r.runId));
    const spanned = inFlight.filter((r) => back.has(r.runId));
    assert.ok(spanned.length > 0, `a run in flight at the stop was still running when the server was back (runs: ${describeRuns(atRestart)})`);

    await client?.connection.close();
    client = await connectClient(temporalTarget(config));
    const s = await waitForCycles(client.workflow.getHandle(handle.workflowId), 1, 180_000);
    assert.equal(s.recentCycles[0]!.status, 'succeeded');
    assert.equal(s.recentCycles[0]!.counts.committed, 20);
    assertEveryTableLoadedOnce(stateDir);
    // Each run that spanned the restart is the one its table committed: re-attached, not started again.
    const end = readStateDir(stateDir);
    for (const r of spanned) {
      assert.equal(end.counters[`committed:${r.runId}`], 1, `run ${r.runId} of ${r.table} finished and committed after the restart`);
      assert.deepEqual(Object.values(end.runs).filter((x) => x.table === r.table).map((x) => x.runId), [r.runId], `${r.table} has no run but ${r.runId}`);
      assert.equal(s.ledger[r.table]?.exportId, s.recentCycles[0]!.exportId, `${r.table}'s watermark comes from this cycle`);
    }
    await recordHistories(client, 'server-restart', ['lakesync/restart']);
  });
});
