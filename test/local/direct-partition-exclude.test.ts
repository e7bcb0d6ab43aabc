/**
 * A direct table (extract: direct) that is partitioned, one of whose partitions an exclude rule
 * names, in embedded mode on a real PostgreSQL: a direct read selects from the partitioned table,
 * which holds every partition's rows, so the table is not read at all. The plan gives it no load
 * and reports it skipped, naming the partition, the rule and the fix; the other direct table is read.
 * A view or materialized view named with extract: direct is not read either: the cycle fails it as
 * NotATable with a message that speaks of the direct read (not of an export) and says what to do.
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
import type { Ports } from '../../src/ports';
import { loadJobArguments } from '../../src/job-args';
import type { LoadRequest, PlanEntry } from '../../src/model';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { shopSource } from './helpers/config';
import { planOfShop } from './helpers/plan';

let server: TestPostgres;
let work: string;
let ports: Ports | undefined;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-direct-partition-'));
  server = await startPostgres();
  await server.query('CREATE DATABASE shop');
});

after(async () => {
  await ports?.close?.();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The URL of database `database` on the test server, after `sql` ran in it. */
async function databaseWith(database: string, sql: string): Promise<string> {
  if (database !== 'shop') await server.query(`CREATE DATABASE ${database}`);
  const url = server.url.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
  return url;
}

test('a direct partitioned table with an excluded partition gets no load; the cycle says which partition, which rule, and what to do', { timeout: 300_000 }, async () => {
  const url = await databaseWith('shop', `
      CREATE TABLE public.events (id bigint, region text NOT NULL, secret text) PARTITION BY LIST (region);
      CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us');
      CREATE TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu');
      CREATE TABLE public.clicks (id bigint PRIMARY KEY);
      INSERT INTO public.events VALUES (1, 'us', 'ok'), (2, 'eu', 'PII of eu');
      INSERT INTO public.clicks VALUES (1);
    `);
  const direct = { extract: 'direct', cursor: { column: 'id', mode: 'append' } };
  const config = parseConfig({
    sources: { shop: shopSource(url, { include: ['public.*'], exclude: ['public.events_eu'], tables: { 'public.events': direct, 'public.clicks': direct } }) },
  });
  ports = await createLocalPorts(localSettings('shop', config.sources.shop!, join(work, 'data')));
  const acts = cycleActivities({ config, portsFor: () => ports! });
  for (const requested of [undefined, ['public.events']]) {
    const cycleId = requested ? 'c-requested' : 'c-all';
    const discovery = await acts.discoverTables('shop', cycleId, undefined, requested);
    const plan = await acts.planCycle('shop', cycleId, discovery, requested ? { requested } : {});
    assert.deepEqual(plan.load.filter((l) => l.table === 'public.events'), [], 'the partitioned table is read directly with its excluded partition\'s rows');
    if (!requested) assert.deepEqual(plan.load.map((l) => l.table), ['public.clicks'], 'the other direct table is read');
    const out = plan.notLoaded.find((t) => t.table === 'public.events');
    assert.ok(out, `the table is reported: ${JSON.stringify(plan.notLoaded)}`);
    assert.equal(out.status, 'skipped');
    assert.match(out.reason ?? '', /partition public\.events_eu is excluded \(exclude public\.events_eu\)/);
    assert.match(out.reason ?? '', /not read directly/);
    assert.match(out.reason ?? '', /exclude public\.events too/);
  }
});

