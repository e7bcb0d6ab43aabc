/**
 * The embedded mode's JDBC connection for direct loads: the source URL split into a JDBC URL and a
 * user for the job arguments, and a password that only the load runner's request body carries,
 * again for a run started anew after its runner died. No Spark: the runner is a stand-in here
 * (test/local/direct.test.ts runs the real one).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { PortError } from '../../src/errors';
import { loadJobArguments } from '../../src/job-args';
import { createDiscoverPort } from '../../src/local/discover';
import { createLoadPort, newRunId, type RunRecord } from '../../src/local/load';
import { layoutOf } from '../../src/local/paths';
import type { RunnerClient } from '../../src/local/runner/client';
import { JDBC_PASSWORD_ENV_PREFIX, jdbcFromUrl } from '../../src/local/source/jdbc';
import { openPglite } from '../../src/local/source/pglite';
import type { LoadRequest } from '../../src/model';
import { planEntry } from '../helpers/plan';

const work = mkdtempSync(join(tmpdir(), 'lakesync-direct-jdbc-'));
after(() => rmSync(work, { recursive: true, force: true }));

const PASSWORD = 's3cr=t@p/ss w0rd';
const URL_WITH_PASSWORD = `postgres://reader:${encodeURIComponent(PASSWORD)}@db.example.com:6543/shop?sslmode=require&application_name=lakesync&sslpassword=keypass&connect_timeout=5`;

describe('jdbcFromUrl', () => {
  test('keeps host, port, database and the non-secret parameters; the user apart; the password by reference only', () => {
    const jdbc = jdbcFromUrl(URL_WITH_PASSWORD, {});
    assert.equal(jdbc.source.url, 'jdbc:postgresql://db.example.com:6543/shop?sslmode=require&ApplicationName=lakesync&connectTimeout=5');
    assert.equal(jdbcFromUrl('postgres://r:p@h/db?sslkey=/k.pem&sslcert=/c.pem&sslrootcert=/ca.pem', {}).source.url, 'jdbc:postgresql://h:5432/db?sslrootcert=%2Fca.pem');
    assert.equal(jdbc.source.user, 'reader');
    assert.match(jdbc.source.passwordEnv, new RegExp(`^${JDBC_PASSWORD_ENV_PREFIX}[0-9A-F]{16}$`));
    assert.deepEqual(jdbc.secretEnv, { [jdbc.source.passwordEnv]: PASSWORD });
    const shown = JSON.stringify(jdbc.source);
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 'keypass']) assert.ok(!shown.includes(secret), `${secret} is not in ${shown}`);
  });

  test('defaults: port 5432, PGPASSWORD when the URL has no password, the user as database, IPv6 hosts', () => {
    const jdbc = jdbcFromUrl('postgresql://app@[::1]', { PGPASSWORD: 'from-env' });
    assert.equal(jdbc.source.url, 'jdbc:postgresql://[::1]:5432/app');
    assert.deepEqual(Object.values(jdbc.secretEnv), ['from-env']);
    assert.deepEqual(Object.values(jdbcFromUrl('postgres://app@h/db', {}).secretEnv), ['']);
  });

  test('one variable per user and server: two logins never share one', () => {
    const a = jdbcFromUrl('postgres://a:x@h:1/db', {}).source.passwordEnv;
    assert.equal(jdbcFromUrl('postgres://a:y@h:1/db', {}).source.passwordEnv, a, 'a new password replaces the old one under the same name');
    assert.notEqual(jdbcFromUrl('postgres://b:x@h:1/db', {}).source.passwordEnv, a);
    assert.notEqual(jdbcFromUrl('postgres://a:x@h:2/db', {}).source.passwordEnv, a);
  });

  test('a URL without a TCP host is refused, saying why and without its password', () => {
    for (const url of ['postgres:///db', 'postgres://u:pw-123@localhost/db?host=/var/run/postgresql']) {
      assert.throws(
        () => jdbcFromUrl(url, {}),
        (err: unknown) => err instanceof PortError && err.kind === 'validation' && /names no TCP host/.test(err.message) && !err.message.includes('pw-123'),
      );
    }
  });

  test('the job arguments built from it carry no credential', () => {
    const jdbc = jdbcFromUrl(URL_WITH_PASSWORD, {});
    const args = loadJobArguments(directRequest('public.events'), { warehouse: '/w' }, jdbc.source);
    assert.equal(args.extract, 'direct');
    assert.equal(args.jdbc_url, jdbc.source.url);
    assert.equal(args.jdbc_user, 'reader');
    assert.equal(args.jdbc_password_env, jdbc.source.passwordEnv);
    assert.equal(args.partitions, '3');
    const text = JSON.stringify(args);
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 'keypass']) assert.ok(!text.includes(secret));
  });
});

function directRequest(table: string, runToken = `7-abcd:${table}`): LoadRequest {
  return {
    source: 'shop',
    cycleId: '7-abcd',
    runToken,
    database: 'shop',
    plan: planEntry({ table, lakeTable: table.split('.')[1]!, action: 'incremental', cursor: { column: 'id', mode: 'upsert' }, extract: { kind: 'direct', partitions: 3 } } as Parameters<typeof planEntry>[0]),
    namespace: 'shop',
    resultLocation: join(work, 'results', '7-abcd', `${table}.json`),
  };
}

type LoadBody = { runId: string; runToken: string; args: Record<string, string>; secretEnv?: Record<string, string> };

/** A stand-in for the runner that records each request body and the run, as the real one does. */
function recordingRunner(layoutDir: string, bodies: LoadBody[]): RunnerClient {
  const layout = layoutOf(layoutDir);
  return {
    ensure: async () => ({ pid: process.pid, port: 0, token: '', instance: 'stub', warehouse: '' }),
    call: async (_method: string, _path: string, body: LoadBody) => {
      bodies.push(body);
      mkdirSync(layout.runs, { recursive: true });
      const record: RunRecord = { runId: body.runId, runToken: body.runToken, state: 'queued', table: 'shop.public.events', resultPath: join(work, 'none.json'), queuedAt: new Date().toISOString(), runner: { pid: process.pid, instance: 'stub' }, args: body.args };
      writeFileSync(join(layout.runs, `${body.runId}.json`), JSON.stringify(record));
      return { runId: body.runId };
    },
  } as unknown as RunnerClient;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await delay(10);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('direct loads through the local load port', () => {
  test('the password reaches the runner in the request body only, never in a run record', async () => {
    const dir = join(work, 'body');
    const bodies: LoadBody[] = [];
    const jdbc = jdbcFromUrl(URL_WITH_PASSWORD, {});
    const port = createLoadPort(layoutOf(dir), recordingRunner(dir, bodies), { jdbc: () => jdbc });
    const { runId } = await port.startLoad(directRequest('public.events'));
    await until(() => bodies.length > 0);
    assert.equal(bodies[0]!.runId, runId);
    assert.deepEqual(bodies[0]!.secretEnv, { [jdbc.source.passwordEnv]: PASSWORD });
    assert.equal(bodies[0]!.args.jdbc_password_env, jdbc.source.passwordEnv);
    assert.ok(!JSON.stringify(bodies[0]!.args).includes(PASSWORD));
    for (const file of filesUnder(dir)) assert.ok(!readFileSync(file, 'utf8').includes(PASSWORD), `${file} holds the password`);
  });

  test('a direct run started again after its runner died gets the password again', async () => {
    const dir = join(work, 'restart');
    const layout = layoutOf(dir);
    const bodies: LoadBody[] = [];
    const jdbc = jdbcFromUrl(URL_WITH_PASSWORD, {});
    const args = loadJobArguments(directRequest('public.events'), { warehouse: layout.warehouse }, jdbc.source);
    const token = '7-abcd:public.orphan';
    const runId = newRunId(token);
    mkdirSync(layout.runs, { recursive: true });
    const orphan: RunRecord = { runId, runToken: token, state: 'running', table: 'shop.public.events', resultPath: join(work, 'none.json'), queuedAt: new Date().toISOString(), startedAt: new Date().toISOString(), runner: { pid: 4194305, instance: 'gone' }, args, restarts: 0 };
    writeFileSync(join(layout.runs, `${runId}.json`), JSON.stringify(orphan));
    const port = createLoadPort(layout, recordingRunner(dir, bodies), { jdbc: () => jdbc });
    assert.equal((await port.getRun(runId)).detail, 'STARTING');
    await until(() => bodies.length > 0);
    assert.equal(bodies[0]!.runId, runId);
    assert.deepEqual(bodies[0]!.secretEnv, { [jdbc.source.passwordEnv]: PASSWORD });
    for (const file of filesUnder(dir)) assert.ok(!readFileSync(file, 'utf8').includes(PASSWORD), `${file} holds the password`);
  });

  test('an export load sends no password, and a direct load on a source without JDBC (PGlite) is refused before any run', async () => {
    const dir = join(work, 'export');
    const bodies: LoadBody[] = [];
    const jdbc = jdbcFromUrl(URL_WITH_PASSWORD, {});
    const port = createLoadPort(layoutOf(dir), recordingRunner(dir, bodies), { jdbc: () => jdbc });
    const exportLoad: LoadRequest = { ...directRequest('public.orders'), exportId: 'ls-shop-7-abcd', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: '/e', plan: planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', primaryKey: ['id'] }) };
    await port.startLoad(exportLoad);
    await until(() => bodies.length > 0);
    assert.equal(bodies[0]!.secretEnv, undefined);
    assert.equal(bodies[0]!.args.jdbc_url, undefined);

    const pglite = createLoadPort(layoutOf(join(work, 'pglite')), recordingRunner(join(work, 'pglite'), []));
    await assert.rejects(pglite.startLoad(directRequest('public.events')), (err: unknown) => err instanceof PortError && err.code === 'DirectNeedsPostgres' && /source\.kind postgres/.test(err.message));
  });

  test('a source URL without a password is refused before any run, naming the fix', async () => {
    const dir = join(work, 'nopassword');
    const bodies: LoadBody[] = [];
    const port = createLoadPort(layoutOf(dir), recordingRunner(dir, bodies), { jdbc: () => jdbcFromUrl('postgres://reader@db:5432/shop', {}) });
    await assert.rejects(port.startLoad(directRequest('public.events')), (err: unknown) => err instanceof PortError && err.kind === 'validation' && err.code === 'JdbcPasswordMissing' && /as reader .*add the password to source\.url/.test(err.message));
    await delay(50);
    assert.deepEqual(bodies, []);
  });
});

describe('the tables read directly, as the source catalog describes them', () => {
  test('columns in the export mappings, the declared key, and no entry for a table the source lacks', async () => {
    const db = await openPglite(undefined);
    try {
      await db.exec(`
        CREATE TABLE events (id bigint PRIMARY KEY, amount numeric(12,2), at timestamptz, tags text[]);
        CREATE TABLE clicks (n bigint, page text);
      `);
      const port = createDiscoverPort(layoutOf(join(work, 'discover')), 'shop', async () => db);
      const tables = await port.sourceTables!(['public.events', 'public.clicks', 'public.missing']);
      assert.deepEqual(tables.map((t) => t.table).sort(), ['public.clicks', 'public.events']);
      const events = tables.find((t) => t.table === 'public.events')!;
      assert.equal(events.target, 'shop.public.events');
      assert.deepEqual(events.primaryKey, ['id']);
      assert.deepEqual(
        events.columns.map((c) => [c.columnName, c.originalType, c.expectedExportedType]),
        [['id', 'bigint', 'int64'], ['amount', 'numeric', 'binary (UTF8)'], ['at', 'timestamp with time zone', 'binary (UTF8)'], ['tags', 'ARRAY', 'binary (UTF8)']],
      );
      assert.equal(tables.find((t) => t.table === 'public.clicks')!.primaryKey, undefined);
      // The columns that may hold NULL (a cursor among them is warned of by the plan); a key column never may.
      assert.deepEqual(events.nullable, ['amount', 'at', 'tags']);
      assert.deepEqual(tables.find((t) => t.table === 'public.clicks')!.nullable, ['n', 'page']);
    } finally {
      await db.close();
    }
  });
});
