/**
 * A cancelled verify stops: the query under way is cancelled in the runner (POST
 * /queries/<id>/cancel with the id its /sql request gave), the verify throws the signal's reason
 * at once, and no later check is sent. The runner is a stand-in HTTP server the real client attaches to.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { layoutOf } from '../../src/local/paths';
import { processStarted } from '../../src/local/process-identity';
import { RunnerClient } from '../../src/local/runner/client';
import { createVerifyPort } from '../../src/local/verify';

const dir = mkdtempSync(join(tmpdir(), 'lakesync-verify-cancel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a cancelled verify cancels its running Spark query and runs no further check', { timeout: 30_000 }, async () => {
  const sqlBodies: { sql: string; queryId?: string }[] = [];
  const cancelled: string[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const reply = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/health') return reply({ instance: 'stand-in' });
      if (req.url === '/sql') {
        const body = JSON.parse(text) as { sql: string; queryId?: string };
        sqlBodies.push(body);
        if (body.sql.startsWith('SELECT count(*) AS row_count')) return reply({ rows: [{ row_count: 3 }] });
        held.push(res); // a long check: answered only when cancelled
        return;
      }
      const cancel = /^\/queries\/([^/]+)\/cancel$/.exec(req.url ?? '');
      if (cancel) {
        cancelled.push(cancel[1]!);
        for (const r of held.splice(0)) r.writeHead(500).end(JSON.stringify({ error: 'cancelled' }));
        return reply({ queryId: cancel[1], cancelled: true });
      }
      res.writeHead(404).end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const layout = layoutOf(dir);
  const started = processStarted(process.pid);
  writeFileSync(layout.runnerInfo, JSON.stringify({ pid: process.pid, ...(started ? { started } : {}), port: (server.address() as AddressInfo).port, token: 't', instance: 'stand-in', warehouse: layout.warehouse }));
  const runner = new RunnerClient(layout);
  try {
    const controller = new AbortController();
    const checksStarted: string[] = [];
    const verifying = createVerifyPort(runner).verify(
      {
        source: 'shop',
        namespace: 'sales',
        lakeTable: 'orders',
        table: 'public.orders',
        rowCount: { kind: 'exported', rows: 3 },
        snapshotId: '7',
        checks: [
          { name: 'slow', sql: 'SELECT max(id) FROM {table}', expect: 1 },
          { name: 'next', sql: 'SELECT min(id) FROM {table}', expect: 1 },
        ],
      } as never,
      (check) => checksStarted.push(check),
      controller.signal,
    );
    while (held.length === 0) await new Promise((r) => setTimeout(r, 10));
    const reason = new Error('activity cancelled');
    controller.abort(reason);
    await assert.rejects(verifying, (err) => err === reason);
    await new Promise((r) => setTimeout(r, 100));
    const slow = sqlBodies.find((b) => b.sql.includes('max(id)'));
    assert.ok(slow?.queryId, JSON.stringify(sqlBodies));
    assert.deepEqual(cancelled, [slow.queryId]);
    assert.equal(sqlBodies.some((b) => b.sql.includes('min(id)')), false, 'a check after the cancel was sent');
    assert.deepEqual(checksStarted, ['slow']);
  } finally {
    await runner.close();
    for (const r of held) r.destroy();
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  }
});
