/**
 * Stopping the run of a cancelled cycle's pack is called with the heartbeat timeout of the short
 * steps: it heartbeats while it runs, so a slow stop (a throttled Glue call) is not taken for a
 * dead worker and timed out, attempt after attempt, while it works.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import type { Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';

const TABLES = ['public.a', 'public.b'];
// The activity heartbeats every third of the timeout (at least every 500 ms): with a 3 s timeout
// the beats come every second, so a test process stalled for up to 2 s still sees no silence as
// long as the timeout, while a stop with no heartbeats would be silent for 4.5 s.
const STOP_MS = 4_500;
const HEARTBEAT_TIMEOUT_MS = 3_000;

describe('stopPackLoad', () => {
  test('heartbeats while a slow stop runs', async () => {
    const config = parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });
    const base = new FakeBackend({ tables: TABLES, latencyMs: 0 }).ports();
    const planRef = await base.manifests.put('c1/plan.json', TABLES.map((t) => planEntry({ table: t, lakeTable: t.split('.')[1]!, action: 'create', primaryKey: ['id'], sizeGB: 0.001 })));
    let stopped: string | undefined;
    const ports: Ports = {
      ...base,
      load: {
        ...base.load,
        packs: base.load.packs,
        stopRun: async (runId: string) => {
          await delay(STOP_MS);
          stopped = runId;
        },
      },
    };
    const activities = createActivities({ config, searchAttributes: false, portsFor: () => ports }, () => Promise.reject(new Error('no client here')));
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const beats: number[] = [];
    const started = Date.now();
    env.on('heartbeat', () => beats.push(Date.now() - started));
    const answer = await env.run(activities.stopPackLoad, {
      source: 'shop',
      cycleId: 'c1',
      planRef,
      packToken: 'c1-pack-1',
      tables: TABLES,
      exportId: 'e1',
      snapshotTime: '2025-01-01T00:00:00.000Z',
      exportLocation: 'fake://exports/e1',
      database: 'shop',
      namespace: 'shop',
      runId: 'pack-run-1',
    });
    assert.deepEqual(answer, { runId: 'pack-run-1' });
    assert.equal(stopped, 'pack-run-1');
    // No silence as long as the heartbeat timeout while the stop ran.
    const gaps = [...beats, Date.now() - started].map((t, i, all) => t - (i === 0 ? 0 : all[i - 1]!));
    assert.ok(beats.length > 0 && Math.max(...gaps) < HEARTBEAT_TIMEOUT_MS, `heartbeats at ${JSON.stringify(beats)} ms of a ${STOP_MS} ms stop (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms)`);
  });
});
