/**
 * Every type an RDS export writes, end to end on a real PostgreSQL server: Temporal dev server +
 * worker (local backend: the embedded exporter, the Glue core on local Spark) + the `lakesync`
 * command. One table holds every scalar type, a 1-D and a 2-D array of each, ranges, hstore,
 * citext, a domain, an enum, network and bit string types, xml, tsvector, point, money, interval
 * and times; after the create and after a merge the lake equals the source value by value, both
 * read into one canonical text form chosen by the lake column's type. The lake types are the ones
 * README.md lists. A second part runs every column policy once through the real local runner.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { type CliRun, jsonOf, lakesync } from '../../src/demo/cli';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { CycleResult, TableOutcome } from '../../src/model';
import { repoRoot } from '../../src/toolchain';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { quietTemporalLogs } from '../helpers/env';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { type InProcessWorker, runWorkerInProcess } from '../helpers/local-worker';
import { localPace } from './helpers/pace';
import { writeConfig } from './helpers/config';

/** One scalar type: its column name, its SQL type and two values (SQL literals of that type). */
interface ScalarType {
  name: string;
  type: string;
  values: [string, string];
  /** The value after the merge's update. */
  changed: string;
  /** How README.md's type table names it, when not by the type itself. */
  label?: string;
}

const SCALARS: ScalarType[] = [
  { name: 'i2', type: 'smallint', values: ['32767', '-32768'], changed: '7' },
  { name: 'i4', type: 'integer', values: ['2147483647', '-1'], changed: '8' },
  { name: 'i8', type: 'bigint', values: ['9223372036854775807', '-9223372036854775808'], changed: '9' },
  { name: 'f4', type: 'real', values: ['1.5', 'NaN'], changed: '-0.25' },
  { name: 'f8', type: 'double precision', values: ['-2.25', 'Infinity'], changed: '-Infinity' },
  { name: 'n', type: 'numeric(12,4)', values: ['12345.6789', '-0.0001'], changed: '1.2' },
  { name: 'nu', type: 'numeric', values: ['1.5', '123456789.123456789'], changed: '-7' },
  { name: 'mo', type: 'money', values: ['12.50', '-0.01'], changed: '1000000.99' },
  { name: 'bo', type: 'boolean', values: ['true', 'false'], changed: 'false' },
  { name: 'tx', type: 'text', values: ['héllo "world", {x}', ''], changed: 'NULL as text' },
  { name: 'vc', type: 'varchar(20)', values: ['a,b{c}', 'NULL'], changed: 'z' },
  { name: 'ch', type: 'char(5)', values: ['ab', 'x'], changed: 'abcde' },
  { name: 'by', type: 'bytea', values: ['\\x00ff10', '\\x'], changed: '\\x7f' },
  { name: 'dt', type: 'date', values: ['2024-02-29', '1970-01-01'], changed: '2000-12-31' },
  { name: 'tm', type: 'time', values: ['23:59:59.123456', '00:00:00'], changed: '12:00:00' },
  { name: 'tt', type: 'time with time zone', values: ['10:00:00+02', '00:00:00-05:30'], changed: '01:02:03+00' },
  { name: 'ts', type: 'timestamp', values: ['2024-02-29 12:34:56.789012', '1999-12-31 23:59:59'], changed: '2030-01-01 00:00:00.000001' },
  { name: 'tz', type: 'timestamptz', values: ['2024-02-29 12:34:56.789012+02', '2000-01-01 00:00:00+00'], changed: '2030-06-01 12:00:00-07' },
  { name: 'iv', type: 'interval', values: ['1 year 2 mons 3 days 04:05:06', '-00:00:01'], changed: '10 days' },
  { name: 'uu', type: 'uuid', values: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '00000000-0000-0000-0000-000000000000'], changed: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
  { name: 'js', type: 'json', values: ['{"a":  [1, 2]}', 'null'], changed: '"s"' },
  { name: 'jb', type: 'jsonb', values: ['{"b": {"c": null}}', '[]'], changed: '{"k": 1}' },
  { name: 'xm', type: 'xml', values: ['<a b="1">t</a>', '<c/>'], changed: '<d>e</d>' },
  { name: 'ip', type: 'inet', values: ['192.168.0.1/24', '::1'], changed: '10.1.2.3' },
  { name: 'cd', type: 'cidr', values: ['10.0.0.0/8', '2001:db8::/32'], changed: '192.168.0.0/16' },
  { name: 'ma', type: 'macaddr', values: ['08:00:2b:01:02:03', 'ff:ff:ff:ff:ff:ff'], changed: '00:00:00:00:00:01' },
  { name: 'bi', type: 'bit(4)', values: ['1010', '0000'], changed: '1111' },
  { name: 'vb', type: 'bit varying(8)', values: ['101', ''], changed: '11111111' },
  { name: 'tv', type: 'tsvector', values: ['a fat cat', ''], changed: 'rat' },
  { name: 'pt', type: 'point', values: ['(1.5,-2)', '(0,0)'], changed: '(3,4)' },
  { name: 'ci', type: 'citext', values: ['MiXeD', 'x'], changed: 'UPPER' },
  { name: 'hs', type: 'hstore', values: ['a=>1, "b c"=>NULL', ''], changed: 'k=>v' },
  { name: 'ir', type: 'int4range', values: ['[1,10)', 'empty'], changed: '[5,6)' },
  { name: 'nr', type: 'numrange', values: ['(1.5,2.5]', '[0,)'], changed: '(,1]' },
  { name: 'zr', type: 'tstzrange', values: ['[2024-01-01 00:00+00,2024-02-01 00:00+00)', 'empty'], changed: '[2030-01-01 00:00+00,)' },
  { name: 'dr', type: 'daterange', values: ['[2024-01-01,2024-01-31)', 'empty'], changed: '[2030-01-01,2030-01-02)' },
  { name: 'dm', type: 'posint', values: ['5', '2147483647'], changed: '6', label: 'a domain over integer' },
  { name: 'en', type: 'mood', values: ['happy', 'sad'], changed: 'ok', label: 'an enum' },
];

