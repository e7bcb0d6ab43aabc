/**
 * DynamoDB tables end to end in the embedded mode: moto server is the DynamoDB, the embedded
 * exporter writes AWS's export layout from its scan (FULL) and stream (INCREMENTAL), the load
 * runner merges them into Iceberg, and after every cycle each lake table equals a scan of its
 * DynamoDB table item by item (typed columns and the other attributes' DynamoDB JSON).
 * Cycles: create; puts, updates, deletes and a new attribute, while one table's load fails on a
 * value its declared type cannot hold (it keeps its export time, the other advances); then that
 * table catches up alone, from its own export time.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { DeleteItemCommand, type DynamoDBClient, PutItemCommand, UpdateContinuousBackupsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { jsonOf, lakesync } from '../../src/demo/cli';
import { compareDynamoTable, type DynamoTableShape } from '../../src/demo/compare-dynamodb';
import { createDynamoTable, DEMO_DYNAMO_TABLE, DYNAMO_CHANGES, embeddedDynamoClient, scanAll, seedOrders } from '../../src/demo/dynamodb';
import { type DevServer, startDevServer } from '../../src/devserver';
import { tableExportIdFor } from '../../src/ids';
import type { RunRecord } from '../../src/local/load';
import { layoutOf } from '../../src/local/paths';
import type { CycleResult, TableOutcome, Watermark } from '../../src/model';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';
import { quietTemporalLogs } from '../helpers/env';
import { type InProcessWorker, runWorkerInProcess } from '../helpers/local-worker';
import { type MotoServer, startMoto } from '../helpers/moto';
import { localPace } from './helpers/pace';
import { writeConfig } from './helpers/config';

const REGION = 'us-east-1';
const ORDERS = `dynamodb.${DEMO_DYNAMO_TABLE}`;
const READINGS = 'dynamodb.Readings';

const SHAPES: Record<string, DynamoTableShape> = {
  [ORDERS]: {
    table: ORDERS,
    namespace: 'ddb',
    lakeTable: 'orders',
    key: [{ name: 'orderId', type: 'S' }],
    attributes: { total: 'decimal(12,2)', status: 'string', paid: 'boolean' },
    excluded: ['email'],
  },
  [READINGS]: {
    table: READINGS,
    namespace: 'ddb',
    lakeTable: 'readings',
    key: [
      { name: 'device', type: 'S' },
      { name: 'ts', type: 'N' },
    ],
    attributes: { celsius: 'decimal(5,2)' },
  },
};

let dir: string;
let moto: MotoServer;
let dynamo: DynamoDBClient;
let server: DevServer;
let worker: InProcessWorker | undefined;
let configFile: string;
let workDir: string;

before(async () => {
  quietTemporalLogs();
  dir = mkdtempSync(join(tmpdir(), 'lakesync-dynamodb-'));
  workDir = join(dir, 'data');
  moto = await startMoto();
  dynamo = embeddedDynamoClient(moto.endpoint, REGION);
  await createDynamoTable(dynamo, DEMO_DYNAMO_TABLE, [{ name: 'orderId', type: 'S', role: 'HASH' }]);
  await seedOrders(dynamo);
  await createDynamoTable(dynamo, 'Readings', [
    { name: 'device', type: 'S', role: 'HASH' },
    { name: 'ts', type: 'N', role: 'RANGE' },
  ]);
  for (let i = 1; i <= 30; i++) await putReading(`d${i % 3}`, 1_000 + i, (15 + i / 4).toFixed(2), { unit: { S: 'C' }, ...(i % 5 === 0 ? { flags: { NS: ['1', '2.5'] } } : {}) });
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  configFile = writeConfig(dir, server.address, 'dynamodb', {
    ddb: {
      database: 'dynamodb',
      source: { kind: 'dynamodb', region: REGION, endpoint: moto.endpoint, tables: [DEMO_DYNAMO_TABLE, 'Readings'] },
      target: { namespace: 'ddb' },
      tables: {
        [ORDERS]: { lakeName: 'orders', attributes: SHAPES[ORDERS]!.attributes, columns: { email: { exclude: true } } },
        [READINGS]: { lakeName: 'readings', attributes: SHAPES[READINGS]!.attributes },
      },
      concurrency: 2,
      ...localPace(2),
      local: { workDir },
      retention: { snapshots: 1, exports: 2 },
    },
  });
  delete process.env.TEMPORAL_ADDRESS;
  worker = await runWorkerInProcess(configFile, join(dir, 'data-root'));
});

after(async () => {
  await worker?.stop();
  await server?.stop();
  await moto?.stop();
  dynamo?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function putReading(device: string, ts: number, celsius: string | { S: string }, extra: Record<string, never> | Record<string, { S: string } | { NS: string[] }> = {}): Promise<void> {
  const value = typeof celsius === 'string' ? { N: celsius } : celsius;
  await dynamo.send(new PutItemCommand({ TableName: 'Readings', Item: { device: { S: device }, ts: { N: String(ts) }, celsius: value, ...extra } }));
}

/** The cycles run so far, oldest first. */
const cycles: string[] = [];

