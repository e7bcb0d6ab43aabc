/**
 * The IAM actions the principals need, in one place: `lakesync doctor`
 * simulates them against the account, and the policy tests hold docs/aws-setup.md and the
 * CloudFormation template (infra/lakesync.yaml) to them, so neither can drift from the code.
 *
 * Resources are written with the placeholders of docs/aws-setup.md (REGION, ACCOUNT,
 * EXPORT_BUCKET, ...); `resolveResource` fills them in for one source.
 */

/** How access to the S3 Tables catalog is controlled (config `aws.lakeFormation.mode`). */
export type LakeFormationMode = 'lakeformation' | 'iam';

export interface RequiredAction {
  action: string;
  /** ARN templates the action must be allowed on (all of them). */
  resources: readonly string[];
  /** Only in this Lake Formation mode; both when absent. */
  mode?: LakeFormationMode;
  /** Condition keys the request carries, for actions a policy allows only under a condition. */
  context?: Readonly<Record<string, readonly string[]>>;
  /** The condition a statement allowing the action keeps (as the shipped policies do), so a suggested fix grants no more. */
  condition?: PolicyCondition;
  why: string;
}

/** A policy statement's Condition: operator, then condition key, then value(s). */
export type PolicyCondition = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

const EXPORT_BUCKET_ARN = 'arn:aws:s3:::EXPORT_BUCKET';
const EXPORT_OBJECTS_ARN = 'arn:aws:s3:::EXPORT_BUCKET/EXPORT_PREFIX/*';
const KEY_ARN = 'arn:aws:kms:REGION:ACCOUNT:key/KEY_ID';
const TABLE_BUCKET_ARN = 'arn:aws:s3tables:REGION:ACCOUNT:bucket/TABLE_BUCKET';
const LAKE_TABLES_ARN = 'arn:aws:s3tables:REGION:ACCOUNT:bucket/TABLE_BUCKET/table/*';
/** Glue authorizes a request on an S3 Tables object against each catalog level above it. */
const CATALOG_ARNS = [
  'arn:aws:glue:REGION:ACCOUNT:catalog',
  'arn:aws:glue:REGION:ACCOUNT:catalog/s3tablescatalog',
  'arn:aws:glue:REGION:ACCOUNT:catalog/s3tablescatalog/TABLE_BUCKET',
];
const DATABASE_ARN = 'arn:aws:glue:REGION:ACCOUNT:database/s3tablescatalog/TABLE_BUCKET/NAMESPACE';
const GLUE_TABLES_ARN = 'arn:aws:glue:REGION:ACCOUNT:table/s3tablescatalog/TABLE_BUCKET/NAMESPACE/*';

/**
 * What RDS needs of the export role (StartExportTask's IamRoleArn and KmsKeyId documentation):
 * write, read and delete the export objects, list the bucket, and use the key.
 */
export const EXPORT_ROLE_S3_ACTIONS: readonly RequiredAction[] = [
  { action: 's3:PutObject', resources: [EXPORT_OBJECTS_ARN], why: 'RDS writes the export files' },
  { action: 's3:GetObject', resources: [EXPORT_OBJECTS_ARN], why: 'RDS reads back what it wrote' },
  { action: 's3:DeleteObject', resources: [EXPORT_OBJECTS_ARN], why: 'RDS removes partial files' },
  { action: 's3:ListBucket', resources: [EXPORT_BUCKET_ARN], why: 'RDS lists the export prefix' },
  { action: 's3:GetBucketLocation', resources: [EXPORT_BUCKET_ARN], why: 'RDS checks the bucket region' },
];

export const EXPORT_ROLE_KMS_ACTIONS: readonly RequiredAction[] = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:CreateGrant',
  'kms:DescribeKey',
  'kms:RetireGrant',
].map((action) => ({ action, resources: [KEY_ARN], why: 'RDS encrypts the export with the key' }));

/** The service the worker passes the export role to (the `iam:PassedToService` of StartExportTask). */
export const EXPORT_SERVICE = 'export.rds.amazonaws.com';

/**
 * The `iam:PassedToService` values StartExportTask may carry for the export role. The shipped
 * policies (docs/aws-setup.md, infra/lakesync.yaml) allow both RDS principals; the doctor asks
 * both, so a policy it passes works whichever one RDS names.
 */
