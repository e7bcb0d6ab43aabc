/** What the CLI prints for a failure, and when a query counts as unanswered. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryNotRegisteredError, ServiceError } from '@temporalio/client';
import { unanswered } from '../../src/cli/context';
import { errorText, exitCodeOf, RuntimeFailure, UsageError } from '../../src/cli/errors';

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

describe('error text', () => {
  it('a library error shows its causes, so the reason is never hidden behind a generic message', () => {
    const err = new ServiceError('Failed to query Workflow', { cause: grpcError(14, 'UNAVAILABLE: connection refused') });
    assert.equal(errorText(err), 'error: Failed to query Workflow: 14 UNAVAILABLE: connection refused');
    assert.equal(exitCodeOf(err), 1);
  });

  it("lakesync's own errors are already complete sentences and print as they are", () => {
    const failure = new RuntimeFailure('status of lakesync/shop: no lakesync worker answered', { cause: new Error('4 DEADLINE_EXCEEDED') });
    assert.equal(errorText(failure), 'error: status of lakesync/shop: no lakesync worker answered');
    assert.equal(errorText(new UsageError('--tables needs at least one table')), 'error: --tables needs at least one table');
    assert.equal(exitCodeOf(new UsageError('x')), 2);
  });

  it('a repeated cause message is printed once', () => {
    const inner = new Error('disk full');
    assert.equal(errorText(new Error('write failed: disk full', { cause: inner })), 'error: write failed: disk full');
  });
});

describe('error text naming a source table with control characters', () => {
  it('shows them escaped, keeping the line breaks of a message written as several lines', () => {
    assert.equal(errorText(new UsageError('sync refused: unknown table(s) public.evil\u001b[2J')), 'error: sync refused: unknown table(s) public.evil\\x1b[2J');
    assert.equal(errorText(new Error('failed\u009b1m', { cause: new Error('on public.a\u007f') })), 'error: failed\\x9b1m: on public.a\\x7f');
    assert.equal(errorText(new UsageError('two\nlines')), 'error: two\nlines');
  });
});

describe('unanswered queries', () => {
  it('DEADLINE_EXCEEDED, or any failure arriving at the deadline, means no worker answered', async () => {
    assert.equal(await unanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(4, 'DEADLINE_EXCEEDED: Deadline exceeded') }), 15_000), 'deadline');
    assert.equal(await unanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(2, 'UNKNOWN: context deadline exceeded') }), 3_000), 'deadline');
    assert.equal(await unanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(13, 'INTERNAL: query timed out') }), 14_500), 'deadline');
  });

  it('a refusal while the last workflow task failed (a worker stopped mid-task) also means no worker answered', async () => {
    const refused = new ServiceError('Failed to query Workflow', { cause: grpcError(9, 'FAILED_PRECONDITION: Cannot query workflow due to Workflow Task in failed state.') });
    assert.equal(await unanswered(refused, 40), 'workflow-task');
    assert.equal(await unanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(9, 'FAILED_PRECONDITION: namespace is not active') }), 40), undefined);
  });

  it('a fast failure, an unknown query or a missing workflow is reported as itself', async () => {
    assert.equal(await unanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(14, 'UNAVAILABLE: connection refused') }), 200), undefined);
    assert.equal(await unanswered(new QueryNotRegisteredError('no such query', 3), 15_000), undefined);
  });
});
