/**
 * Retention of a DynamoDB source's export files on AWS. Each export lakesync starts writes under
 * `<prefix>/<source>/<exportId>/` (src/aws/dynamodb-exports.ts), its data files and, once it
 * completes, DynamoDB's manifests in `AWSDynamoDB/<DynamoDB's export id>/` ("DynamoDB table export
 * output format": manifest-summary.json with tableArn and startTime, manifest-files.json, their
 * checksums, and `_started`). Only folders named like lakesync's export ids are listed, and only
 * those with a manifest summary: it tells the table and the start time, and DynamoDB writes it
 * when the export has completed, so an export still running (or one that failed before writing
 * it) is never listed on that account. DynamoDB writes no manifest summary for an export that
 * FAILED (only a completed export has its manifests), yet its partial data files stay: a folder
 * without a summary is listed when DynamoDB tells that its export failed (ListExports, then
 * DescribeExport of that export: status FAILED, and lakesync's export id as its ClientToken or
 * S3Prefix), with the table and start time DynamoDB tells, and deleted by the same rule. One still
 * IN_PROGRESS, or one DynamoDB no longer knows, is never listed nor deleted. ListExports lists every export
 * of the account's last 90 days, so DynamoDB is asked only when a folder without a summary is new,
 * or a day after it was last asked (those asked about are kept in the index). Nothing else under the
 * prefix (`lakesync-manifests/`, other folders) is ever touched.
 *
 * An export's table and start time never change: once read from its summary they are kept in the
 * source's manifests (EXPORT_INDEX_KEY), so a later listing reads only the summaries of exports it
 * has not seen. The index is only a cache: an export is listed only while its folder is, a deletion
 * still requires the summary (and deletes it last), and an index that cannot be read or written
 * leaves the summaries to be read as before.
 */
import { DescribeExportCommand, type DynamoDBClient, ListExportsCommand } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { awsCall } from './errors';
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

/** By export id: its table (dynamodb.<Name>) and start time, from its manifest summary (or, `failed`, from DescribeExport of a FAILED export). */
interface ExportIndex {
  exports: Record<string, { table: string; createdAt: string; failed?: true }>;
  /** Folders without a summary DynamoDB was asked about and did not report FAILED: asked again with a folder not seen yet, or a day later (one running then may have failed since). */
  unresolved?: string[];
  /** When DynamoDB was asked about them. */
  askedAt?: string;
}

/** How long DynamoDB is not asked again about the same folders without a summary. */
const ASK_AGAIN_MS = 24 * 3_600_000;

