/**
 * Whether a lake table equals a DynamoDB table, item by item and value by value. Both sides are
 * brought into one canonical form: key and declared attributes as the lake query returns them
 * (numbers as normalised decimal text, binary as base64), and every other attribute as DynamoDB
 * JSON with sets sorted and numbers normalised, which is what the lake's `_attributes` column holds.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { OTHER_ATTRIBUTES_COLUMN } from '../config/dynamodb';
import type { DynamoKeyAttribute } from '../model';
import type { LakeQuery, TableComparison } from './compare';

export interface DynamoTableShape {
  /** `dynamodb.<Name>`. */
  table: string;
  namespace: string;
  lakeTable: string;
  key: DynamoKeyAttribute[];
  /** Declared attributes and their lake types. */
  attributes: Record<string, string>;
  /** Attributes the column policies exclude: in no lake column. */
  excluded?: string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A DynamoDB number in one spelling: no exponent, no leading or trailing zeros ("12.50" -> "12.5"). */
export function normaliseNumber(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match) return text;
  const [, sign, intPart = '', fracPart = '', exp] = match;
  let digits = intPart + fracPart;
  let point = intPart.length + (exp ? Number(exp) : 0);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+/, '') || '0';
  const fraction = digits.slice(point).replace(/0+$/, '');
  const value = fraction ? `${whole}.${fraction}` : whole;
  return sign === '-' && value !== '0' ? `-${value}` : value;
}

