/**
 * What `lakesync plan` shows, computed without side effects: no snapshot, no export, no load,
 * nothing written. Where the table list comes from:
 *  1. the last export's manifest, when the source workflow exposes its last export (read with
 *     `ports.discover`, the only port `plan` calls: it reads files and changes nothing);
 *  2. else the backend's own list when it has one without side effects (`discover.listTables`);
 *  3. else the config's `tables` plus every table the source's ledger has seen.
 * Whether a lake table exists comes from the source's ledger (a committed load made it).
 */
import { PARTITION_OF } from '../catalog-queries';
import type { SourceConfig } from '../config/schema';
import { excludeMatches, type TableEntry, lakeTableName, selectTable, unmatchedEntries } from '../config/tables';
import type { CursorMode, DiscoveredTable, KeySource, PlannedAction, TableName } from '../model';
import { keysFromConfigNote, nullableCursorWarnings, planTables, readsDirectly, sourceKeysReadable } from '../plan';
import { directExtract, directNotATableReason } from '../config/direct';
import type { Ports } from '../ports';
import type { SourceStatus } from '../workflows/messages';
import { excludedPartitionReason, unknownPartitionWarning } from '../export-scope';

export interface PlanRow {
  table: string;
  /** `<namespace>.<lake table>`. */
  lakeTable: string;
  action: PlannedAction;
  why: string;
  primaryKey: string[];
  /** Where the plan took the key from: configured (lakesync.yaml), source (the export's catalog) or none. */
  keyFrom: KeySource;
  cursorColumn?: string;
  cursorMode?: CursorMode;
  /** How far below the lake's max(cursor) a load reads again; absent: the job's default for the column type. */
  cursorLookback?: string;
  /** The include/exclude rule that decided, when the table is not loaded because of it. */
  excludedBy?: string;
  error?: string;
  /**
   * Where the load reads the table: `export` (the snapshot export), `direct` (the source over JDBC),
   * or `export-then-direct` (created from this sync's export, direct windows after), or
   * `dynamodb` (the table's own DynamoDB exports).
   */
  extract: ExtractPath;
}

export type ExtractPath = 'export' | 'direct' | 'export-then-direct' | 'dynamodb';

/** The words `lakesync plan` prints for each path. */
export const EXTRACT_WORDS: Record<ExtractPath, string> = {
  export: 'export',
  direct: 'direct',
  'export-then-direct': 'first load from export, then direct',
  dynamodb: 'dynamodb',
};

export interface PlanReport {
  source: string;
  namespace: string;
  tablesFrom: string;
  lakeStateFrom: string;
  rows: PlanRow[];
  notes: string[];
  /** Config entries that do nothing: a tables: key, an exclude glob or a verify check that matches no table of the source. */
  warnings: string[];
}

export interface PlanInputs {
  name: string;
  source: SourceConfig;
  /** The source workflow's status; undefined when none runs or Temporal is unreachable. */
  status: SourceStatus | undefined;
  statusNote?: string;
  /** Temporal could not be asked: whether a source workflow runs is not known. */
  statusUnknown?: boolean;
  /** Opens the source's ports (the port factory); only reads are made through them. */
  ports?: () => Promise<Ports>;
  /** Reads every table of the source's catalog with its columns and key (postgres/pglite), read-only. */
  catalog?: () => Promise<DiscoveredTable[]>;
  /** The partitions of each partitioned table of that catalog, keyed by the table (read with it). */
  partitions?: () => Promise<Record<TableName, TableName[]>>;
  /** The tables of that catalog the export will skip (unlogged...), with the reason (read with it): not planned. */
  notExported?: () => Promise<{ table: TableName; reason: string }[]>;
}

