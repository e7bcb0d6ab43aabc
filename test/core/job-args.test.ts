/**
 * Contract between the TypeScript side and the load job: the arguments src/job-args.ts builds are
 * exactly the ones glue/lakesync_glue/args.py declares, none is empty, and the job's own parser
 * reads them back to the plan's decisions (run with the project's Python, not a copy of the rules).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { declaredCastProblem } from '../../src/config/dynamodb';
import { LAKE_CATALOG, type LakeLocation, loadJobArguments } from '../../src/job-args';
import type { LoadedTableExport, LoadRequest, PlanEntry } from '../../src/model';
import { repoRoot, toolchain } from '../../src/toolchain';
import { planEntry } from '../helpers/plan';

interface Declarations {
  required: string[];
  optional: string[];
  modeRequired: Record<'glue' | 'local', string[]>;
}

interface Parsed {
  ok: boolean;
  error?: string;
  columns?: Record<string, Record<string, unknown>>;
  hashKey?: { env: string } | { secretArn: string } | null;
  rebuild?: boolean;
  args?: { action: string; primary_key: string[]; cursor_column: string | null; cursor_mode: string | null; cursor_lookback: string | null; max_delete_fraction: number; approve_deletes: boolean; allow_older_export: boolean; show_values: boolean; catalog: string; lake_table: string; source_schema: string; source_table: string; source: string; export_id: string; snapshot_time: string; cycle_id: string };
}

/** Asks the job's own module for its declarations and parses each argument set with it. */
function askJob(cases: { mode: 'glue' | 'local'; args: Record<string, string> }[]): { declarations: Declarations; parsed: Parsed[] } {
  const script = `
import json, sys
from lakesync_glue.args import COMMON_OPTIONAL, COMMON_REQUIRED, MODE_REQUIRED, parse_job_args
from lakesync_glue.errors import LoadError
out = {"declarations": {"required": list(COMMON_REQUIRED), "optional": list(COMMON_OPTIONAL), "modeRequired": {k: list(v) for k, v in MODE_REQUIRED.items()}}, "parsed": []}
for case in json.load(sys.stdin):
    try:
        a = parse_job_args(case["args"], case["mode"])
        out["parsed"].append({"ok": True, "args": {"action": a.action, "primary_key": list(a.primary_key), "cursor_column": a.cursor_column, "cursor_mode": a.cursor_mode,
            "cursor_lookback": a.cursor_lookback.text if a.cursor_lookback else None,
            "max_delete_fraction": a.max_delete_fraction, "approve_deletes": a.approve_deletes, "catalog": a.catalog, "lake_table": a.lake_table,
            "source_schema": a.source_schema, "source_table": a.source_table, "allow_older_export": a.allow_older_export, "show_values": a.show_values,
            "source": a.source, "export_id": a.export_id, "snapshot_time": a.snapshot_time, "cycle_id": a.cycle_id},
            "columns": {c: {k: v for k, v in (("exclude", p.exclude or None), ("hash", p.hash or None), ("rename", p.rename), ("type", p.type), ("onInvalid", p.on_invalid)) if v is not None} for c, p in getattr(a, "column_policies", {}).items()},
            "hashKey": ({"env": a.hash_key_env} if getattr(a, "hash_key_env", None) else {"secretArn": a.hash_key_secret} if getattr(a, "hash_key_secret", None) else None),
            "rebuild": bool(getattr(a, "rebuild", False))})
    except LoadError as e:
        out["parsed"].append({"ok": False, "error": e.message})
print(json.dumps(out))
`;
  const stdout = execFileSync(toolchain().python, ['-c', script], { cwd: join(repoRoot(), 'glue'), input: JSON.stringify(cases), encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(repoRoot(), 'glue') } });
  return JSON.parse(stdout) as { declarations: Declarations; parsed: Parsed[] };
}

const request = (plan: PlanEntry): LoadRequest => ({
  source: 'shop',
  cycleId: '3-abcd',
  runToken: `3-abcd:${plan.table}`,
  exportId: 'ls-shop-3-abcd',
  snapshotTime: '2025-01-01T00:00:00.000Z',
  exportLocation: 's3://exports/lakesync/ls-shop-3-abcd',
  database: 'shop',
  plan,
  namespace: 'shop',
  resultLocation: `s3://results/shop/3-abcd/${plan.table}.json`,
});

