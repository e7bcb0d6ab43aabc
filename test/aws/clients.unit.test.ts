/** The AWS clients give up on a connection that hangs instead of waiting for ever. */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { AthenaClient, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { clientConfig, createClients, destroyClients, HTTP_TIMEOUTS } from '../../src/aws/clients';

/** A server that accepts connections and never answers. */
let silent: Server;
const sockets: Socket[] = [];
let endpoint = '';

before(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'lakesync';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'lakesync';
  silent = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  assert.ok(address && typeof address === 'object');
  endpoint = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

test('every client carries the connection and idle-socket timeouts', async () => {
  assert.deepEqual(clientConfig({ region: 'us-east-1' }).requestHandler, { connectionTimeout: 10_000, socketTimeout: 120_000 });
  const clients = createClients({ region: 'us-east-1', endpoint });
  try {
    for (const [name, client] of Object.entries(clients)) {
      const handler = client.config.requestHandler as unknown as { configProvider?: Promise<Record<string, unknown>> };
      const config = await handler.configProvider;
      assert.equal(config?.connectionTimeout, HTTP_TIMEOUTS.connectionTimeout, `${name}: connectionTimeout`);
      assert.equal(config?.socketTimeout, HTTP_TIMEOUTS.socketTimeout, `${name}: socketTimeout`);
    }
  } finally {
    destroyClients(clients);
  }
});

test('a call to an endpoint that never answers fails instead of hanging', async () => {
  const athena = new AthenaClient({ ...clientConfig({ region: 'us-east-1', endpoint }, { connectionTimeout: 300, socketTimeout: 300 }), maxAttempts: 1 });
  let deadline: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (deadline = setTimeout(() => resolve('hung'), 10_000)));
  try {
    const outcome = await Promise.race([athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1' })).then(() => 'answered', (err: Error) => err), hung]);
    assert.ok(outcome instanceof Error, `the call did not fail: ${String(outcome)}`);
    assert.match(`${outcome.name} ${outcome.message}`, /timeout|timed out/i);
  } finally {
    clearTimeout(deadline);
    athena.destroy();
  }
});
