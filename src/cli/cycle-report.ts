/** After `sync --wait` and `rerun --wait`: wait for the cycle that served the request, print it, pick the exit code. */
import { costText, sumTotals } from '../cost/report';
import { NOT_REQUESTED } from '../plan';
import type { CycleResult, RequestResult } from '../model';
import { cycleWorkflowId } from '../ids';
import { withCycleTables } from '../status-pages';
import type { CycleSummary } from '../workflows/messages';
import { type Connected, sourceRequestStanding, sourceStatusSummary, withQueryDeadline } from './context';
import { EXIT_FAILED, EXIT_OK } from './errors';
import { columns, rowsText, shown, valueChangesText } from './format';
import { type CliIO, printJson, printLine } from './io';
import { UiLinks } from './links';
import { cycleLine } from './render-status';
import { visibilityQueries } from './search-attributes';
import { cycleResult, type WaitOptions, type WaitProgress, waitForRequest } from './wait';

/** `sent`: how the request reached the source: accepted by its update, or signalled to a run (WaitOptions). */
export async function waitAndReport(conn: Connected, io: CliIO, source: string, requestId: string, json: boolean, sent: Pick<WaitOptions, 'accepted' | 'signaledRunId'>): Promise<number> {
  let announced = '';
  const summary = await waitForRequest(conn, source, requestId, {
    ...sent,
    onStatus: (progress) => {
      if (json) return;
      const line = waitLine(progress);
      if (line !== announced) io.stderr.write(`${line}...\n`);
      announced = line;
    },
  });
  // A rerun split by export ran as several cycles: every part's tables, errors and cost are the answer.
  const earlierParts = summary.part ? await earlierPartsOf(conn, source, requestId, summary) : [];
  const parts = [...earlierParts, summary];
  const results: CycleResult[] = [];
  for (const part of parts) results.push(await cycleResult(conn, source, part));
  const succeeded = results.every((r) => r.status === 'succeeded');
  const links = UiLinks.for(conn.target, io.env);
  if (json) {
    printJson(io.stdout, results.length === 1 ? results[0] : requestResult(results));
  } else {
    parts.forEach((part, i) => {
      printLine(io.stdout, cycleLine(part));
      printCycleTables(io, results[i]!);
      const cycleLink = links.workflow(part.workflowId);
      if (cycleLink) printLine(io.stdout, `cycle: ${cycleLink}`);
    });
    if (results.length > 1) {
      const cost = sumTotals(results.flatMap((r) => (r.cost ? [r.cost] : [])));
      if (cost) printLine(io.stdout, `cost of the ${results.length} parts: ${costText(cost)}`);
    }
    if (results.some((r) => r.status === 'partial')) {
      const partial = links.list(visibilityQueries.partialCycles(source));
      if (partial) printLine(io.stdout, `partial cycles: ${partial}`);
    }
    if (!succeeded) printLine(io.stdout, nextStep(source, parts));
  }
  return succeeded ? EXIT_OK : EXIT_FAILED;
}

/**
 * Where the request stands, for the waiter: served by the running cycle, or queued behind it and
 * the requests ahead (its own place is not one of them).
 */
export function waitLine(progress: WaitProgress): string {
  const cycle = progress.currentCycle;
  const running = cycle ? `cycle ${cycle.cycleId} (${cycle.kind})` : undefined;
  if (running && progress.serving) return `running ${running}`;
  if (progress.ahead !== undefined) {
    const ahead = `${progress.ahead} request(s)`;
    return running ? `queued behind running ${running}${progress.ahead ? ` and ${ahead}` : ''}` : progress.ahead ? `queued behind ${ahead}` : 'queued next';
  }
  // A worker from before the request query, or a queue too large to read: what runs and how many wait.
  if (running) return `running ${running}${progress.queued ? `, ${progress.queued} request(s) queued` : ''}`;
  return progress.queued ? `${progress.queued} request(s) queued` : 'waiting';
}

/**
 * The result of a request served by several cycles (a rerun, one part per export), as one
 * CycleResult: each table's outcome from the part that loaded it, the status of the whole
 * request (succeeded only when every part did), the summed cost, and every part's own result in `parts`.
 */
export function requestResult(results: CycleResult[]): RequestResult {
  const last = results[results.length - 1]!;
  const tables = new Map<string, CycleResult['tables'][number]>();
  for (const r of results) {
    for (const t of r.tables) {
      const seen = tables.get(t.table);
      if (!seen || (seen.status === 'skipped' && seen.reason === NOT_REQUESTED)) tables.set(t.table, t);
    }
  }
  const status = results.every((r) => r.status === 'succeeded') ? 'succeeded' : results.every((r) => r.status === 'failed') ? 'failed' : 'partial';
  const error = [...results].reverse().find((r) => r.error)?.error;
  const cost = sumTotals(results.flatMap((r) => (r.cost ? [r.cost] : [])));
  const { error: _lastError, cost: _lastCost, tablesRef: _lastRef, ...rest } = last;
  return {
    ...rest,
    status,
    ...(error ? { error } : {}),
    tables: [...tables.values()],
    warnings: results.flatMap((r) => r.warnings),
    startedAt: results[0]!.startedAt,
    ...(cost ? { cost } : {}),
    parts: results,
  };
}

/**
 * What to do after a cycle that did not succeed: rerun the tables that failed; when none did (the
 * cycle failed before its tables, e.g. at the snapshot), `rerun --failed` has nothing to rerun.
 */
function nextStep(source: string, cycles: CycleSummary[]): string {
  if (cycles.some((c) => c.counts.failed > 0)) return `rerun the failed tables with: lakesync rerun ${source} --failed`;
  return `no table failed on its own: fix the cycle error above, then sync again with: lakesync sync ${source}`;
}

