/**
 * RDS DB (or Aurora cluster) snapshots. The id comes from the workflow, so a retry finds the
 * snapshot it started and adopts it. Nothing here waits: the workflow polls describeSnapshot with timers.
 */
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  type DBClusterSnapshot,
  type DBSnapshot,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { PortError } from '../errors';
import type { SnapshotRef, SnapshotState, SnapshotStatus } from '../model';
import type { SnapshotPort, SnapshotRequest } from '../ports';
import { clusterSnapshotIdOf } from '../ids';
import { hasAwsCode, toPortError } from './errors';
import { SNAPSHOT_TAG } from './required-actions';
import type { AwsSettings } from './settings';

/** One snapshot, instance or cluster, as the adapters need it. */
interface SnapshotInfo {
  id: string;
  arn: string;
  owner: string;
  status: string;
  type: string;
  createdAt?: Date;
  percentProgress?: number;
}

export class RdsSnapshots implements SnapshotPort {
  constructor(
    private readonly rds: RDSClient,
    private readonly settings: Pick<AwsSettings, 'rds'>,
  ) {}

  private get owner(): string {
    const { rds } = this.settings;
    return rds.clusterId ? `cluster ${rds.clusterId}` : `instance ${rds.instanceId}`;
  }

  async startSnapshot(req: SnapshotRequest): Promise<SnapshotRef> {
    if (req.mode === 'existing') return this.adoptExisting(req.existingSnapshotId);
    if (req.mode === 'latest-automated') return this.latestAutomated();
    return this.create(req.snapshotId);
  }

