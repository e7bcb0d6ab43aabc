/**
 * RDS exports of a snapshot to S3. The export id comes from the workflow, so a retry finds the
 * export it started and adopts it. Nothing here waits: the workflow polls describeExport with timers.
 */
import { CancelExportTaskCommand, DescribeExportTasksCommand, type ExportTask, type RDSClient, StartExportTaskCommand } from '@aws-sdk/client-rds';
import { PortError } from '../errors';
import type { ExportRef, ExportState, ExportStatus } from '../model';
import { isExportOnlyName } from '../export-scope';
import { isSchemaTable } from '../names';
import type { ExportPort, ExportRequest } from '../ports';
import { awsErrorCode, hasAwsCode, toPortError } from './errors';
import { type ExportWarnings, parseExportWarning } from './export-warnings';
import type { RdsSnapshots } from './rds-snapshots';
import { joinKey, s3Url } from './s3';
import type { AwsSettings } from './settings';

export class RdsExports implements ExportPort {
  constructor(
    private readonly rds: RDSClient,
    private readonly snapshots: RdsSnapshots,
    private readonly settings: Pick<AwsSettings, 'export' | 'database'>,
  ) {}

  async startExport(req: ExportRequest): Promise<ExportRef> {
    const subject = `export ${req.exportId} of snapshot ${req.snapshot.snapshotId}`;
    const only = exportOnly(this.settings.database, req);
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
          ...only,
        }),
      );
      return { exportId: req.exportId, location: exportLocation(bucket, prefix, req.exportId), snapshotId: req.snapshot.snapshotId, adopted: false };
    } catch (err) {
      // RDS exports one snapshot once at a time: a refusal while another export of it runs ends by itself.
      if (hasAwsCode(err, 'InvalidExportSourceState')) {
        const busy = await this.runningExportOf(sourceArn, req.exportId);
        if (busy) throw snapshotBusy(subject, busy, req.snapshot.snapshotId, err);
      }
      if (!hasAwsCode(err, 'ExportTaskAlreadyExists')) {
        const failure = toPortError(err, { service: 'RDS', operation: 'StartExportTask', subject, ...exportHint(err, iamRoleArn, kmsKeyId, bucket, req.snapshot.snapshotId, only.ExportOnly, sourceArn) });
        // RDS's refusal at its limit of running exports is not in its model: a refusal it does not
        // explain while the limit is reached is taken for it, and waited out.
        if (!hasAwsCode(err, ...START_EXPORT_ERRORS) && ['validation', 'failed'].includes(failure.kind)) {
          const running = await this.runningExportCount();
          if (running !== undefined && running >= EXPORTS_AT_ONCE) throw exportLimitReached(subject, err, running);
        }
        throw failure;
      }
    }
    // Started by an earlier attempt: adopt it, unless the id was used for another snapshot.
    const task = await this.findTask(req.exportId);
    if (!task) {
      // No task has our id: RDS refused because another export of the snapshot runs, or does not list ours yet.
      const busy = await this.runningExportOf(sourceArn, req.exportId);
      if (busy) throw snapshotBusy(subject, busy, req.snapshot.snapshotId);
      throw new PortError(
        'transient',
        'ExportTaskAlreadyExists',
        `${subject}: RDS answered ExportTaskAlreadyExists but lists no export ${req.exportId} and no other running export of the snapshot; lakesync retries the start (RDS may not list a just-started export yet)`,
      );
    }
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
      ...(state === 'failed'
        ? { failureCause: `${task.FailureCause?.trim() || 'RDS gave no FailureCause: check the export in the RDS console'}; fix that, then run a new sync (RDS does not resume a failed export)` }
        : {}),
      ...(state === 'canceled' || state === 'canceling'
        ? { failureCause: 'the export task was cancelled (a cancelled sync cancels its export; otherwise someone called CancelExportTask or cancelled it in the RDS console): run a new sync to export again' }
        : {}),
      ...(warnings.skippedTables.length > 0 ? { skippedTables: warnings.skippedTables } : {}),
      ...(warnings.warnings.length > 0 ? { warnings: warnings.warnings } : {}),
      ...(task.SnapshotTime ? { snapshotTime: new Date(task.SnapshotTime).toISOString() } : {}),
    };
  }

  /**
   * CancelExportTask. RDS refuses it for a task that has ended (InvalidExportTaskStateFault) and
   * for an unknown one (ExportTaskNotFound): either way nothing runs any more, so both are success.
   */
  async cancelExport(exportId: string): Promise<void> {
    try {
      await this.rds.send(new CancelExportTaskCommand({ ExportTaskIdentifier: exportId }));
    } catch (err) {
      if (hasAwsCode(err, 'InvalidExportTaskStateFault', 'ExportTaskNotFound')) return;
      throw toPortError(err, { service: 'RDS', operation: 'CancelExportTask', subject: `export ${exportId}` });
    }
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
    const task = await this.findTask(exportId);
    if (!task) throw new PortError('not-found', 'ExportTaskNotFound', `export ${exportId} does not exist: run a new sync`);
    return task;
  }

  private async findTask(exportId: string): Promise<ExportTask | undefined> {
    try {
      const out = await this.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: exportId }));
      return out.ExportTasks?.find((t) => t.ExportTaskIdentifier === exportId);
    } catch (err) {
      if (hasAwsCode(err, 'ExportTaskNotFound')) return undefined;
      throw toPortError(err, { service: 'RDS', operation: 'DescribeExportTasks', subject: `export ${exportId}` });
    }
  }

  /** How many exports of the account (in this region) are starting or running; undefined when RDS cannot tell. */
  private async runningExportCount(): Promise<number | undefined> {
    try {
      let count = 0;
      for await (const _ of this.tasksIn(['starting', 'in_progress'])) count++;
      return count;
    } catch {
      return undefined;
    }
  }

  /**
   * Another export of the snapshot that is starting, running or being cancelled (RDS runs one at a
   * time per snapshot); undefined when none, or when RDS cannot tell (the caller's own error then stands).
   */
  private async runningExportOf(sourceArn: string, exportId: string): Promise<ExportTask | undefined> {
    try {
      for await (const task of this.tasksIn(['starting', 'in_progress', 'canceling'], sourceArn)) {
        if (task.ExportTaskIdentifier !== exportId && task.SourceArn === sourceArn) return task;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }

  /** The export tasks in one of `statuses` (of one snapshot when `sourceArn` is given), across pages. */
  private async *tasksIn(statuses: string[], sourceArn?: string): AsyncGenerator<ExportTask> {
    let marker: string | undefined;
    do {
      const out = await this.rds.send(
        new DescribeExportTasksCommand({ ...(sourceArn ? { SourceArn: sourceArn } : {}), Filters: [{ Name: 'status', Values: statuses }], ...(marker ? { Marker: marker } : {}) }),
      );
      // Checked here too: an emulator may ignore the filters.
      yield* (out.ExportTasks ?? []).filter((t) => statuses.includes((t.Status ?? '').toLowerCase()));
      marker = out.Marker;
    } while (marker);
  }
}

/**
 * StartExportTask's `ExportOnly` (@aws-sdk/client-rds StartExportTaskMessage): for RDS for
 * PostgreSQL and Aurora PostgreSQL it takes `database` (a whole database), `database.schema`
 * (a whole schema) and `database.schema.table` (one table); `database.table` is the MySQL form.
 * Absent, RDS exports every database of the snapshot: a request naming neither tables nor schemas
 * (the whole source database) names the database, so the instance's other databases stay in it.
 * Only a database name RDS takes in no partial export leaves it out (export-scope.ts warns).
 */
function exportOnly(database: string, req: ExportRequest): { ExportOnly?: string[] } {
  // `database.<name>` names a whole schema: a table must be written schema.table.
  const bare = (req.tables ?? []).find((t) => !isSchemaTable(t));
  if (bare !== undefined) {
    throw new PortError(
      'validation',
      'InvalidExportTable',
      `export ${req.exportId}: ${JSON.stringify(bare)} is no schema.table name: as ExportOnly ${database}.${bare} RDS would export the whole schema ${bare}; name each table as schema.table`,
    );
  }
  const values = [...(req.schemas ?? []).map((s) => `${database}.${s}`), ...(req.tables ?? []).map((t) => `${database}.${t}`)];
  if (values.length === 0 && (req.schemas !== undefined || req.tables !== undefined)) {
    // An empty list would read as "no ExportOnly", i.e. everything: refuse instead.
    throw new PortError('validation', 'EmptyExportScope', `export ${req.exportId}: the request names no table and no schema; nothing would be exported but RDS would export the whole snapshot`);
  }
  if (values.length > 0) return { ExportOnly: values };
  return isExportOnlyName(database) ? { ExportOnly: [database] } : {};
}

/** RDS runs up to this many snapshot exports per account at once (RDS User Guide, exporting snapshots to S3). */
const EXPORTS_AT_ONCE = 5;

/** StartExportTask's modelled errors (@aws-sdk/client-rds): each says what it is, none is the limit. */
const START_EXPORT_ERRORS = [
  'DBClusterNotFoundFault',
  'DBClusterSnapshotNotFoundFault',
  'DBSnapshotNotFoundFault',
  'ExportTaskAlreadyExistsFault',
  'IamRoleMissingPermissionsFault',
  'IamRoleNotFoundFault',
  'InvalidExportOnlyFault',
  'InvalidExportSourceStateFault',
  'InvalidS3BucketFault',
  'KMSKeyNotAccessibleFault',
];

/** A refusal RDS did not explain, while the account's exports are at their limit: retried until one ends. */
function exportLimitReached(subject: string, err: unknown, running: number): PortError {
  const said = err instanceof Error ? err.message.trim() || 'no message' : String(err);
  return new PortError(
    'throttled',
    awsErrorCode(err),
    `RDS StartExportTask for ${subject} failed with ${awsErrorCode(err)}: ${said} (${running} exports of the account are starting or running, and RDS runs at most ${EXPORTS_AT_ONCE} at once: ` +
      'lakesync takes this for that limit, waits and retries until one of them ends)',
    { cause: err },
  );
}

/** The refusal to start an export while another export of the same snapshot runs: retried until that one ends. */
function snapshotBusy(subject: string, other: ExportTask, snapshotId: string, cause?: unknown): PortError {
  return new PortError(
    'throttled',
    'SnapshotExportRunning',
    `${subject}: export ${other.ExportTaskIdentifier} of the same snapshot ${snapshotId} is still running (status ${other.Status ?? 'unknown'}), and RDS exports a snapshot only once at a time; ` +
      `lakesync waits and retries until it ends (cancel export ${other.ExportTaskIdentifier} if it is not needed)`,
    cause === undefined ? undefined : { cause },
  );
}

/** RDS writes an export under `<prefix>/<exportId>/`. */
export function exportLocation(bucket: string, prefix: string, exportId: string): string {
  return s3Url(bucket, joinKey(prefix, exportId));
}

function exportHint(err: unknown, role: string, kmsKey: string, bucket: string, snapshotId: string, exportOnlyList?: string[], sourceArn = ''): { hint?: string } {
  const isClusterSnapshot = sourceArn.includes(':cluster-snapshot:');
  // The scope comes from the source's database and include/exclude rules, not from the aws section.
  if (hasAwsCode(err, 'InvalidExportOnly')) {
    const entries = exportOnlyList ?? [];
    const named = entries.length > 0 ? `ExportOnly ${entries.slice(0, 10).join(', ')}${entries.length > 10 ? ` and ${entries.length - 10} more` : ''}` : 'the whole-snapshot export';
    return {
      hint:
        `RDS refused the export's scope (${named}): each entry must name the source's database, or a schema or table of it that exists in the snapshot; ` +
        'check sources.<name>.database, the tables named under tables: and the include rules without wildcards in lakesync.yaml for a table or schema that does not exist (or was misspelt)',
    };
  }
  // Raised for a snapshot that is available (the cycle waits for that): its engine, version or
  // instance kind has no export to S3, which waiting does not change.
  if (hasAwsCode(err, 'InvalidExportSourceState')) {
    return {
      hint:
        `RDS cannot export snapshot ${snapshotId} to S3: ` +
        (isClusterSnapshot
          ? "check that the cluster is provisioned (Aurora Serverless v1 clusters cannot export snapshots to S3) and that the cluster's engine and version support snapshot export to S3 in this region, "
          : "check that the instance's engine and version support snapshot export to S3 (RDS Custom instances do not) in this region, ") +
        'and upgrade the engine if not, or read the tables directly (extract: direct, docs/aws-setup.md section 3a); retrying the same snapshot does not help',
    };
  }
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
