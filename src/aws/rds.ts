/**
 * RDS: DB (or Aurora cluster) snapshots and their exports to S3.
 * Ids come from the workflow, so a retry finds the snapshot or export it started and adopts it.
 * Nothing here waits: the workflow polls the describe calls with timers.
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  type DBClusterSnapshot,
  type DBSnapshot,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  DescribeExportTasksCommand,
  type ExportTask,
  type RDSClient,
  StartExportTaskCommand,
} from '@aws-sdk/client-rds';
import { PortError } from '../errors';
import type { ExportRef, ExportState, ExportStatus, SnapshotRef, SnapshotState, SnapshotStatus, TableName } from '../model';
import type { ExportPort, ExportRequest, SnapshotPort, SnapshotRequest } from '../ports';
import { awsCall, hasAwsCode, toPortError } from './errors';
import { joinKey, s3Url } from './s3';
import type { AwsSettings } from './settings';

/** One snapshot, instance or cluster, as the adapters need it. */
interface SnapshotInfo {
  id: string;
  arn: string;
  owner: string;
  status: string;
  type: string;
  createdAt?: Date;
  percentProgress?: number;
}

export class RdsSnapshots implements SnapshotPort {
  constructor(
    private readonly rds: RDSClient,
    private readonly settings: Pick<AwsSettings, 'rds'>,
  ) {}

  private get owner(): string {
    const { rds } = this.settings;
    return rds.clusterId ? `cluster ${rds.clusterId}` : `instance ${rds.instanceId}`;
  }

  async startSnapshot(req: SnapshotRequest): Promise<SnapshotRef> {
    if (req.mode === 'existing') return this.adoptExisting(req.existingSnapshotId);
    if (req.mode === 'latest-automated') return this.latestAutomated();
    return this.create(req.snapshotId);
  }

