/**
 * Contract tests: every AWS adapter's happy path over HTTP against moto server.
 * moto's gaps (no GetJobRuns, UpdateJob or BatchStopJobRun; runs that cannot fail) are
 * covered by the aws-sdk-client-mock unit tests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateDBClusterCommand, CreateDBInstanceCommand, DescribeExportTasksCommand, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetJobCommand } from '@aws-sdk/client-glue';
import { CreateTableCommand } from '@aws-sdk/client-s3tables';
import { ListPermissionsCommand } from '@aws-sdk/client-lakeformation';
import parquet from '@dsnp/parquetjs';
import { unzipSync } from 'fflate';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import type { LoadRequest } from '../../src/model';
import { planEntry } from '../helpers/plan';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { toolchain } from '../../src/toolchain';
import { SEVERAL_ROWS } from '../../src/verify-rows';
import { ATHENA_OUTPUT, awsSource, EXPORT_BUCKET, exportFiles, glueScriptsFixture, loadResult, READER, REGION, SCRIPT_BUCKET, TABLE_BUCKET } from './fixtures';

let moto: MotoServer | undefined;
let clients: AwsClients | undefined;
let scriptsDir: string | undefined;
const warnings: string[] = [];

function setup(options: { clusterId?: string } = {}): { settings: AwsSettings; ports: Ports; clients: AwsClients } {
  const settings = awsSettings('shop', awsSource({ endpoint: moto!.endpoint, ...options }), { glueScriptsDir: scriptsDir! });
  clients ??= createClients(settings);
  return { settings, clients, ports: buildAwsPorts(settings, clients, { athenaPolling: { initialMs: 20, maxMs: 100, timeoutMs: 10_000 }, warn: (m) => warnings.push(m) }) };
}

before(async () => {
  useTestCredentials();
  scriptsDir = glueScriptsFixture();
  moto = await startMoto();
  const { clients: c } = setup();
  for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET, 'shop-athena']) {
    await c.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  }
  await c.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'password123' }));
});

after(async () => {
  if (clients) destroyClients(clients);
  await moto?.stop();
  if (scriptsDir) rmSync(scriptsDir, { recursive: true, force: true });
});

describe('RDS snapshots and exports on moto', () => {
  test('create snapshot, adopt it on retry, describe it available', async () => {
    const { ports } = setup();
    const first = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
    assert.equal(first.adopted, false);
    assert.match(first.createdAt, /^\d{4}-\d\d-\d\dT/);
    const again = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-1-abc', mode: 'create' });
    assert.equal(again.adopted, true);
    const status = await ports.snapshot.describeSnapshot('lakesync-shop-1-abc');
    assert.equal(status.state, 'available');
  });

  test('latest-automated picks the newest automated snapshot; existing adopts a named one', async () => {
    const { ports, clients: c } = setup();
    // moto takes an automated snapshot when an instance is stopped with a snapshot id.
    await c.rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'shop-db', DBSnapshotIdentifier: 'rds-shop-db-auto-1' }));
    const picked = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'latest-automated' });
    assert.deepEqual({ id: picked.snapshotId, adopted: picked.adopted }, { id: 'rds-shop-db-auto-1', adopted: true });
    const existing = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'unused', mode: 'existing', existingSnapshotId: 'lakesync-shop-1-abc' });
    assert.equal(existing.snapshotId, 'lakesync-shop-1-abc');
    await assert.rejects(ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'x', mode: 'existing', existingSnapshotId: 'missing-snap' }), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'not-found');
      assert.match(err.message, /missing-snap/);
      return true;
    });
  });

  test('Aurora cluster snapshot is created and adopted', async () => {
    const { clients: c } = setup();
    await c.rds.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'shop-cluster', Engine: 'aurora-postgresql', MasterUsername: 'admin', MasterUserPassword: 'password123' }));
    const { ports } = setup({ clusterId: 'shop-cluster' });
    const snap = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-2-abc', mode: 'create' });
    assert.equal(snap.adopted, false);
    assert.equal((await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-2-abc', mode: 'create' })).adopted, true);
    assert.equal((await ports.snapshot.describeSnapshot('lakesync-shop-2-abc')).state, 'available');
  });

  test('export starts, is adopted on retry, and reports complete (moto answers lowercase)', async () => {
    const { ports } = setup();
    const snapshot = { snapshotId: 'lakesync-shop-1-abc', createdAt: new Date().toISOString(), adopted: false };
    const ref = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot, tables: ['public.orders'] });
    assert.deepEqual(ref, { exportId: 'ls-shop-1-abc', location: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-1-abc`, snapshotId: snapshot.snapshotId, adopted: false });
    const again = await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot, tables: ['public.orders'] });
    assert.equal(again.adopted, true);
    assert.equal(again.location, ref.location);
    const status = await ports.export.describeExport('ls-shop-1-abc');
    assert.equal(status.state, 'complete');
    assert.equal(status.percentProgress, 100);
    // SnapshotTime: the export task keeps the snapshot's time after the snapshot is deleted.
    const { createdAt } = await ports.snapshot.describeSnapshot(snapshot.snapshotId);
    assert.ok(createdAt && status.snapshotTime === createdAt, `export's snapshot time ${status.snapshotTime}, snapshot's ${createdAt}`);
  });

  test("a whole-database export names the database in ExportOnly, so the instance's other databases stay in it; a name ExportOnly cannot take exports the whole snapshot", async () => {
    const exportOnlyOf = async (exportId: string) => (await clients!.rds.send(new DescribeExportTasksCommand({ ExportTaskIdentifier: exportId }))).ExportTasks?.[0]?.ExportOnly;
    const { ports } = setup();
    const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId: 'lakesync-shop-9-whole', mode: 'create' });
    await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-9-whole', snapshot });
    assert.deepEqual(await exportOnlyOf('ls-shop-9-whole'), ['shop']);

    const hyphenated = awsSettings('shop', { ...awsSource({ endpoint: moto!.endpoint }), database: 'my-shop' }, { glueScriptsDir: scriptsDir! });
    await buildAwsPorts(hyphenated, clients!).export.startExport({ source: 'shop', exportId: 'ls-shop-9-snapshot', snapshot });
    assert.deepEqual((await exportOnlyOf('ls-shop-9-snapshot')) ?? [], [], 'RDS takes no partial export of database my-shop');
  });

  test('an export is cancelled, again without error, and an unknown one is left alone', async () => {
    const { ports } = setup();
    const snapshot = { snapshotId: 'lakesync-shop-1-abc', createdAt: new Date().toISOString(), adopted: false };
    await ports.export.startExport({ source: 'shop', exportId: 'ls-shop-7-cancel', snapshot, tables: ['public.orders'] });
    await ports.export.cancelExport!('ls-shop-7-cancel');
    assert.equal((await ports.export.describeExport('ls-shop-7-cancel')).state, 'canceled');
    await ports.export.cancelExport!('ls-shop-7-cancel');
    await ports.export.cancelExport!('ls-shop-7-unknown');
    assert.equal((await ports.export.describeExport('ls-shop-1-abc')).state, 'complete', 'another export is untouched');
  });
});

describe('S3: discover and manifests on moto', () => {
  test('discover reads export_info and every export_tables_info file', async () => {
    const { ports, clients: c } = setup();
    for (const f of exportFiles('lakesync/exports', 'ls-shop-9')) await c.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: f.key, Body: f.body }));
    const ref = { exportId: 'ls-shop-9', location: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-9`, snapshotId: 's', adopted: false };
    const found = await ports.discover.discover(ref);
    assert.equal(found.database, 'shop');
    assert.deepEqual(found.tables.map((t) => [t.table, t.target, t.sizeGB, t.columns.length]), [
      ['public.orders', 'shop.public.orders', 0.002, 2],
      ['public.events', 'shop.public.events', 0.004, 2],
    ]);
    assert.deepEqual(found.tables[0]!.columns[1], { columnName: 'total', originalType: 'numeric', expectedExportedType: 'binary (UTF8)', originalCharMaxLength: 0, originalNumPrecision: 12, originalDateTimePrecision: 0 });
    assert.deepEqual(found.skipped, [{ table: 'public.audit_log', reason: 'export status FAILED: unsupported column type; run a new sync to export it again (a rerun reuses this export)' }]);
    assert.deepEqual(found.warnings, ['shop: database shop: 1 table skipped']);
    // The part files each table's folder holds, from the same listing: a rerun's discovery compares them.
    const partBytes = (table: string) => exportFiles('lakesync/exports', 'ls-shop-9').find((f) => f.key.includes(`/shop/${table}/`))!.body.length;
    assert.deepEqual(found.parts, { 'public.orders': { files: 1, bytes: partBytes('public.orders') }, 'public.events': { files: 1, bytes: partBytes('public.events') } });
    assert.equal(await ports.discover.exportAvailable(ref), true);
    assert.equal(await ports.discover.exportAvailable({ ...ref, exportId: 'ls-gone', location: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-gone` }), false);
  });

  test('the row count of an export table sums the Parquet footers of every part, read by ranged GETs', async () => {
    const { ports, clients: c } = setup();
    const root = 'lakesync/exports/ls-shop-rows';
    const put = (key: string, body: string | Uint8Array) => c.s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: `${root}/${key}`, Body: body }));
    for (const f of exportFiles('lakesync/exports', 'ls-shop-rows')) await put(f.key.slice(root.length + 1), f.body);
    // Real Parquet files: two from parquetjs (as the embedded exporter writes them) in batch 1, one
    // from pyarrow in batch 2 whose 1,500 row groups make a footer larger than the first ranged read.
    const dir = mkdtempSync(join(tmpdir(), 'lakesync-parts-'));
    try {
      const schema = new parquet.ParquetSchema({ id: { type: 'INT64' }, total: { type: 'UTF8', optional: true } });
      for (const [i, rows] of [250, 173].entries()) {
        const file = join(dir, `p${i}.parquet`);
        const writer = await parquet.ParquetWriter.openFile(schema, file, { rowGroupSize: 100 });
        for (let n = 0; n < rows; n++) await writer.appendRow({ id: n, total: `${n}.50` });
        await writer.close();
        await put(`shop/public.orders/1/part-0000${i * 2}-${i}a.gz.parquet`, readFileSync(file));
      }
      const arrow = join(dir, 'arrow.parquet');
      execFileSync(toolchain().python, ['-c', 'import sys, pyarrow as pa, pyarrow.parquet as pq; pq.write_table(pa.table({"id": list(range(1500))}), sys.argv[1], row_group_size=1)', arrow]);
      assert.ok(statSync(arrow).size > 64 * 1024, 'the pyarrow footer is larger than one tail read');
      await put('shop/public.orders/2/part-00007-7b.gz.parquet', readFileSync(arrow));
      // Not parts: a marker, and a table whose name starts like this one.
      await put('shop/public.orders/1/_SUCCESS', '');
      await put('shop/public.orders_archive/1/part-00000-9c.gz.parquet', readFileSync(join(dir, 'p0.parquet')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await put('shop/public.broken/1/part-00000-4e.gz.parquet', 'PAR1-not-parquet');

    const ref = { exportId: 'ls-shop-rows', location: `s3://${EXPORT_BUCKET}/${root}`, snapshotId: 's', adopted: false };
    const gets: (string | undefined)[] = [];
    c.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') gets.push((args.input as { Range?: string }).Range);
        return next(args);
      },
      { step: 'initialize', name: 'recordGets' },
    );
    try {
      // The fixture's own part (42 rows) plus the three above.
      assert.equal(await ports.discover.exportRowCount(ref, 'public.orders'), 42 + 250 + 173 + 1500);
    } finally {
      c.s3.middlewareStack.remove('recordGets');
    }
    assert.ok(gets.length >= 3 && gets.every((r) => r?.startsWith('bytes=')), `footers only, by ranged GETs: ${JSON.stringify(gets)}`);
    assert.equal(gets.length, 5, 'one read per small part; the large footer needs a second');
    assert.equal(await ports.discover.exportRowCount(ref, 'public.events'), 42);

    // A part that is not Parquet fails the count, naming the file and the fix.
    await assert.rejects(ports.discover.exportRowCount(ref, 'public.broken'), (err: Error & { code?: string; kind?: string }) => {
      assert.equal(err.code, 'UnreadableExportPart');
      assert.equal(err.kind, 'failed');
      assert.match(err.message, new RegExp(`export part file s3://${EXPORT_BUCKET}/${root}/shop/public\\.broken/1/part-00000-4e\\.gz\\.parquet is not a readable Parquet file .*run a new sync`));
      return true;
    });
    assert.equal(await ports.discover.exportRowCount(ref, 'public.customers'), 0, 'no part file: an empty table');
    await assert.rejects(ports.discover.exportRowCount({ ...ref, exportId: 'ls-gone', location: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-gone` }, 'public.orders'), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'not-found');
      assert.match(err.message, /export ls-gone has no export_info_ls-gone\.json/);
      return true;
    });
  });

  test('manifests round-trip as S3 JSON under the export prefix', async () => {
    const { ports } = setup();
    const ref = await ports.manifests.put('c1/plan.json', [{ table: 'public.orders' }]);
    assert.equal(ref, `s3://${EXPORT_BUCKET}/lakesync/exports/lakesync-manifests/shop/c1/plan.json`);
    assert.deepEqual(await ports.manifests.get(ref), [{ table: 'public.orders' }]);
    await assert.rejects(ports.manifests.get(`s3://${EXPORT_BUCKET}/nothing.json`), /ManifestNotFound|does not exist/);
  });

  test("a manifest is deleted by its reference, again without error; nothing outside the source's manifests is", async () => {
    const { ports, clients } = setup();
    const s3 = clients.s3;
    const ref = await ports.manifests.put('c2/outcomes/part-0001-of-1.json', '[]');
    await ports.manifests.delete(ref);
    await assert.rejects(ports.manifests.get(ref), /does not exist/);
    await ports.manifests.delete(ref);
    // An export's file, the manifests folder itself, another source's manifest and another bucket are refused, and stay.
    const exportFile = 'lakesync/exports/ls-keep/shop/public.orders/1/part-00000.parquet';
    await s3.send(new PutObjectCommand({ Bucket: EXPORT_BUCKET, Key: exportFile, Body: 'data' }));
    const other = await ports.manifests.put('c2/plan.json', []);
    for (const outside of [
      `s3://${EXPORT_BUCKET}/${exportFile}`,
      `s3://${EXPORT_BUCKET}/lakesync/exports/lakesync-manifests/shop/`,
      `s3://${EXPORT_BUCKET}/lakesync/exports/lakesync-manifests/shopfloor/c2/plan.json`,
      other.replace(`s3://${EXPORT_BUCKET}/`, 's3://another-bucket/'),
    ]) {
      await assert.rejects(ports.manifests.delete(outside), /is not under s3:\/\/.*lakesync-manifests\/shop\/: it is not deleted/, outside);
    }
    await s3.send(new HeadObjectCommand({ Bucket: EXPORT_BUCKET, Key: exportFile }));
    assert.deepEqual(await ports.manifests.get(other), []);
  });
});

describe('S3 Tables on moto', () => {
  test('ensureNamespace creates the bucket and namespace once; tableExists sees tables', async () => {
    const { ports, settings, clients: c } = setup();
    await ports.lake.ensureNamespace('shop');
    await ports.lake.ensureNamespace('shop');
    assert.equal(await ports.lake.tableExists('shop', 'orders'), false);
    await c.s3tables.send(new CreateTableCommand({ tableBucketARN: settings.tableBucket.arn, namespace: 'shop', name: 'orders', format: 'ICEBERG' }));
    assert.equal(await ports.lake.tableExists('shop', 'orders'), true);
  });
});

describe('Glue on moto', () => {
  const request = (settings: AwsSettings, ports: Ports): LoadRequest => {
    const base = {
      source: 'shop',
      cycleId: 'c1',
      runToken: 'c1:public.orders',
      exportId: 'ls-shop-9',
      snapshotTime: '2025-01-01T00:00:00.000Z',
      exportLocation: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-9`,
      database: 'shop',
      plan: planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'create', reason: 'lake table missing', primaryKey: ['id'] }),
      namespace: 'shop',
    };
    void settings;
    return { ...base, resultLocation: ports.load.resultLocation(base) };
  };

  test('startLoad uploads the scripts, creates the job, and the run is polled to SUCCEEDED', async () => {
    const { ports, settings, clients: c } = setup();
    await moto!.setTransition('glue::job_run', { progression: 'manual', times: 2 });
    const req = request(settings, ports);
    assert.equal(req.resultLocation, `s3://${SCRIPT_BUCKET}/lakesync/results/shop/c1/public.orders.json`);
    const { runId } = await ports.load.startLoad(req);
    assert.ok(runId);

    const job = (await c.glue.send(new GetJobCommand({ JobName: 'lakesync-load-shop' }))).Job!;
    assert.equal(job.GlueVersion, '5.0');
    assert.equal(job.WorkerType, 'G.1X');
    assert.equal(job.NumberOfWorkers, 2);
    assert.equal(job.ExecutionProperty?.MaxConcurrentRuns, 10);
    assert.equal(job.DefaultArguments?.['--datalake-formats'], 'iceberg');
    const hash = job.DefaultArguments?.['--lakesync_scripts_hash'];
    assert.match(hash ?? '', /^[0-9a-f]{16}$/);
    assert.equal(job.Command?.ScriptLocation, `s3://${SCRIPT_BUCKET}/lakesync/glue/${hash}/glue_entry.py`);
    assert.equal(job.DefaultArguments?.['--extra-py-files'], `s3://${SCRIPT_BUCKET}/lakesync/glue/${hash}/lakesync_glue.zip`);
    const zip = await c.s3.send(new GetObjectCommand({ Bucket: SCRIPT_BUCKET, Key: `lakesync/glue/${hash}/lakesync_glue.zip` }));
    const entries = Object.keys(unzipSync(new Uint8Array(await zip.Body!.transformToByteArray())));
    assert.deepEqual(entries.sort(), ['lakesync_glue/__init__.py', 'lakesync_glue/io/results.py']);

    const states: string[] = [];
    for (let i = 0; i < 6; i++) {
      const status = await ports.load.getRun(runId);
      states.push(status.detail ?? '');
      if (status.state === 'succeeded') {
        assert.equal(typeof status.executionSeconds, 'number');
        assert.equal(typeof status.dpuSeconds, 'number');
        break;
      }
    }
    assert.deepEqual([...new Set(states)], ['STARTING', 'RUNNING', 'SUCCEEDED']);

    assert.equal(await ports.load.readResult(req.resultLocation), undefined);
    const written = loadResult('public.orders', 'orders', 'c1', req.runToken, 42, '8744736658442914487');
    await c.s3.send(new PutObjectCommand({ Bucket: SCRIPT_BUCKET, Key: 'lakesync/results/shop/c1/public.orders.json', Body: JSON.stringify(written) }));
    assert.deepEqual(await ports.load.readResult(req.resultLocation), written);
  });

  test('a second worker finds the job up to date and the scripts already uploaded', async () => {
    const { ports, settings, clients: c } = setup();
    const before = await c.s3.send(new ListObjectsV2Command({ Bucket: SCRIPT_BUCKET, Prefix: 'lakesync/glue/' }));
    // moto answers UpdateJob with HTTP 500, so this passing shows no update was sent.
    const { runId } = await ports.load.startLoad(request(settings, ports));
    assert.ok(runId);
    const afterList = await c.s3.send(new ListObjectsV2Command({ Bucket: SCRIPT_BUCKET, Prefix: 'lakesync/glue/' }));
    assert.deepEqual(afterList.Contents?.map((o) => o.Key), before.Contents?.map((o) => o.Key));
  });

  test('run-token lookup on an emulator without GetJobRuns finds nothing and says so', async () => {
    const { ports, settings } = setup();
    warnings.length = 0;
    assert.equal(await ports.load.findRunByToken(request(settings, ports)), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /GetJobRuns is not implemented by the emulator/);
  });
});

describe('Lake Formation on moto', () => {
  test('grants DESCRIBE on the namespace and the table permissions, then counts them as already granted', async () => {
    const { ports, clients: c } = setup();
    const req = { source: 'shop', namespace: 'shop', lakeTables: ['orders'], principals: [{ principal: READER, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] }] };
    assert.deepEqual(await ports.grant.grant(req), { granted: 2, alreadyGranted: 0 });
    assert.deepEqual(await ports.grant.grant(req), { granted: 0, alreadyGranted: 2 });
    const listed = await c.lakeformation.send(
      new ListPermissionsCommand({ Principal: { DataLakePrincipalIdentifier: READER }, Resource: { Table: { CatalogId: `123456789012:s3tablescatalog/${TABLE_BUCKET}`, DatabaseName: 'shop', Name: 'orders' } } }),
    );
    assert.deepEqual(listed.PrincipalResourcePermissions?.[0]?.Permissions?.sort(), ['DESCRIBE', 'SELECT']);
  });
});

describe('Athena on moto', () => {
  test('verify compares the row count at the snapshot and the configured checks', async () => {
    const { ports } = setup();
    await moto!.queueAthenaResults(REGION, [
      { columns: ['row_count'], rows: [['42']] },
      { columns: ['total'], rows: [['1234.50']] },
    ]);
    const outcome = await ports.verify.verify({
      source: 'shop',
      namespace: 'shop',
      lakeTable: 'orders',
      table: 'public.orders',
      rowCount: { kind: 'total', rows: 42 },
      snapshotId: '8744736658442914487',
      checks: [{ name: 'total', sql: 'SELECT sum(total) FROM {table}', expect: '1234.50' }],
    });
    assert.deepEqual(outcome, {
      passed: true,
      checks: [
        { name: 'row count at snapshot 8744736658442914487', expected: '42', actual: '42', passed: true },
        { name: 'total', expected: '1234.50', actual: '1234.50', passed: true },
      ],
    });
  });

  test('a check that answers more than one row fails, whatever its first row holds', async () => {
    const { ports } = setup();
    // Grouped, the check answers one count per region: the first is 0, the second is not.
    await moto!.queueAthenaResults(REGION, [
      { columns: ['row_count'], rows: [['42']] },
      { columns: ['negative'], rows: [['0'], ['3']] },
    ]);
    const check = { name: 'no negative totals', sql: 'SELECT count(*) FROM {table} WHERE total < 0 GROUP BY region', expect: 0 };
    const outcome = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 42 }, snapshotId: null, checks: [check] });
    assert.deepEqual(outcome, {
      passed: false,
      checks: [
        { name: 'row count', expected: '42', actual: '42', passed: true },
        { name: 'no negative totals', expected: '0', actual: SEVERAL_ROWS, passed: false },
      ],
    });
  });

  test('a count that differs fails verification with expected and actual', async () => {
    const { ports } = setup();
    await moto!.queueAthenaResults(REGION, [{ columns: ['row_count'], rows: [['41']] }]);
    const outcome = await ports.verify.verify({ source: 'shop', namespace: 'shop', lakeTable: 'orders', table: 'public.orders', rowCount: { kind: 'total', rows: 42 }, snapshotId: null, checks: [] });
    assert.deepEqual(outcome, { passed: false, checks: [{ name: 'row count', expected: '42', actual: '41', passed: false }] });
  });

  test('lake.query returns rows keyed by column; results land in the configured output location', async () => {
    const { ports, clients: c } = setup();
    await moto!.queueAthenaResults(REGION, [{ columns: ['id', 'total'], rows: [['1', '9.99'], ['2', '5.00']] }]);
    assert.deepEqual(await ports.lake.query!('SELECT id, total FROM shop.orders'), [
      { id: '1', total: '9.99' },
      { id: '2', total: '5.00' },
    ]);
    const prefix = ATHENA_OUTPUT.replace('s3://shop-athena/', '');
    const written = await c.s3.send(new ListObjectsV2Command({ Bucket: 'shop-athena', Prefix: prefix }));
    assert.ok((written.Contents ?? []).some((o) => o.Key?.endsWith('.csv')), 'moto writes the query result CSV under the output location');
  });
});
