/**
 * Each load runner's temporary folder (its TMPDIR) lives under its work dir and goes when the
 * runner ends, however it ends; folders whose client process ended first go at the next start.
 * Stand-in runners (shell scripts) take Spark's place; runner-start.test.ts kills a real one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { layoutOf } from '../../src/local/paths';
import { RunnerClient } from '../../src/local/runner/client';
import { newRunnerTempDir, recordRunnerGroup, removeOrphanedRunnerTempDirs } from '../../src/local/runner/temp-dir';
import { THIS_PROCESS } from '../../src/local/process-identity';
import { withEnv } from '../helpers/with-env';
import { standIn } from '../helpers/stand-in';
import { tempDir } from '../helpers/temp-dir';

const work = tempDir('lakesync-runner-temp-');

/** A pid no process has now: a process that has ended. */
function endedPid(): number {
  const { pid } = spawnSync('true');
  assert.ok(pid);
  return pid;
}

test('a runner killed while it starts leaves nothing: its temporary folder, with what it wrote there, goes', async () => {
  const layout = layoutOf(join(work, 'killed'));
  const seen = join(work, 'killed-tmpdir');
  // Writes into its TMPDIR, as PySpark does for the JVM's connection file, then dies as a kill -9 would end it.
  const python = standIn(work, 'python-killed', `echo "$TMPDIR" > '${seen}'\nmkdir "$TMPDIR/tmpconn" && echo port > "$TMPDIR/tmpconn/conn.info"\nkill -9 $$`).path;
  const client = new RunnerClient(layout, { startTimeoutMs: 20_000 });
  try {
    await withEnv({ LAKESYNC_PYTHON: python }, () => assert.rejects(client.ensure(), /was ended by SIGKILL before it was ready/));
  } finally {
    await client.close();
  }
  const given = readFileSync(seen, 'utf8').trim();
  assert.equal(dirname(given), layout.runnerTemp, 'the runner was given a folder of its own under its work dir');
  assert.equal(existsSync(given), false, `${given} is gone`);
  assert.deepEqual(readdirSync(layout.runnerTemp), []);
});

test('a runner that does not start in time is killed, and its temporary folder goes with it', async () => {
  const layout = layoutOf(join(work, 'slow'));
  const seen = join(work, 'slow-tmpdir');
  const python = standIn(work, 'python-slow', `echo "$TMPDIR" > '${seen}'\ntouch "$TMPDIR/left"\nexec sleep 300`).path;
  const client = new RunnerClient(layout, { startTimeoutMs: 1_000 });
  try {
    await withEnv({ LAKESYNC_PYTHON: python }, () => assert.rejects(client.ensure(), /did not start within 1 s/));
  } finally {
    await client.close();
  }
  assert.equal(existsSync(readFileSync(seen, 'utf8').trim()), false);
  assert.deepEqual(readdirSync(layout.runnerTemp), []);
});

test('a runner that cannot be started at all leaves no folder', async () => {
  const layout = layoutOf(join(work, 'no-python'));
  const client = new RunnerClient(layout);
  await withEnv({ LAKESYNC_PYTHON: join(work, 'no-such-python') }, () => assert.rejects(client.ensure(), /ENOENT/));
  await client.close();
  assert.deepEqual(readdirSync(layout.runnerTemp), []);
});

test('a start removes the folders whose client process has ended, and keeps those of live clients', () => {
  const layout = layoutOf(join(work, 'orphans'));
  const ended = newRunnerTempDir(layout, { pid: endedPid(), started: 'boot/1' });
  writeFileSync(join(ended, 'conn.info'), 'left by a runner whose worker was killed');
  // This pid, but a process that started at another time: the pid was reused (after a reboot).
  const reused = newRunnerTempDir(layout, { pid: process.pid, started: 'another-boot/1' });
  const live = newRunnerTempDir(layout, THIS_PROCESS);
  writeFileSync(join(live, 'in-use'), 'a live runner of this process');
  const foreign = join(layout.runnerTemp, 'not-a-runner-folder');
  mkdirSync(foreign);

  const removed = removeOrphanedRunnerTempDirs(layout).sort();
  assert.deepEqual(removed, [ended, foreign, reused].sort());
  assert.deepEqual(readdirSync(layout.runnerTemp), [live.slice(layout.runnerTemp.length + 1)]);
  assert.equal(readFileSync(join(live, 'in-use'), 'utf8'), 'a live runner of this process');
});

test("a folder whose client ended stays while its runner's processes run (a runner still starting Spark needs it), and goes once they have ended", async () => {
  const layout = layoutOf(join(work, 'orphaned-runner'));
  const dir = newRunnerTempDir(layout, { pid: endedPid() });
  // A runner that outlived its client: a process group of its own, as the client starts it.
  const runner = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  try {
    assert.equal(recordRunnerGroup(dir, runner.pid!), undefined);
    assert.deepEqual(removeOrphanedRunnerTempDirs(layout), []);
    assert.equal(existsSync(dir), true, 'kept while the runner runs');
  } finally {
    process.kill(-runner.pid!, 'SIGKILL');
    await new Promise((resolve) => runner.once('exit', resolve));
  }
  assert.deepEqual(removeOrphanedRunnerTempDirs(layout), [dir]);
});

test('the orphaned folders go when a runner starts in the work dir', async () => {
  const layout = layoutOf(join(work, 'next-start'));
  const ended = newRunnerTempDir(layout, { pid: endedPid() });
  const python = standIn(work, 'python-exits', 'exit 3').path;
  const client = new RunnerClient(layout, { startTimeoutMs: 20_000 });
  try {
    await withEnv({ LAKESYNC_PYTHON: python }, () => assert.rejects(client.ensure(), /exited with code 3/));
  } finally {
    await client.close();
  }
  assert.equal(existsSync(ended), false, 'the folder of a client that had ended was removed');
  assert.deepEqual(readdirSync(layout.runnerTemp), []);
});
