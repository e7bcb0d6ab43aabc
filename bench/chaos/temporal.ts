/** The dev server of a chaos run: the source workflow is told to continue as new after every cycle. */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { decodeTimeoutType, type ProtoFailure } from '@temporalio/common';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { CycleResult } from '../../src/model';
import { toolchain } from '../../src/toolchain';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import type { ActivityTimeout } from './report';

/**
 * A dev server whose `continueAsNewSuggested` comes after a few history events (dynamic config
 * `limit.historyCount.suggestContinueAsNew`), so the source workflow continues as new at the end
 * of each cycle and the run can kill the worker during it.
 */
export async function startChaosServer(dir: string): Promise<DevServer> {
  const wrapper = join(dir, 'temporal-chaos.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${toolchain().temporal}' "$@" --dynamic-config-value limit.historyCount.suggestContinueAsNew=12\n`);
  chmodSync(wrapper, 0o755);
  return startDevServer({ dbFile: join(dir, 'temporal.db'), binary: wrapper, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
}

/** The result of cycle workflow `workflowId`, waiting for it to exist and to end (at most `timeoutMs`); a failed cycle workflow gives its error. */
export async function cycleOutcome(client: Client, workflowId: string, timeoutMs: number): Promise<{ result?: CycleResult; error?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`cycle workflow ${workflowId} did not end within ${timeoutMs / 1000} s`)), Math.max(0, deadline - Date.now()))));
    try {
      return { result: (await Promise.race([client.workflow.getHandle(workflowId).result(), timeout])) as CycleResult };
    } catch (err) {
      const name = (err as Error)?.name ?? '';
      if (name !== 'WorkflowNotFoundError' || Date.now() > deadline) return { error: String((err as Error)?.message ?? err) };
      await delay(250);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The activity attempts that ended by a timeout in every run of every workflow whose id starts with
 * `workflowIdPrefix` (a cycle and its batches). A retried attempt's failure is on the started event
 * of the attempt after it; an attempt that ended its activity is an ActivityTaskTimedOut event.
 */
export async function activityTimeouts(client: Client, workflowIdPrefix: string): Promise<ActivityTimeout[]> {
  const found: ActivityTimeout[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${workflowIdPrefix}"` })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const types = new Map<string, string>();
    const timedOut = (scheduledEventId: unknown, attempt: number, failure: ProtoFailure | null | undefined) => {
      const timeoutType = decodeTimeoutType((failure?.timeoutFailureInfo ?? failure?.cause?.timeoutFailureInfo)?.timeoutType);
      if (timeoutType) found.push({ workflowId: wf.workflowId, activityType: types.get(String(scheduledEventId)) ?? 'unknown', attempt, timeoutType });
    };
    for (const event of history.events ?? []) {
      if (event.activityTaskScheduledEventAttributes) types.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? 'unknown');
      const started = event.activityTaskStartedEventAttributes;
      if (started) timedOut(started.scheduledEventId, (started.attempt ?? 1) - 1, started.lastFailure);
      const ended = event.activityTaskTimedOutEventAttributes;
      if (ended) {
        const attempt = history.events?.find((e) => String(e.eventId) === String(ended.startedEventId))?.activityTaskStartedEventAttributes?.attempt ?? 0;
        timedOut(ended.scheduledEventId, attempt, ended.failure);
      }
    }
  }
  return found;
}
