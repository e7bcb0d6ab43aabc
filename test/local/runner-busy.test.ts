/**
 * A runner busy with a long query is not taken for a dead one: the call that waited too long
 * fails, and the runner (with every load it runs) keeps running.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PortError } from '../../src/errors';
import { readJsonIfExists } from '../../src/local/files';
import { processAlive, processStarted } from '../../src/local/process-identity';
import { layoutOf } from '../../src/local/paths';
import { RunnerClient, type RunnerInfo } from '../../src/local/runner/client';

const work = mkdtempSync(join(tmpdir(), 'lakesync-runner-busy-'));
const client = new RunnerClient(layoutOf(work));
after(async () => {
  await client.close();
  rmSync(work, { recursive: true, force: true });
});

test('a call that times out on a busy runner fails as RunnerBusy and leaves the runner running', { timeout: 300_000 }, async () => {
  const { pid, started } = await client.ensure();
  assert.ok(client.ownsRunner);
  // The runner names its process by pid and start, as the records it writes do (a pid may be reused).
  assert.equal(started, processStarted(pid));
  assert.equal(readJsonIfExists<RunnerInfo>(layoutOf(work).runnerInfo)?.started, started);
  // Seconds of work in Spark; the call waits 100 ms.
  const slow = 'SELECT sum(id % 7) AS s FROM range(0, 400000000)';
  const err = await client.call('POST', '/sql', { sql: slow }, 100).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof PortError, `the slow call did not fail: ${String(err)}`);
  assert.equal(err.code, 'RunnerBusy', err.message);
  assert.match(err.message, /did not answer POST \/sql: .*it still answers its health check, so it was left running/);
  assert.ok(processAlive(pid), 'the runner was killed');
  const rows = await client.call<{ rows: unknown[] }>('POST', '/sql', { sql: 'SELECT 1 AS one' });
  assert.deepEqual(rows.rows, [{ one: 1 }]);
  assert.equal((await client.ensure()).pid, pid, 'another runner was started');
});
