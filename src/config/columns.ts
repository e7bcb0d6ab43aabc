/**
 * Column-level control of lakesync.yaml: per table `columns: { <source column>: policy }` and the
 * source's `hashKey`. What can be checked without the source catalog is checked here; the rest
 * (unknown columns, key and cursor columns by their lake names, clamp against the column's type,
 * two columns with one lake name) by `columnPolicyProblems` at plan time, before any load.
 */
import { z } from 'zod';
import type { ColumnPolicy, HashKey } from '../model';
import { cursorKind } from '../lookback';
import { LAKE_NAME } from '../names';

/** Spark SQL types a column may be cast to (`type:`), as the load job accepts them. */
export const LAKE_TYPE = /^(decimal\(\s*\d{1,2}\s*,\s*\d{1,2}\s*\)|double|float|string|bigint|int|date|timestamp|boolean)$/;
const LAKE_TYPE_FIX = 'use one of decimal(p,s), double, float, string, bigint, int, date, timestamp, boolean';
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type { ColumnPolicy, HashKey } from '../model';

const columnPolicySchema = z
  .object({
    exclude: z.boolean().optional().describe('The column never reaches the lake (nor any error message).'),
    hash: z.boolean().optional().describe('The lake holds a keyed hash (HMAC) of the value instead of the value; needs the source\'s hashKey.'),
    rename: z
      .string()
      .regex(LAKE_NAME, 'is not a valid lake column name: use 1-255 lowercase letters, digits or underscores, starting with a letter or digit')
      .optional()
      .describe('The lake column name.'),
    type: z
      .string()
      .transform((t) => t.trim().toLowerCase().replace(/\s+/g, ''))
      .refine((t) => LAKE_TYPE.test(t), { message: `is not a lake type: ${LAKE_TYPE_FIX}` })
      .refine((t) => !/^decimal/.test(t) || decimalFits(t), { message: 'decimal(p,s) needs 1 <= p <= 38 and 0 <= s <= p' })
      .optional()
      .describe(`The lake type the value is cast to: ${LAKE_TYPE_FIX}.`),
    onInvalid: z
      .enum(['fail', 'null', 'clamp'], { message: 'must be fail, "null" or clamp (in YAML quote null: onInvalid: "null"; a bare null is no value)' })
      .optional()
      .describe('A value the lake type cannot hold: fail the table (default), store NULL (counted), or clamp a date/timestamp to the lake\'s range (counted).'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const others = (['hash', 'rename', 'type', 'onInvalid'] as const).filter((k) => c[k] !== undefined && c[k] !== false);
    if (c.exclude && others.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['exclude'], message: `an excluded column never reaches the lake, so ${others.join(', ')} cannot apply: remove exclude or ${others.join(', ')}` });
    }
    if (c.hash && c.type !== undefined && c.type !== 'string') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'a hashed column is a string (hex digest): remove type or hash' });
    }
    if (c.hash && c.onInvalid !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['onInvalid'], message: 'a hashed column is never cast, so onInvalid cannot apply: remove onInvalid or hash' });
    }
    if (c.onInvalid === 'clamp' && c.type !== undefined && c.type !== 'date' && c.type !== 'timestamp') {
      ctx.addIssue({ code: 'custom', path: ['onInvalid'], message: `clamp applies to date and timestamp columns only, not ${c.type}: use fail or null` });
    }
  });

export const columnsSchema = z
  .record(z.string().min(1, 'column names cannot be empty'), columnPolicySchema)
  .superRefine((columns, ctx) => {
    const byLake = new Map<string, string[]>();
    for (const [name, c] of Object.entries(columns)) {
      if (!c.rename) continue;
      byLake.set(c.rename, [...(byLake.get(c.rename) ?? []), name]);
    }
    for (const [lake, names] of byLake) {
      if (names.length > 1) ctx.addIssue({ code: 'custom', path: [names[1]!, 'rename'], message: `columns ${names.join(', ')} are all renamed to "${lake}": give each its own lake name` });
    }
  })
  .describe('Per source column: exclude, hash, rename, type, onInvalid.');

export const hashKeySchema = z
  .union(
    [
      z.object({ env: z.string().regex(ENV_VAR, 'must be an environment variable name, e.g. LAKESYNC_HASH_KEY') }).strict().describe('Local backend: the environment variable of the load that holds the key.'),
      z.object({ secretArn: z.string().min(1, 'name the Secrets Manager secret (ARN or name)') }).strict().describe('AWS backend: the Secrets Manager secret (ARN or name) that holds the key.'),
    ],
    { message: 'must be { env: <VARIABLE> } (local backend) or { secretArn: <Secrets Manager ARN or name> } (aws backend)' },
  )
  .describe('Where the key of hashed columns is: never the key itself.');

export type ColumnsSettings = z.infer<typeof columnsSchema>;

