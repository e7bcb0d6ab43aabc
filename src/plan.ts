/**
 * Per-table planning: which action each discovered table gets, and why.
 * Pure: the plan activity and `lakesync plan` share it; the lake lookup is passed in.
 */
import type { SourceConfig } from './config/schema';
import { keysMatchingNoTable, lakeNameCollisions, lakeTableName, selectTable } from './config/tables';
import { columnPolicies, columnPolicyProblems, keptColumnNamed, lakeColumnCollisionProblem, mergeColumnProblem, reservedColumnProblem } from './config/columns';
import { directExtract, firstLoadOf, missingCursorProblem, missingPartitionColumnProblem } from './config/direct';
import { LAKE_NAME_RULE, isValidLakeName, splitTable } from './names';
import { cursorKind, defaultLookback, lookbackKindProblem, lookbackText, unorderedCursorProblem } from './lookback';
import type { DirectExtract, DiscoveredTable, KeySource, PlanEntry, TableName, TableOutcome } from './model';
import { dynamoAttributeProblems, dynamoDeclaredNameProblems, EXPORT_WINDOW_DEFAULTS } from './config/dynamodb';
import { dynamoNameOfKey, dynamoTableNameProblem } from './dynamodb/names';
import { effectiveLimits, planWindows, type WindowLimits } from './dynamodb/windows';

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
  /** A dynamodb source's cycle: the tables' export windows are planned from these (src/dynamodb/windows.ts). */
  dynamodb?: DynamoPlanInput;
}

export interface DynamoPlanInput {
  /** The cycle's export time T: its start, whole seconds, ISO-8601 with Z. */
  exportTime: string;
  /** The incremental windows the backend accepts (ports.tableExport.windowLimits). */
  windowLimits: WindowLimits;
  /** How long after the export time the exports may start while the earliest restorable time moves on (ports.tableExport.restorableMarginSeconds; default RESTORABLE_MARGIN_SECONDS). */
  restorableMarginSeconds?: number;
  /** The export time (lineage snapshotTime) each table reached, for tables whose lake table exists and has lakesync lineage. */
  reached: Record<TableName, string>;
  /** Tables whose lake table's last commit is another source's (rows a load refuses, OtherSource), with the failure's message. */
  otherSource?: Record<TableName, string>;
  /** Tables whose lake table's last commit could not be read (the export time it reached is unknown), with the refusal. */
  lineageUnread?: Record<TableName, string>;
}

/** Why a table of the source a cycle did not ask for is skipped (a rerun's other parts list it so). */
export const NOT_REQUESTED = 'not requested in this cycle';

/**
 * `discovered` is the export's listing; `catalog` the tables read directly (extract: direct) as the
 * source's catalog describes them. A direct table is planned from the catalog, unless its lake
 * table is missing and its first load comes from the export (direct.firstLoad: export): then from
 * the export's listing, as an export create. A dynamodb source's tables come in `catalog` with
 * their `dynamodb` description (key, ARN, point-in-time recovery).
 */
