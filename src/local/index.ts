/**
 * The embedded mode's adapters (DESIGN section 5): PGlite or PostgreSQL as the source, an export
 * in the RDS layout, the Glue core on local Spark + Iceberg through one long-lived load runner,
 * a file grant store and Spark SQL for verification. Nothing heavy starts here: the source opens
 * on the first export and Spark on the first load or query, so `lakesync plan` or `grants` stay fast.
 */
import { mkdirSync } from 'node:fs';
import type { BackendContext } from '../backends';
import type { SourceConfig } from '../config/schema';
import type { Ports } from '../ports';
import { createDiscoverPort } from './discover';
import type { ExportOptions } from './export/exporter';
import { createExportPort, settleExports } from './export/task';
import { createGrantPort } from './grants';
import { createLakePort, lakeTableExists } from './lake';
import { createLoadPort, LOCAL_CATALOG } from './load';
import { createManifestStore } from './manifests';
import { workDirFor, type WorkDirLayout } from './paths';
import { RunnerClient } from './runner/client';
import { createSnapshotPort } from './snapshot';
import { acquireSource, type SourceHandle, type SourceSpec } from './source/registry';
import { createVerifyPort } from './verify';

export interface LocalPortsOptions {
  /** Export tuning (tests make parts small). */
  exportTuning?: Pick<ExportOptions, 'rowsPerPart' | 'rowGroupSize' | 'fetchRows'>;
  log?: (line: string) => void;
}

export function sourceSpec(source: SourceConfig, layout: WorkDirLayout): SourceSpec {
  const db = source.source;
  if (db.kind === 'pglite') return { kind: 'pglite', dataDir: db.dataDir ?? layout.pgliteData, demo: db.demo };
  if (db.kind === 'postgres') return { kind: 'postgres', url: db.url };
  throw new Error(`source kind ${db.kind} has no local adapter: use backend aws for rds sources, or kind pglite/postgres`);
}

export async function createLocalPorts(sourceName: string, source: SourceConfig, ctx: BackendContext & LocalPortsOptions): Promise<Ports> {
  const layout = workDirFor(sourceName, source, ctx.dataRoot);
  mkdirSync(layout.root, { recursive: true });
  const spec = sourceSpec(source, layout);
  const log = ctx.log ?? (() => undefined);

  let handle: Promise<SourceHandle> | undefined;
  const openSource = async () => {
    if (!handle) {
      handle = acquireSource(spec);
      handle.catch(() => (handle = undefined));
    }
    return (await handle).db;
  };
  const runner = new RunnerClient(layout, { catalog: LOCAL_CATALOG, log });
  const lake = createLakePort(layout, runner);

  return {
    snapshot: createSnapshotPort(layout, sourceName),
    export: createExportPort(layout, { database: source.database, source: openSource, log, ...(ctx.exportTuning ? { tuning: ctx.exportTuning } : {}) }),
    discover: createDiscoverPort(layout, source.database),
    lake,
    load: createLoadPort(layout, source, runner),
    grant: createGrantPort(layout.grants, sourceName, async (ns, table) => lakeTableExists(layout, ns, table)),
    verify: createVerifyPort(runner),
    manifests: createManifestStore(layout.manifests),
    async close() {
      await settleExports();
      await runner.close();
      const opened = handle;
      handle = undefined;
      if (opened) await (await opened.catch(() => undefined))?.release();
    },
  };
}

export { workDirFor } from './paths';
export { acquireSource } from './source/registry';
