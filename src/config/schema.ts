/**
 * The schema of lakesync.yaml. Every message says what is wrong and how to fix it;
 * the loader adds the field's path and the value it got.
 */
import { z } from 'zod';
import { LAKE_NAME, LAKE_NAME_RULE, SOURCE_NAME, TABLE_NAME, SOURCE_NAME_RULE, namespaceNameProblem, tableBucketNameProblem } from '../names';
import { lookbackProblem } from '../lookback';
import { columnsSchema, configuredKeyProblems, hashKeyProblems, hashKeySchema } from './columns';
import { directSchema, directSourceProblems, directTableProblems, extractSchema } from './direct';
import { attributesSchema, dynamodbSourceSchema, dynamoSourceProblems } from './dynamodb';
import { costSchema } from '../cost/schema';
import { packingSchema } from './packing';
import { glueCapacityProblems } from '../aws/glue-sizing';
import { athenaCheckRefusal, athenaQualifiedName, athenaSelectRefusal } from '../aws/read-only';
import { crossAccountGrantProblem, lakeFormationPrincipalProblem } from './principals';
import { hostPortProblem } from './address';
const LAKE_NAME_FIX = `use ${LAKE_NAME_RULE}`;
const GLOB = /^[^\s]+$/;

const lakeName = z.string().regex(LAKE_NAME, `is not a valid lake name: ${LAKE_NAME_FIX}`);

const seconds = (min: number, max: number) =>
  z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const tableSettings = z
  .object({
    primaryKey: z
      .array(z.string().min(1, 'column names cannot be empty'))
      .min(1, 'list at least one column, or leave primaryKey out')
      .optional()
      .describe("Key columns; default: the source table's primary key."),
    cursor: z
      .object({
        column: z.string().min(1, 'name the cursor column, e.g. updated_at'),
        mode: z.enum(['upsert', 'append'], { message: 'must be upsert or append' }).optional().describe('upsert by key (default when a key is known) or append'),
        lookback: z
          .union([z.number(), z.string()], { message: 'must be a duration such as "15m" or a number such as 1000' })
          .superRefine((value, ctx) => {
            const problem = lookbackProblem(value);
            if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
          })
          .optional()
          .describe(
            'How far below the lake\'s max(cursor) each load reads again, so rows committed late with an older cursor arrive ' +
              '(rows the lake already holds are skipped). A duration for date/timestamp cursors ("15m", "2h", "1d"; default "1h"), ' +
              'a number of cursor units for numeric ones (default 0: rows that tie with the max).',
          ),
      })
      .strict()
      .optional()
      .describe('Incremental loads: each load reads the rows whose cursor is at or above the lake table\'s max(cursor) minus the lookback, and adds those the lake does not hold yet.'),
    action: z
      .enum(['merge', 'replace', 'incremental'], { message: 'must be merge, replace or incremental' })
      .optional()
      .describe('Force an action; default: merge with a key, replace without, incremental with a cursor.'),
    lakeName: lakeName.optional().describe('The lake table name, instead of the target.tableName template.'),
    columns: columnsSchema.optional(),
    extract: extractSchema,
    direct: directSchema.optional(),
    attributes: attributesSchema.optional(),
    glueWorkers: z
      .number()
      .int('must be a whole number of workers')
      .min(2, 'Glue needs at least 2 workers')
      .max(1000, 'must be at most 1000')
      .optional()
      .describe("AWS: the Glue workers of this table's runs, instead of the number sized from its export size (aws.glue.sizing)."),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.action === 'incremental' && !t.cursor) {
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'action incremental needs a cursor column: add cursor: { column: <name> }' });
    }
    // The load job refuses a key that names a column twice (the same spelling; id and "ID" may be two columns).
    const twice = t.primaryKey?.find((c, i) => t.primaryKey!.indexOf(c) !== i);
    if (twice !== undefined) ctx.addIssue({ code: 'custom', path: ['primaryKey'], message: `lists "${twice}" twice: list each key column once` });
    if (t.action === 'merge' && !t.primaryKey) {
      ctx.addIssue({ code: 'custom', path: ['primaryKey'], message: 'action merge needs a primary key: add primaryKey: [<column>] (or leave action out to use the source key)' });
    }
    if (t.action === 'replace' && t.cursor) {
      ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'a cursor column makes no sense with action replace: remove cursor or the action' });
    }
    for (const problem of configuredKeyProblems(t)) ctx.addIssue({ code: 'custom', ...problem });
    for (const problem of directTableProblems(t)) ctx.addIssue({ code: 'custom', ...problem });
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
    // Shorter could not load a table; below 1e-6 the duration would be written 1e-7h, which Temporal cannot read.
    loadHours: z.number().min(0.001, 'must be at least 0.001 (3.6 seconds)').max(48, 'must be at most 48 (Glue job timeout)').default(12).describe('Longest one attempt of a table load may run (a table loaded in a pack waits for the whole pack run: this for each table of its pack); the whole load is bounded by retry.maximumAttempts times this, plus the backoff and, on AWS with aws.glue.jobRunQueuing (or FLEX runs), the time its runs may wait in Glue\'s job run queue.'),
    heartbeatSeconds: seconds(1, 3600).default(60).describe('A worker silent this long is presumed dead; its loads are re-attached elsewhere.'),
    pollInitialSeconds: seconds(1, 3600).default(30).describe('First pause between polls of a snapshot or export.'),
    pollMaximumSeconds: seconds(1, 3600).default(300).describe('Longest pause between polls of a snapshot or export.'),
  })
  .strict();

