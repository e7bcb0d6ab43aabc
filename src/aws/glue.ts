/**
 * Glue: one job run per table load. The run token argument lets a retried activity find a
 * run started just before a crash (GetJobRuns); the activity keeps the JobRunId in its
 * heartbeat and re-attaches by it. Failed, timed-out and errored runs carry Glue's message.
 * A pack (several small tables) is one run of the same job whose arguments name its pack file
 * on S3 (`--pack_path`) and whose `--run_token` is the pack token.
 */
import { BatchStopJobRunCommand, GetJobCommand, GetJobRunCommand, GetJobRunsCommand, type GlueClient, type JobRun, StartJobRunCommand, type WorkerType } from '@aws-sdk/client-glue';
import { PortError } from '../errors';
import type { LiveLoadRun, LoadRequest, LoadResult, LoadRunStatus, PackRequest } from '../model';
import type { CycleRuns, LoadPort, PackLoads } from '../ports';
import { loadJobArguments, packJobArguments, splitArguments } from '../job-args';
import { packTokenPrefix } from '../ids';
import { checkPackSummary, packFileOf, packSizeGB, packTables, type RunTable, withPack } from '../pack-file';
import { sentAtMostOnce } from './at-most-once';
import { jdbcSource } from './direct';
import { EMULATOR_NOT_IMPLEMENTED } from '../emulator';
import { awsCall, awsErrorCode, hasAwsCode, lakeFormationHint, toPortError } from './errors';
import { ensureJobDefinition, jobSpec, uploadScripts } from './glue-job';
import { packageGlueScripts } from './glue-package';
import { runCapacity } from './glue-sizing';
import { joinKey, parseS3Url, type S3Objects, s3Url } from './s3';
import type { AwsSettings } from './settings';

const RUNNING = new Set(['STARTING', 'RUNNING', 'STOPPING', 'WAITING']);
const FAILED = new Set(['FAILED', 'TIMEOUT', 'ERROR', 'STOPPED', 'EXPIRED']);
/** DPUs per worker of each worker type. */
const DPU_PER_WORKER: Record<string, number> = { 'G.025X': 0.25, 'G.1X': 1, 'G.2X': 2, 'G.4X': 4, 'G.8X': 8, Standard: 1 };
/** Glue bills each run at least this long (per second after it). */
const MINIMUM_BILLED_SECONDS = 60;
/** How many pages (of 200 runs) GetJobRuns is read for a run token; a crash-time run is among the newest. */
const TOKEN_SEARCH_PAGES = 5;
/** How many pages GetJobRuns (newest first) is read at most for the live runs of the job. */
const LIVE_SEARCH_PAGES = 25;
/** Loads starting within this long of each other share one scan for live runs. */
const LIVE_SCAN_TTL_MS = 5_000;
/** A failed run that a new run may fix: Glue had no capacity, or failed itself. */
const RETRYABLE_STATES = new Set(['ERROR', 'EXPIRED']);
const NO_CAPACITY = /ConcurrentRunsExceeded|ResourceNumberLimitExceeded|insufficient (?:[\w-]+ )?capacity|not enough capacity/i;

export type GlueLoadSettings = Pick<AwsSettings, 'source' | 'glue' | 'tableBucket' | 'loadPoll' | 'endpoint' | 'direct'>;

export class GlueLoads implements LoadPort {
  readonly pollPolicy: { initialMs: number; maxMs: number; maxCallsPerHour?: number };
  private jobReady: Promise<void> | undefined;
  /** The live runs of the job by `namespace.lakeTable`, from the newest scan. */
  private liveScan: { at: number; runs: Promise<Map<string, LiveLoadRun[]>> } | undefined;

  constructor(
    private readonly glue: GlueClient,
    private readonly objects: S3Objects,
    private readonly settings: GlueLoadSettings,
    private readonly warn: (message: string) => void = (m) => console.warn(m),
  ) {
    this.pollPolicy = settings.loadPoll;
  }

