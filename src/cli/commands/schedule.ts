/**
 * `lakesync schedule create|describe|update|pause|unpause|trigger|backfill|delete <source>`: Temporal
 * Schedules. A Schedule can only start workflows, so each action starts the short trigger
 * workflow, which signals-with-start the source workflow (sync, or rerun of failed tables).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { ScheduleDescription, ScheduleHandle, ScheduleOverlapPolicy, ScheduleSpec } from '@temporalio/client';
import { sourceWorkflowId } from '../../ids';
import { readSourceStatus } from '../../status-pages';
import { runningSourceWorkflow } from '../../temporal';
import { TABLES_PER_REQUEST } from '../../workflows/ledger';
import type { TriggerInput } from '../../workflows/trigger';
import { type SourceStatus, TRIGGER_WORKFLOW_TYPE } from '../../workflows/messages';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { type Connected, includedTableList, loadSource, withTemporal } from '../context';
import { RuntimeFailure, UsageError } from '../errors';
import { type CliIO, printJson, printLine } from '../io';
import { UiLinks } from '../links';

const OVERLAP: Record<string, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
};
/**
 * The overlap policy governs the schedule's own workflow, the trigger, which sends the request and
 * ends in seconds: a request sent while a sync cycle runs waits in the source's queue (one cycle at
 * a time, consecutive queued requests of one kind served together) whatever the policy.
 */
const overlapOption = () =>
  new Option(
    '--overlap <policy>',
    "what to do when a firing comes while the trigger workflow of the one before still runs (it only sends the request, in seconds): a request sent while a sync runs waits in the source's queue, whatever the policy, and consecutive queued requests of one kind are served by one cycle",
  ).choices(Object.keys(OVERLAP));
const DURATION = /^(\d+)(ms|s|m|h|d)$/;
/** The longest --every: a schedule that would wait longer than a year never runs in practice. */
const MAX_EVERY_MS = 366 * 24 * 3_600_000;
/** How far past this machine's clock a backfill's --to may be (a script's "now" from another clock). */
const BACKFILL_CLOCK_SLACK_MS = 60_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 24 * 3_600_000 };
/** A schedule's name is part of its id and its trigger's workflow id: plain characters only. */
const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

interface ScheduleOptions extends CommonOptions {
  name: string;
}

/** Schedule ids: one source can have several schedules (e.g. a nightly sync and an hourly rerun of failed tables). */
export function scheduleIdFor(source: string, name: string): string {
  if (!SCHEDULE_NAME.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name).slice(0, 80)}: a schedule name is 1-63 letters, digits, - and _, starting with a letter or digit (e.g. nightly)`);
  }
  return `${sourceWorkflowId(source)}/${name}`;
}

export function registerSchedule(program: Command, kit: CommandKit): void {
  const group = program.command('schedule').description('Temporal Schedules that request syncs (cron or interval, overlap policy, time zone)');
  const sub = (usage: string, description: string) =>
    withConfig(group.command(usage).description(description)).option('--name <name>', 'which schedule of the source', 'sync');

  withJson(
    sub('create <source>', 'create a schedule')
      .option('--cron <expression>', 'cron expression, e.g. "0 2 * * *" (repeat the option for several)', (v: string, prev: string[] = []) => [...prev, v])
      .option('--every <duration>', 'interval such as 30m, 6h or 1d')
      .option('--time-zone <iana>', 'time zone of the cron expressions, e.g. Europe/Paris (default UTC); not with --every')
      .option('--match-both-days', 'a --cron expression that gives both a day of the month and a day of the week runs only on days that match both, as Temporal reads it (e.g. "0 2 1-7 * MON", the first Monday of each month); without this option such an expression is refused, since crontab runs it on days that match either')
      .addOption(overlapOption().default('skip'))
      .option('--tables <list>', 'sync only these tables (comma-separated schema.table)')
      .option('--rerun-failed', 'rerun the failed tables instead of a sync')
      .option('--paused', 'create it paused')
      .option('--note <text>', 'a note shown with the schedule'),
  ).action(kit.action(async (source: string, opts: CreateOptions) => create(kit, source, opts)));

  withJson(sub('describe <source>', 'show a schedule: spec, policy, state, next and recent runs')).action(
    kit.action(async (source: string, opts: ScheduleOptions) =>
      withSchedule(kit, source, opts, async (conn, id) => {
        const d = await conn.client.schedule.getHandle(id).describe();
        const view = describeView(d, UiLinks.for(conn.target, kit.env.io.env).schedule(id));
        if (opts.json) printJson(kit.env.io.stdout, view);
        else for (const line of describeLines(view)) printLine(kit.env.io.stdout, line);
      }),
    ),
  );

  sub('update <source>', 'change when a schedule acts (--cron, --every, --time-zone) or its --overlap policy; its action, state and history stay')
    .option('--cron <expression>', 'new cron expression(s), in place of its cron expressions or interval (repeat the option for several)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--every <duration>', 'new interval such as 30m, 6h or 1d, in place of its cron expressions or interval')
    .option('--time-zone <iana>', 'new time zone of its cron expressions, e.g. Europe/Paris; not for an interval')
    .option('--match-both-days', 'as for create: a --cron expression that gives both a day of the month and a day of the week runs only on days that match both')
    .addOption(overlapOption())
    .option('--note <text>', 'why (shown with the schedule)')
    .action(kit.action(async (source: string, opts: UpdateOptions) => update(kit, source, opts)));

  for (const [verb, text] of [
    ['pause', 'pause a schedule (no action is taken until unpaused)'],
    ['unpause', 'resume a paused schedule'],
  ] as const) {
    sub(`${verb} <source>`, text)
      .option('--note <text>', 'why (shown with the schedule)')
      .action(
        kit.action(async (source: string, opts: ScheduleOptions & { note?: string }) =>
          withSchedule(kit, source, opts, async (conn, id) => {
            const handle = conn.client.schedule.getHandle(id);
            const note = opts.note ?? `${verb}d with lakesync schedule ${verb}`;
            await (verb === 'pause' ? handle.pause(note) : handle.unpause(note));
            printLine(kit.env.io.stdout, `schedule ${id} ${verb}d`);
          }),
        ),
      );
  }

  sub('trigger <source>', 'take the schedule\'s action now, paused or not')
    .addOption(
      new Option(
        '--overlap <policy>',
        "what to do when a firing comes while the trigger workflow of the one before still runs (it only sends the request, in seconds): a request sent while a sync runs waits in the source's queue, whatever the policy; the default, allow-all, starts another trigger workflow, skip takes no action, buffer-one and buffer-all take it when that one ends",
      ).choices(Object.keys(OVERLAP)),
    )
    .action(
      kit.action(async (source: string, opts: ScheduleOptions & { overlap?: string }) =>
        withSchedule(kit, source, opts, (conn, id) => triggerSchedule(conn, kit.env.io.stdout, source, id, opts)),
      ),
    );

  sub('backfill <source>', 'take the actions the schedule would have taken in a past time range')
    .requiredOption('--from <time>', 'start of the range (ISO-8601)')
    .requiredOption('--to <time>', 'end of the range (ISO-8601)')
    .addOption(
      new Option('--overlap <policy>', "how the range's actions, which start at once, go: buffer-all (the default) takes them one after another; skip or buffer-one would take only the first one or two of them (not the schedule's own policy)")
        .choices(Object.keys(OVERLAP))
        .default('buffer-all'),
    )
    .action(
      kit.action(async (source: string, opts: ScheduleOptions & { from: string; to: string; overlap: string }) => {
        const start = isoDate(opts.from, '--from');
        const end = isoDate(opts.to, '--to');
        if (end <= start) throw new UsageError('--to must be after --from');
        // Temporal takes at once the actions of the whole range, also those of times to come, which the schedule then takes again.
        if (end.getTime() > Date.now() + BACKFILL_CLOCK_SLACK_MS) {
          throw new UsageError(`--to ${end.toISOString()} is in the future: a backfill takes now the actions of its whole range, those still to come too (and the schedule takes them again at their time); give a --to up to now (${new Date().toISOString()})`);
        }
        return withSchedule(kit, source, opts, async (conn, id) => {
          // Without a policy the server uses the schedule's (skip by default): the range's actions all start at once, so it would take only the first.
          await conn.client.schedule.getHandle(id).backfill({ start, end, overlap: OVERLAP[opts.overlap]! });
          const how = opts.overlap === 'buffer-all' ? 'every action of the range, one after another' : opts.overlap === 'allow-all' ? 'every action of the range, all at once' : `the range's actions as --overlap ${opts.overlap} lets them`;
          printLine(kit.env.io.stdout, `schedule ${id}: backfill ${start.toISOString()} -> ${end.toISOString()} requested: ${how} (overlap ${opts.overlap}); follow it with: lakesync schedule describe ${source} --name ${opts.name}`);
        });
      }),
    );

  sub('delete <source>', 'delete a schedule (running syncs go on)').action(
    kit.action(async (source: string, opts: ScheduleOptions) =>
      withSchedule(kit, source, opts, async (conn, id) => {
        await conn.client.schedule.getHandle(id).delete();
        printLine(kit.env.io.stdout, `schedule ${id} deleted`);
      }),
    ),
  );
}