const retention = z
  .object({
    snapshots: z
      .number()
      .int('must be a whole number')
      .min(1, "must be at least 1: the current cycle's snapshot is always kept")
      .max(100, 'must be at most 100 (the default RDS quota of manual snapshots per Region)')
      .default(3)
      .describe(
        'How many of the newest snapshots lakesync created for this source to keep; older ones are deleted after each cycle. ' +
          'Default 3: manual snapshots count against a per-Region quota (100 by default) shared by every source and user, and a ' +
          'snapshot is only read while its export runs, so 3 leaves room for a restore of a recent state and costs 3 of the quota.',
      ),
    exports: z
      .number()
      .int('must be a whole number')
      .min(1, "must be at least 1: the current cycle's export is always kept")
      .max(1000, 'must be at most 1000')
      .default(3)
      .describe(
        "How many of the newest exports lakesync started for this source to keep; older ones' files are deleted after each cycle. " +
          'Default 3: each export is a full copy of the exported tables in S3; the newest ones serve reruns and investigation of recent cycles. ' +
          'Kept whatever their age: an export a failed table still needs for its rerun, the last export (of the newest snapshot), and those a running or queued rerun reads. ' +
          "A DynamoDB source keeps this many of each table's newest exports, and the one its watermark names (on AWS, exports whose manifest summary DynamoDB has written, or that DynamoDB reports FAILED: never one still running). An export that failed (in the embedded mode also the record of one that ended without files) takes none of these places: it is deleted unless kept as above. " +
          "Each cycle's working files (load results, run records and manifests; on AWS its manifests and its Glue load results, pack and arguments files) are kept for this many of the newest cycles, the current one, " +
          'those of the exports kept and those with a load run still going; older ones are deleted after each cycle.',
      ),
  })
  .strict()
  .describe(
    'Deletes the snapshots and exports lakesync itself created (tagged "lakesync" on AWS, with its id prefix), keeping the newest, ' +
      "the current cycle's, the last export and those a failed table's or a queued rerun needs; user, automated and snapshot.mode existing snapshots are never touched.",
  );

