/** Planning: each table's action and the reason, from config, source keys and the lake. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, sourceConfig } from '../../src/config/load';
import { loadJobArguments } from '../../src/job-args';
import type { DiscoveredTable, LoadRequest } from '../../src/model';
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
      ['public.events', 'incremental', 'cursor column created_at (upsert)'],
      ['public.lines', 'merge', 'primary key (order_id, line_no) configured'],
      ['public.prices', 'replace', 'action replace configured'],
      ['public.notes', 'replace', 'no primary key'],
    ],
  );
  assert.deepEqual(byTable['public.events']!.cursor, { column: 'created_at', mode: 'upsert' });
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

test('a table-limited run of one of two tables that map to one lake name fails it too, and names the other', () => {
  const both = [t('public.orders', ['id']), t('audit.Orders', ['id'])];
  // One at a time, each would load into lake table "orders" over the other's rows.
  for (const [asked, other] of [['public.orders', 'audit.Orders'], ['audit.Orders', 'public.orders']] as const) {
    const { entries, notLoaded } = planTables(source, both, new Set(['orders']), { requested: [asked] });
    assert.deepEqual(entries, [], `${asked} was planned into a lake table it shares with ${other}`);
    const failed = notLoaded.find((o) => o.table === asked);
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.error?.message, `${asked}: maps to lake table "orders" like ${other}: give one of them a lakeName`);
    assert.equal(notLoaded.find((o) => o.table === other)?.reason, 'not requested in this cycle');
  }
});

test('a table excluded from the source does not take its lake name from another table', () => {
  const withExclude = sourceConfig(parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, exclude: ['audit.*'] } } }), 'shop');
  const { entries } = planTables(withExclude, [t('public.orders', ['id']), t('audit.Orders', ['id'])], new Set(), { requested: ['public.orders'] });
  assert.deepEqual(entries.map((e) => [e.table, e.lakeTable]), [['public.orders', 'orders']]);
});

test('a missing lake table is created; a rerun plans only the requested tables', () => {
  const { entries, notLoaded } = planTables(source, discovered, new Set(), { requested: ['public.orders'] });
  assert.deepEqual(entries.map((e) => [e.table, e.action, e.reason]), [['public.orders', 'create', 'lake table missing']]);
  assert.ok(notLoaded.some((o) => o.table === 'public.notes' && o.reason === 'not requested in this cycle'));
});

test('every decision a load needs is in the entry: key and its origin, cursor and mode, delete limit, approval', () => {
  const strict = sourceConfig(
    parseConfig({
      sources: {
        shop: {
          database: 'shop',
          source: { kind: 'pglite' },
          target: { namespace: 'shop' },
          safety: { maxDeleteFraction: 0.2 },
          tables: {
            'public.events': { cursor: { column: 'created_at' } },
            'public.log': { cursor: { column: 'seq' } },
            'public.audit': { cursor: { column: 'at', mode: 'append' }, primaryKey: ['id'] },
            'public.lines': { primaryKey: ['order_id', 'line_no'] },
          },
        },
      },
    }),
    'shop',
  );
  const lake = new Set(['events', 'log', 'audit', 'lines', 'orders', 'notes']);
  const tables = [t('public.events', ['id']), t('public.log'), t('public.audit'), t('public.lines', ['order_id']), t('public.orders', ['id']), t('public.notes')];
  const { entries } = planTables(strict, tables, lake, { approveDeletes: true });
  const byTable = Object.fromEntries(entries.map((e) => [e.table, e]));
  // Key: the configured one wins over the source's; the origin is recorded.
  assert.deepEqual([byTable['public.lines']!.primaryKey, byTable['public.lines']!.keySource], [['order_id', 'line_no'], 'configured']);
  assert.deepEqual([byTable['public.orders']!.primaryKey, byTable['public.orders']!.keySource], [['id'], 'source']);
  assert.deepEqual([byTable['public.notes']!.primaryKey, byTable['public.notes']!.keySource], [[], 'none']);
  // Cursor mode: upsert with a key, append without one, the configured mode when set.
  assert.deepEqual(byTable['public.events']!.cursor, { column: 'created_at', mode: 'upsert' });
  assert.deepEqual(byTable['public.log']!.cursor, { column: 'seq', mode: 'append' });
  assert.deepEqual(byTable['public.audit']!.cursor, { column: 'at', mode: 'append' });
  assert.equal(byTable['public.orders']!.cursor, undefined);
  for (const e of entries) {
    assert.equal(e.maxDeleteFraction, 0.2, e.table);
    assert.equal(e.approveDeletes, true, e.table);
  }
  const plain = planTables(strict, tables, lake);
  assert.ok(plain.entries.every((e) => e.approveDeletes === false));
});

test('an upsert cursor on a table without any key fails planning, before anything loads', () => {
  const upsert = sourceConfig(
    parseConfig({
      sources: { shop: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, tables: { 'public.log': { cursor: { column: 'seq', mode: 'upsert' } } } } },
    }),
    'shop',
  );
  const { entries, notLoaded } = planTables(upsert, [t('public.log')], new Set(['log']));
  assert.equal(entries.length, 0);
  assert.equal(notLoaded[0]!.status, 'failed');
  assert.equal(notLoaded[0]!.error?.phase, 'plan');
  assert.match(notLoaded[0]!.error?.message ?? '', /public\.log: cursor mode upsert needs a primary key.*set tables\."public\.log"\.primaryKey, or cursor\.mode append/);
  // With a key from the source the same settings load as an upsert.
  assert.deepEqual(planTables(upsert, [t('public.log', ['id'])], new Set(['log'])).entries[0]!.cursor, { column: 'seq', mode: 'upsert' });
});

test('the cursor lookback: configured, else the default for the column type; a lookback that does not fit the type fails planning', () => {
  const config = (lookbacks: Record<string, string | number | undefined>) =>
    sourceConfig(
      parseConfig({
        sources: {
          shop: {
            database: 'shop',
            source: { kind: 'pglite' },
            target: { namespace: 'shop' },
            tables: Object.fromEntries(Object.entries(lookbacks).map(([table, lookback]) => [table, { cursor: { column: table === 'public.events' ? 'created_at' : 'seq', ...(lookback === undefined ? {} : { lookback }) } }])),
          },
        },
      }),
      'shop',
    );
  const column = (columnName: string, originalType: string) => ({ columnName, originalType, expectedExportedType: 'binary (UTF8)' });
  const events: DiscoveredTable = { ...t('public.events', ['id']), columns: [column('id', 'bigint'), column('created_at', 'timestamp with time zone')] };
  const log: DiscoveredTable = { ...t('public.log'), columns: [column('seq', 'bigint')] };
  const unknown = t('public.notes');
  const lake = new Set(['events', 'log', 'notes']);
  const planned = (lookbacks: Record<string, string | number | undefined>) => planTables(config(lookbacks), [events, log, unknown], lake);

  // Defaults: 1 hour for a timestamp, 0 for a number; nothing when the column's type is unknown (the job defaults it).
  const defaults = Object.fromEntries(planned({ 'public.events': undefined, 'public.log': undefined, 'public.notes': undefined }).entries.map((e) => [e.table, e.cursor]));
  assert.deepEqual(defaults, {
    'public.events': { column: 'created_at', mode: 'upsert', lookback: '1h' },
    'public.log': { column: 'seq', mode: 'append', lookback: '0' },
    'public.notes': { column: 'seq', mode: 'append' },
  });
  const configured = planned({ 'public.events': '15m', 'public.log': 500, 'public.notes': '2h' }).entries.map((e) => e.cursor?.lookback);
  assert.deepEqual(configured, ['15m', '500', '2h']);
  assert.deepEqual(planned({ 'public.events': 0, 'public.log': '0m' }).entries.map((e) => e.cursor?.lookback), ['0', '0m', undefined]);

  const misfit = planned({ 'public.events': 3600, 'public.log': '1h' });
  assert.deepEqual(misfit.entries.map((e) => e.table), ['public.notes']);
  const errors = Object.fromEntries(misfit.notLoaded.map((o) => [o.table, [o.status, o.error?.phase, o.error?.message]]));
  assert.deepEqual(errors['public.events']!.slice(0, 2), ['failed', 'plan']);
  assert.match(String(errors['public.events']![2]), /tables\."public\.events"\.cursor\.lookback 3600 does not fit cursor column created_at \(timestamp with time zone\): .*is a duration: write e\.g\. "1h"/);
  assert.match(String(errors['public.log']![2]), /tables\."public\.log"\.cursor\.lookback "1h" does not fit cursor column seq \(bigint\): .*number of cursor units: write e\.g\. 1000, or 0/);
});

test('a cursor whose values a window cannot follow fails planning: only numbers, dates, timestamps and text that orders as its type are cursors', () => {
  const column = (columnName: string, originalType: string) => ({ columnName, originalType, expectedExportedType: 'binary (UTF8)' });
  const withCursor = (table: string, type: string): DiscoveredTable => ({ ...t(table, ['id']), columns: [column('id', 'bigint'), column('flag', type)] });
  // As RDS exports and the source catalog spell them (information_schema names, a domain by its base type).
  const refused = ['boolean', 'bytea', 'ARRAY', 'integer[]', 'pg_lsn', 'inet', 'cidr', 'interval', 'oid', 'time with time zone', 'USER-DEFINED',
    'json', 'jsonb', 'xml', 'tsvector', 'point', 'int4range', 'tstzrange', '"char"', 'money[]'];
  const allowed = ['timestamp with time zone', 'timestamp(3) without time zone', 'date', 'integer', 'numeric(12,2)', 'double precision', 'money',
    'text', 'character varying', 'character varying(20)', 'varchar', 'character(4)', 'bpchar', 'name', 'uuid', 'time without time zone',
    'time(3) without time zone', 'macaddr', 'macaddr8', 'bit(8)', 'bit varying'];
  const tables = [...refused, ...allowed].map((type, i) => ({ name: `public.t${i}`, type }));
  const config = shopWith(Object.fromEntries(tables.map(({ name }) => [name, { cursor: { column: 'flag' } }])));
  const { entries, notLoaded } = planTables(config, tables.map(({ name, type }) => withCursor(name, type)), new Set(tables.map(({ name }) => name.slice('public.'.length))));
  const typeOf = (table: string) => tables.find((x) => x.name === table)!.type;
  assert.deepEqual(entries.map((e) => typeOf(e.table)), allowed);
  assert.deepEqual(notLoaded.map((n) => [typeOf(n.table), n.status, n.error?.phase]), refused.map((type) => [type, 'failed', 'plan']));
  const message = (type: string) => notLoaded.find((n) => typeOf(n.table) === type)!.error?.message ?? '';
  assert.match(message('pg_lsn'), /cursor column flag \(pg_lsn\) of tables\."public\.t\d+"\.cursor is of type pg_lsn, which a window cannot follow: its text form does not order as PostgreSQL orders it, e\.g\. '0\/10000000' sorts below '0\/9FFFFFF' as text, so new rows would never be read: pick a cursor column that is a number, a date or timestamp, or text \(text, character varying, .*uuid.*\).*extract: export/);
  assert.match(message('inet'), /is of type inet, .* '10\.0\.0\.1' sorts below '9\.0\.0\.1'/);
  assert.match(message('interval'), /is of type interval, .* '10 days' sorts below '9 days'/);
  assert.match(message('USER-DEFINED'), /\(USER-DEFINED\) .* is of type user-defined, .*an enum orders by the order its labels were declared in/);
  assert.match(message('oid'), /is of type oid, .*its text form does not order as PostgreSQL orders it, e\.g\. '10' sorts below '9'/);
  assert.match(message('integer[]'), /\(integer\[\]\) .* is of type array, .*'\{10\}' sorts below '\{9\}'/);
  assert.match(message('boolean'), /is of type boolean, which a window cannot follow: .*pick a cursor column that is a number/);
});

/** An embedded source `shop` with these table settings. */
/** A discovered table with its key and its columns (name: PostgreSQL type). */
const withColumns = (table: string, primaryKey: string[], columns: Record<string, string>): DiscoveredTable =>
  ({ table, target: `shop.${table}`, primaryKey, columns: Object.entries(columns).map(([columnName, originalType]) => ({ columnName, originalType })) }) as DiscoveredTable;

