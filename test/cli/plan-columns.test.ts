/**
 * lakesync plan and schema of an embedded source whose column names the load job would refuse
 * after its run started: two columns with one lake name. Both exit 2 before any load.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/main';
import { openPglite } from '../../src/local/source/pglite';
import { tempDir, writeConfig } from './helpers';

const dir = tempDir('plan-columns');
after(() => dir.remove());

let configFile: string;

before(async () => {
  const db = await openPglite(join(dir.dir, 'pg'));
  try {
    await db.exec(`
      CREATE TABLE public.people (id int PRIMARY KEY, "Name" text, name text);
      CREATE TABLE public.orders (id int PRIMARY KEY);
    `);
  } finally {
    await db.close();
  }
  configFile = writeConfig(join(dir.dir, 'lakesync.yaml'), {
    sources: {
      shop: {
        database: 'shop',
        source: { kind: 'pglite', dataDir: join(dir.dir, 'pg') },
        target: { namespace: 'shop' },
      },
    },
  });
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: { TEMPORAL_ADDRESS: '127.0.0.1:1' }, cwd: dir.dir };
  const code = await runCli([...args, '--config', configFile], io);
  return { code, ...out };
}

test('plan fails the table (exit 2), naming both columns and the fix; the other table plans', async () => {
  const plan = await run(['plan', 'shop', '--json']);
  assert.equal(plan.code, 2, plan.stderr);
  const rows = (JSON.parse(plan.stdout) as { rows: { table: string; action: string; error?: string }[] }).rows;
  const by = Object.fromEntries(rows.map((r) => [r.table, r]));
  assert.equal(by['public.orders']?.action, 'create');
  assert.match(String(by['public.people']?.error), /Name and name would both become lake column "name": rename one of them \(tables\."public\.people"\.columns\."Name": \{ rename: <lake name> \}/);
});

test('schema reports it as an error (exit 2)', async () => {
  const schema = await run(['schema', 'shop']);
  assert.equal(schema.code, 2, schema.stderr);
  assert.match(schema.stdout, /^\s+error: .*Name and name would both become lake column "name"/m);
});