/**
 * Triggers the schedule, then reads back what it did with the trigger. Once the trigger is sent, a
 * failure to read that back is said, not raised: the schedule has the trigger, and a caller told
 * the command failed would trigger again and start a second action.
 */
export async function triggerSchedule(conn: Connected, out: CliIO['stdout'], source: string, id: string, opts: { name: string; overlap?: string }): Promise<void> {
  const handle = conn.client.schedule.getHandle(id);
  const before = await handle.describe();
  // Without a policy the SDK asks allow-all, not the schedule's own.
  await handle.trigger(opts.overlap ? OVERLAP[opts.overlap] : undefined);
  // The schedule takes the request in its own time: what it did is read back, not assumed.
  const outcome = await triggerOutcome(handle, before);
  const running = outcome.running.length > 0 ? outcome.running.join(', ') : 'an earlier action';
  const taskQueue = 'taskQueue' in before.action ? before.action.taskQueue : conn.target.taskQueue;
  const check = `lakesync schedule describe ${source} --name ${opts.name}`;
  switch (outcome.kind) {
    case 'started':
      printLine(out, `schedule ${id} triggered: started ${outcome.workflowId ?? 'its trigger workflow'}; follow it with: lakesync status ${source} --watch`);
      return;
    case 'buffered':
      printLine(out, `schedule ${id} trigger buffered: it starts when the trigger workflow ${running} ends (overlap ${opts.overlap}); follow it with: ${check}`);
      return;
    case 'skipped':
      throw new RuntimeFailure(
        `schedule ${id}: the trigger was skipped, nothing was requested: the trigger workflow ${running} still runs and the overlap policy is ${opts.overlap ?? 'the schedule\'s'}; a trigger workflow ends in seconds, so if it stays, check that a worker polls task queue ${taskQueue} (lakesync worker); to trigger anyway: lakesync schedule trigger ${source} --name ${opts.name} --overlap allow-all`,
      );
    case 'unread':
      // Exit 0: the trigger was sent; only its outcome is unknown, and sending it again could take a second action.
      printLine(out, `schedule ${id}: trigger sent, but what the schedule did with it could not be read (${outcome.reason})`);
      printLine(out, `do not trigger again: the schedule has this trigger, and another one could start a second sync; see what it did with: ${check}`);
      return;
    default:
      printLine(out, `schedule ${id}: trigger requested, but the schedule has not taken it yet; see what it did with: ${check}`);
  }
}

/** How long `schedule trigger` waits to see what the schedule did with the request. */
const TRIGGER_OUTCOME_MS = 15_000;

