/**
 * Athena: read-only SQL on the lake (the S3 Tables catalog), and the verification of a loaded
 * table: the row count at the Iceberg snapshot the load produced (against the export, or the rows
 * an incremental load added to its parent snapshot), plus configured checks.
 */
import { type AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, type QueryExecution, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { setTimeout as delay } from 'node:timers/promises';
import { PortError } from '../errors';
import { LINEAGE_PROPERTIES, lakeCommitFromRow, lineageSelectList } from '../lineage';
import type { LakeCommit, VerifyOutcome, VerifyRequest } from '../model';
import type { VerifyPort } from '../ports';
import { assertSnapshotId, configuredCheckResult, countValue, type LakeRowCounts, rowCountCheck, unknownSnapshot } from '../verify-rows';
import { awsCall, awsErrorCode, awsErrorKind, lakeFormationHint, toPortError } from './errors';
import { athenaCheckRefusal, athenaQualifiedName } from './read-only';
import { athenaCatalog, type AwsSettings } from './settings';

export interface QueryResult {
  columns: string[];
  rows: (string | null)[][];
}

export interface AthenaPolling {
  initialMs: number;
  maxMs: number;
  /** Longest a query may take before the step gives up (and is retried). */
  timeoutMs: number;
}

const DEFAULT_POLLING: AthenaPolling = { initialMs: 500, maxMs: 5_000, timeoutMs: 8 * 60_000 };

export type AthenaSettings = Pick<AwsSettings, 'athena' | 'tableBucket'>;

export class AthenaQueries {
  constructor(
    private readonly athena: AthenaClient,
    private readonly settings: AthenaSettings,
    private readonly polling: AthenaPolling = DEFAULT_POLLING,
  ) {}

  /**
   * Runs one statement in the configured workgroup, against the table bucket's catalog; stopped
   * once `signal` aborts. `maxRows`: at most that many rows, the first the query answers; pages stop
   * once they are read (a check reads one value, and paging through a large answer 1,000 rows a call
   * could outlast the step).
   */
  async run(sql: string, subject: string, database?: string, options: { signal?: AbortSignal; maxRows?: number } = {}): Promise<QueryResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const { workgroup, outputLocation } = this.settings.athena;
    const call = { service: 'Athena' as const, operation: 'StartQueryExecution', subject };
    const started = await awsCall(call, async () => {
      try {
        return await this.athena.send(
          new StartQueryExecutionCommand({
            QueryString: sql,
            WorkGroup: workgroup,
            // A workgroup with managed query results refuses a query that names a location: none is sent when none is configured.
            ...(outputLocation ? { ResultConfiguration: { OutputLocation: outputLocation } } : {}),
            QueryExecutionContext: { Catalog: athenaCatalog(this.settings), ...(database ? { Database: database } : {}) },
          }),
        );
      } catch (err) {
        const hint = workgroupHint(err, workgroup);
        throw hint ? toPortError(err, { ...call, hint }) : err;
      }
    });
    const id = started.QueryExecutionId;
    if (!id) throw new PortError('failed', 'NoQueryExecutionId', `Athena StartQueryExecution for ${subject} returned no QueryExecutionId`);
    const execution = await this.waitForSuccess(id, subject, signal);
    // Only a query's (DML) answer repeats the column names as its first row; SHOW, DESCRIBE (UTILITY) and DDL answers do not.
    const header = execution?.StatementType !== 'UTILITY' && execution?.StatementType !== 'DDL';
    return this.results(id, subject, options.maxRows, header);
  }

  private async waitForSuccess(id: string, subject: string, signal?: AbortSignal): Promise<QueryExecution | undefined> {
    const deadline = Date.now() + this.polling.timeoutMs;
    let waitMs = this.polling.initialMs;
    for (;;) {
      // Cancelled (the cycle was): the query would run on, billed, for nobody.
      if (signal?.aborted) {
        await this.stop(id);
        signal.throwIfAborted();
      }
      const execution = await awsCall({ service: 'Athena', operation: 'GetQueryExecution', subject }, async () =>
        (await this.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution,
      ).catch(async (err: unknown) => {
        // Nobody would read its result: the query would run on, billed, holding the workgroup's capacity.
        await this.stop(id);
        throw err;
      });
      const state = execution?.Status?.State ?? 'UNKNOWN';
      if (state === 'SUCCEEDED') return execution;
      if (state === 'FAILED' || state === 'CANCELLED') throw queryFailure(id, state, execution, subject, this.settings.athena.workgroup);
      if (Date.now() + waitMs > deadline) {
        // The retry starts a query of its own: this one would go on holding the workgroup's capacity and scanning (billed).
        const stopped = await this.stop(id);
        throw new PortError(
          'transient',
          'AthenaQueryTimeout',
          `Athena query ${id} for ${subject} is still ${state} after ${Math.round(this.polling.timeoutMs / 1000)} s and ${stopped}; the step is retried (check workgroup ${this.settings.athena.workgroup}'s capacity)`,
        );
      }
      // An abort ends the pause early; the loop's check then stops the query.
      await delay(waitMs, undefined, signal ? { signal } : undefined).catch((err: unknown) => {
        if (!signal?.aborted) throw err;
      });
      waitMs = Math.min(waitMs * 2, this.polling.maxMs);
    }
  }

  /** Best effort: what became of the query, for the timeout's message. */
  private async stop(id: string): Promise<string> {
    try {
      await this.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      return 'was stopped';
    } catch (err) {
      return `could not be stopped (StopQueryExecution: ${awsErrorCode(err)}; stop it in workgroup ${this.settings.athena.workgroup}, and allow athena:StopQueryExecution)`;
    }
  }

  private async results(id: string, subject: string, maxRows = Infinity, header = true): Promise<QueryResult> {
    let columns: string[] = [];
    const rows: (string | null)[][] = [];
    let token: string | undefined;
    let first = true;
    do {
      const page = await awsCall({ service: 'Athena', operation: 'GetQueryResults', subject }, () =>
        this.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, ...(token ? { NextToken: token } : {}) })),
      );
      if (first) columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Label ?? c.Name ?? '');
      const pageRows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
      // Athena repeats the column names as the first row of a SELECT's first page.
      if (header && first && pageRows.length > 0 && columns.length > 0 && sameRow(pageRows[0]!, columns)) pageRows.shift();
      rows.push(...pageRows);
      token = rows.length >= maxRows ? undefined : page.NextToken;
      first = false;
    } while (token);
    return { columns, rows: rows.slice(0, maxRows) };
  }
}

