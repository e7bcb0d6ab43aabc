/** A role exists under the configured ARN and trusts the service that assumes it. */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { hasAwsCode } from '../../aws/errors';
import { PolicyParseError, parsePolicyDocument, trustConditionValues, trustedServices } from '../policy';
import { callFailed } from '../report';
import { roleNameOf } from '../simulate';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';

/** The condition key a service sets to the account it assumes a role for. */
const SOURCE_ACCOUNT = 'aws:SourceAccount';

export interface RoleSpec {
  check: string;
  /** The config field that names the role, for messages. */
  field: string;
  arn: string;
  service: string;
  /** Where the role's set-up is written down. */
  docs: string;
}

/** The trust policy that lets `service` assume a role. */
export function trustPolicy(service: string, accountId?: string): string {
  const statement = { Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', ...(accountId ? { Condition: { StringEquals: { 'aws:SourceAccount': accountId } } } : {}) };
  return JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
}

export async function checkRoleTrust(ctx: DoctorContext, spec: RoleSpec, withSourceAccount: boolean): Promise<CheckResult> {
  const name = roleNameOf(spec.arn);
  if (!name) return fail(spec.check, `${spec.field} ${spec.arn} is not a role ARN`, `set ${spec.field} to arn:${ctx.settings.partition}:iam::${ctx.settings.accountId}:role/<name>`);
  let role;
  try {
    role = (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (err) {
    if (hasAwsCode(err, 'NoSuchEntity')) {
      ctx.missingRoles.add(spec.arn);
      return fail(
        spec.check,
        `role ${name} (${spec.field}) does not exist`,
        `create it as ${spec.docs}, or deploy infra/lakesync.yaml: aws iam create-role --role-name ${name} --assume-role-policy-document '${trustPolicy(spec.service, withSourceAccount ? ctx.settings.accountId : undefined)}'`,
      );
    }
    return callFailed(spec.check, err, 'IAM GetRole', `role ${name}`);
  }
  if (role?.Arn && role.Arn !== spec.arn) {
    return fail(spec.check, `${spec.field} is ${spec.arn}, but the role's ARN is ${role.Arn}`, `set ${spec.field} to ${role.Arn}`);
  }
  let doc;
  try {
    doc = parsePolicyDocument(role?.AssumeRolePolicyDocument, `the trust policy of role ${name}`);
  } catch (err) {
    if (err instanceof PolicyParseError) return fail(spec.check, err.message, `replace it: aws iam update-assume-role-policy --role-name ${name} --policy-document '${trustPolicy(spec.service)}'`);
    throw err;
  }
  // The service assumes the role for this account: a statement for another aws:SourceAccount (or the docs' placeholder) does not apply.
  const { accountId } = ctx.settings;
  if (trustedServices(doc, { [SOURCE_ACCOUNT]: [accountId] }).includes(spec.service)) return ok(spec.check);
  const services = trustedServices(doc);
  if (services.includes(spec.service)) {
    return fail(
      spec.check,
      `role ${name} trusts ${spec.service} only when ${SOURCE_ACCOUNT} is ${trustConditionValues(doc, spec.service, SOURCE_ACCOUNT).join(' or ')}, not ${accountId}: the service could not assume it`,
      `aws iam update-assume-role-policy --role-name ${name} --policy-document '${trustPolicy(spec.service, accountId)}' (${spec.docs})`,
    );
  }
  return fail(
    spec.check,
    `role ${name} does not trust ${spec.service} (it trusts ${services.length ? services.join(', ') : 'no service'})`,
    `aws iam update-assume-role-policy --role-name ${name} --policy-document '${trustPolicy(spec.service, withSourceAccount ? accountId : undefined)}' (${spec.docs})`,
  );
}

/** The line for a permission check of a role found missing, or undefined when the role exists. */
export function roleMissing(ctx: DoctorContext, check: string, roleArn: string, what: string): CheckResult | undefined {
  if (!ctx.missingRoles.has(roleArn)) return undefined;
  return warn(check, `${what} not checked: role ${roleArn} does not exist (see the role's own check)`);
}