  async describeSnapshot(snapshotId: string): Promise<SnapshotStatus> {
    const snap = await this.find(snapshotId);
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} of ${this.owner} does not exist: was it deleted? Run a new sync to take another`);
    const state = snapshotState(snap.status);
    const progress = `status ${snap.status}${snap.percentProgress !== undefined ? `, ${snap.percentProgress}%` : ''}`;
    // A failed snapshot never becomes available: the cycle stops, and the message says where to look.
    const why = state === 'failed' ? `; it will never become available: see the events of ${this.owner} in the RDS console for the cause, then run a new sync (with snapshot.mode existing, first point snapshot.id at an available snapshot)` : '';
    return {
      snapshotId,
      state,
      ...(snap.createdAt ? { createdAt: snap.createdAt.toISOString() } : {}),
      message: `${progress}${why}`,
    };
  }

  /** The snapshot's ARN, which StartExportTask needs. */
  async snapshotArn(snapshotId: string): Promise<string> {
    const snap = await this.find(snapshotId);
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} of ${this.owner} does not exist, so it cannot be exported: run a new sync`);
    return snap.arn;
  }

  private async create(requestedId: string): Promise<SnapshotRef> {
    const { rds } = this.settings;
    // Cluster snapshot ids have at most 63 characters; the same request always gives the same id, so a retry adopts it.
    const snapshotId = rds.clusterId ? clusterSnapshotIdOf(requestedId) : requestedId;
    const subject = `snapshot ${snapshotId} of ${this.owner}`;
    try {
      const created = rds.clusterId
        ? (await this.rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: rds.clusterId, DBClusterSnapshotIdentifier: snapshotId, Tags: TAGS }))).DBClusterSnapshot
        : (await this.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: rds.instanceId, DBSnapshotIdentifier: snapshotId, Tags: TAGS }))).DBSnapshot;
      return { snapshotId, createdAt: (created?.SnapshotCreateTime ?? new Date()).toISOString(), adopted: false };
    } catch (err) {
      if (!hasAwsCode(err, 'DBSnapshotAlreadyExists', 'DBClusterSnapshotAlreadyExists')) {
        throw toPortError(err, { service: 'RDS', operation: rds.clusterId ? 'CreateDBClusterSnapshot' : 'CreateDBSnapshot', subject, ...this.createHint(err) });
      }
    }
    // A retry (or a replay) of this cycle: the snapshot with our id is ours to adopt.
    const existing = await this.find(snapshotId);
    if (!existing) throw new PortError('not-found', 'DBSnapshotNotFound', `${subject} was reported as existing but cannot be found: retry the sync`);
    // RDS stores identifiers in lowercase: the configured id may be written in any case.
    if (existing.owner.toLowerCase() !== (rds.clusterId ?? rds.instanceId).toLowerCase()) {
      throw new PortError('already-exists', 'DBSnapshotAlreadyExists', `${subject}: a snapshot with this id belongs to ${existing.owner}; rename the source or delete that snapshot`);
    }
    return { snapshotId, createdAt: (existing.createdAt ?? new Date()).toISOString(), adopted: true };
  }

  /** What to do about a refused CreateDB(Cluster)Snapshot whose generic advice would mislead. */
  private createHint(err: unknown): { hint?: string } {
    const { rds } = this.settings;
    const kind = rds.clusterId ? 'DB cluster' : 'DB instance';
    if (hasAwsCode(err, 'SnapshotQuotaExceeded')) {
      return {
        hint:
          `the account's quota of manual ${kind} snapshots in this region is used up (100 by default, shared by every source and user): ` +
          'delete manual snapshots that are no longer needed, lower retention.snapshots of the sources, or ask for a higher quota in Service Quotas; then run a new sync',
      };
    }
    if (hasAwsCode(err, 'DBInstanceNotFound', 'DBClusterNotFound')) {
      const setting = rds.clusterId ? `source.clusterId (${rds.clusterId})` : `source.instanceId (${rds.instanceId})`;
      return { hint: `no ${kind} has this identifier in the account and region lakesync uses: check ${setting} and aws.region in lakesync.yaml` };
    }
    return {};
  }

  private async adoptExisting(snapshotId: string | undefined): Promise<SnapshotRef> {
    if (!snapshotId) throw new PortError('validation', 'MissingSnapshotId', 'snapshot mode existing needs the snapshot id: set snapshot.id in lakesync.yaml');
    const snap = await this.find(snapshotId);
    if (!snap) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} (snapshot.id in lakesync.yaml) does not exist for ${this.owner}: check the id`);
    // A snapshot id names a snapshot of any instance or cluster of the account: only the source's own is its data.
    const configured = this.settings.rds.clusterId ?? this.settings.rds.instanceId;
    if (snap.owner.toLowerCase() !== configured.toLowerCase()) {
      throw new PortError(
        'validation',
        'SnapshotOfAnotherSource',
        `snapshot ${snapshotId} (snapshot.id in lakesync.yaml) is a snapshot of ${snap.owner || 'an unknown instance'}, not of ${this.owner}: set snapshot.id to a snapshot of ${this.owner}, or point the source at ${snap.owner || 'its instance'}`,
      );
    }
    return { snapshotId, createdAt: (snap.createdAt ?? new Date()).toISOString(), adopted: true };
  }

  private async latestAutomated(): Promise<SnapshotRef> {
    const automated = (await this.list({ automated: true })).filter((s) => s.status.toLowerCase() === 'available' && s.createdAt);
    automated.sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime());
    const newest = automated[0];
    if (!newest) {
      throw new PortError('not-found', 'NoAutomatedSnapshot', `${this.owner} has no available automated snapshot: enable automated backups, or set snapshot.mode to create`);
    }
    return { snapshotId: newest.id, createdAt: newest.createdAt!.toISOString(), adopted: true };
  }

  private async find(snapshotId: string): Promise<SnapshotInfo | undefined> {
    return (await this.list({ snapshotId }))[0];
  }

  /** Snapshots of the configured instance or cluster, across all pages. */
  private async list(filter: { snapshotId?: string; automated?: boolean }): Promise<SnapshotInfo[]> {
    const { rds } = this.settings;
    const subject = filter.snapshotId ? `snapshot ${filter.snapshotId} of ${this.owner}` : `automated snapshots of ${this.owner}`;
    const out: SnapshotInfo[] = [];
    let marker: string | undefined;
    try {
      do {
        const common = {
          ...(filter.automated ? { Filters: [{ Name: 'snapshot-type', Values: ['automated'] }] } : {}),
          ...(filter.snapshotId ? snapshotTypeOf(filter.snapshotId, Boolean(rds.clusterId)) : {}),
          ...(marker ? { Marker: marker } : {}),
        };
        if (rds.clusterId) {
          const page = await this.rds.send(
            new DescribeDBClusterSnapshotsCommand({
              ...(filter.snapshotId ? { DBClusterSnapshotIdentifier: filter.snapshotId } : { DBClusterIdentifier: rds.clusterId }),
              ...common,
            }),
          );
          out.push(...(page.DBClusterSnapshots ?? []).map(fromClusterSnapshot));
          marker = page.Marker;
        } else {
          const page = await this.rds.send(
            new DescribeDBSnapshotsCommand({
              ...(filter.snapshotId ? { DBSnapshotIdentifier: filter.snapshotId } : { DBInstanceIdentifier: rds.instanceId }),
              ...common,
            }),
          );
          out.push(...(page.DBSnapshots ?? []).map(fromInstanceSnapshot));
          marker = page.Marker;
        }
      } while (marker);
    } catch (err) {
      if (filter.snapshotId && hasAwsCode(err, 'DBSnapshotNotFound', 'DBClusterSnapshotNotFound')) return [];
      const operation = rds.clusterId ? 'DescribeDBClusterSnapshots' : 'DescribeDBSnapshots';
      throw toPortError(err, { service: 'RDS', operation, subject });
    }
    // Emulators may ignore the filter: check the type here too.
    return filter.automated ? out.filter((s) => s.type === 'automated') : out;
  }
}

const TAGS = [{ Key: SNAPSHOT_TAG.key, Value: SNAPSHOT_TAG.value }];

/**
 * The SnapshotType a lookup by id needs. RDS names automated snapshots `rds:<source>-<time>`, and
 * DescribeDB(Cluster)Snapshots wants SnapshotType with such an id. AWS Backup names its snapshots
 * `awsbackup:job-<id>`; DescribeDBSnapshots returns them only when asked for type awsbackup (which
 * does not apply to clusters). A manual snapshot's id cannot hold a colon.
 */
function snapshotTypeOf(snapshotId: string, cluster: boolean): { SnapshotType?: string } {
  const id = snapshotId.toLowerCase();
  if (id.startsWith('rds:')) return { SnapshotType: 'automated' };
  if (id.startsWith('awsbackup:') && !cluster) return { SnapshotType: 'awsbackup' };
  return {};
}

function fromInstanceSnapshot(s: DBSnapshot): SnapshotInfo {
  const info = snapshotInfo(s.DBSnapshotIdentifier, s.DBSnapshotArn, s.DBInstanceIdentifier, s);
  // A copy's SnapshotCreateTime is when it was copied; OriginalSnapshotCreateTime (kept by copies)
  // is when its data was taken, which is what the lake's "no going back in time" check compares.
  return s.OriginalSnapshotCreateTime ? { ...info, createdAt: new Date(s.OriginalSnapshotCreateTime) } : info;
}

function fromClusterSnapshot(s: DBClusterSnapshot): SnapshotInfo {
  return snapshotInfo(s.DBClusterSnapshotIdentifier, s.DBClusterSnapshotArn, s.DBClusterIdentifier, s);
}

function snapshotInfo(id: string | undefined, arn: string | undefined, owner: string | undefined, s: DBSnapshot | DBClusterSnapshot): SnapshotInfo {
  return {
    id: id ?? '',
    arn: arn ?? '',
    owner: owner ?? '',
    status: s.Status ?? 'unknown',
    type: s.SnapshotType ?? 'manual',
    ...(s.SnapshotCreateTime ? { createdAt: new Date(s.SnapshotCreateTime) } : {}),
    ...(s.PercentProgress !== undefined ? { percentProgress: s.PercentProgress } : {}),
  };
}

function snapshotState(status: string): SnapshotState {
  const s = status.toLowerCase();
  if (s === 'available') return 'available';
  if (['failed', 'error', 'deleting', 'deleted', 'incompatible-restore'].includes(s)) return 'failed';
  return 'creating';
}
