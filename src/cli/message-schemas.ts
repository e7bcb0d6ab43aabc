/**
 * JSON Schema of the source workflow's public messages (docs/messages.schema.json), written as
 * zod mirrors of the TypeScript types in src/workflows/messages.ts. The `Same<>` checks below
 * fail the build when a mirror and its type drift apart.
 */
import { z } from 'zod';
import type { CycleResult, RequestResult } from '../model';
import type { TriggerInput } from '../workflows/trigger';
import type { RerunAccepted, RerunRequest, SourceStatus, SourceWorkflowInput, SyncAccepted, SyncRequest } from '../workflows/messages';

const tableName = z.string().max(300).describe('A source table as `schema.table`, at most 300 characters');
/** A table a request names: the updates refuse a name without its schema (`orders`), as `isSchemaTable` reads it. */
const requestTableName = tableName.regex(/^[^.]+\.[\s\S]*[^.]$/);

/** A caller's requestId: the updates refuse one of the form r<number>, which the source gives requests sent without one (`reservedRequestIdProblem`). */
const requestId = () => z.string().max(500).regex(/^(?!r[0-9]+$)/);

export const syncRequest = z
  .object({
    tables: z.array(requestTableName).min(1).optional().describe('Only these tables; every included table when absent'),
    requestId: requestId()
      .optional()
      .describe('Your id for this request; the status query lists it in recentCycles[].requestIds once served; the request query (its requestId) answers where it stands: {servedBy: the cycles that served it, running?, queuedAt?, dropped?}. Not of the form r<number> (r1, r2...), which the source gives requests sent without one'),
    requestedBy: z.string().max(500).optional().describe('Who asked, for the record (e.g. a service name)'),
  })
  .meta({ id: 'SyncRequest', description: 'Payload of the `requestSync` signal: a new snapshot and export, then load the tables' });

export const rerunRequest = z
  .object({
    tables: z.union([z.array(requestTableName).min(1), z.literal('failed')]).describe('Tables to load again from the last export, or "failed" for every table whose last load failed'),
    approveDeletes: z.boolean().optional().describe('Let these loads delete more than the safety limit (after a mass delete in the source)'),
    allowOlderExport: z
      .boolean()
      .optional()
      .describe('Let these loads write an export older than the one a lake table holds (a load of an older export is refused otherwise)'),
    rebuild: z.boolean().optional().describe('Replace these tables from the export so new column types apply (arrays kept as text become lists)'),
    requestId: requestId().optional().describe('Your id for this request, as for a sync: not of the form r<number>, which the source gives requests sent without one'),
    requestedBy: z.string().max(500).optional(),
  })
  .meta({ id: 'RerunRequest', description: 'Payload of the `requestRerun` signal and of the `rerun` update: reuse the last export, load only these tables' });

export const syncAccepted = z
  .object({
    requestId: z.string(),
    tables: z.array(tableName).optional().describe('Absent for every table'),
    queuedBehind: z.number().int().describe('Requests ahead of this one when it was queued: at most that many run before it, as some may yet be refused or dropped'),
  })
  .meta({ id: 'SyncAccepted', description: 'Result of the `sync` update' });

export const rerunAccepted = z
  .object({
    requestId: z.string(),
    tables: z.array(tableName),
    queuedBehind: z.number().int().describe('Requests ahead of this one when it was queued: at most that many run before it, as some may yet be refused or dropped'),
  })
  .meta({ id: 'RerunAccepted', description: 'Result of the `rerun` update' });

export const sourceWorkflowInput = z
  .object({
    source: z.string().describe('Source name in lakesync.yaml'),
    syncOnStart: z.boolean().optional().describe('Start with a sync of every table (default true); signal-with-start sends false'),
    payloadInlineBytes: z.number().int().min(1024).max(262144).optional().describe('Payloads above this many bytes (cycle outcomes, the carried state, the status) go by reference or in pages; 1024 to 262144, the default (a start outside the range fails at once)'),
  })
  .meta({ id: 'SourceWorkflowInput', description: 'Input of the source workflow (type `sourceWorkflow`, id `lakesync/<source>`); `{"source": "shop"}` alone starts a sync' });

