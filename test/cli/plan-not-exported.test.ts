/**
 * lakesync plan of an embedded source, read from its catalog before any export: a table the
 * export will skip (unlogged, two tables of one name, odd column names) is not planned as loaded.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/main';
import { openPglite } from '../../src/local/source/pglite';
import { tempDir, writeConfig } from './helpers';

const dir = tempDir('plan-not-exported');
after(() => dir.remove());

before(async () => {
  const db = await openPglite(join(dir.dir, 'pg'));
  try {
    await db.exec(`
      CREATE TABLE public.orders (id int PRIMARY KEY);
      CREATE UNLOGGED TABLE public.sessions (id int PRIMARY KEY, token text);
      CREATE UNLOGGED TABLE public.scratch_excluded (id int);
      CREATE SCHEMA "a.b";
      CREATE SCHEMA a;
      CREATE TABLE "a.b".c (id int);
      CREATE TABLE a."b.c" (id int);
      CREATE VIEW public.recent_orders AS SELECT * FROM public.orders;
    `);
  } finally {
    await db.close();
  }
});

interface PlanJson {
  rows: { table: string; action: string; why: string }[];
  notes: string[];
  warnings: string[];
}

test('a table the export will skip is not planned as loaded: a note says why, as after an export', async () => {
  const file = writeConfig(join(dir.dir, 'lakesync.yaml'), {
    sources: { shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(dir.dir, 'pg') }, target: { namespace: 'shop' }, exclude: ['public.scratch_*'], tables: { 'public.recent_orders': {} } } },
  });
  const out = { stdout: '', stderr: '' };
  const io = { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: { TEMPORAL_ADDRESS: '127.0.0.1:1' }, cwd: dir.dir };
  await runCli(['plan', 'shop', '--json', '--config', file], io);
  const plan = JSON.parse(out.stdout) as PlanJson;
  const action = Object.fromEntries(plan.rows.map((r) => [r.table, r.action]));
  assert.equal(action['public.orders'], 'create');
  assert.equal(action['public.sessions'], undefined, `the unlogged table is not planned: ${JSON.stringify(plan.rows)}`);
  assert.equal(action['a.b.c'], undefined, 'neither table named a.b.c is planned');
  assert.equal(action['public.scratch_excluded'], 'skip', 'an excluded table is shown excluded, as before');
  assert.ok(plan.notes.some((n) => /^public\.sessions will not be exported: public\.sessions is an unlogged table/.test(n)), plan.notes.join('\n'));
  assert.ok(plan.warnings.some((w) => /^tables entry "public\.recent_orders" names a view, not a table/.test(w)), plan.warnings.join('\n'));
  assert.ok(plan.notes.some((n) => /^a\.b\.c will not be exported: .*are all named a\.b\.c/.test(n)), plan.notes.join('\n'));
});
