/**
 * A replay of a moment the chaos run (`npm run chaos`, bench/chaos) found: seed 22 of the AWS path,
 * cycle 3, public.t_05 loaded by two Glue runs. The load's start phase (GetJobRuns lookups, then
 * StartJobRun, each slowed by faults) outlasted the heartbeat timeout before the load had a run
 * to heartbeat about, so Temporal ran a second attempt beside the first; the second found no run
 * yet and started one, then the first's StartJobRun landed too. Here the same three calls of a
 * one-table cycle each take 5 s (the chaos config's heartbeat timeout is 10 s), on moto server
 * behind the chaos proxy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAwsChaos } from '../../bench/chaos/aws';

test('seed 22: a load whose start outlasts the heartbeat timeout keeps heartbeating; one Glue run', { timeout: 300_000 }, async () => {
  const lines: string[] = [];
  const figures = await runAwsChaos({
    seed: 22,
    kills: 0,
    faultRate: 0,
    cycles: 1,
    tables: 1,
    cycleTimeoutMs: 240_000,
    log: (line) => lines.push(line),
    plan: [],
    forcedFaults: { 'glue.GetJobRuns#0': 'delay', 'glue.GetJobRuns#1': 'delay', 'glue.StartJobRun#0': 'delay' },
  });
  const cycle = figures.cycles[0]!;
  assert.equal(figures.faults?.byKind.delay, 3, 'the lookups and the start were slowed');
  const t = cycle.tables['public.t_01']!;
  assert.deepEqual(t.runStates, ['SUCCEEDED'], 'one Glue run');
  assert.equal(t.snapshots, 1);
  assert.equal(cycle.status, 'succeeded', `${JSON.stringify(cycle.failed)}\n${lines.join('\n')}`);
  assert.deepEqual(figures.problems, []);
});
