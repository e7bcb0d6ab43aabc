/**
 * A worker reads each cycle's plan once for all of its loads, and keeps only the plans of the
 * cycles it runs now: a worker that runs for months does not hold every plan it ever read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planEntries } from '../../src/activities/load';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import { cycleManifestKeys } from '../../src/ids';
import { planEntry } from '../helpers/plan';

const TABLES = ['public.a', 'public.b'];
const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });

describe("the plans a worker's loads read", () => {
  test('one read per plan while its cycle runs; the plans of cycles long past are let go', async () => {
    const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
    const ports = backend.ports();
    const entryOf = planEntries({ config, portsFor: () => ports });
    const plans: string[] = [];
    for (let cycle = 1; cycle <= 200; cycle++) {
      plans.push(await ports.manifests.put(cycleManifestKeys.plan(`${cycle}-x`), TABLES.map((table) => planEntry({ table, lakeTable: table.slice(7), action: 'merge' }))));
    }
    const reads = () => backend.count('manifest.get');

    // The loads of one cycle share one read of its plan.
    const before = reads();
    for (const table of TABLES) assert.equal((await entryOf('shop', plans[0]!, table)).table, table);
    assert.equal(reads() - before, 1);

    // A worker that has since run 199 other cycles no longer holds the first one's plan: read again if ever asked.
    for (const plan of plans.slice(1)) await entryOf('shop', plan, 'public.a');
    const later = reads();
    await entryOf('shop', plans[0]!, 'public.b');
    assert.equal(reads() - later, 1, 'the plan of a cycle 199 cycles back was still held in memory');
    // The newest plans are still held.
    const last = reads();
    await entryOf('shop', plans.at(-1)!, 'public.b');
    assert.equal(reads() - last, 0);
  });
});
