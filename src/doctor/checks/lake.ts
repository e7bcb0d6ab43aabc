/**
 * Checks 6, 7 and 9: the table bucket exists, the S3 Tables integration with AWS analytics
 * services is enabled (it creates the Glue catalog `s3tablescatalog`), and Lake Formation
 * governs the table bucket exactly when `aws.lakeFormation.mode` says so.
 *
 * Lake Formation mode, per the Lake Formation guide ("Enabling Amazon S3 Tables integration"):
 * the integration registers the table buckets' location, arn:aws:s3tables:REGION:ACCOUNT:bucket/*,
 * with Lake Formation (or a single bucket, bucket/NAME). ListResources shows that registration.
 */
import { GetCatalogCommand } from '@aws-sdk/client-glue';
import { GetDataLakeSettingsCommand, ListResourcesCommand } from '@aws-sdk/client-lakeformation';
import { GetTableBucketCommand } from '@aws-sdk/client-s3tables';
import { hasAwsCode } from '../../aws/errors';
import { callFailed } from '../report';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';

export const TABLE_BUCKET = 'table-bucket';
export const ANALYTICS_INTEGRATION = 'analytics-integration';
export const LAKE_FORMATION = 'lake-formation';

export async function checkTableBucket(ctx: DoctorContext): Promise<CheckResult> {
  const { name, arn, create } = ctx.settings.tableBucket;
  try {
    await ctx.clients.s3tables.send(new GetTableBucketCommand({ tableBucketARN: arn }));
    return ok(TABLE_BUCKET);
  } catch (err) {
    if (!hasAwsCode(err, 'NotFound', 'NoSuchBucket')) return callFailed(TABLE_BUCKET, err, 'S3Tables GetTableBucket', `table bucket ${arn}`);
  }
  if (create) return warn(TABLE_BUCKET, `table bucket ${name} does not exist yet; lakesync creates it on the first sync (tableBucket.create: true)`);
  return fail(TABLE_BUCKET, `table bucket ${name} (${arn}) does not exist`, `aws s3tables create-table-bucket --name ${name} --region ${ctx.settings.region} (or deploy infra/lakesync.yaml, or set aws.tableBucket.create: true)`);
}

export async function checkAnalyticsIntegration(ctx: DoctorContext): Promise<CheckResult> {
  try {
    await ctx.clients.glue.send(new GetCatalogCommand({ CatalogId: 's3tablescatalog' }));
    return ok(ANALYTICS_INTEGRATION);
  } catch (err) {
    if (hasAwsCode(err, 'EntityNotFound')) {
      return fail(
        ANALYTICS_INTEGRATION,
        `the S3 Tables integration with AWS analytics services is not enabled in ${ctx.settings.region}: the Glue Data Catalog has no catalog s3tablescatalog`,
        'enable it: S3 console, Table buckets, "Enable integration" (or the Lake Formation console, Catalogs, "Enable S3 Table integration"); docs/aws-setup.md section 5 step 1',
      );
    }
    return callFailed(ANALYTICS_INTEGRATION, err, 'Glue GetCatalog', 'catalog s3tablescatalog');
  }
}

export async function checkLakeFormationMode(ctx: DoctorContext): Promise<CheckResult> {
  const { partition, region, accountId, tableBucket, lakeFormationMode, grantPrincipals } = ctx.settings;
  const locations = [`arn:${partition}:s3tables:${region}:${accountId}:bucket/*`, tableBucket.arn];
  let registered: string | undefined;
  try {
    let token: string | undefined;
    do {
      const page = await ctx.clients.lakeformation.send(new ListResourcesCommand(token ? { NextToken: token } : {}));
      registered ??= page.ResourceInfoList?.map((r) => r.ResourceArn ?? '').find((r) => locations.includes(r));
      token = page.NextToken;
    } while (token && !registered);
  } catch (err) {
    return callFailed(LAKE_FORMATION, err, 'LakeFormation ListResources', 'the registered data locations');
  }
  if (lakeFormationMode === 'lakeformation') {
    if (registered) return (await workerMayGrant(ctx)) ?? ok(LAKE_FORMATION);
    return fail(
      LAKE_FORMATION,
      `aws.lakeFormation.mode is lakeformation, but no Lake Formation data location covers table bucket ${tableBucket.name} (neither ${locations.join(' nor ')} is registered)`,
      `enable the integration with Lake Formation (Lake Formation console, Catalogs, "Enable S3 Table integration"; docs/aws-setup.md section 5), or: aws lakeformation register-resource --resource-arn '${locations[0]}' --role-arn <Lake Formation data access role> --with-federation; or set aws.lakeFormation.mode: iam`,
    );
  }
  if (grantPrincipals.length > 0) {
    return warn(LAKE_FORMATION, `aws.lakeFormation.mode is iam, so the grants for ${grantPrincipals.join(', ')} do not apply`, 'grant those principals access by IAM policy and remove grants, or set aws.lakeFormation.mode: lakeformation');
  }
  if (registered) {
    return warn(
      LAKE_FORMATION,
      `aws.lakeFormation.mode is iam, but ${registered} is registered with Lake Formation: Lake Formation permissions may decide access to the lake tables`,
      'set aws.lakeFormation.mode: lakeformation, or migrate the S3 Tables catalog to IAM access control (AWS Glue guide, "Integrating with Amazon S3 Tables", access controls)',
    );
  }
  return ok(LAKE_FORMATION);
}

/**
 * In lakeformation mode the worker grants (the Glue job role on a namespace it creates, and
 * `grants`): BatchGrantPermissions needs a data lake administrator, or the permissions held with
 * grant option, which IAM simulation does not show. A warning when the caller is no administrator.
 */
async function workerMayGrant(ctx: DoctorContext): Promise<CheckResult | undefined> {
  const principal = ctx.caller?.principalArn;
  if (!principal) return undefined;
  let admins: string[];
  try {
    const settings = await ctx.clients.lakeformation.send(new GetDataLakeSettingsCommand({}));
    admins = (settings.DataLakeSettings?.DataLakeAdmins ?? []).map((a) => a.DataLakePrincipalIdentifier ?? '');
  } catch (err) {
    return callFailed(LAKE_FORMATION, err, 'LakeFormation GetDataLakeSettings', 'the data lake administrators');
  }
  if (admins.includes(principal)) return undefined;
  const grantees = ['the Glue job role on a namespace it creates', ...ctx.settings.grantPrincipals].join(', ');
  return warn(
    LAKE_FORMATION,
    `the worker ${principal} is not a Lake Formation data lake administrator: its grants (${grantees}) fail unless it holds the permissions with grant option`,
    `make it one (Lake Formation console, Administrative roles and tasks, data lake administrators; docs/aws-setup.md section 5 step 2), or grant it the permissions WITH GRANT OPTION`,
  );
}
