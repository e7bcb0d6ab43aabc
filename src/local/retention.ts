/**
 * RetentionPort of the embedded mode: the snapshot records lakesync wrote for the source
 * (snapshots/<id>.json) and its export folders (exports/<exportId>/), both under the source's
 * work dir. Deleting an export removes its folder, its catalog record and, last, its export task's
 * record, so that a deletion cut short is listed again (the record of an ended export without its
 * folder is) and finished; one record per cycle, each read whenever a snapshot is deleted, would
 * pile up otherwise.
 *
 * Also what AWS keeps elsewhere or expires by itself, which would fill the disk of a source synced
 * every few minutes: the DynamoDB table exports (exports/lse-…/ and their records in
 * table-export-tasks/), and each cycle's working files: its load results (results/<cycleId>/),
 * its load runs' records (runs/<runId>.json and .stop) and its manifests (manifests/<cycleId>/).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { exportInfoName } from '../export-listing';
import type { RetentionDeletion, RetentionItem, RetentionPort } from '../ports';
import { catalogRecordFile } from './discover';
import { deleteTableExport, listSourceTableExports } from './dynamodb/exporter';
import { endAbandonedExport, exportDir } from './export/task';
import { fileSafe, readJsonIfExists } from './files';
import type { RunRecord } from './load';
import { processAlive } from './process-identity';
import type { WorkDirLayout } from './paths';
import { RDS_EXPORT_ID } from '../ids';

interface SnapshotRecord {
  snapshotId: string;
  createdAt: string;
  source: string;
}

interface ExportTaskRecord {
  exportId: string;
  snapshot: { snapshotId: string };
  state: string;
  startedAt?: string;
}

export function createRetentionPort(layout: WorkDirLayout, source: string): RetentionPort {
  const snapshotFile = (id: string) => join(layout.snapshots, `${fileSafe(id)}.json`);
  const task = (id: string) => (RDS_EXPORT_ID.test(id) ? readJsonIfExists<ExportTaskRecord>(join(layout.exportTasks, `${id}.json`)) : undefined);
  const tasks = (): ExportTaskRecord[] =>
    existsSync(layout.exportTasks)
      ? readdirSync(layout.exportTasks)
          .filter((f) => f.endsWith('.json'))
          .flatMap((f) => readJsonIfExists<ExportTaskRecord>(join(layout.exportTasks, f)) ?? [])
      : [];

  return {
    async listSnapshots(owned): Promise<RetentionItem[]> {
      if (!existsSync(layout.snapshots)) return [];
      return readdirSync(layout.snapshots)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) => readJsonIfExists<SnapshotRecord>(join(layout.snapshots, f)) ?? [])
        .filter((r) => r.source === source && owned(r.snapshotId))
        .map((r) => ({ id: r.snapshotId, createdAt: r.createdAt }));
    },

    async listExports(owned): Promise<RetentionItem[]> {
      // A folder being written is `<id>.partial`: not an export id, so never listed.
      const folders = existsSync(layout.exports)
        ? readdirSync(layout.exports, { withFileTypes: true })
            .filter((d) => d.isDirectory() && RDS_EXPORT_ID.test(d.name) && owned(d.name))
            .map((d) => ({ id: d.name, createdAt: task(d.name)?.startedAt ?? statSync(join(layout.exports, d.name)).mtime.toISOString() }))
        : [];
      const listed = new Set(folders.map((f) => f.id));
      // The record of an export that ended without a folder (failed, cancelled, or one whose deletion was cut short or done by a version that kept the records): deleting it removes the record.
      // Nothing to read there: it takes none of the newest `retention.exports` places.
      const records = tasks()
        .filter((t) => RDS_EXPORT_ID.test(t.exportId) && owned(t.exportId) && !listed.has(t.exportId) && t.state !== 'in_progress')
        .map((t) => ({ id: t.exportId, ...(t.startedAt ? { createdAt: t.startedAt } : {}), failed: true }));
      return [...folders, ...records];
    },

    async deleteSnapshot(id): Promise<RetentionDeletion> {
      // An export whose process died is read by nobody: its snapshot expired, so no cycle is left to resume it.
      const exporting = tasks()
        .filter((t) => t.snapshot.snapshotId === id && t.state === 'in_progress')
        .find((t) => !endAbandonedExport(layout, t.exportId, `retention deleted its expired snapshot ${id}`));
      if (exporting) return { deleted: false, reason: `export ${exporting.exportId} is reading it` };
      rmSync(snapshotFile(id), { force: true });
      return { deleted: true };
    },

    async deleteExport(id): Promise<RetentionDeletion> {
      if (!RDS_EXPORT_ID.test(id)) return { deleted: false, reason: `"${id}" is not an export id` };
      if (task(id)?.state === 'in_progress') return { deleted: false, reason: 'the export is still running' };
      // export_info first: a deletion cut short leaves an export that counts as gone, not one with files missing.
      rmSync(join(exportDir(layout, id), exportInfoName(id)), { force: true });
      rmSync(exportDir(layout, id), { recursive: true, force: true });
      rmSync(catalogRecordFile(layout, id), { force: true });
      for (const name of existsSync(layout.exportTasks) ? readdirSync(layout.exportTasks) : []) {
        if (name.startsWith(`${id}.takeover-`) || name === `${id}.cancel`) rmSync(join(layout.exportTasks, name), { force: true });
      }
      rmSync(join(layout.exportTasks, `${id}.json`), { force: true });
      return { deleted: true };
    },

    async listTableExports() {
      return listSourceTableExports(layout, source);
    },

    async deleteTableExport(id) {
      return deleteTableExport(layout, id);
    },

    async listCycleFiles(owned): Promise<RetentionItem[]> {
      const cycles = new Set<string>();
      for (const dir of [layout.results, layout.manifests]) {
        if (!existsSync(dir)) continue;
        for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory() && owned(d.name)) cycles.add(d.name);
      }
      for (const run of runRecords()) {
        const cycle = cycleOfRun(run.record.runToken);
        if (cycle !== undefined && owned(cycle)) cycles.add(cycle);
      }
      return [...cycles].map((id) => ({ id }));
    },

    async deleteCycleFiles(cycleId): Promise<RetentionDeletion> {
      if (!CYCLE_DIR.test(cycleId)) return { deleted: false, reason: `"${cycleId}" is not a cycle id` };
      const runs = runRecords().filter((r) => cycleOfRun(r.record.runToken) === cycleId);
      // A run that outlived its load is found by its record before another starts on its lake table.
      const live = runs.find((r) => LIVE.has(r.record.state) && r.record.runner !== undefined && processAlive(r.record.runner));
      if (live) return { deleted: false, reason: `its load run ${live.record.runId} of ${live.record.table} is still running` };
      for (const r of runs) {
        rmSync(join(layout.runs, `${r.record.runId}.stop`), { force: true });
        rmSync(r.file, { force: true });
      }
      rmSync(join(layout.results, cycleId), { recursive: true, force: true });
      rmSync(join(layout.manifests, cycleId), { recursive: true, force: true });
      return { deleted: true };
    },
  };

  function runRecords(): { file: string; record: RunRecord }[] {
    if (!existsSync(layout.runs)) return [];
    return readdirSync(layout.runs)
      .filter((f) => f.endsWith('.json') && !f.includes('.tmp'))
      .flatMap((f) => {
        const file = join(layout.runs, f);
        const record = readJsonIfExists<RunRecord>(file);
        return record && typeof record.runToken === 'string' && typeof record.runId === 'string' ? [{ file, record }] : [];
      });
  }
}

/** A folder name that is a cycle id (`<cycle number>-<hash>`, src/ids.ts cycleKey). */
const CYCLE_DIR = /^\d+-[a-z0-9]{1,13}$/;
const LIVE: ReadonlySet<RunRecord['state']> = new Set(['pending', 'queued', 'running']);

/** The cycle of a run, from its token: `<cycleId>:<table>` for a load, `<cycleId>-pack-<hash>` for a pack (src/ids.ts). */
function cycleOfRun(runToken: string): string | undefined {
  return /^(\d+-[a-z0-9]{1,13})(?::|-pack-)/.exec(runToken)?.[1];
}
