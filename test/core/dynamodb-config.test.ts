/**
 * The DynamoDB source kind in lakesync.yaml: what is accepted (with its defaults) and every
 * refusal with the field it names and its fix; the export ids the batch workflow derives.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { sha256Hex, tableExportIdFor } from '../../src/ids';
import { dynamoNameOf, dynamoNameOfKey, dynamoTableKey, dynamoTableNameOf } from '../../src/dynamodb/names';
import { localDynamoSourceConfig as localDdb, parsed, problems } from '../helpers/source-config';

const AWS = {
  region: 'eu-west-1',
  accountId: '123456789012',
  tableBucket: { name: 'lake' },
  glue: { roleArn: 'arn:aws:iam::123456789012:role/glue', scriptBucket: 'scripts-bucket' },
  athena: { outputLocation: 's3://athena-results/' },
};

function awsDdb(tables: Record<string, unknown> = {}, source: Record<string, unknown> = {}) {
  return {
    backend: 'aws',
    database: 'dynamodb',
    source: { kind: 'dynamodb', region: 'eu-west-1', export: { bucket: 'ddb-exports' }, ...source },
    target: { namespace: 'shop' },
    tables,
    aws: AWS,
  };
}

function assertProblem(found: string[], path: string, message: RegExp): void {
  assert.ok(found.some((p) => p.startsWith(`${path}: `) && message.test(p)), `expected ${path}: ${message}; got:\n${found.join('\n')}`);
}

describe('config of source kind dynamodb', () => {
  test('a local source with tables, attributes, columns and exportWindow is accepted, with its defaults', () => {
    const s = parsed(
      localDdb(
        { 'dynamodb.Orders': { lakeName: 'orders', attributes: { total: 'Decimal(12, 2)', status: 'string', paid: 'boolean', doc: 'json' }, columns: { email: { exclude: true } } } },
        { tables: ['Orders', 'arn:aws:dynamodb:eu-west-1:123456789012:table/Customers'], exportWindow: {} },
      ),
    );
    assert.equal(s.source.kind, 'dynamodb');
    if (s.source.kind !== 'dynamodb') return;
    assert.deepEqual(s.source.exportWindow, { maxHours: 24, maxWindows: 7 });
    assert.deepEqual(s.tables['dynamodb.Orders']!.attributes, { total: 'decimal(12,2)', status: 'string', paid: 'boolean', doc: 'json' });
  });

  test('an aws source needs source.export and no aws.export; the export prefix defaults to lakesync/dynamodb', () => {
    const s = parsed(awsDdb({}, { export: { bucket: 'ddb-exports', kmsKeyId: 'alias/lakesync' } }));
    assert.equal(s.aws?.export, undefined);
    assert.ok(s.source.kind === 'dynamodb');
    if (s.source.kind === 'dynamodb') assert.deepEqual(s.source.export, { bucket: 'ddb-exports', prefix: 'lakesync/dynamodb', kmsKeyId: 'alias/lakesync' });
  });

  test('source.export.bucketOwner: the 12-digit account of a bucket in another account reaches the export settings; anything else is refused', async () => {
    const { awsDynamoSettings } = await import('../../src/backends/aws');
    const s = parsed(awsDdb({}, { export: { bucket: 'ddb-exports', bucketOwner: '210987654321' } }));
    assert.deepEqual(awsDynamoSettings('shop', s).dynamodb.export, { bucket: 'ddb-exports', prefix: 'lakesync/dynamodb', bucketOwner: '210987654321' });
    for (const bucketOwner of ['21098765432', 'arn:aws:iam::210987654321:root', ' 210987654321', 210987654321]) {
      assertProblem(problems(awsDdb({}, { export: { bucket: 'ddb-exports', bucketOwner } })), 'sources.shop.source.export.bucketOwner', /12-digit id of the AWS account|put the value in quotes/);
    }
  });

  test('backend aws without source.export is refused, naming the field and what to add', () => {
    const source = awsDdb();
    delete (source.source as Record<string, unknown>).export;
    assert.deepEqual(problems(source), ['sources.shop.source.export: backend aws has DynamoDB write its exports to S3: add source.export: { bucket: <bucket>, prefix: lakesync/dynamodb } (kmsKeyId optional)']);
  });

  test('backend local without source.endpoint is refused; backend aws with one is refused', () => {
    assert.deepEqual(problems(localDdb({}, { endpoint: undefined })), [
      'sources.shop.source.endpoint: backend local reads the embedded DynamoDB (moto server): set source.endpoint, e.g. http://127.0.0.1:5000',
    ]);
    assert.deepEqual(problems(awsDdb({}, { endpoint: 'http://127.0.0.1:5000' })), [
      'sources.shop.source.endpoint: source.endpoint points at an embedded DynamoDB, and backend aws reads the real one: remove source.endpoint (or use backend local)',
    ]);
  });

  for (const maxHours of [0.1, 0.25, 0.49, 24.5, 0]) {
    test(`exportWindow.maxHours ${maxHours} is refused with DynamoDB's 15 minutes to 24 hours`, () => {
      assert.deepEqual(problems(localDdb({}, { exportWindow: { maxHours } })), [
        "sources.shop.source.exportWindow.maxHours: must be between 0.5 and 24: DynamoDB's incremental exports cover 15 minutes to 24 hours, and windows of up to at least 30 minutes let every gap split into windows of 15 minutes or more",
      ]);
    });
  }

  test('exportWindow.maxHours 0.5 and 24 are accepted', () => {
    assert.deepEqual(problems(localDdb({}, { exportWindow: { maxHours: 0.5 } })), []);
    assert.deepEqual(problems(localDdb({}, { exportWindow: { maxHours: 24, maxWindows: 30 } })), []);
  });

  for (const maxWindows of [0, 31, 2.5]) {
    test(`exportWindow.maxWindows ${maxWindows} is refused`, () => {
      assertProblem(problems(localDdb({}, { exportWindow: { maxWindows } })), 'sources.shop.source.exportWindow.maxWindows', /must be (between 1 and 30|a whole number)/);
    });
  }

  test('an unknown lake type of an attribute is refused, listing the types', () => {
    assert.deepEqual(problems(localDdb({ 'dynamodb.Orders': { attributes: { total: 'money' } } })), [
      'sources.shop.tables.dynamodb.Orders.attributes.total: is not a lake type for a DynamoDB attribute: use one of string, decimal(p,s), bigint, int, double, boolean, binary, json',
    ]);
    assertProblem(problems(localDdb({ 'dynamodb.Orders': { attributes: { total: 'decimal(40,2)' } } })), 'sources.shop.tables.dynamodb.Orders.attributes.total', /decimal\(p,s\) needs 1 <= p <= 38/);
  });

  const refused: [string, unknown, RegExp][] = [
    ['primaryKey', ['id'], /primaryKey does not apply to a DynamoDB table \(its key is the table's partition key \(and sort key\), read from DynamoDB\): remove primaryKey/],
    ['cursor', { column: 'updated_at' }, /cursor does not apply to a DynamoDB table .*: remove cursor/],
    ['action', 'replace', /action does not apply to a DynamoDB table .*: remove action/],
    ['extract', 'export', /extract does not apply to a DynamoDB table .*: remove extract/],
  ];
  for (const [field, value, message] of refused) {
    test(`${field} on a dynamodb table is refused`, () => {
      assertProblem(problems(localDdb({ 'dynamodb.Orders': { [field]: value } })), `sources.shop.tables.dynamodb.Orders.${field}`, message);
    });
  }

  test('a DynamoDB table name with "." is refused, in source.tables and as a table key', () => {
    assertProblem(problems(localDdb({}, { tables: ['Orders', 'shop.orders'] })), 'sources.shop.source.tables.1', /DynamoDB table "shop.orders" has a "." in its name, which lakesync cannot sync/);
    assertProblem(problems(localDdb({}, { tables: ['arn:aws:dynamodb:eu-west-1:123456789012:table/a.b.c'] })), 'sources.shop.source.tables.0', /has a "." in its name/);
    assertProblem(problems(localDdb({ 'dynamodb.shop.orders': {} })), 'sources.shop.tables.dynamodb.shop.orders', /table keys must be schema.table \(DynamoDB tables: dynamodb.<TableName>, a name without "."\)/);
    assertProblem(problems(localDdb({}, { tables: ['ab'] })), 'sources.shop.source.tables.0', /is not a DynamoDB table name: DynamoDB names are 3-255/);
    assertProblem(problems(localDdb({}, { tables: ['arn:aws:s3:::bucket'] })), 'sources.shop.source.tables.0', /is not a DynamoDB table ARN/);
  });

  test('a table ARN of another region than source.region is refused: the table of that name in source.region would be synced instead', () => {
    assertProblem(
      problems(awsDdb({}, { tables: ['Orders', 'arn:aws:dynamodb:us-east-1:123456789012:table/Customers'] })),
      'sources.shop.source.tables.1',
      /is a table of region us-east-1, and source.region is eu-west-1: lakesync reads the tables of source.region only \(a source per region\); list Customers under a source with region us-east-1/,
    );
    assert.deepEqual(problems(awsDdb({}, { tables: ['arn:aws:dynamodb:eu-west-1:123456789012:table/Customers'] })), []);
  });

  test('a dynamodb table keyed under another schema is refused', () => {
    assertProblem(problems(localDdb({ 'public.Orders': {} })), 'sources.shop.tables.public.Orders', /DynamoDB tables are keyed dynamodb.<TableName>: rename the key to dynamodb.Orders/);
  });

  test('an attribute both declared and excluded is refused', () => {
    assertProblem(problems(localDdb({ 'dynamodb.Orders': { attributes: { email: 'string' }, columns: { email: { exclude: true } } } })), 'sources.shop.tables.dynamodb.Orders.columns.email.exclude', /declared in attributes and excluded in columns/);
  });

  test('columns.type on a declared attribute: pairs the job reads exactly are accepted', () => {
    const pairs: [string, string][] = [
      ['decimal(10,2)', 'string'], ['decimal(10,2)', 'double'], ['decimal(10,2)', 'bigint'], ['bigint', 'decimal(20,2)'], ['int', 'bigint'],
      ['double', 'decimal(12,4)'], ['double', 'string'], ['string', 'bigint'], ['string', 'decimal(12,2)'], ['boolean', 'string'],
    ];
    for (const [declared, type] of pairs) {
      assert.deepEqual(problems(localDdb({ 'dynamodb.Orders': { attributes: { total: declared }, columns: { total: { type } } } })), [], `${declared} -> ${type}`);
    }
  });

  test('columns.type a declared type cannot be cast to is refused before any export, naming the table, attribute, both types and the fix', () => {
    const pairs: [string, string][] = [['decimal(10,2)', 'boolean'], ['boolean', 'int'], ['string', 'boolean'], ['binary', 'string'], ['json', 'bigint'], ['json', 'string']];
    for (const [declared, type] of pairs) {
      const found = problems(localDdb({ 'dynamodb.Orders': { attributes: { total: declared }, columns: { total: { type } } } }));
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0]!, /^sources\.shop\.tables\.dynamodb\.Orders\.columns\.total\.type: /);
      assert.ok(found[0]!.includes(`tables."dynamodb.Orders": attribute total is declared ${declared}, and columns.total.type ${type} cannot be cast from ${declared}`), found[0]);
      assert.match(found[0]!, /declare it .* or remove type/);
    }
  });

  test('attributes on a PostgreSQL table are refused', () => {
    const pg = { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, tables: { 'public.orders': { attributes: { total: 'string' } } } };
    assertProblem(problems(pg), 'sources.shop.tables.public.orders.attributes', /attributes apply to DynamoDB tables only \(source.kind dynamodb\), and this source is pglite/);
  });

  test('an rds source still needs aws.export; an unknown kind names dynamodb', () => {
    const rds = { ...awsDdb(), source: { kind: 'rds', instanceId: 'shop-db' } };
    assert.deepEqual(problems(rds), ['sources.shop.aws.export: an rds source needs aws.export (bucket, iamRoleArn, kmsKeyId): where RDS writes the snapshot export (docs/aws-setup.md)']);
    assertProblem(problems(localDdb({}, { kind: 'mongodb' })), 'sources.shop.source.kind', /kind must be pglite, postgres, rds, dynamodb or fake/);
  });

  test('backend aws accepts dynamodb and still refuses pglite', () => {
    assert.deepEqual(problems(awsDdb()), []);
    assertProblem(problems({ ...awsDdb(), source: { kind: 'pglite' } }), 'sources.shop.source.kind', /backend aws reads from RDS or DynamoDB: set source.kind to rds or dynamodb/);
  });
});

describe('DynamoDB table names and export ids', () => {
  test('names, keys and ARNs map to each other', () => {
    assert.equal(dynamoTableNameOf('arn:aws:dynamodb:eu-west-1:123456789012:table/Customers'), 'Customers');
    assert.equal(dynamoTableNameOf('Orders'), 'Orders');
    assert.equal(dynamoTableKey('Orders'), 'dynamodb.Orders');
    assert.equal(dynamoNameOfKey('dynamodb.Orders'), 'Orders');
    assert.equal(dynamoNameOfKey('public.orders'), undefined);
    assert.equal(dynamoNameOf('dynamodb.Orders'), 'Orders');
    assert.throws(() => dynamoNameOf('public.orders'), { name: 'PortError', message: /"public\.orders" is not a DynamoDB table: tables of a dynamodb source are named dynamodb\.<TableName>/ });
  });

  test('sha256Hex matches node:crypto, for ASCII and non-ASCII text of several block sizes', () => {
    for (const text of ['', 'abc', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'Ünïcødé ✓ 𝄞'.repeat(9)]) {
      assert.equal(sha256Hex(text), createHash('sha256').update(text, 'utf8').digest('hex'), JSON.stringify(text));
    }
  });

  test('tableExportIdFor is deterministic, lse- and 16 hex, and differs by source, cycle, table and window', () => {
    const id = tableExportIdFor('shop-ddb', 'lakesync/shop-ddb/cycle-3-abc', 'dynamodb.Orders', 0);
    assert.match(id, /^lse-[0-9a-f]{16}$/);
    assert.ok(id.length <= 36);
    assert.equal(tableExportIdFor('shop-ddb', 'lakesync/shop-ddb/cycle-3-abc', 'dynamodb.Orders', 0), id);
    const others = [
      tableExportIdFor('shop-ddb', 'lakesync/shop-ddb/cycle-3-abc', 'dynamodb.Orders', 1),
      tableExportIdFor('shop-ddb', 'lakesync/shop-ddb/cycle-4-abc', 'dynamodb.Orders', 0),
      tableExportIdFor('shop-ddb', 'lakesync/shop-ddb/cycle-3-abc', 'dynamodb.Customers', 0),
      tableExportIdFor('shop', 'lakesync/shop-ddb/cycle-3-abc', 'dynamodb.Orders', 0),
    ];
    assert.equal(new Set([id, ...others]).size, 5);
  });
});
