/**
 * sync, rerun, plan, status, watermarks against a real Temporal dev server and a worker on the
 * fake backend; a sync started with the Temporal CLI; a rerun sent by another process with
 * signal-with-start (examples/service-rerun.mjs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../src/devserver';
import { runCli as runCliInProcess } from '../../src/cli/main';
import type { CycleResult, PlanEntry } from '../../src/model';
import type { Ports } from '../../src/ports';
import type { FakeState } from '../../src/fake/state';
import { toolchain } from '../../src/toolchain';
import type { SourceStatus } from '../../src/workflows/messages';
import type { PlanReport } from '../../src/cli/plan-view';
import { type Cluster, ROOT, cliEnv, eventually, fakeConfig, json, runCli, startCluster, tempDir, writeConfig } from './helpers';

const exec = promisify(execFile);

describe('lakesync sync, rerun, plan, status, watermarks', () => {
  const tmp = tempDir('sync');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  const stateDir = join(tmp.dir, 'fake-state');
  const stateFile = join(stateDir, 'fake-state.json');
  const taskQueue = 'cli-sync-test';
  let cluster: Cluster | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);

  before(async () => {
    const port = await freePort();
    writeConfig(
      configFile,
      fakeConfig(`127.0.0.1:${port}`, taskQueue, {
        shop: {
          source: {
            kind: 'fake',
            tables: ['public.a', 'public.b', 'public.c', 'public.secret_pii'],
            latencyMs: 50,
            stateDir,
            // b and c fail once (not retryable), so the first cycle is partial and a rerun fixes them.
            failures: [
              { table: 'public.b', phase: 'load', times: 1, retryable: false, message: 'b breaks once' },
              { table: 'public.c', phase: 'load', times: 1, retryable: false, message: 'c breaks once' },
            ],
          },
          exclude: ['*.*_pii'],
          tables: { 'public.a': { primaryKey: ['id'] } },
        },
        cli: { source: { kind: 'fake', tables: 2 } },
        // Its snapshot always fails: no table is reached, so the cycle fails as a whole.
        broken: { source: { kind: 'fake', tables: 1, failures: [{ table: '*', phase: 'snapshot', times: 'always', retryable: false, message: 'snapshot refused' }] } },
      }),
    );
    // The dev server listens on the port the config names.
    cluster = await startCluster({ dbFile: join(tmp.dir, 'temporal.db'), port, configFile });
  });

  after(async () => {
    await cluster?.stop();
    tmp.remove();
  });

  it('plan before any sync: every included table is new, the excluded one names its rule, and no port is called', async () => {
    const run = await cli('plan', 'shop', '--json');
    assert.equal(run.code, 0, run.stderr);
    const plan = json<PlanReport>(run);
    const byTable = Object.fromEntries(plan.rows.map((r) => [r.table, r]));
    assert.equal(byTable['public.a']!.action, 'create');
    assert.equal(byTable['public.a']!.lakeTable, 'shop.a');
    assert.deepEqual(byTable['public.a']!.primaryKey, ['id']);
    assert.equal(byTable['public.a']!.keyFrom, 'configured');
    assert.equal(byTable['public.b']!.action, 'create');
    assert.equal(byTable['public.secret_pii']!.action, 'skip');
    assert.equal(byTable['public.secret_pii']!.excludedBy, 'exclude *.*_pii');
    assert.equal(existsSync(stateFile), false, 'plan must not touch the backend');
  });

  let firstCycle: CycleResult;

  it('sync --wait --json prints the CycleResult and exits 1 for a partial cycle', async () => {
    const run = await cli('sync', 'shop', '--wait', '--json');
    assert.equal(run.code, 1, run.stderr);
    firstCycle = json<CycleResult>(run);
    assert.equal(firstCycle.status, 'partial');
    const status = Object.fromEntries(firstCycle.tables.map((t) => [t.table, t.status]));
    assert.deepEqual(status, { 'public.a': 'committed', 'public.b': 'failed', 'public.c': 'failed', 'public.secret_pii': 'skipped' });
    assert.match(firstCycle.tables.find((t) => t.table === 'public.b')!.error!.message, /b breaks once/);
  });

  it('watermarks lists the committed table and status shows the failed ones', async () => {
    const marks = await cli('watermarks', 'shop', '--json');
    assert.equal(marks.code, 0, marks.stderr);
    const { ledger } = json<{ ledger: Record<string, { action: string; rowCount: number }> }>(marks);
    assert.deepEqual(Object.keys(ledger), ['public.a']);
    assert.equal(ledger['public.a']!.action, 'create');
    assert.equal(ledger['public.a']!.rowCount, 100);

    const text = await cli('watermarks', 'shop');
    assert.equal(text.code, 0);
    assert.match(text.stdout, /public\.a\s+create\s+100/);
    assert.match(text.stdout, /public\.b: never loaded; last error \[load\].*b breaks once/);

    const status = await cli('status', 'shop');
    assert.equal(status.code, 1, 'the last cycle is partial');
    assert.match(status.stdout, /shop: idle/);
    assert.match(status.stdout, /last cycle .* partial: 1 committed, 2 failed, 1 skipped/);
    assert.match(status.stdout, /lakesync rerun shop --failed/);
    assert.match(status.stdout, /partial cycles:\s+http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\?query=LakesyncSource/);
  });

  it('plan after the sync reads the ledger and the last export: the loaded table merges, and nothing in the backend changes', async () => {
    const before = JSON.parse(readFileSync(stateFile, 'utf8')) as FakeState;
    const run = await cli('plan', 'shop', '--json');
    assert.equal(run.code, 0, run.stderr);
    const plan = json<PlanReport>(run);
    assert.match(plan.tablesFrom, /the last export ls-shop-/);
    const rows = Object.fromEntries(plan.rows.map((r) => [r.table, r]));
    assert.equal(rows['public.a']!.action, 'merge');
    assert.match(rows['public.a']!.why, /primary key \(id\) configured/);
    assert.equal(rows['public.b']!.action, 'create');
    assert.equal(rows['public.b']!.keyFrom, 'source', 'the export reports the source key');

    // Only the read-only discovery of the last export ran: no snapshot, export, load, lake or grant call, nothing written.
    const afterState = JSON.parse(readFileSync(stateFile, 'utf8')) as FakeState;
    const { counters: countersBefore, ...restBefore } = before;
    const { counters: countersAfter, ...restAfter } = afterState;
    assert.deepEqual(restAfter, restBefore);
    const changed = Object.keys(countersAfter).filter((k) => countersAfter[k] !== countersBefore[k]).sort();
    assert.deepEqual(changed, ['discover', 'discover.available']);

    // In-process, with ports that fail every call but the reads: the two discovery reads, and the
    // catalog's partitions (the source has exclude rules, which may name a partition).
    const calls: string[] = [];
    const catalogReads = { listSourcePartitions: async () => (calls.push('export.listSourcePartitions'), {}) };
    const discover = {
      exportAvailable: async () => (calls.push('discover.exportAvailable'), true),
      discover: async () => {
        calls.push('discover.discover');
        return { database: 'fake', tables: [{ table: 'public.a', target: 'fake.public.a', columns: [], primaryKey: ['id'] }], skipped: [{ table: 'public.z', reason: 'unsupported type' }], warnings: [] };
      },
    };
    const recording = new Proxy({} as Ports, {
      get: (_t, group) => {
        if (group === 'discover') return discover;
        if (group === 'export') return new Proxy(catalogReads, { get: (reads, method) => (reads as Record<string | symbol, unknown>)[method] ?? (async () => { calls.push(`export.${String(method)}`); throw new Error(`plan called export.${String(method)}`); }) });
        if (typeof group !== 'string' || group === 'close' || group === 'then') return undefined;
        return new Proxy({}, { get: (_g, method) => async () => { calls.push(`${group}.${String(method)}`); throw new Error(`plan called ${group}.${String(method)}`); } });
      },
    });
    const out: string[] = [];
    const code = await runCliInProcess(['plan', 'shop', '--config', configFile], {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      env: cliEnv(),
      cwd: tmp.dir,
    }, { portsFor: async () => recording });
    assert.equal(code, 0, out.join(''));
    assert.deepEqual(calls, ['discover.exportAvailable', 'discover.discover', 'export.listSourcePartitions']);
    assert.match(out.join(''), /public\.a\s+shop\.a\s+merge\s+primary key \(id\) configured/);
    assert.match(out.join(''), /note: public\.z was not exported: unsupported type/);
  });

  it('rerun refuses an unknown table with exit 2 and the workflow\'s reason', async () => {
    const run = await cli('rerun', 'shop', '--tables', 'public.nope');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /rerun refused: unknown table\(s\) public\.nope/);
  });

  it('sync --tables with an unknown table is refused with exit 2 before anything runs, naming it and the known tables', async () => {
    const before = json<{ status: SourceStatus }>(await cli('status', 'shop', '--json')).status;
    const run = await cli('sync', 'shop', '--tables', 'public.a,public.nope');
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stderr, /sync refused: unknown table\(s\) public\.nope: the source's tables are public\.a, public\.b, public\.c, public\.secret_pii/);
    const after = json<{ status: SourceStatus }>(await cli('status', 'shop', '--json')).status;
    assert.equal(after.recentCycles.length, before.recentCycles.length, 'no cycle ran');
    assert.deepEqual(after.queue, [], 'nothing was queued');
  });

  it('a separate process reruns a failed table by signal-with-start (examples/service-rerun.mjs), its list read as the CLI reads one', async () => {
    const address = cluster!.server.address;
    // Typed as for the lakesync command: a space after the comma, and a trailing comma.
    const { stdout } = await exec(process.execPath, [join(ROOT, 'examples/service-rerun.mjs'), 'shop', ' public.b, '], {
      env: cliEnv({ TEMPORAL_ADDRESS: address, LAKESYNC_TASK_QUEUE: taskQueue }),
      cwd: ROOT,
    });
    const requestId = stdout.trim();
    assert.match(requestId, /^billing-/);
    const outcome = await eventually('the rerun cycle', async () => {
      const status = json<{ status: SourceStatus }>(await cli('status', 'shop', '--json')).status;
      return status.recentCycles.find((c) => c.requestIds.includes(requestId)) ?? status.ignoredRequests.find((r) => r.requestId === requestId);
    });
    assert.ok('cycleId' in outcome, `the rerun was dropped: ${JSON.stringify(outcome)}`);
    const served = outcome;
    assert.equal(served.kind, 'rerun');
    assert.equal(served.status, 'succeeded');
    assert.deepEqual(served.counts, { committed: 1, failed: 0, skipped: 3 }, 'public.b loads; the other tables are not requested');
  });

  it('rerun --failed --wait reruns what is still failed and exits 0 when it succeeds', async () => {
    const run = await cli('rerun', 'shop', '--failed', '--wait');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /rerun accepted: rerun-.* \(public\.c\)/);
    assert.match(run.stdout, /cycle .* \(rerun\) succeeded: 1 committed, 0 failed/);
    const nothing = await cli('rerun', 'shop', '--failed');
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /no table has failed/);
    const marks = json<{ ledger: Record<string, unknown> }>(await cli('watermarks', 'shop', '--json'));
    assert.deepEqual(Object.keys(marks.ledger).sort(), ['public.a', 'public.b', 'public.c']);
  });

  it('rerun --allow-older-export reaches the plan of the cycle that serves it and the load it starts; a rerun without it does not', async () => {
    const planned = async (...flags: string[]) => {
      const run = await cli('rerun', 'shop', '--tables', 'public.a', ...flags, '--wait', '--json');
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const { cycleId } = json<CycleResult>(run);
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as FakeState;
      const plan = state.manifests[`${cycleId}/plan.json`] as PlanEntry[] | undefined;
      assert.ok(plan, `cycle ${cycleId} stored its plan`);
      const loads = Object.values(state.runs).filter((r) => r.cycleId === cycleId);
      return { plan: plan.map((e) => [e.table, e.allowOlderExport]), loads: loads.map((r) => [r.table, r.request.plan.allowOlderExport]) };
    };
    assert.deepEqual(await planned('--allow-older-export'), { plan: [['public.a', true]], loads: [['public.a', true]] });
    assert.deepEqual(await planned(), { plan: [['public.a', false]], loads: [['public.a', false]] });
  });

  it('sync --tables --wait loads only those tables and exits 0; without --wait it prints the request and a UI link', async () => {
    const run = await cli('sync', 'shop', '--tables', 'public.a', '--wait', '--json');
    assert.equal(run.code, 0, run.stderr);
    const result = json<CycleResult>(run);
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(result.tables.filter((t) => t.status === 'committed').map((t) => t.table), ['public.a']);
    assert.equal(result.tables.find((t) => t.table === 'public.a')!.action, 'merge');

    const quick = await cli('sync', 'shop', '--json');
    assert.equal(quick.code, 0, quick.stderr);
    const sent = json<{ workflowId: string; requestId: string; url: string }>(quick);
    assert.equal(sent.workflowId, 'lakesync/shop');
    assert.match(sent.requestId, /^sync-/);
    assert.match(sent.url, /^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/lakesync%2Fshop\//);
  });

  it('a sync started by the Temporal CLI (workflow type, task queue, JSON input) runs a cycle', async () => {
    await exec(toolchain().temporal, [
      'workflow', 'start',
      '--address', cluster!.server.address,
      '--namespace', 'default',
      '--task-queue', taskQueue,
      '--type', 'sourceWorkflow',
      '--workflow-id', 'lakesync/cli',
      '--input', '{"source": "cli"}',
    ]);
    const last = await eventually('the first cycle of source cli', async () => json<{ status: SourceStatus }>(await cli('status', 'cli', '--json')).status?.lastCycle);
    assert.equal(last.status, 'succeeded');
    assert.equal(last.counts.committed, 2);
    assert.deepEqual(last.requestIds, ['r1'], 'the start itself requested the sync');
  });

  it('status of a source that never ran says so; rerun, watermarks and cost of it are usage errors (exit 2)', async () => {
    writeConfig(join(tmp.dir, 'other.yaml'), withExtraSource());
    const status = await runCli(['status', 'never', '--config', join(tmp.dir, 'other.yaml')]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /never: no source workflow \(lakesync\/never\) runs yet/);
    const rerun = await runCli(['rerun', 'never', '--failed', '--config', join(tmp.dir, 'other.yaml')]);
    assert.equal(rerun.code, 2);
    assert.match(rerun.stderr, /no source workflow lakesync\/never runs, so no rerun can be asked of it \(a source cancelled before takes up its saved exports and failed tables when it starts again\): run "lakesync sync never" first/);
    // Each names the same condition and the same fix, so each exits with the same code.
    const marks = await runCli(['watermarks', 'never', '--json', '--config', join(tmp.dir, 'other.yaml')]);
    assert.equal(marks.code, 2, marks.stderr);
    assert.equal(marks.stdout, '');
    assert.match(marks.stderr, /no source workflow lakesync\/never runs, so there is no ledger: run "lakesync sync never" first/);
    const cost = await runCli(['cost', 'never', '--config', join(tmp.dir, 'other.yaml')]);
    assert.equal(cost.code, 2, cost.stderr);
    assert.match(cost.stderr, /no source workflow lakesync\/never runs, so no cycle has a cost yet: run "lakesync sync never" first/);
  });

  it('status of a source whose source workflow was terminated says so and exits 1 (no sync runs any more)', async () => {
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { temporal: { taskQueue: string }; sources: Record<string, unknown> };
    config.temporal.taskQueue = 'cli-status-ended';
    config.sources = { ended: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'ended' } } };
    const file = writeConfig(join(tmp.dir, 'ended.yaml'), config);
    const started = await runCli(['sync', 'ended', '--config', file]);
    assert.equal(started.code, 0, started.stderr);
    await exec(toolchain().temporal, ['workflow', 'terminate', '--address', cluster!.server.address, '--namespace', 'default', '--workflow-id', 'lakesync/ended', '--reason', 'test']);
    const status = await runCli(['status', 'ended', '--config', file]);
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(status.stdout, /^ended: the source workflow lakesync\/ended ended \(TERMINATED at \d{4}-\d\d-\d\dT[^)]*\): no sync runs until it is started again: lakesync sync ended$/m);
    assert.doesNotMatch(status.stdout, /runs yet/);
    const asJson = await runCli(['status', 'ended', '--json', '--config', file]);
    assert.equal(asJson.code, 1);
    assert.equal(json<{ ended?: { status: string } }>(asJson).ended?.status, 'TERMINATED');
  });

  it('sync of a running source workflow no worker serves fails naming the task queue and the fix, instead of waiting for ever', async () => {
    // A task queue no worker polls: the first sync starts the source workflow, which then waits for a worker.
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { temporal: { taskQueue: string }; sources: Record<string, unknown> };
    config.temporal.taskQueue = 'cli-sync-no-worker';
    config.sources = { orphan: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'orphan' } } };
    const file = writeConfig(join(tmp.dir, 'no-worker.yaml'), config);
    const started = await runCli(['sync', 'orphan', '--config', file]);
    assert.equal(started.code, 0, started.stderr);
    const again = await runCli(['sync', 'orphan', '--config', file], { timeoutMs: 45_000 });
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stderr, /no lakesync worker answered within 15 s on task queue cli-sync-no-worker; start one with "lakesync worker"/);
  });

  it("a source workflow running on another task queue than the config's is named with its own queue, not told to start a worker that already runs", async () => {
    // The source workflow orphan2 starts on a task queue no worker polls; the config is then set back to the served one.
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { temporal: { taskQueue: string }; sources: Record<string, unknown> };
    config.sources = { orphan2: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'orphan2' } } };
    const served = writeConfig(join(tmp.dir, 'served-queue.yaml'), config);
    config.temporal.taskQueue = 'cli-sync-old-queue';
    const old = writeConfig(join(tmp.dir, 'old-queue.yaml'), config);
    const started = await runCli(['sync', 'orphan2', '--config', old]);
    assert.equal(started.code, 0, started.stderr);
    const status = await runCli(['status', 'orphan2', '--config', served], { timeoutMs: 45_000 });
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(status.stderr, /lakesync\/orphan2 runs on task queue cli-sync-old-queue, but the config names task queue cli-sync-test/);
    assert.doesNotMatch(status.stderr, /on task queue cli-sync-test; start one/);
  });

  it('sync and rerun of a source whose workflow runs on another task queue (another deployment of the same source name) are refused before anything is sent', async () => {
    // The source cli runs on this cluster's task queue, served by its worker and config.
    const started = await cli('sync', 'cli');
    assert.equal(started.code, 0, started.stderr);
    const before = await eventually('the source cli idle', async () => {
      const s = json<{ status: SourceStatus }>(await cli('status', 'cli', '--json')).status;
      return s?.phase === 'idle' && s.queue.length === 0 ? s : undefined;
    });
    // A second deployment: the same namespace and source name, its own task queue.
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { temporal: { taskQueue: string } };
    config.temporal.taskQueue = 'cli-sync-other-deployment';
    const other = writeConfig(join(tmp.dir, 'other-deployment.yaml'), config);
    const expected = /refused: lakesync\/cli runs on task queue cli-sync-test, but this config names task queue cli-sync-other-deployment: the workers on cli-sync-test would serve the request with their own config .*set temporal\.taskQueue \(or LAKESYNC_TASK_QUEUE\) to cli-sync-test; otherwise give this source another name or use another Temporal namespace/;
    const sync = await runCli(['sync', 'cli', '--config', other]);
    assert.equal(sync.code, 2, sync.stdout + sync.stderr);
    assert.match(sync.stderr, /^error: sync refused/m);
    assert.match(sync.stderr, expected);
    const rerun = await runCli(['rerun', 'cli', '--failed', '--config', other]);
    assert.equal(rerun.code, 2, rerun.stdout + rerun.stderr);
    assert.match(rerun.stderr, /^error: rerun refused/m);
    assert.match(rerun.stderr, expected);
    // Nothing reached the source workflow: no request queued, no cycle ran.
    const after = json<{ status: SourceStatus }>(await cli('status', 'cli', '--json')).status!;
    assert.deepEqual(after.queue, []);
    assert.equal(after.lastCycle?.workflowId, before.lastCycle?.workflowId);
  });

  it('sync --wait of a cycle that fails before any table (its snapshot) exits 1 and says to sync again, not to rerun failed tables', async () => {
    const run = await cli('sync', 'broken', '--wait');
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /cycle error in snapshot: .*snapshot refused/);
    assert.doesNotMatch(run.stdout, /lakesync rerun broken --failed/);
    assert.match(run.stdout, /no table failed on its own: fix the cycle error above, then sync again with: lakesync sync broken/);
  });

  it('a command on a Temporal namespace the server does not have names it, where it is set and how to create it', async () => {
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { temporal: { namespace: string } };
    config.temporal.namespace = 'no-such-ns';
    const file = writeConfig(join(tmp.dir, 'no-namespace.yaml'), config);
    for (const args of [['status', 'shop'], ['sync', 'shop'], ['schedule', 'describe', 'shop'], ['worker']]) {
      // The worker too: it ends (it used to print the SDK's error and never exit).
      const run = await runCli([...args, '--config', file], { timeoutMs: 60_000 });
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^error: the Temporal server at 127\.0\.0\.1:\d+ has no namespace "no-such-ns" \(temporal\.namespace in the config, or TEMPORAL_NAMESPACE\): create it with "temporal operator namespace create --namespace no-such-ns", or name one it has/m, args.join(' '));
    }
  });

  it("sync --tables of a table the worker's config excludes (the CLI's config includes it) is refused with the reason and what to do, exit 2, with or without --wait; never reported as served", async () => {
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { sources: { shop: { exclude?: string[] } } };
    delete config.sources.shop.exclude;
    const file = writeConfig(join(tmp.dir, 'includes-pii.yaml'), config);
    const reason = /public\.secret_pii is excluded by the worker's config \(exclude \*\.\*_pii\): a sync loads only tables the config includes; include it in lakesync\.yaml \(include and exclude of source shop\) and restart the worker, then ask again/;
    // The first may start the source workflow (signal-with-start): dropped when served, and the waiter told why, as a refusal (exit 2).
    const first = await runCli(['sync', 'shop', '--tables', 'public.secret_pii', '--wait', '--config', file], { timeoutMs: 60_000 });
    assert.equal(first.code, 2, first.stdout + first.stderr);
    assert.match(first.stderr, reason);
    assert.doesNotMatch(first.stdout, /succeeded|committed/);
    // The source workflow runs: the sync update refuses it before anything is queued.
    for (const wait of [[], ['--wait']]) {
      const run = await runCli(['sync', 'shop', '--tables', 'public.secret_pii', ...wait, '--config', file], { timeoutMs: 60_000 });
      assert.equal(run.code, 2, `sync ${wait.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /^error: sync refused: /m);
      assert.match(run.stderr, reason);
      assert.doesNotMatch(run.stdout, /sync requested/);
    }
  });

  function withExtraSource(): unknown {
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { sources: Record<string, unknown> };
    config.sources.never = { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'never' } };
    return config;
  }
});