/** The columns: each scalar, a 1-D array of it and a 2-D array of it. */
const COLUMNS = SCALARS.flatMap((s) => [
  { column: s.name, type: s.type, scalar: s, dims: 0 },
  { column: `${s.name}_a1`, type: `${s.type}[]`, scalar: s, dims: 1 },
  { column: `${s.name}_a2`, type: `${s.type}[]`, scalar: s, dims: 2 },
]);

const lit = (s: ScalarType, v: string) => `${quoteLiteral(v)}::${s.type}`;
const quoteLiteral = (v: string) => `'${v.replace(/'/g, "''")}'`;
function value(c: (typeof COLUMNS)[number], a: string, b: string): string {
  const s = c.scalar;
  if (c.dims === 0) return lit(s, a);
  if (c.dims === 1) return `ARRAY[${lit(s, a)}, NULL, ${lit(s, b)}]::${s.type}[]`;
  return `ARRAY[ARRAY[${lit(s, a)}, ${lit(s, b)}], ARRAY[${lit(s, b)}, ${lit(s, a)}]]::${s.type}[]`;
}

const SETUP = [
  'CREATE EXTENSION IF NOT EXISTS citext',
  'CREATE EXTENSION IF NOT EXISTS hstore',
  'CREATE DOMAIN posint AS integer CHECK (VALUE > 0)',
  "CREATE TYPE mood AS ENUM ('happy', 'ok', 'sad')",
  `CREATE TABLE every_type (id integer PRIMARY KEY, ${COLUMNS.map((c) => `${c.column} ${c.type}`).join(', ')})`,
  `INSERT INTO every_type VALUES (1, ${COLUMNS.map((c) => value(c, c.scalar.values[0], c.scalar.values[1])).join(', ')})`,
  `INSERT INTO every_type VALUES (2, ${COLUMNS.map((c) => value(c, c.scalar.values[1], c.scalar.values[0])).join(', ')})`,
  `INSERT INTO every_type (id) VALUES (3)`,
  // Empty arrays are neither NULL nor a list with elements.
  `INSERT INTO every_type (id, ${COLUMNS.filter((c) => c.dims > 0).map((c) => c.column).join(', ')}) VALUES (4, ${COLUMNS.filter((c) => c.dims > 0).map((c) => `'{}'::${c.type}`).join(', ')})`,
];

/** The merge: one row updated in every column, one deleted, one inserted. */
const MERGE = [
  `UPDATE every_type SET ${COLUMNS.map((c) => `${c.column} = ${value(c, c.scalar.changed, c.scalar.values[0])}`).join(', ')} WHERE id = 1`,
  'DELETE FROM every_type WHERE id = 2',
  `INSERT INTO every_type VALUES (5, ${COLUMNS.map((c) => value(c, c.scalar.values[1], c.scalar.changed)).join(', ')})`,
];

let dir: string;
let pg: TestPostgres;
let server: DevServer;
let worker: InProcessWorker | undefined;
let configFile: string;

