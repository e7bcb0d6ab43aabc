/**
 * What the embedded export's type mappings say of columns whose type the catalog describes in
 * a roundabout way (PGlite source), and the lake type the load job gives each.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jobColumnTypes } from '../../src/cli/lake-types';
import { columnExport, typeMapping } from '../../src/local/export/types';
import { readCatalog } from '../../src/local/source/catalog';
import type { SourceDb } from '../../src/local/source/db';
import { openPglite } from '../../src/local/source/pglite';

let db: SourceDb;

before(async () => {
  db = await openPglite(undefined);
  await db.exec(`
    CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
    CREATE DOMAIN small_posint AS posint CHECK (VALUE < 1000);
    CREATE DOMAIN amount AS numeric(10, 2);
    CREATE DOMAIN safe_amount AS amount;
    CREATE DOMAIN day AS date;
    CREATE DOMAIN workday AS day;
    CREATE TABLE typed (
      id integer PRIMARY KEY,
      hundreds numeric(5, -2),
      hundreds_d numeric(5, -2)[],
      tiny numeric(2, 5),
      wide numeric(50, 2),
      n2 small_posint,
      a2 safe_amount,
      d2 workday
    );
  `);
});

after(async () => {
  await db.close();
});

async function mappingsOf(table: string) {
  const catalog = await db.consistentRead((s) => readCatalog(s));
  const t = catalog.find((c) => c.table === table);
  assert.ok(t, `${table} is in the catalog`);
  const mappings = t.columns.map((c) => columnExport(c)).filter((e) => e !== undefined).map((e) => typeMapping(e));
  return { mappings, types: Object.fromEntries(mappings.map((m, i) => [m.columnName, jobColumnTypes(mappings)[i]!.lakeType])) };
}

describe('the catalog of a PostgreSQL 15+ source', () => {
  test('a numeric with a negative scale holds integers of precision - scale digits: numeric(5,-2) is decimal(7,0)', async () => {
    const { mappings, types } = await mappingsOf('public.typed');
    const hundreds = mappings.find((m) => m.columnName === 'hundreds')!;
    assert.equal(hundreds.originalNumPrecision, 5);
    assert.equal(hundreds.originalNumScale, -2, 'the scale the column declares, not its typmod bits');
    assert.equal(types.hundreds, 'decimal(7,0)');
    assert.equal(types.tiny, 'decimal(5,5)');
    assert.equal(types.wide, 'decimal(38,2)');
  });

  test('a domain over a domain is exported and loaded as its base type, like a domain over a built-in type', async () => {
    const { mappings, types } = await mappingsOf('public.typed');
    const byName = Object.fromEntries(mappings.map((m) => [m.columnName, m]));
    assert.equal(byName.n2!.originalType, 'integer');
    assert.equal(byName.n2!.expectedExportedType, 'binary (UTF8)', 'RDS writes a domain as text');
    assert.equal(byName.n2!.originalDomainName, 'small_posint');
    assert.equal(types.n2, 'int');
    assert.equal(byName.a2!.originalType, 'numeric');
    assert.equal(byName.a2!.originalNumPrecision, 10);
    assert.equal(byName.a2!.originalNumScale, 2);
    assert.equal(types.a2, 'decimal(10,2)');
    assert.equal(types.d2, 'date');
  });
});