type TriggerOutcome =
  | { kind: 'started'; workflowId?: string; running: string[] }
  | { kind: 'skipped' | 'buffered' | 'unknown'; running: string[] }
  /** The schedule could not be described after the trigger was sent. */
  | { kind: 'unread'; reason: string; running: string[] };

/**
 * What the schedule did with a trigger, from its counts before and after: an action taken, skipped
 * for overlap (or dropped from a full buffer), or buffered behind a running one.
 */
async function triggerOutcome(handle: ScheduleHandle, before: ScheduleDescription): Promise<TriggerOutcome> {
  const counts = (d: ScheduleDescription) => ({
    taken: d.info.numActionsTaken,
    skipped: d.info.numActionsSkippedOverlap + Number(d.raw.info?.bufferDropped ?? 0),
    buffered: Number(d.raw.info?.bufferSize ?? 0),
  });
  const was = counts(before);
  const deadline = Date.now() + TRIGGER_OUTCOME_MS;
  let running = before.info.runningActions.map((a) => a.workflow.workflowId);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    let d: ScheduleDescription;
    try {
      d = await handle.describe();
    } catch (err) {
      return { kind: 'unread', reason: err instanceof Error ? err.message : String(err), running };
    }
    const now = counts(d);
    running = d.info.runningActions.map((a) => a.workflow.workflowId);
    if (now.taken > was.taken) return { kind: 'started', workflowId: d.info.recentActions.at(-1)?.action.workflow.workflowId, running };
    if (now.skipped > was.skipped) return { kind: 'skipped', running };
    if (now.buffered > was.buffered) return { kind: 'buffered', running };
    if (Date.now() > deadline) return { kind: 'unknown', running };
  }
}

/**
 * A cron expression's fields as Temporal reads them: 5 (minute hour day-of-month month
 * day-of-week), 6 (and the year) or 7 (the second first, and the year). Six fields written with the
 * seconds first, as Quartz and Spring take them ("0 0 2 * * *", 02:00 daily), Temporal reads as
 * minute 0 of hour 0 of day 2 of each month: refused unless the sixth field is a year.
 */
function checkCron(c: string, matchBothDays = false): void {
  if (c.trim().startsWith('@')) return;
  // An optional CRON_TZ=<zone> (or TZ=) before the fields and "# comment" after them.
  const tokens = c.replace(/#.*$/, '').trim().split(/\s+/);
  for (const t of tokens) {
    const zone = /^(?:CRON_TZ|TZ)=(.*)$/.exec(t)?.[1];
    const problem = zone !== undefined ? zoneProblem(zone) : undefined;
    if (problem) throw new UsageError(`--cron ${JSON.stringify(c)}: ${t} ${problem}`);
  }
  const fields = tokens.filter((f) => f !== '' && !/^(CRON_TZ|TZ)=/.test(f));
  if (fields.length < 5) throw new UsageError(`--cron ${JSON.stringify(c)}: a cron expression has 5 fields (minute hour day month weekday), e.g. "0 2 * * *"`);
  if (fields.length === 6 && !/\d{4}/.test(fields[5]!)) {
    const fiveFields = fields.slice(1).map((f) => (f === '?' ? '*' : f)).join(' ');
    throw new UsageError(
      `--cron ${JSON.stringify(c)} has 6 fields: Temporal reads them as minute hour day-of-month month day-of-week year, not with seconds first (as Quartz and Spring do), so it would run at other times than meant; write 5 fields, e.g. "${fiveFields}", or 7 with the seconds first and the year last, e.g. "${fields.map((f) => (f === '?' ? '*' : f)).join(' ')} *"`,
    );
  }
  // Crontab runs on the days that match either day field when both are restricted (neither starts with *);
  // Temporal only on the days that match both ("0 2 1 * MON": the Mondays that are the 1st, a few a year).
  const at = fields.length === 7 ? 3 : 2;
  const [dom, dow] = [fields[at]!, fields[at + 2]!];
  // "?" (no specific value, as Quartz writes the day field left open) restricts nothing either.
  const open = (field: string) => field.startsWith('*') || field === '?';
  if (!matchBothDays && !open(dom) && !open(dow)) {
    const withField = (i: number, v: string) => {
      let n = -1;
      return tokens.map((t) => (t === '' || /^(CRON_TZ|TZ)=/.test(t) ? t : ++n === i ? v : t)).join(' ');
    };
    throw new UsageError(
      `--cron ${JSON.stringify(c)} restricts both the day of the month (${dom}) and the day of the week (${dow}): Temporal runs it only on days that match both, where crontab runs it on days that match either; for either, give two expressions: --cron ${JSON.stringify(withField(at + 2, '*'))} --cron ${JSON.stringify(withField(at, '*'))}; for only the days that match both (e.g. "0 2 1-7 * MON", the first Monday of each month), add --match-both-days`,
    );
  }
}

/** The values of a minute or hour field (*, n, a-b, a/step, a-b/step, lists), or undefined for another form. */
function fieldValues(field: string, max: number): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(?:\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const start = m[1] === undefined ? 0 : Number(m[1]);
    const end = m[2] !== undefined ? Number(m[2]) : m[1] === undefined || m[3] !== undefined ? max : start;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (step < 1) return undefined;
    for (let v = start; v <= end; v += step) out.add(v);
  }
  return out;
}

const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/**
 * The first time of day in the coming year that a cron expression names at given hours (not *) and
 * its zone's clocks skip when they go forward: Temporal takes no action for it that day (crontab
 * runs it when the clocks have gone forward). Undefined when there is none.
 */