const base64 = (bytes: Uint8Array | string): string => (typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64'));

/** DynamoDB JSON of one value (from the SDK, or parsed from an export or the lake) in canonical form. */
export function canonicalAttribute(value: AttributeValue | Record<string, unknown>): Json {
  const v = value as Record<string, unknown>;
  if ('S' in v && v.S !== undefined) return { S: v.S as string };
  if ('N' in v && v.N !== undefined) return { N: normaliseNumber(v.N as string) };
  if ('B' in v && v.B !== undefined) return { B: base64(v.B as Uint8Array | string) };
  if ('BOOL' in v && v.BOOL !== undefined) return { BOOL: v.BOOL as boolean };
  if ('NULL' in v && v.NULL !== undefined) return { NULL: true };
  if ('SS' in v && v.SS !== undefined) return { SS: [...(v.SS as string[])].sort() };
  if ('NS' in v && v.NS !== undefined) return { NS: (v.NS as string[]).map(normaliseNumber).sort() };
  if ('BS' in v && v.BS !== undefined) return { BS: (v.BS as (Uint8Array | string)[]).map(base64).sort() };
  if ('L' in v && v.L !== undefined) return { L: (v.L as AttributeValue[]).map(canonicalAttribute) };
  if ('M' in v && v.M !== undefined) return { M: canonicalItem(v.M as Record<string, AttributeValue>) };
  throw new Error(`not a DynamoDB JSON value: ${JSON.stringify(value)}`);
}

/** An item's attributes in canonical form, by sorted attribute name. */
export function canonicalItem(item: Record<string, AttributeValue | Record<string, unknown>>): { [key: string]: Json } {
  return Object.fromEntries(Object.keys(item).sort().map((name) => [name, canonicalAttribute(item[name]!)]));
}

/** A key or declared attribute as the lake query returns its typed column. */
function typedValue(value: AttributeValue | undefined, lakeType: string): Json {
  if (value === undefined || value.NULL) return null;
  if (lakeType === 'json') return JSON.stringify(canonicalAttribute(value));
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return normaliseNumber(value.N);
  if (value.B !== undefined) return base64(value.B);
  if (value.BOOL !== undefined) return value.BOOL;
  return JSON.stringify(canonicalAttribute(value));
}

/** A lake cell in the same form: numbers (bigint, decimal text) normalised, JSON columns canonical. */
function lakeValue(cell: unknown, lakeType: string): Json {
  if (cell === null || cell === undefined) return null;
  if (lakeType === 'json') return JSON.stringify(canonicalAttribute(JSON.parse(String(cell)) as Record<string, unknown>));
  if (typeof cell === 'number' || typeof cell === 'bigint') return normaliseNumber(String(cell));
  if (typeof cell === 'string' && /^(decimal|bigint|int|double)/.test(lakeType)) return normaliseNumber(cell);
  return cell as Json;
}

const KEY_TYPES: Record<DynamoKeyAttribute['type'], string> = { S: 'string', N: 'decimal(38,0)', B: 'binary' };

/** The lake row an item must be, as JSON text: typed columns in order, then the other attributes. */
function expectedRow(item: Record<string, AttributeValue>, shape: DynamoTableShape): string {
  const typed = typedColumns(shape).map(([name, type]) => typedValue(item[name], type));
  const skip = new Set([...typedColumns(shape).map(([name]) => name), ...(shape.excluded ?? [])]);
  const others = Object.fromEntries(Object.entries(item).filter(([name]) => !skip.has(name)));
  return JSON.stringify([...typed, canonicalItem(others)]);
}

function typedColumns(shape: DynamoTableShape): [string, string][] {
  const keys: [string, string][] = shape.key.map((k) => [k.name, shape.attributes[k.name] ?? KEY_TYPES[k.type]]);
  const declared = Object.entries(shape.attributes).filter(([name]) => !shape.key.some((k) => k.name === name));
  return [...keys, ...declared];
}

function lakeRow(row: Record<string, unknown>, shape: DynamoTableShape): string {
  const byName = new Map(Object.entries(row).map(([name, value]) => [name.toLowerCase(), value]));
  const typed = typedColumns(shape).map(([name, type]) => lakeValue(byName.get(name.toLowerCase()), type));
  const othersText = byName.get(OTHER_ATTRIBUTES_COLUMN);
  const others = othersText === null || othersText === undefined ? {} : canonicalItem(JSON.parse(String(othersText)) as Record<string, Record<string, unknown>>);
  return JSON.stringify([...typed, others]);
}

/** Compares the lake table with the items of a scan; a duplicate or a missing item is a difference. */
export async function compareDynamoTable(items: Record<string, AttributeValue>[], shape: DynamoTableShape, lakeQuery: LakeQuery): Promise<TableComparison> {
  const lake = await lakeQuery(`SELECT * FROM ${shape.namespace}.${shape.lakeTable}`);
  const count = (rows: string[]) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(r, (m.get(r) ?? 0) + 1);
    return m;
  };
  const [inSource, inLake] = [count(items.map((i) => expectedRow(i, shape))), count(lake.map((r) => lakeRow(r, shape)))];
  const differences: string[] = [];
  for (const [key, n] of inSource) if ((inLake.get(key) ?? 0) !== n) differences.push(`item ${key} appears ${n}x in the DynamoDB table, ${inLake.get(key) ?? 0}x in the lake`);
  for (const [key, n] of inLake) if (!inSource.has(key)) differences.push(`lake row ${key} (${n}x) is not in the DynamoDB table`);
  const excluded = shape.excluded ?? [];
  if (excluded.length > 0) {
    const columns = new Set(lake.flatMap((r) => Object.keys(r).map((c) => c.toLowerCase())));
    for (const name of excluded) {
      if (columns.has(name.toLowerCase())) differences.push(`excluded attribute ${name} is a lake column`);
      if (lake.some((r) => typeof r[OTHER_ATTRIBUTES_COLUMN] === 'string' && name in (JSON.parse(r[OTHER_ATTRIBUTES_COLUMN] as string) as object))) {
        differences.push(`excluded attribute ${name} is in the lake's ${OTHER_ATTRIBUTES_COLUMN}`);
      }
    }
  }
  return { table: shape.table, lakeTable: shape.lakeTable, sourceRows: items.length, lakeRows: lake.length, equal: differences.length === 0, differences: differences.slice(0, 5) };
}
