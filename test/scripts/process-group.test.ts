/**
 * scripts/lib/process-group.sh, which keeps a test lane from stalling the run: attacked with a
 * command that leaks a child holding its output, one that never ends and one that ignores SIGTERM.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { type BashRun, runBash, running, sourceLibs } from './helpers';

/** Runs a bash script with the library sourced. */
function withGroups(script: string): Promise<BashRun> {
  return runBash(`${sourceLibs('process-group.sh')}\n${script}`, 60_000);
}

/** Kills what a failed run left (the script and its sleep: their command lines hold the test's marker). */
function stop(pids: string[]): void {
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
}

/** A sleep that only this test runs: its made-up duration marks it for pgrep. */
function uniqueSleep(): string {
  return `sleep 600.${randomInt(1e9)}`;
}

describe('test lanes in process groups', () => {
  it('a command that leaks a child holding its output: the child is named, stopped, and the output closes', async () => {
    // The child never ends by itself, and the lane's deadline lies past the script's time limit: the
    // output closes only when the lane stops the child once its command has ended.
    const marker = `leaked-${randomInt(1e9)}`;
    try {
      const run = await withGroups(`start_in_group bash -c 'exec -a ${marker} sleep infinity & echo started'\nwait_for_group 'the leaky lane' $! $((SECONDS + 120))\necho "status $?"`);
      assert.equal(run.stdout, 'started\nstatus 0\n');
      assert.match(run.stderr, new RegExp(`^the leaky lane left these processes running; they are stopped now:\\n {2}\\d+ ${marker} infinity\\n$`));
      assert.deepEqual(running(marker), []);
    } finally {
      stop(running(marker));
    }
  });

  it('a child that ends by itself within seconds of its lane (a JVM after its Python driver) is not reported', async () => {
    const run = await withGroups(`start_in_group bash -c 'sleep 2.${randomInt(1e9)} & echo started'\nwait_for_group 'the lane' $! $((SECONDS + 120))\necho "status $?"`);
    assert.equal(run.stdout, 'started\nstatus 0\n');
    assert.equal(run.stderr, '');
  });

  it('a command still running at its deadline is stopped with all it started, and returns 124', async () => {
    const sleep = uniqueSleep();
    const run = await withGroups(`start_in_group bash -c '${sleep} & wait'\nwait_for_group 'the hung lane' $! $((SECONDS + 2))\necho "status $?"`);
    assert.equal(run.stdout, 'status 124\n');
    assert.match(run.stderr, /^the hung lane was still running at its time limit: stopping it and every process it started\n/);
    assert.deepEqual(running(sleep), []);
  });

  it('a process that ignores SIGTERM is killed', async () => {
    const sleep = uniqueSleep();
    // An ignored signal stays ignored across exec, so the sleep ignores SIGTERM too.
    const run = await withGroups(`start_in_group bash -c 'trap "" TERM; ${sleep}'\nwait_for_group 'the stubborn lane' $! $((SECONDS + 2))\necho "status $?"`);
    assert.equal(run.stdout, 'status 124\n');
    assert.deepEqual(running(sleep), []);
  });

  it('the exit status of a shell function passes through; a clean command leaves nothing to report', async () => {
    const run = await withGroups(`lane() { echo "in lane $1"; return 7; }\nstart_in_group lane one\nwait_for_group "the failing lane" $! $((SECONDS + 60))\necho "status $?"`);
    assert.equal(run.stdout, 'in lane one\nstatus 7\n');
    assert.equal(run.stderr, '');
  });

  it('a lane runs in a process group of its own, apart from the script that started it', async () => {
    const run = await withGroups(`start_in_group bash -c 'ps -o pgid= $$'\ngroup=$!\nwait_for_group "the lane" $group $((SECONDS + 60))\necho "lane $group script $(ps -o pgid= $$)"`);
    const [inner, , lane, , script] = run.stdout.trim().split(/\s+/);
    assert.equal(inner, lane, 'the lane leads its own group');
    assert.notEqual(lane, script);
  });
});