function skippedTime(cron: string, timeZone: string | undefined): { zone: string; time: string; date: string; from: string; to: string } | undefined {
  if (cron.trim().startsWith('@')) return undefined;
  const tokens = cron.replace(/#.*$/, '').trim().split(/\s+/);
  const zone = tokens.map((t) => /^(?:CRON_TZ|TZ)=(.*)$/.exec(t)?.[1]).find((z) => z !== undefined) ?? timeZone ?? 'UTC';
  const fields = tokens.filter((f) => f !== '' && !/^(CRON_TZ|TZ)=/.test(f));
  const [minuteField, hourField, domField, monthField, dowField] = fields.slice(fields.length === 7 ? 1 : 0);
  if (!minuteField || !hourField || hourField.startsWith('*')) return undefined;
  const [minutes, hours] = [fieldValues(minuteField, 59), fieldValues(hourField, 23)];
  if (!minutes || !hours) return undefined;
  // Temporal matches a day when all the day fields do; a field of another form (names of months) is taken to match.
  const days = fieldValues(domField ?? '*', 31);
  const months = fieldValues(monthField ?? '*', 12);
  const weekdays = fieldValues((dowField ?? '*').toUpperCase().replace(/SUN|MON|TUE|WED|THU|FRI|SAT/g, (n) => String(WEEKDAYS.indexOf(n))), 7);
  const onDay = (d: Date) => (!days || days.has(d.getUTCDate())) && (!months || months.has(d.getUTCMonth() + 1)) && (!weekdays || weekdays.has(d.getUTCDay()) || (d.getUTCDay() === 0 && weekdays.has(7)));
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  } catch {
    return undefined;
  }
  // The zone's wall clock at an instant, as if it were UTC, and its offset.
  const wall = (t: number) => {
    const p = Object.fromEntries(format.formatToParts(t).map((x) => [x.type, x.value]));
    return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute));
  };
  const offset = (t: number) => wall(t) - t;
  const hhmm = (w: number) => new Date(w).toISOString().slice(11, 16);
  const start = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  for (let t = start; t < start + 366 * 24 * HOUR_MS; t += HOUR_MS) {
    const before = offset(t);
    if (offset(t + HOUR_MS) <= before) continue;
    let at = t + MINUTE_MS;
    while (offset(at) === before) at += MINUTE_MS;
    // The wall times from the old offset to the new one do not happen.
    const [from, to] = [at + before, at + offset(at)];
    for (let w = from; w < to; w += MINUTE_MS) {
      const d = new Date(w);
      if (hours.has(d.getUTCHours()) && minutes.has(d.getUTCMinutes()) && onDay(d)) return { zone, time: hhmm(w), date: d.toISOString().slice(0, 10), from: hhmm(from), to: hhmm(to) };
    }
  }
  return undefined;
}

/** When a schedule acts, as given to create or update: cron expressions (in a time zone) or an interval. */
interface When {
  cron?: string[];
  every?: string;
  timeZone?: string;
  matchBothDays?: boolean;
}

/** Refuses, before anything is sent, a `When` the server would take but read otherwise than asked (or not at all). */
function checkWhen(when: When): void {
  if (when.every !== undefined) everyMs(when.every);
  if (when.cron) for (const c of when.cron) checkCron(c, Boolean(when.matchBothDays));
  if (when.timeZone) checkTimeZone(when.timeZone);
  checkZoneApplies(when);
}

/** A time zone goes with cron expressions only. */
function checkZoneApplies(when: When): void {
  // Temporal aligns an interval on the Unix epoch: a time zone would change none of its times, yet describe showed it.
  const interval = when.timeZone ? when.cron?.find((c) => /^@every\b/i.test(c.trim())) : undefined;
  if (interval) {
    throw new UsageError(`--cron ${JSON.stringify(interval)} is an interval: --time-zone applies to the times of a cron expression only (an interval counts from the Unix epoch, UTC, so @every 1d runs at 00:00 UTC whatever the zone); for a time of day in ${when.timeZone}, use e.g. --cron "0 0 * * *" --time-zone ${when.timeZone}`);
  }
  if (when.every !== undefined && when.timeZone) {
    throw new UsageError(`--time-zone applies to --cron only: an --every interval counts from the Unix epoch (UTC), so --every 1d runs at 00:00 UTC whatever the zone; for a time of day in ${when.timeZone}, use e.g. --cron "0 0 * * *" --time-zone ${when.timeZone}`);
  }
}

function warnSkippedTimes(io: CliIO, when: When): void {
  for (const c of when.cron ?? []) {
    const gap = skippedTime(c, when.timeZone);
    if (gap) printLine(io.stderr, `warning: --cron ${JSON.stringify(c)} in ${gap.zone}: ${gap.time} does not exist on ${gap.date} (the clocks go from ${gap.from} to ${gap.to}), and Temporal takes no action then that day (crontab would run it at ${gap.to}); for a run every day, pick a time outside ${gap.from}-${gap.to}, or a zone without daylight saving time such as UTC`);
  }
}

/** How long create waits for the running source's status to check --tables against: the check is advice, never a reason to stall. */
const KNOWN_TABLES_DEADLINE_MS = 5_000;

/**
 * Warns of the --tables the running source has neither loaded nor failed: at each firing it drops
 * a sync naming a table it does not know (status lists it under ignored requests). Skipped when no
 * source workflow runs, none of its workers answers in time, or it has not exported yet (it knows no table).
 */
async function warnUnknownTables(io: CliIO, { client }: Connected, source: string, tables: string[]): Promise<void> {
  let status: SourceStatus;
  try {
    const handle = await runningSourceWorkflow(client, source);
    if (!handle) return;
    status = await client.connection.withDeadline(Date.now() + KNOWN_TABLES_DEADLINE_MS, () => readSourceStatus(handle));
  } catch {
    return;
  }
  const known = new Set([...Object.keys(status.ledger), ...Object.keys(status.failed), ...(status.lastCycle?.tables ?? []).map((t) => t.table)]);
  if (known.size === 0) return;
  const unknown = tables.filter((t) => !known.has(t));
  if (unknown.length === 0) return;
  printLine(
    io.stderr,
    `warning: --tables names ${tablesNamed(unknown)}, which source ${source} has neither loaded nor failed: it drops a scheduled sync naming a table it does not know (lakesync status ${source} lists it under ignored requests); check the names against "lakesync status ${source}"`,
  );
}