export class DynamoExportRetention {
  constructor(
    private readonly s3: S3Client,
    private readonly objects: S3Objects,
    private readonly settings: DynamoExportSettings,
    /** The source's manifests, which keep what the summaries told (absent: every summary is read every time). */
    private readonly manifests?: ManifestStore,
    /** The tables' DynamoDB client, to find the exports that FAILED (absent: their folders are left alone). */
    private readonly ddb?: DynamoDBClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The exports listed as FAILED by DynamoDB: deleted without a manifest summary. */
  private readonly failed = new Set<string>();

  /** `<prefix>/<source>/`: the folder of the source's exports. */
  private root(): string {
    return `${joinKey(this.settings.prefix, this.settings.source)}/`;
  }

  /**
   * `warn` hears what is left for a reason the user must fix: the lookup of FAILED exports refused
   * (the completed exports are listed all the same).
   */
  async listTableExports(progress: () => void = () => undefined, warn: (message: string) => void = () => undefined): Promise<TableExportItem[]> {
    const root = this.root();
    const ids = (await this.objects.listFolders(this.settings.bucket, root, `the DynamoDB export folders of source ${this.settings.source}`))
      .map((p) => p.slice(root.length).replace(/\/$/, ''))
      .filter((id) => LAKESYNC_EXPORT_ID.test(id));
    const known = await this.readIndex();
    const index: ExportIndex = { exports: {} };
    const items: TableExportItem[] = [];
    // Folders without a summary, by the folders DynamoDB made in them (AWSDynamoDB/<its export id>/).
    const withoutSummary = new Map<string, string[]>();
    for (const id of ids) {
      progress();
      const kept = known?.exports[id];
      if (kept) {
        index.exports[id] = kept;
        items.push({ id, table: kept.table, createdAt: kept.createdAt, ...(kept.failed ? { failed: true } : {}) });
        if (kept.failed) this.failed.add(id);
        continue;
      }
      const { summary, exportIds } = await this.summaryOf(id);
      const tableArn = typeof summary?.tableArn === 'string' ? summary.tableArn : undefined;
      const startTime = typeof summary?.startTime === 'string' && !Number.isNaN(Date.parse(summary.startTime)) ? new Date(summary.startTime).toISOString() : undefined;
      if (!tableArn || !startTime) {
        if (!summary && exportIds.length > 0) withoutSummary.set(id, exportIds);
        continue;
      }
      const item = { table: dynamoTableKey(dynamoTableNameOf(tableArn)), createdAt: startTime };
      index.exports[id] = item;
      items.push({ id, ...item });
    }
    // Only finds more to delete: a lookup that fails (e.g. refused, or an emulator without it) leaves those folders for a later run, not the completed exports.
    // ListExports lists every export of the account's last 90 days: asked only when a folder without a summary is new.
    const asked = new Set(known?.unresolved ?? []);
    const stale = !(Date.parse(known?.askedAt ?? '') > this.now().getTime() - ASK_AGAIN_MS);
    const lookUp = withoutSummary.size > 0 && (stale || [...withoutSummary.keys()].some((id) => !asked.has(id)));
    let lookedUp = lookUp;
    const failed = lookUp
      ? await this.failedExports(withoutSummary, progress).catch((err: unknown) => {
          // Not an answer: the folders are asked about again by the next run (and warned about again until it succeeds).
          lookedUp = false;
          warn(this.lookupFailed(err, [...withoutSummary.keys()].sort()));
          return [];
        })
      : [];
    const resolved = new Set(failed.map(([id]) => id));
    const unresolved = (lookedUp ? [...withoutSummary.keys()].filter((id) => !resolved.has(id)) : lookUp ? [] : [...withoutSummary.keys()]).sort();
    if (unresolved.length > 0) {
      index.unresolved = unresolved;
      index.askedAt = lookUp ? this.now().toISOString() : known!.askedAt!;
    }
    for (const [id, item] of failed) {
      index.exports[id] = { ...item, failed: true };
      items.push({ id, ...item, failed: true });
      this.failed.add(id);
    }
    // Exports gone from the listing leave the index; new ones enter it.
    const indexed = Object.keys(index.exports);
    const unchanged = (index.unresolved ?? []).join() === (known?.unresolved ?? []).join() && index.askedAt === known?.askedAt;
    if (!known || !unchanged || indexed.length !== Object.keys(known.exports).length || indexed.some((id) => !known.exports[id])) await this.writeIndex(index);
    return items;
  }

  /** The warning for a lookup of FAILED exports that failed: which folders are kept, why, and what to do. */
  private lookupFailed(err: unknown, folders: string[]): string {
    const refused = err instanceof PortError && err.kind === 'access-denied';
    const shown = folders.slice(0, 3).map((id) => s3Url(this.settings.bucket, `${this.root()}${id}/`));
    const more = folders.length > shown.length ? ` and ${folders.length - shown.length} more` : '';
    const fix = refused
      ? 'add dynamodb:ListExports (on "*") and dynamodb:DescribeExport (on the tables\' exports) to the worker\'s policy (docs/aws-setup.md, DynamoDB sources)'
      : 'the next cycle asks again';
    return (
      `the DynamoDB exports without a manifest summary could not be looked up in DynamoDB, so the files of those that FAILED are kept: ${shown.join(', ')}${more}` +
      ` (${fix}); completed exports are deleted as usual: ${(err as Error)?.message ?? String(err)}`
    );
  }

  /** The index of the exports already read; undefined when there is none or it cannot be read (the summaries are read then). */
  private async readIndex(): Promise<ExportIndex | undefined> {
    if (!this.manifests) return undefined;
    try {
      const doc = await this.manifests.get<ExportIndex>(this.manifests.ref(EXPORT_INDEX_KEY));
      if (!doc || typeof doc !== 'object' || !doc.exports || typeof doc.exports !== 'object') return undefined;
      const entries: ExportIndex['exports'] = {};
      for (const [id, e] of Object.entries(doc.exports)) {
        if (LAKESYNC_EXPORT_ID.test(id) && typeof e?.table === 'string' && typeof e.createdAt === 'string' && !Number.isNaN(Date.parse(e.createdAt))) entries[id] = { table: e.table, createdAt: e.createdAt, ...(e.failed === true ? { failed: true as const } : {}) };
      }
      const unresolved = Array.isArray(doc.unresolved) ? doc.unresolved.filter((id): id is string => typeof id === 'string' && LAKESYNC_EXPORT_ID.test(id)).sort() : [];
      const askedAt = typeof doc.askedAt === 'string' && !Number.isNaN(Date.parse(doc.askedAt)) ? doc.askedAt : undefined;
      return { exports: entries, ...(unresolved.length > 0 && askedAt ? { unresolved, askedAt } : {}) };
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
    if (summaries.length === 0 && !this.failed.has(id)) return { deleted: false, reason: `${s3Url(this.settings.bucket, folder)} has no ${SUMMARY}: the export may still be running` };
    const files: FolderFiles = { bucket: this.settings.bucket, folder, what: `DynamoDB export ${id}`, permission: `${s3Url(this.settings.bucket, `${joinKey(this.settings.prefix)}/*`)}: docs/aws-setup.md, DynamoDB sources` };
    await deleteFolderKeys(this.s3, files, keys.filter((k) => !k.endsWith(`/${SUMMARY}`)));
    await deleteFolderKeys(this.s3, files, summaries);
    return { deleted: true };
  }

  /**
   * The exports among `folders` (lakesync's export id -> DynamoDB's export ids of the folders in
   * it) that DynamoDB reports FAILED: ListExports (all pages) names the candidates by DynamoDB's
   * export id, the end of their ARN; DescribeExport confirms each is FAILED and lakesync's (its
   * ClientToken or S3Prefix), and tells its table and start time. A folder counts only when every
   * export in it failed. Nothing when there is no folder to look for or no DynamoDB client.
   */
  private async failedExports(folders: Map<string, string[]>, progress: () => void): Promise<[string, { table: string; createdAt: string }][]> {
    if (folders.size === 0 || !this.ddb) return [];
    const ddb = this.ddb;
    const wanted = new Map<string, string>();
    for (const [id, exportIds] of folders) for (const e of exportIds) wanted.set(e, id);
    const failedArns = new Map<string, string>();
    let token: string | undefined;
    do {
      progress();
      const page = await awsCall({ service: 'DynamoDB', operation: 'ListExports', subject: `the exports of source ${this.settings.source}'s tables` }, () =>
        ddb.send(new ListExportsCommand({ MaxResults: 25, ...(token ? { NextToken: token } : {}) })),
      );
      for (const s of page.ExportSummaries ?? []) {
        const id = wanted.get(s.ExportArn?.split('/export/')[1] ?? '');
        if (id && s.ExportStatus === 'FAILED') failedArns.set(s.ExportArn!, id);
      }
      token = page.NextToken;
    } while (token);
    // By lakesync's export id: the DynamoDB exports in its folder confirmed FAILED, with the table and start time.
    const confirmed = new Map<string, { failed: Set<string>; item: { table: string; createdAt: string } }>();
    for (const [arn, id] of failedArns) {
      progress();
      const d = await awsCall({ service: 'DynamoDB', operation: 'DescribeExport', subject: `DynamoDB export ${id} (${arn})` }, () => ddb.send(new DescribeExportCommand({ ExportArn: arn })));
      const e = d.ExportDescription;
      const ours = e?.ClientToken === id || e?.S3Prefix === joinKey(this.settings.prefix, this.settings.source, id);
      if (!e || e.ExportStatus !== 'FAILED' || !ours || !e.TableArn || !e.StartTime) continue;
      const entry = confirmed.get(id) ?? { failed: new Set<string>(), item: { table: dynamoTableKey(dynamoTableNameOf(e.TableArn)), createdAt: new Date(e.StartTime).toISOString() } };
      entry.failed.add(arn.split('/export/')[1]!);
      confirmed.set(id, entry);
    }
    // A folder is a failed export's only when every export DynamoDB wrote there failed: another one may still be running.
    return [...confirmed].filter(([id, { failed }]) => (folders.get(id) ?? []).every((e) => failed.has(e))).map(([id, { item }]) => [id, item]);
  }

  /** The export's manifest summary, `<folder>/AWSDynamoDB/<DynamoDB's id>/manifest-summary.json`, once written; and DynamoDB's export ids (the folders there). */
  private async summaryOf(id: string): Promise<{ summary?: ManifestSummary; exportIds: string[] }> {
    const base = `${this.root()}${id}/AWSDynamoDB/`;
    const prefixes = (await this.objects.listFolders(this.settings.bucket, base, `the folders of DynamoDB export ${id}`)).filter((p) => p !== `${base}data/`);
    const exportIds = prefixes.map((p) => p.slice(base.length).replace(/\/$/, '')).filter(Boolean);
    for (const p of prefixes) {
      const doc = await this.objects.getJson<ManifestSummary>({ bucket: this.settings.bucket, key: `${p}${SUMMARY}` }, `the manifest summary of DynamoDB export ${id}`).catch((err: unknown) => {
        // A summary that is not JSON leaves that export alone, not the others.
        if (err instanceof PortError && err.kind === 'validation') return undefined;
        throw err;
      });
      if (doc && typeof doc === 'object') return { summary: doc, exportIds };
    }
    return { exportIds };
  }
}
