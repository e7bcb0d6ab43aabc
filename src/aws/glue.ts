/**
 * Glue: one job run per table load. The run token argument lets a retried activity find a
 * run started just before a crash (GetJobRuns); the activity keeps the JobRunId in its
 * heartbeat and re-attaches by it. Failed, timed-out and errored runs carry Glue's message.
 */
import { BatchStopJobRunCommand, GetJobRunCommand, GetJobRunsCommand, type GlueClient, type JobRun, StartJobRunCommand } from '@aws-sdk/client-glue';
import { PortError } from '../errors';
import type { LoadRequest, LoadResult, LoadRunStatus } from '../model';
import type { LoadPort } from '../ports';
import { loadJobArguments } from '../job-args';
import { EMULATOR_NOT_IMPLEMENTED } from './emulator';
import { awsCall, hasAwsCode, lakeFormationHint, toPortError } from './errors';
import { ensureJobDefinition, jobSpec, uploadScripts } from './glue-job';
import { packageGlueScripts } from './glue-package';
import { joinKey, parseS3Url, type S3Objects, s3Url } from './s3';
import type { AwsSettings } from './settings';

const RUNNING = new Set(['STARTING', 'RUNNING', 'STOPPING', 'WAITING']);
const FAILED = new Set(['FAILED', 'TIMEOUT', 'ERROR', 'STOPPED', 'EXPIRED']);
/** DPUs per worker of each worker type. */
const DPU_PER_WORKER: Record<string, number> = { 'G.025X': 0.25, 'G.1X': 1, 'G.2X': 2, 'G.4X': 4, 'G.8X': 8, Standard: 1 };
/** How many pages (of 200 runs) GetJobRuns is read for a run token; a crash-time run is among the newest. */
const TOKEN_SEARCH_PAGES = 5;

export type GlueLoadSettings = Pick<AwsSettings, 'source' | 'glue' | 'tableBucket' | 'loadPoll' | 'endpoint'>;

