/**
 * `lakesync schedule` against a real Temporal server: create -> trigger -> a cycle runs;
 * pause stops the actions and unpause resumes them; describe, backfill, delete, and errors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/devserver';
import { type SourceStatus, TRIGGER_WORKFLOW_TYPE } from '../../src/workflows/messages';
import { type Cluster, eventually, fakeConfig, json, runCli, startCluster, tempDir, writeConfig } from './helpers';

interface Described {
  scheduleId: string;
  what: string;
  every?: string;
  cron?: string[];
  timeZone: string;
  overlap: string;
  paused: boolean;
  note?: string;
  actionsTaken: number;
  nextRuns: string[];
  recent: { workflowId: string }[];
  url?: string;
}

describe('lakesync schedule', () => {
  const tmp = tempDir('schedule');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  let cluster: Cluster | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
  const describeSchedule = async (...extra: string[]) => json<Described>(await cli('schedule', 'describe', 'shop', '--json', ...extra));
  const sourceStatus = async () => json<{ status?: SourceStatus }>(await cli('status', 'shop', '--json')).status;

  before(async () => {
    const port = await freePort();
    writeConfig(configFile, fakeConfig(`127.0.0.1:${port}`, 'cli-schedule-test', { shop: { source: { kind: 'fake', tables: 2 } } }));
    cluster = await startCluster({ dbFile: join(tmp.dir, 'temporal.db'), port, configFile });
  });

  after(async () => {
    await cluster?.stop();
    tmp.remove();
  });

  it('create -> describe -> trigger: the trigger workflow signals the source and a cycle runs', async () => {
    const created = await cli('schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'Europe/Paris', '--overlap', 'buffer-one', '--note', 'nightly');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /schedule lakesync\/shop\/sync created: sync, cron 0 2 \* \* \* \(Europe\/Paris\), overlap buffer-one/);

    const d = await describeSchedule();
    assert.equal(d.scheduleId, 'lakesync/shop/sync');
    assert.deepEqual(d.cron, ['0 2 * * *']);
    assert.equal(d.timeZone, 'Europe/Paris');
    assert.equal(d.overlap, 'BUFFER_ONE');
    assert.equal(d.paused, false);
    assert.equal(d.note, 'nightly');
    assert.equal(d.actionsTaken, 0);
    assert.equal(new Date(d.nextRuns[0]!).toLocaleString('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }), '02:00');
    assert.match(d.url!, /\/namespaces\/default\/schedules\/lakesync%2Fshop%2Fsync$/);

    const triggered = await cli('schedule', 'trigger', 'shop');
    assert.equal(triggered.code, 0, triggered.stderr);
    const cycle = await eventually('a cycle started by the schedule', async () => (await sourceStatus())?.lastCycle);
    assert.equal(cycle.status, 'succeeded');
    assert.equal(cycle.counts.committed, 2);
    const after = await describeSchedule();
    assert.equal(after.actionsTaken, 1);
    assert.match(after.recent[0]!.workflowId, /^lakesync\/shop\/trigger-sync/);
    // The firing's workflow id is the request id: a signal its retried attempt repeats is dropped as a repeat.
    assert.ok((await sourceStatus())!.recentCycles[0]!.requestIds.includes(after.recent[0]!.workflowId), JSON.stringify((await sourceStatus())!.recentCycles[0]));
    const text = await cli('schedule', 'describe', 'shop');
    assert.match(text.stdout, /^schedule lakesync\/shop\/sync$/m);
    assert.match(text.stdout, /^when: +cron 0 2 \* \* \* \(Europe\/Paris\)$/m);
  });

  it('create warns of --tables the running source has neither loaded nor failed, and creates the schedule all the same', async () => {
    const loaded = Object.keys((await sourceStatus())!.ledger).sort();
    assert.equal(loaded.length, 2, JSON.stringify(loaded));
    const warned = await cli('schedule', 'create', 'shop', '--name', 'typo', '--every', '1h', '--paused', '--tables', `${loaded[0]},public.no_such_table`);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /^warning: --tables names public\.no_such_table, which source shop has neither loaded nor failed: it drops a scheduled sync naming a table it does not know/m);
    assert.doesNotMatch(warned.stderr, new RegExp(`names ${loaded[0]!.replace('.', '\\.')}`));
    assert.equal((await describeSchedule('--name', 'typo')).what, `sync of ${[loaded[0], 'public.no_such_table'].sort().join(', ')}`);
    const known = await cli('schedule', 'create', 'shop', '--name', 'known', '--every', '1h', '--paused', '--tables', loaded.join(','));
    assert.equal(known.code, 0, known.stderr);
    assert.doesNotMatch(known.stderr, /warning/);
    for (const name of ['typo', 'known']) assert.equal((await cli('schedule', 'delete', 'shop', '--name', name)).code, 0);
  });

  it('pause stops the actions, unpause resumes them', async () => {
    const created = await cli('schedule', 'create', 'shop', '--name', 'fast', '--every', '2s', '--rerun-failed');
    assert.equal(created.code, 0, created.stderr);
    const fast = (...args: string[]) => cli('schedule', ...args, 'shop', '--name', 'fast');
    const taken = async () => json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'fast', '--json')).actionsTaken;
    await eventually('the schedule to act', async () => ((await taken()) >= 1 ? true : undefined), 30_000, 500);

    assert.equal((await fast('pause', '--note', 'maintenance')).code, 0);
    const paused = json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'fast', '--json'));
    assert.equal(paused.paused, true);
    assert.equal(paused.note, 'maintenance');
    await delay(1_000); // an action already under way when the pause landed
    const atPause = await taken();
    await delay(6_000); // three intervals
    assert.equal(await taken(), atPause, 'no action while paused');
    assert.match((await fast('describe')).stdout, /\(PAUSED\)[\s\S]*next runs: none while paused/);

    assert.equal((await fast('unpause')).code, 0);
    await eventually('an action after unpause', async () => ((await taken()) > atPause ? true : undefined), 30_000, 500);
    assert.equal((await fast('delete')).code, 0);
  });

  it('backfill takes the actions of a past range', async () => {
    assert.equal((await cli('schedule', 'create', 'shop', '--name', 'hourly', '--every', '1h', '--paused')).code, 0);
    const before = json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'hourly', '--json'));
    assert.equal(before.actionsTaken, 0);
    // Created without --time-zone: its times are UTC, and describe says so.
    assert.equal(before.timeZone, 'UTC');
    assert.match((await cli('schedule', 'describe', 'shop', '--name', 'hourly')).stdout, /^when: +every 1h \(UTC\)$/m);
    // A past range that starts and ends at half past: exactly three hour boundaries, whatever the clock says.
    const hour = 3600_000;
    const from = new Date(Math.floor(Date.now() / hour) * hour - 4 * hour + hour / 2);
    const to = new Date(from.getTime() + 3 * hour);
    const run = await cli('schedule', 'backfill', 'shop', '--name', 'hourly', '--from', from.toISOString(), '--to', to.toISOString(), '--overlap', 'allow-all');
    assert.equal(run.code, 0, run.stderr);
    const afterBackfill = await eventually('the backfilled actions', async () => {
      const d = json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'hourly', '--json'));
      return d.actionsTaken >= 3 ? d : undefined;
    }, 30_000, 500);
    assert.equal(afterBackfill.actionsTaken, 3, 'one per hour boundary in the 3 h range');
  });

  it('--match-both-days: Temporal runs a cron expression only on days matching both day fields (the first Monday of each month)', async () => {
    const created = await cli('schedule', 'create', 'shop', '--name', 'first-monday', '--cron', '0 2 1-7 * MON', '--match-both-days', '--paused');
    assert.equal(created.code, 0, created.stderr);
    const d = json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'first-monday', '--json'));
    assert.ok(d.nextRuns.length >= 3, JSON.stringify(d.nextRuns));
    for (const t of d.nextRuns.map((r) => new Date(r))) assert.ok(t.getUTCDay() === 1 && t.getUTCDate() <= 7, `${t.toISOString()} is a first Monday`);
    // Without the option, the crontab reading (either day) is refused before anything is made.
    const refused = await cli('schedule', 'create', 'shop', '--name', 'either', '--cron', '0 2 1 * MON');
    assert.equal(refused.code, 2, refused.stdout);
    assert.equal((await cli('schedule', 'describe', 'shop', '--name', 'either')).code, 2, 'no schedule was created');
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'first-monday')).code, 0);
  });

  it('backfill without --overlap takes every action of the range, also for a schedule that skips overlaps', async () => {
    assert.equal((await cli('schedule', 'create', 'shop', '--name', 'hourly-skip', '--every', '1h', '--paused')).code, 0);
    assert.equal(json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'hourly-skip', '--json')).overlap, 'SKIP');
    const hour = 3600_000;
    const from = new Date(Math.floor(Date.now() / hour) * hour - 4 * hour + hour / 2);
    const to = new Date(from.getTime() + 3 * hour);
    const run = await cli('schedule', 'backfill', 'shop', '--name', 'hourly-skip', '--from', from.toISOString(), '--to', to.toISOString());
    assert.equal(run.code, 0, run.stderr);
    const done = await eventually('the backfilled actions', async () => {
      const d = json<Described & { skippedForOverlap: number }>(await cli('schedule', 'describe', 'shop', '--name', 'hourly-skip', '--json'));
      return d.actionsTaken + d.skippedForOverlap >= 3 ? d : undefined;
    }, 30_000, 500);
    await delay(2_000); // actions still buffered
    const d = json<Described & { skippedForOverlap: number }>(await cli('schedule', 'describe', 'shop', '--name', 'hourly-skip', '--json'));
    assert.deepEqual({ taken: d.actionsTaken, skipped: d.skippedForOverlap }, { taken: 3, skipped: 0 }, `one per hour boundary in the 3 h range (first seen: ${done.actionsTaken} taken, ${done.skippedForOverlap} skipped)`);
    assert.match(run.stdout, /backfill .* requested: every action of the range, one after another \(overlap buffer-all\)/);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'hourly-skip')).code, 0);
  });

  it('the same tables in another order or repeated, or the same cron expressions in another order, are the same settings', async () => {
    const first = await cli('schedule', 'create', 'shop', '--name', 'some', '--cron', '0 4 * * *', '--cron', '0 16 * * *', '--tables', 'public.b,public.a', '--paused');
    assert.equal(first.code, 0, first.stderr);
    const again = await cli('schedule', 'create', 'shop', '--name', 'some', '--cron', '0 16 * * *', '--cron', '0 4 * * *', '--tables', 'public.a,public.b,public.a', '--paused');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /schedule lakesync\/shop\/some exists already with these settings: nothing changed/);
    const other = await cli('schedule', 'create', 'shop', '--name', 'some', '--cron', '0 4 * * *', '--cron', '0 16 * * *', '--tables', 'public.a', '--paused');
    assert.equal(other.code, 2, other.stdout);
    assert.match(other.stderr, /exists with other settings \(action sync of public\.(a, public\.b|b, public\.a)\)/);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'some')).code, 0);
  });

  it('the same interval in another unit, a time zone by another of its names, or a cron expression spaced otherwise, are the same settings', async () => {
    const every = await cli('schedule', 'create', 'shop', '--name', 'hourly-same', '--every', '60m', '--paused');
    assert.equal(every.code, 0, every.stderr);
    const everyAgain = await cli('schedule', 'create', 'shop', '--name', 'hourly-same', '--every', '1h', '--paused');
    assert.equal(everyAgain.code, 0, everyAgain.stderr);
    assert.match(everyAgain.stdout, /schedule lakesync\/shop\/hourly-same exists already with these settings: nothing changed/);
    const everyOther = await cli('schedule', 'create', 'shop', '--name', 'hourly-same', '--every', '2h', '--paused');
    assert.equal(everyOther.code, 2, everyOther.stdout);
    assert.match(everyOther.stderr, /exists with other settings \(every 60m\)/);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'hourly-same')).code, 0);

    const zoned = await cli('schedule', 'create', 'shop', '--name', 'zoned', '--cron', '0 4 * * *', '--time-zone', 'UTC', '--paused');
    assert.equal(zoned.code, 0, zoned.stderr);
    for (const args of [['--time-zone', 'Etc/UTC'], []]) {
      const again = await cli('schedule', 'create', 'shop', '--name', 'zoned', '--cron', '0  4 * * * ', ...args, '--paused');
      assert.equal(again.code, 0, `${args.join(' ')}: ${again.stderr}`);
      assert.match(again.stdout, /exists already with these settings: nothing changed/);
    }
    const otherZone = await cli('schedule', 'create', 'shop', '--name', 'zoned', '--cron', '0 4 * * *', '--time-zone', 'Europe/Paris', '--paused');
    assert.equal(otherZone.code, 2, otherZone.stdout);
    assert.match(otherZone.stderr, /exists with other settings \(time zone UTC\)/);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'zoned')).code, 0);

    const linked = await cli('schedule', 'create', 'shop', '--name', 'linked', '--cron', '0 4 * * *', '--time-zone', 'Asia/Kolkata', '--paused');
    assert.equal(linked.code, 0, linked.stderr);
    const linkedAgain = await cli('schedule', 'create', 'shop', '--name', 'linked', '--cron', '0 4 * * *', '--time-zone', 'Asia/Calcutta', '--paused');
    assert.equal(linkedAgain.code, 0, linkedAgain.stderr);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'linked')).code, 0);
  });

  it('trigger says what the schedule did: started, skipped for overlap (exit 1), or buffered', async () => {
    // A task queue no worker polls: the trigger workflow of the first action stays running.
    const idleConfig = join(tmp.dir, 'idle.yaml');
    writeConfig(idleConfig, fakeConfig(cluster!.server.address, 'cli-schedule-no-worker', { shop: { source: { kind: 'fake', tables: 2 } } }));
    const idle = (...args: string[]) => runCli(['schedule', ...args, 'shop', '--name', 'stuck', '--config', idleConfig]);
    assert.equal((await idle('create', '--every', '1d', '--paused')).code, 0);
    try {
      // Temporal follows a started action only under a policy other than allow-all (the default of trigger).
      const first = await idle('trigger', '--overlap', 'skip');
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /schedule lakesync\/shop\/stuck triggered: started lakesync\/shop\/trigger-stuck/);

      const skipped = await idle('trigger', '--overlap', 'skip');
      assert.equal(skipped.code, 1, skipped.stdout + skipped.stderr);
      assert.doesNotMatch(skipped.stdout, /triggered/);
      assert.match(skipped.stderr, /skipped.*lakesync\/shop\/trigger-stuck.* still runs/);
      assert.match(skipped.stderr, /cli-schedule-no-worker/);

      const buffered = await idle('trigger', '--overlap', 'buffer-one');
      assert.equal(buffered.code, 0, buffered.stderr);
      assert.match(buffered.stdout, /buffered: it starts when .*lakesync\/shop\/trigger-stuck.* ends/);

      const d = json<Described & { skippedForOverlap: number }>(await idle('describe', '--json'));
      assert.deepEqual({ taken: d.actionsTaken, skipped: d.skippedForOverlap }, { taken: 1, skipped: 1 });
    } finally {
      await idle('delete');
      for await (const wf of cluster!.client.workflow.list({ query: 'TaskQueue = "cli-schedule-no-worker" AND ExecutionStatus = "Running"' })) {
        await cluster!.client.workflow.getHandle(wf.workflowId, wf.runId).terminate('test over');
      }
    }
  });

  it('a sync of many tables: its description names the first ten; more tables than a request may name are refused, and no schedule is left', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `public.t${i}`);
    const created = await cli('schedule', 'create', 'shop', '--name', 'many', '--every', '1h', '--paused', '--tables', many.join(','), '--json');
    assert.equal(created.code, 0, created.stderr);
    const d = await describeSchedule('--name', 'many');
    const sorted = [...many].sort();
    assert.equal(d.what, `sync of ${sorted.slice(0, 10).join(', ')}, ... (40 tables)`);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'many')).code, 0);

    const tooMany = Array.from({ length: 10_001 }, (_, i) => `p.t${i}`);
    const refused = await cli('schedule', 'create', 'shop', '--name', 'toomany', '--every', '1h', '--tables', tooMany.join(','));
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(refused.stderr, /--tables names 10001 tables: a request names at most 10000 \(the source would drop every action of this schedule\)/);
    const missing = await cli('schedule', 'describe', 'shop', '--name', 'toomany');
    assert.notEqual(missing.code, 0);
  });

  it('--tables naming a table longer than a request may name is refused before the schedule is created: no schedule, no trigger', async () => {
    const long = `public.${'x'.repeat(320)}`;
    const refused = await cli('schedule', 'create', 'shop', '--name', 'longname', '--every', '1h', '--tables', `public.a,${long}`);
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(refused.stderr, /--tables: table names are at most 300 characters .*got "public\.x{193}\.\.\. \(327 characters\)"/);
    const missing = await cli('schedule', 'describe', 'shop', '--name', 'longname');
    assert.equal(missing.code, 2, missing.stdout);
    assert.match(missing.stderr, /no schedule lakesync\/shop\/longname/);
    const triggers = cluster!.client.workflow.list({ query: `WorkflowId STARTS_WITH "lakesync/shop/trigger-longname"` });
    for await (const w of triggers) assert.fail(`no trigger workflow runs for a refused schedule, found ${w.workflowId}`);
  });

  it('a cron expression that never fires (a day its month does not have) is refused, and no schedule is left', async () => {
    const never = await cli('schedule', 'create', 'shop', '--name', 'never', '--cron', '0 2 30 2 *');
    assert.equal(never.code, 2, never.stderr);
    assert.match(never.stderr, /--cron "0 2 30 2 \*" never fires/);
    const gone = await cli('schedule', 'describe', 'shop', '--name', 'never');
    assert.equal(gone.code, 2, gone.stdout);
    assert.match(gone.stderr, /no schedule lakesync\/shop\/never/);
  });

  it('--time-zone with --every is refused: an interval counts from the Unix epoch, in no time zone', async () => {
    const run = await cli('schedule', 'create', 'shop', '--name', 'daily', '--every', '1d', '--time-zone', 'Europe/Paris');
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /--time-zone applies to --cron only/);
    assert.equal((await cli('schedule', 'describe', 'shop', '--name', 'daily')).code, 2, 'no schedule was created');
  });

  it('creating a schedule again with the same settings succeeds and changes nothing (a deploy script may run it each time)', async () => {
    const args = ['schedule', 'create', 'shop', '--name', 'again', '--cron', '0 4 * * *', '--overlap', 'buffer-one', '--paused'];
    assert.equal((await cli(...args)).code, 0);
    const second = await cli(...args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /schedule lakesync\/shop\/again exists already with these settings/);
    const d = json<Described>(await cli('schedule', 'describe', 'shop', '--name', 'again', '--json'));
    assert.equal(d.paused, true);
    assert.equal(d.overlap, 'BUFFER_ONE');
    // Asked paused again once it was unpaused: nothing is changed, and the answer says it runs.
    assert.equal((await cli('schedule', 'unpause', 'shop', '--name', 'again')).code, 0);
    const unpaused = await cli(...args);
    assert.equal(unpaused.code, 0, unpaused.stderr);
    assert.match(unpaused.stdout, /exists already with these settings: nothing changed \(it is not paused, though --paused was given: lakesync schedule pause shop --name again\)/);
    assert.equal((await cli('schedule', 'pause', 'shop', '--name', 'again')).code, 0);
    // Other settings under the same name are refused, the schedule left as it was.
    const other = await cli('schedule', 'create', 'shop', '--name', 'again', '--cron', '0 4 * * *', '--overlap', 'skip');
    assert.equal(other.code, 2, other.stdout);
    assert.match(other.stderr, /schedule lakesync\/shop\/again exists with other settings \(overlap BUFFER_ONE\)/);
    // When it acts and its overlap change in place, with the command the refusal gives; create then finds its settings.
    const hint = /to change them in place, keeping its state and history: lakesync schedule update shop --name again --cron "0 4 \* \* \*" --time-zone UTC --overlap skip;/;
    assert.match(other.stderr, hint);
    const updated = await cli('schedule', 'update', 'shop', '--name', 'again', '--cron', '0 4 * * *', '--time-zone', 'UTC', '--overlap', 'skip');
    assert.equal(updated.code, 0, updated.stderr);
    assert.match((await cli('schedule', 'create', 'shop', '--name', 'again', '--cron', '0 4 * * *', '--overlap', 'skip')).stdout, /exists already with these settings: nothing changed \(it is paused/);
    // Another action means creating it again: a paused schedule stays paused only when created again with --paused.
    const rerun = await cli('schedule', 'create', 'shop', '--name', 'again', '--cron', '0 4 * * *', '--overlap', 'skip', '--rerun-failed');
    assert.equal(rerun.code, 2, rerun.stdout);
    assert.match(rerun.stderr, /exists with other settings \(action sync\): to change its action, delete it \(lakesync schedule delete shop --name again\) and create it again with --paused, as it is paused now/);
    assert.equal((await cli('schedule', 'delete', 'shop', '--name', 'again')).code, 0);
  });

  it('update changes when a schedule acts and its overlap in place: its action, pause, note and counts stay, and create then sees the new settings', async () => {
    const name = ['--name', 'moved'];
    const created = await cli('schedule', 'create', 'shop', ...name, '--cron', '0 2 * * *', '--time-zone', 'Europe/Paris', '--paused', '--note', 'nightly');
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await cli('schedule', 'trigger', 'shop', ...name)).code, 0);
    await eventually('the triggered action', async () => ((await describeSchedule(...name)).actionsTaken === 1 ? true : undefined), 30_000, 500);

    const moved = await cli('schedule', 'update', 'shop', ...name, '--cron', '30 4 * * *');
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /schedule lakesync\/shop\/moved updated: sync, cron 30 4 \* \* \* \(Europe\/Paris\), overlap SKIP; it is paused/);
    const d = await describeSchedule(...name);
    assert.deepEqual({ cron: d.cron, timeZone: d.timeZone, what: d.what, overlap: d.overlap, paused: d.paused, note: d.note, taken: d.actionsTaken }, { cron: ['30 4 * * *'], timeZone: 'Europe/Paris', what: 'sync', overlap: 'SKIP', paused: true, note: 'nightly', taken: 1 });
    assert.equal(new Date(d.nextRuns[0]!).toLocaleString('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }), '04:30', 'the server acts at the new time');

    const zoned = await cli('schedule', 'update', 'shop', ...name, '--time-zone', 'Asia/Tokyo', '--overlap', 'buffer-one', '--note', 'moved to Tokyo');
    assert.equal(zoned.code, 0, zoned.stderr);
    const z = await describeSchedule(...name);
    assert.deepEqual({ cron: z.cron, timeZone: z.timeZone, overlap: z.overlap, note: z.note }, { cron: ['30 4 * * *'], timeZone: 'Asia/Tokyo', overlap: 'BUFFER_ONE', note: 'moved to Tokyo' });
    assert.equal(new Date(z.nextRuns[0]!).toLocaleString('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' }), '04:30');

    // A deploy script's create with the settings as they are now changes nothing; with the old ones, it says what differs.
    const same = await cli('schedule', 'create', 'shop', ...name, '--cron', '30 4 * * *', '--time-zone', 'Asia/Tokyo', '--overlap', 'buffer-one', '--paused');
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /exists already with these settings: nothing changed/);
    const old = await cli('schedule', 'create', 'shop', ...name, '--cron', '0 2 * * *', '--time-zone', 'Europe/Paris', '--overlap', 'buffer-one', '--paused');
    assert.equal(old.code, 2, old.stdout);
    assert.match(old.stderr, /exists with other settings \(cron 30 4 \* \* \*, time zone Asia\/Tokyo\)/);

    // From cron expressions to an interval: the time zone no longer applies, and is said to go.
    const every = await cli('schedule', 'update', 'shop', ...name, '--every', '6h');
    assert.equal(every.code, 0, every.stderr);
    assert.match(every.stdout, /updated: sync, every 6h, overlap BUFFER_ONE \(its time zone Asia\/Tokyo no longer applies/);
    const e = await describeSchedule(...name);
    assert.deepEqual({ every: e.every, cron: e.cron, timeZone: e.timeZone, taken: e.actionsTaken }, { every: '6h', cron: undefined, timeZone: 'UTC', taken: 1 });
    assert.equal(new Date(e.nextRuns[1]!).getTime() - new Date(e.nextRuns[0]!).getTime(), 6 * 3_600_000);
    assert.equal((await cli('schedule', 'delete', 'shop', ...name)).code, 0);
  });

  it('a schedule made before its settings were kept with its action (in its own memo only) is described, found the same by create, and updated', async () => {
    await cluster!.client.schedule.create({
      scheduleId: 'lakesync/shop/older',
      spec: { cronExpressions: ['0 2 * * *'] },
      action: {
        type: 'startWorkflow',
        workflowType: TRIGGER_WORKFLOW_TYPE,
        workflowId: 'lakesync/shop/trigger-older',
        taskQueue: 'cli-schedule-test',
        args: [{ source: 'shop', taskQueue: 'cli-schedule-test', sync: { requestedBy: 'schedule lakesync/shop/older' } }],
      },
      memo: { lakesync: { source: 'shop', name: 'older', what: 'sync', cron: ['0 2 * * *'] } },
      state: { paused: true },
    });
    const name = ['--name', 'older'];
    assert.deepEqual((await describeSchedule(...name)).cron, ['0 2 * * *']);
    assert.match((await cli('schedule', 'create', 'shop', ...name, '--cron', '0 2 * * *', '--paused')).stdout, /exists already with these settings: nothing changed/);
    const updated = await cli('schedule', 'update', 'shop', ...name, '--cron', '0 5 * * *');
    assert.equal(updated.code, 0, updated.stderr);
    assert.deepEqual((await describeSchedule(...name)).cron, ['0 5 * * *']);
    assert.match((await cli('schedule', 'create', 'shop', ...name, '--cron', '0 5 * * *', '--paused')).stdout, /exists already with these settings: nothing changed/);
    assert.equal((await cli('schedule', 'create', 'shop', ...name, '--cron', '0 2 * * *', '--paused')).code, 2);
    assert.equal((await cli('schedule', 'delete', 'shop', ...name)).code, 0);
  });

  it('update refuses what it cannot do before changing anything: nothing to change, a zone for an interval, a cron that never fires, a missing schedule', async () => {
    const name = ['--name', 'guarded'];
    assert.equal((await cli('schedule', 'create', 'shop', ...name, '--every', '1h', '--paused')).code, 0);
    const before = await describeSchedule(...name);
    const refusals: [string[], RegExp][] = [
      [[], /schedule update needs what to change: --cron <expression>, --every <duration>, --time-zone <iana> or --overlap <policy>/],
      [['--time-zone', 'Europe/Paris'], /--time-zone applies to --cron only: an --every interval counts from the Unix epoch/],
      [['--cron', '0 2 * * *', '--every', '1h'], /give --cron or --every, not both/],
      [['--every', '2x'], /--every "2x": use a number and a unit/],
      [['--cron', '0 2 * * *', '--time-zone', 'europe/paris'], /--time-zone "europe\/paris" is not an IANA time zone name: did you mean Europe\/Paris\?/],
      [['--cron', '0 2 1 * MON'], /--match-both-days/],
      [['--cron', '0 2 30 2 *'], /--cron "0 2 30 2 \*" never fires: .* the schedule was left as it was/],
      [['--cron', '0 2 30 2 *', '--overlap', 'allow-all'], /never fires/],
    ];
    for (const [args, message] of refusals) {
      const run = await cli('schedule', 'update', 'shop', ...name, ...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`);
      assert.match(run.stderr, message, args.join(' '));
      const now = await describeSchedule(...name);
      assert.deepEqual({ every: now.every, cron: now.cron, timeZone: now.timeZone, overlap: now.overlap, firing: now.nextRuns.length > 0 }, { every: before.every, cron: before.cron, timeZone: before.timeZone, overlap: before.overlap, firing: true }, `${args.join(' ')} left the schedule as it was`);
    }
    assert.equal((await cli('schedule', 'delete', 'shop', ...name)).code, 0);
    const missing = await cli('schedule', 'update', 'shop', ...name, '--every', '2h');
    assert.equal(missing.code, 2, missing.stdout);
    assert.match(missing.stderr, /no schedule lakesync\/shop\/guarded: create it with/);
  });

  it('a second create with the same name, and any verb on a missing schedule, are usage errors', async () => {
    const again = await cli('schedule', 'create', 'shop', '--cron', '0 3 * * *');
    assert.equal(again.code, 2);
    assert.match(again.stderr, /schedule lakesync\/shop\/sync exists with other settings \(cron 0 2 \* \* \*/);
    assert.equal((await cli('schedule', 'delete', 'shop')).code, 0);
    for (const verb of ['describe', 'pause', 'unpause', 'trigger', 'delete']) {
      const run = await cli('schedule', verb, 'shop');
      assert.equal(run.code, 2, verb);
      assert.match(run.stderr, /no schedule lakesync\/shop\/sync: create it with/);
    }
    const badCron = await cli('schedule', 'create', 'shop', '--cron', '99 99 * * *');
    assert.equal(badCron.code, 2, badCron.stderr);
    assert.match(badCron.stderr, /the Temporal server refused the schedule/);
  });
});