function decimalFits(type: string): boolean {
  const m = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (!m) return false;
  const [p, s] = [Number(m[1]), Number(m[2])];
  return p >= 1 && p <= 38 && s >= 0 && s <= p;
}

/** The policies as the job receives them: only the options in force, columns without one left out. */
export function columnPolicies(columns: ColumnsSettings | undefined): Record<string, ColumnPolicy> {
  const out: Record<string, ColumnPolicy> = {};
  for (const [name, c] of Object.entries(columns ?? {})) {
    const policy: ColumnPolicy = {
      ...(c.exclude ? { exclude: true as const } : {}),
      ...(c.hash ? { hash: true as const } : {}),
      ...(c.rename ? { rename: c.rename } : {}),
      ...(c.type ? { type: c.type } : {}),
      ...(c.onInvalid ? { onInvalid: c.onInvalid } : {}),
    };
    if (Object.keys(policy).length > 0) out[name] = policy;
  }
  return out;
}

/** Whether any column of any table is hashed (the source then needs a hashKey). */
export function hashesAnyColumn(tables: Record<string, { columns?: ColumnsSettings | undefined }>): string[] {
  return Object.entries(tables).flatMap(([table, t]) => Object.entries(t.columns ?? {}).filter(([, c]) => c.hash).map(([column]) => `${table}.${column}`));
}

/** Config rules on the source's hashKey: needed when a column is hashed, of the backend's kind. */
export function hashKeyProblems(source: { backend: string; hashKey?: HashKey | undefined; tables: Record<string, { columns?: ColumnsSettings | undefined }> }): { path: (string | number)[]; message: string }[] {
  const hashed = hashesAnyColumn(source.tables);
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (hashed.length > 0 && !source.hashKey) {
    const example = source.backend === 'aws' ? '{ secretArn: <Secrets Manager ARN or name> }' : '{ env: LAKESYNC_HASH_KEY }';
    problems.push({ path: ['hashKey'], message: `column(s) ${hashed.join(', ')} are hashed, which needs a key: add hashKey: ${example} (the key itself never goes in the config)` });
  }
  if (source.hashKey && source.backend === 'aws' && 'env' in source.hashKey) {
    problems.push({ path: ['hashKey', 'env'], message: 'a Glue job cannot read an environment variable of this machine: use hashKey: { secretArn: <Secrets Manager ARN or name> }' });
  }
  if (source.hashKey && source.backend === 'local' && 'secretArn' in source.hashKey) {
    problems.push({ path: ['hashKey', 'secretArn'], message: 'the local backend reads the key from an environment variable: use hashKey: { env: <VARIABLE> }' });
  }
  return problems;
}

/** Names Iceberg reserves for its metadata columns (glue/lakesync_glue/names.py ICEBERG_METADATA_COLUMNS): a table with one cannot be read. */
export const ICEBERG_METADATA_COLUMNS = ['_file', '_pos', '_deleted', '_spec_id', '_partition'] as const;

/** The prefix of the load job's own columns (glue/lakesync_glue/names.py RESERVED_PREFIX), in any case. */
export const RESERVED_COLUMN_PREFIX = '__lakesync_';

/**
 * Why a table cannot load because a column it keeps starts with the job's reserved prefix (one
 * could take the place of the job's own column) or gets a lake name Iceberg reserves; the job
 * refuses them too, after its run has started.
 */
export function reservedColumnProblem(table: string, columns: ColumnsSettings | undefined, catalog: readonly CatalogColumn[]): string | undefined {
  const policies = columnPolicies(columns);
  const metadata = catalog.filter((c) => !policies[c.name]?.exclude && (ICEBERG_METADATA_COLUMNS as readonly string[]).includes(policies[c.name]?.rename ?? c.name.toLowerCase()));
  if (metadata.length > 0) {
    const [first] = metadata;
    const lake = policies[first!.name]?.rename ?? first!.name.toLowerCase();
    return `column "${first!.name}" becomes lake column "${lake}", a name Iceberg reserves for its metadata columns (${ICEBERG_METADATA_COLUMNS.join(', ')}): the lake table could never be read or merged into, so nothing is loaded; give it another lake name (tables."${table}".columns."${first!.name}": { rename: <name> }), rename it in the source, or exclude it`;
  }
  const reserved = catalog.filter((c) => !policies[c.name]?.exclude && c.name.toLowerCase().startsWith(RESERVED_COLUMN_PREFIX)).map((c) => c.name);
  if (reserved.length === 0) return undefined;
  const names = reserved.map((c) => `"${c}"`).join(', ');
  return `column(s) ${names} start with the reserved prefix "${RESERVED_COLUMN_PREFIX}" (lakesync's own columns use it), so nothing is loaded: rename them in the source, or exclude them (tables."${table}".columns."${reserved[0]}": { exclude: true })`;
}