const tableError = z
  .object({ phase: z.enum(['discover', 'plan', 'export', 'load', 'grant', 'verify']), message: z.string(), type: z.string(), retryable: z.boolean() })
  .meta({ id: 'TableError' });

const costBasis = z
  .enum(['glue', 'modelled', 'none'])
  .describe("glue: Glue's DPU-seconds and the export services' sizes (AWS); modelled: the backend's model (the fake); none: the embedded mode, never priced");

const tableCost = z
  .object({
    basis: costBasis,
    dpuSeconds: z.number().optional().describe('DPU-seconds of the load run'),
    glueUsd: z.number().optional().describe('dpuSeconds at the configured Glue price per DPU-hour'),
    exportGB: z.number().optional().describe("GB of the exports this cycle took for the table (RDS sizeGB, DynamoDB billed bytes); absent when unknown or an earlier cycle's export was reused"),
    exportUsd: z.number().optional().describe('exportGB at the configured export price'),
    partial: z.string().optional().describe('Why the figures are a lower bound: something billed whose figure was not final or not found (a Glue run still going when a dead cycle was read back, runs beyond the job history read)'),
  })
  .meta({ id: 'TableCost', description: "Estimated cost of one table's load in one cycle, at the source's configured prices" });

const costTotals = z
  .object({
    basis: costBasis,
    tables: z.number().int().describe('Tables with a cost'),
    dpuSeconds: z.number().optional(),
    glueUsd: z.number().optional(),
    exportGB: z.number().optional(),
    exportUsd: z.number().optional(),
    usd: z.number().optional().describe('glueUsd + exportUsd'),
    partial: z.number().int().optional().describe("How many of the figures summed are partial (a table's, or the cycle's own export's): the sums are then a lower bound"),
    partialReason: z.string().optional().describe("Why the cycle's own figure is partial (its export's cost, for a cycle that failed as a whole after it): what is left out, and why"),
  })
  .meta({ id: 'CostTotals', description: "A cycle's cost: the sums of its tables' figures (each absent when no table has it). A cycle that failed as a whole after its own RDS export holds that export's GB and price, with tables 0" });

const watermark = z
  .object({
    exportId: z.string().describe('The export the load read; empty for a direct load'),
    snapshotTime: z.string(),
    extract: z.enum(['direct', 'dynamodb']).optional().describe('direct: the last load read the source directly (extract: direct), its watermark is cursorValue; dynamodb: snapshotTime is the DynamoDB export time the table reached'),
    action: z.enum(['create', 'merge', 'replace', 'incremental', 'none']),
    cursorColumn: z.string().nullable(),
    cursorValue: z.string().nullable(),
    icebergSnapshotId: z.string().nullable(),
    rowCount: z.number(),
    schemaHash: z.string(),
    loadedAt: z.string(),
    loadStartedAt: z.string().optional().describe('A direct load: when it started, before it read the source (its freshness lag counts from here)'),
    lastError: z.string().nullable(),
    cost: tableCost.optional().describe('What the load of this commit cost'),
  })
  .meta({ id: 'Watermark', description: 'Ledger entry of one table: what its last committed load produced' });

const snapshotRef = z.object({ snapshotId: z.string(), createdAt: z.string(), adopted: z.boolean() }).meta({ id: 'SnapshotRef' });
const exportRef = z
  .object({ exportId: z.string(), location: z.string().describe('Root of the export files'), snapshotId: z.string(), adopted: z.boolean() })
  .meta({ id: 'ExportRef' });

const cycleStatus = z.enum(['succeeded', 'partial', 'failed']);

const cycleSummary = z
  .object({
    cycleId: z.string(),
    workflowId: z.string(),
    kind: z.enum(['sync', 'rerun']),
    status: cycleStatus,
    requestIds: z.array(z.string()).describe('The requests this cycle served'),
    exportId: z.string().optional(),
    error: z.object({ phase: z.string(), message: z.string() }).optional(),
    counts: z.object({ committed: z.number().int(), failed: z.number().int(), skipped: z.number().int() }),
    startedAt: z.string(),
    finishedAt: z.string(),
    part: z
      .object({ index: z.number().int(), of: z.number().int() })
      .optional()
      .describe('A rerun whose tables come from several exports runs as consecutive cycles, one per export; its request is served once the last part is listed'),
    cost: costTotals.optional().describe("The cycle's cost (lakesync cost)"),
  })
  .meta({ id: 'CycleSummary' });