  private get jobName(): string {
    return this.settings.glue.jobName;
  }

  resultLocation(req: Omit<LoadRequest, 'resultLocation'>): string {
    const { scriptBucket, resultPrefix } = this.settings.glue;
    return s3Url(scriptBucket, joinKey(resultPrefix, req.source, req.cycleId, `${req.plan.table}.json`));
  }

  /** Uploads the scripts and creates or updates the job, once per worker process. */
  ensureJob(): Promise<void> {
    this.jobReady ??= (async () => {
      const scripts = packageGlueScripts(this.settings.glue.scriptsDir);
      await uploadScripts(this.objects, this.settings, scripts);
      await ensureJobDefinition(this.glue, this.settings, jobSpec(this.settings, scripts.hash), this.warn);
    })();
    this.jobReady.catch(() => (this.jobReady = undefined));
    return this.jobReady;
  }

  async startLoad(req: LoadRequest): Promise<{ runId: string }> {
    await this.ensureJob();
    const { inline, file } = splitArguments(this.loadArguments(req));
    if (Object.keys(file).length > 0) {
      // Too long for the run's arguments: the job reads them from this file before anything else.
      // Written again by a retried start with the same contents (the arguments follow from the request).
      const path = this.argumentsLocation(req);
      await this.objects.putJson(parseS3Url(path), file, `arguments file of the load of ${req.plan.table}`);
      inline.arguments_path = path;
    }
    return this.startRun({ ...prefixed(inline), '--datalake-formats': 'iceberg' }, runCapacity(req.plan.table, req.plan.sizeGB, this.settings.glue), `table ${req.plan.table} (job ${this.jobName})`);
  }

  /** `s3://<scriptBucket>/<resultPrefix>/<source>/<cycleId>/arguments/<table>.json`, beside the load's result. */
  private argumentsLocation(req: LoadRequest): string {
    const { scriptBucket, resultPrefix } = this.settings.glue;
    return s3Url(scriptBucket, joinKey(resultPrefix, req.source, req.cycleId, 'arguments', `${req.plan.table}.json`));
  }

  /** Packed runs: the pack file on S3, then one run of the job (glue/README.md, "Packed runs"). */
  readonly packs: PackLoads = {
    startPack: (req) => this.startPack(req),
    findPackByToken: (req) => this.findByRunToken(req.packToken, `pack ${req.packToken} (job ${this.jobName})`, `no pack run is looked up by token for pack ${req.packToken}`),
    summaryLocation: (source, cycleId, packToken) => this.packLocation(source, cycleId, packToken, 'summary.json'),
    readSummary: async (location) => {
      const summary = await this.objects.getJson<unknown>(parseS3Url(location), 'pack summary');
      return summary === undefined ? undefined : checkPackSummary(summary, location);
    },
  };

  /** `s3://<scriptBucket>/<resultPrefix>/<source>/<cycleId>/packs/<packToken>.<suffix>`. */
  private packLocation(source: string, cycleId: string, packToken: string, suffix: string): string {
    const { scriptBucket, resultPrefix } = this.settings.glue;
    return s3Url(scriptBucket, joinKey(resultPrefix, source, cycleId, 'packs', `${packToken}.${suffix}`));
  }

  /**
   * Writes the pack file (each table's job arguments, never secrets), then starts ONE run sized
   * by the pack's export gigabytes. A retry finds the run by the pack token (findPackByToken).
   */
  private async startPack(req: PackRequest): Promise<{ runId: string }> {
    const tableBucketArn = this.settings.tableBucket.arn;
    const file = packFileOf(req, (load) => loadJobArguments(load, { tableBucketArn }));
    await this.ensureJob();
    const packPath = this.packLocation(req.source, req.cycleId, req.packToken, 'json');
    await this.objects.putJson(parseS3Url(packPath), file, `pack file of pack ${req.packToken}`);
    // Sized as one table of the pack's total size; the pack token is no table, so no table's pinned workers apply.
    const capacity = runCapacity(`pack:${req.packToken}`, packSizeGB(req), this.settings.glue);
    return this.startRun({ ...prefixed(packJobArguments(packPath, req.packToken)), '--datalake-formats': 'iceberg' }, capacity, `pack ${req.packToken} of ${req.loads.length} tables (job ${this.jobName})`);
  }

