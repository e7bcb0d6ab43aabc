/** What the source's catalog says: its tables, their columns and their primary keys. */
import { PRIMARY_KEYS_SQL, readNullableColumns, readPartitionRows, readTables } from '../../catalog-queries';
import type { SourceColumn } from '../export/types';
import type { SqlSession } from './db';

export interface CatalogTable {
  schema: string;
  name: string;
  /** `schema.table`. */
  table: string;
  columns: SourceColumn[];
  primaryKey: string[];
  /**
   * The other tables whose `schema.table` is this one's too (`"a.b"."c"` and `"a"."b.c"`): the
   * export folder, the lake table and every rule are named by that text, so none of them is exported.
   */
  sameNameAs?: string[];
  /**
   * Why the source user cannot read the table whole, so that it is not exported: no USAGE privilege
   * on its schema or no SELECT privilege on it (it cannot be read, nor locked), or row-level security that hides rows from it.
   */
  unreadable?: { user: string; why: 'schema' | 'privilege' | 'row-security' };
  /** A partitioned table: its rows are its partitions' (an ordinary table is read without the tables that inherit from it). */
  partitioned?: boolean;
  /** A partitioned table's partitions at every level below it, as `schema.table`: their rows are read with the table's. */
  partitions?: string[];
  /** The partitions among `partitions` that are foreign tables: their rows are on another server, in no snapshot. */
  foreignPartitions?: string[];
  /** An unlogged table: RDS skips it (its rows are not in a snapshot), so the export lists it as skipped and never reads it. */
  unlogged?: boolean;
  /**
   * The export only: the schema exported whole whose name, then a dot, this table's `schema.table`
   * starts with, though the table is in another schema (`"public.archive".t` and schema public):
   * the export's scope takes it by that name, so the export lists it as skipped and never reads it.
   */
  mistakenForSchema?: string;
  /** The columns that may hold NULL (no NOT NULL constraint), in column order; absent when none may. */
  nullable?: string[];
}

/**
 * The columns. A domain column is described by the built-in (or user) type under all its domains:
 * information_schema looks through one domain only, so a domain over a domain would be an opaque
 * USER-DEFINED type (loaded as text) without its precision, scale or length. An array of a domain
 * whose elements PostgreSQL delimits with another character than a comma (a domain over box takes
 * box's ';') is named by its base type's array (`_box`): the load knows the delimiter by the element
 * type's name and would split such a value at its commas.
 * The scale of numeric(p,s) is the one declared, negative ones too (PostgreSQL 15+: numeric(5,-2)),
 * which information_schema reports as the scale's 11 bits of the type modifier (2046).
 */
const DOMAIN_BASE = `
  WITH RECURSIVE d(oid, typmod, typtype, basetype) AS (
    SELECT t.oid, a.atttypmod, t.typtype, t.typbasetype FROM pg_type t WHERE t.oid = a.atttypid AND t.typtype = 'd'
    UNION ALL
    SELECT t.oid, CASE WHEN d.typmod <> -1 THEN d.typmod ELSE d_t.typtypmod END, t.typtype, t.typbasetype
    FROM d JOIN pg_type d_t ON d_t.oid = d.oid JOIN pg_type t ON t.oid = d.basetype WHERE d.typtype = 'd')
  SELECT d.oid AS base, d.typmod FROM d WHERE d.typtype <> 'd' LIMIT 1`;

const COLUMNS_SQL = `
SELECT table_schema, table_name, column_name,
       CASE WHEN b.base IS NULL THEN data_type
            WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'
            WHEN bn.nspname = 'pg_catalog' THEN format_type(b.base, NULL)
            ELSE 'USER-DEFINED' END,
       CASE WHEN b.base IS NOT NULL THEN bt.typname::text
            WHEN data_type = 'ARRAY' THEN coalesce((
         WITH RECURSIVE d(oid, basetype, typtype) AS (
           SELECT e.oid, e.typbasetype, e.typtype
           FROM pg_type a JOIN pg_namespace an ON an.oid = a.typnamespace JOIN pg_type e ON e.oid = a.typelem
           WHERE a.typname = c.udt_name AND an.nspname = c.udt_schema AND e.typtype = 'd' AND e.typdelim <> ','
           UNION ALL
           SELECT t.oid, t.typbasetype, t.typtype FROM d JOIN pg_type t ON t.oid = d.basetype WHERE d.typtype = 'd')
         SELECT '_' || t.typname FROM d JOIN pg_type t ON t.oid = d.oid WHERE d.typtype <> 'd' LIMIT 1), udt_name) ELSE udt_name END,
       CASE WHEN b.base IS NULL THEN character_maximum_length ELSE information_schema._pg_char_max_length(b.base, b.typmod) END,
       CASE WHEN b.base IS NULL THEN numeric_precision ELSE information_schema._pg_numeric_precision(b.base, b.typmod) END,
       ((CASE WHEN b.base IS NULL THEN numeric_scale ELSE information_schema._pg_numeric_scale(b.base, b.typmod) END & 2047) # 1024) - 1024,
       CASE WHEN b.base IS NULL THEN datetime_precision ELSE information_schema._pg_datetime_precision(b.base, b.typmod) END,
       domain_name
FROM information_schema.columns c
JOIN pg_namespace n ON n.nspname = c.table_schema
JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = c.table_name
JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = c.column_name
LEFT JOIN LATERAL (${DOMAIN_BASE}) b ON c.domain_name IS NOT NULL
LEFT JOIN pg_type bt ON bt.oid = b.base
LEFT JOIN pg_namespace bn ON bn.oid = bt.typnamespace
WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%'
ORDER BY table_schema, table_name, ordinal_position`;