  async describeSnapshot(snapshotId: string): Promise<SnapshotStatus> {
    const snap = await this.find(snapshotId);
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} of ${this.owner} does not exist: was it deleted? Run a new sync to take another`);
    return {
      snapshotId,
      state: snapshotState(snap.status),
      ...(snap.createdAt ? { createdAt: snap.createdAt.toISOString() } : {}),
      message: `status ${snap.status}${snap.percentProgress !== undefined ? `, ${snap.percentProgress}%` : ''}`,
    };
  }

  /** The snapshot's ARN, which StartExportTask needs. */
  async snapshotArn(snapshotId: string): Promise<string> {
    const snap = await this.find(snapshotId);
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} of ${this.owner} does not exist, so it cannot be exported: run a new sync`);
    return snap.arn;
  }

  private async create(snapshotId: string): Promise<SnapshotRef> {
    const subject = `snapshot ${snapshotId} of ${this.owner}`;
    const { rds } = this.settings;
    try {
      const created = rds.clusterId
        ? (await this.rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: rds.clusterId, DBClusterSnapshotIdentifier: snapshotId, Tags: TAGS }))).DBClusterSnapshot
        : (await this.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: rds.instanceId, DBSnapshotIdentifier: snapshotId, Tags: TAGS }))).DBSnapshot;
      return { snapshotId, createdAt: (created?.SnapshotCreateTime ?? new Date()).toISOString(), adopted: false };
    } catch (err) {
      if (!hasAwsCode(err, 'DBSnapshotAlreadyExists', 'DBClusterSnapshotAlreadyExists')) {
        throw toPortError(err, { service: 'RDS', operation: rds.clusterId ? 'CreateDBClusterSnapshot' : 'CreateDBSnapshot', subject });
      }
    }
    // A retry (or a replay) of this cycle: the snapshot with our id is ours to adopt.
    const existing = await this.find(snapshotId);
    if (!existing) throw new PortError('not-found', 'DBSnapshotNotFound', `${subject} was reported as existing but cannot be found: retry the sync`);
    if (existing.owner !== (rds.clusterId ?? rds.instanceId)) {
      throw new PortError('already-exists', 'DBSnapshotAlreadyExists', `${subject}: a snapshot with this id belongs to ${existing.owner}; rename the source or delete that snapshot`);
    }
    return { snapshotId, createdAt: (existing.createdAt ?? new Date()).toISOString(), adopted: true };
  }

  private async adoptExisting(snapshotId: string | undefined): Promise<SnapshotRef> {
    if (!snapshotId) throw new PortError('validation', 'MissingSnapshotId', 'snapshot mode existing needs the snapshot id: set snapshot.id in lakesync.yaml');
    const snap = await this.find(snapshotId);
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} (snapshot.id in lakesync.yaml) does not exist for ${this.owner}: check the id`);
    return { snapshotId, createdAt: (snap.createdAt ?? new Date()).toISOString(), adopted: true };
  }

  private async latestAutomated(): Promise<SnapshotRef> {
    const automated = (await this.list({ automated: true })).filter((s) => s.status.toLowerCase() === 'available' && s.createdAt);
    automated.sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime());
    const newest = automated[0];
    if (!newest) {
      throw new PortError('not-found', 'NoAutomatedSnapshot', `${this.owner} has no available automated snapshot: enable automated backups, or set snapshot.mode to create`);
    }
    return { snapshotId: newest.id, createdAt: newest.createdAt!.toISOString(), adopted: true };
  }

  private async find(snapshotId: string): Promise<SnapshotInfo | undefined> {
    return (await this.list({ snapshotId }))[0];
  }

  /** Snapshots of the configured instance or cluster, across all pages. */
  private async list(filter: { snapshotId?: string; automated?: boolean }): Promise<SnapshotInfo[]> {
    const { rds } = this.settings;
    const subject = filter.snapshotId ? `snapshot ${filter.snapshotId} of ${this.owner}` : `automated snapshots of ${this.owner}`;
    const out: SnapshotInfo[] = [];
    let marker: string | undefined;
    try {
      do {
        const common = {
          ...(filter.automated ? { Filters: [{ Name: 'snapshot-type', Values: ['automated'] }] } : {}),
          ...(marker ? { Marker: marker } : {}),
        };
        if (rds.clusterId) {
          const page = await this.rds.send(
            new DescribeDBClusterSnapshotsCommand({
              ...(filter.snapshotId ? { DBClusterSnapshotIdentifier: filter.snapshotId } : { DBClusterIdentifier: rds.clusterId }),
              ...common,
            }),
          );
          out.push(...(page.DBClusterSnapshots ?? []).map(fromClusterSnapshot));
          marker = page.Marker;
        } else {
          const page = await this.rds.send(
            new DescribeDBSnapshotsCommand({
              ...(filter.snapshotId ? { DBSnapshotIdentifier: filter.snapshotId } : { DBInstanceIdentifier: rds.instanceId }),
              ...common,
            }),
          );
          out.push(...(page.DBSnapshots ?? []).map(fromInstanceSnapshot));
          marker = page.Marker;
        }
      } while (marker);
    } catch (err) {
      if (filter.snapshotId && hasAwsCode(err, 'DBSnapshotNotFound', 'DBClusterSnapshotNotFound')) return [];
      const operation = rds.clusterId ? 'DescribeDBClusterSnapshots' : 'DescribeDBSnapshots';
      throw toPortError(err, { service: 'RDS', operation, subject });
    }
    // Emulators may ignore the filter: check the type here too.
    return filter.automated ? out.filter((s) => s.type === 'automated') : out;
  }
}

const TAGS = [{ Key: 'lakesync', Value: 'snapshot' }];

function fromInstanceSnapshot(s: DBSnapshot): SnapshotInfo {
  return snapshotInfo(s.DBSnapshotIdentifier, s.DBSnapshotArn, s.DBInstanceIdentifier, s);
}

function fromClusterSnapshot(s: DBClusterSnapshot): SnapshotInfo {
  return snapshotInfo(s.DBClusterSnapshotIdentifier, s.DBClusterSnapshotArn, s.DBClusterIdentifier, s);
}

function snapshotInfo(id: string | undefined, arn: string | undefined, owner: string | undefined, s: DBSnapshot | DBClusterSnapshot): SnapshotInfo {
  return {
    id: id ?? '',
    arn: arn ?? '',
    owner: owner ?? '',
    status: s.Status ?? 'unknown',
    type: s.SnapshotType ?? 'manual',
    ...(s.SnapshotCreateTime ? { createdAt: new Date(s.SnapshotCreateTime) } : {}),
    ...(s.PercentProgress !== undefined ? { percentProgress: s.PercentProgress } : {}),
  };
}

function snapshotState(status: string): SnapshotState {
  const s = status.toLowerCase();
  if (s === 'available') return 'available';
  if (['failed', 'error', 'deleting', 'deleted', 'incompatible-restore'].includes(s)) return 'failed';
  return 'creating';
}

export class RdsExports implements ExportPort {
  constructor(
    private readonly rds: RDSClient,
    private readonly snapshots: RdsSnapshots,
    private readonly settings: Pick<AwsSettings, 'export' | 'database'>,
  ) {}

  async startExport(req: ExportRequest): Promise<ExportRef> {
    const subject = `export ${req.exportId} of snapshot ${req.snapshot.snapshotId}`;
    const sourceArn = await this.snapshots.snapshotArn(req.snapshot.snapshotId);
    const { bucket, prefix, iamRoleArn, kmsKeyId } = this.settings.export;
    try {
      await this.rds.send(
        new StartExportTaskCommand({
          ExportTaskIdentifier: req.exportId,
          SourceArn: sourceArn,
          S3BucketName: bucket,
          ...(prefix ? { S3Prefix: prefix } : {}),
          IamRoleArn: iamRoleArn,
          KmsKeyId: kmsKeyId,
          ...(req.tables && req.tables.length > 0 ? { ExportOnly: req.tables.map((t) => `${this.settings.database}.${t}`) } : {}),
        }),
      );
      return { exportId: req.exportId, location: exportLocation(bucket, prefix, req.exportId), snapshotId: req.snapshot.snapshotId, adopted: false };
    } catch (err) {
      if (!hasAwsCode(err, 'ExportTaskAlreadyExists')) {
        throw toPortError(err, { service: 'RDS', operation: 'StartExportTask', subject, ...exportHint(err, iamRoleArn, kmsKeyId, bucket) });
      }
    }
    // Started by an earlier attempt: adopt it, unless the id was used for another snapshot.
    const task = await this.task(req.exportId);
    if (task.SourceArn && task.SourceArn !== sourceArn) {
      throw new PortError('already-exists', 'ExportTaskAlreadyExists', `${subject}: export id ${req.exportId} already exports ${task.SourceArn}; a new cycle gets a new id, so retry the sync`);
    }
    const location = exportLocation(task.S3Bucket ?? bucket, task.S3Prefix ?? prefix, req.exportId);
    return { exportId: req.exportId, location, snapshotId: req.snapshot.snapshotId, adopted: true };
  }

  async describeExport(exportId: string): Promise<ExportStatus> {
    const task = await this.task(exportId);
    const state = exportState(task.Status);
    const warnings = parseExportWarning(task.WarningMessage, this.settings.database);
    return {
      exportId,
      state,
      ...(task.PercentProgress !== undefined ? { percentProgress: task.PercentProgress } : {}),
      ...(state === 'failed' ? { failureCause: task.FailureCause?.trim() || 'RDS gave no FailureCause: check the export in the RDS console' } : {}),
      ...(warnings.skippedTables.length > 0 ? { skippedTables: warnings.skippedTables } : {}),
      ...(warnings.warnings.length > 0 ? { warnings: warnings.warnings } : {}),
    };
  }

  /** What the export task reports as skipped or warned about; nothing when RDS no longer knows the task. */
  async exportWarnings(exportId: string): Promise<ExportWarnings> {
    try {
      return parseExportWarning((await this.task(exportId)).WarningMessage, this.settings.database);
    } catch (err) {
      if (err instanceof PortError && err.kind === 'not-found') return { skippedTables: [], warnings: [] };
      throw err;
    }
  }

  private async task(exportId: string): Promise<ExportTask> {
    const out = await awsCall({ service: 'RDS', operation: 'DescribeExportTasks', subject: `export ${exportId}` }, () =>
      this.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: exportId })),
    );
    const task = out.ExportTasks?.find((t) => t.ExportTaskIdentifier === exportId);
    if (!task) throw new PortError('not-found', 'ExportTaskNotFound', `export ${exportId} does not exist: run a new sync`);
    return task;
  }
}

/** RDS writes an export under `<prefix>/<exportId>/`. */
export function exportLocation(bucket: string, prefix: string, exportId: string): string {
  return s3Url(bucket, joinKey(prefix, exportId));
}

function exportHint(err: unknown, role: string, kmsKey: string, bucket: string): { hint?: string } {
  if (hasAwsCode(err, 'IamRoleNotFound', 'IamRoleMissingPermissions', 'InvalidS3BucketFault')) {
    return { hint: `the export role ${role} must exist, trust export.rds.amazonaws.com and may write to bucket ${bucket} (docs/aws-setup.md)` };
  }
  if (hasAwsCode(err, 'KMSKeyNotAccessible')) {
    return { hint: `the worker and the export role ${role} need kms:CreateGrant, kms:DescribeKey (and the role kms:GenerateDataKey) on ${kmsKey} (docs/aws-setup.md, key policy)` };
  }
  return {};
}

/** DescribeExportTasks reports the status in upper or lower case depending on the API version. */
function exportState(status: string | undefined): ExportState {
  const s = (status ?? '').toLowerCase();
  if (s === 'complete' || s === 'completed') return 'complete';
  if (s === 'starting' || s === 'canceling' || s === 'canceled' || s === 'failed') return s;
  return 'in_progress';
}

/**
 * RDS puts a JSON document in WarningMessage when an export completes with warnings,
 * e.g. `{"skippedTables": [...], ...}`; older exports give plain text. Skipped tables become
 * table outcomes, everything else a warning.
 */
export interface ExportWarnings {
  skippedTables: { table: TableName; reason: string }[];
  warnings: string[];
}

export function parseExportWarning(message: string | undefined, database: string): ExportWarnings {
  const text = message?.trim();
  if (!text) return { skippedTables: [], warnings: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { skippedTables: [], warnings: [text] };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { skippedTables: [], warnings: [text] };
  const skippedTables: { table: TableName; reason: string }[] = [];
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'skippedTables' && Array.isArray(value)) {
      for (const entry of value) skippedTables.push(skippedEntry(entry, database));
    } else if (value !== null && value !== undefined && value !== '') {
      warnings.push(`${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return { skippedTables, warnings };
}

function skippedEntry(entry: unknown, database: string): { table: TableName; reason: string } {
  if (typeof entry === 'string') return { table: tableOfTarget(entry, database), reason: 'skipped by the RDS export' };
  const e = (entry ?? {}) as Record<string, unknown>;
  const target = String(e.target ?? e.table ?? e.tableName ?? e.name ?? 'unknown');
  const reason = String(e.reason ?? e.warningMessage ?? e.message ?? 'skipped by the RDS export');
  return { table: tableOfTarget(target, database), reason };
}

/** `db.schema.table` -> `schema.table`; names without the database stay as they are. */
export function tableOfTarget(target: string, database: string): TableName {
  const parts = target.split('.');
  if (parts.length >= 3 && parts[0] === database) return parts.slice(1).join('.');
  return parts.length >= 3 ? parts.slice(-2).join('.') : target;
}
