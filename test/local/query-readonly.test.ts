/**
 * `lakesync query` cannot change the lake: write and admin statements, however they are dressed
 * (CTEs, comments, case, several statements), are refused with exit 2 by the real command on
 * the real load runner, and the loaded table keeps its rows, its current snapshot and its files.
 * Each statement is also sent straight to the runner's /sql, past the TypeScript guard, so the
 * refusal is shown to be Spark's parser's. One runner (one JVM) serves the whole file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../../src/cli/main';
import { parseConfig } from '../../src/config/load';
import { PortError } from '../../src/errors';
import { localSettings } from '../../src/backends/local';
import { acquireSource, createLocalPorts } from '../../src/local';
import { layoutOf, type WorkDirLayout } from '../../src/local/paths';
import { RunnerClient } from '../../src/local/runner/client';
import type { SourceHandle } from '../../src/local/source/registry';
import type { ExportRef, LoadRequest, PlanEntry } from '../../src/model';
import type { Ports } from '../../src/ports';
import { planEntry } from '../helpers/plan';

let work: string;
let configFile: string;
let layout: WorkDirLayout;
let ports: Ports;
let db: SourceHandle;
let direct: RunnerClient;
/** The table's first snapshot: a rollback target that would really change the table. */
let firstSnapshot: string;

const RAW = {
  sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: '', demo: true }, target: { namespace: 'shop' }, local: { workDir: '' } } },
};

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-readonly-'));
  const raw = structuredClone(RAW);
  raw.sources.shop.source.dataDir = join(work, 'pg');
  raw.sources.shop.local.workDir = join(work, 'shop');
  configFile = join(work, 'lakesync.yaml');
  writeFileSync(configFile, stringify(raw));
  const source = parseConfig(raw).sources.shop!;
  layout = layoutOf(join(work, 'shop'));
  ports = await createLocalPorts(localSettings('shop', source, work));
  db = await acquireSource({ kind: 'pglite', dataDir: join(work, 'pg'), demo: true });

  // Two loads, so the table has a snapshot to roll back to and one to expire.
  const plan = (action: PlanEntry['action']) => planEntry({ table: 'public.order_items', lakeTable: 'order_items', action, primaryKey: ['order_id', 'line_no'] });
  await load(await exportNow(1), 1, plan('create'));
  firstSnapshot = currentSnapshot();
  await db.db.exec('UPDATE order_items SET quantity = quantity + 1 WHERE order_id = 1');
  await load(await exportNow(2), 2, plan('merge'));
  assert.notEqual(currentSnapshot(), firstSnapshot);
  await ports.lake.ensureNamespace('scratch');
  direct = new RunnerClient(layout);
});

after(async () => {
  await direct?.close();
  await ports?.close?.();
  await db?.release();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function exportNow(n: number): Promise<ExportRef> {
  const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: `snap-${n}`, mode: 'create' });
  const ref = await ports.export.startExport({ source: 'shop', exportId: `ls-shop-${n}`, snapshot, tables: ['public.order_items'] });
  for (;;) {
    const status = await ports.export.describeExport(ref.exportId);
    if (status.state === 'complete') return ref;
    assert.equal(status.state, 'in_progress', status.failureCause);
    await delay(100);
  }
}

async function load(ref: ExportRef, cycle: number, plan: PlanEntry): Promise<void> {
  const base = { source: 'shop', cycleId: `c${cycle}`, runToken: `c${cycle}:${plan.table}`, exportId: ref.exportId, snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: ref.location, database: 'shop', plan, namespace: 'shop' };
  const req: LoadRequest = { ...base, resultLocation: ports.load.resultLocation(base) };
  const { runId } = await ports.load.startLoad(req);
  while ((await ports.load.getRun(runId)).state === 'running') await delay(250);
  const result = await ports.load.readResult(req.resultLocation);
  assert.equal(result?.status, 'succeeded', JSON.stringify(result?.error));
}