export function planTables(
  source: SourceConfig,
  discovered: DiscoveredTable[],
  lakeTables: ReadonlySet<string>,
  options: PlanOptions = {},
  catalog: DiscoveredTable[] = [],
): PlannedTables {
  const entries: PlanEntry[] = [];
  const notLoaded: TableOutcome[] = [];
  const wanted = options.requested ? new Set(options.requested) : undefined;
  const selected: DiscoveredTable[] = [];
  // Every table that may load into the lake, asked for or not: a table-limited run must not load one of two tables that share a lake name.
  const mayLoad: DiscoveredTable[] = [];

  const toPlan = tablesToPlan(source, discovered, lakeTables, catalog);
  const strayKeys = keysMatchingNoTable(source, new Set(toPlan.map((t) => t.table)));
  for (const t of toPlan) {
    const lakeTable = lakeTableName(source, t.table);
    const selection = selectTable(source, t.table);
    const nearKey = source.tables[t.table] ? undefined : strayKeys.get(t.table.toLowerCase());
    const reserved = columnNameProblem(source, t);
    if (selection.included) mayLoad.push(t);
    if (!selection.included) {
      notLoaded.push({ table: t.table, lakeTable, action: 'skip', status: 'skipped', reason: `excluded (${selection.rule})` });
    } else if (wanted && !wanted.has(t.table)) {
      notLoaded.push({ table: t.table, lakeTable, action: 'skip', status: 'skipped', reason: NOT_REQUESTED });
    } else if (nearKey) {
      // Its settings (column excludes among them) would silently not apply: refuse rather than load every column.
      notLoaded.push(
        planFailure(t.table, lakeTable, 'InvalidTableSettings', `tables key "${nearKey}" differs from this table's name only in case, so its settings would not apply: write the key as "${t.table}"`),
      );
    } else if (isDynamo(source) && dynamoNameProblem(t.table)) {
      notLoaded.push(planFailure(t.table, lakeTable, 'InvalidTableName', dynamoNameProblem(t.table)!, 'dynamodb'));
    } else if (!isValidLakeName(lakeTable)) {
      notLoaded.push(planFailure(t.table, lakeTable, 'InvalidLakeName', `lake name "${lakeTable}" breaks the S3 Tables rules (${LAKE_NAME_RULE}): set tables."${t.table}".lakeName`));
    } else if (reserved) {
      notLoaded.push(planFailure(t.table, lakeTable, 'NameCollision', reserved, isDynamo(source) ? 'dynamodb' : directExtract(source.tables[t.table]) ? 'direct' : undefined));
    } else {
      selected.push(t);
    }
  }

  const colliding = new Set(lakeNameCollisions(source, mayLoad.map((t) => t.table)).flat());
  for (const t of selected) {
    const lakeTable = lakeTableName(source, t.table);
    if (colliding.has(t.table)) {
      const others = mayLoad.filter((o) => o.table !== t.table && lakeTableName(source, o.table) === lakeTable).map((o) => o.table);
      notLoaded.push(planFailure(t.table, lakeTable, 'InvalidLakeName', `maps to lake table "${lakeTable}" like ${others.join(', ')}: give one of them a lakeName`));
      continue;
    }
    const approvals = { approveDeletes: options.approveDeletes ?? false, allowOlderExport: options.allowOlderExport ?? false };
    const lakeExists = lakeTables.has(lakeTable);
    if (isDynamo(source)) {
      const planned = dynamoEntry(source, t, lakeTable, lakeExists, approvals, options);
      if ('status' in planned) notLoaded.push(planned);
      else entries.push(planned);
      continue;
    }
    const planned = planEntry(source, t, lakeTable, lakeExists, approvals, options.rebuild ?? false);
    // A direct table's failure pins no export: its rerun takes a new one if its first load still needs one.
    const merging = typeof planned === 'string' || !mergesByKey(planned) ? undefined : mergeColumnProblem(t.table, source.tables[t.table]?.columns, t.columns.map((c) => ({ name: c.columnName })));
    if (typeof planned === 'string') notLoaded.push(planFailure(t.table, lakeTable, 'InvalidTableSettings', planned, directExtract(source.tables[t.table]) ? 'direct' : undefined));
    else if (merging) notLoaded.push(planFailure(t.table, lakeTable, 'NameCollision', merging, planned.extract ? 'direct' : undefined));
    else entries.push(planned);
  }
  return { entries, notLoaded };
}

/**
 * Why the table's kept columns cannot become lake columns: a name the job or Iceberg reserves, or
 * two columns with one lake name (a DynamoDB table's attributes are checked with its settings).
 */
function columnNameProblem(source: SourceConfig, t: DiscoveredTable): string | undefined {
  const columns = source.tables[t.table]?.columns;
  const catalog = t.columns.map((c) => ({ name: c.columnName }));
  return reservedColumnProblem(t.table, columns, catalog) ?? (isDynamo(source) ? undefined : lakeColumnCollisionProblem(t.table, columns, catalog));
}

/**
 * Whether the load, or the next one once a create has made the table, merges by key (a merge, an
 * incremental upsert): as the load job decides it (glue/lakesync_glue/loader.py merges_by_key).
 */
function mergesByKey(entry: PlanEntry): boolean {
  if (entry.primaryKey.length === 0) return false;
  // A direct window is never a merge of the whole table; a create of an export table is followed by its next action.
  if (entry.extract || entry.action === 'incremental') return entry.cursor?.mode === 'upsert';
  const action = entry.action === 'create' ? (entry.nextAction ?? 'merge') : entry.action;
  return action === 'merge' || (action === 'incremental' && entry.cursor?.mode === 'upsert');
}

