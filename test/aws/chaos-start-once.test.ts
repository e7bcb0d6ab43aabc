/**
 * A replay of a moment the chaos run (`npm run chaos`, bench/chaos) found: seed 7 of the AWS path,
 * cycle 2, the answer to a Glue StartJobRun lost after Glue had started the run (the connection
 * reset on the way back, fault `reset-after` at StartJobRun #47). The SDK sent the call again and
 * the table was loaded by two runs. Here the first StartJobRun of a cycle loses its answer the
 * same way, on moto server behind the chaos proxy; every table must be loaded by one run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAwsChaos } from '../../bench/chaos/aws';

test('seed 7: a StartJobRun whose answer is lost after Glue started the run is not sent again; the load attaches to that run', { timeout: 300_000 }, async () => {
  const lines: string[] = [];
  const figures = await runAwsChaos({
    seed: 7,
    kills: 0,
    faultRate: 0,
    cycles: 1,
    tables: 3,
    cycleTimeoutMs: 240_000,
    log: (line) => lines.push(line),
    plan: [],
    forcedFaults: { 'glue.StartJobRun#0': 'reset-after' },
  });
  const cycle = figures.cycles[0]!;
  assert.equal(figures.faults?.byKind['reset-after'], 1, 'the first StartJobRun lost its answer');
  assert.equal(cycle.status, 'succeeded', `${cycle.error ?? ''}\n${lines.join('\n')}`);
  for (const [table, t] of Object.entries(cycle.tables)) {
    assert.equal(t.startJobRuns, 1, `${table} was loaded by one Glue run`);
    assert.equal(t.snapshots, 1, `${table} has one Iceberg snapshot from the cycle`);
  }
  assert.deepEqual(figures.problems, []);
});

test('a StartJobRun that Glue refused (throttled) is still sent again by the SDK: one run per table', { timeout: 300_000 }, async () => {
  const lines: string[] = [];
  const figures = await runAwsChaos({
    seed: 7,
    kills: 0,
    faultRate: 0,
    cycles: 1,
    tables: 2,
    cycleTimeoutMs: 240_000,
    log: (line) => lines.push(line),
    plan: [],
    forcedFaults: { 'glue.StartJobRun#0': 'throttle' },
  });
  const cycle = figures.cycles[0]!;
  assert.equal(figures.faults?.byKind.throttle, 1, 'the first StartJobRun was throttled');
  assert.equal(cycle.status, 'succeeded', `${cycle.error ?? ''}\n${lines.join('\n')}`);
  for (const [table, t] of Object.entries(cycle.tables)) assert.equal(t.startJobRuns, 1, `${table} was loaded by one Glue run`);
  assert.deepEqual(figures.problems, []);
});
