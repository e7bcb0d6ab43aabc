/**
 * The worker's own permissions: the caller (run the doctor with the worker's credentials) may
 * do what every cycle does (WORKER_ACTIONS, and DYNAMODB_WORKER_ACTIONS for a DynamoDB source),
 * so a missing one is found before a cycle fails on it. iam:SimulatePrincipalPolicy on the
 * caller's own user or role; a caller that may not simulate gets a warning, not a failure.
 * The key policy's side of the worker's key actions is read as for the roles (kms.ts).
 */
import { awsErrorKind } from '../../aws/errors';
import { dynamodbWorkerActions, type RequiredAction, type ResourceNames, workerActions } from '../../aws/required-actions';
import { dynamoTableNameOf } from '../../dynamodb/names';
import { snapshotIdFor } from '../../ids';
import { callFailed, deniedOf, describeDenied, permissionFix } from '../report';
import type { PermissionRequest } from '../simulate';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';
import type { DynamoDoctorSource } from './dynamodb';
import { keyPolicySide } from './kms';
import { permissionRequest, resourceNames } from './names';

export const WORKER_PERMISSIONS = 'worker-permissions';

export async function checkWorkerPermissions(ctx: DoctorContext): Promise<CheckResult> {
  // A dynamodb source's settings carry the source (src/doctor/index.ts, DynamoSourceDoctorSettings).
  const dynamo = 'dynamodb' in ctx.settings ? (ctx.settings as { dynamodb: DynamoDoctorSource }).dynamodb : undefined;
  const principal = ctx.caller?.principalArn;
  if (!principal) {
    return warn(WORKER_PERMISSIONS, `not checked: the caller ${ctx.caller?.arn ?? '(unknown)'} is not an IAM user or role whose policies can be simulated`, 'run lakesync doctor with the credentials the worker uses');
  }
  const requests = workerRequests(ctx, dynamo);
  let outcomes;
  try {
    outcomes = await ctx.simulator.simulate(principal, requests);
  } catch (err) {
    if (awsErrorKind(err) === 'access-denied') {
      return warn(WORKER_PERMISSIONS, `not checked: the caller ${principal} may not call iam:SimulatePrincipalPolicy on itself`, `allow it iam:SimulatePrincipalPolicy on ${principal} (the lakesync-doctor policy, docs/aws-setup.md section 8), or check the worker policy against docs/aws-setup.md section 1`);
    }
    return callFailed(WORKER_PERMISSIONS, err, 'IAM SimulatePrincipalPolicy', `the worker's own permissions (${principal})`);
  }
  const denied = deniedOf(outcomes);
  if (denied.length > 0) {
    return fail(
      WORKER_PERMISSIONS,
      `the caller ${principal} (the principal the worker runs as) lacks actions a cycle needs: ${describeDenied(denied)}`,
      permissionFix(denied, `add to its policy (docs/aws-setup.md section 1${dynamo ? ' and section 9' : ''}; infra/lakesync.yaml, policy lakesync-worker; the lists are WORKER_ACTIONS${dynamo ? ' and DYNAMODB_WORKER_ACTIONS' : ''} in src/aws/required-actions.ts)`),
    );
  }
  const keyActions = [...new Set(requests.filter((r) => r.action.startsWith('kms:')).map((r) => r.action))];
  if (ctx.key && keyActions.length > 0) {
    const keySide = await keyPolicySide(ctx, WORKER_PERMISSIONS, { arn: principal, name: 'the worker', sid: 'WorkerUsesKey' }, keyActions);
    if (keySide) return keySide;
  }
  return ok(WORKER_PERMISSIONS);
}

function workerRequests(ctx: DoctorContext, dynamo: DynamoDoctorSource | undefined): PermissionRequest[] {
  const s = ctx.settings;
  // No location of lakesync's own: Athena keeps the results (managed query results) or writes them where the workgroup says.
  const athena = s.athena.outputLocation?.replace(/^s3:\/\//, '').replace(/\/+$/, '');
  const catalog = s.catalog ?? s.direct;
  const names: ResourceNames = {
    ...resourceNames(ctx),
    ...(s.rds.clusterId ? { dbCluster: s.rds.clusterId } : { dbInstance: s.rds.instanceId }),
    snapshotId: snapshotIdFor(s.source, 'doctor'),
    glueJob: s.glue.jobName,
    glueRoleArn: s.glue.roleArn,
    workgroup: s.athena.workgroup,
    ...(athena === undefined ? {} : { athenaBucket: athena.split('/')[0]!, athenaOutput: athena }),
    // The worker reads source.catalog itself, also for a source without direct tables.
    ...(catalog?.auth.kind === 'secret' ? { catalogSecretArn: catalog.auth.secretArn } : {}),
    ...(catalog?.auth.kind === 'iam' ? { dbUser: catalog.user ?? '*', dbResourceId: ctx.database?.resourceId ?? '*' } : {}),
  };
  const scope = {
    kind: dynamo ? ('dynamodb' as const) : ('rds' as const),
    database: s.rds.clusterId ? ('cluster' as const) : ('instance' as const),
    mode: s.lakeFormationMode,
    ...(catalog ? { catalogAuth: catalog.auth.kind } : {}),
    createTableBucket: s.tableBucket.create,
    athenaOutput: athena !== undefined,
  };
  // Without a resolved key (the key checks report why) its actions are not simulated.
  const usable = (a: RequiredAction) => Boolean(ctx.key) || !a.action.startsWith('kms:');
  const requests = workerActions(scope).filter(usable).map((a) => permissionRequest(a, names));
  if (!dynamo) return requests;
  const dynamoNames = { ...names, dynamodbRegion: dynamo.region, dynamodbExportBucket: dynamo.export.bucket, dynamodbExportPrefix: dynamo.export.prefix };
  // The tables the PITR check found synced (ListTables or source.tables, include applied).
  const tables = ctx.dynamoTables ?? dynamo.tables?.map(dynamoTableNameOf) ?? [];
  for (const a of dynamodbWorkerActions(Boolean(dynamo.export.kmsKeyId)).filter(usable)) {
    const perTable = a.resources.some((r) => r.includes('DYNAMODB_TABLE'));
    // The DynamoDB calls go to the tables' region, which may not be the lake's.
    const region: Record<string, string[]> = a.action.startsWith('dynamodb:') ? { 'aws:RequestedRegion': [dynamo.region] } : {};
    // No table known (ListTables failed): the table actions are not simulated.
    for (const table of perTable ? tables : ['']) {
      const asked = permissionRequest(a, { ...dynamoNames, dynamodbTable: table });
      requests.push({ ...asked, context: { ...asked.context, ...region } });
    }
  }
  return requests;
}
