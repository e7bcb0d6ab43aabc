/**
 * The Glue job definition lakesync runs: scripts uploaded to S3 under their content hash,
 * Glue 5.0 with Iceberg, workers and concurrency from the config, and the Glue connection of the
 * source's VPC when the source has direct tables. Created when missing, updated when the hash of
 * that definition changed (new scripts or settings) or a setting it manages was changed by hand
 * (MaxConcurrentRuns, workers, worker type, timeout), left alone otherwise.
 */
import { createHash } from 'node:crypto';
import { CreateJobCommand, GetJobCommand, type GlueClient, type Job, UpdateJobCommand, type WorkerType } from '@aws-sdk/client-glue';
import { awsCall, hasAwsCode, toPortError } from './errors';
import { ENTRY_SCRIPT, type GlueScripts, LIBRARY_ZIP } from './glue-package';
import { joinKey, type S3Objects, s3Url } from './s3';
import type { AwsSettings } from './settings';

export const GLUE_VERSION = '5.0';

export interface GlueJobSpec {
  Role: string;
  Command: { Name: 'glueetl'; ScriptLocation: string; PythonVersion: '3' };
  GlueVersion: string;
  WorkerType: WorkerType;
  NumberOfWorkers: number;
  Timeout: number;
  MaxRetries: number;
  ExecutionProperty: { MaxConcurrentRuns: number };
  JobRunQueuingEnabled: boolean;
  DefaultArguments: Record<string, string>;
  /** The Glue connection of the source's VPC, when the source has direct tables: every run of the job runs in its subnet. */
  Connections?: { Connections: string[] };
}

export type GlueSettings = Pick<AwsSettings, 'glue'> & Partial<Pick<AwsSettings, 'direct' | 'source'>>;

/** Where a scripts version lives: `s3://<scriptBucket>/<scriptPrefix>/<hash>/`. */
export function scriptLocations(settings: GlueSettings, hash: string): { entry: string; library: string; entryKey: string; libraryKey: string } {
  const entryKey = joinKey(settings.glue.scriptPrefix, hash, ENTRY_SCRIPT);
  const libraryKey = joinKey(settings.glue.scriptPrefix, hash, LIBRARY_ZIP);
  return { entry: s3Url(settings.glue.scriptBucket, entryKey), library: s3Url(settings.glue.scriptBucket, libraryKey), entryKey, libraryKey };
}

export function jobSpec(settings: GlueSettings, scriptsHash: string): GlueJobSpec {
  const { glue } = settings;
  const where = scriptLocations(settings, scriptsHash);
  return {
    Role: glue.roleArn,
    Command: { Name: 'glueetl', ScriptLocation: where.entry, PythonVersion: '3' },
    GlueVersion: GLUE_VERSION,
    WorkerType: glue.workerType as WorkerType,
    NumberOfWorkers: glue.numberOfWorkers,
    Timeout: glue.timeoutMinutes,
    // Retries belong to the workflow, which re-attaches instead of starting a second run.
    MaxRetries: 0,
    ExecutionProperty: { MaxConcurrentRuns: glue.maxConcurrentRuns },
    JobRunQueuingEnabled: glue.jobRunQueuing,
    DefaultArguments: {
      '--datalake-formats': 'iceberg',
      '--extra-py-files': where.library,
      '--enable-glue-datacatalog': 'true',
      '--job-language': 'python',
      '--lakesync_scripts_hash': scriptsHash,
    },
    // Absent otherwise: UpdateJob replaces the whole definition, so dropping direct tables takes the job out of the VPC again.
    ...(settings.direct ? { Connections: { Connections: [settings.direct.glueConnection] } } : {}),
  };
}

/** The argument that records which spec a job was last written from. */
export const SPEC_HASH_ARGUMENT = '--lakesync_job_hash';
/**
 * The argument that records which source's worker last wrote the job (outside the spec hash:
 * sources with the same settings share a job without rewriting it).
 */
export const JOB_SOURCE_ARGUMENT = '--lakesync_job_source';

/**
 * A hash over the whole spec (scripts hash included). Comparing it, rather than each field,
 * keeps the check exact for fields Glue may omit from GetJob.
 */
