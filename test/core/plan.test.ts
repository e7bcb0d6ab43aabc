/** Planning: each table's action and the reason, from config, source keys and the lake. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, sourceConfig } from '../../src/config/load';
import type { DiscoveredTable } from '../../src/model';
import { planTables } from '../../src/plan';

const source = sourceConfig(
  parseConfig({
    sources: {
      shop: {
        database: 'shop',
        source: { kind: 'pglite' },
        target: { namespace: 'shop' },
        exclude: ['public.*_pii'],
        tables: {
          'public.events': { cursor: { column: 'created_at' } },
          'public.lines': { primaryKey: ['order_id', 'line_no'] },
          'public.prices': { primaryKey: ['sku'], action: 'replace' },
        },
      },
    },
  }),
  'shop',
);

const t = (table: string, primaryKey?: string[]): DiscoveredTable => ({ table, target: `shop.${table}`, columns: [], ...(primaryKey ? { primaryKey } : {}) });
const discovered = [t('public.orders', ['id']), t('public.events', ['id']), t('public.lines'), t('public.prices', ['sku']), t('public.notes'), t('public.users_pii', ['id'])];

test('actions follow the lake, the config and the source keys, each with its reason', () => {
  const lake = new Set(['orders', 'events', 'lines', 'prices', 'notes']);
  const { entries, notLoaded } = planTables(source, discovered, lake);
  const byTable = Object.fromEntries(entries.map((e) => [e.table, e]));
  assert.deepEqual(
    entries.map((e) => [e.table, e.action, e.reason]),
    [
      ['public.orders', 'merge', 'primary key (id) source'],
      ['public.events', 'incremental', 'cursor column created_at'],
      ['public.lines', 'merge', 'primary key (order_id, line_no) configured'],
      ['public.prices', 'replace', 'action replace configured'],
      ['public.notes', 'replace', 'no primary key'],
    ],
  );
  assert.equal(byTable['public.events']!.cursorColumn, 'created_at');
  assert.deepEqual(byTable['public.lines']!.primaryKey, ['order_id', 'line_no']);
  const excluded = notLoaded.find((o) => o.table === 'public.users_pii')!;
  assert.equal(excluded.status, 'skipped');
  assert.equal(excluded.reason, 'excluded (exclude public.*_pii)');
});

test('two source tables that map to one lake name both fail planning with a clear message', () => {
  const { entries, notLoaded } = planTables(source, [t('public.orders', ['id']), t('audit.Orders', ['id'])], new Set());
  assert.equal(entries.length, 0);
  assert.equal(notLoaded.length, 2);
  for (const o of notLoaded) {
    assert.equal(o.status, 'failed');
    assert.equal(o.error?.phase, 'plan');
    assert.match(o.error?.message ?? '', /maps to lake table "orders" like .*: give one of them a lakeName/);
  }
});

test('a missing lake table is created; a rerun plans only the requested tables', () => {
  const { entries, notLoaded } = planTables(source, discovered, new Set(), ['public.orders']);
  assert.deepEqual(entries.map((e) => [e.table, e.action, e.reason]), [['public.orders', 'create', 'lake table missing']]);
  assert.ok(notLoaded.some((o) => o.table === 'public.notes' && o.reason === 'not requested in this cycle'));
});
