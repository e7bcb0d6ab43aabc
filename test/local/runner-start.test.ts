/** The load runner's start-up failures: each one says what failed and what to do. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, test } from 'node:test';
import { PortError } from '../../src/errors';
import { layoutOf } from '../../src/local/paths';
import { RunnerClient } from '../../src/local/runner/client';
import { removeOrphanedRunnerTempDirs } from '../../src/local/runner/temp-dir';
import { waitUntil } from '../helpers/within';
import { withEnv } from '../helpers/with-env';

const work = mkdtempSync(join(tmpdir(), 'lakesync-runner-start-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('a missing Python is reported with the bootstrap hint', async () => {
  const client = new RunnerClient(layoutOf(join(work, 'a')));
  await withEnv({ LAKESYNC_PYTHON: join(work, 'no-python') }, async () => {
    await assert.rejects(client.ensure(), (err: unknown) => {
      assert.ok(err instanceof PortError);
      assert.equal(err.code, 'RunnerDidNotStart');
      assert.match(err.message, /cannot start the load runner \(spawn .*no-python ENOENT\)/);
      assert.match(err.message, /npm run bootstrap/);
      return true;
    });
  });
  await client.close();
});

test('a missing Iceberg jar stops the runner before Spark starts, naming the jar and the fix', async () => {
  const client = new RunnerClient(layoutOf(join(work, 'b')));
  await withEnv({ LAKESYNC_ICEBERG_JAR: join(work, 'missing.jar') }, async () => {
    await assert.rejects(client.ensure(), (err: unknown) => {
      assert.ok(err instanceof PortError);
      assert.match(err.message, /the load runner could not start: Spark did not start: FileNotFoundError: Iceberg Spark runtime jar not found \(.*missing\.jar\)/);
      return true;
    });
  });
  await client.close();
});

test('a runner that does not start in time (a busy machine) is a failure to retry, not a broken install', async () => {
  const client = new RunnerClient(layoutOf(join(work, 'slow')), { startTimeoutMs: 1_000 });
  await assert.rejects(client.ensure(), (err: unknown) => {
    assert.ok(err instanceof PortError);
    assert.equal(err.code, 'RunnerDidNotStart');
    assert.match(err.message, /the load runner did not start within 1 s/);
    assert.equal(err.kind, 'transient', 'retried: a slow start is no reason to fail the table or the cycle for good');
    return true;
  });
  await client.close();
});

/** The processes whose environment or command line holds `text` (Linux /proc; root reads every process's). */
function processesWith(file: 'environ' | 'cmdline', text: string): number[] {
  return readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'latin1').includes(text);
    } catch {
      return false; // ended meanwhile, or not ours to read
    }
  });
}

test("a runner killed while Spark starts leaves nothing behind, in the system's temporary folder or in its work dir", async () => {
  // PySpark makes a folder for the JVM's connection file before it starts the JVM, and removes it once
  // the JVM has answered. Killed in between, the runner cannot remove it, and the JVM still writes its file.
  const layout = layoutOf(join(work, 'killed-in-spark-start'));
  const systemTemp = join(work, 'system-tmp');
  mkdirSync(systemTemp);
  const client = new RunnerClient(layout, { startTimeoutMs: 240_000 });
  try {
    await withEnv({ TMPDIR: systemTemp }, async () => {
      const starting = client.ensure();
      starting.catch(() => undefined);
      const connectionFile = '_PYSPARK_DRIVER_CONN_INFO_PATH=';
      const sparkOfThisRunner = () => [...processesWith('environ', `${connectionFile}${systemTemp}/`), ...processesWith('environ', `${connectionFile}${layout.runnerTemp}/`)];
      await waitUntil(() => sparkOfThisRunner().length > 0, 'PySpark has started the JVM (its connection folder exists)', 240_000);
      const [runner, ...others] = processesWith('cmdline', `--work-dir\0${layout.root}\0`);
      assert.ok(runner !== undefined && others.length === 0, 'one runner process of this work dir');
      process.kill(runner, 'SIGKILL');
      await assert.rejects(starting, /the load runner was ended by SIGKILL before it was ready/);
      // The JVM ends once it finds its parent gone; it may write its connection file before that.
      await waitUntil(() => sparkOfThisRunner().length === 0, "the runner's JVM has ended", 120_000);
    });
  } finally {
    await client.close();
  }
  assert.deepEqual(readdirSync(systemTemp), [], "nothing of the runner's in the system's temporary folder");
  assert.deepEqual(existsSync(layout.runnerTemp) ? readdirSync(layout.runnerTemp) : [], [], "nor in the work dir's runner-tmp");
});

