/**
 * Holds the tables an export reads, as pg_dump does: ACCESS SHARE locks until the export's
 * transaction ends, so that no TRUNCATE, VACUUM FULL or table rewrite (which are not MVCC-safe:
 * a reader on the export's snapshot would see the new, e.g. empty, file) runs while it reads them.
 * A table rewritten between the snapshot and the lock is found by its storage file: the file the
 * snapshot's catalog names is no longer the table's.
 */
import type { CatalogTable } from '../source/catalog';
import type { SqlSession } from '../source/db';
import { quoted } from './table-plan';

export async function holdTables(session: SqlSession, tables: readonly CatalogTable[]): Promise<void> {
  if (tables.length === 0) return;
  try {
    await session.rows(`LOCK TABLE ${tables.map(quoted).join(', ')} IN ACCESS SHARE MODE`);
  } catch (err) {
    const message = (err as Error).message;
    const hint = /out of shared memory|max_locks_per_transaction/.test(message)
      ? `: the export locks its ${tables.length} tables for its whole transaction, as pg_dump does; raise max_locks_per_transaction on the database`
      : '';
    throw new Error(`export failed: its tables could not be locked against TRUNCATE and rewrites (${message})${hint}`, { cause: err });
  }
  // relfilenode as of the snapshot (a catalog query reads it), against the table's file now.
  const rewritten = await session.rows(
    `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::regclass[]) AND c.relfilenode <> 0 AND c.relfilenode IS DISTINCT FROM pg_relation_filenode(c.oid)`,
    [tables.map(quoted)],
  );
  if (rewritten.length > 0) {
    const names = rewritten.map((r) => String(r[0])).join(', ');
    throw new Error(`export failed: ${names} was truncated or rewritten after the export's snapshot was taken, so its rows as of that snapshot are gone from its files; run the sync again`);
  }
}
