/**
 * LakePort of the embedded mode: the Iceberg warehouse of the local Hadoop catalog `lake`
 * (namespace = folder, table = folder with metadata/), and read-only SQL through the runner.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isValidLakeName } from '../names';
import { PortError } from '../errors';
import type { LakePort } from '../ports';
import type { WorkDirLayout } from './paths';
import type { RunnerClient } from './runner/client';

const READ_ONLY = /^(select|with|show|describe|desc|explain|values|table)\b/i;

/** The statement with leading comments and whitespace removed, for the read-only check. */
function leadingStatement(sql: string): string {
  let text = sql.trimStart();
  for (;;) {
    if (text.startsWith('--')) text = text.slice(text.indexOf('\n') === -1 ? text.length : text.indexOf('\n') + 1).trimStart();
    else if (text.startsWith('/*')) text = text.slice(text.indexOf('*/') === -1 ? text.length : text.indexOf('*/') + 2).trimStart();
    else return text;
  }
}

export function assertReadOnly(sql: string): void {
  if (!READ_ONLY.test(leadingStatement(sql))) {
    const first = leadingStatement(sql).split(/\s+/)[0] || '(empty)';
    throw new PortError('validation', 'ReadOnlyQuery', `lake queries are read-only (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN): "${first}" statements change the lake; loads change it through sync`);
  }
}

function checkName(kind: string, name: string): void {
  if (!isValidLakeName(name)) throw new PortError('validation', 'InvalidLakeName', `${kind} "${name}" is not a valid lake name: use lowercase letters, digits and underscores`);
}

/** A Hadoop-catalog table exists once its metadata folder holds a metadata file. */
export function lakeTableExists(layout: WorkDirLayout, namespace: string, table: string): boolean {
  const metadata = join(layout.warehouse, namespace, table, 'metadata');
  return existsSync(metadata) && readdirSync(metadata).some((f) => f.endsWith('.metadata.json'));
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

    async query(sql) {
      assertReadOnly(sql);
      const { rows } = await runner.call<{ rows: Record<string, unknown>[] }>('POST', '/sql', { sql });
      return rows;
    },
  };
}
