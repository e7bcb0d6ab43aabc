/**
 * Where the embedded mode keeps its files, under one work dir per source
 * (`local.workDir`, or `<dataRoot>/<source>`: src/backends/local.ts decides).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileSafe } from './files';

export interface WorkDirLayout {
  root: string;
  /** RDS-layout exports: `exports/<exportId>/`. */
  exports: string;
  /** Export task state (status, progress, owner) next to the exports, never inside one. */
  exportTasks: string;
  /** DynamoDB table exports' state (source kind dynamodb); their files are under `exports/<exportId>/AWSDynamoDB/`. */
  tableExportTasks: string;
  snapshots: string;
  /** Primary keys read from the catalog at export time, per export. */
  catalog: string;
  warehouse: string;
  results: string;
  runs: string;
  manifests: string;
  grants: string;
  /** The running load runner's address (shared by the worker and the CLI). */
  runnerInfo: string;
  runnerLog: string;
  /** The load runners' own temporary folders (their TMPDIR), one per runner: src/local/runner/temp-dir.ts. */
  runnerTemp: string;
  /** Default PGlite data folder when the config names none. */
  pgliteData: string;
}

export function layoutOf(root: string): WorkDirLayout {
  return {
    root,
    exports: join(root, 'exports'),
    exportTasks: join(root, 'export-tasks'),
    tableExportTasks: join(root, 'table-export-tasks'),
    snapshots: join(root, 'snapshots'),
    catalog: join(root, 'catalog'),
    warehouse: join(root, 'warehouse'),
    results: join(root, 'results'),
    runs: join(root, 'runs'),
    manifests: join(root, 'manifests'),
    grants: join(root, 'grants.json'),
    runnerInfo: join(root, 'runner.json'),
    runnerLog: join(root, 'runner.log'),
    runnerTemp: join(root, 'runner-tmp'),
    pgliteData: join(root, 'pglite'),
  };
}

/**
 * `results/<cycleId>/<table>.json`; a table name with characters a file name cannot hold also gets a
 * hash of the name, so `public.a b` and `public.a_b` never share a result.
 */
export function resultFile(layout: WorkDirLayout, cycleId: string, table: string): string {
  const safe = fileSafe(table);
  return join(layout.results, fileSafe(cycleId), `${safe === table ? safe : `${safe}-${createHash('sha256').update(table).digest('hex').slice(0, 12)}`}.json`);
}
