/** Check 2: the source instance or cluster exists and runs PostgreSQL. */
import { DescribeDBClustersCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { hasAwsCode } from '../../aws/errors';
import { callFailed } from '../report';
import { type CheckResult, type DoctorContext, fail, ok, warn } from '../types';

export const RDS_SOURCE = 'rds-source';

export async function checkRdsSource(ctx: DoctorContext): Promise<CheckResult> {
  const { rds, region } = ctx.settings;
  if (rds.clusterId !== undefined) {
    const id = rds.clusterId;
    let cluster;
    try {
      cluster = (await ctx.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
    } catch (err) {
      if (hasAwsCode(err, 'DBClusterNotFoundFault')) {
        return fail(RDS_SOURCE, `DB cluster ${id} does not exist in ${region}`, `correct source.clusterId (aws rds describe-db-clusters --region ${region} --query 'DBClusters[].[DBClusterIdentifier,Engine]')`);
      }
      return callFailed(RDS_SOURCE, err, 'RDS DescribeDBClusters', `cluster ${id}`);
    }
    ctx.database = { ...(cluster?.DbClusterResourceId ? { resourceId: cluster.DbClusterResourceId } : {}), ...(cluster?.IAMDatabaseAuthenticationEnabled !== undefined ? { iamAuthEnabled: cluster.IAMDatabaseAuthenticationEnabled } : {}) };
    const engine = cluster?.Engine ?? 'unknown';
    // Aurora PostgreSQL, or a Multi-AZ DB cluster of RDS for PostgreSQL.
    if (engine !== 'aurora-postgresql' && engine !== 'postgres') {
      return fail(RDS_SOURCE, `DB cluster ${id} runs ${engine}; lakesync reads PostgreSQL (aurora-postgresql)`, 'point source.clusterId at an Aurora PostgreSQL cluster');
    }
    return statusOf(`DB cluster ${id}`, cluster?.Status);
  }
  const id = rds.instanceId;
  let instance;
  try {
    instance = (await ctx.clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
  } catch (err) {
    if (hasAwsCode(err, 'DBInstanceNotFoundFault', 'DBInstanceNotFound')) {
      return fail(RDS_SOURCE, `DB instance ${id} does not exist in ${region}`, `correct source.instanceId (aws rds describe-db-instances --region ${region} --query 'DBInstances[].[DBInstanceIdentifier,Engine]')`);
    }
    return callFailed(RDS_SOURCE, err, 'RDS DescribeDBInstances', `instance ${id}`);
  }
  ctx.database = { ...(instance?.DbiResourceId ? { resourceId: instance.DbiResourceId } : {}), ...(instance?.IAMDatabaseAuthenticationEnabled !== undefined ? { iamAuthEnabled: instance.IAMDatabaseAuthenticationEnabled } : {}) };
  const engine = instance?.Engine ?? 'unknown';
  if (engine === 'aurora-postgresql' && instance?.DBClusterIdentifier) {
    return fail(RDS_SOURCE, `DB instance ${id} belongs to Aurora cluster ${instance.DBClusterIdentifier}: Aurora is exported from cluster snapshots`, `replace source.instanceId with clusterId: ${instance.DBClusterIdentifier}`);
  }
  if (engine !== 'postgres') {
    return fail(RDS_SOURCE, `DB instance ${id} runs ${engine}; lakesync reads RDS for PostgreSQL (engine postgres)`, 'point source.instanceId at an RDS for PostgreSQL instance (or source.clusterId at an Aurora PostgreSQL cluster)');
  }
  return statusOf(`DB instance ${id}`, instance?.DBInstanceStatus);
}

/** Snapshots need a running database; other states are worth a warning, not a failure. */
function statusOf(what: string, status: string | undefined): CheckResult {
  if (status === undefined || status === 'available' || status === 'backing-up') return ok(RDS_SOURCE);
  return warn(RDS_SOURCE, `${what} is ${status}: a snapshot waits until it is available`);
}
