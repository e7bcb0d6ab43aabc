/**
 * The embedded mode's ports of a DynamoDB source (source.kind dynamodb, backend local): moto server
 * at `source.endpoint` is the DynamoDB, its tables' exports are written under the work dir in AWS's
 * layout (./exporter.ts), and the lake, loads, grants, verification, manifests and retention are
 * the embedded mode's own. A DynamoDB source has no RDS snapshot or export: those ports refuse.
 */
import { PortError } from '../../errors';
import type { DiscoverPort, ExportPort, Ports, SnapshotPort } from '../../ports';
import { createGrantPort } from '../grants';
import { createLakePort, lakeTableExists } from '../lake';
import { createLoadPort } from '../load';
import { createManifestStore } from '../manifests';
import { layoutOf } from '../paths';
import { createRetentionPort } from '../retention';
import { RunnerClient } from '../runner/client';
import { createVerifyPort } from '../verify';
import { LocalDynamoCatalog } from './catalog';
import { createDynamoClients, type LocalDynamoSource } from './clients';
import { createLocalTableExportPort } from './exporter';

// The embedded DynamoDB itself (moto server) starts from ./moto-server, kept out of here so that opening ports loads no process code.
export type { LocalDynamoSource } from './clients';

export interface LocalDynamoSettings {
  source: string;
  /** The source's database label (`{database}` in lake names). */
  database: string;
  workDir: string;
  dynamodb: LocalDynamoSource;
}

export async function createLocalDynamoPorts(settings: LocalDynamoSettings, options: { log?: (line: string) => void } = {}): Promise<Ports> {
  const layout = layoutOf(settings.workDir);
  // Nothing is written here: `plan` and `schema` open these ports and have no side effects; each
  // writer creates the folder it writes in.
  const log = options.log ?? (() => undefined);
  const clients = createDynamoClients(settings.dynamodb);
  const catalog = new LocalDynamoCatalog(clients.dynamodb, clients.streams, {
    endpoint: settings.dynamodb.endpoint,
    database: settings.database,
    ...(settings.dynamodb.tables ? { tables: settings.dynamodb.tables } : {}),
    warn: log,
  });
  const tableExport = createLocalTableExportPort(layout, { clients, log });
  const runner = new RunnerClient(layout, { log });

  return {
    snapshot: refusingSnapshots(settings.source),
    export: refusingExports(settings.source),
    discover: dynamoDiscover(settings.source, catalog),
    lake: createLakePort(layout, runner),
    load: createLoadPort(layout, runner, {}),
    grant: createGrantPort(layout.grants, settings.source, async (ns, table) => lakeTableExists(layout, ns, table)),
    verify: createVerifyPort(runner),
    manifests: createManifestStore(layout.manifests),
    retention: createRetentionPort(layout, settings.source),
    tableExport,
    async close() {
      await tableExport.settle();
      await runner.close();
      clients.destroy();
    },
  };
}

function notForDynamo(source: string, what: string): PortError {
  return new PortError(
    'validation',
    'NotSupportedForDynamoDB',
    `source ${source} is a DynamoDB source: it has no ${what}. Its tables are exported one by one (ports.tableExport); this call means a cycle planned it as an RDS source`,
  );
}

function refusingSnapshots(source: string): SnapshotPort {
  return {
    startSnapshot: async () => Promise.reject(notForDynamo(source, 'RDS snapshot')),
    describeSnapshot: async () => Promise.reject(notForDynamo(source, 'RDS snapshot')),
  };
}

function refusingExports(source: string): ExportPort {
  return {
    startExport: async () => Promise.reject(notForDynamo(source, 'RDS snapshot export')),
    describeExport: async () => Promise.reject(notForDynamo(source, 'RDS snapshot export')),
  };
}

/** Tables come from the embedded DynamoDB's catalog; there is no export listing to discover. */
function dynamoDiscover(source: string, catalog: LocalDynamoCatalog): DiscoverPort {
  return {
    discover: async () => Promise.reject(notForDynamo(source, 'RDS export listing')),
    exportAvailable: async () => Promise.reject(notForDynamo(source, 'RDS export')),
    exportRowCount: async () => Promise.reject(notForDynamo(source, 'RDS export')),
    listTables: () => catalog.listTables(),
    sourceTables: (tables) => catalog.sourceTables(tables),
  };
}
