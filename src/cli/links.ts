/**
 * Links printed next to command output: the Temporal Web UI, and on AWS the Glue run and
 * Athena consoles. The UI address: LAKESYNC_UI_URL, else guessed for a local dev server
 * (UI port = gRPC port + 1000, as `temporal server start-dev` does) or Temporal Cloud.
 */
import type { SourceConfig } from '../config/schema';
import { glueJobName } from '../names';
import type { TemporalTarget } from '../temporal';

export function uiBaseUrl(target: Pick<TemporalTarget, 'address'>, env: NodeJS.ProcessEnv): string | undefined {
  const explicit = env.LAKESYNC_UI_URL;
  if (explicit) return explicit.replace(/\/+$/, '');
  const match = /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(target.address);
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  if (host.endsWith('.tmprl.cloud')) return 'https://cloud.temporal.io';
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) {
    const uiHost = host === '::1' ? '[::1]' : host;
    const uiPort = Number(match[3]) + 1000;
    // No port above 65535: the dev server's UI is elsewhere (LAKESYNC_UI_URL says where).
    return uiPort <= 65_535 ? `http://${uiHost}:${uiPort}` : undefined;
  }
  return undefined;
}

export class UiLinks {
  constructor(
    private readonly base: string | undefined,
    private readonly namespace: string,
  ) {}

  static for(target: Pick<TemporalTarget, 'address' | 'namespace'>, env: NodeJS.ProcessEnv): UiLinks {
    return new UiLinks(uiBaseUrl(target, env), target.namespace);
  }

  workflow(workflowId: string, runId?: string): string | undefined {
    if (!this.base) return undefined;
    const path = `${this.base}/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
    return runId ? `${path}/${runId}/history` : path;
  }

  /** A workflow list filtered by a visibility query, e.g. the partial cycles of a source. */
  list(query: string): string | undefined {
    if (!this.base) return undefined;
    return `${this.base}/namespaces/${encodeURIComponent(this.namespace)}/workflows?query=${encodeURIComponent(query)}`;
  }

  schedule(scheduleId: string): string | undefined {
    if (!this.base) return undefined;
    return `${this.base}/namespaces/${encodeURIComponent(this.namespace)}/schedules/${encodeURIComponent(scheduleId)}`;
  }
}

/** The Glue console page of one job run (AWS backend only); the default job name needs the source's name. */
export function glueRunUrl(source: SourceConfig, runId: string, sourceName?: string): string | undefined {
  if (source.backend !== 'aws' || !source.aws) return undefined;
  const { region, glue } = source.aws;
  const jobName = sourceName ? glueJobName(sourceName, glue.jobName) : glue.jobName?.includes('{source}') ? undefined : glue.jobName;
  if (!jobName) return undefined;
  return `https://${region}.console.aws.amazon.com/gluestudio/home?region=${region}#/job/${encodeURIComponent(jobName)}/run/${encodeURIComponent(runId)}`;
}

/** The Athena console: one query execution's page, or the editor of the configured workgroup. */
export function athenaUrl(source: SourceConfig, queryExecutionId?: string): string | undefined {
  if (source.backend !== 'aws' || !source.aws) return undefined;
  const { region } = source.aws;
  const base = `https://${region}.console.aws.amazon.com/athena/home?region=${region}`;
  return queryExecutionId ? `${base}#/query-editor/history/${encodeURIComponent(queryExecutionId)}` : `${base}#/query-editor`;
}
