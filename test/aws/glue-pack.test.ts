/**
 * Packed runs on Glue: the pack file on S3 and ONE StartJobRun per pack (moto server over HTTP,
 * the request body recorded on the client as moto keeps neither arguments nor capacity of a run),
 * and the lookups moto lacks (GetJobRuns: find by token, live runs) with aws-sdk-client-mock.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GetJobRunsCommand } from '@aws-sdk/client-glue';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import type { LoadRequest, PackRequest, PlanEntry } from '../../src/model';
import type { PackFile } from '../../src/pack-file';
import type { LoadPort, PackLoads, Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { planEntry } from '../helpers/plan';
import { awsSource, EXPORT_BUCKET, glueScriptsFixture, REGION, SCRIPT_BUCKET } from './fixtures';
import { awsError, mockedAws, objectBody, portError } from './mocks';

const CYCLE = 'c1';
const PACK_TOKEN = 'c1:pack-1';

function tableRequest(port: LoadPort, table: string, sizeGB: number | undefined, extra: Partial<PlanEntry> = {}): LoadRequest {
  const plan = planEntry({ table: `public.${table}`, lakeTable: table, action: 'merge', primaryKey: ['id'], ...(sizeGB !== undefined ? { sizeGB } : {}), ...extra });
  const base = { source: 'shop', cycleId: CYCLE, runToken: `${CYCLE}:public.${table}`, database: 'shop', plan, namespace: 'shop' };
  const exportFields = { exportId: 'ls-shop-1', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-1` };
  return { ...base, ...exportFields, resultLocation: port.resultLocation(base) };
}

function packRequest(port: LoadPort, loads: LoadRequest[]): PackRequest {
  return { source: 'shop', cycleId: CYCLE, packToken: PACK_TOKEN, loads, summaryLocation: port.packs!.summaryLocation('shop', CYCLE, PACK_TOKEN) };
}

describe('a pack on Glue (moto server)', () => {
  let moto: MotoServer;
  let scriptsDir: string;
  let s3: S3Client;
  const open: AwsClients[] = [];

  before(async () => {
    useTestCredentials();
    scriptsDir = glueScriptsFixture();
    moto = await startMoto();
  });

  beforeEach(async () => {
    await moto.reset();
    s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: SCRIPT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  });

  after(async () => {
    s3?.destroy();
    for (const clients of open) destroyClients(clients);
    await moto?.stop();
    rmSync(scriptsDir, { recursive: true, force: true });
  });

  function settings(): AwsSettings {
    const out = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: scriptsDir });
    out.glue.sizing = { gbPerWorker: 1, minWorkers: 2, maxWorkers: 20 };
    return out;
  }

  /**
   * The ports, with every StartJobRun body recorded as it reaches the wire (`sent`), and, when
   * `loseFirstAnswer`, the first StartJobRun's answer lost after moto carried it out.
   */
  function portsOf(options: { loseFirstAnswer?: boolean } = {}): { ports: Ports; packs: PackLoads; starts: Record<string, unknown>[]; warnings: string[] } {
    const config = settings();
    const clients = createClients(config);
    open.push(clients);
    const starts: Record<string, unknown>[] = [];
    let lost = false;
    clients.glue.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as { request?: { body?: unknown; headers?: Record<string, string> } }).request;
        const isStart = request?.headers?.['x-amz-target']?.endsWith('.StartJobRun') ?? false;
        if (isStart) starts.push(JSON.parse(String(request!.body)) as Record<string, unknown>);
        const out = await next(args);
        if (isStart && options.loseFirstAnswer && !lost) {
          lost = true;
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' });
        }
        return out;
      },
      { step: 'deserialize', name: 'recordStartJobRun', priority: 'low' },
    );
    const warnings: string[] = [];
    const ports = buildAwsPorts(config, clients, { warn: (m) => warnings.push(m) });
    assert.ok(ports.load.packs, 'the Glue load port has packed runs');
    return { ports, packs: ports.load.packs, starts, warnings };
  }

  async function packFileAt(url: string): Promise<PackFile> {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(url)!;
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await out.Body!.transformToString()) as PackFile;
  }

  test('one StartJobRun names the pack file and the pack token, sized by the sum of the export sizes; the pack file holds each table as a run of its own gets it', async () => {
    const { ports, packs, starts } = portsOf();
    const loads = [tableRequest(ports.load, 'orders', 2.5), tableRequest(ports.load, 'items', 1.2), tableRequest(ports.load, 'users', 0.4)];
    const { runId } = await packs.startPack(packRequest(ports.load, loads));
    assert.ok(runId, 'moto gave the run an id');
    assert.equal(starts.length, 1, 'one run for the whole pack');
    const packPath = `s3://${SCRIPT_BUCKET}/lakesync/results/shop/${CYCLE}/packs/${PACK_TOKEN}.json`;
    assert.deepEqual(starts[0]!.Arguments, { '--pack_path': packPath, '--run_token': PACK_TOKEN, '--datalake-formats': 'iceberg' });
    assert.equal(starts[0]!.NumberOfWorkers, 5, 'ceil(2.5 + 1.2 + 0.4 GB / 1 GB per worker)');
    assert.equal(starts[0]!.WorkerType, 'G.1X');
    assert.equal(starts[0]!.JobRunQueuingEnabled, true, 'a pack run asks to be queued as a table run does');

    const file = await packFileAt(packPath);
    assert.equal(file.packToken, PACK_TOKEN);
    assert.equal(file.summaryPath, `s3://${SCRIPT_BUCKET}/lakesync/results/shop/${CYCLE}/packs/${PACK_TOKEN}.summary.json`);
    assert.equal(file.loads.length, 3);
    for (const [i, load] of loads.entries()) {
      // Exactly the arguments of a run of its own, without "--" and without Glue's own flag.
      const single = Object.fromEntries(Object.entries((ports.load as unknown as { jobArguments(r: LoadRequest): Record<string, string> }).jobArguments(load)).filter(([k]) => k !== '--datalake-formats').map(([k, v]) => [k.slice(2), v]));
      assert.deepEqual(file.loads[i], single);
      assert.equal(file.loads[i]!.run_token, load.runToken);
      assert.equal(file.loads[i]!.result_path, load.resultLocation);
    }
    assert.equal((await ports.load.getRun(runId)).runId, runId, 'the pack run is polled as any run');
  });

  test('a pack with a table of unknown size runs with the job workers', async () => {
    const { ports, packs, starts } = portsOf();
    await packs.startPack(packRequest(ports.load, [tableRequest(ports.load, 'orders', 2.5), tableRequest(ports.load, 'items', undefined)]));
    assert.equal(starts.length, 1);
    assert.ok(!('NumberOfWorkers' in starts[0]!), 'no size override');
  });

  test('a pack with a direct load is refused before the pack file is written or a run starts', async () => {
    const { ports, packs, starts } = portsOf();
    const direct = tableRequest(ports.load, 'events', undefined, { action: 'incremental', cursor: { column: 'id', mode: 'append' }, extract: { kind: 'direct' } } as Partial<PlanEntry>);
    const err = await portError(packs.startPack(packRequest(ports.load, [tableRequest(ports.load, 'orders', 1), direct])));
    assert.equal(err.kind, 'validation');
    assert.match(err.message, /public\.events is a direct load, which is never packed/);
    assert.equal(starts.length, 0);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: SCRIPT_BUCKET, Prefix: 'lakesync/results/' }));
    assert.equal(listed.KeyCount ?? 0, 0, 'no pack file');
  });

  test('a StartJobRun whose answer is lost is not sent again: the start fails as transient, for the retry to find the run by token', async () => {
    const { ports, packs, starts } = portsOf({ loseFirstAnswer: true });
    const err = await portError(packs.startPack(packRequest(ports.load, [tableRequest(ports.load, 'orders', 1)])));
    assert.equal(err.code, 'AnswerLost');
    assert.equal(err.retryable, true);
    assert.match(err.message, /Glue StartJobRun for pack c1:pack-1 of 1 tables/);
    assert.equal(starts.length, 1, 'the SDK did not send the StartJobRun again');
  });

  test('the summary: undefined until the run writes it, then read and checked', async () => {
    const { packs } = portsOf();
    const location = packs.summaryLocation('shop', CYCLE, PACK_TOKEN);
    assert.equal(location, `s3://${SCRIPT_BUCKET}/lakesync/results/shop/${CYCLE}/packs/${PACK_TOKEN}.summary.json`);
    assert.equal(await packs.readSummary(location), undefined);
    const key = location.slice(`s3://${SCRIPT_BUCKET}/`.length);
    const summary = { packToken: PACK_TOKEN, tables: [{ table: 'public.orders', status: 'succeeded', seconds: 12.5 }, { table: 'public.items', status: 'skipped', seconds: 0 }] };
    await s3.send(new PutObjectCommand({ Bucket: SCRIPT_BUCKET, Key: key, Body: JSON.stringify(summary) }));
    assert.deepEqual(await packs.readSummary(location), summary);
    await s3.send(new PutObjectCommand({ Bucket: SCRIPT_BUCKET, Key: key, Body: JSON.stringify({ packToken: PACK_TOKEN, tables: [{ table: 'public.orders', status: 'done', seconds: 1 }] }) }));
    const err = await portError(packs.readSummary(location));
    assert.equal(err.code, 'InvalidPackSummary');
    assert.match(err.message, new RegExp(`the pack summary at ${location.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a lakesync pack summary`));
  });

  test('moto has no GetJobRuns: findPackByToken finds nothing and says so', async () => {
    const { ports, packs, warnings } = portsOf();
    await packs.startPack(packRequest(ports.load, [tableRequest(ports.load, 'orders', 1)]));
    assert.equal(await packs.findPackByToken(packRequest(ports.load, [tableRequest(ports.load, 'orders', 1)])), undefined);
    assert.match(warnings.join('\n'), /GetJobRuns is not implemented by the emulator.*no pack run is looked up by token for pack c1:pack-1/);
  });
});

