/**
 * What an export may take from the source database, computed from include/exclude before the
 * export starts, so that no excluded table ever leaves the database. The answer is RDS's
 * `ExportOnly` in lakesync's terms: whole schemas where every table, present or future, is
 * included, and single tables elsewhere. Pure: the scope activity, the backends and the tests
 * share it.
 *
 * The table list it works from is the source catalog where the backend can read it without a
 * side effect (embedded mode), else the table list of the previous export (AWS). A schema that an
 * exclude rule applies to can only be exported table by table, so without a known table list only
 * the tables the config names (`tables:` keys, include rules without wildcards) are exported there.
 */
import type { SourceConfig } from './config/schema';
import { excludeMatches, includeMatches, selectTable } from './config/tables';
import type { TableName } from './model';
import { isSchemaTable } from './names';

export interface ExportScopeEntries {
  /** No `ExportOnly`: every table of the database is included. */
  wholeDatabase: boolean;
  /** Schemas exported whole (`database.schema`). */
  schemas: string[];
  /** Tables exported one by one (`database.schema.table`). */
  tables: TableName[];
}

export interface ExportScope extends ExportScopeEntries {
  /** Known tables the rules leave out (never exported), with the deciding rule. */
  excluded: { table: TableName; rule: string }[];
  /** Included tables this cycle reads directly (extract: direct): never exported. */
  direct: TableName[];
  /** Every included table is read directly: the cycle takes no snapshot and no export. */
  nothingToExport: boolean;
  /** What the export leaves out because the tables there are not known yet, and the fix. */
  warnings: string[];
}

export type ScopeRules = Pick<SourceConfig, 'include' | 'exclude' | 'tables'>;

/** The source's tables as the latest exports listed them (AWS knows no catalog without exporting). */
export interface KnownTables {
  exportId: string;
  tables: TableName[];
}

/** Manifest keys: the source's table list, and the scope each cycle's export was given. */
export const SOURCE_TABLES_KEY = 'source-tables.json';
export const exportScopeKey = (cycleId: string) => `${cycleId}/export-scope.json`;

export class ExportScopeRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportScopeRefused';
  }
}

const GLOB_CHARS = /[*?[\]{}()!+@]/;
const ALL = new Set(['*', '**']);

/**
 * `schema.table` glob split at its first dot; undefined when it has no dot, or when that dot may
 * not be the separator: braces may hide one, and a class or an escape before it may hold it (`sales[.]orders`, `sales\\.orders`).
 */
function splitGlob(glob: string): { schema: string; table: string } | undefined {
  const dot = glob.indexOf('.');
  if (dot <= 0 || /[{}()]/.test(glob) || /[[\]\\]/.test(glob.slice(0, dot))) return undefined;
  return { schema: glob.slice(0, dot), table: glob.slice(dot + 1) };
}

const schemaOf = (table: TableName) => table.slice(0, table.indexOf('.'));


/** Whether an include rule takes every table of the database. */
function includesAll(include: readonly string[]): boolean {
  return include.some((glob) => {
    if (ALL.has(glob)) return true;
    const parts = splitGlob(glob);
    return parts !== undefined && ALL.has(parts.schema) && ALL.has(parts.table);
  });
}

/** Whether an include rule takes every table of the schema, present or future. */
function includesSchema(include: readonly string[], schema: string): boolean {
  return include.some((glob) => {
    if (ALL.has(glob)) return true;
    const parts = splitGlob(glob);
    return parts !== undefined && ALL.has(parts.table) && includeMatches(schema, parts.schema);
  });
}

/** The exclude rules that may apply to some table of the schema (a rule that cannot be split applies everywhere). */
function excludesIn(exclude: readonly string[], schema: string): string[] {
  return exclude.filter((glob) => {
    const parts = splitGlob(glob);
    return parts === undefined || excludeMatches(schema, parts.schema);
  });
}

/** How a table's rows would leave the database: in an export, or read directly (extract: direct). */
export type PartitionedRead = 'export' | 'direct';

/**
 * Why an included partitioned table is left out: an exclude rule names one of its partitions, and
 * an export of the table holds every partition's rows. Undefined when no partition is excluded.
 */
export function excludedPartitionReason(rules: ScopeRules, table: TableName, partitions: readonly TableName[] | undefined, read: PartitionedRead = 'export'): string | undefined {
  if (!partitions?.length || rules.exclude.length === 0) return undefined;
  // Exclude rules only: a partition is no table of its own, so one no include rule names (in another
  // schema, or named otherwise) is synced with its table, as the embedded export does.
  const excluded = partitions.flatMap((p) => {
    const rule = rules.exclude.find((glob) => excludeMatches(p, glob));
    return rule === undefined ? [] : [`${p} is excluded (exclude ${rule})`];
  });
  return excluded.length === 0 ? undefined : partitionsExcludedReason(table, excluded, read);
}

