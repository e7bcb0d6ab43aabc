/**
 * A long error or reason is cut for its payload, and the worker's log gets it whole: the part cut
 * off must be somewhere. Run inside a mock activity whose logger the test reads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { failure, FAILURE_CHARACTERS, keptLogged } from '../../src/activities/deps';
import { PortError } from '../../src/errors';

/** A logger that keeps what it is given. */
function keepingLogger(): Logger & { warnings: { message: string; meta?: LogMetadata }[] } {
  const warnings: { message: string; meta?: LogMetadata }[] = [];
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (level === 'WARN') warnings.push({ message, ...(meta ? { meta } : {}) });
  };
  return {
    warnings,
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

const TRACE = `org.apache.spark.SparkException: Job aborted\n${'\tat org.apache.spark.Stage.run(Stage.scala:42)\n'.repeat(20_000)}`;

test("a step's failure with a 1 MB error carries its start; the worker's log has all of it", async () => {
  const logger = keepingLogger();
  const made = (await new MockActivityEnvironment(undefined, { logger }).run(async () => failure('load', 'table public.orders', new PortError('failed', 'JobFailed', TRACE)))) as Error;
  assert.ok(made.message.length <= FAILURE_CHARACTERS + 200, `the failure's message is ${made.message.length} characters`);
  assert.match(made.message, /^load failed for table public\.orders: org\.apache\.spark\.SparkException: Job aborted/);
  assert.match(made.message, /characters more; the whole error is in the worker's log\)$/);
  const logged = logger.warnings.find((w) => String(w.meta?.text ?? '').length > 0);
  assert.ok(logged?.meta?.text === `load failed for table public.orders: ${TRACE}`, `the log has ${String(logged?.meta?.text).length} characters of the whole error`);
});

test('a short text is kept whole and logs nothing', async () => {
  const logger = keepingLogger();
  const kept = (await new MockActivityEnvironment(undefined, { logger }).run(async () => keptLogged('export failed: bucket missing', 100, 'the log has it', 'export failure cause', { id: 'e1' }))) as string;
  assert.equal(kept, 'export failed: bucket missing');
  assert.deepEqual(logger.warnings, []);
});

test('a long reason keeps its start and is logged whole with its fields', async () => {
  const logger = keepingLogger();
  const reason = `S3 access denied: ${'x'.repeat(50_000)}`;
  const kept = (await new MockActivityEnvironment(undefined, { logger }).run(async () => keptLogged(reason, 1_000, "the whole cause is in the worker's log", 'export failure cause', { id: 'e1' }))) as string;
  assert.ok(kept.startsWith('S3 access denied: xxx') && kept.length < 1_200, `${kept.length} characters`);
  assert.equal(logger.warnings.length, 1);
  const [logged] = logger.warnings;
  assert.equal(logged!.message, 'export failure cause');
  assert.equal(logged!.meta?.id, 'e1');
  assert.ok(logged!.meta?.text === reason, `the log has ${String(logged!.meta?.text).length} of the reason's ${reason.length} characters`);
});
