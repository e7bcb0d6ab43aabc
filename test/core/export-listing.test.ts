/** The RDS export listing reader: file order, kept and skipped tables, warnings, repeats, file names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  exportInfoName,
  isTablesInfoFile,
  missingExportInfo,
  missingTablesInfo,
  readExportListing,
  tableOfTarget,
  tablesInfoPrefix,
  tablesInfoRange,
  type TablesInfoFile,
} from '../../src/export-listing';

const ID = 'ls-shop-1';
const id = { columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64', originalCharMaxLength: 0, originalNumPrecision: 64, originalDateTimePrecision: 0 };
const complete = (table: string, extra: Record<string, unknown> = {}) => ({ target: `shop.${table}`, status: 'COMPLETE', schemaMetadata: { originalTypeMappings: [id] }, ...extra });
const file = (from: number, to: number, perTableStatus: unknown[], exportId = ID): TablesInfoFile => ({
  name: `export_tables_info_${exportId}_from_${from}_to_${to}.json`,
  document: { perTableStatus },
});
/** What the reason of a table the export did not complete adds: the remedy. */
const SKIPPED = '; RDS skips a table it cannot export (a column name with a space or , ; { } ( ) = tab or newline, a slash in the table name, an unlogged or temporary table, a row near 2 GB): fix that in the source or exclude the table, then run a new sync (a rerun reuses this export)';
const OTHER = '; run a new sync to export it again (a rerun reuses this export)';
const read = (tablesInfo: TablesInfoFile[], info: Record<string, unknown> = {}, database = 'shop') => readExportListing({ exportId: ID, database, info, tablesInfo });

test('a one-table listing keeps the table with its size and validated column mappings', () => {
  const total = { columnName: 'total', originalType: 'numeric', expectedExportedType: 'binary (UTF8)', originalCharMaxLength: '12', originalNumPrecision: 12, originalNumScale: 2, originalDateTimePrecision: null };
  const found = read([file(1, 1, [complete('public.orders', { sizeGB: 0.002, schemaMetadata: { originalTypeMappings: [id, total, 'not a mapping'] } })])]);
  assert.deepEqual(found, {
    database: 'shop',
    tables: [
      {
        table: 'public.orders',
        target: 'shop.public.orders',
        sizeGB: 0.002,
        columns: [id, { columnName: 'total', originalType: 'numeric', expectedExportedType: 'binary (UTF8)', originalNumPrecision: 12, originalNumScale: 2 }],
      },
    ],
    skipped: [],
    warnings: [],
  });
});

test('a three-table listing over two files keeps the export order; a COMPLETE table without mappings has no columns', () => {
  const found = read([file(3, 3, [{ target: 'shop.public.c', status: 'complete' }]), file(1, 2, [complete('public.a'), complete('public.b', { sizeGB: 'big' })])]);
  assert.deepEqual(
    found.tables.map((t) => [t.table, t.sizeGB, t.columns.length]),
    [
      ['public.a', undefined, 1],
      ['public.b', undefined, 1],
      ['public.c', undefined, 0],
    ],
  );
});

test('1,200 tables in 12 files given shuffled come out once each, in numeric file order', () => {
  const name = (i: number) => `public.t${i}`;
  const files = Array.from({ length: 12 }, (_, f) =>
    file(
      f * 100,
      f * 100 + 99,
      Array.from({ length: 100 }, (_, k) => complete(name(f * 100 + k))),
    ),
  );
  // Text order would put from_1000 and from_1100 before from_200.
  const shuffled = [7, 11, 0, 10, 3, 1, 9, 5, 2, 8, 6, 4].map((i) => files[i]!);
  const found = read(shuffled);
  assert.equal(found.tables.length, 1200);
  assert.deepEqual(
    found.tables.map((t) => t.table),
    Array.from({ length: 1200 }, (_, i) => name(i)),
  );
  assert.deepEqual(found.skipped, []);
  assert.deepEqual(found.warnings, []);
});

