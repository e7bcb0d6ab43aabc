/** What every activity gets from the worker: the config and the ports of each source. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { LakesyncConfig, SourceConfig } from '../config/schema';
import { sourceConfig } from '../config/load';
import { isPortError } from '../errors';
import type { Ports } from '../ports';
import { keptStart } from '../payload-text';
import { redactError, redactSecrets } from '../redact';

export interface ActivityDeps {
  config: LakesyncConfig;
  portsFor(source: string): Ports;
  /** Whether the lakesync search attributes are registered on the namespace. */
  searchAttributes?: boolean;
}

export function sourceOf(deps: ActivityDeps, source: string): { settings: SourceConfig; ports: Ports } {
  try {
    return { settings: sourceConfig(deps.config, source), ports: deps.portsFor(source) };
  } catch (err) {
    throw ApplicationFailure.create({ message: redactSecrets((err as Error).message), type: 'ConfigError', nonRetryable: true });
  }
}

/** How much of an error an activity's failure carries. */
export const FAILURE_CHARACTERS = 8_000;
const WHOLE_IN_LOG = "the whole error is in the worker's log";

/**
 * `text` kept to its first `max` characters, saying `where` the whole is; when cut, the whole goes to
 * the worker's log as `what` with `fields` (outside an activity, to the console).
 */
export function keptLogged(text: string, max: number, where: string, what: string, fields: Record<string, unknown> = {}): string {
  const kept = keptStart(text, max, where);
  if (kept === text) return text;
  try {
    Context.current().log.warn(what, { ...fields, text });
  } catch {
    console.warn(what, text);
  }
  return kept;
}

/** An error (and its causes) with messages and stacks cut to their start. */
function shortError(err: Error): Error {
  const cause = err.cause instanceof Error ? { cause: shortError(err.cause) } : {};
  const copy = new Error(keptStart(err.message, FAILURE_CHARACTERS, WHOLE_IN_LOG), cause);
  copy.name = err.name;
  copy.stack = err.stack === undefined ? undefined : keptStart(err.stack, FAILURE_CHARACTERS, WHOLE_IN_LOG);
  return copy;
}

/**
 * Turns a port error into a Temporal failure whose message names the step and the table.
 * Retryable kinds (throttling, transient) are retried by Temporal; the rest fail at once.
 */
export function failure(step: string, subject: string, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  // The message and every cause are recorded in the workflow history: no credential may reach it.
  const whole = redactSecrets(`${step} failed for ${subject}: ${(err as Error)?.message ?? String(err)}`);
  // Temporal refuses a failure above 2 MB (message, cause and stacks): the activity would end as timed out, its error lost.
  const message = keptLogged(whole, FAILURE_CHARACTERS, WHOLE_IN_LOG, 'an activity failed with a long error; its failure carries the start');
  if (isPortError(err)) {
    return ApplicationFailure.create({ message, type: err.code, nonRetryable: !err.retryable, cause: shortError(redactError(err)) });
  }
  return ApplicationFailure.create({ message, type: (err as Error)?.name ?? 'Error', nonRetryable: false });
}

export async function step<T>(name: string, subject: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // A cancelled activity must end as cancelled, not as a failure of its step.
    if (err instanceof CancelledFailure) throw err;
    throw failure(name, subject, err);
  }
}

/** The manifest stored under `key`, or undefined when there is none. */
export function findManifest<T>(ports: Ports, key: string): Promise<T | undefined> {
  return unlessNotFound(() => ports.manifests.get<T>(ports.manifests.ref(key)));
}

/** The value, or undefined when the backend says it does not exist. */
export async function unlessNotFound<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isPortError(err) && err.kind === 'not-found') return undefined;
    throw err;
  }
}