export async function buildPlan(inputs: PlanInputs): Promise<PlanReport> {
  const { name, source, status } = inputs;
  const notes: string[] = inputs.statusNote ? [inputs.statusNote] : [];
  const discovered = await discoveredTables(inputs, notes);
  const { tablesFrom, keysKnown, listed, fromExport, partitions = {}, notExported = [], notTables = {} } = discovered;
  // An export never holds an excluded table: the last cycle's excluded ones are shown with their rule.
  const tables = fromExport ? [...discovered.tables, ...excludedByLastCycle(source, status, discovered.tables)] : discovered.tables;

  const ledger = Object.keys(status?.ledger ?? {});
  const lakeTables = new Set(ledger.map((t) => lakeTableName(source, t)));
  const lakeStateFrom = status
    ? `the ledger of workflow lakesync/${name} (${ledger.length} table(s) loaded)`
    : `unknown (${inputs.statusUnknown ? 'Temporal could not be asked' : 'no source workflow'}): every table is planned as new`;

  const refusedDirect: string[] = [];
  const catalog = await directTables(inputs, tables, notes, refusedDirect);
  // Only a listing of the source's own tables can tell that an entry matches none of them; an
  // export's cannot tell it of an exclude rule, since the tables it excludes are never exported.
  // Tables the export skipped (unlogged...) exist in the source too; partitions are matched by name below.
  const unmatched = listed ? unmatchedEntries(source, [...tables, ...catalog].map((t) => t.table).concat(notExported)) : [];
  const warnings = [
    ...refusedDirect,
    ...nullableCursorWarnings(source, catalog),
    ...unmatched.filter((e) => !(fromExport && e.field === 'exclude')).map((e) => partitionRuleWarning(source, e, partitions) ?? notATableWarning(e, notTables) ?? unmatchedWarning(e)),
  ];
  // Without source.catalog an RDS source's partitions are unknown: an exclude rule may name one, whose rows the export of its table holds.
  if (source.source.kind === 'rds' && !source.source.catalog && discovered.partitions === undefined) {
    const partitionWarning = unknownPartitionWarning(source, listed ? tables.map((t) => t.table) : undefined);
    if (partitionWarning) warnings.push(partitionWarning);
  }
  const pathOf = (table: string): ExtractPath =>
    source.source.kind === 'dynamodb' ? 'dynamodb' : !directExtract(source.tables[table]) ? 'export' : readsDirectly(source, table, lakeTables.has(lakeTableName(source, table))) ? 'direct' : 'export-then-direct';
  // A partitioned table with an excluded partition is neither exported nor read directly (either would hold the partition's rows).
  const leftOut = new Map<TableName, string>();
  for (const { table } of [...tables, ...catalog]) {
    if (!selectTable(source, table).included) continue;
    const reason = excludedPartitionReason(source, table, partitions[table], pathOf(table) === 'direct' ? 'direct' : 'export');
    if (reason !== undefined) leftOut.set(table, reason);
  }
  const kept = (list: DiscoveredTable[]) => list.filter((t) => !leftOut.has(t.table));
  const planned = planTables(source, kept(tables), lakeTables, {}, kept(catalog));
  const keysNote = keysFromConfigNote(source, planned.entries);
  if (keysNote) notes.push(keysNote);
  const ns = source.target.namespace;
  const rows: PlanRow[] = planned.entries.map((e) => {
    const why = !keysKnown && sourceKeysReadable(source) && e.keySource === 'none' && e.action === 'replace' ? 'no primary key configured; a primary key found in the source at discover makes this a merge' : e.reason;
    return {
      table: e.table,
      lakeTable: `${ns}.${e.lakeTable}`,
      action: e.action,
      why,
      primaryKey: e.primaryKey,
      keyFrom: e.keySource,
      extract: pathOf(e.table),
      ...(e.cursor ? { cursorColumn: e.cursor.column, cursorMode: e.cursor.mode, ...(e.cursor.lookback ? { cursorLookback: e.cursor.lookback } : {}) } : {}),
    };
  });
  for (const n of planned.notLoaded) {
    const selection = selectTable(source, n.table);
    // The row names the table: its error's own "<table>: " prefix would repeat it.
    const error = n.error?.message.startsWith(`${n.table}: `) ? n.error.message.slice(n.table.length + 2) : n.error?.message;
    rows.push({
      table: n.table,
      lakeTable: `${ns}.${n.lakeTable}`,
      action: 'skip',
      why: n.reason ?? error ?? 'not loaded',
      primaryKey: [],
      keyFrom: 'none',
      extract: pathOf(n.table),
      ...(!selection.included ? { excludedBy: selection.rule } : {}),
      ...(n.error ? { error: n.error.message } : {}),
    });
  }
  for (const [table, reason] of leftOut) {
    rows.push({ table, lakeTable: `${ns}.${lakeTableName(source, table)}`, action: 'skip', why: `excluded (${reason})`, primaryKey: [], keyFrom: 'none', extract: pathOf(table) });
  }
  rows.sort((a, b) => a.table.localeCompare(b.table));
  return { source: name, namespace: ns, tablesFrom, lakeStateFrom, rows, notes, warnings };
}

