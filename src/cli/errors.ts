/**
 * Exit codes scripts can rely on, and the errors that choose them:
 * 0 success, 1 a partial or failed cycle (or a runtime failure), 2 a usage or config error, or a
 * request the source cannot serve yet (no source workflow runs); nothing was done.
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../errors';
import { redactSecrets } from '../redact';
import { shownLines } from './format';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The command line or the request is wrong, or the source cannot serve it yet; nothing was done. Exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Something outside the request failed (Temporal unreachable, no worker, a backend error). Exit code 1. */
export class RuntimeFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeFailure';
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof ConfigError || err instanceof UsageError) return EXIT_USAGE;
  if (err instanceof CommanderError) {
    // Help and version are not errors; every other commander error is a usage error.
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  return EXIT_FAILED;
}

export function errorText(err: unknown): string {
  // A driver or SDK error may quote a connection string: what is printed carries no credential.
  // It may also name a source table holding control characters: they are shown escaped.
  return `error: ${shownLines(redactSecrets(messageOf(err)))}`;
}

function messageOf(err: unknown): string {
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof RuntimeFailure) return err.message;
  return err instanceof Error ? withCauses(err) : String(err);
}

/** A library error's message followed by its causes' ("Failed to query Workflow: 4 DEADLINE_EXCEEDED: ..."). */
function withCauses(err: Error): string {
  const parts = [err.message];
  let cause = err.cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    const message = cause.message;
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    cause = cause.cause;
  }
  return parts.join(': ');
}
