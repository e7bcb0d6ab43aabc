/** PGlite: PostgreSQL compiled to WebAssembly, running inside this process (`source.kind: pglite`). */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { CONSISTENT_READ_SETTINGS, type SourceDb, type SqlSession } from './db';

/** Opens (creating when needed) a PGlite database in `dataDir`, or in memory when dataDir is undefined. */
export async function openPglite(dataDir: string | undefined): Promise<SourceDb> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = new PGlite(dataDir);
  try {
    await db.waitReady;
  } catch (err) {
    throw new Error(`cannot open the PGlite database in ${dataDir ?? '(memory)'}: ${(err as Error).message}; is another process using it? (PGlite allows one process per data folder)`, { cause: err });
  }
  return {
    kind: 'pglite',
    description: `PGlite ${dataDir ?? '(in memory)'}`,
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return (await db.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    async consistentRead<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        for (const setting of CONSISTENT_READ_SETTINGS) await tx.query(setting);
        return fn({ rows: async (sql, params = []) => (await tx.query<unknown[]>(sql, params, { rowMode: 'array' })).rows });
      });
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