const grant = z
  .object({
    principal: z.string().min(1, 'name the IAM principal ARN (or a local user name in local mode)').describe('IAM principal ARN (a user name in local mode).'),
    tablePermissions: z.array(z.enum(['SELECT', 'DESCRIBE', 'INSERT', 'DELETE', 'ALTER', 'ALL'], { message: 'must be one of SELECT, DESCRIBE, INSERT, DELETE, ALTER, ALL' })).min(1).default(['SELECT', 'DESCRIBE']),
    namespacePermissions: z.array(z.enum(['DESCRIBE', 'ALTER', 'CREATE_TABLE', 'ALL'], { message: 'must be one of DESCRIBE, ALTER, CREATE_TABLE, ALL' })).default(['DESCRIBE']),
  })
  .strict();

const check = z
  .object({
    name: z.string().min(1, 'give the check a name'),
    table: z.string().regex(TABLE_NAME, 'must be schema.table'),
    sql: z.string().min(1, 'give the SQL of the check').describe("SQL returning one value; {table} is replaced by the lake table's qualified name."),
    expect: z.union([z.string(), z.number()]).describe('The value the SQL must return.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    // YAML reads a number as a double: past 2^53 the integer written is not the one the check would compare with.
    if (typeof c.expect === 'number' && Number.isInteger(c.expect) && !Number.isSafeInteger(c.expect)) {
      ctx.addIssue({
        code: 'custom',
        path: ['expect'],
        message: `is ${c.expect}, an integer beyond 2^53 that a YAML number does not hold exactly (its last digits may not be the ones written): write it in quotes, and the answer is compared with that text`,
      });
    }
  });

/** libpq's sslmode values that node-postgres can honour. */
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

const rdsCatalog = z
  .object({
    host: z.string().min(1, 'name the database endpoint, e.g. mydb.abc123.eu-west-1.rds.amazonaws.com').describe('The instance (or cluster reader) endpoint.'),
    port: z.number().int('must be a whole number').min(1, 'must be a TCP port').max(65535, 'must be a TCP port').default(5432),
    database: z.string().min(1, 'name the database, or leave database out').optional().describe('Default: the source database (database).'),
    user: z.string().min(1, 'name the database user, or leave user out').optional().describe("The database user; with secretArn the secret's username by default; required with iamAuth."),
    secretArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)')
      .optional()
      .describe('A Secrets Manager secret whose JSON holds username and password (the format of the secret RDS manages for the master user); read by the worker when it connects, never stored.'),
    iamAuth: z.boolean().optional().describe('IAM database authentication: the worker signs a 15-minute token for user (who needs the rds_iam role) instead of a password.'),
    sslmode: z
      .enum(SSL_MODES, { message: 'must be disable, require, verify-ca or verify-full' })
      .default('verify-full')
      .describe('verify-full checks the server certificate and host name (give Node the RDS CA bundle with NODE_EXTRA_CA_CERTS); require encrypts without checking.'),
    sslRootCert: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be an S3 object URI (s3://<bucket>/<key>.pem)')
      .optional()
      .describe(
        'The PEM bundle of the database\'s certificate authorities in S3 (for RDS the global bundle, https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem): ' +
          'the load job of extract: direct tables checks the server against it with sslmode verify-full or verify-ca. The Glue job role gets s3:GetObject on it.',
      ),
    glueConnection: z.string().min(1, 'name the Glue connection, or leave glueConnection out').max(255, 'must be at most 255 characters (Glue name limit)').optional().describe("The AWS Glue connection (type NETWORK or JDBC) in the source database's VPC through which the load job reads tables with extract: direct; the job runs in its subnet and security group."),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.secretArn !== undefined) === (c.iamAuth === true)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of secretArn (a Secrets Manager secret with username and password) or iamAuth: true (IAM database authentication)' });
    }
    if (c.iamAuth && !c.user) {
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'iamAuth signs its token for one database user: set user (a user granted the rds_iam role)' });
    }
    if (c.iamAuth && c.sslmode === 'disable') {
      ctx.addIssue({ code: 'custom', path: ['sslmode'], message: 'RDS accepts IAM tokens only over SSL: set sslmode to verify-full (or require)' });
    }
  })
  .describe("A read-only connection to the source database, used only to read its table list and primary keys (in READ ONLY transactions); without it, keys come from tables.<t>.primaryKey only.");

