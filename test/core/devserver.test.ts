/**
 * The dev server's process ended by a signal (say the OOM killer, or a `kill` from a shell):
 * stopping it returns at once and restarting it brings it back on the same port and database,
 * instead of waiting forever for an exit that has already happened.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { startDevServer } from '../../src/devserver';
import { processAlive } from '../../src/local/files';
import { within } from '../helpers/within';

const dir = mkdtempSync(join(tmpdir(), 'lakesync-devserver-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a dev server killed by a signal stops at once and restarts on its port and database', async () => {
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db') });
  try {
    const first = server.pid!;
    process.kill(first, 'SIGKILL');
    while (processAlive(first)) await delay(20);
    await delay(200); // the exit has reached this process
    await within(10_000, 'stop() of a dev server that had been killed', server.stop());

    await within(90_000, 'restart() of a dev server that had been killed', server.restart());
    assert.notEqual(server.pid, first);
    const connection = await Connection.connect({ address: server.address });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion, 'the restarted server answers');
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
});
