/**
 * What `lakesync schema` (and `lakesync plan --columns`) shows: every source column, the lake
 * column and lake type it becomes, its policy and where each came from. The lake type is the load
 * job's own mapping (lake-types.ts); policies come from lakesync.yaml and are checked against the
 * table's columns as the plan checks them.
 */
import { type ColumnPolicy, columnPolicies, columnPolicyProblems } from '../config/columns';
import type { SourceConfig } from '../config/schema';
import { selectTable } from '../config/tables';
import type { DiscoveredTable } from '../model';
import { shown, columns as textColumns } from './format';
import { jobColumnTypes } from './lake-types';

export interface SchemaColumn {
  column: string;
  /** The PostgreSQL type as the catalog or the export names it. */
  sourceType: string;
  /** null: excluded, the column never reaches the lake. */
  lakeColumn: string | null;
  lakeType: string | null;
  /** The policy in words, e.g. `hash`, `rename, onInvalid null`; `-` for none. */
  policy: string;
  /** Where the lake type came from. */
  from: string;
  warning?: string;
}

export interface SchemaTable {
  table: string;
  primaryKey: string[];
  columns: SchemaColumn[];
  /** Problems of the table's column policies: the plan fails the table with them. */
  problems: string[];
  /** The include/exclude rule that leaves the table out: it is never exported and has no lake columns. */
  excludedBy?: string;
}

export interface SchemaReport {
  source: string;
  /** Where the columns were read: the source catalog or an export's originalTypeMappings. */
  columnsFrom: string;
  tables: SchemaTable[];
}

export function buildSchema(name: string, source: SourceConfig, tables: DiscoveredTable[], columnsFrom: string): SchemaReport {
  const mappings = tables.flatMap((t) => t.columns);
  const types = jobColumnTypes(mappings);
  let i = 0;
  const out: SchemaTable[] = tables.map((t) => {
    const settings = source.tables[t.table];
    const policies = columnPolicies(settings?.columns);
    const primaryKey = settings?.primaryKey ?? t.primaryKey ?? [];
    const selection = selectTable(source, t.table);
    if (!selection.included) {
      // The plan skips the table, so its policies are never checked, and no column reaches the lake.
      i += t.columns.length;
      const columns = t.columns.map((c) => ({ column: c.columnName, sourceType: sourceTypeText(c), lakeColumn: null, lakeType: null, policy: policyWords(policies[c.columnName]), from: `table excluded (${selection.rule})` }));
      return { table: t.table, primaryKey, columns, problems: [], excludedBy: selection.rule };
    }
    const keyFrom = settings?.primaryKey ? 'configured' : primaryKey.length > 0 ? 'source' : 'none';
    const problems = columnPolicyProblems(t.table, settings?.columns, t.columns.map((c) => ({ name: c.columnName, originalType: c.originalType })), primaryKey, keyFrom, settings?.cursor?.column);
    const columns = t.columns.map((c) => {
      const job = types[i++]!;
      return schemaColumn(t.table, c.columnName, sourceTypeText(c), job, policies[c.columnName]);
    });
    return { table: t.table, primaryKey, columns, problems };
  });
  return { source: name, columnsFrom, tables: out };
}

function sourceTypeText(c: DiscoveredTable['columns'][number]): string {
  // information_schema says ARRAY and USER-DEFINED; the udt name says which.
  if (c.originalUdtName && (c.originalType === 'ARRAY' || c.originalType === 'USER-DEFINED')) {
    return c.originalType === 'ARRAY' ? `${c.originalUdtName.replace(/^_/, '')}[]` : c.originalUdtName;
  }
  const precision = c.originalNumPrecision !== undefined && c.originalType === 'numeric' ? `(${c.originalNumPrecision}${c.originalNumScale !== undefined ? `,${c.originalNumScale}` : ''})` : '';
  return `${c.originalType}${precision}`;
}

function schemaColumn(table: string, column: string, sourceType: string, job: { lakeType: string; kind: string; scaleUnknown: boolean }, policy: ColumnPolicy | undefined): SchemaColumn {
  const where = `tables."${table}".columns.${column}`;
  const words = policyWords(policy);
  if (policy?.exclude) return { column, sourceType, lakeColumn: null, lakeType: null, policy: words, from: `${where}.exclude` };
  const lakeColumn = policy?.rename ?? column.toLowerCase();
  const base = { column, sourceType, lakeColumn, policy: words };
  if (policy?.hash) return { ...base, lakeType: 'string', from: `${where}.hash (keyed hash, hex)` };
  if (policy?.type) return { ...base, lakeType: policy.type, from: `${where}.type` };
  const from = `load job mapping of ${sourceType}${job.scaleUnknown ? ' (scale from the lake table or the data)' : ''}`;
  const warning =
    job.kind === 'array'
      ? job.lakeType.startsWith('array<')
        ? 'a list when every value has one dimension; a value with more keeps the column as text (the load warns). An existing lake table that holds it as text changes only with rerun --rebuild'
        : 'kept as text: the job does not make lists of it'
      : undefined;
  return { ...base, lakeType: job.lakeType, from, ...(warning ? { warning } : {}) };
}

function policyWords(p: ColumnPolicy | undefined): string {
  if (!p) return '-';
  return [p.exclude && 'exclude', p.hash && 'hash', p.rename && `rename ${p.rename}`, p.type && `type ${p.type}`, p.onInvalid && `onInvalid ${p.onInvalid}`].filter(Boolean).join(', ');
}

/** The report as text: one block per table. */
export function schemaLines(report: SchemaReport): string[] {
  const lines = [`columns of ${report.source} from ${report.columnsFrom}`];
  for (const t of report.tables) {
    lines.push('', shown(`${t.table}${t.primaryKey.length > 0 ? ` (key ${t.primaryKey.join(', ')})` : ''}${t.excludedBy ? `: excluded (${t.excludedBy}): never exported, no lake table` : ''}`));
    const rows = t.columns.map((c) => [c.column, c.sourceType, c.lakeColumn ?? '(excluded)', c.lakeType ?? '-', c.policy, c.from]);
    lines.push(...textColumns(['SOURCE COLUMN', 'SOURCE TYPE', 'LAKE COLUMN', 'LAKE TYPE', 'POLICY', 'FROM'], rows).map((l) => `  ${l}`));
    for (const c of t.columns) if (c.warning) lines.push(`  warning: ${shown(c.column)}: ${shown(c.warning)}`);
    for (const p of t.problems) lines.push(`  error: ${shown(p)}`);
  }
  return lines;
}
