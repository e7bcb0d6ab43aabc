/**
 * Checks 3 and 5: the export role (exists, trusts RDS export, may be passed by the caller, may
 * write the export) and the export bucket.
 *
 * The bucket check never writes: a marker object written by the doctor would prove what the
 * caller may do, not what the export role may do, and the doctor changes nothing in the
 * account. Writing is checked by simulating the export role's s3:PutObject on the prefix.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { httpStatusOf } from '../../aws/errors';
import { EXPORT_PASSED_TO_SERVICES, EXPORT_ROLE_S3_ACTIONS, EXPORT_SERVICE } from '../../aws/required-actions';
import { callFailed, deniedOf, describeDenied, permissionFix } from '../report';
import type { PermissionOutcome } from '../simulate';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';
import { checkRoleTrust, roleMissing } from './roles';
import { permissionRequest, resourceNames } from './names';

export const EXPORT_ROLE = 'export-role';
export const EXPORT_ROLE_PASS = 'export-role-pass';
export const EXPORT_BUCKET = 'export-bucket';

export function checkExportRole(ctx: DoctorContext): Promise<CheckResult> {
  return checkRoleTrust(ctx, { check: EXPORT_ROLE, field: 'aws.export.iamRoleArn', arn: ctx.settings.export.iamRoleArn, service: EXPORT_SERVICE, docs: 'docs/aws-setup.md section 2 "Export role"' }, true);
}

/** The worker hands the export role to RDS in StartExportTask: it needs iam:PassRole on it. */
export async function checkExportRolePass(ctx: DoctorContext): Promise<CheckResult> {
  const roleArn = ctx.settings.export.iamRoleArn;
  const principal = ctx.caller?.principalArn;
  if (!principal) {
    return warn(EXPORT_ROLE_PASS, `not checked: the caller ${ctx.caller?.arn ?? '(unknown)'} is not an IAM user or role whose policies can be simulated`, 'run lakesync doctor with the credentials the worker uses');
  }
  // The condition keeps the suggested statement to passing the role to RDS only, as the shipped policy does.
  const condition = { StringEquals: { 'iam:PassedToService': EXPORT_PASSED_TO_SERVICES } };
  const deniedTo: string[] = [];
  const denied: PermissionOutcome[] = [];
  try {
    for (const service of EXPORT_PASSED_TO_SERVICES) {
      const refused = deniedOf(await ctx.simulator.simulate(principal, [{ action: 'iam:PassRole', resources: [roleArn], context: { 'iam:PassedToService': [service] }, condition }]));
      if (refused.length > 0) deniedTo.push(service);
      denied.push(...refused);
    }
  } catch (err) {
    return callFailed(EXPORT_ROLE_PASS, err, 'IAM SimulatePrincipalPolicy', `iam:PassRole of ${principal}`);
  }
  if (denied.length === 0) return ok(EXPORT_ROLE_PASS);
  return fail(
    EXPORT_ROLE_PASS,
    `the caller ${principal} (the principal the worker runs as) may not pass the export role: ${describeDenied(denied)}, passed to ${deniedTo.join(' and to ')} (StartExportTask may name either RDS principal)`,
    permissionFix(denied, 'add to its policy (docs/aws-setup.md section 1, statement PassRoles; infra/lakesync.yaml)'),
  );
}

export async function checkExportBucket(ctx: DoctorContext): Promise<CheckResult> {
  const { bucket, prefix } = ctx.settings.export;
  const region = ctx.settings.region;
  try {
    const head = await ctx.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    // RDS exports only to a bucket in the snapshot's region.
    if (head.BucketRegion && head.BucketRegion !== region) {
      return fail(EXPORT_BUCKET, `export bucket ${bucket} is in ${head.BucketRegion}, the source in ${region}: RDS exports to a bucket in the same region`, `use a bucket in ${region} for aws.export.bucket`);
    }
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) {
      const location = region === 'us-east-1' ? '' : ` --create-bucket-configuration LocationConstraint=${region}`;
      return fail(EXPORT_BUCKET, `export bucket ${bucket} does not exist`, `aws s3api create-bucket --bucket ${bucket} --region ${region}${location} (or deploy infra/lakesync.yaml)`);
    }
    if (status === 301) {
      // S3 answers a HEAD in the wrong region with a redirect naming the bucket's region.
      const elsewhere = (err as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['x-amz-bucket-region'];
      return fail(EXPORT_BUCKET, `export bucket ${bucket} is in ${elsewhere ?? 'another region'}, the source in ${region}: RDS exports to a bucket in the same region`, `use a bucket in ${region} for aws.export.bucket`);
    }
    if (status === 403) {
      return fail(EXPORT_BUCKET, `export bucket ${bucket} exists but the caller may not list it (another account's bucket, or s3:ListBucket missing)`, `allow s3:ListBucket on arn:${ctx.settings.partition}:s3:::${bucket} (docs/aws-setup.md section 1, statement ListBuckets)`);
    }
    return callFailed(EXPORT_BUCKET, err, 'S3 HeadBucket', `bucket ${bucket}`);
  }
  const skipped = roleMissing(ctx, EXPORT_BUCKET, ctx.settings.export.iamRoleArn, `bucket ${bucket} exists; the export role's S3 permissions were`);
  if (skipped) return skipped;
  const names = resourceNames(ctx);
  const requests = EXPORT_ROLE_S3_ACTIONS.map((a) => permissionRequest(a, names));
  let outcomes;
  try {
    outcomes = await ctx.simulator.simulate(ctx.settings.export.iamRoleArn, requests);
  } catch (err) {
    return callFailed(EXPORT_BUCKET, err, 'IAM SimulatePrincipalPolicy', `the export role's S3 permissions`);
  }
  const denied = deniedOf(outcomes);
  if (denied.length === 0) return ok(EXPORT_BUCKET);
  return fail(
    EXPORT_BUCKET,
    `the export role ${ctx.settings.export.iamRoleArn} may not write the export under s3://${bucket}/${prefix}/: ${describeDenied(denied)}`,
    permissionFix(denied, `add to the policy of the export role ${ctx.settings.export.iamRoleArn} (docs/aws-setup.md section 2, statement WriteExport; infra/lakesync.yaml)`),
  );
}
