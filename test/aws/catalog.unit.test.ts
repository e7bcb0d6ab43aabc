/**
 * The catalog connection's parts that need no server: the IAM authentication token handed to pg
 * (signed with rds-signer for the host, port, user and region, checked here against an
 * independent SigV4 computation), the config rules of source.catalog, the keys discover adds,
 * the errors of a refused secret, and the line `lakesync plan` prints when keys come from the
 * config only.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { type CatalogConnection, type CatalogSettings, SourceCatalog } from '../../src/aws/catalog';
import { withCatalogKeys } from '../../src/aws/catalog-ports';
import { catalogSettings } from '../../src/backends/aws';
import { buildPlan } from '../../src/cli/plan-view';
import { sourceSchema } from '../../src/config/schema';
import { isPortError, type PortError } from '../../src/errors';
import type { DiscoveredExport } from '../../src/model';
import { keysFromConfigNote } from '../../src/plan';
import { useTestCredentials } from '../helpers/moto';
import { awsError } from './mocks';
import { awsSource, REGION } from './fixtures';

const HOST = 'shop-db.abc123xyz.us-east-2.rds.amazonaws.com';
const SECRET = `arn:aws:secretsmanager:${REGION}:123456789012:secret:rds!db-shop-AbCdEf`;

/** A pg connection that records its config and refuses the login as RDS does for a bad token. */
function refusingConnection(seen: pg.ClientConfig[]): (config: pg.ClientConfig) => CatalogConnection {
  return (config) => {
    seen.push(config);
    return {
      connect: async () => {
        throw Object.assign(new Error(`PAM authentication failed for user "${config.user}"`), { code: '28P01' });
      },
      query: async () => ({ rows: [] }),
      end: async () => undefined,
      on: () => undefined,
    };
  };
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

const hex = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const rfc3986 = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** SigV4 of a presigned GET, computed here from the AWS documentation, not by the SDK. */
function expectedSignature(host: string, params: Map<string, string>, secretKey: string): string {
  const query = [...params].filter(([k]) => k !== 'X-Amz-Signature').sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
  const canonical = ['GET', '/', query, `host:${host}`, '', 'host', hex('')].join('\n');
  const date = params.get('X-Amz-Date')!;
  const scope = params.get('X-Amz-Credential')!.split('/').slice(1).join('/');
  const toSign = ['AWS4-HMAC-SHA256', date, scope, hex(canonical)].join('\n');
  const [day, region, service] = scope.split('/');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretKey}`, day!), region!), service!), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('IAM database authentication', () => {
  test('the password pg receives is an rds-signer token signed for the host, port, user and region', async () => {
    useTestCredentials();
    const seen: pg.ClientConfig[] = [];
    const settings: CatalogSettings = { host: HOST, port: 5432, database: 'shop', user: 'lakesync_reader', auth: { kind: 'iam' }, sslmode: 'verify-full', region: REGION };
    const err = await rejection(new SourceCatalog(settings, { open: refusingConnection(seen) }).primaryKeys());

    assert.equal(seen.length, 1);
    const config = seen[0]!;
    assert.deepEqual([config.host, config.port, config.user, config.database], [HOST, 5432, 'lakesync_reader', 'shop']);
    assert.deepEqual(config.ssl, { rejectUnauthorized: true });
    assert.match(String(config.options), /default_transaction_read_only=on/);
    const token = String(config.password);
    assert.ok(token.startsWith(`${HOST}:5432/?`), token);
    const params = new Map(token.slice(token.indexOf('?') + 1).split('&').map((pair) => pair.split('=').map(decodeURIComponent) as [string, string]));
    assert.equal(params.get('Action'), 'connect');
    assert.equal(params.get('DBUser'), 'lakesync_reader');
    assert.equal(params.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    assert.equal(params.get('X-Amz-Expires'), '900');
    assert.equal(params.get('X-Amz-SignedHeaders'), 'host');
    assert.equal(params.get('X-Amz-Security-Token'), process.env.AWS_SESSION_TOKEN);
    assert.match(params.get('X-Amz-Credential')!, new RegExp(`^${process.env.AWS_ACCESS_KEY_ID}/\\d{8}/${REGION}/rds-db/aws4_request$`));
    assert.equal(params.get('X-Amz-Signature'), expectedSignature(`${HOST}:5432`, params, process.env.AWS_SECRET_ACCESS_KEY!));

    assert.equal(err.code, 'CatalogAccessDenied');
    assert.match(err.message, /with an IAM authentication token: PAM authentication failed/);
    assert.match(err.message, /GRANT rds_iam TO lakesync_reader/);
    assert.match(err.message, /rds-db:connect/);
  });
});

describe('source.catalog in lakesync.yaml', () => {
  const parse = (catalog: Record<string, unknown>) => sourceSchema.safeParse({ ...awsSourceInput(), source: { kind: 'rds', instanceId: 'shop-db', catalog } });
  const messages = (result: ReturnType<typeof parse>) => (result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));

  test('exactly one of secretArn or iamAuth; iamAuth needs a user and SSL', () => {
    assert.ok(parse({ host: HOST, secretArn: SECRET }).success);
    assert.ok(parse({ host: HOST, iamAuth: true, user: 'reader' }).success);
    const both = messages(parse({ host: HOST, secretArn: SECRET, iamAuth: true, user: 'reader' }));
    assert.ok(both.some((m) => m.includes('give exactly one of secretArn') && m.includes('iamAuth: true')), both.join('\n'));
    assert.ok(messages(parse({ host: HOST })).some((m) => m.includes('give exactly one of secretArn')));
    assert.ok(messages(parse({ host: HOST, iamAuth: true })).some((m) => m.startsWith('source.catalog.user: iamAuth signs its token for one database user')));
    assert.ok(messages(parse({ host: HOST, iamAuth: true, user: 'reader', sslmode: 'disable' })).some((m) => m.startsWith('source.catalog.sslmode: RDS accepts IAM tokens only over SSL')));
    assert.ok(messages(parse({ host: HOST, secretArn: 'my-secret' })).some((m) => m.startsWith('source.catalog.secretArn: must be a Secrets Manager secret ARN')));
    assert.ok(messages(parse({ host: HOST, secretArn: SECRET, password: 'x' })).length > 0, 'no password field: secrets live in Secrets Manager');
  });

  test('the port factory resolves the database, port and sslmode defaults', () => {
    const source = sourceSchema.parse({ ...awsSourceInput(), source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: HOST, secretArn: SECRET } } });
    assert.deepEqual(catalogSettings(source, REGION), { host: HOST, port: 5432, database: 'shop', auth: { kind: 'secret', secretArn: SECRET }, sslmode: 'verify-full', region: REGION });
    assert.equal(catalogSettings(awsSource(), REGION), undefined);
  });
});

describe('keys from the catalog', () => {
  const found = (): DiscoveredExport => ({
    database: 'shop',
    skipped: [],
    warnings: [],
    tables: [
      { table: 'public.orders', target: 'shop.public.orders', columns: [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64' }] as never },
      { table: 'public.lines', target: 'shop.public.lines', columns: [{ columnName: 'order_id', originalType: 'bigint', expectedExportedType: 'int64' }] as never },
      { table: 'public.notes', target: 'shop.public.notes', columns: [] },
    ],
  });

  test("a key naming a column the export lacks is not used: planned without it, with a warning", () => {
    const out = withCatalogKeys(found(), { 'public.orders': ['id'], 'public.lines': ['order_id', 'line_no'] });
    assert.deepEqual(out.tables.map((t) => t.primaryKey), [['id'], undefined, undefined]);
    assert.deepEqual(out.warnings, [`public.lines: the source catalog's primary key (order_id, line_no) names column(s) the export lacks (line_no): planned without a key; set tables."public.lines".primaryKey`]);
  });

  test('a refused secret names the permission to grant', async () => {
    const settings: CatalogSettings = { host: HOST, port: 5432, database: 'shop', auth: { kind: 'secret', secretArn: SECRET }, sslmode: 'require', region: REGION };
    const secrets = { send: async () => Promise.reject(awsError('AccessDeniedException', 'User is not authorized to perform secretsmanager:GetSecretValue')) };
    const err = await rejection(new SourceCatalog(settings, { secrets: secrets as never, open: refusingConnection([]) }).tables());
    assert.equal(err.kind, 'access-denied');
    assert.match(err.message, new RegExp(`refused secret ${SECRET.replace(/[!$]/g, '\\$&')} \\(source\\.catalog\\.secretArn\\)`));
    assert.match(err.message, /grant the worker secretsmanager:GetSecretValue on it, and kms:Decrypt on its KMS key/);
  });
});

