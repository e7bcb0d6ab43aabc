/**
 * `lakesync schedule trigger` when the schedule cannot be described after the trigger was sent,
 * against a real Temporal dev server: the trigger is taken, and the command says so and that its
 * outcome is unknown, without failing (a caller would trigger again and start a second action).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type ScheduleHandle } from '@temporalio/client';
import { triggerSchedule } from '../../src/cli/commands/schedule';
import { loadConfigFile } from '../../src/config/load';
import { temporalTarget } from '../../src/temporal';
import { startTestServer, type TestServer } from '../helpers/env';
import { eventually, fakeConfig, runCli, tempDir, writeConfig } from './helpers';

/** The client, whose schedule handles fail every describe once a trigger was sent through them. */
function describeFailsAfterTrigger(client: Client): Client {
  const schedule = new Proxy(client.schedule, {
    get(target, prop, receiver) {
      if (prop !== 'getHandle') return Reflect.get(target, prop, receiver);
      return (id: string) => {
        const handle = target.getHandle(id);
        let triggered = false;
        return new Proxy(handle, {
          get(h, p, r) {
            if (p === 'trigger') return async (...args: Parameters<ScheduleHandle['trigger']>) => ((triggered = true), h.trigger(...args));
            if (p === 'describe') return async () => (triggered ? Promise.reject(new Error('14 UNAVAILABLE: connection refused')) : h.describe());
            return Reflect.get(h, p, r);
          },
        });
      };
    },
  });
  return new Proxy(client, { get: (c, p, r) => (p === 'schedule' ? schedule : Reflect.get(c, p, r)) });
}

describe('schedule trigger whose outcome cannot be read', () => {
  const tmp = tempDir('schedule-trigger');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  let env: TestServer | undefined;
  let client: Client | undefined;

  before(async () => {
    env = await startTestServer();
    // No worker polls this queue: the trigger workflow the action starts stays running, which is enough here.
    writeConfig(configFile, fakeConfig(env.server.address, 'cli-schedule-trigger', { shop: { source: { kind: 'fake', tables: 1 } } }));
    const created = await runCli(['schedule', 'create', 'shop', '--every', '1d', '--config', configFile]);
    assert.equal(created.code, 0, created.stderr);
    client = new Client({ connection: await Connection.connect({ address: env.server.address }) });
  });

  after(async () => {
    await client?.connection.close();
    await env?.close();
    tmp.remove();
  });

  it('says the trigger was sent and its outcome could not be read, does not fail, and tells not to trigger again', async () => {
    let out = '';
    const conn = { client: describeFailsAfterTrigger(client!), target: temporalTarget(loadConfigFile(configFile)) };
    await triggerSchedule(conn, { write: (s: string) => (out += s) }, 'shop', 'lakesync/shop/sync', { name: 'sync' });
    assert.match(out, /schedule lakesync\/shop\/sync: trigger sent, but what the schedule did with it could not be read \(14 UNAVAILABLE: connection refused\)/);
    assert.match(out, /do not trigger again/);
    assert.match(out, /lakesync schedule describe shop --name sync/);
    // The trigger was taken, once.
    const taken = await eventually('the triggered action', async () => {
      const n = (await client!.schedule.getHandle('lakesync/shop/sync').describe()).info.numActionsTaken;
      return n > 0 ? n : undefined;
    });
    assert.equal(taken, 1);
  });
});
