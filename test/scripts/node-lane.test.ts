/**
 * scripts/lib/node-lane.sh: node's test runner over a lane's files. Attacked with a test file that
 * leaves a process holding its output, which keeps node's runner from ever exiting on its own.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../src/toolchain';

const ROOT = repoRoot();
const FIXTURES = join(ROOT, 'dist', 'test', 'fixtures', 'lanes');
const LIBS = ['node-lane.sh', 'process-group.sh'].map((f) => `source ${JSON.stringify(join(ROOT, 'scripts', 'lib', f))}`).join('\n');

/** Runs one lane the way scripts/test.sh does; fails instead of hanging if the output stays open. */
function runLane(results: string, files: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string; seconds: number }> {
  const script = `${LIBS}\nlane() { node_lane ${JSON.stringify(results)} node-test ${files.map((f) => JSON.stringify(f)).join(' ')}; }\nstart_in_group lane\nwait_for_group 'the test lane' $! $((SECONDS + 120))`;
  const started = Date.now();
  // Without NODE_TEST_CONTEXT, which would make the inner runner report to this one instead of its files.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const child = spawn('bash', ['-c', script], { cwd: ROOT, env: { ...outer, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lane's output was still open after 150 s; stderr: ${stderr}`)), 150_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

function summary(tap: string, key: string): number | undefined {
  const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap);
  return m ? Number(m[1]) : undefined;
}

function running(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('node_lane', () => {
  const results = mkdtempSync(join(tmpdir(), 'lakesync-lane-'));
  after(() => rmSync(results, { recursive: true, force: true }));

  it('a file that leaves a process holding its output is cancelled, the runner stopped, the process named and stopped', async () => {
    const marker = `leak-${randomUUID()}`;
    const leaky = join(FIXTURES, 'leaky-test-file.js');
    const run = await runLane(results, [leaky], { LEAK_MARKER: marker, TEST_TIMEOUT_MS: '5000', EXIT_GRACE_SECONDS: '3' });
    const tap = readFileSync(join(results, 'node-test.tap'), 'utf8');
    assert.equal(summary(tap, 'cancelled'), 1, tap);
    assert.notEqual(readFileSync(join(results, 'node-test.rc'), 'utf8').trim(), '0');
    assert.match(run.stderr, /node's test runner \(node-test\) reported its results but had not exited 3 s later: a test left a process holding its output/);
    assert.match(run.stderr, new RegExp(`the test lane left these processes running; they are stopped now:\\n.*leaky-test-file\\.js child ${marker}`));
    assert.ok(run.seconds < 60, `the lane took ${run.seconds} s`);
    assert.deepEqual(running(marker), []);
  });

  it('clean files: their report, status 0, nothing said about leftovers', async () => {
    const run = await runLane(results, [join(FIXTURES, 'passing-test-file.js')], { EXIT_GRACE_SECONDS: '3' });
    const tap = readFileSync(join(results, 'node-test.tap'), 'utf8');
    assert.equal(summary(tap, 'pass'), 2, tap);
    assert.equal(summary(tap, 'fail'), 0);
    assert.equal(readFileSync(join(results, 'node-test.rc'), 'utf8').trim(), '0');
    assert.doesNotMatch(run.stderr, /left these processes|had not exited/);
  });
});
