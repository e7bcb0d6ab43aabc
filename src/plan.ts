/**
 * Per-table planning: which action each discovered table gets, and why.
 * Pure: the plan activity and `lakesync plan` share it; the lake lookup is passed in.
 */
import type { SourceConfig } from './config/schema';
import { lakeNameCollisions, lakeTableName, selectTable } from './config/tables';
import { columnPolicies, columnPolicyProblems } from './config/columns';
import { isValidLakeName } from './names';
import { cursorKind, defaultLookback, lookbackKindProblem, lookbackText } from './lookback';
import type { DiscoveredTable, KeySource, PlanEntry, TableName, TableOutcome } from './model';

export interface PlannedTables {
  entries: PlanEntry[];
  /** Tables that will not load, each with its reason (excluded, invalid name, not requested). */
  notLoaded: TableOutcome[];
}

export interface PlanOptions {
  /** Plan only these tables (a rerun or a table-limited sync); every other one is skipped. */
  requested?: readonly TableName[];
  /** This cycle may delete more than the safety fraction (rerun --approve-deletes). */
  approveDeletes?: boolean;
  /** This cycle may load an export older than the lake table's last one (rerun --allow-older-export). */
  allowOlderExport?: boolean;
  /** Replace the requested tables from the export so new column types apply (rerun --rebuild). */
  rebuild?: boolean;
}

export function planTables(
  source: SourceConfig,
  discovered: DiscoveredTable[],
  lakeTables: ReadonlySet<string>,
  options: PlanOptions = {},
): PlannedTables {
  const entries: PlanEntry[] = [];
  const notLoaded: TableOutcome[] = [];
  const wanted = options.requested ? new Set(options.requested) : undefined;
  const selected: DiscoveredTable[] = [];

  for (const t of discovered) {
    const lakeTable = lakeTableName(source, t.table);
    const selection = selectTable(source, t.table);
    if (!selection.included) {
      notLoaded.push({ table: t.table, lakeTable, action: 'skip', status: 'skipped', reason: `excluded (${selection.rule})` });
    } else if (wanted && !wanted.has(t.table)) {
      notLoaded.push({ table: t.table, lakeTable, action: 'skip', status: 'skipped', reason: 'not requested in this cycle' });
    } else if (!isValidLakeName(lakeTable)) {
      notLoaded.push(planFailure(t.table, lakeTable, 'InvalidLakeName', `lake name "${lakeTable}" breaks the S3 Tables rules (lowercase letters, digits, underscores): set tables."${t.table}".lakeName`));
    } else {
      selected.push(t);
    }
  }

  const colliding = new Set(lakeNameCollisions(source, selected.map((t) => t.table)).flat());
  for (const t of selected) {
    const lakeTable = lakeTableName(source, t.table);
    if (colliding.has(t.table)) {
      const others = selected.filter((o) => o.table !== t.table && lakeTableName(source, o.table) === lakeTable).map((o) => o.table);
      notLoaded.push(planFailure(t.table, lakeTable, 'InvalidLakeName', `maps to lake table "${lakeTable}" like ${others.join(', ')}: give one of them a lakeName`));
      continue;
    }
    const approvals = { approveDeletes: options.approveDeletes ?? false, allowOlderExport: options.allowOlderExport ?? false };
    const planned = planEntry(source, t, lakeTable, lakeTables.has(lakeTable), approvals, options.rebuild ?? false);
    if (typeof planned === 'string') notLoaded.push(planFailure(t.table, lakeTable, 'InvalidTableSettings', planned));
    else entries.push(planned);
  }
  return { entries, notLoaded };
}