/** The schedule spec of a `When`. */
function specOf(when: When): ScheduleSpec {
  return {
    ...(when.cron ? { cronExpressions: when.cron } : { intervals: [{ every: when.every! as `${number}h` }] }),
    ...(when.timeZone ? { timezone: when.timeZone } : {}),
  };
}

/** How a `When` is shown: `cron 0 2 * * * (Europe/Paris)` or `every 6h`. */
function whenText(when: When): string {
  return `${when.cron ? `cron ${when.cron.join(' | ')}` : `every ${when.every}`}${when.timeZone ? ` (${when.timeZone})` : ''}`;
}

/** `--every` in milliseconds: a number and a unit, from 1 s to 366 days. */
function everyMs(every: string): number {
  const match = DURATION.exec(every);
  if (!match) throw new UsageError(`--every ${JSON.stringify(every)}: use a number and a unit (ms, s, m, h, d), e.g. 6h`);
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  if (!(ms >= 1_000 && ms <= MAX_EVERY_MS)) throw new UsageError(`--every ${every}: give an interval from 1s to 366d, e.g. 6h`);
  return ms;
}

interface CreateOptions extends ScheduleOptions, When {
  overlap: string;
  tables?: string;
  rerunFailed?: boolean;
  paused?: boolean;
  note?: string;
}

async function create(kit: CommandKit, source: string, opts: CreateOptions): Promise<void> {
  const { io } = kit.env;
  const { config, source: settings } = loadSource(io, opts, source);
  if (Boolean(opts.cron?.length) === Boolean(opts.every)) throw new UsageError('schedule create needs exactly one of --cron <expression> or --every <duration>');
  checkWhen(opts);
  if (opts.rerunFailed && opts.tables) throw new UsageError('--rerun-failed and --tables do not go together');
  warnSkippedTimes(io, opts);
  // In a stable order: the same tables in another order are the same schedule (created again by a deploy script).
  const tables = opts.tables !== undefined ? includedTableList(settings, opts.tables, '--tables').sort() : undefined;
  // The source drops a request of more tables: every action of the schedule would be dropped.
  if (tables && tables.length > TABLES_PER_REQUEST) {
    throw new UsageError(`--tables names ${tables.length} tables: a request names at most ${TABLES_PER_REQUEST} (the source would drop every action of this schedule); leave --tables out to sync every table, or split them among schedules of different --name`);
  }
  const id = scheduleIdFor(source, opts.name);
  await withTemporal(config, async (conn) => {
    const requestedBy = `schedule ${id}`;
    const input: TriggerInput = {
      source,
      taskQueue: conn.target.taskQueue,
      ...(opts.rerunFailed ? { rerun: { tables: 'failed', requestedBy } } : { sync: { requestedBy, ...(tables ? { tables } : {}) } }),
    };
    const what = opts.rerunFailed ? 'rerun of failed tables' : `sync${tables ? ` of ${tablesNamed(tables)}` : ''}`;
    const memo = scheduleMemo(source, opts.name, what, opts);
    const link = UiLinks.for(conn.target, io.env).schedule(id);
    try {
      await conn.client.schedule.create({
        scheduleId: id,
        spec: specOf(opts),
        action: {
          type: 'startWorkflow',
          workflowType: TRIGGER_WORKFLOW_TYPE,
          workflowId: `${sourceWorkflowId(source)}/trigger-${opts.name}`,
          taskQueue: conn.target.taskQueue,
          args: [input],
          staticSummary: `scheduled ${what} of ${source}`,
          // Where update can change them (a schedule's own memo cannot change after it is created).
          memo: { lakesync: memo },
        },
        policies: { overlap: OVERLAP[opts.overlap]! },
        memo: { lakesync: memo },
        state: { paused: Boolean(opts.paused), ...(opts.note ? { note: opts.note } : {}) },
      });
    } catch (err) {
      const { ScheduleAlreadyRunning } = await import('@temporalio/client');
      if (!(err instanceof ScheduleAlreadyRunning)) throw invalidArgument(err);
      // Created again with the same settings (a deploy script that runs create each time): nothing to do.
      const existing = await conn.client.schedule.getHandle(id).describe();
      const differ = otherSettings(existing, memo, input, OVERLAP[opts.overlap]!, conn.target.taskQueue);
      if (differ.length > 0) {
        // When it acts and its overlap change in place; its action and task queue only by creating it again.
        if (differ.every((d) => !d.startsWith('action ') && !d.startsWith('task queue '))) {
          const flags = [...(opts.cron ?? []).map((c) => `--cron ${JSON.stringify(c)}`), ...(opts.every ? [`--every ${opts.every}`] : []), ...(opts.cron ? [`--time-zone ${opts.timeZone ?? 'UTC'}`] : []), `--overlap ${opts.overlap}`];
          throw new UsageError(`schedule ${id} exists with other settings (${differ.join(', ')}): to change them in place, keeping its state and history: lakesync schedule update ${source} --name ${opts.name} ${flags.join(' ')}; or pick another --name`);
        }
        // A schedule created again is created as asked: paused only with --paused, whatever it was.
        const again = existing.state.paused ? ' with --paused, as it is paused now' : '';
        throw new UsageError(`schedule ${id} exists with other settings (${differ.join(', ')}): to change its action, delete it (lakesync schedule delete ${source} --name ${opts.name}) and create it again${again}; or pick another --name`);
      }
      // Paused or not is the schedule's state, not a setting (pause and unpause change it): said when it is not as asked.
      const state = existing.state.paused
        ? ' (it is paused: lakesync schedule unpause)'
        : opts.paused
          ? ` (it is not paused, though --paused was given: lakesync schedule pause ${source} --name ${opts.name})`
          : '';
      if (opts.json) printJson(io.stdout, { scheduleId: id, source, what, existed: true, paused: existing.state.paused, ...(link ? { url: link } : {}) });
      else printLine(io.stdout, `schedule ${id} exists already with these settings: nothing changed${state}${link ? `\n${link}` : ''}`);
      return;
    }
    if (opts.cron) await refuseNeverFiring(conn, id, opts.cron);
    if (tables) await warnUnknownTables(io, conn, source, tables);
    if (opts.json) printJson(io.stdout, { scheduleId: id, source, what, ...(link ? { url: link } : {}) });
    else printLine(io.stdout, `schedule ${id} created: ${what}, ${whenText(opts)}, overlap ${opts.overlap}${opts.paused ? ', paused' : ''}${link ? `\n${link}` : ''}`);
  });
}

