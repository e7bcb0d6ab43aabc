/**
 * The catalog queries of a PostgreSQL source: the tables an export can hold and their primary
 * keys, from pg_catalog. Shared by the embedded exporter (src/local) and the read-only catalog
 * connection of RDS sources (src/aws), so both see the same tables and the same keys.
 */
import type { TableName } from './model';

/** Runs one statement; rows come back as arrays in select-list order. */
export interface CatalogSession {
  rows(sql: string, params?: unknown[]): Promise<unknown[][]>;
}

/**
 * The ordinary and partitioned tables (not partitions) outside the system schemas, permanent or
 * unlogged (temporary tables belong to a session, not to the source): schema, name, and whether
 * the table is unlogged (RDS skips it: its rows are not in a snapshot).
 */
export const TABLES_SQL = `
SELECT n.nspname, c.relname, c.relpersistence = 'u'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence IN ('p', 'u')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2`;

/**
 * Views, materialized views and foreign tables outside the system schemas: schema, name, relkind.
 * An export holds none of them (RDS snapshot exports copy tables only), so a name the config gives
 * one of them is reported for what it is rather than as missing.
 */
export const NOT_TABLES_SQL = `
SELECT n.nspname, c.relname, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2`;

const RELKIND_NAMES: Record<string, string> = { v: 'view', m: 'materialized view', f: 'foreign table' };

/** Every primary key column: schema, table, column, in key order. */
export const PRIMARY_KEYS_SQL = `
SELECT n.nspname, c.relname, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
WHERE i.indisprimary
ORDER BY 1, 2, array_position(i.indkey::int2[], a.attnum)`;

/**
 * Every partition below each top-level partitioned table of TABLES_SQL, at any level: the table's
 * schema and name, the partition's (which may be in another schema), and the partition's relkind
 * ('f' for a foreign table, whose rows are on another server).
 */
export const PARTITIONS_SQL = `
WITH RECURSIVE tree(root, oid) AS (
  SELECT c.oid, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'p' AND NOT c.relispartition AND c.relpersistence IN ('p', 'u')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  UNION ALL
  SELECT t.root, i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid)
SELECT rn.nspname, r.relname, n.nspname, c.relname, c.relkind::text
FROM tree t JOIN pg_class r ON r.oid = t.root JOIN pg_namespace rn ON rn.oid = r.relnamespace
JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.oid <> t.root
ORDER BY 1, 2, 3, 4`;

/**
 * The columns that may hold NULL (no NOT NULL constraint; a primary key column always has one) of
 * the ordinary and partitioned tables: schema, table, column, in column order. `$1` is a text
 * array of `schema.table` names to read, or NULL for every table.
 */
export const NULLABLE_COLUMNS_SQL = `
SELECT n.nspname, c.relname, a.attname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND NOT a.attnotnull
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND ($1::text[] IS NULL OR n.nspname || '.' || c.relname = ANY ($1::text[]))
ORDER BY 1, 2, a.attnum`;

/**
 * The columns of each table that may hold NULL, keyed by `schema.table` (tables whose every column
 * is NOT NULL are absent). Only the named tables when `tables` is given.
 */
export async function readNullableColumns(session: CatalogSession, tables?: readonly TableName[]): Promise<Record<TableName, string[]>> {
  const nullable: Record<TableName, string[]> = {};
  for (const [schema, name, column] of await session.rows(NULLABLE_COLUMNS_SQL, [tables ? [...tables] : null])) {
    (nullable[`${String(schema)}.${String(name)}`] ??= []).push(String(column));
  }
  return nullable;
}

/** One table of TABLES_SQL. */
export interface SourceTableRow {
  schema: string;
  name: string;
  /** `schema.table`. */
  table: TableName;
  /** An unlogged table: an export skips it. */
  unlogged: boolean;
}

/** Every table of TABLES_SQL, unlogged ones among them, ordered by schema and name. */
export async function readTables(session: CatalogSession): Promise<SourceTableRow[]> {
  return (await session.rows(TABLES_SQL)).map(([schema, name, unlogged]) => ({
    schema: String(schema),
    name: String(name),
    table: `${String(schema)}.${String(name)}`,
    // A boolean from node-postgres and PGlite; 't' from a text-mode driver.
    unlogged: unlogged === true || unlogged === 't',
  }));
}

/** The source's tables an export can hold (unlogged ones left out) as `schema.table`. */
export async function readTableNames(session: CatalogSession): Promise<TableName[]> {
  return (await readTables(session)).filter((t) => !t.unlogged).map((t) => t.table);
}

