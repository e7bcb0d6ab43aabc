/**
 * scripts/lib/process-group.sh, which keeps a test lane from stalling the run: attacked with a
 * command that leaks a child holding its output, one that never ends and one that ignores SIGTERM.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../src/toolchain';

const LIB = join(repoRoot(), 'scripts', 'lib', 'process-group.sh');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs a bash script that sources the library, and resolves once its output closes, which a leaked
 * process holding that output would prevent: then the run fails after `limitMs` instead of hanging.
 */
function runBash(script: string, limitMs = 60_000): Promise<Run> {
  const started = Date.now();
  const child = spawn('bash', ['-c', `source ${JSON.stringify(LIB)}\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the script's output was still open after ${limitMs} ms; stdout: ${stdout}; stderr: ${stderr}`)), limitMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** Processes whose command line holds `marker`. */
function running(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** A sleep that only this test runs: its made-up duration marks it for pgrep. */
function uniqueSleep(): string {
  return `sleep 600.${randomInt(1e9)}`;
}

describe('test lanes in process groups', () => {
  it('a command that leaks a child holding its output: the child is named, stopped, and the output closes', async () => {
    const sleep = uniqueSleep();
    const run = await runBash(`start_in_group bash -c '${sleep} & echo started'\nwait_for_group 'the leaky lane' $! $((SECONDS + 120))\necho "status $?"`);
    assert.equal(run.stdout, 'started\nstatus 0\n');
    assert.match(run.stderr, new RegExp(`^the leaky lane left these processes running; they are stopped now:\\n {2}\\d+ ${sleep.replace('.', '\\.')}\\n$`));
    assert.ok(run.seconds < 30, `it ended in ${run.seconds} s`);
    assert.deepEqual(running(sleep), []);
  });

  it('a command still running at its deadline is stopped with all it started, and returns 124', async () => {
    const sleep = uniqueSleep();
    const run = await runBash(`start_in_group bash -c '${sleep} & wait'\nwait_for_group 'the hung lane' $! $((SECONDS + 2))\necho "status $?"`);
    assert.equal(run.stdout, 'status 124\n');
    assert.match(run.stderr, /^the hung lane was still running at its time limit: stopping it and every process it started\n/);
    assert.deepEqual(running(sleep), []);
  });

  it('a process that ignores SIGTERM is killed', async () => {
    const sleep = uniqueSleep();
    // An ignored signal stays ignored across exec, so the sleep ignores SIGTERM too.
    const run = await runBash(`start_in_group bash -c 'trap "" TERM; ${sleep}'\nwait_for_group 'the stubborn lane' $! $((SECONDS + 2))\necho "status $?"`);
    assert.equal(run.stdout, 'status 124\n');
    assert.deepEqual(running(sleep), []);
  });

  it('the exit status of a shell function passes through; a clean command leaves nothing to report', async () => {
    const run = await runBash(`lane() { echo "in lane $1"; return 7; }\nstart_in_group lane one\nwait_for_group "the failing lane" $! $((SECONDS + 60))\necho "status $?"`);
    assert.equal(run.stdout, 'in lane one\nstatus 7\n');
    assert.equal(run.stderr, '');
  });

  it('a lane runs in a process group of its own, apart from the script that started it', async () => {
    const run = await runBash(`start_in_group bash -c 'ps -o pgid= $$'\ngroup=$!\nwait_for_group "the lane" $group $((SECONDS + 60))\necho "lane $group script $(ps -o pgid= $$)"`);
    const [inner, , lane, , script] = run.stdout.trim().split(/\s+/);
    assert.equal(inner, lane, 'the lane leads its own group');
    assert.notEqual(lane, script);
  });
});