/** What to do when Athena refuses a query for its workgroup (missing or disabled); undefined for other refusals. */
function workgroupHint(err: unknown, workgroup: string): string | undefined {
  if (awsErrorKind(err) !== 'validation') return undefined;
  const message = (err as Error | undefined)?.message ?? '';
  if (!/workgroup/i.test(message)) return undefined;
  if (/disabled/i.test(message)) return `Athena workgroup ${workgroup} is disabled: enable it (aws athena update-work-group --work-group ${workgroup} --state ENABLED)`;
  if (/not found|does not exist|not exist/i.test(message)) {
    return `Athena workgroup ${workgroup} does not exist in this account and region: create it or correct aws.athena.workgroup in lakesync.yaml (lakesync doctor checks it)`;
  }
  return undefined;
}

function sameRow(row: (string | null)[], columns: string[]): boolean {
  return row.length === columns.length && row.every((v, i) => v === columns[i]);
}

function queryFailure(id: string, state: string, execution: QueryExecution | undefined, subject: string, workgroup: string): PortError {
  const reason = execution?.Status?.AthenaError?.ErrorMessage ?? execution?.Status?.StateChangeReason ?? 'Athena gave no reason';
  const errorType = execution?.Status?.AthenaError?.ErrorType;
  const hint =
    // A namespace lakesync creates has no tables to grant on beforehand; grants[] are made on each table after its load, before its verification.
    lakeFormationHint(
      reason,
      `the principal running Athena queries in workgroup ${workgroup}`,
      'list that principal under grants[] in lakesync.yaml (tablePermissions SELECT, DESCRIBE): lakesync grants them on each table it loads, before verifying it, also in a namespace it creates',
    ) ??
    // lakesync stops only queries it has given up on, and reports those itself: this one was cancelled by Athena or by someone else.
    (state === 'CANCELLED'
      ? `lakesync did not cancel it: the per-query data usage limit of workgroup ${workgroup} (BytesScannedCutoffPerQuery) cancels a query that scans more, or someone stopped it; raise or remove the limit, then run it again (for a table's verification, rerun the table)`
      : undefined);
  const retryable = state === 'FAILED' && execution?.Status?.AthenaError?.Retryable === true;
  // Athena's error category 2 is a user error: the statement itself (syntax, a column or function it names); not a permission, which has its hint.
  const refusedSql = state === 'FAILED' && !retryable && execution?.Status?.AthenaError?.ErrorCategory === 2 && hint === undefined;
  return new AthenaQueryError(
    retryable ? 'transient' : 'failed',
    `AthenaQuery${state === 'CANCELLED' ? 'Cancelled' : 'Failed'}`,
    `Athena query ${id} for ${subject} ${state}${errorType !== undefined ? ` (error type ${errorType})` : ''}: ${reason}${hint ? ` (${hint})` : ''}`,
    refusedSql ? reason : undefined,
  );
}

