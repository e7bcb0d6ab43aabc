/**
 * Direct extract of lakesync.yaml: per table `extract: direct` reads the table straight from the
 * source over JDBC, by a window on its cursor column, instead of from a snapshot export. The
 * rules that need only the table's settings live in `directTableProblems`; those that need the
 * source (its kind, its catalog connection) in `directSourceProblems`.
 */
import { z } from 'zod';
import type { DirectExtract } from '../model';

/** Most JDBC partitions one load reads with (Spark's numPartitions; each is one source connection). */
export const MAX_PARTITIONS = 256;

export const extractSchema = z
  .enum(['export', 'direct'], { message: 'must be export or direct' })
  .optional()
  .describe(
    'Where loads read the table: export (default) from the snapshot export, or direct from the source over JDBC by a window on the cursor column ' +
      "(from the lake's max(cursor) minus the lookback to the source's max(cursor)). Direct loads never delete lake rows: use export for tables with deletes.",
  );

export const directSchema = z
  .object({
    partitions: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(MAX_PARTITIONS, `must be at most ${MAX_PARTITIONS} (each partition is one connection to the source)`)
      .optional()
      .describe("JDBC partitions read in parallel; default derived from the window's row estimate."),
    partitionColumn: z
      .string()
      .min(1, 'name the column to hash partitions on, or leave partitionColumn out')
      .optional()
      .describe('Hash partitions on this column, for a cursor that is neither numeric nor a date/timestamp.'),
    firstLoad: z
      .enum(['direct', 'export'], { message: 'must be direct or export' })
      .default('direct')
      .describe(
        'How the lake table is created: direct (default) reads every row directly in partitions; export creates it from this cycle\'s snapshot export, ' +
          'after which loads read direct windows.',
      ),
  })
  .strict()
  .describe('Settings of extract: direct.');

export type DirectSettings = z.infer<typeof directSchema>;

/** What `directTableProblems` reads of a table's settings. */
interface TableExtract {
  extract?: 'export' | 'direct' | undefined;
  direct?: DirectSettings | undefined;
  cursor?: { column: string } | undefined;
  action?: string | undefined;
  /** Column policies: only whether the cursor column is retyped is read here. */
  columns?: Record<string, unknown> | undefined;
}

export interface ExtractProblem {
  path: (string | number)[];
  message: string;
}

/** Problems of one table's extract settings alone. */
export function directTableProblems(t: TableExtract): ExtractProblem[] {
  if (t.extract !== 'direct') {
    return t.direct ? [{ path: ['direct'], message: 'direct settings apply to extract: direct only: add extract: direct, or remove direct' }] : [];
  }
  const problems: ExtractProblem[] = [];
  if (!t.cursor) {
    problems.push({
      path: ['cursor'],
      message: 'extract direct reads windows of the cursor column and needs one: add cursor: { column: <a monotonic id or timestamp column> }',
    });
  }
  const cursorPolicy = t.cursor ? cursorColumnPolicy(t.columns, t.cursor.column) : undefined;
  if (cursorPolicy && 'type' in cursorPolicy.policy && cursorPolicy.policy.type !== undefined) {
    problems.push({
      path: ['columns', cursorPolicy.name, 'type'],
      message:
        "the cursor of an extract: direct table keeps its source type: each window is compared in PostgreSQL, in the column's own type, with the lake's max(cursor), " +
        "and another lake type orders differently (as text '999' > '1000'), so rows would be skipped. Remove type here, or use extract: export",
    });
  }
  const partitionColumn = t.direct?.partitionColumn;
  const partitionPolicy = partitionColumn !== undefined ? t.columns?.[partitionColumn] : undefined;
  if (typeof partitionPolicy === 'object' && partitionPolicy !== null && 'exclude' in partitionPolicy && partitionPolicy.exclude === true) {
    problems.push({
      path: ['direct', 'partitionColumn'],
      message: `column ${partitionColumn} is excluded (columns.${partitionColumn}.exclude), and excluded columns are never read, not even to hash partitions on: partition on another column, or leave partitionColumn out`,
    });
  }
  if (t.action === 'replace' || t.action === 'merge') {
    problems.push({
      path: ['action'],
      message: `action ${t.action} needs the whole table from a snapshot export, and extract direct reads windows only: remove action (direct loads are create, then incremental), or use extract: export`,
    });
  }
  return problems;
}

/** The policy of the cursor column, named by its source name or by the lake name a rename gives it. */
function cursorColumnPolicy(columns: Record<string, unknown> | undefined, cursor: string): { name: string; policy: object } | undefined {
  const policies = Object.entries(columns ?? {}).filter((e): e is [string, object] => typeof e[1] === 'object' && e[1] !== null);
  const byName = policies.find(([name]) => name === cursor);
  const byRename = policies.find(([, p]) => 'rename' in p && typeof p.rename === 'string' && p.rename.toLowerCase() === cursor.toLowerCase());
  const found = byName ?? byRename;
  return found ? { name: found[0], policy: found[1] } : undefined;
}

/** The source settings the cross-field rules read; `glueConnection` is optional on the catalog. */
interface SourceExtract {
  backend: string;
  source: { kind: string; catalog?: { glueConnection?: string | undefined; sslmode?: string | undefined; sslRootCert?: string | undefined } | undefined };
  tables: Record<string, TableExtract>;
}