before(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'lakesync-every-type-'));
  pg = await startPostgres();
  for (const sql of SETUP) await pg.query(sql);
  await pg.query(POLICY_SETUP.join(';\n'));
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  configFile = writeConfig(dir, server.address, 'every-type', {
    pg: {
      database: 'postgres',
      source: { kind: 'postgres', url: pg.url },
      target: { namespace: 'types' },
      include: ['public.every_type', 'public.people', 'public.members', 'public.broken'],
      hashKey: { env: 'LAKESYNC_TEST_HASH_KEY' },
      errors: { showValues: true },
      tables: {
        'public.people': { columns: { secret: { exclude: true }, email: { hash: true }, Nick: { rename: 'nick_name' }, score: { type: 'double' }, qty: { type: 'int', onInvalid: 'null' } } },
        'public.members': { columns: { email: { hash: true } } },
        'public.broken': { columns: { secret: { exclude: true }, qty: { type: 'int' } } },
      },
      concurrency: 2,
      ...localPace(2),
      local: { workDir: join(dir, 'data') },
    },
  });
  delete process.env.TEMPORAL_ADDRESS;
  process.env.LAKESYNC_TEST_HASH_KEY = 'a key for tests only';
  worker = await runWorkerInProcess(configFile, join(dir, 'data-root'));
});

after(async () => {
  await worker?.stop();
  await server?.stop();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The first cycle loads every table (a new source knows no table to limit a sync to). */
let firstCycle: Promise<{ result: CycleResult; text: CliRun }> | undefined;
const first = () => (firstCycle ??= sync());

async function sync(): Promise<{ result: CycleResult; text: CliRun }> {
  // The text report (what a user reads), then that cycle's full result from its workflow.
  const text = await lakesync(['sync', 'pg', '--wait', '--config', configFile]);
  const status = jsonOf<{ status: { lastCycle: { workflowId: string } } }>(await lakesync(['status', 'pg', '--json', '--config', configFile]), 'status');
  const connection = await Connection.connect({ address: server.address });
  try {
    const result = (await new Client({ connection }).workflow.getHandle(status.status.lastCycle.workflowId).result()) as CycleResult;
    return { result, text };
  } finally {
    await connection.close();
  }
}

async function lakeQuery(sql: string): Promise<Record<string, unknown>[]> {
  const run = await lakesync(['query', 'pg', '--json', '--max-rows', '100000', sql, '--config', configFile]);
  assert.equal(run.code, 0, `${sql}\n${run.stderr}`);
  return jsonOf<Record<string, unknown>[]>(run, 'query');
}

/** The lake's column types, from DESCRIBE (partition and comment lines left out). */
async function lakeTypes(table: string): Promise<Record<string, string>> {
  const rows = await lakeQuery(`DESCRIBE types.${table}`);
  const out: Record<string, string> = {};
  for (const r of rows) {
    const name = String(r.col_name ?? '');
    if (!name || name.startsWith('#')) break;
    out[name] = String(r.data_type);
  }
  return out;
}

/** Spark SQL turning a lake value of this type into the canonical text. */
function lakeCanon(expr: string, type: string): string {
  if (type === 'string') return expr;
  if (type === 'binary') return `base64(${expr})`;
  if (type === 'timestamp_ntz') return `date_format(${expr}, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")`;
  if (type === 'timestamp') return `date_format(${expr}, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")`;
  const element = /^array<(.+)>$/.exec(type)?.[1];
  if (element) return `to_json(transform(${expr}, e -> ${lakeCanon('e', element)}))`;
  return `CAST(${expr} AS STRING)`;
}

/** PostgreSQL SQL turning a source value into the same canonical text, given the lake type it became. */
function sourceCanon(expr: string, pgType: string, lakeType: string): string {
  const element = /^array<(.+)>$/.exec(lakeType)?.[1];
  if (element) {
    const base = pgType.replace(/\[\]$/, '');
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE coalesce((SELECT json_agg(${sourceCanon('u.e', base, element)} ORDER BY u.n) FROM unnest(${expr}) WITH ORDINALITY AS u(e, n)), '[]'::json)::text END`;
  }
  if (lakeType === 'binary') return `replace(encode(${expr}, 'base64'), E'\\n', '')`;
  if (lakeType === 'timestamp_ntz') return `to_char(${expr}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
  if (lakeType === 'timestamp') return `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  if (pgType === 'money') return `${expr}::numeric::text`;
  if (lakeType === 'boolean') return `${expr}::text`;
  // The type's own output, as the export writes it (a cast to text drops char(n)'s padding and adds inet's /32).
  return `CASE WHEN ${expr} IS NULL THEN NULL ELSE format('%s', ${expr}) END`;
}

/** Decimals compare by value: trailing zeros (the lake's fixed scale) do not matter. */
function normalize(value: unknown, lakeType: string): unknown {
  if (value === null || value === undefined) return null;
  const text = String(value);
  if (lakeType.startsWith('decimal')) return text.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  const element = /^array<(.+)>$/.exec(lakeType)?.[1];
  if (element) return JSON.stringify((JSON.parse(text) as unknown[]).map((e) => normalize(e, element)));
  return text;
}

async function assertLakeEqualsSource(table: string, columns: { column: string; type: string }[]): Promise<Record<string, string>> {
  const types = await lakeTypes(table);
  for (const c of columns) assert.ok(types[c.column], `${c.column} is a lake column of ${table}: ${JSON.stringify(types)}`);
  const lake = await lakeQuery(`SELECT id, ${columns.map((c) => `${lakeCanon(`\`${c.column}\``, types[c.column]!)} AS \`${c.column}\``).join(', ')} FROM types.${table} ORDER BY id`);
  const source = await pg.query(`SELECT id, ${columns.map((c) => `${sourceCanon(`"${c.column}"`, c.type, types[c.column]!)} AS "${c.column}"`).join(', ')} FROM ${table} ORDER BY id`);
  assert.deepEqual(lake.map((r) => Number(r.id)), source.map((r) => Number(r.id)), 'the same rows');
  const differences: string[] = [];
  source.forEach((row, i) => {
    for (const c of columns) {
      const [want, got] = [normalize(row[c.column], types[c.column]!), normalize(lake[i]![c.column], types[c.column]!)];
      if (want !== got) differences.push(`row ${row.id} ${c.column} (${c.type} -> ${types[c.column]}): source ${JSON.stringify(want)}, lake ${JSON.stringify(got)}`);
    }
  });
  assert.deepEqual(differences, [], differences.join('\n'));
  return types;
}

function outcome(result: CycleResult, table: string): TableOutcome {
  const found = result.tables.find((t) => t.table === table);
  assert.ok(found, `${table} is in the cycle result: ${result.tables.map((t) => t.table).join(', ')}`);
  return found;
}

/** The lake types README.md lists for the scalar types, their 1-D and their 2-D arrays. */
function readmeTypes(): Map<string, [string, string, string]> {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Lake types'));
  const rows = new Map<string, [string, string, string]>();
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const cells = line.split('|').map((c) => c.trim().replace(/`/g, ''));
    if (cells.length >= 5 && cells[1] && !cells[1].startsWith('---') && cells[1] !== 'PostgreSQL type') rows.set(cells[1], [cells[2]!, cells[3]!, cells[4]!]);
  }
  return rows;
}

