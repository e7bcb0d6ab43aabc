/**
 * Check 10: the Athena workgroup exists, is enabled, and has a result location. A workgroup
 * that enforces its configuration (EnforceWorkGroupConfiguration) uses its own
 * ResultConfiguration.OutputLocation and ignores the client's (aws.athena.outputLocation).
 */
import { GetWorkGroupCommand } from '@aws-sdk/client-athena';
import { hasAwsCode } from '../../aws/errors';
import { callFailed } from '../report';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';

export const ATHENA_WORKGROUP = 'athena-workgroup';

export async function checkAthenaWorkgroup(ctx: DoctorContext): Promise<CheckResult> {
  const { workgroup, outputLocation } = ctx.settings.athena;
  const missing = () =>
    fail(ATHENA_WORKGROUP, `Athena workgroup ${workgroup} does not exist in ${ctx.settings.region}`, `aws athena create-work-group --name ${workgroup} --configuration 'ResultConfiguration={OutputLocation=${outputLocation}}' (or deploy infra/lakesync.yaml, or correct aws.athena.workgroup)`);
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
  if (!configuration?.EnforceWorkGroupConfiguration) return ok(ATHENA_WORKGROUP);
  const own = configuration.ResultConfiguration?.OutputLocation;
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
