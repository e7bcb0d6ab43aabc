/**
 * The dev server's process ended by a signal (say the OOM killer, or a `kill` from a shell):
 * stopping it returns at once and restarting it brings it back on the same port and database,
 * instead of waiting forever for an exit that has already happened. A server killed while it
 * starts fails its start at once, saying so (a stand-in executable that kills itself). One that
 * exits before it is ready (another process took one of its ports) is started again. An embedded
 * DynamoDB binds a port of its own choosing, and never takes another server on its port for itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { DEV_SERVER_START_ATTEMPTS, freePort, portIsFree, startDevServer } from '../../src/devserver';
import { startEmbeddedDynamo } from '../../src/local/dynamodb/moto-server';
import { processAlive } from '../../src/local/process-identity';
import { toolchain } from '../../src/toolchain';
import { selfKillingExecutable, standIn } from '../helpers/stand-in';
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

test('a dev server or embedded DynamoDB killed while starting fails at once, naming the signal', async () => {
  await within(20_000, 'the start of a dev server that was killed', assert.rejects(startDevServer({ dbFile: join(dir, 'killed.db'), binary: selfKillingExecutable(dir) }), /the Temporal dev server at 127\.0\.0\.1:\d+ was ended by SIGKILL before it was ready/));
  await within(20_000, 'the start of a moto server that was killed', assert.rejects(startEmbeddedDynamo({ python: selfKillingExecutable(dir) }), /the embedded DynamoDB \(moto server\) was ended by SIGKILL/));
});

/** The --port of a start's arguments. */
const portOf = (args: string): string => /--port (\d+)/.exec(args)?.[1] ?? 'none';

test('a dev server that exits before it is ready (one of its ports taken) is started again on a new port', async () => {
  const flaky = standIn(dir, 'flaky-temporal', `if [ "$starts" -eq 1 ]; then echo "listen tcp 127.0.0.1:7233: bind: address already in use" >&2; exit 2; fi\nexec "${toolchain().temporal}" "$@"`);
  const log: string[] = [];
  const server = await startDevServer({ dbFile: join(dir, 'flaky.db'), binary: flaky.path, log: (line) => log.push(line) });
  try {
    const starts = flaky.starts();
    assert.equal(starts.length, 2);
    assert.notEqual(portOf(starts[1]!), portOf(starts[0]!), 'the second start has a port of its own');
    assert.equal(portOf(starts[1]!), String(server.port));
    assert.match(log.join(''), new RegExp(`exited with code 2 before it was ready; starting it again \\(attempt 2 of ${DEV_SERVER_START_ATTEMPTS}\\)`));
    const connection = await Connection.connect({ address: server.address });
    try {
      assert.ok((await connection.workflowService.getSystemInfo({})).serverVersion);
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
});

test('a dev server that never gets ready fails after its attempts, with its last output in the message', async () => {
  const broken = standIn(dir, 'broken-temporal', 'echo "config error: something is wrong" >&2\nexit 2');
  await within(30_000, 'the start of a broken dev server', assert.rejects(startDevServer({ dbFile: join(dir, 'broken.db'), binary: broken.path }),
    /the Temporal dev server at 127\.0\.0\.1:\d+ exited with code 2 before it was ready; its last output:\nconfig error: something is wrong/));
  assert.equal(broken.starts().length, DEV_SERVER_START_ATTEMPTS);
});

test('an embedded DynamoDB whose port another server holds fails its start instead of taking that server for its own', async () => {
  // Another server on the port that answers moto's readiness request as moto would.
  const other = createServer((_req, res) => res.end('{}'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  try {
    const port = (other.address() as AddressInfo).port;
    await within(60_000, 'the start of a moto server on a taken port', assert.rejects(startEmbeddedDynamo({ port }), /the embedded DynamoDB \(moto server\) exited with code 1: [\s\S]*Address already in use/));
  } finally {
    await new Promise((resolve) => other.close(resolve));
  }
});

test('embedded DynamoDBs started at the same moment each bind a port of their own', async () => {
  const servers = await Promise.all([1, 2, 3].map(() => startEmbeddedDynamo()));
  try {
    assert.equal(new Set(servers.map((s) => s.port)).size, 3, `three ports: ${servers.map((s) => s.port).join(', ')}`);
    for (const server of servers) assert.ok((await fetch(`${server.endpoint}/moto-api/data.json`)).ok, `${server.endpoint} answers`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
});

/** Whether a loopback TCP socket on `port` is in TIME_WAIT (state 06 in /proc/net/tcp). */
const inTimeWait = (port: number): boolean =>
  readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return local === `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}` && state === '06';
    });

test('a port from freePort is held in TIME_WAIT, out of the ports the system picks for others, and its caller can still bind it', async () => {
  const port = await freePort();
  assert.ok(inTimeWait(port), `127.0.0.1:${port} is in TIME_WAIT`);
  assert.equal(await portIsFree(port), true, 'an explicit bind of it succeeds');
});
