/**
 * A pack run's DPU-seconds shared by its tables: each share is to a millionth, and the shares of
 * one run add up to the run's figure exactly, however many tables share it and whatever their
 * seconds (no millionth gained or lost to rounding), so the cost ledger's sums equal the runs'.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dpuShare, packRunShare } from '../../src/activities/load';
import type { LoadRunStatus } from '../../src/model';
import type { PackLoads } from '../../src/ports';

const millionths = (v: number) => Math.round(v * 1e6);

function shares(run: number, seconds: number[]): number[] {
  return seconds.map((_, i) => dpuShare(run, i, seconds)!);
}

test("the shares of a run add up to the run's DPU-seconds exactly, by the tables' seconds", () => {
  const cases: [number, number[]][] = [
    [100, [1, 1, 1]],
    [100, [1, 1, 1, 1, 1, 1, 1]],
    [1, [3, 3, 3]],
    [2831.7, [12.5, 0.3, 7.25, 101, 33.3, 0.001, 9]],
    [0.000001, [1, 1]],
  ];
  // Many tables of irregular seconds (deterministic).
  let x = 7;
  const many = Array.from({ length: 250 }, () => ((x = (x * 48271) % 2147483647) % 10_000) / 7);
  cases.push([123456.789, many]);
  for (const [run, seconds] of cases) {
    const got = shares(run, seconds);
    assert.equal(got.reduce((n, s) => n + millionths(s), 0), millionths(run), `${run} over ${seconds.length} tables: ${got.slice(0, 8).join(' + ')} ...`);
    for (const [i, s] of got.entries()) {
      assert.equal(s, millionths(s) / 1e6, `share ${i} is to a millionth`);
      assert.ok(s >= 0, `share ${i} is not negative`);
      const exact = (run * seconds[i]!) / seconds.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - exact) < 1e-6 + 1e-9, `share ${i} ${s} is within a millionth of ${exact}`);
    }
  }
});

test("a run whose tables took no seconds (or one without a summary) is shared evenly, and the shares add up to it", () => {
  for (const tables of [2, 3, 7, 11, 40]) {
    const got = shares(100, new Array<number>(tables).fill(0));
    assert.equal(got.reduce((n, s) => n + millionths(s), 0), millionths(100), `${tables} tables: ${got.join(' + ')}`);
    assert.ok(Math.max(...got) - Math.min(...got) <= 1e-6 + 1e-12, `even shares: ${got.join(', ')}`);
  }
});

test('no share without the run figure, or for a table the run does not list', () => {
  assert.equal(dpuShare(undefined, 0, [1, 2]), undefined);
  assert.equal(dpuShare(10, 0, []), undefined);
  assert.equal(dpuShare(10, 2, [1, 2]), undefined);
});

/**
 * A dead cycle's recovery books the runs it reads back: a pack run that wrote no summary is
 * shared evenly among the tables its pack file lists, each cut at its place in the file, so the
 * shares add up to the run as the live loads' do.
 */
test("a dead cycle's pack run without a summary: the tables' even shares, cut at their places in the pack file, add up to the run", async () => {
  // As the Glue backend's cycleRuns reads them back from the pack file (test/aws/glue.unit.test.ts).
  const tables = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((t, index, all) => ({ runToken: `c1:public.${t}`, pack: { token: 'c1-pack-1', tables: all.length, index } }));
  const packs = { summaryLocation: () => 's3://b/summary.json', readSummary: async () => undefined } as unknown as PackLoads;
  const status: LoadRunStatus = { runId: 'jr_1', state: 'failed', detail: 'TIMEOUT', dpuSeconds: 100 };
  let booked = 0;
  for (const t of tables) {
    const share = await packRunShare(packs, { source: 'shop', cycleId: 'c1', table: t.runToken.slice(3) }, t.pack, status, async () => undefined);
    booked += millionths(share.dpuSeconds!);
  }
  assert.equal(booked, millionths(100), 'the shares of the run add up to it');
});
