/**
 * How a PostgreSQL column is exported, following RDS snapshot export ("PostgreSQL data type
 * mapping to Parquet"): integers, real, double precision, boolean and bytea keep Parquet types
 * (smallint as INT32 annotated INT(16, true)); everything else (numeric, money, date/time types,
 * interval, json/jsonb, uuid, arrays, enums, ranges, domains, composites, ...) is a UTF-8 string
 * in PostgreSQL's text form; oid columns are not exported.
 */
import type { ColumnMapping } from '../../model';

/** `expectedExportedType` values of export_tables_info's originalTypeMappings. */
export type ExportedType = 'int32' | 'int64' | 'float' | 'double' | 'boolean' | 'binary' | 'binary (UTF8)';

/** One source column as the catalog describes it. */
export interface SourceColumn {
  name: string;
  /** information_schema `data_type`, e.g. `integer`, `numeric`, `ARRAY`, `USER-DEFINED`. */
  dataType: string;
  /** Name of the (base) type, e.g. `int4`, `numeric`, `_text`, `mood`. */
  udtName: string;
  charMaxLength: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  datetimePrecision: number | null;
  /** The domain the column is declared with (the catalog then names the type under all its domains); null for none. */
  domainName?: string | null;
}

/** Parquet column types; INT_16 is INT32 with the INT(16, true) annotation RDS gives smallint. */
export type ParquetPrimitive = 'INT_16' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'BOOLEAN' | 'BYTE_ARRAY' | 'UTF8';

export interface ColumnExport {
  column: SourceColumn;
  exportedType: ExportedType;
  parquetType: ParquetPrimitive;
  /** SQL that reads the column as text (so PGlite and pg return the same thing). */
  selectExpression: string;
  /**
   * What `COPY (SELECT ...) TO STDOUT` selects instead: the bare column wherever its output form is
   * the text above (casting costs the server about 40%), with `copyForm` saying how that form
   * differs: booleans print as t/f, bytea as \x followed by hex.
   */
  copyExpression: string;
  copyForm: 'text' | 'bool' | 'bytea';
  /** Turns that text into the Parquet value. */
  convert(text: string): unknown;
}

const NATIVE: Record<string, { exportedType: ExportedType; parquetType: ParquetPrimitive; convert(text: string): unknown }> = {
  int2: { exportedType: 'int32', parquetType: 'INT_16', convert: (t) => Number.parseInt(t, 10) },
  int4: { exportedType: 'int32', parquetType: 'INT32', convert: (t) => Number.parseInt(t, 10) },
  int8: { exportedType: 'int64', parquetType: 'INT64', convert: (t) => BigInt(t) },
  float4: { exportedType: 'float', parquetType: 'FLOAT', convert: parseFloatText },
  float8: { exportedType: 'double', parquetType: 'DOUBLE', convert: parseFloatText },
  bool: { exportedType: 'boolean', parquetType: 'BOOLEAN', convert: (t) => t === 'true' },
};

/** Types RDS does not export at all. */
const NOT_EXPORTED = new Set(['oid']);

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The export of one column, or undefined for a column RDS leaves out (oid). */
export function columnExport(column: SourceColumn): ColumnExport | undefined {
  const exp = textExport(column);
  if (!exp) return undefined;
  return { ...exp, ...copyRead(column) };
}

/**
 * Built-in types whose cast to text is their output function (a cast through I/O), read with the
 * cheaper cast. Not bool (its cast prints true/false), nor bpchar, inet, cidr, name and "char",
 * which have cast functions of their own, nor any other type: an extension's or the user's type may
 * have a cast to text that is no output form (PostGIS casts geometry to WKT, without its SRID).
 */
const OUTPUT_IS_TEXT = new Set([
  'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'money', 'text', 'varchar', 'date', 'time', 'timetz', 'timestamp', 'timestamptz',
  'interval', 'uuid', 'json', 'jsonb', 'xml',
]);

function copyRead(column: SourceColumn): Pick<ColumnExport, 'copyExpression' | 'copyForm'> {
  const ident = quoteIdent(column.name);
  if (!column.domainName && column.udtName === 'bool') return { copyExpression: ident, copyForm: 'bool' };
  if (!column.domainName && column.udtName === 'bytea') return { copyExpression: ident, copyForm: 'bytea' };
  // Every other value is read in its type's output form (types of OUTPUT_IS_TEXT through their cast,
  // which is that form; the others through format('%s') or the bare column), which COPY prints too.
  // Arrays print through array_out, the element type's output function (a bool[] prints {t,f} either way).
  return { copyExpression: ident, copyForm: 'text' };
}