  /** One StartJobRun, never sent twice: a second request would start a second run (src/aws/at-most-once.ts). */
  private async startRun(args: Record<string, string>, capacity: ReturnType<typeof runCapacity>, subject: string): Promise<{ runId: string }> {
    this.liveScan = undefined;
    try {
      const { WorkerType: workerType, ...rest } = capacity;
      const sized = { ...rest, ...(workerType ? { WorkerType: workerType as WorkerType } : {}) };
      // Queuing is decided per run: a run without the flag is never queued, whatever the job says.
      // A FLEX run waits for spare capacity on its own, and Glue takes run queuing for standard runs only.
      const queuing = sized.ExecutionClass === 'FLEX' ? false : this.settings.glue.jobRunQueuing;
      const start = sentAtMostOnce(
        new StartJobRunCommand({ JobName: this.jobName, Arguments: args, JobRunQueuingEnabled: queuing, ...sized }),
        { service: 'Glue', operation: 'StartJobRun', subject },
      );
      const out = await this.glue.send(start);
      if (!out.JobRunId) throw new PortError('failed', 'NoJobRunId', `Glue StartJobRun for ${subject} returned no JobRunId`);
      return { runId: out.JobRunId };
    } catch (err) {
      const hint = hasAwsCode(err, 'ConcurrentRunsExceededException')
        ? await this.concurrencyHint(capacity)
        : NO_CAPACITY.test(`${awsErrorCode(err)} ${(err as Error)?.message ?? ''}`)
          ? 'Glue has no capacity for the run now (account quota or Region capacity); the load is retried with backoff: raise the Glue quotas or lower concurrency if this persists'
          : undefined;
      const error = toPortError(err, { service: 'Glue', operation: 'StartJobRun', subject, ...(hint ? { hint } : {}) });
      // Capacity is a wait, not a fault: retried whatever kind the code maps to, and no attempt of the load is spent on it.
      throw hint ? new PortError('throttled', error.code, error.message, { cause: err, noCapacity: true }) : error;
    }
  }

  /**
   * Why Glue refused one more run, from the job's own MaxConcurrentRuns (GetJob): it may be lower
   * than aws.glue.maxConcurrentRuns, changed by hand (the worker puts it back when it next starts)
   * or by another source that runs the same job.
   */
  private async concurrencyHint(capacity: ReturnType<typeof runCapacity>): Promise<string> {
    const configured = this.settings.glue.maxConcurrentRuns;
    let limit: number | undefined;
    let unknown = '';
    try {
      const job = (await this.glue.send(new GetJobCommand({ JobName: this.jobName }))).Job;
      limit = job?.ExecutionProperty?.MaxConcurrentRuns;
      if (limit === undefined) unknown = 'GetJob did not tell how many';
    } catch (e) {
      unknown = `GetJob could not tell how many: ${awsErrorCode(e)}: ${(e as Error)?.message ?? String(e)}`;
    }
    if (limit === undefined) return `job ${this.jobName} already runs as many runs as its MaxConcurrentRuns allows (${unknown}); the load is retried: ${this.concurrencyFix(capacity)}`;
    if (limit < configured) {
      return (
        `job ${this.jobName} takes at most ${limit} run(s) at once (its MaxConcurrentRuns, below aws.glue.maxConcurrentRuns ${configured}: changed by hand since this worker started, or written by another source that runs the same job); ` +
        `the load is retried: set the job's MaxConcurrentRuns to ${configured}, or give each source its own aws.glue.jobName`
      );
    }
    return `job ${this.jobName} is at its MaxConcurrentRuns (${limit}); the load is retried: ${this.concurrencyFix(capacity)}`;
  }