export const EXPORT_PASSED_TO_SERVICES: readonly string[] = ['rds.amazonaws.com', EXPORT_SERVICE];

const S3TABLES_ON_BUCKET = ['s3tables:GetTableBucket', 's3tables:GetNamespace', 's3tables:CreateTable'];
const S3TABLES_ON_TABLES = [
  's3tables:GetTable',
  's3tables:GetTableMetadataLocation',
  's3tables:UpdateTableMetadataLocation',
  's3tables:GetTableData',
  's3tables:PutTableData',
];

/**
 * Every action the Glue job (glue/) uses with its role. The S3 Tables actions are needed in
 * `iam` mode (GlueCatalog + S3FileIO with the role's own credentials); in `lakeformation` mode
 * Lake Formation vends the table credentials instead and the role needs GetDataAccess.
 */
export const GLUE_JOB_ACTIONS: readonly RequiredAction[] = [
  { action: 's3:GetObject', resources: [EXPORT_OBJECTS_ARN], why: 'the job reads the export files' },
  { action: 's3:ListBucket', resources: [EXPORT_BUCKET_ARN], why: "the job lists a table's export files" },
  { action: 's3:GetObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/SCRIPT_PREFIX/*'], why: 'Glue loads the job scripts' },
  { action: 's3:PutObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/RESULT_PREFIX/*'], why: 'the job writes its result JSON' },
  { action: 's3:GetObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/RESULT_PREFIX/*'], why: "a packed run reads its pack file and the results of its tables already loaded; a load reads its arguments file" },
  // Without it S3 answers 403, not 404, for a table's result not written yet: the packed run warns that it could not read it.
  { action: 's3:ListBucket', resources: ['arn:aws:s3:::SCRIPT_BUCKET'], why: 'S3 tells a packed run that a table has no result yet (404, not 403) only with it' },
  { action: 'kms:Decrypt', resources: [KEY_ARN], why: 'the export files are encrypted with the export key' },
  { action: 'glue:GetCatalog', resources: CATALOG_ARNS, why: "the job resolves the table bucket's catalog" },
  { action: 'glue:GetDatabase', resources: [...CATALOG_ARNS, DATABASE_ARN], why: 'the job reads the namespace' },
  { action: 'glue:GetTable', resources: [...CATALOG_ARNS, DATABASE_ARN, GLUE_TABLES_ARN], why: 'the job reads the lake table' },
  { action: 'glue:CreateTable', resources: [...CATALOG_ARNS, DATABASE_ARN, GLUE_TABLES_ARN], why: 'the job creates a missing lake table' },
  { action: 'glue:UpdateTable', resources: [...CATALOG_ARNS, DATABASE_ARN, GLUE_TABLES_ARN], why: 'each Iceberg commit updates the table' },
  ...S3TABLES_ON_BUCKET.map((action) => ({ action, resources: [TABLE_BUCKET_ARN], mode: 'iam' as const, why: 'Iceberg on S3 Tables with IAM access control' })),
  ...S3TABLES_ON_TABLES.map((action) => ({ action, resources: [LAKE_TABLES_ARN], mode: 'iam' as const, why: 'Iceberg on S3 Tables with IAM access control' })),
  { action: 'lakeformation:GetDataAccess', resources: ['*'], mode: 'lakeformation', why: 'Lake Formation vends the table credentials' },
  { action: 'logs:CreateLogGroup', resources: ['arn:aws:logs:REGION:ACCOUNT:log-group:/aws-glue/*'], why: 'Glue writes the run logs' },
  { action: 'logs:CreateLogStream', resources: ['arn:aws:logs:REGION:ACCOUNT:log-group:/aws-glue/*'], why: 'Glue writes the run logs' },
  { action: 'logs:PutLogEvents', resources: ['arn:aws:logs:REGION:ACCOUNT:log-group:/aws-glue/*'], why: 'Glue writes the run logs' },
];

