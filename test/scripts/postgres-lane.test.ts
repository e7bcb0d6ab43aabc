/**
 * The PostgreSQL servers the tests start (test/local/helpers/postgres.ts) belong to their test
 * lane: a test file that ends without stopping its server (it crashed, or was cancelled at its time
 * limit) leaves it to the lane's clean-up (scripts/lib/process-group.sh), which must stop it.
 * A server started in a session of its own would outlive the run, holding its port and folder.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { processAlive as alive } from '../../src/local/process-identity';
import { runBash, sourceLibs } from './helpers';

const HELPER = join(__dirname, '..', 'local', 'helpers', 'postgres.js');

it("a test's PostgreSQL left running when its file ends is stopped with the lane", { timeout: 120_000 }, async () => {
  // The lane: a node process starts a server, prints its pid and folder, and ends without stopping it.
  const starter = `require(${JSON.stringify(HELPER)}).startPostgres().then((pg) => { console.log(JSON.stringify({ pid: pg.pid, dir: pg.dir })); process.exit(0); })`;
  const script = `${sourceLibs('process-group.sh')}\nstart_in_group node -e '${starter}'\nwait_for_group 'the lane' $! $((SECONDS + 90))\necho "status $?"`;
  const run = await runBash(script, 110_000);
  const server = JSON.parse(run.stdout.split('\n')[0]!) as { pid: number; dir: string };
  try {
    assert.match(run.stdout, /\nstatus 0\n$/);
    assert.match(run.stderr, new RegExp(`^the lane left these processes running; they are stopped now:\\n {2}${server.pid} .*postgres`, 'm'));
    for (let i = 0; i < 50 && alive(server.pid); i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(alive(server.pid), false, `the lane's PostgreSQL (pid ${server.pid}) still runs after the lane ended`);
  } finally {
    if (alive(server.pid)) process.kill(server.pid, 'SIGKILL');
    rmSync(server.dir, { recursive: true, force: true });
  }
});