/** The table's current snapshot id, read from the Hadoop catalog's metadata on disk. */
function currentSnapshot(): string {
  const metadata = join(layout.warehouse, 'shop', 'order_items', 'metadata');
  const version = readFileSync(join(metadata, 'version-hint.text'), 'utf8').trim();
  const text = readFileSync(join(metadata, `v${version}.metadata.json`), 'utf8');
  // Snapshot ids are 64-bit: read the digits, not a rounded JSON number.
  return /"current-snapshot-id"\s*:\s*(-?\d+)/.exec(text)?.[1] ?? 'none';
}

/** Every file and folder of the warehouse with its size: a new metadata version, table or namespace shows. */
function warehouseFiles(dir = layout.warehouse): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    const name = relative(layout.warehouse, path);
    return entry.isDirectory() ? [`${name}/`, ...warehouseFiles(path)] : [`${name} ${statSync(path).size}`];
  }).sort();
}

interface LakeState {
  rows: unknown;
  snapshot: string;
  files: string[];
}

async function lakeState(): Promise<LakeState> {
  const [row] = await direct.call<{ rows: { n: unknown }[] }>('POST', '/sql', { sql: 'SELECT count(*) AS n FROM shop.order_items' }).then((r) => r.rows);
  return { rows: row?.n, snapshot: currentSnapshot(), files: warehouseFiles() };
}

/** Rows and current snapshot first (a short message), then every file. */
function assertUnchanged(before: LakeState, after: LakeState, sql: string): void {
  assert.deepEqual({ rows: after.rows, snapshot: after.snapshot }, { rows: before.rows, snapshot: before.snapshot }, `the lake table changed after: ${sql}`);
  assert.deepEqual(after.files, before.files, `the warehouse changed after: ${sql}`);
}

async function query(sql: string, ...flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: process.env, cwd: work };
  // `--` ends the options: SQL may start with `--` (a comment).
  const code = await runCli(['query', 'shop', ...flags, '--config', configFile, '--', sql], io);
  return { code, stdout, stderr };
}

