/**
 * Streams the rows of a `COPY ... TO STDOUT` (text format) into a PartWriter. Each field's bytes
 * go to its column without building a row: UTF-8 text as it is, numbers parsed from their digits,
 * booleans from t/f, bytea from its hex form. The values are those the column's convert() gives
 * the text its select expression reads (types.ts); a text field with a backslash escape is
 * unescaped into bytes (no string: a value may be longer than a string can be).
 * The writer holds at most two row groups; while it waits for room, no chunk is read (backpressure).
 */
import type { ColumnChunkBuilder } from './parquet-file';
import type { PartWriter } from './parts';
import { type ColumnExport, parseFloatText } from './types';

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const TWO_POW_32 = 4294967296;

/** How a field's bytes become the column's value, in the hot loop. */
const enum Kind {
  Utf8,
  Int32,
  Int64,
  Bool,
  Float32,
  Float64,
  /** Through the column's convert() on the field's text. */
  Convert,
}

function kindOf(column: ColumnExport): Kind {
  if (column.copyForm === 'bool') return Kind.Bool;
  switch (column.parquetType) {
    case 'UTF8':
      return Kind.Utf8;
    case 'INT_16':
    case 'INT32':
      return Kind.Int32;
    case 'INT64':
      return Kind.Int64;
    case 'FLOAT':
      return Kind.Float32;
    case 'DOUBLE':
      return Kind.Float64;
    default:
      return Kind.Convert;
  }
}

/** Reads the COPY stream to its end; returns the number of rows. */
export async function copyTextInto(stream: AsyncIterable<Buffer>, writer: PartWriter, columns: ColumnExport[]): Promise<number> {
  const parser = new CopyTextParser(writer, columns);
  // The pieces of a row cut by chunk ends, joined once its end comes: a row of one large value
  // spans thousands of chunks, and joining them at each one would copy it thousands of times.
  let rest: Buffer[] = [];
  for await (const chunk of stream) {
    let buf = chunk;
    if (rest.length > 0) {
      // The row cut by the previous chunk's end, completed from this one (not the whole chunk copied).
      const end = chunk.indexOf(NEWLINE);
      if (end < 0) {
        rest.push(chunk);
        continue;
      }
      rest.push(chunk.subarray(0, end + 1));
      const row = Buffer.concat(rest);
      rest = [];
      await parseAll(parser, row);
      buf = chunk.subarray(end + 1);
    }
    const at = await parseAll(parser, buf);
    if (at < buf.length) rest = [buf.subarray(at)];
  }
  if (rest.length > 0) throw new Error('the COPY data ended in the middle of a row');
  return parser.rows;
}

/** Parses every whole row of `buf`, waiting whenever the writer holds all the rows it may; returns where the last whole row ends. */
async function parseAll(parser: CopyTextParser, buf: Buffer): Promise<number> {
  let at = 0;
  for (;;) {
    at = parser.parse(buf, at);
    if (!parser.pending) return at;
    await parser.pending;
    parser.pending = undefined;
  }
}

class CopyTextParser {
  rows = 0;
  /** Set when a row filled the row group: the caller awaits it before parsing on. */
  pending: Promise<void> | undefined;
  private readonly kinds: Kind[];
  /** The writer's builders of the row group being built (they change when a group is handed off). */
  private builders: ColumnChunkBuilder[];

  constructor(
    private readonly writer: PartWriter,
    private readonly columns: ColumnExport[],
  ) {
    this.kinds = columns.map(kindOf);
    this.builders = writer.builders;
  }

  /** Parses whole rows from `at`; stops at the last whole row, or after a row that filled the row group. Returns where it stopped. */
  parse(buf: Buffer, at: number): number {
    const width = this.kinds.length;
    let rowStart = at;
    for (;;) {
      const rowEnd = buf.indexOf(NEWLINE, rowStart);
      if (rowEnd < 0) return rowStart;
      let column = 0;
      let fieldStart = rowStart;
      for (;;) {
        // The field ends at a tab or at the row's end (the only newline before it); a backslash starts an escape.
        let i = fieldStart;
        let c = buf[i]!;
        while (c !== TAB && c !== NEWLINE && c !== BACKSLASH) c = buf[++i]!;
        if (column >= width) throw new Error(`COPY row ${this.rows + 1} has more than ${width} fields`);
        if (c !== BACKSLASH) this.field(column, buf, fieldStart, i);
        else {
          i = escapedFieldEnd(buf, i, rowEnd);
          if (i - fieldStart === 2 && buf[fieldStart + 1] === 78) this.builders[column]!.pushNull();
          else this.escapedField(column, buf, fieldStart, i);
        }
        column++;
        if (i === rowEnd) break;
        fieldStart = i + 1;
      }
      if (column !== width) throw new Error(`COPY row ${this.rows + 1} has ${column} fields, not ${width}`);
      this.rows++;
      rowStart = rowEnd + 1;
      const full = this.writer.endRow();
      this.builders = this.writer.builders;
      if (full) {
        this.pending = full;
        return rowStart;
      }
    }
  }

