/**
 * Check 10: the Athena workgroup exists, is enabled, and has a result location. A workgroup
 * that enforces its configuration (EnforceWorkGroupConfiguration) uses its own
 * ResultConfiguration.OutputLocation and ignores the client's (aws.athena.outputLocation). A
 * workgroup with Athena managed query results keeps them itself and refuses a query that names a
 * location: aws.athena.outputLocation must be left out for it. Without aws.athena.outputLocation the
 * workgroup must have managed query results or a location of its own.
 */
import { GetWorkGroupCommand } from '@aws-sdk/client-athena';
import { hasAwsCode } from '../../aws/errors';
import { callFailed } from '../report';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';

export const ATHENA_WORKGROUP = 'athena-workgroup';

export async function checkAthenaWorkgroup(ctx: DoctorContext): Promise<CheckResult> {
  const { workgroup, outputLocation } = ctx.settings.athena;
  const location = outputLocation ?? 's3://<bucket>/<prefix>/';
  const missing = () =>
    fail(ATHENA_WORKGROUP, `Athena workgroup ${workgroup} does not exist in ${ctx.settings.region}`, `aws athena create-work-group --name ${workgroup} --configuration 'ResultConfiguration={OutputLocation=${location}}' (or deploy infra/lakesync.yaml, or correct aws.athena.workgroup)`);
  let group;
  try {
    group = (await ctx.clients.athena.send(new GetWorkGroupCommand({ WorkGroup: workgroup }))).WorkGroup;
  } catch (err) {
    // Athena answers a missing workgroup with InvalidRequestException ("WorkGroup ... is not found").
    if (hasAwsCode(err, 'InvalidRequest', 'ResourceNotFound') && /not found/i.test((err as Error).message ?? '')) return missing();
    return callFailed(ATHENA_WORKGROUP, err, 'Athena GetWorkGroup', `workgroup ${workgroup}`);
  }
  // moto answers a missing workgroup with "WorkGroup": null.
  if (!group) return missing();
  if (group?.State === 'DISABLED') {
    return fail(ATHENA_WORKGROUP, `Athena workgroup ${workgroup} is disabled`, `aws athena update-work-group --work-group ${workgroup} --state ENABLED`);
  }
  const configuration = group?.Configuration;
  const own = configuration?.ResultConfiguration?.OutputLocation;
  if (configuration?.ManagedQueryResultsConfiguration?.Enabled) {
    if (outputLocation === undefined) return ok(ATHENA_WORKGROUP);
    return fail(
      ATHENA_WORKGROUP,
      `Athena workgroup ${workgroup} keeps query results itself (managed query results) and refuses a query that names a result location, as lakesync's do with aws.athena.outputLocation ${outputLocation}: every verification query would fail`,
      `remove aws.athena.outputLocation from lakesync.yaml (or turn managed query results off for workgroup ${workgroup})`,
    );
  }
  if (outputLocation === undefined) {
    // Athena writes there with the worker's permissions, which the worker check cannot simulate without the location.
    if (own) {
      return warn(
        ATHENA_WORKGROUP,
        `Athena workgroup ${workgroup} writes query results to its own location ${own} with the worker's permissions, and aws.athena.outputLocation is not set, so the worker's S3 permissions on it are not checked`,
        `set aws.athena.outputLocation to ${own} so lakesync doctor checks them (the worker needs s3:GetBucketLocation and s3:ListBucket on the bucket and s3:PutObject, s3:GetObject, s3:AbortMultipartUpload under it)`,
      );
    }
    return fail(
      ATHENA_WORKGROUP,
      `Athena workgroup ${workgroup} has no result location and no managed query results, and aws.athena.outputLocation is not set: every verification query would fail`,
      `set aws.athena.outputLocation in lakesync.yaml to an s3://<bucket>/<prefix>/ location, or give workgroup ${workgroup} a result location or managed query results`,
    );
  }
  if (!configuration?.EnforceWorkGroupConfiguration) return ok(ATHENA_WORKGROUP);
  if (!own) {
    return fail(
      ATHENA_WORKGROUP,
      `Athena workgroup ${workgroup} enforces its settings but has no result location: every verification query would fail`,
      `aws athena update-work-group --work-group ${workgroup} --configuration-updates 'ResultConfigurationUpdates={OutputLocation=${outputLocation}}'`,
    );
  }
  if (own.replace(/\/?$/, '/') !== outputLocation.replace(/\/?$/, '/')) {
    return warn(ATHENA_WORKGROUP, `Athena workgroup ${workgroup} enforces its result location ${own}: queries write there, not to aws.athena.outputLocation ${outputLocation}`, `set aws.athena.outputLocation to ${own} so the worker's policy covers it (docs/aws-setup.md section 1, ATHENA_BUCKET)`);
  }
  return ok(ATHENA_WORKGROUP);
}