  /** What lets more runs of the job go at once: queuing helps only a STANDARD run that does not ask for it yet. */
  private concurrencyFix(capacity: ReturnType<typeof runCapacity>): string {
    if (capacity.ExecutionClass === 'FLEX') return 'FLEX runs are never queued: raise glue.maxConcurrentRuns';
    return this.settings.glue.jobRunQueuing ? 'raise glue.maxConcurrentRuns' : 'raise glue.maxConcurrentRuns or enable glue.jobRunQueuing';
  }

  /**
   * The job run's arguments (glue/README.md), as Glue takes them. Never secrets: Glue may log them.
   * A direct load gets the database's address and user, and its password only as a secret's ARN
   * or the IAM authentication flag.
   */
  jobArguments(req: LoadRequest): Record<string, string> {
    return { ...prefixed(this.loadArguments(req)), '--datalake-formats': 'iceberg' };
  }

  /** The load's job arguments, names without "--" (glue/README.md). */
  private loadArguments(req: LoadRequest): Record<string, string> {
    const direct = req.plan.extract?.kind === 'direct' && this.settings.direct ? jdbcSource(this.settings.direct) : undefined;
    return loadJobArguments(req, { tableBucketArn: this.settings.tableBucket.arn }, direct);
  }

  async findRunByToken(req: LoadRequest): Promise<string | undefined> {
    return this.findByRunToken(req.runToken, `table ${req.plan.table} (job ${this.jobName}, run token ${req.runToken})`, `no run is looked up by token for ${req.plan.table}`);
  }

  /** The newest run of the job whose `--run_token` is `runToken` (a table's, or a pack's). */
  private async findByRunToken(runToken: string, subject: string, withoutIt: string): Promise<string | undefined> {
    let token: string | undefined;
    for (let page = 0; page < TOKEN_SEARCH_PAGES; page++) {
      const out = await this.jobRunsPage(token, subject, withoutIt);
      if (!out) return undefined;
      const match = newest((out.JobRuns ?? []).filter((r) => r.Arguments?.['--run_token'] === runToken));
      if (match?.Id) return match.Id;
      token = out.NextToken;
      if (!token) return undefined;
    }
    return undefined;
  }

  async liveRuns(namespace: string, lakeTable: string): Promise<LiveLoadRun[]> {
    if (!this.liveScan || Date.now() - this.liveScan.at > LIVE_SCAN_TTL_MS) {
      const runs = this.scanLiveRuns();
      const scan = { at: Date.now(), runs };
      this.liveScan = scan;
      runs.catch(() => this.liveScan === scan && (this.liveScan = undefined));
    }
    return (await this.liveScan.runs).get(`${namespace}.${lakeTable}`) ?? [];
  }

  /**
   * Reads GetJobRuns (newest first) until the runs are too old to be going: a run waits in the
   * queue at most the job timeout and then runs at most the job timeout.
   */
  private async scanLiveRuns(): Promise<Map<string, LiveLoadRun[]>> {
    const live = new Map<string, LiveLoadRun[]>();
    const oldest = Date.now() - (2 * this.settings.glue.timeoutMinutes + 60) * 60_000;
    const subject = `the live runs of job ${this.jobName}`;
    let token: string | undefined;
    for (let page = 0; page < LIVE_SEARCH_PAGES; page++) {
      const out = await this.jobRunsPage(token, subject, 'runs of other loads on the same lake table are not looked for');
      if (!out) return live;
      for (const run of out.JobRuns ?? []) {
        if (!run.Id || !RUNNING.has(run.JobRunState ?? '')) continue;
        const base = { runId: run.Id, ...(run.JobRunState ? { detail: run.JobRunState } : {}), ...(run.StartedOn ? { startedAt: new Date(run.StartedOn).toISOString() } : {}) };
        for (const { lakeTable, runToken, pack } of await this.lakeTablesOf(run)) {
          live.set(lakeTable, [...(live.get(lakeTable) ?? []), { ...base, runToken, ...(pack ? { pack } : {}) }]);
        }
      }
      const last = out.JobRuns?.at(-1)?.StartedOn;
      token = out.NextToken;
      if (!token || (last && new Date(last).getTime() < oldest)) return live;
    }
    this.warn(`Glue job ${this.jobName} has more than ${LIVE_SEARCH_PAGES * 200} runs within its timeout window: only the newest are checked for live runs before a load starts`);
    return live;
  }