/**
 * The cycles that served a rerun's earlier parts (one per export), oldest first: from the source's
 * recent cycles that served the request (the `request` query; the status's, from a worker that
 * does not know it), and, for the parts newer cycles pushed out of them (the source keeps twenty),
 * from their cycle workflows.
 */
async function earlierPartsOf(conn: Connected, source: string, requestId: string, last: CycleSummary): Promise<CycleSummary[]> {
  const { index, of } = last.part!;
  const standing = await sourceRequestStanding(conn, source, requestId);
  const served = standing ? standing.servedBy : ((await sourceStatusSummary(conn, source, { requestIds: true }))?.recentCycles ?? []);
  const byIndex = new Map<number, CycleSummary>();
  for (const c of served) if (c.cycleId !== last.cycleId && c.requestIds.includes(requestId) && c.part?.of === of && c.part.index < index) byIndex.set(c.part.index, c);
  const parts: CycleSummary[] = [];
  for (let i = 1; i < index; i++) parts.push(byIndex.get(i) ?? (await pushedOutPart(conn, source, requestId, last, i)));
  return parts;
}

/**
 * An earlier part of the rerun that newer cycles pushed out of the source's recent cycles, from its
 * cycle workflow: the parts run one after another, so its cycle number is the last part's less the
 * parts between them. Unreadable, it is a failed part saying so: the request is not reported as succeeded.
 */
async function pushedOutPart(conn: Connected, source: string, requestId: string, last: CycleSummary, index: number): Promise<CycleSummary> {
  const of = last.part!.of;
  const key = /^(\d+)-(.+)$/.exec(last.cycleId);
  const cycleId = key ? `${Number(key[1]) - (last.part!.index - index)}-${key[2]}` : `part ${index} of ${last.cycleId}`;
  const workflowId = cycleWorkflowId(source, cycleId);
  const base = { cycleId, workflowId, kind: last.kind, requestIds: [requestId], part: { index, of } };
  let why: string;
  try {
    const result = await withQueryDeadline(conn.client, `result of ${workflowId}`, conn.target, async () => {
      const handle = conn.client.workflow.getHandle(workflowId);
      return withCycleTables(handle, (await handle.result()) as CycleResult);
    });
    if (key && result.cycleId === cycleId) {
      const count = (status: string) => result.tables.filter((t) => t.status === status).length;
      return {
        ...base,
        status: result.status,
        ...(result.export ? { exportId: result.export.exportId } : {}),
        ...(result.error ? { error: result.error } : {}),
        counts: { committed: count('committed'), failed: count('failed'), skipped: count('skipped') },
        startedAt: result.startedAt,
        finishedAt: result.finishedAt,
        ...(result.cost ? { cost: result.cost } : {}),
      };
    }
    why = `it answered cycle ${result.cycleId}`;
  } catch (err) {
    why = err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err);
  }
  return {
    ...base,
    status: 'failed',
    error: { phase: 'cycle', message: `part ${index} of ${of} of request ${requestId} is no longer among the source's recent cycles, and the result of its cycle workflow ${workflowId} could not be read (${why}): its outcome is unknown; look the workflow up in the Temporal UI` },
    counts: { committed: 0, failed: 0, skipped: 0 },
    startedAt: '?',
    finishedAt: '?',
  };
}

function printCycleTables(io: CliIO, result: CycleResult): void {
  for (const line of cycleTableLines(result)) printLine(io.stdout, line);
}

/**
 * Every table's outcome with its cost (a COST column when any table has one, and the cycle's
 * total), the values column policies changed, and the warnings of the cycle and of each load.
 */
export function cycleTableLines(result: CycleResult): string[] {
  const lines: string[] = [];
  if (result.error) lines.push(`cycle error in ${result.error.phase}: ${shown(result.error.message)}`);
  if (result.tables.length === 0) return lines;
  const costed = result.tables.some((t) => t.cost);
  const rows = result.tables.map((t) => [
    t.table,
    t.status,
    t.load?.action ?? t.action,
    t.load ? rowsText(t.load) : '',
    ...(costed ? [t.cost ? costText(t.cost) : ''] : []),
    t.error ? `[${t.error.phase}] ${t.error.message}` : t.status === 'skipped' ? (t.reason ?? '') : '',
  ]);
  lines.push(...columns(['TABLE', 'STATUS', 'ACTION', 'ROWS', ...(costed ? ['COST'] : []), 'ERROR'], rows));
  if (result.cost) lines.push(`cycle cost: ${costText(result.cost)}`);
  for (const t of result.tables) {
    const changed = t.load ? valueChangesText(t.load) : '';
    if (changed) lines.push(`${shown(t.table)}: ${changed}`);
    // A direct load read the source by a cursor window: its bounds are the new watermark.
    const w = t.load?.window;
    // Its bounds are source values (a text cursor may hold anything): shown escaped, as the table name.
    if (w) lines.push(shown(`${t.table}: read directly, ${t.load!.cursorColumn ?? 'cursor'} ${w.from === null ? 'up to' : `from ${w.from} to`} ${w.to ?? '(empty table)'} in ${w.partitions} partition(s), ${t.load!.rowsRead} row(s) read`));
    const d = t.load?.dynamodb;
    if (d) lines.push(`${shown(t.table)}: ${d.exportIds.length} DynamoDB export(s), ${d.from === null ? `full at ${d.to}` : `changes from ${d.from} to ${d.to}`}, ${d.records} record(s)`);
  }
  for (const w of result.warnings) lines.push(`warning: ${shown(w)}`);
  for (const t of result.tables) for (const w of t.load?.warnings ?? []) lines.push(`warning: ${shown(t.table)}: ${shown(w)}`);
  return lines;
}
