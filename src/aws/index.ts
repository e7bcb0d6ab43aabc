/** AWS adapters behind the ports (RDS, S3, Glue, S3 Tables, Lake Formation, Athena). */
import type { Ports } from '../ports';
import { athenaLastCommit, AthenaQueries, type AthenaPolling, AthenaVerify } from './athena';
import { type AwsClients, destroyClients } from './clients';
import { ExportDiscovery } from './discover';
import { GlueLoads } from './glue';
import { LakeFormationGrants } from './lakeformation';
import { S3Manifests } from './manifests';
import { RdsExports } from './rds-exports';
import { RdsSnapshots } from './rds-snapshots';
import { AwsRetention } from './retention';
import { assertAthenaReadOnly } from './read-only';
import { S3Objects } from './s3';
import { S3TablesLake } from './s3tables';
import type { AwsSettings } from './settings';

export interface AwsPortsOptions {
  athenaPolling?: AthenaPolling;
  /** Tables per S3 Tables ListTables page (tests); the service's default when absent. */
  listTablesPageSize?: number;
  /** Where warnings of the adapters go (default console.warn). */
  warn?: (message: string) => void;
}

/** The ports of one source on AWS; `clients` from createClients (tests pass mocked or recording ones). */
export function buildAwsPorts(settings: AwsSettings, clients: AwsClients, options: AwsPortsOptions = {}): Ports {
  const objects = new S3Objects(clients.s3);
  const snapshots = new RdsSnapshots(clients.rds, settings);
  const queries = new AthenaQueries(clients.athena, settings, options.athenaPolling);
  const grants = new LakeFormationGrants(clients.lakeformation, settings);
  // In Lake Formation mode the Glue job role needs grants on a namespace lakesync creates.
  const lakeFormation = (settings.lakeFormation?.mode ?? 'lakeformation') === 'lakeformation';
  const lake = new S3TablesLake(clients.s3tables, settings, lakeFormation ? async (namespace) => void (await grants.grantJobRole(namespace)) : undefined);
  const exports = new RdsExports(clients.rds, snapshots, settings);
  return {
    snapshot: snapshots,
    export: exports,
    discover: new ExportDiscovery(objects, settings.database, (exportId) => exports.exportWarnings(exportId)),
    lake: {
      ensureNamespace: (namespace) => lake.ensureNamespace(namespace),
      tableExists: (namespace, table) => lake.tableExists(namespace, table),
      listTables: (namespace) => lake.listTables(namespace, options.listTablesPageSize),
      // Athena fails on a table that does not exist: ask S3 Tables first.
      lastCommit: async (namespace, table) => ((await lake.tableExists(namespace, table)) ? athenaLastCommit(queries, settings, namespace, table) : undefined),
      query: async (sql) => {
        assertAthenaReadOnly(sql);
        const result = await queries.run(sql, `lake query (${sql.slice(0, 80)})`);
        return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i] ?? null])));
      },
    },
    load: new GlueLoads(clients.glue, objects, settings, options.warn),
    grant: grants,
    verify: new AthenaVerify(queries, settings),
    manifests: new S3Manifests(objects, settings.export.bucket, settings.export.prefix, settings.source),
    retention: new AwsRetention(clients.rds, clients.s3, settings),
    close: async () => destroyClients(clients),
  };
}

export type { AwsSettings } from './settings';
export { type AwsClients, createClients } from './clients';