  /**
   * The run tokens (`--run_token`) of the job's runs still queued or going, read as the live runs
   * are: GetJobRuns, newest first, until the runs are too old to be going. Retention keeps the
   * working files of their cycles (a run reads its arguments or pack file, and writes its result).
   */
  async liveRunTokens(): Promise<string[]> {
    const tokens: string[] = [];
    const oldest = Date.now() - (2 * this.settings.glue.timeoutMinutes + 60) * 60_000;
    const subject = `the live runs of job ${this.jobName}`;
    let token: string | undefined;
    for (let page = 0; page < LIVE_SEARCH_PAGES; page++) {
      const out = await this.jobRunsPage(token, subject, 'the working files of older cycles are deleted without checking for their live runs');
      if (!out) return tokens;
      for (const run of out.JobRuns ?? []) {
        const runToken = run.Arguments?.['--run_token'];
        if (runToken && RUNNING.has(run.JobRunState ?? '')) tokens.push(runToken);
      }
      const last = out.JobRuns?.at(-1)?.StartedOn;
      token = out.NextToken;
      if (!token || (last && new Date(last).getTime() < oldest)) return tokens;
    }
    throw new PortError(
      'failed',
      'TooManyJobRuns',
      `Glue job ${this.jobName} has more than ${LIVE_SEARCH_PAGES * 200} runs within its timeout window: which of them still run is not known, so no cycle's working files are deleted this time`,
    );
  }

  /**
   * The lake tables a live run loads, each with its run token: the one its arguments name, or for a
   * pack run (`--pack_path`) every table of its pack file, under that table's own run token (the
   * same load attaches to it: the pack writes the table's result where a run of its own would),
   * with the pack's token (its `--run_token`) and size, for the table's share of the run.
   */
  private async lakeTablesOf(run: JobRun): Promise<RunTable[]> {
    const args = run.Arguments ?? {};
    const packPath = args['--pack_path'];
    if (packPath === undefined) {
      return args['--namespace'] && args['--lake_table'] ? [{ lakeTable: `${args['--namespace']}.${args['--lake_table']}`, runToken: args['--run_token'] ?? '' }] : [];
    }
    const unusable = (why: string) => {
      // Without a usable pack file the run fails before it loads a table: it holds no lake table.
      this.warn(`the pack file ${packPath} of live Glue run ${run.Id} of job ${this.jobName} could not be read (${why}): its tables are not counted as busy`);
      return [];
    };
    let file: unknown;
    try {
      file = await this.objects.getJson<unknown>(parseS3Url(packPath), `the pack file of live Glue run ${run.Id} of job ${this.jobName}`);
    } catch (err) {
      // Any other failure (throttling, a 5xx, access) leaves unknown which tables the run holds:
      // the scan fails, so no load starts beside it, and the caller retries.
      if (err instanceof PortError && err.kind === 'validation') return unusable(err.message);
      throw err;
    }
    if (file === undefined) return unusable('it does not exist');
    try {
      return withPack(packTables(file), args['--run_token']);
    } catch (err) {
      return unusable((err as Error).message);
    }
  }

