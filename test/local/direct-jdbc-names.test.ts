/**
 * The JDBC connection of a direct load reaches exactly the database, user and password the source
 * URL names to node-postgres (which discovers and exports the source), whatever characters they
 * hold: checked on a real PostgreSQL server with pgjdbc, the driver the load job uses. A database
 * named `sh op` sits beside `sh+op`, so a JDBC URL that pgjdbc decodes otherwise reads the wrong one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { jdbcFromUrl } from '../../src/local/source/jdbc';
import { openPostgres } from '../../src/local/source/postgres';
import { toolchain } from '../../src/toolchain';
import { startPostgres, type TestPostgres } from './helpers/postgres';

const run = promisify(execFile);
const ROLE = 'r+o&l?e=%/@ ü';
const PASSWORD = 'p+w&?=%/@ ü#';
const DATABASES = ['sh+op', 'sh op', 'a&b=c', 'p%q', 'x/y', 'ünï côde', 'a@b'];

let dir: string;
let pgServer: TestPostgres;

/** Connects with pgjdbc as the load job does (URL, then user and password as properties) and prints the database and user. */
const PROBE = `
import java.sql.*;
import java.util.Properties;
public class Probe {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties();
    p.setProperty("user", a[1]);
    p.setProperty("password", a[2]);
    try (Connection c = DriverManager.getConnection(a[0], p); ResultSet r = c.createStatement().executeQuery("SELECT current_database(), current_user")) {
      r.next();
      System.out.print(r.getString(1) + "\\n" + r.getString(2));
    }
  }
}
`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lakesync-jdbc-names-'));
  writeFileSync(join(dir, 'Probe.java'), PROBE);
  pgServer = await startPostgres();
  await pgServer.query(`CREATE ROLE "${ROLE}" LOGIN PASSWORD '${PASSWORD}'`);
  for (const name of DATABASES) await pgServer.query(`CREATE DATABASE "${name}"`);
  const [{ hba_file: hba }] = await pgServer.query<{ hba_file: string }>('SHOW hba_file');
  writeFileSync(hba!, ['local all all trust', `host all "${ROLE}" 127.0.0.1/32 scram-sha-256`, 'host all all 127.0.0.1/32 trust', ''].join('\n'));
  await pgServer.query('SELECT pg_reload_conf()');
});

after(async () => {
  await pgServer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function viaNodePostgres(url: string): Promise<[string, string]> {
  const db = openPostgres(url);
  try {
    const [row] = await db.query<{ d: string; u: string }>('SELECT current_database() AS d, current_user AS u');
    return [row!.d, row!.u];
  } finally {
    await db.close();
  }
}

async function viaJdbc(url: string): Promise<[string, string]> {
  const { source, secretEnv } = jdbcFromUrl(url, {});
  const java = join(toolchain().javaHome, 'bin', 'java');
  const { stdout } = await run(java, ['-cp', toolchain().postgresJdbcJar!, join(dir, 'Probe.java'), source.url, source.user!, secretEnv[source.passwordEnv]!]);
  const [database, user] = stdout.split('\n');
  return [database!, user!];
}

test('every spelling of a database name node-postgres reaches, pgjdbc reaches too, as the same user', { timeout: 300_000 }, async () => {
  const login = `${encodeURIComponent(ROLE)}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${pgServer.port}`;
  // How a name may be written in source.url: as it is, percent-encoded as a path, or in full.
  const spellings = DATABASES.flatMap((name) => [name, encodeURI(name), encodeURIComponent(name)]);
  let reached = 0;
  for (const path of new Set(spellings)) {
    const url = `postgres://${login}/${path}`;
    const expected = await viaNodePostgres(url).catch(() => undefined);
    if (expected === undefined) continue; // node-postgres fails first: the source is never read.
    reached += 1;
    assert.deepEqual(await viaJdbc(url), expected, `source.url path ${JSON.stringify(path)}`);
    assert.equal(expected[1], ROLE);
  }
  assert.ok(reached >= DATABASES.length, `${reached} spellings reached a database`);
});

test('a user and password given as URL parameters are the ones pgjdbc logs in with, as node-postgres does', { timeout: 120_000 }, async () => {
  // node-postgres takes ?user= and ?password= over the URL's user info.
  const url = `postgres://nobody:wrong@127.0.0.1:${pgServer.port}/sh+op?user=${encodeURIComponent(ROLE)}&password=${encodeURIComponent(PASSWORD)}`;
  const expected = await viaNodePostgres(url);
  assert.deepEqual(expected, ['sh+op', ROLE]);
  assert.deepEqual(await viaJdbc(url), expected);
});
