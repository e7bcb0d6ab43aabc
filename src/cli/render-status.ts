/**
 * Renders a StatusView: a static report, a terminal frame with progress bars (redrawn in place),
 * or plain lines that print only what changed (logs, CI, pipes).
 */
import { costText } from '../cost/report';
import type { CycleSummary } from '../workflows/messages';
import { bar, columns, duration, rowsText, shown, valueChangesText } from './format';
import type { StatusView, TableRow } from './progress';

/** How far along a table is, by its state, for its bar. */
const STATE_FRACTION: Record<string, number> = { pending: 0, loading: 0.35, granting: 0.7, verifying: 0.85, committed: 1, failed: 1, skipped: 1 };

export function cycleLine(c: CycleSummary): string {
  const counts = `${c.counts.committed} committed, ${c.counts.failed} failed, ${c.counts.skipped} skipped`;
  const error = c.error ? ` - ${c.error.phase}: ${shown(c.error.message)}` : '';
  return `cycle ${c.cycleId} (${c.kind}) ${c.status}: ${counts} [${c.startedAt} -> ${c.finishedAt}]${error}`;
}

/**
 * The earlier parts of the last cycle, oldest first, when it is the last part of a rerun that ran
 * as several cycles (one per export): the request succeeded only if they did too.
 */
export function earlierParts(status: { lastCycle?: CycleSummary; recentCycles?: CycleSummary[] } | undefined): CycleSummary[] {
  const last = status?.lastCycle;
  if (!last?.part || last.part.index <= 1) return [];
  const requests = new Set(last.requestIds);
  return (status?.recentCycles ?? [])
    .filter((c) => c.cycleId !== last.cycleId && c.part && c.part.of === last.part!.of && c.part.index < last.part!.index && c.requestIds.some((id) => requests.has(id)))
    .reverse();
}

function headline(view: StatusView): string {
  if (view.phase === 'absent' && view.ended) {
    return `${view.source}: the source workflow ${view.workflowId} ended (${view.ended.status}${view.ended.at ? ` at ${view.ended.at}` : ''}): no sync runs until it is started again: lakesync sync ${view.source}`;
  }
  if (view.phase === 'absent') return `${view.source}: no source workflow (${view.workflowId}) runs yet: start one with "lakesync sync ${view.source}"`;
  if (view.phase === 'idle') return `${view.source}: idle${view.queued ? `, ${view.queued} request(s) queued` : ''}`;
  const c = view.cycle!;
  const exportPart = c.phase === 'export' && c.exportPercent !== undefined ? ` ${c.exportPercent}%` : '';
  return `${view.source}: running cycle ${c.cycleId} (${c.kind}), phase ${c.phase}${exportPart}, ${c.done + c.failed}/${c.tables} tables (${c.failed} failed), ${duration(c.elapsedMs)}`;
}

function tableCells(t: TableRow): string[] {
  return [t.table, t.state, t.runState ?? '', rowsText(t.rows), duration(t.elapsedMs), t.error ?? ''];
}

const HEADER = ['TABLE', 'PHASE', 'RUN', 'ROWS', 'ELAPSED', 'ERROR'];

/** The one-shot report of `lakesync status`. */
export interface StatusLinks {
  workflow?: string;
  cycle?: string;
  partial?: string;
  /** AWS: the Glue console page of each running table's job run, and the Athena console. */
  runs?: Record<string, string>;
  athena?: string;
}