  /** One page of GetJobRuns; undefined when the job does not exist yet or an emulator lacks the call. */
  private async jobRunsPage(token: string | undefined, subject: string, withoutIt: string) {
    try {
      return await this.glue.send(new GetJobRunsCommand({ JobName: this.jobName, MaxResults: 200, ...(token ? { NextToken: token } : {}) }));
    } catch (err) {
      if (hasAwsCode(err, 'EntityNotFoundException')) return undefined;
      if (hasAwsCode(err, EMULATOR_NOT_IMPLEMENTED)) {
        this.warn(`Glue GetJobRuns is not implemented by the emulator at ${this.settings.endpoint}: ${withoutIt}`);
        return undefined;
      }
      throw toPortError(err, { service: 'Glue', operation: 'GetJobRuns', subject });
    }
  }

  async getRun(runId: string): Promise<LoadRunStatus> {
    const run = await awsCall({ service: 'Glue', operation: 'GetJobRun', subject: `run ${runId} of job ${this.jobName}` }, async () =>
      (await this.glue.send(new GetJobRunCommand({ JobName: this.jobName, RunId: runId, PredecessorsIncluded: false }))).JobRun,
    );
    if (!run) throw new PortError('not-found', 'EntityNotFoundException', `Glue run ${runId} of job ${this.jobName} does not exist`);
    return runStatus(runId, run, this.jobName, this.settings.glue.roleArn, this.settings.direct?.glueConnection);
  }

  async stopRun(runId: string): Promise<void> {
    this.liveScan = undefined;
    const out = await awsCall({ service: 'Glue', operation: 'BatchStopJobRun', subject: `run ${runId} of job ${this.jobName}` }, () =>
      this.glue.send(new BatchStopJobRunCommand({ JobName: this.jobName, JobRunIds: [runId] })),
    );
    const error = out.Errors?.find((e) => e.JobRunId === runId);
    if (!error) return;
    // A run that already ended (or is stopping) cannot be stopped, and needs not be: its state says so, whatever the message's words.
    const run = await this.glue
      .send(new GetJobRunCommand({ JobName: this.jobName, RunId: runId, PredecessorsIncluded: false }))
      .then((r) => r.JobRun?.JobRunState, () => undefined);
    if (run !== undefined && (run === 'SUCCEEDED' || run === 'STOPPING' || FAILED.has(run))) return;
    throw new PortError(
      'failed',
      error.ErrorDetail?.ErrorCode ?? 'StopFailed',
      `Glue BatchStopJobRun could not stop run ${runId} of job ${this.jobName}: ${error.ErrorDetail?.ErrorCode ?? 'error'}: ${error.ErrorDetail?.ErrorMessage ?? 'no message'}; stop it in the Glue console`,
    );
  }