/** A DynamoDB source's tables, their exports, and the folder DynamoDB writes them to. */
const DYNAMODB_TABLE_ARN = 'arn:aws:dynamodb:DYNAMODB_REGION:ACCOUNT:table/DYNAMODB_TABLE';
const DYNAMODB_EXPORT_ARN = 'arn:aws:dynamodb:DYNAMODB_REGION:ACCOUNT:table/DYNAMODB_TABLE/export/*';
const DYNAMODB_EXPORT_OBJECTS_ARN = 'arn:aws:s3:::DYNAMODB_EXPORT_BUCKET/DYNAMODB_EXPORT_PREFIX/*';
/** The source's manifests (plan, stored state, parts of large documents), kept under the export prefix. */
const DYNAMODB_MANIFESTS_ARN = 'arn:aws:s3:::DYNAMODB_EXPORT_BUCKET/DYNAMODB_EXPORT_PREFIX/lakesync-manifests/*';
/** The manifest summary DynamoDB writes into each completed export (`<source>/<exportId>/AWSDynamoDB/<its id>/`): its table and start time. */
const DYNAMODB_EXPORT_SUMMARIES_ARN = 'arn:aws:s3:::DYNAMODB_EXPORT_BUCKET/DYNAMODB_EXPORT_PREFIX/*/AWSDynamoDB/*/manifest-summary.json';

/**
 * What the worker needs for a DynamoDB source (source.kind dynamodb). DynamoDB writes the export
 * with the permissions of the caller of ExportTableToPointInTime, so the S3 (and KMS) actions of
 * the export are the worker's ("Requesting a table export in DynamoDB": s3:AbortMultipartUpload,
 * s3:PutObject, s3:PutObjectAcl); there is no export role.
 */
export const DYNAMODB_WORKER_ACTIONS: readonly (RequiredAction & { kms?: true })[] = [
  { action: 'dynamodb:ListTables', resources: ['*'], why: 'the source syncs every table ListTables returns unless source.tables lists them' },
  { action: 'dynamodb:DescribeTable', resources: [DYNAMODB_TABLE_ARN], why: "the plan reads each table's ARN and key" },
  { action: 'dynamodb:DescribeContinuousBackups', resources: [DYNAMODB_TABLE_ARN], why: 'the plan checks point-in-time recovery and its earliest restorable time; an export refused for its time reads the window' },
  { action: 'dynamodb:ExportTableToPointInTime', resources: [DYNAMODB_TABLE_ARN], why: 'each cycle exports the table (full or incremental)' },
  // "*": the Service Authorization Reference has listed ListExports both with the table as its
  // resource and with none (then only "*" allows it); "*" is allowed either way.
  { action: 'dynamodb:ListExports', resources: ['*'], why: 'a retried export finds the export its earlier attempt started' },
  { action: 'dynamodb:DescribeExport', resources: [DYNAMODB_EXPORT_ARN], why: 'the cycle polls the export' },
  { action: 's3:PutObject', resources: [DYNAMODB_EXPORT_OBJECTS_ARN], why: 'DynamoDB writes the export files with the caller\'s permissions' },
  { action: 's3:AbortMultipartUpload', resources: [DYNAMODB_EXPORT_OBJECTS_ARN], why: 'DynamoDB writes the export files with the caller\'s permissions' },
  { action: 's3:PutObjectAcl', resources: [DYNAMODB_EXPORT_OBJECTS_ARN], why: 'DynamoDB writes the export files with the caller\'s permissions' },
  { action: 's3:ListBucket', resources: ['arn:aws:s3:::DYNAMODB_EXPORT_BUCKET'], why: 'the worker finds an export\'s folder when DescribeExport names no manifest' },
  {
    action: 's3:GetObject',
    resources: [DYNAMODB_MANIFESTS_ARN, DYNAMODB_EXPORT_SUMMARIES_ARN],
    why: "the source reads its manifests (a cancelled run's state on start, each cycle's plan, documents stored by reference), and retention each export's manifest summary (its table and start time)",
  },
  {
    action: 's3:DeleteObject',
    resources: [DYNAMODB_EXPORT_OBJECTS_ARN],
    why: 'retention deletes the export files of older cycles and the manifests of older cycles; the source deletes the parts of documents it stored by reference once read',
  },
  { action: 'kms:GenerateDataKey', resources: [KEY_ARN], kms: true, why: 'DynamoDB encrypts the export files with source.export.kmsKeyId' },
  { action: 'kms:Decrypt', resources: [KEY_ARN], kms: true, why: 'DynamoDB encrypts the export files with source.export.kmsKeyId' },
];

/** The worker's DynamoDB actions; the KMS ones only when the exports are encrypted with a key. */
export function dynamodbWorkerActions(withKey: boolean): RequiredAction[] {
  return DYNAMODB_WORKER_ACTIONS.filter((a) => withKey || !a.kms).map(({ kms: _kms, ...action }) => action);
}