const tableSummary = z
  .object({
    table: tableName,
    lakeTable: z.string(),
    status: z.enum(['committed', 'failed', 'skipped']),
    action: z.string(),
    error: tableError.optional(),
    reason: z.string().optional(),
    inserted: z.number().optional(),
    updated: z.number().optional(),
    deleted: z.number().optional(),
    changesUnknown: z.literal(true).optional().describe("A recovered commit whose inserted, updated and deleted rows are not known: the counts are absent"),
    verified: z.boolean().optional(),
    nulledValues: z.record(z.string(), z.number()).optional().describe('Values stored as NULL (onInvalid: null), by source column'),
    clampedValues: z.record(z.string(), z.number()).optional().describe('Values clamped to the lake range (onInvalid: clamp), by source column'),
    warnings: z.array(z.string()).optional(),
    cost: tableCost.optional(),
  })
  .meta({ id: 'TableSummary' });

const queuedRequest = z
  .object({
    kind: z.enum(['sync', 'rerun']),
    requestId: z.string(),
    tables: z.array(tableName).optional(),
    approveDeletes: z.boolean(),
    allowOlderExport: z.boolean().optional(),
    rebuild: z.boolean().optional(),
    requestedBy: z.string().optional(),
    failedOnly: z.literal(true).optional().describe('A rerun asked as "failed": served, it reruns only those of its tables that still fail then'),
    approvedExports: z
      .array(z.string())
      .optional()
      .describe("A rerun with approveDeletes: the exports its tables loaded from when it was asked ('' for none, ' new export' when a table took a new export); a part served from another export loads without the approval"),
    askedAs: z
      .literal('rerun')
      .optional()
      .describe('A sync that a rerun signal became before any export: asked as a rerun, so the same rerun sent again is its repeat, and a sync sent with its requestId is another request'),
  })
  .meta({ id: 'QueuedRequest' });

const ignoredRequest = z
  .object({
    kind: z.enum(['sync', 'rerun']),
    requestId: z.string().optional(),
    requestedBy: z.string().optional(),
    reason: z.string(),
    at: z.string(),
    repeat: z.literal(true).optional().describe('A repeat of a request already queued, running or served: that one still runs (or ran)'),
    reusedId: z
      .literal(true)
      .optional()
      .describe('Another request sent with the requestId of one queued, running or served, asking otherwise: the request that first had the id still runs (or ran), so a waiter for that id is not answered by this entry'),
    times: z
      .number()
      .int()
      .optional()
      .describe('How many requests of this sender (requestedBy, or of senders that name none) were dropped for this same reason, counting this one, the newest (its requestId and at); absent for one. They are kept as one entry, so they do not push others out'),
    firstAt: z.string().optional().describe('When the first of them was dropped; set with times'),
    earlierRequestIds: z.array(z.string()).optional().describe('The request ids of the newest of those before this one (newest first, up to 10)'),
  })
  .meta({ id: 'IgnoredRequest', description: 'A request the workflow could not serve and dropped (a signal cannot be refused)' });

const droppedTable = z
  .object({ table: tableName, cycleId: z.string(), exportId: z.string().optional().describe("The export it was missing from; absent when that sync took no RDS export (a DynamoDB source, every table read directly): its tables came from the source's catalog"), at: z.string(), note: z.string() })
  .meta({ id: 'DroppedTable', description: 'A table no longer in the source: it left the failed and the known tables (its lake table and watermark stay)' });

