/**
 * The embedded mode's ports that need no Spark: snapshots, export tasks (real PGlite export),
 * discover, manifests, the grant store, load-run records and the job arguments of a load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import type { SourceConfig } from '../../src/config/schema';
import { PortError } from '../../src/errors';
import type { ExportRef, LoadRequest } from '../../src/model';
import type { Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';
import { localSettings } from '../../src/backends/local';
import { createLocalPorts } from '../../src/local';
import { readJsonIfExists } from '../../src/local/files';
import { createGrantPort } from '../../src/local/grants';
import { assertReadOnly } from '../../src/local/lake';
import { createLoadPort, MAX_RUN_RESTARTS, newRunId, type RunRecord } from '../../src/local/load';
import { createManifestStore } from '../../src/local/manifests';
import { layoutOf, resultFile } from '../../src/local/paths';
import { processStarted } from '../../src/local/process-identity';
import { RunnerClient } from '../../src/local/runner/client';
import { checkPassed } from '../../src/verify-rows';

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-ports-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs `body` with the pid of a live process that is neither this one nor any runner or exporter. */
async function withOtherProcess(body: (pid: number) => Promise<void>): Promise<void> {
  const other = spawn('sleep', ['120'], { stdio: 'ignore' });
  try {
    assert.ok(other.pid !== undefined && processStarted(other.pid) !== undefined, 'the other process runs');
    await body(other.pid);
  } finally {
    other.kill('SIGKILL');
  }
}

function shopSource(workDir: string, extra: Record<string, unknown> = {}): SourceConfig {
  const config = parseConfig({
    sources: {
      shop: {
        database: 'shop',
        source: { kind: 'pglite', dataDir: join(workDir, 'pg'), demo: true },
        target: { namespace: 'shop' },
        local: { workDir },
        tables: { 'public.events': { cursor: { column: 'id', mode: 'upsert' } } },
        ...extra,
      },
    },
  });
  return config.sources.shop!;
}

async function waitExport(ports: Ports, exportId: string) {
  for (let i = 0; i < 600; i++) {
    const status = await ports.export.describeExport(exportId);
    if (status.state !== 'in_progress') return status;
    await delay(100);
  }
  throw new Error(`export ${exportId} did not finish`);
}