/** [what it is, the statement, what the refusal names]. */
const ATTACKS: [string, () => string, RegExp][] = [
  ['CTE + INSERT', () => 'WITH c AS (SELECT * FROM shop.order_items LIMIT 1) INSERT INTO shop.order_items SELECT * FROM c', /INSERT/],
  ['CTE + DELETE', () => 'WITH c AS (SELECT 1 AS one) DELETE FROM shop.order_items WHERE order_id > 0', /DELETE/],
  ['CTE + UPDATE', () => 'WITH c AS (SELECT 1 AS one) UPDATE shop.order_items SET quantity = 0', /UPDATE/],
  ['CTE + MERGE', () => 'WITH s AS (SELECT * FROM shop.order_items) MERGE INTO shop.order_items t USING s ON t.order_id = s.order_id AND t.line_no = s.line_no WHEN MATCHED THEN DELETE', /MERGE/],
  ['multi-insert FROM ... INSERT', () => 'FROM shop.order_items INSERT INTO shop.order_items SELECT *', /INSERT/],
  ['DROP TABLE', () => 'DROP TABLE shop.order_items', /DROP/],
  ['DROP NAMESPACE', () => 'DROP NAMESPACE scratch', /DROP/],
  ['CREATE TABLE', () => 'CREATE TABLE shop.intruder (id bigint) USING iceberg', /CREATE/],
  ['CREATE TABLE AS SELECT', () => 'CREATE TABLE shop.copied USING iceberg AS SELECT * FROM shop.order_items', /CREATE/],
  ['ALTER TABLE ADD COLUMN', () => 'ALTER TABLE shop.order_items ADD COLUMN note string', /ALTER|ADD COLUMNS/],
  ['ALTER TABLE SET TBLPROPERTIES', () => "ALTER TABLE shop.order_items SET TBLPROPERTIES ('note' = 'intruder')", /ALTER|SET TABLE PROPERTIES/],
  ['Iceberg CREATE BRANCH', () => 'ALTER TABLE shop.order_items CREATE BRANCH intruder', /ALTER|BRANCH/],
  ['TRUNCATE', () => 'TRUNCATE TABLE shop.order_items', /TRUNCATE/],
  ['INSERT OVERWRITE', () => 'INSERT OVERWRITE shop.order_items SELECT * FROM shop.order_items WHERE order_id = 1', /INSERT/],
  ['CALL rollback_to_snapshot', () => `CALL lake.system.rollback_to_snapshot('shop.order_items', ${firstSnapshot})`, /CALL/],
  ['CALL expire_snapshots', () => "CALL lake.system.expire_snapshots(table => 'shop.order_items', older_than => TIMESTAMP '2999-01-01 00:00:00', retain_last => 1)", /CALL/],
  ['CALL behind a comment that looks closed', () => `/*/ SELECT */ CALL lake.system.rollback_to_snapshot('shop.order_items', ${firstSnapshot})`, /CALL/],
  ['SET', () => 'SET spark.sql.shuffle.partitions=1', /SET/],
  ['USE', () => 'USE scratch', /USE|SET CATALOG AND NAMESPACE/],
  ['CREATE TEMPORARY VIEW', () => 'CREATE TEMPORARY VIEW intruder AS SELECT 1', /CREATE/],
  ['two statements', () => 'SELECT 1; DROP TABLE shop.order_items', /one statement/],
  ['a CTE query then a write', () => 'WITH c AS (SELECT 1) SELECT * FROM c; DELETE FROM shop.order_items', /one statement/],
  ['a block comment hiding a write', () => '/* just a comment */ DELETE FROM shop.order_items', /DELETE/],
  ['a line comment hiding a write', () => '-- SELECT\nDELETE FROM shop.order_items WHERE order_id = 1', /DELETE/],
  ['mixed case and leading whitespace', () => ' \n\t dElEtE FrOm shop.order_items', /DELETE/],
  ['SELECT TRANSFORM (runs a program)', () => "SELECT TRANSFORM(order_id) USING 'cat' AS (x) FROM shop.order_items", /TRANSFORM/],
  ['reflect (calls Java)', () => "SELECT reflect('java.lang.System', 'setProperty', 'lakesync.intruder', 'yes')", /reflect/],
  ['reflect in a WINDOW clause', () => "SELECT count(*) OVER w FROM shop.order_items WINDOW w AS (PARTITION BY reflect('java.lang.System', 'setProperty', 'lakesync.intruder', 'yes'))", /reflect/],
];