export class GlueLoads implements LoadPort {
  readonly pollPolicy: { initialMs: number; maxMs: number };
  private jobReady: Promise<void> | undefined;

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
      await ensureJobDefinition(this.glue, this.settings, jobSpec(this.settings, scripts.hash));
    })();
    this.jobReady.catch(() => (this.jobReady = undefined));
    return this.jobReady;
  }

  async startLoad(req: LoadRequest): Promise<{ runId: string }> {
    await this.ensureJob();
    const subject = `table ${req.plan.table} (job ${this.jobName})`;
    try {
      const out = await this.glue.send(new StartJobRunCommand({ JobName: this.jobName, Arguments: this.jobArguments(req) }));
      if (!out.JobRunId) throw new PortError('failed', 'NoJobRunId', `Glue StartJobRun for ${subject} returned no JobRunId`);
      return { runId: out.JobRunId };
    } catch (err) {
      const hint = hasAwsCode(err, 'ConcurrentRunsExceededException')
        ? `job ${this.jobName} is at its MaxConcurrentRuns (${this.settings.glue.maxConcurrentRuns}); the load is retried: raise glue.maxConcurrentRuns or enable glue.jobRunQueuing`
        : undefined;
      throw toPortError(err, { service: 'Glue', operation: 'StartJobRun', subject, ...(hint ? { hint } : {}) });
    }
  }

  /** The job run's arguments (glue/README.md), as Glue takes them. Never secrets: Glue may log them. */
  jobArguments(req: LoadRequest): Record<string, string> {
    const args = loadJobArguments(req, { tableBucketArn: this.settings.tableBucket.arn });
    return { ...Object.fromEntries(Object.entries(args).map(([name, value]) => [`--${name}`, value])), '--datalake-formats': 'iceberg' };
  }

  async findRunByToken(req: LoadRequest): Promise<string | undefined> {
    const subject = `table ${req.plan.table} (job ${this.jobName}, run token ${req.runToken})`;
    let token: string | undefined;
    for (let page = 0; page < TOKEN_SEARCH_PAGES; page++) {
      let out;
      try {
        out = await this.glue.send(new GetJobRunsCommand({ JobName: this.jobName, MaxResults: 200, ...(token ? { NextToken: token } : {}) }));
      } catch (err) {
        if (hasAwsCode(err, 'EntityNotFoundException')) return undefined;
        if (hasAwsCode(err, EMULATOR_NOT_IMPLEMENTED)) {
          this.warn(`Glue GetJobRuns is not implemented by the emulator at ${this.settings.endpoint}: no run is looked up by token for ${req.plan.table}`);
          return undefined;
        }
        throw toPortError(err, { service: 'Glue', operation: 'GetJobRuns', subject });
      }
      const match = newest((out.JobRuns ?? []).filter((r) => r.Arguments?.['--run_token'] === req.runToken));
      if (match?.Id) return match.Id;
      token = out.NextToken;
      if (!token) return undefined;
    }
    return undefined;
  }

  async getRun(runId: string): Promise<LoadRunStatus> {
    const run = await awsCall({ service: 'Glue', operation: 'GetJobRun', subject: `run ${runId} of job ${this.jobName}` }, async () =>
      (await this.glue.send(new GetJobRunCommand({ JobName: this.jobName, RunId: runId, PredecessorsIncluded: false }))).JobRun,
    );
    if (!run) throw new PortError('not-found', 'EntityNotFoundException', `Glue run ${runId} of job ${this.jobName} does not exist`);
    return runStatus(runId, run, this.jobName, this.settings.glue.roleArn);
  }

  async stopRun(runId: string): Promise<void> {
    const out = await awsCall({ service: 'Glue', operation: 'BatchStopJobRun', subject: `run ${runId} of job ${this.jobName}` }, () =>
      this.glue.send(new BatchStopJobRunCommand({ JobName: this.jobName, JobRunIds: [runId] })),
    );
    const error = out.Errors?.find((e) => e.JobRunId === runId);
    // A run that already ended cannot be stopped, and needs not be.
    if (error && !/not running|already|finished|completed|SUCCEEDED|FAILED|STOPPED/i.test(error.ErrorDetail?.ErrorMessage ?? '')) {
      throw new PortError(
        'failed',
        error.ErrorDetail?.ErrorCode ?? 'StopFailed',
        `Glue BatchStopJobRun could not stop run ${runId} of job ${this.jobName}: ${error.ErrorDetail?.ErrorCode ?? 'error'}: ${error.ErrorDetail?.ErrorMessage ?? 'no message'}; stop it in the Glue console`,
      );
    }
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

export function runStatus(runId: string, run: JobRun, jobName: string, roleArn: string): LoadRunStatus {
  const state = run.JobRunState ?? 'UNKNOWN';
  const executionSeconds = run.ExecutionTime;
  const dpuSeconds = run.DPUSeconds ?? dpuSecondsOf(run);
  const usage = {
    ...(executionSeconds !== undefined ? { executionSeconds } : {}),
    ...(dpuSeconds !== undefined ? { dpuSeconds } : {}),
  };
  if (state === 'SUCCEEDED') return { runId, state: 'succeeded', detail: state, ...usage };
  if (FAILED.has(state)) {
    const message = run.ErrorMessage?.trim() || (state === 'TIMEOUT' ? 'the run hit the job timeout (glue.timeoutMinutes)' : 'Glue gave no ErrorMessage: see the run in the Glue console');
    const hint = lakeFormationHint(message, `the Glue job role ${roleArn}`);
    return { runId, state: 'failed', detail: state, errorMessage: `${message} (Glue run ${runId} of job ${jobName}${hint ? `; ${hint}` : ''})`, ...usage };
  }
  // RUNNING, STARTING, STOPPING, WAITING and any state Glue adds later: keep polling.
  return { runId, state: 'running', detail: RUNNING.has(state) ? state : `${state} (treated as running)`, ...usage };
}

function dpuSecondsOf(run: JobRun): number | undefined {
  if (run.ExecutionTime === undefined) return undefined;
  const dpus = run.NumberOfWorkers && run.WorkerType ? run.NumberOfWorkers * (DPU_PER_WORKER[run.WorkerType] ?? 1) : run.MaxCapacity;
  return dpus === undefined ? undefined : dpus * run.ExecutionTime;
}

function newest(runs: JobRun[]): JobRun | undefined {
  return [...runs].sort((a, b) => (b.StartedOn ? new Date(b.StartedOn).getTime() : 0) - (a.StartedOn ? new Date(a.StartedOn).getTime() : 0))[0];
}
