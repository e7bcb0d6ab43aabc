/**
 * The plan learns which lake tables exist from one paginated S3 Tables ListTables of the namespace,
 * over HTTP against moto server (which pages ListTables with maxTables / continuationToken),
 * instead of one call per table.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand } from '@aws-sdk/client-s3tables';
import { cycleActivities } from '../../src/activities/cycle';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import type { LakesyncConfig } from '../../src/config/schema';
import type { DiscoveredTable } from '../../src/model';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, EXPORT_BUCKET, REGION } from './fixtures';

let moto: MotoServer | undefined;
let clients: AwsClients | undefined;
let settings: AwsSettings | undefined;
let ports: Ports | undefined;
/** The ListTables calls the adapters made, with the prefix each asked for. */
const listCalls: { prefix?: string; token?: string }[] = [];

const LAKE_TABLES = ['t1', 't2', 't3', 't4', 't5'];

before(async () => {
  useTestCredentials();
  moto = await startMoto();
  settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: '/unused' });
  clients = createClients(settings);
  clients.s3tables.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListTablesCommand') {
        const input = args.input as { prefix?: string; continuationToken?: string };
        listCalls.push({ ...(input.prefix ? { prefix: input.prefix } : {}), ...(input.continuationToken ? { token: input.continuationToken } : {}) });
      }
      return next(args);
    },
    { step: 'initialize', name: 'countListTables' },
  );
  // Two tables a page: five tables take three pages.
  ports = buildAwsPorts(settings, clients, { warn: () => undefined, listTablesPageSize: 2 });
  await clients.s3.send(new CreateBucketCommand({ Bucket: EXPORT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await ports.lake.ensureNamespace('shop');
  for (const name of LAKE_TABLES) await clients.s3tables.send(new CreateTableCommand({ tableBucketARN: settings.tableBucket.arn, namespace: 'shop', name, format: 'ICEBERG' }));
});

after(async () => {
  if (clients) destroyClients(clients);
  await moto?.stop();
});

test('the namespace is listed across every page', async () => {
  listCalls.length = 0;
  const names = await ports!.lake.listTables!('shop');
  assert.deepEqual([...names].sort(), LAKE_TABLES);
  assert.equal(listCalls.length, 3, JSON.stringify(listCalls));
  assert.ok(listCalls.slice(1).every((c) => c.token), 'the later pages carry the continuation token');
  assert.deepEqual(await ports!.lake.listTables!('nowhere'), []);
});

test('the plan asks S3 Tables once per cycle (one paginated listing), not once per table', async () => {
  const config: LakesyncConfig = { temporal: { taskQueue: 't', namespace: 'default' }, sources: { shop: awsSource({ endpoint: moto!.endpoint }) } };
  const acts = cycleActivities({ config, portsFor: () => ports! });
  // Three tables the lake holds (t1, t3, t5) and seven it does not.
  const tables = ['t1', 't3', 't5', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'].map((t): DiscoveredTable => ({ table: `public.${t}`, target: `shop.public.${t}`, columns: [] }));
  const manifest = await ports!.manifests.put('c-list/discovery.json', tables);
  listCalls.length = 0;
  const plan = await acts.planCycle('shop', 'c-list', { manifest, database: 'shop', tableCount: tables.length, skipped: [], warnings: [] });
  const created = plan.load.filter((l) => l.action === 'create').map((l) => l.lakeTable).sort();
  assert.deepEqual(created, ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
  assert.ok(plan.load.filter((l) => ['t1', 't3', 't5'].includes(l.lakeTable)).every((l) => l.action !== 'create'));
  assert.equal(listCalls.filter((c) => c.prefix).length, 0, 'no per-table ListTables');
  assert.equal(listCalls.length, 3, JSON.stringify(listCalls));
});
