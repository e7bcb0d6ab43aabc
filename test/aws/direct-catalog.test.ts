/**
 * Direct tables of an RDS source without a server: their keys come from the source's catalog
 * (`discover.sourceTables` over a recording catalog reader), so a table whose key is declared in
 * the source is planned upsert; the TLS settings the Glue job needs to verify the database are
 * refused before any AWS call when they are missing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CatalogReader, withSourceCatalog } from '../../src/aws/catalog-ports';
import { directSourceSettings, jdbcSource } from '../../src/aws/direct';
import { sourceSchema } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import type { TableName } from '../../src/model';
import { planTables } from '../../src/plan';
import type { Ports } from '../../src/ports';
import { RDS_CATALOG, rdsSourceConfig } from '../helpers/source-config';

const ROOT_CERT = RDS_CATALOG.sslRootCert;

/** A catalog reader that records what it was asked. */
function recordingCatalog(tables: TableName[], keys: Record<TableName, string[]>): CatalogReader & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    tables: async () => (calls.push('tables'), [...tables]),
    primaryKeys: async () => (calls.push('primaryKeys'), { ...keys }),
    tablesWithKeys: async () => (calls.push('tablesWithKeys'), { tables: [...tables], primaryKeys: { ...keys } }),
  };
}

/** Ports whose own discover has no sourceTables: only the catalog can describe direct tables. */
function basePorts(): Ports {
  const unused = async () => {
    throw new Error('not called');
  };
  return {
    discover: { discover: unused, exportAvailable: unused, exportRowCount: unused },
    export: { startExport: unused, describeExport: unused },
  } as unknown as Ports;
}

describe('discover.sourceTables of an RDS source with source.catalog', () => {
  const catalog = recordingCatalog(['public.events', 'public.log', 'public.orders'], { 'public.events': ['id'], 'public.orders': ['order_id', 'line'] });
  const ports = withSourceCatalog(basePorts(), catalog, () => undefined, 'shop');

  test('names the tables the catalog lists, with its keys, targets as the export names them; missing tables are left out', async () => {
    const found = await ports.discover.sourceTables!(['public.events', 'public.log', 'public.gone']);
    assert.deepEqual(found, [
      { table: 'public.events', target: 'shop.public.events', columns: [], primaryKey: ['id'] },
      { table: 'public.log', target: 'shop.public.log', columns: [] },
    ]);
    assert.deepEqual(catalog.calls, ['tablesWithKeys']);
  });

  test("a direct table whose key only the source declares is planned upsert; one without a key appends", async () => {
    const source = sourceSchema.parse(
      rdsSourceConfig({
        source: { catalog: RDS_CATALOG },
        tables: { 'public.events': { extract: 'direct', cursor: { column: 'id' } }, 'public.log': { extract: 'direct', cursor: { column: 'id' } } },
      }),
    );
    const described = await ports.discover.sourceTables!(['public.events', 'public.log']);
    const { entries } = planTables(source, [], new Set(['events', 'log']), {}, described);
    const by = Object.fromEntries(entries.map((e) => [e.table, e]));
    assert.equal(by['public.events']!.action, 'incremental');
    assert.deepEqual(by['public.events']!.primaryKey, ['id']);
    assert.equal(by['public.events']!.cursor?.mode, 'upsert');
    assert.equal(by['public.log']!.cursor?.mode, 'append');
    // The fallback without the catalog's keys would have appended events: the catalog matters.
    const { entries: withoutKeys } = planTables(source, [], new Set(['events', 'log']), {}, described.map(({ primaryKey: _k, ...t }) => t));
    assert.equal(withoutKeys.find((e) => e.table === 'public.events')!.cursor?.mode, 'append');
  });

  test('without the source database the ports offer no sourceTables (the cycle falls back to the config keys)', () => {
    assert.equal(withSourceCatalog(basePorts(), catalog).discover.sourceTables, undefined);
  });
});

describe('TLS of direct loads: sslmode verify-full or verify-ca needs the CA bundle in S3', () => {
  /** An rds source with direct table public.events, whose catalog has no sslRootCert but what `catalog` sets. */
  const raw = (catalog: Record<string, unknown>) =>
    rdsSourceConfig({ source: { catalog: { ...RDS_CATALOG, sslRootCert: undefined, ...catalog } }, tables: { 'public.events': { extract: 'direct', cursor: { column: 'id' } } } });
  const issues = (catalog: Record<string, unknown>) => {
    const parsed = sourceSchema.safeParse(raw(catalog));
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test('the default verify-full and verify-ca without sslRootCert are refused, saying where the RDS bundle is', () => {
    for (const sslmode of [undefined, 'verify-full', 'verify-ca']) {
      const found = issues(sslmode ? { sslmode } : {});
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0]!, /^source\.catalog\.sslRootCert: extract direct \(public\.events\) reads over TLS with sslmode verify-(full|ca)/);
      assert.match(found[0]!, /https:\/\/truststore\.pki\.rds\.amazonaws\.com\/global\/global-bundle\.pem\), upload it to S3 and set source\.catalog\.sslRootCert/);
    }
  });

  test('with sslRootCert, or with sslmode require, the config passes; an sslRootCert that is not an S3 object is refused', () => {
    assert.deepEqual(issues({ sslRootCert: ROOT_CERT }), []);
    assert.deepEqual(issues({ sslmode: 'require' }), []);
    for (const bad of ['/etc/ssl/rds.pem', 's3://bucket-only', 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem']) {
      assert.match(issues({ sslRootCert: bad }).join('\n'), /source\.catalog\.sslRootCert: must be an S3 object URI/, bad);
    }
    // Export tables alone never need it.
    assert.deepEqual(issues({}).length, 1);
    const exportOnly = { ...raw({}), tables: { 'public.events': { cursor: { column: 'id' } } } };
    assert.equal(sourceSchema.safeParse(exportOnly).success, true);
  });

  test('the port factory refuses verify-full without the bundle too, and sends the bundle only when the server is checked', () => {
    const catalog = { host: RDS_CATALOG.host, port: 5432, database: 'shop', auth: { kind: 'secret' as const, secretArn: RDS_CATALOG.secretArn }, region: 'eu-west-1' };
    const input = { path: 'sources.shop.source.catalog', directTables: ['public.events'], glueConnection: 'shop-vpc' };
    assert.throws(
      () => directSourceSettings({ ...input, catalog: { ...catalog, sslmode: 'verify-full' } }),
      (err: unknown) => err instanceof ConfigError && err.issues[0]!.path === 'sources.shop.source.catalog.sslRootCert' && /global-bundle\.pem/.test(err.issues[0]!.message),
    );
    const verified = directSourceSettings({ ...input, catalog: { ...catalog, sslmode: 'verify-ca' }, sslRootCert: ROOT_CERT })!;
    assert.equal(jdbcSource(verified).sslRootCert, ROOT_CERT);
    const required = directSourceSettings({ ...input, catalog: { ...catalog, sslmode: 'require' }, sslRootCert: ROOT_CERT })!;
    assert.equal(jdbcSource(required).sslRootCert, undefined);
  });
});