/** Tables the last cycle left out by an exclude rule that `listed` lacks, to be planned (and shown) as excluded again. */
function excludedByLastCycle(source: SourceConfig, status: SourceStatus | undefined, listed: readonly DiscoveredTable[]): DiscoveredTable[] {
  const have = new Set(listed.map((t) => t.table));
  return (status?.lastCycle?.tables ?? [])
    .filter((t) => t.status === 'skipped' && /^excluded\b/.test(t.reason ?? '') && !have.has(t.table))
    .map((t) => ({ table: t.table, target: `${source.database}.${t.table}`, columns: [] }));
}

/**
 * An exclude rule that names partitions of a partitioned table: the partition is no table of its
 * own in an export (its rows are the partitioned table's), so an included partitioned table is
 * left out whole. Undefined when the entry names no partition.
 */
function partitionRuleWarning(source: SourceConfig, { field, entry }: TableEntry, partitions: Record<TableName, TableName[]>): string | undefined {
  if (field !== 'exclude') return undefined;
  const hits = Object.entries(partitions).flatMap(([table, parts]) => {
    const named = parts.filter((p) => excludeMatches(p, entry));
    return named.length > 0 ? [{ table, named }] : [];
  });
  if (hits.length === 0) return undefined;
  return hits
    .map(({ table, named }) => {
      const which = `${named.slice(0, 5).join(', ')}${named.length > 5 ? ` and ${named.length - 5} more` : ''}`;
      const effect = selectTable(source, table).included
        ? directExtract(source.tables[table])
          ? `a partitioned table is exported, or read directly, with the rows of all its partitions, so ${table} is neither exported nor read directly (no row of it leaves the database): exclude ${table} too, or drop the rule if the partition's rows may be synced with ${table}`
          : `a partitioned table is exported with the rows of all its partitions, so ${table} is not exported (no row of it leaves the database): exclude ${table} too, or drop the rule if the partition's rows may be synced with ${table}`
        : `${table} is excluded too, so none of its rows is exported`;
      return `exclude entry "${entry}" names ${which}, ${named.length === 1 ? 'a partition' : 'partitions'} of ${table}: ${effect}`;
    })
    .join('; ');
}

/** A tables: key naming a view, materialized view or foreign table: no export holds one, whatever its spelling. */
function notATableWarning({ field, entry }: TableEntry, notTables: Record<TableName, string>): string | undefined {
  const kind = field === 'tables' ? notTables[entry] : undefined;
  if (kind === undefined) return undefined;
  if (kind.startsWith(PARTITION_OF)) {
    const parent = kind.slice(PARTITION_OF.length);
    return `tables entry "${entry}" names a ${kind}, not a table: an export holds its rows in ${parent}, so its settings apply to nothing; set tables."${parent}" instead, or remove the entry`;
  }
  return `tables entry "${entry}" names a ${kind}, not a table: an export holds tables only, so it is not loaded and its settings apply to nothing; sync the tables it reads from, or remove the entry`;
}

const ENTRY_EFFECT: Record<string, string> = { tables: 'its settings apply to nothing', exclude: 'it excludes nothing' };

function unmatchedWarning({ field, entry }: TableEntry): string {
  const effect = ENTRY_EFFECT[field] ?? 'the check never runs';
  return (
    `${field} entry "${entry}" matches no table of this source, so ${effect}: ` +
    (field === 'exclude'
      ? 'exclude rules match the names the source lists in any case (e.g. public.Odd Name, without quotes); check the spelling'
      : 'matching is case-sensitive on the exact names the source lists (e.g. public.Odd Name, without quotes); check the spelling')
  );
}

/**
 * The tables read directly (extract: direct) as the source's catalog describes them: they are not
 * in an export's listing once they are read directly. From the catalog read for the plan, else the
 * backend's description, else their configured names.
 */
async function directTables(inputs: PlanInputs, listed: DiscoveredTable[], notes: string[], refused: string[]): Promise<DiscoveredTable[]> {
  const { source } = inputs;
  const configured = Object.keys(source.tables).filter((t) => directExtract(source.tables[t]) && selectTable(source, t).included);
  if (configured.length === 0) return [];
  const fromListing = listed.filter((t) => configured.includes(t.table));
  if (fromListing.length === configured.length && listed.some((t) => t.columns.length > 0)) return fromListing;
  let names = configured;
  if (inputs.ports) {
    const ports = await inputs.ports();
    try {
      // A view, materialized view or foreign table is not read directly: the cycle refuses it (NotATable), and so does the plan.
      const notTables = ports.export?.listSourceNotTables ? await ports.export.listSourceNotTables() : {};
      names = configured.filter((t) => notTables[t] === undefined || notTables[t]!.startsWith(PARTITION_OF));
      for (const t of configured.filter((c) => !names.includes(c))) refused.push(directNotATableReason(t, notTables[t]!, `remove tables."${t}" from the config`));
      if (ports.discover.sourceTables) return names.length > 0 ? await ports.discover.sourceTables(names) : [];
    } catch (err) {
      notes.push(`the columns and keys of the tables read directly could not be read: ${(err as Error).message}`);
    } finally {
      await ports.close?.();
    }
  }
  const known = new Map(fromListing.map((t) => [t.table, t]));
  return names.map((table) => known.get(table) ?? { table, target: `${source.database}.${table}`, columns: [] });
}

