/**
 * Retention of a DynamoDB source's export files on AWS. Each export lakesync starts writes under
 * `<prefix>/<source>/<exportId>/` (src/aws/dynamodb-exports.ts), its data files and, once it
 * completes, DynamoDB's manifests in `AWSDynamoDB/<DynamoDB's export id>/` ("DynamoDB table export
 * output format": manifest-summary.json with tableArn and startTime, manifest-files.json, their
 * checksums, and `_started`). Only folders named like lakesync's export ids are listed, and only
 * those with a manifest summary: it tells the table and the start time, and DynamoDB writes it
 * when the export has completed, so an export still running (or one that failed before writing
 * it) is never listed nor deleted. Nothing else under the prefix (`lakesync-manifests/`, other
 * folders) is ever touched.
 *
 * An export's table and start time never change: once read from its summary they are kept in the
 * source's manifests (EXPORT_INDEX_KEY), so a later listing reads only the summaries of exports it
 * has not seen. The index is only a cache: an export is listed only while its folder is, a deletion
 * still requires the summary (and deletes it last), and an index that cannot be read or written
 * leaves the summaries to be read as before.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { dynamoTableKey, dynamoTableNameOf } from '../dynamodb/names';
import { PortError } from '../errors';
import { DYNAMODB_EXPORT_ID } from '../ids';
import type { ManifestStore, RetentionDeletion, TableExportItem } from '../ports';
import type { DynamoExportSettings } from './dynamodb-exports';
import { joinKey, type S3Objects, s3Url } from './s3';
import { deleteFolderKeys, type FolderFiles } from './s3-delete';

/** The ids tableExportIdFor derives (`lse-` and 16 hex digits), inside DYNAMODB_EXPORT_ID. */
const LAKESYNC_EXPORT_ID = /^lse-[0-9a-f]{16}$/;
const SUMMARY = 'manifest-summary.json';

interface ManifestSummary {
  tableArn?: unknown;
  startTime?: unknown;
}

/** Where the table and start time of the exports already read are kept, in the source's manifests. */
export const EXPORT_INDEX_KEY = 'dynamodb-export-index.json';

/** By export id: its table (dynamodb.<Name>) and start time, from its manifest summary. */
interface ExportIndex {
  exports: Record<string, { table: string; createdAt: string }>;
}

export class DynamoExportRetention {
  constructor(
    private readonly s3: S3Client,
    private readonly objects: S3Objects,
    private readonly settings: DynamoExportSettings,
    /** The source's manifests, which keep what the summaries told (absent: every summary is read every time). */
    private readonly manifests?: ManifestStore,
  ) {}

  /** `<prefix>/<source>/`: the folder of the source's exports. */
  private root(): string {
    return `${joinKey(this.settings.prefix, this.settings.source)}/`;
  }

  async listTableExports(progress: () => void = () => undefined): Promise<TableExportItem[]> {
    const root = this.root();
    const ids = (await this.objects.listFolders(this.settings.bucket, root, `the DynamoDB export folders of source ${this.settings.source}`))
      .map((p) => p.slice(root.length).replace(/\/$/, ''))
      .filter((id) => LAKESYNC_EXPORT_ID.test(id));
    const known = await this.readIndex();
    const index: ExportIndex = { exports: {} };
    const items: TableExportItem[] = [];
    for (const id of ids) {
      progress();
      const kept = known?.exports[id];
      if (kept) {
        index.exports[id] = kept;
        items.push({ id, ...kept });
        continue;
      }
      const summary = await this.summaryOf(id);
      const tableArn = typeof summary?.tableArn === 'string' ? summary.tableArn : undefined;
      const startTime = typeof summary?.startTime === 'string' && !Number.isNaN(Date.parse(summary.startTime)) ? new Date(summary.startTime).toISOString() : undefined;
      if (!tableArn || !startTime) continue;
      const item = { table: dynamoTableKey(dynamoTableNameOf(tableArn)), createdAt: startTime };
      index.exports[id] = item;
      items.push({ id, ...item });
    }
    // Exports gone from the listing leave the index; new ones enter it.
    const indexed = Object.keys(index.exports);
    if (!known || indexed.length !== Object.keys(known.exports).length || indexed.some((id) => !known.exports[id])) await this.writeIndex(index);
    return items;
  }