/** Where a worker action applies: the source's kind, its database, its auth, its Lake Formation mode. */
export interface WorkerScope {
  kind: 'rds' | 'dynamodb';
  /** RDS sources: an instance or an Aurora cluster. */
  database?: 'instance' | 'cluster';
  mode: LakeFormationMode;
  /** Direct tables: how the worker reads the source catalog. */
  catalogAuth?: DirectAuth;
  /** aws.tableBucket.create: the worker creates the table bucket. */
  createTableBucket: boolean;
  /** aws.athena.outputLocation is set (by default): Athena writes the results there with the worker's permissions. */
  athenaOutput?: boolean;
}

type WorkerAction = RequiredAction & { when?: (scope: WorkerScope) => boolean };

/** The tag the worker puts on its snapshots (src/aws/rds-snapshots.ts); retention deletes only snapshots with it. */
export const SNAPSHOT_TAG = { key: 'lakesync', value: 'snapshot' } as const;
/** The simulation carries the tag, for policies that allow creating only tagged snapshots. */
const SNAPSHOT_TAG_CONTEXT = { 'aws:TagKeys': [SNAPSHOT_TAG.key], [`aws:RequestTag/${SNAPSHOT_TAG.key}`]: [SNAPSHOT_TAG.value] };

const rdsInstance = (s: WorkerScope) => s.kind === 'rds' && s.database !== 'cluster';
const rdsCluster = (s: WorkerScope) => s.kind === 'rds' && s.database === 'cluster';
const rds = (s: WorkerScope) => s.kind === 'rds';
const athenaOutput = (s: WorkerScope) => s.athenaOutput !== false;

/**
 * What the worker (the principal running `lakesync worker`) calls in every cycle, on the
 * resources of one source; `lakesync doctor` simulates these for its caller. The DynamoDB
 * source's own actions are DYNAMODB_WORKER_ACTIONS. infra/lakesync.yaml's worker policy allows
 * them all (test/aws/policies.test.ts).
 */
