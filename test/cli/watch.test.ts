/**
 * `lakesync status --watch` while a cycle runs: progress bars redrawn in a pseudo-terminal
 * (tmux), plain change lines in a pipe, JSON lines with --json; and the live per-table view.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/devserver';
import type { StatusView } from '../../src/cli/progress';
import { CLI, type Cluster, ROOT, eventually, fakeConfig, json, runCli, runCliInProcess, startCluster, tempDir, writeConfig } from './helpers';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

describe('lakesync status --watch', () => {
  const tmp = tempDir('watch');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  const socket = `lakesync-watch-${process.pid}`;
  let cluster: Cluster | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

  before(async () => {
    const port = await freePort();
    // Four tables, two at a time, 8 s each: a cycle long enough to watch, with room for the watch
    // process started once a table is seen loading, which can take several seconds to start while
    // the other lane of the suite keeps both cores busy. `long` runs 10 s a table, so its cycle
    // outlasts the several status reads (two of them CLI processes) the one-shot test makes.
    writeConfig(configFile, fakeConfig(`127.0.0.1:${port}`, 'cli-watch-test', {
      slow: { source: { kind: 'fake', tables: 4, latencyMs: 8000 }, concurrency: 2 },
      long: { source: { kind: 'fake', tables: 4, latencyMs: 10_000 }, concurrency: 2 },
    }));
    cluster = await startCluster({ dbFile: join(tmp.dir, 'temporal.db'), port, configFile });
  });

  after(async () => {
    if (hasTmux) spawnSync('tmux', ['-L', socket, 'kill-server']);
    await cluster?.stop();
    tmp.remove();
  });

  /**
   * `lakesync status <source> --json`, run in this process: the waits poll with it, as a CLI process
   * of its own can take longer to start on a busy machine than a table takes to load.
   */
  async function statusView(source: string): Promise<StatusView> {
    return json<StatusView>(await runCliInProcess(['status', source, '--json', '--config', configFile], tmp.dir));
  }

  /** Starts a sync and waits until its cycle is loading tables. */
  async function startCycle(source = 'slow'): Promise<void> {
    assert.equal((await cli('sync', source)).code, 0);
    await eventually('a loading table', async () => {
      const view = await statusView(source);
      return view.tables.some((t) => t.state === 'loading') ? view : undefined;
    });
  }

  it('status (once) shows each running table with its phase, run state and elapsed time', async () => {
    await startCycle('long');
    // Read at once, in this process: a CLI process of its own may start so late on a busy machine
    // that the first two tables have committed and the next two not yet begun loading.
    const view = json<StatusView & { links: { cycle?: string } }>(await runCliInProcess(['status', 'long', '--json', '--config', configFile], tmp.dir));
    const text = await cli('status', 'long');
    assert.match(text.stdout, /long: running cycle .* \(sync\), phase load, \d\/4 tables/);
    assert.match(text.stdout, /TABLE\s+PHASE\s+RUN\s+ROWS\s+ELAPSED\s+ERROR/);
    assert.equal(view.phase, 'running');
    assert.equal(view.cycle!.kind, 'sync');
    assert.equal(view.cycle!.tables, 4);
    assert.match(view.links.cycle!, /workflows\/lakesync%2Flong%2Fcycle-/);
    const loading = view.tables.filter((t) => t.state === 'loading');
    assert.ok(loading.length >= 1 && loading.length <= 2, `concurrency 2: ${JSON.stringify(view.tables)}`);
    for (const t of loading) assert.equal(typeof t.elapsedMs, 'number');
    // The run state comes from the load activity's heartbeat (Glue's word on AWS).
    await eventually('a run state', async () => {
      const again = await statusView('long');
      return again.tables.find((t) => t.state === 'loading' && /^running$/i.test(t.runState ?? ''));
    }, 15_000);
    await waitIdle('long');
  });

  it('in a terminal: progress bars redrawn in place, then the cycle\'s outcome; exit 0', async (t) => {
    if (!hasTmux) {
      t.skip('tmux is not installed');
      return;
    }
    await startCycle();
    const command = `${process.execPath} ${CLI} status slow --watch --interval 300 --config ${configFile}; echo "EXIT=$?"; sleep 60`;
    tmux('new-session', '-d', '-s', 'watch', '-x', '120', '-y', '40', '-c', ROOT, command);
    const frames: string[] = [];
    const screen = await eventually('the watch to finish', async () => {
      const pane = tmux('capture-pane', '-p', '-t', 'watch');
      frames.push(pane);
      return /EXIT=\d/.test(pane) ? pane : undefined;
    }, 90_000, 400);
    const during = frames.find((f) => /loading/.test(f) && /█/.test(f));
    assert.ok(during, `no frame showed a loading table with a bar:\n${frames.slice(0, 5).join('\n---\n')}`);
    assert.match(during, /\[[█░]{10,}\] \d\/4 tables/);
    assert.match(during, /TABLE\s+PROGRESS\s+PHASE\s+RUN/);
    assert.match(screen, /EXIT=0/);
    assert.match(screen, /last cycle .* \(sync\) succeeded: 4 committed, 0 failed/);
    // Redrawn in place: the header appears once on the final screen, not once per read.
    assert.equal(screen.match(/TABLE\s+PROGRESS/g)?.length ?? 0, 1, screen);
  });

  it('in a pipe: one plain line per change, no terminal codes; exit 0', async () => {
    await startCycle();
    const run = await runCli(['status', 'slow', '--watch', '--interval', '300', '--config', configFile], { timeoutMs: 90_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /\x1b/, 'no escape codes');
    assert.doesNotMatch(run.stdout, /█/);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ slow: cycle .* \(sync\) phase (load|plan|discover|export|snapshot|settings|starting)/);
    for (const table of ['public.t0001', 'public.t0004']) {
      assert.ok(lines.some((l) => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ${table.replace('.', '\\.')} committed`).test(l)), `${table} committed:\n${run.stdout}`);
    }
    assert.ok(lines.some((l) => / public\.t000\d loading/.test(l)), run.stdout);
    // Each table's "committed" line appears once.
    assert.equal(lines.filter((l) => / public\.t0003 committed/.test(l)).length, 1);
    assert.match(lines.at(-1)!, /^last cycle .* \(sync\) succeeded: 4 committed, 0 failed, 0 skipped/);
  });

  it('with --json: one JSON object per read, the last one idle', async () => {
    await startCycle();
    const run = await runCli(['status', 'slow', '--watch', '--json', '--interval', '500', '--config', configFile], { timeoutMs: 90_000 });
    assert.equal(run.code, 0, run.stderr);
    const views = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as StatusView);
    assert.ok(views.length >= 3, `${views.length} reads`);
    assert.equal(views[0]!.phase, 'running');
    assert.equal(views.at(-1)!.phase, 'idle');
    assert.equal(views.at(-1)!.status!.lastCycle!.status, 'succeeded');
  });

  async function waitIdle(source = 'slow'): Promise<void> {
    await eventually('the source to be idle', async () => {
      const view = await statusView(source);
      return view.phase === 'idle' && view.queued === 0 ? view : undefined;
    }, 90_000, 500);
    await delay(10);
  }
});
