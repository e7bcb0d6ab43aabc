/**
 * The payloads a workflow history holds, measured: every Payloads message (activity input and
 * result, child input and result, continue-as-new input, update and signal arguments, markers)
 * with its size in bytes (data plus metadata), as Temporal counts it against its blob limits.
 */
import assert from 'node:assert/strict';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { type CycleTablesPage, cycleTablesPageQuery, type StatusPage, statusPageQuery } from '../../src/workflows/messages';

export interface PayloadSize {
  workflowId: string;
  runId: string;
  eventId: number;
  /** The event type and the field path, e.g. ACTIVITY_TASK_COMPLETED result. */
  where: string;
  bytes: number;
}

interface PayloadLike {
  data?: Uint8Array | null;
  metadata?: Record<string, Uint8Array> | null;
}

function payloadBytes(p: PayloadLike): number {
  let bytes = p.data?.length ?? 0;
  for (const [k, v] of Object.entries(p.metadata ?? {})) bytes += k.length + (v?.length ?? 0);
  return bytes;
}

function isPayload(v: unknown): v is PayloadLike {
  return typeof v === 'object' && v !== null && 'data' in v && (v as PayloadLike).data instanceof Uint8Array;
}

/** Every Payloads message (or lone Payload) under `node`, with its path. */
function collect(node: unknown, path: string, out: { path: string; bytes: number }[]): void {
  if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
  if (Array.isArray(node)) {
    node.forEach((n, i) => collect(n, `${path}[${i}]`, out));
    return;
  }
  const record = node as Record<string, unknown>;
  if (Array.isArray(record.payloads) && record.payloads.every(isPayload)) {
    out.push({ path, bytes: (record.payloads as PayloadLike[]).reduce((n, p) => n + payloadBytes(p), 0) });
    return;
  }
  if (isPayload(node)) {
    out.push({ path, bytes: payloadBytes(node) });
    return;
  }
  for (const [k, v] of Object.entries(record)) collect(v, path ? `${path}.${k}` : k, out);
}

const EVENT_TYPES: Record<number, string> = {};

function eventType(type: unknown): string {
  if (typeof type === 'string') return type;
  return EVENT_TYPES[type as number] ?? `event type ${String(type)}`;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<Client['workflowService']['getWorkflowExecutionHistory']>>['history']>['events'] extends (infer E)[] | null | undefined ? E : never;

/** A run's events, fetched in small pages: one page of a large history can exceed gRPC's 4 MB message limit (8 events of at most 512 KB each stay under it). */
export async function historyEvents(client: Client, workflowId: string, runId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution: { workflowId, runId }, maximumPageSize: 8, ...(nextPageToken ? { nextPageToken } : {}) });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** The payloads of every run of the workflows whose id starts with `prefix`. */
export async function historyPayloadSizes(client: Client, prefix: string): Promise<PayloadSize[]> {
  if (Object.keys(EVENT_TYPES).length === 0) {
    const { temporal } = await import('@temporalio/proto');
    for (const [name, value] of Object.entries(temporal.api.enums.v1.EventType)) if (typeof value === 'number') EVENT_TYPES[value] = name.replace(/^EVENT_TYPE_/, '');
  }
  const sizes: PayloadSize[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) {
    const events = await historyEvents(client, wf.workflowId, wf.runId);
    // Activity events name their activity (a completion by its scheduled event).
    const activityOf = new Map<number, string>();
    for (const event of events) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name) activityOf.set(Number(event.eventId), scheduled.activityType.name);
      const done = event.activityTaskCompletedEventAttributes;
      const activity = scheduled?.activityType?.name ?? (done ? activityOf.get(Number(done.scheduledEventId)) : undefined);
      const found: { path: string; bytes: number }[] = [];
      collect({ ...event, eventType: undefined }, '', found);
      for (const f of found) {
        const where = `${eventType(event.eventType)}${activity ? ` (${activity})` : ''} ${f.path}`;
        sizes.push({ workflowId: wf.workflowId, runId: wf.runId, eventId: Number(event.eventId), where, bytes: f.bytes });
      }
    }
  }
  return sizes.sort((a, b) => b.bytes - a.bytes);
}

/** The bytes of `value` as JSON: how a query's answer is measured as the client receives it. */
export function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** Asserts that every page of the source's paged status answers (ledger, failed tables, last cycle's tables) is at most `limit` bytes. */
export async function assertStatusPagesWithin(source: WorkflowHandle, limit: number): Promise<void> {
  for (const part of ['ledger', 'failed', 'lastCycleTables'] as const) {
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page: StatusPage = await source.query(statusPageQuery, { part, offset });
      assert.ok(jsonSize(page) <= limit, `statusPage ${part}@${offset}: ${jsonSize(page)} bytes`);
      offset = page.next;
    }
  }
}

/** Asserts that every page of a cycle's tables answer is at most `limit` bytes. */
export async function assertCycleTablesPagesWithin(cycle: WorkflowHandle, limit: number): Promise<void> {
  for (let offset: number | undefined = 0; offset !== undefined; ) {
    const page: CycleTablesPage = await cycle.query(cycleTablesPageQuery, offset);
    assert.ok(jsonSize(page) <= limit, `tablesPage@${offset}: ${jsonSize(page)} bytes`);
    offset = page.next;
  }
}