/** The action planEntry gives an export table once its lake table exists (no rebuild): what follows its create. */
function nextActionOf(settings: SourceConfig['tables'][string] | undefined, primaryKey: readonly string[], cursorColumn: string | undefined): NonNullable<PlanEntry['nextAction']> {
  if (settings?.action === 'replace') return 'replace';
  if (cursorColumn && settings?.action !== 'merge') return 'incremental';
  return primaryKey.length > 0 ? 'merge' : 'replace';
}

/**
 * The tables read directly whose cursor column may hold NULL, as the source's catalog tells it
 * (`DiscoveredTable.nullable`): a create reads the rows whose cursor is NULL, but no later window
 * does (a window is `cursor >= lower AND cursor <= upper`), so a row written with a NULL cursor after
 * the create never reaches the lake. One warning per such table, naming the column and the fix.
 */
export function nullableCursorWarnings(source: Pick<SourceConfig, 'tables' | 'include' | 'exclude'>, tables: readonly DiscoveredTable[]): string[] {
  return tables.flatMap((t) => {
    const settings = source.tables[t.table];
    const cursor = settings?.cursor?.column;
    if (!directExtract(settings) || !cursor || !t.nullable?.length || !selectTable(source, t.table).included) return [];
    const policies = columnPolicies(settings?.columns);
    // As the job resolves the cursor: its exact name, else its lake name (a rename, or the name lowercased).
    const exact = t.nullable.includes(cursor) || t.columns.some((c) => c.columnName === cursor);
    const column = exact
      ? t.nullable.find((c) => c === cursor)
      : t.nullable.find((c) => (policies[c]?.rename ?? c.toLowerCase()) === cursor.toLowerCase());
    if (column === undefined) return [];
    const [schema, name] = splitTable(t.table);
    return [
      `${t.table}: cursor column ${column} may hold NULL (it has no NOT NULL constraint): the create of a table read directly reads the rows whose ${column} is NULL, ` +
        `but no later window does (a window reads ${column} between the lake's max minus the lookback and the source's max), so a row written with a NULL ${column} ` +
        `after the create never reaches the lake: give ${column} a value in every row and run ALTER TABLE ${sqlIdent(schema)}.${sqlIdent(name)} ALTER COLUMN ${sqlIdent(column)} SET NOT NULL, ` +
        `or set tables."${t.table}".cursor.column to a column that is NOT NULL`,
    ];
  });
}

/** A PostgreSQL identifier as SQL text, always quoted (a bare name could be folded to lower case or be a keyword such as order). */
function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Whether this cycle reads the table directly: extract direct, unless its first load comes from the export. */
export function readsDirectly(source: Pick<SourceConfig, 'tables'>, table: TableName, lakeExists: boolean): boolean {
  const settings = source.tables[table];
  return directExtract(settings) !== undefined && (lakeExists || firstLoadOf(settings) === 'direct');
}

/**
 * The tables to plan, each from where this cycle reads it: a direct table from the source's
 * catalog, an export table (and a direct table created from the export) from the export's listing.
 */
