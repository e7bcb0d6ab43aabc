/**
 * sync and rerun of a source workflow whose worker predates the `sync` and `rerun` updates (no handler
 * for them): each request is sent by its signal instead, against a real Temporal dev server and a
 * worker running such a workflow (fixtures/older-source-workflow.ts). The server's metrics count
 * how often each command describes the source workflow.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { sourceWorkflowId } from '../../src/ids';
import { SOURCE_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { freePort, startDevServer } from '../../src/devserver';
import { SEARCH_ATTRIBUTES, type TestServer, quietTemporalLogs } from '../helpers/env';
import { type Received, receivedQuery } from './fixtures/older-source-workflow';
import { fakeConfig, runCli, tempDir, writeConfig } from './helpers';

describe('sync and rerun of a source workflow whose worker has no handler for their updates', () => {
  const tmp = tempDir('older-worker');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  const taskQueue = 'cli-older-worker';
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
  let env: TestServer | undefined;
  let client: Client | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  const received = () => client!.workflow.getHandle(sourceWorkflowId('shop')).query(receivedQuery);

  let metricsPort = 0;
  /**
   * How many DescribeWorkflowExecution calls the server has answered (its frontend counts each once,
   * its history service again), once the count stays the same for a while: the server reports its
   * counters in its own time.
   */
  const describes = async () => {
    const read = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('service_requests{') && l.includes('operation="DescribeWorkflowExecution"') && l.includes('service_name="frontend"'))
        .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    };
    for (let last = await read(); ; ) {
      await delay(1_500);
      const now = await read();
      if (now === last) return now;
      last = now;
    }
  };

  before(async () => {
    quietTemporalLogs();
    metricsPort = await freePort();
    const server = await startDevServer({ dbFile: join(tmp.dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTES, extraArgs: ['--metrics-port', String(metricsPort)] });
    env = { server, dir: tmp.dir, close: () => server.stop() };
    writeConfig(configFile, fakeConfig(env.server.address, taskQueue, { shop: { source: { kind: 'fake', tables: ['public.a', 'public.b'] } } }));
    const connection = await NativeConnection.connect({ address: env.server.address });
    worker = await Worker.create({ connection, taskQueue, workflowsPath: require.resolve('./fixtures/older-source-workflow') });
    running = worker.run().finally(() => connection.close());
    client = new Client({ connection: await Connection.connect({ address: env.server.address }) });
    await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
  });

  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await client?.connection.close();
    await env?.close();
    tmp.remove();
  });

  it('sync is sent by the requestSync signal, and says that the workflow did not check it first', async () => {
    const run = await cli('sync', 'shop', '--tables', 'public.a', '--json');
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as { requestId: string; sentBy?: string; checked?: boolean };
    assert.equal(printed.sentBy, 'signal');
    assert.equal(printed.checked, false);
    const text = await cli('sync', 'shop');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /sent by signal, not checked by the workflow first/);
    const got = await received();
    assert.equal(got.filter((r) => r.signal === 'requestSync').map((r) => r.request.requestId)[0], printed.requestId);
    assert.equal(got.filter((r) => r.signal === 'requestSync').length, 2);
  });

  it('rerun is sent by the requestRerun signal and says that the workflow did not check it first', async () => {
    const before = (await received()).length;
    const run = await cli('rerun', 'shop', '--tables', 'public.b', '--approve-deletes');
    assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
    assert.match(run.stdout, /rerun sent for shop by signal/);
    assert.match(run.stdout, /not checked by the workflow/);
    const sent = (await received()).slice(before) as Received[];
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.signal, 'requestRerun');
    const request = sent[0]!.request as { tables: string[]; approveDeletes?: boolean; requestId: string };
    assert.deepEqual(request.tables, ['public.b']);
    assert.equal(request.approveDeletes, true);
    assert.match(run.stdout, new RegExp(request.requestId));
  });

  it('rerun --json says how it was sent', async () => {
    const run = await cli('rerun', 'shop', '--failed', '--json');
    assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
    const printed = JSON.parse(run.stdout) as { requestId: string; sentBy: string; tables: unknown };
    assert.equal(printed.sentBy, 'signal');
    assert.equal(printed.tables, 'failed');
    const last = (await received()).at(-1)!;
    assert.equal(last.signal, 'requestRerun');
    assert.equal(last.request.requestId, printed.requestId);
  });

  it('sync and rerun describe the source workflow once each', async () => {
    for (const args of [['sync', 'shop'], ['rerun', 'shop', '--failed']]) {
      const was = await describes();
      const run = await cli(...args);
      assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
      assert.equal((await describes()) - was, 1, `describes of lakesync ${args.join(' ')}`);
    }
  });
});
