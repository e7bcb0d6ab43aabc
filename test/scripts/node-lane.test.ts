/**
 * scripts/lib/node-lane.sh: node's test runner over a lane's files. Attacked with a test file that
 * leaves a process holding its output, which keeps node's runner from ever exiting on its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type BashRun, ROOT, runBash, running, sourceLibs } from './helpers';

const FIXTURES = join(ROOT, 'dist', 'test', 'fixtures', 'lanes');

/** Runs one lane the way scripts/test.sh does. */
function runLane(results: string, files: string[], env: Record<string, string>): Promise<BashRun> {
  const lane = `lane() { node_lane ${JSON.stringify(results)} node-test ${files.map((f) => JSON.stringify(f)).join(' ')}; }`;
  return runBash(`${sourceLibs('node-lane.sh', 'process-group.sh')}\n${lane}\nstart_in_group lane\nwait_for_group 'the test lane' $! $((SECONDS + 120))\necho "lane status $?"`, 150_000, env);
}

function summary(tap: string, key: string): number | undefined {
  const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap);
  return m ? Number(m[1]) : undefined;
}

describe('node_lane', () => {
  const results = mkdtempSync(join(tmpdir(), 'lakesync-lane-'));
  after(() => rmSync(results, { recursive: true, force: true }));

  it('a file that leaves a process holding its output is cancelled, the runner stopped, the process named and stopped', async () => {
    const marker = `leak-${randomUUID()}`;
    const leaky = join(FIXTURES, 'leaky-test-file.js');
    const run = await runLane(results, [leaky], { LEAK_MARKER: marker, TEST_TIMEOUT_MS: '5000', EXIT_GRACE_SECONDS: '3' });
    // The leaked process never ends by itself: the lane ends (status 0) only because node_lane stopped
    // the runner after its grace; waiting on it, the lane would be stopped at its deadline (status 124).
    assert.match(run.stdout, /^lane status 0\n$/m, `the lane ended by itself, not at its deadline: ${run.stderr}`);
    const tap = readFileSync(join(results, 'node-test.tap'), 'utf8');
    assert.equal(summary(tap, 'cancelled'), 1, tap);
    assert.notEqual(readFileSync(join(results, 'node-test.rc'), 'utf8').trim(), '0');
    assert.match(run.stderr, /node's test runner \(node-test\) reported its results but had not exited 3 s later: a test left a process holding its output/);
    assert.match(run.stderr, new RegExp(`the test lane left these processes running; they are stopped now:\\n.*leaky-test-file\\.js child ${marker}`));
    assert.deepEqual(running(marker), []);
  });

  it('clean files: their report, status 0, nothing said about leftovers', async () => {
    const run = await runLane(results, [join(FIXTURES, 'passing-test-file.js')], { EXIT_GRACE_SECONDS: '3' });
    const tap = readFileSync(join(results, 'node-test.tap'), 'utf8');
    assert.equal(summary(tap, 'pass'), 2, tap);
    assert.equal(summary(tap, 'fail'), 0);
    assert.equal(readFileSync(join(results, 'node-test.rc'), 'utf8').trim(), '0');
    assert.doesNotMatch(run.stderr, /left these processes|had not exited/);
    assert.match(run.stdout, /^lane status 0\n$/m);
  });
});
