/**
 * The embedded mode's DynamoDB exports against a real moto server over HTTP: FULL from a Scan,
 * INCREMENTAL from the table's stream over a window, in AWS's DYNAMODB_JSON layout; adoption of a
 * started export; a table without a NEW_AND_OLD_IMAGES stream; moto's ISO-8601 stream timestamps;
 * the catalog the plan reads.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { retentionActivities } from '../../src/activities/retention';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { sourceSchema } from '../../src/config/schema';
import { cycleKey, tableExportIdFor } from '../../src/ids';
import { createLocalPorts, sourceSpec } from '../../src/local';
import type { TableExportRef, TableExportStatus, TableExportWindow } from '../../src/model';
import { LocalDynamoCatalog } from '../../src/local/dynamodb/catalog';
import { createDynamoClients, type LocalDynamoClients } from '../../src/local/dynamodb/clients';
import { fixTimestamps, isoToEpochSeconds } from '../../src/emulator';
import { itemToDynamoJson } from '../../src/local/dynamodb/export-files';
import { createLocalTableExportPort, type LocalTableExportPort, tableExportLocation } from '../../src/local/dynamodb/exporter';
import { startEmbeddedDynamo } from '../../src/local/dynamodb/moto-server';
import { layoutOf, type WorkDirLayout } from '../../src/local/paths';
import { createRetentionPort } from '../../src/local/retention';
import { runAtOnce } from '../helpers/at-once';
import { pollFor } from '../helpers/within';
import { MOTO_ACCOUNT_ID, type MotoServer, startMoto } from '../helpers/moto';

const REGION = 'eu-west-1';
const arnOf = (name: string) => `arn:aws:dynamodb:${REGION}:${MOTO_ACCOUNT_ID}:table/${name}`;
const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** Waits until the clock passes the next whole second; returns that second (ms). */
async function nextSecond(): Promise<number> {
  const boundary = Math.floor(Date.now() / 1000) * 1000 + 1000;
  await delay(boundary - Date.now() + 20);
  return boundary;
}

type Line = Record<string, Record<string, unknown>>;

/** A listed data file: its dataFileS3Key is from the bucket, which `exports/` stands for (the location is `exports/<id>/AWSDynamoDB/<id>`). */
function dataFileOf(location: string, f: Record<string, unknown>): string {
  return join(location, '..', '..', '..', String(f.dataFileS3Key));
}