/** The tables to plan, and whether their source keys are known (only an export lists them). */
/** `listed`: the tables come from the source (an export, its catalog, the backend's list), not from the config. */
interface Discovered {
  tables: DiscoveredTable[];
  tablesFrom: string;
  keysKnown: boolean;
  listed: boolean;
  fromExport?: true;
  /** The partitions of each partitioned table, where the source's catalog tells them. */
  partitions?: Record<TableName, TableName[]>;
  /** Tables of the source the listing holds as not exported (skipped: unlogged...). */
  notExported?: TableName[];
  /** The source's views, materialized views and foreign tables (`schema.table` -> what it is), where its catalog tells them. */
  notTables?: Record<TableName, string>;
}

async function discoveredTables(inputs: PlanInputs, notes: string[]): Promise<Discovered> {
  const { source, status } = inputs;
  const toTable = (table: string): DiscoveredTable => ({ table, target: `${source.database}.${table}`, columns: [] });
  const lastExport = status?.lastExport?.export;
  if (inputs.ports) {
    const ports = await inputs.ports();
    try {
      const partitions = async () => (inputs.partitions ? { partitions: await inputs.partitions() } : ports.export?.listSourcePartitions ? { partitions: await ports.export.listSourcePartitions() } : {});
      // Read only when a tables: key names no listed table: it may name a view, which no export holds.
      const notTables = async (listed: readonly TableName[]) =>
        ports.export?.listSourceNotTables && Object.keys(source.tables).some((key) => !listed.includes(key)) ? { notTables: await ports.export.listSourceNotTables() } : {};
      if (lastExport) {
        if (await ports.discover.exportAvailable(lastExport)) {
          const found = await ports.discover.discover(lastExport);
          for (const s of found.skipped) notes.push(`${s.table} was not exported: ${s.reason}`);
          const notExported = found.skipped.map((s) => s.table);
          // An exclude rule added since may name a partition of an exported table: the next cycle leaves that table out.
          const parts = source.exclude.length > 0 ? await partitions() : {};
          return { tables: found.tables, tablesFrom: `the last export ${lastExport.exportId}`, keysKnown: true, listed: true, fromExport: true, notExported, ...parts, ...(await notTables([...found.tables.map((t) => t.table), ...notExported])) };
        }
        notes.push(`the last export ${lastExport.exportId} cannot be read from here (deleted, or kept in the worker's memory by the fake backend); listing tables from the config`);
      }
      if (inputs.catalog) {
        const tables = await inputs.catalog();
        const skipped = inputs.notExported ? await inputs.notExported() : [];
        for (const s of skipped) notes.push(`${s.table} will not be exported: ${s.reason}`);
        const notExported = skipped.map((s) => s.table);
        return { tables, tablesFrom: "the source's catalog", keysKnown: true, listed: true, ...(await partitions()), notExported, ...(await notTables([...tables.map((t) => t.table), ...notExported])) };
      }
      if (ports.discover.listTables) {
        const tables = (await ports.discover.listTables()).map(toTable);
        const notExported = ports.discover.listNotExported ? { notExported: await ports.discover.listNotExported() } : {};
        return { tables, tablesFrom: "the backend's table list", keysKnown: false, listed: true, ...(await partitions()), ...notExported, ...(await notTables([...tables.map((t) => t.table), ...(notExported.notExported ?? [])])) };
      }
    } finally {
      await ports.close?.();
    }
  }
  const seen = new Set([...Object.keys(source.tables), ...Object.keys(status?.ledger ?? {}), ...Object.keys(status?.failed ?? {}), ...(status?.lastCycle?.tables ?? []).map((t) => t.table)]);
  notes.push('tables not listed in the config and never synced appear after the first sync (the export lists them)');
  return { tables: [...seen].sort().map(toTable), tablesFrom: status ? 'the config\'s tables and the tables the source has synced' : 'the config\'s tables', keysKnown: false, listed: false };
}