test("Spark's own temporary files live in the runner's folder, and go with it when the runner and its JVM are killed outright", async () => {
  // The JVM puts its spark-*, blockmgr-* folders and native libraries in Java's temporary folder, not
  // TMPDIR. A JVM killed with SIGKILL (by the OOM killer, or after SIGTERM's grace) cannot delete them.
  // The work dir's path has a space and quotes: Spark's launcher splits Java options at spaces.
  const layout = layoutOf(join(work, 'killed "outright" here'));
  const client = new RunnerClient(layout, { startTimeoutMs: 240_000 });
  try {
    const runner = await client.ensure();
    const [folder, ...others] = readdirSync(layout.runnerTemp);
    assert.ok(folder !== undefined && others.length === 0, "the runner's one temporary folder");
    const sparkFiles = readdirSync(join(layout.runnerTemp, folder)).filter((name) => /^(spark|blockmgr)-/.test(name));
    assert.ok(sparkFiles.some((name) => name.startsWith('blockmgr-')) && sparkFiles.some((name) => name.startsWith('spark-')), `Spark's folders are in the runner's folder (found: ${sparkFiles.join(', ') || 'none'})`);
    process.kill(-runner.pid, 'SIGKILL');
    await waitUntil(() => readdirSync(layout.runnerTemp).length === 0, "the killed runner's folder is removed", 60_000);
    assert.deepEqual(processesWith('environ', `TMPDIR=${join(layout.runnerTemp, folder)}`), [], 'nothing of that runner runs on');
  } finally {
    await client.close();
  }
});

test("a worker killed while its runner starts Spark: the next worker's runner serves, and the orphaned runner ends and leaves nothing", async () => {
  // The killed worker's runner goes on starting, then finds its parent gone and ends. The next start in
  // the work dir must not take its folder from under it: its JVM could not write its connection file
  // there and would run on for good, and the runner with it, waiting for that file.
  const layout = layoutOf(join(work, 'orphaned-at-start'));
  const clientModule = join(__dirname, '../../src/local/runner/client.js');
  const pathsModule = join(__dirname, '../../src/local/paths.js');
  const worker = spawn(process.execPath, ['-e', `new (require(${JSON.stringify(clientModule)}).RunnerClient)(require(${JSON.stringify(pathsModule)}).layoutOf(${JSON.stringify(layout.root)}), { startTimeoutMs: 240000 }).ensure().catch(() => {}); setInterval(() => {}, 1000);`], { stdio: 'ignore' });
  const runnerProcesses = () => processesWith('environ', `TMPDIR=${layout.runnerTemp}/`);
  const jvmOfRunner = () => processesWith('environ', `_PYSPARK_DRIVER_CONN_INFO_PATH=${layout.runnerTemp}/`);
  try {
    await waitUntil(() => jvmOfRunner().length > 0, "the killed worker's runner has started its JVM", 240_000);
  } finally {
    worker.kill('SIGKILL');
  }
  // Gone for good, as a service manager finds it before it starts the next worker (not a zombie that still holds its pid).
  if (worker.exitCode === null && worker.signalCode === null) await new Promise((resolve) => worker.once('exit', resolve));
  const client = new RunnerClient(layout, { startTimeoutMs: 240_000 });
  try {
    const health = await client.call<{ instance: string }>('GET', '/health', undefined, 60_000);
    assert.ok(health.instance, 'a runner served the next worker');
  } finally {
    await client.close();
  }
  await waitUntil(() => runnerProcesses().length === 0, "every runner of the work dir and its JVM have ended", 180_000);
  // What the orphaned runner left goes at a later start, now that its processes have ended.
  removeOrphanedRunnerTempDirs(layout);
  assert.deepEqual(readdirSync(layout.runnerTemp), []);
});

