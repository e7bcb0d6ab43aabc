/**
 * Readers of the answers a workflow gives in pages when they would be too large for one payload:
 * the source's status (ledger, failed tables, last cycle's tables, the queue's and the running
 * cycle's tables, the recent cycles' request ids) and a cycle's table outcomes
 * stored by reference. Each returns the whole document, as it was before pages existed.
 */
import type { QueryDefinition } from '@temporalio/common';
import type { CycleResult, TableOutcome } from './model';
import { cycleTablesPageQuery, type QueuedRequest, requestQuery, type RequestStanding, type SourceStatus, STATE_LOADING, type StatusPage, type StatusPart, statusPageQuery, statusQuery } from './workflows/messages';

/** What the readers need of a workflow handle. */
export interface Queryable {
  query<Ret, Args extends unknown[]>(def: QueryDefinition<Ret, Args>, ...args: Args): Promise<Ret>;
}

/** How many times a part is read again from its first page when it changed while read. */
const PAGE_READ_ATTEMPTS = 5;

/**
 * A page loop that stops on a page that does not move forward, so a changed answer cannot loop
 * forever. Pages that carry revisions of their list are read again from the first one when the
 * revision changes between them (the list changed: an entry would be read twice, or missed).
 */
async function allPages<T>(what: string, page: (offset: number) => Promise<{ entries: T[]; next?: number; total: number; revision?: string }>): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    const out: T[] = [];
    let offset = 0;
    let revision: string | undefined;
    let changed = false;
    for (;;) {
      const p = await page(offset);
      if (offset === 0) revision = p.revision;
      else if (p.revision !== revision) {
        changed = true;
        break;
      }
      out.push(...p.entries);
      if (p.next === undefined) return out;
      if (p.next <= offset) throw new Error(`${what}: page at ${offset} did not advance (next ${p.next}); the workflow answered inconsistently`);
      offset = p.next;
    }
    if (changed && attempt >= PAGE_READ_ATTEMPTS) {
      throw new Error(`${what}: changed while read in pages, ${attempt} times; read the status again (requests or cycles changed the source's state between the pages)`);
    }
  }
}

/** How long a reader waits for a new run to read the state carried over by reference. */
const LOADING_WAIT_MS = 30_000;

/** Runs `read` again while a run that just continued as new reads its carried state (up to LOADING_WAIT_MS). */
async function askedAgainWhileLoading<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOADING_WAIT_MS;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!String((err as Error)?.message).includes(STATE_LOADING) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The status of a source workflow in one query: its queue, current and recent cycles, but not
 * the parts a large source answers in pages (`paged` names them). For callers that poll.
 */
export async function readStatusSummary(handle: Queryable, options: { requestIds?: boolean } = {}): Promise<SourceStatus> {
  return askedAgainWhileLoading(async () => {
    const status = await handle.query(statusQuery);
    // A waiter looks its request id up in the recent cycles and the dropped requests: those parts, when paged, are read (only they).
    const wanted: StatusPart[] = options.requestIds ? (['requestIds', 'ignoredRequests'] as const).filter((p) => status.paged?.includes(p)) : [];
    if (wanted.length === 0) return status;
    const filled: SourceStatus = { ...status, paged: status.paged!.filter((p) => !wanted.includes(p)) };
    if (filled.paged!.length === 0) delete filled.paged;
    for (const part of wanted) await fillPart(handle, filled, part);
    return filled;
  });
}

/**
 * Where one request stands, in one small query; null when the worker does not know the `request`
 * query (it runs a version from before it): the caller then reads the status.
 */
export async function readRequestStanding(handle: Queryable, requestId: string): Promise<RequestStanding | null> {
  return askedAgainWhileLoading(async () => {
    try {
      return await handle.query(requestQuery, requestId);
    } catch (err) {
      if (queryNotKnown(err, requestQuery.name)) return null;
      throw err;
    }
  });
}

/**
 * The failure of a query the workflow registered no handler for, in the worker's words. (The
 * client names every failed query QueryNotRegisteredError, a handler's own failure too: the name
 * does not tell.)
 */
function queryNotKnown(err: unknown, name: string): boolean {
  return String((err as Error | undefined)?.message).includes(`did not register a handler for ${name}.`);
}

