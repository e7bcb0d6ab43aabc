/**
 * What the AWS adapters need of one source, resolved from lakesync.yaml by the port factory
 * (src/backends/aws.ts): region, endpoint override, names and locations the adapters share.
 */

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
}

/** Longest pause between GetJobRun calls: 120 s keeps a run near 30 calls per hour. */
export const GLUE_POLL_MAX_MS = 120_000;

/** Lake Formation and Glue name an S3 Tables bucket's catalog `<account>:s3tablescatalog/<bucket>`. */
export function s3TablesCatalogId(settings: Pick<AwsSettings, 'accountId' | 'tableBucket'>): string {
  return `${settings.accountId}:s3tablescatalog/${settings.tableBucket.name}`;
}

/** Athena's name of the table bucket's catalog. */
export function athenaCatalog(settings: Pick<AwsSettings, 'tableBucket'>): string {
  return `s3tablescatalog/${settings.tableBucket.name}`;
}
