/**
 * The ports of a DynamoDB source on AWS: DynamoDB exports and catalog instead of RDS snapshots
 * and exports; the lake side (S3 Tables, Glue, Lake Formation, Athena) as for RDS sources.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PortError } from '../errors';
import type { Ports, RetentionPort } from '../ports';
import { type AwsClients, clientConfig, destroyClients } from './clients';
import { cycleFoldersOf, S3CycleFiles } from './cycle-files';
import { DynamoCatalog } from './dynamodb-catalog';
import { DynamoExportRetention } from './dynamodb-export-retention';
import { type DynamoExportSettings, DynamoTableExports } from './dynamodb-exports';
import { lakeSideOf, type LakeSideOptions } from './lake-side';
import { S3Manifests } from './manifests';
import { S3Objects } from './s3';
import type { AwsSettings } from './settings';

/** A DynamoDB source's tables and exports (`source` of lakesync.yaml, kind dynamodb). */
export interface DynamoSourceSettings {
  /** The tables' region (the lake's may differ). */
  region: string;
  /** `source.tables`: names or ARNs; every table ListTables returns when absent. */
  tables?: string[];
  export: Omit<DynamoExportSettings, 'source'>;
}

/** The lake side of AwsSettings (no RDS database, no RDS export) plus the DynamoDB source. */
export type AwsDynamoSettings = Omit<AwsSettings, 'rds' | 'export' | 'direct'> & { dynamodb: DynamoSourceSettings };

export type AwsDynamoPortsOptions = LakeSideOptions;

/** The DynamoDB client of the source's tables: the clients' own when the regions agree. */
export function dynamoClientFor(settings: AwsDynamoSettings, clients: AwsClients): DynamoDBClient {
  if (settings.dynamodb.region === settings.region) return clients.dynamodb;
  return new DynamoDBClient(clientConfig({ region: settings.dynamodb.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) }));
}

export function buildAwsDynamoPorts(settings: AwsDynamoSettings, clients: AwsClients, options: AwsDynamoPortsOptions = {}): Ports {
  const objects = new S3Objects(clients.s3);
  const ddb = dynamoClientFor(settings, clients);
  const exportSettings: DynamoExportSettings = { source: settings.source, ...settings.dynamodb.export };
  const catalog = new DynamoCatalog(ddb, { database: settings.database, ...(settings.dynamodb.tables ? { tables: settings.dynamodb.tables } : {}), ...(options.warn ? { warn: options.warn } : {}) });
  const rdsOnly = (what: string) => async (): Promise<never> => {
    throw new PortError('validation', 'NotForDynamoDB', `${what} is for RDS sources; source ${settings.source} reads DynamoDB with point-in-time exports (tableExport)`);
  };
  const manifests = new S3Manifests(objects, exportSettings.bucket, exportSettings.prefix, settings.source);
  const lakeSide = lakeSideOf(settings, clients, objects, options, manifests);
  const exportRetention = new DynamoExportRetention(clients.s3, objects, exportSettings, manifests, ddb);
  const cycleFiles = new S3CycleFiles(clients.s3, cycleFoldersOf(settings.source, exportSettings, settings.glue), () => lakeSide.load.liveRunTokens());
  return {
    snapshot: { startSnapshot: rdsOnly('an RDS snapshot'), describeSnapshot: rdsOnly('an RDS snapshot') },
    export: { startExport: rdsOnly('an RDS snapshot export'), describeExport: rdsOnly('an RDS snapshot export') },
    discover: {
      discover: rdsOnly('discovering an RDS export'),
      exportAvailable: rdsOnly('an RDS export'),
      exportRowCount: rdsOnly('an RDS export'),
      listTables: () => catalog.listTables(),
      sourceTables: (tables) => catalog.sourceTables(tables),
    },
    ...lakeSide,
    manifests,
    retention: {
      ...noSnapshots,
      listTableExports: (progress, warn) => exportRetention.listTableExports(progress, warn),
      deleteTableExport: (id) => exportRetention.deleteTableExport(id),
      listCycleFiles: (owned) => cycleFiles.listCycleFiles(owned),
      deleteCycleFiles: (cycleId) => cycleFiles.deleteCycleFiles(cycleId),
    },
    tableExport: new DynamoTableExports(ddb, objects, exportSettings),
    close: async () => {
      if (ddb !== clients.dynamodb) ddb.destroy();
      destroyClients(clients);
    },
  };
}

/**
 * DynamoDB sources have no snapshots nor RDS exports: retention deletes their table exports
 * (listTableExports, per table) and each cycle's working files.
 */
const noSnapshots: RetentionPort = {
  listSnapshots: async () => [],
  listExports: async () => [],
  deleteSnapshot: async () => ({ deleted: false, reason: 'DynamoDB sources have no snapshots' }),
  deleteExport: async () => ({ deleted: false, reason: 'DynamoDB sources have no RDS exports: their table exports are deleted per table' }),
};
