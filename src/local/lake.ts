/**
 * LakePort of the embedded mode: the Iceberg warehouse of the local Hadoop catalog `lake`
 * (namespace = folder, table = folder with metadata/), and read-only SQL through the runner.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LAKE_NAME_RULE, isValidLakeName, sparkName } from '../names';
import { PortError } from '../errors';
import { LAKE_CATALOG } from '../job-args';
import { LINEAGE_PROPERTIES, lakeCommitFromRow, lineageSelectList } from '../lineage';
import type { LakePort } from '../ports';
import type { WorkDirLayout } from './paths';
import type { RunnerClient } from './runner/client';

/** Leading keywords of statements that write or change the session: refused before Spark is asked. */
const WRITES = /^(insert|delete|update|merge|drop|create|replace|alter|truncate|call|set|reset|use|cache|uncache|clear|refresh|add|load|msck|repair|analyze|grant|revoke)\b/i;

/** The statement with leading comments and whitespace removed, as Spark reads them (block comments nest). */
function leadingStatement(sql: string): string {
  let text = sql.trimStart();
  for (;;) {
    if (text.startsWith('--')) {
      const end = text.search(/[\r\n]/);
      text = end === -1 ? '' : text.slice(end + 1).trimStart();
    } else if (text.startsWith('/*')) {
      let depth = 1;
      let i = 2;
      while (i < text.length && depth > 0) {
        const step = text.startsWith('/*', i) ? 1 : text.startsWith('*/', i) ? -1 : 0;
        depth += step;
        i += step === 0 ? 1 : 2;
      }
      text = text.slice(i).trimStart();
    } else return text;
  }
}

/**
 * A fast first guard: obvious writes are refused without starting Spark. The decision is the load
 * runner's, where Spark's parser lets only reads run (glue/lakesync_glue/readonly.py).
 */
export function assertReadOnly(sql: string): void {
  const write = WRITES.exec(leadingStatement(sql));
  if (write) {
    throw new PortError(
      'validation',
      'ReadOnlyQuery',
      `lakesync query is read-only and does not run ${write[1]!.toUpperCase()} statements. It runs SELECT, WITH ... SELECT, VALUES, TABLE, SHOW, DESCRIBE and EXPLAIN of a query; the lake changes only through lakesync sync and rerun`,
    );
  }
}

function checkName(kind: string, name: string): void {
  if (!isValidLakeName(name)) throw new PortError('validation', 'InvalidLakeName', `${kind} "${name}" is not a valid lake name: use ${LAKE_NAME_RULE}`);
}

/** A Hadoop-catalog table exists once its metadata folder holds a metadata file. */
export function lakeTableExists(layout: WorkDirLayout, namespace: string, table: string): boolean {
  const metadata = join(layout.warehouse, namespace, table, 'metadata');
  return existsSync(metadata) && readdirSync(metadata).some((f) => f.endsWith('.metadata.json'));
}

/**
 * The newest lakesync commit (one with lineage) on the current snapshot's ancestry, from Iceberg's
 * `snapshots` and `history` metadata tables: a compaction after it, or a rolled-back snapshot, does not count.
 */
export function lastCommitSql(namespace: string, table: string): string {
  const lineage = lineageSelectList((name) => `s.summary['${name}']`);
  const meta = (name: string) => sparkName(LAKE_CATALOG, namespace, table, name);
  return (
    `SELECT CAST(s.snapshot_id AS STRING) AS snapshot_id, s.committed_at, s.operation AS operation, CAST(s.parent_id AS STRING) AS parent_id, ${lineage} FROM ${meta('snapshots')} s ` +
    `JOIN ${meta('history')} h ON h.snapshot_id = s.snapshot_id ` +
    `WHERE h.is_current_ancestor AND s.summary['${LINEAGE_PROPERTIES.cycleId}'] IS NOT NULL ORDER BY s.committed_at DESC LIMIT 1`
  );
}

export function createLakePort(layout: WorkDirLayout, runner: RunnerClient): LakePort {
  return {
    async ensureNamespace(namespace) {
      checkName('namespace', namespace);
      mkdirSync(join(layout.warehouse, namespace), { recursive: true });
      // Loads follow: start Spark now (in the background) so the first load does not wait for it.
      runner.ensure().catch(() => undefined);
    },

    async tableExists(namespace, table) {
      checkName('namespace', namespace);
      checkName('table', table);
      return lakeTableExists(layout, namespace, table);
    },

    async lastCommit(namespace, table) {
      checkName('namespace', namespace);
      checkName('table', table);
      if (!lakeTableExists(layout, namespace, table)) return undefined;
      const { rows } = await runner.call<{ rows: Record<string, unknown>[] }>('POST', '/sql', { sql: lastCommitSql(namespace, table) });
      return rows[0] ? lakeCommitFromRow(rows[0], `lake table ${namespace}.${table}`) : undefined;
    },

    async query(sql, { maxRows } = {}) {
      assertReadOnly(sql);
      const { rows } = await runner.call<{ rows: Record<string, unknown>[] }>('POST', '/sql', { sql, ...(maxRows !== undefined ? { maxRows } : {}) });
      return rows;
    },
  };
}