/** Why a partitioned table is not exported, given its excluded partitions (`<partition> is excluded (<rule>)`): the embedded export says it alike. */
export function partitionsExcludedReason(table: TableName, excluded: readonly string[], read: PartitionedRead = 'export'): string {
  const which = excluded.length === 1 ? `its partition ${excluded[0]}` : `its partitions ${excluded.slice(0, 10).join(', ')}${excluded.length > 10 ? ` and ${excluded.length - 10} more` : ''}`;
  const how =
    read === 'export'
      ? `is exported with the rows of all its partitions, so ${table} is not exported`
      : `is read directly (SELECT from the table) with the rows of all its partitions, so ${table} is not read directly`;
  return (
    `${which}, and a partitioned table ${how} (no row of it leaves the database): ` +
    `exclude ${table} too, or drop the exclude rule if the partition's rows may be synced with ${table}`
  );
}

/**
 * Without the source's partitions (no catalog connection), an exclude rule may name a partition,
 * whose rows an export of its partitioned table still holds: a rule that matches no known table,
 * and a wildcard rule even when it matches one (RDS lists a partitioned table, never its
 * partitions, so a rule like public.orders_2024* may match plain tables and partitions alike). A
 * warning naming the rules and the fix; undefined when every rule is a literal known table name.
 */
export function unknownPartitionWarning(rules: ScopeRules, known: readonly TableName[] | undefined): string | undefined {
  const tables = [...(known ?? []), ...namedTables(rules)];
  const unmatched = rules.exclude.filter((glob) => !tables.some((t) => excludeMatches(t, glob)));
  const wildcards = rules.exclude.filter((glob) => !unmatched.includes(glob) && GLOB_CHARS.test(glob));
  if (unmatched.length === 0 && wildcards.length === 0) return undefined;
  const what = [
    ...(unmatched.length > 0 ? [`the exclude rule(s) ${unmatched.join(', ')} match no table ${known === undefined ? 'the config names (no table list of the source is known yet)' : 'the source is known to have'}`] : []),
    ...(wildcards.length > 0 ? [`the wildcard exclude rule(s) ${wildcards.join(', ')} may match partitions as well as the tables they match`] : []),
  ].join('; ');
  return (
    `${what}; if one names a partition, its rows are exported with its partitioned table, which this source cannot tell without its catalog (partitions cannot be checked): ` +
    'exclude the partitioned table itself, or set source.catalog so that a partitioned table with an excluded partition is left out of the export'
  );
}

/** Tables the config names literally: `tables:` keys and include rules without wildcards. */
export function namedTables(rules: ScopeRules): TableName[] {
  const literal = rules.include.filter((glob) => !GLOB_CHARS.test(glob) && splitGlob(glob) !== undefined);
  return [...Object.keys(rules.tables), ...literal];
}

/** Schemas the include rules name literally (`sales.*`). */
function namedSchemas(rules: ScopeRules): string[] {
  return rules.include.flatMap((glob) => {
    const parts = splitGlob(glob);
    return parts && !GLOB_CHARS.test(parts.schema) ? [parts.schema] : [];
  });
}

const sorted = <T>(items: Iterable<T>): T[] => [...new Set(items)].sort();

/**
 * The scope of a sync's export. `known` is the source's table list (undefined when none is
 * known), `requested` the tables of a table-limited sync, `readDirectly` the tables this cycle
 * reads from the source directly (extract: direct), which the export leaves out: a schema holding
 * one is exported table by table. `partitions` lists each partitioned table's partitions where the
 * source's catalog tells them: RDS exports a partitioned table with its partitions' rows, so one
 * a partition of which is excluded is left out whole. Throws ExportScopeRefused when nothing can
 * be exported without risking an excluded table and no table is read directly.
 */
