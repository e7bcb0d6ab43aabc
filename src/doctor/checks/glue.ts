/**
 * Check 8: the Glue job role exists, trusts Glue, and holds every action the job uses
 * (GLUE_JOB_ACTIONS, plus GLUE_JOB_DIRECT_ACTIONS when the source has direct tables). For a
 * DynamoDB source the export settings are its source.export, so the export actions name the
 * prefix DynamoDB writes to.
 */
import { GetJobCommand } from '@aws-sdk/client-glue';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { hasAwsCode, httpStatusOf } from '../../aws/errors';
import { glueJobActions, glueJobDirectActions } from '../../aws/required-actions';
import { callFailed, deniedOf, describeDenied, permissionFix } from '../report';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';
import { keyPolicySide } from './kms';
import { permissionRequest, resourceNames } from './names';
import { checkRoleTrust } from './roles';

export const GLUE_ROLE = 'glue-role';

export const SCRIPT_BUCKET = 'script-bucket';

/**
 * Check 7b: the artifact bucket (aws.glue.scriptBucket) exists: the worker uploads the Glue
 * scripts there and writes the pack and arguments files, and the runs write their results there,
 * so without it the first load of every sync fails. S3 HeadBucket (s3:ListBucket, which the
 * worker has on the bucket already).
 */
export async function checkScriptBucket(ctx: DoctorContext): Promise<CheckResult> {
  const bucket = ctx.settings.glue.scriptBucket;
  const region = ctx.settings.region;
  const other = (elsewhere: string | undefined) =>
    warn(
      SCRIPT_BUCKET,
      `bucket ${bucket} (aws.glue.scriptBucket) is in ${elsewhere ?? 'another region'}, the Glue job in ${region}: every run reads its scripts and writes its result across regions`,
      `use a bucket in ${region} for aws.glue.scriptBucket`,
    );
  try {
    const head = await ctx.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    if (head?.BucketRegion && head.BucketRegion !== region) return other(head.BucketRegion);
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 404) {
      const location = region === 'us-east-1' ? '' : ` --create-bucket-configuration LocationConstraint=${region}`;
      return fail(
        SCRIPT_BUCKET,
        `bucket ${bucket} (aws.glue.scriptBucket) does not exist: the worker could not upload the Glue scripts, and no load would run`,
        `aws s3api create-bucket --bucket ${bucket} --region ${region}${location} (or deploy infra/lakesync.yaml and set aws.glue.scriptBucket to its GlueScriptBucket output)`,
      );
    }
    if (status === 301) return other((err as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['x-amz-bucket-region']);
    if (status === 403) {
      return fail(
        SCRIPT_BUCKET,
        `bucket ${bucket} (aws.glue.scriptBucket) exists but the caller may not list it (another account's bucket, or s3:ListBucket missing)`,
        `allow s3:ListBucket on arn:${ctx.settings.partition}:s3:::${bucket} (docs/aws-setup.md section 1, statement ListBuckets), or use a bucket of this account`,
      );
    }
    return callFailed(SCRIPT_BUCKET, err, 'S3 HeadBucket', `bucket ${bucket}`);
  }
  return ok(SCRIPT_BUCKET);
}

