/**
 * Direct extract end to end on a real PostgreSQL server: Temporal dev server + worker (local
 * backend) + the load runner reading the source over JDBC in several partitions, checked with
 * `lakesync query`. The source is read by a role whose password the server checks
 * (scram-sha-256), so the job can only read it when the password reached it; after every cycle
 * each lake table equals its source table value by value, with no duplicates, and the cycle took
 * no snapshot and no export. Cycles: create; inserts with late commits inside the lookback; the
 * load runner killed while a load is reading its window, then the replay; a table the source
 * refuses to read keeps its watermark while the other advances, then catches up. Last, an attack:
 * the password is in no file of the work dir, no job argument and no workflow history.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { jsonOf, lakesync } from '../../src/demo/cli';
import { compareTable } from '../../src/demo/compare';
import { type DevServer, startDevServer } from '../../src/devserver';
import { processAlive } from '../../src/local/process-identity';
import type { RunRecord } from '../../src/local/load';
import { layoutOf } from '../../src/local/paths';
import type { RunnerInfo } from '../../src/local/runner/client';
import type { SourceDb } from '../../src/local/source/db';
import { openPostgres } from '../../src/local/source/postgres';
import type { CycleResult, TableOutcome, Watermark } from '../../src/model';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { quietTemporalLogs } from '../helpers/env';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { type InProcessWorker, runWorkerInProcess } from '../helpers/local-worker';
import { pollFor } from '../helpers/within';
import { localPace } from './helpers/pace';
import { shopSource, writeConfig } from './helpers/config';

const READER = 'lakesync_reader';
// Hex only: the same text URL-encoded or not, so one search finds every spelling.
const PASSWORD = `pw${randomBytes(16).toString('hex')}`;
const TABLES: Record<string, string> = { 'public.events': 'events', 'public.clicks': 'clicks' };
/** Gates the crash cycle's reads: the test holds it, a reading load waits on it. */
const GATE_LOCK = 4242;

let dir: string;
let pgServer: TestPostgres;
let admin: SourceDb;
let server: DevServer;
let worker: InProcessWorker | undefined;
let configFile: string;
let workDir: string;
const seenArgs: Record<string, string>[] = [];

before(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'lakesync-direct-'));
  workDir = join(dir, 'data');
  pgServer = await startPostgres();
  await pgServer.query('CREATE DATABASE shop');
  admin = openPostgres(pgServer.url.replace(/\/postgres$/, '/shop'));
  await requirePassword();
  await admin.exec(`
    CREATE ROLE ${READER} LOGIN PASSWORD '${PASSWORD}';
    GRANT USAGE ON SCHEMA public TO ${READER};
    CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, amount numeric(12,2), at timestamptz NOT NULL, payload jsonb);
    CREATE TABLE clicks (n bigint NOT NULL, page text, at timestamptz NOT NULL);
    GRANT SELECT ON events, clicks TO ${READER};
    -- Ids 1991-1995 are taken by transactions that commit late (cycle 2).
    INSERT INTO events SELECT g, 'k' || (g % 7), g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute', jsonb_build_object('g', g)
      FROM generate_series(1, 2000) g WHERE g NOT BETWEEN 1991 AND 1995;
    INSERT INTO clicks SELECT g, '/p/' || (g % 13), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, 1200) g;
  `);
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  configFile = writeConfig(dir, server.address, 'direct', {
    pg: shopSource(`postgres://${READER}:${PASSWORD}@127.0.0.1:${pgServer.port}/shop`, {
      tables: {
        'public.events': { extract: 'direct', cursor: { column: 'id', lookback: 50 }, primaryKey: ['id'], direct: { partitions: 3 } },
        'public.clicks': { extract: 'direct', cursor: { column: 'at', lookback: '10m' }, direct: { partitions: 2 } },
      },
      concurrency: 2,
      ...localPace(3),
      local: { workDir },
    }),
  });
  delete process.env.TEMPORAL_ADDRESS;
  worker = await runWorkerInProcess(configFile, join(dir, 'data-root'));
});

