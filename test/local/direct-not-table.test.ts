/**
 * A view or materialized view named with extract: direct, on a real PostgreSQL: a direct read
 * reads tables only, so the cycle fails it as NotATable with a message that speaks of the direct
 * read (not of an export, which the table does not use) and says what to do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cycleActivities } from '../../src/activities/cycle';
import { localSettings } from '../../src/backends/local';
import { parseConfig, sourceConfig } from '../../src/config/load';
import { buildPlan } from '../../src/cli/plan-view';
import { createLocalPorts } from '../../src/local';
import type { Ports } from '../../src/ports';
import { startPostgres, type TestPostgres } from './helpers/postgres';
import { shopSource } from './helpers/config';

let server: TestPostgres;
let work: string;
let ports: Ports | undefined;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-direct-view-'));
  server = await startPostgres();
  await server.query('CREATE DATABASE shop');
});

after(async () => {
  await ports?.close?.();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a view or materialized view with extract: direct is not read: the message speaks of the direct read and says what to do', { timeout: 300_000 }, async () => {
  const url = server.url.replace(/\/[^/?]*(\?|$)/, '/shop$1');
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric);
      CREATE VIEW public.recent_orders AS SELECT * FROM public.orders;
      CREATE MATERIALIZED VIEW public.order_totals AS SELECT id, total FROM public.orders;
    `);
  } finally {
    await client.end();
  }
  const direct = { extract: 'direct', cursor: { column: 'id' } };
  const config = parseConfig({
    sources: { shop: shopSource(url, { include: ['public.*'], tables: { 'public.orders': direct, 'public.recent_orders': direct, 'public.order_totals': direct } }) },
  });
  ports = await createLocalPorts(localSettings('shop', config.sources.shop!, join(work, 'data')));
  const acts = cycleActivities({ config, portsFor: () => ports! });
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
  // lakesync plan says it alike, and plans no direct read of them (the source's catalog lists its tables, as the CLI reads it).
  const fresh = () => createLocalPorts(localSettings('shop', config.sources.shop!, join(work, 'data')));
  const catalog = async () => {
    const p = await fresh();
    try {
      return await p.discover.sourceTables!(await p.export.listSourceTables!());
    } finally {
      await p.close?.();
    }
  };
  const report = await buildPlan({ name: 'shop', source: sourceConfig(config, 'shop'), status: undefined, ports: fresh, catalog });
  assert.deepEqual(report.rows.map((r) => r.table), ['public.orders'], 'only the table is planned to be read directly');
  for (const [table, kind] of [['public.recent_orders', 'view'], ['public.order_totals', 'materialized view']] as const) {
    const warning = report.warnings.find((w) => w.includes(table)) ?? '';
    assert.match(warning, new RegExp(`^not a table: ${table.replace('.', '\\.')} is a ${kind}, and extract: direct reads tables only`), JSON.stringify(report.warnings));
    assert.match(warning, /set extract: direct \(with a cursor\) on the tables it reads from/);
  }
});
