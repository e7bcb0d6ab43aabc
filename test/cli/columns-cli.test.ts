/**
 * Small command-line behaviours: query --json keeps non-finite floats, a refused query exits 2,
 * a closed stdout (`| head -1`) ends a command quietly, rerun --rebuild's usage, and `lakesync
 * schema` on a PostgreSQL source (the job's own type mapping, policies, their errors).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli as runInProcess } from '../../src/cli/main';
import { rowsJson } from '../../src/cli/commands/query';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { Ports } from '../../src/ports';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { rdsSourceConfig } from '../helpers/source-config';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';
import { CLI, ROOT, cliEnv, runCli, tempDir, writeConfig } from './helpers';

const dir = tempDir('lakesync-columns-cli-');
after(() => dir.remove());

function capture() {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: {}, cwd: dir.dir };
  return { out, io };
}

const pgliteConfig = () => writeConfig(join(dir.dir, 'pglite.yaml'), { sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(dir.dir, 'pg') }, target: { namespace: 'shop' } } } });

describe('lakesync query', () => {
  test('--json prints NaN, Infinity and -Infinity, not null', async () => {
    const configFile = pgliteConfig();
    const rows = [{ x: Number.NaN, y: Number.POSITIVE_INFINITY, z: Number.NEGATIVE_INFINITY, n: 1.5, s: 'NaN', none: null }];
    const ports = { lake: { query: async () => rows }, close: async () => undefined } as unknown as Ports;
    const { out, io } = capture();
    const code = await runInProcess(['query', 'shop', '--json', '--config', configFile, 'SELECT 1'], io, { portsFor: async () => ports });
    assert.equal(code, 0, out.stderr);
    assert.match(out.stdout, /"x": NaN,\s+"y": Infinity,\s+"z": -Infinity,\s+"n": 1\.5,\s+"s": "NaN",\s+"none": null/);
  });

  test('rowsJson leaves strings that look like the markers alone', () => {
    assert.equal(rowsJson([{ a: 'Infinity', b: Number.NaN }], 0), '[{"a":"Infinity","b":NaN}]');
  });

  test('a refused statement exits 2 in a real process, with the reason', async () => {
    const configFile = pgliteConfig();
    const run = await runCli(['query', 'shop', '--config', configFile, '--', 'DELETE FROM shop.orders']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /lakesync query is read-only and does not run DELETE statements/);
  });
});

describe('a closed stdout ends a command quietly (lakesync status | head -1)', () => {
  let server: DevServer;
  before(async () => {
    server = await startDevServer({ dbFile: join(dir.dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  });
  after(async () => server?.stop());

  /** Runs the real command with the read end of its stdout already closed. */
  function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cliEnv({ TEMPORAL_ADDRESS: server.address }), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
  }

  test('status exits 0 with nothing on stderr when its reader has gone', async () => {
    const configFile = writeConfig(join(dir.dir, 'fake.yaml'), { temporal: { address: server.address }, sources: { shop: { database: 'shop', source: { kind: 'fake', tables: ['public.a'] }, target: { namespace: 'shop' } } } });
    const run = await withClosedStdout(['status', 'shop', '--config', configFile]);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
  });
});

describe('lakesync rerun --rebuild', () => {
  test('it takes the place of --tables; with --failed or --tables it is a usage error', async () => {
    const configFile = pgliteConfig();
    for (const args of [['--rebuild', 'public.a', '--failed'], ['--rebuild', 'public.a', '--tables', 'public.b']]) {
      const run = await runCli(['rerun', 'shop', ...args, '--config', configFile]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /rerun needs exactly one of --failed or --tables <list>, or --rebuild <table\.\.\.>/);
    }
    const bad = await runCli(['rerun', 'shop', '--rebuild', 'orders', '--config', configFile]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rebuild: orders is not schema\.table/);
  });
});

