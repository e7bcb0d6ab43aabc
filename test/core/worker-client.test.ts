/**
 * The worker's own Temporal client (metrics scrapes read the sources' status with it, schedule
 * triggers signal with it): connected on first use, through a proxy the test can close.
 */
import assert from 'node:assert/strict';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FakeBackend } from '../../src/fake/ports';
import { createWorker } from '../../src/worker';
import { type TestServer, fakeConfig, startTestServer, uniqueQueue } from '../helpers/env';

/** A TCP proxy to `target` that refuses connections while `open` is false. */
function proxyTo(target: string): { server: Server; open: boolean; sockets: Set<Socket> } {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const proxy = { server: createServer(), open: true, sockets: new Set<Socket>() };
  proxy.server.on('connection', (socket) => {
    if (!proxy.open) return void socket.destroy();
    const upstream = connect(port, host);
    for (const s of [socket, upstream]) {
      proxy.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => proxy.sockets.delete(s));
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  return proxy;
}

describe("the worker's Temporal client", () => {
  let server: TestServer;
  let proxy: ReturnType<typeof proxyTo>;

  before(async () => {
    server = await startTestServer();
    proxy = proxyTo(server.server.address);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    process.env.TEMPORAL_ADDRESS = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(async () => {
    for (const s of proxy?.sockets ?? []) s.destroy();
    await new Promise<void>((resolve) => (proxy ? proxy.server.close(() => resolve()) : resolve()));
    await server?.close();
  });

  it('connects again once Temporal is back after a first connection failed', async () => {
    const config = fakeConfig(uniqueQueue('client'), { tables: ['public.a'] });
    const { worker, client, close } = await createWorker({ config, ports: { shop: new FakeBackend({ tables: ['public.a'], latencyMs: 0 }).ports() } });
    const running = worker.run();
    try {
      // Temporal is unreachable at the first scrape (or schedule trigger): that one fails.
      proxy.open = false;
      await assert.rejects(client());
      // Once it is back, the next one connects: a failed connection is not kept for the worker's lifetime.
      proxy.open = true;
      const connected = await client();
      const info = await connected.connection.workflowService.getSystemInfo({});
      assert.ok(info.capabilities, 'the client answers');
    } finally {
      worker.shutdown();
      await running;
      await close().catch(() => undefined);
    }
  });
});
