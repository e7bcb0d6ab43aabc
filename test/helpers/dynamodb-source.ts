/** A DynamoDB source over the fake backend, with retries and polls short enough for tests. */
import { parseConfig } from '../../src/config/load';
import type { LakesyncConfig } from '../../src/config/schema';

export interface FakeDynamoOptions {
  /** Merged into `source` (e.g. exportWindow). */
  source?: Record<string, unknown>;
  /** retry.maximumAttempts; 3 by default. */
  maximumAttempts?: number;
  /** Merged into `timeouts`. */
  timeouts?: Record<string, unknown>;
  /** Other settings of the source (concurrency, cost, target...). */
  settings?: Record<string, unknown>;
}

/** One source's settings, for configs of several sources. */
export function fakeDynamoSource(options: FakeDynamoOptions = {}): Record<string, unknown> {
  return {
    backend: 'local',
    database: 'dynamodb',
    source: { kind: 'dynamodb', region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000', ...options.source },
    target: { namespace: 'shop' },
    retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: options.maximumAttempts ?? 3 },
    timeouts: { heartbeatSeconds: 2, pollInitialSeconds: 1, pollMaximumSeconds: 1, ...options.timeouts },
    ...options.settings,
  };
}

export function fakeDynamoConfig(taskQueue: string, name: string, options: FakeDynamoOptions = {}): LakesyncConfig {
  return parseConfig({ temporal: { taskQueue }, sources: { [name]: fakeDynamoSource(options) } });
}