/** One plan per kind of decision: every action, keys or none, both cursor modes, a lookback or the job's default, approval. */
const PLANS: PlanEntry[] = [
  planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'create', primaryKey: ['id'] }),
  planEntry({ table: 'public.order_items', lakeTable: 'order_items', action: 'merge', primaryKey: ['order_id', 'line_no'], keySource: 'configured', maxDeleteFraction: 0.25 }),
  planEntry({ table: 'public.notes', lakeTable: 'notes', action: 'replace' }),
  planEntry({ table: 'public.events', lakeTable: 'events', action: 'incremental', primaryKey: ['id'], cursor: { column: 'created_at', mode: 'upsert', lookback: '15m' } }),
  planEntry({ table: 'public.log', lakeTable: 'log', action: 'incremental', cursor: { column: 'seq', mode: 'append', lookback: '1000' } }),
  planEntry({ table: 'public.audit', lakeTable: 'audit', action: 'incremental', cursor: { column: 'at', mode: 'append' } }),
  planEntry({ table: 'audit.Odd Name', lakeTable: 'odd_name', action: 'merge', primaryKey: ['Id'], approveDeletes: true, maxDeleteFraction: 0 }),
  planEntry({ table: 'public.prices', lakeTable: 'prices', action: 'replace', allowOlderExport: true }),
  planEntry({ table: 'public.cards', lakeTable: 'cards', action: 'merge', primaryKey: ['id'], showValues: true }),
  // Column policies with the hash key by reference (a variable, a secret), and a rebuild.
  planEntry({ table: 'public.people', lakeTable: 'people', action: 'merge', primaryKey: ['id'], columns: { Email: { hash: true }, notes: { exclude: true }, Nick: { rename: 'nick' }, born: { type: 'date', onInvalid: 'clamp' }, score: { type: 'decimal(10,2)', onInvalid: 'null' } }, hashKey: { env: 'LAKESYNC_HASH_KEY' } }),
  planEntry({ table: 'public.members', lakeTable: 'members', action: 'create', columns: { email: { hash: true } }, hashKey: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lakesync-hash' } }),
  planEntry({ table: 'public.tagged', lakeTable: 'tagged', action: 'replace', rebuild: true }),
];
const LAKES: Record<'glue' | 'local', LakeLocation> = {
  glue: { tableBucketArn: 'arn:aws:s3tables:eu-west-1:123456789012:bucket/analytics' },
  local: { warehouse: '/data/warehouse' },
};

describe('load job arguments', () => {
  const cases = (['glue', 'local'] as const).flatMap((mode) => PLANS.map((plan) => ({ mode, plan, args: loadJobArguments(request(plan), LAKES[mode]) })));
  const { declarations, parsed } = askJob(cases.map(({ mode, args }) => ({ mode, args })));

  test('every argument emitted is declared by the job, and every required one is emitted', () => {
    for (const { mode, plan, args } of cases) {
      const declared = new Set([...declarations.required, ...declarations.optional, ...declarations.modeRequired[mode]]);
      const undeclared = Object.keys(args).filter((name) => !declared.has(name));
      assert.deepEqual(undeclared, [], `${mode} ${plan.table}: emitted but not declared by args.py`);
      const missing = [...declarations.required, ...declarations.modeRequired[mode]].filter((name) => !(name in args));
      assert.deepEqual(missing, [], `${mode} ${plan.table}: required by args.py but not emitted`);
    }
  });

  test('no argument is ever empty: absent means unset', () => {
    for (const { mode, plan, args } of cases) {
      for (const [name, value] of Object.entries(args)) assert.notEqual(value.trim(), '', `${mode} ${plan.table}: --${name} is empty`);
    }
    const replace = cases.find((c) => c.plan.action === 'replace')!.args;
    for (const name of ['primary_key', 'cursor_column', 'cursor_mode', 'cursor_lookback', 'approve_deletes', 'allow_older_export', 'show_values']) assert.ok(!(name in replace), `${name} is left out when unset`);
  });

  test("the job's parser reads the plan's decisions back, on both backends", () => {
    cases.forEach(({ mode, plan }, i) => {
      const result = parsed[i]!;
      assert.ok(result.ok, `${mode} ${plan.table}: the job refused its arguments: ${result.error}`);
      const [schema, table] = [plan.table.slice(0, plan.table.indexOf('.')), plan.table.slice(plan.table.indexOf('.') + 1)];
      assert.deepEqual(result.args, {
        action: plan.action,
        primary_key: plan.primaryKey,
        cursor_column: plan.cursor?.column ?? null,
        cursor_mode: plan.cursor?.mode ?? null,
        cursor_lookback: plan.cursor?.lookback ?? null,
        max_delete_fraction: plan.maxDeleteFraction,
        approve_deletes: plan.approveDeletes,
        catalog: LAKE_CATALOG,
        lake_table: plan.lakeTable,
        source_schema: schema,
        source_table: table,
        allow_older_export: plan.allowOlderExport,
        show_values: plan.showValues ?? false,
        source: 'shop',
        export_id: 'ls-shop-3-abcd',
        snapshot_time: '2025-01-01T00:00:00.000Z',
        cycle_id: '3-abcd',
      });
      assert.deepEqual(result.columns, plan.columns ?? {}, `${mode} ${plan.table}: column policies read back`);
      assert.deepEqual(result.hashKey, plan.hashKey ?? null, `${mode} ${plan.table}: hash key source read back`);
      assert.equal(result.rebuild, plan.rebuild ?? false, `${mode} ${plan.table}: rebuild read back`);
    });
  });

  test("every plan shape passes Glue's own parser: no flag arrives without its value", () => {
    // The Glue run's argv as AWS builds it (`--name value`), read by glue_entry.py through the real
    // awsglue getResolvedOptions (PyPI awsglue-dev): an empty value would reach it as a bare flag.
    const shapes = [
      ...cases.filter((c) => c.mode === 'glue').map((c) => c.plan),
      planEntry({ table: 'public.blank', lakeTable: 'blank', action: 'incremental', primaryKey: [], cursor: { column: 'seq', mode: 'append', lookback: '' } }),
    ];
    const argvs = shapes.map((plan) => ['glue_entry.py', ...Object.entries(loadJobArguments(request(plan), LAKES.glue)).flatMap(([name, value]) => [`--${name}`, value])]);
    const script = `
import json, sys
from awsglue.utils import GlueArgumentError, getResolvedOptions
import glue_entry
from lakesync_glue.errors import LoadError
out = []
for argv in json.load(sys.stdin):
    try:
        args, _ = glue_entry.parse_glue_args(argv, getResolvedOptions, (GlueArgumentError,))
        out.append({"ok": True, "key": list(args.primary_key), "lookback": args.cursor_lookback.text if args.cursor_lookback else None})
    except (GlueArgumentError, LoadError) as e:
        out.append({"ok": False, "error": str(e)})
print(json.dumps(out))
`;
    const stdout = execFileSync(toolchain().python, ['-c', script], { cwd: join(repoRoot(), 'glue'), input: JSON.stringify(argvs), encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(repoRoot(), 'glue') } });
    const results = JSON.parse(stdout) as { ok: boolean; error?: string; key?: string[]; lookback?: string | null }[];
    shapes.forEach((plan, i) => {
      assert.ok(results[i]!.ok, `${plan.table}: Glue's parser refused ${argvs[i]!.join(' ')}: ${results[i]!.error}`);
      assert.deepEqual(results[i]!.key, plan.primaryKey, plan.table);
    });
    assert.ok(!argvs.at(-1)!.includes('--primary_key') && !argvs.at(-1)!.includes('--cursor_lookback'), 'an empty key or lookback is left out');
  });

  test('a load without its lineage has no job arguments: the job could neither record nor check it', () => {
    const plan = PLANS[0]!;
    for (const missing of [{ exportId: '' }, { snapshotTime: ' ' }]) {
      assert.throws(() => loadJobArguments({ ...request(plan), ...missing }, LAKES.local), /public\.orders names no export id or snapshot time/);
    }
  });

  test('a table planned as skip has no job arguments', () => {
    assert.throws(() => loadJobArguments(request(planEntry({ table: 'public.x', lakeTable: 'x', action: 'skip' })), LAKES.local), /public\.x is planned as skip/);
  });
});