const shopWith = (tables: Record<string, unknown>) =>
  sourceConfig(parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, tables } } }), 'shop');

test('a tables key that differs from a table name only in case fails that table: its column excludes are never skipped', () => {
  const mistyped = shopWith({ 'public.customers': { columns: { ssn: { exclude: true } } } });
  const customers = withColumns('public.Customers', ['id'], { id: 'bigint', ssn: 'text' });
  const { entries, notLoaded } = planTables(mistyped, [customers, t('public.orders', ['id'])], new Set());
  assert.deepEqual(entries.map((e) => e.table), ['public.orders']);
  const failed = notLoaded.find((o) => o.table === 'public.Customers')!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.type, 'InvalidTableSettings');
  assert.match(failed.error?.message ?? '', /tables key "public\.customers" differs from this table's name only in case, so its settings would not apply: write the key as "public\.Customers"/);

  // Both tables exist: the key names one of them exactly, and the other has no settings of its own.
  const lower = shopWith({ 'public.customers': { lakeName: 'customers_lower', columns: { ssn: { exclude: true } } } });
  const both = planTables(lower, [customers, { ...customers, table: 'public.customers', target: 'shop.public.customers' }], new Set());
  assert.deepEqual(both.notLoaded, []);
  assert.deepEqual(both.entries.map((e) => e.table).sort(), ['public.Customers', 'public.customers']);
});