/**
 * An RDS DB instance or Aurora cluster identifier as RDS names them: 1-63 letters, digits and hyphens,
 * a letter first, no hyphen last nor two in a row. DescribeDBInstances would take an ARN too, but
 * CreateDBSnapshot takes only the identifier, so a cycle would fail at its snapshot.
 */
const rdsIdentifier = z
  .string()
  .regex(/^[A-Za-z](?!.*--)(?!.*-$)[A-Za-z0-9-]{0,62}$/, 'is not an RDS identifier (1-63 letters, digits and hyphens, starting with a letter, without two hyphens in a row or one at the end): give the identifier alone, e.g. shop-db, not an ARN or endpoint');

const sourceDb = z.discriminatedUnion(
  'kind',
  [
    z
      .object({ kind: z.literal('pglite'), dataDir: z.string().optional().describe('Where the embedded database keeps its files.'), demo: z.boolean().default(true).describe('Seed the demo schema.') })
      .strict()
      .describe('The embedded PostgreSQL (PGlite).'),
    z
      .object({ kind: z.literal('postgres'), url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').describe('postgres://user:password@host:port/database') })
      .strict()
      .describe('Any PostgreSQL server, exported locally.'),
    z
      .object({
        kind: z.literal('rds'),
        instanceId: rdsIdentifier.optional().describe('RDS DB instance identifier.'),
        clusterId: rdsIdentifier.optional().describe('Aurora DB cluster identifier.'),
        catalog: rdsCatalog.optional(),
      })
      .strict()
      .describe('Amazon RDS or Aurora PostgreSQL, exported by RDS snapshot export.')
      .refine((s) => Boolean(s.instanceId) !== Boolean(s.clusterId), {
        message: 'give exactly one of instanceId (RDS instance) or clusterId (Aurora cluster)',
      }),
    z
      .object({
        kind: z.literal('fake'),
        tables: z.union([z.array(z.string().regex(TABLE_NAME, 'must be schema.table')), z.number().int().min(1).max(5000)]),
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
      .strict()
      .describe('In-memory ports for tests and benchmarks: tables (names or a count), latency, injected failures.'),
    dynamodbSourceSchema,
  ],
  { message: 'kind must be pglite, postgres, rds, dynamodb or fake' },
);

const aws = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
    endpoint: z.string().url('must be a URL such as http://127.0.0.1:5000').optional().describe('Endpoint override for emulators (moto server); never set in production.'),
    accountId: z.string().regex(/^\d{12}$/, 'must be the 12-digit AWS account id'),
    export: z
      .object({
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
        prefix: z
          .string()
          .refine((prefix) => !prefix.includes(':'), 'must not contain a colon (:): RDS refuses to export to such a prefix')
          .default('lakesync/exports'),
        iamRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)').describe('The role RDS assumes to write the export.'),
        kmsKeyId: z.string().min(1, 'name the KMS key (ARN, id or alias) that encrypts the export'),
      })
      .strict()
      .optional()
      .describe('Where RDS writes the snapshot export (docs/aws-setup.md); required with an rds source.'),
    tableBucket: z
      .object({
        name: z.string().superRefine((name, ctx) => {
          const problem = tableBucketNameProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', message: problem, input: name });
        }),
        create: z.boolean().default(false).describe('Create the table bucket when it is missing.'),
      })
      .strict()
      .describe('The S3 Tables bucket that holds the lake.'),
    glue: z
      .object({
        jobName: z.string().min(1).optional().describe('The Glue job lakesync creates and runs; default lakesync-load-<source>, one job per source so that sources never overwrite each other\'s role and sizing. {source} in it is replaced by the source\'s name (e.g. corp-load-{source}).'),
        roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/, 'must be an IAM role ARN'),
        scriptBucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
        scriptPrefix: z.string().default('lakesync/glue'),
        resultPrefix: z.string().default('lakesync/results'),
        workerType: z.enum(['G.1X', 'G.2X', 'G.4X', 'G.8X'], { message: 'must be G.1X, G.2X, G.4X or G.8X' }).default('G.1X'),
        numberOfWorkers: z.number().int().min(2, 'Glue needs at least 2 workers').max(1000).default(2),
        maxConcurrentRuns: z.number().int().min(1).max(1000).default(10),
        jobRunQueuing: z.boolean().default(true),
        timeoutMinutes: z.number().int().min(1).max(2880).default(720),
        executionClass: z
          .enum(['STANDARD', 'FLEX'], { message: 'must be STANDARD or FLEX' })
          .default('STANDARD')
          .describe('STANDARD: runs start at once on dedicated capacity. FLEX: cheaper runs on spare capacity that may start later and take longer, for syncs that are not urgent (worker types G.1X and G.2X only).'),
        sizing: z
          .object({
            gbPerWorker: z.number().gt(0, 'must be more than 0 (export gigabytes per worker)').default(10).describe("Export gigabytes per worker: a run gets ceil(sizeGB / gbPerWorker) workers, from the table's size in the export."),
            minWorkers: z.number().int().min(2, 'Glue needs at least 2 workers').max(1000).default(2),
            maxWorkers: z.number().int().min(2, 'Glue needs at least 2 workers').max(1000).optional().describe('At most this many workers per run; default numberOfWorkers.'),
          })
          .strict()
          .default({ gbPerWorker: 10, minWorkers: 2 })
          .describe("Each run's workers from the table's export size: clamp(ceil(sizeGB / gbPerWorker), minWorkers, maxWorkers); tables without an export size (direct, DynamoDB) run with numberOfWorkers."),
      })
      .strict()
      .superRefine((glue, ctx) => {
        for (const problem of glueCapacityProblems(glue)) ctx.addIssue({ code: 'custom', ...problem });
      })
      .describe('The Glue 5.0 job lakesync creates and keeps current.'),
    athena: z
      .object({
        // Athena's WorkGroupName rule: a name it refuses would fail every table's verification, after its load committed.
        workgroup: z
          .string()
          .regex(/^[a-zA-Z0-9._-]{1,128}$/, 'must be an Athena workgroup name: 1-128 letters, digits, dots, underscores or hyphens')
          .default('primary'),
        // Athena refuses a location without a valid bucket name: each table would load, then fail its verification.
        outputLocation: z
          .string()
          .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be an s3://<bucket>/<prefix>/ location for query results (a bucket name of 3-63 lowercase letters, digits, dots and hyphens), e.g. s3://my-athena-results/lakesync/')
          .optional()
          .describe(
            "Where Athena writes the results of lakesync's queries. Leave it out for a workgroup with Athena managed query results " +
              '(Athena refuses a query that names a location there) or one that has its own result location.',
          ),
      })
      .strict()
      .describe('Where verification queries run.'),
    lakeFormation: z
      .object({
        mode: z
          .enum(['lakeformation', 'iam'], { message: 'must be lakeformation or iam' })
          .default('lakeformation')
          .describe(
            'lakeformation: the table bucket is integrated with Lake Formation; lakesync grants the Glue job role its permissions on the namespaces it creates, ' +
              'and the configured grants. iam: access to the tables is controlled by IAM policies only (no Lake Formation grants; grants must be empty).',
          ),
      })
      .strict()
      .default({ mode: 'lakeformation' })
      .describe('How access to the S3 Tables catalog is controlled (docs/aws-setup.md, "Lake Formation mode").'),
  })
  .strict()
  .superRefine((a, ctx) => {
    // IAM lets a principal pass only roles of its own account to a service (iam:PassRole): the worker passes both.
    const roles: [string[], string | undefined, string][] = [
      [['export', 'iamRoleArn'], a.export?.iamRoleArn, 'RDS would refuse StartExportTask, after the cycle took its snapshot'],
      [['glue', 'roleArn'], a.glue.roleArn, 'Glue would refuse the job the worker creates with it'],
    ];
    // KMS keys are specific to the Region they were created in: RDS exports in aws.region and cannot use a key of another.
    const keyRegion = a.export ? /^arn:[^:]+:kms:([^:]*):/.exec(a.export.kmsKeyId)?.[1] : undefined;
    if (keyRegion !== undefined && keyRegion !== a.region) {
      ctx.addIssue({
        code: 'custom',
        path: ['export', 'kmsKeyId'],
        input: a.export!.kmsKeyId,
        message: `is a key of ${keyRegion}, not of aws.region ${a.region}: RDS exports the snapshot in ${a.region}, and KMS keys cannot be used outside their Region, so StartExportTask would fail after the cycle took its snapshot; use a key of ${a.region} (a multi-Region key's replica there has an ARN of ${a.region})`,
      });
    }
    for (const [path, arn, consequence] of roles) {
      const account = arn ? /^arn:[^:]+:iam::(\d{12}):/.exec(arn)?.[1] : undefined;
      if (account === undefined || account === a.accountId) continue;
      ctx.addIssue({
        code: 'custom',
        path,
        input: arn,
        message: `is a role of account ${account}, not of aws.accountId ${a.accountId}: the worker passes it to AWS (iam:PassRole), which takes only roles of the caller's own account, so ${consequence}; create the role in account ${a.accountId} (docs/aws-setup.md), or correct aws.accountId`,
      });
    }
  });