describe('snapshot, export and discover on an embedded PGlite source', () => {
  let ports: Ports;
  let dir: string;
  let ref: ExportRef;

  before(async () => {
    dir = join(work, 'shop');
    ports = await createLocalPorts(localSettings('shop', shopSource(dir), work), { exportTuning: { rowsPerPart: 200 } });
  });
  after(async () => ports?.close?.());

  test('a snapshot is created once and adopted after that', async () => {
    const first = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
    assert.equal(first.adopted, false);
    const again = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
    assert.deepEqual(again, { ...first, adopted: true });
    assert.equal((await ports.snapshot.describeSnapshot(first.snapshotId)).state, 'available');
    const latest = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'x', mode: 'latest-automated' });
    assert.equal(latest.snapshotId, first.snapshotId);
  });

  test('an unknown existing snapshot is a not-found error that says how snapshots are made', async () => {
    await assert.rejects(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'x', mode: 'existing', existingSnapshotId: 'nope' }), (err: unknown) => {
      assert.ok(err instanceof PortError);
      assert.equal(err.kind, 'not-found');
      assert.match(err.message, /snapshot "nope" does not exist.*mode create/);
      return true;
    });
  });

  test('an export runs in the background, completes, and is adopted when started again', async () => {
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
    ref = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot });
    assert.equal(ref.adopted, false);
    assert.equal(ref.location, join(dir, 'exports', 'ls-shop-1-abc'));
    const status = await waitExport(ports, 'ls-shop-1-abc');
    assert.equal(status.state, 'complete', status.failureCause);
    assert.equal(status.percentProgress, 100);
    assert.ok(existsSync(join(ref.location, 'export_info_ls-shop-1-abc.json')));
    assert.ok(!existsSync(`${ref.location}.partial`));
    const again = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot });
    assert.equal(again.adopted, true);
    await assert.rejects(
      ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: { ...snapshot, snapshotId: 'other' } }),
      /ExportTaskAlreadyExists|exists for snapshot/,
    );
  });

  test('discover lists every exported table with its mappings and the source primary keys', async () => {
    const found = await ports.discover.discover(ref);
    assert.equal(found.database, 'shop');
    const byName = Object.fromEntries(found.tables.map((t) => [t.table, t]));
    assert.deepEqual(Object.keys(byName).sort(), ['public.customer_pii', 'public.customers', 'public.events', 'public.order_items', 'public.page_views', 'public.products']);
    assert.deepEqual(byName['public.order_items']!.primaryKey, ['order_id', 'line_no']);
    assert.deepEqual(byName['public.page_views']!.primaryKey, []);
    assert.equal(byName['public.customers']!.target, 'shop.public.customers');
    assert.equal(byName['public.customers']!.columns.find((c) => c.columnName === 'tier')?.originalType, 'USER-DEFINED');
    assert.deepEqual(found.skipped, []);
    assert.equal(await ports.discover.exportAvailable(ref), true);
    assert.equal(await ports.discover.exportAvailable({ ...ref, exportId: 'ls-gone', location: join(dir, 'exports', 'ls-gone') }), false);
  });

  test('discover of a missing export is a not-found error that says to sync again', async () => {
    await assert.rejects(ports.discover.discover({ ...ref, exportId: 'ls-gone', location: join(dir, 'exports', 'ls-gone') }), /no export_info file.*run a new sync/);
  });

  test('an export whose owner process died is started again by the next describe', async () => {
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-2-abc', mode: 'create' });
    const tasks = join(dir, 'export-tasks');
    mkdirSync(tasks, { recursive: true });
    // A task left "in progress" by a process that no longer exists (pid 2^22 + 1 is above Linux's pid limit).
    writeFileSync(join(tasks, 'ls-shop-2-abc.json'), JSON.stringify({ exportId: 'ls-shop-2-abc', snapshot, state: 'in_progress', percentProgress: 40, ownerPid: 4194305, startedAt: new Date().toISOString(), tables: ['public.products'] }));
    mkdirSync(join(dir, 'exports', 'ls-shop-2-abc.partial', 'junk'), { recursive: true });
    const status = await waitExport(ports, 'ls-shop-2-abc');
    assert.equal(status.state, 'complete');
    const found = await ports.discover.discover({ exportId: 'ls-shop-2-abc', location: join(dir, 'exports', 'ls-shop-2-abc'), snapshotId: snapshot.snapshotId, adopted: true });
    assert.deepEqual(found.tables.map((t) => t.table), ['public.products']);
    assert.ok(!existsSync(join(dir, 'exports', 'ls-shop-2-abc', 'junk')));
  });

  test('an export whose owner pid now belongs to another process (after a reboot) is started again', async () => {
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-3-abc', mode: 'create' });
    const tasks = join(dir, 'export-tasks');
    mkdirSync(tasks, { recursive: true });
    await withOtherProcess(async (other) => {
      // The owner's pid is taken, by a process that started at another time than the owner did.
      writeFileSync(join(tasks, 'ls-shop-3-abc.json'), JSON.stringify({ exportId: 'ls-shop-3-abc', snapshot, state: 'in_progress', percentProgress: 40, ownerPid: other, ownerStarted: 'an-earlier-boot/12345', startedAt: new Date().toISOString(), tables: ['public.products'] }));
      const status = await waitExport(ports, 'ls-shop-3-abc');
      assert.equal(status.state, 'complete');
    });
  });

  test('an export that fails reports the cause as a failed task', async () => {
    const badDir = join(work, 'bad');
    const bad = await createLocalPorts(localSettings('bad', { ...shopSource(badDir), source: { kind: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none' } }, work));
    try {
      const snapshot = await bad.snapshot.startSnapshot({ source: 'bad', snapshotId: 's1', mode: 'create' });
      await bad.export.startExport({ source: 'bad', exportId: 'ls-bad-1', snapshot });
      const status = await waitExport(bad, 'ls-bad-1');
      assert.equal(status.state, 'failed');
      assert.match(status.failureCause ?? '', /cannot connect to PostgreSQL postgres:\/\/nobody@127\.0\.0\.1:1\/none.*check that the server runs/);
    } finally {
      await bad.close?.();
    }
  });
});

test('tables whose names map to the same file-safe text keep results of their own', () => {
  const layout = layoutOf(join(work, 'results-of'));
  const names = ['public.a b', 'public.a_b', 'public.aéb', 'public.a/b', 'public.a__b'];
  const files = names.map((t) => resultFile(layout, 'c1', t));
  assert.equal(new Set(files).size, names.length, files.join('\n'));
  // A name that is already file-safe keeps its plain file name.
  assert.equal(resultFile(layout, 'c1', 'public.orders'), join(layout.results, 'c1', 'public.orders.json'));
});

describe('manifest store', () => {
  test('stores JSON under manifests/ and reads it back by its file:// reference', async () => {
    const store = createManifestStore(join(work, 'm'));
    const ref = await store.put('c1/plan.json', [{ table: 'public.a' }]);
    assert.match(ref, /^file:\/\/.*\/m\/c1\/plan\.json$/);
    assert.deepEqual(await store.get(ref), [{ table: 'public.a' }]);
    assert.equal(store.ref('c1/plan.json'), ref, 'the reference of a key is known without reading it');
  });

  test('refuses keys and references outside its folder, and names a missing manifest', async () => {
    const store = createManifestStore(join(work, 'm'));
    await assert.rejects(store.put('../escape.json', {}), /leaves the manifests folder/);
    await assert.rejects(store.get('file:///etc/passwd'), /outside/);
    await assert.rejects(store.get('s3://bucket/key'), /not a file:\/\/ URL/);
    await assert.rejects(store.get(`file://${join(work, 'm', 'c9', 'missing.json')}`), /missing: the work dir was cleaned/);
  });

  test('deletes a manifest by its reference, again without error; refuses references outside its folder', async () => {
    const store = createManifestStore(join(work, 'm'));
    const ref = await store.put('c3/outcomes/part-0001-of-1.json', '[]');
    await store.delete(ref);
    await assert.rejects(store.get(ref), /missing/);
    await store.delete(ref);
    const outside = join(work, 'keep.json');
    writeFileSync(outside, '{}');
    await assert.rejects(store.delete(pathToFileURL(outside).href), /outside/);
    await assert.rejects(store.delete(pathToFileURL(join(work, 'm')).href), /outside/);
    await assert.rejects(store.delete('s3://bucket/key'), /not a file:\/\/ URL/);
    assert.equal(readFileSync(outside, 'utf8'), '{}');
  });
});

describe('work-dir files', () => {
  test('a file removed while it is read is absent, not an error (runner.json of a runner that just stopped)', async () => {
    const file = join(mkdtempSync(join(work, 'vanishing-')), 'runner.json');
    // Another process writes the file whole and removes it, over and over, as runners start and stop.
    const churn = spawn('bash', ['-c', `while true; do echo '{"pid":1}' > "$0.tmp"; mv "$0.tmp" "$0"; rm -f "$0"; done`, file], { stdio: 'ignore' });
    try {
      await delay(100);
      const failures = new Set<string>();
      for (const end = Date.now() + 1_500; Date.now() < end; ) {
        for (let i = 0; i < 500; i++) {
          try {
            const value = readJsonIfExists<{ pid: number }>(file);
            if (value !== undefined) assert.equal(value.pid, 1);
          } catch (err) {
            failures.add((err as Error).message);
          }
        }
        await delay(0);
      }
      assert.deepEqual([...failures], []);
    } finally {
      churn.kill('SIGKILL');
    }
  });
});

describe('grant store', () => {
  const file = () => join(work, 'grants', 'grants.json');
  const exists = async (_ns: string, table: string) => table !== 'missing';
  const request = { source: 'shop', namespace: 'shop', lakeTables: ['customers', 'orders'], principals: [{ principal: 'analyst', tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] }] };

  test('records Lake Formation request shapes and is idempotent', async () => {
    const port = createGrantPort(file(), 'shop', exists);
    assert.deepEqual(await port.grant(request), { granted: 3, alreadyGranted: 0 });
    assert.deepEqual(await port.grant(request), { granted: 0, alreadyGranted: 3 });
    const stored = JSON.parse(readFileSync(file(), 'utf8'));
    assert.equal(stored.catalogId, 'local:s3tablescatalog/shop');
    const table = stored.entries.find((e: { Resource: { Table?: { Name: string } } }) => e.Resource.Table?.Name === 'customers');
    assert.deepEqual(table, {
      Id: 'analyst|table|shop.customers',
      Principal: { DataLakePrincipalIdentifier: 'analyst' },
      Resource: { Table: { CatalogId: 'local:s3tablescatalog/shop', DatabaseName: 'shop', Name: 'customers' } },
      Permissions: ['DESCRIBE', 'SELECT'],
      PermissionsWithGrantOption: [],
    });
    const listed = await port.list!();
    assert.deepEqual(listed.find((g) => !g.resource.table), { principal: 'analyst', resource: { namespace: 'shop' }, permissions: ['DESCRIBE'] });
    assert.equal(listed.length, 3);
  });

  test('adds a new permission to an existing grant and counts it as granted', async () => {
    const port = createGrantPort(file(), 'shop', exists);
    const outcome = await port.grant({ ...request, lakeTables: ['customers'], principals: [{ ...request.principals[0]!, tablePermissions: ['INSERT'] }] });
    assert.deepEqual(outcome, { granted: 1, alreadyGranted: 1 });
    const customers = (await port.list!()).find((g) => g.resource.table === 'customers');
    assert.deepEqual(customers?.permissions, ['DESCRIBE', 'INSERT', 'SELECT']);
  });

  test('a principal listed twice is granted once per resource, with the permissions of both entries', async () => {
    const port = createGrantPort(join(work, 'grants-principal-twice', 'grants.json'), 'shop', exists);
    const twice = [
      { principal: 'analyst', tablePermissions: ['SELECT'], namespacePermissions: ['DESCRIBE'] },
      { principal: 'analyst', tablePermissions: ['SELECT', 'INSERT'], namespacePermissions: [] },
    ];
    assert.deepEqual(await port.grant({ ...request, lakeTables: ['customers'], principals: twice }), { granted: 2, alreadyGranted: 0 });
    assert.deepEqual((await port.list!()).find((g) => g.resource.table === 'customers')?.permissions, ['INSERT', 'SELECT']);
    assert.deepEqual(await port.grant({ ...request, lakeTables: ['customers'], principals: twice }), { granted: 0, alreadyGranted: 2 });
  });

  test('asks what Lake Formation would be asked: DESCRIBE on the namespace always, and nothing more where ALL is held', async () => {
    const port = createGrantPort(join(work, 'grants-as-aws', 'grants.json'), 'shop', exists);
    const reader = { principal: 'reader', tablePermissions: ['SELECT'], namespacePermissions: [] };
    assert.deepEqual(await port.grant({ ...request, lakeTables: ['customers'], principals: [reader] }), { granted: 2, alreadyGranted: 0 });
    assert.deepEqual(
      (await port.list!()).find((g) => !g.resource.table),
      { principal: 'reader', resource: { namespace: 'shop' }, permissions: ['DESCRIBE'] },
      'readers need DESCRIBE on the namespace: the backend aws grants it whatever namespacePermissions says',
    );
    const admin = { principal: 'admin', tablePermissions: ['ALL'], namespacePermissions: ['ALL'] };
    assert.deepEqual(await port.grant({ ...request, lakeTables: ['customers'], principals: [admin] }), { granted: 2, alreadyGranted: 0 });
    const again = { ...admin, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] };
    assert.deepEqual(await port.grant({ ...request, lakeTables: ['customers'], principals: [again] }), { granted: 0, alreadyGranted: 2 }, 'ALL covers them');
    assert.deepEqual((await port.list!()).filter((g) => g.principal === 'admin').map((g) => g.permissions), [['ALL', 'DESCRIBE'], ['ALL']]);
  });

  test('a permission named twice is granted once, as Lake Formation is asked', async () => {
    const port = createGrantPort(join(work, 'grants-twice', 'grants.json'), 'shop', exists);
    const twice = { principal: 'twice', tablePermissions: ['SELECT', 'SELECT'], namespacePermissions: ['DESCRIBE', 'DESCRIBE'] };
    assert.deepEqual(await port.grant({ ...request, lakeTables: ['customers'], principals: [twice] }), { granted: 2, alreadyGranted: 0 });
    assert.deepEqual((await port.list!()).map((g) => g.permissions), [['DESCRIBE'], ['SELECT']]);
  });

  test('refuses a grant on a missing table, an empty principal and a permission of the wrong resource', async () => {
    const port = createGrantPort(file(), 'shop', exists);
    await assert.rejects(port.grant({ ...request, lakeTables: ['missing'] }), (err: unknown) => err instanceof PortError && err.kind === 'not-found' && /shop\.missing failed: the lake table does not exist/.test(err.message));
    await assert.rejects(port.grant({ ...request, principals: [{ ...request.principals[0]!, principal: ' ' }] }), /principal is empty/);
    await assert.rejects(port.grant({ ...request, principals: [{ ...request.principals[0]!, namespacePermissions: ['SELECT'] }] }), /SELECT do not apply to a namespace/);
  });
});