export function exportScope(
  rules: ScopeRules,
  known: readonly TableName[] | undefined,
  requested?: readonly TableName[],
  readDirectly: readonly TableName[] = [],
  partitions?: Readonly<Record<TableName, readonly TableName[]>>,
): ExportScope {
  const excluded = new Map<TableName, string>();
  const leaveOut = (table: TableName) => {
    const selection = selectTable(rules, table);
    const reason = selection.included ? excludedPartitionReason(rules, table, partitions?.[table]) : selection.rule;
    if (reason !== undefined) excluded.set(table, reason);
    return reason !== undefined;
  };
  const wanted = requested ? new Set(requested) : undefined;
  const direct = new Set(readDirectly.filter((t) => selectTable(rules, t).included && (!wanted || wanted.has(t))));
  const scope = (entries: ExportScopeEntries, warnings: string[] = []): ExportScope => ({
    ...entries,
    excluded: sorted(excluded.keys()).map((table) => ({ table, rule: excluded.get(table)! })),
    direct: sorted(direct),
    nothingToExport: !entries.wholeDatabase && entries.schemas.length === 0 && entries.tables.length === 0,
    warnings,
  });

  if (requested) {
    const unnamed = requested.filter((t) => !isSchemaTable(t));
    if (unnamed.length > 0) {
      throw new ExportScopeRefused(
        `requested table(s) ${unnamed.slice(0, 10).map((t) => JSON.stringify(t)).join(', ')}${unnamed.length > 10 ? ` and ${unnamed.length - 10} more` : ''} are no schema.table names: ` +
          'an export would read such a name as a whole schema (ExportOnly database.<name>) or as nothing; nothing is exported. Name each table as schema.table (e.g. public.orders)',
      );
    }
    const tables = sorted(requested.filter((t) => !leaveOut(t) && !direct.has(t)));
    if (tables.length === 0 && direct.size > 0) return scope({ wholeDatabase: false, schemas: [], tables: [] });
    if (tables.length === 0) {
      const why = [...excluded].map(([t, rule]) => `${t} (${rule})`).join(', ');
      throw new ExportScopeRefused(`every requested table is left out by the include/exclude rules: ${why}; nothing is exported. Request included tables, or change the rules`);
    }
    return scope({ wholeDatabase: false, schemas: [], tables });
  }

  if (rules.exclude.length === 0 && direct.size === 0 && includesAll(rules.include)) {
    for (const t of known ?? []) leaveOut(t);
    return scope({ wholeDatabase: true, schemas: [], tables: [] });
  }

  const candidates = sorted([...(known ?? []), ...namedTables(rules)].filter((t) => t.indexOf('.') > 0));
  const schemas: string[] = [];
  const tables: TableName[] = [];
  const warnings: string[] = [];
  for (const schema of sorted([...candidates.map(schemaOf), ...namedSchemas(rules)])) {
    const inSchema = candidates.filter((t) => schemaOf(t) === schema);
    const excludes = excludesIn(rules.exclude, schema);
    const directHere = inSchema.filter((t) => direct.has(t));
    const leftOut = new Set(inSchema.filter(leaveOut));
    // Whole only when no known table of it is left out, whatever the rules' text seemed to say.
    if (includesSchema(rules.include, schema) && excludes.length === 0 && directHere.length === 0 && leftOut.size === 0) {
      schemas.push(schema);
      continue;
    }
    tables.push(...inSchema.filter((t) => !leftOut.has(t) && !direct.has(t)));
    if (known === undefined && directHere.length > 0 && includesSchema(rules.include, schema)) {
      warnings.push(
        `schema ${schema} is exported table by table because ${directHere.join(', ')} ${directHere.length === 1 ? 'is' : 'are'} read directly, and no list of its tables is known: ` +
          `only the tables named under tables: or as include rules without wildcards are exported there`,
      );
    }
    if (inSchema.length === 0) {
      const why = excludes.length > 0 ? `the exclude rule(s) ${excludes.join(', ')} apply to it` : 'the include rules take only some of its tables';
      warnings.push(
        `schema ${schema} is not exported: ${why}, so it can only be exported table by table, and no table of it is known ` +
          `(neither the source's catalog nor an earlier export lists one); name its tables under tables: or as include rules without wildcards (e.g. ${schema}.orders)`,
      );
    }
  }
  if (schemas.length === 0 && tables.length === 0 && direct.size > 0) return scope({ wholeDatabase: false, schemas: [], tables: [] }, warnings);
  if (schemas.length === 0 && tables.length === 0) {
    const known0 = known === undefined ? 'no earlier export lists the source\'s tables' : 'no known table is included';
    throw new ExportScopeRefused(
      `nothing can be exported without risking an excluded table: ${known0}, and the exclude rule(s) ${rules.exclude.join(', ') || '(none)'} ` +
        `apply to every schema the include rules ${rules.include.join(', ')} name. Name the tables to sync under tables: (e.g. tables: { public.orders: {} }) ` +
        'or as include rules without wildcards (include: [public.orders]); after that, each export also takes the included tables earlier exports listed (docs/aws-setup.md)',
    );
  }
  return scope({ wholeDatabase: false, schemas, tables: sorted(tables) }, warnings);
}

