/**
 * What most commands need: the config named by --config, a Temporal client with a clear error
 * when the server cannot be reached, and the source workflow's status.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { loadConfigFile, sourceConfig } from '../config/load';
import { selectTable } from '../config/tables';
import type { LakesyncConfig, SourceConfig } from '../config/schema';
import { sourceWorkflowId } from '../ids';
import { TABLE_NAME } from '../names';
import type { Ports } from '../ports';
import { connectTimeoutMs, TemporalNamespaceMissing, TemporalUnreachable, connectClient, otherTaskQueueReason, runningSourceRun, runningSourceWorkflow, type TemporalTarget, temporalTarget } from '../temporal';
import { readRequestStanding, readSourceStatus, readStatusSummary } from '../status-pages';
import { longTableNamesProblem } from '../workflows/ledger';
import type { RequestStanding, SourceStatus } from '../workflows/messages';
import { RuntimeFailure, UsageError } from './errors';
import type { CliIO } from './io';

export const DEFAULT_CONFIG_FILE = 'lakesync.yaml';

/** Hooks tests use to observe or replace what a command touches. */
export interface CliDeps {
  /** Builds a source's ports (default: the backend its config names). */
  portsFor?(name: string, source: SourceConfig, config: LakesyncConfig): Promise<Ports>;
}

export interface CommandEnv {
  io: CliIO;
  deps: CliDeps;
}

export interface ConfigOption {
  config?: string;
}

export function configPath(io: CliIO, opts: ConfigOption): string {
  const file = opts.config ?? DEFAULT_CONFIG_FILE;
  return isAbsolute(file) ? file : resolve(io.cwd, file);
}

export function loadConfig(io: CliIO, opts: ConfigOption): LakesyncConfig {
  return loadConfigFile(configPath(io, opts));
}

export function loadSource(io: CliIO, opts: ConfigOption, source: string): { config: LakesyncConfig; source: SourceConfig } {
  const file = configPath(io, opts);
  const config = loadConfigFile(file);
  return { config, source: sourceConfig(config, source, file) };
}

export interface Connected {
  client: Client;
  target: TemporalTarget;
}

/**
 * Connects, runs `fn`, and always closes the connection. A server that does not answer within
 * temporal.connectTimeoutSeconds, or `waitAtMostMs` when shorter (a refused connection is retried
 * until then), is unreachable.
 */
export async function withTemporal<T>(config: LakesyncConfig, fn: (c: Connected) => Promise<T>, waitAtMostMs?: number): Promise<T> {
  const target = temporalTarget(config);
  const timeoutMs = Math.min(waitAtMostMs ?? Infinity, connectTimeoutMs(config));
  let client: Client;
  try {
    client = await connectClient(target, timeoutMs);
    await client.connection.withDeadline(Date.now() + timeoutMs, () => client.workflowService.getSystemInfo({}));
  } catch (err) {
    throw new RuntimeFailure(new TemporalUnreachable(target, err, timeoutMs).message, { cause: err });
  }
  try {
    return await fn({ client, target });
  } catch (err) {
    throw await withNamespaceFix(err, target);
  } finally {
    await client.connection.close();
  }
}

/** The SDK's "Namespace not found" as an error that says which setting names it and how to create it. */
async function withNamespaceFix(err: unknown, target: TemporalTarget): Promise<unknown> {
  const { NamespaceNotFoundError } = await import('@temporalio/client');
  if (!(err instanceof NamespaceNotFoundError)) return err;
  return new RuntimeFailure(new TemporalNamespaceMissing(target, err).message, { cause: err });
}

/** How long a query may wait for a worker to answer before the command gives up. */
const QUERY_DEADLINE_MS = 15_000;

/**
 * `fn`, a query of the workflow `workflowId`, failed with a clear error when no worker answers it.
 * A workflow runs on the task queue it was started on: when that is not the config's (temporal.taskQueue
 * or LAKESYNC_TASK_QUEUE changed since), the error names both, since a worker on the config's queue never serves it.
 */
