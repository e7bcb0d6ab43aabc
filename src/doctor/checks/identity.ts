/** Check 1: the credentials work in the configured region and belong to `aws.accountId`. */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { callFailed } from '../report';
import { type Caller, type CheckResult, type DoctorContext, fail, ok } from '../types';

export const CREDENTIALS = 'credentials';

export async function checkCredentials(ctx: DoctorContext): Promise<CheckResult> {
  const { settings } = ctx;
  let identity;
  try {
    identity = await ctx.clients.sts.send(new GetCallerIdentityCommand({}));
  } catch (err) {
    const result = callFailed(CREDENTIALS, err, 'STS GetCallerIdentity', `the credentials in region ${settings.region}`);
    return { ...result, status: 'FAIL', fix: result.fix ?? (unreachable(err) ? unreachableFix(settings.endpoint, settings.region) : 'give lakesync credentials through the default chain (AWS_PROFILE, environment, SSO, or the instance/task role) and check aws.region') };
  }
  const account = identity.Account ?? '';
  const arn = identity.Arn ?? '';
  if (account !== settings.accountId) {
    return fail(CREDENTIALS, `the credentials (${arn}) belong to account ${account}, but aws.accountId is ${settings.accountId}`, `run with credentials of account ${settings.accountId} (e.g. AWS_PROFILE=<profile of that account>), or correct aws.accountId in lakesync.yaml`);
  }
  ctx.caller = { account, arn, ...(await principalOf(ctx, arn)) };
  return ok(CREDENTIALS);
}

/**
 * The principal whose policies apply to the caller. An assumed role's session ARN
 * (arn:aws:sts::A:assumed-role/NAME/SESSION) lacks the role's path: GetRole gives its real ARN.
 */
async function principalOf(ctx: DoctorContext, arn: string): Promise<Pick<Caller, 'principalArn'>> {
  const assumed = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (assumed) {
    const [, partition, account, roleName] = assumed;
    try {
      const role = await ctx.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
      if (role.Role?.Arn) return { principalArn: role.Role.Arn };
    } catch {
      // Without iam:GetRole the role is assumed to have no path; the simulation says if that is wrong.
    }
    return { principalArn: `arn:${partition}:iam::${account}:role/${roleName}` };
  }
  if (/^arn:[^:]+:iam::\d{12}:user\//.test(arn)) return { principalArn: arn };
  return {};
}

/** Network failures: nothing answered, so the credentials were never asked about. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
  return NETWORK_CODES.has(String(e?.code)) || NETWORK_CODES.has(String(e?.cause?.code)) || e?.name === 'TimeoutError';
}

function unreachableFix(endpoint: string | undefined, region: string): string {
  return endpoint
    ? `nothing answers at aws.endpoint ${endpoint}: start the emulator there, or correct or remove aws.endpoint (set only for emulators)`
    : `AWS STS of ${region} cannot be reached from this machine: check its network access (proxy, firewall, VPC endpoint for STS) and aws.region`;
}