/** The source's unlogged tables (an export skips them) as `schema.table`. */
export async function readUnloggedTables(session: CatalogSession): Promise<TableName[]> {
  return (await readTables(session)).filter((t) => t.unlogged).map((t) => t.table);
}

/**
 * The primary key of every table of `readTables` that declares one (unlogged ones too: a direct
 * read takes them, and their key), keyed by `schema.table`.
 * Two tables of one `schema.table` text (`"a.b"."c"` and `"a"."b.c"`) get none: neither key is
 * known to be the one of the table an export lists by that name, and their columns must not mix.
 * `rows` are the session's `readTables`, when the caller has them already.
 */
export async function readPrimaryKeys(session: CatalogSession, rows?: readonly SourceTableRow[]): Promise<Record<TableName, string[]>> {
  const tables = new Set<TableName>();
  const shared = new Set<TableName>();
  for (const { table } of rows ?? (await readTables(session))) (tables.has(table) ? shared : tables).add(table);
  const keys: Record<TableName, string[]> = {};
  for (const [schema, name, column] of await session.rows(PRIMARY_KEYS_SQL)) {
    const table = `${String(schema)}.${String(name)}`;
    if (tables.has(table) && !shared.has(table)) (keys[table] ??= []).push(String(column));
  }
  return keys;
}

/**
 * Every table a SELECT reads (unlogged ones too) as `schema.table`, with the keys of `readPrimaryKeys`;
 * with `nullableOf`, also the columns of those tables that may hold NULL (`readNullableColumns`).
 */
export async function readTablesWithKeys(
  session: CatalogSession,
  nullableOf?: readonly TableName[],
): Promise<{ tables: TableName[]; primaryKeys: Record<TableName, string[]>; nullable?: Record<TableName, string[]> }> {
  const rows = await readTables(session);
  const primaryKeys = await readPrimaryKeys(session, rows);
  const tables = rows.map((t) => t.table);
  if (!nullableOf) return { tables, primaryKeys };
  const nullable = await readNullableColumns(session, nullableOf);
  // As for the keys: two tables of one `schema.table` text must not mix their columns.
  for (const table of tables.filter((t, i) => tables.indexOf(t) !== i)) delete nullable[table];
  return { tables, primaryKeys, nullable };
}

/**
 * The partitions (at every level) of each partitioned table, keyed by the table's `schema.table`:
 * an export of the table holds their rows too.
 */
export async function readPartitions(session: CatalogSession): Promise<Record<TableName, TableName[]>> {
  const partitions: Record<TableName, TableName[]> = {};
  for (const { root, partition } of await readPartitionRows(session)) (partitions[root.table] ??= []).push(partition);
  return partitions;
}

/** One partition of PARTITIONS_SQL. */
export interface PartitionRow {
  /** Its top-level partitioned table. */
  root: { schema: string; name: string; table: TableName };
  /** The partition, as `schema.table`. */
  partition: TableName;
  /** A foreign table: its rows are on another server. */
  foreign: boolean;
}

/** Every partition below each top-level partitioned table, ordered by table and partition. */
export async function readPartitionRows(session: CatalogSession): Promise<PartitionRow[]> {
  return (await session.rows(PARTITIONS_SQL)).map(([rootSchema, rootName, schema, name, kind]) => ({
    root: { schema: String(rootSchema), name: String(rootName), table: `${String(rootSchema)}.${String(rootName)}` },
    partition: `${String(schema)}.${String(name)}`,
    foreign: kind === 'f',
  }));
}

/**
 * The source's relations that are no table an export holds, as `schema.table` -> what it is: 'view',
 * 'materialized view', 'foreign table', or 'partition of <schema.table>' (its rows are exported with that table's).
 */
export async function readNotTables(session: CatalogSession): Promise<Record<TableName, string>> {
  const found: Record<TableName, string> = {};
  for (const [schema, name, kind] of await session.rows(NOT_TABLES_SQL)) found[`${String(schema)}.${String(name)}`] = RELKIND_NAMES[String(kind)] ?? 'relation';
  for (const [table, partitions] of Object.entries(await readPartitions(session))) for (const partition of partitions) found[partition] ??= `${PARTITION_OF}${table}`;
  return found;
}

/** How readNotTables says a partition is one, before its table's `schema.table`. */
export const PARTITION_OF = 'partition of ';