describe('lakesync query refuses writes and admin statements (exit 2, lake unchanged)', () => {
  for (const [name, statement, names] of ATTACKS) {
    test(name, async () => {
      const sql = statement();
      const before = await lakeState();
      const run = await query(sql);
      assertUnchanged(before, await lakeState(), sql);
      assert.equal(run.code, 2, `exit code of: ${sql}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
      assert.match(run.stderr, /read-only/);
      assert.match(run.stderr, names);
      assert.equal(run.stdout, '');

      // Past the TypeScript guard: the runner's parser check refuses it too.
      const refused = await direct.call('POST', '/sql', { sql }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(refused instanceof PortError, `the runner ran: ${sql}`);
      assert.equal(refused.code, 'ReadOnlyQuery', refused.message);
      assert.match(refused.message, names);
      assertUnchanged(before, await lakeState(), `${sql} (sent to the runner)`);
    });
  }
});

describe('lakesync query still reads', () => {
  const rows = async (sql: string) => {
    const run = await query(sql, '--json');
    assert.equal(run.code, 0, `${sql}\n${run.stderr}`);
    return JSON.parse(run.stdout) as Record<string, unknown>[];
  };

  test('SELECT, WITH ... SELECT, a parenthesised UNION and a metadata table', async () => {
    const [{ n }] = (await rows('SELECT count(*) AS n FROM shop.order_items')) as [{ n: number }];
    assert.ok(n > 0);
    assert.deepEqual(await rows('WITH c AS (SELECT order_id FROM shop.order_items WHERE order_id = 1) SELECT count(DISTINCT order_id) AS orders FROM c'), [{ orders: 1 }]);
    assert.deepEqual(await rows('/* a comment */ (SELECT 1 AS one) UNION ALL (SELECT 2);'), [{ one: 1 }, { one: 2 }]);
    const snapshots = await rows('SELECT CAST(snapshot_id AS STRING) AS id FROM shop.order_items.snapshots ORDER BY committed_at');
    assert.deepEqual(snapshots.map((r) => r.id), [firstSnapshot, currentSnapshot()]);
  });

  test('SHOW TABLES, DESCRIBE and EXPLAIN SELECT', async () => {
    assert.ok((await rows('SHOW TABLES IN shop')).some((r) => r.tableName === 'order_items'));
    assert.ok((await rows('DESCRIBE shop.order_items')).some((r) => r.col_name === 'order_id'));
    const [plan] = await rows('EXPLAIN SELECT * FROM shop.order_items WHERE order_id = 1');
    assert.match(String(plan?.plan), /Physical Plan/);
  });
});

describe('lakesync query holds at most --max-rows rows of an answer', () => {
  const many = 'SELECT id FROM range(0, 5000) ORDER BY id DESC';

  test('a larger answer prints its first 1,000 rows (the default) and says there are more', async () => {
    const run = await query(many);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines.find((l) => l.startsWith('(')) ?? '', /^\(first 1000 rows shown; the query answers more than 1000 rows: narrow it .* or raise --max-rows \(at most 100000\)\)$/);
    // The header, its rule, the rows, the note.
    const values = lines.filter((l) => /^\s*\d+\s*$/.test(l)).map(Number);
    assert.equal(values.length, 1000);
    assert.deepEqual([values[0], values.at(-1)], [4999, 4000], 'the first rows of the ordered answer');
  });

  test('--max-rows with --json: that many rows on stdout, the note on stderr; an answer that fits has no note', async () => {
    const run = await query(many, '--json', '--max-rows', '3');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [{ id: 4999 }, { id: 4998 }, { id: 4997 }]);
    assert.match(run.stderr, /the query answers more than 3 rows/);
    const fits = await query('SELECT id FROM range(0, 3)', '--json', '--max-rows', '3');
    assert.deepEqual([fits.code, JSON.parse(fits.stdout).length, fits.stderr], [0, 3, '']);
  });

  test('the runner itself returns no more than maxRows, and refuses a maxRows that is not a whole number of at least 1', async () => {
    const { rows } = await direct.call<{ rows: unknown[] }>('POST', '/sql', { sql: many, maxRows: 2 });
    assert.deepEqual(rows, [{ id: 4999 }, { id: 4998 }]);
    for (const maxRows of [0, -1, 1.5, '2', true]) {
      const err = await direct.call('POST', '/sql', { sql: many, maxRows }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof PortError && err.kind === 'validation', `maxRows ${JSON.stringify(maxRows)} was taken`);
      assert.match(err.message, /maxRows must be a whole number of at least 1/);
    }
  });

  test('a --max-rows that is not a whole number from 1 to 100000 is refused before any query (exit 2)', async () => {
    for (const bad of ['0', '100001', '1e3', '-5', 'ten']) {
      const run = await query(many, '--max-rows', bad);
      assert.equal(run.code, 2, `--max-rows ${bad}: ${run.stdout}`);
      assert.match(run.stderr, /--max-rows must be a whole number from 1 to 100000 .*got "/);
      assert.equal(run.stdout, '');
    }
  });
});