test("a kept column whose lake name Iceberg reserves for metadata fails its table in planning; renamed or excluded, it does not", () => {
  const withColumns = (table: string, ...names: string[]): DiscoveredTable => ({
    ...t(table, ['id']),
    columns: ['id', ...names].map((columnName) => ({ columnName, originalType: 'text', expectedExportedType: 'binary (UTF8)' })),
  });
  const config = shopWith({
    'public.renamed': { columns: { _File: { rename: 'source_file' } } },
    'public.excluded': { columns: { _pos: { exclude: true } } },
  });
  const { entries, notLoaded } = planTables(config, [withColumns('public.files', '_File'), withColumns('public.renamed', '_File'), withColumns('public.excluded', '_pos'), withColumns('public.spec', '_Spec_Id')], new Set());
  assert.deepEqual(entries.map((e) => e.table).sort(), ['public.excluded', 'public.renamed']);
  assert.deepEqual(notLoaded.map((n) => [n.table, n.error?.phase, n.error?.type]).sort(), [['public.files', 'plan', 'NameCollision'], ['public.spec', 'plan', 'NameCollision']]);
  const files = notLoaded.find((n) => n.table === 'public.files')!;
  assert.match(files.error?.message ?? '', /column "_File" becomes lake column "_file", a name Iceberg reserves for its metadata columns .*tables\."public\.files"\.columns\."_File": \{ rename: <name> \}/);
  assert.match(notLoaded.find((n) => n.table === 'public.spec')!.error?.message ?? '', /column "_Spec_Id" becomes lake column "_spec_id"/);
});

