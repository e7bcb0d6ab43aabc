/**
 * stopChild on real processes: one that stops when asked, one that ignores the signal, one asked
 * its own way first, and ones that had already ended (by a signal, or never started): those must
 * not be waited for, since their 'exit' event has already fired.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { hasEnded, stopChild } from '../../src/child-process';
import { within } from '../helpers/within';

/** A node process running `code`; resolves once it printed "ready" (its signal handlers are set by then). */
async function nodeChild(code: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `${code}; console.log('ready'); setInterval(() => {}, 1000);`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.match(chunk.toString(), /ready/);
  return child;
}

describe('stopChild', () => {
  test('a child that stops on SIGTERM ends by it, long before the SIGKILL', async () => {
    const child = await nodeChild('');
    const started = Date.now();
    assert.deepEqual(await within(10_000, 'stopChild', stopChild(child, { killAfterMs: 30_000 })), { code: null, signal: 'SIGTERM' });
    assert.ok(Date.now() - started < 10_000);
  });

  test('a child that ignores the signal is killed once killAfterMs has passed', async () => {
    const child = await nodeChild("process.on('SIGTERM', () => {})");
    const started = Date.now();
    assert.deepEqual(await within(10_000, 'stopChild', stopChild(child, { killAfterMs: 500 })), { code: null, signal: 'SIGKILL' });
    assert.ok(Date.now() - started >= 450, 'not killed before its time');
  });

  test('the signal can be another one (SIGINT)', async () => {
    const child = await nodeChild("process.on('SIGINT', () => process.exit(7))");
    assert.deepEqual(await within(10_000, 'stopChild', stopChild(child, { signal: 'SIGINT', killAfterMs: 30_000 })), { code: 7, signal: null });
  });

  test('a child asked its own way first gets no signal when it ends in time, and the signal when it does not', async () => {
    const polite = await nodeChild("process.stdin.on('end', () => process.exit(0)); process.stdin.resume()");
    const stopping = stopChild(polite, { signalAfterMs: 20_000, killAfterMs: 30_000 });
    polite.stdin!.end();
    assert.deepEqual(await within(10_000, 'stopChild', stopping), { code: 0, signal: null });

    const deaf = await nodeChild('');
    const started = Date.now();
    assert.deepEqual(await within(10_000, 'stopChild', stopChild(deaf, { signalAfterMs: 300, killAfterMs: 30_000 })), { code: null, signal: 'SIGTERM' });
    assert.ok(Date.now() - started >= 250, 'not signalled before signalAfterMs');
  });

  test('a child that was already killed by a signal is done at once (its exit event fired before the call)', async () => {
    const child = await nodeChild('');
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(child.exitCode, null, 'a child killed by a signal has no exit code');
    assert.ok(hasEnded(child));
    assert.deepEqual(await within(2_000, 'stopChild of an ended child', stopChild(child, { killAfterMs: 60_000 })), { code: null, signal: 'SIGKILL' });
  });

  test('a child that never started is done at once', async () => {
    const child = spawn('/nonexistent/lakesync-binary', [], { stdio: 'ignore' });
    await once(child, 'error');
    await within(2_000, 'stopChild of a child that never started', stopChild(child, { killAfterMs: 60_000 }));
  });
});
