/**
 * Per-table planning: which action each discovered table gets, and why.
 * Pure: the plan activity and `lakesync plan` share it; the lake lookup is passed in.
 */
import type { SourceConfig } from './config/schema';
import { isValidLakeName, lakeNameCollisions, lakeTableName, selectTable } from './config/tables';
import type { DiscoveredTable, PlanEntry, TableName, TableOutcome } from './model';

export interface PlannedTables {
  entries: PlanEntry[];
  /** Tables that will not load, each with its reason (excluded, invalid name, not requested). */
  notLoaded: TableOutcome[];
}

export function planTables(
  source: SourceConfig,
  discovered: DiscoveredTable[],
  lakeTables: ReadonlySet<string>,
  requested?: readonly TableName[],
): PlannedTables {
  const entries: PlanEntry[] = [];
  const notLoaded: TableOutcome[] = [];
  const wanted = requested ? new Set(requested) : undefined;
  const selected: DiscoveredTable[] = [];

  for (const t of discovered) {
    const lakeTable = lakeTableName(source, t.table);
    const selection = selectTable(source, t.table);
    if (!selection.included) {
      notLoaded.push({ table: t.table, lakeTable, action: 'skip', status: 'skipped', reason: `excluded (${selection.rule})` });
    } else if (wanted && !wanted.has(t.table)) {
      notLoaded.push({ table: t.table, lakeTable, action: 'skip', status: 'skipped', reason: 'not requested in this cycle' });
    } else if (!isValidLakeName(lakeTable)) {
      notLoaded.push(planFailure(t.table, lakeTable, `lake name "${lakeTable}" breaks the S3 Tables rules (lowercase letters, digits, underscores): set tables."${t.table}".lakeName`));
    } else {
      selected.push(t);
    }
  }

  const colliding = new Set(lakeNameCollisions(source, selected.map((t) => t.table)).flat());
  for (const t of selected) {
    const lakeTable = lakeTableName(source, t.table);
    if (colliding.has(t.table)) {
      const others = selected.filter((o) => o.table !== t.table && lakeTableName(source, o.table) === lakeTable).map((o) => o.table);
      notLoaded.push(planFailure(t.table, lakeTable, `maps to lake table "${lakeTable}" like ${others.join(', ')}: give one of them a lakeName`));
      continue;
    }
    entries.push(planEntry(source, t, lakeTable, lakeTables.has(lakeTable)));
  }
  return { entries, notLoaded };
}

function planEntry(source: SourceConfig, t: DiscoveredTable, lakeTable: string, lakeExists: boolean): PlanEntry {
  const settings = source.tables[t.table];
  const configuredKey = settings?.primaryKey;
  const primaryKey = configuredKey ?? t.primaryKey ?? [];
  const keySource = configuredKey ? 'configured' : 'source';
  const cursorColumn = settings?.cursor?.column;
  const base = { table: t.table, lakeTable, primaryKey, ...(cursorColumn ? { cursorColumn } : {}) };

  if (!lakeExists) return { ...base, action: 'create', reason: 'lake table missing' };
  if (settings?.action === 'replace') return { ...base, action: 'replace', reason: 'action replace configured' };
  if (cursorColumn && settings?.action !== 'merge') {
    return { ...base, action: 'incremental', reason: `cursor column ${cursorColumn}` };
  }
  if (primaryKey.length > 0) return { ...base, action: 'merge', reason: `primary key (${primaryKey.join(', ')}) ${keySource}` };
  return { ...base, action: 'replace', reason: 'no primary key' };
}

function planFailure(table: string, lakeTable: string, message: string): TableOutcome {
  return {
    table,
    lakeTable,
    action: 'skip',
    status: 'failed',
    error: { phase: 'plan', message: `${table}: ${message}`, type: 'InvalidLakeName', retryable: false },
  };
}
