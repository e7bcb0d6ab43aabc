/**
 * The AWS path's source: 20 tables (id bigint primary key, total numeric) whose rows change
 * between cycles (inserts, updates, deletes chosen by the seed), and the files RDS would write
 * for an export of them (DESIGN section 6): export_info, export_tables_info batches and gzip
 * Parquet parts written by pyarrow, some tables in two batch folders.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolchain } from '../../src/toolchain';
import type { Prng } from './prng';

/** [id, total] pairs, ordered by id. */
export type Rows = [number, string][];

export class SimSource {
  readonly tables = new Map<string, Map<number, string>>();
  private nextId = new Map<string, number>();

  constructor(prng: Prng, count: number) {
    for (let i = 1; i <= count; i++) {
      const table = `public.t_${String(i).padStart(2, '0')}`;
      const n = prng.int(20, 120);
      const rows = new Map<number, string>();
      for (let id = 1; id <= n; id++) rows.set(id, money(prng));
      this.tables.set(table, rows);
      this.nextId.set(table, n + 1);
    }
  }

  /** Inserts, updates and deletes in every table (deletes stay under the 50% delete guard). */
  change(prng: Prng): { inserted: number; updated: number; deleted: number } {
    const totals = { inserted: 0, updated: 0, deleted: 0 };
    for (const [table, rows] of this.tables) {
      const ids = [...rows.keys()];
      for (const id of prng.shuffle(ids).slice(0, prng.int(0, Math.floor(ids.length / 10)))) {
        rows.delete(id);
        totals.deleted++;
      }
      for (const id of prng.shuffle([...rows.keys()]).slice(0, prng.int(0, 10))) {
        rows.set(id, money(prng));
        totals.updated++;
      }
      const inserts = prng.int(0, 15);
      for (let i = 0; i < inserts; i++) {
        const id = this.nextId.get(table)!;
        this.nextId.set(table, id + 1);
        rows.set(id, money(prng));
        totals.inserted++;
      }
    }
    return totals;
  }

  rows(table: string): Rows {
    return [...(this.tables.get(table) ?? new Map<number, string>()).entries()].sort((a, b) => a[0] - b[0]);
  }

  snapshot(): Record<string, Rows> {
    return Object.fromEntries([...this.tables.keys()].map((t) => [t, this.rows(t)]));
  }
}

function money(prng: Prng): string {
  return `${prng.int(0, 99_999)}.${String(prng.int(0, 99)).padStart(2, '0')}`;
}

export interface ExportFile {
  key: string;
  body: Buffer | string;
}

const WRITE_PARTS = `
import json, sys, pyarrow as pa, pyarrow.parquet as pq
spec = json.load(open(sys.argv[1]))
for name, rows in spec.items():
    table = pa.table({"id": pa.array([r[0] for r in rows], pa.int64()), "total": pa.array([r[1] for r in rows], pa.string())})
    pq.write_table(table, sys.argv[2] + "/" + name, compression="gzip")
`;

/** The export's files under `<prefix>/<exportId>/`; every third table is split over batch folders 1 and 2. */
export function exportFiles(options: { prefix: string; exportId: string; database: string; bucket: string; data: Record<string, Rows> }): ExportFile[] {
  const { prefix, exportId, database, data } = options;
  const root = `${prefix}/${exportId}`;
  const parts: Record<string, Rows> = {};
  const keys: Record<string, string> = {};
  Object.entries(data).forEach(([table, rows], i) => {
    const split = i % 3 === 0 && rows.length > 1 ? [rows.slice(0, Math.floor(rows.length / 2)), rows.slice(Math.floor(rows.length / 2))] : [rows];
    split.forEach((chunk, batch) => {
      const name = `p${i}_${batch}`;
      parts[name] = chunk;
      keys[name] = `${root}/${database}/${table}/${batch + 1}/part-0000${batch}-${exportId.slice(-8)}${i}.gz.parquet`;
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-chaos-parts-'));
  try {
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(parts));
    execFileSync(toolchain().python, ['-c', WRITE_PARTS, join(dir, 'spec.json'), dir]);
    const mappings = [
      { columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64', originalCharMaxLength: 0, originalNumPrecision: 64, originalDateTimePrecision: 0 },
      { columnName: 'total', originalType: 'numeric', expectedExportedType: 'binary (UTF8)', originalCharMaxLength: 0, originalNumPrecision: 12, originalDateTimePrecision: 0 },
    ];
    const entry = (table: string) => ({
      tableStatistics: { extractionStartTime: new Date().toISOString(), extractionEndTime: new Date().toISOString(), partitioningInfo: { numberOfPartitions: 1, numberOfCompletedPartitions: 1 } },
      schemaMetadata: { originalTypeMappings: mappings },
      status: 'COMPLETE',
      sizeGB: 0.001,
      target: `${database}.${table}`,
    });
    const tables = Object.keys(data);
    const half = Math.ceil(tables.length / 2);
    const now = new Date().toISOString();
    return [
      {
        key: `${root}/export_info_${exportId}.json`,
        body: JSON.stringify({ exportTaskIdentifier: exportId, exportOnly: [], snapshotTime: now, taskStartTime: now, taskEndTime: now, s3Bucket: options.bucket, s3Prefix: prefix, exportedFilesPath: root, status: 'COMPLETE', percentProgress: 100, totalExportedDataInGB: 0.02 }),
      },
      { key: `${root}/export_tables_info_${exportId}_from_1_to_${half}.json`, body: JSON.stringify({ perTableStatus: tables.slice(0, half).map(entry) }) },
      ...(tables.length > half ? [{ key: `${root}/export_tables_info_${exportId}_from_${half + 1}_to_${tables.length}.json`, body: JSON.stringify({ perTableStatus: tables.slice(half).map(entry) }) }] : []),
      ...Object.entries(keys).map(([name, key]) => ({ key, body: readFileSync(join(dir, name)) })),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
