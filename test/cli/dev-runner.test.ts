/**
 * `lakesync dev` with a local source: the load runner (Spark) starts with dev, so the first sync
 * does not wait for it, and SIGTERM stops dev, its runner and its server and then exits, as Ctrl-C does.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { stopChild } from '../../src/child-process';
import { freePort } from '../../src/devserver';
import { processAlive as alive } from '../../src/local/process-identity';
import { CLI, ROOT, cliEnv, eventually, tempDir, writeConfig } from './helpers';

const dir = tempDir('lakesync-dev-runner-');
after(() => dir.remove());

test('dev starts the local runner at once; SIGTERM stops everything and exits', async () => {
  const port = await freePort();
  const workDir = join(dir.dir, 'work');
  const configFile = writeConfig(join(dir.dir, 'lakesync.yaml'), {
    temporal: { address: `127.0.0.1:${port}` },
    sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(dir.dir, 'pg'), demo: false }, target: { namespace: 'shop' }, local: { workDir } } },
  });
  const child = spawn(process.execPath, [CLI, 'dev', '--config', configFile, '--port', String(port), '--ui-port', String(await freePort()), '--db-file', join(dir.dir, 'temporal.db')], { cwd: ROOT, env: cliEnv() });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  try {
    await eventually('dev to be ready', async () => (/ready; press Ctrl-C to stop/.test(output) ? true : undefined), 90_000);
    // No sync was requested: the runner is dev's own, started with it.
    const info = await eventually('the load runner to be up', async () => (existsSync(join(workDir, 'runner.json')) ? (JSON.parse(readFileSync(join(workDir, 'runner.json'), 'utf8')) as { pid: number }) : undefined), 120_000);
    assert.ok(alive(info.pid), 'the runner process runs');

    const end = await stopChild(child, { killAfterMs: 45_000 });
    assert.deepEqual(end, { code: 0, signal: null }, `dev did not exit on SIGTERM by itself:\n${output}`);
    assert.match(output, /stopped/);
    await eventually('the runner to be gone', async () => (alive(info.pid) ? undefined : true), 30_000);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
