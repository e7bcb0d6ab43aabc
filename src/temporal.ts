/** Temporal connections: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the envconfig profile win over lakesync.yaml. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { hostPortProblem } from './config/address';
import type { LakesyncConfig } from './config/schema';
import { ConfigError } from './errors';
import { sourceWorkflowId } from './ids';

export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
  connect: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

/**
 * `localServer`: the address of a dev server this process started (`lakesync dev`): the target is
 * that plain local server, so no profile's address, namespace, TLS or API key applies to it.
 */
export function temporalTarget(config: LakesyncConfig, localServer?: string): TemporalTarget {
  if (localServer !== undefined) {
    return { address: localServer, namespace: nameFromEnv('TEMPORAL_NAMESPACE', 'namespace') ?? config.temporal.namespace, taskQueue: nameFromEnv('LAKESYNC_TASK_QUEUE', 'taskQueue') ?? config.temporal.taskQueue, connect: { address: localServer } };
  }
  const env = loadClientConnectConfig();
  const fromEnv = process.env.TEMPORAL_ADDRESS;
  // Checked as temporal.address is: the variable wins over the config, so a typo there would go unseen.
  const problem = fromEnv !== undefined ? hostPortProblem(fromEnv) : undefined;
  if (problem) throw new ConfigError([{ path: 'TEMPORAL_ADDRESS (environment variable)', value: fromEnv, message: problem }]);
  // As for the namespace, a profile (the Temporal CLI's envconfig) wins over the config: its TLS and
  // API key belong to its own server, never to the config's (the starter config names localhost:7233).
  const address = fromEnv ?? env.connectionOptions.address ?? config.temporal.address ?? 'localhost:7233';
  return {
    address,
    namespace: nameFromEnv('TEMPORAL_NAMESPACE', 'namespace') ?? env.namespace ?? config.temporal.namespace,
    taskQueue: nameFromEnv('LAKESYNC_TASK_QUEUE', 'taskQueue') ?? config.temporal.taskQueue,
    connect: { ...env.connectionOptions, address },
  };
}

/**
 * A variable that wins over temporal.<field>: set but blank (`export LAKESYNC_TASK_QUEUE=`), it
 * would name no task queue or namespace, which the server refuses only when a command runs.
 */
function nameFromEnv(variable: string, field: string): string | undefined {
  const value = process.env[variable];
  if (value !== undefined && value.trim() === '') {
    throw new ConfigError([{ path: `${variable} (environment variable)`, value, message: `is blank: unset it to use the config's temporal.${field}, or give a name` }]);
  }
  return value;
}

/** How long a command waits for Temporal to answer before it says the server cannot be reached. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** How long a command waits for Temporal to answer: temporal.connectTimeoutSeconds, else the default. */
export function connectTimeoutMs(config: LakesyncConfig): number {
  const seconds = config.temporal.connectTimeoutSeconds;
  return seconds === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : seconds * 1000;
}

/** Temporal did not answer at the configured address; the message says where and what to do. `waitedMs`: how long a command waited for it. */
export class TemporalUnreachable extends Error {
  constructor(target: Pick<TemporalTarget, 'address' | 'namespace'>, cause: unknown, waitedMs?: number) {
    const waited = waitedMs === undefined ? '' : ` No answer came within ${waitedMs / 1000} s: for a server slow to answer, raise temporal.connectTimeoutSeconds.`;
    super(
      `cannot reach Temporal at ${target.address} (namespace ${target.namespace}): ${(cause as Error).message}. ` +
        `Start a local server with "lakesync dev", or set temporal.address in the config (or TEMPORAL_ADDRESS).${waited}`,
      { cause },
    );
    this.name = 'TemporalUnreachable';
  }
}

/** The server has no such namespace; the message says which setting names it and how to create it. */
export class TemporalNamespaceMissing extends Error {
  constructor(target: Pick<TemporalTarget, 'address' | 'namespace'>, cause: unknown) {
    super(
      `the Temporal server at ${target.address} has no namespace ${JSON.stringify(target.namespace)} (temporal.namespace in the config, or TEMPORAL_NAMESPACE): ` +
        `create it with "temporal operator namespace create --namespace ${target.namespace}", or name one it has`,
      { cause },
    );
    this.name = 'TemporalNamespaceMissing';
  }
}

export async function connectClient(target: TemporalTarget, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<Client> {
  // Loaded on first use, so that commands that never reach Temporal start without the client.
  const temporal = await import('@temporalio/client');
  const { tls, apiKey, metadata } = target.connect;
  const connection = await temporal.Connection.connect({
    address: target.address,
    connectTimeout: connectTimeoutMs,
    ...(tls !== undefined ? { tls } : {}),
    ...(apiKey !== undefined && typeof apiKey === 'string' ? { apiKey } : {}),
    ...(metadata ? { metadata } : {}),
  });
  return new temporal.Client({ connection, namespace: target.namespace });
}

/** The handle of the source's workflow when one runs; undefined when it never started or has ended. */
export async function runningSourceWorkflow(client: Client, source: string): Promise<WorkflowHandle | undefined> {
  return (await runningSourceRun(client, source))?.handle;
}

/** The source's running workflow: its handle, run and the task queue it runs on; undefined when it never started or has ended. */
export async function runningSourceRun(client: Client, source: string): Promise<{ handle: WorkflowHandle; runId: string; taskQueue: string } | undefined> {
  const handle = client.workflow.getHandle(sourceWorkflowId(source));
  try {
    const description = await handle.describe();
    return description.status.name === 'RUNNING' ? { handle, runId: description.runId, taskQueue: description.taskQueue } : undefined;
  } catch (err) {
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Why a request must not go to a source workflow running on `runningOn` from a config naming
 * `configured`; undefined when the queues match. The workers on that queue serve their own config
 * (another deployment with a source of this name in the namespace, or this one before its task
 * queue changed): they would run the request against that config's source.
 */
export function otherTaskQueueReason(source: string, runningOn: string, configured: string): string | undefined {
  if (runningOn === configured) return undefined;
  return (
    `${sourceWorkflowId(source)} runs on task queue ${runningOn}, but this config names task queue ${configured}: ` +
    `the workers on ${runningOn} would serve the request with their own config (another deployment with a source named ${source} in this Temporal namespace, or this config before its task queue changed). ` +
    `If those workers are this deployment's, set temporal.taskQueue (or LAKESYNC_TASK_QUEUE) to ${runningOn}; otherwise give this source another name or use another Temporal namespace`
  );
}