const local = z
  .object({
    workDir: z.string().optional().describe('Where exports, the warehouse, results and grants live; default .lakesync/data/<source>.'),
    exportReaders: z.number().int().min(1, 'must be at least 1').max(16, 'must be at most 16').optional().describe('Connections that read a postgres source at once during an export, sharing one snapshot, each in a thread of its own from 64 MB read; default one per core, 2 to 4.'),
  })
  .strict();

export const sourceSchema = z
  .object({
    backend: z.enum(['local', 'aws'], { message: 'must be local or aws' }).default('local').describe('local: one machine (Spark + Iceberg); aws: RDS export, Glue, S3 Tables.'),
    database: z
      .string()
      .min(1, 'name the source database')
      // The name is a folder of the export: `..` or a slash would put it outside the export's own folder.
      .refine((name) => name !== '.' && name !== '..' && !/[/\\]/.test(name), 'must not be . or .. nor contain a slash or backslash: the export writes its tables in a folder of this name')
      .describe("The source database (the db part of an export's db.schema.table)."),
    source: sourceDb.describe('The database to copy; kind is pglite, postgres, rds, dynamodb or fake.'),
    snapshot: z
      .object({
        mode: z.enum(['create', 'latest-automated', 'existing'], { message: 'must be create, latest-automated or existing' }).default('create'),
        id: z.string().optional(),
      })
      .strict()
      .refine((s) => s.mode !== 'existing' || Boolean(s.id), { message: 'mode existing needs the snapshot id: add id: <snapshot id>', path: ['id'] })
      // Only mode existing reads the id: left with another mode, every cycle would snapshot the database anew.
      .superRefine((s, ctx) => {
        if (s.mode !== 'existing' && s.id !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['id'], message: `is used with mode existing only, but mode is ${s.mode}: set mode: existing to load from snapshot ${s.id}, or remove the id` });
        }
      })
      .default({ mode: 'create' })
      .describe('create a snapshot per cycle, take the latest automated one, or use an existing id.'),
    tables: z.record(z.string().regex(TABLE_NAME, 'table keys must be schema.table (DynamoDB tables: dynamodb.<TableName>, a name without ".")'), tableSettings).default({}).describe('Per-table settings, keyed by schema.table.'),
    hashKey: hashKeySchema.optional(),
    include: z
      .array(z.string().regex(GLOB, 'globs are schema.table patterns without spaces, e.g. public.*'))
      // An empty list would select no table, so every sync would do nothing.
      .min(1, 'an empty include list syncs no table: list at least one glob, e.g. [public.*], or leave include out to sync every table')
      .default(['*.*'])
      .describe('Globs over schema.table; default every table.'),
    exclude: z.array(z.string().regex(GLOB, 'globs are schema.table patterns without spaces, e.g. public.*_pii')).default([]).describe('Globs over schema.table; exclude wins over include.'),
    target: z
      .object({
        namespace: lakeName
          .superRefine((name, ctx) => {
            const problem = namespaceNameProblem(name);
            if (problem) ctx.addIssue({ code: 'custom', message: problem, input: name });
          })
          .describe('The lake namespace (S3 Tables namespace) the tables load into.'),
        tableName: z.string().regex(/\{table\}/, 'the template must contain {table}').default('{table}').describe('Lake table name template; {database}, {schema} and {table} are replaced, then lowercased.'),
      })
      .strict(),
    grants: z.array(grant).default([]).describe('Lake Formation grants on the namespace and every loaded table.'),
    verify: z
      .object({
        enabled: z.boolean().default(true),
        checks: z.array(check).default([]),
      })
      .strict()
      .default({ enabled: true, checks: [] })
      .describe('Row counts at the loaded snapshot, plus SQL checks.'),
    concurrency: z.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(10).describe('Table loads running at once.'),
    batchSize: z.number().int().min(1).max(500).default(100).describe('Tables per child workflow; keeps every history small at 1,000+ tables.'),
    safety: z
      .object({
        maxDeleteFraction: z
          .number()
          .min(0, 'must be between 0 and 1')
          .max(1, 'must be between 0 and 1')
          .default(0.5)
          .describe('A merge deleting more than this fraction of a lake table fails unless approved (rerun --approve-deletes).'),
      })
      .strict()
      .default({ maxDeleteFraction: 0.5 }),
    errors: z
      .object({
        showValues: z
          .boolean()
          .default(false)
          .describe('Quote example row values in cast and key errors (each cut after 200 characters); they then reach the workflow history, the logs and the CLI. Off by default.'),
      })
      .strict()
      .default({ showValues: false })
      .describe('What load errors may reveal of the source data.'),
    retry: retry
      .default({ initialIntervalSeconds: 5, maximumIntervalSeconds: 300, backoffCoefficient: 2, maximumAttempts: 5 })
      .describe('Backoff for transient errors; validation and access-denied errors are never retried.'),
    timeouts: timeouts.default({ loadHours: 12, heartbeatSeconds: 60, pollInitialSeconds: 30, pollMaximumSeconds: 300 }),
    retention: retention.default({ snapshots: 3, exports: 3 }),
    cost: costSchema,
    packing: packingSchema.optional(),
    aws: aws.optional().describe('Required with backend aws.'),
    local: local.default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.backend === 'aws' && !s.aws) {
      ctx.addIssue({ code: 'custom', path: ['aws'], message: 'backend aws needs an aws section (region, accountId, export, tableBucket, glue, athena)' });
    }
    if (s.aws?.lakeFormation.mode === 'iam' && s.grants.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['grants'],
        message:
          'grants are Lake Formation grants, and aws.lakeFormation.mode is iam: with IAM access control Lake Formation grants do not apply. ' +
          "Grant the principals access by IAM policy (s3tables and glue actions on the table bucket's catalog, docs/aws-setup.md) and remove grants, " +
          'or set aws.lakeFormation.mode: lakeformation',
      });
    }
    if (s.backend === 'aws') {
      s.grants.forEach((grant, i) => {
        const problem = lakeFormationPrincipalProblem(grant.principal);
        if (problem) ctx.addIssue({ code: 'custom', path: ['grants', i, 'principal'], message: problem });
        if (problem || !s.aws) return;
        for (const key of ['tablePermissions', 'namespacePermissions'] as const) {
          const across = crossAccountGrantProblem(grant.principal, grant[key], s.aws.accountId);
          if (across) ctx.addIssue({ code: 'custom', path: ['grants', i, key], message: across });
        }
      });
      // Athena runs writes too: a check is refused here, before any cycle, rather than at its table's verify.
      // As Athena receives it too: {table} replaced by a lake table's name in the table bucket (lake table names hold no quote, comment or ';').
      const lakeTable = s.aws ? athenaQualifiedName(s.aws, s.target.namespace, 'table') : undefined;
      s.verify.checks.forEach((check, i) => {
        const refusal = lakeTable === undefined ? athenaSelectRefusal(check.sql) : athenaCheckRefusal(check.sql, lakeTable);
        if (refusal !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['verify', 'checks', i, 'sql'], message: `is ${refusal}: a check runs one query that reads the lake (SELECT or WITH ... SELECT)` });
        }
      });
    }
    if (s.backend === 'aws' && s.source.kind !== 'rds' && s.source.kind !== 'dynamodb') {
      ctx.addIssue({ code: 'custom', path: ['source', 'kind'], message: 'backend aws reads from RDS or DynamoDB: set source.kind to rds or dynamodb' });
    }
    if (s.source.kind === 'rds' && s.aws && !s.aws.export) {
      ctx.addIssue({ code: 'custom', path: ['aws', 'export'], message: 'an rds source needs aws.export (bucket, iamRoleArn, kmsKeyId): where RDS writes the snapshot export (docs/aws-setup.md)' });
    }
    for (const problem of dynamoSourceProblems(s)) ctx.addIssue({ code: 'custom', ...problem });
    if (s.backend === 'local' && s.source.kind === 'rds') {
      ctx.addIssue({ code: 'custom', path: ['backend'], message: 'an rds source needs backend aws' });
    }
    for (const problem of hashKeyProblems(s)) ctx.addIssue({ code: 'custom', ...problem });
    for (const problem of directSourceProblems(s)) ctx.addIssue({ code: 'custom', ...problem });
    if (s.timeouts.pollMaximumSeconds < s.timeouts.pollInitialSeconds) {
      ctx.addIssue({ code: 'custom', path: ['timeouts', 'pollMaximumSeconds'], message: 'must not be smaller than pollInitialSeconds' });
    }
  });