/**
 * Names Spark gives the columns its row-level MERGE adds, and the prefix of the original row ids
 * it keeps (glue/lakesync_glue/names.py SPARK_MERGE_COLUMNS, SPARK_MERGE_PREFIX: keep them alike).
 * A lake table with a column of one of these names cannot be merged into.
 */
export const SPARK_MERGE_COLUMNS = ['__row_id', '__row_operation', '__row_from_source', '__row_from_target'] as const;
export const SPARK_MERGE_PREFIX = '__original_row_id_';

/** Whether a lake column name is one Spark's MERGE uses for its own columns. */
export function isSparkMergeName(lake: string): boolean {
  return (SPARK_MERGE_COLUMNS as readonly string[]).includes(lake) || lake.startsWith(SPARK_MERGE_PREFIX);
}

/** The names Spark's MERGE uses, for messages. */
export const SPARK_MERGE_NAMES_TEXT = `${SPARK_MERGE_COLUMNS.join(', ')}, ${SPARK_MERGE_PREFIX}...`;

/**
 * Why a table loaded by key (merge, incremental upsert) cannot load: a column it keeps gets a
 * lake name Spark's MERGE uses for its own columns, so every merge into the lake table would fail.
 * The load job refuses it too, after its run has started.
 */
export function mergeColumnProblem(table: string, columns: ColumnsSettings | undefined, catalog: readonly CatalogColumn[]): string | undefined {
  const policies = columnPolicies(columns);
  const first = catalog.find((c) => !policies[c.name]?.exclude && isSparkMergeName(policies[c.name]?.rename ?? c.name.toLowerCase()));
  if (!first) return undefined;
  const lake = policies[first.name]?.rename ?? first.name.toLowerCase();
  return `column "${first.name}" becomes lake column "${lake}", a name Spark's MERGE uses for its own columns (${SPARK_MERGE_NAMES_TEXT}): every merge by primary key into the lake table would fail, so nothing is loaded; give it another lake name (tables."${table}".columns."${first.name}": { rename: <name> }), rename it in the source, or exclude it`;
}

/** What the plan knows of one table's columns (the export's originalTypeMappings or the catalog), in source order. */
export interface CatalogColumn {
  name: string;
  /** The PostgreSQL type, e.g. `date`, `timestamp without time zone`, `ARRAY`. */
  originalType?: string;
}

/**
 * The problems of one table's column policies against its catalog: unknown columns (naming the
 * table's columns), key and cursor columns excluded, hashed or (a key) nulled, clamp on a type that
 * is not a date or timestamp, and two columns with one lake name. Empty when all is well.
 */
export function columnPolicyProblems(
  table: string,
  columns: ColumnsSettings | undefined,
  catalog: readonly CatalogColumn[],
  primaryKey: readonly string[],
  keyFrom: 'configured' | 'source' | 'none',
  cursor?: string,
): string[] {
  const policies = columnPolicies(columns);
  const problems: string[] = [];
  const where = `tables."${table}".columns`;
  if (catalog.length > 0) {
    const known = new Set(catalog.map((c) => c.name));
    const unknown = Object.keys(policies).filter((c) => !known.has(c));
    if (unknown.length > 0) {
      problems.push(`${where} names ${unknown.map((c) => `"${c}"`).join(', ')}, which ${table} does not have; its columns are: ${catalog.map((c) => c.name).join(', ')}`);
    }
  }
  const keyOrigin = keyFrom === 'configured' ? `tables."${table}".primaryKey` : "the source's primary key";
  for (const key of primaryKey) {
    const column = roleColumn(key, catalog, policies);
    const p = policies[column];
    const what = p?.exclude ? 'excluded' : p?.hash ? 'hashed' : p?.onInvalid === 'null' ? 'nulled on invalid values (onInvalid: null)' : undefined;
    if (what) problems.push(`${where}."${column}" is a key column (${namedAs(keyOrigin, key, column)}) and cannot be ${what}: the load matches rows by it; remove the policy or choose another key`);
  }
  const cursorProblem = cursor === undefined ? undefined : cursorPolicyProblem(table, cursor, catalog, policies);
  if (cursorProblem) problems.push(cursorProblem);
  for (const [name, p] of Object.entries(policies)) {
    if (p.onInvalid !== 'clamp' || p.type) continue;
    const originalType = catalog.find((c) => c.name === name)?.originalType;
    if (originalType && cursorKind(originalType) !== 'temporal') {
      problems.push(`${where}."${name}".onInvalid clamp applies to date and timestamp columns only; ${name} is ${originalType}: use fail or null, or give it type: date or timestamp`);
    }
  }
  const collision = lakeColumnCollisionProblem(table, columns, catalog);
  if (collision) problems.push(collision);
  return problems;
}

