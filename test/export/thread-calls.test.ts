/**
 * Requests to a worker thread: each settles with its own reply, and a thread that throws or exits
 * fails every request still waiting, and every later one, with why. The threads here are small
 * inline scripts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ThreadCalls, type ThreadCallsOptions } from '../../src/local/export/thread-calls';

type Request = { call: number; op: string; value?: number };
type Reply = { call: number; value?: number; error?: string };

const OPTIONS: ThreadCallsOptions<Reply> = {
  failure: (reply) => (reply.error === undefined ? undefined : new Error(reply.error)),
  gone: (end) => new Error('error' in end ? `thread failed: ${end.error.message}` : `thread exited with code ${end.code}`),
};

/** A thread answering `double` after `value` ms (so replies can come out of order), failing `fail`, and doing `onOther` for anything else. */
function thread(onOther = ''): Worker {
  return new Worker(
    `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (request) => {
  if (request.op === 'double') setTimeout(() => parentPort.postMessage({ call: request.call, value: request.value * 2 }), request.value);
  else if (request.op === 'fail') parentPort.postMessage({ call: request.call, error: 'no such file' });
  else { ${onOther} }
});`,
    { eval: true },
  );
}

describe('thread calls', () => {
  test('each request settles with its own reply, in whatever order the replies come', async () => {
    const calls = new ThreadCalls<Request, Reply>(thread(), OPTIONS);
    try {
      const slow = calls.call({ op: 'double', value: 60 });
      const failing = assert.rejects(calls.call({ op: 'fail' }), /^Error: no such file$/);
      const fast = calls.call({ op: 'double', value: 1 });
      assert.equal((await fast).value, 2);
      await failing;
      assert.equal((await slow).value, 120);
      assert.equal(calls.ended, undefined, 'a failed request does not end the thread');
    } finally {
      await calls.worker.terminate();
    }
  });

  test('a thread that exits fails the requests waiting on it, and every later one without sending it', async () => {
    const worker = thread('if (request.op === "exit") process.exit(3);');
    let sent = 0;
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (message: unknown, transfer?: readonly ArrayBuffer[]) => {
      sent += 1;
      post(message, transfer as ArrayBuffer[]);
    };
    const calls = new ThreadCalls<Request, Reply>(worker, OPTIONS);
    const waiting = assert.rejects(calls.call({ op: 'double', value: 5_000 }), /^Error: thread exited with code 3$/);
    const exiting = assert.rejects(calls.call({ op: 'exit' }), /^Error: thread exited with code 3$/);
    await Promise.all([waiting, exiting]);
    assert.equal(await calls.exited, 3);
    await assert.rejects(calls.call({ op: 'double', value: 1 }), /^Error: thread exited with code 3$/);
    assert.equal(sent, 2, 'nothing is posted to a thread that is gone');
  });

  test('a thread that throws fails its requests with the error, which its exit does not replace', async () => {
    const calls = new ThreadCalls<Request, Reply>(thread('throw new Error("parser bug");'), OPTIONS);
    const waiting = assert.rejects(calls.call({ op: 'double', value: 5_000 }), /^Error: thread failed: parser bug$/);
    const throwing = assert.rejects(calls.call({ op: 'throw' }), /^Error: thread failed: parser bug$/);
    await Promise.all([waiting, throwing]);
    await calls.exited;
    await assert.rejects(calls.call({ op: 'double', value: 1 }), /^Error: thread failed: parser bug$/);
  });

  test('ending on purpose fails the waiting requests with the reason given, not with the exit that follows', async () => {
    const calls = new ThreadCalls<Request, Reply>(thread(), OPTIONS);
    const waiting = assert.rejects(calls.call({ op: 'double', value: 5_000 }), /^Error: closed$/);
    calls.end(new Error('closed'));
    await calls.worker.terminate();
    await waiting;
    await assert.rejects(calls.call({ op: 'double', value: 1 }), /^Error: closed$/);
  });

  test('with refOnlyWhileBusy, a waiting request keeps the process alive and an idle thread does not', () => {
    // A process whose only work is one request, answered after 300 ms by a thread that never ends.
    const module = join(__dirname, '../../src/local/export/thread-calls.js');
    const script = `
const { Worker } = require('node:worker_threads');
const { ThreadCalls } = require(${JSON.stringify(module)});
const worker = new Worker("require('node:worker_threads').parentPort.on('message', (r) => setTimeout(() => require('node:worker_threads').parentPort.postMessage({ call: r.call, value: 42 }), 300));", { eval: true });
const calls = new ThreadCalls(worker, { failure: () => undefined, gone: () => new Error('gone'), refOnlyWhileBusy: true });
calls.call({ op: 'answer' }).then((reply) => console.log('reply ' + reply.value));
`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.error, undefined, `the process did not end by itself: ${child.error?.message}`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'reply 42', 'the process stayed alive until the reply came');
  });
});
