/**
 * Holds the tables an export reads, as pg_dump does: ACCESS SHARE locks until the export's
 * transaction ends, so that no TRUNCATE, VACUUM FULL or table rewrite (which are not MVCC-safe:
 * a reader on the export's snapshot would see the new, e.g. empty, file) runs while it reads them.
 * A table rewritten between the snapshot and the lock is found by its storage file: the file the
 * snapshot's catalog names is no longer the table's. A partitioned table is read through its
 * partitions, so theirs are checked too, and so is the set of its partitions: a
 * partition detached before the lock, or a table attached at any time (ATTACH takes no lock an
 * export conflicts with), would be read, or not, against the snapshot.
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
  await checkUnchangedSinceSnapshot(session, tables);
}

/** Each table and every partition below it as of the snapshot (recursive pg_inherits, read in the snapshot); an ordinary table is read without its inheriting tables. */
const TREE_SQL = `
WITH RECURSIVE tree(oid, root) AS (
  SELECT c.oid, c.oid FROM pg_class c WHERE c.oid = ANY($1::regclass[])
  UNION ALL
  SELECT i.inhrelid, t.root FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p')`;

const name = (alias: string, ns: string) => `${ns}.nspname || '.' || ${alias}.relname`;

/**
 * Fails when a table, or one of its partitions, was truncated or rewritten since the export's
 * snapshot (its storage file is no longer the one the snapshot's catalog names), or when a
 * partitioned table's partitions are not those of the snapshot. Called once the tables are
 * locked, and again once they are read (a partition can be attached while the export runs).
 */
export async function checkUnchangedSinceSnapshot(session: SqlSession, tables: readonly CatalogTable[]): Promise<void> {
  if (tables.length === 0) return;
  const names = tables.map(quoted);
  // The name may lead to another relation than at the snapshot: the table renamed away or dropped and
  // another created (or renamed) under its name. LOCK and every read resolve the name as it is now, so
  // they would take that one's rows. pg_class read in the snapshot knows the relation by that name, or not at all.
  const replaced = await session.rows(
    `SELECT q.schema || '.' || q.name FROM unnest($1::text[], $2::text[], $3::text[]) AS q(quoted, schema, name)
      WHERE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.oid = to_regclass(q.quoted) AND n.nspname = q.schema AND c.relname = q.name AND c.relkind IN ('r', 'p'))
      ORDER BY 1`,
    [names, tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  if (replaced.length > 0) {
    const list = replaced.map(([table]) => String(table));
    throw new Error(
      `export failed: ${list.join(', ')} ${list.length === 1 ? 'was' : 'were'} dropped or renamed, and another relation now has ${list.length === 1 ? 'its name' : 'their names'}, after the export's snapshot was taken, so its rows as of that snapshot cannot be read by name; run the sync again`,
    );
  }
  // Likewise a column: every read names it as it is named now. A column renamed (two swapped names,
  // say) would be read under another's name, its values exported, and loaded, as that column's.
  // pg_identify_object_as_address names the column as the catalog does now, attname as the snapshot did.
  const renamed = await session.rows(
    `SELECT DISTINCT n.nspname || '.' || c.relname
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.oid = ANY($1::regclass[])
        AND (pg_identify_object_as_address('pg_class'::regclass, c.oid, a.attnum)).object_names[3] IS DISTINCT FROM a.attname::text
      ORDER BY 1`,
    [names],
  );
  if (renamed.length > 0) {
    const list = renamed.map(([table]) => String(table));
    throw new Error(
      `export failed: ${list.join(', ')} had columns renamed or dropped after the export's snapshot was taken, so its columns as of that snapshot cannot be read by name; run the sync again`,
    );
  }
  // relfilenode as of the snapshot (a catalog query reads it), against the file now.
  const rewritten = await session.rows(
    `${TREE_SQL}
     SELECT DISTINCT ${name('r', 'rn')}, CASE WHEN c.oid = r.oid THEN NULL ELSE ${name('c', 'n')} END
       FROM tree t JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = t.root JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.relfilenode <> 0 AND c.relfilenode IS DISTINCT FROM pg_relation_filenode(c.oid)
      ORDER BY 1, 2`,
    [names],
  );
  if (rewritten.length > 0) {
    throw new Error(`export failed: ${described(rewritten)} truncated or rewritten after the export's snapshot was taken, so its rows as of that snapshot are gone from its files; run the sync again`);
  }
  // pg_partition_tree reads the partitions as they are now (PostgreSQL 12 and later); a table
  // created since the snapshot holds no row the snapshot sees, so it does not count.
  const [[version]] = (await session.rows(`SELECT current_setting('server_version_num')::int`)) as [[number]];
  if (Number(version) < 120000) return;
  const moved = await session.rows(
    `${TREE_SQL},
     parted AS (SELECT t.oid, t.root FROM tree t JOIN pg_class r ON r.oid = t.root WHERE r.relkind = 'p'),
     now(oid, root) AS (
       SELECT p.relid::oid, roots.root FROM (SELECT DISTINCT root FROM parted) roots, pg_partition_tree(roots.root::regclass) p
        WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p.relid::oid)),
     changed AS ((SELECT * FROM parted EXCEPT SELECT * FROM now) UNION (SELECT * FROM now EXCEPT SELECT * FROM parted))
     SELECT DISTINCT ${name('r', 'rn')}, ${name('c', 'n')}
       FROM changed d JOIN pg_class c ON c.oid = d.oid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = d.root JOIN pg_namespace rn ON rn.oid = r.relnamespace
      ORDER BY 1, 2`,
    [names],
  );
  if (moved.length > 0) {
    const list = [...group(moved)].map(([table, parts]) => `${table} had partitions attached or detached (${parts.join(', ')})`).join(', ');
    throw new Error(`export failed: ${list} after the export's snapshot was taken, so it would not be read as of that snapshot; run the sync again`);
  }
}

/** Rows of [table, partition or null] as `a.t (its partitions a.p1, a.p2), b.u was` / `were`. */
function described(rows: unknown[][]): string {
  const byTable = group(rows);
  const parts = [...byTable].map(([table, partitions]) => {
    const own = partitions.filter((p) => p !== null);
    return own.length === 0 ? table : `${table} (${own.length === 1 ? 'its partition' : 'its partitions'} ${own.join(', ')})`;
  });
  const many = byTable.size > 1 || [...byTable.values()].some((p) => p.filter((x) => x !== null).length > 1);
  return `${parts.join(', ')} ${many ? 'were' : 'was'}`;
}

function group(rows: unknown[][]): Map<string, (string | null)[]> {
  const byTable = new Map<string, (string | null)[]>();
  for (const [table, partition] of rows) {
    const list = byTable.get(String(table)) ?? [];
    list.push(partition === null || partition === undefined ? null : String(partition));
    byTable.set(String(table), list);
  }
  return byTable;
}