  /** A field without escapes: its value straight from its bytes. */
  private field(column: number, buf: Buffer, start: number, end: number): void {
    const b = this.builders[column]!;
    const v = b.values;
    switch (this.kinds[column]) {
      case Kind.Utf8: {
        const length = end - start;
        v.ensure(length);
        const out = v.buf;
        let o = v.len;
        if (length < 48) for (let i = start; i < end; i++) out[o++] = buf[i]!;
        else {
          buf.copy(out, o, start, end);
          o += length;
        }
        v.len = o;
        b.offsets[b.count + 1] = o;
        b.markDefined();
        return;
      }
      case Kind.Int32: {
        v.ensure(4);
        const n = parseInteger(buf, start, end);
        const out = v.buf;
        const o = v.len;
        out[o] = n & 0xff;
        out[o + 1] = (n >>> 8) & 0xff;
        out[o + 2] = (n >>> 16) & 0xff;
        out[o + 3] = (n >>> 24) & 0xff;
        v.len = o + 4;
        b.markDefined();
        return;
      }
      case Kind.Int64: {
        v.ensure(8);
        if (end - start <= 15) {
          // Exact in a double: write the two's complement halves without a BigInt.
          const n = parseInteger(buf, start, end);
          const high = Math.floor(n / TWO_POW_32);
          const low = n - high * TWO_POW_32;
          const out = v.buf;
          const o = v.len;
          out[o] = low & 0xff;
          out[o + 1] = (low >>> 8) & 0xff;
          out[o + 2] = (low >>> 16) & 0xff;
          out[o + 3] = (low >>> 24) & 0xff;
          out[o + 4] = high & 0xff;
          out[o + 5] = (high >>> 8) & 0xff;
          out[o + 6] = (high >>> 16) & 0xff;
          out[o + 7] = (high >>> 24) & 0xff;
          v.len = o + 8;
        } else v.len = v.buf.writeBigInt64LE(BigInt(buf.toString('latin1', start, end)), v.len);
        b.markDefined();
        return;
      }
      case Kind.Bool:
        b.pushBoolean(end - start === 1 && buf[start] === 116);
        return;
      case Kind.Float32:
        v.ensure(4);
        v.len = v.buf.writeFloatLE(parseFloat(buf, start, end), v.len);
        b.markDefined();
        return;
      case Kind.Float64:
        v.ensure(8);
        v.len = v.buf.writeDoubleLE(parseFloat(buf, start, end), v.len);
        b.markDefined();
        return;
      default:
        b.pushValue(this.columns[column]!.convert(buf.toString('latin1', start, end)));
    }
  }

  /**
   * A field with backslash escapes. Its bytes go to the column as bytes, never through a string:
   * a JavaScript string holds at most 2^29 characters, less than a bytea's hex or a text value may take.
   */
  private escapedField(column: number, buf: Buffer, start: number, end: number): void {
    const c = this.columns[column]!;
    const builder = this.builders[column]!;
    // bytea prints as \\x<hex> (its backslash escaped), so its fields always come here.
    if (c.copyForm === 'bytea' && end - start >= 3 && buf[start] === BACKSLASH && buf[start + 1] === BACKSLASH && buf[start + 2] === 120) return pushHex(builder, buf, start + 3, end);
    const bytes = unescape(buf, start, end);
    if (this.kinds[column] === Kind.Utf8) builder.pushValue(bytes);
    else builder.pushValue(c.convert(bytes.toString('utf8')));
  }
}

/** Where a field that holds a backslash at `at` ends: the next tab or the row's end, skipping each escaped character (a backslash just before the row's end is kept as it is). */
function escapedFieldEnd(buf: Buffer, at: number, rowEnd: number): number {
  let i = at;
  while (i < rowEnd) {
    const c = buf[i]!;
    if (c === BACKSLASH && i + 1 < rowEnd) i += 2;
    else if (c === TAB) return i;
    else i++;
  }
  return rowEnd;
}