export const sourceStatus = z
  .object({
    source: z.string(),
    phase: z.enum(['idle', 'running']),
    currentCycle: z
      .object({ cycleId: z.string(), workflowId: z.string(), kind: z.enum(['sync', 'rerun']), tables: z.array(tableName).optional(), startedAt: z.string() })
      .optional(),
    queue: z.array(queuedRequest),
    lastCycle: cycleSummary.extend({ tables: z.array(tableSummary) }).optional(),
    recentCycles: z.array(cycleSummary).describe('Newest first; find your requestId here to know your request was served'),
    failed: z.record(
      tableName,
      z.object({
        cycleId: z.string(),
        phase: z.string(),
        message: z.string(),
        exportId: z.string().optional().describe('The export it failed on; a rerun loads it from there'),
        extract: z.enum(['direct', 'dynamodb']).optional().describe('The table is read directly, or from its own DynamoDB exports: its rerun needs no RDS export'),
        newExport: z.literal(true).optional().describe('The export skipped the table: its rerun takes a new snapshot and export'),
      }),
    ),
    ledger: z.record(tableName, watermark),
    lastExport: z
      .object({ cycleId: z.string(), snapshot: snapshotRef, export: exportRef })
      .optional()
      .describe('The newest snapshot and export; a rerun reuses it for tables without an export of their own'),
    ignoredRequests: z.array(ignoredRequest).describe('Newest first, the last 20'),
    droppedTables: z.array(droppedTable).describe('Newest first, the last 50'),
    stateNotStored: z
      .object({ message: z.string(), at: z.string(), retryAt: z.string() })
      .optional()
      .describe('Set while the state could not be stored to continue as new: the run keeps it, serves requests, and tries again at retryAt'),
    paged: z
      .array(z.enum(['ledger', 'failed', 'lastCycleTables', 'queue', 'currentCycleTables', 'requestIds', 'ignoredRequests', 'droppedTables']))
      .optional()
      .describe('Parts left out (empty; a paged queue keeps its requests with empty lists of tables, or none when even they are too large (queued counts them), paged requestIds leave the recent and last cycles with empty requestIds, a paged currentCycleTables leaves the current cycle with an empty list of tables) because the answer would be too large: read them with the statusPage query ({part, offset} -> {part, entries, next?, total})'),
    queued: z.number().int().optional().describe('Set when the queue itself was too large for the answer (then empty, its requests read with the statusPage query): how many requests are queued'),
  })
  .meta({ id: 'SourceStatus', description: 'Result of the `status` query' });

export const triggerInput = z
  .object({
    source: z.string(),
    taskQueue: z.string().describe('Task queue of the source workflow'),
    rerun: rerunRequest.optional(),
    sync: syncRequest.optional(),
  })
  .meta({ id: 'TriggerInput', description: 'Input of the trigger workflow (type `triggerWorkflow`) that Schedules start; it signals-with-start the source workflow' });

const loadAction = z.enum(['create', 'merge', 'replace', 'incremental']);

