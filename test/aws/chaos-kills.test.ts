/**
 * Replays of moments the chaos run (`npm run chaos`, bench/chaos) found: the worker killed
 * (SIGKILL) while a short step's activity waits on AWS. Temporal learns of a dead worker only
 * through a heartbeat timeout; before short steps heartbeated, each such kill stalled the cycle
 * for the step's whole start-to-close timeout (10 minutes). Seed 7 of the AWS path: kill 1 at
 * the snapshot wait (RDS DescribeDBSnapshots #0) and kill 4 at the cycle's first Lake Formation
 * call (the moment named load-grant; the namespace is prepared before any load now, so it lands
 * there). The cycle's histories show how each killed attempt ended. moto server plays AWS behind
 * the chaos proxy, without faults.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAwsChaos } from '../../bench/chaos/aws';
import type { Moment } from '../../bench/chaos/kills';

async function replay(moment: Moment) {
  const lines: string[] = [];
  const figures = await runAwsChaos({
    seed: 7,
    kills: 1,
    faultRate: 0,
    cycles: 1,
    tables: 3,
    cycleTimeoutMs: 240_000,
    log: (line) => lines.push(line),
    plan: [{ id: 1, cycle: 1, moment, occurrence: 0, delayMs: 0, pauseMs: 500 }],
  });
  return { figures, lines };
}

for (const moment of ['snapshot', 'load-grant'] as const) {
  test(`seed 7: the worker killed at ${moment} while its activity waits on AWS; the step resumes through its heartbeat timeout`, { timeout: 300_000 }, async () => {
    const { figures, lines } = await replay(moment);
    const cycle = figures.cycles[0]!;
    assert.equal(figures.kills.length, 1, `one kill at ${moment}: ${lines.join('\n')}`);
    assert.equal(figures.kills[0]!.moment, moment);
    assert.equal(cycle.status, 'succeeded', `${cycle.error ?? ''}\n${lines.join('\n')}`);
    assert.deepEqual(figures.problems, []);
    // The cycle's histories: the attempt the kill ended timed out, on its heartbeat; no attempt waited out its start-to-close timeout.
    const timeouts = cycle.activityTimeouts ?? [];
    const shown = JSON.stringify(timeouts, null, 1);
    assert.ok(timeouts.length > 0, `the killed step's attempt timed out: ${shown}`);
    assert.deepEqual(timeouts.filter((t) => t.timeoutType !== 'HEARTBEAT'), [], `every timed-out attempt timed out on its heartbeat: ${shown}`);
  });
}
