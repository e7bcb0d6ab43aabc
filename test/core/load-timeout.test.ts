/**
 * A load whose run outlasts its time bound (timeouts.loadHours per attempt, retry.maximumAttempts
 * attempts) fails the table with an error that names it, the bound and what to change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeTableNames } from '../../src/fake/ports';
import { fakeConfig, startFakeWorker, startTestServer, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';
import { startSource, waitForCycles } from '../helpers/source';

const TABLES = fakeTableNames(2);
const [SLOW, QUICK] = [TABLES[0]!, TABLES[1]!];

describe('a load that outlasts its time bound', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('loadbound');
  before(async () => {
    env = await startTestServer();
    // Attempts of 3.6 s, two of them: the slow table's run (10 minutes) outlasts the load's bound.
    const config = fakeConfig(queue, { tables: 2 }, { timeouts: { loadHours: 0.001, heartbeatSeconds: 1, pollInitialSeconds: 1, pollMaximumSeconds: 1 }, retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 2 } }, 'loadbound');
    w = await startFakeWorker(config, { tables: 2, latencyMsByTable: { [SLOW]: 600_000, [QUICK]: 10 } });
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('fails the table with an error naming it, the bound, and what to change; the other table commits', async () => {
    const handle = await startSource(w.client, queue, 'loadbound');
    const s = await waitForCycles(handle, 1, 120_000);
    const byTable = Object.fromEntries(s.lastCycle!.tables.map((t) => [t.table, t]));
    assert.equal(byTable[QUICK]!.status, 'committed');
    const error = byTable[SLOW]!.error;
    assert.equal(byTable[SLOW]!.status, 'failed');
    assert.ok(error);
    assert.match(error.message, new RegExp(SLOW.replace('.', '\\.')), 'the message names the table');
    assert.match(error.message, /timeouts\.loadHours/, 'the message names the setting to raise');
    assert.match(error.message, /lakesync rerun loadbound --tables/, 'the message says how to rerun it');
    assert.equal(error.type, 'LoadTimedOut');
    assert.equal(s.failed[SLOW]?.message, error.message);
    assert.equal(w.backend.count(`load.start:${SLOW}`), 1, 'every attempt watched the one run');
  });
});
