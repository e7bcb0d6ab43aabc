/**
 * An export reader thread that dies fails what it was asked, with why, and is never handed to the
 * next export. The threads here stand in for reader-thread.ts: they answer a join, then exit or
 * throw when asked to read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RangeRead } from '../../src/local/export/snapshot-reader';
import { endIdleReaderThreads, readerThreadsRunning, startReaderThread } from '../../src/local/export/threaded-reader';

let dir: string;

/** A thread script that joins, and does `onRead` when asked to read (any other request succeeds). */
function script(name: string, onRead: string): string {
  const file = join(dir, `${name}.js`);
  writeFileSync(
    file,
    `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (request) => {
  if (request.op === 'read') { ${onRead} }
  else if (request.op !== 'stop') parentPort.postMessage({ call: request.call });
});`,
  );
  return file;
}

const RANGE = {} as RangeRead;

/** A thread script that answers every request and exits 20 ms after its reader is closed (idle). */
function diesWhenIdle(): string {
  const file = join(dir, 'dies-idle.js');
  writeFileSync(
    file,
    `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (request) => {
  if (request.op === 'stop') return;
  parentPort.postMessage({ call: request.call });
  if (request.op === 'close') setTimeout(() => process.exit(5), 20);
});`,
  );
  return file;
}

async function untilRunning(count: number): Promise<void> {
  for (let i = 0; i < 300 && readerThreadsRunning() !== count; i++) await new Promise((r) => setTimeout(r, 10));
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lakesync-reader-thread-'));
});

after(async () => {
  await endIdleReaderThreads();
  rmSync(dir, { recursive: true, force: true });
});

describe('export reader threads', () => {
  test('a thread that exits while reading fails the read with its exit code, and is not kept for the next export', async () => {
    const exits = script('exits', 'process.exit(3);');
    const reader = await startReaderThread('postgres://unused', 'snapshot', { script: exits });
    await assert.rejects(reader.read(RANGE), /^Error: the export reader thread exited with code 3$/);
    await assert.rejects(reader.commit(), /exited with code 3/, 'a dead thread fails every later request at once');
    await reader.close();
    assert.equal(readerThreadsRunning(), 0, 'no thread is left running');
    const next = await startReaderThread('postgres://unused', 'snapshot', { script: exits });
    assert.equal(readerThreadsRunning(), 1, 'the next export gets a new thread');
    await next.close();
    await endIdleReaderThreads();
    assert.equal(readerThreadsRunning(), 0);
  });

  test('a thread that throws fails the read with the error', async () => {
    const reader = await startReaderThread('postgres://unused', 'snapshot', { script: script('throws', "throw new Error('parser bug');") });
    await assert.rejects(reader.read(RANGE), /^Error: the export reader thread failed: parser bug$/);
    await reader.close();
    assert.equal(readerThreadsRunning(), 0);
  });

  test('an idle thread that dies leaves the pool: the next export gets a new thread', async () => {
    const diesIdle = diesWhenIdle();
    const first = await startReaderThread('postgres://unused', 'snapshot', { script: diesIdle });
    await first.close();
    await untilRunning(0);
    assert.equal(readerThreadsRunning(), 0, 'the idle thread is gone');
    const second = await startReaderThread('postgres://unused', 'snapshot', { script: diesIdle });
    assert.equal(readerThreadsRunning(), 1, 'a new thread serves the next reader');
    await second.commit();
    await second.close();
    await endIdleReaderThreads();
  });

  test('a closed reader leaves its thread idle for the next one, which does not start another', async () => {
    const healthy = script('healthy', 'parentPort.postMessage({ call: request.call, written: { rows: 1, files: [], bytes: 0, indexes: [] } });');
    const first = await startReaderThread('postgres://unused', 'snapshot', { script: healthy });
    try {
      assert.equal((await first.read(RANGE)).rows, 1);
    } finally {
      await first.close();
    }
    assert.equal(readerThreadsRunning(), 1, 'the idle thread stays');
    const second = await startReaderThread('postgres://unused', 'snapshot', { script: healthy });
    try {
      assert.equal(readerThreadsRunning(), 1, 'and serves the next reader');
      assert.equal((await second.read(RANGE)).rows, 1);
    } finally {
      await second.close();
    }
    await endIdleReaderThreads();
    assert.equal(readerThreadsRunning(), 0);
  });

  test('an idle thread ends after its idle time; one that died idle takes no other thread with it', async () => {
    const healthy = script('healthy-long', 'parentPort.postMessage({ call: request.call });');
    const kept = await startReaderThread('postgres://unused', 'snapshot', { script: healthy, idleMs: 60_000 });
    await kept.close();
    const dies = await startReaderThread('postgres://unused', 'snapshot', { script: diesWhenIdle(), idleMs: 100 });
    await dies.close();
    const expires = await startReaderThread('postgres://unused', 'snapshot', { script: script('expires', ''), idleMs: 100 });
    await expires.close();
    await untilRunning(1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(readerThreadsRunning(), 1, 'the thread that died and the one idle past its time are gone');
    const again = await startReaderThread('postgres://unused', 'snapshot', { script: healthy });
    try {
      assert.equal(readerThreadsRunning(), 1, 'the thread kept idle serves the next reader');
    } finally {
      await again.close();
    }
    await endIdleReaderThreads();
    assert.equal(readerThreadsRunning(), 0);
  });
});