/** Problems of direct tables that depend on the source: its kind and, on AWS, the connection the job reads through. */
export function directSourceProblems(s: SourceExtract): ExtractProblem[] {
  const direct = Object.entries(s.tables).filter(([, t]) => t.extract === 'direct').map(([name]) => name);
  if (direct.length === 0) return [];
  const named = direct.join(', ');
  if (s.source.kind === 'pglite') {
    return [
      {
        path: ['source', 'kind'],
        message: `extract direct (${named}) reads the source over JDBC, and PGlite has no network listener: use source.kind postgres with a postgres:// URL, or extract: export`,
      },
    ];
  }
  if (s.source.kind !== 'rds') return [];
  if (!s.source.catalog) {
    return [
      {
        path: ['source', 'catalog'],
        message: `extract direct (${named}) reads the source over JDBC through source.catalog: add source.catalog (host, user, secretArn or iamAuth) and source.catalog.glueConnection`,
      },
    ];
  }
  if (!s.source.catalog.glueConnection) {
    return [
      {
        path: ['source', 'catalog', 'glueConnection'],
        message: `extract direct (${named}) runs the Glue job inside the source's VPC: set source.catalog.glueConnection to a Glue connection (type NETWORK or JDBC) in the database's VPC`,
      },
    ];
  }
  const sslmode = s.source.catalog.sslmode ?? 'verify-full';
  if ((sslmode === 'verify-full' || sslmode === 'verify-ca') && !s.source.catalog.sslRootCert) {
    return [
      {
        path: ['source', 'catalog', 'sslRootCert'],
        message:
          `extract direct (${named}) reads over TLS with sslmode ${sslmode}, and the Glue job has no certificate authority to check the database against: ` +
          'download the RDS bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem), upload it to S3 and set source.catalog.sslRootCert: s3://<bucket>/<key>.pem ' +
          '(or set sslmode: require to encrypt without checking the server)',
      },
    ];
  }
  return [];
}

/**
 * Why a direct table's cursor names no column of the source's table (its catalog, known at plan
 * time), or undefined: by its name, in any case, or by the lake name a rename gives a column, as
 * the load job finds it. Refused in the plan, before a run (or a first load's export) is started.
 */
export function missingCursorProblem(table: string, columns: readonly string[], cursor: string, policies: Record<string, { rename?: string | undefined }> | undefined): string | undefined {
  if (columns.length === 0) return undefined; // columns unknown: the job checks
  const wanted = cursor.toLowerCase();
  const lakeNames = Object.values(policies ?? {}).map((p) => p.rename?.toLowerCase());
  if (columns.some((c) => c.toLowerCase() === wanted) || lakeNames.includes(wanted)) return undefined;
  const listed = columns.slice(0, 20).join(', ') + (columns.length > 20 ? ', ...' : '');
  return `cursor column ${cursor} is not a column of the table (its columns: ${listed}): set tables."${table}".cursor.column to one of them`;
}

/**
 * A direct.partitionColumn the table does not have (by its source name in any case, or by the lake name a
 * rename gives it, as the job resolves it): the job would refuse it after its run started. Unchecked without the columns.
 */
export function missingPartitionColumnProblem(table: string, columns: readonly string[], column: string, policies: Record<string, { rename?: string | undefined }> | undefined): string | undefined {
  if (columns.length === 0) return undefined;
  const wanted = column.toLowerCase();
  const lakeNames = Object.values(policies ?? {}).map((p) => p.rename?.toLowerCase());
  if (columns.some((c) => c.toLowerCase() === wanted) || lakeNames.includes(wanted)) return undefined;
  const listed = columns.slice(0, 20).join(', ') + (columns.length > 20 ? ', ...' : '');
  return `direct.partitionColumn ${column} is not a column of the table (its columns: ${listed}): set tables."${table}".direct.partitionColumn to one of them, or leave it out`;
}

/** The plan's view of a table's direct settings; undefined for an export table. */
export function directExtract(t: TableExtract | undefined): DirectExtract | undefined {
  if (t?.extract !== 'direct') return undefined;
  return {
    kind: 'direct',
    ...(t.direct?.partitions !== undefined ? { partitions: t.direct.partitions } : {}),
    ...(t.direct?.partitionColumn ? { partitionColumn: t.direct.partitionColumn } : {}),
  };
}

/** How a direct table is created when its lake table is missing. */
export function firstLoadOf(t: TableExtract | undefined): 'direct' | 'export' {
  return t?.direct?.firstLoad ?? 'direct';
}

/**
 * Why a name with extract: direct is not read: it is a view, materialized view or foreign table
 * (`kind`), and a direct read reads tables only. `remove` says how to take the name out of the config.
 */
export function directNotATableReason(table: string, kind: string, remove: string): string {
  const instead =
    kind === 'foreign table'
      ? 'read the table on the server it reads from (its rows are not in this database)'
      : `set extract: direct (with a cursor) on the tables it reads from${kind === 'materialized view' ? ' (its rows are computed from them)' : ''}`;
  return `not a table: ${table} is a ${kind}, and extract: direct reads tables only, so it is not loaded: ${instead}, or ${remove}`;
}
