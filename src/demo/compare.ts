/**
 * Whether a lake table equals its source table, row by row and value by value. Both sides are
 * read into one canonical form: numbers as numbers, decimals, dates and text as PostgreSQL prints
 * them, timestamps as ISO-8601 (UTC with Z for timestamptz), bytea as base64. That is the form
 * the lake query returns (lakesync_glue.query), so equal tables give equal rows.
 */
import type { SourceDb } from '../local/source/db';
import { quoteIdent } from '../local/export/types';
import { sparkName } from '../names';

export type LakeQuery = (sql: string) => Promise<Record<string, unknown>[]>;

interface SourceColumnType {
  column_name: string;
  data_type: string;
  udt_name: string;
}

export interface TableComparison {
  table: string;
  lakeTable: string;
  sourceRows: number;
  lakeRows: number;
  equal: boolean;
  /** The first differences, for the report. */
  differences: string[];
}

const NUMERIC_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8']);

/** SQL reading one source column in the canonical form. */
function sourceExpression(c: SourceColumnType): string {
  const col = quoteIdent(c.column_name);
  if (NUMERIC_TYPES.has(c.udt_name) || c.udt_name === 'bool') return col;
  if (c.udt_name === 'money') return `${col}::numeric::text`;
  if (c.udt_name === 'bytea') return `replace(encode(${col}, 'base64'), E'\\n', '')`;
  if (c.udt_name === 'timestamp') return `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
  if (c.udt_name === 'timestamptz') return `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  if (c.udt_name === 'bpchar') return col;
  // A one-dimensional array is a list in the lake (read back as JSON); a multi-dimensional one stays text.
  if (c.data_type === 'ARRAY') {
    const elements = `coalesce((SELECT json_agg(e::text ORDER BY n) FROM unnest(${col}) WITH ORDINALITY AS u(e, n)), '[]'::json)::text`;
    return `CASE WHEN ${col} IS NULL THEN NULL WHEN coalesce(array_ndims(${col}), 1) = 1 THEN ${elements} ELSE ${col}::text END`;
  }
  return `${col}::text`;
}

function canonical(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  // A list, from either side: its elements as text, so [1, 2] equals ["1", "2"].
  if (typeof value === 'string' && value.startsWith('[')) {
    try {
      const list = JSON.parse(value) as unknown;
      if (Array.isArray(list)) return JSON.stringify(list.map((e) => (e === null ? null : String(e))));
    } catch {
      // Text that only starts like a list.
    }
  }
  return value;
}

function rowKey(row: unknown[]): string {
  return JSON.stringify(row);
}

export async function compareTable(db: SourceDb, lakeQuery: LakeQuery, table: string, namespace: string, lakeTable: string): Promise<TableComparison> {
  const [schema, name] = [table.slice(0, table.indexOf('.')), table.slice(table.indexOf('.') + 1)];
  const columns = await db.query<SourceColumnType & Record<string, unknown>>(
    'SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [schema, name],
  );
  if (columns.length === 0) throw new Error(`source table ${table} has no columns (does it exist?)`);
  const names = columns.map((c) => c.column_name);
  const numeric = new Set(columns.filter((c) => NUMERIC_TYPES.has(c.udt_name)).map((c) => c.column_name));
  const sourceSql = `SELECT ${columns.map((c) => `${sourceExpression(c)} AS ${quoteIdent(c.column_name)}`).join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(name)}`;
  const lakeSql = `SELECT ${names.map((n) => sparkName(n.toLowerCase())).join(', ')} FROM ${sparkName(namespace, lakeTable)}`;

  const toRow = (r: Record<string, unknown>, lower: boolean) =>
    names.map((n) => {
      const v = canonical(r[lower ? n.toLowerCase() : n]);
      return numeric.has(n) && typeof v === 'string' ? Number(v) : v;
    });
  const source = (await db.query(sourceSql)).map((r) => toRow(r, false));
  const lake = (await lakeQuery(lakeSql)).map((r) => toRow(r, true));

  const count = (rows: unknown[][]) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(rowKey(r), (m.get(rowKey(r)) ?? 0) + 1);
    return m;
  };
  const [inSource, inLake] = [count(source), count(lake)];
  const differences: string[] = [];
  for (const [key, n] of inSource) if ((inLake.get(key) ?? 0) !== n) differences.push(`source row ${key} appears ${n}x in the source, ${inLake.get(key) ?? 0}x in the lake`);
  for (const [key, n] of inLake) if (!inSource.has(key)) differences.push(`lake row ${key} (${n}x) is not in the source`);
  return { table, lakeTable, sourceRows: source.length, lakeRows: lake.length, equal: differences.length === 0, differences: differences.slice(0, 5) };
}