test("a kept column with the job's reserved prefix fails its table in planning, before any load run; excluded, it does not", () => {
  const withColumns = (table: string, ...names: string[]): DiscoveredTable => ({
    ...t(table, ['id']),
    columns: ['id', ...names].map((columnName) => ({ columnName, originalType: 'text', expectedExportedType: 'binary (UTF8)' })),
  });
  const excluded = shopWith({ 'public.audit': { columns: { __LakeSync_op: { exclude: true } } } });
  const { entries, notLoaded } = planTables(excluded, [withColumns('public.orders', '__LAKESYNC_op', 'note'), withColumns('public.audit', '__LakeSync_op'), t('public.notes', ['id'])], new Set());
  assert.deepEqual(entries.map((e) => e.table), ['public.audit', 'public.notes']);
  assert.equal(notLoaded.length, 1);
  const failed = notLoaded[0]!;
  assert.deepEqual([failed.table, failed.status, failed.error?.phase, failed.error?.type, failed.error?.retryable], ['public.orders', 'failed', 'plan', 'NameCollision', false]);
  assert.equal(
    failed.error?.message,
    'public.orders: column(s) "__LAKESYNC_op" start with the reserved prefix "__lakesync_" (lakesync\'s own columns use it), so nothing is loaded: rename them in the source, or exclude them (tables."public.orders".columns."__LAKESYNC_op": { exclude: true })',
  );
});

test('two kept columns that differ only in case fail their table in planning, naming both and the fix; one excluded or renamed, they do not', () => {
  const people = (table: string) => withColumns(table, ['id'], { id: 'integer', Name: 'text', name: 'text' });
  const config = shopWith({
    'public.excluded': { columns: { name: { exclude: true } } },
    'public.renamed': { columns: { Name: { rename: 'display_name' } } },
  });
  const { entries, notLoaded } = planTables(config, [people('public.people'), people('public.excluded'), people('public.renamed')], new Set());
  assert.deepEqual(entries.map((e) => e.table), ['public.excluded', 'public.renamed']);
  assert.deepEqual(notLoaded.map((n) => [n.table, n.status, n.error?.phase, n.error?.type]), [['public.people', 'failed', 'plan', 'NameCollision']]);
  assert.equal(
    notLoaded[0]!.error?.message,
    'public.people: tables."public.people".columns: Name and name would both become lake column "name": rename one of them ' +
      '(tables."public.people".columns."Name": { rename: <lake name> }), rename it in the source, or exclude one (lake column names are lowercase; nothing is loaded until each column has its own)',
  );
});

