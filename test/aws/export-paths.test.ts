/**
 * The export's S3 paths over HTTP against moto server: RDS writes backslash, backtick, double quote
 * and space of names as "_" in its paths ("Considerations for DB cluster snapshot exports",
 * limitations), and a table the export says holds data but whose folder holds no file is reported,
 * never loaded as empty.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import { exportPathName, readExportListing, tableFolder } from '../../src/export-listing';
import { tableDataDir } from '../../src/local/export/layout';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, parquetPart, REGION } from './fixtures';

let moto: MotoServer | undefined;
let clients: AwsClients | undefined;
let ports: Ports | undefined;

const EXPORT_ID = 'ls-shop-names';
const ROOT = `lakesync/exports/${EXPORT_ID}`;
const ODD = 'public.my "odd" `t`\\x y';
const mappings = [{ columnName: 'id', originalType: 'bigint', expectedExportedType: 'int64', originalCharMaxLength: 0, originalNumPrecision: 64, originalDateTimePrecision: 0 }];
const entry = (table: string, sizeGB: number) => ({ target: `shop.${table}`, status: 'COMPLETE', sizeGB, schemaMetadata: { originalTypeMappings: mappings } });

before(async () => {
  useTestCredentials();
  moto = await startMoto();
  const settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: '/unused' });
  clients = createClients(settings);
  ports = buildAwsPorts(settings, clients, { warn: () => undefined });
  await clients.s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  const files: [string, string | Uint8Array][] = [
    [`${ROOT}/export_info_${EXPORT_ID}.json`, JSON.stringify({ exportTaskIdentifier: EXPORT_ID, status: 'COMPLETE' })],
    [
      `${ROOT}/export_tables_info_${EXPORT_ID}_from_1_to_4.json`,
      JSON.stringify({ perTableStatus: [entry(ODD, 0.001), entry('public.gone', 0.25), entry('public.empty', 0), entry('public.orders', 0.001)] }),
    ],
    // Where RDS writes them: the odd name with its characters replaced.
    [`${ROOT}/shop/public.my__odd___t__x_y/1/part-00000-0a1b.gz.parquet`, parquetPart(42)],
    [`${ROOT}/shop/public.orders/1/part-00000-2c3d.gz.parquet`, parquetPart(7)],
  ];
  for (const [key, body] of files) await clients.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: key, Body: body }));
});

after(async () => {
  if (clients) destroyClients(clients);
  await moto?.stop();
});

const ref = () => ({ exportId: EXPORT_ID, location: `s3://${EXPORT_BUCKET}/${ROOT}`, snapshotId: 's', adopted: false });

test('the documented characters, and only they, become "_" in export paths', () => {
  assert.equal(exportPathName('a\\b`c"d e'), 'a_b_c_d_e');
  assert.equal(exportPathName("it's$a-b.c/d"), "it's$a-b.c/d");
  assert.equal(tableFolder('my db', 'public.my table'), 'my_db/public.my_table');
  // The embedded exporter writes the same layout.
  assert.equal(tableDataDir('/e', 'shop', ODD), join('/e', 'shop', 'public.my__odd___t__x_y'));
});

test('a table whose name RDS rewrites in paths is found and its rows counted', async () => {
  const found = await ports!.discover.discover(ref());
  assert.ok(found.tables.some((t) => t.table === ODD), JSON.stringify(found));
  assert.equal(await ports!.discover.exportRowCount(ref(), ODD), 42);
  assert.equal(await ports!.discover.exportRowCount(ref(), 'public.orders'), 7);
});

test('a table the export says holds data but whose folder holds no file fails with the reason; an empty one loads', async () => {
  const found = await ports!.discover.discover(ref());
  assert.deepEqual(found.tables.map((t) => t.table).sort(), [ODD, 'public.empty', 'public.orders'].sort());
  const gone = found.skipped.find((s) => s.table === 'public.gone');
  assert.ok(gone, JSON.stringify(found.skipped));
  assert.match(gone.reason, /^export ls-shop-names lists 0\.25 GB for public\.gone but no Parquet file is under shop\/public\.gone\/: .*not loaded .*run a new sync/);
});

test('row counts in tableStatistics count as data too; without a listing nothing is judged', () => {
  const tablesInfo = [{ name: `export_tables_info_${EXPORT_ID}_from_1_to_1.json`, document: { perTableStatus: [{ ...entry('public.t', 0), tableStatistics: { numberOfRows: 5 } }] } }];
  const listed = readExportListing({ exportId: EXPORT_ID, database: 'shop', info: {}, tablesInfo, dataFolders: new Set() });
  assert.match(listed.skipped[0]?.reason ?? '', /lists 5 rows \(tableStatistics.numberOfRows\) for public.t/);
  const unlisted = readExportListing({ exportId: EXPORT_ID, database: 'shop', info: {}, tablesInfo });
  assert.deepEqual(unlisted.tables.map((t) => t.table), ['public.t']);
});

test('the export rows verification expects are those of the files the load job reads: the table folder and its batch folders, nothing deeper', async () => {
  // glue/lakesync_glue/export.py reads `<folder>/<file>` (older exports) and `<folder>/<digits>/<file>`
  // only; a file in another folder or deeper below the table's folder is no part of its export.
  const id = 'ls-shop-depth';
  const root = `lakesync/exports/${id}`;
  const folder = `${root}/shop/public.orders`;
  const files: [string, string | Uint8Array][] = [
    [`${root}/export_info_${id}.json`, JSON.stringify({ exportTaskIdentifier: id, status: 'COMPLETE' })],
    [`${root}/export_tables_info_${id}_from_1_to_1.json`, JSON.stringify({ perTableStatus: [entry('public.orders', 0.001)] })],
    // Read by the load: a batch folder and the table folder itself.
    [`${folder}/1/part-00000-0a1b.gz.parquet`, parquetPart(7)],
    [`${folder}/part-00000-2c3d.gz.parquet`, parquetPart(3)],
    // Read by neither: markers and hidden files.
    [`${folder}/1/_SUCCESS`, ''],
    [`${folder}/1/.part-00000-0a1b.gz.parquet.crc`, 'crc'],
    // Not read by the load: a folder that is no batch folder, below a batch folder, a Hadoop temporary folder.
    [`${folder}/archive/part-00000-4e5f.gz.parquet`, parquetPart(100)],
    [`${folder}/1/old/part-00000-6a7b.gz.parquet`, parquetPart(1000)],
    [`${folder}/_temporary/0/part-00000-8c9d.gz.parquet`, parquetPart(10000)],
  ];
  for (const [key, body] of files) await clients!.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: key, Body: body }));
  const depthRef = { exportId: id, location: `s3://${EXPORT_BUCKET}/${root}`, snapshotId: 's', adopted: false };
  assert.equal(await ports!.discover.exportRowCount(depthRef, 'public.orders'), 7 + 3, 'only the rows of the files the load reads');
  const found = await ports!.discover.discover(depthRef);
  assert.equal(found.parts?.['public.orders']?.files, 2, JSON.stringify(found.parts));
});
