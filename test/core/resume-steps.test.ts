/**
 * The worker killed (SIGKILL) at each step of a cycle after the loads started: while a table is
 * granted, while it is verified, while the export runs, and during the approved rerun of a
 * refused table. Each time a new worker resumes the cycle, and the lake shows every table
 * committed once per export (one Iceberg snapshot per load that changed it, its lineage naming
 * the cycle's export), the watermarks name the export of the commit, and a rerun takes no new export.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { jsonOf, lakesync } from '../../src/demo/cli';
import { compareTable } from '../../src/demo/compare';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { SourceDb } from '../../src/local/source/db';
import { openPostgres } from '../../src/local/source/postgres';
import type { CycleResult, Watermark } from '../../src/model';
import { pollFor } from '../helpers/within';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';
import { shopSource, writeConfig } from '../local/helpers/config';
import { cycleServing, WorkerChildren } from '../local/helpers/killable-worker';

const TABLES: Record<string, string> = { 'public.ka': 'ka', 'public.kb': 'kb', 'public.kc': 'kc' };

let dir: string;
let pg: TestPostgres;
let source: SourceDb;
let server: DevServer;
let configFile: string;
let connection: Connection;
let client: Client;
const workers = new WorkerChildren();
let worker: ChildProcess | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lakesync-resume-steps-'));
  pg = await startPostgres();
  source = openPostgres(pg.url);
  await source.exec(`
    CREATE TABLE ka (id int PRIMARY KEY, v text);
    INSERT INTO ka SELECT i, 'a' || i FROM generate_series(1, 40) i;
    CREATE TABLE kb (id int PRIMARY KEY, v text);
    INSERT INTO kb SELECT i, 'b' || i FROM generate_series(1, 30) i;
    CREATE TABLE kc (x int, y text);
    INSERT INTO kc SELECT i, 'c' || i FROM generate_series(1, 20) i;
  `);
  server = await startDevServer({ dbFile: join(dir, 'temporal.db') });
  configFile = writeConfig(dir, server.address, 'resume-steps', {
    pg: shopSource(pg.url, {
      grants: [{ principal: 'analyst' }],
      concurrency: 1,
      retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 2, maximumAttempts: 3 },
      timeouts: { heartbeatSeconds: 10, pollInitialSeconds: 1, pollMaximumSeconds: 2 },
      local: { workDir: join(dir, 'data') },
    }),
  });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
});

after(async () => {
  workers.killAll();
  await connection?.close();
  await source?.close();
  await server?.stop();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function startWorker(): Promise<ChildProcess> {
  return workers.start(configFile, join(dir, 'data-root'));
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Activity types pending in the open workflows now. */
async function pendingActivities(): Promise<string[]> {
  const types: string[] = [];
  for await (const wf of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
    const d = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    for (const a of d.raw.pendingActivities ?? []) types.push(String(a.activityType?.name));
  }
  return types;
}

async function killWhilePending(activity: string): Promise<void> {
  await pollFor(`${activity} to be pending`, async () => ((await pendingActivities()).includes(activity) ? true : undefined), 300_000, 200);
  await kill(worker!);
}

interface IcebergSnapshot {
  'snapshot-id': number;
  summary: Record<string, string>;
}

/** The Iceberg snapshots of a lake table, oldest first, read from its newest metadata file. */
function snapshots(lakeTable: string): IcebergSnapshot[] {
  const metaDir = findMetadataDir(join(dir, 'data', 'warehouse'), lakeTable);
  const files = readdirSync(metaDir).filter((f) => f.endsWith('.metadata.json'));
  const newest = files.sort((a, b) => Number(a.split('-')[0]!.replace(/\D/g, '')) - Number(b.split('-')[0]!.replace(/\D/g, '')) || a.localeCompare(b)).at(-1)!;
  const meta = JSON.parse(readFileSync(join(metaDir, newest), 'utf8')) as { snapshots?: IcebergSnapshot[]; 'current-snapshot-id'?: number };
  return meta.snapshots ?? [];
}

function findMetadataDir(root: string, lakeTable: string): string {
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      if (e.name === 'metadata' && /(^|\/)shop(\.db)?\/[^/]+$/.test(d) && d.split('/').at(-1)!.startsWith(lakeTable)) return p;
      stack.push(p);
    }
  }
  throw new Error(`no metadata folder of ${lakeTable} under ${root}`);
}