/**
 * Whether a table falls inside an export's scope, i.e. the export would have listed it had it
 * existed. An unknown scope (an export lakesync did not scope) is the whole database.
 */
export function inScope(table: TableName, scope: ExportScopeEntries | undefined): boolean {
  if (!scope || scope.wholeDatabase) return true;
  return scope.schemas.includes(schemaOf(table)) || scope.tables.includes(table);
}

/**
 * The source's table list after an export: inside the export's scope, what the export listed
 * (a table it did not list is gone); outside, the previous list. Without a recorded scope nothing
 * is dropped, since the export may have been limited.
 */
export function mergeKnownTables(previous: readonly TableName[], listed: readonly TableName[], scope: ExportScopeEntries | undefined): TableName[] {
  const kept = scope ? previous.filter((t) => !inScope(t, scope)) : previous;
  return sorted([...kept, ...listed]);
}

/** Names RDS takes in a partial export (`ExportOnly`): Latin letters, digits, `$` and `_`. */
const EXPORT_ONLY_NAME = /^[A-Za-z0-9$_]+$/;

export function isExportOnlyName(name: string): boolean {
  return EXPORT_ONLY_NAME.test(name);
}

/**
 * The warning of a whole-database export RDS cannot limit to the source's database: with no
 * `ExportOnly` it writes every database of the snapshot to the export bucket.
 */
export function wholeSnapshotWarning(database: string, scope: Pick<ExportScopeEntries, 'wholeDatabase'>): string | undefined {
  if (!scope.wholeDatabase || isExportOnlyName(database)) return undefined;
  return (
    `RDS cannot limit the export to database "${database}" (ExportOnly takes only names of Latin letters, digits, $ and _), ` +
    'so it exports the whole snapshot: every database of the instance is written to the export bucket. Rename the database, or read its tables directly (extract: direct)'
  );
}
/** The most `ExportOnly` may hold (RDS's limit on the list's size). */
export const EXPORT_ONLY_MAX_BYTES = 200 * 1024;

/**
 * Why RDS would refuse this scope as `ExportOnly`, or undefined. RDS supports no partial export
 * when the database, a schema or a table named in it has other characters, and takes at most
 * 200 KB of entries; a whole-database scope has no `ExportOnly`. Checked before the snapshot, so
 * the refusal leaves no side effect.
 */
export function exportOnlyProblem(database: string, scope: ExportScopeEntries): string | undefined {
  if (scope.wholeDatabase || (scope.schemas.length === 0 && scope.tables.length === 0)) return undefined;
  const fix = 'rename them, read those tables directly (extract: direct), or let the export take the whole database (include every table, no exclude rule)';
  if (!EXPORT_ONLY_NAME.test(database)) {
    return `RDS cannot export part of database "${database}": a partial export (ExportOnly) takes only names of Latin letters, digits, $ and _. Let the export take the whole database (include every table, no exclude rule), or read the tables directly (extract: direct)`;
  }
  const badSchemas = scope.schemas.filter((s) => !EXPORT_ONLY_NAME.test(s));
  const badTables = scope.tables.filter((t) => !EXPORT_ONLY_NAME.test(schemaOf(t)) || !EXPORT_ONLY_NAME.test(t.slice(t.indexOf('.') + 1)));
  if (badSchemas.length > 0 || badTables.length > 0) {
    const named = [...badSchemas.map((s) => `schema ${s}`), ...badTables].slice(0, 10).join(', ');
    const more = badSchemas.length + badTables.length > 10 ? ` and ${badSchemas.length + badTables.length - 10} more` : '';
    return `RDS cannot export ${named}${more} on their own: a partial export (ExportOnly) takes only names of Latin letters, digits, $ and _; ${fix}`;
  }
  const bytes = new TextEncoder().encode(JSON.stringify([...scope.schemas, ...scope.tables].map((name) => `${database}.${name}`))).length;
  if (bytes > EXPORT_ONLY_MAX_BYTES) {
    return `the export would name ${scope.schemas.length} schemas and ${scope.tables.length} tables, ${Math.ceil(bytes / 1024)} KB of ExportOnly where RDS takes at most 200 KB: include whole schemas (schema.*) that no exclude rule applies to, so each is one entry, or read some tables directly (extract: direct)`;
  }
  return undefined;
}