function tablesToPlan(source: SourceConfig, discovered: DiscoveredTable[], lakeTables: ReadonlySet<string>, catalog: DiscoveredTable[]): DiscoveredTable[] {
  if (catalog.length === 0) return discovered;
  if (isDynamo(source)) {
    // DescribeTable's view (catalog) wins over a bare listing of the same table.
    const described = new Set(catalog.map((t) => t.table));
    return [...catalog, ...discovered.filter((t) => !described.has(t.table))];
  }
  const direct = (t: DiscoveredTable) => readsDirectly(source, t.table, lakeTables.has(lakeTableName(source, t.table)));
  const fromCatalog = new Map(catalog.filter(direct).map((t) => [t.table, t]));
  const listed = discovered.map((t) => fromCatalog.get(t.table) ?? t);
  const names = new Set(listed.map((t) => t.table));
  // A direct table the export does not hold; one whose first load needs the export but is not in it fails in planEntry's caller.
  const onlyInCatalog = catalog.filter((t) => !names.has(t.table)).map((t) => (direct(t) ? t : { ...t, notInExport: true as const }));
  return [...listed, ...onlyInCatalog];
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
  const columnProblems = columnPolicyProblems(t.table, settings?.columns, t.columns.map((c) => ({ name: c.columnName, originalType: c.originalType })), primaryKey, keySource, cursorColumn);
  if (columnProblems.length > 0) return columnProblems.join('; ');
  const keyProblem = isDynamo(source) ? undefined : keyColumnProblem(t, primaryKey, keySource, settings?.columns);
  if (keyProblem) return keyProblem;
  // The load job takes the key as a comma-separated list (a DynamoDB key goes apart, as JSON).
  const commaKey = isDynamo(source) ? undefined : primaryKey.find((c) => c.includes(','));
  if (commaKey !== undefined) {
    return `primary key column "${commaKey}" holds a comma, and the load job takes the key as a comma-separated list, so it would merge on other columns: rename the column in the source, or set tables."${t.table}".primaryKey to columns without commas`;
  }
  // The load job reads its arguments trimmed: " id" would name column id.
  const spaced = [...(isDynamo(source) ? [] : primaryKey), ...(cursorColumn ? [cursorColumn] : [])].find((c) => c.trim() !== c);
  if (spaced !== undefined) {
    return `column "${spaced}" begins or ends with white space, and the load job reads its key and cursor column names trimmed, so it would use column "${spaced.trim()}" instead: rename the column in the source, or key or read the table by other columns`;
  }
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
    // Sizes the table's Glue run (src/aws/glue-sizing.ts); a direct load does not read the export.
    ...(t.sizeGB !== undefined && !readsDirectly(source, t.table, lakeExists) ? { sizeGB: t.sizeGB } : {}),
  };

  const direct = directExtract(settings);
  const missingCursor = direct && cursorColumn ? missingCursorProblem(t.table, t.columns.map((c) => c.columnName), cursorColumn, settings?.columns) : undefined;
  if (missingCursor) return missingCursor;
  const missingPartition = direct?.partitionColumn ? missingPartitionColumnProblem(t.table, t.columns.map((c) => c.columnName), direct.partitionColumn, settings?.columns) : undefined;
  if (missingPartition) return missingPartition;
  if (direct) return directEntry(t, settings, { ...base, cursor: base.cursor! }, t.partitions ? { ...direct, knownPartitions: t.partitions } : direct, lakeExists, rebuild);
  if (!lakeExists) return { ...base, action: 'create', nextAction: nextActionOf(settings, primaryKey, cursorColumn), reason: 'lake table missing' };
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
 * A key naming a column the table does not have, or one column twice, as the load job resolves
 * its key (loader.py resolve_key): a column by its exact name, else by its lake name (a rename, or
 * the name lowercased). The job would refuse it after its run started. Unchecked without the columns.
 */
function keyColumnProblem(t: DiscoveredTable, primaryKey: readonly string[], keySource: KeySource, columns: SourceConfig['tables'][string]['columns']): string | undefined {
  if (t.columns.length === 0) return undefined;
  const policies = columnPolicies(columns);
  const names = t.columns.map((c) => c.columnName);
  const where = keySource === 'configured' ? `tables."${t.table}".primaryKey` : `the source's primary key of ${t.table}`;
  const resolved: string[] = [];
  for (const [i, k] of primaryKey.entries()) {
    const column = keptColumnNamed(k, names, policies);
    if (column === undefined) return `${where} names "${k}", which ${t.table} does not have; its columns are: ${names.filter((c) => !policies[c]?.exclude).join(', ')}`;
    const first = resolved.indexOf(column);
    if (first >= 0) return `${where} names column "${column}" twice ("${primaryKey[first]}" and "${primaryKey[i]}"): list each key column once`;
    resolved.push(column);
  }
  return undefined;
}

type EntryBase = Omit<PlanEntry, 'action' | 'reason'> & { cursor: NonNullable<PlanEntry['cursor']> };

/**
 * A table with extract: direct. Its lake table missing: created by reading every row directly
 * (firstLoad direct), or from this cycle's export (firstLoad export, an export create without
 * `extract`); then incremental windows read directly.
 */