export async function checkGlueRole(ctx: DoctorContext): Promise<CheckResult> {
  const roleArn = ctx.settings.glue.roleArn;
  const trust = await checkRoleTrust(ctx, { check: GLUE_ROLE, field: 'aws.glue.roleArn', arn: roleArn, service: 'glue.amazonaws.com', docs: 'docs/aws-setup.md section 3 "Glue job role"' }, false);
  if (trust.status !== 'ok') return trust;
  const names = resourceNames(ctx);
  // The key's ARN is known once the KMS check resolved the configured id or alias.
  const direct = ctx.settings.direct ? glueJobDirectActions(ctx.settings.direct.auth.kind, Boolean(ctx.settings.direct.sslRootCert)) : [];
  const actions = [...glueJobActions(ctx.settings.lakeFormationMode), ...direct].filter((a) => ctx.key || !a.action.startsWith('kms:'));
  let outcomes;
  try {
    outcomes = await ctx.simulator.simulate(
      roleArn,
      actions.map((a) => permissionRequest(a, names)),
    );
  } catch (err) {
    return callFailed(GLUE_ROLE, err, 'IAM SimulatePrincipalPolicy', `the Glue job role's permissions`);
  }
  const denied = deniedOf(outcomes);
  if (denied.length > 0) {
    return fail(
      GLUE_ROLE,
      `the Glue job role ${roleArn} lacks actions the job uses (aws.lakeFormation.mode ${ctx.settings.lakeFormationMode}): ${describeDenied(denied)}`,
      permissionFix(denied, `add to the policy of the Glue job role ${roleArn} (docs/aws-setup.md section 3; infra/lakesync.yaml${ctx.settings.direct ? ' with GlueConnectionName' : ''}; the lists are GLUE_JOB_ACTIONS${ctx.settings.direct ? ' and GLUE_JOB_DIRECT_ACTIONS' : ''} in src/aws/required-actions.ts)`),
    );
  }
  if (ctx.key) {
    // SimulatePrincipalPolicy does not see the key policy, which must allow the role too.
    const keySide = await keyPolicySide(ctx, GLUE_ROLE, { arn: roleArn, name: 'the Glue job role', sid: 'GlueJobDecrypts' }, ['kms:Decrypt']);
    if (keySide) return keySide;
  }
  // A DynamoDB source without source.export.kmsKeyId has no key to decrypt with (SSE-S3).
  if (!ctx.key && ctx.settings.export.kmsKeyId) return warn(GLUE_ROLE, `kms:Decrypt on the export key was not checked: the key ${ctx.settings.export.kmsKeyId} could not be resolved (see the ${'dynamodb' in ctx.settings ? 'dynamodb-export-key' : 'kms-key'} check)`);
  return ok(GLUE_ROLE);
}

export const GLUE_CONCURRENCY = 'glue-concurrency';

/**
 * Check 8b: the source's `concurrency` (loads at once) fits the runs its Glue job takes at once.
 * Beyond the job's MaxConcurrentRuns, StartJobRun is refused (ConcurrentRunsExceededException)
 * unless the run is queued, which Glue does for STANDARD runs that ask for it only: the loads
 * beyond it wait and retry, and the cycle takes longer than its concurrency says. The limit is
 * the job's own when it exists with a lower one (set by hand, or by another source that runs the
 * same job), else aws.glue.maxConcurrentRuns, which lakesync writes to the job.
 */
export async function checkGlueConcurrency(ctx: DoctorContext): Promise<CheckResult> {
  const { glue, concurrency } = ctx.settings;
  const flex = glue.executionClass === 'FLEX';
  // Queued STANDARD runs wait in Glue for a free slot; one load at once never meets the limit.
  if ((glue.jobRunQueuing && !flex) || concurrency <= 1) return ok(GLUE_CONCURRENCY);
  let jobLimit: number | undefined;
  try {
    const job = (await ctx.clients.glue.send(new GetJobCommand({ JobName: glue.jobName }))).Job;
    // Glue's default when a job sets none is 1.
    if (job) jobLimit = job.ExecutionProperty?.MaxConcurrentRuns ?? 1;
  } catch (err) {
    if (!hasAwsCode(err, 'EntityNotFoundException')) return callFailed(GLUE_CONCURRENCY, err, 'Glue GetJob', `the Glue job ${glue.jobName}`);
  }
  const fromJob = jobLimit !== undefined && jobLimit < glue.maxConcurrentRuns;
  const limit = fromJob ? jobLimit! : glue.maxConcurrentRuns;
  if (concurrency <= limit) return ok(GLUE_CONCURRENCY);
  const limitText = fromJob
    ? `the ${limit} runs Glue job ${glue.jobName} takes at once (its MaxConcurrentRuns ${limit}, below aws.glue.maxConcurrentRuns ${glue.maxConcurrentRuns}: set by hand or by another source that runs the same job)`
    : `the ${limit} runs Glue job ${glue.jobName} takes at once (aws.glue.maxConcurrentRuns ${limit})`;
  const unqueued = flex ? 'FLEX runs are never queued' : 'runs are not queued (aws.glue.jobRunQueuing false)';
  return warn(
    GLUE_CONCURRENCY,
    `concurrency ${concurrency} (loads at once) is above ${limitText}, and ${unqueued}: Glue refuses the starts beyond it (ConcurrentRunsExceededException), and those loads wait and retry with backoff, so the cycle runs fewer loads at once and takes longer than its concurrency says`,
    flex
      ? `raise aws.glue.maxConcurrentRuns to ${concurrency}, or lower concurrency to ${limit} (FLEX runs are never queued)`
      : `raise aws.glue.maxConcurrentRuns to ${concurrency}, enable aws.glue.jobRunQueuing, or lower concurrency to ${limit}`,
  );
}