  /** The index of the exports already read; undefined when there is none or it cannot be read (the summaries are read then). */
  private async readIndex(): Promise<ExportIndex | undefined> {
    if (!this.manifests) return undefined;
    try {
      const doc = await this.manifests.get<ExportIndex>(this.manifests.ref(EXPORT_INDEX_KEY));
      if (!doc || typeof doc !== 'object' || !doc.exports || typeof doc.exports !== 'object') return undefined;
      const entries: ExportIndex['exports'] = {};
      for (const [id, e] of Object.entries(doc.exports)) {
        if (LAKESYNC_EXPORT_ID.test(id) && typeof e?.table === 'string' && typeof e.createdAt === 'string' && !Number.isNaN(Date.parse(e.createdAt))) entries[id] = { table: e.table, createdAt: e.createdAt };
      }
      return { exports: entries };
    } catch {
      return undefined;
    }
  }

  private async writeIndex(index: ExportIndex): Promise<void> {
    // Only a cache: the next listing reads the summaries again when it is not written.
    await this.manifests?.put(EXPORT_INDEX_KEY, index).catch(() => undefined);
  }

  /**
   * Deletes the export's folder. The manifest summary goes last: a deletion cut short leaves it,
   * so the next retention lists the export again and finishes it (a folder without one is never
   * listed, as it may be an export still running). An export without a summary is put off; one
   * whose folder is gone is deleted.
   */
  async deleteTableExport(id: string): Promise<RetentionDeletion> {
    // Anything else could name the folder of every export, or lakesync-manifests/.
    if (!LAKESYNC_EXPORT_ID.test(id) || !DYNAMODB_EXPORT_ID.test(id)) return { deleted: false, reason: `"${id}" is not a DynamoDB export id of lakesync's` };
    const folder = `${this.root()}${id}/`;
    const subject = `the files of DynamoDB export ${id}`;
    const keys = (await this.objects.listKeys(this.settings.bucket, folder, subject)).map((k) => k.key);
    if (keys.length === 0) return { deleted: true };
    const summaries = keys.filter((k) => k.endsWith(`/${SUMMARY}`));
    if (summaries.length === 0) return { deleted: false, reason: `${s3Url(this.settings.bucket, folder)} has no ${SUMMARY}: the export may still be running` };
    const files: FolderFiles = { bucket: this.settings.bucket, folder, what: `DynamoDB export ${id}`, permission: `${s3Url(this.settings.bucket, `${joinKey(this.settings.prefix)}/*`)}: docs/aws-setup.md, DynamoDB sources` };
    await deleteFolderKeys(this.s3, files, keys.filter((k) => !k.endsWith(`/${SUMMARY}`)));
    await deleteFolderKeys(this.s3, files, summaries);
    return { deleted: true };
  }

  /** The export's manifest summary, `<folder>/AWSDynamoDB/<DynamoDB's id>/manifest-summary.json`, once written. */
  private async summaryOf(id: string): Promise<ManifestSummary | undefined> {
    const base = `${this.root()}${id}/AWSDynamoDB/`;
    const prefixes = await this.objects.listFolders(this.settings.bucket, base, `the folders of DynamoDB export ${id}`);
    for (const p of prefixes) {
      if (p === `${base}data/`) continue;
      const doc = await this.objects.getJson<ManifestSummary>({ bucket: this.settings.bucket, key: `${p}${SUMMARY}` }, `the manifest summary of DynamoDB export ${id}`).catch((err: unknown) => {
        // A summary that is not JSON leaves that export alone, not the others.
        if (err instanceof PortError && err.kind === 'validation') return undefined;
        throw err;
      });
      if (doc && typeof doc === 'object') return doc;
    }
    return undefined;
  }
}
