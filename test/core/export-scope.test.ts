/** The export scope: what ExportOnly may name, from include/exclude and the known table list. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { selectTable } from '../../src/config/tables';
import { EXPORT_ONLY_MAX_BYTES, exportOnlyProblem, exportScope, ExportScopeRefused, inScope, mergeKnownTables, type ScopeRules, wholeSnapshotWarning } from '../../src/export-scope';

const rules = (include: string[], exclude: string[], tables: string[] = []): ScopeRules => ({
  include,
  exclude,
  tables: Object.fromEntries(tables.map((t) => [t, {}])) as ScopeRules['tables'],
});

const KNOWN = ['public.orders', 'public.customers', 'public.customer_pii', 'sales.deals', 'sales.salaries', 'crm.contacts', 'audit.log'];

/** Every table the scope lets through (known or a future table of a whole schema) is included. */
function assertSafe(r: ScopeRules, scope: { schemas: string[]; tables: string[] }, probe: string[]): void {
  for (const t of scope.tables) assert.ok(selectTable(r, t).included, `${t} is listed but not included`);
  for (const t of probe.filter((t) => scope.schemas.includes(t.split('.')[0]!))) assert.ok(selectTable(r, t).included, `${t} would be exported with its schema`);
}

describe('export scope', () => {
  test('no exclude rule and an include of every table: the whole database', () => {
    const scope = exportScope(rules(['*.*'], []), undefined);
    assert.deepEqual([scope.wholeDatabase, scope.schemas, scope.tables], [true, [], []]);
  });

  test('known tables: whole schemas where no exclude rule applies, single tables elsewhere; excluded ones listed with their rule', () => {
    const r = rules(['public.*', 'sales.*', 'crm.*'], ['public.*_pii', 'sales.salaries']);
    const scope = exportScope(r, KNOWN);
    assert.equal(scope.wholeDatabase, false);
    assert.deepEqual(scope.schemas, ['crm']);
    assert.deepEqual(scope.tables, ['public.customers', 'public.orders', 'sales.deals']);
    assert.deepEqual(scope.excluded, [
      { table: 'audit.log', rule: 'matches no include rule' },
      { table: 'public.customer_pii', rule: 'exclude public.*_pii' },
      { table: 'sales.salaries', rule: 'exclude sales.salaries' },
    ]);
    assertSafe(r, scope, [...KNOWN, 'crm.new_table', 'crm.x_pii']);
  });

  test('an exclude rule keeps out a table whatever the case of its name, also from a schema exported whole', () => {
    const known = ['public.orders', 'public.Customers_PII', 'Sales.deals', 'Sales.Salaries'];
    const r = rules(['public.*', 'Sales.*'], ['public.*_pii', 'sales.salaries']);
    const scope = exportScope(r, known);
    assert.deepEqual(scope.schemas, []);
    assert.deepEqual(scope.tables, ['Sales.deals', 'public.orders']);
    assert.deepEqual(scope.excluded.map((e) => e.table), ['Sales.Salaries', 'public.Customers_PII']);
    assertSafe(r, scope, [...known, 'Sales.SALARIES', 'public.NEW_PII']);
    // Include rules stay exact: PUBLIC.* takes no table of schema public.
    assert.equal(selectTable(rules(['PUBLIC.*'], []), 'public.orders').included, false);
  });

  test('an exclude rule without a schema part, or a wildcard schema, applies to every schema', () => {
    for (const exclude of [['*_pii'], ['*.*_pii'], ['{public,crm}.*_pii']]) {
      const r = rules(['*.*'], exclude);
      const scope = exportScope(r, KNOWN);
      assert.deepEqual(scope.schemas, [], JSON.stringify(exclude));
      assert.ok(!scope.tables.includes('public.customer_pii'));
      assertSafe(r, scope, KNOWN);
    }
  });

  test('an exclude rule whose first dot sits in a class or after an escape still keeps its table out of every export', () => {
    for (const exclude of ['sales[.]salaries', 'sales\\.salaries', 'sale[s].salaries', 's?les.salar[i]es', 'sales[.]sal*', '[s]ales[.]salaries']) {
      const r = rules(['sales.*'], [exclude]);
      assert.equal(selectTable(r, 'sales.salaries').included, false, `${exclude} excludes sales.salaries`);
      for (const known of [KNOWN, undefined]) {
        const scope = (() => {
          try {
            return exportScope(r, known);
          } catch (err) {
            assert.ok(err instanceof ExportScopeRefused, String(err));
            return { schemas: [] as string[], tables: [] as string[] };
          }
        })();
        assert.deepEqual(scope.schemas, [], `${exclude}, known ${known ? 'tables' : 'none'}: sales is not exported whole`);
        assert.ok(!scope.tables.includes('sales.salaries'), exclude);
        assertSafe(r, scope, [...KNOWN, 'sales.salaries']);
      }
    }
  });

  test('a first AWS cycle (no known table): named tables and whole untouched schemas, a warning for the rest', () => {
    const r = rules(['public.*', 'sales.*', 'crm.*'], ['public.*_pii', 'sales.salaries'], ['public.orders']);
    const scope = exportScope(r, undefined);
    assert.deepEqual(scope.schemas, ['crm']);
    assert.deepEqual(scope.tables, ['public.orders']);
    assert.equal(scope.warnings.length, 1);
    assert.match(scope.warnings[0]!, /schema sales is not exported: the exclude rule\(s\) sales\.salaries apply to it.*name its tables under tables: or as include rules/);
  });

  test('nothing exportable without risking an excluded table is refused with the fix', () => {
    assert.throws(
      () => exportScope(rules(['public.*'], ['public.*_pii']), undefined),
      (err: unknown) => err instanceof ExportScopeRefused && /no earlier export lists the source's tables/.test(err.message) && /tables: \(e\.g\. tables: \{ public\.orders: \{\} \}\)/.test(err.message),
    );
    // An include rule without wildcards names a table.
    assert.deepEqual(exportScope(rules(['public.orders'], ['public.*_pii']), undefined).tables, ['public.orders']);
    // A named table that is excluded is not exported.
    assert.throws(() => exportScope(rules(['public.*'], ['public.*_pii'], ['public.card_pii']), undefined), ExportScopeRefused);
  });

  test('a table-limited sync exports the requested included tables; excluded ones are reported, all-excluded is refused', () => {
    const r = rules(['public.*'], ['public.*_pii']);
    const scope = exportScope(r, undefined, ['public.orders', 'public.customer_pii']);
    assert.deepEqual(scope.tables, ['public.orders']);
    assert.deepEqual(scope.excluded, [{ table: 'public.customer_pii', rule: 'exclude public.*_pii' }]);
    assert.throws(() => exportScope(r, undefined, ['public.customer_pii']), /every requested table is left out.*public\.customer_pii \(exclude public\.\*_pii\)/);
  });

  test('a requested name that is no schema.table is refused: RDS would read database.<name> as a whole schema', () => {
    const r = rules(['*'], ['sales.salaries']);
    assert.throws(
      () => exportScope(r, undefined, ['sales', 'public.orders']),
      (err: unknown) => err instanceof ExportScopeRefused && /requested table\(s\) "sales" are no schema\.table names/.test(err.message),
    );
    assert.throws(() => exportScope(r, undefined, ['sales.']), ExportScopeRefused);
    assert.throws(() => exportScope(r, undefined, ['.salaries']), ExportScopeRefused);
  });

  test('the known list: inside an export\'s scope what it listed, outside the previous list; no scope drops nothing', () => {
    const scope = { wholeDatabase: false, schemas: ['crm'], tables: ['public.orders', 'public.gone'] };
    assert.ok(inScope('crm.anything', scope) && inScope('public.orders', scope) && !inScope('public.customers', scope));
    const previous = ['crm.old', 'public.customers', 'public.gone', 'public.orders'];
    assert.deepEqual(mergeKnownTables(previous, ['crm.contacts', 'public.orders'], scope), ['crm.contacts', 'public.customers', 'public.orders']);
    assert.deepEqual(mergeKnownTables(previous, ['crm.contacts'], undefined), ['crm.contacts', 'crm.old', 'public.customers', 'public.gone', 'public.orders']);
    assert.deepEqual(mergeKnownTables(previous, ['a.b'], { wholeDatabase: true, schemas: [], tables: [] }), ['a.b']);
  });
});