interface UpdateOptions extends ScheduleOptions, When {
  overlap?: string;
  note?: string;
}

/**
 * Changes when a schedule acts, or its overlap policy, in place: its action, paused state, counts
 * and recent actions stay (delete and create would lose them). What is not given stays as it is.
 */
async function update(kit: CommandKit, source: string, opts: UpdateOptions): Promise<void> {
  const { io } = kit.env;
  if (!opts.cron?.length && opts.every === undefined && opts.timeZone === undefined && opts.overlap === undefined) {
    throw new UsageError('schedule update needs what to change: --cron <expression>, --every <duration>, --time-zone <iana> or --overlap <policy>');
  }
  if (opts.cron?.length && opts.every !== undefined) throw new UsageError('give --cron or --every, not both: a schedule acts on cron expressions or on an interval');
  checkWhen(opts);
  await withSchedule(kit, source, opts, async (conn, id) => {
    const handle = conn.client.schedule.getHandle(id);
    const current = await handle.describe();
    const has = settingsOf(current);
    if (has.source !== source || (!has.cron && !has.every)) {
      throw new UsageError(`schedule ${id} was not made by lakesync schedule create, so its settings are unknown here: change it in the Temporal UI or with the temporal CLI, or delete it and create it with lakesync schedule create`);
    }
    const changesWhen = Boolean(opts.cron?.length) || opts.every !== undefined || opts.timeZone !== undefined;
    // What is given replaces what the schedule has; a new interval drops the time zone.
    const zone = (timeZone: string | undefined) => (timeZone ? { timeZone } : {});
    const cron = opts.cron?.length ? opts.cron : opts.every === undefined ? has.cron : undefined;
    const when: When = cron ? { cron, ...zone(opts.timeZone ?? has.timeZone) } : { every: opts.every ?? has.every!, ...zone(opts.timeZone) };
    checkZoneApplies(when);
    if (changesWhen) warnSkippedTimes(io, when);
    const memo = scheduleMemo(source, opts.name, has.what ?? '?', when);
    await handle.update((previous) => ({
      ...previous,
      ...(changesWhen ? { spec: specOf(when) } : {}),
      ...(opts.overlap ? { policies: { ...previous.policies, overlap: OVERLAP[opts.overlap]! } } : {}),
      action: { ...previous.action, memo: { ...previous.action.memo, lakesync: memo } },
      state: { ...previous.state, ...(opts.note ? { note: opts.note } : {}) },
    }));
    if (when.cron && changesWhen) await restoreIfNeverFiring(handle, current, when.cron);
    const after = await handle.describe();
    const dropped = opts.every !== undefined && has.timeZone ? ` (its time zone ${has.timeZone} no longer applies: an interval counts from the Unix epoch, UTC)` : '';
    const paused = after.state.paused ? `; it is paused: lakesync schedule unpause ${source} --name ${opts.name}` : '';
    printLine(io.stdout, `schedule ${id} updated: ${memo.what}, ${whenText(when)}, overlap ${after.policies.overlap ?? 'SKIP'}${dropped}${paused}`);
  });
}

/** What `schedule create` keeps in the schedule's memo: its settings as given. */
interface ScheduleMemo {
  source: string;
  name: string;
  what: string;
  cron?: string[];
  every?: string;
  timeZone?: string;
}

/** The memo of a schedule's settings: its action (`what`) and when it acts. */
function scheduleMemo(source: string, name: string, what: string, when: When): ScheduleMemo {
  return { source, name, what, ...(when.cron ? { cron: when.cron } : { every: when.every! }), ...(when.timeZone ? { timeZone: when.timeZone } : {}) };
}

/**
 * The settings lakesync keeps with a schedule: in its action's memo, where update changes them, or,
 * for a schedule created before they were kept there, in the schedule's own memo (which cannot change).
 */
function settingsOf(d: ScheduleDescription): Partial<ScheduleMemo> {
  const kept = 'memo' in d.action ? d.action.memo?.lakesync : undefined;
  return (kept ?? d.memo?.lakesync ?? {}) as Partial<ScheduleMemo>;
}

/** The settings of an existing schedule that differ from those asked (as the schedule has them), none when it is the same schedule. */
function otherSettings(d: ScheduleDescription, wanted: ScheduleMemo, input: TriggerInput, overlap: ScheduleOverlapPolicy, taskQueue: string): string[] {
  const has = settingsOf(d);
  const differ: string[] = [];
  // The tables, and the cron expressions, in any order (a schedule made before its tables were sorted has them as given).
  const args = 'args' in d.action ? (d.action.args as unknown[] | undefined) : undefined;
  if (has.source !== wanted.source || actionKey(args?.[0]) !== actionKey(input)) differ.push(`action ${has.what ?? 'not made by lakesync schedule create'}`);
  // Spaced otherwise, a cron expression is the same; an interval in another unit (60m, 1h) too.
  const crons = (c: unknown) => (Array.isArray(c) ? JSON.stringify([...c].map((x) => String(x).trim().replace(/\s+/g, ' ')).sort()) : 'none');
  const every = (e: string | undefined) => {
    const m = e === undefined ? null : DURATION.exec(e);
    return m ? Number(m[1]) * UNIT_MS[m[2]!]! : e;
  };
  if (crons(has.cron) !== crons(wanted.cron) || every(has.every) !== every(wanted.every)) differ.push(has.cron ? `cron ${has.cron.join(' | ')}` : `every ${has.every ?? '?'}`);
  // A zone by another of its names (Etc/UTC and UTC, Asia/Calcutta and Asia/Kolkata) gives the same times.
  if (sameZone(has.timeZone ?? 'UTC') !== sameZone(wanted.timeZone ?? 'UTC')) differ.push(`time zone ${has.timeZone ?? 'UTC'}`);
  if ((d.policies.overlap ?? 'SKIP') !== overlap) differ.push(`overlap ${d.policies.overlap ?? 'SKIP'}`);
  if (d.action.taskQueue !== taskQueue) differ.push(`task queue ${d.action.taskQueue}`);
  return differ;
}

