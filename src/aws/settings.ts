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
    /** FLEX runs on spare capacity (cheaper, may start later); absent means STANDARD. */
    executionClass?: 'STANDARD' | 'FLEX';
    /** How each run's workers are sized from the table's export size (src/aws/glue-sizing.ts); absent: the job's. */
    sizing?: { gbPerWorker: number; minWorkers: number; maxWorkers: number };
    /** Workers pinned per table (`tables.<t>.glueWorkers`), keyed by schema.table. */
    tableWorkers?: Record<string, number>;
    /** Folder holding glue_entry.py and the lakesync_glue package. */
    scriptsDir: string;
  };
  /** outputLocation: absent for a workgroup with managed query results, or one with its own location. */
  athena: { workgroup: string; outputLocation?: string | undefined };
  /** How access to the S3 Tables catalog is controlled; absent means `lakeformation`. */
  lakeFormation?: { mode: 'lakeformation' | 'iam' };
  /** First and longest pause between polls of a Glue run, and at most how many GetJobRun calls an hour of run. */
  loadPoll: { initialMs: number; maxMs: number; maxCallsPerHour?: number };
  /** How the Glue job reads the tables with `extract: direct`; absent when the source has none. */
  direct?: DirectSourceSettings;
}

/**
 * The source database as the Glue job reaches it for direct loads (`source.catalog`): over JDBC,
 * from inside the database's VPC through a Glue connection, with the password by reference only.
 */
export interface DirectSourceSettings {
  /** The Glue connection (subnet and security groups in the database's VPC) the job runs in. */
  glueConnection: string;
  host: string;
  port: number;
  database: string;
  /** The database user; with a secret the secret's `username` wins in the job, and may stand in for it. */
  user?: string;
  auth: { kind: 'secret'; secretArn: string } | { kind: 'iam' };
  sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  /** s3://bucket/key of the CA bundle the job checks the server against (verify-ca/verify-full only). */
  sslRootCert?: string;
}

/** Longest pause between GetJobRun calls while the hourly budget allows more. */
export const GLUE_POLL_MAX_MS = 120_000;
/** At most this many GetJobRun calls for one hour of a run, whatever the poll settings. */
export const GLUE_POLLS_PER_HOUR = 30;

/** Lake Formation and Glue name an S3 Tables bucket's catalog `<account>:s3tablescatalog/<bucket>`. */
export function s3TablesCatalogId(settings: Pick<AwsSettings, 'accountId' | 'tableBucket'>): string {
  return `${settings.accountId}:s3tablescatalog/${settings.tableBucket.name}`;
}

/** Athena's name of the table bucket's catalog. */
export function athenaCatalog(settings: { tableBucket: Pick<AwsSettings['tableBucket'], 'name'> }): string {
  return `s3tablescatalog/${settings.tableBucket.name}`;
}