describe('every exported type, create then merge, lake = source value by value', () => {
  test('create: every column arrives with the lake type README.md lists, equal to the source', async () => {
    const { result } = await first();
    const t = outcome(result, 'public.every_type');
    assert.equal(t.status, 'committed', JSON.stringify(t.error));
    assert.equal(t.load?.action, 'create');
    const types = await assertLakeEqualsSource('every_type', COLUMNS);
    const listed = readmeTypes();
    const unlisted: string[] = [];
    for (const s of SCALARS) {
      const want = listed.get(s.label ?? s.type);
      const got: [string, string, string] = [types[s.name]!, types[`${s.name}_a1`]!, types[`${s.name}_a2`]!];
      if (!want || want.join() !== got.join()) unlisted.push(`| \`${s.label ?? s.type}\` | \`${got[0]}\` | \`${got[1]}\` | \`${got[2]}\` |  (README: ${want?.join(', ') ?? 'missing'})`);
    }
    assert.deepEqual(unlisted, [], `README.md "Lake types" is not current:\n${unlisted.join('\n')}`);
    // A 2-D array is kept as text, and the load says so.
    assert.ok((t.load?.warnings ?? []).some((w) => /i4_a2/.test(w)), `a warning names the multi-dimensional columns: ${JSON.stringify(t.load?.warnings)}`);
  });

  test('merge: updates, a delete and an insert arrive value by value', async () => {
    await first();
    for (const sql of MERGE) await pg.query(sql);
    const { result } = await sync();
    const t = outcome(result, 'public.every_type');
    assert.equal(t.status, 'committed', JSON.stringify(t.error));
    assert.deepEqual([t.load?.action, t.load?.inserted, t.load?.updated, t.load?.deleted], ['merge', 1, 1, 1]);
    await assertLakeEqualsSource('every_type', COLUMNS);
  });

  test('rerun --rebuild replaces the table from the same export, with the same types and values', async () => {
    const before = await lakeTypes('every_type');
    const run = await lakesync(['rerun', 'pg', '--rebuild', 'public.every_type', '--wait', '--json', '--config', configFile]);
    const result = jsonOf<CycleResult>(run, 'rerun');
    const t = outcome(result, 'public.every_type');
    assert.equal(t.status, 'committed', JSON.stringify(t.error));
    // The export's types are the lake's already: the job finds nothing to change and commits nothing.
    assert.ok(t.load?.action === 'replace' || t.load?.action === 'none', `action ${t.load?.action}`);
    assert.deepEqual(await assertLakeEqualsSource('every_type', COLUMNS), before);
    // The load ran as a rebuild: its run record holds the job's arguments.
    const runs = readdirSync(join(dir, 'data', 'runs')).map((f) => JSON.parse(readFileSync(join(dir, 'data', 'runs', f), 'utf8')) as { runToken?: string; args?: Record<string, string> });
    const rebuilt = runs.filter((r) => r.args?.source_table === 'every_type' && r.args?.rebuild === 'true');
    assert.equal(rebuilt.length, 1, JSON.stringify(runs.map((r) => [r.runToken, r.args?.action, r.args?.rebuild])));
    assert.equal(rebuilt[0]!.args!.action, 'replace');
  });
});

