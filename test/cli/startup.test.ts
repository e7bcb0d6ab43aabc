/**
 * The command line loads what a command needs when it runs: `--help`, and the commands that only
 * talk to Temporal, never load the worker, the backends' drivers, Parquet or the AWS clients.
 * (Each of those takes a noticeable part of a second to load; every command paid for all of them.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, fakeConfig, tempDir, writeConfig } from './helpers';

const tmp = tempDir('startup');
const CONFIG = join(tmp.dir, 'lakesync.yaml');
writeConfig(CONFIG, fakeConfig('127.0.0.1:1', 'startup-test', { shop: { source: { kind: 'fake', tables: 1 } } }));
after(() => tmp.remove());

/** Packages only some commands need, and the commands that do. */
const LOADED_ON_USE = [
  '@temporalio/client', // the commands that reach Temporal, when they connect
  '@temporalio/worker', // worker, dev
  'prom-client', // worker --metrics
  '@dsnp/parquetjs', // the embedded backend
  'apache-arrow',
  'parquet-wasm',
  'pg',
  '@electric-sql/pglite',
  '@aws-sdk/client-rds', // the aws backend, doctor
  '@aws-sdk/client-s3',
  '@aws-sdk/client-glue',
  '@aws-sdk/client-iam',
];

/** The packages of LOADED_ON_USE that `lakesync <args>` loaded, and what it printed (run in a child process, whatever its exit code). */
function run(args: string[]): { loaded: string[]; said: string } {
  const script = `
const { runCli } = require(${JSON.stringify(CLI)});
const { Writable } = require('node:stream');
let said = '';
const sink = new Writable({ write(chunk, _enc, done) { said += chunk; done(); } });
const io = { stdout: sink, stderr: sink, env: process.env, cwd: process.cwd() };
runCli(${JSON.stringify(args)}, io).catch(() => undefined).finally(() => {
  const loaded = ${JSON.stringify(LOADED_ON_USE)}.filter((name) => {
    try { return Boolean(require.cache[require.resolve(name)]); } catch { return false; }
  });
  process.stdout.write(JSON.stringify({ loaded, said }));
  process.exit(0);
});`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' } });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as { loaded: string[]; said: string };
}

function loadedBy(args: string[], said: RegExp): string[] {
  const ran = run(args);
  assert.match(ran.said, said, 'the command ran as far as expected');
  return ran.loaded;
}

describe('command line start-up', () => {
  test('--help loads none of the packages only some commands need', () => {
    assert.deepEqual(loadedBy(['--help'], /Usage: lakesync/), []);
  });

  test('a command that talks to Temporal loads none of them either', () => {
    // Its code is loaded with the command line; a source the config lacks stops it before it connects.
    assert.deepEqual(loadedBy(['status', 'nosuchsource', '--config', CONFIG], /nosuchsource/), []);
  });

  test('control: a command that reaches Temporal loads its client when it connects', () => {
    const loaded = loadedBy(['status', 'shop', '--config', CONFIG], /cannot reach Temporal at 127\.0\.0\.1:1/);
    assert.deepEqual(loaded, ['@temporalio/client']);
  });

  test('control: lakesync dev loads the worker and the embedded backend when it runs', () => {
    // A bad port stops it before any server starts, after its code is loaded.
    const loaded = loadedBy(['dev', '--port', 'x'], /--port/);
    for (const name of ['@temporalio/worker', 'pg', '@electric-sql/pglite']) assert.ok(loaded.includes(name), `${name} loaded: ${loaded.join(', ')}`);
  });
});
