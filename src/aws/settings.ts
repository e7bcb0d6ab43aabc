/**
 * The AWS side of one source's config, resolved once: region, endpoint override, names and
 * locations the adapters share. Bad or missing settings fail here, before any AWS call.
 */
import { join } from 'node:path';
import type { SourceConfig, TableSettings } from '../config/schema';
import { ConfigError } from '../errors';
import { repoRoot } from '../toolchain';

export interface AwsSettings {
  source: string;
  region: string;
  /** Endpoint override for emulators (moto server). */
  endpoint?: string;
  accountId: string;
  /** Partition of the region, for ARNs (aws, aws-cn, aws-us-gov). */
  partition: string;
  database: string;
  rds: { instanceId: string; clusterId?: undefined } | { clusterId: string; instanceId?: undefined };
  export: { bucket: string; prefix: string; iamRoleArn: string; kmsKeyId: string };
  tableBucket: { name: string; create: boolean; arn: string };
  glue: {
    jobName: string;
    roleArn: string;
    scriptBucket: string;
    scriptPrefix: string;
    resultPrefix: string;
    workerType: string;
    numberOfWorkers: number;
    maxConcurrentRuns: number;
    jobRunQueuing: boolean;
    timeoutMinutes: number;
    /** Folder holding glue_entry.py and the lakesync_glue package. */
    scriptsDir: string;
  };
  athena: { workgroup: string; outputLocation: string };
  /** First and longest pause between polls of a Glue run. */
  loadPoll: { initialMs: number; maxMs: number };
  tables: Record<string, TableSettings>;
}

/** Longest pause between GetJobRun calls: 120 s keeps a run near 30 calls per hour. */
export const GLUE_POLL_MAX_MS = 120_000;

export interface AwsSettingsOverrides {
  /** Where the Glue scripts live (default `<repo>/glue`). */
  glueScriptsDir?: string;
}

export function awsSettings(sourceName: string, source: SourceConfig, overrides: AwsSettingsOverrides = {}): AwsSettings {
  const aws = source.aws;
  if (!aws) {
    throw new ConfigError([{ path: `sources.${sourceName}.aws`, message: 'backend aws needs an aws section (region, accountId, export, tableBucket, glue, athena)' }]);
  }
  if (source.source.kind !== 'rds') {
    throw new ConfigError([{ path: `sources.${sourceName}.source.kind`, value: source.source.kind, message: 'backend aws reads from RDS: set source.kind to rds' }]);
  }
  const { instanceId, clusterId } = source.source;
  const rds = clusterId ? { clusterId } : instanceId ? { instanceId } : undefined;
  if (!rds) {
    throw new ConfigError([{ path: `sources.${sourceName}.source`, message: 'give exactly one of instanceId (RDS instance) or clusterId (Aurora cluster)' }]);
  }
  const partition = partitionOf(aws.region);
  const initialMs = Math.min(source.timeouts.pollInitialSeconds * 1000, GLUE_POLL_MAX_MS);
  return {
    source: sourceName,
    region: aws.region,
    ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
    accountId: aws.accountId,
    partition,
    database: source.database,
    rds,
    export: { ...aws.export, prefix: trimSlashes(aws.export.prefix) },
    tableBucket: {
      ...aws.tableBucket,
      arn: `arn:${partition}:s3tables:${aws.region}:${aws.accountId}:bucket/${aws.tableBucket.name}`,
    },
    glue: {
      ...aws.glue,
      scriptPrefix: trimSlashes(aws.glue.scriptPrefix),
      resultPrefix: trimSlashes(aws.glue.resultPrefix),
      scriptsDir: overrides.glueScriptsDir ?? join(repoRoot(), 'glue'),
    },
    athena: aws.athena,
    loadPoll: { initialMs, maxMs: Math.max(initialMs, Math.min(source.timeouts.pollMaximumSeconds * 1000, GLUE_POLL_MAX_MS)) },
    tables: source.tables,
  };
}

/** Lake Formation and Glue name an S3 Tables bucket's catalog `<account>:s3tablescatalog/<bucket>`. */
export function s3TablesCatalogId(settings: Pick<AwsSettings, 'accountId' | 'tableBucket'>): string {
  return `${settings.accountId}:s3tablescatalog/${settings.tableBucket.name}`;
}

/** Athena's name of the table bucket's catalog. */
export function athenaCatalog(settings: Pick<AwsSettings, 'tableBucket'>): string {
  return `s3tablescatalog/${settings.tableBucket.name}`;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function trimSlashes(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}