test('a direct table read while exclude rules apply carries the partitions the plan checked to its load, which reads no other', { timeout: 300_000 }, async () => {
  const url = await databaseWith('shop', `
      CREATE TABLE public.logs (id bigint, region text NOT NULL) PARTITION BY LIST (region);
      CREATE TABLE public.logs_us PARTITION OF public.logs FOR VALUES IN ('us') PARTITION BY RANGE (id);
      CREATE TABLE public.logs_us_1 PARTITION OF public.logs_us FOR VALUES FROM (0) TO (1000);
      CREATE TABLE public.pages (id bigint PRIMARY KEY);
    `);
  const direct = { extract: 'direct', cursor: { column: 'id', mode: 'append' } };
  // The excluded partition does not exist yet: it may be attached between the plan and the load.
  const config = parseConfig({
    sources: { shop: shopSource(url, { include: ['public.logs', 'public.pages'], exclude: ['public.logs_eu'], tables: { 'public.logs': direct, 'public.pages': direct } }) },
  });
  const logsPorts = await createLocalPorts(localSettings('shop', config.sources.shop!, join(work, 'data-logs')));
  try {
    const acts = cycleActivities({ config, portsFor: () => logsPorts });
    const discovery = await acts.discoverTables('shop', 'c-logs', undefined, undefined);
    const plan = await acts.planCycle('shop', 'c-logs', discovery, {});
    const entries = await logsPorts.manifests.get<PlanEntry[]>(plan.planRef);
    const known = Object.fromEntries(entries.filter((e) => e.action !== 'skip').map((e) => [e.table, e.extract?.kind === 'direct' ? e.extract.knownPartitions : 'none']));
    assert.deepEqual(known, { 'public.logs': ['public.logs_us', 'public.logs_us_1'], 'public.pages': [] });
    const logs = entries.find((e) => e.table === 'public.logs')!;
    const args = loadJobArguments({ source: 'shop', cycleId: 'c-logs', runToken: 't', database: 'shop', plan: logs } as unknown as LoadRequest, { warehouse: join(work, 'wh') }, {
      url: 'jdbc:postgresql://127.0.0.1:5432/shop',
      user: 'u',
      passwordEnv: 'PW',
    });
    assert.equal(args.known_partitions, '["public.logs_us","public.logs_us_1"]');
  } finally {
    await logsPorts.close?.();
  }
});

test('a view or materialized view with extract: direct is not read: the message speaks of the direct read and says what to do', { timeout: 300_000 }, async () => {
  const url = await databaseWith('views', `
      CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric);
      CREATE VIEW public.recent_orders AS SELECT * FROM public.orders;
      CREATE MATERIALIZED VIEW public.order_totals AS SELECT id, total FROM public.orders;
    `);
  const direct = { extract: 'direct', cursor: { column: 'id' } };
  const config = parseConfig({
    sources: { shop: shopSource(url, { include: ['public.*'], tables: { 'public.orders': direct, 'public.recent_orders': direct, 'public.order_totals': direct } }) },
  });
  const viewPorts = await createLocalPorts(localSettings('shop', config.sources.shop!, join(work, 'data-views')));
  const acts = cycleActivities({ config, portsFor: () => viewPorts });
  try {
    for (const requested of [undefined, ['public.recent_orders', 'public.order_totals']]) {
      const cycleId = requested ? 'c-requested' : 'c-all';
      const discovery = await acts.discoverTables('shop', cycleId, undefined, requested);
      const plan = await acts.planCycle('shop', cycleId, discovery, requested ? { requested } : {});
      for (const [table, kind] of [['public.recent_orders', 'view'], ['public.order_totals', 'materialized view']] as const) {
        const out = plan.notLoaded.find((t) => t.table === table);
        const message = out?.reason ?? out?.error?.message ?? '';
        assert.match(message, new RegExp(`^not a table: ${table.replace('.', '\\.')} is a ${kind}`));
        assert.doesNotMatch(message, /export/, 'a direct table is not exported: the message speaks of the direct read');
        assert.match(message, /extract: direct reads tables only/);
        assert.match(message, new RegExp(`set extract: direct on the tables it reads from|remove tables\\."${table.replace('.', '\\.')}"`));
      }
    }
  } finally {
    await viewPorts.close?.();
  }
  // lakesync plan says it alike, and plans no direct read of them (the source's catalog lists its tables, as the CLI reads it).
  const report = await planOfShop(config, join(work, 'data-views'));
  assert.deepEqual(report.rows.map((r) => r.table), ['public.orders'], 'only the table is planned to be read directly');
  for (const [table, kind] of [['public.recent_orders', 'view'], ['public.order_totals', 'materialized view']] as const) {
    const warning = report.warnings.find((w) => w.includes(table)) ?? '';
    assert.match(warning, new RegExp(`^not a table: ${table.replace('.', '\\.')} is a ${kind}, and extract: direct reads tables only`), JSON.stringify(report.warnings));
    assert.match(warning, /set extract: direct \(with a cursor\) on the tables it reads from/);
  }
});