async function sync(): Promise<CycleResult> {
  // A cycle exports the tables as of its start, in whole seconds: the changes just made must be older.
  await delay(1_100);
  const result = jsonOf<CycleResult>(await lakesync(['sync', 'ddb', '--wait', '--json', '--config', configFile]), 'sync');
  cycles.push(result.cycleId);
  return result;
}

async function lakeQuery(sql: string): Promise<Record<string, unknown>[]> {
  const run = await lakesync(['query', 'ddb', '--json', '--max-rows', '100000', sql, '--config', configFile]);
  assert.equal(run.code, 0, run.stderr);
  return jsonOf<Record<string, unknown>[]>(run, 'query');
}

async function ledger(): Promise<Record<string, Watermark>> {
  const run = await lakesync(['status', 'ddb', '--json', '--config', configFile]);
  return jsonOf<{ status: { ledger: Record<string, Watermark> } }>(run, 'status').status.ledger;
}

function outcome(result: CycleResult, table: string): TableOutcome {
  const found = result.tables.find((t) => t.table === table);
  assert.ok(found, `${table} is in the cycle result: ${result.tables.map((t) => t.table).join(', ')}`);
  return found;
}

/** The lake equals a scan of the DynamoDB table, item by item. */
async function assertLakeEqualsTable(table: string): Promise<void> {
  const name = table.slice('dynamodb.'.length);
  const c = await compareDynamoTable(await scanAll(dynamo, name), SHAPES[table]!, lakeQuery);
  assert.ok(c.equal, `${table}: ${c.sourceRows} items, ${c.lakeRows} lake rows\n${c.differences.join('\n')}`);
  assert.ok(c.sourceRows > 0);
}

/** The exports each load of the table read (its job arguments), oldest load first. */
function loadedExports(table: string): { exportId: string; type: string; from?: string; to: string }[][] {
  const runs = layoutOf(workDir).runs;
  if (!existsSync(runs)) return [];
  return readdirSync(runs)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(runs, f), 'utf8')) as RunRecord)
    .filter((r) => r.args?.source_table === table.slice('dynamodb.'.length) && r.args.dynamodb_exports)
    .sort((a, b) => a.queuedAt.localeCompare(b.queuedAt))
    .map((r) => JSON.parse(r.args!.dynamodb_exports!) as { exportId: string; type: string; from?: string; to: string }[]);
}