function readExport(location: string): { summary: Record<string, unknown>; files: Record<string, unknown>[]; lines: Line[] } {
  const summary = JSON.parse(readFileSync(join(location, 'manifest-summary.json'), 'utf8')) as Record<string, unknown>;
  const files = readFileSync(join(location, 'manifest-files.json'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const lines = files.flatMap((f) => {
    const data = gunzipSync(readFileSync(dataFileOf(location, f))).toString('utf8');
    return data.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  });
  return { summary, files, lines };
}

describe('embedded DynamoDB exports (moto server)', () => {
  let moto: MotoServer;
  let clients: LocalDynamoClients;
  let ddb: DynamoDBClient;
  let work: string;
  let port: LocalTableExportPort;

  const createTable = async (name: string, stream?: 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY') => {
    await ddb.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream } } : {}),
      }),
    );
    await ddb.send(new UpdateContinuousBackupsCommand({ TableName: name, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
  };
  const put = (table: string, item: Record<string, AttributeValue>) => ddb.send(new PutItemCommand({ TableName: table, Item: item }));

  const start = (table: string, exportId: string, window: TableExportWindow) => port.startTableExport({ source: 'shop-ddb', table: `dynamodb.${table}`, tableArn: arnOf(table), exportId, window });
  const finished = (ref: TableExportRef): Promise<TableExportStatus> =>
    pollFor(
      `export ${ref.exportId} to finish`,
      async () => {
        const status = await port.describeTableExport(ref);
        return status.state !== 'in_progress' ? status : undefined;
      },
      10_000,
      50,
    );

  before(async () => {
    moto = await startMoto();
    clients = createDynamoClients({ region: REGION, endpoint: moto.endpoint });
    ddb = clients.dynamodb;
    work = mkdtempSync(join(tmpdir(), 'lakesync-ddb-'));
    // Pages of 4 items or records: every export below reads several.
    port = createLocalTableExportPort(layoutOf(work), { clients, pageSize: 4 });
  });

  after(async () => {
    await port?.settle();
    clients?.destroy();
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('FULL equals a Scan item by item, in the documented layout', async () => {
    await createTable('Orders');
    const items: Record<string, AttributeValue>[] = [];
    for (let i = 0; i < 25; i += 1) {
      items.push({
        pk: { S: `customer-${i % 5}` },
        sk: { N: String(i) },
        total: { N: `${i}.25` },
        paid: { BOOL: i % 2 === 0 },
        tags: { SS: ['a', `t${i}`] },
        scores: { NS: ['1', String(i + 2)] },
        blob: { B: new Uint8Array([i, 255, 0]) },
        blobs: { BS: [new Uint8Array([1]), new Uint8Array([2, i])] },
        lines: { L: [{ S: 'x' }, { N: '1' }, { NULL: true }, { M: { deep: { B: new Uint8Array([9]) } } }] },
        address: { M: { city: { S: 'Lyon' }, zip: { N: '69001' } } },
        ...(i === 3 ? { note: { NULL: true } } : {}),
      });
    }
    for (const item of items) await put('Orders', item);

    const exportId = tableExportIdFor('shop-ddb', 'cycle-1', 'dynamodb.Orders', 0);
    const ref = await start('Orders', exportId, { type: 'FULL', to: wholeSecond(Date.now()) });
    assert.equal(ref.adopted, false);
    assert.equal(ref.exportArn, `${arnOf('Orders')}/export/${exportId}`);
    const status = await finished(ref);
    assert.equal(status.state, 'complete', status.failureCause);
    assert.equal(status.location, join(work, 'exports', exportId, 'AWSDynamoDB', exportId));
    assert.equal(status.itemCount, 25);

    const { summary, files, lines } = readExport(status.location!);
    const scan = (await ddb.send(new ScanCommand({ TableName: 'Orders', ConsistentRead: true }))).Items ?? [];
    const key = (item: Record<string, unknown>) => JSON.stringify([item.pk, item.sk]);
    const exported = new Map(lines.map((l) => [key(l.Item!), l.Item]));
    assert.equal(exported.size, scan.length);
    for (const item of scan) assert.deepEqual(exported.get(key(itemToDynamoJson(item))), itemToDynamoJson(item));
    assert.deepEqual(Object.keys(lines[0]!), ['Item']);
    // Binary values are base64 text, as in DynamoDB JSON.
    const third = exported.get(JSON.stringify([{ S: 'customer-3' }, { N: '3' }])) as Record<string, Record<string, unknown>>;
    assert.deepEqual(third.blob, { B: Buffer.from([3, 255, 0]).toString('base64') });
    assert.deepEqual(third.note, { NULL: true });

    assert.equal(summary.itemCount, 25);
    assert.equal(summary.outputFormat, 'DYNAMODB_JSON');
    assert.equal(summary.exportType, 'FULL_EXPORT');
    assert.equal(summary.exportArn, ref.exportArn);
    assert.equal(summary.tableArn, arnOf('Orders'));
    assert.equal(summary.manifestFilesS3Key, `${exportId}/AWSDynamoDB/${exportId}/manifest-files.json`);
    assert.equal(files.reduce((n, f) => n + Number(f.itemCount), 0), 25);
    for (const f of files) {
      assert.deepEqual(Object.keys(f).sort(), ['dataFileS3Key', 'etag', 'itemCount', 'md5Checksum']);
      const bytes: Buffer = readFileSync(dataFileOf(status.location!, f));
      assert.equal(dataFileOf(status.location!, f), join(status.location!, 'data', basename(String(f.dataFileS3Key))), 'a FULL export\'s data files are in its own data/');
      assert.equal(f.md5Checksum, createHash('md5').update(bytes).digest('base64'));
      assert.match(String(f.dataFileS3Key), new RegExp(`^${exportId}/AWSDynamoDB/${exportId}/data/[^/]+\\.json\\.gz$`));
    }
  });

  test('INCREMENTAL holds exactly the window\'s changes, the last one per key', async () => {
    await createTable('Carts', 'NEW_AND_OLD_IMAGES');
    await put('Carts', { pk: { S: 'a' }, sk: { N: '1' }, qty: { N: '1' } });
    await put('Carts', { pk: { S: 'b' }, sk: { N: '1' }, qty: { N: '5' } });
    await put('Carts', { pk: { S: 'c' }, sk: { N: '1' }, qty: { N: '7' } });
    await put('Carts', { pk: { S: 'x' }, sk: { N: '1' }, qty: { N: '9' } });

    const from = await nextSecond();
    // Inside [from, to): two updates of a (the second adds an attribute), delete b, insert d, insert and delete e.
    await ddb.send(new UpdateItemCommand({ TableName: 'Carts', Key: { pk: { S: 'a' }, sk: { N: '1' } }, UpdateExpression: 'SET qty = :q', ExpressionAttributeValues: { ':q': { N: '2' } } }));
    await ddb.send(new UpdateItemCommand({ TableName: 'Carts', Key: { pk: { S: 'a' }, sk: { N: '1' } }, UpdateExpression: 'SET qty = :q, note = :n', ExpressionAttributeValues: { ':q': { N: '3' }, ':n': { S: 'gift' } } }));
    await ddb.send(new DeleteItemCommand({ TableName: 'Carts', Key: { pk: { S: 'b' }, sk: { N: '1' } } }));
    await put('Carts', { pk: { S: 'd' }, sk: { N: '2' }, qty: { N: '4' } });
    await put('Carts', { pk: { S: 'e' }, sk: { N: '1' }, qty: { N: '1' } });
    await ddb.send(new DeleteItemCommand({ TableName: 'Carts', Key: { pk: { S: 'e' }, sk: { N: '1' } } }));
    const to = await nextSecond();
    // After the window: not in it.
    await ddb.send(new UpdateItemCommand({ TableName: 'Carts', Key: { pk: { S: 'c' }, sk: { N: '1' } }, UpdateExpression: 'SET qty = :q', ExpressionAttributeValues: { ':q': { N: '8' } } }));
    await put('Carts', { pk: { S: 'f' }, sk: { N: '1' }, qty: { N: '1' } });
    await ddb.send(new UpdateItemCommand({ TableName: 'Carts', Key: { pk: { S: 'a' }, sk: { N: '1' } }, UpdateExpression: 'SET qty = :q', ExpressionAttributeValues: { ':q': { N: '99' } } }));

    const window: TableExportWindow = { type: 'INCREMENTAL', from: wholeSecond(from), to: wholeSecond(to) };
    const ref = await start('Carts', tableExportIdFor('shop-ddb', 'cycle-2', 'dynamodb.Carts', 0), window);
    const status = await finished(ref);
    assert.equal(status.state, 'complete', status.failureCause);
    const { summary, files, lines } = readExport(status.location!);
    const byPk = new Map(lines.map((l) => [(l.Keys!.pk as { S: string }).S, l]));
    assert.deepEqual([...byPk.keys()].sort(), ['a', 'b', 'd', 'e'], 'c, f and x changed outside the window');
    assert.equal(lines.length, 4, 'one line per key');
    assert.equal(status.itemCount, 4);

    const a = byPk.get('a')!;
    assert.deepEqual(a.Keys, { pk: { S: 'a' }, sk: { N: '1' } });
    assert.deepEqual(a.OldImage, { pk: { S: 'a' }, sk: { N: '1' }, qty: { N: '1' } }, 'the image before the window');
    assert.deepEqual(a.NewImage, { pk: { S: 'a' }, sk: { N: '1' }, qty: { N: '3' }, note: { S: 'gift' } }, 'the last change in the window, with its new attribute');
    const micros = Number((a.Metadata!.WriteTimestampMicros as { N: string }).N);
    assert.ok(micros >= from * 1000 && micros < to * 1000, `WriteTimestampMicros ${micros} inside the window`);

    const b = byPk.get('b')!;
    assert.equal(b.NewImage, undefined, 'a delete has no NewImage');
    assert.deepEqual(b.OldImage, { pk: { S: 'b' }, sk: { N: '1' }, qty: { N: '5' } });
    const d = byPk.get('d')!;
    assert.equal(d.OldImage, undefined, 'an insert has no OldImage');
    assert.deepEqual(d.NewImage, { pk: { S: 'd' }, sk: { N: '2' }, qty: { N: '4' } });
    const e = byPk.get('e')!;
    assert.equal(e.NewImage, undefined, 'inserted then deleted: its last change is a delete');

    assert.equal(summary.exportType, 'INCREMENTAL_EXPORT');
    // As DynamoDB writes it: the data files in the prefix's shared AWSDynamoDB/data/, none beside the manifests.
    assert.ok(!existsSync(join(status.location!, 'data')));
    for (const f of files) assert.match(String(f.dataFileS3Key), new RegExp(`^${ref.exportId}/AWSDynamoDB/data/[a-z2-7]{26}\\.json\\.gz$`));
    assert.ok(files.every((f) => existsSync(join(work, 'exports', ref.exportId, 'AWSDynamoDB', 'data', basename(String(f.dataFileS3Key))))));
    assert.equal(summary.outputView, 'NEW_AND_OLD_IMAGES');
    assert.equal(summary.exportFromTime, window.from);
    assert.equal(summary.exportToTime, window.to);

    // The next window holds what came after `to`.
    const later = await nextSecond();
    const next = await finished(await start('Carts', tableExportIdFor('shop-ddb', 'cycle-3', 'dynamodb.Carts', 0), { type: 'INCREMENTAL', from: window.to, to: wholeSecond(later) }));
    const nextLines = readExport(next.location!).lines;
    assert.deepEqual(nextLines.map((l) => (l.Keys!.pk as { S: string }).S).sort(), ['a', 'c', 'f']);
    assert.deepEqual(nextLines.find((l) => (l.Keys!.pk as { S: string }).S === 'a')!.NewImage!.qty, { N: '99' });
  });

  test('starting a started export again adopts it and writes nothing twice', async () => {
    await createTable('Users');
    await put('Users', { pk: { S: 'u1' }, sk: { N: '1' } });
    const exportId = tableExportIdFor('shop-ddb', 'cycle-4', 'dynamodb.Users', 0);
    const window: TableExportWindow = { type: 'FULL', to: wholeSecond(Date.now()) };
    const [first, second] = await Promise.all([start('Users', exportId, window), start('Users', exportId, window)]);
    assert.deepEqual([first.adopted, second.adopted].sort(), [false, true]);
    const status = await finished(first);
    assert.equal(status.state, 'complete', status.failureCause);
    const dataDir = join(status.location!, 'data');
    const before = readdirSync(dataDir).map((f) => [f, statSync(join(dataDir, f)).mtimeMs]);

    await put('Users', { pk: { S: 'u2' }, sk: { N: '1' } });
    const third = await start('Users', exportId, window);
    assert.equal(third.adopted, true);
    const again = await finished(third);
    assert.equal(again.itemCount, 1, 'the adopted export keeps its items');
    assert.deepEqual(readdirSync(dataDir).map((f) => [f, statSync(join(dataDir, f)).mtimeMs]), before, 'no file rewritten');
    assert.deepEqual(readdirSync(join(work, 'exports')).filter((f) => f.includes('.partial')), [], 'no partial folder left');

    await assert.rejects(start('Users', exportId, { type: 'FULL', to: wholeSecond(Date.now() + 5000) }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ExportConflictException');
      assert.match(err.message, /dynamodb\.Users/);
      return true;
    });

    // Files without their task record (a copied work dir): the summary tells the export, which is adopted as it is.
    rmSync(join(layoutOf(work).tableExportTasks, `${exportId}.json`));
    const recovered = await start('Users', exportId, window);
    assert.equal(recovered.adopted, true);
    assert.deepEqual(await finished(recovered), again);
    assert.deepEqual(readdirSync(dataDir).map((f) => [f, statSync(join(dataDir, f)).mtimeMs]), before, 'no file rewritten');
    await assert.rejects(start('Users', exportId, { type: 'INCREMENTAL', from: wholeSecond(Date.now() - 60_000), to: window.to }), /ExportConflictException|was started for table dynamodb\.Users \(FULL/);
  });

  /** Leaves an export task in_progress under `owner`, with a half-written partial folder named by its pid, then starts the export again: it runs whole. */
  async function runOrphanAgain(table: string, cycle: string, owner: { ownerPid: number; ownerStarted?: string }): Promise<WorkDirLayout> {
    await createTable(table);
    await put(table, { pk: { S: 'o1' }, sk: { N: '1' } });
    const exportId = tableExportIdFor('shop-ddb', cycle, `dynamodb.${table}`, 0);
    const window: TableExportWindow = { type: 'FULL', to: wholeSecond(Date.now()) };
    const layout = layoutOf(work);
    mkdirSync(layout.tableExportTasks, { recursive: true });
    writeFileSync(
      join(layout.tableExportTasks, `${exportId}.json`),
      JSON.stringify({ exportId, exportArn: `${arnOf(table)}/export/${exportId}`, table: `dynamodb.${table}`, tableArn: arnOf(table), window, state: 'in_progress', ...owner, startedAt: new Date().toISOString() }),
    );
    mkdirSync(join(layout.exports, `${exportId}.partial-${owner.ownerPid}-0000`, 'AWSDynamoDB', exportId, 'data'), { recursive: true });
    const ref = await start(table, exportId, window);
    assert.equal(ref.adopted, true);
    const status = await finished(ref);
    assert.equal(status.state, 'complete', status.failureCause);
    assert.equal(status.itemCount, 1);
    assert.ok(existsSync(join(tableExportLocation(layout, exportId), 'manifest-summary.json')));
    return layout;
  }

  test('an export whose owner process died is run again by the next call, whole', async () => {
    const layout = await runOrphanAgain('Orphans', 'cycle-5', { ownerPid: 2 ** 22 + 1 });
    assert.deepEqual(readdirSync(layout.exports).filter((f) => f.includes('.partial')), [], 'the dead writer\'s partial folder is gone');
  });

  test('after a reboot, an export whose owner pid now names another process is run again, and its partial folder is removed', async () => {
    // The owner's pid is taken again (by this test's parent), by a process that started at another time.
    const layout = await runOrphanAgain('Rebooted', 'cycle-6', { ownerPid: process.ppid, ownerStarted: 'an-earlier-boot/12345' });
    assert.deepEqual(readdirSync(layout.exports).filter((f) => f.includes('.partial')), [], 'the dead writer\'s partial folder is gone, though its pid runs');
  });

  test('processes asking at once about an export whose process died run it once, and a new export id is run once', async () => {
    await createTable('Racers');
    for (let i = 0; i < 20; i += 1) await put('Racers', { pk: { S: `r${i}` }, sk: { N: '1' } });
    const script = `
      const { createLocalTableExportPort } = require(${JSON.stringify(join(__dirname, '../../src/local/dynamodb/exporter.js'))});
      const { createDynamoClients } = require(${JSON.stringify(join(__dirname, '../../src/local/dynamodb/clients.js'))});
      const { layoutOf } = require(${JSON.stringify(join(__dirname, '../../src/local/paths.js'))});
      const clients = createDynamoClients({ region: process.env.REGION, endpoint: process.env.ENDPOINT });
      let writes = 0;
      const port = createLocalTableExportPort(layoutOf(process.env.LAYOUT_DIR), { clients, pageSize: 2, log: (l) => { if (l.endsWith(': writing')) writes += 1; } });
      const request = JSON.parse(process.env.REQUEST);
      // Every process asks at the same instant.
      while (Date.now() < Number(process.env.AT));
      (process.env.ASK === 'start' ? port.startTableExport(request) : port.describeTableExport(request))
        .then(() => port.settle())
        .then(() => { clients.destroy(); console.log(JSON.stringify({ writes })); });`;
    const ask = async (layoutDir: string, request: object, how: 'start' | 'describe'): Promise<number> => {
      const outs = await runAtOnce<{ writes: number }>(script, { REGION, ENDPOINT: moto.endpoint, LAYOUT_DIR: layoutDir, REQUEST: JSON.stringify(request), ASK: how }, 'the processes asking about the export');
      return outs.reduce((n, o) => n + o.writes, 0);
    };
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const window: TableExportWindow = { type: 'FULL', to: wholeSecond(Date.now()) };
    for (let round = 0; round < 2; round += 1) {
      const layoutDir = join(work, `race-${round}`);
      const layout = layoutOf(layoutDir);
      const orphanId = tableExportIdFor('shop-ddb', `race-${round}`, 'dynamodb.Racers', 0);
      const request = { source: 'shop-ddb', table: 'dynamodb.Racers', tableArn: arnOf('Racers'), exportId: orphanId, window };
      mkdirSync(layout.tableExportTasks, { recursive: true });
      writeFileSync(
        join(layout.tableExportTasks, `${orphanId}.json`),
        JSON.stringify({ ...request, exportArn: `${arnOf('Racers')}/export/${orphanId}`, state: 'in_progress', ownerPid: gone.pid, startedAt: new Date().toISOString() }),
      );
      assert.equal(await ask(layoutDir, request, 'describe'), 1, `round ${round}: the orphaned export was run again by more than one process`);
      const fresh = { ...request, exportId: tableExportIdFor('shop-ddb', `fresh-${round}`, 'dynamodb.Racers', 0) };
      assert.equal(await ask(layoutDir, fresh, 'start'), 1, `round ${round}: a new export was run by more than one process`);
      for (const exportId of [orphanId, fresh.exportId]) {
        const { summary, lines } = readExport(tableExportLocation(layout, exportId));
        assert.equal(lines.length, 20, `${exportId}: the export holds ${lines.length} items of 20`);
        assert.equal(summary.itemCount, 20);
      }
      assert.deepEqual(readdirSync(layout.exports).filter((f) => f.includes('.partial')), [], 'no partial folder left');
    }
  });

  test('a table without a NEW_AND_OLD_IMAGES stream fails its INCREMENTAL export with the fix', async () => {
    await createTable('NoStream');
    await createTable('KeysOnly', 'KEYS_ONLY');
    const window: TableExportWindow = { type: 'INCREMENTAL', from: wholeSecond(Date.now() - 60_000), to: wholeSecond(Date.now()) };
    for (const [table, says] of [
      ['NoStream', /has no stream/],
      ['KeysOnly', /view type KEYS_ONLY/],
    ] as const) {
      const status = await finished(await start(table, tableExportIdFor('shop-ddb', 'cycle-6', `dynamodb.${table}`, 0), window));
      assert.equal(status.state, 'failed');
      assert.match(status.failureCause!, says);
      assert.match(status.failureCause!, new RegExp(`table ${table}`));
      assert.match(status.failureCause!, /StreamViewType=NEW_AND_OLD_IMAGES/);
      assert.equal(status.location, undefined);
    }
    assert.deepEqual(readdirSync(join(work, 'exports')).filter((f) => f.includes('.partial')), []);
  });

  test("an INCREMENTAL window that starts before the table's stream reaches back fails, naming the table and the window, instead of missing changes", async () => {
    // The window starts before the stream existed (a stream replaced, or records trimmed, since the plan): its changes from then are in no stream.
    const from = wholeSecond(Date.now() - 120_000);
    await createTable('Replaced', 'NEW_AND_OLD_IMAGES');
    await put('Replaced', { pk: { S: 'a' }, sk: { N: '1' } });
    const to = wholeSecond(await nextSecond());
    const status = await finished(await start('Replaced', tableExportIdFor('shop-ddb', 'cycle-7', 'dynamodb.Replaced', 0), { type: 'INCREMENTAL', from, to }));
    assert.equal(status.state, 'failed');
    assert.match(status.failureCause!, /table Replaced/);
    assert.match(status.failureCause!, new RegExp(`${from.replace(/[.]/g, '\\.')}`));
    assert.match(status.failureCause!, /reach back to \d{4}-\d\d-\d\dT[\d:.]+Z only/);
    assert.match(status.failureCause!, /the next cycle plans a FULL export/);
    assert.equal(status.location, undefined);
  });

  test('a bad window is refused before any side effect', async () => {
    const exportId = tableExportIdFor('shop-ddb', 'cycle-7', 'dynamodb.Orders', 0);
    const now = Date.now();
    const cases: [TableExportWindow, RegExp][] = [
      [{ type: 'INCREMENTAL', to: wholeSecond(now) }, /needs an ISO-8601 "from"/],
      [{ type: 'INCREMENTAL', from: wholeSecond(now - 2 * 86_400_000), to: wholeSecond(now) }, /1 s to 86400 s/],
      [{ type: 'INCREMENTAL', from: wholeSecond(now), to: wholeSecond(now) }, /lasts 0 s/],
      [{ type: 'FULL', to: 'yesterday' }, /not an ISO-8601 time/],
      [{ type: 'FULL', to: wholeSecond(now + 3_600_000) }, /is in the future/],
    ];
    for (const [window, says] of cases) {
      await assert.rejects(start('Orders', exportId, window), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ValidationException');
        assert.match(err.message, says);
        return true;
      });
    }
    assert.equal(existsSync(join(layoutOf(work).tableExportTasks, `${exportId}.json`)), false);
    assert.deepEqual(port.windowLimits, { minSeconds: 1, maxSeconds: 86400 });
  });

  test('moto answers stream timestamps as ISO-8601 text; the embedded client reads them as times', async () => {
    await createTable('Clock', 'NEW_AND_OLD_IMAGES');
    const before = Date.now();
    await put('Clock', { pk: { S: 'k' }, sk: { N: '1' } });
    const after = Date.now();
    const streamArn = `${arnOf('Clock')}/stream/`;

    // What moto sends, read without the SDK.
    const call = async (target: string, body: unknown) => {
      const res = await fetch(moto.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDBStreams_20120810.${target}`, authorization: `AWS4-HMAC-SHA256 Credential=x/20260101/${REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=x` },
        body: JSON.stringify(body),
      });
      return (await res.json()) as unknown;
    };
    const arn = (await ddb.send(new DescribeTableCommand({ TableName: 'Clock' }))).Table!.LatestStreamArn!;
    assert.ok(arn.startsWith(streamArn));
    const described = (await call('DescribeStream', { StreamArn: arn })) as { StreamDescription: { CreationRequestDateTime: unknown; Shards: { ShardId: string }[] } };
    assert.equal(typeof described.StreamDescription.CreationRequestDateTime, 'string');
    const shardId = described.StreamDescription.Shards[0]!.ShardId;
    const iterator = ((await call('GetShardIterator', { StreamArn: arn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })) as { ShardIterator: string }).ShardIterator;
    const raw = (await call('GetRecords', { ShardIterator: iterator })) as { Records: { dynamodb: { ApproximateCreationDateTime: unknown } }[] };
    const text = raw.Records[0]!.dynamodb.ApproximateCreationDateTime;
    assert.equal(typeof text, 'string', 'moto sends text where the API has epoch seconds');
    assert.match(String(text), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);

    // A plain SDK client cannot read it.
    const plain = new DynamoDBStreamsClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const plainIterator = (await plain.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      await assert.rejects(plain.send(new GetRecordsCommand({ ShardIterator: plainIterator })), /Expected real number/);
    } finally {
      plain.destroy();
    }

    // The embedded client reads both timestamps as the UTC times moto meant.
    const fixedIterator = (await clients.streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    const records = (await clients.streams.send(new GetRecordsCommand({ ShardIterator: fixedIterator }))).Records ?? [];
    const at = records[0]!.dynamodb!.ApproximateCreationDateTime!;
    assert.ok(at instanceof Date);
    assert.ok(at.getTime() >= Math.floor(before) - 1 && at.getTime() <= after + 1, `${at.toISOString()} between ${new Date(before).toISOString()} and ${new Date(after).toISOString()}`);
    assert.equal(at.getTime(), isoToEpochSeconds(String(text))! * 1000);
    const creation = (await clients.streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.CreationRequestDateTime!;
    assert.ok(creation instanceof Date && creation.getTime() <= at.getTime());
  });

  test('the timestamp rewrite: UTC without a zone, milliseconds rounded down, numbers untouched', () => {
    assert.equal(isoToEpochSeconds('2026-11-30T15:40:56.123456'), Date.UTC(2026, 10, 30, 15, 40, 56, 123) / 1000);
    assert.equal(isoToEpochSeconds('2026-11-30T15:40:56.999999'), Date.UTC(2026, 10, 30, 15, 40, 56, 999) / 1000);
    assert.equal(isoToEpochSeconds('2026-11-30T15:40:56'), Date.UTC(2026, 10, 30, 15, 40, 56) / 1000);
    assert.equal(isoToEpochSeconds('2026-11-30T15:40:56+01:00'), Date.UTC(2026, 10, 30, 14, 40, 56) / 1000);
    assert.equal(isoToEpochSeconds('soon'), undefined);
    const answer = JSON.stringify({ Records: [{ dynamodb: { ApproximateCreationDateTime: '2026-11-30T15:40:56.5', SequenceNumber: '12' } }, { dynamodb: { ApproximateCreationDateTime: 1796053256 } }], NextShardIterator: 'i' });
    const fixed = JSON.parse(fixTimestamps(answer));
    assert.equal(fixed.Records[0].dynamodb.ApproximateCreationDateTime, Date.UTC(2026, 10, 30, 15, 40, 56, 500) / 1000);
    assert.equal(fixed.Records[0].dynamodb.SequenceNumber, '12');
    assert.equal(fixed.Records[1].dynamodb.ApproximateCreationDateTime, 1796053256);
    assert.equal(fixed.NextShardIterator, 'i', 'other members pass untouched');
    assert.equal(isoToEpochSeconds('2026-11-30T15:40:56+0100'), Date.UTC(2026, 10, 30, 14, 40, 56) / 1000);
  });

  test('the catalog: names, keys, point-in-time recovery, ARNs in source.tables', async () => {
    const catalog = new LocalDynamoCatalog(clients.dynamodb, clients.streams, { endpoint: moto.endpoint, database: 'dynamodb' });
    const names = await catalog.listTables();
    assert.ok(names.includes('dynamodb.Orders') && names.includes('dynamodb.Carts'), names.join(', '));
    const [carts, missing] = [...(await catalog.sourceTables(['dynamodb.Carts', 'dynamodb.Nope']))];
    assert.equal(missing, undefined, 'a missing table is left out');
    assert.equal(carts!.target, 'dynamodb.dynamodb.Carts');
    assert.deepEqual(carts!.primaryKey, ['pk', 'sk']);
    assert.deepEqual(carts!.dynamodb!.key, [
      { name: 'pk', type: 'S' },
      { name: 'sk', type: 'N' },
    ]);
    assert.equal(carts!.dynamodb!.tableArn, arnOf('Carts'));
    assert.equal(carts!.dynamodb!.pitr.enabled, true);
    assert.ok(carts!.dynamodb!.pitr.earliestRestorable);

    const configured = new LocalDynamoCatalog(clients.dynamodb, clients.streams, { endpoint: moto.endpoint, database: 'dynamodb', tables: ['Orders', arnOf('Users'), 'a.b'], warn: () => undefined });
    assert.deepEqual(await configured.listTables(), ['dynamodb.Orders', 'dynamodb.Users']);
  });

  test("retention deletes the source's expired DynamoDB exports and their records cycle after cycle; the newest, the watermark's, another source's and a running one stay", async () => {
    await createTable('Events');
    await put('Events', { pk: { S: 'e1' }, sk: { N: '1' } });
    const workDir = join(work, 'retention');
    const config = parseConfig({
      sources: {
        'shop-ddb': { backend: 'local', database: 'dynamodb', source: { kind: 'dynamodb', region: REGION, endpoint: moto.endpoint, tables: ['Events'] }, local: { workDir }, target: { namespace: 'shop' }, retention: { exports: 2 } },
      },
    });
    const ports = await createLocalPorts(localSettings('shop-ddb', config.sources['shop-ddb']!, work));
    const layout = layoutOf(workDir);
    const cycle = (n: number) => cycleKey(n, '0190f5b2-7c1e-7d2a-9c4e-1234567890ab');
    const idOf = (source: string, n: number) => tableExportIdFor(source, cycle(n), 'dynamodb.Events', 0);
    const exportOnce = async (source: string, n: number) => {
      const ref = await ports.tableExport!.startTableExport({ source, table: 'dynamodb.Events', tableArn: arnOf('Events'), exportId: idOf(source, n), window: { type: 'FULL', to: wholeSecond(Date.now()) } });
      for (let status = await ports.tableExport!.describeTableExport(ref); status.state !== 'complete'; status = await ports.tableExport!.describeTableExport(ref)) {
        assert.notEqual(status.state, 'failed', status.failureCause);
        await delay(50);
      }
    };
    const retention = (n: number, keep: string[]) => retentionActivities({ config, portsFor: () => ports }).applyRetention({ source: 'shop-ddb', cycleId: cycle(n), keep: { snapshotIds: [], exportIds: keep } });
    const folders = () => readdirSync(layout.exports).filter((f) => f.startsWith('lse-')).sort();
    const records = () => readdirSync(layout.tableExportTasks).sort();
    try {
      // Another source sharing the work dir.
      await exportOnce('other-ddb', 1);
      // The table's watermark points to cycle 1's export: the workflow names it among those to keep.
      const watermark = idOf('shop-ddb', 1);
      for (let n = 1; n <= 6; n++) {
        await exportOnce('shop-ddb', n);
        const outcome = await retention(n, [watermark]);
        assert.deepEqual(outcome.failed, []);
      }
      const left = [idOf('other-ddb', 1), watermark, idOf('shop-ddb', 5), idOf('shop-ddb', 6)].sort();
      assert.deepEqual(folders(), left, 'six cycles leave the newest two exports, the watermark\'s and the other source\'s');
      assert.deepEqual(records(), left.map((id) => `${id}.json`).sort());

      // An old export still running in another live process (this test's parent stands for it) is put off.
      const running = tableExportIdFor('shop-ddb', cycle(0), 'dynamodb.Events', 0);
      writeFileSync(
        join(layout.tableExportTasks, `${running}.json`),
        JSON.stringify({ exportId: running, source: 'shop-ddb', exportArn: 'x', table: 'dynamodb.Events', tableArn: arnOf('Events'), window: { type: 'FULL', to: '2026-01-01T00:00:00Z' }, state: 'in_progress', ownerPid: process.ppid, startedAt: '2026-01-01T00:00:00.000Z' }),
      );
      await exportOnce('shop-ddb', 7);
      // A deletion cut short by a crash: cycle 5's files are gone, its record is not.
      rmSync(join(layout.exports, idOf('shop-ddb', 5)), { recursive: true });
      const outcome = await retention(7, [watermark]);
      assert.deepEqual(outcome.deleted.exports, [idOf('shop-ddb', 5)]);
      assert.ok(outcome.deferred.some((d) => d.includes(running) && /still running/.test(d)), JSON.stringify(outcome.deferred));
      assert.deepEqual(folders(), [idOf('other-ddb', 1), watermark, idOf('shop-ddb', 6), idOf('shop-ddb', 7)].sort());
      assert.ok(!records().includes(`${idOf('shop-ddb', 5)}.json`), 'the record of the export whose deletion was cut short goes');
      const again = await retention(7, [watermark]);
      assert.deepEqual([again.deleted.exports, again.failed], [[], []], 'running it again deletes nothing more');
      assert.equal((await ports.retention.deleteTableExport!(idOf('shop-ddb', 5))).deleted, true, 'deleting a deleted export is done');
    } finally {
      await ports.close?.();
    }
  });

  test("retention attributes the export records of earlier versions (no source) by their ids: only those its own cycles derive go, and the record then names the source", async () => {
    const workDir = join(work, 'legacy');
    const layout = layoutOf(workDir);
    mkdirSync(layout.tableExportTasks, { recursive: true });
    const cycle = (n: number, chain = '0190f5b2-7c1e-7d2a-9c4e-1234567890ab') => cycleKey(n, chain);
    const legacy = (exportId: string, table: string, startedAt: string) =>
      writeFileSync(
        join(layout.tableExportTasks, `${exportId}.json`),
        JSON.stringify({ exportId, exportArn: 'x', table, tableArn: arnOf(table.slice('dynamodb.'.length)), window: { type: 'FULL', to: startedAt.replace(/\.\d+Z$/, 'Z') }, state: 'complete', ownerPid: 1, startedAt }),
      );
    // The source's own: cycles 1 and 2 (the second window of cycle 2 too); the current cycle 4 has its manifests.
    const own = [tableExportIdFor('shop-ddb', cycle(1), 'dynamodb.Events', 0), tableExportIdFor('shop-ddb', cycle(2), 'dynamodb.Events', 1), tableExportIdFor('shop-ddb', cycle(2), 'dynamodb.Orders', 0)];
    legacy(own[0]!, 'dynamodb.Events', '2026-01-01T00:00:00.000Z');
    legacy(own[1]!, 'dynamodb.Events', '2026-01-02T00:00:00.000Z');
    legacy(own[2]!, 'dynamodb.Orders', '2026-01-02T00:00:00.000Z');
    // Not provably its own: another source's (same table, same cycle ids), and one of a chain whose cycles are all gone.
    const theirs = tableExportIdFor('other-ddb', cycle(1), 'dynamodb.Events', 0);
    legacy(theirs, 'dynamodb.Events', '2026-01-01T00:00:00.000Z');
    const gone = tableExportIdFor('shop-ddb', cycle(1, 'an-older-chain'), 'dynamodb.Events', 0);
    legacy(gone, 'dynamodb.Events', '2026-01-01T00:00:00.000Z');
    mkdirSync(join(layout.manifests, cycle(4)), { recursive: true });

    const retention = createRetentionPort(layout, 'shop-ddb');
    const listed = await retention.listTableExports!();
    assert.deepEqual(listed.map((e) => e.id).sort(), [...own].sort());
    assert.deepEqual(listed.find((e) => e.id === own[2])?.table, 'dynamodb.Orders');
    // Attributed once: the record now names the source, the others are untouched.
    const sourceOf = (id: string) => (JSON.parse(readFileSync(join(layout.tableExportTasks, `${id}.json`), 'utf8')) as { source?: string }).source;
    assert.deepEqual(own.map(sourceOf), ['shop-ddb', 'shop-ddb', 'shop-ddb']);
    assert.deepEqual([sourceOf(theirs), sourceOf(gone)], [undefined, undefined]);
    // The other source attributes its own the same way.
    assert.deepEqual((await createRetentionPort(layout, 'other-ddb').listTableExports!()).map((e) => e.id), [theirs]);
    assert.equal(sourceOf(theirs), 'other-ddb');
  });

  test('the ports of a dynamodb source with backend local: catalog, exports, and RDS ports that refuse', async () => {
    const source = sourceSchema.parse({
      backend: 'local',
      database: 'dynamodb',
      source: { kind: 'dynamodb', region: REGION, endpoint: moto.endpoint, tables: ['Orders', arnOf('Carts')] },
      local: { workDir: join(work, 'ports') },
      target: { namespace: 'shop' },
    });
    const settings = localSettings('shop-ddb', source, work);
    assert.deepEqual(settings.db, { kind: 'dynamodb', region: REGION, endpoint: moto.endpoint, tables: ['Orders', arnOf('Carts')] });
    assert.throws(() => sourceSpec(settings, layoutOf(settings.workDir)), /no SQL database/);
    const ports = await createLocalPorts(settings);
    try {
      assert.deepEqual(await ports.discover.listTables!(), ['dynamodb.Orders', 'dynamodb.Carts']);
      const [orders] = await ports.discover.sourceTables!(['dynamodb.Orders']);
      assert.equal(orders!.dynamodb!.tableArn, arnOf('Orders'));
      assert.deepEqual(ports.tableExport!.windowLimits, { minSeconds: 1, maxSeconds: 86400 });
      const ref = await ports.tableExport!.startTableExport({ source: 'shop-ddb', table: 'dynamodb.Orders', tableArn: arnOf('Orders'), exportId: 'lse-ports0000000001', window: { type: 'FULL', to: wholeSecond(Date.now()) } });
      let status = await ports.tableExport!.describeTableExport(ref);
      while (status.state === 'in_progress') {
        await delay(50);
        status = await ports.tableExport!.describeTableExport(ref);
      }
      assert.equal(status.state, 'complete', status.failureCause);
      assert.equal(status.location, join(work, 'ports', 'exports', 'lse-ports0000000001', 'AWSDynamoDB', 'lse-ports0000000001'));
      assert.equal(status.itemCount, 25);
      await assert.rejects(ports.snapshot.startSnapshot({ source: 'shop-ddb', snapshotId: 's', mode: 'create' }), /DynamoDB source: it has no RDS snapshot/);
      await assert.rejects(ports.export.describeExport('e'), /has no RDS snapshot export/);
    } finally {
      await ports.close?.();
    }
    const withoutEndpoint = sourceSchema.safeParse({ backend: 'local', database: 'dynamodb', source: { kind: 'dynamodb', region: REGION }, target: { namespace: 'shop' } });
    if (withoutEndpoint.success) assert.throws(() => localSettings('shop-ddb', withoutEndpoint.data, work), /set endpoint/);
  });
});

describe('the embedded DynamoDB process', () => {
  test('startEmbeddedDynamo serves DynamoDB on a loopback port until stopped', async () => {
    const dynamo = await startEmbeddedDynamo();
    const clients = createDynamoClients({ region: REGION, endpoint: dynamo.endpoint });
    try {
      assert.match(dynamo.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual((await clients.dynamodb.send(new ListTablesCommand({}))).TableNames, []);
    } finally {
      clients.destroy();
      await dynamo.stop();
    }
    await assert.rejects(fetch(`${dynamo.endpoint}/moto-api/data.json`), 'stopped: nothing listens any more');
  });

  test('a python without moto fails with the fix', async () => {
    await assert.rejects(startEmbeddedDynamo({ python: process.execPath, readyTimeoutMs: 5_000 }), /embedded DynamoDB \(moto server\) (exited|was not ready)/);
  });
});