after(async () => {
  await worker?.stop();
  await admin?.close();
  await server?.stop();
  await pgServer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The reader must log in with its password over TCP (the superuser keeps trust): a job without it cannot read. */
async function requirePassword(): Promise<void> {
  const [{ hba_file: hba }] = await pgServer.query<{ hba_file: string }>('SHOW hba_file');
  writeFileSync(hba!, ['local all all trust', `host all ${READER} 127.0.0.1/32 scram-sha-256`, 'host all all 127.0.0.1/32 trust', ''].join('\n'));
  await pgServer.query('SELECT pg_reload_conf()');
}

async function sync(): Promise<CycleResult> {
  const run = await lakesync(['sync', 'pg', '--wait', '--json', '--config', configFile]);
  return jsonOf<CycleResult>(run, 'sync');
}

async function lakeQuery(sql: string): Promise<Record<string, unknown>[]> {
  const run = await lakesync(['query', 'pg', '--json', '--max-rows', '100000', sql, '--config', configFile]);
  assert.equal(run.code, 0, run.stderr);
  return jsonOf<Record<string, unknown>[]>(run, 'query');
}

async function ledger(): Promise<Record<string, Watermark>> {
  const run = await lakesync(['status', 'pg', '--json', '--config', configFile]);
  return jsonOf<{ status: { ledger: Record<string, Watermark> } }>(run, 'status').status.ledger;
}

function outcome(result: CycleResult, table: string): TableOutcome {
  const found = result.tables.find((t) => t.table === table);
  assert.ok(found, `${table} is in the cycle result: ${result.tables.map((t) => t.table).join(', ')}`);
  return found;
}

function assertCommitted(result: CycleResult, tables: string[]): void {
  for (const table of tables) {
    const t = outcome(result, table);
    assert.equal(t.status, 'committed', `${table}: ${JSON.stringify(t.error)}`);
    assert.equal(t.load?.extract, 'direct', `${table} was read directly`);
  }
}

/** Each table equals its source, row by row and value by value; a duplicate is a difference. */
async function assertLakeEqualsSource(tables = Object.keys(TABLES)): Promise<void> {
  for (const table of tables) {
    const c = await compareTable(admin, lakeQuery, table, 'shop', TABLES[table]!);
    assert.ok(c.equal, `${table}: ${c.sourceRows} source rows, ${c.lakeRows} lake rows\n${c.differences.join('\n')}`);
    assert.ok(c.sourceRows > 0);
  }
}

/** A cycle of direct tables only takes no snapshot and writes no export. */
function assertNoExport(result: CycleResult): void {
  assert.deepEqual([result.snapshot, result.export], [undefined, undefined], `no snapshot nor export: ${JSON.stringify([result.snapshot, result.export, result.warnings])}`);
  for (const folder of ['exports', 'snapshots', 'export-tasks']) {
    const path = join(workDir, folder);
    assert.ok(!existsSync(path) || readdirSync(path).length === 0, `${path} is empty: ${existsSync(path) ? readdirSync(path).join(', ') : ''}`);
  }
}

function runRecords(): RunRecord[] {
  const runs = layoutOf(workDir).runs;
  if (!existsSync(runs)) return [];
  return readdirSync(runs)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(runs, f), 'utf8')) as RunRecord);
}

function rememberArgs(): void {
  for (const r of runRecords()) if (r.args) seenArgs.push(r.args);
}

async function count(table: string): Promise<number> {
  const [row] = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(row!.n);
}