function exportsMade(): string[] {
  const d = join(dir, 'data', 'exports');
  return existsSync(d) ? readdirSync(d).filter((f) => !f.endsWith('.partial')) : [];
}

async function statusView(): Promise<{ ledger: Record<string, Watermark>; recentCycles: { requestIds: string[]; workflowId: string; exportId?: string }[]; failed: Record<string, unknown> }> {
  const run = await lakesync(['status', 'pg', '--json', '--config', configFile]);
  return jsonOf<{ status: { ledger: Record<string, Watermark>; recentCycles: { requestIds: string[]; workflowId: string }[]; failed: Record<string, unknown> } }>(run, 'status').status;
}

async function cycleResult(requestId: string): Promise<CycleResult> {
  return cycleServing(client, 'pg', configFile, requestId);
}

async function send(args: string[]): Promise<string> {
  const sent = await lakesync([...args, '--json', '--config', configFile]);
  assert.equal(sent.code, 0, sent.stderr + sent.stdout);
  return jsonOf<{ requestId: string }>(sent, args[0]!).requestId;
}

const lakeQuery = async (sql: string) => jsonOf<Record<string, unknown>[]>(await lakesync(['query', 'pg', '--json', sql, '--config', configFile]), 'query');

async function assertLakeEqualsSource(tables = Object.keys(TABLES)): Promise<void> {
  for (const table of tables) {
    const c = await compareTable(source, lakeQuery, table, 'shop', TABLES[table]!);
    assert.ok(c.equal, `${table}: ${c.differences.join('\n')}`);
  }
}

/** Snapshots of each lake table whose lineage names `exportId`. */
function commitsOf(exportId: string): Record<string, number> {
  return Object.fromEntries(Object.values(TABLES).map((t) => [t, snapshots(t).filter((s) => s.summary['lakesync.export-id'] === exportId).length]));
}