describe('load job arguments carry the part files discovery saw', () => {
  // An S3 lifecycle rule (ExportRetentionDays) or a delete may remove a part file between discovery and the
  // job's read: the job must know what discovery saw to refuse the table rather than load it without those rows.
  const plan = PLANS[1]!;
  const told = { ...request(plan), exportParts: { files: 4, bytes: 12_345 } } as LoadRequest;

  test("an export load tells the job its table's part files and bytes as discovery found them, and the job's parser takes them", () => {
    const cases = (['glue', 'local'] as const).map((mode) => ({ mode, args: loadJobArguments(told, LAKES[mode]) }));
    for (const { mode, args } of cases) {
      assert.equal(args.export_part_files, '4', `${mode}: the job is told how many part files discovery saw`);
      assert.equal(args.export_part_bytes, '12345', `${mode}: the job is told their bytes`);
    }
    const { parsed } = askJob(cases);
    parsed.forEach((result, i) => assert.ok(result.ok, `${cases[i]!.mode}: the job refused the part figures: ${result.error}`));
  });

  test('a load whose export recorded no parts sends neither figure (older callers), and the job refuses one without the other', () => {
    const args = loadJobArguments(request(plan), LAKES.local);
    assert.ok(!('export_part_files' in args) && !('export_part_bytes' in args));
    const { export_part_bytes: _bytes, ...half } = loadJobArguments(told, LAKES.local);
    const [refused] = askJob([{ mode: 'local', args: half }]).parsed;
    assert.ok(!refused!.ok && /--export_part_files '4': is given without --export_part_bytes/.test(refused!.error ?? ''), refused!.error);
  });
});

