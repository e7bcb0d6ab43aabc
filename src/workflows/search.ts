/**
 * Custom search attributes, so the Temporal UI can list sources and partial cycles
 * (e.g. `LakesyncCycleStatus = "partial"`). They must be registered on the namespace
 * (`lakesync dev` does it); the worker checks, and the workflows only set them when they are.
 */
import { defineSearchAttributeKey, type SearchAttributeUpdatePair } from '@temporalio/common';
import type { CycleStatus } from '../model';

export const SEARCH_ATTRIBUTE_TYPES = { LakesyncSource: 'Keyword', LakesyncCycleStatus: 'Keyword', LakesyncFailedTables: 'Int' } as const;

export const SOURCE_KEY = defineSearchAttributeKey('LakesyncSource', 'KEYWORD');
export const CYCLE_STATUS_KEY = defineSearchAttributeKey('LakesyncCycleStatus', 'KEYWORD');
export const FAILED_TABLES_KEY = defineSearchAttributeKey('LakesyncFailedTables', 'INT');

export function cycleSearchAttributes(source: string, status: CycleStatus | 'running', failedTables: number): SearchAttributeUpdatePair[] {
  return [
    { key: SOURCE_KEY, value: source },
    { key: CYCLE_STATUS_KEY, value: status },
    { key: FAILED_TABLES_KEY, value: failedTables },
  ];
}