function textExport(column: SourceColumn): Omit<ColumnExport, 'copyExpression' | 'copyForm'> | undefined {
  if (NOT_EXPORTED.has(column.udtName)) return undefined;
  const ident = quoteIdent(column.name);
  // RDS exports a DOMAIN column as a string, whatever its base type (the load casts it back).
  if (column.domainName) return { column, exportedType: 'binary (UTF8)', parquetType: 'UTF8', selectExpression: outputForm(ident), convert: (t) => t };
  const native = NATIVE[column.udtName];
  if (native) return { column, ...native, selectExpression: `${ident}::text` };
  if (column.udtName === 'bytea') {
    return { column, exportedType: 'binary', parquetType: 'BYTE_ARRAY', selectExpression: `encode(${ident}, 'hex')`, convert: (t) => Buffer.from(t, 'hex') };
  }
  // The export writes each value in its type's own output form. A cast to text is the same only for
  // the types of OUTPUT_IS_TEXT and arrays (cast through array_out): character(n)'s cast drops the
  // padding, inet's adds the /32 or /128 of a host, and another type's cast may be any function.
  const castIsOutput = OUTPUT_IS_TEXT.has(column.udtName) || (column.dataType === 'ARRAY' && column.udtName.startsWith('_'));
  const selectExpression = column.udtName === 'bpchar' ? ident : castIsOutput ? `${ident}::text` : outputForm(ident);
  return { column, exportedType: 'binary (UTF8)', parquetType: 'UTF8', selectExpression, convert: (t) => t };
}

/** The originalTypeMappings entry of a column, as RDS writes it (plus the numeric scale). */
export function typeMapping(exp: ColumnExport): ColumnMapping & { originalNumScale?: number } {
  const c = exp.column;
  return {
    columnName: c.name,
    originalType: c.dataType,
    expectedExportedType: exp.exportedType,
    ...(c.charMaxLength !== null ? { originalCharMaxLength: c.charMaxLength } : {}),
    ...(c.numericPrecision !== null ? { originalNumPrecision: c.numericPrecision } : {}),
    ...(c.datetimePrecision !== null ? { originalDateTimePrecision: c.datetimePrecision } : {}),
    // Not in RDS's mappings: the scale of numeric(p,s), which the load honours when present
    // (without it, it infers the scale from the data).
    ...(c.udtName === 'numeric' && c.numericScale !== null ? { originalNumScale: c.numericScale } : {}),
    // Not in RDS's mappings either: the udt name (`_int4`), the element type of an array.
    originalUdtName: c.udtName,
    // Nor this: the domain the column is declared with (originalType is the type under all its domains).
    ...(c.domainName ? { originalDomainName: c.domainName } : {}),
  };
}

/** The value as the type's output function prints it (format's %s), NULL kept NULL. */
function outputForm(ident: string): string {
  return `CASE WHEN ${ident} IS NULL THEN NULL ELSE format('%s', ${ident}) END`;
}

/**
 * The codec of the embedded export's Parquet files (the load reads any codec). Snappy: parquet-wasm's
 * GZIP, which has no level setting, took most of the export's time; Snappy encodes several times
 * faster, for files about twice the size.
 */
export const PARQUET_COMPRESSION = 'SNAPPY' as const;

/** PostgreSQL prints NaN and the infinities as words; Number() reads those words. */
export function parseFloatText(text: string): number {
  const value = Number(text);
  if (Number.isNaN(value) && text !== 'NaN') throw new Error(`not a floating-point value: ${JSON.stringify(text)}`);
  return value;
}

/** RDS skips tables whose column names hold these characters (comma, semicolon, braces, parentheses, newline, tab, equals, space). */
const UNSUPPORTED_COLUMN_CHARS = /[,;{}()\n\t= ]/;

/** Why RDS would skip this table, or undefined when it exports it. */
export function skipReason(table: string, columns: SourceColumn[]): string | undefined {
  if (table.includes('/')) return 'table names with a slash (/) are not exported';
  const bad = columns.filter((c) => UNSUPPORTED_COLUMN_CHARS.test(c.name)).map((c) => JSON.stringify(c.name));
  if (bad.length > 0) return `column name(s) ${bad.join(', ')} contain characters the export does not support (, ; { } ( ) newline tab = space): rename them`;
  return undefined;
}