test('a table listed twice is not loaded: two source tables share its name, and its folder may hold the rows of both', () => {
  // Schema "a.b" table "c" and schema "a" table "b.c" are both shop.a.b.c; RDS writes both to shop/a.b.c/.
  const found = read([
    file(10, 11, [complete('a.b.c', { sizeGB: 2 }), complete('public.kept')]),
    file(1, 9, [complete('a.b.c', { sizeGB: 1 }), { target: 'shop.public.b', status: 'FAILED', warningMessage: 'disk full' }]),
  ]);
  assert.deepEqual(found.tables.map((t) => t.table), ['public.kept']);
  assert.deepEqual(found.skipped, [
    {
      table: 'a.b.c',
      reason: 'listed 2 times in the export: two source tables are named a.b.c (a dot in a schema or table name), and its folder may hold the rows of both, so it is not loaded; rename one of them in the source',
    },
    { table: 'public.b', reason: `export status FAILED: disk full${OTHER}` },
  ]);
  assert.deepEqual(found.warnings, []);
});

test('tables whose names RDS writes to one folder (a space, quote, backtick or backslash becomes _) are not loaded: the folder holds the rows of both', () => {
  // "my table" and my_table are both written under shop/public.my_table/.
  const found = read([file(1, 3, [complete('public.my table', { sizeGB: 1 }), complete('public.my_table', { sizeGB: 2 }), complete('public.kept')])]);
  assert.deepEqual(found.tables.map((t) => t.table), ['public.kept']);
  assert.deepEqual(found.skipped, [
    {
      table: 'public.my table',
      reason: 'its export folder shop/public.my_table/ also holds the rows of public.my_table (RDS writes a space, quote, backtick or backslash of a name as _), so it is not loaded; rename one of the tables in the source',
    },
    {
      table: 'public.my_table',
      reason: 'its export folder shop/public.my_table/ also holds the rows of public.my table (RDS writes a space, quote, backtick or backslash of a name as _), so it is not loaded; rename one of the tables in the source',
    },
  ]);
});

test('a source database whose name holds a dot keeps its tables: shop.v2.public.orders is its public.orders', () => {
  const found = read([file(1, 3, [{ ...complete('public.orders'), target: 'shop.v2.public.orders' }, { target: 'shop.v2', warningMessage: 'db note' }, { ...complete('public.users'), target: 'hr.public.users' }])], {}, 'shop.v2');
  assert.deepEqual(found.tables.map((t) => [t.table, t.target]), [['public.orders', 'shop.v2.public.orders']]);
  assert.deepEqual(found.warnings, [
    'export ls-shop-1: 1 table(s) of other databases (hr) are in the export and are not loaded; only database shop.v2 is this source\'s (sources.<name>.database)',
    'shop.v2: db note',
  ]);
  assert.equal(tableOfTarget('shop.v2.public.orders', 'shop.v2'), 'public.orders');
});

test("another database's tables in the export are not the source's: its orders never replaces the source's orders", () => {
  // An export RDS could not limit to the source's database holds every database of the snapshot;
  // billing's entries come first in file order.
  const other = (database: string, table: string) => ({ ...complete(table), target: `${database}.${table}` });
  const found = read([file(1, 4, [other('billing', 'public.orders'), other('billing', 'public.invoices'), other('hr', 'public.users'), complete('public.orders', { sizeGB: 9 })])]);
  assert.deepEqual(found.tables.map((t) => [t.table, t.target, t.sizeGB]), [['public.orders', 'shop.public.orders', 9]]);
  assert.deepEqual(found.skipped, []);
  assert.deepEqual(found.warnings, [
    'export ls-shop-1: 3 table(s) of other databases (billing, hr) are in the export and are not loaded; only database shop is this source\'s (sources.<name>.database)',
  ]);
});

test('database-level entries, table warnings and the export_info warning become warnings', () => {
  const found = read(
    [
      file(1, 3, [
        { target: 'shop', warningMessage: 'database shop: 1 table skipped' },
        { target: 'shop' },
        { target: '', warningMessage: 'no table matched the export' },
        complete('public.a', { warningMessage: 'column x truncated' }),
      ]),
    ],
    { warningMessage: '{"skippedTables":[]}' },
  );
  assert.deepEqual(found.warnings, [
    'export ls-shop-1: {"skippedTables":[]}',
    'shop: database shop: 1 table skipped',
    'export: no table matched the export',
    'public.a: column x truncated',
  ]);
  assert.deepEqual(
    found.tables.map((t) => t.table),
    ['public.a'],
  );
});