export const WORKER_ACTIONS: readonly WorkerAction[] = [
  ...['rds:CreateDBSnapshot', 'rds:AddTagsToResource', 'rds:DescribeDBSnapshots'].map((action) => ({
    action,
    resources: action === 'rds:CreateDBSnapshot' ? ['arn:aws:rds:REGION:ACCOUNT:db:DB_INSTANCE', 'arn:aws:rds:REGION:ACCOUNT:snapshot:SNAPSHOT_ID'] : ['arn:aws:rds:REGION:ACCOUNT:snapshot:SNAPSHOT_ID'],
    ...(action.startsWith('rds:Describe') ? {} : { context: SNAPSHOT_TAG_CONTEXT }),
    when: rdsInstance,
    why: 'each cycle snapshots the instance, tagged lakesync',
  })),
  ...['rds:CreateDBClusterSnapshot', 'rds:AddTagsToResource', 'rds:DescribeDBClusterSnapshots'].map((action) => ({
    action,
    resources: action === 'rds:CreateDBClusterSnapshot' ? ['arn:aws:rds:REGION:ACCOUNT:cluster:DB_CLUSTER', 'arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:SNAPSHOT_ID'] : ['arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:SNAPSHOT_ID'],
    ...(action.startsWith('rds:Describe') ? {} : { context: SNAPSHOT_TAG_CONTEXT }),
    when: rdsCluster,
    why: 'each cycle snapshots the cluster, tagged lakesync',
  })),
  { action: 'rds:StartExportTask', resources: ['*'], when: rds, why: 'each cycle exports the snapshot to S3' },
  { action: 'rds:DescribeExportTasks', resources: ['*'], when: rds, why: 'the cycle polls the export' },
  { action: 'rds:CancelExportTask', resources: ['*'], when: rds, why: 'a cancelled cycle cancels its export, which would run on (and be billed) otherwise' },
  // Retention (retention.snapshots, at least 1) deletes the older snapshots lakesync took after each cycle; only tagged ones.
  {
    action: 'rds:DeleteDBSnapshot',
    resources: ['arn:aws:rds:REGION:ACCOUNT:snapshot:SNAPSHOT_ID'],
    context: { [`rds:snapshot-tag/${SNAPSHOT_TAG.key}`]: [SNAPSHOT_TAG.value] },
    condition: { StringLike: { [`rds:snapshot-tag/${SNAPSHOT_TAG.key}`]: '*' } },
    when: rdsInstance,
    why: 'retention deletes the older snapshots lakesync took (they count against the manual snapshot quota)',
  },
  {
    action: 'rds:DeleteDBClusterSnapshot',
    resources: ['arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:SNAPSHOT_ID'],
    context: { [`rds:cluster-snapshot-tag/${SNAPSHOT_TAG.key}`]: [SNAPSHOT_TAG.value] },
    condition: { StringLike: { [`rds:cluster-snapshot-tag/${SNAPSHOT_TAG.key}`]: '*' } },
    when: rdsCluster,
    why: 'retention deletes the older cluster snapshots lakesync took (they count against the manual snapshot quota)',
  },
  // StartExportTask checks the key permissions on the caller too (the export role's are the kms-key check's).
  ...['kms:CreateGrant', 'kms:DescribeKey'].map((action) => ({ action, resources: [KEY_ARN], when: rds, why: 'StartExportTask checks them on the caller' })),
  { action: 'kms:Decrypt', resources: [KEY_ARN], when: rds, why: 'the worker reads the encrypted export files (their sizes and the export info)' },
  { action: 's3:ListBucket', resources: [EXPORT_BUCKET_ARN], when: rds, why: "the worker lists a table's export files" },
  { action: 's3:GetObject', resources: [EXPORT_OBJECTS_ARN], when: rds, why: 'the worker reads the export info files and its manifests (<export prefix>/lakesync-manifests/)' },
  { action: 's3:PutObject', resources: [EXPORT_OBJECTS_ARN], when: rds, why: 'the worker stores its manifests (plans, documents too large to pass inline, the stored state)' },
  { action: 's3:DeleteObject', resources: [EXPORT_OBJECTS_ARN], when: rds, why: 'retention deletes older exports and the manifests of older cycles, and read manifests are deleted' },
  {
    action: 'iam:PassRole',
    resources: ['GLUE_ROLE_ARN'],
    context: { 'iam:PassedToService': ['glue.amazonaws.com'] },
    // Without it the worker could hand the role to any service.
    condition: { StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } },
    why: 'CreateJob and UpdateJob pass the Glue job role',
  },
  { action: 's3:PutObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/SCRIPT_PREFIX/*'], why: 'the worker uploads the Glue job scripts' },
  { action: 's3:GetObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/SCRIPT_PREFIX/*'], why: 'the worker checks (HeadObject) whether a scripts version is uploaded already' },
  { action: 's3:GetObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/RESULT_PREFIX/*'], why: 'the worker reads the result of each load and the summary of each pack' },
  { action: 's3:PutObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/RESULT_PREFIX/*'], why: 'the worker writes the pack file of each packed run, and the arguments file of a load whose arguments are too long for its run' },
  { action: 's3:DeleteObject', resources: ['arn:aws:s3:::SCRIPT_BUCKET/RESULT_PREFIX/*'], why: "retention deletes the load results, pack and arguments files of older cycles (<result prefix>/<source>/<cycle>/)" },
  // Without it S3 answers 403, not 404, for a key that is not there yet (scripts not uploaded, no result written).
  { action: 's3:ListBucket', resources: ['arn:aws:s3:::SCRIPT_BUCKET'], why: 'S3 tells the worker that a script, result or pack summary does not exist yet only with it' },
  ...['glue:GetJob', 'glue:CreateJob', 'glue:UpdateJob', 'glue:TagResource', 'glue:StartJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:BatchStopJobRun'].map((action) => ({
    action,
    resources: ['arn:aws:glue:REGION:ACCOUNT:job/GLUE_JOB'],
    why: 'the worker keeps the Glue job up to date and runs a load per table',
  })),
  { action: 's3tables:CreateTableBucket', resources: [TABLE_BUCKET_ARN], when: (s) => s.createTableBucket, why: 'aws.tableBucket.create: the first sync creates the table bucket' },
  ...['s3tables:GetTableBucket', 's3tables:GetNamespace', 's3tables:CreateNamespace', 's3tables:ListNamespaces', 's3tables:ListTables'].map((action) => ({
    action,
    resources: [TABLE_BUCKET_ARN],
    why: 'the worker creates the namespace and lists the lake tables',
  })),
  ...['lakeformation:ListPermissions', 'lakeformation:BatchGrantPermissions'].map((action) => ({ action, resources: ['*'], mode: 'lakeformation' as const, why: 'the worker grants the configured principals' })),
  { action: 'lakeformation:GetDataAccess', resources: ['*'], mode: 'lakeformation', why: 'Athena reads Lake Formation governed data for the checks' },
  ...['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'].map((action) => ({ action, resources: ['arn:aws:athena:REGION:ACCOUNT:workgroup/WORKGROUP'], why: 'the worker verifies each load with Athena' })),
  ...['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'].map((action) => ({ action, resources: ['arn:aws:s3:::ATHENA_OUTPUT/*'], when: athenaOutput, why: 'Athena writes and reads the query results with the caller\'s permissions' })),
  ...['s3:GetBucketLocation', 's3:ListBucket'].map((action) => ({ action, resources: ['arn:aws:s3:::ATHENA_BUCKET'], when: athenaOutput, why: 'Athena checks and lists the result bucket with the caller\'s permissions' })),
  ...['glue:GetCatalog', 'glue:GetDatabase', 'glue:GetTable'].map((action) => ({ action, resources: [...CATALOG_ARNS, DATABASE_ARN, GLUE_TABLES_ARN], why: 'Athena reads the lake table for the checks' })),
  // Athena: "The DESCRIBE permission is required on the default database" for Lake Formation governed data; IAM is checked too.
  {
    action: 'glue:GetDatabase',
    resources: ['arn:aws:glue:REGION:ACCOUNT:catalog', 'arn:aws:glue:REGION:ACCOUNT:database/default'],
    mode: 'lakeformation',
    why: "Athena looks up the default database of the account's catalog for a query on Lake Formation governed data",
  },
  ...['s3tables:GetTable', 's3tables:GetTableMetadataLocation', 's3tables:GetTableData'].map((action) => ({ action, resources: [LAKE_TABLES_ARN], mode: 'iam' as const, why: 'Athena reads the lake with the worker credentials in iam mode' })),
  { action: 'secretsmanager:GetSecretValue', resources: ['CATALOG_SECRET_ARN'], when: (s) => s.catalogAuth === 'secret', why: "the worker reads the source catalog with the catalog secret's password" },
  { action: 'rds-db:connect', resources: ['arn:aws:rds-db:REGION:ACCOUNT:dbuser:DB_RESOURCE_ID/DB_USER'], when: (s) => s.catalogAuth === 'iam', why: 'the worker reads the source catalog with an IAM authentication token' },
];

