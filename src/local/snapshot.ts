/**
 * SnapshotPort of the embedded mode. A local snapshot is a named point the export reads from:
 * the consistent read itself happens when the export runs (one REPEATABLE READ transaction).
 * Snapshots are recorded in snapshots/<id>.json; an existing one with our id is adopted.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PortError } from '../errors';
import type { SnapshotRef } from '../model';
import type { SnapshotPort } from '../ports';
import { fileSafe, readJsonIfExists, writeJsonAtomic } from './files';
import type { WorkDirLayout } from './paths';

interface SnapshotRecord {
  snapshotId: string;
  createdAt: string;
  source: string;
}

export function createSnapshotPort(layout: WorkDirLayout, source: string): SnapshotPort {
  const file = (id: string) => join(layout.snapshots, `${fileSafe(id)}.json`);
  const read = (id: string) => readJsonIfExists<SnapshotRecord>(file(id));
  const all = (): SnapshotRecord[] =>
    existsSync(layout.snapshots)
      ? readdirSync(layout.snapshots)
          .filter((f) => f.endsWith('.json'))
          .map((f) => readJsonIfExists<SnapshotRecord>(join(layout.snapshots, f))!)
          .filter(Boolean)
      : [];

  return {
    async startSnapshot(req): Promise<SnapshotRef> {
      if (req.mode === 'existing') {
        const id = req.existingSnapshotId ?? '';
        const found = read(id);
        if (!found) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot "${id}" does not exist in ${layout.snapshots}; local snapshots are taken by sync (snapshot.mode create)`);
        return { snapshotId: found.snapshotId, createdAt: found.createdAt, adopted: true };
      }
      if (req.mode === 'latest-automated') {
        const latest = all().sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
        if (!latest) throw new PortError('not-found', 'DBSnapshotNotFound', `source ${source} has no local snapshot yet; the embedded mode has no automated snapshots: use snapshot.mode create`);
        return { snapshotId: latest.snapshotId, createdAt: latest.createdAt, adopted: true };
      }
      const existing = read(req.snapshotId);
      if (existing) return { snapshotId: existing.snapshotId, createdAt: existing.createdAt, adopted: true };
      const record: SnapshotRecord = { snapshotId: req.snapshotId, createdAt: new Date().toISOString(), source };
      writeJsonAtomic(file(req.snapshotId), record);
      return { snapshotId: record.snapshotId, createdAt: record.createdAt, adopted: false };
    },

    async describeSnapshot(snapshotId) {
      const found = read(snapshotId);
      if (!found) throw new PortError('not-found', 'DBSnapshotNotFound', `snapshot ${snapshotId} does not exist in ${layout.snapshots}`);
      return { snapshotId, state: 'available', createdAt: found.createdAt };
    },
  };
}
