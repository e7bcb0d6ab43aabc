/**
 * Writes rows as Parquet part files, starting a new part every `rowsPerPart` rows, as RDS
 * does: `<tableDir>/1/part-00000-<uuid>.gz.parquet`, `part-00001-...`. At most two row groups are
 * held (one being built while the other is written); the rows held are counted in `rowsInFlight`,
 * which tests read. A row group also ends once its values reach `rowGroupBytes`, so that wide rows
 * (large text, json or bytea values) are held a few megabytes at a time, not `rowGroupSize` rows at
 * a time; such a group ends its part too (the Parquet writer completes a row group only at
 * `rowGroupSize` rows or at the end of the file).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ColumnChunkBuilder, ParquetFileWriter } from './parquet-file';
import type { ColumnExport } from './types';

export interface PartWriterOptions {
  /** Rows per part file. */
  rowsPerPart: number;
  /** Rows per Parquet row group (what the writer buffers). */
  rowGroupSize: number;
  /** Bytes of values a row group holds at most (one row more than this, at worst); default ROW_GROUP_BYTES. */
  rowGroupBytes?: number;
}

/** A row group's values, at most (one row more): 16 MB. */
export const ROW_GROUP_BYTES = 16 * 1024 * 1024;

/**
 * A row's values, at most: 512 MB. parquet-wasm encodes a row group in WebAssembly memory (4 GB at
 * most), holding several copies of its values at once: a row of 600 MB of values (a text value can
 * be up to 1 GB) stops the Parquet writer with no word of why. Such a row fails its table instead.
 */
export const MAX_ROW_BYTES = 512 * 1024 * 1024;

export interface PartsWritten {
  rows: number;
  files: string[];
  bytes: number;
}

/**
 * Rows read but not yet written to a file, over every writer of this process, its export reader
 * threads included (the count lives in shared memory they adopt), and the peak since the last reset.
 */
class RowsInFlight {
  /** [now, peak] */
  private cells = new Int32Array(new SharedArrayBuffer(8));

  get now(): number {
    return Atomics.load(this.cells, 0);
  }

  get peak(): number {
    return Atomics.load(this.cells, 1);
  }

  /** The memory to hand to a thread, which adopts it. */
  get shared(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  adopt(shared: SharedArrayBuffer): void {
    this.cells = new Int32Array(shared);
  }

  add(rows: number): void {
    const now = Atomics.add(this.cells, 0, rows) + rows;
    for (let peak = Atomics.load(this.cells, 1); now > peak; ) {
      const seen = Atomics.compareExchange(this.cells, 1, peak, now);
      if (seen === peak) break;
      peak = seen;
    }
  }

  resetPeak(): void {
    Atomics.store(this.cells, 1, this.now);
  }
}

export const rowsInFlight = new RowsInFlight();

export function resetRowsInFlightPeak(): void {
  rowsInFlight.resetPeak();
}

/** Hands out part numbers of one table's batch folder, so several writers, in any thread, can share it. */
export class PartNames {
  /** The next number, in memory every thread writing the table shares. */
  private readonly next: Int32Array;

  constructor(
    readonly batchDir: string,
    shared: SharedArrayBuffer = new SharedArrayBuffer(4),
  ) {
    this.next = new Int32Array(shared);
    mkdirSync(batchDir, { recursive: true });
  }

  /** The memory holding the next number, for a writer in another thread. */
  get shared(): SharedArrayBuffer {
    return this.next.buffer as SharedArrayBuffer;
  }

  take(): { index: number; file: string } {
    const index = Atomics.add(this.next, 0, 1);
    return { index, file: join(this.batchDir, `part-${String(index).padStart(5, '0')}-${randomUUID()}.gz.parquet`) };
  }
}

export class PartWriter {
  /** The row group being built, one builder per column; fast paths append to them directly, then call endRow(). */
  builders: ColumnChunkBuilder[];
  /** The other set of builders: the row group being written while the next one is built. */
  private spare: ColumnChunkBuilder[];
  /** The write of the previous row group, still running. */
  private writing: Promise<void> | undefined;
  private writer: ParquetFileWriter | undefined;
  private groupRows = 0;
  /** Bytes of text and byte values in the row group being built before its last row. */
  private bytesBeforeRow = 0;
  private rowsInPart = 0;
  /** The columns of variable width (text and bytes): the ones whose values can make a row group large. */
  private readonly wide: number[];
  private readonly rowGroupBytes: number;
  private readonly written: PartsWritten & { indexes: number[] } = { rows: 0, files: [], bytes: 0, indexes: [] };

  constructor(
    private readonly names: PartNames,
    private readonly columns: ColumnExport[],
    private readonly options: PartWriterOptions,
  ) {
    const capacity = Math.min(options.rowGroupSize, options.rowsPerPart);
    const builders = () => columns.map((c) => new ColumnChunkBuilder(c.column.name, c.parquetType, capacity));
    this.builders = builders();
    this.spare = builders();
    this.wide = columns.flatMap((c, i) => (c.parquetType === 'UTF8' || c.parquetType === 'BYTE_ARRAY' ? [i] : []));
    this.rowGroupBytes = options.rowGroupBytes ?? ROW_GROUP_BYTES;
  }

