/**
 * Writes one table's rows as GZIP Parquet part files, starting a new part every `rowsPerPart`
 * rows, as RDS does: `<tableDir>/1/part-00000-<uuid>.gz.parquet`, `part-00001-...`.
 * Only one row group is held in memory at a time.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import type { ColumnExport } from './types';

export interface PartWriterOptions {
  /** Rows per part file. */
  rowsPerPart: number;
  /** Rows per Parquet row group (what the writer buffers). */
  rowGroupSize: number;
}

export interface PartsWritten {
  rows: number;
  files: string[];
  bytes: number;
}

type Writer = Awaited<ReturnType<typeof parquet.ParquetWriter.openFile>>;

export class PartWriter {
  private readonly schema: InstanceType<typeof parquet.ParquetSchema>;
  private writer: Writer | undefined;
  private rowsInPart = 0;
  private readonly written: PartsWritten = { rows: 0, files: [], bytes: 0 };

  constructor(
    private readonly batchDir: string,
    private readonly columns: ColumnExport[],
    private readonly options: PartWriterOptions,
  ) {
    mkdirSync(batchDir, { recursive: true });
    this.schema = new parquet.ParquetSchema(
      Object.fromEntries(columns.map((c) => [c.column.name, { type: c.parquetType, optional: true, compression: 'GZIP' as const }])),
    );
  }

  /** Appends rows given as text values in column order (null stays null). */
  async append(rows: unknown[][]): Promise<void> {
    for (const values of rows) {
      if (!this.writer || this.rowsInPart >= this.options.rowsPerPart) await this.nextPart();
      const row: Record<string, unknown> = {};
      for (let i = 0; i < this.columns.length; i++) {
        const text = values[i];
        const column = this.columns[i]!;
        row[column.column.name] = text === null || text === undefined ? null : column.convert(String(text));
      }
      await this.writer!.appendRow(row);
      this.rowsInPart += 1;
      this.written.rows += 1;
    }
  }

  /** Closes the last part; an empty table still gets one (empty) part so its schema is on disk. */
  async finish(): Promise<PartsWritten> {
    if (!this.writer) await this.nextPart();
    await this.closePart();
    return this.written;
  }

  private async nextPart(): Promise<void> {
    await this.closePart();
    const index = String(this.written.files.length).padStart(5, '0');
    const file = join(this.batchDir, `part-${index}-${randomUUID()}.gz.parquet`);
    this.writer = await parquet.ParquetWriter.openFile(this.schema, file, { rowGroupSize: this.options.rowGroupSize });
    this.written.files.push(file);
    this.rowsInPart = 0;
  }

  private async closePart(): Promise<void> {
    if (!this.writer) return;
    await this.writer.close();
    this.writer = undefined;
    this.written.bytes += statSync(this.written.files[this.written.files.length - 1]!).size;
  }
}