export function statusReport(view: StatusView, links: StatusLinks): string[] {
  const lines = [headline(view)];
  const last = view.status?.lastCycle;
  if (view.phase === 'idle' && last) {
    lines.push(`last ${cycleLine(last)}`);
    // A rerun in several parts: its earlier parts' outcomes are the request's too.
    const parts = earlierParts(view.status);
    for (const p of parts) lines.push(`  part ${p.part!.index} of ${p.part!.of}: ${cycleLine(p)}`);
    // Parts pushed out of the recent cycles are not read here (a status would read each cycle workflow): they are named, not left out silently.
    const gone = last.part ? last.part.index - 1 - parts.length : 0;
    if (gone > 0) {
      lines.push(`  ${gone === 1 ? '1 earlier part is' : `${gone} earlier parts are`} no longer among the source's recent cycles: their failed tables are among the failed tables below, each part's outcome in its cycle workflow`);
    }
  }
  if (last?.cost) lines.push(`last cycle cost: ${costText(last.cost)} ("lakesync cost ${view.source}" for more)`);
  if (view.tables.length > 0) lines.push('', ...columns(HEADER, view.tables.map(tableCells)));
  const notes = (last?.tables ?? []).flatMap((t) => [
    ...(valueChangesText(t) ? [`  ${shown(t.table)}: ${shown(valueChangesText(t))}`] : []),
    ...(t.warnings ?? []).map((w) => `  ${shown(t.table)}: warning: ${shown(w)}`),
  ]);
  if (notes.length > 0) lines.push('', 'last cycle, values changed by column policies and warnings:', ...notes);
  const failed = Object.entries(view.status?.failed ?? {});
  if (failed.length > 0) {
    lines.push('', `failed tables (rerun with "lakesync rerun ${view.source} --failed"):`);
    for (const [table, f] of failed) lines.push(`  ${shown(table)}  [${f.phase}] ${shown(f.message)}`);
  }
  // Absent in the status of source workflows started by earlier versions.
  const dropped = view.status?.droppedTables ?? [];
  if (dropped.length > 0) {
    lines.push('', 'tables no longer exported:');
    for (const d of dropped) lines.push(`  ${shown(d.table)}  ${shown(d.note)} (cycle ${d.cycleId}, ${d.at})`);
  }
  const ignored = view.status?.ignoredRequests ?? [];
  if (ignored.length > 0) {
    lines.push('', 'ignored requests (newest first):');
    // Request ids come from whoever sent the request (any service can signal): shown escaped.
    for (const r of ignored.slice(0, 5)) lines.push(`  ${r.at} ${r.kind} ${r.requestId !== undefined ? shown(r.requestId) : '(no id)'}${r.requestedBy ? ` by ${shown(r.requestedBy)}` : ''}${r.times ? ` (${r.times} times since ${r.firstAt ?? '?'})` : ''}: ${shown(r.reason)}`);
    if (ignored.length > 5) lines.push(`  ... and ${ignored.length - 5} more (all of them: lakesync status ${view.source} --json)`);
  }
  const notStored = view.status?.stateNotStored;
  if (notStored) lines.push('', `warning (since ${notStored.at}): ${shown(notStored.message)}`);
  const queue = view.status?.queue ?? [];
  if (queue.length > 0) {
    lines.push('', 'queued:');
    for (const q of queue) lines.push(`  ${shown(q.requestId)} ${q.kind}${q.tables ? ` ${queuedTables(q.tables, q.failedOnly)}` : ''}${q.requestedBy ? ` (by ${shown(q.requestedBy)})` : ''}`);
  }
  const linkLines = [
    links.workflow && `source workflow: ${links.workflow}`,
    links.cycle && `running cycle:   ${links.cycle}`,
    links.partial && `partial cycles:  ${links.partial}`,
    ...Object.entries(links.runs ?? {}).map(([table, url]) => `glue run ${shown(table)}: ${url}`),
    links.athena && `athena:          ${links.athena}`,
  ].filter(Boolean) as string[];
  if (linkLines.length > 0) lines.push('', ...linkLines);
  return lines;
}

/** How many tables of a queued request the report names: a rerun of "failed" may name 20,000. */
const QUEUED_TABLES_SHOWN = 10;

