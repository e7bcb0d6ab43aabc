/**
 * DynamoDB point-in-time exports to S3 (ExportTableToPointInTime, DescribeExport), one table and
 * window each, in DYNAMODB_JSON. lakesync's export id is the ClientToken, so a retry of the same
 * request gets back the export it started; nothing here waits: the workflow polls with timers.
 */
import { posix } from 'node:path';
import {
  DescribeContinuousBackupsCommand,
  DescribeExportCommand,
  type DynamoDBClient,
  type ExportDescription,
  ExportTableToPointInTimeCommand,
  type ExportTableToPointInTimeInput,
  ListExportsCommand,
} from '@aws-sdk/client-dynamodb';
import { PortError } from '../errors';
import type { TableExportRef, TableExportStatus, TableExportWindow } from '../model';
import type { TableExportPort, TableExportRequest } from '../ports';
import { awsCall, hasAwsCode, toPortError } from './errors';
import { joinKey, parseS3Url, type S3Objects, s3Url } from './s3';
import { DYNAMODB_EXPORT_ID } from '../ids';

/** Where and how a DynamoDB source's exports are written (`source.export` of lakesync.yaml). */
export interface DynamoExportSettings {
  source: string;
  bucket: string;
  /** Without leading or trailing slashes; may be empty. */
  prefix: string;
  /** SSE-KMS with this key when set, else SSE-S3. */
  kmsKeyId?: string;
  /** The account that owns the bucket (S3BucketOwner), when it is not the tables' own account. */
  bucketOwner?: string;
}

/** DynamoDB's incremental exports cover at least 15 minutes and at most 24 hours. */
export const DYNAMODB_WINDOW_LIMITS = { minSeconds: 15 * 60, maxSeconds: 24 * 60 * 60 } as const;

/**
 * How far after this worker's clock an export's time may be. The cycle fixes its export time from
 * the Temporal server's clock (the workflow's start), not from the worker's: hosts synced by NTP
 * differ by well under a second, and a minute also covers a drifting VM or container clock, while a
 * time further ahead is a bug upstream (a wrong time zone, a bad argument) that must not reach
 * DynamoDB. A time that DynamoDB's own point-in-time recovery does not reach yet (its
 * LatestRestorableDateTime, typically 5 minutes before now) is refused by DynamoDB with
 * InvalidExportTimeException, and that start is retried until it does (outsideWindow).
 */
export const CLOCK_SKEW_TOLERANCE_MS = 60_000;

/** How many exports of a table an adoption after ExportConflictException looks at, at most. */
const ADOPTION_SCAN_LIMIT = 200;

/** A retried call whose export DynamoDB reports as started this long before the call is the earlier attempt's. */
const ADOPTED_AFTER_MS = 5_000;

export class DynamoTableExports implements TableExportPort {
  readonly windowLimits = DYNAMODB_WINDOW_LIMITS;

  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly objects: S3Objects,
    private readonly settings: DynamoExportSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** `<prefix>/<source>/<exportId>`: DynamoDB writes the export under `<S3Prefix>/AWSDynamoDB/<its id>/`. */
  s3Prefix(exportId: string): string {
    return joinKey(this.settings.prefix, this.settings.source, exportId);
  }

  async startTableExport(req: TableExportRequest): Promise<TableExportRef> {
    const subject = `export ${req.exportId} of table ${req.table} (${describeWindow(req.window)})`;
    const input = this.exportInput(req, subject);
    const calledAt = this.now().getTime();
    let conflict: unknown;
    try {
      const out = await this.ddb.send(new ExportTableToPointInTimeCommand(input));
      const description = out.ExportDescription;
      if (!description?.ExportArn) throw new PortError('failed', 'ExportArnMissing', `DynamoDB ExportTableToPointInTime for ${subject} answered without an ExportArn: retry the sync`);
      // The same ClientToken within 8 hours answers the export already started.
      const adopted = description.StartTime !== undefined && description.StartTime.getTime() < calledAt - ADOPTED_AFTER_MS;
      return { exportId: req.exportId, exportArn: description.ExportArn, table: req.table, window: req.window, adopted };
    } catch (err) {
      if (hasAwsCode(err, 'InvalidExportTimeException')) throw await this.outsideWindow(err, req, subject);
      if (err instanceof PortError || !hasAwsCode(err, 'ExportConflictException')) {
        throw toPortError(err, { service: 'DynamoDB', operation: 'ExportTableToPointInTime', subject, ...this.startHint(err, req) });
      }
      conflict = err;
    }
    // Something already writes to our prefix: our own export when an earlier attempt started it.
    const existing = await this.findExport(req.tableArn, req.exportId, input.S3Prefix!, subject);
    if (!existing?.ExportArn) {
      throw toPortError(conflict, {
        service: 'DynamoDB',
        operation: 'ExportTableToPointInTime',
        subject,
        hint: `another export writes to ${s3Url(this.settings.bucket, input.S3Prefix!)} and none of table ${req.table}'s exports carries the client token ${req.exportId}: keep that prefix for lakesync, then retry the sync`,
      });
    }
    return { exportId: req.exportId, exportArn: existing.ExportArn, table: req.table, window: req.window, adopted: true };
  }

