/**
 * Check 4: the export key is enabled, symmetric, and usable by the export role.
 *
 * SimulatePrincipalPolicy evaluates the role's IAM policies but not the key policy (for a role
 * it takes no resource policy), and KMS needs both: a key policy that names the role itself, or
 * one that names the account (delegating to IAM) plus an IAM policy that allows the action. So
 * the check also reads the key policy (kms:GetKeyPolicy). A grant on the key gives its grantee
 * operations whatever the key policy says, so an action the key policy does not give is looked
 * for in the key's grants (kms:ListGrants) before it is reported missing.
 */
import { DescribeKeyCommand, GetKeyPolicyCommand, ListGrantsCommand } from '@aws-sdk/client-kms';
import { hasAwsCode } from '../../aws/errors';
import { EXPORT_ROLE_KMS_ACTIONS } from '../../aws/required-actions';
import { type Decision, keyPolicyAllows, parsePolicyDocument, type PolicyDocument, PolicyParseError } from '../policy';
import { callFailed, deniedOf, describeDenied, permissionFix } from '../report';
import type { PermissionOutcome } from '../simulate';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';
import { permissionRequest, resourceNames } from './names';
import { roleMissing } from './roles';

export const KMS_KEY = 'kms-key';

export async function checkKmsKey(ctx: DoctorContext): Promise<CheckResult> {
  const problem = await resolveExportKey(ctx, KMS_KEY, { field: 'aws.export.kmsKeyId', user: 'RDS export' });
  return problem ?? roleMayUseKey(ctx, ctx.key!.arn);
}

/**
 * A DynamoDB source's export key (source.export.kmsKeyId), when it names one: it exists, is
 * enabled and symmetric. DynamoDB encrypts the export with it for the worker, and the Glue job
 * decrypts the files with it (the glue-role check, which needs the key's ARN found here).
 */
export async function checkDynamoExportKey(ctx: DoctorContext): Promise<CheckResult[]> {
  if (!ctx.settings.export.kmsKeyId) return [];
  return [(await resolveExportKey(ctx, DYNAMODB_EXPORT_KEY, { field: 'source.export.kmsKeyId', user: 'DynamoDB export' })) ?? ok(DYNAMODB_EXPORT_KEY)];
}

export const DYNAMODB_EXPORT_KEY = 'dynamodb-export-key';

