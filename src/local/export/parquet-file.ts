/**
 * Parquet part files written row group by row group: each row group's column buffers become an
 * Apache Arrow record batch, which parquet-wasm (arrow-rs's Parquet writer) encodes on the Parquet
 * thread (parquet-thread.ts) and streams to the file. Types as RDS writes them: INT32 (annotated
 * INT(16, true) for smallint), INT64, FLOAT, DOUBLE, BOOLEAN, BYTE_ARRAY and UTF8 strings, every
 * column optional, Snappy (PARQUET_COMPRESSION).
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as arrow from 'apache-arrow';
import type { ThreadReply, ThreadRequest } from './parquet-thread';
import { ThreadCalls } from './thread-calls';
import type { ParquetPrimitive } from './types';

/** A growable byte buffer. */
export class ByteSink {
  buf: Buffer;
  len = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  reset(): void {
    this.len = 0;
  }
}

/**
 * One column's values of the row group being built, appended as bytes so the COPY parser can
 * write them without allocating: little-endian numbers (4 bytes for INT_16 and INT32), booleans
 * bit-packed, byte strings back to back with their end offsets in `offsets` (Arrow's layout, so
 * they need no second pass); nulls take no value, only `defined` (and, for byte strings, an offset).
 */
export class ColumnChunkBuilder {
  readonly values = new ByteSink();
  defined: Uint8Array;
  /** BYTE_ARRAY and UTF8 only: offsets[i + 1] is where row i's bytes end in `values` (offsets[0] is 0). */
  readonly offsets: Int32Array;
  count = 0;
  nulls = 0;
  /** BOOLEAN only: values are bit-packed, so the count of values written so far. */
  private bits = 0;

  constructor(
    readonly name: string,
    readonly type: ParquetPrimitive,
    capacity: number,
  ) {
    this.defined = new Uint8Array(capacity);
    this.offsets = new Int32Array(type === 'BYTE_ARRAY' || type === 'UTF8' ? capacity + 1 : 0);
  }

  pushNull(): void {
    if (this.offsets.length > 0) this.offsets[this.count + 1] = this.values.len;
    this.defined[this.count++] = 0;
    this.nulls += 1;
  }

  /** A value as the column's convert() gives it: number, bigint, boolean, Buffer or string. */
  pushValue(value: unknown): void {
    const v = this.values;
    if (this.type === 'BOOLEAN') return this.pushBoolean(value === true);
    if (this.type === 'BYTE_ARRAY' || this.type === 'UTF8') {
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
      v.ensure(bytes.length);
      bytes.copy(v.buf, v.len);
      v.len += bytes.length;
      this.offsets[this.count + 1] = v.len;
    } else {
      v.ensure(8);
      v.len = writeNumber(this.type, v.buf, value, v.len);
    }
    this.defined[this.count++] = 1;
  }

  pushBoolean(value: boolean): void {
    const v = this.values;
    const byte = this.bits >> 3;
    if (byte >= v.len) {
      v.ensure(1);
      v.buf[v.len++] = 0;
    }
    if (value) v.buf[byte] |= 1 << (this.bits & 7);
    this.bits += 1;
    this.defined[this.count++] = 1;
  }

  /** Marks a value appended directly to `values` by a fast path (which sets a byte string's end offset first). */
  markDefined(): void {
    this.defined[this.count++] = 1;
  }

  reset(): void {
    this.values.reset();
    this.count = 0;
    this.nulls = 0;
    this.bits = 0;
  }
}

/** Writes a fixed-width value at `at`; returns where it ends. */
function writeNumber(type: ParquetPrimitive, buf: Buffer, value: unknown, at: number): number {
  switch (type) {
    case 'INT64':
      return buf.writeBigInt64LE(BigInt(value as bigint), at);
    case 'FLOAT':
      return buf.writeFloatLE(value as number, at);
    case 'DOUBLE':
      return buf.writeDoubleLE(value as number, at);
    default:
      return buf.writeInt32LE(value as number, at);
  }
}

export interface ParquetColumn {
  name: string;
  type: ParquetPrimitive;
}

const ARROW_TYPE: Record<ParquetPrimitive, () => arrow.DataType> = {
  INT_16: () => new arrow.Int16(),
  INT32: () => new arrow.Int32(),
  INT64: () => new arrow.Int64(),
  FLOAT: () => new arrow.Float32(),
  DOUBLE: () => new arrow.Float64(),
  BOOLEAN: () => new arrow.Bool(),
  BYTE_ARRAY: () => new arrow.Binary(),
  UTF8: () => new arrow.Utf8(),
};

/** The Parquet thread of this process, started on first use; it keeps the process alive only while it has work. */
function startParquetThread(onExit: () => void): ThreadCalls<ThreadRequest, ThreadReply> {
  return new ThreadCalls<ThreadRequest, ThreadReply>(new Worker(join(__dirname, 'parquet-thread.js')), {
    failure: (reply) => (reply.error === undefined ? undefined : new Error(reply.error)),
    gone: (end) => {
      onExit();
      return new Error(`the Parquet writer thread stopped: ${'error' in end ? end.error.message : `exit code ${end.code}`}`);
    },
    refOnlyWhileBusy: true,
  });
}

let thread: ThreadCalls<ThreadRequest, ThreadReply> | undefined;
let nextFile = 0;

function parquetThread(): ThreadCalls<ThreadRequest, ThreadReply> {
  if (thread) return thread;
  const started: ThreadCalls<ThreadRequest, ThreadReply> = startParquetThread(() => {
    if (thread === started) thread = undefined;
  });
  thread = started;
  return started;
}

/** One Parquet file, written row group by row group on the Parquet thread. */
export class ParquetFileWriter {
  private readonly schema: arrow.Schema;
  private readonly file = nextFile++;
  private rowGroups = 0;