test("a kept column named like a column of Spark's MERGE fails a table loaded by key in planning; a replaced table, or the column excluded, does not", () => {
  const cols = (table: string, key: string[], ...names: string[]) => withColumns(table, key, Object.fromEntries(['id', 'ts', ...names].map((n) => [n, n === 'ts' ? 'timestamp' : 'text'])));
  const config = shopWith({
    'public.replaced': { action: 'replace' },
    'public.excluded': { columns: { __Row_Id: { exclude: true } } },
    'public.upserted': { cursor: { column: 'ts' } },
    'public.appended': { cursor: { column: 'ts', mode: 'append' } },
  });
  const tables = [
    cols('public.merged', ['id'], '__Row_Id'),
    cols('public.created', ['id'], '__row_operation'),
    cols('public.replaced', ['id'], '__row_from_source'),
    cols('public.excluded', ['id'], '__Row_Id'),
    cols('public.keyless', [], '__row_from_target'),
    cols('public.upserted', ['id'], '__original_row_id_7'),
    cols('public.appended', [], '__row_id'),
  ];
  const { entries, notLoaded } = planTables(config, tables, new Set(['merged', 'replaced', 'excluded', 'keyless', 'upserted', 'appended']));
  assert.deepEqual(entries.map((e) => [e.table, e.action]), [['public.replaced', 'replace'], ['public.excluded', 'merge'], ['public.keyless', 'replace'], ['public.appended', 'incremental']]);
  assert.deepEqual(notLoaded.map((n) => [n.table, n.status, n.error?.phase, n.error?.type]), [
    ['public.merged', 'failed', 'plan', 'NameCollision'],
    ['public.created', 'failed', 'plan', 'NameCollision'],
    ['public.upserted', 'failed', 'plan', 'NameCollision'],
  ]);
  assert.equal(
    notLoaded[0]!.error?.message,
    'public.merged: column "__Row_Id" becomes lake column "__row_id", a name Spark\'s MERGE uses for its own columns (__row_id, __row_operation, __row_from_source, __row_from_target, __original_row_id_...): every merge by primary key into the lake table would fail, so nothing is loaded; give it another lake name (tables."public.merged".columns."__Row_Id": { rename: <name> }), rename it in the source, or exclude it',
  );
  assert.match(notLoaded[2]!.error?.message ?? '', /column "__original_row_id_7" becomes lake column "__original_row_id_7"/);
});

test("a keyed table whose lake table is missing is refused for a column named like one of Spark's MERGE only when its loads will merge; its create tells the job the loads' action", () => {
  const cols = (table: string, ...names: string[]) => withColumns(table, ['id'], Object.fromEntries(['id', 'ts', ...names].map((n) => [n, n === 'ts' ? 'timestamp' : 'text'])));
  const config = shopWith({
    'public.replaced': { action: 'replace' },
    'public.appended': { cursor: { column: 'ts', mode: 'append' } },
    'public.upserted': { cursor: { column: 'ts' } },
    'public.merged': { action: 'merge', primaryKey: ['id'], cursor: { column: 'ts' } },
  });
  const tables = ['public.replaced', 'public.appended', 'public.upserted', 'public.merged', 'public.created'].map((n) => cols(n, '__row_id'));
  const { entries, notLoaded } = planTables(config, tables, new Set());
  assert.deepEqual(entries.map((e) => [e.table, e.action, e.nextAction]), [
    ['public.replaced', 'create', 'replace'],
    ['public.appended', 'create', 'incremental'],
  ]);
  assert.deepEqual(notLoaded.map((n) => [n.table, n.error?.type]), [['public.upserted', 'NameCollision'], ['public.merged', 'NameCollision'], ['public.created', 'NameCollision']]);
  const args = loadJobArguments({ source: 'shop', cycleId: 'c', runToken: 'r', database: 'shop', namespace: 'shop', resultLocation: '/r', exportId: 'e', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: '/x', plan: entries[0]! } as LoadRequest, { warehouse: '/w' });
  assert.equal(args.action, 'create');
  assert.equal(args.next_action, 'replace');
  // A direct table created from the export is read in windows afterwards: appended, never merged.
  const direct = sourceConfig(
    parseConfig({
      sources: {
        shop: {
          database: 'shop',
          source: { kind: 'postgres', url: 'postgres://reader:pw@127.0.0.1:5432/shop' },
          target: { namespace: 'shop' },
          tables: { 'public.later': { extract: 'direct', cursor: { column: 'ts', mode: 'append' }, direct: { firstLoad: 'export' } } },
        },
      },
    }),
    'shop',
  );
  const later = planTables(direct, [cols('public.later', '__row_id')], new Set());
  assert.deepEqual([later.entries.map((e) => [e.table, e.action, e.nextAction]), later.notLoaded], [[['public.later', 'create', 'incremental']], []]);
  // Every create of an export table says what follows it.
  const plain = planTables(shopWith({}), [t('public.orders', ['id']), t('public.log', [])], new Set()).entries;
  assert.deepEqual(plain.map((e) => [e.table, e.nextAction]), [['public.orders', 'merge'], ['public.log', 'replace']]);
});

