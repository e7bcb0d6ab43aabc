/**
 * lakesync's own Prometheus metrics (prom-client): per table and per cycle gauges set from the
 * sources' durable state at each refresh, and the counter of failed reads.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SourceMetrics } from './values';

/** What one refresh learned of a source: its metrics, no running source workflow, or a failed read. */
export type SourceReading = { source: string; state: 'read'; metrics: SourceMetrics } | { source: string; state: 'absent' } | { source: string; state: 'error' };

const TABLE = ['source', 'table', 'lake_table'] as const;
const SOURCE = ['source'] as const;
const CYCLE_STATUSES = ['succeeded', 'partial', 'failed'] as const;

export class LakesyncRegistry {
  readonly registry = new Registry();
  private readonly scrapeErrors = this.counter('lakesync_scrape_errors_total', 'Failed reads of a source workflow\'s status (query error or timeout) while serving /metrics.', SOURCE);
  private readonly sourceUp = this.gauge('lakesync_source_up', '1 when the source workflow\'s status was read at the last refresh, 0 when the read failed; absent while no source workflow runs.', SOURCE);
  private readonly workflowRunning = this.gauge('lakesync_source_workflow_running', '1 while the source workflow (lakesync/<source>) runs, 0 when none runs (never synced, terminated, failed): its other series are absent then; absent when the read failed.', SOURCE);
  private readonly tableFailed = this.gauge('lakesync_table_failed', '1 when the table\'s last load failed (it is listed for rerun), else 0.', TABLE);
  private readonly freshness = this.gauge('lakesync_table_freshness_lag_seconds', 'Seconds since the database snapshot of the table\'s last committed load (a table read directly: since that load finished).', TABLE);
  private readonly inserted = this.gauge('lakesync_table_last_load_inserted_rows', 'Rows inserted by the table\'s last committed load.', TABLE);
  private readonly updated = this.gauge('lakesync_table_last_load_updated_rows', 'Rows updated by the table\'s last committed load.', TABLE);
  private readonly deleted = this.gauge('lakesync_table_last_load_deleted_rows', 'Rows deleted by the table\'s last committed load.', TABLE);
  private readonly rows = this.gauge('lakesync_table_rows', 'Rows in the lake table after its last committed load.', TABLE);
  private readonly loadedAt = this.gauge('lakesync_table_last_load_timestamp_seconds', 'Unix time the table\'s last committed load finished.', TABLE);
  private readonly running = this.gauge('lakesync_source_cycle_running', '1 while a cycle of the source runs, else 0.', SOURCE);
  private readonly runningSeconds = this.gauge('lakesync_source_cycle_running_seconds', 'Seconds the running cycle has run so far.', SOURCE);
  private readonly queued = this.gauge('lakesync_source_queued_requests', 'Sync and rerun requests waiting behind the running cycle.', SOURCE);
  private readonly cycleDuration = this.gauge('lakesync_cycle_last_duration_seconds', 'Wall time of the source\'s last finished cycle.', SOURCE);
  private readonly cycleStatus = this.gauge('lakesync_cycle_last_status', 'Status of the source\'s last finished cycle: 1 for its status, 0 for the others.', ['source', 'status'] as const);
  private readonly cycleFinished = this.gauge('lakesync_cycle_last_finished_timestamp_seconds', 'Unix time the source\'s last cycle finished.', SOURCE);
  private readonly cycleTables = this.gauge('lakesync_cycle_last_tables', 'Tables of the source\'s last cycle by outcome (committed, failed, skipped).', ['source', 'outcome'] as const);
  private readonly cycleTableSeconds = this.gauge('lakesync_cycle_last_table_seconds', 'Seconds the last cycle\'s tables spent in export (DynamoDB tables\' own exports), load, grant and verify, summed over its tables.', SOURCE);
  private readonly cycleDpu = this.gauge('lakesync_cycle_last_dpu_seconds', 'Glue DPU-seconds of the source\'s last cycle (its cost ledger; absent for cycles without a DPU figure); a lower bound when lakesync_cycle_last_cost_partial is 1.', SOURCE);
  private readonly cycleCostPartial = this.gauge('lakesync_cycle_last_cost_partial', '1 when the source\'s last cycle\'s cost figures (its DPU-seconds among them) are a lower bound: a run or export was billed whose figure is not known (`lakesync cost` says why); 0 when complete; absent for cycles without a cost.', SOURCE);

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  countScrapeError(source: string): void {
    this.scrapeErrors.inc({ source });
  }

  /** Replaces every per-source value with what this refresh read: absent sources disappear. */
  show(readings: SourceReading[]): void {
    for (const g of [this.sourceUp, this.workflowRunning, this.tableFailed, this.freshness, this.inserted, this.updated, this.deleted, this.rows, this.loadedAt, this.running, this.runningSeconds, this.queued, this.cycleDuration, this.cycleStatus, this.cycleFinished, this.cycleTables, this.cycleTableSeconds, this.cycleDpu, this.cycleCostPartial]) g.reset();
    for (const reading of readings) {
      // Keep the counter's series visible at 0 for every source, so rate() works from the first error.
      this.scrapeErrors.inc({ source: reading.source }, 0);
      if (reading.state === 'error') this.sourceUp.set({ source: reading.source }, 0);
      // Every other series of a source without a running source workflow is absent: this one says it stopped.
      if (reading.state !== 'error') this.workflowRunning.set({ source: reading.source }, reading.state === 'read' ? 1 : 0);
      if (reading.state === 'read') this.showSource(reading.metrics);
    }
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private showSource(m: SourceMetrics): void {
    const source = { source: m.source };
    this.sourceUp.set(source, 1);
    this.running.set(source, m.running ? 1 : 0);
    if (m.runningSeconds !== undefined) this.runningSeconds.set(source, m.runningSeconds);
    this.queued.set(source, m.queued);
    for (const t of m.tables) {
      const labels = { source: m.source, table: t.table, lake_table: t.lakeTable };
      this.tableFailed.set(labels, t.failed ? 1 : 0);
      if (t.freshnessLagSeconds !== undefined) this.freshness.set(labels, t.freshnessLagSeconds);
      if (t.lastLoad) {
        this.inserted.set(labels, t.lastLoad.inserted);
        this.updated.set(labels, t.lastLoad.updated);
        this.deleted.set(labels, t.lastLoad.deleted);
      }
      if (t.rowCount !== undefined) this.rows.set(labels, t.rowCount);
      if (t.loadedAt !== undefined) this.loadedAt.set(labels, t.loadedAt);
    }
    const c = m.lastCycle;
    if (!c) return;
    this.cycleDuration.set(source, c.durationSeconds);
    for (const status of CYCLE_STATUSES) this.cycleStatus.set({ source: m.source, status }, c.status === status ? 1 : 0);
    this.cycleFinished.set(source, c.finishedAt);
    for (const [outcome, n] of Object.entries(c.tables)) this.cycleTables.set({ source: m.source, outcome }, n);
    if (c.tableSeconds !== undefined) this.cycleTableSeconds.set(source, c.tableSeconds);
    if (c.dpuSeconds !== undefined) this.cycleDpu.set(source, c.dpuSeconds);
    if (c.costPartial !== undefined) this.cycleCostPartial.set(source, c.costPartial ? 1 : 0);
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