describe('lakesync plan when keys come from the config only', () => {
  const tables = { 'public.orders': { primaryKey: ['id'] }, 'public.notes': {}, 'public.prices': { action: 'replace' }, 'public.events': { cursor: { column: 'created_at', mode: 'append' } } };

  test('one line names the tables replaced for lack of a key, and how to add source.catalog or primaryKey', async () => {
    const report = await buildPlan({ name: 'shop', source: awsSource({ raw: { tables } }), status: undefined });
    const lines = report.notes.filter((n) => n.includes('for lack of a known primary key'));
    assert.deepEqual(lines, [
      'keys come from the config only (no source.catalog): 1 table(s) will be replaced on every load for lack of a known primary key: public.notes; ' +
        `add source.catalog (a read-only connection that reads the source's primary keys) or tables."<schema.table>".primaryKey`,
    ]);
  });

  test('no such line with source.catalog, nor for a local source', async () => {
    const withCatalog = awsSource({ raw: { tables, source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: HOST, secretArn: SECRET } } } });
    const report = await buildPlan({ name: 'shop', source: withCatalog, status: undefined });
    assert.ok(!report.notes.some((n) => n.includes('for lack of a known primary key')), report.notes.join('\n'));
    const local = sourceSchema.parse({ backend: 'local', database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, tables });
    assert.equal(keysFromConfigNote(local, []), undefined);
    const entries = report.rows.map((r) => ({ table: r.table, lakeTable: r.lakeTable, action: r.action, reason: r.why, primaryKey: r.primaryKey, keySource: r.keyFrom, maxDeleteFraction: 0.5, approveDeletes: false, allowOlderExport: false }));
    assert.equal(keysFromConfigNote(local, entries), undefined);
  });
});