test('every table the export did not complete is skipped with one wording: its status and the message', () => {
  const found = read([
    file(0, 3, [
      { target: 'shop.public.failed', status: 'FAILED', warningMessage: 'unsupported column type' },
      { target: 'shop.public.skipped', status: 'SKIPPED', warningMessage: 'the table has no exportable column' },
      { target: 'shop.public.bare', status: 'SKIPPED' },
      { target: 'shop.public.unknown' },
      { target: 'shop.public.running', status: 'in_progress', schemaMetadata: { originalTypeMappings: [id] } },
    ]),
  ]);
  assert.deepEqual(found.tables, []);
  assert.deepEqual(found.skipped, [
    { table: 'public.failed', reason: `export status FAILED: unsupported column type${OTHER}` },
    { table: 'public.skipped', reason: `export status SKIPPED: the table has no exportable column${SKIPPED}` },
    { table: 'public.bare', reason: `export status SKIPPED${SKIPPED}` },
    { table: 'public.unknown', reason: `export status UNKNOWN${OTHER}` },
    { table: 'public.running', reason: `export status IN_PROGRESS${OTHER}` },
  ]);
  assert.equal(found.database, 'shop', 'a skipped table still names the database');
});

test('files of another export, a prefix-sharing one included, and entries that are not tables are ignored', () => {
  const found = read([
    file(1, 1, [complete('public.mine')]),
    file(1, 1, [complete('public.ten')], 'ls-shop-10'),
    file(1, 1, [complete('public.longer')], 'ls-shop-1_from_2_to_3'),
    { name: `export_info_${ID}.json`, document: { perTableStatus: [complete('public.info')] } },
    { name: `export_tables_info_${ID}_from_2_to_4.json`, document: { perTableStatus: [null, 7, ['x']] } },
  ]);
  assert.deepEqual(
    found.tables.map((t) => t.table),
    ['public.mine'],
  );
});

test('with no table the configured database stands', () => {
  assert.deepEqual(read([file(1, 1, [])], {}, 'configured'), { database: 'configured', tables: [], skipped: [], warnings: [] });
});

test('tables-info file names: the export id is matched whole, keys and paths by their last segment', () => {
  assert.deepEqual(tablesInfoRange('export_tables_info_ls-shop-1_from_100_to_199.json', ID), { from: 100, to: 199 });
  assert.deepEqual(tablesInfoRange(`lakesync/exports/${ID}/export_tables_info_${ID}_from_1000_to_1099.json`, ID), { from: 1000, to: 1099 });
  assert.equal(isTablesInfoFile(`export_tables_info_${ID}_from_1_to_2.json`, ID), true);
  for (const other of [
    'export_tables_info_ls-shop-10_from_1_to_2.json',
    'export_tables_info_ls-shop-1_from_2_to_3_from_4_to_5.json',
    'export_tables_info_ls-shop_from_1_to_2.json',
    `export_tables_info_${ID}_from_1_to_2.json.tmp`,
    `export_tables_info_${ID}_from_x_to_2.json`,
    `export_info_${ID}.json`,
    `other/export_tables_info_${ID}_from_1_to_2.jsonx`,
  ]) {
    assert.equal(isTablesInfoFile(other, ID), false, other);
  }
  assert.equal(exportInfoName(ID), 'export_info_ls-shop-1.json');
  assert.equal(tablesInfoPrefix(ID), 'export_tables_info_ls-shop-1_from_');
});

test('a missing export_info or tables-info file has one code and wording wherever the export lives', () => {
  const s3 = 's3://shop-exports/lakesync/exports/ls-shop-1';
  const local = '/data/exports/ls-shop-1';
  for (const missing of [missingExportInfo, missingTablesInfo]) {
    const a = missing(ID, s3);
    const b = missing(ID, local);
    assert.equal(a.code, b.code);
    assert.equal(a.message.replace(s3, '<root>'), b.message.replace(local, '<root>'));
    assert.match(a.message, /run a new sync$/);
  }
  assert.equal(missingExportInfo(ID, local).code, 'ExportInfoNotFound');
  assert.equal(
    missingExportInfo(ID, local).message,
    'export ls-shop-1 has no export_info_ls-shop-1.json under /data/exports/ls-shop-1: no export_info file means the export did not complete or its files were removed; run a new sync',
  );
  assert.equal(missingTablesInfo(ID, local).code, 'ExportTablesInfoNotFound');
  assert.equal(
    missingTablesInfo(ID, local).message,
    'export ls-shop-1 has no export_tables_info_ls-shop-1_from_<i>_to_<j>.json under /data/exports/ls-shop-1: no export_tables_info file means the export did not complete or its files were removed; run a new sync',
  );
});

