/**
 * A Secrets Manager secret the Glue job reads (the catalog's password for direct loads, the key
 * of hashed columns): it exists in its region and is not scheduled for deletion (DescribeSecret;
 * its value is never read), and the Glue job role may read it: secretsmanager:GetSecretValue
 * when asked (the glue-role check already simulates the catalog secret's), and kms:Decrypt on a
 * customer managed key that encrypts it, in its IAM policies and in the key policy.
 */
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clientConfig } from '../../aws/clients';
import { hasAwsCode } from '../../aws/errors';
import { callFailed, deniedOf, describeDenied, permissionFix } from '../report';
import type { PermissionRequest } from '../simulate';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';
import { keyPolicySide } from './kms';
import { roleMissing } from './roles';

/** The key Secrets Manager uses when a secret names none: the Glue role needs no key permission for it. */
const DEFAULT_SECRETS_KEY = /^(alias\/aws\/secretsmanager|arn:[^:]+:kms:[^:]+:\d{12}:alias\/aws\/secretsmanager)$/;

export interface GlueSecret {
  check: string;
  /** The config field that names the secret, for messages. */
  field: string;
  /** What the job reads from it, for messages ("the password"). */
  holds: string;
  /** How to create it when it is missing. */
  create: string;
  /** Also simulate the Glue role's secretsmanager:GetSecretValue on it. */
  simulateRead: boolean;
  /** False when only the worker reads it (a source catalog without direct tables): the Glue role is not asked. */
  glueReads?: boolean;
  /** Who reads it, for messages; the job when absent. */
  reader?: string;
  /**
   * The worker reads it too (the catalog's password): under a customer managed key the caller
   * needs kms:Decrypt on the key as well (its GetSecretValue is in WORKER_ACTIONS).
   */
  workerReads?: { why: string };
}

export async function checkGlueSecret(ctx: DoctorContext, secretId: string, spec: GlueSecret): Promise<CheckResult> {
  // A secret named by ARN is read in the ARN's region, one named by name in the job's (aws.region).
  const region = (secretId.startsWith('arn:') && secretId.split(':')[3]) || ctx.settings.region;
  const own = region === ctx.settings.region ? undefined : new SecretsManagerClient(clientConfig({ region, ...(ctx.settings.endpoint ? { endpoint: ctx.settings.endpoint } : {}) }));
  let secret;
  try {
    secret = await (own ?? ctx.clients.secrets).send(new DescribeSecretCommand({ SecretId: secretId }));
  } catch (err) {
    if (hasAwsCode(err, 'ResourceNotFoundException')) return fail(spec.check, `secret ${secretId} (${spec.field}) does not exist${secretId.startsWith('arn:') ? '' : ` in ${region}`}`, spec.create);
    return callFailed(spec.check, err, 'SecretsManager DescribeSecret', `secret ${secretId}`);
  } finally {
    own?.destroy();
  }
  if (secret.DeletedDate) {
    return fail(spec.check, `secret ${secretId} (${spec.field}) is scheduled for deletion: ${spec.reader ?? 'the job'} could not read ${spec.holds}`, `aws secretsmanager restore-secret --secret-id ${secretId}`);
  }
  const arn = secret.ARN ?? secretId;
  const key = secret.KmsKeyId && !DEFAULT_SECRETS_KEY.test(secret.KmsKeyId) ? secret.KmsKeyId : undefined;
  if (key && !key.startsWith('arn:')) {
    const who = [...((spec.glueReads ?? true) ? ['the Glue job role'] : []), ...(spec.workerReads ? ['the worker'] : [])].join(' and ');
    return warn(spec.check, `secret ${secretId} is encrypted with KMS key ${key}: ${who} needs kms:Decrypt on it (not checked: DescribeSecret gave no key ARN)`, `allow ${who} kms:Decrypt on the key, in its policy and in the key policy`);
  }
  const glueReads = spec.glueReads ?? true;
  const requests: PermissionRequest[] = glueReads ? [...(spec.simulateRead ? [{ action: 'secretsmanager:GetSecretValue', resources: [arn] }] : []), ...(key ? [{ action: 'kms:Decrypt', resources: [key] }] : [])] : [];
  if (requests.length === 0) return key && spec.workerReads ? workerDecrypts(ctx, secretId, key, spec) : ok(spec.check);
  const roleArn = ctx.settings.glue.roleArn;
  const skipped = roleMissing(ctx, spec.check, roleArn, `the Glue role's right to read secret ${secretId} was`);
  if (skipped) return skipped;
  let outcomes;
  try {
    outcomes = await ctx.simulator.simulate(roleArn, requests);
  } catch (err) {
    return callFailed(spec.check, err, 'IAM SimulatePrincipalPolicy', `the Glue job role's reading of secret ${secretId}`);
  }
  const denied = deniedOf(outcomes);
  if (denied.length === 0) {
    // The key policy must allow the role too; SimulatePrincipalPolicy does not read it.
    const keySide = key ? await keyPolicySide(ctx, spec.check, { arn: roleArn, name: 'the Glue job role', sid: 'GlueJobReadsSecret' }, ['kms:Decrypt'], key) : undefined;
    return keySide ?? (key && spec.workerReads ? await workerDecrypts(ctx, secretId, key, spec) : ok(spec.check));
  }
  const unread = denied.some((o) => o.action !== 'kms:Decrypt');
  return fail(
    spec.check,
    unread ? `secret ${secretId} holds ${spec.holds}, but the Glue job role ${roleArn} may not read it: ${describeDenied(denied)}` : `secret ${secretId} is encrypted with KMS key ${key}, which the Glue job role ${roleArn} may not use: ${describeDenied(denied)}`,
    `${permissionFix(denied, `add to the policy of the Glue job role ${roleArn}`)}${denied.some((o) => o.action === 'kms:Decrypt') ? ' (and let the key policy allow kms:Decrypt)' : ''}`,
  );
}

/**
 * The worker's own kms:Decrypt on the customer managed key of a secret it reads: Secrets Manager
 * decrypts GetSecretValue's answer with the caller's permission on the key ("kms:Decrypt - required
 * only if you use a customer-managed KMS key to encrypt the secret").
 */
async function workerDecrypts(ctx: DoctorContext, secretId: string, key: string, spec: GlueSecret): Promise<CheckResult> {
  const principal = ctx.caller?.principalArn;
  // Not simulated for a caller without policies to read; the worker-permissions check warns about it.
  if (!principal) return ok(spec.check);
  let outcomes;
  try {
    outcomes = await ctx.simulator.simulate(principal, [{ action: 'kms:Decrypt', resources: [key] }]);
  } catch (err) {
    return callFailed(spec.check, err, 'IAM SimulatePrincipalPolicy', `the worker's use of KMS key ${key} for secret ${secretId}`);
  }
  const denied = deniedOf(outcomes);
  if (denied.length > 0) {
    return fail(
      spec.check,
      `secret ${secretId} (${spec.field}) is encrypted with KMS key ${key}, which the worker (${principal}) may not use: ${describeDenied(denied)}; ${spec.workerReads!.why}`,
      `${permissionFix(denied, `add to the worker's policy (${principal})`)} (and let the key policy allow kms:Decrypt)`,
    );
  }
  const keySide = await keyPolicySide(ctx, spec.check, { arn: principal, name: 'the worker', sid: 'WorkerReadsSecret' }, ['kms:Decrypt'], key);
  return keySide ?? ok(spec.check);
}