/** A zone's canonical name, the same for its aliases (Etc/UTC, GMT and UTC are UTC); the name itself when this Node does not know it. */
function sameZone(zone: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return zone;
  }
}

/** What a trigger's input asks, the same whatever the order of its tables: its source and kind, and the tables of a sync. */
function actionKey(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const given = input as Partial<TriggerInput>;
  const tables = Array.isArray(given.sync?.tables) ? [...new Set(given.sync.tables.map(String))].sort() : undefined;
  return JSON.stringify([given.source, given.rerun !== undefined ? { rerun: given.rerun.tables } : { sync: tables ?? 'all' }]);
}

/**
 * A cron spec the server takes but that matches no time (such as "0 2 30 2 *", a day February does
 * not have) would make a schedule that never acts, silently: it is deleted at once (it can have taken
 * no action) and refused. The server lists the next times of a paused schedule too.
 */
async function refuseNeverFiring(conn: Connected, id: string, cron: string[]): Promise<void> {
  const handle = conn.client.schedule.getHandle(id);
  const d = await handle.describe();
  if (d.info.nextActionTimes.length > 0) return;
  await handle.delete();
  const shown = cron.map((c) => `--cron ${JSON.stringify(c)}`).join(' ');
  throw new UsageError(`${shown} never fires: no time matches it (e.g. a day its month does not have, such as 30 2 for 30 February); the schedule was not created: give an expression that matches a time`);
}

/**
 * `update`'s refuseNeverFiring: a schedule updated to cron expressions that match no time is put
 * back as it was (spec and settings) and the update refused.
 */
async function restoreIfNeverFiring(handle: ScheduleHandle, before: ScheduleDescription, cron: string[]): Promise<void> {
  if ((await handle.describe()).info.nextActionTimes.length > 0) return;
  await handle.update((now) => ({
    ...now,
    spec: before.spec,
    policies: before.policies,
    action: { ...now.action, memo: 'memo' in before.action ? before.action.memo : undefined },
    state: { ...now.state, note: before.state.note },
  }));
  const shown = cron.map((c) => `--cron ${JSON.stringify(c)}`).join(' ');
  throw new UsageError(`${shown} never fires: no time matches it (e.g. a day its month does not have, such as 30 2 for 30 February); the schedule was left as it was: give an expression that matches a time`);
}

async function withSchedule<T>(kit: CommandKit, source: string, opts: ScheduleOptions, fn: (conn: Connected, id: string) => Promise<T>): Promise<T> {
  const { config } = loadSource(kit.env.io, opts, source);
  const id = scheduleIdFor(source, opts.name);
  return withTemporal(config, async (conn) => {
    try {
      return await fn(conn, id);
    } catch (err) {
      const { ScheduleNotFoundError } = await import('@temporalio/client');
      if (err instanceof ScheduleNotFoundError) throw new UsageError(`no schedule ${id}: create it with "lakesync schedule create ${source} --cron ..." (or pass --name)`);
      throw invalidArgument(err);
    }
  });
}

/** The server's own word on a bad spec (e.g. an invalid cron field) is a usage error; the SDK raises it as a TypeError. */
function invalidArgument(err: unknown): unknown {
  if (err instanceof TypeError) return new UsageError(`the Temporal server refused the schedule: ${err.message}`);
  const code = (err as { code?: number; cause?: { code?: number } }).code ?? (err as { cause?: { code?: number } }).cause?.code;
  return code === 3 ? new UsageError(`the Temporal server refused the schedule: ${(err as Error).message}`) : err;
}

/**
 * The Temporal server reads zone names as the tz database spells them (it answers "unknown time
 * zone europe/paris"), though Intl takes any case: a name must be spelled right, and a wrong one
 * is refused with the right spelling or the closest names.
 */
export function checkTimeZone(tz: string): void {
  const problem = zoneProblem(tz);
  if (problem) throw new UsageError(`--time-zone ${JSON.stringify(tz)} ${problem}`);
}

/** What is wrong with a zone name, as "is not an IANA time zone name..." with the fix, or undefined for a good one. */
function zoneProblem(tz: string): string | undefined {
  const known = zoneNames();
  let resolved: string | undefined;
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    resolved = undefined;
  }
  if (resolved !== undefined) {
    if (tz === resolved || known.includes(tz)) return undefined;
    const spelled = known.find((k) => k.toLowerCase() === tz.toLowerCase());
    // A link such as US/Pacific is taken; no zone name is all lower case, so us/pacific is misspelt.
    if (!spelled && tz !== tz.toLowerCase()) return undefined;
    return notZone([spelled ?? resolved]);
  }
  const offset = /^(?:UTC|GMT|Z)?\s*([+-])(\d{1,2})(?::?(\d\d))?$/i.exec(tz.trim());
  if (offset) {
    const [sign, hours, minutes] = [offset[1]!, Number(offset[2]), Number(offset[3] ?? 0)];
    // Etc/GMT-1 is UTC+1: the tz database inverts the sign of its fixed-offset zones.
    if (minutes === 0 && hours > 0 && (sign === '+' ? hours <= 14 : hours <= 12)) {
      return notZone([`Etc/GMT${sign === '+' ? '-' : '+'}${hours} (a fixed UTC${sign}${hours}, no daylight saving time)`], ' or the zone of a place, e.g. Europe/Paris');
    }
    return 'is not an IANA time zone name: give the zone of a place with that offset (e.g. Asia/Kolkata for UTC+5:30), or UTC';
  }
  return notZone(closestZones(tz, known));
}