export const configSchema = z
  .object({
    temporal: z
      .object({
        // Blank names no task queue or namespace, which the server refuses only when a command runs (as LAKESYNC_TASK_QUEUE and TEMPORAL_NAMESPACE are refused).
        taskQueue: z.string().regex(/\S/, 'is blank: give a task queue name, or remove it to use the default lakesync').default('lakesync'),
        namespace: z.string().regex(/\S/, 'is blank: give a namespace, or remove it to use the default namespace "default"').default('default'),
        address: z
          .string()
          .superRefine((address, ctx) => {
            const problem = hostPortProblem(address);
            if (problem) ctx.addIssue({ code: 'custom', message: problem, input: address });
          })
          .optional()
          .describe('host:port; TEMPORAL_ADDRESS and the envconfig profile win when set.'),
        connectTimeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(600)
          .optional()
          .describe('How long a command waits for Temporal to answer (a refused connection is tried again until then) before it says the server cannot be reached; default 10.'),
      })
      .strict()
      .default({ taskQueue: 'lakesync', namespace: 'default' })
      .describe('Where the workflows run.'),
    sources: z
      .record(z.string().regex(SOURCE_NAME, SOURCE_NAME_RULE), sourceSchema)
      .refine((r) => Object.keys(r).length > 0, { message: 'define at least one source' })
      .describe('The databases to copy, by source name (the workflow id is lakesync/<source>).'),
  })
  .strict();

export type LakesyncConfig = z.infer<typeof configSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type TableSettings = z.infer<typeof tableSettings>;