  private constructor(private readonly columns: ParquetColumn[]) {
    this.schema = new arrow.Schema(columns.map((c) => new arrow.Field(c.name, ARROW_TYPE[c.type](), true)));
  }

  static async create(path: string, columns: ParquetColumn[], maxRowGroupRows: number): Promise<ParquetFileWriter> {
    const writer = new ParquetFileWriter(columns);
    await parquetThread().call({ op: 'open', file: writer.file, path, maxRowGroupRows });
    return writer;
  }

  /** Writes the builders' values as one row group; the builders can be reset once it resolves. */
  async writeRowGroup(builders: ColumnChunkBuilder[], rows: number): Promise<void> {
    if (rows === 0) return;
    await this.send(builders, rows);
  }

  async close(): Promise<void> {
    // A file of no rows still gets its schema: the writer starts on a batch of none.
    if (this.rowGroups === 0) await this.send(this.columns.map((c) => new ColumnChunkBuilder(c.name, c.type, 0)), 0);
    await parquetThread().call({ op: 'close', file: this.file });
  }

  /** Stops writing without a footer (after a failure; the caller removes the file). */
  async abandon(): Promise<void> {
    await parquetThread()
      .call({ op: 'abandon', file: this.file })
      .catch(() => undefined);
  }

  private async send(builders: ColumnChunkBuilder[], rows: number): Promise<void> {
    // Arrow IPC is how Arrow data enters parquet-wasm's memory; the bytes move to the thread uncopied.
    const ipc = arrow.tableToIPC(new arrow.Table(recordBatch(this.schema, builders, rows)), 'stream');
    const owned = ipc.byteOffset === 0 && ipc.byteLength === ipc.buffer.byteLength ? ipc : ipc.slice();
    this.rowGroups += 1;
    await parquetThread().call({ op: 'batch', file: this.file, ipc: owned.buffer as ArrayBuffer }, [owned.buffer as ArrayBuffer]);
  }
}

/** The builders' values as an Arrow record batch of the schema's columns. */
function recordBatch(schema: arrow.Schema, builders: ColumnChunkBuilder[], rows: number): arrow.RecordBatch {
  const children = builders.map((b) => columnData(b, rows));
  return new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows, nullCount: 0, children }));
}

function columnData(b: ColumnChunkBuilder, rows: number): arrow.Data {
  const nullCount = b.nulls;
  const nullBitmap = nullCount > 0 ? validity(b.defined, rows) : undefined;
  const common = { length: rows, nullCount, ...(nullBitmap ? { nullBitmap } : {}) };
  const bytes = b.values.buf.subarray(0, b.values.len);
  switch (b.type) {
    case 'INT_16': {
      const values = spread(Int32Array, bytes, b, rows);
      return arrow.makeData({ type: new arrow.Int16(), ...common, data: Int16Array.from(values) });
    }
    case 'INT32':
      return arrow.makeData({ type: new arrow.Int32(), ...common, data: spread(Int32Array, bytes, b, rows) });
    case 'INT64':
      return arrow.makeData({ type: new arrow.Int64(), ...common, data: spread(BigInt64Array, bytes, b, rows) });
    case 'FLOAT':
      return arrow.makeData({ type: new arrow.Float32(), ...common, data: spread(Float32Array, bytes, b, rows) });
    case 'DOUBLE':
      return arrow.makeData({ type: new arrow.Float64(), ...common, data: spread(Float64Array, bytes, b, rows) });
    case 'BOOLEAN':
      return arrow.makeData({ type: new arrow.Bool(), ...common, data: booleans(bytes, b, rows) });
    case 'BYTE_ARRAY':
    case 'UTF8': {
      const valueOffsets = b.offsets.subarray(0, rows + 1);
      const data = bytes;
      return b.type === 'UTF8'
        ? arrow.makeData({ type: new arrow.Utf8(), ...common, valueOffsets, data })
        : arrow.makeData({ type: new arrow.Binary(), ...common, valueOffsets, data });
    }
  }
}

/** Arrow's validity bitmap (bit set = value present) from one byte per row. */
function validity(defined: Uint8Array, rows: number): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(rows / 8));
  for (let i = 0; i < rows; i++) if (defined[i]) bitmap[i >> 3]! |= 1 << (i & 7);
  return bitmap;
}

type FixedWidth = Int32Array | BigInt64Array | Float32Array | Float64Array;
interface FixedWidthArray<T extends FixedWidth> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Fixed-width values, one slot per row: Arrow keeps a slot for each null, the buffers do not. */
function spread<T extends FixedWidth>(Typed: FixedWidthArray<T>, bytes: Buffer, b: ColumnChunkBuilder, rows: number): T {
  const count = rows - b.nulls;
  // A view when aligned, else a copy (typed arrays need aligned offsets).
  const values = bytes.byteOffset % Typed.BYTES_PER_ELEMENT === 0 ? new Typed(bytes.buffer, bytes.byteOffset, count) : new Typed(Uint8Array.from(bytes).buffer, 0, count);
  if (b.nulls === 0) return values;
  const out = new Typed(rows);
  for (let i = 0, k = 0; i < rows; i++) if (b.defined[i]) out[i] = values[k++]!;
  return out;
}

function booleans(bytes: Buffer, b: ColumnChunkBuilder, rows: number): Uint8Array {
  if (b.nulls === 0) return bytes;
  const out = new Uint8Array(Math.ceil(rows / 8));
  for (let i = 0, k = 0; i < rows; i++) {
    if (!b.defined[i]) continue;
    if (bytes[k >> 3]! & (1 << (k & 7))) out[i >> 3]! |= 1 << (i & 7);
    k++;
  }
  return out;
}
