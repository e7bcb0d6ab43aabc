/**
 * Reads what the metrics show from Temporal: each configured source's status (query on its
 * source workflow) and the results of its finished cycle workflows, within a deadline.
 */
import { type Client, type WorkflowExecutionStatusName, WorkflowNotFoundError } from '@temporalio/client';
import { lakeTableName, selectTable } from '../config/tables';
import type { LakesyncConfig } from '../config/schema';
import { sourceWorkflowId } from '../ids';
import type { CycleResult } from '../model';
import { otherTaskQueueReason, runningSourceRun } from '../temporal';
import { readSourceStatus, withCycleTables } from '../status-pages';
import type { SourceStatus } from '../workflows/messages';
import type { SourceReading } from './registry';
import { nextCycleToRead, sourceMetrics } from './values';

/** Cycle results kept in memory; finished results never change. */
const RESULT_CACHE = 200;
/** Workflow statuses that never change again. */
const CLOSED = new Set<WorkflowExecutionStatusName>(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW']);

export interface ReaderOptions {
  config: LakesyncConfig;
  /** The worker's task queue: a source workflow running on another is another deployment's. */
  taskQueue: string;
  client: () => Promise<Client>;
  /** How long one refresh may take in all before its unanswered sources count as failed. */
  timeoutMs: number;
  log(line: string): void;
  onError(source: string): void;
}

export class StatusReader {
  /** Finished cycle results by workflow id; null when never readable (gone, failed, terminated). */
  private readonly results = new Map<string, CycleResult | null>();

  constructor(private readonly options: ReaderOptions) {}

  async read(): Promise<SourceReading[]> {
    const deadline = Date.now() + this.options.timeoutMs;
    const sources = Object.keys(this.options.config.sources);
    return Promise.all(sources.map((source) => this.readSource(source, deadline)));
  }

  private async readSource(source: string, deadline: number): Promise<SourceReading> {
    try {
      const client = await byDeadline(this.options.client(), deadline, 'connecting to Temporal');
      const status = await byDeadline(
        client.connection.withDeadline(deadline, () => this.status(client, source)),
        deadline,
        `querying ${sourceWorkflowId(source)}`,
      );
      if (!status) return { source, state: 'absent' };
      const sourceConfig = this.options.config.sources[source]!;
      const selected = (t: string) => selectTable(sourceConfig, t).included;
      await byDeadline(client.connection.withDeadline(deadline, () => this.fetchResults(client, status, selected, deadline)), deadline, 'reading cycle results').catch((err: unknown) => {
        // Rows and table seconds come out incomplete; the status itself was read.
        this.options.log(`lakesync metrics: could not read the cycle results of ${source}: ${(err as Error).message}`);
      });
      return {
        source,
        state: 'read',
        metrics: sourceMetrics(status, { lakeTableOf: (t) => lakeTableName(sourceConfig, t), selected, cycleResult: (id) => this.results.get(id) ?? undefined, now: Date.now() }),
      };
    } catch (err) {
      this.options.onError(source);
      this.options.log(`lakesync metrics: could not read the status of ${sourceWorkflowId(source)}: ${(err as Error).message}`);
      return { source, state: 'error' };
    }
  }

  /**
   * The status of a running source workflow, or undefined when none runs. One on another task queue
   * is served by workers of another config: a read error, so that its figures are never shown as this worker's.
   */
  private async status(client: Client, source: string): Promise<SourceStatus | undefined> {
    const run = await runningSourceRun(client, source);
    if (!run) return undefined;
    const reason = otherTaskQueueReason(source, run.taskQueue, this.options.taskQueue);
    if (reason) throw new Error(reason);
    return readSourceStatus(run.handle);
  }

  /**
   * The last cycle's result, then the older ones that hold the last loads of tables whose counts
   * are unknown (each read once, then cached): after a restart the first refresh reads them all,
   * unless half the scrape timeout has passed; the rest are read at the next refreshes.
   */
  private async fetchResults(client: Client, status: SourceStatus, selected: (table: string) => boolean, deadline: number): Promise<void> {
    if (status.lastCycle) await this.fetchResult(client, status.lastCycle.workflowId);
    const stopAt = deadline - this.options.timeoutMs / 2;
    // A cycle not closed yet is not cached: it is tried once per refresh.
    const tried = new Set<string>();
    while (Date.now() < stopAt) {
      const next = nextCycleToRead(status, (id) => this.results.get(id) ?? undefined, (id) => tried.has(id) || this.results.has(id), selected);
      if (next === undefined) break;
      tried.add(next);
      await this.fetchResult(client, next);
    }
  }

  private async fetchResult(client: Client, workflowId: string): Promise<void> {
    if (this.results.has(workflowId)) return;
    let result: CycleResult | null;
    try {
      const handle = client.workflow.getHandle<() => Promise<CycleResult>>(workflowId);
      const description = await handle.describe();
      // Not closed yet (a workflow reset ran it again, or the server answers late): read it again at a later refresh.
      if (!CLOSED.has(description.status.name)) return;
      // Only a completed result is readable; a failed, terminated or timed-out cycle never will be.
      // A large cycle's outcomes are read from it in pages.
      result = description.status.name === 'COMPLETED' ? await withCycleTables(handle, await handle.result()) : null;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      result = null; // Past the namespace's retention.
    }
    if (this.results.size >= RESULT_CACHE) this.results.delete(this.results.keys().next().value!);
    this.results.set(workflowId, result);
  }
}

/** Rejects at the deadline whatever the promise does, so a scrape never waits longer than that. */
function byDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than the scrape timeout`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
