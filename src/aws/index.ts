/** AWS adapters behind the ports (RDS, S3, Glue, S3 Tables, Lake Formation, Athena). */
import type { Ports } from '../ports';
import { type AwsClients, destroyClients } from './clients';
import { ExportDiscovery } from './discover';
import { lakeSideOf, type LakeSideOptions } from './lake-side';
import { S3Manifests } from './manifests';
import { RdsExports } from './rds-exports';
import { RdsSnapshots } from './rds-snapshots';
import { cycleFoldersOf, S3CycleFiles } from './cycle-files';
import { AwsRetention } from './retention';
import { S3Objects } from './s3';
import type { AwsSettings } from './settings';

export type AwsPortsOptions = LakeSideOptions;

/** The ports of one source on AWS; `clients` from createClients (tests pass mocked or recording ones). */
export function buildAwsPorts(settings: AwsSettings, clients: AwsClients, options: AwsPortsOptions = {}): Ports {
  const objects = new S3Objects(clients.s3);
  const snapshots = new RdsSnapshots(clients.rds, settings);
  const exports = new RdsExports(clients.rds, snapshots, settings);
  const manifests = new S3Manifests(objects, settings.export.bucket, settings.export.prefix, settings.source);
  const lakeSide = lakeSideOf(settings, clients, objects, options, manifests);
  const cycleFiles = new S3CycleFiles(clients.s3, cycleFoldersOf(settings.source, settings.export, settings.glue), () => lakeSide.load.liveRunTokens());
  return {
    snapshot: snapshots,
    export: exports,
    discover: new ExportDiscovery(objects, settings.database, (exportId) => exports.exportWarnings(exportId)),
    ...lakeSide,
    manifests,
    retention: new AwsRetention(clients.rds, clients.s3, settings, cycleFiles),
    close: async () => destroyClients(clients),
  };
}

export type { AwsSettings } from './settings';
export { type AwsClients, createClients } from './clients';