test('a key that names a column the table lacks, or one column twice, fails its table in planning; a key of two case-twin columns plans', () => {
  const cols = { id: 'bigint', ID: 'bigint', note: 'text' };
  const config = shopWith({
    'public.missing': { primaryKey: ['id', 'region'] },
    'public.twice': { primaryKey: ['id', 'Id'] },
    'public.twins': { primaryKey: ['id', 'ID'], columns: { ID: { rename: 'id_upper' } } },
    'public.lake': { primaryKey: ['NOTE'] },
  });
  const tables = ['public.missing', 'public.twice', 'public.twins', 'public.lake'].map((n) => withColumns(n, [], n === 'public.twins' ? cols : { id: 'bigint', note: 'text' }));
  const { entries, notLoaded } = planTables(config, tables, new Set());
  assert.deepEqual(entries.map((e) => [e.table, e.primaryKey]), [['public.twins', ['id', 'ID']], ['public.lake', ['NOTE']]]);
  assert.deepEqual(notLoaded.map((n) => [n.table, n.error?.type]), [['public.missing', 'InvalidTableSettings'], ['public.twice', 'InvalidTableSettings']]);
  assert.equal(notLoaded[0]!.error?.message, 'public.missing: tables."public.missing".primaryKey names "region", which public.missing does not have; its columns are: id, note');
  assert.equal(notLoaded[1]!.error?.message, 'public.twice: tables."public.twice".primaryKey names column "id" twice ("id" and "Id"): list each key column once');
});

test('a key column whose name holds a comma fails its table: the load takes the key as a comma-separated list, and would merge on other columns', () => {
  const odd = withColumns('public.odd', ['a,b'], { 'a,b': 'bigint', a: 'bigint', b: 'bigint' });
  const { entries, notLoaded } = planTables(shopWith({}), [odd, t('public.orders', ['id'])], new Set());
  assert.deepEqual(entries.map((e) => e.table), ['public.orders']);
  const failed = notLoaded.find((o) => o.table === 'public.odd')!;
  assert.equal(failed.status, 'failed');
  assert.match(failed.error?.message ?? '', /primary key column "a,b" holds a comma/);
});

test('a key or cursor column whose name begins or ends with white space fails its table: the load job would read another column', () => {
  const keyed = withColumns('public.keyed', [' id'], { ' id': 'bigint', id: 'bigint' });
  const cursored = withColumns('public.cursored', ['id'], { id: 'bigint', 'ts ': 'timestamp', ts: 'timestamp' });
  const source = shopWith({ 'public.cursored': { cursor: { column: 'ts ' } } });
  const { entries, notLoaded } = planTables(source, [keyed, cursored, t('public.orders', ['id'])], new Set());
  assert.deepEqual(entries.map((e) => e.table), ['public.orders']);
  assert.deepEqual(notLoaded.map((o) => [o.table, o.status]), [['public.keyed', 'failed'], ['public.cursored', 'failed']]);
  assert.match(notLoaded[0]!.error?.message ?? '', /column " id" begins or ends with white space.*would use column "id" instead/);
  assert.match(notLoaded[1]!.error?.message ?? '', /column "ts " begins or ends with white space/);
});
