/**
 * No secret in workflow histories or command output. A postgres source whose URL carries a
 * password (as `user:password@` and as `?password=`) and whose server cannot be reached: the
 * cycle fails, and neither password appears in the cycle's failure message, in the histories of
 * the source and cycle workflows (every payload decoded, every failure and stack trace included)
 * nor in what `lakesync` prints. A config error on a key-value connection string does not echo
 * its password either.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load';
import type { CycleResult } from '../../src/model';
import { jsonOf, lakesync } from '../../src/demo/cli';
import { type DevServer, freePort, startDevServer } from '../../src/devserver';
import { sourceWorkflowId } from '../../src/ids';
import { connectClient, temporalTarget } from '../../src/temporal';
import type { SourceStatus } from '../../src/workflows/messages';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { quietTemporalLogs } from '../helpers/env';
import { type InProcessWorker, runWorkerInProcess } from '../helpers/local-worker';
import { shopSource, writeConfig } from './helpers/config';

const SECRETS = ['UrlPassw0rd-17', 'QueryPassw0rd-23', 'KvPassw0rd-31'];

let dir: string;
let server: DevServer;
let worker: InProcessWorker | undefined;
let client: Client;
let configFile: string;

before(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'lakesync-redaction-'));
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  // Nothing listens on this port: every connection attempt fails.
  const closed = await freePort();
  configFile = writeConfig(dir, server.address, 'redaction', {
    pg: shopSource(`postgres://lakesync:${SECRETS[0]}@127.0.0.1:${closed}/shop?password=${SECRETS[1]}&application_name=lakesync`, {
      exclude: ['public.*_pii'],
      retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 2 },
      timeouts: { heartbeatSeconds: 60, pollInitialSeconds: 1, pollMaximumSeconds: 1 },
      local: { workDir: join(dir, 'data') },
    }),
  });
  worker = await runWorkerInProcess(configFile, join(dir, 'data-root'));
  client = await connectClient(temporalTarget(loadConfigFile(configFile)));
});

after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A history as JSON text with every payload's bytes decoded, so a secret inside a payload is found too. */
function historyText(history: unknown): string {
  return JSON.stringify(history, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    const buffer = value as { type?: string; data?: unknown };
    if (buffer && buffer.type === 'Buffer' && Array.isArray(buffer.data)) return Buffer.from(buffer.data as number[]).toString('utf8');
    return value;
  });
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains the password ${secret}:\n${text.slice(Math.max(0, text.indexOf(secret) - 300), text.indexOf(secret) + 100)}`);
}

test('a source that cannot connect fails the cycle without a password in the message, the histories or the CLI output', { timeout: 180_000 }, async () => {
  const run = await lakesync(['sync', 'pg', '--wait', '--json', '--config', configFile]);
  const result = jsonOf<CycleResult>(run, 'sync');
  assert.equal(run.code, 1, run.stderr);
  assert.equal(result.status, 'failed');
  assert.match(result.error?.message ?? '', /cannot connect to PostgreSQL postgres:\/\/lakesync:\*\*\*@127\.0\.0\.1/, JSON.stringify(result.error));
  assertNoSecret(result.error?.message ?? '', 'the cycle failure message');
  assertNoSecret(run.stdout + run.stderr, 'the output of lakesync sync');

  const source = client.workflow.getHandle(sourceWorkflowId('pg'));
  const status = await source.query<SourceStatus>('status');
  const cycleHistory = historyText(await client.workflow.getHandle(status.lastCycle!.workflowId).fetchHistory());
  assert.match(cycleHistory, /"activityTaskFailedEventAttributes"/, 'the connection failure is an activity failure in the cycle history');
  assertNoSecret(cycleHistory, 'the cycle workflow history');
  assertNoSecret(historyText(await source.fetchHistory()), 'the source workflow history');

  const statusRun = await lakesync(['status', 'pg', '--json', '--config', configFile]);
  assertNoSecret(statusRun.stdout + statusRun.stderr, 'the output of lakesync status');
  await source.terminate('test done');
});

test('a config error on a key-value connection string does not print its password', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, stringify({ sources: { pg: { database: 'shop', source: { kind: 'postgres', url: `host=db.internal user=lakesync password=${SECRETS[2]} dbname=shop` }, target: { namespace: 'shop' } } } }));
  const run = await lakesync(['validate', '--config', bad]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /sources\.pg\.source\.url/);
  assert.match(run.stderr, /password=\*\*\*/, run.stderr);
  assertNoSecret(run.stdout + run.stderr, 'the output of lakesync validate');
});