const POLICY_SETUP = [
  'CREATE TABLE people (id integer PRIMARY KEY, email text, secret text, "Nick" text, score numeric(6,2), qty text)',
  "INSERT INTO people VALUES (1, 'ann@example.com', 'hunter2-ann', 'Annie', 12.5, '3'), (2, 'bob@example.com', 'hunter2-bob', 'Bobby', -1.25, 'three')",
  'CREATE TABLE members (id integer PRIMARY KEY, email text)',
  "INSERT INTO members VALUES (10, 'bob@example.com'), (11, 'cy@example.com')",
  'CREATE TABLE broken (id integer PRIMARY KEY, secret text, qty text)',
  "INSERT INTO broken VALUES (1, 'hunter2-broken', 'not a number')",
];

describe('column policies through the local runner', () => {
  let result: CycleResult;
  let report: string;
  before(async () => {
    const run = await first();
    result = run.result;
    report = run.text.stdout;
  });

  test('exclude: the column never reaches the lake nor any message, even with showValues', async () => {
    assert.equal(outcome(result, 'public.people').status, 'committed', JSON.stringify(outcome(result, 'public.people').error));
    const types = await lakeTypes('people');
    assert.ok(!('secret' in types), JSON.stringify(types));
    const broken = outcome(result, 'public.broken');
    assert.equal(broken.status, 'failed', 'a value int cannot hold fails the table (onInvalid fail)');
    assert.match(broken.error?.message ?? '', /qty/);
    const everything = JSON.stringify(result) + report + JSON.stringify(await lakeQuery('SELECT * FROM types.people'));
    assert.doesNotMatch(everything, /hunter2/, 'no excluded value anywhere');
    assert.doesNotMatch(JSON.stringify(broken.error), /secret/, 'the excluded column is not named in the error');
  });

  test('hash: a keyed hash, equal for equal values across two tables', async () => {
    const people = await lakeQuery('SELECT id, email FROM types.people ORDER BY id');
    const members = await lakeQuery('SELECT id, email FROM types.members ORDER BY id');
    assert.doesNotMatch(JSON.stringify([people, members]), /@example\.com/);
    assert.equal(people[1]!.email, members[0]!.email, 'bob@example.com hashes to one value in both tables');
    assert.notEqual(people[0]!.email, people[1]!.email);
  });

  test('rename and type: the lake column has the new name and type', async () => {
    const types = await lakeTypes('people');
    assert.equal(types.nick_name, 'string');
    assert.ok(!('nick' in types));
    assert.equal(types.score, 'double');
    assert.equal(types.qty, 'int');
    assert.deepEqual(await lakeQuery('SELECT id, nick_name, score, qty FROM types.people ORDER BY id'), [
      { id: 1, nick_name: 'Annie', score: 12.5, qty: 3 },
      { id: 2, nick_name: 'Bobby', score: -1.25, qty: null },
    ]);
  });

  test('onInvalid null: the value becomes NULL and the cycle report counts it', () => {
    assert.deepEqual(outcome(result, 'public.people').load?.nulledValues, { qty: 1 });
    assert.match(report, /public\.people: 1 value\(s\) stored as NULL \(qty: 1\)/);
  });
});
