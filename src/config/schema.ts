/**
 * The schema of lakesync.yaml. Every message says what is wrong and how to fix it;
 * the loader adds the field's path and the value it got.
 */
import { z } from 'zod';

/** S3 Tables: namespaces and tables are 1-255 lowercase letters, digits, underscores. */
export const LAKE_NAME = /^[a-z0-9][a-z0-9_]{0,254}$/;
const LAKE_NAME_FIX = 'use 1-255 lowercase letters, digits or underscores, starting with a letter or digit (S3 Tables rule)';
const SOURCE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const TABLE_KEY = /^[^.\s]+\.[^.]+$/;
const GLOB = /^[^\s]+$/;

const lakeName = z.string().regex(LAKE_NAME, `is not a valid lake name: ${LAKE_NAME_FIX}`);

const seconds = (min: number, max: number) =>
  z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const tableSettings = z
  .object({
    primaryKey: z.array(z.string().min(1, 'column names cannot be empty')).min(1, 'list at least one column, or leave primaryKey out').optional(),
    cursor: z
      .object({
        column: z.string().min(1, 'name the cursor column, e.g. updated_at'),
        mode: z.enum(['upsert', 'append'], { message: 'must be upsert or append' }).optional(),
      })
      .strict()
      .optional(),
    /** Force a full replace even when a key is known. */
    action: z.enum(['merge', 'replace', 'incremental'], { message: 'must be merge, replace or incremental' }).optional(),
    lakeName: lakeName.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.action === 'incremental' && !t.cursor) {
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'action incremental needs a cursor column: add cursor: { column: <name> }' });
    }
    if (t.action === 'merge' && !t.primaryKey) {
      ctx.addIssue({ code: 'custom', path: ['primaryKey'], message: 'action merge needs a primary key: add primaryKey: [<column>] (or leave action out to use the source key)' });
    }
    if (t.action === 'replace' && t.cursor) {
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'a cursor column makes no sense with action replace: remove cursor or the action' });
    }
  });

const retry = z
  .object({
    initialIntervalSeconds: seconds(1, 3600).default(5),
    maximumIntervalSeconds: seconds(1, 86400).default(300),
    backoffCoefficient: z.number().min(1, 'must be at least 1').max(10, 'must be at most 10').default(2),
    maximumAttempts: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').default(5),
  })
  .strict()
  .refine((r) => r.maximumIntervalSeconds >= r.initialIntervalSeconds, {
    message: 'maximumIntervalSeconds must not be smaller than initialIntervalSeconds',
    path: ['maximumIntervalSeconds'],
  });

const timeouts = z
  .object({
    /** Longest a single table load may run. */
    loadHours: z.number().positive('must be positive').max(48, 'must be at most 48 (Glue job timeout)').default(12),
    /** A worker that stops heartbeating for this long is presumed dead and the load re-attached elsewhere. */
    heartbeatSeconds: seconds(1, 3600).default(60),
    /** First and longest pause between polls of a snapshot or export. */
    pollInitialSeconds: seconds(1, 3600).default(30),
    pollMaximumSeconds: seconds(1, 3600).default(300),
  })
  .strict();

const grant = z
  .object({
    principal: z.string().min(1, 'name the IAM principal ARN (or a local user name in local mode)'),
    tablePermissions: z.array(z.enum(['SELECT', 'DESCRIBE', 'INSERT', 'DELETE', 'ALTER', 'ALL'], { message: 'must be one of SELECT, DESCRIBE, INSERT, DELETE, ALTER, ALL' })).min(1).default(['SELECT', 'DESCRIBE']),
    namespacePermissions: z.array(z.enum(['DESCRIBE', 'ALTER', 'CREATE_TABLE', 'ALL'], { message: 'must be one of DESCRIBE, ALTER, CREATE_TABLE, ALL' })).default(['DESCRIBE']),
  })
  .strict();

const check = z
  .object({
    name: z.string().min(1, 'give the check a name'),
    table: z.string().regex(TABLE_KEY, 'must be schema.table'),
    /** SQL returning one value; `{table}` is replaced by the lake table's qualified name. */
    sql: z.string().min(1, 'give the SQL of the check'),
    expect: z.union([z.string(), z.number()]),
  })
  .strict();

const sourceDb = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('pglite'), dataDir: z.string().optional(), demo: z.boolean().default(true) }).strict(),
    z.object({ kind: z.literal('postgres'), url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL') }).strict(),
    z
      .object({
        kind: z.literal('rds'),
        instanceId: z.string().min(1).optional(),
        clusterId: z.string().min(1).optional(),
      })
      .strict()
      .refine((s) => Boolean(s.instanceId) !== Boolean(s.clusterId), {
        message: 'give exactly one of instanceId (RDS instance) or clusterId (Aurora cluster)',
      }),
    z
      .object({
        kind: z.literal('fake'),
        /** Table names, or a count of generated tables `t0001`... */
        tables: z.union([z.array(z.string().regex(TABLE_KEY, 'must be schema.table')), z.number().int().min(1).max(5000)]),
        latencyMs: z.number().int().min(0).default(0),
        stateDir: z.string().optional(),
        failures: z
          .array(
            z
              .object({
                table: z.string(),
                phase: z.enum(['snapshot', 'export', 'discover', 'load', 'grant', 'verify']),
                times: z.union([z.number().int().min(1), z.literal('always')]).default('always'),
                retryable: z.boolean().default(true),
                message: z.string().optional(),
              })
              .strict(),
          )
          .default([]),
        alreadyExists: z.array(z.enum(['snapshot', 'export'])).default([]),
      })
      .strict(),
  ],
  { message: 'kind must be pglite, postgres, rds or fake' },
);

