/** Column-level control: the config's rules, the plan's checks against the catalog, and the job arguments. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseConfig, sourceConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { loadJobArguments } from '../../src/job-args';
import type { ColumnMapping, DiscoveredTable, LoadRequest, PlanEntry } from '../../src/model';
import { planTables } from '../../src/plan';

function config(tables: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'pglite' }, target: { namespace: 'shop' }, tables, ...extra } } });
}

function configErrors(tables: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  try {
    config(tables, extra);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

const col = (columnName: string, originalType = 'text'): ColumnMapping => ({ columnName, originalType, expectedExportedType: 'binary (UTF8)' });
const table = (name: string, columns: ColumnMapping[], primaryKey?: string[]): DiscoveredTable => ({ table: name, target: `shop.${name}`, columns, ...(primaryKey ? { primaryKey } : {}) });
const PEOPLE = table('public.people', [col('id', 'integer'), col('email'), col('born', 'date'), col('Nick'), col('score', 'numeric')], ['id']);

describe('column policies in lakesync.yaml', () => {
  test('a valid policy set is accepted and keeps only the options in force', () => {
    const source = sourceConfig(
      config({ 'public.people': { columns: { email: { hash: true }, born: { onInvalid: 'clamp' }, Nick: { rename: 'nick_name' }, score: { type: 'Decimal(12, 2)' }, notes: { exclude: true } } } }, { hashKey: { env: 'LAKESYNC_HASH_KEY' } }),
      'shop',
    );
    assert.equal(source.tables['public.people']!.columns!.score!.type, 'decimal(12,2)');
  });

  test('exclude together with any other option is an error naming both', () => {
    const message = configErrors({ 'public.people': { columns: { email: { exclude: true, rename: 'mail' } } } });
    assert.match(message, /columns\.email\.exclude/);
    assert.match(message, /an excluded column never reaches the lake, so rename cannot apply/);
  });

  test('rename must be a valid lake name, type a lake type, onInvalid one of three', () => {
    assert.match(configErrors({ 'public.people': { columns: { Nick: { rename: 'Nick Name' } } } }), /columns\.Nick\.rename.*not a valid lake column name/s);
    assert.match(configErrors({ 'public.people': { columns: { score: { type: 'varchar' } } } }), /columns\.score\.type.*not a lake type: use one of decimal\(p,s\)/s);
    assert.match(configErrors({ 'public.people': { columns: { score: { type: 'decimal(40,2)' } } } }), /1 <= p <= 38/);
    assert.match(configErrors({ 'public.people': { columns: { score: { onInvalid: 'ignore' } } } }), /must be fail, "null" or clamp/);
    // The job's CastError hint, pasted as it is, is a valid config; a bare YAML null is refused with the fix.
    const hint = 'tables: { public.people: { columns: { score: { onInvalid: "null" } } } }';
    assert.doesNotThrow(() => config((parseYaml(hint) as { tables: Record<string, unknown> }).tables));
    assert.match(configErrors((parseYaml(hint.replace('"null"', 'null')) as { tables: Record<string, unknown> }).tables), /\(got null\): must be fail, "null" or clamp \(in YAML quote null: onInvalid: "null"; a bare null is no value\)/);
    assert.match(configErrors({ 'public.people': { columns: { score: { type: 'int', onInvalid: 'clamp' } } } }), /clamp applies to date and timestamp columns only, not int/);
  });

  test('two columns renamed to one lake name are an error', () => {
    assert.match(configErrors({ 'public.people': { columns: { a: { rename: 'x' }, b: { rename: 'x' } } } }), /columns a, b are all renamed to "x"/);
  });

  test('a hashed column needs a hashKey of the backend\'s kind, and never the key itself', () => {
    assert.match(configErrors({ 'public.people': { columns: { email: { hash: true } } } }), /hashKey.*public\.people\.email are hashed, which needs a key: add hashKey: \{ env: LAKESYNC_HASH_KEY \}/s);
    assert.match(configErrors({}, { hashKey: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k' } }), /local backend reads the key from an environment variable/);
    assert.match(configErrors({}, { hashKey: { key: 'secret-value' } }), /must be \{ env: <VARIABLE> \} \(local backend\) or \{ secretArn/);
  });

  test('a configured key column cannot be excluded, hashed or nulled', () => {
    for (const policy of [{ exclude: true }, { hash: true }, { onInvalid: 'null' }]) {
      const message = configErrors({ 'public.people': { primaryKey: ['id'], columns: { id: policy } } }, { hashKey: { env: 'K' } });
      assert.match(message, /"id" is a key column \(primaryKey\) and cannot be (excluded|hashed|nulled)/);
    }
  });
});

describe('column policies at plan time', () => {
  const plan = (columns: Record<string, unknown>, discovered = PEOPLE, extra: Record<string, unknown> = {}) =>
    planTables(sourceConfig(config({ 'public.people': { columns } }, extra), 'shop'), [discovered], new Set());

  test('an unknown column fails the table, naming the table\'s columns', () => {
    const { entries, notLoaded } = plan({ emial: { exclude: true } });
    assert.deepEqual(entries, []);
    assert.equal(notLoaded[0]!.status, 'failed');
    assert.equal(notLoaded[0]!.error!.phase, 'plan');
    assert.match(notLoaded[0]!.error!.message, /names "emial", which public\.people does not have; its columns are: id, email, born, Nick, score/);
  });

  test("the catalog's key column cannot be excluded, hashed or nulled", () => {
    for (const policy of [{ exclude: true }, { hash: true }, { onInvalid: 'null' }]) {
      const { notLoaded } = plan({ id: policy }, PEOPLE, { hashKey: { env: 'K' } });
      assert.match(notLoaded[0]?.error?.message ?? '', /"id" is a key column \(the source's primary key\) and cannot be/);
    }
  });

  test('a key or cursor named by its lake name meets the key and cursor rules, as the load job resolves it', () => {
    const acct = table('public.acct', [col('ID', 'integer'), col('email'), col('Seq', 'bigint')]);
    const planAcct = (settings: Record<string, unknown>, discovered = acct) =>
      planTables(sourceConfig(config({ 'public.acct': { primaryKey: ['id'], cursor: { column: 'seq' }, ...settings } }, { hashKey: { env: 'K' } }), 'shop'), [discovered], new Set());
    const hashed = planAcct({ columns: { ID: { hash: true }, Seq: { hash: true } } });
    assert.deepEqual(hashed.entries, []);
    assert.deepEqual([hashed.notLoaded[0]?.status, hashed.notLoaded[0]?.error?.phase], ['failed', 'plan']);
    const message = hashed.notLoaded[0]?.error?.message ?? '';
    assert.match(message, /tables\."public\.acct"\.columns\."ID" is a key column \(tables\."public\.acct"\.primaryKey names it "id"\) and cannot be hashed: the load matches rows by it; remove the policy or choose another key/);
    assert.match(message, /tables\."public\.acct"\.columns\."Seq" is the cursor column \(tables\."public\.acct"\.cursor names it "seq"\) and cannot be hashed: .*remove the policy or choose another cursor column/);
    const excluded = planAcct({ columns: { ID: { exclude: true }, Seq: { exclude: true } } }).notLoaded[0]?.error?.message ?? '';
    assert.match(excluded, /columns\."ID" is a key column .* and cannot be excluded/);
    assert.match(excluded, /columns\."Seq" is the cursor column .* and cannot be excluded/);
    // The key names its exact column: the policy of its case twin is no key column's.
    const twins = table('public.acct', [col('id', 'integer'), col('ID', 'integer'), col('Seq', 'bigint')]);
    assert.equal(planAcct({ columns: { ID: { hash: true, rename: 'id_upper' } } }, twins).entries.length, 1);
  });

  test('clamp on a column that is not a date or timestamp fails the table', () => {
    const { notLoaded } = plan({ score: { onInvalid: 'clamp' } });
    assert.match(notLoaded[0]?.error?.message ?? '', /score"\.onInvalid clamp applies to date and timestamp columns only; score is numeric/);
    assert.equal(plan({ born: { onInvalid: 'clamp' } }).entries.length, 1);
  });

  test('a rename onto another column\'s name fails the table', () => {
    const { notLoaded } = plan({ Nick: { rename: 'email' } });
    assert.match(notLoaded[0]?.error?.message ?? '', /email and Nick would both become lake column "email": rename one of them/);
  });

  test('the plan entry carries the policies and the hash key reference', () => {
    const { entries } = plan({ email: { hash: true }, born: { onInvalid: 'null', exclude: false }, Nick: { rename: 'nick' } }, PEOPLE, { hashKey: { env: 'LAKESYNC_HASH_KEY' } });
    assert.deepEqual(entries[0]!.columns, { email: { hash: true }, born: { onInvalid: 'null' }, Nick: { rename: 'nick' } });
    assert.deepEqual(entries[0]!.hashKey, { env: 'LAKESYNC_HASH_KEY' });
    const plain = plan({ Nick: { rename: 'nick' } }, PEOPLE, { hashKey: { env: 'LAKESYNC_HASH_KEY' } }).entries[0]!;
    assert.equal(plain.hashKey, undefined, 'no hash key travels when no column is hashed');
  });

  test('a rebuild replaces an existing lake table from the export', () => {
    const source = sourceConfig(config({}), 'shop');
    const [entry] = planTables(source, [PEOPLE], new Set(['people']), { rebuild: true }).entries;
    assert.equal(entry!.action, 'replace');
    assert.equal(entry!.rebuild, true);
    assert.equal(planTables(source, [PEOPLE], new Set(['people'])).entries[0]!.rebuild, undefined);
  });
});

describe('column policy job arguments', () => {
  const request = (plan: Partial<PlanEntry>): LoadRequest => ({
    source: 'shop',
    cycleId: '1-a',
    runToken: '1-a:public.people',
    exportId: 'e',
    snapshotTime: '2025-01-01T00:00:00.000Z',
    exportLocation: '/x',
    database: 'shop',
    namespace: 'shop',
    resultLocation: '/r.json',
    plan: { table: 'public.people', lakeTable: 'people', action: 'create', reason: '', primaryKey: ['id'], keySource: 'source', maxDeleteFraction: 0.5, approveDeletes: false, allowOlderExport: false, ...plan },
  });

  test('policies travel as JSON by source column; the key only by reference', () => {
    const args = loadJobArguments(request({ columns: { email: { hash: true }, Nick: { rename: 'nick' } }, hashKey: { env: 'LAKESYNC_HASH_KEY' }, rebuild: true }), { warehouse: '/w' });
    assert.deepEqual(JSON.parse(args.column_policies!), { email: { hash: true }, Nick: { rename: 'nick' } });
    assert.equal(args.hash_key_env, 'LAKESYNC_HASH_KEY');
    assert.equal(args.rebuild, 'true');
    assert.ok(!('hash_key_secret' in args));
    const glue = loadJobArguments(request({ columns: { email: { hash: true } }, hashKey: { secretArn: 'lakesync/hash-key' } }), { tableBucketArn: 'arn:aws:s3tables:eu-west-1:123456789012:bucket/b' });
    assert.equal(glue.hash_key_secret, 'lakesync/hash-key');
  });

  test('without policies, none of the new arguments is passed', () => {
    const args = loadJobArguments(request({}), { warehouse: '/w' });
    for (const name of ['column_policies', 'hash_key_env', 'hash_key_secret', 'rebuild']) assert.ok(!(name in args), name);
  });
});

describe('rerun --rebuild in the source workflow\'s queue', () => {
  test('a rebuild is queued with its flag and never coalesced with a plain rerun', async () => {
    const { enqueueRerun, initialState, takeCoalesced } = await import('../../src/workflows/ledger');
    const state = initialState();
    enqueueRerun(state, { tables: ['public.people'], rebuild: true, requestId: 'a' });
    enqueueRerun(state, { tables: ['public.orders'], requestId: 'b' });
    enqueueRerun(state, { tables: ['public.lines'], rebuild: true, requestId: 'c' });
    assert.equal(state.queue[0]!.rebuild, true);
    assert.ok(!('rebuild' in state.queue[1]!), 'a plain rerun carries no rebuild field (payloads of earlier versions are unchanged)');
    const first = takeCoalesced(state.queue);
    assert.deepEqual([first.tables, first.rebuild, first.requestIds], [['public.people'], true, ['a']]);
    const second = takeCoalesced(state.queue);
    assert.deepEqual([second.tables, second.rebuild, second.requestIds], [['public.orders'], undefined, ['b']]);
  });
});