/** A query that ended FAILED or CANCELLED; `refusedSql`: Athena's reason when it refused the statement itself. */
export class AthenaQueryError extends PortError {
  constructor(
    kind: PortError['kind'],
    code: string,
    message: string,
    readonly refusedSql?: string,
  ) {
    super(kind, code, message);
  }
}

/** The lake table's name in Athena SQL: `"s3tablescatalog/<bucket>"."<namespace>"."<table>"`. */
export function qualifiedTable(settings: Pick<AwsSettings, 'tableBucket'>, namespace: string, lakeTable: string): string {
  return athenaQualifiedName(settings, namespace, lakeTable);
}

export function rowCountSql(settings: Pick<AwsSettings, 'tableBucket'>, req: Pick<VerifyRequest, 'namespace' | 'lakeTable' | 'snapshotId'>): string {
  // Snapshot ids go into the SQL text: only a 64-bit number is let through.
  if (req.snapshotId) assertSnapshotId(req.snapshotId, `${req.namespace}.${req.lakeTable}`);
  const version = req.snapshotId ? ` FOR VERSION AS OF ${req.snapshotId}` : '';
  return `SELECT count(*) AS row_count FROM ${qualifiedTable(settings, req.namespace, req.lakeTable)}${version}`;
}

/** The parent of one snapshot (as text: 64-bit ids) and its operation, from the Iceberg `$snapshots` metadata table. */
export function parentSnapshotSql(settings: Pick<AwsSettings, 'tableBucket'>, req: Pick<VerifyRequest, 'namespace' | 'lakeTable'> & { snapshotId: string }): string {
  assertSnapshotId(req.snapshotId, `${req.namespace}.${req.lakeTable}`);
  return `SELECT CAST(parent_id AS varchar) AS parent_id, operation FROM ${qualifiedTable(settings, req.namespace, `${req.lakeTable}$snapshots`)} WHERE snapshot_id = ${req.snapshotId}`;
}

/**
 * The newest lakesync commit of a lake table with its lineage (src/lineage.ts), from the Iceberg
 * `$snapshots` and `$history` metadata tables. element_at gives NULL for a property a commit lacks
 * (a subscript would fail the query).
 */
export function lastCommitSql(settings: Pick<AwsSettings, 'tableBucket'>, namespace: string, lakeTable: string): string {
  const lineage = lineageSelectList((name) => `element_at(s.summary, '${name}')`);
  return (
    `SELECT CAST(s.snapshot_id AS varchar) AS snapshot_id, to_iso8601(s.committed_at) AS committed_at, s.operation AS operation, CAST(s.parent_id AS varchar) AS parent_id, ${lineage} ` +
    `FROM ${qualifiedTable(settings, namespace, `${lakeTable}$snapshots`)} s JOIN ${qualifiedTable(settings, namespace, `${lakeTable}$history`)} h ON h.snapshot_id = s.snapshot_id ` +
    // Ordered by the qualified column: the bare name would be the ISO-8601 text selected above.
    `WHERE h.is_current_ancestor AND element_at(s.summary, '${LINEAGE_PROPERTIES.cycleId}') IS NOT NULL ORDER BY s.committed_at DESC LIMIT 1`
  );
}