  async describeTableExport(ref: TableExportRef): Promise<TableExportStatus> {
    const subject = `export ${ref.exportId} of table ${ref.table}`;
    const description = await this.describe(ref.exportArn, subject);
    const status = description.ExportStatus;
    if (status === 'FAILED') {
      const cause = [description.FailureCode, description.FailureMessage].filter((s) => s?.trim()).join(': ');
      return { state: 'failed', failureCause: cause || `DynamoDB gave no failure cause: check export ${ref.exportArn} in the DynamoDB console` };
    }
    if (status !== 'COMPLETED') return { state: 'in_progress' };
    const location = await this.location(description, ref.exportId, subject);
    // ItemCount is optional in DescribeExport: without it the count is the export's manifest's, else
    // unknown (a 0 would have verification hold the lake table to no items).
    const itemCount = description.ItemCount ?? (await this.manifestItemCount(location, subject));
    return {
      state: 'complete',
      location,
      ...(itemCount !== undefined ? { itemCount } : {}),
      ...(description.BilledSizeBytes !== undefined ? { billedBytes: description.BilledSizeBytes } : {}),
    };
  }

  /** The request, checked before any call: id, window within DynamoDB's limits, times not after this worker's clock (give or take CLOCK_SKEW_TOLERANCE_MS). */
  private exportInput(req: TableExportRequest, subject: string): ExportTableToPointInTimeInput {
    if (!DYNAMODB_EXPORT_ID.test(req.exportId)) {
      throw new PortError('validation', 'InvalidExportId', `${subject}: the export id must be 1-36 lowercase letters, digits and hyphens (it is the ClientToken); a new cycle derives a valid one`);
    }
    const { from, to } = checkWindow(req.window, this.now(), subject);
    const { bucket, kmsKeyId, bucketOwner } = this.settings;
    return {
      TableArn: req.tableArn,
      ClientToken: req.exportId,
      S3Bucket: bucket,
      // DynamoDB requires the owner's account id when the bucket is another account's.
      ...(bucketOwner ? { S3BucketOwner: bucketOwner } : {}),
      S3Prefix: this.s3Prefix(req.exportId),
      ...(kmsKeyId ? { S3SseAlgorithm: 'KMS' as const, S3SseKmsKeyId: kmsKeyId } : { S3SseAlgorithm: 'AES256' as const }),
      ExportFormat: 'DYNAMODB_JSON',
      ...(req.window.type === 'FULL'
        ? { ExportType: 'FULL_EXPORT' as const, ExportTime: to }
        : { ExportType: 'INCREMENTAL_EXPORT' as const, IncrementalExportSpecification: { ExportFromTime: from, ExportToTime: to, ExportViewType: 'NEW_AND_OLD_IMAGES' as const } }),
    };
  }