  /**
   * GetJobRuns, newest first, at most LIVE_SEARCH_PAGES pages: the runs whose `--run_token` is one
   * of the cycle's tables', and the cycle's pack runs under each table of their pack file.
   */
  async cycleRuns(cycleId: string): Promise<CycleRuns> {
    const prefix = `${cycleId}:`;
    const packPrefix = packTokenPrefix(cycleId);
    const found: CycleRuns['runs'] = [];
    const unread: CycleRuns['unread'] = [];
    let token: string | undefined;
    let read = 0;
    for (let page = 0; page < LIVE_SEARCH_PAGES; page++) {
      const out = await this.jobRunsPage(token, `the runs of cycle ${cycleId} (job ${this.jobName})`, `the runs of cycle ${cycleId} are not read back for its cost`);
      if (!out) break;
      read += out.JobRuns?.length ?? 0;
      for (const run of out.JobRuns ?? []) {
        const runToken = run.Arguments?.['--run_token'];
        if (!run.Id || !runToken) continue;
        const status = () => runStatus(run.Id!, run, this.jobName, this.settings.glue.roleArn, this.settings.direct?.glueConnection);
        if (runToken.startsWith(prefix)) found.push({ table: runToken.slice(prefix.length), status: status() });
        else if (runToken.startsWith(packPrefix) && run.Arguments?.['--pack_path'] !== undefined) {
          let tables: RunTable[];
          try {
            tables = await this.lakeTablesOf(run);
          } catch (err) {
            // One run's pack file unread (the SDK's retries spent) loses that run's tables only, not every other run's.
            const reason = `its pack file ${run.Arguments['--pack_path']} could not be read: ${err instanceof Error ? err.message : String(err)}`;
            this.warn(`Glue run ${run.Id} of job ${this.jobName} (cycle ${cycleId}): ${reason}; the tables it loaded are not known, and their costs leave it out`);
            unread.push({ runId: run.Id, reason });
            continue;
          }
          // Each table's place in the pack file (the order the batch gave the pack) cuts its even share of a run without a summary.
          for (const [index, t] of tables.entries()) {
            if (t.runToken.startsWith(prefix) && t.pack) found.push({ table: t.runToken.slice(prefix.length), status: status(), pack: { ...t.pack, index } });
          }
        }
      }
      token = out.NextToken;
      if (!token) break;
    }
    // Pages left unread: the cycle's older runs (its retried loads) may be among them.
    if (token) this.warn(`Glue job ${this.jobName} has more than ${read} runs: only the newest ${read} are read back for the costs of cycle ${cycleId}`);
    return { runs: found, unread, ...(token ? { truncated: { runs: read } } : {}) };
  }

  async readResult(resultLocation: string): Promise<LoadResult | undefined> {
    const result = await this.objects.getJson<LoadResult>(parseS3Url(resultLocation), 'load result');
    if (result === undefined) return undefined;
    if (typeof result !== 'object' || result === null || typeof result.table !== 'string' || (result.status !== 'succeeded' && result.status !== 'failed')) {
      throw new PortError('validation', 'InvalidLoadResult', `the load result at ${resultLocation} is not a lakesync result JSON (needs table and status): check the Glue job version`);
    }
    return { ...result, snapshotId: result.snapshotId === null || result.snapshotId === undefined ? null : String(result.snapshotId) };
  }

}

export function runStatus(runId: string, run: JobRun, jobName: string, roleArn: string, glueConnection?: string): LoadRunStatus {
  const state = run.JobRunState ?? 'UNKNOWN';
  const executionSeconds = run.ExecutionTime;
  const dpuSeconds = billedDpuSeconds(run, state === 'SUCCEEDED' || FAILED.has(state));
  const usage = {
    ...(run.ExecutionClass === 'FLEX' || run.ExecutionClass === 'STANDARD' ? { executionClass: run.ExecutionClass } : {}),
    ...(executionSeconds !== undefined ? { executionSeconds } : {}),
    ...(dpuSeconds !== undefined ? { dpuSeconds } : {}),
    ...(run.StartedOn ? { startedAt: new Date(run.StartedOn).toISOString() } : {}),
  };
  if (state === 'SUCCEEDED') return { runId, state: 'succeeded', detail: state, ...usage };
  if (FAILED.has(state)) {
    const message = run.ErrorMessage?.trim() || DEFAULT_MESSAGES[state] || 'Glue gave no ErrorMessage: see the run in the Glue console';
    const hint = lakeFormationHint(message, `the Glue job role ${roleArn}`) ?? (glueConnection ? connectionHint(message, glueConnection) : undefined);
    const noCapacity = NO_CAPACITY.test(message);
    const retryable = RETRYABLE_STATES.has(state) || noCapacity;
    // EXPIRED: the run waited in the job run queue and never started; a run Glue failed to start for
    // want of capacity (it ran no time) never started either.
    const unstarted = state === 'EXPIRED' || (noCapacity && !(executionSeconds && executionSeconds > 0));
    return {
      runId,
      state: 'failed',
      detail: state,
      errorMessage: `${message} (Glue run ${runId} of job ${jobName}${hint ? `; ${hint}` : ''})`,
      ...(retryable ? { retryable } : {}),
      ...(unstarted ? { unstarted: true as const } : {}),
      ...usage,
    };
  }
  // RUNNING, STARTING, STOPPING, WAITING and any state Glue adds later: keep polling.
  return { runId, state: 'running', detail: RUNNING.has(state) ? state : `${state} (treated as running)`, ...usage };
}