function directEntry(
  t: DiscoveredTable & { notInExport?: true },
  settings: SourceConfig['tables'][string] | undefined,
  base: EntryBase,
  direct: DirectExtract,
  lakeExists: boolean,
  rebuild: boolean,
): PlanEntry | string {
  const column = base.cursor.column;
  if (rebuild) {
    return `rebuild replaces the lake table from a snapshot export, and the table has extract: direct (it is not exported): to rebuild it, set tables."${t.table}".extract: export for one sync, then back to direct`;
  }
  if (!lakeExists && firstLoadOf(settings) === 'export') {
    if (t.notInExport) {
      return `its lake table is missing and direct.firstLoad is export, but this cycle's export does not hold the table: run a sync (its export takes it), or set direct.firstLoad: direct to read it directly`;
    }
    return {
      ...base,
      action: 'create',
      nextAction: 'incremental',
      reason: `lake table missing: first load from this cycle's snapshot export (direct.firstLoad: export), then direct windows on ${column}`,
    };
  }
  const partitions = direct.partitions !== undefined ? `${direct.partitions} partition(s)` : "partitions from the window's row estimate";
  const hashed = direct.partitionColumn ? `, hashed on ${direct.partitionColumn}` : '';
  if (!lakeExists) {
    return {
      ...base,
      extract: direct,
      action: 'create',
      reason: `direct: lake table missing: reads every row with ${column} <= the source's max(${column}), and rows where it is NULL, over JDBC (${partitions}${hashed})`,
    };
  }
  const lookback = base.cursor.lookback !== undefined ? `lookback ${base.cursor.lookback}` : "the job's default lookback for its type";
  return {
    ...base,
    extract: direct,
    action: 'incremental',
    reason: `direct: window from the lake's max(${column}) - ${lookback} to the source's max(${column}), ${base.cursor.mode === 'upsert' ? 'upserted by key' : 'rows the lake lacks appended'} (${partitions}${hashed})`,
  };
}

/**
 * The cursor's lookback: the configured one, else the default for the column's type. Without
 * the column in the export's listing the type is unknown: the job checks and defaults it.
 */
function cursorLookback(t: DiscoveredTable, column: string, configured: string | number | undefined): { lookback?: string } | string {
  const mapping = t.columns.find((c) => c.columnName === column) ?? t.columns.find((c) => c.columnName.toLowerCase() === column.toLowerCase());
  const unordered = mapping && unorderedCursorProblem(mapping.originalType);
  if (unordered) return `cursor column ${column} (${mapping.originalType}) of tables."${t.table}".cursor ${unordered}`;
  const kind = mapping ? cursorKind(mapping.originalType) : undefined;
  if (configured === undefined) return kind ? { lookback: defaultLookback(kind) } : {};
  const text = lookbackText(configured);
  const problem = kind && lookbackKindProblem(text, kind);
  if (problem) return `tables."${t.table}".cursor.lookback ${JSON.stringify(configured)} does not fit cursor column ${column} (${mapping!.originalType}): ${problem}`;
  return { lookback: text };
}

