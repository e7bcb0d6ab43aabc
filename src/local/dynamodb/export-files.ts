/**
 * The files of one DynamoDB export in AWS's documented DYNAMODB_JSON layout ("DynamoDB table
 * export output format"): `manifest-summary.json`, `manifest-files.json` (JSON lines: itemCount,
 * md5Checksum, etag, dataFileS3Key) and `*.json.gz` data files (JSON lines, gzip). As on AWS, an
 * export always has at least one data file, empty when there is nothing to export, and each file
 * has a random name: an INCREMENTAL export's share one folder with every other export to the prefix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Lines per data file: keeps memory bounded on big scans. */
const LINES_PER_FILE = 20_000;

/** An attribute value as the SDK hands it (binary as bytes). */
export type SdkAttributeValue = object;

/** DynamoDB JSON as the export writes it: binary (B, BS) as base64 text, the rest as the SDK gives it. */
export function toDynamoJson(value: SdkAttributeValue): Record<string, unknown> {
  const [type, inner] = Object.entries(value as Record<string, unknown>).find(([, v]) => v !== undefined) ?? [];
  if (type === undefined) return {};
  switch (type) {
    case 'B':
      return { B: base64(inner) };
    case 'BS':
      return { BS: (inner as unknown[]).map(base64) };
    case 'L':
      return { L: (inner as SdkAttributeValue[]).map(toDynamoJson) };
    case 'M':
      return { M: itemToDynamoJson(inner as Record<string, SdkAttributeValue>) };
    default:
      return { [type]: inner };
  }
}

export function itemToDynamoJson(item: Record<string, SdkAttributeValue>): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, toDynamoJson(value)]));
}

function base64(bytes: unknown): string {
  return Buffer.from(bytes as Uint8Array).toString('base64');
}

export interface ManifestFileEntry {
  itemCount: number;
  md5Checksum: string;
  etag: string;
  dataFileS3Key: string;
}

/**
 * Writes `<name>.json.gz` files to a data folder, a line at a time. `dataKey` is what stands for
 * the bucket-relative key of the folder (`<prefix>/AWSDynamoDB/<exportId>/data` for a FULL export,
 * `<prefix>/AWSDynamoDB/data` for an INCREMENTAL one), which names the files in manifest-files.json.
 */
export class DataFileWriter {
  private lines: string[] = [];
  private readonly files: ManifestFileEntry[] = [];
  private bytes = 0;
  private count = 0;

  constructor(
    private readonly dataFolder: string,
    private readonly dataKey: string,
  ) {
    mkdirSync(dataFolder, { recursive: true });
  }

  add(line: Record<string, unknown>): void {
    const text = JSON.stringify(line);
    this.lines.push(text);
    this.bytes += Buffer.byteLength(text) + 1;
    this.count += 1;
    if (this.lines.length >= LINES_PER_FILE) this.flush();
  }

  /** Writes what is buffered; returns the manifest-files entries, items and uncompressed bytes. */
  finish(): { files: ManifestFileEntry[]; itemCount: number; bytes: number } {
    if (this.lines.length > 0 || this.files.length === 0) this.flush();
    return { files: this.files, itemCount: this.count, bytes: this.bytes };
  }

  private flush(): void {
    const name = `${dataFileName()}.json.gz`;
    const gz = gzipSync(this.lines.length > 0 ? `${this.lines.join('\n')}\n` : '');
    writeFileSync(join(this.dataFolder, name), gz);
    const md5 = createHash('md5').update(gz);
    const digest = md5.digest();
    this.files.push({ itemCount: this.lines.length, md5Checksum: digest.toString('base64'), etag: digest.toString('hex'), dataFileS3Key: `${this.dataKey}/${name}` });
    this.lines = [];
  }
}

/** 26 lowercase base32 characters, the shape of DynamoDB's data file names. */
function dataFileName(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join('');
}

export interface ExportSummary {
  exportArn: string;
  tableArn: string;
  tableId?: string;
  startTime: string;
  endTime: string;
  /** Where the export folder's parent stands for the bucket (the local exports folder). */
  s3Bucket: string;
  s3Prefix: string;
  type: 'FULL' | 'INCREMENTAL';
  from?: string;
  to: string;
  itemCount: number;
  billedSizeBytes: number;
}

/** Writes manifest-files.json (JSON lines) and then manifest-summary.json, the field names of AWS's export. */
export function writeManifests(folder: string, keyPrefix: string, files: ManifestFileEntry[], summary: ExportSummary): void {
  writeFileSync(join(folder, 'manifest-files.json'), files.map((f) => JSON.stringify(f)).join('\n') + '\n');
  const common = {
    exportArn: summary.exportArn,
    startTime: summary.startTime,
    endTime: summary.endTime,
    tableArn: summary.tableArn,
    tableId: summary.tableId ?? null,
  };
  const target = {
    s3Bucket: summary.s3Bucket,
    s3Prefix: summary.s3Prefix,
    s3SseAlgorithm: null,
    s3SseKmsKeyId: null,
    manifestFilesS3Key: `${keyPrefix}/manifest-files.json`,
    billedSizeBytes: summary.billedSizeBytes,
    itemCount: summary.itemCount,
    outputFormat: 'DYNAMODB_JSON',
  };
  const document =
    summary.type === 'FULL'
      ? { version: '2020-06-30', ...common, exportTime: summary.to, ...target, exportType: 'FULL_EXPORT' }
      : { version: '2023-08-01', ...common, exportFromTime: summary.from, exportToTime: summary.to, ...target, outputView: 'NEW_AND_OLD_IMAGES', exportType: 'INCREMENTAL_EXPORT' };
  writeFileSync(join(folder, 'manifest-summary.json'), JSON.stringify(document, null, 2));
}
