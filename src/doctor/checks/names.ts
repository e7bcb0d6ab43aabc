/** The names that fill the ARN templates of src/aws/required-actions.ts for this source. */
import { type RequiredAction, resolveResource, type ResourceNames } from '../../aws/required-actions';
import type { PermissionRequest } from '../simulate';
import type { DoctorContext } from '../types';

/** A required action on this source's resources, as the simulator asks it. */
export function permissionRequest(a: RequiredAction, names: ResourceNames): PermissionRequest {
  return {
    action: a.action,
    resources: a.resources.map((r) => resolveResource(r, names)),
    ...(a.context ? { context: Object.fromEntries(Object.entries(a.context).map(([key, values]) => [key, [...values]])) } : {}),
    ...(a.condition ? { condition: a.condition } : {}),
  };
}

export function resourceNames(ctx: DoctorContext): ResourceNames {
  const s = ctx.settings;
  return {
    partition: s.partition,
    region: s.region,
    accountId: s.accountId,
    exportBucket: s.export.bucket,
    exportPrefix: s.export.prefix,
    scriptBucket: s.glue.scriptBucket,
    scriptPrefix: s.glue.scriptPrefix,
    resultPrefix: s.glue.resultPrefix,
    tableBucket: s.tableBucket.name,
    namespace: s.namespace,
    // Before the KMS check resolves an alias, the configured key id stands in.
    keyId: ctx.key?.id ?? s.export.kmsKeyId,
    ...(s.direct ? { glueConnection: s.direct.glueConnection } : {}),
    ...(s.direct?.user ? { dbUser: s.direct.user } : {}),
    ...(s.direct?.sslRootCert ? { sslRootCert: s.direct.sslRootCert.replace(/^s3:\/\//, '') } : {}),
    ...(s.direct?.auth.kind === 'secret' ? { catalogSecretArn: s.direct.auth.secretArn } : {}),
    // Unknown until the RDS check found the database: any resource id stands in.
    ...(s.direct ? { dbResourceId: ctx.database?.resourceId ?? '*' } : {}),
  };
}