/** DescribeKey of the configured key: sets ctx.key, and answers the failure line if it cannot be used. */
async function resolveExportKey(ctx: DoctorContext, check: string, of: { field: string; user: string }): Promise<CheckResult | undefined> {
  const keyId = ctx.settings.export.kmsKeyId;
  let meta;
  try {
    meta = (await ctx.clients.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
  } catch (err) {
    if (hasAwsCode(err, 'NotFoundException')) {
      return fail(check, `KMS key ${keyId} (${of.field}) does not exist in ${ctx.settings.region}`, `create a symmetric key and its alias (docs/aws-setup.md section 4 "KMS key policy", or deploy infra/lakesync.yaml), or correct ${of.field}`);
    }
    return callFailed(check, err, 'KMS DescribeKey', `key ${keyId}`);
  }
  if (!meta?.Arn || !meta.KeyId) return fail(check, `KMS DescribeKey answered no key for ${keyId}`);
  ctx.key = { arn: meta.Arn, id: meta.KeyId };
  if (meta.KeyState !== 'Enabled') {
    const fix = meta.KeyState === 'PendingDeletion' ? `aws kms cancel-key-deletion --key-id ${meta.KeyId} && aws kms enable-key --key-id ${meta.KeyId}` : meta.KeyState === 'Disabled' ? `aws kms enable-key --key-id ${meta.KeyId}` : `use an enabled key for ${of.field}`;
    return fail(check, `KMS key ${keyId} is ${meta.KeyState}, not Enabled`, fix);
  }
  const spec = meta.KeySpec ?? meta.CustomerMasterKeySpec;
  if ((spec && spec !== 'SYMMETRIC_DEFAULT') || (meta.KeyUsage && meta.KeyUsage !== 'ENCRYPT_DECRYPT')) {
    return fail(check, `KMS key ${keyId} is ${spec ?? 'of an unknown spec'} for ${meta.KeyUsage ?? 'an unknown usage'}; ${of.user} needs a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)`, `aws kms create-key --key-spec SYMMETRIC_DEFAULT --key-usage ENCRYPT_DECRYPT, then point ${of.field} at it`);
  }
  return undefined;
}

async function roleMayUseKey(ctx: DoctorContext, keyArn: string): Promise<CheckResult> {
  const roleArn = ctx.settings.export.iamRoleArn;
  const skipped = roleMissing(ctx, KMS_KEY, roleArn, `key ${keyArn} is enabled and symmetric; the export role's use of it was`);
  if (skipped) return skipped;
  const names = resourceNames(ctx);
  let outcomes: PermissionOutcome[];
  try {
    outcomes = await ctx.simulator.simulate(
      roleArn,
      EXPORT_ROLE_KMS_ACTIONS.map((a) => permissionRequest(a, names)),
    );
  } catch (err) {
    return callFailed(KMS_KEY, err, 'IAM SimulatePrincipalPolicy', `the export role's KMS permissions`);
  }
  const access = await keyAccess(ctx, keyArn, roleArn, outcomes);
  if ('unread' in access) {
    // Without the key policy only the IAM side is known: say so, and judge that side.
    const denied = deniedOf(outcomes);
    if (denied.length > 0) return iamDenied(roleArn, denied);
    return warn(KMS_KEY, `the export role's IAM policies allow the key, but its key policy was not checked: ${access.unread}`, `allow the principal running lakesync doctor kms:GetKeyPolicy on ${keyArn}, or check the key policy against docs/aws-setup.md section 4`);
  }
  if (access.keyPolicyLacks.length > 0) return keyPolicyFailure(KMS_KEY, keyArn, { arn: roleArn, name: 'the export role', sid: 'ExportRoleEncrypts' }, access);
  const stillDenied = outcomes.filter((o) => access.iamLacks.includes(o.action));
  if (stillDenied.length > 0) return iamDenied(roleArn, stillDenied);
  return ok(KMS_KEY);
}

/** A principal that uses the key: its ARN, how messages name it, and the Sid of the key policy statement suggested for it. */
interface KeyUser {
  arn: string;
  name: string;
  sid: string;
}

/** The key policy (kms:GetKeyPolicy, read-only), or why it could not be read. */
export async function readKeyPolicy(ctx: DoctorContext, keyArn: string): Promise<{ doc: PolicyDocument } | { unread: string }> {
  try {
    const raw = (await ctx.clients.kms.send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default' }))).Policy;
    return { doc: parsePolicyDocument(raw, `the key policy of ${keyArn}`) };
  } catch (err) {
    return { unread: err instanceof PolicyParseError ? err.message : `kms:GetKeyPolicy failed (${(err as Error).message})` };
  }
}

/**
 * The key policy's side of a principal's use of the key, its IAM side being allowed already:
 * a FAIL when the key policy names neither the principal nor the account root for `actions`
 * (or denies them), a warn when the key policy could not be read, undefined when it allows them.
 */
export async function keyPolicySide(ctx: DoctorContext, check: string, principal: KeyUser, actions: readonly string[], keyArn = ctx.key!.arn): Promise<CheckResult | undefined> {
  const access = await keyAccess(ctx, keyArn, principal.arn, actions.map((action) => ({ action, decision: 'allowed' as const })));
  if ('unread' in access) {
    return warn(check, `${principal.name}'s IAM policies allow ${actions.join(', ')} on the key, but the key policy of ${keyArn} was not checked: ${access.unread}`, `allow the principal running lakesync doctor kms:GetKeyPolicy on ${keyArn}, or check the key policy against docs/aws-setup.md section 4`);
  }
  return access.keyPolicyLacks.length > 0 ? keyPolicyFailure(check, keyArn, principal, access) : undefined;
}

/**
 * Which of the actions `principal` may not use the key for, given IAM's decision on each: those
 * the key policy does not give (it names neither the principal nor the account root, or denies
 * them), and those it leaves to IAM, which does not allow them. A grant to the principal gives an
 * action either way, unless a policy denies it explicitly: an explicit deny wins over every allow.
 */
async function keyAccess(ctx: DoctorContext, keyArn: string, principal: string, iam: readonly { action: string; decision: Decision }[]): Promise<{ unread: string } | { keyPolicyLacks: string[]; iamLacks: string[]; grants: Grants }> {
  const keyPolicy = await readKeyPolicy(ctx, keyArn);
  if ('unread' in keyPolicy) return keyPolicy;
  const { accountId, partition } = ctx.settings;
  const lacking: { action: string; side: 'keyPolicy' | 'iam'; denied: boolean }[] = [];
  for (const { action, decision } of iam) {
    const verdict = keyPolicyAllows(keyPolicy.doc, principal, accountId, partition, action);
    if (decision === 'explicitDeny') lacking.push({ action, side: 'iam', denied: true });
    else if (verdict === 'denied') lacking.push({ action, side: 'keyPolicy', denied: true });
    else if (verdict === 'none') lacking.push({ action, side: 'keyPolicy', denied: false });
    else if (verdict === 'account' && decision !== 'allowed') lacking.push({ action, side: 'iam', denied: false });
  }
  const grants = lacking.some((l) => !l.denied) ? await grantedActions(ctx, keyArn, principal) : { actions: new Set<string>() };
  const still = lacking.filter((l) => l.denied || !grants.actions.has(l.action));
  return {
    keyPolicyLacks: still.filter((l) => l.side === 'keyPolicy').map((l) => l.action),
    iamLacks: still.filter((l) => l.side === 'iam').map((l) => l.action),
    grants,
  };
}

function keyPolicyFailure(check: string, keyArn: string, principal: KeyUser, { keyPolicyLacks: missing, grants }: { keyPolicyLacks: string[]; grants: Grants }): CheckResult {
  const statement = { Sid: principal.sid, Effect: 'Allow', Principal: { AWS: principal.arn }, Action: missing, Resource: '*' };
  return fail(
    check,
    `the key policy of ${keyArn} neither allows ${principal.name} ${missing.join(', ')} nor leaves them to IAM (no statement for the role or for the account root), or denies them, and ${grantsSay(grants)}`,
    `add to the key policy (docs/aws-setup.md section 4; infra/lakesync.yaml): ${JSON.stringify(statement)}`,
  );
}

/** The key actions grants give a principal; `unread` says why the grants could not be read (then `actions` is empty). */
interface Grants {
  actions: Set<string>;
  unread?: string;
}

/** Operations a grant may allow whatever its encryption-context constraint: the constraint does not apply to them. */
const UNCONSTRAINED_OPERATIONS = new Set(['DescribeKey', 'RetireGrant']);

/**
 * The key actions grants on the key give `principal` (kms:ListGrants, read-only), or why they
 * could not be read. A grant with an encryption-context constraint counts only for the operations
 * it does not constrain: whether a call's context matches is not known here.
 */
async function grantedActions(ctx: DoctorContext, keyArn: string, principal: string): Promise<Grants> {
  const actions = new Set<string>();
  let marker: string | undefined;
  try {
    do {
      const page = await ctx.clients.kms.send(new ListGrantsCommand({ KeyId: keyArn, GranteePrincipal: principal, ...(marker ? { Marker: marker } : {}) }));
      // Filtered here too: the grantee filter is the caller's promise, and an emulator may ignore it.
      for (const grant of (page.Grants ?? []).filter((g) => g.GranteePrincipal === principal)) {
        const constrained = grant.Constraints !== undefined && Object.keys(grant.Constraints).length > 0;
        for (const op of grant.Operations ?? []) if (!constrained || UNCONSTRAINED_OPERATIONS.has(op)) actions.add(`kms:${op}`);
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  } catch (err) {
    return { actions: new Set(), unread: `kms:ListGrants failed (${(err as Error).message})` };
  }
  return { actions };
}

function grantsSay(grants: Grants): string {
  return grants.unread ? `the key's grants could not be read: ${grants.unread}` : 'no grant on the key gives them';
}

function iamDenied(roleArn: string, denied: PermissionOutcome[]): CheckResult {
  return fail(
    KMS_KEY,
    `the export role ${roleArn} may not use the key: ${describeDenied(denied)}`,
    permissionFix(denied, `add to the policy of the export role ${roleArn} (docs/aws-setup.md section 2, statement EncryptExport; infra/lakesync.yaml)`),
  );
}
