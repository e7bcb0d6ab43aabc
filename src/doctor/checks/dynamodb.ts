/**
 * The checks of a DynamoDB source: point-in-time recovery is on for every table it syncs
 * (ExportTableToPointInTime needs it, and the plan refuses a table without it), and the bucket
 * DynamoDB exports to exists where the worker and the Glue job can read it. Read-only: DynamoDB
 * ListTables, DescribeContinuousBackups and S3 HeadBucket.
 */
import { DescribeContinuousBackupsCommand, type DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { hasAwsCode, httpStatusOf } from '../../aws/errors';
import { dynamoTableKey, dynamoTableNameOf, dynamoTableNameProblem } from '../../dynamodb/names';
import type { TableName } from '../../model';
import { callFailed } from '../report';
import { type CheckResult, fail, ok, warn } from '../types';

export const DYNAMODB_PITR = 'dynamodb-pitr';
export const DYNAMODB_EXPORT_BUCKET = 'dynamodb-export-bucket';

/** What the DynamoDB checks need of the source. */
export interface DynamoDoctorSource {
  /** The tables' region. */
  region: string;
  /** The lake's region, where the worker and the Glue job read the export files. */
  lakeRegion: string;
  partition: string;
  /** `source.tables` (names or ARNs); every table ListTables returns when absent. */
  tables?: string[];
  export: { bucket: string; prefix: string; kmsKeyId?: string };
  /** The include and exclude globs of the source (`dynamodb.<TableName>`). */
  included: (table: TableName) => boolean;
}

export interface DynamoDoctorContext {
  dynamodb: DynamoDBClient;
  s3: S3Client;
  source: DynamoDoctorSource;
  /** Filled by the PITR check: the tables the source syncs (the worker-permissions check simulates on them). */
  synced?: string[];
}

/** One FAIL per synced table without point-in-time recovery (or missing), else one ok. */
export async function checkPointInTimeRecovery(ctx: DynamoDoctorContext): Promise<CheckResult[]> {
  const { region } = ctx.source;
  let names: string[];
  try {
    names = ctx.source.tables ? ctx.source.tables.map(dynamoTableNameOf) : await listTableNames(ctx.dynamodb);
  } catch (err) {
    return [callFailed(DYNAMODB_PITR, err, 'DynamoDB ListTables', `the tables in ${region}`)];
  }
  const results: CheckResult[] = [];
  const synced = names.filter((name) => {
    const problem = dynamoTableNameProblem(name);
    if (problem) results.push(warn(DYNAMODB_PITR, `${problem} (not synced)`, 'rename the table, or leave it out of source.tables'));
    return !problem && ctx.source.included(dynamoTableKey(name));
  });
  ctx.synced = synced;
  if (synced.length === 0) {
    results.push(warn(DYNAMODB_PITR, `no DynamoDB table in ${region} is synced: ${ctx.source.tables ? 'source.tables' : 'ListTables'} gives none that the include and exclude globs select`, 'check source.region, source.tables and include (tables are named dynamodb.<TableName>)'));
    return results;
  }
  for (const name of synced) {
    let status: string | undefined;
    try {
      const out = await ctx.dynamodb.send(new DescribeContinuousBackupsCommand({ TableName: name }));
      status = out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus;
    } catch (err) {
      if (hasAwsCode(err, 'TableNotFoundException')) {
        results.push(fail(DYNAMODB_PITR, `DynamoDB table ${name} does not exist in ${region}`, `correct source.tables or source.region, or exclude ${dynamoTableKey(name)}`));
      } else {
        results.push(callFailed(DYNAMODB_PITR, err, 'DynamoDB DescribeContinuousBackups', `table ${name}`));
      }
      continue;
    }
    if (status !== 'ENABLED') {
      results.push(
        fail(
          DYNAMODB_PITR,
          `point-in-time recovery is off for DynamoDB table ${name}: exports need it, so every cycle fails this table (PointInTimeRecoveryOff)`,
          `aws dynamodb update-continuous-backups --region ${region} --table-name ${name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`,
        ),
      );
    }
  }
  if (!results.some((r) => r.status === 'FAIL')) results.push(ok(DYNAMODB_PITR));
  return results;
}

async function listTableNames(ddb: DynamoDBClient): Promise<string[]> {
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await ddb.send(new ListTablesCommand(start ? { ExclusiveStartTableName: start } : {}));
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start);
  return names;
}

/** The export bucket exists, the caller may list it, and it is in the lake's region. */
export async function checkDynamoExportBucket(ctx: DynamoDoctorContext): Promise<CheckResult> {
  const { bucket } = ctx.source.export;
  const region = ctx.source.lakeRegion;
  const elsewhere = (bucketRegion: string) =>
    fail(
      DYNAMODB_EXPORT_BUCKET,
      `export bucket ${bucket} is in ${bucketRegion}, the lake in ${region}: the worker and the Glue job read the export files from ${region}`,
      `use a bucket in ${region} for source.export.bucket`,
    );
  try {
    const head = await ctx.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    if (head.BucketRegion && head.BucketRegion !== region) return elsewhere(head.BucketRegion);
    return ok(DYNAMODB_EXPORT_BUCKET);
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) {
      const location = region === 'us-east-1' ? '' : ` --create-bucket-configuration LocationConstraint=${region}`;
      return fail(DYNAMODB_EXPORT_BUCKET, `export bucket ${bucket} (source.export.bucket) does not exist`, `aws s3api create-bucket --bucket ${bucket} --region ${region}${location}`);
    }
    if (status === 301) {
      const other = (err as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['x-amz-bucket-region'];
      return elsewhere(other ?? 'another region');
    }
    if (status === 403) {
      return fail(
        DYNAMODB_EXPORT_BUCKET,
        `export bucket ${bucket} exists but the caller may not list it (another account's bucket, or s3:ListBucket missing)`,
        `allow s3:ListBucket on arn:${ctx.source.partition}:s3:::${bucket} (docs/aws-setup.md, DynamoDB sources)`,
      );
    }
    return callFailed(DYNAMODB_EXPORT_BUCKET, err, 'S3 HeadBucket', `bucket ${bucket}`);
  }
}
