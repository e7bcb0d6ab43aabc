/**
 * RetentionPort on AWS. Snapshots: the manual snapshots of the source's instance (or cluster) that
 * carry the `lakesync` tag CreateDBSnapshot gave them (src/aws/rds-snapshots.ts). DescribeDBSnapshots
 * offers no tag filter (its filters are db-instance-id, db-snapshot-id, dbi-resource-id,
 * snapshot-type, engine), so the tag is checked on each snapshot's TagList. Exports: the folders
 * `<prefix>/<exportId>/` RDS wrote, deleted with ListObjectsV2 + DeleteObjects (1,000 keys a call).
 * Cycles: each cycle's manifests and Glue load files (src/aws/cycle-files.ts).
 */
import {
  type DBClusterSnapshot,
  type DBSnapshot,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  DescribeExportTasksCommand,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { exportInfoName } from '../export-listing';
import type { RetentionDeletion, RetentionItem, RetentionPort } from '../ports';
import type { S3CycleFiles } from './cycle-files';
import { deleteFolderKeys, type FolderFiles, listFolderKeys } from './s3-delete';
import { awsCall, hasAwsCode, httpStatusOf, toPortError } from './errors';
import { joinKey, S3Objects, s3Url } from './s3';
import type { AwsSettings } from './settings';
import { RDS_EXPORT_ID } from '../ids';

/** The tag key CreateDBSnapshot / CreateDBClusterSnapshot put on every snapshot lakesync takes. */
export const LAKESYNC_TAG_KEY = 'lakesync';

/** Export task states in which RDS may still write the export's files or read its snapshot. */
const RUNNING_EXPORT = new Set(['starting', 'in_progress', 'canceling']);

/** Export task states in which RDS ended the export without completing it: its files are never read. */
const ENDED_INCOMPLETE = new Set(['failed', 'canceled']);

interface ListedSnapshot {
  id: string;
  arn: string;
  type: string;
  tagged: boolean;
  createdAt?: Date;
}

export class AwsRetention implements RetentionPort {
  /** ARNs of the snapshots listed last, for the export check before a deletion. */
  private readonly arns = new Map<string, string>();

  constructor(
    private readonly rds: RDSClient,
    private readonly s3: S3Client,
    private readonly settings: Pick<AwsSettings, 'rds' | 'export'>,
    /** Each cycle's manifests and Glue files (src/aws/cycle-files.ts); left alone without it. */
    cycleFiles?: S3CycleFiles,
  ) {
    if (cycleFiles) {
      this.listCycleFiles = (owned) => cycleFiles.listCycleFiles(owned);
      this.deleteCycleFiles = (cycleId) => cycleFiles.deleteCycleFiles(cycleId);
    }
  }

  readonly listCycleFiles?: (owned: (cycleId: string) => boolean) => Promise<RetentionItem[]>;
  readonly deleteCycleFiles?: (cycleId: string) => Promise<RetentionDeletion>;

  private get owner(): string {
    const { rds } = this.settings;
    return rds.clusterId ? `cluster ${rds.clusterId}` : `instance ${rds.instanceId}`;
  }

  async listSnapshots(owned: (id: string) => boolean): Promise<RetentionItem[]> {
    const snapshots = (await this.manualSnapshots()).filter((s) => s.type === 'manual' && s.tagged && owned(s.id));
    for (const s of snapshots) this.arns.set(s.id, s.arn);
    return snapshots.map((s) => ({ id: s.id, ...(s.createdAt ? { createdAt: s.createdAt.toISOString() } : {}) }));
  }

  async deleteSnapshot(id: string): Promise<RetentionDeletion> {
    const arn = this.arns.get(id);
    const exporting = arn ? await this.runningExport({ Filters: [{ Name: 'source-arn', Values: [arn] }] }, (t) => t.SourceArn === arn, `the exports of snapshot ${id}`) : undefined;
    if (exporting) return { deleted: false, reason: `export ${exporting} is reading it` };
    const { rds } = this.settings;
    const operation = rds.clusterId ? 'DeleteDBClusterSnapshot' : 'DeleteDBSnapshot';
    try {
      if (rds.clusterId) await this.rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: id }));
      else await this.rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: id }));
      return { deleted: true };
    } catch (err) {
      if (hasAwsCode(err, 'DBSnapshotNotFound', 'DBClusterSnapshotNotFoundFault')) return { deleted: true };
      // Only an `available` snapshot can be deleted: one being created (or copied) is left for a later cycle.
      if (hasAwsCode(err, 'InvalidDBSnapshotState', 'InvalidDBClusterSnapshotStateFault')) return { deleted: false, reason: `its state does not allow deletion yet (${(err as Error).message})` };
      throw toPortError(err, { service: 'RDS', operation, subject: `snapshot ${id} of ${this.owner}` });
    }
  }

  async listExports(owned: (id: string) => boolean): Promise<RetentionItem[]> {
    const { bucket } = this.settings.export;
    const ids: string[] = [];
    for (const folder of await new S3Objects(this.s3).listFolders(bucket, this.root, 'the exports')) {
      const id = folder.slice(this.root.length).replace(/\/$/, '');
      if (id && owned(id)) ids.push(id);
    }
    const items: RetentionItem[] = [];
    for (const id of ids) {
      const time = await this.exportTime(id);
      if (!time) continue;
      // Without export_info RDS did not complete it: one it reports failed or cancelled is never read, and takes none of the kept places.
      const failed = !time.complete && (await this.endedWithoutFiles(id));
      items.push({ id, createdAt: time.at.toISOString(), ...(failed ? { failed: true } : {}) });
    }
    return items;
  }

  /** Whether RDS reports the export task FAILED or CANCELED; false when it does not know it, or cannot be asked (the export then counts as any other). */
  private async endedWithoutFiles(id: string): Promise<boolean> {
    try {
      const page = await this.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: id }));
      const task = (page.ExportTasks ?? []).find((t) => t.ExportTaskIdentifier === id);
      return ENDED_INCOMPLETE.has((task?.Status ?? '').toLowerCase());
    } catch {
      return false;
    }
  }

  async deleteExport(id: string): Promise<RetentionDeletion> {
    // Anything else would name the whole prefix (the manifests and every export) or a folder inside one.
    if (!RDS_EXPORT_ID.test(id)) return { deleted: false, reason: `"${id}" is not an export id` };
    const running = await this.runningExport({ ExportTaskIdentifier: id }, (t) => t.ExportTaskIdentifier === id, `export ${id}`);
    if (running) return { deleted: false, reason: 'RDS is still writing it' };
    const files: FolderFiles = { bucket: this.settings.export.bucket, folder: this.folder(id), what: `export ${id}`, permission: `${s3Url(this.settings.export.bucket, this.folder(id))}*: docs/aws-setup.md` };
    const keys = await listFolderKeys(this.s3, files);
    // export_info goes first, on its own: a deletion cut short then leaves an export that counts as
    // gone (a rerun takes a new one), never one that looks whole with some of its files missing.
    const info = joinKey(this.settings.export.prefix, id, exportInfoName(id));
    if (keys.includes(info)) await deleteFolderKeys(this.s3, files, [info]);
    await deleteFolderKeys(this.s3, files, keys.filter((k) => k !== info));
    return { deleted: true };
  }

  /** `<prefix>/`, or the bucket's root when the prefix is empty; slashes at its ends are dropped, as in the export's location. */
  private get root(): string {
    const prefix = joinKey(this.settings.export.prefix);
    return prefix ? `${prefix}/` : '';
  }

  private folder(id: string): string {
    return `${joinKey(this.settings.export.prefix, id)}/`;
  }

  /** When RDS finished the export (its export_info file: complete), else when it wrote its first file; undefined for an empty folder. */
  private async exportTime(id: string): Promise<{ at: Date; complete: boolean } | undefined> {
    const { bucket } = this.settings.export;
    const info = joinKey(this.settings.export.prefix, id, exportInfoName(id));
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: info }));
      if (head.LastModified) return { at: head.LastModified, complete: true };
    } catch (err) {
      if (!(hasAwsCode(err, 'NotFound', 'NoSuchKey') || httpStatusOf(err) === 404)) throw toPortError(err, { service: 'S3', operation: 'HeadObject', subject: `export ${id} (${s3Url(bucket, info)})` });
    }
    const page = await awsCall({ service: 'S3', operation: 'ListObjectsV2', subject: `the files of export ${id}` }, () =>
      this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: this.folder(id), MaxKeys: 1 })),
    );
    const first = page.Contents?.[0]?.LastModified;
    return first ? { at: first, complete: false } : undefined;
  }

  /** The id of an export task matching `match` that still runs; undefined when none (or RDS no longer knows it). */
  private async runningExport(
    filter: { ExportTaskIdentifier?: string; Filters?: { Name: string; Values: string[] }[] },
    match: (t: { ExportTaskIdentifier?: string; SourceArn?: string }) => boolean,
    subject: string,
  ): Promise<string | undefined> {
    let marker: string | undefined;
    try {
      do {
        const page = await this.rds.send(new DescribeExportTasksCommand({ ...filter, ...(marker ? { Marker: marker } : {}) }));
        // Emulators may ignore the filter: match each task here too.
        const running = (page.ExportTasks ?? []).find((t) => match(t) && RUNNING_EXPORT.has((t.Status ?? '').toLowerCase()));
        if (running) return running.ExportTaskIdentifier ?? 'unknown';
        marker = page.Marker;
      } while (marker);
      return undefined;
    } catch (err) {
      if (hasAwsCode(err, 'ExportTaskNotFound')) return undefined;
      throw toPortError(err, { service: 'RDS', operation: 'DescribeExportTasks', subject });
    }
  }

  /** The manual snapshots of the source's instance or cluster, across all pages. */
  private async manualSnapshots(): Promise<ListedSnapshot[]> {
    const { rds } = this.settings;
    const out: ListedSnapshot[] = [];
    let marker: string | undefined;
    try {
      do {
        if (rds.clusterId) {
          const page = await this.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: rds.clusterId, SnapshotType: 'manual', ...(marker ? { Marker: marker } : {}) }));
          out.push(...(page.DBClusterSnapshots ?? []).map((s) => listed(s.DBClusterSnapshotIdentifier, s.DBClusterSnapshotArn, s)));
          marker = page.Marker;
        } else {
          const page = await this.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: rds.instanceId, SnapshotType: 'manual', ...(marker ? { Marker: marker } : {}) }));
          out.push(...(page.DBSnapshots ?? []).map((s) => listed(s.DBSnapshotIdentifier, s.DBSnapshotArn, s)));
          marker = page.Marker;
        }
      } while (marker);
    } catch (err) {
      throw toPortError(err, { service: 'RDS', operation: rds.clusterId ? 'DescribeDBClusterSnapshots' : 'DescribeDBSnapshots', subject: `the manual snapshots of ${this.owner}` });
    }
    return out;
  }
}

function listed(id: string | undefined, arn: string | undefined, s: DBSnapshot | DBClusterSnapshot): ListedSnapshot {
  return {
    id: id ?? '',
    arn: arn ?? '',
    type: (s.SnapshotType ?? 'manual').toLowerCase(),
    tagged: hasLakesyncTag(s.TagList),
    // A snapshot being created has no time yet: it counts as the newest.
    ...(s.SnapshotCreateTime && (s.Status ?? '').toLowerCase() !== 'creating' ? { createdAt: new Date(s.SnapshotCreateTime) } : {}),
  };
}

function hasLakesyncTag(tags: Tag[] | undefined): boolean {
  return (tags ?? []).some((t) => t.Key === LAKESYNC_TAG_KEY);
}