export function specHash(spec: GlueJobSpec): string {
  const canonical = JSON.stringify(spec, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : value,
  );
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** The spec with its own hash recorded in the default arguments, as it is written to Glue. */
export function withSpecHash(spec: GlueJobSpec): GlueJobSpec {
  return { ...spec, DefaultArguments: { ...spec.DefaultArguments, [SPEC_HASH_ARGUMENT]: specHash(spec) } };
}

export type EnsureOutcome = 'created' | 'updated' | 'unchanged';

export async function uploadScripts(objects: S3Objects, settings: GlueSettings, scripts: GlueScripts): Promise<void> {
  const where = scriptLocations(settings, scripts.hash);
  const bucket = settings.glue.scriptBucket;
  const subject = `Glue scripts ${scripts.hash}`;
  // Keys are content-addressed: an object that is there already has the right bytes.
  if (!(await objects.exists({ bucket, key: where.libraryKey }, subject))) {
    await objects.put({ bucket, key: where.libraryKey }, scripts.libraryZip, 'application/zip', subject);
  }
  if (!(await objects.exists({ bucket, key: where.entryKey }, subject))) {
    await objects.put({ bucket, key: where.entryKey }, scripts.entryScript, 'text/x-python', subject);
  }
}

export async function ensureJobDefinition(glue: GlueClient, settings: GlueSettings, desired: GlueJobSpec, warn: (message: string) => void = (m) => console.warn(m)): Promise<EnsureOutcome> {
  const hashed = withSpecHash(desired);
  const spec = settings.source ? { ...hashed, DefaultArguments: { ...hashed.DefaultArguments, [JOB_SOURCE_ARGUMENT]: settings.source } } : hashed;
  const jobName = settings.glue.jobName;
  const subject = `Glue job ${jobName}`;
  let existing: Job | undefined;
  try {
    existing = (await glue.send(new GetJobCommand({ JobName: jobName }))).Job;
  } catch (err) {
    if (!hasAwsCode(err, 'EntityNotFoundException')) throw toPortError(err, { service: 'Glue', operation: 'GetJob', subject });
  }
  if (!existing) {
    try {
      await glue.send(new CreateJobCommand({ Name: jobName, Description: 'lakesync: loads one exported table into the lake per run', ...spec, Tags: { lakesync: 'load' } }));
      return 'created';
    } catch (err) {
      // Another worker created it at the same moment: fall through to the update check.
      if (!hasAwsCode(err, 'AlreadyExistsException', 'IdempotentParameterMismatchException')) {
        throw toPortError(err, { service: 'Glue', operation: 'CreateJob', subject, ...roleHint(err, settings) });
      }
      existing = await awsCall({ service: 'Glue', operation: 'GetJob', subject }, async () => (await glue.send(new GetJobCommand({ JobName: jobName }))).Job);
      if (!existing) return 'created';
    }
  }
  if (existing.DefaultArguments?.[SPEC_HASH_ARGUMENT] === spec.DefaultArguments[SPEC_HASH_ARGUMENT] && changedByHand(existing, spec).length === 0) return 'unchanged';
  const writer = existing.DefaultArguments?.[JOB_SOURCE_ARGUMENT];
  if (settings.source && writer && writer !== settings.source && !sameSettings(existing, settings)) {
    // One config refuses this (src/config/load.ts); two configs, or two deployments, cannot see each other.
    warn(
      `Glue job ${jobName} was last written for source ${writer} with other settings, and is now rewritten for source ${settings.source}: ` +
        `each rewrites it for itself and runs the other's loads with its settings; give each source its own aws.glue.jobName (the default), or the same aws.glue settings`,
    );
  }
  try {
    const JobUpdate = { ...unmanagedSettings(existing), ...spec, DefaultArguments: { ...existing.DefaultArguments, ...spec.DefaultArguments } };
    await glue.send(new UpdateJobCommand({ JobName: jobName, JobUpdate }));
  } catch (err) {
    throw toPortError(err, { service: 'Glue', operation: 'UpdateJob', subject, ...roleHint(err, settings) });
  }
  return 'updated';
}

/** Whether the job was written from these settings, whatever its scripts (an upgrade of the same settings). */
function sameSettings(existing: Job, settings: GlueSettings): boolean {
  const scripts = existing.DefaultArguments?.['--lakesync_scripts_hash'];
  return scripts !== undefined && existing.DefaultArguments?.[SPEC_HASH_ARGUMENT] === specHash(jobSpec(settings, scripts));
}

/**
 * The managed settings the job no longer has as its spec hash says: changed by hand (the console,
 * UpdateJob) after lakesync wrote it, e.g. MaxConcurrentRuns lowered, which would refuse runs the
 * config allows until the scripts change. Only settings GetJob reports are compared: one Glue
 * leaves out is not a change.
 */
function changedByHand(existing: Job, spec: GlueJobSpec): string[] {
  const pairs: [string, unknown, unknown][] = [
    ['MaxConcurrentRuns', existing.ExecutionProperty?.MaxConcurrentRuns, spec.ExecutionProperty.MaxConcurrentRuns],
    ['NumberOfWorkers', existing.NumberOfWorkers, spec.NumberOfWorkers],
    ['WorkerType', existing.WorkerType, spec.WorkerType],
    ['Timeout', existing.Timeout, spec.Timeout],
  ];
  return pairs.filter(([, has, wanted]) => has !== undefined && has !== wanted).map(([name]) => name);
}

/**
 * The job's settings lakesync does not manage, as the job has them. UpdateJob resets whatever it
 * is not given, so an update that left them out would drop, say, the security configuration that
 * encrypts the job's logs and bookmarks.
 */
function unmanagedSettings(existing: Job): Partial<Pick<Job, (typeof UNMANAGED_SETTINGS)[number]>> {
  return Object.fromEntries(UNMANAGED_SETTINGS.filter((name) => existing[name] !== undefined).map((name) => [name, existing[name]]));
}

const UNMANAGED_SETTINGS = ['Description', 'LogUri', 'SecurityConfiguration', 'NotificationProperty', 'NonOverridableArguments', 'MaintenanceWindow', 'SourceControlDetails'] as const;

function roleHint(err: unknown, settings: GlueSettings): { hint?: string } {
  const connection = settings.direct?.glueConnection;
  if (connection && (hasAwsCode(err, 'EntityNotFoundException') || /connection/i.test((err as Error | undefined)?.message ?? ''))) {
    return { hint: `the job runs in Glue connection ${connection} (source.catalog.glueConnection): check that it exists in this region; lakesync doctor checks it (docs/aws-setup.md, "Direct loads")` };
  }
  if (!hasAwsCode(err, 'AccessDeniedException', 'InvalidInputException')) return {};
  return { hint: `the worker needs glue:CreateJob/UpdateJob and iam:PassRole on ${settings.glue.roleArn} (docs/aws-setup.md)` };
}
