/**
 * The key of hashed columns (`hashKey.secretArn`): every load of a table with a hashed column
 * reads it with the Glue job role, so a missing secret, or one the role may not read, fails
 * every such load. Only when a column is hashed (otherwise the job never reads it).
 */
import type { CheckResult, DoctorContext } from '../types';
import { checkGlueSecret } from './secret';

export const HASH_KEY = 'hash-key';

export async function checkHashKey(ctx: DoctorContext): Promise<CheckResult[]> {
  const secretId = ctx.settings.hashKeySecret;
  if (!secretId) return [];
  return [
    await checkGlueSecret(ctx, secretId, {
      check: HASH_KEY,
      field: 'hashKey.secretArn',
      holds: 'the key of the hashed columns',
      create: `aws secretsmanager create-secret --region ${ctx.settings.region} --name <name> --secret-string "$(openssl rand -hex 32)", then set hashKey.secretArn to its ARN (keep the key: another key changes every hash)`,
      simulateRead: true,
    }),
  ];
}
