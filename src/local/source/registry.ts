/**
 * One open source database per location in this process. PGlite allows a single process per
 * data folder, so the ports and the demo (which changes the source between cycles) must share
 * the same instance; the last release closes it.
 */
import { resolve } from 'node:path';
import type { SourceDb } from './db';
import { hasNoUserTables, seedDemo } from './demo-schema';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';

export type SourceSpec = { kind: 'pglite'; dataDir: string; demo: boolean } | { kind: 'postgres'; url: string };

export interface SourceHandle {
  db: SourceDb;
  release(): Promise<void>;
}

const open = new Map<string, { db: Promise<SourceDb>; refs: number }>();

function keyOf(spec: SourceSpec): string {
  return spec.kind === 'pglite' ? `pglite:${resolve(spec.dataDir)}` : `postgres:${spec.url}`;
}

export async function acquireSource(spec: SourceSpec): Promise<SourceHandle> {
  const key = keyOf(spec);
  let entry = open.get(key);
  if (!entry) {
    entry = { db: openSpec(spec), refs: 0 };
    open.set(key, entry);
    entry.db.catch(() => open.delete(key));
  }
  entry.refs += 1;
  const current = entry;
  const db = await current.db;
  let released = false;
  return {
    db,
    async release() {
      if (released) return;
      released = true;
      current.refs -= 1;
      if (current.refs === 0 && open.get(key) === current) {
        open.delete(key);
        await db.close();
      }
    },
  };
}

async function openSpec(spec: SourceSpec): Promise<SourceDb> {
  if (spec.kind === 'postgres') return openPostgres(spec.url);
  const db = await openPglite(resolve(spec.dataDir));
  if (spec.demo && (await hasNoUserTables(db))) await seedDemo(db);
  return db;
}