describe('a worker killed at each step of a cycle', () => {
  test('killed while a table is verified: resumed, each table committed once, watermarks at the export', async () => {
    worker = await startWorker();
    const requestId = await send(['sync', 'pg']);
    await killWhilePending('verifyTable');
    worker = await startWorker();
    const result = await cycleResult(requestId);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    const exportId = result.export!.exportId;
    assert.deepEqual(commitsOf(exportId), { ka: 1, kb: 1, kc: 1 });
    for (const t of Object.values(TABLES)) assert.equal(snapshots(t).length, 1, `${t}: ${JSON.stringify(snapshots(t).map((s) => s.summary))}`);
    const view = await statusView();
    for (const table of Object.keys(TABLES)) assert.equal(view.ledger[table]?.exportId, exportId, table);
    assert.deepEqual(exportsMade(), [exportId]);
    await assertLakeEqualsSource();
  });

  test('killed while a table is granted: resumed, each changed table committed once', async () => {
    await source.exec(`UPDATE ka SET v = v || '!' WHERE id <= 5; UPDATE kb SET v = v || '!' WHERE id <= 5; INSERT INTO kc VALUES (21, 'c21');`);
    // The grant store becomes a FIFO: the first grant of the cycle blocks on it (its worker with it) until the kill.
    const grants = join(dir, 'data', 'grants.json');
    const stored = readFileSync(grants, 'utf8');
    rmSync(grants);
    execFileSync('mkfifo', [grants]);
    const requestId = await send(['sync', 'pg']);
    await killWhilePending('grantTable');
    rmSync(grants);
    writeFileSync(grants, stored);
    worker = await startWorker();
    const result = await cycleResult(requestId);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    const exportId = result.export!.exportId;
    assert.deepEqual(commitsOf(exportId), { ka: 1, kb: 1, kc: 1 });
    for (const t of Object.values(TABLES)) assert.equal(snapshots(t).length, 2, t);
    const view = await statusView();
    for (const table of Object.keys(TABLES)) assert.equal(view.ledger[table]?.exportId, exportId, table);
    await assertLakeEqualsSource();
  });

  test('killed while the export runs: resumed, one export, each changed table committed once from it', async () => {
    await source.exec(`UPDATE ka SET v = v || '?' WHERE id <= 3;`);
    const before = exportsMade().length;
    // A lock on kc holds the export's read of it until the worker is killed.
    const locker = await source.connect!();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE kc IN ACCESS EXCLUSIVE MODE');
    const requestId = await send(['sync', 'pg']);
    await pollFor('the export to be under way', () => {
      const tasks = join(dir, 'data', 'export-tasks');
      const inProgress = existsSync(tasks) && readdirSync(tasks).some((f) => f.endsWith('.json') && JSON.parse(readFileSync(join(tasks, f), 'utf8')).state === 'in_progress');
      return inProgress ? true : undefined;
    }, 300_000, 200);
    await new Promise((r) => setTimeout(r, 2000));
    await kill(worker!);
    await locker.query('COMMIT');
    await locker.end();
    worker = await startWorker();
    const result = await cycleResult(requestId);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    const exportId = result.export!.exportId;
    assert.equal(exportsMade().length, before + 1);
    assert.ok(exportsMade().includes(exportId));
    // Only ka changed: kb and kc commit nothing new.
    assert.deepEqual(commitsOf(exportId), { ka: 1, kb: 0, kc: 0 });
    const view = await statusView();
    for (const table of Object.keys(TABLES)) assert.equal(view.ledger[table]?.exportId, exportId, table);
    await assertLakeEqualsSource();
  });

  test('a refused mass delete, then its approved rerun killed mid-load: one commit from the refused export, no new export, the others untouched', async () => {
    await source.exec(`DELETE FROM ka WHERE id > 5; UPDATE kb SET v = 'x' WHERE id = 1;`);
    const requestId = await send(['sync', 'pg']);
    const partial = await cycleResult(requestId);
    assert.equal(partial.status, 'partial');
    const failedExport = partial.export!.exportId;
    assert.equal(partial.tables.find((t) => t.table === 'public.ka')?.error?.type, 'DeleteGuard');
    const ledgerBefore = (await statusView()).ledger;
    assert.notEqual(ledgerBefore['public.ka']?.exportId, failedExport);
    assert.equal(ledgerBefore['public.kb']?.exportId, failedExport);
    const snapshotsBefore = Object.fromEntries(Object.values(TABLES).map((t) => [t, snapshots(t).length]));
    const exportsBefore = exportsMade();

    const rerunId = await send(['rerun', 'pg', '--failed', '--approve-deletes']);
    await killWhilePending('loadTable');
    worker = await startWorker();
    const result = await cycleResult(rerunId);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assert.equal(result.export?.exportId, failedExport, 'the rerun reused the export that failed it');
    assert.deepEqual(exportsMade(), exportsBefore, 'no new export');
    assert.deepEqual(result.tables.filter((t) => t.status === 'committed').map((t) => t.table), ['public.ka']);
    assert.deepEqual(
      Object.fromEntries(Object.values(TABLES).map((t) => [t, snapshots(t).length])),
      { ...snapshotsBefore, ka: snapshotsBefore.ka! + 1 },
    );
    assert.equal(commitsOf(failedExport).ka, 1);
    const view = await statusView();
    assert.equal(view.ledger['public.ka']?.exportId, failedExport);
    assert.deepEqual(view.failed, {});
    await assertLakeEqualsSource();
  });
});

describe('two workers on the queue, one killed mid-load', () => {
  test('the other resumes the cycle: each changed table committed once, watermarks at the export', async () => {
    const second = await startWorker();
    await source.exec(`INSERT INTO ka SELECT i, 'a' || i FROM generate_series(100, 120) i; UPDATE kb SET v = 'y' WHERE id <= 10; INSERT INTO kc VALUES (22, 'c22');`);
    const requestId = await send(['sync', 'pg']);
    await killWhilePending('loadTable');
    const result = await cycleResult(requestId);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    const exportId = result.export!.exportId;
    assert.deepEqual(commitsOf(exportId), { ka: 1, kb: 1, kc: 1 });
    const view = await statusView();
    for (const table of Object.keys(TABLES)) assert.equal(view.ledger[table]?.exportId, exportId, table);
    await assertLakeEqualsSource();
    worker = second;
  });
});