const aws = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
    /** Endpoint override for emulators (moto server); never set in production. */
    endpoint: z.string().url('must be a URL such as http://127.0.0.1:5000').optional(),
    accountId: z.string().regex(/^\d{12}$/, 'must be the 12-digit AWS account id'),
    export: z
      .object({
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
        prefix: z.string().default('lakesync/exports'),
        iamRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)'),
        kmsKeyId: z.string().min(1, 'name the KMS key (ARN, id or alias) that encrypts the export'),
      })
      .strict(),
    tableBucket: z
      .object({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'must be 3-63 lowercase letters, digits or hyphens (S3 Tables bucket rule)'),
        create: z.boolean().default(false),
      })
      .strict(),
    glue: z
      .object({
        jobName: z.string().min(1).default('lakesync-load'),
        roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/, 'must be an IAM role ARN'),
        scriptBucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
        scriptPrefix: z.string().default('lakesync/glue'),
        resultPrefix: z.string().default('lakesync/results'),
        workerType: z.enum(['G.1X', 'G.2X', 'G.4X', 'G.8X'], { message: 'must be G.1X, G.2X, G.4X or G.8X' }).default('G.1X'),
        numberOfWorkers: z.number().int().min(2, 'Glue needs at least 2 workers').max(1000).default(2),
        maxConcurrentRuns: z.number().int().min(1).max(1000).default(10),
        jobRunQueuing: z.boolean().default(true),
        timeoutMinutes: z.number().int().min(1).max(2880).default(720),
      })
      .strict(),
    athena: z
      .object({
        workgroup: z.string().min(1).default('primary'),
        outputLocation: z.string().regex(/^s3:\/\//, 'must be an s3:// location for query results'),
      })
      .strict(),
  })
  .strict();

const local = z
  .object({
    /** Where exports, the warehouse, results and grants live; default .lakesync/data/<source>. */
    workDir: z.string().optional(),
  })
  .strict();

export const sourceSchema = z
  .object({
    backend: z.enum(['local', 'aws'], { message: 'must be local or aws' }).default('local'),
    /** The source database (the `db` part of an export's `db.schema.table`). */
    database: z.string().min(1, 'name the source database'),
    source: sourceDb,
    snapshot: z
      .object({
        mode: z.enum(['create', 'latest-automated', 'existing'], { message: 'must be create, latest-automated or existing' }).default('create'),
        id: z.string().optional(),
      })
      .strict()
      .refine((s) => s.mode !== 'existing' || Boolean(s.id), { message: 'mode existing needs the snapshot id: add id: <snapshot id>', path: ['id'] })
      .default({ mode: 'create' }),
    tables: z.record(z.string().regex(TABLE_KEY, 'table keys must be schema.table'), tableSettings).default({}),
    include: z.array(z.string().regex(GLOB, 'globs are schema.table patterns without spaces, e.g. public.*')).default(['*.*']),
    exclude: z.array(z.string().regex(GLOB, 'globs are schema.table patterns without spaces, e.g. public.*_pii')).default([]),
    target: z
      .object({
        namespace: lakeName,
        /** Lake table name template; {database}, {schema} and {table} are replaced, then lowercased. */
        tableName: z.string().regex(/\{table\}/, 'the template must contain {table}').default('{table}'),
      })
      .strict(),
    grants: z.array(grant).default([]),
    verify: z
      .object({
        enabled: z.boolean().default(true),
        checks: z.array(check).default([]),
      })
      .strict()
      .default({ enabled: true, checks: [] }),
    concurrency: z.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(10),
    /** Tables per child workflow; keeps every history small at 1,000+ tables. */
    batchSize: z.number().int().min(1).max(500).default(100),
    safety: z
      .object({
        maxDeleteFraction: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').default(0.5),
      })
      .strict()
      .default({ maxDeleteFraction: 0.5 }),
    retry: retry.default({ initialIntervalSeconds: 5, maximumIntervalSeconds: 300, backoffCoefficient: 2, maximumAttempts: 5 }),
    timeouts: timeouts.default({ loadHours: 12, heartbeatSeconds: 60, pollInitialSeconds: 30, pollMaximumSeconds: 300 }),
    aws: aws.optional(),
    local: local.default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.backend === 'aws' && !s.aws) {
      ctx.addIssue({ code: 'custom', path: ['aws'], message: 'backend aws needs an aws section (region, accountId, export, tableBucket, glue, athena)' });
    }
    if (s.backend === 'aws' && s.source.kind !== 'rds') {
      ctx.addIssue({ code: 'custom', path: ['source', 'kind'], message: 'backend aws reads from RDS: set source.kind to rds' });
    }
    if (s.backend === 'local' && s.source.kind === 'rds') {
      ctx.addIssue({ code: 'custom', path: ['backend'], message: 'an rds source needs backend aws' });
    }
    if (s.timeouts.pollMaximumSeconds < s.timeouts.pollInitialSeconds) {
      ctx.addIssue({ code: 'custom', path: ['timeouts', 'pollMaximumSeconds'], message: 'must not be smaller than pollInitialSeconds' });
    }
  });

export const configSchema = z
  .object({
    temporal: z
      .object({
        taskQueue: z.string().min(1).default('lakesync'),
        namespace: z.string().min(1).default('default'),
        /** host:port; TEMPORAL_ADDRESS and the envconfig profile win when set. */
        address: z.string().optional(),
      })
      .strict()
      .default({ taskQueue: 'lakesync', namespace: 'default' }),
    sources: z
      .record(z.string().regex(SOURCE_NAME, 'source names are 1-63 lowercase letters, digits or hyphens, starting with a letter'), sourceSchema)
      .refine((r) => Object.keys(r).length > 0, { message: 'define at least one source' }),
  })
  .strict();

export type LakesyncConfig = z.infer<typeof configSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type TableSettings = z.infer<typeof tableSettings>;
