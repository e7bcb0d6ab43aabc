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
    const reader = await startReaderThread('postgres://unused', 'snapshot', exits);
    await assert.rejects(reader.read(RANGE), /^Error: the export reader thread exited with code 3$/);
    await assert.rejects(reader.commit(), /exited with code 3/, 'a dead thread fails every later request at once');
    await reader.close();
    assert.equal(readerThreadsRunning(), 0, 'no thread is left running');
    const next = await startReaderThread('postgres://unused', 'snapshot', exits);
    assert.equal(readerThreadsRunning(), 1, 'the next export gets a new thread');
    await next.close();
    await endIdleReaderThreads();
    assert.equal(readerThreadsRunning(), 0);
  });

  test('a thread that throws fails the read with the error', async () => {
    const reader = await startReaderThread('postgres://unused', 'snapshot', script('throws', "throw new Error('parser bug');"));
    await assert.rejects(reader.read(RANGE), /^Error: the export reader thread failed: parser bug$/);
    await reader.close();
    assert.equal(readerThreadsRunning(), 0);
  });

  test('a closed reader leaves its thread idle for the next one, which does not start another', async () => {
    const healthy = script('healthy', 'parentPort.postMessage({ call: request.call, written: { rows: 1, files: [], bytes: 0, indexes: [] } });');
    const first = await startReaderThread('postgres://unused', 'snapshot', healthy);
    assert.equal((await first.read(RANGE)).rows, 1);
    await first.close();
    assert.equal(readerThreadsRunning(), 1, 'the idle thread stays');
    const second = await startReaderThread('postgres://unused', 'snapshot', healthy);
    assert.equal(readerThreadsRunning(), 1, 'and serves the next reader');
    assert.equal((await second.read(RANGE)).rows, 1);
    await second.close();
    await endIdleReaderThreads();
    assert.equal(readerThreadsRunning(), 0);
  });
});