  /** Appends rows given as text values in column order (null stays null). */
  async append(rows: unknown[][]): Promise<void> {
    for (const values of rows) {
      const builders = this.builders;
      for (let i = 0; i < this.columns.length; i++) {
        const text = values[i];
        const builder = builders[i]!;
        if (text === null || text === undefined) builder.pushNull();
        else builder.pushValue(this.columns[i]!.convert(String(text)));
      }
      const full = this.endRow();
      if (full) await full;
    }
  }

  /**
   * Ends the row just pushed. When it fills the row group, the group is handed to the file writer
   * and the next one is built in the other builders (read `builders` again) while it is written:
   * at most two row groups are held. Returns a promise (to await before the next row) only when the
   * previous group is still being written.
   */
  endRow(): Promise<void> | undefined {
    this.groupRows += 1;
    rowsInFlight.add(1);
    const bytes = this.groupBytes();
    if (bytes - this.bytesBeforeRow > MAX_ROW_BYTES) throw this.rowTooLarge(bytes - this.bytesBeforeRow);
    this.bytesBeforeRow = bytes;
    if (this.groupRows < this.options.rowGroupSize && this.rowsInPart + this.groupRows < this.options.rowsPerPart && bytes < this.rowGroupBytes) return undefined;
    return this.handOff();
  }

  /** The error of a row whose values (the last one pushed) exceed MAX_ROW_BYTES, naming its large columns (never a value). */
  private rowTooLarge(bytes: number): Error {
    const mb = (n: number) => `${Math.round(n / (1024 * 1024))} MB`;
    const large = this.wide.flatMap((i) => {
      const b = this.builders[i]!;
      const size = b.offsets[b.count]! - b.offsets[b.count - 1]!;
      return size >= 1024 * 1024 ? [`column ${this.columns[i]!.column.name}: ${mb(size)}`] : [];
    });
    return new Error(
      `a row holds ${mb(bytes)} of values (${large.join(', ')}), more than the ${mb(MAX_ROW_BYTES)} the export's Parquet writer can take in one row ` +
        '(it encodes each row group in WebAssembly memory, 4 GB at most, several copies at once): exclude the table, or keep its values smaller',
    );
  }

  /** Bytes of text and byte values in the row group being built (fixed-width values are bounded by its rows). */
  private groupBytes(): number {
    let bytes = 0;
    for (const i of this.wide) bytes += this.builders[i]!.values.len;
    return bytes;
  }

  /** Writes the last row group and closes the last part. Without `emptyPart: false`, a writer of no row writes one empty part, so the schema is on disk. */
  async finish(options: { emptyPart?: boolean } = {}): Promise<PartsWritten & { indexes: number[] }> {
    await this.handOff();
    await this.writing;
    if (this.written.files.length === 0 && options.emptyPart !== false) await this.openPart();
    await this.closePart();
    return this.written;
  }

  /** After a failure: closes and removes this writer's files. */
  async abandon(): Promise<void> {
    await this.writing?.catch(() => undefined);
    rowsInFlight.add(-this.groupRows);
    this.groupRows = 0;
    await this.writer?.abandon();
    this.writer = undefined;
    for (const file of this.written.files) rmSync(file, { force: true });
  }

  /** Starts writing the row group built so far (after the previous one is written) and swaps the builders. */
  private handOff(): Promise<void> | undefined {
    const rows = this.groupRows;
    if (rows === 0) return this.writing;
    const full = this.builders;
    this.builders = this.spare;
    this.spare = full;
    this.groupRows = 0;
    this.bytesBeforeRow = 0;
    // The part this group belongs to is decided now, so parts keep exactly rowsPerPart rows. A group
    // ended short by its bytes ends its part: the Parquet writer would hold it until rowGroupSize rows.
    const short = rows < Math.min(this.options.rowGroupSize, this.options.rowsPerPart - this.rowsInPart);
    const closesPart = short || this.rowsInPart + rows >= this.options.rowsPerPart;
    this.rowsInPart = closesPart ? 0 : this.rowsInPart + rows;
    const previous = this.writing;
    const write = (async () => {
      await previous;
      await this.writeGroup(full, rows, closesPart);
    })();
    this.writing = write;
    // Settled writes are forgotten; a failed one stays, for the next caller to see (and is never left unhandled).
    write.then(
      () => {
        if (this.writing === write) this.writing = undefined;
      },
      () => undefined,
    );
    // The builders now being filled held the previous group: the caller waits until that one is written.
    return previous;
  }

  private async writeGroup(builders: ColumnChunkBuilder[], rows: number, closesPart: boolean): Promise<void> {
    try {
      if (!this.writer) await this.openPart();
      await this.writer!.writeRowGroup(builders, rows);
      this.written.rows += rows;
      if (closesPart) await this.closePart();
    } finally {
      for (const b of builders) b.reset();
      rowsInFlight.add(-rows);
    }
  }

  private async openPart(): Promise<void> {
    const { index, file } = this.names.take();
    const groupRows = Math.min(this.options.rowGroupSize, this.options.rowsPerPart);
    this.writer = await ParquetFileWriter.create(file, this.columns.map((c) => ({ name: c.column.name, type: c.parquetType })), groupRows);
    this.written.files.push(file);
    this.written.indexes.push(index);
  }

  private async closePart(): Promise<void> {
    if (!this.writer) return;
    const writer = this.writer;
    this.writer = undefined;
    await writer.close();
    this.written.bytes += statSync(this.written.files[this.written.files.length - 1]!).size;
  }
}