/** A queued request's tables: the first few, and how many more (all of them: lakesync status --json). */
function queuedTables(tables: readonly string[], failedOnly: boolean | undefined): string {
  const named = shown(tables.slice(0, QUEUED_TABLES_SHOWN).join(','));
  const more = tables.length > QUEUED_TABLES_SHOWN ? ` and ${tables.length - QUEUED_TABLES_SHOWN} more` : '';
  return failedOnly ? `of the ${tables.length} failed table(s): ${named}${more}` : `${named}${more}`;
}

/** Which tables a frame too short for all keeps first: those running, then failed, then pending, then done. */
const FRAME_RANK: Record<string, number> = { committed: 3, skipped: 3, pending: 2, failed: 1 };

/**
 * A full terminal frame: overall bar, then one bar per table. With `height` (the terminal's rows),
 * a frame that would be taller keeps the running and failed tables first and says how many it
 * leaves out: a frame taller than the screen cannot be redrawn in place.
 */
export function terminalFrame(view: StatusView, width: number, height?: number): string[] {
  const lines = [headline(view)];
  const c = view.cycle;
  if (c) {
    const fraction = c.tables > 0 ? (c.done + c.failed) / c.tables : c.phase === 'done' ? 1 : 0;
    lines.push(`[${bar(fraction, Math.max(10, Math.min(40, width - 30)))}] ${c.done + c.failed}/${c.tables} tables`);
  }
  if (view.tables.length > 0) {
    // The headline, the bar, a blank line, the heading: the rest of the screen (but its last row) is for tables.
    const room = height === undefined ? Infinity : Math.max(1, height - lines.length - 3);
    let tables = view.tables;
    let more = '';
    if (tables.length > room) {
      const keep = new Set(
        tables
          .map((t, i) => ({ t, i, rank: FRAME_RANK[t.state] ?? 0 }))
          .sort((a, b) => a.rank - b.rank || a.i - b.i)
          .slice(0, Math.max(0, room - 1))
          .map((x) => x.t),
      );
      more = `... and ${tables.length - keep.size} more table(s) (all of them: lakesync status ${view.source})`;
      tables = tables.filter((t) => keep.has(t));
    }
    const rows = tables.map((t) => [t.table, bar(STATE_FRACTION[t.state] ?? 0, 10), ...tableCells(t).slice(1)]);
    lines.push('', ...columns(['TABLE', 'PROGRESS', ...HEADER.slice(1)], rows), ...(more ? [more] : []));
  }
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
}

/** Plain mode: a line per table whose state changed since the last view, plus cycle transitions. */
export class ChangeLog {
  private readonly seen = new Map<string, string>();
  private readonly watched = new Set<string>();
  private lastHeadline = '';

  lines(view: StatusView, now: Date): string[] {
    // UTC, with its date and zone: a log read later, elsewhere, or across midnight is not ambiguous.
    const stamp = `${now.toISOString().slice(0, 19)}Z`;
    const out: string[] = [];
    const c = view.cycle;
    const head = c ? `cycle ${c.cycleId} (${c.kind}) phase ${c.phase}` : view.phase;
    if (head !== this.lastHeadline) {
      out.push(`${stamp} ${view.source}: ${c ? head : headline(view).replace(`${view.source}: `, '')}`);
      this.lastHeadline = head;
    }
    // Once idle, the last cycle's outcomes finish the story of a cycle this log followed.
    const cycleId = c?.cycleId ?? view.status?.lastCycle?.cycleId;
    if (!cycleId || (!c && !this.watched.has(cycleId))) return out;
    this.watched.add(cycleId);
    for (const t of view.tables) {
      const key = `${cycleId}:${t.table}`;
      const state = `${t.state}${t.runState ? ` ${t.runState}` : ''}`;
      if (this.seen.get(key) === state) continue;
      this.seen.set(key, state);
      const extra = [t.runId && `run ${t.runId}`, t.elapsedMs !== undefined && t.state !== 'loading' && duration(t.elapsedMs), t.error].filter(Boolean).join(', ');
      out.push(`${stamp} ${shown(t.table)} ${state}${extra ? ` (${shown(extra)})` : ''}`);
    }
    return out;
  }
}