describe('pack runs in GetJobRuns (aws-sdk-client-mock: moto lacks the call)', () => {
  const packArgs = (token: string, path = `s3://${SCRIPT_BUCKET}/lakesync/results/shop/c1/packs/${token}.json`) => ({ '--pack_path': path, '--run_token': token, '--datalake-formats': 'iceberg' });

  test('findPackByToken finds the newest run whose --run_token is the pack token, over pages', async () => {
    const { mocks, ports } = mockedAws();
    const now = Date.now();
    mocks.glue
      .on(GetJobRunsCommand)
      .resolvesOnce({ JobRuns: [{ Id: 'jr_table', Arguments: { '--namespace': 'shop', '--lake_table': 'orders', '--run_token': 'c1:public.orders' } }], NextToken: 'p2' })
      .resolvesOnce({ JobRuns: [{ Id: 'jr_old', StartedOn: new Date(now - 60_000), Arguments: packArgs(PACK_TOKEN) }, { Id: 'jr_new', StartedOn: new Date(now), Arguments: packArgs(PACK_TOKEN) }, { Id: 'jr_other', Arguments: packArgs('c1:pack-2') }] });
    const req = packRequest(ports.load, [tableRequest(ports.load, 'orders', 1)]);
    assert.equal(await ports.load.packs!.findPackByToken(req), 'jr_new');
    assert.equal(mocks.glue.commandCalls(GetJobRunsCommand).length, 2);
    mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [{ Id: 'jr_table', Arguments: { '--run_token': 'c1:public.orders' } }] });
    assert.equal(await ports.load.packs!.findPackByToken({ ...req, packToken: 'c1:pack-9' }), undefined);
  });

  test("liveRuns lists a live pack run under each table of its pack file, with that table's run token; a single run's arguments as before", async () => {
    const warnings: string[] = [];
    const { mocks, settings, clients } = mockedAws();
    const ports = buildAwsPorts(settings, clients, { warn: (m) => warnings.push(m) });
    const file: PackFile = {
      packToken: PACK_TOKEN,
      summaryPath: 's3://x/s.json',
      loads: [
        { namespace: 'shop', lake_table: 'orders', run_token: 'c1:public.orders' },
        { namespace: 'shop', lake_table: 'items', run_token: 'c1:public.items' },
      ],
    };
    mocks.glue.on(GetJobRunsCommand).resolves({
      JobRuns: [
        { Id: 'jr_pack', JobRunState: 'RUNNING', StartedOn: new Date(), Arguments: packArgs(PACK_TOKEN) },
        { Id: 'jr_lost', JobRunState: 'RUNNING', StartedOn: new Date(), Arguments: packArgs('c0:pack-1', `s3://${SCRIPT_BUCKET}/gone.json`) },
        { Id: 'jr_done', JobRunState: 'SUCCEEDED', StartedOn: new Date(), Arguments: packArgs('c0:pack-2') },
        { Id: 'jr_single', JobRunState: 'WAITING', StartedOn: new Date(), Arguments: { '--namespace': 'shop', '--lake_table': 'orders', '--run_token': 'c0:public.orders' } },
      ],
    });
    mocks.s3
      .on(GetObjectCommand, { Key: `lakesync/results/shop/c1/packs/${PACK_TOKEN}.json` })
      .resolves({ Body: objectBody(JSON.stringify(file)) })
      .on(GetObjectCommand, { Key: 'gone.json' })
      .rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));
    const orders = await ports.load.liveRuns('shop', 'orders');
    assert.deepEqual(orders.map((r) => [r.runId, r.runToken, r.detail]), [['jr_pack', 'c1:public.orders', 'RUNNING'], ['jr_single', 'c0:public.orders', 'WAITING']]);
    assert.deepEqual((await ports.load.liveRuns('shop', 'items')).map((r) => [r.runId, r.runToken]), [['jr_pack', 'c1:public.items']]);
    // The pack run names its pack, so a table that attaches to it books its share of the run, not the whole run.
    assert.deepEqual(orders.map((r) => r.pack), [{ token: PACK_TOKEN, tables: 2 }, undefined]);
    assert.deepEqual(await ports.load.liveRuns('shop', 'users'), []);
    // A missing pack file is reported, not fatal: that run fails before it loads anything. A finished pack's file is never read.
    assert.equal(mocks.s3.commandCalls(GetObjectCommand).length, 2);
    assert.match(warnings.join('\n'), /the pack file s3:\/\/shop-glue\/gone\.json of live Glue run jr_lost .* could not be read/);
  });

  test('a pack file S3 does not serve (throttled, 5xx) fails the scan: its tables are never counted as free', async () => {
    const { mocks, settings, clients } = mockedAws();
    const ports = buildAwsPorts(settings, clients, { warn: () => undefined });
    const file: PackFile = { packToken: PACK_TOKEN, summaryPath: 's3://x/s.json', loads: [{ namespace: 'shop', lake_table: 'orders', run_token: 'c1:public.orders' }] };
    mocks.glue.on(GetJobRunsCommand).resolves({ JobRuns: [{ Id: 'jr_pack', JobRunState: 'RUNNING', StartedOn: new Date(), Arguments: packArgs(PACK_TOKEN) }] });
    mocks.s3.on(GetObjectCommand).rejects(awsError('SlowDown', 'Please reduce your request rate.', 503));
    const err = await portError(ports.load.liveRuns('shop', 'orders'));
    assert.match(err.message, /pack file of live Glue run jr_pack/);
    assert.notEqual(err.kind, 'validation');
    // The failed scan is not kept: once S3 answers, the run holds the table.
    mocks.s3.on(GetObjectCommand).resolves({ Body: objectBody(JSON.stringify(file)) });
    assert.deepEqual((await ports.load.liveRuns('shop', 'orders')).map((r) => r.runId), ['jr_pack']);
  });
});