/** The worker's actions for one source (DYNAMODB_WORKER_ACTIONS not included). */
export function workerActions(scope: WorkerScope): RequiredAction[] {
  return WORKER_ACTIONS.filter((a) => (a.mode === undefined || a.mode === scope.mode) && (a.when?.(scope) ?? true)).map(({ when: _when, ...action }) => action);
}

/** The Glue job's actions in one Lake Formation mode. */
export function glueJobActions(mode: LakeFormationMode): RequiredAction[] {
  return GLUE_JOB_ACTIONS.filter((a) => a.mode === undefined || a.mode === mode);
}

/** How a direct load logs in to the source database (`source.catalog`). */
export type DirectAuth = 'secret' | 'iam';

/** The tag Glue puts on the network interfaces it creates in a connection's subnet. */
export const GLUE_ENI_TAG = 'aws-glue-service-resource';

/**
 * What the Glue job role needs beyond GLUE_JOB_ACTIONS when the source has tables with
 * `extract: direct`: the job runs in the subnet of the source's Glue connection (Glue reads the
 * connection and creates, tags and deletes the job's network interfaces with the role; the
 * AWSGlueServiceRole managed policy lists the same EC2 actions), then logs in to the database
 * with the secret's password or an IAM authentication token.
 */
export const GLUE_JOB_DIRECT_ACTIONS: readonly (RequiredAction & { auth?: DirectAuth; rootCert?: true })[] = [
  { action: 'glue:GetConnection', resources: ['arn:aws:glue:REGION:ACCOUNT:catalog', 'arn:aws:glue:REGION:ACCOUNT:connection/GLUE_CONNECTION'], why: "Glue reads the connection's subnet and security groups for the run" },
  ...[
    'ec2:CreateNetworkInterface',
    'ec2:DeleteNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSubnets',
    'ec2:DescribeVpcAttribute',
    'ec2:DescribeVpcEndpoints',
    'ec2:DescribeRouteTables',
  ].map((action) => ({ action, resources: ['*'], why: "Glue places the run's network interfaces in the connection's subnet" })),
  ...['ec2:CreateTags', 'ec2:DeleteTags'].map((action) => ({
    action,
    resources: ['arn:aws:ec2:REGION:ACCOUNT:network-interface/*'],
    context: { 'aws:TagKeys': [GLUE_ENI_TAG] },
    condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [GLUE_ENI_TAG] } },
    why: 'Glue tags the network interfaces it creates',
  })),
  { action: 'secretsmanager:GetSecretValue', resources: ['CATALOG_SECRET_ARN'], auth: 'secret', why: "the job reads the database password from the catalog's secret" },
  { action: 'rds-db:connect', resources: ['arn:aws:rds-db:REGION:ACCOUNT:dbuser:DB_RESOURCE_ID/DB_USER'], auth: 'iam', why: 'the job signs an IAM authentication token for the database user' },
  { action: 's3:GetObject', resources: ['arn:aws:s3:::SSL_ROOT_CERT'], rootCert: true, why: 'the job reads the CA bundle it checks the database server against (sslmode verify-full or verify-ca)' },
];