function planFailure(table: string, lakeTable: string, type: string, message: string, extract?: 'direct' | 'dynamodb'): TableOutcome {
  return {
    table,
    lakeTable,
    action: 'skip',
    ...(extract ? { extract } : {}),
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

type DynamoSource = SourceConfig & { source: Extract<SourceConfig['source'], { kind: 'dynamodb' }> };

function isDynamo(source: SourceConfig): source is DynamoSource {
  return source.source.kind === 'dynamodb';
}

function dynamoNameProblem(table: TableName): string | undefined {
  const name = dynamoNameOfKey(table);
  return name === undefined ? `a DynamoDB source lists its tables as dynamodb.<TableName>, not ${table}` : dynamoTableNameProblem(name);
}

/**
 * A DynamoDB table's entry (section 3 of the DynamoDB plan): its settings checked against its key,
 * point-in-time recovery on, then the action and export windows from the lake's export time. A
 * failure or a skip comes back as the table's outcome.
 */
function dynamoEntry(
  source: DynamoSource,
  t: DiscoveredTable,
  lakeTable: string,
  lakeExists: boolean,
  approvals: Pick<PlanEntry, 'approveDeletes' | 'allowOlderExport'>,
  options: PlanOptions,
): PlanEntry | TableOutcome {
  const settings = source.tables[t.table];
  const name = dynamoNameOfKey(t.table)!;
  const fail = (type: string, message: string) => planFailure(t.table, lakeTable, type, message, 'dynamodb');
  const attributes = settings?.attributes ?? {};
  const columns = columnPolicies(settings?.columns);
  const shared = {
    table: t.table,
    lakeTable,
    maxDeleteFraction: source.safety.maxDeleteFraction,
    ...approvals,
    ...(source.errors?.showValues ? { showValues: true } : {}),
    ...(Object.keys(columns).length > 0 ? { columns } : {}),
    ...(Object.values(columns).some((c) => c.hash) && source.hashKey ? { hashKey: source.hashKey } : {}),
  };
  const info = t.dynamodb;
  if (!info && t.notDescribed) return fail(t.notDescribed.type, `DynamoDB did not describe ${name}, so nothing is exported: ${t.notDescribed.message}`);
  if (!options.dynamodb) {
    // `lakesync plan` outside a cycle: no export time, so the windows are described, not fixed. The
    // settings the cycle would refuse are refused here too: all of them with the key, else those the config alone tells.
    const problems = info ? dynamoAttributeProblems(t.table, info.key, attributes, settings?.columns) : dynamoDeclaredNameProblems(t.table, attributes, settings?.columns);
    if (problems.length > 0) return fail('InvalidTableSettings', problems.join('; '));
    return {
      ...shared,
      primaryKey: info?.key.map((k) => k.name) ?? [],
      keySource: info ? 'source' : 'none',
      action: lakeExists ? 'merge' : 'create',
      reason: lakeExists
        ? "DynamoDB: incremental exports since the export time the lake reached, fixed when a cycle starts (a FULL export replaces the table when the gap is too long)"
        : 'DynamoDB: lake table missing: FULL export at the cycle\'s export time',
    };
  }
  if (!info) return fail('TableNotDescribed', `DynamoDB did not describe ${name} (its key and point-in-time recovery are unknown): check that the table exists in ${source.source.region} and that dynamodb:DescribeTable and dynamodb:DescribeContinuousBackups are allowed`);
  const problems = dynamoAttributeProblems(t.table, info.key, attributes, settings?.columns);
  if (problems.length > 0) return fail('InvalidTableSettings', problems.join('; '));
  if (!info.pitr.enabled) {
    const endpoint = source.source.endpoint ? ` --endpoint-url ${source.source.endpoint}` : '';
    return fail(
      'PointInTimeRecoveryOff',
      `point-in-time recovery is off, and DynamoDB exports need it: turn it on with ` +
        `aws dynamodb update-continuous-backups --table-name ${name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true --region ${source.source.region}${endpoint} ` +
        '(exports can then reach back to the moment it was turned on)',
    );
  }
  const window = source.source.exportWindow;
  const { exportTime, windowLimits, reached } = options.dynamodb;
  const unread = lakeExists && !options.rebuild ? options.dynamodb.lineageUnread?.[t.table] : undefined;
  // Without the export time the lake reached, no window can be planned: nothing is exported for it.
  if (unread) return fail('LineageUnreadable', `the last commit of lake table ${source.target.namespace}.${lakeTable} could not be read, so the export time it reached is unknown and nothing is exported: ${unread}`);
  const otherSource = lakeExists && !options.rebuild ? options.dynamodb.otherSource?.[t.table] : undefined;
  // The load would refuse the table (OtherSource) after its FULL export was paid for: refused here instead.
  if (otherSource) return fail('OtherSource', otherSource);
  const decision = planWindows({
    exportTime,
    lakeExists,
    reached: lakeExists ? reached[t.table] : undefined,
    rebuild: options.rebuild ?? false,
    earliestRestorable: info.pitr.earliestRestorable,
    recoveryPeriodDays: info.pitr.recoveryPeriodDays,
    restorableMarginSeconds: options.dynamodb.restorableMarginSeconds,
    limits: effectiveLimits(windowLimits, window?.maxHours ?? EXPORT_WINDOW_DEFAULTS.maxHours),
    maxWindows: window?.maxWindows ?? EXPORT_WINDOW_DEFAULTS.maxWindows,
  });
  if (decision.action === 'skip') return { table: t.table, lakeTable, action: 'skip', extract: 'dynamodb', status: 'skipped', reason: decision.reason };
  return {
    ...shared,
    primaryKey: info.key.map((k) => k.name),
    keySource: 'source',
    action: decision.action,
    ...(options.rebuild && lakeExists ? { rebuild: true } : {}),
    reason: decision.reason,
    extract: { kind: 'dynamodb', tableArn: info.tableArn, key: info.key, attributes, exports: decision.exports },
  };
}
