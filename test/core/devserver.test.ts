/**
 * The dev server's process ended by a signal (say the OOM killer, or a `kill` from a shell):
 * stopping it returns at once and restarting it brings it back on the same port and database,
 * instead of waiting forever for an exit that has already happened. A server killed while it
 * starts fails its start at once, saying so (a stand-in executable that kills itself).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { startDevServer } from '../../src/devserver';
import { startEmbeddedDynamo } from '../../src/local/dynamodb/moto-server';
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

/** An executable that ends itself with SIGKILL, in place of a server binary or Python. */
function selfKilling(): string {
  const path = join(dir, 'killed-at-start');
  writeFileSync(path, '#!/bin/sh\nkill -9 $$\n');
  chmodSync(path, 0o755);
  return path;
}

test('a dev server or embedded DynamoDB killed while starting fails at once, naming the signal', async () => {
  await within(20_000, 'the start of a dev server that was killed', assert.rejects(startDevServer({ dbFile: join(dir, 'killed.db'), binary: selfKilling() }), /the Temporal dev server was ended by SIGKILL before it was ready/));
  await within(20_000, 'the start of a moto server that was killed', assert.rejects(startEmbeddedDynamo({ python: selfKilling() }), /the embedded DynamoDB \(moto server\) was ended by SIGKILL/));
});