/**
 * The Glue job's extra actions for direct loads that log in with `auth`; with `rootCert`, also
 * reading the CA bundle of `source.catalog.sslRootCert`.
 */
export function glueJobDirectActions(auth: DirectAuth, rootCert = false): RequiredAction[] {
  return GLUE_JOB_DIRECT_ACTIONS.filter((a) => (a.auth === undefined || a.auth === auth) && (!a.rootCert || rootCert)).map(({ auth: _auth, rootCert: _rootCert, ...action }) => action);
}

/**
 * The read-only calls `lakesync doctor` makes and the IAM action each needs, for the policy of
 * the principal that runs it. The doctor never calls anything else (test/core/doctor.test.ts).
 */
export const DOCTOR_CALLS: readonly { call: string; action: string }[] = [
  { call: 'STS GetCallerIdentity', action: 'sts:GetCallerIdentity' },
  { call: 'RDS DescribeDBInstances', action: 'rds:DescribeDBInstances' },
  { call: 'RDS DescribeDBClusters', action: 'rds:DescribeDBClusters' },
  { call: 'IAM GetRole', action: 'iam:GetRole' },
  { call: 'IAM SimulatePrincipalPolicy', action: 'iam:SimulatePrincipalPolicy' },
  { call: 'IAM ListRolePolicies', action: 'iam:ListRolePolicies' },
  { call: 'IAM GetRolePolicy', action: 'iam:GetRolePolicy' },
  { call: 'IAM ListAttachedRolePolicies', action: 'iam:ListAttachedRolePolicies' },
  { call: 'IAM GetPolicy', action: 'iam:GetPolicy' },
  { call: 'IAM GetPolicyVersion', action: 'iam:GetPolicyVersion' },
  { call: 'KMS DescribeKey', action: 'kms:DescribeKey' },
  { call: 'KMS GetKeyPolicy', action: 'kms:GetKeyPolicy' },
  { call: 'KMS ListGrants', action: 'kms:ListGrants' },
  { call: 'S3 HeadBucket', action: 's3:ListBucket' },
  { call: 'S3Tables GetTableBucket', action: 's3tables:GetTableBucket' },
  { call: 'Glue GetCatalog', action: 'glue:GetCatalog' },
  { call: 'Glue GetJob', action: 'glue:GetJob' },
  { call: 'LakeFormation ListResources', action: 'lakeformation:ListResources' },
  { call: 'LakeFormation GetDataLakeSettings', action: 'lakeformation:GetDataLakeSettings' },
  { call: 'Athena GetWorkGroup', action: 'athena:GetWorkGroup' },
  { call: 'Glue GetConnection', action: 'glue:GetConnection' },
  { call: 'SecretsManager DescribeSecret', action: 'secretsmanager:DescribeSecret' },
  { call: 'S3 HeadObject', action: 's3:GetObject' },
  { call: 'DynamoDB ListTables', action: 'dynamodb:ListTables' },
  { call: 'DynamoDB DescribeContinuousBackups', action: 'dynamodb:DescribeContinuousBackups' },
];