describe('what RDS takes as ExportOnly', () => {
  const partial = (schemas: string[], tables: string[]) => ({ wholeDatabase: false, schemas, tables });

  test('names of letters, digits, $ and _ pass; a whole database has no ExportOnly to check', () => {
    assert.equal(exportOnlyProblem('shop', partial(['crm', 'Sales$2'], ['public.orders', 'public.Order_Items'])), undefined);
    assert.equal(exportOnlyProblem('shop-db', { wholeDatabase: true, schemas: [], tables: [] }), undefined);
  });

  test('a table, a schema or the database with another character is refused, naming it and the fixes', () => {
    assert.match(
      exportOnlyProblem('shop', partial(['crm'], ['public.orders', 'public.order-items', 'sales eu.deals']))!,
      /RDS cannot export public\.order-items, sales eu\.deals on their own: a partial export \(ExportOnly\) takes only names of Latin letters, digits, \$ and _; rename them, read those tables directly \(extract: direct\), or let the export take the whole database/,
    );
    assert.match(exportOnlyProblem('shop', partial(['crm-eu'], []))!, /RDS cannot export schema crm-eu on their own/);
    assert.match(exportOnlyProblem('shop-db', partial(['crm'], []))!, /RDS cannot export part of database "shop-db"/);
  });

  test('a whole database RDS cannot name in ExportOnly is exported with the whole snapshot, and the cycle says so', () => {
    assert.equal(wholeSnapshotWarning('shop', { wholeDatabase: true }), undefined, 'ExportOnly: [shop]');
    assert.equal(wholeSnapshotWarning('shop-db', { wholeDatabase: false }), undefined, 'a partial scope is refused instead');
    assert.equal(
      wholeSnapshotWarning('shop-db', { wholeDatabase: true }),
      'RDS cannot limit the export to database "shop-db" (ExportOnly takes only names of Latin letters, digits, $ and _), so it exports the whole snapshot: every database of the instance is written to the export bucket. Rename the database, or read its tables directly (extract: direct)',
    );
  });

  test('a list beyond 200 KB is refused with the number of entries', () => {
    const tables = Array.from({ length: 6000 }, (_, i) => `public.table_with_a_long_name_${String(i).padStart(5, '0')}`);
    assert.ok(JSON.stringify(tables.map((t) => `shop.${t}`)).length > EXPORT_ONLY_MAX_BYTES);
    assert.match(exportOnlyProblem('shop', partial([], tables))!, /would name 0 schemas and 6000 tables, \d+ KB of ExportOnly where RDS takes at most 200 KB: include whole schemas/);
    assert.equal(exportOnlyProblem('shop', partial([], tables.slice(0, 1000))), undefined);
  });
});

describe('partitioned tables', () => {
  test('an included partitioned table whose partitions no include rule names (another schema, or other names) is exported; an excluded partition keeps it out', () => {
    const r = rules(['public.events', 'public.orders'], ['public.secret']);
    const known = ['public.events', 'public.orders', 'public.secret'];
    const partitions = { 'public.events': ['parts.events_2024', 'public.events_2025'] };
    const scope = exportScope(r, known, undefined, [], partitions);
    assert.deepEqual(scope.tables, ['public.events', 'public.orders']);
    assert.deepEqual(scope.excluded, [{ table: 'public.secret', rule: 'exclude public.secret' }]);

    const excluding = exportScope(rules(['public.*'], ['parts.*']), known, undefined, [], partitions);
    assert.deepEqual(excluding.tables, ['public.orders', 'public.secret']);
    assert.match(excluding.excluded.find((e) => e.table === 'public.events')?.rule ?? '', /its partition parts\.events_2024 is excluded \(exclude parts\.\*\)/);
  });
});
