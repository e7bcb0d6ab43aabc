/**
 * The embedded mode's adapters (DESIGN section 5): PGlite or PostgreSQL as the source, an export
 * in the RDS layout, the Glue core on local Spark + Iceberg through one long-lived load runner,
 * a file grant store and Spark SQL for verification. Nothing heavy starts here: the source opens
 * on the first export and Spark on the first load or query, so `lakesync plan` or `grants` stay fast.
 */
import { PortError } from '../errors';
import type { Ports } from '../ports';
import { createLocalDynamoPorts, type LocalDynamoSource } from './dynamodb';
import { createDiscoverPort } from './discover';
import type { ExportOptions } from './export/exporter';
import { createExportPort, settleExports } from './export/task';
import { createGrantPort } from './grants';
import { createLakePort, lakeTableExists } from './lake';
import { createLoadPort } from './load';
import { createManifestStore } from './manifests';
import { layoutOf, type WorkDirLayout } from './paths';
import { createRetentionPort } from './retention';
import { RunnerClient } from './runner/client';
import { createSnapshotPort } from './snapshot';
import { jdbcFromUrl } from './source/jdbc';
import { acquireSource, type SourceHandle, type SourceSpec } from './source/registry';
import { createVerifyPort } from './verify';

/** What the embedded mode needs of one source, resolved from lakesync.yaml by the port factory. */
export interface LocalSettings {
  source: string;
  /** The source database's name, as exports name it (`db.schema.table`). */
  database: string;
  /** The source's work dir: exports, warehouse, results, grants. */
  workDir: string;
  /** The database to export; PGlite's data folder defaults to `<workDir>/pglite`. */
  db: { kind: 'pglite'; dataDir?: string; demo: boolean } | { kind: 'postgres'; url: string } | ({ kind: 'dynamodb' } & LocalDynamoSource);
  /** Connections reading a postgres source at once during an export (default: from the core count). */
  exportReaders?: number;
  /** The exclude rule naming a table, if one does: the export leaves out a partitioned table with an excluded partition. */
  excludedBy?: (table: string) => string | undefined;
}

export interface LocalPortsOptions {
  /** Export tuning (tests make parts small). */
  exportTuning?: Pick<ExportOptions, 'rowsPerPart' | 'rowGroupSize' | 'fetchRows' | 'readers'>;
  log?: (line: string) => void;
}

export function sourceSpec(settings: Pick<LocalSettings, 'db'>, layout: WorkDirLayout): SourceSpec {
  const { db } = settings;
  if (db.kind === 'dynamodb') throw new PortError('validation', 'NotSupportedForDynamoDB', 'a dynamodb source has no SQL database to open: its tables are read through the embedded DynamoDB (source.endpoint)');
  return db.kind === 'pglite' ? { kind: 'pglite', dataDir: db.dataDir ?? layout.pgliteData, demo: db.demo } : { kind: 'postgres', url: db.url };
}

export async function createLocalPorts(settings: LocalSettings, options: LocalPortsOptions = {}): Promise<Ports> {
  if (settings.db.kind === 'dynamodb') {
    const { kind: _kind, ...dynamodb } = settings.db;
    return createLocalDynamoPorts({ source: settings.source, database: settings.database, workDir: settings.workDir, dynamodb }, options.log ? { log: options.log } : {});
  }
  const layout = layoutOf(settings.workDir);
  // Nothing is written here: `plan` and `schema` open these ports and have no side effects; each
  // writer creates the folder it writes in.
  const spec = sourceSpec(settings, layout);
  const log = options.log ?? (() => undefined);

  let handle: Promise<SourceHandle> | undefined;
  const openSource = async () => {
    if (!handle) {
      handle = acquireSource(spec);
      handle.catch(() => (handle = undefined));
    }
    return (await handle).db;
  };
  const runner = new RunnerClient(layout, { log });
  // Direct loads read a postgres source over JDBC; PGlite cannot be read that way.
  const sourceUrl = settings.db.kind === 'postgres' ? settings.db.url : undefined;
  const lake = createLakePort(layout, runner);

  return {
    snapshot: createSnapshotPort(layout, settings.source),
    export: createExportPort(layout, {
      database: settings.database,
      source: openSource,
      log,
      ...(settings.excludedBy ? { excludedBy: settings.excludedBy } : {}),
      ...(options.exportTuning || settings.exportReaders !== undefined ? { tuning: { ...(settings.exportReaders !== undefined ? { readers: settings.exportReaders } : {}), ...options.exportTuning } } : {}),
    }),
    discover: createDiscoverPort(layout, settings.database, openSource),
    lake,
    load: createLoadPort(layout, runner, { ...(sourceUrl !== undefined ? { jdbc: () => jdbcFromUrl(sourceUrl) } : {}) }),
    grant: createGrantPort(layout.grants, settings.source, async (ns, table) => lakeTableExists(layout, ns, table)),
    verify: createVerifyPort(runner),
    manifests: createManifestStore(layout.manifests),
    retention: createRetentionPort(layout, settings.source),
    async close() {
      await settleExports();
      await runner.close();
      const opened = handle;
      handle = undefined;
      if (opened) await (await opened.catch(() => undefined))?.release();
    },
  };
}

export { layoutOf } from './paths';
export { acquireSource } from './source/registry';