test('closing while the runner is still starting stops it at once, not once Spark is up', { timeout: 60_000 }, async () => {
  // A start that hangs for good (a JVM that never comes up), its own start timeout out of reach: close()
  // ends at all only if it stops the start rather than wait for it.
  const marker = `hanging-runner-${randomUUID()}`;
  const hanging = join(work, 'hanging-python');
  writeFileSync(hanging, `#!/bin/bash\nexec -a ${marker} sleep infinity\n`, { mode: 0o755 });
  after(() => {
    for (const pid of processesWith('cmdline', marker)) process.kill(pid, 'SIGKILL');
  });
  const client = new RunnerClient(layoutOf(join(work, 'starting')), { startTimeoutMs: 3_600_000 });
  await withEnv({ LAKESYNC_PYTHON: hanging }, async () => {
    const starting = client.ensure();
    starting.catch(() => undefined);
    await waitUntil(() => processesWith('cmdline', marker).length > 0, 'the hanging runner has started', 30_000);
    await client.close();
    assert.deepEqual(processesWith('cmdline', marker), [], 'the starting runner is stopped');
    await assert.rejects(starting, /load runner/);
  });
});

test('calls after close are refused', async () => {
  const client = new RunnerClient(layoutOf(join(work, 'c')));
  await client.close();
  await assert.rejects(client.ensure(), /closed/);
});

test('closing while the client checks another process\'s runner starts no runner afterwards', async () => {
  // runner.json names a live process whose runner answers its health check slowly (then wrongly).
  const layout = layoutOf(join(work, 'closing-attach'));
  const server = createServer((_req, res) => void delay(500).then(() => res.writeHead(500).end('{}')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  mkdirSync(layout.root, { recursive: true });
  writeFileSync(layout.runnerInfo, JSON.stringify({ pid: process.pid, port, token: 't'.repeat(32), instance: 'other', warehouse: layout.warehouse }));
  const started = join(work, 'closing-attach-started');
  const python = join(work, 'closing-attach-python');
  writeFileSync(python, `#!/bin/sh\ntouch '${started}'\nexec sleep 300\n`, { mode: 0o755 });
  const client = new RunnerClient(layout, { startTimeoutMs: 3_000 });
  try {
    await withEnv({ LAKESYNC_PYTHON: python }, async () => {
      const ensured = client.ensure();
      ensured.catch(() => undefined);
      await delay(100);
      await client.close();
      await assert.rejects(ensured, /closed/);
    });
    assert.equal(existsSync(started), false, 'no runner was started by the closed client');
    assert.equal(client.ownsRunner, false);
  } finally {
    server.close();
  }
});

test("the runner's log stays bounded while the runner runs: past its limit its lines move to runner.log.1 and the runner writes on at the start", async () => {
  // A live runner of another process (this one stands for it), writing its log through an appending descriptor as the real one does.
  const layout = layoutOf(join(work, 'log-bound'));
  const server = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.url === '/health' ? { instance: 'live' } : {})));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  mkdirSync(layout.root, { recursive: true });
  writeFileSync(layout.runnerInfo, JSON.stringify({ pid: process.pid, port, token: 't'.repeat(32), instance: 'live', warehouse: layout.warehouse }));
  const fd = openSync(layout.runnerLog, 'a');
  const client = new RunnerClient(layout, { logMaxBytes: 10_000 });
  try {
    const line = `${'x'.repeat(99)}\n`;
    // Loads of many cycles, each logging a few lines, each handed to the runner with a call.
    for (let load = 0; load < 500; load++) {
      for (let i = 0; i < 10; i++) writeSync(fd, line);
      await client.call('POST', '/loads', {});
    }
    writeSync(fd, 'the newest line\n');
    const size = statSync(layout.runnerLog).size;
    assert.ok(size <= 10_000 + 1_100, `runner.log is ${size} bytes after 500 KB of lines`);
    assert.ok(statSync(`${layout.runnerLog}.1`).size <= 10_000 + 1_100);
    assert.match(readFileSync(layout.runnerLog, 'utf8'), /^x+\n(x+\n)*the newest line\n$/, 'the runner writes on at the start of the file, with no hole');
  } finally {
    closeSync(fd);
    await client.close();
    server.close();
  }
});
