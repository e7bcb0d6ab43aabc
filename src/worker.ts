/**
 * The lakesync worker: loads lakesync.yaml, builds each source's ports, and runs the
 * workflows and activities on the configured task queue until it is stopped.
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { createPorts, defaultDataRoot } from './backends';
import { loadConfigFile } from './config/load';
import type { LakesyncConfig } from './config/schema';
import { type MetricsEndpoint, formatAddress, sdkMetricsPort, sdkTelemetry, serveWorkerMetrics } from './metrics';
import type { Ports } from './ports';
import { TemporalNamespaceMissing, TemporalUnreachable, type TemporalTarget, connectClient, temporalTarget } from './temporal';
import { workflowBundle } from './workflow-bundle';
import { SEARCH_ATTRIBUTE_TYPES } from './workflows/search';

export interface WorkerOptions {
  config: LakesyncConfig;
  /** Ports per source; built from the config when absent (tests pass fakes). */
  ports?: Record<string, Ports>;
  dataRoot?: string;
  /** Largest number of activities run at once (default 100). */
  maxConcurrentActivities?: number;
  /** The address of a dev server this process started: the worker serves it, whatever the profile or the config say. */
  localServer?: string;
}

export async function buildPorts(config: LakesyncConfig, dataRoot: string): Promise<Record<string, Ports>> {
  const out: Record<string, Ports> = {};
  for (const [name, source] of Object.entries(config.sources)) out[name] = await createPorts(name, source, { dataRoot });
  return out;
}

export async function createWorker(options: WorkerOptions): Promise<{ worker: Worker; client(): Promise<Client>; close(): Promise<void> }> {
  const target = temporalTarget(options.config, options.localServer);
  const ports = options.ports ?? (await buildPorts(options.config, options.dataRoot ?? defaultDataRoot()));
  const connection = await NativeConnection.connect(target.connect).catch(async (err: unknown) => {
    // Ports built here hold pools and servers that would keep the process alive.
    if (!options.ports) for (const p of Object.values(ports)) await p.close?.();
    throw new TemporalUnreachable(target, err);
  });
  let client: Promise<Client> | undefined;
  // A connection that failed (Temporal unreachable for a moment) is not kept: the next use connects again.
  const getClient = () =>
    (client ??= connectClient(target).catch((err: unknown) => {
      client = undefined;
      throw err;
    }));
  try {
    return await workerOn(connection, target, options, ports, getClient, async () => {
      await connection.close();
      // A connection still being made, or one that failed, has nothing to close.
      if (client) await (await client.catch(() => undefined))?.connection.close();
      for (const p of Object.values(ports)) await p.close?.();
    });
  } catch (err) {
    // The connection and the ports built here would keep the process alive after the error.
    await connection.close();
    if (!options.ports) for (const p of Object.values(ports)) await p.close?.();
    throw err;
  }
}

/** The worker on an open connection; a namespace the server does not have fails first, saying so. */
async function workerOn(
  connection: NativeConnection,
  target: TemporalTarget,
  options: WorkerOptions,
  ports: Record<string, Ports>,
  getClient: () => Promise<Client>,
  close: () => Promise<void>,
): Promise<{ worker: Worker; client(): Promise<Client>; close(): Promise<void> }> {
  await connection.workflowService.describeNamespace({ namespace: target.namespace }).catch((err: unknown) => {
    // gRPC NOT_FOUND. Another refusal (a key that may not describe namespaces) leaves the check to the worker itself.
    if ((err as { code?: number }).code === 5) throw new TemporalNamespaceMissing(target, err);
  });
  const searchAttributes = await searchAttributesRegistered(connection, target.namespace);
  if (!searchAttributes) {
    console.warn(`lakesync: search attributes ${Object.keys(SEARCH_ATTRIBUTE_TYPES).join(', ')} are not registered on namespace ${target.namespace}; the UI cannot filter cycles by them (lakesync dev registers them)`);
  }
  const activities = createActivities(
    {
      config: options.config,
      searchAttributes,
      portsFor: (source) => {
        const found = ports[source];
        if (!found) throw new Error(`source ${source} is not in this worker's config`);
        return found;
      },
    },
    getClient,
  );
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: target.taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 100,
  });
  return { worker, client: getClient, close };
}

/** The workflows set the lakesync search attributes only where the namespace has them. */
async function searchAttributesRegistered(connection: NativeConnection, namespace: string): Promise<boolean> {
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.keys(SEARCH_ATTRIBUTE_TYPES).every((name) => customAttributes && name in customAttributes);
  } catch {
    return false;
  }
}

export interface RunWorkerOptions {
  /** Serve Prometheus metrics there (already listening, so a bad address was refused before). */
  metrics?: MetricsEndpoint;
}

/** Runs until SIGINT/SIGTERM. */
export async function runWorker(configPath: string, options: RunWorkerOptions = {}): Promise<void> {
  const { metrics } = options;
  try {
    const config = loadConfigFile(configPath);
    // The SDK's metrics need a Runtime that exports them, installed before any connection exists.
    const sdkPort = metrics ? await sdkMetricsPort() : undefined;
    if (sdkPort !== undefined) Runtime.install({ telemetryOptions: sdkTelemetry(sdkPort) });
    const { worker, client, close } = await createWorker({ config });
    const target = temporalTarget(config);
    console.log(`lakesync worker on ${target.address}, namespace ${target.namespace}, task queue ${target.taskQueue}`);
    if (metrics) {
      serveWorkerMetrics(metrics, { config, taskQueue: target.taskQueue, client, ...(sdkPort !== undefined ? { sdkPort } : {}) });
      console.log(`metrics: http://${formatAddress({ ...metrics.address, port: metrics.port })}/metrics`);
    }
    try {
      await worker.run();
    } finally {
      await close();
    }
  } finally {
    await metrics?.close();
  }
}

if (require.main === module) {
  const configPath = process.argv[2] ?? process.env.LAKESYNC_CONFIG ?? 'lakesync.yaml';
  runWorker(configPath).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(err instanceof Error && err.name === 'ConfigError' ? 2 : 1);
  });
}