/**
 * Tables the session's user may not SELECT from (column privileges alone do not let it read, nor
 * lock, the table; nor does SELECT on a table of a schema it has no USAGE on), or whose rows row-level security filters for it (the table's owner and users
 * with BYPASSRLS read every row).
 */
const UNREADABLE_SQL = `
SELECT n.nspname, c.relname, current_user, has_table_privilege(c.oid, 'SELECT'), has_schema_privilege(n.oid, 'USAGE')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND (NOT has_schema_privilege(n.oid, 'USAGE') OR NOT has_table_privilege(c.oid, 'SELECT') OR row_security_active(c.oid))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

const PARTITIONED_SQL = `
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'p'`;

const int = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Every exportable table with its columns in order and its primary key (empty when it has none). */
export async function readCatalog(session: SqlSession): Promise<CatalogTable[]> {
  // Keyed by schema and name apart: a dot may be part of either.
  const keyOf = (schema: unknown, name: unknown) => JSON.stringify([String(schema), String(name)]);
  const tables = new Map<string, CatalogTable>();
  // Unlogged tables too: RDS skips them, and so does this export, saying so.
  for (const { schema, name, table, unlogged } of await readTables(session)) {
    tables.set(keyOf(schema, name), { schema, name, table, columns: [], primaryKey: [], ...(unlogged ? { unlogged: true } : {}) });
  }
  markSameNames([...tables.values()]);
  for (const r of await session.rows(COLUMNS_SQL)) {
    const t = tables.get(keyOf(r[0], r[1]));
    if (!t) continue;
    t.columns.push({
      name: String(r[2]),
      dataType: String(r[3]),
      udtName: String(r[4]),
      charMaxLength: int(r[5]),
      numericPrecision: int(r[6]),
      numericScale: int(r[7]),
      datetimePrecision: int(r[8]),
      domainName: r[9] === null || r[9] === undefined ? null : String(r[9]),
    });
  }
  for (const [schema, name, column] of await session.rows(PRIMARY_KEYS_SQL)) {
    tables.get(keyOf(schema, name))?.primaryKey.push(String(column));
  }
  for (const [table, columns] of Object.entries(await readNullableColumns(session))) {
    // By `schema.table`: two tables of one such name are never exported nor read directly (sameNameAs).
    for (const t of tables.values()) if (t.table === table && !t.sameNameAs) t.nullable = columns;
  }
  for (const [schema, name] of await session.rows(PARTITIONED_SQL)) {
    const t = tables.get(keyOf(schema, name));
    if (t) t.partitioned = true;
  }
  for (const { root, partition, foreign } of await readPartitionRows(session)) {
    const t = tables.get(keyOf(root.schema, root.name));
    if (t) (t.partitions ??= []).push(partition);
    if (t && foreign) (t.foreignPartitions ??= []).push(partition);
  }
  const yes = (v: unknown) => v === true || v === 't';
  for (const [schema, name, user, mayRead, mayUse] of await session.rows(UNREADABLE_SQL)) {
    const t = tables.get(keyOf(schema, name));
    if (t) t.unreadable = { user: String(user), why: !yes(mayUse) ? 'schema' : yes(mayRead) ? 'row-security' : 'privilege' };
  }
  return [...tables.values()];
}

function markSameNames(tables: CatalogTable[]): void {
  const byName = new Map<string, CatalogTable[]>();
  for (const t of tables) byName.set(t.table, [...(byName.get(t.table) ?? []), t]);
  for (const same of byName.values()) {
    if (same.length < 2) continue;
    for (const t of same) t.sameNameAs = same.filter((o) => o !== t).map((o) => `schema ${JSON.stringify(o.schema)} table ${JSON.stringify(o.name)}`);
  }
}
