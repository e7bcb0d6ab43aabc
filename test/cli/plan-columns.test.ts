/**
 * lakesync plan and schema of an embedded source whose column names the load job would refuse
 * after its run started: two columns with one lake name, a key or cursor named by its lake name
 * under a policy a key or cursor cannot have. Both exit 2 before any load.
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
      CREATE TABLE public.acct ("ID" int, email text, "Seq" bigint);
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
        hashKey: { env: 'LAKESYNC_HASH_KEY' },
        tables: { 'public.acct': { primaryKey: ['id'], cursor: { column: 'seq' }, columns: { ID: { hash: true }, Seq: { hash: true } } } },
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

test('plan fails both tables (exit 2), naming the columns and the fix; the other table plans', async () => {
  const plan = await run(['plan', 'shop', '--json']);
  assert.equal(plan.code, 2, plan.stderr);
  const rows = (JSON.parse(plan.stdout) as { rows: { table: string; action: string; error?: string }[] }).rows;
  const by = Object.fromEntries(rows.map((r) => [r.table, r]));
  assert.equal(by['public.orders']?.action, 'create');
  assert.match(String(by['public.people']?.error), /Name and name would both become lake column "name": rename one of them \(tables\."public\.people"\.columns\."Name": \{ rename: <lake name> \}/);
  assert.match(String(by['public.acct']?.error), /columns\."ID" is a key column \(tables\."public\.acct"\.primaryKey names it "id"\) and cannot be hashed/);
  assert.match(String(by['public.acct']?.error), /columns\."Seq" is the cursor column \(tables\."public\.acct"\.cursor names it "seq"\) and cannot be hashed/);
});

test('schema reports both as errors (exit 2)', async () => {
  const schema = await run(['schema', 'shop']);
  assert.equal(schema.code, 2, schema.stderr);
  assert.match(schema.stdout, /^\s+error: .*Name and name would both become lake column "name"/m);
  assert.match(schema.stdout, /^\s+error: .*columns\."ID" is a key column .* and cannot be hashed/m);
});
