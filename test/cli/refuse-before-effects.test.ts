/**
 * Bad input is refused before any side effect: a command that refuses its flags or its environment
 * has opened no listening socket. Each run records, in a file of its own, every address the CLI
 * process listens on (net.Server#listen, patched by a module preloaded with --require).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../src/devserver';
import { fakeConfig, runCli, tempDir, writeConfig } from './helpers';

const tmp = tempDir('refuse-before');
after(() => tmp.remove());
const CONFIG = writeConfig(join(tmp.dir, 'lakesync.yaml'), fakeConfig('127.0.0.1:1', 'refuse-before-test', { shop: { source: { kind: 'fake', tables: 1 } } }));

/** Preloaded into the CLI process: appends `listen <args>` to LAKESYNC_TEST_LISTEN_LOG for every server that starts listening. */
const SPY = join(tmp.dir, 'listen-spy.js');
writeFileSync(
  SPY,
  `const net = require('node:net');
const { appendFileSync } = require('node:fs');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  appendFileSync(process.env.LAKESYNC_TEST_LISTEN_LOG, 'listen ' + JSON.stringify(args.filter((a) => typeof a !== 'function')) + '\\n');
  return listen.apply(this, args);
};
`,
);

let runs = 0;
/** `lakesync <args>` as a process with the spy preloaded: its result and the listens it made. */
async function runSpied(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string; listens: string[] }> {
  const log = join(tmp.dir, `listens-${++runs}.log`);
  const run = await runCli(args, { env: { ...env, NODE_OPTIONS: `--require ${SPY}`, LAKESYNC_TEST_LISTEN_LOG: log }, timeoutMs: 60_000 });
  const listens = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { code: run.code, stderr: run.stderr, listens };
}

describe('worker --metrics refuses a bad environment or address before it listens', () => {
  it('the spy sees a listen (a worker whose Temporal cannot be reached still opened its metrics port)', async () => {
    const run = await runSpied(['worker', '--config', CONFIG, '--metrics', `127.0.0.1:${await freePort()}`], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.notEqual(run.code, 0, run.stderr);
    assert.ok(run.listens.some((l) => l.includes('127.0.0.1')), `listens: ${run.listens.join('; ')}\n${run.stderr}`);
  });

  const badEnvironments: [string, Record<string, string>, RegExp][] = [
    ['blank TEMPORAL_NAMESPACE', { TEMPORAL_NAMESPACE: ' ' }, /TEMPORAL_NAMESPACE \(environment variable\) \(got " "\): is blank/],
    ['blank LAKESYNC_TASK_QUEUE', { LAKESYNC_TASK_QUEUE: '' }, /LAKESYNC_TASK_QUEUE \(environment variable\) \(got ""\): is blank/],
    ['malformed TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: 'localhost:7233:1' }, /TEMPORAL_ADDRESS \(environment variable\)/],
  ];
  for (const [what, env, said] of badEnvironments) {
    it(`${what}: exit 2, and no port was opened`, async () => {
      const run = await runSpied(['worker', '--config', CONFIG, '--metrics', `127.0.0.1:${await freePort()}`], env);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, said);
      assert.deepEqual(run.listens, [], `${what}: the worker listened before refusing`);
    });
  }

  it('a malformed --metrics: exit 2, and no port was opened', async () => {
    const run = await runSpied(['worker', '--config', CONFIG, '--metrics', '127.0.0.1:99999']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--metrics "127\.0\.0\.1:99999": port 99999 is not a port number/);
    assert.deepEqual(run.listens, []);
  });
});

describe('dev refuses a taken port or a missing Temporal CLI before it creates the folder of its state file', () => {
  it('--port taken by another process: exit 1 naming the port, and no folder', async () => {
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as { port: number }).port;
    try {
      const dbFile = join(tmp.dir, 'taken-port', 'state', 'temporal.db');
      const dev = await runCli(['dev', '--no-worker', '--port', String(taken), '--ui-port', String(await freePort()), '--db-file', dbFile], { timeoutMs: 30_000 });
      assert.equal(dev.code, 1, dev.stdout + dev.stderr);
      assert.match(dev.stderr, new RegExp(`--port ${taken}: port ${taken} on 127\\.0\\.0\\.1 is in use`));
      assert.equal(existsSync(join(tmp.dir, 'taken-port')), false, 'no folder was created for the state file of a server that never started');
    } finally {
      holder.close();
    }
  });

  it('--temporal-bin that is not there: exit 1 naming it, and no folder', async () => {
    const dbFile = join(tmp.dir, 'no-bin', 'state', 'temporal.db');
    const dev = await runCli(['dev', '--no-worker', '--temporal-bin', join(tmp.dir, 'no-such-temporal'), '--port', String(await freePort()), '--ui-port', String(await freePort()), '--db-file', dbFile], { timeoutMs: 30_000 });
    assert.equal(dev.code, 1, dev.stdout + dev.stderr);
    assert.match(dev.stderr, /^error: cannot run the Temporal CLI .*no-such-temporal \(spawn .* ENOENT\): pass --temporal-bin <path>/m);
    assert.equal(existsSync(join(tmp.dir, 'no-bin')), false, 'no folder was created for the state file of a server that never started');
  });
});
