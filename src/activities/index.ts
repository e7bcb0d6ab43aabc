/** All activities of lakesync, built from the worker's dependencies. */
import type { Client } from '@temporalio/client';
import { cycleActivities } from './cycle';
import type { ActivityDeps } from './deps';
import { loadActivities } from './load';
import { publishActivities } from './publish';
import { recoveryActivities } from './recovery';
import { triggerActivities } from './trigger';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps, getClient: () => Promise<Client>) {
  return {
    ...cycleActivities(deps),
    ...loadActivities(deps),
    ...publishActivities(deps),
    ...recoveryActivities(deps),
    ...triggerActivities(getClient),
  };
}

export type Activities = ReturnType<typeof createActivities>;
