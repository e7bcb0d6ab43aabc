/** All activities of lakesync, built from the worker's dependencies. */
import type { Client } from '@temporalio/client';
import { cycleActivities } from './cycle';
import type { ActivityDeps } from './deps';
import { keepAlive } from './keepalive';
import { loadActivities } from './load';
import { packActivities } from './pack';
import { payloadActivities } from './payloads';
import { publishActivities } from './publish';
import { recoveryActivities } from './recovery';
import { retentionActivities } from './retention';
import { tableExportActivities } from './table-export';
import { triggerActivities } from './trigger';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps, getClient: () => Promise<Client>) {
  return {
    // Short steps heartbeat so that a dead worker is noticed; loads and verification heartbeat themselves.
    ...keepAlive(cycleActivities(deps)),
    ...loadActivities(deps),
    // The start heartbeats itself, with the run it started; the stop of a cancelled pack heartbeats while it runs.
    ...keepAlive(packActivities(deps), ['startPackLoad']),
    ...keepAlive(publishActivities(deps), ['verifyTable']),
    ...recoveryActivities(deps),
    ...keepAlive(retentionActivities(deps)),
    ...keepAlive(tableExportActivities(deps)),
    ...keepAlive(payloadActivities(deps)),
    ...triggerActivities(getClient),
  };
}

export type Activities = ReturnType<typeof createActivities>;
