/**
 * The load runner killed while loads are under way (direct.test.ts kills it while a direct load
 * reads its window): every call that was under way on it fails at once, and all of them must go on
 * with ONE new runner. A client whose runner was killed while idle still closes, and a runner
 * killed while it starts fails the start at once. A stand-in runner (a small HTTP server speaking
 * the runner's protocol) takes Spark's place, so the tests run in a second.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, test } from 'node:test';
import { processAlive } from '../../src/local/process-identity';
import { layoutOf } from '../../src/local/paths';
import { RunnerClient } from '../../src/local/runner/client';
import { selfKillingExecutable } from '../helpers/stand-in';
import { within } from '../helpers/within';

const work = mkdtempSync(join(tmpdir(), 'lakesync-direct-runner-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Answers /health with its instance and pid; starts after a short pause, like a JVM. */
const FAKE_RUNNER = `
const http = require('node:http');
const { randomBytes } = require('node:crypto');
const instance = randomBytes(8).toString('hex');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ instance, pid: process.pid, running: [] }));
  });
});
setTimeout(() => server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'ready', port: server.address().port, pid: process.pid, instance }) + '\\n');
}), 300);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

function fakePython(): string {
  const script = join(work, 'fake-runner.js');
  writeFileSync(script, FAKE_RUNNER);
  const wrapper = join(work, 'python');
  // exec keeps the pid: the runner's pid is the child's, as with the real runner.
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${script}"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** Runs `fn` with `python` starting the runner instead of the real one. */
async function withPython(python: string, fn: () => Promise<void>): Promise<void> {
  const saved = process.env.LAKESYNC_PYTHON;
  process.env.LAKESYNC_PYTHON = python;
  try {
    await fn();
  } finally {
    if (saved === undefined) delete process.env.LAKESYNC_PYTHON;
    else process.env.LAKESYNC_PYTHON = saved;
  }
}

test('calls under way on a runner that died all go on with one new runner; none ends the new one', () => withPython(fakePython(), async () => {
  const client = new RunnerClient(layoutOf(join(work, 'w')), { startTimeoutMs: 20_000 });
  try {
    const first = await client.ensure();
    process.kill(first.pid, 'SIGKILL');
    while (processAlive(first.pid)) await delay(20);

    const answers = await Promise.allSettled([1, 2, 3].map(() => client.call<{ pid: number; instance: string }>('GET', '/health', undefined, 5_000)));
    const failures = answers.filter((a) => a.status === 'rejected').map((a) => String((a as PromiseRejectedResult).reason));
    assert.deepEqual(failures, [], 'every call reached a runner');
    const pids = new Set(answers.map((a) => (a as PromiseFulfilledResult<{ pid: number }>).value.pid));
    assert.equal(pids.size, 1, `one new runner served them all: ${[...pids].join(', ')}`);
    const [pid] = [...pids];
    assert.notEqual(pid, first.pid);
    assert.ok(processAlive(pid!), 'the new runner is alive');
  } finally {
    await client.close();
  }
}));

test('closing the client after its runner was killed (say by the OOM killer) returns at once instead of waiting for an exit that already happened', () => withPython(fakePython(), async () => {
  const client = new RunnerClient(layoutOf(join(work, 'killed')), { startTimeoutMs: 20_000 });
  const { pid } = await client.ensure();
  process.kill(pid, 'SIGKILL');
  while (processAlive(pid)) await delay(20);
  await delay(200); // the client has seen the exit
  await within(5_000, 'close() of a client whose runner had died', client.close());
}));

test('a runner killed while it starts fails the start at once, naming the signal', () => withPython(selfKillingExecutable(work), async () => {
  const client = new RunnerClient(layoutOf(join(work, 'runner-killed-at-start')), { startTimeoutMs: 20_000 });
  try {
    await within(15_000, 'the start of a runner that was killed', assert.rejects(client.ensure(), /the load runner was ended by SIGKILL before it was ready/));
  } finally {
    await client.close();
  }
}));
