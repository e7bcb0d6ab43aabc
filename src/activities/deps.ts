/** What every activity gets from the worker: the config and the ports of each source. */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { LakesyncConfig, SourceConfig } from '../config/schema';
import { sourceConfig } from '../config/load';
import { isPortError } from '../errors';
import type { Ports } from '../ports';
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

/**
 * Turns a port error into a Temporal failure whose message names the step and the table.
 * Retryable kinds (throttling, transient) are retried by Temporal; the rest fail at once.
 */
export function failure(step: string, subject: string, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  // The message and every cause are recorded in the workflow history: no credential may reach it.
  const message = redactSecrets(`${step} failed for ${subject}: ${(err as Error)?.message ?? String(err)}`);
  if (isPortError(err)) {
    return ApplicationFailure.create({ message, type: err.code, nonRetryable: !err.retryable, cause: redactError(err) });
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