/** The whole status of a source workflow: the parts it left out are read page by page (all again if a new run starts meanwhile). */
export async function readSourceStatus(handle: Queryable): Promise<SourceStatus> {
  return askedAgainWhileLoading(async () => {
    const status = await handle.query(statusQuery);
    const paged = status.paged ?? [];
    if (paged.length === 0) return status;
    const whole: SourceStatus = { ...status };
    delete whole.paged;
    delete whole.queued;
    for (const part of paged) await fillPart(handle, whole, part);
    return whole;
  });
}

async function fillPart(handle: Queryable, status: SourceStatus, part: StatusPart): Promise<void> {
  const page = (offset: number) => handle.query(statusPageQuery, { part, offset });
  if (part === 'ledger') {
    status.ledger = Object.fromEntries(await allPages('status ledger', async (o) => onlyPart(await page(o), 'ledger')));
  } else if (part === 'failed') {
    status.failed = Object.fromEntries(await allPages('status failed tables', async (o) => onlyPart(await page(o), 'failed')));
  } else if (part === 'queue') {
    // A request whose tables did not fit in one page came in several entries: its tables are joined again.
    const queue: QueuedRequest[] = [];
    for (const { tablesContinued, ...entry } of await allPages('status queue', async (o) => onlyPart(await page(o), 'queue'))) {
      const before = queue[queue.length - 1];
      if (tablesContinued && before?.requestId === entry.requestId && before.kind === entry.kind) before.tables = [...(before.tables ?? []), ...(entry.tables ?? [])];
      else queue.push(entry);
    }
    status.queue = queue;
  } else if (part === 'currentCycleTables' && status.currentCycle) {
    status.currentCycle = { ...status.currentCycle, tables: await allPages('status current cycle tables', async (o) => onlyPart(await page(o), 'currentCycleTables')) };
  } else if (part === 'ignoredRequests') {
    status.ignoredRequests = await allPages('status dropped requests', async (o) => onlyPart(await page(o), 'ignoredRequests'));
  } else if (part === 'droppedTables') {
    status.droppedTables = await allPages('status dropped tables', async (o) => onlyPart(await page(o), 'droppedTables'));
  } else if (part === 'requestIds') {
    // A cycle recorded between two pages shifts the entries: an id read twice is kept once.
    const served = new Map<string, Set<string>>();
    for (const [cycleId, requestId] of await allPages('status request ids', async (o) => onlyPart(await page(o), 'requestIds'))) {
      served.set(cycleId, (served.get(cycleId) ?? new Set()).add(requestId));
    }
    const idsOf = (cycleId: string) => [...(served.get(cycleId) ?? [])];
    status.recentCycles = status.recentCycles.map((c) => ({ ...c, requestIds: idsOf(c.cycleId) }));
    if (status.lastCycle) status.lastCycle = { ...status.lastCycle, requestIds: idsOf(status.lastCycle.cycleId) };
  } else if (part === 'lastCycleTables' && status.lastCycle) {
    status.lastCycle = { ...status.lastCycle, tables: await allPages('status last cycle tables', async (o) => onlyPart(await page(o), 'lastCycleTables')) };
  }
}

function onlyPart<P extends StatusPart>(page: StatusPage, part: P): Extract<StatusPage, { part: P }> {
  if (page.part !== part) throw new Error(`statusPage answered part ${page.part} to a request for ${part}`);
  return page as Extract<StatusPage, { part: P }>;
}

/**
 * The result of a finished cycle with its table outcomes: a result that holds them by reference
 * is completed from the cycle workflow's tablesPage query (answered by a worker replaying it).
 */
export async function withCycleTables(handle: Queryable, result: CycleResult): Promise<CycleResult> {
  if (!result.tablesRef) return result;
  const tables: TableOutcome[] = await allPages(`tables of cycle ${result.cycleId}`, (offset) => handle.query(cycleTablesPageQuery, offset));
  if (tables.length !== result.tablesRef.count) throw new Error(`cycle ${result.cycleId} answered ${tables.length} table outcomes, its result counts ${result.tablesRef.count}`);
  return { ...result, tables };
}