const tableOutcome = z
  .object({
    table: tableName,
    lakeTable: z.string(),
    action: z.union([loadAction, z.literal('skip')]),
    extract: z.enum(['direct', 'dynamodb']).optional().describe('direct: read from the source over JDBC (no export lineage); dynamodb: from its own DynamoDB exports; absent: from the RDS export'),
    status: z.enum(['committed', 'failed', 'skipped']),
    reason: z.string().optional(),
    error: tableError.optional(),
    load: z
      .object({
        action: z.union([loadAction, z.literal('none')]),
        committed: z.boolean(),
        rowsRead: z.number(),
        inserted: z.number(),
        updated: z.number(),
        deleted: z.number(),
        rowCountAfter: z.number(),
        cursorColumn: z.string().nullable(),
        cursorValueAfter: z.string().nullable(),
        snapshotId: z.string().nullable(),
        schemaHash: z.string(),
        startedAt: z.string().optional().describe('A direct load: when it started, before it read the source'),
        finishedAt: z.string(),
        nulledValues: z.record(z.string(), z.number()).optional(),
        clampedValues: z.record(z.string(), z.number()).optional(),
        warnings: z.array(z.string()).optional(),
        extract: z.enum(['direct', 'dynamodb']).optional(),
        window: z
          .object({ from: z.string().nullable(), to: z.string().nullable(), partitions: z.number(), estimatedRows: z.number() })
          .optional()
          .describe("A direct load's cursor window (from is null on create); cursorValueAfter is its upper bound"),
        dynamodb: z
          .object({ exportIds: z.array(z.string()), from: z.string().nullable(), to: z.string(), records: z.number() })
          .optional()
          .describe('A DynamoDB load: the exports it read, oldest first (from is null for a full export); to is the export time the table reached'),
        changesUnknown: z
          .literal(true)
          .optional()
          .describe("A dead cycle's commit whose load result is missing and whose lake commit does not tell them: inserted, updated and deleted are unknown (0 here), as the outcome's reason says"),
      })
      .optional(),
    verified: z.boolean().optional(),
    cost: tableCost.optional(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
  })
  .meta({ id: 'TableOutcome' });

export const cycleResult = z
  .object({
    cycleId: z.string(),
    source: z.string(),
    status: cycleStatus,
    snapshot: snapshotRef.optional(),
    export: exportRef.optional(),
    error: z.object({ phase: z.string(), message: z.string() }).optional(),
    tables: z.array(tableOutcome),
    warnings: z.array(z.string()),
    startedAt: z.string(),
    finishedAt: z.string(),
    searchAttributes: z.boolean().optional().describe('Whether the cycle kept the lakesync search attributes current'),
    cost: costTotals.optional().describe("The sums of the tables' costs"),
    tablesRef: z
      .object({
        parts: z.array(z.string()),
        bytes: z.number(),
        count: z.number(),
        counts: z.object({ committed: z.number(), failed: z.number(), skipped: z.number() }),
        failedTables: z.array(tableName).describe('The first 100 failed tables; counts.failed is how many failed'),
      })
      .optional()
      .describe("A large cycle's outcomes, stored as text parts in the manifest store (tables is then empty); the cycle workflow's tablesPage query pages them"),
  })
  .meta({ id: 'CycleResult', description: 'Result of a cycle workflow; what `lakesync sync --wait --json` prints' });

const requestResult = cycleResult
  .extend({ parts: z.array(cycleResult).describe("Every cycle's own result, oldest first") })
  .meta({
    id: 'RequestResult',
    description:
      'What `lakesync rerun --wait --json` prints for a rerun that ran as several cycles (one per export): each table\'s outcome from the part that loaded it, status succeeded only when every part did, the summed cost, and every part in parts',
  });

/** Compile-time: the mirror and the type are the same type (same fields, optional or not, at every depth). */
type Deep<T> = T extends (infer U)[] ? Deep<U>[] : T extends object ? { [K in keyof T]: Deep<T[K]> } : T;
type Same<A, B> = (<T>() => T extends Deep<A> ? 1 : 2) extends <T>() => T extends Deep<B> ? 1 : 2 ? true : false;
const mirrorsMatch: [
  Same<z.infer<typeof syncRequest>, SyncRequest>,
  Same<z.infer<typeof rerunRequest>, RerunRequest>,
  Same<z.infer<typeof rerunAccepted>, RerunAccepted>,
  Same<z.infer<typeof syncAccepted>, SyncAccepted>,
  Same<z.infer<typeof sourceWorkflowInput>, Omit<SourceWorkflowInput, 'state' | 'stateRef' | 'staleStateRefs'>>,
  Same<z.infer<typeof sourceStatus>, SourceStatus>,
  Same<z.infer<typeof triggerInput>, TriggerInput>,
  Same<z.infer<typeof cycleResult>, CycleResult>,
  Same<z.infer<typeof requestResult>, RequestResult>,
] = [true, true, true, true, true, true, true, true, true];
void mirrorsMatch;

/** The documented messages: name -> payload schema ids. */
export const MESSAGES = {
  workflows: {
    sourceWorkflow: { id: 'lakesync/<source>', input: 'SourceWorkflowInput' },
    triggerWorkflow: { id: 'chosen by the caller (Schedules: lakesync/<source>/trigger-<name>-<time>)', input: 'TriggerInput' },
    cycleWorkflow: { id: 'lakesync/<source>/cycle-<cycleId>', result: 'CycleResult' },
  },
  signals: { requestSync: 'SyncRequest', requestRerun: 'RerunRequest' },
  updates: { sync: { input: 'SyncRequest', result: 'SyncAccepted' }, rerun: { input: 'RerunRequest', result: 'RerunAccepted' } },
  queries: { status: { result: 'SourceStatus' } },
} as const;

export const MESSAGE_SCHEMAS = { sourceWorkflowInput, syncRequest, syncAccepted, rerunRequest, rerunAccepted, sourceStatus, triggerInput, cycleResult, requestResult };