/** An integer's decimal digits (as PostgreSQL prints int2, int4 and int8 within 15 digits). */
function parseInteger(buf: Buffer, start: number, end: number): number {
  let i = start;
  const negative = buf[i] === 45;
  if (negative) i++;
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) throw new Error(`not an integer: ${JSON.stringify(buf.toString('latin1', start, end))}`);
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** A float's text as Number() reads it: straight from its bytes when exact that way, else through its string. */
function parseFloat(buf: Buffer, start: number, end: number): number {
  const value = exactDecimal(buf, start, end);
  return value ?? parseFloatText(buf.toString('latin1', start, end));
}

/** 10^0 to 10^22: every one exact in a double. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const TWO_POW_53 = 2 ** 53;

/**
 * A decimal ([-]digits[.digits][e[+-]digits]) whose digits make an integer below 2^53 and whose
 * power of ten is within 10^±22: both are exact doubles, so one multiplication or division, which
 * IEEE 754 rounds correctly, gives what Number() gives (Clinger's fast path). Undefined for any
 * other text (more digits, NaN, Infinity, malformed), which goes through Number().
 */
export function exactDecimal(buf: Uint8Array, start: number, end: number): number | undefined {
  let i = start;
  const negative = buf[i] === 45;
  if (negative) i++;
  let mantissa = 0;
  let significant = 0;
  let exponent = 0;
  let digits = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) break;
    if (mantissa !== 0 || d !== 0) significant++;
    mantissa = mantissa * 10 + d;
    digits++;
  }
  if (i < end && buf[i] === 46) {
    for (i++; i < end; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) break;
      if (mantissa !== 0 || d !== 0) significant++;
      mantissa = mantissa * 10 + d;
      exponent--;
      digits++;
    }
  }
  if (digits === 0) return undefined;
  if (i < end && (buf[i] === 101 || buf[i] === 69)) {
    i++;
    const negativeExponent = buf[i] === 45;
    if (negativeExponent || buf[i] === 43) i++;
    let e = 0;
    const from = i;
    for (; i < end && i - from < 4; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return undefined;
      e = e * 10 + d;
    }
    if (i === from) return undefined;
    exponent += negativeExponent ? -e : e;
  }
  // Up to 16 digits the mantissa was built exactly unless it reached 2^53 (then it reads as at least 2^53).
  if (i !== end || significant > 16 || mantissa >= TWO_POW_53) return undefined;
  let value: number;
  if (exponent === 0 || mantissa === 0) value = mantissa;
  else if (exponent < 0 && exponent >= -22) value = mantissa / POWERS_OF_TEN[-exponent]!;
  else if (exponent > 0 && exponent <= 22) value = mantissa * POWERS_OF_TEN[exponent]!;
  else return undefined;
  return negative ? -value : value;
}

const SIMPLE_ESCAPES: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };

/** A bytea's hex digits (its output after \\x), decoded straight into the column's bytes. */
function pushHex(builder: ColumnChunkBuilder, buf: Buffer, start: number, end: number): void {
  const v = builder.values;
  v.ensure((end - start) >> 1);
  let o = v.len;
  for (let i = start; i < end; i += 2) {
    const high = buf[i]!;
    const low = buf[i + 1];
    if (i + 1 >= end || !isHex(high) || !isHex(low!)) throw new Error(`a bytea value is not \\x and pairs of hex digits at its byte ${i - start + 3}`);
    v.buf[o++] = hexValue(high) * 16 + hexValue(low!);
  }
  v.len = o;
  builder.offsets[builder.count + 1] = o;
  builder.markDefined();
}

/** The bytes of a field with backslash escapes (COPY text format: \b \f \n \r \t \v, \ooo, \xhh, and a backslash before any other character). */
function unescape(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c !== BACKSLASH || i + 1 >= end) {
      out[n++] = c;
      continue;
    }
    const e = buf[++i]!;
    if (SIMPLE_ESCAPES[e] !== undefined) out[n++] = SIMPLE_ESCAPES[e]!;
    else if (e >= 48 && e <= 55) {
      let value = e - 48;
      for (let k = 0; k < 2 && i + 1 < end && buf[i + 1]! >= 48 && buf[i + 1]! <= 55; k++) value = value * 8 + (buf[++i]! - 48);
      out[n++] = value & 0xff;
    } else if (e === 120 && i + 1 < end && isHex(buf[i + 1]!)) {
      let value = hexValue(buf[++i]!);
      if (i + 1 < end && isHex(buf[i + 1]!)) value = value * 16 + hexValue(buf[++i]!);
      out[n++] = value;
    } else out[n++] = e;
  }
  return out.subarray(0, n);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}