describe('load runs', () => {
  const layout = () => layoutOf(join(work, 'runs-dir'));
  const req = (table: string, action: LoadRequest['plan']['action'], extra: Partial<LoadRequest['plan']> = {}): LoadRequest => ({
    source: 'shop',
    cycleId: '3-abcd',
    runToken: `3-abcd:${table}`,
    exportId: 'ls-shop-3-abcd',
    snapshotTime: '2025-01-01T00:00:00.000Z',
    exportLocation: '/data/exports/ls-shop-3-abcd',
    database: 'shop',
    plan: planEntry({ table, lakeTable: table.split('.')[1]!, action, ...extra }),
    namespace: 'shop',
    resultLocation: join(work, 'results', '3-abcd', `${table}.json`),
  });

  function writeRecord(record: Partial<RunRecord> & { runId: string }) {
    mkdirSync(layout().runs, { recursive: true });
    const full: RunRecord = { runToken: '3-abcd:public.a', state: 'running', table: 'shop.public.a', resultPath: join(work, 'r.json'), queuedAt: new Date().toISOString(), runner: { pid: process.pid, instance: 'i1' }, ...record };
    writeFileSync(join(layout().runs, `${record.runId}.json`), JSON.stringify(full));
  }

  test('run records map to Glue-like states, found by run token', async () => {
    const port = createLoadPort(layout(), new RunnerClient(layout()));
    const token = '3-abcd:public.a';
    const older = newRunId(token);
    await delay(5);
    const newer = newRunId(token);
    writeRecord({ runId: older, state: 'failed', errorClass: 'DeleteGuard', errorMessage: 'would delete 80%', queuedAt: '2024-01-01T00:00:00.000Z' });
    writeRecord({ runId: newer, state: 'queued', queuedAt: '2024-01-01T00:00:01.000Z' });
    writeRecord({ runId: newRunId('3-abcd:public.b'), runToken: '3-abcd:public.b', state: 'succeeded' });
    assert.equal(await port.findRunByToken(req('public.a', 'merge')), newer);
    assert.equal(await port.findRunByToken(req('public.zzz', 'merge')), undefined);
    assert.deepEqual(await port.getRun(newer), { runId: newer, state: 'running', detail: 'WAITING' });
    assert.deepEqual(await port.getRun(older), { runId: older, state: 'failed', detail: 'FAILED', errorMessage: 'DeleteGuard: would delete 80%' });
    await assert.rejects(port.getRun('lr-unknown'), (err: unknown) => err instanceof PortError && err.kind === 'not-found');
  });

  test('a run whose runner died is failed, or succeeded when its result says it committed first', async () => {
    const port = createLoadPort(layout(), new RunnerClient(layout()));
    const dead = { pid: 4194305, instance: 'gone' };
    const lost = newRunId('3-abcd:public.lost');
    writeRecord({ runId: lost, runToken: '3-abcd:public.lost', runner: dead, startedAt: '2024-01-01T00:00:00.000Z' });
    const status = await port.getRun(lost);
    assert.equal(status.state, 'failed');
    assert.equal(status.detail, 'ERROR');
    assert.equal(status.retryable, true, 'a dead runner is no fault of the load: its next attempt starts a new run');
    assert.match(status.errorMessage ?? '', /load runner \(pid 4194305\) stopped before run .* finished; see .*runner\.log/);

    const done = newRunId('3-abcd:public.done');
    const resultPath = join(work, 'done.json');
    writeFileSync(resultPath, JSON.stringify({ status: 'succeeded', runToken: '3-abcd:public.done', finishedAt: '2024-01-01T00:05:00.000Z' }));
    writeRecord({ runId: done, runToken: '3-abcd:public.done', runner: dead, resultPath, startedAt: '2024-01-01T00:00:00.000Z' });
    assert.equal((await port.getRun(done)).state, 'succeeded');
  });

  /** A stand-in for the runner process that records runs as the real one does; `ready` gates its start. */
  function recordingRunner(posts: string[], ready: Promise<unknown> = Promise.resolve()) {
    return {
      ensure: async () => {
        await ready;
        return { pid: process.pid, port: 0, token: '', instance: 'stub', warehouse: '' };
      },
      call: async (_method: string, _path: string, body: { runId: string; runToken: string }) => {
        posts.push(body.runId);
        writeRecord({ runId: body.runId, runToken: body.runToken, state: 'queued', queuedAt: new Date().toISOString() });
        return { runId: body.runId };
      },
    } as unknown as RunnerClient;
  }

  async function until(check: () => boolean | Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200 && !(await check()); i++) await delay(10);
  }

  test('startLoad returns at once: the run is STARTING until the runner takes it, then WAITING', async () => {
    const posts: string[] = [];
    let release!: () => void;
    const port = createLoadPort(layout(), recordingRunner(posts, new Promise<void>((r) => (release = r))));
    const { runId } = await port.startLoad({ ...req('public.slow', 'merge'), runToken: '3-abcd:public.slow' });
    assert.deepEqual(await port.getRun(runId), { runId, state: 'running', detail: 'STARTING' });
    assert.deepEqual(posts, []);
    release();
    await until(async () => (await port.getRun(runId)).detail === 'WAITING');
    assert.deepEqual(posts, [runId]);
  });

  test('a runner that cannot start fails the pending run with the reason', async () => {
    const port = createLoadPort(layout(), recordingRunner([], Promise.reject(new Error('Spark did not start: no Java'))));
    const { runId } = await port.startLoad({ ...req('public.nojava', 'merge'), runToken: '3-abcd:public.nojava' });
    await until(async () => (await port.getRun(runId)).state === 'failed');
    const status = await port.getRun(runId);
    assert.equal(status.state, 'failed');
    assert.match(status.errorMessage ?? '', /RunnerUnavailable: the load could not be handed to the load runner: Spark did not start: no Java/);
  });

  test('a pending run stopped before the runner took it never starts', async () => {
    const posts: string[] = [];
    let release!: () => void;
    const port = createLoadPort(layout(), recordingRunner(posts, new Promise<void>((r) => (release = r))));
    const { runId } = await port.startLoad({ ...req('public.stop', 'merge'), runToken: '3-abcd:public.stop' });
    await port.stopRun(runId);
    release();
    await until(async () => (await port.getRun(runId)).state === 'failed');
    assert.equal((await port.getRun(runId)).detail, 'STOPPED');
    assert.deepEqual(posts, []);
  });

  test('a run of another worker on its own runner is asked to stop through the work dir, not this worker\'s runner', async () => {
    // Two workers share the work dir; each may have started its own runner. This worker's runner
    // does not know the other's runs, and said so (HTTP 400), which failed the load that asked.
    await withOtherProcess(async (other) => {
      const calls: string[] = [];
      const ownRunner = {
        ensure: async () => ({ pid: process.pid, port: 0, token: '', instance: 'mine', warehouse: '' }),
        liveRunner: () => undefined,
        call: async (_method: string, path: string) => {
          calls.push(path);
          throw new PortError('validation', 'RunnerRejected', `run ${path.split('/')[2]} is not known to this runner`);
        },
      } as unknown as RunnerClient;
      const port = createLoadPort(layout(), ownRunner);
      const theirs = newRunId('3-abcd:public.theirs');
      writeRecord({ runId: theirs, runToken: '3-abcd:public.theirs', state: 'running', runner: { pid: other, started: processStarted(other)!, instance: 'their-runner' }, args: { action: 'merge' } });
      await port.stopRun(theirs);
      assert.deepEqual(calls, [], 'not asked of a runner that does not run it');
      assert.ok(existsSync(join(layout().runs, `${theirs}.stop`)), 'the stop request is left where the run\'s runner looks');

      // runner.json names the run's runner, but this client talks to the one it started before.
      const named = { ...ownRunner, liveRunner: () => ({ pid: other, instance: 'their-runner' }) } as unknown as RunnerClient;
      await createLoadPort(layout(), named).stopRun(theirs);
      assert.equal(calls.length, 1, 'asked at once, and its refusal is no failure: the stop request stands in the work dir');
    });
  });

  test('a run asked to stop whose runner died is not started again: it ended stopped, and a new load starts a new run', async () => {
    const posts: string[] = [];
    const port = createLoadPort(layout(), recordingRunner(posts));
    const token = '3-abcd:public.asked';
    const asked = newRunId(token);
    writeRecord({ runId: asked, runToken: token, state: 'running', runner: { pid: 4194305, instance: 'gone' }, args: { action: 'merge' }, restarts: 0 });
    writeFileSync(join(layout().runs, `${asked}.stop`), JSON.stringify({ requestedAt: new Date().toISOString() }));
    assert.deepEqual(await port.getRun(asked), { runId: asked, state: 'failed', detail: 'STOPPED', errorMessage: 'stopped on request; its load runner ended before the run did' });
    const { runId } = await port.startLoad({ ...req('public.asked', 'merge'), runToken: token });
    assert.notEqual(runId, asked);
    await until(() => posts.length > 0);
    assert.deepEqual(posts, [runId], 'only the new run is handed to the runner');
  });

  test('a pending run that another worker asked to stop never starts', async () => {
    const posts: string[] = [];
    let release!: () => void;
    const port = createLoadPort(layout(), recordingRunner(posts, new Promise<void>((r) => (release = r))));
    const { runId } = await port.startLoad({ ...req('public.stopped-elsewhere', 'merge'), runToken: '3-abcd:public.stopped-elsewhere' });
    // What stopRun in another process leaves: it cannot reach this process's memory.
    writeFileSync(join(layout().runs, `${runId}.stop`), JSON.stringify({ requestedAt: new Date().toISOString() }));
    release();
    await until(async () => (await port.getRun(runId)).state === 'failed');
    assert.equal((await port.getRun(runId)).detail, 'STOPPED');
    assert.deepEqual(posts, []);
  });

  test('a run whose runner died is started again under the same id, up to the restart limit', async () => {
    const posts: string[] = [];
    const port = createLoadPort(layout(), recordingRunner(posts));
    const token = '3-abcd:public.orphan';
    const runId = newRunId(token);
    writeRecord({ runId, runToken: token, state: 'running', runner: { pid: 4194305, instance: 'gone' }, args: { action: 'merge' }, restarts: 0 });
    assert.deepEqual(await port.getRun(runId), { runId, state: 'running', detail: 'STARTING' });
    await until(() => posts.length > 0);
    assert.deepEqual(posts, [runId]);
    assert.equal(await port.findRunByToken({ ...req('public.orphan', 'merge'), runToken: token }), runId);

    const spent = newRunId('3-abcd:public.spent');
    writeRecord({ runId: spent, runToken: '3-abcd:public.spent', state: 'running', runner: { pid: 4194305, instance: 'gone' }, args: { action: 'merge' }, restarts: MAX_RUN_RESTARTS });
    const status = await port.getRun(spent);
    assert.equal(status.state, 'failed');
    assert.match(status.errorMessage ?? '', new RegExp(`started ${MAX_RUN_RESTARTS + 1} times`));
    // The chaos run's local path, seed 22: the runner was killed twice within 6 s and the worker
    // once, the run used up its restarts and the table failed for the cycle. It must be retried by
    // a new run, as a Glue run that ends ERROR is.
    assert.equal(status.retryable, true);
  });

  test('a run whose runner pid now belongs to another process (after a reboot) is started again; one naming that process is not', async () => {
    await withOtherProcess(async (other) => {
      const posts: string[] = [];
      const port = createLoadPort(layout(), recordingRunner(posts));
      const reused = newRunId('3-abcd:public.reused');
      writeRecord({ runId: reused, runToken: '3-abcd:public.reused', state: 'running', runner: { pid: other, started: 'an-earlier-boot/12345', instance: 'before-reboot' }, args: { action: 'merge' }, restarts: 0 });
      assert.deepEqual(await port.getRun(reused), { runId: reused, state: 'running', detail: 'STARTING' });
      await until(() => posts.length > 0);
      assert.deepEqual(posts, [reused]);

      // The same pid with that process's own start: the run is taken as under way, and left alone.
      const live = newRunId('3-abcd:public.live');
      writeRecord({ runId: live, runToken: '3-abcd:public.live', state: 'running', runner: { pid: other, started: processStarted(other)!, instance: 'live' }, args: { action: 'merge' }, restarts: 0 });
      assert.equal((await port.getRun(live)).state, 'running');
      await delay(200);
      assert.deepEqual(posts, [reused], 'the live run was not started again');
    });
  });

  test('a run whose runner died for good is written down as failed once a new run replaces it', async () => {
    // The chaos run's local path, seed 66, cycle 3: the runner was killed three times during
    // public.customers' load; its run used up its restarts, a new run loaded the table, and the
    // first run's record still said "running", as if two runs had loaded the table.
    const posts: string[] = [];
    const port = createLoadPort(layout(), recordingRunner(posts));
    const token = '3-abcd:public.customers';
    const dead = newRunId(token);
    writeRecord({ runId: dead, runToken: token, table: 'shop.public.customers', state: 'running', runner: { pid: 4194305, instance: 'gone' }, args: { action: 'merge' }, restarts: MAX_RUN_RESTARTS });
    const { runId } = await port.startLoad({ ...req('public.customers', 'merge'), runToken: token });
    assert.notEqual(runId, dead, 'a new run replaces the dead one');
    const record = JSON.parse(readFileSync(join(layout().runs, `${dead}.json`), 'utf8')) as RunRecord;
    assert.equal(record.state, 'failed');
    assert.equal(record.errorClass, 'RunnerGone');
    assert.match(record.errorMessage ?? '', /stopped before run .* of shop\.public\.customers finished \(started 3 times\)/);
    const status = await port.getRun(dead);
    assert.equal(status.state, 'failed');
    assert.equal(status.retryable, true, 'reading it back keeps it a failure of the machinery, not of the load');
  });

  test('a load the runner could not take (it died while starting) fails retryable, not for good', async () => {
    // The chaos run's local path, seed 33, cycle 1: the runner was killed while Spark was starting,
    // so public.products could not be handed to it and its run failed with RunnerUnavailable.
    // The machinery failed, not the load: a new run must be allowed, as for Glue's ERROR.
    const dying = {
      ensure: async () => { throw new Error('the load runner was ended by SIGKILL before it was ready'); },
      call: async () => { throw new Error('not reached'); },
    } as unknown as RunnerClient;
    const port = createLoadPort(layout(), dying);
    const { runId } = await port.startLoad({ ...req('public.products', 'merge'), runToken: '1-abcd:public.products' });
    await until(async () => (await port.getRun(runId)).state === 'failed');
    const status = await port.getRun(runId);
    assert.equal(status.state, 'failed');
    assert.equal(status.detail, 'ERROR');
    assert.equal(status.retryable, true);
    assert.match(status.errorMessage ?? '', /RunnerUnavailable: the load could not be handed to the load runner: the load runner was ended by SIGKILL/);
  });

  test('two attempts starting the same load at once queue it once', async () => {
    const posts: string[] = [];
    const port = createLoadPort(layout(), recordingRunner(posts));
    const r = { ...req('public.twice', 'merge'), runToken: '3-abcd:public.twice' };
    const [a, b] = await Promise.all([port.startLoad(r), port.startLoad(r)]);
    assert.equal(a.runId, b.runId);
    await until(() => posts.length > 0);
    await delay(50);
    assert.deepEqual(posts, [a.runId]);
  });

  test('a failed earlier run of the token does not stop a new run', async () => {
    const posts: string[] = [];
    const port = createLoadPort(layout(), recordingRunner(posts));
    const token = '3-abcd:public.retry';
    writeRecord({ runId: newRunId(token), runToken: token, state: 'failed', errorClass: 'InternalError', queuedAt: '2024-01-01T00:00:00.000Z' });
    const started = await port.startLoad({ ...req('public.retry', 'merge'), runToken: token });
    await until(() => posts.length > 0);
    assert.deepEqual(posts, [started.runId]);
    assert.equal(await port.findRunByToken({ ...req('public.retry', 'merge'), runToken: token }), started.runId);
  });

  test('liveRuns lists the pending, queued and running runs of one lake table, read from their job arguments', async () => {
    const port = createLoadPort(layout(), new RunnerClient(layout()));
    const args = (lakeTable: string, namespace = 'live') => ({ namespace, lake_table: lakeTable, action: 'merge' });
    const running = newRunId('c1:public.a');
    const queued = newRunId('c2:public.a');
    writeRecord({ runId: queued, runToken: 'c2:public.a', state: 'queued', args: args('a'), queuedAt: '2024-01-01T00:00:02.000Z' });
    writeRecord({ runId: running, runToken: 'c1:public.a', state: 'running', args: args('a'), queuedAt: '2024-01-01T00:00:01.000Z', startedAt: '2024-01-01T00:00:01.500Z' });
    writeRecord({ runId: newRunId('c0:public.a'), runToken: 'c0:public.a', state: 'succeeded', args: args('a') });
    writeRecord({ runId: newRunId('c3:public.a'), runToken: 'c3:public.a', state: 'running', args: args('a'), runner: { pid: 4194305, instance: 'gone' } });
    writeRecord({ runId: newRunId('c1:public.b'), runToken: 'c1:public.b', state: 'running', args: args('b') });
    writeRecord({ runId: newRunId('c1:other.a'), runToken: 'c1:other.a', state: 'running', args: args('a', 'other') });
    // Ended, of another lake table or namespace, or left by a runner that died (nothing runs it): not live.
    assert.deepEqual(await port.liveRuns('live', 'a'), [
      { runId: running, runToken: 'c1:public.a', detail: 'RUNNING', startedAt: '2024-01-01T00:00:01.500Z' },
      { runId: queued, runToken: 'c2:public.a', detail: 'WAITING' },
    ]);
    assert.deepEqual(await port.liveRuns('live', 'none'), []);
  });

  test('results are read from their file; a missing one is undefined', async () => {
    const port = createLoadPort(layout(), new RunnerClient(layout()));
    const location = port.resultLocation({ ...req('public.a', 'merge') });
    assert.equal(location, join(work, 'runs-dir', 'results', '3-abcd', 'public.a.json'));
    assert.equal(await port.readResult(location), undefined);
  });
});

