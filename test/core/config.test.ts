/** lakesync.yaml validation: every invalid config is rejected with the field named, before any port is called. */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfigFile, parseConfig, sourceConfig } from '../../src/config/load';
import { lakeTableName, selectTable } from '../../src/config/tables';
import { ConfigError } from '../../src/errors';
import { createWorker } from '../../src/worker';
import { rdsSourceConfig } from '../helpers/source-config';
import { tempDir } from '../helpers/temp-dir';

/** A valid local source; each case below breaks one thing. */
function valid(): Record<string, any> {
  return {
    sources: {
      shop: {
        database: 'shop',
        source: { kind: 'pglite' },
        target: { namespace: 'shop', tableName: '{schema}_{table}' },
        tables: { 'public.orders': { primaryKey: ['id'] } },
      },
    },
  };
}

function rejects(mutate: (c: Record<string, any>) => void): ConfigError {
  const config = valid();
  mutate(config);
  try {
    parseConfig(config);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

/**
 * Makes the source an rds source on the aws backend in us-east-2, the Region the cases' keys of
 * other Regions are measured against; `change` then edits its aws section.
 */
function onAws(c: Record<string, any>, change: (aws: Record<string, any>) => void): void {
  const { backend, source, aws } = rdsSourceConfig({ aws: { region: 'us-east-2' } });
  Object.assign(c.sources.shop, { backend, source, aws });
  change(c.sources.shop.aws);
}

const CASES: { name: string; path: string; value?: unknown; message: RegExp; mutate: (c: Record<string, any>) => void }[] = [
  { name: 'no sources', path: 'sources', message: /define at least one source/, mutate: (c) => (c.sources = {}) },
  { name: 'bad source name', path: 'sources.Shop_1', message: /source names are 1-63 lowercase/, mutate: (c) => ((c.sources.Shop_1 = c.sources.shop), delete c.sources.shop) },
  { name: 'source name with a trailing hyphen', path: 'sources.shop-', message: /source names are .*not ending with a hyphen/, mutate: (c) => ((c.sources['shop-'] = c.sources.shop), delete c.sources.shop) },
  { name: 'source name with a double hyphen', path: 'sources.sales--eu', message: /single hyphens/, mutate: (c) => ((c.sources['sales--eu'] = c.sources.shop), delete c.sources.shop) },
  { name: 'namespace with capitals', path: 'sources.shop.target.namespace', value: 'Shop-Data', message: /S3 Tables rule/, mutate: (c) => (c.sources.shop.target.namespace = 'Shop-Data') },
  { name: 'template without {table}', path: 'sources.shop.target.tableName', value: 'orders', message: /must contain \{table\}/, mutate: (c) => (c.sources.shop.target.tableName = 'orders') },
  { name: 'template ending every lake name with an underscore', path: 'sources.shop.target.tableName', value: '{table}_', message: /gives lake names such as "a_" .*1-255 lowercase letters, digits or underscores, starting and ending with a letter or digit/, mutate: (c) => (c.sources.shop.target.tableName = '{table}_') },
  { name: 'template starting every lake name with an underscore', path: 'sources.shop.target.tableName', value: '-{table}', message: /gives lake names such as "_a"/, mutate: (c) => (c.sources.shop.target.tableName = '-{table}') },
  { name: 'empty Temporal address', path: 'temporal.address', value: '', message: /is not host:port: give host:port, e\.g\. localhost:7233/, mutate: (c) => (c.temporal = { address: '' }) },
  { name: 'Temporal address as a URL', path: 'temporal.address', value: 'http://127.0.0.1:7233', message: /is not host:port.*no scheme/, mutate: (c) => (c.temporal = { address: 'http://127.0.0.1:7233' }) },
  { name: 'Temporal address without a port', path: 'temporal.address', value: 'temporal', message: /is not host:port/, mutate: (c) => (c.temporal = { address: 'temporal' }) },
  { name: 'Temporal address with port 70000', path: 'temporal.address', value: 'localhost:70000', message: /port 70000 is not a port number \(1-65535\)/, mutate: (c) => (c.temporal = { address: 'localhost:70000' }) },
  { name: 'Temporal address with a bad IPv4 address', path: 'temporal.address', value: '10.0.0.300:7233', message: /host "10\.0\.0\.300" is not a host name or an IP address/, mutate: (c) => (c.temporal = { address: '10.0.0.300:7233' }) },
  { name: 'database ..', path: 'sources.shop.database', value: '..', message: /must not be \. or \.\. nor contain a slash/, mutate: (c) => (c.sources.shop.database = '..') },
  { name: 'database with a slash', path: 'sources.shop.database', value: 'shop/../../etc', message: /the export writes its tables in a folder of this name/, mutate: (c) => (c.sources.shop.database = 'shop/../../etc') },
  { name: 'empty include list', path: 'sources.shop.include', message: /an empty include list syncs no table: list at least one glob/, mutate: (c) => (c.sources.shop.include = []) },
  { name: 'table key not schema.table', path: 'sources.shop.tables.orders', message: /schema\.table/, mutate: (c) => (c.sources.shop.tables = { orders: {} }) },
  { name: 'max delete fraction above 1', path: 'sources.shop.safety.maxDeleteFraction', value: 1.5, message: /between 0 and 1/, mutate: (c) => (c.sources.shop.safety = { maxDeleteFraction: 1.5 }) },
  { name: 'concurrency 0', path: 'sources.shop.concurrency', value: 0, message: /at least 1/, mutate: (c) => (c.sources.shop.concurrency = 0) },
  { name: 'unknown field', path: 'sources.shop', message: /unknown field\(s\) concurency/, mutate: (c) => (c.sources.shop.concurency = 5) },
  { name: 'a key listing a column twice', path: 'sources.shop.tables.public.orders.primaryKey', message: /lists "id" twice: list each key column once/, mutate: (c) => (c.sources.shop.tables['public.orders'] = { primaryKey: ['id', 'region', 'id'] }) },
  { name: 'incremental without cursor', path: 'sources.shop.tables.public.orders.cursor', message: /needs a cursor column/, mutate: (c) => (c.sources.shop.tables['public.orders'] = { action: 'incremental' }) },
  { name: 'lookback without a unit', path: 'sources.shop.tables.public.orders.cursor.lookback', value: '15', message: /has no unit: write "15m", "15h" or "15d" for a date or timestamp cursor, or 15 without quotes/, mutate: (c) => (c.sources.shop.tables['public.orders'].cursor = { column: 'updated_at', lookback: '15' }) },
  { name: 'lookback in words', path: 'sources.shop.tables.public.orders.cursor.lookback', value: '1 hour', message: /is not a lookback: write a duration such as "15m", "2h" or "1d"/, mutate: (c) => (c.sources.shop.tables['public.orders'].cursor = { column: 'updated_at', lookback: '1 hour' }) },
  { name: 'negative lookback', path: 'sources.shop.tables.public.orders.cursor.lookback', value: -5, message: /must be 0 or more/, mutate: (c) => (c.sources.shop.tables['public.orders'].cursor = { column: 'id', lookback: -5 }) },
  { name: 'lookback of ten years and more', path: 'sources.shop.tables.public.orders.cursor.lookback', value: '4000d', message: /longer than 3650d/, mutate: (c) => (c.sources.shop.tables['public.orders'].cursor = { column: 'updated_at', lookback: '4000d' }) },
  { name: 'lookback neither text nor number', path: 'sources.shop.tables.public.orders.cursor.lookback', message: /must be a duration such as "15m" or a number such as 1000/, mutate: (c) => (c.sources.shop.tables['public.orders'].cursor = { column: 'updated_at', lookback: true }) },
  { name: 'unknown source kind', path: 'sources.shop.source.kind', message: /kind must be pglite, postgres, rds, dynamodb or fake/, mutate: (c) => (c.sources.shop.source = { kind: 'mysql' }) },
  { name: 'postgres url not a URL', path: 'sources.shop.source.url', value: 'localhost:5432', message: /postgres:\/\/ URL/, mutate: (c) => (c.sources.shop.source = { kind: 'postgres', url: 'localhost:5432' }) },
  { name: 'aws backend without aws section', path: 'sources.shop.aws', message: /backend aws needs an aws section/, mutate: (c) => onAws(c, () => delete c.sources.shop.aws) },
  { name: 'export prefix with a colon', path: 'sources.shop.aws.export.prefix', value: 'exports:2026', message: /must not contain a colon \(:\): RDS refuses to export to such a prefix/, mutate: (c) => onAws(c, (a) => (a.export.prefix = 'exports:2026')) },
  { name: 'two tables with one lake name', path: 'sources.shop.tables', message: /map to the same lake table "public_order_items"/, mutate: (c) => (c.sources.shop.tables = { 'public.order_items': {}, 'public.Order Items': {} }) },
  { name: 'grant with unknown permission', path: 'sources.shop.grants.0.tablePermissions.0', value: 'READ', message: /must be one of SELECT/, mutate: (c) => (c.sources.shop.grants = [{ principal: 'arn:aws:iam::123456789012:role/a', tablePermissions: ['READ'] }]) },
  // IAM lets a principal pass only roles of its own account: StartExportTask would fail after the snapshot, CreateJob at the worker's start.
  { name: 'export role of another account', path: 'sources.shop.aws.export.iamRoleArn', value: 'arn:aws:iam::999999999999:role/export', message: /is a role of account 999999999999, not of aws\.accountId 123456789012: .*only roles of the caller's own account/, mutate: (c) => onAws(c, (a) => (a.export.iamRoleArn = 'arn:aws:iam::999999999999:role/export')) },
  { name: 'Glue job role of another account', path: 'sources.shop.aws.glue.roleArn', value: 'arn:aws:iam::999999999999:role/glue', message: /is a role of account 999999999999, not of aws\.accountId 123456789012/, mutate: (c) => onAws(c, (a) => (a.glue.roleArn = 'arn:aws:iam::999999999999:role/glue')) },
  // KMS keys are specific to their Region: RDS, exporting in aws.region, cannot use the key, and StartExportTask fails after the snapshot.
  { name: 'export key of another region', path: 'sources.shop.aws.export.kmsKeyId', value: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', message: /is a key of eu-west-1, not of aws\.region us-east-2: .*KMS keys cannot be used outside their Region/, mutate: (c) => onAws(c, (a) => (a.export.kmsKeyId = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab')) },
  { name: 'export key alias ARN of another region', path: 'sources.shop.aws.export.kmsKeyId', value: 'arn:aws:kms:us-west-2:123456789012:alias/export', message: /is a key of us-west-2, not of aws\.region us-east-2/, mutate: (c) => onAws(c, (a) => (a.export.kmsKeyId = 'arn:aws:kms:us-west-2:123456789012:alias/export')) },
  // DescribeDBInstances takes an ARN, so the doctor found the instance; CreateDBSnapshot takes only the identifier, so every cycle failed at its snapshot.
  { name: 'RDS instance given as an ARN', path: 'sources.shop.source.instanceId', value: 'arn:aws:rds:us-east-2:123456789012:db:shop-db', message: /is not an RDS identifier .*1-63 letters, digits and hyphens.*give the identifier alone, e\.g\. shop-db/, mutate: (c) => onAws(c, () => (c.sources.shop.source = { kind: 'rds', instanceId: 'arn:aws:rds:us-east-2:123456789012:db:shop-db' })) },
  { name: 'Aurora cluster id with an underscore', path: 'sources.shop.source.clusterId', value: 'shop_cluster', message: /is not an RDS identifier/, mutate: (c) => onAws(c, () => (c.sources.shop.source = { kind: 'rds', clusterId: 'shop_cluster' })) },
  // Every table would load, then fail its verification: Athena refuses a result location without a bucket.
  // Athena refuses it at the first verification, after every table's load committed.
  { name: 'Athena workgroup name Athena refuses', path: 'sources.shop.aws.athena.workgroup', value: 'my analysts/team', message: /must be an Athena workgroup name: 1-128 letters, digits, dots, underscores or hyphens/, mutate: (c) => onAws(c, (a) => (a.athena.workgroup = 'my analysts/team')) },
  { name: 'Athena result location without a bucket', path: 'sources.shop.aws.athena.outputLocation', value: 's3://', message: /must be an s3:\/\/<bucket>\/<prefix>\/ location/, mutate: (c) => onAws(c, (a) => (a.athena.outputLocation = 's3://')) },
  { name: 'Athena result location in a bucket S3 does not allow', path: 'sources.shop.aws.athena.outputLocation', value: 's3://Shop_Athena/results/', message: /must be an s3:\/\/<bucket>\/<prefix>\/ location/, mutate: (c) => onAws(c, (a) => (a.athena.outputLocation = 's3://Shop_Athena/results/')) },
  { name: 'existing snapshot without id', path: 'sources.shop.snapshot.id', message: /needs the snapshot id/, mutate: (c) => (c.sources.shop.snapshot = { mode: 'existing' }) },
  // The id was ignored: every cycle took a new snapshot of the database instead of the one named.
  { name: 'snapshot id without mode existing', path: 'sources.shop.snapshot.id', value: 'shop-manual-2024', message: /is used with mode existing only, but mode is create: set mode: existing to load from snapshot shop-manual-2024, or remove the id/, mutate: (c) => (c.sources.shop.snapshot = { id: 'shop-manual-2024' }) },
  { name: 'snapshot id with mode latest-automated', path: 'sources.shop.snapshot.id', message: /but mode is latest-automated/, mutate: (c) => (c.sources.shop.snapshot = { mode: 'latest-automated', id: 'shop-manual-2024' }) },
  { name: 'check expecting an integer beyond 2^53', path: 'sources.shop.verify.checks.0.expect', value: 12345678901234568, message: /beyond 2\^53 .*write it in quotes/, mutate: (c) => (c.sources.shop.verify = { checks: [{ name: 'checksum', table: 'public.orders', sql: 'select sum(id) from {table}', expect: 12345678901234567 }] }) },
  { name: 'check on an excluded table', path: 'sources.shop.verify.checks.0.table', value: 'public.secrets', message: /does not sync/, mutate: (c) => ((c.sources.shop.exclude = ['public.secrets']), (c.sources.shop.verify = { checks: [{ name: 'n', table: 'public.secrets', sql: 'select 1', expect: 1 }] })) },
];

describe('config validation', () => {
  test('a valid config parses with defaults filled in', () => {
    const config = parseConfig(valid());
    const shop = sourceConfig(config, 'shop');
    assert.equal(shop.backend, 'local');
    assert.equal(shop.concurrency, 10);
    assert.equal(shop.safety.maxDeleteFraction, 0.5);
    assert.deepEqual(shop.include, ['*.*']);
    assert.equal(config.temporal.taskQueue, 'lakesync');
  });

  for (const c of CASES) {
    test(`rejects ${c.name}, naming ${c.path}`, () => {
      const err = rejects(c.mutate);
      const issue = err.issues.find((i) => i.path === c.path);
      assert.ok(issue, `no issue at ${c.path}; got ${JSON.stringify(err.issues)}`);
      assert.match(issue.message, c.message);
      if (c.value !== undefined) assert.deepEqual(issue.value, c.value);
      assert.match(err.message, new RegExp(c.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    });
  }

  test('a column policy keyed __proto__ is refused, never dropped (the column would be loaded unexcluded)', () => {
    const config = valid();
    config.sources.shop.tables = JSON.parse('{"public.people": {"columns": {"__proto__": {"exclude": true}, "constructor": {"exclude": true}}}}');
    try {
      parseConfig(config);
      assert.fail('the config was accepted');
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      assert.deepEqual(e.issues.map((i) => i.path), ['sources.shop.tables.public.people.columns.__proto__']);
      assert.match(e.issues[0]!.message, /a key named __proto__ cannot be read .*exclude the whole table/);
    }
    // A column named like another Object.prototype member is an ordinary key.
    config.sources.shop.tables = JSON.parse('{"public.people": {"columns": {"constructor": {"exclude": true}}}}');
    assert.deepEqual(sourceConfig(parseConfig(config), 'shop').tables['public.people']?.columns, { constructor: { exclude: true } });
  });

  test('a cursor lookback is a duration or a number of cursor units, and may be left out', () => {
    const config = valid();
    config.sources.shop.tables = {
      'public.events': { cursor: { column: 'created_at', lookback: '15m' } },
      'public.log': { cursor: { column: 'seq', lookback: 1000 } },
      'public.audit': { cursor: { column: 'at', lookback: 0 } },
      'public.orders': { cursor: { column: 'updated_at' } },
    };
    const tables = sourceConfig(parseConfig(config), 'shop').tables;
    assert.deepEqual(['public.events', 'public.log', 'public.audit', 'public.orders'].map((t) => tables[t]?.cursor?.lookback), ['15m', 1000, 0, undefined]);
  });

  test('a Temporal address is a host name, an IPv4 address or a bracketed IPv6 address, with a port', () => {
    for (const address of ['localhost:7233', '10.0.0.5:7233', '[::1]:7233', 'ns.acct.tmprl.cloud:7233', 'temporal-frontend.temporal.svc:7233']) {
      const config = valid();
      config.temporal = { address };
      assert.equal(parseConfig(config).temporal.address, address);
    }
  });

  test('an unknown source is named with the ones that exist', () => {
    assert.throws(() => sourceConfig(parseConfig(valid()), 'crm'), /sources\.crm.*no such source; the config defines: shop/s);
  });

  test('a missing or broken file says what to do', () => {
    const dir = tempDir('lakesync-config-');
    assert.throws(() => loadConfigFile(join(dir, 'nope.yaml')), /cannot read the config file.*lakesync init/s);
    writeFileSync(join(dir, 'bad.yaml'), 'sources: [unclosed');
    assert.throws(() => loadConfigFile(join(dir, 'bad.yaml')), /is not valid YAML/);
  });

  test('YAML anchors and merge keys share settings between sources', () => {
    const file = join(tempDir('lakesync-config-'), 'lakesync.yaml');
    writeFileSync(
      file,
      [
        'sources:',
        '  shop: &base',
        '    database: shop',
        '    source: { kind: pglite }',
        '    target: { namespace: shop }',
        "    tables: { 'public.orders': { primaryKey: [id] } }",
        '  crm:',
        '    <<: *base',
        '    database: crm',
        '    target: { namespace: crm }',
        '',
      ].join('\n'),
    );
    const config = loadConfigFile(file);
    const crm = sourceConfig(config, 'crm');
    assert.equal(crm.database, 'crm');
    assert.equal(crm.target.namespace, 'crm');
    assert.deepEqual(crm.tables['public.orders']?.primaryKey, ['id']);
    assert.equal(sourceConfig(config, 'shop').target.namespace, 'shop');
  });

  test("a check's expect written with more digits than a YAML number holds is refused, not compared rounded", () => {
    const file = join(tempDir('lakesync-config-'), 'lakesync.yaml');
    const write = (expect: string) =>
      writeFileSync(
        file,
        [
          'sources:',
          '  shop:',
          '    database: shop',
          '    source: { kind: pglite }',
          '    target: { namespace: shop }',
          "    tables: { 'public.orders': { primaryKey: [id] } }",
          '    verify:',
          '      checks:',
          `        - { name: ledger total, table: public.orders, sql: "select sum(amount) from {table}", expect: ${expect} }`,
          '',
        ].join('\n'),
      );
    // 1234567890123456.78 reads as the double 1234567890123456.8: a lake answering .8 would pass a check written for .78.
    write('1234567890123456.78');
    assert.throws(() => loadConfigFile(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /sources\.shop\.verify\.checks\.0\.expect/);
      assert.match(err.message, /1234567890123456\.78.*write it in quotes/s);
      return true;
    });
    // Nor one that rounds to a whole number a double holds.
    write('0.99999999999999999999');
    assert.throws(() => loadConfigFile(file), /0\.99999999999999999999.*reads as 1\b.*write it in quotes/s);
    // Digits a double holds exactly, written any way, stay numbers.
    for (const [text, value] of [['0.1', 0.1], ['5.00', 5], ['1e-7', 1e-7], ['-0.25', -0.25], ['1.0E10', 1e10]] as const) {
      write(text);
      assert.equal(sourceConfig(loadConfigFile(file), 'shop').verify.checks[0]?.expect, value, text);
    }
    write("'1234567890123456.78'");
    assert.equal(sourceConfig(loadConfigFile(file), 'shop').verify.checks[0]?.expect, '1234567890123456.78');
  });

  test('an invalid config stops the worker before any port is built or called', async () => {
    const file = join(tempDir('lakesync-config-'), 'lakesync.yaml');
    writeFileSync(file, 'sources:\n  shop:\n    database: shop\n    source: { kind: fake, tables: 3, stateDir: /nonexistent/never-created }\n    target: { namespace: Bad-Name }\n');
    let portsBuilt = false;
    await assert.rejects(async () => {
      const config = loadConfigFile(file);
      portsBuilt = true;
      await createWorker({ config });
    }, ConfigError);
    assert.equal(portsBuilt, false);
  });

  test('lake names: template, lowercasing, and invalid characters folded to underscores', () => {
    const shop = sourceConfig(parseConfig(valid()), 'shop');
    assert.equal(lakeTableName(shop, 'public.Orders'), 'public_orders');
    assert.equal(lakeTableName(shop, 'sales.Order Lines'), 'sales_order_lines');
    assert.equal(lakeTableName(shop, 'public.Zürich'), 'public_z_rich');
    // A name must end with a letter or digit: trailing underscores go, as leading ones do.
    const plain = { ...shop, target: { ...shop.target, tableName: '{table}' } };
    assert.deepEqual(['public.orders_', 'public.Odd Name ', 'public.price(€)', 'public._tmp_'].map((t) => lakeTableName(plain, t)), ['orders', 'odd_name', 'price', 'tmp']);
    assert.deepEqual(selectTable({ include: ['public.*'], exclude: ['public.*_pii'] }, 'public.users_pii'), { included: false, rule: 'exclude public.*_pii' });
    assert.deepEqual(selectTable({ include: ['public.*'], exclude: [] }, 'audit.log'), { included: false, rule: 'matches no include rule' });
  });

  test('a table name is no path: a slash or a line break in it (legal in a quoted PostgreSQL name) is matched by * like any character', () => {
    // The default include takes every table, whatever characters its name holds.
    assert.deepEqual(selectTable({ include: ['*.*'], exclude: [] }, 'public.a/b'), { included: true, rule: 'include *.*' });
    assert.deepEqual(selectTable({ include: ['public.*'], exclude: [] }, 'public.\nnotes'), { included: true, rule: 'include public.*' });
    // An exclude rule keeps such a table out under any include, ** too.
    for (const include of [['*.*'], ['**'], ['public.*']]) {
      assert.deepEqual(selectTable({ include, exclude: ['*.*_pii'] }, 'public.people/emails_pii'), { included: false, rule: 'exclude *.*_pii' }, include.join());
      assert.deepEqual(selectTable({ include, exclude: ['public.*'] }, 'public.\nx'), { included: false, rule: 'exclude public.*' }, include.join());
    }
    // A rule may name the slash itself.
    assert.deepEqual(selectTable({ include: ['*.*'], exclude: ['public.a/b'] }, 'public.a/b'), { included: false, rule: 'exclude public.a/b' });
    assert.deepEqual(selectTable({ include: ['*.*'], exclude: ['public.a/b'] }, 'public.a_b'), { included: true, rule: 'include *.*' });
  });
});

describe('local sources sharing a work dir', () => {
  test('are refused, naming both sources: they would share one warehouse and one load runner', () => {
    const dir = tempDir('lakesync-shared-workdir-');
    const err = rejects((c) => {
      c.sources.shop.local = { workDir: dir };
      c.sources.crm = { ...c.sources.shop, target: { namespace: 'crm' }, local: { workDir: `${dir}/.` } };
    });
    const issue = err.issues.find((i) => i.path === 'sources.crm.local.workDir');
    assert.ok(issue, JSON.stringify(err.issues));
    assert.match(issue.message, /sources shop and crm share the work dir .*: give each source a workDir of its own/);
  });

  test('a work dir reached through a symbolic link is the same work dir', () => {
    const dir = tempDir('lakesync-linked-workdir-');
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    for (const [shop, crm] of [['real', 'link'], ['real/data', 'link/data']]) {
      const err = rejects((c) => {
        c.sources.shop.local = { workDir: join(dir, shop!) };
        c.sources.crm = { ...c.sources.shop, target: { namespace: 'crm' }, local: { workDir: join(dir, crm!) } };
      });
      assert.ok(err.issues.some((i) => i.path === 'sources.crm.local.workDir' && /sources shop and crm share the work dir/.test(i.message)), `${crm}: ${JSON.stringify(err.issues)}`);
    }
  });

  test('an explicit workDir that is another source\'s default is refused too', () => {
    const err = rejects((c) => {
      c.sources.crm = { ...c.sources.shop, target: { namespace: 'crm' }, local: { workDir: '.lakesync/data/shop' } };
    });
    assert.ok(err.issues.some((i) => i.path === 'sources.crm.local.workDir' && /sources shop and crm share/.test(i.message)), JSON.stringify(err.issues));
  });

  test('two aws sources that would write the same lake table (one table bucket and namespace) are refused, naming both', () => {
    // Each source's loads would merge into, or replace, the other's table: rows of one database lost under the other's.
    const err = rejects((c) => {
      onAws(c, (a) => (a.tableBucket = { name: 'shop-lake' }));
      c.sources.shop.tables = { 'public.orders': { primaryKey: ['id'] } };
      c.sources.shop.target = { namespace: 'lake' };
      c.sources.crm = structuredClone(c.sources.shop);
      c.sources.crm.database = 'crm';
      c.sources.crm.source = { kind: 'rds', instanceId: 'crm-db' };
    });
    const issue = err.issues.find((i) => i.path === 'sources.crm.tables.public.orders');
    assert.ok(issue, JSON.stringify(err.issues));
    assert.match(issue.message, /sources shop \(public\.orders\) and crm \(public\.orders\) both load lake table lake\.orders in table bucket shop-lake/);
    assert.match(issue.message, /give one a lakeName, another target\.namespace, or a target\.tableName with \{database\}/);
  });

  test('a DynamoDB table listed by one source and a table of another in the same namespace with the same lake name are refused', () => {
    const err = rejects((c) => {
      onAws(c, () => undefined);
      c.sources.shop.tables = { 'public.orders': { primaryKey: ['id'] } };
      c.sources.shop.target = { namespace: 'shop' };
      c.sources.events = {
        backend: 'aws',
        database: 'events',
        source: { kind: 'dynamodb', region: 'us-east-2', tables: ['orders'], export: { bucket: 'shop-exports' } },
        target: { namespace: 'shop' },
        aws: structuredClone(c.sources.shop.aws),
      };
      delete c.sources.events.aws.export;
    });
    assert.ok(err.issues.some((i) => /sources shop \(public\.orders\) and events \(dynamodb\.orders\) both load lake table shop\.orders/.test(i.message)), JSON.stringify(err.issues));
  });

  test('sources sharing a namespace with distinct lake names, or with the same names in other namespaces or buckets, are accepted', () => {
    const config = valid();
    onAws(config, () => undefined);
    config.sources.shop.target = { namespace: 'lake', tableName: '{database}_{table}' };
    config.sources.crm = structuredClone(config.sources.shop);
    config.sources.crm.database = 'crm';
    config.sources.other = structuredClone(config.sources.shop);
    config.sources.other.target = { namespace: 'other' };
    config.sources.elsewhere = structuredClone(config.sources.shop);
    config.sources.elsewhere.target = { namespace: 'lake' };
    config.sources.elsewhere.aws.tableBucket = { name: 'other-lake' };
    // The same table under an explicit lakeName of its own.
    config.sources.renamed = structuredClone(config.sources.shop);
    config.sources.renamed.target = { namespace: 'lake' };
    config.sources.renamed.tables = { 'public.orders': { primaryKey: ['id'], lakeName: 'renamed_orders' } };
    assert.doesNotThrow(() => parseConfig(config));
  });

  test('separate work dirs, and aws or fake sources, are accepted', () => {
    const config = valid();
    config.sources.crm = { ...config.sources.shop, target: { namespace: 'crm' } };
    config.sources.fake1 = { database: 'f', source: { kind: 'fake', tables: 1 }, target: { namespace: 'f1' }, local: { workDir: '/tmp/x' } };
    config.sources.fake2 = { database: 'f', source: { kind: 'fake', tables: 1 }, target: { namespace: 'f2' }, local: { workDir: '/tmp/x' } };
    assert.doesNotThrow(() => parseConfig(config));
  });
});
