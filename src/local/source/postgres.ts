/** A PostgreSQL server reached by URL (`source.kind: postgres`). */
import pg from 'pg';
import { PortError } from '../../errors';
import { redactSecrets } from '../../redact';
import { CONSISTENT_READ_SETTINGS, type SourceDb, type SqlSession } from './db';

/** The URL without its password nor any credential parameter (`?password=`), for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return redactSecrets(parsed.toString());
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

export function openPostgres(url: string): SourceDb {
  const description = `PostgreSQL ${redactUrl(url)}`;
  const pool = new pg.Pool({ connectionString: url, max: 3, idleTimeoutMillis: 10_000 });
  // An idle client that loses its server must not crash the worker; the next query reports it.
  pool.on('error', () => undefined);

  async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw connectError(description, err);
    }
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  return {
    kind: 'postgres',
    description,
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return withClient(async (c) => (await c.query(sql, params)).rows as T[]);
    },
    async exec(sql: string) {
      await withClient((c) => c.query(sql));
    },
    async consistentRead<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
      return withClient(async (client) => {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          for (const setting of CONSISTENT_READ_SETTINGS) await client.query(setting);
          const session: SqlSession = {
            rows: async (sql, params = []) => (await client.query({ text: sql, values: params, rowMode: 'array' })).rows as unknown[][],
          };
          const out = await fn(session);
          await client.query('COMMIT');
          return out;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      });
    },
    connect: () => connectPostgres(url),
    connectionUrl: url,
    async close() {
      await pool.end();
    },
  };
}

/**
 * A connection of its own to the server at `url` (the caller ends it); any thread can open one.
 * It only reads: its first statement makes every transaction of the session READ ONLY, whatever
 * the URL's options or the role's and database's settings, so that no statement it runs, nor a
 * function of the source one calls, can write (a search_path that puts a schema before
 * pg_catalog can shadow a built-in function with one that writes).
 */
export async function connectPostgres(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  // Errors reach the caller through its queries; an idle connection's must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw connectError(`PostgreSQL ${redactUrl(url)}`, err);
  }
  try {
    await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectError(`PostgreSQL ${redactUrl(url)}`, err);
  }
  return client;
}

function connectError(description: string, err: unknown): PortError {
  const raw = (err ?? {}) as { code?: string; message?: string };
  // The driver's message may quote the connection string (e.g. a parse error): redact it too.
  const e = { code: raw.code, message: raw.message === undefined ? undefined : redactSecrets(raw.message) };
  if (e.code === '28P01' || e.code === '28000') {
    return new PortError('access-denied', 'SourceAccessDenied', `cannot log in to ${description}: ${e.message}; check the user and password in source.url`, { cause: err });
  }
  if (e.code === '3D000') {
    return new PortError('validation', 'SourceDatabaseMissing', `${description}: ${e.message}; check the database name in source.url`, { cause: err });
  }
  return new PortError('transient', 'SourceUnavailable', `cannot connect to ${description}: ${e.message ?? redactSecrets(String(err))}; check that the server runs and source.url is right`, { cause: err });
}
