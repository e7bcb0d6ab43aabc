/**
 * The parts of AWS that moto server cannot play, for the chaos run's AWS path. Glue job runs:
 * moto gives every run the id "01" and advances only the first one, so 20 loads cannot run on it;
 * here a run gets a Glue-style id, goes STARTING -> RUNNING -> SUCCEEDED over a few seconds of
 * its own (whether anyone polls it or not, as on Glue), writes its result JSON when started and
 * commits an Iceberg snapshot of the export's rows to a lake model when it ends, unless stopped.
 * The Athena answers come from that lake model. moto keeps the job definition, S3, RDS, Lake
 * Formation and S3 Tables. It also counts what the figures need: StartJobRun calls and commits
 * per table per cycle.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand } from '@aws-sdk/client-s3tables';
import type { AwsClients } from '../../src/aws/clients';
import type { LoadResult } from '../../src/model';
import { keyedPrng } from './prng';
import type { Answer, AwsCall } from './proxy';
import type { Rows } from './source';

export interface SimRun {
  runId: string;
  table: string;
  lakeTable: string;
  cycleId: string;
  runToken: string;
  exportId: string;
  action: string;
  arguments: Record<string, string>;
  startedAt: number;
  /** When it leaves STARTING, and when it ends (SUCCEEDED unless stopped before). */
  runningAt: number;
  endsAt: number;
  stopped: boolean;
  ended: boolean;
}

export interface SimCommit {
  snapshotId: string;
  parentId: string | null;
  runId: string;
  cycleId: string;
  exportId: string;
  snapshotTime: string;
  source: string;
  committedAt: string;
  rows: Rows;
}

interface Query {
  sql: string;
  columns: string[];
  rows: string[][];
  error?: string;
}

/** 19 decimal digits at most: an Iceberg snapshot id is a positive 64-bit integer. */
export function snapshotIdOf(runId: string): string {
  return BigInt(`0x${createHash('sha256').update(runId).digest('hex').slice(0, 15)}`).toString();
}

export class AwsSimulation {
  readonly runs = new Map<string, SimRun>();
  /** Commits per lake table, oldest first. */
  readonly lake = new Map<string, SimCommit[]>();
  /** StartJobRun calls that started a run, by cycle and source table. */
  readonly starts = new Map<string, number>();
  /** StartJobRun requests that reached the proxy (faulted ones too), by cycle and source table. */
  readonly startRequests = new Map<string, number>();
  private readonly exports = new Map<string, Record<string, Rows>>();
  private readonly queries = new Map<string, Query>();
  private queryCounter = 0;

  constructor(
    private readonly clients: AwsClients,
    private readonly settings: { jobName: string; tableBucketArn: string; namespace: string; seed: number; maxConcurrentRuns: number },
  ) {
    this.ticker = setInterval(() => void this.tick(), 200);
  }

  private readonly ticker: NodeJS.Timeout;
  private ticking: Promise<void> | undefined;

  close(): void {
    clearInterval(this.ticker);
  }

