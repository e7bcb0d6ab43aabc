/**
 * The plan of DynamoDB tables: each table's settings checked against its key, point-in-time
 * recovery, and the window rule (create, skip, merge windows, FULL replace), table-driven.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SourceConfig } from '../../src/config/schema';
import type { DiscoveredTable, DynamoExtract, DynamoKeyAttribute, PlanEntry, TableExportWindow } from '../../src/model';
import { type DynamoPlanInput, planTables, type PlannedTables } from '../../src/plan';
import { effectiveLimits, planWindows, type WindowDecision, type WindowInput } from '../../src/dynamodb/windows';
import { DYNAMODB_WINDOW_LIMITS } from '../../src/aws/dynamodb-exports';
import { EXPORT_WINDOW_HOURS } from '../../src/config/dynamodb';
import { localDynamoSourceConfig, parsed } from '../helpers/source-config';

const DYNAMODB_LIMITS = { minSeconds: 900, maxSeconds: 86400 };
const T = '2026-11-30T12:00:00Z';
const HOUR = 3600_000;
const before = (ms: number) => new Date(Date.parse(T) - ms).toISOString().replace('.000Z', 'Z');

const source = (tables: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): SourceConfig => parsed(localDynamoSourceConfig(tables, extra, top));

const ORDERS_KEY: DynamoKeyAttribute[] = [
  { name: 'customerId', type: 'S' },
  { name: 'orderNo', type: 'N' },
];

function ddb(name: string, key: DynamoKeyAttribute[] = ORDERS_KEY, pitr: { enabled: boolean; earliestRestorable?: string; recoveryPeriodDays?: number } = { enabled: true, earliestRestorable: before(30 * 24 * HOUR) }): DiscoveredTable {
  return {
    table: `dynamodb.${name}`,
    target: `dynamodb.dynamodb.${name}`,
    columns: [],
    dynamodb: { tableArn: `arn:aws:dynamodb:eu-west-1:123456789012:table/${name}`, key, pitr },
  };
}

const cycle = (reached: Record<string, string> = {}, limits = DYNAMODB_LIMITS): DynamoPlanInput => ({ exportTime: T, windowLimits: limits, reached });

function plan(s: SourceConfig, tables: DiscoveredTable[], lake: string[], dynamodb: DynamoPlanInput | undefined, rebuild = false): PlannedTables {
  return planTables(s, [], new Set(lake), { ...(dynamodb ? { dynamodb } : {}), ...(rebuild ? { rebuild, requested: tables.map((t) => t.table) } : {}) }, tables);
}

const only = (planned: PlannedTables): PlanEntry => {
  assert.deepEqual(planned.notLoaded, [], JSON.stringify(planned.notLoaded));
  assert.equal(planned.entries.length, 1);
  return planned.entries[0]!;
};
const extractOf = (e: PlanEntry): DynamoExtract => {
  assert.equal(e.extract?.kind, 'dynamodb');
  return e.extract as DynamoExtract;
};
const seconds = (w: TableExportWindow) => (Date.parse(w.to) - Date.parse(w.from!)) / 1000;

describe('the window rule (src/dynamodb/windows.ts)', () => {
  const base: WindowInput = { exportTime: T, lakeExists: true, reached: before(HOUR), rebuild: false, earliestRestorable: before(30 * 24 * HOUR), limits: DYNAMODB_LIMITS, maxWindows: 7 };
  const full = [{ type: 'FULL', to: T }];
  const cases: { name: string; input: Partial<WindowInput>; action: WindowDecision['action']; exports?: TableExportWindow[]; reason: RegExp }[] = [
    { name: 'no lake table: create from a FULL export at T', input: { lakeExists: false, reached: undefined }, action: 'create', exports: full as TableExportWindow[], reason: /^lake table missing: FULL export at 2026-11-30T12:00:00Z$/ },
    { name: 'a gap under 15 minutes: skipped, not failed', input: { reached: before(10 * 60_000) }, action: 'skip', reason: /^exported 10 min ago; DynamoDB's incremental exports cover at least 15 minutes: the next cycle takes it$/ },
    { name: 'exactly 15 minutes: one window', input: { reached: before(15 * 60_000) }, action: 'merge', exports: [{ type: 'INCREMENTAL', from: '2026-11-30T11:45:00Z', to: T }], reason: /^1 incremental window from 2026-11-30T11:45:00Z to 2026-11-30T12:00:00Z$/ },
    { name: 'a gap of one hour: one window', input: {}, action: 'merge', exports: [{ type: 'INCREMENTAL', from: '2026-11-30T11:00:00Z', to: T }], reason: /^1 incremental window/ },
    { name: 'exactly 24 hours: one window', input: { reached: before(24 * HOUR) }, action: 'merge', exports: [{ type: 'INCREMENTAL', from: '2026-11-29T12:00:00Z', to: T }], reason: /^1 incremental window/ },
    {
      name: 'a 50 hour gap: 3 even windows, oldest first',
      input: { reached: before(50 * HOUR) },
      action: 'merge',
      exports: [
        { type: 'INCREMENTAL', from: '2026-11-28T10:00:00Z', to: '2026-11-29T02:40:00Z' },
        { type: 'INCREMENTAL', from: '2026-11-29T02:40:00Z', to: '2026-11-29T19:20:00Z' },
        { type: 'INCREMENTAL', from: '2026-11-29T19:20:00Z', to: T },
      ],
      reason: /^3 incremental windows from 2026-11-28T10:00:00Z to 2026-11-30T12:00:00Z$/,
    },
    { name: '7 days: 7 windows (maxWindows)', input: { reached: before(7 * 24 * HOUR) }, action: 'merge', reason: /^7 incremental windows/ },
    { name: 'beyond maxWindows: replace from a FULL export', input: { reached: before(7 * 24 * HOUR + 1000) }, action: 'replace', exports: full as TableExportWindow[], reason: /168 hours since 2026-11-23T11:59:59Z need 8 incremental windows of at most 24 hours, more than exportWindow.maxWindows 7: FULL export at 2026-11-30T12:00:00Z replaces the table/ },
    { name: 'reached before PITR earliest restorable: replace', input: { reached: before(2 * HOUR), earliestRestorable: before(HOUR) }, action: 'replace', exports: full as TableExportWindow[], reason: /before point-in-time recovery's earliest restorable time 2026-11-30T11:00:00Z: incremental exports cannot start there/ },
    {
      name: 'reached a minute after an earliest restorable time that moves on: replace at once, not an incremental window DynamoDB would refuse by the time it starts',
      input: { reached: before(2 * HOUR), earliestRestorable: before(2 * HOUR + 60_000) },
      action: 'replace',
      exports: full as TableExportWindow[],
      reason: /the lake reached 2026-11-30T10:00:00Z, within 1 hour of point-in-time recovery's earliest restorable time 2026-11-30T09:59:00Z/,
    },
    { name: 'reached just over the margin after the earliest restorable time: one window', input: { reached: before(2 * HOUR), earliestRestorable: before(3 * HOUR + 1000) }, action: 'merge', exports: [{ type: 'INCREMENTAL', from: '2026-11-30T10:00:00Z', to: T }], reason: /^1 incremental window/ },
    {
      name: 'recovery turned on two days ago, period 35 days: its earliest restorable time stays put, so a window from just after it is kept',
      input: { reached: before(2 * HOUR), earliestRestorable: before(2 * HOUR + 60_000), recoveryPeriodDays: 35 },
      action: 'merge',
      exports: [{ type: 'INCREMENTAL', from: '2026-11-30T10:00:00Z', to: T }],
      reason: /^1 incremental window/,
    },
    {
      name: 'a period of 1 day, fully used: a window from 23.5 hours before T would start before the edge an hour after T reaches: replace',
      input: { reached: before(23.5 * HOUR), earliestRestorable: before(24 * HOUR), recoveryPeriodDays: 1 },
      action: 'replace',
      exports: full as TableExportWindow[],
      reason: /within 1 hour of point-in-time recovery's earliest restorable time 2026-11-29T12:00:00Z/,
    },
    { name: 'a period of 1 day, fully used: a window from 22 hours before T is kept', input: { reached: before(22 * HOUR), earliestRestorable: before(24 * HOUR), recoveryPeriodDays: 1 }, action: 'merge', reason: /^1 incremental window/ },
    { name: 'no margin (an earliest restorable time that never moves, the embedded mode): a window from just after it is kept', input: { reached: before(2 * HOUR), earliestRestorable: before(2 * HOUR + 60_000), restorableMarginSeconds: 0 }, action: 'merge', reason: /^1 incremental window/ },
    { name: 'rebuild: replace', input: { rebuild: true }, action: 'replace', exports: full as TableExportWindow[], reason: /^rebuild requested: FULL export at 2026-11-30T12:00:00Z replaces the lake table/ },
    { name: 'lake table without lakesync lineage: replace', input: { reached: undefined }, action: 'replace', exports: full as TableExportWindow[], reason: /no lakesync lineage/ },
    { name: 'lake ahead of T: skipped', input: { reached: '2026-11-30T12:00:05Z' }, action: 'skip', reason: /already reached 2026-11-30T12:00:05Z/ },
    { name: 'PITR turned on after T: skipped', input: { lakeExists: false, earliestRestorable: '2026-11-30T12:03:00Z' }, action: 'skip', reason: /point-in-time recovery reaches back to 2026-11-30T12:03:00Z only/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = planWindows({ ...base, ...c.input });
      assert.equal(d.action, c.action);
      assert.match(d.reason, c.reason);
      if (c.exports) assert.deepEqual('exports' in d ? d.exports : undefined, c.exports);
    });
  }

  test('every split window is between 15 minutes and 24 hours, contiguous, whole seconds with Z', () => {
    for (const hours of [24.01, 25, 47.99, 50, 71, 100.3, 167.9]) {
      const reached = before(Math.round(hours * 3600) * 1000);
      const d = planWindows({ ...base, reached });
      if (d.action !== 'merge') assert.fail(`${hours} h: ${d.action} (${d.reason})`);
      assert.equal(d.exports.length, Math.ceil(Math.round(hours * 3600) / 86400));
      assert.equal(d.exports[0]!.from, reached);
      assert.equal(d.exports.at(-1)!.to, T);
      d.exports.forEach((w, i) => {
        assert.match(w.from!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(w.to, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.ok(seconds(w) >= 900 && seconds(w) <= 86400, `${hours} h window ${i}: ${seconds(w)} s`);
        if (i > 0) assert.equal(w.from, d.exports[i - 1]!.to);
      });
    }
  });

  test('a reached time with a fraction of a second starts the window at the second before it', () => {
    const d = planWindows({ ...base, reached: '2026-11-30T11:00:00.750Z' });
    assert.deepEqual('exports' in d ? d.exports : [], [{ type: 'INCREMENTAL', from: '2026-11-30T11:00:00Z', to: T }]);
  });
});

describe('planTables for a dynamodb source', () => {
  test('a missing lake table: create, key from DescribeTable, declared attributes and columns in the entry', () => {
    const s = source({ 'dynamodb.Orders': { attributes: { total: 'decimal(12,2)', orderNo: 'bigint' }, columns: { email: { exclude: true }, total: { rename: 'amount' } } } });
    const e = only(plan(s, [ddb('Orders')], [], cycle()));
    assert.equal(e.action, 'create');
    assert.deepEqual(e.primaryKey, ['customerId', 'orderNo']);
    assert.equal(e.keySource, 'source');
    assert.equal(e.lakeTable, 'orders');
    assert.deepEqual(e.columns, { email: { exclude: true }, total: { rename: 'amount' } });
    assert.deepEqual(extractOf(e), {
      kind: 'dynamodb',
      tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders',
      key: ORDERS_KEY,
      attributes: { total: 'decimal(12,2)', orderNo: 'bigint' },
      exports: [{ type: 'FULL', to: T }],
    });
  });

  test('the lake reached an hour ago: merge with one incremental window', () => {
    const e = only(plan(source(), [ddb('Orders')], ['orders'], cycle({ 'dynamodb.Orders': before(HOUR) })));
    assert.equal(e.action, 'merge');
    assert.deepEqual(extractOf(e).exports, [{ type: 'INCREMENTAL', from: '2026-11-30T11:00:00Z', to: T }]);
  });

  test('the lake reached a time just after the earliest restorable time read at plan time: replaced from a FULL export at once', () => {
    const edge = ddb('Orders', ORDERS_KEY, { enabled: true, earliestRestorable: before(HOUR + 5 * 60_000) });
    const e = only(plan(source(), [edge], ['orders'], cycle({ 'dynamodb.Orders': before(HOUR) })));
    assert.equal(e.action, 'replace');
    assert.deepEqual(extractOf(e).exports, [{ type: 'FULL', to: T }]);
    assert.match(e.reason ?? '', /within 1 hour of point-in-time recovery's earliest restorable time 2026-11-30T10:55:00Z/);
  });

  test('the recovery period and the backend\'s margin reach the window rule', () => {
    const recent = ddb('Orders', ORDERS_KEY, { enabled: true, earliestRestorable: before(HOUR + 5 * 60_000), recoveryPeriodDays: 35 });
    assert.equal(only(plan(source(), [recent], ['orders'], cycle({ 'dynamodb.Orders': before(HOUR) }))).action, 'merge');
    const edge = ddb('Orders', ORDERS_KEY, { enabled: true, earliestRestorable: before(HOUR + 5 * 60_000) });
    assert.equal(only(plan(source(), [edge], ['orders'], { ...cycle({ 'dynamodb.Orders': before(HOUR) }), restorableMarginSeconds: 0 })).action, 'merge');
  });

  test('a lake table without lineage is replaced from a FULL export; rebuild too', () => {
    const noLineage = only(plan(source(), [ddb('Orders')], ['orders'], cycle({})));
    assert.equal(noLineage.action, 'replace');
    assert.deepEqual(extractOf(noLineage).exports, [{ type: 'FULL', to: T }]);
    const rebuilt = only(plan(source(), [ddb('Orders')], ['orders'], cycle({ 'dynamodb.Orders': before(HOUR) }), true));
    assert.equal(rebuilt.action, 'replace');
    assert.equal(rebuilt.rebuild, true);
    assert.deepEqual(extractOf(rebuilt).exports, [{ type: 'FULL', to: T }]);
  });

  test('under the minimum: skipped with the reason, not failed', () => {
    const planned = plan(source(), [ddb('Orders')], ['orders'], cycle({ 'dynamodb.Orders': before(5 * 60_000) }));
    assert.deepEqual(planned.entries, []);
    assert.deepEqual(planned.notLoaded, [
      { table: 'dynamodb.Orders', lakeTable: 'orders', action: 'skip', extract: 'dynamodb', status: 'skipped', reason: "exported 5 min ago; DynamoDB's incremental exports cover at least 15 minutes: the next cycle takes it" },
    ]);
  });

  test('the backend limits and exportWindow shape the windows: maxHours 6 splits 20 hours into 4, maxWindows 3 replaces instead', () => {
    const four = only(plan(source({}, { exportWindow: { maxHours: 6 } }), [ddb('Orders')], ['orders'], cycle({ 'dynamodb.Orders': before(20 * HOUR) })));
    assert.deepEqual(extractOf(four).exports.map(seconds), [18000, 18000, 18000, 18000]);
    const replaced = only(plan(source({}, { exportWindow: { maxHours: 6, maxWindows: 3 } }), [ddb('Orders')], ['orders'], cycle({ 'dynamodb.Orders': before(20 * HOUR) })));
    assert.equal(replaced.action, 'replace');
    const local = only(plan(source(), [ddb('Orders')], ['orders'], cycle({ 'dynamodb.Orders': before(30_000) }, { minSeconds: 1, maxSeconds: 86400 })));
    assert.deepEqual(extractOf(local).exports, [{ type: 'INCREMENTAL', from: '2026-11-30T11:59:30Z', to: T }]);
  });

  test('point-in-time recovery off fails the table at plan time, not retryable, with the command that turns it on', () => {
    const planned = plan(source(), [ddb('Orders', ORDERS_KEY, { enabled: false }), ddb('Customers')], [], cycle());
    assert.deepEqual(planned.entries.map((e) => e.table), ['dynamodb.Customers']);
    const [failed] = planned.notLoaded;
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.extract, 'dynamodb');
    assert.deepEqual({ ...failed!.error, message: undefined }, { phase: 'plan', type: 'PointInTimeRecoveryOff', retryable: false, message: undefined });
    assert.match(
      failed!.error!.message,
      /^dynamodb.Orders: point-in-time recovery is off, and DynamoDB exports need it: turn it on with aws dynamodb update-continuous-backups --table-name Orders --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true --region eu-west-1 --endpoint-url http:\/\/127.0.0.1:5000 /,
    );
  });

  const keyTypeCases: [string, DynamoKeyAttribute, string, RegExp][] = [
    ['an S key declared bigint', { name: 'id', type: 'S' }, 'bigint', /attributes."id" is declared bigint, and id is a key attribute of DynamoDB type S \(string\), which bigint cannot hold: declare it string/],
    ['an N key declared boolean', { name: 'id', type: 'N' }, 'boolean', /attributes."id" is declared boolean, and id is a key attribute of DynamoDB type N \(number\), which boolean cannot hold: declare it decimal\(p,s\), bigint, int or string/],
    ['an N key declared double', { name: 'id', type: 'N' }, 'double', /declared double, .* type N/],
    ['a B key declared string', { name: 'id', type: 'B' }, 'string', /declared string, .* type B \(binary\), which string cannot hold: declare it binary/],
  ];
  for (const [name, key, declared, message] of keyTypeCases) {
    test(`${name} is a plan error naming both types`, () => {
      const planned = plan(source({ 'dynamodb.Things': { attributes: { [key.name]: declared } } }), [ddb('Things', [key])], [], cycle());
      assert.deepEqual(planned.entries, []);
      assert.equal(planned.notLoaded[0]?.error?.type, 'InvalidTableSettings');
      assert.match(planned.notLoaded[0]!.error!.message, message);
    });
  }

  test('key types a key can hold are accepted: N as bigint or decimal, S as string, B as binary', () => {
    const s = source({ 'dynamodb.Orders': { attributes: { orderNo: 'decimal(20,0)', customerId: 'string' } }, 'dynamodb.Blobs': { attributes: { id: 'binary' } } });
    const planned = plan(s, [ddb('Orders'), ddb('Blobs', [{ name: 'id', type: 'B' }])], [], cycle());
    assert.deepEqual(planned.notLoaded, []);
    assert.equal(planned.entries.length, 2);
  });

  test('hash, rename or type on an attribute that is neither key nor declared is a plan error; exclude may name any attribute', () => {
    for (const policy of [{ hash: true }, { rename: 'mail' }, { type: 'string' }]) {
      const s = source({ 'dynamodb.Orders': { columns: { email: policy, notes: { exclude: true } } } }, {}, { hashKey: { env: 'LAKESYNC_HASH_KEY' } });
      const planned = plan(s, [ddb('Orders')], [], cycle());
      assert.deepEqual(planned.entries, [], JSON.stringify(policy));
      assert.match(
        planned.notLoaded[0]!.error!.message,
        new RegExp(`tables."dynamodb.Orders".columns."email" sets ${Object.keys(policy)[0]}, and email is neither a key attribute \\(customerId, orderNo\\) nor declared in attributes: declare it`),
      );
    }
    const ok = plan(source({ 'dynamodb.Orders': { attributes: { email: 'string' }, columns: { email: { rename: 'mail' }, orderNo: { rename: 'order_no' }, notes: { exclude: true } } } }), [ddb('Orders')], [], cycle());
    assert.deepEqual(ok.notLoaded, []);
  });

  // Settings the load job refuses (dynamodb_args.py _check_policies): refused here, before any export runs.
  const policyCases: [string, Record<string, unknown>, RegExp][] = [
    ['an N key typed double', { columns: { orderNo: { type: 'double' } } }, /columns."orderNo".type is double, and orderNo is a key attribute of DynamoDB type N \(number\), which double cannot hold: use decimal\(p,s\), bigint, int or string, or remove type/],
    ['an S key typed bigint', { columns: { customerId: { type: 'bigint' } } }, /columns."customerId".type is bigint, and customerId is a key attribute of DynamoDB type S \(string\), which bigint cannot hold: use string/],
    ['a declared attribute typed date', { attributes: { total: 'string' }, columns: { total: { type: 'date' } } }, /columns."total".type date is not a lake type a DynamoDB value can be cast to: use one of string, decimal\(p,s\), bigint, int, double, boolean, or remove type/],
    ['a declared attribute typed timestamp with onInvalid clamp', { attributes: { at: 'string' }, columns: { at: { type: 'timestamp', onInvalid: 'clamp' } } }, /columns."at".onInvalid clamp applies to dates and timestamps, which DynamoDB values never are: use onInvalid fail or null; .*columns."at".type timestamp is not a lake type/],
    ['a declared attribute typed float', { attributes: { total: 'decimal(12,2)' }, columns: { total: { type: 'float' } } }, /columns."total".type float is not a lake type a DynamoDB value can be cast to/],
    ['a declared attribute with onInvalid clamp', { attributes: { total: 'decimal(12,2)' }, columns: { total: { onInvalid: 'clamp' } } }, /tables."dynamodb.Orders".columns."total".onInvalid clamp applies to dates and timestamps, which DynamoDB values never are: use onInvalid fail or null$/],
  ];
  for (const [name, settings, message] of policyCases) {
    test(`${name} is a plan error, before any export`, () => {
      const planned = plan(source({ 'dynamodb.Orders': settings }), [ddb('Orders')], [], cycle());
      assert.deepEqual(planned.entries, []);
      assert.equal(planned.notLoaded[0]?.error?.type, 'InvalidTableSettings');
      assert.match(planned.notLoaded[0]!.error!.message, message);
    });
  }

  test('column types a DynamoDB value can be cast to are accepted, on keys as their key type holds them', () => {
    const settings = {
      attributes: { total: 'decimal(12,2)', qty: 'string', flag: 'boolean' },
      columns: { orderNo: { type: 'bigint' }, customerId: { type: 'string' }, total: { type: 'double', onInvalid: 'null' }, qty: { type: 'int' }, flag: { onInvalid: 'fail' }, notes: { exclude: true } },
    };
    const planned = plan(source({ 'dynamodb.Orders': settings }), [ddb('Orders')], [], cycle());
    assert.deepEqual(planned.notLoaded, []);
    assert.equal(planned.entries.length, 1);
  });

  // The load job would refuse these names only after the exports ran (names.py lake_column_names).
  const nameCases: [string, DynamoKeyAttribute[], Record<string, unknown>, RegExp][] = [
    ['a declared attribute that differs from a key attribute only in case', ORDERS_KEY, { attributes: { CustomerId: 'string' } },
      /tables."dynamodb.Orders": attributes customerId and CustomerId would both become lake column "customerid": rename one of them \(columns: \{ <attribute>: \{ rename: <lake name> \} \}\)/],
    ['a declared attribute renamed to a key attribute\'s lake name', ORDERS_KEY, { attributes: { total: 'string' }, columns: { total: { rename: 'orderno' } } },
      /attributes orderNo and total would both become lake column "orderno"/],
    ['a key attribute named _attributes', [{ name: '_attributes', type: 'S' }], {},
      /tables."dynamodb.Orders": attribute _attributes would become lake column "_attributes", which holds the item's other attributes: rename it \(columns: \{ _attributes: \{ rename: <lake name> \} \}\)/],
    ['a declared attribute whose lake name has the reserved prefix', ORDERS_KEY, { attributes: { __LakeSync_x: 'string' } },
      /attribute __LakeSync_x would become lake column "__lakesync_x", and lake columns starting with __lakesync_ are lakesync's own: rename it/],
    ['a declared attribute whose lake name Iceberg reserves for its metadata (Amplify DataStore\'s _deleted)', ORDERS_KEY, { attributes: { _deleted: 'boolean' } },
      /tables."dynamodb.Orders": attribute _deleted would become lake column "_deleted", a name Iceberg reserves for its metadata columns \(_file, _pos, _deleted, _spec_id, _partition\), so the lake table could never be read: rename it \(columns: \{ _deleted: \{ rename: <lake name> \} \}\)/],
    ['a declared attribute named like a column of Spark\'s MERGE (every DynamoDB table is merged into by key)', ORDERS_KEY, { attributes: { __Row_Operation: 'string' } },
      /tables."dynamodb.Orders": attribute __Row_Operation would become lake column "__row_operation", a name Spark's MERGE uses for its own columns \(__row_id, __row_operation, __row_from_source, __row_from_target, __original_row_id_...\), so no incremental export could be merged into the lake table: rename it \(columns: \{ __Row_Operation: \{ rename: <lake name> \} \}\)/],
    ['a key attribute with the prefix of Spark\'s MERGE row ids', [{ name: '__original_row_id_pk', type: 'S' }], {},
      /attribute __original_row_id_pk would become lake column "__original_row_id_pk", a name Spark's MERGE uses/],
  ];
  for (const [name, key, settings, message] of nameCases) {
    test(`${name} is a plan error, before any export`, () => {
      const planned = plan(source({ 'dynamodb.Orders': settings }), [ddb('Orders', key)], [], cycle());
      assert.deepEqual(planned.entries, []);
      assert.equal(planned.notLoaded[0]?.error?.type, 'InvalidTableSettings');
      assert.match(planned.notLoaded[0]!.error!.message, message);
    });
  }

  // `lakesync plan` on its own: the tables come from ListTables, without their key; the declared attributes and renames are enough for these.
  const configOnlyCases: [string, Record<string, unknown>, RegExp][] = [
    ['two declared attributes with one lake name', { attributes: { Total: 'string', total: 'decimal(12,2)' } }, /tables."dynamodb.Orders": attributes Total and total would both become lake column "total": rename one of them/],
    ['a declared attribute renamed to another\'s lake name', { attributes: { total: 'string', amount: 'string' }, columns: { total: { rename: 'amount' } } }, /attributes total and amount would both become lake column "amount"/],
    ['a declared attribute with the reserved prefix', { attributes: { __LakeSync_x: 'string' } }, /attribute __LakeSync_x would become lake column "__lakesync_x", and lake columns starting with __lakesync_ are lakesync's own: rename it/],
    ['a declared attribute named as an Iceberg metadata column', { attributes: { _deleted: 'boolean' } }, /attribute _deleted would become lake column "_deleted", a name Iceberg reserves for its metadata columns/],
    ['a declared attribute named as a column of Spark\'s MERGE', { attributes: { __Row_Operation: 'string' } }, /attribute __Row_Operation would become lake column "__row_operation", a name Spark's MERGE uses for its own columns/],
  ];
  for (const [name, settings, message] of configOnlyCases) {
    test(`${name} is an error of lakesync plan too, without the table's key (no AWS call)`, () => {
      const bare: DiscoveredTable = { table: 'dynamodb.Orders', target: 'dynamodb.dynamodb.Orders', columns: [] };
      const planned = plan(source({ 'dynamodb.Orders': settings }), [bare], [], undefined);
      assert.deepEqual(planned.entries, []);
      assert.equal(planned.notLoaded[0]?.error?.type, 'InvalidTableSettings');
      assert.match(planned.notLoaded[0]!.error!.message, message);
    });
  }

  test('lakesync plan with the key described checks the key attributes as the cycle does; settings the key makes valid stay valid without it', () => {
    const clash = plan(source({ 'dynamodb.Orders': { attributes: { CustomerId: 'string' } } }), [ddb('Orders')], [], undefined);
    assert.equal(clash.notLoaded[0]?.error?.type, 'InvalidTableSettings');
    assert.match(clash.notLoaded[0]!.error!.message, /attributes customerId and CustomerId would both become lake column "customerid"/);
    const bare: DiscoveredTable = { table: 'dynamodb.Orders', target: 'dynamodb.dynamodb.Orders', columns: [] };
    const settings = { attributes: { email: 'string', total: 'decimal(12,2)' }, columns: { email: { rename: 'mail' }, orderNo: { type: 'bigint' }, customerId: { rename: 'customer' }, notes: { exclude: true } } };
    for (const t of [bare, ddb('Orders')]) assert.deepEqual(plan(source({ 'dynamodb.Orders': settings }), [t], [], undefined).notLoaded, []);
  });

  test('a rename that sets the names apart is accepted; an excluded attribute takes no lake column', () => {
    const s = source({ 'dynamodb.Orders': { attributes: { CustomerId: 'string' }, columns: { CustomerId: { rename: 'customer_id_2' } } }, 'dynamodb.Odd': { columns: { _attributes: { rename: 'attrs' } } } });
    const planned = plan(s, [ddb('Orders'), ddb('Odd', [{ name: '_attributes', type: 'S' }])], [], cycle());
    assert.deepEqual(planned.notLoaded, []);
    assert.equal(planned.entries.length, 2);
  });

  test('a key attribute cannot be excluded or hashed', () => {
    const planned = plan(source({ 'dynamodb.Orders': { columns: { customerId: { exclude: true } } } }), [ddb('Orders')], [], cycle());
    assert.match(planned.notLoaded[0]!.error!.message, /columns."customerId" is a key attribute and cannot be excluded/);
  });

  test('a table DynamoDB lists with "." in its name fails the plan; an excluded one is skipped', () => {
    const planned = plan(source(), [ddb('shop.orders')], [], cycle());
    assert.equal(planned.notLoaded[0]?.error?.type, 'InvalidTableName');
    assert.match(planned.notLoaded[0]!.error!.message, /DynamoDB table "shop.orders" has a "." in its name/);
    const excluded = planTables(parsed({ database: 'd', source: { kind: 'dynamodb', region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000' }, exclude: ['dynamodb.shop.*'], target: { namespace: 'shop' } }), [], new Set(), { dynamodb: cycle() }, [ddb('shop.orders')]);
    assert.equal(excluded.notLoaded[0]?.status, 'skipped');
  });

  test('a table DynamoDB did not describe fails the plan with what to check', () => {
    const bare: DiscoveredTable = { table: 'dynamodb.Orders', target: 'dynamodb.dynamodb.Orders', columns: [] };
    const planned = plan(source(), [bare], [], cycle());
    assert.equal(planned.notLoaded[0]?.error?.type, 'TableNotDescribed');
  });

  test('a table the source refused to describe fails alone, with the refusal; the others are planned', () => {
    const refused: DiscoveredTable = {
      table: 'dynamodb.Orders',
      target: 'dynamodb.dynamodb.Orders',
      columns: [],
      notDescribed: { type: 'AccessDeniedException', message: 'DynamoDB DescribeContinuousBackups for table Orders failed with AccessDeniedException: not authorized' },
    };
    const planned = plan(source(), [refused, ddb('Customers')], [], cycle());
    assert.deepEqual(planned.entries.map((e) => e.table), ['dynamodb.Customers']);
    assert.equal(planned.notLoaded[0]?.error?.type, 'AccessDeniedException');
    assert.equal(planned.notLoaded[0]?.error?.message, 'dynamodb.Orders: DynamoDB did not describe Orders, so nothing is exported: DynamoDB DescribeContinuousBackups for table Orders failed with AccessDeniedException: not authorized');
    // `lakesync plan`, outside a cycle, shows the same failure.
    const shown = plan(source(), [refused, ddb('Customers')], [], undefined);
    assert.deepEqual([shown.entries.map((e) => e.table), shown.notLoaded[0]?.error?.type], [['dynamodb.Customers'], 'AccessDeniedException']);
  });

  test("a table whose lake table's last commit could not be read fails alone, unless it is rebuilt", () => {
    const unread = { ...cycle({ 'dynamodb.Customers': '2026-01-01T00:00:00Z' }), lineageUnread: { 'dynamodb.Orders': 'Athena StartQueryExecution for the last commit of shop.orders failed with AccessDeniedException' } };
    const planned = plan(source(), [ddb('Orders'), ddb('Customers')], ['orders', 'customers'], unread);
    assert.deepEqual(planned.entries.map((e) => e.table), ['dynamodb.Customers']);
    assert.equal(planned.notLoaded[0]?.error?.type, 'LineageUnreadable');
    assert.match(planned.notLoaded[0]!.error!.message, /the last commit of lake table shop\.orders could not be read, so the export time it reached is unknown and nothing is exported: Athena StartQueryExecution .* AccessDeniedException/);
    // A rebuild replaces the table from a FULL export: the commit it reached is not needed.
    assert.equal(only(plan(source(), [ddb('Orders')], ['orders'], unread, true)).action, 'replace');
  });

  test('without a cycle (lakesync plan) the action is described without windows', () => {
    const planned = plan(source(), [ddb('Orders'), ddb('Customers')], ['orders'], undefined);
    assert.deepEqual(planned.entries.map((e) => [e.table, e.action, e.extract]), [
      ['dynamodb.Orders', 'merge', undefined],
      ['dynamodb.Customers', 'create', undefined],
    ]);
  });
});

test('with the shortest maxHours the config takes, every gap of 15 minutes to 4 hours splits into incremental windows: never a FULL replace', () => {
  const limits = effectiveLimits(DYNAMODB_WINDOW_LIMITS, EXPORT_WINDOW_HOURS.min);
  for (let gap = 900; gap <= 4 * 3600; gap++) {
    const d = planWindows({ exportTime: T, lakeExists: true, reached: before(gap * 1000), rebuild: false, limits, maxWindows: 30 });
    assert.equal(d.action, 'merge', `${gap} s: ${d.reason}`);
  }
});

test('limits that no even split fits (max under twice min): replace from a FULL export', () => {
  const d = planWindows({ exportTime: T, lakeExists: true, reached: before(1500_000), rebuild: false, limits: { minSeconds: 900, maxSeconds: 1000 }, maxWindows: 7 });
  assert.equal(d.action, 'replace');
  assert.match(d.reason, /^1500 seconds since 2026-11-30T11:35:00Z cannot be split into windows of 15 minutes to 1000 seconds/);
});