describe('direct extract on PostgreSQL over JDBC, checked with lakesync query', () => {
  test('cycle 1 creates both lake tables by reading the source in partitions, with no snapshot nor export', async () => {
    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assertCommitted(result, Object.keys(TABLES));
    const events = outcome(result, 'public.events').load!;
    assert.equal(events.action, 'create');
    assert.equal(events.rowsRead, 1995);
    assert.equal(events.cursorValueAfter, '2000');
    assert.equal(events.window?.from, null, 'a create reads from the start');
    assert.equal(events.window?.to, '2000');
    assert.equal(events.window?.partitions, 3);
    assert.equal(outcome(result, 'public.clicks').load!.window?.partitions, 2);
    assert.equal(outcome(result, 'public.clicks').load!.rowsRead, 1200);
    for (const r of runRecords()) assert.equal(r.args?.extract, 'direct');
    rememberArgs();
    assertNoExport(result);
    await assertLakeEqualsSource();
    // lakesync plan says how each table is read from now on.
    const plan = await lakesync(['plan', 'pg', '--json', '--config', configFile]);
    const rows = jsonOf<{ rows: { table: string; action: string; extract: string; why: string }[] }>(plan, 'plan').rows;
    for (const table of Object.keys(TABLES)) {
      const row = rows.find((r) => r.table === table);
      assert.deepEqual([row?.action, row?.extract], ['incremental', 'direct'], JSON.stringify(row));
      assert.match(row!.why, /^direct: window from the lake's max/);
    }
  });

  test('cycle 2 adds the inserts and the late commits inside the lookback, once', async () => {
    await admin.exec(`
      INSERT INTO events SELECT g, 'k' || (g % 7), g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute', NULL FROM generate_series(2001, 2300) g;
      -- Late commits: cursor values below the lake's max (2000), inside the lookback of 50.
      INSERT INTO events SELECT g, 'late', g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute', NULL FROM generate_series(1991, 1995) g;
      INSERT INTO clicks SELECT g, '/p/' || (g % 13), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1201, 1500) g;
      -- Late clicks: 5 minutes below the lake's max cursor, inside the 10-minute lookback.
      INSERT INTO clicks SELECT g, '/late', timestamptz '2026-01-01' + 1200 * interval '1 second' - interval '5 minutes' FROM generate_series(5001, 5020) g;
    `);
    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assertCommitted(result, Object.keys(TABLES));
    const events = outcome(result, 'public.events').load!;
    assert.equal(events.action, 'incremental');
    assert.equal(events.window?.from, '1950', 'the window starts the lookback below the lake max');
    assert.equal(events.window?.to, '2300');
    assert.equal(events.inserted, 305);
    assert.equal(outcome(result, 'public.clicks').load!.inserted, 320);
    rememberArgs();
    assertNoExport(result);
    await assertLakeEqualsSource();
  });

  test('cycle 3: the load runner killed while a load reads its window; the replay loads the window once', async () => {
    // Rows past 2300 can only be read once the test releases the gate; the window's bound query (max) is not gated.
    await admin.exec(`
      CREATE FUNCTION read_gate(id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF id > 2300 AND current_query() !~* 'max\\s*\\(' THEN
          PERFORM pg_advisory_lock_shared(${GATE_LOCK});
          PERFORM pg_advisory_unlock_shared(${GATE_LOCK});
        END IF;
        RETURN true;
      END $$;
      ALTER TABLE events ENABLE ROW LEVEL SECURITY;
      CREATE POLICY gated ON events FOR SELECT TO ${READER} USING (read_gate(id));
      INSERT INTO events SELECT g, 'k' || (g % 7), g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute', NULL FROM generate_series(2301, 2600) g;
      INSERT INTO clicks SELECT g, '/p/' || (g % 13), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1501, 1700) g;
    `);
    const gate = new pg.Client({ connectionString: pgServer.url.replace(/\/postgres$/, '/shop') });
    await gate.connect();
    let cycle: Promise<CycleResult> | undefined;
    try {
      await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
      cycle = sync();
      // Seen from outside: the job's partition reads wait on the gate, inside the window.
      const waiting = await pollFor(
        () => `a read of public.events to reach the gate: runs ${JSON.stringify(runRecords().map((r) => [r.table, r.state]))}`,
        async () => {
          const rows = await pgServer.query<{ query: string }>(
            `SELECT query FROM pg_stat_activity WHERE usename = $1 AND datname = 'shop' AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
            [READER],
          );
          return rows.length > 0 ? rows : undefined;
        },
        180_000,
        200,
      );
      // Only the job's partition reads of the window (its subquery lakesync_window) may be waiting: nothing else reads the table.
      for (const w of waiting) assert.match(w.query, /lakesync_window/, `a read of the window waits on the gate, not: ${w.query.slice(0, 300)}`);
      const reading = runRecords().find((r) => r.table.endsWith('public.events') && r.state === 'running');
      assert.ok(reading, `the load of public.events is running: ${JSON.stringify(runRecords().map((r) => [r.table, r.state]))}`);
      const runner = JSON.parse(readFileSync(layoutOf(workDir).runnerInfo, 'utf8')) as RunnerInfo;
      assert.equal(reading.runner.pid, runner.pid);
      process.kill(runner.pid, 'SIGKILL');
      while (processAlive(runner.pid)) await delay(50);
      // More rows arrive before the replay; its window is fixed anew.
      await admin.exec(`INSERT INTO events SELECT g, 'k' || (g % 7), g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute', NULL FROM generate_series(2601, 2650) g`);
    } finally {
      await gate.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await gate.end();
    }
    const result = await cycle!;
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assertCommitted(result, Object.keys(TABLES));
    const events = outcome(result, 'public.events').load!;
    assert.equal(events.window?.to, '2650');
    assert.equal(events.inserted, 350);
    const replayed = runRecords().filter((r) => r.table.endsWith('public.events') && r.runToken.startsWith(`${result.cycleId}:`));
    assert.equal(replayed.filter((r) => r.state === 'succeeded').length, 1, `one run of public.events committed: ${JSON.stringify(replayed)}`);
    assert.ok(replayed.some((r) => (r.restarts ?? 0) > 0), 'the killed run was started again (with its password)');
    rememberArgs();
    assertNoExport(result);
    await assertLakeEqualsSource();
    await admin.exec('DROP POLICY gated ON events; ALTER TABLE events DISABLE ROW LEVEL SECURITY; DROP FUNCTION read_gate(bigint)');
  });

  test('cycle 4: a table the source refuses to read keeps its watermark while the other advances; cycle 5 catches it up', async () => {
    const before = await ledger();
    assert.ok(before['public.clicks']?.cursorValue, JSON.stringify(before));
    await admin.exec(`
      REVOKE SELECT ON clicks FROM ${READER};
      INSERT INTO events SELECT g, 'k' || (g % 7), g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute', NULL FROM generate_series(2651, 2700) g;
      INSERT INTO clicks SELECT g, '/p/' || (g % 13), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1701, 1800) g;
    `);
    const failed = await sync();
    assert.equal(failed.status, 'partial', JSON.stringify(failed.tables.map((t) => [t.table, t.status, t.error])));
    const clicks = outcome(failed, 'public.clicks');
    assert.equal(clicks.status, 'failed');
    assert.equal(clicks.error?.phase, 'load');
    // Without SELECT, the catalog hides the table's columns from the reader: the job says so, naming the privileges.
    assert.match(clicks.error?.message ?? '', /public\.clicks was not found in database shop \(or user 'lakesync_reader' may not see its columns\).*privileges|permission denied/);
    assertCommitted(failed, ['public.events']);
    assertNoExport(failed);
    const mid = await ledger();
    assert.deepEqual(mid['public.clicks']?.cursorValue, before['public.clicks']?.cursorValue, 'the failed table keeps its watermark');
    assert.equal(mid['public.events']?.cursorValue, '2700', 'the other table advances');
    await assertLakeEqualsSource(['public.events']);
    assert.deepEqual(await lakeQuery('SELECT count(*) AS n FROM shop.clicks'), [{ n: (await count('clicks')) - 100 }], 'the refused table is unchanged');

    await admin.exec(`GRANT SELECT ON clicks TO ${READER}`);
    const caughtUp = await sync();
    assert.equal(caughtUp.status, 'succeeded', JSON.stringify(caughtUp.tables.map((t) => t.error).filter(Boolean)));
    assertCommitted(caughtUp, Object.keys(TABLES));
    assert.equal(outcome(caughtUp, 'public.clicks').load!.inserted, 100);
    assert.equal(outcome(caughtUp, 'public.events').load!.inserted, 0);
    assert.notDeepEqual((await ledger())['public.clicks']?.cursorValue, before['public.clicks']?.cursorValue);
    rememberArgs();
    assertNoExport(caughtUp);
    await assertLakeEqualsSource();
  });

  test('attack: the password is in no file of the work dir or the Temporal server, no job argument, no workflow history', async () => {
    // The config file holds it by design (it is the source URL); everything lakesync wrote must not.
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && join(e.parentPath, e.name) !== configFile)
      .map((e) => join(e.parentPath, e.name));
    assert.ok(files.some((f) => f.includes(join('data', 'runs'))), 'run records were searched');
    assert.ok(files.some((f) => f.endsWith('temporal.db')), 'the Temporal database was searched');
    const holding = files.filter((f) => readFileSync(f).includes(Buffer.from(PASSWORD)));
    assert.deepEqual(holding, []);
    // The search sees what lakesync wrote: the password's reference is in the records, the tables in Temporal's database.
    const reference = seenArgs[0]?.jdbc_password_env ?? 'none';
    assert.ok(files.some((f) => f.includes(join('data', 'runs')) && readFileSync(f).includes(Buffer.from(reference))), `${reference} is in a run record`);
    assert.ok(files.some((f) => f.includes('temporal.db') && readFileSync(f).includes(Buffer.from('public.clicks'))), 'the table names are in the Temporal database');

    assert.ok(seenArgs.length > 0);
    for (const args of seenArgs) {
      assert.ok(args.jdbc_password_env, `a direct load names its password by reference: ${JSON.stringify(args)}`);
      assert.ok(!JSON.stringify(args).includes(PASSWORD));
    }

    const connection = await Connection.connect({ address: server.address });
    try {
      const client = new Client({ connection });
      let histories = 0;
      let seen = 0;
      for await (const execution of client.workflow.list()) {
        const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
        // History messages turn into JSON with every payload's bytes in base64 under `data`: search them decoded.
        const text = JSON.stringify(history, (key, v: unknown) => (key === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : v));
        assert.ok(!text.includes(PASSWORD), `the history of ${execution.workflowId} holds the password`);
        histories += 1;
        // A field name of lakesync's own messages, which only a decoded payload holds.
        if (text.includes('cycleId')) seen += 1;
      }
      assert.ok(histories >= 5, `every cycle's history was searched (${histories})`);
      assert.ok(seen > 0, 'the payloads were searched as text');
    } finally {
      await connection.close();
    }
  });
});
