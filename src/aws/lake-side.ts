/**
 * The lake side every AWS source shares, whatever it reads: S3 Tables for the tables, Athena for
 * lineage, queries and verification, Lake Formation grants and the Glue loads.
 */
import type { ManifestStore, Ports } from '../ports';
import { athenaLastCommit, AthenaQueries, type AthenaPolling, AthenaVerify } from './athena';
import type { AwsClients } from './clients';
import { GlueLoads, type GlueLoadSettings } from './glue';
import { LakeFormationGrants } from './lakeformation';
import { uniqueNames } from '../names';
import { assertAthenaReadOnly } from './read-only';
import type { S3Objects } from './s3';
import { S3TablesLake } from './s3tables';
import type { AwsSettings } from './settings';

export type LakeSideSettings = GlueLoadSettings & Pick<AwsSettings, 'accountId' | 'athena' | 'lakeFormation'>;

export interface LakeSideOptions {
  athenaPolling?: AthenaPolling;
  /** Tables per S3 Tables ListTables page (tests); the service's default when absent. */
  listTablesPageSize?: number;
  /** Where warnings of the adapters go (default console.warn). */
  warn?: (message: string) => void;
}

/** `manifests`: the source's manifest store, where a namespace lakesync creates is marked until its grants are done. */
export function lakeSideOf(settings: LakeSideSettings, clients: AwsClients, objects: S3Objects, options: LakeSideOptions, manifests?: ManifestStore): Pick<Ports, 'lake' | 'grant' | 'verify'> & { load: GlueLoads } {
  const queries = new AthenaQueries(clients.athena, settings, options.athenaPolling);
  const grants = new LakeFormationGrants(clients.lakeformation, settings);
  // In Lake Formation mode the Glue job role needs grants on a namespace lakesync creates.
  const lakeFormation = (settings.lakeFormation?.mode ?? 'lakeformation') === 'lakeformation';
  const lake = new S3TablesLake(clients.s3tables, settings, lakeFormation ? async (namespace) => void (await grants.grantJobRole(namespace)) : undefined, manifests);
  return {
    lake: {
      ensureNamespace: (namespace) => lake.ensureNamespace(namespace),
      tableExists: (namespace, table) => lake.tableExists(namespace, table),
      listTables: (namespace) => lake.listTables(namespace, options.listTablesPageSize),
      // Athena fails on a table that does not exist: ask S3 Tables first.
      lastCommit: async (namespace, table) => ((await lake.tableExists(namespace, table)) ? athenaLastCommit(queries, settings, namespace, table) : undefined),
      query: async (sql, { maxRows } = {}) => {
        assertAthenaReadOnly(sql);
        const result = await queries.run(sql, `lake query (${sql.slice(0, 80)})`, undefined, maxRows !== undefined ? { maxRows } : {});
        const names = uniqueNames(result.columns);
        return result.rows.map((row) => Object.fromEntries(names.map((c, i) => [c, row[i] ?? null])));
      },
    },
    load: new GlueLoads(clients.glue, objects, settings, options.warn),
    grant: grants,
    verify: new AthenaVerify(queries, settings),
  };
}