/** The table's entry, or why its settings cannot be loaded. */
function planEntry(
  source: SourceConfig,
  t: DiscoveredTable,
  lakeTable: string,
  lakeExists: boolean,
  approvals: Pick<PlanEntry, 'approveDeletes' | 'allowOlderExport'>,
  rebuild: boolean,
): PlanEntry | string {
  const settings = source.tables[t.table];
  const configuredKey = settings?.primaryKey;
  const primaryKey = configuredKey ?? t.primaryKey ?? [];
  const keySource: KeySource = configuredKey ? 'configured' : primaryKey.length > 0 ? 'source' : 'none';
  const cursorColumn = settings?.cursor?.column;
  const cursorMode = settings?.cursor?.mode ?? (primaryKey.length > 0 ? 'upsert' : 'append');
  if (cursorColumn && cursorMode === 'upsert' && primaryKey.length === 0) {
    return `cursor mode upsert needs a primary key and the source declares none: set tables."${t.table}".primaryKey, or cursor.mode append`;
  }
  const lookback = cursorColumn ? cursorLookback(t, cursorColumn, settings?.cursor?.lookback) : {};
  if (typeof lookback === 'string') return lookback;
  const columnProblems = columnPolicyProblems(t.table, settings?.columns, t.columns.map((c) => ({ name: c.columnName, originalType: c.originalType })), primaryKey, keySource);
  if (columnProblems.length > 0) return columnProblems.join('; ');
  const columns = columnPolicies(settings?.columns);
  const hashes = Object.values(columns).some((c) => c.hash);
  const base = {
    table: t.table,
    lakeTable,
    primaryKey,
    keySource,
    ...(cursorColumn ? { cursor: { column: cursorColumn, mode: cursorMode, ...lookback } } : {}),
    maxDeleteFraction: source.safety.maxDeleteFraction,
    ...approvals,
    ...(source.errors?.showValues ? { showValues: true } : {}),
    ...(Object.keys(columns).length > 0 ? { columns } : {}),
    ...(hashes && source.hashKey ? { hashKey: source.hashKey } : {}),
  };

  if (!lakeExists) return { ...base, action: 'create', reason: 'lake table missing' };
  // The whole table again from the export, so new column types apply (arrays kept as text become lists).
  if (rebuild) return { ...base, action: 'replace', rebuild: true, reason: 'rebuild requested: replaced from the export with the current column types' };
  if (settings?.action === 'replace') return { ...base, action: 'replace', reason: 'action replace configured' };
  if (cursorColumn && settings?.action !== 'merge') {
    return { ...base, action: 'incremental', reason: `cursor column ${cursorColumn} (${cursorMode})` };
  }
  if (primaryKey.length > 0) return { ...base, action: 'merge', reason: `primary key (${primaryKey.join(', ')}) ${keySource}` };
  return { ...base, action: 'replace', reason: 'no primary key' };
}

/**
 * The cursor's lookback: the configured one, else the default for the column's type. Without
 * the column in the export's listing the type is unknown: the job checks and defaults it.
 */
function cursorLookback(t: DiscoveredTable, column: string, configured: string | number | undefined): { lookback?: string } | string {
  const mapping = t.columns.find((c) => c.columnName === column) ?? t.columns.find((c) => c.columnName.toLowerCase() === column.toLowerCase());
  const kind = mapping ? cursorKind(mapping.originalType) : undefined;
  if (configured === undefined) return kind ? { lookback: defaultLookback(kind) } : {};
  const text = lookbackText(configured);
  const problem = kind && lookbackKindProblem(text, kind);
  if (problem) return `tables."${t.table}".cursor.lookback ${JSON.stringify(configured)} does not fit cursor column ${column} (${mapping!.originalType}): ${problem}`;
  return { lookback: text };
}

function planFailure(table: string, lakeTable: string, type: string, message: string): TableOutcome {
  return {
    table,
    lakeTable,
    action: 'skip',
    status: 'failed',
    error: { phase: 'plan', message: `${table}: ${message}`, type, retryable: false },
  };
}

/** Whether the source's own primary keys reach the plan: the embedded export records them; an RDS source reads them through source.catalog. */
export function sourceKeysReadable(source: SourceConfig): boolean {
  return source.source.kind !== 'rds' || source.source.catalog !== undefined;
}

const NAMED_TABLES = 20;

/**
 * The line `lakesync plan` prints when keys can come from the config only (an RDS source without
 * source.catalog): the tables replaced on every load for lack of a known key, and the fix.
 */
export function keysFromConfigNote(source: SourceConfig, entries: readonly PlanEntry[]): string | undefined {
  if (sourceKeysReadable(source)) return undefined;
  // A configured replace and an incremental load do not depend on a key.
  const keyless = entries.filter((e) => e.keySource === 'none' && !e.cursor && source.tables[e.table]?.action !== 'replace').map((e) => e.table);
  if (keyless.length === 0) return undefined;
  const named = keyless.slice(0, NAMED_TABLES).join(', ') + (keyless.length > NAMED_TABLES ? ` and ${keyless.length - NAMED_TABLES} more` : '');
  return (
    `keys come from the config only (no source.catalog): ${keyless.length} table(s) will be replaced on every load for lack of a known primary key: ${named}; ` +
    `add source.catalog (a read-only connection that reads the source's primary keys) or tables."<schema.table>".primaryKey`
  );
}
