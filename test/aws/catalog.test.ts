/**
 * The read-only catalog connection of an RDS source (`source.catalog`), against moto server's
 * Secrets Manager over HTTP and a real PostgreSQL server with password authentication:
 * primary keys and the table list read through the secret and wired through the port factory
 * into discover, the export scope and the plan; a wrong, missing or malformed secret fails with
 * a message naming the secret and the fix; and no write gets through the connection, even for a
 * user allowed to write.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { type CatalogSettings, SourceCatalog } from '../../src/aws/catalog';
import { withSourceCatalog } from '../../src/aws/catalog-ports';
import { s3ClientConfig } from '../../src/aws/clients';
import { catalogSettings, createAwsSourcePorts } from '../../src/backends/aws';
import { NULLABLE_COLUMNS_SQL, PRIMARY_KEYS_SQL, TABLES_SQL } from '../../src/catalog-queries';
import type { SourceConfig } from '../../src/config/schema';
import { isPortError, type PortError } from '../../src/errors';
import { nullableCursorWarnings, planTables } from '../../src/plan';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { CATALOG_PASSWORD as PASSWORD, CATALOG_USER as USER, type CatalogSource, createSecret, startCatalogSource, WRONG_PASSWORD } from './catalog-fixtures';
import { awsSource, EXPORT_BUCKET, exportFiles, glueScriptsFixture, REGION } from './fixtures';

let moto: MotoServer | undefined;
let db: CatalogSource | undefined;
let secrets: SecretsManagerClient | undefined;
let scriptsDir: string | undefined;
const arns: Record<'right' | 'wrong' | 'malformed', string> = { right: '', wrong: '', malformed: '' };

before(async () => {
  useTestCredentials();
  scriptsDir = glueScriptsFixture();
  [moto, db] = await Promise.all([startMoto(), startCatalogSource()]);
  secrets = new SecretsManagerClient({ region: REGION, endpoint: moto.endpoint });
  // The RDS-managed format: a JSON object with username and password.
  arns.right = await createSecret(moto.endpoint, 'rds!db-shop-catalog', { username: USER, password: PASSWORD });
  arns.wrong = await createSecret(moto.endpoint, 'rds!db-shop-stale', { username: USER, password: WRONG_PASSWORD });
  arns.malformed = await createSecret(moto.endpoint, 'shop-catalog-malformed', { user: USER, pass: PASSWORD });
});

after(async () => {
  secrets?.destroy();
  await Promise.all([moto?.stop(), db?.stop()]);
  if (scriptsDir) rmSync(scriptsDir, { recursive: true, force: true });
});

function source(secretArn: string, extra: Record<string, unknown> = {}): SourceConfig {
  return awsSource({
    endpoint: moto!.endpoint,
    raw: {
      source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: '127.0.0.1', port: db!.postgres.port, secretArn, sslmode: 'disable', ...extra } },
      tables: {},
    },
  });
}

function catalogFor(secretArn: string): SourceCatalog {
  const settings: CatalogSettings = catalogSettings(source(secretArn), REGION)!;
  return new SourceCatalog(settings, { secrets: secrets! });
}

async function rejection(promise: Promise<unknown>): Promise<PortError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isPortError(err), `expected a PortError, got ${String(err)}`);
    return err;
  }
  throw new Error('expected a rejection');
}

describe('source catalog over a Secrets Manager secret', () => {
  test('reads the primary keys (in key order) and the table list through the secret', async () => {
    const catalog = catalogFor(arns.right);
    assert.deepEqual(await catalog.primaryKeys(), { 'public.events': ['total', 'id'], 'public.orders': ['id'], 'sales.refunds': ['order_id', 'line'] });
    assert.deepEqual(await catalog.tables(), ['public.events', 'public.notes', 'public.orders', 'sales.refunds']);
  });

  test('the port factory wires it into discover, the export scope and the plan', async () => {
    const config = source(arns.right);
    const ports = await createAwsSourcePorts('shop', config, { glueScriptsDir: scriptsDir! });
    try {
      const s3 = new S3Client(s3ClientConfig({ region: REGION, endpoint: moto!.endpoint }));
      await s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
      for (const f of exportFiles('lakesync/exports', 'exp-1')) await s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
      s3.destroy();

      assert.deepEqual(await ports.export.listSourceTables?.(), ['public.events', 'public.notes', 'public.orders', 'sales.refunds']);
      assert.deepEqual(await ports.discover.listTables?.(), ['public.events', 'public.notes', 'public.orders', 'sales.refunds']);
      const found = await ports.discover.discover({ exportId: 'exp-1', location: `s3://${EXPORT_BUCKET}/lakesync/exports/exp-1`, snapshotId: 'snap', adopted: false });
      const keys = Object.fromEntries(found.tables.map((t) => [t.table, t.primaryKey]));
      assert.deepEqual(keys, { 'public.orders': ['id'], 'public.events': ['total', 'id'] });
      const planned = planTables(config, found.tables, new Set(['orders', 'events']));
      assert.deepEqual(
        planned.entries.map((e) => [e.table, e.action, e.keySource, e.primaryKey]),
        [
          ['public.orders', 'merge', 'source', ['id']],
          ['public.events', 'merge', 'source', ['total', 'id']],
        ],
      );
    } finally {
      await ports.close?.();
    }
  });

  test('without source.catalog the ports read no catalog: the export scope keeps to earlier exports', async () => {
    const ports = await createAwsSourcePorts('shop', awsSource({ endpoint: moto!.endpoint }), { glueScriptsDir: scriptsDir! });
    try {
      assert.equal(ports.export.listSourceTables, undefined);
      assert.equal(ports.discover.listTables, undefined);
    } finally {
      await ports.close?.();
    }
  });

  test('a wrong password fails with a message naming the secret and the fix, never the password', async () => {
    const err = await rejection(catalogFor(arns.wrong).primaryKeys());
    assert.equal(err.kind, 'access-denied');
    assert.equal(err.code, 'CatalogAccessDenied');
    assert.equal(err.retryable, false);
    assert.match(err.message, new RegExp(`cannot log in to the source catalog postgres://${USER}@127\\.0\\.0\\.1:\\d+/shop with the password of secret ${escape(arns.wrong)}`));
    assert.match(err.message, /password authentication failed for user "lakesync_catalog" \(28P01\)/);
    assert.match(err.message, /update the secret \(or the user's password\) so they match, or point source\.catalog\.secretArn at the right secret/);
    assert.ok(!err.message.includes(WRONG_PASSWORD) && !err.message.includes(PASSWORD), 'no password in the message');
  });

  test('a missing secret and a secret without username/password name the secret and the format', async () => {
    const missingArn = arns.right.replace('rds!db-shop-catalog', 'rds!db-gone');
    const missing = await rejection(catalogFor(missingArn).tables());
    assert.equal(missing.kind, 'validation');
    assert.match(missing.message, new RegExp(`secret ${escape(missingArn)} \\(source\\.catalog\\.secretArn\\) does not exist \\(ResourceNotFoundException`));
    const malformed = await rejection(catalogFor(arns.malformed).tables());
    assert.equal(malformed.code, 'CatalogSecretInvalid');
    assert.match(malformed.message, /has no "password" string: store JSON with "username" and "password" keys \(the format of the secret RDS manages for the master user\)/);
    assert.ok(!malformed.message.includes(PASSWORD), 'the secret value is not echoed');
  });

  test('the connection is read-only: every write is refused, even for a user allowed to write', async () => {
    // Control: the same user writes through an ordinary connection.
    await db!.onShop((c) => c.query('CREATE TABLE public.scratch (x int); INSERT INTO public.scratch VALUES (1)'), db!.shopUrl(USER, PASSWORD));
    const catalog = catalogFor(arns.right);
    const attacks: { sql: string[]; refusedBy: RegExp }[] = [
      { sql: ['INSERT INTO public.orders VALUES (99, 1)'], refusedBy: /runs queries only/ },
      { sql: ['CREATE TABLE public.evil (x int)'], refusedBy: /runs queries only/ },
      { sql: ['COMMIT'], refusedBy: /runs queries only/ },
      { sql: ['SET TRANSACTION READ WRITE'], refusedBy: /runs queries only/ },
      // A writing CTE is a query: PostgreSQL refuses it in the READ ONLY transaction.
      { sql: ['WITH w AS (INSERT INTO public.orders VALUES (99, 1) RETURNING id) SELECT * FROM w'], refusedBy: /read-only transaction \(25006\)/ },
      { sql: ['WITH d AS (DELETE FROM public.orders RETURNING id) SELECT count(*) FROM d'], refusedBy: /read-only transaction \(25006\)/ },
      { sql: ["SELECT set_config('transaction_read_only', 'off', true)"], refusedBy: /transaction read-write mode must be set before any query|read-only/ },
      {
        sql: ["SELECT set_config('default_transaction_read_only', 'off', false)", 'WITH w AS (UPDATE public.orders SET total = 0 RETURNING id) SELECT * FROM w'],
        refusedBy: /read-only transaction \(25006\)/,
      },
      // Two statements in one: the extended protocol takes one only.
      { sql: ['SELECT 1; COMMIT; INSERT INTO public.orders VALUES (98, 1)'], refusedBy: /cannot insert multiple commands into a prepared statement/ },
    ];
    for (const attack of attacks) {
      const err = await rejection(catalog.read(async (session) => {
        for (const sql of attack.sql) await session.rows(sql);
      }));
      assert.match(err.message, attack.refusedBy, attack.sql.join('; '));
    }
    const rows = await db!.onShop(async (c) => (await c.query('SELECT id, total::text FROM public.orders ORDER BY id')).rows);
    assert.deepEqual(rows, [{ id: '1', total: '10.50' }, { id: '2', total: '20.00' }]);
    const evil = await db!.onShop(async (c) => (await c.query("SELECT to_regclass('public.evil') AS t")).rows[0]);
    assert.equal(evil.t, null);
  });
});

describe('unlogged tables in the source catalog of an RDS source', () => {
  before(async () => {
    await db!.onShop((c) => c.query('CREATE UNLOGGED TABLE public.staging (id bigint PRIMARY KEY, note text); INSERT INTO public.staging VALUES (1, \'a\')'));
  });
  after(async () => {
    await db?.onShop((c) => c.query('DROP TABLE IF EXISTS public.staging'));
  });

  test('a direct read of an unlogged table is described by the catalog, with its key (a SELECT reads it; only an export skips it)', async () => {
    const ports = await createAwsSourcePorts('shop', source(arns.right), { glueScriptsDir: scriptsDir! });
    try {
      assert.deepEqual(await ports.discover.sourceTables!(['public.staging', 'public.orders']), [
        { table: 'public.staging', target: 'shop.public.staging', columns: [], primaryKey: ['id'], nullable: ['note'] },
        { table: 'public.orders', target: 'shop.public.orders', columns: [], primaryKey: ['id'], nullable: ['total'] },
      ]);
    } finally {
      await ports.close?.();
    }
  });

  test('describing direct tables reads the catalog once: one connection, one table query, one key query', async () => {
    const statements: string[] = [];
    let connections = 0;
    const catalog = new SourceCatalog(catalogSettings(source(arns.right), REGION)!, {
      secrets: secrets!,
      open: (config) => {
        connections += 1;
        const client = new pg.Client(config);
        const query = client.query.bind(client) as (q: string | pg.QueryArrayConfig) => Promise<{ rows: unknown[] }>;
        return {
          connect: () => client.connect(),
          end: () => client.end(),
          on: (event, listener) => client.on(event, listener),
          query: (q) => (statements.push(typeof q === 'string' ? q : q.text), query(q)),
        };
      },
    });
    const ports = withSourceCatalog(createUnusedPorts(), catalog, () => undefined, 'shop');
    assert.deepEqual(await ports.discover.sourceTables!(['public.staging']), [{ table: 'public.staging', target: 'shop.public.staging', columns: [], primaryKey: ['id'], nullable: ['note'] }]);
    assert.equal(connections, 1);
    assert.equal(statements.filter((sql) => sql === TABLES_SQL).length, 1);
    assert.equal(statements.filter((sql) => sql === PRIMARY_KEYS_SQL).length, 1);
    assert.equal(statements.filter((sql) => sql === NULLABLE_COLUMNS_SQL).length, 1);
  });

  test("a direct table's cursor column that may hold NULL is read from the catalog, and the plan warns of it naming the fix", async () => {
    await db!.onShop((c) => c.query('CREATE TABLE public.visits (id bigint PRIMARY KEY, seen_at timestamptz, host text NOT NULL)'));
    const settings = source(arns.right);
    const withDirect = {
      ...settings,
      tables: {
        'public.visits': { extract: 'direct' as const, cursor: { column: 'seen_at' } },
        'public.staging': { extract: 'direct' as const, cursor: { column: 'id' } },
      },
    } as unknown as SourceConfig;
    const ports = await createAwsSourcePorts('shop', settings, { glueScriptsDir: scriptsDir! });
    try {
      const described = await ports.discover.sourceTables!(['public.visits', 'public.staging']);
      assert.deepEqual(described.find((t) => t.table === 'public.visits')?.nullable, ['seen_at']);
      const warnings = nullableCursorWarnings(withDirect, described);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]!, /^public\.visits: cursor column seen_at may hold NULL/);
      assert.match(warnings[0]!, /ALTER TABLE "public"\."visits" ALTER COLUMN "seen_at" SET NOT NULL/);
    } finally {
      await ports.close?.();
      await db!.onShop((c) => c.query('DROP TABLE public.visits'));
    }
  });
});

/** Ports whose own calls are never made: only the catalog answers. */
function createUnusedPorts(): Ports {
  const unused = async () => {
    throw new Error('not called');
  };
  return { discover: { discover: unused, exportAvailable: unused, exportRowCount: unused }, export: { startExport: unused, describeExport: unused } } as unknown as Ports;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\!]/g, '\\$&');
}