describe('load job arguments of a direct load (extract: direct)', () => {
  const directPlan = (extra: Partial<PlanEntry> = {}) =>
    planEntry({ table: 'public.events', lakeTable: 'events', action: 'incremental', primaryKey: ['id'], cursor: { column: 'id', mode: 'upsert', lookback: '1000' }, extract: { kind: 'direct', partitions: 8, partitionColumn: 'tenant' }, ...extra });
  const directRequest = (plan: PlanEntry): LoadRequest => {
    const { exportId: _e, snapshotTime: _s, exportLocation: _l, ...rest } = request(plan);
    return rest;
  };
  const JDBC = { url: 'jdbc:postgresql://db.internal:5432/shop?sslmode=require', user: 'lakesync', passwordEnv: 'LAKESYNC_SOURCE_PASSWORD' } as const;

  test('a direct load sends the JDBC connection and partitions, and no export path, id or snapshot time', () => {
    const args = loadJobArguments(directRequest(directPlan()), LAKES.local, JDBC);
    assert.equal(args.extract, 'direct');
    assert.equal(args.jdbc_url, JDBC.url);
    assert.equal(args.jdbc_user, 'lakesync');
    assert.equal(args.jdbc_password_env, 'LAKESYNC_SOURCE_PASSWORD');
    assert.equal(args.partitions, '8');
    assert.equal(args.partition_column, 'tenant');
    assert.equal(args.cursor_column, 'id');
    for (const name of ['export_path', 'export_id', 'snapshot_time', 'jdbc_secret', 'jdbc_iam_auth']) assert.ok(!(name in args), `--${name} is not sent`);
    // Even when the request carries an export (a mixed cycle), a direct load does not send it.
    const withExport = loadJobArguments(request(directPlan()), LAKES.local, JDBC);
    for (const name of ['export_path', 'export_id', 'snapshot_time']) assert.ok(!(name in withExport), `--${name} is not sent with an export at hand`);
  });

  test('exactly one password source: a variable, a secret, or IAM authentication', () => {
    const secret = loadJobArguments(directRequest(directPlan()), LAKES.glue, { url: 'jdbc:postgresql://db:5432/shop', user: 'u', secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db' });
    assert.equal(secret.jdbc_secret, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db');
    assert.ok(!('jdbc_password_env' in secret) && !('jdbc_iam_auth' in secret));
    const iam = loadJobArguments(directRequest(directPlan()), LAKES.glue, { url: 'jdbc:postgresql://db:5432/shop', user: 'u', iamAuth: true });
    assert.equal(iam.jdbc_iam_auth, 'true');
    assert.ok(!('jdbc_password_env' in iam) && !('jdbc_secret' in iam));
  });

  test('a direct load without a JDBC connection, or with credentials in its URL, has no job arguments', () => {
    assert.throws(() => loadJobArguments(directRequest(directPlan()), LAKES.local), /public\.events is a direct load but the backend gave no JDBC connection/);
    for (const url of ['jdbc:postgresql://u:secret@db:5432/shop', 'jdbc:postgresql://db:5432/shop?password=secret', 'jdbc:postgresql://db:5432/shop?sslmode=require&user=admin', 'jdbc:postgresql://db:5432/shop?PASSWORD=x']) {
      assert.throws(() => loadJobArguments(directRequest(directPlan()), LAKES.local, { ...JDBC, url }), /carries credentials/, url);
    }
    assert.throws(() => loadJobArguments(directRequest(directPlan()), LAKES.local, { ...JDBC, url: 'postgres://db:5432/shop' }), /is not jdbc:postgresql/);
  });

  test('a direct load needs a cursor and is create or incremental', () => {
    assert.throws(() => loadJobArguments(directRequest(directPlan({ cursor: undefined })), LAKES.local, JDBC), /without a cursor column/);
    assert.throws(() => loadJobArguments(directRequest(directPlan({ action: 'merge' })), LAKES.local, JDBC), /planned as merge: a direct load is create or incremental/);
  });

  test('an export load without its lineage is still refused, with or without a JDBC connection', () => {
    const plan = directPlan({ extract: undefined });
    assert.throws(() => loadJobArguments(directRequest(plan), LAKES.local, JDBC), /names no export id or snapshot time/);
  });

  test("the job's own parser accepts every direct shape, on both backends", () => {
    const shapes = [directPlan(), directPlan({ action: 'create', extract: { kind: 'direct' } }), directPlan({ primaryKey: [], cursor: { column: 'seq', mode: 'append' } })];
    const direct = (['glue', 'local'] as const).flatMap((mode) => shapes.map((plan) => ({ mode, args: loadJobArguments(directRequest(plan), LAKES[mode], JDBC) })));
    const { declarations, parsed } = askJob(direct);
    direct.forEach(({ mode, args }, i) => {
      const declared = new Set([...declarations.required, ...declarations.optional, ...declarations.modeRequired[mode]]);
      assert.deepEqual(Object.keys(args).filter((name) => !declared.has(name)), [], `${mode}: emitted but not declared by args.py`);
      assert.ok(parsed[i]!.ok, `${mode} ${args.action}: the job refused its arguments: ${parsed[i]!.error}`);
      assert.equal(parsed[i]!.args?.cursor_column, args.cursor_column);
    });
  });

  test("with a secret the user may be left out (the secret's username is used); the CA bundle travels as --jdbc_ssl_root_cert", () => {
    const secret = { url: 'jdbc:postgresql://db:5432/shop?sslmode=verify-full', secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db', sslRootCert: 's3://certs/rds/global-bundle.pem' };
    const args = loadJobArguments(directRequest(directPlan()), LAKES.glue, secret);
    assert.ok(!('jdbc_user' in args), '--jdbc_user is sent empty');
    assert.equal(args.jdbc_ssl_root_cert, 's3://certs/rds/global-bundle.pem');
    const withUser = loadJobArguments(directRequest(directPlan()), LAKES.glue, { ...secret, user: 'reader' });
    const [parsed, parsedWithUser] = askJob([{ mode: 'glue', args }, { mode: 'glue', args: withUser }]).parsed;
    assert.ok(parsed!.ok, `the job refused a secret without --jdbc_user: ${parsed!.error}`);
    assert.ok(parsedWithUser!.ok, parsedWithUser!.error);
    // Without a secret there is no username to fall back on; a CA bundle that is not an S3 object is refused.
    assert.throws(() => loadJobArguments(directRequest(directPlan()), LAKES.local, { ...JDBC, user: '' }), /names no user/);
    assert.throws(() => loadJobArguments(directRequest(directPlan()), LAKES.glue, { ...secret, sslRootCert: '/etc/ssl/rds.pem' }), /not an s3:\/\/bucket\/key URI: set source\.catalog\.sslRootCert/);
  });
});

describe('load job arguments of a DynamoDB load (source kind dynamodb)', () => {
  const exports = [
    { exportId: 'lse-0000000000000001', window: { type: 'INCREMENTAL' as const, from: '2026-01-01T00:00:00Z', to: '2026-01-01T12:00:00Z' }, location: 's3://ddb-exports/lakesync/dynamodb/ddb/lse-0000000000000001/AWSDynamoDB/0-a', itemCount: 7 },
    { exportId: 'lse-0000000000000002', window: { type: 'INCREMENTAL' as const, from: '2026-01-01T12:00:00Z', to: '2026-01-02T00:00:00Z' }, location: 's3://ddb-exports/lakesync/dynamodb/ddb/lse-0000000000000002/AWSDynamoDB/0-b', itemCount: 3 },
  ];
  const dynamoPlan = (extra: Partial<PlanEntry> = {}) =>
    planEntry({
      table: 'dynamodb.Orders',
      lakeTable: 'orders',
      action: 'merge',
      primaryKey: ['pk', 'sk'],
      extract: { kind: 'dynamodb', tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders', key: [{ name: 'pk', type: 'S' }, { name: 'sk', type: 'N' }], attributes: { total: 'decimal(12,2)', paid: 'boolean' }, exports: exports.map((e) => e.window) },
      ...extra,
    });
  const dynamoRequest = (plan: PlanEntry, tableExports: LoadedTableExport[] = exports): LoadRequest => {
    const { exportLocation: _l, ...rest } = request(plan);
    return { ...rest, exportId: tableExports.at(-1)?.exportId ?? 'x', snapshotTime: tableExports.at(-1)?.window.to ?? 'x', tableExports };
  };

  test('sends its exports oldest first, its key and declared attributes; the lineage is the last export', () => {
    const args = loadJobArguments(dynamoRequest(dynamoPlan()), LAKES.glue);
    assert.equal(args.source_format, 'dynamodb');
    assert.deepEqual(JSON.parse(args.dynamodb_exports!), exports.map((e) => ({ exportId: e.exportId, type: 'INCREMENTAL', from: e.window.from, to: e.window.to, location: e.location, itemCount: e.itemCount })));
    assert.deepEqual(JSON.parse(args.dynamodb_key!), [{ name: 'pk', type: 'S' }, { name: 'sk', type: 'N' }]);
    assert.deepEqual(JSON.parse(args.dynamodb_attributes!), { total: 'decimal(12,2)', paid: 'boolean' });
    assert.equal(args.source_schema, 'dynamodb');
    assert.equal(args.source_table, 'Orders');
    assert.equal(args.export_id, 'lse-0000000000000002');
    assert.equal(args.snapshot_time, '2026-01-02T00:00:00Z');
    assert.equal(args.action, 'merge');
    assert.ok(!('primary_key' in args), 'the key travels in dynamodb_key only');
    assert.ok(!('export_path' in args), 'no RDS export path');
    assert.ok(!('extract' in args) && !('jdbc_url' in args), 'no direct arguments');
  });

  test('a FULL export has no from; declared attributes default to "{}"', () => {
    const full = [{ exportId: 'lse-00000000000000ff', window: { type: 'FULL' as const, to: '2026-01-02T00:00:00Z' }, location: '/data/ddb/lse-00000000000000ff', itemCount: 42 }];
    const plan = dynamoPlan({ action: 'create', extract: { kind: 'dynamodb', tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders', key: [{ name: 'pk', type: 'S' }], attributes: {}, exports: full.map((e) => e.window) } });
    const args = loadJobArguments(dynamoRequest(plan, full), LAKES.local);
    assert.deepEqual(JSON.parse(args.dynamodb_exports!), [{ exportId: 'lse-00000000000000ff', type: 'FULL', to: '2026-01-02T00:00:00Z', location: '/data/ddb/lse-00000000000000ff', itemCount: 42 }]);
    assert.equal(args.dynamodb_attributes, '{}');
    assert.equal(args.warehouse, '/data/warehouse');
  });

  test('a DynamoDB plan without its exports, or whose lineage is not its last export, has no job arguments', () => {
    const { tableExports: _t, ...withoutExports } = dynamoRequest(dynamoPlan());
    assert.throws(() => loadJobArguments(withoutExports, LAKES.glue), /dynamodb\.Orders is a DynamoDB load without exports/);
    assert.throws(() => loadJobArguments(dynamoRequest(dynamoPlan(), []), LAKES.glue), /without exports/);
    assert.throws(() => loadJobArguments({ ...dynamoRequest(dynamoPlan()), exportId: 'lse-0000000000000001' }, LAKES.glue), /is not its last DynamoDB export \(lse-0000000000000002/);
    assert.throws(() => loadJobArguments({ ...dynamoRequest(dynamoPlan()), snapshotTime: '2026-01-01T12:00:00Z' }, LAKES.glue), /is not its last DynamoDB export/);
  });

  test("the job's own parser accepts a DynamoDB load's arguments, on both backends", () => {
    const cases = (['glue', 'local'] as const).map((mode) => ({ mode, args: loadJobArguments(dynamoRequest(dynamoPlan()), LAKES[mode]) }));
    const { declarations, parsed } = askJob(cases);
    const declared = new Set([...declarations.required, ...declarations.optional, ...declarations.modeRequired.glue, ...declarations.modeRequired.local]);
    cases.forEach(({ mode, args }, i) => {
      assert.deepEqual(Object.keys(args).filter((name) => !declared.has(name)), [], `${mode}: emitted but not declared by args.py`);
      assert.ok(parsed[i]!.ok, `${mode}: the job refused a DynamoDB load's arguments: ${parsed[i]!.error}`);
      assert.equal(parsed[i]!.args?.export_id, 'lse-0000000000000002');
      assert.deepEqual(parsed[i]!.args?.primary_key, ['pk', 'sk']);
    });
  });

  test('a declared attribute with columns.type: the job accepts exactly the casts the config accepts', () => {
    const lakeTypes = ['string', 'decimal(10,2)', 'bigint', 'int', 'double', 'boolean', 'binary', 'json'];
    const policyTypes = ['string', 'decimal(12,4)', 'bigint', 'int', 'double', 'boolean'];
    const pairs = lakeTypes.flatMap((declared) => policyTypes.map((type) => ({ declared, type })));
    const cases = pairs.map(({ declared, type }) => {
      const extract = { kind: 'dynamodb' as const, tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders', key: [{ name: 'pk', type: 'S' as const }], attributes: { total: declared }, exports: exports.map((e) => e.window) };
      return { mode: 'local' as const, args: loadJobArguments(dynamoRequest(dynamoPlan({ primaryKey: ['pk'], extract, columns: { total: { type } } })), LAKES.local) };
    });
    const { parsed } = askJob(cases);
    pairs.forEach(({ declared, type }, i) => {
      const configAccepts = declaredCastProblem(declared, type) === undefined;
      assert.equal(parsed[i]!.ok, configAccepts, `${declared} -> ${type}: config ${configAccepts ? 'accepts' : 'refuses'}, job says ${parsed[i]!.error ?? 'ok'}`);
    });
    assert.ok(pairs.some((_, i) => !parsed[i]!.ok) && pairs.some((_, i) => parsed[i]!.ok));
  });

  test('a key attribute with a comma in its name reaches the job whole', () => {
    const key = [{ name: 'order,id', type: 'S' as const }, { name: 'line', type: 'N' as const }];
    const plan = dynamoPlan({ primaryKey: key.map((k) => k.name), extract: { kind: 'dynamodb', tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders', key, attributes: {}, exports: exports.map((e) => e.window) } });
    const args = loadJobArguments(dynamoRequest(plan), LAKES.local);
    const { parsed } = askJob([{ mode: 'local', args }]);
    assert.ok(parsed[0]!.ok, `the job refused the key: ${parsed[0]!.error}`);
    assert.deepEqual(parsed[0]!.args?.primary_key, ['order,id', 'line']);
  });
});