describe('lakesync schema on PostgreSQL', () => {
  let pg: TestPostgres;
  let configFile: string;
  before(async () => {
    pg = await startPostgres();
    await pg.query(`CREATE TABLE people (id int PRIMARY KEY, "Email" varchar(80), born date, score numeric(8,3), tags text[], grid int[], seen timestamptz, notes text)`);
    await pg.query('CREATE TABLE other (x bigint)');
    configFile = writeConfig(join(dir.dir, 'pg.yaml'), {
      sources: {
        pg: {
          database: 'postgres',
          source: { kind: 'postgres', url: pg.url },
          target: { namespace: 'pg' },
          hashKey: { env: 'LAKESYNC_HASH_KEY' },
          tables: { 'public.people': { columns: { Email: { hash: true }, notes: { exclude: true }, score: { type: 'double', onInvalid: 'null' }, born: { rename: 'birth_date', onInvalid: 'clamp' } } } },
        },
      },
    });
  });
  after(async () => pg?.stop());

  test('every column with its lake column, the job\'s lake type, its policy and where it came from', async () => {
    const run = await runCli(['schema', 'pg', 'public.people', '--json', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { columnsFrom: string; tables: { table: string; primaryKey: string[]; columns: Record<string, unknown>[] }[] };
    assert.match(report.columnsFrom, /source catalog \(postgres\)/);
    const [people] = report.tables;
    assert.deepEqual(people!.primaryKey, ['id']);
    const by = Object.fromEntries(people!.columns.map((c) => [c.column, c]));
    assert.deepEqual([by.id!.lakeColumn, by.id!.lakeType, by.id!.policy], ['id', 'int', '-']);
    assert.deepEqual([by.Email!.lakeColumn, by.Email!.lakeType, by.Email!.policy], ['email', 'string', 'hash']);
    assert.deepEqual([by.notes!.lakeColumn, by.notes!.lakeType], [null, null]);
    assert.deepEqual([by.score!.lakeType, by.score!.from], ['double', 'tables."public.people".columns.score.type']);
    assert.deepEqual([by.born!.lakeColumn, by.born!.lakeType], ['birth_date', 'date']);
    assert.equal(by.seen!.lakeType, 'timestamp');
    assert.match(String(by.seen!.from), /load job mapping of timestamp with time zone/);
    // Arrays: what the job makes of a one-dimensional array of the element type.
    assert.match(String(by.tags!.lakeType), /^array<string>$|^string$/);
    assert.ok(by.tags!.warning, 'an array column carries a note about dimensions');
  });

  test('text output has one block per table; every table is listed without a table argument', async () => {
    const run = await runCli(['schema', 'pg', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^public\.other$/m);
    assert.match(run.stdout, /^public\.people \(key id\)$/m);
    assert.match(run.stdout, /SOURCE COLUMN\s+SOURCE TYPE\s+LAKE COLUMN\s+LAKE TYPE\s+POLICY\s+FROM/);
  });

  test('a policy on an unknown or key column is an error (exit 2) naming the table\'s columns', async () => {
    const bad = writeConfig(join(dir.dir, 'pg-bad.yaml'), {
      sources: { pg: { database: 'postgres', source: { kind: 'postgres', url: pg.url }, target: { namespace: 'pg' }, tables: { 'public.people': { columns: { emial: { exclude: true }, id: { onInvalid: 'null' } } } } } },
    });
    const run = await runCli(['schema', 'pg', 'public.people', '--config', bad]);
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stdout, /error: .*names "emial", which public\.people does not have; its columns are: id, Email, born, score, tags, grid, seen, notes/);
    assert.match(run.stdout, /error: .*"id" is a key column \(the source's primary key\) and cannot be nulled/);
    const unknown = await runCli(['schema', 'pg', 'public.nope', '--config', bad]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /pg has no table public\.nope .*its tables are: public\.other, public\.people/);
  });

  test('a view, materialized view or partition named to schema is said to be one, with what to do (exit 2)', async () => {
    await pg.query(`
      CREATE VIEW public.people_view AS SELECT id FROM people;
      CREATE MATERIALIZED VIEW public.people_count AS SELECT count(*) AS n FROM people;
      CREATE TABLE public.visits (id int, taken date) PARTITION BY RANGE (taken);
      CREATE TABLE public.visits_2024 PARTITION OF public.visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    `);
    try {
      const view = await runCli(['schema', 'pg', 'public.people_view', '--config', configFile]);
      assert.equal(view.code, 2);
      assert.match(view.stderr, /pg: public\.people_view is a view, not a table: an export holds tables only, so it has no columns to load; run lakesync schema pg <table> on the tables it reads from/);
      const counted = await runCli(['schema', 'pg', 'public.people_count', '--config', configFile]);
      assert.match(counted.stderr, /public\.people_count is a materialized view, not a table/);
      const partition = await runCli(['schema', 'pg', 'public.visits_2024', '--config', configFile]);
      assert.equal(partition.code, 2);
      assert.match(partition.stderr, /pg: public\.visits_2024 is a partition of public\.visits: its rows are loaded with public\.visits; run lakesync schema pg public\.visits/);
    } finally {
      await pg.query('DROP VIEW public.people_view; DROP MATERIALIZED VIEW public.people_count; DROP TABLE public.visits');
    }
  });

  test('plan without a Temporal server lists every table of the source, and --columns its columns', async () => {
    const run = await runCli(['plan', 'pg', '--columns', '--config', configFile], { env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /tables from: the source's catalog/);
    assert.match(run.stdout, /^public\.other\s+pg\.other\s+create/m);
    assert.match(run.stdout, /^public\.people\s+pg\.people\s+create\s+lake table missing\s+id \(source\)/m);
    assert.match(run.stdout, /^\s+Email\s+character varying\s+email\s+string\s+hash/m);
  });
});

describe('lakesync schema on an rds source', () => {
  /** An rds source `prod` on AWS, exporting to s3://exports/lakesync/exports, with `extra` merged into it. */
  const rdsSource = (extra: Record<string, unknown> = {}) => rdsSourceConfig({ aws: { export: { bucket: 'exports', prefix: 'lakesync/exports' } }, ...extra });

  test("reads the columns from the export's originalTypeMappings (--export), with no Temporal server", async () => {
    const configFile = writeConfig(join(dir.dir, 'rds.yaml'), {
      sources: { prod: rdsSource({ tables: { 'public.t': { columns: { note: { exclude: true } } } } }) },
    });
    const asked: string[] = [];
    const ports = {
      discover: {
        exportAvailable: async (ref: { exportId: string; location: string }) => (asked.push(ref.location), true),
        discover: async () => ({
          database: 'shop',
          skipped: [],
          warnings: [],
          tables: [{ table: 'public.t', target: 'shop.public.t', primaryKey: ['id'], columns: [
            { columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' },
            { columnName: 'amount', originalType: 'numeric', expectedExportedType: 'binary (UTF8)', originalNumPrecision: 10 },
            { columnName: 'note', originalType: 'text', expectedExportedType: 'binary (UTF8)' },
          ] }],
        }),
      },
      close: async () => undefined,
    } as unknown as Ports;
    const { out, io } = capture();
    const code = await runInProcess(['schema', 'prod', '--export', 'ls-prod-7', '--json', '--config', configFile], io, { portsFor: async () => ports });
    assert.equal(code, 0, out.stderr);
    assert.deepEqual(asked, ['s3://exports/lakesync/exports/ls-prod-7']);
    const report = JSON.parse(out.stdout) as { columnsFrom: string; tables: { columns: { column: string; lakeType: string | null; from: string }[] }[] };
    assert.equal(report.columnsFrom, 'the originalTypeMappings of export ls-prod-7');
    assert.deepEqual(report.tables[0]!.columns.map((c) => [c.column, c.lakeType]), [['id', 'bigint'], ['amount', 'decimal(10,0)'], ['note', null]]);
    assert.match(report.tables[0]!.columns[1]!.from, /scale from the lake table or the data/);
  });

  test('a table the export skipped is said to be, with the reason; a view the catalog lists is said to be one (exit 2)', async () => {
    const configFile = writeConfig(join(dir.dir, 'rds-skipped.yaml'), { sources: { prod: rdsSource() } });
    const ports = {
      discover: {
        exportAvailable: async () => true,
        discover: async () => ({
          database: 'shop',
          skipped: [{ table: 'public.scratch', reason: 'export status SKIPPED: unlogged table' }],
          warnings: [],
          tables: [{ table: 'public.t', target: 'shop.public.t', columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }] }],
        }),
      },
      export: { listSourceNotTables: async () => ({ 'public.v': 'view' }) },
      close: async () => undefined,
    } as unknown as Ports;
    const skipped = capture();
    assert.equal(await runInProcess(['schema', 'prod', 'public.scratch', '--export', 'ls-prod-7', '--config', configFile], skipped.io, { portsFor: async () => ports }), 2);
    assert.match(skipped.out.stderr, /prod: public\.scratch has no columns in the originalTypeMappings of export ls-prod-7: the export skipped it \(export status SKIPPED: unlogged table\)/);
    const view = capture();
    assert.equal(await runInProcess(['schema', 'prod', 'public.v', '--export', 'ls-prod-7', '--config', configFile], view.io, { portsFor: async () => ports }), 2);
    assert.match(view.out.stderr, /prod: public\.v is a view, not a table/);
  });

  test('without --export and with Temporal unreachable, it fails as a runtime failure (exit 1), not a usage error', async () => {
    const configFile = writeConfig(join(dir.dir, 'rds-nowhere.yaml'), {
      temporal: { address: '127.0.0.1:9', taskQueue: 'schema-nowhere', connectTimeoutSeconds: 1 },
      sources: { prod: rdsSource() },
    });
    const { out, io } = capture();
    const code = await runInProcess(['schema', 'prod', '--config', configFile], io, { portsFor: async () => { throw new Error('no ports are needed'); } });
    assert.equal(code, 1, out.stderr);
    assert.match(out.stderr, /cannot be asked .*127\.0\.0\.1:9.*pass --export <exportId>/s);
  });
});