/** The names a source fills the placeholders with. */
export interface ResourceNames {
  partition: string;
  region: string;
  accountId: string;
  exportBucket: string;
  exportPrefix: string;
  scriptBucket: string;
  scriptPrefix: string;
  resultPrefix: string;
  tableBucket: string;
  namespace: string;
  /** The key's id (as DescribeKey answers it), not an alias. */
  keyId: string;
  /** Direct loads only: the Glue connection, the catalog's secret, the database user and resource id. */
  glueConnection?: string;
  catalogSecretArn?: string;
  dbUser?: string;
  /** The instance's DbiResourceId or the cluster's DbClusterResourceId (IAM authentication names it). */
  dbResourceId?: string;
  /** `bucket/key` of the CA bundle (`source.catalog.sslRootCert` without `s3://`). */
  sslRootCert?: string;
  /** The worker's resources: its database, a snapshot id of the source, the Glue job and role, the workgroup and Athena's output (bucket/prefix). */
  dbInstance?: string;
  dbCluster?: string;
  snapshotId?: string;
  glueJob?: string;
  glueRoleArn?: string;
  workgroup?: string;
  athenaBucket?: string;
  athenaOutput?: string;
  /** DynamoDB sources only: the tables' region, a table (or `*`), and where the exports go. */
  dynamodbRegion?: string;
  dynamodbTable?: string;
  dynamodbExportBucket?: string;
  dynamodbExportPrefix?: string;
}

/** An ARN template with the source's names; an empty prefix leaves no double slash. */
export function resolveResource(template: string, names: ResourceNames): string {
  const values: Record<string, string | undefined> = {
    REGION: names.region,
    ACCOUNT: names.accountId,
    EXPORT_BUCKET: names.exportBucket,
    EXPORT_PREFIX: names.exportPrefix,
    SCRIPT_BUCKET: names.scriptBucket,
    SCRIPT_PREFIX: names.scriptPrefix,
    RESULT_PREFIX: names.resultPrefix,
    TABLE_BUCKET: names.tableBucket,
    NAMESPACE: names.namespace,
    KEY_ID: names.keyId,
    GLUE_CONNECTION: names.glueConnection,
    CATALOG_SECRET_ARN: names.catalogSecretArn,
    DB_USER: names.dbUser,
    DB_RESOURCE_ID: names.dbResourceId,
    SSL_ROOT_CERT: names.sslRootCert,
    DYNAMODB_REGION: names.dynamodbRegion,
    DYNAMODB_TABLE: names.dynamodbTable,
    DYNAMODB_EXPORT_BUCKET: names.dynamodbExportBucket,
    DYNAMODB_EXPORT_PREFIX: names.dynamodbExportPrefix,
    DB_INSTANCE: names.dbInstance,
    DB_CLUSTER: names.dbCluster,
    SNAPSHOT_ID: names.snapshotId,
    GLUE_JOB: names.glueJob,
    GLUE_ROLE_ARN: names.glueRoleArn,
    WORKGROUP: names.workgroup,
    ATHENA_BUCKET: names.athenaBucket,
    ATHENA_OUTPUT: names.athenaOutput,
  };
  const resolved = template
    .replace(/^arn:aws:/, `arn:${names.partition}:`)
    .replace(/\b(REGION|ACCOUNT|EXPORT_BUCKET|EXPORT_PREFIX|SCRIPT_BUCKET|SCRIPT_PREFIX|RESULT_PREFIX|TABLE_BUCKET|NAMESPACE|KEY_ID|GLUE_CONNECTION|CATALOG_SECRET_ARN|DB_USER|DB_RESOURCE_ID|SSL_ROOT_CERT|DYNAMODB_REGION|DYNAMODB_TABLE|DYNAMODB_EXPORT_BUCKET|DYNAMODB_EXPORT_PREFIX|DB_INSTANCE|DB_CLUSTER|SNAPSHOT_ID|GLUE_JOB|GLUE_ROLE_ARN|WORKGROUP|ATHENA_BUCKET|ATHENA_OUTPUT)\b/g, (name) => {
      const value = values[name];
      if (value === undefined) throw new Error(`the resource ${template} names ${name}, which this source does not give`);
      return value;
    });
  // A secret's or role's own ARN is taken as it is; only the templates' slashes are collapsed.
  return template === 'CATALOG_SECRET_ARN' || template === 'GLUE_ROLE_ARN' ? resolved : resolved.replace(/\/{2,}/g, '/');
}