/** The raw input of test/aws/fixtures.ts's source, to vary source.catalog before parsing. */
function awsSourceInput(): Record<string, unknown> {
  return {
    backend: 'aws',
    database: 'shop',
    target: { namespace: 'shop' },
    aws: {
      region: REGION,
      accountId: '123456789012',
      export: { bucket: 'shop-exports', iamRoleArn: 'arn:aws:iam::123456789012:role/lakesync-export', kmsKeyId: 'alias/lakesync-export' },
      tableBucket: { name: 'shop-lake' },
      glue: { roleArn: 'arn:aws:iam::123456789012:role/lakesync-glue', scriptBucket: 'shop-glue' },
      athena: { outputLocation: 's3://shop-athena/results/' },
    },
  };
}

describe('catalog reads cut short by the database', () => {
  /** A connection whose catalog queries fail with the given PostgreSQL error. */
  const failingReads = (code: string, message: string) => (): CatalogConnection => ({
    connect: async () => undefined,
    query: async (config) => {
      if (typeof config !== 'string') throw Object.assign(new Error(message), { code });
      return { rows: [] };
    },
    end: async () => undefined,
    on: () => undefined,
  });
  const settings: CatalogSettings = { host: HOST, port: 5432, database: 'shop', user: 'lakesync', auth: { kind: 'iam' }, sslmode: 'verify-full', region: REGION };

  test('a statement timeout, a recovery conflict on a replica or a lack of resources is retried, naming the catalog', async () => {
    for (const [code, message] of [
      ['57014', 'canceling statement due to statement timeout'],
      ['40001', 'canceling statement due to conflict with recovery'],
      ['53200', 'out of memory'],
    ] as const) {
      const catalog = new SourceCatalog(settings, { signToken: async () => 'token', open: failingReads(code, message) });
      const err = await rejection(catalog.tables());
      assert.equal(err.retryable, true, code);
      assert.match(err.message, new RegExp(`reading the source catalog postgres://lakesync@${HOST.replaceAll('.', '\\.')}:5432/shop failed: ${message} \\(${code}\\)`), code);
    }
  });

  test('a query the catalog refuses for good is not retried', async () => {
    const catalog = new SourceCatalog(settings, { signToken: async () => 'token', open: failingReads('42501', 'permission denied for table pg_class') });
    assert.equal((await rejection(catalog.tables())).retryable, false);
  });
});
