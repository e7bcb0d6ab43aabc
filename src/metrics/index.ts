/** `lakesync worker --metrics`: lakesync's per table and per cycle metrics plus the Temporal SDK's, on one endpoint. */
import type { Client } from '@temporalio/client';
import type { LakesyncConfig } from '../config/schema';
import { parseMetricsAddress } from './address';
import { StatusReader } from './reader';
import { LakesyncRegistry } from './registry';
import { MetricsEndpoint } from './server';
import { MetricsService } from './service';
import { sdkMetricsText } from './sdk';

export { MetricsAddressError, formatAddress, parseMetricsAddress } from './address';
export { MetricsEndpoint } from './server';
export { sdkMetricsPort, sdkTelemetry } from './sdk';

/** A refresh reads the sources at most this often, whatever the scrape interval. */
export const METRICS_CACHE_MS = 5_000;
/** A scrape waits at most this long for Temporal; unanswered sources count as scrape errors. */
export const METRICS_TIMEOUT_MS = 5_000;

/** Parses `--metrics` and listens there: both fail with a MetricsAddressError before any worker starts. */
export function openMetricsEndpoint(raw: string): Promise<MetricsEndpoint> {
  return MetricsEndpoint.listen(parseMetricsAddress(raw));
}

export interface WorkerMetricsOptions {
  config: LakesyncConfig;
  /** The worker's task queue. */
  taskQueue: string;
  /** The worker's Temporal client. */
  client(): Promise<Client>;
  /** The loopback port of the SDK's own exporter, when the Runtime has one. */
  sdkPort?: number;
  log?(line: string): void;
  cacheMs?: number;
  timeoutMs?: number;
}

/** Makes `endpoint` answer scrapes with the config's sources and the SDK's metrics. */
export function serveWorkerMetrics(endpoint: MetricsEndpoint, options: WorkerMetricsOptions): void {
  const registry = new LakesyncRegistry();
  const timeoutMs = options.timeoutMs ?? METRICS_TIMEOUT_MS;
  const reader = new StatusReader({
    config: options.config,
    taskQueue: options.taskQueue,
    client: options.client,
    timeoutMs,
    log: options.log ?? ((line) => console.warn(line)),
    onError: (source) => registry.countScrapeError(source),
  });
  const sdkPort = options.sdkPort;
  const service = new MetricsService({
    registry,
    read: () => reader.read(),
    ...(sdkPort !== undefined ? { sdkText: () => sdkMetricsText(sdkPort, timeoutMs) } : {}),
    cacheMs: options.cacheMs ?? METRICS_CACHE_MS,
  });
  endpoint.serve(() => service.exposition());
}
