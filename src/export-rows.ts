/**
 * The row count of one table of an RDS export, from the footers of its Parquet part files
 * (FileMetaData.num_rows): a figure the load job does not produce, so verification can hold the
 * lake against it. The S3 and the local adapters list the files and read their bytes; the footer
 * is parsed here, by @dsnp/parquetjs, from a few ranged reads at the end of each file.
 */
import parquet from '@dsnp/parquetjs';
import { isPortError, PortError } from './errors';
import { tableFolder } from './export-listing';
import type { DiscoveredExport, ExportParts, TableName } from './model';

/** The table's data folder below the export root, `<db>/<schema>.<table>` as RDS names it: the folder the load job reads. */
export function tableDataPath(database: string, table: TableName): string {
  return tableFolder(database, table);
}

/** The part files of each table the export lists that has any, from the adapter's lookup by table. */
export function partsOf(found: Pick<DiscoveredExport, 'tables'>, partsIn: (table: TableName) => ExportParts | undefined): Record<TableName, ExportParts> {
  const parts: Record<TableName, ExportParts> = {};
  for (const { table } of found.tables) {
    const held = partsIn(table);
    if (held && held.files > 0) parts[table] = held;
  }
  return parts;
}

/** A part file as the load job counts it: a `.parquet` name, neither hidden nor a marker (`.crc`, `_SUCCESS`). */
export function isDataFile(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return name.endsWith('.parquet') && !name.startsWith('.') && !name.startsWith('_');
}

/** A batch folder RDS writes below a table's folder: 1/, 2/, ... */
const BATCH_FOLDER = /^[0-9]+$/;

/**
 * Whether `relative`, a `/`-separated path below a table's export folder, is one of the table's part
 * files: a data file right in the folder (older exports) or in one of its batch folders
 * (`<batch>/part-<n>-<uuid>.gz.parquet`, "File naming conventions for exports to Amazon S3").
 * Nothing in another folder or deeper is the table's. This is the one rule for the rows
 * verification expects and the parts discovery records; the load job reads the files of the same
 * rule, `is_table_part` in glue/lakesync_glue/export.py: change both together.
 */
export function isTablePart(relative: string): boolean {
  const segments = relative.split('/');
  if (segments.length === 2 && !BATCH_FOLDER.test(segments[0]!)) return false;
  return segments.length <= 2 && isDataFile(relative);
}

/** Reads `length` bytes at `offset` of one file. */
export type ReadRange = (offset: number, length: number) => Promise<Buffer>;

/** "PAR1" + footer length (4 bytes) + "PAR1": the smallest file that can hold a footer. */
const MIN_PARQUET_BYTES = 12;

/** What a part file that cannot be counted means, and what to do. */
export function unreadablePart(file: string, reason: string, cause?: unknown): PortError {
  return new PortError(
    'failed',
    'UnreadableExportPart',
    `export part file ${file} is not a readable Parquet file (${reason}): the export is damaged or was changed after it completed; run a new sync to export the snapshot again`,
    cause === undefined ? undefined : { cause },
  );
}

/** The row count in one Parquet file's footer. Read errors of the adapter (PortError) pass through. */
export async function footerRowCount(read: ReadRange, size: number, file: string): Promise<number> {
  if (size < MIN_PARQUET_BYTES) throw unreadablePart(file, `${size} bytes, too small for a Parquet footer`);
  const envelope = new parquet.ParquetEnvelopeReader((offset, length) => read(offset, length), () => undefined, size);
  let rows: number;
  try {
    rows = Number((await envelope.readFooter()).num_rows);
  } catch (err) {
    if (isPortError(err)) throw err;
    throw unreadablePart(file, err instanceof Error ? err.message : String(err), err);
  }
  if (!Number.isSafeInteger(rows) || rows < 0) throw unreadablePart(file, `its footer gives ${rows} rows`);
  return rows;
}

/**
 * Serves reads from one read of the file's last `tailBytes` when they fall inside it: a footer of
 * a part file is a few kilobytes, so one ranged GET usually answers both the trailer and the footer.
 */
export function withTail(read: ReadRange, size: number, tailBytes = 64 * 1024): ReadRange {
  const tailStart = Math.max(0, size - tailBytes);
  let tail: Promise<Buffer> | undefined;
  return async (offset, length) => {
    if (offset < tailStart) return read(offset, length);
    tail ??= read(tailStart, size - tailStart);
    const buffer = await tail;
    return buffer.subarray(offset - tailStart, offset - tailStart + length);
  };
}

/** Sums `count` over the files, at most `concurrency` at once. */
export async function sumRows<T>(files: T[], count: (file: T) => Promise<number>, concurrency = 8): Promise<number> {
  let total = 0;
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      // Awaited first: `total += await ...` would read `total` before another lane adds to it.
      const rows = await count(files[next++]!);
      total += rows;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, lane));
  return total;
}
