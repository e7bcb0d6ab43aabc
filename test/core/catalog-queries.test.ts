/** The catalog queries shared by the embedded export and the RDS catalog connection, on PGlite. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readPrimaryKeys, readTableNames, readUnloggedTables } from '../../src/catalog-queries';
import type { SourceDb } from '../../src/local/source/db';
import { openPglite } from '../../src/local/source/pglite';

let db: SourceDb;

before(async () => {
  db = await openPglite(undefined);
  await db.exec(`
    CREATE SCHEMA "a.b";
    CREATE SCHEMA a;
    CREATE TABLE "a.b".c (id int PRIMARY KEY);
    CREATE TABLE a."b.c" (code text PRIMARY KEY);
    CREATE TABLE public."Odd ""Name""" (k1 int, k2 int, PRIMARY KEY (k2, k1));
    CREATE UNLOGGED TABLE public.scratch (id int PRIMARY KEY);
  `);
});

after(async () => db?.close());

test('two tables of one schema.table name get no primary key: neither one\'s key is the other\'s, nor both together', async () => {
  const keys = await db.consistentRead(readPrimaryKeys);
  assert.equal(keys['a.b.c'], undefined, JSON.stringify(keys));
  assert.deepEqual(keys['public.Odd "Name"'], ['k2', 'k1']);
  assert.deepEqual(keys['public.scratch'], ['id'], 'an unlogged table keeps its key: no export holds it, but a direct read merges by it');
  assert.deepEqual(await db.consistentRead(readTableNames), ['a.b.c', 'a.b.c', 'public.Odd "Name"']);
  assert.deepEqual(await db.consistentRead(readUnloggedTables), ['public.scratch']);
});