/**
 * What to fix when a run of a job in a Glue connection fails on the connection's network: Glue
 * checks at submission that the subnet reaches S3 and has free addresses, and Spark's workers
 * need a security group that lets them talk to each other.
 */
function connectionHint(message: string, connection: string): string | undefined {
  const subject = `the subnet of Glue connection ${connection} (source.catalog.glueConnection)`;
  if (/S3 endpoint|NAT gateway/i.test(message)) return `${subject} has no way to S3: add an S3 gateway VPC endpoint to its route table, or a NAT gateway (docs/aws-setup.md, "Direct loads")`;
  if (/ingress ports|security group/i.test(message)) return `the connection's security group needs an inbound rule allowing all traffic from itself (docs/aws-setup.md, "Direct loads")`;
  if (/IP address/i.test(message)) return `${subject} has no free IP addresses for the run's workers: use a larger subnet or fewer workers`;
  return undefined;
}

/** What a failed state means when Glue gives no ErrorMessage. */
const DEFAULT_MESSAGES: Record<string, string> = {
  TIMEOUT: 'the run hit the job timeout (glue.timeoutMinutes)',
  STOPPED: 'the run was stopped (by hand, or by a newer load of the same lake table)',
  EXPIRED: 'the run waited in the job run queue until it expired (no capacity)',
};

/**
 * The DPU-seconds Glue bills for a run: its own figure (FLEX and auto scaling runs report one) or
 * its DPUs times its seconds. A finished run that ran is billed at least a minute (Glue 2.0 and
 * later bill per second with a 1-minute minimum); a run still going may yet pass it.
 *
 * An auto scaling run (its own figure on a STANDARD run: Glue reports DPUSeconds only for FLEX and
 * auto scaling runs) has NumberOfWorkers as its maximum, not the workers it ran: its minute is at the DPUs
 * it ran on average (its figure over its seconds), as Glue bills the executors that ran.
 */
function billedDpuSeconds(run: JobRun, finished: boolean): number | undefined {
  const dpus = run.NumberOfWorkers && run.WorkerType ? run.NumberOfWorkers * (DPU_PER_WORKER[run.WorkerType] ?? 1) : run.MaxCapacity;
  const figure = run.DPUSeconds ?? (run.ExecutionTime !== undefined && dpus !== undefined ? dpus * run.ExecutionTime : undefined);
  // A run that never got workers (expired in the queue, refused at start) used nothing to bill.
  if (!finished || figure === undefined || figure <= 0) return figure;
  if (run.DPUSeconds !== undefined && run.ExecutionClass === 'STANDARD') {
    const seconds = run.ExecutionTime;
    if (!seconds || seconds <= 0 || seconds >= MINIMUM_BILLED_SECONDS) return figure;
    return Math.round(((figure * MINIMUM_BILLED_SECONDS) / seconds) * 1e6) / 1e6;
  }
  if (dpus === undefined) return figure;
  return Math.max(figure, dpus * MINIMUM_BILLED_SECONDS);
}

/** Job arguments as Glue takes them: `--name`. */
function prefixed(args: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(args).map(([name, value]) => [`--${name}`, value]));
}

function newest(runs: JobRun[]): JobRun | undefined {
  return [...runs].sort((a, b) => (b.StartedOn ? new Date(b.StartedOn).getTime() : 0) - (a.StartedOn ? new Date(a.StartedOn).getTime() : 0))[0];
}