describe('lake queries and verification values', () => {
  // The fast guard only; the runner's Spark parser decides (test/local/query-readonly.test.ts).
  test('statements that start with a write keyword are refused before Spark starts', () => {
    for (const sql of ['SELECT 1', '  with x as (select 1) select * from x', '-- note\nSHOW TABLES IN shop', '/* c */ describe shop.a']) assert.doesNotThrow(() => assertReadOnly(sql), sql);
    for (const sql of ['DROP TABLE shop.a', 'insert into shop.a values (1)', 'CALL lake.system.expire_snapshots()']) {
      assert.throws(() => assertReadOnly(sql), (err: unknown) => err instanceof PortError && err.kind === 'validation' && /read-only/.test(err.message), sql);
    }
  });

  test('a check expecting a number compares as a number, one expecting text as text (as on Athena); no answer never passes', () => {
    assert.ok(checkPassed(5, '5.00'));
    assert.ok(checkPassed('abc', ' abc '));
    assert.ok(!checkPassed('5', '5.00'), 'text "5" is not "5.00"');
    assert.ok(!checkPassed(5, '6'));
    assert.ok(!checkPassed(0, ''));
    assert.ok(!checkPassed(0, ' '));
    assert.ok(!checkPassed(0, 'NULL'));
    assert.ok(!checkPassed(0, undefined));
    assert.ok(!checkPassed('', undefined), 'no row is not an empty value');
  });
});
