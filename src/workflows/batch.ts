/**
 * A batch of tables of one cycle: load -> grant -> verify per table, with bounded concurrency.
 * Batches keep every history small when a cycle has thousands of tables.
 */
import { type ActivityOptions, ActivityCancellationType, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CycleSettings, ExportRef, LoadItem, LoadResult, LoadSummary, TableOutcome } from '../model';
import { nowIso } from './clock';
import { tableError } from './errors';
import { batchProgressQuery, type BatchTableProgress } from './messages';
import { loadActivity, shortActivity, verifyActivity } from './options';

/** Patch: loads are cancelled with WAIT_CANCELLATION_COMPLETED (histories before it replay without). */
const LOADS_STOP_ON_CANCEL = 'loads-stop-on-cancel';

export interface BatchInput {
  source: string;
  cycleId: string;
  planRef: string;
  items: LoadItem[];
  settings: CycleSettings;
  /** The cycle's export; absent when it took none (every table is read directly). */
  export?: ExportRef;
  /** When the export's snapshot was taken (ISO-8601): with the export id, the lineage of each commit. */
  snapshotTime?: string;
}

export async function tableBatchWorkflow(input: BatchInput): Promise<TableOutcome[]> {
  const { settings } = input;
  const loadOptions: ActivityOptions = {
    ...loadActivity(settings),
    // A cancelled batch waits until each load has stopped its run: with the default (try cancel)
    // the batch ends at once, and the load then only learns that its workflow is gone.
    ...(patched(LOADS_STOP_ON_CANCEL) ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {}),
  };
  const shortOptions = shortActivity(settings);
  const { loadTable } = proxyActivities<Activities>(loadOptions);
  const { grantTable } = proxyActivities<Activities>(shortOptions);
  // Its timeout grows with the number of checks; it heartbeats per check.
  const verifyOptions = verifyActivity(settings);
  const { verifyTable } = proxyActivities<Activities>(verifyOptions);
  const progress = new Map<string, BatchTableProgress>(input.items.map((i) => [i.table, { table: i.table, state: 'pending' }]));
  setHandler(batchProgressQuery, () => [...progress.values()]);

  const mark = (table: string, patch: Partial<BatchTableProgress>) => progress.set(table, { ...progress.get(table)!, ...patch });

  async function runTable(item: LoadItem): Promise<TableOutcome> {
    const startedAt = nowIso();
    const direct = item.extract === 'direct';
    const base = { table: item.table, lakeTable: item.lakeTable, action: item.action, ...(direct ? { extract: 'direct' as const } : {}), startedAt };
    const fail = (phase: 'load' | 'grant' | 'verify', err: unknown, load?: LoadSummary): TableOutcome => {
      const error = tableError(phase, err);
      mark(item.table, { state: 'failed', error: error.message, finishedAt: nowIso() });
      return { ...base, status: 'failed', error, ...(load ? { load } : {}), finishedAt: nowIso() };
    };

    mark(item.table, { state: 'loading', startedAt });
    let load: LoadSummary;
    try {
      load = summarise(
        await loadTable.executeWithOptions({ ...loadOptions, summary: `${item.action} ${item.table} -> ${settings.namespace}.${item.lakeTable}` }, [{
          source: input.source,
          cycleId: input.cycleId,
          planRef: input.planRef,
          table: item.table,
          // A direct load reads the source: it has no export lineage. An export load without it is refused by the activity.
          ...(!direct && input.export ? { exportId: input.export.exportId, exportLocation: input.export.location } : {}),
          ...(!direct && input.snapshotTime ? { snapshotTime: input.snapshotTime } : {}),
          database: settings.database,
          namespace: settings.namespace,
          maxFailures: settings.retry.maximumAttempts,
        }]),
      );
    } catch (err) {
      return fail('load', err);
    }
    if (settings.grants) {
      mark(item.table, { state: 'granting' });
      try {
        await grantTable.executeWithOptions({ ...shortOptions, summary: `grant ${settings.namespace}.${item.lakeTable}` }, [input.source, item.lakeTable]);
      } catch (err) {
        return fail('grant', err, load);
      }
    }
    if (settings.verify) {
      mark(item.table, { state: 'verifying' });
      try {
        await verifyTable.executeWithOptions({ ...verifyOptions, summary: `verify ${settings.namespace}.${item.lakeTable} (${load.rowCountAfter} rows)` }, [
          // The export, so verification counts the rows of its files instead of taking the job's count;
          // a direct load has none: the rows the lake gained are held against its window.
          { source: input.source, table: item.table, lakeTable: item.lakeTable, action: item.action, ...(direct ? { extract: 'direct' as const } : input.export ? { export: input.export } : {}), load },
        ]);
      } catch (err) {
        return fail('verify', err, load);
      }
    }
    mark(item.table, { state: 'committed', finishedAt: nowIso(), rowsRead: load.rowsRead });
    return { ...base, status: 'committed', load, verified: settings.verify, finishedAt: nowIso() };
  }

  return runPool(input.items, settings.concurrency, runTable);
}

/** Runs `fn` over `items` with at most `limit` at once; results keep the input order. */
async function runPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

function summarise(r: LoadResult): LoadSummary {
  return {
    action: r.action,
    committed: r.committed,
    rowsRead: r.rowsRead,
    inserted: r.inserted,
    updated: r.updated,
    deleted: r.deleted,
    rowCountAfter: r.rowCountAfter,
    cursorColumn: r.cursorColumn,
    cursorValueAfter: r.cursorValueAfter,
    snapshotId: r.snapshotId,
    schemaHash: r.schemaHash,
    finishedAt: r.finishedAt,
    // Only when the load reported them: outcomes of loads without them stay as they were.
    ...(r.nulledValues && Object.keys(r.nulledValues).length > 0 ? { nulledValues: r.nulledValues } : {}),
    ...(r.clampedValues && Object.keys(r.clampedValues).length > 0 ? { clampedValues: r.clampedValues } : {}),
    ...(r.warnings && r.warnings.length > 0 ? { warnings: r.warnings } : {}),
    ...(r.extract === 'direct' ? { extract: r.extract } : {}),
    ...(r.window ? { window: r.window } : {}),
  };
}