describe('DynamoDB tables in the embedded mode, checked item by item', () => {
  let firstExportTime: string;

  test('cycle 1 creates both lake tables from full exports, without any RDS snapshot or export', async () => {
    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    assert.deepEqual([result.snapshot, result.export], [undefined, undefined]);
    for (const table of [ORDERS, READINGS]) {
      const t = outcome(result, table);
      assert.equal(t.status, 'committed', `${table}: ${JSON.stringify(t.error)}`);
      assert.equal(t.extract, 'dynamodb');
      assert.equal(t.load?.action, 'create');
      assert.equal(t.verified, true);
      await assertLakeEqualsTable(table);
    }
    assert.equal(outcome(result, ORDERS).load?.rowsRead, 40);
    const marks = await ledger();
    firstExportTime = marks[READINGS]!.snapshotTime;
    assert.match(firstExportTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(marks[READINGS]!.extract, 'dynamodb');
    assert.equal(marks[ORDERS]!.snapshotTime, firstExportTime, 'one export time per cycle');
    assert.equal(loadedExports(ORDERS)[0]![0]!.type, 'FULL');
  });

  test('cycle 2 merges puts, updates, deletes and a new attribute; a table whose load fails keeps its export time', async () => {
    await DYNAMO_CHANGES.apply(dynamo);
    await putReading('d1', 2_001, '18.25');
    await dynamo.send(new UpdateItemCommand({ TableName: 'Readings', Key: { device: { S: 'd1' }, ts: { N: '1001' } }, UpdateExpression: 'SET celsius = :c', ExpressionAttributeValues: { ':c': { N: '30.50' } } }));
    await dynamo.send(new DeleteItemCommand({ TableName: 'Readings', Key: { device: { S: 'd2' }, ts: { N: '1002' } } }));
    // A value decimal(5,2) cannot hold: the load must fail, never round it or drop it.
    await putReading('d0', 2_002, { S: 'hot' });

    const result = await sync();
    assert.equal(result.status, 'partial');
    const orders = outcome(result, ORDERS);
    assert.equal(orders.status, 'committed', JSON.stringify(orders.error));
    assert.equal(orders.load?.action, 'merge');
    assert.deepEqual([orders.load?.inserted, orders.load?.updated, orders.load?.deleted], [5, 4, 3]);
    await assertLakeEqualsTable(ORDERS);
    const readings = outcome(result, READINGS);
    assert.equal(readings.status, 'failed');
    assert.equal(readings.error?.phase, 'load');
    assert.match(readings.error?.message ?? '', /celsius/);

    const marks = await ledger();
    assert.equal(marks[READINGS]!.snapshotTime, firstExportTime, 'the failed table keeps its export time');
    assert.ok(marks[ORDERS]!.snapshotTime > firstExportTime, 'the committed table advances');
    const window = loadedExports(ORDERS).at(-1)!;
    assert.deepEqual(window.map((w) => [w.type, w.from]), [['INCREMENTAL', firstExportTime]]);
  });

  test('cycle 3: the failed table catches up alone from its own export time', async () => {
    const ordersTime = (await ledger())[ORDERS]!.snapshotTime;
    const readingsExport = (await ledger())[READINGS]!.exportId;
    await putReading('d0', 2_002, '22.75');
    await putReading('d2', 2_003, '19.00');

    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    const readings = outcome(result, READINGS);
    assert.equal(readings.load?.action, 'merge');
    // From cycle 1's export time (its own), not cycle 2's (the other table's).
    const windows = loadedExports(READINGS).at(-1)!;
    assert.equal(windows[0]!.type, 'INCREMENTAL');
    assert.equal(windows[0]!.from, firstExportTime);
    assert.notEqual(windows[0]!.from, ordersTime);
    // Every change since cycle 1: 2 puts of cycle 2 (one fixed now), an update, a delete, and cycle 3's new reading.
    assert.deepEqual([readings.load?.inserted, readings.load?.updated, readings.load?.deleted], [3, 1, 1]);
    for (const table of [ORDERS, READINGS]) await assertLakeEqualsTable(table);
    const marks = await ledger();
    assert.equal(marks[READINGS]!.snapshotTime, marks[ORDERS]!.snapshotTime, 'both reached this cycle');
    // retention.exports 2: Orders keeps cycles 2 and 3's exports; Readings also cycle 1's, which its watermark named as the cycle began.
    assert.equal(tableExportFolders().length, 5, tableExportFolders().join(', '));
    assert.ok(tableExportFolders().includes(readingsExport));
  });

  test('cycle 4: a table whose last window changed nothing goes on from that window, not from its last change', async () => {
    // Cycle 3 changed nothing in Orders: its merge wrote no rows, yet the table reached cycle 3's export time.
    const reached = (await ledger())[ORDERS]!.snapshotTime;
    await putReading('d1', 2_004, '17.50');

    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    const windows = loadedExports(ORDERS).at(-1)!;
    assert.deepEqual(windows.map((w) => [w.type, w.from]), [['INCREMENTAL', reached]]);
    for (const table of [ORDERS, READINGS]) await assertLakeEqualsTable(table);
    // Four cycles leave each table's two newest exports, and the two newest cycles' load results and run records.
    const layout = layoutOf(workDir);
    const newest = cycles.slice(-2);
    const kept = [ORDERS, READINGS].flatMap((t) => newest.map((c) => tableExportIdFor('ddb', c, t, 0))).sort();
    assert.deepEqual(tableExportFolders().sort(), kept);
    assert.deepEqual(readdirSync(layout.tableExportTasks).sort(), kept.map((id) => `${id}.json`));
    assert.deepEqual(readdirSync(layout.results).sort(), [...newest].sort());
    const runCycles = readdirSync(layout.runs)
      .filter((f) => f.endsWith('.json'))
      .map((f) => (JSON.parse(readFileSync(join(layout.runs, f), 'utf8')) as RunRecord).runToken);
    assert.ok(runCycles.length > 0 && runCycles.every((token) => newest.some((c) => token.startsWith(c))), runCycles.join(', '));
  });

  test('cycles 5 and 6: a FULL export that changes no row still moves the table on; the next cycle merges from its time', async () => {
    // Recovery turned off and on: its earliest restorable time is now after the export time Orders reached.
    for (const enabled of [false, true]) {
      await dynamo.send(new UpdateContinuousBackupsCommand({ TableName: DEMO_DYNAMO_TABLE, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: enabled } }));
    }
    const replaced = await sync();
    assert.equal(replaced.status, 'succeeded', JSON.stringify(replaced.tables.map((t) => t.error).filter(Boolean)));
    const full = loadedExports(ORDERS).at(-1)!;
    assert.deepEqual(full.map((w) => w.type), ['FULL']);
    await assertLakeEqualsTable(ORDERS);

    await putReading('d2', 2_005, '16.25');
    const result = await sync();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.tables.map((t) => t.error).filter(Boolean)));
    // Orders did not change: the FULL export of cycle 5 reached its time, so cycle 6 needs no FULL export again.
    const windows = loadedExports(ORDERS).at(-1)!;
    assert.deepEqual(windows.map((w) => [w.type, w.from]), [['INCREMENTAL', full[0]!.to]]);
    assert.equal(outcome(result, ORDERS).load?.action, 'merge');
    for (const table of [ORDERS, READINGS]) await assertLakeEqualsTable(table);
  });
});

function tableExportFolders(): string[] {
  return readdirSync(layoutOf(workDir).exports).filter((f) => f.startsWith('lse-'));
}
