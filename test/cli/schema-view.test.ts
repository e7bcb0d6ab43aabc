/** `lakesync schema`'s view of a table the include/exclude rules leave out: never exported, so no lake columns. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import type { DiscoveredTable } from '../../src/model';
import { buildSchema, schemaLines } from '../../src/cli/schema-view';
import { schemaExitCode } from '../../src/cli/commands/schema';

const column = (columnName: string, originalType: string) => ({ columnName, originalType, expectedExportedType: originalType === 'bigint' ? 'int64' : 'binary (UTF8)' });
const table = (name: string, columns: ReturnType<typeof column>[]): DiscoveredTable => ({ table: name, target: `shop.${name}`, primaryKey: ['id'], columns });

describe('lakesync schema and the include/exclude rules', () => {
  const config = parseConfig({
    sources: {
      shop: {
        database: 'shop',
        source: { kind: 'fake', tables: ['public.customers', 'public.customer_pii', 'audit.log'] },
        include: ['public.*'],
        exclude: ['*.*_pii'],
        target: { namespace: 'shop' },
        // A policy naming a column the excluded table lacks is no error: the plan skips the table.
        tables: { 'public.customer_pii': { columns: { ssn: { hash: true } } } },
        hashKey: { env: 'LAKESYNC_HASH_KEY' },
      },
    },
  });
  const source = config.sources.shop!;
  const report = buildSchema('shop', source, [
    table('public.customers', [column('id', 'bigint'), column('name', 'text')]),
    table('public.customer_pii', [column('id', 'bigint'), column('tax_id', 'text')]),
    table('audit.log', [column('id', 'bigint')]),
  ], 'the source catalog (fake)');
  const by = Object.fromEntries(report.tables.map((t) => [t.table, t]));

  it('an excluded table, or one no include rule takes, maps no column into the lake and says which rule leaves it out', () => {
    assert.deepEqual(by['public.customer_pii']!.columns.map((c) => [c.column, c.lakeColumn, c.lakeType]), [['id', null, null], ['tax_id', null, null]]);
    assert.equal(by['public.customer_pii']!.excludedBy, 'exclude *.*_pii');
    assert.equal(by['audit.log']!.excludedBy, 'matches no include rule');
    assert.deepEqual(by['audit.log']!.columns.map((c) => c.lakeColumn), [null]);
    assert.deepEqual(by['public.customer_pii']!.problems, []);
    assert.equal(schemaExitCode(report), 0);
  });

  it('a loaded table keeps its lake columns', () => {
    assert.equal(by['public.customers']!.excludedBy, undefined);
    assert.deepEqual(by['public.customers']!.columns.map((c) => c.lakeColumn), ['id', 'name']);
  });

  it('the text names the rule and that the table is never exported', () => {
    const lines = schemaLines(report);
    assert.ok(lines.includes('public.customer_pii (key id): excluded (exclude *.*_pii): never exported, no lake table'), lines.join('\n'));
    assert.ok(!lines.some((l) => /^\s+tax_id\s+text\s+tax_id\b/.test(l)), lines.join('\n'));
  });
});

describe('lakesync schema and two columns with one lake name', () => {
  const source = (tables: Record<string, unknown> = {}) =>
    parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'fake', tables: ['public.people'] }, target: { namespace: 'shop' }, tables } } }).sources.shop!;
  const people = table('public.people', [column('id', 'bigint'), column('Name', 'text'), column('name', 'text')]);

  it('columns that differ only in case are an error (exit 2) naming both and the fix', () => {
    const report = buildSchema('shop', source(), [people], 'the source catalog (fake)');
    assert.deepEqual(report.tables[0]!.columns.map((c) => c.lakeColumn), ['id', 'name', 'name']);
    assert.equal(report.tables[0]!.problems.length, 1);
    assert.match(report.tables[0]!.problems[0]!, /Name and name would both become lake column "name": rename one of them \(tables\."public\.people"\.columns\."Name": \{ rename: <lake name> \}/);
    assert.equal(schemaExitCode(report), 2);
    assert.ok(schemaLines(report).some((l) => /^\s+error: .*Name and name would both become lake column "name"/.test(l)));
  });

  it('one of them excluded, the other alone takes the lake name', () => {
    const report = buildSchema('shop', source({ 'public.people': { columns: { Name: { exclude: true } } } }), [people], 'the source catalog (fake)');
    assert.deepEqual(report.tables[0]!.problems, []);
    assert.equal(schemaExitCode(report), 0);
  });
});
