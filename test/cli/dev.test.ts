/**
 * `lakesync dev` (a Temporal dev server with its Web UI and search attributes, plus a worker)
 * and `lakesync worker`, each run as the real command and stopped with SIGINT.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { stopChild } from '../../src/child-process';
import { freePort, startDevServer } from '../../src/devserver';
import { SEARCH_ATTRIBUTES } from '../../src/cli/search-attributes';
import { CLI, ROOT, cliEnv, eventually, fakeConfig, runCli, tempDir, writeConfig } from './helpers';

interface Running {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  /** SIGINT, then the exit code. */
  interrupt(): Promise<number | null>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cliEnv() });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async interrupt() {
      await stopChild(child, { signal: 'SIGINT', killAfterMs: 30_000 });
      return exited;
    },
  };
}

describe('lakesync dev and lakesync worker', () => {
  const tmp = tempDir('dev');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  const running: Running[] = [];
  let port = 0;
  let uiPort = 0;

  before(async () => {
    port = await freePort();
    uiPort = await freePort();
    writeConfig(
      configFile,
      fakeConfig(`127.0.0.1:${port}`, 'cli-dev-test', {
        shop: { source: { kind: 'fake', tables: ['public.a', 'public.b'], failures: [{ table: 'public.b', phase: 'load', times: 'always', retryable: false }] } },
      }),
    );
  });

  after(async () => {
    for (const r of running.reverse()) await r.interrupt();
    tmp.remove();
  });

  it('dev starts the server with its UI and search attributes and a worker; the UI can list partial cycles; SIGINT stops it', async () => {
    const dev = start(['dev', '--port', String(port), '--ui-port', String(uiPort), '--db-file', join(tmp.dir, 'dev.db'), '--config', configFile]);
    running.push(dev);
    await eventually('dev to be ready', async () => (/ready; press Ctrl-C to stop/.test(dev.output()) ? true : undefined), 90_000);
    assert.match(dev.output(), new RegExp(`Temporal dev server: 127\\.0\\.0\\.1:${port}`));
    assert.match(dev.output(), new RegExp(`Web UI: http://127\\.0\\.0\\.1:${uiPort}`));
    assert.match(dev.output(), /worker: task queue cli-dev-test, sources shop/);

    const page = await eventually('the Web UI', async () => {
      const res = await fetch(`http://127.0.0.1:${uiPort}/`);
      return res.ok ? res.text() : undefined;
    });
    assert.match(page, /<html/i);

    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of Object.keys(SEARCH_ATTRIBUTES)) assert.ok(customAttributes && name in customAttributes, `${name} is registered`);

      // The UI is not on the default port (gRPC + 1000), so tell the CLI where it is, as dev suggests.
      assert.match(dev.output(), new RegExp(`export LAKESYNC_UI_URL=http://127\\.0\\.0\\.1:${uiPort}`));
      const sync = await runCli(['sync', 'shop', '--wait', '--config', configFile], { env: { LAKESYNC_UI_URL: `http://127.0.0.1:${uiPort}` } });
      assert.equal(sync.code, 1, `a partial cycle: ${sync.stdout}${sync.stderr}`);
      assert.match(sync.stdout, /\(sync\) partial: 1 committed, 1 failed/);
      assert.match(sync.stdout, new RegExp(`partial cycles: http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows\\?query=`));

      // What the UI's list shows for that link: the partial cycle, found by its search attributes.
      const client = new Client({ connection, namespace: 'default' });
      const partial = await eventually('the partial cycle in visibility', async () => {
        const found: string[] = [];
        for await (const wf of client.workflow.list({ query: 'LakesyncSource = "shop" AND LakesyncCycleStatus = "partial"' })) found.push(wf.workflowId);
        return found.length > 0 ? found : undefined;
      });
      assert.ok(partial.some((id) => /^lakesync\/shop\/cycle-/.test(id)), partial.join(', '));
    } finally {
      await connection.close();
    }

    assert.equal(await dev.interrupt(), 0, dev.output());
    assert.match(dev.output(), /stopped/);
  });

  it('dev --no-worker serves Temporal only; lakesync worker runs the syncs until SIGINT', async () => {
    const dev = start(['dev', '--no-worker', '--port', String(port), '--ui-port', String(uiPort), '--db-file', join(tmp.dir, 'dev.db'), '--config', configFile]);
    running.push(dev);
    await eventually('dev to be ready', async () => (/ready/.test(dev.output()) ? true : undefined), 90_000);
    assert.match(dev.output(), /no worker/);

    const worker = start(['worker', '--config', configFile]);
    running.push(worker);
    await eventually('the worker to start', async () => (/lakesync worker on 127\.0\.0\.1/.test(worker.output()) ? true : undefined), 60_000);
    const sync = await runCli(['sync', 'shop', '--tables', 'public.a', '--wait', '--json', '--config', configFile]);
    assert.equal(sync.code, 0, sync.stderr);
    assert.equal(JSON.parse(sync.stdout).status, 'succeeded');
    // The state survived the restart of the dev server on the same file: this is the second cycle.
    assert.match(JSON.parse(sync.stdout).cycleId, /^2-/);

    assert.equal(await worker.interrupt(), 0, worker.output());

    // With no worker left, a query cannot be answered: a clear runtime error, exit 1.
    const orphan = await runCli(['status', 'shop', '--config', configFile]);
    assert.equal(orphan.code, 1);
    assert.match(orphan.stderr, /no lakesync worker answered (within 15 s )?on task queue cli-dev-test.*; start one with "lakesync worker"/);

    assert.equal(await dev.interrupt(), 0, dev.output());
  });

  it("dev with the config's own namespace creates it, with the search attributes, and its worker serves there", async () => {
    const [grpc, ui] = [await freePort(), await freePort()];
    const file = join(tmp.dir, 'lakes.yaml');
    const config = fakeConfig(`127.0.0.1:${grpc}`, 'cli-dev-lakes', { shop: { source: { kind: 'fake', tables: ['public.a'] } } }) as { temporal: Record<string, unknown> };
    writeConfig(file, { ...config, temporal: { ...config.temporal, namespace: 'lakes' } });
    const dev = start(['dev', '--port', String(grpc), '--ui-port', String(ui), '--db-file', join(tmp.dir, 'lakes.db'), '--config', file]);
    running.push(dev);
    await eventually('dev to be ready', async () => (/ready; press Ctrl-C to stop|stopped/.test(dev.output()) ? true : undefined), 90_000);
    assert.match(dev.output(), /ready; press Ctrl-C to stop/);
    assert.match(dev.output(), new RegExp(`partial cycles: http://127\\.0\\.0\\.1:${ui}/namespaces/lakes/workflows\\?query=`));
    const connection = await Connection.connect({ address: `127.0.0.1:${grpc}` });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'lakes' });
      for (const name of Object.keys(SEARCH_ATTRIBUTES)) assert.ok(customAttributes && name in customAttributes, `${name} is registered in namespace lakes`);
    } finally {
      await connection.close();
    }
    const sync = await runCli(['sync', 'shop', '--wait', '--json', '--config', file]);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    assert.equal(JSON.parse(sync.stdout).status, 'succeeded');
    assert.equal(await dev.interrupt(), 0, dev.output());
  });

  it('dev on a port another Temporal server listens on fails at once naming the port, and never reports that server as its own', async () => {
    const taken = await freePort();
    const other = await startDevServer({ dbFile: join(tmp.dir, 'other.db'), port: taken });
    try {
      const dev = await runCli(['dev', '--no-worker', '--port', String(taken), '--ui-port', String(await freePort()), '--db-file', join(tmp.dir, 'second.db'), '--config', configFile], { timeoutMs: 30_000 });
      assert.equal(dev.code, 1, dev.stdout + dev.stderr);
      assert.match(dev.stderr, new RegExp(`--port ${taken}: port ${taken} on 127\\.0\\.0\\.1 is in use.*stop what listens there, or choose another port`));
      assert.doesNotMatch(dev.stdout, /ready/);
    } finally {
      await other.stop();
    }
  });

  it('dev whose Temporal server dies fails (exit 1) saying how the server ended, with or without a worker, instead of ending silently or serving nothing', async () => {
    for (const mode of [['--no-worker'], ['--config', configFile]]) {
      const grpc = await freePort();
      const dbFile = join(tmp.dir, `dies-${mode[0]!.replace(/\W/g, '')}.db`);
      const dev = start(['dev', ...mode, '--port', String(grpc), '--ui-port', String(await freePort()), '--db-file', dbFile]);
      running.push(dev);
      const exited = new Promise<number | null>((resolve) => dev.child.on('exit', (code) => resolve(code)));
      await eventually('dev to be ready', async () => (/ready; press Ctrl-C to stop/.test(dev.output()) ? true : undefined), 90_000);
      const serverPid = Number(execFileSync('pgrep', ['-f', `start-dev .*--port ${grpc} .*${dbFile}`]).toString().trim().split('\n')[0]);
      process.kill(serverPid, 'SIGKILL');
      const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
      assert.equal(code, 1, `${mode.join(' ')}: ${dev.output()}`);
      assert.match(dev.output(), new RegExp(`error: the Temporal dev server at 127\\.0\\.0\\.1:${grpc} was ended by SIGKILL, so lakesync dev stops: start it again`));
    }
  });

  it('dev with a blank TEMPORAL_NAMESPACE or LAKESYNC_TASK_QUEUE is refused (exit 2) before its server starts: no state file, no folder', async () => {
    for (const [name, value] of [['TEMPORAL_NAMESPACE', ' '], ['LAKESYNC_TASK_QUEUE', '']] as const) {
      const dbFile = join(tmp.dir, `blank-${name}`, 'temporal.db');
      const dev = await runCli(['dev', '--config', configFile, '--port', String(await freePort()), '--ui-port', String(await freePort()), '--db-file', dbFile], { env: { [name]: value }, timeoutMs: 60_000 });
      assert.equal(dev.code, 2, `${name}: ${dev.stdout}${dev.stderr}`);
      assert.match(dev.stderr, new RegExp(`${name} \\(environment variable\\) \\(got "${value}"\\): is blank: unset it to use the config's temporal\\.`));
      assert.doesNotMatch(dev.stdout, /Temporal dev server:/, `${name}: no server was started`);
      assert.equal(existsSync(dirname(dbFile)), false, `${name}: no folder or state file was created`);
    }
  });

  it('dev with a Temporal CLI that is not there fails (exit 1) naming the path and the fix, with no stack trace', async () => {
    const dev = await runCli(['dev', '--no-worker', '--temporal-bin', join(tmp.dir, 'no-such-temporal'), '--port', String(await freePort()), '--ui-port', String(await freePort()), '--db-file', join(tmp.dir, 'nobin.db')], { timeoutMs: 30_000 });
    assert.equal(dev.code, 1, dev.stderr);
    assert.match(dev.stderr, /^error: cannot run the Temporal CLI .*no-such-temporal \(spawn .* ENOENT\): pass --temporal-bin <path> \(or set LAKESYNC_TEMPORAL_BIN\), or build it with "npm run bootstrap"$/m);
    assert.doesNotMatch(dev.stderr, /Unhandled 'error' event|at ChildProcess/);
  });
});