/** The cursor column cannot be excluded or hashed, named by its own name or by its lake name. */
function cursorPolicyProblem(table: string, cursor: string, catalog: readonly CatalogColumn[], policies: Record<string, ColumnPolicy>): string | undefined {
  const column = roleColumn(cursor, catalog, policies);
  const p = policies[column];
  if (!p?.exclude && !p?.hash) return undefined;
  const origin = namedAs(`tables."${table}".cursor`, cursor, column);
  return `tables."${table}".columns."${column}" is the cursor column (${origin}) and cannot be ${p.exclude ? 'excluded' : 'hashed'}: incremental loads compare it with the lake's max(cursor); remove the policy or choose another cursor column`;
}

/** Where a key or cursor column was named, and by which name when it is not the column's own. */
function namedAs(origin: string, named: string, column: string): string {
  return named === column ? origin : `${origin} names it "${named}"`;
}

/**
 * The source column a key or cursor names, as the load job resolves it (loader.py resolve_column):
 * among the kept columns, its exact name, else its lake name (a rename, or the name lowercased).
 * None kept, an excluded column of that name in any case, which the job refuses as excluded
 * (policies.py roles_of_excluded). Without the catalog, the name as given.
 */
function roleColumn(named: string, catalog: readonly CatalogColumn[], policies: Record<string, ColumnPolicy>): string {
  if (catalog.length === 0) return named;
  const names = catalog.map((c) => c.name);
  const excluded = names.find((c) => policies[c]?.exclude && c.toLowerCase() === named.toLowerCase());
  return keptColumnNamed(named, names, policies) ?? excluded ?? named;
}

/** The kept column (not excluded) a key or cursor names: its exact name, else its lake name, as the load job resolves it. */
export function keptColumnNamed(named: string, columns: readonly string[], policies: Record<string, ColumnPolicy>): string | undefined {
  const kept = columns.filter((c) => !policies[c]?.exclude);
  return kept.find((c) => c === named) ?? kept.find((c) => (policies[c]?.rename ?? c.toLowerCase()) === named.toLowerCase());
}

/**
 * Why a table cannot load because two of the columns it keeps get one lake name (a rename, else
 * the name lowercased: lake column names are lowercase), e.g. "Name" and name. The load job
 * refuses it too (names.py lake_column_names), after its run has started. Unchecked without the
 * catalog; an excluded column never reaches the lake, so it takes no lake name.
 */
export function lakeColumnCollisionProblem(table: string, columns: ColumnsSettings | undefined, catalog: readonly CatalogColumn[]): string | undefined {
  const policies = columnPolicies(columns);
  const byLake = new Map<string, string[]>();
  for (const c of catalog) {
    const p = policies[c.name];
    if (p?.exclude) continue;
    const lake = p?.rename ?? c.name.toLowerCase();
    byLake.set(lake, [...(byLake.get(lake) ?? []), c.name]);
  }
  const [lake, names] = [...byLake].find(([, n]) => n.length > 1) ?? [];
  if (lake === undefined || names === undefined) return undefined;
  // The column to give another lake name: one whose own name is not already the lake name.
  const other = names.find((n) => n !== lake) ?? names[1]!;
  return (
    `tables."${table}".columns: ${names.join(' and ')} would ${names.length > 2 ? 'all' : 'both'} become lake column "${lake}": ` +
    `rename one of them (tables."${table}".columns."${other}": { rename: <lake name> }), rename it in the source, or exclude one ` +
    '(lake column names are lowercase; nothing is loaded until each column has its own)'
  );
}

/**
 * Key columns named in the config cannot be excluded, hashed or nulled. By their exact names only:
 * "id" may name a column "ID" or a column "id" of its own, which the catalog tells at plan time.
 */
export function configuredKeyProblems(t: { primaryKey?: string[] | undefined; columns?: ColumnsSettings | undefined; cursor?: { column: string } | undefined }): { path: (string | number)[]; message: string }[] {
  const policies = columnPolicies(t.columns);
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const key of t.primaryKey ?? []) {
    const p = policies[key];
    const what = p?.exclude ? 'excluded' : p?.hash ? 'hashed' : p?.onInvalid === 'null' ? 'nulled on invalid values (onInvalid: null)' : undefined;
    if (what) problems.push({ path: ['columns', key], message: `"${key}" is a key column (primaryKey) and cannot be ${what}: the load matches rows by it; remove the policy or choose another key` });
  }
  const cursor = t.cursor?.column;
  const c = cursor ? policies[cursor] : undefined;
  if (cursor && (c?.exclude || c?.hash)) {
    problems.push({ path: ['columns', cursor], message: `"${cursor}" is the cursor column and cannot be ${c.exclude ? 'excluded' : 'hashed'}: incremental loads compare it with the lake's max(cursor)` });
  }
  return problems;
}
