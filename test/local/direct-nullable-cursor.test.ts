/**
 * A table read directly (extract: direct) whose cursor column may hold NULL, on a real PostgreSQL:
 * the create reads the rows whose cursor is NULL, but no later window does, so a row written with
 * a NULL cursor after the create never reaches the lake. The cycle's discovery and `lakesync plan`
 * warn of it before any load, naming the table, the column and the fix; a NOT NULL cursor (a
 * primary key) is not warned of, and neither is a nullable column that is not the cursor.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { cycleActivities } from '../../src/activities/cycle';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { createLocalPorts } from '../../src/local';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { shopSource } from './helpers/config';
import { planOfShop } from './helpers/plan';

let server: TestPostgres;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-direct-nullable-'));
  server = await startPostgres();
  await server.query('CREATE DATABASE shop');
  const client = new pg.Client({ connectionString: server.url.replace(/\/[^/?]*(\?|$)/, '/shop$1') });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE public.events (id bigint PRIMARY KEY, seen_at timestamptz, note text);
      CREATE TABLE public.clicks (id bigint PRIMARY KEY, at timestamptz NOT NULL, note text);
      CREATE TABLE public.orders (id bigint PRIMARY KEY, "order" bigint);
      CREATE TABLE public."Odd" ("Seq" bigint, note text);
      INSERT INTO public.events VALUES (1, now(), 'a'), (2, NULL, 'b');
    `);
  } finally {
    await client.end();
  }
});

after(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function config() {
  const url = server.url.replace(/\/[^/?]*(\?|$)/, '/shop$1');
  return parseConfig({
    sources: {
      shop: shopSource(url, {
        include: ['public.*'],
        tables: {
          'public.events': { extract: 'direct', cursor: { column: 'seen_at' } },
          'public.clicks': { extract: 'direct', cursor: { column: 'at' } },
          'public.Odd': { extract: 'direct', cursor: { column: 'Seq', mode: 'append' } },
          'public.orders': { extract: 'direct', cursor: { column: 'order' } },
        },
      }),
    },
  });
}

function assertWarned(warnings: readonly string[]): void {
  const events = warnings.filter((w) => w.startsWith('public.events: '));
  assert.equal(events.length, 1, JSON.stringify(warnings));
  assert.match(events[0]!, /cursor column seen_at may hold NULL/);
  assert.match(events[0]!, /never reaches the lake/);
  assert.match(events[0]!, /ALTER TABLE "public"\."events" ALTER COLUMN "seen_at" SET NOT NULL/);
  assert.match(events[0]!, /tables\."public\.events"\.cursor\.column/);
  assert.match(warnings.find((w) => w.startsWith('public.Odd: ')) ?? '', /ALTER TABLE "public"\."Odd" ALTER COLUMN "Seq" SET NOT NULL/, JSON.stringify(warnings));
  // A keyword is quoted too: ALTER COLUMN order would not parse.
  assert.match(warnings.find((w) => w.startsWith('public.orders: ')) ?? '', /ALTER TABLE "public"\."orders" ALTER COLUMN "order" SET NOT NULL/, JSON.stringify(warnings));
  // A NOT NULL cursor is not warned of, whatever other column may hold NULL.
  assert.equal(warnings.filter((w) => w.startsWith('public.clicks')).length, 0, JSON.stringify(warnings));
}

test("the cycle's discovery warns of a direct table whose cursor column may hold NULL, naming the column and the fix", { timeout: 300_000 }, async () => {
  const cfg = config();
  const ports = await createLocalPorts(localSettings('shop', cfg.sources.shop!, join(work, 'data-cycle')));
  try {
    const acts = cycleActivities({ config: cfg, portsFor: () => ports });
    const discovery = await acts.discoverTables('shop', 'c-1', undefined, undefined);
    assertWarned(discovery.warnings);
    // A warning, not a refusal: every table is still read.
    const plan = await acts.planCycle('shop', 'c-1', discovery, {});
    assert.deepEqual(plan.load.map((l) => l.table).sort(), ['public.Odd', 'public.clicks', 'public.events', 'public.orders']);
  } finally {
    await ports.close?.();
  }
});

test('lakesync plan warns of it too, before any cycle', { timeout: 300_000 }, async () => {
  const cfg = config();
  const report = await planOfShop(cfg, join(work, 'data-plan'));
  assertWarned(report.warnings);
  assert.deepEqual(report.rows.filter((r) => r.action === 'skip'), []);
});