test('tableOfTarget drops the database from db.schema.table and keeps other names', () => {
  assert.equal(tableOfTarget('shop.public.orders', 'shop'), 'public.orders');
  assert.equal(tableOfTarget('other.public.orders', 'shop'), 'public.orders');
  assert.equal(tableOfTarget('public.orders', 'shop'), 'public.orders');
  assert.equal(tableOfTarget('shop', 'shop'), 'shop');
});

test("a skipped table's reason is reported once: as its outcome, not again in the export's warning", () => {
  const found = read(
    [file(1, 2, [complete('public.a'), { target: 'shop.public.b c', status: 'SKIPPED', warningMessage: 'column name(s) "x y" contain characters the export does not support' }])],
    { warningMessage: JSON.stringify({ skippedTables: [{ table: 'shop.public.b c', reason: 'column name(s) "x y" contain characters the export does not support' }], note: 'kept' }) },
  );
  assert.deepEqual(found.skipped.map((s) => s.table), ['public.b c']);
  assert.deepEqual(found.warnings, ['export ls-shop-1: {"note":"kept"}']);
  const everyReason = [...found.skipped.map((s) => s.reason), ...found.warnings].join('\n');
  assert.equal(everyReason.match(/contain characters the export does not support/g)?.length, 1);
});

/** The PortError readExportListing throws for `tablesInfo`, with its message. */
function refusal(tablesInfo: TablesInfoFile[]): { kind: string; code: string; message: string } {
  try {
    read(tablesInfo);
  } catch (err) {
    const e = err as { kind: string; code: string; message: string };
    return { kind: e.kind, code: e.code, message: e.message };
  }
  assert.fail('the listing was read although its table list is incomplete');
}

test('a gap in the tables-info ranges fails discovery naming the missing range: its tables are never silently dropped', () => {
  const first = file(1, 100, [complete('public.a')]);
  const third = file(201, 300, [complete('public.c')]);
  const err = refusal([third, first]);
  assert.equal(err.kind, 'not-found');
  assert.equal(err.code, 'ExportTablesInfoIncomplete');
  assert.match(err.message, /export ls-shop-1/);
  assert.match(err.message, /tables 101 to 200/);
  assert.match(err.message, /export_tables_info_ls-shop-1_from_101_to_200\.json/);
  assert.match(err.message, /run a new sync/);
  // The first file missing is a gap too.
  assert.match(refusal([file(101, 200, [complete('public.b')])]).message, /tables 1 to 100/);
});

test('a tables-info file that vanished or holds no perTableStatus list fails discovery naming the file', () => {
  const vanished = { name: `lakesync/exports/${ID}/export_tables_info_${ID}_from_101_to_200.json`, document: undefined };
  const err = refusal([file(1, 100, [complete('public.a')]), vanished]);
  assert.equal(err.code, 'ExportTablesInfoIncomplete');
  assert.match(err.message, /export_tables_info_ls-shop-1_from_101_to_200\.json/);
  assert.match(err.message, /tables 101 to 200/);
  const unreadable = { name: `export_tables_info_${ID}_from_1_to_1.json`, document: { perTableStatus: 'none' } };
  assert.match(refusal([unreadable]).message, /export_tables_info_ls-shop-1_from_1_to_1\.json/);
});

test('contiguous ranges, numbered from 0 or 1, and overlapping ones are read', () => {
  assert.equal(read([file(0, 0, [complete('public.a')]), file(1, 1, [complete('public.b')])]).tables.length, 2);
  assert.equal(read([file(1, 5, [complete('public.a')]), file(3, 6, [complete('public.b')])]).tables.length, 2);
});

test('a table the export did not complete says what to do: a rerun reuses this export, which lacks it', () => {
  const found = read([
    file(1, 2, [
      { target: 'shop.public.failed', status: 'FAILED', warningMessage: 'disk full' },
      { target: 'shop.public.skipped', status: 'SKIPPED', warningMessage: 'unsupported column name' },
    ]),
  ]);
  const [failed, skipped] = found.skipped;
  assert.match(failed!.reason, /^export status FAILED: disk full; run a new sync to export it again \(a rerun reuses this export\)$/);
  assert.match(skipped!.reason, /^export status SKIPPED: unsupported column name; RDS skips a table it cannot export \(.*space.*slash.*unlogged.*\): fix that in the source or exclude the table, then run a new sync/);
});
