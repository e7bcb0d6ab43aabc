/**
 * Which source tables a source syncs, and the lake name each one gets.
 * Pure functions: `plan`, `validate` and the activities share them.
 */
import picomatch from 'picomatch';
import { LAKE_NAME_RULE, isValidLakeName, splitTable } from '../names';
import type { SourceConfig } from './schema';

export interface Selection {
  included: boolean;
  /** The include or exclude glob that decided, for `lakesync plan`. */
  rule: string;
}

/**
 * A table name is no path: picomatch's `*` stops at a slash and `?` skips a line break, both legal
 * in a quoted PostgreSQL name, so `*.*` would miss `public.a/b` and `*.*_pii` would let
 * `public.people/emails_pii` through an include `**`. Slashes become a character with no meaning
 * to a glob, in the name and in the glob alike (a rule may name the slash), and `.` matches line breaks.
 */
const SLASH = /\//g;
const NOT_A_SEPARATOR = '\uE000';

function globMatches(value: string, glob: string, nocase: boolean): boolean {
  return picomatch.isMatch(value.replace(SLASH, NOT_A_SEPARATOR), glob.replace(SLASH, NOT_A_SEPARATOR), { dot: true, nocase, flags: nocase ? 'is' : 's' });
}

/**
 * Whether an exclude glob matches: whatever the case, since lake names are lowercased and a rule
 * written `public.*_pii` must keep `public.Customers_PII` in the database too.
 */
export function excludeMatches(value: string, glob: string): boolean {
  return globMatches(value, glob, true);
}

/** Whether an include glob matches (case-sensitive, as the source spells the name). */
export function includeMatches(value: string, glob: string): boolean {
  return globMatches(value, glob, false);
}

/** A table is synced when an include glob matches it (case-sensitively) and no exclude glob does (in any case). */
export function selectTable(source: Pick<SourceConfig, 'include' | 'exclude'>, table: string): Selection {
  const excludedBy = source.exclude.find((glob) => excludeMatches(table, glob));
  if (excludedBy) return { included: false, rule: `exclude ${excludedBy}` };
  const includedBy = source.include.find((glob) => includeMatches(table, glob));
  if (includedBy) return { included: true, rule: `include ${includedBy}` };
  return { included: false, rule: 'matches no include rule' };
}

/**
 * The lake table name: the template filled in, lowercased, every run of characters S3 Tables
 * does not allow turned into one underscore, and the underscores at either end dropped (a name
 * must start and end with a letter or digit, and `orders_` or `price(€)` would end with one).
 * An explicit `lakeName` wins.
 */
export function lakeTableName(source: Pick<SourceConfig, 'database' | 'target' | 'tables'>, table: string): string {
  const explicit = source.tables[table]?.lakeName;
  if (explicit) return explicit;
  const [schema, name] = splitTable(table);
  return fillTemplate(source.target.tableName, source.database, schema, name).replace(/^_+|_+$/g, '');
}

/** A template filled in and turned into lake-name characters, its ends left as they are. */
function fillTemplate(template: string, database: string, schema: string, table: string): string {
  return template
    .replaceAll('{database}', database)
    .replaceAll('{schema}', schema)
    .replaceAll('{table}', table)
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_');
}

/**
 * Why a target.tableName template cannot make valid lake names, or undefined when it can: it is
 * filled in for a plain sample table (db, public.a), so only the template's own text can break
 * the rule (a `{table}_` ends every name with an underscore).
 */
export function tableNameTemplateProblem(template: string): string | undefined {
  const sample = fillTemplate(template, 'db', 'public', 'a');
  if (isValidLakeName(sample)) return undefined;
  return `gives lake names such as "${sample}" (for table public.a), and lake names must be ${LAKE_NAME_RULE}: change the characters around the placeholders`;
}

/** A config entry that names tables, and where it is. */
export interface TableEntry {
  /** The field, e.g. `tables`, `exclude` or `verify.checks.0.table`. */
  field: string;
  entry: string;
}

/**
 * The `tables:` keys, exclude globs and verify checks that match none of `tables` (the source's
 * table names): they do nothing, most often because of a typo or of a name's case or quotes.
 */
export function unmatchedEntries(source: Pick<SourceConfig, 'tables' | 'exclude' | 'verify'>, tables: readonly string[]): TableEntry[] {
  const names = new Set(tables);
  return [
    ...Object.keys(source.tables).filter((key) => !names.has(key)).map((entry) => ({ field: 'tables', entry })),
    ...source.exclude.filter((glob) => !tables.some((t) => excludeMatches(t, glob))).map((entry) => ({ field: 'exclude', entry })),
    ...source.verify.checks.flatMap((check, i) => (names.has(check.table) ? [] : [{ field: `verify.checks.${i}.table`, entry: check.table }])),
  ];
}

/**
 * The `tables:` keys that name none of `tables`, by their lowercased name: a table without a key of
 * its own that finds one here has settings written in another case (PostgreSQL names are
 * case-sensitive once quoted), which a lookup by its name misses.
 */
export function keysMatchingNoTable(source: Pick<SourceConfig, 'tables'>, tables: ReadonlySet<string>): Map<string, string> {
  const byLower = new Map<string, string>();
  for (const key of Object.keys(source.tables)) if (!tables.has(key) && !byLower.has(key.toLowerCase())) byLower.set(key.toLowerCase(), key);
  return byLower;
}

/** Groups of source tables that map to the same lake name (each group has 2+ tables). */
export function lakeNameCollisions(source: Pick<SourceConfig, 'database' | 'target' | 'tables'>, tables: string[]): string[][] {
  const byLake = new Map<string, string[]>();
  for (const table of tables) {
    const lake = lakeTableName(source, table);
    byLake.set(lake, [...(byLake.get(lake) ?? []), table]);
  }
  return [...byLake.values()].filter((group) => group.length > 1);
}
