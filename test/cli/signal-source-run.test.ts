/**
 * signalSourceRun against a client whose source workflow ends each run before the signal reaches it:
 * it follows the source to each next run it finds and checks, and gives up after a bound with what to
 * do, rather than signal unchecked or loop for ever. (The real server's cases are in
 * test/core/wait-lost-request.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { type Connected, signalSourceRun } from '../../src/cli/context';
import { RuntimeFailure, UsageError } from '../../src/cli/errors';
import { requestRerunSignal } from '../../src/workflows/messages';

/** A client over one source workflow whose runs end as soon as they are described; `queues` gives each new run's task queue. */
function endingRuns(queues: string[]): { conn: Connected; signalled: string[] } {
  const signalled: string[] = [];
  let runs = 0;
  const handle = (workflowId: string, runId?: string) => ({
    workflowId,
    describe: async () => {
      runs += 1;
      return { status: { name: 'RUNNING' }, runId: `run-${runs}`, taskQueue: queues[Math.min(runs, queues.length) - 1] };
    },
    signal: async () => {
      signalled.push(runId ?? 'whichever runs');
      throw new WorkflowNotFoundError('workflow execution already completed', workflowId, runId);
    },
  });
  const client = { workflow: { getHandle: handle } } as unknown as Client;
  return { conn: { client, target: { address: 'unused', namespace: 'default', taskQueue: 'lakesync', connect: {} } }, signalled };
}

const request = { tables: ['public.orders'], requestId: 'rerun-1', requestedBy: 'test' };

test('a source whose run ends before each signal: each next run is signalled by its id, then the rerun is refused with what to do', async () => {
  const { conn, signalled } = endingRuns(['lakesync']);
  await assert.rejects(signalSourceRun(conn, 'shop', { runId: 'run-0' }, requestRerunSignal, request, 'rerun'), (err: unknown) => {
    assert.ok(err instanceof RuntimeFailure, String(err));
    assert.equal(err.message, 'the rerun could not be signalled to lakesync/shop: its run ended 3 times before the signal reached it; send the rerun again');
    return true;
  });
  assert.deepEqual(signalled, ['run-0', 'run-1', 'run-2'], 'each run found, by its id, never whichever runs');
});

test('a next run on another task queue is refused before it is signalled', async () => {
  const { conn, signalled } = endingRuns(['other-queue']);
  await assert.rejects(signalSourceRun(conn, 'shop', { runId: 'run-0' }, requestRerunSignal, request, 'rerun'), (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /^rerun refused: lakesync\/shop runs on task queue other-queue, but this config names task queue lakesync/);
    return true;
  });
  assert.deepEqual(signalled, ['run-0']);
});