export async function withQueryDeadline<T>(client: Client, what: string, target: TemporalTarget, fn: () => Promise<T>, workflowId?: string): Promise<T> {
  const startedAt = Date.now();
  try {
    return await client.connection.withDeadline(startedAt + QUERY_DEADLINE_MS, fn);
  } catch (err) {
    const reason = await unanswered(err, Date.now() - startedAt);
    const queue = reason && workflowId ? await workflowTaskQueue(client, workflowId) : undefined;
    if (queue !== undefined && queue !== target.taskQueue) {
      throw new RuntimeFailure(
        `${what}: no lakesync worker answered: ${workflowId} runs on task queue ${queue}, but the config names task queue ${target.taskQueue} (temporal.taskQueue, or LAKESYNC_TASK_QUEUE), where its workers poll; ` +
          `a workflow stays on the task queue it was started on: set the task queue back to ${queue} (or run a worker with it), or cancel the workflow so that the next sync starts it on ${target.taskQueue}`,
        { cause: err },
      );
    }
    if (reason === 'deadline') {
      throw new RuntimeFailure(`${what}: no lakesync worker answered within ${QUERY_DEADLINE_MS / 1000} s on task queue ${target.taskQueue}; start one with "lakesync worker"`, { cause: err });
    }
    if (reason === 'workflow-task') {
      const server = (err as { cause?: { details?: string } }).cause?.details ?? '';
      throw new RuntimeFailure(
        `${what}: no lakesync worker answered on task queue ${target.taskQueue} (the workflow waits for a worker to finish its next workflow task: ${server}); start one with "lakesync worker", or read its log if one runs`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** The task queue a workflow runs on, or undefined when it cannot be told within a few seconds. */
async function workflowTaskQueue(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    return (await client.connection.withDeadline(Date.now() + 5_000, () => client.workflow.getHandle(workflowId).describe())).taskQueue;
  } catch {
    return undefined;
  }
}

/**
 * Why no worker answered a query, if none did: gRPC DEADLINE_EXCEEDED (status 4) or any failure
 * that came at the deadline ('deadline'), or the server refusing while the workflow's last
 * workflow task failed or timed out, as after a worker stopped mid-task (FAILED_PRECONDITION).
 */
export async function unanswered(err: unknown, elapsedMs: number): Promise<'deadline' | 'workflow-task' | undefined> {
  const { QueryNotRegisteredError, WorkflowNotFoundError } = await import('@temporalio/client');
  if (err instanceof QueryNotRegisteredError || err instanceof WorkflowNotFoundError) return undefined;
  const cause = (err as { cause?: { code?: number; message?: string } }).cause;
  if (cause?.code === 4 || /deadline/i.test(`${(err as Error).message} ${cause?.message ?? ''}`)) return 'deadline';
  if (cause?.code === 9 && /workflow task/i.test(cause.message ?? '')) return 'workflow-task';
  return elapsedMs >= QUERY_DEADLINE_MS - 1_000 ? 'deadline' : undefined;
}

/**
 * The error of a command that needs the source workflow when none runs (never synced, or
 * terminated): a request the source cannot serve yet, so a usage error (exit 2), whatever the command.
 */
export function noSourceWorkflow(source: string, consequence: string): UsageError {
  return new UsageError(`no source workflow ${sourceWorkflowId(source)} runs, so ${consequence}: run "lakesync sync ${source}" first`);
}

/**
 * The source workflow's status, or undefined when no source workflow runs (never synced,
 * or terminated): the caller decides whether that is an error.
 */
export async function sourceStatus(conn: Connected, source: string): Promise<SourceStatus | undefined> {
  // A large source answers in pages: the status is read whole.
  return readRunningSource(conn, source, 'status', readSourceStatus);
}

/**
 * What `read` reads of the running source workflow, within the query deadline; undefined when none runs.
 * `run`, the running workflow a caller has just found, is read without looking it up again.
 */
async function readRunningSource<T>({ client, target }: Connected, source: string, what: string, read: (handle: WorkflowHandle) => Promise<T>, run?: { handle: WorkflowHandle }): Promise<T | undefined> {
  const handle = run ? run.handle : await runningSourceWorkflow(client, source);
  if (!handle) return undefined;
  return withQueryDeadline(client, `${what} of ${sourceWorkflowId(source)}`, target, () => read(handle), handle.workflowId);
}

/**
 * The running source workflow a sync or rerun is sent to; undefined when none runs. Refused (exit 2)
 * before anything is sent when it runs on another task queue than the config's: its workers there
 * would serve the request with another config.
 */
export async function sourceRunForRequest({ client, target }: Connected, source: string, what: string): Promise<{ handle: WorkflowHandle; runId: string } | undefined> {
  const run = await runningSourceRun(client, source);
  const reason = run && otherTaskQueueReason(source, run.taskQueue, target.taskQueue);
  if (reason) throw new UsageError(`${what} refused: ${reason}`);
  return run;
}

/**
 * The source's status without its paged parts (ledger, failed tables, last cycle's tables): one query, cheap to poll.
 * With `requestIds`, the recent cycles' request ids and the dropped requests are read from their pages when they were paged (a waiter looks its id up there).
 * With `run` (as sourceRunForRequest found it), that run is read without describing the workflow again.
 */
export async function sourceStatusSummary(conn: Connected, source: string, options: { requestIds?: boolean; run?: { handle: WorkflowHandle } } = {}): Promise<SourceStatus | undefined> {
  const { run, ...read } = options;
  return readRunningSource(conn, source, 'status', (handle) => readStatusSummary(handle, read), run);
}

/**
 * Where one request stands (the source's `request` query): undefined when the source workflow does
 * not run; null when its worker does not know the query (a version from before it).
 */
export async function sourceRequestStanding(conn: Connected, source: string, requestId: string): Promise<RequestStanding | null | undefined> {
  return readRunningSource(conn, source, `request ${requestId}`, (handle) => readRequestStanding(handle, requestId));
}

/**
 * Splits `a,b, c` into table names, each trimmed; rejects empty lists, names the config would
 * not take as a table key (a table name may hold spaces, as `public.Odd Name`) and names longer
 * than the source takes.
 */
export function tableList(raw: string, flag: string): string[] {
  const tables = raw.split(',').map((t) => t.trim()).filter(Boolean);
  if (tables.length === 0) throw new UsageError(`${flag} needs at least one table, e.g. ${flag} public.orders,public.customers`);
  const bad = tables.filter((t) => !TABLE_NAME.test(t));
  if (bad.length > 0) throw new UsageError(`${flag}: ${bad.join(', ')} is not schema.table`);
  // The source drops a request naming a longer table, whatever its state: a schedule would fail at every firing.
  const long = longTableNamesProblem({ tables });
  if (long) throw new UsageError(`${flag}: ${long}`);
  return [...new Set(tables)];
}

/** `tableList`, refusing tables the source's include/exclude rules leave out: no request is sent that could only fail. */
export function includedTableList(source: SourceConfig, raw: string, flag: string): string[] {
  const tables = tableList(raw, flag);
  const excluded = tables.flatMap((t) => {
    const selection = selectTable(source, t);
    return selection.included ? [] : [`${t} (${selection.rule})`];
  });
  if (excluded.length > 0) throw new UsageError(`${flag}: the source's rules leave out ${excluded.join(', ')}: remove them from ${flag}, or change include/exclude in the config`);
  return tables;
}

/**
 * Sends `update` with `arg` to the source workflow: the workflow checks the request before anything is queued,
 * and its refusal is a usage error. Its answer; undefined when the running workflow predates the update (its
 * worker has no handler for it): the caller signals it instead.
 */
export async function updateSource<Ret, Arg>(conn: Connected, source: string, update: UpdateDefinition<Ret, [Arg]>, arg: Arg, what: string): Promise<{ answer: Ret } | undefined> {
  try {
    return { answer: await conn.client.workflow.getHandle(sourceWorkflowId(source)).executeUpdate(update, { args: [arg] }) };
  } catch (err) {
    const { WorkflowUpdateFailedError } = await import('@temporalio/client');
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    const reason = err.cause?.message ?? err.message;
    if (/no registered handler for update/i.test(reason)) return undefined;
    throw new UsageError(`${what} refused: ${reason}`);
  }
}

/** How many times a signal follows the source workflow to its next run before giving up. */
const SIGNAL_ATTEMPTS = 3;

/**
 * Signals `signal` with `arg` to `run`, the run sourceRunForRequest has just found and checked, not to
 * whichever runs by the time it arrives (started again since, perhaps on another task queue). A run that
 * has since continued as new or ended refuses it; the run going on then is found, checked and signalled.
 * The run that took the signal: a waiter knows by it whether the request was lost with that run.
 */
export async function signalSourceRun<Arg>(conn: Connected, source: string, run: { runId: string }, signal: SignalDefinition<[Arg]>, arg: Arg, what: string): Promise<string> {
  const { WorkflowNotFoundError } = await import('@temporalio/client');
  let target = run;
  for (let attempt = 1; ; attempt++) {
    try {
      await conn.client.workflow.getHandle(sourceWorkflowId(source), target.runId).signal(signal, arg);
      return target.runId;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      if (attempt === SIGNAL_ATTEMPTS) {
        throw new RuntimeFailure(`the ${what} could not be signalled to ${sourceWorkflowId(source)}: its run ended ${SIGNAL_ATTEMPTS} times before the signal reached it; send the ${what} again`);
      }
    }
    const next = await sourceRunForRequest(conn, source, what);
    if (!next) throw noSourceWorkflow(source, `the ${what} cannot be sent to it (its run ${target.runId} ended before the signal reached it)`);
    target = next;
  }
}