function notZone(suggestions: string[], more = ''): string {
  const head = 'is not an IANA time zone name';
  if (suggestions.length === 0) return `${head} (e.g. UTC, Europe/Paris, America/New_York)`;
  const list = suggestions.length === 1 ? suggestions[0]! : `${suggestions.slice(0, -1).join(', ')} or ${suggestions.at(-1)!}`;
  return `${head}: did you mean ${list}?${more ? ` (${more.trim()})` : ''}`;
}

/** The zone names this Node knows, with UTC and the fixed-offset Etc zones its list leaves out. */
function zoneNames(): string[] {
  const etc = ['UTC', 'Etc/UTC', 'Etc/GMT', ...Array.from({ length: 12 }, (_, i) => `Etc/GMT+${i + 1}`), ...Array.from({ length: 14 }, (_, i) => `Etc/GMT-${i + 1}`)];
  return [...new Set([...Intl.supportedValuesOf('timeZone'), ...etc])];
}

/** The names closest to a wrong one (case aside): a zone whose place is the name given, else those a few letters away. */
function closestZones(tz: string, known: string[]): string[] {
  const wanted = tz.trim().toLowerCase().replace(/ /g, '_');
  const place = known.filter((k) => k.toLowerCase().split('/').at(-1) === wanted);
  if (place.length > 0) return place.slice(0, 3);
  const scored = known.map((k) => ({ k, d: editDistance(wanted, k.toLowerCase()) })).filter((x) => x.d <= Math.max(2, Math.floor(wanted.length / 4)));
  scored.sort((a, b) => a.d - b.d || a.k.localeCompare(b.k));
  return scored.slice(0, 3).map((x) => x.k);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** ISO-8601 dates and times; a time without an offset is UTC, as schedules' times are (not the machine's zone). */
const ISO_TIME = /^(?<year>\d{4})-(?<month>\d\d)-(?<day>\d\d)(?<time>T(?<hour>\d\d):(?<minute>\d\d)(:(?<second>\d\d)(\.\d{1,9})?)?(?<offset>Z|[+-](?<offsetHour>\d\d):?(?<offsetMinute>\d\d))?)?$/i;

export function isoDate(value: string, flag: string): Date {
  const text = value.trim();
  const parts = ISO_TIME.exec(text)?.groups;
  // Date() rolls an impossible day or hour over (2025-02-30 is 2 March, T24:00 the next day): refused, not read as another time.
  const date = parts && isRealTime(parts) ? new Date(parts.time && !parts.offset ? `${text}Z` : text) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${flag} ${JSON.stringify(value)} is not a date: use ISO-8601, e.g. 2025-01-31T00:00:00Z`);
  return date;
}

/** Whether the written day exists in its month (and year) and the time of day and offset are within their ranges. */
function isRealTime(p: Record<string, string | undefined>): boolean {
  const [year, month, day] = [Number(p.year), Number(p.month), Number(p.day)];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const within = (v: string | undefined, max: number) => v === undefined || Number(v) <= max;
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && within(p.hour, 23) && within(p.minute, 59) && within(p.second, 59) && within(p.offsetHour, 23) && within(p.offsetMinute, 59);
}

interface DescribeView {
  scheduleId: string;
  url?: string;
  what?: string;
  cron?: string[];
  every?: string;
  timeZone: string;
  overlap: string;
  paused: boolean;
  note?: string;
  actionsTaken: number;
  skippedForOverlap: number;
  nextRuns: string[];
  recent: { scheduledAt: string; takenAt: string; workflowId: string }[];
  running: string[];
}

function describeView(d: ScheduleDescription, url: string | undefined): DescribeView {
  const memo = settingsOf(d);
  const every = memo.every ?? d.spec.intervals?.map((i) => `${Math.round(Number(i.every) / 1000)}s`)[0];
  return {
    scheduleId: d.scheduleId,
    ...(url ? { url } : {}),
    ...(memo.what ? { what: memo.what } : {}),
    ...(memo.cron ? { cron: memo.cron } : {}),
    ...(every ? { every } : {}),
    // The server answers "" for a schedule created without a time zone: its times are UTC.
    timeZone: d.spec.timezone || 'UTC',
    overlap: d.policies.overlap ?? 'SKIP',
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    actionsTaken: d.info.numActionsTaken,
    skippedForOverlap: d.info.numActionsSkippedOverlap,
    nextRuns: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
    recent: d.info.recentActions.map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), takenAt: a.takenAt.toISOString(), workflowId: a.action.workflow.workflowId })),
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
  };
}

function describeLines(v: DescribeView): string[] {
  return [
    `schedule ${v.scheduleId}${v.paused ? ' (PAUSED)' : ''}`,
    ...(v.what ? [`action:    ${v.what}`] : []),
    `when:      ${v.cron ? `cron ${v.cron.join(' | ')}` : `every ${v.every ?? '?'}`} (${v.timeZone})`,
    `overlap:   ${v.overlap}`,
    ...(v.note ? [`note:      ${v.note}`] : []),
    `taken:     ${v.actionsTaken} action(s), ${v.skippedForOverlap} skipped for overlap`,
    `next runs: ${v.paused ? 'none while paused' : v.nextRuns.join(', ') || 'none'}`,
    ...v.recent.map((r) => `recent:    ${r.takenAt} ${r.workflowId}`),
    ...(v.url ? [`ui:        ${v.url}`] : []),
  ];
}

/** How many tables a schedule's description names: its memo and its summary are shown whole by describe and the UI. */
const TABLES_NAMED = 10;

/** The first tables of a schedule's sync, and how many there are. */
function tablesNamed(tables: string[]): string {
  return tables.length <= TABLES_NAMED ? tables.join(', ') : `${tables.slice(0, TABLES_NAMED).join(', ')}, ... (${tables.length} tables)`;
}