  private startHint(err: unknown, req: TableExportRequest): { hint?: string } {
    const name = tableNameOf(req.tableArn);
    if (hasAwsCode(err, 'PointInTimeRecoveryUnavailableException')) {
      return { hint: `point-in-time recovery is off for table ${name}: aws dynamodb update-continuous-backups --table-name ${name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true` };
    }
    if (hasAwsCode(err, 'AccessDeniedException')) {
      const kms = this.settings.kmsKeyId ? ` and kms:GenerateDataKey, kms:Decrypt on ${this.settings.kmsKeyId}` : '';
      return { hint: `the worker needs dynamodb:ExportTableToPointInTime on ${req.tableArn}, s3:PutObject, s3:AbortMultipartUpload, s3:PutObjectAcl on ${s3Url(this.settings.bucket, `${this.s3Prefix(req.exportId)}/*`)}${kms} (docs/aws-setup.md, DynamoDB sources)` };
    }
    return {};
  }

  /**
   * InvalidExportTimeException: a time outside the table's point-in-time recovery window, which
   * runs from EarliestRestorableDateTime to LatestRestorableDateTime (typically 5 minutes before
   * now). A window that does not reach the export's end yet will within minutes: the export is
   * retried. One that no longer reaches back to its start cannot be exported incrementally: the
   * table fails, and the next cycle plans a FULL export (it reads the window first).
   */
  private async outsideWindow(err: unknown, req: TableExportRequest, subject: string): Promise<PortError> {
    const name = tableNameOf(req.tableArn);
    const context = { service: 'DynamoDB' as const, operation: 'ExportTableToPointInTime', subject };
    let window: { earliest?: Date; latest?: Date } | undefined;
    try {
      const out = await this.ddb.send(new DescribeContinuousBackupsCommand({ TableName: name }));
      const pitr = out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
      window = { ...(pitr?.EarliestRestorableDateTime ? { earliest: pitr.EarliestRestorableDateTime } : {}), ...(pitr?.LatestRestorableDateTime ? { latest: pitr.LatestRestorableDateTime } : {}) };
    } catch {
      // The window stays unknown: the error says where to read it.
    }
    const shown = window && (window.earliest || window.latest) ? ` (${window.earliest?.toISOString() ?? '?'} to ${window.latest?.toISOString() ?? '?'})` : '';
    const to = Date.parse(req.window.to);
    const from = req.window.type === 'INCREMENTAL' && req.window.from ? Date.parse(req.window.from) : to;
    if (window?.latest && to > window.latest.getTime() && !(window.earliest && from < window.earliest.getTime())) {
      const error = toPortError(err, { ...context, hint: `point-in-time recovery of table ${name} reaches ${window.latest.toISOString()} only, before the export's end ${req.window.to}; the export is retried once it reaches it` });
      return new PortError('throttled', error.code, error.message, { cause: err });
    }
    if (window?.earliest && from < window.earliest.getTime()) {
      // The earliest restorable time moved on since the plan read it (or recovery was turned off and on).
      const start = req.window.type === 'INCREMENTAL' ? `the window starts at ${req.window.from}` : `the export time is ${req.window.to}`;
      return toPortError(err, {
        ...context,
        hint:
          `${start}, before the earliest restorable time ${window.earliest.toISOString()} of table ${name}'s point-in-time recovery window${shown}, which moved on since the plan ` +
          `(aws dynamodb describe-continuous-backups --table-name ${name}): nothing was exported; the table keeps its watermark, and the next cycle plans a FULL export`,
      });
    }
    return toPortError(err, {
      ...context,
      hint: `the export's times are outside table ${name}'s point-in-time recovery window${shown} (aws dynamodb describe-continuous-backups --table-name ${name}): the next cycle plans a FULL export`,
    });
  }

  private describe(exportArn: string, subject: string): Promise<ExportDescription> {
    return awsCall({ service: 'DynamoDB', operation: 'DescribeExport', subject }, async () => {
      const out = await this.ddb.send(new DescribeExportCommand({ ExportArn: exportArn }));
      if (!out.ExportDescription) throw new PortError('not-found', 'ExportNotFoundException', `DynamoDB DescribeExport for ${subject} answered no description of ${exportArn}: run a new sync`);
      return out.ExportDescription;
    });
  }

  /**
   * The table's export with our client token or prefix, IN_PROGRESS ones first; undefined when none.
   * ListExports answers the exports of the last 90 days in reverse order of ExportArn (newest first).
   */
  private async findExport(tableArn: string, exportId: string, prefix: string, subject: string): Promise<ExportDescription | undefined> {
    const summaries: { arn: string; status?: string }[] = [];
    let token: string | undefined;
    do {
      const page = await awsCall({ service: 'DynamoDB', operation: 'ListExports', subject: `exports of ${tableArn}` }, () =>
        this.ddb.send(new ListExportsCommand({ TableArn: tableArn, MaxResults: 25, ...(token ? { NextToken: token } : {}) })),
      );
      for (const s of page.ExportSummaries ?? []) if (s.ExportArn) summaries.push({ arn: s.ExportArn, ...(s.ExportStatus ? { status: s.ExportStatus } : {}) });
      token = page.NextToken;
    } while (token && summaries.length < ADOPTION_SCAN_LIMIT);
    const ordered = [...summaries.filter((s) => s.status === 'IN_PROGRESS'), ...summaries.filter((s) => s.status !== 'IN_PROGRESS')].slice(0, ADOPTION_SCAN_LIMIT);
    for (const summary of ordered) {
      const description = await this.describe(summary.arn, subject);
      if (description.ClientToken === exportId || description.S3Prefix === prefix) return description;
    }
    return undefined;
  }

  /**
   * The folder of manifest-summary.json: the directory of ExportManifest. The data files are not
   * all in it: an INCREMENTAL export writes them to `<S3Prefix>/AWSDynamoDB/data/`, shared by the
   * exports to that prefix, and manifest-files.json names each by its key (the Glue job reads them
   * so). Without ExportManifest, the one folder under `<S3Prefix>/AWSDynamoDB/` with a
   * manifest-summary.json, else (emulators write no manifests) the one folder whose data/ holds files.
   */
  /** The `itemCount` of the export's manifest-summary.json, in its location; undefined when it has none. */
  private async manifestItemCount(location: string, subject: string): Promise<number | undefined> {
    const summary = await this.objects.getJson<{ itemCount?: unknown }>(parseS3Url(`${location}/manifest-summary.json`), `the manifest summary of ${subject}`);
    const count = summary?.itemCount;
    return typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : undefined;
  }

  private async location(description: ExportDescription, exportId: string, subject: string): Promise<string> {
    const bucket = description.S3Bucket ?? this.settings.bucket;
    const prefix = description.S3Prefix ?? this.s3Prefix(exportId);
    if (description.ExportManifest) {
      // The manifest is named from the bucket's root; a name without the prefix is relative to it.
      const manifest = prefix && !description.ExportManifest.startsWith(`${prefix}/`) ? joinKey(prefix, description.ExportManifest) : description.ExportManifest;
      return s3Url(bucket, posix.dirname(manifest));
    }
    const root = `${joinKey(prefix, 'AWSDynamoDB')}/`;
    const keys = await this.objects.listKeys(bucket, root, subject);
    const foldersOf = (pattern: RegExp) => [...new Set(keys.map((k) => pattern.exec(k.key)?.[1]).filter((f): f is string => f !== undefined))];
    const manifests = foldersOf(/^(.*)\/manifest-summary\.json$/);
    // Without manifests the job reads <location>/data/ whole: `<root>data/` (an INCREMENTAL export's) gives the location `<root>`.
    const folders = manifests.length > 0 ? manifests : foldersOf(/^(.*)\/data\/[^/]+$/);
    if (folders.length !== 1) {
      const what = manifests.length > 0 ? 'manifests' : 'data files';
      const found = folders.length === 0 ? 'no data file' : `${what} of ${folders.length} exports (${folders.join(', ')})`;
      throw new PortError('not-found', 'ExportFilesMissing', `${subject} is complete but DynamoDB gave no ExportManifest and ${s3Url(bucket, root)} holds ${found}: check the export bucket's lifecycle rules, then run the sync again`);
    }
    return s3Url(bucket, folders[0]!);
  }
}

/**
 * The window's times; a window outside DynamoDB's limits (ExportFromTime to ExportToTime: 15 minutes
 * to 24 hours), or ending more than CLOCK_SKEW_TOLERANCE_MS after this worker's clock, is refused.
 */
function checkWindow(window: TableExportWindow, now: Date, subject: string): { from?: Date; to: Date } {
  const refuse = (why: string) => new PortError('validation', 'ExportWindowOutOfRange', `${subject}: ${why}; nothing was exported`);
  const to = parseTime(window.to);
  if (!to) throw refuse(`"${window.to}" is not an ISO-8601 time`);
  const aheadMs = to.getTime() - now.getTime();
  if (aheadMs > CLOCK_SKEW_TOLERANCE_MS) {
    throw refuse(
      `the export time ${window.to} is ${Math.ceil(aheadMs / 1000)} s after this worker's clock (${now.toISOString()}), more than the ${CLOCK_SKEW_TOLERANCE_MS / 1000} s of clock skew tolerated ` +
        "(DynamoDB exports only past times): check the worker's and the Temporal server's clocks",
    );
  }
  if (window.type === 'FULL') return { to };
  const from = window.from !== undefined ? parseTime(window.from) : undefined;
  if (!from) throw refuse(`an INCREMENTAL export needs a from time, got "${window.from ?? ''}"`);
  const seconds = (to.getTime() - from.getTime()) / 1000;
  const { minSeconds, maxSeconds } = DYNAMODB_WINDOW_LIMITS;
  if (seconds < minSeconds || seconds > maxSeconds) {
    throw refuse(`the window covers ${seconds} s; DynamoDB's incremental exports cover ${minSeconds} to ${maxSeconds} s (15 minutes to 24 hours)`);
  }
  return { from, to };
}

function parseTime(text: string): Date | undefined {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function describeWindow(window: TableExportWindow): string {
  return window.type === 'FULL' ? `FULL at ${window.to}` : `INCREMENTAL ${window.from ?? '?'}..${window.to}`;
}

/** `arn:aws:dynamodb:<region>:<account>:table/<Name>` -> `<Name>`. */
export function tableNameOf(tableArn: string): string {
  return /:table\/([^/]+)/.exec(tableArn)?.[1] ?? tableArn;
}
