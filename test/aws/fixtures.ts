/** Shared fixtures of the AWS adapter tests: a source config, Glue scripts, RDS export files. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sourceSchema, type SourceConfig } from '../../src/config/schema';
import type { LoadTableInput } from '../../src/activities/load';
import type { LoadResult } from '../../src/model';
import { toolchain } from '../../src/toolchain';
import { tempDir } from '../helpers/temp-dir';

// moto's S3 Tables knows only the launch regions (us-east-1, us-east-2, us-west-2).
export const REGION = 'us-east-2';
export const ACCOUNT = '123456789012';
export const EXPORT_BUCKET = 'shop-exports';
export const SCRIPT_BUCKET = 'shop-glue';
export const ATHENA_OUTPUT = 's3://shop-athena/results/';
export const TABLE_BUCKET = 'shop-lake';
export const GLUE_ROLE = `arn:aws:iam::${ACCOUNT}:role/lakesync-glue`;
export const EXPORT_ROLE = `arn:aws:iam::${ACCOUNT}:role/lakesync-export`;
export const READER = `arn:aws:iam::${ACCOUNT}:role/analyst`;

/** The load of public.orders in cycle c1 that the load activity's unit tests run, with where its plan and result live. */
export const ORDERS_PLAN_KEY = 'lakesync/exports/lakesync-manifests/shop/c1/plan.json';
export const ORDERS_RESULT_KEY = 'lakesync/results/shop/c1/public.orders.json';
export const ORDERS_LOAD_INPUT: LoadTableInput = {
  source: 'shop',
  cycleId: 'c1',
  planRef: `s3://${EXPORT_BUCKET}/${ORDERS_PLAN_KEY}`,
  table: 'public.orders',
  exportId: 'ls-shop-c1',
  snapshotTime: '2025-01-01T00:00:00.000Z',
  exportLocation: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-c1`,
  database: 'shop',
  namespace: 'shop',
};

export function awsSource(options: { endpoint?: string; clusterId?: string; raw?: Record<string, unknown>; athena?: Record<string, unknown> } = {}): SourceConfig {
  return sourceSchema.parse({
    backend: 'aws',
    database: 'shop',
    source: { kind: 'rds', ...(options.clusterId ? { clusterId: options.clusterId } : { instanceId: 'shop-db' }) },
    target: { namespace: 'shop' },
    tables: { 'public.orders': { primaryKey: ['id'] }, 'public.events': { cursor: { column: 'created_at', mode: 'append' } } },
    grants: [{ principal: READER }],
    timeouts: { pollInitialSeconds: 1, pollMaximumSeconds: 2, heartbeatSeconds: 10 },
    retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 2, maximumAttempts: 3 },
    aws: {
      region: REGION,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      accountId: ACCOUNT,
      export: { bucket: EXPORT_BUCKET, prefix: 'lakesync/exports', iamRoleArn: EXPORT_ROLE, kmsKeyId: 'alias/lakesync-export' },
      tableBucket: { name: TABLE_BUCKET, create: true },
      glue: { roleArn: GLUE_ROLE, scriptBucket: SCRIPT_BUCKET },
      athena: options.athena ?? { outputLocation: ATHENA_OUTPUT },
    },
    ...options.raw,
  });
}

/** A minimal Glue scripts folder: entry script and the library package. */
export function glueScriptsFixture(version = '1'): string {
  const dir = tempDir('lakesync-glue-');
  mkdirSync(join(dir, 'lakesync_glue', 'io'), { recursive: true });
  writeFileSync(join(dir, 'glue_entry.py'), `# entry v${version}\nfrom lakesync_glue import main\nmain()\n`);
  writeFileSync(join(dir, 'lakesync_glue', '__init__.py'), `def main():\n    return ${version}\n`);
  writeFileSync(join(dir, 'lakesync_glue', 'io', 'results.py'), 'RESULT = "result"\n');
  mkdirSync(join(dir, 'lakesync_glue', '__pycache__'));
  writeFileSync(join(dir, 'lakesync_glue', '__pycache__', 'junk.pyc'), 'compiled');
  return dir;
}

export interface ExportFile {
  key: string;
  body: string | Uint8Array;
}