/** The lake table's newest commit; undefined when it has no snapshot yet. */
export async function athenaLastCommit(queries: AthenaQueries, settings: Pick<AwsSettings, 'tableBucket'>, namespace: string, lakeTable: string): Promise<LakeCommit | undefined> {
  const subject = `lake table ${namespace}.${lakeTable}`;
  const result = await queries.run(lastCommitSql(settings, namespace, lakeTable), `newest commit of ${subject}`, namespace);
  const row = result.rows[0];
  if (!row) return undefined;
  return lakeCommitFromRow(Object.fromEntries(result.columns.map((column, i) => [column, row[i] ?? null])), subject);
}

export class AthenaVerify implements VerifyPort {
  constructor(
    private readonly queries: AthenaQueries,
    private readonly settings: Pick<AwsSettings, 'tableBucket'>,
  ) {}

  async verify(req: VerifyRequest, progress?: (check: string) => void, signal?: AbortSignal): Promise<VerifyOutcome> {
    const subject = `verify of ${req.table} (${req.namespace}.${req.lakeTable})`;
    // Athena runs writes too, with the worker's lake permissions: a check must only read, and is refused before any query.
    const table = qualifiedTable(this.settings, req.namespace, req.lakeTable);
    for (const check of req.checks) assertReadOnlyCheck(check, req.table, table);
    const lake: LakeRowCounts = {
      countAt: async (snapshotId) => {
        const count = await this.queries.run(rowCountSql(this.settings, { ...req, snapshotId }), `${subject}, row count`, req.namespace, { signal, maxRows: 1 });
        return countValue(firstValue(count), `${req.table} (${req.namespace}.${req.lakeTable})`);
      },
      parentOf: async (snapshotId) => {
        const result = await this.queries.run(parentSnapshotSql(this.settings, { ...req, snapshotId }), `${subject}, parent snapshot`, req.namespace, { signal, maxRows: 1 });
        if (result.rows.length === 0) throw unknownSnapshot(snapshotId, `${req.table} (${req.namespace}.${req.lakeTable})`);
        const [parent, operation] = result.rows[0]!;
        return { parent: parent ?? null, operation: operation ?? null };
      },
    };
    const checks: VerifyOutcome['checks'] = [await rowCountCheck(req.rowCount, req.snapshotId, lake)];
    for (const check of req.checks) {
      progress?.(check.name);
      const sql = check.sql.replaceAll('{table}', table);
      let answer: Parameters<typeof configuredCheckResult>[1];
      try {
        // Two rows at most: enough to tell an answer of one row from several.
        answer = firstValues(await this.queries.run(sql, `${subject}, check ${check.name}`, req.namespace, { signal, maxRows: 2 }));
      } catch (err) {
        // SQL that Athena refuses is the check's failure, as on the local runner; outages and permissions stay the step's.
        if (!(err instanceof AthenaQueryError) || err.refusedSql === undefined) throw err;
        answer = { error: err.refusedSql };
      }
      checks.push(configuredCheckResult(check, answer));
    }
    return { passed: checks.every((c) => c.passed), checks };
  }
}

function assertReadOnlyCheck(check: VerifyRequest['checks'][number], table: string, qualifiedName: string): void {
  const refusal = athenaCheckRefusal(check.sql, qualifiedName);
  if (refusal === undefined) return;
  throw new PortError(
    'validation',
    'ReadOnlyCheck',
    `verify check ${check.name} of ${table} is ${refusal}: a check runs one query that reads the lake (SELECT or WITH ... SELECT); fix it in verify.checks of lakesync.yaml`,
  );
}

function firstValue(result: QueryResult): string | undefined {
  return firstValues(result)[0];
}

/** The first value of each row of the answer, NULL spelled out. */
function firstValues(result: QueryResult): (string | undefined)[] {
  return result.rows.map((row) => (row[0] === null ? 'NULL' : row[0]));
}