  /** Runs whose time is up end now: they commit, as a Glue run would with nobody watching. */
  tick(): Promise<void> {
    this.ticking ??= (async () => {
      for (const run of this.runs.values()) {
        if (run.ended || run.stopped || Date.now() < run.endsAt) continue;
        run.ended = true;
        await this.commit(run);
      }
    })().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private stateOf(run: SimRun): string {
    if (run.stopped) return 'STOPPED';
    if (run.ended) return 'SUCCEEDED';
    return Date.now() < run.runningAt ? 'STARTING' : 'RUNNING';
  }

  /** The rows of each table in an export, as the harness wrote them. */
  registerExport(exportId: string, rows: Record<string, Rows>): void {
    this.exports.set(exportId, rows);
  }

  /** Counts a StartJobRun request as the proxy receives it, before any fault. */
  request(call: AwsCall): void {
    if (call.service !== 'glue' || call.operation !== 'StartJobRun') return;
    const args = (JSON.parse(call.body.toString('utf8') || '{}') as { Arguments?: Record<string, string> }).Arguments ?? {};
    const key = `${args['--cycle_id']}|${args['--source_schema']}.${args['--source_table']}`;
    this.startRequests.set(key, (this.startRequests.get(key) ?? 0) + 1);
  }

  requestsOf(cycleId: string, table: string): number {
    return this.startRequests.get(`${cycleId}|${table}`) ?? 0;
  }

  /** How each run of a table in a cycle stands, oldest first. */
  runStatesOf(cycleId: string, table: string): string[] {
    return [...this.runs.values()].filter((r) => r.cycleId === cycleId && r.table === table).sort((a, b) => a.startedAt - b.startedAt).map((r) => this.stateOf(r));
  }

  startsOf(cycleId: string, table: string): number {
    return this.starts.get(`${cycleId}|${table}`) ?? 0;
  }

  commitsOf(lakeTable: string, cycleId?: string): SimCommit[] {
    return (this.lake.get(lakeTable) ?? []).filter((c) => cycleId === undefined || c.cycleId === cycleId);
  }

  /** Answers the calls moto lacks and the ones on the lake model; undefined forwards to moto. */
  async answer(call: AwsCall): Promise<Answer | undefined> {
    if (call.service === 'glue') {
      const body = JSON.parse(call.body.toString('utf8') || '{}') as { RunId?: string; JobRunIds?: string[]; Arguments?: Record<string, string> };
      if (call.operation === 'StartJobRun') return this.start(body.Arguments ?? {});
      if (call.operation === 'GetJobRun') {
        // A run that ended is committed before anyone reads it as SUCCEEDED.
        await this.tick();
        const run = this.runs.get(body.RunId ?? '');
        return run ? json({ JobRun: this.jobRun(run) }) : glueError('EntityNotFoundException', `Job run ${body.RunId} not found`);
      }
      if (call.operation === 'GetJobRuns') {
        await this.tick();
        return json({ JobRuns: this.jobRuns() });
      }
      if (call.operation === 'BatchStopJobRun') return json(this.stop(body));
      return undefined;
    }
    if (call.service === 'athena') return this.athena(call);
    return undefined;
  }

  private async start(args: Record<string, string>): Promise<Answer> {
    const live = [...this.runs.values()].filter((r) => !r.ended && !r.stopped).length;
    if (live >= this.settings.maxConcurrentRuns) return glueError('ConcurrentRunsExceededException', `Concurrent runs exceeded for ${this.settings.jobName}`);
    const runId = `jr_${randomBytes(32).toString('hex')}`;
    const pace = keyedPrng(this.settings.seed, `glue-run#${this.runs.size}`);
    const now = Date.now();
    const table = `${args['--source_schema']}.${args['--source_table']}`;
    const run: SimRun = {
      runId,
      table,
      lakeTable: args['--lake_table'] ?? '',
      cycleId: args['--cycle_id'] ?? '',
      runToken: args['--run_token'] ?? '',
      exportId: args['--export_id'] ?? '',
      action: args['--action'] ?? '',
      arguments: args,
      startedAt: now,
      runningAt: now + pace.int(300, 1500),
      endsAt: now + pace.int(2500, 6000),
      stopped: false,
      ended: false,
    };
    this.runs.set(runId, run);
    const key = `${run.cycleId}|${table}`;
    this.starts.set(key, (this.starts.get(key) ?? 0) + 1);
    const rows = this.exports.get(run.exportId)?.[table] ?? [];
    const before = this.commitsOf(run.lakeTable).at(-1)?.rows ?? [];
    const was = new Map(before);
    const still = new Map(rows);
    const result: LoadResult = {
      table: `${args['--source_database']}.${table}`,
      lakeTable: `${args['--namespace']}.${run.lakeTable}`,
      status: 'succeeded',
      action: run.action as LoadResult['action'],
      rowsRead: rows.length,
      inserted: rows.filter(([id]) => !was.has(id)).length,
      updated: rows.filter(([id, v]) => was.has(id) && was.get(id) !== v).length,
      deleted: before.filter(([id]) => !still.has(id)).length,
      rowCountAfter: rows.length,
      cursorColumn: null,
      cursorValueAfter: null,
      snapshotId: snapshotIdOf(runId),
      committed: true,
      schemaChanges: [],
      droppedColumns: [],
      schemaHash: 'chaos',
      cycleId: run.cycleId,
      runToken: run.runToken,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      error: null,
    };
    const location = new URL(args['--result_path'] ?? '');
    await this.clients.s3.send(new PutObjectCommand({ Bucket: location.hostname, Key: location.pathname.slice(1), Body: JSON.stringify(result) }));
    return json({ JobRunId: runId });
  }

  private async commit(run: SimRun): Promise<void> {
    const commits = this.lake.get(run.lakeTable) ?? [];
    if (commits.length === 0) {
      // The job creates the lake table with its first commit.
      await this.clients.s3tables
        .send(new CreateTableCommand({ tableBucketARN: this.settings.tableBucketArn, namespace: this.settings.namespace, name: run.lakeTable, format: 'ICEBERG' }))
        .catch((err: unknown) => {
          if ((err as { name?: string }).name !== 'ConflictException') throw err;
        });
    }
    commits.push({
      snapshotId: snapshotIdOf(run.runId),
      parentId: commits.at(-1)?.snapshotId ?? null,
      runId: run.runId,
      cycleId: run.cycleId,
      exportId: run.exportId,
      snapshotTime: run.arguments['--snapshot_time'] ?? '',
      source: run.arguments['--source'] ?? '',
      committedAt: new Date().toISOString(),
      rows: this.exports.get(run.exportId)?.[run.table] ?? [],
    });
    this.lake.set(run.lakeTable, commits);
  }

  private jobRun(run: SimRun): Record<string, unknown> {
    return { Id: run.runId, JobName: this.settings.jobName, Arguments: run.arguments, JobRunState: this.stateOf(run), StartedOn: run.startedAt / 1000 };
  }

  private jobRuns(): Record<string, unknown>[] {
    return [...this.runs.values()].sort((a, b) => b.startedAt - a.startedAt).map((r) => this.jobRun(r));
  }

  private stop(request: { JobRunIds?: string[] }): Record<string, unknown> {
    const ok: Record<string, string>[] = [];
    const errors: Record<string, unknown>[] = [];
    for (const id of request.JobRunIds ?? []) {
      const run = this.runs.get(id);
      if (!run) errors.push({ JobName: this.settings.jobName, JobRunId: id, ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: `run ${id} not found` } });
      else if (run.ended || run.stopped) errors.push({ JobName: this.settings.jobName, JobRunId: id, ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: `run ${id} is not running (${this.stateOf(run)})` } });
      else {
        run.stopped = true;
        ok.push({ JobName: this.settings.jobName, JobRunId: id });
      }
    }
    return { SuccessfulSubmissions: ok, Errors: errors };
  }

  private athena(call: AwsCall): Answer {
    const body = JSON.parse(call.body.toString('utf8') || '{}') as { QueryString?: string; QueryExecutionId?: string };
    if (call.operation === 'StartQueryExecution') {
      const id = `chaos-query-${++this.queryCounter}`;
      this.queries.set(id, this.evaluate(body.QueryString ?? ''));
      return json({ QueryExecutionId: id });
    }
    const query = this.queries.get(body.QueryExecutionId ?? '');
    if (!query) return { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ __type: 'InvalidRequestException', message: `QueryExecution ${body.QueryExecutionId} was not found` }) };
    if (call.operation === 'GetQueryExecution') {
      const status = query.error
        ? { State: 'FAILED', StateChangeReason: query.error, AthenaError: { ErrorCategory: 2, ErrorType: 1005, Retryable: false, ErrorMessage: query.error } }
        : { State: 'SUCCEEDED' };
      return json({ QueryExecution: { QueryExecutionId: body.QueryExecutionId, Query: query.sql, Status: status } });
    }
    if (call.operation === 'GetQueryResults') {
      const rows = [query.columns, ...query.rows].map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) }));
      return json({ ResultSet: { Rows: rows, ResultSetMetadata: { ColumnInfo: query.columns.map((c) => ({ Name: c, Label: c, Type: 'varchar' })) } } });
    }
    return { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ __type: 'InvalidRequestException', message: `the chaos lake does not answer ${call.operation}` }) };
  }

  /** The SQL lakesync sends to Athena (src/aws/athena.ts), answered from the lake model. */
  private evaluate(sql: string): Query {
    const fail = (error: string): Query => ({ sql, columns: [], rows: [], error });
    const count = /^SELECT count\(\*\) AS row_count FROM "[^"]+"\."[^"]+"\."([^"$]+)"(?: FOR VERSION AS OF (\d+))?$/.exec(sql);
    if (count) {
      const commits = this.commitsOf(count[1]!);
      const at = count[2] ? commits.find((c) => c.snapshotId === count[2]) : commits.at(-1);
      if (!at) return fail(`TABLE_NOT_FOUND or unknown snapshot: ${sql}`);
      return { sql, columns: ['row_count'], rows: [[String(at.rows.length)]] };
    }
    const parent = /"([^"$]+)\$snapshots" WHERE snapshot_id = (\d+)$/.exec(sql);
    if (parent) {
      const at = this.commitsOf(parent[1]!).find((c) => c.snapshotId === parent[2]);
      return { sql, columns: ['parent_id'], rows: at ? [[at.parentId ?? '']] : [] };
    }
    const last = /"([^"$]+)\$snapshots" s ORDER BY s\.committed_at DESC LIMIT 1$/.exec(sql);
    if (last) {
      const c = this.commitsOf(last[1]!).at(-1);
      const columns = ['snapshot_id', 'committed_at', 'source', 'export_id', 'snapshot_time', 'cycle_id'];
      return { sql, columns, rows: c ? [[c.snapshotId, c.committedAt, c.source, c.exportId, c.snapshotTime, c.cycleId]] : [] };
    }
    return fail(`the chaos lake cannot answer: ${sql}`);
  }
}

function glueError(code: string, message: string): Answer {
  return { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code }, body: JSON.stringify({ __type: code, message }) };
}

function json(body: unknown): Answer {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
}