const PARQUET_PART = `
import io, sys, pyarrow as pa, pyarrow.parquet as pq
n = int(sys.argv[1])
out = io.BytesIO()
pq.write_table(pa.table({"id": pa.array(range(n), pa.int64()), "total": pa.array([f"{i}.50" for i in range(n)], pa.string())}), out, compression="gzip")
sys.stdout.buffer.write(out.getvalue())
`;
const parts = new Map<number, Buffer>();

/** A real Parquet part of `rows` rows (id, total as text), written by pyarrow: verification reads its footer. */
export function parquetPart(rows: number): Buffer {
  if (!parts.has(rows)) parts.set(rows, execFileSync(toolchain().python, ['-c', PARQUET_PART, String(rows)]));
  return parts.get(rows)!;
}

/** The files RDS writes for an export (DESIGN section 6), as key and body under `prefix`. */
export function exportFiles(prefix: string, exportId: string): ExportFile[] {
  const root = `${prefix}/${exportId}`;
  const mappings = [
    { columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64', originalCharMaxLength: 0, originalNumPrecision: 64, originalDateTimePrecision: 0 },
    { columnName: 'total', originalType: 'numeric', expectedExportedType: 'binary (UTF8)', originalCharMaxLength: 0, originalNumPrecision: 12, originalDateTimePrecision: 0 },
  ];
  const tableEntry = (table: string, sizeGB: number) => ({
    tableStatistics: { extractionStartTime: '2025-01-01T00:00:00Z', extractionEndTime: '2025-01-01T00:01:00Z', partitioningInfo: { numberOfPartitions: 1, numberOfCompletedPartitions: 1 } },
    schemaMetadata: { originalTypeMappings: mappings },
    status: 'COMPLETE',
    sizeGB,
    target: `shop.${table}`,
  });
  return [
    {
      key: `${root}/export_info_${exportId}.json`,
      body: JSON.stringify({ exportTaskIdentifier: exportId, sourceArn: `arn:aws:rds:${REGION}:${ACCOUNT}:snapshot:snap`, exportOnly: [], snapshotTime: '2025-01-01T00:00:00Z', taskStartTime: '2025-01-01T00:00:00Z', taskEndTime: '2025-01-01T00:05:00Z', s3Bucket: EXPORT_BUCKET, s3Prefix: prefix, exportedFilesPath: root, iamRoleArn: EXPORT_ROLE, kmsKeyId: 'alias/lakesync-export', status: 'COMPLETE', percentProgress: 100, totalExportedDataInGB: 0.01 }),
    },
    {
      key: `${root}/export_tables_info_${exportId}_from_1_to_2.json`,
      body: JSON.stringify({ perTableStatus: [{ target: 'shop', warningMessage: 'database shop: 1 table skipped' }, tableEntry('public.orders', 0.002)] }),
    },
    {
      key: `${root}/export_tables_info_${exportId}_from_3_to_4.json`,
      body: JSON.stringify({
        perTableStatus: [
          tableEntry('public.events', 0.004),
          { target: 'shop.public.audit_log', status: 'FAILED', warningMessage: 'unsupported column type' },
        ],
      }),
    },
    // 42 rows each, the count the load results report.
    { key: `${root}/shop/public.orders/1/part-00000-0a1b.gz.parquet`, body: parquetPart(42) },
    { key: `${root}/shop/public.events/1/part-00000-2c3d.gz.parquet`, body: parquetPart(42) },
  ];
}

/** The result JSON a successful Glue run writes (glue/README.md). */
export function loadResult(table: string, lakeTable: string, cycleId: string, runToken: string, rows: number, snapshotId: string): LoadResult {
  return {
    table: `shop.${table}`,
    lakeTable: `shop.${lakeTable}`,
    status: 'succeeded',
    action: 'create',
    rowsRead: rows,
    inserted: rows,
    updated: 0,
    deleted: 0,
    rowCountAfter: rows,
    cursorColumn: null,
    cursorValueAfter: null,
    snapshotId,
    committed: true,
    schemaChanges: [],
    droppedColumns: [],
    schemaHash: 'h1',
    cycleId,
    runToken,
    startedAt: '2025-01-01T00:00:00Z',
    finishedAt: '2025-01-01T00:01:00Z',
    error: null,
  };
}
